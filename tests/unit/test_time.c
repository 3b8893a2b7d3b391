/*
 * test_time.c — unit tests for the injectable clock, RFC 3339 text, date
 * arithmetic and billing-cycle anniversaries (R-BIL-1).
 */
#include <bill/bill.h>

#include "check_main.h"
#include <stdlib.h>
#include <string.h>

static bill_date D(int y, int m, int d)
{
    bill_date r = { y, m, d };
    return r;
}

static void ck_date(bill_date got, int y, int m, int d)
{
    ck_assert_msg(got.y == y && got.m == m && got.d == d, "got %04d-%02d-%02d, want %04d-%02d-%02d",
                  got.y, got.m, got.d, y, m, d);
}

static bill_date plus_months(bill_date a, int n)
{
    bill_date r = { 0, 0, 0 };
    ck_assert_int_eq(bill_date_add_months(&r, a, n), BILL_OK);
    return r;
}

START_TEST(test_time__jan31_series_keeps_anchor_day)
{
    bill_date a = D(2025, 1, 31);
    ck_date(plus_months(a, 1), 2025, 2, 28);
    ck_date(plus_months(a, 2), 2025, 3, 31);
    ck_date(plus_months(a, 3), 2025, 4, 30);
    ck_date(plus_months(a, 4), 2025, 5, 31);
    ck_date(plus_months(a, 11), 2025, 12, 31);
    ck_date(plus_months(a, 12), 2026, 1, 31);
    ck_date(plus_months(D(2024, 1, 31), 1), 2024, 2, 29);
    ck_date(plus_months(a, -2), 2024, 11, 30);
    ck_date(plus_months(D(2025, 3, 31), -1), 2025, 2, 28);
}
END_TEST

START_TEST(test_time__leap_years)
{
    ck_assert(bill_date_is_leap(2024));
    ck_assert(!bill_date_is_leap(2100));
    ck_assert(bill_date_is_leap(2000));
    ck_assert(!bill_date_is_leap(2025));
    ck_assert_int_eq(bill_date_days_in_month(2100, 2), 28);
    ck_assert_int_eq(bill_date_days_in_month(2000, 2), 29);
    ck_assert_int_eq(bill_date_days_in_month(2024, 13), 0);
    /* Feb 29 anchor, yearly: 28th in common years, back to 29th in leap years. */
    bill_date a = D(2024, 2, 29), r;
    for (int k = 1; k <= 8; k++) {
        ck_assert_int_eq(bill_cycle_next_due(&r, a, BILL_CYCLE_YEARLY, k), BILL_OK);
        ck_date(r, 2024 + k, 2, bill_date_is_leap(2024 + k) ? 29 : 28);
    }
    ck_assert_int_eq(bill_cycle_next_due(&r, D(2096, 2, 29), BILL_CYCLE_YEARLY, 4), BILL_OK);
    ck_date(r, 2100, 2, 28);
    ck_assert_int_eq(bill_cycle_next_due(&r, D(1996, 2, 29), BILL_CYCLE_YEARLY, 4), BILL_OK);
    ck_date(r, 2000, 2, 29);
    ck_assert(!bill_date_valid(D(2100, 2, 29)));
    ck_assert(bill_date_valid(D(2000, 2, 29)));
}
END_TEST

START_TEST(test_time__quarterly_and_yearly)
{
    bill_date r;
    ck_assert_int_eq(bill_cycle_next_due(&r, D(2025, 11, 30), BILL_CYCLE_QUARTERLY, 1), BILL_OK);
    ck_date(r, 2026, 2, 28);
    ck_assert_int_eq(bill_cycle_next_due(&r, D(2025, 11, 30), BILL_CYCLE_QUARTERLY, 2), BILL_OK);
    ck_date(r, 2026, 5, 30);
    ck_assert_int_eq(bill_cycle_next_due(&r, D(2025, 5, 31), BILL_CYCLE_QUARTERLY, 1), BILL_OK);
    ck_date(r, 2025, 8, 31);
    ck_assert_int_eq(bill_cycle_next_due(&r, D(2025, 6, 15), BILL_CYCLE_YEARLY, 1), BILL_OK);
    ck_date(r, 2026, 6, 15);
    ck_assert_int_eq(bill_cycle_next_due(&r, D(2025, 6, 15), BILL_CYCLE_MONTHLY, 0), BILL_OK);
    ck_date(r, 2025, 6, 15);
    ck_assert_int_eq(bill_cycle_next_due(&r, D(2025, 6, 15), BILL_CYCLE_INVALID, 1), BILL_EINVALID);
    ck_assert_int_eq(bill_cycle_next_due(&r, D(2025, 6, 15), BILL_CYCLE_MONTHLY, -1), BILL_EINVALID);
    ck_assert_int_eq(bill_cycle_next_due(&r, D(2025, 2, 30), BILL_CYCLE_MONTHLY, 1), BILL_EINVALID);
    ck_assert_int_eq(bill_cycle_next_due(&r, D(9999, 12, 1), BILL_CYCLE_MONTHLY, 1), BILL_ELIMIT);
}
END_TEST

START_TEST(test_time__ten_renewals_do_not_drift)
{
    /* Chained renewals (each from the previous due date) would drift to the
     * 28th after February; computing from the anchor must not. */
    static const int want[10][2] = { { 2, 28 }, { 3, 31 }, { 4, 30 }, { 5, 31 }, { 6, 30 },
                                     { 7, 31 }, { 8, 31 }, { 9, 30 }, { 10, 31 }, { 11, 30 } };
    bill_date a = D(2026, 1, 31), r, chained = a;
    for (int k = 1; k <= 10; k++) {
        ck_assert_int_eq(bill_cycle_next_due(&r, a, BILL_CYCLE_MONTHLY, k), BILL_OK);
        ck_date(r, 2026, want[k - 1][0], want[k - 1][1]);
        ck_assert_int_eq(bill_date_add_months(&chained, chained, 1), BILL_OK);
    }
    ck_date(chained, 2026, 11, 28); /* the drift the anchor rule avoids */
}
END_TEST

START_TEST(test_time__cycle_names)
{
    bill_cycle c = BILL_CYCLE_INVALID;
    ck_assert_int_eq(bill_cycle_parse("monthly", &c), BILL_OK);
    ck_assert_int_eq(c, BILL_CYCLE_MONTHLY);
    ck_assert_int_eq(bill_cycle_parse("quarterly", &c), BILL_OK);
    ck_assert_int_eq(bill_cycle_months(c), 3);
    ck_assert_int_eq(bill_cycle_parse("yearly", &c), BILL_OK);
    ck_assert_int_eq(bill_cycle_months(c), 12);
    ck_assert_str_eq(bill_cycle_name(c), "yearly");
    ck_assert_int_eq(bill_cycle_parse("weekly", &c), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "billing_cycle");
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "\"weekly\""));
    ck_assert_int_eq(bill_cycle_parse("Monthly", &c), BILL_EINVALID);
    ck_assert_int_eq(bill_cycle_parse(NULL, &c), BILL_EINVALID);
    ck_assert_ptr_null(bill_cycle_name(BILL_CYCLE_INVALID));
    ck_assert_int_eq(bill_cycle_months((bill_cycle)9), 0);
}
END_TEST

START_TEST(test_time__date_parse_format)
{
    bill_date d;
    char b[BILL_DATE_BUFSZ];
    ck_assert_int_eq(bill_date_parse("2024-02-29", &d), BILL_OK);
    ck_date(d, 2024, 2, 29);
    ck_assert_int_eq(bill_date_format(d, b), BILL_OK);
    ck_assert_str_eq(b, "2024-02-29");
    ck_assert_int_eq(bill_date_parse("2025-02-29", &d), BILL_EINVALID);
    ck_assert_int_eq(bill_date_parse("2025-2-1", &d), BILL_EINVALID);
    ck_assert_int_eq(bill_date_parse("2025-02-01x", &d), BILL_EINVALID);
    ck_assert_int_eq(bill_date_parse("", &d), BILL_EINVALID);
    ck_assert_int_eq(bill_date_parse("0000-01-01", &d), BILL_EINVALID);
    ck_assert_int_eq(bill_date_format(D(2025, 4, 31), b), BILL_EINVALID);
    ck_assert_str_eq(b, "");
}
END_TEST

START_TEST(test_time__date_days_and_instants)
{
    bill_date r;
    int64_t t;
    ck_assert_int_eq(bill_date_add_days(&r, D(2024, 2, 28), 1), BILL_OK);
    ck_date(r, 2024, 2, 29);
    ck_assert_int_eq(bill_date_add_days(&r, D(2024, 12, 31), 1), BILL_OK);
    ck_date(r, 2025, 1, 1);
    ck_assert_int_eq(bill_date_add_days(&r, D(2025, 3, 1), -1), BILL_OK);
    ck_date(r, 2025, 2, 28);
    ck_assert_int_eq(bill_date_diff_days(D(2024, 1, 1), D(2025, 1, 1)), 366);
    ck_assert_int_eq(bill_date_diff_days(D(2100, 1, 1), D(2101, 1, 1)), 365);
    ck_assert_int_eq(bill_date_to_time(D(1970, 1, 2), &t), BILL_OK);
    ck_assert_int_eq(t, BILL_USEC_PER_DAY);
    ck_assert_int_eq(bill_date_from_time(&r, -1), BILL_OK);
    ck_date(r, 1969, 12, 31);
    ck_assert_int_eq(bill_date_cmp(D(2024, 1, 2), D(2024, 1, 10)) < 0, 1);
    ck_assert_int_eq(bill_date_cmp(D(2024, 1, 2), D(2024, 1, 2)), 0);
}
END_TEST

START_TEST(test_time__rfc3339_round_trip)
{
    char b[BILL_TIME_BUFSZ];
    int64_t t = 0, back = 0;
    ck_assert_int_eq(bill_time_parse_rfc3339("2026-11-22T09:17:31Z", &t), BILL_OK);
    ck_assert_int_eq(t, INT64_C(1795339051) * BILL_USEC_PER_SEC);
    ck_assert_int_eq(bill_time_format_rfc3339(t, b), BILL_OK);
    ck_assert_str_eq(b, "2026-11-22T09:17:31Z");
    ck_assert_int_eq(bill_time_parse_rfc3339(b, &back), BILL_OK);
    ck_assert_int_eq(back, t);
    /* Offsets and fractions normalise to UTC; formatting truncates to seconds. */
    ck_assert_int_eq(bill_time_parse_rfc3339("2026-11-22T17:17:31.5+08:00", &back), BILL_OK);
    ck_assert_int_eq(back, t + 500000);
    bill_time_format_rfc3339(back, b);
    ck_assert_str_eq(b, "2026-11-22T09:17:31Z");
    bill_time_format_rfc3339_ms(back, b);
    ck_assert_str_eq(b, "2026-11-22T09:17:31.500Z");
    ck_assert_int_eq(bill_time_parse_rfc3339("2026-11-22t04:47:31.123456789-04:30", &back), BILL_OK);
    ck_assert_int_eq(back, t + 123456);
    ck_assert_int_eq(bill_time_parse_rfc3339("2026-11-22 09:17:31z", &back), BILL_OK);
    ck_assert_int_eq(back, t);
    /* Pre-epoch and far dates. */
    ck_assert_int_eq(bill_time_parse_rfc3339("1969-12-31T23:59:59Z", &back), BILL_OK);
    ck_assert_int_eq(back, -BILL_USEC_PER_SEC);
    bill_time_format_rfc3339(-1, b);
    ck_assert_str_eq(b, "1969-12-31T23:59:59Z");
    ck_assert_int_eq(bill_time_parse_rfc3339("9999-12-31T23:59:59Z", &back), BILL_OK);
    bill_time_format_rfc3339(back, b);
    ck_assert_str_eq(b, "9999-12-31T23:59:59Z");
    ck_assert_int_eq(bill_time_format_rfc3339(back + BILL_USEC_PER_SEC, b), BILL_EINVALID);
    /* zero-padded small years and milliseconds */
    ck_assert_int_eq(bill_time_parse_rfc3339("0001-01-02T03:04:05.006Z", &back), BILL_OK);
    ck_assert_int_eq(bill_time_format_rfc3339_ms(back, b), BILL_OK);
    ck_assert_str_eq(b, "0001-01-02T03:04:05.006Z");
    /* A walk over many instants round-trips exactly at second precision. */
    for (int64_t s = -5000000000LL; s < 5000000000LL; s += 7777777) {
        ck_assert_int_eq(bill_time_format_rfc3339(s * BILL_USEC_PER_SEC, b), BILL_OK);
        ck_assert_int_eq(bill_time_parse_rfc3339(b, &back), BILL_OK);
        ck_assert_int_eq(back, s * BILL_USEC_PER_SEC);
    }
}
END_TEST

START_TEST(test_time__rfc3339_rejects)
{
    int64_t t = 99;
    static const char *const badv[] = {
        "", "2026-11-22", "2026-11-22T09:17:31", "2026-11-22T09:17Z", "2026-02-30T00:00:00Z",
        "2026-11-22T24:00:00Z", "2026-11-22T23:59:60Z", "2026-11-22T09:17:31.Z",
        "2026-11-22T09:17:31.1234567890Z", "2026-11-22T09:17:31+0800", "2026-11-22T09:17:31+24:00",
        "2026-11-22T09:17:31Z ", " 2026-11-22T09:17:31Z", "26-11-22T09:17:31Z", "2026/11/22T09:17:31Z",
    };
    for (size_t i = 0; i < sizeof badv / sizeof badv[0]; i++) {
        ck_assert_msg(bill_time_parse_rfc3339(badv[i], &t) == BILL_EINVALID, "accepted \"%s\"", badv[i]);
        ck_assert_str_eq(bill_error_last()->field, "timestamp");
    }
    ck_assert_int_eq(t, 99);
}
END_TEST

START_TEST(test_time__parse_pg_timestamptz)
{
    int64_t base = INT64_C(1795339051) * BILL_USEC_PER_SEC, t = 0;
    ck_assert_int_eq(bill_time_parse_pg("2026-11-22 09:17:31+00", &t), BILL_OK);
    ck_assert_int_eq(t, base);
    ck_assert_int_eq(bill_time_parse_pg("2026-11-22 09:17:31.123456+00", &t), BILL_OK);
    ck_assert_int_eq(t, base + 123456);
    ck_assert_int_eq(bill_time_parse_pg("2026-11-22 14:47:31+05:30", &t), BILL_OK);
    ck_assert_int_eq(t, base);
    ck_assert_int_eq(bill_time_parse_pg("2026-11-22 09:17:41+00:00:10", &t), BILL_OK);
    ck_assert_int_eq(t, base);
    ck_assert_int_eq(bill_time_parse_pg("2026-11-22T09:17:31Z", &t), BILL_OK);
    ck_assert_int_eq(t, base);
    ck_assert_int_eq(bill_time_parse_pg("2026-11-22 09:17:31", &t), BILL_EINVALID);
    ck_assert_int_eq(bill_time_parse_pg("2026-11-22 09:17:31+0", &t), BILL_EINVALID);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "PostgreSQL"));
    /* The wire parser stays strict about the hour-only offset. */
    ck_assert_int_eq(bill_time_parse_rfc3339("2026-11-22 09:17:31+00", &t), BILL_EINVALID);
}
END_TEST

static int64_t fake_clock(void *user)
{
    return *(int64_t *)user;
}

START_TEST(test_time__injectable_clock)
{
    int64_t fake = INT64_C(1795339051) * BILL_USEC_PER_SEC, real;
    char b[BILL_TIME_BUFSZ];
    bill_clock_set(fake_clock, &fake);
    ck_assert_int_eq(bill_time_now(), fake);
    fake += 86400 * BILL_USEC_PER_SEC;
    bill_time_format_rfc3339(bill_time_now(), b);
    ck_assert_str_eq(b, "2026-11-23T09:17:31Z");
    bill_clock_set(NULL, NULL);
    real = bill_time_now();
    /* Real clock: after 2024 and not the fake value. */
    ck_assert(real > INT64_C(1704067200) * BILL_USEC_PER_SEC);
    ck_assert(real != fake);
}
END_TEST

BILL_TEST_MAIN("time", 0, NULL, NULL,
               test_time__jan31_series_keeps_anchor_day, test_time__leap_years,
               test_time__quarterly_and_yearly, test_time__ten_renewals_do_not_drift,
               test_time__cycle_names, test_time__date_parse_format,
               test_time__date_days_and_instants, test_time__rfc3339_round_trip,
               test_time__rfc3339_rejects, test_time__injectable_clock,
               test_time__parse_pg_timestamptz);
