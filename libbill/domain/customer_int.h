/*
 * customer_int.h — customer operations for other libbill services that need
 * them inside their own transaction (auth's registration creates the customer
 * and its first user atomically).
 */
#ifndef BILL_CUSTOMER_INT_H
#define BILL_CUSTOMER_INT_H

#include "store/store.h"
#include "bill/customer.h"

/* Validate and insert a customer on `conn` inside the caller's open
 * transaction; audit row for staff actors. No authorization check: the
 * caller decides (registration is anonymous by nature). *out may be NULL. */
int bill__customer_create_tx(bill_conn *conn, const bill_actor *actor,
                             const bill_customer_input *in, bill_customer **out);

/* Validation alone (field-named BILL_EINVALID), for callers that want to
 * fail before opening a transaction. `set_mask` as in bill_customer_update;
 * pass ~0u for a create. */
int bill__customer_validate(const bill_customer_input *in, unsigned int set_mask);

#endif
