/*
 * fuzz_toml.c — libFuzzer target for billtoml (no config file may crash a
 * process). Any input must either parse or fail with
 * a "FILE:LINE:COL: message" error; a successful tree is walked so lookups on
 * hostile trees are exercised too. Seeds: tests/corpus/{valid,invalid}
 * (built and replayed from libbill's tests/fuzz, like every target).
 */
#include "toml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t walk(const bill__toml_node *n, int depth)
{
    size_t count = 1;
    if (depth > 10000)
        abort(); /* the parser promises bounded nesting */
    for (size_t i = 0; i < n->nkids; i++) {
        const bill__toml_node *k = n->kids[i];
        if (n->type == BILL__TOML_TABLE && (!k->key || bill__toml_get(n, k->key) == NULL))
            abort(); /* every table child is reachable by its key */
        if (k->line < 1 || k->col < 1 || !k->file)
            abort();
        if (k->type == BILL__TOML_STRING && k->v.str.ptr[k->v.str.len] != '\0')
            abort();
        count += walk(k, depth + 1);
    }
    return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    bill__toml_node *root = NULL;
    /* copy so reads past `size` hit ASan's redzone instead of the harness' buffer */
    char *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    int rc = bill__toml_parse(&root, copy, size, "fuzz.toml", err, sizeof err);
    if (rc == 0) {
        walk(root, 0);
        bill__toml_free(root);
    } else if (strncmp(err, "fuzz.toml:", 10) != 0) {
        abort(); /* every error names file:line:col */
    }
    free(copy);
    return 0;
}
