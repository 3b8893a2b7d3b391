/*
 * oplog.c — the audit trail: writing operation_logs rows inside the changing
 * transaction (bill__oplog_write) and listing them for staff (oplog.h).
 */
#include "auth/access_int.h"
#include "domain/domain_int.h"
#include "domain/oplog_int.h"
#include "bill/oplog.h"

#include <stdlib.h>
#include <string.h>

static int oplog_write(bill_conn *conn, const bill_actor *actor, const char *action,
                       const char *target_type, const char *target_id, const char *before_json,
                       const char *after_json, bool customers)
{
    const char *type = "system", *id = "", *name = "system", *ip = "";
    char *cli_name = NULL;
    int rc;

    if (actor && actor->kind == BILL_ACTOR_ANONYMOUS)
        return BILL_OK;
    if (actor && actor->kind == BILL_ACTOR_CUSTOMER && !customers)
        return BILL_OK;
    if (actor && actor->kind == BILL_ACTOR_CUSTOMER) {
        bool by_key = actor->api_key_id && *actor->api_key_id;
        type = by_key ? "api_key" : "customer";
        id = by_key ? actor->api_key_id : actor->user_id ? actor->user_id : "";
        name = actor->username ? actor->username : "";
        ip = actor->source_ip ? actor->source_ip : "";
    } else if (actor) {
        id = actor->user_id ? actor->user_id : "";
        ip = actor->source_ip ? actor->source_ip : "";
        if (actor->kind == BILL_ACTOR_ADMIN) {
            type = "admin";
            name = actor->username ? actor->username : "";
        } else if (bill_actor_is_console(actor)) {
            /* An operator at a console (bill-cli, bill-tui): no admin
             * account, so the name says which console and which OS user
             * acted ("cli:root", "tui:alice"). Both are actor_type "cli":
             * the same privilege, reached the same way. */
            const char *console = actor->kind == BILL_ACTOR_TUI ? "tui" : "cli";
            type = "cli";
            if (actor->username && *actor->username) {
                if (!(cli_name = bill__sprintf("%s:%s", console, actor->username)))
                    return bill__err(BILL_ENOMEM, NULL, "out of memory writing the operation log");
                name = cli_name;
            } else {
                name = console;
            }
        } else if (actor->username && *actor->username) {
            name = actor->username;
        }
    }
    /* A customer known only by id (a JWT carries no username) is named
     * from customer_users in the same statement. */
    rc = bill__qp(conn, NULL,
                  "INSERT INTO operation_logs (actor_type, actor_id, actor_name, action, "
                  "target_type, target_id, before, after, source_ip) "
                  "VALUES ($1, $2, CASE WHEN $3 = '' AND $1 = 'customer' THEN coalesce(("
                  "SELECT username FROM customer_users WHERE id::text = $2), '') ELSE $3 END, "
                  "$4, $5, $6, $7::jsonb, $8::jsonb, $9)",
                  type, id, name, action, target_type ? target_type : "",
                  target_id ? target_id : "", before_json, after_json, ip);
    if (rc < 0)
        bill__err_prefix("writing operation log for %s", action);
    free(cli_name);
    return rc;
}

int bill__oplog_write(bill_conn *conn, const bill_actor *actor, const char *action,
                      const char *target_type, const char *target_id,
                      const char *before_json, const char *after_json)
{
    return oplog_write(conn, actor, action, target_type, target_id, before_json, after_json,
                       false);
}

int bill__oplog_write_all(bill_conn *conn, const bill_actor *actor, const char *action,
                          const char *target_type, const char *target_id,
                          const char *before_json, const char *after_json)
{
    return oplog_write(conn, actor, action, target_type, target_id, before_json, after_json,
                       true);
}

static void entry_clear(void *item)
{
    bill_oplog_entry *e = item;
    BILL__FREE(e->id, e->actor_type, e->actor_id, e->actor_name, e->action, e->target_type,
               e->target_id, e->before_json, e->after_json, e->source_ip);
    memset(e, 0, sizeof *e);
}

static char *opt_dup(const PGresult *r, int row, int col)
{
    return bill__isnull(r, row, col) ? NULL : bill__col_dup(r, row, col);
}

static int entry_from_row(const PGresult *r, int i, const void *ctx, void *item)
{
    bill_oplog_entry *e = item;
    int rc;
    if ((rc = BILL__DUP_COLS(r, i, "listing the operation log", &e->id, 0, &e->actor_type, 1,
                                   &e->actor_id, 2, &e->actor_name, 3, &e->action, 4,
                                   &e->target_type, 5, &e->target_id, 6, &e->source_ip, 9)) < 0)
        return rc;
    e->before_json = opt_dup(r, i, 7);
    e->after_json = opt_dup(r, i, 8);
    e->created_at = bill__i64(r, i, 10);
    if ((!e->before_json && !bill__isnull(r, i, 7)) || (!e->after_json && !bill__isnull(r, i, 8)))
        return bill__err(BILL_ENOMEM, NULL, "out of memory listing the operation log");
    return BILL_OK;
}

static const bill__rowtype ENTRY_ROW = {sizeof(bill_oplog_entry), entry_from_row, entry_clear,
                                        "operation log entry"};

void bill_oplog_entries_clear(bill_oplog_entries *l)
{
    BILL__LIST_CLEAR(&ENTRY_ROW, l);
}

int bill_oplog_list(bill_db *db, const bill_actor *actor, const bill_oplog_filter *filter,
                    const bill_page *page, bill_oplog_entries *out)
{
    bill_oplog_filter f = filter ? *filter : (bill_oplog_filter){0};
    char since[24], until[24];
    char *action_prefix = NULL;
    int rc;

    if (!out)
        return bill__err(BILL_EINVALID, NULL, "out is required");
    memset(out, 0, sizeof *out);
    if ((rc = bill__require_staff(actor, "read the operation log")) < 0 ||
        (rc = BILL__CHECK_VERSION(filter, BILL_OPLOG_FILTER_VERSION, "bill_oplog_filter")) < 0)
        return rc;
    /* "customer." filters on the action's object; anything else matches exactly. */
    const char *action = f.action && *f.action ? f.action : NULL;
    if (action && action[strlen(action) - 1] == '.') {
        char *esc = bill__like_pattern(action); /* "%customer.%" */
        if (!esc)
            return bill__err(BILL_ENOMEM, NULL, "out of memory");
        action_prefix = bill__strdup(esc + 1); /* "customer.%" */
        free(esc);
        if (!action_prefix)
            return bill__err(BILL_ENOMEM, NULL, "out of memory");
    }
    /* only the filters asked for (bill__where: a generic plan that uses the indexes) */
    const bill__filter filters[] = {
        {"actor_id = $?", f.actor_id && *f.actor_id ? f.actor_id : NULL},
        {"action = $?", action_prefix ? NULL : action},
        {"action LIKE $? ESCAPE '\\'", action_prefix},
        {"target_type = $?", f.target_type && *f.target_type ? f.target_type : NULL},
        {"target_id = $?", f.target_id && *f.target_id ? f.target_id : NULL},
        {"created_at >= to_timestamp($?::int8 / 1e6)",
         f.since ? bill__i64_text(f.since, since) : NULL},
        {"created_at < to_timestamp($?::int8 / 1e6)",
         f.until ? bill__i64_text(f.until, until) : NULL},
    };
    bill__list_where w;
    if ((rc = bill__list_where_init(&w,
                                    "id, actor_type, actor_id, actor_name, action, target_type, "
                                    "target_id, before::text, after::text, source_ip, "
                                    BILL__US("created_at"),
                                    "FROM operation_logs WHERE true", "created_at DESC, id DESC",
                                    filters, (int)BILL__ARRAY_LEN(filters))) == BILL_OK)
        rc = BILL__LIST_PAGE_AS(db, actor, &ENTRY_ROW, &w.q, w.np, w.params, page, NULL, out);
    free(action_prefix);
    return rc;
}
