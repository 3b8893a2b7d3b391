/*
 * callback.c — payment gateways' asynchronous notifications:
 *   GET|POST /callback/<gateway-plugin-id>/<interface_id>
 *
 * The gateway, not a user, calls this, so it is plain HTTP (not gRPC) and is
 * an EARLY route (before every layer: no CORS, no auth): its authenticity is the
 * plugin's signature check, never a session. The job runs on a worker
 * (plugin call + database): look up the enabled gateway interface, check it
 * belongs to the plugin named in the path, let the plugin verify and parse
 * the notification, and on a verified success confirm the payment
 * (bill_payment_confirm is idempotent: a replayed notification credits
 * nothing twice). The answer is the plugin's response body ("success" /
 * "fail") with HTTP 200, which is what gateways expect.
 *
 * Which failures are final matters: some gateways stop retrying on a 404,
 * and a notification is money. So only a truly unknown interface (malformed
 * path, no such interface, not a gateway, another plugin's interface) is
 * 404; anything that can pass (database outage, plugin not loaded, out of
 * memory) is 503 "try again", for the lookup and for the confirmation
 * alike. A disabled interface still takes notifications for payments made
 * before it was disabled. What the confirmation refuses on its merits
 * (wrong amount, unknown payment, reused trade_no) is the plugin's "fail".
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bill/log.h"
#include "bill/payment.h"
#include "bill/plugin_host.h"
#include "routes.h"

#define LOG_MODULE "bill_server::callback"

/* The path names the gateway plugin by its id ("gateway-yipay") or by that
 * id without the "gateway-" prefix: gateway-yipay composes its notify_url
 * as <public_base>/callback/yipay/<interface_id> when the host gives none. */
static bool plugin_matches(const char *segment, const char *plugin_id)
{
    if (strcmp(segment, plugin_id) == 0)
        return true;
    return strncmp(plugin_id, "gateway-", 8) == 0 && strcmp(segment, plugin_id + 8) == 0;
}

/* A libbill failure that may pass by itself: answer 503 so the gateway
 * retries, never a final "not found" or "fail". */
static bool retryable(int rc)
{
    return rc == BILL_EUNAVAILABLE || rc == BILL_EDB || rc == BILL_ETIMEOUT ||
           rc == BILL_ENOMEM || rc == BILL_EINTERNAL || rc == BILL_EIO;
}

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
    bill_plugins *plugins = job->srv->plugins;
    bill_plugin_instance *gw = NULL;
    bill_gateway_callback_result r;
    char plugin_id[64], iface[64];
    const char *answer = "fail";
    int rc;

    memset(&r, 0, sizeof r);
    if (!req->path || split_path(req->path, plugin_id, sizeof plugin_id, iface, sizeof iface) < 0 ||
        !bill_uuid_valid(iface)) {
        srv_resp_simple(&job->resp, 404, "text/plain", "not found\n");
        goto done;
    }
    if (!plugins) {
        BILL_LOG_WARN(LOG_MODULE, "callback for interface %s: no plugin registry", iface);
        srv_resp_simple(&job->resp, 503, "text/plain", "unavailable\n");
        goto done;
    }
    rc = bill_plugin_host_get_gateway_callback(plugins, iface, &gw);
    if (rc != BILL_OK && rc != BILL_ENOTFOUND && rc != BILL_EINVALID) {
        BILL_LOG_ERROR(LOG_MODULE, "callback for %s/%s from %s: answered 503 (retry): %s",
                       plugin_id, iface, req->peer, bill_error_last()->message);
        srv_resp_simple(&job->resp, 503, "text/plain", "unavailable, try again\n");
        goto done;
    }
    if (rc != BILL_OK || !plugin_matches(plugin_id, bill_plugin_instance_plugin_id(gw))) {
        BILL_LOG_WARN(LOG_MODULE, "callback for %s/%s from %s: %s", plugin_id, iface, req->peer,
                      rc != BILL_OK ? bill_error_last()->message : "interface is of another plugin");
        srv_resp_simple(&job->resp, 404, "text/plain", "not found\n");
        goto done;
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
    rc = bill_plugin_gateway_handle_callback(gw, &cb, &r);
    if (retryable(rc)) {
        BILL_LOG_ERROR(LOG_MODULE, "callback %s/%s: plugin: answered 503 (retry): %s", plugin_id,
                       iface, bill_error_last()->message);
        srv_resp_simple(&job->resp, 503, "text/plain", "unavailable, try again\n");
        goto done;
    }
    if (rc != BILL_OK) {
        BILL_LOG_WARN(LOG_MODULE, "callback %s/%s: plugin: %s", plugin_id, iface,
                      bill_error_last()->message);
        srv_resp_simple(&job->resp, 200, "text/plain", "fail");
        goto done;
    }
    answer = r.response_body && *r.response_body ? r.response_body : "fail";
    if (!r.verified) {
        BILL_LOG_WARN(LOG_MODULE, "callback %s/%s from %s: signature not verified", plugin_id, iface,
                      req->peer);
    } else if (r.status == BILL_GATEWAY_SUCCEEDED) {
        bool already = false;
        rc = bill_payment_confirm(job->srv->db, NULL, NULL, iface, r.gateway_payment_id,
                                  r.amount_cents, r.gateway_tx_id, &already);
        if (retryable(rc)) {
            BILL_LOG_ERROR(LOG_MODULE, "callback %s/%s from %s: payment %s not confirmed yet, "
                           "answered 503 (retry): %s", plugin_id, iface, req->peer,
                           r.gateway_payment_id ? r.gateway_payment_id : "",
                           bill_error_last()->message);
            srv_resp_simple(&job->resp, 503, "text/plain", "unavailable, try again\n");
            goto done;
        } else if (rc != BILL_OK) {
            BILL_LOG_ERROR(LOG_MODULE, "callback %s/%s from %s: payment %s not confirmed: %s",
                           plugin_id, iface, req->peer,
                           r.gateway_payment_id ? r.gateway_payment_id : "",
                           bill_error_last()->message);
            answer = "fail";
        } else {
            BILL_LOG_INFO(LOG_MODULE, "callback %s/%s: payment %s %s", plugin_id, iface,
                          r.gateway_payment_id ? r.gateway_payment_id : "",
                          already ? "was already confirmed" : "confirmed");
        }
    }
    srv_resp_simple(&job->resp, 200,
                    r.response_content_type && *r.response_content_type ? r.response_content_type
                                                                        : "text/plain",
                    answer);
done:
    bill_gateway_callback_result_clear(&r);
    bill_plugin_instance_release(gw);
}
