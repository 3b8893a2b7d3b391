/*
 * test_billing_rules.c — the edges of billing.md that test_billing.c's
 * scenarios leave out, each at the second before and the second of its
 * boundary with the injected clock: the renewal key enforced by the schema
 * itself, a gateway-confirmed payment of a suspended renewal (and of a
 * cancelled one), catching up one period per pass, retries in due-date
 * order before new renewals, the price fixed when the invoice is issued,
 * the invoice year being the year of issue, quarterly anchors on a month's
 * last day, configured lead and dunning days, a yearly -> monthly cycle
 * change that ends in a credit note, and the day edge of proration.
 */
#include "pg_harness.h"

#include "check_main.h"
#include "billing_world.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>



/* §6: one renewal per instance and period, enforced by the database even
 * for a writer that bypasses the engine; a cancelled one frees the period. */
START_TEST(test_billing_rules__renewal_key_in_the_schema)
{
    world w;
    book b;
    book_open(&w, &b, 1000, 0, 1000, -1, -1, "monthly", "2027-01-10T08:00:00Z");
    bill_billing_report r;
    pass_at(&w, "2027-02-03T00:00:00Z", &r);
    ck_assert_int_eq(r.issued, 1);
    bill_billing_report_clear(&r);
    char dup[700];
    snprintf(dup, sizeof dup,
             "INSERT INTO invoices (customer_id, invoice_number, instance_id, "
             "billing_period_start, billing_period_end, amount, total_amount, status, issued_at, "
             "due_date, kind) VALUES ('%s', 'INV-2027-900001', '%s', '2027-02-10', '2027-03-10', "
             "10, 10, 'issued', now(), '2027-02-10', 'renewal')",
             b.cust, b.inst);
    ck_assert_int_eq(bill_test_pg_exec(w.url, dup), -1); /* unique_violation */
    sql_ok(&w, "UPDATE invoices SET status = 'cancelled' WHERE instance_id = '%s'", b.inst);
    ck_assert_int_eq(bill_test_pg_exec(w.url, dup), 0);
    /* the key covers invoices made by hand too: a manual invoice of the
     * instance for that period start is refused while the renewal lives */
    char hand[700];
    snprintf(hand, sizeof hand,
             "INSERT INTO invoices (customer_id, invoice_number, instance_id, "
             "billing_period_start, billing_period_end, amount, total_amount, status, kind) "
             "VALUES ('%s', 'DRAFT-x', '%s', '2027-02-10', '2027-03-09', 10, 10, 'draft', "
             "'manual')", b.cust, b.inst);
    ck_assert_int_eq(bill_test_pg_exec(w.url, hand), -1);
    sql_ok(&w, "UPDATE invoices SET status = 'cancelled' WHERE instance_id = '%s'", b.inst);
    ck_assert_int_eq(bill_test_pg_exec(w.url, hand), 0);
    book_close(&w, &b);
}
END_TEST

/* §2 + §6: invoice generate (by hand) and the pass bill an instance's period
 * once between them. Generate first: the pass leaves the instance alone and
 * reports it (hand_invoiced), at the second of the lead time as after it.
 * Pass first: generate refuses that instance with a clear error naming the
 * renewal, invoices the others, and a rerun changes nothing. */
START_TEST(test_billing_rules__generate_and_pass_bill_a_period_once)
{
    world w;
    book k; /* its instance a is due Feb 10, b Feb 20 */
    book_open(&w, &k, 5000, 0, 1000, -1, -1, "monthly", "2027-01-10T08:00:00Z");
    char *cust = k.cust, *prod = k.prod, *a = k.inst;
    char *b = mk_instance(&w, cust, prod, "monthly", "2027-01-20T08:00:00Z");
    int64_t n = -1;
    bill_billing_report r;
    /* generate first, for a's next period (inclusive end): a manual invoice */
    w.now = at("2027-02-01T00:00:00Z");
    sql_ok(&w, "UPDATE instances SET status = 'suspended' WHERE id = '%s'", b); /* not generated */
    ck_assert_int_eq(bill_invoice_generate(w.db, &cli, cust, "2027-02-10", "2027-03-09", &n),
                     BILL_OK);
    ck_assert_int_eq(n, 1);
    sql_ok(&w, "UPDATE instances SET status = 'running' WHERE id = '%s'", b);
    pass_at(&w, "2027-02-02T23:59:59Z", &r); /* a day before a's lead time */
    ck_assert_int_eq(r.issued, 0);
    ck_assert_int_eq(r.hand_invoiced, 0);
    bill_billing_report_clear(&r);
    pass_at(&w, "2027-02-03T00:00:00Z", &r); /* a's lead time: invoiced by hand already */
    ck_assert_int_eq(r.issued, 0);
    ck_assert_int_eq(r.hand_invoiced, 1);
    bill_billing_report_clear(&r);
    /* paid by hand, it still bills the period; a dry run sees it as the pass does */
    char *manual = text(&w, "SELECT id FROM invoices WHERE instance_id = '%s'", a);
    ck_assert_int_eq(bill_invoice_mark_paid(w.db, &cli, manual, false, NULL), BILL_OK);
    free(manual);
    bill_billing_options dry;
    bill_billing_options_init(&dry);
    dry.dry_run = true;
    w.opts = &dry;
    pass_at(&w, "2027-02-03T00:01:00Z", &r);
    ck_assert_int_eq(r.issued, 0);
    ck_assert_int_eq(r.hand_invoiced, 1);
    bill_billing_report_clear(&r);
    w.opts = NULL;
    pass_at(&w, "2027-02-13T00:00:00Z", &r); /* b's lead time: b renews, a still left alone */
    ck_assert_int_eq(r.issued, 1);
    ck_assert_int_eq(r.hand_invoiced, 1);
    bill_billing_report_clear(&r);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices WHERE instance_id = '%s'", a), 1);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices WHERE instance_id = '%s' AND "
                             "kind = 'renewal' AND billing_period_start = '2027-02-20'", b), 1);
    /* pass first (b's renewal bills Feb 20 .. Mar 19): generating a period
     * that overlaps it is refused for b, with the renewal named */
    char *c = mk_instance(&w, cust, prod, "monthly", "2027-02-13T08:00:00Z");
    n = -1;
    int rc = bill_invoice_generate(w.db, &cli, cust, "2027-03-01", "2027-03-31", &n);
    ck_assert_int_eq(rc, BILL_ECONFLICT);
    char *num = text(&w, "SELECT invoice_number FROM invoices WHERE instance_id = '%s'", b);
    ck_assert_msg(strstr(bill_error_last()->message, b) &&
                      strstr(bill_error_last()->message, num) &&
                      strstr(bill_error_last()->message, "1 instance(s)"),
                  "%s", bill_error_last()->message);
    ck_assert_int_eq(n, 2); /* a (its renewal never issued) and c were invoiced */
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices WHERE instance_id = '%s'", b), 1);
    n = -1;
    ck_assert_int_eq(bill_invoice_generate(w.db, &cli, cust, "2027-03-01", "2027-03-31", &n),
                     BILL_ECONFLICT);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices WHERE kind = 'manual'%s", ""), 3);
    free(num), free(b), free(c);
    book_close(&w, &k);
}
END_TEST

static void counted(const bill_billing_report *r, int issued, int paid, int failed,
                    int unpriced, size_t invoices)
{
    ck_assert_int_eq(r->issued, issued);
    ck_assert_int_eq(r->paid, paid);
    ck_assert_int_eq(r->payment_failed, failed);
    ck_assert_int_eq(r->unpriced, unpriced);
    ck_assert_uint_eq(r->invoice_count, invoices);
}

/* A batch that is rolled back and run again (here: a serialization failure
 * raised once inside it) counts what it did once: issued, paid, short,
 * unpriced and the shortfall list — and the open renewal retried in step 1
 * likewise. */
START_TEST(test_billing_rules__retried_batch_counts_once)
{
    world w;
    world_open(&w);
    char *rich = mk_customer(&w, 10000, 0), *poor = mk_customer(&w, 1000, 0);
    char *prod = mk_product(&w, 1000, 2700, -1);
    char *p1 = mk_instance(&w, rich, prod, "monthly", "2027-01-10T08:00:00Z");
    char *p2 = mk_instance(&w, poor, prod, "monthly", "2027-01-10T09:00:00Z"); /* balance 0 */
    char *q = mk_instance(&w, rich, prod, "quarterly", "2027-01-10T10:00:00Z");
    /* q due on Feb 10 as well, its cycle without a price: unpriced */
    sql_ok(&w, "DELETE FROM product_prices WHERE product_id = '%s' AND cycle = 'quarterly'",
           prod);
    sql_ok(&w, "UPDATE instances SET next_due_date = '2027-02-10', current_period_start = "
               "'2027-01-10' WHERE id = '%s'", q);
    /* fails the first statement that writes an invoice line, once */
    sql_ok(&w, "CREATE SEQUENCE fail_once; CREATE FUNCTION fail_once() RETURNS trigger "
               "LANGUAGE plpgsql AS $$ BEGIN IF nextval('fail_once') = 1 THEN RAISE EXCEPTION "
               "'injected' USING ERRCODE = '40001'; END IF; RETURN NEW; END $$; "
               "CREATE TRIGGER fail_once BEFORE INSERT ON invoice_items FOR EACH ROW "
               "EXECUTE FUNCTION fail_once()");
    bill_billing_options o;
    bill_billing_options_init(&o);
    o.details = true;
    w.opts = &o;
    bill_billing_report r;
    pass_at(&w, "2027-02-03T00:00:00Z", &r);
    ck_assert_int_ge(one(&w, "SELECT last_value FROM fail_once%s", ""), 2); /* failed once */
    counted(&r, 2, 1, 1, 1, 2);
    ck_assert_int_eq(r.issued_amount, 2000);
    ck_assert_int_eq(r.shortfall_amount, 1000);
    ck_assert_uint_eq(r.shortfall_count, 1);
    ck_assert_str_eq(r.shortfalls[0].customer_id, poor);
    ck_assert_int_eq(r.shortfalls[0].unpaid, 1000);
    bill_billing_report_clear(&r);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices WHERE kind = 'renewal'%s", ""), 2);
    /* step 1 retries the poor customer's open renewal: make it fail once */
    sql_ok(&w, "ALTER SEQUENCE fail_once RESTART; DROP TRIGGER fail_once ON invoice_items; "
               "CREATE TRIGGER fail_once BEFORE INSERT ON payments FOR EACH ROW "
               "EXECUTE FUNCTION fail_once()");
    recharge(&w, poor, 1000);
    pass_at(&w, "2027-02-04T00:00:00Z", &r);
    ck_assert_int_ge(one(&w, "SELECT last_value FROM fail_once%s", ""), 2);
    counted(&r, 0, 1, 0, 1, 1);
    ck_assert_int_eq(r.paid_amount, 1000);
    bill_billing_report_clear(&r);
    free(p1), free(p2), free(q), free(prod), free(rich), free(poor);
    world_close(&w);
}
END_TEST

/* §3: a confirmed gateway payment of a renewal (the existing callback path)
 * pays it, moves the due date to the period end and brings a suspended
 * instance back; money for a cancelled renewal is never dropped (it goes to
 * the balance) and the invoice stays cancelled; paying it by hand is
 * refused. */
START_TEST(test_billing_rules__gateway_payment_of_a_renewal)
{
    world w;
    world_open(&w);
    char *cust = mk_customer(&w, 2000, 0); /* both orders take it all */
    char *prod = mk_product(&w, 1000, -1, -1);
    char *a = mk_instance(&w, cust, prod, "monthly", "2027-01-10T08:00:00Z");
    char *b = mk_instance(&w, cust, prod, "monthly", "2027-01-10T09:00:00Z");
    bill_billing_report r;
    pass_at(&w, "2027-02-13T00:00:00Z", &r); /* issued late, short */
    ck_assert_int_eq(r.issued, 2);
    ck_assert_int_eq(r.payment_failed, 2);
    bill_billing_report_clear(&r);
    pass_at(&w, "2027-02-13T00:01:00Z", &r); /* 3 days late: suspended */
    ck_assert_int_eq(r.suspended, 2);
    bill_billing_report_clear(&r);
    char *va = text(&w, "SELECT id FROM invoices WHERE instance_id = '%s'", a);
    char *vb = text(&w, "SELECT id FROM invoices WHERE instance_id = '%s'", b);
    sql_ok(&w, "INSERT INTO payments (customer_id, invoice_id, amount, gateway_id, "
               "gateway_payment_id, status) VALUES ('%s', '%s', 10.00, 'gw', 'r-a', 'pending'), "
               "('%s', '%s', 10.00, 'gw', 'r-b', 'pending')", cust, va, cust, vb);

    w.now = at("2027-02-14T10:00:00Z");
    ck_assert_int_eq(bill_payment_confirm(w.db, NULL, NULL, "gw", "r-a", 1000, "TX-A", NULL),
                     BILL_OK);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices WHERE id = '%s' AND status = 'paid' "
                             "AND paid_at = '2027-02-14T10:00:00Z'", va), 1);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM instances WHERE id = '%s' AND status = "
                             "'running' AND next_due_date = '2027-03-10' AND "
                             "current_period_start = '2027-02-10'", a), 1);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM instance_periods WHERE instance_id = '%s' "
                             "AND period_start = '2027-02-10' AND period_end = '2027-03-10' AND "
                             "basis = 10.00", a), 1);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM events WHERE kind = 'provider.action' AND "
                             "payload->>'instance_id' = '%s' AND payload->>'action' = "
                             "'unsuspend'", a), 1);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM events WHERE kind = 'notify' AND "
                             "payload->>'kind' = 'instance.unsuspended' AND "
                             "payload->'data'->>'instance_id' = '%s'", a), 1);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM customers WHERE id = '%s' AND balance = 0",
                         cust), 1);
    /* the next pass leaves it alone */
    pass_at(&w, "2027-02-14T10:01:00Z", &r);
    ck_assert_int_eq(r.unsuspended, 0);
    ck_assert_int_eq(r.suspended, 0);
    bill_billing_report_clear(&r);

    /* b is terminated (14 days late), its renewal cancelled; the gateway's
     * money arriving afterwards credits the balance */
    pass_at(&w, "2027-02-24T00:00:00Z", &r);
    ck_assert_int_eq(r.terminated, 1);
    bill_billing_report_clear(&r);
    ck_assert_int_eq(bill_invoice_mark_paid(w.db, &cli, vb, false, NULL), BILL_ESTATE);
    w.now = at("2027-02-24T12:00:00Z");
    ck_assert_int_eq(bill_payment_confirm(w.db, NULL, NULL, "gw", "r-b", 1000, "TX-B", NULL),
                     BILL_OK);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices WHERE id = '%s' AND status = "
                             "'cancelled' AND paid_amount = 0", vb), 1);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM instances WHERE id = '%s' AND status = "
                             "'terminated'", b), 1);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM customers WHERE id = '%s' AND balance = "
                             "10.00", cust), 1);
    ck_assert_int_eq(bill_balance_verify(w.db, cust), BILL_OK);
    free(va), free(vb), free(a), free(b), free(prod), free(cust);
    world_close(&w);
}
END_TEST

/* §2: after missed passes each pass catches up one period (never two
 * invoices for one instance in one pass); a second pass at the same
 * instant issues nothing. */
static const step catch_up[] = {
    /*  at                       op      issued paid fail od  su  un  te  status     next_due      number             invoice  balance */
    {"2027-04-19T23:59:59Z", PASS, NULL, 1, 1, 0, 0, 0, 0, 0, "running", "2027-03-10", "INV-2027-000001", "paid", "80.00"},
    {"2027-04-19T23:59:59Z", PASS, NULL, 0, 0, 0, 0, 0, 0, 0, "running", "2027-03-10", "INV-2027-000001", "paid", "80.00"},
    {"2027-04-20T00:00:00Z", PASS, NULL, 1, 1, 0, 0, 0, 0, 0, "running", "2027-04-10", "INV-2027-000002", "paid", "70.00"},
    {"2027-04-20T00:00:01Z", PASS, NULL, 1, 1, 0, 0, 0, 0, 0, "running", "2027-05-10", "INV-2027-000003", "paid", "60.00"},
    {"2027-04-20T00:00:02Z", PASS, NULL, 0, 0, 0, 0, 0, 0, 0, "running", "2027-05-10", "INV-2027-000003", "paid", "60.00"},
};

START_TEST(test_billing_rules__catch_up_one_period_per_pass)
{
    world w;
    book b;
    book_open(&w, &b, 10000, 0, 1000, -1, -1, "monthly", "2027-01-10T08:00:00Z");
    PLAY(&w, b.cust, b.inst, catch_up);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices WHERE instance_id = '%s' AND "
                             "billing_period_start = '2027-02-10' AND billing_period_end = "
                             "'2027-03-10' AND due_date = '2027-02-10'", b.inst), 1);
    book_close(&w, &b);
}
END_TEST

/* §3: each pass first retries the open renewals, oldest due date first
 * (then creation order), and only then issues new ones. */
START_TEST(test_billing_rules__retries_oldest_due_first_then_new)
{
    world w;
    world_open(&w);
    char *cust = mk_customer(&w, 3000, 0); /* the three orders take it all */
    char *prod = mk_product(&w, 1000, -1, -1);
    char *a = mk_instance(&w, cust, prod, "monthly", "2027-01-12T08:00:00Z");
    char *b = mk_instance(&w, cust, prod, "monthly", "2027-01-10T08:00:00Z");
    char *n = mk_instance(&w, cust, prod, "monthly", "2027-01-09T08:00:00Z");
    /* b was created after a (an imported instance) but is due first; n is
     * held back by hand until Feb 6 */
    sql_ok(&w, "UPDATE instances SET created_at = '2027-01-20T00:00:00Z' WHERE id = '%s'", b);
    sql_ok(&w, "UPDATE instances SET status = 'suspended' WHERE id = '%s'", n);
    bill_billing_report r;
    pass_at(&w, "2027-02-05T00:00:00Z", &r);
    ck_assert_int_eq(r.issued, 2); /* a (due Feb 12), b (due Feb 10) */
    ck_assert_int_eq(r.payment_failed, 2);
    bill_billing_report_clear(&r);
    recharge(&w, cust, 1000);
    pass_at(&w, "2027-02-05T12:00:00Z", &r);
    ck_assert_int_eq(r.paid, 1);
    bill_billing_report_clear(&r);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices WHERE instance_id = '%s' AND status "
                             "= 'paid'", b), 1);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices WHERE instance_id = '%s' AND status "
                             "= 'issued'", a), 1);
    /* n is billed again from Feb 6: its renewal (due Feb 9, the earliest of
     * all) is new, so a's open one (due Feb 12) is paid before it */
    sql_ok(&w, "UPDATE instances SET status = 'running' WHERE id = '%s'", n);
    recharge(&w, cust, 1000);
    pass_at(&w, "2027-02-06T00:00:00Z", &r);
    ck_assert_int_eq(r.issued, 1);
    ck_assert_int_eq(r.paid, 1);
    ck_assert_int_eq(r.payment_failed, 1);
    bill_billing_report_clear(&r);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices WHERE instance_id = '%s' AND status "
                             "= 'paid'", a), 1);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices WHERE instance_id = '%s' AND status "
                             "= 'issued' AND due_date = '2027-02-09'", n), 1);
    free(a), free(b), free(n), free(prod), free(cust);
    world_close(&w);
}
END_TEST

/* §2: the price is the product's price for the cycle when the invoice is
 * issued; an issued invoice never changes. */
START_TEST(test_billing_rules__price_fixed_at_issue)
{
    world w;
    world_open(&w);
    char *cust = mk_customer(&w, 1000, 0);
    char *prod = mk_product(&w, 1000, -1, -1);
    char *inst = mk_instance(&w, cust, prod, "monthly", "2027-01-10T08:00:00Z");
    bill_billing_report r;
    pass_at(&w, "2027-02-03T00:00:00Z", &r);
    ck_assert_int_eq(r.issued_amount, 1000);
    bill_billing_report_clear(&r);
    bill_product_input in = {.version = BILL_PRODUCT_INPUT_VERSION};
    in.has_price[BILL_CYCLE_MONTHLY] = true;
    in.prices[BILL_CYCLE_MONTHLY] = 1500;
    ck_assert_int_eq(bill_product_update(w.db, &cli, prod, &in, BILL_PRODUCT_SET_CYCLE_PRICES,
                                         NULL), BILL_OK);
    recharge(&w, cust, 2500);
    pass_at(&w, "2027-02-04T00:00:00Z", &r);
    ck_assert_int_eq(r.paid, 1);
    ck_assert_int_eq(r.paid_amount, 1000);
    bill_billing_report_clear(&r);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices WHERE instance_id = '%s' AND "
                             "total_amount = 10.00 AND status = 'paid'", inst), 1);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoice_items ii JOIN invoices v ON v.id = "
                             "ii.invoice_id WHERE v.instance_id = '%s' AND ii.amount = 10.00",
                         inst), 1);
    pass_at(&w, "2027-03-03T00:00:00Z", &r); /* the March renewal: the new price */
    ck_assert_int_eq(r.issued_amount, 1500);
    ck_assert_int_eq(r.paid, 1);
    bill_billing_report_clear(&r);
    char *bal = text(&w, "SELECT balance FROM customers WHERE id = '%s'", cust);
    ck_assert_str_eq(bal, "0.00");
    free(bal), free(inst), free(prod), free(cust);
    world_close(&w);
}
END_TEST

/* §2: INV-<UTC year of issue>: a renewal due in January issued on Dec 31 is
 * numbered in the old year; the first issued at 2028-01-01T00:00:00Z opens
 * the new year's counter at 000001. */
START_TEST(test_billing_rules__invoice_year_is_the_year_of_issue)
{
    world w;
    world_open(&w);
    char *cust = mk_customer(&w, 10000, 0);
    char *prod = mk_product(&w, 1000, -1, -1);
    char *a = mk_instance(&w, cust, prod, "monthly", "2027-12-07T08:00:00Z"); /* due Jan 7 */
    char *b = mk_instance(&w, cust, prod, "monthly", "2027-12-08T08:00:00Z"); /* due Jan 8 */
    bill_billing_report r;
    pass_at(&w, "2027-12-30T23:59:59Z", &r);
    ck_assert_int_eq(r.issued, 0);
    bill_billing_report_clear(&r);
    pass_at(&w, "2027-12-31T00:00:00Z", &r);
    ck_assert_int_eq(r.issued, 1);
    bill_billing_report_clear(&r);
    pass_at(&w, "2027-12-31T23:59:59Z", &r);
    ck_assert_int_eq(r.issued, 0);
    bill_billing_report_clear(&r);
    pass_at(&w, "2028-01-01T00:00:00Z", &r);
    ck_assert_int_eq(r.issued, 1);
    bill_billing_report_clear(&r);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices WHERE instance_id = '%s' AND "
                             "invoice_number = 'INV-2027-000001' AND due_date = '2028-01-07'", a),
                     1);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices WHERE instance_id = '%s' AND "
                             "invoice_number = 'INV-2028-000001' AND due_date = '2028-01-08'", b),
                     1);
    free(a), free(b), free(prod), free(cust);
    world_close(&w);
}
END_TEST

/* §1: quarterly from Nov 30: Feb 28, May 30 (not May 28), Aug 30, Nov 30,
 * Feb 29 of the leap year; priced at the quarterly price. */
START_TEST(test_billing_rules__quarterly_from_a_month_end)
{
    static const char *const dues[] = {"2027-02-28", "2027-05-30", "2027-08-30", "2027-11-30",
                                       "2028-02-29", "2028-05-30"};
    world w;
    book b;
    book_open(&w, &b, 100000, 0, 1000, 2700, -1, "quarterly", "2026-11-30T22:00:00Z");
    walk_dues(&w, b.inst, dues, sizeof dues / sizeof dues[0], 2700, "quarterly");
    book_close(&w, &b);
}
END_TEST

/* §2 + §4 with [billing] invoice_days_before = 3, suspend_after_days = 1,
 * terminate_after_days = 5: every edge moves with the configuration. */
static const step configured[] = {
    /*  at                       op      issued paid fail od  su  un  te  status     next_due      number             invoice  balance */
    {"2027-02-06T23:59:59Z", PASS, NULL, 0, 0, 0, 0, 0, 0, 0, "running", "2027-02-10", "", "", "0.00"},
    {"2027-02-07T00:00:00Z", PASS, NULL, 1, 0, 1, 0, 0, 0, 0, "running", "2027-02-10", "INV-2027-000001", "issued", "0.00"},
    {"2027-02-10T23:59:59Z", PASS, NULL, 0, 0, 1, 0, 0, 0, 0, "running", NULL, NULL, "issued", NULL},
    {"2027-02-11T00:00:00Z", PASS, NULL, 0, 0, 1, 1, 1, 0, 0, "suspended", NULL, NULL, "overdue", NULL},
    {"2027-02-14T23:59:59Z", PASS, NULL, 0, 0, 1, 0, 0, 0, 0, "suspended", NULL, NULL, "overdue", NULL},
    {"2027-02-15T00:00:00Z", PASS, NULL, 0, 0, 1, 0, 0, 0, 1, "terminated", "2027-02-10", NULL, "cancelled", NULL},
};

START_TEST(test_billing_rules__configured_lead_and_dunning_days)
{
    world w;
    world_open(&w);
    bill_billing_options o;
    bill_billing_options_init(&o);
    o.invoice_days_before = 3;
    o.suspend_after_days = 1;
    o.terminate_after_days = 5;
    w.opts = &o;
    char *cust = mk_customer(&w, 1000, 0);
    char *prod = mk_product(&w, 1000, -1, -1);
    char *inst = mk_instance(&w, cust, prod, "monthly", "2027-01-10T08:00:00Z");
    PLAY(&w, cust, inst, configured);
    free(inst), free(prod), free(cust);
    world_close(&w);
}
END_TEST

/* §5: yearly 100.00 -> monthly 10.00 on 2027-07-02: 183/365 of the year
 * credited (50.136... -> 50.14), a month charged in full from X; net
 * -40.14 is a credit note and a ledger adjustment; anchor = X. Refused
 * with nothing written when the balance cannot pay a positive net. */
START_TEST(test_billing_rules__cycle_change_down_credits_the_rest)
{
    world w;
    world_open(&w);
    char *cust = mk_customer(&w, 10000, 0); /* 0.00 left after the year */
    char *prod = mk_product(&w, 1000, 2700, 10000);
    char *inst = mk_instance(&w, cust, prod, "yearly", "2027-01-01T09:00:00Z");
    char *other = mk_customer(&w, 1000, 0);
    char *oi = mk_instance(&w, other, prod, "monthly", "2027-07-01T09:00:00Z");
    bill_billing_change c;
    w.now = at("2027-07-02T00:00:00Z");
    /* monthly -> yearly costs 100.00 - 9.68 = 90.32 that `other` lacks */
    ck_assert_int_eq(bill_instance_change_cycle(w.db, NULL, &cli, oi, "yearly", false, &c),
                     BILL_EFUNDS);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices%s", ""), 0);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM instances WHERE id = '%s' AND billing_cycle "
                             "= 'monthly' AND anchor_date = '2027-07-01'", oi), 1);

    int rc = bill_instance_change_cycle(w.db, NULL, &cli, inst, "monthly", false, &c);
    ck_assert_msg(rc == BILL_OK, "%s", bill_error_last()->message);
    char b[BILL_MONEY_BUFSZ];
    ck_assert_uint_eq(c.line_count, 2);
    ck_assert_str_eq(c.lines[0].kind, "credit");
    ck_assert_str_eq(bill_money_format(c.lines[0].amount, b), "-50.14");
    ck_assert_str_eq(c.lines[0].why, "183/365 days of 100.00");
    ck_assert_str_eq(c.lines[1].kind, "charge");
    ck_assert_str_eq(bill_money_format(c.lines[1].amount, b), "10.00");
    ck_assert_str_eq(c.lines[1].why, "whole period (31 days) of 10.00");
    ck_assert_str_eq(bill_money_format(c.net, b), "-40.14");
    ck_assert_str_eq(c.credit_number, "CN-2027-000001");
    ck_assert_str_eq(c.anchor_date, "2027-07-02");
    ck_assert_str_eq(c.next_due_date, "2027-08-02");
    bill_billing_change_clear(&c);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM credit_notes n JOIN balance_transactions t "
                             "ON t.id = n.balance_tx_id WHERE n.instance_id = '%s' AND n.amount "
                             "= 40.14 AND t.transaction_type = 'adjustment' AND t.amount = 40.14",
                         inst), 1);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM customers WHERE id = '%s' AND balance = "
                             "40.14", cust), 1);
    ck_assert_int_eq(bill_balance_verify(w.db, cust), BILL_OK);
    /* the next renewal: monthly from the new anchor, issued 7 days ahead */
    bill_billing_report r;
    pass_at(&w, "2027-07-25T23:59:59Z", &r); /* `other`'s Aug 1 renewal only */
    bill_billing_report_clear(&r);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices WHERE instance_id = '%s' AND kind = "
                             "'renewal'", inst), 0);
    pass_at(&w, "2027-07-26T00:00:00Z", &r);
    bill_billing_report_clear(&r);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices WHERE instance_id = '%s' AND kind = "
                             "'renewal' AND status = 'paid' AND total_amount = 10.00 AND "
                             "billing_period_start = '2027-08-02' AND billing_period_end = "
                             "'2027-09-02'", inst), 1);
    free(inst), free(oi), free(prod), free(cust), free(other);
    world_close(&w);
}
END_TEST

/* §5: the whole day of the change belongs to the new state: at
 * 2027-01-15T23:59:59Z 17 days of January remain, at 2027-01-16T00:00:00Z
 * 16 (the previews write nothing). */
START_TEST(test_billing_rules__proration_day_edge)
{
    world w;
    world_open(&w);
    char *cust = mk_customer(&w, 5000, 0);
    char *cheap = mk_product(&w, 1000, -1, -1), *dear = mk_product(&w, 2000, -1, -1);
    char *inst = mk_instance(&w, cust, cheap, "monthly", "2027-01-01T09:00:00Z");
    static const struct {
        const char *at, *credit, *credit_why, *charge, *net;
    } edge[] = {
        {"2027-01-15T23:59:59Z", "-5.48", "17/31 days of 10.00", "10.97", "5.49"},
        {"2027-01-16T00:00:00Z", "-5.16", "16/31 days of 10.00", "10.32", "5.16"},
        {"2027-01-31T23:59:59Z", "-0.32", "1/31 days of 10.00", "0.65", "0.33"},
    };
    char b[BILL_MONEY_BUFSZ];
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
        bill_billing_change c;
        w.now = at(edge[i].at);
        ck_assert_int_eq(bill_instance_change_product(w.db, NULL, &cli, inst, dear, true, &c),
                         BILL_OK);
        ck_assert_uint_eq(c.line_count, 2);
        ck_assert_msg(strcmp(bill_money_format(c.lines[0].amount, b), edge[i].credit) == 0,
                      "%s: credit %s", edge[i].at, b);
        ck_assert_str_eq(c.lines[0].why, edge[i].credit_why);
        ck_assert_msg(strcmp(bill_money_format(c.lines[1].amount, b), edge[i].charge) == 0,
                      "%s: charge %s", edge[i].at, b);
        ck_assert_msg(strcmp(bill_money_format(c.net, b), edge[i].net) == 0, "%s: net %s",
                      edge[i].at, b);
        bill_billing_change_clear(&c);
    }
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices%s", ""), 0);
    free(inst), free(cheap), free(dear), free(cust);
    world_close(&w);
}
END_TEST

BILL_TEST_MAIN("billing_rules", 120, NULL, NULL, test_billing_rules__renewal_key_in_the_schema,
               test_billing_rules__generate_and_pass_bill_a_period_once,
               test_billing_rules__retried_batch_counts_once,
               test_billing_rules__gateway_payment_of_a_renewal,
               test_billing_rules__catch_up_one_period_per_pass,
               test_billing_rules__retries_oldest_due_first_then_new,
               test_billing_rules__price_fixed_at_issue,
               test_billing_rules__invoice_year_is_the_year_of_issue,
               test_billing_rules__quarterly_from_a_month_end,
               test_billing_rules__configured_lead_and_dunning_days,
               test_billing_rules__cycle_change_down_credits_the_rest,
               test_billing_rules__proration_day_edge);
