/*
 * test_redis.c — the optional Redis handle (redis.h) against a real
 * redis-server started on a unix socket (redis_harness.h): URL checks,
 * rate limits shared by two handles (two "instances"), the single WARN
 * when Redis dies under several threads and the single INFO when it
 * returns, fallbacks that never fail a caller, distributed locks on Redis
 * and on PostgreSQL advisory locks, the key prefix.
 */
#include "pg_harness.h"
#include "redis_harness.h"

#include "bill/admin_user.h"
#include "bill/auth.h"
#include "bill/log.h"
#include "bill/ratelimit.h"
#include "bill/time.h"
#include "bill/redis.h"

#include "check_main.h"
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bill_test_redis srv;

/* ---- log capture ------------------------------------------------------- */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static int n_warn, n_info;

static void sink(const bill_log_record *rec, void *user)
{
    (void)user;
    if (strcmp(rec->module, "libbill::redis") != 0)
        return;
    pthread_mutex_lock(&log_mu);
    if (rec->level == BILL_LOG_LEVEL_WARN)
        n_warn++;
    else if (rec->level == BILL_LOG_LEVEL_INFO)
        n_info++;
    pthread_mutex_unlock(&log_mu);
}

static void counts(int *w, int *i)
{
    pthread_mutex_lock(&log_mu);
    *w = n_warn;
    *i = n_info;
    pthread_mutex_unlock(&log_mu);
}

static void setup(void)
{
    bill_log_set_filter("info");
    bill_log_set_sink(sink, NULL);
    n_warn = n_info = 0;
    ck_assert_int_eq(bill_test_redis_start(&srv), 0);
}

static void teardown(void)
{
    bill_test_redis_stop(&srv);
}

static bill_redis *open_on(const char *url, const char *prefix)
{
    bill_redis_options o;
    bill_redis *r = NULL;
    bill_redis_options_init(&o);
    o.url = url;
    o.prefix = prefix;
    o.max_connections = 4;
    o.timeout_ms = 500;
    ck_assert_msg(bill_redis_open(&r, &o) == BILL_OK, "open %s: %s", url,
                  bill_error_last()->message);
    return r;
}

/* Two handles of one fresh database (two servers), each with a Redis
 * handle on the test's server under `prefix`. */
static void two_handles(const char *prefix, bill_db **a, bill_db **b, char **url)
{
    bill_db_options o;
    *a = bill_test_db_new_url(url);
    bill_db_options_init(&o);
    o.url = *url;
    ck_assert_int_eq(bill_db_open(b, &o), BILL_OK);
    bill_db_set_redis(*a, open_on(srv.url, prefix));
    bill_db_set_redis(*b, open_on(srv.url, prefix));
}

static bool wait_up(bill_redis *r, bool want, int ms)
{
    for (int i = 0; i < ms / 20; i++) {
        if (bill_redis_up(r) == want)
            return true;
        usleep(20000);
    }
    return bill_redis_up(r) == want;
}

static long long redis_int(const char *fmt, const char *arg)
{
    redisContext *c = redisConnectUnix(srv.sock);
    ck_assert(c && !c->err);
    redisReply *rep = redisCommand(c, fmt, arg);
    ck_assert(rep);
    long long v = rep->type == REDIS_REPLY_INTEGER ? rep->integer
                : rep->type == REDIS_REPLY_ARRAY   ? (long long)rep->elements
                                                   : -1;
    freeReplyObject(rep);
    redisFree(c);
    return v;
}

START_TEST(urls)
{
    const char *good[] = {"redis://127.0.0.1:6379", "redis://localhost", "redis://h:1/3",
                          "redis://:secret@h:6380/0", "redis://user:pw@[::1]:6379/2",
                          "unix:///run/redis/redis.sock", "unix:///tmp/r.sock?db=1", NULL};
    const char *bad[] = {"", "http://h", "redis://", "redis://:6379", "redis://h:0",
                         "redis://h:65536", "redis://h:x", "redis://h/abc", "redis://[::1",
                         "redis://pw@h", "unix://rel/path", "unix:///s?x=1", "redis://h h",
                         NULL};
    for (int i = 0; good[i]; i++)
        ck_assert_msg(bill_redis_url_check(good[i]) == BILL_OK, "%s: %s", good[i],
                      bill_error_last()->message);
    for (int i = 0; bad[i]; i++) {
        ck_assert_msg(bill_redis_url_check(bad[i]) == BILL_EINVALID, "accepted %s", bad[i]);
        ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "(expected redis://"));
    }
    bill_redis_options o;
    bill_redis *r = NULL;
    bill_redis_options_init(&o);
    o.prefix = "has space";
    ck_assert_int_eq(bill_redis_open(&r, &o), BILL_EINVALID);
    ck_assert_ptr_null(r);
    o.prefix = "p";
    o.url = "redis://h:99999";
    ck_assert_int_eq(bill_redis_open(&r, &o), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->message,
                     "[redis] url: port must be 1..65535 (expected "
                     "redis://[[user]:password@]host[:port][/db] or unix:///path[?db=N])");
}
END_TEST

/* Two handles = two instances: a limit of 3 per second is 3 in total. */
START_TEST(shared_limit_counts_across_handles)
{
    bill_redis *ra = open_on(srv.url, "t1"), *rb = open_on(srv.url, "t1");
    bill_ratelimit *a = NULL, *b = NULL;
    ck_assert(bill_redis_up(ra) && bill_redis_up(rb));
    ck_assert_int_eq(bill_ratelimit_new(&a, 3, 0, 0), BILL_OK);
    ck_assert_int_eq(bill_ratelimit_new(&b, 3, 0, 0), BILL_OK);
    ck_assert_int_eq(bill_ratelimit_share(a, ra, "login"), BILL_OK);
    ck_assert_int_eq(bill_ratelimit_share(b, rb, "login"), BILL_OK);
    ck_assert_int_eq(bill_ratelimit_share(b, rb, "bad:name"), BILL_EINVALID);
    int64_t t = 1900000000LL * 1000000 + 100000; /* 0.1 s into a second */
    ck_assert(bill_ratelimit_allow_shared(a, "10.0.0.1", t, NULL));
    ck_assert(bill_ratelimit_allow_shared(b, "10.0.0.1", t + 1000, NULL));
    ck_assert(bill_ratelimit_allow_shared(a, "10.0.0.1", t + 2000, NULL));
    int64_t retry = 0;
    ck_assert(!bill_ratelimit_allow_shared(b, "10.0.0.1", t + 3000, &retry));
    ck_assert_int_ge(retry, 890);
    ck_assert_int_le(retry, 900);
    /* another client and the next second are other windows */
    ck_assert(bill_ratelimit_allow_shared(b, "10.0.0.2", t + 3000, NULL));
    ck_assert(bill_ratelimit_allow_shared(a, "10.0.0.1", t + 1000000, NULL));
    /* nothing was counted in-process while Redis answered */
    ck_assert_uint_eq(bill_ratelimit_size(a), 0);
    /* every key carries the prefix; a window expires by itself */
    ck_assert_int_eq(redis_int("KEYS %s", "t1:rl:login:*"), 3);
    ck_assert_int_eq(redis_int("KEYS %s", "rustbill:*"), 0);
    ck_assert_int_gt(redis_int("PTTL %s", "t1:rl:login:1900000000:10.0.0.1"), 0);
    bill_redis_stats st;
    bill_redis_stats_get(ra, &st);
    ck_assert(st.up);
    ck_assert_uint_eq(st.fallbacks, 0);
    ck_assert_uint_ge(st.commands, 3);
    bill_ratelimit_free(a);
    bill_ratelimit_free(b);
    bill_redis_close(ra);
    bill_redis_close(rb);
}
END_TEST

typedef struct hammer {
    bill_ratelimit *rl;
    bool stop;
    int calls, refused;
} hammer;

static void *hammer_main(void *arg)
{
    hammer *h = arg;
    int n = 0;
    while (!__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE)) {
        char ip[32];
        snprintf(ip, sizeof ip, "10.1.%d.%d", n / 250, n % 250);
        n++;
        int64_t now = bill_time_now();
        /* as the server does: this process's bucket, then the shared count */
        if (!bill_ratelimit_allow(h->rl, ip, now, NULL) ||
            !bill_ratelimit_allow_shared(h->rl, ip, now, NULL))
            __atomic_add_fetch(&h->refused, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&h->calls, 1, __ATOMIC_RELAXED);
        usleep(2000);
    }
    return NULL;
}

/* Redis killed under four threads: one WARN, every call still answered
 * (from the in-process buckets); back: one INFO, shared again. */
START_TEST(outage_one_warn_one_info)
{
    bill_redis *r = open_on(srv.url, "t2");
    bill_ratelimit *rl = NULL;
    int w, i, w0, i0;
    ck_assert_int_eq(bill_ratelimit_new(&rl, 1000, 0, 0), BILL_OK);
    ck_assert_int_eq(bill_ratelimit_share(rl, r, "login"), BILL_OK);
    counts(&w0, &i0);
    ck_assert_int_eq(w0, 0);
    ck_assert_int_eq(i0, 1); /* "redis at ...: ... use it" */

    hammer h = {.rl = rl};
    pthread_t th[4];
    for (int k = 0; k < 4; k++)
        pthread_create(&th[k], NULL, hammer_main, &h);
    usleep(200000);
    bill_test_redis_kill(&srv);
    ck_assert(wait_up(r, false, 2000));
    usleep(500000); /* the threads keep calling while it is down */
    counts(&w, &i);
    ck_assert_int_eq(w, 1);
    ck_assert_int_eq(i, i0);
    bill_redis_stats mid;
    bill_redis_stats_get(r, &mid);
    uint64_t cmds = mid.commands;
    usleep(100000);
    bill_redis_stats_get(r, &mid);
    ck_assert_uint_eq(mid.commands, cmds); /* down: nobody tries Redis */
    ck_assert_int_eq(bill_test_redis_restart(&srv), 0);
    ck_assert(wait_up(r, true, 5000));
    usleep(300000);
    __atomic_store_n(&h.stop, true, __ATOMIC_RELEASE);
    for (int k = 0; k < 4; k++)
        pthread_join(th[k], NULL);
    counts(&w, &i);
    ck_assert_int_eq(w, 1);
    ck_assert_int_eq(i, i0 + 1);
    ck_assert_int_eq(h.refused, 0);
    ck_assert_int_gt(h.calls, 100);
    /* the restarted Redis is empty: the reconnect bumped the generation */
    ck_assert_int_ge(redis_int("INCRBY %s 0", "t2:gen"), 1);
    /* shared again: the calls after the return reached Redis */
    ck_assert_int_gt(redis_int("KEYS %s", "t2:rl:login:*"), 0);
    bill_redis_stats st;
    bill_redis_stats_get(r, &st);
    ck_assert(st.up);
    ck_assert_uint_eq(st.downs, 1);
    ck_assert_uint_eq(st.ups, 2); /* at open, after the restart */
    ck_assert_uint_gt(st.fallbacks, 0);
    bill_ratelimit_free(rl);
    bill_redis_close(r);
}
END_TEST

/* A Redis that is not there at start: one WARN, fallbacks, then up. */
START_TEST(down_at_start_then_up)
{
    bill_test_redis_kill(&srv);
    bill_redis *r = open_on(srv.url, "t3");
    bill_ratelimit *rl = NULL;
    int w, i;
    ck_assert(!bill_redis_up(r));
    counts(&w, &i);
    ck_assert_int_eq(w, 1);
    ck_assert_int_eq(i, 0);
    ck_assert_int_eq(bill_ratelimit_new(&rl, 2, 0, 0), BILL_OK);
    ck_assert_int_eq(bill_ratelimit_share(rl, r, "register"), BILL_OK);
    int64_t t = 1900000000LL * 1000000;
    /* Redis down: the shared count lets everything through at once, the
     * in-process bucket alone decides: 2 then refused */
    for (int k = 0; k < 5; k++)
        ck_assert(bill_ratelimit_allow_shared(rl, "x", t, NULL));
    ck_assert(bill_ratelimit_allow(rl, "x", t, NULL));
    ck_assert(bill_ratelimit_allow(rl, "x", t, NULL));
    ck_assert(!bill_ratelimit_allow(rl, "x", t, NULL));
    usleep(1500000); /* backoff grows; still one WARN */
    counts(&w, &i);
    ck_assert_int_eq(w, 1);
    ck_assert_int_eq(bill_test_redis_restart(&srv), 0);
    ck_assert(wait_up(r, true, 5000));
    counts(&w, &i);
    ck_assert_int_eq(w, 1);
    ck_assert_int_eq(i, 1);
    /* Redis' own window: 2 then refused */
    ck_assert(bill_ratelimit_allow_shared(rl, "x", t, NULL));
    ck_assert(bill_ratelimit_allow_shared(rl, "x", t, NULL));
    ck_assert(!bill_ratelimit_allow_shared(rl, "x", t, NULL));
    bill_ratelimit_free(rl);
    bill_redis_close(r);
}
END_TEST

START_TEST(locks_redis_then_postgres)
{
    char *url = NULL;
    bill_db *da = NULL, *db2 = NULL;
    two_handles("t4", &da, &db2, &url);

    bill_dlock *l1 = NULL, *l2 = NULL;
    bool got = false;
    ck_assert_int_eq(bill_dlock_try(da, "Bad Name", 1000, &l1, &got), BILL_EINVALID);
    ck_assert_int_eq(bill_dlock_try(da, "billing.pass", 10000, &l1, &got), BILL_OK);
    ck_assert(got);
    ck_assert_str_eq(bill_dlock_backend(l1), "redis");
    ck_assert_int_gt(redis_int("PTTL %s", "t4:lock:billing.pass"), 9000);
    ck_assert_int_eq(bill_dlock_try(db2, "billing.pass", 10000, &l2, &got), BILL_OK);
    ck_assert(!got);
    ck_assert_ptr_null(l2);
    bill_dlock_release(l1);
    ck_assert_int_eq(redis_int("EXISTS %s", "t4:lock:billing.pass"), 0);
    ck_assert_int_eq(bill_dlock_try(db2, "billing.pass", 10000, &l2, &got), BILL_OK);
    ck_assert(got);
    /* a holder whose key expired and was taken by another does not delete
     * the other's: compare-and-delete */
    ck_assert_int_eq(redis_int("SET %s other-token", "t4:lock:billing.pass"), -1);
    bill_dlock_release(l2);
    ck_assert_int_eq(redis_int("EXISTS %s", "t4:lock:billing.pass"), 1);
    ck_assert_int_eq(redis_int("DEL %s", "t4:lock:billing.pass"), 1);

    /* Redis gone: PostgreSQL advisory locks, exclusive across handles */
    bill_test_redis_kill(&srv);
    l1 = l2 = NULL;
    ck_assert_int_eq(bill_dlock_try(da, "billing.pass", 10000, &l1, &got), BILL_OK);
    ck_assert(got);
    ck_assert_str_eq(bill_dlock_backend(l1), "postgres");
    ck_assert_int_eq(bill_dlock_try(db2, "billing.pass", 10000, &l2, &got), BILL_OK);
    ck_assert(!got);
    ck_assert_int_eq(bill_dlock_try(db2, "other", 10000, &l2, &got), BILL_OK);
    ck_assert(got);
    bill_dlock_release(l2);
    bill_dlock_release(l1);
    ck_assert_int_eq(bill_dlock_try(db2, "billing.pass", 10000, &l2, &got), BILL_OK);
    ck_assert(got);
    bill_dlock_release(l2);
    bill_redis_stats st;
    bill_redis_stats_get(bill_db_redis(da), &st);
    ck_assert_uint_ge(st.fallbacks, 1);

    /* no Redis at all: the same on PostgreSQL */
    bill_db_set_redis(da, NULL);
    ck_assert_ptr_null(bill_db_redis(da));
    ck_assert_int_eq(bill_dlock_try(da, "x", 1000, &l1, &got), BILL_OK);
    ck_assert(got);
    ck_assert_str_eq(bill_dlock_backend(l1), "postgres");
    bill_dlock_release(l1);
    bill_db_close(db2);
    bill_db_close(da);
    free(url);
}
END_TEST

/* The admin session cache: two handles (two servers) on one database and
 * one Redis; a hit skips the database, a sign-out on one is refused at
 * once by the other, as are a disabled admin and a password change; the
 * minute after the last database read goes to the database again; with
 * Redis down every resolve is the database's. */
START_TEST(session_cache_revocation_everywhere)
{
#define T0 (1800000000LL * 1000000LL)
#define MINUTE (60LL * 1000000LL)
    char *url = NULL;
    bill_db *a = NULL, *b = NULL;
    two_handles("t5", &a, &b, &url);
    ck_assert_int_eq(bill_test_pg_exec(url,
        "INSERT INTO admin_users (id, username, password_hash, role) VALUES "
        "('aaaaaaaa-0000-4000-8000-000000000001', 'root', 'x', 'admin'),"
        "('aaaaaaaa-0000-4000-8000-000000000002', 'ops', 'x', 'operator')"), 0);
    const char *root = "aaaaaaaa-0000-4000-8000-000000000001";
    const char *ops = "aaaaaaaa-0000-4000-8000-000000000002";
    char *t1 = NULL, *t2 = NULL;
    bill_session_info si;
    bill_redis_stats st;
    ck_assert_int_eq(bill_session_create(a, root, NULL, NULL, 2, T0, &t1), BILL_OK);
    ck_assert_int_eq(bill_session_create(a, ops, NULL, NULL, 2, T0, &t2), BILL_OK);

    /* miss on B (fills), hit on B and on A: same answer */
    ck_assert_int_eq(bill_session_resolve(b, t1, T0 + 1000, 30, 2, &si), BILL_OK);
    ck_assert_str_eq(si.username, "root");
    ck_assert_int_eq(bill_session_resolve(b, t1, T0 + 2000, 30, 2, &si), BILL_OK);
    ck_assert_int_eq(bill_session_resolve(a, t1, T0 + 3000, 30, 2, &si), BILL_OK);
    ck_assert_str_eq(si.username, "root");
    ck_assert_str_eq(si.role, "admin");
    ck_assert_int_eq(si.created_at_us, T0);
    bill_redis_stats_get(bill_db_redis(b), &st);
    ck_assert_uint_eq(st.session_misses, 1);
    ck_assert_uint_eq(st.session_hits, 1);
    bill_redis_stats_get(bill_db_redis(a), &st);
    ck_assert_uint_eq(st.session_hits, 1);
    /* the hit really skipped the database: a change behind libbill's back
     * is not seen within the minute ... */
    ck_assert_int_eq(bill_test_pg_exec(url, "UPDATE admin_users SET display_name = 'Root' "
                                            "WHERE username = 'root'"), 0);
    ck_assert_int_eq(bill_session_resolve(a, t1, T0 + 4000, 30, 2, &si), BILL_OK);
    ck_assert_str_eq(si.display_name, "");
    /* ... and is after it: the database bumps last_seen_at and refills */
    ck_assert_int_eq(bill_session_resolve(a, t1, T0 + MINUTE, 30, 2, &si), BILL_OK);
    ck_assert_str_eq(si.display_name, "Root");
    ck_assert_int_eq(si.last_seen_at_us, T0 + MINUTE);
    ck_assert_int_eq(bill_session_resolve(b, t1, T0 + MINUTE + 1, 30, 2, &si), BILL_OK);
    ck_assert_str_eq(si.display_name, "Root");
    /* the timeouts hold on a hit: idle 1 minute */
    ck_assert_int_eq(bill_session_resolve(b, t1, T0 + 2 * MINUTE, 1, 2, &si), BILL_EUNAUTH);

    /* sign-out on A: B refuses at once (its entry was a hit a moment ago) */
    ck_assert_int_eq(bill_session_resolve(b, t1, T0 + MINUTE + 2, 30, 2, &si), BILL_OK);
    ck_assert_int_eq(bill_session_revoke(a, t1, T0 + MINUTE + 3), BILL_OK);
    ck_assert_int_eq(bill_session_resolve(b, t1, T0 + MINUTE + 4, 30, 2, &si), BILL_EUNAUTH);
    ck_assert_str_eq(bill_error_last()->message, "session was signed out");

    /* disabled on A: refused on B at once */
    bill_actor cli = {.kind = BILL_ACTOR_CLI, .username = "cli:test"};
    ck_assert_int_eq(bill_session_resolve(b, t2, T0 + 10, 30, 2, &si), BILL_OK);
    ck_assert_int_eq(bill_session_resolve(b, t2, T0 + 11, 30, 2, &si), BILL_OK);
    ck_assert_int_eq(bill_admin_user_set_active(a, &cli, "ops", false), BILL_OK);
    ck_assert_int_eq(bill_session_resolve(b, t2, T0 + 12, 30, 2, &si), BILL_EUNAUTH);
    ck_assert_str_eq(bill_error_last()->message, "admin user is disabled");
    ck_assert_int_eq(bill_admin_user_set_active(a, &cli, "ops", true), BILL_OK);
    ck_assert_int_eq(bill_session_resolve(b, t2, T0 + 13, 30, 2, &si), BILL_OK);
    /* every session of a user revoked on A (a password change does this) */
    ck_assert_int_eq(bill_session_resolve(b, t2, T0 + 14, 30, 2, &si), BILL_OK);
    ck_assert_int_eq(bill_session_revoke_user(a, ops, NULL, T0 + 15), BILL_OK);
    ck_assert_int_eq(bill_session_resolve(b, t2, T0 + 16, 30, 2, &si), BILL_EUNAUTH);

    /* Redis gone: the database answers every resolve; nothing fails */
    char *t3 = NULL;
    ck_assert_int_eq(bill_session_create(a, root, NULL, NULL, 2, T0, &t3), BILL_OK);
    ck_assert_int_eq(bill_session_resolve(b, t3, T0 + 20, 30, 2, &si), BILL_OK);
    bill_test_redis_kill(&srv);
    ck_assert_int_eq(bill_session_resolve(b, t3, T0 + 21, 30, 2, &si), BILL_OK); /* falls back */
    ck_assert_int_eq(bill_session_resolve(b, t3, T0 + 22, 30, 2, &si), BILL_OK);
    ck_assert_int_eq(bill_session_revoke(a, t3, T0 + 23), BILL_OK); /* cannot reach Redis */
    ck_assert_int_eq(bill_session_resolve(b, t3, T0 + 24, 30, 2, &si), BILL_EUNAUTH);
    bill_redis_stats_get(bill_db_redis(b), &st);
    ck_assert(!st.up);
    ck_assert_uint_ge(st.fallbacks, 1);
    free(t1);
    free(t2);
    free(t3);
    bill_db_close(b);
    bill_db_close(a);
    free(url);
}
END_TEST

BILL_TEST_MAIN("redis", 60, setup, teardown, urls, shared_limit_counts_across_handles,
               outage_one_warn_one_info, down_at_start_then_up, locks_redis_then_postgres,
               session_cache_revocation_everywhere);
