/*
 * test_callback_hostile.c — e2e: hostile gateway notifications against a
 * real bill-server (issue 8, defect 1). The server runs with the built-in
 * gateway plugins in its plugins_dir; test_callback_hostile.py creates a
 * gateway-yipay and a gateway-banktransfer interface with bill-cli and sends
 * malformed, unsigned and hostile-but-signed forms as GET query strings,
 * POST bodies and raw bytes, checking every answer and GET /health after
 * each. Here: the server is still the same process afterwards, nothing was
 * confirmed or credited, and it stops cleanly on SIGTERM.
 */
#include "check_main.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pg_harness.h"
#include "server_harness.h"

BILL_TEST_SERVER_FIXTURE(BUILTIN_PLUGIN_DIR, NULL, "gateway-yipay", "gateway-banktransfer", NULL)

START_TEST(test_callback_hostile__answers_and_keeps_serving)
{
    pid_t pid = srv.pid;
    int rc = bill_test_shell("/usr/bin/python3 %s %d %s %s", E2E_HOSTILE_CLIENT, srv.port, srv.dir,
                          BILL_CLI_BIN);
    ck_assert_msg(bill_test_server_alive(&srv), "bill-server died (see %s)", srv.log);
    ck_assert_msg(rc == 0, "test_callback_hostile.py failed (server log %s)", srv.log);
    ck_assert_int_eq(srv.pid, pid);
    ck_assert_int_eq(bill_test_pg_query_ll(srv.db_url,
                     "SELECT count(*) FROM payments"), 0);
    ck_assert_int_eq(bill_test_pg_query_ll(srv.db_url, "SELECT count(*) FROM balance_transactions"), 0);
}
END_TEST

BILL_TEST_MAIN("e2e_callback_hostile", 0, setup, teardown,
               test_callback_hostile__answers_and_keeps_serving);
