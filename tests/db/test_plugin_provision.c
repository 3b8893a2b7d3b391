/*
 * test_plugin_provision.c — the provisioning flow end to end on a real
 * PostgreSQL, with provider-incus talking mTLS to tests/peers/incus_server.py
 * and notifier-webhook posting to tests/peers/webhook_receiver.py:
 *   - an order paid from balance becomes a running instance (IPv4 from the
 *     provider), the order goes paid -> provisioning -> active, and the
 *     customer is notified "order.paid" and "instance.ready";
 *   - a provider that keeps failing (broken image) makes the order
 *     cancelled after the event's last attempt, the amount comes back to the
 *     balance as a "refund" ledger row, the payment is "refunded", and
 *     "order.provision_failed" is sent;
 *   - an order without a provider stays paid and only notifies;
 *   - bill_notify fans out to every enabled notifier (a disabled one is skipped).
 */
#include "check_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bill/bill.h>
#include <bill/events.h>
#include <bill/plugin_host.h>
#include <bill/provision.h>
#include "peer_harness.h"
#include "pg_harness.h"
#include "plugin_fixture.h"

#define INCUS_SO BUILTIN_PLUGIN_DIR "/provider-incus/provider-incus.so"
#define WEBHOOK_SO BUILTIN_PLUGIN_DIR "/notifier-webhook/notifier-webhook.so"

typedef struct env {
    bill_db *db;
    char *url;
    bill_plugins *plugins;
    bill_peer incus, hook;
    char certs[64];
    char provider[37], notifier[37];
    bill_events *events;
    bill_provision *prov;
    char *customer;
} env;

static void env_up(env *e)
{
    const char *sos[] = {INCUS_SO, WEBHOOK_SO, NULL};
    char cfg[1024];
    bill_events_options eo;
    bill_provision_options po;

    memset(e, 0, sizeof *e);
    bill_peer_start_incus(&e->incus, e->certs);
    const char *wargs[] = {"--secret", "hooksecret", NULL};
    bill_peer_start(&e->hook, "webhook_receiver.py", wargs);

    e->db = bill_test_db_new_url(&e->url);
    e->plugins = fx_registry(e->db, sos, NULL);
    snprintf(cfg, sizeof cfg, "{\"url\":\"https://127.0.0.1:%d\",\"ca_file\":\"%s/ca.pem\","
             "\"client_cert\":\"%s/client.pem\",\"client_key\":\"%s/client.key\","
             "\"images\":\"debian/12,broken/image\",\"operation_timeout\":10}", e->incus.port,
             e->certs, e->certs, e->certs);
    ck_assert_int_eq(bill_plugin_interface_create(e->plugins, NULL,
                     BILL_PLUGIN_FIRST_PARTY_PROVIDER, "provider-incus", "incus-1", cfg, true,
                     e->provider), BILL_OK);
    snprintf(cfg, sizeof cfg, "{\"url\":\"http://127.0.0.1:%d/hook\",\"secret\":\"hooksecret\"}",
             e->hook.port);
    ck_assert_int_eq(bill_plugin_interface_create(e->plugins, NULL, BILL_PLUGIN_NOTIFIER,
                     "notifier-webhook", "hook", cfg, true, e->notifier), BILL_OK);

    bill_events_options_init(&eo);
    eo.base_backoff_ms = 20;
    eo.max_backoff_ms = 100;
    eo.poll_interval_ms = 20;
    ck_assert_int_eq(bill_events_new(&e->events, e->db, &eo), BILL_OK);
    bill_provision_options_init(&po);
    po.poll_delay_ms = 10;
    po.poll_max_attempts = 5;
    ck_assert_int_eq(bill_provision_new(&e->prov, e->db, e->plugins, &po), BILL_OK);
    ck_assert_int_eq(bill_provision_register(e->prov, e->events), BILL_OK);
    e->customer = fx_customer(e->db, "Bob", "bob@example.com", 10000);
}

static void env_down(env *e)
{
    bill_events_free(e->events);
    bill_provision_free(e->prov);
    bill_peer_stop_incus(&e->incus, e->certs);
    bill_peer_stop(&e->hook);
    bill_plugins_free(e->plugins);
    bill_db_close(e->db);
    free(e->url);
    free(e->customer);
}

/* Run the queue until `sql` counts 1 (or 20 s pass). */
static void run_until(env *e, const char *sql)
{
    for (int i = 0; i < 400; i++) {
        int n = 0;
        ck_assert_int_eq(bill_events_run_once(e->events, 16, &n), BILL_OK);
        if (fx_count(e->url, sql) == 1)
            return;
        if (n == 0) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    {
        bill_event_rows rows = {0};
        bill_events_list(e->db, NULL, NULL, NULL, &rows);
        for (size_t i = 0; i < rows.count; i++)
            fprintf(stderr, "event %lld %s %s attempts %d: %s\n", (long long)rows.items[i].id,
                    rows.items[i].kind, rows.items[i].status, rows.items[i].attempts,
                    rows.items[i].last_error ? rows.items[i].last_error : "");
        bill_event_rows_clear(&rows);
    }
    ck_abort_msg("condition never held: %s", sql);
}

/* Drain what is due now (notifications after a transition). */
static void drain(env *e)
{
    for (int i = 0; i < 50; i++) {
        int n = 0;
        ck_assert_int_eq(bill_events_run_once(e->events, 16, &n), BILL_OK);
        if (n == 0 && fx_count(e->url, "SELECT count(*) FROM events WHERE status IN "
                                       "('pending','processing') AND run_after <= now()") == 0)
            return;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* Concatenation of every accepted webhook body. */
static char *hooks(env *e)
{
    size_t len = 0;
    char *all = calloc(1, 1);
    for (int i = 1;; i++) {
        char name[32], *b;
        snprintf(name, sizeof name, "accepted-%d.json", i);
        if (!(b = bill_peer_read(&e->hook, name)))
            return all;
        all = realloc(all, len + strlen(b) + 2);
        strcpy(all + len, b);
        strcat(all + len, "\n");
        len += strlen(b) + 1;
        free(b);
    }
}

static char *paid_order(env *e, const char *product, const char *spec)
{
    bill_order_input in = {.version = BILL_ORDER_INPUT_VERSION,
                           .customer_id = e->customer, .product_id = product,
                           .server_spec_json = spec};
    bill_order *o = NULL;
    char *id;
    ck_assert_int_eq(bill_order_create(e->db, e->plugins, NULL, &in, &o), BILL_OK);
    ck_assert_int_eq(bill_order_pay(e->db, e->plugins, NULL, o->id, "balance", NULL), BILL_OK);
    id = strdup(o->id);
    bill_order_free(o);
    return id;
}

START_TEST(test_plugin_provision__paid_order_becomes_running_instance)
{
    env e;
    char sql[512], *product, *order, *all;
    bill_money bal = 0;

    env_up(&e);
    product = fx_product(e.db, "Incus S", 1250, e.provider, NULL);
    order = paid_order(&e, product, "{\"cpu_cores\":2,\"memory_gb\":4,\"disk_gb\":40,"
                                    "\"os\":\"debian/12\"}");
    snprintf(sql, sizeof sql, "SELECT count(*) FROM orders o JOIN instances i ON i.order_id = o.id"
             " WHERE o.id = '%s' AND o.status = 'active' AND i.status = 'running' AND "
             "i.ip_address = '10.0.0.10' AND i.provider_instance_id = o.provider_instance_id AND "
             "o.provider_instance_id LIKE 'bill-%%'", order);
    run_until(&e, sql);
    drain(&e);
    /* One instance.poll per try: it waited for the address, then finished. */
    ck_assert_int_eq(fx_count(e.url, "SELECT count(*) FROM events WHERE kind = 'instance.poll' "
                                     "AND status = 'done' AND attempts >= 2"), 1);
    ck_assert_int_eq(bill_balance_get(e.db, NULL, e.customer, &bal, NULL), BILL_OK);
    ck_assert_int_eq(bal, 10000 - 1250);
    all = hooks(&e);
    ck_assert_ptr_nonnull(strstr(all, "\"event\":\"order.paid\""));
    ck_assert_ptr_nonnull(strstr(all, "\"event\":\"instance.ready\""));
    ck_assert_ptr_nonnull(strstr(all, "10.0.0.10"));
    ck_assert_ptr_nonnull(strstr(all, "bob@example.com"));
    free(all);
    /* A replayed order.paid changes nothing (the order is not "paid" any more). */
    snprintf(sql, sizeof sql, "{\"order_id\": \"%s\"}", order);
    ck_assert_int_eq(bill_event_enqueue(e.db, "order.paid", sql, 0, 1, NULL), BILL_OK);
    drain(&e);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM instances WHERE order_id = '%s'", order);
    ck_assert_int_eq(fx_count(e.url, sql), 1);
    ck_assert_int_eq(fx_count(e.url, "SELECT count(*) FROM events WHERE status = 'dead'"), 0);
    free(product);
    free(order);
    env_down(&e);
}
END_TEST

START_TEST(test_plugin_provision__failing_provider_refunds)
{
    env e;
    char sql[512], *product, *order, *all;
    bill_money bal = 0;

    env_up(&e);
    product = fx_product(e.db, "Incus broken", 1250, e.provider, NULL);
    order = paid_order(&e, product, "{\"cpu_cores\":1,\"memory_gb\":1,\"disk_gb\":10,"
                                    "\"os\":\"broken/image\"}");
    ck_assert_int_eq(bill_balance_get(e.db, NULL, e.customer, &bal, NULL), BILL_OK);
    ck_assert_int_eq(bal, 10000 - 1250);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM orders WHERE id = '%s' AND status = "
             "'cancelled'", order);
    run_until(&e, sql);
    drain(&e);
    ck_assert_int_eq(bill_balance_get(e.db, NULL, e.customer, &bal, NULL), BILL_OK);
    ck_assert_int_eq(bal, 10000);
    ck_assert_int_eq(bill_balance_verify(e.db, e.customer), BILL_OK);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM balance_transactions WHERE customer_id = '%s'"
             " AND transaction_type = 'refund' AND amount = 12.50", e.customer);
    ck_assert_int_eq(fx_count(e.url, sql), 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM payments WHERE order_id = '%s' AND status = "
             "'refunded' AND refunded_amount = 12.50", order);
    ck_assert_int_eq(fx_count(e.url, sql), 1);
    /* It took every attempt of the event (10), and the event ended done, not dead. */
    snprintf(sql, sizeof sql, "SELECT count(*) FROM events WHERE kind = 'order.paid' AND "
             "payload->>'order_id' = '%s' AND status = 'done' AND attempts = max_attempts", order);
    ck_assert_int_eq(fx_count(e.url, sql), 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM instances WHERE order_id = '%s'", order);
    ck_assert_int_eq(fx_count(e.url, sql), 0);
    all = hooks(&e);
    ck_assert_ptr_nonnull(strstr(all, "\"event\":\"order.provision_failed\""));
    ck_assert_ptr_nonnull(strstr(all, "Failed getting image"));
    ck_assert_ptr_null(strstr(all, "\"event\":\"instance.ready\""));
    free(all);
    free(product);
    free(order);
    env_down(&e);
}
END_TEST

START_TEST(test_plugin_provision__no_provider_and_notify_fanout)
{
    env e;
    char sql[512], *product, *order, *all, id2[37], cfg[256];

    env_up(&e);
    product = fx_product(e.db, "Manual", 500, NULL, NULL);
    order = paid_order(&e, product, NULL);
    drain(&e);
    /* No provider: manual provisioning, the instance runs at once and the
     * order is active (billing.md: billed like any other). */
    snprintf(sql, sizeof sql, "SELECT count(*) FROM orders WHERE id = '%s' AND status = 'active'",
             order);
    ck_assert_int_eq(fx_count(e.url, sql), 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM instances WHERE order_id = '%s' AND status = "
             "'running' AND anchor_date IS NOT NULL AND next_due_date > anchor_date", order);
    ck_assert_int_eq(fx_count(e.url, sql), 1);
    all = hooks(&e);
    ck_assert_ptr_nonnull(strstr(all, "\"event\":\"order.paid\""));
    free(all);

    /* A second, disabled notifier gets nothing; the enabled one gets it. */
    snprintf(cfg, sizeof cfg, "{\"url\":\"http://127.0.0.1:1/never\"}");
    ck_assert_int_eq(bill_plugin_interface_create(e.plugins, NULL, BILL_PLUGIN_NOTIFIER,
                     "notifier-webhook", "off", cfg, false, id2), BILL_OK);
    ck_assert_int_eq(bill_notify(e.db, BILL_NOTIFY_TICKET_ASSIGNED, e.customer, NULL,
                                 "Ticket assigned", "Alice now handles your ticket.",
                                 "{\"ticket_id\":\"T-9\"}"), BILL_OK);
    ck_assert_int_eq(bill_notify(e.db, "x", NULL, NULL, "s", "b", "[1]"), BILL_EINVALID);
    drain(&e);
    all = hooks(&e);
    ck_assert_ptr_nonnull(strstr(all, "\"event\":\"ticket.assigned\""));
    ck_assert_ptr_nonnull(strstr(all, "T-9"));
    free(all);
    ck_assert_int_eq(fx_count(e.url, "SELECT count(*) FROM events WHERE kind = 'notify.send' "
                                     "AND status <> 'done'"), 0);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM events WHERE kind = 'notify.send' AND "
             "payload->>'interface_id' = '%s'", id2);
    ck_assert_int_eq(fx_count(e.url, sql), 0);
    free(product);
    free(order);
    env_down(&e);
}
END_TEST

BILL_TEST_MAIN("plugin_provision", 120, NULL, NULL,
               test_plugin_provision__paid_order_becomes_running_instance,
               test_plugin_provision__failing_provider_refunds,
               test_plugin_provision__no_provider_and_notify_fanout);
