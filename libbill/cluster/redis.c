/*
 * redis.c — the optional Redis handle of redis.h: URL parsing, a small
 * pool of hiredis connections, the up/down state with its single WARN and
 * single INFO, and the background reconnect with backoff.
 *
 * State: `up` is true while the last round trip (or reconnect probe)
 * worked. The first failure on the wire flips it to false under the mutex
 * — only the thread that flips it logs the WARN — bumps `epoch` (so
 * connections handed out before the failure are closed when they come
 * back instead of being reused) and wakes the reconnect thread. While down,
 * bill__redis_run answers BILL_EUNAVAILABLE without touching the network,
 * so requests fall back at memory speed. The reconnect thread connects,
 * PINGs, bumps the cache generation (entries cached before the outage may
 * have missed a revocation) and only then sets `up` and logs the INFO.
 *
 * Time here is the monotonic clock (timeouts, backoff), never the
 * handle's injected clock: it measures waiting, not business time.
 */
#include "cluster/redis_int.h"
#include "bill/config.h"
#include "bill/log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MOD "libbill::redis"
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

typedef struct rconn {
    redisContext *ctx;
    uint64_t epoch;
} rconn;

/* A parsed URL: host+port, or path for a unix socket. */
typedef struct rurl {
    char *host, *path, *user, *password;
    int port, dbnum;
} rurl;

struct bill_redis {
    rurl u;
    char *where;       /* "127.0.0.1:6379" / "unix:/x.sock": for logs, never the password */
    char *prefix;
    char gen_key[160];
    int max_conns, timeout_ms;

    pthread_mutex_t mu;
    pthread_cond_t cv;       /* a connection was returned */
    pthread_cond_t probe_cv; /* wakes the reconnect thread */
    rconn *idle;
    int n_idle, n_open;
    uint64_t epoch;
    bool up, stop, started, inited;
    pthread_t thread;

    _Atomic uint64_t commands, errors, fallbacks, downs, ups, s_hits, s_misses;
};

static void deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* hiredis writes with write(2): a peer that went away raises SIGPIPE,
 * which would kill a program that did not ignore it (bill-cli). As libpq
 * does, block it around our writes on this thread and swallow one raised
 * meanwhile (but not one that was already pending). */
typedef struct pipe_guard {
    sigset_t old;
    bool was_pending;
} pipe_guard;

static void pipe_block(pipe_guard *g)
{
    sigset_t s, p;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &s, &g->old);
    sigpending(&p);
    g->was_pending = sigismember(&p, SIGPIPE);
}

static void pipe_unblock(pipe_guard *g)
{
    sigset_t s, p;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    sigpending(&p);
    if (!g->was_pending && sigismember(&p, SIGPIPE)) {
        struct timespec zero = {0, 0};
        (void)sigtimedwait(&s, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* ---- URL ------------------------------------------------------------------ */

static void rurl_clear(rurl *u)
{
    free(u->host);
    free(u->path);
    free(u->user);
    if (u->password)
        memset(u->password, 0, strlen(u->password));
    free(u->password);
    memset(u, 0, sizeof *u);
}

/* Decimal in [lo, hi] spanning exactly s[0..n). */
static bool parse_int(const char *s, size_t n, int lo, int hi, int *out)
{
    long v = 0;
    if (n == 0 || n > 6)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

static bool no_ctl(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || s[i] == 0x7f)
            return false;
    return true;
}

static int url_bad(const char *why)
{
    return bill__err(BILL_EINVALID, "redis.url", "%s (expected "
                     "redis://[[user]:password@]host[:port][/db] or unix:///path[?db=N])", why);
}

static int url_parse(const char *url, rurl *u)
{
    memset(u, 0, sizeof *u);
    u->port = 6379;
    if (!url || !*url)
        return url_bad("empty");
    if (strlen(url) > 1024)
        return url_bad("longer than 1024 characters");
    if (!no_ctl(url, strlen(url)))
        return url_bad("contains spaces or control characters");
    if (strncmp(url, "unix://", 7) == 0) {
        const char *p = url + 7, *q = strchr(p, '?');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        if (n < 2 || p[0] != '/')
            return url_bad("a unix socket needs an absolute path");
        if (q && (strncmp(q, "?db=", 4) != 0 || !parse_int(q + 4, strlen(q + 4), 0, 1000000,
                                                            &u->dbnum)))
            return url_bad("the only query a unix URL takes is ?db=N");
        if (!(u->path = bill__strndup(p, n)))
            return BILL_ENOMEM;
        return BILL_OK;
    }
    if (strncmp(url, "redis://", 8) != 0)
        return url_bad("unknown scheme");
    const char *p = url + 8, *end = p + strlen(p);
    const char *slash = strchr(p, '/');
    const char *hp_end = slash ? slash : end;
    const char *at = NULL;
    for (const char *x = p; x < hp_end; x++)
        if (*x == '@')
            at = x;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon)
            return url_bad("credentials must be [user]:password@");
        if (colon > p && !(u->user = bill__strndup(p, (size_t)(colon - p))))
            return BILL_ENOMEM;
        if (!(u->password = bill__strndup(colon + 1, (size_t)(at - colon - 1))))
            return BILL_ENOMEM;
        p = at + 1;
    }
    const char *host_end, *port_at = NULL;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(hp_end - p));
        if (!rb || rb == p + 1)
            return url_bad("unterminated or empty [IPv6] host");
        if (!(u->host = bill__strndup(p + 1, (size_t)(rb - p - 1))))
            return BILL_ENOMEM;
        host_end = rb + 1;
        if (host_end < hp_end) {
            if (*host_end != ':')
                return url_bad("junk after ]");
            port_at = host_end + 1;
        }
    } else {
        const char *colon = memchr(p, ':', (size_t)(hp_end - p));
        host_end = colon ? colon : hp_end;
        if (host_end == p)
            return url_bad("no host");
        if (!(u->host = bill__strndup(p, (size_t)(host_end - p))))
            return BILL_ENOMEM;
        if (colon)
            port_at = colon + 1;
    }
    if (port_at && !parse_int(port_at, (size_t)(hp_end - port_at), 1, 65535, &u->port))
        return url_bad("port must be 1..65535");
    if (slash && slash[1] && !parse_int(slash + 1, strlen(slash + 1), 0, 1000000, &u->dbnum))
        return url_bad("the path must be a database number");
    return BILL_OK;
}

int bill_redis_url_check(const char *url)
{
    rurl u;
    int rc = url_parse(url, &u);
    rurl_clear(&u);
    return rc;
}

/* ---- connections ---------------------------------------------------------- */

void bill__rcmd_arg(bill__rcmd *cmd, const char *s)
{
    if (cmd->argc >= BILL__RCMD_MAX_ARGS)
        return;
    cmd->argv[cmd->argc] = s;
    cmd->len[cmd->argc] = strlen(s);
    cmd->argc++;
}

/* Run one command on a bare context (connect-time AUTH/SELECT/PING). */
static bool ctx_simple(redisContext *c, const bill__rcmd *cmd, char *err, size_t errsz)
{
    pipe_guard g;
    pipe_block(&g);
    redisReply *rep = redisCommandArgv(c, cmd->argc, (const char **)cmd->argv, cmd->len);
    pipe_unblock(&g);
    bool ok = rep && rep->type != REDIS_REPLY_ERROR;
    if (!ok)
        snprintf(err, errsz, "%s: %s", cmd->argv[0],
                 rep ? rep->str : (c->errstr[0] ? c->errstr : "no reply"));
    if (rep)
        freeReplyObject(rep);
    return ok;
}

static redisContext *ctx_open(bill_redis *r, char *err, size_t errsz)
{
    struct timeval tv = {.tv_sec = r->timeout_ms / 1000,
                         .tv_usec = (r->timeout_ms % 1000) * 1000};
    redisContext *c = r->u.path ? redisConnectUnixWithTimeout(r->u.path, tv)
                              : redisConnectWithTimeout(r->u.host, r->u.port, tv);
    if (!c) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    if (c->err) {
        snprintf(err, errsz, "%s", c->errstr);
        redisFree(c);
        return NULL;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        snprintf(err, errsz, "setting the timeout: %s", c->errstr);
        redisFree(c);
        return NULL;
    }
    char db[16];
    bill__rcmd auth = {0}, sel = {0};
    bill__rcmd_arg(&auth, "AUTH");
    if (r->u.user)
        bill__rcmd_arg(&auth, r->u.user);
    if (r->u.password)
        bill__rcmd_arg(&auth, r->u.password);
    snprintf(db, sizeof db, "%d", r->u.dbnum);
    bill__rcmd_arg(&sel, "SELECT");
    bill__rcmd_arg(&sel, db);
    if ((r->u.password && !ctx_simple(c, &auth, err, errsz)) ||
        (r->u.dbnum && !ctx_simple(c, &sel, err, errsz))) {
        redisFree(c);
        return NULL;
    }
    return c;
}

/* Close every idle connection. Mutex held; the contexts are freed by the
 * caller after unlocking (returned as a malloc'd array, *n of them). */
static rconn *take_idle_locked(bill_redis *r, int *n)
{
    rconn *v = r->idle;
    *n = r->n_idle;
    r->n_open -= r->n_idle;
    r->n_idle = 0;
    r->idle = calloc((size_t)r->max_conns, sizeof *r->idle);
    if (!r->idle) { /* keep the old array (empty now) rather than none */
        r->idle = v;
        for (int i = 0; i < *n; i++)
            redisFree(v[i].ctx);
        *n = 0;
        return NULL;
    }
    return v;
}

static void free_conns(rconn *v, int n)
{
    for (int i = 0; i < n; i++)
        redisFree(v[i].ctx);
    free(v);
}

/* A round trip started at `epoch` failed on the wire: go down (one WARN). */
static void mark_down(bill_redis *r, uint64_t epoch, const char *why)
{
    rconn *old = NULL;
    int n = 0;
    bool warn = false;
    pthread_mutex_lock(&r->mu);
    if (r->up && epoch == r->epoch) {
        r->up = false;
        r->epoch++;
        warn = true;
        old = take_idle_locked(r, &n);
        atomic_fetch_add(&r->downs, 1);
        pthread_cond_signal(&r->probe_cv);
    }
    pthread_mutex_unlock(&r->mu);
    free_conns(old, n);
    if (warn)
        BILL_LOG_WARN(MOD, "redis at %s unreachable (%s): falling back to PostgreSQL for "
                      "sessions, in-process rate limits and advisory locks until it answers",
                      r->where, why);
}

/* Reconnect thread: while down, connect + PING + bump the generation, with
 * backoff; then up (one INFO) and sleep until the next failure. */
static void *probe_main(void *arg)
{
    bill_redis *r = arg;
    int backoff = BACKOFF_MIN_MS;
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        if (r->up) {
            backoff = BACKOFF_MIN_MS;
            pthread_cond_wait(&r->probe_cv, &r->mu);
            continue;
        }
        pthread_mutex_unlock(&r->mu);
        char err[256] = "";
        redisContext *c = ctx_open(r, err, sizeof err);
        bill__rcmd ping = {0}, incr = {0};
        bill__rcmd_arg(&ping, "PING");
        bill__rcmd_arg(&incr, "INCR");
        bill__rcmd_arg(&incr, r->gen_key);
        if (c && (!ctx_simple(c, &ping, err, sizeof err) ||
                  !ctx_simple(c, &incr, err, sizeof err))) {
            redisFree(c);
            c = NULL;
        }
        pthread_mutex_lock(&r->mu);
        if (c && !r->stop) {
            r->up = true;
            if (r->n_idle < r->max_conns) {
                r->idle[r->n_idle++] = (rconn){c, r->epoch};
                r->n_open++;
                c = NULL;
            }
            atomic_fetch_add(&r->ups, 1);
            pthread_cond_broadcast(&r->cv);
            pthread_mutex_unlock(&r->mu);
            if (c)
                redisFree(c);
            BILL_LOG_INFO(MOD, "redis at %s reachable again: shared rate limits, session cache "
                          "and locks use it (cache generation bumped)", r->where);
            pthread_mutex_lock(&r->mu);
            continue;
        }
        if (c)
            redisFree(c);
        BILL_LOG_DEBUG(MOD, "redis at %s still unreachable: %s (next try in %d ms)", r->where,
                       err, backoff);
        struct timespec until;
        deadline_in(&until, backoff);
        while (!r->stop && !r->up &&
               pthread_cond_timedwait(&r->probe_cv, &r->mu, &until) != ETIMEDOUT)
            ;
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

void bill_redis_options_init(bill_redis_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->version = BILL_REDIS_OPTIONS_VERSION;
    o->url = "redis://127.0.0.1:6379";
    o->prefix = "rustbill";
    o->max_connections = 10;
    o->timeout_ms = 250;
}

bool bill__redis_prefix_ok(const char *p)
{
    size_t n = p ? strlen(p) : 0;
    return n >= 1 && n <= 64 && no_ctl(p, n);
}

int bill_redis_open(bill_redis **out, const bill_redis_options *o)
{
    bill_redis *r = NULL;
    rurl u;
    int rc;

    if (!out || !o)
        return bill__err(BILL_EINVALID, NULL, "bill_redis_open: out and options are required");
    *out = NULL;
    if ((rc = bill__check_version(o->version, BILL_REDIS_OPTIONS_VERSION, "bill_redis_options")) < 0)
        return rc;
    if (!bill__redis_prefix_ok(o->prefix))
        return bill__err(BILL_EINVALID, "redis.prefix",
                         "[redis] prefix must be 1..64 printable characters without spaces");
    if (o->max_connections < 0 || o->max_connections > 10000 || o->timeout_ms < 0 ||
        o->timeout_ms > 60000)
        return bill__err(BILL_EINVALID, "redis", "[redis] max_connections must be 1..10000 and "
                         "timeout_ms 1..60000");
    if ((rc = url_parse(o->url, &u)) < 0) {
        bill__err_prefix("[redis] url");
        rurl_clear(&u);
        return rc;
    }
    if (!(r = calloc(1, sizeof *r)))
        goto oom;
    r->u = u;
    memset(&u, 0, sizeof u);
    r->max_conns = o->max_connections ? o->max_connections : 10;
    r->timeout_ms = o->timeout_ms ? o->timeout_ms : 250;
    r->prefix = bill__strdup(o->prefix);
    r->where = r->u.path ? bill__sprintf("unix:%s", r->u.path)
                       : bill__sprintf(strchr(r->u.host, ':') ? "[%s]:%d" : "%s:%d", r->u.host,
                                       r->u.port);
    r->idle = calloc((size_t)r->max_conns, sizeof *r->idle);
    if (!r->prefix || !r->where || !r->idle)
        goto oom;
    snprintf(r->gen_key, sizeof r->gen_key, "%s:gen", r->prefix);
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_cond_init(&r->probe_cv, &ca);
    pthread_condattr_destroy(&ca);
    r->inited = true;

    /* One attempt now, so a reachable Redis is used from the first request. */
    char err[256] = "";
    redisContext *c = ctx_open(r, err, sizeof err);
    bill__rcmd ping = {0};
    bill__rcmd_arg(&ping, "PING");
    if (c && !ctx_simple(c, &ping, err, sizeof err)) {
        redisFree(c);
        c = NULL;
    }
    if (c) {
        r->up = true;
        r->idle[r->n_idle++] = (rconn){c, 0};
        r->n_open = 1;
        atomic_fetch_add(&r->ups, 1);
        BILL_LOG_INFO(MOD, "redis at %s: shared rate limits, session cache and locks use it "
                      "(key prefix \"%s:\")", r->where, r->prefix);
    } else {
        atomic_fetch_add(&r->downs, 1);
        BILL_LOG_WARN(MOD, "redis at %s unreachable (%s): falling back to PostgreSQL for "
                      "sessions, in-process rate limits and advisory locks until it answers",
                      r->where, err);
    }
    if (pthread_create(&r->thread, NULL, probe_main, r) != 0) {
        bill__redis_close(r);
        return bill__err(BILL_EINTERNAL, NULL, "cannot start the redis reconnect thread");
    }
    r->started = true;
    *out = r;
    return BILL_OK;
oom:
    rurl_clear(&u);
    bill__redis_close(r);
    return bill__err(BILL_ENOMEM, NULL, "out of memory opening redis");
}

int bill_redis_open_config(bill_redis **out, const bill_config *cfg)
{
    bill_redis_options o;
    if (!out || !cfg)
        return bill__err(BILL_EINVALID, NULL, "bill_redis_open_config: out and cfg are required");
    *out = NULL;
    if (!cfg->redis.enabled)
        return BILL_OK;
    bill_redis_options_init(&o);
    o.url = cfg->redis.url;
    o.prefix = cfg->redis.prefix;
    o.max_connections = cfg->redis.max_connections;
    o.timeout_ms = cfg->redis.timeout_ms;
    return bill_redis_open(out, &o);
}

void bill__redis_close(bill_redis *r)
{
    if (!r)
        return;
    if (r->started) {
        pthread_mutex_lock(&r->mu);
        r->stop = true;
        pthread_cond_broadcast(&r->probe_cv);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->thread, NULL);
    }
    if (r->inited) {
        for (int i = 0; i < r->n_idle; i++)
            redisFree(r->idle[i].ctx);
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cv);
        pthread_cond_destroy(&r->probe_cv);
    }
    free(r->idle);
    rurl_clear(&r->u);
    free(r->prefix);
    free(r->where);
    free(r);
}

void bill_redis_close(bill_redis *r)
{
    bill__redis_close(r);
}

bool bill_redis_up(const bill_redis *r)
{
    bool up;
    if (!r)
        return false;
    pthread_mutex_lock((pthread_mutex_t *)&r->mu);
    up = r->up;
    pthread_mutex_unlock((pthread_mutex_t *)&r->mu);
    return up;
}

void bill_redis_stats_get(const bill_redis *r, bill_redis_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!r)
        return;
    out->up = bill_redis_up(r);
    out->commands = atomic_load(&r->commands);
    out->errors = atomic_load(&r->errors);
    out->fallbacks = atomic_load(&r->fallbacks);
    out->downs = atomic_load(&r->downs);
    out->ups = atomic_load(&r->ups);
    out->session_hits = atomic_load(&r->s_hits);
    out->session_misses = atomic_load(&r->s_misses);
}

void bill__redis_fallback(bill_redis *r)
{
    if (r)
        atomic_fetch_add(&r->fallbacks, 1);
}

void bill__redis_session_count(bill_redis *r, bool hit)
{
    if (r)
        atomic_fetch_add(hit ? &r->s_hits : &r->s_misses, 1);
}

const char *bill__redis_key(const bill_redis *r, const char *part, char *buf, size_t size)
{
    snprintf(buf, size, "%s:%s", r->prefix, part);
    return buf;
}

const char *bill__redis_gen_key(const bill_redis *r)
{
    return r->gen_key;
}

/* Borrow a connection: BILL_OK, or BILL_EUNAVAILABLE (down / none free). */
static int conn_get(bill_redis *r, rconn *out)
{
    struct timespec until;
    bool waited = false;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        if (!r->up) {
            pthread_mutex_unlock(&r->mu);
            return BILL_EUNAVAILABLE;
        }
        if (r->n_idle > 0) {
            *out = r->idle[--r->n_idle];
            pthread_mutex_unlock(&r->mu);
            return BILL_OK;
        }
        if (r->n_open < r->max_conns) {
            uint64_t epoch = r->epoch;
            r->n_open++;
            pthread_mutex_unlock(&r->mu);
            char err[256];
            redisContext *c = ctx_open(r, err, sizeof err);
            if (!c) {
                pthread_mutex_lock(&r->mu);
                r->n_open--;
                pthread_cond_signal(&r->cv);
                pthread_mutex_unlock(&r->mu);
                atomic_fetch_add(&r->errors, 1);
                mark_down(r, epoch, err);
                return BILL_EUNAVAILABLE;
            }
            *out = (rconn){c, epoch};
            return BILL_OK;
        }
        if (!waited) {
            deadline_in(&until, r->timeout_ms);
            waited = true;
        }
        if (pthread_cond_timedwait(&r->cv, &r->mu, &until) == ETIMEDOUT) {
            pthread_mutex_unlock(&r->mu);
            return BILL_EUNAVAILABLE; /* busy, not down: this caller falls back */
        }
    }
}

static void conn_put(bill_redis *r, rconn c, bool broken)
{
    pthread_mutex_lock(&r->mu);
    if (!broken && c.epoch == r->epoch && r->up && r->n_idle < r->max_conns) {
        r->idle[r->n_idle++] = c;
        c.ctx = NULL;
    } else {
        r->n_open--;
    }
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (c.ctx)
        redisFree(c.ctx);
}

void bill__redis_replies_free(size_t n, redisReply **replies)
{
    for (size_t i = 0; i < n; i++) {
        if (replies[i])
            freeReplyObject(replies[i]);
        replies[i] = NULL;
    }
}

int bill__redis_run(bill_redis *r, size_t n, const bill__rcmd *cmds, redisReply **replies)
{
    rconn c;
    int rc;
    bool eio = false;
    for (size_t i = 0; i < n; i++)
        replies[i] = NULL;
    if (!r)
        return BILL_EUNAVAILABLE;
    if ((rc = conn_get(r, &c)) < 0)
        return rc;
    pipe_guard g;
    pipe_block(&g);
    for (size_t i = 0; i < n; i++)
        if (redisAppendCommandArgv(c.ctx, cmds[i].argc, (const char **)cmds[i].argv,
                                   cmds[i].len) != REDIS_OK)
            goto wire;
    for (size_t i = 0; i < n; i++) {
        void *rep = NULL;
        if (redisGetReply(c.ctx, &rep) != REDIS_OK || !rep)
            goto wire;
        replies[i] = rep;
        if (replies[i]->type == REDIS_REPLY_ERROR)
            eio = true;
    }
    pipe_unblock(&g);
    conn_put(r, c, false);
    if (eio) {
        atomic_fetch_add(&r->errors, 1);
        for (size_t i = 0; i < n; i++)
            if (replies[i] && replies[i]->type == REDIS_REPLY_ERROR)
                BILL_LOG_DEBUG(MOD, "redis error reply to %s: %s", cmds[i].argv[0],
                               replies[i]->str);
        return BILL_EIO;
    }
    atomic_fetch_add(&r->commands, 1);
    return BILL_OK;
wire: {
        char why[256];
        pipe_unblock(&g);
        snprintf(why, sizeof why, "%s", c.ctx->errstr[0] ? c.ctx->errstr : "connection lost");
        bill__redis_replies_free(n, replies);
        conn_put(r, c, true);
        atomic_fetch_add(&r->errors, 1);
        mark_down(r, c.epoch, why);
        return BILL_EUNAVAILABLE;
    }
}

void bill__redis_invalidate(bill_redis *r)
{
    bill__rcmd incr = {0};
    redisReply *rep;
    if (!r)
        return;
    bill__rcmd_arg(&incr, "INCR");
    bill__rcmd_arg(&incr, r->gen_key);
    /* Failing, Redis is down: the reconnect bumps the generation anyway. */
    if (bill__redis_run(r, 1, &incr, &rep) < 0)
        bill__redis_fallback(r);
    bill__redis_replies_free(1, &rep);
}

