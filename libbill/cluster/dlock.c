/*
 * dlock.c — distributed locks of redis.h (bill_dlock_try).
 *
 * With Redis up: SET <prefix>:lock:<name> <token> NX PX <ttl>; the token is
 * 32 random bytes, so only the holder's release (EVAL of a compare-and-
 * delete: GET == token → DEL, atomic on the server) removes the key, and a
 * holder that died loses the lock when PX runs out. Without Redis, or
 * while it is down: pg_try_advisory_lock(<namespace>, hashtext(name)) on a
 * pool connection kept until the release (a dead holder's lock goes with
 * its session). The two-key form keeps these apart from the migration
 * lock's single bigint key.
 *
 * The two backends do not see each other: at the instant Redis fails, a
 * holder on Redis and a newcomer on PostgreSQL can overlap for up to the
 * ttl. That is why these locks only guard work that is correct without
 * them (redis.h).
 */
#include "cluster/redis_int.h"
#include "store/store.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* hashtext('libbill.dlock') would do as well; a constant reads clearer. */
#define DLOCK_PG_NAMESPACE "1651665483"

static const char RELEASE_LUA[] =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
    "else return 0 end";

struct bill_dlock {
    bill_db *db;
    bill_redis *redis; /* held on Redis, else ... */
    bill_conn *conn;   /* ... on this PostgreSQL session */
    char name[65];
    char key[160];
    char token[48];
};

static bool name_ok(const char *n)
{
    size_t len = n ? strlen(n) : 0;
    if (len < 1 || len > 64)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '_' ||
              n[i] == '.' || n[i] == '-'))
            return false;
    return true;
}

/* BILL_OK with *got; < 0 when Redis did not answer (the caller falls back). */
static int try_redis(bill_dlock *l, bill_redis *r, int ttl_ms, bool *got)
{
    unsigned char raw[24];
    char part[80], ttl[16];
    bill__rcmd set = {0};
    redisReply *rep = NULL;
    int rc;

    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(l->token, sizeof l->token, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(part, sizeof part, "lock:%s", l->name);
    bill__redis_key(r, part, l->key, sizeof l->key);
    snprintf(ttl, sizeof ttl, "%d", ttl_ms);
    bill__rcmd_arg(&set, "SET");
    bill__rcmd_arg(&set, l->key);
    bill__rcmd_arg(&set, l->token);
    bill__rcmd_arg(&set, "NX");
    bill__rcmd_arg(&set, "PX");
    bill__rcmd_arg(&set, ttl);
    if ((rc = bill__redis_run(r, 1, &set, &rep)) == BILL_OK) {
        *got = rep->type == REDIS_REPLY_STATUS;
        if (*got)
            l->redis = r;
    }
    bill__redis_replies_free(1, &rep);
    return rc;
}

static int try_pg(bill_dlock *l, bool *got)
{
    PGresult *res = NULL;
    bill_conn *c = NULL;
    int rc;
    if ((rc = bill__conn_acquire(l->db, &c)) < 0)
        return rc;
    rc = bill__qp(c, &res, "SELECT pg_try_advisory_lock(" DLOCK_PG_NAMESPACE ", hashtext($1))",
                  l->name);
    if (rc == BILL_OK && PQntuples(res) == 1 && bill__val(res, 0, 0)[0] == 't') {
        *got = true;
        l->conn = c;
        c = NULL;
    }
    PQclear(res);
    bill__conn_release(c);
    return rc;
}

int bill_dlock_try(bill_db *db, const char *name, int ttl_ms, bill_dlock **out, bool *got)
{
    bill_dlock *l;
    bill_redis *r = bill_db_redis(db);
    int rc;

    if (!db || !out || !got)
        return bill__err(BILL_EINVALID, NULL, "bill_dlock_try: db, out and got are required");
    *out = NULL;
    *got = false;
    if (!name_ok(name))
        return bill__err(BILL_EINVALID, "name",
                         "lock name must be 1..64 characters of [a-z0-9_.-] (got \"%.70s\")",
                         name ? name : "");
    if (ttl_ms < 1)
        return bill__err(BILL_EINVALID, "ttl_ms", "lock ttl must be at least 1 ms (got %d)",
                         ttl_ms);
    if (!(l = calloc(1, sizeof *l)))
        return bill__err(BILL_ENOMEM, NULL, "out of memory taking lock %s", name);
    l->db = db;
    snprintf(l->name, sizeof l->name, "%s", name);
    rc = r ? try_redis(l, r, ttl_ms, got) : BILL_EUNAVAILABLE;
    if (rc < 0) {
        if (r)
            bill__redis_fallback(r);
        rc = try_pg(l, got);
    }
    if (rc < 0 || !*got) {
        free(l);
        return rc;
    }
    *out = l;
    return BILL_OK;
}

const char *bill_dlock_backend(const bill_dlock *l)
{
    return !l ? "" : l->redis ? "redis" : "postgres";
}

void bill_dlock_release(bill_dlock *l)
{
    if (!l)
        return;
    if (l->redis) {
        bill__rcmd del = {0};
        redisReply *rep = NULL;
        bill__rcmd_arg(&del, "EVAL");
        bill__rcmd_arg(&del, RELEASE_LUA);
        bill__rcmd_arg(&del, "1");
        bill__rcmd_arg(&del, l->key);
        bill__rcmd_arg(&del, l->token);
        /* Redis down: the key ends with its PX. */
        (void)bill__redis_run(l->redis, 1, &del, &rep);
        bill__redis_replies_free(1, &rep);
    }
    if (l->conn) {
        PGresult *res = NULL;
        (void)bill__qp(l->conn, &res,
                       "SELECT pg_advisory_unlock(" DLOCK_PG_NAMESPACE ", hashtext($1))", l->name);
        PQclear(res);
        bill__conn_release(l->conn);
    }
    sodium_memzero(l->token, sizeof l->token);
    free(l);
}
