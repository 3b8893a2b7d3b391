/*
 * embedded_pg.c — the private PostgreSQL cluster used when no database URL is
 * configured (R-DB-6): initdb on first use into <var_dir>/pg/data, start it
 * with pg_ctl listening only on a unix socket in <var_dir>/pg/run, create the
 * database "libbill", and hand back a libpq URL.
 *
 * PostgreSQL refuses to run as root, so a root process runs initdb/pg_ctl as
 * the "postgres" system account (fork + setgid/setuid, no shell involved) and
 * gives it <var_dir>/pg. Authentication is trust on the local socket only
 * (no TCP listener, host lines rejected); the socket directory is private
 * (0700), so only the server account and root can connect.
 *
 * Two processes starting at once are serialized by flock on <var_dir>/pg.lock
 * so only one runs initdb. The library never prints: tool output goes to
 * <var_dir>/pg/tools.log and postgresql.log, and errors quote the tail of that log.
 */
#include "store/store.h"
#include "bill_build_config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct pg_paths {
    char var[PATH_MAX];
    char pg[PATH_MAX];
    char data[PATH_MAX];
    char run[PATH_MAX];
    char log[PATH_MAX];      /* server log */
    char tool_log[PATH_MAX]; /* initdb / pg_ctl output */
    char lock[PATH_MAX];
    char bindir[PATH_MAX];
} pg_paths;

/* BILL_PG_BINDIR env, then the build option, then the newest
 * /usr/lib/postgresql/<major>/bin holding initdb. */
int bill__pg_bindir(char *out, size_t cap)
{
    const char *env = getenv("BILL_PG_BINDIR");
    char probe[PATH_MAX];
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        return BILL_OK;
    }
    if (BILL_PG_BINDIR[0]) {
        snprintf(out, cap, "%s", BILL_PG_BINDIR);
        return BILL_OK;
    }
    DIR *d = opendir("/usr/lib/postgresql");
    int best = -1;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            int major = atoi(e->d_name);
            if (major <= 0)
                continue;
            snprintf(probe, sizeof probe, "/usr/lib/postgresql/%s/bin/initdb", e->d_name);
            if (access(probe, X_OK) == 0 && major > best) {
                best = major;
                snprintf(out, cap, "/usr/lib/postgresql/%s/bin", e->d_name);
            }
        }
        closedir(d);
    }
    if (best < 0)
        return bill__err(BILL_EUNAVAILABLE, "db.url",
                         "no database URL is configured and no PostgreSQL server binaries "
                         "(initdb) were found under /usr/lib/postgresql; install the "
                         "postgresql package or set [db].url");
    return BILL_OK;
}

static int mkdir_p(const char *path, mode_t mode)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static int make_paths(const char *var_dir, pg_paths *p)
{
    char abs[PATH_MAX];
    if (!var_dir || !*var_dir)
        return bill__err(BILL_EINVALID, "var_dir", "embedded PostgreSQL needs a var directory");
    if (mkdir_p(var_dir, 0755) != 0)
        return bill__err(BILL_EIO, "var_dir", "cannot create directory %s: %s", var_dir,
                         strerror(errno));
    if (!realpath(var_dir, abs))
        return bill__err(BILL_EIO, "var_dir", "cannot resolve %s: %s", var_dir, strerror(errno));
    /* The path is quoted inside a pg_ctl -o option and a URL. */
    if (strpbrk(abs, "'\"\\ \t\n"))
        return bill__err(BILL_EINVALID, "var_dir",
                         "var directory %s contains quotes, backslashes or spaces; "
                         "choose a plainer path", abs);
    snprintf(p->var, sizeof p->var, "%s", abs);
    snprintf(p->pg, sizeof p->pg, "%s/pg", abs);
    snprintf(p->data, sizeof p->data, "%s/pg/data", abs);
    snprintf(p->run, sizeof p->run, "%s/pg/run", abs);
    snprintf(p->log, sizeof p->log, "%s/pg/postgresql.log", abs);
    snprintf(p->tool_log, sizeof p->tool_log, "%s/pg/tools.log", abs);
    snprintf(p->lock, sizeof p->lock, "%s/pg.lock", abs);
    struct sockaddr_un sun;
    if (strlen(p->run) + strlen("/.s.PGSQL.5432") >= sizeof sun.sun_path)
        return bill__err(BILL_EINVALID, "var_dir",
                         "var directory %s is too long for a unix socket path (%zu bytes max); "
                         "use a shorter path", abs,
                         sizeof sun.sun_path - strlen("/pg/run/.s.PGSQL.5432") - 1);
    return bill__pg_bindir(p->bindir, sizeof p->bindir);
}

/* Last ~600 bytes of a log, one line, for error messages. */
static void log_tail(const char *path, char *out, size_t cap)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char buf[600];
    long sz;
    if (fseek(f, 0, SEEK_END) == 0 && (sz = ftell(f)) > 0) {
        long from = sz > (long)sizeof buf - 1 ? sz - (long)sizeof buf + 1 : 0;
        fseek(f, from, SEEK_SET);
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        for (size_t i = 0; i < n; i++)
            if (buf[i] == '\n')
                buf[i] = (i + 1 < n) ? ' ' : '\0';
        snprintf(out, cap, "%s", buf);
    }
    fclose(f);
}

/* Run a PostgreSQL tool, as `pw` when given (root), with stdout/stderr
 * appended to tool_log. Returns the exit status, or -1 if it did not run. */
static int run_tool(const pg_paths *p, const struct passwd *pw, const char *const argv[])
{
    int logfd = open(p->tool_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (logfd < 0)
        return -1;
    if (pw && fchown(logfd, pw->pw_uid, pw->pw_gid) != 0) {
        close(logfd);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(logfd);
        return -1;
    }
    if (pid == 0) {
        /* Child: only async-signal-safe calls from here on. */
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, 0);
        dup2(logfd, 1);
        dup2(logfd, 2);
        if (pw) {
            if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
                _exit(126);
        }
        if (chdir(p->pg) != 0)
            _exit(126);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(logfd);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* As root, the tools run as the "postgres" account and exit 126 when it
 * cannot enter var_dir/pg: the directory above var (not ours to change:
 * /root, a 0700 temporary directory) whose mode keeps it out, copied into
 * `dir`; false when none is found. */
static bool blocking_dir(const pg_paths *p, char *dir, size_t cap, unsigned *mode)
{
    struct passwd *pw = geteuid() == 0 ? getpwnam("postgres") : NULL;
    if (!pw)
        return false;
    snprintf(dir, cap, "%s", p->var);
    char *slash;
    while ((slash = strrchr(dir, '/')) != NULL) {
        bool root = slash == dir;
        slash[root] = '\0'; /* the parent; "/" kept for the root */
        struct stat sb;
        if (stat(dir, &sb) == 0 && !(sb.st_mode & S_IXOTH) &&
            !(sb.st_uid == pw->pw_uid && (sb.st_mode & S_IXUSR)) &&
            !(sb.st_gid == pw->pw_gid && (sb.st_mode & S_IXGRP))) {
            *mode = (unsigned)(sb.st_mode & 07777);
            return true;
        }
        if (root)
            break;
    }
    return false;
}

static int tool_err(const pg_paths *p, const char *what, int status, const char *logpath)
{
    char tail[640], dir[PATH_MAX];
    unsigned mode = 0;
    if (status == 126 && blocking_dir(p, dir, sizeof dir, &mode))
        return bill__err(BILL_EUNSUPPORTED, "db.embedded",
                         "the embedded PostgreSQL runs as the \"postgres\" account (PostgreSQL "
                         "refuses root), which cannot enter %s (mode %04o): run from a "
                         "directory it can reach, allow it with `chmod o+x %s`, or set [db].url",
                         dir, mode, dir);
    log_tail(logpath, tail, sizeof tail);
    return bill__err(BILL_EUNAVAILABLE, "db.embedded",
                     "embedded PostgreSQL in %s: %s failed (exit %d): %s", p->pg, what, status,
                     tail[0] ? tail : "(no log output)");
}

/* As root the cluster belongs to the "postgres" account; otherwise to us. */
static int prepare_dirs(const pg_paths *p, struct passwd **pw_out)
{
    struct passwd *pw = NULL;
    *pw_out = NULL;
    if (geteuid() == 0) {
        pw = getpwnam("postgres");
        if (!pw)
            return bill__err(BILL_EUNSUPPORTED, "db.embedded",
                             "running as root, the embedded PostgreSQL needs the unprivileged "
                             "\"postgres\" system account (PostgreSQL refuses root); install "
                             "the postgresql package or set [db].url");
        /* The server account must be able to traverse the var directory. */
        struct stat sb;
        if (stat(p->var, &sb) == 0 && (sb.st_mode & S_IXOTH) == 0)
            chmod(p->var, (sb.st_mode & 07777) | S_IXOTH);
    }
    if (mkdir_p(p->pg, 0700) != 0 || mkdir_p(p->run, 0700) != 0)
        return bill__err(BILL_EIO, "db.embedded", "cannot create %s: %s", p->run,
                         strerror(errno));
    if (pw) {
        if (chown(p->pg, pw->pw_uid, pw->pw_gid) != 0 || chown(p->run, pw->pw_uid, pw->pw_gid) != 0)
            return bill__err(BILL_EIO, "db.embedded", "cannot hand %s to the postgres account: %s",
                             p->pg, strerror(errno));
    }
    *pw_out = pw;
    return BILL_OK;
}

/* Take the cluster's lock file (held until *lockfd is closed), then
 * prepare_dirs. */
static int lock_and_prepare(const pg_paths *p, int *lockfd, struct passwd **pw_out)
{
    *lockfd = open(p->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (*lockfd < 0 || flock(*lockfd, LOCK_EX) != 0)
        return bill__err(BILL_EIO, "db.embedded", "cannot lock %s: %s", p->lock, strerror(errno));
    return prepare_dirs(p, pw_out);
}

static bool is_running(const pg_paths *p, const struct passwd *pw)
{
    char pg_ctl[PATH_MAX];
    snprintf(pg_ctl, sizeof pg_ctl, "%s/pg_ctl", p->bindir);
    const char *argv[] = {pg_ctl, "status", "-D", p->data, NULL};
    return run_tool(p, pw, argv) == 0;
}

static char *url_for(const pg_paths *p, const char *dbname)
{
    /* The path holds only characters that need no escaping in a URL query
     * except '/', which libpq accepts there; make_paths refused the rest. */
    return bill__sprintf("postgresql:///%s?host=%s&user=postgres", dbname, p->run);
}

static int create_database(const pg_paths *p)
{
    int rc = BILL_OK;
    const char *keys[] = {"host", "user", "dbname", "connect_timeout", NULL};
    const char *vals[] = {p->run, "postgres", "postgres", "10", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 0);
    PGresult *r = NULL;

    if (PQstatus(c) != CONNECTION_OK) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(c));
        msg[strcspn(msg, "\n")] = '\0';
        rc = bill__err(BILL_EUNAVAILABLE, "db.embedded",
                       "embedded PostgreSQL runs but does not answer on %s: %s", p->run, msg);
        goto done;
    }
    r = PQexec(c, "SELECT 1 FROM pg_database WHERE datname = 'libbill'");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = bill__err(BILL_EDB, "db.embedded", "embedded PostgreSQL: %s", PQerrorMessage(c));
        goto done;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        r = PQexec(c, "CREATE DATABASE libbill ENCODING 'UTF8' TEMPLATE template0");
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            if (!st || strcmp(st, "42P04") != 0) /* duplicate_database is fine */
                rc = bill__err(BILL_EDB, "db.embedded",
                               "embedded PostgreSQL: creating database libbill: %s",
                               PQerrorMessage(c));
        }
    }
done:
    PQclear(r);
    PQfinish(c);
    return rc;
}

int bill_embedded_pg_ensure(const char *var_dir, char **url_out, bool *started_out)
{
    int rc = BILL_OK, lockfd = -1, st;
    pg_paths p;
    struct passwd *pw = NULL;
    char exe[PATH_MAX], opt[PATH_MAX + 128], pgver[PATH_MAX + 16];

    if (started_out)
        *started_out = false;
    if (!url_out)
        return bill__err(BILL_EINVALID, "url_out", "bill_embedded_pg_ensure: url_out is NULL");
    *url_out = NULL;
    if ((rc = make_paths(var_dir, &p)) < 0)
        goto done;
    if ((rc = lock_and_prepare(&p, &lockfd, &pw)) < 0)
        goto done;

    snprintf(pgver, sizeof pgver, "%s/PG_VERSION", p.data);
    if (access(pgver, F_OK) != 0) {
        snprintf(exe, sizeof exe, "%s/initdb", p.bindir);
        const char *argv[] = {exe, "-D", p.data, "-U", "postgres", "--auth-local=trust",
                              "--auth-host=reject", "-E", "UTF8", "--locale=C.UTF-8", NULL};
        if ((st = run_tool(&p, pw, argv)) != 0) {
            rc = tool_err(&p, "initdb", st, p.tool_log);
            goto done;
        }
    }
    if (!is_running(&p, pw)) {
        snprintf(exe, sizeof exe, "%s/pg_ctl", p.bindir);
        snprintf(opt, sizeof opt, "-c listen_addresses='' -c unix_socket_directories='%s'",
                 p.run);
        const char *argv[] = {exe, "start", "-w", "-t", "60", "-D", p.data, "-l", p.log,
                              "-o", opt, NULL};
        if ((st = run_tool(&p, pw, argv)) != 0) {
            rc = tool_err(&p, "pg_ctl start", st, p.log);
            goto done;
        }
        if (started_out)
            *started_out = true;
    }
    if ((rc = create_database(&p)) < 0)
        goto done;
    *url_out = url_for(&p, "libbill");
    if (!*url_out)
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
done:
    if (lockfd >= 0)
        close(lockfd); /* releases the flock */
    return rc;
}

int bill_embedded_pg_stop(const char *var_dir)
{
    int rc = BILL_OK, lockfd = -1, st;
    pg_paths p;
    struct passwd *pw = NULL;
    char exe[PATH_MAX], pgver[PATH_MAX + 16];

    if ((rc = make_paths(var_dir, &p)) < 0)
        goto done;
    snprintf(pgver, sizeof pgver, "%s/PG_VERSION", p.data);
    if (access(pgver, F_OK) != 0)
        goto done; /* never initialised: nothing to stop */
    if ((rc = lock_and_prepare(&p, &lockfd, &pw)) < 0)
        goto done;
    if (!is_running(&p, pw))
        goto done;
    snprintf(exe, sizeof exe, "%s/pg_ctl", p.bindir);
    const char *argv[] = {exe, "stop", "-w", "-t", "60", "-m", "fast", "-D", p.data, NULL};
    if ((st = run_tool(&p, pw, argv)) != 0)
        rc = tool_err(&p, "pg_ctl stop", st, p.tool_log);
done:
    if (lockfd >= 0)
        close(lockfd);
    return rc;
}
