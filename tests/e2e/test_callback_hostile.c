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

static bill_test_server srv;
static char plugdir[64];

static void setup(void)
{
    char cmd[512], toml[512];
    snprintf(plugdir, sizeof plugdir, "/tmp/bill-hostile-plugins.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(plugdir));
    snprintf(cmd, sizeof cmd, "cp %s/gateway-yipay/gateway-yipay.so "
             "%s/gateway-banktransfer/gateway-banktransfer.so %s/",
             BUILTIN_PLUGIN_DIR, BUILTIN_PLUGIN_DIR, plugdir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(toml, sizeof toml,
             "[plugins]\nplugins_dir = \"%s\"\n"
             "[security]\nmaster_key = \"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"\n",
             plugdir);
    ck_assert_msg(bill_test_server_start(&srv, BILL_SERVER_BIN, toml) == 0, "bill-server did not start");
}

static void teardown(void)
{
    char cmd[128];
    if (srv.pid > 0) {
        int rc = bill_test_server_stop(&srv, SIGTERM, 15000);
        ck_assert_msg(rc == 0, "bill-server exit status %d after SIGTERM", rc);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", plugdir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", plugdir);
}

START_TEST(test_callback_hostile__answers_and_keeps_serving)
{
    char cmd[1024];
    pid_t pid = srv.pid;
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %d %s %s", E2E_HOSTILE_CLIENT, srv.port, srv.dir,
             BILL_CLI_BIN);
    int rc = system(cmd);
    ck_assert_msg(bill_test_server_alive(&srv), "bill-server died (see %s)", srv.log);
    ck_assert_msg(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0,
                  "test_callback_hostile.py failed (server log %s)", srv.log);
    ck_assert_int_eq(srv.pid, pid);
    ck_assert_int_eq(bill_test_pg_query_ll(srv.db_url,
                     "SELECT count(*) FROM payments"), 0);
    ck_assert_int_eq(bill_test_pg_query_ll(srv.db_url, "SELECT count(*) FROM balance_transactions"), 0);
}
END_TEST

BILL_TEST_MAIN("e2e_callback_hostile", 0, setup, teardown,
               test_callback_hostile__answers_and_keeps_serving);
