/*
 * redis.h — optional Redis for state shared by several bill-servers
 * ([redis] in config.toml; hiredis).
 *
 * PostgreSQL stays the source of truth. Redis only carries what is cheaper
 * or must be shared across instances:
 *
 *   - rate limits shared by every instance (bill_ratelimit_share,
 *     ratelimit.h): fixed one-second windows counted with INCR + PEXPIRE;
 *   - the admin session cache (cache-aside in front of admin_sessions,
 *     bill_session_resolve): an entry is valid only for the cache
 *     generation it was read under, and every revocation (sign-out,
 *     password change, user disabled / deleted / role changed) bumps the
 *     generation after its commit, so every instance refuses the session at
 *     once;
 *   - distributed locks (bill_dlock_try below): SET NX PX with a random
 *     token, released by compare-and-delete.
 *
 * Degrading: when Redis stops answering (connection refused or lost, a
 * timeout) the handle logs exactly one WARN, and every user falls back at
 * once — rate limits to the in-process buckets, sessions to PostgreSQL,
 * locks to PostgreSQL advisory locks — without waiting for Redis: while it
 * is down no call tries it. A background thread reconnects with backoff
 * (100 ms doubling to 2 s); when Redis answers again it bumps the cache
 * generation (whatever was cached before may be stale: revocations made
 * meanwhile could not reach Redis) and logs exactly one INFO. No request
 * fails because Redis went away.
 *
 * Thread safety: one handle is shared by every thread of a process; it
 * keeps up to max_connections connections (each used by one thread at a
 * time; a caller finding all busy waits up to timeout_ms, then falls
 * back).
 */
#ifndef BILL_REDIS_H
#define BILL_REDIS_H

#include "common.h"
#include "db.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bill_redis bill_redis;
struct bill_config;

#define BILL_REDIS_OPTIONS_VERSION 1
typedef struct bill_redis_options {
    unsigned int version;  /* BILL_REDIS_OPTIONS_VERSION */
    /* "redis://[[user]:password@]host[:port][/db]" (host may be "[v6]",
     * port 6379, db 0) or "unix:///path/to/redis.sock[?db=N]" */
    const char *url;
    const char *prefix;    /* every key starts "<prefix>:" ("rustbill") */
    int max_connections;   /* 0: 10 */
    int timeout_ms;        /* connect and command timeout; 0: 250 */
    /* fields above exist since version 1 */
} bill_redis_options;

BILL_API void bill_redis_options_init(bill_redis_options *o);

/* Parse the URL and connect once. An unreachable server is no error: the
 * handle starts down (one WARN) and keeps trying in the background.
 * BILL_EINVALID for a malformed URL, prefix or limits. */
BILL_API int bill_redis_open(bill_redis **out, const bill_redis_options *o);

/* From [redis] of a configuration: *out NULL when enabled = false. */
BILL_API int bill_redis_open_config(bill_redis **out, const struct bill_config *cfg);

BILL_API void bill_redis_close(bill_redis *r);

/* True while Redis answers (a memory read). NULL: false. */
BILL_API bool bill_redis_up(const bill_redis *r);

typedef struct bill_redis_stats {
    bool up;
    uint64_t commands;      /* round trips that got their replies */
    uint64_t errors;        /* round trips that failed (connection, timeout, error reply) */
    uint64_t fallbacks;     /* times a user fell back (rate limit, session, lock) */
    uint64_t downs;         /* transitions up -> down (each logged once at WARN) */
    uint64_t ups;           /* transitions down -> up (each logged once at INFO) */
    uint64_t session_hits;  /* admin sessions answered from the cache */
    uint64_t session_misses;
} bill_redis_stats;
BILL_API void bill_redis_stats_get(const bill_redis *r, bill_redis_stats *out);

/* The database handle uses `r` (may be NULL: none) for its session cache
 * and locks, and owns it from now on: bill_db_close closes it. */
BILL_API void bill_db_set_redis(bill_db *db, bill_redis *r);
BILL_API bill_redis *bill_db_redis(bill_db *db);

/* Parse a Redis URL as bill_redis_open does (bill-cli config check, fuzz
 * target). BILL_OK or BILL_EINVALID with the reason. */
BILL_API int bill_redis_url_check(const char *url);

/* ---- distributed locks ---------------------------------------------------
 *
 * Mutual exclusion between processes of one database for work whose
 * correctness never depends on the lock (it saves duplicate work, e.g. two
 * billing passes at a role hand-over). With Redis up: SET <prefix>:lock:<name>
 * <random token> NX PX ttl_ms, released only by its holder (compare-and-
 * delete); a holder that dies loses it after ttl_ms. Redis down (or no
 * Redis): pg_try_advisory_lock on a connection kept until the release. */
typedef struct bill_dlock bill_dlock;

/* *got true and *out set when taken; *got false when another holds it.
 * name: 1..64 characters of [a-z0-9_.-]. BILL_EUNAVAILABLE when neither
 * Redis nor PostgreSQL answers. */
BILL_API int bill_dlock_try(bill_db *db, const char *name, int ttl_ms, bill_dlock **out,
                            bool *got);
/* Release and free (NULL is fine). "redis" or "postgres": where it is held. */
BILL_API const char *bill_dlock_backend(const bill_dlock *l);
BILL_API void bill_dlock_release(bill_dlock *l);

#ifdef __cplusplus
}
#endif

#endif
