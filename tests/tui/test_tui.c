/*
 * test_tui.c — bill-tui driven like a person drives it: in a real terminal
 * (a private tmux server, tmux_harness.h), against a real PostgreSQL with
 * seeded data, by keys, reading what the screen shows; the database is then
 * checked directly.
 *
 * Covered: every tab by number and by Tab / Shift+Tab, list contents and
 * CJK alignment, paging, detail panel open/close, search, terminate
 * confirmed with y (changes the database, audited as tui:<user>) and
 * refused with n (changes nothing), instance stop, plugin interface
 * disable/enable/health check, admin user disable, resize reflow, q and
 * SIGTERM and a crash restoring the terminal (shell prompt back, no
 * alternate screen, cursor shown, keypad mode off, typed text echoed),
 * colours and NO_COLOR, a database outage shown and recovered from, and the
 * startup refusals (not a terminal, no database, pending migrations), plus
 * `bill-cli tui`.
 */
#include "check_main.h"
#include "pg_harness.h"
#include "tmux_harness.h"

#include <check.h>
#include <fcntl.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wchar.h>

#ifndef EXAMPLE_PLUGIN
#error "EXAMPLE_PLUGIN must name the built example plugin (.so)"
#endif

/* 32 bytes, the [security] master_key of the test config, in hex. */
static const char master_hex[] =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

typedef struct fixture {
    char dir[256];     /* working directory: config.toml, plugins/ */
    char config[300];
    char *url;
    bill_db *db;
    tmx term;
    /* seeded ids */
    char keep_instance[40], doomed_instance[40], running_instance[40];
    char interface_id[40];
    char acme[40];
} fixture;

static fixture fx;
static const bill_actor seed_actor = {.kind = BILL_ACTOR_CLI, .username = "seed"};

static const char *bin(const char *env)
{
    const char *b = getenv(env);
    ck_assert_msg(b && *b, "%s is not set (meson passes the binary path)", env);
    return b;
}

static void copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    ck_assert_int_ge(in, 0);
    ck_assert_int_ge(out, 0);
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        ck_assert_int_eq(write(out, buf, (size_t)n), n);
    close(in);
    close(out);
}

static void write_config(const char *url)
{
    FILE *f = fopen(fx.config, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "[db]\nurl = \"%s\"\n\n[plugins]\nplugins_dir = \"%s/plugins\"\n\n"
               "[security]\nmaster_key = \"%s\"\n",
            url, fx.dir, master_hex);
    fclose(f);
    chmod(fx.config, 0600);
}

static void exec_ok(const char *sql)
{
    ck_assert_msg(bill_test_pg_exec(fx.url, sql) == 0, "seed SQL failed: %s", sql);
}

static char *customer(const char *name, const char *email, bill_money credit)
{
    bill_customer *c = NULL;
    bill_customer_input in = {.version = BILL_CUSTOMER_INPUT_VERSION, .name = name,
                              .email = email, .credit_limit = credit};
    ck_assert_int_eq(bill_customer_create(fx.db, &seed_actor, &in, &c), BILL_OK);
    char *id = strdup(c->id);
    bill_customer_free(c);
    return id;
}

static void product(const char *name, bill_money monthly, const char *specs, char *id_out)
{
    bill_product *p = NULL;
    bill_product_input in = {.version = BILL_PRODUCT_INPUT_VERSION, .name = name,
                             .specs_json = specs, .active = true};
    in.has_price[BILL_CYCLE_MONTHLY] = true;
    in.prices[BILL_CYCLE_MONTHLY] = monthly;
    in.has_price[BILL_CYCLE_YEARLY] = true;
    in.prices[BILL_CYCLE_YEARLY] = monthly * 10;
    ck_assert_int_eq(bill_product_create(fx.db, &seed_actor, &in, &p), BILL_OK);
    snprintf(id_out, 40, "%s", p->id);
    bill_product_free(p);
}

static void instance(const char *cust, const char *prod, const char *status, const char *ip,
                     char *id_out)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO instances (id, customer_id, product_id, status, ip_address) VALUES "
             "('%s', '%s', '%s', '%s', '%s')", id_out, cust, prod, status, ip);
    exec_ok(sql);
}

/* The seeded book every test starts from. */
static void seed(void)
{
    ck_assert_int_eq(bill_admin_user_create(fx.db, &seed_actor, "admin", "password123", "admin",
                                            "admin@example.test", "Ada Admin", NULL), BILL_OK);
    ck_assert_int_eq(bill_admin_user_create(fx.db, &seed_actor, "opsuser", "password123",
                                            "operator", "ops@example.test", "Otto Ops", NULL),
                     BILL_OK);
    char *zs = customer("张三科技", "ops@zhangsan.cn", 10000);
    char *acme = customer("Acme Ltd", "billing@acme.test", 0);
    snprintf(fx.acme, sizeof fx.acme, "%s", acme);
    ck_assert_int_eq(bill_balance_change(fx.db, &seed_actor, zs, BILL_BALANCE_RECHARGE, 25000,
                                         "tx-1", "bank transfer 2026-05-26", NULL), BILL_OK);
    bill_register_params rp = {.version = BILL_REGISTER_PARAMS_VERSION, .username = "lisi",
                               .email = "lisi@example.cn", .display_name = "李四",
                               .password = "correct horse"};
    ck_assert_int_eq(bill_customer_register(fx.db, &rp, bill_time_now(), NULL), BILL_OK);

    char hk[40], tokyo[40];
    product("香港 VPS 标准型", 3000, "{\"region\":\"hk\",\"cpu_cores\":2}", hk);
    product("Tokyo VPS Basic", 1000, "{\"region\":\"jp\"}", tokyo);
    snprintf(fx.keep_instance, sizeof fx.keep_instance, "11111111-1111-4111-8111-111111111111");
    snprintf(fx.doomed_instance, sizeof fx.doomed_instance,
             "22222222-2222-4222-8222-222222222222");
    snprintf(fx.running_instance, sizeof fx.running_instance,
             "33333333-3333-4333-8333-333333333333");
    instance(zs, hk, "running", "198.51.100.11", fx.keep_instance);
    instance(acme, tokyo, "running", "198.51.100.22", fx.doomed_instance);
    instance(acme, hk, "running", "198.51.100.33", fx.running_instance);
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO payments (customer_id, amount, status, gateway_id, paid_at) VALUES "
             "('%s', 30.00, 'success', 'manual', now()), "
             "('%s', 10.00, 'success', 'manual', now() - interval '3 days')", zs, acme);
    exec_ok(sql);

    /* a plugin interface of the example gateway */
    bill_plugins_options po;
    bill_plugins_options_init(&po);
    char pdir[300];
    snprintf(pdir, sizeof pdir, "%s/plugins", fx.dir);
    po.plugins_dir = pdir;
    po.db = fx.db;
    unsigned char key[32];
    for (int i = 0; i < 32; i++)
        sscanf(master_hex + 2 * i, "%2hhx", &key[i]);
    po.master_key = key;
    bill_plugins *p = NULL;
    ck_assert_int_eq(bill_plugins_new(&p, &po), BILL_OK);
    ck_assert_int_eq(bill_plugins_scan(p, NULL), BILL_OK);
    ck_assert_int_eq(bill_plugin_interface_create(p, &seed_actor, BILL_PLUGIN_GATEWAY,
                                                  "gateway-example", "Example Gw",
                                                  "{\"account\":\"6222-0001\"}", true,
                                                  fx.interface_id), BILL_OK);
    bill_plugins_free(p);
    free(zs);
    free(acme);
}

static void setup(void)
{
    memset(&fx, 0, sizeof fx);
    snprintf(fx.dir, sizeof fx.dir, "/tmp/bill-tui-wd.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(fx.dir));
    chmod(fx.dir, 0755);
    char pdir[300], so[400];
    snprintf(pdir, sizeof pdir, "%s/plugins", fx.dir);
    ck_assert_int_eq(mkdir(pdir, 0755), 0);
    snprintf(so, sizeof so, "%s/example.so", pdir);
    copy_file(EXAMPLE_PLUGIN, so);
    snprintf(fx.config, sizeof fx.config, "%s/config.toml", fx.dir);
    fx.db = bill_test_db_new_url(&fx.url);
    write_config(fx.url);
    seed();
}

static void teardown(void)
{
    tmx_stop(&fx.term);
    bill_db_close(fx.db);
    free(fx.url);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx.dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", fx.dir);
}

static const char *const pane_env[] = {"USER=tuitester", "SUDO_USER=", NULL};

/* A terminal of w x h with the shell in the working directory. */
static void terminal(int w, int h)
{
    tmx_start(&fx.term, w, h, fx.dir, pane_env);
}

/* Start bill-tui (extra: more shell words, e.g. "--refresh 1") and wait
 * for the dashboard. The command line says EX''IT so that only the shell's
 * output, never the echoed command, reads "EXIT=". */
static void start_tui(const char *prefix, const char *extra)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s%s --config %s %s; echo EX''IT=$?", prefix ? prefix : "",
             bin("BILL_TUI"), fx.config, extra ? extra : "");
    tmx_run(&fx.term, cmd);
    tmx_assert_wait(&fx.term, "The book");
}

/* After bill-tui ended: the shell is back and the terminal as it was. */
static void assert_terminal_restored(const char *exit_line)
{
    tmx *t = &fx.term;
    tmx_assert_wait(t, exit_line);
    ck_assert_msg(tmx_wait_format(t, "#{alternate_on}", "0"), "still on the alternate screen");
    char *f = tmx_format(t, "#{cursor_flag} #{keypad_cursor_flag} #{keypad_flag} "
                            "#{mouse_any_flag} #{insert_flag}");
    ck_assert_msg(strcmp(f, "1 0 0 0 0") == 0,
                  "stray terminal modes (cursor keypad_cursor keypad mouse insert): %s", f);
    free(f);
    /* the tty echoes again and the shell runs what is typed */
    tmx_run(t, "echo typed-$((40+2))");
    tmx_assert_wait(t, "PROMPT$ echo typed-$((40+2))");
    tmx_assert_wait(t, "\ntyped-42");
}

/* A dashboard line "label ....... value": label, then only spaces, then
 * value. */
typedef struct {
    const char *label, *value;
} figure_arg;

static bool has_figure(const char *screen, const void *argp)
{
    const figure_arg *a = argp;
    for (const char *p = strstr(screen, a->label); p; p = strstr(p + 1, a->label)) {
        const char *v = p + strlen(a->label);
        if (*v != ' ')
            continue;
        while (*v == ' ')
            v++;
        if (strncmp(v, a->value, strlen(a->value)) == 0)
            return true;
    }
    return false;
}

static void assert_figure(const char *label, const char *value)
{
    figure_arg a = {label, value};
    if (!tmx_wait_for(&fx.term, has_figure, &a)) {
        char *s = tmx_screen(&fx.term);
        ck_abort_msg("no dashboard figure \"%s ... %s\" on:\n%s", label, value, s);
    }
}

/* Whether an SGR sequence (ESC [ ... m) on the screen sets parameter n. */
static bool has_sgr(const char *s, int n)
{
    for (const char *p = strstr(s, "\033["); p; p = strstr(p + 1, "\033[")) {
        const char *q = p + 2;
        for (;;) {
            char *end = NULL;
            long v = strtol(q, &end, 10);
            if (end == q)
                break;
            if (*end != ';' && *end != 'm')
                break;
            if (v == n)
                return true;
            if (*end == 'm')
                break;
            q = end + 1;
        }
    }
    return false;
}

/* The pane's current tab, from the context line (row 1). */
#define assert_tab(name) tmx_assert_row(&fx.term, 1, " " name)

/* ---- tabs and keys --------------------------------------------------------- */

START_TEST(test_tui__tabs_by_number_tab_and_shift_tab)
{
    terminal(80, 24);
    start_tui(NULL, NULL);
    tmx *t = &fx.term;
    static const char *const names[] = {"Dashboard", "Admin Users", "Cust Users", "Customers",
                                        "Products", "Plugins", "Instances", "DB Status"};
    /* what only that tab shows */
    static const char *const marks[] = {"Revenue by day", "ROLE", "VERIFIED", "CREDIT",
                                        "QUARTERLY", "HEALTH", "NEXT DUE", "CHECKSUM"};
    char key[4], want[64];
    for (int i = 7; i >= 0; i--) {
        snprintf(key, sizeof key, "%d", i + 1);
        tmx_keys(t, key);
        snprintf(want, sizeof want, " %s", names[i]);
        tmx_assert_row(t, 1, want);
        tmx_assert_wait(t, marks[i]);
    }
    for (int i = 1; i <= 8; i++) { /* Tab: 2..8, then back to 1 */
        tmx_keys(t, "Tab");
        snprintf(want, sizeof want, " %s", names[i % 8]);
        tmx_assert_row(t, 1, want);
    }
    for (int i = 7; i >= 0; i--) { /* Shift+Tab: 8, 7, ... 1 */
        tmx_keys(t, "BTab");
        snprintf(want, sizeof want, " %s", names[i]);
        tmx_assert_row(t, 1, want);
    }
    /* the help overlay lists every key; any key closes it */
    tmx_keys(t, "?");
    tmx_assert_wait(t, "Keys (?)");
    static const char *const keys[] = {"q  Esc", "Tab  Shift+Tab", "1 .. 8", "j k", "PgUp PgDn",
                                       "Enter", "Backspace", "/", "d ", "e  x", "y  n"};
    char *s = tmx_screen(t);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        ck_assert_msg(strstr(s, keys[i]), "help lacks \"%s\":\n%s", keys[i], s);
    free(s);
    tmx_keys(t, "x");
    tmx_assert_gone(t, "Keys (?)");
    /* the footer says what applies */
    tmx_assert_wait(t, "q quit");
    tmx_keys(t, "q");
    assert_terminal_restored("EXIT=0");
}
END_TEST

START_TEST(test_tui__dashboard_figures)
{
    terminal(80, 24);
    start_tui(NULL, NULL);
    tmx *t = &fx.term;
    assert_figure("Customers", "3 (3 active)");
    assert_figure("Instances running", "3");
    assert_figure("Instances suspended", "0");
    assert_figure("Balance total", "250.00");
    assert_figure("Revenue today", "30.00");
    /* the billing engine's figures: nothing is due yet (0, not absent) */
    assert_figure("Invoices due in 7 days", "0.00 (0)");
    assert_figure("Overdue", "0.00 (0)");
    assert_figure("Billing actions failing", "0");
    char mig[32];
    snprintf(mig, sizeof mig, "%zu of %zu", bill_db_migrations_known(), bill_db_migrations_known());
    assert_figure("Migrations", mig);
    assert_figure("Enabled", "1 of 1");
    assert_figure("Unchecked", "1");
    assert_figure("Pending", "0");
    /* the chart: today's bar is the tallest */
    tmx_assert_wait(t, "Revenue by day, last 30 days (peak 30.00)");
    tmx_assert_wait(t, "██");
    /* a change in the database shows on the next refresh, by itself */
    exec_ok("UPDATE instances SET status = 'suspended' WHERE ip_address = '198.51.100.33'");
    assert_figure("Instances suspended", "1");
    assert_figure("Instances running", "2");
    tmx_keys(t, "Escape");
    assert_terminal_restored("EXIT=0");
}
END_TEST

static int64_t fixed_usec;
static int64_t fixed_clock(void *user)
{
    (void)user;
    return fixed_usec;
}

/* The billing engine's figures as a pass left them, on the console's clock
 * (--now): Acme (balance 0, no credit) cannot pay its two renewals; the one
 * due 2027-01-16 (today + 6) is due within 7 days, the one due 2027-01-08
 * went overdue on the second pass. The instance without a due date is not
 * billed. */
START_TEST(test_tui__dashboard_billing_figures)
{
    char sql[600];
    snprintf(sql, sizeof sql,
             "UPDATE instances SET anchor_date = '2026-12-16', current_period_start = "
             "'2026-12-16', next_due_date = '2027-01-16' WHERE id = '%s';"
             "UPDATE instances SET anchor_date = '2026-12-08', current_period_start = "
             "'2026-12-08', next_due_date = '2027-01-08' WHERE id = '%s'",
             fx.doomed_instance, fx.running_instance);
    exec_ok(sql);
    ck_assert_int_eq(bill_time_parse_rfc3339("2027-01-10T08:00:00Z", &fixed_usec), BILL_OK);
    bill_db_set_clock(fx.db, fixed_clock, NULL);
    for (int pass = 0; pass < 2; pass++) {
        bill_billing_report r;
        ck_assert_int_eq(bill_billing_run(fx.db, NULL, NULL, &r), BILL_OK);
        ck_assert_int_eq(r.paid, 0);
        ck_assert_int_eq(r.issued, pass == 0 ? 2 : 0);
        ck_assert_int_eq(r.overdue, pass == 0 ? 0 : 1);
        bill_billing_report_clear(&r);
    }

    terminal(80, 24);
    start_tui(NULL, "--now 2027-01-10T08:00:00Z --refresh 1");
    assert_figure("Invoices due in 7 days", "10.00 (1)");
    assert_figure("Overdue", "30.00 (1)");
    assert_figure("Billing actions failing", "0");
    /* Acme's 30.00 arrives and the next pass pays the oldest renewal from
     * it (the overdue one): the figures follow by themselves */
    ck_assert_int_eq(bill_balance_change(fx.db, &seed_actor, fx.acme, BILL_BALANCE_RECHARGE, 3000,
                                         "tx-acme", "bank transfer", NULL), BILL_OK);
    bill_billing_report r;
    ck_assert_int_eq(bill_billing_run(fx.db, NULL, NULL, &r), BILL_OK);
    ck_assert_int_eq(r.paid, 1);
    ck_assert_int_eq(r.paid_amount, 3000);
    bill_billing_report_clear(&r);
    assert_figure("Overdue", "0.00 (0)");
    assert_figure("Invoices due in 7 days", "10.00 (1)");
    /* nothing on this screen pretends to lack the engine */
    tmx_assert_gone(&fx.term, "needs the billing engine");
    tmx_keys(&fx.term, "q");
    assert_terminal_restored("EXIT=0");
}
END_TEST

/* ---- lists, detail, search ---------------------------------------------------- */

/* Cells before `needle` in `line` (wcwidth, as a terminal counts them). */
static int cells_before(const char *line, const char *needle)
{
    const char *p = strstr(line, needle);
    ck_assert_ptr_nonnull(p);
    char buf[512];
    snprintf(buf, sizeof buf, "%.*s", (int)(p - line), line);
    wchar_t w[512];
    size_t n = mbstowcs(w, buf, 512);
    ck_assert_uint_ne(n, (size_t)-1);
    int cells = wcswidth(w, n);
    ck_assert_int_ge(cells, 0);
    return cells;
}

static char *row_with(const char *screen, const char *needle)
{
    for (int r = 0; r < 200; r++) {
        char *row = tmx_row(screen, r);
        if (strstr(row, needle))
            return row;
        free(row);
    }
    ck_abort_msg("no row with \"%s\" in:\n%s", needle, screen);
    return NULL;
}

START_TEST(test_tui__lists_cjk_alignment_and_paging)
{
    setlocale(LC_CTYPE, "C.UTF-8");
    for (int i = 0; i < 120; i++) {
        char name[64];
        snprintf(name, sizeof name, "Bulk Customer %03d", i);
        free(customer(name, NULL, 0));
    }
    terminal(80, 24);
    start_tui(NULL, NULL);
    tmx *t = &fx.term;

    tmx_keys(t, "5");
    assert_tab("Products · 2 rows");
    tmx_assert_wait(t, "香港 VPS 标准型");
    char *s = tmx_screen(t);
    char *cjk = row_with(s, "香港 VPS 标准型"), *ascii = row_with(s, "Tokyo VPS Basic"),
         *head = row_with(s, "MONTHLY");
    /* the columns after a Chinese name start in the same cell as after an ASCII one */
    ck_assert_int_eq(cells_before(cjk, "yes"), cells_before(ascii, "yes"));
    ck_assert_int_eq(cells_before(cjk, "30.00"), cells_before(ascii, "10.00"));
    ck_assert_int_eq(cells_before(head, "ACTIVE"), cells_before(ascii, "yes"));
    ck_assert_ptr_nonnull(strstr(cjk, "hk"));
    free(cjk);
    free(ascii);
    free(head);
    free(s);

    /* customers: 123 rows, two libbill pages */
    tmx_keys(t, "4");
    assert_tab("Customers · 123 rows · 1-100 · page 1/2");
    tmx_assert_wait(t, "Bulk Customer 119"); /* newest first */
    tmx_keys(t, "G");
    assert_tab("Customers · 123 rows · 101-123 · page 2/2");
    tmx_assert_wait(t, "张三科技");
    tmx_keys(t, "g");
    assert_tab("Customers · 123 rows · 1-100 · page 1/2");
    /* PgDn twice goes on into the next page; k at its top back into the first */
    tmx_keys(t, "NPage");
    tmx_keys(t, "NPage");
    tmx_keys(t, "NPage");
    tmx_keys(t, "NPage");
    tmx_keys(t, "NPage");
    tmx_keys(t, "NPage");
    assert_tab("Customers · 123 rows · 101-123 · page 2/2");
    tmx_keys(t, "g");
    assert_tab("Customers · 123 rows · 1-100 · page 1/2");
    tmx_keys(t, "j");
    tmx_keys(t, "k");
    tmx_keys(t, "k"); /* at the very top: stays */
    assert_tab("Customers · 123 rows · 1-100 · page 1/2");

    /* instances and customer users show what an admin needs */
    tmx_keys(t, "7");
    tmx_assert_wait(t, "198.51.100.22");
    tmx_assert_wait(t, "Tokyo VPS Basic");
    tmx_keys(t, "3");
    tmx_assert_wait(t, "lisi");
    tmx_assert_wait(t, "lisi@example.cn");
    tmx_keys(t, "2");
    tmx_assert_wait(t, "opsuser");
    tmx_assert_wait(t, "operator");
    tmx_keys(t, "8");
    tmx_assert_wait(t, "0 pending");
    tmx_assert_wait(t, "plugins_table");
    tmx_keys(t, "q");
    assert_terminal_restored("EXIT=0");
}
END_TEST

START_TEST(test_tui__search_detail_open_close)
{
    terminal(80, 24);
    start_tui(NULL, NULL);
    tmx *t = &fx.term;
    tmx_keys(t, "4");
    assert_tab("Customers · 3 rows");
    /* `/` searches the database: Chinese text typed into the terminal */
    tmx_keys(t, "/");
    tmx_assert_wait(t, "Esc cancel");
    tmx_type(t, "张三");
    tmx_keys(t, "Enter");
    assert_tab("Customers · 1 row · search \"张三\"");
    tmx_assert_gone(t, "Acme Ltd");
    /* Enter: the detail panel with the ledger */
    tmx_keys(t, "Enter");
    tmx_assert_wait(t, "Customer 张三科技");
    tmx_assert_wait(t, "Balance transactions (1 of 1");
    tmx_assert_wait(t, "recharge");
    tmx_assert_wait(t, "bank transfer 2026-05-26");
    tmx_assert_wait(t, "Backspace close");
    /* Backspace closes it */
    tmx_keys(t, "BSpace");
    tmx_assert_gone(t, "Balance transactions");
    tmx_assert_wait(t, "BALANCE");
    /* an empty search clears */
    tmx_keys(t, "/");
    tmx_assert_wait(t, "Esc cancel");
    tmx_keys(t, "BSpace");
    tmx_keys(t, "BSpace");
    tmx_keys(t, "Enter");
    assert_tab("Customers · 3 rows");
    tmx_assert_wait(t, "Acme Ltd");
    /* d deletes after y/n; libbill refuses a customer with history */
    free(customer("Spare Parts Co", NULL, 0));
    tmx_keys(t, "/");
    tmx_assert_wait(t, "Esc cancel");
    tmx_type(t, "Spare");
    tmx_keys(t, "Enter");
    assert_tab("Customers · 1 row · search \"Spare\"");
    tmx_keys(t, "d");
    tmx_assert_wait(t, "Delete customer \"Spare Parts Co\"?");
    tmx_keys(t, "n");
    tmx_assert_wait(t, "cancelled: nothing changed");
    ck_assert_int_eq(bill_test_pg_query_ll(fx.url, "SELECT count(*) FROM customers WHERE "
                                                   "name = 'Spare Parts Co'"), 1);
    tmx_keys(t, "d");
    tmx_assert_wait(t, "Delete customer");
    tmx_keys(t, "y");
    tmx_assert_wait(t, "customer \"Spare Parts Co\" deleted");
    ck_assert_int_eq(bill_test_pg_query_ll(fx.url, "SELECT count(*) FROM customers WHERE "
                                                   "name = 'Spare Parts Co'"), 0);
    tmx_keys(t, "/");
    tmx_assert_wait(t, "Esc cancel");
    for (int i = 0; i < 5; i++)
        tmx_keys(t, "BSpace");
    tmx_type(t, "Acme");
    tmx_keys(t, "Enter");
    assert_tab("Customers · 1 row · search \"Acme\"");
    tmx_keys(t, "d");
    tmx_assert_wait(t, "Delete customer");
    tmx_keys(t, "y");
    tmx_assert_wait(t, "cannot delete the customer:");
    ck_assert_int_eq(bill_test_pg_query_ll(fx.url, "SELECT count(*) FROM customers WHERE "
                                                   "name = 'Acme Ltd'"), 1);

    /* on a tab without a database search, `/` filters the page */
    tmx_keys(t, "7");
    tmx_keys(t, "/");
    tmx_assert_wait(t, "Esc cancel");
    tmx_type(t, "100.33");
    tmx_keys(t, "Enter");
    assert_tab("Instances · 3 rows · filter \"100.33\" (1 shown)");
    tmx_assert_gone(t, "198.51.100.22");
    tmx_keys(t, "q");
    assert_terminal_restored("EXIT=0");
}
END_TEST

/* ---- actions ------------------------------------------------------------------ */

static long long q(const char *sql)
{
    return bill_test_pg_query_ll(fx.url, sql);
}

/* Put the Instances tab's cursor on the instance with this IP. */
static void select_instance(const char *ip)
{
    tmx *t = &fx.term;
    tmx_keys(t, "7");
    tmx_assert_wait(t, "NEXT DUE");
    tmx_keys(t, "/");
    tmx_assert_wait(t, "Esc cancel");
    tmx_type(t, ip);
    tmx_keys(t, "Enter");
    tmx_assert_wait(t, "(1 shown)");
}

START_TEST(test_tui__terminate_y_changes_n_does_not)
{
    terminal(80, 24);
    start_tui(NULL, NULL);
    tmx *t = &fx.term;
    select_instance("198.51.100.22");
    /* n: the dialog goes, nothing changes */
    tmx_keys(t, "d");
    tmx_assert_wait(t, "Terminate instance");
    tmx_assert_wait(t, "cannot be undone");
    tmx_keys(t, "n");
    tmx_assert_wait(t, "cancelled: nothing changed");
    ck_assert_int_eq(q("SELECT count(*) FROM instances WHERE status = 'terminated'"), 0);
    /* y: terminated, in the database and in the audit log */
    tmx_keys(t, "d");
    tmx_assert_wait(t, "Terminate instance");
    tmx_keys(t, "y");
    tmx_assert_wait(t, "terminated");
    tmx_assert_wait(t, "instance 22222222 terminated");
    ck_assert_int_eq(q("SELECT count(*) FROM instances WHERE status = 'terminated' AND "
                       "id = '22222222-2222-4222-8222-222222222222'"), 1);
    ck_assert_int_eq(q("SELECT count(*) FROM instances WHERE status = 'terminated'"), 1);
    ck_assert_int_eq(q("SELECT count(*) FROM operation_logs WHERE action = 'instance.terminate' "
                       "AND actor_type = 'cli' AND actor_name = 'tui:tuitester' AND "
                       "target_id = '22222222-2222-4222-8222-222222222222'"), 1);
    /* a terminated instance refuses further actions: libbill says why */
    tmx_keys(t, "s");
    tmx_assert_wait(t, "cannot start instance 22222222");

    /* stop, from the detail panel: libbill's confirmation, then stopped */
    tmx_keys(t, "/");
    tmx_assert_wait(t, "Esc cancel");
    for (int i = 0; i < 14; i++)
        tmx_keys(t, "BSpace");
    tmx_type(t, "198.51.100.33");
    tmx_keys(t, "Enter");
    tmx_assert_wait(t, "(1 shown)");
    tmx_keys(t, "Enter");
    tmx_assert_wait(t, "Instance 33333333 (running)");
    tmx_keys(t, "t");
    tmx_assert_wait(t, "Stop the server?");
    tmx_keys(t, "y");
    tmx_assert_wait(t, "Instance 33333333 (stopped)");
    ck_assert_int_eq(q("SELECT count(*) FROM instances WHERE status = 'stopped' AND "
                       "id = '33333333-3333-4333-8333-333333333333'"), 1);
    /* start asks nothing (libbill gives no confirmation for it) */
    tmx_keys(t, "s");
    tmx_assert_wait(t, "instance 33333333 started");
    ck_assert_int_eq(q("SELECT count(*) FROM instances WHERE status = 'running' AND "
                       "id = '33333333-3333-4333-8333-333333333333'"), 1);
    /* the panel follows (a second reload of it in a row: it once lost its
     * key copying it onto itself, "id is required") */
    tmx_assert_wait(t, "Instance 33333333 (running)");
    tmx_keys(t, "r");
    tmx_assert_wait(t, "refreshed");
    tmx_assert_gone(t, "cannot open the details");
    /* reboot: n keeps it as it is, y reboots */
    tmx_keys(t, "b");
    tmx_assert_wait(t, "Reboot the server?");
    tmx_keys(t, "n");
    tmx_assert_wait(t, "cancelled: nothing changed");
    ck_assert_int_eq(q("SELECT count(*) FROM operation_logs WHERE action = 'instance.reboot'"), 0);
    tmx_keys(t, "b");
    tmx_assert_wait(t, "Reboot the server?");
    tmx_keys(t, "y");
    tmx_assert_wait(t, "instance 33333333 rebooted");
    ck_assert_int_eq(q("SELECT count(*) FROM operation_logs WHERE action = 'instance.reboot' AND "
                       "actor_name = 'tui:tuitester'"), 1);
    tmx_keys(t, "q");
    assert_terminal_restored("EXIT=0");
}
END_TEST

START_TEST(test_tui__plugin_interface_enable_disable_health)
{
    terminal(80, 24);
    start_tui(NULL, NULL);
    tmx *t = &fx.term;
    tmx_keys(t, "6");
    assert_tab("Plugins · 1 row");
    tmx_assert_wait(t, "1 plugin loaded from");
    tmx_assert_wait(t, "Example Gw");
    tmx_assert_wait(t, "enabled");
    tmx_assert_wait(t, "unchecked");
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM plugin_interfaces WHERE id = '%s' AND enabled",
             fx.interface_id);

    tmx_keys(t, "x");
    tmx_assert_wait(t, "interface Example Gw disabled");
    ck_assert_int_eq(q(sql), 0);
    tmx_keys(t, "e");
    tmx_assert_wait(t, "interface Example Gw enabled");
    ck_assert_int_eq(q(sql), 1);
    tmx_keys(t, "h");
    tmx_assert_wait(t, "interface Example Gw is healthy");
    tmx_assert_wait(t, "enabled   healthy");
    snprintf(sql, sizeof sql, "SELECT count(*) FROM plugin_interfaces WHERE id = '%s' AND "
                              "is_healthy AND last_health_at IS NOT NULL", fx.interface_id);
    ck_assert_int_eq(q(sql), 1);
    ck_assert_int_eq(q("SELECT count(*) FROM operation_logs WHERE actor_name = 'tui:tuitester' "
                       "AND action IN ('plugin_interface.enable', 'plugin_interface.disable')"),
                     2);
    /* the detail shows the config, secrets masked by libbill */
    tmx_keys(t, "Enter");
    tmx_assert_wait(t, "6222-0001");
    tmx_keys(t, "BSpace");

    /* admin users: x disables a login */
    tmx_keys(t, "2");
    tmx_assert_wait(t, "opsuser");
    tmx_keys(t, "/");
    tmx_assert_wait(t, "Esc cancel");
    tmx_type(t, "opsuser");
    tmx_keys(t, "Enter");
    tmx_assert_wait(t, "(1 shown)");
    tmx_keys(t, "x");
    tmx_assert_wait(t, "admin user opsuser disabled");
    ck_assert_int_eq(q("SELECT count(*) FROM admin_users WHERE username = 'opsuser' AND "
                       "NOT is_active"), 1);
    tmx_keys(t, "e");
    tmx_assert_wait(t, "admin user opsuser enabled");
    ck_assert_int_eq(q("SELECT count(*) FROM admin_users WHERE username = 'opsuser' AND "
                       "is_active"), 1);
    tmx_keys(t, "q");
    assert_terminal_restored("EXIT=0");
}
END_TEST

/* `r` reloads the current tab: a customer created elsewhere appears; DB
 * Status shows a migration whose checksum no longer matches and one that is
 * pending (the schema changed under a running console). */
START_TEST(test_tui__refresh_key_and_db_status)
{
    terminal(100, 30);
    start_tui(NULL, NULL);
    tmx *t = &fx.term;
    tmx_keys(t, "4");
    assert_tab("Customers · 3 rows");
    free(customer("Refreshed Co", NULL, 0));
    tmx_assert_gone(t, "Refreshed Co"); /* lists reload on r, not by themselves */
    tmx_keys(t, "r");
    assert_tab("Customers · 4 rows");
    tmx_assert_wait(t, "Refreshed Co");

    size_t n = bill_db_migrations_known();
    char want[128];
    tmx_keys(t, "8");
    snprintf(want, sizeof want, "%zu of %zu migrations applied · 0 pending", n, n);
    tmx_assert_wait(t, want);
    tmx_assert_gone(t, "MISMATCH");
    exec_ok("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 3");
    snprintf(want, sizeof want, "DELETE FROM schema_migrations WHERE version = %zu", n);
    exec_ok(want);
    tmx_keys(t, "r");
    snprintf(want, sizeof want, "%zu of %zu migrations applied · 1 pending · CHECKSUM MISMATCH",
             n - 1, n);
    tmx_assert_wait(t, want);
    char *s = tmx_screen(t);
    char *row3 = row_with(s, "003 ");
    ck_assert_msg(strstr(row3, "MISMATCH"), "migration 003 not shown as changed: %s", row3);
    free(row3);
    snprintf(want, sizeof want, "%03zu ", n);
    char *last = row_with(s, want);
    ck_assert_msg(strstr(last, " no "), "migration %zu not shown as pending: %s", n, last);
    free(last);
    free(s);
    /* the detail says what the state means */
    tmx_keys(t, "j");
    tmx_keys(t, "j");
    tmx_keys(t, "Enter");
    tmx_assert_wait(t, "MISMATCH: the file changed after it was applied");
    tmx_keys(t, "BSpace");
    tmx_keys(t, "q");
    assert_terminal_restored("EXIT=0");
}
END_TEST

/* ---- terminal: resize, signals, colours ------------------------------------------ */

START_TEST(test_tui__resize_reflows)
{
    terminal(80, 24);
    start_tui(NULL, NULL);
    tmx *t = &fx.term;
    tmx_assert_row(t, 0, "Dashboard|Admin Users|");
    tmx_keys(t, "5");
    tmx_assert_wait(t, "MONTHLY");
    tmx_resize(t, 132, 40);
    /* wide: numbered tabs, every column of the products table */
    tmx_assert_row(t, 0, "  1 Dashboard   2 Admin Users");
    tmx_assert_wait(t, "8 DB Status");
    tmx_assert_wait(t, "REGION  ID");
    tmx_keys(t, "Enter");
    tmx_assert_wait(t, "┌─ Product");      /* side panel next to the list */
    tmx_assert_wait(t, "NAME");
    tmx_resize(t, 80, 24);
    tmx_assert_row(t, 0, "Dashboard|Admin Users|");
    tmx_assert_gone(t, "8 DB Status");
    tmx_assert_wait(t, "Prices");
    tmx_keys(t, "BSpace");
    tmx_assert_wait(t, "MONTHLY");
    /* too small, then big enough again */
    tmx_resize(t, 30, 8);
    tmx_assert_wait(t, "terminal too small");
    tmx_assert_wait(t, "needs 40x10 at least");
    tmx_resize(t, 80, 24);
    tmx_assert_wait(t, "MONTHLY");
    /* q still quits on a screen too small to draw on */
    tmx_resize(t, 30, 8);
    tmx_assert_wait(t, "q quits");
    tmx_keys(t, "q");
    assert_terminal_restored("EXIT=0");
}
END_TEST

START_TEST(test_tui__signals_and_crash_restore_the_terminal)
{
    terminal(80, 24);
    tmx *t = &fx.term;
    /* SIGTERM, SIGINT, SIGHUP: the terminal is back, then the program ends
     * the way the signal meant (the shell sees 128 + the signal) */
    static const struct {
        int sig;
        const char *exit_line;
    } sigs[] = {{SIGTERM, "EXIT=143"}, {SIGINT, "EXIT=130"}, {SIGHUP, "EXIT=129"}};
    int pid;
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        tmx_run(t, "clear");
        start_tui(NULL, NULL);
        tmx_keys(t, "4");
        tmx_assert_wait(t, "BALANCE");
        pid = tmx_child_pid(t, "bill-tui");
        ck_assert_int_gt(pid, 0);
        ck_assert_int_eq(kill(pid, sigs[i].sig), 0);
        if (sigs[i].sig == SIGINT) {
            /* bash ends a command list whose program died of SIGINT (as
             * after ^C): ask for the status once the prompt is back */
            ck_assert_msg(tmx_wait_format(t, "#{alternate_on}", "0"), "still on the alternate "
                                                                     "screen after SIGINT");
            tmx_assert_wait(t, "\nPROMPT$");
            tmx_run(t, "echo EX''IT=$?");
        }
        assert_terminal_restored(sigs[i].exit_line);
    }

    /* a crash: the handler restores the terminal, the crash still happens */
    tmx_run(t, "clear");
    start_tui(NULL, NULL);
    pid = tmx_child_pid(t, "bill-tui");
    ck_assert_int_gt(pid, 0);
    ck_assert_int_eq(kill(pid, SIGSEGV), 0);
    tmx_assert_wait(t, "EXIT=");
    char *s = tmx_screen(t);
    ck_assert_msg(!strstr(s, "EXIT=0"), "a crash exited 0:\n%s", s);
    free(s);
    ck_assert_msg(tmx_wait_format(t, "#{alternate_on}", "0"), "still on the alternate screen");
    tmx_run(t, "echo after-$((1+1))");
    tmx_assert_wait(t, "\nafter-2");
}
END_TEST

START_TEST(test_tui__colours_and_no_color)
{
    terminal(80, 24);
    start_tui(NULL, NULL);
    tmx *t = &fx.term;
    char *s = tmx_screen_escapes(t);
    ck_assert_msg(has_sgr(s, 36), "no colour on screen:\n%s", s);
    free(s);
    tmx_keys(t, "q");
    assert_terminal_restored("EXIT=0");
    tmx_run(t, "clear");
    start_tui("NO_COLOR=1 ", NULL);
    tmx_keys(t, "4");
    tmx_assert_wait(t, "BALANCE");
    s = tmx_screen_escapes(t);
    for (int c = 30; c <= 47; c++)
        ck_assert_msg(c == 38 || c == 39 || !has_sgr(s, c), "NO_COLOR but colour %d on screen:\n%s",
                      c, s);
    /* the cursor row still stands out: reverse video */
    ck_assert_msg(has_sgr(s, 7), "no highlighted row without colours:\n%s", s);
    free(s);
    tmx_keys(t, "q");
    assert_terminal_restored("EXIT=0");
}
END_TEST

/* What ssh gives: a terminal type without colours works with attributes
 * only; an unknown type or none is refused with a message that says what
 * to set (exit 2), the terminal untouched. */
START_TEST(test_tui__terminal_types)
{
    terminal(80, 24);
    tmx *t = &fx.term;
    start_tui("TERM=vt100 ", NULL);
    tmx_keys(t, "4");
    tmx_assert_wait(t, "BALANCE");
    tmx_assert_wait(t, "Acme Ltd");
    char *s = tmx_screen_escapes(t);
    for (int c = 30; c <= 47; c++)
        ck_assert_msg(c == 38 || c == 39 || !has_sgr(s, c), "vt100 but colour %d on screen:\n%s",
                      c, s);
    ck_assert_msg(has_sgr(s, 7), "no highlighted row on a vt100:\n%s", s);
    free(s);
    tmx_keys(t, "q");
    assert_terminal_restored("EXIT=0");

    char cmd[1024];
    tmx_run(t, "clear");
    snprintf(cmd, sizeof cmd, "TERM=no-such-term %s --config %s; echo EX''IT=$?",
             bin("BILL_TUI"), fx.config);
    tmx_run(t, cmd);
    assert_terminal_restored("EXIT=2");
    tmx_assert_wait(t, "cannot drive a terminal of type \"no-such-term\"");
    tmx_run(t, "clear");
    snprintf(cmd, sizeof cmd, "env -u TERM %s --config %s; echo EX''IT=$?", bin("BILL_TUI"),
             fx.config);
    tmx_run(t, cmd);
    assert_terminal_restored("EXIT=2");
    tmx_assert_wait(t, "TERM is not set");
}
END_TEST

/* ---- the database going away and coming back ------------------------------------- */

START_TEST(test_tui__database_outage_shown_and_retried)
{
    terminal(80, 24);
    start_tui(NULL, "--refresh 1");
    tmx *t = &fx.term;
    char dbname[128];
    const char *slash = strrchr(fx.url, '/');
    ck_assert_ptr_nonnull(slash);
    snprintf(dbname, sizeof dbname, "%.*s", (int)strcspn(slash + 1, "?"), slash + 1);
    char sql[400];
    snprintf(sql, sizeof sql, "ALTER DATABASE \"%s\" ALLOW_CONNECTIONS false", dbname);
    ck_assert_int_eq(bill_test_pg_exec(bill_test_pg_url_base(), sql), 0);
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                              "datname = '%s' AND pid <> pg_backend_pid()", dbname);
    ck_assert_int_eq(bill_test_pg_exec(bill_test_pg_url_base(), sql), 0);
    tmx_assert_wait(t, "database error, retrying every 1 s");
    /* it keeps running: tabs still switch, the footer still answers */
    tmx_keys(t, "4");
    assert_tab("Customers");
    snprintf(sql, sizeof sql, "ALTER DATABASE \"%s\" ALLOW_CONNECTIONS true", dbname);
    ck_assert_int_eq(bill_test_pg_exec(bill_test_pg_url_base(), sql), 0);
    tmx_assert_wait(t, "database reachable again");
    tmx_assert_wait(t, "Acme Ltd");
    tmx_keys(t, "q");
    assert_terminal_restored("EXIT=0");
}
END_TEST

/* ---- refusals at startup ------------------------------------------------------------ */

/* Run bill-tui without a terminal (stdin /dev/null) with up to 3 more
 * arguments; its stdout and stderr go to out. Returns the exit status. */
static int run_plain(char *out, size_t size, const char *a1, const char *a2, const char *a3)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        execl(bin("BILL_TUI"), "bill-tui", "--config", fx.config, a1, a2, a3, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    size_t n = 0;
    ssize_t k;
    while (n + 1 < size && (k = read(p[0], out + n, size - 1 - n)) > 0)
        n += (size_t)k;
    out[n] = '\0';
    close(p[0]);
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    return WEXITSTATUS(st);
}

START_TEST(test_tui__not_a_terminal_is_refused)
{
    char buf[1024];
    ck_assert_int_eq(run_plain(buf, sizeof buf, NULL, NULL, NULL), 2);
    ck_assert_ptr_nonnull(strstr(buf, "must be a terminal"));
}
END_TEST


/* --help works anywhere (no terminal needed) and names every option; a bad
 * option or value is a usage error (exit 2) that says what was wrong. */
START_TEST(test_tui__help_and_usage_errors)
{
    char out[8192];
    ck_assert_int_eq(run_plain(out, sizeof out, "--help", NULL, NULL), 0);
    static const char *const opts[] = {"usage: bill-tui", "--config", "--database-url",
                                       "--refresh", "--now", "NO_COLOR"};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        ck_assert_msg(strstr(out, opts[i]), "--help lacks \"%s\":\n%s", opts[i], out);
    static const struct {
        const char *a1, *a2, *says;
    } bad[] = {
        {"--frobnicate", NULL, "unknown option '--frobnicate'"},
        {"extra", NULL, "unexpected argument 'extra'"},
        {"--refresh", "0", "--refresh expects seconds from 1 to 3600, got '0'"},
        {"--refresh", "5x", "--refresh expects seconds from 1 to 3600, got '5x'"},
        {"--now", "tomorrow", "is not an RFC 3339 instant"},
        {"--refresh", NULL, "missing value of option '--refresh'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(run_plain(out, sizeof out, bad[i].a1, bad[i].a2, NULL), 2);
        ck_assert_msg(strstr(out, bad[i].says), "%s %s: no \"%s\" in:\n%s", bad[i].a1,
                      bad[i].a2 ? bad[i].a2 : "", bad[i].says, out);
        ck_assert_msg(strstr(out, "try 'bill-tui --help'"), "no hint in:\n%s", out);
    }
}
END_TEST

START_TEST(test_tui__no_database_and_pending_migrations)
{
    terminal(100, 24);
    tmx *t = &fx.term;
    char cmd[1024];
    /* nothing listens there */
    snprintf(cmd, sizeof cmd, "%s --config %s --database-url "
             "'postgresql:///nowhere?host=%s/no-such-dir'; echo EX''IT=$?",
             bin("BILL_TUI"), fx.config, fx.dir);
    tmx_run(t, cmd);
    assert_terminal_restored("EXIT=1");
    tmx_assert_wait(t, "bill-tui: error: cannot connect");

    /* a database that needs migrations: the same refusal as bill-cli */
    char *raw = bill_test_pg_new_database("tui_raw");
    tmx_run(t, "clear");
    snprintf(cmd, sizeof cmd, "%s --database-url '%s'; echo EX''IT=$?", bin("BILL_TUI"), raw);
    tmx_run(t, cmd);
    assert_terminal_restored("EXIT=1");
    char want[160];
    snprintf(want, sizeof want,
             "database schema is not up to date (%zu pending); run: bill-cli db migrate",
             bill_db_migrations_known());
    tmx_assert_wait(t, want);
    free(raw);
}
END_TEST

/* ---- bill-cli tui -------------------------------------------------------------------- */

START_TEST(test_tui__bill_cli_tui_starts_it)
{
    terminal(80, 24);
    tmx *t = &fx.term;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s --config %s --now 2027-01-31T00:00:00Z tui --refresh 2; "
             "echo EX''IT=$?", bin("BILL_CLI"), fx.config);
    tmx_run(t, cmd);
    tmx_assert_wait(t, "The book");
    tmx_assert_wait(t, "every 2 s");
    /* the CLI's clock goes along, and the title says so */
    tmx_assert_wait(t, "clock 2027-01-31T00:00:00Z (--now)");
    tmx_assert_wait(t, "updated 2027-01-31 00:00:00 UTC");
    tmx_keys(t, "q");
    assert_terminal_restored("EXIT=0");

    /* a bill-cli with no bill-tui beside it says so */
    char lone[400], libdir[300];
    snprintf(lone, sizeof lone, "%s/lone", fx.dir);
    ck_assert_int_eq(mkdir(lone, 0755), 0);
    char copy[500];
    snprintf(copy, sizeof copy, "%s/bill-cli", lone);
    copy_file(bin("BILL_CLI"), copy);
    snprintf(libdir, sizeof libdir, "%s", LIBBILL_DIR);
    tmx_run(t, "clear");
    snprintf(cmd, sizeof cmd, "LD_LIBRARY_PATH=%s %s tui; echo EX''IT=$?", libdir, copy);
    tmx_run(t, cmd);
    tmx_assert_wait(t, "EXIT=1");
    tmx_assert_wait(t, "bill-tui is not installed");
}
END_TEST

BILL_TEST_MAIN("tui", 120, setup, teardown,
               test_tui__tabs_by_number_tab_and_shift_tab, test_tui__dashboard_figures,
               test_tui__dashboard_billing_figures, test_tui__lists_cjk_alignment_and_paging,
               test_tui__search_detail_open_close, test_tui__refresh_key_and_db_status,
               test_tui__terminate_y_changes_n_does_not,
               test_tui__plugin_interface_enable_disable_health, test_tui__resize_reflows,
               test_tui__signals_and_crash_restore_the_terminal, test_tui__colours_and_no_color,
               test_tui__terminal_types, test_tui__database_outage_shown_and_retried,
               test_tui__not_a_terminal_is_refused, test_tui__help_and_usage_errors,
               test_tui__no_database_and_pending_migrations, test_tui__bill_cli_tui_starts_it);
