/*
 * cli_harness.h — run the real bill-cli binary (path in $BILL_CLI, set by
 * meson) in a scratch working directory and capture its exit code, stdout and
 * stderr; small assertion helpers for its output. Shared by the cli suites.
 */
#ifndef BILL_TEST_CLI_HARNESS_H
#define BILL_TEST_CLI_HARNESS_H

#include <check.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

typedef struct run {
    int status; /* exit code, or -1 when killed */
    char *out;
    char *err;
} run;

/* The scratch directory commands run in ("" = the test's own). */
extern char workdir[256];

void run_free(run *r);
/* Run bill-cli with argv (NULL-terminated), feeding `in` (may be NULL) on
 * stdin, inside `workdir`, without CONFIG_FILE/LOCAL_CONFIG_FILE/DATABASE_URL
 * from the test's environment. */
run run_argv(const char *in, char *const *argv);
/* cli(in, url, args..., NULL): prepends --database-url URL when url != NULL. */
run cli(const char *in, const char *url, ...);
/* The same over a va_list, with --json first when json is true. */
run cli_va(const char *in, const char *url, bool json, va_list ap);

/* Checked fixture: a fresh workdir per test, removed afterwards. */
void cli_setup(void);
void cli_teardown(void);

/* Parse stdout as one JSON document; aborts the test when it is not. */
json_object *json_of(const run *r);
json_object *jget(json_object *o, const char *key);
const char *jstr(json_object *o, const char *key);

#define ck_contains(hay, needle)                                                            \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "expected \"%s\" in:\n%s", (needle), (hay))
#define ck_not_contains(hay, needle)                                                        \
    ck_assert_msg(strstr((hay), (needle)) == NULL, "did not expect \"%s\" in:\n%s", (needle), (hay))

#endif
