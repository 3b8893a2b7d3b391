/*
 * fuzz_bytes.h — what the fuzz targets do with raw input bytes
 * (header-only; every target may include it).
 */
#ifndef BILL_FUZZ_BYTES_H
#define BILL_FUZZ_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The n bytes at p as a malloc'd C string (a C caller sees it up to its
 * first NUL); aborts when out of memory. */
static inline char *fuzz_cstr(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        abort();
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

#endif
