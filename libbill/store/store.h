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
 *   SQLSTATE 08xxx, 57Pxx / conn. lost   -> BILL_EUNAVAILABLE (conn marked broken)
 *   SQLSTATE 25006 on a read-only server -> BILL_EUNAVAILABLE (conn marked broken:
 *     a standby or demoted primary; in a READ ONLY transaction asked for, BILL_EDB)
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
#include <assert.h>
#include <string.h>

typedef struct bill_conn bill_conn;

/* Borrow a connection; waits up to acquire_timeout_secs, then fails with
 * BILL_EUNAVAILABLE and a message naming the pool size and the timeout. */
int bill__conn_acquire(bill_db *db, bill_conn **out);
/* The same without waiting: BILL_EUNAVAILABLE at once when every
 * connection of the pool is in use (an optional extra connection). */
int bill__conn_try_acquire(bill_db *db, bill_conn **out);
void bill__conn_release(bill_conn *c);
/* Borrow a connection whose first statement is the caller's (sql with its
 * params, result in *res, the caller's to PQclear). That statement replaces
 * the "SELECT 1" liveness ping: a dead idle connection is replaced once and
 * the statement sent again, so a check made on every call (the customer
 * status of bill__conn_acquire_as) costs no extra round trip. The statement
 * must be a read: it may be sent twice. (Any other first statement is sent
 * again only when its session was found ended before it left: pool.c.) On
 * failure nothing is borrowed and *res is NULL. */
int bill__conn_acquire_probe(bill_db *db, bill_conn **out, PGresult **res, const char *sql,
                             int nparams, const char *const *params);
PGconn *bill__conn_pg(bill_conn *c);
/* A catalog write on this handle committed (call after the commit): the
 * handle's catalog caches (bill_catcache) drop their answers at once. The
 * catalog_version row moves by itself (triggers, migration 015). */
void bill__catalog_changed(bill_db *db);
uint64_t bill__catalog_epoch(bill_db *db);
/* Totals of lists over the public catalog, remembered per catalog version
 * (rows.c). The token is catalog_version's row as text, "<version>:<µs of
 * changed_at>", which every catalog write moves in its own transaction
 * (migration 015); changed_at keeps a version number that comes back in
 * another history (a restored backup, a promoted replica that lost the
 * last commits) from matching. `key` names the list and its filter
 * values. A small bounded table: a miss only costs a count. */
#define BILL__CATALOG_TOKEN_SZ 48
bool bill__catalog_total_get(bill_db *db, const char *key, char token[BILL__CATALOG_TOKEN_SZ],
                             uint64_t *total);
void bill__catalog_total_put(bill_db *db, const char *key, const char *token, uint64_t total);
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
#define bill__qp(c, out, sql, ...) bill__q((c), (out), (sql), BILL__PARAMS(__VA_ARGS__))
/* `nparams, params` of a literal parameter list. */
#define BILL__PARAMS(...)                                                       \
    (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)),        \
        (const char *const[]){__VA_ARGS__}
/* bill__q on a connection borrowed for this one statement (rows.c). */
int bill__q_db(bill_db *db, PGresult **out, const char *sql, int nparams,
               const char *const *params);
#define bill__qp_db(db, out, sql, ...) bill__q_db((db), (out), (sql), BILL__PARAMS(__VA_ARGS__))
/* Run `sql` with its params; no row is BILL_ENOTFOUND "<what> <id> not
 * found" naming `field`, with *res cleared. */
int bill__q_found(bill_conn *c, PGresult **res, const char *field, const char *what,
                  const char *id, const char *sql, int nparams, const char *const *params);
#define bill__qp_found(c, res, field, what, id, sql, ...)                       \
    bill__q_found((c), (res), (field), (what), (id), (sql), BILL__PARAMS(__VA_ARGS__))

/* Statement without parameters. */
int bill__exec(bill_conn *c, const char *sql);

/* bill__conn_acquire, then bill__tx_begin on it; when the begin fails the
 * connection goes back and *out is NULL. */
int bill__conn_begin(bill_db *db, bill_conn **out);

/* Transactions. begin/commit/rollback on the borrowed connection.
 * rollback is safe to call when no transaction is open. */
int bill__tx_begin(bill_conn *c);
int bill__tx_commit(bill_conn *c);
/* bill__tx_commit of a transaction that wrote the public catalog (products,
 * prices, groups, categories, plugin interfaces): on success, the handle's
 * catalog caches drop their answers (bill__catalog_changed). */
int bill__tx_commit_catalog(bill_conn *c);
void bill__tx_rollback(bill_conn *c);

/* Map a failed PGresult / connection to a libbill error (used by bill__q;
 * exposed for code that calls libpq directly, e.g. COPY). */
int bill__pg_error(bill_conn *c, const PGresult *res, const char *what);

/* SQL fragment turning a timestamptz expression into int8 microseconds
 * since the epoch, exactly (numeric, never a double): BILL__US("created_at"). */
#define BILL__US(col) "(extract(epoch from (" col "))::numeric * 1000000)::bigint"

/* Result accessors: NULL-safe text, "" for SQL NULL. */
static inline const char *bill__val(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
}
static inline bool bill__isnull(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) != 0;
}

/* ---- rows into public structs (store/rows.c) ---------------------------- */

/* How one entity's rows become items: `from_row` fills a zeroed item from
 * row `row` (ctx is the caller's, e.g. the actor for fields only staff
 * see); on failure whatever it set is freed by `clear`, which also accepts
 * a zeroed item and leaves the item zeroed. `what` names the entity in
 * out-of-memory messages ("customer"). */
typedef struct bill__rowtype {
    size_t size;
    int (*from_row)(const PGresult *r, int row, const void *ctx, void *item);
    void (*clear)(void *item);
    const char *what;
} bill__rowtype;

/* Decode one row into a new heap item; `out` is the address of a `T *`,
 * set only on success. */
int bill__row_new(const bill__rowtype *t, const PGresult *r, int row, const void *ctx, void *out);
/* clear + free; NULL-safe. */
void bill__row_free(const bill__rowtype *t, void *item);
/* Decode every row of r into a new array. `items` is the address of a
 * `T *`, count receives how many items hold data (also after a failure,
 * so bill__rows_clear frees a partial array). */
int bill__rows_fill(const bill__rowtype *t, const PGresult *r, const void *ctx, void *items,
                    size_t *count);
void bill__rows_clear(const bill__rowtype *t, void *items, size_t *count);

/* One optional filter of a list: `pred` uses "$?" for its value (every
 * "$?" of it is the same parameter). */
typedef struct bill__filter {
    const char *pred;  /* "p.group_id = $?::uuid"; a constant, never user input */
    const char *value; /* NULL: no such filter */
} bill__filter;
/* from_where of a list with optional filters: `base` (ending in a WHERE
 * clause) and " AND <pred>" for each filter that has a value, its "$?"
 * numbered $1, $2, ... in order; the values go to params[]. A statement
 * holds only the predicates it needs, so its generic plan can use the
 * indexes ("$1 IS NULL OR col = $1" cannot), and PostgreSQL plans it once
 * per connection instead of on every call. Returns the number of params,
 * or -1 when `out` is too small. */
int bill__where(char *out, size_t cap, const char *base, const bill__filter *f, int n,
                const char **params);

/* The SQL of a paged list: constants of the caller, never user input. */
typedef struct bill__list_sql {
    const char *cols;       /* select list */
    const char *from_where; /* "FROM t WHERE ..." */
    const char *order_by;   /* ends in a unique column so pages are stable */
} bill__list_sql;

/* A list's SQL with its optional filters applied (bill__where): `q` and
 * `params[0..np)` go to the list helpers below. */
typedef struct bill__list_where {
    bill__list_sql q;
    char where[1024];
    const char *params[16];
    int np;
} bill__list_where;
/* Fill w: cols and order_by as given, from_where = base + the filters that
 * have a value. BILL_EINTERNAL when they do not fit. */
int bill__list_where_init(bill__list_where *w, const char *cols, const char *base,
                          const char *order_by, const bill__filter *f, int n);

/* One page of a list in one statement: "SELECT <cols>, (SELECT count(*)
 * <from_where>) <from_where> ORDER BY <order_by> LIMIT .. OFFSET .." with
 * params $1..$nparams (LIMIT/OFFSET become the next two); the total rides
 * in an extra last column of *res (a page past the end costs a second
 * statement for it). from_where must not GROUP BY. `pg` is normalized in
 * place; *total receives the count. */
int bill__page_query(bill_conn *c, PGresult **res, const char *cols, const char *from_where,
                     const char *order_by, int nparams, const char *const *params,
                     bill_page *pg, uint64_t *total);

/* bill__page_query, decoded into a list (items/count/meta as above; page
 * may be NULL). On failure the list is empty. The _in form runs on a
 * connection the caller holds (inside its transaction). */
int bill__list_page(bill_db *db, const bill__rowtype *t, const bill__list_sql *q, int nparams,
                    const char *const *params, const bill_page *page, const void *ctx,
                    void *items, size_t *count, bill_page_meta *meta);
int bill__list_page_in(bill_conn *c, const bill__rowtype *t, const bill__list_sql *q, int nparams,
                       const char *const *params, const bill_page *page, const void *ctx,
                       void *items, size_t *count, bill_page_meta *meta);
/* bill__list_page of a list whose from_where reads only public-catalog
 * tables (products, prices, groups, categories: every write to them moves
 * catalog_version in the writer's transaction, migration 015). Its total
 * is remembered per catalog version: the statement also reads
 * catalog_version and counts only when the version differs from the one
 * the remembered total was counted at (the count is a sub-select that is
 * evaluated only when read). The version and the page come from one
 * snapshot, so a remembered total is exactly what the count would say,
 * in the same round trip, without counting. */
int bill__list_page_catalog(bill_db *db, const bill__rowtype *t, const bill__list_sql *q,
                            int nparams, const char *const *params, const bill_page *page,
                            const void *ctx, void *items, size_t *count, bill_page_meta *meta);
/* A list that is not paged: every row of `sql`, meta as one page. */
int bill__list_all_in(bill_conn *c, const bill__rowtype *t, const char *sql, int nparams,
                      const char *const *params, const void *ctx, void *items, size_t *count,
                      bill_page_meta *meta);

/* The list-shaped arguments of the helpers above, for a public list `l`
 * whose items are of the rowtype `t` (checked). */
#define BILL__LIST_OUT(t, l)                                                    \
    (assert((t)->size == sizeof *(l)->items), (void *)&(l)->items), &(l)->count, &(l)->meta
#define BILL__LIST_PAGE(db, t, q, np, params, page, ctx, l)                     \
    bill__list_page((db), (t), (q), (np), (params), (page), (ctx), BILL__LIST_OUT(t, l))
#define BILL__LIST_PAGE_CATALOG(db, t, q, np, params, page, ctx, l)             \
    bill__list_page_catalog((db), (t), (q), (np), (params), (page), (ctx), BILL__LIST_OUT(t, l))
/* Body of a public T_list_clear(l). */
#define BILL__LIST_CLEAR(t, l)                                                  \
    do {                                                                        \
        if (l) {                                                                \
            bill__rows_clear((t), &(l)->items, &(l)->count);                    \
            memset(&(l)->meta, 0, sizeof (l)->meta);                            \
        }                                                                       \
    } while (0)

/* Defines the public pair of a row type: `void free_fn(T *)` (clear and
 * free one item) and `void clear_fn(L *)` (BILL__LIST_CLEAR of its list). */
#define BILL__ROW_FUNCS(t, T, free_fn, L, clear_fn)                             \
    void free_fn(T *item)                                                       \
    {                                                                           \
        bill__row_free((t), item);                                              \
    }                                                                           \
    void clear_fn(L *l)                                                         \
    {                                                                           \
        BILL__LIST_CLEAR((t), l);                                               \
    }

/* Where PostgreSQL's programs are (embedded_pg.c): $BILL_PG_BINDIR, the
 * build option pg_bindir, else the newest /usr/lib/postgresql/N/bin. */
int bill__pg_bindir(char *out, size_t cap);
/* The handle's libpq URL / conninfo as given to bill_db_open (pool.c). */
const char *bill__db_url(bill_db *db);

/* Decimal text of v into buf (>= 24 bytes), for SQL parameters. */
const char *bill__i64_text(int64_t v, char buf[24]);

#endif
