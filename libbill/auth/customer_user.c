/*
 * customer_user.c — customer login accounts: registration (customer + user in
 * one transaction), login verification, password change
 * (include/bill/customer_user.h).
 *
 * Password hashing is slow on purpose (argon2id, 64 MiB), so it never runs
 * while a pooled connection is held: hash first, then borrow a connection.
 *
 * The customer row is inserted here with plain SQL rather than through the
 * domain's customer API because it must share the transaction with the user
 * row; only name and email are set, everything else keeps the schema
 * defaults (balance 0.00, credit limit 0.00, can_create_api_keys false).
 */
#include "auth/auth_int.h"
#include "bill/auth.h"
#include "bill/customer_user.h"
#include "bill/password.h"
#include "bill/uuid.h"
#include "store/store.h"

#include <ctype.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define USER_COLS                                                                      \
    "u.id, u.customer_id, u.username, u.email, u.display_name, u.role, u.is_active,"   \
    " u.email_verified_at IS NOT NULL, " BILL__US("u.created_at") ","                   \
    " (SELECT status FROM customers WHERE id = u.customer_id)"

void bill_customer_user_free(bill_customer_user *u)
{
    if (!u)
        return;
    BILL__FREE(u->username, u->email, u->display_name, u->customer_name);
    free(u);
}

/* Build a user from columns USER_COLS starting at `col0` of row 0. */
static int user_from_row(const PGresult *r, bill_customer_user **out)
{
    bill_customer_user *u = calloc(1, sizeof *u);
    if (!u)
        return bill__err(BILL_ENOMEM, NULL, "out of memory loading a customer user");
    bill__auth_copy(u->id, sizeof u->id, PQgetvalue(r, 0, 0));
    bill__auth_copy(u->customer_id, sizeof u->customer_id, PQgetvalue(r, 0, 1));
    u->username = strdup(PQgetvalue(r, 0, 2));
    u->email = strdup(PQgetvalue(r, 0, 3));
    u->display_name = strdup(PQgetvalue(r, 0, 4));
    bill__auth_copy(u->role, sizeof u->role, PQgetvalue(r, 0, 5));
    u->is_active = strcmp(PQgetvalue(r, 0, 6), "t") == 0;
    u->email_verified = strcmp(PQgetvalue(r, 0, 7), "t") == 0;
    u->created_at_us = bill__auth_parse_i64(PQgetvalue(r, 0, 8));
    bill__auth_copy(u->customer_status, sizeof u->customer_status, PQgetvalue(r, 0, 9));
    if (!u->username || !u->email || !u->display_name) {
        bill_customer_user_free(u);
        return bill__err(BILL_ENOMEM, NULL, "out of memory loading a customer user");
    }
    *out = u;
    return BILL_OK;
}

static int check_username(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 3 || n > 64)
        return bill__err(BILL_EINVALID, "username",
                         "username must be 3 to 64 characters (got %zu)", n);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!isalnum(ch) && ch != '_' && ch != '.' && ch != '-')
            return bill__err(BILL_EINVALID, "username",
                             "username \"%.64s\" may contain only letters, digits, '_', '.' and '-'",
                             s);
    }
    return BILL_OK;
}

int bill__auth_check_email(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    const char *at = s ? strchr(s, '@') : NULL;
    if (n == 0)
        return bill__err(BILL_EINVALID, "email", "email is required");
    if (n > 254 || !at || at == s || strchr(at + 1, '@') || !strchr(at + 1, '.') ||
        at[1] == '.' || s[n - 1] == '.')
        return bill__err(BILL_EINVALID, "email", "email \"%.254s\" is not a valid address", s);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= ' ' || ch == 0x7f || ch == '<' || ch == '>' || ch == ',' || ch == ';')
            return bill__err(BILL_EINVALID, "email", "email \"%.254s\" is not a valid address", s);
    }
    return BILL_OK;
}

/* Friendly conflict message: which of username/email is taken. */
static int conflict_check(bill_conn *c, const char *username, const char *email)
{
    int rc;
    PGresult *res = NULL;
    rc = bill__qp(c, &res,
                  "SELECT (SELECT count(*) FROM customer_users WHERE username = $1),"
                  " (SELECT count(*) FROM customer_users WHERE lower(email) = lower($2))",
                  username, email);
    if (rc < 0)
        goto done;
    if (strcmp(PQgetvalue(res, 0, 0), "0") != 0)
        rc = bill__err(BILL_ECONFLICT, "username", "username already taken");
    else if (strcmp(PQgetvalue(res, 0, 1), "0") != 0)
        rc = bill__err(BILL_ECONFLICT, "email", "email already registered");
done:
    PQclear(res);
    return rc;
}

int bill_customer_register(bill_db *db, const bill_register_params *p, int64_t now_us,
                           bill_customer_user **out)
{
    int rc;
    bill_conn *c = NULL;
    PGresult *cres = NULL, *ures = NULL;
    char hash[BILL_PASSWORD_HASH_BUFSZ] = "";
    char nowb[BILL__I64_BUFSZ];
    const char *display;
    bool verified = false;

    if (!db || !p)
        return bill__err(BILL_EINVALID, NULL, "db and params must not be NULL");
    if (out)
        *out = NULL;
    if (p->version != BILL_REGISTER_PARAMS_VERSION)
        return bill__err(BILL_EINVALID, "version", "unknown bill_register_params version %u",
                         p->version);
    if ((rc = check_username(p->username)) < 0)
        return rc;
    if ((rc = bill__auth_check_email(p->email)) < 0)
        return rc;
    display = (p->display_name && *p->display_name) ? p->display_name : p->username;
    if (strlen(display) > 128)
        return bill__err(BILL_EINVALID, "display_name",
                         "display_name must be at most 128 characters");
    if ((rc = bill_password_check_policy(p->password, "password")) < 0)
        return rc;
    if (p->require_verification && (!p->verification_code || !*p->verification_code))
        return bill__err(BILL_EINVALID, "verification_code",
                         "verification_code is required: request one with SendVerificationCode");
    bill__auth_i64(now_us, nowb);

    /* Refuse duplicates before spending the verification code. */
    if ((rc = bill__conn_acquire(db, &c)) < 0)
        goto done;
    if ((rc = conflict_check(c, p->username, p->email)) < 0)
        goto done;
    bill__conn_release(c);
    c = NULL;

    if (p->require_verification) {
        if ((rc = bill_verification_code_check(db, p->email, "registration", p->verification_code,
                                               now_us)) < 0)
            goto done;
        verified = true;
    }
    if ((rc = bill_password_hash(p->password, hash)) < 0)
        goto done;

    if ((rc = bill__conn_begin(db, &c)) < 0)
        goto done;
    rc = bill__qp(c, &cres,
                  "INSERT INTO customers (name, email, created_at, updated_at)"
                  " VALUES ($1, $2, " BILL__TS("$3") ", " BILL__TS("$3") ") RETURNING id",
                  display, p->email, nowb);
    if (rc < 0)
        goto done;
    rc = bill__qp(c, &ures,
                  "INSERT INTO customer_users AS u (customer_id, username, email, display_name,"
                  " password_hash, role, email_verified_at, created_at, updated_at)"
                  " VALUES ($1::uuid, $2, $3, $4, $5, 'owner',"
                  " CASE WHEN $6 = 't' THEN " BILL__TS("$7") " END, " BILL__TS("$7") ", " BILL__TS("$7") ")"
                  " RETURNING " USER_COLS,
                  PQgetvalue(cres, 0, 0), p->username, p->email, display, hash,
                  verified ? "t" : "f", nowb);
    if (rc == BILL_ECONFLICT) {
        /* Lost a race with a concurrent registration of the same name. */
        const char *m = bill_error_last()->message;
        rc = (m && strstr(m, "email")) ? bill__err(BILL_ECONFLICT, "email", "email already registered")
                                       : bill__err(BILL_ECONFLICT, "username", "username already taken");
    }
    if (rc < 0)
        goto done;
    if ((rc = bill__tx_commit(c)) < 0)
        goto done;
    if (out)
        rc = user_from_row(ures, out);
done:
    sodium_memzero(hash, sizeof hash);
    if (rc < 0 && c)
        bill__tx_rollback(c);
    PQclear(ures);
    PQclear(cres);
    bill__conn_release(c);
    return rc;
}

int bill_customer_user_verify(bill_db *db, const char *login, const char *password,
                              int64_t now_us, bill_customer_user **out)
{
    int rc;
    bill_conn *c = NULL;
    PGresult *res = NULL, *upd = NULL;
    char *stored = NULL;
    char newhash[BILL_PASSWORD_HASH_BUFSZ] = "";
    char nowb[BILL__I64_BUFSZ];
    bool rehash = false, active;

    if (out)
        *out = NULL;
    if (!db)
        return bill__err(BILL_EINVALID, "db", "db must not be NULL");
    if (!login || !*login || strlen(login) > 254 || !password) {
        bill_password_verify_dummy(password ? password : "");
        return bill__err(BILL_EUNAUTH, "username", "invalid username or password");
    }
    bill__auth_i64(now_us, nowb);

    if ((rc = bill__conn_acquire(db, &c)) < 0)
        goto done;
    rc = bill__qp(c, &res,
                  "SELECT " USER_COLS ", u.password_hash FROM customer_users u"
                  " WHERE CASE WHEN strpos($1, '@') > 0 THEN lower(u.email) = lower($1)"
                  " ELSE u.username = $1 END",
                  login);
    if (rc < 0)
        goto done;
    bill__conn_release(c);
    c = NULL;
    if (PQntuples(res) != 1) {
        bill_password_verify_dummy(password);
        rc = bill__err(BILL_EUNAUTH, "username", "invalid username or password");
        goto done;
    }
    if (!(stored = strdup(PQgetvalue(res, 0, 10)))) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
        goto done;
    }
    active = strcmp(PQgetvalue(res, 0, 6), "t") == 0;
    if (bill_password_verify(password, stored, &rehash) != BILL_OK || !active) {
        rc = bill__err(BILL_EUNAUTH, "username", "invalid username or password");
        goto done;
    }
    /* Only after the password is right: a guesser learns nothing about the
     * account's status. */
    if ((rc = bill_customer_status_check(PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 9))) < 0)
        goto done;
    if (rehash && bill_password_hash(password, newhash) != BILL_OK)
        newhash[0] = '\0'; /* keep the old hash; try again next login */

    if ((rc = bill__conn_acquire(db, &c)) < 0)
        goto done;
    rc = bill__qp(c, &upd,
                  "UPDATE customer_users SET last_login_at = " BILL__TS("$2") ","
                  " password_hash = CASE WHEN $3 = '' THEN password_hash ELSE $3 END"
                  " WHERE id = $1::uuid",
                  PQgetvalue(res, 0, 0), nowb, newhash);
    if (rc < 0)
        goto done;
    if (out)
        rc = user_from_row(res, out);
done:
    sodium_memzero(newhash, sizeof newhash);
    bill__free_secret(stored);
    PQclear(upd);
    PQclear(res);
    bill__conn_release(c);
    return rc;
}

int bill_customer_user_get(bill_db *db, const char *id, bill_customer_user **out)
{
    int rc;
    bill_conn *c = NULL;
    PGresult *res = NULL;

    if (!db || !out)
        return bill__err(BILL_EINVALID, NULL, "db and out must not be NULL");
    *out = NULL;
    if (!bill_uuid_valid(id))
        return bill__err(BILL_ENOTFOUND, "id", "customer user \"%.40s\" not found", id ? id : "");
    if ((rc = bill__conn_acquire(db, &c)) < 0)
        goto done;
    rc = bill__qp(c, &res, "SELECT " USER_COLS " FROM customer_users u WHERE u.id = $1::uuid", id);
    if (rc < 0)
        goto done;
    if (PQntuples(res) != 1) {
        rc = bill__err(BILL_ENOTFOUND, "id", "customer user %s not found", id);
        goto done;
    }
    rc = user_from_row(res, out);
done:
    PQclear(res);
    bill__conn_release(c);
    return rc;
}

int bill_customer_user_change_password(bill_db *db, const char *id, const char *old_password,
                                       const char *new_password, int64_t now_us)
{
    int rc;
    bill_conn *c = NULL;
    PGresult *res = NULL, *upd = NULL;
    char hash[BILL_PASSWORD_HASH_BUFSZ] = "";
    char nowb[BILL__I64_BUFSZ];

    if (!db)
        return bill__err(BILL_EINVALID, "db", "db must not be NULL");
    if (!bill_uuid_valid(id))
        return bill__err(BILL_ENOTFOUND, "id", "customer user \"%.40s\" not found", id ? id : "");
    if ((rc = bill_password_check_policy(new_password, "new_password")) < 0)
        return rc;
    bill__auth_i64(now_us, nowb);

    if ((rc = bill__conn_acquire(db, &c)) < 0)
        goto done;
    rc = bill__qp(c, &res,
                  "SELECT u.password_hash, c.status, u.customer_id FROM customer_users u "
                  "JOIN customers c ON c.id = u.customer_id WHERE u.id = $1::uuid AND u.is_active",
                  id);
    if (rc < 0)
        goto done;
    bill__conn_release(c);
    c = NULL;
    if (PQntuples(res) != 1) {
        rc = bill__err(BILL_ENOTFOUND, "id", "customer user %s not found or disabled", id);
        goto done;
    }
    if ((rc = bill_customer_status_check(PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 1))) < 0)
        goto done;
    if ((rc = bill__password_replace(old_password, PQgetvalue(res, 0, 0), new_password, hash)) < 0)
        goto done;
    if ((rc = bill__conn_begin(db, &c)) < 0)
        goto done;
    rc = bill__qp(c, &upd,
                  "UPDATE customer_users SET password_hash = $2, updated_at = " BILL__TS("$3")
                  " WHERE id = $1::uuid",
                  id, hash, nowb);
    if (rc < 0)
        goto done;
    PQclear(upd);
    upd = NULL;
    rc = bill__qp(c, &upd,
                  "UPDATE refresh_tokens SET revoked_at = " BILL__TS("$2")
                  " WHERE customer_user_id = $1::uuid AND revoked_at IS NULL",
                  id, nowb);
    if (rc < 0)
        goto done;
    rc = bill__tx_commit(c);
done:
    sodium_memzero(hash, sizeof hash);
    if (rc < 0 && c)
        bill__tx_rollback(c);
    PQclear(upd);
    PQclear(res);
    bill__conn_release(c);
    return rc;
}
