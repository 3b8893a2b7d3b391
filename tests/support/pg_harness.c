/*
 * pg_harness.c — gives each test a fresh database on a real PostgreSQL
 * server (see pg_harness.h for where the server comes from).
 *
 * The private cluster is started with the same pg-cluster.sh that ./dev test
 * uses, so there is one way to run PostgreSQL as root in this tree. Its
 * directory is named after the process that loaded the harness (recorded by
 * a constructor), so Check's forked children find and reuse it, and only
 * that original process stops it at exit.
 */
#include "pg_harness.h"

#include <check.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef BILL_PG_CLUSTER_SCRIPT
#error "BILL_PG_CLUSTER_SCRIPT must name tests/support/pg-cluster.sh"
#endif

static pid_t owner_pid;
static char private_dir[256];
static char base_url[1024];
static char host[512], port[32], user[64];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned db_counter;

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "pg_harness: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

static int run_script(const char *verb, const char *dir)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* stdout carries the env lines we do not need; errors stay on stderr. */
        FILE *devnull = freopen("/dev/null", "w", stdout);
        (void)devnull;
        execl("/bin/bash", "bash", BILL_PG_CLUSTER_SCRIPT, verb, dir, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        ;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void stop_private_cluster(void)
{
    if (getpid() != owner_pid)
        return; /* a forked test child: the cluster belongs to its parent */
    struct stat sb;
    if (stat(private_dir, &sb) != 0)
        return;
    run_script("stop", private_dir);
    rmdir(private_dir);
}

__attribute__((constructor)) static void harness_init(void)
{
    owner_pid = getpid();
    const char *tmp = getenv("TMPDIR");
    snprintf(private_dir, sizeof private_dir, "%s/bill-test-pg.%ld",
             tmp && *tmp ? tmp : "/tmp", (long)owner_pid);
    atexit(stop_private_cluster);
}

/* Percent-encode a URL query value (socket paths contain '/'). */
static void url_encode(char *out, size_t cap, const char *in)
{
    size_t o = 0;
    for (; *in && o + 4 < cap; in++) {
        unsigned char ch = (unsigned char)*in;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            out[o++] = (char)ch;
        } else {
            o += (size_t)snprintf(out + o, cap - o, "%%%02X", ch);
        }
    }
    out[o] = '\0';
}

static char *make_url(const char *dbname)
{
    char h[1024], u[192];
    url_encode(h, sizeof h, host);
    url_encode(u, sizeof u, user);
    size_t n = strlen(dbname) + strlen(h) + strlen(u) + strlen(port) + 64;
    char *url = malloc(n);
    if (!url)
        die("out of memory", NULL);
    snprintf(url, n, "postgresql:///%s?host=%s&port=%s&user=%s", dbname, h, port, u);
    return url;
}

static bool use_private;

void bill_test_pg_use_private(void)
{
    use_private = true;
}

int bill_test_pg_halt(void)
{
    bill_test_pg_url_base();
    return strcmp(host, private_dir) == 0 ? run_script("halt", private_dir) : -1;
}

int bill_test_pg_resume(void)
{
    bill_test_pg_url_base();
    return strcmp(host, private_dir) == 0 ? run_script("start", private_dir) : -1;
}

const char *bill_test_pg_url_base(void)
{
    pthread_mutex_lock(&mu);
    if (!base_url[0]) {
        const char *eh = use_private ? NULL : getenv("BILL_TEST_PG_HOST");
        if (eh && *eh) {
            const char *ep = getenv("BILL_TEST_PG_PORT");
            const char *eu = getenv("BILL_TEST_PG_USER");
            snprintf(host, sizeof host, "%s", eh);
            snprintf(port, sizeof port, "%s", ep && *ep ? ep : "5432");
            snprintf(user, sizeof user, "%s", eu && *eu ? eu : "postgres");
        } else {
            /* Idempotent: reuses the cluster if a sibling process started it. */
            if (run_script("start", private_dir) != 0)
                die("cannot start a private PostgreSQL cluster in", private_dir);
            snprintf(host, sizeof host, "%s", private_dir);
            snprintf(port, sizeof port, "5432");
            snprintf(user, sizeof user, "postgres");
        }
        char *u = make_url("postgres");
        snprintf(base_url, sizeof base_url, "%s", u);
        free(u);
    }
    pthread_mutex_unlock(&mu);
    return base_url;
}

int bill_test_pg_exec(const char *url, const char *sql)
{
    int rc = 0;
    PGconn *c = PQconnectdb(url);
    PGresult *r = NULL;
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "pg_harness: cannot connect to %s: %s", url, PQerrorMessage(c));
        rc = -1;
        goto done;
    }
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "pg_harness: %s: %s", sql, PQerrorMessage(c));
        rc = -1;
    }
done:
    PQclear(r);
    PQfinish(c);
    return rc;
}

long long bill_test_pg_query_ll(const char *url, const char *sql)
{
    long long v = 0;
    PGconn *c = PQconnectdb(url);
    PGresult *r = NULL;
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "pg_harness: cannot connect to %s: %s", url, PQerrorMessage(c));
        abort();
    }
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1) {
        fprintf(stderr, "pg_harness: %s: %s", sql, PQerrorMessage(c));
        abort();
    }
    v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return v;
}

char *bill_test_pg_new_database(const char *prefix)
{
    const char *base = bill_test_pg_url_base();
    char name[64], clean[24] = "t", sql[160];
    size_t k = 0;

    for (const char *p = prefix ? prefix : "t"; *p && k + 1 < sizeof clean; p++) {
        char ch = *p;
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')
            clean[k++] = ch;
    }
    clean[k ? k : 1] = '\0';
    pthread_mutex_lock(&mu);
    unsigned n = ++db_counter;
    pthread_mutex_unlock(&mu);
    /* pid + counter + random keep names unique across forked children and
     * parallel suites sharing one server. */
    snprintf(name, sizeof name, "%s_%ld_%u_%08x", clean, (long)getpid(), n,
             (unsigned)random() ^ (unsigned)time(NULL));
    snprintf(sql, sizeof sql, "CREATE DATABASE \"%s\"", name);
    if (bill_test_pg_exec(base, sql) != 0)
        die("cannot create test database", name);
    return make_url(name);
}

/* A migrated template database per server and set of migrations: cloning it
 * (CREATE DATABASE ... TEMPLATE) costs far less than migrating every test's
 * database. Built once under an advisory lock, under a temporary name that
 * is renamed only when complete, so parallel suites never clone half a
 * schema. Each clone is still passed through bill_db_migrate, which verifies
 * the checksums (a template left over from edited migrations fails loudly). */
static void quiet_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* The template is named after the migrations' contents, not only their
 * count: editing an unreleased migration then builds a fresh template
 * instead of cloning a stale one (several build trees may share a test
 * server). The checksums come from libbill itself (the embedded files), read
 * through bill_db_migration_status on the maintenance database, which has
 * no schema_migrations table and so reports every migration as pending. */
static void template_name(char *out, size_t cap)
{
    static pthread_mutex_t tmu = PTHREAD_MUTEX_INITIALIZER;
    static char cached[64];
    const char *base = bill_test_pg_url_base();
    pthread_mutex_lock(&tmu);
    if (!cached[0]) {
        bill_db_options o;
        bill_db *db = NULL;
        bill_migration_info *infos = NULL;
        size_t n = 0;
        uint32_t h = 2166136261u; /* FNV-1a over every checksum */
        bill_db_options_init(&o);
        o.url = base;
        o.min_connections = 1;
        o.max_connections = 1;
        if (bill_db_open(&db, &o) != BILL_OK || bill_db_migration_status(db, &infos, &n) != BILL_OK)
            die("cannot read the embedded migrations' checksums", bill_error_last()->message);
        for (size_t i = 0; i < n; i++)
            for (const char *c = infos[i].checksum; *c; c++)
                h = (h ^ (unsigned char)*c) * 16777619u;
        free(infos);
        bill_db_close(db);
        snprintf(cached, sizeof cached, "bill_tmpl_m%zu_%08x", n, (unsigned)h);
    }
    pthread_mutex_unlock(&tmu);
    snprintf(out, cap, "%s", cached);
}

static void ensure_template(void)
{
    const char *base = bill_test_pg_url_base();
    char name[64], sql[256];
    template_name(name, sizeof name);
    PGconn *c = PQconnectdb(base);
    PGresult *r = NULL;
    if (PQstatus(c) != CONNECTION_OK)
        die("cannot connect to the test server", PQerrorMessage(c));
    PQsetNoticeProcessor(c, quiet_notice, NULL);
    PQclear(PQexec(c, "SELECT pg_advisory_lock(7340017)"));
    const char *params[1] = {name};
    r = PQexecParams(c, "SELECT 1 FROM pg_database WHERE datname = $1", 1, NULL, params,
                     NULL, NULL, 0);
    bool have = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    if (!have) {
        char building[80], *url;
        bill_db_options o;
        bill_db *db = NULL;
        snprintf(building, sizeof building, "%s_build", name);
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%s\"", building);
        PQclear(PQexec(c, sql));
        snprintf(sql, sizeof sql, "CREATE DATABASE \"%s\"", building);
        if (bill_test_pg_exec(base, sql) != 0)
            die("cannot create the template database", building);
        url = make_url(building);
        bill_db_options_init(&o);
        o.url = url;
        o.min_connections = 1;
        o.max_connections = 2;
        if (bill_db_open(&db, &o) != BILL_OK || bill_db_migrate(db, NULL) != BILL_OK)
            die("migrating the template database failed", bill_error_last()->message);
        bill_db_close(db);
        free(url);
        snprintf(sql, sizeof sql, "ALTER DATABASE \"%s\" RENAME TO \"%s\"", building, name);
        if (bill_test_pg_exec(base, sql) != 0)
            die("cannot finish the template database", name);
    }
    PQclear(PQexec(c, "SELECT pg_advisory_unlock(7340017)"));
    PQfinish(c);
}

bill_db *bill_test_db_new_url(char **url_out)
{
    char tmpl[64], name[96], sql[256];
    bill_db_options o;
    bill_db *db = NULL;
    int applied = 0;

    ensure_template();
    template_name(tmpl, sizeof tmpl);
    pthread_mutex_lock(&mu);
    unsigned n = ++db_counter;
    pthread_mutex_unlock(&mu);
    snprintf(name, sizeof name, "t_%ld_%u_%08x", (long)getpid(), n,
             (unsigned)random() ^ (unsigned)time(NULL));
    snprintf(sql, sizeof sql, "CREATE DATABASE \"%s\" TEMPLATE \"%s\"", name, tmpl);
    if (bill_test_pg_exec(bill_test_pg_url_base(), sql) != 0)
        die("cannot create test database", name);
    char *url = make_url(name);

    bill_db_options_init(&o);
    o.url = url;
    o.max_connections = 10;
    o.min_connections = 1;
    o.application_name = "libbill-test";
    if (bill_db_open(&db, &o) != BILL_OK)
        die("bill_db_open on the test database failed", bill_error_last()->message);
    if (bill_db_migrate(db, &applied) != BILL_OK)
        die("migrating the test database failed (a stale template? drop database bill_tmpl_*)",
            bill_error_last()->message);
    if (url_out)
        *url_out = url;
    else
        free(url);
    return db;
}

bill_db *bill_test_db_new(void)
{
    return bill_test_db_new_url(NULL);
}

long long bill_test_pg_queryf_ll(const char *url, const char *fmt, ...)
{
    char sql[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof sql)
        die("query too long", fmt);
    return bill_test_pg_query_ll(url, sql);
}

void bill_test_pg_expect(const char *url, const bill_test_count *counts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        long long got = bill_test_pg_query_ll(url, counts[i].sql);
        ck_assert_msg(got == counts[i].want, "%s: %lld, want %lld", counts[i].sql, got,
                      counts[i].want);
    }
}
