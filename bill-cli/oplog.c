/*
 * oplog.c — `bill-cli oplog list`: read the operation (audit) log, newest
 * first. The rows are written by libbill inside each changing transaction;
 * this command only shows them.
 */
#include "cli.h"

#include <bill/oplog.h>

#include <stdlib.h>

static json_object *entry_json(const void *item)
{
    const bill_oplog_entry *e = item;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", cli_json_str(e->id));
    json_object_object_add(o, "created_at", cli_json_time(e->created_at));
    json_object_object_add(o, "actor_type", cli_json_str(e->actor_type));
    json_object_object_add(o, "actor_id", cli_json_str(e->actor_id));
    json_object_object_add(o, "actor_name", cli_json_str(e->actor_name));
    json_object_object_add(o, "action", cli_json_str(e->action));
    json_object_object_add(o, "target_type", cli_json_str(e->target_type));
    json_object_object_add(o, "target_id", cli_json_str(e->target_id));
    /* before/after are JSON already: embed them as values, not strings */
    json_object_object_add(o, "before", cli_json_parse(e->before_json));
    json_object_object_add(o, "after", cli_json_parse(e->after_json));
    json_object_object_add(o, "source_ip", cli_json_str(e->source_ip));
    return o;
}

static void entry_row(const void *item, const char *cell[CLI_MAX_COLS], cli_cells buf)
{
    const bill_oplog_entry *e = item;
    cell[0] = cli_cell_time(e->created_at, buf[0]);
    cell[1] = e->actor_name;
    cell[2] = e->action;
    snprintf(buf[3], CLI_CELL_SIZE, "%s %s", e->target_type ? e->target_type : "",
             e->target_id ? e->target_id : "");
    cell[3] = buf[3];
    cell[4] = e->source_ip && e->source_ip[0] ? e->source_ip : "-";
}

static const cli_column entry_cols[] = {
    {"TIME", false}, {"ACTOR", false}, {"ACTION", false}, {"TARGET", false}, {"SOURCE_IP", false}, {0},
};

static const cli_list_view entry_view = {"entries", "entry", "entries", entry_cols,
                                         sizeof(bill_oplog_entry), entry_json, entry_row};

static int oplog_list(cli_ctx *ctx, const cli_args *a)
{
    bill_page page;
    bill_oplog_entries l = {0};
    int rc;
    if ((rc = cli_page_opts(ctx, a, &page)) != CLI_CONTINUE ||
        (rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    bill_oplog_filter f = {.version = BILL_OPLOG_FILTER_VERSION,
                           .action = cli_opt(a, "action"),
                           .target_type = cli_opt(a, "target-type"),
                           .target_id = cli_opt(a, "target")};
    if ((rc = bill_oplog_list(ctx->db, &ctx->actor, &f, &page, &l)) < 0)
        return cli_fail(ctx, rc);
    rc = CLI_LIST_PRINT(ctx, &entry_view, &l, NULL, NULL);
    bill_oplog_entries_clear(&l);
    return rc;
}

static const cli_optdef list_opts[] = {
    CLI_PAGE_OPTDEFS,
    {"action", "ACTION", "only this action, or a prefix ending in '.' (\"customer.\")", 0},
    {"target-type", "TYPE", "only rows about this kind of object (customer, product, ...)", 0},
    {"target", "ID", "only rows about this object id", 0},
    {0},
};

static const cli_cmd oplog_subs[] = {
    {.name = "list", .summary = "List operation log entries, newest first", .opts = list_opts,
     .run = oplog_list},
    {0},
};

CLI_GROUP(cli_oplog_cmd, "oplog",
          "Operation (audit) log", oplog_subs);
