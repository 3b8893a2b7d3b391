/*
 * test_defence.c — e2e suite for bill-server's HTTP/2 defences (issue 8
 * defect 5) and strict gRPC framing (defect 7): a real bill-server per test,
 * driven by h2defence.py, a hand-built HTTP/2 client over real sockets.
 * Handler executions are read from /metrics, so the tests see from the
 * server itself that cancelled requests never ran.
 *
 * TCase "default": the server as configured by default, but for the
 *   anonymous catalog cache (off: the scenarios need calls that reach a
 *   worker).
 * TCase "limited": max_concurrency = 1 and max_requests_per_connection = 4,
 *   so one request blocked on a table lock (held by psql) occupies the only
 *   worker and the connection limit is small enough to reach.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server_harness.h"

static bill_test_server srv;
static char local_toml[128];

static void start(const char *local)
{
    if (local) {
        snprintf(local_toml, sizeof local_toml, "/tmp/bill-e2e-defence-%d.toml", (int)getpid());
        FILE *f = fopen(local_toml, "w");
        ck_assert_ptr_nonnull(f);
        fputs(local, f);
        fclose(f);
        setenv("LOCAL_CONFIG_FILE", local_toml, 1);
    }
    /* The scenarios count handler runs of anonymous catalog calls: with the
     * catalog cache on, repeated ones would be answered from memory. */
    ck_assert_msg(bill_test_server_start(&srv, BILL_SERVER_BIN, "[cache]\ncatalog_max_bytes = 0\n") == 0,
                  "bill-server did not start");
}

static void setup_default(void) { start(NULL); }
static void setup_limited(void)
{
    start("[server]\nmax_concurrency = 1\nmax_requests_per_connection = 4\n");
}

static void teardown(void)
{
    if (srv.pid > 0) {
        int rc = bill_test_server_stop(&srv, SIGTERM, 15000);
        ck_assert_msg(rc == 0, "bill-server exit status %d after SIGTERM", rc);
    }
    if (local_toml[0]) {
        unlink(local_toml);
        unsetenv("LOCAL_CONFIG_FILE");
        local_toml[0] = '\0';
    }
}

static int run(const char *scenario)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %d '%s' %s", E2E_H2DEFENCE, srv.port,
             srv.db_url, scenario);
    int rc = system(cmd);
    return rc == -1 ? -1 : WEXITSTATUS(rc);
}

#define SCENARIO(name)                                                         \
    START_TEST(test_defence__##name)                                           \
    {                                                                          \
        ck_assert_int_eq(run(#name), 0);                                       \
        ck_assert_msg(bill_test_server_alive(&srv), "server died");            \
    }                                                                          \
    END_TEST

SCENARIO(reset_same_write)
SCENARIO(rapid_reset)
SCENARIO(attack_fairness)
SCENARIO(frame_flags)
SCENARIO(reset_queued)
SCENARIO(close_cancels)
SCENARIO(stream_limit)

int main(void)
{
    Suite *s = suite_create("e2e_defence");
    TCase *tc = tcase_create("default");
    tcase_add_checked_fixture(tc, setup_default, teardown);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_defence__reset_same_write);
    tcase_add_test(tc, test_defence__rapid_reset);
    tcase_add_test(tc, test_defence__attack_fairness);
    tcase_add_test(tc, test_defence__frame_flags);
    suite_add_tcase(s, tc);
    TCase *tl = tcase_create("limited");
    tcase_add_checked_fixture(tl, setup_limited, teardown);
    tcase_set_timeout(tl, 180);
    tcase_add_test(tl, test_defence__reset_queued);
    tcase_add_test(tl, test_defence__close_cancels);
    tcase_add_test(tl, test_defence__stream_limit);
    suite_add_tcase(s, tl);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
