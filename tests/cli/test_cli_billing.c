/*
 * test_cli_billing.c — one instance walked through a year with bill-cli
 * alone and --now: ordered and paid, renewed and auto-paid, short, overdue,
 * suspended, recharged and back, upgraded with the proration shown, the
 * next 30 days forecast, moved to yearly, downgraded (credit note), and
 * cancelled at its period end. The real binary against a real PostgreSQL.
 */
#include "cli_harness.h"
#include "pg_harness.h"

#include "check_main.h"
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* bill-cli --now AT args... ; must exit 0; returns the parsed --json output
 * when `json` (the caller puts it), else NULL with r.out checked by caller. */
#define CLI_AT(url, when, ...) cli(NULL, (url), "--now", (when), __VA_ARGS__, NULL)

static json_object *ok_json(run *r, const char *what)
{
    ck_assert_msg(r->status == 0, "%s: exit %d: %s", what, r->status, r->err);
    json_object *o = json_of(r);
    run_free(r);
    return o;
}

/* r exited 0 and its stdout holds every string of want (NULL-terminated). */
static void out_has(run *r, const char *what, const char *const *want)
{
    ck_assert_msg(r->status == 0, "%s: exit %d: %s", what, r->status, r->err);
    for (; *want; want++)
        ck_contains(r->out, *want);
    run_free(r);
}
#define OUT_HAS(r, what, ...) out_has(&(r), (what), (const char *const[]){__VA_ARGS__, NULL})

static int64_t jint(json_object *o, const char *path1, const char *key)
{
    json_object *x = o, *v = NULL;
    if (path1)
        ck_assert(json_object_object_get_ex(o, path1, &x));
    ck_assert_msg(json_object_object_get_ex(x, key, &v), "no %s", key);
    return json_object_get_int64(v);
}

static void pass_expect(const char *url, const char *when, int issued, int paid, int failed,
                        int overdue, int suspended, int unsuspended, int terminated)
{
    run r = CLI_AT(url, when, "--json", "billing", "run");
    json_object *o = ok_json(&r, "billing run");
    ck_assert_msg(jint(o, "counts", "issued") == issued, "%s: issued %lld", when,
                  (long long)jint(o, "counts", "issued"));
    ck_assert_msg(jint(o, "counts", "paid") == paid, "%s: paid", when);
    ck_assert_msg(jint(o, "counts", "payment_failed") == failed, "%s: failed %lld", when,
                  (long long)jint(o, "counts", "payment_failed"));
    ck_assert_msg(jint(o, "counts", "overdue") == overdue, "%s: overdue", when);
    ck_assert_msg(jint(o, "counts", "suspended") == suspended, "%s: suspended", when);
    ck_assert_msg(jint(o, "counts", "unsuspended") == unsuspended, "%s: unsuspended", when);
    ck_assert_msg(jint(o, "counts", "terminated") == terminated, "%s: terminated", when);
    json_object_put(o);
}

static void instance_expect(const char *url, const char *when, const char *id,
                            const char *status, const char *cycle, const char *anchor,
                            const char *next_due)
{
    run r = CLI_AT(url, when, "--json", "instance", "show", id);
    json_object *o = ok_json(&r, "instance show");
    ck_assert_str_eq(jstr(o, "status"), status);
    ck_assert_str_eq(jstr(o, "billing_cycle"), cycle);
    ck_assert_str_eq(jstr(o, "anchor_date"), anchor);
    ck_assert_str_eq(jstr(o, "next_due_date"), next_due);
    json_object_put(o);
}

static char *balance_at(const char *url, const char *when, const char *cust)
{
    run r = CLI_AT(url, when, "--json", "customer", "show", cust);
    json_object *o = ok_json(&r, "customer show");
    char *b = strdup(jstr(o, "balance"));
    json_object_put(o);
    return b;
}

START_TEST(test_cli_billing__a_year_of_one_instance)
{
    char *url = NULL;
    bill_db_close(bill_test_db_new_url(&url));
    run r;
    json_object *o;

    r = cli(NULL, url, "--json", "customer", "create", "--name", "Year Walker", NULL);
    o = ok_json(&r, "customer create");
    char *cust = strdup(jstr(o, "id"));
    json_object_put(o);
    r = cli(NULL, url, "customer", "balance", "add", cust, "25.00", NULL);
    ck_assert_int_eq(r.status, 0);
    run_free(&r);
    r = cli(NULL, url, "--json", "product", "create", "--name", "VPS S", "--price-monthly",
            "10.00", "--price-yearly", "100.00", NULL);
    o = ok_json(&r, "product create");
    char *small = strdup(jstr(o, "id"));
    json_object_put(o);
    r = cli(NULL, url, "--json", "product", "create", "--name", "VPS L", "--price-monthly",
            "20.00", "--price-yearly", "200.00", NULL);
    o = ok_json(&r, "product create");
    char *large = strdup(jstr(o, "id"));
    json_object_put(o);

    /* ordered and paid on Jan 31; the instance runs at once (no provider) */
    const char *t0 = "2027-01-31T10:00:00Z";
    r = CLI_AT(url, t0, "--json", "order", "create", "--customer", cust, "--product", small);
    o = ok_json(&r, "order create");
    char *order = strdup(jstr(o, "id"));
    json_object_put(o);
    r = CLI_AT(url, t0, "order", "pay", order);
    ck_assert_msg(r.status == 0, "order pay: %s", r.err);
    ck_contains(r.err, "clock set to 2027-01-31T10:00:00Z (--now)");
    run_free(&r);
    r = CLI_AT(url, t0, "events", "run-once");
    ck_assert_msg(r.status == 0, "run-once: %s", r.err);
    run_free(&r);
    r = cli(NULL, url, "--json", "instance", "list", "--customer", cust, NULL);
    o = ok_json(&r, "instance list");
    json_object *arr = NULL;
    ck_assert(json_object_object_get_ex(o, "instances", &arr));
    ck_assert_int_eq((int)json_object_array_length(arr), 1);
    char *inst = strdup(jstr(json_object_array_get_idx(arr, 0), "id"));
    json_object_put(o);
    instance_expect(url, t0, inst, "running", "monthly", "2027-01-31", "2027-02-28");

    /* the human view says it too */
    r = CLI_AT(url, t0, "instance", "show", inst);
    OUT_HAS(r, "instance show", "anchor:", "2027-01-31 to 2027-02-28 (paid)");

    /* renews 7 days ahead, paid from the balance (15.00 -> 5.00) */
    pass_expect(url, "2027-02-20T23:59:59Z", 0, 0, 0, 0, 0, 0, 0);
    pass_expect(url, "2027-02-21T00:00:00Z", 1, 1, 0, 0, 0, 0, 0);
    instance_expect(url, "2027-02-21T00:00:00Z", inst, "running", "monthly", "2027-01-31",
                    "2027-03-31");
    /* invoice generate cannot bill the renewed period again (exit 1, renewal named) */
    r = CLI_AT(url, "2027-02-21T01:00:00Z", "invoice", "generate", "--customer", cust,
               "--period-start", "2027-03-01", "--period-end", "2027-03-31");
    ck_assert_int_eq(r.status, 1);
    ck_contains(r.err, "the billing pass already bills this period");
    ck_contains(r.err, "INV-2027-000001");
    run_free(&r);
    /* the next one cannot be paid (5.00 < 10.00): overdue, suspended */
    pass_expect(url, "2027-03-24T00:00:00Z", 1, 0, 1, 0, 0, 0, 0);
    pass_expect(url, "2027-04-01T00:00:00Z", 0, 0, 1, 1, 0, 0, 0);
    pass_expect(url, "2027-04-02T23:59:59Z", 0, 0, 1, 0, 0, 0, 0);
    /* what the admin sees: the summary table of the pass that suspends it */
    r = CLI_AT(url, "2027-04-03T00:00:00Z", "billing", "run", "--dry-run");
    OUT_HAS(r, "billing run --dry-run", "(dry run: nothing was written)", "balance too low",
            "suspended", "unpaid (5.00 short)");
    r = CLI_AT(url, "2027-04-03T00:00:00Z", "--json", "billing", "run", "--dry-run",
               "--counts-only");
    o = ok_json(&r, "billing run --counts-only");
    ck_assert_int_eq(jint(o, "counts", "suspended"), 1);
    ck_assert(json_object_object_get_ex(o, "invoices", &arr));
    ck_assert_int_eq((int)json_object_array_length(arr), 0); /* counts alone */
    json_object_put(o);
    /* a bad --workers is refused before anything runs (usage, exit 2) */
    r = CLI_AT(url, "2027-04-03T00:00:00Z", "billing", "run", "--workers", "3");
    ck_assert_int_eq(r.status, 2);
    ck_contains(r.err, "--workers must be 1 or 2, not '3'");
    run_free(&r);
    pass_expect(url, "2027-04-03T00:00:00Z", 0, 0, 1, 0, 1, 0, 0);
    r = CLI_AT(url, "2027-04-03T00:00:00Z", "instance", "show", inst);
    OUT_HAS(r, "instance show", "suspended");
    instance_expect(url, "2027-04-03T00:00:00Z", inst, "suspended", "monthly", "2027-01-31",
                    "2027-03-31");
    r = CLI_AT(url, "2027-04-03T00:00:00Z", "--json", "invoice", "list", "--instance", inst,
               "--status", "overdue");
    o = ok_json(&r, "invoice list");
    ck_assert_int_eq(jint(o, NULL, "total"), 1);
    json_object_put(o);

    /* recharged; the next pass pays it and the instance comes back */
    r = CLI_AT(url, "2027-04-05T08:00:00Z", "customer", "balance", "add", cust, "20.00");
    ck_assert_int_eq(r.status, 0);
    run_free(&r);
    pass_expect(url, "2027-04-05T08:01:00Z", 0, 1, 0, 0, 0, 1, 0);
    instance_expect(url, "2027-04-05T08:01:00Z", inst, "running", "monthly", "2027-01-31",
                    "2027-04-30");
    char *b = balance_at(url, "2027-04-05T08:01:00Z", cust);
    ck_assert_str_eq(b, "15.00");
    free(b);
    r = cli(NULL, url, "--json", "invoice", "list", "--instance", inst, "--kind", "renewal", NULL);
    o = ok_json(&r, "invoice list");
    ck_assert_int_eq(jint(o, NULL, "total"), 2);
    ck_assert(json_object_object_get_ex(o, "invoices", &arr));
    char *inv2 = strdup(jstr(json_object_array_get_idx(arr, 0), "id"));
    json_object_put(o);
    r = cli(NULL, url, "--json", "invoice", "show", inv2, NULL);
    o = ok_json(&r, "invoice show");
    ck_assert_str_eq(jstr(o, "kind"), "renewal");
    ck_assert_str_eq(jstr(o, "invoice_number"), "INV-2027-000002");
    ck_assert_str_eq(jstr(o, "billing_period_start"), "2027-03-31");
    ck_assert_str_eq(jstr(o, "billing_period_end"), "2027-04-30");
    ck_assert_str_eq(jstr(o, "due_date"), "2027-03-31");
    ck_assert_str_eq(jstr(o, "status"), "paid");
    ck_assert(json_object_object_get_ex(o, "items", &arr));
    ck_assert_str_eq(jstr(json_object_array_get_idx(arr, 0), "why"), "whole period (30 days)");
    json_object_put(o);

    /* upgrade on Apr 15 with the proration shown: 15/30 days of 10.00 and of 20.00 */
    r = CLI_AT(url, "2027-04-15T12:00:00Z", "instance", "change-product", inst, large,
               "--dry-run");
    OUT_HAS(r, "change-product --dry-run", "15/30 days of 10.00", "15/30 days of 20.00", "-5.00",
            "10.00");
    r = CLI_AT(url, "2027-04-15T12:00:00Z", "instance", "change-product", inst, large);
    OUT_HAS(r, "change-product", "charged 5.00 on invoice INV-2027-000003", "balance now 10.00");

    /* the next 30 days of the book: the Apr 30 renewal (20.00) will be short */
    r = CLI_AT(url, "2027-04-20T00:00:00Z", "--json", "billing", "forecast", "--days", "30");
    o = ok_json(&r, "forecast");
    ck_assert_int_eq(jint(o, NULL, "days"), 30);
    ck_assert_int_eq(jint(o, "totals", "issued"), 1);
    /* retried daily Apr 23 .. May 14, suspended May 3, terminated May 14 */
    ck_assert_int_eq(jint(o, "totals", "payment_failed"), 22);
    ck_assert_int_eq(jint(o, "totals", "suspended"), 1);
    ck_assert_int_eq(jint(o, "totals", "terminated"), 1);
    ck_assert(json_object_object_get_ex(o, "shortfalls", &arr));
    ck_assert_int_eq((int)json_object_array_length(arr), 1);
    ck_assert_str_eq(jstr(json_object_array_get_idx(arr, 0), "shortfall"), "10.00");
    json_object_put(o);
    r = CLI_AT(url, "2027-04-20T00:00:00Z", "billing", "forecast", "--days", "30");
    OUT_HAS(r, "billing forecast", "2027-04-23", "total", "Customers short");

    /* recharge ahead; Apr 23 renews at the new price */
    r = CLI_AT(url, "2027-04-22T00:00:00Z", "customer", "balance", "add", cust, "500.00");
    ck_assert_int_eq(r.status, 0);
    run_free(&r);
    pass_expect(url, "2027-04-23T00:00:00Z", 1, 1, 0, 0, 0, 0, 0);
    instance_expect(url, "2027-04-23T00:00:00Z", inst, "running", "monthly", "2027-01-31",
                    "2027-05-31");

    /* to yearly on May 10: 21/31 days of 20.00 back, the year charged, anchored that day */
    r = CLI_AT(url, "2027-05-10T09:00:00Z", "--json", "instance", "change-cycle", inst, "yearly");
    o = ok_json(&r, "change-cycle");
    ck_assert_str_eq(jstr(o, "net"), "186.45"); /* 200.00 - 13.55 */
    ck_assert_str_eq(jstr(o, "anchor_date"), "2027-05-10");
    ck_assert_str_eq(jstr(o, "next_due_date"), "2028-05-10");
    json_object_put(o);
    instance_expect(url, "2027-05-10T09:00:00Z", inst, "running", "yearly", "2027-05-10",
                    "2028-05-10");

    /* down to the small plan in October: a credit note */
    r = CLI_AT(url, "2027-10-01T00:00:00Z", "--json", "instance", "change-product", inst, small);
    o = ok_json(&r, "downgrade");
    ck_assert_str_eq(jstr(o, "credit_number"), "CN-2027-000001");
    char *net = strdup(jstr(o, "net"));
    json_object_put(o);
    ck_assert_str_eq(net, "-60.65"); /* 222/366 days: 121.31 back, 60.66 charged */
    free(net);
    r = cli(NULL, url, "credit-note", "list", NULL);
    OUT_HAS(r, "credit-note list", "CN-2027-000001", "downgrade");
    r = cli(NULL, url, "credit-note", "show", "CN-2027-000001", NULL);
    OUT_HAS(r, "credit-note show", "222/366 days of 200.00");

    /* cancelled at period end: refuses without --yes off a terminal; then runs out */
    r = CLI_AT(url, "2027-12-01T00:00:00Z", "instance", "cancel", inst, "--at-period-end");
    ck_assert_int_eq(r.status, 2);
    run_free(&r);
    r = CLI_AT(url, "2027-12-01T00:00:00Z", "instance", "cancel", inst);
    ck_assert_int_eq(r.status, 2);
    ck_contains(r.err, "--at-period-end or --immediately");
    run_free(&r);
    r = CLI_AT(url, "2027-12-01T00:00:00Z", "instance", "cancel", inst, "--at-period-end", "--yes");
    ck_assert_msg(r.status == 0, "cancel: %s", r.err);
    run_free(&r);
    pass_expect(url, "2028-05-03T00:00:00Z", 0, 0, 0, 0, 0, 0, 0); /* no renewal */
    pass_expect(url, "2028-05-09T23:59:59Z", 0, 0, 0, 0, 0, 0, 0);
    pass_expect(url, "2028-05-10T00:00:00Z", 0, 0, 0, 0, 0, 0, 1);
    r = cli(NULL, url, "--json", "instance", "show", inst, NULL);
    o = ok_json(&r, "instance show");
    ck_assert_str_eq(jstr(o, "status"), "terminated");
    json_object_put(o);

    /* every provider action was recorded (done: no provider) */
    r = cli(NULL, url, "--json", "events", "list", "--kind", "provider.action", NULL);
    o = ok_json(&r, "events list");
    /* suspend, unsuspend, 3 x change_plan, terminate */
    ck_assert_int_eq(jint(o, NULL, "total"), 6);
    json_object_put(o);
    r = cli(NULL, url, "events", "list", "--failing", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_contains(r.out, "0 events");
    run_free(&r);
    free(inv2), free(inst), free(order), free(small), free(large), free(cust), free(url);
}
END_TEST

/* Bad input: clear messages, exit codes, nothing changed. */
START_TEST(test_cli_billing__usage)
{
    char *url = NULL;
    bill_db_close(bill_test_db_new_url(&url));
    run r = cli(NULL, url, "billing", "forecast", NULL);
    ck_assert_int_eq(r.status, 2);
    ck_contains(r.err, "missing required option --days");
    run_free(&r);
    r = cli(NULL, url, "billing", "forecast", "--days", "0", NULL);
    ck_assert_int_eq(r.status, 2);
    run_free(&r);
    r = cli(NULL, url, "billing", "forecast", "--days", "400", NULL);
    ck_assert_int_eq(r.status, 2);
    run_free(&r);
    r = cli(NULL, url, "instance", "change-cycle", "00000000-0000-0000-0000-000000000001",
            "weekly", NULL);
    ck_assert_int_eq(r.status, 1);
    ck_contains(r.err, "billing_cycle");
    run_free(&r);
    r = cli(NULL, url, "instance", "change-product", "00000000-0000-0000-0000-000000000001",
            "00000000-0000-0000-0000-000000000002", NULL);
    ck_assert_int_eq(r.status, 1);
    ck_contains(r.err, "not found");
    run_free(&r);
    r = cli(NULL, url, "billing", "run", "--dry-run", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_contains(r.out, "dry run: nothing was written");
    run_free(&r);
    r = cli(NULL, url, "billing", "summary", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_contains(r.out, "invoices due within 7 days: 0");
    run_free(&r);
    r = cli(NULL, url, "credit-note", "show", "CN-2027-000009", NULL);
    ck_assert_int_eq(r.status, 1);
    run_free(&r);
    free(url);
}
END_TEST

BILL_TEST_MAIN("cli_billing", 300, cli_setup, cli_teardown,
               test_cli_billing__a_year_of_one_instance, test_cli_billing__usage);
