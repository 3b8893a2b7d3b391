/*
 * test_invoice.c — invoices against a real PostgreSQL: manual drafts with
 * items (amounts exact), issuing with gapless numbers under 8 concurrent
 * issuers, paying from balance or manually, cancel/overdue rules, batch
 * generation idempotent, scoping.
 */
#include "db_fixture.h"

#include "check_main.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const bill_actor cli = {.kind = BILL_ACTOR_CLI, .username = "ops"};

BILL_TEST_DB_FIXTURE()

static char *mk_draft(const char *cid)
{
    bill_invoice_item_input items[] = {{.description = "VPS", .quantity = 3, .unit_price = 1999},
                                       {.description = "IP", .quantity = 1, .unit_price = 500}};
    bill_invoice_input in = {.version = BILL_INVOICE_INPUT_VERSION,
                             .customer_id = cid, .items = items, .item_count = 2,
                             .tax_amount = 123, .notes = "manual"};
    bill_invoice *v = NULL;
    int rc = bill_invoice_create(db, &cli, &in, &v);
    ck_assert_msg(rc == BILL_OK, "create: %s", bill_error_last()->message);
    char *id = strdup(v->id);
    bill_invoice_free(v);
    return id;
}

static int year_now(void)
{
    bill_date d;
    ck_assert_int_eq(bill_date_from_time(&d, bill_time_now()), BILL_OK);
    return d.y;
}

START_TEST(test_invoice__create_issue_pay)
{
    const char *cid = bill_test_customer_named(db, "Inv");
    char want[32];
    bill_invoice *v = NULL;
    bill_invoice_item_input bad[] = {{.description = "x", .quantity = 0, .unit_price = 1}};
    bill_invoice_input in = {.version = BILL_INVOICE_INPUT_VERSION,
                             .customer_id = cid, .items = bad, .item_count = 1};
    bill_actor me = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = cid};

    ck_assert_int_eq(bill_invoice_create(db, &cli, &in, &v), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "items.quantity");
    in.item_count = 0;
    ck_assert_int_eq(bill_invoice_create(db, &cli, &in, &v), BILL_EINVALID);
    ck_assert_int_eq(bill_invoice_create(db, &me, &in, &v), BILL_EDENIED);

    char *id = mk_draft(cid);
    ck_assert_int_eq(bill_invoice_get(db, &me, id, &v), BILL_OK);
    ck_assert_str_eq(v->status, "draft");
    ck_assert_int_eq(v->amount, 3 * 1999 + 500);
    ck_assert_int_eq(v->tax_amount, 123);
    ck_assert_int_eq(v->total_amount, 3 * 1999 + 500 + 123);
    ck_assert_uint_eq(v->item_count, 2);
    ck_assert_int_eq(v->items[0].amount, 5997);
    ck_assert_uint_eq(v->items[0].quantity, 3);
    ck_assert_str_eq(v->items[1].description, "IP");
    ck_assert(strncmp(v->invoice_number, "DRAFT-", 6) == 0);
    bill_invoice_free(v);

    /* A draft cannot be paid; issuing numbers it. */
    ck_assert_int_eq(bill_invoice_mark_paid(db, &cli, id, false, NULL), BILL_ESTATE);
    ck_assert_int_eq(bill_invoice_issue(db, &cli, id, &v), BILL_OK);
    snprintf(want, sizeof want, "INV-%d-000001", year_now());
    ck_assert_str_eq(v->invoice_number, want);
    ck_assert_str_eq(v->status, "issued");
    ck_assert_int_gt(v->issued_at, 0);
    ck_assert_int_eq((int)strlen(v->due_date), 10);
    bill_invoice_free(v);
    ck_assert_int_eq(bill_invoice_issue(db, &cli, id, NULL), BILL_ESTATE);

    /* Pay from balance: EFUNDS changes nothing; then it goes through. */
    ck_assert_int_eq(bill_invoice_mark_paid(db, &cli, id, true, NULL), BILL_EFUNDS);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM payments"), 0);
    ck_assert_int_eq(bill_balance_change(db, &cli, cid, BILL_BALANCE_RECHARGE, 10000, NULL, NULL,
                                         NULL), BILL_OK);
    ck_assert_int_eq(bill_invoice_mark_paid(db, &cli, id, true, &v), BILL_OK);
    ck_assert_str_eq(v->status, "paid");
    ck_assert_int_eq(v->paid_amount, v->total_amount);
    ck_assert_int_gt(v->paid_at, 0);
    bill_invoice_free(v);
    bill_money bal = 0;
    ck_assert_int_eq(bill_balance_get(db, &cli, cid, &bal, NULL), BILL_OK);
    ck_assert_int_eq(bal, 10000 - (3 * 1999 + 500 + 123));
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM payments WHERE "
                                                "status = 'success' AND gateway_id = 'balance' "
                                                "AND amount = 66.20"), 1);
    ck_assert_int_eq(bill_invoice_cancel(db, &cli, id), BILL_ESTATE);

    /* Manual payment, cancel, overdue. */
    char *id2 = mk_draft(cid), *id3 = mk_draft(cid), *id4 = mk_draft(cid);
    ck_assert_int_eq(bill_invoice_issue(db, &cli, id2, NULL), BILL_OK);
    ck_assert_int_eq(bill_invoice_mark_paid(db, &cli, id2, false, NULL), BILL_OK);
    ck_assert_int_eq(bill_invoice_cancel(db, &cli, id3), BILL_OK);
    ck_assert_int_eq(bill_invoice_issue(db, &cli, id3, NULL), BILL_ESTATE);
    ck_assert_int_eq(bill_invoice_issue(db, &cli, id4, NULL), BILL_OK);
    int64_t n = -1;
    ck_assert_int_eq(bill_invoice_mark_overdue(db, 0, &n), BILL_OK);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(bill_invoice_mark_overdue(db, bill_time_now() + 8 * BILL_USEC_PER_DAY, &n),
                     BILL_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(bill_invoice_get(db, &cli, id4, &v), BILL_OK);
    ck_assert_str_eq(v->status, "overdue");
    /* Numbers so far: 1, 2, 3 — the cancelled draft took none. */
    snprintf(want, sizeof want, "INV-%d-000003", year_now());
    ck_assert_str_eq(v->invoice_number, want);
    bill_invoice_free(v);

    /* Scoping and list. */
    const char *other = bill_test_customer_named(db, "Other");
    bill_actor b = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = other};
    ck_assert_int_eq(bill_invoice_get(db, &b, id, &v), BILL_ENOTFOUND);
    bill_invoices l;
    bill_invoice_filter f = {.version = BILL_INVOICE_FILTER_VERSION, .customer_id = cid};
    ck_assert_int_eq(bill_invoice_list(db, &b, &f, NULL, &l), BILL_ENOTFOUND);
    BILL_TEST_LIST_TOTAL(bill_invoice_list(db, &b, NULL, NULL, &l), l, bill_invoices_clear, 0);
    f.status = "paid";
    BILL_TEST_LIST_TOTAL(bill_invoice_list(db, &me, &f, NULL, &l), l, bill_invoices_clear, 2);
    f.status = "unpaid";
    ck_assert_int_eq(bill_invoice_list(db, &me, &f, NULL, &l), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "status");

    free(id);
    free(id2);
    free(id3);
    free(id4);
}
END_TEST

typedef struct {
    bill_db *db;
    char *ids[10];
    int rc;
} issue_arg;

static void *issue_thread(void *p)
{
    issue_arg *a = p;
    a->rc = BILL_OK;
    for (int i = 0; i < 10 && a->rc == BILL_OK; i++)
        a->rc = bill_invoice_issue(a->db, &cli, a->ids[i], NULL);
    return NULL;
}

START_TEST(test_invoice__numbers_gapless_under_concurrency)
{
    const char *cid = bill_test_customer_named(db, "Many");
    char sql[300];
    pthread_t th[8];
    issue_arg args[8];

    for (int t = 0; t < 8; t++) {
        args[t].db = db;
        for (int i = 0; i < 10; i++)
            args[t].ids[i] = mk_draft(cid);
    }
    for (int t = 0; t < 8; t++)
        ck_assert_int_eq(pthread_create(&th[t], NULL, issue_thread, &args[t]), 0);
    for (int t = 0; t < 8; t++) {
        pthread_join(th[t], NULL);
        ck_assert_int_eq(args[t].rc, BILL_OK);
    }
    /* 80 distinct numbers, exactly 1..80 of this year. */
    snprintf(sql, sizeof sql,
             "SELECT count(DISTINCT invoice_number) FROM invoices WHERE invoice_number ~ "
             "'^INV-%d-[0-9]{6}$' AND substr(invoice_number, 10)::int BETWEEN 1 AND 80",
             year_now());
    ck_assert_int_eq(bill_test_pg_query_ll(url, sql), 80);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT max(last_value) FROM "
                                                "invoice_number_counters"), 80);
    for (int t = 0; t < 8; t++)
        for (int i = 0; i < 10; i++)
            free(args[t].ids[i]);
}
END_TEST

START_TEST(test_invoice__generate_idempotent)
{
    const char *c1 = bill_test_customer_named(db, "G1"), *c2 = bill_test_customer_named(db, "G2");
    char sql[600];
    bill_product_input pin = {.version = BILL_PRODUCT_INPUT_VERSION, .name = "Gen", .active = true};
    bill_product *p = NULL;
    pin.has_price[BILL_CYCLE_MONTHLY] = true;
    pin.prices[BILL_CYCLE_MONTHLY] = 1000;
    pin.has_price[BILL_CYCLE_YEARLY] = true;
    pin.prices[BILL_CYCLE_YEARLY] = 10000;
    ck_assert_int_eq(bill_product_create(db, &cli, &pin, &p), BILL_OK);
    /* c1: running monthly + stopped yearly + terminated; c2: running. */
    snprintf(sql, sizeof sql,
             "INSERT INTO instances (customer_id, product_id, status, billing_cycle) VALUES "
             "('%s', '%s', 'running', 'monthly'), ('%s', '%s', 'stopped', 'yearly'), "
             "('%s', '%s', 'terminated', 'monthly'), ('%s', '%s', 'running', 'monthly')",
             c1, p->id, c1, p->id, c1, p->id, c2, p->id);
    ck_assert_int_eq(bill_test_pg_exec(url, sql), 0);
    bill_product_free(p);

    int64_t n = -1;
    bill_actor me = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = c1};
    ck_assert_int_eq(bill_invoice_generate(db, &me, c1, "2026-03-01", "2026-03-31", &n),
                     BILL_EDENIED);
    ck_assert_int_eq(bill_invoice_generate(db, &cli, c1, "2026-03-31", "2026-03-01", &n),
                     BILL_EINVALID);
    int rc = bill_invoice_generate(db, &cli, c1, "2026-03-01", "2026-03-31", &n);
    ck_assert_msg(rc == BILL_OK, "generate: %s", bill_error_last()->message);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(bill_invoice_generate(db, &cli, c1, "2026-03-01", "2026-03-31", &n), BILL_OK);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(bill_invoice_generate(db, NULL, NULL, "2026-03-01", "2026-03-31", &n),
                     BILL_OK);
    ck_assert_int_eq(n, 1); /* only c2's is new */
    ck_assert_int_eq(bill_invoice_generate(db, NULL, NULL, "2026-03-01", "2026-03-31", &n),
                     BILL_OK);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM invoices WHERE status = "
                                                "'issued' AND invoice_number LIKE 'INV-%'"), 3);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT sum(total_amount)::int8 * 100 FROM "
                                                "invoices"), 1000 + 10000 + 1000);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM invoice_items"), 3);
    /* Next period: new invoices again. */
    ck_assert_int_eq(bill_invoice_generate(db, NULL, NULL, "2026-04-01", "2026-04-30", &n),
                     BILL_OK);
    ck_assert_int_eq(n, 3);
}
END_TEST

BILL_TEST_MAIN("invoice", 120, setup, teardown,
               test_invoice__create_issue_pay, test_invoice__numbers_gapless_under_concurrency,
               test_invoice__generate_idempotent);
