/*
 * db_fixture.h — what the db suites make before the behaviour they test:
 * a fresh database per test, and the customers, products and orders in it.
 *
 *     BILL_TEST_DB_FIXTURE()
 *     START_TEST(test_x__y)
 *     {
 *         const char *cid = bill_test_customer_named(db, "Alice");
 *         ...
 *     }
 *     END_TEST
 *     BILL_TEST_MAIN("x", 120, setup, teardown, test_x__y);
 *
 * The makers create one object through the public API, fail the test when
 * libbill refuses (with its message), and return its id. Ids are kept by
 * the fixture until the test's process ends: a test frees none of them.
 */
#ifndef BILL_TEST_DB_FIXTURE_H
#define BILL_TEST_DB_FIXTURE_H

#include <bill/bill.h>

#include "pg_harness.h"

/* The file's `db` (a fresh, migrated database with an open pool) and its
 * libpq `url`, made by the checked fixture setup() and closed by teardown(). */
#define BILL_TEST_DB_FIXTURE()                                                  \
    static bill_db *db;                                                         \
    static char *url;                                                           \
    static void setup(void) { db = bill_test_db_new_url(&url); }                \
    static void teardown(void)                                                  \
    {                                                                           \
        bill_db_close(db);                                                      \
        free(url);                                                              \
    }

/* A list call (writing into the list `l`) that must succeed with `want`
 * items in all (l.meta.total); l is cleared after by clear(&l). */
#define BILL_TEST_LIST_TOTAL(list_call, l, clear, want)                         \
    do {                                                                        \
        ck_assert_int_eq((list_call), BILL_OK);                                 \
        ck_assert_uint_eq((l).meta.total, (want));                              \
        clear(&(l));                                                            \
    } while (0)

/* The operator at a console: {BILL_ACTOR_CLI, username "ops"}. */
extern const bill_actor bill_test_ops;

/* Keep s (malloc'd) until the process ends; returns it. NULL aborts. */
const char *bill_test_keep(char *s);

/* Created by actor a (NULL: bill_test_ops). */
const char *bill_test_customer(bill_db *db, const bill_actor *a, const bill_customer_input *in);
const char *bill_test_product(bill_db *db, const bill_actor *a, const bill_product_input *in);
const char *bill_test_order(bill_db *db, const bill_actor *a, const bill_order_input *in);

/* A customer with only a name; an active product with one monthly price. */
const char *bill_test_customer_named(bill_db *db, const char *name);
const char *bill_test_product_monthly(bill_db *db, const char *name, bill_money monthly);

/* The customer's balance as staff sees it. */
bill_money bill_test_balance(bill_db *db, const char *customer_id);

/* A clock for bill_db_set_clock: the time *(const int64_t *)user, which the
 * test moves; bill_test_at parses RFC 3339 into that clock's microseconds. */
int64_t bill_test_clock_fixed(void *user);
int64_t bill_test_at(const char *rfc3339);

/* A pool on an existing database, nothing migrated: min and max
 * connections (-1: the default); fails the test when it cannot open. */
bill_db *bill_test_db_open(const char *url, int min_connections, int max_connections);

/* Copy a file (a plugin into a plugins_dir) through <to>.tmp and rename, the
 * way deploys replace files: never a half-written .so. */
void bill_test_copy_file(const char *from, const char *to);

#endif
