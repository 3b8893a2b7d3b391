/*
 * pass.c — one billing pass (billing.h, billing.md §2-§4): auto-pay retries,
 * dunning, period-end cancellations, renewal issuing, and the settle step
 * they share (all-or-nothing payment from the balance with customer rows
 * locked in id order). Every step is a bounded number of set-based
 * statements per batch; batches take their rows with SKIP LOCKED, so passes
 * running at once each take different rows and none does anything twice.
 *
 * No statement joins two CTEs with each other: PostgreSQL estimates a CTE at
 * a row or two and would nest-loop them, quadratic in the batch. Each step
 * of a statement carries what later steps need in its RETURNING instead, and
 * CTEs only ever join base tables through their indexes.
 */
#include "billing/billing_int.h"
#include "domain/order_int.h"
#include "bill/log.h"
#include "bill/uuid.h"
#include "bill/provision.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "libbill::billing"

/* ---- small helpers ---------------------------------------------------------- */

void bill__sbuf_free(bill__sbuf *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

void bill__sbuf_add(bill__sbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
}

void bill__sbuf_array_begin(bill__sbuf *b)
{
    b->len = 0;
    b->oom = false;
    bill__sbuf_add(b, "{");
}

void bill__sbuf_array_item(bill__sbuf *b, const char *v)
{
    if (b->len > 1)
        bill__sbuf_add(b, ",");
    bill__sbuf_add(b, v);
}

const char *bill__sbuf_array_end(bill__sbuf *b)
{
    bill__sbuf_add(b, "}");
    return b->oom ? NULL : b->s;
}

int bill__ts_text(int64_t usec, char buf[BILL_TIME_BUFSZ + 8])
{
    char base[BILL_TIME_BUFSZ];
    int64_t us = ((usec % BILL_USEC_PER_SEC) + BILL_USEC_PER_SEC) % BILL_USEC_PER_SEC;
    int rc = bill_time_format_rfc3339(usec - us, base);
    if (rc < 0)
        return rc;
    snprintf(buf, BILL_TIME_BUFSZ + 8, "%.19s.%06lldZ", base, (long long)us);
    return BILL_OK;
}

static void copy_str(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

/* Report lists grow to the next power of two (at least 16) of their count:
 * the capacity is implied by the count, so no field is needed and appending
 * a million invoices costs a few dozen reallocations. */
static size_t list_cap(size_t n)
{
    size_t c = 16;
    while (c < n)
        c *= 2;
    return c;
}

static int list_grow(void **arr, size_t count, size_t add, size_t elsz)
{
    if (add == 0 || (count > 0 && count + add <= list_cap(count)))
        return BILL_OK;
    void *a = realloc(*arr, list_cap(count + add) * elsz);
    if (!a)
        return bill__err(BILL_ENOMEM, NULL, "out of memory reporting the billing pass");
    *arr = a;
    return BILL_OK;
}
#define LIST_GROW(arr, count, add) list_grow((void **)&(arr), (count), (add), sizeof *(arr))

int bill__report_add_action(bill_billing_report *r, const char *instance_id,
                            const char *customer_id, const char *action, const char *reason)
{
    bill_billing_action *a;
    if (!r)
        return BILL_OK;
    if (LIST_GROW(r->action_list, r->action_count, 1) < 0)
        return BILL_ENOMEM;
    a = &r->action_list[r->action_count++];
    memset(a, 0, sizeof *a);
    copy_str(a->instance_id, sizeof a->instance_id, instance_id);
    copy_str(a->customer_id, sizeof a->customer_id, customer_id);
    copy_str(a->action, sizeof a->action, action);
    copy_str(a->reason, sizeof a->reason, reason);
    return BILL_OK;
}

int bill__report_add_invoice(bill_billing_report *r, const bill_billing_invoice *inv)
{
    if (!r)
        return BILL_OK;
    if (LIST_GROW(r->invoices, r->invoice_count, 1) < 0)
        return BILL_ENOMEM;
    r->invoices[r->invoice_count++] = *inv;
    return BILL_OK;
}

/* ---- an index of report entries by customer id -------------------------------- */

static uint64_t id_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* report lists are indexed with the entry itself as base: the key first */
_Static_assert(offsetof(bill_billing_shortfall, customer_id) == 0, "customer_id leads");

#define IDMAP_KEY(base, stride, i) ((const char *)(base) + (i) * (stride))

long bill__idmap_find(const bill__idmap *m, const void *base, size_t stride, const char *key)
{
    if (!m->cap)
        return -1;
    for (size_t j = id_hash(key) & (m->cap - 1);; j = (j + 1) & (m->cap - 1)) {
        if (!m->slot[j])
            return -1;
        if (strcmp(IDMAP_KEY(base, stride, m->slot[j] - 1), key) == 0)
            return (long)(m->slot[j] - 1);
    }
}

static void idmap_place(size_t *slot, size_t cap, const void *base, size_t stride, size_t idx)
{
    size_t j = id_hash(IDMAP_KEY(base, stride, idx)) & (cap - 1);
    while (slot[j])
        j = (j + 1) & (cap - 1);
    slot[j] = idx + 1;
}

int bill__idmap_put(bill__idmap *m, const void *base, size_t stride, size_t idx)
{
    if ((m->n + 1) * 2 > m->cap) { /* at most half full */
        size_t cap = m->cap ? m->cap * 2 : 64;
        size_t *slot = calloc(cap, sizeof *slot);
        if (!slot)
            return bill__err(BILL_ENOMEM, NULL, "out of memory indexing shortfalls");
        for (size_t j = 0; j < m->cap; j++)
            if (m->slot[j])
                idmap_place(slot, cap, base, stride, m->slot[j] - 1);
        free(m->slot);
        m->slot = slot;
        m->cap = cap;
    }
    idmap_place(m->slot, m->cap, base, stride, idx);
    m->n++;
    return BILL_OK;
}

void bill__idmap_free(bill__idmap *m)
{
    free(m->slot);
    memset(m, 0, sizeof *m);
}

/* Add `s` (one customer's shortfall) to r's list through its index `m`:
 * a customer short again adds its unpaid amount to the first entry. */
int bill__report_merge_shortfall(bill_billing_report *r, bill__idmap *m,
                                 const bill_billing_shortfall *s)
{
    long at = bill__idmap_find(m, r->shortfalls, sizeof *r->shortfalls, s->customer_id);
    if (at >= 0) {
        bill_billing_shortfall *d = &r->shortfalls[at];
        d->unpaid += s->unpaid;
        d->shortfall = d->unpaid - (d->balance + d->credit_limit);
        return BILL_OK;
    }
    if (LIST_GROW(r->shortfalls, r->shortfall_count, 1) < 0)
        return BILL_ENOMEM;
    r->shortfalls[r->shortfall_count] = *s;
    return bill__idmap_put(m, r->shortfalls, sizeof *r->shortfalls, r->shortfall_count++);
}

void bill_billing_report_clear(bill_billing_report *r)
{
    if (!r)
        return;
    free(r->invoices);
    free(r->action_list);
    free(r->shortfalls);
    memset(r, 0, sizeof *r);
}

void bill_billing_options_init(bill_billing_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->version = BILL_BILLING_OPTIONS_VERSION;
    o->invoice_days_before = 7;
    o->suspend_after_days = 3;
    o->terminate_after_days = 14;
    o->currency = "CNY";
    o->batch_size = 1000;
    o->workers = 2;
}

void bill_billing_options_from_config(bill_billing_options *o, const bill_config *cfg)
{
    bill_billing_options_init(o);
    if (!o || !cfg)
        return;
    o->invoice_days_before = cfg->billing.invoice_days_before;
    o->suspend_after_days = cfg->billing.suspend_after_days;
    o->terminate_after_days = cfg->billing.terminate_after_days;
    if (cfg->billing.currency && *cfg->billing.currency)
        o->currency = cfg->billing.currency;
}

/* ---- statements ------------------------------------------------------------------ */

static int q(bill__pass *p, PGresult **out, const char *sql, int n, const char *const *params)
{
    p->r->statements++;
    return bill__q(p->c, out, sql, n, params);
}
#define QP(p, out, sql, ...)                                                               \
    q((p), (out), (sql), (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)), \
      (const char *const[]){__VA_ARGS__})

static int tx_begin(bill__pass *p)
{
    if (p->sandbox)
        return BILL_OK;
    p->r->statements++;
    return bill__tx_begin(p->c);
}

static int tx_commit(bill__pass *p)
{
    if (p->sandbox)
        return BILL_OK;
    p->r->statements++;
    return bill__tx_commit(p->c);
}

static void tx_rollback(bill__pass *p)
{
    if (!p->sandbox)
        bill__tx_rollback(p->c);
}

/* A batch that lost a deadlock or a serialization race is simply run again. */
static bool retryable(void)
{
    const char *st = bill_error_last()->sqlstate;
    return strcmp(st, "40P01") == 0 || strcmp(st, "40001") == 0 ||
           bill_error_last()->code == BILL_ECONFLICT;
}

static int date_plus(bill_date d, int days, char out[BILL_DATE_BUFSZ])
{
    bill_date x;
    int rc;
    if ((rc = bill_date_add_days(&x, d, days)) < 0 || (rc = bill_date_format(x, out)) < 0)
        return rc;
    return BILL_OK;
}

int bill__pass_init(bill__pass *p, bill_conn *c, const bill_billing_options *o, int64_t T,
                    bool sandbox, bill_billing_report *r)
{
    int rc;
    memset(p, 0, sizeof *p);
    bill_billing_options_init(&p->o);
    if (o) {
        if (o->version < 1 || o->version > BILL_BILLING_OPTIONS_VERSION)
            return bill__err(BILL_EINVALID, "version",
                             "billing options version %u is not supported", o->version);
        /* a version-1 caller's struct ends before `workers` */
        memcpy(&p->o, o, o->version >= 2 ? sizeof *o : offsetof(bill_billing_options, workers));
        p->o.version = BILL_BILLING_OPTIONS_VERSION;
        if (!p->o.currency || !*p->o.currency)
            p->o.currency = "CNY";
    }
    if (p->o.invoice_days_before < 0 || p->o.invoice_days_before > 365)
        return bill__err(BILL_EINVALID, "invoice_days_before",
                         "invoice_days_before %d is not 0..365", p->o.invoice_days_before);
    if (p->o.suspend_after_days < 0 || p->o.suspend_after_days > 365)
        return bill__err(BILL_EINVALID, "suspend_after_days",
                         "suspend_after_days %d is not 0..365", p->o.suspend_after_days);
    if (p->o.terminate_after_days < p->o.suspend_after_days || p->o.terminate_after_days > 3650)
        return bill__err(BILL_EINVALID, "terminate_after_days",
                         "terminate_after_days %d must be suspend_after_days (%d)..3650",
                         p->o.terminate_after_days, p->o.suspend_after_days);
    if (p->o.batch_size <= 0)
        p->o.batch_size = 1000;
    if (p->o.batch_size > 50000)
        p->o.batch_size = 50000;
    if (p->o.workers < 1 || p->o.workers > BILL__PASS_MAX_WORKERS)
        return bill__err(BILL_EINVALID, "workers", "workers %d is not 1..%d", p->o.workers,
                         BILL__PASS_MAX_WORKERS);
    if (sandbox)
        p->o.workers = 1; /* one transaction holds the copies */
    p->c = c;
    p->T = T;
    p->sandbox = sandbox;
    p->r = r;
    p->total = r;
    r->at = T;
    if ((rc = bill__ts_text(T, p->ts)) < 0 || (rc = bill_date_from_time(&p->today, T)) < 0 ||
        (rc = bill_date_format(p->today, p->today_s)) < 0 ||
        (rc = date_plus(p->today, p->o.invoice_days_before, p->lead_cut)) < 0 ||
        (rc = date_plus(p->today, -p->o.suspend_after_days, p->susp_cut)) < 0 ||
        (rc = date_plus(p->today, -p->o.terminate_after_days, p->term_cut)) < 0)
        return rc;
    copy_str(r->date, sizeof r->date, p->today_s);
    return BILL_OK;
}

/* The provider action insert every transition shares: instances without a
 * provider (manual provisioning) get the action recorded as done. */
#define ACTION_INSERT(src, action, reason)                                                  \
    "INSERT INTO events (kind, payload, max_attempts, status) SELECT 'provider.action', "   \
    "jsonb_build_object('instance_id', " src ".id, 'customer_id', " src ".customer_id, "    \
    "'action', '" action "', 'reason', '" reason "', 'invoice_id', " src ".invoice_id), "   \
    "100000, CASE WHEN " src ".provider_interface_id IS NULL OR " src                       \
    ".provider_instance_id = '' THEN 'done' ELSE 'pending' END FROM " src

/* ---- renewals paid (any payment path) ------------------------------------------------ */

static const char SQL_RENEWALS_PAID[] =
    "WITH v AS (SELECT v.id, v.instance_id, v.customer_id, v.billing_period_start, "
    "  v.billing_period_end, v.total_amount, v.product_id, v.billing_cycle, v.invoice_number "
    "  FROM invoices v WHERE v.id = ANY($1::uuid[]) AND v.kind = 'renewal' AND "
    "  v.status = 'paid' AND v.instance_id IS NOT NULL), "
    "per AS (INSERT INTO instance_periods (instance_id, customer_id, period_start, period_end, "
    "  basis, product_id, billing_cycle, source, invoice_id, created_at, updated_at) "
    "  SELECT v.instance_id, v.customer_id, v.billing_period_start, v.billing_period_end, "
    "  v.total_amount, v.product_id, coalesce(v.billing_cycle, 'monthly'), 'renewal', v.id, "
    "  $2::timestamptz, $2::timestamptz FROM v "
    "  ON CONFLICT (instance_id, period_start) WHERE status = 'paid' DO NOTHING), "
    /* the subquery in RETURNING reads the row as it was before this update */
    "up AS (UPDATE instances i SET "
    "  current_period_start = CASE WHEN i.next_due_date IS NULL OR v.billing_period_end > "
    "    i.next_due_date THEN v.billing_period_start ELSE i.current_period_start END, "
    "  next_due_date = greatest(i.next_due_date, v.billing_period_end), "
    "  status = CASE WHEN i.status = 'suspended' THEN 'running' ELSE i.status END, "
    "  suspended_at = CASE WHEN i.status = 'suspended' THEN NULL ELSE i.suspended_at END, "
    "  updated_at = $2::timestamptz FROM v WHERE i.id = v.instance_id "
    "  RETURNING i.id, i.customer_id, i.provider_interface_id, i.provider_instance_id, "
    "  v.id AS invoice_id, v.invoice_number, "
    "  (SELECT o.status FROM instances o WHERE o.id = i.id) AS old_status), "
    "act AS (" ACTION_INSERT("up", "unsuspend", "paid") " WHERE up.old_status = 'suspended'), "
    "ntf AS (INSERT INTO events (kind, payload) SELECT 'notify', bill_notify_payload("
    "  '" BILL_NOTIFY_INSTANCE_UNSUSPENDED "', up.customer_id, 'Your server is running again', "
    "  'Invoice ' || up.invoice_number || ' is paid: your server is running again.', "
    "  jsonb_build_object('instance_id', up.id, 'invoice_id', up.invoice_id, "
    "  'invoice_number', up.invoice_number)) FROM up WHERE up.old_status = 'suspended') "
    "SELECT up.id, up.customer_id FROM up WHERE up.old_status = 'suspended'";

int bill__billing_renewals_paid(bill_conn *c, const char *ids, const char *ts,
                                bill_billing_report *r, bool details)
{
    PGresult *res = NULL;
    int rc;
    if (r)
        r->statements++;
    if ((rc = bill__qp(c, &res, SQL_RENEWALS_PAID, ids, ts)) < 0)
        return rc;
    for (int i = 0; r && i < PQntuples(res); i++) {
        r->unsuspended++;
        r->actions++;
        if (details &&
            (rc = bill__report_add_action(r, bill__val(res, i, 0), bill__val(res, i, 1),
                                          "unsuspend", "paid")) < 0)
            break;
    }
    PQclear(res);
    return rc;
}

/* ---- settle: pay open renewals from the balance, all or nothing -------------------- */

typedef struct cust {
    char id[40];
    bill_money balance, limit;
    int seq;            /* ledger rows written in this batch */
    bool spent;         /* its balance moved in this batch */
    char last[24];      /* its newest ledger row, µs since the epoch, or NULL */
    bill_money unpaid;  /* renewals it could not pay */
    size_t sf;          /* 1 + its entry in the batch's shortfall list, 0 = none */
} cust;

/* c could not pay `unpaid`: its entry in the batch's shortfall list (the
 * balance and limit as they stood at its first failure). */
static int batch_shortfall(bill_billing_report *r, cust *c, bill_money unpaid)
{
    bill_billing_shortfall *s;
    if (c->sf) {
        s = &r->shortfalls[c->sf - 1];
        s->unpaid += unpaid;
        s->shortfall = s->unpaid - (s->balance + s->credit_limit);
        return BILL_OK;
    }
    if (LIST_GROW(r->shortfalls, r->shortfall_count, 1) < 0)
        return BILL_ENOMEM;
    s = &r->shortfalls[r->shortfall_count++];
    memset(s, 0, sizeof *s);
    copy_str(s->customer_id, sizeof s->customer_id, c->id);
    s->balance = c->balance;
    s->credit_limit = c->limit;
    s->unpaid = unpaid;
    s->shortfall = unpaid - (c->balance + c->limit);
    c->sf = r->shortfall_count;
    return BILL_OK;
}

static int cust_cmp(const void *a, const void *b)
{
    return strcmp(((const cust *)a)->id, ((const cust *)b)->id);
}

/* The locked customer rows (CUST_LOCK_COLS, below) as a sorted array. */
static int custs_load(PGresult *cs, cust **out, int *n)
{
    *n = PQntuples(cs);
    *out = NULL;
    if (*n > 0 && !(*out = calloc((size_t)*n, sizeof **out)))
        return bill__err(BILL_ENOMEM, NULL, "out of memory reading customers");
    for (int i = 0; i < *n; i++) {
        int rc;
        copy_str((*out)[i].id, sizeof (*out)[i].id, bill__val(cs, i, 0));
        if ((rc = bill__money_col(cs, i, 1, &(*out)[i].balance)) < 0 ||
            (rc = bill__money_col(cs, i, 2, &(*out)[i].limit)) < 0)
            return rc;
        copy_str((*out)[i].last, sizeof (*out)[i].last,
                 bill__isnull(cs, i, 3) ? "NULL" : bill__val(cs, i, 3));
    }
    qsort(*out, (size_t)*n, sizeof **out, cust_cmp);
    return BILL_OK;
}

static const char SQL_SETTLE_READ[] =
    "SELECT v.id, v.customer_id, (v.total_amount - v.paid_amount)::text, "
    "(v.autopay_failed_at IS NULL), v.invoice_number, v.instance_id, "
    "v.billing_period_start::text, v.billing_period_end::text, v.due_date::text "
    "FROM unnest($1::uuid[]) WITH ORDINALITY AS o(id, ord) JOIN invoices v ON v.id = o.id "
    "WHERE v.status IN ('issued', 'overdue') ORDER BY o.ord";

/* A locked customer's row as custs_load reads it: id, balance, credit
 * limit, and the instant of its newest ledger row (microseconds since the
 * epoch, NULL if none): the ledger rows a batch writes come after it. Read
 * under the lock, it stays true until the commit: every writer of ledger
 * rows holds the customer's row, whose balance it moves. */
#define CUST_LOCK_COLS                                                                     \
    "c.id, c.balance::text, c.credit_limit::text, (SELECT (extract(epoch FROM "            \
    "max(b.created_at)) * 1000000)::bigint FROM balance_transactions b WHERE "             \
    "b.customer_id = c.id)"

/* The instant of a batch's ledger row: after the customer's newest one
 * (`last`, from CUST_LOCK_COLS) and its earlier rows in the batch (`seq`). */
#define LEDGER_AT(last, seq)                                                               \
    "greatest(bill_clock_timestamp(), timestamptz 'epoch' + (" last " + 1) * "             \
    "interval '1 microsecond') + " seq " * interval '1 microsecond'"

static const char SQL_SETTLE_LOCK[] =
    "SELECT " CUST_LOCK_COLS " FROM customers c WHERE c.id IN "
    "(SELECT v.customer_id FROM invoices v WHERE v.id = ANY($1::uuid[])) ORDER BY c.id "
    "FOR UPDATE OF c";

static const char SQL_SETTLE_PAY[] =
    "WITH p AS (SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::numeric[], $4::numeric[], "
    "  $5::numeric[], $6::int[], $9::bigint[]) AS p(invoice_id, customer_id, amount, before, "
    "  after, seq, last)), "
    "inv AS (UPDATE invoices v SET status = 'paid', paid_amount = v.total_amount, "
    "  paid_at = $7::timestamptz, updated_at = $7::timestamptz FROM p "
    "  WHERE v.id = p.invoice_id AND v.status IN ('issued', 'overdue') "
    "  RETURNING v.id, v.invoice_number, v.customer_id, v.total_amount, p.amount, p.before, "
    "  p.after, p.seq, p.last), "
    "pay AS (INSERT INTO payments (customer_id, invoice_id, amount, currency, gateway_id, "
    "  status, paid_at, created_at, updated_at) SELECT inv.customer_id, inv.id, inv.amount, $8, "
    "  'balance', 'success', $7::timestamptz, $7::timestamptz, $7::timestamptz FROM inv), "
    "led AS (INSERT INTO balance_transactions (customer_id, amount, balance_before, "
    "  balance_after, transaction_type, reference_id, description, created_by, created_at) "
    "  SELECT inv.customer_id, -inv.amount, inv.before, inv.after, 'payment', inv.id::text, "
    "  'renewal ' || inv.invoice_number, 'billing', " LEDGER_AT("inv.last", "inv.seq") " "
    "  FROM inv WHERE inv.amount > 0), "
    "cu AS (UPDATE customers c SET balance = x.after, updated_at = $7::timestamptz FROM "
    "  unnest($10::uuid[], $11::numeric[]) AS x(id, after) WHERE c.id = x.id), "
    "ntf AS (INSERT INTO events (kind, payload) SELECT 'notify', bill_notify_payload("
    "  '" BILL_NOTIFY_RENEWAL_AUTOPAID "', inv.customer_id, 'Invoice ' || inv.invoice_number "
    "  || ' paid from your balance', 'Invoice ' || inv.invoice_number || ' of ' || "
    "  inv.total_amount || ' was paid from your balance; your balance is now ' || inv.after || "
    "  '.', jsonb_build_object('invoice_id', inv.id, 'invoice_number', inv.invoice_number, "
    "  'amount', inv.total_amount::text, 'balance', inv.after::text)) FROM inv) "
    "SELECT count(*) FROM inv";

static const char SQL_SETTLE_FAILED[] =
    "WITH f AS (SELECT * FROM unnest($1::uuid[], $2::numeric[], $3::numeric[], "
    "  $4::numeric[]) AS f(id, shortfall, balance, credit_limit)), "
    "u AS (UPDATE invoices v SET autopay_failed_at = $5::timestamptz FROM f "
    "  WHERE v.id = f.id AND v.autopay_failed_at IS NULL RETURNING v.id, v.customer_id, "
    "  v.invoice_number, v.total_amount, v.due_date, f.shortfall, f.balance, f.credit_limit) "
    "INSERT INTO events (kind, payload) SELECT 'notify', bill_notify_payload("
    "  '" BILL_NOTIFY_PAYMENT_FAILED "', u.customer_id, 'Invoice ' || u.invoice_number || "
    "  ': your balance is too low', 'Invoice ' || u.invoice_number || ' of ' || "
    "  u.total_amount || ' is due on ' || u.due_date || '. Your balance of ' || u.balance || "
    "  CASE WHEN u.credit_limit > 0 THEN ' (credit limit ' || u.credit_limit || ')' ELSE '' "
    "  END || ' is ' || u.shortfall || ' short: please recharge.', jsonb_build_object("
    "  'invoice_id', u.id, 'invoice_number', u.invoice_number, 'amount', "
    "  u.total_amount::text, 'due_date', u.due_date::text, 'balance', u.balance::text, "
    "  'credit_limit', u.credit_limit::text, 'shortfall', u.shortfall::text)) FROM u";

/* Pay the open renewals `ids` (array literal, in pass order) from their
 * customers' balances inside the caller's transaction. `issued` marks them
 * as issued by this pass in the report. */
static int settle(bill__pass *p, const char *ids, bool issued)
{
    PGresult *inv = NULL, *cs = NULL, *res = NULL;
    cust *cu = NULL;
    int ncu = 0, rc;
    bill__sbuf a_inv = {0}, a_cus = {0}, a_amt = {0}, a_bef = {0}, a_aft = {0}, a_seq = {0},
               a_last = {0}, a_cid = {0}, a_cbal = {0};
    bill__sbuf f_id = {0}, f_short = {0}, f_bal = {0}, f_lim = {0}, paid_ids = {0};
    bill__sbuf *arrs[] = {&a_inv, &a_cus,   &a_amt,  &a_bef,   &a_aft, &a_seq, &a_last,
                          &a_cid, &a_cbal,  &f_id,   &f_short, &f_bal, &f_lim, &paid_ids};
    int npaid = 0, nfail = 0;
    char b1[BILL_MONEY_BUFSZ], b2[BILL_MONEY_BUFSZ], b3[BILL_MONEY_BUFSZ], sq[16];

    if ((rc = QP(p, &cs, SQL_SETTLE_LOCK, ids)) < 0 || (rc = QP(p, &inv, SQL_SETTLE_READ, ids)) < 0 ||
        (rc = custs_load(cs, &cu, &ncu)) < 0)
        goto done;
    for (size_t i = 0; i < BILL__ARRAY_LEN(arrs); i++)
        bill__sbuf_array_begin(arrs[i]);
    /* In pass order: each renewal against the balance as it stands now. */
    for (int i = 0; i < PQntuples(inv); i++) {
        cust key, *k;
        bill_money amount = 0;
        bill_billing_invoice item;
        copy_str(key.id, sizeof key.id, bill__val(inv, i, 1));
        if (!(k = bsearch(&key, cu, (size_t)ncu, sizeof *cu, cust_cmp))) {
            rc = bill__err(BILL_EINTERNAL, NULL, "customer %s of invoice %s was not locked",
                           key.id, bill__val(inv, i, 0));
            goto done;
        }
        if ((rc = bill__money_col(inv, i, 2, &amount)) < 0)
            goto done;
        memset(&item, 0, sizeof item);
        copy_str(item.invoice_id, sizeof item.invoice_id, bill__val(inv, i, 0));
        copy_str(item.invoice_number, sizeof item.invoice_number, bill__val(inv, i, 4));
        copy_str(item.customer_id, sizeof item.customer_id, k->id);
        copy_str(item.instance_id, sizeof item.instance_id, bill__val(inv, i, 5));
        copy_str(item.period_start, sizeof item.period_start, bill__val(inv, i, 6));
        copy_str(item.period_end, sizeof item.period_end, bill__val(inv, i, 7));
        copy_str(item.due_date, sizeof item.due_date, bill__val(inv, i, 8));
        item.amount = amount;
        item.issued = issued;
        if (k->balance - amount >= -k->limit) {
            bill_money before = k->balance;
            k->balance -= amount;
            k->spent = k->spent || amount > 0;
            snprintf(sq, sizeof sq, "%d", k->seq++);
            bill__sbuf_array_item(&a_inv, item.invoice_id);
            bill__sbuf_array_item(&a_cus, k->id);
            bill__sbuf_array_item(&a_amt, bill_money_format(amount, b1));
            bill__sbuf_array_item(&a_bef, bill_money_format(before, b2));
            bill__sbuf_array_item(&a_aft, bill_money_format(k->balance, b3));
            bill__sbuf_array_item(&a_seq, sq);
            bill__sbuf_array_item(&a_last, k->last);
            bill__sbuf_array_item(&paid_ids, item.invoice_id);
            item.paid = true;
            npaid++;
            p->r->paid++;
            p->r->paid_amount += amount;
        } else {
            bill_money shortfall = amount - (k->balance + k->limit);
            item.shortfall = shortfall;
            p->r->payment_failed++;
            p->r->shortfall_amount += shortfall;
            k->unpaid += amount;
            if (p->o.details &&
                (rc = batch_shortfall(p->r, k, amount)) < 0)
                goto done;
            if (bill__bool(inv, i, 3)) { /* first failure: the customer is told once */
                bill__sbuf_array_item(&f_id, item.invoice_id);
                bill__sbuf_array_item(&f_short, bill_money_format(shortfall, b1));
                bill__sbuf_array_item(&f_bal, bill_money_format(k->balance, b2));
                bill__sbuf_array_item(&f_lim, bill_money_format(k->limit, b3));
                nfail++;
            }
        }
        if (p->o.details && (rc = bill__report_add_invoice(p->r, &item)) < 0)
            goto done;
    }
    const char *s_inv = bill__sbuf_array_end(&a_inv), *s_cus = bill__sbuf_array_end(&a_cus);
    const char *s_amt = bill__sbuf_array_end(&a_amt), *s_bef = bill__sbuf_array_end(&a_bef);
    const char *s_aft = bill__sbuf_array_end(&a_aft), *s_seq = bill__sbuf_array_end(&a_seq);
    const char *s_fid = bill__sbuf_array_end(&f_id), *s_fsh = bill__sbuf_array_end(&f_short);
    const char *s_fba = bill__sbuf_array_end(&f_bal), *s_fli = bill__sbuf_array_end(&f_lim);
    const char *s_paid = bill__sbuf_array_end(&paid_ids), *s_last = bill__sbuf_array_end(&a_last);
    /* the balances as the batch leaves them */
    for (int i = 0; i < ncu; i++)
        if (cu[i].spent) {
            bill__sbuf_array_item(&a_cid, cu[i].id);
            bill__sbuf_array_item(&a_cbal, bill_money_format(cu[i].balance, b1));
        }
    const char *s_cid = bill__sbuf_array_end(&a_cid), *s_cbal = bill__sbuf_array_end(&a_cbal);
    if (!s_inv || !s_cus || !s_amt || !s_bef || !s_aft || !s_seq || !s_fid || !s_fsh ||
        !s_fba || !s_fli || !s_paid || !s_last || !s_cid || !s_cbal) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory settling renewals");
        goto done;
    }
    if (npaid > 0) {
        if ((rc = QP(p, &res, SQL_SETTLE_PAY, s_inv, s_cus, s_amt, s_bef, s_aft, s_seq, p->ts,
                     p->o.currency, s_last, s_cid, s_cbal)) < 0)
            goto done;
        if (bill__i64(res, 0, 0) != npaid) {
            rc = bill__err(BILL_EINTERNAL, NULL, "settle: %lld of %d renewals changed under the "
                           "lock", (long long)bill__i64(res, 0, 0), npaid);
            goto done;
        }
        if ((rc = bill__billing_renewals_paid(p->c, s_paid, p->ts, p->r, p->o.details)) < 0)
            goto done;
    }
    if (nfail > 0 && (rc = QP(p, NULL, SQL_SETTLE_FAILED, s_fid, s_fsh, s_fba, s_fli, p->ts)) < 0)
        goto done;
    rc = BILL_OK;
done:
    for (size_t i = 0; i < BILL__ARRAY_LEN(arrs); i++)
        bill__sbuf_free(arrs[i]);
    free(cu);
    PQclear(inv);
    PQclear(cs);
    PQclear(res);
    return rc;
}

/* ---- step 1: retry open renewals ---------------------------------------------------- */

typedef struct keyset {
    char k1[BILL_DATE_BUFSZ + 4];
    char k2[48];
    char k3[40];
    char k4[40];
} keyset;

static void keyset_init(keyset *k)
{
    snprintf(k->k1, sizeof k->k1, "0001-01-01");
    snprintf(k->k2, sizeof k->k2, "-infinity");
    snprintf(k->k3, sizeof k->k3, "00000000-0000-0000-0000-000000000000");
    snprintf(k->k4, sizeof k->k4, "00000000-0000-0000-0000-000000000000");
}

/* Fold a committed batch's report b into the pass's: counts add up, lists
 * append, a customer short in several batches keeps one shortfall entry. */
static int report_merge(bill__pass *p, bill_billing_report *b)
{
    bill_billing_report *t = p->total;
    t->issued += b->issued;
    t->issued_amount += b->issued_amount;
    t->paid += b->paid;
    t->paid_amount += b->paid_amount;
    t->payment_failed += b->payment_failed;
    t->shortfall_amount += b->shortfall_amount;
    t->overdue += b->overdue;
    t->suspended += b->suspended;
    t->unsuspended += b->unsuspended;
    t->terminated += b->terminated;
    t->cancelled += b->cancelled;
    t->actions += b->actions;
    t->unpriced += b->unpriced;
    t->hand_invoiced += b->hand_invoiced;
    if (LIST_GROW(t->invoices, t->invoice_count, b->invoice_count) < 0 ||
        LIST_GROW(t->action_list, t->action_count, b->action_count) < 0)
        return BILL_ENOMEM;
    if (b->invoice_count)
        memcpy(t->invoices + t->invoice_count, b->invoices, b->invoice_count * sizeof *b->invoices);
    t->invoice_count += b->invoice_count;
    if (b->action_count)
        memcpy(t->action_list + t->action_count, b->action_list,
               b->action_count * sizeof *b->action_list);
    t->action_count += b->action_count;
    for (size_t i = 0; i < b->shortfall_count; i++) {
        int rc = bill__report_merge_shortfall(t, &p->shortfall_ix, &b->shortfalls[i]);
        if (rc < 0)
            return rc;
    }
    return BILL_OK;
}

/* Run one batch in its own transaction, on a report of its own that joins
 * the pass's only once the batch committed: a batch that lost a deadlock or
 * a race is rolled back and run again (its cursor `ctx`, `ctx_size` bytes,
 * restored), and nothing it counted the first time is counted twice. */
typedef int (*batch_fn)(bill__pass *p, void *ctx);

static int batch_tx(bill__pass *p, batch_fn fn, void *ctx, size_t ctx_size, const char *what)
{
    unsigned char saved[512];
    int rc;
    if (ctx_size > sizeof saved)
        return bill__err(BILL_EINTERNAL, NULL, "batch cursor too large");
    memcpy(saved, ctx, ctx_size);
    for (int attempt = 0;; attempt++) {
        bill_billing_report b;
        memset(&b, 0, sizeof b);
        b.at = p->total->at;
        p->r = &b;
        if ((rc = tx_begin(p)) == BILL_OK && (rc = fn(p, ctx)) == BILL_OK &&
            (rc = tx_commit(p)) == BILL_OK)
            rc = report_merge(p, &b);
        else
            tx_rollback(p);
        p->r = p->total;
        p->total->statements += b.statements; /* they ran, committed or not */
        bill_billing_report_clear(&b);
        if (rc == BILL_OK)
            return rc;
        if (p->sandbox || attempt >= 3 || !retryable()) {
            bill__err_prefix("billing pass (%s)", what);
            return rc;
        }
        BILL_LOG_INFO(MOD, "billing pass (%s): batch retried after %s", what,
                      bill_error_last()->message);
        memcpy(ctx, saved, ctx_size);
    }
}

/* Step 1 reads the open renewals' ids in pass order a page at a time
 * (one statement per page, without locks), then settles them batch by
 * batch, each batch locking its rows (SKIP LOCKED: rows another pass holds
 * are that pass's) and re-checking that they are still open. A keyset over
 * instance creation order cannot use an index of invoices, so reading the
 * next batch by keyset would sort every open renewal again for each batch. */
static const char SQL_OPEN_PAGE[] =
    "SELECT v.id, v.due_date::text, i.created_at::text, i.id FROM invoices v "
    "JOIN instances i ON i.id = v.instance_id "
    "WHERE v.kind = 'renewal' AND v.status IN ('issued', 'overdue') "
    "AND i.status <> 'terminated' "
    "AND (v.due_date, i.created_at, i.id, v.id) > ($1::date, $2::timestamptz, $3::uuid, $4::uuid) "
    "ORDER BY v.due_date, i.created_at, i.id, v.id LIMIT $5::int";

static const char SQL_OPEN_LOCK[] =
    "SELECT v.id FROM unnest($1::uuid[]) WITH ORDINALITY AS o(id, ord) "
    "JOIN invoices v ON v.id = o.id JOIN instances i ON i.id = v.instance_id "
    "WHERE v.kind = 'renewal' AND v.status IN ('issued', 'overdue') "
    "AND i.status <> 'terminated' ORDER BY o.ord FOR UPDATE OF v, i SKIP LOCKED";

typedef struct open_slice {
    PGresult *page;
    int from, to;
} open_slice;

static int open_batch(bill__pass *p, void *ctx)
{
    const open_slice *sl = ctx;
    PGresult *res = NULL;
    bill__sbuf ids = {0};
    int rc;
    bill__sbuf_array_begin(&ids);
    for (int i = sl->from; i < sl->to; i++)
        bill__sbuf_array_item(&ids, bill__val(sl->page, i, 0));
    const char *s = bill__sbuf_array_end(&ids);
    if (!s) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
        goto done;
    }
    if ((rc = QP(p, &res, SQL_OPEN_LOCK, s)) < 0 || PQntuples(res) == 0)
        goto done;
    bill__sbuf_array_begin(&ids);
    for (int i = 0; i < PQntuples(res); i++)
        bill__sbuf_array_item(&ids, bill__val(res, i, 0));
    s = bill__sbuf_array_end(&ids);
    rc = s ? settle(p, s, false) : bill__err(BILL_ENOMEM, NULL, "out of memory");
done:
    bill__sbuf_free(&ids);
    PQclear(res);
    return rc;
}

static int open_step(bill__pass *p)
{
    keyset k;
    char lim[16];
    int rc = BILL_OK, n, page = p->o.batch_size * 20;
    keyset_init(&k);
    snprintf(lim, sizeof lim, "%d", page);
    do {
        PGresult *res = NULL;
        if ((rc = QP(p, &res, SQL_OPEN_PAGE, k.k1, k.k2, k.k3, k.k4, lim)) < 0) {
            bill__err_prefix("billing pass (auto-pay)");
            return rc;
        }
        n = PQntuples(res);
        if (n > 0) {
            copy_str(k.k1, sizeof k.k1, bill__val(res, n - 1, 1));
            copy_str(k.k2, sizeof k.k2, bill__val(res, n - 1, 2));
            copy_str(k.k3, sizeof k.k3, bill__val(res, n - 1, 3));
            copy_str(k.k4, sizeof k.k4, bill__val(res, n - 1, 0));
        }
        for (int from = 0; from < n && rc == BILL_OK; from += p->o.batch_size) {
            open_slice sl = {res, from, from + p->o.batch_size < n ? from + p->o.batch_size : n};
            rc = batch_tx(p, open_batch, &sl, sizeof sl, "auto-pay");
        }
        PQclear(res);
    } while (rc == BILL_OK && n == page);
    return rc;
}

/* ---- step 2: dunning ------------------------------------------------------------------ */

static const char SQL_TERMINATE[] =
    "WITH v AS (UPDATE invoices v SET status = 'cancelled', updated_at = $1::timestamptz "
    "  FROM instances i WHERE v.kind = 'renewal' AND v.status IN ('issued', 'overdue') "
    "  AND i.id = v.instance_id AND (v.due_date <= $2::date OR i.status = 'terminated') "
    "  RETURNING v.id, v.instance_id, v.customer_id, v.invoice_number, v.due_date), "
    "t AS (UPDATE instances i SET status = 'terminated', terminated_at = $1::timestamptz, "
    "  updated_at = $1::timestamptz FROM v WHERE i.id = v.instance_id "
    "  AND i.status <> 'terminated' RETURNING i.id, i.customer_id, i.provider_interface_id, "
    "  i.provider_instance_id, v.id AS invoice_id, v.invoice_number, v.due_date), "
    "ot AS (" BILL__ORDER_TERMINATE_SQL("SELECT id FROM t", "$1::timestamptz") "), "
    "act AS (" ACTION_INSERT("t", "terminate", "terminate_after") "), "
    "ntf AS (INSERT INTO events (kind, payload) SELECT 'notify', bill_notify_payload("
    "  '" BILL_NOTIFY_INSTANCE_TERMINATED "', t.customer_id, 'Your server was terminated', "
    "  'Invoice ' || t.invoice_number || ' (due ' || t.due_date || ') stayed unpaid: your "
    "server is terminated and the invoice cancelled.', jsonb_build_object('instance_id', "
    "  t.id, 'invoice_id', t.invoice_id, 'invoice_number', t.invoice_number, 'reason', "
    "  'unpaid')) FROM t) "
    "SELECT t.id, t.customer_id, (SELECT count(*) FROM v) FROM t "
    "UNION ALL SELECT NULL, NULL, (SELECT count(*) FROM v) WHERE NOT EXISTS (SELECT 1 FROM t)";

static const char SQL_SUSPEND[] =
    "WITH c AS (SELECT i.id, v.id AS invoice_id, v.invoice_number, v.due_date FROM invoices v "
    "  JOIN instances i ON i.id = v.instance_id WHERE v.kind = 'renewal' "
    "  AND v.status IN ('issued', 'overdue') AND v.due_date <= $2::date "
    "  AND i.status IN ('running', 'stopped') FOR UPDATE OF i), "
    "s AS (UPDATE instances i SET status = 'suspended', suspended_at = $1::timestamptz, "
    "  updated_at = $1::timestamptz FROM c WHERE i.id = c.id "
    "  AND i.status IN ('running', 'stopped') RETURNING i.id, i.customer_id, "
    "  i.provider_interface_id, i.provider_instance_id, c.invoice_id, c.invoice_number, "
    "  c.due_date), "
    "act AS (" ACTION_INSERT("s", "suspend", "overdue") "), "
    "ntf AS (INSERT INTO events (kind, payload) SELECT 'notify', bill_notify_payload("
    "  '" BILL_NOTIFY_INSTANCE_SUSPENDED "', s.customer_id, 'Your server is suspended', "
    "  'Invoice ' || s.invoice_number || ' was due on ' || s.due_date || ' and is unpaid: "
    "your server is suspended until it is paid.', jsonb_build_object('instance_id', s.id, "
    "  'invoice_id', s.invoice_id, 'invoice_number', s.invoice_number)) FROM s) "
    "SELECT s.id, s.customer_id FROM s";

static const char SQL_OVERDUE[] =
    "WITH o AS (UPDATE invoices SET status = 'overdue', updated_at = $1::timestamptz "
    "  WHERE status = 'issued' AND due_date < $2::date RETURNING id, customer_id, "
    "  invoice_number, total_amount, due_date), "
    "ntf AS (INSERT INTO events (kind, payload) SELECT 'notify', bill_notify_payload("
    "  '" BILL_NOTIFY_INVOICE_OVERDUE "', o.customer_id, 'Invoice ' || o.invoice_number || "
    "  ' is overdue', 'Invoice ' || o.invoice_number || ' of ' || o.total_amount || "
    "  ' was due on ' || o.due_date || ' and is not paid yet.', jsonb_build_object("
    "  'invoice_id', o.id, 'invoice_number', o.invoice_number, 'amount', "
    "  o.total_amount::text, 'due_date', o.due_date::text)) FROM o) "
    "SELECT count(*) FROM o";

static const char SQL_PERIOD_END[] =
    "WITH t AS (UPDATE instances i SET status = 'terminated', terminated_at = $1::timestamptz, "
    "  updated_at = $1::timestamptz WHERE i.id IN (SELECT o.id FROM instances o WHERE "
    "  o.cancel_at_period_end AND o.status <> 'terminated' AND o.next_due_date <= $2::date "
    "  FOR UPDATE SKIP LOCKED) RETURNING i.id, i.customer_id, i.provider_interface_id, "
    "  i.provider_instance_id, NULL::uuid AS invoice_id), "
    "ot AS (" BILL__ORDER_TERMINATE_SQL("SELECT id FROM t", "$1::timestamptz") "), "
    "cv AS (UPDATE invoices v SET status = 'cancelled', updated_at = $1::timestamptz "
    "  FROM t WHERE v.instance_id = t.id AND v.kind = 'renewal' "
    "  AND v.status IN ('issued', 'overdue') RETURNING v.id), "
    "act AS (" ACTION_INSERT("t", "terminate", "period_end") "), "
    "ntf AS (INSERT INTO events (kind, payload) SELECT 'notify', bill_notify_payload("
    "  '" BILL_NOTIFY_INSTANCE_TERMINATED "', t.customer_id, 'Your server was terminated', "
    "  'As you asked, your server ended with its paid period.', jsonb_build_object("
    "  'instance_id', t.id, 'reason', 'cancelled_at_period_end')) FROM t) "
    "SELECT t.id, t.customer_id, (SELECT count(*) FROM cv) FROM t";

static int dunning(bill__pass *p)
{
    PGresult *res = NULL;
    int rc;

    /* termination first: one catch-up pass may terminate directly */
    if ((rc = QP(p, &res, SQL_TERMINATE, p->ts, p->term_cut)) < 0)
        goto done;
    if (PQntuples(res) > 0)
        p->r->cancelled += bill__i64(res, 0, 2);
    for (int i = 0; i < PQntuples(res); i++) {
        if (bill__isnull(res, i, 0))
            continue;
        p->r->terminated++;
        p->r->actions++;
        if (p->o.details && (rc = bill__report_add_action(p->r, bill__val(res, i, 0),
                                                          bill__val(res, i, 1), "terminate",
                                                          "terminate_after")) < 0)
            goto done;
    }
    PQclear(res);
    res = NULL;
    if ((rc = QP(p, &res, SQL_SUSPEND, p->ts, p->susp_cut)) < 0)
        goto done;
    for (int i = 0; i < PQntuples(res); i++) {
        p->r->suspended++;
        p->r->actions++;
        if (p->o.details && (rc = bill__report_add_action(p->r, bill__val(res, i, 0),
                                                          bill__val(res, i, 1), "suspend",
                                                          "overdue")) < 0)
            goto done;
    }
    PQclear(res);
    res = NULL;
    if ((rc = QP(p, &res, SQL_OVERDUE, p->ts, p->today_s)) < 0)
        goto done;
    p->r->overdue += bill__i64(res, 0, 0);
    PQclear(res);
    res = NULL;
    if ((rc = QP(p, &res, SQL_PERIOD_END, p->ts, p->today_s)) < 0)
        goto done;
    for (int i = 0; i < PQntuples(res); i++) {
        p->r->terminated++;
        p->r->actions++;
        if (i == 0)
            p->r->cancelled += bill__i64(res, 0, 2);
        if (p->o.details && (rc = bill__report_add_action(p->r, bill__val(res, i, 0),
                                                          bill__val(res, i, 1), "terminate",
                                                          "period_end")) < 0)
            goto done;
    }
done:
    PQclear(res);
    return rc;
}

/* ---- step 4: issue renewals ----------------------------------------------------------- */

static const char SQL_DUE_BATCH[] =
    "SELECT i.id, i.next_due_date::text, i.created_at::text, i.customer_id, "
    "coalesce(pp.price, CASE WHEN i.billing_cycle = 'monthly' THEN p.price END)::text "
    "FROM instances i LEFT JOIN products p ON p.id = i.product_id "
    "LEFT JOIN product_prices pp ON pp.product_id = i.product_id AND pp.cycle = i.billing_cycle "
    "WHERE i.status IN ('running', 'stopped') AND i.next_due_date IS NOT NULL "
    "AND NOT i.cancel_at_period_end AND i.anchor_date IS NOT NULL "
    "AND i.next_due_date <= $1::date "
    "AND (i.next_due_date, i.created_at, i.id) > ($2::date, $3::timestamptz, $4::uuid) "
    "AND NOT EXISTS (SELECT 1 FROM invoices v WHERE v.instance_id = i.id AND v.kind = 'renewal' "
    "  AND (v.status IN ('issued', 'overdue') OR v.issued_at = $5::timestamptz)) "
    /* The worker's share is written as an inequality on purpose: for "= $8" the
     * planner guesses 0.5 % of rows and picks a plan that sorts every due
     * instance for each batch (163 ms a batch at 1M instances); "< 1" gets the
     * generic range estimate and keeps the index walk in due order. */
    "AND ($7::int = 1 OR abs((hashtext(i.customer_id::text) & 2147483647) % $7::int - $8::int) < 1) "
    "ORDER BY i.next_due_date, i.created_at, i.id LIMIT $6::int FOR UPDATE OF i SKIP LOCKED";

/* A live manual invoice (bill_invoice_generate: inclusive end) that bills part
 * of the period [next_due_date, end) the pass would renew, among the batch's
 * instances: those are left alone and counted (docs/billing.md §2). */
static const char SQL_DUE_BY_HAND[] =
    "SELECT i.id FROM instances i WHERE i.id = ANY($1::uuid[]) AND EXISTS (SELECT 1 FROM "
    "invoices v WHERE v.instance_id = i.id AND v.kind = 'manual' AND v.status <> 'cancelled' "
    "AND v.billing_period_start < bill_period_end(i.anchor_date, i.next_due_date, "
    "i.billing_cycle) AND coalesce(v.billing_period_end, v.billing_period_start) >= "
    "i.next_due_date)";

static const char SQL_CUSTOMERS_LOCK[] =
    "SELECT " CUST_LOCK_COLS " FROM customers c WHERE c.id = ANY($1::uuid[]) ORDER BY c.id "
    "FOR UPDATE OF c";

/* Lines, payments, balances, paid periods and due dates of a batch's
 * renewals, written before their invoices exist (the foreign keys to
 * invoices are deferred to the commit, migration 018), so that the
 * numbered part at the end is short: it holds the year's counter. The
 * periods are read here, before the due dates move, and handed on. */
static const char SQL_DEFER_INVOICE_FKS[] =
    "SET CONSTRAINTS invoice_items_invoice_id_fkey, payments_invoice_id_fkey, "
    "instance_periods_invoice_id_fkey DEFERRED";

static const char SQL_ISSUE_REST[] =
    "WITH x AS (SELECT * FROM unnest($2::uuid[], $3::uuid[], $4::numeric[], $5::bool[], "
    "  $6::numeric[], $7::int[]) WITH ORDINALITY AS x(id, inst, amount, paid, after, seq, ord)), "
    "v AS (SELECT x.*, i.customer_id, i.next_due_date AS ps, "
    "  bill_period_end(i.anchor_date, i.next_due_date, i.billing_cycle) AS pe, i.product_id, "
    "  i.billing_cycle, (SELECT p.name FROM products p WHERE p.id = i.product_id) AS product_name "
    "  FROM x JOIN instances i ON i.id = x.inst), "
    "it AS (INSERT INTO invoice_items (invoice_id, customer_id, description, quantity, "
    "  unit_price, amount, kind, period_start, period_end, proration_days, period_days, basis, "
    "  why, line_no, created_at) SELECT v.id, v.customer_id, coalesce(v.product_name, "
    "  'instance') || ' (' || v.billing_cycle || '), ' || v.ps || ' to ' || (v.pe - 1), 1, "
    "  v.amount, v.amount, 'renewal', v.ps, v.pe, v.pe - v.ps, v.pe - v.ps, v.amount, "
    "  'whole period (' || (v.pe - v.ps) || ' days)', 1, $1::timestamptz FROM v), "
    "pay AS (INSERT INTO payments (customer_id, invoice_id, amount, currency, gateway_id, "
    "  status, paid_at, created_at, updated_at) SELECT v.customer_id, v.id, v.amount, "
    "  $8, 'balance', 'success', $1::timestamptz, $1::timestamptz, $1::timestamptz FROM v "
    "  WHERE v.paid), "
    "cu AS (UPDATE customers c SET balance = y.after, updated_at = $1::timestamptz FROM "
    "  unnest($9::uuid[], $10::numeric[]) AS y(id, after) WHERE c.id = y.id), "
    "per AS (INSERT INTO instance_periods (instance_id, customer_id, period_start, period_end, "
    "  basis, product_id, billing_cycle, source, invoice_id, created_at, updated_at) "
    "  SELECT v.inst, v.customer_id, v.ps, v.pe, v.amount, v.product_id, v.billing_cycle, "
    "  'renewal', v.id, $1::timestamptz, $1::timestamptz FROM v WHERE v.paid "
    "  ON CONFLICT (instance_id, period_start) WHERE status = 'paid' DO NOTHING), "
    "up AS (UPDATE instances i SET current_period_start = v.ps, next_due_date = v.pe, "
    "  updated_at = $1::timestamptz FROM v WHERE i.id = v.inst AND v.paid) "
    "SELECT v.ps::text, v.pe::text, v.product_id, v.billing_cycle FROM v ORDER BY v.ord";

/* The year's numbers for n invoices: the counter row stays locked until
 * the commit, taken last (after the customers: the order every issuer of
 * numbers keeps) so that batches on other connections wait for it only
 * while the statement below runs. Returns the last number before them. */
static const char SQL_COUNTER_TAKE[] =
    "INSERT INTO invoice_number_counters (year, last_value) VALUES ($1::int, $2::bigint) "
    "ON CONFLICT (year) DO UPDATE SET last_value = invoice_number_counters.last_value + "
    "EXCLUDED.last_value RETURNING last_value - $2::bigint";

/* The invoices, numbered base + their place in the batch, with what
 * carries the number: ledger rows and notices. Everything else they need
 * comes in the arrays (this statement runs while the year's counter is
 * held: nothing in it that could run before). */
static const char SQL_ISSUE_NUMBERED[] =
    "WITH x AS (SELECT * FROM unnest($4::uuid[], $5::uuid[], $6::numeric[], $7::bool[], "
    "  $8::numeric[], $9::numeric[], $10::int[], $11::numeric[], $12::numeric[], "
    "  $13::numeric[], $14::date[], $15::date[], $16::uuid[], $17::bigint[], $18::uuid[], "
    "  $19::text[]) WITH ORDINALITY AS x(id, inst, amount, paid, before, after, seq, shortfall, "
    "  balance, credit_limit, ps, pe, cust, last, prod, cycle, ord)), "
    "ins AS (INSERT INTO invoices (id, customer_id, invoice_number, instance_id, "
    "  billing_period_start, billing_period_end, amount, tax_amount, total_amount, paid_amount, "
    "  status, issued_at, paid_at, autopay_failed_at, due_date, kind, product_id, "
    "  billing_cycle, created_at, updated_at) "
    "  SELECT x.id, x.cust, 'INV-' || $2 || '-' || to_char($3::bigint + x.ord, "
    "  'FM000000'), x.inst, x.ps, x.pe, x.amount, 0, x.amount, CASE WHEN x.paid THEN x.amount "
    "  ELSE 0 END, CASE WHEN x.paid THEN 'paid' ELSE 'issued' END, $1::timestamptz, "
    "  CASE WHEN x.paid THEN $1::timestamptz END, CASE WHEN x.paid THEN NULL ELSE "
    "  $1::timestamptz END, x.ps, 'renewal', x.prod, x.cycle, $1::timestamptz, "
    "  $1::timestamptz FROM x "
    "  ON CONFLICT (instance_id, billing_period_start) WHERE " BILL__INVOICE_PERIOD_KEY
    "  DO NOTHING RETURNING id, customer_id, instance_id, invoice_number, total_amount, "
    "  due_date, billing_period_start, billing_period_end), "
    "v AS (SELECT ins.*, x.paid, x.before, x.after, x.seq, x.shortfall, x.balance, "
    "  x.credit_limit, x.last FROM ins JOIN x ON x.id = ins.id), "
    "led AS (INSERT INTO balance_transactions (customer_id, amount, balance_before, "
    "  balance_after, transaction_type, reference_id, description, created_by, created_at) "
    "  SELECT v.customer_id, -v.total_amount, v.before, v.after, 'payment', v.id::text, "
    "  'renewal ' || v.invoice_number, 'billing', " LEDGER_AT("v.last", "v.seq") " "
    "  FROM v WHERE v.paid AND v.total_amount > 0), "
    "n1 AS (INSERT INTO events (kind, payload) SELECT 'notify', bill_notify_payload("
    "  '" BILL_NOTIFY_RENEWAL_ISSUED "', v.customer_id, 'Invoice ' || v.invoice_number || "
    "  ' issued', 'Invoice ' || v.invoice_number || ' of ' || v.total_amount || ' for ' || "
    "  v.billing_period_start || ' to ' || (v.billing_period_end - 1) || ' is due on ' || "
    "  v.due_date || '.', jsonb_build_object('invoice_id', v.id, 'invoice_number', "
    "  v.invoice_number, 'instance_id', v.instance_id, 'amount', v.total_amount::text, "
    "  'due_date', v.due_date::text, 'period_start', v.billing_period_start::text, "
    "  'period_end', v.billing_period_end::text)) FROM v), "
    "n2 AS (INSERT INTO events (kind, payload) SELECT 'notify', bill_notify_payload("
    "  '" BILL_NOTIFY_RENEWAL_AUTOPAID "', v.customer_id, 'Invoice ' || v.invoice_number "
    "  || ' paid from your balance', 'Invoice ' || v.invoice_number || ' of ' || "
    "  v.total_amount || ' was paid from your balance; your balance is now ' || v.after || "
    "  '.', jsonb_build_object('invoice_id', v.id, 'invoice_number', v.invoice_number, "
    "  'amount', v.total_amount::text, 'balance', v.after::text)) FROM v WHERE v.paid), "
    "n3 AS (INSERT INTO events (kind, payload) SELECT 'notify', bill_notify_payload("
    "  '" BILL_NOTIFY_PAYMENT_FAILED "', v.customer_id, 'Invoice ' || v.invoice_number || "
    "  ': your balance is too low', 'Invoice ' || v.invoice_number || ' of ' || "
    "  v.total_amount || ' is due on ' || v.due_date || '. Your balance of ' || v.balance || "
    "  CASE WHEN v.credit_limit > 0 THEN ' (credit limit ' || v.credit_limit || ')' ELSE '' "
    "  END || ' is ' || v.shortfall || ' short: please recharge.', jsonb_build_object("
    "  'invoice_id', v.id, 'invoice_number', v.invoice_number, 'amount', "
    "  v.total_amount::text, 'due_date', v.due_date::text, 'balance', v.balance::text, "
    "  'credit_limit', v.credit_limit::text, 'shortfall', v.shortfall::text)) FROM v "
    "  WHERE NOT v.paid) "
    "SELECT count(*) FROM ins";

typedef struct due_cursor {
    keyset k;
    bool more;
} due_cursor;

static int due_batch(bill__pass *p, void *ctx)
{
    keyset *k = &((due_cursor *)ctx)->k;
    bool *more = &((due_cursor *)ctx)->more;
    PGresult *res = NULL, *hand = NULL, *cnt = NULL, *cs = NULL, *per = NULL, *ins = NULL;
    bool *skip = NULL;
    bill__sbuf custs = {0}, a_id = {0}, a_inst = {0}, a_amt = {0}, a_paid = {0}, a_bef = {0},
               a_aft = {0}, a_seq = {0}, a_short = {0}, a_bal = {0}, a_lim = {0}, a_cust = {0},
               a_last = {0}, a_ps = {0}, a_pe = {0}, a_prod = {0}, a_cyc = {0}, a_cid = {0},
               a_cbal = {0};
    bill_billing_invoice *items = NULL;
    cust *cu = NULL;
    char lim[16], year[8], count[24], parts[8], part[8], base[24];
    int rc, n, ncu = 0, nitems = 0;
    bill__sbuf *arrs[] = {&a_id,    &a_inst, &a_amt, &a_paid, &a_bef,  &a_aft,
                          &a_seq,   &a_short, &a_bal, &a_lim,  &a_cust, &a_last};
    bill__sbuf *outs[] = {&a_ps, &a_pe, &a_prod, &a_cyc, &a_cid, &a_cbal};

    snprintf(lim, sizeof lim, "%d", p->o.batch_size);
    snprintf(parts, sizeof parts, "%d", p->parts > 1 ? p->parts : 1);
    snprintf(part, sizeof part, "%d", p->part);
    if ((rc = QP(p, &res, SQL_DUE_BATCH, p->lead_cut, k->k1, k->k2, k->k3, p->ts, lim, parts,
                 part)) < 0)
        goto done;
    n = PQntuples(res);
    *more = n == p->o.batch_size;
    if (n == 0)
        goto done;
    copy_str(k->k1, sizeof k->k1, bill__val(res, n - 1, 1));
    copy_str(k->k2, sizeof k->k2, bill__val(res, n - 1, 2));
    copy_str(k->k3, sizeof k->k3, bill__val(res, n - 1, 0));
    if (!(skip = calloc((size_t)n, sizeof *skip))) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory issuing renewals");
        goto done;
    }
    /* instances whose period an invoice made by hand already bills */
    bill__sbuf_array_begin(&custs);
    for (int i = 0; i < n; i++)
        bill__sbuf_array_item(&custs, bill__val(res, i, 0));
    if (!bill__sbuf_array_end(&custs)) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory issuing renewals");
        goto done;
    }
    if ((rc = QP(p, &hand, SQL_DUE_BY_HAND, custs.s)) < 0)
        goto done;
    for (int h = 0; h < PQntuples(hand); h++)
        for (int i = 0; i < n; i++)
            if (!skip[i] && strcmp(bill__val(res, i, 0), bill__val(hand, h, 0)) == 0) {
                skip[i] = true;
                p->r->hand_invoiced++;
                break;
            }
    bill__sbuf_array_begin(&custs);
    for (int i = 0; i < n; i++) {
        if (skip[i])
            continue;
        if (bill__isnull(res, i, 4)) {
            skip[i] = true;
            p->r->unpriced++;
        } else {
            bill__sbuf_array_item(&custs, bill__val(res, i, 3));
        }
    }
    const char *s_custs = bill__sbuf_array_end(&custs);
    if (!s_custs) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory issuing renewals");
        goto done;
    }
    if (strcmp(s_custs, "{}") == 0)
        goto done;
    snprintf(year, sizeof year, "%d", p->today.y);
    if ((rc = QP(p, &cs, SQL_CUSTOMERS_LOCK, s_custs)) < 0 || (rc = custs_load(cs, &cu, &ncu)) < 0)
        goto done;
    if (!(items = calloc((size_t)n, sizeof *items))) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory issuing renewals");
        goto done;
    }
    for (size_t i = 0; i < BILL__ARRAY_LEN(arrs); i++)
        bill__sbuf_array_begin(arrs[i]);
    /* In pass order: each renewal against the balance as it stands at its
     * turn (all or nothing). Numbers come last (SQL_COUNTER_TAKE). */
    for (int i = 0; i < n; i++) {
        cust key, *c;
        bill_money amount = 0, before, shortfall = 0;
        char b1[BILL_MONEY_BUFSZ], b2[BILL_MONEY_BUFSZ], b3[BILL_MONEY_BUFSZ], sq[16];
        bill_billing_invoice *it = &items[nitems];
        if (skip[i])
            continue;
        copy_str(key.id, sizeof key.id, bill__val(res, i, 3));
        if (!(c = bsearch(&key, cu, (size_t)ncu, sizeof *cu, cust_cmp))) {
            rc = bill__err(BILL_EINTERNAL, NULL, "customer %s was not locked", key.id);
            goto done;
        }
        if ((rc = bill__money_col(res, i, 4, &amount)) < 0 || (rc = bill_uuid_v4(it->invoice_id)) < 0)
            goto done;
        nitems++;
        copy_str(it->instance_id, sizeof it->instance_id, bill__val(res, i, 0));
        copy_str(it->customer_id, sizeof it->customer_id, c->id);
        it->amount = amount;
        it->issued = true;
        before = c->balance;
        it->paid = c->balance - amount >= -c->limit;
        if (it->paid) {
            c->balance -= amount;
            c->spent = c->spent || amount > 0;
            p->r->paid++;
            p->r->paid_amount += amount;
        } else {
            shortfall = amount - (c->balance + c->limit);
            it->shortfall = shortfall;
            p->r->payment_failed++;
            p->r->shortfall_amount += shortfall;
            if (p->o.details &&
                (rc = batch_shortfall(p->r, c, amount)) < 0)
                goto done;
        }
        p->r->issued++;
        p->r->issued_amount += amount;
        snprintf(sq, sizeof sq, "%d", it->paid ? c->seq++ : 0);
        bill__sbuf_array_item(&a_id, it->invoice_id);
        bill__sbuf_array_item(&a_inst, it->instance_id);
        bill__sbuf_array_item(&a_amt, bill_money_format(amount, b1));
        bill__sbuf_array_item(&a_paid, it->paid ? "t" : "f");
        bill__sbuf_array_item(&a_bef, bill_money_format(before, b2));
        bill__sbuf_array_item(&a_aft, bill_money_format(c->balance, b3));
        bill__sbuf_array_item(&a_seq, sq);
        bill__sbuf_array_item(&a_short, bill_money_format(shortfall, b1));
        bill__sbuf_array_item(&a_bal, bill_money_format(it->paid ? before : c->balance, b2));
        bill__sbuf_array_item(&a_lim, bill_money_format(c->limit, b3));
        bill__sbuf_array_item(&a_cust, c->id);
        bill__sbuf_array_item(&a_last, c->last);
    }
    /* the balances as the batch leaves them */
    for (size_t i = 0; i < BILL__ARRAY_LEN(outs); i++)
        bill__sbuf_array_begin(outs[i]);
    for (int i = 0; i < ncu; i++) {
        char b1[BILL_MONEY_BUFSZ];
        if (!cu[i].spent)
            continue;
        bill__sbuf_array_item(&a_cid, cu[i].id);
        bill__sbuf_array_item(&a_cbal, bill_money_format(cu[i].balance, b1));
    }
    const char *s_cid = bill__sbuf_array_end(&a_cid), *s_cbal = bill__sbuf_array_end(&a_cbal);
    const char *s[BILL__ARRAY_LEN(arrs)];
    for (size_t i = 0; i < BILL__ARRAY_LEN(arrs); i++)
        if (!(s[i] = bill__sbuf_array_end(arrs[i]))) {
            rc = bill__err(BILL_ENOMEM, NULL, "out of memory issuing renewals");
            goto done;
        }
    if (!s_cid || !s_cbal) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory issuing renewals");
        goto done;
    }
    /* 0 id, 1 inst, 2 amount, 3 paid, 4 before, 5 after, 6 seq, 7 shortfall,
     * 8 balance, 9 limit, 10 customer, 11 its last ledger instant */
    if ((rc = q(p, NULL, SQL_DEFER_INVOICE_FKS, 0, NULL)) < 0 ||
        (rc = QP(p, &per, SQL_ISSUE_REST, p->ts, s[0], s[1], s[2], s[3], s[5], s[6],
                 p->o.currency, s_cid, s_cbal)) < 0)
        goto done;
    if (PQntuples(per) != nitems) {
        rc = bill__err(BILL_EINTERNAL, NULL, "issuing renewals: %d of %d instances found",
                       PQntuples(per), nitems);
        goto done;
    }
    for (int i = 0; i < nitems; i++) {
        copy_str(items[i].period_start, sizeof items[i].period_start, bill__val(per, i, 0));
        copy_str(items[i].period_end, sizeof items[i].period_end, bill__val(per, i, 1));
        copy_str(items[i].due_date, sizeof items[i].due_date, bill__val(per, i, 0));
        bill__sbuf_array_item(&a_ps, items[i].period_start);
        bill__sbuf_array_item(&a_pe, items[i].period_end);
        bill__sbuf_array_item(&a_prod, bill__isnull(per, i, 2) ? "NULL" : bill__val(per, i, 2));
        bill__sbuf_array_item(&a_cyc, bill__val(per, i, 3));
    }
    const char *s_ps = bill__sbuf_array_end(&a_ps), *s_pe = bill__sbuf_array_end(&a_pe),
               *s_prod = bill__sbuf_array_end(&a_prod), *s_cyc = bill__sbuf_array_end(&a_cyc);
    if (!s_ps || !s_pe || !s_prod || !s_cyc) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory issuing renewals");
        goto done;
    }
    snprintf(count, sizeof count, "%d", nitems);
    if ((rc = QP(p, &cnt, SQL_COUNTER_TAKE, year, count)) < 0)
        goto done;
    int64_t number = bill__i64(cnt, 0, 0);
    snprintf(base, sizeof base, "%lld", (long long)number);
    if ((rc = QP(p, &ins, SQL_ISSUE_NUMBERED, p->ts, year, base, s[0], s[1], s[2], s[3], s[4],
                 s[5], s[6], s[7], s[8], s[9], s_ps, s_pe, s[10], s[11], s_prod, s_cyc)) < 0)
        goto done;
    if (bill__i64(ins, 0, 0) != nitems) {
        /* Another pass issued one of these meanwhile: its numbers would
         * leave a gap. Run the batch again on a fresh snapshot. */
        rc = bill__err(BILL_ECONFLICT, NULL, "a renewal of this batch was issued concurrently");
        goto done;
    }
    for (int i = 0; p->o.details && i < nitems; i++) {
        snprintf(items[i].invoice_number, sizeof items[i].invoice_number, "INV-%s-%06lld", year,
                 (long long)(number + 1 + i));
        if ((rc = bill__report_add_invoice(p->r, &items[i])) < 0)
            goto done;
    }
    rc = BILL_OK;
done:
    /* a failed batch's counts die with its report (batch_tx) */
    for (size_t i = 0; i < BILL__ARRAY_LEN(arrs); i++)
        bill__sbuf_free(arrs[i]);
    for (size_t i = 0; i < BILL__ARRAY_LEN(outs); i++)
        bill__sbuf_free(outs[i]);
    bill__sbuf_free(&custs);
    free(skip);
    free(items);
    free(cu);
    PQclear(res);
    PQclear(hand);
    PQclear(cnt);
    PQclear(cs);
    PQclear(per);
    PQclear(ins);
    return rc;
}

/* ---- the pass ------------------------------------------------------------------------------- */

/* A failure copied off the thread it happened on (its record lives in
 * that thread's storage), raised again on the caller's. */
typedef struct thread_err {
    int code;
    char message[512], field[64], sqlstate[8];
} thread_err;

static void thread_err_save(thread_err *e)
{
    const bill_error *x = bill_error_last();
    e->code = x->code;
    copy_str(e->message, sizeof e->message, x->message);
    copy_str(e->field, sizeof e->field, x->field);
    copy_str(e->sqlstate, sizeof e->sqlstate, x->sqlstate);
}

static int thread_err_raise(const thread_err *e)
{
    if (*e->sqlstate)
        return bill__err_sql(e->code, e->sqlstate, "%s", e->message);
    return bill__err(e->code, *e->field ? e->field : NULL, "%s", e->message);
}

/* One worker of the renewals step: its own connection, customers and
 * report, from the cursor where the first batch left off. */
typedef struct due_worker {
    bill__pass p;
    bill_billing_report total;
    due_cursor due;
    pthread_t thread;
    bool started;
    int rc;
    thread_err err; /* its thread's error, for the caller's */
} due_worker;

static int due_loop(bill__pass *p, due_cursor *due)
{
    int rc = BILL_OK;
    while (due->more && (rc = batch_tx(p, due_batch, due, sizeof *due, "renewals")) == BILL_OK)
        ;
    return rc;
}

static void *due_thread(void *arg)
{
    due_worker *w = arg;
    if ((w->rc = due_loop(&w->p, &w->due)) < 0)
        thread_err_save(&w->err);
    bill__idmap_free(&w->p.shortfall_ix);
    return NULL;
}

/* The renewals step. The first batch runs alone; when more are due, the
 * rest is split by customer over 1 + nextra connections (a customer's
 * renewals stay on one, in pass order: billing.md §3), each batch its own
 * transaction, the invoice numbers taken at each one's end. */
static int due_step(bill__pass *p, bill_conn **extra, int nextra)
{
    due_cursor due;
    due_worker *ws = NULL;
    int rc;
    keyset_init(&due.k);
    due.more = true;
    if ((rc = batch_tx(p, due_batch, &due, sizeof due, "renewals")) < 0 || !due.more)
        return rc;
    if (nextra > 0 && !(ws = calloc((size_t)nextra, sizeof *ws)))
        nextra = 0; /* no memory for workers: one connection does it all */
    p->parts = 1 + nextra;
    p->part = 0;
    for (int i = 0; i < nextra; i++) {
        due_worker *w = &ws[i];
        w->p = *p;
        memset(&w->p.shortfall_ix, 0, sizeof w->p.shortfall_ix);
        w->p.c = extra[i];
        w->p.part = i + 1;
        w->total.at = p->total->at;
        w->p.r = w->p.total = &w->total;
        w->due = due;
        w->started = pthread_create(&w->thread, NULL, due_thread, w) == 0;
    }
    thread_err mine = {0};
    rc = due_loop(p, &due);
    /* a worker that could not start: its customers on this connection */
    for (int i = 0; i < nextra && rc == BILL_OK; i++)
        if (!ws[i].started) {
            p->part = i + 1;
            rc = due_loop(p, &ws[i].due);
        }
    if (rc < 0)
        thread_err_save(&mine);
    for (int i = 0; i < nextra; i++) {
        due_worker *w = &ws[i];
        if (!w->started)
            continue;
        pthread_join(w->thread, NULL);
        if (rc == BILL_OK && w->rc < 0) {
            rc = w->rc;
            mine = w->err;
        }
        /* what it committed happened, failed later or not: it is reported */
        int mr = report_merge(p, &w->total);
        if (mr < 0 && rc == BILL_OK) {
            rc = mr;
            thread_err_save(&mine);
        }
        p->total->statements += w->total.statements;
        bill_billing_report_clear(&w->total);
    }
    free(ws);
    p->parts = 1;
    p->part = 0;
    if (rc < 0)
        thread_err_raise(&mine);
    return rc;
}

int bill__pass_run(bill__pass *p, bill_conn **extra, int nextra)
{
    int rc;
    if ((rc = open_step(p)) < 0)
        goto done;
    if ((rc = dunning(p)) < 0) {
        bill__err_prefix("billing pass (dunning)");
        goto done;
    }
    rc = due_step(p, extra, nextra);
done:
    bill__idmap_free(&p->shortfall_ix);
    return rc;
}
