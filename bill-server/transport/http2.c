/*
 * http2.c — HTTP/2 (h2c with prior knowledge) on a connection, with
 * nghttp2's server session API.
 *
 * Each stream collects a protocol-neutral srv_req; END_STREAM hands it to the
 * router like an HTTP/1.1 request. Responses are written through a per-stream
 * output buffer and a data provider that defers while the buffer is empty, so
 * the same path serves unary answers (body then trailers) and streaming
 * methods (bill_srv_stream_ops of the method table: reflection,
 * Health.Watch) that append messages over time.
 * A request message larger than SRV_MAX_MESSAGE is refused as soon as its
 * length prefix is seen, without buffering the rest.
 */
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bill/log.h"

struct bill_srv_stream {
    srv_conn *conn;
    int32_t id;
    const bill_srv_method *method;
};

typedef struct h2_stream {
    int32_t id;
    srv_req req;
    size_t header_bytes;
    bool discard;          /* answered early; ignore further DATA */
    bool dispatched;       /* handed to the router, answer pending */
    bool responded;
    bool head;             /* HEAD request: response without DATA */
    bill_srv_stream handle; /* streaming method: .method set, message by message */
    void *mstate;           /* the method's state */
    srv_buf out;
    size_t off;
    bool eof;
    bool deferred;
    srv_hdrs trailers;
    struct h2_stream *prev, *next;
} h2_stream;

static h2_stream *stream_get(srv_conn *c, int32_t id)
{
    return c->h2 ? nghttp2_session_get_stream_user_data(c->h2, id) : NULL;
}

static void stream_free(srv_conn *c, h2_stream *st)
{
    if (st->prev)
        st->prev->next = st->next;
    else
        c->h2_streams = st->next;
    if (st->next)
        st->next->prev = st->prev;
    if (st->handle.method && st->handle.method->stream->free)
        st->handle.method->stream->free(st->mstate);
    srv_req_free(&st->req);
    srv_buf_free(&st->out);
    srv_hdrs_free(&st->trailers);
    free(st);
}

/* Values unique to one response (request ids, error texts) are sent without
 * HPACK indexing: adding them would only evict the entries that do repeat
 * (content-type, grpc-status) and make every lookup walk a churning table. */
static nghttp2_nv make_nv(const srv_hdr *h)
{
    size_t nl = strlen(h->name);
    bool once = (nl == 12 && memcmp(h->name, "x-request-id", 12) == 0) ||
                (nl == 12 && memcmp(h->name, "grpc-message", 12) == 0);
    return (nghttp2_nv){(uint8_t *)h->name, (uint8_t *)h->value, nl, strlen(h->value),
                        once ? NGHTTP2_NV_FLAG_NO_INDEX : NGHTTP2_NV_FLAG_NONE};
}

static ssize_t data_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
                         size_t length, uint32_t *data_flags, nghttp2_data_source *source,
                         void *user_data)
{
    srv_conn *c = user_data;
    h2_stream *st = source->ptr;
    size_t left = st->out.len - st->off;
    if (left == 0 && !st->eof) {
        st->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    size_t n = left < length ? left : length;
    if (n)
        memcpy(buf, st->out.p + st->off, n);
    st->off += n;
    if (st->off == st->out.len) {
        st->off = 0;
        st->out.len = 0;
        if (st->eof) {
            *data_flags |= NGHTTP2_DATA_FLAG_EOF;
            if (st->trailers.n > 0) {
                nghttp2_nv nv[8];
                size_t k = 0;
                for (size_t i = 0; i < st->trailers.n && k < 8; i++, k++)
                    nv[k] = make_nv(&st->trailers.v[i]);
                if (nghttp2_submit_trailer(session, stream_id, nv, k) == 0)
                    *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            }
        }
    }
    (void)c;
    return (ssize_t)n;
}

/* Submit response headers; with_body false ends the stream on HEADERS. */
static void submit_headers(srv_conn *c, h2_stream *st, int status, const srv_hdrs *h,
                           bool with_body)
{
    size_t n = h->n + 1;
    nghttp2_nv stack_nv[16];
    nghttp2_nv *nv = n <= 16 ? stack_nv : calloc(n, sizeof *nv);
    char sbuf[12];
    if (!nv)
        return;
    int sl = snprintf(sbuf, sizeof sbuf, "%d", status);
    nv[0] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)sbuf, 7, (size_t)sl,
                         NGHTTP2_NV_FLAG_NONE};
    for (size_t i = 0; i < h->n; i++)
        nv[i + 1] = make_nv(&h->v[i]);
    nghttp2_data_provider dp = {.source.ptr = st, .read_callback = data_read};
    nghttp2_submit_response(c->h2, st->id, nv, n, with_body ? &dp : NULL);
    if (nv != stack_nv)
        free(nv);
}

void srv_h2_respond(srv_conn *c, int32_t stream_id, srv_resp *r)
{
    h2_stream *st = stream_get(c, stream_id);
    if (!st || st->responded)
        return; /* the client reset the stream meanwhile */
    st->responded = true;
    if (st->dispatched && c->inflight > 0)
        c->inflight--;
    bool with_body = !st->head && (r->body.len > 0 || r->trailers.n > 0);
    if (with_body) {
        /* Take the body and trailers over instead of copying them (the
         * caller frees whatever is left in r). */
        if (st->out.len == 0) {
            srv_buf_free(&st->out);
            st->out = r->body;
            memset(&r->body, 0, sizeof r->body);
            st->off = 0;
        } else {
            srv_buf_append(&st->out, r->body.p, r->body.len);
        }
        if (st->trailers.n == 0) {
            srv_hdrs_free(&st->trailers);
            st->trailers = r->trailers;
            memset(&r->trailers, 0, sizeof r->trailers);
        } else {
            for (size_t i = 0; i < r->trailers.n; i++)
                srv_hdrs_addz(&st->trailers, r->trailers.v[i].name, r->trailers.v[i].value);
        }
        st->eof = true;
    }
    submit_headers(c, st, r->status, &r->hdrs, with_body);
    c->last_active_ms = srv_now_ms();
}

void srv_h2_stream_send(srv_conn *c, int32_t stream_id, const void *frame, size_t n)
{
    h2_stream *st = stream_get(c, stream_id);
    if (!st || st->eof)
        return;
    srv_buf_append(&st->out, frame, n);
    if (st->deferred) {
        st->deferred = false;
        nghttp2_session_resume_data(c->h2, stream_id);
    }
}

void srv_h2_stream_finish(srv_conn *c, int32_t stream_id, int status, const char *msg)
{
    h2_stream *st = stream_get(c, stream_id);
    if (!st || st->eof)
        return;
    char sbuf[8];
    snprintf(sbuf, sizeof sbuf, "%d", status);
    srv_hdrs_addz(&st->trailers, "grpc-status", sbuf);
    if (msg && *msg) {
        srv_buf enc = {0};
        srv_percent_encode(&enc, msg);
        srv_hdrs_addz(&st->trailers, "grpc-message", enc.p);
        srv_buf_free(&enc);
    }
    st->eof = true;
    if (st->responded && c->inflight > 0)
        c->inflight--; /* streaming calls count as in flight until finished */
    if (st->deferred) {
        st->deferred = false;
        nghttp2_session_resume_data(c->h2, stream_id);
    }
}

/* ---- nghttp2 callbacks ------------------------------------------------- */

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame,
                            void *user_data)
{
    srv_conn *c = user_data;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    h2_stream *st = calloc(1, sizeof *st);
    if (!st)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    st->id = frame->hd.stream_id;
    st->next = c->h2_streams;
    if (st->next)
        st->next->prev = st;
    c->h2_streams = st;
    nghttp2_session_set_stream_user_data(session, st->id, st);
    return 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user_data)
{
    srv_conn *c = user_data;
    h2_stream *st = stream_get(c, frame->hd.stream_id);
    if (!st || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0; /* trailers from the client: ignored */
    st->header_bytes += namelen + valuelen + 32;
    if (st->header_bytes > SRV_MAX_HEADER_BYTES)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets this stream */
    const char *n = (const char *)name, *v = (const char *)value;
    if (namelen == 7 && memcmp(n, ":method", 7) == 0) {
        snprintf(st->req.method, sizeof st->req.method, "%.*s", (int)valuelen, v);
    } else if (namelen == 5 && memcmp(n, ":path", 5) == 0) {
        free(st->req.path);
        free(st->req.query);
        st->req.query = NULL;
        const char *q = memchr(v, '?', valuelen);
        size_t plen = q ? (size_t)(q - v) : valuelen;
        st->req.path = strndup(v, plen);
        if (q)
            st->req.query = strndup(q + 1, valuelen - plen - 1);
    } else if (namelen > 0 && n[0] == ':') {
        if (namelen == 10 && memcmp(n, ":authority", 10) == 0)
            srv_hdrs_add(&st->req.hdrs, "host", 4, v, valuelen);
    } else {
        srv_hdrs_add(&st->req.hdrs, n, namelen, v, valuelen);
    }
    return 0;
}

static void answer_early(srv_conn *c, h2_stream *st, int http_status, int grpc_status,
                         const char *msg)
{
    srv_resp r = {0};
    const char *ct = srv_hdrs_get(&st->req.hdrs, "content-type");
    if (ct && strncasecmp(ct, "application/grpc", 16) == 0) {
        int web = strncasecmp(ct, "application/grpc-web-text", 25) == 0 ? 2
                  : strncasecmp(ct, "application/grpc-web", 20) == 0 ? 1 : 0;
        srv_grpc_response(&r, web, grpc_status, msg, NULL, 0);
    } else {
        srv_resp_simple(&r, http_status, "text/plain", msg);
    }
    st->discard = true;
    srv_h2_respond(c, st->id, &r);
    srv_resp_free(&r);
}

static void stream_pump_messages(srv_conn *c, h2_stream *st)
{
    while (!st->discard && st->req.body.len >= 5) {
        const uint8_t *p = (const uint8_t *)st->req.body.p;
        uint32_t len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
        char fmsg[200];
        int fst = srv_grpc_flags_check(p[0], srv_hdrs_get(&st->req.hdrs, "grpc-encoding"), fmsg,
                                       sizeof fmsg);
        if (fst != BILL_GRPC_OK) {
            srv_h2_stream_finish(c, st->id, fst, fmsg);
            st->discard = true;
            return;
        }
        if (len > SRV_MAX_MESSAGE) {
            srv_h2_stream_finish(c, st->id, BILL_GRPC_RESOURCE_EXHAUSTED,
                                 "message larger than 4 MiB");
            st->discard = true;
            return;
        }
        if (st->req.body.len < 5 + (size_t)len)
            return;
        /* the same string-field check unary requests get (pbcheck.c) */
        char why[320];
        const bill_srv_method *m = st->handle.method;
        if (srv_pb_check_strings(m->input, p + 5, len, why, sizeof why) < 0) {
            srv_h2_stream_finish(c, st->id, BILL_GRPC_INVALID_ARGUMENT, why);
            st->discard = true;
            return;
        }
        if (m->stream->message)
            m->stream->message(&st->handle, &st->mstate, p + 5, len);
        srv_buf_consume(&st->req.body, 5 + (size_t)len);
    }
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                         const uint8_t *data, size_t len, void *user_data)
{
    srv_conn *c = user_data;
    h2_stream *st = stream_get(c, stream_id);
    if (!st || st->discard)
        return 0;
    if (st->req.body.len + len > SRV_MAX_BODY) {
        answer_early(c, st, 413, BILL_GRPC_RESOURCE_EXHAUSTED, "request body too large");
        return 0;
    }
    srv_buf_append(&st->req.body, data, len);
    if (st->handle.method) {
        stream_pump_messages(c, st);
        return 0;
    }
    /* Refuse an oversized gRPC message as soon as its length is known. */
    const char *ct = srv_hdrs_get(&st->req.hdrs, "content-type");
    if (st->req.body.len >= 5 && ct && strncasecmp(ct, "application/grpc", 16) == 0 &&
        strncasecmp(ct, "application/grpc-web-text", 25) != 0) {
        const uint8_t *p = (const uint8_t *)st->req.body.p;
        uint32_t mlen = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
        if (mlen > SRV_MAX_MESSAGE)
            answer_early(c, st, 413, BILL_GRPC_RESOURCE_EXHAUSTED,
                         "request message larger than 4 MiB");
    }
    return 0;
}

static void request_headers_done(srv_conn *c, h2_stream *st)
{
    const char *ct = srv_hdrs_get(&st->req.hdrs, "content-type");
    if (!st->req.path || !ct || strncasecmp(ct, "application/grpc", 16) != 0 ||
        strncasecmp(ct, "application/grpc-web", 20) == 0)
        return;
    const bill_srv_method *m = bill_srv_method_find(c->srv, st->req.path, strlen(st->req.path));
    if (!m || !m->stream)
        return;
    st->handle = (bill_srv_stream){c, st->id, m};
    /* Streaming built-in: answer headers now, messages as they come. */
    srv_hdrs h = {0};
    srv_hdrs_addz(&h, "content-type", "application/grpc");
    st->responded = true;
    st->dispatched = true;
    c->inflight++;
    submit_headers(c, st, 200, &h, true);
    srv_hdrs_free(&h);
    if (m->stream->open)
        m->stream->open(&st->handle, &st->mstate);
}

/* Rapid reset (CVE-2023-44487): every RST_STREAM from the client takes a
 * token; SRV_RESET_PER_SEC come back each second up to SRV_RESET_BURST. A
 * client out of tokens is resetting streams faster than any real one
 * cancels calls: GOAWAY ENHANCE_YOUR_CALM, its queued work is dropped (each
 * closing stream cancels its job) and the connection closes after the
 * GOAWAY is written. */
static void count_reset(nghttp2_session *session, srv_conn *c)
{
    srv_metrics_event(SRV_EV_STREAM_RESET);
    if (c->calmed)
        return;
    int64_t now = srv_now_ms();
    if (now > c->reset_refill_ms) {
        c->reset_tokens += (double)(now - c->reset_refill_ms) * SRV_RESET_PER_SEC / 1000.0;
        if (c->reset_tokens > SRV_RESET_BURST)
            c->reset_tokens = SRV_RESET_BURST;
        c->reset_refill_ms = now;
    }
    if (c->reset_tokens >= 1.0) {
        c->reset_tokens -= 1.0;
        return;
    }
    c->calmed = true;
    c->goaway_sent = true;
    c->close_after_write = true;
    srv_metrics_event(SRV_EV_CALMED);
    BILL_LOG_WARN("bill_server::transport",
                  "HTTP/2 connection from %s resets streams faster than %d/s (burst %d): "
                  "GOAWAY ENHANCE_YOUR_CALM", c->peer, SRV_RESET_PER_SEC, SRV_RESET_BURST);
    nghttp2_session_terminate_session(session, NGHTTP2_ENHANCE_YOUR_CALM);
    srv_conn_cancel_all(c);
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    srv_conn *c = user_data;
    if (frame->hd.type == NGHTTP2_RST_STREAM) {
        count_reset(session, c);
        return 0;
    }
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
        return 0;
    h2_stream *st = stream_get(c, frame->hd.stream_id);
    if (!st)
        return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
        request_headers_done(c, st);
    if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    if (st->handle.method) {
        /* The client's side is done: a stream that ticks (server
         * streaming, e.g. Health.Watch) goes on; any other ends with it. */
        stream_pump_messages(c, st);
        if (!st->handle.method->stream->tick)
            srv_h2_stream_finish(c, st->id, BILL_GRPC_OK, NULL);
        return 0;
    }
    if (st->discard || st->dispatched || c->calmed)
        return 0;
    st->dispatched = true;
    st->head = strcmp(st->req.method, "HEAD") == 0;
    c->inflight++;
    srv_req req = st->req;
    memset(&st->req, 0, sizeof st->req);
    if (req.path == NULL)
        req.path = strdup("");
    srv_target t = {c, st->id};
    srv_dispatch(t, &req);
    srv_req_free(&req);
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                           void *user_data)
{
    srv_conn *c = user_data;
    h2_stream *st = stream_get(c, stream_id);
    if (!st)
        return 0;
    /* Reset before we answered (or a streaming call cut short): no longer in
     * flight, and its job, if one is still waiting or running, is cancelled. */
    if (st->dispatched && (!st->responded || (st->handle.method && !st->eof)) && c->inflight > 0)
        c->inflight--;
    if (st->dispatched && !st->responded && !st->handle.method)
        srv_conn_cancel_stream(c, stream_id);
    nghttp2_session_set_stream_user_data(session, stream_id, NULL);
    stream_free(c, st);
    return 0;
}

/* Callbacks and options are the same for every connection: built once,
 * shared read-only by all loop threads (nghttp2 copies what it needs). */
static nghttp2_session_callbacks *h2_callbacks;
static nghttp2_option *h2_option;
static pthread_once_t h2_once = PTHREAD_ONCE_INIT;

static void h2_setup_once(void)
{
    if (nghttp2_session_callbacks_new(&h2_callbacks) != 0) {
        h2_callbacks = NULL;
        return;
    }
    nghttp2_session_callbacks_set_on_begin_headers_callback(h2_callbacks, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(h2_callbacks, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(h2_callbacks, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(h2_callbacks, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(h2_callbacks, on_stream_close);
    if (nghttp2_option_new(&h2_option) == 0) {
        /* gRPC does not use RFC 7540 priorities; without the tree nghttp2
         * keeps no closed streams and schedules output more cheaply. */
        nghttp2_option_set_no_closed_streams(h2_option, 1);
        /* Small encoder table: holds the few response headers that repeat. */
        nghttp2_option_set_max_deflate_dynamic_table_size(h2_option, 1024);
        /* nghttp2's own rapid-reset limiter (Debian's 1.52 carries the
         * CVE-2023-44487 backport): set to its defaults explicitly, as the
         * backstop behind our stricter count_reset(). */
        nghttp2_option_set_stream_reset_rate_limit(h2_option, 1000, 33);
    } else {
        h2_option = NULL;
    }
}

int srv_h2_init(srv_conn *c)
{
    pthread_once(&h2_once, h2_setup_once);
    if (!h2_callbacks)
        return -1;
    int rc = h2_option ? nghttp2_session_server_new2(&c->h2, h2_callbacks, c, h2_option)
                       : nghttp2_session_server_new(&c->h2, h2_callbacks, c);
    if (rc != 0)
        return -1;
    c->reset_tokens = SRV_RESET_BURST;
    c->reset_refill_ms = srv_now_ms();
    /* A well-behaved client keeps at most this many calls open, so it never
     * meets the per-connection job bound (only streams reset while their
     * job runs can push a connection past it). */
    bill_srv *s = c->srv;
    uint32_t max_streams = s && s->max_jobs_per_conn > 0 ? (uint32_t)s->max_jobs_per_conn : 100;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, max_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, SRV_MAX_HEADER_BYTES},
        {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
    };
    nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]);
    return 0;
}

void srv_h2_feed(srv_conn *c)
{
    ssize_t n = nghttp2_session_mem_recv(c->h2, (const uint8_t *)c->in.p, c->in.len);
    if (n < 0) {
        /* Protocol error: nghttp2 has queued a GOAWAY where it can; send it
         * and close. */
        if (!c->goaway_sent)
            nghttp2_session_terminate_session(c->h2, NGHTTP2_PROTOCOL_ERROR);
        c->goaway_sent = true;
        c->close_after_write = true;
        c->in.len = 0;
        return;
    }
    srv_buf_consume(&c->in, (size_t)n);
    c->req_start_ms = 0;
}

void srv_h2_pump(srv_conn *c)
{
    if (!c->h2)
        return;
    while (c->out.len < (1u << 20)) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(c->h2, &data);
        if (n < 0) {
            c->close_after_write = true;
            return;
        }
        if (n == 0)
            return;
        srv_buf_append(&c->out, data, (size_t)n);
    }
}

void srv_h2_goaway(srv_conn *c)
{
    if (!c->h2 || c->goaway_sent)
        return;
    c->goaway_sent = true;
    nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(c->h2), NGHTTP2_NO_ERROR,
                          NULL, 0);
    /* Streams that would never end by themselves end now. */
    for (h2_stream *st = c->h2_streams; st; st = st->next)
        if (st->handle.method && st->handle.method->stream->goaway && !st->eof)
            st->handle.method->stream->goaway(&st->handle, &st->mstate);
}

void srv_h2_tick(srv_conn *c)
{
    for (h2_stream *st = c->h2_streams; st; st = st->next) {
        if (!st->handle.method || !st->handle.method->stream->tick || st->eof)
            continue;
        st->handle.method->stream->tick(&st->handle, &st->mstate);
    }
}

/* ---- the stream API of srv.h ---------------------------------------------- */

void bill_srv_stream_send(bill_srv_stream *h, const ProtobufCMessage *msg)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t small[256], *buf = n <= sizeof small ? small : malloc(n);
    if (!buf) {
        srv_h2_stream_finish(h->conn, h->id, BILL_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    protobuf_c_message_pack(msg, buf);
    srv_buf f = {0};
    srv_grpc_frame(&f, buf, n, false);
    srv_h2_stream_send(h->conn, h->id, f.p, f.len);
    srv_buf_free(&f);
    if (buf != small)
        free(buf);
}

void bill_srv_stream_finish(bill_srv_stream *h, int status, const char *message)
{
    srv_h2_stream_finish(h->conn, h->id, status, message);
}

bill_srv *bill_srv_stream_server(const bill_srv_stream *h)
{
    return h->conn->srv;
}

void srv_h2_free(srv_conn *c)
{
    while (c->h2_streams) {
        h2_stream *st = c->h2_streams;
        stream_free(c, st);
    }
    if (c->h2)
        nghttp2_session_del(c->h2);
    c->h2 = NULL;
}
