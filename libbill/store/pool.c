/*
 * pool.c — the bill_db handle: a thread-safe pool of libpq connections, and
 * the statement/transaction helpers of store.h that every SQL call uses.
 *
 * Pool policy ([db] section, seed 000 §2.2):
 *   - min_connections are opened by bill_db_open, so a bad URL fails at start;
 *   - at most max_connections exist; a borrower waits up to
 *     acquire_timeout_secs, then gets BILL_EUNAVAILABLE with advice. The
 *     wait is first come, first served: waiters queue in arrival order, a
 *     released connection (or the slot of a discarded one) is handed to
 *     the oldest waiter directly, and a newcomer never takes a connection
 *     while anyone is queued, so no borrower can be overtaken until it
 *     times out;
 *   - idle connections beyond min are closed after idle_timeout_secs, and any
 *     connection older than max_lifetime_secs is replaced (both checked
 *     whenever the pool is touched — there is no reaper thread to own);
 *   - test_before_acquire: a connection idle for test_after_idle_ms or more
 *     is checked with "SELECT 1" and silently replaced when dead; one used
 *     more recently is lent unchecked ("unverified"): before its first
 *     statement is sent, whatever the server left in the socket is read
 *     without waiting, and a session the server ended (restart, failover,
 *     backend killed: the FATAL message and the end of the stream are
 *     already there) is reopened in place — nothing was sent, so nothing
 *     can run twice. Only a statement that changes nothing (BEGIN, the
 *     clock's set_config, the probe's read) is sent once more when the
 *     session turns out dead after sending; any other statement may have
 *     run (and, outside a transaction, committed) before the reply was
 *     lost, so it fails with BILL_EUNAVAILABLE and is never repeated
 *     blindly (issue 13, issue 12 item 5);
 *   - failover (issue 12 item 5): [db].url may be a multi-host libpq URL
 *     (postgresql://h1:p1,h2:p2/db?target_session_attrs=read-write); libpq
 *     then connects to whichever host is the writable primary. A
 *     connection lost, or found on a read-only server (SQLSTATE 25006 on a
 *     hot standby or a server set default_transaction_read_only), is
 *     marked broken and discarded on release, so the pool refills from the
 *     new primary; the request that saw it fails with BILL_EUNAVAILABLE
 *     (retryable) and a message saying what happened. A COMMIT whose reply
 *     was lost is reported as of unknown outcome, never retried;
 *   - on release, an open transaction is rolled back and a broken connection
 *     (PQstatus bad, 08xxx/57P0x error seen) is discarded;
 *   - statements are prepared once per connection (issue 13): bill__q runs
 *     a statement text it sees the first time as before (PQexecParams),
 *     prepares it the second time and from then on only executes it, so
 *     the server parses and analyses it once per session. At most
 *     STMT_SLOTS texts per connection; others keep PQexecParams. A
 *     prepared statement the server no longer has (26000) or whose plan
 *     no longer fits (0A000, a table changed under it) is forgotten and,
 *     outside a transaction, the statement is sent again unprepared.
 * Connecting, pinging and closing happen outside the mutex so a slow server
 * never blocks other threads' bookkeeping.
 */
#include "store/store.h"
#include "cluster/redis_int.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STMT_SLOTS 256
/* Totals of catalog lists kept per catalog version (bill__catalog_total_*):
 * direct-mapped, a newer key replaces an older one in its slot. */
#define TOTAL_SLOTS 64
#define TOTAL_KEY_MAX 1024

typedef struct total_slot {
    char *key;            /* NULL: free */
    uint64_t hash;
    char token[BILL__CATALOG_TOKEN_SZ]; /* the catalog_version row it was counted at */
    uint64_t total;
} total_slot;

typedef struct stmt_slot {
    char *sql;            /* NULL: free */
    uint64_t hash;
    int nparams;
    bool seen;            /* ran once unprepared */
    bool prepared;        /* as "s<index>_<gen>" on this session */
    unsigned gen;         /* moves when a prepared one is forgotten */
} stmt_slot;

struct bill_conn {
    PGconn *pg;
    stmt_slot *stmts;     /* STMT_SLOTS, open addressing; NULL until needed */
    int n_stmts;
    bill_db *db;
    int64_t created_ms;   /* monotonic */
    int64_t last_used_ms; /* monotonic, when last put back */
    bool broken;          /* a connection-level failure was seen */
    bool clock_set;       /* bill.now is set on this session */
    bool unverified;      /* lent without the ping: checked before its first statement */
    struct bill_conn *next;
};

/* A borrower queued for a connection (on its own stack, under db->mu). */
typedef struct pool_waiter {
    pthread_cond_t cv;
    bill_conn *given;         /* a released connection handed over */
    bool slot;                /* a freed slot handed over: open one in it */
    struct pool_waiter *next; /* the next in arrival order */
} pool_waiter;

struct bill_db {
    pthread_mutex_t mu;
    pool_waiter *wq_head, *wq_tail; /* waiters, oldest first */
    char *url;
    bool url_connect_timeout; /* the URL sets connect_timeout: keep it */
    char *app_name;
    int max_conns, min_conns;
    int idle_timeout_s, max_lifetime_s, acquire_timeout_s;
    bool test_before_acquire;
    int test_after_idle_ms;

    bill_conn *idle;  /* LIFO: the warmest connection is reused first */
    int n_idle;
    int n_open;       /* idle + in use + being opened */
    int n_in_use;
    int n_waiting;
    uint64_t acquired_total, timeouts_total;

    bill_clock_fn clock_fn; /* NULL: bill_time_now() and SQL bill_now() */
    void *clock_user;

    _Atomic uint64_t catalog_epoch; /* this handle's committed catalog writes */
    total_slot totals[TOTAL_SLOTS];  /* under mu */
    struct bill_redis *_Atomic redis; /* optional (bill_db_set_redis), owned */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void bill_db_options_init(bill_db_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->version = BILL_DB_OPTIONS_VERSION;
    o->max_connections = 20;
    o->min_connections = 2;
    o->idle_timeout_secs = 300;
    o->max_lifetime_secs = 1800;
    o->acquire_timeout_secs = 5;
    o->test_before_acquire = true;
    o->test_after_idle_ms = 1000;
}

/* ---- single connections ------------------------------------------------- */

/* The library never prints: server NOTICEs ("table exists, skipping")
 * would otherwise go to stderr through libpq's default processor. */
static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Forget every prepared statement (the session is gone or new). */
static void stmts_clear(bill_conn *c)
{
    if (!c->stmts)
        return;
    for (int i = 0; i < STMT_SLOTS; i++)
        free(c->stmts[i].sql);
    free(c->stmts);
    c->stmts = NULL;
    c->n_stmts = 0;
}

static void conn_close(bill_conn *c)
{
    if (!c)
        return;
    PQfinish(c->pg);
    stmts_clear(c);
    free(c);
}

/* Whether the libpq URL (or key=value string) sets connect_timeout. */
static bool url_sets_connect_timeout(const char *url)
{
    bool set = false;
    PQconninfoOption *opts = PQconninfoParse(url, NULL);
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (!strcmp(o->keyword, "connect_timeout") && o->val && *o->val)
            set = true;
    PQconninfoFree(opts);
    return set;
}

/* Open one connection (no lock held). application_name and the UTC time
 * zone are passed as connection parameters after the URL so they override
 * whatever the URL says: timestamps must be UTC inside the library. The
 * connect timeout is 10 s per host unless the URL sets its own (a
 * multi-host failover URL wants a short one). */
static int conn_open(bill_db *db, bill_conn **out)
{
    int rc = BILL_OK;
    bill_conn *c = NULL;
    const char *keys[] = {"dbname", "application_name", "options", "connect_timeout", NULL};
    const char *vals[] = {db->url, db->app_name, "-c TimeZone=UTC", "10", NULL};
    if (db->url_connect_timeout)
        keys[3] = vals[3] = NULL;

    c = calloc(1, sizeof *c);
    if (!c) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory opening a database connection");
        goto done;
    }
    c->db = db;
    c->pg = PQconnectdbParams(keys, vals, 1);
    if (!c->pg) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory opening a database connection");
        goto done;
    }
    if (PQstatus(c->pg) != CONNECTION_OK) {
        /* libpq writes one line per host it tried (a multi-host URL: "port
         * 5433 failed: Connection refused", "port 5434 failed: session is
         * read-only"); keep them all, on one line. */
        char msg[1024];
        size_t n = 0;
        for (const char *m = PQerrorMessage(c->pg); *m && n + 3 < sizeof msg; m++) {
            if (*m == '\t')
                continue; /* libpq indents its hints */
            if (*m != '\n')
                msg[n++] = *m;
            else if (m[1] && n) {
                msg[n++] = ';';
                msg[n++] = ' ';
            }
        }
        msg[n] = '\0';
        rc = bill__err(BILL_EUNAVAILABLE, "db.url",
                       "cannot connect to PostgreSQL (database %s): %s",
                       PQdb(c->pg) ? PQdb(c->pg) : "?", msg);
        goto done;
    }
    PQsetNoticeProcessor(c->pg, quiet_notice, NULL);
    c->created_ms = c->last_used_ms = now_ms();
    *out = c;
    c = NULL;
done:
    conn_close(c);
    return rc;
}

/* Under the lock: take every idle connection that expired out of the idle
 * list (counted as no longer open) and return them as a chain for the
 * caller to close after unlocking. */
static bill_conn *take_expired_locked(bill_db *db, int64_t now)
{
    bill_conn *victims = NULL;
    bill_conn **pp = &db->idle;
    while (*pp) {
        bill_conn *c = *pp;
        bool too_old = db->max_lifetime_s > 0 &&
                       now - c->created_ms >= (int64_t)db->max_lifetime_s * 1000;
        bool too_idle = db->idle_timeout_s > 0 && db->n_open > db->min_conns &&
                        now - c->last_used_ms >= (int64_t)db->idle_timeout_s * 1000;
        if (too_old || too_idle) {
            *pp = c->next;
            c->next = victims;
            victims = c;
            db->n_idle--;
            db->n_open--;
        } else {
            pp = &c->next;
        }
    }
    return victims;
}

static void close_chain(bill_conn *c)
{
    while (c) {
        bill_conn *n = c->next;
        conn_close(c);
        c = n;
    }
}

static bool conn_alive(bill_conn *c)
{
    if (PQstatus(c->pg) != CONNECTION_OK)
        return false;
    PGresult *r = PQexec(c->pg, "SELECT 1");
    bool ok = r && PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    return ok;
}

/* ---- the pool --------------------------------------------------------- */

int bill_db_open(bill_db **out, const bill_db_options *opts)
{
    int rc = BILL_OK;
    bill_db *db = NULL;
    bool mu_init = false;

    if (!out || !opts)
        return bill__err(BILL_EINVALID, NULL, "bill_db_open: out and opts are required");
    if (opts->version < 1 || opts->version > BILL_DB_OPTIONS_VERSION)
        return bill__err(BILL_EINVALID, "version",
                         "bill_db_options version %u is not supported (this libbill knows 1..%d)",
                         opts->version, BILL_DB_OPTIONS_VERSION);
    if (!opts->url || !*opts->url)
        return bill__err(BILL_EINVALID, "db.url", "database URL is empty");
    if (opts->max_connections < 1 || opts->max_connections > 10000)
        return bill__err(BILL_EINVALID, "db.max_connections",
                         "db.max_connections = %d; it must be between 1 and 10000",
                         opts->max_connections);
    if (opts->min_connections < 0 || opts->min_connections > opts->max_connections)
        return bill__err(BILL_EINVALID, "db.min_connections",
                         "db.min_connections = %d; it must be between 0 and max_connections (%d)",
                         opts->min_connections, opts->max_connections);
    if (opts->idle_timeout_secs < 0 || opts->max_lifetime_secs < 0 ||
        opts->acquire_timeout_secs < 0)
        return bill__err(BILL_EINVALID, "db",
                         "db timeouts must not be negative (idle %d, lifetime %d, acquire %d)",
                         opts->idle_timeout_secs, opts->max_lifetime_secs,
                         opts->acquire_timeout_secs);

    db = calloc(1, sizeof *db);
    if (!db) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory creating the database pool");
        goto done;
    }
    db->url = bill__strdup(opts->url);
    db->app_name = bill__strdup(opts->application_name && *opts->application_name
                                    ? opts->application_name : "libbill");
    if (!db->url || !db->app_name) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory creating the database pool");
        goto done;
    }
    db->url_connect_timeout = url_sets_connect_timeout(db->url);
    db->max_conns = opts->max_connections;
    db->min_conns = opts->min_connections;
    db->idle_timeout_s = opts->idle_timeout_secs;
    db->max_lifetime_s = opts->max_lifetime_secs;
    db->acquire_timeout_s = opts->acquire_timeout_secs;
    db->test_before_acquire = opts->test_before_acquire;
    db->test_after_idle_ms = opts->version >= 2 ? opts->test_after_idle_ms : 1000;
    if (db->test_after_idle_ms < 0 || db->test_after_idle_ms > 86400 * 1000) {
        rc = bill__err(BILL_EINVALID, "db.test_after_idle_ms",
                       "db.test_after_idle_ms = %d; it must be between 0 and 86400000",
                       db->test_after_idle_ms);
        goto done;
    }

    if (pthread_mutex_init(&db->mu, NULL) != 0) {
        rc = bill__err(BILL_EINTERNAL, NULL, "cannot create the pool mutex");
        goto done;
    }
    mu_init = true;

    for (int i = 0; i < db->min_conns; i++) {
        bill_conn *c = NULL;
        if ((rc = conn_open(db, &c)) < 0)
            goto done;
        c->next = db->idle;
        db->idle = c;
        db->n_idle++;
        db->n_open++;
    }
    *out = db;
    db = NULL;
done:
    if (db) {
        close_chain(db->idle);
        if (mu_init)
            pthread_mutex_destroy(&db->mu);
        free(db->url);
        free(db->app_name);
        free(db);
    }
    return rc;
}

void bill_db_close(bill_db *db)
{
    if (!db)
        return;
    /* Every borrowed connection must be back by now (caller contract);
     * idle ones are all we own. */
    close_chain(db->idle);
    bill__redis_close(atomic_load(&db->redis));
    pthread_mutex_destroy(&db->mu);
    for (int i = 0; i < TOTAL_SLOTS; i++)
        free(db->totals[i].key);
    free(db->url);
    free(db->app_name);
    free(db);
}

/* Under the lock: the oldest waiter, taken out of the queue (NULL: none). */
static pool_waiter *waiter_pop_locked(bill_db *db)
{
    pool_waiter *w = db->wq_head;
    if (w) {
        db->wq_head = w->next;
        if (!db->wq_head)
            db->wq_tail = NULL;
        w->next = NULL;
    }
    return w;
}

/* Under the lock: hand the connection c (counted open and in use) to the
 * oldest waiter; false when nobody waits. */
static bool handoff_conn_locked(bill_db *db, bill_conn *c)
{
    pool_waiter *w = waiter_pop_locked(db);
    if (!w)
        return false;
    w->given = c;
    pthread_cond_signal(&w->cv);
    return true;
}

/* Under the lock: a borrowed slot (counted open and in use) has no
 * connection any more. The oldest waiter gets it, still counted, to open a
 * connection in; with nobody waiting it is freed. */
static void slot_free_locked(bill_db *db)
{
    pool_waiter *w = waiter_pop_locked(db);
    if (!w) {
        db->n_in_use--;
        db->n_open--;
        return;
    }
    w->slot = true;
    pthread_cond_signal(&w->cv);
}

/* Under the lock: take w (timed out) out of the queue. */
static void waiter_unlink_locked(bill_db *db, pool_waiter *w)
{
    pool_waiter **pp = &db->wq_head, *prev = NULL;
    while (*pp && *pp != w) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp)
        return;
    *pp = w->next;
    if (db->wq_tail == w)
        db->wq_tail = prev;
    w->next = NULL;
}

/* Replace the dead connection *cp (borrowed, counted as open and in use)
 * by a fresh one; on failure the slot is given back and *cp is NULL. */
static int conn_replace(bill_db *db, bill_conn **cp)
{
    int rc;
    conn_close(*cp);
    *cp = NULL;
    if ((rc = conn_open(db, cp)) < 0) {
        pthread_mutex_lock(&db->mu);
        slot_free_locked(db);
        pthread_mutex_unlock(&db->mu);
    }
    return rc;
}

/* Lend *cp, taken from the idle list or handed over by a release (counted
 * in use). ping: whether it is checked with "SELECT 1" first when it idled
 * test_after_idle_ms or more (test_before_acquire); false when the caller's
 * first statement does that job (bill__conn_acquire_probe). *fresh (may be
 * NULL): newly opened. */
static int lend_idle(bill_db *db, bill_conn **cp, bool ping, bool *fresh)
{
    int rc;
    bill_conn *c = *cp;
    bool long_idle = now_ms() - c->last_used_ms >= db->test_after_idle_ms;
    if (ping && db->test_before_acquire && long_idle && !conn_alive(c)) {
        /* Dead (server restarted, backend killed): replace it. */
        if ((rc = conn_replace(db, cp)) < 0)
            return rc;
        if (fresh)
            *fresh = true;
    } else {
        /* Not pinged now: its first statement checks it. */
        c->unverified = db->test_before_acquire && !(ping && long_idle);
        if (fresh)
            *fresh = false;
    }
    pthread_mutex_lock(&db->mu);
    db->acquired_total++;
    pthread_mutex_unlock(&db->mu);
    return BILL_OK;
}

/* Open a connection in a slot already counted as open and in use; on
 * failure the slot goes to the next waiter. */
static int lend_new(bill_db *db, bill_conn **out, bool *fresh)
{
    bill_conn *c = NULL;
    int rc = conn_open(db, &c);
    pthread_mutex_lock(&db->mu);
    if (rc < 0) {
        slot_free_locked(db);
        pthread_mutex_unlock(&db->mu);
        return rc;
    }
    db->acquired_total++;
    pthread_mutex_unlock(&db->mu);
    if (fresh)
        *fresh = true;
    *out = c;
    return BILL_OK;
}

/* Under the lock: queue w last and wait until a connection or a slot is
 * handed to it, or the deadline passes. 1: handed over; 0: timed out
 * (taken out of the queue, counted); -1: no condition variable. */
static int waiter_wait_locked(bill_db *db, pool_waiter *w, const struct timespec *deadline)
{
    pthread_condattr_t ca;
    /* The monotonic clock: a wall-clock jump cannot stretch or cut the wait. */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int e = pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (e != 0)
        return -1;
    w->given = NULL;
    w->slot = false;
    w->next = NULL;
    if (db->wq_tail)
        db->wq_tail->next = w;
    else
        db->wq_head = w;
    db->wq_tail = w;
    db->n_waiting++;
    int got = 1;
    while (!w->given && !w->slot) {
        if (pthread_cond_timedwait(&w->cv, &db->mu, deadline) == ETIMEDOUT && !w->given &&
            !w->slot) {
            waiter_unlink_locked(db, w);
            db->timeouts_total++;
            got = 0;
            break;
        }
    }
    db->n_waiting--;
    /* Whoever handed it over signalled under the lock we hold again. */
    pthread_cond_destroy(&w->cv);
    return got;
}

static int conn_acquire_raw(bill_db *db, bill_conn **out, bool ping, bool *fresh, bool nowait)
{
    int rc = BILL_OK;
    bill_conn *victims, *c = NULL;
    struct timespec deadline;
    pool_waiter w;
    bool open_new = false;

    if (!db || !out)
        return bill__err(BILL_EINVALID, NULL, "bill__conn_acquire: db and out are required");
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += db->acquire_timeout_s;

    pthread_mutex_lock(&db->mu);
    /* Expired idle connections are closed below, after unlocking. */
    victims = take_expired_locked(db, now_ms());
    int max = db->max_conns, secs = db->acquire_timeout_s;
    /* Nobody queued ahead: take an idle connection or open one. While
     * anyone waits there is nothing idle and no free slot (a release hands
     * its connection or slot to the oldest waiter), and a newcomer queues. */
    if (!db->wq_head && db->idle) {
        c = db->idle;
        db->idle = c->next;
        c->next = NULL;
        db->n_idle--;
        db->n_in_use++;
    } else if (!db->wq_head && db->n_open < db->max_conns) {
        db->n_open++; /* reserve the slot while connecting unlocked */
        db->n_in_use++;
        open_new = true;
    } else if (nowait) {
        pthread_mutex_unlock(&db->mu);
        rc = bill__err(BILL_EUNAVAILABLE, "db.max_connections",
                       "no database connection free now (pool of %d in use)", max);
        goto done;
    } else {
        int got = waiter_wait_locked(db, &w, &deadline);
        if (got <= 0) {
            pthread_mutex_unlock(&db->mu);
            rc = got < 0 ? bill__err(BILL_EINTERNAL, NULL,
                                     "cannot create a condition variable to wait for a "
                                     "database connection")
                         : bill__err(BILL_EUNAVAILABLE, "db.max_connections",
                                     "no database connection free after %d s (pool of %d in "
                                     "use); raise [db].max_connections or look for slow "
                                     "queries",
                                     secs, max);
            goto done;
        }
        c = w.given;
        open_new = w.slot;
    }
    pthread_mutex_unlock(&db->mu);
    if (open_new) {
        rc = lend_new(db, out, fresh);
    } else if ((rc = lend_idle(db, &c, ping, fresh)) == BILL_OK) {
        *out = c;
    }
done:
    close_chain(victims);
    return rc;
}

/* ---- clock -------------------------------------------------------------- */

void bill_db_set_clock(bill_db *db, bill_clock_fn fn, void *user)
{
    if (!db)
        return;
    pthread_mutex_lock(&db->mu);
    db->clock_fn = fn;
    db->clock_user = fn ? user : NULL;
    pthread_mutex_unlock(&db->mu);
}

static bool db_clock(bill_db *db, int64_t *now)
{
    bill_clock_fn fn;
    void *user;
    pthread_mutex_lock(&db->mu);
    fn = db->clock_fn;
    user = db->clock_user;
    pthread_mutex_unlock(&db->mu);
    *now = fn ? fn(user) : bill_time_now();
    return fn != NULL;
}

int64_t bill_db_now(bill_db *db)
{
    int64_t now;
    if (!db)
        return bill_time_now();
    (void)db_clock(db, &now);
    return now;
}

bool bill_db_clock_injected(bill_db *db)
{
    bool set;
    if (!db)
        return false;
    pthread_mutex_lock(&db->mu);
    set = db->clock_fn != NULL;
    pthread_mutex_unlock(&db->mu);
    return set;
}

/* How run_stmt sends a statement. */
enum {
    RUN_PARAMS = 0,   /* parameterised, prepared once seen twice (bill__q) */
    RUN_SIMPLE = 1,   /* PQexec: a text of several statements (bill__exec) */
    RUN_HARMLESS = 2, /* changes nothing (BEGIN, set_config, a read): may be sent again */
};
static int run_stmt(bill_conn *c, PGresult **out, const char *sql, int nparams,
                    const char *const *params, unsigned how);

/* Hand the handle's instant to the session (bill.now), or clear one left
 * from an earlier clock, so SQL reads the same "now" as the C code. */
static int conn_apply_clock(bill_conn *c)
{
    int64_t now;
    char ts[BILL_TIME_BUFSZ + 8];
    bool injected = db_clock(c->db, &now);
    if (!injected && !c->clock_set)
        return BILL_OK;
    ts[0] = '\0';
    if (injected) {
        /* microseconds kept: "2026-11-22T09:17:31.123456Z" */
        char base[BILL_TIME_BUFSZ];
        int64_t us = ((now % BILL_USEC_PER_SEC) + BILL_USEC_PER_SEC) % BILL_USEC_PER_SEC;
        if (bill_time_format_rfc3339(now - us, base) < 0)
            return bill__err(BILL_EINVALID, "clock", "the injected clock is out of range");
        snprintf(ts, sizeof ts, "%.19s.%06lldZ", base, (long long)us);
    }
    int rc = run_stmt(c, NULL, "SELECT set_config('bill.now', $1, false)", 1,
                      (const char *const[]){ts}, RUN_HARMLESS);
    if (rc == BILL_OK)
        c->clock_set = injected;
    return rc;
}

static int acquire(bill_db *db, bill_conn **out, bool nowait)
{
    int rc = conn_acquire_raw(db, out, true, NULL, nowait);
    if (rc < 0)
        return rc;
    if ((rc = conn_apply_clock(*out)) < 0) {
        bill__conn_release(*out);
        *out = NULL;
    }
    return rc;
}

int bill__conn_acquire(bill_db *db, bill_conn **out)
{
    return acquire(db, out, false);
}

int bill__conn_try_acquire(bill_db *db, bill_conn **out)
{
    return acquire(db, out, true);
}

int bill__conn_acquire_probe(bill_db *db, bill_conn **out, PGresult **res, const char *sql,
                             int nparams, const char *const *params)
{
    bool fresh = false;
    int rc;
    *res = NULL;
    if ((rc = conn_acquire_raw(db, out, false, &fresh, false)) < 0)
        return rc;
    /* Without test_before_acquire nothing is checked, as asked; otherwise a
     * connection found dead before or by the statement is reopened, and the
     * statement (a read, by this function's contract) sent again
     * (run_stmt, "unverified"). */
    (*out)->unverified = !fresh && db->test_before_acquire;
    rc = run_stmt(*out, res, sql, nparams, params, RUN_HARMLESS);
    if (rc == BILL_OK)
        rc = conn_apply_clock(*out);
    if (rc < 0) {
        PQclear(*res);
        *res = NULL;
        bill__conn_release(*out);
        *out = NULL;
    }
    return rc;
}

int64_t bill__conn_now(bill_conn *c)
{
    return bill_db_now(c ? c->db : NULL);
}

void bill__conn_release(bill_conn *c)
{
    if (!c)
        return;
    bill_db *db = c->db;
    bool discard = c->broken || PQstatus(c->pg) != CONNECTION_OK;

    if (!discard) {
        PGTransactionStatusType ts = PQtransactionStatus(c->pg);
        if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
            /* A forgotten commit must not leak half a change to the next
             * borrower: roll it back. */
            PGresult *r = PQexec(c->pg, "ROLLBACK");
            if (!r || PQresultStatus(r) != PGRES_COMMAND_OK)
                discard = true;
            PQclear(r);
        } else if (ts != PQTRANS_IDLE) {
            discard = true; /* mid-query or unknown: not reusable */
        }
    }
    if (discard) {
        conn_close(c);
        c = NULL;
    }
    pthread_mutex_lock(&db->mu);
    if (c) {
        c->last_used_ms = now_ms();
        /* The oldest waiter gets it as it is (still counted in use). */
        if (!handoff_conn_locked(db, c)) {
            db->n_in_use--;
            c->next = db->idle;
            db->idle = c;
            db->n_idle++;
        }
    } else {
        slot_free_locked(db);
    }
    pthread_mutex_unlock(&db->mu);
}

void bill__catalog_changed(bill_db *db)
{
    if (db)
        atomic_fetch_add(&db->catalog_epoch, 1);
}

void bill_db_set_redis(bill_db *db, bill_redis *r)
{
    if (db)
        bill__redis_close(atomic_exchange(&db->redis, r));
    else
        bill__redis_close(r);
}

bill_redis *bill_db_redis(bill_db *db)
{
    return db ? atomic_load(&db->redis) : NULL;
}

uint64_t bill__catalog_epoch(bill_db *db)
{
    return db ? atomic_load(&db->catalog_epoch) : 0;
}

static uint64_t sql_hash(const char *s);

bool bill__catalog_total_get(bill_db *db, const char *key, char token[BILL__CATALOG_TOKEN_SZ],
                             uint64_t *total)
{
    if (!db || !key)
        return false;
    uint64_t h = sql_hash(key);
    bool found = false;
    pthread_mutex_lock(&db->mu);
    const total_slot *t = &db->totals[h % TOTAL_SLOTS];
    if (t->key && t->hash == h && strcmp(t->key, key) == 0) {
        memcpy(token, t->token, BILL__CATALOG_TOKEN_SZ);
        *total = t->total;
        found = true;
    }
    pthread_mutex_unlock(&db->mu);
    return found;
}

void bill__catalog_total_put(bill_db *db, const char *key, const char *token, uint64_t total)
{
    if (!db || !key || !token || strlen(key) > TOTAL_KEY_MAX ||
        strlen(token) >= BILL__CATALOG_TOKEN_SZ)
        return;
    uint64_t h = sql_hash(key);
    char *copy = NULL;
    pthread_mutex_lock(&db->mu);
    total_slot *t = &db->totals[h % TOTAL_SLOTS];
    bool same = t->key && t->hash == h && strcmp(t->key, key) == 0;
    pthread_mutex_unlock(&db->mu);
    /* A newer key takes the slot; the copy is made outside the lock. */
    if (!same && !(copy = bill__strdup(key)))
        return; /* only a cache: a miss next time */
    pthread_mutex_lock(&db->mu);
    t = &db->totals[h % TOTAL_SLOTS];
    if (copy) {
        char *old = t->key;
        t->key = copy;
        copy = old; /* freed below */
        t->hash = h;
    } else if (!(t->key && t->hash == h && strcmp(t->key, key) == 0)) {
        pthread_mutex_unlock(&db->mu); /* taken meanwhile by another key */
        return;
    }
    snprintf(t->token, sizeof t->token, "%s", token);
    t->total = total;
    pthread_mutex_unlock(&db->mu);
    free(copy);
}

PGconn *bill__conn_pg(bill_conn *c)
{
    return c ? c->pg : NULL;
}

const char *bill__db_url(bill_db *db)
{
    return db ? db->url : NULL;
}

bill_db *bill__conn_db(bill_conn *c)
{
    return c ? c->db : NULL;
}

void bill_db_pool_stats_get(bill_db *db, bill_db_pool_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!db)
        return;
    pthread_mutex_lock(&db->mu);
    /* Reaping here keeps the numbers honest for /metrics on a quiet pool. */
    bill_conn *victims = take_expired_locked(db, now_ms());
    out->in_use = db->n_in_use;
    out->idle = db->n_idle;
    out->waiting = db->n_waiting;
    out->max = db->max_conns;
    out->acquired_total = db->acquired_total;
    out->timeouts_total = db->timeouts_total;
    pthread_mutex_unlock(&db->mu);
    close_chain(victims);
}

int bill_db_ping(bill_db *db)
{
    int rc;
    bill_conn *c = NULL;
    if (!db)
        return bill__err(BILL_EINVALID, NULL, "bill_db_ping: db is NULL");
    if ((rc = bill__conn_acquire(db, &c)) < 0)
        return rc;
    rc = bill__exec(c, "SELECT 1");
    bill__conn_release(c);
    return rc;
}

/* ---- statements ------------------------------------------------------- */

int bill__pg_error(bill_conn *c, const PGresult *res, const char *what)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    char conn_msg[512] = "";
    int code;

    if (!state)
        state = "";
    if (c && c->pg && !primary) {
        snprintf(conn_msg, sizeof conn_msg, "%s", PQerrorMessage(c->pg));
        conn_msg[strcspn(conn_msg, "\n")] = '\0';
        primary = conn_msg[0] ? conn_msg : "no result from the server";
    }
    if (!primary)
        primary = "unknown database failure";

    bool lost = (c && c->pg && PQstatus(c->pg) != CONNECTION_OK) ||
                strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0;
    /* 25006 from a server that is read-only as a whole (a hot standby, or
     * one an HA manager set default_transaction_read_only on, as when a
     * primary is demoted): the session is on the wrong server. */
    const char *hot = c && c->pg ? PQparameterStatus(c->pg, "in_hot_standby") : NULL;
    const char *ro = c && c->pg ? PQparameterStatus(c->pg, "default_transaction_read_only") : NULL;
    bool read_only = !strcmp(state, "25006") && ((hot && !strcmp(hot, "on")) ||
                                                 (ro && !strcmp(ro, "on")));
    if (lost || read_only) {
        if (c)
            c->broken = true; /* discarded on release: the pool reconnects */
        code = BILL_EUNAVAILABLE;
        return bill__err_sql(code, state, "%s%sPostgreSQL %s (a restart or failover may be under "
                             "way; retry): %s", what && *what ? what : "",
                             what && *what ? ": " : "",
                             lost ? "connection lost"
                                  : "server is read-only, a standby (a failover is under way, "
                                    "or [db].url lacks target_session_attrs=read-write)",
                             primary);
    } else if (!strcmp(state, "23505")) {
        code = BILL_ECONFLICT;
    } else if (!strcmp(state, "23503") || !strcmp(state, "23514") || !strcmp(state, "23502") ||
               !strncmp(state, "22", 2)) {
        code = BILL_EINVALID;
    } else if (!strcmp(state, "57014")) {
        code = BILL_ETIMEOUT;
    } else {
        code = BILL_EDB;
    }
    return bill__err_sql(code, state, "%s%s%s%s%s%s", what && *what ? what : "",
                         what && *what ? ": " : "", primary, detail ? " (" : "",
                         detail ? detail : "", detail ? ")" : "");
}

static bool result_ok(const PGresult *r)
{
    if (!r)
        return false;
    ExecStatusType s = PQresultStatus(r);
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK || s == PGRES_EMPTY_QUERY;
}

static bool session_lost(bill_conn *c, const PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return PQstatus(c->pg) != CONNECTION_OK ||
           (state && (!strncmp(state, "08", 2) || !strncmp(state, "57P", 3)));
}

/* Whether the server ended this idle session, found without a round trip:
 * what waits in the socket is read without blocking. A live idle session
 * has nothing there (or a ParameterStatus / notice, consumed); one the
 * server ended (restart, failover, pg_terminate_backend, a killed
 * postmaster) has its FATAL message and the end of the stream. */
static bool session_ended(bill_conn *c)
{
    for (int i = 0; i < 4; i++) {
        if (PQstatus(c->pg) != CONNECTION_OK)
            return true;
        struct pollfd p = {.fd = PQsocket(c->pg), .events = POLLIN};
        if (p.fd < 0)
            return true;
        if (poll(&p, 1, 0) <= 0)
            return false; /* nothing waiting (a failed poll: the statement tells) */
        if (!PQconsumeInput(c->pg))
            return true;
    }
    return PQstatus(c->pg) != CONNECTION_OK;
}

/* Open a new session in place of c's dead one (the slot and the borrower
 * stay the same; prepared statements and the clock are the old session's
 * and gone with it). On failure c is marked broken, the error set. */
static int session_reopen(bill_conn *c)
{
    bill_conn *n = NULL;
    int rc = conn_open(c->db, &n);
    if (rc < 0) {
        c->broken = true;
        return rc;
    }
    PQfinish(c->pg);
    c->pg = n->pg;
    c->created_ms = n->created_ms;
    c->broken = false;
    c->clock_set = false;
    stmts_clear(c);
    free(n);
    return BILL_OK;
}

static uint64_t sql_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* The slot of `sql` (found, or claimed for it), or NULL when the table is
 * full or out of memory. */
static stmt_slot *stmt_slot_for(bill_conn *c, const char *sql, int nparams)
{
    uint64_t h = sql_hash(sql);
    if (!c->stmts && !(c->stmts = calloc(STMT_SLOTS, sizeof *c->stmts)))
        return NULL;
    for (int k = 0; k < STMT_SLOTS; k++) {
        stmt_slot *s = &c->stmts[(h + (uint64_t)k) % STMT_SLOTS];
        if (!s->sql) {
            if (c->n_stmts >= STMT_SLOTS * 3 / 4 || !(s->sql = bill__strdup(sql)))
                return NULL;
            s->hash = h;
            s->nparams = nparams;
            s->seen = false;
            s->prepared = false;
            c->n_stmts++;
            return s;
        }
        if (s->hash == h && s->nparams == nparams && strcmp(s->sql, sql) == 0)
            return s;
    }
    return NULL;
}

/* One statement on the wire: prepared when its text was seen before on
 * this session (see the top of this file). Returns libpq's result. */
static PGresult *stmt_run(bill_conn *c, const char *sql, int nparams, const char *const *params)
{
    stmt_slot *s = stmt_slot_for(c, sql, nparams);
    char name[32];
    if (!s)
        return PQexecParams(c->pg, sql, nparams, NULL, params, NULL, NULL, 0);
    snprintf(name, sizeof name, "s%d_%u", (int)(s - c->stmts), s->gen);
    if (!s->prepared) {
        if (!s->seen) {
            /* first sighting: remember it, run it as before */
            s->seen = true;
            return PQexecParams(c->pg, sql, nparams, NULL, params, NULL, NULL, 0);
        }
        PGresult *p = PQprepare(c->pg, name, sql, nparams, NULL);
        if (!p || PQresultStatus(p) != PGRES_COMMAND_OK)
            return p; /* the caller maps the error (syntax, lost connection) */
        PQclear(p);
        s->prepared = true;
    }
    PGresult *r = PQexecPrepared(c->pg, name, nparams, params, NULL, NULL, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (r && st == PGRES_FATAL_ERROR) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (state && (!strcmp(state, "26000") || !strcmp(state, "0A000"))) {
            /* gone (DISCARD) or stale (a table changed): forget it (the next
             * prepare takes a new name, so a stale one left on the server
             * never collides); outside a transaction nothing happened, so
             * send it once more plainly */
            s->prepared = false;
            s->gen++;
            if (PQtransactionStatus(c->pg) == PQTRANS_IDLE) {
                PQclear(r);
                r = PQexecParams(c->pg, sql, nparams, NULL, params, NULL, NULL, 0);
            }
        }
    }
    return r;
}

/* One statement, with the unverified connection's check (top of file):
 * before sending, a session the server ended is reopened; after sending,
 * only a RUN_HARMLESS statement is sent again on a new session. */
static int run_stmt(bill_conn *c, PGresult **out, const char *sql, int nparams,
                    const char *const *params, unsigned how)
{
    int rc = BILL_OK;
    PGresult *r = NULL;
    bool simple = how & RUN_SIMPLE;

    if (out)
        *out = NULL;
    if (!c || !sql)
        return bill__err(BILL_EINVALID, NULL, "a statement needs a connection and sql");
    bool unverified = c->unverified;
    c->unverified = false;
    if (unverified && session_ended(c)) {
        if ((rc = session_reopen(c)) < 0)
            return rc;
        unverified = false; /* a fresh session: its failures are real */
    }
    r = simple ? PQexec(c->pg, sql) : stmt_run(c, sql, nparams, params);
    if (!result_ok(r) && unverified && (how & RUN_HARMLESS) && session_lost(c, r) &&
        session_reopen(c) == BILL_OK) {
        PQclear(r);
        r = simple ? PQexec(c->pg, sql) : stmt_run(c, sql, nparams, params);
    }
    if (!result_ok(r)) {
        rc = bill__pg_error(c, r, "database");
        goto done;
    }
    if (out) {
        *out = r;
        r = NULL;
    }
done:
    PQclear(r);
    return rc;
}

int bill__q(bill_conn *c, PGresult **out, const char *sql, int nparams,
            const char *const *params)
{
    return run_stmt(c, out, sql, nparams, params, RUN_PARAMS);
}

int bill__exec(bill_conn *c, const char *sql)
{
    /* PQexec (not PQexecParams) so a migration file may hold many statements. */
    return run_stmt(c, NULL, sql, 0, NULL, RUN_SIMPLE);
}

int bill__tx_begin(bill_conn *c)
{
    return run_stmt(c, NULL, "BEGIN", 0, NULL, RUN_SIMPLE | RUN_HARMLESS);
}

int bill__tx_commit(bill_conn *c)
{
    int rc = BILL_OK;
    PGresult *r = NULL;
    if (!c)
        return bill__err(BILL_EINVALID, NULL, "bill__tx_commit: connection is NULL");
    /* COMMIT of a failed transaction "succeeds" with the tag ROLLBACK; that
     * must not read as success to the caller. */
    if (PQtransactionStatus(c->pg) == PQTRANS_INERROR) {
        bill__tx_rollback(c);
        return bill__err(BILL_EDB, NULL,
                         "commit refused: an earlier statement of the transaction failed "
                         "(rolled back)");
    }
    r = PQexec(c->pg, "COMMIT");
    if (!result_ok(r))
        /* Lost on the way back, the COMMIT may have been applied or not:
         * say so (never sent again; the caller's retry must be one that
         * cannot apply twice, e.g. paying an order that may be paid). */
        rc = bill__pg_error(c, r, session_lost(c, r)
                                      ? "commit of unknown outcome (the transaction may or "
                                        "may not have been applied)"
                                      : "commit");
    else if (!strcmp(PQcmdStatus(r), "ROLLBACK"))
        rc = bill__err(BILL_EDB, NULL, "commit turned into a rollback by the server");
    PQclear(r);
    return rc;
}

int bill__tx_commit_catalog(bill_conn *c)
{
    int rc = bill__tx_commit(c);
    if (rc == BILL_OK)
        bill__catalog_changed(c->db);
    return rc;
}

void bill__tx_rollback(bill_conn *c)
{
    if (!c || !c->pg)
        return;
    PGTransactionStatusType ts = PQtransactionStatus(c->pg);
    if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
        PGresult *r = PQexec(c->pg, "ROLLBACK");
        PQclear(r);
    }
}
