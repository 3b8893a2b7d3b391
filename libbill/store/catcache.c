/*
 * catcache.c — the public catalog's answer cache (include/bill/catcache.h).
 *
 * One mutex guards a chained hash table (fixed bucket array) whose entries
 * also form an LRU list; an entry is one allocation: header, key, value.
 * `gen` is the generation answers are kept under: it moves whenever
 * everything is dropped — the poller saw another catalog_version, or this
 * process's own catalog writes moved the handle's epoch (pool.c,
 * bill__catalog_changed), which every tag/get/put looks at first. A put
 * whose tag is not the current generation keeps nothing, so an answer read
 * from the database across a change never outlives it.
 */
#include "store/store.h"
#include "bill/catcache.h"
#include "bill/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MOD "libbill::catcache"
#define NBUCKETS 4096
#define ENTRY_OVERHEAD 64

typedef struct entry {
    struct entry *chain;            /* same bucket */
    struct entry *lru_prev, *lru_next; /* prev = more recently used */
    uint64_t hash;
    size_t klen, vlen;
    unsigned char data[];           /* key then value */
} entry;

struct bill_catcache {
    bill_db *db;
    size_t max_bytes;
    int poll_ms;

    pthread_mutex_t mu;
    pthread_cond_t cv;      /* the poller's sleep; signalled to stop */
    pthread_t poller;
    bool stop;

    entry *buckets[NBUCKETS];
    entry *lru_head, *lru_tail; /* head = most recently used */
    size_t entries, bytes;
    uint64_t gen;
    uint64_t seen_epoch;
    int64_t version;        /* 0: unknown, nothing is kept */
    uint64_t hits, misses, invalidations, evictions;
};

void bill_catcache_options_init(bill_catcache_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->version = BILL_CATCACHE_OPTIONS_VERSION;
    o->max_bytes = 16u << 20;
    o->poll_ms = 250;
}

int bill_catalog_version(bill_db *db, int64_t *out)
{
    bill_conn *c = NULL;
    PGresult *r = NULL;
    int rc;
    if (!db || !out)
        return bill__err(BILL_EINVALID, NULL, "bill_catalog_version: db and out are required");
    if ((rc = bill__conn_acquire(db, &c)) < 0)
        return rc;
    if ((rc = bill__q(c, &r, "SELECT version FROM catalog_version", 0, NULL)) == BILL_OK) {
        if (PQntuples(r) != 1)
            rc = bill__err(BILL_EDB, NULL, "catalog_version has %d rows (want 1)", PQntuples(r));
        else
            *out = strtoll(bill__val(r, 0, 0), NULL, 10);
    }
    PQclear(r);
    bill__conn_release(c);
    return rc;
}

static uint64_t hash_key(const void *key, size_t n)
{
    const unsigned char *p = key;
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static size_t entry_cost(const entry *e)
{
    return ENTRY_OVERHEAD + e->klen + e->vlen;
}

static void lru_unlink(bill_catcache *cc, entry *e)
{
    if (e->lru_prev)
        e->lru_prev->lru_next = e->lru_next;
    else
        cc->lru_head = e->lru_next;
    if (e->lru_next)
        e->lru_next->lru_prev = e->lru_prev;
    else
        cc->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void lru_push_front(bill_catcache *cc, entry *e)
{
    e->lru_prev = NULL;
    e->lru_next = cc->lru_head;
    if (cc->lru_head)
        cc->lru_head->lru_prev = e;
    cc->lru_head = e;
    if (!cc->lru_tail)
        cc->lru_tail = e;
}

/* Unlink e from its bucket and the LRU list, and free it. */
static void entry_drop(bill_catcache *cc, entry *e)
{
    entry **pp = &cc->buckets[e->hash % NBUCKETS];
    while (*pp && *pp != e)
        pp = &(*pp)->chain;
    if (*pp)
        *pp = e->chain;
    lru_unlink(cc, e);
    cc->entries--;
    cc->bytes -= entry_cost(e);
    free(e);
}

/* Under the lock: drop every answer and move to a new generation. */
static void flush_locked(bill_catcache *cc)
{
    entry *e = cc->lru_head;
    while (e) {
        entry *n = e->lru_next;
        free(e);
        e = n;
    }
    memset(cc->buckets, 0, sizeof cc->buckets);
    cc->lru_head = cc->lru_tail = NULL;
    cc->entries = cc->bytes = 0;
    cc->gen++;
    cc->invalidations++;
}

/* Under the lock: this process's own catalog writes since the last look. */
static void sync_epoch_locked(bill_catcache *cc)
{
    uint64_t e = bill__catalog_epoch(cc->db);
    if (e != cc->seen_epoch) {
        cc->seen_epoch = e;
        flush_locked(cc);
    }
}

static entry *find_locked(bill_catcache *cc, uint64_t h, const void *key, size_t klen)
{
    for (entry *e = cc->buckets[h % NBUCKETS]; e; e = e->chain)
        if (e->hash == h && e->klen == klen && memcmp(e->data, key, klen) == 0)
            return e;
    return NULL;
}

uint64_t bill_catcache_tag(bill_catcache *cc)
{
    uint64_t tag;
    if (!cc)
        return 0;
    pthread_mutex_lock(&cc->mu);
    sync_epoch_locked(cc);
    tag = cc->version > 0 && cc->max_bytes > 0 ? cc->gen : 0;
    pthread_mutex_unlock(&cc->mu);
    return tag;
}

bool bill_catcache_get(bill_catcache *cc, const void *key, size_t klen, void **val, size_t *vlen)
{
    bool hit = false;
    if (!cc || !key || !val || !vlen)
        return false;
    *val = NULL;
    *vlen = 0;
    uint64_t h = hash_key(key, klen);
    pthread_mutex_lock(&cc->mu);
    sync_epoch_locked(cc);
    entry *e = cc->version > 0 ? find_locked(cc, h, key, klen) : NULL;
    if (e) {
        void *copy = malloc(e->vlen ? e->vlen : 1);
        if (copy) {
            memcpy(copy, e->data + e->klen, e->vlen);
            *val = copy;
            *vlen = e->vlen;
            hit = true;
            lru_unlink(cc, e);
            lru_push_front(cc, e);
        }
    }
    if (hit)
        cc->hits++;
    else
        cc->misses++;
    pthread_mutex_unlock(&cc->mu);
    return hit;
}

int bill_catcache_put(bill_catcache *cc, uint64_t tag, const void *key, size_t klen,
                      const void *val, size_t vlen)
{
    if (!cc || !key || (!val && vlen) || tag == 0)
        return BILL_OK;
    if (ENTRY_OVERHEAD + klen + vlen > cc->max_bytes / 4)
        return BILL_OK; /* one answer may not take over the cache */
    entry *n = malloc(sizeof *n + klen + vlen);
    if (!n)
        return bill__err(BILL_ENOMEM, NULL, "out of memory caching a catalog answer");
    memset(n, 0, sizeof *n);
    n->hash = hash_key(key, klen);
    n->klen = klen;
    n->vlen = vlen;
    memcpy(n->data, key, klen);
    if (vlen)
        memcpy(n->data + klen, val, vlen);

    pthread_mutex_lock(&cc->mu);
    sync_epoch_locked(cc);
    if (tag != cc->gen || cc->version <= 0) {
        pthread_mutex_unlock(&cc->mu);
        free(n);
        return BILL_OK;
    }
    entry *old = find_locked(cc, n->hash, key, klen);
    if (old)
        entry_drop(cc, old);
    while (cc->lru_tail && cc->bytes + entry_cost(n) > cc->max_bytes) {
        entry_drop(cc, cc->lru_tail);
        cc->evictions++;
    }
    entry **b = &cc->buckets[n->hash % NBUCKETS];
    n->chain = *b;
    *b = n;
    lru_push_front(cc, n);
    cc->entries++;
    cc->bytes += entry_cost(n);
    pthread_mutex_unlock(&cc->mu);
    return BILL_OK;
}

void bill_catcache_stats_get(bill_catcache *cc, bill_catcache_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!cc)
        return;
    pthread_mutex_lock(&cc->mu);
    out->hits = cc->hits;
    out->misses = cc->misses;
    out->invalidations = cc->invalidations;
    out->evictions = cc->evictions;
    out->entries = cc->entries;
    out->bytes = cc->bytes;
    out->max_bytes = cc->max_bytes;
    out->catalog_version = cc->version;
    pthread_mutex_unlock(&cc->mu);
}

/* Read the version (no lock held) and act on what it says. */
static void poll_once(bill_catcache *cc)
{
    int64_t v = 0;
    int rc = bill_catalog_version(cc->db, &v);
    pthread_mutex_lock(&cc->mu);
    if (rc < 0) {
        if (cc->version != 0) {
            /* Unknown from now on: answers come from the database (and
             * fail there) until the version can be read again. */
            BILL_LOG_WARN(MOD, "catalog version unreadable, cache off until it is: %s",
                          bill_error_last()->message);
            cc->version = 0;
            flush_locked(cc);
        }
    } else if (v != cc->version) {
        cc->version = v;
        flush_locked(cc);
    }
    pthread_mutex_unlock(&cc->mu);
}

static void *poller_main(void *arg)
{
    bill_catcache *cc = arg;
    pthread_mutex_lock(&cc->mu);
    while (!cc->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += (long)cc->poll_ms * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        while (!cc->stop && pthread_cond_timedwait(&cc->cv, &cc->mu, &ts) != ETIMEDOUT)
            ;
        if (cc->stop)
            break;
        pthread_mutex_unlock(&cc->mu);
        poll_once(cc);
        pthread_mutex_lock(&cc->mu);
    }
    pthread_mutex_unlock(&cc->mu);
    return NULL;
}

int bill_catcache_new(bill_catcache **out, bill_db *db, const bill_catcache_options *o)
{
    int rc;
    bill_catcache *cc = NULL;
    bill_catcache_options d;
    pthread_condattr_t ca;
    int64_t v = 0;

    if (!out || !db)
        return bill__err(BILL_EINVALID, NULL, "bill_catcache_new: out and db are required");
    *out = NULL;
    if (!o) {
        bill_catcache_options_init(&d);
        o = &d;
    }
    if ((rc = bill__check_version(o->version, BILL_CATCACHE_OPTIONS_VERSION,
                                  "bill_catcache_options")) < 0)
        return rc;
    if (o->poll_ms < 10 || o->poll_ms > 1000)
        return bill__err(BILL_EINVALID, "cache.catalog_poll_ms",
                         "cache.catalog_poll_ms = %d; it must be between 10 and 1000 (other "
                         "servers must see a catalog change within a second)",
                         o->poll_ms);
    if ((rc = bill_catalog_version(db, &v)) < 0)
        return rc;
    if (!(cc = calloc(1, sizeof *cc)))
        return bill__err(BILL_ENOMEM, NULL, "out of memory creating the catalog cache");
    cc->db = db;
    cc->max_bytes = o->max_bytes;
    cc->poll_ms = o->poll_ms;
    cc->version = v;
    cc->gen = 1;
    cc->seen_epoch = bill__catalog_epoch(db);
    pthread_mutex_init(&cc->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cc->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&cc->poller, NULL, poller_main, cc) != 0) {
        pthread_cond_destroy(&cc->cv);
        pthread_mutex_destroy(&cc->mu);
        free(cc);
        return bill__err(BILL_EINTERNAL, NULL, "cannot start the catalog cache's poller thread");
    }
    *out = cc;
    return BILL_OK;
}

void bill_catcache_free(bill_catcache *cc)
{
    if (!cc)
        return;
    pthread_mutex_lock(&cc->mu);
    cc->stop = true;
    pthread_cond_signal(&cc->cv);
    pthread_mutex_unlock(&cc->mu);
    pthread_join(cc->poller, NULL);
    flush_locked(cc);
    pthread_cond_destroy(&cc->cv);
    pthread_mutex_destroy(&cc->mu);
    free(cc);
}
