/*
 * balance.c — the balance ledger (R-DOM-3). One rule makes it safe under any
 * concurrency: every change locks the customer row (SELECT ... FOR UPDATE),
 * computes the new balance from the locked value in exact cents, refuses to go
 * below -credit_limit, and writes the customer row, the ledger row and the
 * audit row in that same transaction. Contract in include/bill/balance.h.
 */
#include "auth/access_int.h"
#include "domain/domain_int.h"
#include "domain/oplog_int.h"
#include "domain/balance_int.h"

#include <stdlib.h>
#include <string.h>

#define TX_COLS                                                                    \
    "id, customer_id, transaction_type, amount, balance_before, balance_after, "  \
    "reference_id, description, created_by, " BILL__US("created_at")

static const char *const type_names[] = {NULL, "recharge", "deduct", "payment", "refund",
                                         "adjustment"};

const char *bill_balance_tx_type_name(bill_balance_tx_type t)
{
    return (t >= BILL_BALANCE_RECHARGE && t <= BILL_BALANCE_ADJUSTMENT) ? type_names[t] : NULL;
}

int bill_balance_tx_type_parse(const char *s, bill_balance_tx_type *out)
{
    for (int t = BILL_BALANCE_RECHARGE; s && t <= BILL_BALANCE_ADJUSTMENT; t++)
        if (strcmp(s, type_names[t]) == 0) {
            *out = (bill_balance_tx_type)t;
            return BILL_OK;
        }
    return bill__err(BILL_EINVALID, "transaction_type",
                     "transaction_type \"%.40s\" is not one of recharge, deduct, payment, "
                     "refund, adjustment",
                     s ? s : "");
}

static void tx_clear(void *item)
{
    bill_balance_tx *tx = item;
    BILL__FREE(tx->id, tx->customer_id, tx->reference_id, tx->description, tx->created_by);
    memset(tx, 0, sizeof *tx);
}

static int tx_decode(const PGresult *r, int row, const void *ctx, void *item)
{
    bill_balance_tx *tx = item;
    int rc;
    if ((rc = BILL__DUP_COLS(r, row, "reading a balance transaction", &tx->id, 0,
                                     &tx->customer_id, 1, &tx->reference_id, 6, &tx->description, 7,
                                     &tx->created_by, 8)) < 0)
        return rc;
    if ((rc = bill_balance_tx_type_parse(bill__val(r, row, 2), &tx->type)) < 0 ||
        (rc = bill__money_col(r, row, 3, &tx->amount)) < 0 ||
        (rc = bill__money_col(r, row, 4, &tx->balance_before)) < 0 ||
        (rc = bill__money_col(r, row, 5, &tx->balance_after)) < 0)
        return rc;
    tx->created_at = bill__i64(r, row, 9);
    return BILL_OK;
}

static const bill__rowtype TX_ROW = {sizeof(bill_balance_tx), tx_decode, tx_clear,
                                     "balance transaction"};

void bill_balance_tx_clear(bill_balance_tx *tx)
{
    if (tx)
        tx_clear(tx);
}

void bill_balance_txs_clear(bill_balance_txs *l)
{
    BILL__LIST_CLEAR(&TX_ROW, l);
}

/* One row into a caller-owned struct; on failure *tx is cleared. */
static int tx_from_row(const PGresult *r, int row, bill_balance_tx *tx)
{
    int rc;
    memset(tx, 0, sizeof *tx);
    if ((rc = tx_decode(r, row, NULL, tx)) < 0)
        tx_clear(tx);
    return rc;
}

/* The signed change a request stands for, or BILL_EINVALID. */
static int signed_delta(bill_balance_tx_type type, bill_money amount, bill_money *delta)
{
    char buf[BILL_MONEY_BUFSZ];
    const char *name = bill_balance_tx_type_name(type);
    if (!name)
        return bill__err(BILL_EINVALID, "transaction_type", "unknown transaction type %d",
                         (int)type);
    if (!bill_money_in_range(amount))
        return bill__err(BILL_EINVALID, "amount", "amount is beyond 9999999999.99");
    if (amount == 0)
        return bill__err(BILL_EINVALID, "amount", "amount of a %s must not be 0.00", name);
    switch (type) {
    case BILL_BALANCE_RECHARGE:
    case BILL_BALANCE_REFUND:
    case BILL_BALANCE_DEDUCT:
    case BILL_BALANCE_PAYMENT:
        if (amount < 0)
            return bill__err(BILL_EINVALID, "amount",
                             "amount of a %s must be positive (got %s)", name,
                             bill_money_format(amount, buf));
        *delta = (type == BILL_BALANCE_DEDUCT || type == BILL_BALANCE_PAYMENT) ? -amount : amount;
        return BILL_OK;
    case BILL_BALANCE_ADJUSTMENT:
        *delta = amount;
        return BILL_OK;
    }
    return BILL_EINVALID;
}

static const char *actor_label(const bill_actor *a)
{
    if (!a)
        return "system";
    if (a->username && *a->username)
        return a->username;
    switch (a->kind) {
    case BILL_ACTOR_CLI:
        return "cli";
    case BILL_ACTOR_TUI:
        return "tui";
    case BILL_ACTOR_ADMIN:
        return a->user_id ? a->user_id : "admin";
    case BILL_ACTOR_CUSTOMER:
        return a->user_id ? a->user_id : "customer";
    case BILL_ACTOR_ANONYMOUS:
        return "anonymous";
    case BILL_ACTOR_SYSTEM:
        break;
    }
    return "system";
}

int bill__balance_change_tx(bill_conn *c, const bill_actor *actor, const char *customer_id,
                            bill_balance_tx_type type, bill_money amount,
                            const char *reference_id, const char *description,
                            bill_balance_tx *out)
{
    PGresult *cur = NULL, *ins = NULL;
    bill_money delta = 0, before = 0, limit = 0, after = 0;
    char b_before[BILL_MONEY_BUFSZ], b_after[BILL_MONEY_BUFSZ], b_delta[BILL_MONEY_BUFSZ];
    char b_limit[BILL_MONEY_BUFSZ];
    int rc;

    if (out)
        memset(out, 0, sizeof *out);
    if ((rc = signed_delta(type, amount, &delta)) < 0)
        return rc;
    if ((rc = bill__check_id(customer_id, "customer_id", "customer", false)) < 0)
        return rc;
    if ((reference_id && strlen(reference_id) > 200) || (description && strlen(description) > 1000))
        return bill__err(BILL_EINVALID, reference_id && strlen(reference_id) > 200
                                            ? "reference_id" : "description",
                         "reference_id (200) or description (1000 bytes) is too long");
    /* The lock that serializes every change of this customer's balance. */
    if ((rc = bill__qp_found(c, &cur, "customer_id", "customer", customer_id,
                             "SELECT balance, credit_limit FROM customers WHERE id = $1 FOR UPDATE",
                             customer_id)) < 0)
        goto done;
    if ((rc = bill__money_col(cur, 0, 0, &before)) < 0 ||
        (rc = bill__money_col(cur, 0, 1, &limit)) < 0)
        goto done;
    if ((rc = bill_money_add_checked(before, delta, &after)) < 0) {
        rc = bill__err(BILL_ELIMIT, "amount", "balance %s plus %s is beyond 9999999999.99",
                       bill_money_format(before, b_before), bill_money_format(delta, b_delta));
        goto done;
    }
    /* Only a decrease is held to the floor: a recharge that leaves a
     * customer still below it (credit limit lowered later) must go through. */
    if (delta < 0 && after < -limit) {
        rc = bill__err(BILL_EFUNDS, "amount", "balance %s with credit limit %s cannot cover %s",
                       bill_money_format(before, b_before), bill_money_format(limit, b_limit),
                       bill_money_format(-delta, b_delta));
        goto done;
    }
    bill_money_format(after, b_after);
    bill_money_format(delta, b_delta);
    bill_money_format(before, b_before);
    if ((rc = bill__qp(c, NULL,
                       "UPDATE customers SET balance = $2::numeric, updated_at = bill_now() "
                       "WHERE id = $1",
                       customer_id, b_after)) < 0)
        goto done;
    /* created_at strictly increases per customer (even within one
     * microsecond), so (created_at, id) orders the ledger as it was written. */
    rc = bill__qp(c, &ins,
                  "INSERT INTO balance_transactions (customer_id, amount, balance_before, "
                  "balance_after, transaction_type, reference_id, description, created_by, "
                  "created_at) VALUES ($1, $2::numeric, $3::numeric, $4::numeric, $5, $6, $7, $8, "
                  "GREATEST(bill_clock_timestamp(), (SELECT max(created_at) + interval '1 microsecond' "
                  "FROM balance_transactions WHERE customer_id = $1))) "
                  "RETURNING " TX_COLS ", "
                  "jsonb_build_object('balance', balance_before)::text, "
                  "jsonb_build_object('balance', balance_after, 'transaction_id', id, "
                  "'transaction_type', transaction_type, 'amount', amount, "
                  "'reference_id', reference_id, 'description', description)::text",
                  customer_id, b_delta, b_before, b_after, bill_balance_tx_type_name(type),
                  reference_id ? reference_id : "", description ? description : "",
                  actor_label(actor));
    if (rc < 0)
        goto done;
    char action[40];
    snprintf(action, sizeof action, "balance.%s", bill_balance_tx_type_name(type));
    if ((rc = bill__oplog_write(c, actor, action, "customer", customer_id,
                                bill__val(ins, 0, 10), bill__val(ins, 0, 11))) < 0)
        goto done;
    if (out)
        rc = tx_from_row(ins, 0, out);
done:
    PQclear(cur);
    PQclear(ins);
    return rc;
}

int bill_balance_change(bill_db *db, const bill_actor *actor, const char *customer_id,
                        bill_balance_tx_type type, bill_money amount, const char *reference_id,
                        const char *description, bill_balance_tx *out)
{
    bill_conn *c = NULL;
    bill_balance_tx row = {0};
    int rc;
    if (out)
        memset(out, 0, sizeof *out);
    if ((rc = bill__require_staff(actor, "change balances")) < 0)
        return rc;
    if ((rc = bill__conn_begin_as(db, actor, &c)) < 0)
        goto done;
    if ((rc = bill__balance_change_tx(c, actor, customer_id, type, amount, reference_id,
                                      description, out ? &row : NULL)) < 0)
        goto done;
    if ((rc = bill__tx_commit(c)) < 0)
        goto done;
    if (out) {
        *out = row;
        memset(&row, 0, sizeof row);
    }
done:
    bill_balance_tx_clear(&row);
    bill__conn_done(c); /* rolls back when still in the transaction */
    return rc;
}

int bill_balance_get(bill_db *db, const bill_actor *actor, const char *customer_id,
                     bill_money *balance, bill_money *credit_limit)
{
    bill_conn *c = NULL;
    PGresult *res = NULL;
    bill_money b = 0, l = 0;
    int rc;
    if ((rc = bill__scope_customer(actor, customer_id)) < 0)
        return rc;
    if ((rc = bill__conn_acquire_as(db, actor, &c)) < 0)
        goto done;
    if ((rc = bill__qp_found(c, &res, "customer_id", "customer", customer_id,
                             "SELECT balance, credit_limit FROM customers WHERE id = $1",
                             customer_id)) < 0)
        goto done;
    if ((rc = bill__money_col(res, 0, 0, &b)) < 0 || (rc = bill__money_col(res, 0, 1, &l)) < 0)
        goto done;
    if (balance)
        *balance = b;
    if (credit_limit)
        *credit_limit = l;
done:
    PQclear(res);
    bill__conn_done(c);
    return rc;
}

int bill_balance_tx_list(bill_db *db, const bill_actor *actor, const char *customer_id,
                         bill_balance_tx_type type, const bill_page *page, bill_balance_txs *out)
{
    int rc;

    if (!out)
        return bill__err(BILL_EINVALID, NULL, "out is required");
    memset(out, 0, sizeof *out);
    if ((rc = bill__scope_customer(actor, customer_id)) < 0)
        return rc;
    if (type != 0 && !bill_balance_tx_type_name(type))
        return bill__err(BILL_EINVALID, "transaction_type", "unknown transaction type %d",
                         (int)type);
    /* only the filters asked for (bill__where: a generic plan that uses the indexes) */
    const bill__filter filters[] = {
        {"customer_id = $?::uuid", customer_id},
        {"transaction_type = $?", type ? bill_balance_tx_type_name(type) : NULL},
    };
    bill__list_where w;
    if ((rc = bill__list_where_init(&w, TX_COLS, "FROM balance_transactions WHERE true",
                                    "created_at DESC, id DESC", filters,
                                    (int)BILL__ARRAY_LEN(filters))) < 0)
        return rc;
    return BILL__LIST_PAGE_AS(db, actor, &TX_ROW, &w.q, w.np, w.params, page, NULL, out);
}

int bill_balance_verify(bill_db *db, const char *customer_id)
{
    bill_conn *c = NULL;
    PGresult *cus = NULL, *rows = NULL;
    bill_money balance = 0, expect = 0, amount = 0, before = 0, after = 0, sum = 0;
    char b1[BILL_MONEY_BUFSZ], b2[BILL_MONEY_BUFSZ];
    int rc;

    if ((rc = bill__check_id(customer_id, "customer_id", "customer", false)) < 0)
        return rc;
    if ((rc = bill__conn_acquire(db, &c)) < 0)
        goto done;
    /* One snapshot for both reads, so a concurrent change cannot fake a break. */
    if ((rc = bill__exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")) < 0)
        goto done;
    if ((rc = bill__qp_found(c, &cus, "customer_id", "customer", customer_id,
                             "SELECT balance FROM customers WHERE id = $1", customer_id)) < 0)
        goto done;
    if ((rc = bill__money_col(cus, 0, 0, &balance)) < 0)
        goto done;
    if ((rc = bill__qp(c, &rows,
                       "SELECT id, amount, balance_before, balance_after FROM balance_transactions "
                       "WHERE customer_id = $1 ORDER BY created_at, id",
                       customer_id)) < 0)
        goto done;
    for (int i = 0; i < PQntuples(rows); i++) {
        if ((rc = bill__money_col(rows, i, 1, &amount)) < 0 ||
            (rc = bill__money_col(rows, i, 2, &before)) < 0 ||
            (rc = bill__money_col(rows, i, 3, &after)) < 0)
            goto done;
        if (before != expect) {
            rc = bill__err(BILL_ESTATE, "balance_before",
                           "ledger of customer %s breaks at transaction %s: balance_before %s, "
                           "previous balance_after %s",
                           customer_id, bill__val(rows, i, 0), bill_money_format(before, b1),
                           bill_money_format(expect, b2));
            goto done;
        }
        if (after != before + amount) {
            rc = bill__err(BILL_ESTATE, "balance_after",
                           "transaction %s: balance_after %s is not balance_before + amount",
                           bill__val(rows, i, 0), bill_money_format(after, b1));
            goto done;
        }
        sum += amount;
        expect = after;
    }
    if (sum != balance || expect != balance) {
        rc = bill__err(BILL_ESTATE, "balance",
                       "customer %s has balance %s but its transactions sum to %s", customer_id,
                       bill_money_format(balance, b1), bill_money_format(sum, b2));
        goto done;
    }
    rc = BILL_OK;
done:
    PQclear(cus);
    PQclear(rows);
    if (c)
        bill__tx_rollback(c);
    bill__conn_done(c);
    return rc;
}
