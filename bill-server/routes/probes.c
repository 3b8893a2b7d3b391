/*
 * probes.c — the probes of load balancers and monitoring: GET /health (the
 * process answers: 200, empty, before every layer), GET /ready (the database
 * answers: 200 "ready" or 503 "not ready"; a job, it pings; 503 "draining" from
 * SIGTERM on), GET /metrics
 * (Prometheus text, rendered from memory on the loop thread).
 */
#include "routes.h"

void srv_route_health(bill_srv *s, const srv_req *req, srv_resp *resp)
{
    (void)s;
    (void)req;
    resp->status = 200;
}

void srv_route_ready_job(srv_job *job)
{
    bill_srv *s = job->srv;
    if (atomic_load(&s->draining)) { /* SIGTERM: out of the balancer first */
        srv_resp_simple(&job->resp, 503, "text/plain", "draining\n");
        return;
    }
    bool ok = s->db && bill_db_ping(s->db) == BILL_OK;
    srv_resp_simple(&job->resp, ok ? 200 : 503, "text/plain", ok ? "ready\n" : "not ready\n");
}

void srv_route_metrics(bill_srv *s, const srv_req *req, srv_resp *resp)
{
    (void)req;
    resp->status = 200;
    srv_hdrs_addz(&resp->hdrs, "content-type", "text/plain; version=0.0.4");
    srv_metrics_render(s, &resp->body);
}
