/*
 * db.h — opening a libbill database handle, pool statistics, migrations,
 * and the embedded PostgreSQL used when no database URL is configured.
 *
 * A bill_db owns a thread-safe pool of libpq connections. Every domain call
 * borrows a connection for its own duration. Share one bill_db between all
 * threads of a process; close it once at the end.
 */
#ifndef BILL_DB_H
#define BILL_DB_H

#include "common.h"
#include "time.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bill_db bill_db;

#define BILL_DB_OPTIONS_VERSION 2

/* Pool settings: the [db] section of config.toml. */
typedef struct bill_db_options {
    unsigned int version;        /* BILL_DB_OPTIONS_VERSION */
    const char *url;             /* libpq URL or conninfo; required */
    int max_connections;         /* 20 */
    int min_connections;         /* 2: opened eagerly by bill_db_open */
    int idle_timeout_secs;       /* 300: idle connections above min are closed */
    int max_lifetime_secs;       /* 1800: older connections are replaced */
    int acquire_timeout_secs;    /* 5: then BILL_EUNAVAILABLE */
    bool test_before_acquire;    /* true: a lent connection is never a dead one */
    const char *application_name;/* NULL -> "libbill" */
    /* fields above exist since version 1 */
    int test_after_idle_ms;      /* 1000: with test_before_acquire, a connection
                                  * idle this long gets "SELECT 1" first; one
                                  * used more recently is lent at once and its
                                  * first statement, if it finds the connection
                                  * dead, reopens it and runs again. 0: always
                                  * ping. (version 1 callers get 1000) */
} bill_db_options;

/* Fill *o with the defaults above (url NULL). */
BILL_API void bill_db_options_init(bill_db_options *o);

/* Open a pool. Fails with BILL_EUNAVAILABLE (message says which host and why)
 * when the database cannot be reached, BILL_EINVALID on bad options. */
BILL_API int bill_db_open(bill_db **out, const bill_db_options *opts);
BILL_API void bill_db_close(bill_db *db);

/* ---- the handle's clock (billing.md §6) --------------------------------

 * Every libbill call that needs "now" (orders, payments, invoices, billing,
 * events, the unpaid-order TTL) reads it from the handle's clock, and so does
 * the SQL it runs: a connection borrowed from a handle with a clock set gets
 * the instant in the session setting bill.now, which the SQL functions
 * bill_now() / bill_clock_timestamp() (migration 010) and every timestamp
 * default read. Without a clock (the default) the handle reads
 * bill_time_now() (the wall clock unless bill_clock_set moved it) and SQL
 * uses the database's own now().
 *
 * fn NULL restores the default. `user` must outlive its use. The instant is
 * read once per borrowed connection (like now() once per transaction).
 * Set it before sharing the handle between threads, or accept that calls
 * already running keep the instant they started with. Servers never take
 * a clock from a client: this is for tests, bill-cli --now and embedders. */
BILL_API void bill_db_set_clock(bill_db *db, bill_clock_fn fn, void *user);
/* Current instant of the handle's clock (microseconds, UTC). */
BILL_API int64_t bill_db_now(bill_db *db);
/* true when a clock was set with bill_db_set_clock. */
BILL_API bool bill_db_clock_injected(bill_db *db);

/* One round trip on a pooled connection ("SELECT 1"); BILL_OK when the
 * database answers. Used by GET /ready. */
BILL_API int bill_db_ping(bill_db *db);

typedef struct bill_db_pool_stats {
    int in_use;   /* borrowed now */
    int idle;     /* open and free */
    int waiting;  /* threads blocked in acquire */
    int max;      /* max_connections */
    uint64_t acquired_total;
    uint64_t timeouts_total;
} bill_db_pool_stats;
BILL_API void bill_db_pool_stats_get(bill_db *db, bill_db_pool_stats *out);

/* ---- migrations ------------------------------------------------------- */

typedef struct bill_migration_info {
    int version;
    char description[64];
    bool applied;
    bool success;
    char installed_on[40];   /* RFC 3339 UTC, "" when not applied */
    char checksum[72];       /* hex SHA-256 of the embedded file */
    bool checksum_mismatch;  /* applied, but the embedded file changed */
    int64_t execution_ms;
} bill_migration_info;

/* Apply every pending migration, each in its own transaction, serialized
 * across processes by a PostgreSQL advisory lock. *applied (may be NULL)
 * receives how many ran. A changed checksum of an applied migration is
 * refused with BILL_ESTATE before anything runs. */
BILL_API int bill_db_migrate(bill_db *db, int *applied);
/* Status of every embedded migration. *out is malloc'd; free() it. */
BILL_API int bill_db_migration_status(bill_db *db, bill_migration_info **out, size_t *count);
/* Number of migrations compiled into this library. */
BILL_API size_t bill_db_migrations_known(void);

/* Is the schema the one this library was built for? The check every
 * frontend makes before acting on a database (bill-cli, bill-tui), so they
 * refuse with the same words. BILL_OK when every embedded migration is
 * applied and unchanged. Otherwise BILL_ESTATE, with the message
 *     database schema is not up to date (N pending); run: bill-cli db migrate
 * or, when an applied migration's file changed since (checked first: the
 * schema is then not the one expected, whatever is pending),
 *     database schema does not match this <program>: migration 002
 *     (operation_logs) changed after it was applied; see: bill-cli db status
 * `program` names the caller in that message (NULL -> "libbill");
 * *pending (may be NULL) receives the number of migrations not applied. */
BILL_API int bill_db_schema_check(bill_db *db, const char *program, size_t *pending);

/* ---- embedded PostgreSQL ---------------------------------------------- */

/* Ensure a private cluster runs under `var_dir` (e.g. "./var"): initdb on first
 * use into var_dir/pg, start with pg_ctl listening only on a unix socket in
 * var_dir/pg/run, create the database "libbill". Reuses a cluster that already
 * runs. When the process is root, PostgreSQL runs as an unprivileged account
 * (the "postgres" system user). *url_out (malloc'd) receives a libpq URL;
 * *started_out (may be NULL) tells whether this call started the server. */
BILL_API int bill_embedded_pg_ensure(const char *var_dir, char **url_out, bool *started_out);
/* Stop the embedded cluster (pg_ctl stop -m fast). */
BILL_API int bill_embedded_pg_stop(const char *var_dir);

#ifdef __cplusplus
}
#endif
#endif
