/*
 * test_identity.c — e2e suite for IdentityService and the auth layers: a
 * real bill-server (fresh database per test) driven by test_identity.py
 * (python3-grpcio for native gRPC, http.client and curl for gRPC-Web over
 * HTTP/1.1 with the admin session cookie). Scenarios: customer register →
 * login → GetMe → refresh → reuse → family revoked → logout → password
 * change; forged/expired/alg-none/wrong-signature tokens; admin cookie login,
 * tampered cookie, logout; failed-login lockout; Login rate limit.
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

static void setup(void)
{
    ck_assert_msg(bill_test_server_start(&srv, BILL_SERVER_BIN, NULL) == 0,
                  "bill-server did not start");
}

static void teardown(void)
{
    if (srv.pid > 0) {
        int rc = bill_test_server_stop(&srv, SIGTERM, 15000);
        ck_assert_msg(rc == 0, "bill-server exit status %d after SIGTERM", rc);
    }
}

static int run_client(const char *scenario)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %d %s", E2E_IDENTITY_CLIENT, srv.port, scenario);
    int rc = system(cmd);
    return rc == -1 ? -1 : WEXITSTATUS(rc);
}

START_TEST(test_identity__customer_story)
{
    ck_assert_int_eq(run_client("customer"), 0);
    /* Register created the customer with a zero balance, in the same
     * database the server uses, and stored only hashes. */
    ck_assert_int_eq(bill_test_pg_query_ll(srv.db_url,
        "SELECT count(*) FROM customers c JOIN customer_users u ON u.customer_id = c.id"
        " WHERE u.username = 'alice' AND c.balance = 0.00"), 1);
    ck_assert_int_eq(bill_test_pg_query_ll(srv.db_url,
        "SELECT count(*) FROM refresh_tokens WHERE token_hash LIKE 'rt_%'"), 0);
    ck_assert_int_eq(bill_test_pg_query_ll(srv.db_url,
        "SELECT count(*) FROM events WHERE kind = 'notify.verification_code'"), 1);
    ck_assert_msg(bill_test_server_alive(&srv), "server died");
}
END_TEST

#define SCENARIO(name)                                                         \
    START_TEST(test_identity__##name)                                          \
    {                                                                          \
        ck_assert_int_eq(run_client(#name), 0);                                \
        ck_assert_msg(bill_test_server_alive(&srv), "server died");            \
    }                                                                          \
    END_TEST

SCENARIO(tokens)
SCENARIO(admin)
SCENARIO(ratelimit)

/* Lockout by username + client address (issue 8, defect 6); the WARN lines
 * name the attacker's address. */
START_TEST(test_identity__lockout)
{
    char cmd[600];
    ck_assert_int_eq(run_client("lockout"), 0);
    ck_assert_msg(bill_test_server_alive(&srv), "server died");
    snprintf(cmd, sizeof cmd,
             "grep -q 'WARN.*failed admin login for \"admin\" from 127.0.0.2' %s && "
             "grep -q 'WARN.*login for locked user \"admin\" from 127.0.0.2 refused' %s",
             srv.log, srv.log);
    ck_assert_msg(system(cmd) == 0, "no WARN line with the attacker's address in %s", srv.log);
}
END_TEST

/* Suspended and closed customers (issue 8, defect 4): test_access.py. */
START_TEST(test_identity__suspended_customer)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %d %s '%s'", E2E_ACCESS_CLIENT, srv.port,
             BILL_CLI_BIN, srv.db_url);
    int rc = system(cmd);
    ck_assert_int_eq(rc == -1 ? -1 : WEXITSTATUS(rc), 0);
    ck_assert_msg(bill_test_server_alive(&srv), "server died");
}
END_TEST

BILL_TEST_MAIN("e2e_identity", 180, setup, teardown,
               test_identity__customer_story, test_identity__tokens, test_identity__admin,
               test_identity__lockout, test_identity__ratelimit,
               test_identity__suspended_customer);
