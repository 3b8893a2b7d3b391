/*
 * rustbill.c — provider-rustbill: resell from an upstream libbill/RustBill
 * server through its customer API (wire-contract.md), spoken as binary
 * gRPC-Web over HTTP/1.1 POST with the host HTTP client and authenticated
 * by `x-api-key` (a key of the reseller's customer account upstream).
 *
 *   list_upstream_products  ProductService/ListProducts, every page
 *   create_instance         OrderService/CreateOrder + PayOrder ("balance");
 *                           the upstream order id is our provider instance id;
 *                           notes "downstream order <id>" let a retried create
 *                           find it (ListOrders) instead of buying twice
 *   get_instance            OrderService/GetOrder, then the instance of that
 *                           order from InstanceService/ListInstances
 *   actions                 the upstream contract has no action RPC:
 *                           BILL_EUNSUPPORTED, saying so
 *   spec_template           first provider with a template in
 *                           IntegrationService/ListProviders, else no fields
 *   health                  GET /health
 *
 * The few protobuf messages are encoded and decoded by hand (a varint /
 * length-delimited codec below): the plugin includes only bill/plugin.h and
 * must not depend on the host's generated code. The host HTTP response does
 * not expose headers, so grpc-status is read from the gRPC-Web trailer frame
 * that the contract promises in every response body.
 *
 * Config: {"upstream_url", "api_key" (secret), "timeout"? (seconds, 10),
 * "ca_file"?, "insecure_skip_verify"?}.
 */
#include <bill/plugin.h>

#include "pu.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rb {
    const bill_plugin_host *host;
    char *url, *key, *ca;
    bool insecure;
    long timeout_ms;
} rb;

/* ---- protobuf writer ------------------------------------------------- */

typedef struct pbw {
    uint8_t *d;
    size_t len, cap;
    bool oom;
} pbw;

static void w_bytes(pbw *w, const void *p, size_t n)
{
    if (w->oom)
        return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 64;
        while (cap < w->len + n)
            cap *= 2;
        uint8_t *d = realloc(w->d, cap);
        if (!d) {
            w->oom = true;
            return;
        }
        w->d = d;
        w->cap = cap;
    }
    if (n)
        memcpy(w->d + w->len, p, n);
    w->len += n;
}

static void w_varint(pbw *w, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    do {
        b[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            b[n] |= 0x80;
        n++;
    } while (v);
    w_bytes(w, b, n);
}

static void w_uint(pbw *w, uint32_t field, uint64_t v)
{
    if (!v)
        return; /* proto3 default: not on the wire */
    w_varint(w, (uint64_t)field << 3);
    w_varint(w, v);
}

static void w_len(pbw *w, uint32_t field, const void *p, size_t n)
{
    w_varint(w, ((uint64_t)field << 3) | 2);
    w_varint(w, n);
    w_bytes(w, p, n);
}

static void w_str(pbw *w, uint32_t field, const char *s)
{
    if (s && *s)
        w_len(w, field, s, strlen(s));
}

/* A nested message: its bytes are in `sub`, freed here. */
static void w_msg(pbw *w, uint32_t field, pbw *sub)
{
    if (sub->oom)
        w->oom = true;
    else
        w_len(w, field, sub->d ? (const void *)sub->d : "", sub->len);
    free(sub->d);
    memset(sub, 0, sizeof *sub);
}

/* ---- protobuf reader ------------------------------------------------- */

typedef struct pbr {
    const uint8_t *p, *end;
    bool bad;
} pbr;

typedef struct pbf {
    uint32_t field;
    uint32_t wt;
    uint64_t v;         /* varint value */
    const uint8_t *buf; /* length-delimited payload */
    size_t len;
} pbf;

static bool r_varint(pbr *r, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            return false;
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* Next field; false at the end or on malformed input (then r->bad). */
static bool r_next(pbr *r, pbf *f)
{
    uint64_t tag, n;
    if (r->bad || r->p >= r->end)
        return false;
    if (!r_varint(r, &tag))
        goto bad;
    f->field = (uint32_t)(tag >> 3);
    f->wt = (uint32_t)(tag & 7);
    f->buf = NULL;
    f->len = 0;
    f->v = 0;
    switch (f->wt) {
    case 0:
        if (!r_varint(r, &f->v))
            goto bad;
        return true;
    case 1:
        if (r->end - r->p < 8)
            goto bad;
        r->p += 8;
        return true;
    case 2:
        if (!r_varint(r, &n) || n > (uint64_t)(r->end - r->p))
            goto bad;
        f->buf = r->p;
        f->len = (size_t)n;
        r->p += n;
        return true;
    case 5:
        if (r->end - r->p < 4)
            goto bad;
        r->p += 4;
        return true;
    default:
        goto bad;
    }
bad:
    r->bad = true;
    return false;
}

static pbr r_sub(const pbf *f)
{
    pbr r = {f->buf, f->buf + f->len, f->wt != 2};
    return r;
}

static char *f_str(const pbf *f)
{
    char *s = malloc(f->len + 1);
    if (s) {
        if (f->len)
            memcpy(s, f->buf, f->len);
        s[f->len] = '\0';
    }
    return s;
}

/* Replace *dst with the string of field f. */
static void f_set(char **dst, const pbf *f)
{
    if (f->wt != 2)
        return;
    free(*dst);
    *dst = f_str(f);
}

/* ---- config ----------------------------------------------------------- */

static void rb_destroy(void *instance)
{
    rb *c = instance;
    if (!c)
        return;
    free(c->url);
    if (c->key)
        memset(c->key, 0, strlen(c->key));
    free(c->key);
    free(c->ca);
    free(c);
}

static int rb_init(const bill_plugin_host *host, const char *config_json, void **instance)
{
    json_object *cfg = pu_json_parse_object(config_json);
    const char *url, *key, *ca;
    rb *c = NULL;
    int rc = BILL_PLUGIN_OK;
    int64_t timeout;

    if (!cfg) {
        rc = host->error(host, BILL_EINVALID, "config is not a JSON object");
        goto done;
    }
    if (!(c = calloc(1, sizeof *c))) {
        rc = host->error(host, BILL_ENOMEM, "out of memory");
        goto done;
    }
    c->host = host;
    url = pu_json_str(cfg, "upstream_url");
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
        !pu_text_ok(url, strlen(url)) || strchr(url, ' ')) {
        rc = host->error(host, BILL_EINVALID, "upstream_url \"%s\" must be an http:// or https:// URL",
                         url && pu_text_ok(url, strlen(url)) ? url : "");
        goto done;
    }
    key = pu_json_str(cfg, "api_key");
    if (!key || !*key) {
        rc = host->error(host, BILL_EINVALID, "api_key is required (a key of our customer account "
                         "upstream, from its ApiKeyService)");
        goto done;
    }
    for (const char *s = key; *s; s++)
        if (!isgraph((unsigned char)*s)) {
            rc = host->error(host, BILL_EINVALID, "api_key contains a space or control character");
            goto done;
        }
    if (pu_json_opt_str(cfg, "ca_file", NULL, &ca) < 0 || (ca && !pu_text_ok(ca, strlen(ca)))) {
        rc = host->error(host, BILL_EINVALID, "ca_file must be a path");
        goto done;
    }
    if (pu_json_opt_bool(cfg, "insecure_skip_verify", false, &c->insecure) < 0) {
        rc = host->error(host, BILL_EINVALID, "insecure_skip_verify must be true or false");
        goto done;
    }
    if (pu_json_opt_int(cfg, "timeout", 10, &timeout) < 0 || timeout < 1 || timeout > 300) {
        rc = host->error(host, BILL_EINVALID, "timeout must be 1..300 seconds");
        goto done;
    }
    c->timeout_ms = (long)timeout * 1000;
    if (!(c->url = strdup(url)) || !(c->key = strdup(key)) || (ca && !(c->ca = strdup(ca)))) {
        rc = host->error(host, BILL_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t n = strlen(c->url); n && c->url[n - 1] == '/'; n--)
        c->url[n - 1] = '\0';
    *instance = c;
    c = NULL;
done:
    rb_destroy(c);
    json_object_put(cfg);
    return rc;
}

/* ---- gRPC-Web call ---------------------------------------------------- */

/* grpc-status -> our codes (the inverse of error.h's table where it is one). */
static int grpc_to_bill(long st)
{
    switch (st) {
    case 3: case 11: return BILL_EINVALID;
    case 4: return BILL_ETIMEOUT;
    case 5: return BILL_ENOTFOUND;
    case 6: return BILL_ECONFLICT;
    case 7: return BILL_EDENIED;
    case 8: return BILL_ELIMIT;
    case 9: return BILL_ESTATE;
    case 12: return BILL_EUNSUPPORTED;
    case 14: return BILL_EUNAVAILABLE;
    case 16: return BILL_EUNAUTH;
    default: return BILL_EPLUGIN;
    }
}

static int hexval(int ch)
{
    return isdigit(ch) ? ch - '0' : isxdigit(ch) ? (tolower(ch) - 'a' + 10) : -1;
}

/* grpc-message is percent-encoded; decode in place, keep it printable. */
static void pct_decode(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        int hi, lo;
        if (*p == '%' && (hi = hexval((unsigned char)p[1])) >= 0 &&
            (lo = hexval((unsigned char)p[2])) >= 0) {
            int ch = hi * 16 + lo;
            *o++ = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
}

/* Read "grpc-status: N" and "grpc-message: text" from a trailer block. */
static void parse_trailers(const uint8_t *t, size_t n, long *status, char *msg, size_t msg_cap)
{
    const char *p = (const char *)t, *end = p + n;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t len = eol ? (size_t)(eol - p) : (size_t)(end - p);
        char line[512];
        size_t l = len < sizeof line - 1 ? len : sizeof line - 1;
        memcpy(line, p, l);
        line[l] = '\0';
        if (l && line[l - 1] == '\r')
            line[--l] = '\0';
        char *colon = strchr(line, ':');
        if (colon) {
            *colon = '\0';
            char *val = colon + 1;
            while (*val == ' ' || *val == '\t')
                val++;
            for (char *k = line; *k; k++)
                *k = (char)tolower((unsigned char)*k);
            if (strcmp(line, "grpc-status") == 0) {
                char *e;
                long v = strtol(val, &e, 10);
                *status = (e != val) ? v : 2;
            } else if (strcmp(line, "grpc-message") == 0) {
                snprintf(msg, msg_cap, "%s", val);
                pct_decode(msg);
            }
        }
        p += len + (eol ? 1 : 0);
    }
}

/* POST one unary call to /<method>. On BILL_OK *out and *out_len hold the
 * response message (malloc'd, possibly empty). */
static int call(rb *c, const char *method, const pbw *msg, uint8_t **out, size_t *out_len)
{
    const bill_plugin_host *h = c->host;
    bill_plugin_http_header hdrs[] = {
        {"Content-Type", "application/grpc-web+proto"},
        {"Accept", "application/grpc-web+proto"},
        {"X-Grpc-Web", "1"},
        {"X-Api-Key", c->key},
    };
    bill_plugin_http_request req;
    bill_plugin_http_response resp = {0};
    char *url = NULL, *body = NULL, gmsg[400] = "";
    uint8_t *data = NULL;
    size_t data_len = 0, n = msg->len;
    long gstatus = -1;
    int rc;

    *out = NULL;
    *out_len = 0;
    if (msg->oom || n > 0x7fffffffu)
        return h->error(h, BILL_ENOMEM, "out of memory encoding %s", method);
    if (asprintf(&url, "%s/%s", c->url, method) < 0) {
        url = NULL;
        rc = h->error(h, BILL_ENOMEM, "out of memory");
        goto done;
    }
    if (!(body = malloc(5 + n))) {
        rc = h->error(h, BILL_ENOMEM, "out of memory");
        goto done;
    }
    body[0] = 0;
    body[1] = (char)(n >> 24);
    body[2] = (char)(n >> 16);
    body[3] = (char)(n >> 8);
    body[4] = (char)n;
    if (n)
        memcpy(body + 5, msg->d, n);
    memset(&req, 0, sizeof req);
    req.version = BILL_PLUGIN_HTTP_REQUEST_VERSION;
    req.method = "POST";
    req.url = url;
    req.headers = hdrs;
    req.n_headers = sizeof hdrs / sizeof *hdrs;
    req.body = body;
    req.body_len = 5 + n;
    req.timeout_ms = c->timeout_ms;
    req.ca_file = c->ca;
    req.insecure_skip_verify = c->insecure;
    if ((rc = h->http(h, &req, &resp)) < 0)
        goto done;
    if (resp.status != 200) {
        rc = h->error(h, resp.status >= 500 ? BILL_EUNAVAILABLE : BILL_EPLUGIN,
                      "upstream %s: HTTP %ld (not a gRPC-Web answer)", method, resp.status);
        goto done;
    }
    /* Frames: flag byte, 4-byte big-endian length, payload. */
    for (size_t off = 0; off < resp.body_len;) {
        const uint8_t *f = (const uint8_t *)resp.body + off;
        size_t flen;
        if (resp.body_len - off < 5) {
            rc = h->error(h, BILL_EPLUGIN, "upstream %s: truncated gRPC-Web frame", method);
            goto done;
        }
        flen = ((size_t)f[1] << 24) | ((size_t)f[2] << 16) | ((size_t)f[3] << 8) | f[4];
        if (flen > resp.body_len - off - 5) {
            rc = h->error(h, BILL_EPLUGIN, "upstream %s: gRPC-Web frame longer than the body",
                          method);
            goto done;
        }
        if (f[0] & 0x80) {
            parse_trailers(f + 5, flen, &gstatus, gmsg, sizeof gmsg);
        } else if (f[0] & 0x01) {
            rc = h->error(h, BILL_EPLUGIN, "upstream %s: compressed frame not supported", method);
            goto done;
        } else if (!data) {
            if (!(data = malloc(flen ? flen : 1))) {
                rc = h->error(h, BILL_ENOMEM, "out of memory");
                goto done;
            }
            if (flen)
                memcpy(data, f + 5, flen);
            data_len = flen;
        }
        off += 5 + flen;
    }
    if (gstatus < 0) {
        rc = h->error(h, BILL_EPLUGIN, "upstream %s: answer without grpc-status trailer", method);
        goto done;
    }
    if (gstatus != 0) {
        rc = h->error(h, grpc_to_bill(gstatus), "upstream %s: grpc-status %ld: %s", method,
                      gstatus, gmsg[0] ? gmsg : "(no message)");
        goto done;
    }
    if (!data) {
        rc = h->error(h, BILL_EPLUGIN, "upstream %s: OK without a message", method);
        goto done;
    }
    *out = data;
    *out_len = data_len;
    data = NULL;
    rc = BILL_PLUGIN_OK;
done:
    free(data);
    free(body);
    free(url);
    h->http_response_free(&resp);
    return rc;
}

/* ---- products ---------------------------------------------------------- */

static const char *M_LIST_PRODUCTS = "rustbill.product.ProductService/ListProducts";
static const char *M_CREATE_ORDER = "rustbill.order.OrderService/CreateOrder";
static const char *M_PAY_ORDER = "rustbill.order.OrderService/PayOrder";
static const char *M_GET_ORDER = "rustbill.order.OrderService/GetOrder";
static const char *M_LIST_INSTANCES = "rustbill.instance.InstanceService/ListInstances";
static const char *M_LIST_PROVIDERS = "rustbill.integration.IntegrationService/ListProviders";

/* A map<string,string> entry into obj. */
static void map_entry(json_object *obj, const pbf *f)
{
    pbr r = r_sub(f);
    pbf e;
    char *k = NULL, *v = NULL;
    while (r_next(&r, &e)) {
        if (e.field == 1)
            f_set(&k, &e);
        else if (e.field == 2)
            f_set(&v, &e);
    }
    if (k && !r.bad)
        json_object_object_add(obj, k, json_object_new_string(v ? v : ""));
    free(k);
    free(v);
}

/* PageMeta.total_pages of a ListXResponse field 2. */
static uint32_t total_pages(const pbf *f)
{
    pbr r = r_sub(f);
    pbf m;
    uint32_t tp = 0;
    while (r_next(&r, &m))
        if (m.field == 4 && m.wt == 0)
            tp = (uint32_t)m.v;
    return tp;
}

static void page_req(pbw *w, uint32_t page)
{
    pbw p = {0};
    w_uint(&p, 1, page);
    w_uint(&p, 2, 100);
    w_msg(w, 1, &p);
}

/* Malformed protobuf from the peer. */
static int bad_answer(rb *c, const char *method)
{
    return c->host->error(c->host, BILL_EPLUGIN, "upstream %s: malformed protobuf answer", method);
}

static int rb_list_products(void *instance, char **json_out)
{
    rb *c = instance;
    const bill_plugin_host *h = c->host;
    json_object *arr = json_object_new_array();
    uint8_t *ans = NULL;
    size_t ans_len;
    int rc = BILL_PLUGIN_OK;

    for (uint32_t page = 1, pages = 1; page <= pages && page <= 1000; page++) {
        pbw q = {0};
        pbr r;
        pbf f;
        size_t got = 0;
        page_req(&q, page);
        rc = call(c, M_LIST_PRODUCTS, &q, &ans, &ans_len);
        free(q.d);
        if (rc < 0)
            goto done;
        r = (pbr){ans, ans + ans_len, false};
        while (r_next(&r, &f)) {
            if (f.field == 2 && f.wt == 2) {
                pages = total_pages(&f);
            } else if (f.field == 1 && f.wt == 2) {
                pbr pr = r_sub(&f);
                pbf g;
                char *id = NULL, *name = NULL, *price = NULL;
                json_object *specs = json_object_new_object(), *cycles = json_object_new_object();
                while (r_next(&pr, &g)) {
                    if (g.field == 1)
                        f_set(&id, &g);
                    else if (g.field == 2)
                        f_set(&name, &g);
                    else if (g.field == 10)
                        f_set(&price, &g);
                    else if (g.field == 16 && g.wt == 2)
                        map_entry(specs, &g);
                    else if (g.field == 18 && g.wt == 2)
                        map_entry(cycles, &g);
                }
                if (pr.bad || !id || !*id) {
                    free(id);
                    free(name);
                    free(price);
                    json_object_put(specs);
                    json_object_put(cycles);
                    rc = bad_answer(c, M_LIST_PRODUCTS);
                    goto done;
                }
                json_object *p = json_object_new_object();
                json_object_object_add(p, "id", json_object_new_string(id));
                json_object_object_add(p, "name", json_object_new_string(name ? name : ""));
                json_object_object_add(p, "price", json_object_new_string(price ? price : "0.00"));
                json_object_object_add(p, "specs", specs);
                json_object_object_add(p, "billing_cycles", cycles);
                json_object_array_add(arr, p);
                free(id);
                free(name);
                free(price);
                got++;
            }
        }
        if (r.bad) {
            rc = bad_answer(c, M_LIST_PRODUCTS);
            goto done;
        }
        free(ans);
        ans = NULL;
        if (!got)
            break;
    }
    *json_out = h->strdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
    rc = *json_out ? BILL_PLUGIN_OK : h->error(h, BILL_ENOMEM, "out of memory");
done:
    free(ans);
    json_object_put(arr);
    return rc;
}

/* ---- orders and instances ------------------------------------------------ */

/* A spec value as text: strings as they are, numbers and booleans spelled
 * out; NULL for null, objects and arrays (not a spec value). */
static const char *spec_text(json_object *v)
{
    if (!v)
        return NULL;
    switch (json_object_get_type(v)) {
    case json_type_string:
        return strlen(json_object_get_string(v)) == (size_t)json_object_get_string_len(v)
                   ? json_object_get_string(v) : NULL;
    case json_type_int:
    case json_type_double:
    case json_type_boolean:
        return json_object_get_string(v);
    default:
        return NULL;
    }
}

/* spec_json -> ServerSpec: the six typed keys, the rest as extra_specs. */
static int encode_spec(rb *c, const char *spec_json, pbw *spec, char **cycle)
{
    json_object *o = pu_json_parse_object(spec_json && *spec_json ? spec_json : "{}");
    static const char *const uints[] = {"cpu_cores", "memory_gb", "disk_gb", "bandwidth_mbps"};
    int rc = BILL_PLUGIN_OK;

    if (!o) {
        rc = c->host->error(c->host, BILL_EINVALID, "spec_json is not a JSON object");
        goto done;
    }
    json_object_object_foreach(o, k, v) {
        const char *text = spec_text(v);
        size_t i;
        if (!v)
            continue; /* null: not set */
        if (!text || !pu_text_ok(text, strlen(text)) || !pu_text_ok(k, strlen(k))) {
            rc = c->host->error(c->host, BILL_EINVALID, "spec value of %s is not a string or number",
                                pu_text_ok(k, strlen(k)) ? k : "?");
            goto done;
        }
        for (i = 0; i < 4; i++)
            if (strcmp(k, uints[i]) == 0)
                break;
        if (i < 4) {
            char *end;
            long long n = strtoll(text, &end, 10);
            if (!json_object_is_type(v, json_type_int) &&
                (!*text || strspn(text, "0123456789") != strlen(text) || strlen(text) > 10))
                n = -1;
            if (n < 0 || n > 0xffffffffLL) {
                rc = c->host->error(c->host, BILL_EINVALID, "spec %s = %s is not a whole number "
                                    "0..4294967295", k, text);
                goto done;
            }
            w_uint(spec, (uint32_t)(i + 1), (uint64_t)n);
        } else if (strcmp(k, "region") == 0) {
            w_str(spec, 5, text);
        } else if (strcmp(k, "os") == 0) {
            w_str(spec, 6, text);
        } else if (strcmp(k, "billing_cycle") == 0) {
            free(*cycle);
            if (!(*cycle = strdup(text))) {
                rc = c->host->error(c->host, BILL_ENOMEM, "out of memory");
                goto done;
            }
        } else {
            pbw e = {0};
            w_str(&e, 1, k);
            w_str(&e, 2, text);
            w_msg(spec, 7, &e);
        }
    }
done:
    json_object_put(o);
    return rc;
}

/* Field 1 (a string) of the message in field `outer` of ans. */
static char *nested_id(const uint8_t *ans, size_t len, uint32_t outer)
{
    pbr r = {ans, ans + len, false};
    pbf f, g;
    char *id = NULL;
    while (r_next(&r, &f))
        if (f.field == outer && f.wt == 2) {
            pbr s = r_sub(&f);
            while (r_next(&s, &g))
                if (g.field == 1)
                    f_set(&id, &g);
        }
    return id;
}

static const char *M_LIST_ORDERS = "rustbill.order.OrderService/ListOrders";

/* Idempotency: the upstream order whose notes are exactly `notes` (made by
 * an earlier try of the same downstream order), searched by the downstream
 * order id and matched exactly here. *id and *status malloc'd or NULL. */
static int find_order(rb *c, const char *down_id, const char *notes, char **id, char **status)
{
    uint8_t *ans = NULL;
    size_t ans_len;
    int rc = BILL_PLUGIN_OK;

    for (uint32_t page = 1, pages = 1; page <= pages && page <= 1000 && !*id; page++) {
        pbw q = {0};
        pbr r;
        pbf f;
        page_req(&q, page);
        w_str(&q, 5, down_id);
        rc = call(c, M_LIST_ORDERS, &q, &ans, &ans_len);
        free(q.d);
        if (rc < 0)
            break;
        r = (pbr){ans, ans + ans_len, false};
        while (r_next(&r, &f)) {
            if (f.field == 2 && f.wt == 2) {
                pages = total_pages(&f);
            } else if (f.field == 1 && f.wt == 2 && !*id) {
                pbr orr = r_sub(&f);
                pbf g;
                char *oid = NULL, *st = NULL, *nt = NULL;
                while (r_next(&orr, &g)) {
                    if (g.field == 1)
                        f_set(&oid, &g);
                    else if (g.field == 7)
                        f_set(&st, &g);
                    else if (g.field == 12)
                        f_set(&nt, &g);
                }
                /* A cancelled or refunded try does not count: buy again. */
                if (oid && st && nt && strcmp(nt, notes) == 0 && strcmp(st, "cancelled") != 0 &&
                    strcmp(st, "refunded") != 0) {
                    *id = oid;
                    *status = st;
                    oid = st = NULL;
                }
                free(oid);
                free(st);
                free(nt);
            }
        }
        free(ans);
        ans = NULL;
        if (r.bad) {
            rc = bad_answer(c, M_LIST_ORDERS);
            break;
        }
    }
    return rc;
}

static int rb_create(void *instance, const bill_provider_create_request *req,
                     bill_provider_instance *out)
{
    rb *c = instance;
    const bill_plugin_host *h = c->host;
    pbw q = {0}, spec = {0};
    uint8_t *ans = NULL;
    size_t ans_len;
    char *cycle = NULL, *order = NULL, *ostatus = NULL, notes[160];
    int rc;

    if (!req->upstream_product_id || !*req->upstream_product_id) {
        rc = h->error(h, BILL_EINVALID, "upstream_product_id is required (the product bound to "
                      "this interface names no upstream product)");
        goto done;
    }
    if ((rc = encode_spec(c, req->spec_json, &spec, &cycle)) < 0)
        goto done;
    if (!req->order_id || !*req->order_id || strlen(req->order_id) > 100) {
        rc = h->error(h, BILL_EINVALID, "order_id \"%s\" is empty or too long",
                      req->order_id ? req->order_id : "");
        goto done;
    }
    snprintf(notes, sizeof notes, "downstream order %s", req->order_id);
    /* A retried create (events queue after a crash) must not buy twice. */
    if ((rc = find_order(c, req->order_id, notes, &order, &ostatus)) < 0)
        goto done;
    if (order) {
        h->log(h, BILL_PLUGIN_LOG_INFO, "upstream order %s exists already (%s): retried create",
               order, ostatus);
        if (strcmp(ostatus, "pending") == 0)
            goto pay;
        goto paid;
    }
    w_str(&q, 2, req->upstream_product_id);
    w_msg(&q, 4, &spec);
    w_str(&q, 6, "balance");
    w_str(&q, 7, notes);
    w_str(&q, 8, cycle);
    if ((rc = call(c, M_CREATE_ORDER, &q, &ans, &ans_len)) < 0)
        goto done;
    order = nested_id(ans, ans_len, 1);
    if (!order || !*order) {
        rc = h->error(h, BILL_EPLUGIN, "upstream %s: answer has no order id", M_CREATE_ORDER);
        goto done;
    }
    free(ans);
    ans = NULL;
pay:
    free(q.d);
    q = (pbw){0};
    w_str(&q, 1, order);
    w_str(&q, 2, "balance");
    if ((rc = call(c, M_PAY_ORDER, &q, &ans, &ans_len)) < 0) {
        h->log(h, BILL_PLUGIN_LOG_WARN, "upstream order %s was created but not paid", order);
        goto done;
    }
    h->log(h, BILL_PLUGIN_LOG_INFO, "upstream order %s paid from our balance (downstream %s)",
           order, req->order_id);
paid:
    out->provider_instance_id = order;
    order = NULL;
    out->status = BILL_PROVIDER_PROVISIONING;
    out->message = h->strdup("upstream order paid");
    rc = BILL_PLUGIN_OK;
done:
    free(q.d);
    free(spec.d);
    free(ans);
    free(cycle);
    free(order);
    free(ostatus);
    return rc;
}

static bill_provider_status instance_status(const char *s)
{
    return !s                                  ? BILL_PROVIDER_PROVISIONING
           : strcmp(s, "running") == 0         ? BILL_PROVIDER_RUNNING
           : strcmp(s, "stopped") == 0         ? BILL_PROVIDER_STOPPED
           : strcmp(s, "suspended") == 0       ? BILL_PROVIDER_SUSPENDED
           : strcmp(s, "terminated") == 0      ? BILL_PROVIDER_TERMINATED
           : strcmp(s, "error") == 0           ? BILL_PROVIDER_ERROR
                                               : BILL_PROVIDER_PROVISIONING;
}

/* The upstream instance of order `id`: status and ip (malloc'd, NULL when
 * the order has no instance yet). */
static int find_instance(rb *c, const char *id, char **status, char **ip)
{
    uint8_t *ans = NULL;
    size_t ans_len;
    int rc = BILL_PLUGIN_OK;

    for (uint32_t page = 1, pages = 1; page <= pages && page <= 1000 && !*status; page++) {
        pbw q = {0};
        pbr r;
        pbf f;
        page_req(&q, page);
        rc = call(c, M_LIST_INSTANCES, &q, &ans, &ans_len);
        free(q.d);
        if (rc < 0)
            break;
        r = (pbr){ans, ans + ans_len, false};
        while (r_next(&r, &f)) {
            if (f.field == 2 && f.wt == 2) {
                pages = total_pages(&f);
            } else if (f.field == 1 && f.wt == 2 && !*status) {
                pbr ir = r_sub(&f);
                pbf g;
                char *order = NULL, *st = NULL, *addr = NULL;
                while (r_next(&ir, &g)) {
                    if (g.field == 2)
                        f_set(&order, &g);
                    else if (g.field == 7)
                        f_set(&st, &g);
                    else if (g.field == 8)
                        f_set(&addr, &g);
                }
                if (order && strcmp(order, id) == 0) {
                    *status = st;
                    *ip = addr;
                    st = addr = NULL;
                }
                free(order);
                free(st);
                free(addr);
            }
        }
        free(ans);
        ans = NULL;
        if (r.bad) {
            rc = bad_answer(c, M_LIST_INSTANCES);
            break;
        }
    }
    return rc;
}

static int rb_get(void *instance, const char *id, bill_provider_instance *out)
{
    rb *c = instance;
    const bill_plugin_host *h = c->host;
    pbw q = {0};
    uint8_t *ans = NULL;
    size_t ans_len;
    char *ostatus = NULL, *istatus = NULL, *ip = NULL;
    int rc;

    if (!id || !*id) {
        rc = h->error(h, BILL_EINVALID, "provider instance id (the upstream order id) is empty");
        goto done;
    }
    w_str(&q, 1, id);
    if ((rc = call(c, M_GET_ORDER, &q, &ans, &ans_len)) < 0)
        goto done;
    {
        pbr r = {ans, ans + ans_len, false};
        pbf f, g;
        while (r_next(&r, &f))
            if (f.field == 1 && f.wt == 2) {
                pbr s = r_sub(&f);
                while (r_next(&s, &g))
                    if (g.field == 7)
                        f_set(&ostatus, &g);
            }
        if (r.bad || !ostatus) {
            rc = bad_answer(c, M_GET_ORDER);
            goto done;
        }
    }
    if ((rc = find_instance(c, id, &istatus, &ip)) < 0)
        goto done;
    if (istatus) {
        out->status = instance_status(istatus);
        out->message = h->strdup(istatus);
    } else {
        /* No instance upstream (yet): the order's state says what we know. */
        out->status = strcmp(ostatus, "cancelled") == 0 || strcmp(ostatus, "refunded") == 0
                          ? BILL_PROVIDER_TERMINATED
                      : strcmp(ostatus, "suspended") == 0 ? BILL_PROVIDER_SUSPENDED
                                                          : BILL_PROVIDER_PROVISIONING;
        char msg[96];
        snprintf(msg, sizeof msg, "upstream order %s, no instance yet", ostatus);
        out->message = h->strdup(msg);
    }
    if (ip && pu_ip_ok(ip)) {
        out->ip_address = ip;
        ip = NULL;
    }
    out->provider_instance_id = h->strdup(id);
    rc = BILL_PLUGIN_OK;
done:
    free(q.d);
    free(ans);
    free(ostatus);
    free(istatus);
    free(ip);
    return rc;
}

static int rb_action(void *instance, const char *id, const char *action)
{
    rb *c = instance;
    (void)id;
    /* The upstream customer API (wire-contract.md) has no instance action
     * RPC: start/stop/reboot/terminate must be done by the upstream's staff. */
    return c->host->error(c->host, BILL_EUNSUPPORTED,
                          "action \"%s\" is not supported: the upstream RustBill customer API has "
                          "no instance action RPC (ask the upstream provider)",
                          action ? action : "");
}

static int rb_detail(void *instance, const char *id, char **json_out)
{
    rb *c = instance;
    bill_provider_instance st = {0};
    json_object *arr, *sec, *fields;
    int rc;

    if ((rc = rb_get(c, id, &st)) < 0)
        return rc;
    arr = json_object_new_array();
    sec = json_object_new_object();
    fields = json_object_new_object();
    json_object_object_add(fields, "Upstream order", json_object_new_string(id));
    json_object_object_add(fields, "State", json_object_new_string(st.message ? st.message : ""));
    json_object_object_add(fields, "IPv4",
                           json_object_new_string(st.ip_address ? st.ip_address : "-"));
    json_object_object_add(sec, "title", json_object_new_string("Upstream"));
    json_object_object_add(sec, "fields", fields);
    json_object_object_add(sec, "content_html", json_object_new_string(""));
    json_object_object_add(sec, "sort_order", json_object_new_int(10));
    json_object_array_add(arr, sec);
    *json_out = c->host->strdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
    json_object_put(arr);
    free(st.provider_instance_id);
    free(st.ip_address);
    free(st.message);
    return *json_out ? BILL_PLUGIN_OK : c->host->error(c->host, BILL_ENOMEM, "out of memory");
}

/* One SpecField -> {"name","label","type","required","options","min","max","default"}. */
static json_object *spec_field(const pbf *f)
{
    pbr r = r_sub(f);
    pbf g;
    json_object *o = json_object_new_object(), *opts = json_object_new_array();
    char *s = NULL;
    while (r_next(&r, &g)) {
        static const char *const names[] = {NULL, "name", "label", "type"};
        if (g.field >= 1 && g.field <= 3 && g.wt == 2) {
            s = f_str(&g);
            json_object_object_add(o, names[g.field], json_object_new_string(s ? s : ""));
        } else if (g.field == 4 && g.wt == 0) {
            json_object_object_add(o, "required", json_object_new_boolean(g.v != 0));
        } else if (g.field == 6 && g.wt == 2) {
            s = f_str(&g);
            json_object_array_add(opts, json_object_new_string(s ? s : ""));
        } else if ((g.field == 7 || g.field == 8) && g.wt == 0) {
            json_object_object_add(o, g.field == 7 ? "min" : "max",
                                   json_object_new_int64((int64_t)g.v));
        } else if (g.field == 9 && g.wt == 2) {
            s = f_str(&g);
            json_object_object_add(o, "default", json_object_new_string(s ? s : ""));
        }
        free(s);
        s = NULL;
    }
    if (json_object_array_length(opts))
        json_object_object_add(o, "options", opts);
    else
        json_object_put(opts);
    return o;
}

static int rb_spec_template(void *instance, char **json_out)
{
    rb *c = instance;
    const bill_plugin_host *h = c->host;
    pbw q = {0};
    uint8_t *ans = NULL;
    size_t ans_len;
    json_object *t = json_object_new_object(), *fields = json_object_new_array();
    int rc;

    if ((rc = call(c, M_LIST_PROVIDERS, &q, &ans, &ans_len)) < 0)
        goto done;
    {
        pbr r = {ans, ans + ans_len, false};
        pbf f, g, s;
        while (r_next(&r, &f) && json_object_array_length(fields) == 0) {
            if (f.field != 1 || f.wt != 2)
                continue;
            pbr pr = r_sub(&f);
            while (r_next(&pr, &g))
                if (g.field == 5 && g.wt == 2) {
                    pbr tr = r_sub(&g);
                    while (r_next(&tr, &s))
                        if (s.field == 1 && s.wt == 2)
                            json_object_array_add(fields, spec_field(&s));
                }
        }
        if (r.bad) {
            rc = bad_answer(c, M_LIST_PROVIDERS);
            goto done;
        }
    }
    json_object_object_add(t, "fields", fields);
    fields = NULL;
    *json_out = h->strdup(json_object_to_json_string_ext(t, JSON_C_TO_STRING_PLAIN));
    rc = *json_out ? BILL_PLUGIN_OK : h->error(h, BILL_ENOMEM, "out of memory");
done:
    json_object_put(fields);
    json_object_put(t);
    free(ans);
    return rc;
}

static int rb_health(void *instance, char **detail)
{
    rb *c = instance;
    const bill_plugin_host *h = c->host;
    bill_plugin_http_request req;
    bill_plugin_http_response resp = {0};
    char *url = NULL;
    int rc;

    if (asprintf(&url, "%s/health", c->url) < 0)
        return h->error(h, BILL_ENOMEM, "out of memory");
    memset(&req, 0, sizeof req);
    req.version = BILL_PLUGIN_HTTP_REQUEST_VERSION;
    req.method = "GET";
    req.url = url;
    req.timeout_ms = c->timeout_ms < 5000 ? c->timeout_ms : 5000;
    req.ca_file = c->ca;
    req.insecure_skip_verify = c->insecure;
    if ((rc = h->http(h, &req, &resp)) == BILL_PLUGIN_OK) {
        if (resp.status == 200)
            *detail = h->strdup("upstream /health answered 200");
        else
            rc = h->error(h, BILL_EUNAVAILABLE, "upstream %s/health: HTTP %ld", c->url,
                          resp.status);
    }
    h->http_response_free(&resp);
    free(url);
    return rc;
}

static const bill_plugin_provider rb_fns = {
    .version = BILL_PLUGIN_PROVIDER_VERSION,
    .spec_template = rb_spec_template,
    .create_instance = rb_create,
    .get_instance = rb_get,
    .action = rb_action,
    .detail_sections = rb_detail,
    .list_upstream_products = rb_list_products,
};

static const bill_plugin_descriptor rb_desc = {
    .abi_version = BILL_PLUGIN_ABI_VERSION,
    .kind = BILL_PLUGIN_UPSTREAM_PROVIDER,
    .id = "provider-rustbill",
    .name = "RustBill / libbill upstream (gRPC-Web, API key)",
    .version = "1.0.0",
    .config_schema =
        "{\"type\":\"object\",\"required\":[\"upstream_url\",\"api_key\"],"
        "\"additionalProperties\":false,\"properties\":{"
        "\"upstream_url\":{\"type\":\"string\"},"
        "\"api_key\":{\"type\":\"string\",\"format\":\"secret\"},"
        "\"timeout\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":300},"
        "\"ca_file\":{\"type\":\"string\"},"
        "\"insecure_skip_verify\":{\"type\":\"boolean\"}}}",
    .init = rb_init,
    .destroy = rb_destroy,
    .health = rb_health,
    .functions = &rb_fns,
};

BILL_PLUGIN_EXPORT const bill_plugin_descriptor *bill_plugin_entry(void)
{
    return &rb_desc;
}
