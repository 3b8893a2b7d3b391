/*
 * access.c — who may act as a customer right now (issue 8, defect 4): the
 * one account-status rule every customer credential path applies (login,
 * refresh, password change, API keys, every authenticated domain call), so
 * bill-server, bill-cli, bill-tui and embedders refuse the same accounts.
 *
 * A JWT is checked without the database (its signature and expiry), so a
 * token issued before a suspension would keep working if nothing else
 * looked. bill__conn_acquire_as looks on every call a customer makes: the
 * status query is the first statement on the borrowed connection, in place
 * of the pool's "SELECT 1" liveness ping, so it costs no extra round trip
 * and is never cached (a later token cache keeps it fresh).
 */
#include "auth/access_int.h"
#include "bill/uuid.h"

#include <string.h>

int bill_customer_status_check(const char *customer_id, const char *status)
{
    const char *id = customer_id && *customer_id ? customer_id : "of this login";
    if (status && strcmp(status, "active") == 0)
        return BILL_OK;
    if (status && strcmp(status, "suspended") == 0)
        return bill__err(BILL_EDENIED, "customer_status",
                         "customer account %s is suspended; contact support", id);
    if (status && strcmp(status, "closed") == 0)
        return bill__err(BILL_EDENIED, "customer_status", "customer account %s is closed", id);
    return bill__err(BILL_EDENIED, "customer_status", "customer account %s is %.32s", id,
                     status && *status ? status : "unknown");
}

int bill__conn_acquire_as(bill_db *db, const bill_actor *actor, bill_conn **out)
{
    PGresult *res = NULL;
    int rc;

    if (!actor || actor->kind != BILL_ACTOR_CUSTOMER)
        return bill__conn_acquire(db, out);
    if (!bill_uuid_valid(actor->customer_id))
        return bill__err(BILL_EUNAUTH, NULL, "this login names no valid customer");
    /* The login's customer user (a JWT's sub) must still exist and be
     * active too; an API key has none, and an embedder's own non-UUID
     * user ids name nothing here. */
    const char *user = !actor->api_key_id && bill_uuid_valid(actor->user_id) ? actor->user_id
                                                                            : NULL;
    rc = bill__conn_acquire_probe(
        db, out, &res,
        "SELECT c.status, (SELECT u.is_active FROM customer_users u WHERE u.id = $2::uuid "
        "AND u.customer_id = c.id) FROM customers c WHERE c.id = $1::uuid",
        2, (const char *const[]){actor->customer_id, user});
    if (rc < 0)
        return rc;
    if (PQntuples(res) != 1)
        rc = bill__err(BILL_EUNAUTH, NULL, "customer %s of this login no longer exists",
                       actor->customer_id);
    else if (user && bill__val(res, 0, 1)[0] != 't')
        rc = bill__err(BILL_EUNAUTH, NULL, "customer user %s is disabled or no longer exists",
                       user);
    else
        rc = bill_customer_status_check(actor->customer_id, bill__val(res, 0, 0));
    PQclear(res);
    if (rc < 0) {
        bill__conn_release(*out);
        *out = NULL;
    }
    return rc;
}

int bill__conn_begin_as(bill_db *db, const bill_actor *actor, bill_conn **out)
{
    int rc;
    if ((rc = bill__conn_acquire_as(db, actor, out)) < 0)
        return rc;
    if ((rc = bill__tx_begin(*out)) < 0) {
        bill__conn_release(*out);
        *out = NULL;
    }
    return rc;
}

int bill__list_page_as(bill_db *db, const bill_actor *actor, const bill__rowtype *t,
                       const bill__list_sql *q, int nparams, const char *const *params,
                       const bill_page *page, const void *ctx, void *items, size_t *count,
                       bill_page_meta *meta)
{
    bill_conn *c = NULL;
    void *none = NULL;
    int rc;
    memcpy(items, &none, sizeof none); /* items is the address of a T * */
    *count = 0;
    memset(meta, 0, sizeof *meta);
    if ((rc = bill__conn_acquire_as(db, actor, &c)) < 0)
        return rc;
    rc = bill__list_page_in(c, t, q, nparams, params, page, ctx, items, count, meta);
    bill__conn_release(c);
    return rc;
}
