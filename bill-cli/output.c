/*
 * output.c — how bill-cli prints results: aligned tables for people, one
 * JSON document for programs.
 *
 * Column widths are measured in terminal cells, not bytes, so a column of
 * Chinese customer names lines up with one of ASCII names (each CJK
 * character takes two cells): fe_display_width (frontend/console.c, shared
 * with bill-tui) under the UTF-8 LC_CTYPE main() sets up.
 */
#include "cli.h"

#include <bill/money.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cli_table {
    int ncols;
    bool header;
    char **cells; /* rows * ncols, row 0 is the header when present */
    size_t rows, cap;
    bool *right;
};

cli_table *cli_table_new(int ncols, const char *const *headers)
{
    cli_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ncols = ncols;
    t->right = calloc((size_t)ncols, sizeof *t->right);
    if (!t->right) {
        free(t);
        return NULL;
    }
    if (headers) {
        if (cli_table_add(t, headers) < 0) {
            cli_table_free(t);
            return NULL;
        }
        t->header = true;
    }
    return t;
}

void cli_table_free(cli_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->rows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t->right);
    free(t);
}

void cli_table_align_right(cli_table *t, int col)
{
    if (t && col >= 0 && col < t->ncols)
        t->right[col] = true;
}

int cli_table_add(cli_table *t, const char *const *cells)
{
    if (t->rows == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 16;
        char **n = realloc(t->cells, ncap * (size_t)t->ncols * sizeof *n);
        if (!n)
            return -1;
        t->cells = n;
        t->cap = ncap;
    }
    char **row = t->cells + t->rows * (size_t)t->ncols;
    for (int c = 0; c < t->ncols; c++) {
        row[c] = strdup(cells[c] ? cells[c] : "");
        if (!row[c]) {
            while (c-- > 0)
                free(row[c]);
            return -1;
        }
    }
    t->rows++;
    return 0;
}

int cli_table_row(cli_table *t, ...)
{
    const char *cells[32];
    int n = t->ncols < 32 ? t->ncols : 32;
    va_list ap;
    va_start(ap, t);
    for (int i = 0; i < n; i++)
        cells[i] = va_arg(ap, const char *);
    va_end(ap);
    return cli_table_add(t, cells);
}

/* Write `s` padded to `width` cells. Trailing blanks of the last column are
 * left out so lines do not end in spaces. */
static void put_cell(FILE *f, const char *s, size_t width, bool right, bool last)
{
    size_t w = fe_display_width(s);
    size_t pad = width > w ? width - w : 0;
    if (right)
        fprintf(f, "%*s%s", (int)pad, "", s);
    else if (last)
        fputs(s, f);
    else
        fprintf(f, "%s%*s", s, (int)pad, "");
}

void cli_table_print(const cli_table *t, FILE *f)
{
    size_t *width = calloc((size_t)t->ncols, sizeof *width);
    if (!width)
        return;
    for (size_t r = 0; r < t->rows; r++)
        for (int c = 0; c < t->ncols; c++) {
            size_t w = fe_display_width(t->cells[r * (size_t)t->ncols + c]);
            if (w > width[c])
                width[c] = w;
        }
    for (size_t r = 0; r < t->rows; r++) {
        char **row = t->cells + r * (size_t)t->ncols;
        /* stop after the last non-empty left-aligned cell: no trailing blanks */
        int last = t->ncols - 1;
        while (last > 0 && !t->right[last] && row[last][0] == '\0')
            last--;
        for (int c = 0; c <= last; c++) {
            if (c)
                fputs("  ", f);
            put_cell(f, row[c], width[c], t->right[c], c == last);
        }
        fputc('\n', f);
        if (r == 0 && t->header) {
            /* a rule under the header, as wide as the table */
            size_t total = 0;
            for (int c = 0; c < t->ncols; c++)
                total += width[c] + (c ? 2 : 0);
            for (size_t i = 0; i < total; i++)
                fputc('-', f);
            fputc('\n', f);
        }
    }
    free(width);
}

void cli_json_print(json_object *doc)
{
    const char *s = json_object_to_json_string_ext(
        doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
    fputs(s, stdout);
    fputc('\n', stdout);
    json_object_put(doc);
}

json_object *cli_json_str(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

json_object *cli_json_opt(const char *s)
{
    return s && *s ? json_object_new_string(s) : NULL;
}

json_object *cli_json_money(bill_money m)
{
    char b[BILL_MONEY_BUFSZ];
    return json_object_new_string(bill_money_format(m, b));
}

json_object *cli_json_time(int64_t usec)
{
    char t[48];
    return usec ? json_object_new_string(cli_time(usec, t)) : NULL;
}

json_object *cli_json_parse(const char *text)
{
    return text ? json_tokener_parse(text) : NULL;
}

/* ---- list views ------------------------------------------------------------ */

int cli_page_opts(cli_ctx *ctx, const cli_args *a, bill_page *out)
{
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = cli_opt_u32(ctx, a, "page", &out->page)) != CLI_CONTINUE)
        return rc;
    return cli_opt_u32(ctx, a, "page-size", &out->page_size);
}

const char *cli_cell_money(bill_money m, char *buf)
{
    return bill_money_format(m, buf);
}

const char *cli_cell_time(int64_t usec, char *buf)
{
    return cli_time(usec, buf);
}

const char *cli_cell_u64(uint64_t n, char *buf)
{
    snprintf(buf, CLI_CELL_SIZE, "%" PRIu64, n);
    return buf;
}

static int list_json(const cli_list_view *v, const char *items, size_t count,
                     const bill_page_meta *meta, json_object *extra)
{
    json_object *doc = json_object_new_object(), *arr = json_object_new_array();
    if (!doc || !arr) {
        json_object_put(doc);
        json_object_put(arr);
        json_object_put(extra);
        return cli_errorf("out of memory");
    }
    for (size_t i = 0; i < count; i++)
        json_object_array_add(arr, v->to_json(items + i * v->item_size));
    json_object_object_add(doc, v->json_key, arr);
    json_object_object_add(doc, "total", json_object_new_int64((int64_t)meta->total));
    json_object_object_add(doc, "page", json_object_new_int64(meta->page));
    json_object_object_add(doc, "page_size", json_object_new_int64(meta->page_size));
    if (extra) {
        json_object_object_foreach(extra, key, val)
            json_object_object_add(doc, key, json_object_get(val));
        json_object_put(extra);
    }
    cli_json_print(doc);
    return CLI_EXIT_OK;
}

cli_table *cli_list_table(const cli_list_view *v, const void *items, size_t count)
{
    const char *headers[CLI_MAX_COLS], *cell[CLI_MAX_COLS];
    cli_cells buf;
    int ncols = 0;
    cli_table *t;

    while (ncols < CLI_MAX_COLS && v->cols[ncols].header) {
        headers[ncols] = v->cols[ncols].header;
        ncols++;
    }
    if (!(t = cli_table_new(ncols, headers)))
        return NULL;
    for (int c = 0; c < ncols; c++)
        if (v->cols[c].right)
            cli_table_align_right(t, c);
    for (size_t i = 0; i < count; i++) {
        for (int c = 0; c < ncols; c++)
            cell[c] = "";
        v->row((const char *)items + i * v->item_size, cell, buf);
        if (cli_table_add(t, cell) < 0) {
            cli_table_free(t);
            return NULL;
        }
    }
    return t;
}

int cli_list_print(cli_ctx *ctx, const cli_list_view *v, const void *items, size_t count,
                   const bill_page_meta *meta, json_object *extra_json, const char *footer_extra)
{
    cli_table *t;

    if (ctx->json)
        return list_json(v, items, count, meta, extra_json);
    json_object_put(extra_json);
    if (!(t = cli_list_table(v, items, count)))
        return cli_errorf("out of memory");
    cli_table_print(t, stdout);
    cli_table_free(t);
    printf("\n%llu %s (page %u of %u)%s\n", (unsigned long long)meta->total,
           meta->total == 1 ? v->one : v->many, meta->page,
           meta->total_pages ? meta->total_pages : 1, footer_extra ? footer_extra : "");
    return CLI_EXIT_OK;
}
