/*
 * router.c — one complete request through the server's tables, on the loop
 * thread: find its route (main's route table, in order); unless the route is
 * EARLY, run the request layers (main's layer table, in order; CORS answers
 * preflights and adds its headers); then the route answers inline, becomes
 * a job for the worker pool, or takes the request (the gRPC route below:
 * gRPC / gRPC-Web framing, the admit layers such as the rate limit, then a
 * job where the call layers and the handler run, see call.c).
 *
 * Nothing here names a route, layer or service, and nothing blocks: answers
 * that need the database or the disk become jobs.
 */
#include "server.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bill/log.h"

const bill_srv_service *const *bill_srv_services(const bill_srv *s)
{
    static const bill_srv_service *const none[] = {NULL};
    return s && s->services ? s->services : none;
}

const bill_srv_method *bill_srv_method_find(const bill_srv *s, const char *path, size_t len)
{
    const bill_srv_service *const *sv = bill_srv_services(s);
    for (size_t i = 0; sv[i]; i++)
        for (size_t j = 0; j < sv[i]->n_methods; j++)
            if (strlen(sv[i]->methods[j].path) == len &&
                memcmp(sv[i]->methods[j].path, path, len) == 0)
                return &sv[i]->methods[j];
    return NULL;
}

int srv_layers_init(bill_srv *s)
{
    size_t n = 0;
    while (s->layers && s->layers[n])
        n++;
    if (n > SRV_MAX_LAYERS)
        return BILL_EINVALID;
    for (size_t i = 0; i < n; i++) {
        s->layer_state[i] = NULL;
        int rc = s->layers[i]->init ? s->layers[i]->init(s, &s->layer_state[i]) : BILL_OK;
        if (rc != BILL_OK) {
            for (size_t j = i; j-- > 0;)
                if (s->layers[j]->fini)
                    s->layers[j]->fini(s->layer_state[j]);
            memset(s->layer_state, 0, sizeof s->layer_state);
            return rc;
        }
    }
    return BILL_OK;
}

void srv_layers_free(bill_srv *s)
{
    for (size_t i = 0; s->layers && s->layers[i] && i < SRV_MAX_LAYERS; i++) {
        if (s->layers[i]->fini)
            s->layers[i]->fini(s->layer_state[i]);
        s->layer_state[i] = NULL;
    }
}

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

static void submit_job(bill_srv *s, srv_job *job);

void srv_grpc_route(bill_srv *s, srv_target t, srv_req *req, srv_hdrs *cors)
{
    const char *ct = srv_hdrs_get(&req->hdrs, "content-type");
    if (strcmp(req->method, "POST") != 0) {
        srv_resp r = {0};
        srv_resp_simple(&r, 405, "text/plain", "gRPC calls use POST\n");
        finish(t, &r, cors);
        return;
    }
    int web = strncasecmp(ct, "application/grpc-web-text", 25) == 0 ? 2
              : strncasecmp(ct, "application/grpc-web", 20) == 0 ? 1 : 0;
    if (!web && t.stream_id == 0) {
        srv_resp r = {0};
        srv_resp_simple(&r, 415, "text/plain",
                        "native gRPC needs HTTP/2; use application/grpc-web over HTTP/1.1\n");
        finish(t, &r, cors);
        return;
    }
    const bill_srv_method *m = bill_srv_method_find(s, req->path, strlen(req->path));
    int mi = m ? srv_method_index(m) : -1;
    if (!m) {
        char msg[300];
        snprintf(msg, sizeof msg, "unknown method %.250s", req->path);
        grpc_error(t, web, BILL_GRPC_UNIMPLEMENTED, msg, cors, -1, req->path);
        return;
    }
    if (m->stream) {
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
    for (size_t i = 0; s->layers && s->layers[i]; i++) {
        const bill_srv_layer *l = s->layers[i];
        const char *amsg = NULL;
        int rc = l->admit ? l->admit(s, s->layer_state[i], m, req, &amsg) : BILL_GRPC_OK;
        if (rc != BILL_GRPC_OK) {
            grpc_error(t, web, rc, amsg, cors, mi, req->path);
            return;
        }
    }
    int keep_layer = -1;
    uint64_t keep_tag = 0;
    for (size_t i = 0; s->layers && s->layers[i]; i++) {
        const bill_srv_layer *l = s->layers[i];
        void *msg = NULL;
        size_t mlen = 0;
        uint64_t keep = 0;
        if (!l->answer)
            continue;
        if (l->answer(s, s->layer_state[i], m, req, &msg, &mlen, &keep)) {
            /* answered from memory (the catalog cache), right here */
            int64_t t0 = srv_now_ms();
            char rid[40];
            srv_resp cr = {0};
            srv_make_request_id(rid, sizeof rid);
            srv_grpc_response(&cr, web, BILL_GRPC_OK, NULL, msg, mlen);
            srv_hdrs_addz(&cr.hdrs, "x-request-id", rid);
            free(msg);
            srv_metrics_record(mi, BILL_GRPC_OK, (srv_now_ms() - t0) * 1000);
            finish(t, &cr, cors);
            return;
        }
        if (keep && keep_layer < 0) {
            keep_layer = (int)i;
            keep_tag = keep;
        }
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
    job->keep_layer = keep_layer;
    job->keep_tag = keep_tag;
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

static bool route_matches(const bill_srv_route *r, const srv_req *req, const char *path)
{
    if (r->flags & BILL_SRV_ROUTE_GRPC) {
        const char *ct = srv_hdrs_get(&req->hdrs, "content-type");
        return ct && strncasecmp(ct, "application/grpc", 16) == 0;
    }
    bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    bool post = strcmp(req->method, "POST") == 0;
    if (!((r->flags & BILL_SRV_ROUTE_GET) && get) && !((r->flags & BILL_SRV_ROUTE_POST) && post))
        return false;
    return (r->path && strcmp(path, r->path) == 0) ||
           (r->prefix && strncmp(path, r->prefix, strlen(r->prefix)) == 0);
}

static const bill_srv_route *route_find(const bill_srv *s, const srv_req *req, const char *path)
{
    for (const bill_srv_route *r = s->routes; r && (r->answer || r->job || r->take); r++)
        if (route_matches(r, req, path))
            return r;
    return NULL;
}

void srv_dispatch(srv_target t, srv_req *req)
{
    bill_srv *s = t.conn->srv;
    const char *path = req->path ? req->path : "";
    srv_hdrs extra = {0};
    srv_resp r = {0};
    srv_client_ip(s, t.conn->peer, &req->hdrs, req->peer, sizeof req->peer);

    const bill_srv_route *route = route_find(s, req, path);
    if (!route || !(route->flags & BILL_SRV_ROUTE_EARLY)) {
        for (size_t i = 0; s->layers && s->layers[i]; i++) {
            const bill_srv_layer *l = s->layers[i];
            if (l->request && l->request(s, s->layer_state[i], req, &r, &extra)) {
                finish(t, &r, NULL);
                srv_hdrs_free(&extra);
                return;
            }
        }
    }
    if (!route) {
        srv_resp_simple(&r, 404, "text/plain", "not found\n");
        finish(t, &r, &extra);
    } else if (route->answer) {
        route->answer(s, req, &r);
        finish(t, &r, &extra);
    } else if (route->job) {
        submit_simple_job(s, t, req, route->job, &extra);
    } else {
        route->take(s, t, req, &extra);
    }
    srv_hdrs_free(&extra);
}
