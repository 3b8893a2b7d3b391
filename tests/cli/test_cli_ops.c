/*
 * test_cli_ops.c — suite 'cli': the operations commands of bill-cli
 * (plugin interfaces, events, orders, payments, ...) run as the real binary
 * (env BILL_CLI) against a real PostgreSQL database from tests/support.
 *
 * Every command gets its happy path and one bad input, checking the exit
 * code, the message, that stdout stays empty on failure and that the
 * database did not change. Runs happen in a fresh working directory with
 * --database-url, like tests/cli/test_cli.c.
 */
#include "cli_harness.h"
#include "pg_harness.h"

#include "check_main.h"
#include <fcntl.h>
#include <pty.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef EXAMPLE_PLUGIN_DIR
#error "EXAMPLE_PLUGIN_DIR must name the directory of the built example plugins"
#endif
#ifndef BUILTIN_PLUGIN_DIR
#error "BUILTIN_PLUGIN_DIR must name the build directory of plugins/"
#endif

/* 32 bytes, hex: the [security] master_key of the test config. */
#define TEST_MASTER_KEY "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

/* A failed command: exit 1, "bill-cli: error: ..." naming `what`, no stdout. */
#define ck_failed(r, what)                                                                  \
    do {                                                                                    \
        ck_assert_msg((r).status == 1, "expected exit 1, got %d; stderr:\n%s", (r).status,  \
                      (r).err);                                                             \
        ck_contains((r).err, "bill-cli: error: ");                                          \
        ck_contains((r).err, (what));                                                       \
        ck_assert_str_eq((r).out, "");                                                      \
    } while (0)
#define ck_ok(r, what)                                                                      \
    ck_assert_msg((r).status == 0, "%s failed (exit %d):\n%s", (what), (r).status, (r).err)

static long long count_of(const char *url, const char *sql)
{
    return bill_test_pg_query_ll(url, sql);
}

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", workdir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
    chmod(path, 0600);
}

/* ./plugins with the example gateway, and ./config.toml with a master key
 * (or none). */
static void plugin_workdir(bool with_key)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/plugins' && cp '%s/example_v1.so' '%s/plugins/'",
             workdir, EXAMPLE_PLUGIN_DIR, workdir);
    ck_assert_int_eq(system(cmd), 0);
    write_file("config.toml", with_key ? "[security]\nmaster_key = \"" TEST_MASTER_KEY "\"\n"
                                       : "[server]\nport = 50051\n");
}

/* ---- help --------------------------------------------------------------- */

START_TEST(test_cli_ops__help)
{
    const char *groups[][2] = {
        {"plugin", "create-interface"},
        {"events", "run-once"},
        {"order", "cancel"},
        {"payment", "confirm"},
        {"invoice", "generate"},
        {"ticket", "assign"},
        {"instance", "terminate"},
    };
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        run r = cli(NULL, NULL, groups[i][0], "--help", NULL);
        ck_assert_int_eq(r.status, 0);
        ck_contains(r.out, groups[i][1]);
        run_free(&r);
    }
    run r = cli(NULL, NULL, "plugin", "create-interface", "--help", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_contains(r.out, "--config-file");
    ck_contains(r.out, "master_key");
    run_free(&r);

    r = cli(NULL, NULL, "plugin", "create-interface", "--name", "x", NULL);
    ck_assert_int_eq(r.status, 2);
    ck_contains(r.err, "missing required option --plugin");
    run_free(&r);
}
END_TEST

/* ---- plugin interfaces ---------------------------------------------------- */

START_TEST(test_cli_ops__plugin_interface_secrets_masked)
{
    char *url = NULL;
    bill_db_close(bill_test_db_new_url(&url));
    plugin_workdir(true);

    run r = cli(NULL, url, "plugin", "create-interface", "--plugin", "gateway-example", "--name",
                "Example", "--config",
                "{\"account\":\"ACC-1\",\"api_key\":\"topsecret-123\",\"mode\":\"test\"}", NULL);
    ck_ok(r, "create-interface");
    ck_contains(r.out, "created interface");
    ck_contains(r.out, "********");
    ck_not_contains(r.out, "topsecret-123");
    ck_not_contains(r.err, "topsecret-123");
    run_free(&r);
    /* sealed at rest too */
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM plugin_interfaces"), 1);
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM plugin_interfaces"
                                   " WHERE config::text LIKE '%topsecret%'"),
                     0);

    r = cli(NULL, url, "--json", "plugin", "interfaces", NULL);
    ck_ok(r, "plugin interfaces");
    json_object *o = json_of(&r), *arr = jget(o, "interfaces");
    ck_assert_int_eq((int)json_object_array_length(arr), 1);
    json_object *it = json_object_array_get_idx(arr, 0), *cfg = jget(it, "config");
    char *id = strdup(jstr(it, "id"));
    ck_assert_str_eq(jstr(it, "plugin_id"), "gateway-example");
    ck_assert_str_eq(jstr(it, "kind"), "gateway");
    ck_assert_str_eq(jstr(cfg, "account"), "ACC-1");
    ck_assert_str_eq(jstr(cfg, "api_key"), "********");
    json_object_put(o);
    run_free(&r);

    r = cli(NULL, url, "plugin", "interfaces", NULL);
    ck_ok(r, "plugin interfaces (table)");
    ck_contains(r.out, "Example");
    ck_contains(r.out, "1 interface");
    run_free(&r);

    /* set-config from a file; the masked secret keeps its stored value */
    write_file("iface.json", "{\"account\":\"ACC-2\",\"api_key\":\"********\"}");
    r = cli(NULL, url, "--json", "plugin", "set-config", id, "--config-file", "iface.json", NULL);
    ck_ok(r, "set-config");
    o = json_of(&r);
    cfg = jget(o, "config");
    ck_assert_str_eq(jstr(cfg, "account"), "ACC-2");
    ck_assert_str_eq(jstr(cfg, "api_key"), "********");
    json_object_put(o);
    run_free(&r);
    /* a NUL cannot sneak into a config: not as \u0000 (json-c would keep it
     * and every C string read from it would end there), not as a raw byte
     * in the file; the stored config stays as it was */
    r = cli(NULL, url, "plugin", "set-config", id, "--config",
            "{\"account\":\"ACC\\u0000-3\",\"api_key\":\"********\"}", NULL);
    ck_assert_msg(r.status == 1, "\\u0000 config: exit %d", r.status);
    ck_contains(r.err, "NUL");
    run_free(&r);
    char nulpath[512];
    snprintf(nulpath, sizeof nulpath, "%s/nul.json", workdir);
    FILE *nulf = fopen(nulpath, "wb");
    ck_assert_ptr_nonnull(nulf);
    fwrite("{\"account\":\"ACC\0-3\"}", 1, 21, nulf);
    fclose(nulf);
    r = cli(NULL, url, "plugin", "set-config", id, "--config-file", "nul.json", NULL);
    ck_assert_msg(r.status == 1, "raw NUL config file: exit %d", r.status);
    ck_contains(r.err, "NUL byte");
    run_free(&r);
    r = cli(NULL, url, "--json", "plugin", "show", id, NULL);
    ck_ok(r, "plugin show after refused configs");
    o = json_of(&r);
    ck_assert_str_eq(jstr(jget(o, "config"), "account"), "ACC-2");
    json_object_put(o);
    run_free(&r);
    /* the secret stays sealed in its own column, never in the plain config */
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM plugin_interfaces"
                                   " WHERE secret_config IS NOT NULL AND NOT config ? 'api_key'"),
                     1);

    /* bad input: schema violation names the field; nothing changes */
    r = cli(NULL, url, "plugin", "set-config", id, "--config", "{\"account\":\"A\",\"mode\":\"prod\"}",
            NULL);
    ck_failed(r, "mode");
    run_free(&r);
    r = cli(NULL, url, "--json", "plugin", "show", id, NULL);
    ck_ok(r, "plugin show");
    o = json_of(&r);
    ck_assert_str_eq(jstr(jget(o, "config"), "account"), "ACC-2");
    json_object_put(o);
    run_free(&r);

    r = cli(NULL, url, "plugin", "create-interface", "--plugin", "gateway-example", "--name", "Bad",
            "--config", "{\"mode\":\"test\"}", NULL);
    ck_failed(r, "account");
    run_free(&r);
    r = cli(NULL, url, "plugin", "create-interface", "--plugin", "gateway-nosuch", "--name", "Bad",
            "--config", "{}", NULL);
    ck_failed(r, "gateway-nosuch");
    run_free(&r);
    r = cli(NULL, url, "plugin", "create-interface", "--plugin", "gateway-example", "--name", "Bad",
            "--config", "{}", "--config-file", "iface.json", NULL);
    ck_assert_int_eq(r.status, 2);
    run_free(&r);
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM plugin_interfaces"), 1);

    r = cli(NULL, url, "plugin", "interfaces", "--kind", "bogus", NULL);
    ck_assert_int_eq(r.status, 2);
    ck_contains(r.err, "bogus");
    run_free(&r);
    r = cli(NULL, url, "plugin", "show", "00000000-0000-0000-0000-000000000000", NULL);
    ck_failed(r, "00000000-0000-0000-0000-000000000000");
    run_free(&r);
    r = cli(NULL, url, "plugin", "health", "00000000-0000-0000-0000-000000000000", NULL);
    ck_failed(r, "00000000-0000-0000-0000-000000000000");
    run_free(&r);

    /* health, disable, enable */
    r = cli(NULL, url, "plugin", "health", id, NULL);
    ck_ok(r, "plugin health");
    ck_contains(r.out, "healthy");
    run_free(&r);
    r = cli(NULL, url, "plugin", "disable", id, NULL);
    ck_ok(r, "plugin disable");
    run_free(&r);
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM plugin_interfaces WHERE NOT enabled"), 1);
    r = cli(NULL, url, "plugin", "enable", id, NULL);
    ck_ok(r, "plugin enable");
    run_free(&r);
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM plugin_interfaces WHERE enabled"), 1);
    free(id);
    free(url);
}
END_TEST

START_TEST(test_cli_ops__plugin_secret_needs_master_key)
{
    char *url = NULL;
    bill_db_close(bill_test_db_new_url(&url));
    plugin_workdir(false);
    run r = cli(NULL, url, "plugin", "create-interface", "--plugin", "gateway-example", "--name",
                "Example", "--config", "{\"account\":\"A\",\"api_key\":\"k\"}", NULL);
    ck_failed(r, "key");
    ck_not_contains(r.err, "\"k\"");
    run_free(&r);
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM plugin_interfaces"), 0);

    /* without secret fields no key is needed */
    r = cli(NULL, url, "-q", "plugin", "create-interface", "--plugin", "gateway-example", "--name",
            "Plain", "--config", "{\"account\":\"A\"}", "--disabled", NULL);
    ck_ok(r, "create-interface without secrets");
    run_free(&r);
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM plugin_interfaces WHERE NOT enabled"), 1);
    free(url);
}
END_TEST

/* ---- events ------------------------------------------------------------- */

START_TEST(test_cli_ops__events_list_retry_run_once)
{
    char *url = NULL;
    bill_db_close(bill_test_db_new_url(&url));
    ck_assert_int_eq(bill_test_pg_exec(url, "INSERT INTO events (kind, payload, status, attempts,"
                                            " last_error) VALUES"
                                            " ('test.dead', '{\"n\":1}', 'dead', 10, 'boom'),"
                                            " ('test.dead', '{\"n\":2}', 'dead', 10, 'boom'),"
                                            " ('test.other', '{}', 'dead', 10, 'bang'),"
                                            " ('test.done', '{}', 'done', 1, '')"),
                     0);

    run r = cli(NULL, url, "--json", "events", "list", NULL);
    ck_ok(r, "events list");
    json_object *o = json_of(&r);
    ck_assert_int_eq(json_object_get_int(jget(o, "total")), 4);
    ck_assert_int_eq(json_object_get_int(jget(jget(o, "queue"), "dead")), 3);
    ck_assert_int_eq(json_object_get_int(jget(jget(o, "queue"), "done")), 1);
    json_object_put(o);
    run_free(&r);

    r = cli(NULL, url, "--json", "events", "list", "--dead", "--kind", "test.dead", NULL);
    ck_ok(r, "events list --dead --kind");
    o = json_of(&r);
    json_object *arr = jget(o, "events");
    ck_assert_int_eq((int)json_object_array_length(arr), 2);
    json_object *e = json_object_array_get_idx(arr, 0);
    ck_assert_str_eq(jstr(e, "status"), "dead");
    ck_assert_str_eq(jstr(e, "last_error"), "boom");
    ck_assert_int_eq(json_object_get_int(jget(jget(e, "payload"), "n")), 2); /* newest first */
    long long dead_id = json_object_get_int64(jget(e, "id"));
    json_object_put(o);
    run_free(&r);

    r = cli(NULL, url, "events", "list", "--dead", NULL);
    ck_ok(r, "events list --dead (table)");
    ck_contains(r.out, "test.other");
    ck_contains(r.out, "3 events");
    ck_contains(r.out, "3 dead");
    ck_not_contains(r.out, "test.done");
    run_free(&r);

    /* bad inputs */
    r = cli(NULL, url, "events", "list", "--status", "zombie", NULL);
    ck_failed(r, "zombie");
    run_free(&r);
    r = cli(NULL, url, "events", "retry", "abc", NULL);
    ck_assert_int_eq(r.status, 2);
    run_free(&r);
    r = cli(NULL, url, "events", "retry", NULL);
    ck_assert_int_eq(r.status, 2);
    run_free(&r);
    char idbuf[32];
    snprintf(idbuf, sizeof idbuf, "%lld",
             count_of(url, "SELECT id FROM events WHERE status = 'done'"));
    r = cli(NULL, url, "events", "retry", idbuf, NULL); /* not dead */
    ck_failed(r, idbuf);
    run_free(&r);
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM events WHERE status = 'dead'"), 3);

    /* retry one, then the rest */
    snprintf(idbuf, sizeof idbuf, "%lld", dead_id);
    r = cli(NULL, url, "events", "retry", idbuf, NULL);
    ck_ok(r, "events retry ID");
    ck_contains(r.out, "pending again");
    run_free(&r);
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM events WHERE status = 'pending'"
                                   " AND attempts = 0"),
                     1);

    /* run-once refuses: bill-cli has no handler for test.dead; nothing changes */
    r = cli(NULL, url, "events", "run-once", NULL);
    ck_failed(r, "test.dead");
    run_free(&r);
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM events WHERE status = 'pending'"
                                   " AND attempts = 0"),
                     1);

    r = cli(NULL, url, "--json", "events", "retry", "--all-dead", NULL);
    ck_ok(r, "events retry --all-dead");
    o = json_of(&r);
    ck_contains(jstr(o, "message"), "2 dead events pending again");
    json_object_put(o);
    run_free(&r);
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM events WHERE status = 'dead'"), 0);

    /* an empty queue: run-once processes nothing and succeeds */
    ck_assert_int_eq(bill_test_pg_exec(url, "DELETE FROM events WHERE status = 'pending'"), 0);
    r = cli(NULL, url, "events", "run-once", NULL);
    ck_ok(r, "events run-once (empty)");
    ck_contains(r.out, "processed 0 events");
    run_free(&r);
    free(url);
}
END_TEST

/* ---- orders and payments ------------------------------------------------- */

/* Run a command that must succeed with --json and return its document. */
static json_object *cli_json_ok(const char *url, const char *what, ...)
{
    va_list ap;
    va_start(ap, what);
    run r = cli_va(NULL, url, true, ap);
    va_end(ap);
    ck_ok(r, what);
    json_object *o = json_of(&r);
    run_free(&r);
    return o;
}

/* A customer with `balance` and an active 10.00/month product. */
static void order_fixture(const char *url, const char *balance, char **cust, char **prod)
{
    json_object *o = cli_json_ok(url, "customer create", "customer", "create", "--name",
                                 "Order Test Co", NULL);
    *cust = strdup(jstr(o, "id"));
    json_object_put(o);
    if (balance) {
        run r = cli(NULL, url, "-q", "customer", "balance", "add", *cust, balance, NULL);
        ck_ok(r, "balance add");
        run_free(&r);
    }
    o = cli_json_ok(url, "product create", "product", "create", "--name", "HK-1C1G",
                    "--price-monthly", "10.00", "--price-yearly", "100.00", NULL);
    *prod = strdup(jstr(o, "id"));
    json_object_put(o);
}

static char *balance_of(const char *url, const char *cust)
{
    json_object *o = cli_json_ok(url, "customer show", "customer", "show", cust, NULL);
    char *b = strdup(jstr(o, "balance"));
    json_object_put(o);
    return b;
}

#define ck_balance(url, cust, want)                                                         \
    do {                                                                                    \
        char *b_ = balance_of((url), (cust));                                               \
        ck_assert_str_eq(b_, (want));                                                       \
        free(b_);                                                                           \
    } while (0)

START_TEST(test_cli_ops__order_balance_pay_refund)
{
    char *url = NULL, *cust = NULL, *prod = NULL;
    bill_db_close(bill_test_db_new_url(&url));
    order_fixture(url, "100.00", &cust, &prod);

    json_object *o = cli_json_ok(url, "order create", "order", "create", "--customer", cust,
                                 "--product", prod, "--cycle", "yearly", "--notes", "first", NULL);
    char *oid = strdup(jstr(o, "id"));
    ck_assert_str_eq(jstr(o, "status"), "pending");
    ck_assert_str_eq(jstr(o, "amount"), "100.00"); /* the product's yearly price */
    ck_assert_str_eq(jstr(o, "billing_cycle"), "yearly");
    ck_assert_str_eq(jstr(o, "currency"), "CNY");
    json_object_put(o);

    /* bad inputs change nothing */
    run r = cli(NULL, url, "order", "create", "--customer", cust, "--product",
                "00000000-0000-0000-0000-000000000000", NULL);
    ck_failed(r, "00000000-0000-0000-0000-000000000000");
    run_free(&r);
    r = cli(NULL, url, "order", "create", "--customer", cust, "--product", prod, "--cycle",
            "weekly", NULL);
    ck_failed(r, "weekly");
    run_free(&r);
    r = cli(NULL, url, "order", "create", "--product", prod, NULL);
    ck_assert_int_eq(r.status, 2);
    run_free(&r);
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM orders"), 1);

    r = cli(NULL, url, "order", "list", NULL);
    ck_ok(r, "order list");
    ck_contains(r.out, "HK-1C1G");
    ck_contains(r.out, "pending");
    ck_contains(r.out, "1 order ");
    run_free(&r);
    r = cli(NULL, url, "order", "show", oid, NULL);
    ck_ok(r, "order show");
    ck_contains(r.out, "first");
    ck_contains(r.out, "100.00");
    run_free(&r);
    r = cli(NULL, url, "order", "show", "not-a-uuid", NULL);
    ck_failed(r, "not-a-uuid");
    run_free(&r);

    /* pay from balance; a second pay is refused and takes nothing */
    r = cli(NULL, url, "order", "pay", oid, NULL);
    ck_ok(r, "order pay");
    ck_contains(r.out, "paid from balance");
    run_free(&r);
    ck_balance(url, cust, "0.00");
    r = cli(NULL, url, "order", "pay", oid, NULL);
    ck_failed(r, "already paid");
    run_free(&r);
    ck_balance(url, cust, "0.00");
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM payments"), 1);

    /* payments: list, show, partial refund, over-refund refused */
    o = cli_json_ok(url, "payment list", "payment", "list", "--order", oid, NULL);
    json_object *arr = jget(o, "payments");
    ck_assert_int_eq((int)json_object_array_length(arr), 1);
    char *pid = strdup(jstr(json_object_array_get_idx(arr, 0), "id"));
    ck_assert_str_eq(jstr(json_object_array_get_idx(arr, 0), "status"), "success");
    ck_assert_str_eq(jstr(json_object_array_get_idx(arr, 0), "gateway_id"), "balance");
    json_object_put(o);
    r = cli(NULL, url, "payment", "show", pid, NULL);
    ck_ok(r, "payment show");
    ck_contains(r.out, "success");
    run_free(&r);

    r = cli(NULL, url, "payment", "refund", pid, "--amount", "40.00", "--reason", "downgrade",
            NULL);
    ck_ok(r, "payment refund");
    ck_contains(r.out, "40.00 of 100.00 refunded");
    run_free(&r);
    ck_balance(url, cust, "40.00");
    r = cli(NULL, url, "payment", "refund", pid, "--amount", "60.01", NULL);
    ck_failed(r, "60.01");
    run_free(&r);
    r = cli(NULL, url, "payment", "refund", pid, "--amount", "1.005", NULL);
    ck_failed(r, "1.005");
    run_free(&r);
    ck_balance(url, cust, "40.00");
    o = cli_json_ok(url, "payment show", "payment", "show", pid, NULL);
    ck_assert_str_eq(jstr(o, "status"), "refunded");
    ck_assert_str_eq(jstr(o, "refunded_amount"), "40.00");
    json_object_put(o);

    /* set-status follows the transition table */
    r = cli(NULL, url, "order", "set-status", oid, "provisioning", NULL);
    ck_ok(r, "order set-status");
    ck_contains(r.out, "provisioning");
    run_free(&r);
    r = cli(NULL, url, "order", "set-status", oid, "pending", NULL);
    ck_failed(r, "pending");
    run_free(&r);
    r = cli(NULL, url, "order", "list", "--status", "bogus", NULL);
    ck_failed(r, "bogus");
    run_free(&r);
    r = cli(NULL, url, "payment", "list", "--status", "bogus", NULL);
    ck_failed(r, "bogus");
    run_free(&r);
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM orders WHERE status = 'provisioning'"), 1);

    /* not enough balance for a second order: nothing changes */
    o = cli_json_ok(url, "order create", "order", "create", "--customer", cust, "--product", prod,
                    NULL);
    char *oid2 = strdup(jstr(o, "id"));
    json_object_put(o);
    ck_assert_int_eq(bill_test_pg_exec(url, "UPDATE customers SET balance = 5.00 WHERE true"), 0);
    r = cli(NULL, url, "order", "pay", oid2, NULL);
    ck_failed(r, "cannot cover 10.00");
    run_free(&r);
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM orders WHERE status = 'pending'"), 1);

    /* cancel; cancelling again is refused */
    r = cli(NULL, url, "order", "cancel", oid2, NULL);
    ck_ok(r, "order cancel");
    ck_contains(r.out, "cancelled");
    run_free(&r);
    r = cli(NULL, url, "order", "cancel", oid2, NULL);
    ck_failed(r, "cancelled");
    run_free(&r);
    o = cli_json_ok(url, "order list", "order", "list", "--status", "cancelled", NULL);
    ck_assert_int_eq(json_object_get_int(jget(o, "total")), 1);
    json_object_put(o);

    free(pid);
    free(oid);
    free(oid2);
    free(cust);
    free(prod);
    free(url);
}
END_TEST

START_TEST(test_cli_ops__bank_transfer_confirm_twice)
{
    char *url = NULL, *cust = NULL, *prod = NULL;
    bill_db_close(bill_test_db_new_url(&url));
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s/plugins' && cp '%s/gateway-banktransfer/gateway-banktransfer.so' "
             "'%s/plugins/'",
             workdir, BUILTIN_PLUGIN_DIR, workdir);
    ck_assert_int_eq(system(cmd), 0);
    order_fixture(url, NULL, &cust, &prod);

    json_object *o = cli_json_ok(url, "create-interface", "plugin", "create-interface",
                                 "--plugin", "gateway-banktransfer", "--name", "Bank",
                                 "--config",
                                 "{\"bank_name\":\"ICBC\",\"account_name\":\"Acme\","
                                 "\"account_number\":\"6222\"}",
                                 NULL);
    char *gw = strdup(jstr(o, "id"));
    json_object_put(o);

    o = cli_json_ok(url, "order create", "order", "create", "--customer", cust, "--product", prod,
                    NULL);
    char *oid = strdup(jstr(o, "id"));
    json_object_put(o);
    o = cli_json_ok(url, "order pay --gateway", "order", "pay", oid, "--gateway", gw, NULL);
    char *pid = strdup(jstr(o, "payment_id"));
    ck_contains(jstr(o, "instructions"), "6222");
    json_object_put(o);
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM payments WHERE status = 'pending'"), 1);
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM orders WHERE status = 'pending'"), 1);

    /* wrong amount: refused, nothing changes */
    run r = cli(NULL, url, "payment", "confirm", pid, "--amount", "9.99", NULL);
    ck_failed(r, "9.99");
    run_free(&r);
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM payments WHERE status = 'pending'"), 1);

    r = cli(NULL, url, "payment", "confirm", pid, "--tx-id", "BANK-REF-1", NULL);
    ck_ok(r, "payment confirm");
    ck_contains(r.out, "confirmed");
    ck_contains(r.out, "is paid");
    run_free(&r);
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM orders WHERE status = 'paid'"), 1);
    long long events = count_of(url, "SELECT count(*) FROM events WHERE kind = 'order.paid'");
    ck_assert_int_eq(events, 1);

    /* the second confirmation changes nothing and says so */
    r = cli(NULL, url, "payment", "confirm", pid, NULL);
    ck_ok(r, "payment confirm (again)");
    ck_contains(r.out, "already confirmed; nothing changed");
    run_free(&r);
    o = cli_json_ok(url, "payment confirm (again, json)", "payment", "confirm", pid, NULL);
    ck_assert(json_object_get_boolean(jget(o, "already_confirmed")));
    ck_assert_str_eq(jstr(o, "status"), "success");
    ck_assert_str_eq(jstr(o, "gateway_tx_id"), "BANK-REF-1");
    json_object_put(o);
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM payments"), 1);
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM events WHERE kind = 'order.paid'"),
                     events);
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM balance_transactions"), 0);

    r = cli(NULL, url, "payment", "confirm", "00000000-0000-0000-0000-000000000000", NULL);
    ck_failed(r, "00000000-0000-0000-0000-000000000000");
    run_free(&r);

    free(gw);
    free(pid);
    free(oid);
    free(cust);
    free(prod);
    free(url);
}
END_TEST

/* ---- invoices ------------------------------------------------------------ */

START_TEST(test_cli_ops__invoice_lifecycle)
{
    char *url = NULL, *cust = NULL, *prod = NULL;
    bill_db_close(bill_test_db_new_url(&url));
    order_fixture(url, "100.00", &cust, &prod);

    json_object *o = cli_json_ok(url, "invoice create", "invoice", "create", "--customer", cust,
                                 "--item", "2x10.00:VPS HK-1C1G (2 months)", "--item",
                                 "5.00:Setup: one-off", "--tax", "1.50", NULL);
    char *inv = strdup(jstr(o, "id"));
    ck_assert_str_eq(jstr(o, "status"), "draft");
    ck_assert_str_eq(jstr(o, "amount"), "25.00");
    ck_assert_str_eq(jstr(o, "total_amount"), "26.50");
    json_object *items = jget(o, "items");
    ck_assert_int_eq((int)json_object_array_length(items), 2);
    ck_assert_str_eq(jstr(json_object_array_get_idx(items, 1), "description"), "Setup: one-off");
    json_object_put(o);

    /* bad inputs: nothing created */
    run r = cli(NULL, url, "invoice", "create", "--customer", cust, "--item", "1.234:x", NULL);
    ck_failed(r, "1.234");
    run_free(&r);
    r = cli(NULL, url, "invoice", "create", "--customer", cust, "--item", "no-colon", NULL);
    ck_assert_int_eq(r.status, 2);
    ck_contains(r.err, "PRICE:DESCRIPTION");
    run_free(&r);
    r = cli(NULL, url, "invoice", "create", "--customer", cust, NULL);
    ck_failed(r, "item");
    run_free(&r);
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM invoices"), 1);

    /* paying a draft is refused */
    r = cli(NULL, url, "invoice", "pay", inv, "--from-balance", NULL);
    ck_failed(r, "draft");
    run_free(&r);

    o = cli_json_ok(url, "invoice issue", "invoice", "issue", inv, NULL);
    ck_assert_str_eq(jstr(o, "status"), "issued");
    ck_assert_msg(strncmp(jstr(o, "invoice_number"), "INV-", 4) == 0, "number %s",
                  jstr(o, "invoice_number"));
    ck_assert_msg(strstr(jstr(o, "invoice_number"), "-000001") != NULL, "number %s",
                  jstr(o, "invoice_number"));
    json_object_put(o);

    r = cli(NULL, url, "invoice", "show", inv, NULL);
    ck_ok(r, "invoice show");
    ck_contains(r.out, "Items (2)");
    ck_contains(r.out, "VPS HK-1C1G (2 months)");
    ck_contains(r.out, "26.50");
    run_free(&r);
    r = cli(NULL, url, "invoice", "list", "--status", "issued", NULL);
    ck_ok(r, "invoice list");
    ck_contains(r.out, "INV-");
    ck_contains(r.out, "1 invoice ");
    run_free(&r);

    r = cli(NULL, url, "invoice", "pay", inv, "--from-balance", NULL);
    ck_ok(r, "invoice pay");
    ck_contains(r.out, "paid");
    run_free(&r);
    ck_balance(url, cust, "73.50");
    r = cli(NULL, url, "invoice", "cancel", inv, NULL);
    ck_failed(r, "paid");
    run_free(&r);

    /* a second invoice, issued at once, then cancelled */
    o = cli_json_ok(url, "invoice create --issue", "invoice", "create", "--customer", cust,
                    "--item", "3.00:Extra IP", "--issue", NULL);
    char *inv2 = strdup(jstr(o, "id"));
    ck_assert_str_eq(jstr(o, "status"), "issued");
    json_object_put(o);
    r = cli(NULL, url, "invoice", "cancel", inv2, NULL);
    ck_ok(r, "invoice cancel");
    run_free(&r);
    o = cli_json_ok(url, "invoice list", "invoice", "list", "--customer", cust, NULL);
    ck_assert_int_eq(json_object_get_int(jget(o, "total")), 2);
    json_object_put(o);

    /* batch generation: no instances -> nothing; a bad date is refused */
    o = cli_json_ok(url, "invoice generate", "invoice", "generate", "--period-start",
                    "2026-01-01", "--period-end", "2026-01-31", NULL);
    ck_assert_int_eq(json_object_get_int(jget(o, "created")), 0);
    json_object_put(o);
    r = cli(NULL, url, "invoice", "generate", "--period-start", "2026-13-01", "--period-end",
            "2026-01-31", NULL);
    ck_failed(r, "2026-13-01");
    run_free(&r);
    r = cli(NULL, url, "invoice", "generate", "--period-start", "2026-01-01", NULL);
    ck_assert_int_eq(r.status, 2);
    run_free(&r);
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM invoices"), 2);

    free(inv);
    free(inv2);
    free(cust);
    free(prod);
    free(url);
}
END_TEST

/* ---- tickets ------------------------------------------------------------- */

START_TEST(test_cli_ops__ticket_flow)
{
    char *url = NULL, *cust = NULL, *prod = NULL;
    bill_db_close(bill_test_db_new_url(&url));
    order_fixture(url, NULL, &cust, &prod);
    run r = cli(NULL, url, "-q", "user", "create", "--username", "support1", "--password",
                "pass123", "--role", "support", NULL);
    ck_ok(r, "user create");
    run_free(&r);

    json_object *o = cli_json_ok(url, "ticket create", "ticket", "create", "--customer", cust,
                                 "--title", "服务器无法启动", "--description", "since 10:00",
                                 "--priority", "high", NULL);
    char *tid = strdup(jstr(o, "id"));
    ck_assert_str_eq(jstr(o, "status"), "pending");
    ck_assert_str_eq(jstr(o, "priority"), "high");
    json_object_put(o);
    r = cli(NULL, url, "ticket", "create", "--customer", cust, "--title", "x", "--priority",
            "asap", NULL);
    ck_failed(r, "asap");
    run_free(&r);
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM tickets"), 1);

    r = cli(NULL, url, "ticket", "reply", tid, "We are looking into it", NULL);
    ck_ok(r, "ticket reply");
    ck_contains(r.out, "reply");
    run_free(&r);
    r = cli(NULL, url, "ticket", "reply", tid, "host 7 disk full", "--internal", NULL);
    ck_ok(r, "ticket reply --internal");
    ck_contains(r.out, "internal note");
    run_free(&r);
    r = cli(NULL, url, "ticket", "reply", tid, "", NULL);
    ck_failed(r, "content");
    run_free(&r);

    r = cli(NULL, url, "ticket", "show", tid, NULL);
    ck_ok(r, "ticket show");
    ck_contains(r.out, "服务器无法启动");
    ck_contains(r.out, "Replies (2)");
    ck_contains(r.out, "(internal note)");
    run_free(&r);

    /* assign by username; one event; a missing user changes nothing */
    r = cli(NULL, url, "ticket", "assign", tid, "support1", NULL);
    ck_ok(r, "ticket assign");
    run_free(&r);
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM events WHERE kind = 'ticket.assigned'"),
                     1);
    r = cli(NULL, url, "ticket", "assign", tid, "nobody-here", NULL);
    ck_failed(r, "nobody-here");
    run_free(&r);
    r = cli(NULL, url, "ticket", "assign", tid, NULL);
    ck_assert_int_eq(r.status, 2);
    run_free(&r);
    o = cli_json_ok(url, "ticket list --assignee", "ticket", "list", "--assignee", "support1",
                    NULL);
    ck_assert_int_eq(json_object_get_int(jget(o, "total")), 1);
    json_object_put(o);

    /* status: legal moves pass, illegal ones change nothing */
    r = cli(NULL, url, "ticket", "status", tid, "processing", NULL);
    ck_ok(r, "ticket status processing");
    run_free(&r);
    r = cli(NULL, url, "ticket", "status", tid, "pending", NULL);
    ck_failed(r, "pending");
    run_free(&r);
    o = cli_json_ok(url, "ticket show", "ticket", "show", tid, NULL);
    ck_assert_str_eq(jstr(o, "status"), "processing");
    ck_assert_int_eq((int)json_object_array_length(jget(o, "replies")), 2);
    json_object_put(o);
    r = cli(NULL, url, "ticket", "list", "--status", "processing", NULL);
    ck_ok(r, "ticket list");
    ck_contains(r.out, "1 ticket ");
    run_free(&r);

    free(tid);
    free(cust);
    free(prod);
    free(url);
}
END_TEST

/* Run bill-cli on a pseudo-terminal (stdin is a tty), typing `typed` after
 * the prompt appeared; returns the exit code, *transcript what the terminal
 * showed (malloc'd). */
static int run_on_tty(const char *typed, char **transcript, char *const *argv)
{
    const char *bin = getenv("BILL_CLI");
    ck_assert_ptr_nonnull(bin);
    int master = -1;
    fflush(NULL);
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (chdir(workdir) != 0)
            _exit(126);
        unsetenv("DATABASE_URL");
        execv(bin, argv);
        _exit(127);
    }
    char buf[8192];
    size_t len = 0;
    bool sent = false;
    for (;;) {
        ssize_t n = read(master, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            break; /* EIO once the child closed the terminal */
        len += (size_t)n;
        buf[len] = '\0';
        if (!sent && strstr(buf, "Type 'yes'")) {
            ck_assert_int_eq(write(master, typed, strlen(typed)), (ssize_t)strlen(typed));
            sent = true;
        }
        if (len == sizeof buf - 1)
            break;
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    close(master);
    *transcript = strdup(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- instances ----------------------------------------------------------- */

#define INST_ID "11111111-2222-3333-4444-555555555555"

START_TEST(test_cli_ops__instance_actions)
{
    char *url = NULL, *cust = NULL, *prod = NULL;
    bill_db_close(bill_test_db_new_url(&url));
    order_fixture(url, NULL, &cust, &prod);
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO instances (id, customer_id, product_id, status, ip_address)"
             " VALUES ('" INST_ID "', '%s', '%s', 'running', '203.0.113.7')",
             cust, prod);
    ck_assert_int_eq(bill_test_pg_exec(url, sql), 0);

    run r = cli(NULL, url, "instance", "list", NULL);
    ck_ok(r, "instance list");
    ck_contains(r.out, INST_ID);
    ck_contains(r.out, "203.0.113.7");
    ck_contains(r.out, "1 instance ");
    run_free(&r);
    json_object *o = cli_json_ok(url, "instance show", "instance", "show", INST_ID, NULL);
    ck_assert_str_eq(jstr(o, "status"), "running");
    ck_assert_int_eq((int)json_object_array_length(jget(o, "actions")), 4);
    json_object_put(o);

    /* start on a running instance: refused, nothing changes */
    r = cli(NULL, url, "instance", "start", INST_ID, NULL);
    ck_failed(r, "running");
    run_free(&r);

    r = cli(NULL, url, "instance", "stop", INST_ID, NULL);
    ck_ok(r, "instance stop");
    ck_contains(r.out, "now stopped");
    run_free(&r);
    r = cli(NULL, url, "instance", "reboot", INST_ID, NULL);
    ck_failed(r, "stopped");
    run_free(&r);
    r = cli(NULL, url, "instance", "start", INST_ID, NULL);
    ck_ok(r, "instance start");
    run_free(&r);
    r = cli(NULL, url, "instance", "reboot", INST_ID, NULL);
    ck_ok(r, "instance reboot");
    run_free(&r);

    /* terminate without a terminal and without --yes: refused, unchanged */
    r = cli("yes\n", url, "instance", "terminate", INST_ID, NULL);
    ck_assert_int_eq(r.status, 2);
    ck_contains(r.err, "--yes");
    ck_assert_str_eq(r.out, "");
    run_free(&r);
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM instances WHERE status = 'running'"), 1);

    /* on a terminal it asks; anything but "yes" leaves the instance alone */
    char *argv[] = {(char *)"bill-cli", (char *)"--database-url", url, (char *)"instance",
                    (char *)"terminate", (char *)INST_ID, NULL};
    char *tr = NULL;
    ck_assert_int_eq(run_on_tty("no\n", &tr, argv), 1);
    ck_contains(tr, "cannot be undone");
    ck_contains(tr, "not confirmed");
    free(tr);
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM instances WHERE status = 'running'"), 1);
    ck_assert_int_eq(run_on_tty("yes\n", &tr, argv), 0);
    ck_contains(tr, "now terminated");
    free(tr);
    ck_assert_int_eq(count_of(url, "SELECT count(*) FROM instances WHERE status = 'terminated'"),
                     1);

    /* --yes skips the question (scripts) */
    r = cli(NULL, url, "instance", "terminate", INST_ID, "--yes", NULL);
    ck_failed(r, "terminated"); /* already terminated: refused by libbill */
    run_free(&r);
    r = cli(NULL, url, "instance", "start", INST_ID, NULL);
    ck_failed(r, "terminated");
    run_free(&r);
    r = cli(NULL, url, "instance", "show", "00000000-0000-0000-0000-000000000000", NULL);
    ck_failed(r, "00000000-0000-0000-0000-000000000000");
    run_free(&r);

    free(cust);
    free(prod);
    free(url);
}
END_TEST

/* ---- the embedded PostgreSQL ------------------------------------------------ */

static bool in_workdir(const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", workdir, rel);
    return access(path, F_OK) == 0;
}

/* Started on demand by a command without any database setting, left
 * running after it, stopped by `db stop-embedded` (data kept: the next
 * command starts it again); nothing to do when none runs. */
START_TEST(test_cli_ops__db_stop_embedded)
{
    run r = cli(NULL, NULL, "db", "stop-embedded", NULL);
    ck_ok(r, "stop-embedded before any");
    ck_contains(r.out, "no embedded PostgreSQL is running in ./var/pg now");
    ck_assert(!in_workdir("var/pg/data/PG_VERSION")); /* nothing created */
    run_free(&r);

    /* The harness's working directory is 0700 root's: as root, the
     * cluster's "postgres" account cannot enter it, and the error says so
     * (not "initdb failed"). */
    if (geteuid() == 0) {
        r = cli(NULL, NULL, "db", "migrate", NULL);
        ck_failed(r, "which cannot enter ");
        ck_contains(r.err, workdir);
        ck_contains(r.err, "chmod o+x");
        ck_assert(!in_workdir("var/pg/data/PG_VERSION"));
        run_free(&r);
        ck_assert_int_eq(chmod(workdir, 0711), 0);
    }

    r = cli(NULL, NULL, "db", "migrate", NULL);
    ck_ok(r, "db migrate on the embedded database");
    ck_contains(r.err, "using embedded PostgreSQL in ./var/pg (started)");
    run_free(&r);
    r = cli(NULL, NULL, "db", "status", NULL);
    ck_ok(r, "db status");
    ck_contains(r.err, "using embedded PostgreSQL in ./var/pg");
    ck_assert_ptr_null(strstr(r.err, "(started)")); /* still running from the last command */
    ck_assert(in_workdir("var/pg/data/postmaster.pid"));
    run_free(&r);

    r = cli(NULL, NULL, "db", "stop-embedded", "extra", NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert(in_workdir("var/pg/data/postmaster.pid")); /* a usage error stops nothing */
    run_free(&r);

    r = cli(NULL, NULL, "--json", "db", "stop-embedded", NULL);
    ck_ok(r, "stop-embedded");
    ck_contains(r.out, "\"stopped\"");
    ck_assert(!in_workdir("var/pg/data/postmaster.pid"));
    run_free(&r);

    /* the data stays: started again, the migrations still applied */
    r = cli(NULL, NULL, "db", "status", NULL);
    ck_ok(r, "db status after the stop");
    ck_contains(r.err, "(started)");
    {
        /* "N of N migrations applied": all of them, none pending */
        const char *m = strstr(r.out, " migrations applied");
        const char *line = m;
        int done = -1, all = -2;
        ck_assert_msg(m != NULL, "no migration count in: %s", r.out);
        while (line > r.out && line[-1] != '\n')
            line--;
        ck_assert_msg(sscanf(line, "%d of %d", &done, &all) == 2 && done == all && done > 0,
                      "not every migration applied: %s", r.out);
    }
    run_free(&r);
    r = cli(NULL, NULL, "db", "stop-embedded", NULL);
    ck_ok(r, "the last stop");
    run_free(&r);
}
END_TEST

BILL_TEST_MAIN("cli_ops", 120, cli_setup, cli_teardown,
               test_cli_ops__help, test_cli_ops__db_stop_embedded, test_cli_ops__plugin_interface_secrets_masked,
               test_cli_ops__plugin_secret_needs_master_key,
               test_cli_ops__events_list_retry_run_once, test_cli_ops__order_balance_pay_refund,
               test_cli_ops__bank_transfer_confirm_twice, test_cli_ops__ticket_flow,
               test_cli_ops__instance_actions, test_cli_ops__invoice_lifecycle);
