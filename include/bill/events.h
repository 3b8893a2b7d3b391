/*
 * events.h — the durable event queue: order paid, provisioning,
 * notifications. Producers insert a row (in their own transaction when the
 * event belongs to a change); workers claim due rows with
 * `FOR UPDATE SKIP LOCKED`, so any number of workers in any number of
 * processes each take different events, and an event is marked done only
 * after its handler succeeded.
 *
 * Failure handling: a handler returning an error schedules a retry with
 * exponential backoff (base 2 s, doubling, capped at 1 h, ±20 % jitter);
 * after max_attempts the event becomes `dead` with the last error, listed
 * for operators and retried by hand.
 *
 * Crashes: a claim is a lease of lease_secs (default 20 s) that the claiming
 * bill_events renews every lease_secs/4 from a keeper thread while its
 * handlers run (bill_events_start, and bill_events_run_once for its own
 * duration). A worker that dies (SIGKILL, power loss) stops renewing, and
 * its `processing` rows are claimable again as soon as their lease has run
 * out — within lease_secs, not a 10-minute lock timeout. A live worker keeps
 * its lease for as long as the handler runs, so one event never runs twice
 * at the same time (unless the worker cannot reach the database for a whole
 * lease: then it logs an error, and the handler's idempotence is what is
 * left). Claims are owned by "<worker_id>#<random>", one per bill_events, so
 * two processes with the same worker_id never finish each other's events.
 *
 * Handlers must be idempotent (a crash between "handler done" and "row
 * marked done" runs it again).
 */
#ifndef BILL_EVENTS_H
#define BILL_EVENTS_H

#include "common.h"
#include "db.h"
#include "page.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bill_event {
    int64_t id;
    const char *kind;          /* "order.paid" */
    const char *payload_json;  /* the JSON object given to enqueue */
    int attempts;              /* including this one */
    int max_attempts;
} bill_event;

/* Enqueue. payload_json must be a JSON object (NULL -> "{}"); run_after_usec
 * 0 = now; max_attempts 0 = 10. *id_out may be NULL. */
BILL_API int bill_event_enqueue(bill_db *db, const char *kind, const char *payload_json,
                                int64_t run_after_usec, int max_attempts, int64_t *id_out);

/* BILL_OK: done. Any error: retry later (the error message is stored). */
typedef int (*bill_event_handler_fn)(const bill_event *ev, void *user);

typedef struct bill_events bill_events;

#define BILL_EVENTS_OPTIONS_VERSION 2u
typedef struct bill_events_options {
    unsigned int version;     /* BILL_EVENTS_OPTIONS_VERSION (1 is accepted) */
    int base_backoff_ms;      /* 2000 */
    int max_backoff_ms;       /* 3600000 */
    int batch_size;           /* events claimed per round trip: 16 */
    int poll_interval_ms;     /* worker sleep when idle: 1000 */
    int lock_timeout_secs;    /* only for rows claimed without a lease (before
                                 migration 012): reclaimed after this: 600 */
    const char *worker_id;    /* label in locked_by; NULL -> "<hostname>:<pid>" */
    /* fields above exist since version 1 */
    int lease_secs;           /* claim lease, renewed every lease_secs/4: 20 */
    /* fields above exist since version 2 */
} bill_events_options;

BILL_API void bill_events_options_init(bill_events_options *o);
BILL_API int bill_events_new(bill_events **out, bill_db *db, const bill_events_options *opts);
/* Stops worker threads first. NULL-safe. */
BILL_API void bill_events_free(bill_events *ev);

/* One handler per kind (register before starting workers). An event whose
 * kind has no handler is retried with "no handler" (then dead). */
BILL_API int bill_events_register(bill_events *ev, const char *kind, bill_event_handler_fn fn,
                                  void *user);

/* Claim and process up to `max` due events on the calling thread (tests,
 * CLI). *processed (may be NULL) = events handled (done, retried or dead). */
BILL_API int bill_events_run_once(bill_events *ev, int max, int *processed);

/* Start/stop `threads` worker threads looping over run_once. */
BILL_API int bill_events_start(bill_events *ev, int threads);
BILL_API void bill_events_stop(bill_events *ev);

typedef struct bill_event_row {
    int64_t id;
    char kind[64];
    char *payload_json;
    char status[16];
    int attempts;
    int max_attempts;
    char *last_error;
    char run_after[40];
    char created_at[40];
} bill_event_row;
typedef struct bill_event_rows {
    BILL_LIST_OF(bill_event_row);
} bill_event_rows;
BILL_API void bill_event_rows_clear(bill_event_rows *l);

/* Dead events, oldest first. */
BILL_API int bill_events_list_dead(bill_db *db, const bill_page *page, bill_event_rows *out);
/* Any events, newest first, for operators (bill-cli events list). status
 * NULL/"" = any, else pending|processing|done|dead, or "failing": not done
 * nor dead and failed at least once, i.e. being retried (BILL_EINVALID
 * naming "status" otherwise); kind NULL/"" = any, else exact match. */
BILL_API int bill_events_list(bill_db *db, const char *status, const char *kind,
                              const bill_page *page, bill_event_rows *out);
/* Put a dead event back in the queue (attempts reset, due now). */
BILL_API int bill_events_retry_dead(bill_db *db, int64_t id);

typedef struct bill_events_stats {
    int64_t pending, processing, done, dead;
} bill_events_stats;
/* Queue depth per status, for /metrics. */
BILL_API int bill_events_stats_get(bill_db *db, bill_events_stats *out);

#ifdef __cplusplus
}
#endif
#endif
