/*
 * test_billing_server.c — bill-server runs the billing pass by itself
 * ([billing] enabled, interval_secs) on the wall clock, and two servers on
 * one database at once bill every due renewal exactly once: one invoice,
 * one number, one ledger row, one payment each. With [billing] enabled =
 * false a server bills nothing.
 */
#include "check_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <signal.h>

#include "pg_harness.h"
#include "server_harness.h"

#define DUE 24

static long long q(const char *url, const char *sql)
{
    return bill_test_pg_query_ll(url, sql);
}

/* DUE running instances whose next renewal is due in 3 days (wall clock),
 * of customers who can pay them. */
static void book(const char *url)
{
    ck_assert_int_eq(bill_test_pg_exec(url,
        "INSERT INTO products (id, name, price) VALUES "
        "('00000000-0000-0000-0000-0000000000a1', 'VPS', 10.00);"
        "INSERT INTO product_prices (product_id, cycle, price) VALUES "
        "('00000000-0000-0000-0000-0000000000a1', 'monthly', 10.00);"
        "INSERT INTO customers (id, name, balance) SELECT "
        "('00000000-0000-0000-0001-' || lpad(to_hex(c), 12, '0'))::uuid, 'c' || c, 100 "
        "FROM generate_series(1, 24) c;"
        "INSERT INTO instances (customer_id, product_id, status, billing_cycle, anchor_date, "
        "current_period_start, next_due_date) SELECT "
        "('00000000-0000-0000-0001-' || lpad(to_hex(c), 12, '0'))::uuid, "
        "'00000000-0000-0000-0000-0000000000a1', 'running', 'monthly', "
        "(current_date + 3 - interval '1 month')::date, "
        "(current_date + 3 - interval '1 month')::date, current_date + 3 "
        "FROM generate_series(1, 24) c"), 0);
}

static void wait_for(const char *url, const char *sql, long long want, int secs)
{
    for (int i = 0; i < secs * 10; i++) {
        if (q(url, sql) == want)
            return;
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    ck_abort_msg("%s never gave %lld (now %lld)", sql, want, q(url, sql));
}

START_TEST(test_billing_server__two_servers_bill_once)
{
    bill_test_server a, b;
    const char *cfg = "[billing]\nenabled = true\ninterval_secs = 10\n";
    ck_assert_int_eq(bill_test_server_start(&a, BILL_SERVER_BIN, cfg), 0);
    book(a.db_url);
    ck_assert_int_eq(bill_test_server_start_on(&b, BILL_SERVER_BIN, cfg, a.db_url), 0);
    char *url = strdup(a.db_url);
    /* b passes at its start, a within its next 10 s; both keep passing */
    wait_for(url, "SELECT count(*) FROM invoices WHERE kind = 'renewal' AND status = 'paid'", DUE,
             30);
    struct timespec ts = {12, 0}; /* at least one more pass of each */
    nanosleep(&ts, NULL);
    ck_assert_int_eq(q(url, "SELECT count(*) FROM invoices"), DUE);
    ck_assert_int_eq(q(url, "SELECT count(DISTINCT invoice_number) FROM invoices"), DUE);
    ck_assert_int_eq(q(url, "SELECT coalesce(max(last_value), 0) FROM invoice_number_counters"),
                     DUE);
    ck_assert_int_eq(q(url, "SELECT count(*) FROM balance_transactions WHERE created_by = "
                            "'billing'"), DUE);
    ck_assert_int_eq(q(url, "SELECT count(*) FROM payments WHERE invoice_id IS NOT NULL"), DUE);
    ck_assert_int_eq(q(url, "SELECT count(*) FROM customers WHERE balance = 90.00"), DUE);
    /* the due date moved one period on, counted from the anchor */
    ck_assert_int_eq(q(url, "SELECT count(*) FROM instances WHERE next_due_date = "
                            "(anchor_date + interval '2 months')::date"), DUE);
    ck_assert_int_eq(bill_test_server_stop(&b, SIGTERM, 15000), 0);
    ck_assert_int_eq(bill_test_server_stop(&a, SIGTERM, 15000), 0);
    free(url);
}
END_TEST

START_TEST(test_billing_server__disabled_bills_nothing)
{
    bill_test_server a;
    ck_assert_int_eq(bill_test_server_start(&a, BILL_SERVER_BIN,
                                            "[billing]\nenabled = false\ninterval_secs = 10\n"),
                     0);
    book(a.db_url);
    char *url = strdup(a.db_url);
    /* a restart with the data in place: no pass at start either */
    ck_assert_int_eq(bill_test_server_stop(&a, SIGTERM, 15000), 0);
    ck_assert_int_eq(bill_test_server_start_on(&a, BILL_SERVER_BIN,
                                               "[billing]\nenabled = false\n", url),
                     0);
    struct timespec ts = {3, 0};
    nanosleep(&ts, NULL);
    ck_assert_int_eq(q(url, "SELECT count(*) FROM invoices"), 0);
    ck_assert_int_eq(bill_test_server_stop(&a, SIGTERM, 15000), 0);
    free(url);
}
END_TEST

BILL_TEST_MAIN("billing_server", 120, NULL, NULL,
               test_billing_server__two_servers_bill_once,
               test_billing_server__disabled_bills_nothing);
