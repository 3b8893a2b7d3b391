/*
 * test_order.c — orders against a real PostgreSQL: pricing from the catalog
 * per cycle, the transition table, paying from balance (payment + ledger +
 * event in one transaction, nothing on EFUNDS), 50 threads paying one order
 * (charged once), 20 orders against a balance covering 10, expiry of unpaid
 * orders with an injected "now", scoping and list pagination.
 */
#include "db_fixture.h"

#include "check_main.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const bill_actor cli = {.kind = BILL_ACTOR_CLI, .username = "ops"};

BILL_TEST_DB_FIXTURE()

/* Product priced 10.00 monthly, 27.00 quarterly (no yearly). */
static const char *mk_product(const char *name, bool active)
{
    bill_product_input in = {.version = BILL_PRODUCT_INPUT_VERSION, .name = name, .active = active};
    in.has_price[BILL_CYCLE_MONTHLY] = true;
    in.prices[BILL_CYCLE_MONTHLY] = 1000;
    in.has_price[BILL_CYCLE_QUARTERLY] = true;
    in.prices[BILL_CYCLE_QUARTERLY] = 2700;
    return bill_test_product(db, &cli, &in);
}

static bill_actor customer_actor(const char *cid)
{
    return (bill_actor){.kind = BILL_ACTOR_CUSTOMER, .customer_id = cid, .user_id = "u1"};
}

static const char *mk_order(const bill_actor *a, const char *cid, const char *pid,
                            const char *cycle)
{
    bill_order_input in = {.version = BILL_ORDER_INPUT_VERSION,
                           .customer_id = cid, .product_id = pid, .billing_cycle = cycle,
                           .server_spec_json = "{\"region\":\"hk\",\"cpu_cores\":2}"};
    return bill_test_order(db, a, &in);
}

static char *status_of(const char *oid)
{
    bill_order *o = NULL;
    ck_assert_int_eq(bill_order_get(db, &cli, oid, &o), BILL_OK);
    char *s = strdup(o->status);
    bill_order_free(o);
    return s;
}

START_TEST(test_order__create_prices_from_catalog)
{
    const char *cid = bill_test_customer_named(db, "Alice"), *pid = mk_product("VPS S", true);
    const char *off = mk_product("Old", false);
    bill_actor me = customer_actor(cid);
    bill_order_input in = {.version = BILL_ORDER_INPUT_VERSION,
                           .product_id = pid, .billing_cycle = "quarterly",
                           .server_spec_json = "{\"os\":\"debian-12\"}", .notes = "first"};
    bill_order *o = NULL;

    /* A customer orders for itself; the amount comes from the catalog. */
    ck_assert_int_eq(bill_order_create(db, NULL, &me, &in, &o), BILL_OK);
    ck_assert_str_eq(o->customer_id, cid);
    ck_assert_str_eq(o->status, "pending");
    ck_assert_int_eq(o->amount, 2700);
    ck_assert_str_eq(o->currency, "CNY");
    ck_assert_str_eq(o->billing_cycle, "quarterly");
    ck_assert_str_eq(o->product_name, "VPS S");
    ck_assert_ptr_nonnull(strstr(o->server_spec_json, "debian-12"));
    ck_assert_int_eq(o->paid_at, 0);
    bill_order_free(o);
    in.billing_cycle = NULL; /* default monthly */
    in.currency = "USD";
    ck_assert_int_eq(bill_order_create(db, NULL, &me, &in, &o), BILL_OK);
    ck_assert_int_eq(o->amount, 1000);
    ck_assert_str_eq(o->currency, "USD");
    bill_order_free(o);

    /* Cycle not offered: names the field and what is offered. */
    in.billing_cycle = "yearly";
    ck_assert_int_eq(bill_order_create(db, NULL, &me, &in, &o), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "billing_cycle");
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "monthly, quarterly"));
    in.billing_cycle = "weekly";
    ck_assert_int_eq(bill_order_create(db, NULL, &me, &in, &o), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "billing_cycle");
    in.billing_cycle = "monthly";
    in.currency = "usd";
    ck_assert_int_eq(bill_order_create(db, NULL, &me, &in, &o), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "currency");
    in.currency = NULL;
    in.server_spec_json = "[1]";
    ck_assert_int_eq(bill_order_create(db, NULL, &me, &in, &o), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "server_spec");
    in.server_spec_json = "{\"a\":{\"b\":1}}";
    ck_assert_int_eq(bill_order_create(db, NULL, &me, &in, &o), BILL_EINVALID);
    in.server_spec_json = NULL;

    /* Product: unknown, inactive. */
    in.product_id = "00000000-0000-4000-8000-000000000000";
    ck_assert_int_eq(bill_order_create(db, NULL, &me, &in, &o), BILL_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, in.product_id));
    in.product_id = off;
    ck_assert_int_eq(bill_order_create(db, NULL, &me, &in, &o), BILL_ESTATE);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, off));
    in.product_id = pid;

    /* Customer naming another customer: not found; staff must name one. */
    const char *other = bill_test_customer_named(db, "Bob");
    in.customer_id = other;
    ck_assert_int_eq(bill_order_create(db, NULL, &me, &in, &o), BILL_ENOTFOUND);
    in.customer_id = NULL;
    ck_assert_int_eq(bill_order_create(db, NULL, &cli, &in, &o), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "customer_id");
    in.customer_id = "00000000-0000-4000-8000-000000000001";
    ck_assert_int_eq(bill_order_create(db, NULL, &cli, &in, &o), BILL_ENOTFOUND);
    bill_actor anon = {.kind = BILL_ACTOR_ANONYMOUS};
    ck_assert_int_eq(bill_order_create(db, NULL, &anon, &in, &o), BILL_EUNAUTH);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM orders"), 2);
}
END_TEST

START_TEST(test_order__transition_table)
{
    /* The table itself, exhaustively. */
    static const char *all[] = {"pending",   "paid",      "provisioning", "active",
                                "cancelled", "suspended", "refunded",     "completed"};
    static const char *legal[] = {
        "pending>paid",          "pending>cancelled",   "paid>provisioning",
        "paid>refunded",         "paid>cancelled",      "provisioning>active",
        "provisioning>cancelled", "active>suspended",   "active>completed",
        "active>refunded",       "suspended>active",    "suspended>completed",
        "suspended>refunded"};
    int n_legal = 0;
    for (size_t i = 0; i < 8; i++)
        for (size_t j = 0; j < 8; j++) {
            char key[40];
            bool want = false;
            snprintf(key, sizeof key, "%s>%s", all[i], all[j]);
            for (size_t k = 0; k < sizeof legal / sizeof *legal; k++)
                want = want || strcmp(key, legal[k]) == 0;
            ck_assert_msg(bill_order_transition_allowed(all[i], all[j]) == want, "%s", key);
            n_legal += want;
        }
    ck_assert_int_eq(n_legal, 13);

    const char *cid = bill_test_customer_named(db, "Life"), *pid = mk_product("P", true);
    const char *oid = mk_order(&cli, cid, pid, "monthly");
    bill_actor me = customer_actor(cid);
    char *s;

    /* pending -> provisioning is illegal, with the message the brief asks. */
    ck_assert_int_eq(bill_order_set_status(db, &cli, oid, "provisioning"), BILL_ESTATE);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "is pending; cannot move to "
                                                             "provisioning"));
    ck_assert_int_eq(bill_order_set_status(db, &cli, oid, "paid"), BILL_ESTATE);
    ck_assert_int_eq(bill_order_set_status(db, &cli, oid, "bogus"), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "status");
    ck_assert_int_eq(bill_order_set_status(db, &me, oid, "cancelled"), BILL_EDENIED);

    /* Full lifecycle: pay -> provisioning -> active -> suspended -> active
     * -> completed; completed is final. */
    ck_assert_int_eq(bill_balance_change(db, &cli, cid, BILL_BALANCE_RECHARGE, 5000, NULL, NULL,
                                         NULL), BILL_OK);
    ck_assert_int_eq(bill_order_pay(db, NULL, &me, oid, "balance", NULL), BILL_OK);
    const char *path[] = {"provisioning", "active", "suspended", "active", "completed"};
    for (size_t i = 0; i < 5; i++) {
        ck_assert_int_eq(bill_order_set_status(db, &cli, oid, path[i]), BILL_OK);
        s = status_of(oid);
        ck_assert_str_eq(s, path[i]);
        free(s);
    }
    ck_assert_int_eq(bill_order_set_status(db, &cli, oid, "active"), BILL_ESTATE);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "is completed; cannot move to "
                                                             "active"));
    ck_assert_int_eq(bill_order_cancel(db, &cli, oid), BILL_ESTATE);

    /* Customers cancel only their own pending orders. */
    const char *o2 = mk_order(&me, NULL, pid, NULL);
    ck_assert_int_eq(bill_order_cancel(db, &me, o2), BILL_OK);
    s = status_of(o2);
    ck_assert_str_eq(s, "cancelled");
    free(s);
    ck_assert_int_eq(bill_order_pay(db, NULL, &me, o2, NULL, NULL), BILL_ESTATE);
    const char *o3 = mk_order(&me, NULL, pid, NULL);
    ck_assert_int_eq(bill_order_pay(db, NULL, &me, o3, "", NULL), BILL_OK);
    ck_assert_int_eq(bill_order_cancel(db, &me, o3), BILL_ESTATE);
    ck_assert_int_eq(bill_order_cancel(db, &cli, o3), BILL_OK); /* staff: paid -> cancelled */
}
END_TEST

START_TEST(test_order__pay_from_balance_atomic)
{
    const char *cid = bill_test_customer_named(db, "Payer"), *pid = mk_product("P", true);
    bill_actor me = customer_actor(cid);
    const char *oid = mk_order(&me, NULL, pid, "quarterly"); /* 27.00 */
    bill_payment_info pi;
    char sql[256];

    /* Insufficient funds: nothing changes anywhere. */
    ck_assert_int_eq(bill_balance_change(db, &cli, cid, BILL_BALANCE_RECHARGE, 2699, NULL, NULL,
                                         NULL), BILL_OK);
    ck_assert_int_eq(bill_order_pay(db, NULL, &me, oid, "balance", &pi), BILL_EFUNDS);
    ck_assert_ptr_null(pi.payment_id);
    ck_assert_int_eq(bill_test_balance(db, cid), 2699);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM payments"), 0);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM events"), 0);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM balance_transactions"), 1);
    char *s = status_of(oid);
    ck_assert_str_eq(s, "pending");
    free(s);

    /* One more cent and it goes through: payment, ledger row, event, paid. */
    ck_assert_int_eq(bill_balance_change(db, &cli, cid, BILL_BALANCE_RECHARGE, 1, NULL, NULL,
                                         NULL), BILL_OK);
    ck_assert_int_eq(bill_order_pay(db, NULL, &me, oid, "balance", &pi), BILL_OK);
    ck_assert_str_eq(pi.gateway_id, "balance");
    ck_assert_str_eq(pi.payment_url, "");
    ck_assert_int_eq(bill_test_balance(db, cid), 0);
    ck_assert_int_eq(bill_balance_verify(db, cid), BILL_OK);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM payments WHERE id = '%s' AND order_id = '%s' AND "
             "status = 'success' AND amount = 27.00 AND gateway_id = 'balance'",
             pi.payment_id, oid);
    ck_assert_int_eq(bill_test_pg_query_ll(url, sql), 1);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM balance_transactions WHERE transaction_type = 'payment' "
             "AND amount = -27.00 AND reference_id = '%s'", oid);
    ck_assert_int_eq(bill_test_pg_query_ll(url, sql), 1);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM events WHERE kind = 'order.paid' AND "
             "payload->>'order_id' = '%s' AND payload->>'payment_id' = '%s'", oid, pi.payment_id);
    ck_assert_int_eq(bill_test_pg_query_ll(url, sql), 1);

    bill_order *o = NULL;
    ck_assert_int_eq(bill_order_get(db, &me, oid, &o), BILL_OK);
    ck_assert_str_eq(o->status, "paid");
    ck_assert_int_gt(o->paid_at, 0);
    ck_assert_str_eq(o->gateway_id, "balance");
    ck_assert_str_eq(o->gateway_payment_id, pi.payment_id);
    bill_order_free(o);
    bill_payment_info_clear(&pi);

    /* Second pay: already paid, nothing charged. */
    ck_assert_int_eq(bill_order_pay(db, NULL, &me, oid, NULL, NULL), BILL_ESTATE);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "already paid"));
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM payments"), 1);
    /* A gateway without a plugin host is unsupported, clearly. */
    const char *o2 = mk_order(&me, NULL, pid, NULL);
    ck_assert_int_eq(bill_order_pay(db, NULL, &me, o2, "00000000-0000-4000-8000-000000000009",
                                    NULL), BILL_EUNSUPPORTED);
    ck_assert_str_eq(bill_error_last()->field, "gateway_id");
}
END_TEST

typedef struct {
    bill_db *db;
    const char *oid;
    bill_actor actor;
    int rc;
} pay_arg;

static void *pay_thread(void *p)
{
    pay_arg *a = p;
    a->rc = bill_order_pay(a->db, NULL, &a->actor, a->oid, "balance", NULL);
    return NULL;
}

START_TEST(test_order__fifty_threads_pay_once)
{
    const char *cid = bill_test_customer_named(db, "Race"), *pid = mk_product("P", true);
    const char *oid = mk_order(&cli, cid, pid, NULL);
    pthread_t th[50];
    pay_arg args[50];
    int ok = 0, state = 0;

    ck_assert_int_eq(bill_balance_change(db, &cli, cid, BILL_BALANCE_RECHARGE, 100000, NULL,
                                         NULL, NULL), BILL_OK);
    for (int i = 0; i < 50; i++) {
        args[i] = (pay_arg){.db = db, .oid = oid, .actor = customer_actor(cid)};
        ck_assert_int_eq(pthread_create(&th[i], NULL, pay_thread, &args[i]), 0);
    }
    for (int i = 0; i < 50; i++) {
        pthread_join(th[i], NULL);
        ok += args[i].rc == BILL_OK;
        state += args[i].rc == BILL_ESTATE;
    }
    ck_assert_int_eq(ok, 1);
    ck_assert_int_eq(state, 49);
    ck_assert_int_eq(bill_test_balance(db, cid), 100000 - 1000);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM payments"), 1);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM events "
                                                "WHERE kind = 'order.paid'"), 1);
    ck_assert_int_eq(bill_balance_verify(db, cid), BILL_OK);
}
END_TEST

START_TEST(test_order__twenty_orders_balance_for_ten)
{
    const char *cid = bill_test_customer_named(db, "Ten"), *pid = mk_product("P", true);
    const char *oids[20];
    pthread_t th[20];
    pay_arg args[20];
    int ok = 0, funds = 0;

    for (int i = 0; i < 20; i++)
        oids[i] = mk_order(&cli, cid, pid, NULL);
    ck_assert_int_eq(bill_balance_change(db, &cli, cid, BILL_BALANCE_RECHARGE, 10000 + 999, NULL,
                                         NULL, NULL), BILL_OK);
    for (int i = 0; i < 20; i++) {
        args[i] = (pay_arg){.db = db, .oid = oids[i], .actor = customer_actor(cid)};
        ck_assert_int_eq(pthread_create(&th[i], NULL, pay_thread, &args[i]), 0);
    }
    for (int i = 0; i < 20; i++) {
        pthread_join(th[i], NULL);
        ok += args[i].rc == BILL_OK;
        funds += args[i].rc == BILL_EFUNDS;
    }
    ck_assert_int_eq(ok, 10);
    ck_assert_int_eq(funds, 10);
    ck_assert_int_eq(bill_test_balance(db, cid), 999);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM orders "
                                                "WHERE status = 'paid'"), 10);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM payments"), 10);
    ck_assert_int_eq(bill_balance_verify(db, cid), BILL_OK);
}
END_TEST

START_TEST(test_order__expire_unpaid_with_injected_now)
{
    const char *cid = bill_test_customer_named(db, "Slow"), *pid = mk_product("P", true);
    const char *a = mk_order(&cli, cid, pid, NULL), *b = mk_order(&cli, cid, pid, NULL);
    const char *paid = mk_order(&cli, cid, pid, NULL);
    int64_t n = -1, now = bill_time_now();
    char sql[200];

    ck_assert_int_eq(bill_balance_change(db, &cli, cid, BILL_BALANCE_RECHARGE, 5000, NULL, NULL,
                                         NULL), BILL_OK);
    ck_assert_int_eq(bill_order_pay(db, NULL, &cli, paid, NULL, NULL), BILL_OK);
    /* b is 23 h old: stays. */
    snprintf(sql, sizeof sql,
             "UPDATE orders SET created_at = now() - interval '23 hours' WHERE id = '%s'", b);
    ck_assert_int_eq(bill_test_pg_exec(url, sql), 0);
    ck_assert_int_eq(bill_order_cancel_expired(db, 86400, now, &n), BILL_OK);
    ck_assert_int_eq(n, 0);
    /* Two hours later b is over 24 h; a (just created) is not. */
    ck_assert_int_eq(bill_order_cancel_expired(db, 86400, now + 2 * 3600 * BILL_USEC_PER_SEC,
                                               &n), BILL_OK);
    ck_assert_int_eq(n, 1);
    char *s = status_of(b);
    ck_assert_str_eq(s, "cancelled");
    free(s);
    s = status_of(a);
    ck_assert_str_eq(s, "pending");
    free(s);
    /* A day later every pending order goes, the paid one stays. */
    ck_assert_int_eq(bill_order_cancel_expired(db, 0, now + 25 * 3600 * BILL_USEC_PER_SEC, &n),
                     BILL_OK);
    ck_assert_int_eq(n, 1);
    s = status_of(paid);
    ck_assert_str_eq(s, "paid");
    free(s);
}
END_TEST

START_TEST(test_order__scoping_and_list)
{
    const char *ca = bill_test_customer_named(db, "A"), *cb = bill_test_customer_named(db, "B");
    const char *pid = mk_product("Searchable Box", true);
    bill_actor a = customer_actor(ca), b = customer_actor(cb);
    const char *oa = mk_order(&a, NULL, pid, NULL);
    bill_order *o = NULL;
    bill_orders l;

    /* B cannot see, pay or cancel A's order: not found, as if absent. */
    ck_assert_int_eq(bill_order_get(db, &b, oa, &o), BILL_ENOTFOUND);
    ck_assert_int_eq(bill_order_pay(db, NULL, &b, oa, NULL, NULL), BILL_ENOTFOUND);
    ck_assert_int_eq(bill_order_cancel(db, &b, oa), BILL_ENOTFOUND);
    ck_assert_int_eq(bill_order_get(db, &b, "nope", &o), BILL_ENOTFOUND);

    for (int i = 0; i < 24; i++)
        mk_order(&cli, cb, pid, NULL);
    /* B's list is B's own; naming another customer is not found (the rule
     * of every customer-scoped list), naming itself is fine. */
    bill_order_filter f = {.version = BILL_ORDER_FILTER_VERSION, .customer_id = ca};
    ck_assert_int_eq(bill_order_list(db, &b, &f, NULL, &l), BILL_ENOTFOUND);
    ck_assert_str_eq(bill_error_last()->field, "customer_id");
    ck_assert_uint_eq(l.count, 0);
    f.customer_id = "not-a-uuid";
    ck_assert_int_eq(bill_order_list(db, &b, &f, NULL, &l), BILL_EINVALID);
    f.customer_id = cb;
    ck_assert_int_eq(bill_order_list(db, &b, &f, NULL, &l), BILL_OK);
    ck_assert_uint_eq(l.meta.total, 24);
    ck_assert_uint_eq(l.count, 20);
    ck_assert_uint_eq(l.meta.total_pages, 2);
    for (size_t i = 0; i < l.count; i++)
        ck_assert_str_eq(l.items[i].customer_id, cb);
    bill_orders_clear(&l);
    bill_page pg = {.page = 2, .page_size = 20};
    ck_assert_int_eq(bill_order_list(db, &b, NULL, &pg, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 4); /* last page */
    bill_orders_clear(&l);
    pg = (bill_page){.page = 9, .page_size = 20};
    ck_assert_int_eq(bill_order_list(db, &b, NULL, &pg, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 0); /* past the end */
    ck_assert_uint_eq(l.meta.total, 24);
    bill_orders_clear(&l);
    pg = (bill_page){.page = 1, .page_size = 500};
    ck_assert_int_eq(bill_order_list(db, &cli, NULL, &pg, &l), BILL_OK);
    ck_assert_uint_eq(l.meta.page_size, 100);
    ck_assert_uint_eq(l.count, 25);
    bill_orders_clear(&l);
    /* Staff filters: customer, status, search (product name, id). */
    f.customer_id = ca;
    BILL_TEST_LIST_TOTAL(bill_order_list(db, &cli, &f, NULL, &l), l, bill_orders_clear, 1);
    f = (bill_order_filter){.version = BILL_ORDER_FILTER_VERSION, .search = "searchable"};
    BILL_TEST_LIST_TOTAL(bill_order_list(db, &cli, &f, NULL, &l), l, bill_orders_clear, 25);
    char part[9];
    memcpy(part, oa, 8);
    part[8] = '\0';
    f = (bill_order_filter){.version = BILL_ORDER_FILTER_VERSION, .search = part};
    ck_assert_int_eq(bill_order_list(db, &cli, &f, NULL, &l), BILL_OK);
    ck_assert_uint_ge(l.meta.total, 1);
    bill_orders_clear(&l);
    f = (bill_order_filter){.version = BILL_ORDER_FILTER_VERSION, .status = "paid"};
    ck_assert_int_eq(bill_order_list(db, &cli, &f, NULL, &l), BILL_OK);
    ck_assert_uint_eq(l.meta.total, 0);
    ck_assert_uint_eq(l.meta.total_pages, 0);
    bill_orders_clear(&l);
    f = (bill_order_filter){.version = BILL_ORDER_FILTER_VERSION, .status = "PAID"};
    ck_assert_int_eq(bill_order_list(db, &cli, &f, NULL, &l), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "status");
    f = (bill_order_filter){.version = BILL_ORDER_FILTER_VERSION, .provider_id = "x"};
    ck_assert_int_eq(bill_order_list(db, &cli, &f, NULL, &l), BILL_EINVALID);
}
END_TEST

BILL_TEST_MAIN("order", 120, setup, teardown,
               test_order__create_prices_from_catalog, test_order__transition_table,
               test_order__pay_from_balance_atomic, test_order__fifty_threads_pay_once,
               test_order__twenty_orders_balance_for_ten,
               test_order__expire_unpaid_with_injected_now, test_order__scoping_and_list);
