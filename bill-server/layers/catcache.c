/*
 * catcache.c — the catalog-cache layer: anonymous public-catalog calls
 * answered from memory (issue 13). Methods flagged BILL_SRV_CATALOG_CACHE
 * (ListProducts, GetProduct, ListProductGroups, ListProductCategories,
 * ListGateways) give every anonymous caller the same answer while the
 * catalog version stays the same; libbill's bill_catcache keeps those
 * answers and drops them when the version moves (any writer, seen within
 * [cache] catalog_poll_ms) or when this process wrote the catalog (at once).
 *
 * answer (loop thread, after the admit layers): a call without credentials
 * (no authorization, x-api-key or session cookie) whose key — the method
 * path and the request message's bytes — is cached is answered right there,
 * without a worker or the database. Otherwise the cache's tag (taken before
 * the handler reads the database) rides with the job, and keep (worker)
 * stores the handler's OK answer to an anonymous caller. Errors are never
 * kept. [cache] catalog_max_bytes = 0: no state, the layer does nothing.
 */
#include "layers.h"

#include <stdlib.h>
#include <string.h>

static int cc_init(bill_srv *s, void **state)
{
    bill_catcache_options o;
    bill_catcache *cc = NULL;
    int rc;
    *state = NULL;
    if (!s->db)
        return BILL_OK;
    bill_catcache_options_init(&o);
    if (s->cfg) {
        o.max_bytes = (size_t)s->cfg->cache.catalog_max_bytes;
        o.poll_ms = s->cfg->cache.catalog_poll_ms;
    }
    if (o.max_bytes == 0)
        return BILL_OK;
    if ((rc = bill_catcache_new(&cc, s->db, &o)) < 0)
        return rc;
    *state = cc;
    return BILL_OK;
}

static void cc_fini(void *state)
{
    bill_catcache_free(state);
}

/* No credential of any auth layer: the call will run as anonymous. */
static bool no_credentials(const bill_srv *s, const srv_req *req)
{
    const char *name = s->cfg->session.cookie_name; /* config.c's default, never empty */
    for (size_t i = 0; i < req->hdrs.n; i++) {
        const char *n = req->hdrs.v[i].name;
        if (!strcmp(n, "authorization") || !strcmp(n, "x-api-key"))
            return false;
        if (!strcmp(n, "cookie")) {
            size_t vl = 0;
            if (srv_cookie_find(req->hdrs.v[i].value, name, &vl))
                return false;
        }
    }
    return true;
}

/* key = path NUL message (the request frame without its 5-byte header) */
static char *make_key(const char *path, const srv_req *req, size_t *klen)
{
    size_t pl = strlen(path), ml = req->body.len - 5;
    char *k = malloc(pl + 1 + ml + 1);
    if (!k)
        return NULL;
    memcpy(k, path, pl + 1);
    memcpy(k + pl + 1, req->body.p + 5, ml);
    *klen = pl + 1 + ml;
    return k;
}

static bool cc_answer(bill_srv *s, void *state, const bill_srv_method *m, const srv_req *req,
                      void **msg, size_t *len, uint64_t *keep)
{
    bill_catcache *cc = state;
    if (!cc || !(m->flags & BILL_SRV_CATALOG_CACHE) || !no_credentials(s, req))
        return false;
    /* the tag first: an answer read after it is from this catalog or newer */
    uint64_t tag = bill_catcache_tag(cc);
    size_t klen = 0;
    char *key = make_key(m->path, req, &klen);
    bool hit = key && bill_catcache_get(cc, key, klen, msg, len);
    free(key);
    if (!hit)
        *keep = tag;
    return hit;
}

static void cc_keep(void *state, const bill_srv_method *m, const srv_req *req,
                    const bill_actor *actor, bool auth_error, uint64_t keep, const void *packed,
                    size_t plen)
{
    bill_catcache *cc = state;
    if (!cc || auth_error || actor->kind != BILL_ACTOR_ANONYMOUS)
        return;
    size_t klen = 0;
    char *key = make_key(m->path, req, &klen);
    if (key)
        (void)bill_catcache_put(cc, keep, key, klen, packed, plen);
    free(key);
}

static void cc_metrics(void *state, srv_buf *o)
{
    bill_catcache_stats cs;
    if (!state)
        return;
    bill_catcache_stats_get(state, &cs);
    srv_buf_printf(o,
        "# HELP bill_catalog_cache_hits_total Anonymous catalog calls answered from memory.\n"
        "# TYPE bill_catalog_cache_hits_total counter\nbill_catalog_cache_hits_total %llu\n"
        "# HELP bill_catalog_cache_misses_total Anonymous catalog calls that read the database.\n"
        "# TYPE bill_catalog_cache_misses_total counter\nbill_catalog_cache_misses_total %llu\n"
        "# HELP bill_catalog_cache_invalidations_total Times every answer was dropped (catalog changed).\n"
        "# TYPE bill_catalog_cache_invalidations_total counter\n"
        "bill_catalog_cache_invalidations_total %llu\n"
        "# HELP bill_catalog_cache_evictions_total Answers dropped for [cache] catalog_max_bytes.\n"
        "# TYPE bill_catalog_cache_evictions_total counter\n"
        "bill_catalog_cache_evictions_total %llu\n"
        "# HELP bill_catalog_cache_entries Answers held.\n"
        "# TYPE bill_catalog_cache_entries gauge\nbill_catalog_cache_entries %zu\n"
        "# HELP bill_catalog_cache_bytes Memory the answers take (bound: bill_catalog_cache_max_bytes).\n"
        "# TYPE bill_catalog_cache_bytes gauge\nbill_catalog_cache_bytes %zu\n"
        "# TYPE bill_catalog_cache_max_bytes gauge\nbill_catalog_cache_max_bytes %zu\n"
        "# HELP bill_catalog_version The catalog version last read (0: unknown).\n"
        "# TYPE bill_catalog_version gauge\nbill_catalog_version %lld\n",
        (unsigned long long)cs.hits, (unsigned long long)cs.misses,
        (unsigned long long)cs.invalidations, (unsigned long long)cs.evictions, cs.entries,
        cs.bytes, cs.max_bytes, (long long)cs.catalog_version);
}

const bill_srv_layer bill_srv_layer_catcache = {
    .name = "catcache", .init = cc_init, .fini = cc_fini, .answer = cc_answer,
    .keep = cc_keep, .metrics = cc_metrics};
