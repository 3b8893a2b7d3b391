/*
 * list.c — the paged, searchable table every list tab is.
 *
 * A tab holds one libbill page (TUI_PAGE_SIZE rows) at a time; the cursor
 * moves through it and, at either end, on into the neighbouring page, which
 * is then fetched through the tab's list function — so a table of a million
 * customers scrolls like one of ten, and nothing but libbill's list calls
 * reads the data. `/` hands the search text to libbill where the list
 * function searches (customers, products, customer users); elsewhere it
 * filters the rows of the loaded page (the lists that are short: admin
 * users, plugin interfaces, migrations, and instances by any column).
 */
#include "tui.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void list_free(tui_list *l)
{
    tui_rows_clear(&l->rows);
    free(l->view);
    l->view = NULL;
    l->nview = 0;
}

/* Case-insensitive substring (ASCII case; other text must match exactly). */
static bool contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++)
        if (strncasecmp(p, needle, n) == 0)
            return true;
    return n == 0;
}

void list_refilter(tui_list *l, const tui_tab_ops *ops)
{
    free(l->view);
    l->view = NULL;
    l->nview = 0;
    if (l->rows.nrows && !(l->view = calloc(l->rows.nrows, sizeof *l->view)))
        return;
    bool local = !ops->server_search && l->search[0];
    for (size_t r = 0; r < l->rows.nrows; r++) {
        bool keep = !local;
        for (int c = 0; c < l->rows.ncols && !keep; c++)
            keep = contains(tui_rows_cell(&l->rows, r, c), l->search);
        if (local && !keep)
            keep = contains(l->rows.keys[r], l->search);
        if (keep)
            l->view[l->nview++] = r;
    }
    if (l->cursor >= l->nview)
        l->cursor = l->nview ? l->nview - 1 : 0;
    if (l->top > l->cursor)
        l->top = l->cursor;
}

int list_load(tui_app *app, int tab, uint32_t page)
{
    const tui_tab_ops *ops = tui_tab(tab);
    tui_list *l = &app->lists[tab];
    tui_rows rows;
    bill_page_meta meta;
    char summary[sizeof l->summary] = "";
    memset(&meta, 0, sizeof meta);
    tui_rows_init(&rows, ops->ncols);
    if (page == 0)
        page = 1;
    int rc = ops->fetch(app, page, l->search[0] ? l->search : NULL, &rows, &meta, summary,
                        sizeof summary);
    if (rc < 0) {
        tui_rows_clear(&rows);
        return rc;
    }
    /* a page past the end (rows deleted meanwhile): take the last one */
    if (rows.nrows == 0 && page > 1 && meta.total_pages > 0 && page > meta.total_pages) {
        tui_rows_clear(&rows);
        return list_load(app, tab, meta.total_pages);
    }
    tui_rows_clear(&l->rows);
    l->rows = rows;
    l->page = meta.page ? meta.page : page;
    l->pages = meta.total_pages;
    l->total = meta.total;
    memcpy(l->summary, summary, sizeof l->summary);
    l->loaded = true;
    list_refilter(l, ops);
    app->dirty = true;
    return BILL_OK;
}

const char *list_current_key(const tui_list *l)
{
    if (l->cursor >= l->nview)
        return NULL;
    return l->rows.keys[l->view[l->cursor]];
}

const char *list_current_label(const tui_list *l)
{
    if (l->cursor >= l->nview)
        return NULL;
    return tui_rows_cell(&l->rows, l->view[l->cursor], 0);
}

void list_move(tui_app *app, int tab, long delta)
{
    tui_list *l = &app->lists[tab];
    int rc = BILL_OK;
    if (delta == INT32_MIN || delta == INT32_MAX) {
        bool first = delta == INT32_MIN;
        uint32_t want = first ? 1 : (l->pages ? l->pages : 1);
        if (want != l->page)
            rc = list_load(app, tab, want);
        if (rc < 0) {
            tui_fail(app, rc, "load the list");
            return;
        }
        l->cursor = first || !l->nview ? 0 : l->nview - 1;
        app->dirty = true;
        return;
    }
    long pos = (long)l->cursor + delta;
    if (pos < 0 && l->page > 1) {
        /* into the previous page, at its end */
        if ((rc = list_load(app, tab, l->page - 1)) < 0) {
            tui_fail(app, rc, "load the previous page");
            return;
        }
        pos = (long)l->nview + pos;
    } else if (pos >= (long)l->nview && l->page < l->pages) {
        long over = pos - (long)l->nview;
        if ((rc = list_load(app, tab, l->page + 1)) < 0) {
            tui_fail(app, rc, "load the next page");
            return;
        }
        pos = over;
    }
    if (pos < 0)
        pos = 0;
    if (pos >= (long)l->nview)
        pos = l->nview ? (long)l->nview - 1 : 0;
    l->cursor = (size_t)pos;
    app->dirty = true;
}

void list_draw(tui_app *app, int tab, WINDOW *w, int height, int width)
{
    const tui_tab_ops *ops = tui_tab(tab);
    tui_list *l = &app->lists[tab];
    int widths[64] = {0};
    int y = 0;

    if (l->summary[0] && height > 3) {
        ui_put(w, y++, 1, width - 2, false, ui_attr(ST_DIM), l->summary);
    }
    if (!l->loaded) {
        ui_put(w, y, 1, width - 2, false, ui_attr(ST_DIM), "loading…");
        return;
    }
    int rows_h = height - y - 1; /* minus the header */
    if (rows_h < 1)
        return;
    /* keep the cursor visible */
    if (l->cursor < l->top)
        l->top = l->cursor;
    if (l->cursor >= l->top + (size_t)rows_h)
        l->top = l->cursor - (size_t)rows_h + 1;
    size_t nvis = l->nview > l->top ? l->nview - l->top : 0;
    if (nvis > (size_t)rows_h)
        nvis = (size_t)rows_h;

    /* widths from what the whole page holds, so scrolling does not jiggle */
    ui_layout_columns(ops->cols, ops->ncols, &l->rows, l->view, l->nview, width - 2, widths);
    int x = 1;
    for (int c = 0; c < ops->ncols; c++) {
        if (!widths[c])
            continue;
        ui_put(w, y, x, widths[c], ops->cols[c].right, ui_attr(ST_TITLE), ops->cols[c].title);
        x += widths[c] + 2;
    }
    y++;
    if (l->nview == 0) {
        const char *msg = l->search[0] ? "no rows match the search (/ to change it)"
                                       : "nothing here yet";
        ui_put(w, y, 1, width - 2, false, ui_attr(ST_DIM), msg);
        return;
    }
    for (size_t i = 0; i < nvis; i++, y++) {
        size_t vi = l->top + i, r = l->view[vi];
        bool sel = vi == l->cursor;
        attr_t base = sel ? ui_attr(ST_SELECTED) : A_NORMAL;
        if (sel) {
            wattrset(w, base);
            mvwhline(w, y, 0, ' ', width);
            wattrset(w, A_NORMAL);
        }
        x = 1;
        for (int c = 0; c < ops->ncols; c++) {
            if (!widths[c])
                continue;
            const char *cell = tui_rows_cell(&l->rows, r, c);
            attr_t a = base;
            if (!sel) {
                tui_style st = ui_status_style(cell);
                if (st != ST_NORMAL)
                    a = ui_attr(st);
            }
            ui_put(w, y, x, widths[c], ops->cols[c].right, a, cell);
            x += widths[c];
            if (sel && x + 2 <= width) {
                wattrset(w, base);
                mvwaddstr(w, y, x, "  ");
                wattrset(w, A_NORMAL);
            }
            x += 2;
        }
    }
    (void)app;
}
