/*
 * notify.h — customer notifications. A notification is one durable event
 * ("notify") that the provisioning handlers (provision.h) fan out to every
 * enabled notifier plugin, each retried on its own. libbill queues them in
 * the transaction that makes them true (invoice issued, payment received,
 * ticket assigned, order paid, instance ready); frontends and embedders
 * queue their own with bill_notify().
 */
#ifndef BILL_NOTIFY_H
#define BILL_NOTIFY_H

#include "common.h"
#include "db.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Notification kinds (event_kind seen by notifier plugins). */
#define BILL_NOTIFY_ORDER_PAID "order.paid"
#define BILL_NOTIFY_INSTANCE_READY "instance.ready"
#define BILL_NOTIFY_PROVISION_FAILED "order.provision_failed"
#define BILL_NOTIFY_INVOICE_ISSUED "invoice.issued"
#define BILL_NOTIFY_PAYMENT_RECEIVED "payment.received"
#define BILL_NOTIFY_TICKET_ASSIGNED "ticket.assigned"
#define BILL_NOTIFY_VERIFICATION_CODE "verification.code"
/* The billing engine (billing.h), each sent exactly once per fact: */
#define BILL_NOTIFY_RENEWAL_ISSUED "invoice.renewal_issued"
#define BILL_NOTIFY_RENEWAL_AUTOPAID "invoice.autopaid"
#define BILL_NOTIFY_PAYMENT_FAILED "invoice.payment_failed"   /* data.shortfall */
#define BILL_NOTIFY_INVOICE_OVERDUE "invoice.overdue"
#define BILL_NOTIFY_INSTANCE_SUSPENDED "instance.suspended"
#define BILL_NOTIFY_INSTANCE_UNSUSPENDED "instance.unsuspended"
#define BILL_NOTIFY_INSTANCE_TERMINATED "instance.terminated"
#define BILL_NOTIFY_PLAN_CHANGED "instance.plan_changed"

/* Queue a notification (event "notify") for every enabled notifier.
 * customer_id (may be NULL) supplies the recipient's e-mail address when
 * recipient is NULL/"". payload_json: JSON object or NULL. Used by the
 * rest of libbill and frontends: invoice issued, payment received, ticket
 * assigned, verification codes. */
BILL_API int bill_notify(bill_db *db, const char *kind, const char *customer_id,
                         const char *recipient, const char *subject, const char *body,
                         const char *payload_json);

#ifdef __cplusplus
}
#endif
#endif
