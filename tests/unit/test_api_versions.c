/*
 * test_api_versions.c — every caller-allocated input and filter struct of
 * the public API carries a version (common.h): libbill refuses version 0
 * (a struct the caller forgot to stamp) and versions newer than itself,
 * with BILL_EINVALID naming "version", before it touches the database.
 * The calls run with db = NULL: a refused struct never gets that far.
 */
#include <bill/bill.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "check_main.h"

static const bill_actor cli = {.kind = BILL_ACTOR_CLI, .username = "test"};
static const char *const ID = "00000000-0000-4000-8000-000000000001";

static void expect_version_error(int rc, const char *type)
{
    ck_assert_int_eq(rc, BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "version");
    ck_assert_msg(strstr(bill_error_last()->message, type), "message \"%s\" names %s",
                  bill_error_last()->message, type);
}

/* One call per struct, with the given version. */
typedef int (*call_fn)(unsigned int version);

static int customer_input(unsigned int v)
{
    bill_customer_input in = {.version = v, .name = "Acme"};
    return bill_customer_create(NULL, &cli, &in, NULL);
}
static int customer_input_update(unsigned int v)
{
    bill_customer_input in = {.version = v, .phone = "1"};
    return bill_customer_update(NULL, &cli, ID, &in, BILL_CUSTOMER_SET_PHONE, NULL);
}
static int customer_filter(unsigned int v)
{
    bill_customer_filter f = {.version = v};
    bill_customers l;
    return bill_customer_list(NULL, &cli, &f, NULL, &l);
}
static int instance_filter(unsigned int v)
{
    bill_instance_filter f = {.version = v};
    bill_instances l;
    return bill_instance_list(NULL, &cli, &f, NULL, &l);
}
static int invoice_input(unsigned int v)
{
    bill_invoice_item_input it = {.description = "x", .quantity = 1, .unit_price = 100};
    bill_invoice_input in = {.version = v, .customer_id = ID, .items = &it, .item_count = 1};
    return bill_invoice_create(NULL, &cli, &in, NULL);
}
static int invoice_filter(unsigned int v)
{
    bill_invoice_filter f = {.version = v};
    bill_invoices l;
    return bill_invoice_list(NULL, &cli, &f, NULL, &l);
}
static int oplog_filter(unsigned int v)
{
    bill_oplog_filter f = {.version = v};
    bill_oplog_entries l;
    return bill_oplog_list(NULL, &cli, &f, NULL, &l);
}
static int order_input(unsigned int v)
{
    bill_order_input in = {.version = v, .customer_id = ID, .product_id = ID};
    return bill_order_create(NULL, NULL, &cli, &in, NULL);
}
static int order_filter(unsigned int v)
{
    bill_order_filter f = {.version = v};
    bill_orders l;
    return bill_order_list(NULL, &cli, &f, NULL, &l);
}
static int payment_filter(unsigned int v)
{
    bill_payment_filter f = {.version = v};
    bill_payments l;
    return bill_payment_list(NULL, &cli, &f, NULL, &l);
}
static int product_input(unsigned int v)
{
    bill_product_input in = {.version = v, .name = "VPS", .has_price[BILL_CYCLE_MONTHLY] = true};
    return bill_product_create(NULL, &cli, &in, NULL);
}
static int product_input_update(unsigned int v)
{
    bill_product_input in = {.version = v, .name = "VPS"};
    return bill_product_update(NULL, &cli, ID, &in, BILL_PRODUCT_SET_NAME, NULL);
}
static int product_filter(unsigned int v)
{
    bill_product_filter f = {.version = v};
    bill_products l;
    return bill_product_list(NULL, &cli, &f, NULL, &l);
}
static int ticket_filter(unsigned int v)
{
    bill_ticket_filter f = {.version = v};
    bill_tickets l;
    return bill_ticket_list(NULL, &cli, &f, NULL, &l);
}

static int customer_user_filter(unsigned int v)
{
    bill_customer_user_filter f = {.version = v};
    bill_customer_users l;
    return bill_customer_user_list(NULL, &cli, &f, NULL, &l);
}

static const struct {
    const char *type;
    call_fn call;
    unsigned int current;
} cases[] = {
    {"bill_customer_input", customer_input, BILL_CUSTOMER_INPUT_VERSION},
    {"bill_customer_input", customer_input_update, BILL_CUSTOMER_INPUT_VERSION},
    {"bill_customer_filter", customer_filter, BILL_CUSTOMER_FILTER_VERSION},
    {"bill_customer_user_filter", customer_user_filter, BILL_CUSTOMER_USER_FILTER_VERSION},
    {"bill_instance_filter", instance_filter, BILL_INSTANCE_FILTER_VERSION},
    {"bill_invoice_input", invoice_input, BILL_INVOICE_INPUT_VERSION},
    {"bill_invoice_filter", invoice_filter, BILL_INVOICE_FILTER_VERSION},
    {"bill_oplog_filter", oplog_filter, BILL_OPLOG_FILTER_VERSION},
    {"bill_order_input", order_input, BILL_ORDER_INPUT_VERSION},
    {"bill_order_filter", order_filter, BILL_ORDER_FILTER_VERSION},
    {"bill_payment_filter", payment_filter, BILL_PAYMENT_FILTER_VERSION},
    {"bill_product_input", product_input, BILL_PRODUCT_INPUT_VERSION},
    {"bill_product_input", product_input_update, BILL_PRODUCT_INPUT_VERSION},
    {"bill_product_filter", product_filter, BILL_PRODUCT_FILTER_VERSION},
    {"bill_ticket_filter", ticket_filter, BILL_TICKET_FILTER_VERSION},
};

START_TEST(test_api_versions__zero_is_refused)
{
    expect_version_error(cases[_i].call(0), cases[_i].type);
}
END_TEST

START_TEST(test_api_versions__newer_than_library_is_refused)
{
    expect_version_error(cases[_i].call(cases[_i].current + 1), cases[_i].type);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "newer than this libbill"));
}
END_TEST

/* The current version passes the check: whatever fails next is not about
 * the version (here: no database handle). */
START_TEST(test_api_versions__current_passes_the_check)
{
    bill_error_clear();
    int rc = cases[_i].call(cases[_i].current);
    ck_assert_int_ne(rc, BILL_OK);
    ck_assert_ptr_null(strstr(bill_error_last()->message, "version"));
}
END_TEST

BILL_TEST_MAIN_CASES("api_versions",
                     BILL_TEST_LOOP_CASE("versions", 0, NULL, NULL, BILL_TEST_COUNT(cases),
                                         test_api_versions__zero_is_refused,
                                         test_api_versions__newer_than_library_is_refused,
                                         test_api_versions__current_passes_the_check));
