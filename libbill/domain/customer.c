/*
 * customer.c — customers: validation, create/get/list/update with actor
 * scoping (a CUSTOMER actor only ever reaches its own row) and audit rows.
 * Contract in include/bill/customer.h; the balance moves only in balance.c.
 */
#include "auth/access_int.h"
#include "domain/domain_int.h"
#include "domain/oplog_int.h"
#include "domain/customer_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define CU_COLS                                                                          \
    "id, name, contact, email, phone, status, notes, balance, credit_limit, "            \
    "can_create_api_keys, " BILL__US("created_at") ", " BILL__US("updated_at")
#define CU_NCOLS 12
#define CU_JSON "to_jsonb(customers)::text"

static const unsigned ADMIN_ONLY = BILL_CUSTOMER_SET_NOTES | BILL_CUSTOMER_SET_STATUS |
                                   BILL_CUSTOMER_SET_CREDIT_LIMIT |
                                   BILL_CUSTOMER_SET_API_KEYS_FLAG;

static void cu_clear(void *item)
{
    bill_customer *c = item;
    BILL__FREE(c->id, c->name, c->contact, c->email, c->phone, c->status, c->notes);
    memset(c, 0, sizeof *c);
}

/* Fill *c from CU_COLS; notes are staff-only and blanked for others. */
static int cu_from_row(const PGresult *r, int row, const void *actor, void *item)
{
    bill_customer *c = item;
    int rc;
    if ((rc = BILL__DUP_COLS(r, row, "reading a customer", &c->id, 0, &c->name, 1, &c->contact, 2,
                                     &c->email, 3, &c->phone, 4, &c->status, 5)) < 0)
        return rc;
    if (!(c->notes = bill_actor_is_staff(actor) ? bill__col_dup(r, row, 6) : strdup("")))
        return bill__err(BILL_ENOMEM, NULL, "out of memory reading a customer");
    if ((rc = bill__money_col(r, row, 7, &c->balance)) < 0 ||
        (rc = bill__money_col(r, row, 8, &c->credit_limit)) < 0)
        return rc;
    c->can_create_api_keys = bill__bool(r, row, 9);
    c->created_at = bill__i64(r, row, 10);
    c->updated_at = bill__i64(r, row, 11);
    return BILL_OK;
}

static const bill__rowtype CU_ROW = {sizeof(bill_customer), cu_from_row, cu_clear, "customer"};

BILL__ROW_FUNCS(&CU_ROW, bill_customer, bill_customer_free, bill_customers, bill_customers_clear)

static int cu_new_from_row(const PGresult *r, int row, const bill_actor *actor,
                           bill_customer **out)
{
    return bill__row_new(&CU_ROW, r, row, actor, out);
}

static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

static int check_len(const char *v, const char *field, size_t max_chars)
{
    if (v && utf8_len(v) > max_chars)
        return bill__err(BILL_EINVALID, field, "%s is longer than %zu characters", field,
                         max_chars);
    return BILL_OK;
}

/* local@domain.tld: one '@', non-empty local part, a dot inside the domain,
 * no whitespace or control characters. Deliverability is not our business. */
static int check_email(const char *e)
{
    if (!e || !*e)
        return BILL_OK;
    size_t n = strlen(e);
    const char *at = strchr(e, '@');
    bool ok = n <= 254 && at && at != e && !strchr(at + 1, '@');
    if (ok) {
        const char *dom = at + 1, *dot = strrchr(dom, '.');
        ok = *dom && dot && dot != dom && dot[1] != '\0' && dom[0] != '.';
    }
    for (const char *p = e; ok && *p; p++)
        if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
            ok = false;
    if (!ok)
        return bill__err(BILL_EINVALID, "email", "email \"%.100s\" is not an e-mail address", e);
    return BILL_OK;
}

int bill__customer_validate(const bill_customer_input *in, unsigned int m)
{
    int rc;
    if (!in)
        return bill__err(BILL_EINVALID, NULL, "customer input is required");
    if ((rc = bill__check_version(in->version, BILL_CUSTOMER_INPUT_VERSION,
                                  "bill_customer_input")) < 0)
        return rc;
    if (m & BILL_CUSTOMER_SET_NAME) {
        const char *n = in->name;
        if (!n || !*n)
            return bill__err(BILL_EINVALID, "name", "name is required");
        if (isspace((unsigned char)n[0]) || isspace((unsigned char)n[strlen(n) - 1]))
            return bill__err(BILL_EINVALID, "name",
                             "name \"%.100s\" starts or ends with whitespace", n);
        if ((rc = check_len(n, "name", BILL_CUSTOMER_NAME_MAX)) < 0)
            return rc;
    }
    if ((m & BILL_CUSTOMER_SET_CONTACT) && (rc = check_len(in->contact, "contact", 200)) < 0)
        return rc;
    if ((m & BILL_CUSTOMER_SET_EMAIL) && (rc = check_email(in->email)) < 0)
        return rc;
    if ((m & BILL_CUSTOMER_SET_PHONE) && (rc = check_len(in->phone, "phone", 64)) < 0)
        return rc;
    if ((m & BILL_CUSTOMER_SET_NOTES) && (rc = check_len(in->notes, "notes", 4000)) < 0)
        return rc;
    if ((m & BILL_CUSTOMER_SET_STATUS) && in->status &&
        strcmp(in->status, "active") != 0 && strcmp(in->status, "suspended") != 0 &&
        strcmp(in->status, "closed") != 0)
        return bill__err(BILL_EINVALID, "status",
                         "status \"%.40s\" is not one of active, suspended, closed", in->status);
    if ((m & BILL_CUSTOMER_SET_CREDIT_LIMIT) &&
        (in->credit_limit < 0 || !bill_money_in_range(in->credit_limit))) {
        char buf[BILL_MONEY_BUFSZ];
        return bill__err(BILL_EINVALID, "credit_limit",
                         "credit_limit %s must be between 0.00 and 9999999999.99",
                         bill_money_format(in->credit_limit, buf));
    }
    return BILL_OK;
}

static const char *s_or_empty(const char *s)
{
    return s ? s : "";
}

int bill__customer_create_tx(bill_conn *conn, const bill_actor *actor,
                             const bill_customer_input *in, bill_customer **out)
{
    PGresult *res = NULL;
    char limit[BILL_MONEY_BUFSZ];
    int rc;
    if ((rc = bill__customer_validate(in, ~0u)) < 0)
        return rc;
    rc = bill__qp(conn, &res,
                  "INSERT INTO customers (name, contact, email, phone, notes, status, "
                  "credit_limit, can_create_api_keys) "
                  "VALUES ($1, $2, $3, $4, $5, $6, $7::numeric, $8::boolean) "
                  "RETURNING " CU_COLS ", " CU_JSON,
                  in->name, s_or_empty(in->contact), s_or_empty(in->email),
                  s_or_empty(in->phone), s_or_empty(in->notes),
                  in->status && *in->status ? in->status : "active",
                  bill_money_format(in->credit_limit, limit),
                  in->can_create_api_keys ? "true" : "false");
    if (rc < 0)
        goto done;
    if ((rc = bill__oplog_write(conn, actor, "customer.create", "customer", bill__val(res, 0, 0),
                                NULL, bill__val(res, 0, CU_NCOLS))) < 0)
        goto done;
    if (out)
        rc = cu_new_from_row(res, 0, actor, out);
done:
    PQclear(res);
    return rc;
}

int bill_customer_create(bill_db *db, const bill_actor *actor, const bill_customer_input *in,
                         bill_customer **out)
{
    bill_conn *c = NULL;
    bill_customer *row = NULL;
    int rc;
    if ((rc = bill__require_staff(actor, "create customers")) < 0 ||
        (rc = bill__customer_validate(in, ~0u)) < 0)
        return rc;
    if ((rc = bill__conn_begin_as(db, actor, &c)) < 0)
        goto done;
    if ((rc = bill__customer_create_tx(c, actor, in, out ? &row : NULL)) < 0)
        goto done;
    if ((rc = bill__tx_commit(c)) < 0)
        goto done;
    if (out) {
        *out = row;
        row = NULL;
    }
done:
    bill_customer_free(row);
    bill__conn_done(c);
    return rc;
}

int bill_customer_get(bill_db *db, const bill_actor *actor, const char *id, bill_customer **out)
{
    bill_conn *c = NULL;
    PGresult *res = NULL;
    int rc;
    if (!out)
        return bill__err(BILL_EINVALID, NULL, "out is required");
    if ((rc = bill__scope_customer(actor, id)) < 0)
        return rc;
    if ((rc = bill__conn_acquire_as(db, actor, &c)) < 0)
        goto done;
    if ((rc = bill__qp_found(c, &res, "customer_id", "customer", id,
                             "SELECT " CU_COLS " FROM customers WHERE id = $1", id)) < 0)
        goto done;
    rc = cu_new_from_row(res, 0, actor, out);
done:
    PQclear(res);
    bill__conn_done(c);
    return rc;
}

int bill_customer_list(bill_db *db, const bill_actor *actor, const bill_customer_filter *filter,
                       const bill_page *page, bill_customers *out)
{
    char *pattern = NULL;
    int rc;

    if (!out)
        return bill__err(BILL_EINVALID, NULL, "out is required");
    memset(out, 0, sizeof *out);
    if ((rc = bill__require_known(actor)) < 0 ||
        (rc = BILL__CHECK_VERSION(filter, BILL_CUSTOMER_FILTER_VERSION, "bill_customer_filter")) < 0)
        return rc;
    if (filter && filter->search && *filter->search &&
        !(pattern = bill__like_pattern(filter->search)))
        return bill__err(BILL_ENOMEM, NULL, "out of memory");
    /* only the filters asked for (bill__where: a generic plan that uses the indexes) */
    const bill__filter filters[] = {
        {"(name ILIKE $? ESCAPE '\\' OR email ILIKE $? ESCAPE '\\' OR "
         "contact ILIKE $? ESCAPE '\\')", pattern},
        {"status = $?", filter && filter->status && *filter->status ? filter->status : NULL},
        {"id = $?::uuid", bill_actor_is_staff(actor) ? NULL : actor->customer_id},
    };
    bill__list_where w;
    if ((rc = bill__list_where_init(&w, CU_COLS, "FROM customers WHERE true",
                                    "created_at DESC, id DESC", filters,
                                    (int)BILL__ARRAY_LEN(filters))) == BILL_OK)
        rc = BILL__LIST_PAGE_AS(db, actor, &CU_ROW, &w.q, w.np, w.params, page, actor, out);
    free(pattern);
    return rc;
}

/* A transaction as the actor with customer `id` locked; its row (CU_COLS,
 * CU_JSON) in *before. */
static int begin_locked(bill_db *db, const bill_actor *actor, const char *id, bill_conn **c,
                        PGresult **before)
{
    int rc = bill__conn_begin_as(db, actor, c);
    if (rc == BILL_OK)
        rc = bill__qp_found(*c, before, "customer_id", "customer", id,
                            "SELECT " CU_COLS ", " CU_JSON " FROM customers WHERE id = $1 FOR UPDATE",
                            id);
    return rc;
}

int bill_customer_update(bill_db *db, const bill_actor *actor, const char *id,
                         const bill_customer_input *in, unsigned int m, bill_customer **out)
{
    bill_conn *c = NULL;
    PGresult *before = NULL, *after = NULL;
    char mask[24], limit[BILL_MONEY_BUFSZ];
    int rc;

    if ((rc = bill__scope_customer(actor, id)) < 0)
        return rc;
    if (!bill_actor_is_staff(actor) && (m & ADMIN_ONLY))
        return bill__err(BILL_EDENIED, NULL,
                         "notes, status, credit_limit and can_create_api_keys are admin-only");
    if (m && (rc = bill__customer_validate(in, m)) < 0)
        return rc;
    if ((rc = begin_locked(db, actor, id, &c, &before)) < 0)
        goto done;
    if (m == 0) {
        rc = bill__tx_commit(c);
        if (rc == BILL_OK && out)
            rc = cu_new_from_row(before, 0, actor, out);
        goto done;
    }
    if (m & BILL_CUSTOMER_SET_CREDIT_LIMIT) {
        bill_money bal;
        char b1[BILL_MONEY_BUFSZ], b2[BILL_MONEY_BUFSZ];
        if ((rc = bill__money_col(before, 0, 7, &bal)) < 0)
            goto done;
        if (bal < -in->credit_limit) {
            rc = bill__err(BILL_ESTATE, "credit_limit",
                           "customer %s has balance %s; a credit limit of %s would not cover it",
                           id, bill_money_format(bal, b1),
                           bill_money_format(in->credit_limit, b2));
            goto done;
        }
    }
    const char *params[] = {
        id,
        bill__i64_text(m, mask),
        in->name,
        s_or_empty(in->contact),
        s_or_empty(in->email),
        s_or_empty(in->phone),
        s_or_empty(in->notes),
        in->status && *in->status ? in->status : "active",
        bill_money_format((m & BILL_CUSTOMER_SET_CREDIT_LIMIT) ? in->credit_limit : 0, limit),
        in->can_create_api_keys ? "true" : "false",
    };
    rc = bill__q(c, &after,
                 "UPDATE customers SET "
                 "name = CASE WHEN ($2::int & 1) <> 0 THEN $3 ELSE name END, "
                 "contact = CASE WHEN ($2::int & 2) <> 0 THEN $4 ELSE contact END, "
                 "email = CASE WHEN ($2::int & 4) <> 0 THEN $5 ELSE email END, "
                 "phone = CASE WHEN ($2::int & 8) <> 0 THEN $6 ELSE phone END, "
                 "notes = CASE WHEN ($2::int & 16) <> 0 THEN $7 ELSE notes END, "
                 "status = CASE WHEN ($2::int & 32) <> 0 THEN $8 ELSE status END, "
                 "credit_limit = CASE WHEN ($2::int & 64) <> 0 THEN $9::numeric "
                 "  ELSE credit_limit END, "
                 "can_create_api_keys = CASE WHEN ($2::int & 128) <> 0 THEN $10::boolean "
                 "  ELSE can_create_api_keys END, "
                 "updated_at = bill_now() "
                 "WHERE id = $1 RETURNING " CU_COLS ", " CU_JSON,
                 (int)BILL__ARRAY_LEN(params), params);
    if (rc < 0)
        goto done;
    if ((rc = bill__oplog_write(c, actor, "customer.update", "customer", id,
                                bill__val(before, 0, CU_NCOLS), bill__val(after, 0, CU_NCOLS))) < 0)
        goto done;
    if ((rc = bill__tx_commit(c)) < 0)
        goto done;
    if (out)
        rc = cu_new_from_row(after, 0, actor, out);
done:
    PQclear(before);
    PQclear(after);
    bill__conn_done(c);
    return rc;
}

int bill_customer_set_credit_limit(bill_db *db, const bill_actor *actor, const char *id,
                                   bill_money credit_limit)
{
    bill_customer_input in = {.version = BILL_CUSTOMER_INPUT_VERSION, .credit_limit = credit_limit};
    return bill_customer_update(db, actor, id, &in, BILL_CUSTOMER_SET_CREDIT_LIMIT, NULL);
}

int bill_customer_set_api_keys_flag(bill_db *db, const bill_actor *actor, const char *id,
                                    bool allowed)
{
    bill_customer_input in = {.version = BILL_CUSTOMER_INPUT_VERSION,
                              .can_create_api_keys = allowed};
    return bill_customer_update(db, actor, id, &in, BILL_CUSTOMER_SET_API_KEYS_FLAG, NULL);
}

int bill_customer_delete(bill_db *db, const bill_actor *actor, const char *id)
{
    bill_conn *c = NULL;
    PGresult *before = NULL;
    int rc;
    if ((rc = bill__require_staff(actor, "delete customers")) < 0 ||
        (rc = bill__check_id(id, "customer_id", "customer", false)) < 0)
        return rc;
    if ((rc = begin_locked(db, actor, id, &c, &before)) < 0)
        goto done;
    /* The history tables reference customers ON DELETE RESTRICT. */
    rc = bill__qp(c, NULL, "DELETE FROM customers WHERE id = $1", id);
    if (rc == BILL_EINVALID && strcmp(bill_error_last()->sqlstate, "23503") == 0)
        rc = bill__err(BILL_ESTATE, "customer_id",
                       "customer %s has orders, instances, invoices, payments, tickets or balance "
                       "transactions and cannot be deleted; set its status to closed instead",
                       id);
    if (rc < 0)
        goto done;
    if ((rc = bill__oplog_write(c, actor, "customer.delete", "customer", id,
                                bill__val(before, 0, CU_NCOLS), NULL)) < 0)
        goto done;
    rc = bill__tx_commit(c);
done:
    PQclear(before);
    bill__conn_done(c);
    return rc;
}
