/*
 * tmux_harness.c — a private tmux server for terminal tests (see
 * tmux_harness.h). tmux is run as a plain child process with an argv (no
 * shell between), its output read from a pipe.
 */
#include "tmux_harness.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long timeout_ms(void)
{
    const char *s = getenv("BILL_TEST_TIMEOUT_SCALE");
    long scale = s ? atol(s) : 1;
    return TMX_TIMEOUT_MS * (scale > 0 ? scale : 1);
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static int run_tmux(tmx *t, char **out, char *const *args)
{
    char *argv[64];
    int n = 0;
    argv[n++] = (char *)"tmux";
    argv[n++] = (char *)"-u"; /* UTF-8 whatever the test's locale */
    argv[n++] = (char *)"-S";
    argv[n++] = t->sock;
    argv[n++] = (char *)"-f";
    argv[n++] = (char *)"/dev/null";
    for (int i = 0; args[i] && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execvp("tmux", argv);
        _exit(127);
    }
    close(fds[1]);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    for (;;) {
        if (len + 1024 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
        ssize_t r = read(fds[0], buf + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    buf[len] = '\0';
    close(fds[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int tmx_cmd(tmx *t, char **out, ...)
{
    char *args[48];
    int n = 0;
    va_list ap;
    va_start(ap, out);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && n < 47)
        args[n++] = (char *)a;
    va_end(ap);
    args[n] = NULL;
    return run_tmux(t, out, args);
}

void tmx_start(tmx *t, int width, int height, const char *cwd, const char *const *env)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/bill-tmux.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(t->dir));
    snprintf(t->sock, sizeof t->sock, "%s/sock", t->dir);
    /* sh sets its own prompt for root; the start-up file it reads ($ENV)
     * comes after that and wins */
    char rc[320], envrc[330];
    snprintf(rc, sizeof rc, "%s/shrc", t->dir);
    FILE *f = fopen(rc, "w");
    ck_assert_ptr_nonnull(f);
    fputs("PS1='PROMPT$ '\n", f);
    fclose(f);
    snprintf(envrc, sizeof envrc, "ENV=%s", rc);
    char w[16], h[16];
    snprintf(w, sizeof w, "%d", width);
    snprintf(h, sizeof h, "%d", height);
    char *args[48];
    int n = 0;
    args[n++] = (char *)"new-session";
    args[n++] = (char *)"-d";
    args[n++] = (char *)"-s";
    args[n++] = (char *)"t";
    args[n++] = (char *)"-x";
    args[n++] = w;
    args[n++] = (char *)"-y";
    args[n++] = h;
    args[n++] = (char *)"-c";
    args[n++] = (char *)(cwd ? cwd : t->dir);
    args[n++] = (char *)"-e";
    args[n++] = envrc;
    args[n++] = (char *)"-e";
    args[n++] = (char *)"LANG=C.UTF-8";
    for (int i = 0; env && env[i] && n < 44; i++) {
        args[n++] = (char *)"-e";
        args[n++] = (char *)env[i];
    }
    args[n++] = (char *)"/bin/sh";
    args[n] = NULL;
    ck_assert_int_eq(run_tmux(t, NULL, args), 0);
    /* a fixed window size: the test decides, not a client */
    ck_assert_int_eq(tmx_cmd(t, NULL, "set-option", "-g", "window-size", "manual", NULL), 0);
    ck_assert_msg(tmx_wait(t, "PROMPT$"), "the shell prompt did not appear");
}

void tmx_stop(tmx *t)
{
    if (!t->sock[0])
        return;
    tmx_cmd(t, NULL, "kill-server", NULL);
    char rc[320];
    snprintf(rc, sizeof rc, "%s/shrc", t->dir);
    unlink(rc);
    unlink(t->sock);
    rmdir(t->dir);
    t->sock[0] = '\0';
}

void tmx_keys(tmx *t, const char *key)
{
    ck_assert_int_eq(tmx_cmd(t, NULL, "send-keys", "-t", "t", key, NULL), 0);
}

void tmx_type(tmx *t, const char *text)
{
    ck_assert_int_eq(tmx_cmd(t, NULL, "send-keys", "-t", "t", "-l", text, NULL), 0);
}

void tmx_run(tmx *t, const char *cmdline)
{
    tmx_type(t, cmdline);
    tmx_keys(t, "Enter");
}

char *tmx_screen(tmx *t)
{
    char *out = NULL;
    ck_assert_int_eq(tmx_cmd(t, &out, "capture-pane", "-p", "-t", "t", NULL), 0);
    return out;
}

char *tmx_screen_escapes(tmx *t)
{
    char *out = NULL;
    ck_assert_int_eq(tmx_cmd(t, &out, "capture-pane", "-p", "-e", "-t", "t", NULL), 0);
    return out;
}

char *tmx_format(tmx *t, const char *fmt)
{
    char *out = NULL;
    ck_assert_int_eq(tmx_cmd(t, &out, "display-message", "-p", "-t", "t", fmt, NULL), 0);
    size_t n = strlen(out);
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    return out;
}

void tmx_resize(tmx *t, int width, int height)
{
    char w[16], h[16];
    snprintf(w, sizeof w, "%d", width);
    snprintf(h, sizeof h, "%d", height);
    ck_assert_int_eq(tmx_cmd(t, NULL, "resize-window", "-t", "t", "-x", w, "-y", h, NULL), 0);
}

char *tmx_row(const char *screen, int row)
{
    const char *p = screen;
    for (int i = 0; i < row && p; i++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    if (!p)
        return strdup("");
    const char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    char *r = malloc(n + 1);
    ck_assert_ptr_nonnull(r);
    memcpy(r, p, n);
    r[n] = '\0';
    return r;
}

/* Poll `check` every 50 ms until it holds or the timeout passes. */
static bool poll_until(tmx *t, bool (*check)(tmx *, const void *, const void *), const void *a,
                       const void *b)
{
    long waited = 0, limit = timeout_ms();
    for (;;) {
        if (check(t, a, b))
            return true;
        if (waited >= limit)
            return false;
        nap_ms(50);
        waited += 50;
    }
}

static bool has_text(tmx *t, const void *needle, const void *want)
{
    char *s = tmx_screen(t);
    bool found = strstr(s, needle) != NULL;
    free(s);
    return found == (want != NULL);
}

bool tmx_wait(tmx *t, const char *needle)
{
    return poll_until(t, has_text, needle, "");
}

bool tmx_wait_gone(tmx *t, const char *needle)
{
    return poll_until(t, has_text, needle, NULL);
}

static bool row_starts(tmx *t, const void *rowp, const void *prefix)
{
    char *s = tmx_screen(t), *r = tmx_row(s, *(const int *)rowp);
    bool ok = strncmp(r, prefix, strlen(prefix)) == 0;
    free(r);
    free(s);
    return ok;
}

bool tmx_wait_row(tmx *t, int row, const char *prefix)
{
    return poll_until(t, row_starts, &row, prefix);
}

static bool format_is(tmx *t, const void *fmt, const void *want)
{
    char *v = tmx_format(t, fmt);
    bool ok = strcmp(v, want) == 0;
    free(v);
    return ok;
}

bool tmx_wait_format(tmx *t, const char *fmt, const char *want)
{
    return poll_until(t, format_is, fmt, want);
}

typedef struct {
    bool (*pred)(const char *, const void *);
    const void *arg;
} pred_call;

static bool call_pred(tmx *t, const void *call, const void *unused)
{
    (void)unused;
    const pred_call *pc = call;
    char *s = tmx_screen(t);
    bool ok = pc->pred(s, pc->arg);
    free(s);
    return ok;
}

bool tmx_wait_for(tmx *t, bool (*pred)(const char *screen, const void *arg), const void *arg)
{
    pred_call pc = {pred, arg};
    return poll_until(t, call_pred, &pc, NULL);
}

int tmx_child_pid(tmx *t, const char *comm)
{
    char *p = tmx_format(t, "#{pane_pid}");
    int shell = atoi(p);
    free(p);
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d)) != NULL) {
        int pid = atoi(e->d_name);
        if (pid <= 0)
            continue;
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        /* pid (comm) state ppid ... */
        char *lp = strchr(buf, '('), *rp = strrchr(buf, ')');
        if (!lp || !rp)
            continue;
        int ppid = 0;
        char state;
        if (sscanf(rp + 1, " %c %d", &state, &ppid) != 2)
            continue;
        if (ppid == shell && (size_t)(rp - lp - 1) == strlen(comm) &&
            strncmp(lp + 1, comm, strlen(comm)) == 0)
            found = pid;
    }
    closedir(d);
    return found;
}
