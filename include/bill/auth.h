/*
 * auth.h — credentials: customer access tokens (HS256 JWT),
 * rotating refresh tokens, and server-side admin sessions.
 *
 * Times: every function takes `now_us` (microseconds since the epoch, UTC),
 * normally bill_time_now(); tests pass a moved clock. Stored timestamps are
 * derived from it, so expiry is judged consistently by one clock.
 *
 * Secrets never leave the process in clear except once, to the caller that
 * created them: session tokens, refresh tokens and API keys are stored as
 * SHA-256 hashes and looked up by hash (a lookup by hash of a 256-bit random
 * value is as good as a constant-time compare: timing reveals nothing about
 * the stored value). Failure messages never contain the credential.
 */
#ifndef BILL_AUTH_H
#define BILL_AUTH_H

#include "common.h"
#include "actor.h"
#include "db.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- account status ------------------------------------------------------ */

/* The rule for customer credentials: only a customer whose status is
 * "active" may log in, refresh a token, change a password, use an API key
 * or make any authenticated call; "suspended" and "closed" (and anything
 * else) are BILL_EDENIED (PERMISSION_DENIED on the wire) with a message
 * naming the account and its status. Public catalog reads stay open.
 * libbill applies it itself on every customer path (a JWT issued before a
 * suspension stops working at once); it is public so frontends that show
 * accounts can say the same thing. */
BILL_API int bill_customer_status_check(const char *customer_id, const char *status);

/* ---- access tokens (JWT, HS256 only) ---------------------------------- */

/* Claims of a customer access token. */
typedef struct bill_jwt_claims {
    char sub[64];   /* customer_users.id */
    char cid[64];   /* customers.id */
    char jti[64];   /* random token id */
    int64_t iat;    /* issued at, seconds since the epoch */
    int64_t exp;    /* expires at, seconds since the epoch */
    char fam[64];   /* refresh-token family of the login, "" when absent */
} bill_jwt_claims;

/* Issue an access token {sub, cid, typ:"access", iat, exp, jti}, signed HS256
 * with `secret` (non-empty). *out is malloc'd (free()); *expires_in (may be
 * NULL) = expiry_hours * 3600. expiry_hours must be 1..8760. */
BILL_API int bill_jwt_issue(const char *secret, const char *customer_user_id,
                            const char *customer_id, int expiry_hours, int64_t now_us,
                            char **out, int64_t *expires_in);

/* Same, also embedding the refresh-token family of this login as claim
 * "fam" (family_id may be NULL/""), so Logout can revoke exactly that login. */
BILL_API int bill_jwt_issue_family(const char *secret, const char *customer_user_id,
                                   const char *customer_id, const char *family_id,
                                   int expiry_hours, int64_t now_us, char **out,
                                   int64_t *expires_in);

/* Verify a token and fill *claims (may be NULL). Everything wrong is
 * BILL_EUNAUTH with a message that never contains the token: malformed,
 * header alg other than "HS256" (including "none"), bad signature (checked in
 * constant time), missing or non-integer exp, expired ("access token expired"),
 * typ other than "access", missing sub/cid.
 * A token that verified once is remembered (a fixed-size in-process cache
 * keyed by a hash of secret and token; thread-safe), so later calls with it
 * only check exp against now_us. Failures are not remembered. The cache
 * holds nothing a token cannot carry: account status is the caller's to
 * check on every call (libbill's domain calls do). */
BILL_API int bill_jwt_verify(const char *secret, const char *token, int64_t now_us,
                             bill_jwt_claims *claims);
/* Lookups of that cache since the process started (either may be NULL). */
BILL_API void bill_jwt_cache_stats(uint64_t *hits, uint64_t *misses);

/* ---- refresh tokens ---------------------------------------------------- */

/* Lifetime of a refresh token: 30 days. Each rotation issues a new token with
 * a fresh 30-day lifetime inside the same family; the family itself has no
 * separate limit (an active user stays signed in, an idle one drops out after
 * 30 days). */
#define BILL_REFRESH_TTL_SECS (30 * 24 * 3600)

typedef struct bill_refresh_result {
    char customer_user_id[37];
    char customer_id[37];
    char family_id[37];
} bill_refresh_result;

/* Issue a new refresh token in a NEW family for a customer user (login).
 * *token_out is malloc'd: "rt_" + 43 chars base64url. */
BILL_API int bill_refresh_token_issue(bill_db *db, const char *customer_user_id,
                                      int64_t now_us, char **token_out,
                                      bill_refresh_result *info);

/* Rotate: the presented token must exist, be unexpired, unused and unrevoked;
 * it is marked used and a new token of the same family is returned.
 * Presenting a token that was ALREADY rotated (reuse: it was stolen or
 * replayed) revokes every token of its family and fails with BILL_EUNAUTH.
 * Disabled users fail with BILL_EUNAUTH too; a customer that is not active
 * (suspended, closed) with BILL_EDENIED (bill_customer_status_check), the
 * token left unused. */
BILL_API int bill_refresh_token_rotate(bill_db *db, const char *token, int64_t now_us,
                                       char **new_token_out, bill_refresh_result *info);

/* Revoke the family of `token` (logout). Unknown tokens: BILL_OK (idempotent,
 * and it tells an attacker nothing). */
BILL_API int bill_refresh_token_revoke_family(bill_db *db, const char *token, int64_t now_us);

/* Revoke one family of a customer user by its id (Logout with an access
 * token carrying "fam"). Unknown family: BILL_OK. */
BILL_API int bill_refresh_token_revoke_user_family(bill_db *db, const char *customer_user_id,
                                                   const char *family_id, int64_t now_us);

/* Revoke every refresh token of a customer user (password change). */
BILL_API int bill_refresh_token_revoke_user(bill_db *db, const char *customer_user_id,
                                            int64_t now_us);

/* ---- admin sessions ----------------------------------------------------- */

typedef struct bill_session_info {
    char session_id[37];
    char admin_user_id[37];
    char username[128];
    char email[256];
    char display_name[256];
    char role[32];
    bool is_active;
    int64_t user_created_at_us;
    int64_t created_at_us;
    int64_t last_seen_at_us;
} bill_session_info;

/* Create a session for an admin user. The token (43 chars base64url of 32
 * random bytes) goes to *token_out (malloc'd) and becomes the cookie value;
 * only its SHA-256 is stored. expires_at = now + absolute_timeout_hours.
 * ip and user_agent may be NULL. */
BILL_API int bill_session_create(bill_db *db, const char *admin_user_id, const char *ip,
                                 const char *user_agent, int absolute_timeout_hours,
                                 int64_t now_us, char **token_out);

/* Resolve a cookie value to its session and admin user. BILL_EUNAUTH when the
 * token is unknown, revoked, idle longer than idle_timeout_minutes since
 * last_seen_at, older than absolute_timeout_hours since created_at (both
 * enforced here, server-side), or when the admin user is disabled. Bumps
 * last_seen_at, at most once a minute to spare writes. */
BILL_API int bill_session_resolve(bill_db *db, const char *token, int64_t now_us,
                                  int idle_timeout_minutes, int absolute_timeout_hours,
                                  bill_session_info *out);

/* Fill an actor (kind ADMIN) that points into *s (keep s alive while used). */
BILL_API void bill_session_actor(const bill_session_info *s, bill_actor *actor);

/* Revoke the session of this token (logout). Unknown token: BILL_OK. */
BILL_API int bill_session_revoke(bill_db *db, const char *token, int64_t now_us);

/* Revoke every session of an admin user except the one of `keep_token`
 * (may be NULL: revoke all). Used after a password change. */
BILL_API int bill_session_revoke_user(bill_db *db, const char *admin_user_id,
                                      const char *keep_token, int64_t now_us);

/* ---- housekeeping ----------------------------------------------------------- */

/* Delete credential rows that can never be accepted again, once they are
 * more than a day past their end (the day keeps recent rows for support
 * questions): admin sessions expired or revoked, refresh tokens expired or
 * revoked, verification codes expired or consumed. *deleted (may be NULL)
 * receives the number of rows removed. Meant for a periodic maintenance job
 * (e.g. with the billing pass); idempotent and safe to run concurrently. */
BILL_API int bill_auth_purge_expired(bill_db *db, int64_t now_us, int64_t *deleted);

#ifdef __cplusplus
}
#endif
#endif
