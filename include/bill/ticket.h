/*
 * ticket.h — support tickets: status pending -> processing ->
 * resolved -> closed, priority low|medium|high|urgent (default medium; the
 * RustBill front end's vocabulary, "normal" accepted as an alias of medium).
 *
 * Transitions (staff, bill_ticket_set_status): pending -> processing|closed,
 * processing -> resolved|closed, resolved -> processing|closed; closed is
 * final. Illegal: BILL_ESTATE "ticket X is <status>; cannot move to <t>".
 *
 * Replies: staff replies may be internal notes (is_internal); a CUSTOMER
 * actor can neither write one (BILL_EDENIED) nor ever see one (filtered out
 * of bill_ticket_get). A customer replying to a resolved ticket reopens it
 * (status back to processing: the customer says it is not solved yet); a
 * reply to a closed ticket is BILL_ESTATE (open a new ticket).
 *
 * Assignment (staff): when the assignee actually changes, ONE event
 * "ticket.assigned" is enqueued in the same transaction, payload
 * {"ticket_id","old_assignee_id","new_assignee_id"} ("" for none) so the
 * notifier can tell both; assigning the same person again enqueues nothing.
 *
 * Scoping: CUSTOMER actors reach only their own tickets (else
 * BILL_ENOTFOUND).
 */
#ifndef BILL_TICKET_H
#define BILL_TICKET_H

#include "common.h"
#include "actor.h"
#include "db.h"
#include "page.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bill_ticket_reply {
    char *id;
    char *ticket_id;
    char *user_id;        /* author's user id ("" when unknown) */
    char *customer_id;    /* the ticket's customer for customer replies, else "" */
    char *author_type;    /* "admin" | "customer" */
    char *content;
    bool is_internal;
    int64_t created_at;
} bill_ticket_reply;

typedef struct bill_ticket {
    char *id;
    char *customer_id;
    char *title;
    char *description;
    char *status;
    char *priority;
    char *assignee_user_id;  /* "" when unassigned */
    char *creator_user_id;
    int64_t created_at;
    int64_t updated_at;
    bill_ticket_reply *replies;  /* oldest first; get only */
    size_t reply_count;
} bill_ticket;

typedef struct bill_tickets {
    BILL_LIST_OF(bill_ticket);
} bill_tickets;

BILL_API void bill_ticket_free(bill_ticket *t);
BILL_API void bill_tickets_clear(bill_tickets *l);
BILL_API void bill_ticket_reply_free(bill_ticket_reply *r);

/* BILL_EINVALID naming "status" / "priority" ("normal" is a valid priority:
 * the alias of medium). */
BILL_API int bill_ticket_status_check(const char *status);
BILL_API int bill_ticket_priority_check(const char *priority);

#define BILL_TICKET_PRIORITY_DEFAULT "medium"
/* The stored spelling of a priority: "normal" -> "medium", NULL/"" -> the
 * default, a valid one itself (static string); NULL when not a priority. */
BILL_API const char *bill_ticket_priority_canonical(const char *priority);

/* customer_id: staff must name one; a customer's is forced to its own (a
 * different one is BILL_ENOTFOUND). title 1..200 characters, description
 * at most 20000 bytes, priority NULL/"" = medium ("normal" is stored as
 * medium). A list filter by "normal" finds the medium tickets. */
BILL_API int bill_ticket_create(bill_db *db, const bill_actor *actor, const char *customer_id,
                                const char *title, const char *description,
                                const char *priority, bill_ticket **out);

BILL_API int bill_ticket_get(bill_db *db, const bill_actor *actor, const char *id,
                             bill_ticket **out);

#define BILL_TICKET_FILTER_VERSION 1u
typedef struct bill_ticket_filter {
    unsigned int version; /* BILL_TICKET_FILTER_VERSION */
    const char *customer_id;      /* scoping rule in actor.h */
    const char *status;
    const char *priority;
    const char *assignee_user_id;
    /* fields above exist since version 1 */
} bill_ticket_filter;
/* Newest first; replies are not loaded. */
BILL_API int bill_ticket_list(bill_db *db, const bill_actor *actor,
                              const bill_ticket_filter *filter, const bill_page *page,
                              bill_tickets *out);

/* content 1..20000 bytes. */
BILL_API int bill_ticket_reply_create(bill_db *db, const bill_actor *actor,
                                      const char *ticket_id, const char *content,
                                      bool is_internal, bill_ticket_reply **out);

BILL_API int bill_ticket_set_status(bill_db *db, const bill_actor *actor, const char *id,
                                    const char *status);

/* assignee_user_id: an admin user's id, or NULL/"" to unassign. */
BILL_API int bill_ticket_assign(bill_db *db, const bill_actor *actor, const char *id,
                                const char *assignee_user_id);

#ifdef __cplusplus
}
#endif
#endif
