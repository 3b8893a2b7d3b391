/*
 * notify_int.h — queue a customer notification from inside a domain
 * transaction (private to libbill). The "notify" event commits or rolls back
 * with the change it announces; the provisioning handlers then send it to
 * every enabled notifier plugin (provision.c).
 */
#ifndef BILL_DOMAIN_NOTIFY_INT_H
#define BILL_DOMAIN_NOTIFY_INT_H

#include "store/store.h"

#include <json-c/json.h>

/* kind: one of BILL_NOTIFY_* (include/bill/notify.h). The recipient is
 * the customer's email, looked up when the notification is sent.
 * data_json: a JSON object text or NULL. */
int bill__notify_tx(bill_conn *c, const char *kind, const char *customer_id, const char *subject,
                    const char *body, const char *data_json);

/* Same with the data already parsed; takes ownership of `data` (may be
 * NULL); recipient NULL/"" = the customer's e-mail address. */
int bill__notify_conn(bill_conn *c, const char *kind, const char *customer_id,
                      const char *recipient, const char *subject, const char *body,
                      json_object *data);

#endif
