/*
 * webhook.c — notifier-webhook: every notification becomes one JSON POST to
 * the configured URL, signed so the receiver can tell it came from us and
 * was not replayed:
 *
 *     X-Bill-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 *
 * The timestamp is inside the signed text, so a receiver that refuses old
 * or already-seen timestamps (5 minutes is the usual window) stops replays
 * of a captured request. The body is
 *     {"id":<32 random hex>, "event":..., "timestamp":t, "recipient":...,
 *      "subject":..., "body":..., "payload":{...}}
 * The random id makes two identical notifications in the same second two
 * different signed texts (else the receiver would take the second for a
 * replay) and lets receivers de-duplicate our own retries.
 *
 * Config: {"url" (required, http/https), "secret" (format secret),
 *          "timeout" (seconds, 1..120, default 10)}.
 * A 2xx answer is success. 5xx/429 and network errors are BILL_EUNAVAILABLE
 * (the events queue retries); any other status is BILL_EPLUGIN.
 */
#include <bill/plugin.h>

#include "pu.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

typedef struct wh {
    const bill_plugin_host *host;
    char *url;
    char *secret;
    long timeout_ms;
} wh;

static void wh_destroy(void *instance)
{
    wh *w = instance;
    if (!w)
        return;
    free(w->url);
    if (w->secret) {
        /* The secret should not linger in freed heap memory. */
        volatile char *s = w->secret;
        while (*s)
            *s++ = 0;
        free(w->secret);
    }
    free(w);
}

static int wh_init(const bill_plugin_host *host, const char *config_json, void **instance)
{
    json_object *cfg = NULL;
    const char *url, *secret;
    int64_t t;
    wh *w = NULL;
    void *mem;
    int rc = BILL_PLUGIN_OK;

    if ((rc = pu_init_begin(host, config_json, sizeof *w, &cfg, &mem)) != BILL_PLUGIN_OK)
        goto done;
    w = mem;
    w->host = host;
    url = pu_json_str(cfg, "url");
    if (!pu_http_url_ok(url)) {
        rc = host->error(host, BILL_EINVALID, "url must be an http:// or https:// URL");
        goto done;
    }
    if (pu_json_opt_str(cfg, "secret", "", &secret) < 0) {
        rc = host->error(host, BILL_EINVALID, "secret must be a string");
        goto done;
    }
    if (pu_json_opt_int(cfg, "timeout", 10, &t) < 0 || t < 1 || t > 120) {
        rc = host->error(host, BILL_EINVALID, "timeout must be 1..120 seconds");
        goto done;
    }
    w->timeout_ms = (long)t * 1000;
    w->url = strdup(url);
    w->secret = strdup(secret);
    if (!w->url || !w->secret) {
        rc = host->error(host, BILL_ENOMEM, "out of memory");
        goto done;
    }
    if (!w->secret[0])
        host->log(host, BILL_PLUGIN_LOG_WARN, "no secret configured: webhooks to %s go unsigned",
                  w->url);
    *instance = w;
    w = NULL;
done:
    wh_destroy(w);
    json_object_put(cfg);
    return rc;
}

static void add_str(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v ? v : ""));
}

static int wh_send(void *instance, const bill_notification *n)
{
    wh *w = instance;
    const bill_plugin_host *h = w->host;
    json_object *doc = json_object_new_object(), *payload = NULL;
    const char *body;
    char *signed_text = NULL, sig_hdr[128], mac[65];
    long long t = (long long)(h->now_usec(h) / 1000000);
    bill_plugin_http_header hdrs[2];
    size_t nh = 0;
    bill_plugin_http_request req;
    bill_plugin_http_response resp = {0};
    int rc;

    const char *const texts[][2] = {{"event_kind", n->event_kind}, {"recipient", n->recipient},
                                    {"subject", n->subject}, {"body", n->body}};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        if (texts[i][1] && !pu_utf8_valid(texts[i][1], strlen(texts[i][1]))) {
            json_object_put(doc);
            return h->error(h, BILL_EINVALID, "notification %s is not valid UTF-8", texts[i][0]);
        }
    }
    if (!doc)
        return h->error(h, BILL_ENOMEM, "out of memory");
    if (n->payload_json && n->payload_json[0]) {
        payload = pu_json_parse(n->payload_json, strlen(n->payload_json));
        if (!payload) {
            json_object_put(doc);
            return h->error(h, BILL_EINVALID, "payload_json of %s is not JSON",
                            n->event_kind ? n->event_kind : "?");
        }
    }
    {
        unsigned char rnd[16];
        char id[33];
        if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
            json_object_put(payload);
            json_object_put(doc);
            return h->error(h, BILL_EIO, "getrandom failed for the delivery id");
        }
        for (size_t i = 0; i < sizeof rnd; i++)
            snprintf(id + 2 * i, 3, "%02x", rnd[i]);
        add_str(doc, "id", id);
    }
    add_str(doc, "event", n->event_kind);
    json_object_object_add(doc, "timestamp", json_object_new_int64(t));
    add_str(doc, "recipient", n->recipient);
    add_str(doc, "subject", n->subject);
    add_str(doc, "body", n->body);
    json_object_object_add(doc, "payload", payload ? payload : json_object_new_object());
    body = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
    if (!body) {
        rc = h->error(h, BILL_ENOMEM, "out of memory");
        goto done;
    }

    hdrs[nh++] = (bill_plugin_http_header){"Content-Type", "application/json"};
    if (w->secret[0]) {
        if (asprintf(&signed_text, "%lld.%s", t, body) < 0) {
            rc = h->error(h, BILL_ENOMEM, "out of memory");
            goto done;
        }
        h->hmac_sha256_hex(w->secret, strlen(w->secret), signed_text, strlen(signed_text), mac);
        snprintf(sig_hdr, sizeof sig_hdr, "t=%lld,v1=%s", t, mac);
        hdrs[nh++] = (bill_plugin_http_header){"X-Bill-Signature", sig_hdr};
    }
    memset(&req, 0, sizeof req);
    req.version = BILL_PLUGIN_HTTP_REQUEST_VERSION;
    req.method = "POST";
    req.url = w->url;
    req.headers = hdrs;
    req.n_headers = nh;
    req.body = body;
    req.body_len = strlen(body);
    req.timeout_ms = w->timeout_ms;
    if ((rc = h->http(h, &req, &resp)) < 0)
        goto done; /* the host already recorded why */
    if (resp.status >= 200 && resp.status < 300)
        rc = BILL_PLUGIN_OK;
    else
        rc = h->error(h, resp.status >= 500 || resp.status == 429 ? BILL_EUNAVAILABLE : BILL_EPLUGIN,
                      "webhook %s answered HTTP %ld: %.200s", w->url, resp.status,
                      resp.body ? resp.body : "");
    h->http_response_free(&resp);
done:
    free(signed_text);
    json_object_put(doc);
    return rc;
}

static const bill_plugin_notifier wh_fns = {
    .version = BILL_PLUGIN_NOTIFIER_VERSION,
    .send = wh_send,
};

static const bill_plugin_descriptor wh_desc = {
    .abi_version = BILL_PLUGIN_ABI_VERSION,
    .kind = BILL_PLUGIN_NOTIFIER,
    .id = "notifier-webhook",
    .name = "Webhook (signed JSON POST)",
    .version = "1.0.0",
    .config_schema =
        "{\"type\":\"object\",\"required\":[\"url\"],\"additionalProperties\":false,"
        "\"properties\":{\"url\":{\"type\":\"string\"},"
        "\"secret\":{\"type\":\"string\",\"format\":\"secret\"},"
        "\"timeout\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":120}}}",
    .init = wh_init,
    .destroy = wh_destroy,
    .health = NULL,
    .functions = &wh_fns,
};

BILL_PLUGIN_EXPORT const bill_plugin_descriptor *bill_plugin_entry(void)
{
    return &wh_desc;
}
