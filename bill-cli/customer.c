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

static json_object *money_json(bill_money m)
{
    char b[BILL_MONEY_BUFSZ];
    return json_object_new_string(bill_money_format(m, b));
}

static json_object *customer_json(const bill_customer *c)
{
    char t[48];
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", cli_json_str(c->id));
    json_object_object_add(o, "name", cli_json_str(c->name));
    json_object_object_add(o, "contact", cli_json_str(c->contact));
    json_object_object_add(o, "email", cli_json_str(c->email));
    json_object_object_add(o, "phone", cli_json_str(c->phone));
    json_object_object_add(o, "status", cli_json_str(c->status));
    json_object_object_add(o, "notes", cli_json_str(c->notes));
    json_object_object_add(o, "balance", money_json(c->balance));
    json_object_object_add(o, "credit_limit", money_json(c->credit_limit));
    json_object_object_add(o, "can_create_api_keys", json_object_new_boolean(c->can_create_api_keys));
    json_object_object_add(o, "created_at", json_object_new_string(cli_time(c->created_at, t)));
    json_object_object_add(o, "updated_at", json_object_new_string(cli_time(c->updated_at, t)));
    return o;
}

static json_object *tx_json(const bill_balance_tx *x)
{
    char t[48];
    const char *type = bill_balance_tx_type_name(x->type);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", cli_json_str(x->id));
    json_object_object_add(o, "customer_id", cli_json_str(x->customer_id));
    json_object_object_add(o, "type", cli_json_str(type));
    json_object_object_add(o, "amount", money_json(x->amount));
    json_object_object_add(o, "balance_before", money_json(x->balance_before));
    json_object_object_add(o, "balance_after", money_json(x->balance_after));
    json_object_object_add(o, "reference", cli_json_str(x->reference_id));
    json_object_object_add(o, "description", cli_json_str(x->description));
    json_object_object_add(o, "created_by", cli_json_str(x->created_by));
    json_object_object_add(o, "created_at", json_object_new_string(cli_time(x->created_at, t)));
    return o;
}

static cli_table *tx_table(const bill_balance_txs *l)
{
    static const char *const hdr[] = {"TIME", "TYPE", "AMOUNT", "BEFORE", "AFTER", "REFERENCE",
                                      "DESCRIPTION", "BY"};
    cli_table *t = cli_table_new(8, hdr);
    if (!t)
        return NULL;
    for (int c = 2; c <= 4; c++)
        cli_table_align_right(t, c);
    for (size_t i = 0; i < l->count; i++) {
        const bill_balance_tx *x = &l->items[i];
        char tb[48], a[BILL_MONEY_BUFSZ], b[BILL_MONEY_BUFSZ], f[BILL_MONEY_BUFSZ];
        const char *type = bill_balance_tx_type_name(x->type);
        if (cli_table_row(t, cli_time(x->created_at, tb), type ? type : "?",
                          bill_money_format(x->amount, a), bill_money_format(x->balance_before, b),
                          bill_money_format(x->balance_after, f), x->reference_id, x->description,
                          x->created_by) < 0) {
            cli_table_free(t);
            return NULL;
        }
    }
    return t;
}

/* ---- list / show --------------------------------------------------------- */

static int customer_list(cli_ctx *ctx, const cli_args *a)
{
    bill_page page = {0};
    int rc;
    if ((rc = cli_opt_u32(ctx, a, "page", &page.page)) != CLI_CONTINUE ||
        (rc = cli_opt_u32(ctx, a, "page-size", &page.page_size)) != CLI_CONTINUE)
        return rc;
    if ((rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;

    bill_customer_filter f = {.version = BILL_CUSTOMER_FILTER_VERSION,
                              .search = cli_opt(a, "search"), .status = cli_opt(a, "status")};
    bill_customers l = {0};
    cli_table *t = NULL;
    if ((rc = bill_customer_list(ctx->db, &ctx->actor, &f, &page, &l)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    if (ctx->json) {
        json_object *doc = json_object_new_object(), *arr = json_object_new_array();
        for (size_t i = 0; i < l.count; i++)
            json_object_array_add(arr, customer_json(&l.items[i]));
        json_object_object_add(doc, "customers", arr);
        json_object_object_add(doc, "total", json_object_new_int64((int64_t)l.meta.total));
        json_object_object_add(doc, "page", json_object_new_int64(l.meta.page));
        json_object_object_add(doc, "page_size", json_object_new_int64(l.meta.page_size));
        cli_json_print(doc);
        rc = CLI_EXIT_OK;
        goto done;
    }
    static const char *const hdr[] = {"ID", "NAME", "EMAIL", "PHONE", "STATUS", "BALANCE",
                                      "CREDIT_LIMIT"};
    if (!(t = cli_table_new(7, hdr))) {
        rc = cli_errorf("out of memory");
        goto done;
    }
    cli_table_align_right(t, 5);
    cli_table_align_right(t, 6);
    for (size_t i = 0; i < l.count; i++) {
        const bill_customer *c = &l.items[i];
        char b[BILL_MONEY_BUFSZ], cl[BILL_MONEY_BUFSZ];
        cli_table_row(t, c->id, c->name, c->email, c->phone, c->status,
                      bill_money_format(c->balance, b), bill_money_format(c->credit_limit, cl));
    }
    cli_table_print(t, stdout);
    printf("\n%llu customer%s (page %u of %u)\n", (unsigned long long)l.meta.total,
           l.meta.total == 1 ? "" : "s", l.meta.page, l.meta.total_pages ? l.meta.total_pages : 1);
    rc = CLI_EXIT_OK;
done:
    cli_table_free(t);
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
    if (!(t = tx_table(&l))) {
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

static int customer_create(cli_ctx *ctx, const cli_args *a)
{
    if (cli_flag(a, "api-keys") && cli_flag(a, "no-api-keys"))
        return cli_usage_error(ctx, "give either --api-keys or --no-api-keys, not both");
    bill_customer_input in;
    unsigned mask;
    bill_customer *c = NULL;
    int rc;
    if ((rc = fill_input(a, &in, &mask)) < 0)
        return cli_fail(ctx, rc);
    if ((rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    if ((rc = bill_customer_create(ctx->db, &ctx->actor, &in, &c)) < 0)
        return cli_fail(ctx, rc);
    rc = print_one(ctx, c, "created");
    bill_customer_free(c);
    return rc;
}

static int customer_update(cli_ctx *ctx, const cli_args *a)
{
    if (cli_flag(a, "api-keys") && cli_flag(a, "no-api-keys"))
        return cli_usage_error(ctx, "give either --api-keys or --no-api-keys, not both");
    bill_customer_input in;
    unsigned mask;
    bill_customer *c = NULL;
    int rc;
    if ((rc = fill_input(a, &in, &mask)) < 0)
        return cli_fail(ctx, rc);
    if (mask == 0)
        return cli_usage_error(ctx, "nothing to update: give at least one option");
    if ((rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    if ((rc = bill_customer_update(ctx->db, &ctx->actor, a->pos[0], &in, mask, &c)) < 0)
        return cli_fail(ctx, rc);
    rc = print_one(ctx, c, "updated");
    bill_customer_free(c);
    return rc;
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

static int balance_add(cli_ctx *ctx, const cli_args *a)
{
    return balance_change(ctx, a, BILL_BALANCE_RECHARGE);
}

static int balance_deduct(cli_ctx *ctx, const cli_args *a)
{
    return balance_change(ctx, a, BILL_BALANCE_DEDUCT);
}

static int balance_adjust(cli_ctx *ctx, const cli_args *a)
{
    return balance_change(ctx, a, BILL_BALANCE_ADJUSTMENT);
}

static int balance_history(cli_ctx *ctx, const cli_args *a)
{
    bill_page page = {0};
    bill_balance_tx_type type = 0;
    int rc;
    if ((rc = cli_opt_u32(ctx, a, "page", &page.page)) != CLI_CONTINUE ||
        (rc = cli_opt_u32(ctx, a, "page-size", &page.page_size)) != CLI_CONTINUE)
        return rc;
    const char *ts = cli_opt(a, "type");
    if (ts && (rc = bill_balance_tx_type_parse(ts, &type)) < 0)
        return cli_fail(ctx, rc);
    if ((rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    bill_balance_txs l = {0};
    cli_table *t = NULL;
    if ((rc = bill_balance_tx_list(ctx->db, &ctx->actor, a->pos[0], type, &page, &l)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    if (ctx->json) {
        json_object *doc = json_object_new_object(), *arr = json_object_new_array();
        for (size_t i = 0; i < l.count; i++)
            json_object_array_add(arr, tx_json(&l.items[i]));
        json_object_object_add(doc, "transactions", arr);
        json_object_object_add(doc, "total", json_object_new_int64((int64_t)l.meta.total));
        json_object_object_add(doc, "page", json_object_new_int64(l.meta.page));
        json_object_object_add(doc, "page_size", json_object_new_int64(l.meta.page_size));
        cli_json_print(doc);
        rc = CLI_EXIT_OK;
        goto done;
    }
    if (!(t = tx_table(&l))) {
        rc = cli_errorf("out of memory");
        goto done;
    }
    cli_table_print(t, stdout);
    printf("\n%llu transaction%s (page %u of %u)\n", (unsigned long long)l.meta.total,
           l.meta.total == 1 ? "" : "s", l.meta.page, l.meta.total_pages ? l.meta.total_pages : 1);
    rc = CLI_EXIT_OK;
done:
    cli_table_free(t);
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
    {"page", "N", "page number (1-based)", 0},
    {"page-size", "N", "rows per page (default 20, at most 100)", 0},
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
    {"page", "N", "page number (1-based)", 0},
    {"page-size", "N", "rows per page (default 20, at most 100)", 0},
    {0},
};

static const cli_cmd balance_subs[] = {
    {
        .name = "add",
        .summary = "Recharge: add AMOUNT to the balance",
        .usage = "ID AMOUNT",
        .description = "AMOUNT is positive with at most two decimals, e.g. 100.00 or 30.5.",
        .opts = change_opts,
        .min_args = 2,
        .max_args = 2,
        .run = balance_add,
    },
    {
        .name = "deduct",
        .summary = "Deduct AMOUNT from the balance (down to -credit limit)",
        .usage = "ID AMOUNT",
        .description = "AMOUNT is positive with at most two decimals. The balance may go down to\n"
                       "minus the customer's credit limit, never below.",
        .opts = change_opts,
        .min_args = 2,
        .max_args = 2,
        .run = balance_deduct,
    },
    {
        .name = "adjust",
        .summary = "Correct the balance by a signed AMOUNT (e.g. -5.00)",
        .usage = "ID AMOUNT",
        .opts = change_opts,
        .min_args = 2,
        .max_args = 2,
        .run = balance_adjust,
    },
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

const cli_cmd cli_customer_cmd = {
    .name = "customer",
    .summary = "Customers and their balances",
    .subs = customer_subs,
};
