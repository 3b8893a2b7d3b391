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

/* BILL_OK for SYSTEM/ADMIN/CLI actors (NULL = SYSTEM); otherwise BILL_EDENIED
 * with a message naming `what` ("create customers"). */
int bill__require_staff(const bill_actor *actor, const char *what);

/* Admin-user management: SYSTEM, CLI, or ADMIN with role "admin" or unset. */
int bill__require_superadmin(const bill_actor *actor, const char *what);

/* Reject a CUSTOMER actor without customer_id, and ANONYMOUS, for calls on
 * customer-owned data. Staff pass. */
int bill__require_known(const bill_actor *actor);

/* Scoping of a get by customer id (bill_actor_customer_scope with the id
 * required): staff reach any id, a CUSTOMER actor only its own (any other
 * id is BILL_ENOTFOUND, as if it did not exist); ANONYMOUS is BILL_EUNAUTH.
 * A malformed id is BILL_ENOTFOUND: that row cannot exist. */
int bill__scope_customer(const bill_actor *actor, const char *customer_id);

/* A CUSTOMER actor may only reach rows of its own customer: BILL_OK for
 * staff or a match, else BILL_ENOTFOUND "<what> <id> not found". */
int bill__owns(const bill_actor *actor, const char *row_customer_id, const char *what,
               const char *id);

/* NULL-or-empty helper for optional filters: NULL when s is NULL or "". */
static inline const char *bill__opt(const char *s)
{
    return s && *s ? s : NULL;
}

/* The start of a public customer-scoped list call: `out` required and
 * cleared (`size` bytes), the filter (if any, `has_filter`) no newer than
 * `max_version` (`type` names it), and *cust the customer it may list
 * (bill_actor_customer_scope of the filter's customer_id; NULL = all). */
int bill__list_start(void *out, size_t size, const bill_actor *actor, bool has_filter,
                     unsigned version, unsigned max_version, const char *type,
                     const char *customer_id, const char **cust);
#define BILL__LIST_START(out, actor, f, max_version, type, cust)                  \
    bill__list_start((out), sizeof *(out), (actor), (f) != NULL, (f) ? (f)->version : 0, \
                     (max_version), (type), (f) ? (f)->customer_id : NULL, (cust))

/* The row of `sql` ($1 = id) whose column `owner_col` holds its customer,
 * decoded by `t` (without context) into *out (`out` is the address of a
 * `T *`) when the actor may see it (bill__owns), else BILL_ENOTFOUND. */
int bill__fetch_owned(bill_conn *c, const bill_actor *actor, const bill__rowtype *t,
                      const char *what, const char *sql, int owner_col, const char *id, void *out);

/* A fetch of one customer-owned row by id on a held connection (`out` as
 * above), and the public get around it: out required and cleared, the
 * actor known, id a UUID (else ENOTFOUND naming `what`), a connection as
 * the actor. */
typedef int bill__fetch_fn(bill_conn *c, const bill_actor *actor, const char *id, void *out);
int bill__get_as(bill_db *db, const bill_actor *actor, const char *id, const char *what,
                 bill__fetch_fn *fetch, void *out);

/* An optional uuid filter: BILL_OK when NULL/"" or a UUID, else
 * BILL_EINVALID naming `field`. */
int bill__check_opt_id(const char *s, const char *field);

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
/* bill__col_dup of several columns of a row into string fields: pairs of
 * (char **field, int column). BILL_ENOMEM "out of memory <what>" (what:
 * "reading a customer")
 * when any copy failed (the copies made stay in their fields, for the
 * row's clear function). BILL__DUP_COLS ends the list. */
int bill__dup_cols(const PGresult *r, int row, const char *what, ...);
#define BILL__DUP_COLS(r, row, what, ...) bill__dup_cols((r), (row), (what), __VA_ARGS__, (char **)NULL)

/* "%<s with \, %, _ escaped>%" for ILIKE ... ESCAPE '\'; NULL on OOM. */
char *bill__like_pattern(const char *s);

/* Release a borrowed connection if there is one. */
static inline void bill__conn_done(bill_conn *c)
{
    if (c)
        bill__conn_release(c);
}

#endif
