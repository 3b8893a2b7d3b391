/*
 * payment.h — payment records: one row per attempt to pay an order
 * or an invoice, by balance or through a gateway plugin; idempotent
 * confirmation of gateway payments and bank transfers; full and partial
 * refunds to the customer's balance.
 *
 * Scoping as everywhere: a CUSTOMER actor only sees its own payments (any
 * other id is BILL_ENOTFOUND). Confirming and refunding are staff only
 * (gateway callbacks run as SYSTEM).
 *
 * Statuses (the RustBill front end's four): pending success failed refunded.
 * A payment any part of which went back is "refunded"; refunded_amount says
 * how much (less than amount for a partial refund, which can continue).
 */
#ifndef BILL_PAYMENT_H
#define BILL_PAYMENT_H

#include "common.h"
#include "actor.h"
#include "db.h"
#include "money.h"
#include "page.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a payer needs next (wire PaymentInfo). Strings are never NULL ("" when
 * not applicable). A balance payment has only payment_id and gateway_id
 * ("balance") set. */
typedef struct bill_payment_info {
    char *payment_id;
    char *gateway_id;
    char *payment_url;
    char *qr_code;
    char *instructions;
} bill_payment_info;
/* Free the strings inside *p and zero it. NULL-safe. */
BILL_API void bill_payment_info_clear(bill_payment_info *p);

typedef struct bill_payment {
    char *id;
    char *customer_id;
    char *order_id;            /* "" when none */
    char *invoice_id;          /* "" when none */
    bill_money amount;
    bill_money refunded_amount;
    char *currency;
    char *gateway_id;          /* "balance" for balance payments */
    char *gateway_payment_id;  /* "" when none */
    char *gateway_tx_id;       /* "" when none */
    char *status;
    int64_t paid_at;           /* usec; 0 = not paid */
    int64_t created_at;
    int64_t updated_at;
    /* Fields above exist since 0.1. */
    bool credited_to_balance;  /* its money went to the balance on arrival
                                  (the order or invoice could not take it) */
} bill_payment;

typedef struct bill_payments {
    BILL_LIST_OF(bill_payment);
} bill_payments;

BILL_API void bill_payment_free(bill_payment *p);
BILL_API void bill_payments_clear(bill_payments *l);

/* "pending" "success" "failed" "refunded"; BILL_EINVALID naming field "status". */
BILL_API int bill_payment_status_check(const char *status);

BILL_API int bill_payment_get(bill_db *db, const bill_actor *actor, const char *id,
                              bill_payment **out);

/* Every filter may be NULL or "" (no filter); customer_id follows the
 * scoping rule in actor.h. Newest first. */
#define BILL_PAYMENT_FILTER_VERSION 1u
typedef struct bill_payment_filter {
    unsigned int version; /* BILL_PAYMENT_FILTER_VERSION */
    const char *customer_id;
    const char *order_id;
    const char *invoice_id;
    const char *gateway_id;
    const char *status;
    /* fields above exist since version 1 */
} bill_payment_filter;
BILL_API int bill_payment_list(bill_db *db, const bill_actor *actor,
                               const bill_payment_filter *filter, const bill_page *page,
                               bill_payments *out);

/* Confirmation of a gateway payment (callback, SYSTEM) or a bank transfer
 * (manual, staff). The payment is named either by payment_id, or by
 * (gateway_id, gateway_payment_id) when payment_id is NULL/"".
 * In one transaction the payment row is locked FOR UPDATE, then:
 *   - already success (or refunded since): BILL_OK, nothing changes — a
 *     replayed or concurrent callback never credits twice; but a different
 *     non-empty gateway_tx_id than the one that confirmed it is
 *     BILL_ECONFLICT (another transaction: money we cannot place silently);
 *   - amount != the payment's amount: BILL_EINVALID naming "amount";
 *   - gateway_tx_id already confirmed another payment of the same gateway
 *     interface: BILL_ECONFLICT naming "gateway_tx_id" (also enforced by a
 *     unique index, so concurrent notifies cannot both win);
 *   - else (pending, or failed: superseded by a newer attempt, or its order
 *     left pending) the money is taken, never refused. The payment becomes
 *     success (gateway_tx_id, paid_at) and its order moves pending -> paid
 *     (event "order.paid") or its issued/overdue invoice takes what it still
 *     needs. What the order or invoice cannot take — the order was paid
 *     meanwhile or cancelled, the invoice is paid or cancelled, or the
 *     payment exceeds the invoice's open amount — is credited to the
 *     customer's balance (ledger "recharge", reference the payment id, a
 *     description naming the payment and why) and credited_to_balance is
 *     set; such a payment cannot be refunded to the balance again.
 *   The customer is notified (BILL_NOTIFY_PAYMENT_RECEIVED) in the same
 *   transaction.
 * *already (may be NULL) tells whether it had been confirmed before. */
BILL_API int bill_payment_confirm(bill_db *db, const bill_actor *actor, const char *payment_id,
                                  const char *gateway_id, const char *gateway_payment_id,
                                  bill_money amount, const char *gateway_tx_id, bool *already);

/* Mark a pending gateway payment failed (the gateway said so). Staff. */
BILL_API int bill_payment_fail(bill_db *db, const bill_actor *actor, const char *payment_id);

/* Refund `amount` (0 = everything not refunded yet) of a success or
 * partially refunded payment to the customer's balance (ledger type
 * "refund", reference the payment id), in one transaction with the payment
 * row locked. amount > paid - refunded: BILL_EINVALID naming "amount".
 * Status becomes refunded (refunded_amount tells a partial refund from a
 * full one; what is left can be refunded later).
 * A fully refunded order payment moves its order to refunded when that
 * transition is legal. A payment credited to the balance on arrival is
 * BILL_ESTATE (its money is there already). Staff only. *out (may be NULL) receives the row. */
BILL_API int bill_payment_refund(bill_db *db, const bill_actor *actor, const char *payment_id,
                                 bill_money amount, const char *reason, bill_payment **out);

#ifdef __cplusplus
}
#endif
#endif
