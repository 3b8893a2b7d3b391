/*
 * time.c — the injectable clock, RFC 3339 formatting/parsing, calendar date
 * arithmetic and billing cycles.
 *
 * Date arithmetic goes through a day count since 1970-01-01 (proleptic
 * Gregorian calendar), which makes adding days, comparing and converting
 * instants plain integer work; we never use the C library's timezone-aware
 * functions (mktime, localtime), so the process TZ cannot change a result.
 */
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---- clock ------------------------------------------------------------- */

/* The installed clock is process-wide state owned by this file; the mutex
 * keeps fn/user consistent when a test swaps clocks under running threads. */
static pthread_mutex_t clock_mu = PTHREAD_MUTEX_INITIALIZER;
static bill_clock_fn clock_fn;
static void *clock_user;

static int64_t real_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * BILL_USEC_PER_SEC + ts.tv_nsec / 1000;
}

int64_t bill_time_now(void)
{
    bill_clock_fn fn;
    void *user;
    pthread_mutex_lock(&clock_mu);
    fn = clock_fn;
    user = clock_user;
    pthread_mutex_unlock(&clock_mu);
    return fn ? fn(user) : real_clock();
}

void bill_clock_set(bill_clock_fn fn, void *user)
{
    pthread_mutex_lock(&clock_mu);
    clock_fn = fn;
    clock_user = fn ? user : NULL;
    pthread_mutex_unlock(&clock_mu);
}

/* ---- civil calendar ---------------------------------------------------- */

bool bill_date_is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int bill_date_days_in_month(int y, int m)
{
    static const int len[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (m < 1 || m > 12)
        return 0;
    return (m == 2 && bill_date_is_leap(y)) ? 29 : len[m - 1];
}

bool bill_date_valid(bill_date d)
{
    return d.y >= 1 && d.y <= 9999 && d.m >= 1 && d.m <= 12 && d.d >= 1 &&
           d.d <= bill_date_days_in_month(d.y, d.m);
}

int bill_date_cmp(bill_date a, bill_date b)
{
    if (a.y != b.y)
        return a.y < b.y ? -1 : 1;
    if (a.m != b.m)
        return a.m < b.m ? -1 : 1;
    if (a.d != b.d)
        return a.d < b.d ? -1 : 1;
    return 0;
}

/* Days since 1970-01-01. Counting years from March makes February the last
 * month of a "year", so the leap day never sits inside the month offsets:
 * each 400-year era has exactly 146097 days. */
static int64_t days_from_date(int y, int m, int d)
{
    int64_t yy = (int64_t)y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;                        /* 0..399 */
    int64_t mp = (m + 9) % 12;                           /* March = 0 */
    int64_t doy = (153 * mp + 2) / 5 + d - 1;            /* 0..365 */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* 0..146096 */
    return era * 146097 + doe - 719468;                  /* 719468: 0000-03-01 .. 1970-01-01 */
}

static bill_date date_from_days(int64_t z)
{
    bill_date out;
    int64_t era, doe, yoe, y, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    out.d = (int)(doy - (153 * mp + 2) / 5 + 1);
    out.m = (int)(mp < 10 ? mp + 3 : mp - 9);
    out.y = (int)(y + (out.m <= 2));
    return out;
}

/* Floor division for possibly negative instants. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

/* ---- RFC 3339 ---------------------------------------------------------- */

#define MIN_USEC (days_from_date(1, 1, 1) * BILL_USEC_PER_DAY)
#define MAX_USEC (days_from_date(10000, 1, 1) * BILL_USEC_PER_DAY - 1)

/* Exactly n decimal digits of v (0 <= v < 10^n) at *p. */
static void put_digits(char **p, int v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        (*p)[i] = (char)('0' + v % 10);
        v /= 10;
    }
    *p += n;
}

static int format_common(int64_t usec, char buf[BILL_TIME_BUFSZ], bool ms)
{
    int64_t days, rem;
    bill_date d;
    int hh, mi, ss;

    buf[0] = '\0';
    if (usec < MIN_USEC || usec > MAX_USEC)
        return bill__err(BILL_EINVALID, "timestamp",
                         "timestamp %lld µs is outside years 0001..9999", (long long)usec);
    days = floor_div(usec, BILL_USEC_PER_DAY);
    rem = usec - days * BILL_USEC_PER_DAY;
    d = date_from_days(days);
    hh = (int)(rem / (3600 * BILL_USEC_PER_SEC));
    mi = (int)(rem / (60 * BILL_USEC_PER_SEC) % 60);
    ss = (int)(rem / BILL_USEC_PER_SEC % 60);
    /* "YYYY-MM-DDTHH:MM:SS[.mmm]Z" by hand (years 0001..9999 are checked
     * above): every list answer formats two timestamps per row, and
     * snprintf was a visible share of a page (issue 13). */
    char *p = buf;
    put_digits(&p, d.y, 4);
    *p++ = '-';
    put_digits(&p, d.m, 2);
    *p++ = '-';
    put_digits(&p, d.d, 2);
    *p++ = 'T';
    put_digits(&p, hh, 2);
    *p++ = ':';
    put_digits(&p, mi, 2);
    *p++ = ':';
    put_digits(&p, ss, 2);
    if (ms) {
        *p++ = '.';
        put_digits(&p, (int)(rem % BILL_USEC_PER_SEC / 1000), 3);
    }
    *p++ = 'Z';
    *p = '\0';
    return BILL_OK;
}

int bill_time_format_rfc3339(int64_t usec, char buf[BILL_TIME_BUFSZ])
{
    return format_common(usec, buf, false);
}

int bill_time_format_rfc3339_ms(int64_t usec, char buf[BILL_TIME_BUFSZ])
{
    return format_common(usec, buf, true);
}

/* Read exactly n digits at *p; -1 if any is not a digit. */
static int take_digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    return v;
}

static bool take_char(const char **p, char c)
{
    if (**p != c)
        return false;
    (*p)++;
    return true;
}

/* pg_style additionally accepts PostgreSQL's offset spellings "+00" and
 * "+05:30:15" (it prints minutes/seconds only when non-zero). */
static int parse_timestamp(const char *s, int64_t *out, bool pg_style)
{
    const char *p = s;
    bill_date d;
    int hh, mi, ss, oh = 0, om = 0, os = 0, sign = 0;
    int64_t frac = 0, t;
    const char *why = "expected YYYY-MM-DDTHH:MM:SS[.frac](Z|±hh:mm)";

    if (!s || !out)
        return bill__err(BILL_EINVALID, "timestamp", "timestamp is missing");
    d.y = take_digits(&p, 4);
    if (d.y < 0 || !take_char(&p, '-') || (d.m = take_digits(&p, 2)) < 0 ||
        !take_char(&p, '-') || (d.d = take_digits(&p, 2)) < 0)
        goto bad;
    if (!(take_char(&p, 'T') || take_char(&p, 't') || take_char(&p, ' ')))
        goto bad;
    if ((hh = take_digits(&p, 2)) < 0 || !take_char(&p, ':') || (mi = take_digits(&p, 2)) < 0 ||
        !take_char(&p, ':') || (ss = take_digits(&p, 2)) < 0)
        goto bad;
    if (take_char(&p, '.')) {
        int n = 0;
        while (*p >= '0' && *p <= '9') {
            if (n < 6)
                frac = frac * 10 + (*p - '0');
            n++;
            p++;
        }
        if (n == 0 || n > 9) {
            why = "the fraction of a second must have 1 to 9 digits";
            goto bad;
        }
        for (; n < 6; n++)
            frac *= 10;
    }
    if (take_char(&p, 'Z') || take_char(&p, 'z')) {
        sign = 0;
    } else if (*p == '+' || *p == '-') {
        sign = (*p == '-') ? -1 : 1;
        p++;
        if ((oh = take_digits(&p, 2)) < 0)
            goto bad;
        if (pg_style && *p != ':') {
            om = 0;
        } else if (!take_char(&p, ':') || (om = take_digits(&p, 2)) < 0) {
            goto bad;
        } else if (pg_style && take_char(&p, ':') && (os = take_digits(&p, 2)) < 0) {
            goto bad;
        }
        if (oh > 23 || om > 59 || os > 59) {
            why = "the UTC offset is out of range";
            goto bad;
        }
    } else {
        why = "a UTC offset (Z or ±hh:mm) is required";
        goto bad;
    }
    if (*p != '\0') {
        why = "unexpected characters after the timestamp";
        goto bad;
    }
    if (!bill_date_valid(d)) {
        why = "no such calendar date";
        goto bad;
    }
    if (hh > 23 || mi > 59 || ss > 59) {
        why = "the time of day is out of range (leap seconds are not accepted)";
        goto bad;
    }
    t = days_from_date(d.y, d.m, d.d) * 86400 + hh * 3600 + mi * 60 + ss;
    t -= (int64_t)sign * (oh * 3600 + om * 60 + os);
    *out = t * BILL_USEC_PER_SEC + frac;
    return BILL_OK;
bad:
    return bill__err(BILL_EINVALID, "timestamp", "timestamp \"%.48s\" is not %s: %s", s,
                     pg_style ? "a PostgreSQL timestamptz" : "RFC 3339", why);
}

int bill_time_parse_rfc3339(const char *s, int64_t *out)
{
    return parse_timestamp(s, out, false);
}

int bill_time_parse_pg(const char *s, int64_t *out)
{
    return parse_timestamp(s, out, true);
}

/* ---- dates ------------------------------------------------------------- */

int bill_date_parse(const char *s, bill_date *out)
{
    const char *p = s;
    bill_date d;
    if (!s || !out)
        return bill__err(BILL_EINVALID, "date", "date is missing");
    d.y = take_digits(&p, 4);
    if (d.y < 0 || !take_char(&p, '-') || (d.m = take_digits(&p, 2)) < 0 ||
        !take_char(&p, '-') || (d.d = take_digits(&p, 2)) < 0 || *p != '\0')
        return bill__err(BILL_EINVALID, "date", "date \"%.32s\" is not in YYYY-MM-DD form", s);
    if (!bill_date_valid(d))
        return bill__err(BILL_EINVALID, "date", "date \"%.32s\" is not a calendar date", s);
    *out = d;
    return BILL_OK;
}

int bill_date_format(bill_date d, char buf[BILL_DATE_BUFSZ])
{
    buf[0] = '\0';
    if (!bill_date_valid(d))
        return bill__err(BILL_EINVALID, "date", "date %d-%d-%d is not a calendar date", d.y, d.m, d.d);
    snprintf(buf, BILL_DATE_BUFSZ, "%04d-%02d-%02d", d.y, d.m, d.d);
    return BILL_OK;
}

int bill_date_add_months(bill_date *out, bill_date anchor, int months)
{
    int64_t idx; /* months since year 0, January */
    bill_date r;
    int dim;

    if (!out)
        return bill__err(BILL_EINVALID, "date", "date: output pointer is NULL");
    if (!bill_date_valid(anchor))
        return bill__err(BILL_EINVALID, "date", "date %d-%d-%d is not a calendar date",
                         anchor.y, anchor.m, anchor.d);
    idx = (int64_t)anchor.y * 12 + (anchor.m - 1) + months;
    if (idx < 12 || idx >= (int64_t)10000 * 12)
        return bill__err(BILL_ELIMIT, "date", "%04d-%02d-%02d %+d months leaves years 1..9999",
                         anchor.y, anchor.m, anchor.d, months);
    r.y = (int)(idx / 12);
    r.m = (int)(idx % 12) + 1;
    dim = bill_date_days_in_month(r.y, r.m);
    r.d = anchor.d > dim ? dim : anchor.d; /* clamp: Jan 31 + 1 month = Feb 28/29 */
    *out = r;
    return BILL_OK;
}

int bill_date_add_days(bill_date *out, bill_date d, int days)
{
    bill_date r;
    if (!out)
        return bill__err(BILL_EINVALID, "date", "date: output pointer is NULL");
    if (!bill_date_valid(d))
        return bill__err(BILL_EINVALID, "date", "date %d-%d-%d is not a calendar date", d.y, d.m, d.d);
    r = date_from_days(days_from_date(d.y, d.m, d.d) + days);
    if (!bill_date_valid(r))
        return bill__err(BILL_ELIMIT, "date", "%04d-%02d-%02d %+d days leaves years 1..9999",
                         d.y, d.m, d.d, days);
    *out = r;
    return BILL_OK;
}

int64_t bill_date_diff_days(bill_date a, bill_date b)
{
    return days_from_date(b.y, b.m, b.d) - days_from_date(a.y, a.m, a.d);
}

int bill_date_from_time(bill_date *out, int64_t usec)
{
    if (!out)
        return bill__err(BILL_EINVALID, "date", "date: output pointer is NULL");
    if (usec < MIN_USEC || usec > MAX_USEC)
        return bill__err(BILL_EINVALID, "timestamp",
                         "timestamp %lld µs is outside years 0001..9999", (long long)usec);
    *out = date_from_days(floor_div(usec, BILL_USEC_PER_DAY));
    return BILL_OK;
}

int bill_date_to_time(bill_date d, int64_t *out_usec)
{
    if (!out_usec)
        return bill__err(BILL_EINVALID, "date", "date: output pointer is NULL");
    if (!bill_date_valid(d))
        return bill__err(BILL_EINVALID, "date", "date %d-%d-%d is not a calendar date", d.y, d.m, d.d);
    *out_usec = days_from_date(d.y, d.m, d.d) * BILL_USEC_PER_DAY;
    return BILL_OK;
}

/* ---- billing cycles ---------------------------------------------------- */

static const struct {
    bill_cycle c;
    const char *name;
    int months;
} cycles[] = {
    { BILL_CYCLE_MONTHLY, "monthly", 1 },
    { BILL_CYCLE_QUARTERLY, "quarterly", 3 },
    { BILL_CYCLE_YEARLY, "yearly", 12 },
};

int bill_cycle_parse(const char *s, bill_cycle *out)
{
    if (!out)
        return bill__err(BILL_EINVALID, "billing_cycle", "billing_cycle: output pointer is NULL");
    for (size_t i = 0; s && i < BILL__ARRAY_LEN(cycles); i++) {
        if (strcmp(s, cycles[i].name) == 0) {
            *out = cycles[i].c;
            return BILL_OK;
        }
    }
    return bill__err(BILL_EINVALID, "billing_cycle",
                     "billing_cycle \"%.32s\" is not one of monthly, quarterly, yearly",
                     s ? s : "(null)");
}

const char *bill_cycle_name(bill_cycle c)
{
    for (size_t i = 0; i < BILL__ARRAY_LEN(cycles); i++)
        if (cycles[i].c == c)
            return cycles[i].name;
    return NULL;
}

int bill_cycle_months(bill_cycle c)
{
    for (size_t i = 0; i < BILL__ARRAY_LEN(cycles); i++)
        if (cycles[i].c == c)
            return cycles[i].months;
    return 0;
}

int bill_cycle_next_due(bill_date *out, bill_date anchor, bill_cycle c, int k)
{
    int m = bill_cycle_months(c);
    if (m == 0)
        return bill__err(BILL_EINVALID, "billing_cycle", "billing cycle %d is not valid", (int)c);
    if (k < 0)
        return bill__err(BILL_EINVALID, "cycle_index", "cycle index %d is negative", k);
    if (k > 10000 * 12)
        return bill__err(BILL_ELIMIT, "cycle_index", "cycle index %d is too large", k);
    return bill_date_add_months(out, anchor, m * k);
}
