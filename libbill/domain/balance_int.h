/*
 * balance_int.h — changing a balance inside a caller's transaction (orders
 * paying from balance, refunds, billing's automatic renewals), so the ledger
 * row commits or rolls back with the caller's own change.
 */
#ifndef BILL_BALANCE_INT_H
#define BILL_BALANCE_INT_H

#include "store/store.h"
#include "bill/balance.h"

/* Same rules as bill_balance_change (sign rules, floor at -credit_limit,
 * ledger row, audit row for staff actors) on `conn`, which must be inside an
 * open transaction (bill__tx_begin). Locks the customer row FOR UPDATE until
 * the caller commits. No authorization check: the calling service decides
 * (a customer paying its own order is legitimate there). On failure the
 * caller should roll back. *out may be NULL. */
int bill__balance_change_tx(bill_conn *conn, const bill_actor *actor, const char *customer_id,
                            bill_balance_tx_type type, bill_money amount,
                            const char *reference_id, const char *description,
                            bill_balance_tx *out);

#endif
