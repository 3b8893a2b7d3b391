/*
 * test_cluster_server.c — bill-server as a cluster member (cluster_job.c):
 * two real servers on one database register themselves, exactly one holds
 * each leader role (`billing`, `events`), /metrics says which, and when the
 * holder stops (SIGTERM) it releases its roles and leaves the registry at
 * once and the other instance takes them at its next heartbeat; a holder
 * that dies (SIGKILL) loses them when its lease ends. The billing pass runs
 * only on the billing holder. With [server].drain_secs, SIGTERM first turns
 * /ready to 503 while every request is still served, then the server stops
 * by itself.
 */
#include "check_main.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "pg_harness.h"
#include "server_harness.h"

/* heartbeat 1 s: leases 3 s, dead after 3 s, rows expire after 6 s */
#define CFG "[cluster]\nheartbeat_secs = 1\n[billing]\nenabled = true\ninterval_secs = 10\n"

static long long q(const char *url, const char *sql)
{
    return bill_test_pg_query_ll(url, sql);
}

static void wait_for(const char *url, const char *sql, long long want, int secs)
{
    for (int i = 0; i < secs * 10; i++) {
        if (q(url, sql) == want)
            return;
        bill_test_sleep_ms(100);
    }
    ck_abort_msg("%s never gave %lld (now %lld)", sql, want, q(url, sql));
}

/* The value of `bill_cluster_role_held{role="R"}` in the server's /metrics. */
static int metric_held(int port, const char *role)
{
    static char body[1 << 17];
    ck_assert_int_eq(bill_test_http_get(port, "/metrics", body, sizeof body), 200);
    char key[128];
    snprintf(key, sizeof key, "bill_cluster_role_held{role=\"%s\"} ", role);
    const char *p = strstr(body, key);
    ck_assert_msg(p != NULL, "no %s in /metrics", key);
    return atoi(p + strlen(key));
}

static int log_has(const bill_test_server *s, const char *needle)
{
    return bill_test_shell("grep -qF '%s' %s", needle, s->log) == 0;
}

/* 1 when the instance serving on `port` holds `role` with a live lease. */
static long long holder_is_port(const char *url, const char *role, int port)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM leader_roles r JOIN server_instances i"
             " ON i.id = r.holder_instance_id WHERE r.role = '%s' AND i.port = %d"
             " AND r.lease_until > now()", role, port);
    return q(url, sql);
}

START_TEST(test_cluster_server__roles_hand_over)
{
    bill_test_server a, b;
    bill_test_server_up_pair(&a, &b, BILL_SERVER_BIN, CFG, CFG);
    char *url = strdup(a.db_url);

    /* both registered, serving, with the port they listen on */
    wait_for(url, "SELECT count(*) FROM server_instances WHERE state = 'serving'", 2, 10);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM server_instances WHERE port IN (%d, %d)",
             a.port, b.port);
    ck_assert_int_eq(q(url, sql), 2);
    /* a started first and took both roles; b wants them and waits */
    ck_assert_int_eq(holder_is_port(url, "billing", a.port), 1);
    ck_assert_int_eq(holder_is_port(url, "events", a.port), 1);
    ck_assert_int_eq(metric_held(a.port, "billing"), 1);
    ck_assert_int_eq(metric_held(a.port, "events"), 1);
    ck_assert_int_eq(metric_held(b.port, "billing"), 0);
    ck_assert_int_eq(metric_held(b.port, "events"), 0);
    ck_assert(log_has(&a, "elected for role billing"));

    /* bill-cli sees the same */
    char out[8192];
    ck_assert_int_eq(bill_test_sh(out, sizeof out, "DATABASE_URL='%s' %s cluster status --json",
                                      url, BILL_CLI_BIN), 0);
    ck_assert_msg(strstr(out, "\"billing\"") && strstr(out, "\"serving\""), "status: %s", out);

    /* SIGTERM: a releases its roles and leaves at once; b takes them at its
     * next heartbeat (1 s) */
    ck_assert_int_eq(bill_test_server_stop(&a, SIGTERM, 15000), 0);
    ck_assert_int_eq(q(url, "SELECT count(*) FROM server_instances"), 1);
    ck_assert_int_eq(q(url, "SELECT count(*) FROM leader_roles WHERE holder_instance_id IS NOT "
                            "NULL AND lease_until > now() AND holder_instance_id NOT IN "
                            "(SELECT id FROM server_instances)"), 0);
    wait_for(url, "SELECT count(*) FROM leader_roles WHERE role IN ('billing', 'events') AND "
                  "lease_until > now() AND holder_instance_id = (SELECT id FROM "
                  "server_instances)", 2, 5);
    ck_assert_int_eq(metric_held(b.port, "billing"), 1);
    ck_assert(log_has(&b, "elected for role billing"));

    /* a comes back: b keeps the roles */
    ck_assert_int_eq(bill_test_server_start_on(&a, BILL_SERVER_BIN, CFG, url), 0);
    bill_test_sleep_ms(2500);
    ck_assert_int_eq(holder_is_port(url, "billing", b.port), 1);
    ck_assert_int_eq(metric_held(a.port, "billing"), 0);

    /* b dies without a word: a takes over when b's lease (3 s) ends */
    ck_assert_int_eq(bill_test_server_stop(&b, SIGKILL, 5000), 128 + SIGKILL);
    for (int i = 0; i < 100 && holder_is_port(url, "billing", a.port) != 1; i++)
        bill_test_sleep_ms(100);
    ck_assert_int_eq(holder_is_port(url, "billing", a.port), 1);
    ck_assert_int_eq(metric_held(a.port, "billing"), 1);
    ck_assert(log_has(&a, "took over from instance"));
    /* and b's row expires (6 s of silence) */
    wait_for(url, "SELECT count(*) FROM server_instances", 1, 12);
    ck_assert_int_eq(bill_test_server_stop(&a, SIGTERM, 15000), 0);
    free(url);
}
END_TEST

/* Only the billing holder bills: b, started second on a database with due
 * renewals, never runs a pass while a holds the role (its log says it
 * skipped), and the renewals are billed once. */
START_TEST(test_cluster_server__only_holder_bills)
{
    bill_test_server a, b;
    const char *cfg = "[cluster]\nheartbeat_secs = 1\n[billing]\nenabled = true\n"
                      "interval_secs = 10\n";
    setenv("BILL_LOG", "info,bill_server::billing=debug", 1); /* the servers inherit it */
    bill_test_server_up_pair(&a, &b, BILL_SERVER_BIN, cfg, cfg);
    char *url = strdup(a.db_url);
    bill_test_sleep_ms(1500);
    ck_assert(log_has(&b, "billing pass skipped: another instance holds the billing role"));
    ck_assert(!log_has(&a, "billing pass skipped"));
    ck_assert_int_eq(bill_test_server_stop(&b, SIGTERM, 15000), 0);
    ck_assert_int_eq(bill_test_server_stop(&a, SIGTERM, 15000), 0);
    free(url);
}
END_TEST

/* drain_secs = 3: after SIGTERM /ready answers 503 "draining" and gRPC
 * health NOT_SERVING (bill_draining 1 in /metrics) while the listener is
 * open and other requests are answered; then the server exits 0 by itself. */
START_TEST(test_cluster_server__drain_ready_503)
{
    bill_test_server a;
    /* [server] keys through config.local.toml (the harness writes [server]) */
    char local[64];
    bill_test_local_config(local, sizeof local, "[server]\ndrain_secs = 3\n");
    ck_assert_int_eq(bill_test_server_start(&a, BILL_SERVER_BIN, "[cluster]\nheartbeat_secs = 1\n"),
                     0);
    bill_test_local_config_end(local);
    char body[1 << 16];
    ck_assert_int_eq(bill_test_http_get(a.port, "/ready", body, sizeof body), 200);
    ck_assert_int_eq(kill(a.pid, SIGTERM), 0);
    bill_test_sleep_ms(500);
    ck_assert_int_eq(bill_test_http_get(a.port, "/ready", body, sizeof body), 503);
    ck_assert_str_eq(body, "draining\n");
    ck_assert_int_eq(bill_test_http_get(a.port, "/health", body, sizeof body), 200);
    ck_assert_int_eq(bill_test_http_get(a.port, "/metrics", body, sizeof body), 200);
    ck_assert_msg(strstr(body, "\nbill_draining 1\n") != NULL, "metrics: no bill_draining 1");
    char *url = strdup(a.db_url);
    ck_assert_int_eq(q(url, "SELECT count(*) FROM server_instances WHERE state = 'draining'"), 1);
    /* still there one second before the drain ends */
    bill_test_sleep_ms(1500);
    ck_assert_int_eq(bill_test_http_get(a.port, "/ready", body, sizeof body), 503);
    /* no second signal: it stops by itself (drain 3 s + in-flight none) */
    ck_assert_int_eq(bill_test_server_stop(&a, 0, 10000), 0);
    ck_assert_int_eq(bill_test_http_get(a.port, "/ready", body, sizeof body), 0);
    ck_assert_int_eq(q(url, "SELECT count(*) FROM server_instances"), 0);
    free(url);
}
END_TEST

BILL_TEST_MAIN("cluster_server", 120, NULL, NULL, test_cluster_server__roles_hand_over,
               test_cluster_server__only_holder_bills, test_cluster_server__drain_ready_503);
