/*
 * instance.c — `bill-cli instance …`: provisioned servers (list, show with
 * detail sections and the actions allowed now, start/stop/reboot/terminate).
 *
 * Which action is allowed in which status, and calling the provider plugin
 * first, is libbill's (instance.h). The CLI opens the plugin host (scanning
 * the plugins directory) because actions on provider-backed instances go
 * through the plugin.
 *
 * terminate is final, so on a terminal it asks "type yes"; without a
 * terminal (scripts) it refuses unless --yes is given, rather than guess.
 */
#include "cli.h"

#include <bill/instance.h>
#include <bill/plugin_host.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static json_object *instance_json(const void *item)
{
    const bill_instance *i = item;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", cli_json_str(i->id));
    json_object_object_add(o, "customer_id", cli_json_str(i->customer_id));
    json_object_object_add(o, "order_id", cli_json_opt(i->order_id));
    json_object_object_add(o, "product_id", cli_json_opt(i->product_id));
    json_object_object_add(o, "product_name", cli_json_str(i->product_name));
    json_object_object_add(o, "provider_id", cli_json_opt(i->provider_id));
    json_object_object_add(o, "provider_instance_id", cli_json_opt(i->provider_instance_id));
    json_object_object_add(o, "status", cli_json_str(i->status));
    json_object_object_add(o, "ip_address", cli_json_opt(i->ip_address));
    json_object_object_add(o, "server_spec", cli_json_parse(i->server_spec_json));
    json_object_object_add(o, "billing_cycle", cli_json_str(i->billing_cycle));
    json_object_object_add(o, "next_due_date", cli_json_opt(i->next_due_date));
    json_object_object_add(o, "anchor_date", cli_json_opt(i->anchor_date));
    json_object_object_add(o, "current_period_start", cli_json_opt(i->current_period_start));
    json_object_object_add(o, "cancel_at_period_end",
                           json_object_new_boolean(i->cancel_at_period_end));
    json_object_object_add(o, "created_at", cli_json_time(i->created_at));
    json_object_object_add(o, "updated_at", cli_json_time(i->updated_at));
    return o;
}

static json_object *detail_json(const bill_instance_detail *d)
{
    json_object *o = instance_json(&d->instance), *secs = json_object_new_array(),
                *acts = json_object_new_array();
    for (size_t i = 0; i < d->section_count; i++) {
        const bill_instance_section *s = &d->sections[i];
        json_object *so = json_object_new_object(), *fs = json_object_new_array();
        json_object_object_add(so, "title", cli_json_str(s->title));
        for (size_t k = 0; k < s->field_count; k++) {
            json_object *f = json_object_new_object();
            json_object_object_add(f, "key", cli_json_str(s->fields[k].key));
            json_object_object_add(f, "value", cli_json_str(s->fields[k].value));
            json_object_object_add(f, "value_type", cli_json_str(s->fields[k].value_type));
            json_object_array_add(fs, f);
        }
        json_object_object_add(so, "fields", fs);
        json_object_object_add(so, "content_html", cli_json_str(s->content_html));
        json_object_object_add(so, "sort_order", json_object_new_int(s->sort_order));
        json_object_array_add(secs, so);
    }
    for (size_t i = 0; i < d->action_count; i++) {
        const bill_instance_action *a = &d->actions[i];
        json_object *ao = json_object_new_object();
        json_object_object_add(ao, "id", cli_json_str(a->id));
        json_object_object_add(ao, "label", cli_json_str(a->label));
        json_object_object_add(ao, "enabled", json_object_new_boolean(a->enabled));
        json_object_array_add(acts, ao);
    }
    json_object_object_add(o, "sections", secs);
    json_object_object_add(o, "actions", acts);
    return o;
}

static void print_detail(const bill_instance_detail *d)
{
    const bill_instance *i = &d->instance;
    char t1[48], t2[48], acts[128] = "";
    cli_table *t = cli_table_new(2, NULL);
    if (!t)
        return;
    for (size_t k = 0; k < d->action_count; k++)
        if (d->actions[k].enabled) {
            size_t len = strlen(acts);
            snprintf(acts + len, sizeof acts - len, "%s%s", len ? ", " : "", d->actions[k].id);
        }
    cli_table_row(t, "id:", i->id);
    cli_table_row(t, "customer:", i->customer_id);
    cli_table_row(t, "product:", i->product_name[0] ? i->product_name : i->product_id);
    cli_table_row(t, "status:", i->status);
    cli_table_row(t, "ip:", i->ip_address);
    cli_table_row(t, "cycle:", i->billing_cycle);
    cli_table_row(t, "anchor:", i->anchor_date[0] ? i->anchor_date : "-");
    char per[64] = "-";
    if (i->current_period_start[0] && i->next_due_date[0])
        snprintf(per, sizeof per, "%s to %s (paid)", i->current_period_start, i->next_due_date);
    cli_table_row(t, "current period:", per);
    cli_table_row(t, "next due:", i->next_due_date[0] ? i->next_due_date : "-");
    if (i->cancel_at_period_end)
        cli_table_row(t, "cancelled:", "at period end (terminated on the next due date)");
    cli_table_row(t, "provider:", i->provider_id);
    cli_table_row(t, "provider instance:", i->provider_instance_id);
    cli_table_row(t, "order:", i->order_id);
    cli_table_row(t, "spec:", i->server_spec_json);
    cli_table_row(t, "actions now:", acts[0] ? acts : "none");
    cli_table_row(t, "created:", cli_time(i->created_at, t1));
    cli_table_row(t, "updated:", cli_time(i->updated_at, t2));
    cli_table_print(t, stdout);
    cli_table_free(t);
    for (size_t s = 0; s < d->section_count; s++) {
        const bill_instance_section *sec = &d->sections[s];
        printf("\n%s:\n", sec->title);
        cli_table *ft = cli_table_new(2, NULL);
        if (!ft)
            return;
        for (size_t k = 0; k < sec->field_count; k++)
            cli_table_row(ft, sec->fields[k].key, sec->fields[k].value);
        cli_table_print(ft, stdout);
        cli_table_free(ft);
        /* HTML is for the web console; a terminal gets a pointer to --json. */
        if (sec->content_html && sec->content_html[0])
            printf("(HTML content: see --json)\n");
    }
}

static void instance_row(const void *item, const char *cell[CLI_MAX_COLS], cli_cells buf)
{
    const bill_instance *x = item;
    cell[0] = x->id;
    cell[1] = x->customer_id;
    cell[2] = x->product_name[0] ? x->product_name : x->product_id;
    cell[3] = x->status;
    cell[4] = x->ip_address;
    cell[5] = x->billing_cycle;
    cell[6] = x->next_due_date[0] ? x->next_due_date : "-";
}

static const cli_column instance_cols[] = {
    {"ID", false}, {"CUSTOMER", false}, {"PRODUCT", false}, {"STATUS", false}, {"IP", false}, {"CYCLE", false}, {"NEXT_DUE", false}, {0},
};

static const cli_list_view instance_view = {"instances", "instance", "instances", instance_cols,
                                            sizeof(bill_instance), instance_json, instance_row};

static int instance_list(cli_ctx *ctx, const cli_args *a)
{
    bill_page page;
    bill_instances l = {0};
    int rc;
    if ((rc = cli_page_opts(ctx, a, &page)) != CLI_CONTINUE ||
        (rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    bill_instance_filter f = {.version = BILL_INSTANCE_FILTER_VERSION,
                              .customer_id = cli_opt(a, "customer"),
                              .status = cli_opt(a, "status"),
                              .provider_id = cli_opt(a, "provider")};
    if ((rc = bill_instance_list(ctx->db, &ctx->actor, &f, &page, &l)) < 0)
        return cli_fail(ctx, rc);
    rc = CLI_LIST_PRINT(ctx, &instance_view, &l, NULL, NULL);
    bill_instances_clear(&l);
    return rc;
}

/* The plugin host for provider calls. A missing plugins directory is not an
 * error here: instances without a provider need no plugin, and libbill
 * answers BILL_EUNAVAILABLE for those that do. */
static int open_host(cli_ctx *ctx, bill_plugins **p)
{
    bill_plugin_scan_stats st = {0};
    bool quiet = ctx->quiet;
    ctx->quiet = true;
    int rc = cli_open_plugins(ctx, true, true, p, &st);
    ctx->quiet = quiet;
    return rc;
}

static int instance_show(cli_ctx *ctx, const cli_args *a)
{
    bill_plugins *p = NULL;
    bill_instance_detail *d = NULL;
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE || (rc = open_host(ctx, &p)) != CLI_CONTINUE)
        return rc;
    if ((rc = bill_instance_get(ctx->db, p, &ctx->actor, a->pos[0], &d)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    if (ctx->json)
        cli_json_print(detail_json(d));
    else
        print_detail(d);
    rc = CLI_EXIT_OK;
done:
    bill_instance_detail_free(d);
    bill_plugins_free(p);
    return rc;
}

/* Ask on the terminal before terminating. Returns CLI_CONTINUE when
 * confirmed, else an exit code (message printed). */
static int confirm_terminate(cli_ctx *ctx, const cli_args *a)
{
    if (cli_flag(a, "yes"))
        return CLI_CONTINUE;
    if (!isatty(STDIN_FILENO))
        return cli_usage_error(ctx, "terminate is final; not on a terminal, so pass --yes to "
                                    "confirm");
    fprintf(stderr, "Terminate instance %s? This cannot be undone. Type 'yes' to confirm: ",
            a->pos[0]);
    fflush(stderr);
    char line[16] = "";
    if (!fgets(line, sizeof line, stdin) || strcmp(line, "yes\n") != 0)
        return cli_errorf("not confirmed; instance %s left as it is", a->pos[0]);
    return CLI_CONTINUE;
}

static int run_action(cli_ctx *ctx, const cli_args *a, const char *action)
{
    bill_plugins *p = NULL;
    bill_instance_detail *d = NULL;
    int rc;
    if (strcmp(action, "terminate") == 0 && (rc = confirm_terminate(ctx, a)) != CLI_CONTINUE)
        return rc;
    if ((rc = cli_open_db(ctx, true)) != CLI_CONTINUE || (rc = open_host(ctx, &p)) != CLI_CONTINUE)
        return rc;
    if ((rc = bill_instance_action_run(ctx->db, p, &ctx->actor, a->pos[0], action)) < 0 ||
        (rc = bill_instance_get(ctx->db, NULL, &ctx->actor, a->pos[0], &d)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    if (ctx->json)
        cli_json_print(instance_json(&d->instance));
    else if (!ctx->quiet)
        printf("instance %s: %s done, now %s\n", d->instance.id, action, d->instance.status);
    rc = CLI_EXIT_OK;
done:
    bill_instance_detail_free(d);
    bill_plugins_free(p);
    return rc;
}

/* start, stop, reboot, terminate: the subcommand's name is libbill's action */
static int instance_action(cli_ctx *ctx, const cli_args *a)
{
    return run_action(ctx, a, ctx->cmd->name);
}

static const cli_optdef list_opts[] = {
    {"customer", "ID", "only this customer's instances", 0},
    {"status", "STATUS", "provisioning | running | stopped | suspended | terminated | error", 0},
    {"provider", "ID", "only instances of this provider interface", 0},
    CLI_PAGE_OPTDEFS,
    {0},
};

static const cli_optdef terminate_opts[] = {
    {"yes", NULL, "do not ask for confirmation (required when not on a terminal)", 0},
    {0},
};

static const cli_optdef change_opts[] = {
    {"dry-run", NULL, "only print the proration lines; change nothing", 0},
    {0},
};

static const cli_optdef cancel_opts[] = {
    {"at-period-end", NULL, "no more renewals; terminated at the next due date", 0},
    {"immediately", NULL, "refund the unused paid time and terminate now", 0},
    {"dry-run", NULL, "only print what it would refund; change nothing", 0},
    {"yes", NULL, "do not ask for confirmation (required when not on a terminal)", 0},
    {0},
};

static const cli_cmd instance_subs[] = {
    {.name = "list", .summary = "List instances", .opts = list_opts, .run = instance_list},
    {.name = "show", .summary = "Show an instance, its detail sections and allowed actions",
     .usage = "ID", .min_args = 1, .max_args = 1, .run = instance_show},
    {.name = "start", .summary = "Start a stopped instance", .usage = "ID", .min_args = 1,
     .max_args = 1, .run = instance_action},
    {.name = "stop", .summary = "Stop a running instance", .usage = "ID", .min_args = 1,
     .max_args = 1, .run = instance_action},
    {.name = "reboot", .summary = "Reboot a running instance", .usage = "ID", .min_args = 1,
     .max_args = 1, .run = instance_action},
    {.name = "terminate",
     .summary = "Terminate an instance (final; asks for confirmation unless --yes)",
     .usage = "ID",
     .opts = terminate_opts,
     .min_args = 1,
     .max_args = 1,
     .run = instance_action},
    {.name = "change-product",
     .summary = "Move to another product now, prorated by day (prints the lines first)",
     .usage = "ID PRODUCT_ID",
     .opts = change_opts,
     .min_args = 2,
     .max_args = 2,
     .run = cli_instance_change_product},
    {.name = "change-cycle",
     .summary = "Bill monthly | quarterly | yearly from today, unused time credited",
     .usage = "ID CYCLE",
     .opts = change_opts,
     .min_args = 2,
     .max_args = 2,
     .run = cli_instance_change_cycle},
    {.name = "cancel",
     .summary = "Cancel --at-period-end or --immediately (refund of unused time)",
     .usage = "ID",
     .opts = cancel_opts,
     .min_args = 1,
     .max_args = 1,
     .run = cli_instance_cancel},
    {0},
};

CLI_GROUP(cli_instance_cmd, "instance",
          "Instances: list, show, start, stop, reboot, terminate, change-product, "
          "change-cycle, cancel",
          instance_subs);
