/*
 * cli_harness.c — run the real bill-cli binary and capture what it did
 * (see cli_harness.h). Output goes to unlinked temp files, not pipes, so a
 * chatty command can never block on a full pipe while we wait for it.
 */
#include "cli_harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

char workdir[256];

void run_free(run *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

static char *slurp_fd(int fd)
{
    off_t len = lseek(fd, 0, SEEK_END);
    ck_assert_int_ge(len, 0);
    char *buf = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(pread(fd, buf, (size_t)len, 0), len);
    buf[len] = '\0';
    return buf;
}

static int tmpfile_fd(void)
{
    char name[] = "/tmp/bill-cli-test.XXXXXX";
    int fd = mkstemp(name);
    ck_assert_int_ge(fd, 0);
    unlink(name);
    return fd;
}

run run_argv(const char *in, char *const *argv)
{
    const char *bin = getenv("BILL_CLI");
    ck_assert_msg(bin != NULL, "BILL_CLI is not set (meson passes the binary path)");
    int fin = tmpfile_fd(), fout = tmpfile_fd(), ferr = tmpfile_fd();
    if (in)
        ck_assert_int_eq(write(fin, in, strlen(in)), (ssize_t)strlen(in));
    lseek(fin, 0, SEEK_SET);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fin, 0);
        dup2(fout, 1);
        dup2(ferr, 2);
        if (workdir[0] && chdir(workdir) != 0)
            _exit(126);
        unsetenv("CONFIG_FILE");
        unsetenv("LOCAL_CONFIG_FILE");
        unsetenv("DATABASE_URL");
        execv(bin, argv);
        _exit(127);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    run r = {.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1};
    r.out = slurp_fd(fout);
    r.err = slurp_fd(ferr);
    close(fin);
    close(fout);
    close(ferr);
    return r;
}

run cli_va(const char *in, const char *url, bool json, va_list ap)
{
    char *argv[64];
    int n = 0;
    argv[n++] = (char *)"bill-cli";
    if (url) {
        argv[n++] = (char *)"--database-url";
        argv[n++] = (char *)url;
    }
    if (json)
        argv[n++] = (char *)"--json";
    const char *s;
    while ((s = va_arg(ap, const char *)) != NULL && n < 63)
        argv[n++] = (char *)s;
    argv[n] = NULL;
    return run_argv(in, argv);
}

run cli(const char *in, const char *url, ...)
{
    va_list ap;
    va_start(ap, url);
    run r = cli_va(in, url, false, ap);
    va_end(ap);
    return r;
}

void cli_setup(void)
{
    snprintf(workdir, sizeof workdir, "/tmp/bill-cli-wd.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(workdir));
}

void cli_teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", workdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", workdir);
    workdir[0] = '\0';
}

json_object *json_of(const run *r)
{
    json_object *o = json_tokener_parse(r->out);
    ck_assert_msg(o != NULL, "stdout is not JSON:\n%s", r->out);
    return o;
}

json_object *jget(json_object *o, const char *key)
{
    json_object *v = NULL;
    ck_assert_msg(json_object_object_get_ex(o, key, &v), "JSON has no key \"%s\" in %s", key,
                  json_object_to_json_string(o));
    return v;
}

const char *jstr(json_object *o, const char *key)
{
    return json_object_get_string(jget(o, key));
}
