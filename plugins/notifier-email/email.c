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
 * The message itself is built by message.c: header values lose their control
 * characters (no header injection through a subject) and a non-ASCII
 * subject is RFC 2047 encoded.
 */
#include <bill/plugin.h>

#include "message.h"
#include "pu.h"

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

static int em_init(const bill_plugin_host *host, const char *config_json, void **instance)
{
    json_object *cfg = NULL;
    em *e = NULL;
    void *mem;
    int rc = BILL_PLUGIN_OK;
    int64_t timeout;

    if ((rc = pu_init_begin(host, config_json, sizeof *e, &cfg, &mem)) != BILL_PLUGIN_OK)
        goto done;
    e = mem;
    e->host = host;
    const pu_cfg_str strs[] = {
        {"url", "", &e->url},           {"from", "", &e->from},
        {"to", "", &e->to},             {"username", "", &e->user},
        {"password", "", &e->password}, {"starttls", "try", &e->starttls},
        {"ca_file", NULL, &e->ca_file},
    };
    if ((rc = pu_cfg_load(host, cfg, strs, sizeof strs / sizeof *strs)) != BILL_PLUGIN_OK ||
        (rc = pu_cfg_insecure(host, cfg, &e->insecure)) != BILL_PLUGIN_OK)
        goto done;
    if (pu_json_opt_int(cfg, "timeout", 30, &timeout) < 0 || timeout < 1 || timeout > 300) {
        rc = host->error(host, BILL_EINVALID, "timeout must be 1..300 seconds");
        goto done;
    }
    e->timeout_s = (long)timeout;
    if (strncmp(e->url, "smtp://", 7) != 0 && strncmp(e->url, "smtps://", 8) != 0) {
        rc = host->error(host, BILL_EINVALID, "url \"%s\" must be smtp:// or smtps://", e->url);
        goto done;
    }
    if (!em_addr_ok(e->from)) {
        rc = host->error(host, BILL_EINVALID, "from \"%s\" is not an e-mail address", e->from);
        goto done;
    }
    if (e->to[0] && !em_addr_ok(e->to)) {
        rc = host->error(host, BILL_EINVALID, "to \"%s\" is not an e-mail address", e->to);
        goto done;
    }
    if (strcmp(e->starttls, "try") != 0 && strcmp(e->starttls, "required") != 0 &&
        strcmp(e->starttls, "none") != 0) {
        rc = host->error(host, BILL_EINVALID, "starttls must be try, required or none");
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

static size_t on_read(char *buf, size_t size, size_t nitems, void *user)
{
    em_msg *m = user;
    size_t n = size * nitems, left = m->len - m->pos;
    if (n > left)
        n = left;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return n;
}

static int em_send(void *instance, const bill_notification *n)
{
    em *e = instance;
    const bill_plugin_host *h = e->host;
    const char *to = n->recipient && n->recipient[0] ? n->recipient : e->to;
    em_msg m = {0};
    unsigned char rnd[8];
    CURL *c = NULL;
    struct curl_slist *rcpt = NULL;
    char errbuf[CURL_ERROR_SIZE] = "", from[300], rcpt_line[300];
    CURLcode cc;
    long code = 0;
    int rc = BILL_PLUGIN_OK;

    if (!to || !to[0])
        return h->error(h, BILL_EINVALID, "notification %s has no recipient and no default "
                        "\"to\" is configured", n->event_kind ? n->event_kind : "");
    if (!em_addr_ok(to))
        return h->error(h, BILL_EINVALID, "recipient \"%s\" is not an e-mail address", to);
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return h->error(h, BILL_EIO, "getrandom failed for the Message-ID");
    if (em_msg_build(&m, e->from, to, n, h->now_usec(h) / 1000000, rnd) < 0) {
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
