/*
 * test_oplog.c — the operation log against a real PostgreSQL: staff
 * mutations leave rows with actor, action, target and before/after JSON in
 * the same transaction; customer mutations and failed changes leave none;
 * password hashes never appear; filters and staff-only reading.
 */
#include "db_fixture.h"

#include "check_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_oplog__admin_mutations_are_logged)
{
    char *url = NULL;
    bill_db *db = bill_test_db_new_url(&url);
    bill_actor admin = {.kind = BILL_ACTOR_ADMIN, .user_id = "11111111-1111-4111-8111-111111111111",
                        .username = "alice", .source_ip = "203.0.113.7", .role = "admin"};
    bill_customer *c = NULL;
    bill_customer_input in = {.version = BILL_CUSTOMER_INPUT_VERSION,
                              .name = "Logged Co", .email = "a@logged.test"};
    ck_assert_int_eq(bill_customer_create(db, &admin, &in, &c), BILL_OK);
    bill_customer_input up = {.version = BILL_CUSTOMER_INPUT_VERSION, .phone = "12345"};
    ck_assert_int_eq(bill_customer_update(db, &admin, c->id, &up, BILL_CUSTOMER_SET_PHONE, NULL),
                     BILL_OK);
    ck_assert_int_eq(bill_balance_change(db, &admin, c->id, BILL_BALANCE_RECHARGE, 1000, "ref-9",
                                         NULL, NULL), BILL_OK);
    /* a refused change leaves no audit row */
    ck_assert_int_eq(bill_balance_change(db, &admin, c->id, BILL_BALANCE_DEDUCT, 5000, NULL, NULL,
                                         NULL), BILL_EFUNDS);

    bill_oplog_entries l;
    bill_oplog_filter f = {.version = BILL_OPLOG_FILTER_VERSION,
                           .target_type = "customer", .target_id = c->id};
    ck_assert_int_eq(bill_oplog_list(db, &admin, &f, NULL, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 3);
    /* newest first */
    ck_assert_str_eq(l.items[0].action, "balance.recharge");
    ck_assert_str_eq(l.items[1].action, "customer.update");
    ck_assert_str_eq(l.items[2].action, "customer.create");
    for (size_t i = 0; i < l.count; i++) {
        ck_assert_str_eq(l.items[i].actor_type, "admin");
        ck_assert_str_eq(l.items[i].actor_name, "alice");
        ck_assert_str_eq(l.items[i].actor_id, admin.user_id);
        ck_assert_str_eq(l.items[i].source_ip, "203.0.113.7");
        ck_assert_int_gt(l.items[i].created_at, 0);
    }
    ck_assert_ptr_null(l.items[2].before_json);
    ck_assert_ptr_nonnull(strstr(l.items[2].after_json, "Logged Co"));
    ck_assert_ptr_nonnull(strstr(l.items[1].before_json, "\"phone\": \"\""));
    ck_assert_ptr_nonnull(strstr(l.items[1].after_json, "\"phone\": \"12345\""));
    ck_assert_ptr_nonnull(strstr(l.items[0].before_json, "\"balance\": 0"));
    ck_assert_ptr_nonnull(strstr(l.items[0].after_json, "\"balance\": 10.00"));
    ck_assert_ptr_nonnull(strstr(l.items[0].after_json, "ref-9"));
    bill_oplog_entries_clear(&l);

    /* action prefix filter and page meta */
    f = (bill_oplog_filter){.version = BILL_OPLOG_FILTER_VERSION, .action = "customer."};
    bill_page pg = {1, 1};
    ck_assert_int_eq(bill_oplog_list(db, &admin, &f, &pg, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 1);
    ck_assert_uint_eq(l.meta.total, 2);
    bill_oplog_entries_clear(&l);
    f = (bill_oplog_filter){.version = BILL_OPLOG_FILTER_VERSION, .action = "customer.create"};
    BILL_TEST_LIST_TOTAL(bill_oplog_list(db, &admin, &f, NULL, &l), l, bill_oplog_entries_clear, 1);
    f = (bill_oplog_filter){.version = BILL_OPLOG_FILTER_VERSION, .actor_id = "nobody"};
    BILL_TEST_LIST_TOTAL(bill_oplog_list(db, &admin, &f, NULL, &l), l, bill_oplog_entries_clear, 0);
    /* time window and actor combine with the target (each narrows) */
    int64_t now = bill_time_now();
    f = (bill_oplog_filter){.version = BILL_OPLOG_FILTER_VERSION, .target_type = "customer",
                            .target_id = c->id, .actor_id = admin.user_id,
                            .since = now - 3600 * INT64_C(1000000),
                            .until = now + 60 * INT64_C(1000000)};
    BILL_TEST_LIST_TOTAL(bill_oplog_list(db, &admin, &f, NULL, &l), l, bill_oplog_entries_clear, 3);
    f.until = now - 3600 * INT64_C(1000000);
    BILL_TEST_LIST_TOTAL(bill_oplog_list(db, &admin, &f, NULL, &l), l, bill_oplog_entries_clear, 0);
    f.until = 0;
    f.since = now + 60 * INT64_C(1000000);
    BILL_TEST_LIST_TOTAL(bill_oplog_list(db, &admin, &f, NULL, &l), l, bill_oplog_entries_clear, 0);

    /* a customer's own change is not an admin mutation; customers cannot read the log */
    bill_actor cust = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = c->id};
    long long before = bill_test_pg_query_ll(url, "SELECT count(*) FROM operation_logs");
    ck_assert_int_eq(bill_customer_update(db, &cust, c->id, &up, BILL_CUSTOMER_SET_PHONE, NULL),
                     BILL_OK);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM operation_logs"), before);
    ck_assert_int_eq(bill_oplog_list(db, &cust, NULL, NULL, &l), BILL_EDENIED);
    bill_customer_free(c);
    free(url);
    bill_db_close(db);
}
END_TEST

START_TEST(test_oplog__cli_and_admin_users_without_hashes)
{
    char *url = NULL;
    bill_db *db = bill_test_db_new_url(&url);
    bill_actor cli = {.kind = BILL_ACTOR_CLI, .username = "root"};
    ck_assert_int_eq(bill_admin_user_create(db, &cli, "henry", "password123", NULL, NULL, NULL,
                                            NULL), BILL_OK);
    ck_assert_int_eq(bill_admin_user_set_password(db, &cli, "henry", "password456"), BILL_OK);
    ck_assert_int_eq(bill_admin_user_set_active(db, &cli, "henry", false), BILL_OK);
    bill_oplog_entries l;
    bill_oplog_filter f = {.version = BILL_OPLOG_FILTER_VERSION, .target_type = "admin_user"};
    ck_assert_int_eq(bill_oplog_list(db, NULL, &f, NULL, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 3);
    ck_assert_str_eq(l.items[0].action, "admin_user.disable");
    ck_assert_str_eq(l.items[1].action, "admin_user.set_password");
    ck_assert_str_eq(l.items[0].actor_name, "cli:root");
    for (size_t i = 0; i < l.count; i++)
        ck_assert_str_eq(l.items[i].actor_type, "cli");
    ck_assert_ptr_nonnull(strstr(l.items[0].before_json, "\"is_active\": true"));
    ck_assert_ptr_nonnull(strstr(l.items[0].after_json, "\"is_active\": false"));
    bill_oplog_entries_clear(&l);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM operation_logs WHERE "
                                                "before::text LIKE '%argon2%' OR "
                                                "after::text LIKE '%argon2%' OR "
                                                "before ? 'password_hash' OR "
                                                "after ? 'password_hash'"),
                     0);
    free(url);
    bill_db_close(db);
}
END_TEST

/* bill-tui's operator: the CLI's privileges (manages admin users), audited
 * as "tui:<user>" so the log tells the two consoles apart. */
START_TEST(test_oplog__tui_actor_is_named_tui)
{
    char *url = NULL;
    bill_db *db = bill_test_db_new_url(&url);
    bill_actor tui = {.kind = BILL_ACTOR_TUI, .username = "alice"};
    bill_actor anon_tui = {.kind = BILL_ACTOR_TUI};
    ck_assert(bill_actor_is_staff(&tui));
    ck_assert(bill_actor_is_console(&tui));
    ck_assert_int_eq(bill_admin_user_create(db, &tui, "ivy", "password123", "operator", NULL, NULL,
                                            NULL), BILL_OK);
    ck_assert_int_eq(bill_admin_user_set_active(db, &anon_tui, "ivy", false), BILL_OK);
    bill_customer *c = NULL;
    bill_customer_input in = {.version = BILL_CUSTOMER_INPUT_VERSION, .name = "TUI Co"};
    ck_assert_int_eq(bill_customer_create(db, &tui, &in, &c), BILL_OK);
    bill_balance_tx tx = {0};
    ck_assert_int_eq(bill_balance_change(db, &tui, c->id, BILL_BALANCE_RECHARGE, 500, NULL, NULL,
                                         &tx), BILL_OK);
    ck_assert_str_eq(tx.created_by, "alice");
    bill_balance_tx_clear(&tx);

    bill_oplog_entries l;
    ck_assert_int_eq(bill_oplog_list(db, &tui, NULL, NULL, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 4);
    ck_assert_str_eq(l.items[0].action, "balance.recharge");
    ck_assert_str_eq(l.items[0].actor_name, "tui:alice");
    ck_assert_str_eq(l.items[2].action, "admin_user.disable");
    ck_assert_str_eq(l.items[2].actor_name, "tui");
    ck_assert_str_eq(l.items[3].actor_name, "tui:alice");
    for (size_t i = 0; i < l.count; i++)
        ck_assert_str_eq(l.items[i].actor_type, "cli");
    bill_oplog_entries_clear(&l);
    bill_customer_free(c);
    free(url);
    bill_db_close(db);
}
END_TEST

BILL_TEST_MAIN("oplog", 120, NULL, NULL,
               test_oplog__admin_mutations_are_logged,
               test_oplog__cli_and_admin_users_without_hashes,
               test_oplog__tui_actor_is_named_tui);
