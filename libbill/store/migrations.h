/*
 * migrations.h — the SQL migrations embedded at build time (migrations/NNN_name.sql,
 * see migrations/embed.py). Private to libbill.
 */
#ifndef BILL_STORE_MIGRATIONS_H
#define BILL_STORE_MIGRATIONS_H

#include <stddef.h>

typedef struct bill__migration {
    int version;             /* 1, 2, ... gapless */
    const char *description; /* "initial", "operation_logs", ... */
    size_t length;           /* bytes of sql */
    const char *sql;         /* the file's exact contents */
} bill__migration;

/* The session advisory lock that serializes migrations across processes:
 * the cluster's `migration` role (cluster.h). */
#define BILL__MIGRATION_LOCK_KEY "7811882184596381696"

extern const bill__migration bill__migrations[];
extern const size_t bill__migrations_count;

#endif
