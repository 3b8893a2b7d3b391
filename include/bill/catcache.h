/*
 * catcache.h — the public catalog's answer cache.
 *
 * What the anonymous catalog shows (products, their prices, groups,
 * categories, enabled gateways) changes rarely and is read on every page a
 * visitor opens. A bill_catcache keeps answers (opaque bytes: bill-server
 * stores packed response messages) under a caller's key while the catalog
 * stays the same:
 *   - the catalog version (table catalog_version, migration 015) moves
 *     forward in the transaction of every write to the catalog's tables —
 *     triggers, so bill-cli, another server, a plugin or plain SQL all bump
 *     it; the cache polls it every poll_ms from a thread of its own and
 *     drops every answer when it changed (other servers see a write within
 *     poll_ms plus one query);
 *   - a catalog write through libbill on this handle (bill_product_*,
 *     bill_plugin_interface_*, the upstream import) also drops everything
 *     at once after its commit, so a writer reads its own write;
 *   - while the version cannot be read (database down) nothing is kept, so
 *     callers answer from the database as without a cache;
 *   - memory is bounded by max_bytes (keys + values + ~64 bytes per entry);
 *     the least recently used answers go first.
 * Only answers that are the same for every anonymous caller belong here.
 * Thread-safe.
 */
#ifndef BILL_CATCACHE_H
#define BILL_CATCACHE_H

#include "common.h"
#include "db.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bill_catcache bill_catcache;

#define BILL_CATCACHE_OPTIONS_VERSION 1

typedef struct bill_catcache_options {
    unsigned int version;   /* BILL_CATCACHE_OPTIONS_VERSION */
    size_t max_bytes;       /* 16 MiB; 0 = keep nothing (every get misses) */
    int poll_ms;            /* 250: how often the catalog version is read (10..1000) */
} bill_catcache_options;

typedef struct bill_catcache_stats {
    uint64_t hits, misses;
    uint64_t invalidations;  /* times everything was dropped (catalog changed) */
    uint64_t evictions;      /* answers dropped for the memory bound */
    size_t entries, bytes, max_bytes;
    int64_t catalog_version; /* last read; 0 = not known (database unreachable) */
} bill_catcache_stats;

BILL_API void bill_catcache_options_init(bill_catcache_options *o);
/* Create the cache for the catalog of `db` (which must outlive it) and start
 * its poller; reads the version once (fails with the database's error if it
 * cannot: BILL_EUNAVAILABLE, or BILL_EDB before migration 015). */
BILL_API int bill_catcache_new(bill_catcache **out, bill_db *db, const bill_catcache_options *o);
/* Stop the poller and free every answer. NULL-safe. */
BILL_API void bill_catcache_free(bill_catcache *cc);

/* The cache's current generation, to pass to bill_catcache_put: take it
 * BEFORE reading the answer from the database, so an answer read while the
 * catalog changed is not kept. 0 = nothing may be kept now. */
BILL_API uint64_t bill_catcache_tag(bill_catcache *cc);
/* On a hit, *val is a malloc'd copy (free()) of *vlen bytes and true is
 * returned; counts a hit or a miss. */
BILL_API bool bill_catcache_get(bill_catcache *cc, const void *key, size_t klen, void **val,
                                size_t *vlen);
/* Keep val under key if `tag` is still the generation (else nothing
 * happens) and it fits the bound. BILL_OK (also when not kept) or
 * BILL_ENOMEM. */
BILL_API int bill_catcache_put(bill_catcache *cc, uint64_t tag, const void *key, size_t klen,
                               const void *val, size_t vlen);
BILL_API void bill_catcache_stats_get(bill_catcache *cc, bill_catcache_stats *out);

/* The catalog version as stored (migration 015). */
BILL_API int bill_catalog_version(bill_db *db, int64_t *out);

#ifdef __cplusplus
}
#endif
#endif
