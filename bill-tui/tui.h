/*
 * tui.h — shared declarations of bill-tui, the interactive operator console
 * (seed 000 §5.2: rustbill-cli tui; R-TUI-1).
 *
 * bill-tui is a frontend like bill-cli: it reads and changes the database
 * only through libbill's public API (the headers in include/bill/) and decides nothing
 * itself. It acts with the console's privilege (actor BILL_ACTOR_TUI, in the
 * operation log as "tui:<user>").
 *
 * Layout of the program:
 *   main.c        options, startup checks, the key loop, tab bar, footer,
 *                 status line, detail panel, dialogs, help, search input
 *   term.c        the terminal guard: curses start/stop, and restoring the
 *                 terminal on every way out (q, signals, crashes, exit)
 *   ui.c          drawing helpers: text fitted to terminal cells (wcwidth),
 *                 tables with columns that reflow, the detail text
 *   list.c        the paged, searchable list every list tab is
 *   dashboard.c admin_users.c cust_users.c customers.c products.c
 *   plugins.c instances.c db_status.c   one file per tab, in tab order
 *
 * Each tab is a tui_tab_ops table: list tabs give columns, a fetch of one
 * page through a libbill list function, a detail builder and their action
 * keys; the dashboard draws itself.
 */
#ifndef BILL_TUI_H
#define BILL_TUI_H

#include <bill/bill.h>
#include <bill/plugin_host.h>

#include "console.h"

#include <curses.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TUI_PROGRAM "bill-tui"

/* Exit codes: like bill-cli's. */
enum { TUI_EXIT_OK = 0, TUI_EXIT_FAIL = 1, TUI_EXIT_USAGE = 2 };

enum {
    TAB_DASHBOARD,
    TAB_ADMIN_USERS,
    TAB_CUST_USERS,
    TAB_CUSTOMERS,
    TAB_PRODUCTS,
    TAB_PLUGINS,
    TAB_INSTANCES,
    TAB_DB_STATUS,
    TAB_COUNT
};

/* Rows per libbill page a list tab loads at once (libbill's maximum). */
#define TUI_PAGE_SIZE 100u

/* ---- drawing attributes (ui.c) ------------------------------------------- */

/* Logical styles; ui.c maps them to colours, or to plain attributes when the
 * terminal has none or NO_COLOR is set. */
typedef enum {
    ST_NORMAL = 0,
    ST_TITLE,    /* section titles, table headers */
    ST_SELECTED, /* the cursor row, the active tab */
    ST_DIM,      /* labels, hints, absent values */
    ST_OK,       /* healthy, running, success messages */
    ST_WARN,     /* suspended, pending, failing */
    ST_ERROR,    /* errors, unhealthy, dead */
    ST_KEY,      /* key names in the footer and help */
    ST_KV,       /* detail panel: a "key   value" line (key dimmed, value plain) */
    ST_COUNT
} tui_style;

void ui_init_styles(bool color);
attr_t ui_attr(tui_style st);
/* The style a status word deserves ("running" -> ST_OK, "error" -> ST_ERROR). */
tui_style ui_status_style(const char *word);

/* ---- text in terminal cells (ui.c) --------------------------------------- */

/* Terminal cells of s, as ui_fit measures them (control characters count
 * as the one '?' they are drawn as). */
int ui_width(const char *s);
/* s fitted into exactly `width` cells: control characters become '?', text
 * too wide is cut with "…" (a double-width character that would straddle
 * the edge becomes a space), the rest padded with spaces (right-aligned
 * when `right`). Writes at most outsz-1 bytes into out and returns it. */
char *ui_fit(const char *s, int width, bool right, char *out, size_t outsz);
/* ui_fit and draw at (y, x) of w with attribute a. */
void ui_put(WINDOW *w, int y, int x, int width, bool right, attr_t a, const char *s);
/* Draw s at (y, x), cut at the window's right edge; returns the cells used. */
int ui_puts(WINDOW *w, int y, int x, attr_t a, const char *s);
/* Bytes of s that make up its first `cells` cells (whole characters). */
size_t ui_prefix_bytes(const char *s, int cells);
/* Bytes of s that fit in `cells` cells, broken after the last space when
 * the text goes on (for wrapping); at least one character. */
size_t ui_wrap_bytes(const char *s, int cells);

/* Human sizes and times for the screen. */
const char *ui_bytes(int64_t bytes, char buf[32]);
const char *ui_time(int64_t usec, char buf[32]);   /* "2026-03-01 12:00" UTC, "-" for 0 */
const char *ui_money(bill_money cents, char buf[BILL_MONEY_BUFSZ]);
/* First 8 characters of a UUID, for narrow columns. */
const char *ui_short_id(const char *id, char buf[16]);

/* ---- tables (ui.c) ------------------------------------------------------- */

typedef struct tui_col {
    const char *title;
    int min;    /* fewest cells it may shrink to */
    int max;    /* most cells it grows to from its content */
    int prio;   /* 0 = always shown; higher numbers give way first on narrow screens */
    bool right; /* numbers and money */
    bool flex;  /* takes the space left over */
} tui_col;

/* Rows of strings, one loaded page of a list tab. */
typedef struct tui_rows {
    int ncols;
    char **cells; /* nrows * ncols, owned */
    char **keys;  /* nrows: what actions act on (an id), owned */
    size_t nrows, cap;
} tui_rows;

void tui_rows_init(tui_rows *r, int ncols);
/* Append a row: `key` then ncols cell strings (NULL = ""). 0 or -1 (ENOMEM). */
int tui_rows_add(tui_rows *r, const char *key, ...);
void tui_rows_clear(tui_rows *r);
const char *tui_rows_cell(const tui_rows *r, size_t row, int col);

/* Column widths for `avail` cells from the content of rows (indices `view`,
 * n of them): widths[c] = 0 means the column is hidden. */
void ui_layout_columns(const tui_col *cols, int ncols, const tui_rows *rows, const size_t *view,
                       size_t n, int avail, int *widths);

/* ---- detail text (ui.c) -------------------------------------------------- */

typedef struct tui_text {
    char **lines;
    tui_style *styles;
    size_t n, cap;
} tui_text;

void tui_text_add(tui_text *t, tui_style st, const char *fmt, ...) BILL_PRINTF(3, 4);
/* "  key            value" (ST_KV: the key is dimmed when drawn; the key
 * column is TUI_KV_CELLS wide). */
#define TUI_KV_CELLS 20
void tui_text_kv(tui_text *t, const char *key, const char *fmt, ...) BILL_PRINTF(3, 4);
void tui_text_clear(tui_text *t);

/* ---- the application ----------------------------------------------------- */

typedef struct tui_app tui_app;

/* A list tab's page: `view` indexes the rows the local filter keeps. */
typedef struct tui_list {
    tui_rows rows;
    size_t *view;
    size_t nview;
    uint32_t page, pages; /* 1-based; pages 0 when empty */
    uint64_t total;       /* rows in libbill's answer (all pages) */
    size_t cursor;        /* index into view */
    size_t top;           /* first visible index into view */
    char search[128];     /* the filter in force */
    char summary[200];    /* a line above the table (tab-specific), "" = none */
    bool loaded;
} tui_list;

typedef struct tui_tab_ops {
    const char *name;
    const tui_col *cols;   /* NULL for the dashboard */
    int ncols;
    /* The list function searches the database; otherwise `/` filters the
     * loaded page. */
    bool server_search;
    /* The tab's own keys for the footer ("e/x enable/disable  h health"). */
    const char *keys_hint;
    /* Load one page. rows is initialised with ncols and empty; fill rows,
     * meta (total, page, total_pages) and optionally summary. */
    int (*fetch)(tui_app *app, uint32_t page, const char *search, tui_rows *rows,
                 bill_page_meta *meta, char *summary, size_t summary_size);
    /* Build the detail panel of the row `key`; *title receives a heading. */
    int (*detail)(tui_app *app, const char *key, tui_text *out, char *title, size_t title_size);
    /* A key of this tab (d, e, x, s, ...) on the row `key` (label = its
     * first cell, for messages). Returns 1 when the key is the tab's. */
    int (*action)(tui_app *app, int ch, const char *key, const char *label);
    /* `d` on a row, when the tab deletes: the libbill call, what a row is
     * ("customer") and what the dialog adds about it (tui_delete). */
    int (*remove)(bill_db *db, const bill_actor *actor, const char *id);
    const char *remove_what;
    const char *remove_note;
    /* Dashboard only: fetch and draw. */
    int (*update)(tui_app *app);
    void (*draw)(tui_app *app, WINDOW *w, int height, int width);
} tui_tab_ops;

extern const tui_tab_ops tab_dashboard, tab_admin_users, tab_cust_users, tab_customers,
    tab_products, tab_plugins, tab_instances, tab_db_status;

typedef enum { MSG_INFO, MSG_OK, MSG_ERROR } tui_msg_kind;

struct tui_app {
    /* what main.c opened */
    bill_config *config;
    bill_db *db;
    bill_plugins *plugins;
    int plugins_scan_rc;   /* < 0: the plugin directory could not be scanned */
    bill_actor actor;
    char user[64];
    char db_label[96];     /* where the data comes from, for the title */
    int refresh_secs;
    bool color;
    int64_t now_usec;      /* --now / BILL_NOW: the instant the console acts at */
    char clock_label[96];  /* "" on the wall clock, else what the title says */

    /* state */
    int tab;
    tui_list lists[TAB_COUNT];
    bool detail_open;
    tui_text detail;
    size_t detail_top;
    char detail_key[64];
    char detail_title[160];
    bool help_open;
    char status[512];
    tui_msg_kind status_kind;
    bool db_failing;       /* the last database call failed: retry on the timer */
    int64_t next_refresh;  /* usec: dashboard refresh / retry */
    bool dirty;            /* something to redraw */

    /* dashboard */
    bill_dashboard *dash;
    int64_t dash_at;

    /* windows (recreated on resize) */
    WINDOW *w_bar, *w_ctx, *w_body, *w_status, *w_footer;
    int body_h, body_w;
};

/* Status line message (also clears a previous error). */
void tui_msg(tui_app *app, tui_msg_kind kind, const char *fmt, ...) BILL_PRINTF(3, 4);
/* Report a failed libbill call `what` ("terminate instance 1a2b"): status
 * line with libbill's message; database failures also arm the retry. */
void tui_fail(tui_app *app, int rc, const char *what);
/* Ask a yes/no question in a dialog (y/n, Esc = no). */
bool tui_confirm(tui_app *app, const char *title, const char *question);
/* Reload the current list tab (keeping the cursor on the same row when it
 * is still there) and the detail panel when open. */
void tui_reload(tui_app *app);
/* The ops of a tab. */
const tui_tab_ops *tui_tab(int tab);
/* Whether a libbill code means the database itself failed. */
bool tui_is_db_error(int rc);

/* ---- list tabs (list.c) -------------------------------------------------- */

/* Load `page` of the current search into the tab's list. */
int list_load(tui_app *app, int tab, uint32_t page);
/* Recompute the view after the rows or the search changed. */
void list_refilter(tui_list *l, const tui_tab_ops *ops);
/* Move the cursor by delta rows (crossing into neighbouring pages), to the
 * first row (delta = INT32_MIN) or the last (INT32_MAX). */
void list_move(tui_app *app, int tab, long delta);
/* The key and first cell of the cursor row, or NULL when empty. */
const char *list_current_key(const tui_list *l);
const char *list_current_label(const tui_list *l);
void list_draw(tui_app *app, int tab, WINDOW *w, int height, int width);
void list_free(tui_list *l);

/* ---- the terminal guard (term.c) ----------------------------------------- */

/* Install the signal handlers before curses starts: SIGINT/SIGTERM/SIGHUP/
 * SIGQUIT ask the loop to quit (a second one restores the terminal and
 * exits at once); SIGSEGV/SIGBUS/SIGFPE/SIGILL/SIGABRT restore the terminal
 * and then let the crash take its course. atexit restores it too. */
void term_guard_install(void);
/* Start curses on the terminal; NULL on success, else a message. */
const char *term_start(bool *color);
/* End curses and restore the terminal (idempotent, safe from atexit). */
void term_stop(void);
/* The signal that asked to quit, 0 when none. */
int term_quit_signal(void);

#endif
