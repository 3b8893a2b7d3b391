/*
 * order.c — `bill-cli order …`: customers' orders (list, show, create, pay,
 * cancel).
 *
 * The price, the legal status changes, who may order what and how paying
 * works are libbill's rules (order.h); the CLI maps options to
 * bill_order_input and prints what comes back. Paying through a gateway
 * calls into the plugin, so those commands open the plugin host (with the
 * master key from [security]) and scan the plugins directory first.
 */
#include "cli.h"

#include <bill/money.h>
#include <bill/order.h>
#include <bill/plugin_host.h>

#include <stdlib.h>
#include <string.h>

static json_object *order_json(const void *item)
{
    const bill_order *o = item;
    json_object *j = json_object_new_object();
    json_object_object_add(j, "id", cli_json_str(o->id));
    json_object_object_add(j, "customer_id", cli_json_str(o->customer_id));
    json_object_object_add(j, "product_id", cli_json_str(o->product_id));
    json_object_object_add(j, "product_name", cli_json_str(o->product_name));
    json_object_object_add(j, "provider_id", cli_json_str(o->provider_id));
    json_object_object_add(j, "provider_instance_id", cli_json_str(o->provider_instance_id));
    json_object_object_add(j, "server_spec", cli_json_parse(o->server_spec_json));
    json_object_object_add(j, "status", cli_json_str(o->status));
    json_object_object_add(j, "amount", cli_json_money(o->amount));
    json_object_object_add(j, "currency", cli_json_str(o->currency));
    json_object_object_add(j, "billing_cycle", cli_json_str(o->billing_cycle));
    json_object_object_add(j, "gateway_id", cli_json_str(o->gateway_id));
    json_object_object_add(j, "gateway_payment_id", cli_json_str(o->gateway_payment_id));
    json_object_object_add(j, "notes", cli_json_str(o->notes));
    json_object_object_add(j, "paid_at", cli_json_time(o->paid_at));
    json_object_object_add(j, "created_at", cli_json_time(o->created_at));
    json_object_object_add(j, "updated_at", cli_json_time(o->updated_at));
    return j;
}

static const char *product_label(const bill_order *o)
{
    return o->product_name[0] ? o->product_name : o->product_id;
}

static void print_order(const bill_order *o)
{
    char am[BILL_MONEY_BUFSZ], t1[48], t2[48], t3[48];
    cli_table *t = cli_table_new(2, NULL);
    if (!t)
        return;
    cli_table_row(t, "id:", o->id);
    cli_table_row(t, "customer:", o->customer_id);
    cli_table_row(t, "product:", product_label(o));
    cli_table_row(t, "product id:", o->product_id);
    cli_table_row(t, "status:", o->status);
    cli_table_row(t, "amount:", bill_money_format(o->amount, am));
    cli_table_row(t, "currency:", o->currency);
    cli_table_row(t, "cycle:", o->billing_cycle);
    cli_table_row(t, "provider:", o->provider_id);
    cli_table_row(t, "instance:", o->provider_instance_id);
    cli_table_row(t, "spec:", o->server_spec_json);
    cli_table_row(t, "gateway:", o->gateway_id);
    cli_table_row(t, "notes:", o->notes);
    cli_table_row(t, "paid:", cli_time(o->paid_at, t1));
    cli_table_row(t, "created:", cli_time(o->created_at, t2));
    cli_table_row(t, "updated:", cli_time(o->updated_at, t3));
    cli_table_print(t, stdout);
    cli_table_free(t);
}

static void order_row(const void *item, const char *cell[CLI_MAX_COLS], cli_cells buf)
{
    const bill_order *o = item;
    cell[0] = o->id;
    cell[1] = o->customer_id;
    cell[2] = product_label(o);
    cell[3] = o->billing_cycle;
    cell[4] = o->status;
    cell[5] = cli_cell_money(o->amount, buf[5]);
    cell[6] = o->currency;
    cell[7] = cli_cell_time(o->created_at, buf[7]);
}

static const cli_column order_cols[] = {
    {"ID", false}, {"CUSTOMER", false}, {"PRODUCT", false}, {"CYCLE", false}, {"STATUS", false}, {"AMOUNT", true}, {"CURRENCY", false},
    {"CREATED", false}, {0},
};

static const cli_list_view order_view = {"orders", "order", "orders", order_cols,
                                         sizeof(bill_order), order_json, order_row};

static int order_list(cli_ctx *ctx, const cli_args *a)
{
    bill_page page;
    bill_orders l = {0};
    int rc;
    if ((rc = cli_page_opts(ctx, a, &page)) != CLI_CONTINUE ||
        (rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    bill_order_filter f = {.version = BILL_ORDER_FILTER_VERSION,
                           .customer_id = cli_opt(a, "customer"),
                           .status = cli_opt(a, "status"),
                           .provider_id = cli_opt(a, "provider"),
                           .search = cli_opt(a, "search")};
    if ((rc = bill_order_list(ctx->db, &ctx->actor, &f, &page, &l)) < 0)
        return cli_fail(ctx, rc);
    rc = CLI_LIST_PRINT(ctx, &order_view, &l, NULL, NULL);
    bill_orders_clear(&l);
    return rc;
}

/* Print one order (after show/create/cancel): JSON document or key/value. */
static int show_one(cli_ctx *ctx, const bill_order *o, const char *verb)
{
    if (ctx->json)
        cli_json_print(order_json(o));
    else if (!verb)
        print_order(o);
    else if (!ctx->quiet) {
        char am[BILL_MONEY_BUFSZ];
        printf("%s order %s (%s, %s %s %s, %s)\n", verb, o->id, product_label(o),
               bill_money_format(o->amount, am),
               o->currency, o->billing_cycle, o->status);
    }
    return CLI_EXIT_OK;
}

static int order_show(cli_ctx *ctx, const cli_args *a)
{
    bill_order *o = NULL;
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    if ((rc = bill_order_get(ctx->db, &ctx->actor, a->pos[0], &o)) < 0)
        return cli_fail(ctx, rc);
    rc = show_one(ctx, o, NULL);
    bill_order_free(o);
    return rc;
}

static int order_create(cli_ctx *ctx, const cli_args *a)
{
    bill_plugins *p = NULL;
    bill_plugin_scan_stats st = {0};
    bill_order *o = NULL;
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    /* With a plugin host libbill checks the spec against the provider's
     * template; an unreadable plugins directory only skips that check for
     * products that have no provider (libbill refuses the others). */
    bool quiet = ctx->quiet;
    ctx->quiet = true;
    rc = cli_open_plugins(ctx, true, true, &p, &st);
    ctx->quiet = quiet;
    if (rc != CLI_CONTINUE)
        return rc;
    bill_order_input in = {
        .version = BILL_ORDER_INPUT_VERSION,
        .customer_id = cli_opt(a, "customer"),
        .product_id = cli_opt(a, "product"),
        .provider_id = cli_opt(a, "provider"),
        .server_spec_json = cli_opt(a, "spec-json"),
        .currency = cli_opt(a, "currency"),
        .gateway_id = cli_opt(a, "gateway"),
        .notes = cli_opt(a, "notes"),
        .billing_cycle = cli_opt(a, "cycle"),
    };
    if ((rc = bill_order_create(ctx->db, p, &ctx->actor, &in, &o)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    rc = show_one(ctx, o, "created");
done:
    bill_order_free(o);
    bill_plugins_free(p);
    return rc;
}

static int order_pay(cli_ctx *ctx, const cli_args *a)
{
    bill_plugins *p = NULL;
    bill_plugin_scan_stats st = {0};
    bill_payment_info info = {0};
    const char *gw = cli_opt(a, "gateway");
    bool gateway = gw && gw[0] && strcmp(gw, "balance") != 0;
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    /* only a gateway payment calls into a plugin */
    if (gateway && (rc = cli_open_plugins(ctx, true, false, &p, &st)) != CLI_CONTINUE)
        return rc;
    if ((rc = bill_order_pay(ctx->db, p, &ctx->actor, a->pos[0], gw, &info)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    if (ctx->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "order_id", json_object_new_string(a->pos[0]));
        json_object_object_add(o, "payment_id", cli_json_str(info.payment_id));
        json_object_object_add(o, "gateway_id", cli_json_str(info.gateway_id));
        json_object_object_add(o, "payment_url", cli_json_str(info.payment_url));
        json_object_object_add(o, "qr_code", cli_json_str(info.qr_code));
        json_object_object_add(o, "instructions", cli_json_str(info.instructions));
        cli_json_print(o);
    } else if (!ctx->quiet) {
        if (!gateway) {
            printf("order %s paid from balance (payment %s)\n", a->pos[0], info.payment_id);
        } else {
            printf("payment %s created through %s; the order stays pending until it is "
                   "confirmed\n", info.payment_id, info.gateway_id);
            if (info.payment_url && info.payment_url[0])
                printf("pay at: %s\n", info.payment_url);
            if (info.instructions && info.instructions[0])
                printf("instructions: %s\n", info.instructions);
        }
    }
    rc = CLI_EXIT_OK;
done:
    bill_payment_info_clear(&info);
    bill_plugins_free(p);
    return rc;
}

static int order_cancel(cli_ctx *ctx, const cli_args *a)
{
    bill_order *o = NULL;
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    if ((rc = bill_order_cancel(ctx->db, &ctx->actor, a->pos[0])) < 0 ||
        (rc = bill_order_get(ctx->db, &ctx->actor, a->pos[0], &o)) < 0)
        return cli_fail(ctx, rc);
    rc = show_one(ctx, o, "cancelled");
    bill_order_free(o);
    return rc;
}

static int order_set_status(cli_ctx *ctx, const cli_args *a)
{
    bill_order *o = NULL;
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    if ((rc = bill_order_set_status(ctx->db, &ctx->actor, a->pos[0], a->pos[1])) < 0 ||
        (rc = bill_order_get(ctx->db, &ctx->actor, a->pos[0], &o)) < 0)
        return cli_fail(ctx, rc);
    rc = show_one(ctx, o, "updated");
    bill_order_free(o);
    return rc;
}

static const cli_optdef list_opts[] = {
    {"customer", "ID", "only this customer's orders", 0},
    {"status", "STATUS", "pending | paid | provisioning | active | suspended | ...", 0},
    {"provider", "ID", "only orders for this provider interface", 0},
    {"search", "TEXT", "product name, notes or order id contains TEXT", 0},
    CLI_PAGE_OPTDEFS,
    {0},
};

static const cli_optdef create_opts[] = {
    {"customer", "ID", "customer who orders", CLI_OPT_REQUIRED},
    {"product", "ID", "product to order (the price comes from it)", CLI_OPT_REQUIRED},
    {"cycle", "CYCLE", "billing cycle offered by the product (default monthly)", 0},
    {"spec-json", "JSON", "server spec object, checked against the provider's template", 0},
    {"provider", "ID", "the product's provider interface", 0},
    {"currency", "CUR", "three-letter currency (default CNY)", 0},
    {"gateway", "ID", "gateway interface to remember for paying", 0},
    {"notes", "TEXT", "free text", 0},
    {0},
};

static const cli_optdef pay_opts[] = {
    {"gateway", "ID", "gateway interface id; absent or 'balance' pays from the balance", 0},
    {0},
};

static const cli_cmd order_subs[] = {
    {.name = "list", .summary = "List orders, newest first", .opts = list_opts, .run = order_list},
    {.name = "show", .summary = "Show one order", .usage = "ID", .min_args = 1, .max_args = 1,
     .run = order_show},
    {.name = "create",
     .summary = "Create a pending order for a customer",
     .opts = create_opts,
     .run = order_create},
    {.name = "pay",
     .summary = "Pay a pending order from the balance or start a gateway payment",
     .usage = "ID",
     .description = "From the balance the order is paid at once (or nothing changes when the\n"
                    "balance does not cover it). Through a gateway a pending payment is created;\n"
                    "confirm a bank transfer with 'bill-cli payment confirm PAYMENT_ID'.",
     .opts = pay_opts,
     .min_args = 1,
     .max_args = 1,
     .run = order_pay},
    {.name = "cancel", .summary = "Cancel an order (where the status allows it)", .usage = "ID",
     .min_args = 1, .max_args = 1, .run = order_cancel},
    {.name = "set-status",
     .summary = "Move an order to another status along the allowed transitions",
     .usage = "ID STATUS",
     .min_args = 2,
     .max_args = 2,
     .run = order_set_status},
    {0},
};

CLI_GROUP(cli_order_cmd, "order",
          "Orders: list, show, create, pay, cancel", order_subs);
