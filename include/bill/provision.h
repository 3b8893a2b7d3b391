/*
 * provision.h — the provisioning flow and customer notifications, as
 * handlers on the durable events queue (events.h).
 *
 *   "order.paid"     (enqueued by the payment that paid the order)
 *       order without a provider interface: notify "order.paid", the order
 *       stays paid (manual provisioning). Otherwise the provider's
 *       create_instance runs (outside any transaction; providers make it
 *       idempotent per order id), then in one transaction with the order row
 *       locked: instance row "provisioning", order -> provisioning, event
 *       "instance.poll", notification "order.paid".
 *   "instance.poll"  get_instance until the provider says running; then
 *       instance running (+ IPv4), order -> active, notify "instance.ready".
 *       Not running yet: the event is retried with the queue's backoff.
 *   failure          when create (or polling) still fails on the event's
 *       last attempt: the order is cancelled, what was paid for it goes back
 *       to the customer's balance (ledger type "refund", payment rows
 *       "refunded"), the instance (if any) becomes "error", the provider is
 *       asked to terminate what it made (best effort), and the customer is
 *       notified "order.provision_failed" — all in one transaction.
 *   "notify"         fans out one "notify.send" event per enabled notifier
 *       interface (so a failing webhook is retried alone and never resends
 *       the e-mail that already went out); "notify.send" calls the plugin.
 *
 * Every handler is idempotent: an order that is no longer "paid", an
 * instance that is no longer "provisioning" is left alone.
 *
 * The server creates one bill_provision, registers it on its bill_events
 * and starts the workers.
 */
#ifndef BILL_PROVISION_H
#define BILL_PROVISION_H

#include "common.h"
#include "db.h"
#include "events.h"
#include "plugin_host.h"
#include "notify.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bill_provision bill_provision;

#define BILL_PROVISION_OPTIONS_VERSION 1u
typedef struct bill_provision_options {
    unsigned int version;     /* BILL_PROVISION_OPTIONS_VERSION */
    int poll_delay_ms;        /* first instance.poll after create: 5000 */
    int poll_max_attempts;    /* instance.poll attempts before failing: 20 */
    int notify_max_attempts;  /* notify.send attempts per notifier: 10 */
    /* fields above exist since version 1 */
} bill_provision_options;

BILL_API void bill_provision_options_init(bill_provision_options *o);
/* db and plugins must outlive the handle. opts NULL = defaults. */
BILL_API int bill_provision_new(bill_provision **out, bill_db *db, bill_plugins *plugins,
                                const bill_provision_options *opts);
BILL_API void bill_provision_free(bill_provision *p);

/* Register "order.paid", "instance.poll", "notify", "notify.send",
 * "ticket.assigned" (old and new assignee are notified once each) and
 * "notify.verification_code" (the code is mailed to the address) on ev
 * (before its workers start). */
BILL_API int bill_provision_register(bill_provision *p, bill_events *ev);

#ifdef __cplusplus
}
#endif
#endif
