/*
 * dashboard.c — tab 1, what an operator keeps open: the book (customers,
 * instances, orders, tickets), money, revenue of the last 30 days as a bar
 * chart, the event queue, plugin interface health and the database.
 *
 * Every figure comes from one libbill call, bill_dashboard_get, so an
 * embedder's dashboard shows the same numbers. It refreshes every
 * --refresh seconds without flicker: the frame is drawn off-screen and
 * curses sends only the cells that differ — when no figure changed, that is
 * the "updated" time alone. The billing engine's figures (renewals due in
 * the next 7 days and overdue invoices, each as an amount and a count;
 * provider actions it queued that keep failing) are shown as absent ("—"),
 * never as 0, by a libbill that cannot give them.
 */
#include "tui.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ABSENT "—"

static int dash_refresh(tui_app *app)
{
    bill_dashboard *d = NULL;
    int rc = bill_dashboard_get(app->db, &app->actor, &d);
    if (rc < 0)
        return rc;
    bill_dashboard_free(app->dash);
    app->dash = d;
    app->dash_at = bill_time_now();
    app->dirty = true;
    return BILL_OK;
}

/* One "label   value" line of a block at (y, x), `w` cells wide. */
static void figure(WINDOW *win, int y, int x, int w, const char *label, const char *value,
                   tui_style st)
{
    int vw = ui_width(value);
    if (vw > w - 2)
        vw = w - 2;
    ui_put(win, y, x, w - vw - 1, false, ui_attr(ST_DIM), label);
    ui_put(win, y, x + w - vw, vw, true, ui_attr(st), value);
}

static void count(WINDOW *win, int y, int x, int w, const char *label, int64_t v, tui_style st)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    figure(win, y, x, w, label, buf, v ? st : ST_NORMAL);
}

static void money(WINDOW *win, int y, int x, int w, const char *label, bool present,
                  bill_money v)
{
    char buf[BILL_MONEY_BUFSZ];
    figure(win, y, x, w, label, present ? ui_money(v, buf) : ABSENT,
           present ? ST_NORMAL : ST_DIM);
}

/* An amount and how many invoices make it up ("45.00 (2)"), in `st` when
 * there are any; absent ("—") when this libbill has no billing engine. */
static void invoices(WINDOW *win, int y, int x, int w, const char *label, bool present,
                     int64_t n, bill_money v, tui_style st)
{
    char m[BILL_MONEY_BUFSZ], buf[BILL_MONEY_BUFSZ + 24];
    if (!present) {
        figure(win, y, x, w, label, ABSENT, ST_DIM);
        return;
    }
    snprintf(buf, sizeof buf, "%s (%lld)", ui_money(v, m), (long long)n);
    figure(win, y, x, w, label, buf, n ? st : ST_NORMAL);
}

/* Bars of revenue per day: each day `cw` cells wide, eighths of a block. */
static void sparkline(WINDOW *win, int y, int x, int width, const bill_dashboard *d)
{
    static const char *const bars[] = {" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
    bill_money peak = 0;
    for (int i = 0; i < BILL_DASHBOARD_DAYS; i++)
        if (d->revenue_by_day[i] > peak)
            peak = d->revenue_by_day[i];
    int cw = width / BILL_DASHBOARD_DAYS;
    if (cw < 1)
        cw = 1;
    if (cw > 3)
        cw = 3;
    for (int i = 0; i < BILL_DASHBOARD_DAYS; i++) {
        bill_money v = d->revenue_by_day[i];
        /* any revenue shows at least the lowest bar; none is a dot */
        int level = peak > 0 ? (int)((v * 8 + peak - 1) / peak) : 0;
        const char *bar = v > 0 ? bars[level < 1 ? 1 : level > 8 ? 8 : level] : "·";
        attr_t a = v > 0 ? ui_attr(i == BILL_DASHBOARD_DAYS - 1 ? ST_OK : ST_TITLE)
                         : ui_attr(ST_DIM);
        for (int k = 0; k < cw; k++)
            ui_put(win, y, x + i * cw + k, 1, false, a, bar);
    }
    /* the first and last day under the chart */
    bill_date today, first;
    char a[BILL_DATE_BUFSZ] = "", b[BILL_DATE_BUFSZ] = "";
    if (bill_date_parse(d->today, &today) == BILL_OK &&
        bill_date_add_days(&first, today, -(BILL_DASHBOARD_DAYS - 1)) == BILL_OK) {
        bill_date_format(first, a);
        bill_date_format(today, b);
    }
    int span = cw * BILL_DASHBOARD_DAYS;
    ui_put(win, y + 1, x, 10, false, ui_attr(ST_DIM), a);
    if (span >= 22)
        ui_put(win, y + 1, x + span - 10, 10, false, ui_attr(ST_DIM), b);
}

static void title(WINDOW *win, int y, int x, int w, const char *t)
{
    ui_put(win, y, x, w, false, ui_attr(ST_TITLE), t);
}

static void dash_draw(tui_app *app, WINDOW *win, int height, int width)
{
    const bill_dashboard *d = app->dash;
    char buf[96], b2[32];
    if (!d) {
        ui_put(win, 1, 2, width - 4, false, ui_attr(ST_DIM), "loading the figures…");
        return;
    }
    /* two columns on top, three below; all scale with the width */
    int col2 = width / 2, w1 = col2 - 4, w2 = width - col2 - 3;
    if (w1 > 40)
        w1 = 40;
    if (w2 > 44)
        w2 = 44;
    int y = 0;
    title(win, y, 2, w1, "The book");
    snprintf(buf, sizeof buf, "Money (%s)", app->config->billing.currency);
    title(win, y, col2, w2, buf);
    y++;
    snprintf(buf, sizeof buf, "%lld (%lld active)", (long long)d->customers,
             (long long)d->customers_active);
    figure(win, y, 2, w1, "Customers", buf, ST_NORMAL);
    money(win, y, col2, w2, "Balance total", true, d->balance_total);
    y++;
    count(win, y, 2, w1, "Instances running", d->instances_running, ST_OK);
    money(win, y, col2, w2, "Owed on credit", true, d->balance_owed);
    y++;
    count(win, y, 2, w1, "Instances suspended", d->instances_suspended, ST_WARN);
    money(win, y, col2, w2, "Revenue today", true, d->revenue_today);
    y++;
    count(win, y, 2, w1, "Instances in error", d->instances_error, ST_ERROR);
    money(win, y, col2, w2, "Revenue this month", true, d->revenue_month);
    y++;
    count(win, y, 2, w1, "Pending orders", d->orders_pending, ST_WARN);
    invoices(win, y, col2, w2, "Invoices due in 7 days", d->has_billing, d->invoices_due_7d,
             d->invoices_due_7d_total, ST_WARN);
    y++;
    count(win, y, 2, w1, "Open tickets", d->tickets_open, ST_WARN);
    invoices(win, y, col2, w2, "Overdue", d->has_billing, d->invoices_overdue, d->overdue_total,
             ST_ERROR);
    y++;
    if (d->has_billing)
        count(win, y, col2, w2, "Billing actions failing", d->billing_actions_failing, ST_ERROR);
    else
        figure(win, y, col2, w2, "Billing actions failing", ABSENT, ST_DIM);
    y++;

    /* the chart goes first when the screen is short */
    bool chart = height >= 19;
    if (chart) {
        y++;
        bill_money peak = 0;
        for (int i = 0; i < BILL_DASHBOARD_DAYS; i++)
            if (d->revenue_by_day[i] > peak)
                peak = d->revenue_by_day[i];
        char pk[BILL_MONEY_BUFSZ];
        snprintf(buf, sizeof buf, "Revenue by day, last %d days (peak %s)", BILL_DASHBOARD_DAYS,
                 ui_money(peak, pk));
        title(win, y++, 2, width - 4, buf);
        sparkline(win, y, 2, width - 4, d);
        y += 2;
    }
    y++;
    int c3 = (width - 4) / 3, wc = c3 - 2;
    if (wc > 30)
        wc = 30;
    int xa = 2, xb = 2 + c3, xc = 2 + 2 * c3;
    title(win, y, xa, wc, "Event queue");
    title(win, y, xb, wc, "Plugin interfaces");
    title(win, y, xc, wc, "Database");
    y++;
    count(win, y, xa, wc, "Pending", d->events_pending, ST_NORMAL);
    snprintf(buf, sizeof buf, "%lld of %lld", (long long)d->interfaces_enabled,
             (long long)d->interfaces_total);
    figure(win, y, xb, wc, "Enabled", buf, ST_NORMAL);
    figure(win, y, xc, wc, "Size", ui_bytes(d->db_size_bytes, b2), ST_NORMAL);
    y++;
    count(win, y, xa, wc, "Failing", d->events_failing, ST_WARN);
    count(win, y, xb, wc, "Healthy", d->interfaces_healthy, ST_OK);
    snprintf(buf, sizeof buf, "%lld / %lld", (long long)d->db_connections,
             (long long)d->db_max_connections);
    figure(win, y, xc, wc, "Connections", buf, ST_NORMAL);
    y++;
    count(win, y, xa, wc, "Processing", d->events_processing, ST_NORMAL);
    count(win, y, xb, wc, "Unhealthy", d->interfaces_unhealthy, ST_ERROR);
    snprintf(buf, sizeof buf, "%zu of %zu", d->migrations_applied, d->migrations_known);
    figure(win, y, xc, wc, "Migrations", buf,
           d->migrations_pending || d->migrations_changed ? ST_ERROR : ST_NORMAL);
    y++;
    count(win, y, xa, wc, "Dead", d->events_dead, ST_ERROR);
    count(win, y, xb, wc, "Unchecked", d->interfaces_unchecked, ST_WARN);
    snprintf(buf, sizeof buf, "PostgreSQL %s", d->db_server_version);
    figure(win, y, xc, wc, "Server", buf, ST_NORMAL);
    y++;
    if (y + 1 < height) {
        char at[BILL_TIME_BUFSZ] = "";
        if (bill_time_format_rfc3339(d->generated_at, at) < 0)
            at[0] = '\0';
        /* "2026-03-01T12:00:05Z" -> "2026-03-01 12:00:05" */
        snprintf(buf, sizeof buf, "updated %.10s %.8s UTC · every %d s%s", at, at + 11,
                 app->refresh_secs, d->has_billing ? "" : " · — = needs the billing engine");
        ui_put(win, y + 1 < height ? y + 1 : y, 2, width - 4, false, ui_attr(ST_DIM), buf);
    }
}

const tui_tab_ops tab_dashboard = {
    .name = "Dashboard",
    .update = dash_refresh,
    .draw = dash_draw,
};
