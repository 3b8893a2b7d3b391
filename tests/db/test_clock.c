/*
 * test_clock.c — the handle's injectable clock (billing.md §6) against a real
 * PostgreSQL: C code and SQL read the same instant (rows written "at" it,
 * invoice numbers of its year, the unpaid-order TTL and event due times at
 * the second before and the second of their edge); clearing the clock gives
 * the database's own time back; a second handle without a clock is not
 * affected.
 */
#include "db_fixture.h"

#include "check_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const bill_actor cli = {.kind = BILL_ACTOR_CLI, .username = "ops"};

static char *mk_customer(bill_db *db, int64_t *created)
{
    bill_customer_input in = {.version = BILL_CUSTOMER_INPUT_VERSION, .name = "Clock"};
    bill_customer *c = NULL;
    ck_assert_int_eq(bill_customer_create(db, &cli, &in, &c), BILL_OK);
    char *id = strdup(c->id);
    if (created)
        *created = c->created_at;
    bill_customer_free(c);
    return id;
}

START_TEST(test_clock__default_is_wall_clock)
{
    bill_db *db = bill_test_db_new();
    ck_assert(!bill_db_clock_injected(db));
    int64_t before = bill_time_now();
    int64_t created = 0;
    char *cid = mk_customer(db, &created);
    int64_t after = bill_time_now();
    /* the database's own clock, within a generous minute of ours */
    ck_assert_int_ge(created, before - 60 * BILL_USEC_PER_SEC);
    ck_assert_int_le(created, after + 60 * BILL_USEC_PER_SEC);
    ck_assert_int_ge(bill_db_now(db), before);
    free(cid);
    bill_db_close(db);
}
END_TEST

START_TEST(test_clock__sql_and_c_read_the_injected_instant)
{
    char *url = NULL;
    bill_db *db = bill_test_db_new_url(&url);
    int64_t now = bill_test_at("2031-03-01T12:00:00.250000Z");
    bill_db_set_clock(db, bill_test_clock_fixed, &now);
    ck_assert(bill_db_clock_injected(db));
    ck_assert_int_eq(bill_db_now(db), now);

    int64_t created = 0;
    char *cid = mk_customer(db, &created);
    ck_assert_int_eq(created, now); /* microseconds kept */

    /* An invoice issued "in 2031" takes that year's number and due date. */
    bill_invoice_item_input item = {.description = "x", .quantity = 1, .unit_price = 100};
    bill_invoice_input in = {.version = BILL_INVOICE_INPUT_VERSION, .customer_id = cid, .items = &item, .item_count = 1};
    bill_invoice *v = NULL;
    ck_assert_int_eq(bill_invoice_create(db, &cli, &in, &v), BILL_OK);
    char *iid = strdup(v->id);
    bill_invoice_free(v);
    ck_assert_int_eq(bill_invoice_issue(db, &cli, iid, &v), BILL_OK);
    ck_assert_str_eq(v->invoice_number, "INV-2031-000001");
    ck_assert_int_eq(v->issued_at, now);
    ck_assert_str_eq(v->due_date, "2031-03-08");
    bill_invoice_free(v);

    /* overdue from the day after the due date, by the handle's clock */
    int64_t n = -1;
    now = bill_test_at("2031-03-08T23:59:59Z");
    ck_assert_int_eq(bill_invoice_mark_overdue(db, 0, &n), BILL_OK);
    ck_assert_int_eq(n, 0);
    now = bill_test_at("2031-03-09T00:00:00Z");
    ck_assert_int_eq(bill_invoice_mark_overdue(db, 0, &n), BILL_OK);
    ck_assert_int_eq(n, 1);

    /* Unpaid-order TTL: 24 h after creation by the clock. */
    const char *pid = bill_test_product_monthly(db, "VPS", 1000);
    now = bill_test_at("2031-04-01T00:00:00Z");
    bill_order_input oi = {.version = BILL_ORDER_INPUT_VERSION, .customer_id = cid, .product_id = pid};
    bill_order *o = NULL;
    ck_assert_int_eq(bill_order_create(db, NULL, &cli, &oi, &o), BILL_OK);
    char *oid = strdup(o->id);
    ck_assert_int_eq(o->created_at, now);
    bill_order_free(o);
    now = bill_test_at("2031-04-02T00:00:00Z"); /* exactly 24 h: not older than the TTL yet */
    ck_assert_int_eq(bill_order_cancel_expired(db, 0, 0, &n), BILL_OK);
    ck_assert_int_eq(n, 0);
    now = bill_test_at("2031-04-02T00:00:01Z");
    ck_assert_int_eq(bill_order_cancel_expired(db, 0, 0, &n), BILL_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(bill_order_get(db, &cli, oid, &o), BILL_OK);
    ck_assert_str_eq(o->status, "cancelled");
    bill_order_free(o);

    /* Clearing the clock gives the database's time back on every pooled
     * connection (the session setting is reset when next borrowed). */
    bill_db_set_clock(db, NULL, NULL);
    ck_assert(!bill_db_clock_injected(db));
    int64_t wall = 0;
    char *cid2 = mk_customer(db, &wall);
    ck_assert_int_lt(wall, bill_test_at("2031-01-01T00:00:00Z"));
    ck_assert_int_gt(wall, bill_test_at("2020-01-01T00:00:00Z"));

    free(cid2);
    free(oid);
    free(iid);
    free(cid);
    free(url);
    bill_db_close(db);
}
END_TEST

static int ran;
static int count_run(const bill_event *ev, void *user)
{
    (void)ev;
    (void)user;
    ran++;
    return BILL_OK;
}

START_TEST(test_clock__events_are_due_by_the_clock)
{
    char *url = NULL;
    bill_db *db = bill_test_db_new_url(&url);
    int64_t now = bill_test_at("2030-06-01T00:00:00Z");
    bill_db_set_clock(db, bill_test_clock_fixed, &now);
    bill_events *ev = NULL;
    int processed = 0;
    ck_assert_int_eq(bill_events_new(&ev, db, NULL), BILL_OK);
    ck_assert_int_eq(bill_events_register(ev, "tick", count_run, NULL), BILL_OK);
    ck_assert_int_eq(bill_event_enqueue(db, "tick", "{}", 0, 0, NULL), BILL_OK);
    ck_assert_int_eq(bill_event_enqueue(db, "tick", "{}", now + 10 * BILL_USEC_PER_SEC, 0, NULL),
                     BILL_OK);
    /* the first is due "now" although the wall clock is years earlier */
    ck_assert_int_eq(bill_events_run_once(ev, 10, &processed), BILL_OK);
    ck_assert_int_eq(processed, 1);
    now = bill_test_at("2030-06-01T00:00:09Z");
    ck_assert_int_eq(bill_events_run_once(ev, 10, &processed), BILL_OK);
    ck_assert_int_eq(processed, 0);
    now = bill_test_at("2030-06-01T00:00:10Z");
    ck_assert_int_eq(bill_events_run_once(ev, 10, &processed), BILL_OK);
    ck_assert_int_eq(processed, 1);
    ck_assert_int_eq(ran, 2);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM events WHERE status = "
                                                "'done' AND updated_at = '2030-06-01T00:00:10Z'"),
                     1);
    bill_events_free(ev);
    free(url);
    bill_db_close(db);
}
END_TEST

BILL_TEST_MAIN("clock", 60, NULL, NULL,
               test_clock__default_is_wall_clock, test_clock__sql_and_c_read_the_injected_instant,
               test_clock__events_are_due_by_the_clock);
