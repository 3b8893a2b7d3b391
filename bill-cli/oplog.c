/*
 * oplog.c — `bill-cli oplog list`: read the operation (audit) log, newest
 * first. The rows are written by libbill inside each changing transaction;
 * this command only shows them.
 */
#include "cli.h"

#include <bill/oplog.h>

#include <stdlib.h>

static int oplog_list(cli_ctx *ctx, const cli_args *a)
{
    bill_page page = {0};
    int rc;
    if ((rc = cli_opt_u32(ctx, a, "page", &page.page)) != CLI_CONTINUE ||
        (rc = cli_opt_u32(ctx, a, "page-size", &page.page_size)) != CLI_CONTINUE)
        return rc;
    if ((rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;

    bill_oplog_filter f = {.version = BILL_OPLOG_FILTER_VERSION};
    f.action = cli_opt(a, "action");
    f.target_type = cli_opt(a, "target-type");
    f.target_id = cli_opt(a, "target");
    bill_oplog_entries l = {0};
    cli_table *t = NULL;
    if ((rc = bill_oplog_list(ctx->db, &ctx->actor, &f, &page, &l)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    if (ctx->json) {
        json_object *doc = json_object_new_object(), *arr = json_object_new_array();
        for (size_t i = 0; i < l.count; i++) {
            const bill_oplog_entry *e = &l.items[i];
            char tb[48];
            json_object *o = json_object_new_object();
            json_object_object_add(o, "id", cli_json_str(e->id));
            json_object_object_add(o, "created_at", json_object_new_string(cli_time(e->created_at, tb)));
            json_object_object_add(o, "actor_type", cli_json_str(e->actor_type));
            json_object_object_add(o, "actor_id", cli_json_str(e->actor_id));
            json_object_object_add(o, "actor_name", cli_json_str(e->actor_name));
            json_object_object_add(o, "action", cli_json_str(e->action));
            json_object_object_add(o, "target_type", cli_json_str(e->target_type));
            json_object_object_add(o, "target_id", cli_json_str(e->target_id));
            /* before/after are JSON already: embed them as values, not strings */
            json_object_object_add(o, "before", e->before_json ? json_tokener_parse(e->before_json) : NULL);
            json_object_object_add(o, "after", e->after_json ? json_tokener_parse(e->after_json) : NULL);
            json_object_object_add(o, "source_ip", cli_json_str(e->source_ip));
            json_object_array_add(arr, o);
        }
        json_object_object_add(doc, "entries", arr);
        json_object_object_add(doc, "total", json_object_new_int64((int64_t)l.meta.total));
        json_object_object_add(doc, "page", json_object_new_int64(l.meta.page));
        json_object_object_add(doc, "page_size", json_object_new_int64(l.meta.page_size));
        cli_json_print(doc);
        rc = CLI_EXIT_OK;
        goto done;
    }
    static const char *const hdr[] = {"TIME", "ACTOR", "ACTION", "TARGET", "SOURCE_IP"};
    if (!(t = cli_table_new(5, hdr))) {
        rc = cli_errorf("out of memory");
        goto done;
    }
    for (size_t i = 0; i < l.count; i++) {
        const bill_oplog_entry *e = &l.items[i];
        char tb[48], target[160];
        snprintf(target, sizeof target, "%s %s", e->target_type ? e->target_type : "",
                 e->target_id ? e->target_id : "");
        cli_table_row(t, cli_time(e->created_at, tb), e->actor_name, e->action, target,
                      e->source_ip && e->source_ip[0] ? e->source_ip : "-");
    }
    cli_table_print(t, stdout);
    printf("\n%llu entr%s (page %u of %u)\n", (unsigned long long)l.meta.total,
           l.meta.total == 1 ? "y" : "ies", l.meta.page, l.meta.total_pages ? l.meta.total_pages : 1);
    rc = CLI_EXIT_OK;
done:
    cli_table_free(t);
    bill_oplog_entries_clear(&l);
    return rc;
}

static const cli_optdef list_opts[] = {
    {"page", "N", "page number (1-based)", 0},
    {"page-size", "N", "rows per page (default 20, at most 100)", 0},
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

const cli_cmd cli_oplog_cmd = {
    .name = "oplog",
    .summary = "Operation (audit) log",
    .subs = oplog_subs,
};
