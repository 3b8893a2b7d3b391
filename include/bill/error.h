/*
 * error.h — the libbill error model.
 *
 * Every fallible function returns an int: BILL_OK (0) on success or one of the
 * negative codes below. Codes are append-only: never renumber or remove one.
 * Besides the code, the failing call leaves a thread-local detail record
 * (message, field, SQLSTATE) that bill_error_last() returns until the next
 * failing call on the same thread. Messages are written for the person who
 * will read them: they name the field or id concerned.
 *
 * One table (in error.c) maps each code to its name, a generic message, a gRPC
 * status code and a CLI exit code, so every frontend translates the same way.
 */
#ifndef BILL_ERROR_H
#define BILL_ERROR_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, grpc_status, default message) — append only. */
#define BILL_ERROR_MAP(X)                                                       \
    X(OK,          0,  0,  "success")                                           \
    X(EINVALID,   -1,  3,  "invalid argument")            /* INVALID_ARGUMENT */ \
    X(ENOTFOUND,  -2,  5,  "not found")                   /* NOT_FOUND */        \
    X(ECONFLICT,  -3,  6,  "already exists")              /* ALREADY_EXISTS */   \
    X(EDENIED,    -4,  7,  "permission denied")           /* PERMISSION_DENIED */\
    X(EUNAUTH,    -5,  16, "unauthenticated")             /* UNAUTHENTICATED */  \
    X(ESTATE,     -6,  9,  "failed precondition")         /* FAILED_PRECONDITION */\
    X(EFUNDS,     -7,  9,  "insufficient balance")        /* FAILED_PRECONDITION */\
    X(EUNAVAILABLE,-8, 14, "service unavailable")         /* UNAVAILABLE */      \
    X(EDB,        -9,  13, "database error")              /* INTERNAL */         \
    X(ENOMEM,     -10, 8,  "out of memory")               /* RESOURCE_EXHAUSTED */\
    X(EINTERNAL,  -11, 13, "internal error")              /* INTERNAL */         \
    X(ELIMIT,     -12, 8,  "limit exceeded")              /* RESOURCE_EXHAUSTED */\
    X(ETIMEOUT,   -13, 4,  "timed out")                   /* DEADLINE_EXCEEDED */\
    X(EUNSUPPORTED,-14,12, "not supported")               /* UNIMPLEMENTED */    \
    X(ECONFIG,    -15, 9,  "configuration error")         /* FAILED_PRECONDITION */\
    X(EIO,        -16, 13, "I/O error")                   /* INTERNAL */         \
    X(EPLUGIN,    -17, 14, "plugin error")                /* UNAVAILABLE */

typedef enum {
#define BILL__ENUM(name, value, grpc, msg) BILL_##name = value,
    BILL_ERROR_MAP(BILL__ENUM)
#undef BILL__ENUM
} bill_error_code;

/* Detail of the last failure on this thread. Strings are never NULL
 * ("" when not applicable) and stay valid until the next libbill call that
 * fails on the same thread. */
typedef struct bill_error {
    int code;             /* one of bill_error_code */
    const char *message;  /* human-readable, names the field or id */
    const char *field;    /* offending field/key name, or "" */
    const char *sqlstate; /* PostgreSQL SQLSTATE when the DB failed, or "" */
} bill_error;

/* Last failure on the calling thread; code BILL_OK and empty strings when
 * nothing failed yet (or after bill_error_clear). Never NULL. */
BILL_API const bill_error *bill_error_last(void);
BILL_API void bill_error_clear(void);

/* Static generic text for a code ("not found"); "unknown error" otherwise. */
BILL_API const char *bill_strerror(int code);
/* Symbolic name ("BILL_ENOTFOUND"). */
BILL_API const char *bill_error_name(int code);
/* gRPC status code for a libbill code (UNKNOWN = 2 for unknown codes). */
BILL_API int bill_error_grpc_status(int code);
/* CLI exit code: 0 for BILL_OK, 1 for every failure (2, usage, is the
 * frontend's own verdict on its command line). */
BILL_API int bill_error_exit_code(int code);

#ifdef __cplusplus
}
#endif
#endif
