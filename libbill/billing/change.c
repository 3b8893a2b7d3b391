/*
 * change.c — plan changes and cancellation (billing.md §5): proration by
 * day on the actual days of each paid period, half-to-even per line, the
 * basis being what was actually paid for the period (instance_periods), a
 * change invoice paid from the balance for a positive net, a credit note
 * and a ledger adjustment / refund for a negative one. Every function has a
 * preview form that computes the same lines and writes nothing.
 *
 * The day of the change X = date(T) belongs to the new state. The paid time
 * [X, next_due_date) is split at period boundaries; a segment [a, b) with
 * L = b - a and r = b - max(a, X) gives
 *     credit = round_half_even(basis x r / L), charge = round_half_even(price x r / L).
 */
#include "auth/access_int.h"
#include "billing/billing_int.h"
#include "domain/balance_int.h"
#include "domain/oplog_int.h"
#include "domain/order_int.h"
#include "bill/provision.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arithmetic -------------------------------------------------------------- */

/* round_half_even(v * r / L) for v >= 0, 0 <= r <= L, L > 0. */
static bill_money prorate(bill_money v, int r, int L)
{
    int64_t num = v * (int64_t)r, q = num / L, rem = num % L;
    if (2 * rem > L || (2 * rem == L && (q & 1)))
        q++;
    return q;
}

static void copy_str(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

void bill_billing_change_clear(bill_billing_change *c)
{
    if (!c)
        return;
    free(c->lines);
    memset(c, 0, sizeof *c);
}

static int add_line(bill_billing_change *c, const char *kind, const char *desc, bill_date a,
                    bill_date b, int r, int L, bill_money basis, bill_money amount)
{
    bill_billing_line *l = realloc(c->lines, (c->line_count + 1) * sizeof *l);
    char bb[BILL_MONEY_BUFSZ];
    if (!l)
        return bill__err(BILL_ENOMEM, NULL, "out of memory");
    c->lines = l;
    l = &l[c->line_count++];
    memset(l, 0, sizeof *l);
    copy_str(l->kind, sizeof l->kind, kind);
    copy_str(l->description, sizeof l->description, desc);
    bill_date_format(a, l->period_start);
    bill_date_format(b, l->period_end);
    l->proration_days = r;
    l->period_days = L;
    l->basis = basis;
    l->amount = amount;
    if (r == L)
        snprintf(l->why, sizeof l->why, "whole period (%d days) of %s", L,
                 bill_money_format(basis, bb));
    else
        snprintf(l->why, sizeof l->why, "%d/%d days of %s", r, L, bill_money_format(basis, bb));
    c->net += amount;
    return BILL_OK;
}

/* ---- what an instance stands on ------------------------------------------------ */

typedef struct seg {
    bill_date a, b;
    bill_money basis;
} seg;

typedef struct inst {
    char id[40], customer_id[40], status[16], product_id[40], product_name[128], cycle[16];
    char provider[40], pinst[128];
    bill_date next_due, anchor;
    bool has_due, cancel_end;
    char open_renewal[40]; /* an issued/overdue renewal, "" when none */
    seg *segs;
    int nseg;
} inst;

static void inst_clear(inst *x)
{
    free(x->segs);
    memset(x, 0, sizeof *x);
}

static int load(bill_conn *c, const bill_actor *actor, const char *id, bool lock, inst *x)
{
    PGresult *r = NULL, *p = NULL;
    int rc;
    memset(x, 0, sizeof *x);
    if ((rc = bill__check_id(id, "instance_id", "instance", false)) < 0)
        return rc;
    if ((rc = bill__qp(c, &r,
                       lock ? "SELECT i.id, i.customer_id, i.status, coalesce(i.product_id::text, "
                              "''), coalesce(p.name, ''), i.billing_cycle, coalesce("
                              "i.provider_interface_id::text, ''), i.provider_instance_id, "
                              "coalesce(i.next_due_date::text, ''), coalesce(i.anchor_date::text, "
                              "''), i.cancel_at_period_end, coalesce((SELECT v.id::text FROM "
                              "invoices v WHERE v.instance_id = i.id AND v.kind = 'renewal' AND "
                              "v.status IN ('issued', 'overdue') LIMIT 1), '') FROM instances i "
                              "LEFT JOIN products p ON p.id = i.product_id WHERE i.id = $1 "
                              "FOR UPDATE OF i"
                            : "SELECT i.id, i.customer_id, i.status, coalesce(i.product_id::text, "
                              "''), coalesce(p.name, ''), i.billing_cycle, coalesce("
                              "i.provider_interface_id::text, ''), i.provider_instance_id, "
                              "coalesce(i.next_due_date::text, ''), coalesce(i.anchor_date::text, "
                              "''), i.cancel_at_period_end, coalesce((SELECT v.id::text FROM "
                              "invoices v WHERE v.instance_id = i.id AND v.kind = 'renewal' AND "
                              "v.status IN ('issued', 'overdue') LIMIT 1), '') FROM instances i "
                              "LEFT JOIN products p ON p.id = i.product_id WHERE i.id = $1",
                       id)) < 0)
        goto done;
    if (PQntuples(r) == 0) {
        rc = bill__err(BILL_ENOTFOUND, "instance_id", "instance %s not found", id);
        goto done;
    }
    if ((rc = bill__owns(actor, bill__val(r, 0, 1), "instance", id)) < 0)
        goto done;
    copy_str(x->id, sizeof x->id, bill__val(r, 0, 0));
    copy_str(x->customer_id, sizeof x->customer_id, bill__val(r, 0, 1));
    copy_str(x->status, sizeof x->status, bill__val(r, 0, 2));
    copy_str(x->product_id, sizeof x->product_id, bill__val(r, 0, 3));
    copy_str(x->product_name, sizeof x->product_name, bill__val(r, 0, 4));
    copy_str(x->cycle, sizeof x->cycle, bill__val(r, 0, 5));
    copy_str(x->provider, sizeof x->provider, bill__val(r, 0, 6));
    copy_str(x->pinst, sizeof x->pinst, bill__val(r, 0, 7));
    x->has_due = bill__val(r, 0, 8)[0] && bill_date_parse(bill__val(r, 0, 8), &x->next_due) == 0 &&
                 bill__val(r, 0, 9)[0] && bill_date_parse(bill__val(r, 0, 9), &x->anchor) == 0;
    x->cancel_end = bill__bool(r, 0, 10);
    copy_str(x->open_renewal, sizeof x->open_renewal, bill__val(r, 0, 11));
    /* the paid periods still ahead of (or around) today */
    if ((rc = bill__qp(c, &p,
                       "SELECT period_start::text, period_end::text, basis::text FROM "
                       "instance_periods WHERE instance_id = $1 AND status = 'paid' "
                       "ORDER BY period_start",
                       id)) < 0)
        goto done;
    if (PQntuples(p) > 0 && !(x->segs = calloc((size_t)PQntuples(p), sizeof *x->segs))) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
        goto done;
    }
    for (int i = 0; i < PQntuples(p); i++) {
        seg *s = &x->segs[x->nseg++];
        if (bill_date_parse(bill__val(p, i, 0), &s->a) < 0 ||
            bill_date_parse(bill__val(p, i, 1), &s->b) < 0 ||
            (rc = bill__money_col(p, i, 2, &s->basis)) < 0) {
            rc = rc < 0 ? rc : bill__err(BILL_EINTERNAL, NULL, "bad paid period of %s", id);
            goto done;
        }
    }
    rc = BILL_OK;
done:
    if (rc < 0)
        inst_clear(x);
    PQclear(r);
    PQclear(p);
    return rc;
}

/* Price of a product for a cycle (the product's cycle price; for monthly
 * also its default price), its name and specs. */
static int product_price(bill_conn *c, const char *product_id, const char *cycle,
                         bill_money *price, char name[128], char **specs)
{
    PGresult *r = NULL;
    int rc;
    if ((rc = bill__check_id(product_id, "product_id", "product", true)) < 0)
        return rc;
    if ((rc = bill__qp(c, &r,
                       "SELECT p.name, coalesce(pp.price, CASE WHEN $2 = 'monthly' THEN p.price "
                       "END)::text, p.active, p.specs::text FROM products p LEFT JOIN "
                       "product_prices pp ON pp.product_id = p.id AND pp.cycle = $2 "
                       "WHERE p.id = $1",
                       product_id, cycle)) < 0)
        return rc;
    if (PQntuples(r) == 0)
        rc = bill__err(BILL_ENOTFOUND, "product_id", "product %s not found", product_id);
    else if (!bill__bool(r, 0, 2))
        rc = bill__err(BILL_ESTATE, "product_id", "product %s (%s) is not active", product_id,
                       bill__val(r, 0, 0));
    else if (bill__isnull(r, 0, 1))
        rc = bill__err(BILL_EINVALID, "billing_cycle", "product %s (%s) has no %s price",
                       product_id, bill__val(r, 0, 0), cycle);
    else if ((rc = bill__money_col(r, 0, 1, price)) == BILL_OK) {
        copy_str(name, 128, bill__val(r, 0, 0));
        if (specs && !(*specs = bill__strdup(bill__val(r, 0, 3))))
            rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
    }
    PQclear(r);
    return rc;
}

/* Credit lines for the unused paid time from X, one per paid period. */
static int credit_lines(const inst *x, bill_date X, bill_billing_change *out)
{
    for (int i = 0; i < x->nseg; i++) {
        const seg *s = &x->segs[i];
        if (bill_date_cmp(s->b, X) <= 0 || bill_date_cmp(s->a, x->next_due) >= 0)
            continue;
        int L = (int)bill_date_diff_days(s->a, s->b);
        bill_date from = bill_date_cmp(s->a, X) > 0 ? s->a : X;
        int r = (int)bill_date_diff_days(from, s->b);
        char d1[BILL_DATE_BUFSZ], d2[BILL_DATE_BUFSZ], desc[200];
        bill_date last;
        bill_date_add_days(&last, s->b, -1);
        bill_date_format(from, d1);
        bill_date_format(last, d2);
        snprintf(desc, sizeof desc, "Unused time on %s (%s), %s to %s",
                 x->product_name[0] ? x->product_name : "instance", x->cycle, d1, d2);
        int rc = add_line(out, "credit", desc, from, s->b, r, L, s->basis,
                          -prorate(s->basis, r, L));
        if (rc < 0)
            return rc;
    }
    return BILL_OK;
}

static int common_checks(const inst *x, const char *what)
{
    if (strcmp(x->status, "running") != 0 && strcmp(x->status, "stopped") != 0)
        return bill__err(BILL_ESTATE, "status",
                         "instance %s is %s; only running or stopped instances can %s", x->id,
                         x->status, what);
    if (!x->has_due)
        return bill__err(BILL_ESTATE, "next_due_date",
                         "instance %s has no billing cycle yet (no anchor or due date); it cannot "
                         "%s", x->id, what);
    if (x->open_renewal[0])
        return bill__err(BILL_ESTATE, "invoice",
                         "instance %s has an unpaid renewal (invoice %s); pay it before you %s",
                         x->id, x->open_renewal, what);
    if (x->cancel_end)
        return bill__err(BILL_ESTATE, "cancel_at_period_end",
                         "instance %s is cancelled at its period end; it cannot %s", x->id, what);
    return BILL_OK;
}

/* ---- writing the documents ---------------------------------------------------------- */

static int next_number(bill_conn *c, const char *counter, int year, char *out, size_t n,
                       const char *prefix)
{
    PGresult *r = NULL;
    char y[8];
    int rc;
    char *sql = bill__sprintf("INSERT INTO %s (year, last_value) VALUES ($1::int, 1) ON CONFLICT "
                              "(year) DO UPDATE SET last_value = %s.last_value + 1 RETURNING "
                              "last_value", counter, counter);
    if (!sql)
        return bill__err(BILL_ENOMEM, NULL, "out of memory");
    snprintf(y, sizeof y, "%d", year);
    rc = bill__qp(c, &r, sql, y);
    free(sql);
    if (rc == BILL_OK)
        snprintf(out, n, "%s-%d-%06lld", prefix, year, (long long)bill__i64(r, 0, 0));
    PQclear(r);
    return rc;
}

/* The lines of a change invoice or credit note: one row per line, with the
 * same parameters in the same order for both tables ($1 the invoice or
 * credit note, $2 customer, $3 line number, $4 kind, $5 description,
 * $6 amount, $7/$8 period, $9 r, $10 L, $11 basis, $12 why, $13 instant). */
static const char SQL_INVOICE_LINE[] =
    "INSERT INTO invoice_items (invoice_id, customer_id, line_no, kind, description, quantity, "
    "unit_price, amount, period_start, period_end, proration_days, period_days, basis, why, "
    "created_at) VALUES ($1, $2, $3::int, $4, $5, 1, $6::numeric, $6::numeric, $7::date, "
    "$8::date, $9::int, $10::int, $11::numeric, $12, $13::timestamptz)";

static const char SQL_CREDIT_LINE[] =
    "INSERT INTO credit_note_lines (credit_note_id, customer_id, line_no, kind, description, "
    "amount, period_start, period_end, proration_days, period_days, basis, why, created_at) "
    "VALUES ($1, $2, $3::int, $4, $5, $6::numeric, $7::date, $8::date, $9::int, $10::int, "
    "$11::numeric, $12, $13::timestamptz)";

static int insert_lines(bill_conn *c, const char *sql, const char *parent_id,
                        const char *customer_id, const bill_billing_change *out, const char *ts)
{
    char am[BILL_MONEY_BUFSZ], ba[BILL_MONEY_BUFSZ], ln[16], rr[16], ll[16];
    for (size_t i = 0; i < out->line_count; i++) {
        const bill_billing_line *l = &out->lines[i];
        int rc;
        snprintf(ln, sizeof ln, "%zu", i + 1);
        snprintf(rr, sizeof rr, "%d", l->proration_days);
        snprintf(ll, sizeof ll, "%d", l->period_days);
        if ((rc = bill__qp(c, NULL, sql, parent_id, customer_id, ln, l->kind, l->description,
                           bill_money_format(l->amount, am), l->period_start, l->period_end, rr,
                           ll, bill_money_format(l->basis, ba), l->why, ts)) < 0)
            return rc;
    }
    return BILL_OK;
}

/* The change invoice (net > 0): numbered, paid from the balance at once
 * (EFUNDS when balance + credit limit cannot cover it), with all lines. */
static int write_invoice(bill_conn *c, const bill_actor *actor, const inst *x, const char *kind,
                         const char *ts, const char *X, const char *period_end,
                         const char *product_id, const char *cycle, bill_billing_change *out,
                         int year)
{
    PGresult *r = NULL;
    char b1[BILL_MONEY_BUFSZ];
    char desc[96];
    bill_balance_tx tx = {0};
    int rc;
    /* The customer before the year's counter: the order every issuer of
     * numbers keeps (the billing pass locks its customers first). */
    if ((rc = bill__qp(c, NULL, "SELECT 1 FROM customers WHERE id = $1 FOR UPDATE",
                       x->customer_id)) < 0 ||
        (rc = next_number(c, "invoice_number_counters", year, out->invoice_number,
                          sizeof out->invoice_number, "INV")) < 0)
        return rc;
    bill_money_format(out->net, b1);
    if ((rc = bill__qp(c, &r,
                       "INSERT INTO invoices (customer_id, invoice_number, instance_id, "
                       "billing_period_start, billing_period_end, amount, tax_amount, "
                       "total_amount, paid_amount, status, issued_at, paid_at, due_date, kind, "
                       "product_id, billing_cycle, created_at, updated_at) VALUES ($1, $2, $3, "
                       "$4::date, $5::date, $6::numeric, 0, $6::numeric, $6::numeric, 'paid', "
                       "$7::timestamptz, $7::timestamptz, $4::date, $8, $9, $10, "
                       "$7::timestamptz, $7::timestamptz) RETURNING id",
                       x->customer_id, out->invoice_number, x->id, X, period_end, b1, ts, kind,
                       product_id, cycle)) < 0)
        goto done;
    copy_str(out->invoice_id, sizeof out->invoice_id, bill__val(r, 0, 0));
    if ((rc = insert_lines(c, SQL_INVOICE_LINE, out->invoice_id, x->customer_id, out, ts)) < 0)
        goto done;
    snprintf(desc, sizeof desc, "%s %s", strcmp(kind, "upgrade") == 0 ? "plan change" : "cycle change",
             out->invoice_number);
    if ((rc = bill__balance_change_tx(c, actor, x->customer_id, BILL_BALANCE_PAYMENT, out->net,
                                      out->invoice_id, desc, &tx)) < 0) {
        if (rc == BILL_EFUNDS)
            bill__err_prefix("the %s costs %s now", strcmp(kind, "upgrade") == 0 ? "plan change"
                                                                                 : "cycle change",
                             b1);
        goto done;
    }
    out->balance_after = tx.balance_after;
    rc = bill__qp(c, NULL,
                  "INSERT INTO payments (customer_id, invoice_id, amount, gateway_id, status, "
                  "paid_at, created_at, updated_at) VALUES ($1, $2, $3::numeric, 'balance', "
                  "'success', $4::timestamptz, $4::timestamptz, $4::timestamptz)",
                  x->customer_id, out->invoice_id, b1, ts);
done:
    bill_balance_tx_clear(&tx);
    PQclear(r);
    return rc;
}

/* The credit note (net < 0) with the same lines, and the ledger row. */
static int write_credit_note(bill_conn *c, const bill_actor *actor, const inst *x,
                             const char *kind, const char *ts, bill_balance_tx_type type,
                             const char *currency, bill_billing_change *out, int year)
{
    PGresult *r = NULL;
    char b1[BILL_MONEY_BUFSZ];
    char desc[96];
    bill_balance_tx tx = {0};
    int rc;
    if ((rc = next_number(c, "credit_note_number_counters", year, out->credit_number,
                          sizeof out->credit_number, "CN")) < 0)
        return rc;
    bill_money_format(-out->net, b1);
    if ((rc = bill__qp(c, &r,
                       "INSERT INTO credit_notes (customer_id, instance_id, credit_number, kind, "
                       "amount, currency, reason, issued_at, created_at) VALUES ($1, $2, $3, $4, "
                       "$5::numeric, $6, $7, $8::timestamptz, $8::timestamptz) RETURNING id",
                       x->customer_id, x->id, out->credit_number, kind, b1, currency,
                       strcmp(kind, "downgrade") == 0 ? "plan change"
                       : strcmp(kind, "cycle_change") == 0 ? "cycle change"
                                                           : "immediate cancellation",
                       ts)) < 0)
        goto done;
    copy_str(out->credit_note_id, sizeof out->credit_note_id, bill__val(r, 0, 0));
    if ((rc = insert_lines(c, SQL_CREDIT_LINE, out->credit_note_id, x->customer_id, out, ts)) < 0)
        goto done;
    snprintf(desc, sizeof desc, "credit note %s", out->credit_number);
    if ((rc = bill__balance_change_tx(c, actor, x->customer_id, type, -out->net,
                                      out->credit_note_id, desc, &tx)) < 0)
        goto done;
    out->balance_after = tx.balance_after;
    rc = bill__qp(c, NULL, "UPDATE credit_notes SET balance_tx_id = $2 WHERE id = $1",
                  out->credit_note_id, tx.id);
done:
    bill_balance_tx_clear(&tx);
    PQclear(r);
    return rc;
}

/* The provider action of a change and the customer's notice, in the
 * change's transaction (instances without a provider: action done). */
static int queue_action(bill_conn *c, const inst *x, const char *action, const char *reason,
                        const char *notify_kind, const char *subject, const char *body,
                        const bill_billing_change *out)
{
    char net[BILL_MONEY_BUFSZ];
    int rc = bill__qp(c, NULL,
                      "INSERT INTO events (kind, payload, max_attempts, status) VALUES "
                      "('provider.action', jsonb_build_object('instance_id', $1::uuid, "
                      "'customer_id', $2::uuid, 'action', $3::text, 'reason', $4::text, 'product_id', "
                      "nullif($5::text, '')), 100000, CASE WHEN $6::text = '' OR $7::text = '' THEN 'done' ELSE "
                      "'pending' END)",
                      x->id, x->customer_id, action, reason, out->product_id, x->provider,
                      x->pinst);
    if (rc < 0)
        return rc;
    return bill__qp(c, NULL,
                    "INSERT INTO events (kind, payload) VALUES ('notify', bill_notify_payload("
                    "$1::text, $2::uuid, $3::text, $4::text, jsonb_build_object('instance_id', "
                    "$5::uuid, 'net', $6::text, 'invoice_number', nullif($7::text, ''), "
                    "'credit_number', nullif($8::text, ''), 'next_due_date', "
                    "nullif($9::text, ''))))",
                    notify_kind, x->customer_id, subject, body, x->id,
                    bill_money_format(out->net, net), out->invoice_number, out->credit_number,
                    out->next_due_date);
}

static const char *net_verb(bill_money net)
{
    return net > 0 ? "charged" : net < 0 ? "credited" : "net";
}

/* The end every applied plan or cycle change shares, in its transaction:
 * the change_plan action and "plan changed" notice (body: owned, NULL =
 * out of memory), the operation log (`field` from old_value to new_value,
 * with the net), the commit. */
static int change_commit(bill_conn *c, const bill_actor *actor, const inst *x,
                         bill_billing_change *out, const char *reason, const char *subject,
                         char *body, const char *op, const char *field, const char *old_value,
                         const char *new_value)
{
    char b[BILL_MONEY_BUFSZ];
    int rc = body ? queue_action(c, x, "change_plan", reason, BILL_NOTIFY_PLAN_CHANGED, subject,
                                 body, out)
                  : bill__err(BILL_ENOMEM, NULL, "out of memory");
    free(body);
    if (rc < 0)
        return rc;
    char *before = bill__sprintf("{\"%s\": \"%s\"}", field, old_value);
    char *after = bill__sprintf("{\"%s\": \"%s\", \"net\": \"%s\"}", field, new_value,
                                bill_money_format(out->net, b));
    rc = before && after
             ? bill__oplog_write(c, actor, op, "instance", x->id, before, after)
             : bill__err(BILL_ENOMEM, NULL, "out of memory");
    free(before);
    free(after);
    if (rc < 0 || (rc = bill__tx_commit(c)) < 0)
        return rc;
    out->applied = true;
    return BILL_OK;
}

static void fill_common(bill_billing_change *out, const inst *x, const char *kind, bill_date X)
{
    copy_str(out->instance_id, sizeof out->instance_id, x->id);
    copy_str(out->customer_id, sizeof out->customer_id, x->customer_id);
    copy_str(out->kind, sizeof out->kind, kind);
    bill_date_format(X, out->change_date);
    bill_date_format(x->next_due, out->next_due_date);
    bill_date_format(x->anchor, out->anchor_date);
    copy_str(out->billing_cycle, sizeof out->billing_cycle, x->cycle);
    copy_str(out->product_id, sizeof out->product_id, x->product_id);
}

/* ---- product change --------------------------------------------------------------- */

static int product_lines(bill_conn *c, const inst *x, bill_date X, const char *product_id,
                         bill_billing_change *out, char **specs)
{
    bill_money price = 0;
    char name[128];
    int rc;
    if (strcmp(product_id, x->product_id) == 0)
        return bill__err(BILL_EINVALID, "product_id", "instance %s is already on product %s",
                         x->id, product_id);
    if ((rc = product_price(c, product_id, x->cycle, &price, name, specs)) < 0 ||
        (rc = credit_lines(x, X, out)) < 0)
        return rc;
    size_t ncredit = out->line_count;
    for (size_t i = 0; i < ncredit; i++) {
        bill_date a, b;
        char d1[BILL_DATE_BUFSZ], d2[BILL_DATE_BUFSZ], desc[200];
        const bill_billing_line *cl = &out->lines[i];
        bill_date_parse(cl->period_start, &a);
        bill_date_parse(cl->period_end, &b);
        bill_date last;
        bill_date_add_days(&last, b, -1);
        bill_date_format(a, d1);
        bill_date_format(last, d2);
        snprintf(desc, sizeof desc, "%s (%s), %s to %s", name, x->cycle, d1, d2);
        if ((rc = add_line(out, "charge", desc, a, b, cl->proration_days, cl->period_days, price,
                           prorate(price, cl->proration_days, cl->period_days))) < 0)
            return rc;
    }
    copy_str(out->product_id, sizeof out->product_id, product_id);
    return BILL_OK;
}

/* How a plan or cycle change starts: a connection, today X and the instant
 * as SQL text from its clock, the transaction (not for a preview), the
 * instance loaded (locked unless previewing) and the checks both share. On
 * failure the caller's cleanup releases *c (rolled back). */
static int change_open(bill_db *db, const bill_actor *actor, const char *instance_id,
                       bool preview, const char *what, bill_conn **c, inst *x, bill_date *X,
                       char ts[BILL_TIME_BUFSZ + 8])
{
    int rc;
    if ((rc = bill__conn_acquire_as(db, actor, c)) < 0)
        return rc;
    int64_t T = bill__conn_now(*c);
    if ((rc = bill_date_from_time(X, T)) < 0 || (rc = bill__ts_text(T, ts)) < 0 ||
        (!preview && (rc = bill__tx_begin(*c)) < 0) ||
        (rc = load(*c, actor, instance_id, !preview, x)) < 0 || (rc = common_checks(x, what)) < 0)
        return rc;
    return BILL_OK;
}

int bill_instance_change_product(bill_db *db, bill_plugins *plugins, const bill_actor *actor,
                                 const char *instance_id, const char *product_id, bool preview,
                                 bill_billing_change *out)
{
    bill_conn *c = NULL;
    inst x = {0};
    char *specs = NULL, ts[BILL_TIME_BUFSZ + 8], old_product[40];
    bill_date X;
    int rc;
    (void)plugins;
    if (!out)
        return bill__err(BILL_EINVALID, NULL, "out is required");
    memset(out, 0, sizeof *out);
    if ((rc = bill__require_staff(actor, "change an instance's product")) < 0)
        return rc;
    if (!product_id || !*product_id)
        return bill__err(BILL_EINVALID, "product_id", "product_id is required");
    if ((rc = change_open(db, actor, instance_id, preview, "change product", &c, &x, &X, ts)) < 0)
        goto done;
    copy_str(old_product, sizeof old_product, x.product_id);
    fill_common(out, &x, "product", X);
    if ((rc = product_lines(c, &x, X, product_id, out, &specs)) < 0)
        goto done;
    if (preview)
        goto done;
    const char *pe = out->next_due_date;
    if (out->net > 0 &&
        (rc = write_invoice(c, actor, &x, "upgrade", ts, out->change_date, pe, product_id, x.cycle,
                            out, X.y)) < 0)
        goto done;
    if (out->net < 0 &&
        (rc = write_credit_note(c, actor, &x, "downgrade", ts, BILL_BALANCE_ADJUSTMENT, "CNY", out,
                                X.y)) < 0)
        goto done;
    char b[BILL_MONEY_BUFSZ];
    if ((rc = bill__qp(c, NULL,
                       "WITH np AS (SELECT coalesce(pp.price, CASE WHEN $4 = 'monthly' THEN "
                       "p.price END) AS price FROM products p LEFT JOIN product_prices pp ON "
                       "pp.product_id = p.id AND pp.cycle = $4 WHERE p.id = $2), "
                       "i AS (UPDATE instances SET product_id = $2, server_spec = server_spec || "
                       "$3::jsonb, updated_at = $5::timestamptz WHERE id = $1) "
                       "UPDATE instance_periods SET basis = np.price, product_id = $2, "
                       "updated_at = $5::timestamptz FROM np WHERE instance_id = $1 AND "
                       "status = 'paid' AND period_end > $6::date",
                       x.id, product_id, specs ? specs : "{}", x.cycle, ts, out->change_date)) < 0)
        goto done;
    rc = change_commit(c, actor, &x, out, "product_change", "Your plan changed",
                       bill__sprintf("Your server's plan changed on %s; %s %s.", out->change_date,
                                     net_verb(out->net),
                                     bill_money_format(out->net < 0 ? -out->net : out->net, b)),
                       "instance.change_product", "product_id", old_product, product_id);
done:
    if (c && rc < 0)
        bill__tx_rollback(c);
    if (rc < 0) {
        bill_billing_change_clear(out);
    }
    free(specs);
    inst_clear(&x);
    bill__conn_done(c);
    return rc;
}

/* ---- cycle change ------------------------------------------------------------------- */

int bill_instance_change_cycle(bill_db *db, bill_plugins *plugins, const bill_actor *actor,
                               const char *instance_id, const char *cycle, bool preview,
                               bill_billing_change *out)
{
    bill_conn *c = NULL;
    inst x = {0};
    char ts[BILL_TIME_BUFSZ + 8], name[128], old_cycle[16], desc[200], d1[BILL_DATE_BUFSZ],
        d2[BILL_DATE_BUFSZ];
    bill_date X, end, last;
    bill_cycle cy;
    bill_money price = 0;
    int rc;
    (void)plugins;
    if (!out)
        return bill__err(BILL_EINVALID, NULL, "out is required");
    memset(out, 0, sizeof *out);
    if ((rc = bill__require_staff(actor, "change an instance's billing cycle")) < 0)
        return rc;
    if ((rc = bill_cycle_parse(cycle, &cy)) < 0)
        return rc;
    if ((rc = change_open(db, actor, instance_id, preview, "change cycle", &c, &x, &X, ts)) < 0)
        goto done;
    if (strcmp(x.cycle, cycle) == 0) {
        rc = bill__err(BILL_EINVALID, "billing_cycle", "instance %s is already billed %s", x.id,
                       cycle);
        goto done;
    }
    copy_str(old_cycle, sizeof old_cycle, x.cycle);
    fill_common(out, &x, "cycle", X);
    if ((rc = product_price(c, x.product_id, cycle, &price, name, NULL)) < 0 ||
        (rc = credit_lines(&x, X, out)) < 0 ||
        (rc = bill_cycle_next_due(&end, X, cy, 1)) < 0)
        goto done;
    bill_date_add_days(&last, end, -1);
    bill_date_format(X, d1);
    bill_date_format(last, d2);
    snprintf(desc, sizeof desc, "%s (%s), %s to %s", name, cycle, d1, d2);
    int L = (int)bill_date_diff_days(X, end);
    if ((rc = add_line(out, "charge", desc, X, end, L, L, price, price)) < 0)
        goto done;
    bill_date_format(end, out->next_due_date);
    bill_date_format(X, out->anchor_date);
    copy_str(out->billing_cycle, sizeof out->billing_cycle, cycle);
    if (preview)
        goto done;
    if (out->net > 0 &&
        (rc = write_invoice(c, actor, &x, "cycle_change", ts, out->change_date, out->next_due_date,
                            x.product_id, cycle, out, X.y)) < 0)
        goto done;
    if (out->net < 0 &&
        (rc = write_credit_note(c, actor, &x, "cycle_change", ts, BILL_BALANCE_ADJUSTMENT, "CNY",
                                out, X.y)) < 0)
        goto done;
    char b[BILL_MONEY_BUFSZ], pr[BILL_MONEY_BUFSZ];
    if ((rc = bill__qp(c, NULL,
                       "WITH cr AS (UPDATE instance_periods SET status = 'credited', "
                       "updated_at = $5::timestamptz WHERE instance_id = $1 AND status = 'paid' "
                       "AND period_end > $3::date RETURNING id), "
                       "i AS (UPDATE instances SET billing_cycle = $2, anchor_date = $3::date, "
                       "current_period_start = $3::date, next_due_date = $4::date, "
                       "updated_at = $5::timestamptz WHERE id = $1 RETURNING id, customer_id, "
                       "product_id) "
                       "INSERT INTO instance_periods (instance_id, customer_id, period_start, "
                       "period_end, basis, product_id, billing_cycle, source, invoice_id, "
                       "created_at, updated_at) SELECT i.id, i.customer_id, $3::date, $4::date, "
                       "$6::numeric, i.product_id, $2, 'cycle_change', nullif($7, '')::uuid, "
                       "$5::timestamptz, $5::timestamptz FROM i, (SELECT count(*) FROM cr) n",
                       x.id, cycle, out->change_date, out->next_due_date, ts,
                       bill_money_format(price, pr), out->invoice_id)) < 0)
        goto done;
    rc = change_commit(c, actor, &x, out, "cycle_change", "Your billing cycle changed",
                       bill__sprintf("Your server is now billed %s from %s (next due %s); %s %s.",
                                     cycle, out->change_date, out->next_due_date,
                                     net_verb(out->net),
                                     bill_money_format(out->net < 0 ? -out->net : out->net, b)),
                       "instance.change_cycle", "billing_cycle", old_cycle, cycle);
done:
    if (c && rc < 0)
        bill__tx_rollback(c);
    if (rc < 0)
        bill_billing_change_clear(out);
    inst_clear(&x);
    bill__conn_done(c);
    return rc;
}

/* ---- cancellation --------------------------------------------------------------------- */

int bill_instance_cancel(bill_db *db, bill_plugins *plugins, const bill_actor *actor,
                         const char *instance_id, bill_cancel_mode mode, bool preview,
                         bill_billing_change *out)
{
    bill_conn *c = NULL;
    inst x = {0};
    char ts[BILL_TIME_BUFSZ + 8], b[BILL_MONEY_BUFSZ];
    bill_date X;
    int rc;
    (void)plugins;
    if (!out)
        return bill__err(BILL_EINVALID, NULL, "out is required");
    memset(out, 0, sizeof *out);
    if ((rc = bill__require_staff(actor, "cancel instances")) < 0)
        return rc;
    if (mode != BILL_CANCEL_AT_PERIOD_END && mode != BILL_CANCEL_IMMEDIATELY)
        return bill__err(BILL_EINVALID, "mode", "cancel mode must be at period end or immediately");
    if ((rc = bill__conn_acquire_as(db, actor, &c)) < 0)
        return rc;
    int64_t T = bill__conn_now(c);
    if ((rc = bill_date_from_time(&X, T)) < 0 || (rc = bill__ts_text(T, ts)) < 0)
        goto done;
    if (!preview && (rc = bill__tx_begin(c)) < 0)
        goto done;
    if ((rc = load(c, actor, instance_id, !preview, &x)) < 0)
        goto done;
    if (strcmp(x.status, "terminated") == 0) {
        rc = bill__err(BILL_ESTATE, "status", "instance %s is already terminated", x.id);
        goto done;
    }
    fill_common(out, &x, "cancel", X);
    if (mode == BILL_CANCEL_AT_PERIOD_END) {
        if (x.cancel_end) {
            rc = bill__err(BILL_ESTATE, "cancel_at_period_end",
                           "instance %s is already cancelled at its period end (%s)", x.id,
                           out->next_due_date);
            goto done;
        }
        if (!x.has_due) {
            rc = bill__err(BILL_ESTATE, "next_due_date",
                           "instance %s has no paid period to run out; cancel it immediately",
                           x.id);
            goto done;
        }
        if (preview)
            goto done;
        if ((rc = bill__qp(c, NULL,
                           "WITH i AS (UPDATE instances SET cancel_at_period_end = true, "
                           "cancel_requested_at = $2::timestamptz, updated_at = $2::timestamptz "
                           "WHERE id = $1) UPDATE invoices SET status = 'cancelled', "
                           "updated_at = $2::timestamptz WHERE instance_id = $1 AND kind = "
                           "'renewal' AND status IN ('issued', 'overdue')",
                           x.id, ts)) < 0 ||
            (rc = bill__oplog_write(c, actor, "instance.cancel_at_period_end", "instance", x.id,
                                    NULL, NULL)) < 0 ||
            (rc = bill__tx_commit(c)) < 0)
            goto done;
        out->applied = true;
        goto done;
    }
    /* immediately: refund the unused paid time, terminate now */
    if (x.has_due && (rc = credit_lines(&x, X, out)) < 0)
        goto done;
    if (preview)
        goto done;
    if (out->net < 0 &&
        (rc = write_credit_note(c, actor, &x, "cancellation", ts, BILL_BALANCE_REFUND, "CNY", out,
                                X.y)) < 0)
        goto done;
    if ((rc = bill__qp(c, NULL,
                       "WITH p AS (UPDATE instance_periods SET status = 'credited', updated_at = "
                       "$2::timestamptz WHERE instance_id = $1 AND status = 'paid' AND "
                       "period_end > $3::date), "
                       "v AS (UPDATE invoices SET status = 'cancelled', updated_at = "
                       "$2::timestamptz WHERE instance_id = $1 AND kind = 'renewal' AND status "
                       "IN ('issued', 'overdue')), "
                       "o AS (" BILL__ORDER_TERMINATE_SQL("SELECT $1::uuid", "$2::timestamptz")
                       ") "
                       "UPDATE instances SET status = 'terminated', terminated_at = "
                       "$2::timestamptz, updated_at = $2::timestamptz WHERE id = $1",
                       x.id, ts, out->change_date)) < 0)
        goto done;
    {
        char *body = bill__sprintf("Your server was cancelled and terminated on %s%s%s.",
                                   out->change_date, out->net < 0 ? "; refunded to your balance: " : "",
                                   out->net < 0 ? bill_money_format(-out->net, b) : "");
        rc = body ? queue_action(c, &x, "terminate", "cancelled", BILL_NOTIFY_INSTANCE_TERMINATED,
                                 "Your server was terminated", body, out)
                  : bill__err(BILL_ENOMEM, NULL, "out of memory");
        free(body);
        if (rc < 0)
            goto done;
    }
    if ((rc = bill__oplog_write(c, actor, "instance.cancel_immediately", "instance", x.id, NULL,
                                NULL)) < 0 ||
        (rc = bill__tx_commit(c)) < 0)
        goto done;
    out->applied = true;
done:
    if (c && rc < 0)
        bill__tx_rollback(c);
    if (rc < 0)
        bill_billing_change_clear(out);
    inst_clear(&x);
    bill__conn_done(c);
    return rc;
}
