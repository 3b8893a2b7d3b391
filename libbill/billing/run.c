/*
 * run.c — entry points of the billing engine: a real pass, a dry run and
 * the forecast (the same pass code on private copies inside a transaction
 * that is rolled back), and the dashboard figures.
 */
#include "billing/billing_int.h"
#include "bill/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "libbill::billing"

/* Tables a pass writes, and which of their rows it needs to see. Every
 * other table (products, prices) is only read, from the real one. */
static const struct {
    const char *table;
    const char *rows; /* WHERE clause of the copy, NULL = all, "false" = none */
} sandboxed[] = {
    {"customers", NULL},
    {"instances", NULL},
    /* open ones (retried, dunned) and the live manual invoices of instances
     * (they keep the pass off a period billed by hand, docs/billing.md §2) */
    {"invoices", "status IN ('issued', 'overdue') OR (kind = 'manual' AND instance_id IS NOT "
                 "NULL AND status <> 'cancelled')"},
    {"invoice_items", "false"},
    {"invoice_number_counters", NULL},
    {"balance_transactions", "false"},
    {"payments", "false"},
    {"events", "false"},
    {"instance_periods", "false"},
};

int bill__sandbox_begin(bill_conn *c, int64_t *statements)
{
    PGresult *res = NULL;
    char *sql = NULL;
    int rc;
    if ((rc = bill__q(c, &res, "SELECT quote_ident(current_schema())", 0, NULL)) < 0)
        return rc;
    for (size_t i = 0; i < BILL__ARRAY_LEN(sandboxed) && rc == BILL_OK; i++) {
        const char *t = sandboxed[i].table, *w = sandboxed[i].rows;
        sql = bill__sprintf("CREATE TEMP TABLE %s (LIKE %s.%s INCLUDING DEFAULTS INCLUDING "
                            "CONSTRAINTS INCLUDING INDEXES) ON COMMIT DROP; "
                            "INSERT INTO pg_temp.%s SELECT * FROM %s.%s%s%s",
                            t, bill__val(res, 0, 0), t, t, bill__val(res, 0, 0), t,
                            w ? " WHERE " : "", w ? w : "");
        if (!sql) {
            rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
            break;
        }
        rc = bill__exec(c, sql);
        free(sql);
        if (statements)
            *statements += 2;
    }
    /* the copy of events must not draw ids from the real sequence */
    if (rc == BILL_OK)
        rc = bill__exec(c, "CREATE TEMP SEQUENCE bill_sandbox_event_ids; ALTER TABLE "
                           "pg_temp.events ALTER COLUMN id SET DEFAULT "
                           "nextval('pg_temp.bill_sandbox_event_ids')");
    PQclear(res);
    return rc;
}

/* Inside the sandbox: make bill_now() and the defaults read `T`. */
static int sandbox_clock(bill_conn *c, int64_t T)
{
    char ts[BILL_TIME_BUFSZ + 8];
    int rc;
    if ((rc = bill__ts_text(T, ts)) < 0)
        return rc;
    return bill__qp(c, NULL, "SELECT set_config('bill.now', $1, true)", ts);
}

int bill_billing_run(bill_db *db, bill_plugins *plugins, const bill_billing_options *opts,
                     bill_billing_report *report)
{
    bill_conn *c = NULL, *extra[BILL__PASS_MAX_WORKERS];
    bill__pass p;
    int rc, nextra = 0;
    (void)plugins; /* actions are queued; the event workers call the providers */
    if (!report)
        return bill__err(BILL_EINVALID, NULL, "report is required");
    memset(report, 0, sizeof *report);
    if (!db)
        return bill__err(BILL_EINVALID, "db", "database handle is NULL");
    if ((rc = bill__conn_acquire(db, &c)) < 0)
        return rc;
    int64_t T = bill__conn_now(c);
    bool dry = opts && opts->dry_run;
    if ((rc = bill__pass_init(&p, c, opts, T, dry, report)) < 0)
        goto done;
    report->dry_run = dry;
    if (dry) {
        if ((rc = bill__tx_begin(c)) < 0 || (rc = bill__sandbox_begin(c, &report->statements)) < 0 ||
            (rc = sandbox_clock(c, T)) < 0 || (rc = bill__pass_run(&p, NULL, 0)) < 0)
            goto done;
    } else {
        /* the extra workers' connections, if the pool has them free now */
        while (nextra < p.o.workers - 1 && bill__conn_try_acquire(db, &extra[nextra]) == BILL_OK)
            nextra++;
        bill_error_clear();
        if ((rc = bill__pass_run(&p, extra, nextra)) < 0)
            goto done;
    }
    if (!dry && (report->issued || report->paid || report->suspended || report->terminated))
        BILL_LOG_INFO(MOD,
                      "billing pass %s: %lld issued, %lld paid, %lld short, %lld overdue, "
                      "%lld suspended, %lld unsuspended, %lld terminated (%lld statements)",
                      report->date, (long long)report->issued, (long long)report->paid,
                      (long long)report->payment_failed, (long long)report->overdue,
                      (long long)report->suspended, (long long)report->unsuspended,
                      (long long)report->terminated, (long long)report->statements);
done:
    if (c && dry)
        bill__tx_rollback(c); /* the dry run's copies, and anything it did, vanish */
    bill__conn_done(c);
    for (int i = 0; i < nextra; i++)
        bill__conn_done(extra[i]);
    return rc;
}

/* ---- forecast ------------------------------------------------------------------------------- */

void bill_billing_forecast_free(bill_billing_forecast_report *f)
{
    if (!f)
        return;
    for (int i = 0; f->day && i < f->days; i++)
        bill_billing_report_clear(&f->day[i]);
    free(f->day);
    free(f->shortfalls);
    free(f);
}

/* The forecast keeps each customer's largest shortfall over the days. */
static int merge_shortfalls(bill_billing_forecast_report *f, bill__idmap *ix,
                            const bill_billing_report *r)
{
    for (size_t i = 0; i < r->shortfall_count; i++) {
        const bill_billing_shortfall *s = &r->shortfalls[i];
        long at = bill__idmap_find(ix, f->shortfalls, sizeof *f->shortfalls, s->customer_id);
        if (at >= 0) {
            if (s->shortfall > f->shortfalls[at].shortfall)
                f->shortfalls[at] = *s;
            continue;
        }
        bill_billing_shortfall *n = realloc(f->shortfalls, (f->shortfall_count + 1) * sizeof *n);
        if (!n)
            return bill__err(BILL_ENOMEM, NULL, "out of memory");
        f->shortfalls = n;
        f->shortfalls[f->shortfall_count] = *s;
        int rc = bill__idmap_put(ix, f->shortfalls, sizeof *f->shortfalls, f->shortfall_count++);
        if (rc < 0)
            return rc;
    }
    return BILL_OK;
}

int bill_billing_forecast(bill_db *db, const bill_billing_options *opts, int days,
                          bill_billing_forecast_report **out)
{
    bill_conn *c = NULL;
    bill_billing_forecast_report *f = NULL;
    bill_billing_options o;
    bill__idmap ix = {0};
    int rc;

    if (!out)
        return bill__err(BILL_EINVALID, NULL, "out is required");
    *out = NULL;
    if (!db)
        return bill__err(BILL_EINVALID, "db", "database handle is NULL");
    if (days < 1 || days > 366)
        return bill__err(BILL_EINVALID, "days", "a forecast covers 1 to 366 days, not %d", days);
    if (opts)
        o = *opts;
    else
        bill_billing_options_init(&o);
    o.dry_run = true;
    if (!(f = calloc(1, sizeof *f)) || !(f->day = calloc((size_t)days, sizeof *f->day))) {
        free(f);
        return bill__err(BILL_ENOMEM, NULL, "out of memory");
    }
    f->days = days;
    if ((rc = bill__conn_acquire(db, &c)) < 0)
        goto done;
    int64_t T = bill__conn_now(c);
    bill_date today;
    int64_t midnight;
    if ((rc = bill_date_from_time(&today, T)) < 0 || (rc = bill_date_to_time(today, &midnight)) < 0)
        goto done;
    if ((rc = bill__tx_begin(c)) < 0 || (rc = bill__sandbox_begin(c, &f->day[0].statements)) < 0)
        goto done;
    for (int d = 0; d < days; d++) {
        bill__pass p;
        bill_billing_report *r = &f->day[d];
        int64_t at = d == 0 ? T : midnight + (int64_t)d * BILL_USEC_PER_DAY;
        if ((rc = bill__pass_init(&p, c, &o, at, true, r)) < 0 || (rc = sandbox_clock(c, at)) < 0 ||
            (rc = bill__pass_run(&p, NULL, 0)) < 0)
            goto done;
        r->dry_run = true;
        f->issued += r->issued;
        f->issued_amount += r->issued_amount;
        f->paid += r->paid;
        f->paid_amount += r->paid_amount;
        f->payment_failed += r->payment_failed;
        f->shortfall_amount += r->shortfall_amount;
        f->overdue += r->overdue;
        f->suspended += r->suspended;
        f->unsuspended += r->unsuspended;
        f->terminated += r->terminated;
        if ((rc = merge_shortfalls(f, &ix, r)) < 0)
            goto done;
        if (o.progress)
            o.progress(o.progress_user, d + 1, days);
    }
    *out = f;
    f = NULL;
done:
    if (c)
        bill__tx_rollback(c);
    bill__conn_done(c);
    bill__idmap_free(&ix);
    bill_billing_forecast_free(f);
    return rc;
}

/* ---- dashboard -------------------------------------------------------------------------------- */

int bill__billing_summary_read(bill_conn *c, int days, bill_billing_summary *out)
{
    PGresult *res = NULL;
    bill_date today, until;
    char t[BILL_DATE_BUFSZ], u[BILL_DATE_BUFSZ];
    int rc;
    memset(out, 0, sizeof *out);
    if (days <= 0)
        days = 7;
    if (days > 3660)
        return bill__err(BILL_EINVALID, "days", "days %d is more than 3660", days);
    if ((rc = bill_date_from_time(&today, bill__conn_now(c))) < 0 ||
        (rc = bill_date_add_days(&until, today, days - 1)) < 0 ||
        (rc = bill_date_format(today, t)) < 0 || (rc = bill_date_format(until, u)) < 0)
        goto done;
    if ((rc = bill__qp(c, &res,
                       "SELECT "
                       "(SELECT count(*) FROM invoices WHERE status = 'issued' AND due_date "
                       "  BETWEEN $1::date AND $2::date), "
                       "(SELECT coalesce(sum(total_amount - paid_amount), 0)::text FROM invoices "
                       "  WHERE status = 'issued' AND due_date BETWEEN $1::date AND $2::date), "
                       "(SELECT count(*) FROM invoices WHERE status = 'overdue'), "
                       "(SELECT coalesce(sum(total_amount - paid_amount), 0)::text FROM invoices "
                       "  WHERE status = 'overdue'), "
                       "(SELECT count(*) FROM instances WHERE status = 'suspended'), "
                       "(SELECT count(*) FROM events WHERE kind = 'provider.action' AND status "
                       "  IN ('pending', 'processing') AND last_error <> '')",
                       t, u)) < 0)
        goto done;
    out->due_soon = bill__i64(res, 0, 0);
    out->overdue = bill__i64(res, 0, 2);
    out->suspended_instances = bill__i64(res, 0, 4);
    out->failing_actions = bill__i64(res, 0, 5);
    if ((rc = bill__money_col(res, 0, 1, &out->due_soon_amount)) < 0 ||
        (rc = bill__money_col(res, 0, 3, &out->overdue_amount)) < 0)
        goto done;
done:
    PQclear(res);
    return rc;
}

int bill_billing_summary_get(bill_db *db, const bill_actor *actor, int days,
                             bill_billing_summary *out)
{
    bill_conn *c = NULL;
    int rc;
    if (!out)
        return bill__err(BILL_EINVALID, NULL, "out is required");
    memset(out, 0, sizeof *out);
    if ((rc = bill__require_staff(actor, "read billing figures")) < 0)
        return rc;
    if ((rc = bill__conn_acquire(db, &c)) < 0)
        return rc;
    rc = bill__billing_summary_read(c, days, out);
    bill__conn_done(c);
    return rc;
}
