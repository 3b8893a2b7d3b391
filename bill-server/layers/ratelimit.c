/*
 * ratelimit.c — rate-limit layer: per client IP token buckets for Login and
 * Register ([rate_limit] login_per_sec / register_per_sec, burst = rate).
 * The buckets are libbill's bill_ratelimit (thread-safe, bounded memory); this
 * file only picks the bucket from the method's flags.
 */
#include "../transport/server.h"

#include "bill/time.h"

int srv_ratelimit_init(bill_srv *s)
{
    if (!s->cfg || !s->cfg->rate_limit.enabled)
        return BILL_OK;
    int rc = bill_ratelimit_new(&s->rl_login, (uint32_t)s->cfg->rate_limit.login_per_sec, 0, 0);
    if (rc == BILL_OK)
        rc = bill_ratelimit_new(&s->rl_register, (uint32_t)s->cfg->rate_limit.register_per_sec,
                                0, 0);
    return rc;
}

void srv_ratelimit_free(bill_srv *s)
{
    bill_ratelimit_free(s->rl_login);
    bill_ratelimit_free(s->rl_register);
    s->rl_login = s->rl_register = NULL;
}

int srv_ratelimit_check(bill_srv *s, const bill_srv_method *m, const char *peer, const char **msg)
{
    bill_ratelimit *rl = NULL;
    if (m->flags & BILL_SRV_RATE_LIMIT_LOGIN)
        rl = s->rl_login;
    else if (m->flags & BILL_SRV_RATE_LIMIT_REGISTER)
        rl = s->rl_register;
    if (!rl)
        return BILL_GRPC_OK;
    if (bill_ratelimit_allow(rl, peer, bill_time_now(), NULL))
        return BILL_GRPC_OK;
    *msg = (m->flags & BILL_SRV_RATE_LIMIT_LOGIN) ? "too many login attempts, slow down"
                                                  : "too many registrations, slow down";
    return BILL_GRPC_RESOURCE_EXHAUSTED;
}
