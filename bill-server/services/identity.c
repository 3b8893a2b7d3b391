/*
 * identity.c — rustbill.identity.IdentityService (wire-contract.md): Login,
 * Register, SendVerificationCode, Logout, GetMe, RefreshToken, ChangePassword
 * for both user types. user_type "admin" = staff (session cookie), "customer"
 * or "" = customer users (JWT access token + rotating refresh token).
 *
 * Decisions (documented here because the wire contract leaves them open):
 *   - Admin Login returns no tokens: the session lives in an httpOnly cookie
 *     (Path=/, SameSite from [session], Secure when cookie_secure or
 *     SameSite=None) and the response carries admin_path "/admin".
 *   - Failed logins of one username (per user type) are counted by the
 *     process-wide login guard (5 failures / 15 min -> growing lockout,
 *     RESOURCE_EXHAUSTED); per-IP request rates are the rate-limit layer's.
 *   - Customer Logout revokes the refresh-token family of the login the
 *     access token belongs to (claim "fam"); the access token itself is
 *     stateless and stays valid until it expires ([jwt] expiry_hours).
 *     Admin Logout revokes the session and clears the cookie.
 *   - ChangePassword: customers — all refresh tokens of the user are revoked
 *     (every device signs in again once its access token expires); admins —
 *     every other session of the admin is revoked, the current one is kept.
 *   - SendVerificationCode within the resend cooldown answers OK with
 *     sent=false and retry_after_secs, as the front end expects to show it.
 * Handlers hold no business rules: they translate to libbill calls.
 */
#include "conv.h"
#include "../layers/auth.h"

#include "rustbill/identity.pb-c.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LOG_MODULE "bill_server::identity"

/* UserInfo of a customer user or an admin: the fields both kinds have. */
static Rustbill__Identity__UserInfo *user_info(bill_srv_call *call, const char *user_type, const char *id,
                                               const char *username, const char *email,
                                               const char *display_name, const char *role,
                                               bool is_active, int64_t created_at,
                                               const char *customer_id)
{
    Rustbill__Identity__UserInfo *i = bill_srv_call_new(call, &rustbill__identity__user_info__descriptor);
    if (!i)
        return NULL;
    i->id = conv_str(call, id);
    i->username = conv_str(call, username);
    i->email = conv_str(call, email);
    i->display_name = conv_str(call, display_name);
    i->role = conv_str(call, role);
    i->is_active = is_active;
    i->created_at = conv_time(call, created_at);
    i->user_type = (char *)user_type;
    i->customer_id = conv_str(call, customer_id);
    return i;
}

static Rustbill__Identity__UserInfo *customer_info(bill_srv_call *call, const bill_customer_user *u)
{
    return user_info(call, "customer", u->id, u->username, u->email, u->display_name, u->role,
                     u->is_active, u->created_at_us, u->customer_id);
}

static Rustbill__Identity__UserInfo *admin_info(bill_srv_call *call, const bill_admin_user *u)
{
    return user_info(call, "admin", u->id, u->username, u->email, u->display_name, u->role,
                     u->is_active, u->created_at, NULL);
}

/* "" / "customer" -> 0, "admin" -> 1, anything else -> -1 */
static int user_type(const char *t)
{
    if (!t || !*t || strcmp(t, "customer") == 0)
        return 0;
    if (strcmp(t, "admin") == 0)
        return 1;
    return -1;
}

static char *guard_key(bill_srv_call *call, bool admin, const char *username)
{
    char *k = bill_srv_call_sprintf(call, "%s:%s", admin ? "admin" : "customer", username ? username : "");
    for (char *p = k; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return k;
}

/* ---- Login ----------------------------------------------------------------- */

static int login_admin(bill_srv_call *call, const Rustbill__Identity__LoginRequest *req,
                       Rustbill__Identity__LoginResponse *resp)
{
    const bill_config *cfg = bill_srv_call_config(call);
    bill_admin_user *u = NULL;
    char *tok = NULL;
    int rc, st = BILL_GRPC_OK;
    char *key = guard_key(call, true, req->username);

    rc = bill_admin_user_verify(bill_srv_call_db(call), req->username, req->password, &u);
    if (rc == BILL_EUNAUTH) {
        bill_loginguard_fail_from(bill_srv_call_loginguard(call), key, bill_srv_call_peer_ip(call),
                                  bill_time_now());
        BILL_LOG_WARN(LOG_MODULE, "failed admin login for \"%.64s\" from %s", req->username,
                      bill_srv_call_peer_ip(call));
    }
    if (rc < 0) {
        st = bill_srv_call_fail(call, rc);
        goto done;
    }
    bill_loginguard_success_from(bill_srv_call_loginguard(call), key, bill_srv_call_peer_ip(call));
    rc = bill_session_create(bill_srv_call_db(call), u->id, bill_srv_call_peer_ip(call),
                             bill_srv_call_header(call, "user-agent"),
                             cfg->session.absolute_timeout_hours, bill_time_now(), &tok);
    if (rc < 0) {
        st = bill_srv_call_fail(call, rc);
        goto done;
    }
    if (bill_srv_call_add_header(call, "set-cookie", bill_srv_auth_session_cookie(call, tok)) != BILL_OK) {
        st = conv_oom(call);
        goto done;
    }
    resp->user = admin_info(call, u);
    resp->admin_path = "/admin";
    if (!resp->user)
        st = conv_oom(call);
    BILL_LOG_INFO(LOG_MODULE, "admin \"%s\" logged in from %s", u->username, bill_srv_call_peer_ip(call));
done:
    free(tok);
    bill_admin_user_free(u);
    return st;
}

/* Access + refresh token pair for a customer user (new family when
 * refresh_in is NULL, else rotation of refresh_in). */
static int issue_tokens(bill_srv_call *call, const char *user_id, const char *customer_id,
                        const char *refresh_in, char **access, char **refresh, int64_t *expires_in)
{
    const bill_config *cfg = bill_srv_call_config(call);
    bill_refresh_result r;
    char *a = NULL, *rt = NULL;
    int64_t now = bill_time_now();
    int rc;

    if (refresh_in)
        rc = bill_refresh_token_rotate(bill_srv_call_db(call), refresh_in, now, &rt, &r);
    else
        rc = bill_refresh_token_issue(bill_srv_call_db(call), user_id, now, &rt, &r);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    rc = bill_jwt_issue_family(cfg->jwt.secret, r.customer_user_id,
                               customer_id ? customer_id : r.customer_id, r.family_id,
                               cfg->jwt.expiry_hours, now, &a, expires_in);
    if (rc < 0) {
        free(rt);
        return bill_srv_call_fail(call, rc);
    }
    *access = bill_srv_call_strdup(call, a);
    *refresh = bill_srv_call_strdup(call, rt);
    free(a);
    free(rt);
    return BILL_GRPC_OK;
}

static int login_customer(bill_srv_call *call, const Rustbill__Identity__LoginRequest *req,
                          Rustbill__Identity__LoginResponse *resp)
{
    bill_customer_user *u = NULL;
    int rc, st;
    char *key = guard_key(call, false, req->username);

    rc = bill_customer_user_verify(bill_srv_call_db(call), req->username, req->password,
                                   bill_time_now(), &u);
    if (rc == BILL_EUNAUTH) {
        bill_loginguard_fail_from(bill_srv_call_loginguard(call), key, bill_srv_call_peer_ip(call),
                                  bill_time_now());
        BILL_LOG_WARN(LOG_MODULE, "failed customer login for \"%.64s\" from %s", req->username,
                      bill_srv_call_peer_ip(call));
    }
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    bill_loginguard_success_from(bill_srv_call_loginguard(call), key, bill_srv_call_peer_ip(call));
    st = issue_tokens(call, u->id, u->customer_id, NULL, &resp->access_token, &resp->refresh_token,
                      &resp->expires_in);
    if (st == BILL_GRPC_OK && !(resp->user = customer_info(call, u)))
        st = conv_oom(call);
    bill_customer_user_free(u);
    return st;
}

static int identity_login(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Identity__LoginRequest *req = (const Rustbill__Identity__LoginRequest *)in;
    Rustbill__Identity__LoginResponse *resp;
    int type = user_type(req->user_type), retry = 0, st;

    if (type < 0)
        return bill_srv_call_error(call, BILL_GRPC_INVALID_ARGUMENT,
                                   "user_type \"%.32s\" is not one of admin, customer", req->user_type);
    if (!req->username || !*req->username)
        return bill_srv_call_error(call, BILL_GRPC_INVALID_ARGUMENT, "username is required");
    if (!req->password || !*req->password)
        return bill_srv_call_error(call, BILL_GRPC_INVALID_ARGUMENT, "password is required");
    /* Locked per (username, client address), and per username only after
     * many failures from many addresses: a stranger cannot lock the owner
     * out (libbill's loginguard holds the policy). */
    if (bill_loginguard_check_from(bill_srv_call_loginguard(call),
                                   guard_key(call, type == 1, req->username),
                                   bill_srv_call_peer_ip(call), bill_time_now(), &retry) != BILL_OK) {
        BILL_LOG_WARN(LOG_MODULE, "login for locked user \"%.64s\" from %s refused: %s",
                      req->username, bill_srv_call_peer_ip(call), bill_error_last()->message);
        return bill_srv_call_error(call, BILL_GRPC_RESOURCE_EXHAUSTED, "%s",
                                   bill_error_last()->message);
    }
    if (!(resp = bill_srv_call_new(call, &rustbill__identity__login_response__descriptor)))
        return conv_oom(call);
    st = type == 1 ? login_admin(call, req, resp) : login_customer(call, req, resp);
    if (st == BILL_GRPC_OK)
        *out = &resp->base;
    return st;
}

/* ---- Register / SendVerificationCode --------------------------------------- */

static int identity_register(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Identity__RegisterRequest *req = (const Rustbill__Identity__RegisterRequest *)in;
    const bill_config *cfg = bill_srv_call_config(call);
    Rustbill__Identity__RegisterResponse *resp;
    bill_customer_user *u = NULL;
    bill_register_params p = {.version = BILL_REGISTER_PARAMS_VERSION,
                              .username = req->username,
                              .email = req->email,
                              .display_name = req->display_name,
                              .password = req->password,
                              .verification_code = req->verification_code,
                              .require_verification = cfg->registration.require_email_verification};
    int rc, st = BILL_GRPC_OK;

    rc = bill_customer_register(bill_srv_call_db(call), &p, bill_time_now(), &u);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    resp = bill_srv_call_new(call, &rustbill__identity__register_response__descriptor);
    if (!resp || !(resp->user = customer_info(call, u))) {
        st = conv_oom(call);
        goto done;
    }
    resp->customer_id = bill_srv_call_strdup(call, u->customer_id);
    BILL_LOG_INFO(LOG_MODULE, "customer user \"%s\" registered from %s (customer %s)", u->username,
                  bill_srv_call_peer_ip(call), u->customer_id);
    *out = &resp->base;
done:
    bill_customer_user_free(u);
    return st;
}

static int identity_send_code(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Identity__SendVerificationCodeRequest *req =
        (const Rustbill__Identity__SendVerificationCodeRequest *)in;
    const bill_config *cfg = bill_srv_call_config(call);
    Rustbill__Identity__SendVerificationCodeResponse *resp;
    const char *purpose = req->purpose; /* libbill: "" = registration, aliases */
    int retry = 0, rc;

    rc = bill_verification_code_send(bill_srv_call_db(call), req->email, purpose,
                                     cfg->registration.code_ttl_secs,
                                     cfg->registration.resend_cooldown_secs,
                                     bill_time_now(), &retry, NULL);
    if (rc < 0 && rc != BILL_ELIMIT)
        return bill_srv_call_fail(call, rc);
    if (!(resp = bill_srv_call_new(call, &rustbill__identity__send_verification_code_response__descriptor)))
        return conv_oom(call);
    resp->sent = rc == BILL_OK;
    resp->retry_after_secs = rc == BILL_OK ? (cfg->registration.resend_cooldown_secs) : retry;
    resp->message = rc == BILL_OK
                        ? "verification code sent"
                        : bill_srv_call_sprintf(call, "a code was sent recently; retry in %d s", retry);
    *out = &resp->base;
    return BILL_GRPC_OK;
}

/* ---- Logout / GetMe / RefreshToken / ChangePassword ------------------------ */

static const char *bearer(bill_srv_call *call)
{
    const char *h = bill_srv_call_header(call, "authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return h;
}

static const char *session_cookie(bill_srv_call *call)
{
    return bill_srv_call_cookie(call, bill_srv_call_config(call)->session.cookie_name);
}

static int identity_logout(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const bill_actor *a = bill_srv_call_actor(call);
    const bill_config *cfg = bill_srv_call_config(call);
    void *resp;
    int rc = BILL_OK;
    (void)in;

    if (!(resp = bill_srv_call_new(call, &rustbill__identity__logout_response__descriptor)))
        return conv_oom(call);
    if (a->kind == BILL_ACTOR_ADMIN) {
        rc = bill_session_revoke(bill_srv_call_db(call), session_cookie(call), bill_time_now());
    } else if (a->kind == BILL_ACTOR_CUSTOMER && !a->api_key_id) {
        bill_jwt_claims cl;
        if (bill_jwt_verify(cfg->jwt.secret, bearer(call), bill_time_now(), &cl) == BILL_OK &&
            cl.fam[0]) {
            /* revoke the family by any of its tokens: look it up by family id */
            rc = bill_refresh_token_revoke_user_family(bill_srv_call_db(call), cl.sub, cl.fam,
                                                       bill_time_now());
        }
    }
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    /* Always clear the cookie: logging out must leave the browser clean even
     * when its session had already expired. */
    if (session_cookie(call) &&
        bill_srv_call_add_header(call, "set-cookie", bill_srv_auth_session_cookie(call, NULL)) != BILL_OK)
        return conv_oom(call);
    *out = resp;
    return BILL_GRPC_OK;
}

static int identity_get_me(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const bill_actor *a = bill_srv_call_actor(call);
    Rustbill__Identity__GetMeResponse *resp;
    int st = bill_srv_require_login(call), rc;
    (void)in;

    if (st != BILL_GRPC_OK)
        return st;
    if (!(resp = bill_srv_call_new(call, &rustbill__identity__get_me_response__descriptor)))
        return conv_oom(call);
    if (a->kind == BILL_ACTOR_CUSTOMER && a->api_key_id) {
        Rustbill__Identity__UserInfo *i = bill_srv_call_new(call, &rustbill__identity__user_info__descriptor);
        if (!i)
            return conv_oom(call);
        i->id = bill_srv_call_strdup(call, a->api_key_id);
        i->username = bill_srv_call_strdup(call, a->username);
        i->role = "api_key";
        i->is_active = true;
        i->user_type = "customer";
        i->customer_id = bill_srv_call_strdup(call, a->customer_id);
        resp->user = i;
    } else if (a->kind == BILL_ACTOR_CUSTOMER) {
        bill_customer_user *u = NULL;
        rc = bill_customer_user_get(bill_srv_call_db(call), a->user_id, &u);
        if (rc == BILL_ENOTFOUND)
            return bill_srv_call_error(call, BILL_GRPC_UNAUTHENTICATED, "user no longer exists");
        if (rc < 0)
            return bill_srv_call_fail(call, rc);
        if (!u->is_active) {
            bill_customer_user_free(u);
            return bill_srv_call_error(call, BILL_GRPC_UNAUTHENTICATED, "user is disabled");
        }
        if ((rc = bill_customer_status_check(u->customer_id, u->customer_status)) < 0) {
            bill_customer_user_free(u);
            return bill_srv_call_fail(call, rc);
        }
        resp->user = customer_info(call, u);
        bill_customer_user_free(u);
    } else {
        bill_admin_user *u = NULL;
        if (!a->user_id)
            return bill_srv_call_error(call, BILL_GRPC_UNAUTHENTICATED, "no user behind this login");
        rc = bill_admin_user_get(bill_srv_call_db(call), a, a->user_id, &u);
        if (rc < 0)
            return bill_srv_call_fail(call, rc);
        resp->user = admin_info(call, u);
        bill_admin_user_free(u);
    }
    if (!resp->user)
        return conv_oom(call);
    *out = &resp->base;
    return BILL_GRPC_OK;
}

static int identity_refresh(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Identity__RefreshTokenRequest *req = (const Rustbill__Identity__RefreshTokenRequest *)in;
    Rustbill__Identity__RefreshTokenResponse *resp;
    int st;

    if (!req->refresh_token || !*req->refresh_token)
        return bill_srv_call_error(call, BILL_GRPC_UNAUTHENTICATED, "refresh_token is required");
    if (!(resp = bill_srv_call_new(call, &rustbill__identity__refresh_token_response__descriptor)))
        return conv_oom(call);
    st = issue_tokens(call, NULL, NULL, req->refresh_token, &resp->access_token, &resp->refresh_token,
                      &resp->expires_in);
    if (st != BILL_GRPC_OK) {
        BILL_LOG_WARN(LOG_MODULE, "refresh refused for %s: %s", bill_srv_call_peer_ip(call),
                      bill_error_last()->message);
        return st;
    }
    *out = &resp->base;
    return BILL_GRPC_OK;
}

static int identity_change_password(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Identity__ChangePasswordRequest *req = (const Rustbill__Identity__ChangePasswordRequest *)in;
    const bill_actor *a = bill_srv_call_actor(call);
    int st = bill_srv_require_login(call), rc;

    if (st != BILL_GRPC_OK)
        return st;
    if (a->kind == BILL_ACTOR_CUSTOMER) {
        if (a->api_key_id)
            return bill_srv_call_error(call, BILL_GRPC_PERMISSION_DENIED,
                                       "API keys cannot change passwords; sign in instead");
        rc = bill_customer_user_change_password(bill_srv_call_db(call), a->user_id, req->old_password,
                                                req->new_password, bill_time_now());
        if (rc < 0)
            return bill_srv_call_fail(call, rc);
    } else if (a->kind == BILL_ACTOR_ADMIN && a->user_id) {
        /* policy, verify, set and revoke the other sessions: one libbill call */
        rc = bill_admin_user_change_password(bill_srv_call_db(call), a, req->old_password,
                                             req->new_password, session_cookie(call), bill_time_now());
        if (rc < 0)
            return bill_srv_call_fail(call, rc);
    } else {
        return bill_srv_call_error(call, BILL_GRPC_PERMISSION_DENIED, "this login has no password");
    }
    return conv_reply(call, out, &rustbill__identity__change_password_response__descriptor, NULL, NULL);
}

#define M(name, in, outd, fn, flags) \
    CONV_METHOD(identity, "IdentityService", name, in, outd, fn, flags)

static const bill_srv_method identity_methods[] = {
    M("Register", register_request, register_response, identity_register, BILL_SRV_RATE_LIMIT_REGISTER),
    M("SendVerificationCode", send_verification_code_request, send_verification_code_response,
      identity_send_code, BILL_SRV_RATE_LIMIT_REGISTER),
    M("Login", login_request, login_response, identity_login, BILL_SRV_RATE_LIMIT_LOGIN),
    M("Logout", logout_request, logout_response, identity_logout, 0),
    M("GetMe", get_me_request, get_me_response, identity_get_me, 0),
    M("RefreshToken", refresh_token_request, refresh_token_response, identity_refresh,
      BILL_SRV_RATE_LIMIT_LOGIN),
    M("ChangePassword", change_password_request, change_password_response, identity_change_password,
      BILL_SRV_RATE_LIMIT_LOGIN),
};

CONV_SERVICE(bill_srv_identity_service, "rustbill.identity.IdentityService", identity_methods);
