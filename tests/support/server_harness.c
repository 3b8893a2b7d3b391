/*
 * server_harness.c — start/stop a real bill-server process for e2e suites
 * (see server_harness.h).
 */
#include "server_harness.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "pg_harness.h"
#include "tmpdir.h"

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &l) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static int can_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static void dump_log(const bill_test_server *s)
{
    FILE *f = fopen(s->log, "r");
    char line[1024];
    if (!f)
        return;
    fprintf(stderr, "---- %s ----\n", s->log);
    while (fgets(line, sizeof line, f))
        fputs(line, stderr);
    fclose(f);
}

int bill_test_server_start_plugins(bill_test_server *s, const char *binary,
                                   const char *plugin_build_dir, const char *const *plugins,
                                   const char *extra_toml)
{
    char dir[64] = "/tmp/bill-e2e-plugins.XXXXXX", cmd[1024];
    char *toml = NULL;
    size_t n;
    int rc = -1;
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return -1;
    }
    for (size_t i = 0; plugins && plugins[i]; i++) {
        snprintf(cmd, sizeof cmd, "cp '%s/%s/%s.so' '%s/'", plugin_build_dir, plugins[i],
                 plugins[i], dir);
        if (system(cmd) != 0) {
            fprintf(stderr, "server_harness: cannot copy plugin %s\n", plugins[i]);
            goto done;
        }
    }
    n = strlen(dir) + (extra_toml ? strlen(extra_toml) : 0) + 200;
    if (!(toml = malloc(n)))
        goto done;
    snprintf(toml, n,
             "[plugins]\nplugins_dir = \"%s\"\n[security]\nmaster_key = "
             "\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"\n%s",
             dir, extra_toml ? extra_toml : "");
    if ((rc = bill_test_server_start(s, binary, toml)) == 0)
        snprintf(s->plugdir, sizeof s->plugdir, "%s", dir);
done:
    free(toml);
    if (rc != 0 && bill_test_rm_tree(dir) != 0)
        fprintf(stderr, "server_harness: cannot remove %s\n", dir);
    return rc;
}

int bill_test_server_start(bill_test_server *s, const char *binary, const char *extra_toml)
{
    return bill_test_server_start_on(s, binary, extra_toml, NULL);
}

int bill_test_server_start_on(bill_test_server *s, const char *binary, const char *extra_toml,
                              const char *db_url)
{
    return bill_test_server_start_port(s, binary, extra_toml, db_url, 0);
}

int bill_test_server_start_port(bill_test_server *s, const char *binary, const char *extra_toml,
                                const char *db_url, int port)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "/tmp/bill-e2e.XXXXXX");
    if (!mkdtemp(s->dir)) {
        perror("mkdtemp");
        return -1;
    }
    bill_test_rm_at_exit(s->dir); /* its config and log outlive the server, not the test */
    snprintf(s->log, sizeof s->log, "%s/server.log", s->dir);
    s->db_url = db_url ? strdup(db_url) : bill_test_pg_new_database("e2e");
    s->port = port > 0 ? port : free_port();
    char cfgpath[300];
    snprintf(cfgpath, sizeof cfgpath, "%s/config.toml", s->dir);
    FILE *f = fopen(cfgpath, "w");
    if (!f || !s->db_url || s->port <= 0) {
        fprintf(stderr, "server harness: cannot prepare %s\n", cfgpath);
        if (f)
            fclose(f);
        return -1;
    }
    fprintf(f,
            "[server]\nhost = \"127.0.0.1\"\nport = %d\nmax_concurrency = 8\n"
            "shutdown_grace_secs = 10\n"
            "[db]\nurl = \"%s\"\nmax_connections = 10\nmin_connections = 1\n"
            "[jwt]\nsecret = \"e2e-secret-0123456789abcdef0123456789\"\n"
            "[bootstrap]\nadmin_username = \"admin\"\nadmin_password = \"E2e-Admin-Pass-123!\"\n"
            "[cors]\nallowed_origins = [\"http://localhost:5173\"]\n"
            "%s%s\n",
            s->port, s->db_url,
            extra_toml && strstr(extra_toml, "[rate_limit]") ? "" : BILL_TEST_RATE_LIMIT_RELAXED,
            extra_toml ? extra_toml : "");
    fclose(f);
    chmod(cfgpath, 0600);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        if (chdir(s->dir) != 0)
            _exit(127);
        setenv("BILL_SERVER_REQUEST_TIMEOUT_MS", "2000", 0);
        if (!getenv("BILL_LOG"))
            setenv("BILL_LOG", "info,bill_server::grpc=debug", 1);
        unsetenv("DATABASE_URL");
        unsetenv("CONFIG_FILE");
        execl(binary, binary, "--config", cfgpath, (char *)NULL);
        _exit(127);
    }
    s->pid = pid;
    for (int i = 0; i < 600; i++) {
        if (can_connect(s->port))
            return 0;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            fprintf(stderr, "server harness: bill-server exited during startup\n");
            dump_log(s);
            s->pid = 0;
            return -1;
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "server harness: bill-server did not listen within 30 s\n");
    dump_log(s);
    return -1;
}

int bill_test_server_alive(bill_test_server *s)
{
    return s->pid > 0 && waitpid(s->pid, NULL, WNOHANG) == 0;
}

int bill_test_server_stop(bill_test_server *s, int sig, int timeout_ms)
{
    int rc = -1;
    if (s->pid > 0) {
        kill(s->pid, sig);
        for (int waited = 0; waited <= timeout_ms; waited += 20) {
            int st;
            if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
                rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                break;
            }
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (rc < 0) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
        }
        if (rc != 0)
            dump_log(s);
        s->pid = 0;
    }
    free(s->db_url);
    s->db_url = NULL;
    if (s->plugdir[0]) {
        if (bill_test_rm_tree(s->plugdir) != 0)
            fprintf(stderr, "server_harness: cannot remove %s\n", s->plugdir);
        s->plugdir[0] = '\0';
    }
    return rc;
}

void bill_test_server_up(bill_test_server *s, const char *binary, const char *plugin_build_dir,
                         const char *const *plugins, const char *extra_toml)
{
    int rc = plugins ? bill_test_server_start_plugins(s, binary, plugin_build_dir, plugins, extra_toml)
                     : bill_test_server_start(s, binary, extra_toml);
    ck_assert_msg(rc == 0, "bill-server did not start");
}

void bill_test_server_down(bill_test_server *s)
{
    if (s->pid > 0) {
        int rc = bill_test_server_stop(s, SIGTERM, 15000);
        ck_assert_msg(rc == 0, "bill-server exit status %d after SIGTERM", rc);
    }
}

void bill_test_server_up_pair(bill_test_server *a, bill_test_server *b, const char *binary,
                              const char *extra_toml_a, const char *extra_toml_b)
{
    bill_test_server_up(a, binary, NULL, NULL, extra_toml_a);
    ck_assert_msg(bill_test_server_start_on(b, binary, extra_toml_b, a->db_url) == 0,
                  "second bill-server did not start");
}

void bill_test_local_config(char *path, size_t cap, const char *toml)
{
    snprintf(path, cap, "/tmp/bill-e2e-local.XXXXXX");
    int fd = mkstemp(path);
    ck_assert_msg(fd >= 0, "cannot create %s", path);
    FILE *f = fdopen(fd, "w");
    ck_assert_ptr_nonnull(f);
    fputs(toml, f);
    ck_assert_int_eq(fclose(f), 0);
    setenv("LOCAL_CONFIG_FILE", path, 1);
}

void bill_test_local_config_end(char *path)
{
    if (!path[0])
        return;
    unlink(path);
    unsetenv("LOCAL_CONFIG_FILE");
    path[0] = '\0';
}

static int sh_exit(int rc)
{
    return rc == -1 || !WIFEXITED(rc) ? -1 : WEXITSTATUS(rc);
}

/* The command of bill_test_shell / bill_test_sh, or NULL (said on stderr) when too long. */
__attribute__((format(printf, 3, 0))) static const char *sh_format(char *cmd, size_t cap,
                                                                 const char *fmt, va_list ap)
{
    int n = vsnprintf(cmd, cap, fmt, ap);
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "server_harness: command too long: %.80s...\n", cmd);
        return NULL;
    }
    return cmd;
}

int bill_test_shell(const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    const char *cmd = sh_format(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return cmd ? sh_exit(system(cmd)) : -1;
}

/* Run cmd (NULL: -1), its stdout into out[cap]; echoed to stderr if echo. */
static int sh_read(char *out, size_t cap, int echo, const char *cmd)
{
    FILE *p = cmd ? popen(cmd, "r") : NULL;
    size_t n = 0, got;
    out[0] = '\0';
    if (!p)
        return -1;
    while (n + 1 < cap && (got = fread(out + n, 1, cap - 1 - n, p)) > 0)
        n += got;
    out[n] = '\0';
    if (echo)
        fputs(out, stderr);
    return sh_exit(pclose(p));
}

int bill_test_sh(char *out, size_t cap, const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    const char *cmd = sh_format(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return sh_read(out, cap, 1, cmd);
}

void bill_test_sh_field(const char *out, const char *key, char *v, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "%s ", key);
    const char *p = out;
    while ((p = strstr(p, pat)) && p != out && p[-1] != '\n')
        p++; /* only at the start of a line */
    ck_assert_msg(p != NULL, "the script printed no %s line", key);
    p += strlen(pat);
    size_t n = strcspn(p, "\n");
    ck_assert_uint_lt(n, cap);
    memcpy(v, p, n);
    v[n] = '\0';
}

int bill_test_http_get(int port, const char *path, char *buf, size_t cap)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "curl -s --max-time 5 -w '\\n%%{http_code}' http://127.0.0.1:%d%s",
             port, path);
    sh_read(buf, cap, 0, cmd);
    char *nl = strrchr(buf, '\n');
    if (!nl)
        return 0;
    int code = atoi(nl + 1);
    *nl = '\0';
    return code;
}

void bill_test_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}
