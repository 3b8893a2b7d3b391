/*
 * test_events.c — the durable event queue on a real PostgreSQL: exactly-once
 * processing by concurrent consumers, retry with backoff, dead letters and
 * manual retry, payload validation; leases: a dead worker's claim is free
 * when its lease ends, a live one's is renewed (injected clock), and a real
 * SIGKILLed worker process is taken over within the lease, never twice.
 */
#include "check_main.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bill/bill.h>
#include <bill/events.h>
#include "pg_harness.h"

#define N_EVENTS 10000
#define N_CONSUMERS 4

static atomic_int seen[N_EVENTS + 1];
static atomic_int dupes;

static int count_handler(const bill_event *ev, void *user)
{
    (void)user;
    long n = strtol(strstr(ev->payload_json, ":") + 1, NULL, 10);
    if (n < 1 || n > N_EVENTS)
        return BILL_EINVALID;
    if (atomic_fetch_add(&seen[n], 1) != 0)
        atomic_fetch_add(&dupes, 1);
    return BILL_OK;
}

typedef struct consumer {
    bill_db *db;
    int processed;
    char id[32];
} consumer;

static void *consume(void *arg)
{
    consumer *c = arg;
    bill_events_options o;
    bill_events *ev = NULL;
    bill_events_options_init(&o);
    o.worker_id = c->id;
    o.batch_size = 50;
    ck_assert_int_eq(bill_events_new(&ev, c->db, &o), BILL_OK);
    ck_assert_int_eq(bill_events_register(ev, "count", count_handler, NULL), BILL_OK);
    for (;;) {
        int n = 0;
        ck_assert_int_eq(bill_events_run_once(ev, 0, &n), BILL_OK);
        if (n == 0)
            break;
        c->processed += n;
    }
    bill_events_free(ev);
    return NULL;
}

START_TEST(test_events__four_consumers_each_event_exactly_once)
{
    char *url = NULL;
    bill_db *db = bill_test_db_new_url(&url);
    pthread_t th[N_CONSUMERS];
    consumer cs[N_CONSUMERS];
    int total = 0, busy = 0;
    bill_events_stats st;

    ck_assert_int_eq(bill_test_pg_exec(url,
        "INSERT INTO events (kind, payload) SELECT 'count', jsonb_build_object('n', g)"
        " FROM generate_series(1, 10000) g"), 0);
    for (int i = 0; i < N_CONSUMERS; i++) {
        cs[i] = (consumer){.db = db};
        snprintf(cs[i].id, sizeof cs[i].id, "consumer-%d", i);
        ck_assert_int_eq(pthread_create(&th[i], NULL, consume, &cs[i]), 0);
    }
    for (int i = 0; i < N_CONSUMERS; i++) {
        pthread_join(th[i], NULL);
        total += cs[i].processed;
        busy += cs[i].processed > 0;
    }
    ck_assert_int_eq(total, N_EVENTS);
    ck_assert_int_eq(atomic_load(&dupes), 0);
    for (int n = 1; n <= N_EVENTS; n++)
        ck_assert_int_eq(atomic_load(&seen[n]), 1);
    ck_assert_int_ge(busy, 2); /* the work really was shared */
    ck_assert_int_eq(bill_events_stats_get(db, &st), BILL_OK);
    ck_assert_int_eq(st.done, N_EVENTS);
    ck_assert_int_eq(st.pending + st.processing + st.dead, 0);
    ck_assert_int_eq(bill_test_pg_query_ll(url,
        "SELECT count(*) FROM events WHERE attempts <> 1 OR locked_by IS NOT NULL"), 0);
    bill_db_close(db);
    free(url);
}
END_TEST

static atomic_int flaky_calls;
static int flaky_handler(const bill_event *ev, void *user)
{
    (void)ev;
    (void)user;
    atomic_fetch_add(&flaky_calls, 1);
    return BILL_EUNAVAILABLE;
}

START_TEST(test_events__retry_backoff_then_dead_then_manual_retry)
{
    char *url = NULL;
    bill_db *db = bill_test_db_new_url(&url);
    bill_events_options o;
    bill_events *ev = NULL;
    int64_t id = 0;
    int n = 0;
    bill_event_rows rows = {0};

    bill_events_options_init(&o);
    o.base_backoff_ms = 1000;
    ck_assert_int_eq(bill_events_new(&ev, db, &o), BILL_OK);
    ck_assert_int_eq(bill_events_register(ev, "flaky", flaky_handler, NULL), BILL_OK);
    ck_assert_int_eq(bill_events_register(ev, "flaky", flaky_handler, NULL), BILL_ECONFLICT);
    ck_assert_int_eq(bill_event_enqueue(db, "flaky", "{\"x\":1}", 0, 3, &id), BILL_OK);
    ck_assert_int_gt(id, 0);
    /* Attempt 1 fails: rescheduled ~1 s later (±20 %), not run again at once. */
    ck_assert_int_eq(bill_events_run_once(ev, 0, &n), BILL_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(bill_events_run_once(ev, 0, &n), BILL_OK);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(bill_test_pg_query_ll(url,
        "SELECT ((extract(epoch FROM run_after - updated_at) * 1000)::bigint BETWEEN 790 AND 1210)"
        "::int FROM events"), 1);
    ck_assert_int_eq(bill_test_pg_query_ll(url,
        "SELECT count(*) FROM events WHERE status = 'pending' AND attempts = 1"
        " AND last_error LIKE 'BILL_EUNAVAILABLE%'"), 1);
    /* Make it due twice more: attempt 2 (backoff doubles), attempt 3 -> dead. */
    ck_assert_int_eq(bill_test_pg_exec(url, "UPDATE events SET run_after = now()"), 0);
    ck_assert_int_eq(bill_events_run_once(ev, 0, &n), BILL_OK);
    ck_assert_int_eq(bill_test_pg_query_ll(url,
        "SELECT ((extract(epoch FROM run_after - updated_at) * 1000)::bigint BETWEEN 1590 AND 2410)"
        "::int FROM events"), 1);
    ck_assert_int_eq(bill_test_pg_exec(url, "UPDATE events SET run_after = now()"), 0);
    ck_assert_int_eq(bill_events_run_once(ev, 0, &n), BILL_OK);
    ck_assert_int_eq(atomic_load(&flaky_calls), 3);
    ck_assert_int_eq(bill_events_list_dead(db, NULL, &rows), BILL_OK);
    ck_assert_uint_eq(rows.count, 1);
    ck_assert_int_eq(rows.items[0].id, id);
    ck_assert_str_eq(rows.items[0].status, "dead");
    ck_assert_int_eq(rows.items[0].attempts, 3);
    ck_assert_ptr_nonnull(strstr(rows.items[0].last_error, "BILL_EUNAVAILABLE"));
    ck_assert_uint_eq(rows.meta.total, 1);
    bill_event_rows_clear(&rows);
    /* Dead stays dead until an operator retries it. */
    ck_assert_int_eq(bill_events_run_once(ev, 0, &n), BILL_OK);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(bill_events_retry_dead(db, id), BILL_OK);
    ck_assert_int_eq(bill_events_retry_dead(db, id), BILL_ENOTFOUND);
    ck_assert_int_eq(bill_events_run_once(ev, 0, &n), BILL_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(atomic_load(&flaky_calls), 4);
    /* No handler: retried, with the reason stored. */
    ck_assert_int_eq(bill_event_enqueue(db, "unknown.kind", NULL, 0, 1, NULL), BILL_OK);
    ck_assert_int_eq(bill_events_run_once(ev, 0, &n), BILL_OK);
    ck_assert_int_eq(bill_test_pg_query_ll(url,
        "SELECT count(*) FROM events WHERE kind = 'unknown.kind' AND status = 'dead'"
        " AND last_error LIKE '%no handler%'"), 1);
    /* Bad input never reaches the table. */
    ck_assert_int_eq(bill_event_enqueue(db, "x", "[1,2]", 0, 0, NULL), BILL_EINVALID);
    ck_assert_int_eq(bill_event_enqueue(db, "", "{}", 0, 0, NULL), BILL_EINVALID);
    bill_events_free(ev);
    bill_db_close(db);
    free(url);
}
END_TEST

static atomic_int worker_calls;
static int ok_handler(const bill_event *ev, void *user)
{
    (void)ev;
    (void)user;
    atomic_fetch_add(&worker_calls, 1);
    return BILL_OK;
}

START_TEST(test_events__worker_threads_drain_queue)
{
    bill_db *db = bill_test_db_new();
    bill_events_options o;
    bill_events *ev = NULL;
    bill_events_stats st;

    bill_events_options_init(&o);
    o.poll_interval_ms = 50;
    ck_assert_int_eq(bill_events_new(&ev, db, &o), BILL_OK);
    ck_assert_int_eq(bill_events_register(ev, "ok", ok_handler, NULL), BILL_OK);
    ck_assert_int_eq(bill_events_start(ev, 3), BILL_OK);
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(bill_event_enqueue(db, "ok", "{}", 0, 0, NULL), BILL_OK);
    for (int i = 0; i < 200 && atomic_load(&worker_calls) < 100; i++) {
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    bill_events_stop(ev);
    ck_assert_int_eq(atomic_load(&worker_calls), 100);
    ck_assert_int_eq(bill_events_stats_get(db, &st), BILL_OK);
    ck_assert_int_eq(st.done, 100);
    bill_events_free(ev);
    bill_db_close(db);
}
END_TEST

/* ---- leases (issue 8, defect 8) ------------------------------------------ */

#define SEC 1000000LL
static const int64_t LT0 = 1800000000LL * SEC;
static _Atomic int64_t clock_now;

static int64_t test_clock(void *user)
{
    (void)user;
    return atomic_load(&clock_now);
}

static atomic_int lease_runs;
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static bool gate_open, in_handler;

static int gated_handler(const bill_event *ev, void *user)
{
    (void)ev;
    (void)user;
    atomic_fetch_add(&lease_runs, 1);
    pthread_mutex_lock(&gate_mu);
    in_handler = true;
    pthread_cond_broadcast(&gate_cv);
    while (!gate_open)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
    return BILL_OK;
}

static bill_events *lease_worker(bill_db *db, const char *label, int lease_secs)
{
    bill_events_options o;
    bill_events *ev = NULL;
    bill_events_options_init(&o);
    o.worker_id = label;
    o.lease_secs = lease_secs;
    ck_assert_int_eq(bill_events_new(&ev, db, &o), BILL_OK);
    ck_assert_int_eq(bill_events_register(ev, "lease.test", gated_handler, NULL), BILL_OK);
    return ev;
}

static void *run_once_thread(void *arg)
{
    int n = 0;
    ck_assert_int_eq(bill_events_run_once(arg, 1, &n), BILL_OK);
    ck_assert_int_eq(n, 1);
    return NULL;
}

/* With the handle's clock: a claim whose worker stopped renewing is free the
 * second its lease ends (not the 600 s lock timeout), and a live worker's
 * claim is renewed while its handler runs, so nobody takes it meanwhile. */
START_TEST(test_events__lease_frees_dead_claims_and_keeps_live_ones)
{
    char *url = NULL;
    bill_db *db = bill_test_db_new_url(&url);
    atomic_store(&clock_now, LT0);
    bill_db_set_clock(db, test_clock, NULL);
    gate_open = true;
    atomic_store(&lease_runs, 0);

    /* A claim left by a worker that died at LT0 with a 20 s lease. */
    ck_assert_int_eq(bill_event_enqueue(db, "lease.test", "{}", 0, 0, NULL), BILL_OK);
    ck_assert_int_eq(bill_test_pg_exec(url,
        "UPDATE events SET status = 'processing', locked_by = 'dead-worker#00000001', "
        "attempts = 1, locked_at = to_timestamp(1800000000), "
        "lease_until = to_timestamp(1800000020)"), 0);
    bill_events *b = lease_worker(db, "b", 20);
    int n = -1;
    atomic_store(&clock_now, LT0 + 19 * SEC);   /* the second before: still its */
    ck_assert_int_eq(bill_events_run_once(b, 0, &n), BILL_OK);
    ck_assert_int_eq(n, 0);
    atomic_store(&clock_now, LT0 + 20 * SEC);   /* the second of: reclaimed */
    ck_assert_int_eq(bill_events_run_once(b, 0, &n), BILL_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(atomic_load(&lease_runs), 1);
    ck_assert_int_eq(bill_test_pg_queryf_ll(url, "SELECT count(*) FROM events WHERE status = 'done' AND attempts = 2 "
                             "AND lease_until IS NULL AND locked_by IS NULL"), 1);

    /* A live worker (2 s lease) runs a handler for far longer than its
     * lease: its keeper renews, so b finds nothing to take. */
    ck_assert_int_eq(bill_event_enqueue(db, "lease.test", "{}", 0, 0, NULL), BILL_OK);
    bill_events *a = lease_worker(db, "a", 2);
    pthread_t th;
    gate_open = false;
    in_handler = false;
    ck_assert_int_eq(pthread_create(&th, NULL, run_once_thread, a), 0);
    pthread_mutex_lock(&gate_mu);
    while (!in_handler)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
    atomic_store(&clock_now, LT0 + 1000 * SEC);  /* many leases later */
    long long renewed = 0;
    for (int i = 0; i < 200 && !renewed; i++) {   /* the keeper renews every 0.5 s */
        renewed = bill_test_pg_queryf_ll(url, "SELECT count(*) FROM events WHERE status = 'processing' AND "
                          "locked_by LIKE 'a#%%' AND lease_until >= to_timestamp(1800001000)");
        if (!renewed)
            usleep(50 * 1000);
    }
    ck_assert_int_eq(renewed, 1);
    ck_assert_int_eq(bill_events_run_once(b, 0, &n), BILL_OK);
    ck_assert_int_eq(n, 0);
    pthread_mutex_lock(&gate_mu);
    gate_open = true;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
    pthread_join(th, NULL);
    ck_assert_int_eq(atomic_load(&lease_runs), 2); /* once per event, never twice */
    ck_assert_int_eq(bill_test_pg_queryf_ll(url, "SELECT count(*) FROM events WHERE status = 'done'"), 2);

    /* Version-1 options are still accepted and get the default lease. */
    bill_events_options o1;
    bill_events_options_init(&o1);
    o1.version = 1;
    bill_events *c = NULL;
    ck_assert_int_eq(bill_events_new(&c, db, &o1), BILL_OK);
    bill_events_free(c);
    bill_events_free(a);
    bill_events_free(b);
    bill_db_close(db);
    free(url);
}
END_TEST

/* Lines "start <pid> <id>" the worker processes wrote. */
static int marker_lines(const char *path, int pids[], int max)
{
    FILE *f = fopen(path, "r");
    int n = 0, pid;
    long long id;
    if (!f)
        return 0;
    while (n < max && fscanf(f, "start %d %lld\n", &pid, &id) == 2)
        pids[n++] = pid;
    fclose(f);
    return n;
}

static pid_t spawn_worker(const char *url, const char *marker, const char *mode)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl(EVENT_WORKER_BIN, "event_worker", url, "2", marker, mode, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* A real worker process holding a claim is SIGKILLed: another process takes
 * the event over within the lease (2 s here), and not one moment before —
 * while the first lived, three leases went by without a second run. */
START_TEST(test_events__sigkilled_worker_reclaimed_within_lease_never_twice)
{
    char *url = NULL;
    bill_db *db = bill_test_db_new_url(&url);
    char marker[] = "/tmp/bill-events-crash-XXXXXX";
    int fd = mkstemp(marker), pids[8];
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(bill_event_enqueue(db, "crash.test", "{}", 0, 0, NULL), BILL_OK);

    pid_t blocker = spawn_worker(url, marker, "block");
    int n = 0;
    for (int i = 0; i < 400 && n < 1; i++) {
        n = marker_lines(marker, pids, 8);
        if (n < 1)
            usleep(50 * 1000);
    }
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(pids[0], blocker);
    pid_t finisher = spawn_worker(url, marker, "finish");
    /* Three leases with both alive: the claim stays the blocker's. */
    for (int i = 0; i < 60; i++) {
        usleep(100 * 1000);
        ck_assert_int_eq(marker_lines(marker, pids, 8), 1);
    }
    ck_assert_int_eq(bill_test_pg_queryf_ll(url, "SELECT count(*) FROM events WHERE status = 'processing' AND "
                             "locked_by LIKE 'crash-blocker#%%' AND lease_until > now()"), 1);
    long long lease_end = bill_test_pg_queryf_ll(url, "SELECT (extract(epoch FROM lease_until) * 1000)::bigint "
                                  "FROM events");
    ck_assert_int_eq(kill(blocker, SIGKILL), 0);
    ck_assert_int_eq(waitpid(blocker, NULL, 0), blocker);

    long long done = 0;
    for (int i = 0; i < 600 && !done; i++) {
        done = bill_test_pg_queryf_ll(url, "SELECT count(*) FROM events WHERE status = 'done'");
        if (!done)
            usleep(50 * 1000);
    }
    ck_assert_int_eq(done, 1);
    ck_assert_int_eq(marker_lines(marker, pids, 8), 2);
    ck_assert_int_eq(pids[1], finisher);
    ck_assert_int_eq(bill_test_pg_queryf_ll(url, "SELECT attempts FROM events"), 2);
    /* Taken over once the dead worker's lease ended (plus a poll), not
     * after the 600 s lock timeout. */
    ck_assert_int_lt(bill_test_pg_queryf_ll(url, "SELECT (extract(epoch FROM updated_at) * 1000)::bigint FROM events"),
                     lease_end + 10000);
    kill(finisher, SIGKILL);
    waitpid(finisher, NULL, 0);
    unlink(marker);
    bill_db_close(db);
    free(url);
}
END_TEST

BILL_TEST_MAIN("events", 120, NULL, NULL,
               test_events__four_consumers_each_event_exactly_once,
               test_events__retry_backoff_then_dead_then_manual_retry,
               test_events__worker_threads_drain_queue,
               test_events__lease_frees_dead_claims_and_keeps_live_ones,
               test_events__sigkilled_worker_reclaimed_within_lease_never_twice);
