/*
 * plugin.c — `bill-cli plugin …`: the plugins found in [plugins].plugins_dir
 * and the configured interfaces (plugin_interfaces) that use them.
 *
 * `plugin list` scans the plugin directory the way bill-server does at start
 * (which also refreshes the `plugins` table), then lists the loaded plugins
 * and the interfaces. Enabling, disabling and health checks are libbill
 * calls on an interface id; the CLI only prints what comes back.
 *
 * Interface configs: the CLI reads the JSON (from --config or a file) and
 * hands it over unchanged; libbill validates it against the plugin's schema,
 * seals "format":"secret" fields with the master key from [security] and
 * returns configs with secrets already masked. The CLI never sees, and so
 * never prints, a clear secret.
 */
#include "cli.h"

#include <bill/plugin_host.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Open the plugin host over the CLI's database (declared in cli.h; orders
 * and payments use it too); `scan` loads the .so files (needed before a
 * call into a plugin). frontend/console.c does the opening, as for bill-tui. */
int cli_open_plugins(cli_ctx *ctx, bool scan, bool scan_optional, bill_plugins **out,
                     bill_plugin_scan_stats *stats)
{
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    int scan_rc = BILL_OK;
    if ((rc = fe_plugins_open(ctx->config, ctx->db, scan, out, stats,
                              scan_optional ? &scan_rc : NULL)) < 0)
        return cli_fail(ctx, rc);
    /* `plugin list` still shows the configured interfaces when the
     * directory cannot be read (e.g. no ./plugins on this host). */
    if (scan_rc < 0)
        cli_note(ctx, "plugins not scanned: %s", bill_error_last()->message);
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

/* The interface plus its (masked) config as a JSON object, not a string. */
static json_object *interface_json_full(const bill_plugin_interface *pi)
{
    json_object *o = interface_json(pi);
    json_object *cfg = pi->config_json ? json_tokener_parse(pi->config_json) : NULL;
    json_object_object_add(o, "config", cfg);
    return o;
}

static int plugin_list(cli_ctx *ctx, const cli_args *a)
{
    (void)a;
    bill_plugins *p = NULL;
    bill_plugin_scan_stats st = {0};
    bill_plugin_infos info = {0};
    bill_plugin_interfaces ifs = {0};
    cli_table *t1 = NULL, *t2 = NULL;
    int rc = cli_open_plugins(ctx, true, true, &p, &st);
    if (rc != CLI_CONTINUE)
        return rc;
    if ((rc = bill_plugins_list(p, &info)) < 0 ||
        (rc = bill_plugin_interface_list(p, &ctx->actor, 0, &ifs)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    if (ctx->json) {
        json_object *doc = json_object_new_object(), *pl = json_object_new_array(),
                    *il = json_object_new_array();
        for (size_t i = 0; i < info.count; i++) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "kind", cli_json_str(bill_plugin_kind_name(info.items[i].kind)));
            json_object_object_add(o, "id", json_object_new_string(info.items[i].id));
            json_object_object_add(o, "name", json_object_new_string(info.items[i].name));
            json_object_object_add(o, "version", json_object_new_string(info.items[i].version));
            json_object_object_add(o, "file", json_object_new_string(info.items[i].file_path));
            json_object_object_add(o, "sha256", json_object_new_string(info.items[i].file_hash));
            json_object_object_add(o, "abi_version", json_object_new_int64(info.items[i].abi_version));
            json_object_array_add(pl, o);
        }
        for (size_t i = 0; i < ifs.count; i++)
            json_object_array_add(il, interface_json(&ifs.items[i]));
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
    for (size_t i = 0; i < info.count; i++)
        cli_table_row(t1, bill_plugin_kind_name(info.items[i].kind), info.items[i].id, info.items[i].name,
                      info.items[i].version, info.items[i].file_path);
    for (size_t i = 0; i < ifs.count; i++)
        cli_table_row(t2, ifs.items[i].id, bill_plugin_kind_name(ifs.items[i].kind), ifs.items[i].plugin_id,
                      ifs.items[i].name, ifs.items[i].enabled ? "yes" : "no",
                      ifs.items[i].last_health_at[0] ? (ifs.items[i].is_healthy ? "yes" : "no") : "-",
                      ifs.items[i].last_error);
    printf("Plugins (%zu loaded", info.count);
    if (st.refused)
        printf(", %d file%s refused: see the log", st.refused, st.refused == 1 ? "" : "s");
    printf("):\n");
    cli_table_print(t1, stdout);
    printf("\nInterfaces (%zu):\n", ifs.count);
    cli_table_print(t2, stdout);
    rc = CLI_EXIT_OK;
done:
    cli_table_free(t1);
    cli_table_free(t2);
    bill_plugin_interfaces_clear(&ifs);
    bill_plugin_infos_clear(&info);
    bill_plugins_free(p);
    return rc;
}

static int set_enabled(cli_ctx *ctx, const cli_args *a, bool enabled)
{
    bill_plugins *p = NULL;
    int rc = cli_open_plugins(ctx, false, false, &p, NULL);
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
    int rc = cli_open_plugins(ctx, true, false, &p, &st);
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

/* ---- interfaces ------------------------------------------------------------ */

static void print_interface(const bill_plugin_interface *pi)
{
    cli_table *t = cli_table_new(2, NULL);
    if (!t)
        return;
    cli_table_row(t, "id:", pi->id);
    cli_table_row(t, "name:", pi->name);
    cli_table_row(t, "kind:", bill_plugin_kind_name(pi->kind));
    cli_table_row(t, "plugin:", pi->plugin_id);
    cli_table_row(t, "enabled:", pi->enabled ? "yes" : "no");
    cli_table_row(t, "healthy:", pi->last_health_at[0] ? (pi->is_healthy ? "yes" : "no") : "-");
    cli_table_row(t, "last check:", pi->last_health_at[0] ? pi->last_health_at : "-");
    cli_table_row(t, "last error:", pi->last_error);
    cli_table_row(t, "config:", pi->config_json);
    cli_table_print(t, stdout);
    cli_table_free(t);
}

static int plugin_interfaces(cli_ctx *ctx, const cli_args *a)
{
    bill_plugins *p = NULL;
    bill_plugin_interfaces ifs = {0};
    cli_table *t = NULL;
    int kind = 0, rc;
    const char *ks = cli_opt(a, "kind");
    if (ks) {
        bill_plugin_kind k;
        if (bill_plugin_kind_parse(ks, &k) < 0)
            return cli_usage_error(ctx, "--kind must be notifier, gateway, upstream_provider or "
                                        "first_party_provider, got \"%s\"", ks);
        kind = (int)k;
    }
    if ((rc = cli_open_plugins(ctx, false, false, &p, NULL)) != CLI_CONTINUE)
        return rc;
    if ((rc = bill_plugin_interface_list(p, &ctx->actor, kind, &ifs)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    if (ctx->json) {
        json_object *doc = json_object_new_object(), *arr = json_object_new_array();
        for (size_t i = 0; i < ifs.count; i++)
            json_object_array_add(arr, interface_json_full(&ifs.items[i]));
        json_object_object_add(doc, "interfaces", arr);
        cli_json_print(doc);
        rc = CLI_EXIT_OK;
        goto done;
    }
    static const char *const hdr[] = {"ID", "KIND", "PLUGIN", "NAME", "ENABLED", "HEALTHY",
                                      "LAST_CHECK", "LAST_ERROR"};
    if (!(t = cli_table_new(8, hdr))) {
        rc = cli_errorf("out of memory");
        goto done;
    }
    for (size_t i = 0; i < ifs.count; i++)
        cli_table_row(t, ifs.items[i].id, bill_plugin_kind_name(ifs.items[i].kind), ifs.items[i].plugin_id,
                      ifs.items[i].name, ifs.items[i].enabled ? "yes" : "no",
                      ifs.items[i].last_health_at[0] ? (ifs.items[i].is_healthy ? "yes" : "no") : "-",
                      ifs.items[i].last_health_at[0] ? ifs.items[i].last_health_at : "-", ifs.items[i].last_error);
    cli_table_print(t, stdout);
    printf("\n%zu interface%s\n", ifs.count, ifs.count == 1 ? "" : "s");
    rc = CLI_EXIT_OK;
done:
    cli_table_free(t);
    bill_plugin_interfaces_clear(&ifs);
    bill_plugins_free(p);
    return rc;
}

static int plugin_show(cli_ctx *ctx, const cli_args *a)
{
    bill_plugins *p = NULL;
    bill_plugin_interface pi = {0};
    int rc = cli_open_plugins(ctx, false, false, &p, NULL);
    if (rc != CLI_CONTINUE)
        return rc;
    if ((rc = bill_plugin_interface_get(p, &ctx->actor, a->pos[0], &pi)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    if (ctx->json)
        cli_json_print(interface_json_full(&pi));
    else
        print_interface(&pi);
    rc = CLI_EXIT_OK;
done:
    bill_plugin_interface_clear(&pi);
    bill_plugins_free(p);
    return rc;
}

/* Largest --config-file we read; interface configs are a few hundred bytes. */
#define CONFIG_FILE_MAX (1024 * 1024)

/* The config JSON from --config or --config-file (exactly one unless
 * `optional`). *out is malloc'd, or NULL when optional and absent. The text
 * is passed to libbill as is: validating it is libbill's job. */
static int read_config_arg(cli_ctx *ctx, const cli_args *a, bool optional, char **out)
{
    *out = NULL;
    const char *inline_cfg = cli_opt(a, "config");
    const char *path = cli_opt(a, "config-file");
    if (inline_cfg && path)
        return cli_usage_error(ctx, "give either --config or --config-file, not both");
    if (!inline_cfg && !path)
        return optional ? CLI_CONTINUE
                        : cli_usage_error(ctx, "missing --config JSON or --config-file FILE");
    if (inline_cfg) {
        *out = strdup(inline_cfg);
        return *out ? CLI_CONTINUE : cli_errorf("out of memory");
    }
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return cli_errorf("--config-file %s: %s", path, strerror(errno));
    char *buf = malloc(CONFIG_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, CONFIG_FILE_MAX + 1, f) : 0;
    bool err = buf && ferror(f);
    if (f != stdin)
        fclose(f);
    if (!buf)
        return cli_errorf("out of memory");
    if (err || n > CONFIG_FILE_MAX) {
        free(buf);
        return cli_errorf("--config-file %s: %s", path,
                          err ? "read error" : "larger than 1 MiB");
    }
    buf[n] = '\0';
    if (strlen(buf) != n) {
        free(buf);
        return cli_errorf("--config-file %s: contains a NUL byte (not a JSON text)", path);
    }
    *out = buf;
    return CLI_CONTINUE;
}

/* The kind of loaded plugin `plugin_id` (--kind decides when given or when
 * the id exists under several kinds). */
static int find_plugin_kind(cli_ctx *ctx, bill_plugins *p, const cli_args *a,
                            const char *plugin_id, bill_plugin_kind *kind)
{
    const char *ks = cli_opt(a, "kind");
    if (ks) {
        if (bill_plugin_kind_parse(ks, kind) < 0)
            return cli_usage_error(ctx, "--kind must be notifier, gateway, upstream_provider or "
                                        "first_party_provider, got \"%s\"", ks);
        return CLI_CONTINUE;
    }
    bill_plugin_infos info = {0};
    size_t hits = 0;
    int rc = bill_plugins_list(p, &info);
    if (rc < 0)
        return cli_fail(ctx, rc);
    for (size_t i = 0; i < info.count; i++)
        if (strcmp(info.items[i].id, plugin_id) == 0) {
            *kind = info.items[i].kind;
            hits++;
        }
    bill_plugin_infos_clear(&info);
    if (hits == 0)
        return cli_errorf("plugin \"%s\" is not loaded from the plugins directory; see: bill-cli "
                          "plugin list", plugin_id);
    if (hits > 1)
        return cli_usage_error(ctx, "plugin \"%s\" exists as several kinds; give --kind",
                               plugin_id);
    return CLI_CONTINUE;
}

/* Print an interface after a change: the masked config comes from libbill. */
static int print_changed(cli_ctx *ctx, bill_plugins *p, const char *id, const char *verb)
{
    bill_plugin_interface pi = {0};
    int rc = bill_plugin_interface_get(p, &ctx->actor, id, &pi);
    if (rc < 0)
        return cli_fail(ctx, rc);
    if (ctx->json) {
        cli_json_print(interface_json_full(&pi));
    } else if (!ctx->quiet) {
        printf("%s interface %s (%s, %s)\n", verb, pi.id, pi.name, pi.plugin_id);
        printf("config: %s\n", pi.config_json ? pi.config_json : "{}");
    }
    bill_plugin_interface_clear(&pi);
    return CLI_EXIT_OK;
}

static int plugin_create_interface(cli_ctx *ctx, const cli_args *a)
{
    bill_plugins *p = NULL;
    bill_plugin_scan_stats st = {0};
    bill_plugin_kind kind = 0;
    char *cfg = NULL, id[37] = "";
    int rc = read_config_arg(ctx, a, false, &cfg);
    if (rc != CLI_CONTINUE)
        return rc;
    /* the plugin must be loaded: its schema checks the config */
    if ((rc = cli_open_plugins(ctx, true, false, &p, &st)) != CLI_CONTINUE)
        goto done;
    const char *plugin_id = cli_opt(a, "plugin");
    if ((rc = find_plugin_kind(ctx, p, a, plugin_id, &kind)) != CLI_CONTINUE)
        goto done;
    if ((rc = bill_plugin_interface_create(p, &ctx->actor, kind, plugin_id, cli_opt(a, "name"),
                                           cfg, !cli_flag(a, "disabled"), id)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    rc = print_changed(ctx, p, id, "created");
done:
    free(cfg);
    bill_plugins_free(p);
    return rc;
}

static int plugin_set_config(cli_ctx *ctx, const cli_args *a)
{
    bill_plugins *p = NULL;
    bill_plugin_scan_stats st = {0};
    char *cfg = NULL;
    const char *name = cli_opt(a, "name");
    int rc = read_config_arg(ctx, a, name != NULL, &cfg);
    if (rc != CLI_CONTINUE)
        return rc;
    if ((rc = cli_open_plugins(ctx, true, false, &p, &st)) != CLI_CONTINUE)
        goto done;
    if ((rc = bill_plugin_interface_update(p, &ctx->actor, a->pos[0], name, cfg)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    rc = print_changed(ctx, p, a->pos[0], "updated");
done:
    free(cfg);
    bill_plugins_free(p);
    return rc;
}

static const cli_optdef interfaces_opts[] = {
    {"kind", "KIND", "only notifier | gateway | upstream_provider | first_party_provider", 0},
    {0},
};

static const cli_optdef create_iface_opts[] = {
    {"plugin", "PLUGIN_ID", "plugin id as in 'plugin list', e.g. gateway-yipay", CLI_OPT_REQUIRED},
    {"name", "NAME", "display name of the interface", CLI_OPT_REQUIRED},
    {"config", "JSON", "config object, checked against the plugin's schema", 0},
    {"config-file", "FILE", "read the config JSON from FILE ('-' = stdin)", 0},
    {"kind", "KIND", "plugin kind, only needed when the id exists under several kinds", 0},
    {"disabled", NULL, "create it disabled", 0},
    {0},
};

static const cli_optdef set_config_opts[] = {
    {"config", "JSON", "new config; secret fields given as ******** or left out keep their value", 0},
    {"config-file", "FILE", "read the config JSON from FILE ('-' = stdin)", 0},
    {"name", "NAME", "also rename the interface", 0},
    {0},
};

static const cli_cmd plugin_subs[] = {
    {.name = "list", .summary = "List loaded plugins and configured interfaces", .run = plugin_list},
    {.name = "interfaces",
     .summary = "List configured interfaces (configs with secrets masked in --json)",
     .opts = interfaces_opts,
     .run = plugin_interfaces},
    {.name = "show", .summary = "Show one interface and its config (secrets masked)",
     .usage = "INTERFACE_ID", .min_args = 1, .max_args = 1, .run = plugin_show},
    {.name = "create-interface",
     .summary = "Configure a new interface of a loaded plugin",
     .description =
         "The config is validated against the plugin's schema. Fields the schema marks as\n"
         "secret are encrypted with [security] master_key (or master_key_file) and are\n"
         "only ever shown as ********. Example:\n"
         "  bill-cli plugin create-interface --plugin gateway-yipay --name Yipay \\\n"
         "      --config '{\"pid\":\"1001\",\"key\":\"...\"}'",
     .opts = create_iface_opts,
     .run = plugin_create_interface},
    {.name = "set-config",
     .summary = "Replace an interface's config (and/or name)",
     .usage = "INTERFACE_ID",
     .description = "A secret field given as ******** or left out keeps its stored value.",
     .opts = set_config_opts,
     .min_args = 1,
     .max_args = 1,
     .run = plugin_set_config},
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

CLI_GROUP(cli_plugin_cmd, "plugin",
          "Plugins and interfaces: list, configure, enable, disable, health", plugin_subs);
