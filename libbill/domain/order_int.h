/*
 * order_int.h — private glue between orders, payments and invoices, which
 * change each other's rows inside one transaction (a confirmed payment pays
 * its order or invoice; a refund may refund the order). Never installed.
 */
#ifndef BILL_ORDER_INT_H
#define BILL_ORDER_INT_H

#include "store/store.h"
#include "bill/order.h"
#include "bill/payment.h"
#include "bill/invoice.h"

/* Lock order `id` FOR UPDATE and move it to `target` following the one
 * transition table (BILL_ESTATE otherwise). Sets paid_at when target is
 * "paid" and enqueues "order.paid" with payment_id (may be NULL) then.
 * Audit row for staff actors. Caller holds an open transaction. */
int bill__order_move_tx(bill_conn *c, const bill_actor *actor, const char *id,
                        const char *target, const char *payment_id);

/* The orders of instances that were just terminated follow them: the
 * transitions active|suspended -> terminated of the table in order.c, for a
 * statement that terminates instances in bulk (a CTE of the billing pass).
 * `instance_ids` is a query of instance ids ("SELECT id FROM t"), `ts` the
 * SQL of the instant. Keep in step with the transition table. */
#define BILL__ORDER_TERMINATE_SQL(instance_ids, ts)                                      \
    "UPDATE orders o SET status = 'terminated', updated_at = " ts " FROM instances i "    \
    "WHERE i.id IN (" instance_ids ") AND o.id = i.order_id "                             \
    "AND o.status IN ('active', 'suspended')"

/* Lock invoice `id` FOR UPDATE and mark it paid with `amount` added to
 * paid_amount (issued/overdue only, else BILL_ESTATE). Caller's transaction. */
int bill__invoice_paid_tx(bill_conn *c, const bill_actor *actor, const char *id,
                          bill_money amount);

#endif
