/*
 * test_specs.c — the one rule that types spec values given as text
 * (bill_specs_from_text): bill-cli's --spec key=value and bill-server's
 * map<string,string> specs both go through it, so "007" is a string on both
 * sides and "2" a number.
 */
#include <bill/bill.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "check_main.h"

static char *typed(const char *value)
{
    const char *k = "v";
    char *json = NULL;
    ck_assert_int_eq(bill_specs_from_text(&k, &value, 1, &json), BILL_OK);
    return json;
}

static const struct {
    const char *in, *json;
} cases[] = {
    {"2", "{\"v\":2}"},
    {"-1", "{\"v\":-1}"},
    {"0", "{\"v\":0}"},
    {"1.5", "{\"v\":1.5}"},
    {"1.50", "{\"v\":1.50}"},
    {"true", "{\"v\":true}"},
    {"false", "{\"v\":false}"},
    {"007", "{\"v\":\"007\"}"},
    {"0x10", "{\"v\":\"0x10\"}"},
    {" 5", "{\"v\":\" 5\"}"},
    {"5 ", "{\"v\":\"5 \"}"},
    {"1e3", "{\"v\":\"1e3\"}"},
    {"+1", "{\"v\":\"+1\"}"},
    {".5", "{\"v\":\".5\"}"},
    {"5.", "{\"v\":\"5.\"}"},
    {"-0", "{\"v\":\"-0\"}"},
    {"1234567890123456", "{\"v\":\"1234567890123456\"}"},
    {"True", "{\"v\":\"True\"}"},
    {"hk", "{\"v\":\"hk\"}"},
    {"", "{\"v\":\"\"}"},
    {"a/b", "{\"v\":\"a/b\"}"},
};

START_TEST(test_specs__one_typing_rule)
{
    char *json = typed(cases[_i].in);
    ck_assert_str_eq(json, cases[_i].json);
    free(json);
}
END_TEST

START_TEST(test_specs__pairs_and_duplicates)
{
    const char *k[] = {"cpu_cores", "region", "cpu_cores"}, *v[] = {"2", "hk", "4"};
    char *json = NULL;
    ck_assert_int_eq(bill_specs_from_text(k, v, 3, &json), BILL_OK);
    ck_assert_str_eq(json, "{\"cpu_cores\":4,\"region\":\"hk\"}");
    free(json);
    ck_assert_int_eq(bill_specs_from_text(NULL, NULL, 0, &json), BILL_OK);
    ck_assert_str_eq(json, "{}");
    free(json);
    ck_assert_int_eq(bill_specs_from_text(k, v, 1, NULL), BILL_EINVALID);
}
END_TEST

BILL_TEST_MAIN_CASES("specs",
                     BILL_TEST_LOOP_CASE("specs", 0, NULL, NULL, BILL_TEST_COUNT(cases),
                                         test_specs__one_typing_rule),
                     BILL_TEST_CASE("pairs", 0, NULL, NULL, test_specs__pairs_and_duplicates));
