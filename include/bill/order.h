/*
 * order.h — orders: a customer buys one product for one billing
 * cycle, pays (balance or a gateway plugin), and the order moves through
 *
 *     pending -> paid | cancelled
 *     paid -> provisioning | refunded | cancelled
 *     provisioning -> active | cancelled
 *     active -> suspended | completed | refunded | terminated
 *     suspended -> active | completed | refunded | terminated
 *
 * Nothing else is legal (BILL_ESTATE "order X is <status>; cannot move to
 * <target>"). cancelled, refunded, completed and terminated are final; an
 * order becomes terminated when its instance is terminated. Unpaid orders are
 * cancelled after 24 h (bill_order_cancel_expired, run by the billing job).
 *
 * Rules that live here and nowhere else:
 *   - the amount is the product's price for the chosen cycle (never taken
 *     from the client); the cycles offered are the product's cycle prices
 *     (a product without any offers monthly at its default price);
 *   - a CUSTOMER actor always orders for its own customer (a different
 *     customer_id is BILL_ENOTFOUND); staff must name one;
 *   - the product must exist (BILL_ENOTFOUND) and be active (BILL_ESTATE);
 *   - server_spec is a JSON object; when the product has a provider
 *     interface and a plugin host is given, it is checked against the
 *     provider's spec template (required keys, options, min/max);
 *   - paying from balance is one transaction: order locked FOR UPDATE,
 *     balance debited (ledger type "payment", reference = order id), payment
 *     row "success", order "paid", event "order.paid" — all or nothing.
 *
 * Scoping: CUSTOMER actors see only their own orders (else BILL_ENOTFOUND).
 */
#ifndef BILL_ORDER_H
#define BILL_ORDER_H

#include "common.h"
#include "actor.h"
#include "db.h"
#include "money.h"
#include "page.h"
#include "payment.h"
#include "plugin_host.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default currency when an order names none (config [billing].currency). */
#define BILL_DEFAULT_CURRENCY "CNY"
/* Unpaid orders older than this are cancelled. */
#define BILL_ORDER_UNPAID_TTL_SECS 86400

typedef struct bill_order {
    char *id;
    char *customer_id;
    char *product_id;           /* "" when the product was deleted */
    char *product_name;         /* "" when unknown */
    char *provider_id;          /* plugin interface id, "" when none */
    char *provider_instance_id; /* "" until provisioned */
    char *server_spec_json;     /* JSON object text */
    char *status;
    bill_money amount;
    char *currency;
    char *billing_cycle;
    char *gateway_id;
    char *gateway_payment_id;
    char *notes;
    int64_t paid_at;            /* usec; 0 = unpaid */
    int64_t created_at;
    int64_t updated_at;
} bill_order;

typedef struct bill_orders {
    BILL_LIST_OF(bill_order);
} bill_orders;

BILL_API void bill_order_free(bill_order *o);
BILL_API void bill_orders_clear(bill_orders *l);

#define BILL_ORDER_INPUT_VERSION 1u
typedef struct bill_order_input {
    unsigned int version; /* BILL_ORDER_INPUT_VERSION */
    const char *customer_id;      /* staff: required; customer: NULL/"" or its own */
    const char *product_id;       /* required */
    const char *provider_id;      /* NULL/"" or the product's own provider interface */
    const char *server_spec_json; /* NULL/"" = {} */
    const char *currency;         /* NULL/"" = BILL_DEFAULT_CURRENCY; [A-Z]{3} */
    const char *gateway_id;       /* remembered for paying; NULL = "" */
    const char *notes;            /* NULL = "" (at most 2000 characters) */
    const char *billing_cycle;    /* NULL/"" = monthly */
    /* fields above exist since version 1 */
} bill_order_input;

/* Order statuses; BILL_EINVALID naming field "status" for anything else. */
BILL_API int bill_order_status_check(const char *status);
/* True when the table above allows from -> to. */
BILL_API bool bill_order_transition_allowed(const char *from, const char *to);

/* Create a pending order (rules above). plugins may be NULL: then the
 * spec template check is skipped. */
BILL_API int bill_order_create(bill_db *db, bill_plugins *plugins, const bill_actor *actor,
                               const bill_order_input *in, bill_order **out);

BILL_API int bill_order_get(bill_db *db, const bill_actor *actor, const char *id,
                            bill_order **out);

/* Filters may be NULL/"". search matches the product name, the notes or the
 * order id (case-insensitive substring). Newest first. */
#define BILL_ORDER_FILTER_VERSION 1u
typedef struct bill_order_filter {
    unsigned int version; /* BILL_ORDER_FILTER_VERSION */
    const char *customer_id;  /* scoping rule in actor.h */
    const char *status;
    const char *provider_id;
    const char *search;
    /* fields above exist since version 1 */
} bill_order_filter;
BILL_API int bill_order_list(bill_db *db, const bill_actor *actor,
                             const bill_order_filter *filter, const bill_page *page,
                             bill_orders *out);

/* Move an order to `target` (staff only), following the table above with
 * the row locked. Moving to paid this way is refused (use pay/confirm). */
BILL_API int bill_order_set_status(bill_db *db, const bill_actor *actor, const char *id,
                                   const char *target);

/* Cancel: staff may cancel wherever the table allows; a customer only its
 * own pending order (BILL_ESTATE otherwise). */
BILL_API int bill_order_cancel(bill_db *db, const bill_actor *actor, const char *id);

/* Pay a pending order. gateway_id NULL, "" or "balance": from the balance
 * (see above; BILL_EFUNDS changes nothing; a second pay is BILL_ESTATE
 * "order X is already paid"). Any other id is an enabled gateway interface:
 * a pending payment row is recorded, the gateway's create_payment is called
 * and what the payer needs (URL, QR, instructions) comes back in *out; the
 * order stays pending until bill_payment_confirm. plugins NULL with a
 * gateway id: BILL_EUNSUPPORTED. *out may be NULL.
 * One payable payment per order: a new gateway attempt supersedes (fails)
 * the order's earlier pending payments, and when the order leaves pending
 * (paid by any payment, cancelled, expired) its pending payments fail too.
 * Money a gateway still delivers for a failed payment is not refused: see
 * bill_payment_confirm. */
BILL_API int bill_order_pay(bill_db *db, bill_plugins *plugins, const bill_actor *actor,
                            const char *order_id, const char *gateway_id,
                            bill_payment_info *out);

/* Cancel every pending order created before now_usec - older_than_secs
 * (0 -> BILL_ORDER_UNPAID_TTL_SECS; now_usec 0 -> the handle's clock) in one
 * set-based UPDATE. *count (may be NULL) receives how many. SYSTEM/staff. */
BILL_API int bill_order_cancel_expired(bill_db *db, int64_t older_than_secs, int64_t now_usec,
                                       int64_t *count);

#ifdef __cplusplus
}
#endif
#endif
