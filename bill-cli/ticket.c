/*
 * ticket.c — `bill-cli ticket …`: support tickets (list, show with the
 * conversation, create, reply, assign, status).
 *
 * Transitions, who may write internal notes and the "ticket.assigned"
 * event are libbill's (ticket.h). The only thing the CLI adds is letting
 * the operator name an assignee by username: it is resolved to the admin
 * user's id with bill_admin_user_get, which accepts either.
 */
#include "cli.h"

#include <bill/admin_user.h>
#include <bill/ticket.h>

#include <stdlib.h>
#include <string.h>

static json_object *reply_json(const bill_ticket_reply *r)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", cli_json_str(r->id));
    json_object_object_add(o, "author_type", cli_json_str(r->author_type));
    json_object_object_add(o, "user_id", cli_json_opt(r->user_id));
    json_object_object_add(o, "customer_id", cli_json_opt(r->customer_id));
    json_object_object_add(o, "content", cli_json_str(r->content));
    json_object_object_add(o, "is_internal", json_object_new_boolean(r->is_internal));
    json_object_object_add(o, "created_at", cli_json_time(r->created_at));
    return o;
}

static json_object *ticket_json(const bill_ticket *t, bool with_replies)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", cli_json_str(t->id));
    json_object_object_add(o, "customer_id", cli_json_str(t->customer_id));
    json_object_object_add(o, "title", cli_json_str(t->title));
    json_object_object_add(o, "description", cli_json_str(t->description));
    json_object_object_add(o, "status", cli_json_str(t->status));
    json_object_object_add(o, "priority", cli_json_str(t->priority));
    json_object_object_add(o, "assignee_user_id", cli_json_opt(t->assignee_user_id));
    json_object_object_add(o, "creator_user_id", cli_json_opt(t->creator_user_id));
    json_object_object_add(o, "created_at", cli_json_time(t->created_at));
    json_object_object_add(o, "updated_at", cli_json_time(t->updated_at));
    if (with_replies) {
        json_object *arr = json_object_new_array();
        for (size_t i = 0; i < t->reply_count; i++)
            json_object_array_add(arr, reply_json(&t->replies[i]));
        json_object_object_add(o, "replies", arr);
    }
    return o;
}

static void print_ticket(const bill_ticket *t)
{
    char t1[48], t2[48];
    cli_table *kv = cli_table_new(2, NULL);
    if (!kv)
        return;
    cli_table_row(kv, "id:", t->id);
    cli_table_row(kv, "title:", t->title);
    cli_table_row(kv, "customer:", t->customer_id);
    cli_table_row(kv, "status:", t->status);
    cli_table_row(kv, "priority:", t->priority);
    cli_table_row(kv, "assignee:", t->assignee_user_id[0] ? t->assignee_user_id : "-");
    cli_table_row(kv, "created:", cli_time(t->created_at, t1));
    cli_table_row(kv, "updated:", cli_time(t->updated_at, t2));
    cli_table_print(kv, stdout);
    cli_table_free(kv);
    if (t->description && t->description[0])
        printf("\n%s\n", t->description);
    printf("\nReplies (%zu):\n", t->reply_count);
    for (size_t i = 0; i < t->reply_count; i++) {
        const bill_ticket_reply *r = &t->replies[i];
        char tb[48];
        printf("\n[%s] %s%s:\n%s\n", cli_time(r->created_at, tb), r->author_type,
               r->is_internal ? " (internal note)" : "", r->content);
    }
}

static json_object *ticket_list_json(const void *item)
{
    return ticket_json(item, false);
}

static void ticket_row(const void *item, const char *cell[CLI_MAX_COLS], cli_cells buf)
{
    const bill_ticket *x = item;
    cell[0] = x->id;
    cell[1] = x->title;
    cell[2] = x->customer_id;
    cell[3] = x->status;
    cell[4] = x->priority;
    cell[5] = x->assignee_user_id[0] ? x->assignee_user_id : "-";
    cell[6] = cli_cell_time(x->updated_at, buf[6]);
}

static const cli_column ticket_cols[] = {
    {"ID", false}, {"TITLE", false}, {"CUSTOMER", false}, {"STATUS", false}, {"PRIORITY", false}, {"ASSIGNEE", false}, {"UPDATED", false}, {0},
};

static const cli_list_view ticket_view = {"tickets", "ticket", "tickets", ticket_cols,
                                          sizeof(bill_ticket), ticket_list_json, ticket_row};

static int ticket_list(cli_ctx *ctx, const cli_args *a)
{
    bill_page page;
    bill_admin_user *assignee = NULL;
    bill_tickets l = {0};
    int rc;
    if ((rc = cli_page_opts(ctx, a, &page)) != CLI_CONTINUE ||
        (rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    const char *who = cli_opt(a, "assignee");
    if (who && who[0] && (rc = bill_admin_user_get(ctx->db, &ctx->actor, who, &assignee)) < 0)
        return cli_fail(ctx, rc);
    bill_ticket_filter f = {.version = BILL_TICKET_FILTER_VERSION,
                            .customer_id = cli_opt(a, "customer"),
                            .status = cli_opt(a, "status"),
                            .priority = cli_opt(a, "priority"),
                            .assignee_user_id = assignee ? assignee->id : NULL};
    if ((rc = bill_ticket_list(ctx->db, &ctx->actor, &f, &page, &l)) < 0)
        rc = cli_fail(ctx, rc);
    else
        rc = CLI_LIST_PRINT(ctx, &ticket_view, &l, NULL, NULL);
    bill_tickets_clear(&l);
    bill_admin_user_free(assignee);
    return rc;
}

/* Print the ticket after a change (or for show when verb is NULL). */
static int show_ticket(cli_ctx *ctx, const char *id, const char *verb)
{
    bill_ticket *t = NULL;
    int rc = bill_ticket_get(ctx->db, &ctx->actor, id, &t);
    if (rc < 0)
        return cli_fail(ctx, rc);
    if (ctx->json)
        cli_json_print(ticket_json(t, true));
    else if (!verb)
        print_ticket(t);
    else if (!ctx->quiet)
        printf("%s ticket %s (%s): %s, priority %s, assignee %s\n", verb, t->id, t->title,
               t->status, t->priority, t->assignee_user_id[0] ? t->assignee_user_id : "-");
    bill_ticket_free(t);
    return CLI_EXIT_OK;
}

static int ticket_show(cli_ctx *ctx, const cli_args *a)
{
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    return show_ticket(ctx, a->pos[0], NULL);
}

static int ticket_create(cli_ctx *ctx, const cli_args *a)
{
    bill_ticket *t = NULL;
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    if ((rc = bill_ticket_create(ctx->db, &ctx->actor, cli_opt(a, "customer"), cli_opt(a, "title"),
                                 cli_opt(a, "description"), cli_opt(a, "priority"), &t)) < 0)
        return cli_fail(ctx, rc);
    char id[64];
    snprintf(id, sizeof id, "%s", t->id);
    bill_ticket_free(t);
    return show_ticket(ctx, id, "created");
}

static int ticket_reply(cli_ctx *ctx, const cli_args *a)
{
    bill_ticket_reply *r = NULL;
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    bool internal = cli_flag(a, "internal");
    if ((rc = bill_ticket_reply_create(ctx->db, &ctx->actor, a->pos[0], a->pos[1], internal, &r)) <
        0)
        return cli_fail(ctx, rc);
    if (ctx->json)
        cli_json_print(reply_json(r));
    else if (!ctx->quiet)
        printf("%s %s added to ticket %s\n", internal ? "internal note" : "reply", r->id,
               a->pos[0]);
    bill_ticket_reply_free(r);
    return CLI_EXIT_OK;
}

static int ticket_assign(cli_ctx *ctx, const cli_args *a)
{
    bill_admin_user *u = NULL;
    bool none = cli_flag(a, "none");
    if (none == (a->npos == 2))
        return cli_usage_error(ctx, "give either an admin USER (username or id) or --none");
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    if (!none && (rc = bill_admin_user_get(ctx->db, &ctx->actor, a->pos[1], &u)) < 0)
        return cli_fail(ctx, rc);
    rc = bill_ticket_assign(ctx->db, &ctx->actor, a->pos[0], u ? u->id : NULL);
    bill_admin_user_free(u);
    if (rc < 0)
        return cli_fail(ctx, rc);
    return show_ticket(ctx, a->pos[0], none ? "unassigned" : "assigned");
}

static int ticket_status(cli_ctx *ctx, const cli_args *a)
{
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    if ((rc = bill_ticket_set_status(ctx->db, &ctx->actor, a->pos[0], a->pos[1])) < 0)
        return cli_fail(ctx, rc);
    return show_ticket(ctx, a->pos[0], "updated");
}

static const cli_optdef list_opts[] = {
    {"customer", "ID", "only this customer's tickets", 0},
    {"status", "STATUS", "pending | processing | resolved | closed", 0},
    {"priority", "PRIORITY", "low | medium | high | urgent (normal = medium)", 0},
    {"assignee", "USER", "only tickets assigned to this admin user (username or id)", 0},
    CLI_PAGE_OPTDEFS,
    {0},
};

static const cli_optdef create_opts[] = {
    {"customer", "ID", "customer the ticket is for", CLI_OPT_REQUIRED},
    {"title", "TEXT", "1..200 characters", CLI_OPT_REQUIRED},
    {"description", "TEXT", "the request", 0},
    {"priority", "PRIORITY", "low | medium | high | urgent (default medium; normal = medium)", 0},
    {0},
};

static const cli_optdef reply_opts[] = {
    {"internal", NULL, "an internal note the customer never sees", 0},
    {0},
};

static const cli_optdef assign_opts[] = {
    {"none", NULL, "remove the assignee", 0},
    {0},
};

static const cli_cmd ticket_subs[] = {
    {.name = "list", .summary = "List tickets, newest first", .opts = list_opts,
     .run = ticket_list},
    {.name = "show", .summary = "Show a ticket with its replies (internal notes marked)",
     .usage = "ID", .min_args = 1, .max_args = 1, .run = ticket_show},
    {.name = "create", .summary = "Open a ticket for a customer", .opts = create_opts,
     .run = ticket_create},
    {.name = "reply", .summary = "Reply to a ticket (or add an internal note)", .usage = "ID TEXT",
     .opts = reply_opts, .min_args = 2, .max_args = 2, .run = ticket_reply},
    {.name = "assign", .summary = "Assign a ticket to an admin user (or --none)",
     .usage = "ID [USER]", .opts = assign_opts, .min_args = 1, .max_args = 2,
     .run = ticket_assign},
    {.name = "status",
     .summary = "Move a ticket: pending -> processing -> resolved -> closed",
     .usage = "ID STATUS",
     .min_args = 2,
     .max_args = 2,
     .run = ticket_status},
    {0},
};

CLI_GROUP(cli_ticket_cmd, "ticket",
          "Support tickets: list, show, create, reply, assign, status", ticket_subs);
