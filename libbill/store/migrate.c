/*
 * migrate.c — applies the embedded SQL migrations (R-DB-2, R-DB-3) and reports
 * their status.
 *
 * Record: table schema_migrations (version, description, installed_on,
 * success, checksum = hex SHA-256 of the file, execution_time_ms).
 *
 * Safety:
 *   - one session-level advisory lock (MIGRATION_LOCK_KEY) serializes every
 *     migrator across processes; a waiter re-reads the table after getting
 *     the lock and so finds nothing pending;
 *   - every applied migration's checksum is compared before anything runs:
 *     an edited, already-applied file is refused with BILL_ESTATE;
 *   - each migration runs in its own transaction together with its record
 *     row, so a failure leaves neither schema change nor record behind.
 */
#include "store/store.h"
#include "store/migrations.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "libbill\0" read as a big-endian integer: a fixed key other applications
 * are unlikely to pick. */
#define MIGRATION_LOCK_KEY BILL__MIGRATION_LOCK_KEY

static const char create_table_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY,"
    " description text NOT NULL,"
    " installed_on timestamptz NOT NULL DEFAULT now(),"
    " success boolean NOT NULL,"
    " checksum text NOT NULL,"
    " execution_time_ms bigint NOT NULL DEFAULT 0)";

size_t bill_db_migrations_known(void)
{
    return bill__migrations_count;
}

static void checksum_hex(const bill__migration *m, char hex[72])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)m->sql, m->length);
    sodium_bin2hex(hex, 72, h, sizeof h);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Refuse when an applied migration changed or the database knows versions
 * this library does not (it was migrated by a newer libbill). */
static int verify_applied(const PGresult *applied)
{
    for (int i = 0; i < PQntuples(applied); i++) {
        int v = atoi(bill__val(applied, i, 0));
        const char *stored = bill__val(applied, i, 1);
        if (v < 1 || (size_t)v > bill__migrations_count)
            return bill__err(BILL_ESTATE, "schema_migrations",
                             "database has migration %03d applied, but this libbill only knows "
                             "001..%03zu; upgrade libbill instead of migrating with an older one",
                             v, bill__migrations_count);
        const bill__migration *m = &bill__migrations[v - 1];
        char hex[72];
        checksum_hex(m, hex);
        if (strcmp(hex, stored) != 0)
            return bill__err(BILL_ESTATE, "schema_migrations",
                             "migration %03d (%s) was changed after it was applied: checksum in "
                             "the database is %.16s…, the embedded file's is %.16s…; restore the "
                             "original file and add the change as a new migration",
                             v, m->description, stored, hex);
    }
    return BILL_OK;
}

static bool is_applied(const PGresult *applied, int version)
{
    for (int i = 0; i < PQntuples(applied); i++)
        if (atoi(bill__val(applied, i, 0)) == version)
            return true;
    return false;
}

static int apply_one(bill_conn *c, const bill__migration *m)
{
    int rc;
    char hex[72], vbuf[16], msbuf[32];
    int64_t t0 = mono_ms();

    checksum_hex(m, hex);
    if ((rc = bill__tx_begin(c)) < 0)
        goto done;
    if ((rc = bill__exec(c, m->sql)) < 0) {
        bill__err_prefix("migration %03d (%s) failed, rolled back", m->version, m->description);
        goto done;
    }
    snprintf(vbuf, sizeof vbuf, "%d", m->version);
    snprintf(msbuf, sizeof msbuf, "%lld", (long long)(mono_ms() - t0));
    if ((rc = bill__qp(c, NULL,
                       "INSERT INTO schema_migrations (version, description, success, checksum,"
                       " execution_time_ms) VALUES ($1::int, $2, true, $3, $4::bigint)",
                       vbuf, m->description, hex, msbuf)) < 0) {
        bill__err_prefix("recording migration %03d", m->version);
        goto done;
    }
    if ((rc = bill__tx_commit(c)) < 0)
        bill__err_prefix("migration %03d (%s)", m->version, m->description);
done:
    if (rc < 0)
        bill__tx_rollback(c);
    return rc;
}

int bill_db_migrate(bill_db *db, int *applied_out)
{
    int rc = BILL_OK, applied = 0;
    bill_conn *c = NULL;
    PGresult *applied_rows = NULL;
    bool locked = false;

    if (applied_out)
        *applied_out = 0;
    if (!db)
        return bill__err(BILL_EINVALID, NULL, "bill_db_migrate: db is NULL");
    if (sodium_init() < 0)
        return bill__err(BILL_EINTERNAL, NULL, "libsodium failed to initialise");
    if ((rc = bill__conn_acquire(db, &c)) < 0)
        goto done;
    /* Blocks while another process migrates; then we see its result. */
    if ((rc = bill__exec(c, "SELECT pg_advisory_lock(" MIGRATION_LOCK_KEY ")")) < 0) {
        bill__err_prefix("taking the migration lock");
        goto done;
    }
    locked = true;
    if ((rc = bill__exec(c, create_table_sql)) < 0) {
        bill__err_prefix("creating schema_migrations");
        goto done;
    }
    if ((rc = bill__q(c, &applied_rows,
                      "SELECT version, checksum FROM schema_migrations WHERE success"
                      " ORDER BY version", 0, NULL)) < 0)
        goto done;
    if ((rc = verify_applied(applied_rows)) < 0)
        goto done;
    for (size_t i = 0; i < bill__migrations_count; i++) {
        const bill__migration *m = &bill__migrations[i];
        if (is_applied(applied_rows, m->version))
            continue;
        if ((rc = apply_one(c, m)) < 0)
            goto done;
        applied++;
    }
done:
    PQclear(applied_rows);
    if (c) {
        if (locked) {
            PGresult *r = PQexec(bill__conn_pg(c),
                                 "SELECT pg_advisory_unlock(" MIGRATION_LOCK_KEY ")");
            PQclear(r);
        }
        bill__conn_release(c);
    }
    if (applied_out)
        *applied_out = applied;
    return rc;
}

int bill_db_migration_status(bill_db *db, bill_migration_info **out, size_t *count)
{
    int rc = BILL_OK;
    bill_conn *c = NULL;
    PGresult *r = NULL;
    bill_migration_info *infos = NULL;

    if (!db || !out || !count)
        return bill__err(BILL_EINVALID, NULL, "bill_db_migration_status: arguments are required");
    *out = NULL;
    *count = 0;
    if (sodium_init() < 0)
        return bill__err(BILL_EINTERNAL, NULL, "libsodium failed to initialise");
    infos = calloc(bill__migrations_count ? bill__migrations_count : 1, sizeof *infos);
    if (!infos) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory listing migrations");
        goto done;
    }
    if ((rc = bill__conn_acquire(db, &c)) < 0)
        goto done;
    if ((rc = bill__q(c, &r, "SELECT to_regclass('schema_migrations') IS NOT NULL", 0, NULL)) < 0)
        goto done;
    bool have_table = !strcmp(bill__val(r, 0, 0), "t");
    PQclear(r);
    r = NULL;
    if (have_table &&
        (rc = bill__q(c, &r,
                      "SELECT version, success, checksum, execution_time_ms,"
                      " to_char(installed_on AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                      " FROM schema_migrations ORDER BY version", 0, NULL)) < 0)
        goto done;

    for (size_t i = 0; i < bill__migrations_count; i++) {
        const bill__migration *m = &bill__migrations[i];
        bill_migration_info *inf = &infos[i];
        inf->version = m->version;
        snprintf(inf->description, sizeof inf->description, "%s", m->description);
        checksum_hex(m, inf->checksum);
        for (int row = 0; r && row < PQntuples(r); row++) {
            if (atoi(bill__val(r, row, 0)) != m->version)
                continue;
            inf->applied = true;
            inf->success = !strcmp(bill__val(r, row, 1), "t");
            inf->checksum_mismatch = strcmp(bill__val(r, row, 2), inf->checksum) != 0;
            inf->execution_ms = strtoll(bill__val(r, row, 3), NULL, 10);
            snprintf(inf->installed_on, sizeof inf->installed_on, "%s", bill__val(r, row, 4));
        }
    }
    *out = infos;
    *count = bill__migrations_count;
    infos = NULL;
done:
    PQclear(r);
    bill__conn_release(c);
    free(infos);
    return rc;
}

int bill_db_schema_check(bill_db *db, const char *program, size_t *pending_out)
{
    bill_migration_info *mi = NULL;
    size_t n = 0, pending = 0, changed = 0, first_changed = 0;
    int rc;

    if (pending_out)
        *pending_out = 0;
    if ((rc = bill_db_migration_status(db, &mi, &n)) < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (!mi[i].applied || !mi[i].success)
            pending++;
        else if (mi[i].checksum_mismatch && !changed++)
            first_changed = i;
    }
    if (pending_out)
        *pending_out = pending;
    /* An applied migration whose file changed means the schema is not the
     * one this build expects: acting on it could fail half-way (or worse,
     * succeed against the wrong constraints). */
    if (changed)
        rc = bill__err(BILL_ESTATE, NULL,
                       "database schema does not match this %s: migration %03d (%s)%s changed "
                       "after it was applied; see: bill-cli db status",
                       program && *program ? program : "libbill", mi[first_changed].version,
                       mi[first_changed].description, changed > 1 ? " and others" : "");
    else if (pending)
        rc = bill__err(BILL_ESTATE, NULL,
                       "database schema is not up to date (%zu pending); run: bill-cli db migrate",
                       pending);
    free(mi);
    return rc;
}
