/*
 * config.c — `bill-cli config check`: load config.toml (+ config.local.toml
 * and the environment, exactly as the server would) and list every problem.
 *
 * The loader keeps going after an error so one run shows all of them, each
 * as "file:line: [section] key: message"; the CLI only prints the list.
 * With --json the report is printed as one document whether or not the
 * check passed (the exit status still tells which).
 */
#include "cli.h"

#include <string.h>

static int config_check(cli_ctx *ctx, const cli_args *a)
{
    const char *purpose_s = cli_opt(a, "purpose");
    int purpose;
    if (!purpose_s || strcmp(purpose_s, "server") == 0)
        purpose = BILL_CONFIG_SERVER;
    else if (strcmp(purpose_s, "cli") == 0)
        purpose = BILL_CONFIG_CLI;
    else
        return cli_usage_error(ctx, "--purpose must be \"server\" or \"cli\", got \"%s\"",
                               purpose_s);

    bill_config_load_options lo;
    bill_config_load_options_init(&lo);
    lo.path = ctx->config_path;
    /* The server refuses to start without its file; so does this check for
     * it, and for a file named explicitly with --config. */
    lo.require_file = purpose == BILL_CONFIG_SERVER || ctx->config_path != NULL;

    bill_config *cfg = NULL;
    int rc = bill_config_load_ex(&cfg, &lo);
    if (!cfg)
        return cli_fail(ctx, rc);
    rc = bill_config_validate(cfg, purpose);

    size_t nerr = 0, nwarn = 0;
    const char *const *errs = bill_config_errors(cfg, &nerr);
    const char *const *warns = bill_config_warnings(cfg, &nwarn);

    if (ctx->json) {
        json_object *doc = json_object_new_object();
        json_object *je = json_object_new_array(), *jw = json_object_new_array();
        for (size_t i = 0; i < nerr; i++)
            json_object_array_add(je, json_object_new_string(errs[i]));
        for (size_t i = 0; i < nwarn; i++)
            json_object_array_add(jw, json_object_new_string(warns[i]));
        json_object_object_add(doc, "ok", json_object_new_boolean(nerr == 0 && rc == BILL_OK));
        json_object_object_add(doc, "file", json_object_new_string(cfg->main_path));
        json_object_object_add(doc, "file_loaded", json_object_new_boolean(cfg->main_loaded));
        json_object_object_add(doc, "local_file", json_object_new_string(cfg->local_path));
        json_object_object_add(doc, "local_file_loaded", json_object_new_boolean(cfg->local_loaded));
        json_object_object_add(doc, "purpose",
                               json_object_new_string(purpose == BILL_CONFIG_SERVER ? "server" : "cli"));
        json_object_object_add(doc, "errors", je);
        json_object_object_add(doc, "warnings", jw);
        cli_json_print(doc);
    } else {
        /* Like every failing command, a failed check leaves stdout empty:
         * the problems go to stderr, one per line. */
        for (size_t i = 0; i < nerr; i++)
            fprintf(stderr, "bill-cli: error: %s\n", errs[i]);
        for (size_t i = 0; i < nwarn; i++)
            fprintf(stderr, "bill-cli: warning: %s\n", warns[i]);
        if (nerr == 0 && rc == BILL_OK && !ctx->quiet) {
            if (cfg->main_loaded)
                printf("config OK (%s%s%s)\n", cfg->main_path, cfg->local_loaded ? " + " : "",
                       cfg->local_loaded ? cfg->local_path : "");
            else
                printf("config OK (no %s; built-in defaults)\n", cfg->main_path);
        }
    }
    int exit_code = CLI_EXIT_OK;
    if (nerr > 0 || rc != BILL_OK) {
        if (nerr == 0) /* failed without a listed problem: show libbill's reason */
            cli_fail(ctx, rc);
        else
            fprintf(stderr, "bill-cli: error: %zu configuration error%s in %s\n", nerr,
                    nerr == 1 ? "" : "s", cfg->main_path[0] ? cfg->main_path : "config");
        exit_code = CLI_EXIT_FAIL;
    }
    bill_config_free(cfg);
    return exit_code;
}

static const cli_optdef check_opts[] = {
    {"purpose", "server|cli",
     "what to check for: server (default; also needs [jwt].secret and the bootstrap "
     "password) or cli",
     0},
    {0},
};

static const cli_cmd config_subs[] = {
    {
        .name = "check",
        .summary = "Validate config.toml and list every error and warning",
        .description =
            "Loads the configuration the way bill-server does (config.toml, then\n"
            "config.local.toml, then the environment) and prints every problem as\n"
            "file:line: [section] key: message. Exit status 1 when there are errors.",
        .opts = check_opts,
        .run = config_check,
    },
    {0},
};

CLI_GROUP(cli_config_cmd, "config",
          "Configuration: validate config.toml", config_subs);
