/*
 * test_console.c — what libbill offers the operator consoles (bill-cli,
 * bill-tui), against a real PostgreSQL: the schema check both refuse with,
 * choosing and opening the database from a config, customer users across
 * customers, and the dashboard figures (counts, money, revenue by UTC day
 * under the handle's injected clock, event queue, interface health,
 * database).
 */
#include "db_fixture.h"
#include "check_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEC INT64_C(1000000)
/* 2026-03-01T00:00:00Z */
#define MAR1 (INT64_C(1772323200) * SEC)

static int64_t fixed_now;
static int64_t fixed_clock(void *user)
{
    (void)user;
    return fixed_now;
}

/* ---- schema check -------------------------------------------------------- */

START_TEST(test_console__schema_check_pending_and_changed)
{
    char *url = bill_test_pg_new_database("con_schema");
    bill_db *db = bill_test_db_open(url, 1, -1);
    size_t pending = 0, known = bill_db_migrations_known();
    char want[160];

    ck_assert_int_eq(bill_db_schema_check(db, "bill-tui", &pending), BILL_ESTATE);
    ck_assert_uint_eq(pending, known);
    snprintf(want, sizeof want,
             "database schema is not up to date (%zu pending); run: bill-cli db migrate", known);
    ck_assert_str_eq(bill_error_last()->message, want);

    ck_assert_int_eq(bill_db_migrate(db, NULL), BILL_OK);
    ck_assert_int_eq(bill_db_schema_check(db, "bill-tui", &pending), BILL_OK);
    ck_assert_uint_eq(pending, 0);

    /* one migration pending again */
    ck_assert_int_eq(bill_test_pg_exec(url, "DELETE FROM schema_migrations WHERE version = 9"), 0);
    ck_assert_int_eq(bill_db_schema_check(db, NULL, &pending), BILL_ESTATE);
    ck_assert_uint_eq(pending, 1);
    ck_assert_str_eq(bill_error_last()->message,
                     "database schema is not up to date (1 pending); run: bill-cli db migrate");

    /* a changed file wins over pending ones, naming the program */
    ck_assert_int_eq(bill_test_pg_exec(url, "UPDATE schema_migrations SET checksum = "
                                            "repeat('0', 64) WHERE version = 2"), 0);
    ck_assert_int_eq(bill_db_schema_check(db, "bill-tui", NULL), BILL_ESTATE);
    ck_assert_str_eq(bill_error_last()->message,
                     "database schema does not match this bill-tui: migration 002 "
                     "(operation_logs) changed after it was applied; see: bill-cli db status");
    ck_assert_int_eq(bill_test_pg_exec(url, "UPDATE schema_migrations SET checksum = "
                                            "repeat('0', 64) WHERE version = 3"), 0);
    ck_assert_int_eq(bill_db_schema_check(db, NULL, NULL), BILL_ESTATE);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message,
                                 "does not match this libbill: migration 002 (operation_logs) "
                                 "and others changed"));
    bill_db_close(db);
    free(url);
}
END_TEST

/* ---- opening the database a config names -------------------------------- */

START_TEST(test_console__config_db_open_url_then_config)
{
    char *url = NULL;
    bill_db *seed = bill_test_db_new_url(&url);
    bill_customer_input in = {.version = BILL_CUSTOMER_INPUT_VERSION, .name = "Picked"};
    ck_assert_int_eq(bill_customer_create(seed, NULL, &in, NULL), BILL_OK);
    bill_db_close(seed);

    /* [db].url from a config file, pool sizes from the options */
    char dir[] = "/tmp/bill-con-XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/config.toml", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "[db]\nurl = \"%s\"\nmin_connections = 1\nmax_connections = 7\n", url);
    fclose(f);
    bill_config_load_options lo;
    bill_config_load_options_init(&lo);
    lo.path = path;
    lo.require_file = true;
    lo.ignore_env = true;
    bill_config *cfg = NULL;
    ck_assert_int_eq(bill_config_load_ex(&cfg, &lo), BILL_OK);

    bill_config_db_open_options o;
    bill_config_db_open_options_init(&o);
    o.application_name = "test-console";
    o.max_connections = 3;
    bill_db *db = NULL;
    bill_db_source src = 0;
    ck_assert_int_eq(bill_config_db_open(&db, cfg, &o, &src), BILL_OK);
    ck_assert_int_eq(src, BILL_DB_SOURCE_CONFIG);
    bill_db_pool_stats st;
    bill_db_pool_stats_get(db, &st);
    ck_assert_int_eq(st.max, 3);
    bill_customers l;
    ck_assert_int_eq(bill_customer_list(db, NULL, NULL, NULL, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 1);
    bill_customers_clear(&l);
    ck_assert_int_eq(bill_test_pg_query_ll(url, "SELECT count(*) FROM pg_stat_activity WHERE "
                                                "application_name = 'test-console'"), 1);
    bill_db_close(db);

    /* an explicit URL wins over the config: an unreachable one fails */
    o.url = "postgresql:///nowhere?host=/nonexistent-socket-dir";
    db = (bill_db *)&o; /* must be reset on failure */
    ck_assert_int_eq(bill_config_db_open(&db, cfg, &o, &src), BILL_EUNAVAILABLE);
    ck_assert_ptr_null(db);
    o.url = url;
    ck_assert_int_eq(bill_config_db_open(&db, cfg, &o, &src), BILL_OK);
    ck_assert_int_eq(src, BILL_DB_SOURCE_URL);
    bill_db_close(db);

    o.version = 99;
    ck_assert_int_eq(bill_config_db_open(&db, cfg, &o, &src), BILL_EINVALID);
    bill_config_free(cfg);
    unlink(path);
    rmdir(dir);
    free(url);
}
END_TEST

/* ---- customer users across customers ------------------------------------- */

static void reg(bill_db *db, const char *user, const char *email, bill_customer_user **out)
{
    bill_register_params p = {.version = BILL_REGISTER_PARAMS_VERSION,
                              .username = user,
                              .email = email,
                              .display_name = user,
                              .password = "correct horse"};
    ck_assert_int_eq(bill_customer_register(db, &p, bill_time_now(), out), BILL_OK);
}

START_TEST(test_console__customer_users_across_customers)
{
    char *url = NULL;
    bill_db *db = bill_test_db_new_url(&url);
    bill_customer_user *a = NULL, *b = NULL, *c = NULL;
    reg(db, "alice", "alice@example.test", &a);
    reg(db, "bob", "bob@example.test", &b);
    reg(db, "carol", "carol@example.test", &c);
    ck_assert_int_eq(bill_test_pg_exec(url, "UPDATE customers SET name = '张三科技' WHERE id = "
                                            "(SELECT customer_id FROM customer_users WHERE "
                                            "username = 'bob')"), 0);
    ck_assert_int_eq(bill_customer_user_verify(db, "carol", "correct horse", bill_time_now(),
                                               NULL), BILL_OK);

    bill_actor tui = {.kind = BILL_ACTOR_TUI, .username = "op"};
    bill_customer_users l;
    ck_assert_int_eq(bill_customer_user_list(db, &tui, NULL, NULL, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 3);
    ck_assert_uint_eq(l.meta.total, 3);
    ck_assert_str_eq(l.items[0].username, "carol"); /* newest first */
    ck_assert_int_gt(l.items[0].last_login_at_us, 0);
    ck_assert_int_eq(l.items[2].last_login_at_us, 0);
    ck_assert_str_eq(l.items[1].customer_name, "张三科技");
    ck_assert_str_eq(l.items[1].customer_id, b->customer_id);
    ck_assert_str_eq(l.items[1].role, "owner");
    ck_assert_str_eq(l.items[1].customer_status, "active");
    ck_assert(l.items[1].is_active);
    bill_customer_users_clear(&l);

    /* search: username, e-mail, customer name; % matches itself */
    bill_customer_user_filter f = {.version = BILL_CUSTOMER_USER_FILTER_VERSION,
                                   .search = "张三"};
    ck_assert_int_eq(bill_customer_user_list(db, &tui, &f, NULL, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 1);
    ck_assert_str_eq(l.items[0].username, "bob");
    bill_customer_users_clear(&l);
    f.search = "ALICE@";
    ck_assert_int_eq(bill_customer_user_list(db, &tui, &f, NULL, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 1);
    bill_customer_users_clear(&l);
    f.search = "%";
    ck_assert_int_eq(bill_customer_user_list(db, &tui, &f, NULL, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 0);
    bill_customer_users_clear(&l);

    /* paging */
    bill_page pg = {2, 2};
    ck_assert_int_eq(bill_customer_user_list(db, &tui, NULL, &pg, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 1);
    ck_assert_uint_eq(l.meta.total_pages, 2);
    ck_assert_str_eq(l.items[0].username, "alice");
    bill_customer_users_clear(&l);

    /* by customer; a malformed id is refused */
    f = (bill_customer_user_filter){.version = BILL_CUSTOMER_USER_FILTER_VERSION,
                                    .customer_id = a->customer_id};
    ck_assert_int_eq(bill_customer_user_list(db, &tui, &f, NULL, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 1);
    ck_assert_str_eq(l.items[0].username, "alice");
    bill_customer_users_clear(&l);
    f.customer_id = "not-a-uuid";
    ck_assert_int_eq(bill_customer_user_list(db, &tui, &f, NULL, &l), BILL_EINVALID);

    /* a customer sees its own users only; anonymous nothing */
    bill_actor cust = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = a->customer_id};
    ck_assert_int_eq(bill_customer_user_list(db, &cust, NULL, NULL, &l), BILL_OK);
    ck_assert_uint_eq(l.count, 1);
    ck_assert_str_eq(l.items[0].username, "alice");
    bill_customer_users_clear(&l);
    f.customer_id = b->customer_id; /* the list rule of actor.h: another customer is not found */
    ck_assert_int_eq(bill_customer_user_list(db, &cust, &f, NULL, &l), BILL_ENOTFOUND);
    ck_assert_uint_eq(l.count, 0);
    /* a filter without its version is refused */
    f.version = 0;
    ck_assert_int_eq(bill_customer_user_list(db, &tui, &f, NULL, &l), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "version");
    bill_actor anon = {.kind = BILL_ACTOR_ANONYMOUS};
    ck_assert_int_eq(bill_customer_user_list(db, &anon, NULL, NULL, &l), BILL_EUNAUTH);

    bill_customer_user_free(a);
    bill_customer_user_free(b);
    bill_customer_user_free(c);
    bill_db_close(db);
    free(url);
}
END_TEST

/* ---- dashboard ----------------------------------------------------------- */

static void exec_ok(const char *url, const char *sql)
{
    ck_assert_msg(bill_test_pg_exec(url, sql) == 0, "setup SQL failed: %s", sql);
}

static void payment(const char *url, const char *cust, const char *amount, const char *refunded,
                    const char *status, const char *paid_at)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO payments (customer_id, amount, refunded_amount, status, gateway_id, "
             "paid_at) VALUES ('%s', %s, %s, '%s', 'manual', '%s')",
             cust, amount, refunded, status, paid_at);
    exec_ok(url, sql);
}

START_TEST(test_console__dashboard_figures)
{
    char *url = NULL;
    bill_db *db = bill_test_db_new_url(&url);
    bill_actor tui = {.kind = BILL_ACTOR_TUI, .username = "op"};
    bill_customer *c1 = NULL, *c2 = NULL;
    bill_customer_input in1 = {.version = BILL_CUSTOMER_INPUT_VERSION, .name = "One",
                               .credit_limit = 5000};
    bill_customer_input in2 = {.version = BILL_CUSTOMER_INPUT_VERSION, .name = "Two",
                               .status = "suspended"};
    ck_assert_int_eq(bill_customer_create(db, &tui, &in1, &c1), BILL_OK);
    ck_assert_int_eq(bill_customer_create(db, &tui, &in2, &c2), BILL_OK);
    ck_assert_int_eq(bill_balance_change(db, &tui, c2->id, BILL_BALANCE_RECHARGE, 100000, NULL,
                                         NULL, NULL), BILL_OK);
    ck_assert_int_eq(bill_balance_change(db, &tui, c1->id, BILL_BALANCE_DEDUCT, 1250, NULL, NULL,
                                         NULL), BILL_OK);
    char sql[4096];
    snprintf(sql, sizeof sql,
             "INSERT INTO instances (customer_id, status) VALUES ('%1$s', 'running'), "
             "('%1$s', 'running'), ('%1$s', 'suspended'), ('%2$s', 'terminated'), "
             "('%2$s', 'error'), ('%2$s', 'stopped');"
             "INSERT INTO orders (customer_id, status, total_amount) VALUES ('%1$s', 'pending', "
             "10), ('%1$s', 'pending', 10), ('%2$s', 'paid', 10);"
             "INSERT INTO tickets (customer_id, title, status) VALUES ('%1$s', 'a', 'pending'), "
             "('%1$s', 'b', 'processing'), ('%1$s', 'c', 'closed'), ('%2$s', 'd', 'resolved');"
             "INSERT INTO events (kind, status, attempts, last_error) VALUES "
             "('x', 'pending', 0, ''), ('x', 'pending', 0, ''), ('x', 'pending', 3, 'boom'), "
             "('x', 'processing', 1, ''), ('x', 'dead', 10, 'gone'), ('x', 'done', 1, ''),"
             " ('provider.action', 'pending', 2, 'provider busy'),"
             " ('provider.action', 'done', 2, 'failed before, done now');"
             "INSERT INTO plugin_interfaces (kind, name, enabled, is_healthy, last_health_at) "
             "VALUES ('gateway', 'g1', true, true, now()), ('gateway', 'g2', true, false, now()),"
             " ('notifier', 'n1', true, false, NULL), ('provider', 'p1', false, false, NULL)",
             c1->id, c2->id);
    exec_ok(url, sql);

    /* revenue around the clock's day and month boundaries (clock: 2026-03-01 00:00:00Z) */
    payment(url, c1->id, "100.00", "0", "success", "2026-03-01 00:00:00+00");  /* today */
    payment(url, c1->id, "7.00", "2.00", "refunded", "2026-02-28 23:59:59+00");
    payment(url, c1->id, "50.00", "50.00", "refunded", "2026-02-28 12:00:00+00"); /* nets 0 */
    payment(url, c1->id, "3.00", "0", "success", "2026-01-31 00:00:00+00");    /* day -29 */
    payment(url, c1->id, "4.00", "0", "success", "2026-01-30 23:59:59+00");    /* too old */
    payment(url, c1->id, "9.00", "0", "pending", "2026-03-01 00:00:01+00");      /* not received */
    payment(url, c1->id, "8.00", "0", "success", "2026-03-02 00:00:00+00");    /* tomorrow */

    /* the billing engine's figures around today .. today + 6 */
    snprintf(sql, sizeof sql,
             "INSERT INTO invoices (customer_id, invoice_number, status, total_amount, "
             "paid_amount, due_date) VALUES "
             "('%1$s', 'T1', 'issued', 20.00, 5.00, '2026-03-01'),"   /* today: 15.00 owed */
             " ('%1$s', 'T2', 'issued', 30.00, 0, '2026-03-07'),"     /* today + 6 */
             " ('%1$s', 'T3', 'issued', 40.00, 0, '2026-03-08'),"     /* today + 7: later */
             " ('%1$s', 'T4', 'issued', 1.00, 0, '2026-02-28'),"      /* past due, not yet marked */
             " ('%1$s', 'T5', 'overdue', 12.34, 0, '2026-02-20'),"
             " ('%1$s', 'T6', 'paid', 99.00, 99.00, '2026-03-02'),"
             " ('%1$s', 'T7', 'cancelled', 5.00, 0, '2026-03-02')",
             c1->id);
    exec_ok(url, sql);

    fixed_now = MAR1;
    bill_db_set_clock(db, fixed_clock, NULL);
    bill_dashboard *d = NULL;
    ck_assert_int_eq(bill_dashboard_get(db, &tui, &d), BILL_OK);
    ck_assert_str_eq(d->today, "2026-03-01");
    ck_assert_int_eq(d->generated_at, MAR1);
    ck_assert_int_eq(d->customers, 2);
    ck_assert_int_eq(d->customers_active, 1);
    ck_assert_int_eq(d->instances_total, 5);
    ck_assert_int_eq(d->instances_running, 2);
    ck_assert_int_eq(d->instances_suspended, 1);
    ck_assert_int_eq(d->instances_error, 1);
    ck_assert_int_eq(d->orders_pending, 2);
    ck_assert_int_eq(d->tickets_open, 2);
    ck_assert_int_eq(d->balance_total, 100000 - 1250);
    ck_assert_int_eq(d->balance_owed, 1250);
    ck_assert_int_eq(d->revenue_today, 10000);
    ck_assert_int_eq(d->revenue_month, 10000); /* Feb 28 23:59:59 is last month */
    ck_assert_int_eq(d->revenue_by_day[BILL_DASHBOARD_DAYS - 1], 10000);
    ck_assert_int_eq(d->revenue_by_day[BILL_DASHBOARD_DAYS - 2], 500); /* Feb 28 */
    ck_assert_int_eq(d->revenue_by_day[0], 300);                      /* Jan 31 */
    bill_money sum = 0;
    for (int i = 0; i < BILL_DASHBOARD_DAYS; i++)
        sum += d->revenue_by_day[i];
    ck_assert_int_eq(sum, 10000 + 500 + 300);
    ck_assert(d->has_billing);
    ck_assert_int_eq(d->invoices_due_7d, 2);
    ck_assert_int_eq(d->invoices_due_7d_total, 1500 + 3000);
    ck_assert_int_eq(d->invoices_overdue, 1);
    ck_assert_int_eq(d->overdue_total, 1234);
    ck_assert_int_eq(d->billing_actions_failing, 1);
    ck_assert_int_eq(d->events_pending, 2);
    ck_assert_int_eq(d->events_failing, 2);
    ck_assert_int_eq(d->events_processing, 1);
    ck_assert_int_eq(d->events_dead, 1);
    ck_assert_int_eq(d->interfaces_total, 4);
    ck_assert_int_eq(d->interfaces_enabled, 3);
    ck_assert_int_eq(d->interfaces_healthy, 1);
    ck_assert_int_eq(d->interfaces_unhealthy, 1);
    ck_assert_int_eq(d->interfaces_unchecked, 1);
    ck_assert_int_gt(d->db_size_bytes, 1000000);
    ck_assert_int_ge(d->db_connections, 1);
    ck_assert_int_ge(d->db_max_connections, d->db_connections);
    ck_assert_uint_gt(strlen(d->db_server_version), 1);
    ck_assert_uint_eq(d->migrations_known, bill_db_migrations_known());
    ck_assert_uint_eq(d->migrations_applied, d->migrations_known);
    ck_assert_uint_eq(d->migrations_pending, 0);
    ck_assert_uint_eq(d->migrations_changed, 0);
    bill_dashboard_free(d);

    /* the second before midnight: still Feb 28, whose month holds its revenue */
    fixed_now = MAR1 - SEC;
    ck_assert_int_eq(bill_dashboard_get(db, NULL, &d), BILL_OK);
    ck_assert_str_eq(d->today, "2026-02-28");
    ck_assert_int_eq(d->revenue_today, 500);
    ck_assert_int_eq(d->revenue_month, 500);
    ck_assert_int_eq(d->revenue_by_day[0], 400); /* Jan 30 is now day -29 */
    ck_assert_int_eq(d->revenue_by_day[1], 300); /* Jan 31 */
    bill_dashboard_free(d);
    bill_db_set_clock(db, NULL, NULL);

    /* a pending migration shows */
    exec_ok(url, "DELETE FROM schema_migrations WHERE version = 9");
    ck_assert_int_eq(bill_dashboard_get(db, &tui, &d), BILL_OK);
    ck_assert_uint_eq(d->migrations_pending, 1);
    bill_dashboard_free(d);

    /* staff only */
    bill_actor cust = {.kind = BILL_ACTOR_CUSTOMER, .customer_id = c1->id};
    d = (bill_dashboard *)&cust;
    ck_assert_int_eq(bill_dashboard_get(db, &cust, &d), BILL_EDENIED);
    ck_assert_ptr_null(d);
    bill_customer_free(c1);
    bill_customer_free(c2);
    bill_db_close(db);
    free(url);
}
END_TEST

BILL_TEST_MAIN("console", 120, NULL, NULL,
               test_console__schema_check_pending_and_changed,
               test_console__config_db_open_url_then_config,
               test_console__customer_users_across_customers,
               test_console__dashboard_figures);
