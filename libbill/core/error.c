/*
 * error.c — error codes, their translations, and the thread-local detail
 * record behind bill_error_last().
 *
 * The detail lives in fixed thread-local buffers, so recording an error never
 * allocates (it must work when we are out of memory) and needs no cleanup at
 * thread exit. Messages longer than the buffer are truncated, not lost.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    int code;
    char message[768];
    char field[96];
    char sqlstate[8];
    bill_error view;
} error_slot;

static _Thread_local error_slot tls_err;

static const struct {
    int code;
    const char *name;
    int grpc;
    const char *msg;
} error_table[] = {
#define BILL__ROW(name, value, grpc, msg) { value, "BILL_" #name, grpc, msg },
    BILL_ERROR_MAP(BILL__ROW)
#undef BILL__ROW
};

static int find_row(int code)
{
    for (size_t i = 0; i < BILL__ARRAY_LEN(error_table); i++)
        if (error_table[i].code == code)
            return (int)i;
    return -1;
}

const char *bill_strerror(int code)
{
    int i = find_row(code);
    return i < 0 ? "unknown error" : error_table[i].msg;
}

const char *bill_error_name(int code)
{
    int i = find_row(code);
    return i < 0 ? "BILL_EUNKNOWN" : error_table[i].name;
}

int bill_error_grpc_status(int code)
{
    int i = find_row(code);
    return i < 0 ? 2 /* UNKNOWN */ : error_table[i].grpc;
}

int bill_error_exit_code(int code)
{
    return code == BILL_OK ? 0 : 1;
}

const bill_error *bill_error_last(void)
{
    error_slot *s = &tls_err;
    s->view.code = s->code;
    s->view.message = s->message[0] ? s->message : (s->code ? bill_strerror(s->code) : "");
    s->view.field = s->field;
    s->view.sqlstate = s->sqlstate;
    return &s->view;
}

void bill_error_clear(void)
{
    tls_err.code = BILL_OK;
    tls_err.message[0] = tls_err.field[0] = tls_err.sqlstate[0] = '\0';
}

int bill__verr(int code, const char *field, const char *fmt, va_list ap)
{
    error_slot *s = &tls_err;
    s->code = code;
    s->sqlstate[0] = '\0';
    snprintf(s->field, sizeof s->field, "%s", field ? field : "");
    if (fmt)
        vsnprintf(s->message, sizeof s->message, fmt, ap);
    else
        snprintf(s->message, sizeof s->message, "%s", bill_strerror(code));
    return code;
}

int bill__err(int code, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bill__verr(code, field, fmt, ap);
    va_end(ap);
    return code;
}

int bill__err_sql(int code, const char *sqlstate, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bill__verr(code, NULL, fmt, ap);
    va_end(ap);
    snprintf(tls_err.sqlstate, sizeof tls_err.sqlstate, "%s", sqlstate ? sqlstate : "");
    return code;
}

void bill__err_prefix(const char *fmt, ...)
{
    char prefix[256], old[sizeof tls_err.message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, tls_err.message, sizeof old);
    snprintf(tls_err.message, sizeof tls_err.message, "%s: %s", prefix, old);
}
