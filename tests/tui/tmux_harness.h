/*
 * tmux_harness.h — drive a program in a real terminal like a person does:
 * a private tmux server (its own socket in a scratch directory, never the
 * user's), a shell in a pane of a given size, keys sent with
 * `tmux send-keys`, the screen read back with `tmux capture-pane`.
 *
 * Waiting is always for a screen condition, polled every 50 ms up to a
 * bounded timeout (TMX_TIMEOUT_MS, scaled by BILL_TEST_TIMEOUT_SCALE for
 * slow builds) — never a fixed sleep standing in for an assertion.
 */
#ifndef BILL_TEST_TMUX_HARNESS_H
#define BILL_TEST_TMUX_HARNESS_H

#include <stdbool.h>

#define TMX_TIMEOUT_MS 15000

typedef struct tmx {
    char dir[256];  /* scratch directory: the socket, and the shell's cwd */
    char sock[300]; /* tmux -S socket path */
} tmx;

/* Start a server with one session "t" of width x height running /bin/sh in
 * `cwd` with a plain prompt ("PROMPT$ "), and wait for the prompt. `env` is
 * a NULL-terminated list of "NAME=value" for the shell (may be NULL). */
void tmx_start(tmx *t, int width, int height, const char *cwd, const char *const *env);
void tmx_stop(tmx *t);

/* Run `tmux -S sock ARGS...` (NULL-terminated); returns its exit status and,
 * when out != NULL, its stdout (malloc'd). */
int tmx_cmd(tmx *t, char **out, ...);
/* send-keys with tmux key names ("Enter", "BTab", "BSpace", "Escape", "q"). */
void tmx_keys(tmx *t, const char *key);
/* Type literal text (send-keys -l). */
void tmx_type(tmx *t, const char *text);
/* Type a command line and press Enter. */
void tmx_run(tmx *t, const char *cmdline);
/* The visible screen, one line per row (malloc'd). */
char *tmx_screen(tmx *t);
/* The same with escape sequences for attributes and colours (-e). */
char *tmx_screen_escapes(tmx *t);
/* A tmux format of the pane, e.g. "#{alternate_on}" (malloc'd, no newline). */
char *tmx_format(tmx *t, const char *fmt);
/* Resize the window. */
void tmx_resize(tmx *t, int width, int height);

/* Wait until the screen contains `needle` (or no longer does); false on
 * timeout. */
bool tmx_wait(tmx *t, const char *needle);
bool tmx_wait_gone(tmx *t, const char *needle);
/* Wait until screen row `row` (0-based) starts with `prefix`. */
bool tmx_wait_row(tmx *t, int row, const char *prefix);
/* Wait until the tmux format equals `want`. */
bool tmx_wait_format(tmx *t, const char *fmt, const char *want);

/* Wait until pred(screen, arg) holds; false on timeout. */
bool tmx_wait_for(tmx *t, bool (*pred)(const char *screen, const void *arg), const void *arg);

/* Row `row` of a screen (malloc'd, "" past the end). */
char *tmx_row(const char *screen, int row);
/* The pid of the shell's child named `comm` (e.g. "bill-tui"), 0 if none. */
int tmx_child_pid(tmx *t, const char *comm);

/* Assertions that print the screen when they fail: unless `waited` holds,
 * the test aborts with the message (a format whose last %s is the screen). */
#define tmx_assert_screen_(waited, t, ...)                                                 \
    do {                                                                                   \
        if (!(waited)) {                                                                   \
            char *s_ = tmx_screen(t);                                                      \
            ck_abort_msg(__VA_ARGS__, s_);                                                 \
        }                                                                                  \
    } while (0)
#define tmx_assert_wait(t, needle)                                                         \
    tmx_assert_screen_(tmx_wait((t), (needle)), t,                                         \
                       "timed out waiting for \"%s\" on the screen:\n%s", (needle))
#define tmx_assert_gone(t, needle)                                                         \
    tmx_assert_screen_(tmx_wait_gone((t), (needle)), t,                                    \
                       "timed out waiting for \"%s\" to go:\n%s", (needle))
#define tmx_assert_row(t, row, prefix)                                                     \
    tmx_assert_screen_(tmx_wait_row((t), (row), (prefix)), t,                              \
                       "timed out waiting for row %d to start with \"%s\":\n%s", (row), (prefix))

#endif
