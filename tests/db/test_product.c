/*
 * test_product.c — the catalog against a real PostgreSQL: categories and
 * groups with counts and delete guards, products with cycle prices and specs
 * validation, list filters, active-only visibility for customers and
 * anonymous callers, staff-only mutations, and batch markup with half-to-even
 * rounding and a dry run that changes nothing.
 */
#include "db_fixture.h"

#include "check_main.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const bill_actor cli = {.kind = BILL_ACTOR_CLI};
static const bill_actor anon = {.kind = BILL_ACTOR_ANONYMOUS};

static char *mk_product(bill_db *db, const char *name, const char *group, bill_money cost,
                        bill_money monthly, const char *specs, bool active)
{
    bill_product_input in = {.version = BILL_PRODUCT_INPUT_VERSION,
                             .name = name, .group_id = group, .cost_price = cost,
                             .specs_json = specs, .active = active};
    in.has_price[BILL_CYCLE_MONTHLY] = true;
    in.prices[BILL_CYCLE_MONTHLY] = monthly;
    bill_product *p = NULL;
    ck_assert_int_eq(bill_product_create(db, &cli, &in, &p), BILL_OK);
    char *id = strdup(p->id);
    bill_product_free(p);
    return id;
}

START_TEST(test_product__categories_and_groups)
{
    bill_db *db = bill_test_db_new();
    bill_product_category *cat = NULL, *c2 = NULL;
    bill_product_group *g = NULL;
    ck_assert_int_eq(bill_product_category_create(db, &cli, "VPS", "virtual servers", 2, &cat),
                     BILL_OK);
    ck_assert_int_eq(bill_product_category_create(db, &cli, "Dedicated", NULL, 1, NULL), BILL_OK);
    ck_assert_int_eq(bill_product_category_create(db, &cli, "VPS", NULL, 0, NULL), BILL_ECONFLICT);
    ck_assert_int_eq(bill_product_category_create(db, &cli, "", NULL, 0, NULL), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "name");
    ck_assert_int_eq(bill_product_category_create(db, &anon, "X", NULL, 0, NULL), BILL_EDENIED);

    ck_assert_int_eq(bill_product_group_create(db, &cli, cat->id, "Hong Kong", "", 0, &g),
                     BILL_OK);
    ck_assert_str_eq(g->category_id, cat->id);
    ck_assert_int_eq(bill_product_group_create(db, &cli,
                                               "00000000-0000-4000-8000-000000000000", "Nowhere",
                                               "", 0, NULL), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "category_id");

    bill_product_categories cl;
    ck_assert_int_eq(bill_product_category_list(db, &anon, NULL, &cl), BILL_OK);
    ck_assert_uint_eq(cl.count, 2);
    ck_assert_str_eq(cl.items[0].name, "Dedicated"); /* sort_order 1 before 2 */
    ck_assert_uint_eq(cl.items[1].group_count, 1);
    bill_product_categories_clear(&cl);

    /* delete guards: category with a group, group with a product */
    ck_assert_int_eq(bill_product_category_delete(db, &cli, cat->id), BILL_ESTATE);
    char *p = mk_product(db, "Small", g->id, 0, 500, NULL, true);
    ck_assert_int_eq(bill_product_group_delete(db, &cli, g->id), BILL_ESTATE);

    bill_product_groups gl;
    ck_assert_int_eq(bill_product_group_list(db, &anon, cat->id, NULL, &gl), BILL_OK);
    ck_assert_uint_eq(gl.count, 1);
    ck_assert_uint_eq(gl.items[0].product_count, 1);
    bill_product_groups_clear(&gl);

    ck_assert_int_eq(bill_product_category_update(db, &cli, cat->id, "Cloud VPS", "new", 5, &c2),
                     BILL_OK);
    ck_assert_str_eq(c2->name, "Cloud VPS");
    ck_assert_int_eq(c2->sort_order, 5);

    ck_assert_int_eq(bill_product_delete(db, &cli, p), BILL_OK);
    ck_assert_int_eq(bill_product_group_delete(db, &cli, g->id), BILL_OK);
    ck_assert_int_eq(bill_product_category_delete(db, &cli, cat->id), BILL_OK);
    bill_product_category *gone = NULL;
    ck_assert_int_eq(bill_product_category_get(db, &cli, cat->id, &gone), BILL_ENOTFOUND);
    free(p);
    bill_product_category_free(cat);
    bill_product_category_free(c2);
    bill_product_group_free(g);
    bill_db_close(db);
}
END_TEST

START_TEST(test_product__crud_prices_specs)
{
    char *url = NULL;
    bill_db *db = bill_test_db_new_url(&url);
    bill_product_category *cat = NULL;
    bill_product_group *g = NULL;
    ck_assert_int_eq(bill_product_category_create(db, &cli, "VPS", NULL, 0, &cat), BILL_OK);
    ck_assert_int_eq(bill_product_group_create(db, &cli, cat->id, "HK", NULL, 0, &g), BILL_OK);

    bill_product_input in = {.version = BILL_PRODUCT_INPUT_VERSION,
                             .name = "HK-2C4G", .description = "2 cores", .group_id = g->id,
                             .specs_json = "{\"cpu_cores\":2,\"memory_gb\":4,\"region\":\"hk\"}",
                             .cost_price = 800, .active = true};
    in.has_price[BILL_CYCLE_QUARTERLY] = true;
    in.prices[BILL_CYCLE_QUARTERLY] = 3000;
    in.has_price[BILL_CYCLE_YEARLY] = true;
    in.prices[BILL_CYCLE_YEARLY] = 10000;
    bill_product *p = NULL, *q = NULL;
    ck_assert_int_eq(bill_product_create(db, &cli, &in, &p), BILL_OK);
    ck_assert_str_eq(p->category_id, cat->id); /* taken from the group */
    ck_assert(!p->has_price[BILL_CYCLE_MONTHLY]);
    ck_assert_int_eq(p->prices[BILL_CYCLE_QUARTERLY], 3000);
    ck_assert_int_eq(p->prices[BILL_CYCLE_YEARLY], 10000);
    ck_assert_int_eq(p->price, 3000); /* shortest cycle offered */
    ck_assert_ptr_nonnull(strstr(p->specs_json, "\"region\": \"hk\""));

    /* specs and prices validation */
    bill_product_input bad = in;
    bad.specs_json = "[1,2]";
    ck_assert_int_eq(bill_product_create(db, &cli, &bad, NULL), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "specs");
    bad.specs_json = "{\"a\":{\"nested\":1}}";
    ck_assert_int_eq(bill_product_create(db, &cli, &bad, NULL), BILL_EINVALID);
    bad.specs_json = "{\"a\":null}";
    ck_assert_int_eq(bill_product_create(db, &cli, &bad, NULL), BILL_EINVALID);
    bad.specs_json = "{broken";
    ck_assert_int_eq(bill_product_create(db, &cli, &bad, NULL), BILL_EINVALID);
    bad = in;
    memset(bad.has_price, 0, sizeof bad.has_price);
    ck_assert_int_eq(bill_product_create(db, &cli, &bad, NULL), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "billing_cycles");
    bad = in;
    bad.prices[BILL_CYCLE_YEARLY] = -1;
    ck_assert_int_eq(bill_product_create(db, &cli, &bad, NULL), BILL_EINVALID);
    bad = in;
    bad.group_id = "nope";
    ck_assert_int_eq(bill_product_create(db, &cli, &bad, NULL), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "group_id");
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM products"), 1);

    /* partial update */
    bill_product_input up = {.version = BILL_PRODUCT_INPUT_VERSION,
                             .name = "HK-2C4G v2", .active = false};
    up.has_price[BILL_CYCLE_MONTHLY] = true;
    up.prices[BILL_CYCLE_MONTHLY] = 1200;
    ck_assert_int_eq(bill_product_update(db, &cli, p->id, &up,
                                         BILL_PRODUCT_SET_NAME | BILL_PRODUCT_SET_PRICES |
                                             BILL_PRODUCT_SET_ACTIVE,
                                         &q), BILL_OK);
    ck_assert_str_eq(q->name, "HK-2C4G v2");
    ck_assert_str_eq(q->description, "2 cores");
    ck_assert(!q->active);
    ck_assert(q->has_price[BILL_CYCLE_MONTHLY]);
    ck_assert(!q->has_price[BILL_CYCLE_YEARLY]);
    ck_assert_int_eq(q->price, 1200);
    ck_assert_int_eq(q->cost_price, 800);
    bill_product_free(q);

    /* referenced by an order: refused, deactivate instead */
    bill_customer *cu = NULL;
    ck_assert_int_eq(bill_customer_create(db, &cli, &(bill_customer_input){.version = BILL_CUSTOMER_INPUT_VERSION,
                                                                           .name = "Buyer"}, &cu),
                     BILL_OK);
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO orders (customer_id, product_id, total_amount) VALUES ('%s', '%s', 12)",
             cu->id, p->id);
    ck_assert_int_eq(bill_test_pg_exec(url, sql), 0);
    ck_assert_int_eq(bill_product_delete(db, &cli, p->id), BILL_ESTATE);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "deactivate"));
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM products"), 1);
    bill_customer_free(cu);
    bill_product_free(p);
    bill_product_group_free(g);
    bill_product_category_free(cat);
    free(url);
    bill_db_close(db);
}
END_TEST

START_TEST(test_product__filters_and_visibility)
{
    bill_db *db = bill_test_db_new();
    bill_product_group *g = NULL;
    ck_assert_int_eq(bill_product_group_create(db, &cli, NULL, "G", NULL, 0, &g), BILL_OK);
    char *a = mk_product(db, "Alpha 100% SSD", g->id, 0, 100, "{\"region\":\"hk\"}", true);
    char *b = mk_product(db, "Beta", NULL, 0, 200, "{\"region\":\"us\"}", true);
    char *h = mk_product(db, "Hidden", g->id, 0, 300, "{\"region\":\"hk\"}", false);
    bill_products l;
    bill_customer *cu = NULL;
    ck_assert_int_eq(bill_customer_create(db, &cli, &(bill_customer_input){.version = BILL_CUSTOMER_INPUT_VERSION,
                                                                           .name = "C"}, &cu),
                     BILL_OK);
    bill_actor cust = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = cu->id};

    BILL_TEST_LIST_TOTAL(bill_product_list(db, &cli, NULL, NULL, &l), l, bill_products_clear, 3);
    /* customers and anonymous callers see active products only, whatever they ask */
    bill_product_filter f = {.version = BILL_PRODUCT_FILTER_VERSION, .active = BILL_FILTER_NO};
    BILL_TEST_LIST_TOTAL(bill_product_list(db, &cust, &f, NULL, &l), l, bill_products_clear, 2);
    BILL_TEST_LIST_TOTAL(bill_product_list(db, &anon, NULL, NULL, &l), l, bill_products_clear, 2);
    /* the page and its total come in one statement; a page past the end
     * still knows the total, an empty filter says 0 */
    bill_page pg = {.page = 2, .page_size = 1};
    ck_assert_int_eq(bill_product_list(db, &cli, NULL, &pg, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 1);
    ck_assert_uint_eq(l.meta.total, 3);
    ck_assert_uint_eq(l.meta.total_pages, 3);
    bill_products_clear(&l);
    pg = (bill_page){.page = 7, .page_size = 2};
    ck_assert_int_eq(bill_product_list(db, &anon, NULL, &pg, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 0);
    ck_assert_uint_eq(l.meta.total, 2);
    bill_products_clear(&l);
    bill_product_filter none = {.version = BILL_PRODUCT_FILTER_VERSION, .search = "no such"};
    ck_assert_int_eq(bill_product_list(db, &cli, &none, NULL, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 0);
    ck_assert_uint_eq(l.meta.total, 0);
    bill_products_clear(&l);
    bill_product *p = NULL;
    ck_assert_int_eq(bill_product_get(db, &anon, h, &p), BILL_ENOTFOUND);
    ck_assert_int_eq(bill_product_get(db, &cli, h, &p), BILL_OK);
    bill_product_free(p);
    ck_assert_int_eq(bill_product_list(db, &cli, &f, NULL, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 1);
    ck_assert_str_eq(l.items[0].id, h);
    bill_products_clear(&l);

    f = (bill_product_filter){.version = BILL_PRODUCT_FILTER_VERSION, .region = "hk"};
    BILL_TEST_LIST_TOTAL(bill_product_list(db, &cli, &f, NULL, &l), l, bill_products_clear, 2);
    f = (bill_product_filter){.version = BILL_PRODUCT_FILTER_VERSION,
                              .group_id = g->id, .active = BILL_FILTER_YES};
    ck_assert_int_eq(bill_product_list(db, &cli, &f, NULL, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 1);
    ck_assert_str_eq(l.items[0].id, a);
    bill_products_clear(&l);
    f = (bill_product_filter){.version = BILL_PRODUCT_FILTER_VERSION, .search = "0%"};
    ck_assert_int_eq(bill_product_list(db, &cli, &f, NULL, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 1);
    ck_assert_str_eq(l.items[0].id, a);
    bill_products_clear(&l);
    f = (bill_product_filter){.version = BILL_PRODUCT_FILTER_VERSION, .search = "BETA"};
    ck_assert_int_eq(bill_product_list(db, &cli, &f, NULL, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 1);
    ck_assert_str_eq(l.items[0].id, b);
    bill_products_clear(&l);

    /* group counts follow the caller's visibility */
    bill_product_group *gg = NULL;
    ck_assert_int_eq(bill_product_group_get(db, &cli, g->id, &gg), BILL_OK);
    ck_assert_uint_eq(gg->product_count, 2);
    bill_product_group_free(gg);
    ck_assert_int_eq(bill_product_group_get(db, &anon, g->id, &gg), BILL_OK);
    ck_assert_uint_eq(gg->product_count, 1);
    bill_product_group_free(gg);

    /* mutations are staff-only */
    bill_product_input in = {.version = BILL_PRODUCT_INPUT_VERSION, .name = "x"};
    ck_assert_int_eq(bill_product_update(db, &cust, a, &in, BILL_PRODUCT_SET_NAME, NULL),
                     BILL_EDENIED);
    ck_assert_int_eq(bill_product_delete(db, &anon, a), BILL_EDENIED);
    size_t n = 9;
    ck_assert_int_eq(bill_product_markup(db, &cust, "2", NULL, NULL, false, &n), BILL_EDENIED);
    free(a);
    free(b);
    free(h);
    bill_customer_free(cu);
    bill_product_group_free(g);
    bill_db_close(db);
}
END_TEST

static bill_money monthly_of(bill_db *db, const char *id)
{
    bill_product *p = NULL;
    ck_assert_int_eq(bill_product_get(db, &cli, id, &p), BILL_OK);
    bill_money m = p->prices[BILL_CYCLE_MONTHLY];
    ck_assert_int_eq(p->price, m);
    bill_product_free(p);
    return m;
}

START_TEST(test_product__markup_rounds_half_even)
{
    char *url = NULL;
    bill_db *db = bill_test_db_new_url(&url);
    bill_product_group *g = NULL;
    ck_assert_int_eq(bill_product_group_create(db, &cli, NULL, "G", NULL, 0, &g), BILL_OK);
    char *a = mk_product(db, "A", g->id, 5, 1, NULL, true);    /* 0.05 */
    char *b = mk_product(db, "B", g->id, 25, 1, NULL, true);   /* 0.25 */
    char *z = mk_product(db, "Z", g->id, 0, 777, NULL, true);  /* no cost: untouched */
    char *o = mk_product(db, "Other", NULL, 25, 1, NULL, true); /* outside the group */

    size_t n = 0;
    long long logs = bill_test_pg_query_ll(url, "SELECT count(*) FROM operation_logs");
    ck_assert_int_eq(bill_product_markup(db, &cli, "1.5", g->id, NULL, true, &n), BILL_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(monthly_of(db, a), 1); /* dry run changed nothing */
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM operation_logs"), logs);

    ck_assert_int_eq(bill_product_markup(db, &cli, "1.5", g->id, NULL, false, &n), BILL_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(monthly_of(db, a), 8);  /* 0.075 -> 0.08 (to even) */
    ck_assert_int_eq(monthly_of(db, b), 38); /* 0.375 -> 0.38 (to even) */
    ck_assert_int_eq(monthly_of(db, z), 777);
    ck_assert_int_eq(monthly_of(db, o), 1);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM operation_logs WHERE "
                                                "action = 'product.markup'"), 2);

    ck_assert_int_eq(bill_product_markup(db, &cli, "0.5", NULL, NULL, false, &n), BILL_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(monthly_of(db, b), 12); /* 0.125 -> 0.12 (to even) */
    ck_assert_int_eq(monthly_of(db, o), 12);
    ck_assert_int_eq(monthly_of(db, a), 2);  /* 0.025 -> 0.02 */

    /* longer cycles: cost x months x ratio, rounded once */
    bill_product_input up = {.version = BILL_PRODUCT_INPUT_VERSION};
    up.has_price[BILL_CYCLE_MONTHLY] = up.has_price[BILL_CYCLE_YEARLY] = true;
    up.prices[BILL_CYCLE_MONTHLY] = 1;
    up.prices[BILL_CYCLE_YEARLY] = 1;
    ck_assert_int_eq(bill_product_update(db, &cli, b, &up, BILL_PRODUCT_SET_PRICES, NULL), BILL_OK);
    ck_assert_int_eq(bill_product_markup(db, &cli, "1.25", g->id, NULL, false, &n), BILL_OK);
    bill_product *p = NULL;
    ck_assert_int_eq(bill_product_get(db, &cli, b, &p), BILL_OK);
    ck_assert_int_eq(p->prices[BILL_CYCLE_MONTHLY], 31); /* 0.3125 -> 0.31 */
    ck_assert_int_eq(p->prices[BILL_CYCLE_YEARLY], 375); /* 3.00 x 1.25 */
    ck_assert(!p->has_price[BILL_CYCLE_QUARTERLY]);
    bill_product_free(p);

    ck_assert_int_eq(bill_product_markup(db, &cli, "-1", NULL, NULL, false, &n), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "ratio");
    ck_assert_int_eq(bill_product_markup(db, &cli, "0", NULL, NULL, false, &n), BILL_EINVALID);
    ck_assert_int_eq(bill_product_markup(db, &cli, "abc", NULL, NULL, false, &n), BILL_EINVALID);
    free(a);
    free(b);
    free(z);
    free(o);
    free(url);
    bill_product_group_free(g);
    bill_db_close(db);
}
END_TEST

/* Setting some cycle prices is one libbill operation: the cycles named
 * change, the others keep theirs, the default price follows, and two
 * callers changing different cycles at the same time both land (no
 * read-modify-write in a frontend). */
typedef struct {
    bill_db *db;
    const char *id;
    bill_cycle cycle;
    bill_money price;
    int rc;
} cycle_job;

static void *set_cycle(void *arg)
{
    cycle_job *j = arg;
    bill_product_input in = {.version = BILL_PRODUCT_INPUT_VERSION};
    in.has_price[j->cycle] = true;
    in.prices[j->cycle] = j->price;
    j->rc = bill_product_update(j->db, &cli, j->id, &in, BILL_PRODUCT_SET_CYCLE_PRICES, NULL);
    return NULL;
}

START_TEST(test_product__cycle_prices_are_one_operation)
{
    bill_db *db = bill_test_db_new();
    char *id = mk_product(db, "Per-cycle", NULL, 0, 1000, NULL, true);
    bill_product *p = NULL;

    cycle_job y = {db, id, BILL_CYCLE_YEARLY, 10000, -1};
    set_cycle(&y);
    ck_assert_int_eq(y.rc, BILL_OK);
    ck_assert_int_eq(bill_product_get(db, &cli, id, &p), BILL_OK);
    ck_assert(p->has_price[BILL_CYCLE_MONTHLY] && p->has_price[BILL_CYCLE_YEARLY]);
    ck_assert(!p->has_price[BILL_CYCLE_QUARTERLY]);
    ck_assert_int_eq(p->prices[BILL_CYCLE_MONTHLY], 1000);
    ck_assert_int_eq(p->price, 1000); /* the default stays the monthly price */
    bill_product_free(p);

    for (int round = 0; round < 10; round++) {
        cycle_job m = {db, id, BILL_CYCLE_MONTHLY, 1100 + round, -1};
        cycle_job q = {db, id, BILL_CYCLE_QUARTERLY, 3000 + round, -1};
        pthread_t t1, t2;
        ck_assert_int_eq(pthread_create(&t1, NULL, set_cycle, &m), 0);
        ck_assert_int_eq(pthread_create(&t2, NULL, set_cycle, &q), 0);
        pthread_join(t1, NULL);
        pthread_join(t2, NULL);
        ck_assert_int_eq(m.rc, BILL_OK);
        ck_assert_int_eq(q.rc, BILL_OK);
        ck_assert_int_eq(bill_product_get(db, &cli, id, &p), BILL_OK);
        ck_assert_int_eq(p->prices[BILL_CYCLE_MONTHLY], 1100 + round);
        ck_assert_int_eq(p->prices[BILL_CYCLE_QUARTERLY], 3000 + round);
        ck_assert_int_eq(p->prices[BILL_CYCLE_YEARLY], 10000);
        ck_assert_int_eq(p->price, 1100 + round);
        bill_product_free(p);
    }

    /* replace and set-some together make no sense */
    bill_product_input both = {.version = BILL_PRODUCT_INPUT_VERSION};
    both.has_price[BILL_CYCLE_MONTHLY] = true;
    ck_assert_int_eq(bill_product_update(db, &cli, id, &both,
                                         BILL_PRODUCT_SET_PRICES | BILL_PRODUCT_SET_CYCLE_PRICES,
                                         NULL), BILL_EINVALID);
    /* naming no cycle is refused, a negative price too, and nothing changes */
    bill_product_input none = {.version = BILL_PRODUCT_INPUT_VERSION};
    ck_assert_int_eq(bill_product_update(db, &cli, id, &none, BILL_PRODUCT_SET_CYCLE_PRICES, NULL),
                     BILL_EINVALID);
    both.prices[BILL_CYCLE_MONTHLY] = -1;
    ck_assert_int_eq(bill_product_update(db, &cli, id, &both, BILL_PRODUCT_SET_CYCLE_PRICES, NULL),
                     BILL_EINVALID);
    ck_assert_int_eq(bill_product_get(db, &cli, id, &p), BILL_OK);
    ck_assert_int_eq(p->prices[BILL_CYCLE_MONTHLY], 1109);
    bill_product_free(p);
    free(id);
    bill_db_close(db);
}
END_TEST

/* A catalog list's total is remembered per catalog_version row (issue 13):
 * writes by anybody that move the version are counted at once (plain SQL
 * on another session, which this handle never hears of), the remembered
 * total is what the page says while the version holds (shown with a write
 * that bypasses the triggers, which nothing in libbill does), and the same
 * version number in another history (a restored backup) is not taken for
 * the one the total was counted at. Each filter has its own total. */
static size_t anon_total(bill_db *db, const char *group, size_t *rows)
{
    bill_products l;
    bill_product_filter f = {.version = BILL_PRODUCT_FILTER_VERSION, .group_id = group};
    ck_assert_int_eq(bill_product_list(db, &anon, &f, NULL, &l), BILL_OK);
    size_t t = (size_t)l.meta.total;
    if (rows)
        *rows = l.count;
    bill_products_clear(&l);
    return t;
}

START_TEST(test_product__list_total_per_catalog_version)
{
    char *url = NULL, sql[512];
    bill_db *db = bill_test_db_new_url(&url);
    bill_product_group *g = NULL;
    size_t rows = 0;
    ck_assert_int_eq(bill_product_group_create(db, &cli, NULL, "G", NULL, 0, &g), BILL_OK);
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "P%d", i);
        free(mk_product(db, name, i ? g->id : NULL, 0, 100, NULL, true));
    }
    ck_assert_uint_eq(anon_total(db, NULL, NULL), 3);
    ck_assert_uint_eq(anon_total(db, NULL, NULL), 3); /* remembered, same answer */
    ck_assert_uint_eq(anon_total(db, g->id, NULL), 2);

    /* another session's insert moves the version in its own transaction */
    snprintf(sql, sizeof sql,
             "INSERT INTO products (group_id, category_id, name, price) "
             "SELECT id, category_id, 'plain', 1.00 FROM product_groups WHERE id = '%s'", g->id);
    ck_assert_int_eq(bill_test_pg_exec(url, sql), 0);
    ck_assert_uint_eq(anon_total(db, NULL, &rows), 4);
    ck_assert_uint_eq(rows, 4);
    ck_assert_uint_eq(anon_total(db, g->id, NULL), 3);

    /* no version move: the remembered total stands (the count is skipped) */
    ck_assert_int_eq(bill_test_pg_exec(url, "BEGIN; SET LOCAL session_replication_role = replica; "
                                            "DELETE FROM products WHERE name = 'plain'; COMMIT"),
                     0);
    ck_assert_uint_eq(anon_total(db, NULL, &rows), 4);
    ck_assert_uint_eq(rows, 3);
    /* the same version number in another history: counted again */
    ck_assert_int_eq(bill_test_pg_exec(url, "UPDATE catalog_version "
                                            "SET changed_at = changed_at - interval '1 hour'"),
                     0);
    ck_assert_uint_eq(anon_total(db, NULL, &rows), 3);
    ck_assert_uint_eq(rows, 3);
    ck_assert_uint_eq(anon_total(db, g->id, NULL), 2);

    /* a page past the end still has the total */
    bill_products l;
    bill_page pg = {.page = 9, .page_size = 2};
    ck_assert_int_eq(bill_product_list(db, &anon, NULL, &pg, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 0);
    ck_assert_uint_eq(l.meta.total, 3);
    bill_products_clear(&l);
    bill_product_group_free(g);
    free(url);
    bill_db_close(db);
}
END_TEST

BILL_TEST_MAIN("product", 120, NULL, NULL,
               test_product__categories_and_groups, test_product__crud_prices_specs,
               test_product__filters_and_visibility, test_product__markup_rounds_half_even,
               test_product__cycle_prices_are_one_operation,
               test_product__list_total_per_catalog_version);
