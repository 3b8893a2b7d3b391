/*
 * test_log.c — unit tests for the logger: BILL_LOG filter parsing and
 * longest-prefix matching, text/JSON line formats and escaping, context,
 * key/values, reload from the environment, sinks and thread safety. Records
 * are captured through bill_log_set_sink (and once through real stderr).
 */
#include <bill/bill.h>

#include <check.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check_main.h"

/* ---- capture sink ------------------------------------------------------ */

typedef struct {
    char lines[64][2048];
    int n;
    long total;
    size_t last_len;
} capture;

static capture cap;

static void cap_sink(const bill_log_record *rec, void *user)
{
    capture *c = user;
    c->total++;
    c->last_len = rec->line_len;
    if (c->n < 64)
        snprintf(c->lines[c->n++], sizeof c->lines[0], "%.*s", (int)rec->line_len, rec->line);
}

static int64_t fixed_now;
static int64_t fixed_clock(void *user)
{
    (void)user;
    return fixed_now;
}

static void setup(void)
{
    memset(&cap, 0, sizeof cap);
    unsetenv("BILL_LOG");
    unsetenv("BILL_LOG_FORMAT");
    ck_assert_int_eq(bill_log_set_filter("info"), BILL_OK);
    bill_log_set_format(BILL_LOG_FORMAT_TEXT);
    bill_log_set_sink(cap_sink, &cap);
    bill_log_set_context(NULL);
    /* 2026-11-23T20:00:00.123Z */
    fixed_now = INT64_C(1795464000) * BILL_USEC_PER_SEC + 123456;
    bill_clock_set(fixed_clock, NULL);
}

static void teardown(void)
{
    bill_log_set_sink(NULL, NULL);
    bill_clock_set(NULL, NULL);
}

/* ---- filters ----------------------------------------------------------- */

START_TEST(test_log__default_is_info)
{
    ck_assert_int_eq(bill_log_set_filter(NULL), BILL_OK);
    ck_assert(bill_log_enabled(BILL_LOG_LEVEL_INFO, "anything"));
    ck_assert(bill_log_enabled(BILL_LOG_LEVEL_ERROR, "anything"));
    ck_assert(!bill_log_enabled(BILL_LOG_LEVEL_DEBUG, "anything"));
    ck_assert(!bill_log_enabled(BILL_LOG_LEVEL_OFF, "anything"));
}
END_TEST

START_TEST(test_log__filter_per_module)
{
    ck_assert_int_eq(bill_log_set_filter("bill_server=debug,libbill::plugins=warn"), BILL_OK);
    ck_assert(bill_log_enabled(BILL_LOG_LEVEL_DEBUG, "bill_server"));
    ck_assert(bill_log_enabled(BILL_LOG_LEVEL_DEBUG, "bill_server::grpc"));
    ck_assert(!bill_log_enabled(BILL_LOG_LEVEL_TRACE, "bill_server"));
    ck_assert(!bill_log_enabled(BILL_LOG_LEVEL_DEBUG, "bill_serverx"));
    ck_assert(!bill_log_enabled(BILL_LOG_LEVEL_INFO, "libbill::plugins"));
    ck_assert(!bill_log_enabled(BILL_LOG_LEVEL_INFO, "libbill::plugins::loader"));
    ck_assert(bill_log_enabled(BILL_LOG_LEVEL_WARN, "libbill::plugins::loader"));
    ck_assert(bill_log_enabled(BILL_LOG_LEVEL_INFO, "libbill::store"));
    ck_assert(!bill_log_enabled(BILL_LOG_LEVEL_DEBUG, "libbill::store"));
}
END_TEST

START_TEST(test_log__filter_default_plus_trace_module)
{
    ck_assert_int_eq(bill_log_set_filter("warn,libbill::store=trace"), BILL_OK);
    ck_assert(bill_log_enabled(BILL_LOG_LEVEL_TRACE, "libbill::store::pool"));
    ck_assert(!bill_log_enabled(BILL_LOG_LEVEL_INFO, "libbill::auth"));
    ck_assert(bill_log_enabled(BILL_LOG_LEVEL_WARN, "libbill::auth"));
    ck_assert(!bill_log_enabled(BILL_LOG_LEVEL_INFO, "libbill"));
}
END_TEST

START_TEST(test_log__filter_longest_prefix_wins)
{
    ck_assert_int_eq(
        bill_log_set_filter(" libbill::store::pool=off , libbill=error,libbill::store=DEBUG,,"), BILL_OK);
    ck_assert(bill_log_enabled(BILL_LOG_LEVEL_DEBUG, "libbill::store::migrate"));
    ck_assert(!bill_log_enabled(BILL_LOG_LEVEL_ERROR, "libbill::store::pool"));
    ck_assert(!bill_log_enabled(BILL_LOG_LEVEL_ERROR, "libbill::store::pool::conn"));
    ck_assert(!bill_log_enabled(BILL_LOG_LEVEL_WARN, "libbill::auth"));
    ck_assert(bill_log_enabled(BILL_LOG_LEVEL_ERROR, "libbill::auth"));
    ck_assert(bill_log_enabled(BILL_LOG_LEVEL_INFO, "bill_cli")); /* default stays info */
    /* A bare module means trace; a later directive for a module replaces it. */
    ck_assert_int_eq(bill_log_set_filter("libbill::auth,libbill::x=info,libbill::x=error"), BILL_OK);
    ck_assert(bill_log_enabled(BILL_LOG_LEVEL_TRACE, "libbill::auth::jwt"));
    ck_assert(!bill_log_enabled(BILL_LOG_LEVEL_WARN, "libbill::x"));
    ck_assert_int_eq(bill_log_set_filter("off"), BILL_OK);
    ck_assert(!bill_log_enabled(BILL_LOG_LEVEL_ERROR, "x"));
}
END_TEST

START_TEST(test_log__filter_rejects_bad_spec_keeps_previous)
{
    ck_assert_int_eq(bill_log_set_filter("bill_server=debug"), BILL_OK);
    ck_assert_int_eq(bill_log_set_filter("libbill=loud"), BILL_EINVALID);
    ck_assert_str_eq(bill_error_last()->field, "BILL_LOG");
    ck_assert_ptr_nonnull(strstr(bill_error_last()->message, "\"loud\""));
    ck_assert_int_eq(bill_log_set_filter("=debug"), BILL_EINVALID);
    ck_assert_int_eq(bill_log_set_filter("foo/bar"), BILL_EINVALID);
    ck_assert_int_eq(bill_log_set_filter("info,a b=debug"), BILL_EINVALID);
    ck_assert(bill_log_enabled(BILL_LOG_LEVEL_DEBUG, "bill_server"));
    int l = -1;
    ck_assert_int_eq(bill_log_level_parse("Trace", &l), BILL_OK);
    ck_assert_int_eq(l, BILL_LOG_LEVEL_TRACE);
    ck_assert_int_eq(bill_log_level_parse("verbose", &l), BILL_EINVALID);
}
END_TEST

/* ---- formats ----------------------------------------------------------- */

START_TEST(test_log__text_line_format)
{
    bill_log(BILL_LOG_LEVEL_INFO, "bill_server", "hello %d", 42);
    BILL_LOG_ERROR("libbill::store", "boom");
    ck_assert_int_eq(cap.n, 2);
    ck_assert_str_eq(cap.lines[0], "2026-11-23T20:00:00.123Z  INFO bill_server: hello 42\n");
    ck_assert_str_eq(cap.lines[1], "2026-11-23T20:00:00.123Z ERROR libbill::store: boom\n");
}
END_TEST

static int side_effects;
static int bump(void)
{
    return ++side_effects;
}

START_TEST(test_log__filtered_records_cost_nothing)
{
    side_effects = 0;
    BILL_LOG_DEBUG("bill_server", "never %d", bump());
    BILL_LOG_TRACE("libbill::store", "never %d", bump());
    bill_log(BILL_LOG_LEVEL_DEBUG, "bill_server", "never either");
    ck_assert_int_eq(side_effects, 0);
    ck_assert_int_eq(cap.total, 0);
    ck_assert_int_eq(bill_log_set_filter("info,bill_server=debug"), BILL_OK);
    BILL_LOG_DEBUG("bill_server", "now %d", bump());
    ck_assert_int_eq(side_effects, 1);
    ck_assert_int_eq(cap.total, 1);
}
END_TEST

START_TEST(test_log__text_escapes_control_chars_and_context_kv)
{
    bill_log_field kv[] = { { "method", "/rustbill.identity.IdentityService/Login" },
                            { "status", "a b" },
                            { NULL, "skipped" },
                            { "empty", NULL } };
    bill_log_set_context("req=abc");
    ck_assert_str_eq(bill_log_context(), "req=abc");
    bill_log_kv(BILL_LOG_LEVEL_WARN, "bill_server", kv, 4, "line1\nline2\tx\001");
    ck_assert_int_eq(cap.n, 1);
    ck_assert_str_eq(cap.lines[0],
                     "2026-11-23T20:00:00.123Z  WARN [req=abc] bill_server: line1\\nline2\\tx\\x01"
                     " method=/rustbill.identity.IdentityService/Login status=\"a b\" empty=\"\"\n");
}
END_TEST

START_TEST(test_log__json_escapes_and_parses)
{
    const char *msg = "quote\" back\\ nl\n tab\t bell\007 utf8 \xc3\xa9 bad \xff end";
    bill_log_field kv[] = { { "duration_ms", "12" }, { "msg", "clash" }, { "k\"ey", "v\nal" } };
    json_object *o, *v;

    bill_log_set_format(BILL_LOG_FORMAT_JSON);
    bill_log_set_context("req=\"x\"");
    bill_log_kv(BILL_LOG_LEVEL_INFO, "bill_server", kv, 3, "%s", msg);
    ck_assert_int_eq(cap.n, 1);
    ck_assert_ptr_nonnull(strstr(cap.lines[0],
                                 "{\"ts\":\"2026-11-23T20:00:00.123Z\",\"level\":\"INFO\","
                                 "\"module\":\"bill_server\",\"msg\":\"quote\\\" back\\\\ nl\\n "
                                 "tab\\t bell\\u0007 utf8 \xc3\xa9 bad \\ufffd end\""));
    ck_assert_int_eq(strchr(cap.lines[0], '\n') - cap.lines[0], (long)strlen(cap.lines[0]) - 1);

    o = json_tokener_parse(cap.lines[0]);
    ck_assert_ptr_nonnull(o);
    ck_assert(json_object_object_get_ex(o, "msg", &v));
    ck_assert_str_eq(json_object_get_string(v),
                     "quote\" back\\ nl\n tab\t bell\007 utf8 \xc3\xa9 bad \xef\xbf\xbd end");
    ck_assert(json_object_object_get_ex(o, "ctx", &v));
    ck_assert_str_eq(json_object_get_string(v), "req=\"x\"");
    ck_assert(json_object_object_get_ex(o, "duration_ms", &v));
    ck_assert_str_eq(json_object_get_string(v), "12");
    ck_assert(json_object_object_get_ex(o, "kv_msg", &v)); /* reserved key not duplicated */
    ck_assert_str_eq(json_object_get_string(v), "clash");
    ck_assert(json_object_object_get_ex(o, "k\"ey", &v));
    ck_assert_str_eq(json_object_get_string(v), "v\nal");
    ck_assert(json_object_object_get_ex(o, "level", &v));
    ck_assert_str_eq(json_object_get_string(v), "INFO");
    json_object_put(o);
}
END_TEST

START_TEST(test_log__long_message_not_truncated)
{
    char big[1500];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    bill_log_set_sink(NULL, NULL);
    bill_log_set_sink(cap_sink, &cap);
    bill_log(BILL_LOG_LEVEL_INFO, "m", "%s|%s", big, big);
    ck_assert_int_eq(cap.total, 1);
    /* The capture buffer holds 2047 bytes; the record line itself is longer. */
    ck_assert_uint_eq(strlen(cap.lines[0]), sizeof cap.lines[0] - 1);
    ck_assert_uint_eq(cap.last_len, strlen("2026-11-23T20:00:00.123Z  INFO m: ") + 2 * 1499 + 1 + 1);
}
END_TEST

/* ---- env, reload, sinks ------------------------------------------------ */

START_TEST(test_log__reload_from_env)
{
    setenv("BILL_LOG", "warn,libbill::store=trace", 1);
    setenv("BILL_LOG_FORMAT", "json", 1);
    ck_assert_int_eq(bill_log_reload(), BILL_OK);
    ck_assert(bill_log_enabled(BILL_LOG_LEVEL_TRACE, "libbill::store"));
    ck_assert(!bill_log_enabled(BILL_LOG_LEVEL_INFO, "bill_server"));
    BILL_LOG_WARN("bill_server", "w");
    ck_assert_int_eq(cap.n, 1);
    ck_assert_int_eq(cap.lines[0][0], '{');

    setenv("BILL_LOG", "libbill::store=chatty", 1);
    ck_assert_int_eq(bill_log_reload(), BILL_EINVALID);
    ck_assert(bill_log_enabled(BILL_LOG_LEVEL_TRACE, "libbill::store")); /* kept */
    ck_assert_int_eq(cap.n, 2);
    ck_assert_ptr_nonnull(strstr(cap.lines[1], "\"level\":\"WARN\""));
    ck_assert_ptr_nonnull(strstr(cap.lines[1], "chatty"));

    unsetenv("BILL_LOG");
    unsetenv("BILL_LOG_FORMAT");
    ck_assert_int_eq(bill_log_reload(), BILL_OK);
    ck_assert(!bill_log_enabled(BILL_LOG_LEVEL_DEBUG, "libbill::store"));
    BILL_LOG_INFO("bill_server", "back to text");
    ck_assert_int_eq(cap.lines[2][0], '2');
}
END_TEST

static void recursive_sink(const bill_log_record *rec, void *user)
{
    capture *c = user;
    /* Logging from a sink must be dropped, not deadlock or recurse. */
    bill_log(BILL_LOG_LEVEL_ERROR, "sink", "inner");
    cap_sink(rec, c);
}

START_TEST(test_log__sink_may_not_recurse)
{
    bill_log_set_sink(recursive_sink, &cap);
    BILL_LOG_INFO("outer", "once");
    ck_assert_int_eq(cap.total, 1);
    ck_assert_ptr_nonnull(strstr(cap.lines[0], "outer: once"));
}
END_TEST

START_TEST(test_log__default_sink_is_stderr)
{
    int fds[2], saved;
    char buf[512] = { 0 };
    ssize_t n;
    ck_assert_int_eq(pipe(fds), 0);
    fflush(stderr);
    saved = dup(2);
    dup2(fds[1], 2);
    bill_log_set_sink(NULL, NULL);
    BILL_LOG_INFO("bill_server", "to stderr");
    dup2(saved, 2);
    close(saved);
    close(fds[1]);
    n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    ck_assert_int_gt(n, 0);
    ck_assert_str_eq(buf, "2026-11-23T20:00:00.123Z  INFO bill_server: to stderr\n");
}
END_TEST

static void *log_many(void *arg)
{
    char ctx[32];
    snprintf(ctx, sizeof ctx, "req=t%d", (int)(size_t)arg);
    bill_log_set_context(ctx);
    for (int i = 0; i < 2000; i++)
        BILL_LOG_INFO("libbill::threads", "line %d", i);
    return NULL;
}

static long counted;
static void count_sink(const bill_log_record *rec, void *user)
{
    (void)user;
    /* Every record is whole: one trailing newline, the thread's own context. */
    if (rec->line_len > 0 && rec->line[rec->line_len - 1] == '\n' &&
        memchr(rec->line, '\n', rec->line_len) == rec->line + rec->line_len - 1 &&
        strncmp(rec->context, "req=t", 5) == 0 && strstr(rec->line, rec->context))
        counted++;
}

START_TEST(test_log__concurrent_threads)
{
    pthread_t t[4];
    counted = 0;
    bill_log_set_sink(count_sink, NULL);
    for (size_t i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, log_many, (void *)i), 0);
    /* Reconfigure while they log: must not crash or lose the filter. */
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(bill_log_set_filter(i % 2 ? "info" : "info,libbill::other=debug"), BILL_OK);
    for (size_t i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    ck_assert_int_eq(counted, 4 * 2000);
}
END_TEST

/* Runs without the fixture: the first logging call of a fresh (forked)
 * process must read the environment, fall back to "info" on a bad BILL_LOG,
 * and say so with one WARN. Needs Check's fork mode for a fresh state. */
START_TEST(test_log__bad_env_at_startup_warns_and_uses_info)
{
    const char *fork_mode = getenv("CK_FORK");
    if (fork_mode && strcmp(fork_mode, "no") == 0)
        return;
    memset(&cap, 0, sizeof cap);
    setenv("BILL_LOG", "libbill=loud", 1);
    setenv("BILL_LOG_FORMAT", "JSON", 1);
    bill_log_set_sink(cap_sink, &cap);
    BILL_LOG_INFO("bill_server", "started");
    BILL_LOG_DEBUG("bill_server", "hidden");
    ck_assert_int_eq(cap.n, 2);
    ck_assert_ptr_nonnull(strstr(cap.lines[0], "\"level\":\"WARN\""));
    ck_assert_ptr_nonnull(strstr(cap.lines[0], "loud"));
    ck_assert_ptr_nonnull(strstr(cap.lines[1], "\"msg\":\"started\""));
    bill_log_set_sink(NULL, NULL);
}
END_TEST

BILL_TEST_MAIN_CASES("log",
                     BILL_TEST_CASE("log", 0, setup, teardown, test_log__default_is_info,
                                    test_log__filter_per_module,
                                    test_log__filter_default_plus_trace_module,
                                    test_log__filter_longest_prefix_wins,
                                    test_log__filter_rejects_bad_spec_keeps_previous,
                                    test_log__text_line_format,
                                    test_log__filtered_records_cost_nothing,
                                    test_log__text_escapes_control_chars_and_context_kv,
                                    test_log__json_escapes_and_parses,
                                    test_log__long_message_not_truncated,
                                    test_log__reload_from_env, test_log__sink_may_not_recurse,
                                    test_log__default_sink_is_stderr,
                                    test_log__concurrent_threads),
                     BILL_TEST_CASE("log-startup", 0, NULL, NULL,
                                    test_log__bad_env_at_startup_warns_and_uses_info));
