/*
 * test_billing_actions.c — provider actions of the billing engine through
 * real provider plugins (tests/plugins/billprov): the v2 plugin suspends,
 * unsuspends, changes plan and terminates, failing its first calls so the
 * durable events retry with backoff while billing state stays where billing
 * put it and `events list --failing` shows them; the v1 plugin (the old
 * provider table, no change_plan, no suspend) keeps loading and its
 * unsupported actions go to the operation log instead of retrying forever.
 */
#include "check_main.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bill/bill.h>
#include <bill/events.h>
#include <bill/plugin_host.h>
#include <bill/provision.h>
#include "pg_harness.h"
#include "plugin_fixture.h"

static const bill_actor cli = {.kind = BILL_ACTOR_CLI, .username = "ops"};

typedef struct env {
    bill_db *db;
    char *url;
    int64_t now;
    bill_plugins *plugins;
    bill_events *events;
    bill_provision *prov;
    char dir[64], log1[128], log2[128];
    char p1[37], p2[37];
} env;

static int64_t clock_of(void *user)
{
    return ((env *)user)->now;
}

static int64_t at(const char *s)
{
    int64_t t = 0;
    ck_assert_int_eq(bill_time_parse_rfc3339(s, &t), BILL_OK);
    return t;
}

static void env_up(env *e)
{
    const char *sos[] = {BILLPROV_DIR "/billprov_v1.so", BILLPROV_DIR "/billprov_v2.so", NULL};
    char cfg[256];
    memset(e, 0, sizeof *e);
    e->db = bill_test_db_new_url(&e->url);
    e->now = at("2027-01-01T00:00:00Z");
    bill_db_set_clock(e->db, clock_of, e);
    e->plugins = fx_registry(e->db, sos, e->dir);
    snprintf(e->log1, sizeof e->log1, "%s/v1.log", e->dir);
    snprintf(e->log2, sizeof e->log2, "%s/v2.log", e->dir);
    snprintf(cfg, sizeof cfg, "{\"log\":\"%s\"}", e->log1);
    ck_assert_int_eq(bill_plugin_interface_create(e->plugins, NULL, BILL_PLUGIN_FIRST_PARTY_PROVIDER,
                                                  "billprov-v1", "old", cfg, true, e->p1),
                     BILL_OK);
    snprintf(cfg, sizeof cfg, "{\"log\":\"%s\",\"fail\":2}", e->log2);
    ck_assert_int_eq(bill_plugin_interface_create(e->plugins, NULL, BILL_PLUGIN_FIRST_PARTY_PROVIDER,
                                                  "billprov-v2", "new", cfg, true, e->p2),
                     BILL_OK);
    bill_events_options eo;
    bill_events_options_init(&eo);
    eo.base_backoff_ms = 1000;
    eo.max_backoff_ms = 4000;
    ck_assert_int_eq(bill_events_new(&e->events, e->db, &eo), BILL_OK);
    bill_provision_options po;
    bill_provision_options_init(&po);
    po.poll_delay_ms = 1000;
    ck_assert_int_eq(bill_provision_new(&e->prov, e->db, e->plugins, &po), BILL_OK);
    ck_assert_int_eq(bill_provision_register(e->prov, e->events), BILL_OK);
}

static void env_down(env *e)
{
    char cmd[128];
    bill_events_free(e->events);
    bill_provision_free(e->prov);
    bill_plugins_free(e->plugins);
    bill_db_close(e->db);
    free(e->url);
    snprintf(cmd, sizeof cmd, "rm -rf %s", e->dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Run what is due, moving the clock a few seconds at a time (backoff). */
static void run_events(env *e, int rounds)
{
    for (int i = 0; i < rounds; i++) {
        int n = 0;
        ck_assert_int_eq(bill_events_run_once(e->events, 50, &n), BILL_OK);
        e->now += 5 * BILL_USEC_PER_SEC;
    }
}

static long long count(env *e, const char *fmt, ...) BILL_PRINTF(2, 3);
static long long count(env *e, const char *fmt, ...)
{
    char sql[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return fx_count(e->url, sql);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return strdup("");
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* A paid order on a provider-backed product, provisioned to running. */
static char *instance_on(env *e, const char *iface, const char *product, const char *cust)
{
    bill_order_input oi = {.version = BILL_ORDER_INPUT_VERSION, .customer_id = cust, .product_id = product};
    bill_order *o = NULL;
    ck_assert_int_eq(bill_order_create(e->db, e->plugins, &cli, &oi, &o), BILL_OK);
    ck_assert_int_eq(bill_order_pay(e->db, e->plugins, &cli, o->id, NULL, NULL), BILL_OK);
    run_events(e, 4);
    ck_assert_int_eq(count(e, "SELECT count(*) FROM instances WHERE order_id = '%s' AND status "
                              "= 'running' AND provider_instance_id = 'vm-' || '%s'",
                           o->id, o->id),
                     1);
    bill_instances l = {0};
    bill_instance_filter f = {.version = BILL_INSTANCE_FILTER_VERSION, .customer_id = cust, .provider_id = iface};
    ck_assert_int_eq(bill_instance_list(e->db, &cli, &f, NULL, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 1);
    char *id = strdup(l.items[0].id);
    bill_instances_clear(&l);
    bill_order_free(o);
    return id;
}

START_TEST(test_billing_actions__retried_until_done_old_plugins_still_load)
{
    env e;
    env_up(&e);
    char *c1 = fx_customer(e.db, "Old", "old@example.com", 1000);
    char *c2 = fx_customer(e.db, "New", "new@example.com", 1000);
    char *prod1 = fx_product(e.db, "Old VPS", 1000, e.p1, NULL);
    char *prod2 = fx_product(e.db, "New VPS", 1000, e.p2, NULL);
    char *big2 = fx_product(e.db, "New VPS L", 1000, e.p2, "{\"cpu\": 4}");
    e.now = at("2027-01-10T08:00:00Z");
    char *i1 = instance_on(&e, e.p1, prod1, c1);
    char *i2 = instance_on(&e, e.p2, prod2, c2);

    /* both renewals go unpaid; Feb 13: suspended (billing), actions queued */
    bill_billing_report r;
    e.now = at("2027-02-03T00:00:00Z");
    ck_assert_int_eq(bill_billing_run(e.db, e.plugins, NULL, &r), BILL_OK);
    ck_assert_int_eq(r.payment_failed, 2);
    bill_billing_report_clear(&r);
    e.now = at("2027-02-13T00:00:00Z");
    ck_assert_int_eq(bill_billing_run(e.db, e.plugins, NULL, &r), BILL_OK);
    ck_assert_int_eq(r.suspended, 2);
    ck_assert_int_eq(r.actions, 2);
    bill_billing_report_clear(&r);
    ck_assert_int_eq(count(&e, "SELECT count(*) FROM events WHERE kind = 'provider.action' AND "
                               "status = 'pending' AND payload->>'instance_id' IN ('%s', '%s')",
                           i1, i2),
                     2);

    /* the new plugin fails twice: the action is retried and shows as failing,
     * while the instance stays suspended as billing decided */
    int n = 0;
    ck_assert_int_eq(bill_events_run_once(e.events, 50, &n), BILL_OK);
    bill_event_rows rows = {0};
    ck_assert_int_eq(bill_events_list(e.db, "failing", "provider.action", NULL, &rows), BILL_OK);
    ck_assert_uint_eq(rows.count, 1);
    ck_assert_ptr_nonnull(strstr(rows.items[0].last_error, "provider busy"));
    ck_assert_ptr_nonnull(strstr(rows.items[0].payload_json, i2));
    bill_event_rows_clear(&rows);
    /* each filter narrows: no notice is failing, no action is dead */
    ck_assert_int_eq(bill_events_list(e.db, "failing", "notify", NULL, &rows), BILL_OK);
    ck_assert_uint_eq(rows.count, 0);
    bill_event_rows_clear(&rows);
    ck_assert_int_eq(bill_events_list(e.db, "dead", "provider.action", NULL, &rows), BILL_OK);
    ck_assert_uint_eq(rows.count, 0);
    bill_event_rows_clear(&rows);
    bill_billing_summary s;
    ck_assert_int_eq(bill_billing_summary_get(e.db, &cli, 7, &s), BILL_OK);
    ck_assert_int_eq(s.failing_actions, 1);
    ck_assert_int_eq(s.suspended_instances, 2);
    ck_assert_int_eq(count(&e, "SELECT count(*) FROM instances WHERE id IN ('%s', '%s') AND "
                               "status = 'suspended'", i1, i2),
                     2);
    run_events(&e, 6);
    ck_assert_int_eq(count(&e, "SELECT count(*) FROM events WHERE kind = 'provider.action' AND "
                               "status = 'done' AND attempts = 3 AND payload->>'instance_id' = "
                               "'%s'", i2),
                     1);
    char *log2 = slurp(e.log2);
    ck_assert_ptr_nonnull(strstr(log2, "fail suspend"));
    char want[128];
    snprintf(want, sizeof want, "suspend vm-");
    ck_assert_ptr_nonnull(strstr(log2, want));
    free(log2);
    /* the old plugin has no "suspend": done at once, written down for a person */
    ck_assert_int_eq(count(&e, "SELECT count(*) FROM events WHERE kind = 'provider.action' AND "
                               "status = 'done' AND attempts = 1 AND payload->>'instance_id' = "
                               "'%s'", i1),
                     1);
    ck_assert_int_eq(count(&e, "SELECT count(*) FROM operation_logs WHERE action = "
                               "'instance.provider_action_unsupported' AND target_id = '%s'",
                           i1),
                     1);

    /* paid: unsuspended at once, the provider told */
    ck_assert_int_eq(bill_balance_change(e.db, &cli, c2, BILL_BALANCE_RECHARGE, 5000, NULL, NULL,
                                         NULL),
                     BILL_OK);
    e.now = at("2027-02-14T00:00:00Z");
    ck_assert_int_eq(bill_billing_run(e.db, e.plugins, NULL, &r), BILL_OK);
    ck_assert_int_eq(r.unsuspended, 1);
    bill_billing_report_clear(&r);
    run_events(&e, 8);
    log2 = slurp(e.log2);
    ck_assert_ptr_nonnull(strstr(log2, "unsuspend vm-"));
    free(log2);

    /* a plan change reaches the v2 plugin through change_plan, with the new specs */
    e.now = at("2027-02-20T00:00:00Z");
    bill_billing_change ch;
    int rc = bill_instance_change_product(e.db, e.plugins, &cli, i2, big2, false, &ch);
    ck_assert_msg(rc == BILL_OK, "%s", bill_error_last()->message);
    bill_billing_change_clear(&ch);
    run_events(&e, 8);
    log2 = slurp(e.log2);
    ck_assert_ptr_nonnull(strstr(log2, "change_plan vm-"));
    ck_assert_ptr_nonnull(strstr(log2, "\"cpu\": 4"));
    free(log2);
    ck_assert_int_eq(count(&e, "SELECT count(*) FROM events WHERE kind = 'provider.action' AND "
                               "status <> 'done' AND payload->>'instance_id' = '%s'", i2),
                     0);
    /* and the old plugin, which cannot, gets it written down */
    ck_assert_int_eq(bill_plugin_provider_change_plan(NULL, "x", "{}", NULL), BILL_EINVALID);
    bill_plugin_instance *pi = NULL;
    ck_assert_int_eq(bill_plugin_host_get_provider(e.plugins, e.p1, &pi), BILL_OK);
    ck_assert_int_eq(bill_plugin_provider_change_plan(pi, "vm-x", "{}", NULL), BILL_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "version 1"));
    bill_plugin_instance_release(pi);

    /* termination through the old plugin works (it knows "terminate") */
    e.now = at("2027-02-24T00:00:00Z");
    ck_assert_int_eq(bill_billing_run(e.db, e.plugins, NULL, &r), BILL_OK);
    ck_assert_int_eq(r.terminated, 1);
    bill_billing_report_clear(&r);
    run_events(&e, 2);
    char *log1 = slurp(e.log1);
    ck_assert_ptr_nonnull(strstr(log1, "terminate vm-"));
    free(log1);

    free(i1), free(i2), free(c1), free(c2), free(prod1), free(prod2), free(big2);
    env_down(&e);
}
END_TEST

BILL_TEST_MAIN("billing_actions", 120, NULL, NULL,
               test_billing_actions__retried_until_done_old_plugins_still_load);
