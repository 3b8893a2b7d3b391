/*
 * session.c — server-side admin sessions (include/bill/auth.h, R-SRV-3).
 *
 * The cookie carries 32 random bytes (base64url); the table keeps only their
 * SHA-256, so a database dump does not hand out live sessions. Both timeouts
 * are enforced here on every resolve rather than trusted to the cookie's
 * Max-Age: idle (last_seen_at + idle minutes) and absolute (created_at +
 * absolute hours). Resolving bumps last_seen_at at most once a minute, so a
 * busy admin UI does not turn every read into a write.
 */
#include "auth/auth_int.h"
#include "bill/auth.h"
#include "bill/uuid.h"
#include "store/store.h"

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

int bill_session_resolve(bill_db *db, const char *token, int64_t now_us,
                         int idle_timeout_minutes, int absolute_timeout_hours,
                         bill_session_info *out)
{
    int rc;
    bill_conn *c = NULL;
    PGresult *res = NULL, *upd = NULL;
    char hash[BILL__SHA256_HEX_LEN], nowb[BILL__I64_BUFSZ];
    int64_t created, seen;

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
    if (now_us >= created + (int64_t)absolute_timeout_hours * 3600 * 1000000 ||
        now_us >= bill__auth_parse_i64(PQgetvalue(res, 0, 11))) {
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
    return rc;
}
