/*
 * html.c — the allow-list HTML sanitizer (include/bill/html.h): provider
 * detail sections and other untrusted HTML pass through here before any
 * frontend renders them. A small tokenizer, not a parser: what it does not
 * recognise as an allowed tag with allowed attributes becomes text.
 */
#include "internal.h"
#include "bill/html.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Escape for text and for double-quoted attribute values alike. */
static void sb_escape(bill__buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&': bill__buf_puts(b, "&amp;"); break;
        case '<': bill__buf_puts(b, "&lt;"); break;
        case '>': bill__buf_puts(b, "&gt;"); break;
        case '"': bill__buf_puts(b, "&quot;"); break;
        case '\'': bill__buf_puts(b, "&#39;"); break;
        default: bill__buf_add(b, &s[i], 1);
        }
    }
}

static const char *const allowed_tags[] = {"p",  "br",    "b",     "i",     "strong", "em",
                                           "ul", "ol",    "li",    "code",  "pre",    "table",
                                           "thead", "tbody", "tr", "td",    "th",     "a",
                                           "span", "div"};
/* Dropped together with everything inside them. */
static const char *const drop_tags[] = {"script", "style",  "iframe", "object",  "embed",
                                        "svg",    "math",   "template", "noscript", "textarea",
                                        "title",  "xmp",    "noembed", "noframes", "frameset",
                                        "plaintext"};

static bool in_set(const char *name, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, set[i]) == 0)
            return true;
    return false;
}

static bool name_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == ':';
}

/* A few named references browsers map to ASCII that matter in URLs. */
static const struct {
    const char *name;
    char ch;
} named_refs[] = {{"amp", '&'},    {"lt", '<'},      {"gt", '>'},     {"quot", '"'},
                  {"apos", '\''},  {"colon", ':'},   {"Tab", '\t'},   {"NewLine", '\n'},
                  {"sol", '/'},    {"period", '.'},  {"lpar", '('},   {"rpar", ')'},
                  {"nbsp", ' '},   {"semi", ';'},    {"num", '#'},    {"quest", '?'}};

/* Decode character references in an attribute value (numeric with or
 * without ';', the named ones above); unknown references stay literal.
 * Code points outside ASCII are kept as '?' — they never form a scheme. */
static char *decode_refs(const char *s, size_t n)
{
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n;) {
        if (s[i] != '&') {
            *o++ = s[i++];
            continue;
        }
        size_t j = i + 1;
        if (j < n && s[j] == '#') {
            unsigned long v = 0;
            bool hex = j + 1 < n && (s[j + 1] == 'x' || s[j + 1] == 'X');
            size_t k = j + 1 + hex, digits = 0;
            while (k < n && (hex ? isxdigit((unsigned char)s[k]) : isdigit((unsigned char)s[k]))) {
                if (v < 0x110000)
                    v = v * (hex ? 16 : 10) +
                        (unsigned long)(isdigit((unsigned char)s[k])
                                            ? s[k] - '0'
                                            : (tolower((unsigned char)s[k]) - 'a' + 10));
                k++;
                digits++;
            }
            if (digits > 0) {
                if (k < n && s[k] == ';')
                    k++;
                *o++ = (v > 0 && v < 0x80) ? (char)v : '?';
                i = k;
                continue;
            }
        } else {
            size_t k = j;
            while (k < n && isalnum((unsigned char)s[k]))
                k++;
            bool found = false;
            for (size_t r = 0; r < BILL__ARRAY_LEN(named_refs) && !found; r++) {
                size_t len = strlen(named_refs[r].name);
                if (k - j == len && strncmp(s + j, named_refs[r].name, len) == 0) {
                    *o++ = named_refs[r].ch;
                    i = k < n && s[k] == ';' ? k + 1 : k;
                    found = true;
                }
            }
            if (found)
                continue;
        }
        *o++ = s[i++];
    }
    *o = '\0';
    return out;
}

/* href allowed? Works on the decoded value; *clean (malloc'd) receives it
 * without the whitespace/control characters browsers ignore in URLs. */
static bool safe_href(const char *raw, size_t n, char **clean)
{
    char *d = decode_refs(raw, n), *w;
    *clean = NULL;
    if (!d)
        return false;
    w = d;
    for (char *r = d; *r; r++)
        if ((unsigned char)*r > 0x20 && *r != 0x7f)
            *w++ = *r;
    *w = '\0';
    size_t scheme = strcspn(d, ":/?#");
    bool ok = d[scheme] == ':' &&
              ((scheme == 4 && strncasecmp(d, "http", 4) == 0) ||
               (scheme == 5 && strncasecmp(d, "https", 5) == 0) ||
               (scheme == 6 && strncasecmp(d, "mailto", 6) == 0));
    if (!ok) {
        free(d);
        return false;
    }
    *clean = d;
    return true;
}

/* Skip to after the matching "</name" ... ">" (case-insensitive); returns
 * the index to continue at (n when there is none: content dropped to end). */
static size_t skip_element(const char *s, size_t i, size_t n, const char *name)
{
    size_t len = strlen(name);
    for (; i + 1 < n; i++) {
        if (s[i] == '<' && s[i + 1] == '/' && i + 2 + len <= n &&
            strncasecmp(s + i + 2, name, len) == 0 &&
            (i + 2 + len == n || !name_char(s[i + 2 + len]))) {
            const char *gt = memchr(s + i, '>', n - i);
            return gt ? (size_t)(gt - s) + 1 : n;
        }
    }
    return n;
}

#define MAX_DEPTH 64

int bill_html_sanitize(const char *in, char **out)
{
    bill__buf b;
    const char *stack[MAX_DEPTH];
    int depth = 0;
    size_t n, i = 0;

    if (!out)
        return bill__err(BILL_EINVALID, NULL, "out is required");
    *out = NULL;
    if (!in)
        in = "";
    n = strlen(in);
    bill__buf_init(&b, NULL, 0, 0);
    bill__buf_puts(&b, "");
    while (i < n && bill__buf_ok(&b)) {
        char c = in[i];
        if (c != '<') {
            /* Text: keep well-formed character references, escape the rest. */
            if (c == '&') {
                size_t k = i + 1;
                if (k < n && in[k] == '#')
                    k++;
                size_t start = k;
                while (k < n && isalnum((unsigned char)in[k]))
                    k++;
                if (k > start && k < n && in[k] == ';' && k - i < 40) {
                    bill__buf_add(&b, in + i, k - i + 1);
                    i = k + 1;
                    continue;
                }
            }
            sb_escape(&b, &c, 1);
            i++;
            continue;
        }
        /* Comments, doctypes, processing instructions: dropped. */
        if (i + 3 < n && strncmp(in + i, "<!--", 4) == 0) {
            const char *end = strstr(in + i + 4, "-->");
            i = end ? (size_t)(end - in) + 3 : n;
            continue;
        }
        if (i + 1 < n && (in[i + 1] == '!' || in[i + 1] == '?')) {
            const char *gt = memchr(in + i, '>', n - i);
            i = gt ? (size_t)(gt - in) + 1 : n;
            continue;
        }
        bool closing = i + 1 < n && in[i + 1] == '/';
        size_t ns = i + 1 + closing, ne = ns;
        if (ne >= n || !isalpha((unsigned char)in[ne])) {
            bill__buf_puts(&b, "&lt;"); /* "a < b" is text */
            i++;
            continue;
        }
        while (ne < n && name_char(in[ne]))
            ne++;
        char name[16];
        size_t nl = ne - ns;
        bool long_name = nl >= sizeof name;
        for (size_t k = 0; k < nl && k < sizeof name - 1; k++)
            name[k] = (char)tolower((unsigned char)in[ns + k]);
        name[nl < sizeof name ? nl : sizeof name - 1] = '\0';
        if (long_name)
            name[0] = '\0'; /* no allowed tag is that long */

        /* Find the end of the tag, honouring quoted attribute values. */
        size_t k = ne;
        char quote = 0;
        for (; k < n; k++) {
            if (quote) {
                if (in[k] == quote)
                    quote = 0;
            } else if (in[k] == '"' || in[k] == '\'') {
                quote = in[k];
            } else if (in[k] == '>') {
                break;
            }
        }
        if (k >= n) {
            /* Unterminated tag: nothing after it can be trusted as markup. */
            break;
        }
        size_t tag_end = k + 1;

        if (in_set(name, drop_tags, BILL__ARRAY_LEN(drop_tags))) {
            bool self = k > ne && in[k - 1] == '/';
            i = (closing || self) ? tag_end : skip_element(in, tag_end, n, name);
            continue;
        }
        if (!in_set(name, allowed_tags, BILL__ARRAY_LEN(allowed_tags))) {
            i = tag_end; /* unknown tag: dropped, its text stays */
            continue;
        }
        if (closing) {
            /* Close only what is open (and everything opened inside it). */
            int at = depth - 1;
            while (at >= 0 && strcmp(stack[at], name) != 0)
                at--;
            if (at >= 0) {
                while (depth > at) {
                    depth--;
                    bill__buf_puts(&b, "</");
                    bill__buf_puts(&b, stack[depth]);
                    bill__buf_puts(&b, ">");
                }
            }
            i = tag_end;
            continue;
        }
        bool is_br = strcmp(name, "br") == 0;
        if (!is_br && depth == MAX_DEPTH) {
            i = tag_end;
            continue;
        }
        bill__buf_puts(&b, "<");
        bill__buf_puts(&b, name);
        /* Attributes. */
        size_t a = ne;
        while (a < k) {
            while (a < k && (isspace((unsigned char)in[a]) || in[a] == '/'))
                a++;
            size_t as = a;
            while (a < k && !isspace((unsigned char)in[a]) && in[a] != '=' && in[a] != '/')
                a++;
            size_t al = a - as;
            const char *val = NULL;
            size_t vl = 0;
            while (a < k && isspace((unsigned char)in[a]))
                a++;
            if (a < k && in[a] == '=') {
                a++;
                while (a < k && isspace((unsigned char)in[a]))
                    a++;
                if (a < k && (in[a] == '"' || in[a] == '\'')) {
                    char q = in[a++];
                    val = in + a;
                    while (a < k && in[a] != q)
                        a++;
                    vl = (size_t)(in + a - val);
                    if (a < k)
                        a++;
                } else {
                    val = in + a;
                    while (a < k && !isspace((unsigned char)in[a]))
                        a++;
                    vl = (size_t)(in + a - val);
                }
            }
            if (al == 0) {
                if (a == as)
                    a++;
                continue;
            }
            char an[16];
            if (al >= sizeof an)
                continue;
            for (size_t z = 0; z < al; z++)
                an[z] = (char)tolower((unsigned char)in[as + z]);
            an[al] = '\0';
            bool keep = strcmp(an, "title") == 0 ||
                        ((strcmp(an, "colspan") == 0 || strcmp(an, "rowspan") == 0) &&
                         (strcmp(name, "td") == 0 || strcmp(name, "th") == 0));
            if (keep && val) {
                char *dv = decode_refs(val, vl);
                if (!dv) {
                    b.oom = true; /* sticky, like the buffer's own failures */
                    break;
                }
                bill__buf_puts(&b, " ");
                bill__buf_puts(&b, an);
                bill__buf_puts(&b, "=\"");
                sb_escape(&b, dv, strlen(dv));
                bill__buf_puts(&b, "\"");
                free(dv);
            } else if (strcmp(an, "href") == 0 && strcmp(name, "a") == 0 && val) {
                char *clean = NULL;
                if (safe_href(val, vl, &clean)) {
                    bill__buf_puts(&b, " href=\"");
                    sb_escape(&b, clean, strlen(clean));
                    bill__buf_puts(&b, "\"");
                }
                free(clean);
            }
        }
        if (strcmp(name, "a") == 0)
            bill__buf_puts(&b, " rel=\"noopener noreferrer nofollow\"");
        bill__buf_puts(&b, ">");
        if (!is_br) {
            /* Point at the static allow-list entry, not the local buffer. */
            for (size_t z = 0; z < BILL__ARRAY_LEN(allowed_tags); z++)
                if (strcmp(allowed_tags[z], name) == 0)
                    stack[depth++] = allowed_tags[z];
        }
        i = tag_end;
    }
    while (depth > 0) {
        depth--;
        bill__buf_puts(&b, "</");
        bill__buf_puts(&b, stack[depth]);
        bill__buf_puts(&b, ">");
    }
    if (!(*out = bill__buf_steal(&b)))
        return bill__err(BILL_ENOMEM, NULL, "out of memory sanitizing HTML");
    return BILL_OK;
}

