/*
 * ratelimit.c — rate-limit layer: per client IP token buckets for Login and
 * Register ([rate_limit] login_per_sec / register_per_sec, burst = rate).
 * The buckets are libbill's bill_ratelimit (thread-safe, bounded memory); this
 * file only picks the bucket from the method's flags. An admit layer: a call
 * over the limit is answered RESOURCE_EXHAUSTED before it is queued.
 */
#include "layers.h"

#include <stdlib.h>

#include "bill/log.h"
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
    if (rc != BILL_OK) {
        rl_fini(st);
        return rc;
    }
    *state = st;
    return BILL_OK;
}

static int rl_admit(bill_srv *s, void *state, const bill_srv_method *m, const srv_req *req,
                    const char **msg)
{
    (void)s;
    rl_state *st = state;
    bill_ratelimit *rl = NULL;
    if (!st)
        return BILL_GRPC_OK;
    if (m->flags & BILL_SRV_RATE_LIMIT_LOGIN)
        rl = st->login;
    else if (m->flags & BILL_SRV_RATE_LIMIT_REGISTER)
        rl = st->reg;
    if (!rl || bill_ratelimit_allow(rl, req->peer, bill_time_now(), NULL))
        return BILL_GRPC_OK;
    BILL_LOG_WARN("bill_server::ratelimit", "rate limit: %s from %s", req->path, req->peer);
    *msg = (m->flags & BILL_SRV_RATE_LIMIT_LOGIN) ? "too many login attempts, slow down"
                                                  : "too many registrations, slow down";
    return BILL_GRPC_RESOURCE_EXHAUSTED;
}

const bill_srv_layer bill_srv_layer_ratelimit = {
    .name = "ratelimit", .init = rl_init, .fini = rl_fini, .admit = rl_admit};
