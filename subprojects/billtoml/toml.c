/*
 * toml.c — strict TOML 1.0 parser (private; see toml.h).
 *
 * A hand-written recursive-descent parser over a byte buffer. The whole input
 * is checked for valid UTF-8 and stray carriage returns first, so the rest of
 * the parser can treat bytes >= 0x80 as opaque string content. Recursion is
 * bounded (nesting depth and dotted-key length) so hostile input cannot
 * exhaust the stack; every allocation failure is reported, never ignored.
 *
 * Table-definition rules (the subtle part of TOML) are enforced with flags on
 * table nodes; see the F_* comments below.
 */
#include "toml.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Table defined by a [header] (or is an [[array]] element / inline table):
 * a second [header] for it is a redefinition. */
#define F_EXPLICIT 1u
/* Table created by a dotted key (a.b = 1): dotted keys may extend it, a
 * [header] may not define it again. */
#define F_DOTTED 2u
/* Sealed value: an inline table or a static array; nothing may be added. */
#define F_SEALED 4u
/* Array created by [[header]]: further [[header]]s append to it. */
#define F_AOT 8u

#define MAX_DEPTH 64     /* nested arrays / inline tables */
#define MAX_KEY_PARTS 64 /* segments of one dotted key */
#define MAX_FILE_BYTES (16u * 1024u * 1024u)

typedef struct {
    const char *s;
    size_t n;
    size_t pos;
    const char *file;
    char *err;
    size_t errlen;
    bool failed;
    /* line cache: positions are mostly visited in increasing order */
    size_t cache_pos, cache_line_start;
    int cache_line;
    int depth;
    bill__toml_node *root;
    bill__toml_node *cur;  /* table receiving key/values */
    char tpath[256];       /* path of cur, for messages */
    char kpath[256];       /* key whose value is being parsed, for messages */
} parser;

typedef struct {
    char *ptr;
    size_t len, cap;
} sbuf;

typedef struct {
    char *part[MAX_KEY_PARTS];
    size_t pos[MAX_KEY_PARTS];
    size_t n;
} keyparts;

/* ---- small helpers ------------------------------------------------------ */

/* Line and column of a byte offset. Nodes are created in (almost) increasing
 * order, so walking from the previous answer keeps this linear overall. */
static void locate(parser *p, size_t pos, int *line, int *col)
{
    if (pos > p->n)
        pos = p->n;
    if (pos < p->cache_pos) {
        for (size_t i = p->cache_pos; i > pos; i--)
            if (p->s[i - 1] == '\n')
                p->cache_line--;
        size_t ls = pos;
        while (ls > 0 && p->s[ls - 1] != '\n')
            ls--;
        p->cache_line_start = ls;
    } else {
        for (size_t i = p->cache_pos; i < pos; i++) {
            if (p->s[i] == '\n') {
                p->cache_line++;
                p->cache_line_start = i + 1;
            }
        }
    }
    p->cache_pos = pos;
    *line = p->cache_line;
    *col = (int)(pos - p->cache_line_start) + 1;
}

static int fail(parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(parser *p, size_t pos, const char *fmt, ...)
{
    if (p->failed)
        return -1;
    p->failed = true;
    if (!p->err || p->errlen == 0)
        return -1;
    int line, col;
    locate(p, pos, &line, &col);
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (p->kpath[0])
        snprintf(p->err, p->errlen, "%s:%d:%d: %s (key '%s')", p->file, line, col, msg, p->kpath);
    else
        snprintf(p->err, p->errlen, "%s:%d:%d: %s", p->file, line, col, msg);
    return -1;
}

static int oom(parser *p)
{
    return fail(p, p->pos, "out of memory");
}

static int sb_add(sbuf *b, const char *d, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 32;
        while (nc < b->len + len + 1)
            nc *= 2;
        char *np = realloc(b->ptr, nc);
        if (!np)
            return -1;
        b->ptr = np;
        b->cap = nc;
    }
    memcpy(b->ptr + b->len, d, len);
    b->len += len;
    b->ptr[b->len] = '\0';
    return 0;
}

static int sb_addc(sbuf *b, char c)
{
    return sb_add(b, &c, 1);
}

/* Make sure an empty string is still a valid allocation. */
static int sb_finish(sbuf *b)
{
    return b->ptr ? 0 : sb_add(b, "", 0);
}

static bool is_ctrl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

static bool is_bare(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

static bool at_eof(parser *p)
{
    return p->pos >= p->n;
}

static int peek(parser *p, size_t ahead)
{
    return p->pos + ahead < p->n ? (unsigned char)p->s[p->pos + ahead] : -1;
}

static bool starts(parser *p, const char *lit)
{
    size_t l = strlen(lit);
    return p->n - p->pos >= l && memcmp(p->s + p->pos, lit, l) == 0;
}

static void skip_ws(parser *p)
{
    while (!at_eof(p) && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t'))
        p->pos++;
}

/* Length of a newline at pos (1 for LF, 2 for CRLF), else 0. */
static size_t nl_len(parser *p)
{
    if (starts(p, "\n"))
        return 1;
    if (starts(p, "\r\n"))
        return 2;
    return 0;
}

/* At '#': consume the comment up to (not including) the newline. */
static int skip_comment(parser *p)
{
    while (!at_eof(p) && p->s[p->pos] != '\n') {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '\r' && peek(p, 1) == '\n')
            break;
        if (is_ctrl(c))
            return fail(p, p->pos, "control character U+%04X is not allowed in a comment", c);
        p->pos++;
    }
    return 0;
}

/* Whitespace, newlines and comments (inside arrays). */
static int skip_ws_nl(parser *p)
{
    for (;;) {
        skip_ws(p);
        if (at_eof(p))
            return 0;
        size_t l = nl_len(p);
        if (l) {
            p->pos += l;
        } else if (p->s[p->pos] == '#') {
            if (skip_comment(p) < 0)
                return -1;
        } else {
            return 0;
        }
    }
}

/* Whole-input checks: valid UTF-8 (no overlongs, surrogates or > U+10FFFF)
 * and no carriage return outside a CRLF pair. */
static int check_encoding(parser *p)
{
    const unsigned char *s = (const unsigned char *)p->s;
    size_t i = 0, n = p->n;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            if (c == '\r' && (i + 1 >= n || s[i + 1] != '\n'))
                return fail(p, i, "carriage return not followed by a line feed");
            i++;
            continue;
        }
        size_t need;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF)
            need = 1;
        else if (c == 0xE0)
            need = 2, lo = 0xA0;
        else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
            need = 2;
        else if (c == 0xED)
            need = 2, hi = 0x9F;
        else if (c == 0xF0)
            need = 3, lo = 0x90;
        else if (c >= 0xF1 && c <= 0xF3)
            need = 3;
        else if (c == 0xF4)
            need = 3, hi = 0x8F;
        else
            return fail(p, i, "invalid UTF-8 byte 0x%02X", c);
        if (i + need >= n)
            return fail(p, i, "truncated UTF-8 sequence");
        if (s[i + 1] < lo || s[i + 1] > hi)
            return fail(p, i, "invalid UTF-8 sequence");
        for (size_t k = 2; k <= need; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return fail(p, i, "invalid UTF-8 sequence");
        i += need + 1;
    }
    return 0;
}

/* "an integer", "a table", ... for messages. */
static const char *a_type(const bill__toml_node *n)
{
    switch (n->type) {
    case BILL__TOML_TABLE: return n->flags & F_SEALED ? "an inline table" : "a table";
    case BILL__TOML_ARRAY: return n->flags & F_AOT ? "an array of tables" : "a static array";
    case BILL__TOML_STRING: return "a string";
    case BILL__TOML_INTEGER: return "an integer";
    case BILL__TOML_FLOAT: return "a float";
    case BILL__TOML_BOOL: return "a boolean";
    }
    return "a value";
}

/* ---- nodes -------------------------------------------------------------- */

static bill__toml_node *node_new(parser *p, bill__toml_type t, size_t pos)
{
    bill__toml_node *nd = calloc(1, sizeof *nd);
    if (!nd)
        return NULL;
    nd->type = t;
    nd->file = p->file;
    locate(p, pos, &nd->line, &nd->col);
    return nd;
}

static void node_free(bill__toml_node *nd)
{
    if (!nd)
        return;
    for (size_t i = 0; i < nd->nkids; i++)
        node_free(nd->kids[i]);
    free(nd->kids);
    free(nd->key);
    if (nd->type == BILL__TOML_STRING)
        free(nd->v.str.ptr);
    free(nd);
}

static int node_add(bill__toml_node *parent, bill__toml_node *kid)
{
    if (parent->nkids == parent->capkids) {
        size_t nc = parent->capkids ? parent->capkids * 2 : 4;
        bill__toml_node **nk = realloc(parent->kids, nc * sizeof *nk);
        if (!nk)
            return -1;
        parent->kids = nk;
        parent->capkids = nc;
    }
    parent->kids[parent->nkids++] = kid;
    return 0;
}

static bill__toml_node *find_kid(const bill__toml_node *t, const char *key)
{
    for (size_t i = 0; i < t->nkids; i++)
        if (t->kids[i]->key && strcmp(t->kids[i]->key, key) == 0)
            return t->kids[i];
    return NULL;
}

/* New child table `key` of `parent` (key is copied). */
static bill__toml_node *add_table(parser *p, bill__toml_node *parent, const char *key,
                                  size_t pos, unsigned flags)
{
    bill__toml_node *t = node_new(p, BILL__TOML_TABLE, pos);
    if (!t || !(t->key = strdup(key)) || node_add(parent, t) < 0) {
        node_free(t);
        oom(p);
        return NULL;
    }
    t->flags = flags;
    return t;
}

static void seal(bill__toml_node *nd)
{
    if (nd->type != BILL__TOML_TABLE && nd->type != BILL__TOML_ARRAY)
        return;
    nd->flags |= F_SEALED;
    for (size_t i = 0; i < nd->nkids; i++)
        seal(nd->kids[i]);
}

static void join_path(char *dst, size_t dstlen, const char *base, const keyparts *k, size_t upto)
{
    size_t off = (size_t)snprintf(dst, dstlen, "%s", base);
    for (size_t i = 0; i < upto && off < dstlen; i++)
        off += (size_t)snprintf(dst + off, dstlen - off, "%s%s", off ? "." : "", k->part[i]);
}

static void keyparts_free(keyparts *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->part[i]);
    k->n = 0;
}

/* ---- strings ------------------------------------------------------------ */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int put_utf8(sbuf *b, uint32_t cp)
{
    char u[4];
    size_t l;
    if (cp < 0x80) {
        u[0] = (char)cp;
        l = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        l = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        l = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        l = 4;
    }
    return sb_add(b, u, l);
}

/* At a backslash inside a basic string: decode one escape into b. */
static int parse_escape(parser *p, sbuf *b)
{
    size_t start = p->pos;
    int e = peek(p, 1);
    const char *simple = NULL;
    switch (e) {
    case 'b': simple = "\b"; break;
    case 't': simple = "\t"; break;
    case 'n': simple = "\n"; break;
    case 'f': simple = "\f"; break;
    case 'r': simple = "\r"; break;
    case '"': simple = "\""; break;
    case '\\': simple = "\\"; break;
    case 'u':
    case 'U': {
        int digits = e == 'u' ? 4 : 8;
        uint32_t cp = 0;
        for (int i = 0; i < digits; i++) {
            int h = hexval(peek(p, 2 + (size_t)i));
            if (h < 0)
                return fail(p, start, "escape \\%c needs exactly %d hex digits", e, digits);
            cp = (cp << 4) | (uint32_t)h;
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return fail(p, start, "escape \\%c%0*X is not a Unicode scalar value", e, digits, cp);
        if (put_utf8(b, cp) < 0)
            return oom(p);
        p->pos += 2 + (size_t)digits;
        return 0;
    }
    default:
        if (e < 0)
            return fail(p, start, "unterminated string");
        if (e >= 0x20 && e < 0x7f)
            return fail(p, start, "invalid escape sequence \\%c", e);
        return fail(p, start, "invalid escape sequence (backslash followed by byte 0x%02X)", e);
    }
    if (sb_add(b, simple, 1) < 0)
        return oom(p);
    p->pos += 2;
    return 0;
}

/* Parse any of the four string forms at p->pos. `allow_ml` false for keys. */
static int parse_string(parser *p, sbuf *b, bool allow_ml)
{
    size_t start = p->pos;
    char q = p->s[p->pos];
    bool ml = (q == '"' && starts(p, "\"\"\"")) || (q == '\'' && starts(p, "'''"));
    if (ml && !allow_ml)
        return fail(p, start, "a multi-line string cannot be used as a key");
    if (!ml) {
        p->pos++;
        for (;;) {
            if (at_eof(p))
                return fail(p, start, "unterminated string");
            unsigned char c = (unsigned char)p->s[p->pos];
            if (c == (unsigned char)q) {
                p->pos++;
                break;
            }
            if (c == '\n' || c == '\r')
                return fail(p, p->pos, "newline in a single-line string (use a multi-line string)");
            if (is_ctrl(c))
                return fail(p, p->pos, "control character U+%04X must be escaped in a string", c);
            if (c == '\\' && q == '"') {
                if (parse_escape(p, b) < 0)
                    return -1;
                continue;
            }
            if (sb_addc(b, (char)c) < 0)
                return oom(p);
            p->pos++;
        }
        return sb_finish(b) < 0 ? oom(p) : 0;
    }

    p->pos += 3;
    p->pos += nl_len(p); /* a newline right after the opening delimiter is trimmed */
    for (;;) {
        if (at_eof(p))
            return fail(p, start, "unterminated multi-line string");
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == (unsigned char)q) {
            size_t run = 0;
            while (p->pos + run < p->n && p->s[p->pos + run] == q)
                run++;
            if (run >= 3) {
                if (run > 5)
                    return fail(p, p->pos, "too many quotes at the end of a multi-line string");
                for (size_t i = 0; i < run - 3; i++)
                    if (sb_addc(b, q) < 0)
                        return oom(p);
                p->pos += run;
                break;
            }
            for (size_t i = 0; i < run; i++)
                if (sb_addc(b, q) < 0)
                    return oom(p);
            p->pos += run;
            continue;
        }
        size_t l = nl_len(p);
        if (l) {
            if (sb_add(b, p->s + p->pos, l) < 0)
                return oom(p);
            p->pos += l;
            continue;
        }
        if (is_ctrl(c))
            return fail(p, p->pos, "control character U+%04X must be escaped in a string", c);
        if (c == '\\' && q == '"') {
            /* line-ending backslash: "\" + optional blanks + newline trims
             * all whitespace and newlines that follow */
            size_t j = p->pos + 1;
            while (j < p->n && (p->s[j] == ' ' || p->s[j] == '\t'))
                j++;
            if (j < p->n && (p->s[j] == '\n' || p->s[j] == '\r')) {
                p->pos = j;
                while (!at_eof(p) && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                                      p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
                    p->pos++;
                continue;
            }
            if (parse_escape(p, b) < 0)
                return -1;
            continue;
        }
        if (sb_addc(b, (char)c) < 0)
            return oom(p);
        p->pos++;
    }
    return sb_finish(b) < 0 ? oom(p) : 0;
}

/* ---- keys --------------------------------------------------------------- */

static int parse_simple_key(parser *p, keyparts *k)
{
    if (k->n >= MAX_KEY_PARTS)
        return fail(p, p->pos, "key has more than %d dotted parts", MAX_KEY_PARTS);
    size_t start = p->pos;
    sbuf b = {0};
    if (at_eof(p))
        return fail(p, p->pos, "expected a key, found end of file");
    char c = p->s[p->pos];
    if (c == '"' || c == '\'') {
        if (parse_string(p, &b, false) < 0) {
            free(b.ptr);
            return -1;
        }
        if (strlen(b.ptr) != b.len) {
            free(b.ptr);
            return fail(p, start, "keys containing U+0000 are not supported");
        }
    } else {
        while (!at_eof(p) && is_bare((unsigned char)p->s[p->pos]))
            p->pos++;
        if (p->pos == start) {
            unsigned char u = (unsigned char)c;
            if (u >= 0x20 && u < 0x7f)
                return fail(p, start, "expected a key, found '%c'", c);
            return fail(p, start, "expected a key, found byte 0x%02X", u);
        }
        if (sb_add(&b, p->s + start, p->pos - start) < 0)
            return oom(p);
    }
    k->part[k->n] = b.ptr;
    k->pos[k->n] = start;
    k->n++;
    return 0;
}

static int parse_key(parser *p, keyparts *k)
{
    for (;;) {
        if (parse_simple_key(p, k) < 0)
            return -1;
        skip_ws(p);
        if (!at_eof(p) && p->s[p->pos] == '.') {
            p->pos++;
            skip_ws(p);
            continue;
        }
        return 0;
    }
}

/* ---- scalars ------------------------------------------------------------ */

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* Digits of `base` with single underscores between digits; appends the
 * digits (without underscores) to out. Returns count of digits or -1. */
static int scan_digits(const char *t, size_t len, int base, char *out, size_t *olen)
{
    int count = 0;
    bool prev_digit = false;
    for (size_t i = 0; i < len; i++) {
        char c = t[i];
        if (c == '_') {
            if (!prev_digit || i + 1 >= len)
                return -1;
            prev_digit = false;
            continue;
        }
        int v = hexval((unsigned char)c);
        if (v < 0 || v >= base)
            return -1;
        out[(*olen)++] = c;
        prev_digit = true;
        count++;
    }
    return prev_digit ? count : -1;
}

static const char *datetime_kind(const char *t, size_t len, parser *p, size_t end)
{
    bool date = len >= 10 && is_digit(t[0]) && is_digit(t[1]) && is_digit(t[2]) &&
                is_digit(t[3]) && t[4] == '-';
    bool time = len >= 3 && is_digit(t[0]) && is_digit(t[1]) && t[2] == ':';
    if (time)
        return "local time values are not supported";
    if (!date)
        return NULL;
    /* "1979-05-27 07:32:00": the time follows a space */
    const char *tm = NULL;
    size_t tlen = 0;
    if (len > 10 && (t[10] == 'T' || t[10] == 't')) {
        tm = t + 11;
        tlen = len - 11;
    } else if (len == 10 && end + 3 < p->n && p->s[end] == ' ' && is_digit(p->s[end + 1]) &&
               is_digit(p->s[end + 2]) && p->s[end + 3] == ':') {
        tm = p->s + end + 1;
        tlen = 0;
        while (end + 1 + tlen < p->n && (is_digit(tm[tlen]) || strchr(":.+-Zz", tm[tlen])) &&
               tm[tlen] != '\0')
            tlen++;
    }
    if (!tm)
        return "local date values are not supported";
    for (size_t i = 0; i < tlen; i++)
        if (tm[i] == 'Z' || tm[i] == 'z' || tm[i] == '+' || tm[i] == '-')
            return "offset date-time values are not supported";
    return "local date-time values are not supported";
}

static int parse_number_or_word(parser *p, bill__toml_node **out, size_t start)
{
    while (!at_eof(p)) {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (!(is_bare(c) || c == '+' || c == '.' || c == ':'))
            break;
        p->pos++;
    }
    const char *t = p->s + start;
    size_t len = p->pos - start;
    if (len == 0) {
        unsigned char c = at_eof(p) ? 0 : (unsigned char)p->s[p->pos];
        if (at_eof(p) || c == '\n' || c == '\r' || c == '#')
            return fail(p, start, "expected a value");
        if (c >= 0x20 && c < 0x7f)
            return fail(p, start, "expected a value, found '%c'", c);
        return fail(p, start, "expected a value, found byte 0x%02X", c);
    }
    if (len > 128)
        return fail(p, start, "invalid value (token too long)");

    bill__toml_node *nd = NULL;
    if ((len == 4 && memcmp(t, "true", 4) == 0) || (len == 5 && memcmp(t, "false", 5) == 0)) {
        if (!(nd = node_new(p, BILL__TOML_BOOL, start)))
            return oom(p);
        nd->v.b = len == 4;
        *out = nd;
        return 0;
    }
    const char *why = datetime_kind(t, len, p, p->pos);
    if (why)
        return fail(p, start, "%s (write the value as a string)", why);

    size_t i = 0;
    bool neg = false, sign = false;
    if (t[0] == '+' || t[0] == '-') {
        sign = true;
        neg = t[0] == '-';
        i = 1;
    }
    const char *r = t + i;
    size_t rl = len - i;
    if ((rl == 3 && memcmp(r, "inf", 3) == 0) || (rl == 3 && memcmp(r, "nan", 3) == 0)) {
        if (!(nd = node_new(p, BILL__TOML_FLOAT, start)))
            return oom(p);
        nd->v.f = r[0] == 'i' ? (neg ? -INFINITY : INFINITY) : (neg ? -NAN : NAN);
        *out = nd;
        return 0;
    }
    if (rl == 0 || !is_digit(r[0])) {
        if (len == 4 && (memcmp(t, "True", 4) == 0 || memcmp(t, "TRUE", 4) == 0))
            return fail(p, start, "invalid value '%.*s' (booleans are lower-case true/false)",
                        (int)len, t);
        return fail(p, start, "invalid value '%.*s' (strings must be quoted)", (int)len, t);
    }

    char digits[160];
    size_t dl = 0;
    if (rl >= 2 && r[0] == '0' && (r[1] == 'x' || r[1] == 'o' || r[1] == 'b')) {
        int base = r[1] == 'x' ? 16 : r[1] == 'o' ? 8 : 2;
        if (sign)
            return fail(p, start, "a sign is not allowed on hexadecimal, octal or binary integers");
        if (scan_digits(r + 2, rl - 2, base, digits, &dl) < 0)
            return fail(p, start, "invalid integer '%.*s'", (int)len, t);
        uint64_t v = 0;
        for (size_t k = 0; k < dl; k++) {
            uint64_t d = (uint64_t)hexval((unsigned char)digits[k]);
            if (v > ((uint64_t)INT64_MAX - d) / (uint64_t)base)
                return fail(p, start, "integer '%.*s' does not fit in 64 bits", (int)len, t);
            v = v * (uint64_t)base + d;
        }
        if (!(nd = node_new(p, BILL__TOML_INTEGER, start)))
            return oom(p);
        nd->v.i = (int64_t)v;
        *out = nd;
        return 0;
    }

    /* decimal integer or float: split into int part, fraction, exponent */
    size_t ie = 0;
    while (ie < rl && (is_digit(r[ie]) || r[ie] == '_'))
        ie++;
    if (ie > 1 && r[0] == '0')
        return fail(p, start, "leading zeros are not allowed in '%.*s'", (int)len, t);
    if (scan_digits(r, ie, 10, digits, &dl) < 0)
        return fail(p, start, "invalid number '%.*s'", (int)len, t);
    if (ie == rl) {
        uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        for (size_t k = 0; k < dl; k++) {
            uint64_t d = (uint64_t)(digits[k] - '0');
            if (v > (lim - d) / 10)
                return fail(p, start, "integer '%.*s' does not fit in 64 bits", (int)len, t);
            v = v * 10 + d;
        }
        if (!(nd = node_new(p, BILL__TOML_INTEGER, start)))
            return oom(p);
        nd->v.i = neg ? (int64_t)(0 - v) : (int64_t)v;
        *out = nd;
        return 0;
    }
    size_t k = ie;
    if (r[k] == '.') {
        digits[dl++] = '.';
        size_t fs = ++k;
        while (k < rl && (is_digit(r[k]) || r[k] == '_'))
            k++;
        if (k == fs || scan_digits(r + fs, k - fs, 10, digits, &dl) < 0)
            return fail(p, start, "invalid float '%.*s' (digits needed after '.')", (int)len, t);
    }
    if (k < rl && (r[k] == 'e' || r[k] == 'E')) {
        digits[dl++] = 'e';
        k++;
        if (k < rl && (r[k] == '+' || r[k] == '-'))
            digits[dl++] = r[k++];
        size_t es = k;
        while (k < rl && (is_digit(r[k]) || r[k] == '_'))
            k++;
        if (k == es || scan_digits(r + es, k - es, 10, digits, &dl) < 0)
            return fail(p, start, "invalid float exponent in '%.*s'", (int)len, t);
    }
    if (k != rl)
        return fail(p, start, "invalid number '%.*s'", (int)len, t);
    digits[dl] = '\0';

    /* strtod_l: the host program's LC_NUMERIC must not change how '.' parses */
    locale_t cl = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (cl == (locale_t)0)
        return oom(p);
    errno = 0;
    double f = strtod_l(digits, NULL, cl);
    int e = errno;
    freelocale(cl);
    if (e == ERANGE && isinf(f))
        return fail(p, start, "float '%.*s' is out of range", (int)len, t);
    if (!(nd = node_new(p, BILL__TOML_FLOAT, start)))
        return oom(p);
    nd->v.f = neg ? -f : f;
    *out = nd;
    return 0;
}

/* ---- values ------------------------------------------------------------- */

static int parse_value(parser *p, bill__toml_node **out);
static int parse_keyval(parser *p, bill__toml_node *table, bool in_inline);

static int parse_array(parser *p, bill__toml_node **out)
{
    size_t start = p->pos;
    bill__toml_node *arr = node_new(p, BILL__TOML_ARRAY, start);
    if (!arr)
        return oom(p);
    p->pos++; /* '[' */
    int rc = -1;
    for (;;) {
        if (skip_ws_nl(p) < 0)
            goto done;
        if (at_eof(p)) {
            fail(p, start, "unterminated array");
            goto done;
        }
        if (p->s[p->pos] == ']') {
            p->pos++;
            break;
        }
        bill__toml_node *item = NULL;
        if (parse_value(p, &item) < 0)
            goto done;
        if (node_add(arr, item) < 0) {
            node_free(item);
            oom(p);
            goto done;
        }
        if (skip_ws_nl(p) < 0)
            goto done;
        if (at_eof(p)) {
            fail(p, start, "unterminated array");
            goto done;
        }
        if (p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->s[p->pos] == ']') {
            p->pos++;
            break;
        }
        fail(p, p->pos, "expected ',' or ']' in array");
        goto done;
    }
    seal(arr);
    *out = arr;
    arr = NULL;
    rc = 0;
done:
    node_free(arr);
    return rc;
}

static int parse_inline_table(parser *p, bill__toml_node **out)
{
    size_t start = p->pos;
    bill__toml_node *t = node_new(p, BILL__TOML_TABLE, start);
    if (!t)
        return oom(p);
    t->flags = F_EXPLICIT;
    p->pos++; /* '{' */
    int rc = -1;
    skip_ws(p);
    if (!at_eof(p) && p->s[p->pos] == '}') {
        p->pos++;
    } else {
        for (;;) {
            skip_ws(p);
            if (at_eof(p)) {
                fail(p, start, "unterminated inline table");
                goto done;
            }
            if (nl_len(p)) {
                fail(p, p->pos, "newline is not allowed inside an inline table");
                goto done;
            }
            if (p->s[p->pos] == '}') {
                fail(p, p->pos, "trailing comma is not allowed in an inline table");
                goto done;
            }
            if (parse_keyval(p, t, true) < 0)
                goto done;
            skip_ws(p);
            if (at_eof(p)) {
                fail(p, start, "unterminated inline table");
                goto done;
            }
            char c = p->s[p->pos];
            if (c == ',') {
                p->pos++;
                continue;
            }
            if (c == '}') {
                p->pos++;
                break;
            }
            if (nl_len(p))
                fail(p, p->pos, "newline is not allowed inside an inline table");
            else
                fail(p, p->pos, "expected ',' or '}' in inline table");
            goto done;
        }
    }
    seal(t);
    *out = t;
    t = NULL;
    rc = 0;
done:
    node_free(t);
    return rc;
}

static int parse_value(parser *p, bill__toml_node **out)
{
    if (at_eof(p))
        return fail(p, p->pos, "expected a value, found end of file");
    if (p->depth >= MAX_DEPTH)
        return fail(p, p->pos, "values nested more than %d deep", MAX_DEPTH);
    size_t start = p->pos;
    char c = p->s[p->pos];
    int rc;
    p->depth++;
    if (c == '"' || c == '\'') {
        sbuf b = {0};
        rc = parse_string(p, &b, true);
        if (rc == 0) {
            bill__toml_node *nd = node_new(p, BILL__TOML_STRING, start);
            if (!nd) {
                free(b.ptr);
                rc = oom(p);
            } else {
                nd->v.str.ptr = b.ptr;
                nd->v.str.len = b.len;
                *out = nd;
            }
        } else {
            free(b.ptr);
        }
    } else if (c == '[') {
        rc = parse_array(p, out);
    } else if (c == '{') {
        rc = parse_inline_table(p, out);
    } else {
        rc = parse_number_or_word(p, out, start);
    }
    p->depth--;
    return rc;
}

/* key = value into `table`; dotted keys create (or extend) dotted tables. */
static int parse_keyval(parser *p, bill__toml_node *table, bool in_inline)
{
    keyparts k = {.n = 0};
    bill__toml_node *val = NULL;
    int rc = -1;
    char saved[sizeof p->kpath];
    memcpy(saved, p->kpath, sizeof saved);

    if (parse_key(p, &k) < 0)
        goto done;
    join_path(p->kpath, sizeof p->kpath, in_inline ? saved : p->tpath, &k, k.n);
    skip_ws(p);
    if (at_eof(p) || p->s[p->pos] != '=') {
        fail(p, p->pos, "expected '=' after the key");
        goto done;
    }
    p->pos++;
    skip_ws(p);
    if (parse_value(p, &val) < 0)
        goto done;

    bill__toml_node *t = table;
    for (size_t i = 0; i + 1 < k.n; i++) {
        bill__toml_node *kid = find_kid(t, k.part[i]);
        if (!kid) {
            if (!(kid = add_table(p, t, k.part[i], k.pos[i], F_DOTTED)))
                goto done;
        } else if (kid->type != BILL__TOML_TABLE) {
            fail(p, k.pos[i], "cannot add keys to '%s': it is already %s", k.part[i], a_type(kid));
            goto done;
        } else if (kid->flags & F_SEALED) {
            fail(p, k.pos[i], "cannot add keys to inline table '%s'", k.part[i]);
            goto done;
        } else if (!(kid->flags & F_DOTTED)) {
            fail(p, k.pos[i], "cannot add keys to table '%s' with dotted keys: it is defined by a [table] header",
                 k.part[i]);
            goto done;
        }
        t = kid;
    }
    const char *last = k.part[k.n - 1];
    if (find_kid(t, last)) {
        fail(p, k.pos[k.n - 1], "duplicate key '%s'", last);
        goto done;
    }
    val->key = k.part[k.n - 1];
    k.part[k.n - 1] = NULL;
    /* a value remembers where its key was written */
    locate(p, k.pos[k.n - 1], &val->line, &val->col);
    if (node_add(t, val) < 0) {
        oom(p);
        goto done;
    }
    val = NULL;
    rc = 0;
done:
    node_free(val);
    keyparts_free(&k);
    memcpy(p->kpath, saved, sizeof saved);
    return rc;
}

/* At '[': a [table] or [[array of tables]] header. */
static int parse_header(parser *p)
{
    keyparts k = {.n = 0};
    int rc = -1;
    size_t start = p->pos;
    bool aot = starts(p, "[[");
    p->pos += aot ? 2 : 1;
    skip_ws(p);
    if (parse_key(p, &k) < 0)
        goto done;
    if (aot ? !starts(p, "]]") : !starts(p, "]")) {
        fail(p, p->pos, "expected '%s' to close the table header", aot ? "]]" : "]");
        goto done;
    }
    p->pos += aot ? 2 : 1;
    join_path(p->tpath, sizeof p->tpath, "", &k, k.n);

    bill__toml_node *t = p->root;
    for (size_t i = 0; i + 1 < k.n; i++) {
        bill__toml_node *kid = find_kid(t, k.part[i]);
        if (!kid) {
            if (!(kid = add_table(p, t, k.part[i], k.pos[i], 0)))
                goto done;
        } else if (kid->type == BILL__TOML_ARRAY && (kid->flags & F_AOT) && kid->nkids > 0) {
            kid = kid->kids[kid->nkids - 1];
        } else if (kid->type != BILL__TOML_TABLE) {
            fail(p, k.pos[i], "cannot define [%s]: '%s' is already %s", p->tpath, k.part[i],
                 a_type(kid));
            goto done;
        } else if (kid->flags & F_SEALED) {
            fail(p, k.pos[i], "cannot define [%s]: '%s' is an inline table", p->tpath, k.part[i]);
            goto done;
        }
        t = kid;
    }
    const char *last = k.part[k.n - 1];
    size_t lpos = k.pos[k.n - 1];
    bill__toml_node *kid = find_kid(t, last);
    if (!aot) {
        if (!kid) {
            if (!(kid = add_table(p, t, last, lpos, F_EXPLICIT)))
                goto done;
        } else if (kid->type == BILL__TOML_TABLE &&
                   !(kid->flags & (F_EXPLICIT | F_DOTTED | F_SEALED))) {
            kid->flags |= F_EXPLICIT; /* was only implied by a deeper header */
            locate(p, lpos, &kid->line, &kid->col);
        } else if (kid->type == BILL__TOML_TABLE) {
            fail(p, start, "table [%s] is defined more than once", p->tpath);
            goto done;
        } else {
            fail(p, start, "cannot define table [%s]: the key is already %s", p->tpath,
                 a_type(kid));
            goto done;
        }
        p->cur = kid;
    } else {
        if (!kid) {
            kid = node_new(p, BILL__TOML_ARRAY, lpos);
            if (!kid || !(kid->key = strdup(last)) || node_add(t, kid) < 0) {
                node_free(kid);
                oom(p);
                goto done;
            }
            kid->flags = F_AOT;
        } else if (!(kid->type == BILL__TOML_ARRAY && (kid->flags & F_AOT))) {
            fail(p, start, "cannot define array of tables [[%s]]: the key is already %s",
                 p->tpath, a_type(kid));
            goto done;
        }
        bill__toml_node *elem = node_new(p, BILL__TOML_TABLE, lpos);
        if (!elem || node_add(kid, elem) < 0) {
            node_free(elem);
            oom(p);
            goto done;
        }
        elem->flags = F_EXPLICIT;
        p->cur = elem;
    }
    rc = 0;
done:
    keyparts_free(&k);
    return rc;
}

/* After a key/value or header: blanks, optional comment, then newline/EOF. */
static int end_of_line(parser *p, const char *what)
{
    skip_ws(p);
    if (at_eof(p))
        return 0;
    if (p->s[p->pos] == '#' && skip_comment(p) < 0)
        return -1;
    if (at_eof(p))
        return 0;
    size_t l = nl_len(p);
    if (!l) {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c >= 0x20 && c < 0x7f)
            return fail(p, p->pos, "expected a newline after the %s, found '%c'", what, c);
        return fail(p, p->pos, "expected a newline after the %s, found byte 0x%02X", what, c);
    }
    p->pos += l;
    return 0;
}

/* ---- public ------------------------------------------------------------- */

int bill__toml_parse(bill__toml_node **out, const char *text, size_t len, const char *file,
                     char *err, size_t errlen)
{
    parser p = {.s = text ? text : "", .n = text ? len : 0, .err = err, .errlen = errlen,
                .cache_line = 1};
    int rc = -1;
    char *fcopy = strdup(file ? file : "<input>");
    if (err && errlen)
        err[0] = '\0';
    p.file = fcopy ? fcopy : "<input>";
    if (!fcopy) {
        oom(&p);
        return -1;
    }
    p.root = node_new(&p, BILL__TOML_TABLE, 0);
    if (!p.root) {
        oom(&p);
        free(fcopy);
        return -1;
    }
    /* the root owns the file name string; node_free releases it via key */
    p.root->key = fcopy;
    p.root->flags = F_EXPLICIT;
    p.cur = p.root;
    if (check_encoding(&p) < 0)
        goto done;
    if (starts(&p, "\xEF\xBB\xBF"))
        p.pos = 3; /* a UTF-8 byte order mark is tolerated */

    while (!at_eof(&p)) {
        skip_ws(&p);
        if (at_eof(&p))
            break;
        char c = p.s[p.pos];
        size_t l = nl_len(&p);
        if (l) {
            p.pos += l;
        } else if (c == '#') {
            if (skip_comment(&p) < 0)
                goto done;
        } else if (c == '[') {
            if (parse_header(&p) < 0 || end_of_line(&p, "table header") < 0)
                goto done;
        } else {
            if (parse_keyval(&p, p.cur, false) < 0 || end_of_line(&p, "value") < 0)
                goto done;
        }
    }
    *out = p.root;
    p.root = NULL;
    rc = 0;
done:
    bill__toml_free(p.root);
    return rc;
}

int bill__toml_parse_file(bill__toml_node **out, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = -2;
    if (!f) {
        int e = errno;
        if (err && errlen)
            snprintf(err, errlen, "%s: cannot open: %s", path, strerror(e));
        errno = e;
        return -2;
    }
    for (;;) {
        if (len == cap) {
            if (cap >= MAX_FILE_BYTES) {
                if (err && errlen)
                    snprintf(err, errlen, "%s: file is larger than %u bytes", path, MAX_FILE_BYTES);
                rc = -1;
                goto done;
            }
            size_t nc = cap ? cap * 2 : 4096;
            char *nb = realloc(buf, nc);
            if (!nb) {
                if (err && errlen)
                    snprintf(err, errlen, "%s: out of memory", path);
                goto done;
            }
            buf = nb;
            cap = nc;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                int e = errno;
                if (err && errlen)
                    snprintf(err, errlen, "%s: read error: %s", path, strerror(e));
                goto done;
            }
            break;
        }
    }
    rc = bill__toml_parse(out, buf, len, path, err, errlen);
done:
    free(buf);
    fclose(f);
    return rc;
}

void bill__toml_free(bill__toml_node *root)
{
    node_free(root);
}

const bill__toml_node *bill__toml_get(const bill__toml_node *table, const char *key)
{
    if (!table || table->type != BILL__TOML_TABLE || !key)
        return NULL;
    return find_kid(table, key);
}

const char *bill__toml_type_name(bill__toml_type t)
{
    switch (t) {
    case BILL__TOML_TABLE: return "table";
    case BILL__TOML_ARRAY: return "array";
    case BILL__TOML_STRING: return "string";
    case BILL__TOML_INTEGER: return "integer";
    case BILL__TOML_FLOAT: return "float";
    case BILL__TOML_BOOL: return "boolean";
    }
    return "value";
}
