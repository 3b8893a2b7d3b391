/*
 * buf.c — the one growable byte buffer of libbill (internal.h): log lines,
 * sanitized HTML, plugin HTTP response bodies. It may start in storage the
 * caller provides (a stack array, so short log lines never allocate) and
 * moves to the heap when that is full. Failure is sticky: after an
 * allocation failure or an append past the limit, further appends do
 * nothing and the caller checks once at the end.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bill__buf_init(bill__buf *b, char *storage, size_t size, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max;
    if (storage && size) {
        b->p = storage;
        b->cap = size;
        b->p[0] = '\0';
    }
}

void bill__buf_free(bill__buf *b)
{
    if (b->heap)
        free(b->p);
    memset(b, 0, sizeof *b);
}

bool bill__buf_ok(const bill__buf *b)
{
    return !b->oom && !b->too_big;
}

static bool reserve(bill__buf *b, size_t extra)
{
    size_t need = b->len + extra + 1, cap;
    char *np;

    if (!bill__buf_ok(b))
        return false;
    if (b->max && need > b->max + 1) {
        b->too_big = true;
        return false;
    }
    if (need <= b->cap)
        return true;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    np = b->heap ? realloc(b->p, cap) : malloc(cap);
    if (!np) {
        b->oom = true;
        return false;
    }
    if (!b->heap && b->len)
        memcpy(np, b->p, b->len);
    b->p = np;
    b->cap = cap;
    b->heap = true;
    return true;
}

bool bill__buf_add(bill__buf *b, const void *s, size_t n)
{
    if (!reserve(b, n))
        return false;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return true;
}

bool bill__buf_puts(bill__buf *b, const char *s)
{
    return bill__buf_add(b, s, strlen(s));
}

char *bill__buf_steal(bill__buf *b)
{
    char *out = NULL;
    if (bill__buf_ok(b)) {
        if (b->heap)
            out = b->p;
        else if ((out = malloc(b->len + 1))) {
            if (b->len)
                memcpy(out, b->p, b->len);
            out[b->len] = '\0';
        }
        if (b->heap)
            b->heap = false; /* ownership moved to the caller */
    }
    bill__buf_free(b);
    return out;
}
