/*
 * customer.c — `bill-cli customer …`: customers and their balance ledger.
 *
 * Amounts are passed to bill_money_parse unchanged, so "1.234" or "abc" is
 * refused by libbill with its own message and nothing is changed; whether a
 * deduction fits under the credit limit is likewise libbill's decision
 * (BILL_EFUNDS). This file only maps options to input structs and prints.
 */
#include "cli.h"

#include <bill/balance.h>
#include <bill/customer.h>
#include <bill/money.h>

#include <stdlib.h>
#include <string.h>

/* How many ledger rows `customer show` includes. */
#define SHOW_RECENT_TX 10

static json_object *customer_json(const void *item)
{
    const bill_customer *c = item;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", cli_json_str(c->id));
    json_object_object_add(o, "name", cli_json_str(c->name));
    json_object_object_add(o, "contact", cli_json_str(c->contact));
    json_object_object_add(o, "email", cli_json_str(c->email));
    json_object_object_add(o, "phone", cli_json_str(c->phone));
    json_object_object_add(o, "status", cli_json_str(c->status));
    json_object_object_add(o, "notes", cli_json_str(c->notes));
    json_object_object_add(o, "balance", cli_json_money(c->balance));
    json_object_object_add(o, "credit_limit", cli_json_money(c->credit_limit));
    json_object_object_add(o, "can_create_api_keys", json_object_new_boolean(c->can_create_api_keys));
    json_object_object_add(o, "created_at", cli_json_time(c->created_at));
    json_object_object_add(o, "updated_at", cli_json_time(c->updated_at));
    return o;
}

static json_object *tx_json(const void *item)
{
    const bill_balance_tx *x = item;
    const char *type = bill_balance_tx_type_name(x->type);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", cli_json_str(x->id));
    json_object_object_add(o, "customer_id", cli_json_str(x->customer_id));
    json_object_object_add(o, "type", cli_json_str(type));
    json_object_object_add(o, "amount", cli_json_money(x->amount));
    json_object_object_add(o, "balance_before", cli_json_money(x->balance_before));
    json_object_object_add(o, "balance_after", cli_json_money(x->balance_after));
    json_object_object_add(o, "reference", cli_json_str(x->reference_id));
    json_object_object_add(o, "description", cli_json_str(x->description));
    json_object_object_add(o, "created_by", cli_json_str(x->created_by));
    json_object_object_add(o, "created_at", cli_json_time(x->created_at));
    return o;
}

static void tx_row(const void *item, const char *cell[CLI_MAX_COLS], cli_cells buf)
{
    const bill_balance_tx *x = item;
    const char *type = bill_balance_tx_type_name(x->type);
    cell[0] = cli_cell_time(x->created_at, buf[0]);
    cell[1] = type ? type : "?";
    cell[2] = cli_cell_money(x->amount, buf[2]);
    cell[3] = cli_cell_money(x->balance_before, buf[3]);
    cell[4] = cli_cell_money(x->balance_after, buf[4]);
    cell[5] = x->reference_id;
    cell[6] = x->description;
    cell[7] = x->created_by;
}

static const cli_column tx_cols[] = {
    {"TIME", false}, {"TYPE", false}, {"AMOUNT", true}, {"BEFORE", true}, {"AFTER", true}, {"REFERENCE", false},
    {"DESCRIPTION", false}, {"BY", false}, {0},
};

static const cli_list_view tx_view = {"transactions", "transaction", "transactions", tx_cols,
                                      sizeof(bill_balance_tx), tx_json, tx_row};

static void customer_row(const void *item, const char *cell[CLI_MAX_COLS], cli_cells buf)
{
    const bill_customer *c = item;
    cell[0] = c->id;
    cell[1] = c->name;
    cell[2] = c->email;
    cell[3] = c->phone;
    cell[4] = c->status;
    cell[5] = cli_cell_money(c->balance, buf[5]);
    cell[6] = cli_cell_money(c->credit_limit, buf[6]);
}

static const cli_column customer_cols[] = {
    {"ID", false}, {"NAME", false}, {"EMAIL", false}, {"PHONE", false}, {"STATUS", false}, {"BALANCE", true}, {"CREDIT_LIMIT", true},
    {0},
};

static const cli_list_view customer_view = {"customers", "customer", "customers", customer_cols,
                                            sizeof(bill_customer), customer_json, customer_row};

/* ---- list / show --------------------------------------------------------- */

static int customer_list(cli_ctx *ctx, const cli_args *a)
{
    bill_page page;
    bill_customers l = {0};
    int rc;
    if ((rc = cli_page_opts(ctx, a, &page)) != CLI_CONTINUE ||
        (rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    bill_customer_filter f = {.version = BILL_CUSTOMER_FILTER_VERSION,
                              .search = cli_opt(a, "search"), .status = cli_opt(a, "status")};
    if ((rc = bill_customer_list(ctx->db, &ctx->actor, &f, &page, &l)) < 0)
        return cli_fail(ctx, rc);
    rc = CLI_LIST_PRINT(ctx, &customer_view, &l, NULL, NULL);
    bill_customers_clear(&l);
    return rc;
}

static void print_customer(const bill_customer *c)
{
    char b[BILL_MONEY_BUFSZ], cl[BILL_MONEY_BUFSZ], t1[48], t2[48];
    cli_table *t = cli_table_new(2, NULL);
    if (!t)
        return;
    cli_table_row(t, "id:", c->id);
    cli_table_row(t, "name:", c->name);
    cli_table_row(t, "contact:", c->contact);
    cli_table_row(t, "email:", c->email);
    cli_table_row(t, "phone:", c->phone);
    cli_table_row(t, "status:", c->status);
    cli_table_row(t, "balance:", bill_money_format(c->balance, b));
    cli_table_row(t, "credit limit:", bill_money_format(c->credit_limit, cl));
    cli_table_row(t, "api keys:", c->can_create_api_keys ? "allowed" : "not allowed");
    cli_table_row(t, "notes:", c->notes);
    cli_table_row(t, "created:", cli_time(c->created_at, t1));
    cli_table_row(t, "updated:", cli_time(c->updated_at, t2));
    cli_table_print(t, stdout);
    cli_table_free(t);
}

static int customer_show(cli_ctx *ctx, const cli_args *a)
{
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    bill_customer *c = NULL;
    bill_balance_txs l = {0};
    cli_table *t = NULL;
    bill_page page = {.page = 1, .page_size = SHOW_RECENT_TX};
    if ((rc = bill_customer_get(ctx->db, &ctx->actor, a->pos[0], &c)) < 0 ||
        (rc = bill_balance_tx_list(ctx->db, &ctx->actor, c->id, 0, &page, &l)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    if (ctx->json) {
        json_object *doc = customer_json(c), *arr = json_object_new_array();
        for (size_t i = 0; i < l.count; i++)
            json_object_array_add(arr, tx_json(&l.items[i]));
        json_object_object_add(doc, "recent_transactions", arr);
        cli_json_print(doc);
        rc = CLI_EXIT_OK;
        goto done;
    }
    if (!(t = cli_list_table(&tx_view, l.items, l.count))) {
        rc = cli_errorf("out of memory");
        goto done;
    }
    print_customer(c);
    printf("\nRecent transactions (%zu of %llu):\n", l.count, (unsigned long long)l.meta.total);
    cli_table_print(t, stdout);
    rc = CLI_EXIT_OK;
done:
    cli_table_free(t);
    bill_balance_txs_clear(&l);
    bill_customer_free(c);
    return rc;
}

/* ---- create / update ----------------------------------------------------- */

/* Map options to the input struct and the update mask. Money is parsed by
 * libbill; its error is reported as is. Returns BILL_OK or a libbill code. */
static int fill_input(const cli_args *a, bill_customer_input *in, unsigned *mask)
{
    int rc;
    memset(in, 0, sizeof *in);
    in->version = BILL_CUSTOMER_INPUT_VERSION;
    *mask = 0;
    static const struct {
        const char *opt;
        unsigned bit;
        size_t off;
    } strs[] = {
        {"name", BILL_CUSTOMER_SET_NAME, offsetof(bill_customer_input, name)},
        {"contact", BILL_CUSTOMER_SET_CONTACT, offsetof(bill_customer_input, contact)},
        {"email", BILL_CUSTOMER_SET_EMAIL, offsetof(bill_customer_input, email)},
        {"phone", BILL_CUSTOMER_SET_PHONE, offsetof(bill_customer_input, phone)},
        {"notes", BILL_CUSTOMER_SET_NOTES, offsetof(bill_customer_input, notes)},
        {"status", BILL_CUSTOMER_SET_STATUS, offsetof(bill_customer_input, status)},
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        const char *v = cli_opt(a, strs[i].opt);
        if (v) {
            *(const char **)((char *)in + strs[i].off) = v;
            *mask |= strs[i].bit;
        }
    }
    const char *cl = cli_opt(a, "credit-limit");
    if (cl) {
        if ((rc = bill_money_parse_field(cl, "credit_limit", &in->credit_limit)) < 0)
            return rc;
        *mask |= BILL_CUSTOMER_SET_CREDIT_LIMIT;
    }
    if (cli_flag(a, "api-keys")) {
        in->can_create_api_keys = true;
        *mask |= BILL_CUSTOMER_SET_API_KEYS_FLAG;
    }
    if (cli_flag(a, "no-api-keys")) {
        in->can_create_api_keys = false;
        *mask |= BILL_CUSTOMER_SET_API_KEYS_FLAG;
    }
    return BILL_OK;
}

static int print_one(cli_ctx *ctx, const bill_customer *c, const char *verb)
{
    if (ctx->json)
        cli_json_print(customer_json(c));
    else if (!ctx->quiet)
        printf("%s customer %s (%s)\n", verb, c->id, c->name);
    return CLI_EXIT_OK;
}

/* create (update false) or update ID with the options given */
static int customer_write(cli_ctx *ctx, const cli_args *a, bool update)
{
    if (cli_flag(a, "api-keys") && cli_flag(a, "no-api-keys"))
        return cli_usage_error(ctx, "give either --api-keys or --no-api-keys, not both");
    bill_customer_input in;
    unsigned mask;
    bill_customer *c = NULL;
    int rc;
    if ((rc = fill_input(a, &in, &mask)) < 0)
        return cli_fail(ctx, rc);
    if (update && mask == 0)
        return cli_usage_error(ctx, "nothing to update: give at least one option");
    if ((rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    rc = update ? bill_customer_update(ctx->db, &ctx->actor, a->pos[0], &in, mask, &c)
                : bill_customer_create(ctx->db, &ctx->actor, &in, &c);
    if (rc < 0)
        return cli_fail(ctx, rc);
    rc = print_one(ctx, c, update ? "updated" : "created");
    bill_customer_free(c);
    return rc;
}

static int customer_create(cli_ctx *ctx, const cli_args *a)
{
    return customer_write(ctx, a, false);
}

static int customer_update(cli_ctx *ctx, const cli_args *a)
{
    return customer_write(ctx, a, true);
}

/* ---- balance ------------------------------------------------------------- */

static int balance_change(cli_ctx *ctx, const cli_args *a, bill_balance_tx_type type)
{
    bill_money amount;
    int rc;
    bill_balance_tx tx = {0};
    if ((rc = bill_money_parse_field(a->pos[1], "amount", &amount)) < 0)
        return cli_fail(ctx, rc);
    if ((rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    if ((rc = bill_balance_change(ctx->db, &ctx->actor, a->pos[0], type, amount,
                                  cli_opt(a, "reference"), cli_opt(a, "description"), &tx)) < 0)
        return cli_fail(ctx, rc);
    if (ctx->json) {
        cli_json_print(tx_json(&tx));
    } else if (!ctx->quiet) {
        char am[BILL_MONEY_BUFSZ], b[BILL_MONEY_BUFSZ], f[BILL_MONEY_BUFSZ];
        const char *name = bill_balance_tx_type_name(tx.type);
        printf("%s %s: balance %s -> %s (transaction %s)\n", name ? name : "change",
               bill_money_format(tx.amount, am), bill_money_format(tx.balance_before, b),
               bill_money_format(tx.balance_after, f), tx.id);
    }
    bill_balance_tx_clear(&tx);
    return CLI_EXIT_OK;
}

/* add, deduct, adjust: the ledger row type by the subcommand's name */
static int balance_change_cmd(cli_ctx *ctx, const cli_args *a)
{
    static const struct {
        const char *name;
        bill_balance_tx_type type;
    } types[] = {{"add", BILL_BALANCE_RECHARGE},
                 {"deduct", BILL_BALANCE_DEDUCT},
                 {"adjust", BILL_BALANCE_ADJUSTMENT}};
    size_t i = 0;
    while (i + 1 < sizeof types / sizeof types[0] && strcmp(ctx->cmd->name, types[i].name) != 0)
        i++;
    return balance_change(ctx, a, types[i].type);
}

static int balance_history(cli_ctx *ctx, const cli_args *a)
{
    bill_page page;
    bill_balance_tx_type type = 0;
    bill_balance_txs l = {0};
    int rc;
    if ((rc = cli_page_opts(ctx, a, &page)) != CLI_CONTINUE)
        return rc;
    const char *ts = cli_opt(a, "type");
    if (ts && (rc = bill_balance_tx_type_parse(ts, &type)) < 0)
        return cli_fail(ctx, rc);
    if ((rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    if ((rc = bill_balance_tx_list(ctx->db, &ctx->actor, a->pos[0], type, &page, &l)) < 0)
        return cli_fail(ctx, rc);
    rc = CLI_LIST_PRINT(ctx, &tx_view, &l, NULL, NULL);
    bill_balance_txs_clear(&l);
    return rc;
}

static int balance_verify(cli_ctx *ctx, const cli_args *a)
{
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    /* bill_balance_verify is not scoped; looking the customer up first keeps
     * the usual "not found" answer for a wrong id. */
    bill_customer *c = NULL;
    if ((rc = bill_customer_get(ctx->db, &ctx->actor, a->pos[0], &c)) < 0)
        return cli_fail(ctx, rc);
    bill_customer_free(c);
    if ((rc = bill_balance_verify(ctx->db, a->pos[0])) < 0)
        return cli_fail(ctx, rc);
    return cli_done(ctx, "ledger of %s is consistent", a->pos[0]);
}

/* ---- tables -------------------------------------------------------------- */

static const cli_optdef list_opts[] = {
    {"search", "TEXT", "substring of name, email or contact", 0},
    {"status", "STATUS", "active, suspended or closed", 0},
    CLI_PAGE_OPTDEFS,
    {0},
};

static const cli_optdef create_opts[] = {
    {"name", "NAME", "customer name", CLI_OPT_REQUIRED},
    {"contact", "TEXT", "contact person", 0},
    {"email", "EMAIL", "email address", 0},
    {"phone", "PHONE", "phone number", 0},
    {"credit-limit", "AMOUNT", "how far the balance may go below zero, e.g. 100.00", 0},
    {"api-keys", NULL, "allow the customer to create API keys", 0},
    {"notes", "TEXT", "internal notes (staff only)", 0},
    {"status", "STATUS", "active (default), suspended or closed", 0},
    {0},
};

static const cli_optdef update_opts[] = {
    {"name", "NAME", "customer name", 0},
    {"contact", "TEXT", "contact person (\"\" clears)", 0},
    {"email", "EMAIL", "email address (\"\" clears)", 0},
    {"phone", "PHONE", "phone number (\"\" clears)", 0},
    {"credit-limit", "AMOUNT", "how far the balance may go below zero, e.g. 100.00", 0},
    {"api-keys", NULL, "allow the customer to create API keys", 0},
    {"no-api-keys", NULL, "forbid the customer to create API keys", 0},
    {"notes", "TEXT", "internal notes (\"\" clears)", 0},
    {"status", "STATUS", "active, suspended or closed", 0},
    {0},
};

static const cli_optdef change_opts[] = {
    {"description", "TEXT", "text stored with the ledger row", 0},
    {"reference", "REF", "reference id stored with the ledger row (order, payment, ...)", 0},
    {0},
};

static const cli_optdef history_opts[] = {
    {"type", "TYPE", "only recharge, deduct, payment, refund or adjustment rows", 0},
    CLI_PAGE_OPTDEFS,
    {0},
};

/* add, deduct and adjust: ID AMOUNT, the change options, one function */
#define CHANGE_CMD(nm, sum, desc)                                                \
    {.name = nm, .summary = sum, .usage = "ID AMOUNT", .description = desc,      \
     .opts = change_opts, .min_args = 2, .max_args = 2, .run = balance_change_cmd}

static const cli_cmd balance_subs[] = {
    CHANGE_CMD("add", "Recharge: add AMOUNT to the balance",
               "AMOUNT is positive with at most two decimals, e.g. 100.00 or 30.5."),
    CHANGE_CMD("deduct", "Deduct AMOUNT from the balance (down to -credit limit)",
               "AMOUNT is positive with at most two decimals. The balance may go down to\n"
               "minus the customer's credit limit, never below."),
    CHANGE_CMD("adjust", "Correct the balance by a signed AMOUNT (e.g. -5.00)", NULL),
    {
        .name = "history",
        .summary = "List the ledger, newest first",
        .usage = "ID",
        .opts = history_opts,
        .min_args = 1,
        .max_args = 1,
        .run = balance_history,
    },
    {
        .name = "verify",
        .summary = "Check that balance = sum of the ledger and rows chain",
        .usage = "ID",
        .min_args = 1,
        .max_args = 1,
        .run = balance_verify,
    },
    {0},
};

static const cli_cmd customer_subs[] = {
    {.name = "list", .summary = "List customers, newest first", .opts = list_opts,
     .run = customer_list},
    {
        .name = "show",
        .summary = "Show one customer with balance and recent transactions",
        .usage = "ID",
        .min_args = 1,
        .max_args = 1,
        .run = customer_show,
    },
    {.name = "create", .summary = "Create a customer", .opts = create_opts, .run = customer_create},
    {
        .name = "update",
        .summary = "Change a customer's fields",
        .usage = "ID",
        .description = "Only the options given are changed.",
        .opts = update_opts,
        .min_args = 1,
        .max_args = 1,
        .run = customer_update,
    },
    {.name = "balance", .summary = "Balance: add, deduct, adjust, history, verify",
     .subs = balance_subs},
    {0},
};

CLI_GROUP(cli_customer_cmd, "customer",
          "Customers and their balances", customer_subs);
