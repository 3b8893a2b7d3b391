/*
 * plugin.c — `bill-cli plugin …`: the plugins found in [plugins].plugins_dir
 * and the configured interfaces (plugin_interfaces) that use them.
 *
 * `plugin list` scans the plugin directory the way bill-server does at start
 * (which also refreshes the `plugins` table), then lists the loaded plugins
 * and the interfaces. Enabling, disabling and health checks are libbill
 * calls on an interface id; the CLI only prints what comes back.
 */
#include "cli.h"

#include <bill/plugin_host.h>

#include <stdlib.h>

/* Open the plugin host over the CLI's database; `scan` loads the .so files
 * (needed before a health check calls into one). */
static int open_plugins(cli_ctx *ctx, bool scan, bool scan_optional, bill_plugins **out,
                        bill_plugin_scan_stats *stats)
{
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    bill_plugins_options o;
    bill_plugins_options_init(&o);
    o.plugins_dir = ctx->config->plugins.plugins_dir[0] ? ctx->config->plugins.plugins_dir : NULL;
    o.db = ctx->db;
    o.master_key = ctx->config->security.has_master_key ? ctx->config->security.master_key : NULL;
    bill_plugins *p = NULL;
    if ((rc = bill_plugins_new(&p, &o)) < 0)
        return cli_fail(ctx, rc);
    if (scan && (rc = bill_plugins_scan(p, stats)) < 0) {
        if (!scan_optional) {
            rc = cli_fail(ctx, rc);
            bill_plugins_free(p);
            return rc;
        }
        /* `plugin list` still shows the configured interfaces when the
         * directory cannot be read (e.g. no ./plugins on this host). */
        cli_note(ctx, "plugins not scanned: %s", bill_error_last()->message);
    }
    *out = p;
    return CLI_CONTINUE;
}

static json_object *interface_json(const bill_plugin_interface *pi)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(pi->id));
    json_object_object_add(o, "kind", cli_json_str(bill_plugin_kind_name(pi->kind)));
    json_object_object_add(o, "plugin_id", json_object_new_string(pi->plugin_id));
    json_object_object_add(o, "name", json_object_new_string(pi->name));
    json_object_object_add(o, "enabled", json_object_new_boolean(pi->enabled));
    json_object_object_add(o, "is_healthy", json_object_new_boolean(pi->is_healthy));
    json_object_object_add(o, "last_health_at",
                           pi->last_health_at[0] ? json_object_new_string(pi->last_health_at) : NULL);
    json_object_object_add(o, "last_error", cli_json_str(pi->last_error));
    return o;
}

static int plugin_list(cli_ctx *ctx, const cli_args *a)
{
    (void)a;
    bill_plugins *p = NULL;
    bill_plugin_scan_stats st = {0};
    bill_plugin_info *info = NULL;
    bill_plugin_interface *ifs = NULL;
    size_t ninfo = 0, nifs = 0;
    cli_table *t1 = NULL, *t2 = NULL;
    int rc = open_plugins(ctx, true, true, &p, &st);
    if (rc != CLI_CONTINUE)
        return rc;
    if ((rc = bill_plugins_list(p, &info, &ninfo)) < 0 ||
        (rc = bill_plugin_interface_list(p, &ctx->actor, 0, &ifs, &nifs)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    if (ctx->json) {
        json_object *doc = json_object_new_object(), *pl = json_object_new_array(),
                    *il = json_object_new_array();
        for (size_t i = 0; i < ninfo; i++) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "kind", cli_json_str(bill_plugin_kind_name(info[i].kind)));
            json_object_object_add(o, "id", json_object_new_string(info[i].id));
            json_object_object_add(o, "name", json_object_new_string(info[i].name));
            json_object_object_add(o, "version", json_object_new_string(info[i].version));
            json_object_object_add(o, "file", json_object_new_string(info[i].file_path));
            json_object_object_add(o, "sha256", json_object_new_string(info[i].file_hash));
            json_object_object_add(o, "abi_version", json_object_new_int64(info[i].abi_version));
            json_object_array_add(pl, o);
        }
        for (size_t i = 0; i < nifs; i++)
            json_object_array_add(il, interface_json(&ifs[i]));
        json_object_object_add(doc, "plugins", pl);
        json_object_object_add(doc, "interfaces", il);
        json_object_object_add(doc, "refused_files", json_object_new_int(st.refused));
        cli_json_print(doc);
        rc = CLI_EXIT_OK;
        goto done;
    }
    static const char *const h1[] = {"KIND", "ID", "NAME", "VERSION", "FILE"};
    static const char *const h2[] = {"ID", "KIND", "PLUGIN", "NAME", "ENABLED", "HEALTHY",
                                     "LAST_ERROR"};
    if (!(t1 = cli_table_new(5, h1)) || !(t2 = cli_table_new(7, h2))) {
        rc = cli_errorf("out of memory");
        goto done;
    }
    for (size_t i = 0; i < ninfo; i++)
        cli_table_row(t1, bill_plugin_kind_name(info[i].kind), info[i].id, info[i].name,
                      info[i].version, info[i].file_path);
    for (size_t i = 0; i < nifs; i++)
        cli_table_row(t2, ifs[i].id, bill_plugin_kind_name(ifs[i].kind), ifs[i].plugin_id,
                      ifs[i].name, ifs[i].enabled ? "yes" : "no",
                      ifs[i].last_health_at[0] ? (ifs[i].is_healthy ? "yes" : "no") : "-",
                      ifs[i].last_error);
    printf("Plugins (%zu loaded", ninfo);
    if (st.refused)
        printf(", %d file%s refused: see the log", st.refused, st.refused == 1 ? "" : "s");
    printf("):\n");
    cli_table_print(t1, stdout);
    printf("\nInterfaces (%zu):\n", nifs);
    cli_table_print(t2, stdout);
    rc = CLI_EXIT_OK;
done:
    cli_table_free(t1);
    cli_table_free(t2);
    bill_plugin_interfaces_free(ifs, nifs);
    free(info);
    bill_plugins_free(p);
    return rc;
}

static int set_enabled(cli_ctx *ctx, const cli_args *a, bool enabled)
{
    bill_plugins *p = NULL;
    int rc = open_plugins(ctx, false, false, &p, NULL);
    if (rc != CLI_CONTINUE)
        return rc;
    if ((rc = bill_plugin_interface_set_enabled(p, &ctx->actor, a->pos[0], enabled)) < 0)
        rc = cli_fail(ctx, rc);
    else
        rc = cli_done(ctx, "interface %s %s", a->pos[0], enabled ? "enabled" : "disabled");
    bill_plugins_free(p);
    return rc;
}

static int plugin_enable(cli_ctx *ctx, const cli_args *a)
{
    return set_enabled(ctx, a, true);
}

static int plugin_disable(cli_ctx *ctx, const cli_args *a)
{
    return set_enabled(ctx, a, false);
}

static int plugin_health(cli_ctx *ctx, const cli_args *a)
{
    bill_plugins *p = NULL;
    bill_plugin_scan_stats st = {0};
    bill_plugin_interface pi = {0};
    bool healthy = false;
    int rc = open_plugins(ctx, true, false, &p, &st);
    if (rc != CLI_CONTINUE)
        return rc;
    if ((rc = bill_plugin_interface_health(p, &ctx->actor, a->pos[0], &healthy)) < 0 ||
        (rc = bill_plugin_interface_get(p, &ctx->actor, a->pos[0], &pi)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    if (!healthy) {
        /* An unhealthy plugin is a failed check (exit 1, nothing on stdout),
         * so scripts and monitoring can test the status. */
        rc = cli_errorf("interface %s (%s) is unhealthy%s%s", pi.name, pi.plugin_id,
                        pi.last_error && pi.last_error[0] ? ": " : "",
                        pi.last_error ? pi.last_error : "");
        goto done;
    }
    if (ctx->json)
        cli_json_print(interface_json(&pi));
    else if (!ctx->quiet)
        printf("interface %s (%s): healthy\n", pi.name, pi.plugin_id);
    rc = CLI_EXIT_OK;
done:
    bill_plugin_interface_clear(&pi);
    bill_plugins_free(p);
    return rc;
}

static const cli_cmd plugin_subs[] = {
    {.name = "list", .summary = "List loaded plugins and configured interfaces", .run = plugin_list},
    {.name = "enable", .summary = "Enable an interface", .usage = "INTERFACE_ID", .min_args = 1,
     .max_args = 1, .run = plugin_enable},
    {.name = "disable", .summary = "Disable an interface", .usage = "INTERFACE_ID", .min_args = 1,
     .max_args = 1, .run = plugin_disable},
    {.name = "health",
     .summary = "Run an interface's health check (exit 1 when unhealthy)",
     .usage = "INTERFACE_ID",
     .min_args = 1,
     .max_args = 1,
     .run = plugin_health},
    {0},
};

const cli_cmd cli_plugin_cmd = {
    .name = "plugin",
    .summary = "Plugins and interfaces: list, enable, disable, health",
    .subs = plugin_subs,
};
