/*
 * customers.c — tab 4: customers (bill_customer_list, searched in the
 * database by name, e-mail or contact), the detail panel with balance,
 * credit limit and the latest balance transactions, and `d` to delete one
 * (libbill refuses a customer with history: close it instead).
 */
#include "tui.h"

#include <stdio.h>

static const tui_col cols[] = {
    {"NAME", 10, 40, 0, false, true},
    {"STATUS", 6, 9, 0, false, false},
    {"BALANCE", 7, 15, 0, true, false},
    {"CREDIT", 6, 15, 3, true, false},
    {"EMAIL", 10, 32, 2, false, true},
    {"CREATED", 16, 16, 4, false, false},
    {"ID", 8, 8, 5, false, false},
};

static int fetch(tui_app *app, uint32_t page, const char *search, tui_rows *rows,
                 bill_page_meta *meta, char *summary, size_t summary_size)
{
    (void)summary;
    (void)summary_size;
    bill_customer_filter f = {.version = BILL_CUSTOMER_FILTER_VERSION, .search = search};
    bill_page pg = {page, TUI_PAGE_SIZE};
    bill_customers l;
    int rc = bill_customer_list(app->db, &app->actor, &f, &pg, &l);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < l.count && rc == BILL_OK; i++) {
        const bill_customer *c = &l.items[i];
        char bal[BILL_MONEY_BUFSZ], cred[BILL_MONEY_BUFSZ], created[32], sid[16];
        if (tui_rows_add(rows, c->id, c->name, c->status, ui_money(c->balance, bal),
                         ui_money(c->credit_limit, cred), c->email, ui_time(c->created_at, created),
                         ui_short_id(c->id, sid)) < 0)
            rc = BILL_ENOMEM;
    }
    *meta = l.meta;
    bill_customers_clear(&l);
    return rc;
}

static int detail(tui_app *app, const char *id, tui_text *t, char *title, size_t title_size)
{
    bill_customer *c = NULL;
    bill_balance_txs txs;
    char a[BILL_MONEY_BUFSZ], b[BILL_MONEY_BUFSZ], tm[32];
    int rc = bill_customer_get(app->db, &app->actor, id, &c);
    if (rc < 0)
        return rc;
    snprintf(title, title_size, "Customer %s", c->name);
    tui_text_add(t, ST_TITLE, "%s", c->name);
    tui_text_kv(t, "id", "%s", c->id);
    tui_text_kv(t, "status", "%s", c->status);
    tui_text_kv(t, "balance", "%s", ui_money(c->balance, a));
    tui_text_kv(t, "credit limit", "%s", ui_money(c->credit_limit, b));
    tui_text_kv(t, "contact", "%s", c->contact[0] ? c->contact : "-");
    tui_text_kv(t, "email", "%s", c->email[0] ? c->email : "-");
    tui_text_kv(t, "phone", "%s", c->phone[0] ? c->phone : "-");
    tui_text_kv(t, "API keys allowed", "%s", c->can_create_api_keys ? "yes" : "no");
    tui_text_kv(t, "created", "%s", ui_time(c->created_at, tm));
    if (c->notes[0])
        tui_text_kv(t, "notes", "%s", c->notes);
    tui_text_add(t, ST_NORMAL, "%s", "");

    bill_page pg = {1, 20};
    if ((rc = bill_balance_tx_list(app->db, &app->actor, c->id, 0, &pg, &txs)) < 0) {
        bill_customer_free(c);
        return rc;
    }
    tui_text_add(t, ST_TITLE, "Balance transactions (%zu of %llu, newest first)", txs.count,
                 (unsigned long long)txs.meta.total);
    if (txs.count == 0)
        tui_text_add(t, ST_DIM, "  none yet");
    else
        tui_text_add(t, ST_DIM, "  %-16s  %-10s  %12s  %12s", "WHEN", "TYPE", "AMOUNT",
                     "BALANCE AFTER");
    for (size_t i = 0; i < txs.count; i++) {
        const bill_balance_tx *x = &txs.items[i];
        const char *type = bill_balance_tx_type_name(x->type);
        tui_text_add(t, x->amount < 0 ? ST_WARN : ST_NORMAL, "  %-16s  %-10s  %12s  %12s",
                     ui_time(x->created_at, tm), type ? type : "?", ui_money(x->amount, a),
                     ui_money(x->balance_after, b));
        /* what and who on a line of its own: descriptions are long */
        tui_text_add(t, ST_DIM, "    %s%s%s%s", x->description, x->description[0] ? " · " : "",
                     "by ", x->created_by[0] ? x->created_by : "?");
    }
    bill_balance_txs_clear(&txs);
    bill_customer_free(c);
    return BILL_OK;
}

const tui_tab_ops tab_customers = {
    .name = "Customers",
    .cols = cols,
    .ncols = (int)(sizeof cols / sizeof cols[0]),
    .server_search = true,
    .keys_hint = "d delete",
    .fetch = fetch,
    .detail = detail,
    .remove = bill_customer_delete,
    .remove_what = "customer",
    .remove_note = "Only a customer without any history can be deleted (otherwise set its "
                   "status to closed).",
};
