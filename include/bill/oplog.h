/*
 * oplog.h — reading the operation log: every mutation by staff
 * (admin users, the CLI, internal jobs) leaves a row saying who did what to
 * which target, the row before and after (JSON), the source IP and the time.
 * Rows are written by the domain services inside the changing transaction;
 * this header only lists them. Staff only (BILL_EDENIED otherwise).
 */
#ifndef BILL_OPLOG_H
#define BILL_OPLOG_H

#include "common.h"
#include "actor.h"
#include "db.h"
#include "page.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bill_oplog_entry {
    char *id;
    char *actor_type;  /* "admin" | "cli" | "customer" | "api_key" | "system" */
    char *actor_id;    /* "" when unknown */
    char *actor_name;  /* username, "cli", "cli:<user>", "system" */
    char *action;      /* "<object>.<verb>", e.g. "customer.update" */
    char *target_type; /* "customer", "product", ... */
    char *target_id;
    char *before_json; /* JSON text, or NULL when there was no "before" */
    char *after_json;  /* JSON text, or NULL (e.g. after a delete) */
    char *source_ip;   /* "" when unknown */
    int64_t created_at; /* usec since epoch UTC */
} bill_oplog_entry;

typedef struct bill_oplog_entries {
    BILL_LIST_OF(bill_oplog_entry);
} bill_oplog_entries;

/* Every field optional (NULL or "" = no filter); 0 times = unbounded. */
#define BILL_OPLOG_FILTER_VERSION 1u
typedef struct bill_oplog_filter {
    unsigned int version; /* BILL_OPLOG_FILTER_VERSION */
    const char *actor_id;
    const char *action;      /* exact, or a prefix ending in '.': "customer." */
    const char *target_type;
    const char *target_id;
    int64_t since;           /* created_at >= since (usec) */
    int64_t until;           /* created_at <  until (usec) */
    /* fields above exist since version 1 */
} bill_oplog_filter;

/* Newest first. filter and page may be NULL. */
BILL_API int bill_oplog_list(bill_db *db, const bill_actor *actor,
                              const bill_oplog_filter *filter, const bill_page *page,
                              bill_oplog_entries *out);
BILL_API void bill_oplog_entries_clear(bill_oplog_entries *l);

#ifdef __cplusplus
}
#endif
#endif
