/*
 * test_redis.c — e2e: optional Redis (issue 12 item 3) under two real
 * bill-servers of one database and one real redis-server (unix socket,
 * redis_harness.h), driven by test_redis.py: the login limit shared by
 * both servers, a sign-out on A refused at once on B, redis-server killed
 * under steady load (0 failed requests, one WARN per server) and restarted
 * (one INFO per server, limits shared again).
 */
#include "check_main.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pg_harness.h"
#include "redis_harness.h"
#include "server_harness.h"

static bill_test_server a, b;
static bill_test_redis rs;

static void setup(void)
{
    char extra[1024];
    ck_assert_int_eq(bill_test_redis_start(&rs), 0);
    snprintf(extra, sizeof extra,
             "[redis]\nenabled = true\nurl = \"%s\"\nprefix = \"e2e\"\ntimeout_ms = 500\n"
             BILL_TEST_RATE_LIMIT_STRICT, rs.url);
    ck_assert_msg(bill_test_server_start(&a, BILL_SERVER_BIN, extra) == 0,
                  "bill-server A did not start");
    ck_assert_msg(bill_test_server_start_on(&b, BILL_SERVER_BIN, extra, a.db_url) == 0,
                  "bill-server B did not start");
}

static void teardown(void)
{
    if (b.pid > 0)
        ck_assert_int_eq(bill_test_server_stop(&b, SIGTERM, 15000), 0);
    if (a.pid > 0)
        ck_assert_int_eq(bill_test_server_stop(&a, SIGTERM, 15000), 0);
    bill_test_redis_stop(&rs);
}

START_TEST(test_redis__shared_state_and_outage)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %d %d %s %s %d %s", E2E_REDIS_CLIENT, a.port,
             b.port, a.log, b.log, (int)rs.pid, rs.dir);
    int rc = system(cmd);
    /* the client killed redis-server; reap it here (it is our child) */
    if (rs.pid > 0 && waitpid(rs.pid, NULL, WNOHANG) == rs.pid)
        rs.pid = 0;
    ck_assert_int_eq(rc == -1 ? -1 : WEXITSTATUS(rc), 0);
    ck_assert_msg(bill_test_server_alive(&a) && bill_test_server_alive(&b), "a server died");
}
END_TEST

BILL_TEST_MAIN("e2e_redis", 180, setup, teardown, test_redis__shared_state_and_outage);
