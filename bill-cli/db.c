/*
 * db.c — `bill-cli db …`: schema status and applying migrations.
 *
 * These two commands run against a database whose schema may be behind, so
 * they open it without the "migrations applied" check every other command
 * makes.
 */
#include "cli.h"

#include <stdlib.h>

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
    {0},
};

const cli_cmd cli_db_cmd = {
    .name = "db",
    .summary = "Database schema: status and migrations",
    .subs = db_subs,
};
