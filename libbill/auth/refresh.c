/*
 * refresh.c — rotating refresh tokens for customer users (include/bill/auth.h).
 *
 * Each login starts a family (family_id). Refreshing marks the presented
 * token used and issues its child in the same family. A used token presented
 * again means two parties hold it (theft or replay), and we cannot tell
 * which one is legitimate: so the whole family is revoked and both must log
 * in again (RFC 6819 §5.2.2.3 / OAuth 2.0 Security BCP "refresh token
 * rotation"). The presented token's row is locked FOR UPDATE, so two
 * concurrent refreshes of one token cannot both succeed: the second counts
 * as reuse. Tokens are stored as SHA-256 and looked up by hash.
 */
#include "auth/auth_int.h"
#include "bill/auth.h"
#include "bill/uuid.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#define TOKEN_PREFIX "rt_"
#define TOKEN_MAX_LEN 256

static void fill_info(bill_refresh_result *info, const PGresult *r, int uc, int cc, int fc)
{
    if (!info)
        return;
    bill__auth_copy(info->customer_user_id, sizeof info->customer_user_id, PQgetvalue(r, 0, uc));
    bill__auth_copy(info->customer_id, sizeof info->customer_id, PQgetvalue(r, 0, cc));
    bill__auth_copy(info->family_id, sizeof info->family_id, PQgetvalue(r, 0, fc));
}

/* Insert a token row for an ACTIVE user on an open connection. family_id and
 * parent_id may be NULL (new family). */
static int insert_token(bill_conn *c, const char *user_id, const char *family_id,
                        const char *parent_id, int64_t now_us, char **token_out,
                        bill_refresh_result *info)
{
    int rc;
    PGresult *res = NULL;
    char *token = NULL;
    char hash[BILL__SHA256_HEX_LEN], nowb[BILL__I64_BUFSZ], expb[BILL__I64_BUFSZ];

    if (!(token = bill__auth_random_token(TOKEN_PREFIX)))
        return BILL_ENOMEM;
    bill__auth_sha256_hex(token, hash);
    bill__auth_i64(now_us, nowb);
    bill__auth_i64(now_us + (int64_t)BILL_REFRESH_TTL_SECS * 1000000, expb);
    rc = bill__qp(c, &res,
                  "INSERT INTO refresh_tokens (customer_id, customer_user_id, token_hash, family_id,"
                  " parent_id, created_at, expires_at)"
                  " SELECT u.customer_id, u.id, $2, coalesce($3::uuid, gen_random_uuid()), $4::uuid,"
                  " " BILL__TS("$5") ", " BILL__TS("$6")
                  " FROM customer_users u WHERE u.id = $1::uuid AND u.is_active"
                  " RETURNING customer_user_id, customer_id, family_id",
                  user_id, hash, family_id, parent_id, nowb, expb);
    if (rc < 0)
        goto done;
    if (PQntuples(res) != 1) {
        rc = bill__err(BILL_EUNAUTH, "customer_user_id",
                       "customer user %.40s not found or disabled", user_id);
        goto done;
    }
    fill_info(info, res, 0, 1, 2);
    *token_out = token;
    token = NULL;
done:
    PQclear(res);
    free(token);
    return rc;
}

static int check_user_id(const char *customer_user_id)
{
    if (bill_uuid_valid(customer_user_id))
        return BILL_OK;
    return bill__err(BILL_EINVALID, "customer_user_id", "customer user id \"%.40s\" is not a UUID",
                     customer_user_id ? customer_user_id : "");
}

int bill_refresh_token_issue(bill_db *db, const char *customer_user_id, int64_t now_us,
                             char **token_out, bill_refresh_result *info)
{
    int rc;
    bill_conn *c = NULL;

    if (!db || !token_out)
        return bill__err(BILL_EINVALID, NULL, "db and token_out must not be NULL");
    *token_out = NULL;
    if (info)
        memset(info, 0, sizeof *info);
    if ((rc = check_user_id(customer_user_id)) < 0)
        return rc;
    if ((rc = bill__conn_acquire(db, &c)) < 0)
        goto done;
    rc = insert_token(c, customer_user_id, NULL, NULL, now_us, token_out, info);
done:
    bill__conn_release(c);
    return rc;
}

int bill_refresh_token_rotate(bill_db *db, const char *token, int64_t now_us,
                              char **new_token_out, bill_refresh_result *info)
{
    int rc;
    bill_conn *c = NULL;
    PGresult *res = NULL, *upd = NULL;
    char hash[BILL__SHA256_HEX_LEN], nowb[BILL__I64_BUFSZ];
    char id[40], user[40], family[40];
    bool reuse = false;

    if (!db || !new_token_out)
        return bill__err(BILL_EINVALID, NULL, "db and new_token_out must not be NULL");
    *new_token_out = NULL;
    if (info)
        memset(info, 0, sizeof *info);
    if (!token || !*token || strnlen(token, TOKEN_MAX_LEN + 1) > TOKEN_MAX_LEN)
        return bill__err(BILL_EUNAUTH, "refresh_token", "refresh token is empty or malformed");
    bill__auth_sha256_hex(token, hash);
    bill__auth_i64(now_us, nowb);

    if ((rc = bill__conn_begin(db, &c)) < 0)
        goto done;
    rc = bill__qp(c, &res,
                  "SELECT t.id, t.customer_user_id, t.family_id, t.used_at IS NOT NULL,"
                  " t.revoked_at IS NOT NULL, " BILL__US("t.expires_at") ", u.is_active,"
                  " c.status, c.id FROM refresh_tokens t"
                  " JOIN customer_users u ON u.id = t.customer_user_id"
                  " JOIN customers c ON c.id = u.customer_id"
                  " WHERE t.token_hash = $1 FOR UPDATE OF t",
                  hash);
    if (rc < 0)
        goto done;
    if (PQntuples(res) != 1) {
        rc = bill__err(BILL_EUNAUTH, "refresh_token", "refresh token not recognised");
        goto done;
    }
    bill__auth_copy(id, sizeof id, PQgetvalue(res, 0, 0));
    bill__auth_copy(user, sizeof user, PQgetvalue(res, 0, 1));
    bill__auth_copy(family, sizeof family, PQgetvalue(res, 0, 2));
    if (strcmp(PQgetvalue(res, 0, 4), "t") == 0) {
        rc = bill__err(BILL_EUNAUTH, "refresh_token", "refresh token was revoked; log in again");
        goto done;
    }
    if (strcmp(PQgetvalue(res, 0, 3), "t") == 0) {
        reuse = true;
        rc = bill__qp(c, &upd,
                      "UPDATE refresh_tokens SET revoked_at = " BILL__TS("$2")
                      " WHERE family_id = $1::uuid AND revoked_at IS NULL",
                      family, nowb);
        if (rc < 0)
            goto done;
        if ((rc = bill__tx_commit(c)) < 0)
            goto done;
        rc = bill__err(BILL_EUNAUTH, "refresh_token",
                       "refresh token was already used; every token of this login was revoked"
                       " (possible token theft); log in again");
        goto done;
    }
    if (now_us >= bill__auth_parse_i64(PQgetvalue(res, 0, 5))) {
        rc = bill__err(BILL_EUNAUTH, "refresh_token", "refresh token expired; log in again");
        goto done;
    }
    if (strcmp(PQgetvalue(res, 0, 6), "t") != 0) {
        rc = bill__err(BILL_EUNAUTH, "refresh_token", "customer user is disabled");
        goto done;
    }
    /* Suspended or closed since the login: no new access token. The token
     * is not used up, so it works again once the account is reactivated. */
    if ((rc = bill_customer_status_check(PQgetvalue(res, 0, 8), PQgetvalue(res, 0, 7))) < 0)
        goto done;
    rc = bill__qp(c, &upd, "UPDATE refresh_tokens SET used_at = " BILL__TS("$2") " WHERE id = $1::uuid",
                  id, nowb);
    if (rc < 0)
        goto done;
    if ((rc = insert_token(c, user, family, id, now_us, new_token_out, info)) < 0)
        goto done;
    rc = bill__tx_commit(c);
done:
    if (rc < 0 && *new_token_out) {
        free(*new_token_out);
        *new_token_out = NULL;
    }
    if (rc < 0 && !reuse && c)
        bill__tx_rollback(c);
    PQclear(upd);
    PQclear(res);
    bill__conn_release(c);
    return rc;
}

int bill_refresh_token_revoke_family(bill_db *db, const char *token, int64_t now_us)
{
    char hash[BILL__SHA256_HEX_LEN], nowb[BILL__I64_BUFSZ];

    if (!db)
        return bill__err(BILL_EINVALID, "db", "db must not be NULL");
    if (!token || !*token || strnlen(token, TOKEN_MAX_LEN + 1) > TOKEN_MAX_LEN)
        return BILL_OK;
    bill__auth_sha256_hex(token, hash);
    bill__auth_i64(now_us, nowb);
    return bill__qp_db(db, NULL,
                       "UPDATE refresh_tokens SET revoked_at = " BILL__TS("$2")
                       " WHERE revoked_at IS NULL AND family_id ="
                       " (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)",
                       hash, nowb);
}

int bill_refresh_token_revoke_user(bill_db *db, const char *customer_user_id, int64_t now_us)
{
    char nowb[BILL__I64_BUFSZ];
    int rc;

    if (!db)
        return bill__err(BILL_EINVALID, "db", "db must not be NULL");
    if ((rc = check_user_id(customer_user_id)) < 0)
        return rc;
    bill__auth_i64(now_us, nowb);
    return bill__qp_db(db, NULL,
                       "UPDATE refresh_tokens SET revoked_at = " BILL__TS("$2")
                       " WHERE customer_user_id = $1::uuid AND revoked_at IS NULL",
                       customer_user_id, nowb);
}

int bill_refresh_token_revoke_user_family(bill_db *db, const char *customer_user_id,
                                          const char *family_id, int64_t now_us)
{
    char nowb[BILL__I64_BUFSZ];

    if (!db)
        return bill__err(BILL_EINVALID, "db", "db must not be NULL");
    if (!bill_uuid_valid(customer_user_id) || !bill_uuid_valid(family_id))
        return BILL_OK; /* nothing of ours can match */
    bill__auth_i64(now_us, nowb);
    return bill__qp_db(db, NULL,
                       "UPDATE refresh_tokens SET revoked_at = " BILL__TS("$3")
                       " WHERE customer_user_id = $1::uuid AND family_id = $2::uuid AND revoked_at IS NULL",
                       customer_user_id, family_id, nowb);
}
