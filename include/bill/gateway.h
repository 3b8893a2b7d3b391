/*
 * gateway.h — payment gateways as customers and gateways meet them: the
 * catalogue a payer chooses from (the account balance, then every enabled
 * gateway interface), and a gateway's asynchronous notification handled end
 * to end (which interface it is for, the plugin's signature check, the
 * payment confirmed). bill-server's IntegrationService/ListGateways and its
 * /callback route only translate these; an embedder serving its own HTTP
 * gets the same answers.
 */
#ifndef BILL_GATEWAY_H
#define BILL_GATEWAY_H

#include "common.h"
#include "db.h"
#include "page.h"
#include "plugin_host.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The pseudo-gateway "pay from the account balance" (bill_order_pay). */
#define BILL_GATEWAY_BALANCE_ID "balance"

/* One choice of the catalogue: no configuration, no secret. */
typedef struct bill_gateway_entry {
    char id[37];      /* BILL_GATEWAY_BALANCE_ID or an interface uuid */
    char name[128];
    bool is_healthy;  /* the balance always is */
} bill_gateway_entry;

typedef struct bill_gateways {
    BILL_LIST_OF(bill_gateway_entry);
} bill_gateways;
BILL_API void bill_gateways_clear(bill_gateways *l);

/* The catalogue anyone may read (the payment page shows it before login):
 * the balance ("Account balance") first, then the enabled gateway
 * interfaces by name. p NULL (no plugin registry): the balance only. Not
 * paged (meta.total = count). */
BILL_API int bill_gateway_catalogue(bill_plugins *p, bill_gateways *out);

/* What to answer a gateway's notification. Some gateways stop retrying on
 * a 404, and a notification is money, so only a truly unknown interface is
 * UNKNOWN; anything that may pass by itself (database outage, plugin not
 * loaded, out of memory) is RETRY, for the lookup and the confirmation
 * alike. What the confirmation refuses on its merits (wrong amount, unknown
 * payment, reused trade_no) is the plugin's "fail" text, as is a
 * notification whose signature does not verify. */
typedef enum {
    BILL_GATEWAY_NOTIFY_ANSWER = 0,  /* answer `body` (HTTP 200) */
    BILL_GATEWAY_NOTIFY_UNKNOWN = 1, /* no such gateway interface (HTTP 404) */
    BILL_GATEWAY_NOTIFY_RETRY = 2,   /* ask the gateway to try again (HTTP 503) */
} bill_gateway_notify_outcome;

typedef struct bill_gateway_notify_result {
    bill_gateway_notify_outcome outcome;
    char *body;          /* ANSWER: the plugin's answer ("success") or "fail"; else NULL */
    char *content_type;  /* ANSWER: never NULL ("text/plain" unless the plugin says) */
    bool verified;       /* the plugin verified the signature */
    bool confirmed;      /* a payment is confirmed by this notification or before */
    bool already;        /* ... and it had been confirmed before */
} bill_gateway_notify_result;
BILL_API void bill_gateway_notify_result_clear(bill_gateway_notify_result *r);

/* Handle one notification for interface `interface_id` of the gateway
 * plugin named `plugin` (its id, "gateway-yipay", or that id without the
 * "gateway-" prefix, as gateway-yipay composes its notify_url). A disabled
 * interface still takes notifications for payments made before it was
 * disabled. On a verified success the payment is confirmed as SYSTEM
 * (bill_payment_confirm: idempotent, a replay credits nothing twice, late
 * money goes to the balance). Returns BILL_OK with the outcome in *out
 * (every decision is logged under "libbill::gateway"), BILL_EINVALID for a
 * missing argument. */
BILL_API int bill_gateway_notify(bill_db *db, bill_plugins *p, const char *plugin,
                                 const char *interface_id, const bill_gateway_callback *cb,
                                 bill_gateway_notify_result *out);

#ifdef __cplusplus
}
#endif

#endif
