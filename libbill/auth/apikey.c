/*
 * apikey.c — customer API keys: create / list / revoke / resolve
 * (include/bill/apikey.h).
 *
 * Keys are looked up by the SHA-256 of the whole presented value: the
 * comparison happens inside a unique-index lookup of a digest of a 256-bit
 * random secret, which leaks nothing useful through timing. Revocation sets
 * enabled=false and revoked_at in one UPDATE, and resolve reads the row on
 * every request (no cache), so a revoked key fails on the very next call.
 */
#include "auth/access_int.h"
#include "auth/auth_int.h"
#include "bill/apikey.h"
#include "bill/uuid.h"
#include "domain/oplog_int.h"
#include "store/store.h"

#include <json-c/json.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX_LEN 128
#define INFO_COLS                                                                       \
    "k.id, k.customer_id, k.key_prefix, k.name, k.enabled AND k.revoked_at IS NULL,"    \
    " " BILL__US("k.created_at") ", coalesce(" BILL__US("k.last_used_at") ", 0),"       \
    " coalesce(" BILL__US("k.expires_at") ", 0)"

static void info_from_row(const PGresult *r, int row, bill_apikey_info *k)
{
    memset(k, 0, sizeof *k);
    bill__auth_copy(k->id, sizeof k->id, PQgetvalue(r, row, 0));
    bill__auth_copy(k->customer_id, sizeof k->customer_id, PQgetvalue(r, row, 1));
    bill__auth_copy(k->key_prefix, sizeof k->key_prefix, PQgetvalue(r, row, 2));
    bill__auth_copy(k->name, sizeof k->name, PQgetvalue(r, row, 3));
    k->enabled = strcmp(PQgetvalue(r, row, 4), "t") == 0;
    k->created_at_us = bill__auth_parse_i64(PQgetvalue(r, row, 5));
    k->last_used_at_us = bill__auth_parse_i64(PQgetvalue(r, row, 6));
    k->expires_at_us = bill__auth_parse_i64(PQgetvalue(r, row, 7));
}

static int info_decode(const PGresult *r, int row, const void *ctx, void *item)
{
    info_from_row(r, row, item);
    return BILL_OK;
}

static void info_clear(void *item)
{
    memset(item, 0, sizeof(bill_apikey_info));
}

static const bill__rowtype INFO_ROW = {sizeof(bill_apikey_info), info_decode, info_clear,
                                       "API key"};

void bill_apikeys_clear(bill_apikeys *l)
{
    BILL__LIST_CLEAR(&INFO_ROW, l);
}

static int no_key_actor(const bill_actor *actor, const char *what)
{
    if (actor && actor->kind == BILL_ACTOR_CUSTOMER && actor->api_key_id)
        return bill__err(BILL_EDENIED, NULL, "API keys cannot %s API keys; sign in instead", what);
    return BILL_OK;
}

static char *audit_json(const bill_apikey_info *k)
{
    json_object *o = json_object_new_object();
    char *s = NULL;
    if (!o)
        return NULL;
    json_object_object_add(o, "customer_id", json_object_new_string(k->customer_id));
    json_object_object_add(o, "key_prefix", json_object_new_string(k->key_prefix));
    json_object_object_add(o, "name", json_object_new_string(k->name));
    json_object_object_add(o, "enabled", json_object_new_boolean(k->enabled));
    s = bill__strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

int bill_apikey_create(bill_db *db, const bill_actor *actor, const char *customer_id,
                       const char *name, int64_t now_us, char **key_out, bill_apikey_info *info)
{
    static const char alphabet[] = "abcdefghijkmnopqrstuvwxyz23456789";
    int rc;
    bill_conn *c = NULL;
    PGresult *cust = NULL, *ins = NULL;
    const char *cid = NULL;
    char prefix[9], hash[BILL__SHA256_HEX_LEN], nowb[BILL__I64_BUFSZ];
    char *secret = NULL, *key = NULL, *after = NULL;
    bill_apikey_info k;

    if (!db || !key_out)
        return bill__err(BILL_EINVALID, NULL, "db and key_out must not be NULL");
    *key_out = NULL;
    if ((rc = no_key_actor(actor, "create")) < 0)
        return rc;
    if ((rc = bill_actor_customer_scope(actor, customer_id, true, &cid)) < 0)
        return rc;
    if (!name)
        name = "";
    if (strlen(name) > 100)
        return bill__err(BILL_EINVALID, "name", "name must be at most 100 characters");
    if (sodium_init() < 0)
        return bill__err(BILL_EINTERNAL, NULL, "libsodium failed to initialise");
    for (size_t i = 0; i < 8; i++)
        prefix[i] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
    prefix[8] = '\0';
    if (!(secret = bill__auth_random_token(""))) {
        rc = BILL_ENOMEM;
        goto done;
    }
    if (!(key = bill__sprintf("rb_%s_%s", prefix, secret))) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory creating an API key");
        goto done;
    }
    bill__auth_sha256_hex(key, hash);
    bill__auth_i64(now_us, nowb);

    if ((rc = bill__conn_acquire_as(db, actor, &c)) < 0)
        goto done;
    if ((rc = bill__tx_begin(c)) < 0)
        goto done;
    /* Lock the customer so the per-customer cap holds under concurrency. */
    rc = bill__qp(c, &cust,
                  "SELECT can_create_api_keys,"
                  " (SELECT count(*) FROM api_keys WHERE customer_id = $1::uuid AND revoked_at IS NULL)"
                  " FROM customers WHERE id = $1::uuid FOR UPDATE",
                  cid);
    if (rc < 0)
        goto done;
    if (PQntuples(cust) != 1) {
        rc = bill__err(BILL_ENOTFOUND, "customer_id", "customer %s not found", cid);
        goto done;
    }
    if (strcmp(PQgetvalue(cust, 0, 0), "t") != 0) {
        rc = bill__err(BILL_EDENIED, "customer_id",
                       "this customer may not create API keys (ask an administrator to enable"
                       " can_create_api_keys)");
        goto done;
    }
    if (atol(PQgetvalue(cust, 0, 1)) >= BILL_APIKEY_MAX_PER_CUSTOMER) {
        rc = bill__err(BILL_ELIMIT, "customer_id", "customer already has %d API keys; revoke one first",
                       BILL_APIKEY_MAX_PER_CUSTOMER);
        goto done;
    }
    rc = bill__qp(c, &ins,
                  "INSERT INTO api_keys AS k (customer_id, name, key_prefix, key_hash, created_at)"
                  " VALUES ($1::uuid, $2, $3, $4, " BILL__TS("$5") ") RETURNING " INFO_COLS,
                  cid, name, prefix, hash, nowb);
    if (rc < 0)
        goto done;
    info_from_row(ins, 0, &k);
    after = audit_json(&k);
    if ((rc = bill__oplog_write(c, actor, "apikey.create", "api_key", k.id, NULL, after)) < 0)
        goto done;
    if ((rc = bill__tx_commit(c)) < 0)
        goto done;
    if (info)
        *info = k;
    *key_out = key;
    key = NULL;
done:
    if (rc < 0 && c)
        bill__tx_rollback(c);
    free(after);
    bill__free_secret(secret);
    bill__free_secret(key);
    PQclear(ins);
    PQclear(cust);
    bill__conn_release(c);
    return rc;
}

int bill_apikey_list(bill_db *db, const bill_actor *actor, const char *customer_id,
                     bill_apikeys *out)
{
    int rc;
    bill_conn *c = NULL;
    const char *cid = NULL;

    if (!db || !out)
        return bill__err(BILL_EINVALID, NULL, "db and out must not be NULL");
    memset(out, 0, sizeof *out);
    if ((rc = bill_actor_customer_scope(actor, customer_id, true, &cid)) < 0)
        return rc;
    if ((rc = bill__conn_acquire_as(db, actor, &c)) < 0)
        return rc;
    rc = bill__list_all_in(c, &INFO_ROW,
                           "SELECT " INFO_COLS " FROM api_keys k WHERE k.customer_id = $1::uuid"
                           " ORDER BY k.created_at, k.id",
                           1, (const char *const[]){cid}, NULL, BILL__LIST_OUT(&INFO_ROW, out));
    bill__conn_release(c);
    return rc;
}

int bill_apikey_revoke(bill_db *db, const bill_actor *actor, const char *id, int64_t now_us)
{
    int rc;
    bill_conn *c = NULL;
    PGresult *sel = NULL, *upd = NULL;
    char nowb[BILL__I64_BUFSZ];
    char *before = NULL, *after = NULL;
    bill_apikey_info k;

    if (!db)
        return bill__err(BILL_EINVALID, "db", "db must not be NULL");
    if ((rc = no_key_actor(actor, "revoke")) < 0)
        return rc;
    if (actor && actor->kind == BILL_ACTOR_ANONYMOUS)
        return bill__err(BILL_EUNAUTH, NULL, "sign in to manage API keys");
    if (!bill_uuid_valid(id))
        return bill__err(BILL_ENOTFOUND, "id", "API key \"%.40s\" not found", id ? id : "");
    bill__auth_i64(now_us, nowb);
    if ((rc = bill__conn_acquire_as(db, actor, &c)) < 0)
        goto done;
    if ((rc = bill__tx_begin(c)) < 0)
        goto done;
    rc = bill__qp(c, &sel, "SELECT " INFO_COLS " FROM api_keys k WHERE k.id = $1::uuid FOR UPDATE", id);
    if (rc < 0)
        goto done;
    if (PQntuples(sel) != 1 ||
        (actor && actor->kind == BILL_ACTOR_CUSTOMER &&
         (!actor->customer_id || strcmp(actor->customer_id, PQgetvalue(sel, 0, 1)) != 0))) {
        rc = bill__err(BILL_ENOTFOUND, "id", "API key %s not found", id);
        goto done;
    }
    info_from_row(sel, 0, &k);
    before = audit_json(&k);
    rc = bill__qp(c, &upd,
                  "UPDATE api_keys SET enabled = false,"
                  " revoked_at = coalesce(revoked_at, " BILL__TS("$2") ") WHERE id = $1::uuid",
                  id, nowb);
    if (rc < 0)
        goto done;
    k.enabled = false;
    after = audit_json(&k);
    if ((rc = bill__oplog_write(c, actor, "apikey.revoke", "api_key", id, before, after)) < 0)
        goto done;
    rc = bill__tx_commit(c);
done:
    if (rc < 0 && c)
        bill__tx_rollback(c);
    free(before);
    free(after);
    PQclear(upd);
    PQclear(sel);
    bill__conn_release(c);
    return rc;
}

int bill_apikey_resolve(bill_db *db, const char *key, int64_t now_us, bill_apikey_info *out)
{
    int rc;
    bill_conn *c = NULL;
    PGresult *res = NULL, *upd = NULL;
    char hash[BILL__SHA256_HEX_LEN], nowb[BILL__I64_BUFSZ];
    bill_apikey_info k;

    if (!db || !out)
        return bill__err(BILL_EINVALID, NULL, "db and out must not be NULL");
    memset(out, 0, sizeof *out);
    if (!key || strncmp(key, "rb_", 3) != 0 || strnlen(key, KEY_MAX_LEN + 1) > KEY_MAX_LEN)
        return bill__err(BILL_EUNAUTH, "x-api-key", "API key is malformed");
    bill__auth_sha256_hex(key, hash);
    bill__auth_i64(now_us, nowb);
    if ((rc = bill__conn_acquire(db, &c)) < 0)
        goto done;
    rc = bill__qp(c, &res,
                  "SELECT " INFO_COLS ", c.status FROM api_keys k JOIN customers c ON c.id = k.customer_id"
                  " WHERE k.key_hash = $1",
                  hash);
    if (rc < 0)
        goto done;
    if (PQntuples(res) != 1) {
        rc = bill__err(BILL_EUNAUTH, "x-api-key", "API key not recognised");
        goto done;
    }
    info_from_row(res, 0, &k);
    if (!k.enabled) {
        rc = bill__err(BILL_EUNAUTH, "x-api-key", "API key %s was revoked", k.key_prefix);
        goto done;
    }
    if (k.expires_at_us && now_us >= k.expires_at_us) {
        rc = bill__err(BILL_EUNAUTH, "x-api-key", "API key %s expired", k.key_prefix);
        goto done;
    }
    if ((rc = bill_customer_status_check(k.customer_id, PQgetvalue(res, 0, 8))) < 0)
        goto done;
    if (!k.last_used_at_us || now_us - k.last_used_at_us >= 60 * 1000000LL) {
        rc = bill__qp(c, &upd,
                      "UPDATE api_keys SET last_used_at = " BILL__TS("$2")
                      " WHERE id = $1::uuid AND (last_used_at IS NULL OR last_used_at < " BILL__TS("$2") ")",
                      k.id, nowb);
        if (rc < 0)
            goto done;
        k.last_used_at_us = now_us;
    }
    *out = k;
done:
    PQclear(upd);
    PQclear(res);
    bill__conn_release(c);
    return rc;
}

void bill_apikey_actor(const bill_apikey_info *k, bill_actor *actor)
{
    if (!actor)
        return;
    memset(actor, 0, sizeof *actor);
    actor->kind = BILL_ACTOR_CUSTOMER;
    if (!k)
        return;
    actor->customer_id = k->customer_id;
    actor->api_key_id = k->id;
    actor->username = k->key_prefix;
}
