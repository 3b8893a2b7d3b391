/*
 * access_int.h — borrowing a connection on behalf of an actor (access.c).
 * Private to libbill.
 */
#ifndef BILL_ACCESS_INT_H
#define BILL_ACCESS_INT_H

#include "store/store.h"
#include "bill/auth.h"

/* bill__conn_acquire, and for a CUSTOMER actor also the account check of
 * bill_customer_status_check (BILL_EDENIED for suspended/closed) plus the
 * customer user still existing and active (BILL_EUNAUTH), in the statement
 * that replaces the liveness ping. Every domain call a customer may make
 * borrows its connection this way; catalog reads, which stay public, do not. */
int bill__conn_acquire_as(bill_db *db, const bill_actor *actor, bill_conn **out);
/* bill__conn_acquire_as, then a transaction (as bill__conn_begin). */
int bill__conn_begin_as(bill_db *db, const bill_actor *actor, bill_conn **out);

/* bill__list_page on a connection borrowed with bill__conn_acquire_as. */
int bill__list_page_as(bill_db *db, const bill_actor *actor, const bill__rowtype *t,
                       const bill__list_sql *q, int nparams, const char *const *params,
                       const bill_page *page, const void *ctx, void *items, size_t *count,
                       bill_page_meta *meta);
#define BILL__LIST_PAGE_AS(db, actor, t, q, np, params, page, ctx, l)                    \
    bill__list_page_as((db), (actor), (t), (q), (np), (params), (page), (ctx),           \
                       BILL__LIST_OUT(t, l))

#endif
