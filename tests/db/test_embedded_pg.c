/*
 * test_embedded_pg.c — the embedded PostgreSQL of R-DB-6 in a temp dir:
 * first start (initdb + start + database), reuse of the running cluster,
 * two processes starting at once, stop, and restart of existing data.
 * Runs as root the way CI does (the cluster then belongs to "postgres").
 */
#include "db_fixture.h"

#include "check_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char var_dir[128];

static void make_var_dir(void)
{
    snprintf(var_dir, sizeof var_dir, "/tmp/bill-embedded.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(var_dir));
}

static void remove_var_dir(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", var_dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void assert_usable(const char *url)
{
    bill_db *db = bill_test_db_open(url, 1, -1);
    ck_assert_int_eq(bill_db_ping(db), BILL_OK);
    bill_db_close(db);
}

START_TEST(test_embedded__start_reuse_stop_restart)
{
    char *url = NULL, *url2 = NULL;
    bool started = false;
    make_var_dir();

    ck_assert_msg(bill_embedded_pg_ensure(var_dir, &url, &started) == BILL_OK, "%s",
                  bill_error_last()->message);
    ck_assert(started);
    ck_assert_ptr_nonnull(strstr(url, "postgresql:///libbill?host="));
    ck_assert_ptr_nonnull(strstr(url, "/pg/run"));
    assert_usable(url);
    ck_assert_int_eq(bill_test_pg_query_ll(url,
        "SELECT (current_setting('listen_addresses') = '')::int"), 1);

    ck_assert_int_eq(bill_embedded_pg_ensure(var_dir, &url2, &started), BILL_OK);
    ck_assert(!started); /* reused */
    ck_assert_str_eq(url, url2);
    free(url2);
    url2 = NULL;

    ck_assert_int_eq(bill_embedded_pg_stop(var_dir), BILL_OK);
    ck_assert_int_eq(bill_embedded_pg_stop(var_dir), BILL_OK); /* idempotent */
    bill_db_options o;
    bill_db *db = NULL;
    bill_db_options_init(&o);
    o.url = url;
    ck_assert_int_eq(bill_db_open(&db, &o), BILL_EUNAVAILABLE);

    /* Existing data: started again without initdb, database kept. */
    ck_assert_int_eq(bill_embedded_pg_ensure(var_dir, &url2, &started), BILL_OK);
    ck_assert(started);
    assert_usable(url2);
    ck_assert_int_eq(bill_embedded_pg_stop(var_dir), BILL_OK);
    free(url);
    free(url2);
    remove_var_dir();
}
END_TEST

/* Two processes racing on a fresh var dir: the flock lets one initdb, the
 * other waits and reuses the cluster; both succeed. */
START_TEST(test_embedded__two_processes_start_at_once)
{
    pid_t kids[2];
    make_var_dir();
    for (int i = 0; i < 2; i++) {
        kids[i] = fork();
        ck_assert_int_ge(kids[i], 0);
        if (kids[i] == 0) {
            char *url = NULL;
            int rc = bill_embedded_pg_ensure(var_dir, &url, NULL);
            if (rc != BILL_OK)
                fprintf(stderr, "child: %s\n", bill_error_last()->message);
            free(url);
            _exit(rc == BILL_OK ? 0 : 1);
        }
    }
    for (int i = 0; i < 2; i++) {
        int st = 0;
        ck_assert_int_eq(waitpid(kids[i], &st, 0), kids[i]);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    char *url = NULL;
    bool started = true;
    ck_assert_int_eq(bill_embedded_pg_ensure(var_dir, &url, &started), BILL_OK);
    ck_assert(!started);
    assert_usable(url);
    free(url);
    ck_assert_int_eq(bill_embedded_pg_stop(var_dir), BILL_OK);
    remove_var_dir();
}
END_TEST

START_TEST(test_embedded__bad_var_dir_is_invalid)
{
    char *url = NULL;
    ck_assert_int_eq(bill_embedded_pg_ensure("", &url, NULL), BILL_EINVALID);
    ck_assert_int_eq(bill_embedded_pg_ensure("/tmp/has space", &url, NULL), BILL_EINVALID);
    ck_assert_ptr_null(url);
    rmdir("/tmp/has space");
}
END_TEST

BILL_TEST_MAIN("embedded_pg", 120, NULL, NULL,
               test_embedded__start_reuse_stop_restart, test_embedded__two_processes_start_at_once,
               test_embedded__bad_var_dir_is_invalid);
