/*
 * test_wiring.c — e2e: what bill-server runs besides request handling.
 *   - gateway callbacks: a real server with the gateway-yipay plugin in its
 *     plugins_dir (a copy of the built .so); test_wiring.py creates the
 *     interface with bill-cli, creates and pays an order through the gateway
 *     over gRPC and POSTs the signed notification twice. Here the database
 *     must show the order paid once, one success payment, one "order.paid"
 *     event — which the server's own event workers then process (done).
 *   - `bill-cli events run-once` processes a due "notify" event with the
 *     provisioning/notification handlers (after the server stopped, so no
 *     worker races it).
 *   - SIGTERM stops the workers and the timer thread: exit status 0.
 */
#include "check_main.h"
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pg_harness.h"
#include "server_harness.h"

BILL_TEST_SERVER_FIXTURE(BUILTIN_PLUGIN_DIR, NULL, "gateway-yipay", NULL)

/* Run the client; copy the ORDER/PAYMENT ids it prints. Exit status. */
static int run_client(char order[64], char payment[64])
{
    char cmd[2048], line[256];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %d %s %s", E2E_WIRING_CLIENT, srv.port, srv.dir,
             BILL_CLI_BIN);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    while (fgets(line, sizeof line, p)) {
        fputs(line, stderr);
        sscanf(line, "ORDER %63s", order);
        sscanf(line, "PAYMENT %63s", payment);
    }
    int rc = pclose(p);
    return rc == -1 ? -1 : WEXITSTATUS(rc);
}

START_TEST(test_wiring__callback_pays_once)
{
    char order[64] = "", payment[64] = "";
    ck_assert_int_eq(run_client(order, payment), 0);
    ck_assert_int_eq(strlen(order), 36);
    /* paid, or already activated by the server's event workers (a product
     * without a provider runs at once): the state the order has moved on to */
    ck_assert_int_eq(bill_test_pg_queryf_ll(srv.db_url, "SELECT count(*) FROM orders WHERE id = '%s' AND status "
                                                        "IN ('paid', 'provisioning', 'active')", order), 1);
    ck_assert_int_eq(bill_test_pg_queryf_ll(srv.db_url, "SELECT count(*) FROM payments WHERE order_id = '%s' AND status = 'success'",
                       order), 1);
    ck_assert_int_eq(bill_test_pg_queryf_ll(srv.db_url, "SELECT count(*) FROM payments WHERE order_id = '%s'", order), 1);
    ck_assert_int_eq(bill_test_pg_queryf_ll(srv.db_url, "SELECT count(*) FROM payments WHERE id = '%s' AND gateway_tx_id = '2024000001'",
                       payment), 1);
    ck_assert_int_eq(bill_test_pg_queryf_ll(srv.db_url, "SELECT count(*) FROM events WHERE kind = 'order.paid' "
                       "AND payload->>'order_id' = '%s'", order), 1);
    /* The payment that arrived for a cancelled order: confirmed, credited
     * to the balance, the customer told; the reused trade_no changed nothing. */
    ck_assert_int_eq(bill_test_pg_queryf_ll(srv.db_url, "SELECT count(*) FROM payments WHERE credited_to_balance AND "
                       "status = 'success' AND gateway_tx_id = '2024000002'"), 1);
    ck_assert_int_eq(bill_test_pg_queryf_ll(srv.db_url, "SELECT count(*) FROM payments WHERE gateway_tx_id IS NOT NULL"), 2);
    ck_assert_int_eq(bill_test_pg_queryf_ll(srv.db_url, "SELECT count(*) FROM events WHERE kind = 'notify' AND "
                       "payload->>'kind' = 'payment.received'"), 2);
    /* The server's event workers take it (poll interval 1 s). */
    long long done = 0;
    for (int i = 0; i < 100 && done != 1; i++) {
        done = bill_test_pg_queryf_ll(srv.db_url, "SELECT count(*) FROM events WHERE kind = 'order.paid' AND status = 'done' "
                 "AND payload->>'order_id' = '%s'", order);
        if (done != 1)
            usleep(100 * 1000);
    }
    ck_assert_int_eq(done, 1);
    ck_assert_msg(bill_test_server_alive(&srv), "server died");
}
END_TEST

START_TEST(test_wiring__cli_events_run_once_processes)
{
    char *url = strdup(srv.db_url);
    int rc = bill_test_server_stop(&srv, SIGTERM, 15000);
    ck_assert_msg(rc == 0, "bill-server exit status %d after SIGTERM", rc);
    srv.pid = 0;
    ck_assert_int_eq(bill_test_pg_exec(url,
        "INSERT INTO events (kind, payload) VALUES ('notify', '{\"kind\":\"order.paid\","
        "\"recipient\":\"ops@example.com\",\"subject\":\"s\",\"body\":\"b\"}')"), 0);
    ck_assert_int_eq(bill_test_shell("cd %s && %s --config %s/config.toml events run-once", srv.dir,
                                  BILL_CLI_BIN, srv.dir), 0);
    ck_assert_int_eq(bill_test_pg_query_ll(url,
        "SELECT count(*) FROM events WHERE kind = 'notify' AND status = 'done'"), 1);
    ck_assert_int_eq(bill_test_pg_query_ll(url,
        "SELECT count(*) FROM events WHERE status <> 'done'"), 0);
    free(url);
}
END_TEST

BILL_TEST_MAIN("e2e_wiring", 0, setup, teardown,
               test_wiring__callback_pays_once, test_wiring__cli_events_run_once_processes);
