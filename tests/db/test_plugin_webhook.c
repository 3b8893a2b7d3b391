/*
 * test_plugin_webhook.c — notifier-webhook against a real receiver
 * (tests/peers/webhook_receiver.py) that verifies the HMAC signature the way
 * a customer's endpoint would: good deliveries are accepted with the exact
 * body we sent, a captured request replayed byte for byte is refused, a
 * stale timestamp (host clock 10 minutes behind) is refused, a wrong secret
 * is refused, and the config schema/init refuse a missing url.
 */
#include "check_main.h"
#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bill/bill.h>
#include <bill/plugin_host.h>
#include <bill/time.h>
#include "peer_harness.h"
#include "plugin_fixture.h"

#define SO BUILTIN_PLUGIN_DIR "/notifier-webhook/notifier-webhook.so"

static bill_plugin_instance *open_hook(bill_plugins *p, int port, const char *secret)
{
    char cfg[512];
    bill_plugin_instance *inst = NULL;
    snprintf(cfg, sizeof cfg, "{\"url\":\"http://127.0.0.1:%d/hook\",\"secret\":\"%s\","
             "\"timeout\":5}", port, secret);
    ck_assert_int_eq(bill_plugin_instance_open(p, BILL_PLUGIN_NOTIFIER, "notifier-webhook", cfg,
                                               &inst), BILL_OK);
    return inst;
}

static const bill_notification note = {
    .version = BILL_NOTIFICATION_VERSION,
    .event_kind = "order.paid",
    .recipient = "alice@example.com",
    .subject = "Order paid",
    .body = "Your order 42 is paid.",
    .payload_json = "{\"order_id\":\"42\",\"amount\":\"12.50\"}",
};

/* Replay a captured request byte for byte (what an attacker would do). */
static long replay(int port, const char *sig, const char *body)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char url[128], hdr[256];
    long status = 0;
    FILE *devnull = fopen("/dev/null", "w");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", port);
    snprintf(hdr, sizeof hdr, "X-Bill-Signature: %s", sig);
    h = curl_slist_append(h, hdr);
    h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, devnull);
    ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    fclose(devnull);
    return status;
}

START_TEST(test_plugin_webhook__signed_delivery_accepted_replay_refused)
{
    bill_peer peer;
    const char *args[] = {"--secret", "whsec-123", NULL};
    bill_plugins *p = fx_registry_file(SO);
    bill_plugin_instance *inst;
    char *body, *sig, *log;
    json_object *doc, *v;
    long long t;

    bill_peer_start(&peer, "webhook_receiver.py", args);
    inst = open_hook(p, peer.port, "whsec-123");
    ck_assert_int_eq(bill_plugin_notify(inst, &note), BILL_OK);
    body = bill_peer_read(&peer, "accepted-1.json");
    sig = bill_peer_read(&peer, "accepted-1.sig");
    ck_assert_ptr_nonnull(body);
    ck_assert_ptr_nonnull(sig);
    doc = json_tokener_parse(body);
    ck_assert_ptr_nonnull(doc);
    ck_assert(json_object_object_get_ex(doc, "event", &v));
    ck_assert_str_eq(json_object_get_string(v), "order.paid");
    ck_assert(json_object_object_get_ex(doc, "subject", &v));
    ck_assert_str_eq(json_object_get_string(v), "Order paid");
    ck_assert(json_object_object_get_ex(doc, "payload", &v));
    ck_assert(json_object_object_get_ex(v, "amount", &v));
    ck_assert_str_eq(json_object_get_string(v), "12.50");
    ck_assert(json_object_object_get_ex(doc, "timestamp", &v));
    ck_assert_int_eq(sscanf(sig, "t=%lld,v1=", &t), 1);
    ck_assert_int_eq(t, json_object_get_int64(v));
    ck_assert_int_le(llabs(t - (long long)(bill_time_now() / 1000000)), 5);
    json_object_put(doc);

    /* The same captured request again: refused as a replay. */
    ck_assert_int_eq(replay(peer.port, sig, body), 400);
    log = bill_peer_read(&peer, "rejected.log");
    ck_assert_ptr_nonnull(log);
    ck_assert_ptr_nonnull(strstr(log, "replayed timestamp"));
    free(log);
    /* A tampered body with the captured signature: refused. */
    body[strlen(body) - 2] = 'X';
    ck_assert_int_eq(replay(peer.port, sig, body), 400);
    free(body);
    free(sig);

    /* A second real notification is fine (new timestamp or new body). */
    ck_assert_int_eq(bill_plugin_notify(inst, &note), BILL_PLUGIN_OK);
    body = bill_peer_read(&peer, "accepted-2.json");
    ck_assert_ptr_nonnull(body);
    free(body);
    bill_plugin_instance_release(inst);

    /* Wrong secret: the receiver says 400, the plugin reports a plugin error. */
    inst = open_hook(p, peer.port, "not-the-secret");
    ck_assert_int_eq(bill_plugin_notify(inst, &note), BILL_EPLUGIN);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "HTTP 400"));
    bill_plugin_instance_release(inst);
    bill_peer_stop(&peer);
    bill_plugins_free(p);
}
END_TEST

static int64_t ten_minutes_ago(void *user)
{
    (void)user;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((int64_t)ts.tv_sec - 600) * 1000000;
}

START_TEST(test_plugin_webhook__stale_timestamp_refused)
{
    bill_peer peer;
    const char *args[] = {"--secret", "s", NULL};
    bill_plugins *p = fx_registry_file(SO);
    bill_plugin_instance *inst;
    char *log;

    bill_peer_start(&peer, "webhook_receiver.py", args);
    inst = open_hook(p, peer.port, "s");
    bill_clock_set(ten_minutes_ago, NULL);
    ck_assert_int_eq(bill_plugin_notify(inst, &note), BILL_EPLUGIN);
    bill_clock_set(NULL, NULL);
    log = bill_peer_read(&peer, "rejected.log");
    ck_assert_ptr_nonnull(log);
    ck_assert_ptr_nonnull(strstr(log, "stale timestamp"));
    free(log);
    ck_assert_ptr_null(bill_peer_read(&peer, "accepted-1.json"));
    bill_plugin_instance_release(inst);
    bill_peer_stop(&peer);
    bill_plugins_free(p);
}
END_TEST

START_TEST(test_plugin_webhook__config_refused)
{
    bill_plugins *p = fx_registry_file(SO);
    bill_plugin_instance *inst = NULL;
    ck_assert_int_eq(bill_plugin_instance_open(p, BILL_PLUGIN_NOTIFIER, "notifier-webhook",
                     "{\"secret\":\"x\"}", &inst), BILL_EINVALID);
    ck_assert_int_eq(bill_plugin_instance_open(p, BILL_PLUGIN_NOTIFIER, "notifier-webhook",
                     "{\"url\":\"ftp://x/\"}", &inst), BILL_EINVALID);
    ck_assert_ptr_null(inst);
    /* Down receiver: unavailable, so the events queue retries. */
    ck_assert_int_eq(bill_plugin_instance_open(p, BILL_PLUGIN_NOTIFIER, "notifier-webhook",
                     "{\"url\":\"http://127.0.0.1:1/\",\"secret\":\"x\"}", &inst), BILL_OK);
    ck_assert_int_eq(bill_plugin_notify(inst, &note), BILL_EUNAVAILABLE);
    bill_plugin_instance_release(inst);
    bill_plugins_free(p);
}
END_TEST

BILL_TEST_MAIN("plugin_webhook", 60, NULL, NULL,
               test_plugin_webhook__signed_delivery_accepted_replay_refused,
               test_plugin_webhook__stale_timestamp_refused, test_plugin_webhook__config_refused);
