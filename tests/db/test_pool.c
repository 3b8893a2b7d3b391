/*
 * test_pool.c — white-box tests of the connection pool and statement helpers
 * (libbill/store/pool.c) against a real PostgreSQL: acquire timeout, dead
 * connection replacement, idle and lifetime expiry, concurrent borrowers,
 * rollback on release, SQLSTATE mapping, option validation.
 */
#include "pg_harness.h"
#include "store/store.h"

#include "check_main.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static bill_db *open_pool_waiting(const char *url, int min, int max, const char *app,
                                  int acquire_timeout_secs)
{
    bill_db_options o;
    bill_db *db = NULL;
    bill_db_options_init(&o);
    o.url = url;
    o.min_connections = min;
    o.max_connections = max;
    o.acquire_timeout_secs = acquire_timeout_secs;
    o.application_name = app;
    ck_assert_int_eq(bill_db_open(&db, &o), BILL_OK);
    return db;
}

static bill_db *open_pool(const char *url, int min, int max, const char *app)
{
    return open_pool_waiting(url, min, max, app, 1);
}

static long backend_pid(bill_conn *c)
{
    PGresult *r = NULL;
    ck_assert_int_eq(bill__q(c, &r, "SELECT pg_backend_pid()", 0, NULL), BILL_OK);
    long pid = atol(bill__val(r, 0, 0));
    PQclear(r);
    return pid;
}

START_TEST(test_pool__acquire_timeout_is_unavailable_with_advice)
{
    char *url = bill_test_pg_new_database("pool_to");
    bill_db *db = open_pool(url, 0, 2, "pool-timeout");
    bill_conn *a = NULL, *b = NULL, *c = NULL;
    bill_db_pool_stats st;

    ck_assert_int_eq(bill__conn_acquire(db, &a), BILL_OK);
    ck_assert_int_eq(bill__conn_acquire(db, &b), BILL_OK);
    double t0 = now_s();
    ck_assert_int_eq(bill__conn_acquire(db, &c), BILL_EUNAVAILABLE);
    double waited = now_s() - t0;
    ck_assert_msg(waited >= 0.9 && waited < 3.0, "waited %.2f s", waited);
    ck_assert_ptr_null(c);
    ck_assert_str_eq(bill_error_last()->message,
                     "no database connection free after 1 s (pool of 2 in use); "
                     "raise [db].max_connections or look for slow queries");
    bill_db_pool_stats_get(db, &st);
    ck_assert_int_eq(st.in_use, 2);
    ck_assert_int_eq(st.max, 2);
    ck_assert_uint_eq(st.timeouts_total, 1);
    ck_assert_uint_eq(st.acquired_total, 2);

    /* A release wakes a waiter well before its deadline. */
    bill__conn_release(a);
    ck_assert_int_eq(bill__conn_acquire(db, &c), BILL_OK);
    bill__conn_release(b);
    bill__conn_release(c);
    bill_db_pool_stats_get(db, &st);
    ck_assert_int_eq(st.in_use, 0);
    ck_assert_int_eq(st.idle, 2);
    bill_db_close(db);
    free(url);
}
END_TEST

/* End backend `pid` from outside and wait (up to 5 s) until it is gone,
 * so its FATAL message and the end of the stream are in the client's
 * socket. */
static void terminate_backend(const char *url, long pid)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%ld, 5000)::int", pid);
    ck_assert_int_eq(bill_test_pg_query_ll(url, sql), 1);
}

/* Borrow a connection of `db` (pool of one), put it back, and end its
 * session from outside; returns the ended backend's pid. */
static long end_idle_session(bill_db *db, const char *url)
{
    bill_conn *c = NULL;
    ck_assert_int_eq(bill__conn_acquire(db, &c), BILL_OK);
    long pid = backend_pid(c);
    bill__conn_release(c);
    terminate_backend(url, pid);
    return pid;
}

START_TEST(test_pool__dead_connection_is_replaced)
{
    char *url = bill_test_pg_new_database("pool_dead");
    bill_db *db = open_pool(url, 1, 1, "pool-dead-test");
    bill_conn *c = NULL;

    long pid1 = end_idle_session(db, url);
    /* test_before_acquire notices and hands out a fresh connection. (A
     * session ended while a statement is on its way fails that statement:
     * it may have run, so it is not sent again — see the next tests.) */
    ck_assert_int_eq(bill__conn_acquire(db, &c), BILL_OK);
    long pid2 = backend_pid(c);
    ck_assert_int_ne(pid1, pid2);
    bill__conn_release(c);
    ck_assert_int_eq(bill_db_ping(db), BILL_OK);
    bill_db_close(db);
    free(url);
}
END_TEST

/* Whether backend `pid`'s last statement (pg_stat_activity, seen from
 * another session) is exactly `sql`. */
static bool last_statement_is(const char *url, long pid, const char *sql)
{
    char q[512];
    snprintf(q, sizeof q,
             "SELECT count(*) FROM pg_stat_activity WHERE pid = %ld AND query = '%s'", pid, sql);
    return bill_test_pg_query_ll(url, q) == 1;
}

/* Issue 13: a connection used within test_after_idle_ms is lent without
 * the "SELECT 1" round trip; one idle longer still gets it. */
START_TEST(test_pool__ping_only_after_idle_threshold)
{
    char *url = bill_test_pg_new_database("pool_pingidle");
    bill_db_options o;
    bill_db *db = NULL;
    bill_conn *c = NULL;
    bill_db_options_init(&o);
    ck_assert_int_eq(o.test_after_idle_ms, 1000);
    o.url = url;
    o.min_connections = 1;
    o.max_connections = 1;
    o.test_after_idle_ms = 300;
    ck_assert_int_eq(bill_db_open(&db, &o), BILL_OK);

    ck_assert_int_eq(bill__conn_acquire(db, &c), BILL_OK);
    long pid = backend_pid(c);
    ck_assert_int_eq(bill__exec(c, "SELECT 'marker'"), BILL_OK);
    bill__conn_release(c);
    /* at once: no ping, the backend's last statement is still ours */
    ck_assert_int_eq(bill__conn_acquire(db, &c), BILL_OK);
    ck_assert(last_statement_is(url, pid, "SELECT ''marker''"));
    bill__conn_release(c);
    /* after the threshold: pinged */
    usleep(450 * 1000);
    ck_assert_int_eq(bill__conn_acquire(db, &c), BILL_OK);
    ck_assert(last_statement_is(url, pid, "SELECT 1"));
    bill__conn_release(c);

    /* 0: every acquire pings (the old behaviour) */
    bill_db_close(db);
    o.test_after_idle_ms = 0;
    ck_assert_int_eq(bill_db_open(&db, &o), BILL_OK);
    ck_assert_int_eq(bill__conn_acquire(db, &c), BILL_OK);
    pid = backend_pid(c);
    ck_assert_int_eq(bill__exec(c, "SELECT 'marker'"), BILL_OK);
    bill__conn_release(c);
    ck_assert_int_eq(bill__conn_acquire(db, &c), BILL_OK);
    ck_assert(last_statement_is(url, pid, "SELECT 1"));
    bill__conn_release(c);
    bill_db_close(db);

    o.test_after_idle_ms = -1;
    ck_assert_int_eq(bill_db_open(&db, &o), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "db.test_after_idle_ms");
    free(url);
}
END_TEST

/* The unchecked connection's backend dies: its first statement (a BEGIN,
 * or a query) reopens it and runs once more; a later statement that finds
 * the connection gone fails as before (no silent retry mid-work). */
START_TEST(test_pool__unverified_first_statement_retries_once)
{
    char *url = bill_test_pg_new_database("pool_retry");
    bill_db *db = open_pool(url, 1, 1, "pool-retry-test");
    bill_conn *c = NULL;
    char sql[128];

    ck_assert_int_eq(bill__conn_acquire(db, &c), BILL_OK);
    long pid1 = backend_pid(c);
    bill__conn_release(c);
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%ld)::int", pid1);
    ck_assert_int_eq(bill_test_pg_query_ll(url, sql), 1);
    usleep(100 * 1000);

    ck_assert_int_eq(bill__conn_acquire(db, &c), BILL_OK);
    ck_assert_int_eq(bill__tx_begin(c), BILL_OK);
    long pid2 = backend_pid(c);
    ck_assert_int_ne(pid1, pid2);
    ck_assert_int_eq(bill__tx_commit(c), BILL_OK);

    /* the same connection, now verified: a kill mid-borrow is an error */
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%ld)::int", pid2);
    ck_assert_int_eq(bill_test_pg_query_ll(url, sql), 1);
    usleep(100 * 1000);
    ck_assert_int_eq(bill__exec(c, "SELECT 1"), BILL_EUNAVAILABLE);
    bill__conn_release(c);
    ck_assert_int_eq(bill_db_ping(db), BILL_OK);

    bill_db_pool_stats st;
    bill_db_pool_stats_get(db, &st);
    ck_assert_int_eq(st.in_use, 0);
    ck_assert_int_eq(st.idle, 1);
    bill_db_close(db);
    free(url);
}
END_TEST

/* Issue 12 item 5: an unverified connection whose session the server ended
 * while it was idle is found dead before anything is sent (no round trip)
 * and reopened, even for a statement that writes; a statement that may
 * have run on the server (here: it ends its own session after nextval,
 * outside a transaction) is never sent a second time. */
START_TEST(test_pool__unverified_write_never_sent_twice)
{
    char *url = bill_test_pg_new_database("pool_once");
    ck_assert_int_eq(bill_test_pg_exec(url, "CREATE SEQUENCE s"), 0);
    bill_db *db = open_pool(url, 1, 1, "pool-once-test");
    bill_conn *c = NULL;
    PGresult *r = NULL;

    long pid1 = end_idle_session(db, url);
    /* lent unchecked (used < 1 s ago); the write goes to a new session */
    ck_assert_int_eq(bill__conn_acquire(db, &c), BILL_OK);
    ck_assert_int_eq(bill__q(c, &r, "SELECT nextval('s')", 0, NULL), BILL_OK);
    ck_assert_str_eq(bill__val(r, 0, 0), "1");
    PQclear(r);
    ck_assert_int_ne(backend_pid(c), pid1);
    bill__conn_release(c);

    /* the session dies under the statement, after its write */
    ck_assert_int_eq(bill__conn_acquire(db, &c), BILL_OK);
    ck_assert_int_eq(bill__exec(c, "SELECT nextval('s'), pg_terminate_backend(pg_backend_pid())"),
                     BILL_EUNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "connection lost"));
    bill__conn_release(c);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT last_value FROM s"), 2);
    ck_assert_int_eq(bill_db_ping(db), BILL_OK);

    /* a COMMIT whose session is gone: of unknown outcome, said so */
    ck_assert_int_eq(bill__conn_acquire(db, &c), BILL_OK);
    ck_assert_int_eq(bill__tx_begin(c), BILL_OK);
    ck_assert_int_eq(bill__exec(c, "SELECT nextval('s')"), BILL_OK);
    terminate_backend(url, backend_pid(c));
    ck_assert_int_eq(bill__tx_commit(c), BILL_EUNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "commit of unknown outcome"));
    bill__conn_release(c);
    bill_db_pool_stats st;
    bill_db_pool_stats_get(db, &st);
    ck_assert_int_eq(st.in_use + st.idle, 0); /* the broken one was discarded */
    bill_db_close(db);
    free(url);
}
END_TEST

/* The value of connection option `key` of c's session (static copy). */
static const char *conn_option(bill_conn *c, const char *key)
{
    static char v[64];
    v[0] = '\0';
    PQconninfoOption *opts = PQconninfo(bill__conn_pg(c));
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (!strcmp(o->keyword, key) && o->val)
            snprintf(v, sizeof v, "%s", o->val);
    PQconninfoFree(opts);
    return v;
}

/* The URL of `url`'s database with a dead host listed first, as a
 * multi-host failover URL (postgresql:///db?host=DEAD,REAL&...) with
 * target_session_attrs=read-write. malloc'd. */
static char *failover_url(const char *url)
{
    const char *h = strstr(url, "host=");
    ck_assert_ptr_nonnull(h);
    size_t n = (size_t)(h - url) + 5;
    char *out = malloc(strlen(url) + 128);
    ck_assert_ptr_nonnull(out);
    snprintf(out, strlen(url) + 128,
             "%.*s/nonexistent-bill-primary,%s&target_session_attrs=read-write", (int)n, url,
             url + n);
    return out;
}

/* Issue 12 item 5: a multi-host URL connects to the writable server; a
 * session on a read-only one (SQLSTATE 25006 with the server read-only as
 * a whole, as a standby or a demoted primary) is UNAVAILABLE and discarded,
 * and the pool refills once the server takes writes again; a read-only
 * transaction asked for on a writable server stays a plain error. */
START_TEST(test_pool__multi_host_url_and_read_only_server)
{
    char *url = bill_test_pg_new_database("pool_ha");
    char *ha = failover_url(url);
    bill_db *db = open_pool(ha, 1, 2, "pool-ha-test");
    bill_conn *c = NULL;

    ck_assert_int_eq(bill__conn_acquire(db, &c), BILL_OK);
    ck_assert_str_eq(conn_option(c, "connect_timeout"), "10"); /* the default */
    ck_assert_int_eq(bill__exec(c, "CREATE TABLE t (a int)"), BILL_OK);
    ck_assert_int_eq(bill__exec(c, "BEGIN READ ONLY; INSERT INTO t VALUES (1)"), BILL_EDB);
    ck_assert_str_eq(bill_error_last()->sqlstate, "25006");
    bill__conn_release(c);

    /* the server turns read-only (new sessions): a connection opened now
     * lands on it; libpq refuses it for target_session_attrs=read-write */
    ck_assert_int_eq(bill_test_pg_exec(url, "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET "
                                            "default_transaction_read_only = on', "
                                            "current_database()); END $$"), 0);
    bill_db *stale = NULL;
    bill_db_options o;
    bill_db_options_init(&o);
    o.url = ha;
    o.min_connections = 1;
    ck_assert_int_eq(bill_db_open(&stale, &o), BILL_EUNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "read-only"));
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "nonexistent-bill-primary"));
    /* without the attribute it connects, and its first write is refused */
    bill_db *plain = open_pool(url, 1, 1, "pool-ro-test");
    ck_assert_int_eq(bill__conn_acquire(plain, &c), BILL_OK);
    ck_assert_int_eq(bill__exec(c, "INSERT INTO t VALUES (2)"), BILL_EUNAVAILABLE);
    ck_assert_str_eq(bill_error_last()->sqlstate, "25006");
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "read-only"));
    bill__conn_release(c);
    bill_db_pool_stats st;
    bill_db_pool_stats_get(plain, &st);
    ck_assert_int_eq(st.idle, 0); /* discarded */

    ck_assert_int_eq(bill_test_pg_exec(url, "BEGIN READ WRITE; DO $$ BEGIN EXECUTE format('ALTER "
                                            "DATABASE %I RESET default_transaction_read_only', "
                                            "current_database()); END $$; COMMIT"), 0);
    ck_assert_int_eq(bill__conn_acquire(plain, &c), BILL_OK);
    ck_assert_int_eq(bill__exec(c, "INSERT INTO t VALUES (3)"), BILL_OK);
    bill__conn_release(c);
    bill_db_close(plain);
    ck_assert_int_eq(bill_db_ping(db), BILL_OK);
    bill_db_close(db);

    /* a connect_timeout in the URL is the URL's (2 s per host, not 10) */
    size_t n = strlen(ha) + 32;
    char *short_to = malloc(n);
    ck_assert_ptr_nonnull(short_to);
    snprintf(short_to, n, "%s&connect_timeout=2", ha);
    db = open_pool(short_to, 1, 1, "pool-ha-timeout");
    ck_assert_int_eq(bill__conn_acquire(db, &c), BILL_OK);
    ck_assert_str_eq(conn_option(c, "connect_timeout"), "2");
    bill__conn_release(c);
    bill_db_close(db);
    free(short_to);
    free(ha);
    free(url);
}
END_TEST

static long long q_ll(bill_conn *c, const char *sql)
{
    PGresult *r = NULL;
    ck_assert_int_eq(bill__q(c, &r, sql, 0, NULL), BILL_OK);
    long long v = atoll(bill__val(r, 0, 0));
    PQclear(r);
    return v;
}

#define PREPARED_COUNT(text)                                                          \
    "SELECT count(*) FROM pg_prepared_statements WHERE statement = '" text "'"

/* Issue 13: a statement text seen twice on a connection is prepared there
 * and only executed afterwards; a table changed under it is re-prepared
 * outside a transaction without the caller seeing an error. */
START_TEST(test_pool__statements_prepared_per_connection)
{
    char *url = bill_test_pg_new_database("pool_prep");
    bill_db *db = open_pool(url, 1, 1, "pool-prep-test");
    bill_conn *c = NULL;
    PGresult *r = NULL;
    const char *sql = "SELECT $1::int + 1";

    ck_assert_int_eq(bill__conn_acquire(db, &c), BILL_OK);
    ck_assert_int_eq(bill__qp(c, &r, sql, "1"), BILL_OK);
    PQclear(r);
    ck_assert_int_eq(q_ll(c, PREPARED_COUNT("SELECT $1::int + 1")), 0);
    for (int i = 2; i <= 4; i++) {
        ck_assert_int_eq(bill__qp(c, &r, sql, i == 2 ? "2" : i == 3 ? "3" : "4"), BILL_OK);
        ck_assert_int_eq(atoi(bill__val(r, 0, 0)), i + 1);
        PQclear(r);
    }
    ck_assert_int_eq(q_ll(c, PREPARED_COUNT("SELECT $1::int + 1")), 1);
    bill__conn_release(c);

    /* the plan's result type changes under it */
    ck_assert_int_eq(bill_test_pg_exec(url, "CREATE TABLE t (a int); INSERT INTO t VALUES (7)"), 0);
    ck_assert_int_eq(bill__conn_acquire(db, &c), BILL_OK);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(bill__q(c, &r, "SELECT * FROM t", 0, NULL), BILL_OK);
        ck_assert_int_eq(PQnfields(r), 1);
        PQclear(r);
    }
    ck_assert_int_eq(q_ll(c, PREPARED_COUNT("SELECT * FROM t")), 1);
    ck_assert_int_eq(bill_test_pg_exec(url, "ALTER TABLE t ADD COLUMN b int DEFAULT 8"), 0);
    ck_assert_int_eq(bill__q(c, &r, "SELECT * FROM t", 0, NULL), BILL_OK);
    ck_assert_int_eq(PQnfields(r), 2);
    PQclear(r);
    /* and prepared again under a new name, used from then on */
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(bill__q(c, &r, "SELECT * FROM t", 0, NULL), BILL_OK);
        ck_assert_int_eq(PQnfields(r), 2);
        PQclear(r);
    }
    /* a syntax error stays an error, every time */
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(bill__exec(c, "SELEC 1") == BILL_OK ? 0 : 1, 1);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(bill__q(c, NULL, "SELEC $1", 1, (const char *const[]){"x"}), BILL_EDB);
    bill__conn_release(c);
    bill_db_close(db);
    free(url);
}
END_TEST

/* Without test_before_acquire the first query fails as EUNAVAILABLE, the
 * release discards the connection, and the next borrower gets a good one. */
START_TEST(test_pool__broken_connection_discarded_on_release)
{
    char *url = bill_test_pg_new_database("pool_broken");
    bill_db_options o;
    bill_db *db = NULL;
    bill_conn *c = NULL;
    bill_db_options_init(&o);
    o.url = url;
    o.min_connections = 1;
    o.max_connections = 1;
    o.test_before_acquire = false;
    ck_assert_int_eq(bill_db_open(&db, &o), BILL_OK);

    ck_assert_int_eq(bill__conn_acquire(db, &c), BILL_OK);
    long pid1 = backend_pid(c);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%ld)::int", pid1);
    ck_assert_int_eq(bill_test_pg_query_ll(url, sql), 1);
    usleep(100 * 1000);
    ck_assert_int_eq(bill__exec(c, "SELECT 1"), BILL_EUNAVAILABLE);
    bill__conn_release(c);

    ck_assert_int_eq(bill__conn_acquire(db, &c), BILL_OK);
    ck_assert_int_ne(backend_pid(c), pid1);
    bill__conn_release(c);
    bill_db_close(db);
    free(url);
}
END_TEST

START_TEST(test_pool__idle_connections_above_min_expire)
{
    char *url = bill_test_pg_new_database("pool_idle");
    bill_db_options o;
    bill_db *db = NULL;
    bill_conn *c[3] = {NULL};
    bill_db_pool_stats st;
    bill_db_options_init(&o);
    o.url = url;
    o.min_connections = 1;
    o.max_connections = 4;
    o.idle_timeout_secs = 1;
    ck_assert_int_eq(bill_db_open(&db, &o), BILL_OK);

    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(bill__conn_acquire(db, &c[i]), BILL_OK);
    for (int i = 0; i < 3; i++)
        bill__conn_release(c[i]);
    bill_db_pool_stats_get(db, &st);
    ck_assert_int_eq(st.idle, 3);
    usleep(1300 * 1000);
    bill_db_pool_stats_get(db, &st);
    ck_assert_int_eq(st.idle, 1); /* min_connections stay */
    ck_assert_int_eq(bill_test_pg_query_ll(url,
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'libbill'"
        " AND datname = current_database()"), 1);
    bill_db_close(db);
    free(url);
}
END_TEST

START_TEST(test_pool__old_connections_are_replaced)
{
    char *url = bill_test_pg_new_database("pool_life");
    bill_db_options o;
    bill_db *db = NULL;
    bill_conn *c = NULL;
    bill_db_options_init(&o);
    o.url = url;
    o.min_connections = 1;
    o.max_connections = 1;
    o.max_lifetime_secs = 1;
    ck_assert_int_eq(bill_db_open(&db, &o), BILL_OK);

    ck_assert_int_eq(bill__conn_acquire(db, &c), BILL_OK);
    long pid1 = backend_pid(c);
    bill__conn_release(c);
    ck_assert_int_eq(bill__conn_acquire(db, &c), BILL_OK);
    ck_assert_int_eq(backend_pid(c), pid1); /* young: reused */
    bill__conn_release(c);
    usleep(1200 * 1000);
    ck_assert_int_eq(bill__conn_acquire(db, &c), BILL_OK);
    ck_assert_int_ne(backend_pid(c), pid1);
    bill__conn_release(c);
    bill_db_close(db);
    free(url);
}
END_TEST

struct borrower {
    bill_db *db;
    int id;
    int failures;
};

static void *borrow_loop(void *arg)
{
    struct borrower *b = arg;
    for (int i = 0; i < 200; i++) {
        bill_conn *c = NULL;
        PGresult *r = NULL;
        char v[32], want[32];
        snprintf(v, sizeof v, "%d", b->id * 1000 + i);
        snprintf(want, sizeof want, "%d", b->id * 1000 + i + 1);
        if (bill__conn_acquire(b->db, &c) != BILL_OK) {
            b->failures++;
            continue;
        }
        if (bill__qp(c, &r, "SELECT $1::int + 1", v) != BILL_OK ||
            strcmp(bill__val(r, 0, 0), want) != 0)
            b->failures++;
        PQclear(r);
        bill__conn_release(c);
    }
    return NULL;
}

START_TEST(test_pool__concurrent_borrowers)
{
    char *url = bill_test_pg_new_database("pool_conc");
    bill_db_options o;
    bill_db *db = NULL;
    pthread_t th[8];
    struct borrower b[8];
    bill_db_pool_stats st;
    bill_db_options_init(&o);
    o.url = url;
    o.min_connections = 1;
    o.max_connections = 3; /* fewer than threads: exercises waiting */
    o.acquire_timeout_secs = 30;
    ck_assert_int_eq(bill_db_open(&db, &o), BILL_OK);

    for (int i = 0; i < 8; i++) {
        b[i] = (struct borrower){db, i + 1, 0};
        pthread_create(&th[i], NULL, borrow_loop, &b[i]);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(b[i].failures, 0);
    bill_db_pool_stats_get(db, &st);
    ck_assert_uint_eq(st.acquired_total, 1600);
    ck_assert_int_eq(st.in_use, 0);
    ck_assert_int_eq(st.waiting, 0);
    ck_assert_int_le(st.idle, 3);
    ck_assert_uint_eq(st.timeouts_total, 0);
    bill_db_close(db);
    free(url);
}
END_TEST

/* A queued borrower: acquires, records when it got its turn and which
 * backend it got, holds the connection hold_ms, releases. */
struct queued {
    bill_db *db;
    int hold_ms;
    int rc;
    long pid;
    int turn; /* 1-based order in which the waiters got a connection */
};
static int queued_turns;
static pthread_mutex_t queued_mu = PTHREAD_MUTEX_INITIALIZER;

static void *queued_borrow(void *arg)
{
    struct queued *q = arg;
    bill_conn *c = NULL;
    q->rc = bill__conn_acquire(q->db, &c);
    if (q->rc != BILL_OK)
        return NULL;
    pthread_mutex_lock(&queued_mu);
    q->turn = ++queued_turns;
    pthread_mutex_unlock(&queued_mu);
    PGresult *r = NULL;
    if (bill__q(c, &r, "SELECT pg_backend_pid()", 0, NULL) == BILL_OK)
        q->pid = atol(bill__val(r, 0, 0));
    PQclear(r);
    usleep((useconds_t)q->hold_ms * 1000);
    bill__conn_release(c);
    return NULL;
}

/* Wait (up to 5 s) until `n` borrowers are queued. */
static void wait_queued(bill_db *db, int n)
{
    bill_db_pool_stats st;
    for (int i = 0; i < 500; i++) {
        bill_db_pool_stats_get(db, &st);
        if (st.waiting == n)
            return;
        usleep(10 * 1000);
    }
    ck_abort_msg("%d borrowers never queued (waiting = %d)", n, st.waiting);
}

/* First come, first served: a released connection goes to the oldest
 * waiter, a newcomer cannot take it from under a waiter (not even with
 * try_acquire at the very moment of the release), waiters are served in
 * arrival order, and a discarded connection's slot is handed on too. */
START_TEST(test_pool__waiters_first_come_first_served)
{
    char *url = bill_test_pg_new_database("pool_fifo");
    bill_db *db = open_pool(url, 1, 1, "pool-fifo");
    bill_conn *a = NULL, *b = NULL;
    bill_db_pool_stats st;
    pthread_t th[3];
    struct queued q[3];

    ck_assert_int_eq(bill__conn_acquire(db, &a), BILL_OK);
    long pid = backend_pid(a);
    queued_turns = 0;
    for (int i = 0; i < 3; i++) {
        q[i] = (struct queued){db, 50, -1, 0, 0};
        pthread_create(&th[i], NULL, queued_borrow, &q[i]);
        wait_queued(db, i + 1);
    }
    bill__conn_release(a);
    /* handed to the first waiter: nothing free for a newcomer now */
    ck_assert_int_eq(bill__conn_try_acquire(db, &b), BILL_EUNAVAILABLE);
    ck_assert_ptr_null(b);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(q[i].rc, BILL_OK);
        ck_assert_int_eq(q[i].turn, i + 1); /* arrival order */
        ck_assert_int_eq(q[i].pid, pid);    /* the same connection, passed on */
    }
    bill_db_pool_stats_get(db, &st);
    ck_assert_int_eq(st.in_use, 0);
    ck_assert_int_eq(st.idle, 1);
    ck_assert_int_eq(st.waiting, 0);
    ck_assert_uint_eq(st.acquired_total, 4);

    /* A broken connection is discarded and its slot handed to the waiter,
     * which opens a new one. */
    ck_assert_int_eq(bill__conn_acquire(db, &a), BILL_OK);
    terminate_backend(url, backend_pid(a));
    ck_assert_int_eq(bill__exec(a, "SELECT 1"), BILL_EUNAVAILABLE);
    q[0] = (struct queued){db, 0, -1, 0, 0};
    pthread_create(&th[0], NULL, queued_borrow, &q[0]);
    wait_queued(db, 1);
    bill__conn_release(a);
    pthread_join(th[0], NULL);
    ck_assert_int_eq(q[0].rc, BILL_OK);
    ck_assert_int_ne(q[0].pid, pid);
    ck_assert_int_ne(q[0].pid, 0);
    bill_db_pool_stats_get(db, &st);
    ck_assert_int_eq(st.idle, 1); /* the new one, back: one open in all */
    ck_assert_int_eq(st.in_use, 0);
    ck_assert_int_eq(st.waiting, 0);
    bill_db_close(db);
    free(url);
}
END_TEST

/* A waiter that times out leaves the queue: the one behind it is served
 * by the next release, and the counts are whole again. */
START_TEST(test_pool__timed_out_waiter_leaves_the_queue)
{
    char *url = bill_test_pg_new_database("pool_fifo_to");
    bill_db *db = open_pool_waiting(url, 0, 1, "pool-fifo-timeout", 2);
    bill_conn *a = NULL;
    bill_db_pool_stats st;
    pthread_t t1, t2;
    struct queued q1 = {db, 0, -1, 0, 0}, q2 = {db, 0, -1, 0, 0};

    ck_assert_int_eq(bill__conn_acquire(db, &a), BILL_OK);
    queued_turns = 0;
    pthread_create(&t1, NULL, queued_borrow, &q1);
    wait_queued(db, 1);
    usleep(1000 * 1000);
    pthread_create(&t2, NULL, queued_borrow, &q2); /* queued behind q1, 1 s later */
    wait_queued(db, 2);
    pthread_join(t1, NULL); /* q1's 2 s are up while a is still held */
    ck_assert_int_eq(q1.rc, BILL_EUNAVAILABLE);
    wait_queued(db, 1);
    bill__conn_release(a); /* q2 is now first: it gets a */
    pthread_join(t2, NULL);
    ck_assert_int_eq(q2.rc, BILL_OK);
    ck_assert_int_eq(q2.turn, 1);
    bill_db_pool_stats_get(db, &st);
    ck_assert_int_eq(st.waiting, 0);
    ck_assert_int_eq(st.in_use, 0);
    ck_assert_int_eq(st.idle, 1);
    ck_assert_uint_eq(st.timeouts_total, 1);
    bill_db_close(db);
    free(url);
}
END_TEST

START_TEST(test_pool__release_inside_transaction_rolls_back)
{
    char *url = bill_test_pg_new_database("pool_tx");
    bill_db *db = open_pool(url, 1, 1, NULL);
    bill_conn *c = NULL;
    PGresult *r = NULL;

    ck_assert_int_eq(bill_test_pg_exec(url, "CREATE TABLE t (v int)"), 0);
    ck_assert_int_eq(bill__conn_acquire(db, &c), BILL_OK);
    ck_assert_int_eq(bill__tx_begin(c), BILL_OK);
    ck_assert_int_eq(bill__qp(c, NULL, "INSERT INTO t VALUES ($1::int)", "7"), BILL_OK);
    bill__conn_release(c); /* forgot to commit */

    ck_assert_int_eq(bill__conn_acquire(db, &c), BILL_OK);
    ck_assert_int_eq(PQtransactionStatus(bill__conn_pg(c)), PQTRANS_IDLE);
    ck_assert_int_eq(bill__q(c, &r, "SELECT count(*) FROM t", 0, NULL), BILL_OK);
    ck_assert_str_eq(bill__val(r, 0, 0), "0");
    PQclear(r);
    /* A committed transaction does persist. */
    ck_assert_int_eq(bill__tx_begin(c), BILL_OK);
    ck_assert_int_eq(bill__qp(c, NULL, "INSERT INTO t VALUES ($1::int)", "8"), BILL_OK);
    ck_assert_int_eq(bill__tx_commit(c), BILL_OK);
    bill__conn_release(c);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM t"), 1);
    bill_db_close(db);
    free(url);
}
END_TEST

START_TEST(test_pool__sqlstates_map_to_codes)
{
    char *url = bill_test_pg_new_database("pool_map");
    bill_db *db = open_pool(url, 1, 1, NULL);
    bill_conn *c = NULL;

    ck_assert_int_eq(bill_test_pg_exec(url,
        "CREATE TABLE m (k text PRIMARY KEY, n int CHECK (n > 0))"), 0);
    ck_assert_int_eq(bill__conn_acquire(db, &c), BILL_OK);
    ck_assert_int_eq(bill__qp(c, NULL, "INSERT INTO m VALUES ($1, 1)", "a"), BILL_OK);
    ck_assert_int_eq(bill__qp(c, NULL, "INSERT INTO m VALUES ($1, 1)", "a"), BILL_ECONFLICT);
    ck_assert_str_eq(bill_error_last()->sqlstate, "23505");
    ck_assert_int_eq(bill__qp(c, NULL, "INSERT INTO m VALUES ($1, -1)", "b"), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->sqlstate, "23514");
    ck_assert_int_eq(bill__qp(c, NULL, "SELECT $1::int", "x"), BILL_EINVALID);
    ck_assert_int_eq(bill__exec(c, "SELEC 1"), BILL_EDB);
    ck_assert_str_eq(bill_error_last()->sqlstate, "42601");
    ck_assert_int_eq(bill__exec(c, "SET statement_timeout = '50ms'"), BILL_OK);
    ck_assert_int_eq(bill__exec(c, "SELECT pg_sleep(1)"), BILL_ETIMEOUT);
    ck_assert_int_eq(bill__exec(c, "RESET statement_timeout"), BILL_OK);
    /* COMMIT after a failed statement is a failure, not a silent rollback. */
    ck_assert_int_eq(bill__tx_begin(c), BILL_OK);
    ck_assert_int_eq(bill__qp(c, NULL, "INSERT INTO m VALUES ($1, 1)", "a"), BILL_ECONFLICT);
    ck_assert_int_eq(bill__tx_commit(c), BILL_EDB);
    ck_assert_int_eq(PQtransactionStatus(bill__conn_pg(c)), PQTRANS_IDLE);
    bill__conn_release(c);
    bill_db_close(db);
    free(url);
}
END_TEST

START_TEST(test_pool__open_validates_and_reports_unreachable)
{
    bill_db_options o;
    bill_db *db = NULL;
    bill_db_options_init(&o);
    ck_assert_int_eq(bill_db_open(&db, &o), BILL_EINVALID); /* no url */
    o.url = "postgresql:///x?host=/nonexistent-bill-socket-dir";
    o.max_connections = 0;
    ck_assert_int_eq(bill_db_open(&db, &o), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "db.max_connections");
    o.max_connections = 2;
    o.min_connections = 3;
    ck_assert_int_eq(bill_db_open(&db, &o), BILL_EINVALID);
    o.min_connections = 1;
    ck_assert_int_eq(bill_db_open(&db, &o), BILL_EUNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "/nonexistent-bill-socket-dir"));
    ck_assert_ptr_null(db);
    o.version = 99;
    ck_assert_int_eq(bill_db_open(&db, &o), BILL_EINVALID);
    bill_db_close(NULL); /* NULL-safe */
}
END_TEST

BILL_TEST_MAIN_AFTER(bill_test_pg_url_base(), "pool", 60, NULL, NULL,
               test_pool__acquire_timeout_is_unavailable_with_advice,
               test_pool__dead_connection_is_replaced,
               test_pool__ping_only_after_idle_threshold,
               test_pool__unverified_first_statement_retries_once,
               test_pool__unverified_write_never_sent_twice,
               test_pool__multi_host_url_and_read_only_server,
               test_pool__statements_prepared_per_connection,
               test_pool__broken_connection_discarded_on_release,
               test_pool__idle_connections_above_min_expire,
               test_pool__old_connections_are_replaced, test_pool__concurrent_borrowers,
               test_pool__waiters_first_come_first_served,
               test_pool__timed_out_waiter_leaves_the_queue,
               test_pool__release_inside_transaction_rolls_back, test_pool__sqlstates_map_to_codes,
               test_pool__open_validates_and_reports_unreachable);
