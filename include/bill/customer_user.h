/*
 * customer_user.h — customer login accounts, self-service registration and
 * e-mail verification codes (wire contract IdentityService).
 *
 * A customer user belongs to exactly one customer. Registering creates both
 * (the customer with balance 0.00, the user as its "owner") in one
 * transaction, so there is never a customer without a login or the reverse.
 *
 * Login failures are uniform: unknown user, wrong password and disabled user
 * all return BILL_EUNAUTH "invalid username or password" and take the same
 * time (a dummy argon2 verification runs for unknown users).
 */
#ifndef BILL_CUSTOMER_USER_H
#define BILL_CUSTOMER_USER_H

#include "common.h"
#include "actor.h"
#include "db.h"
#include "page.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bill_customer_user {
    char id[37];
    char customer_id[37];
    char *username;      /* malloc'd, owned by the struct */
    char *email;
    char *display_name;
    char role[16];       /* "owner" | "member" */
    bool is_active;
    bool email_verified;
    int64_t created_at_us;
    /* fields above exist since 0.1 */
    char customer_status[16]; /* the customer's: "active" | "suspended" | "closed"
                                 (see bill_customer_status_check) */
    /* Filled by bill_customer_user_list only (NULL / 0 from the other calls): */
    char *customer_name;     /* the owning customer's name, malloc'd */
    int64_t last_login_at_us; /* 0 = never */
} bill_customer_user;

BILL_API void bill_customer_user_free(bill_customer_user *u);

/* ---- listing (staff consoles: bill-tui's Cust Users tab) ---------------- */

typedef struct bill_customer_users {
    BILL_LIST_OF(bill_customer_user);
} bill_customer_users;

#define BILL_CUSTOMER_USER_FILTER_VERSION 1u
typedef struct bill_customer_user_filter {
    unsigned int version;    /* BILL_CUSTOMER_USER_FILTER_VERSION */
    const char *customer_id; /* NULL/"" = every customer (a CUSTOMER actor: its own) */
    const char *search;      /* substring of username, e-mail, display name or the customer's
                                name (case-insensitive, % and _ match themselves); NULL/"" = all */
    /* fields above exist since version 1 */
} bill_customer_user_filter;

/* Customer users across customers, newest first (created_at DESC, id DESC),
 * with their customer's name and last login. Scoped like every customer
 * list (actor.h): staff see every customer's, a CUSTOMER actor its own
 * customer's (naming another is BILL_ENOTFOUND). filter/page may be NULL.
 * Password hashes never leave the database. */
BILL_API int bill_customer_user_list(bill_db *db, const bill_actor *actor,
                                     const bill_customer_user_filter *filter,
                                     const bill_page *page, bill_customer_users *out);
/* Free the items and zero *l. NULL-safe. */
BILL_API void bill_customer_users_clear(bill_customer_users *l);

#define BILL_REGISTER_PARAMS_VERSION 1
typedef struct bill_register_params {
    unsigned int version;          /* BILL_REGISTER_PARAMS_VERSION */
    const char *username;          /* 3..64 chars of [A-Za-z0-9_.-] */
    const char *email;             /* required, shape local@domain.tld, <= 254 */
    const char *display_name;      /* optional, <= 128; "" -> username */
    const char *password;          /* bill_password_check_policy */
    const char *verification_code; /* required when require_verification */
    bool require_verification;     /* [registration] require_email_verification */
    /* fields above exist since version 1 */
} bill_register_params;

/* Validate, check the verification code (when required; consuming it), then
 * create customer + user in one transaction. Duplicate username or e-mail
 * (case-insensitive) -> BILL_ECONFLICT "username already taken" / "email
 * already registered". Validation failures -> BILL_EINVALID naming the
 * field. The user's email_verified is set when a code was checked.
 * Duplicates are looked for BEFORE the code is consumed; only a concurrent
 * registration of the same name winning in between spends a code for
 * nothing (the user then asks for a new one). */
BILL_API int bill_customer_register(bill_db *db, const bill_register_params *p, int64_t now_us,
                                    bill_customer_user **out);

/* Verify a login. `login` is the username, or the e-mail when it contains
 * '@'. On success *out (may be NULL) receives the user and last_login_at is
 * set; bcrypt hashes are re-hashed to argon2id. Failure: BILL_EUNAUTH
 * "invalid username or password" for every kind of mismatch. A right
 * password for a customer that is not active (suspended, closed):
 * BILL_EDENIED from bill_customer_status_check, nothing changed. */
BILL_API int bill_customer_user_verify(bill_db *db, const char *login, const char *password,
                                       int64_t now_us, bill_customer_user **out);

/* Load by id. BILL_ENOTFOUND when absent. */
BILL_API int bill_customer_user_get(bill_db *db, const char *id, bill_customer_user **out);

/* Change the password after checking the old one (BILL_EUNAUTH "current
 * password is wrong"); the new one must satisfy the policy (field
 * "new_password"). Revokes all refresh tokens of the user, so other devices
 * must log in again; access tokens already issued live until they expire.
 * A customer that is not active: BILL_EDENIED. */
BILL_API int bill_customer_user_change_password(bill_db *db, const char *id,
                                                const char *old_password,
                                                const char *new_password, int64_t now_us);

/* ---- verification codes ------------------------------------------------
 *
 * A 6-digit code (randombytes_uniform, leading zeros kept) is stored as a
 * SHA-256 of "email|purpose|code" and valid for ttl_secs. Asking again within
 * cooldown_secs of the last send returns BILL_ELIMIT with *retry_after_secs.
 * A code allows BILL_VERIFICATION_MAX_ATTEMPTS wrong tries, then it is dead.
 * Sending a new code supersedes older unconsumed ones.
 *
 * Delivery: the code is handed to notifier plugins through a durable event
 * (events.kind = "notify.verification_code", payload {email, purpose, code,
 * expires_in_secs}). The payload holds the code in clear because the
 * notifier must put it into the e-mail; events are server-side only (no API
 * returns them), and the event worker may blank the code once delivered.
 */
#define BILL_VERIFICATION_MAX_ATTEMPTS 5

/* purpose: "registration" (also for NULL/"") | "reset_password"; "register"
 * is accepted as an alias of registration. *code_out (may be NULL) receives
 * the code (malloc'd) for callers without notifier plugins and for tests. */
BILL_API int bill_verification_code_send(bill_db *db, const char *email, const char *purpose,
                                         int ttl_secs, int cooldown_secs, int64_t now_us,
                                         int *retry_after_secs, char **code_out);

/* Check and consume a code. BILL_EINVALID (field "verification_code") for a
 * wrong, expired, used or exhausted code; the message says which. */
BILL_API int bill_verification_code_check(bill_db *db, const char *email, const char *purpose,
                                          const char *code, int64_t now_us);

#ifdef __cplusplus
}
#endif
#endif
