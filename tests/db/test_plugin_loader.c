/*
 * test_plugin_loader.c — the plugin host without the database: descriptor
 * validation (ABI mismatch, NULL id), checked calls against a garbage
 * plugin, hot reload while calls run, and the per-host circuit breaker.
 * White-box (links libbill's objects) to reach the host-services table.
 */
#include "check_main.h"
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "db_fixture.h"
#include "plugins/plugins_internal.h"

#ifndef EXAMPLE_PLUGIN_DIR
#error "EXAMPLE_PLUGIN_DIR must name the build dir of tests/plugins/example"
#endif

static char warn_buf[8192];
static pthread_mutex_t warn_lock = PTHREAD_MUTEX_INITIALIZER;

static void capture_sink(const bill_log_record *rec, void *user)
{
    (void)user;
    if (rec->level != BILL_LOG_LEVEL_WARN)
        return;
    pthread_mutex_lock(&warn_lock);
    size_t n = strlen(warn_buf);
    snprintf(warn_buf + n, sizeof warn_buf - n, "%s\n", rec->message);
    pthread_mutex_unlock(&warn_lock);
}

static bill_plugins *new_registry(const char *dir, int threshold, int cooldown_ms)
{
    bill_plugins_options o;
    bill_plugins *p = NULL;
    bill_plugins_options_init(&o);
    o.plugins_dir = dir;
    o.breaker_failure_threshold = threshold;
    o.breaker_cooldown_ms = cooldown_ms;
    ck_assert_int_eq(bill_plugins_new(&p, &o), BILL_OK);
    return p;
}

static const char *variant(const char *name)
{
    static _Thread_local char path[1024];
    snprintf(path, sizeof path, "%s/%s.so", EXAMPLE_PLUGIN_DIR, name);
    return path;
}

static bill_gateway_payment_request payreq(const char *id, int64_t cents)
{
    bill_gateway_payment_request r = {0};
    r.version = BILL_GATEWAY_PAYMENT_REQUEST_VERSION;
    r.payment_id = id;
    r.amount_cents = cents;
    r.currency = "CNY";
    return r;
}

START_TEST(test_plugin_loader__loads_and_calls)
{
    bill_plugins *p = new_registry("/nonexistent", 5, 1000);
    bill_plugin_info info;
    bill_plugin_instance *inst = NULL;
    bill_gateway_payment_info pi;
    bill_gateway_payment_request req = payreq("pay-1", 12345);

    ck_assert_int_eq(bill_plugins_load_file(p, variant("example_v1"), &info), BILL_OK);
    ck_assert_str_eq(info.id, "gateway-example");
    ck_assert_int_eq(info.kind, BILL_PLUGIN_GATEWAY);
    ck_assert_str_eq(info.version, "1");
    ck_assert_uint_eq(strlen(info.file_hash), 64);
    ck_assert_int_eq(bill_plugin_instance_open(p, BILL_PLUGIN_GATEWAY, "gateway-example",
                                               "{\"account\":\"62220001\"}", &inst), BILL_OK);
    ck_assert_int_eq(bill_plugin_gateway_create_payment(inst, &req, &pi), BILL_OK);
    ck_assert_str_eq(pi.gateway_payment_id, "pay-1");
    ck_assert_str_eq(pi.instructions, "v1: transfer 123.45 to account 62220001, reference pay-1");
    bill_gateway_payment_info_clear(&pi);
    /* A notifier call on a gateway is refused by the host, not the plugin. */
    bill_notification n = {.version = 1, .subject = "x", .body = "y"};
    ck_assert_int_eq(bill_plugin_notify(inst, &n), BILL_EINVALID);
    /* The plugin's own error comes back with its message and the plugin id. */
    bill_gateway_callback cb = {.version = 1, .method = "POST", .query = "", .body = ""};
    bill_gateway_callback_result cr;
    ck_assert_int_eq(bill_plugin_gateway_handle_callback(inst, &cb, &cr), BILL_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "gateway-example"));
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "takes no callbacks"));
    char *detail = NULL;
    ck_assert_int_eq(bill_plugin_health(inst, &detail), BILL_OK);
    ck_assert_str_eq(detail, "example is always healthy");
    free(detail);
    bill_plugin_instance_release(inst);
    /* Unknown plugin id: unavailable, named. */
    ck_assert_int_eq(bill_plugin_instance_open(p, BILL_PLUGIN_GATEWAY, "nope", "{}", &inst),
                     BILL_EUNAVAILABLE);
    bill_plugins_free(p);
}
END_TEST

START_TEST(test_plugin_loader__abi_mismatch_refused_with_warn)
{
    bill_plugins *p = new_registry("/nonexistent", 5, 1000);
    bill_plugin_infos list = {.count = 99};

    warn_buf[0] = '\0';
    bill_log_set_sink(capture_sink, NULL);
    ck_assert_int_eq(bill_plugins_load_file(p, variant("example_badabi"), NULL), BILL_EPLUGIN);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "ABI version 99 is not supported"));
    ck_assert_ptr_nonnull(strstr(warn_buf, "ABI version 99"));
    ck_assert_int_eq(bill_plugins_load_file(p, variant("example_nullid"), NULL), BILL_EPLUGIN);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "descriptor id is NULL"));
    ck_assert_ptr_nonnull(strstr(warn_buf, "descriptor id is NULL"));
    /* A file that is not a plugin at all. */
    ck_assert_int_eq(bill_plugins_load_file(p, "/etc/hostname", NULL), BILL_EPLUGIN);
    bill_log_set_sink(NULL, NULL);
    ck_assert_int_eq(bill_plugins_list(p, &list), BILL_OK);
    ck_assert_uint_eq(list.count, 0);
    bill_plugin_infos_clear(&list);
    bill_plugins_free(p);
}
END_TEST

START_TEST(test_plugin_loader__garbage_result_is_clean_error)
{
    bill_plugins *p = new_registry("/nonexistent", 5, 1000);
    bill_plugin_instance *inst = NULL;
    bill_gateway_payment_info pi;
    bill_gateway_payment_request req = payreq("pay-2", 100);

    ck_assert_int_eq(bill_plugins_load_file(p, variant("example_garbage"), NULL), BILL_OK);
    ck_assert_int_eq(bill_plugin_instance_open(p, BILL_PLUGIN_GATEWAY, "gateway-example", "{}",
                                               &inst), BILL_OK);
    memset(&pi, 0x5a, sizeof pi);
    ck_assert_int_eq(bill_plugin_gateway_create_payment(inst, &req, &pi), BILL_EPLUGIN);
    ck_assert_ptr_null(pi.instructions); /* nothing half-set, nothing leaked (ASan) */
    ck_assert_ptr_null(pi.gateway_payment_id);
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "gateway_payment_id is empty"));
    /* A non-positive amount never reaches the plugin. */
    req.amount_cents = 0;
    ck_assert_int_eq(bill_plugin_gateway_create_payment(inst, &req, &pi), BILL_EINVALID);
    /* Bad config reaches init, which refuses it cleanly. */
    bill_plugin_instance *bad = NULL;
    ck_assert_int_eq(bill_plugin_instance_open(p, BILL_PLUGIN_GATEWAY, "gateway-example", "[1",
                                               &bad), BILL_EINVALID);
    ck_assert_ptr_null(bad);
    bill_plugin_instance_release(inst);
    bill_plugins_free(p);
}
END_TEST

/* ---- hot reload -------------------------------------------------------- */

typedef struct reload_ctx {
    bill_plugins *p;
    atomic_bool stop;
    atomic_int ok, failed, saw_v2;
} reload_ctx;

static void *caller(void *arg)
{
    reload_ctx *c = arg;
    while (!atomic_load(&c->stop)) {
        bill_plugin_instance *inst = NULL;
        bill_gateway_payment_info pi;
        bill_gateway_payment_request req = payreq("pay-r", 500);
        if (bill_plugin_instance_open(c->p, BILL_PLUGIN_GATEWAY, "gateway-example",
                                      "{\"account\":\"a\",\"delay_ms\":15}", &inst) != BILL_OK) {
            atomic_fetch_add(&c->failed, 1);
            continue;
        }
        if (bill_plugin_gateway_create_payment(inst, &req, &pi) == BILL_OK) {
            atomic_fetch_add(&c->ok, 1);
            if (strncmp(pi.instructions, "v2:", 3) == 0)
                atomic_fetch_add(&c->saw_v2, 1);
            bill_gateway_payment_info_clear(&pi);
        } else {
            atomic_fetch_add(&c->failed, 1);
        }
        bill_plugin_instance_release(inst);
    }
    return NULL;
}

START_TEST(test_plugin_loader__hot_reload_while_calls_run)
{
    char dir[] = "/tmp/bill-plugtest-XXXXXX", path[1100];
    reload_ctx c = {0};
    pthread_t th[4];
    bill_plugin_scan_stats st;
    bill_plugin_infos list = {0};
    struct timespec pause = {0, 150 * 1000000L};

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/gateway-example.so", dir);
    bill_test_copy_file(variant("example_v1"), path);
    c.p = new_registry(dir, 5, 1000);
    ck_assert_int_eq(bill_plugins_scan(c.p, &st), BILL_OK);
    ck_assert_int_eq(st.loaded, 1);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, caller, &c), 0);
    nanosleep(&pause, NULL);
    bill_test_copy_file(variant("example_v2"), path);
    ck_assert_int_eq(bill_plugins_scan(c.p, &st), BILL_OK);
    ck_assert_int_eq(st.reloaded, 1);
    nanosleep(&pause, NULL);
    /* An unchanged file is not reloaded again. */
    ck_assert_int_eq(bill_plugins_scan(c.p, &st), BILL_OK);
    ck_assert_int_eq(st.unchanged, 1);
    nanosleep(&pause, NULL);
    atomic_store(&c.stop, true);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    ck_assert_int_eq(atomic_load(&c.failed), 0);
    ck_assert_int_gt(atomic_load(&c.ok), 20);
    ck_assert_int_gt(atomic_load(&c.saw_v2), 0);
    ck_assert_int_eq(bill_plugins_list(c.p, &list), BILL_OK);
    ck_assert_uint_eq(list.count, 1);
    ck_assert_str_eq(list.items[0].version, "2");
    ck_assert_uint_eq(list.items[0].generation, 2);
    bill_plugin_infos_clear(&list);
    /* Generation 1 was dlclose'd once its calls drained: only one left. */
    pthread_mutex_lock(&c.p->lock);
    int gens = 0;
    for (bill__plugin_gen *g = c.p->gens; g; g = g->next)
        gens++;
    pthread_mutex_unlock(&c.p->lock);
    ck_assert_int_eq(gens, 1);
    bill_plugins_free(c.p);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(test_plugin_loader__scan_dedupes_kind_and_id)
{
    char dir[] = "/tmp/bill-plugtest-XXXXXX", a[1100], b[1100], bad[1100];
    bill_plugin_scan_stats st;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(a, sizeof a, "%s/a.so", dir);
    snprintf(b, sizeof b, "%s/b.so", dir);
    snprintf(bad, sizeof bad, "%s/c.so", dir);
    bill_test_copy_file(variant("example_v1"), a);
    bill_test_copy_file(variant("example_v2"), b);
    bill_test_copy_file(variant("example_badabi"), bad);
    bill_plugins *p = new_registry(dir, 5, 1000);
    ck_assert_int_eq(bill_plugins_scan(p, &st), BILL_OK);
    ck_assert_int_eq(st.files, 3);
    ck_assert_int_eq(st.loaded, 1);
    ck_assert_int_eq(st.duplicates, 1);
    ck_assert_int_eq(st.refused, 1);
    bill_plugins_free(p);
    unlink(a);
    unlink(b);
    unlink(bad);
    rmdir(dir);
}
END_TEST

/* ---- circuit breaker ----------------------------------------------------- */

typedef struct tiny_server {
    int fd;
    int port;
    pthread_t th;
} tiny_server;

static void *serve(void *arg)
{
    tiny_server *s = arg;
    for (;;) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        char buf[4096];
        ssize_t r = read(c, buf, sizeof buf);
        (void)r;
        const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
        ssize_t w = write(c, resp, strlen(resp));
        (void)w;
        close(c);
    }
}

static int listen_on(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(fd, 16), 0);
    return fd;
}

static int free_port(void)
{
    int fd = listen_on(0);
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    return ntohs(sa.sin_port);
}

static int get(bill_plugins *p, const char *url, long *status)
{
    bill_plugin_http_request req = {.version = 1, .method = "GET", .url = url,
                                    .timeout_ms = 2000, .connect_timeout_ms = 500};
    bill_plugin_http_response resp;
    int rc = p->host.http(&p->host, &req, &resp);
    if (rc == BILL_OK) {
        *status = resp.status;
        p->host.http_response_free(&resp);
    }
    return rc;
}

static bill_breaker_stat stat_of(bill_plugins *p, const char *host)
{
    bill_breaker_stat *arr = NULL, out = {0};
    size_t n = 0;
    ck_assert_int_eq(bill_breaker_stats(p, &arr, &n), BILL_OK);
    for (size_t i = 0; i < n; i++)
        if (strcmp(arr[i].host, host) == 0)
            out = arr[i];
    free(arr);
    return out;
}

START_TEST(test_plugin_loader__breaker_opens_and_half_opens)
{
    bill_plugins *p = new_registry("/nonexistent", 3, 300);
    int port = free_port();
    char url[128], host[64];
    long status = 0;
    struct timespec cool = {0, 350 * 1000000L};
    tiny_server srv = {0};

    snprintf(url, sizeof url, "http://127.0.0.1:%d/ping", port);
    snprintf(host, sizeof host, "127.0.0.1:%d", port);
    warn_buf[0] = '\0';
    bill_log_set_sink(capture_sink, NULL);
    /* Nothing listens: three real failures open the breaker. */
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(get(p, url, &status), BILL_EUNAVAILABLE);
    ck_assert_int_eq(stat_of(p, host).state, BILL_BREAKER_OPEN);
    /* While open: fail fast without a connect. */
    ck_assert_int_eq(get(p, url, &status), BILL_EUNAVAILABLE);
    ck_assert_uint_eq(stat_of(p, host).rejected_total, 1);
    /* After the cool-down the probe still fails: open again. */
    nanosleep(&cool, NULL);
    ck_assert_int_eq(get(p, url, &status), BILL_EUNAVAILABLE);
    ck_assert_int_eq(stat_of(p, host).state, BILL_BREAKER_OPEN);
    ck_assert_uint_eq(stat_of(p, host).opened_total, 2);
    /* Peer comes back; after the cool-down one probe closes the breaker. */
    srv.fd = listen_on(port);
    ck_assert_int_eq(pthread_create(&srv.th, NULL, serve, &srv), 0);
    ck_assert_int_eq(get(p, url, &status), BILL_EUNAVAILABLE); /* still cooling down */
    nanosleep(&cool, NULL);
    ck_assert_int_eq(get(p, url, &status), BILL_OK);
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(stat_of(p, host).state, BILL_BREAKER_CLOSED);
    ck_assert_int_eq(get(p, url, &status), BILL_OK);
    bill_log_set_sink(NULL, NULL);
    ck_assert_ptr_nonnull(strstr(warn_buf, "closed -> open"));
    ck_assert_ptr_nonnull(strstr(warn_buf, "open -> half_open"));
    ck_assert_ptr_nonnull(strstr(warn_buf, "half_open -> closed"));
    shutdown(srv.fd, SHUT_RDWR);
    close(srv.fd);
    pthread_join(srv.th, NULL);
    bill_plugins_free(p);
}
END_TEST

START_TEST(test_plugin_loader__config_schema_validation)
{
    const char *schema =
        "{\"type\":\"object\",\"required\":[\"account\"],\"additionalProperties\":false,"
        "\"properties\":{\"account\":{\"type\":\"string\"},"
        "\"mode\":{\"type\":\"string\",\"enum\":[\"live\",\"test\"]},"
        "\"port\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":65535}}}";
    ck_assert_int_eq(bill_plugin_config_validate(schema, "{\"account\":\"x\",\"port\":25}"), BILL_OK);
    ck_assert_int_eq(bill_plugin_config_validate(schema, "{\"port\":25}"), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "account");
    ck_assert_int_eq(bill_plugin_config_validate(schema, "{\"account\":1}"), BILL_EINVALID);
    ck_assert_int_eq(bill_plugin_config_validate(schema, "{\"account\":\"x\",\"mode\":\"prod\"}"),
                     BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "mode");
    ck_assert_int_eq(bill_plugin_config_validate(schema, "{\"account\":\"x\",\"port\":70000}"),
                     BILL_EINVALID);
    ck_assert_int_eq(bill_plugin_config_validate(schema, "{\"account\":\"x\",\"port\":2.5}"),
                     BILL_EINVALID);
    ck_assert_int_eq(bill_plugin_config_validate(schema, "{\"account\":\"x\",\"extra\":1}"),
                     BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "extra");
    ck_assert_int_eq(bill_plugin_config_validate(schema, "not json"), BILL_EINVALID);
}
END_TEST

START_TEST(test_plugin_loader__banktransfer_stays_pending)
{
    bill_plugins *p = new_registry("/nonexistent", 5, 1000);
    bill_plugin_instance *inst = NULL;
    bill_gateway_payment_info pi;
    bill_gateway_callback_result cr;
    bill_gateway_payment_request req = payreq("9f0c", 19900);
    bill_gateway_callback cb = {.version = 1, .method = "POST", .query = "",
                                .body = "trade_status=TRADE_SUCCESS&out_trade_no=9f0c"};

    ck_assert_int_eq(bill_plugins_load_file(p, BUILTIN_PLUGIN_DIR
                     "/gateway-banktransfer/gateway-banktransfer.so", NULL), BILL_OK);
    ck_assert_int_eq(bill_plugin_instance_open(p, BILL_PLUGIN_GATEWAY, "gateway-banktransfer",
                     "{\"bank_name\":\"ICBC\",\"account_name\":\"Bill Ltd\","
                     "\"account_number\":\"6222 0001\"}", &inst), BILL_OK);
    ck_assert_int_eq(bill_plugin_gateway_create_payment(inst, &req, &pi), BILL_OK);
    ck_assert_str_eq(pi.gateway_payment_id, "9f0c");
    ck_assert_ptr_nonnull(strstr(pi.instructions, "199.00 CNY to ICBC, account 6222 0001"));
    ck_assert_ptr_nonnull(strstr(pi.instructions, "reference 9f0c"));
    ck_assert_ptr_null(pi.payment_url);
    bill_gateway_payment_info_clear(&pi);
    /* No callback can confirm a bank transfer: only staff can. */
    ck_assert_int_eq(bill_plugin_gateway_handle_callback(inst, &cb, &cr), BILL_OK);
    ck_assert(!cr.verified);
    bill_gateway_callback_result_clear(&cr);
    bill_plugin_instance_release(inst);
    ck_assert_int_eq(bill_plugin_instance_open(p, BILL_PLUGIN_GATEWAY, "gateway-banktransfer",
                     "{}", &inst), BILL_EINVALID);
    bill_plugins_free(p);
}
END_TEST

BILL_TEST_MAIN("plugin_loader", 60, NULL, NULL,
               test_plugin_loader__loads_and_calls,
               test_plugin_loader__abi_mismatch_refused_with_warn,
               test_plugin_loader__garbage_result_is_clean_error,
               test_plugin_loader__hot_reload_while_calls_run,
               test_plugin_loader__scan_dedupes_kind_and_id,
               test_plugin_loader__breaker_opens_and_half_opens,
               test_plugin_loader__config_schema_validation,
               test_plugin_loader__banktransfer_stays_pending);
