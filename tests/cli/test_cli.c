/*
 * test_cli.c — suite 'cli': runs the built bill-cli binary (path in env
 * BILL_CLI) as an operator would, against a real PostgreSQL database from
 * tests/support, and checks exit codes, stdout, stderr and the resulting
 * database state.
 *
 * Each run happens in a fresh temporary working directory so no stray
 * ./config.toml or ./var is picked up, and always with --database-url so the
 * embedded PostgreSQL is never started by accident.
 */
#include "cli_harness.h"
#include "pg_harness.h"

#include "check_main.h"
#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Create a customer with `extra` options; returns its id (malloc'd). */
static char *make_customer(const char *url, const char *name, const char *credit_limit)
{
    run r = credit_limit ? cli(NULL, url, "--json", "customer", "create", "--name", name,
                               "--credit-limit", credit_limit, NULL)
                         : cli(NULL, url, "--json", "customer", "create", "--name", name, NULL);
    ck_assert_msg(r.status == 0, "customer create failed: %s", r.err);
    json_object *o = json_of(&r);
    char *id = strdup(jstr(o, "id"));
    json_object_put(o);
    run_free(&r);
    return id;
}

/* The customer's balance as libbill formats it, read through `--json show`. */
static char *balance_of(const char *url, const char *id)
{
    run r = cli(NULL, url, "--json", "customer", "show", id, NULL);
    ck_assert_msg(r.status == 0, "customer show failed: %s", r.err);
    json_object *o = json_of(&r);
    char *b = strdup(jstr(o, "balance"));
    json_object_put(o);
    run_free(&r);
    return b;
}

/* ---- help and usage (no database) --------------------------------------- */

START_TEST(test_cli__help_every_level)
{
    run r = cli(NULL, NULL, "--help", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_contains(r.out, "customer");
    ck_contains(r.out, "db");
    ck_contains(r.out, "product");
    ck_contains(r.out, "--database-url");
    run_free(&r);

    r = cli(NULL, NULL, "customer", "--help", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_contains(r.out, "balance");
    ck_contains(r.out, "create");
    run_free(&r);

    r = cli(NULL, NULL, "customer", "balance", "add", "--help", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_contains(r.out, "usage: bill-cli customer balance add ID AMOUNT");
    ck_contains(r.out, "--description");
    ck_assert_str_eq(r.err, "");
    run_free(&r);

    r = cli(NULL, NULL, "--version", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_contains(r.out, "bill-cli ");
    run_free(&r);
}
END_TEST

START_TEST(test_cli__usage_errors_exit_2)
{
    run r = cli(NULL, NULL, "frobnicate", NULL);
    ck_assert_int_eq(r.status, 2);
    ck_contains(r.err, "unknown command 'frobnicate'");
    ck_contains(r.err, "--help");
    ck_assert_str_eq(r.out, "");
    run_free(&r);

    r = cli(NULL, NULL, "customer", "list", "--bogus", NULL);
    ck_assert_int_eq(r.status, 2);
    ck_contains(r.err, "unknown option '--bogus'");
    ck_contains(r.err, "try 'bill-cli customer list --help'");
    run_free(&r);

    r = cli(NULL, NULL, "--nope", NULL);
    ck_assert_int_eq(r.status, 2);
    run_free(&r);

    r = cli(NULL, NULL, "customer", "balance", "add", "only-one-arg", NULL);
    ck_assert_int_eq(r.status, 2);
    ck_contains(r.err, "missing argument");
    run_free(&r);

    r = cli(NULL, NULL, "customer", "create", NULL);
    ck_assert_int_eq(r.status, 2);
    ck_contains(r.err, "missing required option --name");
    run_free(&r);

    r = cli(NULL, NULL, NULL);
    ck_assert_int_eq(r.status, 2);
    run_free(&r);
}
END_TEST

/* ---- db ------------------------------------------------------------------ */

START_TEST(test_cli__db_migrate_then_status)
{
    char *url = bill_test_pg_new_database("cli_db");
    /* the counts follow the migrations built into libbill */
    const int nmig = (int)bill_db_migrations_known();
    char want[96];

    /* an unmigrated database is refused by ordinary commands */
    run r = cli(NULL, url, "customer", "list", NULL);
    ck_assert_int_eq(r.status, 1);
    snprintf(want, sizeof want, "database schema is not up to date (%d pending); run: bill-cli db migrate", nmig);
    ck_contains(r.err, want);
    ck_assert_str_eq(r.out, "");
    run_free(&r);

    r = cli(NULL, url, "db", "status", NULL);
    ck_assert_int_eq(r.status, 0);
    snprintf(want, sizeof want, "0 of %d migrations applied", nmig);
    ck_contains(r.out, want);
    run_free(&r);

    r = cli(NULL, url, "db", "migrate", NULL);
    ck_assert_msg(r.status == 0, "migrate failed: %s", r.err);
    snprintf(want, sizeof want, "applied %d migrations", nmig);
    ck_contains(r.out, want);
    run_free(&r);

    r = cli(NULL, url, "db", "status", NULL);
    ck_assert_int_eq(r.status, 0);
    snprintf(want, sizeof want, "%d of %d migrations applied", nmig, nmig);
    ck_contains(r.out, want);
    ck_contains(r.out, "initial");
    ck_contains(r.out, "plugins_table");
    ck_not_contains(r.out, "MISMATCH");
    run_free(&r);

    r = cli(NULL, url, "--json", "db", "status", NULL);
    ck_assert_int_eq(r.status, 0);
    json_object *o = json_of(&r), *v = NULL;
    ck_assert(json_object_object_get_ex(o, "applied", &v));
    ck_assert_int_eq(json_object_get_int(v), nmig);
    ck_assert(json_object_object_get_ex(o, "migrations", &v));
    ck_assert_int_eq((int)json_object_array_length(v), nmig);
    json_object_put(o);
    run_free(&r);

    r = cli(NULL, url, "db", "migrate", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_contains(r.out, "up to date");
    run_free(&r);

    /* An applied migration that no longer matches its file: status shows it
     * and warns; migrate and ordinary commands refuse, writing nothing. */
    ck_assert_int_eq(bill_test_pg_exec(url, "UPDATE schema_migrations SET checksum = "
                                            "repeat('0', 64) WHERE version = 2"), 0);
    r = cli(NULL, url, "db", "status", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_contains(r.out, "MISMATCH");
    ck_contains(r.err, "1 applied migration changed");
    run_free(&r);
    r = cli(NULL, url, "customer", "create", "--name", "Never", NULL);
    ck_assert_int_eq(r.status, 1);
    ck_contains(r.err, "migration 002 (operation_logs) changed after it was applied");
    ck_assert_str_eq(r.out, "");
    run_free(&r);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM customers"), 0);
    r = cli(NULL, url, "db", "migrate", NULL);
    ck_assert_int_eq(r.status, 1);
    ck_contains(r.err, "002");
    run_free(&r);
    free(url);
}
END_TEST

/* ---- users --------------------------------------------------------------- */

START_TEST(test_cli__user_create_list_duplicate)
{
    char *url = NULL;
    bill_db *db = bill_test_db_new_url(&url);
    bill_db_close(db);

    run r = cli(NULL, url, "user", "create", "--username", "admin2", "--password", "pass123",
                "--role", "admin", NULL);
    ck_assert_msg(r.status == 0, "user create failed: %s", r.err);
    ck_contains(r.out, "admin2");
    run_free(&r);

    /* --password-stdin keeps the secret out of argv */
    r = cli("s3cret-pass\n", url, "user", "create", "--username", "ops1", "--password-stdin",
            "--role", "operator", NULL);
    ck_assert_msg(r.status == 0, "user create (stdin) failed: %s", r.err);
    run_free(&r);

    r = cli(NULL, url, "user", "list", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_contains(r.out, "admin2");
    ck_contains(r.out, "ops1");
    ck_contains(r.out, "operator");
    run_free(&r);

    r = cli(NULL, url, "user", "create", "--username", "admin2", "--password", "other-pass1",
            "--role", "admin", NULL);
    ck_assert_int_eq(r.status, 1);
    ck_contains(r.err, "bill-cli: error: ");
    ck_contains(r.err, "admin2");
    ck_assert_str_eq(r.out, "");
    run_free(&r);

    r = cli(NULL, url, "user", "disable", "ops1", NULL);
    ck_assert_msg(r.status == 0, "disable failed: %s", r.err);
    run_free(&r);
    r = cli(NULL, url, "--json", "user", "list", NULL);
    ck_assert_int_eq(r.status, 0);
    json_object *o = json_of(&r), *users = NULL;
    ck_assert(json_object_object_get_ex(o, "users", &users));
    bool seen = false;
    for (size_t i = 0; i < json_object_array_length(users); i++) {
        json_object *u = json_object_array_get_idx(users, i), *act = NULL;
        if (strcmp(jstr(u, "username"), "ops1") == 0) {
            ck_assert(json_object_object_get_ex(u, "is_active", &act));
            ck_assert(!json_object_get_boolean(act));
            seen = true;
        }
    }
    ck_assert(seen);
    json_object_put(o);
    run_free(&r);

    r = cli(NULL, url, "user", "passwd", "nobody-here", "--password", "whatever-1", NULL);
    ck_assert_int_eq(r.status, 1);
    ck_contains(r.err, "bill-cli: error: ");
    run_free(&r);
    free(url);
}
END_TEST

/* ---- customers and balance ----------------------------------------------- */

START_TEST(test_cli__customer_balance_flow)
{
    char *url = NULL;
    bill_db_close(bill_test_db_new_url(&url));
    char *id = make_customer(url, "Acme Hosting", NULL);

    run r = cli(NULL, url, "customer", "balance", "add", id, "100.00", "--description", "topup",
                NULL);
    ck_assert_msg(r.status == 0, "add failed: %s", r.err);
    ck_contains(r.out, "100.00");
    run_free(&r);

    r = cli(NULL, url, "customer", "balance", "deduct", id, "30.5", NULL);
    ck_assert_msg(r.status == 0, "deduct failed: %s", r.err);
    run_free(&r);

    r = cli(NULL, url, "customer", "show", id, NULL);
    ck_assert_int_eq(r.status, 0);
    ck_contains(r.out, "69.50");
    ck_contains(r.out, "Acme Hosting");
    ck_contains(r.out, "recharge");
    ck_contains(r.out, "deduct");
    run_free(&r);

    r = cli(NULL, url, "--json", "customer", "show", id, NULL);
    ck_assert_int_eq(r.status, 0);
    json_object *o = json_of(&r), *txs = NULL;
    ck_assert_str_eq(jstr(o, "id"), id);
    ck_assert_str_eq(jstr(o, "name"), "Acme Hosting");
    ck_assert_str_eq(jstr(o, "balance"), "69.50");
    ck_assert_str_eq(jstr(o, "credit_limit"), "0.00");
    ck_assert(json_object_object_get_ex(o, "recent_transactions", &txs));
    ck_assert_int_eq((int)json_object_array_length(txs), 2);
    json_object *newest = json_object_array_get_idx(txs, 0);
    ck_assert_str_eq(jstr(newest, "type"), "deduct");
    ck_assert_str_eq(jstr(newest, "amount"), "-30.50");
    ck_assert_str_eq(jstr(newest, "balance_after"), "69.50");
    json_object_put(o);
    run_free(&r);

    r = cli(NULL, url, "customer", "balance", "history", id, NULL);
    ck_assert_int_eq(r.status, 0);
    ck_contains(r.out, "topup");
    ck_contains(r.out, "2 transactions");
    run_free(&r);

    r = cli(NULL, url, "customer", "balance", "verify", id, NULL);
    ck_assert_msg(r.status == 0, "verify failed: %s", r.err);
    run_free(&r);

    /* the audit log names the CLI operator; --json also works after the command */
    r = cli(NULL, url, "oplog", "list", "--action", "customer.create", "--json", NULL);
    ck_assert_msg(r.status == 0, "oplog list failed: %s", r.err);
    o = json_of(&r);
    json_object *entries = NULL;
    ck_assert(json_object_object_get_ex(o, "entries", &entries));
    ck_assert_int_eq((int)json_object_array_length(entries), 1);
    json_object *e = json_object_array_get_idx(entries, 0);
    ck_assert_str_eq(jstr(e, "target_id"), id);
    ck_assert_msg(strncmp(jstr(e, "actor_name"), "cli:", 4) == 0, "actor %s",
                  jstr(e, "actor_name"));
    json_object_put(o);
    run_free(&r);

    free(id);
    free(url);
}
END_TEST

START_TEST(test_cli__bad_amount_changes_nothing)
{
    char *url = NULL;
    bill_db_close(bill_test_db_new_url(&url));
    char *id = make_customer(url, "Precise Ltd", NULL);
    run r = cli(NULL, url, "customer", "balance", "add", id, "10.00", NULL);
    ck_assert_int_eq(r.status, 0);
    run_free(&r);

    const char *bad[] = {"1.234", "abc", "1e3", "-5.00", "0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = cli(NULL, url, "customer", "balance", "add", id, bad[i], NULL);
        ck_assert_msg(r.status == 1, "amount \"%s\": exit %d", bad[i], r.status);
        ck_contains(r.err, "bill-cli: error: ");
        ck_assert_str_eq(r.out, "");
        run_free(&r);
    }
    r = cli(NULL, url, "customer", "balance", "add", id, "1.234", NULL);
    ck_contains(r.err, "1.234");
    run_free(&r);
    /* one spelling per amount (issue 8 defect 7): "+5" and "-0" are refused
     * by libbill's parser, for every command that takes an amount */
    const char *twice[] = {"+5", "+0.50", "-0", "-0.00"};
    for (size_t i = 0; i < sizeof twice / sizeof twice[0]; i++) {
        const char *cmds[][3] = {{"add", id, NULL}, {"deduct", id, NULL}, {"adjust", id, NULL}};
        for (size_t k = 0; k < 3; k++) {
            r = cli(NULL, url, "customer", "balance", cmds[k][0], id, twice[i], NULL);
            ck_assert_msg(r.status == 1, "balance %s \"%s\": exit %d (%s)", cmds[k][0], twice[i],
                          r.status, r.err);
            ck_contains(r.err, twice[i][0] == '+' ? "leading '+'" : "negative zero");
            ck_assert_str_eq(r.out, "");
            run_free(&r);
        }
    }
    r = cli(NULL, url, "customer", "update", id, "--credit-limit", "+5", NULL);
    ck_assert_int_eq(r.status, 1);
    ck_contains(r.err, "credit_limit");
    run_free(&r);

    char *b = balance_of(url, id);
    ck_assert_str_eq(b, "10.00");
    free(b);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM balance_transactions"), 1);

    /* unknown customer: failure, not usage */
    r = cli(NULL, url, "customer", "balance", "add", "00000000-0000-0000-0000-000000000000",
            "1.00", NULL);
    ck_assert_int_eq(r.status, 1);
    ck_contains(r.err, "bill-cli: error: ");
    run_free(&r);
    free(id);
    free(url);
}
END_TEST

START_TEST(test_cli__deduct_past_floor_refused)
{
    char *url = NULL;
    bill_db_close(bill_test_db_new_url(&url));
    char *id = make_customer(url, "Short Funds", "20.00");
    run r = cli(NULL, url, "customer", "balance", "add", id, "10.00", NULL);
    ck_assert_int_eq(r.status, 0);
    run_free(&r);

    /* 10.00 + credit 20.00 covers 30.00 at most */
    r = cli(NULL, url, "customer", "balance", "deduct", id, "30.01", NULL);
    ck_assert_int_eq(r.status, 1);
    ck_contains(r.err, "bill-cli: error: ");
    ck_contains(r.err, "30.01");
    ck_assert_str_eq(r.out, "");
    run_free(&r);
    char *b = balance_of(url, id);
    ck_assert_str_eq(b, "10.00");
    free(b);

    r = cli(NULL, url, "customer", "balance", "deduct", id, "30.00", NULL);
    ck_assert_msg(r.status == 0, "deduct to the floor failed: %s", r.err);
    run_free(&r);
    b = balance_of(url, id);
    ck_assert_str_eq(b, "-20.00");
    free(b);
    free(id);
    free(url);
}
END_TEST

START_TEST(test_cli__customer_list_search_and_cjk)
{
    char *url = NULL;
    bill_db_close(bill_test_db_new_url(&url));
    char *a = make_customer(url, "张三科技", NULL);
    char *b = make_customer(url, "Bob Ltd", NULL);

    run r = cli(NULL, url, "customer", "list", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_contains(r.out, "张三科技");
    ck_contains(r.out, "Bob Ltd");
    ck_contains(r.out, "2 customers");
    /* The STATUS column starts at the same terminal column on every row:
     * the CJK name (8 cells, 12 bytes) is padded by cells, not bytes. */
    const char *lines[3] = {0};
    int nl = 0;
    for (char *p = r.out; *p && nl < 3; p++)
        if (p == r.out || p[-1] == '\n')
            if (strncmp(p, "----", 4) != 0)
                lines[nl++] = p;
    ck_assert_int_eq(nl, 3);
    int col[3];
    for (int i = 0; i < 3; i++) {
        const char *hit = strstr(lines[i], i == 0 ? "STATUS" : "active");
        ck_assert_ptr_nonnull(hit);
        /* count cells: bytes minus the extra bytes of 3-byte CJK chars (2 cells) */
        int cells = 0;
        for (const char *p = lines[i]; p < hit;) {
            unsigned char c = (unsigned char)*p;
            if (c >= 0xE0) {
                cells += 2;
                p += 3;
            } else {
                cells += 1;
                p += 1;
            }
        }
        col[i] = cells;
    }
    ck_assert_int_eq(col[0], col[1]);
    ck_assert_int_eq(col[0], col[2]);
    run_free(&r);

    r = cli(NULL, url, "--json", "customer", "list", "--search", "bob", NULL);
    ck_assert_int_eq(r.status, 0);
    json_object *o = json_of(&r), *arr = NULL, *tot = NULL;
    ck_assert(json_object_object_get_ex(o, "customers", &arr));
    ck_assert_int_eq((int)json_object_array_length(arr), 1);
    ck_assert_str_eq(jstr(json_object_array_get_idx(arr, 0), "name"), "Bob Ltd");
    ck_assert(json_object_object_get_ex(o, "total", &tot));
    ck_assert_int_eq(json_object_get_int(tot), 1);
    json_object_put(o);
    run_free(&r);

    r = cli(NULL, url, "customer", "update", b, "--email", "bob@example.com", "--credit-limit",
            "50.00", NULL);
    ck_assert_msg(r.status == 0, "update failed: %s", r.err);
    run_free(&r);
    r = cli(NULL, url, "--json", "customer", "show", b, NULL);
    o = json_of(&r);
    ck_assert_str_eq(jstr(o, "email"), "bob@example.com");
    ck_assert_str_eq(jstr(o, "credit_limit"), "50.00");
    ck_assert_str_eq(jstr(o, "name"), "Bob Ltd");
    json_object_put(o);
    run_free(&r);

    r = cli(NULL, url, "customer", "list", "--page", "x", NULL);
    ck_assert_int_eq(r.status, 2);
    run_free(&r);
    free(a);
    free(b);
    free(url);
}
END_TEST

/* ---- catalog ------------------------------------------------------------- */

START_TEST(test_cli__product_create_list_markup)
{
    char *url = NULL;
    bill_db_close(bill_test_db_new_url(&url));

    run r = cli(NULL, url, "--json", "category", "create", "--name", "VPS", NULL);
    ck_assert_msg(r.status == 0, "category create failed: %s", r.err);
    json_object *o = json_of(&r);
    char *cat = strdup(jstr(o, "id"));
    json_object_put(o);
    run_free(&r);

    r = cli(NULL, url, "--json", "group", "create", "--name", "Hong Kong", "--category", cat, NULL);
    ck_assert_msg(r.status == 0, "group create failed: %s", r.err);
    o = json_of(&r);
    char *grp = strdup(jstr(o, "id"));
    json_object_put(o);
    run_free(&r);

    r = cli(NULL, url, "--json", "product", "create", "--name", "HK-2C4G", "--group", grp,
            "--price-monthly", "10.00", "--price-yearly", "100.00", "--cost", "8.00", "--spec",
            "cpu_cores=2", "--spec", "region=hk", NULL);
    ck_assert_msg(r.status == 0, "product create failed: %s", r.err);
    o = json_of(&r);
    char *prod = strdup(jstr(o, "id"));
    json_object *specs = NULL, *v = NULL, *prices = NULL;
    ck_assert(json_object_object_get_ex(o, "specs", &specs));
    ck_assert(json_object_object_get_ex(specs, "cpu_cores", &v));
    ck_assert_int_eq(json_object_get_int(v), 2);
    ck_assert_str_eq(jstr(specs, "region"), "hk");
    ck_assert_str_eq(jstr(o, "category_id"), cat);
    ck_assert(json_object_object_get_ex(o, "prices", &prices));
    ck_assert_str_eq(jstr(prices, "monthly"), "10.00");
    json_object_put(o);
    run_free(&r);

    r = cli(NULL, url, "product", "list", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_contains(r.out, "HK-2C4G");
    ck_contains(r.out, "10.00");
    ck_contains(r.out, "1 product ");
    run_free(&r);

    /* markup dry run: counts, changes nothing */
    r = cli(NULL, url, "product", "markup", "--ratio", "1.5", "--group", grp, "--dry-run", NULL);
    ck_assert_msg(r.status == 0, "markup failed: %s", r.err);
    ck_contains(r.out, "1 product would be repriced");
    run_free(&r);
    r = cli(NULL, url, "--json", "product", "show", prod, NULL);
    o = json_of(&r);
    ck_assert_str_eq(jstr(o, "price"), "10.00");
    json_object_put(o);
    run_free(&r);

    r = cli(NULL, url, "product", "markup", "--ratio", "1.5", "--group", grp, NULL);
    ck_assert_msg(r.status == 0, "markup failed: %s", r.err);
    ck_contains(r.out, "repriced 1 product");
    run_free(&r);
    r = cli(NULL, url, "--json", "product", "show", prod, NULL);
    o = json_of(&r);
    ck_assert_str_eq(jstr(o, "price"), "12.00");
    json_object_put(o);
    run_free(&r);

    /* bad price: refused, nothing created */
    r = cli(NULL, url, "product", "create", "--name", "Bad", "--price-monthly", "1.234", NULL);
    ck_assert_int_eq(r.status, 1);
    ck_contains(r.err, "1.234");
    run_free(&r);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM products"), 1);
    /* a NUL hidden in the specs JSON (\u0000) is refused, not cut off */
    r = cli(NULL, url, "product", "create", "--name", "Nul", "--price-monthly", "1.00",
            "--specs-json", "{\"region\":\"hk\\u0000x\"}", NULL);
    ck_assert_int_eq(r.status, 1);
    ck_contains(r.err, "NUL");
    run_free(&r);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM products"), 1);

    /* partial update keeps the yearly price */
    r = cli(NULL, url, "--json", "product", "update", prod, "--price-monthly", "11.00", NULL);
    ck_assert_msg(r.status == 0, "product update failed: %s", r.err);
    o = json_of(&r);
    ck_assert(json_object_object_get_ex(o, "prices", &prices));
    ck_assert_str_eq(jstr(prices, "monthly"), "11.00");
    ck_assert_str_eq(jstr(prices, "yearly"), "144.00"); /* 8.00 x 12 x 1.5 */
    json_object_put(o);
    run_free(&r);

    r = cli(NULL, url, "group", "delete", grp, NULL);
    ck_assert_int_eq(r.status, 1); /* still has a product */
    run_free(&r);

    free(cat);
    free(grp);
    free(prod);
    free(url);
}
END_TEST

/* ---- plugins ------------------------------------------------------------- */

START_TEST(test_cli__plugin_list_and_unknown_interface)
{
    char *url = NULL;
    bill_db_close(bill_test_db_new_url(&url));
    char dir[400];
    snprintf(dir, sizeof dir, "%s/plugins", workdir);
    ck_assert_int_eq(mkdir(dir, 0755), 0);

    run r = cli(NULL, url, "--json", "plugin", "list", NULL);
    ck_assert_msg(r.status == 0, "plugin list failed: %s", r.err);
    json_object *o = json_of(&r), *v = NULL;
    ck_assert(json_object_object_get_ex(o, "plugins", &v));
    ck_assert(json_object_is_type(v, json_type_array));
    ck_assert(json_object_object_get_ex(o, "interfaces", &v));
    ck_assert_int_eq((int)json_object_array_length(v), 0);
    json_object_put(o);
    run_free(&r);

    r = cli(NULL, url, "plugin", "disable", "00000000-0000-0000-0000-000000000000", NULL);
    ck_assert_int_eq(r.status, 1);
    ck_contains(r.err, "bill-cli: error: ");
    ck_assert_str_eq(r.out, "");
    run_free(&r);
    free(url);
}
END_TEST

/* ---- config check -------------------------------------------------------- */

START_TEST(test_cli__config_check_bad_file)
{
    char path[400];
    snprintf(path, sizeof path, "%s/bad.toml", workdir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("[server]\nhost = \"0.0.0.0\"\nport = 70000\n", f);
    fclose(f);
    chmod(path, 0600);

    run r = cli(NULL, NULL, "--config", path, "config", "check", "--purpose", "cli", NULL);
    ck_assert_int_eq(r.status, 1);
    ck_contains(r.err, "bad.toml:3");
    ck_contains(r.err, "port");
    ck_assert_str_eq(r.out, "");
    run_free(&r);

    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("[server]\nport = 8080\n", f);
    fclose(f);
    r = cli(NULL, NULL, "--config", path, "config", "check", "--purpose", "cli", NULL);
    ck_assert_msg(r.status == 0, "good config refused: %s", r.err);
    ck_contains(r.out, "config OK");
    run_free(&r);

    r = cli(NULL, NULL, "config", "check", "--purpose", "nonsense", NULL);
    ck_assert_int_eq(r.status, 2);
    run_free(&r);
}
END_TEST

/* --now / BILL_NOW: the command runs at that instant (rows say so) and a
 * note on stderr says it did; a malformed instant is a usage error. */
START_TEST(test_cli__now_sets_the_clock)
{
    char *url = NULL;
    bill_db_close(bill_test_db_new_url(&url));
    run r = cli(NULL, url, "--now", "2031-01-02T03:04:05Z", "--json", "customer", "create",
                "--name", "Later", NULL);
    ck_assert_msg(r.status == 0, "create failed: %s", r.err);
    ck_contains(r.err, "bill-cli: clock set to 2031-01-02T03:04:05Z (--now)");
    json_object *o = json_of(&r);
    ck_assert_str_eq(jstr(o, "created_at"), "2031-01-02T03:04:05Z");
    json_object_put(o);
    run_free(&r);

    setenv("BILL_NOW", "2032-02-29T23:59:59+08:00", 1);
    r = cli(NULL, url, "-q", "--json", "customer", "create", "--name", "Env", NULL);
    unsetenv("BILL_NOW");
    ck_assert_msg(r.status == 0, "create failed: %s", r.err);
    ck_contains(r.err, "clock set to 2032-02-29T15:59:59Z (BILL_NOW)"); /* even with -q */
    o = json_of(&r);
    ck_assert_str_eq(jstr(o, "created_at"), "2032-02-29T15:59:59Z");
    json_object_put(o);
    run_free(&r);

    r = cli(NULL, url, "--now", "2031-02-30T00:00:00Z", "customer", "list", NULL);
    ck_assert_int_eq(r.status, 2);
    ck_contains(r.err, "--now \"2031-02-30T00:00:00Z\" is not an RFC 3339 instant");
    ck_assert_str_eq(r.out, "");
    run_free(&r);
    r = cli(NULL, url, "--now", NULL);
    ck_assert_int_eq(r.status, 2);
    run_free(&r);

    /* without --now: the wall clock again, and no note */
    r = cli(NULL, url, "customer", "list", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_not_contains(r.err, "clock set");
    run_free(&r);
    free(url);
}
END_TEST

BILL_TEST_MAIN("cli", 120, cli_setup, cli_teardown,
               test_cli__help_every_level, test_cli__usage_errors_exit_2,
               test_cli__db_migrate_then_status, test_cli__user_create_list_duplicate,
               test_cli__customer_balance_flow, test_cli__bad_amount_changes_nothing,
               test_cli__deduct_past_floor_refused, test_cli__customer_list_search_and_cjk,
               test_cli__product_create_list_markup, test_cli__plugin_list_and_unknown_interface,
               test_cli__config_check_bad_file, test_cli__now_sets_the_clock);
