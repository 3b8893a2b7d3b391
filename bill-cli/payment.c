/*
 * payment.c — `bill-cli payment …`: payment records, manual confirmation of
 * bank transfers, refunds to the customer's balance.
 *
 * Confirmation is idempotent in libbill (the payment row is locked; one that
 * was confirmed before is left alone), so confirming twice is safe; the CLI
 * only reports which of the two happened. Without --amount the payment's own
 * amount is confirmed — the operator checks the bank statement against the
 * amount `payment show` prints; with --amount libbill refuses a mismatch.
 */
#include "cli.h"

#include <bill/money.h>
#include <bill/payment.h>

#include <stdlib.h>
#include <string.h>

static json_object *payment_json(const void *item)
{
    const bill_payment *p = item;
    json_object *j = json_object_new_object();
    json_object_object_add(j, "id", cli_json_str(p->id));
    json_object_object_add(j, "customer_id", cli_json_str(p->customer_id));
    json_object_object_add(j, "order_id", cli_json_str(p->order_id));
    json_object_object_add(j, "invoice_id", cli_json_str(p->invoice_id));
    json_object_object_add(j, "amount", cli_json_money(p->amount));
    json_object_object_add(j, "refunded_amount", cli_json_money(p->refunded_amount));
    json_object_object_add(j, "currency", cli_json_str(p->currency));
    json_object_object_add(j, "gateway_id", cli_json_str(p->gateway_id));
    json_object_object_add(j, "gateway_payment_id", cli_json_str(p->gateway_payment_id));
    json_object_object_add(j, "gateway_tx_id", cli_json_str(p->gateway_tx_id));
    json_object_object_add(j, "status", cli_json_str(p->status));
    json_object_object_add(j, "credited_to_balance",
                           json_object_new_boolean(p->credited_to_balance));
    json_object_object_add(j, "paid_at", cli_json_time(p->paid_at));
    json_object_object_add(j, "created_at", cli_json_time(p->created_at));
    json_object_object_add(j, "updated_at", cli_json_time(p->updated_at));
    return j;
}

static void print_payment(const bill_payment *p)
{
    char am[BILL_MONEY_BUFSZ], rf[BILL_MONEY_BUFSZ], t1[48], t2[48];
    cli_table *t = cli_table_new(2, NULL);
    if (!t)
        return;
    cli_table_row(t, "id:", p->id);
    cli_table_row(t, "customer:", p->customer_id);
    cli_table_row(t, "order:", p->order_id);
    cli_table_row(t, "invoice:", p->invoice_id);
    cli_table_row(t, "status:", p->status);
    cli_table_row(t, "amount:", bill_money_format(p->amount, am));
    cli_table_row(t, "refunded:", bill_money_format(p->refunded_amount, rf));
    cli_table_row(t, "currency:", p->currency);
    cli_table_row(t, "gateway:", p->gateway_id);
    cli_table_row(t, "gateway payment:", p->gateway_payment_id);
    cli_table_row(t, "gateway tx:", p->gateway_tx_id);
    if (p->credited_to_balance)
        cli_table_row(t, "credited:", "to the balance on arrival (its order or invoice could "
                                      "not take it)");
    cli_table_row(t, "paid:", cli_time(p->paid_at, t1));
    cli_table_row(t, "created:", cli_time(p->created_at, t2));
    cli_table_print(t, stdout);
    cli_table_free(t);
}

static void payment_row(const void *item, const char *cell[CLI_MAX_COLS], cli_cells buf)
{
    const bill_payment *p = item;
    cell[0] = p->id;
    cell[1] = p->customer_id;
    if (p->order_id[0])
        snprintf(buf[2], CLI_CELL_SIZE, "order %.36s", p->order_id);
    else
        snprintf(buf[2], CLI_CELL_SIZE, "invoice %.36s", p->invoice_id);
    cell[2] = buf[2];
    cell[3] = p->gateway_id;
    cell[4] = p->status;
    cell[5] = cli_cell_money(p->amount, buf[5]);
    cell[6] = cli_cell_money(p->refunded_amount, buf[6]);
    cell[7] = cli_cell_time(p->created_at, buf[7]);
}

static const cli_column payment_cols[] = {
    {"ID", false}, {"CUSTOMER", false}, {"FOR", false}, {"GATEWAY", false}, {"STATUS", false}, {"AMOUNT", true}, {"REFUNDED", true},
    {"CREATED", false}, {0},
};

static const cli_list_view payment_view = {"payments", "payment", "payments", payment_cols,
                                           sizeof(bill_payment), payment_json, payment_row};

static int payment_list(cli_ctx *ctx, const cli_args *a)
{
    bill_page page;
    bill_payments l = {0};
    int rc;
    if ((rc = cli_page_opts(ctx, a, &page)) != CLI_CONTINUE ||
        (rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    bill_payment_filter f = {.version = BILL_PAYMENT_FILTER_VERSION,
                             .customer_id = cli_opt(a, "customer"),
                             .order_id = cli_opt(a, "order"),
                             .invoice_id = cli_opt(a, "invoice"),
                             .gateway_id = cli_opt(a, "gateway"),
                             .status = cli_opt(a, "status")};
    if ((rc = bill_payment_list(ctx->db, &ctx->actor, &f, &page, &l)) < 0)
        return cli_fail(ctx, rc);
    rc = CLI_LIST_PRINT(ctx, &payment_view, &l, NULL, NULL);
    bill_payments_clear(&l);
    return rc;
}

static int payment_show(cli_ctx *ctx, const cli_args *a)
{
    bill_payment *p = NULL;
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    if ((rc = bill_payment_get(ctx->db, &ctx->actor, a->pos[0], &p)) < 0)
        return cli_fail(ctx, rc);
    if (ctx->json)
        cli_json_print(payment_json(p));
    else
        print_payment(p);
    bill_payment_free(p);
    return CLI_EXIT_OK;
}

static int payment_confirm(cli_ctx *ctx, const cli_args *a)
{
    bill_payment *p = NULL;
    bill_money amount = 0;
    bool already = false;
    const char *am = cli_opt(a, "amount");
    int rc;
    if (am && (rc = bill_money_parse_field(am, "amount", &amount)) < 0)
        return cli_fail(ctx, rc);
    if ((rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    if (!am) {
        if ((rc = bill_payment_get(ctx->db, &ctx->actor, a->pos[0], &p)) < 0)
            return cli_fail(ctx, rc);
        amount = p->amount;
        bill_payment_free(p);
        p = NULL;
    }
    if ((rc = bill_payment_confirm(ctx->db, &ctx->actor, a->pos[0], NULL, NULL, amount,
                                   cli_opt(a, "tx-id"), &already)) < 0 ||
        (rc = bill_payment_get(ctx->db, &ctx->actor, a->pos[0], &p)) < 0)
        return cli_fail(ctx, rc);
    if (ctx->json) {
        json_object *o = payment_json(p);
        json_object_object_add(o, "already_confirmed", json_object_new_boolean(already));
        cli_json_print(o);
    } else if (!ctx->quiet) {
        char b[BILL_MONEY_BUFSZ];
        const char *what = p->order_id[0] ? "order" : "invoice";
        const char *wid = p->order_id[0] ? p->order_id : p->invoice_id;
        if (already)
            printf("payment %s was already confirmed; nothing changed\n", p->id);
        else
            printf("payment %s confirmed (%s %s); %s %s is paid\n", p->id,
                   bill_money_format(p->amount, b), p->currency, what, wid);
    }
    bill_payment_free(p);
    return CLI_EXIT_OK;
}

static int payment_refund(cli_ctx *ctx, const cli_args *a)
{
    bill_payment *p = NULL;
    bill_money amount = 0;
    const char *am = cli_opt(a, "amount");
    int rc;
    if (am && (rc = bill_money_parse_field(am, "amount", &amount)) < 0)
        return cli_fail(ctx, rc);
    if (am && amount <= 0)
        return cli_usage_error(ctx, "--amount must be more than 0 (leave it out to refund "
                                    "everything not refunded yet)");
    if ((rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    if ((rc = bill_payment_refund(ctx->db, &ctx->actor, a->pos[0], amount, cli_opt(a, "reason"),
                                  &p)) < 0)
        return cli_fail(ctx, rc);
    if (ctx->json) {
        cli_json_print(payment_json(p));
    } else if (!ctx->quiet) {
        char r[BILL_MONEY_BUFSZ], t[BILL_MONEY_BUFSZ];
        printf("payment %s: %s of %s refunded to the balance (%s)\n", p->id,
               bill_money_format(p->refunded_amount, r), bill_money_format(p->amount, t),
               p->status);
    }
    bill_payment_free(p);
    return CLI_EXIT_OK;
}

static const cli_optdef list_opts[] = {
    {"customer", "ID", "only this customer's payments", 0},
    {"order", "ID", "only payments of this order", 0},
    {"invoice", "ID", "only payments of this invoice", 0},
    {"gateway", "ID", "only this gateway ('balance', 'manual' or an interface id)", 0},
    {"status", "STATUS", "pending | success | failed | refunded", 0},
    CLI_PAGE_OPTDEFS,
    {0},
};

static const cli_optdef confirm_opts[] = {
    {"amount", "AMOUNT", "amount received; must equal the payment's (default: the payment's)", 0},
    {"tx-id", "TEXT", "bank / gateway transaction reference", 0},
    {0},
};

static const cli_optdef refund_opts[] = {
    {"amount", "AMOUNT", "part to refund (default: everything not refunded yet)", 0},
    {"reason", "TEXT", "why (kept with the ledger row)", 0},
    {0},
};

static const cli_cmd payment_subs[] = {
    {.name = "list", .summary = "List payments, newest first", .opts = list_opts,
     .run = payment_list},
    {.name = "show", .summary = "Show one payment", .usage = "ID", .min_args = 1, .max_args = 1,
     .run = payment_show},
    {.name = "confirm",
     .summary = "Confirm a received payment (bank transfer); confirming twice changes nothing",
     .usage = "ID",
     .description = "The payment becomes success and its order (pending -> paid) or invoice\n"
                    "(-> paid) moves on, in one transaction. A payment that was confirmed before\n"
                    "is left as it is and the command says so (exit 0). Money is never refused:\n"
                    "when the order or invoice can no longer take it (paid meanwhile, cancelled)\n"
                    "the amount is credited to the customer's balance as a recharge naming the\n"
                    "payment and why. A payment superseded by a newer attempt (failed) can still\n"
                    "be confirmed. A --tx-id already used by another payment of the gateway is\n"
                    "refused.",
     .opts = confirm_opts,
     .min_args = 1,
     .max_args = 1,
     .run = payment_confirm},
    {.name = "refund",
     .summary = "Refund a payment (or part of it) to the customer's balance",
     .usage = "ID",
     .opts = refund_opts,
     .min_args = 1,
     .max_args = 1,
     .run = payment_refund},
    {0},
};

CLI_GROUP(cli_payment_cmd, "payment",
          "Payments: list, show, confirm bank transfers, refund", payment_subs);
