/*
 * plugins.c — tab 6: the configured plugin interfaces
 * (bill_plugin_interface_list) with their health, the plugins loaded from
 * [plugins].plugins_dir above the table, `e`/`x` to enable or disable an
 * interface, `h` to run its health check (stored by libbill), and `r` to
 * rescan the plugin directory as well. The detail panel shows the config
 * with secrets masked by libbill.
 */
#include "tui.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const tui_col cols[] = {
    {"NAME", 8, 30, 0, false, true},
    {"KIND", 7, 18, 2, false, false},
    {"PLUGIN", 8, 24, 3, false, false},
    {"STATE", 8, 8, 0, false, false},
    {"HEALTH", 9, 9, 0, false, false},
    {"CHECKED", 16, 20, 4, false, false},
    {"LAST ERROR", 10, 40, 1, false, true},
};

static const char *health_word(const bill_plugin_interface *pi)
{
    if (!pi->last_health_at[0])
        return "unchecked";
    return pi->is_healthy ? "healthy" : "unhealthy";
}

static int fetch(tui_app *app, uint32_t page, const char *search, tui_rows *rows,
                 bill_page_meta *meta, char *summary, size_t summary_size)
{
    (void)page;
    (void)search;
    if (!app->plugins)
        return bill_error_last()->code < 0 ? bill_error_last()->code : BILL_EUNAVAILABLE;
    bill_plugin_interfaces ifs;
    bill_plugin_infos info;
    int rc = bill_plugin_interface_list(app->plugins, &app->actor, 0, &ifs);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < ifs.count && rc == BILL_OK; i++) {
        const bill_plugin_interface *pi = &ifs.items[i];
        char checked[32] = "-";
        int64_t at = 0;
        if (pi->last_health_at[0] && bill_time_parse_rfc3339(pi->last_health_at, &at) == BILL_OK)
            ui_time(at, checked);
        const char *kind = bill_plugin_kind_name(pi->kind);
        if (tui_rows_add(rows, pi->id, pi->name, kind ? kind : "?", pi->plugin_id,
                         pi->enabled ? "enabled" : "disabled", health_word(pi), checked,
                         pi->last_error ? pi->last_error : "") < 0)
            rc = BILL_ENOMEM;
    }
    *meta = ifs.meta;
    bill_plugin_interfaces_clear(&ifs);

    /* what the directory holds, above the table */
    size_t len = 0;
    if (app->plugins_scan_rc < 0) {
        snprintf(summary, summary_size, "plugins directory %s not scanned (r retries)",
                 app->config->plugins.plugins_dir);
    } else if (bill_plugins_list(app->plugins, &info) == BILL_OK) {
        len = (size_t)snprintf(summary, summary_size, "%zu plugin%s loaded from %s%s",
                               info.count, info.count == 1 ? "" : "s",
                               app->config->plugins.plugins_dir, info.count ? ":" : "");
        for (size_t i = 0; i < info.count && len < summary_size; i++)
            len += (size_t)snprintf(summary + len, summary_size - len, " %s %s",
                                    info.items[i].id, info.items[i].version);
        bill_plugin_infos_clear(&info);
    }
    return rc;
}

static int detail(tui_app *app, const char *id, tui_text *t, char *title, size_t title_size)
{
    if (!app->plugins)
        return BILL_EUNAVAILABLE;
    bill_plugin_interface pi;
    memset(&pi, 0, sizeof pi);
    int rc = bill_plugin_interface_get(app->plugins, &app->actor, id, &pi);
    if (rc < 0)
        return rc;
    snprintf(title, title_size, "Plugin interface %s", pi.name);
    const char *kind = bill_plugin_kind_name(pi.kind);
    tui_text_add(t, ST_TITLE, "%s", pi.name);
    tui_text_kv(t, "id", "%s", pi.id);
    tui_text_kv(t, "kind", "%s", kind ? kind : "?");
    tui_text_kv(t, "plugin", "%s", pi.plugin_id);
    tui_text_kv(t, "state", "%s", pi.enabled ? "enabled" : "disabled");
    tui_text_kv(t, "health", "%s", health_word(&pi));
    tui_text_kv(t, "last check", "%s", pi.last_health_at[0] ? pi.last_health_at : "never");
    if (pi.last_error && pi.last_error[0])
        tui_text_kv(t, "last error", "%s", pi.last_error);

    bill_plugin_infos info;
    bool loaded = false;
    if (bill_plugins_list(app->plugins, &info) == BILL_OK) {
        for (size_t i = 0; i < info.count; i++) {
            const bill_plugin_info *pl = &info.items[i];
            if (strcmp(pl->id, pi.plugin_id) != 0 || pl->kind != pi.kind)
                continue;
            loaded = true;
            tui_text_kv(t, "plugin version", "%s (%s)", pl->version, pl->name);
            tui_text_kv(t, "plugin file", "%s", pl->file_path);
        }
        bill_plugin_infos_clear(&info);
    }
    if (!loaded)
        tui_text_kv(t, "plugin file", "%s", "not loaded (not in the plugins directory)");
    tui_text_add(t, ST_NORMAL, "%s", "");
    tui_text_add(t, ST_TITLE, "%s", "Config (secrets masked)");
    json_object *o = json_tokener_parse(pi.config_json ? pi.config_json : "{}");
    const char *pretty = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE)
                           : pi.config_json;
    /* one panel line per JSON line */
    const char *p = pretty ? pretty : "";
    while (*p) {
        const char *nl = strchr(p, '\n');
        int n = nl ? (int)(nl - p) : (int)strlen(p);
        tui_text_add(t, ST_NORMAL, "  %.*s", n, p);
        p += n + (nl ? 1 : 0);
    }
    json_object_put(o);
    tui_text_add(t, ST_NORMAL, "%s", "");
    tui_text_add(t, ST_DIM, "%s", "  h runs the health check; e / x enable / disable");
    bill_plugin_interface_clear(&pi);
    return BILL_OK;
}

static int action(tui_app *app, int ch, const char *id, const char *label)
{
    int rc;
    if (ch == 'r') {
        /* rescan the directory (new or changed .so files), then the list */
        if (app->plugins) {
            app->plugins_scan_rc = bill_plugins_scan(app->plugins, NULL);
            if (app->plugins_scan_rc < 0)
                tui_fail(app, app->plugins_scan_rc, "scan the plugins directory");
        }
        return 0;
    }
    if (!id)
        return 0;
    if (!app->plugins) {
        tui_msg(app, MSG_ERROR, "the plugin host is not available");
        return 1;
    }
    if (ch == 'e' || ch == 'x') {
        bool on = ch == 'e';
        if ((rc = bill_plugin_interface_set_enabled(app->plugins, &app->actor, id, on)) < 0) {
            tui_fail(app, rc, on ? "enable the interface" : "disable the interface");
            return 1;
        }
        tui_reload(app);
        tui_msg(app, MSG_OK, "interface %s %s", label, on ? "enabled" : "disabled");
        return 1;
    }
    if (ch == 'h') {
        bool healthy = false;
        tui_msg(app, MSG_INFO, "checking %s…", label);
        rc = bill_plugin_interface_health(app->plugins, &app->actor, id, &healthy);
        if (rc < 0) {
            tui_fail(app, rc, "run the health check");
            return 1;
        }
        tui_reload(app);
        tui_msg(app, healthy ? MSG_OK : MSG_ERROR, "interface %s is %s", label,
                healthy ? "healthy" : "unhealthy (see LAST ERROR)");
        return 1;
    }
    return 0;
}

const tui_tab_ops tab_plugins = {
    .name = "Plugins",
    .cols = cols,
    .ncols = (int)(sizeof cols / sizeof cols[0]),
    .server_search = false,
    .keys_hint = "e enable, x disable, h health",
    .fetch = fetch,
    .detail = detail,
    .action = action,
};
