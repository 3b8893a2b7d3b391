/*
 * ratelimit.h — in-process request throttling ([rate_limit] in config.toml).
 *
 * Two small, thread-safe, memory-bounded tables keyed by arbitrary strings:
 *
 *   bill_ratelimit   token buckets: `rate` tokens per second, burst = `burst`
 *                    (the server uses burst = rate). bill-server keys them by
 *                    "<client ip>|<method class>" (e.g. "10.0.0.1|login").
 *   bill_loginguard  lockout with growing backoff after repeated failed logins
 *                    for one username (see bill_loginguard_new for the policy).
 *
 * Memory stays bounded: each table holds at most `max_keys` entries. Entries that
 * carry no information any more (a bucket refilled to full, a guard entry whose
 * failures left the window and whose lock ran out) are evicted first; if the
 * table is still full, the entry seen least recently is dropped (it only loses a
 * partly used bucket, never blocks a new client).
 *
 * Time comes from the caller (`now_us`, microseconds since the epoch, e.g.
 * bill_time_now()) so tests can move it. Counters are per process; shared
 * through Redis (bill_ratelimit_share) every instance also counts into one
 * window per second, and the process's own bucket is the fallback.
 */
#ifndef BILL_RATELIMIT_H
#define BILL_RATELIMIT_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bill_ratelimit bill_ratelimit;

/* rate_per_sec >= 1; burst 0 means burst = rate_per_sec; max_keys 0 means 10000.
 * BILL_EINVALID on rate 0. */
BILL_API int bill_ratelimit_new(bill_ratelimit **out, uint32_t rate_per_sec, uint32_t burst,
                                size_t max_keys);
BILL_API void bill_ratelimit_free(bill_ratelimit *rl);

/* Take one token from `key`'s bucket. Returns true when allowed; false when the
 * bucket is empty, then *retry_after_ms (may be NULL) receives how long until the
 * next token (>= 1). A NULL key counts as "". */
BILL_API bool bill_ratelimit_allow(bill_ratelimit *rl, const char *key, int64_t now_us,
                                   int64_t *retry_after_ms);

/* Count in Redis too, shared by every process using the same Redis and
 * `name` (e.g. "login"): fixed one-second windows, allowed while the
 * window's count is at most `burst`. `r` (not owned, may be NULL: stop
 * sharing) must outlive the limiter. BILL_EINVALID for a name that is
 * empty, longer than 32 or contains ':'. */
struct bill_redis;
BILL_API int bill_ratelimit_share(bill_ratelimit *rl, struct bill_redis *r, const char *name);
/* True once shared (whether Redis is up or not). */
BILL_API bool bill_ratelimit_shared(const bill_ratelimit *rl);
/* The count across processes, checked after bill_ratelimit_allow (this
 * process's bucket, which stays the limit of one process and is the
 * fallback): true when the window still has room, or when the limiter is
 * not shared or Redis is down or does not answer (redis.h). One round
 * trip, so call it from a thread that may block (up to [redis] timeout_ms);
 * while Redis is down it returns at once. */
BILL_API bool bill_ratelimit_allow_shared(bill_ratelimit *rl, const char *key, int64_t now_us,
                                          int64_t *retry_after_ms);

/* Number of keys currently tracked (for tests and /metrics). */
BILL_API size_t bill_ratelimit_size(bill_ratelimit *rl);

/* ---- failed-login lockout ------------------------------------------------
 *
 * Policy: failures of one key (lower-cased username) are counted inside a
 * sliding window of `window_secs` (default 900 = 15 min), measured from the
 * first failure. Once `max_failures` (default 5) are reached, the key is locked
 * for base_delay_secs (default 30) * 2^(failures - max_failures), capped at
 * max_delay_secs (default 900). Each further failure after the lock ends
 * doubles the delay. A successful login clears the key.
 *
 * Logins use the *_from functions, which key by username AND client address
 * (five wrong passwords from a stranger must not lock the owner
 * out): the (username, address) pair follows the policy above with
 * `max_failures`, and the username alone — every address together — with the
 * much higher `max_failures_per_user` (default 100), which only a guesser
 * spread over many addresses reaches. So an attacker hammering a name from
 * one address locks only that address out of that name; the owner, from
 * another address, still logs in. A successful login clears its pair and
 * the username's count.
 */
typedef struct bill_loginguard bill_loginguard;

#define BILL_LOGINGUARD_OPTIONS_VERSION 2
typedef struct bill_loginguard_options {
    unsigned int version;   /* BILL_LOGINGUARD_OPTIONS_VERSION (1 is accepted) */
    uint32_t max_failures;  /* 5: per key, or per (username, address) */
    uint32_t window_secs;   /* 900 */
    uint32_t base_delay_secs; /* 30 */
    uint32_t max_delay_secs;  /* 900 */
    size_t max_keys;        /* 10000 */
    /* fields above exist since version 1 */
    uint32_t max_failures_per_user; /* 100: per username over all addresses */
    /* fields above exist since version 2 */
} bill_loginguard_options;

BILL_API void bill_loginguard_options_init(bill_loginguard_options *o);
/* opts NULL -> defaults. */
BILL_API int bill_loginguard_new(bill_loginguard **out, const bill_loginguard_options *opts);
BILL_API void bill_loginguard_free(bill_loginguard *g);

/* BILL_OK when `key` may try to log in now; BILL_ELIMIT while it is locked, with
 * *retry_after_secs (may be NULL) set and a message naming the wait. */
BILL_API int bill_loginguard_check(bill_loginguard *g, const char *key, int64_t now_us,
                                   int *retry_after_secs);
/* Record a failed attempt (wrong password, unknown or disabled user). */
BILL_API void bill_loginguard_fail(bill_loginguard *g, const char *key, int64_t now_us);
/* Record a successful login: forgets the key. */
BILL_API void bill_loginguard_success(bill_loginguard *g, const char *key);

/* The same by username (already lower-cased by the caller, e.g.
 * "admin:root") and client address (NULL/"" counts as one unknown address).
 * check: BILL_ELIMIT while the pair or the username is locked, the message
 * saying which. fail: counts the pair and the username. success: clears the
 * pair and the username's count. */
BILL_API int bill_loginguard_check_from(bill_loginguard *g, const char *username,
                                        const char *address, int64_t now_us,
                                        int *retry_after_secs);
BILL_API void bill_loginguard_fail_from(bill_loginguard *g, const char *username,
                                        const char *address, int64_t now_us);
BILL_API void bill_loginguard_success_from(bill_loginguard *g, const char *username,
                                           const char *address);

#ifdef __cplusplus
}
#endif
#endif
