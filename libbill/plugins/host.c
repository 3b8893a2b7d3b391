/*
 * host.c — the services table libbill hands to every plugin (plugin.h
 * bill_plugin_host): logging, error detail, outgoing HTTP through libcurl
 * and the per-host circuit breaker, HMAC-SHA-256, the host clock.
 *
 * Error detail travels through a thread-local slot: a plugin calls
 * host->error() just before returning a failure on the same thread, and the
 * host wrapper (bill__plugin_fail) turns it into the caller's bill_error.
 */
#include "plugins_internal.h"
#include "bill/time.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RESPONSE_BYTES (8u * 1024u * 1024u)

static _Thread_local char plg_msg[512];

/* Length of the well-formed UTF-8 sequence at s (at most n bytes), 0 when
 * there is none (bad lead byte, overlong, surrogate, > U+10FFFF, cut). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t cp;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        len = 2, cp = s[0] & 0x1Fu;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        len = 3, cp = s[0] & 0x0Fu;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        len = 4, cp = s[0] & 0x07u;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[k] & 0x3Fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

bool bill__plugin_text_ok(const char *s, size_t max_bytes)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = s ? strlen(s) : 0;
    if (!s || n > max_bytes)
        return false;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq(u + i, n - i);
        if (!l || u[i] < 0x20 || u[i] == 0x7f)
            return false;
        i += l;
    }
    return true;
}

void bill__plugin_text_sanitize(char *s, bool keep_lines)
{
    unsigned char *u = (unsigned char *)s;
    size_t n = s ? strlen(s) : 0;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq(u + i, n - i);
        if (!l) {
            u[i++] = '?';
        } else {
            if ((u[i] < 0x20 || u[i] == 0x7f) && !(keep_lines && (u[i] == '\n' || u[i] == '\t')))
                u[i] = ' ';
            i += l;
        }
    }
}

void bill__plugin_err_reset(void)
{
    plg_msg[0] = '\0';
}

static const char *module_of(const bill_plugin_host *h, char *buf, size_t n)
{
    (void)h;
    snprintf(buf, n, "%s", BILL__PLG_MODULE "::call");
    return buf;
}

static void host_log(const bill_plugin_host *h, bill_plugin_log_level level, const char *fmt, ...)
    BILL_PRINTF(3, 4);
static void host_log(const bill_plugin_host *h, bill_plugin_log_level level, const char *fmt, ...)
{
    char mod[64];
    int lvl = level < BILL_PLUGIN_LOG_ERROR ? BILL_LOG_LEVEL_ERROR
              : level > BILL_PLUGIN_LOG_DEBUG ? BILL_LOG_LEVEL_DEBUG
                                              : (int)level;
    va_list ap;
    module_of(h, mod, sizeof mod);
    if (!bill_log_enabled(lvl, mod))
        return;
    va_start(ap, fmt);
    bill_logv(lvl, mod, fmt, ap);
    va_end(ap);
}

static int host_error(const bill_plugin_host *h, int code, const char *fmt, ...) BILL_PRINTF(3, 4);
static int host_error(const bill_plugin_host *h, int code, const char *fmt, ...)
{
    va_list ap;
    (void)h;
    va_start(ap, fmt);
    vsnprintf(plg_msg, sizeof plg_msg, fmt, ap);
    va_end(ap);
    /* The detail often quotes what a peer said; it goes on into errors,
     * gRPC status messages and database columns: valid UTF-8 text only. */
    bill__plugin_text_sanitize(plg_msg, false);
    return code;
}

int bill__plugin_fail(const bill_plugin_instance *inst, const char *what, int rc)
{
    const char *kind = bill_plugin_kind_name(inst->gen->info.kind);
    const char *id = inst->gen->info.id;
    int code = rc;

    /* A plugin may only speak the codes of error.h; anything else (positive
     * numbers, random negatives) is itself a plugin fault. */
    if (rc >= 0 || strcmp(bill_strerror(rc), "unknown error") == 0) {
        code = bill__err(BILL_EPLUGIN, "plugin", "%s %s: %s returned invalid status %d", kind,
                         id, what, rc);
        bill__plugin_err_reset();
        return code;
    }
    code = bill__err(code, "plugin", "%s %s: %s failed: %s", kind, id, what,
                     plg_msg[0] ? plg_msg : bill_strerror(rc));
    bill__plugin_err_reset();
    return code;
}

static int64_t host_now(const bill_plugin_host *h)
{
    (void)h;
    return bill_time_now();
}

static void host_hmac(const void *key, size_t key_len, const void *msg, size_t msg_len,
                      char out[65])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, key_len);
    crypto_auth_hmacsha256_update(&st, msg, msg_len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(out, 65, mac, sizeof mac);
}

static char *host_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* ---- HTTP ---------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *user)
{
    size_t n = size * nmemb;
    return bill__buf_add(user, ptr, n) ? n : 0;
}

static void host_http_response_free(bill_plugin_http_response *r)
{
    if (!r)
        return;
    BILL__FREE(r->body, r->content_type);
    r->body = r->content_type = NULL;
    r->body_len = 0;
}

/* Breaker key: "host:port" of the URL (scheme default port when absent). */
static int breaker_key(const char *url, char *key, size_t n)
{
    int rc = BILL_OK;
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL, *scheme = NULL;

    if (!u)
        return bill__err(BILL_ENOMEM, NULL, "out of memory parsing a URL");
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        rc = bill__err(BILL_EINVALID, "url", "\"%s\" is not a valid URL", url);
        goto done;
    }
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0 &&
        strcmp(scheme, "smtp") != 0 && strcmp(scheme, "smtps") != 0) {
        rc = bill__err(BILL_EINVALID, "url", "URL scheme \"%s\" is not allowed (%s)", scheme, url);
        goto done;
    }
    snprintf(key, n, "%s:%s", host, port);
done:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

int bill__plugin_http_check(const bill_plugin_host *h, const bill_plugin_http_request *req)
{
    if (!req || req->version < 1 || !req->url || !req->method)
        return host_error(h, BILL_EINVALID, "http request needs version, method and url");
    if (strcmp(req->method, "GET") && strcmp(req->method, "POST") && strcmp(req->method, "PUT") &&
        strcmp(req->method, "PATCH") && strcmp(req->method, "DELETE"))
        return host_error(h, BILL_EINVALID, "http method must be GET, POST, PUT, PATCH or DELETE");
    if (!bill__plugin_text_ok(req->url, 8192) || strchr(req->url, ' '))
        return host_error(h, BILL_EINVALID, "http url contains a space, a control character or "
                          "invalid UTF-8, or is longer than 8 KiB");
    for (size_t i = 0; i < req->n_headers; i++) {
        const char *name = req->headers[i].name, *value = req->headers[i].value;
        /* A CR or LF would end the header and start another one. */
        if (!name || !*name || strcspn(name, ":\r\n \t") != strlen(name) ||
            !bill__plugin_text_ok(name, 256) || !value || !bill__plugin_text_ok(value, 8192))
            return host_error(h, BILL_EINVALID, "http header %zu has an empty or invalid name or a "
                              "value with control characters", i);
    }
    return BILL_OK;
}

static int host_http(const bill_plugin_host *h, const bill_plugin_http_request *req,
                     bill_plugin_http_response *resp)
{
    bill_plugins *p = h->host_data;
    int rc = BILL_OK;
    CURL *c = NULL;
    struct curl_slist *hdrs = NULL;
    bill__buf b;
    char key[300], errbuf[CURL_ERROR_SIZE] = "";
    CURLcode cc;
    long status = 0;
    char *ct = NULL;

    memset(resp, 0, sizeof *resp);
    resp->version = 1;
    bill__buf_init(&b, NULL, 0, MAX_RESPONSE_BYTES - 1);
    if ((rc = bill__plugin_http_check(h, req)) < 0)
        return rc;
    if ((rc = breaker_key(req->url, key, sizeof key)) < 0)
        return host_error(h, rc, "%s", bill_error_last()->message);
    if ((rc = bill__breaker_allow(p->breaker, key)) < 0)
        return host_error(h, rc, "circuit breaker for %s is open; not calling %s", key,
                          req->url);
    pthread_once(&curl_once, curl_init_once);
    c = curl_easy_init();
    if (!c) {
        rc = host_error(h, BILL_ENOMEM, "cannot create a curl handle");
        goto done;
    }
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 10000L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "libbill-plugin-host/" "1");
    if (strcmp(req->method, "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    if (req->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)req->body_len);
    }
    for (size_t i = 0; i < req->n_headers; i++) {
        char *line = bill__sprintf("%s: %s", req->headers[i].name, req->headers[i].value);
        struct curl_slist *nl = line ? curl_slist_append(hdrs, line) : NULL;
        free(line);
        if (!nl) {
            rc = host_error(h, BILL_ENOMEM, "out of memory building headers");
            goto done;
        }
        hdrs = nl;
    }
    if (!req->body || req->n_headers) {
        /* libcurl adds "Expect: 100-continue" to big POSTs; peers rarely want it. */
        struct curl_slist *nl = curl_slist_append(hdrs, "Expect:");
        if (nl)
            hdrs = nl;
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (req->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, req->ca_file);
    if (req->client_cert_file)
        curl_easy_setopt(c, CURLOPT_SSLCERT, req->client_cert_file);
    if (req->client_key_file)
        curl_easy_setopt(c, CURLOPT_SSLKEY, req->client_key_file);
    if (req->insecure_skip_verify) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        bill__breaker_report(p->breaker, key, false);
        if (b.too_big)
            rc = host_error(h, BILL_EPLUGIN, "response from %s exceeds %u bytes", key,
                            MAX_RESPONSE_BYTES);
        else
            rc = host_error(h, cc == CURLE_OPERATION_TIMEDOUT ? BILL_ETIMEOUT : BILL_EUNAVAILABLE,
                            "%s %s: %s", req->method, req->url,
                            errbuf[0] ? errbuf : curl_easy_strerror(cc));
        goto done;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    bill__breaker_report(p->breaker, key, status < 500);
    resp->status = status;
    resp->content_type = ct ? strdup(ct) : NULL;
    resp->body_len = b.len;
    if (!(resp->body = bill__buf_steal(&b))) {
        rc = host_error(h, BILL_ENOMEM, "out of memory reading a response");
        host_http_response_free(resp);
    }
done:
    bill__buf_free(&b);
    curl_slist_free_all(hdrs);
    if (c)
        curl_easy_cleanup(c);
    return rc;
}

void bill__plugin_host_init(bill_plugins *p)
{
    bill_plugin_host *h = &p->host;
    memset(h, 0, sizeof *h);
    h->version = BILL_PLUGIN_HOST_VERSION;
    h->host_data = p;
    h->log = host_log;
    h->error = host_error;
    h->http = host_http;
    h->http_response_free = host_http_response_free;
    h->now_usec = host_now;
    h->hmac_sha256_hex = host_hmac;
    h->strdup = host_strdup;
}
