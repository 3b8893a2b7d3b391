/*
 * time.h — wall-clock time, RFC 3339 text, calendar dates and billing cycles.
 *
 * Instants are int64 microseconds since 1970-01-01T00:00:00Z (UTC inside,
 * always). The clock is injectable so tests can move time: every part of the
 * library that needs "now" calls bill_time_now(), never time()/clock_gettime().
 *
 * Billing cycles keep the anniversary day: due dates are computed
 * from the ANCHOR date, never from the previous due date, so a Jan 31 anchor
 * gives Feb 28 (29 in leap years), Mar 31, Apr 30, May 31 … and never drifts
 * to the 28th.
 */
#ifndef BILL_TIME_H
#define BILL_TIME_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BILL_USEC_PER_SEC INT64_C(1000000)
#define BILL_USEC_PER_DAY (INT64_C(86400) * BILL_USEC_PER_SEC)

/* "2026-11-22T09:17:31Z" + NUL needs 21; room left for offsets/fractions. */
#define BILL_TIME_BUFSZ 40
/* "YYYY-MM-DD" + NUL. */
#define BILL_DATE_BUFSZ 11

/* ---- clock ------------------------------------------------------------- */

/* A clock returns microseconds since the epoch, UTC. */
typedef int64_t (*bill_clock_fn)(void *user);

/* Current time from the installed clock (the real one by default). */
BILL_API int64_t bill_time_now(void);
/* Install a clock for the whole process (tests). fn NULL restores the real
 * clock. Thread-safe; `user` is passed to every fn call and must outlive it. */
BILL_API void bill_clock_set(bill_clock_fn fn, void *user);

/* ---- RFC 3339 ---------------------------------------------------------- */

/* UTC, seconds precision (fraction truncated): "2026-11-22T09:17:31Z".
 * BILL_EINVALID (buf "") for instants outside years 0001..9999. */
BILL_API int bill_time_format_rfc3339(int64_t usec, char buf[BILL_TIME_BUFSZ]);
/* Same with milliseconds: "2026-11-23T20:00:00.123Z" (log lines). */
BILL_API int bill_time_format_rfc3339_ms(int64_t usec, char buf[BILL_TIME_BUFSZ]);
/* Parse "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)". 'T' may be 't' or a
 * space, 'Z' may be 'z'. The fraction may have 1..9 digits; digits beyond
 * microseconds are truncated. Leap seconds (:60) are rejected. Errors name
 * field "timestamp". */
BILL_API int bill_time_parse_rfc3339(const char *s, int64_t *out);
/* PostgreSQL's text output of timestamptz (DateStyle ISO), e.g.
 * "2026-11-22 09:17:31.123456+00" or "...+05:30": everything
 * bill_time_parse_rfc3339 accepts, plus offsets written ±hh or ±hh:mm:ss.
 * Use it for values read back from the database, never for wire input. */
BILL_API int bill_time_parse_pg(const char *s, int64_t *out);

/* ---- calendar dates ---------------------------------------------------- */

typedef struct bill_date {
    int y; /* 1..9999 */
    int m; /* 1..12 */
    int d; /* 1..days in month */
} bill_date;

BILL_API bool bill_date_is_leap(int year);
/* Days in month m of year y; 0 when m is not 1..12. */
BILL_API int bill_date_days_in_month(int y, int m);
BILL_API bool bill_date_valid(bill_date d);
/* <0, 0, >0 like strcmp. */
BILL_API int bill_date_cmp(bill_date a, bill_date b);

/* "YYYY-MM-DD" exactly (a real date). Errors name field "date". */
BILL_API int bill_date_parse(const char *s, bill_date *out);
/* "YYYY-MM-DD"; BILL_EINVALID (buf "") for an invalid date. */
BILL_API int bill_date_format(bill_date d, char buf[BILL_DATE_BUFSZ]);

/* anchor + months (may be negative), clamping the day to the target month's
 * length: Jan 31 + 1 = Feb 28/29, + 2 = Mar 31, + 3 = Apr 30.
 * BILL_EINVALID for an invalid anchor, BILL_ELIMIT past year 1..9999. */
BILL_API int bill_date_add_months(bill_date *out, bill_date anchor, int months);
/* anchor + days (may be negative). Same errors. */
BILL_API int bill_date_add_days(bill_date *out, bill_date d, int days);
/* b - a in days. */
BILL_API int64_t bill_date_diff_days(bill_date a, bill_date b);

/* Calendar date (UTC) of an instant, and midnight UTC of a date. */
BILL_API int bill_date_from_time(bill_date *out, int64_t usec);
BILL_API int bill_date_to_time(bill_date d, int64_t *out_usec);

/* ---- billing cycles ---------------------------------------------------- */

typedef enum {
    BILL_CYCLE_INVALID = 0,
    BILL_CYCLE_MONTHLY = 1,
    BILL_CYCLE_QUARTERLY = 2,
    BILL_CYCLE_YEARLY = 3,
} bill_cycle;

/* "monthly" | "quarterly" | "yearly" (exact, lowercase, as on the wire).
 * Errors name field "billing_cycle". */
BILL_API int bill_cycle_parse(const char *s, bill_cycle *out);
/* "monthly"…; NULL for an invalid value. */
BILL_API const char *bill_cycle_name(bill_cycle c);
/* 1, 3, 12; 0 for an invalid value. */
BILL_API int bill_cycle_months(bill_cycle c);

/* The k-th due date after `anchor`: anchor + k × cycle months, always from
 * the anchor (k = 0 gives the anchor). k >= 0. BILL_EINVALID for a bad
 * anchor/cycle/k, BILL_ELIMIT past year 9999. */
BILL_API int bill_cycle_next_due(bill_date *out, bill_date anchor, bill_cycle c, int k);

#ifdef __cplusplus
}
#endif
#endif
