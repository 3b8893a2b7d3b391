/*
 * email.c — notifier-email: each notification is one plain-text e-mail sent
 * over SMTP with libcurl (smtp:// with optional or required STARTTLS,
 * smtps:// for implicit TLS, optional AUTH).
 *
 * The host's HTTP service is http/https only, so this plugin links libcurl
 * itself (plugin.h: anything beyond the host table a plugin links itself);
 * the circuit breaker does not cover it — the events queue's backoff does
 * the pacing for a dead mail server.
 *
 * Config: {"url" ("smtp://host:587"), "from" (required), "to"? (default
 * recipient when a notification names none), "username"?, "password"
 * (secret), "starttls"? ("try" default | "required" | "none"),
 * "ca_file"?, "insecure_skip_verify"?, "timeout"? (seconds, default 30)}.
 *
 * Header values are stripped of CR/LF (no header injection through a
 * subject) and a non-ASCII subject is RFC 2047 encoded.
 */
#include <bill/plugin.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

typedef struct em {
    const bill_plugin_host *host;
    char *url, *from, *to, *user, *password, *starttls, *ca_file;
    bool insecure;
    long timeout_s;
} em;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void wipe_free(char *s)
{
    if (!s)
        return;
    for (volatile char *p = s; *p; p++)
        *p = 0;
    free(s);
}

static void em_destroy(void *instance)
{
    em *e = instance;
    if (!e)
        return;
    free(e->url);
    free(e->from);
    free(e->to);
    free(e->user);
    wipe_free(e->password);
    free(e->starttls);
    free(e->ca_file);
    free(e);
}

static char *cfg_str(json_object *cfg, const char *k, const char *dflt)
{
    json_object *v;
    if (json_object_object_get_ex(cfg, k, &v) && json_object_is_type(v, json_type_string))
        return strdup(json_object_get_string(v));
    return dflt ? strdup(dflt) : NULL;
}

/* Address-ish check: one '@', no spaces, no CR/LF, no angle brackets. */
static bool addr_ok(const char *a)
{
    const char *at = a ? strchr(a, '@') : NULL;
    if (!at || at == a || !at[1] || strchr(at + 1, '@'))
        return false;
    for (const char *s = a; *s; s++)
        if (*s == ' ' || *s == '\r' || *s == '\n' || *s == '<' || *s == '>' || *s == ',')
            return false;
    return strlen(a) <= 254;
}

static int em_init(const bill_plugin_host *host, const char *config_json, void **instance)
{
    json_object *cfg = json_tokener_parse(config_json ? config_json : ""), *v;
    em *e = NULL;
    int rc = BILL_PLUGIN_OK;

    if (!cfg || !json_object_is_type(cfg, json_type_object)) {
        rc = host->error(host, BILL_EINVALID, "config is not a JSON object");
        goto done;
    }
    if (!(e = calloc(1, sizeof *e))) {
        rc = host->error(host, BILL_ENOMEM, "out of memory");
        goto done;
    }
    e->host = host;
    e->url = cfg_str(cfg, "url", "");
    e->from = cfg_str(cfg, "from", "");
    e->to = cfg_str(cfg, "to", "");
    e->user = cfg_str(cfg, "username", "");
    e->password = cfg_str(cfg, "password", "");
    e->starttls = cfg_str(cfg, "starttls", "try");
    e->ca_file = cfg_str(cfg, "ca_file", NULL);
    e->insecure = json_object_object_get_ex(cfg, "insecure_skip_verify", &v) &&
                  json_object_get_boolean(v);
    e->timeout_s = json_object_object_get_ex(cfg, "timeout", &v) ? json_object_get_int(v) : 30;
    if (!e->url || !e->from || !e->to || !e->user || !e->password || !e->starttls) {
        rc = host->error(host, BILL_ENOMEM, "out of memory");
        goto done;
    }
    if (strncmp(e->url, "smtp://", 7) != 0 && strncmp(e->url, "smtps://", 8) != 0) {
        rc = host->error(host, BILL_EINVALID, "url \"%s\" must be smtp:// or smtps://", e->url);
        goto done;
    }
    if (!addr_ok(e->from)) {
        rc = host->error(host, BILL_EINVALID, "from \"%s\" is not an e-mail address", e->from);
        goto done;
    }
    if (e->to[0] && !addr_ok(e->to)) {
        rc = host->error(host, BILL_EINVALID, "to \"%s\" is not an e-mail address", e->to);
        goto done;
    }
    if (strcmp(e->starttls, "try") != 0 && strcmp(e->starttls, "required") != 0 &&
        strcmp(e->starttls, "none") != 0) {
        rc = host->error(host, BILL_EINVALID, "starttls must be try, required or none");
        goto done;
    }
    if (e->timeout_s < 1 || e->timeout_s > 300) {
        rc = host->error(host, BILL_EINVALID, "timeout must be 1..300 seconds");
        goto done;
    }
    pthread_once(&curl_once, curl_init_once);
    *instance = e;
    e = NULL;
done:
    em_destroy(e);
    json_object_put(cfg);
    return rc;
}

typedef struct msgbuf {
    char *data;
    size_t len, cap, pos;
} msgbuf;

static int mb_put(msgbuf *m, const char *s, size_t n)
{
    if (m->len + n + 1 > m->cap) {
        size_t cap = (m->cap + n) * 2 + 256;
        char *nd = realloc(m->data, cap);
        if (!nd)
            return -1;
        m->data = nd;
        m->cap = cap;
    }
    memcpy(m->data + m->len, s, n);
    m->len += n;
    m->data[m->len] = '\0';
    return 0;
}

static int mb_str(msgbuf *m, const char *s)
{
    return mb_put(m, s, strlen(s));
}

/* A header value without CR/LF (they would start a new header). */
static int mb_header_value(msgbuf *m, const char *s)
{
    for (; s && *s; s++)
        if (mb_put(m, *s == '\r' || *s == '\n' ? " " : s, 1) < 0)
            return -1;
    return 0;
}

/* Subject: ASCII as is, else =?UTF-8?B?...?= (one encoded word per 45 bytes). */
static int mb_subject(msgbuf *m, const char *s)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    bool ascii = true;
    size_t n = strlen(s);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p >= 0x80)
            ascii = false;
    if (ascii)
        return mb_header_value(m, s);
    for (size_t off = 0; off < n;) {
        size_t chunk = n - off > 45 ? 45 : n - off;
        /* Never split a UTF-8 sequence between two encoded words. */
        while (off + chunk < n && ((unsigned char)s[off + chunk] & 0xC0) == 0x80)
            chunk--;
        if (off && mb_str(m, "\r\n ") < 0)
            return -1;
        if (mb_str(m, "=?UTF-8?B?") < 0)
            return -1;
        for (size_t i = 0; i < chunk; i += 3) {
            unsigned char in[3] = {0, 0, 0};
            size_t k = chunk - i < 3 ? chunk - i : 3;
            char out[4];
            for (size_t j = 0; j < k; j++)
                in[j] = (unsigned char)s[off + i + j];
            out[0] = b64[in[0] >> 2];
            out[1] = b64[((in[0] & 3) << 4) | (in[1] >> 4)];
            out[2] = k > 1 ? b64[((in[1] & 15) << 2) | (in[2] >> 6)] : '=';
            out[3] = k > 2 ? b64[in[2] & 63] : '=';
            if (mb_put(m, out, 4) < 0)
                return -1;
        }
        if (mb_str(m, "?=") < 0)
            return -1;
        off += chunk;
    }
    return 0;
}

/* Body with every line ending as CRLF (SMTP's line ending). */
static int mb_body(msgbuf *m, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '\r')
            continue;
        if (*s == '\n' ? mb_str(m, "\r\n") < 0 : mb_put(m, s, 1) < 0)
            return -1;
    }
    return mb_str(m, "\r\n");
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *user)
{
    msgbuf *m = user;
    size_t n = size * nitems, left = m->len - m->pos;
    if (n > left)
        n = left;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return n;
}

static int build_message(em *e, const bill_notification *n, const char *to, msgbuf *m)
{
    char date[64], mid[128];
    unsigned char rnd[12];
    time_t now = (time_t)(e->host->now_usec(e->host) / 1000000);
    struct tm tm;
    const char *domain = strchr(e->from, '@') + 1;

    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return -1;
    snprintf(mid, sizeof mid, "<%lld.%02x%02x%02x%02x%02x%02x%02x%02x@%s>", (long long)now,
             rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7], domain);
    if (mb_str(m, "Date: ") < 0 || mb_str(m, date) < 0 || mb_str(m, "\r\nFrom: ") < 0 ||
        mb_header_value(m, e->from) < 0 || mb_str(m, "\r\nTo: ") < 0 ||
        mb_header_value(m, to) < 0 || mb_str(m, "\r\nMessage-ID: ") < 0 || mb_str(m, mid) < 0 ||
        mb_str(m, "\r\nSubject: ") < 0 || mb_subject(m, n->subject ? n->subject : "") < 0 ||
        mb_str(m, "\r\nX-Bill-Event: ") < 0 || mb_header_value(m, n->event_kind) < 0 ||
        mb_str(m, "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                  "Content-Transfer-Encoding: 8bit\r\n\r\n") < 0 ||
        mb_body(m, n->body ? n->body : "") < 0)
        return -1;
    return 0;
}

static int em_send(void *instance, const bill_notification *n)
{
    em *e = instance;
    const bill_plugin_host *h = e->host;
    const char *to = n->recipient && n->recipient[0] ? n->recipient : e->to;
    msgbuf m = {0};
    CURL *c = NULL;
    struct curl_slist *rcpt = NULL;
    char errbuf[CURL_ERROR_SIZE] = "", from[300], rcpt_line[300];
    CURLcode cc;
    long code = 0;
    int rc = BILL_PLUGIN_OK;

    if (!to || !to[0])
        return h->error(h, BILL_EINVALID, "notification %s has no recipient and no default "
                        "\"to\" is configured", n->event_kind ? n->event_kind : "");
    if (!addr_ok(to))
        return h->error(h, BILL_EINVALID, "recipient \"%s\" is not an e-mail address", to);
    if (build_message(e, n, to, &m) < 0) {
        rc = h->error(h, BILL_ENOMEM, "out of memory building the message");
        goto done;
    }
    snprintf(from, sizeof from, "<%s>", e->from);
    snprintf(rcpt_line, sizeof rcpt_line, "<%s>", to);
    if (!(c = curl_easy_init()) || !(rcpt = curl_slist_append(NULL, rcpt_line))) {
        rc = h->error(h, BILL_ENOMEM, "cannot create a curl handle");
        goto done;
    }
    curl_easy_setopt(c, CURLOPT_URL, e->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, e->timeout_s);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, e->timeout_s < 10 ? e->timeout_s : 10L);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &m);
    curl_easy_setopt(c, CURLOPT_INFILESIZE, (long)m.len);
    if (strcmp(e->starttls, "required") == 0)
        curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    else if (strcmp(e->starttls, "try") == 0)
        curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
    if (e->user[0]) {
        curl_easy_setopt(c, CURLOPT_USERNAME, e->user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, e->password);
    }
    if (e->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, e->ca_file);
    if (e->insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (cc != CURLE_OK) {
        int code_out = cc == CURLE_LOGIN_DENIED                        ? BILL_ECONFIG
                       : cc == CURLE_OPERATION_TIMEDOUT                ? BILL_ETIMEOUT
                       : cc == CURLE_COULDNT_CONNECT || code == 0 ||
                               (code >= 400 && code < 500)             ? BILL_EUNAVAILABLE
                                                                       : BILL_EPLUGIN;
        rc = h->error(h, code_out, "smtp %s to %s: %s (last reply %ld)", e->url, to,
                      errbuf[0] ? errbuf : curl_easy_strerror(cc), code);
    }
done:
    curl_slist_free_all(rcpt);
    if (c)
        curl_easy_cleanup(c);
    free(m.data);
    return rc;
}

static const bill_plugin_notifier em_fns = {
    .version = BILL_PLUGIN_NOTIFIER_VERSION,
    .send = em_send,
};

static const bill_plugin_descriptor em_desc = {
    .abi_version = BILL_PLUGIN_ABI_VERSION,
    .kind = BILL_PLUGIN_NOTIFIER,
    .id = "notifier-email",
    .name = "E-mail (SMTP)",
    .version = "1.0.0",
    .config_schema =
        "{\"type\":\"object\",\"required\":[\"url\",\"from\"],\"additionalProperties\":false,"
        "\"properties\":{\"url\":{\"type\":\"string\"},\"from\":{\"type\":\"string\"},"
        "\"to\":{\"type\":\"string\"},\"username\":{\"type\":\"string\"},"
        "\"password\":{\"type\":\"string\",\"format\":\"secret\"},"
        "\"starttls\":{\"type\":\"string\",\"enum\":[\"try\",\"required\",\"none\"]},"
        "\"ca_file\":{\"type\":\"string\"},\"insecure_skip_verify\":{\"type\":\"boolean\"},"
        "\"timeout\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":300}}}",
    .init = em_init,
    .destroy = em_destroy,
    .health = NULL,
    .functions = &em_fns,
};

BILL_PLUGIN_EXPORT const bill_plugin_descriptor *bill_plugin_entry(void)
{
    return &em_desc;
}
