/*
 * backup.c — bill_db_backup / bill_db_restore (backup.h): PostgreSQL's
 * pg_dump and pg_restore run as child processes (posix_spawn, no shell),
 * against the handle's own URL with its password moved into PGPASSWORD.
 * The child's stderr is read through a pipe: its last line becomes the
 * error detail, and pg_restore's --verbose lines count as progress.
 */
#include "store/store.h"

#include "bill/backup.h"
#include "bill/cluster.h"
#include "bill/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MOD "libbill::backup"

extern char **environ;

void bill_backup_options_init(bill_backup_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->version = BILL_BACKUP_OPTIONS_VERSION;
}

void bill_restore_options_init(bill_restore_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->version = BILL_RESTORE_OPTIONS_VERSION;
}

/* A conninfo without the password (for the command line) and the password
 * alone (for the environment). Both malloc'd. */
static int split_conninfo(const char *url, char **conninfo, char **password)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &err);
    bill__buf b;
    *conninfo = *password = NULL;
    if (!opts) {
        int rc = bill__err(BILL_EINVALID, "db.url", "database URL cannot be parsed: %s",
                           err ? err : "out of memory");
        PQfreemem(err);
        return rc;
    }
    bill__buf_init(&b, NULL, 0, 0);
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val || !*o->val)
            continue;
        if (!strcmp(o->keyword, "password")) {
            free(*password);
            *password = bill__strdup(o->val);
            continue;
        }
        if (b.len)
            bill__buf_puts(&b, " ");
        bill__buf_puts(&b, o->keyword);
        bill__buf_puts(&b, "='");
        for (const char *p = o->val; *p; p++) {
            if (*p == '\'' || *p == '\\')
                bill__buf_add(&b, "\\", 1);
            bill__buf_add(&b, p, 1);
        }
        bill__buf_puts(&b, "'");
    }
    PQconninfoFree(opts);
    *conninfo = bill__buf_steal(&b);
    if (!*conninfo) {
        free(*password);
        *password = NULL;
        return bill__err(BILL_ENOMEM, NULL, "out of memory preparing the database tools");
    }
    return BILL_OK;
}

static void tool_path(const char *name, char *out, size_t cap)
{
    char dir[PATH_MAX];
    if (bill__pg_bindir(dir, sizeof dir) == BILL_OK) {
        snprintf(out, cap, "%s/%s", dir, name);
        if (access(out, X_OK) == 0)
            return;
    }
    snprintf(out, cap, "%s", name); /* from PATH */
}

/* A child's run: its stderr is read line by line; `on_line` (may be NULL)
 * sees each; between reads `tick` (may be NULL) runs every 200 ms. */
typedef struct tool_run {
    char last[512];
    void (*on_line)(struct tool_run *t, const char *line);
    void (*tick)(struct tool_run *t);
    void *user;
} tool_run;

static int run_tool(const char *const argv[], const char *password, tool_run *t, int *status)
{
    int rc = BILL_OK;
    int pfd[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    bool fa_init = false;
    char **envp = NULL;
    size_t nenv = 0;
    pid_t pid = -1;
    char pwbuf[1024];

    for (char **e = environ; *e; e++)
        nenv++;
    envp = calloc(nenv + 2, sizeof *envp);
    if (!envp)
        return bill__err(BILL_ENOMEM, NULL, "out of memory starting %s", argv[0]);
    size_t k = 0;
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "PGPASSWORD=", 11) != 0)
            envp[k++] = *e;
    if (password) {
        snprintf(pwbuf, sizeof pwbuf, "PGPASSWORD=%s", password);
        envp[k++] = pwbuf;
    }
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        rc = bill__err(BILL_EIO, NULL, "cannot create a pipe for %s: %s", argv[0],
                       strerror(errno));
        goto done;
    }
    posix_spawn_file_actions_init(&fa);
    fa_init = true;
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    int e = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, envp);
    close(pfd[1]);
    pfd[1] = -1;
    if (e != 0) {
        pid = -1;
        rc = bill__err(BILL_EUNAVAILABLE, NULL,
                       "cannot run %s: %s (install PostgreSQL's client programs)", argv[0],
                       strerror(e));
        goto done;
    }
    char line[1024];
    size_t ll = 0;
    for (;;) {
        struct pollfd p = {.fd = pfd[0], .events = POLLIN};
        int pr = poll(&p, 1, 200);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr > 0) {
            char buf[512];
            ssize_t n = read(pfd[0], buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break; /* the child closed stderr: it is exiting */
            for (ssize_t i = 0; i < n; i++) {
                if (buf[i] == '\n' || ll == sizeof line - 1) {
                    line[ll] = '\0';
                    if (ll) {
                        snprintf(t->last, sizeof t->last, "%s", line);
                        if (t->on_line)
                            t->on_line(t, line);
                    }
                    ll = 0;
                } else {
                    line[ll++] = buf[i];
                }
            }
        }
        if (t->tick)
            t->tick(t);
    }
    if (ll) {
        line[ll] = '\0';
        snprintf(t->last, sizeof t->last, "%s", line);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    pid = -1;
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
done:
    if (pid > 0) {
        int ignored;
        while (waitpid(pid, &ignored, 0) < 0 && errno == EINTR)
            ;
    }
    if (fa_init)
        posix_spawn_file_actions_destroy(&fa);
    if (pfd[0] >= 0)
        close(pfd[0]);
    if (pfd[1] >= 0)
        close(pfd[1]);
    explicit_bzero(pwbuf, sizeof pwbuf);
    free(envp);
    return rc;
}

/* ---- backup --------------------------------------------------------------- */

typedef struct backup_watch {
    const char *tmp;
    const bill_backup_options *o;
} backup_watch;

static void backup_tick(tool_run *t)
{
    backup_watch *w = t->user;
    struct stat st;
    if (w->o->progress && stat(w->tmp, &st) == 0)
        w->o->progress((int64_t)st.st_size, 0, w->o->progress_user);
}

/* Delete DIR/libbill_YYYYMMDD_HHMMSS.dump files whose name is older than
 * keep_days before `now` (the name, not the mtime: copies keep their age). */
static int prune(const char *dir, int keep_days, int64_t now, const char *keep, int *pruned)
{
    DIR *d = opendir(dir);
    if (!d)
        return bill__err(BILL_EIO, "dir", "cannot read %s: %s", dir, strerror(errno));
    int64_t limit = now - (int64_t)keep_days * 86400 * BILL_USEC_PER_SEC;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        int y, mo, da, h, mi, s;
        char tail[16];
        if (sscanf(e->d_name, "libbill_%4d%2d%2d_%2d%2d%2d%15s", &y, &mo, &da, &h, &mi, &s,
                   tail) != 7 ||
            strcmp(tail, ".dump") != 0 || !strcmp(e->d_name, keep))
            continue;
        char ts[32];
        int64_t when;
        snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, mo, da, h, mi, s);
        if (bill_time_parse_rfc3339(ts, &when) != BILL_OK || when >= limit)
            continue;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) == 0) {
            n++;
            BILL_LOG_INFO(MOD, "pruned backup %s (older than %d days)", path, keep_days);
        }
    }
    closedir(d);
    *pruned = n;
    return BILL_OK;
}

int bill_db_backup(bill_db *db, const bill_backup_options *o, char **path_out, int *pruned_out)
{
    int rc;
    char *conninfo = NULL, *password = NULL;
    char tmp[PATH_MAX], final[PATH_MAX], tool[PATH_MAX], stamp[BILL_TIME_BUFSZ];
    int pruned = 0, status = 0;
    bool tmp_made = false;

    if (!db || !o)
        return bill__err(BILL_EINVALID, NULL, "bill_db_backup: db and options are required");
    if ((rc = bill__check_version(o->version, BILL_BACKUP_OPTIONS_VERSION, "bill_backup_options")) < 0)
        return rc;
    if (o->keep_days < 0)
        return bill__err(BILL_EINVALID, "keep_days", "--keep-days must not be negative");
    const char *dir = o->dir && *o->dir ? o->dir : ".";
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return bill__err(BILL_EIO, "dir", "cannot create %s: %s", dir, strerror(errno));
    struct stat ds;
    if (stat(dir, &ds) != 0 || !S_ISDIR(ds.st_mode))
        return bill__err(BILL_EINVALID, "dir", "%s is not a directory", dir);

    int64_t now = bill_db_now(db);
    if ((rc = bill_time_format_rfc3339(now, stamp)) < 0)
        return rc;
    /* 2026-05-26T02:00:00Z -> 20260526_020000 */
    char name[64];
    snprintf(name, sizeof name, "libbill_%.4s%.2s%.2s_%.2s%.2s%.2s.dump", stamp, stamp + 5,
             stamp + 8, stamp + 11, stamp + 14, stamp + 17);
    snprintf(final, sizeof final, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s/.%s.partial", dir, name);
    if (access(final, F_OK) == 0)
        return bill__err(BILL_ECONFLICT, "dir", "%s exists already (one backup per second)", final);

    if ((rc = split_conninfo(bill__db_url(db), &conninfo, &password)) < 0)
        goto done;
    tool_path("pg_dump", tool, sizeof tool);
    const char *argv[] = {tool, "--format=custom", "--no-password",
                          "--exclude-table-data=server_instances",
                          "--exclude-table-data=leader_roles", "--file", tmp, "--dbname",
                          conninfo, NULL};
    backup_watch w = {.tmp = tmp, .o = o};
    tool_run t = {.tick = backup_tick, .user = &w};
    tmp_made = true;
    if ((rc = run_tool(argv, password, &t, &status)) < 0)
        goto done;
    if (status != 0) {
        rc = bill__err(BILL_EIO, NULL, "pg_dump failed (exit %d): %s", status,
                       t.last[0] ? t.last : "no message");
        goto done;
    }
    backup_tick(&t);
    if (rename(tmp, final) != 0) {
        rc = bill__err(BILL_EIO, "dir", "cannot rename %s to %s: %s", tmp, final, strerror(errno));
        goto done;
    }
    tmp_made = false;
    BILL_LOG_INFO(MOD, "backup written: %s", final);
    if (o->keep_days > 0 && (rc = prune(dir, o->keep_days, now, name, &pruned)) < 0)
        goto done;
    if (path_out && !(*path_out = bill__strdup(final))) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
        goto done;
    }
    if (pruned_out)
        *pruned_out = pruned;
done:
    if (tmp_made)
        unlink(tmp);
    free(conninfo);
    if (password) {
        explicit_bzero(password, strlen(password));
        free(password);
    }
    return rc;
}

/* ---- restore ---------------------------------------------------------------- */

typedef struct restore_watch {
    const bill_restore_options *o;
    int64_t done, total;
} restore_watch;

static void count_entry(tool_run *t, const char *line)
{
    int64_t *n = t->user;
    if (line[0] != ';' && strchr(line, ';'))
        (*n)++; /* "3210; 1259 16390 TABLE public customers owner" */
}

static void restore_line(tool_run *t, const char *line)
{
    restore_watch *w = t->user;
    /* --verbose: one "pg_restore: creating TABLE ..." / "processing data"
     * line per archive entry */
    if (strstr(line, "pg_restore: creating ") || strstr(line, "pg_restore: processing ") ||
        strstr(line, "pg_restore: dropping ")) {
        if (!strstr(line, "pg_restore: dropping "))
            w->done++;
        if (w->o->progress)
            w->o->progress(w->done < w->total ? w->done : w->total, w->total,
                           w->o->progress_user);
    }
}

/* The archive's entries are counted first (pg_restore --list, its output
 * sent to the stderr pipe run_tool reads) so progress has a total. */
int bill_db_restore(bill_db *db, const char *file, const bill_restore_options *o)
{
    int rc;
    char *conninfo = NULL, *password = NULL;
    char tool[PATH_MAX];
    int status = 0;

    if (!db || !file || !o)
        return bill__err(BILL_EINVALID, NULL, "bill_db_restore: db, file and options are required");
    if ((rc = bill__check_version(o->version, BILL_RESTORE_OPTIONS_VERSION, "bill_restore_options")) < 0)
        return rc;
    struct stat st;
    if (stat(file, &st) != 0)
        return bill__err(BILL_ENOTFOUND, "file", "backup %s: %s", file, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return bill__err(BILL_EINVALID, "file", "backup %s is not a regular file", file);
    FILE *f = fopen(file, "rb");
    char magic[5] = "";
    if (!f || fread(magic, 1, 5, f) != 5 || memcmp(magic, "PGDMP", 5) != 0) {
        if (f)
            fclose(f);
        return bill__err(BILL_EINVALID, "file",
                         "%s is not a pg_dump custom-format archive (made by bill-cli db backup)",
                         file);
    }
    fclose(f);

    if (!o->force) {
        int64_t alive = 0;
        rc = bill_cluster_alive_count(db, 0, &alive);
        if (rc < 0 && strcmp(bill_error_last()->sqlstate, "42P01") == 0) {
            rc = BILL_OK; /* an empty database: no registry, nobody alive */
            alive = 0;
        }
        if (rc < 0)
            return rc;
        if (alive > 0)
            return bill__err(BILL_ESTATE, "force",
                             "%lld bill-server instance%s of this database %s registered alive; "
                             "stop %s first (see bill-cli cluster status) or pass --force",
                             (long long)alive, alive == 1 ? "" : "s", alive == 1 ? "is" : "are",
                             alive == 1 ? "it" : "them");
    }

    if ((rc = split_conninfo(bill__db_url(db), &conninfo, &password)) < 0)
        goto done;
    tool_path("pg_restore", tool, sizeof tool);
    int64_t total = 0;
    {
        const char *argv[] = {tool, "--list", "--file=/dev/stderr", file, NULL};
        tool_run t = {.on_line = count_entry, .user = &total};
        if ((rc = run_tool(argv, NULL, &t, &status)) < 0)
            goto done;
        if (status != 0) {
            rc = bill__err(BILL_EINVALID, "file", "pg_restore cannot read %s: %s", file, t.last);
            goto done;
        }
    }
    const char *argv[] = {tool, "--clean", "--if-exists", "--single-transaction",
                          "--exit-on-error", "--no-owner", "--no-password", "--verbose",
                          "--dbname", conninfo, file, NULL};
    restore_watch w = {.o = o, .total = total};
    tool_run t = {.on_line = restore_line, .user = &w};
    if ((rc = run_tool(argv, password, &t, &status)) < 0)
        goto done;
    if (status != 0) {
        rc = bill__err(BILL_EIO, NULL, "pg_restore failed (exit %d), nothing was changed: %s",
                       status, t.last[0] ? t.last : "no message");
        goto done;
    }
    if (o->progress)
        o->progress(total, total, o->progress_user);
    BILL_LOG_INFO(MOD, "restored %s (%lld archive entries)", file, (long long)total);
done:
    free(conninfo);
    if (password) {
        explicit_bzero(password, strlen(password));
        free(password);
    }
    return rc;
}
