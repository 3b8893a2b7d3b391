/*
 * admin_user.c — staff accounts: validation, CRUD, login verification with
 * transparent bcrypt -> argon2id upgrade, and the bootstrap admin.
 * Contract in include/bill/admin_user.h.
 */
#include "domain/domain_int.h"
#include "domain/oplog_int.h"
#include "bill/admin_user.h"
#include "bill/password.h"
#include "auth/auth_int.h"
#include "cluster/redis_int.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define AU_COLS                                                                    \
    "id, username, email, display_name, role, is_active, " BILL__US("last_login_at") \
    ", " BILL__US("created_at") ", " BILL__US("updated_at")
#define AU_NCOLS 9
/* The row as JSON for the audit trail, never with the password hash. */
#define AU_JSON "(to_jsonb(admin_users) - 'password_hash')::text"

static const char *const roles[] = {"admin", "operator", "support"};

static void au_clear(void *item)
{
    bill_admin_user *u = item;
    BILL__FREE(u->id, u->username, u->email, u->display_name, u->role);
    memset(u, 0, sizeof *u);
}

/* Fill *u from AU_COLS starting at column 0. */
static int au_from_row(const PGresult *r, int row, const void *ctx, void *item)
{
    bill_admin_user *u = item;
    int rc;
    if ((rc = BILL__DUP_COLS(r, row, "reading an admin user", &u->id, 0, &u->username, 1,
                                     &u->email, 2, &u->display_name, 3, &u->role, 4)) < 0)
        return rc;
    u->is_active = bill__bool(r, row, 5);
    u->last_login_at = bill__i64(r, row, 6);
    u->created_at = bill__i64(r, row, 7);
    u->updated_at = bill__i64(r, row, 8);
    return BILL_OK;
}

static const bill__rowtype AU_ROW = {sizeof(bill_admin_user), au_from_row, au_clear, "admin user"};

BILL__ROW_FUNCS(&AU_ROW, bill_admin_user, bill_admin_user_free,
                bill_admin_users, bill_admin_users_clear)

static int au_new_from_row(const PGresult *r, int row, bill_admin_user **out)
{
    return bill__row_new(&AU_ROW, r, row, NULL, out);
}

int bill_admin_user_check_username(const char *username)
{
    if (!username || !*username)
        return bill__err(BILL_EINVALID, "username", "username is required");
    size_t n = strlen(username);
    if (n < 3 || n > 64)
        return bill__err(BILL_EINVALID, "username",
                         "username \"%.80s\" must have 3 to 64 characters (has %zu)", username, n);
    for (const char *p = username; *p; p++) {
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == '-'))
            return bill__err(BILL_EINVALID, "username",
                             "username \"%.80s\" may only contain letters, digits, '_', '.' and '-'",
                             username);
    }
    return BILL_OK;
}

int bill_admin_user_check_role(const char *role)
{
    for (size_t i = 0; role && i < BILL__ARRAY_LEN(roles); i++)
        if (strcmp(role, roles[i]) == 0)
            return BILL_OK;
    return bill__err(BILL_EINVALID, "role", "role \"%.64s\" is not one of admin, operator, support",
                     role ? role : "");
}

static int check_text(const char *v, const char *field, size_t max)
{
    if (v && strlen(v) > max)
        return bill__err(BILL_EINVALID, field, "%s is longer than %zu bytes", field, max);
    return BILL_OK;
}

/* Split a reference into (id, username) parameters: a UUID matches the id,
 * anything else the username. */
static void ref_params(const char *ref, const char **id, const char **username)
{
    *id = bill_uuid_valid(ref) ? ref : NULL;
    *username = *id ? NULL : ref;
}

int bill_admin_user_create(bill_db *db, const bill_actor *actor, const char *username,
                           const char *password, const char *role, const char *email,
                           const char *display_name, bill_admin_user **out)
{
    bill_conn *c = NULL;
    PGresult *res = NULL;
    char hash[BILL_PASSWORD_HASH_BUFSZ];
    int rc;

    if (!role)
        role = "operator";
    if ((rc = bill__require_superadmin(actor, "create admin users")) < 0 ||
        (rc = bill_admin_user_check_username(username)) < 0 ||
        (rc = bill_password_check_policy(password, "password")) < 0 ||
        (rc = bill_admin_user_check_role(role)) < 0 || (rc = check_text(email, "email", 254)) < 0 ||
        (rc = check_text(display_name, "display_name", 200)) < 0)
        return rc;
    if ((rc = bill_password_hash(password, hash)) < 0)
        return rc;
    if ((rc = bill__conn_begin(db, &c)) < 0)
        goto done;
    rc = bill__qp(c, &res,
                  "INSERT INTO admin_users (username, password_hash, role, email, display_name) "
                  "VALUES ($1, $2, $3, $4, $5) RETURNING " AU_COLS ", " AU_JSON,
                  username, hash, role, email ? email : "", display_name ? display_name : "");
    if (rc == BILL_ECONFLICT) {
        rc = bill__err(BILL_ECONFLICT, "username", "admin user \"%s\" already exists", username);
        goto done;
    }
    if (rc < 0)
        goto done;
    if ((rc = bill__oplog_write(c, actor, "admin_user.create", "admin_user",
                                bill__val(res, 0, 0), NULL, bill__val(res, 0, AU_NCOLS))) < 0)
        goto done;
    if ((rc = bill__tx_commit(c)) < 0)
        goto done;
    if (out)
        rc = au_new_from_row(res, 0, out);
done:
    sodium_memzero(hash, sizeof hash);
    PQclear(res);
    bill__conn_done(c);
    return rc;
}

/* SELECT one user by ref on an open connection; optional extra columns. */
static int au_fetch(bill_conn *c, const char *ref, const char *extra_cols, bool for_update,
                    PGresult **res)
{
    const char *id, *uname;
    char *sql;
    int rc;
    ref_params(ref, &id, &uname);
    sql = bill__sprintf("SELECT " AU_COLS "%s%s FROM admin_users WHERE id = $1::uuid OR "
                        "username = $2%s",
                        extra_cols ? ", " : "", extra_cols ? extra_cols : "",
                        for_update ? " FOR UPDATE" : "");
    if (!sql)
        return bill__err(BILL_ENOMEM, NULL, "out of memory");
    rc = bill__qp(c, res, sql, id, uname);
    free(sql);
    if (rc == BILL_OK && PQntuples(*res) == 0) {
        PQclear(*res);
        *res = NULL;
        rc = bill__err(BILL_ENOTFOUND, "username", "admin user \"%.80s\" not found", ref);
    }
    return rc;
}

int bill_admin_user_get(bill_db *db, const bill_actor *actor, const char *ref,
                        bill_admin_user **out)
{
    bill_conn *c = NULL;
    PGresult *res = NULL;
    int rc;
    if (!ref || !*ref)
        return bill__err(BILL_EINVALID, "username", "admin user id or username is required");
    if (!out)
        return bill__err(BILL_EINVALID, NULL, "out is required");
    if ((rc = bill__require_staff(actor, "read admin users")) < 0)
        return rc;
    if ((rc = bill__conn_acquire(db, &c)) < 0 || (rc = au_fetch(c, ref, NULL, false, &res)) < 0)
        goto done;
    rc = au_new_from_row(res, 0, out);
done:
    PQclear(res);
    bill__conn_done(c);
    return rc;
}

int bill_admin_user_list(bill_db *db, const bill_actor *actor, const bill_page *page,
                         bill_admin_users *out)
{
    static const bill__list_sql q = {AU_COLS, "FROM admin_users", "username"};
    int rc;

    if (!out)
        return bill__err(BILL_EINVALID, NULL, "out is required");
    memset(out, 0, sizeof *out);
    if ((rc = bill__require_staff(actor, "list admin users")) < 0)
        return rc;
    return BILL__LIST_PAGE(db, &AU_ROW, &q, 0, NULL, page, NULL, out);
}

/* Shared body of the setters: lock the row, run `update_sql` ($1 = id,
 * $2 = value), audit before/after. */
/* Refuse to take away the last active "admin": nobody could then manage
 * users except from the CLI. All active admin rows are locked, so two admins
 * demoting each other at once cannot both succeed. */
static int guard_last_admin(bill_conn *c, const PGresult *target)
{
    PGresult *res = NULL;
    int rc;
    if (strcmp(bill__val(target, 0, 4), "admin") != 0 || !bill__bool(target, 0, 5))
        return BILL_OK;
    if ((rc = bill__qp(c, &res,
                       "SELECT id FROM admin_users WHERE role = 'admin' AND is_active "
                       "AND id <> $1 FOR UPDATE",
                       bill__val(target, 0, 0))) < 0)
        return rc;
    if (PQntuples(res) == 0)
        rc = bill__err(BILL_ESTATE, "username",
                       "\"%s\" is the last active admin; create or enable another admin first",
                       bill__val(target, 0, 1));
    PQclear(res);
    return rc;
}

static int au_update(bill_db *db, const bill_actor *actor, const char *ref, const char *action,
                     const char *update_sql, const char *value, bool guard)
{
    bill_conn *c = NULL;
    PGresult *before = NULL, *after = NULL;
    int rc;
    if ((rc = bill__conn_begin(db, &c)) < 0)
        goto done;
    if ((rc = au_fetch(c, ref, AU_JSON, true, &before)) < 0)
        goto done;
    if (guard && (rc = guard_last_admin(c, before)) < 0)
        goto done;
    if ((rc = bill__qp(c, &after, update_sql, bill__val(before, 0, 0), value)) < 0)
        goto done;
    if ((rc = bill__oplog_write(c, actor, action, "admin_user", bill__val(before, 0, 0),
                                bill__val(before, 0, AU_NCOLS), bill__val(after, 0, 0))) < 0)
        goto done;
    if ((rc = bill__tx_commit(c)) == BILL_OK)
        bill__redis_invalidate(bill_db_redis(db)); /* cached sessions: role, active */
done:
    PQclear(before);
    PQclear(after);
    bill__conn_done(c);
    return rc;
}

static bool is_self(const bill_actor *actor, const char *ref)
{
    return actor && actor->kind == BILL_ACTOR_ADMIN &&
           ((actor->user_id && strcmp(actor->user_id, ref) == 0) ||
            (actor->username && strcmp(actor->username, ref) == 0));
}

int bill_admin_user_set_password(bill_db *db, const bill_actor *actor, const char *ref,
                                 const char *new_password)
{
    char hash[BILL_PASSWORD_HASH_BUFSZ];
    int rc;
    if (!ref || !*ref)
        return bill__err(BILL_EINVALID, "username", "admin user id or username is required");
    /* Anyone may change their own password; others' need an administrator. */
    if (!is_self(actor, ref) &&
        (rc = bill__require_superadmin(actor, "change other users' passwords")) < 0)
        return rc;
    if ((rc = bill_password_check_policy(new_password, "new_password")) < 0)
        return rc;
    if ((rc = bill_password_hash(new_password, hash)) < 0)
        return rc;
    rc = au_update(db, actor, ref, "admin_user.set_password",
                   "UPDATE admin_users SET password_hash = $2, updated_at = bill_now() "
                   "WHERE id = $1 RETURNING " AU_JSON,
                   hash, false);
    sodium_memzero(hash, sizeof hash);
    return rc;
}

int bill_admin_user_change_password(bill_db *db, const bill_actor *actor,
                                    const char *old_password, const char *new_password,
                                    const char *keep_session_token, int64_t now_us)
{
    bill_conn *c = NULL;
    PGresult *cur = NULL, *upd = NULL;
    char *stored = NULL, hash[BILL_PASSWORD_HASH_BUFSZ] = "";
    int rc;

    if (!actor || actor->kind != BILL_ACTOR_ADMIN || !bill_uuid_valid(actor->user_id))
        return bill__err(BILL_EDENIED, NULL, "only a signed-in admin user changes its password");
    if ((rc = bill_password_check_policy(new_password, "new_password")) < 0)
        return rc;
    if ((rc = bill__conn_acquire(db, &c)) < 0 ||
        (rc = bill__qp(c, &cur, "SELECT password_hash FROM admin_users WHERE id = $1 AND is_active",
                       actor->user_id)) < 0)
        goto done;
    /* Hash work happens without holding a pooled connection. */
    bill__conn_release(c);
    c = NULL;
    if (PQntuples(cur) == 0) {
        rc = bill__err(BILL_EUNAUTH, NULL, "admin user is gone or disabled");
        goto done;
    }
    if (!(stored = bill__col_dup(cur, 0, 0))) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
        goto done;
    }
    if ((rc = bill__password_replace(old_password, stored, new_password, hash)) < 0)
        goto done;
    if ((rc = bill__conn_begin(db, &c)) < 0)
        goto done;
    /* Only replace the hash we verified, never a password changed meanwhile. */
    if ((rc = bill__qp(c, &upd,
                       "UPDATE admin_users SET password_hash = $2, updated_at = bill_now() "
                       "WHERE id = $1 AND password_hash = $3 RETURNING " AU_JSON,
                       actor->user_id, hash, stored)) < 0)
        goto done;
    if (PQntuples(upd) == 0) {
        rc = bill__err(BILL_ECONFLICT, NULL,
                       "the password was changed meanwhile; sign in again and retry");
        goto done;
    }
    if ((rc = bill__session_revoke_user_tx(c, actor->user_id, keep_session_token, now_us)) < 0 ||
        (rc = bill__oplog_write(c, actor, "admin_user.change_password", "admin_user",
                                actor->user_id, NULL, NULL)) < 0)
        goto done;
    if ((rc = bill__tx_commit(c)) == BILL_OK)
        bill__redis_invalidate(bill_db_redis(db)); /* the revoked sessions, everywhere */
done:
    bill__free_secret(stored);
    sodium_memzero(hash, sizeof hash);
    PQclear(cur);
    PQclear(upd);
    bill__conn_done(c);
    return rc;
}

int bill_admin_user_set_active(bill_db *db, const bill_actor *actor, const char *ref, bool active)
{
    int rc;
    if (!ref || !*ref)
        return bill__err(BILL_EINVALID, "username", "admin user id or username is required");
    if ((rc = bill__require_superadmin(actor, "enable or disable admin users")) < 0)
        return rc;
    if (!active && is_self(actor, ref))
        return bill__err(BILL_EINVALID, "username", "you cannot disable your own account");
    return au_update(db, actor, ref, active ? "admin_user.enable" : "admin_user.disable",
                     "UPDATE admin_users SET is_active = $2::boolean, updated_at = bill_now() "
                     "WHERE id = $1 RETURNING " AU_JSON,
                     active ? "true" : "false", !active);
}

int bill_admin_user_set_role(bill_db *db, const bill_actor *actor, const char *ref,
                             const char *role)
{
    int rc;
    if (!ref || !*ref)
        return bill__err(BILL_EINVALID, "username", "admin user id or username is required");
    if ((rc = bill__require_superadmin(actor, "change admin roles")) < 0 ||
        (rc = bill_admin_user_check_role(role)) < 0)
        return rc;
    return au_update(db, actor, ref, "admin_user.set_role",
                     "UPDATE admin_users SET role = $2, updated_at = bill_now() "
                     "WHERE id = $1 RETURNING " AU_JSON,
                     role, strcmp(role, "admin") != 0);
}

int bill_admin_user_delete(bill_db *db, const bill_actor *actor, const char *ref)
{
    bill_conn *c = NULL;
    PGresult *before = NULL;
    int rc;
    if (!ref || !*ref)
        return bill__err(BILL_EINVALID, "username", "admin user id or username is required");
    if ((rc = bill__require_superadmin(actor, "delete admin users")) < 0)
        return rc;
    if (is_self(actor, ref))
        return bill__err(BILL_EINVALID, "username", "you cannot delete your own account");
    if ((rc = bill__conn_begin(db, &c)) < 0 ||
        (rc = au_fetch(c, ref, AU_JSON, true, &before)) < 0 ||
        (rc = guard_last_admin(c, before)) < 0)
        goto done;
    if ((rc = bill__qp(c, NULL, "DELETE FROM admin_users WHERE id = $1",
                       bill__val(before, 0, 0))) < 0 ||
        (rc = bill__oplog_write(c, actor, "admin_user.delete", "admin_user",
                                bill__val(before, 0, 0), bill__val(before, 0, AU_NCOLS), NULL)) < 0)
        goto done;
    if ((rc = bill__tx_commit(c)) == BILL_OK)
        bill__redis_invalidate(bill_db_redis(db));
done:
    PQclear(before);
    bill__conn_done(c);
    return rc;
}

int bill_admin_user_verify(bill_db *db, const char *username, const char *password,
                           bill_admin_user **out)
{
    bill_conn *c = NULL;
    PGresult *res = NULL, *upd = NULL;
    char *stored = NULL;
    char newhash[BILL_PASSWORD_HASH_BUFSZ];
    bool rehash = false, active;
    int rc;

    newhash[0] = '\0';
    if (!username || !*username || !password) {
        rc = bill_password_verify_dummy(password ? password : "");
        goto done;
    }
    if ((rc = bill__conn_acquire(db, &c)) < 0)
        goto done;
    if ((rc = bill__qp(c, &res, "SELECT " AU_COLS ", password_hash FROM admin_users "
                                "WHERE username = $1", username)) < 0)
        goto done;
    /* Hash work happens without holding a pooled connection. */
    bill__conn_release(c);
    c = NULL;
    if (PQntuples(res) == 0) {
        rc = bill_password_verify_dummy(password);
        goto done;
    }
    active = bill__bool(res, 0, 5);
    if (!(stored = bill__col_dup(res, 0, AU_NCOLS))) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
        goto done;
    }
    if ((rc = bill_password_verify(password, stored, &rehash)) < 0)
        goto done;
    if (!active) {
        /* Same answer as a wrong password: no oracle for disabled accounts. */
        rc = bill__err(BILL_EUNAUTH, NULL, "invalid username or password");
        goto done;
    }
    if (rehash && bill_password_hash(password, newhash) < 0)
        newhash[0] = '\0'; /* keep the old hash; the login itself succeeded */
    if ((rc = bill__conn_acquire(db, &c)) < 0)
        goto done;
    /* Only replace the hash we verified, never a password changed meanwhile. */
    rc = bill__qp(c, &upd,
                  "UPDATE admin_users SET last_login_at = bill_now(), "
                  "password_hash = CASE WHEN $2 <> '' AND password_hash = $3 THEN $2 "
                  "ELSE password_hash END WHERE id = $1 RETURNING " AU_COLS,
                  bill__val(res, 0, 0), newhash, stored);
    if (rc < 0)
        goto done;
    if (PQntuples(upd) == 0) {
        rc = bill__err(BILL_EUNAUTH, NULL, "invalid username or password");
        goto done;
    }
    if (out)
        rc = au_new_from_row(upd, 0, out);
done:
    bill__free_secret(stored);
    sodium_memzero(newhash, sizeof newhash);
    PQclear(res);
    PQclear(upd);
    bill__conn_done(c);
    return rc;
}

int bill_admin_user_ensure_bootstrap(bill_db *db, const char *username, const char *password,
                                     bool *created)
{
    bill_conn *c = NULL;
    PGresult *res = NULL;
    char hash[BILL_PASSWORD_HASH_BUFSZ];
    bill_actor sys = {.kind = BILL_ACTOR_SYSTEM, .username = "bootstrap"};
    int rc;

    hash[0] = '\0';
    if (created)
        *created = false;
    if ((rc = bill_admin_user_check_username(username)) < 0 ||
        (rc = bill_password_check_policy(password, "admin_password")) < 0)
        return rc;
    if ((rc = bill__conn_acquire(db, &c)) < 0)
        goto done;
    if ((rc = bill__qp(c, &res, "SELECT 1 FROM admin_users WHERE username = $1", username)) < 0)
        goto done;
    if (PQntuples(res) > 0)
        goto done; /* present: never overwritten */
    PQclear(res);
    res = NULL;
    bill__conn_release(c);
    c = NULL;
    if ((rc = bill_password_hash(password, hash)) < 0)
        goto done;
    if ((rc = bill__conn_begin(db, &c)) < 0)
        goto done;
    /* Two servers starting together: ON CONFLICT makes the loser a no-op. */
    rc = bill__qp(c, &res,
                  "INSERT INTO admin_users (username, password_hash, role, display_name) "
                  "VALUES ($1, $2, 'admin', 'Bootstrap administrator') "
                  "ON CONFLICT (username) DO NOTHING RETURNING id, " AU_JSON,
                  username, hash);
    if (rc < 0)
        goto done;
    if (PQntuples(res) == 1) {
        if ((rc = bill__oplog_write(c, &sys, "admin_user.bootstrap", "admin_user",
                                    bill__val(res, 0, 0), NULL, bill__val(res, 0, 1))) < 0)
            goto done;
        if (created)
            *created = true;
    }
    rc = bill__tx_commit(c);
    if (rc < 0 && created)
        *created = false;
done:
    sodium_memzero(hash, sizeof hash);
    PQclear(res);
    bill__conn_done(c);
    return rc;
}
