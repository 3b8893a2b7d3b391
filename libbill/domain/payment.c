/*
 * payment.c — payment records: scoped reads, idempotent confirmation (the
 * payment row locked FOR UPDATE decides whether this call is the one that
 * credits) and refunds to the balance. Contract in include/bill/payment.h.
 */
#include "auth/access_int.h"
#include "domain/domain_int.h"
#include "domain/oplog_int.h"
#include "domain/balance_int.h"
#include "domain/order_int.h"
#include "domain/notify_int.h"
#include "bill/provision.h"
#include "bill/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "libbill::payment"

#define PAY_COLS                                                                          \
    "id, customer_id, coalesce(order_id::text, ''), coalesce(invoice_id::text, ''), "    \
    "amount, refunded_amount, currency, gateway_id, coalesce(gateway_payment_id, ''), "  \
    "coalesce(gateway_tx_id, ''), status, " BILL__US("paid_at") ", " BILL__US("created_at") \
    ", " BILL__US("updated_at") ", credited_to_balance"

/* The RustBill front end's vocabulary (docs/api-compat.md): a partly
 * refunded payment is "refunded" with refunded_amount < amount. */
static const char *const statuses[] = {"pending", "success", "failed", "refunded"};

int bill_payment_status_check(const char *s)
{
    for (size_t i = 0; s && i < BILL__ARRAY_LEN(statuses); i++)
        if (strcmp(s, statuses[i]) == 0)
            return BILL_OK;
    return bill__err(BILL_EINVALID, "status",
                     "status \"%.40s\" is not one of pending, success, failed, refunded",
                     s ? s : "");
}

static void pay_clear(void *item)
{
    bill_payment *p = item;
    BILL__FREE(p->id, p->customer_id, p->order_id, p->invoice_id, p->currency, p->gateway_id,
               p->gateway_payment_id, p->gateway_tx_id, p->status);
    memset(p, 0, sizeof *p);
}

static int pay_from_row(const PGresult *r, int row, const void *ctx, void *item)
{
    bill_payment *p = item;
    int rc;
    if ((rc = BILL__DUP_COLS(r, row, "reading a payment", &p->id, 0, &p->customer_id, 1,
                                     &p->order_id, 2, &p->invoice_id, 3, &p->currency, 6,
                                     &p->gateway_id, 7, &p->gateway_payment_id, 8,
                                     &p->gateway_tx_id, 9, &p->status, 10)) < 0)
        return rc;
    if ((rc = bill__money_col(r, row, 4, &p->amount)) < 0 ||
        (rc = bill__money_col(r, row, 5, &p->refunded_amount)) < 0)
        return rc;
    p->paid_at = bill__i64(r, row, 11);
    p->created_at = bill__i64(r, row, 12);
    p->updated_at = bill__i64(r, row, 13);
    p->credited_to_balance = bill__bool(r, row, 14);
    return BILL_OK;
}

static const bill__rowtype PAY_ROW = {sizeof(bill_payment), pay_from_row, pay_clear, "payment"};

BILL__ROW_FUNCS(&PAY_ROW, bill_payment, bill_payment_free, bill_payments, bill_payments_clear)

static int pay_fetch(bill_conn *c, const bill_actor *actor, const char *id, void *out)
{
    return bill__fetch_owned(c, actor, &PAY_ROW, "payment",
                             "SELECT " PAY_COLS " FROM payments WHERE id = $1",
                             1, id, out);
}

int bill_payment_get(bill_db *db, const bill_actor *actor, const char *id, bill_payment **out)
{
    return bill__get_as(db, actor, id, "payment", pay_fetch, out);
}

int bill_payment_list(bill_db *db, const bill_actor *actor, const bill_payment_filter *f,
                      const bill_page *page, bill_payments *out)
{
    bill_payment_filter none = {0};
    const char *cust;
    int rc;

    if ((rc = BILL__LIST_START(out, actor, f,
                               BILL_PAYMENT_FILTER_VERSION, "bill_payment_filter", &cust)) < 0)
        return rc;
    if (!f)
        f = &none;
    if ((rc = bill__check_opt_id(f->order_id, "order_id")) < 0 ||
        (rc = bill__check_opt_id(f->invoice_id, "invoice_id")) < 0)
        return rc;
    if (bill__opt(f->status) && (rc = bill_payment_status_check(f->status)) < 0)
        return rc;
    /* only the filters asked for (bill__where: a generic plan that uses the indexes) */
    const bill__filter filters[] = {
        {"customer_id = $?::uuid", cust},
        {"order_id = $?::uuid", bill__opt(f->order_id)},
        {"invoice_id = $?::uuid", bill__opt(f->invoice_id)},
        {"gateway_id = $?", bill__opt(f->gateway_id)},
        {"status = $?", bill__opt(f->status)},
    };
    bill__list_where w;
    if ((rc = bill__list_where_init(&w, PAY_COLS, "FROM payments WHERE true",
                                    "created_at DESC, id DESC", filters,
                                    (int)BILL__ARRAY_LEN(filters))) < 0)
        return rc;
    return BILL__LIST_PAGE_AS(db, actor, &PAY_ROW, &w.q, w.np, w.params, page, NULL, out);
}

/* Columns used by confirm/refund/fail under the row lock. */
#define LOCK_COLS                                                                          \
    "id, status, amount, refunded_amount, coalesce(order_id::text, ''), "                 \
    "coalesce(invoice_id::text, ''), customer_id, gateway_id, coalesce(gateway_tx_id, ''), " \
    "credited_to_balance"

static int lock_payment(bill_conn *c, const char *payment_id, const char *gateway_id,
                        const char *gateway_payment_id, PGresult **res)
{
    int rc;
    if (payment_id && *payment_id) {
        if ((rc = bill__check_id(payment_id, "payment_id", "payment", false)) < 0)
            return rc;
        rc = bill__qp(c, res, "SELECT " LOCK_COLS " FROM payments WHERE id = $1 FOR UPDATE",
                      payment_id);
    } else {
        if (!gateway_id || !*gateway_id || !gateway_payment_id || !*gateway_payment_id)
            return bill__err(BILL_EINVALID, "payment_id",
                             "payment_id, or gateway_id with gateway_payment_id, is required");
        rc = bill__qp(c, res,
                      "SELECT " LOCK_COLS " FROM payments WHERE gateway_id = $1 AND "
                      "gateway_payment_id = $2 ORDER BY created_at DESC LIMIT 1 FOR UPDATE",
                      gateway_id, gateway_payment_id);
    }
    if (rc < 0)
        return rc;
    if (PQntuples(*res) == 0)
        return bill__err(BILL_ENOTFOUND, "payment_id", "payment %.64s not found",
                         payment_id && *payment_id ? payment_id : gateway_payment_id);
    return BILL_OK;
}

/* Where the money of a confirmed payment goes. The order or invoice row is
 * locked here (payment -> order/invoice -> customer, the one lock order).
 * *apply is what the order/invoice takes (0: nothing), *why is set when
 * the rest (amount - *apply) cannot be taken and must go to the balance. */
static int settle_target(bill_conn *c, const char *payment_id, const char *order_id,
                         const char *invoice_id, bill_money amount, bill_money *apply,
                         char **why)
{
    PGresult *t = NULL;
    bill_money open = 0;
    char b1[BILL_MONEY_BUFSZ], b2[BILL_MONEY_BUFSZ];
    int rc = BILL_OK;

    *apply = 0;
    *why = NULL;
    if (*order_id) {
        if ((rc = bill__qp(c, &t, "SELECT status FROM orders WHERE id = $1 FOR UPDATE",
                           order_id)) < 0)
            goto done;
        if (PQntuples(t) == 1 && strcmp(bill__val(t, 0, 0), "pending") == 0)
            *apply = amount;
        else if (PQntuples(t) == 0)
            *why = bill__sprintf("payment %s arrived for order %s, which no longer exists",
                                 payment_id, order_id);
        else if (strcmp(bill__val(t, 0, 0), "cancelled") == 0)
            *why = bill__sprintf("payment %s arrived for order %s, which is cancelled",
                                 payment_id, order_id);
        else
            *why = bill__sprintf("payment %s arrived for order %s, which is already paid "
                                 "(status %s)", payment_id, order_id, bill__val(t, 0, 0));
    } else if (*invoice_id) {
        if ((rc = bill__qp(c, &t,
                           "SELECT status, total_amount - paid_amount FROM invoices "
                           "WHERE id = $1 FOR UPDATE",
                           invoice_id)) < 0)
            goto done;
        const char *st = PQntuples(t) == 1 ? bill__val(t, 0, 0) : "";
        if (strcmp(st, "issued") == 0 || strcmp(st, "overdue") == 0) {
            if ((rc = bill__money_col(t, 0, 1, &open)) < 0)
                goto done;
            *apply = amount < open ? amount : open;
            if (*apply < amount)
                *why = bill__sprintf("payment %s paid %s of invoice %s, which needed only that; "
                                     "the rest (%s) is credited",
                                     payment_id, bill_money_format(*apply, b1), invoice_id,
                                     bill_money_format(amount - *apply, b2));
        } else if (!*st) {
            *why = bill__sprintf("payment %s arrived for invoice %s, which no longer exists",
                                 payment_id, invoice_id);
        } else {
            *why = bill__sprintf("payment %s arrived for invoice %s, which is %s", payment_id,
                                 invoice_id, st);
        }
    } else {
        *why = bill__sprintf("payment %s has no order or invoice", payment_id);
    }
    if ((*apply < amount) && !*why)
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
done:
    PQclear(t);
    return rc;
}

int bill_payment_confirm(bill_db *db, const bill_actor *actor, const char *payment_id,
                         const char *gateway_id, const char *gateway_payment_id,
                         bill_money amount, const char *gateway_tx_id, bool *already)
{
    bill_conn *c = NULL;
    PGresult *p = NULL, *dup = NULL;
    bill_money expect = 0, apply = 0;
    char b1[BILL_MONEY_BUFSZ], b2[BILL_MONEY_BUFSZ];
    char *why = NULL, *desc = NULL, *subject = NULL, *body = NULL, *data = NULL;
    const char *tx = gateway_tx_id && *gateway_tx_id ? gateway_tx_id : NULL;
    int rc;

    if (already)
        *already = false;
    if ((rc = bill__require_staff(actor, "confirm payments")) < 0)
        return rc;
    if (tx && strlen(tx) > 200)
        return bill__err(BILL_EINVALID, "gateway_tx_id", "gateway_tx_id is longer than 200 bytes");
    if ((rc = bill__conn_begin_as(db, actor, &c)) < 0)
        goto done;
    if ((rc = lock_payment(c, payment_id, gateway_id, gateway_payment_id, &p)) < 0)
        goto done;
    const char *id = bill__val(p, 0, 0), *st = bill__val(p, 0, 1);
    const char *order_id = bill__val(p, 0, 4), *invoice_id = bill__val(p, 0, 5);
    const char *customer_id = bill__val(p, 0, 6), *gw = bill__val(p, 0, 7);
    const char *have_tx = bill__val(p, 0, 8);
    if (strcmp(st, "pending") != 0 && strcmp(st, "failed") != 0) {
        /* Confirmed before (success, or refunded since): a replay credits
         * nothing. Another gateway transaction for the same payment is not
         * a replay: it is money we cannot place, so it is refused loudly. */
        if (tx && *have_tx && strcmp(tx, have_tx) != 0) {
            rc = bill__err(BILL_ECONFLICT, "gateway_tx_id",
                           "payment %s was confirmed by gateway transaction %.200s; "
                           "transaction %.200s is another one", id, have_tx, tx);
            goto done;
        }
        if (already)
            *already = true;
        rc = BILL_OK;
        goto done;
    }
    if ((rc = bill__money_col(p, 0, 2, &expect)) < 0)
        goto done;
    if (amount != expect) {
        rc = bill__err(BILL_EINVALID, "amount", "payment %s is for %s, confirmation says %s", id,
                       bill_money_format(expect, b1), bill_money_format(amount, b2));
        goto done;
    }
    /* A gateway transaction confirms one payment of its gateway, ever (the
     * unique index payments_gateway_tx_uq is the final word under races). */
    if (tx) {
        if ((rc = bill__qp(c, &dup,
                           "SELECT id FROM payments WHERE gateway_id = $1 AND gateway_tx_id = $2 "
                           "AND id <> $3 LIMIT 1",
                           gw, tx, id)) < 0)
            goto done;
        if (PQntuples(dup) > 0) {
            rc = bill__err(BILL_ECONFLICT, "gateway_tx_id",
                           "gateway transaction %.200s already confirmed payment %s; it cannot "
                           "confirm payment %s too", tx, bill__val(dup, 0, 0), id);
            goto done;
        }
    }
    /* Money received is never refused from here on: what the order or
     * invoice cannot take goes to the customer's balance. */
    if ((rc = settle_target(c, id, order_id, invoice_id, amount, &apply, &why)) < 0)
        goto done;
    if ((rc = bill__qp(c, NULL,
                       "UPDATE payments SET status = 'success', gateway_tx_id = $2, "
                       "credited_to_balance = $3::boolean, paid_at = bill_now(), updated_at = bill_now() "
                       "WHERE id = $1",
                       id, tx, apply < amount ? "true" : "false")) < 0)
        goto done;
    if (apply > 0 && *order_id &&
        (rc = bill__order_move_tx(c, actor, order_id, "paid", id)) < 0)
        goto done;
    if (apply > 0 && *invoice_id &&
        (rc = bill__invoice_paid_tx(c, actor, invoice_id, apply)) < 0)
        goto done;
    if (apply < amount) {
        if (!(desc = bill__sprintf("%s; %s credited to the balance", why,
                                   bill_money_format(amount - apply, b1)))) {
            rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
            goto done;
        }
        if ((rc = bill__balance_change_tx(c, actor, customer_id, BILL_BALANCE_RECHARGE,
                                          amount - apply, id, desc, NULL)) < 0)
            goto done;
    }
    if ((rc = bill__oplog_write(c, actor, "payment.confirm", "payment", id, NULL, NULL)) < 0)
        goto done;
    bill_money_format(amount, b1);
    subject = bill__sprintf("Payment of %s received", b1);
    body = apply < amount ? bill__sprintf("Payment of %s received. %s.", b1, desc)
                          : bill__sprintf("Payment of %s received.", b1);
    data = bill__sprintf("{\"payment_id\": \"%s\", \"amount\": \"%s\", \"order_id\": \"%s\", "
                         "\"invoice_id\": \"%s\", \"credited_to_balance\": \"%s\"}",
                         id, b1, order_id, invoice_id,
                         bill_money_format(amount - apply, b2));
    if (!subject || !body || !data) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
        goto done;
    }
    if ((rc = bill__notify_tx(c, BILL_NOTIFY_PAYMENT_RECEIVED, customer_id, subject, body,
                              data)) < 0)
        goto done;
    if ((rc = bill__tx_commit(c)) < 0)
        goto done;
    if (desc)
        bill_log(BILL_LOG_LEVEL_WARN, LOG_MODULE, "%s", desc);
done:
    free(why);
    free(desc);
    free(subject);
    free(body);
    free(data);
    PQclear(dup);
    PQclear(p);
    bill__conn_done(c);
    return rc;
}

int bill_payment_fail(bill_db *db, const bill_actor *actor, const char *payment_id)
{
    bill_conn *c = NULL;
    PGresult *p = NULL;
    int rc;
    if ((rc = bill__require_staff(actor, "fail payments")) < 0)
        return rc;
    if ((rc = bill__conn_begin_as(db, actor, &c)) < 0)
        goto done;
    if ((rc = lock_payment(c, payment_id, NULL, NULL, &p)) < 0)
        goto done;
    if (strcmp(bill__val(p, 0, 1), "pending") != 0) {
        rc = bill__err(BILL_ESTATE, "status", "payment %s is %s; only pending payments can fail",
                       payment_id, bill__val(p, 0, 1));
        goto done;
    }
    if ((rc = bill__qp(c, NULL,
                       "UPDATE payments SET status = 'failed', updated_at = bill_now() WHERE id = $1",
                       payment_id)) < 0)
        goto done;
    rc = bill__tx_commit(c);
done:
    PQclear(p);
    bill__conn_done(c);
    return rc;
}

int bill_payment_refund(bill_db *db, const bill_actor *actor, const char *payment_id,
                        bill_money amount, const char *reason, bill_payment **out)
{
    bill_conn *c = NULL;
    PGresult *p = NULL, *o = NULL;
    bill_money paid = 0, refunded = 0, open = 0;
    char b_amt[BILL_MONEY_BUFSZ], b_open[BILL_MONEY_BUFSZ], b_new[BILL_MONEY_BUFSZ];
    char *desc = NULL;
    int rc;

    if (out)
        *out = NULL;
    if ((rc = bill__require_staff(actor, "refund payments")) < 0)
        return rc;
    if (amount < 0 || !bill_money_in_range(amount))
        return bill__err(BILL_EINVALID, "amount", "refund amount %s must be positive",
                         bill_money_format(amount, b_amt));
    if (reason && strlen(reason) > 500)
        return bill__err(BILL_EINVALID, "reason", "reason is longer than 500 bytes");
    if ((rc = bill__conn_begin_as(db, actor, &c)) < 0)
        goto done;
    if ((rc = lock_payment(c, payment_id, NULL, NULL, &p)) < 0)
        goto done;
    const char *st = bill__val(p, 0, 1), *order_id = bill__val(p, 0, 4);
    if (strcmp(st, "success") != 0 && strcmp(st, "refunded") != 0) {
        rc = bill__err(BILL_ESTATE, "status", "payment %s is %s; it cannot be refunded",
                       payment_id, st);
        goto done;
    }
    if (bill__bool(p, 0, 9)) {
        /* Its money went to the balance when it arrived; refunding it to
         * the balance again would pay the customer twice. */
        rc = bill__err(BILL_ESTATE, "status",
                       "payment %s was credited to the customer's balance when it arrived "
                       "(its order or invoice could not take it); there is nothing to refund "
                       "to the balance", payment_id);
        goto done;
    }
    if ((rc = bill__money_col(p, 0, 2, &paid)) < 0 ||
        (rc = bill__money_col(p, 0, 3, &refunded)) < 0)
        goto done;
    open = paid - refunded;
    if (open == 0) {
        rc = bill__err(BILL_ESTATE, "status", "payment %s is fully refunded", payment_id);
        goto done;
    }
    if (amount == 0)
        amount = open;
    if (amount == 0 || amount > open) {
        rc = bill__err(BILL_EINVALID, "amount",
                       "refund of %s exceeds what is left of payment %s (%s)",
                       bill_money_format(amount, b_amt), payment_id,
                       bill_money_format(open, b_open));
        goto done;
    }
    /* Lock the order before the customer (as paying does) to keep one
     * lock order: payment -> order -> customer. */
    if (*order_id && (rc = bill__qp(c, &o, "SELECT status FROM orders WHERE id = $1 FOR UPDATE",
                                    order_id)) < 0)
        goto done;
    if (!(desc = bill__sprintf("refund of payment %s%s%.500s", payment_id, reason ? ": " : "",
                               reason ? reason : ""))) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
        goto done;
    }
    if ((rc = bill__balance_change_tx(c, actor, bill__val(p, 0, 6), BILL_BALANCE_REFUND, amount,
                                      payment_id, desc, NULL)) < 0)
        goto done;
    bill_money_format(refunded + amount, b_new);
    if ((rc = bill__qp(c, NULL,
                       "UPDATE payments SET refunded_amount = $2::numeric, status = 'refunded', "
                       "updated_at = bill_now() WHERE id = $1",
                       payment_id, b_new)) < 0)
        goto done;
    /* A fully refunded order payment refunds the order where that is legal
     * (paid/active/suspended); otherwise the order keeps its status. */
    if (o && PQntuples(o) == 1 && refunded + amount == paid &&
        bill_order_transition_allowed(bill__val(o, 0, 0), "refunded") &&
        (rc = bill__order_move_tx(c, actor, order_id, "refunded", NULL)) < 0)
        goto done;
    if ((rc = bill__oplog_write(c, actor, "payment.refund", "payment", payment_id, NULL,
                                NULL)) < 0)
        goto done;
    if ((rc = bill__tx_commit(c)) < 0)
        goto done;
    if (out)
        rc = pay_fetch(c, actor, payment_id, out);
done:
    free(desc);
    PQclear(p);
    PQclear(o);
    bill__conn_done(c);
    return rc;
}
