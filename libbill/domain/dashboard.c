/*
 * dashboard.c — the operator's figures in one call (dashboard.h).
 *
 * Three statements in one read-only REPEATABLE READ transaction, so the
 * counts, the money and the revenue series describe the same instant: one
 * row of aggregates (each subquery a set-based count over an indexed or
 * small table), the 30-day revenue series and the billing engine's figures
 * (bill__billing_summary_read). Sums come back as int8 cents,
 * computed exactly by PostgreSQL: a total of many NUMERIC(12,2) balances
 * may leave NUMERIC(12,2) itself. The migration state comes from the
 * migrations runner afterwards.
 */
#include "billing/billing_int.h"
#include "domain/domain_int.h"
#include "bill/dashboard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Payments that brought money in, net of refunds (see dashboard.h). */
#define REVENUE_STATUSES "('success', 'refunded')"
#define NET_CENTS "((p.amount - p.refunded_amount) * 100)::int8"

static const char aggregates_sql[] =
    "WITH c AS (SELECT count(*) AS n, count(*) FILTER (WHERE status = 'active') AS active,"
    "   coalesce((sum(balance) * 100)::int8, 0) AS bal,"
    "   coalesce((sum(-balance) FILTER (WHERE balance < 0) * 100)::int8, 0) AS owed"
    "   FROM customers),"
    " i AS (SELECT count(*) FILTER (WHERE status <> 'terminated') AS total,"
    "   count(*) FILTER (WHERE status = 'running') AS running,"
    "   count(*) FILTER (WHERE status = 'suspended') AS suspended,"
    "   count(*) FILTER (WHERE status = 'error') AS error FROM instances),"
    " e AS (SELECT count(*) FILTER (WHERE status = 'pending' AND attempts = 0) AS pending,"
    "   count(*) FILTER (WHERE status = 'pending' AND attempts > 0) AS failing,"
    "   count(*) FILTER (WHERE status = 'processing') AS processing,"
    "   count(*) FILTER (WHERE status = 'dead') AS dead"
    "   FROM events WHERE status <> 'done'),"
    " pi AS (SELECT count(*) AS n, count(*) FILTER (WHERE enabled) AS enabled,"
    "   count(*) FILTER (WHERE enabled AND last_health_at IS NOT NULL AND is_healthy) AS healthy,"
    "   count(*) FILTER (WHERE enabled AND last_health_at IS NOT NULL AND NOT is_healthy)"
    "     AS unhealthy,"
    "   count(*) FILTER (WHERE enabled AND last_health_at IS NULL) AS unchecked"
    "   FROM plugin_interfaces)"
    " SELECT c.n, c.active, i.total, i.running, i.suspended, i.error,"               /* 0-5 */
    "  (SELECT count(*) FROM orders WHERE status = 'pending'),"                        /* 6 */
    "  (SELECT count(*) FROM tickets WHERE status IN ('pending', 'processing')),"      /* 7 */
    "  c.bal, c.owed,"                                                                 /* 8-9 */
    "  (SELECT coalesce(sum(" NET_CENTS "), 0) FROM payments p"                        /* 10 */
    "    WHERE p.status IN " REVENUE_STATUSES
    "    AND p.paid_at >= (date_trunc('month', $1::date::timestamp) AT TIME ZONE 'UTC')"
    "    AND p.paid_at < (($1::date + 1)::timestamp AT TIME ZONE 'UTC')),"
    "  e.pending, e.failing, e.processing, e.dead,"                                    /* 11-14 */
    "  pi.n, pi.enabled, pi.healthy, pi.unhealthy, pi.unchecked,"                      /* 15-19 */
    "  pg_database_size(current_database()),"                                          /* 20 */
    "  (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()),"    /* 21 */
    "  current_setting('max_connections')::int8,"                                      /* 22 */
    "  split_part(current_setting('server_version'), ' ', 1)"                            /* 23 */
    " FROM c, i, e, pi";

/* One row per day, oldest first, days without payments as 0. */
static const char revenue_sql[] =
    "SELECT d.day::date, coalesce(sum(" NET_CENTS "), 0)"
    " FROM generate_series(($1::date - 29)::timestamp, $1::date::timestamp, interval '1 day')"
    "  AS d(day)"
    " LEFT JOIN payments p ON p.status IN " REVENUE_STATUSES
    "  AND p.paid_at >= (d.day AT TIME ZONE 'UTC')"
    "  AND p.paid_at < ((d.day + interval '1 day') AT TIME ZONE 'UTC')"
    " GROUP BY d.day ORDER BY d.day";

void bill_dashboard_free(bill_dashboard *d)
{
    free(d);
}

static void fill_aggregates(bill_dashboard *d, const PGresult *r)
{
    int64_t *counts[] = {&d->customers,         &d->customers_active, &d->instances_total,
                         &d->instances_running, &d->instances_suspended, &d->instances_error,
                         &d->orders_pending,    &d->tickets_open};
    for (int i = 0; i < (int)BILL__ARRAY_LEN(counts); i++)
        *counts[i] = bill__i64(r, 0, i);
    d->balance_total = bill__i64(r, 0, 8);
    d->balance_owed = bill__i64(r, 0, 9);
    d->revenue_month = bill__i64(r, 0, 10);
    int64_t *rest[] = {&d->events_pending,      &d->events_failing,       &d->events_processing,
                       &d->events_dead,         &d->interfaces_total,     &d->interfaces_enabled,
                       &d->interfaces_healthy,  &d->interfaces_unhealthy, &d->interfaces_unchecked,
                       &d->db_size_bytes,       &d->db_connections,       &d->db_max_connections};
    for (int i = 0; i < (int)BILL__ARRAY_LEN(rest); i++)
        *rest[i] = bill__i64(r, 0, 11 + i);
    snprintf(d->db_server_version, sizeof d->db_server_version, "%s", bill__val(r, 0, 23));
}

static int fill_migrations(bill_db *db, bill_dashboard *d)
{
    bill_migration_info *mi = NULL;
    size_t n = 0;
    int rc = bill_db_migration_status(db, &mi, &n);
    if (rc < 0)
        return rc;
    d->migrations_known = n;
    for (size_t i = 0; i < n; i++) {
        if (mi[i].applied && mi[i].success)
            d->migrations_applied++;
        else
            d->migrations_pending++;
        if (mi[i].applied && mi[i].checksum_mismatch)
            d->migrations_changed++;
    }
    free(mi);
    return BILL_OK;
}

int bill_dashboard_get(bill_db *db, const bill_actor *actor, bill_dashboard **out)
{
    bill_conn *c = NULL;
    PGresult *agg = NULL, *rev = NULL;
    bill_dashboard *d = NULL;
    bill_date today;
    int rc;

    if (!db || !out)
        return bill__err(BILL_EINVALID, NULL, "db and out are required");
    *out = NULL;
    if ((rc = bill__require_staff(actor, "read the dashboard")) < 0)
        return rc;
    if (!(d = calloc(1, sizeof *d)))
        return bill__err(BILL_ENOMEM, NULL, "out of memory reading the dashboard");
    d->generated_at = bill_db_now(db);
    if ((rc = bill_date_from_time(&today, d->generated_at)) < 0 ||
        (rc = bill_date_format(today, d->today)) < 0)
        goto done;

    if ((rc = bill__conn_begin(db, &c)) < 0 ||
        (rc = bill__exec(c, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")) < 0)
        goto done;
    if ((rc = bill__qp(c, &agg, aggregates_sql, d->today)) < 0 ||
        (rc = bill__qp(c, &rev, revenue_sql, d->today)) < 0)
        goto done;
    if (PQntuples(agg) != 1 || PQntuples(rev) != BILL_DASHBOARD_DAYS) {
        rc = bill__err(BILL_EINTERNAL, NULL, "dashboard query returned %d/%d rows",
                       PQntuples(agg), PQntuples(rev));
        goto done;
    }
    bill_billing_summary bs;
    if ((rc = bill__billing_summary_read(c, 7, &bs)) < 0)
        goto done;
    if ((rc = bill__tx_commit(c)) < 0)
        goto done;
    bill__conn_release(c);
    c = NULL;

    fill_aggregates(d, agg);
    for (int i = 0; i < BILL_DASHBOARD_DAYS; i++)
        d->revenue_by_day[i] = bill__i64(rev, i, 1);
    d->revenue_today = d->revenue_by_day[BILL_DASHBOARD_DAYS - 1];
    d->has_billing = true;
    d->invoices_due_7d = bs.due_soon;
    d->invoices_due_7d_total = bs.due_soon_amount;
    d->invoices_overdue = bs.overdue;
    d->overdue_total = bs.overdue_amount;
    d->billing_actions_failing = bs.failing_actions;
    if ((rc = fill_migrations(db, d)) < 0)
        goto done;
    *out = d;
    d = NULL;
    rc = BILL_OK;
done:
    PQclear(agg);
    PQclear(rev);
    if (c) {
        bill__tx_rollback(c);
        bill__conn_release(c);
    }
    bill_dashboard_free(d);
    return rc;
}
