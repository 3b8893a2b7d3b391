/*
 * main.c — bill-tui: options and startup checks, then the key loop that
 * draws the tab bar, the current tab, the detail panel, dialogs, the help
 * overlay, the status line and the footer.
 *
 * Startup order matters for the terminal: the checks that need no screen
 * (options, a terminal on stdin/stdout, the configuration) run first and
 * print on stderr; then curses starts and shows "connecting" while the
 * database opens (the embedded PostgreSQL may take seconds to start). If the
 * database cannot be used the terminal is restored before the reason is
 * printed, so it stays on the shell screen.
 *
 * Drawing never clears the physical screen: every frame redraws the windows'
 * contents (werase + draw), copies them with wnoutrefresh and sends only the
 * differences with one doupdate, so the auto-refreshing dashboard does not
 * flicker and a refresh that changed nothing sends nothing at all.
 */
#include "tui.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef BILL_TUI_VERSION
#define BILL_TUI_VERSION "unknown"
#endif

/* How often the key loop wakes to look at signals and timers. */
#define TICK_MS 250

static const tui_tab_ops *const tabs[TAB_COUNT] = {
    &tab_dashboard, &tab_admin_users, &tab_cust_users, &tab_customers,
    &tab_products,  &tab_plugins,     &tab_instances,  &tab_db_status,
};

const tui_tab_ops *tui_tab(int tab)
{
    return tabs[tab >= 0 && tab < TAB_COUNT ? tab : 0];
}

static const char usage_text[] =
    "usage: bill-tui [--config FILE] [--database-url URL] [--refresh SECS] [--now INSTANT]\n";

static const char help_text[] =
    "bill-tui — the interactive libbill console (also: bill-cli tui)\n"
    "\n"
    "Eight tabs: Dashboard, Admin Users, Cust Users, Customers, Products, Plugins,\n"
    "Instances, DB Status. It reads and changes the database directly through\n"
    "libbill, with the console's privilege; every change is written to the\n"
    "operation log as done by \"tui:<user>\" ($SUDO_USER, else $USER).\n"
    "\n"
    "Options:\n"
    "  --config FILE         read FILE instead of ./config.toml\n"
    "  --database-url URL    database to use (overrides DATABASE_URL and [db].url)\n"
    "  --refresh SECS        dashboard refresh interval, 1..3600 (default 5)\n"
    "  --now INSTANT         act as if the clock read INSTANT (RFC 3339; BILL_NOW does\n"
    "                        the same), as bill-cli --now; the title shows it\n"
    "  --version             print the version and exit\n"
    "  -h, --help            this help\n"
    "\n"
    "Without any database setting it uses the embedded PostgreSQL in ./var/pg,\n"
    "exactly as bill-cli does.\n"
    "\n"
    "Keys:\n"
    "  q, Esc                quit (the terminal is restored)\n"
    "  Tab, Shift+Tab        next / previous tab\n"
    "  1 .. 8                jump to a tab\n"
    "  Up/Down, j/k          move in a list (or scroll the detail panel)\n"
    "  PgUp/PgDn, g/G        page up / down, first / last row\n"
    "  Enter                 open the detail panel of the row\n"
    "  Backspace             close the detail panel\n"
    "  /                     search or filter the list (Enter applies, Esc cancels)\n"
    "  r                     refresh\n"
    "  d                     delete / terminate (asks y/n)\n"
    "  e / x                 enable / disable (plugin interfaces, admin users)\n"
    "  h                     plugin interface health check\n"
    "  s / t / b             start / stop / reboot an instance\n"
    "  y / n                 answer a dialog\n"
    "  ?                     the key help on screen\n"
    "\n"
    "Needs a terminal (exit status 2 otherwise); 80x24 or larger; NO_COLOR=1 turns\n"
    "colours off. Exit status: 0 after q, 1 when the database cannot be used.\n";

/* Every key, for the ? overlay: key column, what it does. */
static const char *const help_keys[][2] = {
    {"q  Esc", "quit"},
    {"Tab  Shift+Tab", "next / previous tab"},
    {"1 .. 8", "jump to a tab"},
    {"↑ ↓  j k", "move (scroll in the detail panel)"},
    {"PgUp PgDn  g G", "page up / down, first / last row"},
    {"Enter", "open the detail panel"},
    {"Backspace", "close the detail panel"},
    {"/", "search / filter the list"},
    {"r", "refresh"},
    {"d", "delete / terminate (y/n)"},
    {"e  x", "enable / disable (plugins, admin users)"},
    {"h", "health check (plugins)"},
    {"s  t  b", "start / stop / reboot (instances)"},
    {"y  n", "answer a dialog"},
    {"?", "this help"},
};

/* ---- libbill's log lines: to the status line, never onto the screen ----- */

static tui_app *log_app;

static void log_sink(const bill_log_record *rec, void *user)
{
    (void)user;
    if (!log_app || rec->level > BILL_LOG_LEVEL_WARN)
        return;
    snprintf(log_app->status, sizeof log_app->status, "%s: %s",
             rec->level == BILL_LOG_LEVEL_ERROR ? "error" : "warning", rec->message);
    log_app->status_kind = MSG_ERROR;
    log_app->dirty = true;
}

/* ---- messages ------------------------------------------------------------- */

void tui_msg(tui_app *app, tui_msg_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(app->status, sizeof app->status, fmt, ap);
    va_end(ap);
    app->status_kind = kind;
    app->dirty = true;
}

bool tui_is_db_error(int rc)
{
    return rc == BILL_EUNAVAILABLE || rc == BILL_EDB || rc == BILL_ETIMEOUT;
}

void tui_fail(tui_app *app, int rc, const char *what)
{
    const bill_error *e = bill_error_last();
    const char *msg = e->code == rc && e->message[0] ? e->message : bill_strerror(rc);
    if (tui_is_db_error(rc)) {
        app->db_failing = true;
        app->next_refresh = bill_time_now() + (int64_t)app->refresh_secs * 1000000;
        tui_msg(app, MSG_ERROR, "database error, retrying every %d s (%s): %s", app->refresh_secs,
                what, msg);
    } else {
        tui_msg(app, MSG_ERROR, "cannot %s: %s", what, msg);
    }
}

/* ---- layout ------------------------------------------------------------- */

static void destroy_windows(tui_app *app)
{
    WINDOW **ws[] = {&app->w_bar, &app->w_ctx, &app->w_body, &app->w_status, &app->w_footer};
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
        if (*ws[i]) {
            delwin(*ws[i]);
            *ws[i] = NULL;
        }
}

static bool too_small(void)
{
    return LINES < 10 || COLS < 40;
}

static void layout(tui_app *app)
{
    destroy_windows(app);
    /* Keys are read through stdscr, which is never drawn on: copy it out
     * once now (a resize touched it), or the next read would refresh it —
     * blank — over everything drawn since. */
    werase(stdscr);
    wnoutrefresh(stdscr);
    app->dirty = true;
    if (too_small())
        return;
    app->body_h = LINES - 4;
    app->body_w = COLS;
    app->w_bar = newwin(1, COLS, 0, 0);
    app->w_ctx = newwin(1, COLS, 1, 0);
    app->w_body = newwin(app->body_h, COLS, 2, 0);
    app->w_status = newwin(1, COLS, LINES - 2, 0);
    app->w_footer = newwin(1, COLS, LINES - 1, 0);
    app->dirty = true;
}

/* ---- drawing -------------------------------------------------------------- */

static void draw_bar(tui_app *app)
{
    WINDOW *w = app->w_bar;
    werase(w);
    /* Numbered tabs when they fit (112 cells); "Name|Name" (79) otherwise. */
    int need = 1 + TAB_COUNT - 1;
    for (int t = 0; t < TAB_COUNT; t++)
        need += ui_width(tabs[t]->name) + 4;
    bool numbered = COLS >= need;
    int x = numbered ? 1 : 0;
    for (int t = 0; t < TAB_COUNT; t++) {
        char label[48];
        if (numbered)
            snprintf(label, sizeof label, " %d %s ", t + 1, tabs[t]->name);
        else
            snprintf(label, sizeof label, "%s", tabs[t]->name);
        attr_t a = t == app->tab ? ui_attr(ST_SELECTED) | A_BOLD : ui_attr(ST_NORMAL);
        x += ui_puts(w, 0, x, a, label);
        if (t + 1 < TAB_COUNT)
            x += ui_puts(w, 0, x, ui_attr(ST_DIM), numbered ? " " : "|");
    }
    wnoutrefresh(w);
}

static void draw_ctx(tui_app *app)
{
    WINDOW *w = app->w_ctx;
    werase(w);
    char left[320], right[200];
    const tui_list *l = &app->lists[app->tab];
    if (app->tab == TAB_DASHBOARD || !l->loaded) {
        snprintf(left, sizeof left, "%s", tabs[app->tab]->name);
    } else {
        char range[64] = "";
        if (l->total && l->pages > 1)
            snprintf(range, sizeof range, " · %llu-%llu · page %u/%u",
                     (unsigned long long)(l->page - 1) * TUI_PAGE_SIZE + 1,
                     (unsigned long long)(l->page - 1) * TUI_PAGE_SIZE + l->rows.nrows, l->page,
                     l->pages);
        char filt[180] = "";
        if (l->search[0])
            snprintf(filt, sizeof filt, " · %s \"%s\" (%zu shown)",
                     tabs[app->tab]->server_search ? "search" : "filter", l->search, l->nview);
        snprintf(left, sizeof left, "%s · %llu row%s%s%s", tabs[app->tab]->name,
                 (unsigned long long)l->total, l->total == 1 ? "" : "s", range, filt);
    }
    /* who, where and (when not the wall clock) when, on the right: the
     * clock stays whatever room there is, then who, then where */
    int lw0 = ui_width(left), rw = 0;
    for (int variant = 0; variant < 3; variant++) {
        if (variant == 0)
            snprintf(right, sizeof right, "%s%stui:%s · %s", app->clock_label,
                     app->clock_label[0] ? " · " : "", app->user, app->db_label);
        else if (variant == 1)
            snprintf(right, sizeof right, "%s%stui:%s", app->clock_label,
                     app->clock_label[0] ? " · " : "", app->user);
        else
            snprintf(right, sizeof right, "%s", app->clock_label);
        rw = ui_width(right);
        if (lw0 + rw + 3 <= COLS)
            break;
    }
    if (lw0 + rw + 3 > COLS && !app->clock_label[0])
        rw = 0;
    int lw = rw ? COLS - rw - 3 : COLS - 2;
    if (lw < 1)
        lw = 1;
    ui_put(w, 0, 1, lw, false, ui_attr(ST_TITLE), left);
    if (rw)
        ui_put(w, 0, COLS - rw - 1 > 0 ? COLS - rw - 1 : 0, rw < COLS ? rw : COLS,
               false, ui_attr(app->clock_label[0] ? ST_WARN : ST_DIM), right);
    wnoutrefresh(w);
}

static void draw_detail(tui_app *app, WINDOW *w, int y0, int x0, int h, int wd)
{
    /* a framed panel: title on the top border, the text scrolls inside */
    wattrset(w, ui_attr(ST_DIM));
    mvwhline(w, y0, x0, ACS_HLINE, wd);
    mvwhline(w, y0 + h - 1, x0, ACS_HLINE, wd);
    mvwvline(w, y0, x0, ACS_VLINE, h);
    mvwvline(w, y0, x0 + wd - 1, ACS_VLINE, h);
    mvwaddch(w, y0, x0, ACS_ULCORNER);
    mvwaddch(w, y0, x0 + wd - 1, ACS_URCORNER);
    mvwaddch(w, y0 + h - 1, x0, ACS_LLCORNER);
    mvwaddch(w, y0 + h - 1, x0 + wd - 1, ACS_LRCORNER);
    wattrset(w, A_NORMAL);
    for (int y = y0 + 1; y < y0 + h - 1; y++)
        mvwhline(w, y, x0 + 1, ' ', wd - 2);
    char title[200];
    snprintf(title, sizeof title, " %s ", app->detail_title);
    ui_put(w, y0, x0 + 2, ui_width(title) < wd - 4 ? ui_width(title) : wd - 4, false,
           ui_attr(ST_TITLE), title);
    int inner = h - 2;
    if (inner < 1)
        return;
    if (app->detail.n > (size_t)inner && app->detail_top > app->detail.n - (size_t)inner)
        app->detail_top = app->detail.n - (size_t)inner;
    if (app->detail.n <= (size_t)inner)
        app->detail_top = 0;
    for (int i = 0; i < inner; i++) {
        size_t li = app->detail_top + (size_t)i;
        if (li >= app->detail.n)
            break;
        const char *line = app->detail.lines[li];
        tui_style st = app->detail.styles[li];
        ui_put(w, y0 + 1 + i, x0 + 2, wd - 4, false, ui_attr(st), line);
        if (st == ST_KV && wd - 4 > TUI_KV_CELLS) {
            /* the key column again, dimmed */
            char key[256];
            snprintf(key, sizeof key, "%.*s", (int)ui_prefix_bytes(line, TUI_KV_CELLS), line);
            ui_put(w, y0 + 1 + i, x0 + 2, TUI_KV_CELLS, false, ui_attr(ST_DIM), key);
        }
    }
    if (app->detail.n > (size_t)inner) {
        char more[48];
        snprintf(more, sizeof more, " %zu-%zu of %zu ", app->detail_top + 1,
                 app->detail_top + (size_t)inner < app->detail.n
                     ? app->detail_top + (size_t)inner : app->detail.n,
                 app->detail.n);
        int mw = ui_width(more);
        if (mw < wd - 4)
            ui_put(w, y0 + h - 1, x0 + wd - mw - 2, mw, false, ui_attr(ST_DIM), more);
    }
}

static void draw_body(tui_app *app)
{
    WINDOW *w = app->w_body;
    werase(w);
    const tui_tab_ops *ops = tabs[app->tab];
    if (ops->draw) {
        ops->draw(app, w, app->body_h, app->body_w);
    } else if (app->detail_open && app->body_w >= 120) {
        /* wide: the list stays on the left, the panel on the right */
        int lw = app->body_w * 11 / 20;
        WINDOW *left = derwin(w, app->body_h, lw, 0, 0);
        if (left) {
            list_draw(app, app->tab, left, app->body_h, lw);
            delwin(left);
        }
        draw_detail(app, w, 0, lw, app->body_h, app->body_w - lw);
    } else if (app->detail_open) {
        draw_detail(app, w, 0, 0, app->body_h, app->body_w);
    } else {
        list_draw(app, app->tab, w, app->body_h, app->body_w);
    }
    wnoutrefresh(w);
}

static void draw_status(tui_app *app)
{
    WINDOW *w = app->w_status;
    werase(w);
    tui_style st = app->status_kind == MSG_ERROR ? ST_ERROR
                   : app->status_kind == MSG_OK  ? ST_OK
                                                 : ST_DIM;
    ui_put(w, 0, 1, COLS - 2, false, ui_attr(st), app->status);
    wnoutrefresh(w);
}

/* One footer entry: key, what it does, and how soon it gives way. */
typedef struct {
    const char *key, *label;
    int prio; /* 0 = always shown */
} hint;

static void draw_hints(WINDOW *w, const hint *h, int n)
{
    /* keep the most important entries that fit, in their order */
    bool on[32] = {false};
    int total = 0;
    for (int p = 0; p <= 5; p++)
        for (int i = 0; i < n && i < 32; i++) {
            if (h[i].prio != p)
                continue;
            int need = ui_width(h[i].key) + 1 + ui_width(h[i].label) + 2;
            if (total + need <= COLS - 1) {
                on[i] = true;
                total += need;
            }
        }
    werase(w);
    int x = 1;
    for (int i = 0; i < n && i < 32; i++) {
        if (!on[i])
            continue;
        x += ui_puts(w, 0, x, ui_attr(ST_KEY), h[i].key);
        x += ui_puts(w, 0, x, A_NORMAL, " ");
        x += ui_puts(w, 0, x, ui_attr(ST_DIM), h[i].label);
        x += ui_puts(w, 0, x, A_NORMAL, "  ");
    }
    wnoutrefresh(w);
}

/* Split "e/x enable/disable  h health" (a tab's hint) into entries. */
static int tab_hints(const char *spec, hint *out, int max, char *store, size_t storesz)
{
    int n = 0;
    if (!spec)
        return 0;
    snprintf(store, storesz, "%s", spec);
    char *save = NULL;
    for (char *tok = strtok_r(store, ",", &save); tok && n < max; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        char *sp = strchr(tok, ' ');
        if (!sp)
            continue;
        *sp = '\0';
        out[n].key = tok;
        out[n].label = sp + 1;
        out[n].prio = 0;
        n++;
    }
    return n;
}

static void draw_footer(tui_app *app)
{
    hint h[24];
    char store[256];
    int n = 0;
    const tui_tab_ops *ops = tabs[app->tab];
    if (app->help_open) {
        h[n++] = (hint){"any key", "closes the help", 0};
    } else if (ops->draw) {
        h[n++] = (hint){"1-8", "tabs", 1};
        h[n++] = (hint){"Tab", "next", 2};
        h[n++] = (hint){"r", "refresh", 0};
        h[n++] = (hint){"?", "help", 0};
        h[n++] = (hint){"q", "quit", 0};
    } else if (app->detail_open) {
        h[n++] = (hint){"Backspace", "close", 0};
        h[n++] = (hint){"↑↓", "scroll", 2};
        n += tab_hints(ops->keys_hint, h + n, 8, store, sizeof store);
        h[n++] = (hint){"r", "refresh", 1};
        h[n++] = (hint){"?", "help", 1};
        h[n++] = (hint){"q", "quit", 0};
    } else {
        h[n++] = (hint){"↑↓", "move", 3};
        h[n++] = (hint){"Enter", "details", 0};
        h[n++] = (hint){"/", "search", 1};
        n += tab_hints(ops->keys_hint, h + n, 8, store, sizeof store);
        h[n++] = (hint){"r", "refresh", 1};
        h[n++] = (hint){"PgDn", "page", 4};
        h[n++] = (hint){"?", "help", 2};
        h[n++] = (hint){"q", "quit", 0};
    }
    draw_hints(app->w_footer, h, n);
}

static void draw_help(void)
{
    int n = (int)(sizeof help_keys / sizeof help_keys[0]);
    int h = n + 4, w = 62;
    if (h > LINES)
        h = LINES;
    if (w > COLS)
        w = COLS;
    WINDOW *win = newwin(h, w, (LINES - h) / 2, (COLS - w) / 2);
    if (!win)
        return;
    werase(win);
    wattrset(win, ui_attr(ST_DIM));
    box(win, 0, 0);
    wattrset(win, A_NORMAL);
    ui_put(win, 0, 2, 12, false, ui_attr(ST_TITLE), " Keys (?) ");
    for (int i = 0; i < n && i + 2 < h - 1; i++) {
        ui_put(win, i + 2, 2, 17, false, ui_attr(ST_KEY), help_keys[i][0]);
        ui_put(win, i + 2, 20, w - 22, false, A_NORMAL, help_keys[i][1]);
    }
    wnoutrefresh(win);
    delwin(win);
}

static void draw_too_small(void)
{
    erase();
    mvaddstr(0, 0, "terminal too small");
    mvaddstr(1, 0, "bill-tui needs 40x10 at least");
    mvaddstr(2, 0, "(80x24 or larger is best)");
    mvaddstr(3, 0, "q quits");
    wnoutrefresh(stdscr);
}

static void draw(tui_app *app)
{
    if (too_small() || !app->w_body) {
        draw_too_small();
        doupdate();
        app->dirty = false;
        return;
    }
    draw_bar(app);
    draw_ctx(app);
    draw_body(app);
    draw_status(app);
    draw_footer(app);
    if (app->help_open)
        draw_help();
    doupdate();
    app->dirty = false;
}

/* ---- dialogs ---------------------------------------------------------------- */

/* Redraw after a resize inside a modal loop. */
static void modal_resize(tui_app *app)
{
    layout(app);
    draw(app);
}

bool tui_confirm(tui_app *app, const char *title, const char *question)
{
    for (;;) {
        if (too_small()) {
            draw(app);
        } else {
            draw(app);
            /* the footer says what answers */
            hint h[] = {{"y", "yes", 0}, {"n", "no", 0}, {"Esc", "no", 0}};
            draw_hints(app->w_footer, h, 3);
            int w = COLS - 8 < 70 ? COLS - 8 : 70, qw = ui_width(question);
            int lines = (qw + w - 5) / (w - 4) + 1; /* + 1: breaks at spaces */
            if (lines < 1)
                lines = 1;
            if (lines > 6)
                lines = 6;
            int h2 = lines + 5;
            WINDOW *win = newwin(h2, w, (LINES - h2) / 2, (COLS - w) / 2);
            if (win) {
                werase(win);
                wattrset(win, ui_attr(ST_WARN));
                box(win, 0, 0);
                wattrset(win, A_NORMAL);
                char t[160];
                snprintf(t, sizeof t, " %s ", title);
                ui_put(win, 0, 2, ui_width(t) < w - 4 ? ui_width(t) : w - 4, false,
                       ui_attr(ST_TITLE), t);
                /* wrap the question at spaces, by cells */
                const char *p = question;
                for (int i = 0; i < lines && *p; i++) {
                    while (*p == ' ')
                        p++;
                    size_t take = ui_wrap_bytes(p, w - 4);
                    char chunk[512];
                    snprintf(chunk, sizeof chunk, "%.*s", (int)take, p);
                    ui_put(win, 2 + i, 2, w - 4, false, A_NORMAL, chunk);
                    p += take;
                }
                ui_put(win, h2 - 2, 2, w - 4, false, ui_attr(ST_KEY), "y = yes    n = no");
                wnoutrefresh(win);
                delwin(win);
            }
            doupdate();
        }
        wint_t ch;
        int r = wget_wch(stdscr, &ch);
        if (term_quit_signal())
            return false;
        if (r == ERR)
            continue;
        if (r == KEY_CODE_YES && ch == KEY_RESIZE) {
            modal_resize(app);
            continue;
        }
        if (r == OK && (ch == L'y' || ch == L'Y')) {
            app->dirty = true;
            return true;
        }
        if (r == OK && (ch == L'n' || ch == L'N' || ch == 27)) {
            tui_msg(app, MSG_INFO, "cancelled: nothing changed");
            return false;
        }
    }
}

/* `d` on a tab that deletes: ask "Delete <what> "label"? <note>", then the
 * tab's libbill call; the status line says what happened. */
static void delete_row(tui_app *app, const tui_tab_ops *ops, const char *id, const char *label)
{
    char title[64], q[512], failed[96];
    snprintf(title, sizeof title, "Delete %s", ops->remove_what);
    snprintf(q, sizeof q, "Delete %s \"%s\"? %s", ops->remove_what, label, ops->remove_note);
    if (!tui_confirm(app, title, q))
        return;
    int rc = ops->remove(app->db, &app->actor, id);
    if (rc < 0) {
        snprintf(failed, sizeof failed, "delete the %s", ops->remove_what);
        tui_fail(app, rc, failed);
        return;
    }
    app->detail_open = false;
    tui_reload(app);
    tui_msg(app, MSG_OK, "%s \"%s\" deleted", ops->remove_what, label);
}

/* Remove the last UTF-8 character of text. */
static void drop_last_char(char *text)
{
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] & 0xC0) == 0x80)
        n--;
    if (n > 0)
        n--;
    text[n] = '\0';
}

/* `/`: read the search text on the status line. Returns true when applied
 * (Enter), false when cancelled (Esc). */
static bool read_search(tui_app *app, char *buf, size_t size)
{
    char text[128];
    snprintf(text, sizeof text, "%s", buf);
    curs_set(1);
    for (;;) {
        draw(app);
        if (app->w_status) {
            hint h[] = {{"Enter", "apply (empty: clear)", 0}, {"Esc", "cancel", 0}};
            draw_hints(app->w_footer, h, 2);
            werase(app->w_status);
            ui_puts(app->w_status, 0, 1, ui_attr(ST_KEY), "/");
            int x = 2 + ui_puts(app->w_status, 0, 2, A_NORMAL, text);
            wmove(app->w_status, 0, x < COLS - 1 ? x : COLS - 1);
            wnoutrefresh(app->w_status);
            doupdate();
        }
        wint_t ch;
        int r = wget_wch(stdscr, &ch);
        if (term_quit_signal())
            break;
        if (r == ERR)
            continue;
        if (r == KEY_CODE_YES) {
            if (ch == KEY_RESIZE)
                modal_resize(app);
            else if (ch == KEY_BACKSPACE)
                drop_last_char(text);
            else if (ch == KEY_ENTER)
                goto apply;
            continue;
        }
        if (ch == 27)
            break;
        if (ch == L'\r' || ch == L'\n')
            goto apply;
        if (ch == 127 || ch == 8) {
            drop_last_char(text);
            continue;
        }
        if (ch < 32)
            continue;
        char mb[MB_LEN_MAX + 1];
        mbstate_t st;
        memset(&st, 0, sizeof st);
        size_t n = wcrtomb(mb, (wchar_t)ch, &st);
        size_t len = strlen(text);
        if (n != (size_t)-1 && len + n < sizeof text) {
            memcpy(text + len, mb, n);
            text[len + n] = '\0';
        }
    }
    curs_set(0);
    app->dirty = true;
    return false;
apply:
    curs_set(0);
    snprintf(buf, size, "%s", text);
    app->dirty = true;
    return true;
}

/* ---- refreshing -------------------------------------------------------------- */

static void open_detail(tui_app *app, const char *key_in)
{
    const tui_tab_ops *ops = tabs[app->tab];
    if (!ops->detail || !key_in)
        return;
    /* key_in may be app->detail_key itself (a refresh reopens the panel):
     * copy it first, the snprintf below must not read what it writes */
    char key[sizeof app->detail_key];
    snprintf(key, sizeof key, "%s", key_in);
    tui_text t = {0};
    char title[sizeof app->detail_title] = "";
    int rc = ops->detail(app, key, &t, title, sizeof title);
    if (rc < 0) {
        tui_text_clear(&t);
        tui_fail(app, rc, "open the details");
        if (rc == BILL_ENOTFOUND)
            app->detail_open = false;
        return;
    }
    bool same = app->detail_open && strcmp(app->detail_key, key) == 0;
    tui_text_clear(&app->detail);
    app->detail = t;
    if (!same)
        app->detail_top = 0;
    snprintf(app->detail_key, sizeof app->detail_key, "%s", key);
    snprintf(app->detail_title, sizeof app->detail_title, "%s", title);
    app->detail_open = true;
    app->dirty = true;
}

/* Fetch what the current tab shows. Returns the libbill code. */
static int refresh_tab(tui_app *app)
{
    const tui_tab_ops *ops = tabs[app->tab];
    int rc;
    if (ops->update) {
        rc = ops->update(app);
    } else {
        tui_list *l = &app->lists[app->tab];
        char key[64] = "";
        const char *k = list_current_key(l);
        if (k)
            snprintf(key, sizeof key, "%s", k);
        rc = list_load(app, app->tab, l->loaded ? l->page : 1);
        if (rc == BILL_OK && key[0]) {
            /* stay on the same row when it is still there */
            for (size_t i = 0; i < l->nview; i++)
                if (strcmp(l->rows.keys[l->view[i]], key) == 0)
                    l->cursor = i;
        }
        if (rc == BILL_OK && app->detail_open)
            open_detail(app, app->detail_key);
    }
    if (rc < 0) {
        tui_fail(app, rc, "load the data");
    } else if (app->db_failing) {
        app->db_failing = false;
        tui_msg(app, MSG_OK, "database reachable again");
    }
    app->next_refresh = bill_time_now() + (int64_t)app->refresh_secs * 1000000;
    app->dirty = true;
    return rc;
}

void tui_reload(tui_app *app)
{
    refresh_tab(app);
}

static void switch_tab(tui_app *app, int tab)
{
    if (tab < 0)
        tab = TAB_COUNT - 1;
    tab %= TAB_COUNT;
    if (tab == app->tab && app->lists[tab].loaded)
        return;
    app->tab = tab;
    app->detail_open = false;
    tui_text_clear(&app->detail);
    app->dirty = true;
    if (tabs[tab]->update || !app->lists[tab].loaded || app->db_failing)
        refresh_tab(app);
}

/* ---- keys ---------------------------------------------------------------------- */

/* Returns false when the program should quit. */
static bool handle_key(tui_app *app, int r, wint_t ch)
{
    const tui_tab_ops *ops = tabs[app->tab];
    tui_list *l = &app->lists[app->tab];
    bool fkey = r == KEY_CODE_YES;

    if (fkey && ch == KEY_RESIZE) {
        layout(app);
        return true;
    }
    if (app->help_open) {
        app->help_open = false;
        app->dirty = true;
        return true;
    }
    if (too_small())
        return !(!fkey && (ch == L'q' || ch == 27));
    if (!fkey && (ch == L'q' || ch == 27))
        return false;
    if (!fkey && ch == L'?') {
        app->help_open = true;
        app->dirty = true;
        return true;
    }
    if (!fkey && ch == L'\t') {
        switch_tab(app, app->tab + 1);
        return true;
    }
    if (fkey && ch == KEY_BTAB) {
        switch_tab(app, app->tab - 1);
        return true;
    }
    if (!fkey && ch >= L'1' && ch <= L'8') {
        switch_tab(app, (int)(ch - L'1'));
        return true;
    }
    bool back = (fkey && ch == KEY_BACKSPACE) || (!fkey && (ch == 127 || ch == 8));
    if (back) {
        if (app->detail_open) {
            app->detail_open = false;
            tui_text_clear(&app->detail);
            app->dirty = true;
        }
        return true;
    }
    if (!fkey && ch == L'r') {
        /* a tab may do more first (plugins rescan the directory) */
        if (ops->action)
            ops->action(app, 'r', list_current_key(l), list_current_label(l));
        if (refresh_tab(app) == BILL_OK && !app->db_failing &&
            app->status_kind != MSG_ERROR)
            tui_msg(app, MSG_INFO, "refreshed");
        return true;
    }
    if (ops->draw)
        return true; /* the dashboard has no rows */

    int page_rows = app->body_h > 4 ? app->body_h - 3 : 1;
    bool up = (fkey && ch == KEY_UP) || (!fkey && ch == L'k');
    bool down = (fkey && ch == KEY_DOWN) || (!fkey && ch == L'j');
    bool pgup = fkey && ch == KEY_PPAGE, pgdn = fkey && ch == KEY_NPAGE;
    if (app->detail_open && (up || down || pgup || pgdn)) {
        long d = up ? -1 : down ? 1 : pgup ? -page_rows : page_rows;
        long top = (long)app->detail_top + d;
        app->detail_top = top < 0 ? 0 : (size_t)top;
        app->dirty = true;
        return true;
    }
    if (up || down || pgup || pgdn) {
        list_move(app, app->tab, up ? -1 : down ? 1 : pgup ? -page_rows : page_rows);
        return true;
    }
    bool first = (!fkey && ch == L'g') || (fkey && ch == KEY_HOME);
    bool last = (!fkey && ch == L'G') || (fkey && ch == KEY_END);
    if (app->detail_open && (first || last)) {
        /* the panel's top or bottom; the row it shows stays selected */
        app->detail_top = first ? 0 : app->detail.n;
        app->dirty = true;
        return true;
    }
    if (first || last) {
        list_move(app, app->tab, first ? INT32_MIN : INT32_MAX);
        return true;
    }
    if ((!fkey && (ch == L'\r' || ch == L'\n')) || (fkey && ch == KEY_ENTER)) {
        const char *key = list_current_key(l);
        if (key)
            open_detail(app, key);
        else
            tui_msg(app, MSG_INFO, "no row selected");
        return true;
    }
    if (!fkey && ch == L'/') {
        char search[sizeof l->search];
        snprintf(search, sizeof search, "%s", l->search);
        if (read_search(app, search, sizeof search)) {
            snprintf(l->search, sizeof l->search, "%s", search);
            app->detail_open = false;
            l->cursor = 0;
            l->top = 0;
            int rc;
            if (ops->server_search)
                rc = list_load(app, app->tab, 1);
            else {
                list_refilter(l, ops);
                rc = BILL_OK;
            }
            if (rc < 0)
                tui_fail(app, rc, "search");
            else if (search[0])
                tui_msg(app, MSG_INFO, "%s \"%s\": %zu shown", ops->server_search ? "search"
                        : "filter", search, l->nview);
            else
                tui_msg(app, MSG_INFO, "search cleared");
        }
        return true;
    }
    if (!fkey && ch < 128 && (ops->action || (ch == L'd' && ops->remove))) {
        const char *key = list_current_key(l);
        if (!key) {
            if (strchr("dexhstb", (int)ch))
                tui_msg(app, MSG_INFO, "no row selected");
            return true;
        }
        char k[64], label[160];
        snprintf(k, sizeof k, "%s", key);
        snprintf(label, sizeof label, "%s", list_current_label(l));
        if (ch == L'd' && ops->remove)
            delete_row(app, ops, k, label);
        else
            ops->action(app, (int)ch, k, label);
    }
    return true;
}

/* ---- startup ---------------------------------------------------------------- */

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "bill-tui: %s '%s'\n%stry 'bill-tui --help'\n", what, arg, usage_text);
    return TUI_EXIT_USAGE;
}

/* "postgresql://user:secret@host/db" -> "postgresql://host/db": the title
 * says where the data comes from without showing a password. */
static void db_label(tui_app *app, const char *url, bill_db_source src)
{
    if (src == BILL_DB_SOURCE_EMBEDDED || src == BILL_DB_SOURCE_EMBEDDED_STARTED) {
        snprintf(app->db_label, sizeof app->db_label, "embedded ./var/pg");
        return;
    }
    if (!url || !*url) {
        snprintf(app->db_label, sizeof app->db_label, "configured database");
        return;
    }
    const char *scheme = strstr(url, "://");
    if (scheme) {
        const char *rest = scheme + 3, *at = strchr(rest, '@'), *slash = strchr(rest, '/');
        if (at && (!slash || at < slash))
            rest = at + 1;
        snprintf(app->db_label, sizeof app->db_label, "%.*s%s", (int)(scheme + 3 - url), url,
                 rest);
        char *q = strchr(app->db_label, '?');
        if (q)
            *q = '\0';
    } else if (strstr(url, "password")) {
        snprintf(app->db_label, sizeof app->db_label, "configured database");
    } else {
        snprintf(app->db_label, sizeof app->db_label, "%s", url);
    }
}

static void show_connecting(void)
{
    erase();
    mvaddstr(LINES / 2, COLS > 40 ? (COLS - 34) / 2 : 0, "bill-tui: connecting to the database…");
    refresh();
}

int main(int argc, char **argv)
{
    const char *config_path = NULL, *database_url = NULL, *now_opt = NULL;
    int refresh_secs = 5;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i], *val = NULL;
        if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
            fputs(usage_text, stdout);
            fputs("\n", stdout);
            fputs(help_text, stdout);
            return TUI_EXIT_OK;
        }
        if (strcmp(s, "--version") == 0) {
            printf("bill-tui %s\n", BILL_TUI_VERSION);
            return TUI_EXIT_OK;
        }
        const char *names[] = {"--config", "--database-url", "--refresh", "--now"};
        int which = -1;
        for (int k = 0; k < 4; k++) {
            size_t n = strlen(names[k]);
            if (strncmp(s, names[k], n) == 0 && (s[n] == '\0' || s[n] == '=')) {
                which = k;
                if (s[n] == '=')
                    val = s + n + 1;
                else if (i + 1 < argc)
                    val = argv[++i];
                else
                    return usage_error("missing value of option", names[k]);
            }
        }
        if (which < 0)
            return usage_error(s[0] == '-' ? "unknown option" : "unexpected argument", s);
        if (which == 0) {
            config_path = val;
        } else if (which == 1) {
            database_url = val;
        } else if (which == 3) {
            now_opt = val;
        } else {
            char *end = NULL;
            errno = 0;
            long v = strtol(val, &end, 10);
            if (!*val || *end || errno || v < 1 || v > 3600)
                return usage_error("--refresh expects seconds from 1 to 3600, got", val);
            refresh_secs = (int)v;
        }
    }

    const char *now_text = NULL, *now_source = NULL;
    int64_t now_usec = 0;
    int now_set = fe_now_choose(now_opt, &now_text, &now_source, &now_usec);
    if (now_set < 0)
        return usage_error(strcmp(now_source, "--now") == 0
                               ? "--now is not an RFC 3339 instant (e.g. 2027-01-31T00:00:00Z):"
                               : "BILL_NOW is not an RFC 3339 instant (e.g. 2027-01-31T00:00:00Z):",
                           now_text);

    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "bill-tui: standard input and output must be a terminal (bill-tui is "
                        "interactive; for scripts use bill-cli)\n");
        return TUI_EXIT_USAGE;
    }
    fe_locale_init();
    /* libbill's lines go to the status line while the screen is ours */
    if (!getenv("BILL_LOG"))
        bill_log_set_filter("warn");

    tui_app *app = calloc(1, sizeof *app);
    if (!app) {
        fprintf(stderr, "bill-tui: error: out of memory\n");
        return TUI_EXIT_FAIL;
    }
    app->refresh_secs = refresh_secs;
    app->now_usec = now_usec;
    if (now_set > 0) {
        char when[BILL_TIME_BUFSZ];
        bill_time_format_rfc3339(now_usec, when);
        snprintf(app->clock_label, sizeof app->clock_label, "clock %s (%s)", when, now_source);
    }
    for (int t = 0; t < TAB_COUNT; t++)
        if (tabs[t]->ncols)
            tui_rows_init(&app->lists[t].rows, tabs[t]->ncols);

    int rc = fe_config_load(config_path, &app->config);
    if (rc < 0) {
        size_t n = 0;
        const char *const *errs = app->config ? bill_config_errors(app->config, &n) : NULL;
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "bill-tui: config error: %s\n", errs[i]);
        if (!n)
            fprintf(stderr, "bill-tui: error: %s\n", bill_error_last()->message);
        else
            fprintf(stderr, "bill-tui: error: configuration is not valid; see: bill-cli "
                            "config check\n");
        bill_config_free(app->config);
        free(app);
        return TUI_EXIT_FAIL;
    }

    term_guard_install();
    const char *why = term_start(&app->color);
    if (why) {
        term_stop();
        fprintf(stderr, "bill-tui: %s\n", why);
        bill_config_free(app->config);
        free(app);
        return TUI_EXIT_USAGE;
    }
    ui_init_styles(app->color);
    log_app = app;
    bill_log_set_sink(log_sink, NULL);
    show_connecting();

    fe_db_options dbo = {.program = TUI_PROGRAM, .database_url = database_url,
                         .max_connections = 2, .need_schema = true};
    bill_db_source src = 0;
    rc = fe_db_open(app->config, &dbo, &app->db, &src);
    if (rc < 0) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", bill_error_last()->message[0]
                                            ? bill_error_last()->message : bill_strerror(rc));
        log_app = NULL;
        bill_log_set_sink(NULL, NULL);
        term_stop();
        fprintf(stderr, "bill-tui: error: %s\n", msg);
        bill_config_free(app->config);
        free(app);
        return TUI_EXIT_FAIL;
    }
    db_label(app, database_url && *database_url ? database_url : app->config->db.url, src);
    if (app->clock_label[0]) {
        /* never pass for the real time: the title says it all along */
        fe_db_fix_clock(app->db, &app->now_usec);
    }
    fe_os_user(app->user, sizeof app->user);
    app->actor.kind = BILL_ACTOR_TUI;
    app->actor.username = app->user;
    app->status[0] = '\0';
    if ((rc = fe_plugins_open(app->config, app->db, true, &app->plugins, NULL,
                              &app->plugins_scan_rc)) < 0) {
        tui_msg(app, MSG_ERROR, "plugin host: %s", bill_error_last()->message);
        app->plugins = NULL;
    } else if (app->plugins_scan_rc < 0) {
        tui_msg(app, MSG_ERROR, "plugins not scanned: %s", bill_error_last()->message);
    }

    layout(app);
    app->tab = TAB_DASHBOARD;
    refresh_tab(app);
    wtimeout(stdscr, TICK_MS);
    for (;;) {
        if (term_quit_signal())
            break;
        if (app->dirty)
            draw(app);
        wint_t ch = 0;
        int r = wget_wch(stdscr, &ch);
        if (term_quit_signal())
            break;
        if (r != ERR && !handle_key(app, r, ch))
            break;
        int64_t now = bill_time_now();
        if (now >= app->next_refresh && (tabs[app->tab]->update || app->db_failing))
            refresh_tab(app);
    }

    int sig = term_quit_signal();
    log_app = NULL;
    bill_log_set_sink(NULL, NULL);
    destroy_windows(app);
    term_stop();
    for (int t = 0; t < TAB_COUNT; t++)
        list_free(&app->lists[t]);
    tui_text_clear(&app->detail);
    bill_dashboard_free(app->dash);
    bill_plugins_free(app->plugins);
    bill_db_close(app->db);
    bill_config_free(app->config);
    free(app);
    if (sig) {
        /* end the way the signal meant, now that the terminal is back */
        signal(sig, SIG_DFL);
        raise(sig);
    }
    return TUI_EXIT_OK;
}
