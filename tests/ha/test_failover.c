/*
 * test_failover.c — PostgreSQL failover under payment load (issue 12 item 5).
 *
 * pg-ha.sh builds a real HA pair with pg_auto_failover (monitor, primary,
 * secondary, synchronous replication, loopback only, as `postgres`); a real
 * bill-server runs on its multi-host URL
 * (postgresql://h:p1,h:p2/bill?target_session_attrs=read-write). failover.py
 * drives balance and gateway payments, SIGKILLs the primary node and
 * asserts the wire side (only UNAVAILABLE / 503 during the switch, service
 * back within 30 s, every acknowledged payment visible, unknown outcomes
 * settled once). Here, on the database after the switch:
 *   - the failover was automatic: the monitor holds n2 as primary;
 *   - 0 acknowledged payments lost: each acknowledged balance payment has
 *     exactly one ledger row, each acknowledged gateway payment is
 *     `success` with its gateway transaction id and paid its order;
 *   - none applied twice: no order has two payment ledger rows or two
 *     successful payments, whatever the clients retried;
 *   - the ledger invariant (bill_balance_verify) holds.
 * The whole program is bounded (meson timeout 180 s; pg-ha.sh's watcher
 * stops the nodes when this process ends). Skipped (77) when pg_autoctl is
 * not installed (Debian: postgresql-15-auto-failover).
 */
#include "check_main.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pg_harness.h"
#include "server_harness.h"

static char ha_dir[64];
static char ha_url[512];
static char plug_dir[96];
static bill_test_server srv;

static void setup(void)
{
    char out[4096], toml[512];
    snprintf(ha_dir, sizeof ha_dir, "/tmp/bill-ha.%d", (int)getpid());
    ck_assert_msg(bill_test_sh(out, sizeof out, "%s start %s %d", PG_HA, ha_dir,
                               (int)getpid()) == 0,
                  "pg-ha.sh could not build the HA pair");
    bill_test_sh_field(out, "URL", ha_url, sizeof ha_url);
    char primary[16], sync[128];
    bill_test_sh_field(out, "PRIMARY", primary, sizeof primary);
    bill_test_sh_field(out, "SYNC", sync, sizeof sync);
    ck_assert_str_eq(primary, "n1");
    ck_assert_ptr_nonnull(strstr(sync, "ANY 1")); /* the standby confirms each commit */

    /* inside the HA directory: removed with it, by teardown or, when the
     * test dies, by pg-ha.sh's watcher */
    snprintf(plug_dir, sizeof plug_dir, "%s/plugins", ha_dir);
    ck_assert_int_eq(mkdir(plug_dir, 0755), 0);
    ck_assert_int_eq(bill_test_sh(out, sizeof out, "cp '%s/gateway-yipay/gateway-yipay.so' '%s/'",
                         BUILTIN_PLUGIN_DIR, plug_dir), 0);
    snprintf(toml, sizeof toml,
             "[plugins]\nplugins_dir = \"%s\"\n[security]\nmaster_key = "
             "\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"\n",
             plug_dir);
    ck_assert_msg(bill_test_server_start_on(&srv, BILL_SERVER_BIN, toml, ha_url) == 0,
                  "bill-server did not start on the HA pair");
}

static void teardown(void)
{
    char out[1024];
    if (srv.pid > 0)
        bill_test_server_stop(&srv, SIGTERM, 15000);
    if (ha_dir[0])
        bill_test_sh(out, sizeof out, "%s stop %s", PG_HA, ha_dir);
}

/* The acknowledged payments (failover.py's SERVER_DIR/acked: "order
 * payment trade_no", the last two empty for balance payments) as a table
 * ha_acked (order_id, payment_id) in the billing database, for the checks
 * below. Returns the number of rows; *gateway: those with a payment id. */
static int load_acked(const char *path, int *gateway)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t cap = 1 << 16, n = 0;
    char *sql = malloc(cap), line[256];
    ck_assert_ptr_nonnull(sql);
    n += (size_t)snprintf(sql, cap, "CREATE TABLE ha_acked (order_id uuid NOT NULL, "
                                    "payment_id uuid); INSERT INTO ha_acked VALUES ");
    int rows = 0;
    *gateway = 0;
    while (fgets(line, sizeof line, f)) {
        char o[80] = "", p[80] = "";
        if (sscanf(line, "%79s %79s", o, p) < 1)
            continue;
        if (n + 200 > cap) {
            cap *= 2;
            sql = realloc(sql, cap);
            ck_assert_ptr_nonnull(sql);
        }
        n += (size_t)snprintf(sql + n, cap - n, "%s('%s', %s%s%s)", rows ? "," : "", o,
                              p[0] ? "'" : "", p[0] ? p : "NULL", p[0] ? "'" : "");
        rows++;
        *gateway += p[0] != '\0';
    }
    fclose(f);
    ck_assert_int_gt(rows, 0);
    ck_assert_int_eq(bill_test_pg_exec(ha_url, sql), 0);
    free(sql);
    return rows;
}

START_TEST(test_failover__payments_survive_a_primary_kill)
{
    static char out[65536];
    char cust[64], acked_path[320], node[16];
    ck_assert_int_eq(bill_test_sh(out, sizeof out, "/usr/bin/python3 %s %d %s %s %s %s",
                                  E2E_FAILOVER, srv.port, srv.dir, BILL_CLI_BIN, PG_HA,
                                  ha_dir),
                     0);
    bill_test_sh_field(out, "CUSTOMER", cust, sizeof cust);
    ck_assert_msg(bill_test_server_alive(&srv), "bill-server died during the failover");

    /* automatic failover: the secondary is the primary now */
    ck_assert_int_eq(bill_test_sh(node, sizeof node, "%s primary %s", PG_HA, ha_dir), 0);
    ck_assert_str_eq(node, "n2\n");

    /* 0 acknowledged payments lost, none applied twice */
    snprintf(acked_path, sizeof acked_path, "%s/acked", srv.dir);
    int n_gateway = 0, n_acked = load_acked(acked_path, &n_gateway);
    ck_assert_int_gt(n_acked, 20);
    ck_assert_int_gt(n_gateway, 0);
    ck_assert_int_eq(bill_test_pg_query_ll(ha_url, "SELECT count(DISTINCT order_id) FROM ha_acked"),
                     n_acked);
    /* acknowledged from the balance: one ledger row each */
    ck_assert_int_eq(bill_test_pg_query_ll(ha_url,
        "SELECT count(*) FROM ha_acked a WHERE a.payment_id IS NULL AND (SELECT count(*) FROM "
        "balance_transactions t WHERE t.transaction_type = 'payment' AND t.reference_id = "
        "a.order_id::text) <> 1"), 0);
    /* acknowledged through the gateway: confirmed, and it paid its order */
    ck_assert_int_eq(bill_test_pg_query_ll(ha_url,
        "SELECT count(*) FROM ha_acked a JOIN payments p ON p.id = a.payment_id AND p.order_id = "
        "a.order_id WHERE p.status = 'success' AND p.gateway_tx_id LIKE 'HA%' AND NOT "
        "p.credited_to_balance"), n_gateway);
    ck_assert_int_eq(bill_test_pg_query_ll(ha_url,
        "SELECT count(*) FROM ha_acked a JOIN orders o ON o.id = a.order_id WHERE "
        "o.status = 'pending'"), 0);
    /* nothing twice, acknowledged or not */
    ck_assert_int_eq(bill_test_pg_query_ll(ha_url,
        "SELECT count(*) FROM (SELECT reference_id FROM balance_transactions WHERE "
        "transaction_type = 'payment' GROUP BY reference_id HAVING count(*) > 1) d"), 0);
    ck_assert_int_eq(bill_test_pg_query_ll(ha_url,
        "SELECT count(*) FROM (SELECT order_id FROM payments WHERE status = 'success' "
        "GROUP BY order_id HAVING count(*) > 1) d"), 0);
    ck_assert_int_eq(bill_test_pg_query_ll(ha_url,
        "SELECT count(*) FROM balance_transactions WHERE transaction_type = 'recharge' "
        "AND reference_id <> ''"), 0); /* no gateway money went astray to the balance */
    /* every paid-from-balance order has its debit, and no debit lacks its order */
    ck_assert_int_eq(bill_test_pg_query_ll(ha_url,
        "SELECT (SELECT count(*) FROM payments WHERE gateway_id = 'balance' AND status = "
        "'success') - (SELECT count(*) FROM balance_transactions WHERE transaction_type = "
        "'payment')"), 0);

    /* the ledger invariant: balance = sum of the ledger, rows chained */
    bill_db_options o;
    bill_db *db = NULL;
    bill_db_options_init(&o);
    o.url = ha_url;
    o.min_connections = 1;
    o.max_connections = 1;
    ck_assert_int_eq(bill_db_open(&db, &o), BILL_OK);
    ck_assert_msg(bill_balance_verify(db, cust) == BILL_OK, "ledger: %s",
                  bill_error_last()->message);
    ck_assert_int_eq(bill_test_pg_queryf_ll(ha_url,
        "SELECT (1000000.00 - balance) * 100 FROM customers WHERE id = '%s'", cust),
        bill_test_pg_query_ll(ha_url, "SELECT -coalesce(sum(amount), 0) * 100 FROM "
                                      "balance_transactions WHERE transaction_type = 'payment'"));
    bill_db_close(db);
}
END_TEST

int main(void)
{
    if (system("command -v pg_autoctl >/dev/null 2>&1") != 0) {
        printf("pg_autoctl not installed (Debian package postgresql-15-auto-failover, "
               "see ./dev PACKAGES): the failover test is skipped\n");
        return 77;
    }
    const TTest *const tests[] = {test_failover__payments_survive_a_primary_kill, NULL};
    return bill_test_run("ha_failover", 170, setup, teardown, tests);
}
