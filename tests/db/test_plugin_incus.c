/*
 * test_plugin_incus.c — provider-incus against a real HTTPS peer
 * (tests/peers/incus_server.py) that requires a client certificate from a
 * CA made by the openssl CLI in the test (tests/peers/make_certs.sh):
 *   - full life cycle: create (POST + operation wait, limits and root size
 *     from the spec), boot until an IPv4 shows, detail sections, stop,
 *     start, reboot, terminate (forced stop + DELETE), then "terminated";
 *   - a retried create of the same order finds the same instance;
 *   - a failing image operation is an error naming the cause;
 *   - without a client certificate, or with one from another CA, the TLS
 *     handshake fails (BILL_EUNAVAILABLE) and the peer never sees a request;
 *   - the spec template offers cpu_cores/memory_gb/disk_gb/os.
 */
#include "check_main.h"
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bill/bill.h>
#include <bill/plugin_host.h>
#include "peer_harness.h"
#include "plugin_fixture.h"

#define SO BUILTIN_PLUGIN_DIR "/provider-incus/provider-incus.so"

typedef struct env {
    bill_peer peer;
    char certs[64];
    bill_plugins *plugins;
} env;

static void env_up(env *e)
{
    memset(e, 0, sizeof *e);
    bill_peer_start_incus(&e->peer, e->certs);
    e->plugins = fx_registry_file(SO);
}

static void env_down(env *e)
{
    bill_peer_stop_incus(&e->peer, e->certs);
    bill_plugins_free(e->plugins);
}

/* client: "client", "rogue" or NULL (no certificate). */
static bill_plugin_instance *open_incus(env *e, const char *client)
{
    char cfg[1024];
    bill_plugin_instance *inst = NULL;
    if (client)
        snprintf(cfg, sizeof cfg, "{\"url\":\"https://127.0.0.1:%d\",\"ca_file\":\"%s/ca.pem\","
                 "\"client_cert\":\"%s/%s.pem\",\"client_key\":\"%s/%s.key\","
                 "\"operation_timeout\":10}", e->peer.port, e->certs, e->certs, client,
                 e->certs, client);
    else
        snprintf(cfg, sizeof cfg, "{\"url\":\"https://127.0.0.1:%d\",\"ca_file\":\"%s/ca.pem\","
                 "\"client_cert\":\"\",\"client_key\":\"\"}", e->peer.port, e->certs);
    ck_assert_int_eq(bill_plugin_instance_open(e->plugins, BILL_PLUGIN_FIRST_PARTY_PROVIDER,
                                               "provider-incus", cfg, &inst), BILL_OK);
    return inst;
}

static const char *ORDER = "7d0c9a52-1b3e-4c55-9a1f-0e2d3c4b5a69";
static const char *NAME = "bill-7d0c9a521b3e4c559a1f0e2d3c4b5a69";

START_TEST(test_plugin_incus__life_cycle_over_mtls)
{
    env e;
    bill_plugin_instance *inc;
    bill_provider_instance pi = {0};
    bill_provider_create_request req = {
        .version = BILL_PROVIDER_CREATE_REQUEST_VERSION, .order_id = ORDER,
        .customer_id = "c-1",
        .spec_json = "{\"cpu_cores\":2,\"memory_gb\":4,\"disk_gb\":40,\"os\":\"debian/12\"}"};
    char *body, *json = NULL, path[64];
    json_object *doc, *v, *cfg;
    bool healthy_detail;

    env_up(&e);
    inc = open_incus(&e, "client");
    ck_assert_int_eq(bill_plugin_health(inc, &json), BILL_OK);
    healthy_detail = json && strcmp(json, "trusted") == 0;
    ck_assert(healthy_detail);
    free(json);
    json = NULL;

    ck_assert_int_eq(bill_plugin_provider_create(inc, &req, &pi), BILL_OK);
    ck_assert_str_eq(pi.provider_instance_id, NAME);
    ck_assert_int_eq(pi.status, BILL_PROVIDER_PROVISIONING);
    bill_provider_instance_clear(&pi);
    snprintf(path, sizeof path, "create-%s.json", NAME);
    body = bill_peer_read(&e.peer, path);
    ck_assert_ptr_nonnull(body);
    doc = json_tokener_parse(body);
    ck_assert(json_object_object_get_ex(doc, "config", &cfg));
    ck_assert(json_object_object_get_ex(cfg, "limits.cpu", &v));
    ck_assert_str_eq(json_object_get_string(v), "2");
    ck_assert(json_object_object_get_ex(cfg, "limits.memory", &v));
    ck_assert_str_eq(json_object_get_string(v), "4GiB");
    ck_assert(json_object_object_get_ex(doc, "source", &v));
    ck_assert(json_object_object_get_ex(v, "alias", &v));
    ck_assert_str_eq(json_object_get_string(v), "debian/12");
    ck_assert(json_object_object_get_ex(doc, "devices", &v));
    ck_assert(json_object_object_get_ex(v, "root", &v));
    ck_assert(json_object_object_get_ex(v, "size", &v));
    ck_assert_str_eq(json_object_get_string(v), "40GiB");
    json_object_put(doc);
    free(body);

    /* Booting: running but no address yet, then the IPv4 (never lo's). */
    ck_assert_int_eq(bill_plugin_provider_get(inc, NAME, &pi), BILL_OK);
    ck_assert_int_eq(pi.status, BILL_PROVIDER_RUNNING);
    ck_assert_ptr_null(pi.ip_address);
    bill_provider_instance_clear(&pi);
    ck_assert_int_eq(bill_plugin_provider_get(inc, NAME, &pi), BILL_OK);
    ck_assert_str_eq(pi.ip_address, "10.0.0.10");
    bill_provider_instance_clear(&pi);

    /* Retried create of the same order: same instance, no second POST. */
    ck_assert_int_eq(bill_plugin_provider_create(inc, &req, &pi), BILL_OK);
    ck_assert_str_eq(pi.provider_instance_id, NAME);
    bill_provider_instance_clear(&pi);

    ck_assert_int_eq(bill_plugin_provider_detail_sections(inc, NAME, &json), BILL_OK);
    ck_assert_ptr_nonnull(strstr(json, "\"IPv4\":\"10.0.0.10\""));
    ck_assert_ptr_nonnull(strstr(json, "\"title\":\"Incus\""));
    free(json);
    json = NULL;

    ck_assert_int_eq(bill_plugin_provider_action(inc, NAME, "stop"), BILL_OK);
    ck_assert_int_eq(bill_plugin_provider_get(inc, NAME, &pi), BILL_OK);
    ck_assert_int_eq(pi.status, BILL_PROVIDER_STOPPED);
    bill_provider_instance_clear(&pi);
    ck_assert_int_eq(bill_plugin_provider_action(inc, NAME, "stop"), BILL_EPLUGIN);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "already stopped"));
    ck_assert_int_eq(bill_plugin_provider_action(inc, NAME, "start"), BILL_OK);
    ck_assert_int_eq(bill_plugin_provider_action(inc, NAME, "reboot"), BILL_OK);
    /* Unknown actions never reach the plugin: the host refuses them. */
    ck_assert_int_eq(bill_plugin_provider_action(inc, NAME, "rebuild"), BILL_EINVALID);
    ck_assert_int_eq(bill_plugin_provider_action(inc, NAME, "terminate"), BILL_OK);
    ck_assert_int_eq(bill_plugin_provider_get(inc, NAME, &pi), BILL_OK);
    ck_assert_int_eq(pi.status, BILL_PROVIDER_TERMINATED);
    bill_provider_instance_clear(&pi);
    body = bill_peer_read(&e.peer, "actions.log");
    snprintf(path, sizeof path, "%s delete", NAME);
    ck_assert_ptr_nonnull(strstr(body, path));
    ck_assert_ptr_nonnull(strstr(body, "restart"));
    free(body);
    /* Every request came with our client certificate. */
    body = bill_peer_read(&e.peer, "requests.log");
    ck_assert_ptr_nonnull(strstr(body, "POST /1.0/instances libbill-client"));
    ck_assert_ptr_null(strstr(body, "None"));
    free(body);
    bill_plugin_instance_release(inc);
    env_down(&e);
}
END_TEST

START_TEST(test_plugin_incus__failed_image_operation)
{
    env e;
    bill_plugin_instance *inc;
    bill_provider_instance pi = {0};
    bill_provider_create_request req = {
        .version = BILL_PROVIDER_CREATE_REQUEST_VERSION, .order_id = ORDER,
        .spec_json = "{\"cpu_cores\":1,\"memory_gb\":1,\"disk_gb\":10,\"os\":\"broken/image\"}"};
    env_up(&e);
    inc = open_incus(&e, "client");
    ck_assert_int_eq(bill_plugin_provider_create(inc, &req, &pi), BILL_EPLUGIN);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "Failed getting image"));
    ck_assert_ptr_null(pi.provider_instance_id);
    req.spec_json = "{\"cpu_cores\":0}";
    ck_assert_int_eq(bill_plugin_provider_create(inc, &req, &pi), BILL_EINVALID);
    bill_plugin_instance_release(inc);
    env_down(&e);
}
END_TEST

START_TEST(test_plugin_incus__handshake_needs_our_client_cert)
{
    env e;
    bill_plugin_instance *inc;
    bill_provider_instance pi = {0};
    char *detail = NULL, *log;
    env_up(&e);
    inc = open_incus(&e, NULL);
    ck_assert_int_eq(bill_plugin_health(inc, &detail), BILL_EUNAVAILABLE);
    ck_assert_int_eq(bill_plugin_provider_get(inc, NAME, &pi), BILL_EUNAVAILABLE);
    bill_plugin_instance_release(inc);
    inc = open_incus(&e, "rogue");
    ck_assert_int_eq(bill_plugin_provider_get(inc, NAME, &pi), BILL_EUNAVAILABLE);
    bill_plugin_instance_release(inc);
    log = bill_peer_read(&e.peer, "requests.log");
    ck_assert_ptr_null(log); /* no request got past the handshake */
    /* The right certificate still works on the same server. */
    inc = open_incus(&e, "client");
    ck_assert_int_eq(bill_plugin_health(inc, &detail), BILL_OK);
    free(detail);
    bill_plugin_instance_release(inc);
    env_down(&e);
}
END_TEST

START_TEST(test_plugin_incus__spec_template)
{
    env e;
    bill_plugin_instance *inc;
    char *json = NULL;
    json_object *doc, *fields;
    env_up(&e);
    inc = open_incus(&e, "client");
    ck_assert_msg(bill_plugin_provider_spec_template(inc, &json) == BILL_OK, "%s", bill_error_last()->message);
    doc = json_tokener_parse(json);
    ck_assert(json_object_object_get_ex(doc, "fields", &fields));
    ck_assert_int_eq(json_object_array_length(fields), 4);
    ck_assert_ptr_nonnull(strstr(json, "\"name\":\"cpu_cores\""));
    ck_assert_ptr_nonnull(strstr(json, "\"name\":\"memory_gb\""));
    ck_assert_ptr_nonnull(strstr(json, "\"name\":\"disk_gb\""));
    ck_assert_ptr_nonnull(strstr(json, "\"debian\\/12\""));
    json_object_put(doc);
    free(json);
    ck_assert_int_eq(bill_plugin_provider_list_upstream_products(inc, &json), BILL_EUNSUPPORTED);
    bill_plugin_instance_release(inc);
    env_down(&e);
}
END_TEST

BILL_TEST_MAIN("plugin_incus", 120, NULL, NULL,
               test_plugin_incus__life_cycle_over_mtls, test_plugin_incus__failed_image_operation,
               test_plugin_incus__handshake_needs_our_client_cert,
               test_plugin_incus__spec_template);
