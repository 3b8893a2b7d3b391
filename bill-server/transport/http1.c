/*
 * http1.c — HTTP/1.1 on a connection, with http-parser.
 *
 * One request at a time per connection: when a message is complete the
 * parser is paused, the request is dispatched, and parsing resumes only after
 * the response is queued. That keeps pipelined requests answered in order
 * without a per-connection queue. Limits: header block SRV_MAX_HEADER_BYTES
 * (431), body SRV_MAX_BODY (413); chunked bodies are decoded by the parser.
 */
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static srv_conn *conn_of(http_parser *p)
{
    return p->data;
}

static int commit_header(srv_conn *c)
{
    if (c->hfield.len == 0)
        return 0;
    int rc = srv_hdrs_add(&c->cur.hdrs, c->hfield.p, c->hfield.len,
                          c->hvalue.p ? c->hvalue.p : "", c->hvalue.len);
    c->hfield.len = c->hvalue.len = 0;
    c->in_value = false;
    return rc;
}

static int on_message_begin(http_parser *p)
{
    srv_conn *c = conn_of(p);
    srv_req_free(&c->cur);
    c->hfield.len = c->hvalue.len = 0;
    c->in_value = false;
    c->h1_header_bytes = 0;
    return 0;
}

static int count_header(srv_conn *c, size_t n)
{
    c->h1_header_bytes += n;
    if (c->h1_header_bytes > SRV_MAX_HEADER_BYTES) {
        c->h1_reject = 431;
        return -1;
    }
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    srv_conn *c = conn_of(p);
    if (count_header(c, n) < 0)
        return -1;
    return srv_buf_append(&c->hfield, at, n) < 0 ? -1 : 0; /* URL parked in hfield */
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    srv_conn *c = conn_of(p);
    if (count_header(c, n) < 0)
        return -1;
    if (c->cur.path == NULL) {
        /* first header: the URL collected so far is complete */
        c->cur.path = strndup(c->hfield.p ? c->hfield.p : "/", c->hfield.len);
        c->hfield.len = 0;
        if (!c->cur.path)
            return -1;
    }
    if (c->in_value && commit_header(c) < 0)
        return -1;
    return srv_buf_append(&c->hfield, at, n) < 0 ? -1 : 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    srv_conn *c = conn_of(p);
    if (count_header(c, n) < 0)
        return -1;
    c->in_value = true;
    return srv_buf_append(&c->hvalue, at, n) < 0 ? -1 : 0;
}

static int split_url(srv_conn *c)
{
    if (c->cur.path == NULL) {
        c->cur.path = strndup(c->hfield.p ? c->hfield.p : "/", c->hfield.len);
        c->hfield.len = 0;
        if (!c->cur.path)
            return -1;
    }
    char *q = strchr(c->cur.path, '?');
    if (q) {
        c->cur.query = strdup(q + 1);
        *q = '\0';
    }
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    srv_conn *c = conn_of(p);
    if (c->in_value && commit_header(c) < 0)
        return -1;
    if (split_url(c) < 0)
        return -1;
    snprintf(c->cur.method, sizeof c->cur.method, "%s", http_method_str(p->method));
    if (p->content_length != ULLONG_MAX && p->content_length > SRV_MAX_BODY &&
        !(p->flags & F_CHUNKED)) {
        c->h1_reject = 413;
        return -1;
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    srv_conn *c = conn_of(p);
    if (c->cur.body.len + n > SRV_MAX_BODY) {
        c->h1_reject = 413;
        return -1;
    }
    return srv_buf_append(&c->cur.body, at, n) < 0 ? -1 : 0;
}

static int on_message_complete(http_parser *p)
{
    srv_conn *c = conn_of(p);
    c->h1_keepalive = http_should_keep_alive(p) != 0;
    c->h1_head = p->method == HTTP_HEAD;
    c->h1_busy = true;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void srv_h1_init(srv_conn *c)
{
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->h1_keepalive = true;
}

static void reject(srv_conn *c, int status)
{
    srv_resp r = {0};
    const char *text = status == 413   ? "request body too large\n"
                       : status == 431 ? "request header fields too large\n"
                                       : "bad request\n";
    srv_resp_simple(&r, status, "text/plain", text);
    r.close = true;
    c->h1_error = true;
    c->h1_busy = true; /* read nothing more */
    c->h1_head = false; /* the parser may have stopped before knowing the method */
    srv_h1_respond(c, &r);
    srv_resp_free(&r);
}

void srv_h1_feed(srv_conn *c)
{
    c->h1_in_feed = true;
    while (!c->dead && !c->h1_busy && !c->h1_error && c->in.len > 0) {
        if (HTTP_PARSER_ERRNO(&c->parser) == HPE_PAUSED)
            http_parser_pause(&c->parser, 0);
        size_t n = http_parser_execute(&c->parser, &settings, c->in.p, c->in.len);
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (e != HPE_OK && e != HPE_PAUSED) {
            reject(c, c->h1_reject ? c->h1_reject : 400);
            break;
        }
        srv_buf_consume(&c->in, n);
        if (!c->h1_busy)
            break; /* need more bytes */
        /* A complete request: hand it over (may answer synchronously). */
        c->req_start_ms = c->in.len ? srv_now_ms() : 0;
        c->inflight++;
        srv_req req = c->cur;
        memset(&c->cur, 0, sizeof c->cur);
        srv_target t = {c, 0};
        srv_dispatch(t, &req);
        srv_req_free(&req);
    }
    c->h1_in_feed = false;
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

void srv_h1_respond(srv_conn *c, srv_resp *r)
{
    bool close_it = r->close || !c->h1_keepalive ||
                    (c->srv && atomic_load(&c->srv->stopping));
    srv_buf *o = &c->out;
    srv_buf_printf(o, "HTTP/1.1 %d %s\r\n", r->status, reason(r->status));
    for (size_t i = 0; i < r->hdrs.n; i++)
        srv_buf_printf(o, "%s: %s\r\n", r->hdrs.v[i].name, r->hdrs.v[i].value);
    srv_buf_printf(o, "content-length: %zu\r\n", r->body.len);
    if (close_it)
        srv_buf_printf(o, "connection: close\r\n");
    srv_buf_append(o, "\r\n", 2);
    /* HEAD: same headers (content-length included) but never a body, or the
     * client would read it as the start of the next response (RFC 9110 9.3.2). */
    if (!c->h1_head)
        srv_buf_append(o, r->body.p, r->body.len);
    c->h1_head = false;
    if (c->inflight > 0)
        c->inflight--;
    if (close_it) {
        c->close_after_write = true;
        return;
    }
    c->h1_busy = false;
    c->last_active_ms = srv_now_ms();
    /* Pipelined bytes already buffered: serve the next request (unless we
     * are inside srv_h1_feed's loop already, which continues by itself). */
    if (c->in.len > 0 && !c->h1_in_feed)
        srv_h1_feed(c);
}

void srv_h1_free(srv_conn *c)
{
    srv_req_free(&c->cur);
    srv_buf_free(&c->hfield);
    srv_buf_free(&c->hvalue);
}
