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
#include "check_main.h"

BILL_TEST_SERVER_FIXTURE(NULL, NULL, NULL)

/* The proxy scenarios assert the Login rate limit per client address: the
 * shipped limits instead of the harness's relaxed ones. */
static void setup_strict(void)
{
    bill_test_server_up(&srv, BILL_SERVER_BIN, NULL, NULL, BILL_TEST_RATE_LIMIT_STRICT);
}

static int run_client(const char *scenario)
{
    return bill_test_shell("/usr/bin/python3 %s %d %s", E2E_CLIENT, srv.port, scenario);
}

static const char *const scenarios[] = {"grpc_native", "reflection", "grpc_web",        "cors",
                                        "endpoints",   "hostile",    "many_connections"};
BILL_TEST_SCENARIOS(test_e2e__scenario, run_client, &srv, scenarios)

/* hardening.py scenarios (HEAD, reverse proxies): they read the server log. */
static int run_hardening(const char *scenario)
{
    return bill_test_shell("/usr/bin/python3 %s %d %s %s", E2E_HARDENING, srv.port, srv.log, scenario);
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
    bill_test_local_config(proxy_local, sizeof proxy_local,
                           "[server]\ntrusted_proxies = [\"127.0.0.1\", \"::1\"]\n");
    setup_strict();
}

static void teardown_proxy(void)
{
    teardown();
    bill_test_local_config_end(proxy_local);
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
    ck_assert_int_eq(bill_test_shell("mkdir -p %s/admin && echo '<html>s2-admin-marker</html>' > "
                                  "%s/admin/index.html", keys_dir, keys_dir), 0);
    char toml[400];
    snprintf(toml, sizeof toml,
             "[server]\nadmin_dir = \"%s/admin\"\nidle_timeout_ms = 500\nio_threads = 1\n", keys_dir);
    bill_test_local_config(proxy_local, sizeof proxy_local, toml);
    unsetenv("BILL_ADMIN_DIR");
    unsetenv("BILL_SERVER_IDLE_TIMEOUT_MS");
    unsetenv("BILL_SERVER_THREADS");
    setup();
}

static void teardown_keys(void)
{
    teardown();
    bill_test_local_config_end(proxy_local);
    ck_assert_int_eq(bill_test_shell("rm -rf %s", keys_dir), 0);
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
    ck_assert_int_eq(bill_test_shell("d=$(mktemp -d) && printf '[jwt]\\nsecret = \"short\"\\n' > "
                                  "$d/config.toml && chmod 600 $d/config.toml && %s --config "
                                  "$d/config.toml 2>$d/err; rc=$?; grep -q secret $d/err && grep -q "
                                  "'nothing was started' $d/err && exit $rc", BILL_SERVER_BIN), 1);
}
END_TEST

BILL_TEST_MAIN_CASES("e2e",
                     BILL_TEST_LOOP_CASE("scenarios", 120, setup, teardown,
                                         BILL_TEST_COUNT(scenarios), test_e2e__scenario),
                     BILL_TEST_CASE("server", 120, setup, teardown, test_e2e__sigterm_inflight,
                                    test_e2e__head_without_body),
                     BILL_TEST_CASE("proxy_untrusted", 120, setup_strict, teardown,
                                    test_e2e__proxy_headers_untrusted),
                     BILL_TEST_CASE("proxy", 120, setup_proxy, teardown_proxy,
                                    test_e2e__proxy_headers_trusted),
                     BILL_TEST_CASE("keys", 120, setup_keys, teardown_keys,
                                    test_e2e__server_config_keys),
                     BILL_TEST_CASE("config", 0, NULL, NULL, test_e2e__bad_config_refused));
