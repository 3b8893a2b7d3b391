/*
 * router.c — the layer chain for one complete request (R-SRV-2), on the loop
 * thread: health → rate limit → admin UI → CORS → /ready, /metrics →
 * gRPC / gRPC-Web framing → job for the worker pool (where the auth layers,
 * log context and the service handler run; see call.c).
 *
 * Nothing here blocks: answers that need the database or the disk (/ready,
 * /admin, service methods) become jobs.
 */
#include "server.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bill/log.h"

bill_srv *srv_global;
void srv_callback_run_job(srv_job *job); /* services/callback.c */

void srv_grpc_frame(srv_buf *out, const void *msg, size_t n, bool trailer)
{
    uint8_t h[5] = {trailer ? 0x80 : 0x00, (uint8_t)(n >> 24), (uint8_t)(n >> 16),
                    (uint8_t)(n >> 8), (uint8_t)n};
    srv_buf_append(out, h, 5);
    srv_buf_append(out, msg, n);
}

void srv_grpc_response(srv_resp *r, int web, int status, const char *message,
                       const uint8_t *msg, size_t n)
{
    char sbuf[8];
    snprintf(sbuf, sizeof sbuf, "%d", status);
    srv_buf enc = {0};
    if (message && *message)
        srv_percent_encode(&enc, message);
    r->status = 200;
    if (!web) {
        srv_hdrs_addz(&r->hdrs, "content-type", "application/grpc");
        if (status == BILL_GRPC_OK) {
            srv_grpc_frame(&r->body, msg ? (const void *)msg : "", msg ? n : 0, false);
            srv_hdrs_addz(&r->trailers, "grpc-status", "0");
        } else {
            /* trailers-only: status in the one HEADERS frame */
            srv_hdrs_addz(&r->hdrs, "grpc-status", sbuf);
            if (enc.len)
                srv_hdrs_addz(&r->hdrs, "grpc-message", enc.p);
        }
        srv_buf_free(&enc);
        return;
    }
    srv_hdrs_addz(&r->hdrs, "content-type",
                  web == 2 ? "application/grpc-web-text+proto" : "application/grpc-web+proto");
    if (status != BILL_GRPC_OK) {
        /* The consumer SPA reads errors from the headers (wire contract). */
        srv_hdrs_addz(&r->hdrs, "grpc-status", sbuf);
        if (enc.len)
            srv_hdrs_addz(&r->hdrs, "grpc-message", enc.p);
    }
    srv_buf body = {0};
    if (status == BILL_GRPC_OK)
        srv_grpc_frame(&body, msg ? (const void *)msg : "", msg ? n : 0, false);
    srv_buf tr = {0};
    srv_buf_printf(&tr, "grpc-status:%d\r\n", status);
    if (enc.len)
        srv_buf_printf(&tr, "grpc-message:%s\r\n", enc.p);
    srv_grpc_frame(&body, tr.p, tr.len, true);
    srv_buf_free(&tr);
    if (web == 2) {
        size_t blen;
        char *b64 = srv_base64_encode(body.p, body.len, &blen);
        if (b64)
            srv_buf_append(&r->body, b64, blen);
        free(b64);
    } else {
        srv_buf_append(&r->body, body.p, body.len);
    }
    srv_buf_free(&body);
    srv_buf_free(&enc);
}

static void finish(srv_target t, srv_resp *r, const srv_hdrs *cors)
{
    if (cors)
        for (size_t i = 0; i < cors->n; i++)
            srv_hdrs_addz(&r->hdrs, cors->v[i].name, cors->v[i].value);
    srv_conn_respond(t, r);
    srv_resp_free(r);
}

static void grpc_error(srv_target t, int web, int status, const char *msg, const srv_hdrs *cors,
                       int method_index, const char *path)
{
    srv_resp r = {0};
    srv_grpc_response(&r, web, status, msg, NULL, 0);
    srv_metrics_record(method_index, status, 0);
    BILL_LOG_DEBUG("bill_server::grpc", "%s -> %d %s", path, status, msg ? msg : "");
    finish(t, &r, cors);
}

int srv_grpc_flags_check(uint8_t flags, const char *encoding, char *msg, size_t msgsz)
{
    if (flags & ~1u) {
        snprintf(msg, msgsz,
                 "gRPC message frame flags 0x%02x are not valid here (0 = uncompressed message; "
                 "reserved bits and trailer frames are refused)",
                 (unsigned)flags);
        return BILL_GRPC_INTERNAL;
    }
    if (!(flags & 1))
        return BILL_GRPC_OK;
    if (!encoding || !*encoding || strcasecmp(encoding, "identity") == 0) {
        snprintf(msg, msgsz, "gRPC message marked compressed but the request declares no "
                             "grpc-encoding");
        return BILL_GRPC_INTERNAL;
    }
    snprintf(msg, msgsz, "grpc-encoding \"%.100s\" is not supported (use identity)", encoding);
    return BILL_GRPC_UNIMPLEMENTED;
}

int srv_stream_kind(const char *path)
{
    if (strcmp(path, "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo") == 0)
        return SRV_STREAM_REFLECTION_V1;
    if (strcmp(path, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo") == 0)
        return SRV_STREAM_REFLECTION_V1ALPHA;
    if (strcmp(path, "/grpc.health.v1.Health/Watch") == 0)
        return SRV_STREAM_HEALTH_WATCH;
    return SRV_STREAM_NONE;
}

static void submit_job(bill_srv *s, srv_job *job);

static void grpc_dispatch(bill_srv *s, srv_target t, srv_req *req, const char *ct,
                          srv_hdrs *cors)
{
    int web = strncasecmp(ct, "application/grpc-web-text", 25) == 0 ? 2
              : strncasecmp(ct, "application/grpc-web", 20) == 0 ? 1 : 0;
    if (!web && t.stream_id == 0) {
        srv_resp r = {0};
        srv_resp_simple(&r, 415, "text/plain",
                        "native gRPC needs HTTP/2; use application/grpc-web over HTTP/1.1\n");
        finish(t, &r, cors);
        return;
    }
    const bill_srv_method *m = bill_srv_method_find(req->path, strlen(req->path));
    int mi = m ? srv_method_index(m) : -1;
    if (!m) {
        char msg[300];
        snprintf(msg, sizeof msg, "unknown method %.250s", req->path);
        grpc_error(t, web, BILL_GRPC_UNIMPLEMENTED, msg, cors, -1, req->path);
        return;
    }
    if (m->flags & BILL_SRV_STREAMING) {
        grpc_error(t, web, BILL_GRPC_UNIMPLEMENTED,
                   "streaming methods need native gRPC over HTTP/2", cors, mi, req->path);
        return;
    }
    if (web == 2) {
        srv_buf dec = {0};
        if (srv_base64_decode(req->body.p ? req->body.p : "", req->body.len, &dec) < 0) {
            srv_buf_free(&dec);
            grpc_error(t, web, BILL_GRPC_INVALID_ARGUMENT, "grpc-web-text body is not base64",
                       cors, mi, req->path);
            return;
        }
        srv_buf_free(&req->body);
        req->body = dec;
    }
    const uint8_t *p = (const uint8_t *)req->body.p;
    if (req->body.len < 5) {
        grpc_error(t, web, BILL_GRPC_INVALID_ARGUMENT, "request has no gRPC message frame", cors,
                   mi, req->path);
        return;
    }
    uint32_t len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
    char fmsg[200];
    int fst = srv_grpc_flags_check(p[0], srv_hdrs_get(&req->hdrs, "grpc-encoding"), fmsg,
                                   sizeof fmsg);
    if (fst != BILL_GRPC_OK) {
        grpc_error(t, web, fst, fmsg, cors, mi, req->path);
        return;
    }
    if (len > SRV_MAX_MESSAGE) {
        grpc_error(t, web, BILL_GRPC_RESOURCE_EXHAUSTED, "request message larger than 4 MiB",
                   cors, mi, req->path);
        return;
    }
    if (req->body.len != 5 + (size_t)len) {
        grpc_error(t, web, BILL_GRPC_INVALID_ARGUMENT,
                   req->body.len < 5 + (size_t)len ? "request message truncated"
                                                   : "more than one request message",
                   cors, mi, req->path);
        return;
    }
    const char *rl_msg = NULL;
    int rc = srv_ratelimit_check(s, m, req->peer, &rl_msg);
    if (rc != BILL_GRPC_OK) {
        BILL_LOG_WARN("bill_server::ratelimit", "rate limit: %s from %s", req->path, req->peer);
        grpc_error(t, web, rc, rl_msg, cors, mi, req->path);
        return;
    }
    srv_job *job = calloc(1, sizeof *job);
    if (!job) {
        grpc_error(t, web, BILL_GRPC_RESOURCE_EXHAUSTED, "out of memory", cors, mi, req->path);
        return;
    }
    job->srv = s;
    job->target = t;
    job->run = srv_grpc_run_job;
    job->req = *req;
    memset(req, 0, sizeof *req);
    job->method = m;
    job->method_index = mi;
    job->web = web;
    job->enqueued_ms = srv_now_ms();
    int64_t to = srv_grpc_timeout_ms(srv_hdrs_get(&job->req.hdrs, "grpc-timeout"));
    job->deadline_ms = to >= 0 ? job->enqueued_ms + to : 0;
    memcpy(job->peer, job->req.peer, sizeof job->peer);
    job->cors = *cors;
    memset(cors, 0, sizeof *cors);
    if (m->flags & BILL_SRV_INLINE_OK) {
        t.conn->refs++;
        job->run(job);
        t.conn->refs--;
        srv_conn_respond(t, &job->resp);
        srv_job_free(job);
        return;
    }
    submit_job(s, job);
}

void srv_job_refuse(srv_job *job, int grpc_status, int http_status, const char *msg)
{
    srv_target t = job->target;
    srv_hdrs cors = job->cors;
    memset(&job->cors, 0, sizeof job->cors);
    if (job->run == srv_grpc_run_job) {
        grpc_error(t, job->web, grpc_status, msg, &cors, job->method_index, job->req.path);
    } else {
        srv_resp r = {0};
        char body[300];
        snprintf(body, sizeof body, "%s\n", msg);
        srv_resp_simple(&r, http_status, "text/plain", body);
        finish(t, &r, &cors);
    }
    srv_hdrs_free(&cors);
    srv_job_free(job);
}

/* Give a job to its connection for the workers, or refuse it when that
 * connection already has its share of them. */
static void submit_job(bill_srv *s, srv_job *job)
{
    if (srv_conn_submit(job) == 0)
        return;
    char msg[160];
    snprintf(msg, sizeof msg,
             "too many requests in flight on this connection (at most %d); wait for answers "
             "or open another connection",
             s->max_jobs_per_conn);
    srv_metrics_event(SRV_EV_REFUSED_CONN_LIMIT);
    BILL_LOG_WARN("bill_server::transport", "%s from %s refused: %d requests in flight on one "
                  "connection", job->req.path ? job->req.path : "", job->peer[0] ? job->peer :
                  job->target.conn->peer, job->target.conn->njobs);
    srv_job_refuse(job, BILL_GRPC_RESOURCE_EXHAUSTED, 503, msg);
}

static void ready_run(srv_job *job)
{
    bill_srv *s = job->srv;
    bool ok = s->db && bill_db_ping(s->db) == BILL_OK;
    srv_resp_simple(&job->resp, ok ? 200 : 503, "text/plain", ok ? "ready\n" : "not ready\n");
}

static bool is_get(const srv_req *req)
{
    return strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
}

static void submit_simple_job(bill_srv *s, srv_target t, srv_req *req, srv_job_fn fn,
                              srv_hdrs *cors)
{
    srv_job *job = calloc(1, sizeof *job);
    if (!job) {
        srv_resp r = {0};
        srv_resp_simple(&r, 503, "text/plain", "out of memory\n");
        finish(t, &r, cors);
        return;
    }
    job->srv = s;
    job->target = t;
    job->run = fn;
    job->req = *req;
    memset(req, 0, sizeof *req);
    job->cors = *cors;
    memset(cors, 0, sizeof *cors);
    job->method_index = -1;
    memcpy(job->peer, job->req.peer, sizeof job->peer);
    submit_job(s, job);
}

void srv_dispatch(srv_target t, srv_req *req)
{
    bill_srv *s = srv_global;
    const char *path = req->path ? req->path : "";
    srv_hdrs cors = {0};
    srv_resp r = {0};
    srv_client_ip(s, t.conn->peer, &req->hdrs, req->peer, sizeof req->peer);

    /* health: before every other layer */
    if (strcmp(path, "/health") == 0 && is_get(req)) {
        r.status = 200;
        finish(t, &r, NULL);
        return;
    }
    /* payment gateway notifications: plain HTTP from the gateway, verified by
     * the plugin's signature check, so before the auth layers and CORS
     * (services/callback.c, on a worker) */
    if (strncmp(path, "/callback/", 10) == 0 &&
        (strcmp(req->method, "GET") == 0 || strcmp(req->method, "POST") == 0)) {
        submit_simple_job(s, t, req, srv_callback_run_job, &cors);
        return;
    }
    /* admin UI (static, from disk: on a worker) */
    if ((strcmp(path, "/admin") == 0 || strncmp(path, "/admin/", 7) == 0) && is_get(req)) {
        submit_simple_job(s, t, req, srv_admin_run_job, &cors);
        return;
    }
    /* CORS */
    if (strcmp(req->method, "OPTIONS") == 0) {
        if (!srv_cors_preflight(s, req, &r))
            srv_resp_simple(&r, 403, "text/plain", "origin not allowed\n");
        finish(t, &r, NULL);
        return;
    }
    srv_cors_headers(s, req, &cors);

    if (strcmp(path, "/ready") == 0 && is_get(req)) {
        submit_simple_job(s, t, req, ready_run, &cors);
        srv_hdrs_free(&cors);
        return;
    }
    if (strcmp(path, "/metrics") == 0 && is_get(req)) {
        r.status = 200;
        srv_hdrs_addz(&r.hdrs, "content-type", "text/plain; version=0.0.4");
        srv_metrics_render(s, &r.body);
        finish(t, &r, &cors);
        srv_hdrs_free(&cors);
        return;
    }
    const char *ct = srv_hdrs_get(&req->hdrs, "content-type");
    if (ct && strncasecmp(ct, "application/grpc", 16) == 0) {
        if (strcmp(req->method, "POST") != 0) {
            srv_resp_simple(&r, 405, "text/plain", "gRPC calls use POST\n");
            finish(t, &r, &cors);
        } else {
            grpc_dispatch(s, t, req, ct, &cors);
        }
        srv_hdrs_free(&cors);
        return;
    }
    srv_resp_simple(&r, 404, "text/plain", "not found\n");
    finish(t, &r, &cors);
    srv_hdrs_free(&cors);
}
