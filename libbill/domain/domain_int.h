/*
 * domain_int.h — private helpers shared by the domain services in
 * libbill/domain/ (admin users, customers, balance, catalog, oplog):
 * actor checks, result-column decoding, LIKE escaping, list plumbing.
 * Never installed.
 */
#ifndef BILL_DOMAIN_INT_H
#define BILL_DOMAIN_INT_H

#include "store/store.h"
#include "bill/money.h"
#include "bill/uuid.h"

/* SQL fragment turning a timestamptz column into int8 microseconds. */
#define BILL__US(col) "(extract(epoch from " col ") * 1000000)::int8"

/* BILL_OK for SYSTEM/ADMIN/CLI actors (NULL = SYSTEM); otherwise BILL_EDENIED
 * with a message naming `what` ("create customers"). */
int bill__require_staff(const bill_actor *actor, const char *what);

/* Admin-user management: SYSTEM, CLI, or ADMIN with role "admin" or unset. */
int bill__require_superadmin(const bill_actor *actor, const char *what);

/* Reject a CUSTOMER actor without customer_id, and ANONYMOUS, for calls on
 * customer-owned data. Staff pass. */
int bill__require_known(const bill_actor *actor);

/* Scoping of a by-customer-id call: staff reach any id, a CUSTOMER actor
 * only its own (any other id is BILL_ENOTFOUND, as if it did not exist);
 * ANONYMOUS is BILL_EUNAUTH. A malformed id is BILL_ENOTFOUND. */
int bill__scope_customer(const bill_actor *actor, const char *customer_id);

/* `id` must be a UUID; otherwise BILL_ENOTFOUND naming `field` (the row
 * cannot exist) — or BILL_EINVALID when `strict` (an argument that must be
 * well-formed, e.g. a foreign key being set). */
int bill__check_id(const char *id, const char *field, const char *what, bool strict);

/* int8 text -> int64 ("" -> 0). */
int64_t bill__i64(const PGresult *r, int row, int col);
/* NUMERIC(12,2) text -> cents; BILL_EINTERNAL if the database sent garbage. */
int bill__money_col(const PGresult *r, int row, int col, bill_money *out);
/* "t" -> true. */
bool bill__bool(const PGresult *r, int row, int col);
/* strdup of a column ("" for NULL); NULL on OOM. */
char *bill__col_dup(const PGresult *r, int row, int col);

/* "%<s with \, %, _ escaped>%" for ILIKE ... ESCAPE '\'; NULL on OOM. */
char *bill__like_pattern(const char *s);

/* One page of a list: runs "SELECT count(*) <from_where>" and
 * "SELECT <cols> <from_where> ORDER BY <order_by> LIMIT .. OFFSET ..", both
 * with the same params ($1..$nparams; LIMIT/OFFSET become the next two).
 * All SQL fragments are constants of the caller, never user input. `pg` is
 * normalized in place; *total receives the count. */
int bill__page_query(bill_conn *c, PGresult **res, const char *cols, const char *from_where,
                     const char *order_by, int nparams, const char *const *params,
                     bill_page *pg, uint64_t *total);

/* Release a borrowed connection if there is one. */
static inline void bill__conn_done(bill_conn *c)
{
    if (c)
        bill__conn_release(c);
}

/* Decimal text of v into buf (>= 24 bytes). */
const char *bill__i64_text(int64_t v, char buf[24]);

#endif
