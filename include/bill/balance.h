/*
 * balance.h — a customer's prepaid balance and its ledger.
 *
 * Every change is one balance_transactions row written in the transaction
 * that locks the customer row (SELECT ... FOR UPDATE), so concurrent changes
 * serialize per customer and the ledger always chains:
 *     balance = sum(amount), and each row's balance_before = the previous
 *     row's balance_after (ordered by created_at, id).
 * A change that lowers the balance may take it down to -credit_limit, never
 * below (BILL_EFUNDS). Amounts in the ledger are signed: what was added is
 * positive, what was taken is negative.
 *
 * Sign rules of bill_balance_change's `amount` (always given as a positive
 * number except for adjustments):
 *     recharge, refund   amount > 0, added
 *     deduct, payment    amount > 0, subtracted
 *     adjustment         amount != 0, added with its sign
 * Anything else (0, wrong sign, beyond NUMERIC(12,2)) is BILL_EINVALID and
 * changes nothing.
 *
 * Changing a balance is for staff (SYSTEM, ADMIN, CLI); reading is scoped
 * like customer.h (CUSTOMER actors: own customer only, else BILL_ENOTFOUND).
 */
#ifndef BILL_BALANCE_H
#define BILL_BALANCE_H

#include "common.h"
#include "actor.h"
#include "db.h"
#include "money.h"
#include "page.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    BILL_BALANCE_RECHARGE = 1,
    BILL_BALANCE_DEDUCT = 2,
    BILL_BALANCE_PAYMENT = 3,
    BILL_BALANCE_REFUND = 4,
    BILL_BALANCE_ADJUSTMENT = 5,
} bill_balance_tx_type;

/* "recharge" ... "adjustment"; NULL for an unknown value. */
BILL_API const char *bill_balance_tx_type_name(bill_balance_tx_type t);
/* Exact lowercase names; BILL_EINVALID naming field "transaction_type". */
BILL_API int bill_balance_tx_type_parse(const char *s, bill_balance_tx_type *out);

typedef struct bill_balance_tx {
    char *id;
    char *customer_id;
    bill_balance_tx_type type;
    bill_money amount;          /* signed: + added, - taken */
    bill_money balance_before;
    bill_money balance_after;
    char *reference_id;         /* "" when none (order id, payment id, ...) */
    char *description;
    char *created_by;           /* actor name ("cli", username, "system") */
    int64_t created_at;         /* usec since epoch UTC */
} bill_balance_tx;

typedef struct bill_balance_txs {
    BILL_LIST_OF(bill_balance_tx);
} bill_balance_txs;

/* Free the strings inside *tx (not tx itself) and zero it. NULL-safe. */
BILL_API void bill_balance_tx_clear(bill_balance_tx *tx);
BILL_API void bill_balance_txs_clear(bill_balance_txs *l);

/* Apply one change (sign rules above) in its own transaction; *out (may be
 * NULL) receives the ledger row. reference_id/description may be NULL.
 * BILL_EFUNDS: "balance 10.00 with credit limit 0.00 cannot cover 12.50".
 * BILL_ENOTFOUND: no such customer. BILL_ELIMIT: result beyond NUMERIC(12,2). */
BILL_API int bill_balance_change(bill_db *db, const bill_actor *actor, const char *customer_id,
                                 bill_balance_tx_type type, bill_money amount,
                                 const char *reference_id, const char *description,
                                 bill_balance_tx *out);

/* Current balance and credit limit (either out may be NULL). */
BILL_API int bill_balance_get(bill_db *db, const bill_actor *actor, const char *customer_id,
                              bill_money *balance, bill_money *credit_limit);

/* Ledger rows, newest first; type 0 = all types. page may be NULL. */
BILL_API int bill_balance_tx_list(bill_db *db, const bill_actor *actor, const char *customer_id,
                                  bill_balance_tx_type type, const bill_page *page,
                                  bill_balance_txs *out);

/* Consistency check of one customer's ledger (tests, `bill-cli` checks):
 * BILL_OK when customers.balance = sum(amount) and the rows chain; else
 * BILL_ESTATE with a message naming the first broken row. Not scoped: it
 * reveals nothing but consistency. */
BILL_API int bill_balance_verify(bill_db *db, const char *customer_id);

#ifdef __cplusplus
}
#endif
#endif
