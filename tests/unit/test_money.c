/*
 * test_money.c — unit tests for bill_money parsing, formatting, checked
 * arithmetic and ratio multiplication (R-DB-4: exact cents, half-to-even).
 */
#include <bill/bill.h>

#include "check_main.h"
#include <stdlib.h>
#include <string.h>

/* Parsed with exactly `cents`. */
static const struct {
    const char *text;
    bill_money cents;
} accepted[] = {
    {"12", 1200},
    {"12.5", 1250},
    {"12.50", 1250},
    {"-3.00", -300},
    {"0", 0},
    {"0.00", 0},
    {"0.05", 5},
    {"-0.05", -5},
    {"007.5", 750},
    {"9999999999.99", 999999999999},
    {"-9999999999.99", -999999999999},
    {"00000000000000000001.10", 110},
};

START_TEST(test_money__parse_accepts_plain_forms)
{
    const char *s = accepted[_i].text;
    bill_money v = 12345;
    int rc = bill_money_parse(s, &v);
    ck_assert_msg(rc == BILL_OK, "\"%s\" rejected: %s", s, bill_error_last()->message);
    ck_assert_msg(v == accepted[_i].cents, "\"%s\" parsed as %lld, want %lld", s, (long long)v,
                  (long long)accepted[_i].cents);
}
END_TEST

/* Refused with `code`, the output left alone, the value named: more than
 * two decimals, malformed, out of range. */
static const struct {
    const char *text;
    int code;
    const char *reason;
} rejected[] = {
    {"1.234", BILL_EINVALID, "more than two decimals"},
    {"0.001", BILL_EINVALID, "more than two decimals"},
    {"1.234", BILL_EINVALID, "\"1.234\""},
    {"abc", BILL_EINVALID, "not a decimal number"},
    {"", BILL_EINVALID, "empty"},
    {"1e3", BILL_EINVALID, "exponent"},
    {" 12", BILL_EINVALID, "whitespace"},
    {"12 ", BILL_EINVALID, "whitespace"},
    {"12.", BILL_EINVALID, "after the decimal point"},
    {".5", BILL_EINVALID, "before the decimal point"},
    {"-", BILL_EINVALID, "no digits"},
    {"+-1", BILL_EINVALID, "\"+-1\""},
    /* one spelling per value: no '+', no negative zero (issue 8 defect 7) */
    {"+5", BILL_EINVALID, "leading '+'"},
    {"+1.00", BILL_EINVALID, "leading '+'"},
    {"+0", BILL_EINVALID, "leading '+'"},
    {"-0", BILL_EINVALID, "negative zero"},
    {"-0.00", BILL_EINVALID, "negative zero"},
    {"-00.0", BILL_EINVALID, "negative zero"},
    {"1,000", BILL_EINVALID, "thousands"},
    {"1.2.3", BILL_EINVALID, "not a decimal number"},
    {"0x10", BILL_EINVALID, "not a decimal number"},
    {"NaN", BILL_EINVALID, "not a decimal number"},
    {"10000000000", BILL_ELIMIT, "out of range"},
    {"10000000000.00", BILL_ELIMIT, "out of range"},
    {"-10000000000.00", BILL_ELIMIT, "out of range"},
    {"99999999999999999999999999", BILL_ELIMIT, "out of range"},
};

START_TEST(test_money__parse_rejects)
{
    const char *s = rejected[_i].text, *reason = rejected[_i].reason;
    bill_money v = 777;
    int rc = bill_money_parse(s, &v);
    ck_assert_msg(rc == rejected[_i].code, "\"%s\": rc %d, want %d", s, rc, rejected[_i].code);
    ck_assert_int_eq(v, 777);
    ck_assert_str_eq(bill_error_last()->field, "amount");
    ck_assert_msg(strstr(bill_error_last()->message, reason) != NULL,
                  "\"%s\": message \"%s\" lacks \"%s\"", s, bill_error_last()->message, reason);
}
END_TEST

START_TEST(test_money__parse_null_and_field_name)
{
    bill_money v = 1;
    ck_assert_int_eq(bill_money_parse(NULL, &v), BILL_EINVALID);
    ck_assert_int_eq(bill_money_parse_field("1.999", "price", &v), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "price");
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "price \"1.999\""));
    ck_assert_int_eq(bill_money_parse_field("2.5", "price", &v), BILL_OK);
    ck_assert_int_eq(v, 250);
}
END_TEST

START_TEST(test_money__format_two_decimals)
{
    char b[BILL_MONEY_BUFSZ];
    ck_assert_str_eq(bill_money_format(0, b), "0.00");
    ck_assert_str_eq(bill_money_format(-5, b), "-0.05");
    ck_assert_str_eq(bill_money_format(123450, b), "1234.50");
    ck_assert_str_eq(bill_money_format(-100, b), "-1.00");
    ck_assert_str_eq(bill_money_format(BILL_MONEY_MAX, b), "9999999999.99");
    ck_assert_str_eq(bill_money_format(INT64_MIN, b), "-92233720368547758.08");
    ck_assert_str_eq(bill_money_format(INT64_MAX, b), "92233720368547758.07");
}
END_TEST

START_TEST(test_money__format_parse_round_trip)
{
    static const bill_money vals[] = { 0, 1, -1, 99, 100, -101, 123456789, -999999999999, 999999999999 };
    char b[BILL_MONEY_BUFSZ];
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        bill_money back = 0;
        ck_assert_int_eq(bill_money_parse(bill_money_format(vals[i], b), &back), BILL_OK);
        ck_assert_int_eq(back, vals[i]);
    }
}
END_TEST

START_TEST(test_money__add_sub_checked)
{
    bill_money r = 42;
    ck_assert_int_eq(bill_money_add_checked(150, 250, &r), BILL_OK);
    ck_assert_int_eq(r, 400);
    ck_assert_int_eq(bill_money_sub_checked(150, 250, &r), BILL_OK);
    ck_assert_int_eq(r, -100);
    ck_assert_int_eq(bill_money_add_checked(BILL_MONEY_MAX, 0, &r), BILL_OK);
    r = 42;
    ck_assert_int_eq(bill_money_add_checked(BILL_MONEY_MAX, 1, &r), BILL_ELIMIT);
    ck_assert_int_eq(r, 42);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "9999999999.99 + 0.01"));
    ck_assert_int_eq(bill_money_sub_checked(-BILL_MONEY_MAX, 1, &r), BILL_ELIMIT);
    ck_assert_int_eq(bill_money_add_checked(INT64_MAX, INT64_MAX, &r), BILL_ELIMIT);
    ck_assert_int_eq(bill_money_sub_checked(INT64_MIN, 1, &r), BILL_ELIMIT);
    ck_assert_int_eq(r, 42);
    ck_assert(bill_money_in_range(-BILL_MONEY_MAX));
    ck_assert(!bill_money_in_range(BILL_MONEY_MAX + 1));
}
END_TEST

static bill_money mul(bill_money a, const char *ratio)
{
    bill_money r = -424242;
    int rc = bill_money_mul_ratio(a, ratio, &r);
    ck_assert_msg(rc == BILL_OK, "%lld × %s: %s", (long long)a, ratio, bill_error_last()->message);
    return r;
}

START_TEST(test_money__mul_ratio_rounds_half_to_even)
{
    ck_assert_int_eq(mul(100, "0.125"), 12); /* 12.5 -> 12 (even) */
    ck_assert_int_eq(mul(100, "0.135"), 14); /* 13.5 -> 14 (even) */
    ck_assert_int_eq(mul(100, "0.145"), 14); /* 14.5 -> 14 */
    ck_assert_int_eq(mul(-100, "0.125"), -12);
    ck_assert_int_eq(mul(-100, "0.135"), -14);
    ck_assert_int_eq(mul(100, "-0.135"), -14);
    ck_assert_int_eq(mul(100, "0.125000001"), 13); /* just above the tie */
    ck_assert_int_eq(mul(100, "0.124999999"), 12);
    ck_assert_int_eq(mul(-100, "0.125000001"), -13);
}
END_TEST

START_TEST(test_money__mul_ratio_exact)
{
    ck_assert_int_eq(mul(1000, "1.25"), 1250);
    ck_assert_int_eq(mul(1000, "2"), 2000);
    ck_assert_int_eq(mul(1000, "0"), 0);
    ck_assert_int_eq(mul(1000, "1.333333"), 1333);
    ck_assert_int_eq(mul(3000, "0.333333333"), 1000);
    ck_assert_int_eq(mul(999999999999, "1"), 999999999999);
    ck_assert_int_eq(mul(999999999999, "0.000000001"), 1000); /* 999.999999999 cents */
    ck_assert_int_eq(mul(1, "0.5"), 0);
    ck_assert_int_eq(mul(3, "0.5"), 2);
}
END_TEST

START_TEST(test_money__mul_ratio_rejects)
{
    bill_money r = 5;
    ck_assert_int_eq(bill_money_mul_ratio(100, "1.0000000001", &r), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "ratio");
    ck_assert_int_eq(bill_money_mul_ratio(100, "abc", &r), BILL_EINVALID);
    ck_assert_int_eq(bill_money_mul_ratio(100, "", &r), BILL_EINVALID);
    ck_assert_int_eq(bill_money_mul_ratio(100, NULL, &r), BILL_EINVALID);
    ck_assert_int_eq(bill_money_mul_ratio(100, "1e2", &r), BILL_EINVALID);
    ck_assert_int_eq(bill_money_mul_ratio(100, "+1.2", &r), BILL_EINVALID);
    ck_assert_int_eq(bill_money_mul_ratio(100, "-0", &r), BILL_EINVALID);
    ck_assert_int_eq(bill_money_mul_ratio(BILL_MONEY_MAX, "1.01", &r), BILL_ELIMIT);
    ck_assert_int_eq(bill_money_mul_ratio(BILL_MONEY_MAX + 1, "1", &r), BILL_ELIMIT);
    ck_assert_int_eq(bill_money_mul_ratio(100, "1000000000", &r), BILL_ELIMIT);
    ck_assert_int_eq(bill_money_mul_ratio(INT64_MIN, "999999999.999999999", &r), BILL_ELIMIT);
    ck_assert_int_eq(r, 5);
}
END_TEST

BILL_TEST_MAIN_CASES("money",
                     BILL_TEST_LOOP_CASE("accepted", 0, NULL, NULL, BILL_TEST_COUNT(accepted),
                                         test_money__parse_accepts_plain_forms),
                     BILL_TEST_LOOP_CASE("rejected", 0, NULL, NULL, BILL_TEST_COUNT(rejected),
                                         test_money__parse_rejects),
                     BILL_TEST_CASE("money", 0, NULL, NULL, test_money__parse_null_and_field_name,
                                    test_money__format_two_decimals,
                                    test_money__format_parse_round_trip,
                                    test_money__add_sub_checked,
                                    test_money__mul_ratio_rounds_half_to_even,
                                    test_money__mul_ratio_exact, test_money__mul_ratio_rejects));
