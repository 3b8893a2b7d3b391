/*
 * fuzz_redis_url.c — libFuzzer target for the [redis] url parser
 * (bill_redis_url_check: the text comes from config files and
 * REDIS_URL_FILE). The input is the URL (NUL-terminated copy). Any
 * outcome is fine except a crash, a leak or a sanitizer report.
 */
#include "bill/redis.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    (void)bill_redis_url_check(s);
    free(s);
    return 0;
}
