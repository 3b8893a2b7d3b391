/*
 * test_catcache.c — e2e: the anonymous catalog cache (issue 13) on two
 * real bill-servers of one database, bill-cli writing the catalog
 * (test_catcache.py): hits, credentials bypass it, a CLI write visible on
 * both servers within 1 s, the memory bound of the second server.
 */
#include "check_main.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "pg_harness.h"
#include "server_harness.h"

static bill_test_server a, b;

static void setup(void)
{
    bill_test_server_up_pair(&a, &b, BILL_SERVER_BIN, "[cache]\ncatalog_poll_ms = 250\n",
                             "[cache]\ncatalog_max_bytes = 4096\ncatalog_poll_ms = 250\n");
}

static void teardown(void)
{
    if (b.pid > 0)
        ck_assert_int_eq(bill_test_server_stop(&b, SIGTERM, 15000), 0);
    if (a.pid > 0)
        ck_assert_int_eq(bill_test_server_stop(&a, SIGTERM, 15000), 0);
}

START_TEST(test_catcache__cli_writes_reach_both_servers)
{
    ck_assert_int_eq(bill_test_shell("/usr/bin/python3 %s %d %d %s %s", E2E_CATCACHE_CLIENT, a.port,
                                  b.port, a.dir, BILL_CLI_BIN), 0);
    ck_assert_msg(bill_test_server_alive(&a) && bill_test_server_alive(&b), "a server died");
}
END_TEST

BILL_TEST_MAIN("e2e_catcache", 180, setup, teardown, test_catcache__cli_writes_reach_both_servers);
