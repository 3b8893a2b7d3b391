/*
 * credit.c — reading credit notes (billing.h): the documents a negative net
 * of a plan change, cycle change or immediate cancellation produced.
 */
#include "billing/billing_int.h"
#include "domain/order_int.h"
#include "auth/access_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CN_COLS                                                                              \
    "id, customer_id, coalesce(instance_id::text, ''), credit_number, kind, amount::text, "  \
    "currency, reason, coalesce(balance_tx_id::text, ''), " BILL__US("issued_at")

static void copy_str(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

void bill_credit_note_clear(bill_credit_note *n)
{
    if (!n)
        return;
    free(n->lines);
    memset(n, 0, sizeof *n);
}

void bill_credit_notes_clear(bill_credit_notes *l)
{
    if (!l)
        return;
    for (size_t i = 0; l->items && i < l->count; i++)
        bill_credit_note_clear(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

static int from_row(const PGresult *r, int i, bill_credit_note *n)
{
    memset(n, 0, sizeof *n);
    copy_str(n->id, sizeof n->id, bill__val(r, i, 0));
    copy_str(n->customer_id, sizeof n->customer_id, bill__val(r, i, 1));
    copy_str(n->instance_id, sizeof n->instance_id, bill__val(r, i, 2));
    copy_str(n->credit_number, sizeof n->credit_number, bill__val(r, i, 3));
    copy_str(n->kind, sizeof n->kind, bill__val(r, i, 4));
    copy_str(n->currency, sizeof n->currency, bill__val(r, i, 6));
    copy_str(n->reason, sizeof n->reason, bill__val(r, i, 7));
    copy_str(n->balance_tx_id, sizeof n->balance_tx_id, bill__val(r, i, 8));
    n->issued_at = bill__i64(r, i, 9);
    return bill__money_col(r, i, 5, &n->amount);
}

int bill_credit_note_list(bill_db *db, const bill_actor *actor, const char *customer_id,
                          const bill_page *page, bill_credit_notes *out)
{
    bill_conn *c = NULL;
    PGresult *res = NULL;
    bill_page pg = page ? *page : (bill_page){0, 0};
    uint64_t total = 0;
    const char *cust;
    int rc, n = 0;
    if (!out)
        return bill__err(BILL_EINVALID, NULL, "out is required");
    memset(out, 0, sizeof *out);
    if ((rc = bill_actor_customer_scope(actor, customer_id, false, &cust)) < 0)
        return rc;
    const char *params[] = {cust};
    if ((rc = bill__conn_acquire_as(db, actor, &c)) < 0)
        return rc;
    if ((rc = bill__page_query(c, &res, CN_COLS,
                               "FROM credit_notes WHERE ($1::uuid IS NULL OR customer_id = "
                               "$1::uuid)",
                               "issued_at DESC, credit_number DESC", 1, params, &pg, &total)) < 0)
        goto done;
    n = PQntuples(res);
    if (n > 0 && !(out->items = calloc((size_t)n, sizeof *out->items))) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory listing credit notes");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        if ((rc = from_row(res, i, &out->items[i])) < 0)
            goto done;
        out->count++;
    }
    bill_page_meta_fill(&out->meta, &pg, total);
done:
    if (rc < 0)
        bill_credit_notes_clear(out);
    PQclear(res);
    bill__conn_done(c);
    return rc;
}

int bill_credit_note_get(bill_db *db, const bill_actor *actor, const char *id_or_number,
                         bill_credit_note *out)
{
    bill_conn *c = NULL;
    PGresult *res = NULL, *l = NULL;
    int rc;
    if (!out)
        return bill__err(BILL_EINVALID, NULL, "out is required");
    memset(out, 0, sizeof *out);
    if ((rc = bill__require_known(actor)) < 0)
        return rc;
    if (!id_or_number || !*id_or_number)
        return bill__err(BILL_EINVALID, "id", "a credit note id or number is required");
    bool by_id = bill_uuid_valid(id_or_number);
    if ((rc = bill__conn_acquire_as(db, actor, &c)) < 0)
        return rc;
    if ((rc = bill__qp(c, &res,
                       by_id ? "SELECT " CN_COLS " FROM credit_notes WHERE id = $1::uuid"
                             : "SELECT " CN_COLS " FROM credit_notes WHERE credit_number = $1",
                       id_or_number)) < 0)
        goto done;
    if (PQntuples(res) == 0) {
        rc = bill__err(BILL_ENOTFOUND, "id", "credit note %.64s not found", id_or_number);
        goto done;
    }
    if ((rc = bill__owns(actor, bill__val(res, 0, 1), "credit note", id_or_number)) < 0 ||
        (rc = from_row(res, 0, out)) < 0)
        goto done;
    if ((rc = bill__qp(c, &l,
                       "SELECT kind, description, coalesce(period_start::text, ''), "
                       "coalesce(period_end::text, ''), coalesce(proration_days, 0), "
                       "coalesce(period_days, 0), coalesce(basis, 0)::text, amount::text, why "
                       "FROM credit_note_lines WHERE credit_note_id = $1 ORDER BY line_no",
                       out->id)) < 0)
        goto done;
    if (PQntuples(l) > 0 && !(out->lines = calloc((size_t)PQntuples(l), sizeof *out->lines))) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
        goto done;
    }
    for (int i = 0; i < PQntuples(l); i++) {
        bill_billing_line *x = &out->lines[out->line_count++];
        copy_str(x->kind, sizeof x->kind, bill__val(l, i, 0));
        copy_str(x->description, sizeof x->description, bill__val(l, i, 1));
        copy_str(x->period_start, sizeof x->period_start, bill__val(l, i, 2));
        copy_str(x->period_end, sizeof x->period_end, bill__val(l, i, 3));
        x->proration_days = (int)bill__i64(l, i, 4);
        x->period_days = (int)bill__i64(l, i, 5);
        copy_str(x->why, sizeof x->why, bill__val(l, i, 8));
        if ((rc = bill__money_col(l, i, 6, &x->basis)) < 0 ||
            (rc = bill__money_col(l, i, 7, &x->amount)) < 0)
            goto done;
    }
done:
    if (rc < 0)
        bill_credit_note_clear(out);
    PQclear(res);
    PQclear(l);
    bill__conn_done(c);
    return rc;
}
