/*
 * test_plugin_rustbill.c — provider-rustbill against a second, REAL
 * bill-server (the upstream) started with tests/support/server_harness.h on
 * its own fresh database. The upstream is seeded through libbill on that
 * database (a customer with a balance and can_create_api_keys, an API key,
 * an active product); everything else goes through the plugin over
 * gRPC-Web with the API key:
 *   - health (GET /health), list_upstream_products sees the product,
 *     spec_template answers an object with a fields array;
 *   - create_instance makes an upstream order paid from the balance (the
 *     ledger and the order row upstream prove it), a retried create of the
 *     same order returns it without buying again, get_instance mirrors it;
 *   - start/stop/reboot/terminate run InstanceService's methods on the
 *     upstream instance of the order (its status changes upstream);
 *     before the order has an instance they are BILL_ENOTFOUND; suspend
 *     (no customer RPC upstream) is BILL_EUNSUPPORTED, changing nothing;
 *   - a wrong API key is BILL_EUNAUTH naming grpc-status 16 on create and
 *     get, and nothing changes upstream (no order, same balance);
 *   - an unknown upstream order is BILL_ENOTFOUND;
 *   - a balance too small upstream fails PayOrder cleanly, nothing charged.
 */
#include "check_main.h"
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bill/apikey.h>
#include <bill/balance.h>
#include <bill/bill.h>
#include <bill/customer.h>
#include <bill/plugin_host.h>
#include <bill/product.h>

#include "pg_harness.h"
#include "server_harness.h"

#define SO BUILTIN_PLUGIN_DIR "/provider-rustbill/provider-rustbill.so"

static bill_test_server srv;
static bill_db *updb;
static bill_plugins *plugins;
static char *cust_id, *api_key, *product_id;

static void setup(void)
{
    bill_db_options o;
    bill_plugins_options po;
    bill_customer_input in = {.version = BILL_CUSTOMER_INPUT_VERSION,
                              .name = "Reseller Ltd", .email = "reseller@example.com",
                              .can_create_api_keys = true};
    bill_customer *c = NULL;
    bill_product_input pin = {.version = BILL_PRODUCT_INPUT_VERSION,
                              .name = "Upstream VPS S", .specs_json = "{\"cpu_cores\":\"2\"}",
                              .active = true};
    bill_product *p = NULL;

    ck_assert_msg(bill_test_server_start(&srv, BILL_SERVER_BIN, NULL) == 0,
                  "upstream bill-server did not start");
    bill_db_options_init(&o);
    o.url = srv.db_url;
    o.min_connections = 1;
    o.max_connections = 2;
    ck_assert_int_eq(bill_db_open(&updb, &o), BILL_OK);
    ck_assert_int_eq(bill_customer_create(updb, NULL, &in, &c), BILL_OK);
    cust_id = strdup(c->id);
    bill_customer_free(c);
    ck_assert_int_eq(bill_balance_change(updb, NULL, cust_id, BILL_BALANCE_RECHARGE, 10000, NULL,
                                         "reseller funds", NULL), BILL_OK);
    ck_assert_int_eq(bill_apikey_create(updb, NULL, cust_id, "downstream", 0, &api_key, NULL),
                     BILL_OK);
    pin.has_price[BILL_CYCLE_MONTHLY] = true;
    pin.prices[BILL_CYCLE_MONTHLY] = 1500;
    ck_assert_int_eq(bill_product_create(updb, NULL, &pin, &p), BILL_OK);
    product_id = strdup(p->id);
    bill_product_free(p);

    bill_plugins_options_init(&po);
    po.plugins_dir = "/nonexistent";
    ck_assert_int_eq(bill_plugins_new(&plugins, &po), BILL_OK);
    ck_assert_int_eq(bill_plugins_load_file(plugins, SO, NULL), BILL_OK);
}

static void teardown(void)
{
    bill_plugins_free(plugins);
    bill_db_close(updb);
    free(cust_id);
    free(api_key);
    free(product_id);
    ck_assert_int_eq(bill_test_server_stop(&srv, SIGTERM, 15000), 0);
}

static bill_plugin_instance *open_rb(const char *key)
{
    char cfg[512];
    bill_plugin_instance *inst = NULL;
    snprintf(cfg, sizeof cfg, "{\"upstream_url\":\"http://127.0.0.1:%d/\",\"api_key\":\"%s\","
             "\"timeout\":20}", srv.port, key);
    ck_assert_int_eq(bill_plugin_instance_open(plugins, BILL_PLUGIN_UPSTREAM_PROVIDER,
                                               "provider-rustbill", cfg, &inst), BILL_OK);
    return inst;
}

/* Upstream balance in cents. */
static long long balance_cents(void)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT (balance * 100)::bigint FROM customers WHERE id = '%s'",
             cust_id);
    return bill_test_pg_query_ll(srv.db_url, sql);
}

START_TEST(test_config_refused)
{
    bill_plugin_instance *inst = NULL;
    ck_assert_int_eq(bill_plugin_instance_open(plugins, BILL_PLUGIN_UPSTREAM_PROVIDER,
                                               "provider-rustbill",
                                               "{\"upstream_url\":\"ftp://x\",\"api_key\":\"k\"}",
                                               &inst), BILL_EINVALID);
    ck_assert_ptr_null(inst);
    ck_assert_int_eq(bill_plugin_instance_open(plugins, BILL_PLUGIN_UPSTREAM_PROVIDER,
                                               "provider-rustbill",
                                               "{\"upstream_url\":\"http://127.0.0.1:1\"}",
                                               &inst), BILL_EINVALID);
    ck_assert_ptr_null(inst);
}
END_TEST

START_TEST(test_resell_flow)
{
    bill_plugin_instance *rb = open_rb(api_key);
    bill_provider_instance pi = {0};
    char *json = NULL, *detail = NULL, *order = NULL, sql[1024];
    json_object *doc, *v;
    bool seen = false;
    const char *down_order = "5a0d7c1e-2b3f-4a5e-8c6d-7e8f9a0b1c2d";
    bill_provider_create_request req = {
        .version = BILL_PROVIDER_CREATE_REQUEST_VERSION,
        .order_id = down_order,
        .customer_id = "0b6f4c2a-1d3e-4f5a-9b8c-7d6e5f4a3b2c",
        .spec_json = "{\"cpu_cores\":2,\"memory_gb\":\"4\",\"os\":\"debian-12\",\"note\":\"x\"}",
        .upstream_product_id = product_id,
    };

    ck_assert_int_eq(bill_plugin_health(rb, &detail), BILL_OK);
    ck_assert_ptr_nonnull(strstr(detail, "200"));
    free(detail);

    ck_assert_int_eq(bill_plugin_provider_list_upstream_products(rb, &json), BILL_OK);
    doc = json_tokener_parse(json);
    ck_assert_ptr_nonnull(doc);
    for (size_t i = 0; i < json_object_array_length(doc); i++) {
        json_object *p = json_object_array_get_idx(doc, i);
        ck_assert(json_object_object_get_ex(p, "id", &v));
        if (strcmp(json_object_get_string(v), product_id) != 0)
            continue;
        seen = true;
        ck_assert(json_object_object_get_ex(p, "name", &v));
        ck_assert_str_eq(json_object_get_string(v), "Upstream VPS S");
        ck_assert(json_object_object_get_ex(p, "specs", &v));
        ck_assert(json_object_object_get_ex(v, "cpu_cores", &v));
        ck_assert_str_eq(json_object_get_string(v), "2");
    }
    ck_assert_msg(seen, "upstream product %s not listed: %s", product_id, json);
    json_object_put(doc);
    free(json);

    ck_assert_int_eq(bill_plugin_provider_spec_template(rb, &json), BILL_OK);
    doc = json_tokener_parse(json);
    ck_assert(json_object_object_get_ex(doc, "fields", &v));
    ck_assert(json_object_is_type(v, json_type_array));
    json_object_put(doc);
    free(json);

    /* Buy: the upstream order is paid from the reseller's balance. */
    ck_assert_int_eq(balance_cents(), 10000);
    ck_assert_int_eq(bill_plugin_provider_create(rb, &req, &pi), BILL_OK);
    ck_assert_ptr_nonnull(pi.provider_instance_id);
    ck_assert_int_eq(pi.status, BILL_PROVIDER_PROVISIONING);
    order = strdup(pi.provider_instance_id);
    bill_provider_instance_clear(&pi);
    ck_assert_int_eq(balance_cents(), 8500);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM orders WHERE id = '%s' AND customer_id = '%s'"
             " AND product_id = '%s' AND status <> 'pending' AND total_amount = 15.00"
             " AND notes LIKE '%%%s%%' AND (server_spec->>'cpu_cores')::int = 2"
             " AND server_spec->>'os' = 'debian-12'", order, cust_id, product_id, down_order);
    ck_assert_int_eq(bill_test_pg_query_ll(srv.db_url, sql), 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM balance_transactions WHERE customer_id = '%s'"
             " AND amount = -15.00", cust_id);
    ck_assert_int_eq(bill_test_pg_query_ll(srv.db_url, sql), 1);

    /* A retried create of the same downstream order finds it: no second buy. */
    ck_assert_int_eq(bill_plugin_provider_create(rb, &req, &pi), BILL_OK);
    ck_assert_str_eq(pi.provider_instance_id, order);
    bill_provider_instance_clear(&pi);
    ck_assert_int_eq(balance_cents(), 8500);
    ck_assert_int_eq(bill_test_pg_query_ll(srv.db_url, "SELECT count(*) FROM orders"), 1);

    /* Mirror: no instance upstream yet (its product has no provider). */
    ck_assert_int_eq(bill_plugin_provider_get(rb, order, &pi), BILL_OK);
    ck_assert_str_eq(pi.provider_instance_id, order);
    ck_assert_int_eq(pi.status, BILL_PROVIDER_PROVISIONING);
    ck_assert_ptr_nonnull(pi.message);
    ck_assert_ptr_nonnull(strstr(pi.message, "upstream order"));
    bill_provider_instance_clear(&pi);

    /* No instance upstream yet: nothing to act on. */
    ck_assert_int_eq(bill_plugin_provider_action(rb, order, "stop"), BILL_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "has no instance yet"));

    /* Once upstream has an instance for the order, its state and IP show. */
    snprintf(sql, sizeof sql, "INSERT INTO instances (order_id, customer_id, product_id, status,"
             " ip_address) VALUES ('%s', '%s', '%s', 'running', '203.0.113.7')", order, cust_id,
             product_id);
    ck_assert_int_eq(bill_test_pg_exec(srv.db_url, sql), 0);
    ck_assert_int_eq(bill_plugin_provider_get(rb, order, &pi), BILL_OK);
    ck_assert_int_eq(pi.status, BILL_PROVIDER_RUNNING);
    ck_assert_str_eq(pi.ip_address, "203.0.113.7");
    bill_provider_instance_clear(&pi);

    ck_assert_int_eq(bill_plugin_provider_detail_sections(rb, order, &json), BILL_OK);
    ck_assert_ptr_nonnull(strstr(json, order));
    free(json);

    /* Actions reach the upstream instance through InstanceService. */
    snprintf(sql, sizeof sql, "SELECT count(*) FROM instances WHERE order_id = '%s' AND status = "
             "'stopped'", order);
    ck_assert_int_eq(bill_plugin_provider_action(rb, order, "stop"), BILL_OK);
    ck_assert_int_eq(bill_test_pg_query_ll(srv.db_url, sql), 1);
    ck_assert_int_eq(bill_plugin_provider_get(rb, order, &pi), BILL_OK);
    ck_assert_int_eq(pi.status, BILL_PROVIDER_STOPPED);
    bill_provider_instance_clear(&pi);
    ck_assert_int_eq(bill_plugin_provider_action(rb, order, "start"), BILL_OK);
    ck_assert_int_eq(bill_plugin_provider_get(rb, order, &pi), BILL_OK);
    ck_assert_int_eq(pi.status, BILL_PROVIDER_RUNNING);
    bill_provider_instance_clear(&pi);
    ck_assert_int_eq(bill_plugin_provider_action(rb, order, "reboot"), BILL_OK);
    ck_assert_int_eq(bill_plugin_provider_get(rb, order, &pi), BILL_OK);
    ck_assert_int_eq(pi.status, BILL_PROVIDER_RUNNING);
    bill_provider_instance_clear(&pi);
    /* No customer RPC upstream for suspend: refused, upstream unchanged. */
    ck_assert_int_eq(bill_plugin_provider_action(rb, order, "suspend"), BILL_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "start, stop, reboot and terminate"));
    ck_assert_int_eq(bill_plugin_provider_get(rb, order, &pi), BILL_OK);
    ck_assert_int_eq(pi.status, BILL_PROVIDER_RUNNING);
    bill_provider_instance_clear(&pi);
    ck_assert_int_eq(bill_plugin_provider_action(rb, order, "terminate"), BILL_OK);
    ck_assert_int_eq(bill_plugin_provider_get(rb, order, &pi), BILL_OK);
    ck_assert_int_eq(pi.status, BILL_PROVIDER_TERMINATED);
    bill_provider_instance_clear(&pi);

    ck_assert_int_eq(bill_plugin_provider_get(rb, "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b", &pi),
                     BILL_ENOTFOUND);
    bill_provider_instance_clear(&pi);

    free(order);
    bill_plugin_instance_release(rb);
}
END_TEST

START_TEST(test_wrong_key)
{
    bill_plugin_instance *rb = open_rb("rbk_notarealkey0123456789abcdef");
    bill_provider_instance pi = {0};
    char *json = NULL;
    bill_provider_create_request req = {
        .version = BILL_PROVIDER_CREATE_REQUEST_VERSION,
        .order_id = "6b1e8d2f-3c4a-4b6f-9d7e-8f9a0b1c2d3e",
        .spec_json = "{}",
        .upstream_product_id = product_id,
    };

    ck_assert_int_eq(bill_plugin_provider_create(rb, &req, &pi), BILL_EUNAUTH);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "grpc-status 16"));
    ck_assert_ptr_null(pi.provider_instance_id);
    /* The catalog is public upstream (a bad key only fails methods that
     * need a login), so the key is proven on order reads instead. */
    ck_assert_int_eq(bill_plugin_provider_get(rb, "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b", &pi),
                     BILL_EUNAUTH);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "API key"));
    bill_provider_instance_clear(&pi);
    ck_assert_int_eq(bill_test_pg_query_ll(srv.db_url, "SELECT count(*) FROM orders"), 0);
    ck_assert_int_eq(balance_cents(), 10000);
    bill_plugin_instance_release(rb);

    /* A live upstream with our real key still works afterwards. */
    rb = open_rb(api_key);
    ck_assert_int_eq(bill_plugin_provider_list_upstream_products(rb, &json), BILL_OK);
    ck_assert_ptr_nonnull(strstr(json, product_id));
    free(json);
    bill_plugin_instance_release(rb);
}
END_TEST

START_TEST(test_insufficient_balance)
{
    bill_plugin_instance *rb = open_rb(api_key);
    bill_provider_instance pi = {0};
    bill_product_input pin = {.version = BILL_PRODUCT_INPUT_VERSION,
                              .name = "Upstream VPS XL", .active = true};
    bill_product *p = NULL;
    bill_provider_create_request req = {
        .version = BILL_PROVIDER_CREATE_REQUEST_VERSION,
        .order_id = "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b",
        .spec_json = "{}",
    };

    pin.has_price[BILL_CYCLE_MONTHLY] = true;
    pin.prices[BILL_CYCLE_MONTHLY] = 20000; /* more than the 100.00 balance */
    ck_assert_int_eq(bill_product_create(updb, NULL, &pin, &p), BILL_OK);
    req.upstream_product_id = p->id;
    ck_assert_int_eq(bill_plugin_provider_create(rb, &req, &pi), BILL_ESTATE);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "PayOrder"));
    ck_assert_ptr_null(pi.provider_instance_id);
    ck_assert_int_eq(balance_cents(), 10000);
    /* The unpaid order stays pending upstream; nothing was charged. */
    ck_assert_int_eq(bill_test_pg_query_ll(srv.db_url,
                                           "SELECT count(*) FROM orders WHERE status = 'pending'"),
                     1);
    bill_product_free(p);
    bill_plugin_instance_release(rb);
}
END_TEST

/* bill-cli product import-upstream's library call: the downstream catalog
 * gains the upstream product (cost = upstream price, price = cost x ratio,
 * half-to-even), importing again updates instead of duplicating, a dry run
 * changes nothing, and customers may not import. */
START_TEST(test_import_upstream_products)
{
    static const unsigned char key[32] = {7};
    char *down_url = NULL, cfg[512], iface[37], sql[512];
    bill_db *down = bill_test_db_new_url(&down_url);
    bill_plugins *dp = NULL;
    bill_plugins_options po;
    int created = -1, updated = -1;
    const bill_actor cust = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = cust_id};

    bill_plugins_options_init(&po);
    po.plugins_dir = "/nonexistent";
    po.db = down;
    po.master_key = key;
    ck_assert_int_eq(bill_plugins_new(&dp, &po), BILL_OK);
    ck_assert_int_eq(bill_plugins_load_file(dp, SO, NULL), BILL_OK);
    snprintf(cfg, sizeof cfg, "{\"upstream_url\":\"http://127.0.0.1:%d/\",\"api_key\":\"%s\","
             "\"timeout\":20}", srv.port, api_key);
    ck_assert_int_eq(bill_plugin_interface_create(dp, NULL, BILL_PLUGIN_UPSTREAM_PROVIDER,
                                                  "provider-rustbill", "Upstream", cfg, true,
                                                  iface), BILL_OK);

    /* customers cannot import; nothing changes */
    ck_assert_int_eq(bill_product_import_upstream(down, &cust, dp, iface, NULL, "1.1", false,
                                                  &created, &updated), BILL_EDENIED);
    /* a bad ratio is refused before any call */
    ck_assert_int_eq(bill_product_import_upstream(down, NULL, dp, iface, NULL, "abc", false,
                                                  &created, &updated), BILL_EINVALID);
    /* dry run counts, changes nothing */
    ck_assert_int_eq(bill_product_import_upstream(down, NULL, dp, iface, NULL, "1.1", true,
                                                  &created, &updated), BILL_OK);
    ck_assert_int_eq(created, 1);
    ck_assert_int_eq(bill_test_pg_query_ll(down_url, "SELECT count(*) FROM products"), 0);

    ck_assert_int_eq(bill_product_import_upstream(down, NULL, dp, iface, NULL, "1.1", false,
                                                  &created, &updated), BILL_OK);
    ck_assert_int_eq(created, 1);
    ck_assert_int_eq(updated, 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM products p JOIN product_prices pp ON pp.product_id = p.id "
             "WHERE p.upstream_product_id = '%s' AND p.provider_interface_id = '%s' "
             "AND p.name = 'Upstream VPS S' AND p.cost_price = 15.00 AND p.price = 16.50 "
             "AND pp.cycle = 'monthly' AND pp.price = 16.50 AND p.specs->>'cpu_cores' = '2'",
             product_id, iface);
    ck_assert_int_eq(bill_test_pg_query_ll(down_url, sql), 1);

    /* again, with another ratio: updated in place, 15.00 x 1.25 = 18.75 */
    ck_assert_int_eq(bill_product_import_upstream(down, NULL, dp, iface, NULL, "1.25", false,
                                                  &created, &updated), BILL_OK);
    ck_assert_int_eq(created, 0);
    ck_assert_int_eq(updated, 1);
    ck_assert_int_eq(bill_test_pg_query_ll(down_url, "SELECT count(*) FROM products"), 1);
    ck_assert_int_eq(bill_test_pg_query_ll(down_url,
                                           "SELECT (price * 100)::bigint FROM product_prices"),
                     1875);
    ck_assert_int_eq(bill_test_pg_query_ll(
                         down_url, "SELECT count(*) FROM operation_logs WHERE action LIKE "
                                   "'product.%import'"),
                     2);

    bill_plugins_free(dp);
    bill_db_close(down);
    free(down_url);
}
END_TEST

BILL_TEST_MAIN("plugin_rustbill", 120, setup, teardown,
               test_config_refused, test_resell_flow, test_wrong_key, test_insufficient_balance,
               test_import_upstream_products);
