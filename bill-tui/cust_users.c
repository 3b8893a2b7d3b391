/*
 * cust_users.c — tab 3: customer login accounts across every customer
 * (bill_customer_user_list, searched in the database by username, e-mail,
 * display name or customer name), with a detail panel that adds the
 * customer's balance and status.
 */
#include "tui.h"

#include <stdio.h>

static const tui_col cols[] = {
    {"USERNAME", 8, 24, 0, false, false},
    {"CUSTOMER", 8, 30, 0, false, true},
    {"EMAIL", 10, 32, 1, false, true},
    {"ROLE", 5, 6, 3, false, false},
    {"ACTIVE", 6, 6, 0, false, false},
    {"VERIFIED", 8, 8, 4, false, false},
    {"LAST LOGIN", 16, 16, 2, false, false},
};

static int fetch(tui_app *app, uint32_t page, const char *search, tui_rows *rows,
                 bill_page_meta *meta, char *summary, size_t summary_size)
{
    (void)summary;
    (void)summary_size;
    bill_customer_user_filter f = {.version = BILL_CUSTOMER_USER_FILTER_VERSION,
                                 .search = search};
    bill_page pg = {page, TUI_PAGE_SIZE};
    bill_customer_users l;
    int rc = bill_customer_user_list(app->db, &app->actor, &f, &pg, &l);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < l.count && rc == BILL_OK; i++) {
        const bill_customer_user *u = &l.items[i];
        char last[32];
        if (tui_rows_add(rows, u->id, u->username, u->customer_name, u->email, u->role,
                         u->is_active ? "yes" : "no", u->email_verified ? "yes" : "no",
                         ui_time(u->last_login_at_us, last)) < 0)
            rc = BILL_ENOMEM;
    }
    *meta = l.meta;
    bill_customer_users_clear(&l);
    return rc;
}

static int detail(tui_app *app, const char *id, tui_text *t, char *title, size_t title_size)
{
    bill_customer_user *u = NULL;
    bill_customer *c = NULL;
    char tm[32], bal[BILL_MONEY_BUFSZ];
    int rc = bill_customer_user_get(app->db, id, &u);
    if (rc < 0)
        return rc;
    snprintf(title, title_size, "Customer user %s", u->username);
    tui_text_add(t, ST_TITLE, "%s", u->username);
    tui_text_kv(t, "id", "%s", u->id);
    tui_text_kv(t, "display name", "%s", u->display_name[0] ? u->display_name : "-");
    tui_text_kv(t, "email", "%s%s", u->email, u->email_verified ? " (verified)" : "");
    tui_text_kv(t, "role", "%s", u->role);
    tui_text_kv(t, "active", "%s", u->is_active ? "yes" : "no (cannot log in)");
    tui_text_kv(t, "created", "%s", ui_time(u->created_at_us, tm));
    tui_text_add(t, ST_NORMAL, "%s", "");
    if ((rc = bill_customer_get(app->db, &app->actor, u->customer_id, &c)) == BILL_OK) {
        tui_text_add(t, ST_TITLE, "%s", "Customer");
        tui_text_kv(t, "name", "%s", c->name);
        tui_text_kv(t, "id", "%s", c->id);
        tui_text_kv(t, "status", "%s", c->status);
        tui_text_kv(t, "balance", "%s", ui_money(c->balance, bal));
        tui_text_add(t, ST_DIM, "%s", "  (tab 4, Customers, has its balance transactions)");
    }
    bill_customer_free(c);
    bill_customer_user_free(u);
    return rc;
}

const tui_tab_ops tab_cust_users = {
    .name = "Cust Users",
    .cols = cols,
    .ncols = (int)(sizeof cols / sizeof cols[0]),
    .server_search = true,
    .fetch = fetch,
    .detail = detail,
};
