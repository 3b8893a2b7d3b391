/*
 * ratelimit.c — rate-limit layer: per client IP limits for Login and
 * Register ([rate_limit] login_per_sec / register_per_sec, burst = rate).
 * The limiters are libbill's bill_ratelimit (thread-safe, bounded memory);
 * this file only picks the limiter from the method's flags.
 *
 * An admit layer on the loop thread: the process's token buckets, a call
 * over the limit answered RESOURCE_EXHAUSTED before it is queued. With
 * [redis] enabled the limiters are also shared by every instance
 * (bill_ratelimit_share: one count per second in Redis), checked in the
 * call hook on a worker, since it is a round trip the loop thread must not
 * wait for; while Redis is down that check lets everything through and the
 * buckets alone decide, as without Redis (libbill decides this without
 * touching the network).
 */
#include "layers.h"

#include <stdlib.h>

#include "bill/log.h"
#include "bill/redis.h"
#include "bill/time.h"

typedef struct rl_state {
    bill_ratelimit *login, *reg;
} rl_state;

static void rl_fini(void *state)
{
    rl_state *st = state;
    if (!st)
        return;
    bill_ratelimit_free(st->login);
    bill_ratelimit_free(st->reg);
    free(st);
}

static int rl_init(bill_srv *s, void **state)
{
    *state = NULL;
    if (!s->cfg->rate_limit.enabled)
        return BILL_OK;
    rl_state *st = calloc(1, sizeof *st);
    if (!st)
        return BILL_ENOMEM;
    int rc = bill_ratelimit_new(&st->login, (uint32_t)s->cfg->rate_limit.login_per_sec, 0, 0);
    if (rc == BILL_OK)
        rc = bill_ratelimit_new(&st->reg, (uint32_t)s->cfg->rate_limit.register_per_sec, 0, 0);
    bill_redis *r = bill_db_redis(s->db);
    if (rc == BILL_OK && r)
        rc = bill_ratelimit_share(st->login, r, "login");
    if (rc == BILL_OK && r)
        rc = bill_ratelimit_share(st->reg, r, "register");
    if (rc != BILL_OK) {
        rl_fini(st);
        return rc;
    }
    *state = st;
    return BILL_OK;
}

static bill_ratelimit *pick(rl_state *st, unsigned flags)
{
    if (!st)
        return NULL;
    if (flags & BILL_SRV_RATE_LIMIT_LOGIN)
        return st->login;
    if (flags & BILL_SRV_RATE_LIMIT_REGISTER)
        return st->reg;
    return NULL;
}

static const char *refusal(unsigned flags)
{
    return (flags & BILL_SRV_RATE_LIMIT_LOGIN) ? "too many login attempts, slow down"
                                               : "too many registrations, slow down";
}

static int rl_admit(bill_srv *s, void *state, const bill_srv_method *m, const srv_req *req,
                    const char **msg)
{
    (void)s;
    bill_ratelimit *rl = pick(state, m->flags);
    if (!rl || bill_ratelimit_allow(rl, req->peer, bill_time_now(), NULL))
        return BILL_GRPC_OK;
    BILL_LOG_WARN("bill_server::ratelimit", "rate limit: %s from %s", req->path, req->peer);
    *msg = refusal(m->flags);
    return BILL_GRPC_RESOURCE_EXHAUSTED;
}

static int rl_call(bill_srv_call *call)
{
    unsigned flags = bill_srv_call_method(call)->flags;
    bill_ratelimit *rl = pick(srv_call_layer_state(call, &bill_srv_layer_ratelimit), flags);
    const char *peer = bill_srv_call_peer_ip(call);
    if (!rl || !bill_ratelimit_shared(rl) ||
        bill_ratelimit_allow_shared(rl, peer, bill_time_now(), NULL))
        return BILL_GRPC_OK;
    BILL_LOG_WARN("bill_server::ratelimit", "rate limit (shared): %s from %s",
                  bill_srv_call_path(call), peer);
    return bill_srv_call_error(call, BILL_GRPC_RESOURCE_EXHAUSTED, "%s", refusal(flags));
}

const bill_srv_layer bill_srv_layer_ratelimit = {
    .name = "ratelimit", .init = rl_init, .fini = rl_fini, .admit = rl_admit, .call = rl_call};
