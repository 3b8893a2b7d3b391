/*
 * test_pool_restart.c — the pool's promise across a PostgreSQL restart
 * (issue 13): after the server went away and came back, no borrower sees a
 * dead connection, whether the connection is checked with "SELECT 1"
 * (idle longer than test_after_idle_ms) or lent at once and checked by its
 * first statement. Runs on a private cluster (bill_test_pg_use_private) so
 * stopping it disturbs no other suite.
 */
#include "pg_harness.h"
#include "store/store.h"

#include "check_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N 3

/* Borrow every connection of the pool at once (so each old one is met)
 * and run a statement on each; every one must succeed. */
static void use_all(bill_db *db, long pids[N])
{
    bill_conn *c[N] = {NULL};
    for (int i = 0; i < N; i++) {
        ck_assert_msg(bill__conn_acquire(db, &c[i]) == BILL_OK, "acquire %d: %s", i,
                      bill_error_last()->message);
        PGresult *r = NULL;
        ck_assert_msg(bill__q(c[i], &r, "SELECT pg_backend_pid()", 0, NULL) == BILL_OK,
                      "statement on connection %d: %s", i, bill_error_last()->message);
        pids[i] = atol(bill__val(r, 0, 0));
        PQclear(r);
    }
    for (int i = 0; i < N; i++)
        bill__conn_release(c[i]);
}

static void restart_case(int test_after_idle_ms)
{
    char *url = bill_test_pg_new_database("pool_restart");
    bill_db_options o;
    bill_db *db = NULL;
    long before[N], after[N];
    bill_db_options_init(&o);
    o.url = url;
    o.min_connections = N;
    o.max_connections = N;
    o.test_after_idle_ms = test_after_idle_ms;
    ck_assert_int_eq(bill_db_open(&db, &o), BILL_OK);
    use_all(db, before);

    ck_assert_int_eq(bill_test_pg_halt(), 0);
    ck_assert_int_eq(bill_test_pg_resume(), 0);

    use_all(db, after);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            ck_assert_int_ne(after[i], before[j]);
    /* and a transaction on the warm pool right after */
    bill_conn *c = NULL;
    ck_assert_int_eq(bill__conn_acquire(db, &c), BILL_OK);
    ck_assert_int_eq(bill__tx_begin(c), BILL_OK);
    ck_assert_int_eq(bill__exec(c, "CREATE TEMP TABLE t (x int)"), BILL_OK);
    ck_assert_int_eq(bill__tx_commit(c), BILL_OK);
    bill__conn_release(c);

    bill_db_pool_stats st;
    bill_db_pool_stats_get(db, &st);
    ck_assert_int_eq(st.in_use, 0);
    ck_assert_int_eq(st.idle, N);
    bill_db_close(db);
    free(url);
}

/* every connection recently used: lent unchecked, first statement retries */
START_TEST(test_pool_restart__unchecked_connections_recover)
{
    restart_case(60 * 1000);
}
END_TEST

/* every connection checked with "SELECT 1" first */
START_TEST(test_pool_restart__pinged_connections_recover)
{
    restart_case(0);
}
END_TEST

BILL_TEST_MAIN_AFTER(bill_test_pg_use_private(), "pool_restart", 120, NULL, NULL,
                     test_pool_restart__unchecked_connections_recover,
                     test_pool_restart__pinged_connections_recover);
