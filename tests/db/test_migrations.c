/*
 * test_migrations.c — the embedded migrations against a real PostgreSQL:
 * fresh apply, idempotent re-run, tampered checksum refused, a database newer
 * than the library refused, concurrent migrators, and the schema's CHECKs.
 */
#include "db_fixture.h"

#include "check_main.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_migrations__fresh_applies_all)
{
    char *url = bill_test_pg_new_database("mig_fresh");
    bill_db *db = bill_test_db_open(url, 1, 2);
    int applied = -1;

    ck_assert_uint_eq(bill_db_migrations_known(), BILL_TEST_MIGRATIONS);
    ck_assert_int_eq(bill_db_migrate(db, &applied), BILL_OK);
    ck_assert_int_eq(applied, BILL_TEST_MIGRATIONS);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM schema_migrations"
                                                " WHERE success AND length(checksum) = 64"),
                     BILL_TEST_MIGRATIONS);

    bill_migration_info *inf = NULL;
    size_t n = 0;
    ck_assert_int_eq(bill_db_migration_status(db, &inf, &n), BILL_OK);
    ck_assert_uint_eq(n, BILL_TEST_MIGRATIONS);
    ck_assert_str_eq(inf[0].description, "initial");
    ck_assert_str_eq(inf[8].description, "plugins_table");
    ck_assert_str_eq(inf[n - 1].description, BILL_TEST_LAST_MIGRATION);
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

/* 014 (issue 8): stored values of the old vocabulary become the front
 * end's, and the new CHECKs refuse the old words. The database is put back
 * to what 001..013 left (old constraints, old rows), then 014's own text
 * runs on it, as an upgrade would. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    char *s = calloc(1, (size_t)n + 1);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return s;
}

START_TEST(test_migrations__frontend_vocabulary_migrates_stored_values)
{
    char *url = NULL;
    bill_db *db = bill_test_db_new_url(&url);
    static const char *const back_to_013[] = {
        "ALTER TABLE payments DROP CONSTRAINT payments_status_check",
        "ALTER TABLE payments ADD CHECK (status IN ('pending', 'succeeded', 'failed', "
        "'refunded', 'partially_refunded'))",
        "ALTER TABLE orders DROP CONSTRAINT orders_status_check",
        "ALTER TABLE orders ADD CHECK (status IN ('pending', 'paid', 'provisioning', 'active', "
        "'cancelled', 'suspended', 'refunded', 'completed'))",
        "ALTER TABLE tickets DROP CONSTRAINT tickets_priority_check",
        "ALTER TABLE tickets ADD CHECK (priority IN ('low', 'normal', 'high', 'urgent'))",
        "ALTER TABLE tickets ALTER COLUMN priority SET DEFAULT 'normal'",
        "ALTER TABLE verification_codes DROP CONSTRAINT verification_codes_purpose_check",
        "ALTER TABLE verification_codes ADD CHECK (purpose IN ('register', 'reset_password'))",
        "INSERT INTO customers (id, name) VALUES ('00000000-0000-4000-8000-000000000001', 'a')",
        "INSERT INTO payments (customer_id, amount, refunded_amount, status) VALUES "
        "('00000000-0000-4000-8000-000000000001', 10, 0, 'succeeded'), "
        "('00000000-0000-4000-8000-000000000001', 10, 4, 'partially_refunded'), "
        "('00000000-0000-4000-8000-000000000001', 10, 10, 'refunded'), "
        "('00000000-0000-4000-8000-000000000001', 10, 0, 'pending')",
        "INSERT INTO tickets (customer_id, title) VALUES "
        "('00000000-0000-4000-8000-000000000001', 'defaulted')",
        "INSERT INTO tickets (customer_id, title, priority) VALUES "
        "('00000000-0000-4000-8000-000000000001', 'high one', 'high')",
        "INSERT INTO verification_codes (email, purpose, code_hash, expires_at) VALUES "
        "('a@x.org', 'register', 'h', now())",
    };
    for (size_t i = 0; i < sizeof back_to_013 / sizeof back_to_013[0]; i++)
        ck_assert_msg(bill_test_pg_exec(url, back_to_013[i]) == 0, "%s", back_to_013[i]);
    char *sql = read_file(MIGRATIONS_DIR "/014_frontend_vocabulary.sql");
    ck_assert_int_eq(bill_test_pg_exec(url, sql), 0);
    free(sql);

    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM payments WHERE status = "
                                                "'success' AND refunded_amount = 0"), 1);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM payments WHERE status = "
                                                "'refunded' AND refunded_amount = 4"), 1);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM payments WHERE status = "
                                                "'refunded'"), 2);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM tickets WHERE priority = "
                                                "'medium' AND title = 'defaulted'"), 1);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM tickets WHERE priority = "
                                                "'high'"), 1);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM verification_codes WHERE "
                                                "purpose = 'registration'"), 1);
    /* The old words are refused now, the new ones taken (and defaulted). */
    static const char *const refused[] = {
        "INSERT INTO payments (customer_id, amount, status) VALUES "
        "('00000000-0000-4000-8000-000000000001', 1, 'succeeded')",
        "INSERT INTO payments (customer_id, amount, status) VALUES "
        "('00000000-0000-4000-8000-000000000001', 1, 'partially_refunded')",
        "INSERT INTO tickets (customer_id, title, priority) VALUES "
        "('00000000-0000-4000-8000-000000000001', 't', 'normal')",
        "INSERT INTO verification_codes (email, purpose, code_hash, expires_at) VALUES "
        "('a@x.org', 'register', 'h', now())",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        ck_assert_msg(bill_test_pg_exec(url, refused[i]) == -1, "accepted: %s", refused[i]);
    ck_assert_int_eq(bill_test_pg_exec(url,
        "INSERT INTO orders (customer_id, total_amount, status) VALUES "
        "('00000000-0000-4000-8000-000000000001', 1, 'terminated')"), 0);
    ck_assert_int_eq(bill_test_pg_exec(url,
        "INSERT INTO tickets (customer_id, title) VALUES "
        "('00000000-0000-4000-8000-000000000001', 'new default')"), 0);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM tickets WHERE priority = "
                                                "'medium'"), 2);
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
    bill_db *db = bill_test_db_open(url, 1, 2);
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
        ck_assert_int_eq(m[0].applied + m[1].applied, BILL_TEST_MIGRATIONS);
        ck_assert_int_eq(bill_test_pg_query_ll(url,
            "SELECT (count(DISTINCT version) = count(*))::int FROM schema_migrations"), 1);
        ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM schema_migrations"),
                         BILL_TEST_MIGRATIONS);
        free(url);
    }
}
END_TEST

/* The schema rules of R-DB-2/R-DB-4/R-DB-5 checked on the catalog, so a table
 * or column added later without them fails here:
 *   - the migration table records version, description, installed_on,
 *     success, checksum and execution time;
 *   - every status-like text column (…status, …kind, …role, …type, priority,
 *     purpose, …cycle) has a CHECK, except the open sets named below;
 *   - every uuid column other than id is a foreign key, except family_id;
 *   - every customer_id is NOT NULL and references customers;
 *   - every numeric column is NUMERIC(12,2);
 *   - every list filter of the wire contract (and bill-cli) has an index
 *     whose first column is the filtered one. */
static long long count_rows(const char *url, const char *sql)
{
    return bill_test_pg_query_ll(url, sql);
}

START_TEST(test_migrations__schema_rules_hold_for_every_table)
{
    char *url = NULL;
    bill_db *db = bill_test_db_new_url(&url);

    ck_assert_int_eq(count_rows(url,
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public'"
        " AND table_name = 'schema_migrations' AND column_name IN ('version', 'description',"
        " 'installed_on', 'success', 'checksum', 'execution_time_ms')"), 6);

    /* Open sets, deliberately unconstrained: event kinds come from every
     * subsystem and plugin; leader role names likewise (their shape is
     * checked); an audit row's target_type names whatever was changed. */
    long long unchecked = count_rows(url,
        "SELECT count(*) FROM information_schema.columns c"
        " WHERE c.table_schema = 'public' AND c.data_type = 'text'"
        " AND c.column_name ~ '(^|_)(status|kind|role|type|priority|purpose|cycle)$'"
        " AND (c.table_name, c.column_name) NOT IN"
        "     (('events', 'kind'), ('operation_logs', 'target_type'))"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint k JOIN pg_attribute a"
        "     ON a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)"
        "     WHERE k.contype = 'c' AND k.conrelid = quote_ident(c.table_name)::regclass"
        "     AND a.attname = c.column_name)");
    ck_assert_msg(unchecked == 0, "%lld status-like column(s) without a CHECK", unchecked);

    /* refresh_tokens.family_id groups rows; it is not a row of any table. */
    long long no_fk = count_rows(url,
        "SELECT count(*) FROM information_schema.columns c"
        " WHERE c.table_schema = 'public' AND c.data_type = 'uuid' AND c.column_name <> 'id'"
        " AND (c.table_name, c.column_name) NOT IN (('refresh_tokens', 'family_id'))"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint k JOIN pg_attribute a"
        "     ON a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)"
        "     WHERE k.contype = 'f' AND k.conrelid = quote_ident(c.table_name)::regclass"
        "     AND a.attname = c.column_name)");
    ck_assert_msg(no_fk == 0, "%lld uuid column(s) without a foreign key", no_fk);

    ck_assert_int_eq(count_rows(url,
        "SELECT count(*) FROM information_schema.columns c"
        " WHERE c.table_schema = 'public' AND c.column_name = 'customer_id'"
        " AND (c.is_nullable = 'YES' OR NOT EXISTS (SELECT 1 FROM pg_constraint k"
        "     JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)"
        "     WHERE k.contype = 'f' AND k.confrelid = 'customers'::regclass"
        "     AND k.conrelid = quote_ident(c.table_name)::regclass"
        "     AND a.attname = 'customer_id'))"), 0);
    /* ... and the customer-owned tables are the ones expected to be. */
    ck_assert_int_ge(count_rows(url,
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public'"
        " AND column_name = 'customer_id' AND table_name IN ('customer_users', 'refresh_tokens',"
        " 'api_keys', 'orders', 'instances', 'instance_detail_sections', 'invoices',"
        " 'invoice_items', 'payments', 'balance_transactions', 'tickets', 'ticket_replies')"), 12);

    ck_assert_int_eq(count_rows(url,
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public'"
        " AND data_type = 'numeric' AND (numeric_precision IS DISTINCT FROM 12"
        " OR numeric_scale IS DISTINCT FROM 2)"), 0);

    /* table, leading index column (a regex over pg_indexes.indexdef) */
    static const char *const filters[][2] = {
        {"customers", "status"}, {"customers", "created_at"},
        {"products", "group_id"}, {"products", "category_id"},
        {"products", "provider_interface_id"}, {"products", "active"},
        {"products", "\\(\\(specs ->> ''region''::text\\)\\)"},
        {"product_groups", "category_id"},
        {"orders", "customer_id"}, {"orders", "status"}, {"orders", "provider_interface_id"},
        {"invoices", "customer_id"}, {"invoices", "status"},
        {"payments", "order_id"}, {"payments", "invoice_id"}, {"payments", "gateway_id"},
        {"payments", "status"}, {"payments", "customer_id"},
        {"instances", "customer_id"}, {"instances", "status"},
        {"instances", "provider_interface_id"},
        {"balance_transactions", "customer_id"}, {"balance_transactions", "transaction_type"},
        {"tickets", "customer_id"}, {"tickets", "status"}, {"tickets", "priority"},
        {"tickets", "assignee_user_id"},
        {"api_keys", "customer_id"},
        {"operation_logs", "action"}, {"operation_logs", "target_type"},
        {"operation_logs", "actor_type"},
        {"events", "status"}, {"events", "kind"},
    };
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
        char sql[400];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'"
                 " AND tablename = '%s' AND indexdef ~ 'USING btree \\(%s[ ,)]'",
                 filters[i][0], filters[i][1]);
        ck_assert_msg(count_rows(url, sql) >= 1, "no index leads with %s.%s", filters[i][0],
                      filters[i][1]);
    }
    bill_db_close(db);
    free(url);
}
END_TEST

BILL_TEST_MAIN_AFTER(bill_test_pg_url_base(), "migrations", 60, NULL, NULL,
               test_migrations__fresh_applies_all, test_migrations__status_columns_are_checked,
               test_migrations__rerun_applies_nothing, test_migrations__tampered_checksum_refused,
               test_migrations__newer_database_refused,
               test_migrations__concurrent_migrators_serialize,
               test_migrations__schema_rules_hold_for_every_table,
               test_migrations__frontend_vocabulary_migrates_stored_values);
