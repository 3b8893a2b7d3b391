/*
 * test_migrations.c — the embedded migrations against a real PostgreSQL:
 * fresh apply, idempotent re-run, tampered checksum refused, a database newer
 * than the library refused, concurrent migrators, and the schema's CHECKs.
 */
#include "pg_harness.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bill_db *open_db(const char *url, int max)
{
    bill_db_options o;
    bill_db *db = NULL;
    bill_db_options_init(&o);
    o.url = url;
    o.max_connections = max;
    o.min_connections = 1;
    ck_assert_int_eq(bill_db_open(&db, &o), BILL_OK);
    return db;
}

START_TEST(test_migrations__fresh_applies_all_nine)
{
    char *url = bill_test_pg_new_database("mig_fresh");
    bill_db *db = open_db(url, 2);
    int applied = -1;

    ck_assert_uint_eq(bill_db_migrations_known(), 9);
    ck_assert_int_eq(bill_db_migrate(db, &applied), BILL_OK);
    ck_assert_int_eq(applied, 9);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM schema_migrations"
                                                " WHERE success AND length(checksum) = 64"), 9);

    bill_migration_info *inf = NULL;
    size_t n = 0;
    ck_assert_int_eq(bill_db_migration_status(db, &inf, &n), BILL_OK);
    ck_assert_uint_eq(n, 9);
    ck_assert_str_eq(inf[0].description, "initial");
    ck_assert_str_eq(inf[8].description, "plugins_table");
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(inf[i].version, (int)i + 1);
        ck_assert(inf[i].applied && inf[i].success && !inf[i].checksum_mismatch);
        ck_assert_uint_eq(strlen(inf[i].installed_on), 20); /* 2026-01-01T00:00:00Z */
    }
    free(inf);

    static const char *const tables[] = {
        "admin_users", "admin_sessions", "customers", "customer_users", "refresh_tokens",
        "verification_codes", "api_keys", "product_categories", "product_groups", "products",
        "product_prices", "orders", "instances", "instance_detail_sections", "payments",
        "invoices", "invoice_items", "invoice_number_counters", "balance_transactions",
        "tickets", "ticket_replies", "plugins", "plugin_interfaces", "operation_logs",
        "events", "leader_roles", "server_instances"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT (to_regclass('public.%s') IS NOT NULL)::int", tables[i]);
        ck_assert_msg(bill_test_pg_query_ll(url, sql) == 1, "table %s missing", tables[i]);
    }
    /* Every customer-owned table carries customer_id NOT NULL (004). */
    ck_assert_int_eq(bill_test_pg_query_ll(url,
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public'"
        " AND column_name = 'customer_id' AND is_nullable = 'YES'"), 0);
    /* Later columns exist. */
    ck_assert_int_eq(bill_test_pg_query_ll(url,
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' AND"
        " ((table_name = 'customers' AND column_name = 'can_create_api_keys') OR"
        "  (table_name = 'plugin_interfaces' AND column_name IN"
        "     ('config_schema', 'plugin_id', 'secret_config', 'is_healthy', 'last_error')))"), 6);
    bill_db_close(db);
    free(url);
}
END_TEST

/* Status columns reject values outside their set; money constraints hold. */
START_TEST(test_migrations__status_columns_are_checked)
{
    char *url = NULL;
    bill_db *db = bill_test_db_new_url(&url);

    ck_assert_int_eq(bill_test_pg_exec(url,
        "INSERT INTO customers (id, name) VALUES ('00000000-0000-0000-0000-000000000001', 'a')"), 0);
    const char *bad[] = {
        "INSERT INTO customers (name, status) VALUES ('b', 'bogus')",
        "INSERT INTO customers (name, balance, credit_limit) VALUES ('b', -10.01, 10)",
        "INSERT INTO customers (name, credit_limit) VALUES ('b', -1)",
        "INSERT INTO orders (customer_id, total_amount, status) VALUES"
        " ('00000000-0000-0000-0000-000000000001', 1, 'shipped')",
        "INSERT INTO orders (customer_id, total_amount, billing_cycle) VALUES"
        " ('00000000-0000-0000-0000-000000000001', 1, 'weekly')",
        "INSERT INTO instances (customer_id, status) VALUES"
        " ('00000000-0000-0000-0000-000000000001', 'paused')",
        "INSERT INTO invoices (customer_id, invoice_number, status) VALUES"
        " ('00000000-0000-0000-0000-000000000001', 'X-1', 'sent')",
        "INSERT INTO payments (customer_id, amount, status) VALUES"
        " ('00000000-0000-0000-0000-000000000001', 1, 'ok')",
        "INSERT INTO tickets (customer_id, title, priority) VALUES"
        " ('00000000-0000-0000-0000-000000000001', 't', 'asap')",
        "INSERT INTO balance_transactions (customer_id, amount, balance_before, balance_after,"
        " transaction_type) VALUES ('00000000-0000-0000-0000-000000000001', 1, 0, 1, 'gift')",
        "INSERT INTO balance_transactions (customer_id, amount, balance_before, balance_after,"
        " transaction_type) VALUES ('00000000-0000-0000-0000-000000000001', 1, 0, 2, 'recharge')",
        "INSERT INTO admin_users (username, password_hash, role) VALUES ('x', 'h', 'root')",
        "INSERT INTO events (kind, status) VALUES ('k', 'lost')",
        "INSERT INTO orders (customer_id, total_amount) VALUES"
        " ('00000000-0000-0000-0000-0000000000ff', 1)", /* FK */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(bill_test_pg_exec(url, bad[i]) == -1, "accepted: %s", bad[i]);
    /* The good twins pass, so the failures above are the constraints. */
    ck_assert_int_eq(bill_test_pg_exec(url,
        "INSERT INTO customers (name, balance, credit_limit) VALUES ('b', -10.00, 10)"), 0);
    ck_assert_int_eq(bill_test_pg_exec(url,
        "INSERT INTO orders (customer_id, total_amount, status, billing_cycle) VALUES"
        " ('00000000-0000-0000-0000-000000000001', 1, 'provisioning', 'yearly')"), 0);
    /* E-mail uniqueness of customer users ignores case. */
    ck_assert_int_eq(bill_test_pg_exec(url,
        "INSERT INTO customer_users (customer_id, username, email, password_hash) VALUES"
        " ('00000000-0000-0000-0000-000000000001', 'u1', 'A@x.org', 'h')"), 0);
    ck_assert_int_eq(bill_test_pg_exec(url,
        "INSERT INTO customer_users (customer_id, username, email, password_hash) VALUES"
        " ('00000000-0000-0000-0000-000000000001', 'u2', 'a@X.org', 'h')"), -1);
    bill_db_close(db);
    free(url);
}
END_TEST

START_TEST(test_migrations__rerun_applies_nothing)
{
    bill_db *db = bill_test_db_new(); /* already migrated once */
    int applied = -1;
    ck_assert_int_eq(bill_db_migrate(db, &applied), BILL_OK);
    ck_assert_int_eq(applied, 0);
    ck_assert_int_eq(bill_db_migrate(db, NULL), BILL_OK);
    bill_db_close(db);
}
END_TEST

START_TEST(test_migrations__tampered_checksum_refused)
{
    char *url = NULL;
    bill_db *db = bill_test_db_new_url(&url);
    int applied = -1;

    ck_assert_int_eq(bill_test_pg_exec(url,
        "UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE version = 3"), 0);
    ck_assert_int_eq(bill_db_migrate(db, &applied), BILL_ESTATE);
    ck_assert_int_eq(applied, 0);
    const bill_error *e = bill_error_last();
    ck_assert_int_eq(e->code, BILL_ESTATE);
    ck_assert_msg(strstr(e->message, "003") && strstr(e->message, "config_schema"),
                  "message should name the migration: %s", e->message);

    bill_migration_info *inf = NULL;
    size_t n = 0;
    ck_assert_int_eq(bill_db_migration_status(db, &inf, &n), BILL_OK);
    ck_assert(inf[2].checksum_mismatch);
    ck_assert(!inf[1].checksum_mismatch);
    free(inf);
    bill_db_close(db);
    free(url);
}
END_TEST

/* A database migrated by a newer libbill is not touched by an older one;
 * the refusal happens before anything runs. */
START_TEST(test_migrations__newer_database_refused)
{
    char *url = bill_test_pg_new_database("mig_newer");
    bill_db *db = open_db(url, 2);
    ck_assert_int_eq(bill_test_pg_exec(url,
        "CREATE TABLE schema_migrations (version integer PRIMARY KEY, description text NOT NULL,"
        " installed_on timestamptz NOT NULL DEFAULT now(), success boolean NOT NULL,"
        " checksum text NOT NULL, execution_time_ms bigint NOT NULL DEFAULT 0);"
        "INSERT INTO schema_migrations VALUES (99, 'future', now(), true, 'x', 0)"), 0);
    ck_assert_int_eq(bill_db_migrate(db, NULL), BILL_ESTATE);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "099"));
    ck_assert_int_eq(bill_test_pg_query_ll(url,
        "SELECT (to_regclass('public.customers') IS NULL)::int"), 1);
    bill_db_close(db);
    free(url);
}
END_TEST

struct migrator {
    const char *url;
    int rc;
    int applied;
    pthread_barrier_t *go;
};

static void *migrate_thread(void *arg)
{
    struct migrator *m = arg;
    bill_db_options o;
    bill_db *db = NULL;
    bill_db_options_init(&o);
    o.url = m->url;
    o.min_connections = 1;
    m->rc = bill_db_open(&db, &o);
    pthread_barrier_wait(m->go);
    if (m->rc == BILL_OK)
        m->rc = bill_db_migrate(db, &m->applied);
    bill_db_close(db);
    return NULL;
}

START_TEST(test_migrations__concurrent_migrators_serialize)
{
    for (int round = 0; round < 3; round++) {
        char *url = bill_test_pg_new_database("mig_conc");
        pthread_barrier_t go;
        pthread_t th[2];
        struct migrator m[2] = {{url, -1, -1, &go}, {url, -1, -1, &go}};
        pthread_barrier_init(&go, NULL, 2);
        for (int i = 0; i < 2; i++)
            pthread_create(&th[i], NULL, migrate_thread, &m[i]);
        for (int i = 0; i < 2; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&go);
        ck_assert_int_eq(m[0].rc, BILL_OK);
        ck_assert_int_eq(m[1].rc, BILL_OK);
        ck_assert_int_eq(m[0].applied + m[1].applied, 9);
        ck_assert_int_eq(bill_test_pg_query_ll(url,
            "SELECT (count(DISTINCT version) = count(*) AND count(*) = 9)::int"
            " FROM schema_migrations"), 1);
        ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM schema_migrations"), 9);
        free(url);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("migrations");
    TCase *tc = tcase_create("migrations");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_migrations__fresh_applies_all_nine);
    tcase_add_test(tc, test_migrations__status_columns_are_checked);
    tcase_add_test(tc, test_migrations__rerun_applies_nothing);
    tcase_add_test(tc, test_migrations__tampered_checksum_refused);
    tcase_add_test(tc, test_migrations__newer_database_refused);
    tcase_add_test(tc, test_migrations__concurrent_migrators_serialize);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* Start (or find) the server once, in this process, before Check forks. */
    bill_test_pg_url_base();
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
