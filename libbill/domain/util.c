/*
 * util.c (domain) — helpers shared by the domain services: actor checks,
 * decoding result columns, LIKE escaping. See domain_int.h.
 */
#include "domain/domain_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int bill__require_staff(const bill_actor *actor, const char *what)
{
    if (bill_actor_is_staff(actor))
        return BILL_OK;
    return bill__err(BILL_EDENIED, NULL, "only staff may %s", what);
}

int bill__require_superadmin(const bill_actor *actor, const char *what)
{
    if (!actor || actor->kind == BILL_ACTOR_SYSTEM || actor->kind == BILL_ACTOR_CLI)
        return BILL_OK;
    if (actor->kind == BILL_ACTOR_ADMIN && (!actor->role || strcmp(actor->role, "admin") == 0))
        return BILL_OK;
    return bill__err(BILL_EDENIED, NULL, "only administrators with role \"admin\" may %s", what);
}

int bill__require_known(const bill_actor *actor)
{
    if (bill_actor_is_staff(actor))
        return BILL_OK;
    if (actor->kind == BILL_ACTOR_CUSTOMER && actor->customer_id && *actor->customer_id)
        return BILL_OK;
    if (actor->kind == BILL_ACTOR_CUSTOMER)
        return bill__err(BILL_EUNAUTH, NULL, "customer actor without a customer id");
    return bill__err(BILL_EUNAUTH, NULL, "sign in first");
}

int bill__check_id(const char *id, const char *field, const char *what, bool strict)
{
    if (bill_uuid_valid(id))
        return BILL_OK;
    if (!id || !*id)
        return bill__err(BILL_EINVALID, field, "%s is required", field);
    if (strict)
        return bill__err(BILL_EINVALID, field, "%s \"%.64s\" is not a UUID", field, id);
    return bill__err(BILL_ENOTFOUND, field, "%s %.64s not found", what, id);
}

int bill__scope_customer(const bill_actor *actor, const char *id)
{
    int rc;
    if ((rc = bill__require_known(actor)) < 0)
        return rc;
    if ((rc = bill__check_id(id, "customer_id", "customer", false)) < 0)
        return rc;
    if (!bill_actor_is_staff(actor) && strcasecmp(actor->customer_id, id) != 0)
        return bill__err(BILL_ENOTFOUND, "customer_id", "customer %s not found", id);
    return BILL_OK;
}

int64_t bill__i64(const PGresult *r, int row, int col)
{
    const char *v = bill__val(r, row, col);
    return *v ? strtoll(v, NULL, 10) : 0;
}

int bill__money_col(const PGresult *r, int row, int col, bill_money *out)
{
    const char *v = bill__val(r, row, col);
    if (!*v) {
        *out = 0;
        return BILL_OK;
    }
    if (bill_money_parse_field(v, PQfname(r, col), out) < 0)
        return bill__err(BILL_EINTERNAL, PQfname(r, col),
                         "database returned \"%s\" for money column %s", v, PQfname(r, col));
    return BILL_OK;
}

bool bill__bool(const PGresult *r, int row, int col)
{
    return strcmp(bill__val(r, row, col), "t") == 0;
}

char *bill__col_dup(const PGresult *r, int row, int col)
{
    return strdup(bill__val(r, row, col));
}

char *bill__like_pattern(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(2 * n + 3), *p = out;
    if (!out)
        return NULL;
    *p++ = '%';
    for (; *s; s++) {
        if (*s == '\\' || *s == '%' || *s == '_')
            *p++ = '\\';
        *p++ = *s;
    }
    *p++ = '%';
    *p = '\0';
    return out;
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
    if (!(sql = bill__sprintf("SELECT count(*) %s", from_where))) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
        goto done;
    }
    if ((rc = bill__q(c, &cnt, sql, nparams, params)) < 0)
        goto done;
    *total = (uint64_t)bill__i64(cnt, 0, 0);
    free(sql);
    sql = bill__sprintf("SELECT %s %s ORDER BY %s LIMIT $%d::int8 OFFSET $%d::int8", cols,
                        from_where, order_by, nparams + 1, nparams + 2);
    if (!sql) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
        goto done;
    }
    for (int i = 0; i < nparams; i++)
        all[i] = params[i];
    all[nparams] = bill__i64_text(pg->page_size, lim);
    all[nparams + 1] = bill__i64_text((int64_t)bill_page_offset(pg), off);
    rc = bill__q(c, res, sql, nparams + 2, all);
done:
    PQclear(cnt);
    free(sql);
    return rc;
}
