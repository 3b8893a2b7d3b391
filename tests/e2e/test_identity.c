/*
 * test_identity.c — e2e suite for IdentityService and the auth layers: a
 * real bill-server (fresh database per test) driven by test_identity.py
 * (python3-grpcio for native gRPC, http.client and curl for gRPC-Web over
 * HTTP/1.1 with the admin session cookie). Scenarios: customer register →
 * login → GetMe → refresh → reuse → family revoked → logout → password
 * change; forged/expired/alg-none/wrong-signature tokens; admin cookie login,
 * tampered cookie, logout; failed-login lockout; Login and Register rate
 * limits (their own case, on a server with the shipped limits).
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "pg_harness.h"
#include "server_harness.h"
#include "check_main.h"

/* The stories run with the harness's relaxed [rate_limit], so a slow run
 * (ASan, shared cores) never turns one of their calls into
 * RESOURCE_EXHAUSTED; the limits themselves are asserted by the ratelimit
 * case, on a server with the shipped values (login 5/s, register 1/s). */
BILL_TEST_SERVER_FIXTURE(NULL, NULL, NULL)
static void setup_strict(void)
{
    bill_test_server_up(&srv, BILL_SERVER_BIN, NULL, NULL, BILL_TEST_RATE_LIMIT_STRICT);
}

static int run_client(const char *scenario)
{
    return bill_test_shell("/usr/bin/python3 %s %d %s", E2E_IDENTITY_CLIENT, srv.port, scenario);
}

START_TEST(test_identity__customer_story)
{
    ck_assert_int_eq(run_client("customer"), 0);
    /* Register created the customer with a zero balance, in the same
     * database the server uses, and stored only hashes. */
    BILL_TEST_PG_EXPECT(srv.db_url,
        {"SELECT count(*) FROM customers c JOIN customer_users u ON u.customer_id = c.id"
         " WHERE u.username = 'alice' AND c.balance = 0.00", 1},
        {"SELECT count(*) FROM refresh_tokens WHERE token_hash LIKE 'rt_%'", 0},
        {"SELECT count(*) FROM events WHERE kind = 'notify.verification_code'", 1});
    ck_assert_msg(bill_test_server_alive(&srv), "server died");
}
END_TEST

static const char *const scenarios[] = {"tokens", "admin"};
BILL_TEST_SCENARIOS(test_identity__scenario, run_client, &srv, scenarios)

/* Login and Register are limited per client address: bursts from one
 * address are refused with RESOURCE_EXHAUSTED "slow down" (not the lockout),
 * other methods are not, and each refusal is a WARN naming the address. */
START_TEST(test_identity__ratelimit)
{
    ck_assert_int_eq(run_client("ratelimit"), 0);
    ck_assert_msg(bill_test_server_alive(&srv), "server died");
    ck_assert_msg(bill_test_shell("grep -q 'WARN.*rate limit: /rustbill.identity.IdentityService/Login"
                               " from 127.0.0.1' %s && grep -q 'WARN.*rate limit: "
                               "/rustbill.identity.IdentityService/Register from 127.0.0.1' %s",
                               srv.log, srv.log) == 0,
                  "no rate-limit WARN lines in %s", srv.log);
}
END_TEST

/* Lockout by username + client address (issue 8, defect 6); the WARN lines
 * name the attacker's address. */
START_TEST(test_identity__lockout)
{
    ck_assert_int_eq(run_client("lockout"), 0);
    ck_assert_msg(bill_test_server_alive(&srv), "server died");
    ck_assert_msg(bill_test_shell("grep -q 'WARN.*failed admin login for \"admin\" from 127.0.0.2' %s"
                               " && grep -q 'WARN.*login for locked user \"admin\" from 127.0.0.2"
                               " refused' %s", srv.log, srv.log) == 0,
                  "no WARN line with the attacker's address in %s", srv.log);
}
END_TEST

/* Suspended and closed customers (issue 8, defect 4): test_access.py. */
START_TEST(test_identity__suspended_customer)
{
    ck_assert_int_eq(bill_test_shell("/usr/bin/python3 %s %d %s '%s'", E2E_ACCESS_CLIENT, srv.port,
                                  BILL_CLI_BIN, srv.db_url), 0);
    ck_assert_msg(bill_test_server_alive(&srv), "server died");
}
END_TEST

BILL_TEST_MAIN_CASES("e2e_identity",
                     BILL_TEST_CASE("identity", 180, setup, teardown, test_identity__customer_story,
                                    test_identity__lockout, test_identity__suspended_customer),
                     BILL_TEST_LOOP_CASE("scenarios", 180, setup, teardown,
                                         BILL_TEST_COUNT(scenarios), test_identity__scenario),
                     BILL_TEST_CASE("ratelimit", 180, setup_strict, teardown,
                                    test_identity__ratelimit));
