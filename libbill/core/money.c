/*
 * money.c — parsing, formatting and checked arithmetic for bill_money
 * (int64 cents). The grammar and the accepted range are documented in
 * include/bill/money.h; this file is the only place amounts become text or
 * text becomes amounts, so every frontend rounds and rejects identically.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* Longest input we echo back in an error message; longer values are cut so a
 * hostile megabyte string does not end up in logs. */
#define ECHO_MAX 40

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Shared by money and ratio parsing: [-] INT [ "." FRAC ]. On success sets
 * the sign, the position/length of the integer and fraction digit runs.
 * Returns a static reason string on failure, NULL on success. A leading '+'
 * and a negative zero ("-0", "-0.00") are refused: each is a second spelling
 * of a value that already has one, and a sign the user typed by mistake must
 * not pass silently (the CLI's "+5" meant nothing the ledger could record). */
typedef struct {
    bool neg;
    const char *ip;
    size_t ilen;
    const char *fp;
    size_t flen;
} decimal_parts;

static const char *split_decimal(const char *s, decimal_parts *p)
{
    const char *c = s;
    memset(p, 0, sizeof *p);
    if (*c == '\0')
        return "it is empty";
    if (*c == '+')
        return "a leading '+' is not accepted (write the number without a sign)";
    if (*c == '-') {
        p->neg = true;
        c++;
    }
    p->ip = c;
    while (is_digit(*c))
        c++;
    p->ilen = (size_t)(c - p->ip);
    if (*c == '.') {
        c++;
        p->fp = c;
        while (is_digit(*c))
            c++;
        p->flen = (size_t)(c - p->fp);
        if (p->ilen == 0)
            return "it needs a digit before the decimal point";
        if (p->flen == 0)
            return "it needs a digit after the decimal point";
    }
    if (*c != '\0') {
        if (*c == ' ' || *c == '\t' || *c == '\n' || *c == '\r')
            return "it contains whitespace";
        if (*c == 'e' || *c == 'E')
            return "exponent notation is not accepted";
        if (*c == ',')
            return "thousands separators are not accepted";
        return "it is not a decimal number";
    }
    if (p->ilen == 0)
        return "it has no digits";
    if (p->neg) {
        bool zero = true;
        for (size_t i = 0; i < p->ilen; i++)
            zero = zero && p->ip[i] == '0';
        for (size_t i = 0; i < p->flen; i++)
            zero = zero && p->fp[i] == '0';
        if (zero)
            return "negative zero is not accepted (write 0)";
    }
    return NULL;
}

int bill_money_parse_field(const char *s, const char *field, bill_money *out)
{
    decimal_parts p;
    const char *why;
    int64_t v = 0;
    size_t i;

    if (!field || !*field)
        field = "amount";
    if (!out)
        return bill__err(BILL_EINVALID, field, "%s: output pointer is NULL", field);
    if (!s)
        return bill__err(BILL_EINVALID, field, "%s is missing", field);
    if ((why = split_decimal(s, &p)) != NULL)
        return bill__err(BILL_EINVALID, field, "%s \"%.*s\" is not a valid amount: %s",
                         field, ECHO_MAX, s, why);
    if (p.flen > 2)
        return bill__err(BILL_EINVALID, field,
                         "%s \"%.*s\" has more than two decimals", field, ECHO_MAX, s);
    /* Skip leading zeros so a long run of them cannot trip the range check. */
    while (p.ilen > 1 && p.ip[0] == '0') {
        p.ip++;
        p.ilen--;
    }
    if (p.ilen > 10)
        goto too_big;
    for (i = 0; i < p.ilen; i++)
        v = v * 10 + (p.ip[i] - '0');
    v *= 100;
    if (p.flen >= 1)
        v += (p.fp[0] - '0') * 10;
    if (p.flen == 2)
        v += p.fp[1] - '0';
    if (v > BILL_MONEY_MAX)
        goto too_big;
    *out = p.neg ? -v : v;
    return BILL_OK;
too_big:
    return bill__err(BILL_ELIMIT, field,
                     "%s \"%.*s\" is out of range (at most 9999999999.99 in magnitude)",
                     field, ECHO_MAX, s);
}

int bill_money_parse(const char *s, bill_money *out)
{
    return bill_money_parse_field(s, "amount", out);
}

char *bill_money_format(bill_money amount, char buf[BILL_MONEY_BUFSZ])
{
    /* Work on the unsigned magnitude so INT64_MIN formats without overflow. */
    uint64_t mag = amount < 0 ? (uint64_t)0 - (uint64_t)amount : (uint64_t)amount;
    /* Digits by hand, right to left: every list answer formats many
     * amounts, and snprintf was a visible share of a page (issue 13). */
    char tmp[BILL_MONEY_BUFSZ];
    size_t n = sizeof tmp;
    uint64_t units = mag / 100;
    unsigned cents = (unsigned)(mag % 100);
    tmp[--n] = '\0';
    tmp[--n] = (char)('0' + cents % 10);
    tmp[--n] = (char)('0' + cents / 10);
    tmp[--n] = '.';
    do {
        tmp[--n] = (char)('0' + units % 10);
        units /= 10;
    } while (units);
    if (amount < 0)
        tmp[--n] = '-';
    memcpy(buf, tmp + n, sizeof tmp - n);
    return buf;
}

bool bill_money_in_range(bill_money amount)
{
    return amount >= -BILL_MONEY_MAX && amount <= BILL_MONEY_MAX;
}

static int range_err(const char *op, bill_money a, bill_money b)
{
    char fa[BILL_MONEY_BUFSZ], fb[BILL_MONEY_BUFSZ];
    return bill__err(BILL_ELIMIT, "amount",
                     "%s %s %s leaves the money range (at most 9999999999.99 in magnitude)",
                     bill_money_format(a, fa), op, bill_money_format(b, fb));
}

int bill_money_add_checked(bill_money a, bill_money b, bill_money *out)
{
    /* Operands in range means |a + b| < 2^41: no int64 overflow is possible. */
    if (!bill_money_in_range(a) || !bill_money_in_range(b) || !bill_money_in_range(a + b))
        return range_err("+", a, b);
    *out = a + b;
    return BILL_OK;
}

int bill_money_sub_checked(bill_money a, bill_money b, bill_money *out)
{
    if (!bill_money_in_range(a) || !bill_money_in_range(b) || !bill_money_in_range(a - b))
        return range_err("-", a, b);
    *out = a - b;
    return BILL_OK;
}

/* Ratios carry up to 9 decimals: they are scaled to an integer numerator over
 * 10^9, so cents × numerator / 10^9 is exact in 128 bits (|cents| < 2^40,
 * numerator < 10^18 < 2^60). */
#define RATIO_SCALE_DIGITS 9
#define RATIO_SCALE INT64_C(1000000000)

int bill_money_mul_ratio(bill_money amount, const char *ratio, bill_money *out)
{
    decimal_parts p;
    const char *why;
    __int128 num = 0, prod, q, r, twice_r, den = RATIO_SCALE;
    size_t i;
    char fa[BILL_MONEY_BUFSZ];

    if (!out)
        return bill__err(BILL_EINVALID, "ratio", "ratio: output pointer is NULL");
    if (!ratio)
        return bill__err(BILL_EINVALID, "ratio", "ratio is missing");
    if ((why = split_decimal(ratio, &p)) != NULL)
        return bill__err(BILL_EINVALID, "ratio", "ratio \"%.*s\" is not a valid decimal: %s",
                         ECHO_MAX, ratio, why);
    if (p.flen > RATIO_SCALE_DIGITS)
        return bill__err(BILL_EINVALID, "ratio", "ratio \"%.*s\" has more than %d decimals",
                         ECHO_MAX, ratio, RATIO_SCALE_DIGITS);
    while (p.ilen > 1 && p.ip[0] == '0') {
        p.ip++;
        p.ilen--;
    }
    if (p.ilen > 9)
        return bill__err(BILL_ELIMIT, "ratio", "ratio \"%.*s\" is too large (at most 9 integer digits)",
                         ECHO_MAX, ratio);
    if (!bill_money_in_range(amount))
        return bill__err(BILL_ELIMIT, "amount", "amount %s is out of the money range",
                         bill_money_format(amount, fa));
    for (i = 0; i < p.ilen; i++)
        num = num * 10 + (p.ip[i] - '0');
    for (i = 0; i < RATIO_SCALE_DIGITS; i++)
        num = num * 10 + (i < p.flen ? p.fp[i] - '0' : 0);
    if (p.neg)
        num = -num;

    prod = (__int128)amount * num;
    /* C division truncates toward zero; fix up to half-to-even on |r|. */
    q = prod / den;
    r = prod % den;
    twice_r = (r < 0 ? -r : r) * 2;
    if (twice_r > den || (twice_r == den && (q % 2) != 0))
        q += (prod < 0) ? -1 : 1;
    if (q > BILL_MONEY_MAX || q < -BILL_MONEY_MAX)
        return bill__err(BILL_ELIMIT, "amount", "%s × %.*s leaves the money range",
                         bill_money_format(amount, fa), ECHO_MAX, ratio);
    *out = (bill_money)q;
    return BILL_OK;
}
