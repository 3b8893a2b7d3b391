/*
 * yipay.c — gateway-yipay (易支付, the "epay" form protocol many Chinese
 * payment aggregators speak).
 *
 * create_payment builds the cashier URL the payer is redirected to:
 *     <api_url>/submit.php?pid=..&type=..&out_trade_no=<payment id>
 *         &notify_url=<public_base>/callback/yipay/<interface_id>
 *         &return_url=..&name=..&money=12.50&sign=..&sign_type=MD5
 * sign = lowercase hex MD5( k1=v1&k2=v2...  + key ) over every non-empty
 * parameter except sign and sign_type, keys sorted ascending, values raw
 * (not URL-encoded), the merchant key appended with no separator.
 *
 * handle_callback takes the platform's notification (GET query or POST
 * form), checks pid and the sign (constant time) and reports
 * trade_status=TRADE_SUCCESS as succeeded with the amount the platform
 * says. It answers "success" for a valid notification and "fail" for
 * anything else; the platform retries until it reads "success". Whether the
 * amount matches our payment and whether it was credited already is the
 * host's job (bill_payment_confirm locks the payment row), which is what
 * makes replayed or concurrent notifications credit exactly once.
 *
 * Config: {"api_url", "pid", "key" (secret), "public_base", "interface_id"?,
 *          "type"? ("alipay"), "return_url"?}. When the host passes a
 * notify_url in the request it wins over the composed one.
 */
#include <bill/plugin.h>

#include "pu.h"

#include <ctype.h>
#include <stddef.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct yp {
    const bill_plugin_host *host;
    char *api_url, *pid, *key, *public_base, *interface_id, *type, *return_url;
} yp;

typedef struct kv {
    char *k, *v;
} kv;

typedef struct params {
    kv *items;
    size_t n, cap;
} params;

static void params_free(params *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].k);
        free(p->items[i].v);
    }
    free(p->items);
    memset(p, 0, sizeof *p);
}

static int params_add(params *p, const char *k, const char *v)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        kv *ni = realloc(p->items, cap * sizeof *ni);
        if (!ni)
            return -1;
        p->items = ni;
        p->cap = cap;
    }
    p->items[p->n].k = strdup(k);
    p->items[p->n].v = strdup(v ? v : "");
    if (!p->items[p->n].k || !p->items[p->n].v) {
        free(p->items[p->n].k);
        free(p->items[p->n].v);
        return -1;
    }
    p->n++;
    return 0;
}

static const char *params_get(const params *p, const char *k)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->items[i].k, k) == 0)
            return p->items[i].v;
    return NULL;
}

static int kv_cmp(const void *a, const void *b)
{
    return strcmp(((const kv *)a)->k, ((const kv *)b)->k);
}

/* The Yipay signature over p (sorted in place). out: 32 hex + NUL. */
static int yp_sign(const yp *y, params *p, char out[33])
{
    size_t len = strlen(y->key) + 1;
    char *text, *w;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    qsort(p->items, p->n, sizeof *p->items, kv_cmp);
    for (size_t i = 0; i < p->n; i++)
        len += strlen(p->items[i].k) + strlen(p->items[i].v) + 2;
    if (!(text = malloc(len)))
        return -1;
    w = text;
    for (size_t i = 0; i < p->n; i++) {
        const kv *e = &p->items[i];
        if (!e->v[0] || strcmp(e->k, "sign") == 0 || strcmp(e->k, "sign_type") == 0)
            continue;
        w += sprintf(w, "%s%s=%s", w == text ? "" : "&", e->k, e->v);
    }
    strcpy(w, y->key);
    if (!EVP_Digest(text, strlen(text), md, &mdlen, EVP_md5(), NULL) || mdlen != 16) {
        free(text);
        return -1;
    }
    free(text);
    for (unsigned i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

static void url_encode_to(char **w, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (isalnum(*c) || *c == '-' || *c == '_' || *c == '.' || *c == '~') {
            *(*w)++ = (char)*c;
        } else {
            *(*w)++ = '%';
            *(*w)++ = hex[*c >> 4];
            *(*w)++ = hex[*c & 15];
        }
    }
}

static int hexval(int c)
{
    return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
}

/* Decode one form component in place ("+" is a space). -1 when it decodes
 * to a NUL byte (%00), which no C string downstream could carry. */
static int url_decode(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r == '+') {
            *w++ = ' ';
        } else if (*r == '%' && hexval((unsigned char)r[1]) >= 0 &&
                   hexval((unsigned char)r[2]) >= 0) {
            *w = (char)(hexval((unsigned char)r[1]) * 16 + hexval((unsigned char)r[2]));
            if (!*w++)
                return -1;
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return 0;
}

/* A real notification is a dozen short parameters; anything far beyond that
 * is not one, and the duplicate check below is quadratic. */
#define YP_FORM_MAX (32u * 1024u)
#define YP_PARAMS_MAX 64u

/* Add the parameters of one form (query string or body, len bytes, not
 * necessarily NUL-terminated) to out. 0; -1 out of memory; -2 malformed,
 * *why saying how. */
static int parse_form(const char *text, size_t len, params *out, const char **why)
{
    char *copy, *save = NULL;
    int rc = 0;

    if (len > YP_FORM_MAX) {
        *why = "is longer than 32 KiB";
        return -2;
    }
    if (memchr(text, '\0', len)) {
        *why = "contains a NUL byte";
        return -2;
    }
    if (!(copy = malloc(len + 1)))
        return -1;
    memcpy(copy, text, len);
    copy[len] = '\0';
    for (char *tok = strtok_r(copy, "&", &save); tok; tok = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(tok, '=');
        /* "a" without '=' is the key "a" with an empty value; the value then
         * points at the key's own terminator, writable like everything in
         * copy (never at a string literal: url_decode writes). */
        char *v = eq ? eq + 1 : tok + strlen(tok);
        if (eq)
            *eq = '\0';
        if (url_decode(tok) < 0 || url_decode(v) < 0) {
            *why = "decodes to a NUL byte (%00)";
            rc = -2;
            break;
        }
        if (params_get(out, tok))
            continue; /* first wins: a duplicated key must not replace a signed one */
        if (out->n >= YP_PARAMS_MAX) {
            *why = "has more than 64 parameters";
            rc = -2;
            break;
        }
        if (params_add(out, tok, v) < 0) {
            rc = -1;
            break;
        }
    }
    free(copy);
    return rc;
}

/* An id the gateway sends back (our payment id, its trade number): stored
 * and logged, so printable UTF-8 of sane length. */
static bool id_ok(const char *s)
{
    size_t n = strlen(s);
    return n <= 128 && pu_text_ok(s, n);
}

/* "12.50" -> 1250. Exactly digits with an optional '.' and 1-2 decimals. */
static int parse_money(const char *s, int64_t *cents)
{
    int64_t whole = 0, frac = 0;
    int fd = 0;
    const char *c = s;
    if (!s || !isdigit((unsigned char)*c))
        return -1;
    for (; isdigit((unsigned char)*c); c++) {
        if (whole > 100000000000LL)
            return -1;
        whole = whole * 10 + (*c - '0');
    }
    if (*c == '.') {
        for (c++; isdigit((unsigned char)*c) && fd < 2; c++, fd++)
            frac = frac * 10 + (*c - '0');
        if (fd == 0)
            return -1;
        if (fd == 1)
            frac *= 10;
    }
    if (*c)
        return -1;
    *cents = whole * 100 + frac;
    return 0;
}

static bool ct_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = (unsigned char)(la != lb);
    for (size_t i = 0; i < la && i < lb; i++)
        d |= (unsigned char)(tolower((unsigned char)a[i]) ^ tolower((unsigned char)b[i]));
    return d == 0;
}

static void yp_destroy(void *instance)
{
    yp *y = instance;
    if (!y)
        return;
    free(y->api_url);
    free(y->pid);
    if (y->key) {
        volatile char *s = y->key;
        while (*s)
            *s++ = 0;
        free(y->key);
    }
    free(y->public_base);
    free(y->interface_id);
    free(y->type);
    free(y->return_url);
    free(y);
}

/* String member k copied into *out (dflt when absent; pid may also be a
 * JSON integer, as merchants often write it). -1 when present with another
 * type; *out NULL and -2 when out of memory. */
static int cfg_str(json_object *cfg, const char *k, const char *dflt, bool trim_slash, char **out)
{
    const char *v;
    json_object *i = strcmp(k, "pid") == 0 ? pu_json_get(cfg, k, json_type_int) : NULL;
    *out = NULL;
    if (i)
        v = json_object_get_string(i);
    else if (pu_json_opt_str(cfg, k, dflt, &v) < 0)
        return -1;
    if (!(*out = strdup(v)))
        return -2;
    if (trim_slash) {
        size_t n = strlen(*out);
        while (n && (*out)[n - 1] == '/')
            (*out)[--n] = '\0';
    }
    return 0;
}

static int yp_init(const bill_plugin_host *host, const char *config_json, void **instance)
{
    json_object *cfg = NULL;
    yp *y = NULL;
    void *mem;
    int rc = BILL_PLUGIN_OK;
    struct {
        const char *key, *dflt;
        bool trim;
        size_t off;
    } fields[] = {
        {"api_url", "", true, offsetof(yp, api_url)},
        {"pid", "", false, offsetof(yp, pid)},
        {"key", "", false, offsetof(yp, key)},
        {"public_base", "", true, offsetof(yp, public_base)},
        {"interface_id", "", false, offsetof(yp, interface_id)},
        {"type", "alipay", false, offsetof(yp, type)},
        {"return_url", "", false, offsetof(yp, return_url)},
    };

    if ((rc = pu_init_begin(host, config_json, sizeof *y, &cfg, &mem)) != BILL_PLUGIN_OK)
        goto done;
    y = mem;
    y->host = host;
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        char **dst = (char **)((char *)y + fields[i].off);
        int r = cfg_str(cfg, fields[i].key, fields[i].dflt, fields[i].trim, dst);
        if (r == -1) {
            rc = host->error(host, BILL_EINVALID, "%s must be a string", fields[i].key);
            goto done;
        }
        if (r < 0) {
            rc = host->error(host, BILL_ENOMEM, "out of memory");
            goto done;
        }
        if (!pu_text_ok(*dst, strlen(*dst))) {
            rc = host->error(host, BILL_EINVALID, "%s contains a control character or invalid "
                             "UTF-8", fields[i].key);
            goto done;
        }
    }
    if (strncmp(y->api_url, "http://", 7) != 0 && strncmp(y->api_url, "https://", 8) != 0) {
        rc = host->error(host, BILL_EINVALID, "api_url \"%s\" must be an http(s) URL", y->api_url);
        goto done;
    }
    if (!y->pid[0] || !y->key[0]) {
        rc = host->error(host, BILL_EINVALID, "pid and key are required");
        goto done;
    }
    *instance = y;
    y = NULL;
done:
    yp_destroy(y);
    json_object_put(cfg);
    return rc;
}

static int yp_create_payment(void *instance, const bill_gateway_payment_request *req,
                             bill_gateway_payment_info *out)
{
    yp *y = instance;
    const bill_plugin_host *h = y->host;
    params p = {0};
    char money[32], sign[33], *notify = NULL, *url = NULL, *w;
    size_t len;
    int rc = BILL_PLUGIN_OK;

    if (!req->payment_id || !req->payment_id[0])
        return h->error(h, BILL_EINVALID, "payment_id is required");
    if (req->amount_cents <= 0)
        return h->error(h, BILL_EINVALID, "amount %lld cents is not payable",
                        (long long)req->amount_cents);
    if (req->notify_url && req->notify_url[0])
        notify = strdup(req->notify_url);
    else if (asprintf(&notify, "%s/callback/yipay/%s", y->public_base,
                      y->interface_id[0] ? y->interface_id : y->pid) < 0)
        notify = NULL;
    snprintf(money, sizeof money, "%lld.%02lld", (long long)(req->amount_cents / 100),
             (long long)(req->amount_cents % 100));
    if (!notify || params_add(&p, "pid", y->pid) < 0 || params_add(&p, "type", y->type) < 0 ||
        params_add(&p, "out_trade_no", req->payment_id) < 0 ||
        params_add(&p, "notify_url", notify) < 0 ||
        params_add(&p, "return_url", req->return_url && req->return_url[0] ? req->return_url
                                                                           : y->return_url) < 0 ||
        params_add(&p, "name", req->subject && req->subject[0] ? req->subject : "order") < 0 ||
        params_add(&p, "money", money) < 0 || yp_sign(y, &p, sign) < 0 ||
        params_add(&p, "sign", sign) < 0 || params_add(&p, "sign_type", "MD5") < 0) {
        rc = h->error(h, BILL_ENOMEM, "out of memory building the payment URL");
        goto done;
    }
    len = strlen(y->api_url) + 16;
    for (size_t i = 0; i < p.n; i++)
        len += strlen(p.items[i].k) + 3 * strlen(p.items[i].v) + 2;
    if (!(url = malloc(len))) {
        rc = h->error(h, BILL_ENOMEM, "out of memory building the payment URL");
        goto done;
    }
    w = url + sprintf(url, "%s/submit.php?", y->api_url);
    for (size_t i = 0; i < p.n; i++) {
        if (!p.items[i].v[0])
            continue; /* empty params are neither signed nor sent */
        if (w[-1] != '?')
            *w++ = '&';
        url_encode_to(&w, p.items[i].k);
        *w++ = '=';
        url_encode_to(&w, p.items[i].v);
    }
    *w = '\0';
    out->payment_url = url;
    url = NULL;
    out->gateway_payment_id = h->strdup(req->payment_id);
    if (!out->gateway_payment_id)
        rc = h->error(h, BILL_ENOMEM, "out of memory");
done:
    free(url);
    free(notify);
    params_free(&p);
    return rc;
}

static int yp_handle_callback(void *instance, const bill_gateway_callback *cb,
                              bill_gateway_callback_result *out)
{
    yp *y = instance;
    const bill_plugin_host *h = y->host;
    params p = {0};
    char want[33];
    const char *sign, *pid, *status, *money, *trade_no, *out_no, *why = "", *form = "body";
    int64_t cents = 0;
    int rc = BILL_PLUGIN_OK, prc = 0;

    out->verified = false;
    /* POST form first (the real platforms use GET, some proxies POST). */
    if (cb->body && cb->body_len > 0 &&
        (prc = parse_form(cb->body, cb->body_len, &p, &why)) < 0)
        goto malformed;
    if (cb->query && cb->query[0] &&
        (prc = parse_form(cb->query, strlen(cb->query), &p, &why)) < 0) {
        form = "query string";
        goto malformed;
    }
    sign = params_get(&p, "sign");
    pid = params_get(&p, "pid");
    status = params_get(&p, "trade_status");
    money = params_get(&p, "money");
    trade_no = params_get(&p, "trade_no");
    out_no = params_get(&p, "out_trade_no");
    if (!sign || !pid || !out_no || !out_no[0]) {
        h->log(h, BILL_PLUGIN_LOG_WARN, "notification without sign/pid/out_trade_no refused");
        goto answer;
    }
    if (strcmp(pid, y->pid) != 0) {
        h->log(h, BILL_PLUGIN_LOG_WARN, "notification for merchant %s refused (we are %s)", pid,
               y->pid);
        goto answer;
    }
    if (yp_sign(y, &p, want) < 0)
        goto oom;
    if (!ct_equal(want, sign)) {
        h->log(h, BILL_PLUGIN_LOG_WARN, "notification for %s has a bad sign; refused", out_no);
        goto answer;
    }
    if (parse_money(money, &cents) < 0) {
        h->log(h, BILL_PLUGIN_LOG_WARN, "notification for %s has a bad money \"%s\"", out_no,
               money ? money : "");
        goto answer;
    }
    if (!id_ok(out_no) || (trade_no && !id_ok(trade_no))) {
        rc = h->error(h, BILL_EINVALID, "signed notification: out_trade_no or trade_no is not "
                      "printable UTF-8 of at most 128 bytes");
        goto done;
    }
    out->verified = true;
    out->amount_cents = cents;
    out->status = status && strcmp(status, "TRADE_SUCCESS") == 0 ? BILL_GATEWAY_SUCCEEDED
                                                                 : BILL_GATEWAY_PENDING;
    out->gateway_payment_id = h->strdup(out_no);
    out->gateway_tx_id = h->strdup(trade_no ? trade_no : "");
    if (!out->gateway_payment_id || !out->gateway_tx_id)
        goto oom;
answer:
    out->response_body = h->strdup(out->verified && out->status == BILL_GATEWAY_SUCCEEDED
                                       ? "success" : "fail");
    out->response_content_type = h->strdup("text/plain");
    if (!out->response_body || !out->response_content_type)
        goto oom;
    goto done;
malformed:
    if (prc == -2) {
        rc = h->error(h, BILL_EINVALID, "notification %s %s", form, why);
        goto done;
    }
oom:
    rc = h->error(h, BILL_ENOMEM, "out of memory reading a notification");
done:
    params_free(&p);
    return rc;
}

static const bill_plugin_gateway yp_fns = {
    .version = BILL_PLUGIN_GATEWAY_VERSION,
    .create_payment = yp_create_payment,
    .handle_callback = yp_handle_callback,
};

static const bill_plugin_descriptor yp_desc = {
    .abi_version = BILL_PLUGIN_ABI_VERSION,
    .kind = BILL_PLUGIN_GATEWAY,
    .id = "gateway-yipay",
    .name = "易支付 (Yipay / epay)",
    .version = "1.0.0",
    .config_schema =
        "{\"type\":\"object\",\"required\":[\"api_url\",\"pid\",\"key\",\"public_base\"],"
        "\"additionalProperties\":false,\"properties\":{"
        "\"api_url\":{\"type\":\"string\"},\"pid\":{\"type\":\"string\"},"
        "\"key\":{\"type\":\"string\",\"format\":\"secret\"},"
        "\"public_base\":{\"type\":\"string\"},\"interface_id\":{\"type\":\"string\"},"
        "\"type\":{\"type\":\"string\",\"enum\":[\"alipay\",\"wxpay\",\"qqpay\",\"bank\"]},"
        "\"return_url\":{\"type\":\"string\"}}}",
    .init = yp_init,
    .destroy = yp_destroy,
    .health = NULL,
    .functions = &yp_fns,
};

BILL_PLUGIN_EXPORT const bill_plugin_descriptor *bill_plugin_entry(void)
{
    return &yp_desc;
}
