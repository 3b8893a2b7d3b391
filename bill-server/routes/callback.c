/*
 * callback.c — payment gateways' asynchronous notifications:
 *   GET|POST /callback/<gateway-plugin-id>/<interface_id>
 *
 * The gateway, not a user, calls this, so it is plain HTTP (not gRPC) and is
 * an EARLY route (before every layer: no CORS, no auth): its authenticity is
 * the plugin's signature check, never a session. The job runs on a worker
 * (plugin call + database). Every decision is libbill's
 * (bill_gateway_notify: which interface, the signature, the payment
 * confirmed idempotently, what is final and what the gateway should retry);
 * this file splits the path and maps the outcome to HTTP: the plugin's
 * answer ("success" / "fail") with 200, 404 for an unknown interface, 503
 * "try again" for what may pass by itself.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bill/gateway.h"
#include "routes.h"

/* "/callback/<plugin>/<iface>" -> the two segments (copied, bounded). */
static int split_path(const char *path, char *plugin, size_t psz, char *iface, size_t isz)
{
    const char *p = path + strlen("/callback/");
    const char *slash = strchr(p, '/');
    if (!slash || slash == p || (size_t)(slash - p) >= psz)
        return -1;
    const char *i = slash + 1;
    size_t ilen = strlen(i);
    if (ilen == 0 || ilen >= isz || strchr(i, '/'))
        return -1;
    memcpy(plugin, p, (size_t)(slash - p));
    plugin[slash - p] = '\0';
    memcpy(iface, i, ilen + 1);
    return 0;
}

void srv_route_callback_job(srv_job *job)
{
    srv_req *req = &job->req;
    bill_gateway_notify_result r = {0};
    char plugin_id[64], iface[64];

    if (!req->path || split_path(req->path, plugin_id, sizeof plugin_id, iface, sizeof iface) < 0) {
        srv_resp_simple(&job->resp, 404, "text/plain", "not found\n");
        return;
    }
    bill_gateway_callback cb = {
        .version = BILL_GATEWAY_CALLBACK_VERSION,
        .method = req->method,
        .query = req->query ? req->query : "",
        .body = req->body.p ? req->body.p : "",
        .body_len = req->body.len,
        .content_type = srv_hdrs_get(&req->hdrs, "content-type"),
    };
    /* The plugin parses a NUL-terminated body; srv_buf may not end in one. */
    if (req->body.len && srv_buf_append(&req->body, "", 1) == 0) {
        req->body.len--;
        cb.body = req->body.p;
    }
    if (bill_gateway_notify(job->srv->db, job->srv->plugins, plugin_id, iface, &cb, &r) < 0)
        r.outcome = BILL_GATEWAY_NOTIFY_RETRY;
    switch (r.outcome) {
    case BILL_GATEWAY_NOTIFY_ANSWER:
        srv_resp_simple(&job->resp, 200, r.content_type, r.body);
        break;
    case BILL_GATEWAY_NOTIFY_UNKNOWN:
        srv_resp_simple(&job->resp, 404, "text/plain", "not found\n");
        break;
    default:
        srv_resp_simple(&job->resp, 503, "text/plain", "unavailable, try again\n");
        break;
    }
    bill_gateway_notify_result_clear(&r);
}
