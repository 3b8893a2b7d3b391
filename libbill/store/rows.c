/*
 * rows.c — result rows into public structs, and one page of a list.
 *
 * Every list call of the public API fills the same shape (page.h:
 * `T *items; size_t count; bill_page_meta meta;`). The decoding of one row
 * is the entity's business; allocating the array, counting the rows that
 * were (partly) decoded so the clear function frees them, the count query
 * and the page arithmetic are the same everywhere and live here once.
 * See store.h for the contracts.
 */
#include "store/store.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* `slot` is the address of a `T *` (a list's items, or an out-param);
 * memcpy keeps this free of type punning through `void **`. */
static void *slot_get(const void *slot)
{
    void *p;
    memcpy(&p, slot, sizeof p);
    return p;
}

static void slot_set(void *slot, void *p)
{
    memcpy(slot, &p, sizeof p);
}

int bill__row_new(const bill__rowtype *t, const PGresult *r, int row, const void *ctx, void *out)
{
    void *item = calloc(1, t->size);
    int rc;

    if (!item)
        return bill__err(BILL_ENOMEM, NULL, "out of memory reading a %s", t->what);
    if ((rc = t->from_row(r, row, ctx, item)) < 0) {
        t->clear(item);
        free(item);
        return rc;
    }
    slot_set(out, item);
    return BILL_OK;
}

void bill__row_free(const bill__rowtype *t, void *item)
{
    if (!item)
        return;
    t->clear(item);
    free(item);
}

int bill__rows_fill(const bill__rowtype *t, const PGresult *r, const void *ctx, void *items,
                    size_t *count)
{
    int n = PQntuples(r), rc;
    char *arr;

    slot_set(items, NULL);
    *count = 0;
    if (n <= 0)
        return BILL_OK;
    if (!(arr = calloc((size_t)n, t->size)))
        return bill__err(BILL_ENOMEM, NULL, "out of memory reading %s rows", t->what);
    slot_set(items, arr);
    for (int i = 0; i < n; i++) {
        /* counted before decoding: a row that fails half-way is freed by
         * the clear function like the complete ones */
        (*count)++;
        if ((rc = t->from_row(r, i, ctx, arr + (size_t)i * t->size)) < 0)
            return rc;
    }
    return BILL_OK;
}

void bill__rows_clear(const bill__rowtype *t, void *items, size_t *count)
{
    char *arr = slot_get(items);
    for (size_t i = 0; arr && i < *count; i++)
        t->clear(arr + i * t->size);
    free(arr);
    slot_set(items, NULL);
    *count = 0;
}

int bill__conn_begin(bill_db *db, bill_conn **out)
{
    int rc;
    if ((rc = bill__conn_acquire(db, out)) < 0)
        return rc;
    if ((rc = bill__tx_begin(*out)) < 0) {
        bill__conn_release(*out);
        *out = NULL;
    }
    return rc;
}

int bill__q_db(bill_db *db, PGresult **out, const char *sql, int nparams,
               const char *const *params)
{
    bill_conn *c = NULL;
    int rc;
    if (out)
        *out = NULL;
    if ((rc = bill__conn_acquire(db, &c)) < 0)
        return rc;
    rc = bill__q(c, out, sql, nparams, params);
    bill__conn_release(c);
    return rc;
}

int bill__q_found(bill_conn *c, PGresult **res, const char *field, const char *what,
                  const char *id, const char *sql, int nparams, const char *const *params)
{
    int rc = bill__q(c, res, sql, nparams, params);
    if (rc == BILL_OK && PQntuples(*res) == 0) {
        PQclear(*res);
        *res = NULL;
        rc = bill__err(BILL_ENOTFOUND, field, "%s %s not found", what, id);
    }
    return rc;
}

const char *bill__i64_text(int64_t v, char buf[24])
{
    snprintf(buf, 24, "%" PRId64, v);
    return buf;
}

int bill__where(char *out, size_t cap, const char *base, const bill__filter *f, int n,
                const char **params)
{
    size_t len = strlen(base);
    int np = 0;
    if (len + 1 > cap)
        return -1;
    memcpy(out, base, len + 1);
    for (int i = 0; i < n; i++) {
        if (!f[i].value)
            continue;
        params[np++] = f[i].value;
        int w = snprintf(out + len, cap - len, " AND ");
        if (w < 0 || (size_t)w >= cap - len)
            return -1;
        len += (size_t)w;
        for (const char *p = f[i].pred; *p; p++) {
            if (p[0] == '$' && p[1] == '?') {
                w = snprintf(out + len, cap - len, "$%d", np);
                p++;
            } else {
                w = len + 1 < cap ? 1 : -1;
                if (w == 1)
                    out[len] = *p;
            }
            if (w < 0 || (size_t)w >= cap - len)
                return -1;
            len += (size_t)w;
        }
        out[len] = '\0';
    }
    return np;
}

int bill__list_where_init(bill__list_where *w, const char *cols, const char *base,
                          const char *order_by, const bill__filter *f, int n)
{
    w->q = (bill__list_sql){cols, w->where, order_by};
    if (n > (int)BILL__ARRAY_LEN(w->params) ||
        (w->np = bill__where(w->where, sizeof w->where, base, f, n, w->params)) < 0)
        return bill__err(BILL_EINTERNAL, NULL, "list filters too long");
    return BILL_OK;
}

/* The catalog_version row as the token totals are remembered under
 * (store.h, bill__catalog_total_get). */
#define CATALOG_TOKEN                                                                 \
    "SELECT version || ':' || (extract(epoch FROM changed_at) * 1000000)::int8 "        \
    "FROM catalog_version"

/* The key a catalog list's total is remembered under: from_where and the
 * filter values (NULL apart from ""); false when it would not fit. */
static bool total_key(char *out, size_t cap, const char *from_where, int nparams,
                      const char *const *params)
{
    size_t n = 0, l = strlen(from_where);
    if (l + 1 > cap)
        return false;
    memcpy(out, from_where, l);
    n = l;
    for (int i = 0; i < nparams; i++) {
        const char *v = params[i] ? params[i] : "";
        size_t vl = strlen(v);
        if (n + vl + 3 > cap)
            return false;
        out[n++] = params[i] ? '\x1f' : '\x1e'; /* separator; NULL marked */
        memcpy(out + n, v, vl);
        n += vl;
    }
    out[n] = '\0';
    return true;
}

static int page_query(bill_conn *c, PGresult **res, const char *cols, const char *from_where,
                      const char *order_by, bool catalog, int nparams,
                      const char *const *params, bill_page *pg, uint64_t *total)
{
    PGresult *cnt = NULL;
    char *sql = NULL, lim[24], off[24], key[1025], known_tok[BILL__CATALOG_TOKEN_SZ];
    const char *all[32];
    bill_db *db = bill__conn_db(c);
    uint64_t known_total = 0;
    bool known = false;
    int rc, np = nparams;

    *res = NULL;
    if (nparams > 29)
        return bill__err(BILL_EINTERNAL, NULL, "too many list parameters");
    bill_page_normalize(pg);
    for (int i = 0; i < nparams; i++)
        all[i] = params[i];
    if (catalog && !total_key(key, sizeof key, from_where, nparams, params))
        catalog = false;
    if (catalog) {
        /* One statement, one round trip, and no count while the catalog
         * version is the one the remembered total was counted at: the
         * CASE reads the count sub-select (an InitPlan, evaluated only
         * when read) only when the versions differ. -1 = "as you knew". */
        known = bill__catalog_total_get(db, key, known_tok, &known_total);
        all[np++] = known ? known_tok : NULL;
        sql = bill__sprintf("SELECT %s, CASE WHEN (" CATALOG_TOKEN ") = $%d::text THEN -1 "
                            "ELSE (SELECT count(*) %s) END, (" CATALOG_TOKEN ") %s "
                            "ORDER BY %s LIMIT $%d::int8 OFFSET $%d::int8",
                            cols, np, from_where, from_where, order_by, np + 1, np + 2);
    } else {
        /* One statement, one round trip (issue 13): the total is an
         * uncorrelated scalar sub-select (computed once, an InitPlan) in an
         * extra last column, which the row decoders never read. */
        sql = bill__sprintf("SELECT %s, (SELECT count(*) %s) %s ORDER BY %s "
                            "LIMIT $%d::int8 OFFSET $%d::int8",
                            cols, from_where, from_where, order_by, np + 1, np + 2);
    }
    if (!sql) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
        goto done;
    }
    all[np] = bill__i64_text(pg->page_size, lim);
    all[np + 1] = bill__i64_text((int64_t)bill_page_offset(pg), off);
    if ((rc = bill__q(c, res, sql, np + 2, all)) < 0)
        goto done;
    if (PQntuples(*res) > 0) {
        int nf = PQnfields(*res);
        const char *t = bill__val(*res, 0, catalog ? nf - 2 : nf - 1);
        if (catalog && strcmp(t, "-1") == 0) {
            *total = known_total;
        } else {
            *total = strtoull(t, NULL, 10);
            if (catalog)
                bill__catalog_total_put(db, key, bill__val(*res, 0, nf - 1), *total);
        }
    } else if (bill_page_offset(pg) == 0) {
        *total = 0;
    } else {
        /* a page past the end has no row to carry the total: ask for it */
        free(sql);
        if (!(sql = bill__sprintf("SELECT count(*) %s", from_where))) {
            rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
            goto done;
        }
        if ((rc = bill__q(c, &cnt, sql, nparams, params)) < 0)
            goto done;
        *total = strtoull(bill__val(cnt, 0, 0), NULL, 10);
    }
done:
    if (rc < 0) {
        PQclear(*res);
        *res = NULL;
    }
    PQclear(cnt);
    free(sql);
    return rc;
}

int bill__page_query(bill_conn *c, PGresult **res, const char *cols, const char *from_where,
                     const char *order_by, int nparams, const char *const *params,
                     bill_page *pg, uint64_t *total)
{
    return page_query(c, res, cols, from_where, order_by, false, nparams, params, pg, total);
}

static int list_page_in(bill_conn *c, const bill__rowtype *t, const bill__list_sql *q,
                        bool catalog, int nparams, const char *const *params,
                        const bill_page *page, const void *ctx, void *items, size_t *count,
                        bill_page_meta *meta)
{
    PGresult *res = NULL;
    bill_page pg = page ? *page : (bill_page){0, 0};
    uint64_t total = 0;
    int rc;
    if ((rc = page_query(c, &res, q->cols, q->from_where, q->order_by, catalog, nparams, params,
                         &pg, &total)) < 0 ||
        (rc = bill__rows_fill(t, res, ctx, items, count)) < 0)
        goto done;
    bill_page_meta_fill(meta, &pg, total);
done:
    if (rc < 0) {
        bill__rows_clear(t, items, count);
        memset(meta, 0, sizeof *meta);
    }
    PQclear(res);
    return rc;
}

int bill__list_page_in(bill_conn *c, const bill__rowtype *t, const bill__list_sql *q, int nparams,
                       const char *const *params, const bill_page *page, const void *ctx,
                       void *items, size_t *count, bill_page_meta *meta)
{
    return list_page_in(c, t, q, false, nparams, params, page, ctx, items, count, meta);
}

static int list_page(bill_db *db, const bill__rowtype *t, const bill__list_sql *q, bool catalog,
                     int nparams, const char *const *params, const bill_page *page,
                     const void *ctx, void *items, size_t *count, bill_page_meta *meta)
{
    bill_conn *c = NULL;
    int rc;

    slot_set(items, NULL);
    *count = 0;
    memset(meta, 0, sizeof *meta);
    if ((rc = bill__conn_acquire(db, &c)) < 0)
        return rc;
    rc = list_page_in(c, t, q, catalog, nparams, params, page, ctx, items, count, meta);
    bill__conn_release(c);
    return rc;
}

int bill__list_page(bill_db *db, const bill__rowtype *t, const bill__list_sql *q, int nparams,
                    const char *const *params, const bill_page *page, const void *ctx,
                    void *items, size_t *count, bill_page_meta *meta)
{
    return list_page(db, t, q, false, nparams, params, page, ctx, items, count, meta);
}

int bill__list_page_catalog(bill_db *db, const bill__rowtype *t, const bill__list_sql *q,
                            int nparams, const char *const *params, const bill_page *page,
                            const void *ctx, void *items, size_t *count, bill_page_meta *meta)
{
    return list_page(db, t, q, true, nparams, params, page, ctx, items, count, meta);
}

int bill__list_all_in(bill_conn *c, const bill__rowtype *t, const char *sql, int nparams,
                      const char *const *params, const void *ctx, void *items, size_t *count,
                      bill_page_meta *meta)
{
    PGresult *res = NULL;
    int rc;

    if ((rc = bill__q(c, &res, sql, nparams, params)) < 0 ||
        (rc = bill__rows_fill(t, res, ctx, items, count)) < 0)
        goto done;
    bill_page_meta_one(meta, *count);
done:
    if (rc < 0) {
        bill__rows_clear(t, items, count);
        memset(meta, 0, sizeof *meta);
    }
    PQclear(res);
    return rc;
}
