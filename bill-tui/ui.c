/*
 * ui.c — drawing helpers of bill-tui: styles with and without colour, text
 * fitted to terminal cells, tables whose columns reflow with the width, and
 * the detail panel's text.
 *
 * Widths are terminal cells, measured with wcwidth() under the UTF-8
 * LC_CTYPE main() sets up, so a column of Chinese product names lines up
 * with ASCII ones (a CJK character is two cells). Every string from the
 * database goes through ui_fit before it reaches the screen: control
 * characters are drawn as '?', so data can neither move the cursor nor
 * change the terminal's modes, and widths stay what was measured.
 */
#include "tui.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <wctype.h>

/* ---- styles ---------------------------------------------------------------- */

static attr_t styles[ST_COUNT];

void ui_init_styles(bool color)
{
    if (color) {
        init_pair(1, COLOR_CYAN, -1);
        init_pair(2, COLOR_GREEN, -1);
        init_pair(3, COLOR_YELLOW, -1);
        init_pair(4, COLOR_RED, -1);
        init_pair(5, COLOR_BLACK, COLOR_CYAN);
        styles[ST_NORMAL] = A_NORMAL;
        styles[ST_TITLE] = A_BOLD | COLOR_PAIR(1);
        styles[ST_SELECTED] = COLOR_PAIR(5);
        styles[ST_DIM] = A_DIM;
        styles[ST_OK] = COLOR_PAIR(2);
        styles[ST_WARN] = COLOR_PAIR(3);
        styles[ST_ERROR] = A_BOLD | COLOR_PAIR(4);
        styles[ST_KEY] = A_BOLD | COLOR_PAIR(1);
        styles[ST_KV] = A_NORMAL;
    } else {
        /* Monochrome: the same information by attributes alone. */
        styles[ST_NORMAL] = A_NORMAL;
        styles[ST_TITLE] = A_BOLD;
        styles[ST_SELECTED] = A_REVERSE;
        styles[ST_DIM] = A_DIM;
        styles[ST_OK] = A_NORMAL;
        styles[ST_WARN] = A_BOLD;
        styles[ST_ERROR] = A_BOLD | A_UNDERLINE;
        styles[ST_KEY] = A_BOLD;
        styles[ST_KV] = A_NORMAL;
    }
}

attr_t ui_attr(tui_style st)
{
    return st < ST_COUNT ? styles[st] : A_NORMAL;
}

tui_style ui_status_style(const char *w)
{
    static const char *const ok[] = {"running", "active", "yes", "ok", "healthy", "succeeded",
                                     "paid", "enabled", NULL};
    static const char *const warn[] = {"suspended", "pending", "stopped", "provisioning",
                                       "unchecked", "processing", "failing", "draft", NULL};
    static const char *const err[] = {"error", "terminated", "dead", "no", "MISMATCH",
                                      "unhealthy", "failed", "disabled", "closed", NULL};
    for (int i = 0; ok[i]; i++)
        if (strcmp(w, ok[i]) == 0)
            return ST_OK;
    for (int i = 0; warn[i]; i++)
        if (strcmp(w, warn[i]) == 0)
            return ST_WARN;
    for (int i = 0; err[i]; i++)
        if (strcmp(w, err[i]) == 0)
            return ST_ERROR;
    return ST_NORMAL;
}

/* ---- text in cells --------------------------------------------------------- */

/* Decode one character of s (len bytes left). *wc = '?' and one byte for
 * invalid input, so a bad byte can never stall or widen the walk. */
static size_t next_char(const char *s, size_t len, wchar_t *wc, int *cells)
{
    mbstate_t st;
    memset(&st, 0, sizeof st);
    size_t n = mbrtowc(wc, s, len, &st);
    if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
        *wc = L'?';
        *cells = 1;
        return 1;
    }
    if (!iswprint((wint_t)*wc)) {
        *wc = L'?';
        *cells = 1;
        return n;
    }
    int w = wcwidth(*wc);
    *cells = w < 0 ? 1 : w;
    if (w < 0)
        *wc = L'?';
    return n;
}

int ui_width(const char *s)
{
    int total = 0;
    size_t len = s ? strlen(s) : 0;
    for (size_t i = 0; i < len;) {
        wchar_t wc;
        int cw;
        i += next_char(s + i, len - i, &wc, &cw);
        total += cw;
    }
    return total;
}

/* Append one character (as UTF-8) to out. */
static void put_wc(char *out, size_t outsz, size_t *o, wchar_t wc)
{
    char mb[MB_LEN_MAX];
    mbstate_t st;
    memset(&st, 0, sizeof st);
    size_t n = wcrtomb(mb, wc, &st);
    if (n == (size_t)-1) {
        mb[0] = '?';
        n = 1;
    }
    if (*o + n < outsz) {
        memcpy(out + *o, mb, n);
        *o += n;
    }
}

static void put_spaces(char *out, size_t outsz, size_t *o, int n)
{
    while (n-- > 0 && *o + 1 < outsz)
        out[(*o)++] = ' ';
}

char *ui_fit(const char *s, int width, bool right, char *out, size_t outsz)
{
    size_t o = 0, len = s ? strlen(s) : 0;
    if (!outsz)
        return out;
    if (width <= 0) {
        out[0] = '\0';
        return out;
    }
    int w = ui_width(s);
    if (w <= width) {
        if (right)
            put_spaces(out, outsz, &o, width - w);
        for (size_t i = 0; i < len;) {
            wchar_t wc;
            int cw;
            i += next_char(s + i, len - i, &wc, &cw);
            put_wc(out, outsz, &o, wc);
        }
        if (!right)
            put_spaces(out, outsz, &o, width - w);
    } else {
        /* cut: keep what fits in width - 1 cells, then the ellipsis */
        int used = 0;
        for (size_t i = 0; i < len;) {
            wchar_t wc;
            int cw;
            size_t n = next_char(s + i, len - i, &wc, &cw);
            if (used + cw > width - 1)
                break;
            put_wc(out, outsz, &o, wc);
            used += cw;
            i += n;
        }
        put_spaces(out, outsz, &o, width - 1 - used);
        put_wc(out, outsz, &o, L'\x2026');
    }
    out[o] = '\0';
    return out;
}

void ui_put(WINDOW *w, int y, int x, int width, bool right, attr_t a, const char *s)
{
    char buf[2048];
    if (width <= 0)
        return;
    ui_fit(s, width, right, buf, sizeof buf);
    wattr_set(w, a, PAIR_NUMBER(a), NULL);
    mvwaddstr(w, y, x, buf);
    wattr_set(w, A_NORMAL, 0, NULL);
}

int ui_puts(WINDOW *w, int y, int x, attr_t a, const char *s)
{
    int maxw = getmaxx(w) - x, sw = ui_width(s);
    if (maxw <= 0)
        return 0;
    int n = sw < maxw ? sw : maxw;
    ui_put(w, y, x, n, false, a, s);
    return n;
}

size_t ui_prefix_bytes(const char *s, int cells)
{
    size_t len = strlen(s), i = 0;
    int used = 0;
    while (i < len) {
        wchar_t wc;
        int cw;
        size_t n = next_char(s + i, len - i, &wc, &cw);
        if (used + cw > cells)
            break;
        used += cw;
        i += n;
    }
    return i;
}

size_t ui_wrap_bytes(const char *s, int cells)
{
    size_t n = ui_prefix_bytes(s, cells), len = strlen(s);
    if (n == 0 && len) {
        wchar_t wc;
        int cw;
        return next_char(s, len, &wc, &cw);
    }
    if (n < len && s[n] != ' ')
        for (size_t k = n; k > 0; k--)
            if (s[k - 1] == ' ')
                return k;
    return n;
}

const char *ui_bytes(int64_t b, char buf[32])
{
    static const char *const unit[] = {"B", "kB", "MB", "GB", "TB"};
    double v = (double)b;
    int u = 0;
    while (v >= 1000.0 && u < 4) {
        v /= 1000.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, 32, "%lld B", (long long)b);
    else
        snprintf(buf, 32, "%.1f %s", v, unit[u]);
    return buf;
}

const char *ui_time(int64_t usec, char buf[32])
{
    char t[BILL_TIME_BUFSZ];
    if (usec == 0 || bill_time_format_rfc3339(usec, t) < 0) {
        snprintf(buf, 32, "-");
        return buf;
    }
    /* "2026-03-01T12:00:05Z" -> "2026-03-01 12:00" */
    snprintf(buf, 32, "%.10s %.5s", t, t + 11);
    return buf;
}

const char *ui_money(bill_money cents, char buf[BILL_MONEY_BUFSZ])
{
    return bill_money_format(cents, buf);
}

const char *ui_short_id(const char *id, char buf[16])
{
    snprintf(buf, 16, "%.8s", id ? id : "");
    return buf;
}

/* ---- rows ------------------------------------------------------------------ */

void tui_rows_init(tui_rows *r, int ncols)
{
    memset(r, 0, sizeof *r);
    r->ncols = ncols;
}

int tui_rows_add(tui_rows *r, const char *key, ...)
{
    if (r->nrows == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 32;
        char **nc = realloc(r->cells, ncap * (size_t)r->ncols * sizeof *nc);
        if (!nc)
            return -1;
        r->cells = nc;
        char **nk = realloc(r->keys, ncap * sizeof *nk);
        if (!nk)
            return -1;
        r->keys = nk;
        r->cap = ncap;
    }
    char **row = r->cells + r->nrows * (size_t)r->ncols;
    va_list ap;
    va_start(ap, key);
    int ok = 1;
    for (int c = 0; c < r->ncols; c++) {
        const char *v = va_arg(ap, const char *);
        row[c] = strdup(v ? v : "");
        ok &= row[c] != NULL;
    }
    va_end(ap);
    r->keys[r->nrows] = strdup(key ? key : "");
    ok &= r->keys[r->nrows] != NULL;
    r->nrows++;
    return ok ? 0 : -1;
}

void tui_rows_clear(tui_rows *r)
{
    for (size_t i = 0; i < r->nrows * (size_t)r->ncols; i++)
        free(r->cells[i]);
    for (size_t i = 0; i < r->nrows; i++)
        free(r->keys[i]);
    free(r->cells);
    free(r->keys);
    int ncols = r->ncols;
    memset(r, 0, sizeof *r);
    r->ncols = ncols;
}

const char *tui_rows_cell(const tui_rows *r, size_t row, int col)
{
    if (row >= r->nrows || col < 0 || col >= r->ncols)
        return "";
    const char *s = r->cells[row * (size_t)r->ncols + col];
    return s ? s : "";
}

/* ---- column layout ------------------------------------------------------- */

/* Cells the shown columns take: fixed ones at their wanted width, flexible
 * ones at `flex_full` ? wanted : minimum. */
static int columns_total(const tui_col *cols, int ncols, const bool *shown, const int *want,
                         bool flex_full)
{
    int total = 0, count = 0;
    for (int c = 0; c < ncols; c++)
        if (shown[c]) {
            total += (cols[c].flex && !flex_full ? cols[c].min : want[c]) + (count ? 2 : 0);
            count++;
        }
    return total;
}

/* Hide the shown column with the highest prio >= min_prio (rightmost on a
 * tie); false when there is none. */
static bool drop_one(const tui_col *cols, int ncols, bool *shown, int min_prio)
{
    int drop = -1;
    for (int c = 0; c < ncols; c++)
        if (shown[c] && cols[c].prio >= min_prio && cols[c].prio > 0 &&
            (drop < 0 || cols[c].prio >= cols[drop].prio))
            drop = c;
    if (drop < 0)
        return false;
    shown[drop] = false;
    return true;
}

void ui_layout_columns(const tui_col *cols, int ncols, const tui_rows *rows, const size_t *view,
                       size_t n, int avail, int *widths)
{
    const int gap = 2;
    bool shown[64];
    int want[64];
    if (ncols > 64)
        ncols = 64;
    for (int c = 0; c < ncols; c++) {
        int w = ui_width(cols[c].title);
        for (size_t i = 0; i < n; i++) {
            int cw = ui_width(tui_rows_cell(rows, view[i], c));
            if (cw > w)
                w = cw;
        }
        if (cols[c].max > 0 && w > cols[c].max)
            w = cols[c].max;
        if (w < cols[c].min)
            w = cols[c].min;
        want[c] = w;
        shown[c] = true;
    }
    /* Columns of prio 4 and above are extras: shown only when everything
     * else gets its whole content width. Then the others give way, highest
     * prio first, until the essentials fit with flexible ones at minimum. */
    while (columns_total(cols, ncols, shown, want, true) > avail &&
           drop_one(cols, ncols, shown, 4)) {
    }
    while (columns_total(cols, ncols, shown, want, false) > avail &&
           drop_one(cols, ncols, shown, 1)) {
    }
    /* fixed columns as wanted; flexible ones share the rest by how much
     * more than their minimum they want */
    int used = 0, count = 0, extra_want = 0;
    for (int c = 0; c < ncols; c++) {
        widths[c] = 0;
        if (!shown[c])
            continue;
        used += count ? gap : 0;
        count++;
        widths[c] = cols[c].flex ? cols[c].min : want[c];
        used += widths[c];
        if (cols[c].flex)
            extra_want += want[c] - cols[c].min;
    }
    int left = avail - used;
    for (int c = 0; c < ncols && left > 0 && extra_want > 0; c++) {
        if (!shown[c] || !cols[c].flex)
            continue;
        int more = want[c] - cols[c].min;
        int give = (int)((long)left * more / extra_want);
        if (give > more)
            give = more;
        widths[c] += give;
    }
    /* what rounding left over goes to the first flexible column short of its want */
    used = 0;
    count = 0;
    for (int c = 0; c < ncols; c++)
        if (widths[c]) {
            used += widths[c] + (count ? gap : 0);
            count++;
        }
    for (int c = 0; c < ncols && used < avail; c++)
        if (widths[c] && cols[c].flex && widths[c] < want[c]) {
            int give = want[c] - widths[c] < avail - used ? want[c] - widths[c] : avail - used;
            widths[c] += give;
            used += give;
        }
    /* still too wide (a very narrow terminal): cut from the right */
    int total = used;
    for (int c = ncols - 1; c >= 0 && total > avail; c--) {
        if (!widths[c])
            continue;
        int cut = total - avail;
        if (cut >= widths[c]) {
            total -= widths[c] + gap;
            widths[c] = 0;
        } else {
            widths[c] -= cut;
            total -= cut;
        }
    }
}

/* ---- detail text ----------------------------------------------------------- */

static void text_push(tui_text *t, tui_style st, char *line)
{
    if (!line)
        return;
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 32;
        char **nl = realloc(t->lines, ncap * sizeof *nl);
        if (!nl) {
            free(line);
            return;
        }
        t->lines = nl;
        tui_style *ns = realloc(t->styles, ncap * sizeof *ns);
        if (!ns) {
            free(line);
            return;
        }
        t->styles = ns;
        t->cap = ncap;
    }
    t->lines[t->n] = line;
    t->styles[t->n] = st;
    t->n++;
}

void tui_text_add(tui_text *t, tui_style st, const char *fmt, ...)
{
    char *line = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&line, fmt, ap) < 0)
        line = NULL;
    va_end(ap);
    text_push(t, st, line);
}

void tui_text_kv(tui_text *t, const char *key, const char *fmt, ...)
{
    char *val = NULL, *line = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&val, fmt, ap) < 0)
        val = NULL;
    va_end(ap);
    if (!val)
        return;
    /* key padded to 18 cells; the drawer dims everything up to the value */
    char k[128];
    ui_fit(key, TUI_KV_CELLS - 2, false, k, sizeof k);
    if (asprintf(&line, "  %s %s", k, val) < 0)
        line = NULL;
    free(val);
    text_push(t, ST_KV, line);
}

void tui_text_clear(tui_text *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->lines[i]);
    free(t->lines);
    free(t->styles);
    memset(t, 0, sizeof *t);
}
