/*
 * test_scope.c — the one customer-scoping rule (actor.h,
 * bill_actor_customer_scope) that every libbill call naming a customer
 * applies and that bill-server uses to learn which customer a request is
 * about. Pure: no database.
 */
#include <bill/bill.h>

#include "check_main.h"
#include <stdlib.h>
#include <string.h>

#define MINE "6f1c0000-0000-4000-8000-000000000001"
#define OTHER "6f1c0000-0000-4000-8000-000000000002"

static const bill_actor customer = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = MINE};
static const bill_actor admin = {.kind = BILL_ACTOR_ADMIN, .user_id = "a"};
static const bill_actor anonymous = {.kind = BILL_ACTOR_ANONYMOUS};

START_TEST(test_scope__customer_gets_its_own)
{
    const char *out = "x";
    ck_assert_int_eq(bill_actor_customer_scope(&customer, NULL, true, &out), BILL_OK);
    ck_assert_str_eq(out, MINE);
    ck_assert_int_eq(bill_actor_customer_scope(&customer, "", false, &out), BILL_OK);
    ck_assert_str_eq(out, MINE);
    ck_assert_int_eq(bill_actor_customer_scope(&customer, MINE, true, &out), BILL_OK);
    ck_assert_str_eq(out, MINE);
    /* ids compare case-insensitively, as PostgreSQL's uuid does */
    ck_assert_int_eq(bill_actor_customer_scope(&customer, "6F1C0000-0000-4000-8000-000000000001",
                                               false, &out), BILL_OK);
}
END_TEST

START_TEST(test_scope__customer_naming_another_is_not_found)
{
    const char *out = "x";
    ck_assert_int_eq(bill_actor_customer_scope(&customer, OTHER, false, &out), BILL_ENOTFOUND);
    ck_assert_ptr_null(out);
    ck_assert_str_eq(bill_error_last()->field, "customer_id");
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "customer " OTHER " not found"));
    ck_assert_int_eq(bill_actor_customer_scope(&customer, OTHER, true, &out), BILL_ENOTFOUND);
}
END_TEST

START_TEST(test_scope__staff_name_any_or_all)
{
    const char *out = "x";
    ck_assert_int_eq(bill_actor_customer_scope(&admin, OTHER, true, &out), BILL_OK);
    ck_assert_str_eq(out, OTHER);
    ck_assert_int_eq(bill_actor_customer_scope(&admin, "", false, &out), BILL_OK);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(bill_actor_customer_scope(NULL, NULL, false, &out), BILL_OK); /* SYSTEM */
    ck_assert_ptr_null(out);
    ck_assert_int_eq(bill_actor_customer_scope(&admin, NULL, true, &out), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->message, "customer_id is required");
}
END_TEST

START_TEST(test_scope__malformed_and_anonymous)
{
    const char *out;
    ck_assert_int_eq(bill_actor_customer_scope(&admin, "nope", false, &out), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "customer_id");
    ck_assert_int_eq(bill_actor_customer_scope(&customer, "nope", false, &out), BILL_EINVALID);
    ck_assert_int_eq(bill_actor_customer_scope(&anonymous, NULL, false, &out), BILL_EUNAUTH);
    bill_actor no_id = {.kind = BILL_ACTOR_CUSTOMER};
    ck_assert_int_eq(bill_actor_customer_scope(&no_id, NULL, false, &out), BILL_EUNAUTH);
}
END_TEST

BILL_TEST_MAIN("scope", 0, NULL, NULL,
               test_scope__customer_gets_its_own, test_scope__customer_naming_another_is_not_found,
               test_scope__staff_name_any_or_all, test_scope__malformed_and_anonymous);
