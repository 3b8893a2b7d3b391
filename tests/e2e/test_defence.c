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
#include "check_main.h"

static bill_test_server srv;
static char local_toml[128];

static void start(const char *local)
{
    if (local)
        bill_test_local_config(local_toml, sizeof local_toml, local);
    /* The scenarios count handler runs of anonymous catalog calls: with the
     * catalog cache on, repeated ones would be answered from memory. */
    bill_test_server_up(&srv, BILL_SERVER_BIN, NULL, NULL, "[cache]\ncatalog_max_bytes = 0\n");
}

static void setup_default(void) { start(NULL); }
static void setup_limited(void)
{
    start("[server]\nmax_concurrency = 1\nmax_requests_per_connection = 4\n");
}

static void teardown(void)
{
    bill_test_server_down(&srv);
    bill_test_local_config_end(local_toml);
}

static int run(const char *scenario)
{
    return bill_test_shell("/usr/bin/python3 %s %d '%s' %s", E2E_H2DEFENCE, srv.port, srv.db_url,
                        scenario);
}

static const char *const defaults[] = {"reset_same_write", "rapid_reset", "attack_fairness",
                                       "frame_flags"};
static const char *const limited[] = {"reset_queued", "close_cancels", "stream_limit"};
BILL_TEST_SCENARIOS(test_defence__default, run, &srv, defaults)
BILL_TEST_SCENARIOS(test_defence__limited, run, &srv, limited)

BILL_TEST_MAIN_CASES("e2e_defence",
                     BILL_TEST_LOOP_CASE("default", 180, setup_default, teardown,
                                         BILL_TEST_COUNT(defaults), test_defence__default),
                     BILL_TEST_LOOP_CASE("limited", 180, setup_limited, teardown,
                                         BILL_TEST_COUNT(limited), test_defence__limited));
