/*
 * test_billing.c — the billing engine (billing.md §1-§4, §6) against a real
 * PostgreSQL with the handle's injected clock, written as tables of dated
 * scenarios: each row moves the clock, does one thing (a pass, a recharge,
 * a payment) and states what must hold afterwards — counts of the pass,
 * the instance's status and next due date, the latest renewal's number and
 * status, the balance. Every lead-time and dunning edge is tried at the
 * second before and the second of it.
 */
#include "pg_harness.h"

#include "check_main.h"
#include <glob.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "billing_world.h"

/* ---- §1 + §2: lead time, numbering, anniversaries from the anchor ---------------------- */

/* Paid 2027-01-31 10:00 (monthly 10.00): anchor Jan 31, due Feb 28, Mar 31,
 * Apr 30 (never the 28th); issued 7 days before each, auto-paid. */
static const step lead_time[] = {
    /*  at                       op      issued paid fail od  su  un  te  status     next_due      number             invoice  balance */
    {"2027-02-20T23:59:59Z", PASS, NULL, 0, 0, 0, 0, 0, 0, 0, "running", "2027-02-28", "", "", "90.00"},
    {"2027-02-21T00:00:00Z", PASS, NULL, 1, 1, 0, 0, 0, 0, 0, "running", "2027-03-31", "INV-2027-000001", "paid", "80.00"},
    {"2027-02-21T00:00:00Z", PASS, NULL, 0, 0, 0, 0, 0, 0, 0, "running", "2027-03-31", "INV-2027-000001", "paid", "80.00"},
    {"2027-03-23T23:59:59Z", PASS, NULL, 0, 0, 0, 0, 0, 0, 0, "running", "2027-03-31", "INV-2027-000001", "paid", "80.00"},
    {"2027-03-24T00:00:00Z", PASS, NULL, 1, 1, 0, 0, 0, 0, 0, "running", "2027-04-30", "INV-2027-000002", "paid", "70.00"},
    {"2027-04-23T00:00:00Z", PASS, NULL, 1, 1, 0, 0, 0, 0, 0, "running", "2027-05-31", "INV-2027-000003", "paid", "60.00"},
};

START_TEST(test_billing__lead_time_and_anniversaries)
{
    world w;
    book b;
    book_open(&w, &b, 10000, 0, 1000, 2700, 10000, "monthly", "2027-01-31T10:00:00Z");
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM instances WHERE id = '%s' AND anchor_date = "
                             "'2027-01-31' AND current_period_start = '2027-01-31'", b.inst), 1);
    PLAY(&w, b.cust, b.inst, lead_time);
    /* the renewal's period is half-open and its line says what it is */
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices WHERE instance_id = '%s' AND "
                             "invoice_number = 'INV-2027-000002' AND billing_period_start = "
                             "'2027-03-31' AND billing_period_end = '2027-04-30' AND due_date = "
                             "'2027-03-31' AND total_amount = 10.00 AND tax_amount = 0", b.inst), 1);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoice_items ii JOIN invoices v ON v.id = "
                             "ii.invoice_id WHERE v.instance_id = '%s' AND ii.kind = 'renewal' "
                             "AND ii.period_days = 30 AND ii.why = 'whole period (30 days)' AND "
                             "v.invoice_number = 'INV-2027-000002'", b.inst), 1);
    /* one ledger row and one payment per renewal; the ledger still chains */
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM balance_transactions WHERE customer_id = '%s' "
                             "AND transaction_type = 'payment' AND created_by = 'billing'", b.cust), 3);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM payments p JOIN invoices v ON v.id = "
                             "p.invoice_id WHERE v.instance_id = '%s' AND p.gateway_id = "
                             "'balance' AND p.status = 'success'", b.inst), 3);
    ck_assert_int_eq(bill_balance_verify(w.db, b.cust), BILL_OK);
    /* notifications: each renewal issued and auto-paid told once */
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM events WHERE kind = 'notify' AND payload->>"
                             "'kind' = 'invoice.renewal_issued' AND payload->>'customer_id' = '%s'",
                         b.cust), 3);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM events WHERE kind = 'notify' AND payload->>"
                             "'kind' = 'invoice.autopaid' AND payload->>'customer_id' = '%s'",
                         b.cust), 3);
    book_close(&w, &b);
}
END_TEST

/* Yearly, anchored on Feb 29 2028: Feb 28 in 2029-2031, Feb 29 again in 2032. */
static const step leap_yearly[] = {
    {"2029-02-20T23:59:59Z", PASS, NULL, 0, 0, 0, 0, 0, 0, 0, "running", "2029-02-28", "", "", "900.00"},
    {"2029-02-21T00:00:00Z", PASS, NULL, 1, 1, 0, 0, 0, 0, 0, "running", "2030-02-28", "INV-2029-000001", "paid", "800.00"},
    {"2030-02-21T00:00:00Z", PASS, NULL, 1, 1, 0, 0, 0, 0, 0, "running", "2031-02-28", "INV-2030-000001", "paid", "700.00"},
    {"2031-02-21T00:00:00Z", PASS, NULL, 1, 1, 0, 0, 0, 0, 0, "running", "2032-02-29", "INV-2031-000001", "paid", "600.00"},
    {"2032-02-21T23:59:59Z", PASS, NULL, 0, 0, 0, 0, 0, 0, 0, "running", "2032-02-29", NULL, NULL, "600.00"},
    {"2032-02-22T00:00:00Z", PASS, NULL, 1, 1, 0, 0, 0, 0, 0, "running", "2033-02-28", "INV-2032-000001", "paid", "500.00"},
};

START_TEST(test_billing__feb29_yearly_anchor)
{
    world w;
    book b;
    book_open(&w, &b, 100000, 0, 1000, 2700, 10000, "yearly", "2028-02-29T23:30:00Z");
    PLAY(&w, b.cust, b.inst, leap_yearly);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices WHERE instance_id = '%s' AND "
                             "billing_period_start = '2031-02-28' AND billing_period_end = "
                             "'2032-02-29'", b.inst), 1);
    book_close(&w, &b);
}
END_TEST

/* Monthly from Jan 31 of a leap year: every month's last day when shorter. */
START_TEST(test_billing__jan31_monthly_through_a_year)
{
    static const char *const dues[] = {
        "2028-02-29", "2028-03-31", "2028-04-30", "2028-05-31", "2028-06-30", "2028-07-31",
        "2028-08-31", "2028-09-30", "2028-10-31", "2028-11-30", "2028-12-31", "2029-01-31",
        "2029-02-28", "2029-03-31"};
    world w;
    book b;
    book_open(&w, &b, 100000, 0, 1000, -1, -1, "monthly", "2028-01-31T00:00:00Z");
    /* each pass on the due date itself (a late but unsuspended renewal) */
    walk_dues(&w, b.inst, dues, sizeof dues / sizeof dues[0], 1000, "monthly");
    book_close(&w, &b);
}
END_TEST

/* ---- §3 + §4: auto-pay all or nothing, dunning from the due date -------------------- */

/* Paid 2027-01-10 with exactly the price: the Feb 10 renewal cannot be paid.
 * Overdue from Feb 11, suspended from Feb 13 (3 days), a recharge is applied
 * by the next pass (running again, anniversary kept); the March renewal is
 * never paid: suspended Mar 13, terminated Mar 24 00:00:00 (14 days). */
static const step dunning[] = {
    {"2027-02-02T23:59:59Z", PASS, NULL, 0, 0, 0, 0, 0, 0, 0, "running", "2027-02-10", "", "", "0.00"},
    {"2027-02-03T00:00:00Z", PASS, NULL, 1, 0, 1, 0, 0, 0, 0, "running", "2027-02-10", "INV-2027-000001", "issued", "0.00"},
    {"2027-02-03T00:01:00Z", PASS, NULL, 0, 0, 1, 0, 0, 0, 0, "running", "2027-02-10", "INV-2027-000001", "issued", "0.00"},
    {"2027-02-10T23:59:59Z", PASS, NULL, 0, 0, 1, 0, 0, 0, 0, "running", "2027-02-10", "INV-2027-000001", "issued", "0.00"},
    {"2027-02-11T00:00:00Z", PASS, NULL, 0, 0, 1, 1, 0, 0, 0, "running", "2027-02-10", "INV-2027-000001", "overdue", "0.00"},
    {"2027-02-12T23:59:59Z", PASS, NULL, 0, 0, 1, 0, 0, 0, 0, "running", NULL, NULL, "overdue", NULL},
    {"2027-02-13T00:00:00Z", PASS, NULL, 0, 0, 1, 0, 1, 0, 0, "suspended", NULL, NULL, "overdue", NULL},
    {"2027-02-14T10:00:00Z", RECHARGE, "10.00", 0, 0, 0, 0, 0, 0, 0, "suspended", "2027-02-10", NULL, "overdue", "10.00"},
    {"2027-02-14T10:01:00Z", PASS, NULL, 0, 1, 0, 0, 0, 1, 0, "running", "2027-03-10", "INV-2027-000001", "paid", "0.00"},
    {"2027-03-03T00:00:00Z", PASS, NULL, 1, 0, 1, 0, 0, 0, 0, "running", "2027-03-10", "INV-2027-000002", "issued", "0.00"},
    {"2027-03-10T23:59:59Z", PASS, NULL, 0, 0, 1, 0, 0, 0, 0, "running", NULL, NULL, "issued", NULL},
    {"2027-03-11T00:00:00Z", PASS, NULL, 0, 0, 1, 1, 0, 0, 0, "running", NULL, NULL, "overdue", NULL},
    {"2027-03-12T23:59:59Z", PASS, NULL, 0, 0, 1, 0, 0, 0, 0, "running", NULL, NULL, "overdue", NULL},
    {"2027-03-13T00:00:00Z", PASS, NULL, 0, 0, 1, 0, 1, 0, 0, "suspended", NULL, NULL, "overdue", NULL},
    {"2027-03-23T23:59:59Z", PASS, NULL, 0, 0, 1, 0, 0, 0, 0, "suspended", NULL, NULL, "overdue", NULL},
    {"2027-03-24T00:00:00Z", PASS, NULL, 0, 0, 1, 0, 0, 0, 1, "terminated", "2027-03-10", "INV-2027-000002", "cancelled", "0.00"},
    {"2027-03-25T00:00:00Z", PASS, NULL, 0, 0, 0, 0, 0, 0, 0, "terminated", "2027-03-10", NULL, "cancelled", "0.00"},
};

START_TEST(test_billing__dunning_edges)
{
    world w;
    book b;
    book_open(&w, &b, 1000, 0, 1000, -1, -1, "monthly", "2027-01-10T08:00:00Z");
    PLAY(&w, b.cust, b.inst, dunning);
    /* every transition told once, with the shortfall */
    static const struct {
        const char *kind;
        long long n;
    } told[] = {{"invoice.renewal_issued", 2}, {"invoice.payment_failed", 2},
                {"invoice.overdue", 2},       {"instance.suspended", 2},
                {"instance.unsuspended", 1},  {"invoice.autopaid", 1},
                {"instance.terminated", 1}};
    for (size_t i = 0; i < sizeof told / sizeof told[0]; i++) {
        long long n = one(&w, "SELECT count(*) FROM events WHERE kind = 'notify' AND "
                              "payload->>'kind' = '%s' AND payload->>'customer_id' = '%s'",
                          told[i].kind, b.cust);
        ck_assert_msg(n == told[i].n, "%s told %lld times", told[i].kind, n);
    }
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM events WHERE kind = 'notify' AND "
                             "payload->'data'->>'shortfall' = '10.00' AND payload->>'customer_id' "
                             "= '%s'", b.cust), 2);
    /* provider actions: one per transition, recorded done (no provider) */
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM events WHERE kind = 'provider.action' AND "
                             "payload->>'instance_id' = '%s' AND status = 'done'", b.inst), 4);
    ck_assert_int_eq(one(&w, "SELECT (string_agg(payload->>'action', ',' ORDER BY id) = "
                             "'suspend,unsuspend,suspend,terminate')::int FROM events WHERE kind = "
                             "'provider.action' AND payload->>'instance_id' = '%s'", b.inst), 1);
    /* its order is terminated with it (order status "terminated", issue 8) */
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM orders o JOIN instances i ON i.order_id = o.id "
                             "WHERE i.id = '%s' AND o.status = 'terminated'", b.inst), 1);
    book_close(&w, &b);
}
END_TEST

/* One pass after a long silence terminates directly (termination first). */
static const step catch_up[] = {
    {"2027-02-03T00:00:00Z", PASS, NULL, 1, 0, 1, 0, 0, 0, 0, "running", "2027-02-10", "INV-2027-000001", "issued", NULL},
    /* the retry comes first and fails again, then termination (no suspend, no overdue) */
    {"2027-02-24T00:00:00Z", PASS, NULL, 0, 0, 1, 0, 0, 0, 1, "terminated", "2027-02-10", "INV-2027-000001", "cancelled", NULL},
};

/* Paid by hand (bank transfer confirmed outside) while suspended: running at
 * once, next due moves to the period end, the anniversary is kept. */
static const step paid_by_hand[] = {
    {"2027-02-03T00:00:00Z", PASS, NULL, 1, 0, 1, 0, 0, 0, 0, "running", "2027-02-10", "INV-2027-000002", "issued", NULL},
    {"2027-02-15T00:00:00Z", PASS, NULL, 0, 0, 1, 1, 1, 0, 0, "suspended", "2027-02-10", NULL, "overdue", NULL},
    {"2027-02-16T09:00:00Z", PAY_BY_HAND, NULL, 0, 0, 0, 0, 0, 0, 0, "running", "2027-03-10", "INV-2027-000002", "paid", "0.00"},
    {"2027-02-16T09:01:00Z", PASS, NULL, 0, 0, 0, 0, 0, 0, 0, "running", "2027-03-10", NULL, "paid", NULL},
};

START_TEST(test_billing__catch_up_and_paid_by_hand)
{
    world w;
    world_open(&w);
    char *c1 = mk_customer(&w, 1000, 0), *c2 = mk_customer(&w, 1000, 0);
    char *prod = mk_product(&w, 1000, -1, -1);
    char *i1 = mk_instance(&w, c1, prod, "monthly", "2027-01-10T08:00:00Z");
    PLAY(&w, c1, i1, catch_up);
    char *i2 = mk_instance(&w, c2, prod, "monthly", "2027-01-10T09:00:00Z");
    PLAY(&w, c2, i2, paid_by_hand);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM events WHERE kind = 'provider.action' AND "
                             "payload->>'instance_id' = '%s' AND payload->>'action' = "
                             "'unsuspend'", i2), 1);
    /* paying it again is refused */
    char *id = text(&w, "SELECT id FROM invoices WHERE instance_id = '%s'", i2);
    ck_assert_int_eq(bill_invoice_mark_paid(w.db, &cli, id, false, NULL), BILL_ESTATE);
    free(id);
    free(i1);
    free(i2);
    free(prod);
    free(c1);
    free(c2);
    world_close(&w);
}
END_TEST

/* Oldest due first, then creation order; all or nothing per invoice; the
 * credit limit counts to the cent. */
START_TEST(test_billing__all_or_nothing_in_order)
{
    world w;
    world_open(&w);
    char *big = mk_product(&w, 2000, -1, -1), *small = mk_product(&w, 1000, -1, -1);
    char *c = mk_customer(&w, 2000 + 1000 + 1500, 0); /* 15.00 left after both orders */
    char *a = mk_instance(&w, c, big, "monthly", "2027-01-10T08:00:00Z");
    char *b = mk_instance(&w, c, small, "monthly", "2027-01-10T09:00:00Z");
    char *d = mk_customer(&w, 1000, 1000), *e = mk_customer(&w, 1000, 999);
    char *di = mk_instance(&w, d, small, "monthly", "2027-01-10T10:00:00Z");
    char *ei = mk_instance(&w, e, small, "monthly", "2027-01-10T11:00:00Z");
    w.now = at("2027-02-03T00:00:00Z");
    bill_billing_options o;
    bill_billing_options_init(&o);
    o.details = true;
    bill_billing_report r;
    ck_assert_int_eq(bill_billing_run(w.db, NULL, &o, &r), BILL_OK);
    ck_assert_int_eq(r.issued, 4);
    ck_assert_int_eq(r.paid, 2);          /* b (10.00 of 15.00), d (0.00 - 10.00 >= -10.00) */
    ck_assert_int_eq(r.payment_failed, 2); /* a (20.00 > 15.00), e (0.01 short) */
    ck_assert_int_eq(r.shortfall_amount, 500 + 1);
    ck_assert_uint_eq(r.invoice_count, 4);
    /* numbers in pass order: due date, then creation order */
    ck_assert_str_eq(r.invoices[0].instance_id, a);
    ck_assert_str_eq(r.invoices[0].invoice_number, "INV-2027-000001");
    ck_assert(!r.invoices[0].paid);
    ck_assert_int_eq(r.invoices[0].shortfall, 500);
    ck_assert_str_eq(r.invoices[1].instance_id, b);
    ck_assert(r.invoices[1].paid);
    ck_assert_str_eq(r.invoices[3].instance_id, ei);
    ck_assert_int_eq(r.invoices[3].shortfall, 1);
    ck_assert_uint_eq(r.shortfall_count, 2);
    bill_billing_report_clear(&r);
    char *bal = text(&w, "SELECT balance FROM customers WHERE id = '%s'", c);
    ck_assert_str_eq(bal, "5.00");
    free(bal);
    bal = text(&w, "SELECT balance FROM customers WHERE id = '%s'", d);
    ck_assert_str_eq(bal, "-10.00");
    free(bal);
    free(a), free(b), free(di), free(ei), free(c), free(d), free(e), free(big), free(small);
    world_close(&w);
}
END_TEST

/* A recharge at `row_at`, then a pass at the earlier `pass_at_` that issues
 * and pays as told: the pass's ledger row is one microsecond after the
 * recharge's, not at its own clock. */
static void later_row_then_pass(world *w, const char *cust, const char *row_at,
                                const char *pass_at_, int issued, int paid)
{
    bill_billing_report r;
    w->now = at(row_at);
    recharge(w, cust, 1000);
    pass_at(w, pass_at_, &r);
    ck_assert_int_eq(r.issued, issued);
    ck_assert_int_eq(r.paid, paid);
    bill_billing_report_clear(&r);
    ck_assert_int_eq(one(w, "SELECT count(*) FROM balance_transactions WHERE customer_id = '%s' "
                            "AND created_by = 'billing' AND created_at = timestamptz '%s' + "
                            "interval '1 microsecond'", cust, row_at), 1);
}

/* The pass's ledger rows come after the customer's newest one, even when that
 * one is later than the pass's clock (a recharge made at a later instant, then
 * a pass run with an earlier --now), on the issuing path and on the path that
 * pays an open renewal, and the chain verifies. */
START_TEST(test_billing__ledger_rows_follow_the_newest)
{
    world w;
    book b;
    bill_billing_report r;
    book_open(&w, &b, 1000, 0, 1000, -1, -1, "monthly", "2027-01-31T10:00:00Z");
    /* issuing: the pass of Feb 21 pays the renewal after a recharge of Mar 5 */
    later_row_then_pass(&w, b.cust, "2027-03-05T12:00:00Z", "2027-02-21T00:00:00Z", 1, 1);
    /* paying an open renewal: issued unpaid on Mar 24, paid on Mar 25 after a recharge of Jun 1 */
    pass_at(&w, "2027-03-24T00:00:00Z", &r);
    ck_assert_int_eq(r.issued, 1);
    ck_assert_int_eq(r.paid, 0);
    bill_billing_report_clear(&r);
    later_row_then_pass(&w, b.cust, "2027-06-01T00:00:00Z", "2027-03-25T00:00:00Z", 0, 1);
    ck_assert_int_eq(bill_balance_verify(w.db, b.cust), BILL_OK);
    char *bal = text(&w, "SELECT balance FROM customers WHERE id = '%s'", b.cust);
    ck_assert_str_eq(bal, "0.00");
    free(bal);
    book_close(&w, &b);
}
END_TEST

/* ---- §6: dry run, races, time zone ----------------------------------------------------- */

START_TEST(test_billing__dry_run_writes_nothing)
{
    world w;
    book b;
    book_open(&w, &b, 1000, 0, 1000, -1, -1, "monthly", "2027-01-10T08:00:00Z");
    long long events = one(&w, "SELECT count(*) FROM events%s", "");
    long long evseq = one(&w, "SELECT last_value FROM events_id_seq%s", "");
    w.now = at("2027-02-13T00:00:00Z"); /* issue, fail, overdue and suspend in one go */
    bill_billing_options o;
    bill_billing_options_init(&o);
    o.dry_run = true;
    o.details = true;
    bill_billing_report r;
    ck_assert_int_eq(bill_billing_run(w.db, NULL, &o, &r), BILL_OK);
    ck_assert(r.dry_run);
    ck_assert_int_eq(r.issued, 1);
    ck_assert_int_eq(r.payment_failed, 1);
    ck_assert_uint_eq(r.invoice_count, 1);
    ck_assert_str_eq(r.invoices[0].invoice_number, "INV-2027-000001");
    bill_billing_report_clear(&r);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices WHERE instance_id = '%s'", b.inst), 0);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoice_number_counters%s", ""), 0);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM events%s", ""), events);
    ck_assert_int_eq(one(&w, "SELECT last_value FROM events_id_seq%s", ""), evseq);
    /* the real pass then takes the first number */
    ck_assert_int_eq(bill_billing_run(w.db, NULL, NULL, &r), BILL_OK);
    ck_assert_int_eq(r.issued, 1);
    bill_billing_report_clear(&r);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices WHERE invoice_number = "
                             "'INV-2027-000001' AND instance_id = '%s'", b.inst), 1);
    book_close(&w, &b);
}
END_TEST

typedef struct racer {
    world *w;
    pthread_barrier_t *go;
    bill_billing_report r;
    int rc;
} racer;

static void *race(void *arg)
{
    racer *x = arg;
    bill_billing_options o;
    bill_billing_options_init(&o);
    o.batch_size = 7; /* many small batches interleave */
    pthread_barrier_wait(x->go);
    x->rc = bill_billing_run(x->w->db, NULL, &o, &x->r);
    return NULL;
}

#define RACE_N 60

/* RACE_N customers with one instance each; half can pay. */
static void race_book(world *w, char **prod)
{
    *prod = mk_product(w, 1000, -1, -1);
    for (int i = 0; i < RACE_N; i++) {
        char *c = mk_customer(w, i % 2 ? 2000 : 1000, 0);
        char when[40];
        snprintf(when, sizeof when, "2027-01-10T%02d:%02d:00Z", i / 60, i % 60);
        free(mk_instance(w, c, *prod, "monthly", when));
        free(c);
    }
}

static void race_check(world *w)
{
    ck_assert_int_eq(one(w, "SELECT count(*) FROM invoices WHERE kind = 'renewal'%s", ""), RACE_N);
    ck_assert_int_eq(one(w, "SELECT last_value FROM invoice_number_counters WHERE year = 2027%s",
                         ""), RACE_N);
    ck_assert_int_eq(one(w, "SELECT count(DISTINCT invoice_number) FROM invoices WHERE "
                            "invoice_number ~ '^INV-2027-0000[0-6][0-9]$'%s", ""), RACE_N);
    ck_assert_int_eq(one(w, "SELECT count(*) FROM balance_transactions WHERE created_by = "
                            "'billing'%s", ""), RACE_N / 2);
    ck_assert_int_eq(one(w, "SELECT count(*) FROM payments WHERE gateway_id = 'balance' AND "
                            "invoice_id IS NOT NULL%s", ""), RACE_N / 2);
    ck_assert_int_eq(one(w, "SELECT count(*) FROM events WHERE kind = 'notify' AND "
                            "payload->>'kind' = 'invoice.renewal_issued'%s", ""), RACE_N);
    ck_assert_int_eq(one(w, "SELECT count(*) FROM events WHERE kind = 'notify' AND "
                            "payload->>'kind' = 'invoice.payment_failed'%s", ""), RACE_N / 2);
    ck_assert_int_eq(one(w, "SELECT count(*) FROM customers WHERE balance <> 0%s", ""), 0);
}

START_TEST(test_billing__two_threads_race)
{
    world w;
    world_open(&w);
    char *prod = NULL;
    race_book(&w, &prod);
    w.now = at("2027-02-03T00:00:00Z");
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    racer x[2] = {{.w = &w, .go = &go}, {.w = &w, .go = &go}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, race, &x[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&go);
    ck_assert_int_eq(x[0].rc, BILL_OK);
    ck_assert_int_eq(x[1].rc, BILL_OK);
    ck_assert_int_eq(x[0].r.issued + x[1].r.issued, RACE_N);
    ck_assert_int_eq(x[0].r.paid + x[1].r.paid, RACE_N / 2);
    race_check(&w);
    bill_billing_report_clear(&x[0].r);
    bill_billing_report_clear(&x[1].r);
    free(prod);
    world_close(&w);
}
END_TEST

START_TEST(test_billing__two_processes_race)
{
    world w;
    world_open(&w);
    char *prod = NULL;
    race_book(&w, &prod);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        ck_assert_int_ge(kids[k], 0);
        if (kids[k] == 0) {
            /* a process of its own: its own handle, the same instant */
            char buf;
            close(fds[1]);
            bill_db_options o;
            bill_db_options_init(&o);
            o.url = w.url;
            bill_db *db = NULL;
            if (bill_db_open(&db, &o) != BILL_OK)
                _exit(3);
            int64_t now = at("2027-02-03T00:00:00Z");
            bill_db_set_clock(db, clock_of, &(world){.now = now});
            if (read(fds[0], &buf, 1) != 0) /* wait for the start (EOF) */
                _exit(4);
            bill_billing_options bo;
            bill_billing_options_init(&bo);
            bo.batch_size = 5;
            bill_billing_report r;
            int rc = bill_billing_run(db, NULL, &bo, &r);
            bill_billing_report_clear(&r);
            bill_db_close(db);
            _exit(rc == BILL_OK ? 0 : 1);
        }
    }
    close(fds[0]);
    close(fds[1]); /* both start now */
    for (int k = 0; k < 2; k++) {
        int st = 0;
        ck_assert_int_eq(waitpid(kids[k], &st, 0), kids[k]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "racer %d exited %d", k, st);
    }
    race_check(&w);
    free(prod);
    world_close(&w);
}
END_TEST

/* ---- renewals on two connections (billing.md §3, §6) ---------------------- */

#define WK_CUST 24
#define WK_PER 3
#define WK_N (WK_CUST * WK_PER)

/* WK_CUST customers with WK_PER instances each, created interleaved (the
 * k-th instance, k minutes after 2027-01-10 00:00, belongs to customer
 * k % WK_CUST); customer i can pay i % 4 of its renewals of 10.00. */
static void wk_book(world *w)
{
    char *prod = mk_product(w, 1000, -1, -1);
    char *cust[WK_CUST];
    for (int i = 0; i < WK_CUST; i++)
        cust[i] = mk_customer(w, (WK_PER + i % 4) * 1000, 0);
    for (int k = 0; k < WK_N; k++) {
        char when[40];
        snprintf(when, sizeof when, "2027-01-10T%02d:%02d:00Z", k / 60, k % 60);
        free(mk_instance(w, cust[k % WK_CUST], prod, "monthly", when));
    }
    for (int i = 0; i < WK_CUST; i++)
        free(cust[i]);
    free(prod);
}

/* Every renewal in pass order: when its instance was made, status, amount,
 * and its customer's balance after the pass. */
static char *wk_outcome(world *w)
{
    return text(w, "SELECT string_agg(to_char(i.created_at AT TIME ZONE 'UTC', 'HH24MI') || '=' "
                   "|| v.status || '/' || v.total_amount || '/' || c.balance, ',' ORDER BY "
                   "i.created_at) FROM invoices v JOIN instances i ON i.id = v.instance_id JOIN "
                   "customers c ON c.id = v.customer_id WHERE v.kind = 'renewal'%s", "");
}

/* What must hold after any pass, finished or not: the year's numbers are
 * 1..counter, each once; one live renewal per instance; each paid renewal
 * has one payment and one ledger row; every balance is its ledger's sum. */
static void wk_invariants(world *w)
{
    long long counter = one(w, "SELECT coalesce((SELECT last_value FROM invoice_number_counters "
                               "WHERE year = 2027), 0)%s", "");
    ck_assert_int_eq(one(w, "SELECT count(*) FROM invoices WHERE invoice_number LIKE "
                            "'INV-2027-%%'%s", ""), counter);
    ck_assert_int_eq(one(w, "SELECT count(DISTINCT invoice_number) FROM invoices WHERE "
                            "invoice_number IN (SELECT 'INV-2027-' || to_char(g, 'FM000000') "
                            "FROM generate_series(1, %lld) g)", counter), counter);
    ck_assert_int_eq(one(w, "SELECT count(*) FROM (SELECT instance_id FROM invoices WHERE kind = "
                            "'renewal' GROUP BY instance_id HAVING count(*) > 1) d%s", ""), 0);
    ck_assert_int_eq(one(w, "SELECT count(*) FROM invoices v WHERE v.kind = 'renewal' AND "
                            "v.status = 'paid' AND ((SELECT count(*) FROM payments p WHERE "
                            "p.invoice_id = v.id) <> 1 OR (SELECT count(*) FROM "
                            "balance_transactions b WHERE b.reference_id = v.id::text) <> 1)%s",
                         ""), 0);
    ck_assert_int_eq(one(w, "SELECT count(*) FROM invoice_items t WHERE NOT EXISTS (SELECT 1 "
                            "FROM invoices v WHERE v.id = t.invoice_id)%s", ""), 0);
    ck_assert_int_eq(one(w, "SELECT count(*) FROM customers c WHERE c.balance <> (SELECT "
                            "coalesce(sum(b.amount), 0) FROM balance_transactions b WHERE "
                            "b.customer_id = c.id)%s", ""), 0);
}

/* Renewals numbered against pass order (a later instance, a lower number). */
static long long wk_out_of_order(world *w)
{
    return one(w, "SELECT count(*) FROM invoices a JOIN instances ia ON ia.id = a.instance_id "
                  "JOIN invoices b ON b.kind = 'renewal' JOIN instances ib ON ib.id = "
                  "b.instance_id WHERE a.kind = 'renewal' AND ia.created_at < ib.created_at "
                  "AND a.invoice_number > b.invoice_number%s", "");
}

static char *wk_run(int workers, long long *out_of_order)
{
    world w;
    world_open(&w);
    wk_book(&w);
    bill_billing_options o;
    bill_billing_options_init(&o);
    o.batch_size = 5; /* 15 batches: the first alone, then split */
    o.workers = workers;
    w.opts = &o;
    bill_billing_report r;
    pass_at(&w, "2027-02-03T00:00:00Z", &r);
    ck_assert_int_eq(r.issued, WK_N);
    ck_assert_int_eq(r.paid, WK_CUST / 4 * (0 + 1 + 2 + 3));
    ck_assert_int_eq(r.paid_amount, r.paid * 1000);
    ck_assert_int_eq(r.payment_failed, WK_N - r.paid);
    bill_billing_report_clear(&r);
    wk_invariants(&w);
    /* each customer paid its earliest renewals: none paid after one it could not pay */
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices a JOIN instances ia ON ia.id = "
                             "a.instance_id JOIN invoices b ON b.customer_id = a.customer_id AND "
                             "b.kind = 'renewal' JOIN instances ib ON ib.id = b.instance_id WHERE "
                             "a.kind = 'renewal' AND a.status = 'issued' AND b.status = 'paid' "
                             "AND ia.created_at < ib.created_at%s", ""), 0);
    *out_of_order = wk_out_of_order(&w);
    char *outcome = wk_outcome(&w);
    world_close(&w);
    return outcome;
}

/* The same book billed on one connection and on two: the same invoices,
 * payments and balances; only the order of the numbers differs (each
 * connection's batches are numbered when they commit, still gapless). */
START_TEST(test_billing__two_workers_same_result)
{
    long long ooo1 = -1, ooo2 = -1;
    char *one_w = wk_run(1, &ooo1), *two_w = wk_run(2, &ooo2);
    ck_assert_int_eq(ooo1, 0);   /* one connection: numbers in pass order */
    ck_assert_int_gt(ooo2, 0);   /* two: the book was split between them */
    ck_assert_str_eq(one_w, two_w);
    free(one_w);
    free(two_w);
}
END_TEST

/* A batch failing on one connection stops that connection's share: what
 * committed stays whole and gapless, and the next pass bills the rest once. */
START_TEST(test_billing__worker_batch_fails_no_gap)
{
    world w;
    world_open(&w);
    wk_book(&w);
    bill_billing_options o;
    bill_billing_options_init(&o);
    o.batch_size = 5;
    o.workers = 2;
    w.opts = &o;
    sql_ok(&w, "CREATE FUNCTION test_refuse_renewal() RETURNS trigger LANGUAGE plpgsql AS $$ "
               "BEGIN IF NEW.kind = 'renewal' AND NEW.instance_id = (SELECT id FROM instances "
               "ORDER BY created_at OFFSET 40 LIMIT 1) THEN RAISE EXCEPTION 'refused by the "
               "test'; END IF; RETURN NEW; END $$%s", "");
    sql_ok(&w, "CREATE TRIGGER test_refuse_renewal BEFORE INSERT ON invoices FOR EACH ROW "
               "EXECUTE FUNCTION test_refuse_renewal()%s", "");
    w.now = at("2027-02-03T00:00:00Z");
    bill_billing_report r;
    ck_assert_int_lt(bill_billing_run(w.db, NULL, &o, &r), 0);
    ck_assert_msg(strstr(bill_error_last()->message, "refused by the test"), "%s",
                  bill_error_last()->message);
    long long first = one(&w, "SELECT count(*) FROM invoices WHERE kind = 'renewal'%s", "");
    ck_assert_int_lt(first, WK_N);
    ck_assert_int_ge(first, 5); /* the first batch committed */
    ck_assert_int_eq(r.issued, first); /* the report counts what committed */
    bill_billing_report_clear(&r);
    wk_invariants(&w);
    sql_ok(&w, "DROP TRIGGER test_refuse_renewal ON invoices%s", "");
    pass_at(&w, "2027-02-03T00:00:00Z", &r);
    ck_assert_int_eq(r.issued, WK_N - first);
    bill_billing_report_clear(&r);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices WHERE kind = 'renewal'%s", ""), WK_N);
    wk_invariants(&w);
    world_close(&w);
}
END_TEST

/* The server's local time zone never matters. */
START_TEST(test_billing__shanghai_time_zone_identical)
{
    setenv("TZ", "Asia/Shanghai", 1);
    tzset();
    world w;
    book b;
    book_open(&w, &b, 10000, 0, 1000, 2700, 10000, "monthly", "2027-01-31T10:00:00Z");
    PLAY(&w, b.cust, b.inst, lead_time);
    char *cust2 = mk_customer(&w, 1000, 0);
    char *inst2 = mk_instance(&w, cust2, b.prod, "monthly", "2027-01-10T08:00:00Z");
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM instances WHERE id = '%s' AND anchor_date = "
                             "'2027-01-10'", inst2), 1);
    free(inst2);
    free(cust2);
    book_close(&w, &b);
    unsetenv("TZ");
    tzset();
}
END_TEST

/* An instance ordered at 23:30 UTC on Feb 29 is anchored that day, whatever
 * the local date was in Shanghai (already Mar 1 there). Covered above; here
 * the unpriced and not-billed cases. */
START_TEST(test_billing__what_is_not_billed)
{
    world w;
    world_open(&w);
    char *cust = mk_customer(&w, 10000, 0);
    char *prod = mk_product(&w, 1000, -1, -1);
    char *stopped = mk_instance(&w, cust, prod, "monthly", "2027-01-10T08:00:00Z");
    char *susp = mk_instance(&w, cust, prod, "monthly", "2027-01-10T08:00:00Z");
    char *ended = mk_instance(&w, cust, prod, "monthly", "2027-01-10T08:00:00Z");
    char *cancel = mk_instance(&w, cust, prod, "monthly", "2027-01-10T08:00:00Z");
    sql_ok(&w, "UPDATE instances SET status = 'stopped' WHERE id = '%s'", stopped);
    sql_ok(&w, "UPDATE instances SET status = 'suspended' WHERE id = '%s'", susp);
    sql_ok(&w, "UPDATE instances SET status = 'terminated' WHERE id = '%s'", ended);
    sql_ok(&w, "UPDATE instances SET cancel_at_period_end = true WHERE id = '%s'", cancel);
    w.now = at("2027-02-03T00:00:00Z");
    bill_billing_report r;
    ck_assert_int_eq(bill_billing_run(w.db, NULL, NULL, &r), BILL_OK);
    ck_assert_int_eq(r.issued, 1); /* only the stopped one: billed like a running one */
    bill_billing_report_clear(&r);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices WHERE instance_id = '%s'", stopped), 1);
    /* cancelled at period end: terminated at 00:00:00Z of its next due date */
    pass_at(&w, "2027-02-09T23:59:59Z", &r);
    ck_assert_int_eq(r.terminated, 0);
    bill_billing_report_clear(&r);
    pass_at(&w, "2027-02-10T00:00:00Z", &r);
    ck_assert_int_eq(r.terminated, 1);
    bill_billing_report_clear(&r);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM instances WHERE id = '%s' AND status = "
                             "'terminated' AND terminated_at = '2027-02-10T00:00:00Z'", cancel), 1);
    /* its order is terminated with it (order status "terminated", issue 8) */
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM orders o JOIN instances i ON i.order_id = o.id "
                             "WHERE i.id = '%s' AND o.status = 'terminated'", cancel), 1);
    /* a product without a price for the cycle is reported, not invoiced */
    char *prod2 = mk_product(&w, -1, 2700, -1);
    char *q = mk_instance(&w, cust, prod2, "quarterly", "2027-03-01T00:00:00Z");
    sql_ok(&w, "DELETE FROM product_prices WHERE product_id = '%s'", prod2);
    pass_at(&w, "2027-05-25T00:00:00Z", &r);
    ck_assert_int_eq(r.unpriced, 1);
    bill_billing_report_clear(&r);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices WHERE instance_id = '%s'", q), 0);
    free(q), free(prod2), free(stopped), free(susp), free(ended), free(cancel), free(prod);
    free(cust);
    world_close(&w);
}
END_TEST

/* ---- forecast ---------------------------------------------------------------------------------- */

START_TEST(test_billing__forecast_thirty_days)
{
    world w;
    world_open(&w);
    char *rich = mk_customer(&w, 10000, 0), *poor = mk_customer(&w, 1000, 0);
    char *prod = mk_product(&w, 1000, -1, -1);
    char *a = mk_instance(&w, rich, prod, "monthly", "2027-01-10T08:00:00Z");
    char *b = mk_instance(&w, poor, prod, "monthly", "2027-01-12T08:00:00Z");
    w.now = at("2027-02-01T12:00:00Z");
    bill_billing_options o;
    bill_billing_options_init(&o);
    o.details = true;
    bill_billing_forecast_report *f = NULL;
    ck_assert_int_eq(bill_billing_forecast(w.db, &o, 30, &f), BILL_OK);
    ck_assert_int_eq(f->days, 30);
    ck_assert_str_eq(f->day[0].date, "2027-02-01");
    ck_assert_str_eq(f->day[2].date, "2027-02-03");
    ck_assert_int_eq(f->day[2].issued, 1); /* a's Feb 10 renewal, 7 days ahead */
    ck_assert_int_eq(f->day[2].paid, 1);
    ck_assert_int_eq(f->day[2].paid_amount, 1000);
    ck_assert_int_eq(f->day[4].issued, 1); /* b's Feb 12 renewal, short */
    ck_assert_int_eq(f->day[4].payment_failed, 1);
    ck_assert_int_eq(f->day[12].overdue, 1);   /* Feb 13 */
    ck_assert_int_eq(f->day[14].suspended, 1); /* Feb 15 */
    ck_assert_int_eq(f->day[25].terminated, 1); /* Feb 26 */
    ck_assert_int_eq(f->issued, 2); /* a's Mar 10 renewal comes on Mar 3, day 30 */
    ck_assert_int_eq(f->paid_amount, 1000);
    ck_assert_uint_eq(f->shortfall_count, 1);
    ck_assert_str_eq(f->shortfalls[0].customer_id, poor);
    ck_assert_int_eq(f->shortfalls[0].shortfall, 1000);
    bill_billing_forecast_free(f);
    /* nothing written, no number used */
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices%s", ""), 0);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoice_number_counters%s", ""), 0);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM instances WHERE status = 'running'%s", ""), 2);
    free(a), free(b), free(rich), free(poor), free(prod);
    world_close(&w);
}
END_TEST

/* ---- §5: plan changes and cancellation ------------------------------------------------------ */

typedef struct want_line {
    const char *kind, *amount, *why;
} want_line;

static void check_lines(const bill_billing_change *c, const want_line *w, size_t n,
                        const char *net)
{
    char b[BILL_MONEY_BUFSZ];
    ck_assert_msg(c->line_count == n, "%zu lines, expected %zu", c->line_count, n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(c->lines[i].kind, w[i].kind);
        ck_assert_msg(strcmp(bill_money_format(c->lines[i].amount, b), w[i].amount) == 0,
                      "line %zu: %s, expected %s (%s)", i, b, w[i].amount, c->lines[i].why);
        ck_assert_str_eq(c->lines[i].why, w[i].why);
    }
    ck_assert_str_eq(bill_money_format(c->net, b), net);
}

#define LINES(c, table, net) check_lines((c), (table), sizeof(table) / sizeof((table)[0]), (net))

/* billing.md §5's own example: 16/31 days of 10.00, up to 20.00, then down. */
START_TEST(test_billing__upgrade_then_downgrade)
{
    world w;
    world_open(&w);
    char *cust = mk_customer(&w, 5000, 0);
    char *cheap = mk_product(&w, 1000, 2700, 10000), *dear = mk_product(&w, 2000, -1, -1);
    char *inst = mk_instance(&w, cust, cheap, "monthly", "2027-01-01T09:00:00Z"); /* 40.00 left */
    bill_billing_change c;

    /* the preview shows the lines and writes nothing */
    w.now = at("2027-01-16T12:00:00Z");
    ck_assert_int_eq(bill_instance_change_product(w.db, NULL, &cli, inst, dear, true, &c), BILL_OK);
    static const want_line up[] = {{"credit", "-5.16", "16/31 days of 10.00"},
                                   {"charge", "10.32", "16/31 days of 20.00"}};
    LINES(&c, up, "5.16");
    ck_assert(!c.applied);
    ck_assert_str_eq(c.lines[0].period_start, "2027-01-16");
    ck_assert_str_eq(c.lines[0].period_end, "2027-02-01");
    bill_billing_change_clear(&c);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices WHERE instance_id = '%s'", inst), 0);

    int rc = bill_instance_change_product(w.db, NULL, &cli, inst, dear, false, &c);
    ck_assert_msg(rc == BILL_OK, "change: %s", bill_error_last()->message);
    LINES(&c, up, "5.16");
    ck_assert(c.applied);
    ck_assert_str_eq(c.invoice_number, "INV-2027-000001");
    ck_assert_str_eq(c.next_due_date, "2027-02-01"); /* does not move */
    ck_assert_int_eq(c.balance_after, 4000 - 516);
    bill_billing_change_clear(&c);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices WHERE instance_id = '%s' AND kind = "
                             "'upgrade' AND status = 'paid' AND total_amount = 5.16 AND "
                             "billing_period_start = '2027-01-16' AND billing_period_end = "
                             "'2027-02-01'", inst), 1);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoice_items ii JOIN invoices v ON v.id = "
                             "ii.invoice_id WHERE v.instance_id = '%s' AND ((ii.kind = 'credit' "
                             "AND ii.amount = -5.16 AND ii.proration_days = 16 AND "
                             "ii.period_days = 31 AND ii.basis = 10.00) OR (ii.kind = 'charge' "
                             "AND ii.amount = 10.32 AND ii.basis = 20.00))", inst), 2);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM instances WHERE id = '%s' AND product_id = "
                             "'%s'", inst, dear), 1);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM events WHERE kind = 'provider.action' AND "
                             "payload->>'instance_id' = '%s' AND payload->>'action' = "
                             "'change_plan' AND status = 'done'", inst), 1);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM events WHERE kind = 'notify' AND "
                             "payload->>'kind' = 'instance.plan_changed' AND payload->>"
                             "'customer_id' = '%s'", cust), 1);

    /* back down on Jan 20: the rest of the period was paid at 20.00 now */
    w.now = at("2027-01-20T00:00:00Z");
    ck_assert_int_eq(bill_instance_change_product(w.db, NULL, &cli, inst, cheap, false, &c),
                     BILL_OK);
    static const want_line down[] = {{"credit", "-7.74", "12/31 days of 20.00"},
                                     {"charge", "3.87", "12/31 days of 10.00"}};
    LINES(&c, down, "-3.87");
    ck_assert_str_eq(c.credit_number, "CN-2027-000001");
    ck_assert_int_eq(c.balance_after, 4000 - 516 + 387);
    bill_billing_change_clear(&c);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM credit_notes n JOIN balance_transactions b "
                             "ON b.id = n.balance_tx_id WHERE n.instance_id = '%s' AND n.kind = "
                             "'downgrade' AND n.amount = 3.87 AND b.transaction_type = "
                             "'adjustment' AND b.amount = 3.87", inst), 1);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM credit_note_lines l JOIN credit_notes n ON "
                             "n.id = l.credit_note_id WHERE n.instance_id = '%s'", inst), 2);
    ck_assert_int_eq(bill_balance_verify(w.db, cust), BILL_OK);

    /* same product again: refused, nothing written */
    ck_assert_int_eq(bill_instance_change_product(w.db, NULL, &cli, inst, cheap, false, &c),
                     BILL_EINVALID);
    free(inst), free(cheap), free(dear), free(cust);
    world_close(&w);
}
END_TEST

/* Ties round to even, per line: 9.75 x 1/30 = 0.325 -> 0.32; 10.05 x 1/30 =
 * 0.335 -> 0.34 (half-up would say 0.33 and 0.34). */
START_TEST(test_billing__half_even_ties)
{
    world w;
    world_open(&w);
    char *cust = mk_customer(&w, 5000, 0);
    char *a = mk_product(&w, 975, -1, -1), *b = mk_product(&w, 1005, -1, -1);
    char *inst = mk_instance(&w, cust, a, "monthly", "2027-04-01T00:00:00Z");
    bill_billing_change c;
    w.now = at("2027-04-30T23:59:59Z");
    ck_assert_int_eq(bill_instance_change_product(w.db, NULL, &cli, inst, b, true, &c), BILL_OK);
    static const want_line tie[] = {{"credit", "-0.32", "1/30 days of 9.75"},
                                    {"charge", "0.34", "1/30 days of 10.05"}};
    LINES(&c, tie, "0.02");
    bill_billing_change_clear(&c);
    free(inst), free(a), free(b), free(cust);
    world_close(&w);
}
END_TEST

/* Refusals: an unpaid renewal open, a balance that cannot pay the net. */
START_TEST(test_billing__change_refused)
{
    world w;
    world_open(&w);
    char *cust = mk_customer(&w, 1000, 0); /* 0.00 left */
    char *cheap = mk_product(&w, 1000, -1, -1), *dear = mk_product(&w, 2000, -1, -1);
    char *inst = mk_instance(&w, cust, cheap, "monthly", "2027-01-01T09:00:00Z");
    bill_billing_change c;
    w.now = at("2027-01-16T12:00:00Z");
    ck_assert_int_eq(bill_instance_change_product(w.db, NULL, &cli, inst, dear, false, &c),
                     BILL_EFUNDS);
    /* the message docs/billing.md §5 quotes */
    ck_assert_str_eq(bill_error_last()->message, "the plan change costs 5.16 now: balance 0.00 "
                                                 "with credit limit 0.00 cannot cover 5.16");
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices%s", ""), 0);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoice_number_counters%s", ""), 0);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM instances WHERE product_id = '%s'", cheap), 1);
    /* the renewal is issued on Jan 25 and cannot be paid: changes wait */
    w.now = at("2027-01-25T00:00:00Z");
    bill_billing_report r;
    ck_assert_int_eq(bill_billing_run(w.db, NULL, NULL, &r), BILL_OK);
    ck_assert_int_eq(r.payment_failed, 1);
    bill_billing_report_clear(&r);
    ck_assert_int_eq(bill_instance_change_product(w.db, NULL, &cli, inst, dear, true, &c),
                     BILL_ESTATE);
    ck_assert_msg(strstr(bill_error_last()->message, "unpaid renewal") != NULL, "%s",
                  bill_error_last()->message);
    ck_assert_int_eq(bill_instance_change_cycle(w.db, NULL, &cli, inst, "yearly", false, &c),
                     BILL_ESTATE);
    ck_assert_int_eq(bill_instance_change_cycle(w.db, NULL, &cli, inst, "weekly", false, &c),
                     BILL_EINVALID);
    free(inst), free(cheap), free(dear), free(cust);
    world_close(&w);
}
END_TEST

/* A period paid ahead is prorated as a whole segment. */
START_TEST(test_billing__paid_ahead_whole_segment)
{
    world w;
    world_open(&w);
    char *cust = mk_customer(&w, 10000, 0);
    char *cheap = mk_product(&w, 1000, -1, -1), *dear = mk_product(&w, 2000, -1, -1);
    char *inst = mk_instance(&w, cust, cheap, "monthly", "2027-01-01T09:00:00Z");
    w.now = at("2027-01-25T00:00:00Z");
    bill_billing_report r;
    ck_assert_int_eq(bill_billing_run(w.db, NULL, NULL, &r), BILL_OK);
    ck_assert_int_eq(r.paid, 1); /* February paid ahead: next due Mar 1 */
    bill_billing_report_clear(&r);
    bill_billing_change c;
    w.now = at("2027-01-28T00:00:00Z");
    ck_assert_int_eq(bill_instance_change_product(w.db, NULL, &cli, inst, dear, false, &c), BILL_OK);
    static const want_line ahead[] = {{"credit", "-1.29", "4/31 days of 10.00"},
                                      {"credit", "-10.00", "whole period (28 days) of 10.00"},
                                      {"charge", "2.58", "4/31 days of 20.00"},
                                      {"charge", "20.00", "whole period (28 days) of 20.00"}};
    LINES(&c, ahead, "11.29");
    ck_assert_str_eq(c.next_due_date, "2027-03-01");
    bill_billing_change_clear(&c);
    /* the next renewal is priced at the new product */
    pass_at(&w, "2027-02-22T00:00:00Z", &r);
    ck_assert_int_eq(r.issued_amount, 2000);
    bill_billing_report_clear(&r);
    free(inst), free(cheap), free(dear), free(cust);
    world_close(&w);
}
END_TEST

/* Monthly -> yearly on Jan 16: unused time credited, the year charged in
 * full, anchored on the change day. */
START_TEST(test_billing__cycle_change_resets_anchor)
{
    world w;
    book b;
    book_open(&w, &b, 20000, 0, 1000, 2700, 10000, "monthly", "2027-01-01T09:00:00Z");
    bill_billing_change c;
    w.now = at("2027-01-16T00:00:00Z");
    ck_assert_int_eq(bill_instance_change_cycle(w.db, NULL, &cli, b.inst, "yearly", false, &c),
                     BILL_OK);
    static const want_line cy[] = {{"credit", "-5.16", "16/31 days of 10.00"},
                                   {"charge", "100.00", "whole period (365 days) of 100.00"}};
    LINES(&c, cy, "94.84");
    ck_assert_str_eq(c.anchor_date, "2027-01-16");
    ck_assert_str_eq(c.next_due_date, "2028-01-16");
    ck_assert_str_eq(c.invoice_number, "INV-2027-000001");
    bill_billing_change_clear(&c);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM instances WHERE id = '%s' AND billing_cycle = "
                             "'yearly' AND anchor_date = '2027-01-16' AND next_due_date = "
                             "'2028-01-16' AND current_period_start = '2027-01-16'", b.inst), 1);
    bill_billing_report r;
    pass_at(&w, "2028-01-08T23:59:59Z", &r);
    ck_assert_int_eq(r.issued, 0);
    bill_billing_report_clear(&r);
    pass_at(&w, "2028-01-09T00:00:00Z", &r);
    ck_assert_int_eq(r.issued, 1);
    ck_assert_int_eq(r.issued_amount, 10000);
    bill_billing_report_clear(&r);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices WHERE instance_id = '%s' AND kind = "
                             "'renewal' AND billing_period_start = '2028-01-16' AND "
                             "billing_period_end = '2029-01-16'", b.inst), 1);
    book_close(&w, &b);
}
END_TEST

START_TEST(test_billing__cancel_immediately_and_at_period_end)
{
    world w;
    world_open(&w);
    char *cust = mk_customer(&w, 5000, 0);
    char *prod = mk_product(&w, 1000, -1, -1);
    char *now_i = mk_instance(&w, cust, prod, "monthly", "2027-01-01T09:00:00Z");
    char *end_i = mk_instance(&w, cust, prod, "monthly", "2027-01-01T10:00:00Z");
    bill_billing_change c;
    w.now = at("2027-01-16T00:00:00Z");
    ck_assert_int_eq(bill_instance_cancel(w.db, NULL, &cli, now_i, BILL_CANCEL_IMMEDIATELY, false,
                                          &c), BILL_OK);
    static const want_line refund[] = {{"credit", "-5.16", "16/31 days of 10.00"}};
    LINES(&c, refund, "-5.16");
    ck_assert_str_eq(c.credit_number, "CN-2027-000001");
    bill_billing_change_clear(&c);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM instances WHERE id = '%s' AND status = "
                             "'terminated'", now_i), 1);
    /* its order is terminated with it (order status "terminated", issue 8) */
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM orders o JOIN instances i ON i.order_id = o.id "
                             "WHERE i.id = '%s' AND o.status = 'terminated'", now_i), 1);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM balance_transactions WHERE customer_id = '%s' "
                             "AND transaction_type = 'refund' AND amount = 5.16", cust), 1);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM events WHERE kind = 'provider.action' AND "
                             "payload->>'instance_id' = '%s' AND payload->>'action' = "
                             "'terminate'", now_i), 1);
    ck_assert_int_eq(bill_instance_cancel(w.db, NULL, &cli, now_i, BILL_CANCEL_IMMEDIATELY, false,
                                          &c), BILL_ESTATE);

    ck_assert_int_eq(bill_instance_cancel(w.db, NULL, &cli, end_i, BILL_CANCEL_AT_PERIOD_END, false,
                                          &c), BILL_OK);
    ck_assert_uint_eq(c.line_count, 0);
    ck_assert_str_eq(c.next_due_date, "2027-02-01");
    bill_billing_change_clear(&c);
    bill_billing_report r;
    w.now = at("2027-01-25T00:00:00Z"); /* no renewal any more */
    ck_assert_int_eq(bill_billing_run(w.db, NULL, NULL, &r), BILL_OK);
    ck_assert_int_eq(r.issued, 0);
    bill_billing_report_clear(&r);
    pass_at(&w, "2027-01-31T23:59:59Z", &r);
    ck_assert_int_eq(r.terminated, 0);
    bill_billing_report_clear(&r);
    pass_at(&w, "2027-02-01T00:00:00Z", &r);
    ck_assert_int_eq(r.terminated, 1);
    bill_billing_report_clear(&r);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM instances WHERE id = '%s' AND status = "
                             "'terminated'", end_i), 1);
    ck_assert_int_eq(bill_balance_verify(w.db, cust), BILL_OK);
    free(now_i), free(end_i), free(prod), free(cust);
    world_close(&w);
}
END_TEST

/* Cancelling at period end with an unpaid renewal open cancels it at once. */
START_TEST(test_billing__cancel_at_period_end_cancels_open_renewal)
{
    world w;
    book b;
    book_open(&w, &b, 1000, 0, 1000, -1, -1, "monthly", "2027-01-01T09:00:00Z");
    bill_billing_report r;
    pass_at(&w, "2027-01-25T00:00:00Z", &r);
    ck_assert_int_eq(r.payment_failed, 1);
    bill_billing_report_clear(&r);
    bill_billing_change c;
    ck_assert_int_eq(bill_instance_cancel(w.db, NULL, &cli, b.inst, BILL_CANCEL_AT_PERIOD_END, false,
                                          &c), BILL_OK);
    bill_billing_change_clear(&c);
    ck_assert_int_eq(one(&w, "SELECT count(*) FROM invoices WHERE instance_id = '%s' AND status "
                             "= 'cancelled'", b.inst), 1);
    pass_at(&w, "2027-02-01T00:00:00Z", &r);
    ck_assert_int_eq(r.terminated, 1);
    ck_assert_int_eq(r.suspended, 0);
    bill_billing_report_clear(&r);
    book_close(&w, &b);
}
END_TEST

/* ---- the billing migration's backfill ----------------------------------------------------------- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = calloc(1, (size_t)n + 1);
    ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return buf;
}

static void exec_ok(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
                  "%.80s: %s", sql, PQerrorMessage(pg));
    PQclear(r);
}

/* Apply every migration of the source tree before the one whose name ends
 * with `suffix` (e.g. "_billing.sql"); return that one's path (in *g). */
static const char *migrate_before(PGconn *pg, glob_t *g, const char *suffix)
{
    ck_assert_int_eq(glob(MIGRATIONS_DIR "/[0-9][0-9][0-9]_*.sql", 0, NULL, g), 0);
    for (size_t k = 0; k < g->gl_pathc; k++) {
        if (strstr(g->gl_pathv[k], suffix))
            return g->gl_pathv[k];
        char *sql = slurp(g->gl_pathv[k]);
        exec_ok(pg, sql);
        free(sql);
    }
    ck_abort_msg("no migration *%s", suffix);
    return NULL;
}

/* An instance of an order paid before the engine existed gets its anchor from
 * the payment and its next due date from the anchor, without retroactive
 * billing; an instance of an unpaid order is left alone. */
START_TEST(test_billing__migration_backfill)
{
    char *url = bill_test_pg_new_database("bill_backfill");
    PGconn *pg = PQconnectdb(url);
    ck_assert_int_eq(PQstatus(pg), CONNECTION_OK);
    exec_ok(pg, "SET TimeZone = 'Asia/Shanghai'"); /* must not matter */
    /* every migration before the billing one, from the source tree */
    glob_t g;
    const char *billing = migrate_before(pg, &g, "_billing.sql");
    exec_ok(pg, "INSERT INTO customers (id, name) VALUES ('11111111-1111-1111-1111-111111111111', 'old');"
                "INSERT INTO products (id, name, price) VALUES ('22222222-2222-2222-2222-222222222222', 'p', 10);"
                "INSERT INTO orders (id, customer_id, product_id, status, total_amount, billing_cycle, paid_at) VALUES "
                " ('33333333-3333-3333-3333-333333333331', '11111111-1111-1111-1111-111111111111', '22222222-2222-2222-2222-222222222222', 'active', 10, 'monthly', '2026-08-31T23:30:00Z'),"
                " ('33333333-3333-3333-3333-333333333332', '11111111-1111-1111-1111-111111111111', '22222222-2222-2222-2222-222222222222', 'active', 100, 'yearly', '2026-02-28T12:00:00Z'),"
                " ('33333333-3333-3333-3333-333333333333', '11111111-1111-1111-1111-111111111111', '22222222-2222-2222-2222-222222222222', 'pending', 10, 'monthly', NULL);"
                "INSERT INTO instances (id, customer_id, order_id, product_id, status, billing_cycle) VALUES "
                " ('44444444-4444-4444-4444-444444444441', '11111111-1111-1111-1111-111111111111', '33333333-3333-3333-3333-333333333331', '22222222-2222-2222-2222-222222222222', 'running', 'monthly'),"
                " ('44444444-4444-4444-4444-444444444442', '11111111-1111-1111-1111-111111111111', '33333333-3333-3333-3333-333333333332', '22222222-2222-2222-2222-222222222222', 'running', 'yearly'),"
                " ('44444444-4444-4444-4444-444444444443', '11111111-1111-1111-1111-111111111111', '33333333-3333-3333-3333-333333333333', '22222222-2222-2222-2222-222222222222', 'provisioning', 'monthly')");
    exec_ok(pg, "SELECT set_config('bill.now', '2027-01-20T10:00:00Z', false)");
    char *sql = slurp(billing);
    exec_ok(pg, sql);
    free(sql);
    globfree(&g);
    PQfinish(pg);
    /* monthly from Aug 31: ..., Dec 31, Jan 31 (first anniversary on/after Jan 20) */
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM instances WHERE id = "
                     "'44444444-4444-4444-4444-444444444441' AND anchor_date = '2026-08-31' AND "
                     "current_period_start = '2026-12-31' AND next_due_date = '2027-01-31'"), 1);
    /* yearly from Feb 28 2026: next Feb 28 2027 */
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM instances WHERE id = "
                     "'44444444-4444-4444-4444-444444444442' AND anchor_date = '2026-02-28' AND "
                     "current_period_start = '2026-02-28' AND next_due_date = '2027-02-28'"), 1);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM instances WHERE id = "
                     "'44444444-4444-4444-4444-444444444443' AND anchor_date IS NULL AND "
                     "next_due_date IS NULL"), 1);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM instance_periods WHERE "
                     "source = 'backfill' AND ((basis = 10 AND period_start = '2026-12-31') OR "
                     "(basis = 100 AND period_end = '2027-02-28'))"), 2);
    free(url);
}
END_TEST

/* Migration 017 (one key for renewals and invoices made by hand) on a
 * database that already billed one period twice stops with both invoices
 * named and changes nothing; once one is cancelled it applies. */
START_TEST(test_billing__migration_017_refuses_a_double_billed_period)
{
    char *url = bill_test_pg_new_database("bill_key017");
    PGconn *pg = PQconnectdb(url);
    ck_assert_int_eq(PQstatus(pg), CONNECTION_OK);
    glob_t g;
    const char *key = migrate_before(pg, &g, "_invoice_period_key.sql");
    exec_ok(pg, "INSERT INTO customers (id, name) VALUES ('11111111-1111-1111-1111-111111111111', 'c');"
                "INSERT INTO products (id, name, price) VALUES ('22222222-2222-2222-2222-222222222222', 'p', 10);"
                "INSERT INTO instances (id, customer_id, product_id, status, billing_cycle) VALUES "
                " ('44444444-4444-4444-4444-444444444441', '11111111-1111-1111-1111-111111111111', '22222222-2222-2222-2222-222222222222', 'running', 'monthly');"
                "INSERT INTO invoices (customer_id, invoice_number, instance_id, billing_period_start, "
                " billing_period_end, amount, total_amount, status, kind) VALUES "
                " ('11111111-1111-1111-1111-111111111111', 'INV-2027-000001', '44444444-4444-4444-4444-444444444441', '2027-03-01', '2027-04-01', 10, 10, 'issued', 'renewal'),"
                " ('11111111-1111-1111-1111-111111111111', 'INV-2027-000002', '44444444-4444-4444-4444-444444444441', '2027-03-01', '2027-03-31', 10, 10, 'paid', 'manual')");
    char *sql = slurp(key);
    PGresult *r = PQexec(pg, sql);
    ck_assert_int_eq(PQresultStatus(r), PGRES_FATAL_ERROR);
    const char *msg = PQresultErrorMessage(r);
    ck_assert_msg(strstr(msg, "two live invoices") && strstr(msg, "INV-2027-000001") &&
                      strstr(msg, "INV-2027-000002"), "%s", msg);
    PQclear(r);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM pg_indexes WHERE indexname "
                                                "= 'invoices_renewal_period_uq'"), 1);
    exec_ok(pg, "UPDATE invoices SET status = 'cancelled' WHERE invoice_number = 'INV-2027-000002'");
    exec_ok(pg, sql);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM pg_indexes WHERE indexname "
                                                "IN ('invoices_renewal_period_uq', "
                                                "'invoices_generated_period_uq')"), 0);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM pg_indexes WHERE indexname "
                                                "= 'invoices_instance_period_uq'"), 1);
    free(sql);
    globfree(&g);
    PQfinish(pg);
    free(url);
}
END_TEST

BILL_TEST_MAIN("billing", 120, NULL, NULL,
               test_billing__lead_time_and_anniversaries, test_billing__feb29_yearly_anchor,
               test_billing__jan31_monthly_through_a_year, test_billing__dunning_edges,
               test_billing__catch_up_and_paid_by_hand, test_billing__all_or_nothing_in_order,
               test_billing__ledger_rows_follow_the_newest, test_billing__dry_run_writes_nothing, test_billing__two_threads_race,
               test_billing__two_processes_race, test_billing__two_workers_same_result,
               test_billing__worker_batch_fails_no_gap, test_billing__shanghai_time_zone_identical,
               test_billing__what_is_not_billed, test_billing__forecast_thirty_days,
               test_billing__upgrade_then_downgrade, test_billing__half_even_ties,
               test_billing__change_refused, test_billing__paid_ahead_whole_segment,
               test_billing__cycle_change_resets_anchor,
               test_billing__cancel_immediately_and_at_period_end,
               test_billing__cancel_at_period_end_cancels_open_renewal,
               test_billing__migration_backfill,
               test_billing__migration_017_refuses_a_double_billed_period);
