/*
 * test_cli_cluster.c — suite 'cli': `cluster status`, `db backup` and
 * `db restore` as the real binary against a real PostgreSQL. Members of the
 * cluster are registered through libbill in the test process (what a
 * bill-server does at start). The restore story: money moves, a backup,
 * the schema destroyed, the restore, and the ledger is identical.
 */
#include "cli_harness.h"
#include "pg_harness.h"
#include "check_main.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ck_ok(r, what)                                                                      \
    ck_assert_msg((r).status == 0, "%s failed (exit %d):\n%s", (what), (r).status, (r).err)
#define ck_exit(r, code)                                                                    \
    ck_assert_msg((r).status == (code), "expected exit %d, got %d; stderr:\n%s", (code),    \
                  (r).status, (r).err)

/* One number summing up every ledger row and every balance, order included. */
static const char ledger_sql[] =
    "SELECT ('x' || substr(md5(coalesce((SELECT string_agg(concat_ws('|', id, customer_id,"
    " amount, balance_before, balance_after, transaction_type, created_at), ',' ORDER BY created_at, id)"
    " FROM balance_transactions), '') || coalesce((SELECT string_agg(concat_ws('|', id,"
    " balance), ',' ORDER BY id) FROM customers), '')), 1, 15))::bit(60)::bigint";

static bill_cluster *join_on(const char *url, bill_db **db_out)
{
    bill_db_options o;
    bill_db_options_init(&o);
    o.url = url;
    o.min_connections = 0;
    ck_assert_int_eq(bill_db_open(db_out, &o), BILL_OK);
    bill_cluster_options co;
    bill_cluster_options_init(&co);
    co.port = 50077;
    co.sw_version = "1.2.3";
    bill_cluster *c = NULL;
    ck_assert_int_eq(bill_cluster_join(&c, *db_out, &co), BILL_OK);
    return c;
}

START_TEST(test_cli_cluster__status)
{
    char *url = NULL;
    bill_db *tdb = bill_test_db_new_url(&url);
    run r = cli(NULL, url, "cluster", "status", NULL);
    ck_ok(r, "cluster status");
    ck_contains(r.out, "0 instances registered, 0 alive");
    run_free(&r);

    bill_db *db = NULL;
    bill_cluster *c = join_on(url, &db);
    const char *roles[] = {"billing", "events", NULL};
    ck_assert_int_eq(bill_cluster_want(c, roles), BILL_OK);
    ck_assert_int_eq(bill_cluster_heartbeat(c), BILL_OK);
    ck_assert_int_eq(bill_cluster_set_state(c, BILL_CLUSTER_SERVING), BILL_OK);

    r = cli(NULL, url, "cluster", "status", NULL);
    ck_ok(r, "cluster status");
    ck_contains(r.out, bill_cluster_id(c));
    ck_contains(r.out, "127.0.0.1:50077");
    ck_contains(r.out, "serving");
    ck_contains(r.out, "billing,events");
    ck_contains(r.out, "1 instance registered, 1 alive");
    run_free(&r);

    r = cli(NULL, url, "--json", "cluster", "status", NULL);
    ck_ok(r, "cluster status --json");
    json_object *doc = json_of(&r);
    ck_assert_int_eq(json_object_get_int(jget(doc, "alive")), 1);
    json_object *m = json_object_array_get_idx(jget(doc, "instances"), 0);
    ck_assert_str_eq(jstr(m, "id"), bill_cluster_id(c));
    ck_assert_int_eq(json_object_get_int(jget(m, "port")), 50077);
    ck_assert_str_eq(jstr(m, "version"), "1.2.3");
    ck_assert(json_object_get_boolean(jget(m, "alive")));
    ck_assert_int_eq(json_object_array_length(jget(m, "roles")), 2);
    ck_assert_int_ge(json_object_get_int(jget(m, "age_secs")), 0);
    json_object *roles_doc = jget(doc, "roles");
    ck_assert_int_eq(json_object_array_length(roles_doc), 2);
    ck_assert_str_eq(jstr(json_object_array_get_idx(roles_doc, 0), "holder"), bill_cluster_id(c));
    json_object_put(doc);
    run_free(&r);

    bill_cluster_leave(c);
    r = cli(NULL, url, "--json", "cluster", "status", NULL);
    doc = json_of(&r);
    ck_assert_int_eq(json_object_array_length(jget(doc, "instances")), 0);
    ck_assert(json_object_is_type(jget(json_object_array_get_idx(jget(doc, "roles"), 0), "holder"),
                                  json_type_null));
    json_object_put(doc);
    run_free(&r);

    r = cli(NULL, url, "cluster", "status", "extra", NULL);
    ck_exit(r, 2);
    run_free(&r);
    bill_db_close(db);
    bill_db_close(tdb);
    free(url);
}
END_TEST

static int count_dumps(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        n += strncmp(e->d_name, "libbill_", 8) == 0;
    closedir(d);
    return n;
}

static void touch(const char *dir, const char *name)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("old", f);
    fclose(f);
}

START_TEST(test_cli_cluster__backup_destroy_restore)
{
    char *url = NULL;
    bill_db *tdb = bill_test_db_new_url(&url);
    char dir[400], *cid;
    snprintf(dir, sizeof dir, "%s/backups", workdir);

    run r = cli(NULL, url, "--json", "customer", "create", "--name", "备份客户", NULL);
    ck_ok(r, "customer create");
    json_object *doc = json_of(&r);
    cid = strdup(jstr(doc, "id"));
    json_object_put(doc);
    run_free(&r);
    const char *amounts[] = {"100.00", "25.50", "0.01"};
    for (int i = 0; i < 3; i++) {
        r = cli(NULL, url, "customer", "balance", "add", cid, amounts[i], NULL);
        ck_ok(r, "balance add");
        run_free(&r);
    }
    r = cli(NULL, url, "customer", "balance", "deduct", cid, "10.00", NULL);
    ck_ok(r, "balance deduct");
    run_free(&r);
    long long before = bill_test_pg_query_ll(url, ledger_sql);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM balance_transactions"), 4);

    /* an old backup by its name, and a file that only looks like one */
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    touch(dir, "libbill_20000101_000000.dump");
    touch(dir, "libbill_notes.txt");
    r = cli(NULL, url, "--json", "--now", "2031-05-26T02:00:00Z", "db", "backup", "--dir", dir,
            "--keep-days", "30", NULL);
    ck_ok(r, "db backup");
    doc = json_of(&r);
    char file[600];
    snprintf(file, sizeof file, "%s/libbill_20310526_020000.dump", dir);
    ck_assert_str_eq(jstr(doc, "file"), file);
    ck_assert_int_eq(json_object_get_int(jget(doc, "pruned")), 1);
    json_object_put(doc);
    run_free(&r);
    ck_assert_int_eq(access(file, R_OK), 0);
    ck_assert_int_eq(count_dumps(dir), 2); /* the new one and the notes */
    struct stat st;
    ck_assert_int_eq(stat(file, &st), 0);
    ck_assert_int_gt(st.st_size, 1000);

    /* the same second again: refused, nothing overwritten */
    r = cli(NULL, url, "--now", "2031-05-26T02:00:00Z", "db", "backup", "--dir", dir, NULL);
    ck_exit(r, 1);
    ck_contains(r.err, "exists already");
    run_free(&r);
    r = cli(NULL, url, "db", "backup", "--keep-days", "-1", NULL);
    ck_exit(r, 2);
    run_free(&r);

    /* destroy */
    ck_assert_int_eq(bill_test_pg_exec(url, "DROP SCHEMA public CASCADE; CREATE SCHEMA public"), 0);
    r = cli(NULL, url, "customer", "list", NULL);
    ck_exit(r, 1);
    run_free(&r);

    /* not on a terminal: --yes is required */
    r = cli(NULL, url, "db", "restore", file, NULL);
    ck_exit(r, 2);
    ck_contains(r.err, "--yes");
    run_free(&r);
    r = cli(NULL, url, "db", "restore", "--yes", "/nonexistent.dump", NULL);
    ck_exit(r, 1);
    run_free(&r);
    char notes[600];
    snprintf(notes, sizeof notes, "%s/libbill_notes.txt", dir);
    r = cli(NULL, url, "db", "restore", "--yes", notes, NULL);
    ck_exit(r, 1);
    ck_contains(r.err, "not a pg_dump custom-format archive");
    run_free(&r);

    r = cli(NULL, url, "db", "restore", "--yes", file, NULL);
    ck_ok(r, "db restore");
    ck_contains(r.out, "restored");
    run_free(&r);
    ck_assert_int_eq(bill_test_pg_query_ll(url, ledger_sql), before);
    r = cli(NULL, url, "customer", "balance", "verify", cid, NULL);
    ck_ok(r, "balance verify");
    run_free(&r);

    /* a live bill-server: refused unless --force, and nothing changes */
    r = cli(NULL, url, "customer", "balance", "add", cid, "1.00", NULL);
    ck_ok(r, "balance add after restore");
    run_free(&r);
    long long changed = bill_test_pg_query_ll(url, ledger_sql);
    bill_db *db = NULL;
    bill_cluster *c = join_on(url, &db);
    r = cli(NULL, url, "db", "restore", "--yes", file, NULL);
    ck_exit(r, 1);
    ck_contains(r.err, "registered alive");
    ck_contains(r.err, "--force");
    run_free(&r);
    ck_assert_int_eq(bill_test_pg_query_ll(url, ledger_sql), changed);
    r = cli(NULL, url, "db", "restore", "--yes", "--force", file, NULL);
    ck_ok(r, "db restore --force");
    run_free(&r);
    ck_assert_int_eq(bill_test_pg_query_ll(url, ledger_sql), before);
    /* the backup held no registry rows: the restored database has no members */
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM server_instances"), 0);
    /* the member that survived the restore registers again at its next beat */
    ck_assert_int_eq(bill_cluster_heartbeat(c), BILL_OK);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM server_instances"), 1);
    bill_cluster_leave(c);
    bill_db_close(db);
    free(cid);
    bill_db_close(tdb);
    free(url);
}
END_TEST

BILL_TEST_MAIN("cli_cluster", 120, cli_setup, cli_teardown, test_cli_cluster__status,
               test_cli_cluster__backup_destroy_restore)
