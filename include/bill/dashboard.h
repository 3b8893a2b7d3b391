/*
 * dashboard.h — the figures an operator keeps open (bill-tui's Dashboard
 * tab), in one call so every frontend and embedder shows the same numbers:
 * counts of the book, money, the event queue, plugin interface health and
 * the database itself.
 *
 * Definitions (all "today" figures use the UTC date of the handle's clock,
 * bill_db_now()):
 *   - instances_total counts every instance that is not terminated;
 *   - tickets_open = status pending or processing;
 *   - balance_total = sum of every customer's balance (prepaid money held;
 *     negative balances, money owed on credit, reduce it), balance_owed =
 *     the sum of the negative ones as a positive amount;
 *   - revenue = money received for orders and invoices: payments in status
 *     success or refunded (wholly or in part), net of what was refunded
 *     (amount - refunded_amount), by the UTC date of paid_at. A recharge is
 *     not revenue (it is prepaid balance) until it pays for something;
 *   - events_pending = pending and never tried, events_failing = pending
 *     again after a failed attempt (waiting for its retry), events_dead =
 *     given up after max_attempts;
 *   - interface health: of the enabled interfaces, healthy / unhealthy by
 *     their last health check, unchecked when never checked;
 *   - db_connections = backends connected to this database right now (all
 *     clients, not only this process), db_max_connections = the server's
 *     max_connections.
 *
 * Billing-engine figures are those of the renewal/dunning engine, read as
 * bill_billing_summary_get(days = 7) reads them, in the same transaction as
 * the rest: invoices_due_7d = renewals issued and unpaid whose due date is
 * today .. today + 6 (what auto-pay will try next), with what is still owed
 * on them; invoices_overdue = invoices past due and unpaid (dunning runs on
 * them: suspend, then terminate); billing_actions_failing = provider
 * actions billing queued (suspend, unsuspend, terminate, change_plan) that
 * failed at least once and are still being retried. has_billing says the
 * fields are filled; a frontend shows them as absent, never as zero, when
 * it is false (a libbill without the engine).
 *
 * Staff only (BILL_EDENIED otherwise). The struct is allocated by libbill,
 * so fields may be appended in later versions.
 */
#ifndef BILL_DASHBOARD_H
#define BILL_DASHBOARD_H

#include "common.h"
#include "actor.h"
#include "db.h"
#include "money.h"
#include "time.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Days of the revenue series: today and the 29 before it. */
#define BILL_DASHBOARD_DAYS 30

typedef struct bill_dashboard {
    int64_t generated_at;            /* usec, bill_db_now() of the call */
    char today[BILL_DATE_BUFSZ];     /* "YYYY-MM-DD", UTC */

    /* the book */
    int64_t customers;
    int64_t customers_active;
    int64_t instances_total;         /* not terminated */
    int64_t instances_running;
    int64_t instances_suspended;
    int64_t instances_error;
    int64_t orders_pending;
    int64_t tickets_open;

    /* money, in cents */
    bill_money balance_total;
    bill_money balance_owed;
    bill_money revenue_today;
    bill_money revenue_month;        /* since the 1st of this UTC month, today included */
    /* [0] = 29 days ago ... [BILL_DASHBOARD_DAYS - 1] = today */
    bill_money revenue_by_day[BILL_DASHBOARD_DAYS];

    /* billing engine (absent while has_billing is false) */
    bool has_billing;
    int64_t invoices_due_7d;         /* issued renewals due today .. today + 6 */
    bill_money invoices_due_7d_total;
    int64_t invoices_overdue;
    bill_money overdue_total;

    /* event queue */
    int64_t events_pending;
    int64_t events_failing;
    int64_t events_processing;
    int64_t events_dead;

    /* plugin interfaces */
    int64_t interfaces_total;
    int64_t interfaces_enabled;
    int64_t interfaces_healthy;
    int64_t interfaces_unhealthy;
    int64_t interfaces_unchecked;

    /* the database */
    int64_t db_size_bytes;
    int64_t db_connections;
    int64_t db_max_connections;
    char db_server_version[32];      /* e.g. "15.6" */
    size_t migrations_known;         /* built into this libbill */
    size_t migrations_applied;
    size_t migrations_pending;
    size_t migrations_changed;       /* applied, but the file changed since */

    /* billing engine, continued (appended: the struct is libbill's) */
    int64_t billing_actions_failing; /* provider actions failing, still retried */
} bill_dashboard;

/* Every figure above in one consistent read (one REPEATABLE READ, read-only
 * transaction). *out is malloc'd; free it with bill_dashboard_free. */
BILL_API int bill_dashboard_get(bill_db *db, const bill_actor *actor, bill_dashboard **out);
BILL_API void bill_dashboard_free(bill_dashboard *d);

#ifdef __cplusplus
}
#endif
#endif
