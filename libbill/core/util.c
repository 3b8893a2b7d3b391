/*
 * util.c — tiny string/allocation helpers used across the library.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *bill__strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

char *bill__strndup(const char *s, size_t n)
{
    return s ? strndup(s, n) : NULL;
}

char *bill__sprintf(const char *fmt, ...)
{
    va_list ap;
    char *out = NULL;
    va_start(ap, fmt);
    if (vasprintf(&out, fmt, ap) < 0)
        out = NULL;
    va_end(ap);
    return out;
}

void bill__free_str(char **p)
{
    if (p) {
        free(*p);
        *p = NULL;
    }
}
