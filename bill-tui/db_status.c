/*
 * db_status.c — tab 8: every migration built into this libbill with whether
 * it is applied and whether its checksum still matches the file
 * (bill_db_migration_status), the pending count above the table, and this
 * console's connection pool. Applying migrations stays with
 * `bill-cli db migrate` (bill-tui refuses to start on a database that
 * needs them).
 */
#include "tui.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const tui_col cols[] = {
    {"VERSION", 7, 7, 0, true, false},
    {"DESCRIPTION", 11, 40, 0, false, true},
    {"APPLIED", 7, 7, 0, false, false},
    {"INSTALLED ON", 16, 20, 1, false, false},
    {"CHECKSUM", 8, 8, 0, false, false},
    {"TIME", 6, 10, 2, true, false},
};

static int fetch(tui_app *app, uint32_t page, const char *search, tui_rows *rows,
                 bill_page_meta *meta, char *summary, size_t summary_size)
{
    (void)page;
    (void)search;
    bill_migration_info *mi = NULL;
    size_t n = 0, applied = 0, changed = 0;
    int rc = bill_db_migration_status(app->db, &mi, &n);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n && rc == BILL_OK; i++) {
        char ver[16], inst[32] = "-", ms[24];
        snprintf(ver, sizeof ver, "%03d", mi[i].version);
        int64_t at = 0;
        if (mi[i].installed_on[0] && bill_time_parse_rfc3339(mi[i].installed_on, &at) == BILL_OK)
            ui_time(at, inst);
        snprintf(ms, sizeof ms, "%lld ms", (long long)mi[i].execution_ms);
        const char *app_s = !mi[i].applied ? "no" : mi[i].success ? "yes" : "failed";
        const char *sum = !mi[i].applied ? "-" : mi[i].checksum_mismatch ? "MISMATCH" : "ok";
        if (mi[i].applied && mi[i].success)
            applied++;
        if (mi[i].applied && mi[i].checksum_mismatch)
            changed++;
        if (tui_rows_add(rows, ver, ver, mi[i].description, app_s, inst, sum,
                         mi[i].applied ? ms : "-") < 0)
            rc = BILL_ENOMEM;
    }
    free(mi);
    bill_db_pool_stats ps;
    bill_db_pool_stats_get(app->db, &ps);
    snprintf(summary, summary_size,
             "%zu of %zu migrations applied · %zu pending%s · this console's pool: %d in use, "
             "%d idle, max %d",
             applied, n, n - applied, changed ? " · CHECKSUM MISMATCH: see bill-cli db status" : "",
             ps.in_use, ps.idle, ps.max);
    meta->total = n;
    meta->page = 1;
    meta->page_size = (uint32_t)(n ? n : 1);
    meta->total_pages = n ? 1 : 0;
    return rc;
}

static int detail(tui_app *app, const char *key, tui_text *t, char *title, size_t title_size)
{
    bill_migration_info *mi = NULL;
    size_t n = 0;
    int rc = bill_db_migration_status(app->db, &mi, &n), version = atoi(key);
    if (rc < 0)
        return rc;
    rc = BILL_ENOTFOUND;
    for (size_t i = 0; i < n; i++) {
        if (mi[i].version != version)
            continue;
        snprintf(title, title_size, "Migration %03d", version);
        tui_text_add(t, ST_TITLE, "%03d %s", mi[i].version, mi[i].description);
        tui_text_kv(t, "applied", "%s", !mi[i].applied ? "no (pending: run bill-cli db migrate)"
                                        : mi[i].success ? "yes" : "failed");
        tui_text_kv(t, "installed on", "%s", mi[i].installed_on[0] ? mi[i].installed_on : "-");
        tui_text_kv(t, "execution", "%lld ms", (long long)mi[i].execution_ms);
        tui_text_kv(t, "file checksum", "%s", mi[i].checksum);
        tui_text_kv(t, "checksum state", "%s",
                    !mi[i].applied ? "-" : mi[i].checksum_mismatch
                        ? "MISMATCH: the file changed after it was applied"
                        : "ok: the applied file is the built-in one");
        rc = BILL_OK;
    }
    free(mi);
    return rc;
}

const tui_tab_ops tab_db_status = {
    .name = "DB Status",
    .cols = cols,
    .ncols = (int)(sizeof cols / sizeof cols[0]),
    .server_search = false,
    .fetch = fetch,
    .detail = detail,
};
