/*
 * cli.h — shared declarations of bill-cli, the direct-database admin CLI.
 *
 * bill-cli is a thin frontend: it parses the command line, calls libbill's
 * public API and prints what comes back. It decides nothing itself; every
 * rule (what an amount may look like, whether a deduction is allowed, ...)
 * lives in libbill so the server, the TUI and embedders share it.
 *
 * The command tree is data: each group file (db.c, user.c, ...) exports one
 * `cli_cmd` describing its subcommands, their options and handlers. main.c
 * walks that tree, parses options against the table and prints help from it,
 * so `--help` works at every level without per-command code.
 */
#ifndef BILL_CLI_H
#define BILL_CLI_H

#include <bill/bill.h>
#include <bill/config.h>

#include "console.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>

/* Exit codes (R-CLI-1): success, failure reported by libbill or the
 * environment, and a command line we could not understand. */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAIL = 1,
    CLI_EXIT_USAGE = 2,
};

/* Returned by helpers that may end the command early: "keep going". Any
 * other value is the exit code the caller should return at once. */
#define CLI_CONTINUE (-1)

/* ---- command table ------------------------------------------------------ */

enum {
    CLI_OPT_REQUIRED = 1u << 0, /* the command refuses to run without it */
    CLI_OPT_MULTI = 1u << 1,    /* may be given several times (--spec k=v) */
};

typedef struct cli_optdef {
    const char *name;  /* long name without "--"; NULL ends the list */
    const char *arg;   /* placeholder ("TEXT") or NULL for a flag */
    const char *help;  /* one line */
    unsigned flags;    /* CLI_OPT_* */
} cli_optdef;

#define CLI_MAX_POS 8
#define CLI_MAX_OPTS 64

/* Parsed command line of a leaf command. Strings point into argv. */
typedef struct cli_args {
    const char *pos[CLI_MAX_POS];
    int npos;
    struct {
        const char *name;  /* canonical name from the optdef */
        const char *value; /* NULL for flags */
    } opt[CLI_MAX_OPTS];
    int nopt;
} cli_args;

typedef struct cli_ctx cli_ctx;
typedef struct cli_cmd cli_cmd;

/* A leaf handler. Returns a CLI_EXIT_* code. It must print nothing on
 * stdout when it fails. */
typedef int (*cli_run_fn)(cli_ctx *ctx, const cli_args *args);

struct cli_cmd {
    const char *name;        /* NULL ends a subcommand array */
    const char *summary;     /* one line for the parent's list */
    const char *usage;       /* positionals after the path, e.g. "ID AMOUNT" */
    const char *description; /* longer text for --help; may be NULL */
    const cli_optdef *opts;  /* NULL or {NULL}-terminated */
    int min_args, max_args;  /* positional count bounds */
    cli_run_fn run;          /* NULL for pure groups */
    const cli_cmd *subs;     /* NULL or {NULL}-terminated */
};

/* Defines the command group `var`: `nm` with the subcommand array `subcmds`. */
#define CLI_GROUP(var, nm, sum, subcmds)                                        \
    const cli_cmd var = {.name = (nm), .summary = (sum), .subs = (subcmds)}

/* Groups, one per file. */
extern const cli_cmd cli_db_cmd;
extern const cli_cmd cli_config_cmd;
extern const cli_cmd cli_user_cmd;
extern const cli_cmd cli_customer_cmd;
extern const cli_cmd cli_category_cmd;
extern const cli_cmd cli_group_cmd;
extern const cli_cmd cli_product_cmd;
extern const cli_cmd cli_plugin_cmd;
extern const cli_cmd cli_oplog_cmd;
extern const cli_cmd cli_events_cmd;
extern const cli_cmd cli_order_cmd;
extern const cli_cmd cli_payment_cmd;
extern const cli_cmd cli_invoice_cmd;
extern const cli_cmd cli_ticket_cmd;
extern const cli_cmd cli_instance_cmd;
extern const cli_cmd cli_billing_cmd;
extern const cli_cmd cli_credit_note_cmd;
extern const cli_cmd cli_tui_cmd;
extern const cli_cmd cli_cluster_cmd;
/* billing.c: the billing subcommands of `instance` */
int cli_instance_change_product(cli_ctx *ctx, const cli_args *a);
int cli_instance_change_cycle(cli_ctx *ctx, const cli_args *a);
int cli_instance_cancel(cli_ctx *ctx, const cli_args *a);

/* ---- run context ----------------------------------------------------------- */

struct cli_ctx {
    /* global options */
    const char *config_path;  /* --config; NULL: ./config.toml if present */
    const char *database_url; /* --database-url */
    bool json;
    bool quiet;
    const char *now_text;     /* --now or BILL_NOW; NULL: the wall clock */
    const char *now_source;   /* "--now" | "BILL_NOW" */
    int64_t now_usec;

    /* the command being run, for usage messages */
    const cli_cmd *cmd;
    char path[128]; /* "customer balance add" */

    /* loaded and opened on demand by cli_open_db() */
    bill_config *config;
    bill_db *db;
    bill_actor actor;
    char actor_name[64];
};

/* Open the database for the current command (once). `need_schema`: fail when
 * migrations are pending (everything except db status/migrate and config
 * check). Returns CLI_CONTINUE or an exit code (error already printed). */
int cli_open_db(cli_ctx *ctx, bool need_schema);
/* Open libbill's plugin host over ctx->db (plugin.c). `scan` loads the
 * plugins directory; with `scan_optional` an unreadable directory is only a
 * note. `stats` may be NULL. Returns CLI_CONTINUE or an exit code. */
struct bill_plugins;
struct bill_plugin_scan_stats;
int cli_open_plugins(cli_ctx *ctx, bool scan, bool scan_optional, struct bill_plugins **out,
                     struct bill_plugin_scan_stats *stats);
/* Load the configuration into ctx->config (once); cli_open_db does this. */
int cli_load_config(cli_ctx *ctx);

/* Print every error (and, unless quiet, warning) a config load recorded. */
void cli_print_config_problems(cli_ctx *ctx, const bill_config *cfg);

/* Format usec-since-epoch as RFC 3339 into buf ("-" for 0 = never). */
const char *cli_time(int64_t usec, char buf[48]);

/* ---- arguments ----------------------------------------------------------- */

/* Last value of option `name`, or NULL when absent. */
const char *cli_opt(const cli_args *a, const char *name);
/* True when the flag (or option) was given. */
bool cli_flag(const cli_args *a, const char *name);
/* Up to `max` values of a repeatable option, in order; returns the count. */
int cli_opt_all(const cli_args *a, const char *name, const char **vals, int max);

/* Parse an unsigned page number/size option; "" / absent -> 0. Returns
 * CLI_CONTINUE or CLI_EXIT_USAGE (message printed). */
int cli_opt_u32(cli_ctx *ctx, const cli_args *a, const char *name, uint32_t *out);

/* Read a secret: the value of --password, or one line of stdin when
 * --password-stdin is given. *out is malloc'd. */
int cli_read_password(cli_ctx *ctx, const cli_args *a, char **out);

/* ---- messages ------------------------------------------------------------ */

/* "bill-cli: error: <libbill's last error message>" on stderr; returns 1. */
int cli_fail(cli_ctx *ctx, int code);
/* A CLI-local failure (not from libbill); returns 1. */
int cli_errorf(const char *fmt, ...) BILL_PRINTF(1, 2);
/* A usage error of the current command: message, usage line and
 * "try --help" on stderr; returns 2. */
int cli_usage_error(cli_ctx *ctx, const char *fmt, ...) BILL_PRINTF(2, 3);
/* An informational line on stderr, suppressed by --quiet. */
void cli_note(cli_ctx *ctx, const char *fmt, ...) BILL_PRINTF(2, 3);
/* A confirmation line on stdout ("applied 3 migrations"); with --json it
 * becomes {"ok":true,"message":...} so stdout is always one document. */
int cli_done(cli_ctx *ctx, const char *fmt, ...) BILL_PRINTF(2, 3);

/* Print the help of a command (to `f`). */
void cli_print_help(FILE *f, const cli_cmd *cmd, const char *path);

/* ---- output (output.c) --------------------------------------------------- */

typedef struct cli_table cli_table;

/* A table with `ncols` columns; `headers` may be NULL for a key/value block
 * without a header line. */
cli_table *cli_table_new(int ncols, const char *const *headers);
void cli_table_free(cli_table *t);
/* Right-align column `col` (numbers, money). */
void cli_table_align_right(cli_table *t, int col);
/* Append a row of ncols strings (copied; NULL prints as ""). Returns 0 or -1
 * on out of memory. */
int cli_table_add(cli_table *t, const char *const *cells);
/* Same, variadic. */
int cli_table_row(cli_table *t, ...);
/* Print with column widths taken from the content, measured in terminal
 * cells (CJK names are two cells per character). */
void cli_table_print(const cli_table *t, FILE *f);

/* Print one JSON document on stdout and release it. */
void cli_json_print(json_object *doc);
/* json_object_new_string that maps NULL to JSON null. */
json_object *cli_json_str(const char *s);
/* Same, mapping "" to null too (optional ids and dates). */
json_object *cli_json_opt(const char *s);
/* Money as a string with two decimals ("12.50"). */
json_object *cli_json_money(bill_money m);
/* RFC 3339 UTC, or null for 0 (never). */
json_object *cli_json_time(int64_t usec);
/* A JSON text embedded as a value (NULL or unparsable text -> null). */
json_object *cli_json_parse(const char *text);

/* ---- list views (output.c) ------------------------------------------------
 * Every list command prints the same two ways: with --json one document
 *     {"<key>": [ ... ], "total": N, "page": P, "page_size": S}
 * and otherwise a table, one row per item, and the footer
 *     "N things (page P of Q)".
 * A command describes its view once, as a table of columns and two
 * functions, and calls cli_list_print. */

/* The two option rows of every paged list, for its cli_optdef table. */
#define CLI_PAGE_OPTDEFS                                                        \
    {"page", "N", "page number (from 1)", 0},                                   \
    {"page-size", "N", "rows per page (default 20, at most 100)", 0}

/* --page / --page-size as a bill_page. CLI_CONTINUE or CLI_EXIT_USAGE. */
int cli_page_opts(cli_ctx *ctx, const cli_args *a, bill_page *out);

#define CLI_MAX_COLS 12
#define CLI_CELL_SIZE 96

typedef struct cli_column {
    const char *header; /* NULL ends the table */
    bool right;         /* right-aligned: numbers, money */
} cli_column;

/* Scratch space for the formatted cells of one row. */
typedef char cli_cells[CLI_MAX_COLS][CLI_CELL_SIZE];

typedef struct cli_list_view {
    const char *json_key;    /* "orders" */
    const char *one, *many;  /* footer nouns: "order", "orders" */
    const cli_column *cols;
    size_t item_size;        /* sizeof one item */
    json_object *(*to_json)(const void *item);
    /* Set cell[c] for every column (a string of the item, or one formatted
     * into buf[c]). */
    void (*row)(const void *item, const char *cell[CLI_MAX_COLS], cli_cells buf);
} cli_list_view;

/* Print a list (count items of v->item_size at `items`) with its page
 * meta. `extra_json` (may be NULL; consumed) adds keys to the JSON
 * document; `footer_extra` (may be NULL) is appended to the footer line.
 * Returns CLI_EXIT_OK, or 1 on out of memory. */
int cli_list_print(cli_ctx *ctx, const cli_list_view *v, const void *items, size_t count,
                   const bill_page_meta *meta, json_object *extra_json, const char *footer_extra);
/* Just the table of a view (no footer); NULL on out of memory. */
cli_table *cli_list_table(const cli_list_view *v, const void *items, size_t count);
/* The same for a libbill list struct (page.h shape). */
#define CLI_LIST_PRINT(ctx, v, l, extra, footer)                                \
    cli_list_print((ctx), (v), (l)->items, (l)->count, &(l)->meta, (extra), (footer))
/* Money and time into a cell buffer. */
const char *cli_cell_money(bill_money m, char *buf);
const char *cli_cell_time(int64_t usec, char *buf);
const char *cli_cell_u64(uint64_t n, char *buf);

#endif
