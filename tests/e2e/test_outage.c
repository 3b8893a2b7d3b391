/*
 * test_outage.c — e2e: a real bill-server whose PostgreSQL stops mid-test
 * (issue 8, defect 3). This program runs its own private cluster
 * (bill_test_pg_use_private), so stopping it disturbs no other suite.
 *
 * With the database up, test_outage.py creates a gateway-yipay interface,
 * an order and its pending gateway payment, and signs the gateway's
 * notification. Then the cluster is halted and:
 *   - the valid notification answers 503 (retryable), not 404 and not a
 *     final "fail"; an interface id nobody can look up answers 503 too
 *     (unknown cannot be told from unreachable), a malformed path is still
 *     404 (that needs no database);
 *   - gRPC calls (JWT, Login right or wrong, the catalog) answer UNAVAILABLE;
 *   - /ready is 503, /health 200, the server stays alive.
 * The cluster comes back: /ready turns 200, the same notification (the
 * gateway's retry) answers "success" and pays the order once, and the
 * customer can log in (the outage's refused logins counted for nothing).
 */
#include "check_main.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pg_harness.h"
#include "server_harness.h"

BILL_TEST_SERVER_FIXTURE(BUILTIN_PLUGIN_DIR, NULL, "gateway-yipay", NULL)

/* Stops the server without asserting its exit status. */
static void teardown_outage(void)
{
    if (srv.pid > 0)
        bill_test_server_stop(&srv, SIGTERM, 15000);
}

/* HTTP status and body of a POST (form may be NULL: GET). */
static int http(const char *path, const char *form, char *body, size_t cap)
{
    char out[4096];
    int rc;
    if (form)
        rc = bill_test_sh(out, sizeof out,
                          "curl -s -m 20 -w '\\n%%{http_code}' -H 'Content-Type: "
                          "application/x-www-form-urlencoded' --data-raw '%s' "
                          "http://127.0.0.1:%d%s",
                          form, srv.port, path);
    else
        rc = bill_test_sh(out, sizeof out,
                          "curl -s -m 20 -w '\\n%%{http_code}' http://127.0.0.1:%d%s",
                          srv.port, path);
    ck_assert_int_eq(rc, 0);
    char *nl = strrchr(out, '\n');
    ck_assert_ptr_nonnull(nl);
    *nl = '\0';
    if (body)
        snprintf(body, cap, "%s", out);
    return atoi(nl + 1);
}

START_TEST(test_outage__callback_is_retryable_and_pays_after)
{
    char out[8192], iface[64], order[64], token[1024], form[2048], body[256], path[200];
    ck_assert_int_eq(bill_test_sh(out, sizeof out, "/usr/bin/python3 %s setup %d %s %s",
                                  E2E_OUTAGE_CLIENT, srv.port, srv.dir, BILL_CLI_BIN),
                     0);
    bill_test_sh_field(out, "IFACE", iface, sizeof iface);
    bill_test_sh_field(out, "ORDER", order, sizeof order);
    bill_test_sh_field(out, "TOKEN", token, sizeof token);
    bill_test_sh_field(out, "FORM", form, sizeof form);
    char *url = strdup(srv.db_url);

    ck_assert_int_eq(bill_test_pg_halt(), 0);
    snprintf(path, sizeof path, "/callback/yipay/%s", iface);
    ck_assert_int_eq(http(path, form, body, sizeof body), 503);
    ck_assert_int_eq(http(path, form, body, sizeof body), 503); /* a broken pool, then none */
    ck_assert_int_eq(http("/callback/yipay/00000000-0000-4000-8000-000000000000", form, NULL, 0),
                     503);
    ck_assert_int_eq(http("/callback/yipay/not-a-uuid", form, NULL, 0), 404);
    ck_assert_int_eq(http("/ready", NULL, NULL, 0), 503);
    ck_assert_int_eq(http("/health", NULL, NULL, 0), 200);
    ck_assert_int_eq(bill_test_sh(out, sizeof out, "/usr/bin/python3 %s down %d %s %s",
                                  E2E_OUTAGE_CLIENT, srv.port, token, order),
                     0);
    ck_assert_msg(bill_test_server_alive(&srv), "server died during the outage");

    ck_assert_int_eq(bill_test_pg_resume(), 0);
    int ready = 0;
    for (int i = 0; i < 100 && ready != 200; i++) {
        ready = http("/ready", NULL, NULL, 0);
        if (ready != 200)
            usleep(100 * 1000);
    }
    ck_assert_int_eq(ready, 200);
    ck_assert_int_eq(http(path, form, body, sizeof body), 200);
    ck_assert_str_eq(body, "success");
    ck_assert_int_eq(http(path, form, body, sizeof body), 200); /* replay */
    ck_assert_str_eq(body, "success");
    char sql[300];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM payments WHERE order_id = '%s' AND "
             "status = 'success' AND NOT credited_to_balance", order);
    ck_assert_int_eq(bill_test_pg_query_ll(url, sql), 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM events WHERE kind = 'order.paid' AND "
             "payload->>'order_id' = '%s'", order);
    ck_assert_int_eq(bill_test_pg_query_ll(url, sql), 1);
    ck_assert_int_eq(bill_test_sh(out, sizeof out, "/usr/bin/python3 %s up %d %s %s",
                                  E2E_OUTAGE_CLIENT, srv.port, token, order),
                     0);
    free(url);
}
END_TEST

BILL_TEST_MAIN_AFTER(bill_test_pg_use_private(), "e2e_outage", 0, setup, teardown_outage,
               test_outage__callback_is_retryable_and_pays_after);
