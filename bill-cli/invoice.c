/*
 * invoice.c — `bill-cli invoice …`: manual invoices (create a draft with
 * items, issue, mark paid, cancel) and the batch run that invoices every
 * billable instance for a period.
 *
 * Items are given as `--item PRICE:DESCRIPTION` or `--item QTYxPRICE:DESCRIPTION`
 * (description last, so it may contain anything). The CLI only splits the
 * text; the amounts are parsed and every limit (quantities, number of items,
 * dates) is checked by libbill, which names the offending item.
 */
#include "cli.h"

#include <bill/invoice.h>
#include <bill/money.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* bill_invoice_input allows at most 200 items; more --item options than
 * that are refused by libbill with its own message. */
#define MAX_ITEMS 256

static json_object *invoice_json(const bill_invoice *v, bool with_items)
{
    json_object *j = json_object_new_object();
    json_object_object_add(j, "id", cli_json_str(v->id));
    json_object_object_add(j, "invoice_number", cli_json_str(v->invoice_number));
    json_object_object_add(j, "customer_id", cli_json_str(v->customer_id));
    json_object_object_add(j, "instance_id", cli_json_opt(v->instance_id));
    json_object_object_add(j, "kind", cli_json_str(v->kind));
    json_object_object_add(j, "billing_period_start", cli_json_opt(v->billing_period_start));
    json_object_object_add(j, "billing_period_end", cli_json_opt(v->billing_period_end));
    json_object_object_add(j, "amount", cli_json_money(v->amount));
    json_object_object_add(j, "tax_amount", cli_json_money(v->tax_amount));
    json_object_object_add(j, "total_amount", cli_json_money(v->total_amount));
    json_object_object_add(j, "paid_amount", cli_json_money(v->paid_amount));
    json_object_object_add(j, "status", cli_json_str(v->status));
    json_object_object_add(j, "issued_at", cli_json_time(v->issued_at));
    json_object_object_add(j, "paid_at", cli_json_time(v->paid_at));
    json_object_object_add(j, "due_date", cli_json_opt(v->due_date));
    json_object_object_add(j, "notes", cli_json_str(v->notes));
    json_object_object_add(j, "created_at", cli_json_time(v->created_at));
    json_object_object_add(j, "updated_at", cli_json_time(v->updated_at));
    if (with_items) {
        json_object *arr = json_object_new_array();
        for (size_t i = 0; i < v->item_count; i++) {
            const bill_invoice_item *it = &v->items[i];
            json_object *o = json_object_new_object();
            json_object_object_add(o, "id", cli_json_str(it->id));
            json_object_object_add(o, "description", cli_json_str(it->description));
            json_object_object_add(o, "quantity", json_object_new_int64(it->quantity));
            json_object_object_add(o, "unit_price", cli_json_money(it->unit_price));
            json_object_object_add(o, "amount", cli_json_money(it->amount));
            json_object_object_add(o, "kind", cli_json_str(it->kind));
            json_object_object_add(o, "period_start", cli_json_opt(it->period_start));
            json_object_object_add(o, "period_end", cli_json_opt(it->period_end));
            json_object_object_add(o, "proration_days",
                                   it->period_days ? json_object_new_int(it->proration_days) : NULL);
            json_object_object_add(o, "period_days",
                                   it->period_days ? json_object_new_int(it->period_days) : NULL);
            json_object_object_add(o, "basis", it->period_days ? cli_json_money(it->basis) : NULL);
            json_object_object_add(o, "why", cli_json_opt(it->why));
            json_object_array_add(arr, o);
        }
        json_object_object_add(j, "items", arr);
    }
    return j;
}

static void print_invoice(const bill_invoice *v)
{
    char am[BILL_MONEY_BUFSZ], tx[BILL_MONEY_BUFSZ], to[BILL_MONEY_BUFSZ], pa[BILL_MONEY_BUFSZ];
    char t1[48], t2[48], t3[48], period[64];
    cli_table *t = cli_table_new(2, NULL), *it = NULL;
    if (!t)
        return;
    snprintf(period, sizeof period, "%s to %s (end excluded)",
             v->billing_period_start[0] ? v->billing_period_start : "-",
             v->billing_period_end[0] ? v->billing_period_end : "-");
    cli_table_row(t, "id:", v->id);
    cli_table_row(t, "number:", v->invoice_number);
    cli_table_row(t, "customer:", v->customer_id);
    cli_table_row(t, "kind:", v->kind);
    cli_table_row(t, "instance:", v->instance_id);
    cli_table_row(t, "period:", period);
    cli_table_row(t, "status:", v->status);
    cli_table_row(t, "amount:", bill_money_format(v->amount, am));
    cli_table_row(t, "tax:", bill_money_format(v->tax_amount, tx));
    cli_table_row(t, "total:", bill_money_format(v->total_amount, to));
    cli_table_row(t, "paid:", bill_money_format(v->paid_amount, pa));
    cli_table_row(t, "due date:", v->due_date[0] ? v->due_date : "-");
    cli_table_row(t, "issued:", cli_time(v->issued_at, t1));
    cli_table_row(t, "paid at:", cli_time(v->paid_at, t2));
    cli_table_row(t, "created:", cli_time(v->created_at, t3));
    cli_table_row(t, "notes:", v->notes);
    cli_table_print(t, stdout);
    cli_table_free(t);
    static const char *const hdr[] = {"DESCRIPTION", "QTY", "UNIT_PRICE", "AMOUNT", "WHY"};
    if (!(it = cli_table_new(5, hdr)))
        return;
    for (int c = 1; c <= 3; c++)
        cli_table_align_right(it, c);
    for (size_t i = 0; i < v->item_count; i++) {
        char q[16], up[BILL_MONEY_BUFSZ], a[BILL_MONEY_BUFSZ];
        snprintf(q, sizeof q, "%u", v->items[i].quantity);
        cli_table_row(it, v->items[i].description, q,
                      bill_money_format(v->items[i].unit_price, up),
                      bill_money_format(v->items[i].amount, a), v->items[i].why);
    }
    printf("\nItems (%zu):\n", v->item_count);
    cli_table_print(it, stdout);
    cli_table_free(it);
}

static json_object *invoice_list_json(const void *item)
{
    return invoice_json(item, false);
}

static void invoice_row(const void *item, const char *cell[CLI_MAX_COLS], cli_cells buf)
{
    const bill_invoice *v = item;
    cell[0] = v->id;
    cell[1] = v->invoice_number;
    cell[2] = v->kind;
    cell[3] = v->customer_id;
    cell[4] = v->status;
    cell[5] = cli_cell_money(v->total_amount, buf[5]);
    cell[6] = cli_cell_money(v->paid_amount, buf[6]);
    cell[7] = v->due_date;
    if (v->billing_period_start[0])
        snprintf(buf[8], CLI_CELL_SIZE, "%s..%s", v->billing_period_start, v->billing_period_end);
    cell[8] = v->billing_period_start[0] ? buf[8] : "";
}

static const cli_column invoice_cols[] = {
    {"ID", false},   {"NUMBER", false}, {"KIND", false}, {"CUSTOMER", false},
    {"STATUS", false}, {"TOTAL", true},  {"PAID", true},  {"DUE", false},
    {"PERIOD", false}, {0},
};

static const cli_list_view invoice_view = {"invoices", "invoice", "invoices", invoice_cols,
                                           sizeof(bill_invoice), invoice_list_json, invoice_row};

static int invoice_list(cli_ctx *ctx, const cli_args *a)
{
    bill_page page;
    bill_invoices l = {0};
    int rc;
    if ((rc = cli_page_opts(ctx, a, &page)) != CLI_CONTINUE ||
        (rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    bill_invoice_filter f = {.version = BILL_INVOICE_FILTER_VERSION,
                             .customer_id = cli_opt(a, "customer"), .status = cli_opt(a, "status"),
                             .kind = cli_opt(a, "kind"), .instance_id = cli_opt(a, "instance")};
    if ((rc = bill_invoice_list(ctx->db, &ctx->actor, &f, &page, &l)) < 0)
        return cli_fail(ctx, rc);
    rc = CLI_LIST_PRINT(ctx, &invoice_view, &l, NULL, NULL);
    bill_invoices_clear(&l);
    return rc;
}

static int show_one(cli_ctx *ctx, const bill_invoice *v, const char *verb)
{
    if (ctx->json) {
        cli_json_print(invoice_json(v, true));
    } else if (!verb) {
        print_invoice(v);
    } else if (!ctx->quiet) {
        char to[BILL_MONEY_BUFSZ];
        printf("%s invoice %s (%s, total %s, %s)\n", verb, v->id, v->invoice_number,
               bill_money_format(v->total_amount, to), v->status);
    }
    return CLI_EXIT_OK;
}

static int invoice_show(cli_ctx *ctx, const cli_args *a)
{
    bill_invoice *v = NULL;
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    if ((rc = bill_invoice_get(ctx->db, &ctx->actor, a->pos[0], &v)) < 0)
        return cli_fail(ctx, rc);
    rc = show_one(ctx, v, NULL);
    bill_invoice_free(v);
    return rc;
}

/* Split "[QTYx]PRICE:DESCRIPTION". The price text is parsed by libbill. */
static int parse_item(cli_ctx *ctx, const char *spec, size_t idx, char *pricebuf, size_t pricesz,
                      bill_invoice_item_input *it)
{
    const char *colon = strchr(spec, ':');
    if (!colon || colon == spec)
        return cli_usage_error(ctx, "--item \"%s\": expected PRICE:DESCRIPTION or "
                                    "QTYxPRICE:DESCRIPTION", spec);
    size_t plen = (size_t)(colon - spec);
    if (plen >= pricesz)
        return cli_usage_error(ctx, "--item \"%s\": price is too long", spec);
    memcpy(pricebuf, spec, plen);
    pricebuf[plen] = '\0';
    const char *price = pricebuf;
    it->quantity = 1;
    char *x = strchr(pricebuf, 'x');
    if (x) {
        *x = '\0';
        char *end = NULL;
        errno = 0;
        unsigned long q = strtoul(pricebuf, &end, 10);
        if (!pricebuf[0] || *end || errno || pricebuf[0] == '-' || q > UINT32_MAX)
            return cli_usage_error(ctx, "--item \"%s\": quantity \"%s\" is not a whole number",
                                   spec, pricebuf);
        it->quantity = (uint32_t)q;
        price = x + 1;
    }
    char field[48];
    snprintf(field, sizeof field, "items[%zu].unit_price", idx);
    int rc = bill_money_parse_field(price, field, &it->unit_price);
    if (rc < 0)
        return cli_fail(ctx, rc);
    it->description = colon + 1;
    return CLI_CONTINUE;
}

static int invoice_create(cli_ctx *ctx, const cli_args *a)
{
    const char *specs[MAX_ITEMS];
    bill_invoice_item_input items[MAX_ITEMS];
    char prices[MAX_ITEMS][40];
    bill_invoice *v = NULL;
    int rc, n = cli_opt_all(a, "item", specs, MAX_ITEMS);
    memset(items, 0, sizeof items);
    for (int i = 0; i < n; i++)
        if ((rc = parse_item(ctx, specs[i], (size_t)i, prices[i], sizeof prices[i], &items[i])) !=
            CLI_CONTINUE)
            return rc;
    bill_invoice_input in = {
        .version = BILL_INVOICE_INPUT_VERSION,
        .customer_id = cli_opt(a, "customer"),
        .items = items,
        .item_count = (size_t)n,
        .period_start = cli_opt(a, "period-start"),
        .period_end = cli_opt(a, "period-end"),
        .due_date = cli_opt(a, "due-date"),
        .notes = cli_opt(a, "notes"),
    };
    const char *tax = cli_opt(a, "tax");
    if (tax && (rc = bill_money_parse_field(tax, "tax_amount", &in.tax_amount)) < 0)
        return cli_fail(ctx, rc);
    if ((rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    if ((rc = bill_invoice_create(ctx->db, &ctx->actor, &in, &v)) < 0)
        return cli_fail(ctx, rc);
    if (cli_flag(a, "issue")) {
        bill_invoice *issued = NULL;
        if ((rc = bill_invoice_issue(ctx->db, &ctx->actor, v->id, &issued)) < 0) {
            /* the draft exists; say so rather than leave the operator guessing */
            cli_note(ctx, "draft invoice %s was created but not issued", v->id);
            bill_invoice_free(v);
            return cli_fail(ctx, rc);
        }
        bill_invoice_free(v);
        v = issued;
    }
    rc = show_one(ctx, v, "created");
    bill_invoice_free(v);
    return rc;
}

static int invoice_issue(cli_ctx *ctx, const cli_args *a)
{
    bill_invoice *v = NULL;
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    if ((rc = bill_invoice_issue(ctx->db, &ctx->actor, a->pos[0], &v)) < 0)
        return cli_fail(ctx, rc);
    rc = show_one(ctx, v, "issued");
    bill_invoice_free(v);
    return rc;
}

static int invoice_pay(cli_ctx *ctx, const cli_args *a)
{
    bill_invoice *v = NULL;
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    bool from_balance = cli_flag(a, "from-balance");
    if ((rc = bill_invoice_mark_paid(ctx->db, &ctx->actor, a->pos[0], from_balance, &v)) < 0)
        return cli_fail(ctx, rc);
    rc = show_one(ctx, v, from_balance ? "paid from balance:" : "marked paid:");
    bill_invoice_free(v);
    return rc;
}

static int invoice_cancel(cli_ctx *ctx, const cli_args *a)
{
    bill_invoice *v = NULL;
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    if ((rc = bill_invoice_cancel(ctx->db, &ctx->actor, a->pos[0])) < 0 ||
        (rc = bill_invoice_get(ctx->db, &ctx->actor, a->pos[0], &v)) < 0)
        return cli_fail(ctx, rc);
    rc = show_one(ctx, v, "cancelled");
    bill_invoice_free(v);
    return rc;
}

static int invoice_generate(cli_ctx *ctx, const cli_args *a)
{
    int64_t created = 0;
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    if ((rc = bill_invoice_generate(ctx->db, &ctx->actor, cli_opt(a, "customer"),
                                    cli_opt(a, "period-start"), cli_opt(a, "period-end"),
                                    &created)) < 0) {
        if (created > 0) /* the instances the pass does not bill were invoiced */
            fprintf(stderr, "bill-cli: issued %lld invoice%s for the other instances\n",
                    (long long)created, created == 1 ? "" : "s");
        return cli_fail(ctx, rc);
    }
    if (ctx->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "ok", json_object_new_boolean(1));
        json_object_object_add(o, "created", json_object_new_int64(created));
        cli_json_print(o);
        return CLI_EXIT_OK;
    }
    return cli_done(ctx, "issued %lld invoice%s for %s .. %s", (long long)created,
                    created == 1 ? "" : "s", cli_opt(a, "period-start"), cli_opt(a, "period-end"));
}

static const cli_optdef list_opts[] = {
    {"customer", "ID", "only this customer's invoices", 0},
    {"status", "STATUS", "draft | issued | paid | overdue | cancelled", 0},
    {"kind", "KIND", "manual | order | renewal | upgrade | cycle_change", 0},
    {"instance", "ID", "only this instance's invoices", 0},
    CLI_PAGE_OPTDEFS,
    {0},
};

static const cli_optdef create_opts[] = {
    {"customer", "ID", "customer to invoice", CLI_OPT_REQUIRED},
    {"item", "[QTYx]PRICE:DESCRIPTION", "a line, e.g. '2x10.00:VPS HK-2C4G'", CLI_OPT_MULTI},
    {"tax", "AMOUNT", "tax amount added to the items' sum (default 0)", 0},
    {"period-start", "YYYY-MM-DD", "billing period start", 0},
    {"period-end", "YYYY-MM-DD", "billing period end", 0},
    {"due-date", "YYYY-MM-DD", "due date (default: 7 days after issuing)", 0},
    {"notes", "TEXT", "free text", 0},
    {"issue", NULL, "issue it right away (assigns the number)", 0},
    {0},
};

static const cli_optdef pay_opts[] = {
    {"from-balance", NULL, "take the open amount from the customer's balance", 0},
    {0},
};

static const cli_optdef generate_opts[] = {
    {"period-start", "YYYY-MM-DD", "first day of the period", CLI_OPT_REQUIRED},
    {"period-end", "YYYY-MM-DD", "last day of the period", CLI_OPT_REQUIRED},
    {"customer", "ID", "only this customer's instances", 0},
    {0},
};

static const cli_cmd invoice_subs[] = {
    {.name = "list", .summary = "List invoices, newest first", .opts = list_opts,
     .run = invoice_list},
    {.name = "show", .summary = "Show one invoice with its items", .usage = "ID", .min_args = 1,
     .max_args = 1, .run = invoice_show},
    {.name = "create", .summary = "Create a draft invoice from items", .opts = create_opts,
     .run = invoice_create},
    {.name = "issue", .summary = "Issue a draft (assigns the next INV-YYYY-NNNNNN number)",
     .usage = "ID", .min_args = 1, .max_args = 1, .run = invoice_issue},
    {.name = "pay",
     .summary = "Mark an issued/overdue invoice paid (received outside, or --from-balance)",
     .usage = "ID",
     .opts = pay_opts,
     .min_args = 1,
     .max_args = 1,
     .run = invoice_pay},
    {.name = "cancel", .summary = "Cancel a draft, issued or overdue invoice", .usage = "ID",
     .min_args = 1, .max_args = 1, .run = invoice_cancel},
    {.name = "generate",
     .summary = "Invoice every billable instance for a period (reruns create nothing twice)",
     .opts = generate_opts,
     .run = invoice_generate},
    {0},
};

CLI_GROUP(cli_invoice_cmd, "invoice",
          "Invoices: list, show, create, issue, pay, cancel, generate", invoice_subs);
