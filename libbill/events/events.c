/*
 * events.c — the durable event queue (events.h): enqueue, claim with
 * FOR UPDATE SKIP LOCKED, handler dispatch, backoff, dead letters, workers.
 *
 * A claim is its own short statement (autocommit): rows flip to
 * `processing` with locked_by/locked_at, a lease (lease_until) and
 * attempts+1, then handlers run without any transaction or row lock held,
 * so a slow handler never blocks other workers. While claims are out, a
 * keeper thread renews the lease of every row this bill_events owns; rows
 * whose lease ran out belong to a dead worker and are claimed again. The
 * final UPDATE is guarded by locked_by (unique per bill_events), so a worker
 * whose row was reclaimed cannot overwrite the newer state.
 */
#include "events_int.h"
#include "bill/log.h"

#include <json-c/json.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MOD "libbill::events"

typedef struct handler {
    struct handler *next;
    char *kind;
    bill_event_handler_fn fn;
    void *user;
} handler;

struct bill_events {
    bill_db *db;
    bill_events_options o;
    char worker_id[160];   /* "<label>#<random>": locked_by of our claims */
    handler *handlers;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool running;
    pthread_t *threads;
    int nthreads;
    /* The lease keeper: runs while keeper_refs > 0 (workers started, or a
     * run_once in progress). */
    pthread_t keeper;
    pthread_cond_t keeper_cond;
    int keeper_refs;
    bool keeper_stop;
};

static int check_payload(const char *payload)
{
    json_object *j = json_tokener_parse(payload);
    bool ok = j && json_object_is_type(j, json_type_object);
    json_object_put(j);
    return ok ? BILL_OK
              : bill__err(BILL_EINVALID, "payload", "event payload is not a JSON object");
}

int bill__event_enqueue_conn(bill_conn *c, const char *kind, const char *payload_json,
                             int64_t run_after_usec, int max_attempts, int64_t *id_out)
{
    int rc;
    PGresult *res = NULL;
    char ra[32], ma[16];

    if (!c || !kind || !*kind || strlen(kind) > 63)
        return bill__err(BILL_EINVALID, "kind", "event kind \"%s\" must be 1..63 chars",
                         kind ? kind : "");
    if (!payload_json)
        payload_json = "{}";
    if ((rc = check_payload(payload_json)) < 0)
        return rc;
    snprintf(ra, sizeof ra, "%lld", (long long)run_after_usec);
    snprintf(ma, sizeof ma, "%d", max_attempts > 0 ? max_attempts : 10);
    rc = bill__qp(c, &res,
                  "INSERT INTO events (kind, payload, run_after, max_attempts) VALUES ($1, $2::jsonb,"
                  " CASE WHEN $3::bigint = 0 THEN bill_now() ELSE to_timestamp($3::bigint / 1e6) END,"
                  " $4::int) RETURNING id",
                  kind, payload_json, ra, ma);
    if (rc == BILL_OK && id_out)
        *id_out = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    if (res)
        PQclear(res);
    return rc;
}

int bill_event_enqueue(bill_db *db, const char *kind, const char *payload_json,
                       int64_t run_after_usec, int max_attempts, int64_t *id_out)
{
    int rc;
    bill_conn *c = NULL;
    if (!db)
        return bill__err(BILL_EINVALID, "db", "database handle is NULL");
    if ((rc = bill__conn_acquire(db, &c)) < 0)
        return rc;
    rc = bill__event_enqueue_conn(c, kind, payload_json, run_after_usec, max_attempts, id_out);
    bill__conn_release(c);
    return rc;
}

void bill_events_options_init(bill_events_options *o)
{
    memset(o, 0, sizeof *o);
    o->version = BILL_EVENTS_OPTIONS_VERSION;
    o->base_backoff_ms = 2000;
    o->max_backoff_ms = 3600000;
    o->batch_size = 16;
    o->poll_interval_ms = 1000;
    o->lock_timeout_secs = 600;
    o->lease_secs = 20;
}

int bill_events_new(bill_events **out, bill_db *db, const bill_events_options *opts)
{
    bill_events *ev;
    bill_events_options d;

    if (!out || !db)
        return bill__err(BILL_EINVALID, "db", "bill_events_new needs out and db");
    bill_events_options_init(&d);
    if (opts && (opts->version < 1 || opts->version > BILL_EVENTS_OPTIONS_VERSION))
        return bill__err(BILL_EINVALID, "version", "events options version %u is not supported",
                         opts->version);
    ev = calloc(1, sizeof *ev);
    if (!ev)
        return bill__err(BILL_ENOMEM, NULL, "out of memory creating the event worker");
    ev->db = db;
    ev->o = d;
    if (opts) {
        /* A version-1 caller's struct ends before lease_secs. */
        ev->o.base_backoff_ms = opts->base_backoff_ms;
        ev->o.max_backoff_ms = opts->max_backoff_ms;
        ev->o.batch_size = opts->batch_size;
        ev->o.poll_interval_ms = opts->poll_interval_ms;
        ev->o.lock_timeout_secs = opts->lock_timeout_secs;
        ev->o.worker_id = opts->worker_id;
        if (opts->version >= 2)
            ev->o.lease_secs = opts->lease_secs;
    }
    if (ev->o.lease_secs <= 0) ev->o.lease_secs = d.lease_secs;
    if (ev->o.base_backoff_ms <= 0) ev->o.base_backoff_ms = d.base_backoff_ms;
    if (ev->o.max_backoff_ms <= 0) ev->o.max_backoff_ms = d.max_backoff_ms;
    if (ev->o.batch_size <= 0) ev->o.batch_size = d.batch_size;
    if (ev->o.poll_interval_ms <= 0) ev->o.poll_interval_ms = d.poll_interval_ms;
    if (ev->o.lock_timeout_secs <= 0) ev->o.lock_timeout_secs = d.lock_timeout_secs;
    if (sodium_init() < 0) {
        free(ev);
        return bill__err(BILL_EINTERNAL, NULL, "libsodium failed to initialise");
    }
    if (ev->o.worker_id) {
        snprintf(ev->worker_id, sizeof ev->worker_id, "%.120s#%08x", ev->o.worker_id,
                 (unsigned)randombytes_random());
    } else {
        char host[64] = "localhost";
        gethostname(host, sizeof host - 1);
        snprintf(ev->worker_id, sizeof ev->worker_id, "%s:%d#%08x", host, (int)getpid(),
                 (unsigned)randombytes_random());
    }
    ev->o.worker_id = NULL; /* not ours to keep */
    pthread_mutex_init(&ev->lock, NULL);
    pthread_cond_init(&ev->cond, NULL);
    pthread_cond_init(&ev->keeper_cond, NULL);
    *out = ev;
    return BILL_OK;
}

void bill_events_free(bill_events *ev)
{
    if (!ev)
        return;
    bill_events_stop(ev);
    while (ev->handlers) {
        handler *h = ev->handlers;
        ev->handlers = h->next;
        free(h->kind);
        free(h);
    }
    pthread_cond_destroy(&ev->keeper_cond);
    pthread_cond_destroy(&ev->cond);
    pthread_mutex_destroy(&ev->lock);
    free(ev);
}

/* ---- the lease keeper ------------------------------------------------------ */

/* Renew the lease of every row we hold. One statement however many. */
static int renew_leases(bill_events *ev)
{
    bill_conn *c = NULL;
    char ls[16];
    int rc;
    snprintf(ls, sizeof ls, "%d", ev->o.lease_secs);
    if ((rc = bill__conn_acquire(ev->db, &c)) < 0)
        return rc;
    rc = bill__qp(c, NULL,
                  "UPDATE events SET lease_until = bill_now() + $2::int * interval '1 second'"
                  " WHERE status = 'processing' AND locked_by = $1",
                  ev->worker_id, ls);
    bill__conn_release(c);
    return rc;
}

static void *keeper_main(void *arg)
{
    bill_events *ev = arg;
    int64_t period_ms = (int64_t)ev->o.lease_secs * 1000 / 4;
    struct timespec last_ok;
    clock_gettime(CLOCK_MONOTONIC, &last_ok);
    pthread_mutex_lock(&ev->lock);
    while (!ev->keeper_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += period_ms / 1000;
        ts.tv_nsec += (long)(period_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&ev->keeper_cond, &ev->lock, &ts);
        if (ev->keeper_stop)
            break;
        pthread_mutex_unlock(&ev->lock);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (renew_leases(ev) == BILL_OK) {
            last_ok = now;
        } else if ((now.tv_sec - last_ok.tv_sec) >= ev->o.lease_secs) {
            BILL_LOG_ERROR(MOD, "event worker %s could not renew its leases for %d s (%s): "
                           "its events may be claimed by another worker",
                           ev->worker_id, ev->o.lease_secs, bill_error_last()->message);
        } else {
            BILL_LOG_WARN(MOD, "event worker %s: lease renewal failed: %s", ev->worker_id,
                          bill_error_last()->message);
        }
        pthread_mutex_lock(&ev->lock);
    }
    pthread_mutex_unlock(&ev->lock);
    return NULL;
}

static int keeper_ref(bill_events *ev)
{
    int rc = BILL_OK;
    pthread_mutex_lock(&ev->lock);
    if (ev->keeper_refs++ == 0) {
        ev->keeper_stop = false;
        if (pthread_create(&ev->keeper, NULL, keeper_main, ev) != 0) {
            ev->keeper_refs--;
            rc = bill__err(BILL_EINTERNAL, NULL, "cannot start the event lease keeper thread");
        }
    }
    pthread_mutex_unlock(&ev->lock);
    return rc;
}

static void keeper_unref(bill_events *ev)
{
    bool join = false;
    pthread_mutex_lock(&ev->lock);
    if (ev->keeper_refs > 0 && --ev->keeper_refs == 0) {
        ev->keeper_stop = true;
        pthread_cond_broadcast(&ev->keeper_cond);
        join = true;
    }
    pthread_mutex_unlock(&ev->lock);
    if (join)
        pthread_join(ev->keeper, NULL);
}

int bill_events_register(bill_events *ev, const char *kind, bill_event_handler_fn fn, void *user)
{
    handler *h;
    if (!ev || !kind || !*kind || !fn)
        return bill__err(BILL_EINVALID, "kind", "handler needs a kind and a function");
    pthread_mutex_lock(&ev->lock);
    for (h = ev->handlers; h; h = h->next)
        if (strcmp(h->kind, kind) == 0)
            break;
    if (h) {
        pthread_mutex_unlock(&ev->lock);
        return bill__err(BILL_ECONFLICT, "kind", "a handler for event kind %s is already registered",
                         kind);
    }
    h = calloc(1, sizeof *h);
    if (h)
        h->kind = strdup(kind);
    if (!h || !h->kind) {
        pthread_mutex_unlock(&ev->lock);
        if (h)
            free(h);
        return bill__err(BILL_ENOMEM, NULL, "out of memory registering a handler");
    }
    h->fn = fn;
    h->user = user;
    h->next = ev->handlers;
    ev->handlers = h;
    pthread_mutex_unlock(&ev->lock);
    return BILL_OK;
}

static handler *find_handler(bill_events *ev, const char *kind)
{
    handler *h;
    pthread_mutex_lock(&ev->lock);
    for (h = ev->handlers; h; h = h->next)
        if (strcmp(h->kind, kind) == 0)
            break;
    pthread_mutex_unlock(&ev->lock);
    return h;
}

/* Backoff before attempt n+1 after n failed attempts: base * 2^(n-1),
 * capped, then ±20 % jitter so retries of a burst spread out. */
static int64_t backoff_ms(const bill_events *ev, int attempts)
{
    int64_t ms = ev->o.base_backoff_ms;
    for (int i = 1; i < attempts && ms < ev->o.max_backoff_ms; i++)
        ms *= 2;
    if (ms > ev->o.max_backoff_ms)
        ms = ev->o.max_backoff_ms;
    int64_t span = ms / 5;
    if (span > 0)
        ms += (int64_t)randombytes_uniform((uint32_t)(2 * span + 1)) - span;
    return ms;
}

static int finish(bill_events *ev, bill_conn *c, int64_t id, int attempts, int max_attempts,
                  int hrc, const char *err)
{
    char ids[32], delay[32];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    if (hrc == BILL_OK)
        return bill__qp(c, NULL,
                        "UPDATE events SET status = 'done', locked_by = NULL, locked_at = NULL, lease_until = NULL,"
                        " last_error = '', updated_at = bill_now() WHERE id = $1::bigint AND locked_by = $2",
                        ids, ev->worker_id);
    if (attempts >= max_attempts) {
        BILL_LOG_WARN(MOD, "event %lld is dead after %d attempts: %s", (long long)id, attempts, err);
        return bill__qp(c, NULL,
                        "UPDATE events SET status = 'dead', locked_by = NULL, locked_at = NULL, lease_until = NULL,"
                        " last_error = $3, updated_at = bill_now() WHERE id = $1::bigint AND locked_by = $2",
                        ids, ev->worker_id, err);
    }
    snprintf(delay, sizeof delay, "%lld", (long long)backoff_ms(ev, attempts));
    return bill__qp(c, NULL,
                    "UPDATE events SET status = 'pending', locked_by = NULL, locked_at = NULL,"
                    " lease_until = NULL, last_error = $3, run_after = bill_now() + $4::bigint * interval '1 millisecond',"
                    " updated_at = bill_now() WHERE id = $1::bigint AND locked_by = $2",
                    ids, ev->worker_id, err, delay);
}

int bill_events_run_once(bill_events *ev, int max, int *processed)
{
    int rc, n = 0;
    bill_conn *c = NULL;
    PGresult *res = NULL;
    char lim[16], lt[16], ls[16];
    bool kept = false;

    if (processed)
        *processed = 0;
    if (!ev)
        return bill__err(BILL_EINVALID, "events", "event worker is NULL");
    snprintf(lim, sizeof lim, "%d", max > 0 ? max : ev->o.batch_size);
    snprintf(lt, sizeof lt, "%d", ev->o.lock_timeout_secs);
    snprintf(ls, sizeof ls, "%d", ev->o.lease_secs);
    /* The keeper runs before the claim, so no claim of ours is ever left
     * without renewals. */
    if ((rc = keeper_ref(ev)) < 0)
        return rc;
    kept = true;
    if ((rc = bill__conn_acquire(ev->db, &c)) < 0)
        goto done;
    /* Due rows, and rows of dead workers: a lapsed lease, or (claimed
     * before leases existed) an old lock. */
    rc = bill__qp(c, &res,
                  "WITH due AS (SELECT id, status AS was, locked_by AS prev FROM events"
                  "   WHERE (status = 'pending' AND run_after <= bill_now())"
                  "      OR (status = 'processing' AND (lease_until <= bill_now() OR"
                  "          (lease_until IS NULL AND"
                  "           locked_at < bill_now() - $3::int * interval '1 second')))"
                  "   ORDER BY run_after, id LIMIT $2::int FOR UPDATE SKIP LOCKED)"
                  " UPDATE events e SET status = 'processing', locked_by = $1, locked_at = bill_now(),"
                  " lease_until = bill_now() + $4::int * interval '1 second',"
                  " attempts = e.attempts + 1, updated_at = bill_now() FROM due WHERE e.id = due.id"
                  " RETURNING e.id, e.kind, e.payload::text, e.attempts, e.max_attempts, due.was,"
                  " coalesce(due.prev, '')",
                  ev->worker_id, lim, lt, ls);
    if (rc < 0)
        goto done;
    for (int i = 0; i < PQntuples(res); i++) {
        if (strcmp(PQgetvalue(res, i, 5), "processing") == 0)
            BILL_LOG_WARN(MOD, "event %s (%s) reclaimed from worker %s, which stopped renewing "
                          "its lease (crashed or cut off); attempt %s", PQgetvalue(res, i, 0),
                          PQgetvalue(res, i, 1), PQgetvalue(res, i, 6), PQgetvalue(res, i, 3));
    }
    for (int i = 0; i < PQntuples(res); i++) {
        bill_event e = {
            .id = strtoll(PQgetvalue(res, i, 0), NULL, 10),
            .kind = PQgetvalue(res, i, 1),
            .payload_json = PQgetvalue(res, i, 2),
            .attempts = atoi(PQgetvalue(res, i, 3)),
            .max_attempts = atoi(PQgetvalue(res, i, 4)),
        };
        handler *h = find_handler(ev, e.kind);
        int hrc;
        char err[512] = "";
        if (!h) {
            hrc = BILL_EUNSUPPORTED;
            snprintf(err, sizeof err, "no handler registered for event kind %s", e.kind);
        } else {
            bill_error_clear();
            hrc = h->fn(&e, h->user);
            if (hrc != BILL_OK) {
                const bill_error *le = bill_error_last();
                snprintf(err, sizeof err, "%s: %s", bill_error_name(hrc),
                         le->message[0] ? le->message : bill_strerror(hrc));
                BILL_LOG_DEBUG(MOD, "event %lld (%s) attempt %d failed: %s", (long long)e.id,
                               e.kind, e.attempts, err);
            }
        }
        if ((rc = finish(ev, c, e.id, e.attempts, e.max_attempts, hrc, err)) < 0)
            goto done;
        n++;
    }
    if (processed)
        *processed = n;
done:
    if (res)
        PQclear(res);
    bill__conn_release(c);
    if (kept)
        keeper_unref(ev);
    return rc;
}

static void *worker_main(void *arg)
{
    bill_events *ev = arg;
    pthread_mutex_lock(&ev->lock);
    while (ev->running) {
        int n = 0;
        pthread_mutex_unlock(&ev->lock);
        int rc = bill_events_run_once(ev, 0, &n);
        if (rc < 0)
            BILL_LOG_WARN(MOD, "event worker %s: %s", ev->worker_id, bill_error_last()->message);
        pthread_mutex_lock(&ev->lock);
        if (n == 0 && ev->running) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += ev->o.poll_interval_ms / 1000;
            ts.tv_nsec += (long)(ev->o.poll_interval_ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&ev->cond, &ev->lock, &ts);
        }
    }
    pthread_mutex_unlock(&ev->lock);
    return NULL;
}

int bill_events_start(bill_events *ev, int threads)
{
    if (!ev || threads <= 0 || threads > 256)
        return bill__err(BILL_EINVALID, "threads", "worker threads must be 1..256, got %d", threads);
    pthread_mutex_lock(&ev->lock);
    if (ev->running) {
        pthread_mutex_unlock(&ev->lock);
        return bill__err(BILL_ESTATE, NULL, "event workers already running");
    }
    ev->threads = calloc((size_t)threads, sizeof *ev->threads);
    if (!ev->threads) {
        pthread_mutex_unlock(&ev->lock);
        return bill__err(BILL_ENOMEM, NULL, "out of memory starting workers");
    }
    ev->running = true;
    pthread_mutex_unlock(&ev->lock);
    if (keeper_ref(ev) < 0) {
        pthread_mutex_lock(&ev->lock);
        ev->running = false;
        free(ev->threads);
        ev->threads = NULL;
        pthread_mutex_unlock(&ev->lock);
        return bill__err(BILL_EINTERNAL, NULL, "cannot start the event lease keeper thread");
    }
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&ev->threads[i], NULL, worker_main, ev) != 0) {
            bill_events_stop(ev);
            return bill__err(BILL_EINTERNAL, NULL, "cannot start event worker thread %d", i);
        }
        ev->nthreads = i + 1;
    }
    BILL_LOG_INFO(MOD, "started %d event worker threads as %s", threads, ev->worker_id);
    return BILL_OK;
}

void bill_events_stop(bill_events *ev)
{
    if (!ev)
        return;
    bool was;
    pthread_mutex_lock(&ev->lock);
    was = ev->running;
    ev->running = false;
    pthread_cond_broadcast(&ev->cond);
    pthread_mutex_unlock(&ev->lock);
    for (int i = 0; i < ev->nthreads; i++)
        pthread_join(ev->threads[i], NULL);
    free(ev->threads);
    ev->threads = NULL;
    ev->nthreads = 0;
    if (was)
        keeper_unref(ev); /* after the workers: their last claims are finished */
}

#define EV_COLS                                                                       \
    "id, kind, payload::text, status, attempts, max_attempts, last_error,"            \
    " to_char(run_after AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"         \
    " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static void ev_clear(void *item)
{
    bill_event_row *e = item;
    BILL__FREE(e->payload_json, e->last_error);
    memset(e, 0, sizeof *e);
}

static int ev_from_row(const PGresult *r, int i, const void *ctx, void *item)
{
    bill_event_row *e = item;
    e->id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
    snprintf(e->kind, sizeof e->kind, "%s", PQgetvalue(r, i, 1));
    e->payload_json = strdup(PQgetvalue(r, i, 2));
    snprintf(e->status, sizeof e->status, "%s", PQgetvalue(r, i, 3));
    e->attempts = atoi(PQgetvalue(r, i, 4));
    e->max_attempts = atoi(PQgetvalue(r, i, 5));
    e->last_error = strdup(PQgetvalue(r, i, 6));
    snprintf(e->run_after, sizeof e->run_after, "%s", PQgetvalue(r, i, 7));
    snprintf(e->created_at, sizeof e->created_at, "%s", PQgetvalue(r, i, 8));
    if (!e->payload_json || !e->last_error)
        return bill__err(BILL_ENOMEM, NULL, "out of memory listing events");
    return BILL_OK;
}

static const bill__rowtype EV_ROW = {sizeof(bill_event_row), ev_from_row, ev_clear, "event"};

void bill_event_rows_clear(bill_event_rows *l)
{
    BILL__LIST_CLEAR(&EV_ROW, l);
}

int bill_events_list_dead(bill_db *db, const bill_page *page, bill_event_rows *out)
{
    static const bill__list_sql q = {EV_COLS, "FROM events WHERE status = 'dead'",
                                     "created_at, id"};
    if (!db || !out)
        return bill__err(BILL_EINVALID, NULL, "db and out are required");
    return BILL__LIST_PAGE(db, &EV_ROW, &q, 0, NULL, page, NULL, out);
}

int bill_events_retry_dead(bill_db *db, int64_t id)
{
    int rc;
    PGresult *res = NULL;
    char ids[32];

    if (!db)
        return bill__err(BILL_EINVALID, "db", "database handle is NULL");
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    rc = bill__qp_db(db, &res,
                     "UPDATE events SET status = 'pending', attempts = 0, run_after = bill_now(),"
                     " updated_at = bill_now() WHERE id = $1::bigint AND status = 'dead' RETURNING id", ids);
    if (rc == BILL_OK && PQntuples(res) == 0)
        rc = bill__err(BILL_ENOTFOUND, "id", "no dead event with id %lld", (long long)id);
    if (res)
        PQclear(res);
    return rc;
}

int bill_events_stats_get(bill_db *db, bill_events_stats *out)
{
    int rc;
    PGresult *res = NULL;

    if (!db || !out)
        return bill__err(BILL_EINVALID, NULL, "db and out are required");
    memset(out, 0, sizeof *out);
    rc = bill__q_db(db, &res, "SELECT status, count(*) FROM events GROUP BY status", 0, NULL);
    if (rc == BILL_OK) {
        for (int i = 0; i < PQntuples(res); i++) {
            const char *s = PQgetvalue(res, i, 0);
            int64_t v = strtoll(PQgetvalue(res, i, 1), NULL, 10);
            if (strcmp(s, "pending") == 0) out->pending = v;
            else if (strcmp(s, "processing") == 0) out->processing = v;
            else if (strcmp(s, "done") == 0) out->done = v;
            else if (strcmp(s, "dead") == 0) out->dead = v;
        }
    }
    if (res)
        PQclear(res);
    return rc;
}

/* Operator listing with optional status/kind filters (added for bill-cli
 * events list; list_dead above keeps its oldest-first order). */
int bill_events_list(bill_db *db, const char *status, const char *kind, const bill_page *page,
                     bill_event_rows *out)
{
    int rc;
    if (!db || !out)
        return bill__err(BILL_EINVALID, NULL, "db and out are required");
    memset(out, 0, sizeof *out);
    if (status && *status && strcmp(status, "pending") != 0 && strcmp(status, "processing") != 0 &&
        strcmp(status, "done") != 0 && strcmp(status, "dead") != 0 &&
        strcmp(status, "failing") != 0)
        return bill__err(BILL_EINVALID, "status",
                         "event status \"%s\" must be pending, processing, done, dead or "
                         "failing", status);
    /* only the filters asked for (bill__where: a generic plan that uses the indexes);
     * "failing": still to run, with an error from an earlier attempt */
    const bill__filter filters[] = {
        {"(status = $?::text OR ($?::text = 'failing' AND status IN ('pending', 'processing') "
         "AND last_error <> ''))", status && *status ? status : NULL},
        {"kind = $?", kind && *kind ? kind : NULL},
    };
    bill__list_where w;
    if ((rc = bill__list_where_init(&w, EV_COLS, "FROM events WHERE true", "id DESC", filters,
                                    (int)BILL__ARRAY_LEN(filters))) < 0)
        return rc;
    return BILL__LIST_PAGE(db, &EV_ROW, &w.q, w.np, w.params, page, NULL, out);
}
