/*
 * db.c — `bill-cli db …`: schema status, applying migrations, backups and
 * restores (libbill's bill_db_backup / bill_db_restore, backup.h), and
 * stopping the embedded PostgreSQL.
 *
 * These commands run against a database whose schema may be behind (or,
 * for restore, empty), so they open it without the "migrations applied"
 * check every other command makes.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int db_status(cli_ctx *ctx, const cli_args *a)
{
    (void)a;
    int rc = cli_open_db(ctx, false);
    if (rc != CLI_CONTINUE)
        return rc;

    bill_migration_info *mi = NULL;
    size_t n = 0, applied = 0;
    cli_table *t = NULL;
    if ((rc = bill_db_migration_status(ctx->db, &mi, &n)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    size_t changed = 0;
    for (size_t i = 0; i < n; i++) {
        if (mi[i].applied && mi[i].success)
            applied++;
        if (mi[i].applied && mi[i].checksum_mismatch)
            changed++;
    }
    /* Reported, not failed: status did its job; migrate and every other
     * command refuse such a database and say so. */
    if (changed)
        fprintf(stderr, "bill-cli: warning: %zu applied migration%s changed since (checksum "
                "MISMATCH); other commands refuse this database\n", changed,
                changed == 1 ? "" : "s");

    if (ctx->json) {
        json_object *doc = json_object_new_object();
        json_object *arr = json_object_new_array();
        for (size_t i = 0; i < n; i++) {
            json_object *m = json_object_new_object();
            json_object_object_add(m, "version", json_object_new_int(mi[i].version));
            json_object_object_add(m, "description", json_object_new_string(mi[i].description));
            json_object_object_add(m, "applied", json_object_new_boolean(mi[i].applied));
            json_object_object_add(m, "success", json_object_new_boolean(mi[i].success));
            json_object_object_add(m, "installed_on",
                                   mi[i].installed_on[0] ? json_object_new_string(mi[i].installed_on)
                                                         : NULL);
            json_object_object_add(m, "checksum", json_object_new_string(mi[i].checksum));
            json_object_object_add(m, "checksum_ok",
                                   json_object_new_boolean(!mi[i].checksum_mismatch));
            json_object_object_add(m, "execution_ms", json_object_new_int64(mi[i].execution_ms));
            json_object_array_add(arr, m);
        }
        json_object_object_add(doc, "migrations", arr);
        json_object_object_add(doc, "applied", json_object_new_int64((int64_t)applied));
        json_object_object_add(doc, "known", json_object_new_int64((int64_t)n));
        json_object_object_add(doc, "pending", json_object_new_int64((int64_t)(n - applied)));
        cli_json_print(doc);
        rc = CLI_EXIT_OK;
        goto done;
    }

    static const char *const hdr[] = {"VERSION", "DESCRIPTION", "APPLIED", "INSTALLED_ON",
                                      "CHECKSUM"};
    if (!(t = cli_table_new(5, hdr))) {
        rc = cli_errorf("out of memory");
        goto done;
    }
    cli_table_align_right(t, 0);
    for (size_t i = 0; i < n; i++) {
        char ver[16];
        snprintf(ver, sizeof ver, "%03d", mi[i].version);
        const char *app = !mi[i].applied ? "no" : mi[i].success ? "yes" : "failed";
        const char *sum = !mi[i].applied ? "-" : mi[i].checksum_mismatch ? "MISMATCH" : "ok";
        if (cli_table_row(t, ver, mi[i].description, app,
                          mi[i].installed_on[0] ? mi[i].installed_on : "-", sum) < 0) {
            rc = cli_errorf("out of memory");
            goto done;
        }
    }
    cli_table_print(t, stdout);
    printf("\n%zu of %zu migrations applied\n", applied, n);
    rc = CLI_EXIT_OK;
done:
    cli_table_free(t);
    free(mi);
    return rc;
}

static int db_migrate(cli_ctx *ctx, const cli_args *a)
{
    (void)a;
    int rc = cli_open_db(ctx, false);
    if (rc != CLI_CONTINUE)
        return rc;
    int applied = 0;
    if ((rc = bill_db_migrate(ctx->db, &applied)) < 0)
        return cli_fail(ctx, rc);
    if (ctx->json) {
        json_object *doc = json_object_new_object();
        json_object_object_add(doc, "applied", json_object_new_int(applied));
        json_object_object_add(doc, "known",
                               json_object_new_int64((int64_t)bill_db_migrations_known()));
        cli_json_print(doc);
        return CLI_EXIT_OK;
    }
    if (applied == 0)
        return cli_done(ctx, "schema is up to date (%zu migrations)", bill_db_migrations_known());
    return cli_done(ctx, "applied %d migration%s", applied, applied == 1 ? "" : "s");
}

/* Progress on a terminal only (stderr), one line rewritten in place. */
static void backup_progress(int64_t done, int64_t total, void *user)
{
    (void)user;
    if (total > 0)
        fprintf(stderr, "\rrestoring: %lld of %lld archive entries", (long long)done,
                (long long)total);
    else
        fprintf(stderr, "\rbacking up: %.1f MiB", (double)done / (1024.0 * 1024.0));
    fflush(stderr);
}

/* backup_progress while stderr is a terminal and nothing else is asked
 * for (--quiet, --json); NULL otherwise. progress_end ends its line. */
static bill_backup_progress_fn progress_for(const cli_ctx *ctx)
{
    return !ctx->quiet && !ctx->json && isatty(STDERR_FILENO) ? backup_progress : NULL;
}

static void progress_end(bill_backup_progress_fn progress)
{
    if (progress)
        fputc('\n', stderr);
}

static int db_backup(cli_ctx *ctx, const cli_args *a)
{
    bill_backup_options o;
    bill_backup_options_init(&o);
    o.dir = cli_opt(a, "dir");
    const char *keep = cli_opt(a, "keep-days");
    if (keep) {
        char *end = NULL;
        long v = strtol(keep, &end, 10);
        if (!*keep || *end || v < 0 || v > 36500)
            return cli_usage_error(ctx, "--keep-days must be a number of days from 0 to 36500, "
                                        "not '%s'", keep);
        o.keep_days = (int)v;
    }
    int rc = cli_open_db(ctx, false);
    if (rc != CLI_CONTINUE)
        return rc;
    char *path = NULL;
    int pruned = 0;
    o.progress = progress_for(ctx);
    rc = bill_db_backup(ctx->db, &o, &path, &pruned);
    progress_end(o.progress);
    if (rc < 0)
        return cli_fail(ctx, rc);
    if (ctx->json) {
        json_object *doc = json_object_new_object();
        json_object_object_add(doc, "file", json_object_new_string(path));
        json_object_object_add(doc, "pruned", json_object_new_int(pruned));
        cli_json_print(doc);
        rc = CLI_EXIT_OK;
    } else {
        if (pruned)
            rc = cli_done(ctx, "backup written to %s (pruned %d old backup%s)", path, pruned,
                          pruned == 1 ? "" : "s");
        else
            rc = cli_done(ctx, "backup written to %s", path);
    }
    free(path);
    return rc;
}

static int db_restore(cli_ctx *ctx, const cli_args *a)
{
    const char *file = a->pos[0];
    bill_restore_options o;
    bill_restore_options_init(&o);
    o.force = cli_flag(a, "force");
    if (!cli_flag(a, "yes")) {
        if (!isatty(STDIN_FILENO))
            return cli_usage_error(ctx, "restore replaces every table of the database; not on "
                                        "a terminal, so pass --yes to confirm");
    }
    if (access(file, R_OK) != 0)
        return cli_errorf("cannot read backup %s", file);
    int rc = cli_open_db(ctx, false);
    if (rc != CLI_CONTINUE)
        return rc;
    if (!cli_flag(a, "yes")) {
        fprintf(stderr, "Restore %s into this database? Every table is replaced by the "
                "backup's. Type 'yes' to confirm: ", file);
        fflush(stderr);
        char line[16] = "";
        if (!fgets(line, sizeof line, stdin) || strcmp(line, "yes\n") != 0)
            return cli_errorf("not confirmed; the database was left as it is");
    }
    o.progress = progress_for(ctx);
    rc = bill_db_restore(ctx->db, file, &o);
    progress_end(o.progress);
    if (rc < 0)
        return cli_fail(ctx, rc);
    if (ctx->json) {
        json_object *doc = json_object_new_object();
        json_object_object_add(doc, "restored", json_object_new_string(file));
        cli_json_print(doc);
        return CLI_EXIT_OK;
    }
    return cli_done(ctx, "restored %s", file);
}

/* The embedded PostgreSQL (./var/pg) outlives the bill-server, bill-cli
 * and bill-tui runs that start it on demand, so they share one; this ends
 * it. Nothing to open: the database is not touched. */
static int db_stop_embedded(cli_ctx *ctx, const cli_args *a)
{
    (void)a;
    int rc = bill_embedded_pg_stop("./var");
    if (rc < 0)
        return cli_fail(ctx, rc);
    if (ctx->json) {
        json_object *doc = json_object_new_object();
        json_object_object_add(doc, "stopped", json_object_new_string("./var/pg"));
        cli_json_print(doc);
        return CLI_EXIT_OK;
    }
    return cli_done(ctx, "no embedded PostgreSQL is running in ./var/pg now");
}

static const cli_optdef backup_opts[] = {
    {"dir", "DIR", "directory for the backup file (default: .; created 0700)", 0},
    {"keep-days", "N", "delete libbill_*.dump backups in DIR older than N days", 0},
    {NULL, NULL, NULL, 0},
};

static const cli_optdef restore_opts[] = {
    {"force", NULL, "restore even while bill-servers are registered alive", 0},
    {"yes", NULL, "do not ask for confirmation (required when not on a terminal)", 0},
    {NULL, NULL, NULL, 0},
};

static const cli_cmd db_subs[] = {
    {
        .name = "status",
        .summary = "Show every migration and whether it is applied",
        .description = "Lists the migrations built into libbill with their state in the database:\n"
                       "applied or not, when, and whether the applied file still matches.",
        .run = db_status,
    },
    {
        .name = "migrate",
        .summary = "Apply pending migrations",
        .description = "Applies every pending migration in order, each in its own transaction.\n"
                       "Safe to run concurrently with servers: an advisory lock serializes it.",
        .run = db_migrate,
    },
    {
        .name = "backup",
        .summary = "Write a backup of the database (pg_dump -Fc)",
        .description = "Writes DIR/libbill_YYYYMMDD_HHMMSS.dump (UTC) in pg_dump's custom format,\n"
                       "under a temporary name until complete. With --keep-days N, backups in\n"
                       "DIR whose name is older than N days are deleted afterwards. Progress is\n"
                       "shown on a terminal. The cluster's registry rows are not backed up.",
        .opts = backup_opts,
        .run = db_backup,
    },
    {
        .name = "restore",
        .summary = "Replace the database with a backup (pg_restore)",
        .usage = "FILE",
        .description = "Restores FILE (made by db backup) in one transaction: all or nothing.\n"
                       "Refused while a bill-server of this database is registered alive\n"
                       "(bill-cli cluster status) unless --force. Asks for confirmation on a\n"
                       "terminal; elsewhere pass --yes.",
        .opts = restore_opts,
        .min_args = 1,
        .max_args = 1,
        .run = db_restore,
    },
    {
        .name = "stop-embedded",
        .summary = "Stop the embedded PostgreSQL in ./var/pg",
        .description = "bill-server, bill-cli and bill-tui start the embedded PostgreSQL in\n"
                       "./var/pg on demand (no [db].url, DATABASE_URL or --database-url) and\n"
                       "leave it running when they exit, so they share it. This stops it\n"
                       "(pg_ctl stop -m fast: open sessions are ended; stop bill-server\n"
                       "first). Data stays in ./var/pg; the next run starts it again.\n"
                       "Nothing to do when it is not running. ./dev stop runs this.",
        .run = db_stop_embedded,
    },
    {0},
};

CLI_GROUP(cli_db_cmd, "db",
          "Database: schema status, migrations, backup and restore, the embedded server",
          db_subs);
