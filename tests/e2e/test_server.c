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

#include "server_harness.h"

static bill_test_server srv;

static void setup(void)
{
    ck_assert_msg(bill_test_server_start(&srv, BILL_SERVER_BIN, NULL) == 0,
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
    suite_add_tcase(s, tc);
    TCase *tc2 = tcase_create("config");
    tcase_add_test(tc2, test_e2e__bad_config_refused);
    suite_add_tcase(s, tc2);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
