/*
 * admin_user.h — staff accounts: create, look up, list, change
 * password, enable/disable, verify a login, and make sure the bootstrap admin
 * of [bootstrap] exists at server start.
 *
 * Rules: username 3..64 characters of [A-Za-z0-9_.-]; password per
 * bill_password_check_policy (>= 8 characters); role one of "admin",
 * "operator", "support" (the CHECK set of migration 001). Passwords are
 * stored as argon2id (password.h); imported bcrypt hashes still verify and are
 * replaced by argon2id on the first successful login.
 *
 * Authorization: every call that takes an actor is for staff (SYSTEM, CLI, or
 * an ADMIN actor whose role is "admin" or unset); others get BILL_EDENIED.
 * Mutations write an operation_logs row (password hashes never appear in it).
 *
 * Lookups accept `ref` = the user's id (a UUID) or its username.
 */
#ifndef BILL_ADMIN_USER_H
#define BILL_ADMIN_USER_H

#include "common.h"
#include "actor.h"
#include "db.h"
#include "page.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bill_admin_user {
    char *id;
    char *username;
    char *email;        /* "" when unset */
    char *display_name; /* "" when unset */
    char *role;         /* "admin" | "operator" | "support" */
    bool is_active;
    int64_t last_login_at; /* usec since epoch UTC; 0 = never */
    int64_t created_at;
    int64_t updated_at;
} bill_admin_user;

typedef struct bill_admin_users {
    BILL_LIST_OF(bill_admin_user);
} bill_admin_users;

/* NULL-safe. */
BILL_API void bill_admin_user_free(bill_admin_user *u);
BILL_API void bill_admin_users_clear(bill_admin_users *l);

/* BILL_OK or BILL_EINVALID naming field "username" / "role". */
BILL_API int bill_admin_user_check_username(const char *username);
BILL_API int bill_admin_user_check_role(const char *role);

/* Create a user. role NULL -> "operator"; email/display_name may be NULL.
 * Duplicate username -> BILL_ECONFLICT. *out (may be NULL) receives the row. */
BILL_API int bill_admin_user_create(bill_db *db, const bill_actor *actor, const char *username,
                                    const char *password, const char *role, const char *email,
                                    const char *display_name, bill_admin_user **out);

/* By id or username; BILL_ENOTFOUND when absent. */
BILL_API int bill_admin_user_get(bill_db *db, const bill_actor *actor, const char *ref,
                                 bill_admin_user **out);

/* Ordered by username. */
BILL_API int bill_admin_user_list(bill_db *db, const bill_actor *actor, const bill_page *page,
                                  bill_admin_users *out);

BILL_API int bill_admin_user_set_password(bill_db *db, const bill_actor *actor, const char *ref,
                                          const char *new_password);
/* An admin changes its own password (IdentityService.ChangePassword): the
 * actor must be an ADMIN with user_id. In this order: the new password
 * passes bill_password_check_policy (BILL_EINVALID naming "new_password"),
 * the current one is verified (BILL_EUNAUTH "current password is wrong",
 * field "old_password"), then in one transaction the hash is replaced — only
 * if it is still the one verified (a concurrent change: BILL_ECONFLICT) —,
 * every other session of the user is revoked (the one of `keep_session_token`
 * stays; NULL revokes all) and the change is written to the operation log. */
BILL_API int bill_admin_user_change_password(bill_db *db, const bill_actor *actor,
                                             const char *old_password, const char *new_password,
                                             const char *keep_session_token, int64_t now_us);
BILL_API int bill_admin_user_set_active(bill_db *db, const bill_actor *actor, const char *ref,
                                        bool active);
BILL_API int bill_admin_user_set_role(bill_db *db, const bill_actor *actor, const char *ref,
                                      const char *role);
/* Sessions go with the user; tickets assigned to it become unassigned.
 * Disabling, demoting or deleting the last active "admin" is BILL_ESTATE;
 * an ADMIN actor cannot disable or delete itself (BILL_EINVALID). */
BILL_API int bill_admin_user_delete(bill_db *db, const bill_actor *actor, const char *ref);

/* Login check. BILL_OK and *out (may be NULL) on success; last_login_at is
 * updated and a bcrypt or outdated hash is replaced. Unknown user, wrong
 * password and disabled user all fail the same way: BILL_EUNAUTH,
 * "invalid username or password", after the same argon2id work. */
BILL_API int bill_admin_user_verify(bill_db *db, const char *username, const char *password,
                                    bill_admin_user **out);

/* Create `username` with role "admin" when no user of that name exists;
 * never touches an existing one. *created (may be NULL) says which. The
 * password must satisfy the policy. Safe against concurrent server starts. */
BILL_API int bill_admin_user_ensure_bootstrap(bill_db *db, const char *username,
                                              const char *password, bool *created);

#ifdef __cplusplus
}
#endif
#endif
