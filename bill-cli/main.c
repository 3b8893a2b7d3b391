/*
 * main.c — bill-cli entry point: global options, walking the command tree,
 * option parsing against each command's table, help, messages, and opening
 * the database for the commands that need it.
 *
 * Output discipline: results go to stdout only after the command succeeded;
 * everything else (errors, usage, notes) goes to stderr. That way a script
 * can trust that a non-zero exit left nothing half-written on stdout.
 */
#include "cli.h"

#include <bill/log.h>
#include <bill/time.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef BILL_CLI_VERSION
#define BILL_CLI_VERSION "unknown"
#endif

static const cli_cmd *const root_cmds[] = {
    &cli_db_cmd,
    &cli_config_cmd,
    &cli_user_cmd,
    &cli_customer_cmd,
    &cli_category_cmd,
    &cli_group_cmd,
    &cli_product_cmd,
    &cli_plugin_cmd,
    &cli_oplog_cmd,
    &cli_events_cmd,
    &cli_order_cmd,
    &cli_payment_cmd,
    &cli_invoice_cmd,
    &cli_ticket_cmd,
    &cli_instance_cmd,
    &cli_billing_cmd,
    &cli_credit_note_cmd,
    &cli_tui_cmd,
    &cli_cluster_cmd,
    NULL,
};

/* The root is a group like any other; its children are the groups above. */
static cli_cmd root_subs[sizeof root_cmds / sizeof root_cmds[0]];

static const cli_cmd root_cmd = {
    .name = "bill-cli",
    .summary = "libbill administration from the command line",
    .usage = NULL,
    .description =
        "Administers a libbill database directly (highest privilege; every change is\n"
        "recorded in the operation log as done by the CLI user).\n"
        "\n"
        "Global options (before the command):\n"
        "  --config FILE         read FILE instead of ./config.toml\n"
        "  --database-url URL    database to use (overrides DATABASE_URL and [db].url)\n"
        "  --json                print one JSON document instead of tables\n"
        "  --now INSTANT         run as if the clock read INSTANT (RFC 3339, e.g.\n"
        "                        2027-01-31T00:00:00Z); also BILL_NOW in the environment\n"
        "  -q, --quiet           no informational messages\n"
        "  --version             print the version and exit\n"
        "  -h, --help            this help\n"
        "\n"
        "Without any database setting the CLI uses the embedded PostgreSQL in ./var/pg.\n"
        "Exit status: 0 success, 1 failure, 2 bad command line.",
    .subs = root_subs,
};

/* ---- messages ------------------------------------------------------------ */

int cli_fail(cli_ctx *ctx, int code)
{
    (void)ctx;
    const bill_error *e = bill_error_last();
    const char *msg = (e->code == code && e->message[0]) ? e->message : bill_strerror(code);
    fprintf(stderr, "bill-cli: error: %s\n", msg);
    return bill_error_exit_code(code) ? bill_error_exit_code(code) : CLI_EXIT_FAIL;
}

/* "bill-cli: <prefix><message>\n" on stderr. */
static void say(const char *prefix, const char *fmt, va_list ap) BILL_PRINTF(2, 0);
static void say(const char *prefix, const char *fmt, va_list ap)
{
    fprintf(stderr, "bill-cli: %s", prefix);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int cli_errorf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say("error: ", fmt, ap);
    va_end(ap);
    return CLI_EXIT_FAIL;
}

static void print_usage_line(FILE *f, const cli_cmd *cmd, const char *path)
{
    if (cmd->subs && !cmd->run)
        fprintf(f, "usage: bill-cli %s%s<command> [options]\n", path, path[0] ? " " : "");
    else
        fprintf(f, "usage: bill-cli %s%s%s%s\n", path, cmd->usage ? " " : "",
                cmd->usage ? cmd->usage : "", cmd->opts ? " [options]" : "");
}

int cli_usage_error(cli_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say("", fmt, ap);
    va_end(ap);
    const cli_cmd *cmd = ctx->cmd ? ctx->cmd : &root_cmd;
    print_usage_line(stderr, cmd, ctx->path);
    fprintf(stderr, "try 'bill-cli %s%s--help'\n", ctx->path, ctx->path[0] ? " " : "");
    return CLI_EXIT_USAGE;
}

void cli_note(cli_ctx *ctx, const char *fmt, ...)
{
    if (ctx->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    say("", fmt, ap);
    va_end(ap);
}

int cli_done(cli_ctx *ctx, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (ctx->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "ok", json_object_new_boolean(1));
        json_object_object_add(o, "message", json_object_new_string(buf));
        cli_json_print(o);
    } else if (!ctx->quiet) {
        puts(buf);
    }
    return CLI_EXIT_OK;
}

/* ---- help ---------------------------------------------------------------- */

void cli_print_help(FILE *f, const cli_cmd *cmd, const char *path)
{
    print_usage_line(f, cmd, path);
    fputc('\n', f);
    fprintf(f, "%s\n", cmd->summary);
    if (cmd->description)
        fprintf(f, "\n%s\n", cmd->description);
    if (cmd->subs) {
        size_t w = 0;
        for (const cli_cmd *s = cmd->subs; s->name; s++)
            if (strlen(s->name) > w)
                w = strlen(s->name);
        fputs("\nCommands:\n", f);
        for (const cli_cmd *s = cmd->subs; s->name; s++)
            fprintf(f, "  %-*s  %s\n", (int)w, s->name, s->summary);
        fprintf(f, "\nRun 'bill-cli %s%s<command> --help' for details.\n", path,
                path[0] ? " " : "");
    }
    if (cmd->opts && cmd->opts[0].name) {
        char left[CLI_MAX_OPTS][64];
        size_t w = 0;
        int n = 0;
        for (const cli_optdef *o = cmd->opts; o->name && n < CLI_MAX_OPTS; o++, n++) {
            snprintf(left[n], sizeof left[n], "--%s%s%s", o->name, o->arg ? " " : "",
                     o->arg ? o->arg : "");
            if (strlen(left[n]) > w)
                w = strlen(left[n]);
        }
        fputs("\nOptions:\n", f);
        for (int i = 0; i < n; i++) {
            const cli_optdef *o = &cmd->opts[i];
            fprintf(f, "  %-*s  %s%s%s\n", (int)w, left[i], o->help,
                    (o->flags & CLI_OPT_REQUIRED) ? " (required)" : "",
                    (o->flags & CLI_OPT_MULTI) ? " (repeatable)" : "");
        }
    }
}

/* ---- arguments ----------------------------------------------------------- */

const char *cli_opt(const cli_args *a, const char *name)
{
    for (int i = a->nopt - 1; i >= 0; i--)
        if (strcmp(a->opt[i].name, name) == 0)
            return a->opt[i].value;
    return NULL;
}

bool cli_flag(const cli_args *a, const char *name)
{
    for (int i = 0; i < a->nopt; i++)
        if (strcmp(a->opt[i].name, name) == 0)
            return true;
    return false;
}

int cli_opt_all(const cli_args *a, const char *name, const char **vals, int max)
{
    int n = 0;
    for (int i = 0; i < a->nopt && n < max; i++)
        if (strcmp(a->opt[i].name, name) == 0)
            vals[n++] = a->opt[i].value;
    return n;
}

int cli_opt_u32(cli_ctx *ctx, const cli_args *a, const char *name, uint32_t *out)
{
    const char *v = cli_opt(a, name);
    *out = 0;
    if (!v)
        return CLI_CONTINUE;
    char *end = NULL;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (!v[0] || *end || errno || v[0] == '-' || n > UINT32_MAX)
        return cli_usage_error(ctx, "--%s expects a whole number, got \"%s\"", name, v);
    *out = (uint32_t)n;
    return CLI_CONTINUE;
}

int cli_read_password(cli_ctx *ctx, const cli_args *a, char **out)
{
    *out = NULL;
    const char *p = cli_opt(a, "password");
    bool from_stdin = cli_flag(a, "password-stdin");
    if (p && from_stdin)
        return cli_usage_error(ctx, "give either --password or --password-stdin, not both");
    if (p) {
        *out = strdup(p);
        return *out ? CLI_CONTINUE : cli_errorf("out of memory");
    }
    if (!from_stdin)
        return cli_usage_error(ctx, "missing --password or --password-stdin");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return cli_errorf("--password-stdin: no password on standard input");
    }
    if (strlen(line) != (size_t)n) {
        /* the C string would end at the NUL: the password set would not be
         * the one typed */
        free(line);
        return cli_errorf("--password-stdin: the password contains a NUL byte");
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    *out = line;
    return CLI_CONTINUE;
}

static const cli_optdef *find_opt(const cli_cmd *cmd, const char *name, size_t len)
{
    if (!cmd->opts)
        return NULL;
    for (const cli_optdef *o = cmd->opts; o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

/* A leading '-' followed by a digit is a negative number (an amount for
 * "balance adjust"), not an option. */
static bool looks_like_option(const char *s)
{
    return s[0] == '-' && s[1] && !(s[1] >= '0' && s[1] <= '9') && !(s[1] == '.');
}

/* Parse a leaf command's arguments. Returns CLI_CONTINUE, or the exit code
 * after printing help (0) or a usage error (2). */
static int parse_args(cli_ctx *ctx, const cli_cmd *cmd, int argc, char **argv, cli_args *a)
{
    memset(a, 0, sizeof *a);
    bool only_pos = false;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (!only_pos && strcmp(s, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (!only_pos && (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0)) {
            cli_print_help(stdout, cmd, ctx->path);
            return CLI_EXIT_OK;
        }
        if (!only_pos && looks_like_option(s)) {
            if (strcmp(s, "-q") == 0) {
                ctx->quiet = true;
                continue;
            }
            if (s[1] != '-')
                return cli_usage_error(ctx, "unknown option '%s'", s);
            const char *name = s + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            const cli_optdef *o = find_opt(cmd, name, len);
            /* The output switches are also accepted after the command, where
             * people tend to type them ("bill-cli customer list --json"). */
            if (!o && !eq && strcmp(name, "json") == 0) {
                ctx->json = true;
                continue;
            }
            if (!o && !eq && strcmp(name, "quiet") == 0) {
                ctx->quiet = true;
                continue;
            }
            if (!o)
                return cli_usage_error(ctx, "unknown option '--%.*s'", (int)len, name);
            const char *value = NULL;
            if (o->arg) {
                if (eq)
                    value = eq + 1;
                else if (i + 1 < argc)
                    value = argv[++i];
                else
                    return cli_usage_error(ctx, "option '--%s' needs a value (%s)", o->name,
                                           o->arg);
            } else if (eq) {
                return cli_usage_error(ctx, "option '--%s' takes no value", o->name);
            }
            if (!(o->flags & CLI_OPT_MULTI) && o->arg == NULL && cli_flag(a, o->name))
                continue;
            if (a->nopt == CLI_MAX_OPTS)
                return cli_usage_error(ctx, "too many options");
            a->opt[a->nopt].name = o->name;
            a->opt[a->nopt].value = value;
            a->nopt++;
            continue;
        }
        if (a->npos == CLI_MAX_POS || a->npos == cmd->max_args)
            return cli_usage_error(ctx, "unexpected argument '%s'", s);
        a->pos[a->npos++] = s;
    }
    if (a->npos < cmd->min_args)
        return cli_usage_error(ctx, "missing argument%s (%s)", cmd->min_args - a->npos > 1 ? "s" : "",
                               cmd->usage ? cmd->usage : "");
    if (cmd->opts)
        for (const cli_optdef *o = cmd->opts; o->name; o++)
            if ((o->flags & CLI_OPT_REQUIRED) && !cli_flag(a, o->name))
                return cli_usage_error(ctx, "missing required option --%s", o->name);
    return CLI_CONTINUE;
}

/* ---- database ------------------------------------------------------------ */

static void set_actor(cli_ctx *ctx)
{
    fe_os_user(ctx->actor_name, sizeof ctx->actor_name);
    memset(&ctx->actor, 0, sizeof ctx->actor);
    ctx->actor.kind = BILL_ACTOR_CLI;
    ctx->actor.username = ctx->actor_name;
}

void cli_print_config_problems(cli_ctx *ctx, const bill_config *cfg)
{
    size_t n = 0;
    const char *const *errs = bill_config_errors(cfg, &n);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "bill-cli: config error: %s\n", errs[i]);
    if (ctx->quiet)
        return;
    const char *const *warns = bill_config_warnings(cfg, &n);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "bill-cli: config warning: %s\n", warns[i]);
}

const char *cli_time(int64_t usec, char buf[48])
{
    if (usec == 0 || bill_time_format_rfc3339(usec, buf) < 0)
        snprintf(buf, 48, "-");
    return buf;
}

/* Load the configuration the CLI runs with (frontend/console.c: a missing
 * ./config.toml is fine, a file named with --config must exist). */
int cli_load_config(cli_ctx *ctx)
{
    if (ctx->config)
        return CLI_CONTINUE;
    bill_config *cfg = NULL;
    int rc = fe_config_load(ctx->config_path, &cfg);
    if (rc < 0) {
        if (cfg) {
            cli_print_config_problems(ctx, cfg);
            bill_config_free(cfg);
            return cli_errorf("configuration is not valid; see: bill-cli config check");
        }
        return cli_fail(ctx, rc);
    }
    ctx->config = cfg;
    return CLI_CONTINUE;
}

/* The clock of --now / BILL_NOW: a fixed instant. */
int cli_open_db(cli_ctx *ctx, bool need_schema)
{
    if (ctx->db)
        return CLI_CONTINUE;
    int rc;
    if ((rc = cli_load_config(ctx)) != CLI_CONTINUE)
        return rc;
    /* One short command: one or two connections are plenty. The schema
     * check refuses pending or changed migrations with the text bill-tui
     * uses too (libbill's bill_db_schema_check). */
    fe_db_options o = {.program = "bill-cli", .database_url = ctx->database_url,
                       .max_connections = 2, .need_schema = need_schema};
    bill_db_source src = 0;
    if ((rc = fe_db_open(ctx->config, &o, &ctx->db, &src)) < 0) {
        ctx->db = NULL;
        return cli_fail(ctx, rc);
    }
    if (src == BILL_DB_SOURCE_EMBEDDED || src == BILL_DB_SOURCE_EMBEDDED_STARTED)
        cli_note(ctx, "using embedded PostgreSQL in ./var/pg%s",
                 src == BILL_DB_SOURCE_EMBEDDED_STARTED ? " (started)" : "");
    set_actor(ctx);
    if (ctx->now_text) {
        char when[BILL_TIME_BUFSZ];
        fe_db_fix_clock(ctx->db, &ctx->now_usec);
        bill_time_format_rfc3339(ctx->now_usec, when);
        /* Always said, even with -q: a command acting at another instant
         * must never pass for a normal one. */
        fprintf(stderr, "bill-cli: clock set to %s (%s); acting as if it were then\n", when,
                ctx->now_source);
    }

    return CLI_CONTINUE;
}

/* ---- dispatch ------------------------------------------------------------ */

static void path_append(cli_ctx *ctx, const char *name)
{
    size_t len = strlen(ctx->path);
    snprintf(ctx->path + len, sizeof ctx->path - len, "%s%s", len ? " " : "", name);
}

static int dispatch(cli_ctx *ctx, int argc, char **argv)
{
    const cli_cmd *cmd = &root_cmd;
    int i = 0;
    while (cmd->subs) {
        ctx->cmd = cmd;
        if (i >= argc) {
            if (cmd->run)
                break;
            if (cmd == &root_cmd)
                return cli_usage_error(ctx, "missing command");
            return cli_usage_error(ctx, "missing subcommand of '%s'", ctx->path);
        }
        const char *word = argv[i];
        if (strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0 || strcmp(word, "help") == 0) {
            cli_print_help(stdout, cmd, ctx->path);
            return CLI_EXIT_OK;
        }
        const cli_cmd *next = NULL;
        for (const cli_cmd *s = cmd->subs; s->name; s++)
            if (strcmp(s->name, word) == 0)
                next = s;
        if (!next) {
            if (cmd->run)
                break; /* a group that also runs by itself, e.g. with positionals */
            if (word[0] == '-')
                return cli_usage_error(ctx, "unknown option '%s'", word);
            return cli_usage_error(ctx, "unknown command '%s'", word);
        }
        path_append(ctx, next->name);
        cmd = next;
        i++;
    }
    ctx->cmd = cmd;
    cli_args a;
    int rc = parse_args(ctx, cmd, argc - i, argv + i, &a);
    if (rc != CLI_CONTINUE)
        return rc;
    return cmd->run(ctx, &a);
}

/* The global options that take a value (`--opt V` or `--opt=V`), and the
 * cli_ctx field that receives it. */
static const struct {
    const char *name, *meta;
    size_t offset;
} global_values[] = {
    {"--config", "FILE", offsetof(cli_ctx, config_path)},
    {"--now", "RFC 3339 instant", offsetof(cli_ctx, now_text)},
    {"--database-url", "URL", offsetof(cli_ctx, database_url)},
};
#define N_GLOBAL_VALUES (sizeof global_values / sizeof global_values[0])

/* The index in global_values of the option argument s names, else the
 * table's length. */
static size_t global_value_opt(const char *s)
{
    size_t k = 0;
    for (; k < N_GLOBAL_VALUES; k++) {
        size_t n = strlen(global_values[k].name);
        if (strncmp(s, global_values[k].name, n) == 0 && (s[n] == '\0' || s[n] == '='))
            break;
    }
    return k;
}

int main(int argc, char **argv)
{
    cli_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    fe_locale_init();
    for (size_t k = 0; root_cmds[k]; k++)
        root_subs[k] = *root_cmds[k];

    int i = 1;
    for (; i < argc; i++) {
        const char *s = argv[i];
        const char *val = NULL;
        size_t k;
        if (s[0] != '-')
            break;
        if (strcmp(s, "--json") == 0) {
            ctx.json = true;
        } else if (strcmp(s, "-q") == 0 || strcmp(s, "--quiet") == 0) {
            ctx.quiet = true;
        } else if (strcmp(s, "--version") == 0) {
            printf("bill-cli %s\n", BILL_CLI_VERSION);
            return CLI_EXIT_OK;
        } else if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
            cli_print_help(stdout, &root_cmd, "");
            return CLI_EXIT_OK;
        } else if ((k = global_value_opt(s)) < N_GLOBAL_VALUES) {
            size_t n = strlen(global_values[k].name);
            if (s[n] == '=')
                val = s + n + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else
                return cli_usage_error(&ctx, "option '%s' needs a value (%s)",
                                       global_values[k].name, global_values[k].meta);
            memcpy((char *)&ctx + global_values[k].offset, &val, sizeof val);
            if (global_values[k].offset == offsetof(cli_ctx, now_text))
                ctx.now_source = "--now";
        } else {
            return cli_usage_error(&ctx, "unknown option '%s'", s);
        }
    }

    if (fe_now_choose(ctx.now_text, &ctx.now_text, &ctx.now_source, &ctx.now_usec) < 0)
        return cli_usage_error(&ctx, "%s \"%.64s\" is not an RFC 3339 instant "
                               "(e.g. 2027-01-31T00:00:00Z)", ctx.now_source, ctx.now_text);

    /* libbill's INFO lines are for servers; an operator at a terminal wants
     * only problems. BILL_LOG still wins when set. */
    if (!getenv("BILL_LOG"))
        bill_log_set_filter(ctx.quiet ? "error" : "warn");

    int rc = dispatch(&ctx, argc - i, argv + i);
    bill_db_close(ctx.db);
    bill_config_free(ctx.config);
    if (fflush(stdout) != 0 && rc == CLI_EXIT_OK)
        rc = cli_errorf("writing output: %s", strerror(errno));
    return rc;
}
