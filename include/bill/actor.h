/*
 * actor.h — who is asking. Every domain call that reads customer-owned data
 * or changes anything takes a `const bill_actor *`:
 *
 *   - scoping: a CUSTOMER actor only ever sees rows of its own customer_id;
 *     another customer's id yields BILL_ENOTFOUND (never EDENIED, so nothing
 *     leaks about existence). One rule, bill_actor_customer_scope below, for
 *     every call that names a customer (lists filtered by customer, orders,
 *     tickets, API keys, the balance): staff name any customer (or none, for
 *     all, where the call allows it); a customer gets its own when it names
 *     none or itself, and BILL_ENOTFOUND "customer <id> not found" when it
 *     names another — the answer a get of that customer gives;
 *   - authorization: admin-only operations refuse CUSTOMER/ANONYMOUS actors
 *     with BILL_EDENIED;
 *   - audit: every mutation by an ADMIN, CLI or TUI actor writes an
 *     operation_logs row (who, what, target, before/after, source IP, time)
 *     in the same transaction as the change.
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
    /* bill-tui operator: the console's privileges are the CLI's (direct
     * database access); audited as actor_type "cli", name "tui:<username>". */
    BILL_ACTOR_TUI = 5,
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

/* The customer a call names, after scoping (the rule above). `requested`
 * NULL/"" means the CUSTOMER actor's own customer; for staff it means "all
 * customers" (*out = NULL), or BILL_EINVALID "customer_id is required" when
 * the call needs one (`required`). A requested id that is not a UUID is
 * BILL_EINVALID naming "customer_id"; ANONYMOUS is BILL_EUNAUTH. *out points
 * into `requested` or the actor. Every libbill call applies this itself;
 * frontends call it only to learn which customer a request resolves to. */
BILL_API int bill_actor_customer_scope(const struct bill_actor *actor, const char *requested,
                                       bool required, const char **out);

/* The operator consoles, bill-cli and bill-tui: highest privilege (they
 * reach the database directly), no admin account behind them. */
static inline bool bill_actor_is_console(const bill_actor *a)
{
    return a && (a->kind == BILL_ACTOR_CLI || a->kind == BILL_ACTOR_TUI);
}

/* True for SYSTEM, ADMIN, CLI and TUI (NULL counts as SYSTEM). */
static inline bool bill_actor_is_staff(const bill_actor *a)
{
    return !a || a->kind == BILL_ACTOR_SYSTEM || a->kind == BILL_ACTOR_ADMIN ||
           bill_actor_is_console(a);
}

#endif
