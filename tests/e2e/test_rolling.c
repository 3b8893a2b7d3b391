/*
 * test_rolling.c — zero-downtime rolling restart behind a real nginx
 * (Debian nginx-light) configured from the project's deploy/nginx.conf
 * (rolling.py templates its ports, certificate and paths): two bill-servers
 * on one database, steady native gRPC and gRPC-Web load through nginx, and
 * each instance restarted in turn the way deploy/README.md says —
 *   mark its upstream `down` and reload nginx, wait until nginx holds no
 *   connection to it (its /metrics bill_connections_open counts only the
 *   probe itself), SIGTERM it and wait for exit 0, start the new process
 *   on the same port, wait for /ready 200, mark it up and reload nginx —
 * with 0 failed requests of either kind.
 */
#include "check_main.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pg_harness.h"
#include "server_harness.h"

#define CFG "[cluster]\nheartbeat_secs = 1\n"

static long metric(int port, const char *name)
{
    static char body[1 << 17];
    if (bill_test_http_get(port, "/metrics", body, sizeof body) != 200)
        return -1;
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(body, key);
    return p ? atol(p + strlen(key)) : -1;
}

/* Mark the upstream on `port` down (or up) in WORK/site.conf and reload nginx. */
static void upstream(const char *work, int port, bool down)
{
    if (down)
        ck_assert_int_eq(bill_test_shell("sed -i 's|server 127.0.0.1:%d |server 127.0.0.1:%d down |' "
                                      "%s/site.conf", port, port, work), 0);
    else
        ck_assert_int_eq(bill_test_shell("sed -i 's|server 127.0.0.1:%d down |server 127.0.0.1:%d |' "
                                      "%s/site.conf", port, port, work), 0);
    ck_assert_msg(bill_test_shell("grep -q 'server 127.0.0.1:%d %s' %s/site.conf", port,
                               down ? "down" : "max_fails", work) == 0,
                  "site.conf: upstream %d not marked %s", port, down ? "down" : "up");
    ck_assert_int_eq(bill_test_shell("nginx -p %s -e %s/error.log -c %s/nginx.conf -s reload", work,
                                  work, work), 0);
}

static void restart(bill_test_server *s, const char *work, const char *url)
{
    int port = s->port;
    upstream(work, port, true);
    /* nginx's old workers finish their requests and close their upstream
     * connections; only our own /metrics probe is left */
    long open = -1;
    for (int i = 0; i < 300; i++) {
        open = metric(port, "bill_connections_open");
        if (open == 1)
            break;
        bill_test_sleep_ms(100);
    }
    ck_assert_msg(open == 1, "nginx still holds %ld connection(s) to %d", open - 1, port);
    ck_assert_int_eq(bill_test_server_stop(s, SIGTERM, 20000), 0);
    ck_assert_int_eq(bill_test_server_start_port(s, BILL_SERVER_BIN, CFG, url, port), 0);
    char body[256];
    int code = 0;
    for (int i = 0; i < 100 && code != 200; i++) {
        code = bill_test_http_get(port, "/ready", body, sizeof body);
        if (code != 200)
            bill_test_sleep_ms(100);
    }
    ck_assert_int_eq(code, 200);
    upstream(work, port, false);
    bill_test_sleep_ms(2000); /* steady load on both again */
}

START_TEST(test_rolling__zero_failed_requests)
{
    if (system("command -v nginx >/dev/null") != 0) {
        fprintf(stderr, "nginx not installed (Debian nginx-light): skipped\n");
        return;
    }
    bill_test_server a, b;
    bill_test_server_up_pair(&a, &b, BILL_SERVER_BIN, CFG, CFG);
    char *url = strdup(a.db_url);

    char work[] = "/tmp/bill-rolling.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(work));
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s %s %d %d", E2E_ROLLING, NGINX_SITE, work,
             a.port, b.port);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[512] = "";
    ck_assert_ptr_nonnull(fgets(line, sizeof line, p));
    ck_assert_msg(strncmp(line, "READY", 5) == 0, "rolling.py said: %s", line);

    bill_test_sleep_ms(1500);
    restart(&a, work, url);
    restart(&b, work, url);

    ck_assert_int_eq(bill_test_shell("touch %s/stop", work), 0);
    char done[512] = "";
    while (fgets(line, sizeof line, p)) {
        fputs(line, stderr);
        if (strncmp(line, "DONE", 4) == 0)
            snprintf(done, sizeof done, "%s", line);
    }
    int st = pclose(p);
    ck_assert_msg(strstr(done, "failed=0") != NULL, "load: %s", done);
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    /* both new processes served through nginx after their restart */
    ck_assert_int_gt(metric(a.port, "bill_grpc_requests_total{method=\"/rustbill.integration."
                                    "IntegrationService/ListGateways\",code=\"OK\"}"), 0);
    ck_assert_int_gt(metric(b.port, "bill_grpc_requests_total{method=\"/rustbill.integration."
                                    "IntegrationService/ListGateways\",code=\"OK\"}"), 0);
    ck_assert_int_eq(bill_test_server_stop(&a, SIGTERM, 15000), 0);
    ck_assert_int_eq(bill_test_server_stop(&b, SIGTERM, 15000), 0);
    (void)bill_test_shell("rm -rf %s", work);
    free(url);
}
END_TEST

BILL_TEST_MAIN("rolling", 180, NULL, NULL, test_rolling__zero_failed_requests);
