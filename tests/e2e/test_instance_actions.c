/*
 * test_instance_actions.c — e2e: customers control their own instances
 * (issue 8). A real bill-server with provider-incus in its plugins_dir;
 * instance_actions.py starts the fake Incus (tests/peers, mTLS), configures
 * the interface with bill-cli, provisions an instance by ordering and paying
 * over gRPC, and drives Start/Stop/Restart/TerminateInstance over gRPC-Web
 * (as a browser sends them) and native gRPC. Afterwards the database must
 * show the instance terminated and its order of calls in the operation log.
 */
#include "check_main.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "pg_harness.h"
#include "server_harness.h"

static bill_test_server srv;
static char plugdir[64];

static void setup(void)
{
    char cmd[512], toml[512];
    snprintf(plugdir, sizeof plugdir, "/tmp/bill-instact-plugins.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(plugdir));
    snprintf(cmd, sizeof cmd, "cp %s/provider-incus/provider-incus.so %s/", BUILTIN_PLUGIN_DIR,
             plugdir);
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

START_TEST(test_instance_actions__browser_and_grpc)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %d %s %s '%s' %s", E2E_INSTANCE_CLIENT, srv.port,
             srv.dir, BILL_CLI_BIN, srv.db_url, PEERS_DIR);
    int rc = system(cmd);
    ck_assert_int_eq(rc == -1 ? -1 : WEXITSTATUS(rc), 0);
    ck_assert_msg(bill_test_server_alive(&srv), "server died");
    /* the database agrees: one instance, terminated, with the time set */
    ck_assert_int_eq(bill_test_pg_query_ll(srv.db_url,
        "SELECT count(*) FROM instances WHERE status = 'terminated' AND terminated_at IS NOT NULL"), 1);
    ck_assert_int_eq(bill_test_pg_query_ll(srv.db_url, "SELECT count(*) FROM instances"), 1);
    ck_assert_int_eq(bill_test_pg_query_ll(srv.db_url,
        "SELECT count(*) FROM operation_logs WHERE action LIKE 'instance.%' AND actor_type = "
        "'customer' AND after ? 'status'"), 4);
}
END_TEST

BILL_TEST_MAIN("e2e_instance_actions", 240, setup, teardown,
               test_instance_actions__browser_and_grpc);
