/*
 * test_ticket.c — tickets against a real PostgreSQL: creation and
 * validation, internal notes hidden from customers (and refused from
 * them), customer reply reopening a resolved ticket, the status table,
 * assignment notifying exactly once per change, scoping and list filters.
 */
#include "db_fixture.h"

#include "check_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const bill_actor cli = {.kind = BILL_ACTOR_CLI, .username = "ops"};

BILL_TEST_DB_FIXTURE()

static char *status_of(const char *id)
{
    bill_ticket *t = NULL;
    ck_assert_int_eq(bill_ticket_get(db, &cli, id, &t), BILL_OK);
    char *s = strdup(t->status);
    bill_ticket_free(t);
    return s;
}

START_TEST(test_ticket__lifecycle_internal_notes_assignment)
{
    const char *cid = bill_test_customer_named(db, "T"), *other = bill_test_customer_named(db, "U");
    char *s;
    bill_actor me = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = cid, .user_id = "cu-1"};
    bill_actor b = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = other};
    bill_ticket *t = NULL;
    bill_ticket_reply *r = NULL;

    ck_assert_int_eq(bill_ticket_create(db, &me, NULL, "", "x", NULL, &t), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "title");
    ck_assert_int_eq(bill_ticket_create(db, &me, NULL, "Down", "x", "critical", &t),
                     BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "priority");
    ck_assert_int_eq(bill_ticket_create(db, &me, other, "Down", "x", NULL, &t), BILL_ENOTFOUND);
    ck_assert_int_eq(bill_ticket_create(db, &me, NULL, "Server down", "since 9:00", NULL, &t),
                     BILL_OK);
    ck_assert_str_eq(t->customer_id, cid);
    ck_assert_str_eq(t->priority, "medium");
    ck_assert_str_eq(t->status, "pending");
    ck_assert_str_eq(t->creator_user_id, "cu-1");
    char *id = strdup(t->id);
    bill_ticket_free(t);

    /* Replies: customers cannot write internal notes nor see them. */
    ck_assert_int_eq(bill_ticket_reply_create(db, &me, id, "secret?", true, &r), BILL_EDENIED);
    ck_assert_int_eq(bill_ticket_reply_create(db, &me, id, "", false, &r), BILL_EINVALID);
    int rc = bill_ticket_reply_create(db, &me, id, "please help", false, &r);
    ck_assert_msg(rc == BILL_OK, "reply: %s", bill_error_last()->message);
    ck_assert_str_eq(r->author_type, "customer");
    ck_assert_str_eq(r->customer_id, cid);
    bill_ticket_reply_free(r);
    ck_assert_int_eq(bill_ticket_reply_create(db, &cli, id, "looks like abuse", true, NULL),
                     BILL_OK);
    ck_assert_int_eq(bill_ticket_reply_create(db, &cli, id, "we are on it", false, &r), BILL_OK);
    ck_assert_str_eq(r->author_type, "admin");
    ck_assert_str_eq(r->customer_id, "");
    bill_ticket_reply_free(r);
    ck_assert_int_eq(bill_ticket_get(db, &me, id, &t), BILL_OK);
    ck_assert_uint_eq(t->reply_count, 2);
    for (size_t i = 0; i < t->reply_count; i++) {
        ck_assert(!t->replies[i].is_internal);
        ck_assert_ptr_null(strstr(t->replies[i].content, "abuse"));
    }
    bill_ticket_free(t);
    ck_assert_int_eq(bill_ticket_get(db, &cli, id, &t), BILL_OK);
    ck_assert_uint_eq(t->reply_count, 3);
    ck_assert(t->replies[1].is_internal);
    bill_ticket_free(t);

    /* Status table; customers may not set status. */
    ck_assert_int_eq(bill_ticket_set_status(db, &me, id, "closed"), BILL_EDENIED);
    ck_assert_int_eq(bill_ticket_set_status(db, &cli, id, "resolved"), BILL_ESTATE);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "is pending; cannot move to "
                                                             "resolved"));
    ck_assert_int_eq(bill_ticket_set_status(db, &cli, id, "done"), BILL_EINVALID);
    ck_assert_int_eq(bill_ticket_set_status(db, &cli, id, "processing"), BILL_OK);
    ck_assert_int_eq(bill_ticket_set_status(db, &cli, id, "resolved"), BILL_OK);
    /* A customer's reply to a resolved ticket reopens it. */
    ck_assert_int_eq(bill_ticket_reply_create(db, &me, id, "still down", false, NULL), BILL_OK);
    s = status_of(id);
    ck_assert_str_eq(s, "processing");
    free(s);
    ck_assert_int_eq(bill_ticket_set_status(db, &cli, id, "closed"), BILL_OK);
    ck_assert_int_eq(bill_ticket_reply_create(db, &me, id, "hello?", false, NULL), BILL_ESTATE);
    ck_assert_int_eq(bill_ticket_set_status(db, &cli, id, "processing"), BILL_ESTATE);

    /* Assignment: one event per actual change, with old and new. */
    bill_admin_user *a1 = NULL, *a2 = NULL;
    ck_assert_int_eq(bill_admin_user_create(db, &cli, "agent1", "secret123", "support", NULL,
                                            NULL, &a1), BILL_OK);
    ck_assert_int_eq(bill_admin_user_create(db, &cli, "agent2", "secret123", "support", NULL,
                                            NULL, &a2), BILL_OK);
    ck_assert_int_eq(bill_ticket_assign(db, &me, id, a1->id), BILL_EDENIED);
    ck_assert_int_eq(bill_ticket_assign(db, &cli, id, a1->id), BILL_OK);
    ck_assert_int_eq(bill_ticket_assign(db, &cli, id, a1->id), BILL_OK); /* same: no event */
    ck_assert_int_eq(bill_ticket_assign(db, &cli, id, a2->id), BILL_OK);
    ck_assert_int_eq(bill_ticket_assign(db, &cli, id, "00000000-0000-4000-8000-000000000000"),
                     BILL_ENOTFOUND);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM events "
                                                "WHERE kind = 'ticket.assigned'"), 2);
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM events WHERE kind = 'ticket.assigned' AND "
             "payload->>'old_assignee_id' = '%s' AND payload->>'new_assignee_id' = '%s' AND "
             "payload->>'ticket_id' = '%s'", a1->id, a2->id, id);
    ck_assert_int_eq(bill_test_pg_query_ll(url, sql), 1);

    /* Scoping and list filters. */
    ck_assert_int_eq(bill_ticket_get(db, &b, id, &t), BILL_ENOTFOUND);
    ck_assert_int_eq(bill_ticket_reply_create(db, &b, id, "hi", false, NULL), BILL_ENOTFOUND);
    bill_tickets l;
    BILL_TEST_LIST_TOTAL(bill_ticket_list(db, &b, NULL, NULL, &l), l, bill_tickets_clear, 0);
    bill_ticket_filter f = {.version = BILL_TICKET_FILTER_VERSION,
                            .assignee_user_id = a2->id, .status = "closed"};
    BILL_TEST_LIST_TOTAL(bill_ticket_list(db, &cli, &f, NULL, &l), l, bill_tickets_clear, 1);
    f.assignee_user_id = a1->id; /* reassigned to a2: each filter narrows */
    BILL_TEST_LIST_TOTAL(bill_ticket_list(db, &cli, &f, NULL, &l), l, bill_tickets_clear, 0);
    f = (bill_ticket_filter){.version = BILL_TICKET_FILTER_VERSION, .priority = "urgent"};
    BILL_TEST_LIST_TOTAL(bill_ticket_list(db, &me, &f, NULL, &l), l, bill_tickets_clear, 0);
    f = (bill_ticket_filter){.version = BILL_TICKET_FILTER_VERSION, .priority = "URGENT"};
    ck_assert_int_eq(bill_ticket_list(db, &me, &f, NULL, &l), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "priority");

    bill_admin_user_free(a1);
    bill_admin_user_free(a2);
    free(id);
}
END_TEST

/* Issue 8: the front end's priorities; "normal" is medium. */
START_TEST(test_ticket__priority_vocabulary_and_alias)
{
    bill_customer_input ci = {.version = BILL_CUSTOMER_INPUT_VERSION, .name = "P"};
    bill_customer *c = NULL;
    ck_assert_int_eq(bill_customer_create(db, &cli, &ci, &c), BILL_OK);
    bill_actor me = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = c->id};
    bill_ticket *t = NULL;
    static const char *const given[] = {"low", "medium", "high", "urgent", "normal", ""};
    static const char *const stored[] = {"low", "medium", "high", "urgent", "medium", "medium"};
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(bill_ticket_create(db, &me, NULL, "t", "", given[i], &t), BILL_OK);
        ck_assert_str_eq(t->priority, stored[i]);
        bill_ticket_free(t);
    }
    ck_assert_int_eq(bill_ticket_create(db, &me, NULL, "t", "", "Medium", &t), BILL_EINVALID);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "low, medium, high, urgent"));
    bill_tickets l;
    bill_ticket_filter f = {.version = BILL_TICKET_FILTER_VERSION, .priority = "normal"};
    BILL_TEST_LIST_TOTAL(bill_ticket_list(db, &me, &f, NULL, &l), l, bill_tickets_clear, 3);
    ck_assert_str_eq(bill_ticket_priority_canonical("normal"), "medium");
    ck_assert_ptr_null(bill_ticket_priority_canonical("asap"));
    bill_customer_free(c);
}
END_TEST

BILL_TEST_MAIN("ticket", 120, setup, teardown,
               test_ticket__lifecycle_internal_notes_assignment,
               test_ticket__priority_vocabulary_and_alias);
