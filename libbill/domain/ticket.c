/*
 * ticket.c — support tickets: creation, scoped reads with internal notes
 * hidden from customers, replies (customer reply reopens a resolved
 * ticket), the status table, and assignment with one notification event per
 * actual change. Contract in include/bill/ticket.h.
 */
#include "auth/access_int.h"
#include "domain/domain_int.h"
#include "domain/oplog_int.h"
#include "domain/order_int.h"
#include "bill/ticket.h"
#include "events/events_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TK_COLS                                                                            \
    "id, customer_id, title, description, status, priority, "                            \
    "coalesce(assignee_user_id::text, ''), creator_user_id, " BILL__US("created_at") ", "  \
    BILL__US("updated_at")
#define RP_COLS                                                                            \
    "r.id, r.ticket_id, r.user_id, CASE WHEN r.author_type = 'customer' THEN "           \
    "t.customer_id::text ELSE '' END, r.author_type, r.content, r.is_internal, "         \
    BILL__US("r.created_at")

static const char *const statuses[] = {"pending", "processing", "resolved", "closed"};
/* The RustBill front end's vocabulary (docs/api-compat.md); "normal", the
 * earlier name of medium, is accepted as an alias and stored as medium. */
static const char *const priorities[] = {"low", "medium", "high", "urgent"};
static const struct {
    const char *from, *to;
} transitions[] = {
    {"pending", "processing"},  {"pending", "closed"},   {"processing", "resolved"},
    {"processing", "closed"},   {"resolved", "processing"}, {"resolved", "closed"},
};

static int one_of(const char *s, const char *const *set, size_t n, const char *field,
                  const char *list)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(s, set[i]) == 0)
            return BILL_OK;
    return bill__err(BILL_EINVALID, field, "%s \"%.40s\" is not one of %s", field, s ? s : "",
                     list);
}

int bill_ticket_status_check(const char *s)
{
    return one_of(s, statuses, 4, "status", "pending, processing, resolved, closed");
}

const char *bill_ticket_priority_canonical(const char *s)
{
    if (!s || !*s)
        return BILL_TICKET_PRIORITY_DEFAULT;
    if (strcmp(s, "normal") == 0)
        return "medium";
    for (size_t i = 0; i < BILL__ARRAY_LEN(priorities); i++)
        if (strcmp(s, priorities[i]) == 0)
            return priorities[i];
    return NULL;
}

int bill_ticket_priority_check(const char *s)
{
    if (s && *s && bill_ticket_priority_canonical(s))
        return BILL_OK;
    return bill__err(BILL_EINVALID, "priority",
                     "priority \"%.40s\" is not one of low, medium, high, urgent (normal is "
                     "accepted for medium)", s ? s : "");
}

static void rp_clear(void *item)
{
    bill_ticket_reply *r = item;
    BILL__FREE(r->id, r->ticket_id, r->user_id, r->customer_id, r->author_type, r->content);
    memset(r, 0, sizeof *r);
}

static int rp_from_row(const PGresult *r, int row, const void *ctx, void *item)
{
    bill_ticket_reply *x = item;
    int rc;
    if ((rc = BILL__DUP_COLS(r, row, "reading a reply", &x->id, 0, &x->ticket_id, 1, &x->user_id, 2,
                                     &x->customer_id, 3, &x->author_type, 4, &x->content, 5)) < 0)
        return rc;
    x->is_internal = bill__bool(r, row, 6);
    x->created_at = bill__i64(r, row, 7);
    return BILL_OK;
}

static const bill__rowtype RP_ROW = {sizeof(bill_ticket_reply), rp_from_row, rp_clear,
                                     "ticket reply"};

static void tk_clear(void *item)
{
    bill_ticket *t = item;
    BILL__FREE(t->id, t->customer_id, t->title, t->description, t->status, t->priority,
               t->assignee_user_id, t->creator_user_id);
    bill__rows_clear(&RP_ROW, &t->replies, &t->reply_count);
    memset(t, 0, sizeof *t);
}

static int tk_from_row(const PGresult *r, int row, const void *ctx, void *item)
{
    bill_ticket *t = item;
    char **s[] = {&t->id,     &t->customer_id,      &t->title,          &t->description,
                  &t->status, &t->priority,         &t->assignee_user_id, &t->creator_user_id};
    for (int i = 0; i < (int)BILL__ARRAY_LEN(s); i++)
        if (!(*s[i] = bill__col_dup(r, row, i)))
            return bill__err(BILL_ENOMEM, NULL, "out of memory reading a ticket");
    t->created_at = bill__i64(r, row, 8);
    t->updated_at = bill__i64(r, row, 9);
    return BILL_OK;
}

static const bill__rowtype TK_ROW = {sizeof(bill_ticket), tk_from_row, tk_clear, "ticket"};

void bill_ticket_reply_free(bill_ticket_reply *r)
{
    bill__row_free(&RP_ROW, r);
}

BILL__ROW_FUNCS(&TK_ROW, bill_ticket, bill_ticket_free, bill_tickets, bill_tickets_clear)

static int tk_fetch(bill_conn *c, const bill_actor *actor, const char *id, void *slot)
{
    bill_ticket **out = slot;
    PGresult *rp = NULL;
    bill_ticket *t = NULL;
    int rc;
    if ((rc = bill__fetch_owned(c, actor, &TK_ROW, "ticket",
                                "SELECT " TK_COLS " FROM tickets WHERE id = $1", 1, id, &t)) < 0)
        goto done;
    /* Internal notes never leave the database for a customer. */
    if ((rc = bill__qp(c, &rp,
                       "SELECT " RP_COLS " FROM ticket_replies r JOIN tickets t ON t.id = "
                       "r.ticket_id WHERE r.ticket_id = $1 AND ($2::boolean OR NOT r.is_internal) "
                       "ORDER BY r.created_at, r.id",
                       id, bill_actor_is_staff(actor) ? "true" : "false")) < 0 ||
        (rc = bill__rows_fill(&RP_ROW, rp, NULL, &t->replies, &t->reply_count)) < 0)
        goto done;
    *out = t;
    t = NULL;
done:
    bill_ticket_free(t);
    PQclear(rp);
    return rc;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

int bill_ticket_create(bill_db *db, const bill_actor *actor, const char *customer_id,
                       const char *title, const char *description, const char *priority,
                       bill_ticket **out)
{
    bill_conn *c = NULL;
    PGresult *res = NULL;
    int rc;
    if (out)
        *out = NULL;
    if ((rc = bill_actor_customer_scope(actor, customer_id, true, &customer_id)) < 0)
        return rc;
    if (!title || !*title || utf8_chars(title) > 200)
        return bill__err(BILL_EINVALID, "title", "title must be 1 to 200 characters");
    if (description && strlen(description) > 20000)
        return bill__err(BILL_EINVALID, "description", "description is longer than 20000 bytes");
    if (priority && *priority && (rc = bill_ticket_priority_check(priority)) < 0)
        return rc;
    priority = bill_ticket_priority_canonical(priority);
    if ((rc = bill__conn_begin_as(db, actor, &c)) < 0)
        goto done;
    rc = bill__qp(c, &res,
                  "INSERT INTO tickets (customer_id, title, description, priority, "
                  "creator_user_id) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                  customer_id, title, description ? description : "", priority,
                  actor && actor->user_id ? actor->user_id : "");
    if (rc == BILL_EINVALID && strcmp(bill_error_last()->sqlstate, "23503") == 0)
        rc = bill__err(BILL_ENOTFOUND, "customer_id", "customer %s not found", customer_id);
    if (rc < 0)
        goto done;
    if ((rc = bill__oplog_write(c, actor, "ticket.create", "ticket", bill__val(res, 0, 0), NULL,
                                NULL)) < 0 ||
        (rc = bill__tx_commit(c)) < 0)
        goto done;
    if (out)
        rc = tk_fetch(c, actor, bill__val(res, 0, 0), out);
done:
    PQclear(res);
    bill__conn_done(c);
    return rc;
}

int bill_ticket_get(bill_db *db, const bill_actor *actor, const char *id, bill_ticket **out)
{
    return bill__get_as(db, actor, id, "ticket", tk_fetch, out);
}

int bill_ticket_list(bill_db *db, const bill_actor *actor, const bill_ticket_filter *f,
                     const bill_page *page, bill_tickets *out)
{
    bill_ticket_filter none = {0};
    const char *cust;
    int rc;

    if ((rc = BILL__LIST_START(out, actor, f,
                               BILL_TICKET_FILTER_VERSION, "bill_ticket_filter", &cust)) < 0)
        return rc;
    if (!f)
        f = &none;
    if ((rc = bill__check_opt_id(f->assignee_user_id, "assignee_user_id")) < 0)
        return rc;
    if ((bill__opt(f->status) && (rc = bill_ticket_status_check(f->status)) < 0) ||
        (bill__opt(f->priority) && (rc = bill_ticket_priority_check(f->priority)) < 0))
        return rc;
    /* only the filters asked for (bill__where: a generic plan that uses the indexes) */
    const bill__filter filters[] = {
        {"customer_id = $?::uuid", cust},
        {"status = $?", bill__opt(f->status)},
        {"priority = $?",
         bill__opt(f->priority) ? bill_ticket_priority_canonical(f->priority) : NULL},
        {"assignee_user_id = $?::uuid", bill__opt(f->assignee_user_id)},
    };
    bill__list_where w;
    if ((rc = bill__list_where_init(&w, TK_COLS, "FROM tickets WHERE true",
                                    "created_at DESC, id DESC", filters,
                                    (int)BILL__ARRAY_LEN(filters))) < 0)
        return rc;
    return BILL__LIST_PAGE_AS(db, actor, &TK_ROW, &w.q, w.np, w.params, page, NULL, out);
}

/* Lock a ticket and check the actor may reach it. */
static int lock_ticket(bill_conn *c, const bill_actor *actor, const char *id, PGresult **res)
{
    int rc;
    if ((rc = bill__qp(c, res,
                       "SELECT status, customer_id, coalesce(assignee_user_id::text, '') "
                       "FROM tickets WHERE id = $1 FOR UPDATE",
                       id)) < 0)
        return rc;
    if (PQntuples(*res) == 0)
        return bill__err(BILL_ENOTFOUND, "id", "ticket %s not found", id);
    return bill__owns(actor, bill__val(*res, 0, 1), "ticket", id);
}

int bill_ticket_reply_create(bill_db *db, const bill_actor *actor, const char *ticket_id,
                             const char *content, bool is_internal, bill_ticket_reply **out)
{
    bill_conn *c = NULL;
    PGresult *t = NULL, *ins = NULL;
    bool staff = bill_actor_is_staff(actor);
    int rc;
    if (out)
        *out = NULL;
    if ((rc = bill__require_known(actor)) < 0 ||
        (rc = bill__check_id(ticket_id, "ticket_id", "ticket", false)) < 0)
        return rc;
    if (!staff && is_internal)
        return bill__err(BILL_EDENIED, "is_internal", "customers cannot write internal notes");
    if (!content || !*content || strlen(content) > 20000)
        return bill__err(BILL_EINVALID, "content", "content must be 1 to 20000 bytes");
    if ((rc = bill__conn_begin_as(db, actor, &c)) < 0)
        goto done;
    if ((rc = lock_ticket(c, actor, ticket_id, &t)) < 0)
        goto done;
    const char *st = bill__val(t, 0, 0);
    if (strcmp(st, "closed") == 0) {
        rc = bill__err(BILL_ESTATE, "status", "ticket %s is closed; open a new ticket",
                       ticket_id);
        goto done;
    }
    if ((rc = bill__qp(c, &ins,
                       "WITH r AS (INSERT INTO ticket_replies (ticket_id, customer_id, "
                       "user_id, author_type, content, is_internal, created_at) VALUES ($1, $6, "
                       "$2, $3, $4, $5::boolean, bill_clock_timestamp()) RETURNING *) SELECT " RP_COLS
                       " FROM r JOIN tickets t ON t.id = r.ticket_id",
                       ticket_id, actor && actor->user_id ? actor->user_id : "",
                       staff ? "admin" : "customer", content, is_internal ? "true" : "false",
                       bill__val(t, 0, 1))) < 0)
        goto done;
    /* A customer answering a resolved ticket says it is not solved. */
    const char *next = !staff && strcmp(st, "resolved") == 0 ? "processing" : st;
    if ((rc = bill__qp(c, NULL,
                       "UPDATE tickets SET status = $2, updated_at = bill_now() WHERE id = $1",
                       ticket_id, next)) < 0)
        goto done;
    if ((rc = bill__oplog_write(c, actor, "ticket.reply", "ticket", ticket_id, NULL, NULL)) < 0 ||
        (rc = bill__tx_commit(c)) < 0)
        goto done;
    if (out)
        rc = bill__row_new(&RP_ROW, ins, 0, NULL, out);
done:
    PQclear(t);
    PQclear(ins);
    bill__conn_done(c);
    return rc;
}

int bill_ticket_set_status(bill_db *db, const bill_actor *actor, const char *id,
                           const char *status)
{
    bill_conn *c = NULL;
    PGresult *t = NULL;
    bool ok = false;
    int rc;
    if ((rc = bill__require_staff(actor, "change ticket status")) < 0 ||
        (rc = bill__check_id(id, "id", "ticket", false)) < 0 ||
        (rc = bill_ticket_status_check(status)) < 0)
        return rc;
    if ((rc = bill__conn_begin_as(db, actor, &c)) < 0)
        goto done;
    if ((rc = lock_ticket(c, actor, id, &t)) < 0)
        goto done;
    const char *from = bill__val(t, 0, 0);
    for (size_t i = 0; i < BILL__ARRAY_LEN(transitions); i++)
        ok = ok || (strcmp(from, transitions[i].from) == 0 &&
                    strcmp(status, transitions[i].to) == 0);
    if (!ok) {
        rc = bill__err(BILL_ESTATE, "status", "ticket %s is %s; cannot move to %s", id, from,
                       status);
        goto done;
    }
    if ((rc = bill__qp(c, NULL, "UPDATE tickets SET status = $2, updated_at = bill_now() WHERE id = $1",
                       id, status)) < 0 ||
        (rc = bill__oplog_write(c, actor, "ticket.status", "ticket", id, NULL, NULL)) < 0)
        goto done;
    rc = bill__tx_commit(c);
done:
    PQclear(t);
    bill__conn_done(c);
    return rc;
}

int bill_ticket_assign(bill_db *db, const bill_actor *actor, const char *id,
                       const char *assignee)
{
    bill_conn *c = NULL;
    PGresult *t = NULL;
    char *payload = NULL;
    int rc;
    if ((rc = bill__require_staff(actor, "assign tickets")) < 0 ||
        (rc = bill__check_id(id, "id", "ticket", false)) < 0 ||
        (rc = bill__check_opt_id(assignee, "assignee_user_id")) < 0)
        return rc;
    assignee = bill__opt(assignee);
    if ((rc = bill__conn_begin_as(db, actor, &c)) < 0)
        goto done;
    if ((rc = lock_ticket(c, actor, id, &t)) < 0)
        goto done;
    const char *old = bill__val(t, 0, 2);
    if (strcasecmp(old, assignee ? assignee : "") == 0) {
        rc = BILL_OK; /* no change, no notification */
        goto done;
    }
    rc = bill__qp(c, NULL,
                  "UPDATE tickets SET assignee_user_id = $2::uuid, updated_at = bill_now() "
                  "WHERE id = $1",
                  id, assignee);
    if (rc == BILL_EINVALID && strcmp(bill_error_last()->sqlstate, "23503") == 0)
        rc = bill__err(BILL_ENOTFOUND, "assignee_user_id", "admin user %s not found", assignee);
    if (rc < 0)
        goto done;
    if (!(payload = bill__sprintf("{\"ticket_id\": \"%s\", \"old_assignee_id\": \"%s\", "
                                  "\"new_assignee_id\": \"%s\"}",
                                  id, old, assignee ? assignee : ""))) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
        goto done;
    }
    if ((rc = bill__event_enqueue_conn(c, "ticket.assigned", payload, 0, 0, NULL)) < 0 ||
        (rc = bill__oplog_write(c, actor, "ticket.assign", "ticket", id, NULL, NULL)) < 0)
        goto done;
    rc = bill__tx_commit(c);
done:
    free(payload);
    PQclear(t);
    bill__conn_done(c);
    return rc;
}
