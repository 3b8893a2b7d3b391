/*
 * fuzz_plugin_yipay.c — gateway-yipay (易支付) through the real host: the
 * notification a gateway (or anybody: the callback URL is public) sends.
 * Byte 0 picks the case:
 *   0  interface config (schema check + the plugin's own init);
 *   1  GET notification: record = query string;
 *   2  POST notification: record = body (any bytes, body_len), record =
 *      query string;
 *   3  a correctly signed notification: the rest is (key, value) record
 *      pairs, URL-encoded and signed here with the merchant key the way the
 *      platform signs, so the fuzzer gets past the signature check into the
 *      plugin's field handling (money, ids, status) — sent as the query
 *      string or the body by the next byte;
 *   4  create_payment: records for payment id, subject, return URL, notify
 *      URL; 8 bytes of amount.
 * Checked: no crash, no leak; a verified result has a non-negative amount
 * and printable ids; a payment URL is the cashier URL without spaces.
 */
#include "plugin_fuzz.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY "k3y-ABC"
#define CONFIG "{\"api_url\":\"https://pay.example.com/\",\"pid\":\"1001\",\"key\":\"" KEY "\"," \
               "\"public_base\":\"https://bill.example.com\"}"

typedef struct kv {
    char *k, *v;
} kv;

static int kv_cmp(const void *a, const void *b)
{
    return strcmp(((const kv *)a)->k, ((const kv *)b)->k);
}

static void url_encode(char **w, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        *(*w)++ = '%';
        *(*w)++ = hex[*c >> 4];
        *(*w)++ = hex[*c & 15];
    }
}

/* The platform's side: sign the pairs (sorted, non-empty, not sign or
 * sign_type, key appended) and encode everything as a form. */
static char *signed_form(kv *p, size_t n)
{
    size_t len = strlen(KEY) + 1, flen = 64;
    char *text, *w, *form, *f, hexsig[33];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    qsort(p, n, sizeof *p, kv_cmp);
    for (size_t i = 0; i < n; i++) {
        len += strlen(p[i].k) + strlen(p[i].v) + 2;
        flen += 3 * (strlen(p[i].k) + strlen(p[i].v)) + 2;
    }
    if (!(text = malloc(len)) || !(form = malloc(flen)))
        abort();
    w = text;
    for (size_t i = 0; i < n; i++) {
        if (!p[i].v[0] || !strcmp(p[i].k, "sign") || !strcmp(p[i].k, "sign_type"))
            continue;
        w += sprintf(w, "%s%s=%s", w == text ? "" : "&", p[i].k, p[i].v);
    }
    strcpy(w, KEY);
    if (!EVP_Digest(text, strlen(text), md, &mdlen, EVP_md5(), NULL))
        abort();
    for (unsigned i = 0; i < 16; i++)
        snprintf(hexsig + 2 * i, 3, "%02x", md[i]);
    f = form;
    for (size_t i = 0; i < n; i++) {
        url_encode(&f, p[i].k);
        *f++ = '=';
        url_encode(&f, p[i].v);
        *f++ = '&';
    }
    f += sprintf(f, "sign=%s&sign_type=MD5", hexsig);
    free(text);
    return form;
}

static void callback(bill_plugin_instance *inst, const char *method, const char *query,
                     const char *body, size_t body_len)
{
    bill_gateway_callback cb = {
        .version = BILL_GATEWAY_CALLBACK_VERSION,
        .method = method,
        .query = query,
        .body = body,
        .body_len = body_len,
        .content_type = "application/x-www-form-urlencoded",
    };
    bill_gateway_callback_result r;
    if (bill_plugin_gateway_handle_callback(inst, &cb, &r) == BILL_OK) {
        if (r.verified && (r.amount_cents < 0 || !r.gateway_payment_id))
            abort();
        pf_assert_text(r.gateway_payment_id);
        pf_assert_text(r.gateway_tx_id);
        pf_assert_text(r.response_content_type);
        bill_gateway_callback_result_clear(&r);
    }
}

static void run(bill_plugin_instance *inst, unsigned op)
{
    if (op == 1) {
        char *q = pf_str();
        callback(inst, "GET", q, "", 0);
        free(q);
    } else if (op == 2) {
        size_t n;
        const uint8_t *b = pf_rec(&n);
        char *body = malloc(n + 1), *q;
        if (!body)
            abort();
        memcpy(body, b, n);
        body[n] = '\0'; /* callback.c hands the plugin a terminated body */
        q = pf_str();
        callback(inst, "POST", q, body, n);
        free(q);
        free(body);
    } else if (op == 3) {
        bool in_body = pf_u8() & 1;
        kv p[32];
        size_t n = 0;
        while (pf_left() && n < 32) {
            p[n].k = pf_str();
            p[n].v = pf_str();
            n++;
        }
        char *form = signed_form(p, n);
        callback(inst, in_body ? "POST" : "GET", in_body ? "" : form, in_body ? form : "",
                 in_body ? strlen(form) : 0);
        free(form);
        for (size_t i = 0; i < n; i++) {
            free(p[i].k);
            free(p[i].v);
        }
    } else {
        char *id = pf_str(), *subject = pf_str(), *ret = pf_str(), *notify = pf_str();
        int64_t amount = pf_i64();
        bill_gateway_payment_request req = {
            .version = BILL_GATEWAY_PAYMENT_REQUEST_VERSION,
            .payment_id = id,
            .amount_cents = amount,
            .currency = "CNY",
            .subject = subject,
            .return_url = ret,
            .notify_url = notify,
        };
        bill_gateway_payment_info info;
        if (bill_plugin_gateway_create_payment(inst, &req, &info) == BILL_OK) {
            if (!info.payment_url ||
                strncmp(info.payment_url, "https://pay.example.com/submit.php?", 35) != 0 ||
                strchr(info.payment_url, ' '))
                abort();
            bill_gateway_payment_info_clear(&info);
        }
        free(id);
        free(subject);
        free(ret);
        free(notify);
    }
}

PF_TARGET(CONFIG, 5, run)
