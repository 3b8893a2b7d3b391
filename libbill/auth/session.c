/*
 * session.c — server-side admin sessions (include/bill/auth.h, R-SRV-3).
 *
 * The cookie carries 32 random bytes (base64url); the table keeps only their
 * SHA-256, so a database dump does not hand out live sessions. Both timeouts
 * are enforced here on every resolve rather than trusted to the cookie's
 * Max-Age: idle (last_seen_at + idle minutes) and absolute (created_at +
 * absolute hours). Resolving bumps last_seen_at at most once a minute, so a
 * busy admin UI does not turn every read into a write.
 *
 * With Redis (redis.h) resolving is cache-aside: one round trip (MGET of
 * the cache generation and <prefix>:sess:<token hash>) answers a session
 * read from PostgreSQL less than a minute ago — the same minute in which
 * resolving would not write last_seen_at anyway — with every timeout
 * checked against the cached instants as here; after that minute, on a
 * miss, or under another generation, PostgreSQL answers (and bumps
 * last_seen_at) and the entry is written under the generation read
 * *before* the query. Every revocation bumps the generation after its
 * commit (bill__redis_invalidate), so an entry filled from a read that
 * raced the revocation carries the old generation and is never used: a
 * signed-out session is refused at once by every server. Redis down: the
 * database answers, as without Redis.
 */
#include "auth/auth_int.h"
#include "bill/auth.h"
#include "bill/uuid.h"
#include "store/store.h"
#include "cluster/redis_int.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_MAX_LEN 256

int bill_session_create(bill_db *db, const char *admin_user_id, const char *ip,
                        const char *user_agent, int absolute_timeout_hours, int64_t now_us,
                        char **token_out)
{
    int rc;
    bill_conn *c = NULL;
    PGresult *res = NULL;
    char *token = NULL;
    char hash[BILL__SHA256_HEX_LEN], nowb[BILL__I64_BUFSZ], expb[BILL__I64_BUFSZ];

    if (!db || !token_out)
        return bill__err(BILL_EINVALID, NULL, "db and token_out must not be NULL");
    *token_out = NULL;
    if (!bill_uuid_valid(admin_user_id))
        return bill__err(BILL_EINVALID, "admin_user_id", "admin user id \"%.40s\" is not a UUID",
                         admin_user_id ? admin_user_id : "");
    if (absolute_timeout_hours < 1)
        return bill__err(BILL_EINVALID, "session.absolute_timeout_hours",
                         "[session] absolute_timeout_hours must be at least 1 (got %d)",
                         absolute_timeout_hours);
    if (!(token = bill__auth_random_token("")))
        return BILL_ENOMEM;
    bill__auth_sha256_hex(token, hash);
    bill__auth_i64(now_us, nowb);
    bill__auth_i64(now_us + (int64_t)absolute_timeout_hours * 3600 * 1000000, expb);

    if ((rc = bill__conn_acquire(db, &c)) < 0)
        goto done;
    rc = bill__qp(c, &res,
                  "INSERT INTO admin_sessions (token_hash, admin_user_id, created_at, last_seen_at,"
                  " expires_at, source_ip, user_agent)"
                  " SELECT $1, u.id, " BILL__TS("$3") ", " BILL__TS("$3") ", " BILL__TS("$4") ","
                  " $5, left($6, 512)"
                  " FROM admin_users u WHERE u.id = $2::uuid AND u.is_active",
                  hash, admin_user_id, nowb, expb, ip ? ip : "", user_agent ? user_agent : "");
    if (rc < 0)
        goto done;
    if (strcmp(PQcmdTuples(res), "1") != 0) {
        rc = bill__err(BILL_ENOTFOUND, "admin_user_id",
                       "admin user %.64s not found or disabled", admin_user_id);
        goto done;
    }
    *token_out = token;
    token = NULL;
done:
    PQclear(res);
    bill__conn_release(c);
    free(token);
    return rc;
}

/* ---- the Redis cache ------------------------------------------------------ */

#define CACHE_FRESH_US (60 * 1000000LL) /* as the last_seen_at bump */

static void cache_key(bill_redis *r, const char *hash, char *buf, size_t size)
{
    char part[BILL__SHA256_HEX_LEN + 8];
    snprintf(part, sizeof part, "sess:%s", hash);
    bill__redis_key(r, part, buf, size);
}

static const char *jstr(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static int64_t jint(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

/* 1: a usable entry of the current generation (out, *expires filled);
 * 0: none (gen receives the generation to fill under); < 0: Redis failed. */
static int cache_get(bill_redis *r, const char *hash, bill_session_info *out, int64_t *expires,
                     char gen[24])
{
    char key[160];
    bill__rcmd mget = {0};
    redisReply *rep = NULL;
    int rc, hit = 0;

    cache_key(r, hash, key, sizeof key);
    bill__rcmd_arg(&mget, "MGET");
    bill__rcmd_arg(&mget, bill__redis_gen_key(r));
    bill__rcmd_arg(&mget, key);
    if ((rc = bill__redis_run(r, 1, &mget, &rep)) < 0 || rep->type != REDIS_REPLY_ARRAY ||
        rep->elements != 2) {
        bill__redis_replies_free(1, &rep);
        return rc < 0 ? rc : BILL_EIO;
    }
    redisReply *g = rep->element[0], *v = rep->element[1];
    snprintf(gen, 24, "%.20s", g->type == REDIS_REPLY_STRING ? g->str : "0");
    json_object *o = v->type == REDIS_REPLY_STRING ? json_tokener_parse(v->str) : NULL;
    const char *eg = o ? jstr(o, "g") : NULL;
    if (eg && strcmp(eg, gen) == 0 && jstr(o, "sid") && jstr(o, "uid") && jstr(o, "un") &&
        jstr(o, "role")) {
        bill__auth_copy(out->session_id, sizeof out->session_id, jstr(o, "sid"));
        bill__auth_copy(out->admin_user_id, sizeof out->admin_user_id, jstr(o, "uid"));
        bill__auth_copy(out->username, sizeof out->username, jstr(o, "un"));
        bill__auth_copy(out->email, sizeof out->email, jstr(o, "em") ? jstr(o, "em") : "");
        bill__auth_copy(out->display_name, sizeof out->display_name,
                        jstr(o, "dn") ? jstr(o, "dn") : "");
        bill__auth_copy(out->role, sizeof out->role, jstr(o, "role"));
        out->is_active = true;
        out->user_created_at_us = jint(o, "uca");
        out->created_at_us = jint(o, "ca");
        out->last_seen_at_us = jint(o, "ls");
        *expires = jint(o, "ex");
        hit = 1;
    }
    json_object_put(o);
    bill__redis_replies_free(1, &rep);
    return hit;
}

static void cache_put(bill_redis *r, const char *hash, const char *gen,
                      const bill_session_info *s, int64_t expires)
{
    char key[160];
    bill__rcmd set = {0};
    redisReply *rep = NULL;
    json_object *o = json_object_new_object();
    if (!o)
        return;
    json_object_object_add(o, "g", json_object_new_string(gen));
    json_object_object_add(o, "sid", json_object_new_string(s->session_id));
    json_object_object_add(o, "uid", json_object_new_string(s->admin_user_id));
    json_object_object_add(o, "un", json_object_new_string(s->username));
    json_object_object_add(o, "em", json_object_new_string(s->email));
    json_object_object_add(o, "dn", json_object_new_string(s->display_name));
    json_object_object_add(o, "role", json_object_new_string(s->role));
    json_object_object_add(o, "uca", json_object_new_int64(s->user_created_at_us));
    json_object_object_add(o, "ca", json_object_new_int64(s->created_at_us));
    json_object_object_add(o, "ls", json_object_new_int64(s->last_seen_at_us));
    json_object_object_add(o, "ex", json_object_new_int64(expires));
    cache_key(r, hash, key, sizeof key);
    bill__rcmd_arg(&set, "SET");
    bill__rcmd_arg(&set, key);
    bill__rcmd_arg(&set, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    bill__rcmd_arg(&set, "PX");
    bill__rcmd_arg(&set, "60000");
    if (bill__redis_run(r, 1, &set, &rep) < 0)
        bill__redis_fallback(r);
    bill__redis_replies_free(1, &rep);
    json_object_put(o);
}

/* A cached session still valid at now_us and fresh enough to skip the
 * database (the checks of the query path, on the cached instants). */
static bool cached_ok(const bill_session_info *s, int64_t expires, int64_t now_us,
                      int idle_timeout_minutes, int absolute_timeout_hours)
{
    return now_us >= s->last_seen_at_us && now_us - s->last_seen_at_us < CACHE_FRESH_US &&
           now_us < s->created_at_us + (int64_t)absolute_timeout_hours * 3600 * 1000000 &&
           now_us < expires &&
           now_us < s->last_seen_at_us + (int64_t)idle_timeout_minutes * 60 * 1000000;
}

int bill_session_resolve(bill_db *db, const char *token, int64_t now_us,
                         int idle_timeout_minutes, int absolute_timeout_hours,
                         bill_session_info *out)
{
    int rc;
    bill_conn *c = NULL;
    PGresult *res = NULL, *upd = NULL;
    char hash[BILL__SHA256_HEX_LEN], nowb[BILL__I64_BUFSZ], gen[24] = "";
    int64_t created, seen, expires;
    bill_redis *r = bill_db_redis(db);
    bool fill = false;

    if (!db || !out)
        return bill__err(BILL_EINVALID, NULL, "db and out must not be NULL");
    memset(out, 0, sizeof *out);
    if (!token || !*token || strnlen(token, TOKEN_MAX_LEN + 1) > TOKEN_MAX_LEN)
        return bill__err(BILL_EUNAUTH, "session", "session cookie is empty or malformed");
    if (idle_timeout_minutes < 1 || absolute_timeout_hours < 1)
        return bill__err(BILL_EINVALID, "session",
                         "session timeouts must be positive (idle %d min, absolute %d h)",
                         idle_timeout_minutes, absolute_timeout_hours);
    bill__auth_sha256_hex(token, hash);
    bill__auth_i64(now_us, nowb);

    if (r && bill_redis_up(r)) {
        int64_t cexp = 0;
        int hit = cache_get(r, hash, out, &cexp, gen);
        if (hit == 1 &&
            cached_ok(out, cexp, now_us, idle_timeout_minutes, absolute_timeout_hours)) {
            bill__redis_session_count(r, true);
            return BILL_OK;
        }
        memset(out, 0, sizeof *out);
        if (hit >= 0)
            fill = true;
        else
            bill__redis_fallback(r);
        bill__redis_session_count(r, false);
    }

    if ((rc = bill__conn_acquire(db, &c)) < 0)
        goto done;
    rc = bill__qp(c, &res,
                  "SELECT s.id, u.id, u.username, u.email, u.display_name, u.role, u.is_active,"
                  " " BILL__US("u.created_at") ", " BILL__US("s.created_at") ","
                  " " BILL__US("s.last_seen_at") ", s.revoked_at IS NOT NULL,"
                  " " BILL__US("s.expires_at")
                  " FROM admin_sessions s JOIN admin_users u ON u.id = s.admin_user_id"
                  " WHERE s.token_hash = $1",
                  hash);
    if (rc < 0)
        goto done;
    if (PQntuples(res) != 1) {
        rc = bill__err(BILL_EUNAUTH, "session", "session not found (signed out or never valid)");
        goto done;
    }
    if (strcmp(PQgetvalue(res, 0, 10), "t") == 0) {
        rc = bill__err(BILL_EUNAUTH, "session", "session was signed out");
        goto done;
    }
    created = bill__auth_parse_i64(PQgetvalue(res, 0, 8));
    seen = bill__auth_parse_i64(PQgetvalue(res, 0, 9));
    expires = bill__auth_parse_i64(PQgetvalue(res, 0, 11));
    if (now_us >= created + (int64_t)absolute_timeout_hours * 3600 * 1000000 ||
        now_us >= expires) {
        rc = bill__err(BILL_EUNAUTH, "session", "session expired (absolute timeout of %d h)",
                       absolute_timeout_hours);
        goto done;
    }
    if (now_us >= seen + (int64_t)idle_timeout_minutes * 60 * 1000000) {
        rc = bill__err(BILL_EUNAUTH, "session", "session expired (idle for more than %d min)",
                       idle_timeout_minutes);
        goto done;
    }
    if (strcmp(PQgetvalue(res, 0, 6), "t") != 0) {
        rc = bill__err(BILL_EUNAUTH, "session", "admin user is disabled");
        goto done;
    }
    bill__auth_copy(out->session_id, sizeof out->session_id, PQgetvalue(res, 0, 0));
    bill__auth_copy(out->admin_user_id, sizeof out->admin_user_id, PQgetvalue(res, 0, 1));
    bill__auth_copy(out->username, sizeof out->username, PQgetvalue(res, 0, 2));
    bill__auth_copy(out->email, sizeof out->email, PQgetvalue(res, 0, 3));
    bill__auth_copy(out->display_name, sizeof out->display_name, PQgetvalue(res, 0, 4));
    bill__auth_copy(out->role, sizeof out->role, PQgetvalue(res, 0, 5));
    out->is_active = true;
    out->user_created_at_us = bill__auth_parse_i64(PQgetvalue(res, 0, 7));
    out->created_at_us = created;
    out->last_seen_at_us = seen;

    if (now_us - seen >= 60 * 1000000LL) {
        /* Only move forward: a concurrent resolve with a later clock wins. */
        rc = bill__qp(c, &upd,
                      "UPDATE admin_sessions SET last_seen_at = " BILL__TS("$2")
                      " WHERE id = $1 AND last_seen_at < " BILL__TS("$2"),
                      out->session_id, nowb);
        if (rc < 0)
            goto done;
        out->last_seen_at_us = now_us;
    }
    if (fill)
        cache_put(r, hash, gen, out, expires);
done:
    if (rc < 0)
        memset(out, 0, sizeof *out);
    PQclear(upd);
    PQclear(res);
    bill__conn_release(c);
    return rc;
}

void bill_session_actor(const bill_session_info *s, bill_actor *actor)
{
    if (!actor)
        return;
    memset(actor, 0, sizeof *actor);
    actor->kind = BILL_ACTOR_ADMIN;
    if (!s)
        return;
    actor->user_id = s->admin_user_id;
    actor->username = s->username;
    actor->role = s->role;
}

int bill_session_revoke(bill_db *db, const char *token, int64_t now_us)
{
    int rc;
    bill_conn *c = NULL;
    PGresult *res = NULL;
    char hash[BILL__SHA256_HEX_LEN], nowb[BILL__I64_BUFSZ];

    if (!db)
        return bill__err(BILL_EINVALID, "db", "db must not be NULL");
    if (!token || !*token)
        return BILL_OK;
    bill__auth_sha256_hex(token, hash);
    bill__auth_i64(now_us, nowb);
    if ((rc = bill__conn_acquire(db, &c)) < 0)
        goto done;
    rc = bill__qp(c, &res,
                  "UPDATE admin_sessions SET revoked_at = " BILL__TS("$2")
                  " WHERE token_hash = $1 AND revoked_at IS NULL",
                  hash, nowb);
    if (rc == BILL_OK)
        bill__redis_invalidate(bill_db_redis(db)); /* committed: refused everywhere now */
done:
    PQclear(res);
    bill__conn_release(c);
    return rc;
}

int bill__session_revoke_user_tx(bill_conn *c, const char *admin_user_id, const char *keep_token,
                                 int64_t now_us)
{
    char hash[BILL__SHA256_HEX_LEN] = "", nowb[BILL__I64_BUFSZ];

    if (!bill_uuid_valid(admin_user_id))
        return bill__err(BILL_EINVALID, "admin_user_id", "admin user id \"%.40s\" is not a UUID",
                         admin_user_id ? admin_user_id : "");
    if (keep_token && *keep_token)
        bill__auth_sha256_hex(keep_token, hash);
    return bill__qp(c, NULL,
                    "UPDATE admin_sessions SET revoked_at = " BILL__TS("$3")
                    " WHERE admin_user_id = $1::uuid AND revoked_at IS NULL AND token_hash <> $2",
                    admin_user_id, hash, bill__auth_i64(now_us, nowb));
}

int bill_session_revoke_user(bill_db *db, const char *admin_user_id, const char *keep_token,
                             int64_t now_us)
{
    int rc;
    bill_conn *c = NULL;

    if (!db)
        return bill__err(BILL_EINVALID, "db", "db must not be NULL");
    if ((rc = bill__conn_acquire(db, &c)) < 0)
        return rc;
    rc = bill__session_revoke_user_tx(c, admin_user_id, keep_token, now_us);
    bill__conn_release(c);
    if (rc == BILL_OK)
        bill__redis_invalidate(bill_db_redis(db));
    return rc;
}
