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
 *   actions                 start/stop/reboot/terminate: Start/Stop/Restart/
 *                           TerminateInstance on the upstream instance of the
 *                           order (found with ListInstances); suspend,
 *                           unsuspend, change_plan: BILL_EUNSUPPORTED (no
 *                           customer RPC upstream)
 *   spec_template           first provider with a template in
 *                           IntegrationService/ListProviders, else no fields
 *   health                  GET /health
 *
 * Messages are the protobuf-c code generated from proto/rustbill (the files
 * the server speaks), compiled into this plugin with hidden symbols: the
 * plugin still includes nothing of libbill but bill/plugin.h. The gRPC-Web
 * framing is done here: the host HTTP response does not expose headers, so
 * grpc-status is read from the trailer frame that the contract promises in
 * every response body. Every answer is unpacked through a counting
 * allocator (an upper bound on what one answer may allocate, and the size
 * of each string, so a string with an embedded NUL is refused instead of
 * silently cut short); every string taken from an answer must be printable
 * UTF-8 (pb_text).
 *
 * Config: {"upstream_url", "api_key" (secret), "timeout"? (seconds, 10),
 * "ca_file"?, "insecure_skip_verify"?}.
 */
#include <bill/plugin.h>

#include <ctype.h>
#include <json-c/json.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pu.h"
#include "rustbill/common.pb-c.h"
#include "rustbill/instance.pb-c.h"
#include "rustbill/integration.pb-c.h"
#include "rustbill/order.pb-c.h"
#include "rustbill/product.pb-c.h"

typedef struct rb {
    const bill_plugin_host *host;
    char *url, *key, *ca;
    bool insecure;
    long timeout_ms;
} rb;

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
    json_object *cfg = NULL;
    const char *url, *key, *ca;
    rb *c = NULL;
    void *mem;
    int rc = BILL_PLUGIN_OK;
    int64_t timeout;

    if ((rc = pu_init_begin(host, config_json, sizeof *c, &cfg, &mem)) != BILL_PLUGIN_OK)
        goto done;
    c = mem;
    c->host = host;
    url = pu_json_str(cfg, "upstream_url");
    if (!pu_http_url_ok(url)) {
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
    if ((rc = pu_cfg_insecure(host, cfg, &c->insecure)) != BILL_PLUGIN_OK)
        goto done;
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

/* ---- protobuf-c: unpacking answers ------------------------------------- */

/* What one unpacked answer may allocate in all: an 8 MiB body (the host's
 * limit) of tiny repeated messages expands a lot. */
#define PB_ARENA_LIMIT (64u * 1024u * 1024u)

typedef union pb_hdr {
    size_t size;
    max_align_t align;
} pb_hdr;

typedef struct pb_answer {
    ProtobufCAllocator alloc; /* must stay at this address until freed */
    size_t used;
    ProtobufCMessage *msg;
} pb_answer;

static void *pb_alloc(void *data, size_t size)
{
    pb_answer *a = data;
    pb_hdr *h;
    if (size > PB_ARENA_LIMIT - a->used || !(h = malloc(sizeof *h + size)))
        return NULL;
    h->size = size;
    a->used += size;
    return h + 1;
}

static void pb_free(void *data, void *p)
{
    pb_answer *a = data;
    pb_hdr *h;
    if (!p)
        return;
    h = (pb_hdr *)p - 1;
    a->used -= h->size;
    free(h);
}

static void pb_answer_free(pb_answer *a)
{
    if (a->msg)
        protobuf_c_message_free_unpacked(a->msg, &a->alloc);
    a->msg = NULL;
}

/* A string field of an unpacked answer, when it is printable UTF-8 of at
 * most max bytes; else NULL. protobuf-c allocates len + 1 bytes for a string
 * and copies it: a shorter strlen means an embedded NUL. Unset fields point
 * at protobuf_c_empty_string. */
static const char *pb_text(const char *s, size_t max)
{
    size_t n;
    if (!s)
        return NULL;
    if (s == protobuf_c_empty_string)
        return s;
    n = strlen(s);
    if (((const pb_hdr *)s - 1)->size != n + 1 || n > max || !pu_text_ok(s, n))
        return NULL;
    return s;
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

/* POST one unary call to /<method> with request message req; on BILL_OK
 * ans->msg is the answer unpacked as resp_desc (free with pb_answer_free). */
static int call(rb *c, const char *method, const ProtobufCMessage *req,
                const ProtobufCMessageDescriptor *resp_desc, pb_answer *ans)
{
    const bill_plugin_host *h = c->host;
    bill_plugin_http_header hdrs[] = {
        {"Content-Type", "application/grpc-web+proto"},
        {"Accept", "application/grpc-web+proto"},
        {"X-Grpc-Web", "1"},
        {"X-Api-Key", c->key},
    };
    bill_plugin_http_request hreq;
    bill_plugin_http_response resp = {0};
    char *url = NULL, gmsg[400] = "";
    uint8_t *body = NULL;
    const uint8_t *data = NULL;
    size_t data_len = 0, n = protobuf_c_message_get_packed_size(req);
    long gstatus = -1;
    int rc;

    memset(ans, 0, sizeof *ans);
    ans->alloc = (ProtobufCAllocator){pb_alloc, pb_free, ans};
    if (n > 0x7fffffffu)
        return h->error(h, BILL_EINVALID, "%s request of %zu bytes is too large", method, n);
    if (asprintf(&url, "%s/%s", c->url, method) < 0) {
        url = NULL;
        rc = h->error(h, BILL_ENOMEM, "out of memory");
        goto done;
    }
    if (!(body = malloc(5 + n))) {
        rc = h->error(h, BILL_ENOMEM, "out of memory");
        goto done;
    }
    /* Frame: flag byte 0 (uncompressed message), 4-byte big-endian length. */
    body[0] = 0;
    body[1] = (uint8_t)(n >> 24);
    body[2] = (uint8_t)(n >> 16);
    body[3] = (uint8_t)(n >> 8);
    body[4] = (uint8_t)n;
    if (protobuf_c_message_pack(req, body + 5) != n) {
        rc = h->error(h, BILL_EINTERNAL, "%s: protobuf-c packed a different size", method);
        goto done;
    }
    memset(&hreq, 0, sizeof hreq);
    hreq.version = BILL_PLUGIN_HTTP_REQUEST_VERSION;
    hreq.method = "POST";
    hreq.url = url;
    hreq.headers = hdrs;
    hreq.n_headers = sizeof hdrs / sizeof *hdrs;
    hreq.body = (const char *)body;
    hreq.body_len = 5 + n;
    hreq.timeout_ms = c->timeout_ms;
    hreq.ca_file = c->ca;
    hreq.insecure_skip_verify = c->insecure;
    if ((rc = h->http(h, &hreq, &resp)) < 0)
        goto done;
    if (resp.status != 200) {
        rc = h->error(h, resp.status >= 500 ? BILL_EUNAVAILABLE : BILL_EPLUGIN,
                      "upstream %s: HTTP %ld (not a gRPC-Web answer)", method, resp.status);
        goto done;
    }
    /* Frames: flag byte, 4-byte big-endian length, payload. A unary answer
     * is at most one message frame, then trailer frames. */
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
        } else if (data || gstatus >= 0) {
            rc = h->error(h, BILL_EPLUGIN, "upstream %s: a second message or a message after the "
                          "trailers in a unary answer", method);
            goto done;
        } else {
            data = f + 5;
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
    if (!(ans->msg = protobuf_c_message_unpack(resp_desc, &ans->alloc, data_len, data))) {
        rc = h->error(h, BILL_EPLUGIN, "upstream %s: malformed protobuf answer (or one that "
                      "would take more than %u MiB)", method, PB_ARENA_LIMIT >> 20);
        goto done;
    }
    rc = BILL_PLUGIN_OK;
done:
    free(body);
    free(url);
    h->http_response_free(&resp);
    return rc;
}

/* ---- methods ------------------------------------------------------------ */

static const char *M_LIST_PRODUCTS = "rustbill.product.ProductService/ListProducts";
static const char *M_CREATE_ORDER = "rustbill.order.OrderService/CreateOrder";
static const char *M_PAY_ORDER = "rustbill.order.OrderService/PayOrder";
static const char *M_GET_ORDER = "rustbill.order.OrderService/GetOrder";
static const char *M_LIST_ORDERS = "rustbill.order.OrderService/ListOrders";
static const char *M_LIST_INSTANCES = "rustbill.instance.InstanceService/ListInstances";
static const char *M_LIST_PROVIDERS = "rustbill.integration.IntegrationService/ListProviders";

/* A field of the peer's answer that is not printable UTF-8 (or too long). */
static int bad_field(rb *c, const char *method, const char *field)
{
    return c->host->error(c->host, BILL_EPLUGIN, "upstream %s: %s is not printable UTF-8 of a "
                          "sane length", method, field);
}

/* Longest string taken from an answer (ids, names, prices, statuses). */
#define PB_TEXT_MAX 4096u
/* Pages read of one listing at most (100 items each). */
#define MAX_PAGES 1000u

/* One map<string,string> entry into obj; -1 when key or value is not text. */
static int add_entry(json_object *obj, const char *key, const char *value)
{
    const char *k = pb_text(key, PB_TEXT_MAX), *v = pb_text(value, PB_TEXT_MAX);
    if (!k || !v)
        return -1;
    json_object_object_add(obj, k, json_object_new_string(v));
    return 0;
}

static int rb_list_products(void *instance, char **json_out)
{
    rb *c = instance;
    const bill_plugin_host *h = c->host;
    json_object *arr = json_object_new_array();
    pb_answer ans = {0};
    int rc = BILL_PLUGIN_OK;

    if (!arr)
        return h->error(h, BILL_ENOMEM, "out of memory");
    for (uint32_t page = 1, pages = 1; page <= pages && page <= MAX_PAGES; page++) {
        Rustbill__Common__PageRequest pr = RUSTBILL__COMMON__PAGE_REQUEST__INIT;
        Rustbill__Product__ListProductsRequest q = RUSTBILL__PRODUCT__LIST_PRODUCTS_REQUEST__INIT;
        Rustbill__Product__ListProductsResponse *r;
        pr.page = page;
        pr.page_size = 100;
        q.pagination = &pr;
        if ((rc = call(c, M_LIST_PRODUCTS, &q.base, &rustbill__product__list_products_response__descriptor,
                       &ans)) < 0)
            goto done;
        r = (Rustbill__Product__ListProductsResponse *)ans.msg;
        if (r->meta)
            pages = r->meta->total_pages;
        for (size_t i = 0; i < r->n_products; i++) {
            const Rustbill__Product__ProductInfo *p = r->products[i];
            const char *id = pb_text(p->id, PB_TEXT_MAX), *name = pb_text(p->name, PB_TEXT_MAX),
                       *price = pb_text(p->price, 64);
            json_object *o = json_object_new_object(), *specs = json_object_new_object(),
                        *cycles = json_object_new_object();
            json_object_object_add(o, "specs", specs);
            json_object_object_add(o, "billing_cycles", cycles);
            json_object_array_add(arr, o);
            if (!id || !*id) {
                rc = h->error(h, BILL_EPLUGIN, "upstream %s: a product without a valid id",
                              M_LIST_PRODUCTS);
                goto done;
            }
            bool ok = name && price;
            for (size_t k = 0; ok && k < p->n_specs; k++)
                ok = add_entry(specs, p->specs[k]->key, p->specs[k]->value) == 0;
            for (size_t k = 0; ok && k < p->n_billing_cycles; k++)
                ok = add_entry(cycles, p->billing_cycles[k]->key, p->billing_cycles[k]->value) == 0;
            if (!ok) {
                rc = bad_field(c, M_LIST_PRODUCTS, "a product's name, price or map entry");
                goto done;
            }
            json_object_object_add(o, "id", json_object_new_string(id));
            json_object_object_add(o, "name", json_object_new_string(name));
            json_object_object_add(o, "price", json_object_new_string(*price ? price : "0.00"));
        }
        bool last = r->n_products == 0;
        pb_answer_free(&ans);
        if (last)
            break;
    }
    *json_out = h->strdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
    rc = *json_out ? BILL_PLUGIN_OK : h->error(h, BILL_ENOMEM, "out of memory");
done:
    pb_answer_free(&ans);
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

/* ServerSpec built from spec_json: the six typed keys, the rest as
 * extra_specs. Its strings point into json, which it owns. */
typedef struct spec_msg {
    Rustbill__Order__ServerSpec spec;
    Rustbill__Order__ServerSpec__ExtraSpecsEntry *entries;
    Rustbill__Order__ServerSpec__ExtraSpecsEntry **ptrs;
    json_object *json;
    const char *cycle; /* "billing_cycle", or NULL */
} spec_msg;

static void spec_msg_free(spec_msg *m)
{
    free(m->entries);
    free(m->ptrs);
    json_object_put(m->json);
    memset(m, 0, sizeof *m);
}

static int encode_spec(rb *c, const char *spec_json, spec_msg *m)
{
    static const char *const uints[] = {"cpu_cores", "memory_gb", "disk_gb", "bandwidth_mbps"};
    uint32_t *const slots[] = {&m->spec.cpu_cores, &m->spec.memory_gb, &m->spec.disk_gb,
                               &m->spec.bandwidth_mbps};
    size_t n;

    m->spec = (Rustbill__Order__ServerSpec)RUSTBILL__ORDER__SERVER_SPEC__INIT;
    if (!(m->json = pu_json_parse_object(spec_json && *spec_json ? spec_json : "{}")))
        return c->host->error(c->host, BILL_EINVALID, "spec_json is not a JSON object");
    n = (size_t)json_object_object_length(m->json);
    m->entries = calloc(n ? n : 1, sizeof *m->entries);
    m->ptrs = calloc(n ? n : 1, sizeof *m->ptrs);
    if (!m->entries || !m->ptrs)
        return c->host->error(c->host, BILL_ENOMEM, "out of memory");
    json_object_object_foreach(m->json, k, v) {
        const char *text = spec_text(v);
        size_t i;
        if (!v)
            continue; /* null: not set */
        if (!text || !pu_text_ok(text, strlen(text)) || !pu_text_ok(k, strlen(k)))
            return c->host->error(c->host, BILL_EINVALID, "spec value of %s is not a string or "
                                  "number", pu_text_ok(k, strlen(k)) ? k : "?");
        for (i = 0; i < 4; i++)
            if (strcmp(k, uints[i]) == 0)
                break;
        if (i < 4) {
            long long num = strtoll(text, NULL, 10);
            if (!json_object_is_type(v, json_type_int) &&
                (!*text || strspn(text, "0123456789") != strlen(text) || strlen(text) > 10))
                num = -1;
            if (num < 0 || num > 0xffffffffLL)
                return c->host->error(c->host, BILL_EINVALID, "spec %s = %s is not a whole number "
                                      "0..4294967295", k, text);
            *slots[i] = (uint32_t)num;
        } else if (strcmp(k, "region") == 0) {
            m->spec.region = (char *)text;
        } else if (strcmp(k, "os") == 0) {
            m->spec.os = (char *)text;
        } else if (strcmp(k, "billing_cycle") == 0) {
            m->cycle = text;
        } else {
            Rustbill__Order__ServerSpec__ExtraSpecsEntry *e = &m->entries[m->spec.n_extra_specs];
            *e = (Rustbill__Order__ServerSpec__ExtraSpecsEntry)
                RUSTBILL__ORDER__SERVER_SPEC__EXTRA_SPECS_ENTRY__INIT;
            e->key = k;
            e->value = (char *)text;
            m->ptrs[m->spec.n_extra_specs++] = e;
        }
    }
    m->spec.extra_specs = m->ptrs;
    return BILL_PLUGIN_OK;
}

/* Idempotency: the upstream order whose notes are exactly `notes` (made by
 * an earlier try of the same downstream order), searched by the downstream
 * order id and matched exactly here. *id and *status malloc'd or NULL. */
static int find_order(rb *c, const char *down_id, const char *notes, char **id, char **status)
{
    pb_answer ans = {0};
    int rc = BILL_PLUGIN_OK;

    for (uint32_t page = 1, pages = 1; page <= pages && page <= MAX_PAGES && !*id; page++) {
        Rustbill__Common__PageRequest pr = RUSTBILL__COMMON__PAGE_REQUEST__INIT;
        Rustbill__Order__ListOrdersRequest q = RUSTBILL__ORDER__LIST_ORDERS_REQUEST__INIT;
        Rustbill__Order__ListOrdersResponse *r;
        pr.page = page;
        pr.page_size = 100;
        q.pagination = &pr;
        q.search = (char *)down_id;
        if ((rc = call(c, M_LIST_ORDERS, &q.base, &rustbill__order__list_orders_response__descriptor,
                       &ans)) < 0)
            break;
        r = (Rustbill__Order__ListOrdersResponse *)ans.msg;
        if (r->meta)
            pages = r->meta->total_pages;
        for (size_t i = 0; i < r->n_orders && !*id; i++) {
            const Rustbill__Order__OrderInfo *o = r->orders[i];
            const char *oid = pb_text(o->id, PB_TEXT_MAX), *st = pb_text(o->status, 64),
                       *nt = pb_text(o->notes, PB_TEXT_MAX);
            /* A cancelled or refunded try does not count: buy again. */
            if (!oid || !*oid || !st || !nt || strcmp(nt, notes) != 0 ||
                strcmp(st, "cancelled") == 0 || strcmp(st, "refunded") == 0)
                continue;
            if (!(*id = strdup(oid)) || !(*status = strdup(st))) {
                rc = c->host->error(c->host, BILL_ENOMEM, "out of memory");
                break;
            }
        }
        bool last = r->n_orders == 0;
        pb_answer_free(&ans);
        if (rc < 0 || last)
            break;
    }
    pb_answer_free(&ans);
    return rc;
}

static int rb_create(void *instance, const bill_provider_create_request *req,
                     bill_provider_instance *out)
{
    rb *c = instance;
    const bill_plugin_host *h = c->host;
    spec_msg spec = {0};
    pb_answer ans = {0};
    char *order = NULL, *ostatus = NULL, notes[160];
    int rc;

    if (!req->upstream_product_id || !*req->upstream_product_id ||
        !pu_text_ok(req->upstream_product_id, strlen(req->upstream_product_id))) {
        rc = h->error(h, BILL_EINVALID, "upstream_product_id is required (the product bound to "
                      "this interface names no upstream product)");
        goto done;
    }
    if ((rc = encode_spec(c, req->spec_json, &spec)) < 0)
        goto done;
    if (!req->order_id || !*req->order_id || strlen(req->order_id) > 100 ||
        !pu_text_ok(req->order_id, strlen(req->order_id))) {
        rc = h->error(h, BILL_EINVALID, "order_id is empty, too long or not printable");
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
    {
        Rustbill__Order__CreateOrderRequest q = RUSTBILL__ORDER__CREATE_ORDER_REQUEST__INIT;
        const Rustbill__Order__CreateOrderResponse *r;
        const char *oid;
        q.product_id = (char *)req->upstream_product_id;
        q.server_spec = &spec.spec;
        q.gateway_id = "balance";
        q.notes = notes;
        if (spec.cycle)
            q.billing_cycle = (char *)spec.cycle;
        if ((rc = call(c, M_CREATE_ORDER, &q.base,
                       &rustbill__order__create_order_response__descriptor, &ans)) < 0)
            goto done;
        r = (const Rustbill__Order__CreateOrderResponse *)ans.msg;
        oid = r->order ? pb_text(r->order->id, PB_TEXT_MAX) : NULL;
        if (!oid || !*oid) {
            rc = h->error(h, BILL_EPLUGIN, "upstream %s: answer has no valid order id",
                          M_CREATE_ORDER);
            goto done;
        }
        if (!(order = strdup(oid))) {
            rc = h->error(h, BILL_ENOMEM, "out of memory");
            goto done;
        }
        pb_answer_free(&ans);
    }
pay:
    {
        Rustbill__Order__PayOrderRequest q = RUSTBILL__ORDER__PAY_ORDER_REQUEST__INIT;
        q.order_id = order;
        q.gateway_id = "balance";
        if ((rc = call(c, M_PAY_ORDER, &q.base, &rustbill__order__pay_order_response__descriptor,
                       &ans)) < 0) {
            h->log(h, BILL_PLUGIN_LOG_WARN, "upstream order %s was created but not paid", order);
            goto done;
        }
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
    pb_answer_free(&ans);
    spec_msg_free(&spec);
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

/* The upstream instance of order `id`: status and ip (malloc'd; NULL when
 * the order has no instance yet; ip NULL when it is not an IP address) and,
 * when inst_id is not NULL, the upstream instance's own id (malloc'd). */
static int find_instance(rb *c, const char *id, char **status, char **ip, char **inst_id)
{
    pb_answer ans = {0};
    int rc = BILL_PLUGIN_OK;

    for (uint32_t page = 1, pages = 1; page <= pages && page <= MAX_PAGES && !*status; page++) {
        Rustbill__Common__PageRequest pr = RUSTBILL__COMMON__PAGE_REQUEST__INIT;
        Rustbill__Instance__ListInstancesRequest q = RUSTBILL__INSTANCE__LIST_INSTANCES_REQUEST__INIT;
        Rustbill__Instance__ListInstancesResponse *r;
        pr.page = page;
        pr.page_size = 100;
        q.pagination = &pr;
        if ((rc = call(c, M_LIST_INSTANCES, &q.base,
                       &rustbill__instance__list_instances_response__descriptor, &ans)) < 0)
            break;
        r = (Rustbill__Instance__ListInstancesResponse *)ans.msg;
        if (r->meta)
            pages = r->meta->total_pages;
        for (size_t i = 0; i < r->n_instances && !*status; i++) {
            const Rustbill__Instance__InstanceInfo *in = r->instances[i];
            const char *order = pb_text(in->order_id, PB_TEXT_MAX), *st = pb_text(in->status, 64),
                       *addr = pb_text(in->ip_address, 64), *iid = pb_text(in->id, 64);
            if (!order || strcmp(order, id) != 0)
                continue;
            if (!st) {
                rc = bad_field(c, M_LIST_INSTANCES, "the instance status");
                break;
            }
            if (inst_id && (!iid || !*iid)) {
                rc = bad_field(c, M_LIST_INSTANCES, "the instance id");
                break;
            }
            if (!(*status = strdup(st)) || (addr && pu_ip_ok(addr) && !(*ip = strdup(addr))) ||
                (inst_id && !(*inst_id = strdup(iid)))) {
                rc = c->host->error(c->host, BILL_ENOMEM, "out of memory");
                break;
            }
        }
        bool last = r->n_instances == 0;
        pb_answer_free(&ans);
        if (rc < 0 || last)
            break;
    }
    pb_answer_free(&ans);
    return rc;
}

static int rb_get(void *instance, const char *id, bill_provider_instance *out)
{
    rb *c = instance;
    const bill_plugin_host *h = c->host;
    pb_answer ans = {0};
    char *ostatus = NULL, *istatus = NULL, *ip = NULL;
    int rc;

    if (!id || !*id || !pu_text_ok(id, strlen(id))) {
        rc = h->error(h, BILL_EINVALID, "provider instance id (the upstream order id) is empty or "
                      "not printable");
        goto done;
    }
    {
        Rustbill__Order__GetOrderRequest q = RUSTBILL__ORDER__GET_ORDER_REQUEST__INIT;
        const Rustbill__Order__GetOrderResponse *r;
        const char *st;
        q.id = (char *)id;
        if ((rc = call(c, M_GET_ORDER, &q.base, &rustbill__order__get_order_response__descriptor,
                       &ans)) < 0)
            goto done;
        r = (const Rustbill__Order__GetOrderResponse *)ans.msg;
        st = r->order ? pb_text(r->order->status, 64) : NULL;
        if (!st || !*st) {
            rc = h->error(h, BILL_EPLUGIN, "upstream %s: answer without a valid order status",
                          M_GET_ORDER);
            goto done;
        }
        if (!(ostatus = strdup(st))) {
            rc = h->error(h, BILL_ENOMEM, "out of memory");
            goto done;
        }
        pb_answer_free(&ans);
    }
    if ((rc = find_instance(c, id, &istatus, &ip, NULL)) < 0)
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
    out->ip_address = ip;
    ip = NULL;
    out->provider_instance_id = h->strdup(id);
    rc = BILL_PLUGIN_OK;
done:
    pb_answer_free(&ans);
    free(ostatus);
    free(istatus);
    free(ip);
    return rc;
}

/* start/stop/reboot/terminate: the upstream InstanceService method of the
 * same meaning, on the instance of our upstream order `id`. Anything else
 * (suspend, unsuspend, change_plan) has no customer RPC upstream. */
static int rb_action(void *instance, const char *id, const char *action)
{
    rb *c = instance;
    const bill_plugin_host *h = c->host;
    static const struct {
        const char *action, *method;
        const ProtobufCMessageDescriptor *resp;
    } map[] = {
        {"start", "rustbill.instance.InstanceService/StartInstance",
         &rustbill__instance__start_instance_response__descriptor},
        {"stop", "rustbill.instance.InstanceService/StopInstance",
         &rustbill__instance__stop_instance_response__descriptor},
        {"reboot", "rustbill.instance.InstanceService/RestartInstance",
         &rustbill__instance__restart_instance_response__descriptor},
        {"terminate", "rustbill.instance.InstanceService/TerminateInstance",
         &rustbill__instance__terminate_instance_response__descriptor},
    };
    size_t k = 0;
    char *status = NULL, *ip = NULL, *iid = NULL;
    pb_answer ans = {0};
    /* Start/Stop/Restart/TerminateInstanceRequest are all { 1 id }. */
    Rustbill__Instance__StartInstanceRequest q = RUSTBILL__INSTANCE__START_INSTANCE_REQUEST__INIT;
    int rc;

    while (k < sizeof map / sizeof map[0] && (!action || strcmp(map[k].action, action) != 0))
        k++;
    if (k == sizeof map / sizeof map[0])
        return h->error(h, BILL_EUNSUPPORTED,
                        "action \"%s\" is not supported: the upstream RustBill customer API has "
                        "start, stop, reboot and terminate only (ask the upstream provider)",
                        action ? action : "");
    if (!id || !*id || !pu_text_ok(id, strlen(id)))
        return h->error(h, BILL_EINVALID, "provider instance id (the upstream order id) is empty or "
                        "not printable");
    if ((rc = find_instance(c, id, &status, &ip, &iid)) < 0)
        goto done;
    if (!iid) {
        rc = h->error(h, BILL_ENOTFOUND, "upstream order %s has no instance yet: cannot %s it", id,
                      action);
        goto done;
    }
    q.id = iid;
    rc = call(c, map[k].method, &q.base, map[k].resp, &ans);
done:
    pb_answer_free(&ans);
    free(status);
    free(ip);
    free(iid);
    return rc < 0 ? rc : BILL_PLUGIN_OK;
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

/* One SpecField -> {"name","label","type","required","options","min","max","default"};
 * NULL when one of its strings is not text. */
static json_object *spec_field(const Rustbill__Product__SpecField *f)
{
    const char *name = pb_text(f->key, PB_TEXT_MAX), *label = pb_text(f->label, PB_TEXT_MAX),
               *type = pb_text(f->field_type, 64), *dflt = pb_text(f->default_value, PB_TEXT_MAX);
    json_object *o, *opts;

    if (!name || !label || !type || !dflt)
        return NULL;
    o = json_object_new_object();
    opts = json_object_new_array();
    json_object_object_add(o, "name", json_object_new_string(name));
    json_object_object_add(o, "label", json_object_new_string(label));
    json_object_object_add(o, "type", json_object_new_string(type));
    json_object_object_add(o, "required", json_object_new_boolean(f->required));
    for (size_t i = 0; i < f->n_options; i++) {
        const char *opt = pb_text(f->options[i], PB_TEXT_MAX);
        if (!opt) {
            json_object_put(opts);
            json_object_put(o);
            return NULL;
        }
        json_object_array_add(opts, json_object_new_string(opt));
    }
    if (f->min)
        json_object_object_add(o, "min", json_object_new_int64(f->min));
    if (f->max)
        json_object_object_add(o, "max", json_object_new_int64(f->max));
    if (*dflt)
        json_object_object_add(o, "default", json_object_new_string(dflt));
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
    Rustbill__Integration__ListProvidersRequest q = RUSTBILL__INTEGRATION__LIST_PROVIDERS_REQUEST__INIT;
    const Rustbill__Integration__ListProvidersResponse *r;
    pb_answer ans = {0};
    json_object *t = json_object_new_object(), *fields = json_object_new_array();
    int rc;

    if ((rc = call(c, M_LIST_PROVIDERS, &q.base,
                   &rustbill__integration__list_providers_response__descriptor, &ans)) < 0)
        goto done;
    r = (const Rustbill__Integration__ListProvidersResponse *)ans.msg;
    /* The first provider with a non-empty template. */
    for (size_t i = 0; i < r->n_providers && json_object_array_length(fields) == 0; i++) {
        const Rustbill__Product__SpecTemplate *st = r->providers[i]->spec_template;
        for (size_t k = 0; st && k < st->n_fields; k++) {
            json_object *f = spec_field(st->fields[k]);
            if (!f) {
                rc = bad_field(c, M_LIST_PROVIDERS, "a spec field");
                goto done;
            }
            json_object_array_add(fields, f);
        }
    }
    json_object_object_add(t, "fields", fields);
    fields = NULL;
    *json_out = h->strdup(json_object_to_json_string_ext(t, JSON_C_TO_STRING_PLAIN));
    rc = *json_out ? BILL_PLUGIN_OK : h->error(h, BILL_ENOMEM, "out of memory");
done:
    pb_answer_free(&ans);
    json_object_put(fields);
    json_object_put(t);
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
