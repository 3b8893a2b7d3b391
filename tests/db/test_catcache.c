/*
 * test_catcache.c — bill_catcache (issue 13) against a real PostgreSQL:
 * answers kept under a generation, dropped at once by this handle's own
 * catalog write, dropped within the poll by another handle's (another
 * server, bill-cli) or a plain SQL write (the catalog_version triggers),
 * the memory bound, and a write that changes nothing in the catalog.
 */
#include "db_fixture.h"

#include "check_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const bill_actor cli = {.kind = BILL_ACTOR_CLI};

static bill_catcache *new_cache(bill_db *db, size_t max_bytes, int poll_ms)
{
    bill_catcache_options o;
    bill_catcache *cc = NULL;
    bill_catcache_options_init(&o);
    o.max_bytes = max_bytes;
    o.poll_ms = poll_ms;
    ck_assert_int_eq(bill_catcache_new(&cc, db, &o), BILL_OK);
    return cc;
}

static bool has(bill_catcache *cc, const char *key, const char *want)
{
    void *v = NULL;
    size_t n = 0;
    if (!bill_catcache_get(cc, key, strlen(key), &v, &n))
        return false;
    bool same = want && n == strlen(want) && memcmp(v, want, n) == 0;
    free(v);
    ck_assert_msg(same, "cached value of %s differs", key);
    return true;
}

static void put(bill_catcache *cc, uint64_t tag, const char *key, const char *val)
{
    ck_assert_int_eq(bill_catcache_put(cc, tag, key, strlen(key), val, strlen(val)), BILL_OK);
}

/* Wait (polling, bounded) until `key` is no longer cached: the poller saw
 * another writer. Returns the seconds it took. */
static double wait_dropped(bill_catcache *cc, const char *key, const char *val)
{
    for (int i = 0; i < 300; i++) {
        if (!has(cc, key, val))
            return i * 0.01;
        usleep(10 * 1000);
    }
    ck_abort_msg("%s still cached after 3 s", key);
    return 3;
}

START_TEST(test_catcache__own_write_drops_at_once)
{
    bill_db *db = bill_test_db_new();
    bill_catcache *cc = new_cache(db, 1 << 20, 1000);
    bill_catcache_stats st;
    bill_product_category *c = NULL;

    uint64_t tag = bill_catcache_tag(cc);
    ck_assert_uint_ne(tag, 0);
    ck_assert(!has(cc, "k", "v"));
    put(cc, tag, "k", "v");
    ck_assert(has(cc, "k", "v"));
    bill_catcache_stats_get(cc, &st);
    ck_assert_uint_eq(st.hits, 1);
    ck_assert_uint_eq(st.misses, 1);
    ck_assert_uint_eq(st.entries, 1);
    ck_assert_int_gt(st.catalog_version, 0);

    /* a catalog write on this handle: gone before the next poll (1 s) */
    ck_assert_int_eq(bill_product_category_create(db, &cli, "Cloud", "", 0, &c), BILL_OK);
    ck_assert(!has(cc, "k", "v"));
    /* an answer read before the write (old tag) is not kept */
    put(cc, tag, "k", "stale");
    ck_assert(!has(cc, "k", "stale"));
    /* one read after it is */
    tag = bill_catcache_tag(cc);
    put(cc, tag, "k", "fresh");
    ck_assert(has(cc, "k", "fresh"));
    /* a failed write (duplicate name) drops nothing */
    bill_product_category *dup = NULL;
    ck_assert_int_lt(bill_product_category_create(db, &cli, "Cloud", "", 0, &dup), 0);
    ck_assert(has(cc, "k", "fresh"));

    bill_product_category_free(c);
    bill_catcache_free(cc);
    bill_db_close(db);
}
END_TEST

/* Another handle (another bill-server, bill-cli) and plain SQL: seen by
 * the poller; the version row moved in the writer's transaction. */
START_TEST(test_catcache__other_writers_seen_by_poll)
{
    char *url = NULL;
    bill_db *db = bill_test_db_new_url(&url);
    bill_db *other = bill_test_db_open(url, -1, -1);
    bill_catcache *cc = new_cache(db, 1 << 20, 100);
    bill_product_category *c = NULL;
    int64_t v0 = 0, v1 = 0;

    ck_assert_int_eq(bill_catalog_version(db, &v0), BILL_OK);
    put(cc, bill_catcache_tag(cc), "k", "v");
    ck_assert_int_eq(bill_product_category_create(other, &cli, "Cloud", "", 0, &c), BILL_OK);
    ck_assert_int_eq(bill_catalog_version(db, &v1), BILL_OK);
    ck_assert_int_gt(v1, v0);
    double took = wait_dropped(cc, "k", "v");
    ck_assert_msg(took < 2.0, "took %.2f s", took);

    /* plain SQL, several rows in one statement: one bump */
    put(cc, bill_catcache_tag(cc), "k", "v");
    ck_assert_int_eq(bill_catalog_version(db, &v0), BILL_OK);
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE product_categories SET description = 'x' WHERE id = '%s' OR true", c->id);
    ck_assert_int_eq(bill_test_pg_exec(url, sql), 0);
    ck_assert_int_eq(bill_catalog_version(db, &v1), BILL_OK);
    ck_assert_int_eq(v1, v0 + 1);
    (void)wait_dropped(cc, "k", "v");

    /* a write outside the catalog moves nothing */
    put(cc, bill_catcache_tag(cc), "k", "v");
    ck_assert_int_eq(bill_test_pg_exec(url, "CREATE TABLE unrelated (x int); "
                                            "INSERT INTO unrelated VALUES (1)"), 0);
    ck_assert_int_eq(bill_catalog_version(db, &v0), BILL_OK);
    ck_assert_int_eq(v0, v1);
    usleep(300 * 1000);
    ck_assert(has(cc, "k", "v"));

    bill_product_category_free(c);
    bill_catcache_free(cc);
    bill_db_close(other);
    bill_db_close(db);
    free(url);
}
END_TEST

START_TEST(test_catcache__memory_bound_holds)
{
    bill_db *db = bill_test_db_new();
    const size_t max = 8192;
    bill_catcache *cc = new_cache(db, max, 1000);
    bill_catcache_stats st;
    char key[32], val[600];
    memset(val, 'x', sizeof val - 1);
    val[sizeof val - 1] = '\0';

    uint64_t tag = bill_catcache_tag(cc);
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "page-%d", i);
        put(cc, tag, key, val);
        bill_catcache_stats_get(cc, &st);
        ck_assert_uint_le(st.bytes, max);
    }
    ck_assert_uint_gt(st.evictions, 0);
    ck_assert_uint_gt(st.entries, 5);
    ck_assert_uint_eq(st.max_bytes, max);
    /* least recently used went first: the last one is there, the first not */
    ck_assert(has(cc, "page-199", val));
    ck_assert(!has(cc, "page-0", val));
    /* an answer larger than a quarter of the bound is not kept */
    char big[4000];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    put(cc, tag, "big", big);
    ck_assert(!has(cc, "big", big));
    bill_catcache_free(cc);

    /* 0: nothing kept at all */
    cc = new_cache(db, 0, 1000);
    ck_assert_uint_eq(bill_catcache_tag(cc), 0);
    put(cc, 0, "k", "v");
    ck_assert(!has(cc, "k", "v"));
    bill_catcache_free(cc);

    bill_catcache_options o;
    bill_catcache_options_init(&o);
    o.poll_ms = 1001;
    ck_assert_int_eq(bill_catcache_new(&cc, db, &o), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "cache.catalog_poll_ms");
    bill_db_close(db);
}
END_TEST

BILL_TEST_MAIN_AFTER(bill_test_pg_url_base(), "catcache", 60, NULL, NULL,
                     test_catcache__own_write_drops_at_once,
                     test_catcache__other_writers_seen_by_poll,
                     test_catcache__memory_bound_holds);
