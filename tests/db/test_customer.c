/*
 * test_customer.c — customers against a real PostgreSQL: create/get/update
 * with validation, search (ILIKE with % and _ taken literally), pagination
 * edges, and scoping of CUSTOMER actors (another customer's id looks absent).
 */
#include "db_fixture.h"

#include "check_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const bill_actor cli = {.kind = BILL_ACTOR_CLI};

BILL_TEST_DB_FIXTURE()

static const char *mk(const char *name, const char *email)
{
    bill_customer_input in = {.version = BILL_CUSTOMER_INPUT_VERSION,
                              .name = name, .email = email, .contact = "Contact Person"};
    return bill_test_customer(db, &cli, &in);
}

START_TEST(test_customer__create_get_update)
{
    bill_customer_input in = {.version = BILL_CUSTOMER_INPUT_VERSION,
                              .name = "Acme Ltd", .contact = "Wile E.", .email = "wile@acme.test",
                              .phone = "+86 10 1234", .credit_limit = 5000,
                              .can_create_api_keys = true};
    bill_customer *c = NULL, *g = NULL;
    ck_assert_int_eq(bill_customer_create(db, &cli, &in, &c), BILL_OK);
    ck_assert_str_eq(c->name, "Acme Ltd");
    ck_assert_str_eq(c->status, "active");
    ck_assert_int_eq(c->balance, 0);
    ck_assert_int_eq(c->credit_limit, 5000);
    ck_assert(c->can_create_api_keys);

    ck_assert_int_eq(bill_customer_get(db, &cli, c->id, &g), BILL_OK);
    ck_assert_str_eq(g->email, "wile@acme.test");
    ck_assert_str_eq(g->phone, "+86 10 1234");
    bill_customer_free(g);
    g = NULL;

    /* partial update: only the masked fields change */
    bill_customer_input up = {.version = BILL_CUSTOMER_INPUT_VERSION,
                              .name = "IGNORED", .phone = "555", .notes = "vip"};
    ck_assert_int_eq(bill_customer_update(db, &cli, c->id, &up,
                                          BILL_CUSTOMER_SET_PHONE | BILL_CUSTOMER_SET_NOTES, &g),
                     BILL_OK);
    ck_assert_str_eq(g->name, "Acme Ltd");
    ck_assert_str_eq(g->phone, "555");
    ck_assert_str_eq(g->notes, "vip");
    ck_assert_str_eq(g->email, "wile@acme.test");
    ck_assert_int_eq(g->credit_limit, 5000);
    bill_customer_free(g);
    g = NULL;

    ck_assert_int_eq(bill_customer_set_credit_limit(db, &cli, c->id, 0), BILL_OK);
    ck_assert_int_eq(bill_customer_set_api_keys_flag(db, &cli, c->id, false), BILL_OK);
    ck_assert_int_eq(bill_customer_get(db, &cli, c->id, &g), BILL_OK);
    ck_assert_int_eq(g->credit_limit, 0);
    ck_assert(!g->can_create_api_keys);
    bill_customer_free(g);
    g = NULL;

    ck_assert_int_eq(bill_customer_get(db, &cli, "00000000-0000-4000-8000-00000000dead", &g),
                     BILL_ENOTFOUND);
    ck_assert_int_eq(bill_customer_get(db, &cli, "not-a-uuid", &g), BILL_ENOTFOUND);
    ck_assert_ptr_null(g);
    bill_customer_free(c);
}
END_TEST

START_TEST(test_customer__validation)
{
    bill_customer_input in = {.version = BILL_CUSTOMER_INPUT_VERSION, .name = ""};
    ck_assert_int_eq(bill_customer_create(db, &cli, &in, NULL), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "name");
    char big[260];
    memset(big, 'x', 201);
    big[201] = '\0';
    in.name = big;
    ck_assert_int_eq(bill_customer_create(db, &cli, &in, NULL), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "name");
    big[200] = '\0';
    ck_assert_int_eq(bill_customer_create(db, &cli, &in, NULL), BILL_OK);

    in.name = "Ok";
    const char *bad_emails[] = {"plain", "@x.com", "a@b", "a@@b.com", "a b@c.com", "a@.com",
                                "a@b."};
    for (size_t i = 0; i < sizeof bad_emails / sizeof *bad_emails; i++) {
        in.email = bad_emails[i];
        ck_assert_msg(bill_customer_create(db, &cli, &in, NULL) == BILL_EINVALID, "%s",
                      bad_emails[i]);
        ck_assert_str_eq(bill_error_last()->field, "email");
    }
    in.email = "ok@example.com";
    in.credit_limit = -1;
    ck_assert_int_eq(bill_customer_create(db, &cli, &in, NULL), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "credit_limit");
    in.credit_limit = 0;
    in.status = "frozen";
    ck_assert_int_eq(bill_customer_create(db, &cli, &in, NULL), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "status");
    in.status = NULL;

    /* nothing invalid reached the table */
    bill_customers l;
    BILL_TEST_LIST_TOTAL(bill_customer_list(db, &cli, NULL, NULL, &l), l, bill_customers_clear, 1);
}
END_TEST

START_TEST(test_customer__search_escapes_wildcards)
{
    mk("Hundred % Hosting", "a@one.test");
    const char *plain = mk("Plain Hosting", "b@two.test");
    mk("under_score", "c@three.test");
    mk("underXscore", "d@four.test");
    bill_customers l;
    bill_customer_filter f = {.version = BILL_CUSTOMER_FILTER_VERSION, .search = "%"};
    ck_assert_int_eq(bill_customer_list(db, &cli, &f, NULL, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 1);
    ck_assert_str_eq(l.items[0].name, "Hundred % Hosting");
    bill_customers_clear(&l);

    f.search = "under_";
    ck_assert_int_eq(bill_customer_list(db, &cli, &f, NULL, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 1);
    ck_assert_str_eq(l.items[0].name, "under_score");
    bill_customers_clear(&l);

    f.search = "HOSTING"; /* case-insensitive */
    BILL_TEST_LIST_TOTAL(bill_customer_list(db, &cli, &f, NULL, &l), l, bill_customers_clear, 2);
    f.status = "active"; /* filters combine; each one narrows */
    BILL_TEST_LIST_TOTAL(bill_customer_list(db, &cli, &f, NULL, &l), l, bill_customers_clear, 2);
    f.status = "suspended";
    BILL_TEST_LIST_TOTAL(bill_customer_list(db, &cli, &f, NULL, &l), l, bill_customers_clear, 0);
    f.status = NULL;
    /* a customer sees itself only, whatever it searches */
    bill_actor self = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = plain};
    ck_assert_int_eq(bill_customer_list(db, &self, &f, NULL, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 1);
    ck_assert_str_eq(l.items[0].name, "Plain Hosting");
    bill_customers_clear(&l);

    f.search = "FOUR.test"; /* e-mail matches too */
    ck_assert_int_eq(bill_customer_list(db, &cli, &f, NULL, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 1);
    ck_assert_str_eq(l.items[0].name, "underXscore");
    bill_customers_clear(&l);

    f.search = "'; DROP TABLE customers; --";
    ck_assert_int_eq(bill_customer_list(db, &cli, &f, NULL, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 0);
    bill_customers_clear(&l);
}
END_TEST

START_TEST(test_customer__pagination_edges)
{
    bill_customers l;
    bill_page p = {0, 0};
    ck_assert_int_eq(bill_customer_list(db, &cli, NULL, &p, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 0);
    ck_assert_uint_eq(l.meta.total, 0);
    ck_assert_uint_eq(l.meta.total_pages, 0);
    ck_assert_uint_eq(l.meta.page, 1);
    ck_assert_uint_eq(l.meta.page_size, 20);
    bill_customers_clear(&l);

    for (int i = 0; i < 25; i++) {
        char name[32];
        snprintf(name, sizeof name, "Customer %02d", i);
        mk(name, "");
    }
    p = (bill_page){2, 10};
    ck_assert_int_eq(bill_customer_list(db, &cli, NULL, &p, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 10);
    ck_assert_uint_eq(l.meta.total, 25);
    ck_assert_uint_eq(l.meta.total_pages, 3);
    bill_customers_clear(&l);

    p = (bill_page){3, 10}; /* last page is partial */
    ck_assert_int_eq(bill_customer_list(db, &cli, NULL, &p, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 5);
    ck_assert_str_eq(l.items[4].name, "Customer 00"); /* newest first */
    bill_customers_clear(&l);

    p = (bill_page){9, 10}; /* past the end: empty, total still right */
    ck_assert_int_eq(bill_customer_list(db, &cli, NULL, &p, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 0);
    ck_assert_uint_eq(l.meta.total, 25);
    ck_assert_uint_eq(l.meta.page, 9);
    bill_customers_clear(&l);

    p = (bill_page){1, 500}; /* capped at 100 */
    ck_assert_int_eq(bill_customer_list(db, &cli, NULL, &p, &l), BILL_OK);
    ck_assert_uint_eq(l.meta.page_size, 100);
    ck_assert_uint_eq(l.count, 25);
    ck_assert_uint_eq(l.meta.total_pages, 1);
    bill_customers_clear(&l);
}
END_TEST

START_TEST(test_customer__scoping)
{
    const char *mine = mk("Mine", "me@mine.test");
    const char *other = mk("Other", "o@other.test");
    bill_actor me = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = mine, .user_id = "u1"};
    bill_actor anon = {.kind = BILL_ACTOR_ANONYMOUS};
    bill_customer *c = NULL;

    ck_assert_int_eq(bill_customer_get(db, &me, mine, &c), BILL_OK);
    ck_assert_str_eq(c->name, "Mine");
    bill_customer_free(c);
    c = NULL;
    ck_assert_int_eq(bill_customer_get(db, &me, other, &c), BILL_ENOTFOUND);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(bill_customer_get(db, &anon, mine, &c), BILL_EUNAUTH);

    bill_customers l;
    ck_assert_int_eq(bill_customer_list(db, &me, NULL, NULL, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 1);
    ck_assert_str_eq(l.items[0].id, mine);
    bill_customers_clear(&l);

    /* own contact fields: allowed; admin-only fields: denied; others: absent */
    bill_customer_input in = {.version = BILL_CUSTOMER_INPUT_VERSION,
                              .phone = "123", .credit_limit = 100000};
    ck_assert_int_eq(bill_customer_update(db, &me, mine, &in, BILL_CUSTOMER_SET_PHONE, NULL),
                     BILL_OK);
    ck_assert_int_eq(bill_customer_update(db, &me, mine, &in, BILL_CUSTOMER_SET_CREDIT_LIMIT,
                                          NULL), BILL_EDENIED);
    ck_assert_int_eq(bill_customer_update(db, &me, other, &in, BILL_CUSTOMER_SET_PHONE, NULL),
                     BILL_ENOTFOUND);
    ck_assert_int_eq(bill_customer_create(db, &me, &(bill_customer_input){.version = BILL_CUSTOMER_INPUT_VERSION,
                                                                          .name = "x"}, NULL),
                     BILL_EDENIED);
    ck_assert_int_eq(bill_customer_get(db, &cli, other, &c), BILL_OK);
    ck_assert_str_eq(c->phone, "");
    bill_customer_free(c);
}
END_TEST

START_TEST(test_customer__delete_only_without_history)
{
    const char *fresh = mk("Fresh", ""), *used = mk("Used", "");
    ck_assert_int_eq(bill_balance_change(db, &cli, used, BILL_BALANCE_RECHARGE, 100, NULL, NULL,
                                         NULL), BILL_OK);
    ck_assert_int_eq(bill_customer_delete(db, &cli, used), BILL_ESTATE);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "closed"));
    bill_actor me = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = fresh};
    ck_assert_int_eq(bill_customer_delete(db, &me, fresh), BILL_EDENIED);
    ck_assert_int_eq(bill_customer_delete(db, &cli, fresh), BILL_OK);
    bill_customer *c = NULL;
    ck_assert_int_eq(bill_customer_get(db, &cli, fresh, &c), BILL_ENOTFOUND);
    ck_assert_int_eq(bill_customer_get(db, &cli, used, &c), BILL_OK);
    bill_customer_free(c);
}
END_TEST

BILL_TEST_MAIN("customer", 120, setup, teardown,
               test_customer__create_get_update, test_customer__validation,
               test_customer__search_escapes_wildcards, test_customer__pagination_edges,
               test_customer__scoping, test_customer__delete_only_without_history);
