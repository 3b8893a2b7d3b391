/*
 * test_frontend.c — e2e: the RustBill web front end's vocabulary and
 * anonymous gateway list (issue 8; docs/api-compat.md), each case over
 * gRPC-Web exactly as the browser sends it (test_frontend.py), against a
 * real bill-server with the gateway-yipay plugin. Afterwards the database
 * must hold the front end's words: priorities medium/urgent, purpose
 * registration, payment refunded with its refunded amount.
 */
#include "check_main.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "pg_harness.h"
#include "server_harness.h"

BILL_TEST_SERVER_FIXTURE(BUILTIN_PLUGIN_DIR, NULL, "gateway-yipay", NULL)

START_TEST(test_frontend__browser_vocabulary_and_anonymous_gateways)
{
    ck_assert_int_eq(bill_test_shell("/usr/bin/python3 %s %d %s %s", E2E_FRONTEND_CLIENT, srv.port,
                                  srv.dir, BILL_CLI_BIN), 0);
    ck_assert_msg(bill_test_server_alive(&srv), "server died");
    BILL_TEST_PG_EXPECT(srv.db_url,
        {"SELECT count(*) FROM tickets WHERE priority = 'medium'", 3},
        {"SELECT count(*) FROM tickets WHERE priority NOT IN ('medium', 'urgent')", 0},
        {"SELECT count(*) FROM verification_codes WHERE email = 'new@example.com' AND "
         "purpose = 'registration'", 1},
        {"SELECT count(*) FROM verification_codes WHERE purpose = 'reset_password'", 1},
        {"SELECT count(*) FROM payments WHERE status = 'refunded' AND refunded_amount = 4.00 "
         "AND amount = 10.00", 1});
}
END_TEST

BILL_TEST_MAIN("e2e_frontend", 180, setup, teardown,
               test_frontend__browser_vocabulary_and_anonymous_gateways);
