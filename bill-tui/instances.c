/*
 * instances.c — tab 7: instances (bill_instance_list), the detail panel
 * with the provider's detail sections and the actions allowed now
 * (bill_instance_get), and the actions themselves through
 * bill_instance_action_run — libbill decides what is allowed (and refuses,
 * e.g., a suspended instance); `s` start, `t` stop, `b` reboot and `d`
 * terminate, each asked first when libbill gives a confirmation text (stop,
 * reboot) and terminate always.
 */
#include "tui.h"

#include <stdio.h>
#include <string.h>

static const tui_col cols[] = {
    {"ID", 8, 8, 0, false, false},
    {"STATUS", 6, 12, 0, false, false},
    {"PRODUCT", 8, 32, 0, false, true},
    {"IP", 7, 39, 1, false, false},
    {"CYCLE", 5, 9, 3, false, false},
    {"NEXT DUE", 10, 10, 2, false, false},
    {"CUSTOMER", 8, 8, 4, false, false},
    {"CREATED", 16, 16, 5, false, false},
};

static int fetch(tui_app *app, uint32_t page, const char *search, tui_rows *rows,
                 bill_page_meta *meta, char *summary, size_t summary_size)
{
    (void)search;
    (void)summary;
    (void)summary_size;
    bill_instance_filter f = {.version = BILL_INSTANCE_FILTER_VERSION};
    bill_page pg = {page, TUI_PAGE_SIZE};
    bill_instances l;
    int rc = bill_instance_list(app->db, &app->actor, &f, &pg, &l);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < l.count && rc == BILL_OK; i++) {
        const bill_instance *x = &l.items[i];
        char sid[16], cid[16], created[32];
        if (tui_rows_add(rows, x->id, ui_short_id(x->id, sid), x->status,
                         x->product_name[0] ? x->product_name : "-",
                         x->ip_address[0] ? x->ip_address : "-", x->billing_cycle,
                         x->next_due_date[0] ? x->next_due_date : "-",
                         ui_short_id(x->customer_id, cid), ui_time(x->created_at, created)) < 0)
            rc = BILL_ENOMEM;
    }
    *meta = l.meta;
    bill_instances_clear(&l);
    return rc;
}

/* Sanitized HTML as plain lines: tags dropped, common entities decoded. */
static void add_html(tui_text *t, const char *html)
{
    char line[512];
    size_t n = 0;
    bool in_tag = false;
    for (const char *p = html; *p; p++) {
        if (*p == '<') {
            in_tag = true;
            /* block tags end a line */
            if (!strncmp(p, "<br", 3) || !strncmp(p, "</p", 3) || !strncmp(p, "</li", 4) ||
                !strncmp(p, "</tr", 4) || !strncmp(p, "</div", 5)) {
                if (n) {
                    line[n] = '\0';
                    tui_text_add(t, ST_NORMAL, "    %s", line);
                    n = 0;
                }
            }
            continue;
        }
        if (in_tag) {
            in_tag = *p != '>';
            continue;
        }
        static const struct { const char *ent, *ch; } ents[] = {
            {"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}, {"&quot;", "\""}, {"&#39;", "'"}};
        const char *out = NULL;
        for (size_t e = 0; e < sizeof ents / sizeof ents[0]; e++)
            if (!strncmp(p, ents[e].ent, strlen(ents[e].ent))) {
                out = ents[e].ch;
                p += strlen(ents[e].ent) - 1;
            }
        if (n + 2 < sizeof line)
            line[n++] = out ? *out : *p;
    }
    if (n) {
        line[n] = '\0';
        tui_text_add(t, ST_NORMAL, "    %s", line);
    }
}

static int detail(tui_app *app, const char *id, tui_text *t, char *title, size_t title_size)
{
    bill_instance_detail *d = NULL;
    char tm[32];
    int rc = bill_instance_get(app->db, app->plugins, &app->actor, id, &d);
    if (rc < 0)
        return rc;
    const bill_instance *x = &d->instance;
    snprintf(title, title_size, "Instance %.8s (%s)", x->id, x->status);
    tui_text_add(t, ST_TITLE, "%s", x->product_name[0] ? x->product_name : "instance");
    tui_text_kv(t, "id", "%s", x->id);
    tui_text_kv(t, "status", "%s", x->status);
    tui_text_kv(t, "customer", "%s", x->customer_id);
    tui_text_kv(t, "IP address", "%s", x->ip_address[0] ? x->ip_address : "-");
    tui_text_kv(t, "billing cycle", "%s", x->billing_cycle);
    tui_text_kv(t, "next due", "%s", x->next_due_date[0] ? x->next_due_date : "-");
    tui_text_kv(t, "order", "%s", x->order_id[0] ? x->order_id : "-");
    tui_text_kv(t, "provider", "%s", x->provider_id[0] ? x->provider_id : "none");
    if (x->provider_instance_id[0])
        tui_text_kv(t, "provider's id", "%s", x->provider_instance_id);
    tui_text_kv(t, "spec", "%s", x->server_spec_json);
    tui_text_kv(t, "created", "%s", ui_time(x->created_at, tm));
    tui_text_add(t, ST_NORMAL, "%s", "");
    tui_text_add(t, ST_TITLE, "%s", "Actions");
    static const char keys[] = {'s', 't', 'b', 'd'};
    for (size_t i = 0; i < d->action_count; i++) {
        const bill_instance_action *a = &d->actions[i];
        tui_text_add(t, a->enabled ? ST_NORMAL : ST_DIM, "  %c  %-10s %s", i < 4 ? keys[i] : ' ',
                     a->label, a->enabled ? "allowed now" : "not in this status");
    }
    for (size_t s = 0; s < d->section_count; s++) {
        const bill_instance_section *sec = &d->sections[s];
        tui_text_add(t, ST_NORMAL, "%s", "");
        tui_text_add(t, ST_TITLE, "%s", sec->title[0] ? sec->title : "Details");
        for (size_t f = 0; f < sec->field_count; f++)
            tui_text_kv(t, sec->fields[f].key, "%s", sec->fields[f].value);
        if (sec->content_html && sec->content_html[0])
            add_html(t, sec->content_html);
    }
    bill_instance_detail_free(d);
    return BILL_OK;
}

/* What libbill would ask before `action` ("" when nothing). */
static void confirmation_of(tui_app *app, const char *id, const char *action, char *out,
                            size_t size)
{
    bill_instance_detail *d = NULL;
    out[0] = '\0';
    if (bill_instance_get(app->db, NULL, &app->actor, id, &d) < 0)
        return;
    for (size_t i = 0; i < d->action_count; i++)
        if (strcmp(d->actions[i].id, action) == 0 && d->actions[i].confirmation)
            snprintf(out, size, "%s", d->actions[i].confirmation);
    bill_instance_detail_free(d);
}

static int action(tui_app *app, int ch, const char *id, const char *label)
{
    const char *act = ch == 's' ? "start" : ch == 't' ? "stop" : ch == 'b' ? "reboot"
                    : ch == 'd' ? "terminate" : NULL;
    if (!act || !id)
        return 0;
    char ask[512], q[700], what[64];
    confirmation_of(app, id, act, ask, sizeof ask);
    if (ch == 'd' && !ask[0])
        snprintf(ask, sizeof ask, "Terminate the server? This cannot be undone.");
    if (ask[0]) {
        snprintf(q, sizeof q, "Instance %s: %s", label, ask);
        char t[32];
        snprintf(t, sizeof t, "%c%s instance", act[0] - 32, act + 1);
        if (!tui_confirm(app, t, q))
            return 1;
    }
    snprintf(what, sizeof what, "%s instance %s", act, label);
    tui_msg(app, MSG_INFO, "%s…", what);
    int rc = bill_instance_action_run(app->db, app->plugins, &app->actor, id, act);
    if (rc < 0) {
        tui_fail(app, rc, what);
        return 1;
    }
    tui_reload(app);
    static const char *const done[] = {"started", "stopped", "rebooted", "terminated"};
    int k = ch == 's' ? 0 : ch == 't' ? 1 : ch == 'b' ? 2 : 3;
    tui_msg(app, MSG_OK, "instance %s %s", label, done[k]);
    return 1;
}

const tui_tab_ops tab_instances = {
    .name = "Instances",
    .cols = cols,
    .ncols = (int)(sizeof cols / sizeof cols[0]),
    .server_search = false,
    .keys_hint = "s start, t stop, b reboot, d terminate",
    .fetch = fetch,
    .detail = detail,
    .action = action,
};
