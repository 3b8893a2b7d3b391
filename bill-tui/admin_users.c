/*
 * admin_users.c — tab 2: staff accounts (bill_admin_user_list), the detail
 * panel with the user's latest operation-log entries, `e`/`x` to enable or
 * disable a login and `d` to delete an account. libbill keeps the last
 * active admin from being disabled or deleted.
 */
#include "tui.h"

#include <stdio.h>

static const tui_col cols[] = {
    {"USERNAME", 8, 24, 0, false, false},
    {"ROLE", 5, 8, 0, false, false},
    {"ACTIVE", 6, 6, 0, false, false},
    {"EMAIL", 10, 32, 2, false, true},
    {"NAME", 8, 24, 3, false, true},
    {"LAST LOGIN", 16, 16, 1, false, false},
    {"CREATED", 16, 16, 4, false, false},
};

static int fetch(tui_app *app, uint32_t page, const char *search, tui_rows *rows,
                 bill_page_meta *meta, char *summary, size_t summary_size)
{
    (void)search;
    (void)summary;
    (void)summary_size;
    bill_page pg = {page, TUI_PAGE_SIZE};
    bill_admin_users l;
    int rc = bill_admin_user_list(app->db, &app->actor, &pg, &l);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < l.count && rc == BILL_OK; i++) {
        const bill_admin_user *u = &l.items[i];
        char last[32], created[32];
        if (tui_rows_add(rows, u->id, u->username, u->role, u->is_active ? "yes" : "no",
                         u->email, u->display_name, ui_time(u->last_login_at, last),
                         ui_time(u->created_at, created)) < 0)
            rc = BILL_ENOMEM;
    }
    *meta = l.meta;
    bill_admin_users_clear(&l);
    return rc;
}

static int detail(tui_app *app, const char *id, tui_text *t, char *title, size_t title_size)
{
    bill_admin_user *u = NULL;
    char tm[32];
    int rc = bill_admin_user_get(app->db, &app->actor, id, &u);
    if (rc < 0)
        return rc;
    snprintf(title, title_size, "Admin user %s", u->username);
    tui_text_add(t, ST_TITLE, "%s", u->username);
    tui_text_kv(t, "id", "%s", u->id);
    tui_text_kv(t, "role", "%s", u->role);
    tui_text_kv(t, "active", "%s", u->is_active ? "yes" : "no (cannot log in)");
    tui_text_kv(t, "email", "%s", u->email[0] ? u->email : "-");
    tui_text_kv(t, "display name", "%s", u->display_name[0] ? u->display_name : "-");
    tui_text_kv(t, "last login", "%s", ui_time(u->last_login_at, tm));
    tui_text_kv(t, "created", "%s", ui_time(u->created_at, tm));
    tui_text_add(t, ST_NORMAL, "%s", "");

    bill_oplog_filter f = {.version = BILL_OPLOG_FILTER_VERSION, .actor_id = u->id};
    bill_page pg = {1, 15};
    bill_oplog_entries log;
    if ((rc = bill_oplog_list(app->db, &app->actor, &f, &pg, &log)) < 0) {
        bill_admin_user_free(u);
        return rc;
    }
    tui_text_add(t, ST_TITLE, "What this user did (%zu of %llu, newest first)", log.count,
                 (unsigned long long)log.meta.total);
    if (!log.count)
        tui_text_add(t, ST_DIM, "%s", "  nothing recorded");
    for (size_t i = 0; i < log.count; i++)
        tui_text_add(t, ST_NORMAL, "  %s  %-24s %s %s", ui_time(log.items[i].created_at, tm),
                     log.items[i].action, log.items[i].target_type, log.items[i].target_id);
    bill_oplog_entries_clear(&log);
    bill_admin_user_free(u);
    return BILL_OK;
}

static int action(tui_app *app, int ch, const char *id, const char *label)
{
    int rc;
    if (ch == 'e' || ch == 'x') {
        bool on = ch == 'e';
        if ((rc = bill_admin_user_set_active(app->db, &app->actor, id, on)) < 0) {
            tui_fail(app, rc, on ? "enable the admin user" : "disable the admin user");
            return 1;
        }
        tui_reload(app);
        tui_msg(app, MSG_OK, "admin user %s %s", label, on ? "enabled" : "disabled");
        return 1;
    }
    return 0;
}

const tui_tab_ops tab_admin_users = {
    .name = "Admin Users",
    .cols = cols,
    .ncols = (int)(sizeof cols / sizeof cols[0]),
    .server_search = false,
    .keys_hint = "e enable, x disable, d delete",
    .fetch = fetch,
    .detail = detail,
    .action = action,
    .remove = bill_admin_user_delete,
    .remove_what = "admin user",
    .remove_note = "Its sessions end; tickets assigned to it become unassigned.",
};
