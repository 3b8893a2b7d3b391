/*
 * fuzz_money.c — libFuzzer target for money text handling. Besides "no
 * crash / no UB", it checks the properties the rest of the library relies on:
 * an accepted amount is in the NUMERIC(12,2) range and survives
 * format -> parse unchanged; ratio multiplication never returns an
 * out-of-range value.
 */
#include <bill/bill.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), *ratio;
    char buf[BILL_MONEY_BUFSZ];
    bill_money v = 0, back = 0, r = 0;

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (bill_money_parse(s, &v) == BILL_OK) {
        if (!bill_money_in_range(v))
            abort();
        if (bill_money_parse(bill_money_format(v, buf), &back) != BILL_OK || back != v)
            abort();
    }
    /* Split at the first '*' into amount and ratio: "12.50*1.333333". */
    ratio = strchr(s, '*');
    if (ratio) {
        *ratio++ = '\0';
        if (bill_money_parse(s, &v) == BILL_OK && bill_money_mul_ratio(v, ratio, &r) == BILL_OK &&
            !bill_money_in_range(r))
            abort();
    }
    free(s);
    return 0;
}
