/*
 * test_toml.c — billtoml against its corpus (tests/corpus) and edge cases.
 *
 * valid/NAME.toml must parse and dump (see dump() below) exactly to
 * valid/NAME.expected; invalid/NAME.toml must fail with "FILE:LINE:COL: ...".
 * The .expected files were reviewed by hand against the TOML 1.0 spec, so a
 * parser change that alters any value shows up here.
 */
#include "toml.h"

#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef TOML_CORPUS_DIR
#error "TOML_CORPUS_DIR must be defined by the build"
#endif

typedef struct {
    char *p;
    size_t len, cap;
} buf;

static void bput(buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        ck_assert_ptr_nonnull(b->p);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void bputs(buf *b, const char *s)
{
    bput(b, s, strlen(s));
}

static bool bare_key(const char *k)
{
    if (!*k)
        return false;
    for (; *k; k++)
        if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') ||
              *k == '_' || *k == '-'))
            return false;
    return true;
}

static void put_quoted(buf *b, const char *s, size_t n)
{
    bputs(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char tmp[8];
        if (c == '"' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            bput(b, tmp, 2);
        } else if (c == '\n') {
            bputs(b, "\\n");
        } else if (c == '\t') {
            bputs(b, "\\t");
        } else if (c == '\r') {
            bputs(b, "\\r");
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(tmp, sizeof tmp, "\\x%02X", c);
            bputs(b, tmp);
        } else {
            bput(b, (const char *)&c, 1);
        }
    }
    bputs(b, "\"");
}

/* One line per leaf: `path = type:value`; empty containers as {} / []. */
static void dump(buf *b, const bill__toml_node *n, const char *path)
{
    char tmp[64];
    if (n->type == BILL__TOML_TABLE || n->type == BILL__TOML_ARRAY) {
        if (n->nkids == 0 && path[0]) {
            bputs(b, path);
            bputs(b, n->type == BILL__TOML_TABLE ? " = {}\n" : " = []\n");
        }
        for (size_t i = 0; i < n->nkids; i++) {
            buf sub = {0};
            bputs(&sub, path);
            if (n->type == BILL__TOML_TABLE) {
                if (path[0])
                    bputs(&sub, ".");
                if (bare_key(n->kids[i]->key))
                    bputs(&sub, n->kids[i]->key);
                else
                    put_quoted(&sub, n->kids[i]->key, strlen(n->kids[i]->key));
            } else {
                snprintf(tmp, sizeof tmp, "[%zu]", i);
                bputs(&sub, tmp);
            }
            dump(b, n->kids[i], sub.p);
            free(sub.p);
        }
        return;
    }
    bputs(b, path);
    bputs(b, " = ");
    switch (n->type) {
    case BILL__TOML_STRING:
        bputs(b, "string:");
        put_quoted(b, n->v.str.ptr, n->v.str.len);
        break;
    case BILL__TOML_INTEGER:
        snprintf(tmp, sizeof tmp, "integer:%lld", (long long)n->v.i);
        bputs(b, tmp);
        break;
    case BILL__TOML_FLOAT:
        if (isnan(n->v.f))
            snprintf(tmp, sizeof tmp, "float:nan");
        else if (isinf(n->v.f))
            snprintf(tmp, sizeof tmp, "float:%sinf", n->v.f < 0 ? "-" : "");
        else
            snprintf(tmp, sizeof tmp, "float:%.17g", n->v.f);
        bputs(b, tmp);
        break;
    case BILL__TOML_BOOL:
        bputs(b, n->v.b ? "bool:true" : "bool:false");
        break;
    default:
        break;
    }
    bputs(b, "\n");
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    buf b = {0};
    char chunk[4096];
    size_t got;
    bput(&b, "", 0);
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        bput(&b, chunk, got);
    fclose(f);
    if (len)
        *len = b.len;
    return b.p;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

START_TEST(valid_corpus)
{
    const char *dir = TOML_CORPUS_DIR "/valid";
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d))) {
        if (!ends_with(e->d_name, ".toml"))
            continue;
        char path[1024], exp_path[1024], err[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        snprintf(exp_path, sizeof exp_path, "%s/%.*s.expected", dir,
                 (int)(strlen(e->d_name) - 5), e->d_name);
        bill__toml_node *root = NULL;
        int rc = bill__toml_parse_file(&root, path, err, sizeof err);
        ck_assert_msg(rc == 0, "%s should parse: %s", e->d_name, err);
        buf b = {0};
        bput(&b, "", 0);
        dump(&b, root, "");
        char *want = slurp(exp_path, NULL);
        ck_assert_msg(want != NULL, "missing %s", exp_path);
        ck_assert_msg(strcmp(b.p, want) == 0, "%s: got\n%s\nwant\n%s", e->d_name, b.p, want);
        free(want);
        free(b.p);
        bill__toml_free(root);
        files++;
    }
    closedir(d);
    ck_assert_int_ge(files, 15);
}
END_TEST

START_TEST(invalid_corpus)
{
    const char *dir = TOML_CORPUS_DIR "/invalid";
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d))) {
        if (!ends_with(e->d_name, ".toml"))
            continue;
        char path[1024], err[512], prefix[1100];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        bill__toml_node *root = NULL;
        int rc = bill__toml_parse_file(&root, path, err, sizeof err);
        ck_assert_msg(rc == -1, "%s should be rejected (rc %d)", e->d_name, rc);
        ck_assert_ptr_null(root);
        /* "PATH:LINE:COL: message" */
        snprintf(prefix, sizeof prefix, "%s:", path);
        ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "%s: bad message %s", e->d_name, err);
        int line = 0, col = 0, used = 0;
        ck_assert_msg(sscanf(err + strlen(prefix), "%d:%d: %n", &line, &col, &used) == 2 && used > 0,
                      "%s: no line:col in %s", e->d_name, err);
        ck_assert_int_ge(line, 1);
        ck_assert_int_ge(col, 1);
        ck_assert_msg(strlen(err + strlen(prefix) + used) > 5, "%s: empty message", e->d_name);
        files++;
    }
    closedir(d);
    ck_assert_int_ge(files, 40);
}
END_TEST

/* Parse `text`; expect failure whose message has LINE:COL and `needle`. */
static void expect_error(const char *text, int line, int col, const char *needle)
{
    char err[512], want[64];
    bill__toml_node *root = NULL;
    int rc = bill__toml_parse(&root, text, strlen(text), "t.toml", err, sizeof err);
    ck_assert_msg(rc == -1, "should fail: %s", text);
    ck_assert_ptr_null(root);
    snprintf(want, sizeof want, "t.toml:%d:%d: ", line, col);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "want prefix %s, got %s", want, err);
    ck_assert_msg(strstr(err, needle) != NULL, "want '%s' in %s", needle, err);
}

START_TEST(error_positions)
{
    expect_error("a = 1\na = 2\n", 2, 1, "duplicate key 'a'");
    expect_error("# c\n\n[t]\nx = 1\n\nx = 3\n", 6, 1, "(key 't.x')");
    expect_error("[a]\nx = 1\n[a]\n", 3, 1, "table [a] is defined more than once");
    expect_error("x = 1\ny = 1979-05-27T07:32:00Z\n", 2, 5, "offset date-time values are not supported");
    expect_error("x = 1979-05-27 07:32:00+01:00\n", 1, 5, "offset date-time values are not supported");
    expect_error("x = 1979-05-27\n", 1, 5, "local date values are not supported");
    expect_error("x = 07:32:00\n", 1, 5, "local time values are not supported");
    expect_error("[s]\nport = \"\\q\"\n", 2, 9, "invalid escape sequence \\q (key 's.port')");
    expect_error("a = \"\\uD800\"\n", 1, 6, "not a Unicode scalar value");
    expect_error("ok = 1\nbad = \"\xff\"\n", 2, 8, "invalid UTF-8");
    expect_error("a = {b = 1,}\n", 1, 12, "trailing comma");
    expect_error("a = {b = 1,\n c = 2}\n", 1, 12, "newline is not allowed");
    expect_error("a = {b = 1}\na.c = 2\n", 2, 1, "inline table");
    expect_error("a = 012\n", 1, 5, "leading zeros");
    expect_error("a = 9223372036854775808\n", 1, 5, "does not fit in 64 bits");
    expect_error("a = [1 2]\n", 1, 8, "expected ',' or ']'");
    expect_error("a = 1 b = 2\n", 1, 7, "expected a newline");
    expect_error("a = \"x\x01\"\n", 1, 7, "control character U+0001");
    expect_error("[a.b.c]\nz = 9\n[a]\nb.c.t = 1\n", 4, 1, "defined by a [table] header");
}
END_TEST

START_TEST(node_lines_and_lookup)
{
    const char *text = "top = 1\n\n[server]\n# comment\nport = 8080\nhost = \"h\"\n\n[[x]]\nv = 1\n[[x]]\nv = 2\n";
    char err[256];
    bill__toml_node *root = NULL;
    ck_assert_int_eq(bill__toml_parse(&root, text, strlen(text), "f.toml", err, sizeof err), 0);
    const bill__toml_node *srv = bill__toml_get(root, "server");
    ck_assert_ptr_nonnull(srv);
    ck_assert_int_eq(srv->type, BILL__TOML_TABLE);
    ck_assert_int_eq(srv->line, 3);
    const bill__toml_node *port = bill__toml_get(srv, "port");
    ck_assert_ptr_nonnull(port);
    ck_assert_int_eq(port->type, BILL__TOML_INTEGER);
    ck_assert_int_eq(port->v.i, 8080);
    ck_assert_int_eq(port->line, 5);
    ck_assert_int_eq(port->col, 1);
    ck_assert_str_eq(port->file, "f.toml");
    const bill__toml_node *host = bill__toml_get(srv, "host");
    ck_assert_int_eq(host->line, 6);
    ck_assert_str_eq(host->v.str.ptr, "h");
    const bill__toml_node *x = bill__toml_get(root, "x");
    ck_assert_int_eq(x->type, BILL__TOML_ARRAY);
    ck_assert_uint_eq(x->nkids, 2);
    ck_assert_int_eq(bill__toml_get(x->kids[1], "v")->line, 11);
    ck_assert_ptr_null(bill__toml_get(root, "missing"));
    ck_assert_ptr_null(bill__toml_get(port, "x")); /* not a table */
    ck_assert_str_eq(bill__toml_type_name(BILL__TOML_BOOL), "boolean");
    bill__toml_free(root);
}
END_TEST

START_TEST(not_nul_terminated_and_missing_file)
{
    /* the parser must honour len and never read past it */
    char *text = malloc(5);
    memcpy(text, "a = 1", 5);
    char err[256];
    bill__toml_node *root = NULL;
    ck_assert_int_eq(bill__toml_parse(&root, text, 5, NULL, err, sizeof err), 0);
    ck_assert_int_eq(bill__toml_get(root, "a")->v.i, 1);
    bill__toml_free(root);
    memcpy(text, "a = \"", 5);
    ck_assert_int_eq(bill__toml_parse(&root, text, 5, NULL, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "unterminated string"));
    free(text);
    ck_assert_int_eq(bill__toml_parse_file(&root, "/nonexistent/x.toml", err, sizeof err), -2);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x.toml"));
}
END_TEST

/* billtoml is self-contained: its own Check main, no libbill test support. */
int main(void)
{
    Suite *s = suite_create("toml");
    TCase *tc = tcase_create("toml");
    tcase_add_test(tc, valid_corpus);
    tcase_add_test(tc, invalid_corpus);
    tcase_add_test(tc, error_positions);
    tcase_add_test(tc, node_lines_and_lookup);
    tcase_add_test(tc, not_nul_terminated_and_missing_file);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
