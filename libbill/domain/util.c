/*
 * util.c (domain) — helpers shared by the domain services: actor checks,
 * decoding result columns, LIKE escaping. See domain_int.h.
 */
#include "auth/access_int.h"
#include "domain/domain_int.h"

#include <inttypes.h>
#include <stdarg.h>
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
    if (!actor || actor->kind == BILL_ACTOR_SYSTEM || bill_actor_is_console(actor))
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

int bill_actor_customer_scope(const bill_actor *actor, const char *requested, bool required,
                              const char **out)
{
    int rc;
    *out = NULL;
    if ((rc = bill__require_known(actor)) < 0 ||
        (rc = bill__check_opt_id(requested, "customer_id")) < 0)
        return rc;
    if (bill_actor_is_staff(actor)) {
        if (required && !bill__opt(requested))
            return bill__err(BILL_EINVALID, "customer_id", "customer_id is required");
        *out = bill__opt(requested);
        return BILL_OK;
    }
    if (bill__opt(requested) && strcasecmp(requested, actor->customer_id) != 0)
        return bill__err(BILL_ENOTFOUND, "customer_id", "customer %.64s not found", requested);
    *out = actor->customer_id;
    return BILL_OK;
}

int bill__scope_customer(const bill_actor *actor, const char *id)
{
    const char *resolved;
    int rc;
    if ((rc = bill__require_known(actor)) < 0 ||
        (rc = bill__check_id(id, "customer_id", "customer", false)) < 0)
        return rc;
    return bill_actor_customer_scope(actor, id, true, &resolved);
}

int bill__owns(const bill_actor *actor, const char *row_customer_id, const char *what,
               const char *id)
{
    if (bill_actor_is_staff(actor))
        return BILL_OK;
    if (actor->kind == BILL_ACTOR_CUSTOMER && actor->customer_id && row_customer_id &&
        strcasecmp(actor->customer_id, row_customer_id) == 0)
        return BILL_OK;
    return bill__err(BILL_ENOTFOUND, "id", "%s %s not found", what, id);
}

int bill__list_start(void *out, size_t size, const bill_actor *actor, bool has_filter,
                     unsigned version, unsigned max_version, const char *type,
                     const char *customer_id, const char **cust)
{
    int rc;
    if (!out)
        return bill__err(BILL_EINVALID, NULL, "out is required");
    memset(out, 0, size);
    if (has_filter && (rc = bill__check_version(version, max_version, type)) < 0)
        return rc;
    return bill_actor_customer_scope(actor, customer_id, false, cust);
}

int bill__fetch_owned(bill_conn *c, const bill_actor *actor, const bill__rowtype *t,
                      const char *what, const char *sql, int owner_col, const char *id, void *out)
{
    PGresult *res = NULL;
    int rc;
    if ((rc = bill__qp_found(c, &res, "id", what, id, sql, id)) == BILL_OK &&
        (rc = bill__owns(actor, bill__val(res, 0, owner_col), what, id)) == BILL_OK)
        rc = bill__row_new(t, res, 0, NULL, out);
    PQclear(res);
    return rc;
}

int bill__get_as(bill_db *db, const bill_actor *actor, const char *id, const char *what,
                 bill__fetch_fn *fetch, void *out)
{
    bill_conn *c = NULL;
    void *none = NULL;
    int rc;
    if (!out)
        return bill__err(BILL_EINVALID, NULL, "out is required");
    memcpy(out, &none, sizeof none);
    if ((rc = bill__require_known(actor)) < 0 || (rc = bill__check_id(id, "id", what, false)) < 0 ||
        (rc = bill__conn_acquire_as(db, actor, &c)) < 0)
        return rc;
    rc = fetch(c, actor, id, out);
    bill__conn_release(c);
    return rc;
}

int bill__check_opt_id(const char *s, const char *field)
{
    if (!s || !*s || bill_uuid_valid(s))
        return BILL_OK;
    return bill__err(BILL_EINVALID, field, "%s \"%.64s\" is not a UUID", field, s);
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

int bill__dup_cols(const PGresult *r, int row, const char *what, ...)
{
    va_list ap;
    char **field;
    bool oom = false;
    va_start(ap, what);
    while ((field = va_arg(ap, char **))) {
        int col = va_arg(ap, int);
        if (!(*field = bill__col_dup(r, row, col)))
            oom = true;
    }
    va_end(ap);
    return oom ? bill__err(BILL_ENOMEM, NULL, "out of memory %s", what) : BILL_OK;
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
