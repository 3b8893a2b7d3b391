/*
 * instance.h — provisioned servers: status provisioning running
 * stopped suspended terminated error; customer actions start/stop/reboot/
 * terminate delegated to the instance's provider plugin; the detail page
 * (sections with fields and HTML, and the action buttons); and the HTML
 * sanitizer that makes plugin-supplied content_html safe to render.
 *
 * Action rules (checked with the instance row locked):
 *     start      stopped -> running
 *     stop       running -> stopped
 *     reboot     running (stays running)
 *     terminate  any but terminated -> terminated (final)
 * Anything else is BILL_ESTATE naming the status; a terminated instance
 * refuses every action. A suspended instance (unpaid) refuses every action
 * of its customer (BILL_ESTATE, the message says why and what to do); staff
 * may still terminate it. When the instance has a provider, the provider's
 * action must succeed first (its error is returned, nothing changes);
 * without a plugin host for such an instance: BILL_EUNAVAILABLE.
 *
 * Scoping: CUSTOMER actors reach only their own instances (BILL_ENOTFOUND).
 *
 * Audit: every action call with a well-formed id and action writes an
 * operation_logs row "instance.<action>" for the instance, customers
 * included (actor_type customer / api_key, actor the customer user):
 * before/after {"status": ...} when done, after {"refused": message,
 * "error": "BILL_ESTATE"...} when refused (written outside the rolled-back
 * transaction; not when the database itself failed).
 */
#ifndef BILL_INSTANCE_H
#define BILL_INSTANCE_H

#include "common.h"
#include "actor.h"
#include "db.h"
#include "page.h"
#include "plugin_host.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bill_instance {
    char *id;
    char *order_id;             /* "" when none */
    char *customer_id;
    char *product_id;           /* "" when none */
    char *product_name;         /* "" when unknown */
    char *provider_id;          /* plugin interface id, "" when none */
    char *provider_instance_id;
    char *status;
    char *ip_address;
    char *server_spec_json;     /* JSON object text */
    char *billing_cycle;
    char *next_due_date;        /* "YYYY-MM-DD" or "": start of the first unpaid period */
    int64_t created_at;
    int64_t updated_at;
    /* billing (billing.h) */
    char *anchor_date;          /* "YYYY-MM-DD" or "": periods count from it */
    char *current_period_start; /* the paid period [current_period_start, next_due_date) */
    bool cancel_at_period_end;  /* terminated at next_due_date, no more renewals */
} bill_instance;

typedef struct bill_instances {
    BILL_LIST_OF(bill_instance);
} bill_instances;

typedef struct bill_instance_field {
    char *key;
    char *value;
    char *value_type;           /* "text" when the source gave none */
} bill_instance_field;

typedef struct bill_instance_section {
    char *title;
    bill_instance_field *fields;
    size_t field_count;
    char *content_html;         /* already sanitized (html.h) */
    int sort_order;
} bill_instance_section;

typedef struct bill_instance_action {
    const char *id;             /* "start" | "stop" | "reboot" | "terminate" (static) */
    const char *label;
    const char *style;          /* "primary" | "default" | "danger" */
    const char *confirmation;   /* "" when none */
    bool enabled;               /* allowed in the current status */
} bill_instance_action;

typedef struct bill_instance_detail {
    bill_instance instance;
    bill_instance_section *sections; /* stored sections, then the provider's */
    size_t section_count;
    bill_instance_action actions[4];
    size_t action_count;
} bill_instance_detail;

BILL_API void bill_instance_free(bill_instance *i);
BILL_API void bill_instances_clear(bill_instances *l);
BILL_API void bill_instance_detail_free(bill_instance_detail *d);

/* provisioning running stopped suspended terminated error; BILL_EINVALID
 * naming "status". */
BILL_API int bill_instance_status_check(const char *status);

/* Instance with detail sections (instance_detail_sections rows, plus the
 * provider plugin's when plugins is non-NULL and the instance has one; a
 * failing provider is skipped, the stored sections still come back) and
 * the four actions with `enabled` per the rules above. */
BILL_API int bill_instance_get(bill_db *db, bill_plugins *plugins, const bill_actor *actor,
                               const char *id, bill_instance_detail **out);

#define BILL_INSTANCE_FILTER_VERSION 1u
typedef struct bill_instance_filter {
    unsigned int version; /* BILL_INSTANCE_FILTER_VERSION */
    const char *customer_id;   /* scoping rule in actor.h */
    const char *status;
    const char *provider_id;
    /* fields above exist since version 1 */
} bill_instance_filter;
BILL_API int bill_instance_list(bill_db *db, const bill_actor *actor,
                                const bill_instance_filter *filter, const bill_page *page,
                                bill_instances *out);

/* Run an action (rules above). BILL_EINVALID naming "action" for an
 * unknown one. */
BILL_API int bill_instance_action_run(bill_db *db, bill_plugins *plugins,
                                      const bill_actor *actor, const char *id,
                                      const char *action);


#ifdef __cplusplus
}
#endif
#endif
