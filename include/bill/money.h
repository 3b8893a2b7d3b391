/*
 * money.h — exact money values: bill_money is a signed number of cents.
 *
 * The database stores money as NUMERIC(12,2), so every amount that may reach
 * a table lies within ±9 999 999 999.99 (BILL_MONEY_MAX cents). Parsing and
 * the checked arithmetic below enforce that range; there is no floating point
 * anywhere on the money path. Rounding is half-to-even at cents.
 *
 * Accepted text (bill_money_parse):
 *     [-] DIGITS [ "." D [ D ] ]         e.g. "12", "12.5", "12.50", "-3.00"
 * Rejected, each with BILL_EINVALID and a message naming value and reason:
 *     "" / NULL, surrounding or inner whitespace (" 12"), letters ("abc"),
 *     exponents ("1e3"), a dot without digits on either side ("12.", ".5"),
 *     more than two decimals ("1.234" — we never round silently on input),
 *     thousands separators ("1,000"), a lone sign ("-"), a leading plus
 *     ("+5"), a negative zero ("-0", "-0.00"), an embedded NUL (the C string
 *     ends there, so callers holding a length check it: see bill_text_check).
 * Values beyond NUMERIC(12,2) fail with BILL_ELIMIT. Leading zeros ("007.5")
 * are accepted, as PostgreSQL accepts them. Ratios (bill_money_mul_ratio)
 * follow the same grammar.
 */
#ifndef BILL_MONEY_H
#define BILL_MONEY_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef int64_t bill_money; /* cents */

/* Largest magnitude NUMERIC(12,2) can hold, in cents: 9999999999.99. */
#define BILL_MONEY_MAX INT64_C(999999999999)
/* Enough for any int64 formatted as money ("-92233720368547758.08") + NUL. */
#define BILL_MONEY_BUFSZ 24

/* Parse `s` into cents (grammar above). Errors name field "amount". */
BILL_API int bill_money_parse(const char *s, bill_money *out);
/* Same, naming `field` (e.g. "price", "balance") in the error detail. */
BILL_API int bill_money_parse_field(const char *s, const char *field, bill_money *out);

/* Always two decimals, '.' separator, no grouping: "-0.05", "1234.50".
 * Returns `buf` so it can be used inline in printf arguments. */
BILL_API char *bill_money_format(bill_money amount, char buf[BILL_MONEY_BUFSZ]);

/* true when |amount| <= BILL_MONEY_MAX (fits NUMERIC(12,2)). */
BILL_API bool bill_money_in_range(bill_money amount);

/* a + b / a - b; BILL_ELIMIT when an operand or the result leaves the
 * NUMERIC(12,2) range (out untouched then). */
BILL_API int bill_money_add_checked(bill_money a, bill_money b, bill_money *out);
BILL_API int bill_money_sub_checked(bill_money a, bill_money b, bill_money *out);

/* amount × ratio, where ratio is a decimal string "[+|-]DIGITS[.DIGITS]"
 * with at most 9 decimals and at most 9 integer digits ("1.25", "0.333333",
 * "2"). Computed exactly in 128-bit integers and rounded half-to-even to cents:
 * 1.00 × "0.125" = 0.12, 1.00 × "0.135" = 0.14, -1.00 × "0.125" = -0.12.
 * BILL_EINVALID for a malformed ratio (field "ratio"); BILL_ELIMIT when the
 * amount or the result leaves the NUMERIC(12,2) range. */
BILL_API int bill_money_mul_ratio(bill_money amount, const char *ratio, bill_money *out);

#ifdef __cplusplus
}
#endif
#endif
