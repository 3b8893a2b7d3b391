/*
 * test_events.c — the durable event queue on a real PostgreSQL: exactly-once
 * processing by concurrent consumers, retry with backoff, dead letters and
 * manual retry, payload validation.
 */
#include "check_main.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

BILL_TEST_MAIN("events", 120, NULL, NULL,
               test_events__four_consumers_each_event_exactly_once,
               test_events__retry_backoff_then_dead_then_manual_retry,
               test_events__worker_threads_drain_queue);
