/*
 * toml.h — billtoml, a strict TOML 1.0 parser (a self-contained Meson
 * subproject: C11 and libm, nothing of libbill), linked into libbill for its
 * config loader.
 *
 * No TOML library is packaged for Debian in C, so this one is ours.
 * It builds a tree of nodes; every node remembers the file and line where it
 * was written so config validation can say "config.toml:12: [jwt] secret: ...".
 * Date/time values are recognised and refused with a clear message: the
 * config has no use for them.
 */
#ifndef BILL_CONFIG_TOML_H
#define BILL_CONFIG_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    BILL__TOML_TABLE,
    BILL__TOML_ARRAY,
    BILL__TOML_STRING,
    BILL__TOML_INTEGER,
    BILL__TOML_FLOAT,
    BILL__TOML_BOOL,
} bill__toml_type;

typedef struct bill__toml_node bill__toml_node;

struct bill__toml_node {
    bill__toml_type type;
    char *key;              /* key inside the parent table; NULL for array items/root */
    const char *file;       /* owned by the root; valid while the tree lives */
    int line;               /* 1-based line where the key (or item) was written */
    int col;                /* 1-based column (in bytes) */
    union {
        struct { char *ptr; size_t len; } str; /* NUL-terminated; may contain NUL */
        int64_t i;
        double f;
        bool b;
    } v;
    /* TABLE: key/value children in file order. ARRAY: items. */
    bill__toml_node **kids;
    size_t nkids, capkids;
    unsigned flags;         /* parser bookkeeping (see toml.c) */
};

/* Parse `len` bytes of `text` (need not be NUL-terminated). `file` is used
 * in messages and copied. On success *out is the root table; on failure
 * returns -1 and writes "FILE:LINE:COL: message" to err (always terminated
 * when errlen > 0). Never crashes on any input. */
int bill__toml_parse(bill__toml_node **out, const char *text, size_t len,
                     const char *file, char *err, size_t errlen);

/* Read and parse a file. Returns -1 with err set on parse error, -2 when the
 * file cannot be read (errno kept; err says why). */
int bill__toml_parse_file(bill__toml_node **out, const char *path, char *err, size_t errlen);

void bill__toml_free(bill__toml_node *root);

/* Child of a table by key, or NULL. */
const bill__toml_node *bill__toml_get(const bill__toml_node *table, const char *key);

/* "string", "integer", "float", "boolean", "array", "table". */
const char *bill__toml_type_name(bill__toml_type t);

#endif
