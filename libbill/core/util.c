/*
 * util.c — tiny string/allocation helpers used across the library.
 */
#include "internal.h"

#include <sodium.h>
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

void bill__free_secret(char *s)
{
    if (!s)
        return;
    sodium_memzero(s, strlen(s));
    free(s);
}

void bill__free_n(void *const *ptrs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ptrs[i]);
}

void bill__free_str(char **p)
{
    if (p) {
        free(*p);
        *p = NULL;
    }
}

int bill__json_text_check(const char *text, const char *field)
{
    if (!text)
        return BILL_OK;
    /* Outside strings a backslash is invalid JSON anyway (the parser
     * refuses it), so pairs can be skipped without tracking quotes. */
    for (const char *p = text; *p; p++) {
        if (*p != '\\')
            continue;
        if (p[1] == 'u' && p[2] == '0' && p[3] == '0' && p[4] == '0' && p[5] == '0')
            return bill__err(BILL_EINVALID, field,
                             "%s contains a NUL character (\\u0000), which is not allowed",
                             field);
        if (p[1])
            p++;
    }
    return BILL_OK;
}

int bill__check_version(unsigned int version, unsigned int max, const char *type)
{
    if (version == 0)
        return bill__err(BILL_EINVALID, "version",
                         "%s.version is 0; set it to the header's version constant", type);
    if (version > max)
        return bill__err(BILL_EINVALID, "version",
                         "%s version %u is newer than this libbill (it knows 1..%u)", type,
                         version, max);
    return BILL_OK;
}
