/*
 * backup.h — whole-database backups with PostgreSQL's own tools (pg_dump
 * -Fc / pg_restore), named by time, pruned by age, and a restore that
 * refuses to run under a live cluster.
 *
 * A backup is one file DIR/libbill_YYYYMMDD_HHMMSS.dump (UTC, the handle's
 * clock) in pg_dump's custom format, written to a temporary name first and
 * renamed when complete, so a backup that failed half way never looks like
 * one. The runtime rows of the cluster (server_instances, leader_roles) are
 * left out of the data: a restored database starts with no members.
 *
 * The password of the database URL is handed to the tools in their
 * environment (PGPASSWORD), never on their command line.
 */
#ifndef BILL_BACKUP_H
#define BILL_BACKUP_H

#include "common.h"
#include "db.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Progress: backup — bytes written so far (total 0: unknown); restore —
 * archive entries done out of total. Called from the calling thread. */
typedef void (*bill_backup_progress_fn)(int64_t done, int64_t total, void *user);

#define BILL_BACKUP_OPTIONS_VERSION 1

typedef struct bill_backup_options {
    unsigned int version;           /* BILL_BACKUP_OPTIONS_VERSION */
    const char *dir;                /* NULL: "." ; created (0700) when missing */
    int keep_days;                  /* > 0: delete libbill_*.dump older than this; 0 keeps all */
    bill_backup_progress_fn progress; /* may be NULL */
    void *progress_user;
    /* fields above exist since version 1 */
} bill_backup_options;

BILL_API void bill_backup_options_init(bill_backup_options *o);

/* Dump the database of `db`. *path_out (malloc'd; may be NULL) receives the
 * file written, *pruned (may be NULL) how many old files were deleted.
 * BILL_EIO when pg_dump fails (its last message in the detail). */
BILL_API int bill_db_backup(bill_db *db, const bill_backup_options *o, char **path_out,
                            int *pruned);

#define BILL_RESTORE_OPTIONS_VERSION 1

typedef struct bill_restore_options {
    unsigned int version;           /* BILL_RESTORE_OPTIONS_VERSION */
    bool force;                     /* restore even while members are alive */
    bill_backup_progress_fn progress;
    void *progress_user;
    /* fields above exist since version 1 */
} bill_restore_options;

BILL_API void bill_restore_options_init(bill_restore_options *o);

/* Replace the contents of `db`'s database with the backup `file`
 * (pg_restore --clean --if-exists --single-transaction: all or nothing).
 * Refused with BILL_ESTATE while a bill-server is registered alive
 * (cluster.h) unless o->force; BILL_ENOTFOUND / BILL_EINVALID when `file`
 * is missing or not a pg_dump archive. */
BILL_API int bill_db_restore(bill_db *db, const char *file, const bill_restore_options *o);

#ifdef __cplusplus
}
#endif
#endif
