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

static json_object *event_json(const void *item)
{
    const bill_event_row *e = item;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_int64(e->id));
    json_object_object_add(o, "kind", json_object_new_string(e->kind));
    json_object_object_add(o, "status", json_object_new_string(e->status));
    json_object_object_add(o, "attempts", json_object_new_int(e->attempts));
    json_object_object_add(o, "max_attempts", json_object_new_int(e->max_attempts));
    json_object_object_add(o, "last_error", cli_json_str(e->last_error));
    json_object_object_add(o, "run_after", json_object_new_string(e->run_after));
    json_object_object_add(o, "created_at", json_object_new_string(e->created_at));
    json_object_object_add(o, "payload", cli_json_parse(e->payload_json));
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

static void event_row(const void *item, const char *cell[CLI_MAX_COLS], cli_cells buf)
{
    const bill_event_row *e = item;
    snprintf(buf[0], CLI_CELL_SIZE, "%lld", (long long)e->id);
    cell[0] = buf[0];
    cell[1] = e->kind;
    cell[2] = e->status;
    snprintf(buf[3], CLI_CELL_SIZE, "%d/%d", e->attempts, e->max_attempts);
    cell[3] = buf[3];
    cell[4] = e->run_after;
    cell[5] = e->created_at;
    cell[6] = e->last_error;
}

static const cli_column event_cols[] = {
    {"ID", true}, {"KIND", false}, {"STATUS", false}, {"ATTEMPTS", true}, {"RUN_AFTER", false}, {"CREATED", false},
    {"LAST_ERROR", false}, {0},
};

static const cli_list_view event_view = {"events", "event", "events", event_cols,
                                         sizeof(bill_event_row), event_json, event_row};

static int events_list(cli_ctx *ctx, const cli_args *a)
{
    bill_page page;
    bill_events_stats st = {0};
    bill_event_rows rows = {0};
    char footer[160];
    int rc;
    const char *status = cli_opt(a, "status");
    if (cli_flag(a, "dead")) {
        if (status && strcmp(status, "dead") != 0)
            return cli_usage_error(ctx, "--dead and --status %s contradict each other", status);
        status = "dead";
    }
    if (cli_flag(a, "failing")) {
        if (status)
            return cli_usage_error(ctx, "--failing and --%s contradict each other",
                                   cli_flag(a, "dead") ? "dead" : "status");
        status = "failing";
    }
    if ((rc = cli_page_opts(ctx, a, &page)) != CLI_CONTINUE ||
        (rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    if ((rc = bill_events_list(ctx->db, status, cli_opt(a, "kind"), &page, &rows)) < 0 ||
        (rc = bill_events_stats_get(ctx->db, &st)) < 0) {
        bill_event_rows_clear(&rows);
        return cli_fail(ctx, rc);
    }
    json_object *extra = json_object_new_object();
    json_object_object_add(extra, "queue", stats_json(&st));
    snprintf(footer, sizeof footer, "; queue: %lld pending, %lld processing, %lld done, %lld dead",
             (long long)st.pending, (long long)st.processing, (long long)st.done,
             (long long)st.dead);
    rc = CLI_LIST_PRINT(ctx, &event_view, &rows, extra, footer);
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
static const char *const cli_event_kinds[] = {"order.paid",      "instance.poll",
                                              "notify",          "notify.send",
                                              "ticket.assigned", "notify.verification_code",
                                              "provider.action", NULL};

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
    {"status", "STATUS", "only pending | processing | done | dead | failing", 0},
    {"failing", NULL, "only events that failed and are still being retried (e.g. provider "
                      "actions that keep failing)", 0},
    {"kind", "KIND", "only this kind, e.g. order.paid", 0},
    CLI_PAGE_OPTDEFS,
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

CLI_GROUP(cli_events_cmd, "events",
          "Durable event queue: list, retry dead events, run once", events_subs);
