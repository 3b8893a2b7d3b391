/*
 * db_fixture.c — the db suites' makers (see db_fixture.h).
 */
#include "db_fixture.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const bill_actor bill_test_ops = {.kind = BILL_ACTOR_CLI, .username = "ops"};

static char **kept;
static size_t n_kept, cap_kept;

const char *bill_test_keep(char *s)
{
    ck_assert_ptr_nonnull(s);
    if (n_kept == cap_kept) {
        size_t cap = cap_kept ? 2 * cap_kept : 64;
        char **k = realloc(kept, cap * sizeof *k);
        ck_assert_ptr_nonnull(k);
        kept = k;
        cap_kept = cap;
    }
    kept[n_kept++] = s;
    return s;
}

static const bill_actor *actor(const bill_actor *a)
{
    return a ? a : &bill_test_ops;
}

/* bill_test_customer, _product, _order: one definition. create_args are
 * the arguments of bill_<kind>_create, which writes the new object to o. */
#define MAKER(kind, create_args)                                                          \
    const char *bill_test_##kind(bill_db *db, const bill_actor *a,                       \
                                 const bill_##kind##_input *in)                          \
    {                                                                                    \
        bill_##kind *o = NULL;                                                           \
        int rc = bill_##kind##_create create_args;                                       \
        ck_assert_msg(rc == BILL_OK, #kind ": %s", bill_error_last()->message);          \
        const char *id = bill_test_keep(strdup(o->id));                                  \
        bill_##kind##_free(o);                                                           \
        return id;                                                                       \
    }

MAKER(customer, (db, actor(a), in, &o))
MAKER(product, (db, actor(a), in, &o))
MAKER(order, (db, NULL, actor(a), in, &o))

const char *bill_test_customer_named(bill_db *db, const char *name)
{
    bill_customer_input in = {.version = BILL_CUSTOMER_INPUT_VERSION, .name = name};
    return bill_test_customer(db, NULL, &in);
}

const char *bill_test_product_monthly(bill_db *db, const char *name, bill_money monthly)
{
    bill_product_input in = {.version = BILL_PRODUCT_INPUT_VERSION, .name = name, .active = true};
    in.has_price[BILL_CYCLE_MONTHLY] = true;
    in.prices[BILL_CYCLE_MONTHLY] = monthly;
    return bill_test_product(db, NULL, &in);
}

bill_money bill_test_balance(bill_db *db, const char *customer_id)
{
    bill_money b = -1;
    ck_assert_int_eq(bill_balance_get(db, &bill_test_ops, customer_id, &b, NULL), BILL_OK);
    return b;
}

int64_t bill_test_clock_fixed(void *user)
{
    return *(const int64_t *)user;
}

int64_t bill_test_at(const char *rfc3339)
{
    int64_t t = 0;
    ck_assert_int_eq(bill_time_parse_rfc3339(rfc3339, &t), BILL_OK);
    return t;
}

bill_db *bill_test_db_open(const char *url, int min_connections, int max_connections)
{
    bill_db_options o;
    bill_db *db = NULL;
    bill_db_options_init(&o);
    o.url = url;
    if (min_connections >= 0)
        o.min_connections = min_connections;
    if (max_connections >= 0)
        o.max_connections = max_connections;
    ck_assert_int_eq(bill_db_open(&db, &o), BILL_OK);
    return db;
}

void bill_test_copy_file(const char *from, const char *to)
{
    char tmp[1200], buf[65536];
    size_t n;
    snprintf(tmp, sizeof tmp, "%s.tmp", to);
    FILE *in = fopen(from, "rb"), *out = fopen(tmp, "wb");
    ck_assert_ptr_nonnull(in);
    ck_assert_ptr_nonnull(out);
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    ck_assert_int_eq(fclose(out), 0);
    ck_assert_int_eq(rename(tmp, to), 0);
}
