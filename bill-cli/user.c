/*
 * user.c — `bill-cli user …`: staff (admin) accounts.
 *
 * Seed syntax: `user create --username admin2 --password pass123 --role admin`.
 * Because a password on the command line is visible in `ps` and shell
 * history, --password-stdin reads it from standard input instead. Password
 * policy, username rules and role names are libbill's (admin_user.h).
 */
#include "cli.h"

#include <bill/admin_user.h>

#include <stdlib.h>
#include <string.h>

static json_object *user_json(const void *item)
{
    const bill_admin_user *u = item;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", cli_json_str(u->id));
    json_object_object_add(o, "username", cli_json_str(u->username));
    json_object_object_add(o, "email", cli_json_str(u->email));
    json_object_object_add(o, "display_name", cli_json_str(u->display_name));
    json_object_object_add(o, "role", cli_json_str(u->role));
    json_object_object_add(o, "is_active", json_object_new_boolean(u->is_active));
    json_object_object_add(o, "last_login_at", cli_json_time(u->last_login_at));
    json_object_object_add(o, "created_at", cli_json_time(u->created_at));
    return o;
}

static void user_row(const void *item, const char *cell[CLI_MAX_COLS], cli_cells buf)
{
    const bill_admin_user *u = item;
    cell[0] = u->username;
    cell[1] = u->role;
    cell[2] = u->is_active ? "yes" : "no";
    cell[3] = u->email;
    cell[4] = cli_cell_time(u->last_login_at, buf[4]);
    cell[5] = u->id;
}

static const cli_column user_cols[] = {
    {"USERNAME", false}, {"ROLE", false}, {"ACTIVE", false}, {"EMAIL", false}, {"LAST_LOGIN", false}, {"ID", false}, {0},
};

static const cli_list_view user_view = {"users", "user", "users", user_cols,
                                        sizeof(bill_admin_user), user_json, user_row};

static int user_list(cli_ctx *ctx, const cli_args *a)
{
    bill_page page;
    bill_admin_users l = {0};
    int rc;
    if ((rc = cli_page_opts(ctx, a, &page)) != CLI_CONTINUE ||
        (rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    if ((rc = bill_admin_user_list(ctx->db, &ctx->actor, &page, &l)) < 0)
        return cli_fail(ctx, rc);
    rc = CLI_LIST_PRINT(ctx, &user_view, &l, NULL, NULL);
    bill_admin_users_clear(&l);
    return rc;
}

static int user_create(cli_ctx *ctx, const cli_args *a)
{
    char *password = NULL;
    bill_admin_user *u = NULL;
    int rc = cli_read_password(ctx, a, &password);
    if (rc != CLI_CONTINUE)
        goto done;
    if ((rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        goto done;
    if ((rc = bill_admin_user_create(ctx->db, &ctx->actor, cli_opt(a, "username"), password,
                                     cli_opt(a, "role"), cli_opt(a, "email"),
                                     cli_opt(a, "display-name"), &u)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    if (ctx->json)
        cli_json_print(user_json(u));
    else if (!ctx->quiet)
        printf("created user %s (role %s, id %s)\n", u->username, u->role, u->id);
    rc = CLI_EXIT_OK;
done:
    if (password) {
        memset(password, 0, strlen(password)); /* do not leave it lying in the heap */
        free(password);
    }
    bill_admin_user_free(u);
    return rc;
}

static int user_passwd(cli_ctx *ctx, const cli_args *a)
{
    char *password = NULL;
    int rc = cli_read_password(ctx, a, &password);
    if (rc != CLI_CONTINUE)
        goto done;
    if ((rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        goto done;
    if ((rc = bill_admin_user_set_password(ctx->db, &ctx->actor, a->pos[0], password)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    rc = cli_done(ctx, "password of %s changed", a->pos[0]);
done:
    if (password) {
        memset(password, 0, strlen(password));
        free(password);
    }
    return rc;
}

/* enable / disable: which one is the subcommand's name */
static int user_set_active(cli_ctx *ctx, const cli_args *a)
{
    bool active = strcmp(ctx->cmd->name, "enable") == 0;
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    if ((rc = bill_admin_user_set_active(ctx->db, &ctx->actor, a->pos[0], active)) < 0)
        return cli_fail(ctx, rc);
    return cli_done(ctx, "user %s %s", a->pos[0], active ? "enabled" : "disabled");
}

static const cli_optdef list_opts[] = {
    CLI_PAGE_OPTDEFS,
    {0},
};

static const cli_optdef create_opts[] = {
    {"username", "NAME", "login name: 3..64 of A-Z a-z 0-9 _ . -", CLI_OPT_REQUIRED},
    {"password", "PASSWORD", "initial password (visible in ps; prefer --password-stdin)", 0},
    {"password-stdin", NULL, "read the password from the first line of standard input", 0},
    {"role", "ROLE", "admin, operator or support (default operator)", 0},
    {"email", "EMAIL", "contact address", 0},
    {"display-name", "TEXT", "name shown in the admin UI", 0},
    {0},
};

static const cli_optdef passwd_opts[] = {
    {"password", "PASSWORD", "new password (visible in ps; prefer --password-stdin)", 0},
    {"password-stdin", NULL, "read the new password from the first line of standard input", 0},
    {0},
};

static const cli_cmd user_subs[] = {
    {.name = "list", .summary = "List admin users", .opts = list_opts, .run = user_list},
    {
        .name = "create",
        .summary = "Create an admin user",
        .description = "Example: bill-cli user create --username admin2 --password pass123 --role admin",
        .opts = create_opts,
        .run = user_create,
    },
    {
        .name = "passwd",
        .summary = "Set a user's password",
        .usage = "USERNAME",
        .opts = passwd_opts,
        .min_args = 1,
        .max_args = 1,
        .run = user_passwd,
    },
    {
        .name = "disable",
        .summary = "Disable a user (they can no longer log in)",
        .usage = "USERNAME",
        .min_args = 1,
        .max_args = 1,
        .run = user_set_active,
    },
    {
        .name = "enable",
        .summary = "Enable a disabled user",
        .usage = "USERNAME",
        .min_args = 1,
        .max_args = 1,
        .run = user_set_active,
    },
    {0},
};

CLI_GROUP(cli_user_cmd, "user",
          "Admin users: list, create, passwd, disable, enable", user_subs);
