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

BILL_TEST_SERVER_FIXTURE(BUILTIN_PLUGIN_DIR, NULL, "provider-incus", NULL)

START_TEST(test_instance_actions__browser_and_grpc)
{
    ck_assert_int_eq(bill_test_shell("/usr/bin/python3 %s %d %s %s '%s' %s", E2E_INSTANCE_CLIENT,
                                  srv.port, srv.dir, BILL_CLI_BIN, srv.db_url, PEERS_DIR), 0);
    ck_assert_msg(bill_test_server_alive(&srv), "server died");
    /* the database agrees: one instance, terminated, with the time set */
    BILL_TEST_PG_EXPECT(srv.db_url,
        {"SELECT count(*) FROM instances WHERE status = 'terminated' AND terminated_at IS NOT NULL", 1},
        {"SELECT count(*) FROM instances", 1},
        {"SELECT count(*) FROM operation_logs WHERE action LIKE 'instance.%' AND actor_type = "
         "'customer' AND after ? 'status'", 4});
}
END_TEST

BILL_TEST_MAIN("e2e_instance_actions", 240, setup, teardown,
               test_instance_actions__browser_and_grpc);
