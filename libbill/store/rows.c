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

const char *bill__i64_text(int64_t v, char buf[24])
{
    snprintf(buf, 24, "%" PRId64, v);
    return buf;
}

int bill__page_query(bill_conn *c, PGresult **res, const char *cols, const char *from_where,
                     const char *order_by, int nparams, const char *const *params,
                     bill_page *pg, uint64_t *total)
{
    PGresult *cnt = NULL;
    char *sql = NULL, lim[24], off[24];
    const char *all[32];
    int rc;

    *res = NULL;
    if (nparams > 30)
        return bill__err(BILL_EINTERNAL, NULL, "too many list parameters");
    bill_page_normalize(pg);
    /* One statement, one round trip (issue 13): the total is an
     * uncorrelated scalar sub-select (computed once, an InitPlan) in an
     * extra last column, which the row decoders never read. */
    sql = bill__sprintf("SELECT %s, (SELECT count(*) %s) %s ORDER BY %s "
                        "LIMIT $%d::int8 OFFSET $%d::int8",
                        cols, from_where, from_where, order_by, nparams + 1, nparams + 2);
    if (!sql) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
        goto done;
    }
    for (int i = 0; i < nparams; i++)
        all[i] = params[i];
    all[nparams] = bill__i64_text(pg->page_size, lim);
    all[nparams + 1] = bill__i64_text((int64_t)bill_page_offset(pg), off);
    if ((rc = bill__q(c, res, sql, nparams + 2, all)) < 0)
        goto done;
    if (PQntuples(*res) > 0) {
        *total = strtoull(bill__val(*res, 0, PQnfields(*res) - 1), NULL, 10);
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

int bill__list_page_in(bill_conn *c, const bill__rowtype *t, const bill__list_sql *q, int nparams,
                       const char *const *params, const bill_page *page, const void *ctx,
                       void *items, size_t *count, bill_page_meta *meta)
{
    PGresult *res = NULL;
    bill_page pg = page ? *page : (bill_page){0, 0};
    uint64_t total = 0;
    int rc;

    if ((rc = bill__page_query(c, &res, q->cols, q->from_where, q->order_by, nparams, params, &pg,
                               &total)) < 0 ||
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

int bill__list_page(bill_db *db, const bill__rowtype *t, const bill__list_sql *q, int nparams,
                    const char *const *params, const bill_page *page, const void *ctx,
                    void *items, size_t *count, bill_page_meta *meta)
{
    bill_conn *c = NULL;
    int rc;

    slot_set(items, NULL);
    *count = 0;
    memset(meta, 0, sizeof *meta);
    if ((rc = bill__conn_acquire(db, &c)) < 0)
        return rc;
    rc = bill__list_page_in(c, t, q, nparams, params, page, ctx, items, count, meta);
    bill__conn_release(c);
    return rc;
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
