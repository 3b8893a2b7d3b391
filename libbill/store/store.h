/*
 * store.h — libbill's private storage layer: pooled connections, parameterised
 * queries, transactions. Every SQL statement in libbill goes through these
 * helpers, so errors are mapped one way everywhere:
 *
 *   SQLSTATE 23505 unique_violation      -> BILL_ECONFLICT
 *   SQLSTATE 23503 foreign_key_violation -> BILL_EINVALID (or ENOTFOUND by caller)
 *   SQLSTATE 23514 check_violation       -> BILL_EINVALID
 *   SQLSTATE 22xxx data exceptions       -> BILL_EINVALID
 *   SQLSTATE 57014 query_canceled        -> BILL_ETIMEOUT
 *   SQLSTATE 08xxx / connection lost     -> BILL_EUNAVAILABLE (conn marked broken)
 *   anything else                        -> BILL_EDB
 * and the detail (bill_error_last) carries the server's message and SQLSTATE.
 *
 * Ownership: a bill_conn is borrowed with bill__conn_acquire and must be
 * handed back with bill__conn_release exactly once. Releasing a connection
 * inside an open transaction rolls it back (a forgotten commit never leaks
 * half a change into the next borrower). PGresults from bill__q are owned by
 * the caller (PQclear).
 */
#ifndef BILL_STORE_H
#define BILL_STORE_H

#include "internal.h"
#include <libpq-fe.h>

typedef struct bill_conn bill_conn;

/* Borrow a connection; waits up to acquire_timeout_secs, then fails with
 * BILL_EUNAVAILABLE and a message naming the pool size and the timeout. */
int bill__conn_acquire(bill_db *db, bill_conn **out);
void bill__conn_release(bill_conn *c);
PGconn *bill__conn_pg(bill_conn *c);
/* The handle's clock (bill_db_now) for code holding a connection. */
int64_t bill__conn_now(bill_conn *c);
bill_db *bill__conn_db(bill_conn *c);

/* Run one parameterised statement (text params, NULL = SQL NULL).
 * On success *out (if out != NULL) holds the result; otherwise it is cleared.
 * Returns BILL_OK or a mapped error (see above). */
int bill__q(bill_conn *c, PGresult **out, const char *sql, int nparams,
            const char *const *params);
/* Convenience: params as a compound literal, e.g.
 *   bill__qp(c, &res, "SELECT ... WHERE id = $1", id);   (up to 16 params) */
#define bill__qp(c, out, sql, ...)                                             \
    bill__q((c), (out), (sql),                                                 \
            (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)), \
            (const char *const[]){__VA_ARGS__})
/* Statement without parameters. */
int bill__exec(bill_conn *c, const char *sql);

/* Transactions. begin/commit/rollback on the borrowed connection.
 * rollback is safe to call when no transaction is open. */
int bill__tx_begin(bill_conn *c);
int bill__tx_commit(bill_conn *c);
void bill__tx_rollback(bill_conn *c);

/* Map a failed PGresult / connection to a libbill error (used by bill__q;
 * exposed for code that calls libpq directly, e.g. COPY). */
int bill__pg_error(bill_conn *c, const PGresult *res, const char *what);

/* Result accessors: NULL-safe text, "" for SQL NULL. */
static inline const char *bill__val(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
}
static inline bool bill__isnull(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) != 0;
}

#endif
