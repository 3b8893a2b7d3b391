/*
 * redis_int.h — what libbill's Redis users (rate limits, session cache,
 * locks) share with the handle (redis.c). Private to libbill.
 */
#ifndef BILL_REDIS_INT_H
#define BILL_REDIS_INT_H

#include "internal.h"
#include "bill/redis.h"

#include <hiredis/hiredis.h>

/* One command: argv with lengths (binary-safe). */
#define BILL__RCMD_MAX_ARGS 8
typedef struct bill__rcmd {
    int argc;
    const char *argv[BILL__RCMD_MAX_ARGS];
    size_t len[BILL__RCMD_MAX_ARGS];
} bill__rcmd;

/* Append a NUL-terminated argument to cmd. */
void bill__rcmd_arg(bill__rcmd *cmd, const char *s);

/* Send n commands in one round trip on one connection; replies[i] receives
 * each reply (free with freeReplyObject; NULL on failure). BILL_OK, or
 * BILL_EUNAVAILABLE at once while Redis is down, when the command failed
 * on the wire (the handle goes down: one WARN) or no connection was free
 * within timeout_ms; BILL_EIO for an error reply (replies kept). The
 * caller falls back on any failure and counts it (bill__redis_fallback). */
int bill__redis_run(bill_redis *r, size_t n, const bill__rcmd *cmds, redisReply **replies);
void bill__redis_replies_free(size_t n, redisReply **replies);

/* "<prefix>:<part>" into buf (truncated to size). */
const char *bill__redis_key(const bill_redis *r, const char *part, char *buf, size_t size);

/* The cache generation key "<prefix>:gen": bumped on every reconnect and
 * by bill__redis_invalidate; a cached entry names the generation it was
 * read under and is used only while that is still current. */
const char *bill__redis_gen_key(const bill_redis *r);
/* Bump the generation (after a commit that revoked something cached). */
void bill__redis_invalidate(bill_redis *r);

void bill__redis_fallback(bill_redis *r);
void bill__redis_session_count(bill_redis *r, bool hit);

/* A key prefix: 1..64 printable characters, no spaces. */
bool bill__redis_prefix_ok(const char *p);

/* bill_redis_close (pool.c closes the handle's Redis). */
void bill__redis_close(bill_redis *r);

#endif
