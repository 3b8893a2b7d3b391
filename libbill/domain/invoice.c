/*
 * invoice.c — invoices: manual drafts with items, issuing with gapless
 * per-year numbers (the year's counter row stays locked until the issuing
 * transaction ends), paying, cancelling, overdue marking, scoped reads and
 * idempotent batch generation from billable instances. Contract in
 * include/bill/invoice.h.
 */
#include "auth/access_int.h"
#include "domain/domain_int.h"
#include "domain/oplog_int.h"
#include "domain/balance_int.h"
#include "domain/order_int.h"
#include "domain/notify_int.h"
#include "bill/provision.h"
#include "billing/billing_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INV_COLS                                                                          \
    "id, invoice_number, customer_id, coalesce(instance_id::text, ''), "                 \
    "coalesce(billing_period_start::text, ''), coalesce(billing_period_end::text, ''), " \
    "amount, tax_amount, total_amount, paid_amount, status, " BILL__US("issued_at") ", "  \
    BILL__US("paid_at") ", coalesce(due_date::text, ''), notes, " BILL__US("created_at")  \
    ", " BILL__US("updated_at") ", kind"

static const char *const statuses[] = {"draft", "issued", "paid", "overdue", "cancelled"};

int bill_invoice_status_check(const char *s)
{
    for (size_t i = 0; s && i < BILL__ARRAY_LEN(statuses); i++)
        if (strcmp(s, statuses[i]) == 0)
            return BILL_OK;
    return bill__err(BILL_EINVALID, "status",
                     "status \"%.40s\" is not one of draft, issued, paid, overdue, cancelled",
                     s ? s : "");
}

static void item_clear(void *p)
{
    bill_invoice_item *x = p;
    BILL__FREE(x->id, x->description, x->kind, x->period_start, x->period_end, x->why);
    memset(x, 0, sizeof *x);
}

static int item_from_row(const PGresult *r, int row, const void *ctx, void *p)
{
    bill_invoice_item *x = p;
    int rc;
    if ((rc = BILL__DUP_COLS(r, row, "reading invoice items", &x->id, 0, &x->description, 1,
                                     &x->kind, 5, &x->period_start, 6, &x->period_end, 7,
                                     &x->why, 11)) < 0)
        return rc;
    x->quantity = (uint32_t)bill__i64(r, row, 2);
    x->proration_days = (int)bill__i64(r, row, 8);
    x->period_days = (int)bill__i64(r, row, 9);
    if ((rc = bill__money_col(r, row, 3, &x->unit_price)) < 0 ||
        (rc = bill__money_col(r, row, 4, &x->amount)) < 0 ||
        (rc = bill__money_col(r, row, 10, &x->basis)) < 0)
        return rc;
    return BILL_OK;
}

static const bill__rowtype ITEM_ROW = {sizeof(bill_invoice_item), item_from_row, item_clear,
                                       "invoice item"};

static void inv_clear(void *p)
{
    bill_invoice *v = p;
    BILL__FREE(v->id, v->invoice_number, v->customer_id, v->instance_id, v->billing_period_start,
               v->billing_period_end, v->status, v->due_date, v->notes, v->kind);
    bill__rows_clear(&ITEM_ROW, &v->items, &v->item_count);
    memset(v, 0, sizeof *v);
}

static int inv_from_row(const PGresult *r, int row, const void *ctx, void *p)
{
    bill_invoice *v = p;
    int rc;
    if ((rc = BILL__DUP_COLS(r, row, "reading an invoice", &v->id, 0, &v->invoice_number, 1,
                                     &v->customer_id, 2, &v->instance_id, 3,
                                     &v->billing_period_start, 4, &v->billing_period_end, 5,
                                     &v->status, 10, &v->due_date, 13, &v->notes, 14,
                                     &v->kind, 17)) < 0)
        return rc;
    if ((rc = bill__money_col(r, row, 6, &v->amount)) < 0 ||
        (rc = bill__money_col(r, row, 7, &v->tax_amount)) < 0 ||
        (rc = bill__money_col(r, row, 8, &v->total_amount)) < 0 ||
        (rc = bill__money_col(r, row, 9, &v->paid_amount)) < 0)
        return rc;
    v->issued_at = bill__i64(r, row, 11);
    v->paid_at = bill__i64(r, row, 12);
    v->created_at = bill__i64(r, row, 15);
    v->updated_at = bill__i64(r, row, 16);
    return BILL_OK;
}

static const bill__rowtype INV_ROW = {sizeof(bill_invoice), inv_from_row, inv_clear, "invoice"};

BILL__ROW_FUNCS(&INV_ROW, bill_invoice, bill_invoice_free, bill_invoices, bill_invoices_clear)

/* Invoice with its items; scoped. */
static int inv_fetch(bill_conn *c, const bill_actor *actor, const char *id, void *slot)
{
    bill_invoice **out = slot;
    PGresult *it = NULL;
    bill_invoice *v = NULL;
    int rc;
    if ((rc = bill__fetch_owned(c, actor, &INV_ROW, "invoice",
                                "SELECT " INV_COLS " FROM invoices WHERE id = $1", 2, id, &v)) < 0)
        goto done;
    if ((rc = bill__qp(c, &it,
                       "SELECT id, description, quantity, unit_price, amount, kind, "
                       "coalesce(period_start::text, ''), coalesce(period_end::text, ''), "
                       "coalesce(proration_days, 0), coalesce(period_days, 0), "
                       "coalesce(basis, 0), why FROM invoice_items "
                       "WHERE invoice_id = $1 ORDER BY line_no, created_at, id",
                       id)) < 0 ||
        (rc = bill__rows_fill(&ITEM_ROW, it, NULL, &v->items, &v->item_count)) < 0)
        goto done;
    *out = v;
    v = NULL;
done:
    bill_invoice_free(v);
    PQclear(it);
    return rc;
}

static int check_date(const char *s, const char *field)
{
    bill_date d;
    if (!s || !*s)
        return BILL_OK;
    if (bill_date_parse(s, &d) < 0)
        return bill__err(BILL_EINVALID, field, "%s \"%.32s\" is not a date (YYYY-MM-DD)", field,
                         s);
    return BILL_OK;
}

int bill_invoice_create(bill_db *db, const bill_actor *actor, const bill_invoice_input *in,
                        bill_invoice **out)
{
    bill_conn *c = NULL;
    PGresult *res = NULL;
    bill_money sum = 0, total = 0;
    char b1[BILL_MONEY_BUFSZ], b2[BILL_MONEY_BUFSZ], b3[BILL_MONEY_BUFSZ], q[24];
    int rc;

    if (out)
        *out = NULL;
    if ((rc = bill__require_staff(actor, "create invoices")) < 0)
        return rc;
    if (!in)
        return bill__err(BILL_EINVALID, NULL, "invoice input is required");
    if ((rc = bill__check_version(in->version, BILL_INVOICE_INPUT_VERSION, "bill_invoice_input")) < 0 ||
        (rc = bill__check_id(in->customer_id, "customer_id", "customer", true)) < 0)
        return rc;
    if (!in->items || in->item_count == 0 || in->item_count > 200)
        return bill__err(BILL_EINVALID, "items", "an invoice needs 1 to 200 items");
    for (size_t i = 0; i < in->item_count; i++) {
        const bill_invoice_item_input *x = &in->items[i];
        bill_money line;
        if (!x->description || !*x->description || strlen(x->description) > 2000)
            return bill__err(BILL_EINVALID, "items.description",
                             "item %zu needs a description (at most 2000 bytes)", i + 1);
        if (x->quantity == 0 || x->quantity > 100000)
            return bill__err(BILL_EINVALID, "items.quantity",
                             "item %zu: quantity %u is not 1..100000", i + 1, x->quantity);
        if (x->unit_price < 0 || !bill_money_in_range(x->unit_price) ||
            x->unit_price > BILL_MONEY_MAX / (bill_money)x->quantity)
            return bill__err(BILL_EINVALID, "items.unit_price",
                             "item %zu: unit_price %s is negative or too large", i + 1,
                             bill_money_format(x->unit_price, b1));
        line = x->unit_price * (bill_money)x->quantity;
        if (bill_money_add_checked(sum, line, &sum) < 0)
            return bill__err(BILL_EINVALID, "items", "invoice amount is beyond 9999999999.99");
    }
    if (in->tax_amount < 0 || bill_money_add_checked(sum, in->tax_amount, &total) < 0)
        return bill__err(BILL_EINVALID, "tax_amount", "tax_amount %s is negative or too large",
                         bill_money_format(in->tax_amount, b1));
    if ((rc = check_date(in->period_start, "billing_period_start")) < 0 ||
        (rc = check_date(in->period_end, "billing_period_end")) < 0 ||
        (rc = check_date(in->due_date, "due_date")) < 0)
        return rc;
    if (bill__opt(in->period_start) && bill__opt(in->period_end) &&
        strcmp(in->period_end, in->period_start) < 0)
        return bill__err(BILL_EINVALID, "billing_period_end",
                         "billing_period_end %s is before billing_period_start %s",
                         in->period_end, in->period_start);
    if (in->notes && strlen(in->notes) > 8000)
        return bill__err(BILL_EINVALID, "notes", "notes are longer than 8000 bytes");

    if ((rc = bill__conn_begin_as(db, actor, &c)) < 0)
        goto done;
    rc = bill__qp(c, &res,
                  "INSERT INTO invoices (customer_id, invoice_number, billing_period_start, "
                  "billing_period_end, amount, tax_amount, total_amount, status, due_date, "
                  "notes) VALUES ($1, 'DRAFT-' || gen_random_uuid(), NULLIF($2, '')::date, "
                  "NULLIF($3, '')::date, $4::numeric, $5::numeric, $6::numeric, 'draft', "
                  "NULLIF($7, '')::date, $8) RETURNING id",
                  in->customer_id, in->period_start ? in->period_start : "",
                  in->period_end ? in->period_end : "", bill_money_format(sum, b1),
                  bill_money_format(in->tax_amount, b2), bill_money_format(total, b3),
                  in->due_date ? in->due_date : "", in->notes ? in->notes : "");
    if (rc == BILL_EINVALID && strcmp(bill_error_last()->sqlstate, "23503") == 0)
        rc = bill__err(BILL_ENOTFOUND, "customer_id", "customer %s not found", in->customer_id);
    if (rc < 0)
        goto done;
    const char *id = bill__val(res, 0, 0);
    for (size_t i = 0; i < in->item_count; i++) {
        const bill_invoice_item_input *x = &in->items[i];
        snprintf(q, sizeof q, "%u", x->quantity);
        if ((rc = bill__qp(c, NULL,
                           "INSERT INTO invoice_items (invoice_id, customer_id, description, "
                           "quantity, unit_price, amount, created_at) VALUES ($1, $6, $2, "
                           "$3::int, $4::numeric, $5::numeric, bill_clock_timestamp())",
                           id, x->description, q, bill_money_format(x->unit_price, b1),
                           bill_money_format(x->unit_price * (bill_money)x->quantity, b2),
                           in->customer_id)) < 0)
            goto done;
    }
    if ((rc = bill__oplog_write(c, actor, "invoice.create", "invoice", id, NULL, NULL)) < 0 ||
        (rc = bill__tx_commit(c)) < 0)
        goto done;
    if (out)
        rc = inv_fetch(c, actor, id, out);
done:
    PQclear(res);
    bill__conn_done(c);
    return rc;
}

/* Assign the next number of the current year to a locked draft and issue it
 * (caller's transaction). */
static int issue_tx(bill_conn *c, const bill_actor *actor, const char *id)
{
    PGresult *cnt = NULL, *inv = NULL;
    bill_date today;
    char year[8], number[32], due[BILL_DATE_BUFSZ];
    int rc;
    if ((rc = bill_date_from_time(&today, bill__conn_now(c))) < 0)
        return rc;
    bill_date d = today;
    if ((rc = bill_date_add_days(&d, today, BILL_INVOICE_DUE_DAYS)) < 0 ||
        (rc = bill_date_format(d, due)) < 0)
        return rc;
    snprintf(year, sizeof year, "%d", today.y);
    /* The upsert locks the year's row until commit: concurrent issuers wait,
     * and a rollback hands the number back, so no gaps. */
    if ((rc = bill__qp(c, &cnt,
                       "INSERT INTO invoice_number_counters (year, last_value) VALUES "
                       "($1::int, 1) ON CONFLICT (year) DO UPDATE SET last_value = "
                       "invoice_number_counters.last_value + 1 RETURNING last_value",
                       year)) < 0)
        goto done;
    snprintf(number, sizeof number, "INV-%s-%06lld", year, (long long)bill__i64(cnt, 0, 0));
    if ((rc = bill__qp(c, NULL,
                       "UPDATE invoices SET invoice_number = $2, status = 'issued', "
                       "issued_at = bill_now(), due_date = coalesce(due_date, $3::date), "
                       "updated_at = bill_now() WHERE id = $1",
                       id, number, due)) < 0)
        goto done;
    if ((rc = bill__oplog_write(c, actor, "invoice.issue", "invoice", id, NULL, NULL)) < 0)
        goto done;
    /* tell the customer, in the same transaction as the number */
    if ((rc = bill__qp(c, &inv, "SELECT customer_id, total_amount::text, due_date::text "
                                "FROM invoices WHERE id = $1",
                       id)) < 0)
        goto done;
    if (PQntuples(inv) == 1) {
        char *subject = bill__sprintf("Invoice %s issued", number);
        char *body = bill__sprintf("Invoice %s for %s is due on %s.", number,
                                   bill__val(inv, 0, 1), bill__val(inv, 0, 2));
        char *data = bill__sprintf("{\"invoice_id\": \"%s\", \"invoice_number\": \"%s\", "
                                   "\"total_amount\": \"%s\", \"due_date\": \"%s\"}",
                                   id, number, bill__val(inv, 0, 1), bill__val(inv, 0, 2));
        rc = subject && body && data
                 ? bill__notify_tx(c, BILL_NOTIFY_INVOICE_ISSUED, bill__val(inv, 0, 0), subject,
                                   body, data)
                 : bill__err(BILL_ENOMEM, NULL, "out of memory");
        free(subject);
        free(body);
        free(data);
    }
done:
    PQclear(inv);
    PQclear(cnt);
    return rc;
}

/* Lock an invoice; *status_out points into *res. */
static int lock_invoice(bill_conn *c, const char *id, PGresult **res)
{
    int rc;
    if ((rc = bill__qp(c, res,
                       "SELECT status, customer_id, total_amount - paid_amount, total_amount "
                       "FROM invoices WHERE id = $1 FOR UPDATE",
                       id)) < 0)
        return rc;
    if (PQntuples(*res) == 0)
        return bill__err(BILL_ENOTFOUND, "id", "invoice %s not found", id);
    return BILL_OK;
}

int bill_invoice_issue(bill_db *db, const bill_actor *actor, const char *id, bill_invoice **out)
{
    bill_conn *c = NULL;
    PGresult *res = NULL;
    int rc;
    if (out)
        *out = NULL;
    if ((rc = bill__require_staff(actor, "issue invoices")) < 0 ||
        (rc = bill__check_id(id, "id", "invoice", false)) < 0)
        return rc;
    if ((rc = bill__conn_begin_as(db, actor, &c)) < 0)
        goto done;
    if ((rc = lock_invoice(c, id, &res)) < 0)
        goto done;
    if (strcmp(bill__val(res, 0, 0), "draft") != 0) {
        rc = bill__err(BILL_ESTATE, "status", "invoice %s is %s; only drafts can be issued", id,
                       bill__val(res, 0, 0));
        goto done;
    }
    if ((rc = issue_tx(c, actor, id)) < 0 || (rc = bill__tx_commit(c)) < 0)
        goto done;
    if (out)
        rc = inv_fetch(c, actor, id, out);
done:
    PQclear(res);
    bill__conn_done(c);
    return rc;
}

int bill__invoice_paid_tx(bill_conn *c, const bill_actor *actor, const char *id,
                          bill_money amount)
{
    PGresult *res = NULL;
    char b[BILL_MONEY_BUFSZ];
    int rc;
    if ((rc = lock_invoice(c, id, &res)) < 0)
        goto done;
    const char *st = bill__val(res, 0, 0);
    if (strcmp(st, "issued") != 0 && strcmp(st, "overdue") != 0) {
        rc = bill__err(BILL_ESTATE, "status", "invoice %s is %s; only issued or overdue "
                                              "invoices can be paid", id, st);
        goto done;
    }
    if ((rc = bill__qp(c, NULL,
                       "UPDATE invoices SET paid_amount = LEAST(total_amount, paid_amount + "
                       "$2::numeric), status = CASE WHEN paid_amount + $2::numeric >= "
                       "total_amount THEN 'paid' ELSE status END, paid_at = CASE WHEN "
                       "paid_amount + $2::numeric >= total_amount THEN bill_now() ELSE paid_at END, "
                       "updated_at = bill_now() WHERE id = $1",
                       id, bill_money_format(amount, b))) < 0)
        goto done;
    if ((rc = bill__oplog_write(c, actor, "invoice.paid", "invoice", id, NULL, NULL)) < 0)
        goto done;
    /* A paid renewal moves its instance on (next due date, unsuspend),
     * whichever way it was paid: gateway, bank transfer, by hand. */
    {
        char ids[64], ts[BILL_TIME_BUFSZ + 8];
        snprintf(ids, sizeof ids, "{%s}", id);
        if ((rc = bill__ts_text(bill__conn_now(c), ts)) < 0)
            goto done;
        rc = bill__billing_renewals_paid(c, ids, ts, NULL, false);
    }
done:
    PQclear(res);
    return rc;
}

int bill_invoice_mark_paid(bill_db *db, const bill_actor *actor, const char *id,
                           bool from_balance, bill_invoice **out)
{
    bill_conn *c = NULL;
    PGresult *res = NULL;
    bill_money open = 0;
    char desc[80];
    int rc;
    if (out)
        *out = NULL;
    if ((rc = bill__require_staff(actor, "mark invoices paid")) < 0 ||
        (rc = bill__check_id(id, "id", "invoice", false)) < 0)
        return rc;
    if ((rc = bill__conn_begin_as(db, actor, &c)) < 0)
        goto done;
    if ((rc = lock_invoice(c, id, &res)) < 0 || (rc = bill__money_col(res, 0, 2, &open)) < 0)
        goto done;
    const char *st = bill__val(res, 0, 0);
    if (strcmp(st, "issued") != 0 && strcmp(st, "overdue") != 0) {
        rc = bill__err(BILL_ESTATE, "status",
                       "invoice %s is %s; only issued or overdue invoices can be paid", id, st);
        goto done;
    }
    snprintf(desc, sizeof desc, "payment of invoice %s", id);
    if (from_balance && open > 0 &&
        (rc = bill__balance_change_tx(c, actor, bill__val(res, 0, 1), BILL_BALANCE_PAYMENT, open,
                                      id, desc, NULL)) < 0)
        goto done;
    if ((rc = bill__qp(c, NULL,
                       "INSERT INTO payments (customer_id, invoice_id, amount, gateway_id, "
                       "status, paid_at) SELECT customer_id, id, total_amount - paid_amount, "
                       "$2, 'success', bill_now() FROM invoices WHERE id = $1",
                       id, from_balance ? "balance" : "manual")) < 0)
        goto done;
    if ((rc = bill__invoice_paid_tx(c, actor, id, open)) < 0 || (rc = bill__tx_commit(c)) < 0)
        goto done;
    if (out)
        rc = inv_fetch(c, actor, id, out);
done:
    PQclear(res);
    bill__conn_done(c);
    return rc;
}

int bill_invoice_cancel(bill_db *db, const bill_actor *actor, const char *id)
{
    bill_conn *c = NULL;
    PGresult *res = NULL;
    int rc;
    if ((rc = bill__require_staff(actor, "cancel invoices")) < 0 ||
        (rc = bill__check_id(id, "id", "invoice", false)) < 0)
        return rc;
    if ((rc = bill__conn_begin_as(db, actor, &c)) < 0)
        goto done;
    if ((rc = lock_invoice(c, id, &res)) < 0)
        goto done;
    const char *st = bill__val(res, 0, 0);
    if (strcmp(st, "paid") == 0 || strcmp(st, "cancelled") == 0) {
        rc = bill__err(BILL_ESTATE, "status", "invoice %s is %s; cannot move to cancelled", id,
                       st);
        goto done;
    }
    if ((rc = bill__qp(c, NULL,
                       "UPDATE invoices SET status = 'cancelled', updated_at = bill_now() "
                       "WHERE id = $1",
                       id)) < 0 ||
        (rc = bill__oplog_write(c, actor, "invoice.cancel", "invoice", id, NULL, NULL)) < 0)
        goto done;
    rc = bill__tx_commit(c);
done:
    PQclear(res);
    bill__conn_done(c);
    return rc;
}

int bill_invoice_mark_overdue(bill_db *db, int64_t now_usec, int64_t *count)
{
    PGresult *res = NULL;
    bill_date today;
    char day[BILL_DATE_BUFSZ];
    int rc;
    if (count)
        *count = 0;
    if ((rc = bill_date_from_time(&today, now_usec > 0 ? now_usec : bill_db_now(db))) < 0 ||
        (rc = bill_date_format(today, day)) < 0)
        return rc;
    rc = bill__qp_db(db, &res,
                     "UPDATE invoices SET status = 'overdue', updated_at = bill_now() "
                     "WHERE status = 'issued' AND due_date < $1::date",
                     day);
    if (rc == BILL_OK && count)
        *count = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return rc;
}

int bill_invoice_get(bill_db *db, const bill_actor *actor, const char *id, bill_invoice **out)
{
    return bill__get_as(db, actor, id, "invoice", inv_fetch, out);
}

int bill_invoice_list(bill_db *db, const bill_actor *actor, const bill_invoice_filter *f,
                      const bill_page *page, bill_invoices *out)
{
    bill_invoice_filter none = {0};
    const char *cust;
    int rc;

    if ((rc = BILL__LIST_START(out, actor, f,
                               BILL_INVOICE_FILTER_VERSION, "bill_invoice_filter", &cust)) < 0)
        return rc;
    if (!f)
        f = &none;
    if (bill__opt(f->status) && (rc = bill_invoice_status_check(f->status)) < 0)
        return rc;
    const char *kind = f->version >= 2 ? bill__opt(f->kind) : NULL;
    const char *instance_id = f->version >= 2 ? bill__opt(f->instance_id) : NULL;
    if (kind && strcmp(kind, "manual") && strcmp(kind, "order") && strcmp(kind, "renewal") &&
        strcmp(kind, "upgrade") && strcmp(kind, "cycle_change"))
        return bill__err(BILL_EINVALID, "kind",
                         "kind \"%.40s\" is not one of manual, order, renewal, upgrade, "
                         "cycle_change", kind);
    if ((rc = bill__check_opt_id(instance_id, "instance_id")) < 0)
        return rc;
    /* only the filters asked for (bill__where: a generic plan that uses the indexes) */
    const bill__filter filters[] = {
        {"customer_id = $?::uuid", cust},
        {"status = $?", bill__opt(f->status)},
        {"kind = $?", kind},
        {"instance_id = $?::uuid", instance_id},
    };
    bill__list_where w;
    if ((rc = bill__list_where_init(&w, INV_COLS, "FROM invoices WHERE true",
                                    "created_at DESC, id DESC", filters,
                                    (int)BILL__ARRAY_LEN(filters))) < 0)
        return rc;
    return BILL__LIST_PAGE_AS(db, actor, &INV_ROW, &w.q, w.np, w.params, page, NULL, out);
}

int bill_invoice_generate(bill_db *db, const bill_actor *actor, const char *customer_id,
                          const char *period_start, const char *period_end, int64_t *created)
{
    bill_conn *c = NULL;
    PGresult *list = NULL, *ins = NULL;
    bill_date ds, de;
    int rc, conflicts = 0, first = 0;

    if (created)
        *created = 0;
    if ((rc = bill__require_staff(actor, "generate invoices")) < 0 ||
        (rc = bill__check_opt_id(customer_id, "customer_id")) < 0)
        return rc;
    if (!period_start || bill_date_parse(period_start, &ds) < 0)
        return bill__err(BILL_EINVALID, "period_start", "period_start \"%.32s\" is not a date",
                         period_start ? period_start : "");
    if (!period_end || bill_date_parse(period_end, &de) < 0)
        return bill__err(BILL_EINVALID, "period_end", "period_end \"%.32s\" is not a date",
                         period_end ? period_end : "");
    if (bill_date_cmp(de, ds) < 0)
        return bill__err(BILL_EINVALID, "period_end", "period_end %s is before period_start %s",
                         period_end, period_start);
    if ((rc = bill__conn_acquire_as(db, actor, &c)) < 0)
        goto done;
    /* Billable instances and their price for their cycle (cycle price, else
     * the product's default price for monthly). */
    if ((rc = bill__qp(c, &list,
                       "SELECT i.id, i.customer_id, coalesce(p.name, 'instance'), i.billing_cycle, "
                       "coalesce(pp.price, CASE WHEN i.billing_cycle = 'monthly' THEN p.price END,"
                       " 0)::text, (SELECT r.invoice_number FROM invoices r WHERE r.instance_id = "
                       "i.id AND r.kind = 'renewal' AND r.status <> 'cancelled' AND "
                       "r.billing_period_start <= $3::date AND r.billing_period_end > $2::date "
                       "ORDER BY r.billing_period_start LIMIT 1) "
                       "FROM instances i LEFT JOIN products p ON p.id = i.product_id "
                       "LEFT JOIN product_prices pp ON pp.product_id = i.product_id AND "
                       "pp.cycle = i.billing_cycle WHERE i.status IN ('running', 'stopped') "
                       "AND ($1::uuid IS NULL OR i.customer_id = $1::uuid) "
                       "AND NOT EXISTS (SELECT 1 FROM invoices v WHERE v.instance_id = i.id "
                       "AND v.billing_period_start = $2::date AND v.kind <> 'renewal') "
                       "ORDER BY i.created_at, i.id",
                       bill__opt(customer_id), period_start, period_end)) < 0)
        goto done;
    /* One transaction per instance: a failure leaves earlier invoices in
     * place, and a rerun fills in the rest. */
    for (int i = 0; i < PQntuples(list); i++) {
        if (!bill__isnull(list, i, 5)) { /* the pass bills (part of) this period */
            if (conflicts++ == 0)
                first = i;
            continue;
        }
        char *desc = bill__sprintf("%s (%s) %s to %s", bill__val(list, i, 2),
                                   bill__val(list, i, 3), period_start, period_end);
        if (!desc) {
            rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
            goto done;
        }
        PQclear(ins);
        ins = NULL;
        if ((rc = bill__tx_begin(c)) == BILL_OK)
            rc = bill__qp(c, &ins,
                          "INSERT INTO invoices (customer_id, invoice_number, instance_id, "
                          "billing_period_start, billing_period_end, amount, total_amount, "
                          "status) VALUES ($1, 'DRAFT-' || gen_random_uuid(), $2, $3::date, "
                          "$4::date, $5::numeric, $5::numeric, 'draft') ON CONFLICT "
                          "(instance_id, billing_period_start) WHERE " BILL__INVOICE_PERIOD_KEY
                          " DO NOTHING RETURNING id",
                          bill__val(list, i, 1), bill__val(list, i, 0), period_start,
                          period_end, bill__val(list, i, 4));
        if (rc == BILL_OK && PQntuples(ins) == 1) {
            const char *id = bill__val(ins, 0, 0);
            if ((rc = bill__qp(c, NULL,
                               "INSERT INTO invoice_items (invoice_id, customer_id, "
                               "description, quantity, unit_price, amount) VALUES ($1, $4, $2, "
                               "1, $3::numeric, $3::numeric)",
                               id, desc, bill__val(list, i, 4), bill__val(list, i, 1))) ==
                    BILL_OK &&
                (rc = issue_tx(c, actor, id)) == BILL_OK &&
                (rc = bill__tx_commit(c)) == BILL_OK && created)
                (*created)++;
        } else if (rc == BILL_OK) {
            rc = bill__tx_commit(c); /* someone else invoiced it meanwhile */
        }
        free(desc);
        if (rc < 0) {
            bill__tx_rollback(c);
            goto done;
        }
    }
    rc = BILL_OK;
    if (conflicts > 0)
        rc = bill__err(BILL_ECONFLICT, "period_start",
                       "%d instance(s) not invoiced: the billing pass already bills this "
                       "period (instance %s: renewal %s)", conflicts, bill__val(list, first, 0),
                       bill__val(list, first, 5));
done:
    PQclear(list);
    PQclear(ins);
    bill__conn_done(c);
    return rc;
}
