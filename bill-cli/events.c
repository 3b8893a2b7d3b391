/*
 * events.c — `bill-cli events …`: the durable event queue for operators.
 *
 * `events list` shows the queue (newest first, optionally only dead events
 * or one kind) together with its depth per status; `events retry` puts dead
 * events back in the queue; `events run-once` processes the events that are
 * due now on this process, for debugging a stuck queue without a server.
 *
 * Processing registers the handlers the server registers (provisioning and
 * notifications, provision.h). An event whose kind has no handler is not
 * skipped by libbill: it counts as a failed attempt and eventually dies. So
 * run-once only runs when bill-cli has handlers for the kinds that are due
 * (cli_event_kinds) and otherwise says which kinds it cannot handle and
 * changes nothing.
 */
#include "cli.h"

#include <bill/events.h>
#include <bill/plugin_host.h>
#include <bill/provision.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* How many dead events one `retry --all-dead` pass fetches per round. */
#define RETRY_BATCH 100

static json_object *event_json(const bill_event_row *e)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_int64(e->id));
    json_object_object_add(o, "kind", json_object_new_string(e->kind));
    json_object_object_add(o, "status", json_object_new_string(e->status));
    json_object_object_add(o, "attempts", json_object_new_int(e->attempts));
    json_object_object_add(o, "max_attempts", json_object_new_int(e->max_attempts));
    json_object_object_add(o, "last_error", cli_json_str(e->last_error));
    json_object_object_add(o, "run_after", json_object_new_string(e->run_after));
    json_object_object_add(o, "created_at", json_object_new_string(e->created_at));
    json_object *payload = e->payload_json ? json_tokener_parse(e->payload_json) : NULL;
    json_object_object_add(o, "payload", payload);
    return o;
}

static json_object *stats_json(const bill_events_stats *s)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "pending", json_object_new_int64(s->pending));
    json_object_object_add(o, "processing", json_object_new_int64(s->processing));
    json_object_object_add(o, "done", json_object_new_int64(s->done));
    json_object_object_add(o, "dead", json_object_new_int64(s->dead));
    return o;
}

static int events_list(cli_ctx *ctx, const cli_args *a)
{
    bill_page page = {0};
    bill_events_stats st = {0};
    bill_event_rows rows = {0};
    cli_table *t = NULL;
    int rc;
    const char *status = cli_opt(a, "status");
    if (cli_flag(a, "dead")) {
        if (status && strcmp(status, "dead") != 0)
            return cli_usage_error(ctx, "--dead and --status %s contradict each other", status);
        status = "dead";
    }
    if ((rc = cli_opt_u32(ctx, a, "page", &page.page)) != CLI_CONTINUE ||
        (rc = cli_opt_u32(ctx, a, "page-size", &page.page_size)) != CLI_CONTINUE)
        return rc;
    if ((rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    if ((rc = bill_events_list(ctx->db, status, cli_opt(a, "kind"), &page, &rows)) < 0 ||
        (rc = bill_events_stats_get(ctx->db, &st)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    if (ctx->json) {
        json_object *doc = json_object_new_object(), *arr = json_object_new_array();
        for (size_t i = 0; i < rows.count; i++)
            json_object_array_add(arr, event_json(&rows.items[i]));
        json_object_object_add(doc, "events", arr);
        json_object_object_add(doc, "total", json_object_new_int64((int64_t)rows.meta.total));
        json_object_object_add(doc, "page", json_object_new_int64(rows.meta.page));
        json_object_object_add(doc, "page_size", json_object_new_int64(rows.meta.page_size));
        json_object_object_add(doc, "queue", stats_json(&st));
        cli_json_print(doc);
        rc = CLI_EXIT_OK;
        goto done;
    }
    static const char *const hdr[] = {"ID", "KIND", "STATUS", "ATTEMPTS", "RUN_AFTER",
                                      "CREATED", "LAST_ERROR"};
    if (!(t = cli_table_new(7, hdr))) {
        rc = cli_errorf("out of memory");
        goto done;
    }
    cli_table_align_right(t, 0);
    cli_table_align_right(t, 3);
    for (size_t i = 0; i < rows.count; i++) {
        char id[24], att[32];
        snprintf(id, sizeof id, "%lld", (long long)rows.items[i].id);
        snprintf(att, sizeof att, "%d/%d", rows.items[i].attempts, rows.items[i].max_attempts);
        cli_table_row(t, id, rows.items[i].kind, rows.items[i].status, att, rows.items[i].run_after,
                      rows.items[i].created_at, rows.items[i].last_error);
    }
    cli_table_print(t, stdout);
    printf("\n%llu event%s (page %u of %u); queue: %lld pending, %lld processing, %lld done, "
           "%lld dead\n",
           (unsigned long long)rows.meta.total, rows.meta.total == 1 ? "" : "s", rows.meta.page,
           rows.meta.total_pages ? rows.meta.total_pages : 1, (long long)st.pending,
           (long long)st.processing, (long long)st.done, (long long)st.dead);
    rc = CLI_EXIT_OK;
done:
    cli_table_free(t);
    bill_event_rows_clear(&rows);
    return rc;
}

static int parse_event_id(cli_ctx *ctx, const char *s, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!s[0] || *end || errno || v <= 0)
        return cli_usage_error(ctx, "event id must be a positive whole number, got \"%s\"", s);
    *out = v;
    return CLI_CONTINUE;
}

static int events_retry(cli_ctx *ctx, const cli_args *a)
{
    bool all = cli_flag(a, "all-dead");
    int64_t id = 0;
    int rc;
    if (all == (a->npos == 1))
        return cli_usage_error(ctx, "give either an event ID or --all-dead");
    if (!all && (rc = parse_event_id(ctx, a->pos[0], &id)) != CLI_CONTINUE)
        return rc;
    if ((rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    if (!all) {
        if ((rc = bill_events_retry_dead(ctx->db, id)) < 0)
            return cli_fail(ctx, rc);
        return cli_done(ctx, "event %lld is pending again", (long long)id);
    }
    /* Always fetch page 1: every retried event leaves the dead list. */
    long long retried = 0;
    for (;;) {
        bill_page page = {.page = 1, .page_size = RETRY_BATCH};
        bill_event_rows rows = {0};
        if ((rc = bill_events_list_dead(ctx->db, &page, &rows)) < 0)
            return cli_fail(ctx, rc);
        size_t n = rows.count;
        for (size_t i = 0; i < n && rc >= 0; i++) {
            rc = bill_events_retry_dead(ctx->db, rows.items[i].id);
            /* another operator may have retried it meanwhile: not an error */
            if (rc == BILL_ENOTFOUND)
                rc = BILL_OK;
            else if (rc == BILL_OK)
                retried++;
        }
        bill_event_rows_clear(&rows);
        if (rc < 0) {
            cli_note(ctx, "%lld dead event%s retried before the failure", retried,
                     retried == 1 ? "" : "s");
            return cli_fail(ctx, rc);
        }
        if (n < RETRY_BATCH)
            break;
    }
    return cli_done(ctx, "%lld dead event%s pending again", retried, retried == 1 ? "" : "s");
}

/* The handlers bill-cli can run: the provisioning and notification flow
 * (provision.h), the same set bill-server's event workers register. They
 * call plugins, so the plugin host is opened and scanned first (a missing
 * plugins directory is only a note: notify/order.paid without interfaces
 * still complete). */
static const char *const cli_event_kinds[] = {"order.paid", "instance.poll", "notify", "notify.send",
                                              NULL};

static bool kind_known(const char *const *kinds, const char *kind)
{
    for (size_t i = 0; kinds[i]; i++)
        if (strcmp(kinds[i], kind) == 0)
            return true;
    return false;
}

static int events_run_once(cli_ctx *ctx, const cli_args *a)
{
    uint32_t max = 0;
    bill_events *ev = NULL;
    bill_event_rows rows = {0};
    bill_plugins *plugins = NULL;
    bill_provision *prov = NULL;
    int rc, processed = 0;
    if ((rc = cli_opt_u32(ctx, a, "max", &max)) != CLI_CONTINUE)
        return rc;
    if (max == 0)
        max = 100;
    if ((rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    bill_events_options o;
    bill_events_options_init(&o);
    o.worker_id = "bill-cli";
    if ((rc = bill_events_new(&ev, ctx->db, &o)) < 0) {
        ev = NULL;
        rc = cli_fail(ctx, rc);
        goto done;
    }
    if ((rc = cli_open_plugins(ctx, true, true, &plugins, NULL)) != CLI_CONTINUE) {
        plugins = NULL;
        goto done;
    }
    if ((rc = bill_provision_new(&prov, ctx->db, plugins, NULL)) < 0 ||
        (rc = bill_provision_register(prov, ev)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }

    /* Refuse when a pending event has no handler here: processing it would
     * only burn one of its attempts with "no handler". */
    bill_page page = {.page = 1, .page_size = BILL_PAGE_MAX_SIZE};
    if ((rc = bill_events_list(ctx->db, "pending", NULL, &page, &rows)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    for (size_t i = 0; i < rows.count; i++)
        if (!kind_known(cli_event_kinds, rows.items[i].kind)) {
            rc = cli_errorf("bill-cli has no handler for event kind \"%s\" (event %lld); nothing "
                            "was processed. Let bill-server's workers run it, or inspect it with "
                            "'bill-cli events list --kind %s'",
                            rows.items[i].kind, (long long)rows.items[i].id, rows.items[i].kind);
            goto done;
        }
    if ((rc = bill_events_run_once(ev, (int)max, &processed)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    rc = cli_done(ctx, "processed %d event%s", processed, processed == 1 ? "" : "s");
done:
    bill_event_rows_clear(&rows);
    bill_events_free(ev);
    bill_provision_free(prov);
    bill_plugins_free(plugins);
    return rc;
}

static const cli_optdef list_opts[] = {
    {"dead", NULL, "only dead events (failed max_attempts times)", 0},
    {"status", "STATUS", "only pending | processing | done | dead", 0},
    {"kind", "KIND", "only this kind, e.g. order.paid", 0},
    {"page", "N", "page number (from 1)", 0},
    {"page-size", "N", "rows per page (default 20, at most 100)", 0},
    {0},
};

static const cli_optdef retry_opts[] = {
    {"all-dead", NULL, "retry every dead event", 0},
    {0},
};

static const cli_optdef run_once_opts[] = {
    {"max", "N", "process at most N events (default 100)", 0},
    {0},
};

static const cli_cmd events_subs[] = {
    {.name = "list",
     .summary = "List events, newest first, with the queue depth",
     .opts = list_opts,
     .run = events_list},
    {.name = "retry",
     .summary = "Put a dead event (or all of them) back in the queue",
     .usage = "[ID]",
     .opts = retry_opts,
     .min_args = 0,
     .max_args = 1,
     .run = events_retry},
    {.name = "run-once",
     .summary = "Process the events due now in this process (ops/debugging)",
     .description = "Refuses, changing nothing, when a pending event is of a kind bill-cli has\n"
                    "no handler for (its attempt would be wasted); bill-server's workers\n"
                    "process those.",
     .opts = run_once_opts,
     .run = events_run_once},
    {0},
};

const cli_cmd cli_events_cmd = {
    .name = "events",
    .summary = "Durable event queue: list, retry dead events, run once",
    .subs = events_subs,
};
