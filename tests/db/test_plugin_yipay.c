/*
 * test_plugin_yipay.c — gateway-yipay against a fake 易支付 merchant
 * platform (tests/peers/yipay_platform.py) that signs like the real one:
 *   - paying an order through a yipay interface gives a submit.php URL the
 *     platform accepts (its own MD5 check), with notify_url
 *     <public_base>/callback/yipay/<interface id> and money "12.50";
 *   - the platform's signed notification is verified, answered "success",
 *     and confirming it credits the order exactly once — replayed, and 8
 *     concurrent deliveries of the same notification;
 *   - a tampered notification (money changed without re-signing, foreign
 *     pid, a wrong key) answers "fail" and changes nothing; a correctly
 *     signed notification with the wrong amount is refused by
 *     bill_payment_confirm and answered "fail".
 * The callback path is libbill's bill_gateway_notify (plugin verify ->
 * bill_payment_confirm -> answer), which the server's /callback/yipay/<id>
 * route only translates to HTTP; `deliver` below calls it. Also the gateway
 * catalogue (balance first, enabled gateways) and the 404/503 outcomes.
 */
#include "check_main.h"
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bill/bill.h>
#include <bill/plugin_host.h>
#include "peer_harness.h"
#include "pg_harness.h"
#include "plugin_fixture.h"

#define SO BUILTIN_PLUGIN_DIR "/gateway-yipay/gateway-yipay.so"

typedef struct env {
    bill_db *db;
    char *url;
    bill_plugins *plugins;
    bill_peer peer;
    char iface[37];
    char *customer, *product;
} env;

static void env_up(env *e)
{
    const char *sos[] = {SO, NULL};
    const char *args[] = {"--pid", "1001", "--key", "k3y-ABC", NULL};
    char cfg[512];
    memset(e, 0, sizeof *e);
    e->db = bill_test_db_new_url(&e->url);
    e->plugins = fx_registry(e->db, sos, NULL);
    bill_peer_start(&e->peer, "yipay_platform.py", args);
    snprintf(cfg, sizeof cfg, "{\"api_url\":\"http://127.0.0.1:%d/\",\"pid\":\"1001\","
             "\"key\":\"k3y-ABC\",\"public_base\":\"https://bill.example.com\"}", e->peer.port);
    ck_assert_int_eq(bill_plugin_interface_create(e->plugins, NULL, BILL_PLUGIN_GATEWAY,
                     "gateway-yipay", "yipay", cfg, true, e->iface), BILL_OK);
    /* The callback URL names the interface, known only now. The secret key is
     * left out: the stored one is kept. */
    snprintf(cfg, sizeof cfg, "{\"api_url\":\"http://127.0.0.1:%d/\",\"pid\":\"1001\","
             "\"public_base\":\"https://bill.example.com/\",\"interface_id\":\"%s\"}",
             e->peer.port, e->iface);
    ck_assert_int_eq(bill_plugin_interface_update(e->plugins, NULL, e->iface, NULL, cfg), BILL_OK);
    e->customer = fx_customer(e->db, "Alice", "alice@example.com", 0);
    e->product = fx_product(e->db, "VPS S", 1250, NULL, NULL);
}

static void env_down(env *e)
{
    bill_peer_stop(&e->peer);
    bill_plugins_free(e->plugins);
    bill_db_close(e->db);
    free(e->url);
    free(e->customer);
    free(e->product);
}

/* New pending order paid through yipay: returns the payment id; *url_out the cashier URL. */
static char *pay_order(env *e, char **order_out, char **url_out)
{
    bill_order_input in = {.version = BILL_ORDER_INPUT_VERSION,
                           .customer_id = e->customer, .product_id = e->product};
    bill_order *o = NULL;
    bill_payment_info pi = {0};
    char *pid;
    ck_assert_int_eq(bill_order_create(e->db, e->plugins, NULL, &in, &o), BILL_OK);
    ck_assert_int_eq(bill_order_pay(e->db, e->plugins, NULL, o->id, e->iface, &pi), BILL_OK);
    ck_assert_ptr_nonnull(strstr(pi.payment_url, "/submit.php?"));
    pid = strdup(pi.payment_id);
    /* The payer opens the cashier (the platform now knows the order). */
    ck_assert_int_eq(fx_http(pi.payment_url, NULL, NULL), 200);
    *url_out = strdup(pi.payment_url);
    *order_out = strdup(o->id);
    bill_payment_info_clear(&pi);
    bill_order_free(o);
    return pid;
}

/* The server side of the notify URL, libbill's bill_gateway_notify (what
 * bill-server's /callback/yipay/<id> route calls): verify, confirm, answer. */
static char *deliver(env *e, const char *method, const char *form, bool *credited)
{
    bill_gateway_callback cb = {.version = BILL_GATEWAY_CALLBACK_VERSION, .method = method,
                                .query = "", .body = "", .content_type = NULL};
    bill_gateway_notify_result r;
    char *answer;
    if (strcmp(method, "GET") == 0) {
        cb.query = form;
    } else {
        cb.body = form;
        cb.body_len = strlen(form);
        cb.content_type = "application/x-www-form-urlencoded";
    }
    ck_assert_int_eq(bill_gateway_notify(e->db, e->plugins, "yipay", e->iface, &cb, &r), BILL_OK);
    ck_assert_int_eq(r.outcome, BILL_GATEWAY_NOTIFY_ANSWER);
    ck_assert_str_eq(r.content_type, "text/plain");
    if (credited)
        *credited = r.confirmed && !r.already;
    answer = strdup(r.body);
    bill_gateway_notify_result_clear(&r);
    return answer;
}

static char *notification(env *e, const char *payment_id, const char *extra)
{
    char url[512], *q = NULL;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/test/notify?out_trade_no=%s%s", e->peer.port,
             payment_id, extra ? extra : "");
    ck_assert_int_eq(fx_http(url, NULL, &q), 200);
    return q;
}

static long long order_paid_events(env *e, const char *order)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM events WHERE kind = 'order.paid' "
             "AND payload->>'order_id' = '%s'", order);
    return fx_count(e->url, sql);
}

START_TEST(test_plugin_yipay__pay_url_notify_credit_once)
{
    env e;
    char *order, *url, *payment, *page = NULL, *q, *ans, *sub, sql[256];
    bool credited;
    json_object *doc, *v;

    env_up(&e);
    payment = pay_order(&e, &order, &url);
    /* The payer's browser opens the URL: the platform checks our sign. */
    ck_assert_int_eq(fx_http(url, NULL, &page), 200);
    ck_assert_str_eq(page + strlen("cashier "), payment);
    free(page);
    snprintf(sql, sizeof sql, "submit-%s.json", payment);
    sub = bill_peer_read(&e.peer, sql);
    ck_assert_ptr_nonnull(sub);
    doc = json_tokener_parse(sub);
    ck_assert(json_object_object_get_ex(doc, "money", &v));
    ck_assert_str_eq(json_object_get_string(v), "12.50");
    ck_assert(json_object_object_get_ex(doc, "notify_url", &v));
    snprintf(sql, sizeof sql, "https://bill.example.com/callback/yipay/%s", e.iface);
    ck_assert_str_eq(json_object_get_string(v), sql);
    ck_assert(json_object_object_get_ex(doc, "type", &v));
    ck_assert_str_eq(json_object_get_string(v), "alipay");
    ck_assert(json_object_object_get_ex(doc, "name", &v));
    ck_assert_str_eq(json_object_get_string(v), "VPS S");
    json_object_put(doc);
    free(sub);

    /* A cashier URL with a changed amount is refused by the platform. */
    {
        char *bad = strdup(url), *m = strstr(bad, "money=12.50");
        ck_assert_ptr_nonnull(m);
        m[6] = '0';
        ck_assert_int_eq(fx_http(bad, NULL, &page), 400);
        ck_assert_str_eq(page, "sign error");
        free(page);
        free(bad);
    }

    /* The platform's notification: success, credited once. */
    q = notification(&e, payment, NULL);
    ans = deliver(&e, "GET", q, &credited);
    ck_assert_str_eq(ans, "success");
    ck_assert(credited);
    free(ans);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM orders WHERE id = '%s' AND status = 'paid'",
             order);
    ck_assert_int_eq(fx_count(e.url, sql), 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM payments WHERE id = '%s' AND status = "
             "'success' AND gateway_tx_id LIKE '2024%%' AND amount = 12.50", payment);
    ck_assert_int_eq(fx_count(e.url, sql), 1);
    /* Replayed (GET again, then as a POST form): still "success", nothing new. */
    ans = deliver(&e, "GET", q, &credited);
    ck_assert_str_eq(ans, "success");
    ck_assert(!credited);
    free(ans);
    ans = deliver(&e, "POST", q, &credited);
    ck_assert_str_eq(ans, "success");
    ck_assert(!credited);
    free(ans);
    ck_assert_int_eq(order_paid_events(&e, order), 1);
    free(q);
    free(order);
    free(url);
    free(payment);
    env_down(&e);
}
END_TEST

START_TEST(test_plugin_yipay__forged_and_wrong_amount_fail)
{
    env e;
    char *order, *url, *payment, *q, *ans, *m, sql[256];

    env_up(&e);
    payment = pay_order(&e, &order, &url);
    free(url);
    /* money changed after signing. */
    q = notification(&e, payment, NULL);
    m = strstr(q, "money=12.50");
    ck_assert_ptr_nonnull(m);
    m[6] = '9';
    ans = deliver(&e, "GET", q, NULL);
    ck_assert_str_eq(ans, "fail");
    free(ans);
    /* sign stripped. */
    m = strstr(q, "&sign=");
    ck_assert_ptr_nonnull(m);
    m[1] = 'x';
    ans = deliver(&e, "GET", q, NULL);
    ck_assert_str_eq(ans, "fail");
    free(ans);
    free(q);
    /* Signed by the platform but for another amount: the host refuses. */
    q = notification(&e, payment, "&money=1.00");
    ans = deliver(&e, "GET", q, NULL);
    ck_assert_str_eq(ans, "fail");
    free(ans);
    free(q);
    /* Not paid yet on the platform side: verified but not success. */
    q = notification(&e, payment, "&trade_status=WAIT_BUYER_PAY");
    ans = deliver(&e, "GET", q, NULL);
    ck_assert_str_eq(ans, "fail");
    free(ans);
    free(q);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM orders WHERE id = '%s' AND status = "
             "'pending'", order);
    ck_assert_int_eq(fx_count(e.url, sql), 1);
    ck_assert_int_eq(order_paid_events(&e, order), 0);
    free(order);
    free(payment);
    env_down(&e);
}
END_TEST

typedef struct racer {
    env *e;
    const char *q;
    bool credited;
    char *answer;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    r->answer = deliver(r->e, "GET", r->q, &r->credited);
    return NULL;
}

START_TEST(test_plugin_yipay__concurrent_notifications_credit_once)
{
    env e;
    char *order, *url, *payment, *q;
    pthread_t th[8];
    racer rs[8];
    int credited = 0;

    env_up(&e);
    payment = pay_order(&e, &order, &url);
    q = notification(&e, payment, NULL);
    for (int i = 0; i < 8; i++) {
        rs[i] = (racer){.e = &e, .q = q};
        ck_assert_int_eq(pthread_create(&th[i], NULL, race, &rs[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        ck_assert_str_eq(rs[i].answer, "success");
        credited += rs[i].credited;
        free(rs[i].answer);
    }
    ck_assert_int_eq(credited, 1);
    ck_assert_int_eq(order_paid_events(&e, order), 1);
    free(q);
    free(order);
    free(url);
    free(payment);
    env_down(&e);
}
END_TEST

/* The catalogue payers choose from (libbill's, ListGateways translates it),
 * and the notifications libbill answers 404 or 503 instead of the plugin's
 * text: an unknown or foreign interface, no registry. */
START_TEST(test_plugin_yipay__catalogue_and_unknown_interfaces)
{
    env e;
    bill_gateways gws;
    bill_gateway_notify_result r;
    bill_gateway_callback cb = {.version = BILL_GATEWAY_CALLBACK_VERSION, .method = "GET",
                                .query = "out_trade_no=x", .body = ""};

    env_up(&e);
    ck_assert_int_eq(bill_gateway_catalogue(e.plugins, &gws), BILL_OK);
    ck_assert_uint_eq(gws.count, 2);
    ck_assert_uint_eq(gws.meta.total, 2);
    ck_assert_str_eq(gws.items[0].id, BILL_GATEWAY_BALANCE_ID);
    ck_assert_str_eq(gws.items[0].name, "Account balance");
    ck_assert(gws.items[0].is_healthy);
    ck_assert_str_eq(gws.items[1].id, e.iface);
    ck_assert_str_eq(gws.items[1].name, "yipay");
    bill_gateways_clear(&gws);
    ck_assert_int_eq(bill_gateway_catalogue(NULL, &gws), BILL_OK);
    ck_assert_uint_eq(gws.count, 1);
    ck_assert_str_eq(gws.items[0].id, "balance");
    bill_gateways_clear(&gws);

    /* By full plugin id too; a signature that does not verify is "fail". */
    ck_assert_int_eq(bill_gateway_notify(e.db, e.plugins, "gateway-yipay", e.iface, &cb, &r),
                     BILL_OK);
    ck_assert_int_eq(r.outcome, BILL_GATEWAY_NOTIFY_ANSWER);
    ck_assert(!r.verified && !r.confirmed);
    ck_assert_str_eq(r.body, "fail");
    bill_gateway_notify_result_clear(&r);
    /* Another plugin's name, a uuid of no interface, not a uuid: 404. */
    ck_assert_int_eq(bill_gateway_notify(e.db, e.plugins, "banktransfer", e.iface, &cb, &r),
                     BILL_OK);
    ck_assert_int_eq(r.outcome, BILL_GATEWAY_NOTIFY_UNKNOWN);
    ck_assert_ptr_null(r.body);
    ck_assert_int_eq(bill_gateway_notify(e.db, e.plugins, "yipay",
                                         "00000000-0000-4000-8000-0000000000aa", &cb, &r), BILL_OK);
    ck_assert_int_eq(r.outcome, BILL_GATEWAY_NOTIFY_UNKNOWN);
    ck_assert_int_eq(bill_gateway_notify(e.db, e.plugins, "yipay", "../etc", &cb, &r), BILL_OK);
    ck_assert_int_eq(r.outcome, BILL_GATEWAY_NOTIFY_UNKNOWN);
    /* No plugin registry: may pass, the gateway retries (503). */
    ck_assert_int_eq(bill_gateway_notify(e.db, NULL, "yipay", e.iface, &cb, &r), BILL_OK);
    ck_assert_int_eq(r.outcome, BILL_GATEWAY_NOTIFY_RETRY);
    ck_assert_int_eq(bill_gateway_notify(e.db, e.plugins, "yipay", e.iface, NULL, &r),
                     BILL_EINVALID);

    /* A disabled gateway leaves the catalogue. */
    ck_assert_int_eq(bill_plugin_interface_set_enabled(e.plugins, NULL, e.iface, false), BILL_OK);
    ck_assert_int_eq(bill_gateway_catalogue(e.plugins, &gws), BILL_OK);
    ck_assert_uint_eq(gws.count, 1);
    bill_gateways_clear(&gws);
    env_down(&e);
}
END_TEST

BILL_TEST_MAIN("plugin_yipay", 120, NULL, NULL,
               test_plugin_yipay__catalogue_and_unknown_interfaces,
               test_plugin_yipay__pay_url_notify_credit_once,
               test_plugin_yipay__forged_and_wrong_amount_fail,
               test_plugin_yipay__concurrent_notifications_credit_once);
