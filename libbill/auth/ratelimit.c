/*
 * ratelimit.c — token buckets and failed-login lockout (include/bill/ratelimit.h).
 *
 * Both share one small keyed table: chained hashing with SipHash
 * (crypto_shorthash) under a random per-table key, so a client choosing keys
 * (its IP is fixed, but usernames are free text) cannot force collisions.
 * One mutex per table: the work under it is a hash lookup and a few integer
 * operations, far cheaper than the request it guards.
 *
 * Tokens are counted in milli-tokens with integer arithmetic so a bucket
 * refills smoothly without floating point.
 */
#include "internal.h"
#include "bill/ratelimit.h"
#include "cluster/redis_int.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

typedef struct rl_entry {
    struct rl_entry *next;
    int64_t last_us;  /* last time this key was touched (LRU fallback) */
    int64_t a;        /* bucket: milli-tokens;  guard: failures */
    int64_t b;        /* bucket: unused;        guard: window start (us) */
    int64_t c;        /* bucket: unused;        guard: locked until (us) */
    char key[];
} rl_entry;

typedef struct rl_table {
    pthread_mutex_t mu;
    rl_entry **slots;
    size_t nslots;   /* power of two */
    size_t count;
    size_t max_keys;
    unsigned char hkey[crypto_shorthash_KEYBYTES];
} rl_table;

/* Decides whether an entry no longer carries information at `now`. */
typedef bool (*rl_idle_fn)(const void *owner, const rl_entry *e, int64_t now_us);

static int table_init(rl_table *t, size_t max_keys)
{
    if (sodium_init() < 0)
        return bill__err(BILL_EINTERNAL, NULL, "libsodium failed to initialise");
    t->max_keys = max_keys ? max_keys : 10000;
    t->nslots = 64;
    while (t->nslots < t->max_keys && t->nslots < ((size_t)1 << 24))
        t->nslots <<= 1;
    t->slots = calloc(t->nslots, sizeof *t->slots);
    if (!t->slots)
        return bill__err(BILL_ENOMEM, NULL, "out of memory allocating rate-limit table");
    t->count = 0;
    randombytes_buf(t->hkey, sizeof t->hkey);
    pthread_mutex_init(&t->mu, NULL);
    return BILL_OK;
}

static void table_destroy(rl_table *t)
{
    if (!t->slots)
        return;
    for (size_t i = 0; i < t->nslots; i++) {
        rl_entry *e = t->slots[i];
        while (e) {
            rl_entry *n = e->next;
            free(e);
            e = n;
        }
    }
    free(t->slots);
    t->slots = NULL;
    pthread_mutex_destroy(&t->mu);
}

static size_t table_slot(const rl_table *t, const char *key)
{
    unsigned char h[crypto_shorthash_BYTES];
    uint64_t v;
    crypto_shorthash(h, (const unsigned char *)key, strlen(key), t->hkey);
    memcpy(&v, h, sizeof v);
    return (size_t)(v & (t->nslots - 1));
}

/* Drop idle entries; if none was idle, drop the least recently used one.
 * Called with the mutex held and only when the table is full. */
static void table_evict(rl_table *t, rl_idle_fn idle, const void *owner, int64_t now_us)
{
    rl_entry **oldest = NULL;
    size_t freed = 0;
    for (size_t i = 0; i < t->nslots; i++) {
        rl_entry **pp = &t->slots[i];
        while (*pp) {
            rl_entry *e = *pp;
            if (idle(owner, e, now_us)) {
                *pp = e->next;
                free(e);
                t->count--;
                freed++;
                continue;
            }
            if (!oldest || e->last_us < (*oldest)->last_us)
                oldest = pp;
            pp = &e->next;
        }
    }
    if (freed == 0 && oldest) {
        rl_entry *e = *oldest;
        *oldest = e->next;
        free(e);
        t->count--;
    }
}

/* Find `key`, or create it with `fresh` values. NULL only on out of memory. */
static rl_entry *table_get(rl_table *t, const char *key, int64_t now_us, rl_idle_fn idle,
                           const void *owner, bool create, const rl_entry *fresh)
{
    size_t s = table_slot(t, key);
    for (rl_entry *e = t->slots[s]; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e;
    if (!create)
        return NULL;
    if (t->count >= t->max_keys)
        table_evict(t, idle, owner, now_us);
    size_t klen = strlen(key);
    rl_entry *e = malloc(sizeof *e + klen + 1);
    if (!e)
        return NULL;
    *e = *fresh;
    memcpy(e->key, key, klen + 1);
    e->next = t->slots[s];
    t->slots[s] = e;
    t->count++;
    return e;
}

static void table_remove(rl_table *t, const char *key)
{
    rl_entry **pp = &t->slots[table_slot(t, key)];
    while (*pp) {
        if (strcmp((*pp)->key, key) == 0) {
            rl_entry *e = *pp;
            *pp = e->next;
            free(e);
            t->count--;
            return;
        }
        pp = &(*pp)->next;
    }
}

/* ---- token buckets ------------------------------------------------------ */

struct bill_ratelimit {
    rl_table t;
    int64_t rate;       /* tokens per second */
    int64_t cap_milli;  /* burst * 1000 */
    bill_redis *redis;  /* shared counting (bill_ratelimit_share), not owned */
    char name[33];
};

/* Milli-tokens in the bucket at `now` (without storing). */
static int64_t bucket_level(const bill_ratelimit *rl, const rl_entry *e, int64_t now_us)
{
    int64_t elapsed = now_us - e->last_us;
    if (elapsed <= 0)
        return e->a;
    /* rate tokens per 1e6 us == rate*1000 milli per 1e6 us; cap the elapsed
     * time first so the product cannot overflow. */
    if (elapsed > 3600LL * 1000000LL)
        return rl->cap_milli;
    int64_t level = e->a + elapsed * rl->rate / 1000;
    return level > rl->cap_milli ? rl->cap_milli : level;
}

static bool bucket_idle(const void *owner, const rl_entry *e, int64_t now_us)
{
    const bill_ratelimit *rl = owner;
    return bucket_level(rl, e, now_us) >= rl->cap_milli;
}

int bill_ratelimit_new(bill_ratelimit **out, uint32_t rate_per_sec, uint32_t burst,
                       size_t max_keys)
{
    int rc;
    bill_ratelimit *rl = NULL;
    if (!out)
        return bill__err(BILL_EINVALID, "out", "out must not be NULL");
    if (rate_per_sec == 0)
        return bill__err(BILL_EINVALID, "rate_per_sec", "rate_per_sec must be at least 1 (got 0)");
    rl = calloc(1, sizeof *rl);
    if (!rl)
        return bill__err(BILL_ENOMEM, NULL, "out of memory allocating rate limiter");
    if ((rc = table_init(&rl->t, max_keys)) < 0) {
        free(rl);
        rl = NULL;
        goto done;
    }
    rl->rate = rate_per_sec;
    rl->cap_milli = (int64_t)(burst ? burst : rate_per_sec) * 1000;
    *out = rl;
done:
    return rc;
}

void bill_ratelimit_free(bill_ratelimit *rl)
{
    if (!rl)
        return;
    table_destroy(&rl->t);
    free(rl);
}

bool bill_ratelimit_allow(bill_ratelimit *rl, const char *key, int64_t now_us,
                          int64_t *retry_after_ms)
{
    bool ok;
    if (!rl)
        return true;
    if (!key)
        key = "";
    pthread_mutex_lock(&rl->t.mu);
    rl_entry fresh = {.last_us = now_us, .a = rl->cap_milli};
    rl_entry *e = table_get(&rl->t, key, now_us, bucket_idle, rl, true, &fresh);
    if (!e) {
        /* Out of memory: fail open; refusing every client would be worse. */
        pthread_mutex_unlock(&rl->t.mu);
        return true;
    }
    int64_t level = bucket_level(rl, e, now_us);
    if (now_us > e->last_us)
        e->last_us = now_us;
    if (level >= 1000) {
        e->a = level - 1000;
        ok = true;
    } else {
        e->a = level;
        ok = false;
        if (retry_after_ms) {
            /* time for (1000 - level) milli-tokens at rate*1000 per second */
            int64_t ms = ((1000 - level) * 1000 + rl->rate * 1000 - 1) / (rl->rate * 1000);
            *retry_after_ms = ms < 1 ? 1 : ms;
        }
    }
    pthread_mutex_unlock(&rl->t.mu);
    return ok;
}

/* ---- shared across instances (Redis) ---------------------------------------
 *
 * A fixed window per second: INCR <prefix>:rl:<name>:<second>:<key> and
 * PEXPIRE it (2 s, so a window outlives its second however clocks of the
 * instances differ a little) in one round trip; allowed while the count is
 * at most the burst. Every instance on one Redis counts into the same key.
 * It comes on top of the process's own bucket (bill_ratelimit_allow, which
 * the caller checks first), so while Redis does not answer that bucket
 * alone decides. */

int bill_ratelimit_share(bill_ratelimit *rl, bill_redis *r, const char *name)
{
    if (!rl || !name || !*name || strlen(name) >= sizeof rl->name || strchr(name, ':'))
        return bill__err(BILL_EINVALID, "name",
                         "a shared rate limit needs a name of 1..32 characters without ':'");
    snprintf(rl->name, sizeof rl->name, "%s", name);
    rl->redis = r;
    return BILL_OK;
}

bool bill_ratelimit_shared(const bill_ratelimit *rl)
{
    return rl && rl->redis;
}

bool bill_ratelimit_allow_shared(bill_ratelimit *rl, const char *key, int64_t now_us,
                                 int64_t *retry_after_ms)
{
    char part[96], rkey[192];
    bill__rcmd cmd[2] = {{0}, {0}};
    redisReply *rep[2] = {NULL, NULL};
    bool ok;

    if (!rl || !rl->redis || !bill_redis_up(rl->redis))
        return true;
    if (!key)
        key = "";
    snprintf(part, sizeof part, "rl:%s:%lld:", rl->name, (long long)(now_us / 1000000));
    bill__redis_key(rl->redis, part, rkey, sizeof rkey);
    bill__rcmd_arg(&cmd[0], "INCR");
    bill__rcmd_arg(&cmd[1], "PEXPIRE");
    /* the client's part of the key goes as its own binary-safe piece */
    char *full = bill__sprintf("%s%s", rkey, key);
    if (!full)
        return true; /* out of memory: fail open, as the buckets do */
    bill__rcmd_arg(&cmd[0], full);
    bill__rcmd_arg(&cmd[1], full);
    bill__rcmd_arg(&cmd[1], "2000");
    if (bill__redis_run(rl->redis, 2, cmd, rep) < 0 || rep[0]->type != REDIS_REPLY_INTEGER) {
        bill__redis_replies_free(2, rep);
        free(full);
        bill__redis_fallback(rl->redis);
        return true; /* the process's bucket already decided */
    }
    ok = rep[0]->integer <= rl->cap_milli / 1000;
    bill__redis_replies_free(2, rep);
    free(full);
    if (!ok && retry_after_ms) {
        int64_t ms = 1000 - (now_us / 1000) % 1000;
        *retry_after_ms = ms < 1 ? 1 : ms;
    }
    return ok;
}

size_t bill_ratelimit_size(bill_ratelimit *rl)
{
    size_t n;
    if (!rl)
        return 0;
    pthread_mutex_lock(&rl->t.mu);
    n = rl->t.count;
    pthread_mutex_unlock(&rl->t.mu);
    return n;
}

/* ---- failed-login lockout ------------------------------------------------ */

struct bill_loginguard {
    rl_table t;
    bill_loginguard_options o;
};

void bill_loginguard_options_init(bill_loginguard_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->version = BILL_LOGINGUARD_OPTIONS_VERSION;
    o->max_failures = 5;
    o->window_secs = 900;
    o->base_delay_secs = 30;
    o->max_delay_secs = 900;
    o->max_keys = 10000;
    o->max_failures_per_user = 100;
}

static bool guard_idle(const void *owner, const rl_entry *e, int64_t now_us)
{
    const bill_loginguard *g = owner;
    return now_us >= e->c && now_us - e->b >= (int64_t)g->o.window_secs * 1000000;
}

int bill_loginguard_new(bill_loginguard **out, const bill_loginguard_options *opts)
{
    int rc;
    bill_loginguard *g = NULL;
    if (!out)
        return bill__err(BILL_EINVALID, "out", "out must not be NULL");
    if (opts && opts->version != 1 && opts->version != BILL_LOGINGUARD_OPTIONS_VERSION)
        return bill__err(BILL_EINVALID, "version", "unknown bill_loginguard_options version %u",
                         opts->version);
    g = calloc(1, sizeof *g);
    if (!g)
        return bill__err(BILL_ENOMEM, NULL, "out of memory allocating login guard");
    bill_loginguard_options_init(&g->o);
    if (opts && opts->version == 1) {
        /* A version-1 caller knows nothing past max_keys: keep their defaults. */
        g->o.max_failures = opts->max_failures;
        g->o.window_secs = opts->window_secs;
        g->o.base_delay_secs = opts->base_delay_secs;
        g->o.max_delay_secs = opts->max_delay_secs;
        g->o.max_keys = opts->max_keys;
    } else if (opts) {
        g->o = *opts;
    }
    if (g->o.max_failures_per_user == 0)
        g->o.max_failures_per_user = 100;
    if (g->o.max_failures == 0)
        g->o.max_failures = 5;
    if (g->o.window_secs == 0)
        g->o.window_secs = 900;
    if (g->o.base_delay_secs == 0)
        g->o.base_delay_secs = 30;
    if (g->o.max_delay_secs < g->o.base_delay_secs)
        g->o.max_delay_secs = g->o.base_delay_secs;
    if ((rc = table_init(&g->t, g->o.max_keys)) < 0) {
        free(g);
        goto done;
    }
    *out = g;
done:
    return rc;
}

void bill_loginguard_free(bill_loginguard *g)
{
    if (!g)
        return;
    table_destroy(&g->t);
    free(g);
}

/* Seconds `key` stays locked at `now`, 0 when it is not. Mutex held. */
static int locked_secs_locked(bill_loginguard *g, const char *key, int64_t now_us)
{
    rl_entry *e = table_get(&g->t, key, now_us, guard_idle, g, false, NULL);
    if (e && now_us < e->c)
        return (int)((e->c - now_us + 999999) / 1000000);
    return 0;
}

/* One more failure of `key`, locked once `max` are reached. Mutex held. */
static void fail_locked(bill_loginguard *g, const char *key, uint32_t max, int64_t now_us)
{
    rl_entry fresh = {.last_us = now_us, .a = 0, .b = now_us, .c = 0};
    rl_entry *e = table_get(&g->t, key, now_us, guard_idle, g, true, &fresh);
    if (!e)
        return;
    int64_t window = (int64_t)g->o.window_secs * 1000000;
    /* A new window starts when the old one is over and no lock is pending. */
    if (now_us - e->b >= window && now_us >= e->c) {
        e->a = 0;
        e->b = now_us;
    }
    e->a++;
    e->last_us = now_us;
    if (e->a >= max) {
        int64_t over = e->a - max;
        int64_t delay = g->o.base_delay_secs;
        while (over-- > 0 && delay < g->o.max_delay_secs)
            delay *= 2;
        if (delay > g->o.max_delay_secs)
            delay = g->o.max_delay_secs;
        e->c = now_us + delay * 1000000;
        /* Keep the window open while locked so the count keeps growing. */
        e->b = now_us;
    }
}

int bill_loginguard_check(bill_loginguard *g, const char *key, int64_t now_us,
                          int *retry_after_secs)
{
    int rc = BILL_OK, secs;
    if (!g)
        return BILL_OK;
    pthread_mutex_lock(&g->t.mu);
    secs = locked_secs_locked(g, key ? key : "", now_us);
    pthread_mutex_unlock(&g->t.mu);
    if (secs > 0) {
        if (retry_after_secs)
            *retry_after_secs = secs;
        rc = bill__err(BILL_ELIMIT, "username",
                       "too many failed logins for this user; try again in %d s", secs);
    }
    return rc;
}

void bill_loginguard_fail(bill_loginguard *g, const char *key, int64_t now_us)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->t.mu);
    fail_locked(g, key ? key : "", g->o.max_failures, now_us);
    pthread_mutex_unlock(&g->t.mu);
}

void bill_loginguard_success(bill_loginguard *g, const char *key)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->t.mu);
    table_remove(&g->t, key ? key : "");
    pthread_mutex_unlock(&g->t.mu);
}

/* ---- by username and client address ---------------------------------------
 *
 * Two keys per attempt in the same table: "p\x1f<user>\x1f<address>" for the
 * pair and "u\x1f<user>" for the username (0x1f cannot occur in a username
 * the domain accepts, and an address never contains it, so the two key
 * spaces cannot collide with each other or with the plain keys above). */

static char *pair_key(const char *user, const char *addr)
{
    return bill__sprintf("p\x1f%s\x1f%s", user ? user : "", addr && *addr ? addr : "?");
}

static char *user_key(const char *user)
{
    return bill__sprintf("u\x1f%s", user ? user : "");
}

int bill_loginguard_check_from(bill_loginguard *g, const char *username, const char *address,
                               int64_t now_us, int *retry_after_secs)
{
    int rc = BILL_OK, ps = 0, us = 0;
    char *pk, *uk;
    if (!g)
        return BILL_OK;
    pk = pair_key(username, address);
    uk = user_key(username);
    if (!pk || !uk) {
        free(pk);
        free(uk);
        return BILL_OK; /* out of memory: fail open, as the buckets do */
    }
    pthread_mutex_lock(&g->t.mu);
    ps = locked_secs_locked(g, pk, now_us);
    us = locked_secs_locked(g, uk, now_us);
    pthread_mutex_unlock(&g->t.mu);
    free(pk);
    free(uk);
    if (ps > 0 || us > 0) {
        int secs = ps > us ? ps : us;
        if (retry_after_secs)
            *retry_after_secs = secs;
        rc = us > 0 ? bill__err(BILL_ELIMIT, "username",
                                "too many failed logins for this user from many addresses; try "
                                "again in %d s", secs)
                    : bill__err(BILL_ELIMIT, "username",
                                "too many failed logins for this user from this address; try "
                                "again in %d s", secs);
    }
    return rc;
}

void bill_loginguard_fail_from(bill_loginguard *g, const char *username, const char *address,
                               int64_t now_us)
{
    char *pk, *uk;
    if (!g)
        return;
    pk = pair_key(username, address);
    uk = user_key(username);
    pthread_mutex_lock(&g->t.mu);
    if (pk)
        fail_locked(g, pk, g->o.max_failures, now_us);
    if (uk)
        fail_locked(g, uk, g->o.max_failures_per_user, now_us);
    pthread_mutex_unlock(&g->t.mu);
    free(pk);
    free(uk);
}

void bill_loginguard_success_from(bill_loginguard *g, const char *username, const char *address)
{
    char *pk, *uk;
    if (!g)
        return;
    pk = pair_key(username, address);
    uk = user_key(username);
    pthread_mutex_lock(&g->t.mu);
    if (pk)
        table_remove(&g->t, pk);
    if (uk)
        table_remove(&g->t, uk);
    pthread_mutex_unlock(&g->t.mu);
    free(pk);
    free(uk);
}
