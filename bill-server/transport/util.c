/*
 * util.c — growable buffers, header lists, base64 and percent-encoding used
 * by the HTTP codecs and gRPC framing. Plain helpers, no I/O.
 */
#include "server.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int srv_buf_append(srv_buf *b, const void *data, size_t n)
{
    if (n == 0)
        return 0;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0'; /* always terminated, so text bodies can be read as strings */
    return 0;
}

int srv_buf_printf(srv_buf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof tmp)
        return srv_buf_append(b, tmp, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big)
        return -1;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = srv_buf_append(b, big, (size_t)n);
    free(big);
    return rc;
}

void srv_buf_consume(srv_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->p, b->p + n, b->len - n);
        b->len -= n;
    }
    if (b->p)
        b->p[b->len] = '\0';
    /* Give memory back after a large body so idle connections stay small. */
    if (b->len == 0 && b->cap > 65536) {
        free(b->p);
        b->p = NULL;
        b->cap = 0;
    }
}

void srv_buf_free(srv_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Name and value share one allocation (name first): half the mallocs on
 * the per-request path, and srv_hdrs_free frees only the name. */
int srv_hdrs_add(srv_hdrs *h, const char *name, size_t nlen, const char *value, size_t vlen)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 8;
        srv_hdr *v = realloc(h->v, cap * sizeof *v);
        if (!v)
            return -1;
        h->v = v;
        h->cap = cap;
    }
    char *n = malloc(nlen + vlen + 2);
    if (!n)
        return -1;
    for (size_t i = 0; i < nlen; i++)
        n[i] = (char)tolower((unsigned char)name[i]);
    n[nlen] = '\0';
    char *val = n + nlen + 1;
    memcpy(val, value, vlen);
    val[vlen] = '\0';
    h->v[h->n].name = n;
    h->v[h->n].value = val;
    h->n++;
    return 0;
}

int srv_hdrs_addz(srv_hdrs *h, const char *name, const char *value)
{
    return srv_hdrs_add(h, name, strlen(name), value, strlen(value));
}

const char *srv_hdrs_get(const srv_hdrs *h, const char *name)
{
    for (size_t i = 0; i < h->n; i++)
        if (strcasecmp(h->v[i].name, name) == 0)
            return h->v[i].value;
    return NULL;
}

void srv_hdrs_free(srv_hdrs *h)
{
    for (size_t i = 0; i < h->n; i++)
        free(h->v[i].name); /* the value lives in the same block */
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}

void srv_req_free(srv_req *r)
{
    free(r->path);
    free(r->query);
    srv_hdrs_free(&r->hdrs);
    srv_buf_free(&r->body);
    memset(r, 0, sizeof *r);
}

void srv_resp_free(srv_resp *r)
{
    srv_hdrs_free(&r->hdrs);
    srv_hdrs_free(&r->trailers);
    srv_buf_free(&r->body);
    memset(r, 0, sizeof *r);
}

void srv_resp_simple(srv_resp *r, int status, const char *ctype, const char *body)
{
    r->status = status;
    if (ctype)
        srv_hdrs_addz(&r->hdrs, "content-type", ctype);
    if (body)
        srv_buf_append(&r->body, body, strlen(body));
}

int64_t srv_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *srv_base64_encode(const void *data, size_t n, size_t *outlen)
{
    const unsigned char *p = data;
    size_t olen = (n + 2) / 3 * 4;
    char *out = malloc(olen + 1), *o = out;
    if (!out)
        return NULL;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 63];
        *o++ = b64[(v >> 6) & 63];
        *o++ = b64[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 63];
        *o++ = b64[(v >> 6) & 63];
        *o++ = '=';
    }
    *o = '\0';
    if (outlen)
        *outlen = (size_t)(o - out);
    return out;
}

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* gRPC-Web text bodies may be several base64 chunks glued together, each
 * with its own padding, so padding may appear mid-stream: decode in groups
 * of four and let '=' end only the current group. Whitespace is skipped. */
int srv_base64_decode(const char *s, size_t n, srv_buf *out)
{
    int q[4], k = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '\r' || c == '\n' || c == ' ' || c == '\t')
            continue;
        if (c == '=') {
            q[k++] = -2;
        } else {
            int v = b64val(c);
            if (v < 0)
                return -1;
            if (k > 0 && q[k - 1] == -2)
                return -1; /* data after padding inside one group */
            q[k++] = v;
        }
        if (k == 4) {
            unsigned char o[3];
            if (q[0] < 0 || q[1] < 0)
                return -1;
            o[0] = (unsigned char)(q[0] << 2 | q[1] >> 4);
            size_t m = 1;
            if (q[2] >= 0) {
                o[1] = (unsigned char)((q[1] & 15) << 4 | q[2] >> 2);
                m = 2;
                if (q[3] >= 0) {
                    o[2] = (unsigned char)((q[2] & 3) << 6 | q[3]);
                    m = 3;
                }
            } else if (q[3] >= 0) {
                return -1;
            }
            if (srv_buf_append(out, o, m) < 0)
                return -1;
            k = 0;
        }
    }
    return k == 0 ? 0 : -1;
}

/* grpc-message is percent-encoded: everything outside printable ASCII, and
 * '%' itself (gRPC HTTP/2 protocol spec). */
void srv_percent_encode(srv_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x20 && *p <= 0x7e && *p != '%') {
            srv_buf_append(out, p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            srv_buf_append(out, e, 3);
        }
    }
    if (!out->p) { /* empty message: still hand back a valid "" */
        out->p = calloc(1, 1);
        out->cap = out->p ? 1 : 0;
    }
}

/* grpc-timeout: 1-8 digits and a unit (H M S m u n), per the gRPC HTTP/2
 * protocol; eight digits of hours still fit an int64 of milliseconds. */
int64_t srv_grpc_timeout_ms(const char *v)
{
    if (!v)
        return -1;
    size_t n = strlen(v);
    if (n < 2 || n > 9)
        return -1;
    int64_t x = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (!isdigit((unsigned char)v[i]))
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    switch (v[n - 1]) {
    case 'H': return x * 3600000;
    case 'M': return x * 60000;
    case 'S': return x * 1000;
    case 'm': return x;
    case 'u': return (x + 999) / 1000;
    case 'n': return (x + 999999) / 1000000;
    default: return -1;
    }
}

/* Cookie header: "name=value; name2=value2". Every search stays inside the
 * current pair, so a long header of pairs without '=' costs linear time. */
const char *srv_cookie_find(const char *header, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *p = header;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        if (!*p)
            break;
        const char *end = strchr(p, ';');
        if (!end)
            end = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (eq && (size_t)(eq - p) == nl && memcmp(p, name, nl) == 0) {
            *vlen = (size_t)(end - eq - 1);
            return eq + 1;
        }
        p = end;
    }
    return NULL;
}

void srv_job_free(srv_job *job)
{
    if (!job)
        return;
    srv_req_free(&job->req);
    srv_resp_free(&job->resp);
    srv_hdrs_free(&job->cors);
    free(job);
}
