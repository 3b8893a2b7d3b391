/*
 * test_notify_events.c — domain events that become notifications.
 *
 * "ticket.assigned" (ticket assignment) must notify the old and the new assignee
 * once each; "notify.verification_code" (SendVerificationCode) must notify the
 * address the code was asked for. Both are turned into "notify" events by the
 * provisioning handlers, which then fan out to the enabled notifier plugins.
 */
#include "check_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bill/bill.h"
#include "bill/admin_user.h"
#include "bill/customer.h"
#include "bill/customer_user.h"
#include "bill/events.h"
#include "bill/invoice.h"
#include "bill/payment.h"
#include "bill/provision.h"
#include "bill/ticket.h"
#include "pg_harness.h"

static const bill_actor cli = {.kind = BILL_ACTOR_CLI, .username = "test"};

static long long count(const char *url, const char *where)
{
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM events WHERE %s", where);
    return bill_test_pg_query_ll(url, sql);
}

/* Run the provisioning/notify handlers until the queue has nothing due. */
static void drain(bill_db *db)
{
    bill_provision *p = NULL;
    bill_events *ev = NULL;
    int n = 0;
    ck_assert_int_eq(bill_provision_new(&p, db, NULL, NULL), BILL_OK);
    ck_assert_int_eq(bill_events_new(&ev, db, NULL), BILL_OK);
    ck_assert_int_eq(bill_provision_register(p, ev), BILL_OK);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(bill_events_run_once(ev, 100, &n), BILL_OK);
    bill_events_free(ev);
    bill_provision_free(p);
}

START_TEST(test_notify__ticket_assigned_tells_old_and_new_assignee_once)
{
    char *url = NULL;
    bill_db *db = bill_test_db_new_url(&url);
    bill_admin_user *a = NULL, *b = NULL;
    bill_customer *cu = NULL;
    bill_ticket *t = NULL;
    bill_customer_input in = {.version = BILL_CUSTOMER_INPUT_VERSION, .name = "Acme"};

    ck_assert_int_eq(bill_admin_user_create(db, &cli, "alice", "secret-1", "support",
                                            "alice@example.com", NULL, &a), BILL_OK);
    ck_assert_int_eq(bill_admin_user_create(db, &cli, "bob", "secret-2", "support",
                                            "bob@example.com", NULL, &b), BILL_OK);
    ck_assert_int_eq(bill_customer_create(db, &cli, &in, &cu), BILL_OK);
    ck_assert_int_eq(bill_ticket_create(db, &cli, cu->id, "Disk full", "help", NULL, &t),
                     BILL_OK);
    ck_assert_int_eq(bill_ticket_assign(db, &cli, t->id, a->id), BILL_OK);
    drain(db);
    /* first assignment: only the new assignee */
    ck_assert_int_eq(count(url, "kind = 'notify' AND payload->>'kind' = 'ticket.assigned'"), 1);
    ck_assert_int_eq(count(url, "kind = 'notify' AND payload->>'recipient' = 'alice@example.com'"),
                     1);
    ck_assert_int_eq(bill_ticket_assign(db, &cli, t->id, b->id), BILL_OK);
    drain(db);
    drain(db); /* running again queues nothing twice */
    ck_assert_int_eq(count(url, "kind = 'notify' AND payload->>'kind' = 'ticket.assigned'"), 3);
    ck_assert_int_eq(count(url, "kind = 'notify' AND payload->>'recipient' = 'alice@example.com'"),
                     2);
    ck_assert_int_eq(count(url, "kind = 'notify' AND payload->>'recipient' = 'bob@example.com' "
                                "AND payload->'data'->>'role' = 'new_assignee'"),
                     1);
    ck_assert_int_eq(count(url, "kind = 'ticket.assigned' AND status <> 'done'"), 0);
    ck_assert_int_eq(count(url, "status = 'dead'"), 0);

    bill_ticket_free(t);
    bill_customer_free(cu);
    bill_admin_user_free(a);
    bill_admin_user_free(b);
    bill_db_close(db);
    free(url);
}
END_TEST

START_TEST(test_notify__verification_code_is_sent_to_the_address)
{
    char *url = NULL, *code = NULL, sql[256];
    bill_db *db = bill_test_db_new_url(&url);
    int retry = 0;

    ck_assert_int_eq(bill_verification_code_send(db, "new@example.com", "register", 600, 60,
                                                 bill_time_now(), &retry, &code),
                     BILL_OK);
    drain(db);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM events WHERE kind = 'notify' AND "
             "payload->>'kind' = 'verification.code' AND payload->>'recipient' = "
             "'new@example.com' AND payload->>'body' LIKE '%%%s%%'", code);
    ck_assert_int_eq(bill_test_pg_query_ll(url, sql), 1);
    ck_assert_int_eq(count(url, "kind = 'notify.verification_code' AND status <> 'done'"), 0);
    free(code);
    bill_db_close(db);
    free(url);
}
END_TEST

START_TEST(test_notify__invoice_issued_and_payment_received_reach_the_customer)
{
    char *url = NULL, sql[512];
    bill_db *db = bill_test_db_new_url(&url);
    bill_customer *cu = NULL;
    bill_invoice *inv = NULL;
    bill_customer_input in = {.version = BILL_CUSTOMER_INPUT_VERSION,
                              .name = "Acme", .email = "billing@acme.example"};
    bill_invoice_item_input item = {.description = "VPS", .quantity = 2, .unit_price = 1050};
    bool already = true;

    ck_assert_int_eq(bill_customer_create(db, &cli, &in, &cu), BILL_OK);
    bill_invoice_input ii = {.version = BILL_INVOICE_INPUT_VERSION,
                             .customer_id = cu->id, .items = &item, .item_count = 1};
    ck_assert_int_eq(bill_invoice_create(db, &cli, &ii, &inv), BILL_OK);
    /* a draft says nothing */
    ck_assert_int_eq(count(url, "kind = 'notify'"), 0);
    ck_assert_int_eq(bill_invoice_issue(db, &cli, inv->id, NULL), BILL_OK);
    ck_assert_int_eq(count(url, "kind = 'notify' AND payload->>'kind' = 'invoice.issued' AND "
                                "payload->>'body' LIKE '%21.00%' AND "
                                "payload->'data'->>'invoice_number' LIKE 'INV-%'"),
                     1);

    snprintf(sql, sizeof sql,
             "INSERT INTO payments (id, customer_id, amount, gateway_id, gateway_payment_id) "
             "VALUES ('6c1f2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b', '%s', 12.50, 'bank', 'BT-1')",
             cu->id);
    ck_assert_int_eq(bill_test_pg_exec(url, sql), 0);
    ck_assert_int_eq(bill_payment_confirm(db, &cli, "6c1f2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b", NULL,
                                          NULL, 1250, "TX-1", &already), BILL_OK);
    ck_assert(!already);
    /* a replayed confirmation credits nothing and says nothing again */
    ck_assert_int_eq(bill_payment_confirm(db, &cli, "6c1f2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b", NULL,
                                          NULL, 1250, "TX-1", &already), BILL_OK);
    ck_assert(already);
    ck_assert_int_eq(count(url, "kind = 'notify' AND payload->>'kind' = 'payment.received' AND "
                                "payload->'data'->>'amount' = '12.50'"),
                     1);
    /* the fan-out finds the customer's address when it is sent */
    drain(db);
    ck_assert_int_eq(count(url, "kind = 'notify' AND status <> 'done'"), 0);
    ck_assert_int_eq(count(url, "status = 'dead'"), 0);

    bill_invoice_free(inv);
    bill_customer_free(cu);
    bill_db_close(db);
    free(url);
}
END_TEST

BILL_TEST_MAIN("notify_events", 120, NULL, NULL,
               test_notify__ticket_assigned_tells_old_and_new_assignee_once,
               test_notify__verification_code_is_sent_to_the_address,
               test_notify__invoice_issued_and_payment_received_reach_the_customer);
