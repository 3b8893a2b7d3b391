/*
 * actor.h — who is asking. Every domain call that reads customer-owned data
 * or changes anything takes a `const bill_actor *`:
 *
 *   - scoping: a CUSTOMER actor only ever sees rows of its own customer_id;
 *     another customer's id yields BILL_ENOTFOUND (never EDENIED, so nothing
 *     leaks about existence). One rule for every list filtered by customer
 *     (orders, payments, invoices, tickets, instances, API keys): staff name
 *     any customer or none (all); a customer gets its own rows when it names
 *     none or itself, and BILL_ENOTFOUND "customer <id> not found" when it
 *     names another — the answer a get of that customer gives;
 *   - authorization: admin-only operations refuse CUSTOMER/ANONYMOUS actors
 *     with BILL_EDENIED;
 *   - audit: every mutation by an ADMIN or CLI actor writes an operation_logs
 *     row (who, what, target, before/after, source IP, time) in the same
 *     transaction as the change.
 *
 * The struct is caller-owned and only read during the call. NULL means
 * BILL_ACTOR_SYSTEM (internal jobs: billing pass, event workers).
 */
#ifndef BILL_ACTOR_H
#define BILL_ACTOR_H

#include "common.h"

typedef enum {
    BILL_ACTOR_SYSTEM = 0,    /* internal job; full access, audited as "system" */
    BILL_ACTOR_ADMIN = 1,     /* admin user via session (server/TUI) */
    BILL_ACTOR_CLI = 2,       /* bill-cli operator: highest privilege */
    BILL_ACTOR_CUSTOMER = 3,  /* customer user (JWT) or customer API key */
    BILL_ACTOR_ANONYMOUS = 4, /* no credentials: catalog and identity only */
} bill_actor_kind;

typedef struct bill_actor {
    bill_actor_kind kind;
    const char *user_id;     /* admin_users.id or customer_users.id; may be NULL */
    const char *username;    /* for audit text; may be NULL */
    const char *customer_id; /* required for CUSTOMER */
    const char *api_key_id;  /* set when a CUSTOMER authenticated by API key */
    const char *source_ip;   /* for audit; may be NULL */
    const char *role;        /* admin role ("admin", "operator", ...); may be NULL */
} bill_actor;

/* True for SYSTEM, ADMIN and CLI (NULL counts as SYSTEM). */
static inline bool bill_actor_is_staff(const bill_actor *a)
{
    return !a || a->kind == BILL_ACTOR_SYSTEM || a->kind == BILL_ACTOR_ADMIN ||
           a->kind == BILL_ACTOR_CLI;
}

#endif
