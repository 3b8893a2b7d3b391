/*
 * test_api.c — e2e suite for the customer API services (everything of
 * wire-contract.md but IdentityService): one real bill-server per scenario
 * with a fresh PostgreSQL database, driven by test_api.py over native gRPC
 * (python3-grpcio) and gRPC-Web on HTTP/1.1 (curl), with bill-cli run as a
 * real process against the same config to seed and recharge.
 * After the client exits the database is checked directly: ledgers chain,
 * nothing was charged twice.
 */
#include "check_main.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "pg_harness.h"
#include "server_harness.h"

BILL_TEST_SERVER_FIXTURE(NULL, NULL, NULL)

static int run_client(const char *scenario)
{
    return bill_test_shell("/usr/bin/python3 %s %d %s %s %s", E2E_API_CLIENT, srv.port, scenario,
                        srv.dir, BILL_CLI_BIN);
}

/* Every customer's balance equals the sum of its ledger. */
static void assert_ledgers_consistent(void)
{
    ck_assert_int_eq(bill_test_pg_query_ll(srv.db_url,
        "SELECT count(*) FROM customers c WHERE c.balance <> COALESCE((SELECT sum(amount)"
        " FROM balance_transactions t WHERE t.customer_id = c.id), 0)"), 0);
}

#define SCENARIO(name)                                                                   \
    START_TEST(test_api__##name)                                                         \
    {                                                                                    \
        ck_assert_int_eq(run_client(#name), 0);                                          \
        assert_ledgers_consistent();                                                     \
        ck_assert_msg(bill_test_server_alive(&srv), "server died");                      \
    }                                                                                    \
    END_TEST

SCENARIO(story_web)
SCENARIO(story_grpc)
SCENARIO(isolation)
SCENARIO(wire)
SCENARIO(renewal)

/* 50 parallel PayOrder on one order, then 20 orders against a balance that
 * covers 10: the database agrees with what the client saw. */
START_TEST(test_api__concurrency)
{
    ck_assert_int_eq(run_client("concurrency"), 0);
    assert_ledgers_consistent();
    BILL_TEST_PG_EXPECT(srv.db_url,
        {"SELECT count(*) FROM balance_transactions WHERE transaction_type = 'payment'", 11},
        {"SELECT count(*) FROM payments WHERE status = 'success'", 11},
        /* paid, or already activated by the server's event workers (a product
         * without a provider runs at once) */
        {"SELECT count(*) FROM orders WHERE status IN ('paid', 'provisioning', 'active')", 11});
    ck_assert_msg(bill_test_server_alive(&srv), "server died");
}
END_TEST

BILL_TEST_MAIN("e2e_api", 300, setup, teardown,
               test_api__story_web, test_api__story_grpc, test_api__isolation,
               test_api__concurrency, test_api__wire, test_api__renewal);
