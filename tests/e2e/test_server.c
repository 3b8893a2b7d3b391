/*
 * test_server.c — e2e suite: a real bill-server on a free port with a fresh
 * harness database, driven by real clients (client.py: python3-grpcio, curl,
 * raw sockets). One Check test per scenario, each against its own server.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server_harness.h"

static bill_test_server srv;

static void setup(void)
{
    ck_assert_msg(bill_test_server_start(&srv, BILL_SERVER_BIN, NULL) == 0,
                  "bill-server did not start");
}

/* The proxy scenarios assert the Login rate limit per client address: the
 * shipped limits instead of the harness's relaxed ones. */
static void setup_strict(void)
{
    ck_assert_msg(bill_test_server_start(&srv, BILL_SERVER_BIN, BILL_TEST_RATE_LIMIT_STRICT) == 0,
                  "bill-server did not start");
}

static void teardown(void)
{
    if (srv.pid > 0) {
        int rc = bill_test_server_stop(&srv, SIGTERM, 15000);
        ck_assert_msg(rc == 0, "bill-server exit status %d after SIGTERM", rc);
    }
}

static int run_client(const char *scenario)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %d %s", E2E_CLIENT, srv.port, scenario);
    int rc = system(cmd);
    return rc == -1 ? -1 : WEXITSTATUS(rc);
}

#define SCENARIO(name)                                                         \
    START_TEST(test_e2e__##name)                                               \
    {                                                                          \
        ck_assert_int_eq(run_client(#name), 0);                                \
        ck_assert_msg(bill_test_server_alive(&srv), "server died");            \
    }                                                                          \
    END_TEST

SCENARIO(grpc_native)
SCENARIO(reflection)
SCENARIO(grpc_web)
SCENARIO(cors)
SCENARIO(endpoints)
SCENARIO(hostile)
SCENARIO(many_connections)

/* hardening.py scenarios (HEAD, reverse proxies): they read the server log. */
static int run_hardening(const char *scenario)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %d %s %s", E2E_HARDENING, srv.port, srv.log,
             scenario);
    int rc = system(cmd);
    return rc == -1 ? -1 : WEXITSTATUS(rc);
}

START_TEST(test_e2e__head_without_body)
{
    ck_assert_int_eq(run_hardening("head"), 0);
    ck_assert_msg(bill_test_server_alive(&srv), "server died");
}
END_TEST

/* No trusted_proxies: X-Forwarded-For / X-Real-IP are ignored. */
START_TEST(test_e2e__proxy_headers_untrusted)
{
    ck_assert_int_eq(run_hardening("proxy_untrusted"), 0);
}
END_TEST

/* trusted_proxies = 127.0.0.1 and ::1 (via config.local.toml, which the
 * server reads next to the harness's config.toml layer by layer). */
static char proxy_local[300];

static void setup_proxy(void)
{
    snprintf(proxy_local, sizeof proxy_local, "/tmp/bill-e2e-proxy-%d.toml", (int)getpid());
    FILE *f = fopen(proxy_local, "w");
    ck_assert_ptr_nonnull(f);
    fputs("[server]\ntrusted_proxies = [\"127.0.0.1\", \"::1\"]\n", f);
    fclose(f);
    setenv("LOCAL_CONFIG_FILE", proxy_local, 1);
    setup_strict();
}

static void teardown_proxy(void)
{
    teardown();
    unsetenv("LOCAL_CONFIG_FILE");
    unlink(proxy_local);
}

START_TEST(test_e2e__proxy_headers_trusted)
{
    ck_assert_int_eq(run_hardening("proxy_trusted"), 0);
    ck_assert_msg(bill_test_server_alive(&srv), "server died");
}
END_TEST

/* [server] keys from config.local.toml instead of environment variables:
 * admin_dir, idle_timeout_ms, io_threads. */
static char keys_dir[300];

static void setup_keys(void)
{
    snprintf(keys_dir, sizeof keys_dir, "/tmp/bill-e2e-keys-%d", (int)getpid());
    char path[400];
    snprintf(path, sizeof path, "mkdir -p %s/admin && echo '<html>s2-admin-marker</html>' > "
             "%s/admin/index.html", keys_dir, keys_dir);
    ck_assert_int_eq(system(path), 0);
    snprintf(proxy_local, sizeof proxy_local, "%s/local.toml", keys_dir);
    FILE *f = fopen(proxy_local, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "[server]\nadmin_dir = \"%s/admin\"\nidle_timeout_ms = 500\nio_threads = 1\n",
            keys_dir);
    fclose(f);
    setenv("LOCAL_CONFIG_FILE", proxy_local, 1);
    unsetenv("BILL_ADMIN_DIR");
    unsetenv("BILL_SERVER_IDLE_TIMEOUT_MS");
    unsetenv("BILL_SERVER_THREADS");
    setup();
}

static void teardown_keys(void)
{
    teardown();
    unsetenv("LOCAL_CONFIG_FILE");
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", keys_dir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_e2e__server_config_keys)
{
    ck_assert_int_eq(run_hardening("config_keys"), 0);
    ck_assert_msg(bill_test_server_alive(&srv), "server died");
}
END_TEST

/* SIGTERM while calls and a Watch stream are in flight: they complete, the
 * Watch ends with OK, and the server exits 0 within the grace period. */
START_TEST(test_e2e__sigterm_inflight)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %d inflight", E2E_CLIENT, srv.port);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[256] = "";
    ck_assert_ptr_nonnull(fgets(line, sizeof line, p));
    ck_assert_msg(strncmp(line, "READY", 5) == 0, "client said %s", line);
    int rc = bill_test_server_stop(&srv, SIGTERM, 15000);
    ck_assert_int_eq(rc, 0);
    while (fgets(line, sizeof line, p))
        fputs(line, stderr);
    int st = pclose(p);
    ck_assert_int_eq(WEXITSTATUS(st), 0);
}
END_TEST

/* A config that fails validation: exit 1, clear message, nothing listening. */
START_TEST(test_e2e__bad_config_refused)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "d=$(mktemp -d) && printf '[jwt]\\nsecret = \"short\"\\n' > $d/config.toml && "
             "chmod 600 $d/config.toml && %s --config $d/config.toml 2>$d/err; rc=$?; "
             "grep -q secret $d/err && grep -q 'nothing was started' $d/err && exit $rc",
             BILL_SERVER_BIN);
    int rc = system(cmd);
    ck_assert_int_eq(WEXITSTATUS(rc), 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("e2e");
    TCase *tc = tcase_create("server");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_e2e__grpc_native);
    tcase_add_test(tc, test_e2e__reflection);
    tcase_add_test(tc, test_e2e__grpc_web);
    tcase_add_test(tc, test_e2e__cors);
    tcase_add_test(tc, test_e2e__endpoints);
    tcase_add_test(tc, test_e2e__hostile);
    tcase_add_test(tc, test_e2e__many_connections);
    tcase_add_test(tc, test_e2e__sigterm_inflight);
    tcase_add_test(tc, test_e2e__head_without_body);
    suite_add_tcase(s, tc);
    TCase *tcu = tcase_create("proxy_untrusted");
    tcase_add_checked_fixture(tcu, setup_strict, teardown);
    tcase_set_timeout(tcu, 120);
    tcase_add_test(tcu, test_e2e__proxy_headers_untrusted);
    suite_add_tcase(s, tcu);
    TCase *tcp = tcase_create("proxy");
    tcase_add_checked_fixture(tcp, setup_proxy, teardown_proxy);
    tcase_set_timeout(tcp, 120);
    tcase_add_test(tcp, test_e2e__proxy_headers_trusted);
    suite_add_tcase(s, tcp);
    TCase *tck = tcase_create("keys");
    tcase_add_checked_fixture(tck, setup_keys, teardown_keys);
    tcase_set_timeout(tck, 120);
    tcase_add_test(tck, test_e2e__server_config_keys);
    suite_add_tcase(s, tck);
    TCase *tc2 = tcase_create("config");
    tcase_add_test(tc2, test_e2e__bad_config_refused);
    suite_add_tcase(s, tc2);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
