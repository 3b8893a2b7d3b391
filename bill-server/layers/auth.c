/*
 * auth.c — session, JWT and API-key auth layers (R-SRV-2, R-SRV-3).
 *
 * Order in the chain: session cookie → `authorization: Bearer` JWT →
 * `x-api-key`. Each layer looks only at its own credential:
 *   - absent: pass through untouched (anonymous methods such as the catalog
 *     and IdentityService.Login must keep working);
 *   - valid: set the actor (ADMIN for a session, CUSTOMER for a JWT or key);
 *   - present but invalid/expired: log WARN (never the credential itself)
 *     and record the reason with bill_srv_call_set_auth_error, so methods
 *     that require a login fail with UNAUTHENTICATED and that message
 *     ("access token expired"), while anonymous methods still answer.
 * A layer whose credential is present does not override an actor already
 * set by an earlier layer (the first valid credential wins).
 * Database failures while resolving stop the call with UNAVAILABLE/INTERNAL:
 * answering "anonymous" would turn an outage into confusing auth errors.
 *
 * Account status (suspended, closed customers): a JWT carries none, so the
 * JWT layer cannot see it; libbill checks it on every call the customer
 * makes (bill__conn_acquire_as), answering PERMISSION_DENIED, and on login
 * and refresh. An API key resolves with its customer's status: a refused
 * one leaves the call anonymous with PERMISSION_DENIED for methods that need
 * a login. The public catalog answers either way.
 *
 * Authorization itself is per method (bill_srv_require_* in srv.h).
 */
#include "auth.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LOG_MODULE "bill_server::auth"

char *bill_srv_auth_session_cookie(bill_srv_call *call, const char *token)
{
    const bill_config *cfg = bill_srv_call_config(call);
    const char *name = cfg->session.cookie_name;
    const char *same = cfg->session.cookie_same_site;
    /* Browsers drop SameSite=None cookies without Secure. */
    bool secure = cfg->session.cookie_secure || strcasecmp(same, "None") == 0;
    long max_age = token ? (long)(cfg->session.absolute_timeout_hours) * 3600 : 0;
    return bill_srv_call_sprintf(call, "%s=%s; Path=/; HttpOnly; SameSite=%s; Max-Age=%ld%s", name,
                                 token ? token : "", same, max_age, secure ? "; Secure" : "");
}

static bool anonymous(const bill_srv_call *call)
{
    return bill_srv_call_actor(call)->kind == BILL_ACTOR_ANONYMOUS;
}

/* Invalid credential: WARN + remember the reason for the method's check. */
static int rejected(bill_srv_call *call, const char *what)
{
    const bill_error *e = bill_error_last();
    const char *msg = (e->message && *e->message) ? e->message : "invalid credentials";
    BILL_LOG_WARN(LOG_MODULE, "rejected %s from %s on %s: %s", what, bill_srv_call_peer_ip(call),
                  bill_srv_call_path(call), msg);
    bill_srv_call_set_auth_error(call, msg);
    return BILL_GRPC_OK;
}

static int session_auth(bill_srv_call *call)
{
    const bill_config *cfg = bill_srv_call_config(call);
    const char *name = cfg->session.cookie_name;
    const char *tok = bill_srv_call_cookie(call, name);
    bill_session_info s;
    bill_actor a;
    int rc;

    if (!tok || !*tok || !anonymous(call))
        return BILL_GRPC_OK;
    rc = bill_session_resolve(bill_srv_call_db(call), tok, bill_time_now(),
                              cfg->session.idle_timeout_minutes,
                              cfg->session.absolute_timeout_hours, &s);
    if (rc == BILL_EUNAUTH || rc == BILL_EINVALID)
        return rejected(call, "session cookie");
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    bill_session_actor(&s, &a);
    a.source_ip = bill_srv_call_peer_ip(call);
    bill_srv_call_set_actor(call, &a);
    return BILL_GRPC_OK;
}

static int jwt_auth(bill_srv_call *call)
{
    const bill_config *cfg = bill_srv_call_config(call);
    const char *h = bill_srv_call_header(call, "authorization");
    bill_jwt_claims cl;
    bill_actor a;
    int rc;

    if (!h || !*h || !anonymous(call))
        return BILL_GRPC_OK;
    if (strncasecmp(h, "Bearer ", 7) != 0) {
        /* Not ours (e.g. Basic); still tell methods why nobody is logged in. */
        bill_srv_call_set_auth_error(call, "authorization header must be \"Bearer <access token>\"");
        BILL_LOG_WARN(LOG_MODULE, "rejected authorization header from %s: not a Bearer token",
                      bill_srv_call_peer_ip(call));
        return BILL_GRPC_OK;
    }
    h += 7;
    while (*h == ' ')
        h++;
    rc = bill_jwt_verify(cfg->jwt.secret, h, bill_time_now(), &cl);
    if (rc == BILL_EUNAUTH)
        return rejected(call, "access token");
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    memset(&a, 0, sizeof a);
    a.kind = BILL_ACTOR_CUSTOMER;
    a.user_id = cl.sub;
    a.customer_id = cl.cid;
    a.source_ip = bill_srv_call_peer_ip(call);
    bill_srv_call_set_actor(call, &a);
    return BILL_GRPC_OK;
}

static int apikey_auth(bill_srv_call *call)
{
    const char *h = bill_srv_call_header(call, "x-api-key");
    bill_apikey_info k;
    bill_actor a;
    int rc;

    if (!h || !*h || !anonymous(call))
        return BILL_GRPC_OK;
    rc = bill_apikey_resolve(bill_srv_call_db(call), h, bill_time_now(), &k);
    if (rc == BILL_EUNAUTH)
        return rejected(call, "API key");
    if (rc == BILL_EDENIED) {
        /* A suspended or closed customer's key: public methods answer,
         * everything else is PERMISSION_DENIED with libbill's reason. */
        BILL_LOG_WARN(LOG_MODULE, "refused API key from %s on %s: %s",
                      bill_srv_call_peer_ip(call), bill_srv_call_path(call),
                      bill_error_last()->message);
        bill_srv_call_set_auth_denied(call, bill_error_last()->message);
        return BILL_GRPC_OK;
    }
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    bill_apikey_actor(&k, &a);
    a.source_ip = bill_srv_call_peer_ip(call);
    bill_srv_call_set_actor(call, &a);
    return BILL_GRPC_OK;
}

const bill_srv_layer bill_srv_layer_session_auth = {.name = "session_auth", .call = session_auth};
/* libbill's per-token verification cache (bill_jwt_verify) */
static void jwt_metrics(void *state, srv_buf *o)
{
    uint64_t hits = 0, misses = 0;
    (void)state;
    bill_jwt_cache_stats(&hits, &misses);
    srv_buf_printf(o,
        "# HELP bill_jwt_cache_hits_total Access tokens whose signature check was remembered.\n"
        "# TYPE bill_jwt_cache_hits_total counter\nbill_jwt_cache_hits_total %llu\n"
        "# TYPE bill_jwt_cache_misses_total counter\nbill_jwt_cache_misses_total %llu\n",
        (unsigned long long)hits, (unsigned long long)misses);
}

const bill_srv_layer bill_srv_layer_jwt_auth = {.name = "jwt_auth", .call = jwt_auth,
                                                .metrics = jwt_metrics};
const bill_srv_layer bill_srv_layer_apikey_auth = {.name = "apikey_auth", .call = apikey_auth};
