/*
 * pg_harness.h — real PostgreSQL for the test suites (never a mock).
 *
 * Where the server comes from:
 *   - env BILL_TEST_PG_HOST (socket dir or host; + BILL_TEST_PG_PORT,
 *     BILL_TEST_PG_USER) names a running server — `./dev test` starts one
 *     shared cluster with tests/support/pg-cluster.sh and exports these;
 *   - otherwise the first call starts a private cluster for this process
 *     (same script, in /tmp/bill-test-pg.<pid>, as the `postgres` user when
 *     root) and the process stops and removes it at exit. Check's forked
 *     test children reuse the parent's cluster and never stop it.
 * Each test gets its own fresh database, so suites may run in parallel.
 * Failures to provide a database abort the test with a message on stderr.
 */
#ifndef BILL_TEST_PG_HARNESS_H
#define BILL_TEST_PG_HARNESS_H

#include <bill/bill.h>

/* libpq URL of the server's "postgres" database (static storage). */
const char *bill_test_pg_url_base(void);

/* Create a fresh, empty database named after `prefix` (may be NULL) and
 * return its libpq URL (malloc'd; free() it). */
char *bill_test_pg_new_database(const char *prefix);

/* The common case: a fresh database, migrated, with an open pool
 * (max 10 connections). Close it with bill_db_close. */
bill_db *bill_test_db_new(void);

/* Same, and *url_out (malloc'd; may be NULL) receives the database URL,
 * e.g. to open a second pool or run a frontend against it. */
bill_db *bill_test_db_new_url(char **url_out);

/* Run one SQL statement on `url` outside libbill (setup, tampering);
 * returns 0 on success, -1 with the server message on stderr. */
int bill_test_pg_exec(const char *url, const char *sql);

/* Outage tests. bill_test_pg_use_private() must come before any other call
 * of this harness: the process then starts its own cluster even when
 * ./dev test shares one (which others use meanwhile). bill_test_pg_halt()
 * stops that private cluster, keeping its data (every connection breaks,
 * new ones are refused); bill_test_pg_resume() starts it again. Both return
 * 0, or -1 (also when the cluster is not private). */
void bill_test_pg_use_private(void);
int bill_test_pg_halt(void);
int bill_test_pg_resume(void);

/* First cell of a one-row query on `url` as an integer (counts, pids);
 * aborts the test on failure. */
long long bill_test_pg_query_ll(const char *url, const char *sql);
/* The same with the query formatted printf-style (ids into counts). */
long long bill_test_pg_queryf_ll(const char *url, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Counts a test expects: the first cell of each query must be `want`;
 * fails the test naming the query and both numbers. */
typedef struct bill_test_count {
    const char *sql;
    long long want;
} bill_test_count;
void bill_test_pg_expect(const char *url, const bill_test_count *counts, size_t n);
#define BILL_TEST_PG_EXPECT(url, ...)                                           \
    do {                                                                        \
        const bill_test_count c_[] = {__VA_ARGS__};                             \
        bill_test_pg_expect((url), c_, sizeof c_ / sizeof c_[0]);              \
    } while (0)

#endif
