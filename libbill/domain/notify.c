/*
 * notify.c — queueing customer notifications: one durable "notify" event
 * per notification, committed or rolled back with the change it announces.
 * The provisioning handlers (provision.c) fan it out to every enabled
 * notifier plugin. Contract in include/bill/notify.h and notify_int.h.
 */
#include "domain/domain_int.h"
#include "domain/notify_int.h"
#include "events/events_int.h"
#include "bill/notify.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

static void add_str(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v ? v : ""));
}

int bill__notify_conn(bill_conn *c, const char *kind, const char *customer_id,
                      const char *recipient, const char *subject, const char *body,
                      json_object *data)
{
    json_object *doc = json_object_new_object();
    int rc;
    if (!doc) {
        json_object_put(data);
        return bill__err(BILL_ENOMEM, NULL, "out of memory");
    }
    add_str(doc, "kind", kind);
    add_str(doc, "customer_id", customer_id);
    add_str(doc, "recipient", recipient);
    add_str(doc, "subject", subject);
    add_str(doc, "body", body);
    json_object_object_add(doc, "data", data ? data : json_object_new_object());
    rc = bill__event_enqueue_conn(c, "notify",
                                  json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN), 0,
                                  0, NULL);
    json_object_put(doc);
    return rc;
}

int bill__notify_tx(bill_conn *c, const char *kind, const char *customer_id, const char *subject,
                    const char *body, const char *data_json)
{
    json_object *data = NULL;
    if (data_json && *data_json) {
        data = json_tokener_parse(data_json);
        if (!data || !json_object_is_type(data, json_type_object)) {
            json_object_put(data);
            return bill__err(BILL_EINTERNAL, NULL, "notification %s: data is not a JSON object",
                             kind);
        }
    }
    return bill__notify_conn(c, kind, customer_id, NULL, subject, body, data);
}

int bill_notify(bill_db *db, const char *kind, const char *customer_id, const char *recipient,
                const char *subject, const char *body, const char *payload_json)
{
    bill_conn *c = NULL;
    json_object *data = NULL;
    int rc;
    if (!db || !kind || !*kind)
        return bill__err(BILL_EINVALID, "kind", "a notification needs a kind");
    if (customer_id && *customer_id &&
        (rc = bill__check_id(customer_id, "customer_id", "customer", true)) < 0)
        return rc;
    if (payload_json && *payload_json) {
        data = json_tokener_parse(payload_json);
        if (!data || !json_object_is_type(data, json_type_object)) {
            json_object_put(data);
            return bill__err(BILL_EINVALID, "payload_json",
                             "notification payload must be a JSON object");
        }
    }
    if ((rc = bill__conn_acquire(db, &c)) < 0) {
        json_object_put(data);
        return rc;
    }
    rc = bill__notify_conn(c, kind, customer_id, recipient, subject, body, data);
    bill__conn_done(c);
    return rc;
}

