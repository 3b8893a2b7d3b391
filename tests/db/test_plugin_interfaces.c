/*
 * test_plugin_interfaces.c — configured plugin interfaces on a real
 * PostgreSQL: scanner sync of the plugins table, schema validation, secrets
 * sealed at rest and masked on read, refusal without a master key,
 * enable/disable, health, and the cached instance behind an interface.
 */
#include "check_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bill/bill.h>
#include <bill/plugin_host.h>
#include "db_fixture.h"

static bill_plugins *registry(bill_db *db, const char *dir, bool with_key)
{
    static const unsigned char key[32] = "0123456789abcdef0123456789abcdef";
    bill_plugins_options o;
    bill_plugins *p = NULL;
    bill_plugins_options_init(&o);
    o.plugins_dir = dir;
    o.db = db;
    o.master_key = with_key ? key : NULL;
    ck_assert_int_eq(bill_plugins_new(&p, &o), BILL_OK);
    return p;
}

/* The registry, its plugin file and directory, the database handle. */
static void cleanup(bill_plugins *p, const char *path, const char *dir, bill_db *db, char *url)
{
    bill_plugins_free(p);
    unlink(path);
    rmdir(dir);
    bill_db_close(db);
    free(url);
}

START_TEST(test_plugin_interfaces__secrets_sealed_masked_and_usable)
{
    char *url = NULL;
    bill_db *db = bill_test_db_new_url(&url);
    char dir[] = "/tmp/bill-plugiface-XXXXXX", path[1100], id[37], id2[37];
    bill_plugin_scan_stats st;
    bill_plugin_interface iface;
    bill_plugin_instance *inst = NULL, *again = NULL;
    bill_gateway_payment_info pi;
    bool healthy = false;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/gateway-example.so", dir);
    bill_test_copy_file(EXAMPLE_PLUGIN_DIR "/example_v1.so", path);

    /* Without a master key, secrets are refused (but plain config is fine). */
    bill_plugins *nokey = registry(db, dir, false);
    ck_assert_int_eq(bill_plugins_scan(nokey, &st), BILL_OK);
    ck_assert_int_eq(bill_plugin_interface_create(nokey, NULL, BILL_PLUGIN_GATEWAY,
        "gateway-example", "bank", "{\"account\":\"1\",\"api_key\":\"s3cr3t\"}", true, id),
        BILL_ECONFIG);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "master_key"));
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM plugin_interfaces"), 0);
    bill_plugins_free(nokey);

    bill_plugins *p = registry(db, dir, true);
    ck_assert_int_eq(bill_plugins_scan(p, &st), BILL_OK);
    ck_assert_int_eq(bill_test_pg_query_ll(url,
        "SELECT count(*) FROM plugins WHERE kind = 'gateway' AND plugin_id = 'gateway-example'"
        " AND version = '1' AND length(file_hash) = 64 AND abi_version = 1"
        " AND config_schema ? 'properties'"), 1);
    /* Schema validation names the field. */
    ck_assert_int_eq(bill_plugin_interface_create(p, NULL, BILL_PLUGIN_GATEWAY, "gateway-example",
        "bank", "{\"api_key\":\"x\"}", true, id), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "account");
    ck_assert_int_eq(bill_plugin_interface_create(p, NULL, BILL_PLUGIN_GATEWAY, "gateway-example",
        "bank", "{\"account\":\"1\",\"mode\":\"prod\"}", true, id), BILL_EINVALID);
    ck_assert_int_eq(bill_plugin_interface_create(p, NULL, BILL_PLUGIN_GATEWAY, "nope", "bank",
        "{}", true, id), BILL_ENOTFOUND);
    /* Customers may not manage interfaces. */
    bill_actor cust = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = "x"};
    ck_assert_int_eq(bill_plugin_interface_create(p, &cust, BILL_PLUGIN_GATEWAY, "gateway-example",
        "bank", "{\"account\":\"1\"}", true, id), BILL_EDENIED);

    ck_assert_int_eq(bill_plugin_interface_create(p, NULL, BILL_PLUGIN_GATEWAY, "gateway-example",
        "bank", "{\"account\":\"6222\",\"api_key\":\"s3cr3t-value\",\"mode\":\"live\"}", true, id),
        BILL_OK);
    ck_assert_int_eq(bill_plugin_interface_create(p, NULL, BILL_PLUGIN_GATEWAY, "gateway-example",
        "bank", "{\"account\":\"1\"}", true, id2), BILL_ECONFLICT);
    /* At rest: no clear secret anywhere in the row. */
    ck_assert_int_eq(bill_test_pg_query_ll(url,
        "SELECT count(*) FROM plugin_interfaces WHERE config::text LIKE '%s3cr3t%'"
        " OR encode(secret_config, 'escape') LIKE '%s3cr3t%' OR secret_config IS NULL"), 0);
    ck_assert_int_eq(bill_test_pg_query_ll(url,
        "SELECT count(*) FROM operation_logs WHERE action = 'plugin_interface.create'"
        " AND after::text NOT LIKE '%s3cr3t%'"), 1);
    /* Read: masked. */
    ck_assert_int_eq(bill_plugin_interface_get(p, NULL, id, &iface), BILL_OK);
    ck_assert_ptr_nonnull(strstr(iface.config_json, "\"api_key\":\"********\""));
    ck_assert_ptr_null(strstr(iface.config_json, "s3cr3t"));
    ck_assert_ptr_nonnull(strstr(iface.config_json, "\"account\":\"6222\""));
    ck_assert(iface.enabled);
    ck_assert_int_eq(iface.kind, BILL_PLUGIN_GATEWAY);
    bill_plugin_interface_clear(&iface);

    /* Usable: the plugin gets the config, the instance is cached. */
    ck_assert_int_eq(bill_plugin_host_get_gateway(p, id, &inst), BILL_OK);
    bill_gateway_payment_request req = {.version = 1, .payment_id = "p1", .amount_cents = 100,
                                        .currency = "CNY"};
    ck_assert_int_eq(bill_plugin_gateway_create_payment(inst, &req, &pi), BILL_OK);
    ck_assert_ptr_nonnull(strstr(pi.instructions, "account 6222"));
    bill_gateway_payment_info_clear(&pi);
    ck_assert_int_eq(bill_plugin_host_get(p, id, &again), BILL_OK);
    ck_assert_ptr_eq(again, inst);
    bill_plugin_instance_release(again);
    bill_plugin_instance_release(inst);
    ck_assert_int_eq(bill_plugin_host_get_provider(p, id, &inst), BILL_EINVALID);

    /* Update keeps the masked secret, changes the account; instance rebuilt. */
    ck_assert_int_eq(bill_plugin_interface_update(p, NULL, id, NULL,
        "{\"account\":\"7777\",\"api_key\":\"********\"}"), BILL_OK);
    ck_assert_int_eq(bill_test_pg_query_ll(url,
        "SELECT count(*) FROM plugin_interfaces WHERE secret_config IS NOT NULL"
        " AND config->>'account' = '7777'"), 1);
    ck_assert_int_eq(bill_plugin_host_get(p, id, &inst), BILL_OK);
    ck_assert_int_eq(bill_plugin_gateway_create_payment(inst, &req, &pi), BILL_OK);
    ck_assert_ptr_nonnull(strstr(pi.instructions, "account 7777"));
    bill_gateway_payment_info_clear(&pi);
    bill_plugin_instance_release(inst);
    ck_assert_int_eq(bill_plugin_interface_get(p, NULL, id, &iface), BILL_OK);
    ck_assert_ptr_nonnull(strstr(iface.config_json, "\"api_key\":\"********\""));
    bill_plugin_interface_clear(&iface);

    /* Health is recorded. */
    ck_assert_int_eq(bill_plugin_interface_health(p, NULL, id, &healthy), BILL_OK);
    ck_assert(healthy);
    ck_assert_int_eq(bill_test_pg_query_ll(url,
        "SELECT count(*) FROM plugin_interfaces WHERE is_healthy AND last_health_at IS NOT NULL"), 1);

    /* Disabled interfaces are not callable. */
    ck_assert_int_eq(bill_plugin_interface_set_enabled(p, NULL, id, false), BILL_OK);
    ck_assert_int_eq(bill_plugin_host_get(p, id, &inst), BILL_ESTATE);
    bill_plugin_interfaces list = {0};
    ck_assert_int_eq(bill_plugin_interface_list(p, NULL, 0, &list), BILL_OK);
    ck_assert_uint_eq(list.count, 1);
    ck_assert_uint_eq(list.meta.total, 1);
    ck_assert(!list.items[0].enabled);
    ck_assert_ptr_null(strstr(list.items[0].config_json, "s3cr3t"));
    bill_plugin_interfaces_clear(&list);
    ck_assert_int_eq(bill_plugin_host_get(p, "00000000-0000-4000-8000-000000000000", &inst),
                     BILL_ENOTFOUND);

    cleanup(p, path, dir, db, url);
}
END_TEST

/* Issue 12 §2: a scan of the files only (a cluster member without the
 * writing role) loads the plugins for its process and leaves the catalogue
 * rows alone; the full scan (the role holder) writes them. */
START_TEST(test_plugin_interfaces__scan_files_leaves_the_catalogue)
{
    char *url = NULL;
    bill_db *db = bill_test_db_new_url(&url);
    char dir[] = "/tmp/bill-plugscan-XXXXXX", path[1100];
    bill_plugin_scan_stats st;
    bill_plugin_infos loaded = {0};
    const char *rows = "SELECT count(*) FROM plugins WHERE plugin_id = 'gateway-example'";

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/gateway-example.so", dir);
    bill_test_copy_file(EXAMPLE_PLUGIN_DIR "/example_v1.so", path);
    bill_plugins *p = registry(db, dir, true);
    ck_assert_int_eq(bill_plugins_scan_files(p, &st), BILL_OK);
    ck_assert_int_eq(st.loaded, 1);
    ck_assert_int_eq(bill_plugins_list(p, &loaded), BILL_OK);
    ck_assert_uint_eq(loaded.count, 1);
    bill_plugin_infos_clear(&loaded);
    ck_assert_int_eq(bill_test_pg_query_ll(url, rows), 0);
    ck_assert_int_eq(bill_plugins_scan(p, &st), BILL_OK);
    ck_assert_int_eq(st.unchanged, 1);
    ck_assert_int_eq(bill_test_pg_query_ll(url, rows), 1);
    cleanup(p, path, dir, db, url);
}
END_TEST

BILL_TEST_MAIN("plugin_interfaces", 60, NULL, NULL,
               test_plugin_interfaces__secrets_sealed_masked_and_usable,
               test_plugin_interfaces__scan_files_leaves_the_catalogue);
