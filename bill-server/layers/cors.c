/*
 * cors.c — CORS layer for browser gRPC-Web clients (wire contract "CORS").
 * Origins come from [cors].allowed_origins; "*" matches any origin but only
 * when configured. The allowed origin is echoed (never "*") because the admin
 * SPA sends its session cookie, which needs Allow-Credentials.
 * A request layer: it answers every OPTIONS request (the preflight, or 403
 * for an origin not allowed) and adds its headers to every other answer.
 */
#include "layers.h"

#include <string.h>

static const char allow_headers[] =
    "content-type, x-grpc-web, authorization, x-user-agent, grpc-timeout, x-api-key";

static bool origin_allowed(bill_srv *s, const char *origin)
{
    if (!origin || !*origin)
        return false;
    for (size_t i = 0; i < s->cfg->cors.allowed_origins_count; i++) {
        const char *o = s->cfg->cors.allowed_origins[i];
        if (strcmp(o, "*") == 0 || strcmp(o, origin) == 0)
            return true;
    }
    return false;
}

static bool preflight(bill_srv *s, const srv_req *req, srv_resp *r)
{
    const char *origin = srv_hdrs_get(&req->hdrs, "origin");
    if (!origin_allowed(s, origin))
        return false;
    r->status = 204;
    srv_hdrs_addz(&r->hdrs, "access-control-allow-origin", origin);
    srv_hdrs_addz(&r->hdrs, "access-control-allow-methods", "POST, GET, OPTIONS");
    srv_hdrs_addz(&r->hdrs, "access-control-allow-headers", allow_headers);
    srv_hdrs_addz(&r->hdrs, "access-control-expose-headers", "grpc-status, grpc-message");
    srv_hdrs_addz(&r->hdrs, "access-control-allow-credentials", "true");
    srv_hdrs_addz(&r->hdrs, "access-control-max-age", "86400");
    srv_hdrs_addz(&r->hdrs, "vary", "origin");
    return true;
}

static void headers(bill_srv *s, const srv_req *req, srv_hdrs *out)
{
    const char *origin = srv_hdrs_get(&req->hdrs, "origin");
    if (!origin_allowed(s, origin))
        return;
    srv_hdrs_addz(out, "access-control-allow-origin", origin);
    srv_hdrs_addz(out, "access-control-expose-headers", "grpc-status, grpc-message");
    srv_hdrs_addz(out, "access-control-allow-credentials", "true");
    srv_hdrs_addz(out, "vary", "origin");
}

static bool cors_request(bill_srv *s, void *state, const srv_req *req, srv_resp *resp,
                         srv_hdrs *extra)
{
    (void)state;
    if (strcmp(req->method, "OPTIONS") == 0) {
        if (!preflight(s, req, resp))
            srv_resp_simple(resp, 403, "text/plain", "origin not allowed\n");
        return true;
    }
    headers(s, req, extra);
    return false;
}

const bill_srv_layer bill_srv_layer_cors = {.name = "cors", .request = cors_request};
