/*
 * billing.c — `bill-cli billing …` (run a pass, forecast the book, dashboard
 * figures), `bill-cli credit-note …`, and the billing subcommands of
 * `bill-cli instance` (change-product, change-cycle, cancel). Every rule is
 * libbill's (billing.h): the CLI shows the proration lines libbill computed,
 * asks before a cancellation, and prints what came back.
 *
 * --json documents are described in docs/cli.md ("Billing").
 */
#include "cli.h"

#include <bill/billing.h>
#include <bill/money.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *money(bill_money m, char b[BILL_MONEY_BUFSZ])
{
    return bill_money_format(m, b);
}

/* ---- reports --------------------------------------------------------------- */

/* String members from name/value pairs (kv[0] = kv[1], ...), in order. */
static void add_strings(json_object *o, const char *const *kv, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        json_object_object_add(o, kv[i], json_object_new_string(kv[i + 1]));
}

/* An object of named counts and amounts, in the order given. */
typedef struct count_field {
    const char *name;
    int64_t value;
    bool money;
} count_field;

static json_object *counts_object(const count_field *f, size_t n)
{
    json_object *o = json_object_new_object();
    for (size_t i = 0; i < n; i++)
        json_object_object_add(o, f[i].name, f[i].money ? cli_json_money(f[i].value)
                                                        : json_object_new_int64(f[i].value));
    return o;
}

static json_object *counts_json(const bill_billing_report *r)
{
    const count_field f[] = {
        {"issued", r->issued, false},           {"issued_amount", r->issued_amount, true},
        {"paid", r->paid, false},               {"paid_amount", r->paid_amount, true},
        {"payment_failed", r->payment_failed, false},
        {"shortfall_amount", r->shortfall_amount, true},
        {"overdue", r->overdue, false},         {"suspended", r->suspended, false},
        {"unsuspended", r->unsuspended, false}, {"terminated", r->terminated, false},
        {"cancelled", r->cancelled, false},     {"actions", r->actions, false},
        {"unpriced", r->unpriced, false},       {"hand_invoiced", r->hand_invoiced, false},
        {"statements", r->statements, false},
    };
    return counts_object(f, sizeof f / sizeof f[0]);
}

static json_object *shortfalls_json(const bill_billing_shortfall *s, size_t n)
{
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "customer_id", json_object_new_string(s[i].customer_id));
        json_object_object_add(o, "balance", cli_json_money(s[i].balance));
        json_object_object_add(o, "credit_limit", cli_json_money(s[i].credit_limit));
        json_object_object_add(o, "unpaid", cli_json_money(s[i].unpaid));
        json_object_object_add(o, "shortfall", cli_json_money(s[i].shortfall));
        json_object_array_add(arr, o);
    }
    return arr;
}

static json_object *report_json(const bill_billing_report *r)
{
    char t[48];
    json_object *o = json_object_new_object(), *inv = json_object_new_array(),
                *act = json_object_new_array();
    json_object_object_add(o, "at", json_object_new_string(cli_time(r->at, t)));
    json_object_object_add(o, "date", json_object_new_string(r->date));
    json_object_object_add(o, "dry_run", json_object_new_boolean(r->dry_run));
    json_object_object_add(o, "counts", counts_json(r));
    for (size_t i = 0; i < r->invoice_count; i++) {
        const bill_billing_invoice *v = &r->invoices[i];
        json_object *x = json_object_new_object();
        const char *const kv[] = {"invoice_id",   v->invoice_id,   "invoice_number", v->invoice_number,
                                  "customer_id",  v->customer_id,  "instance_id",    v->instance_id,
                                  "period_start", v->period_start, "period_end",     v->period_end,
                                  "due_date",     v->due_date};
        add_strings(x, kv, sizeof kv / sizeof kv[0]);
        json_object_object_add(x, "amount", cli_json_money(v->amount));
        json_object_object_add(x, "issued", json_object_new_boolean(v->issued));
        json_object_object_add(x, "paid", json_object_new_boolean(v->paid));
        json_object_object_add(x, "shortfall", v->shortfall ? cli_json_money(v->shortfall) : NULL);
        json_object_array_add(inv, x);
    }
    for (size_t i = 0; i < r->action_count; i++) {
        const bill_billing_action *a = &r->action_list[i];
        json_object *x = json_object_new_object();
        const char *const kv[] = {"instance_id", a->instance_id, "customer_id", a->customer_id,
                                  "action",      a->action,      "reason",      a->reason};
        add_strings(x, kv, sizeof kv / sizeof kv[0]);
        json_object_array_add(act, x);
    }
    json_object_object_add(o, "invoices", inv);
    json_object_object_add(o, "actions", act);
    json_object_object_add(o, "shortfalls", shortfalls_json(r->shortfalls, r->shortfall_count));
    return o;
}

static void print_shortfalls(const bill_billing_shortfall *s, size_t n)
{
    static const char *const hdr[] = {"CUSTOMER", "BALANCE", "CREDIT_LIMIT", "UNPAID", "SHORT"};
    cli_table *t;
    if (n == 0 || !(t = cli_table_new(5, hdr)))
        return;
    for (int c = 1; c <= 4; c++)
        cli_table_align_right(t, c);
    for (size_t i = 0; i < n; i++) {
        char b1[BILL_MONEY_BUFSZ], b2[BILL_MONEY_BUFSZ], b3[BILL_MONEY_BUFSZ], b4[BILL_MONEY_BUFSZ];
        cli_table_row(t, s[i].customer_id, money(s[i].balance, b1), money(s[i].credit_limit, b2),
                      money(s[i].unpaid, b3), money(s[i].shortfall, b4));
    }
    printf("\nCustomers short (balance + credit limit):\n");
    cli_table_print(t, stdout);
    cli_table_free(t);
}

static int billing_options(cli_ctx *ctx, bill_billing_options *o)
{
    int rc;
    if ((rc = cli_load_config(ctx)) != CLI_CONTINUE)
        return rc;
    bill_billing_options_from_config(o, ctx->config);
    o->details = true;
    return CLI_CONTINUE;
}

static int billing_run(cli_ctx *ctx, const cli_args *a)
{
    bill_billing_options o;
    bill_billing_report r;
    char t[48];
    int rc;
    const char *ws = cli_opt(a, "workers");
    long workers = 2;
    if (ws) {
        char *end = NULL;
        workers = strtol(ws, &end, 10);
        if (!*ws || *end || workers < 1 || workers > 2)
            return cli_usage_error(ctx, "--workers must be 1 or 2, not '%s'", ws);
    }
    if ((rc = billing_options(ctx, &o)) != CLI_CONTINUE ||
        (rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    o.workers = (int)workers;
    o.dry_run = cli_flag(a, "dry-run");
    o.details = !cli_flag(a, "counts-only");
    if ((rc = bill_billing_run(ctx->db, NULL, &o, &r)) < 0) {
        rc = cli_fail(ctx, rc);
        bill_billing_report_clear(&r);
        return rc;
    }
    if (ctx->json) {
        cli_json_print(report_json(&r));
        bill_billing_report_clear(&r);
        return CLI_EXIT_OK;
    }
    static const char *const hdr[] = {"", "COUNT", "AMOUNT"};
    cli_table *tb = cli_table_new(3, hdr);
    if (!tb) {
        bill_billing_report_clear(&r);
        return cli_errorf("out of memory");
    }
    cli_table_align_right(tb, 1);
    cli_table_align_right(tb, 2);
    char n[13][24], b1[BILL_MONEY_BUFSZ], b2[BILL_MONEY_BUFSZ], b3[BILL_MONEY_BUFSZ];
    int64_t vals[] = {r.issued,     r.paid,      r.payment_failed, r.overdue,  r.suspended,
                      r.unsuspended, r.terminated, r.cancelled,    r.actions, r.unpriced, r.hand_invoiced};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        snprintf(n[i], sizeof n[i], "%lld", (long long)vals[i]);
    cli_table_row(tb, "renewals issued", n[0], money(r.issued_amount, b1));
    cli_table_row(tb, "paid from balance", n[1], money(r.paid_amount, b2));
    cli_table_row(tb, "balance too low", n[2], money(r.shortfall_amount, b3));
    cli_table_row(tb, "became overdue", n[3], "");
    cli_table_row(tb, "suspended", n[4], "");
    cli_table_row(tb, "unsuspended", n[5], "");
    cli_table_row(tb, "terminated", n[6], "");
    cli_table_row(tb, "renewals cancelled", n[7], "");
    cli_table_row(tb, "provider actions queued", n[8], "");
    if (r.unpriced)
        cli_table_row(tb, "due but no price for the cycle", n[9], "");
    if (r.hand_invoiced)
        cli_table_row(tb, "due but invoiced by hand", n[10], "");
    printf("Billing pass at %s%s\n\n", cli_time(r.at, t),
           r.dry_run ? " (dry run: nothing was written)" : "");
    cli_table_print(tb, stdout);
    cli_table_free(tb);
    if (r.invoice_count) {
        static const char *const ih[] = {"INVOICE", "INSTANCE", "PERIOD", "DUE", "AMOUNT",
                                         "RESULT"};
        cli_table *it = cli_table_new(6, ih);
        if (it) {
            cli_table_align_right(it, 4);
            for (size_t i = 0; i < r.invoice_count; i++) {
                const bill_billing_invoice *v = &r.invoices[i];
                char per[40], res[64], am[BILL_MONEY_BUFSZ], sh[BILL_MONEY_BUFSZ];
                snprintf(per, sizeof per, "%s..%s", v->period_start, v->period_end);
                if (v->paid)
                    snprintf(res, sizeof res, "%spaid from balance", v->issued ? "issued, " : "");
                else
                    snprintf(res, sizeof res, "%sunpaid (%s short)", v->issued ? "issued, " : "",
                             money(v->shortfall, sh));
                cli_table_row(it, v->invoice_number, v->instance_id, per, v->due_date,
                              money(v->amount, am), res);
            }
            printf("\n");
            cli_table_print(it, stdout);
            cli_table_free(it);
        }
    }
    if (r.action_count) {
        static const char *const ah[] = {"INSTANCE", "ACTION", "REASON"};
        cli_table *at = cli_table_new(3, ah);
        if (at) {
            for (size_t i = 0; i < r.action_count; i++)
                cli_table_row(at, r.action_list[i].instance_id, r.action_list[i].action,
                              r.action_list[i].reason);
            printf("\nProvider actions:\n");
            cli_table_print(at, stdout);
            cli_table_free(at);
        }
    }
    print_shortfalls(r.shortfalls, r.shortfall_count);
    bill_billing_report_clear(&r);
    return CLI_EXIT_OK;
}

static void progress(void *user, int day, int days)
{
    (void)user;
    fprintf(stderr, "\rbill-cli: forecasting day %d of %d", day, days);
    if (day == days)
        fputs("\n", stderr);
    fflush(stderr);
}

static int billing_forecast(cli_ctx *ctx, const cli_args *a)
{
    bill_billing_options o;
    bill_billing_forecast_report *f = NULL;
    const char *ds = cli_opt(a, "days");
    char *end = NULL;
    int rc;
    long days = strtol(ds ? ds : "", &end, 10);
    if (!ds || !*ds || *end || days < 1 || days > 366)
        return cli_usage_error(ctx, "--days must be a number of days from 1 to 366, not '%s'",
                               ds ? ds : "");
    if ((rc = billing_options(ctx, &o)) != CLI_CONTINUE ||
        (rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    if (!ctx->quiet && isatty(STDERR_FILENO))
        o.progress = progress;
    if ((rc = bill_billing_forecast(ctx->db, &o, (int)days, &f)) < 0)
        return cli_fail(ctx, rc);
    if (ctx->json) {
        json_object *doc = json_object_new_object(), *arr = json_object_new_array();
        json_object_object_add(doc, "days", json_object_new_int(f->days));
        for (int i = 0; i < f->days; i++)
            json_object_array_add(arr, report_json(&f->day[i]));
        json_object_object_add(doc, "day", arr);
        const count_field totals[] = {
            {"issued", f->issued, false},
            {"issued_amount", f->issued_amount, true},
            {"paid", f->paid, false},
            {"paid_amount", f->paid_amount, true},
            {"payment_failed", f->payment_failed, false},
            {"shortfall_amount", f->shortfall_amount, true},
            {"overdue", f->overdue, false},
            {"suspended", f->suspended, false},
            {"unsuspended", f->unsuspended, false},
            {"terminated", f->terminated, false},
        };
        json_object *tot = counts_object(totals, sizeof totals / sizeof totals[0]);
        json_object_object_add(doc, "totals", tot);
        json_object_object_add(doc, "shortfalls", shortfalls_json(f->shortfalls, f->shortfall_count));
        cli_json_print(doc);
        bill_billing_forecast_free(f);
        return CLI_EXIT_OK;
    }
    static const char *const hdr[] = {"DATE",      "ISSUED", "AMOUNT",    "AUTO-PAID", "CASH",
                                      "SHORT",     "SHORTFALL", "OVERDUE", "SUSPENDED",
                                      "TERMINATED"};
    cli_table *t = cli_table_new(10, hdr);
    if (!t) {
        bill_billing_forecast_free(f);
        return cli_errorf("out of memory");
    }
    for (int c = 1; c <= 9; c++)
        cli_table_align_right(t, c);
    for (int i = 0; i <= f->days; i++) {
        const bill_billing_report *r = i < f->days ? &f->day[i] : NULL;
        char c[7][24], b1[BILL_MONEY_BUFSZ], b2[BILL_MONEY_BUFSZ], b3[BILL_MONEY_BUFSZ];
        int64_t v[7] = {r ? r->issued : f->issued,       r ? r->paid : f->paid,
                        r ? r->payment_failed : f->payment_failed,
                        r ? r->overdue : f->overdue,     r ? r->suspended : f->suspended,
                        r ? r->terminated : f->terminated, 0};
        for (int k = 0; k < 6; k++)
            snprintf(c[k], sizeof c[k], "%lld", (long long)v[k]);
        cli_table_row(t, r ? r->date : "total", c[0],
                      money(r ? r->issued_amount : f->issued_amount, b1), c[1],
                      money(r ? r->paid_amount : f->paid_amount, b2), c[2],
                      money(r ? r->shortfall_amount : f->shortfall_amount, b3), c[3], c[4], c[5]);
    }
    printf("Forecast of the next %d day%s (dry run: nothing written, no number used)\n\n",
           f->days, f->days == 1 ? "" : "s");
    cli_table_print(t, stdout);
    cli_table_free(t);
    print_shortfalls(f->shortfalls, f->shortfall_count);
    bill_billing_forecast_free(f);
    return CLI_EXIT_OK;
}

static int billing_summary(cli_ctx *ctx, const cli_args *a)
{
    bill_billing_summary s;
    const char *ds = cli_opt(a, "days");
    int days = ds ? atoi(ds) : 7, rc;
    if (ds && (days < 1 || days > 3660))
        return cli_usage_error(ctx, "--days must be 1..3660, not '%s'", ds);
    if ((rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    if ((rc = bill_billing_summary_get(ctx->db, &ctx->actor, days, &s)) < 0)
        return cli_fail(ctx, rc);
    char b1[BILL_MONEY_BUFSZ], b2[BILL_MONEY_BUFSZ];
    if (ctx->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "days", json_object_new_int(days));
        json_object_object_add(o, "due_soon", json_object_new_int64(s.due_soon));
        json_object_object_add(o, "due_soon_amount", cli_json_money(s.due_soon_amount));
        json_object_object_add(o, "overdue", json_object_new_int64(s.overdue));
        json_object_object_add(o, "overdue_amount", cli_json_money(s.overdue_amount));
        json_object_object_add(o, "suspended_instances", json_object_new_int64(s.suspended_instances));
        json_object_object_add(o, "failing_actions", json_object_new_int64(s.failing_actions));
        cli_json_print(o);
        return CLI_EXIT_OK;
    }
    printf("invoices due within %d days: %lld (%s)\n", days, (long long)s.due_soon,
           money(s.due_soon_amount, b1));
    printf("overdue invoices:            %lld (%s)\n", (long long)s.overdue,
           money(s.overdue_amount, b2));
    printf("suspended instances:         %lld\n", (long long)s.suspended_instances);
    printf("provider actions failing:    %lld%s\n", (long long)s.failing_actions,
           s.failing_actions ? " (see: bill-cli events list --failing)" : "");
    return CLI_EXIT_OK;
}

static const cli_optdef run_opts[] = {
    {"dry-run", NULL, "report what the pass would do; write nothing, use no number", 0},
    {"counts-only", NULL, "print the counts, not every invoice and action (large books)", 0},
    {"workers", "N", "connections issuing renewals at once, 1 or 2 (default 2; a dry run uses 1)",
     0},
    {0},
};

static const cli_optdef forecast_opts[] = {
    {"days", "N", "how many daily passes to forecast (1..366)", CLI_OPT_REQUIRED},
    {0},
};

static const cli_optdef summary_opts[] = {
    {"days", "N", "\"due soon\" window in days (default 7)", 0},
    {0},
};

static const cli_cmd billing_subs[] = {
    {.name = "run",
     .summary = "Run one billing pass now (renewals, auto-pay, dunning, period-end cancellations)",
     .opts = run_opts,
     .run = billing_run},
    {.name = "forecast",
     .summary = "Dry-run every daily pass of the next N days over the whole book",
     .opts = forecast_opts,
     .run = billing_forecast},
    {.name = "summary", .summary = "Invoices due soon, overdue totals, suspended instances",
     .opts = summary_opts, .run = billing_summary},
    {0},
};

const cli_cmd cli_billing_cmd = {
    .name = "billing",
    .summary = "The billing engine: run a pass, forecast the book, summary figures",
    .description =
        "The rules are libbill's (docs/billing.md): renewals are issued invoice_days_before\n"
        "their due date and paid from the balance when balance - total >= -credit_limit;\n"
        "unpaid ones become overdue the day after the due date, the instance is suspended\n"
        "after suspend_after_days and terminated after terminate_after_days ([billing]).\n"
        "bill-server runs a pass every [billing] interval_secs; `billing run` runs one now.\n"
        "With the global --now INSTANT the pass runs as if it were then.",
    .subs = billing_subs,
};

/* ---- credit notes --------------------------------------------------------------- */

static json_object *line_json(const bill_billing_line *l)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "kind", json_object_new_string(l->kind));
    json_object_object_add(o, "description", json_object_new_string(l->description));
    json_object_object_add(o, "period_start", cli_json_opt(l->period_start));
    json_object_object_add(o, "period_end", cli_json_opt(l->period_end));
    json_object_object_add(o, "proration_days", json_object_new_int(l->proration_days));
    json_object_object_add(o, "period_days", json_object_new_int(l->period_days));
    json_object_object_add(o, "basis", cli_json_money(l->basis));
    json_object_object_add(o, "amount", cli_json_money(l->amount));
    json_object_object_add(o, "why", json_object_new_string(l->why));
    return o;
}

static void print_lines(const bill_billing_line *l, size_t n, bill_money net)
{
    static const char *const hdr[] = {"", "DESCRIPTION", "WHY", "AMOUNT"};
    cli_table *t = cli_table_new(4, hdr);
    char b[BILL_MONEY_BUFSZ];
    if (!t)
        return;
    cli_table_align_right(t, 3);
    for (size_t i = 0; i < n; i++) {
        char a[BILL_MONEY_BUFSZ];
        cli_table_row(t, l[i].kind, l[i].description, l[i].why, money(l[i].amount, a));
    }
    cli_table_row(t, "", "", "net", money(net, b));
    cli_table_print(t, stdout);
    cli_table_free(t);
}

static json_object *credit_json(const bill_credit_note *n, bool lines)
{
    char t[48];
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(n->id));
    json_object_object_add(o, "credit_number", json_object_new_string(n->credit_number));
    json_object_object_add(o, "customer_id", json_object_new_string(n->customer_id));
    json_object_object_add(o, "instance_id", cli_json_opt(n->instance_id));
    json_object_object_add(o, "kind", json_object_new_string(n->kind));
    json_object_object_add(o, "amount", cli_json_money(n->amount));
    json_object_object_add(o, "currency", json_object_new_string(n->currency));
    json_object_object_add(o, "reason", json_object_new_string(n->reason));
    json_object_object_add(o, "balance_tx_id", cli_json_opt(n->balance_tx_id));
    json_object_object_add(o, "issued_at", json_object_new_string(cli_time(n->issued_at, t)));
    if (lines) {
        json_object *arr = json_object_new_array();
        for (size_t i = 0; i < n->line_count; i++)
            json_object_array_add(arr, line_json(&n->lines[i]));
        json_object_object_add(o, "lines", arr);
    }
    return o;
}

static int credit_list(cli_ctx *ctx, const cli_args *a)
{
    bill_page page;
    bill_credit_notes l = {0};
    int rc;
    if ((rc = cli_page_opts(ctx, a, &page)) != CLI_CONTINUE ||
        (rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    if ((rc = bill_credit_note_list(ctx->db, &ctx->actor, cli_opt(a, "customer"), &page, &l)) < 0)
        return cli_fail(ctx, rc);
    if (ctx->json) {
        json_object *doc = json_object_new_object(), *arr = json_object_new_array();
        for (size_t i = 0; i < l.count; i++)
            json_object_array_add(arr, credit_json(&l.items[i], false));
        json_object_object_add(doc, "credit_notes", arr);
        json_object_object_add(doc, "total", json_object_new_int64((int64_t)l.meta.total));
        json_object_object_add(doc, "page", json_object_new_int64(l.meta.page));
        json_object_object_add(doc, "page_size", json_object_new_int64(l.meta.page_size));
        cli_json_print(doc);
    } else {
        static const char *const hdr[] = {"NUMBER", "KIND", "CUSTOMER", "INSTANCE", "AMOUNT",
                                          "ISSUED"};
        cli_table *t = cli_table_new(6, hdr);
        if (t) {
            cli_table_align_right(t, 4);
            for (size_t i = 0; i < l.count; i++) {
                char b[BILL_MONEY_BUFSZ], tt[48];
                cli_table_row(t, l.items[i].credit_number, l.items[i].kind, l.items[i].customer_id,
                              l.items[i].instance_id, money(l.items[i].amount, b),
                              cli_time(l.items[i].issued_at, tt));
            }
            cli_table_print(t, stdout);
            cli_table_free(t);
        }
        printf("\n%llu credit note%s (page %u of %u)\n", (unsigned long long)l.meta.total,
               l.meta.total == 1 ? "" : "s", l.meta.page,
               l.meta.total_pages ? l.meta.total_pages : 1);
    }
    bill_credit_notes_clear(&l);
    return CLI_EXIT_OK;
}

static int credit_show(cli_ctx *ctx, const cli_args *a)
{
    bill_credit_note n;
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    if ((rc = bill_credit_note_get(ctx->db, &ctx->actor, a->pos[0], &n)) < 0)
        return cli_fail(ctx, rc);
    if (ctx->json) {
        cli_json_print(credit_json(&n, true));
    } else {
        char b[BILL_MONEY_BUFSZ], t[48];
        printf("credit note %s (%s) for customer %s\n", n.credit_number, n.kind, n.customer_id);
        printf("instance: %s\nissued:   %s\ncredited: %s %s to the balance (ledger row %s)\n\n",
               n.instance_id[0] ? n.instance_id : "-", cli_time(n.issued_at, t),
               money(n.amount, b), n.currency, n.balance_tx_id[0] ? n.balance_tx_id : "-");
        print_lines(n.lines, n.line_count, -n.amount);
    }
    bill_credit_note_clear(&n);
    return CLI_EXIT_OK;
}

static const cli_optdef credit_list_opts[] = {
    {"customer", "ID", "only this customer's credit notes", 0},
    CLI_PAGE_OPTDEFS,
    {0},
};

static const cli_cmd credit_subs[] = {
    {.name = "list", .summary = "List credit notes, newest first", .opts = credit_list_opts,
     .run = credit_list},
    {.name = "show", .summary = "Show one credit note (id or CN- number) with its lines",
     .usage = "ID|NUMBER", .min_args = 1, .max_args = 1, .run = credit_show},
    {0},
};

const cli_cmd cli_credit_note_cmd = {
    .name = "credit-note",
    .summary = "Credit notes of plan changes and cancellations: list, show",
    .subs = credit_subs,
};

/* ---- instance change-product / change-cycle / cancel ------------------------------- */

static json_object *change_json(const bill_billing_change *c)
{
    json_object *o = json_object_new_object(), *arr = json_object_new_array();
    json_object_object_add(o, "instance_id", json_object_new_string(c->instance_id));
    json_object_object_add(o, "customer_id", json_object_new_string(c->customer_id));
    json_object_object_add(o, "kind", json_object_new_string(c->kind));
    json_object_object_add(o, "change_date", json_object_new_string(c->change_date));
    json_object_object_add(o, "applied", json_object_new_boolean(c->applied));
    for (size_t i = 0; i < c->line_count; i++)
        json_object_array_add(arr, line_json(&c->lines[i]));
    json_object_object_add(o, "lines", arr);
    json_object_object_add(o, "net", cli_json_money(c->net));
    json_object_object_add(o, "invoice_id", cli_json_opt(c->invoice_id));
    json_object_object_add(o, "invoice_number", cli_json_opt(c->invoice_number));
    json_object_object_add(o, "credit_note_id", cli_json_opt(c->credit_note_id));
    json_object_object_add(o, "credit_number", cli_json_opt(c->credit_number));
    json_object_object_add(o, "product_id", cli_json_opt(c->product_id));
    json_object_object_add(o, "billing_cycle", cli_json_opt(c->billing_cycle));
    json_object_object_add(o, "anchor_date", cli_json_opt(c->anchor_date));
    json_object_object_add(o, "next_due_date", cli_json_opt(c->next_due_date));
    json_object_object_add(o, "balance_after", c->applied ? cli_json_money(c->balance_after) : NULL);
    return o;
}

static void print_change(const bill_billing_change *c, const char *title)
{
    char b[BILL_MONEY_BUFSZ];
    printf("%s of instance %s on %s\n\n", title, c->instance_id, c->change_date);
    if (c->line_count)
        print_lines(c->lines, c->line_count, c->net);
    else
        printf("(no paid time to prorate)\n");
    if (!c->applied)
        return;
    printf("\n");
    if (c->invoice_number[0])
        printf("charged %s on invoice %s (paid from the balance)\n", money(c->net, b),
               c->invoice_number);
    else if (c->credit_number[0])
        printf("credited %s to the balance on credit note %s\n", money(-c->net, b),
               c->credit_number);
    if (c->invoice_number[0] || c->credit_number[0])
        printf("balance now %s\n", money(c->balance_after, b));
    printf("billing: %s, anchor %s, next due %s\n", c->billing_cycle, c->anchor_date,
           c->next_due_date);
}

typedef int (*change_fn)(cli_ctx *ctx, const cli_args *a, bool preview, bill_billing_change *out);

static int change_product(cli_ctx *ctx, const cli_args *a, bool preview, bill_billing_change *out)
{
    return bill_instance_change_product(ctx->db, NULL, &ctx->actor, a->pos[0], a->pos[1], preview,
                                        out);
}

static int change_cycle(cli_ctx *ctx, const cli_args *a, bool preview, bill_billing_change *out)
{
    return bill_instance_change_cycle(ctx->db, NULL, &ctx->actor, a->pos[0], a->pos[1], preview,
                                      out);
}

static int cancel_mode(const cli_args *a)
{
    return cli_flag(a, "immediately") ? BILL_CANCEL_IMMEDIATELY : BILL_CANCEL_AT_PERIOD_END;
}

static int do_cancel(cli_ctx *ctx, const cli_args *a, bool preview, bill_billing_change *out)
{
    return bill_instance_cancel(ctx->db, NULL, &ctx->actor, a->pos[0],
                                (bill_cancel_mode)cancel_mode(a), preview, out);
}

/* Preview (the lines, always printed first on a terminal), then, unless
 * --dry-run, confirmation where `confirm` and the change itself. */
static int run_change(cli_ctx *ctx, const cli_args *a, change_fn fn, const char *title,
                      const char *confirm)
{
    bill_billing_change c;
    int rc;
    bool dry = cli_flag(a, "dry-run");
    if ((rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    if ((rc = fn(ctx, a, true, &c)) < 0)
        return cli_fail(ctx, rc);
    if (dry) {
        if (ctx->json)
            cli_json_print(change_json(&c));
        else
            print_change(&c, title);
        bill_billing_change_clear(&c);
        return CLI_EXIT_OK;
    }
    if (!ctx->json) {
        print_change(&c, title);
        printf("\n");
    }
    bill_billing_change_clear(&c);
    if (confirm && !cli_flag(a, "yes")) {
        if (!isatty(STDIN_FILENO))
            return cli_usage_error(ctx, "%s; not on a terminal, so pass --yes to confirm",
                                   confirm);
        fprintf(stderr, "%s. Type 'yes' to confirm: ", confirm);
        fflush(stderr);
        char line[16] = "";
        if (!fgets(line, sizeof line, stdin) || strcmp(line, "yes\n") != 0)
            return cli_errorf("not confirmed; instance %s left as it is", a->pos[0]);
    }
    if ((rc = fn(ctx, a, false, &c)) < 0)
        return cli_fail(ctx, rc);
    if (ctx->json)
        cli_json_print(change_json(&c));
    else
        print_change(&c, title);
    bill_billing_change_clear(&c);
    return CLI_EXIT_OK;
}

int cli_instance_change_product(cli_ctx *ctx, const cli_args *a)
{
    return run_change(ctx, a, change_product, "Product change", NULL);
}

int cli_instance_change_cycle(cli_ctx *ctx, const cli_args *a)
{
    return run_change(ctx, a, change_cycle, "Billing cycle change", NULL);
}

int cli_instance_cancel(cli_ctx *ctx, const cli_args *a)
{
    bool now = cli_flag(a, "immediately"), end = cli_flag(a, "at-period-end");
    if (now == end)
        return cli_usage_error(ctx, "say when: --at-period-end or --immediately");
    return run_change(ctx, a, do_cancel,
                      now ? "Immediate cancellation" : "Cancellation at period end",
                      now ? "The instance will be terminated now (final)"
                          : "The instance will be terminated at its next due date");
}
