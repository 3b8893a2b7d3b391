/*
 * internal.h — private helpers shared across libbill's source files.
 * Never installed; frontends and plugins must not include it.
 *
 * Naming: cross-file internals are bill__<thing>; exported API is bill_<thing>.
 */
#ifndef BILL_INTERNAL_H
#define BILL_INTERNAL_H

#include "bill/bill.h"
#include <stdarg.h>

/* ---- error detail (core/error.c) ---------------------------------------- */

/* Record a failure on this thread and return `code` so callers can write
 *     return bill__err(BILL_EINVALID, "amount", "amount \"%s\" has more than two decimals", s);
 * `field` may be NULL. The message is formatted with printf rules. */
int bill__err(int code, const char *field, const char *fmt, ...) BILL_PRINTF(3, 4);
int bill__verr(int code, const char *field, const char *fmt, va_list ap) BILL_PRINTF(3, 0);
/* Same, also recording a SQLSTATE (may be NULL). */
int bill__err_sql(int code, const char *sqlstate, const char *fmt, ...) BILL_PRINTF(3, 4);
/* Prefix the current thread's message with "<ctx>: " (keeps code/field). */
void bill__err_prefix(const char *fmt, ...) BILL_PRINTF(1, 2);

/* ---- small allocation helpers (core/util.c) ----------------------------- */

char *bill__strdup(const char *s);              /* NULL-safe: NULL -> NULL */
char *bill__strndup(const char *s, size_t n);
char *bill__sprintf(const char *fmt, ...) BILL_PRINTF(1, 2); /* NULL on OOM */
void bill__free_str(char **p);                  /* free *p and set NULL */
void bill__free_secret(char *s);                /* zero a NUL-terminated secret, then free; NULL-safe */
/* free() each of n pointers; BILL__FREE(a, b, ...) for a list of them. */
void bill__free_n(void *const *ptrs, size_t n);
#define BILL__FREE(...)                                                         \
    bill__free_n((void *const[]){__VA_ARGS__},                                 \
                 sizeof((void *const[]){__VA_ARGS__}) / sizeof(void *))

/* A caller's versioned struct (common.h): BILL_OK when 1 <= version <= max,
 * else BILL_EINVALID naming "version" and the struct type. */
int bill__check_version(unsigned int version, unsigned int max, const char *type);
/* Same for an optional struct pointer: NULL passes. */
#define BILL__CHECK_VERSION(s, max, type) ((s) ? bill__check_version((s)->version, (max), (type)) : 0)

/* ---- growable byte buffer (core/buf.c) ---------------------------------- */

/* Contents are NUL-terminated once anything was added (p may be NULL while
 * empty without initial storage). Failure is sticky (see buf.c). */
typedef struct bill__buf {
    char *p;
    size_t len, cap;
    size_t max;   /* largest len allowed; 0 = no limit */
    bool heap;    /* p is malloc'd (not the initial storage) */
    bool oom;     /* an allocation failed */
    bool too_big; /* an append would have passed max */
} bill__buf;

/* storage/size: optional initial space (e.g. a stack array); max 0 = none. */
void bill__buf_init(bill__buf *b, char *storage, size_t size, size_t max);
bool bill__buf_add(bill__buf *b, const void *s, size_t n);
bool bill__buf_puts(bill__buf *b, const char *s);
/* No append failed so far. */
bool bill__buf_ok(const bill__buf *b);
/* The contents as a malloc'd string the caller owns ("" when empty), NULL
 * when an append failed or on out of memory; the buffer is reset. */
char *bill__buf_steal(bill__buf *b);
void bill__buf_free(bill__buf *b);

#define BILL__ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- text from outside (core/util.c) ------------------------------------ */

/* JSON text from outside (specs, plugin configs) must not smuggle a NUL in
 * through the \u0000 escape: json-c keeps it, and every C string read from
 * the parsed document ends there ("monthly\u0000x" would read "monthly").
 * BILL_OK, or BILL_EINVALID naming `field`. Call before json_tokener_parse. */
int bill__json_text_check(const char *text, const char *field);

#endif
