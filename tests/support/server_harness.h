/*
 * server_harness.h — run a real bill-server for end-to-end tests.
 *
 * bill_test_server_start() creates a fresh database (pg_harness.h), writes a
 * config.toml for it in a temporary directory (which becomes the server's
 * working directory), picks a free port, starts the binary and waits until it
 * accepts connections. The server's stderr goes to <dir>/server.log.
 */
#ifndef BILL_TEST_SERVER_HARNESS_H
#define BILL_TEST_SERVER_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

typedef struct bill_test_server {
    pid_t pid;
    int port;
    char dir[256];      /* working directory with config.toml and server.log */
    char log[300];
    char *db_url;       /* malloc'd */
    char plugdir[64];   /* plugins_dir of bill_test_server_start_plugins, or "" */
} bill_test_server;

/* The generated config's [rate_limit]: the layer runs, but at a rate no
 * functional test reaches however slowly the machine runs it (a limiter
 * counts time, and a test's pace under ASan on shared cores is not
 * predictable). A suite that asserts the limits passes its own [rate_limit]
 * table in extra_toml — usually BILL_TEST_RATE_LIMIT_STRICT, the shipped
 * defaults — and the harness then writes none. */
#define BILL_TEST_RATE_LIMIT_RELAXED \
    "[rate_limit]\nenabled = true\nlogin_per_sec = 100000\nregister_per_sec = 100000\n"
#define BILL_TEST_RATE_LIMIT_STRICT \
    "[rate_limit]\nenabled = true\nlogin_per_sec = 5\nregister_per_sec = 1\n"

/* `extra_toml` (may be NULL) is appended to the generated config. Returns 0,
 * or -1 with a message on stderr (and the server log printed). */
int bill_test_server_start(bill_test_server *s, const char *binary, const char *extra_toml);
/* Same on an existing database (db_url copied): a second server of one
 * cluster. */
int bill_test_server_start_on(bill_test_server *s, const char *binary, const char *extra_toml,
                              const char *db_url);

/* Same with built-in plugins: each id of the NULL-terminated `plugins`
 * ("gateway-yipay") is copied from <plugin_build_dir>/<id>/<id>.so into a
 * fresh plugins_dir, and a test [security] master_key (plugin secrets) is
 * configured; extra_toml follows. bill_test_server_stop removes the dir. */
int bill_test_server_start_plugins(bill_test_server *s, const char *binary,
                                   const char *plugin_build_dir, const char *const *plugins,
                                   const char *extra_toml);

/* Same on a given port (0: a free one): a new process taking the place of
 * a stopped one, as in a rolling restart. */
int bill_test_server_start_port(bill_test_server *s, const char *binary, const char *extra_toml,
                                const char *db_url, int port);

/* Send `sig` (SIGTERM for a graceful stop) and wait up to timeout_ms.
 * Returns the exit status (0..255), 128+signal when killed by one, or -1
 * on timeout (then the server is SIGKILLed). Frees db_url. */
int bill_test_server_stop(bill_test_server *s, int sig, int timeout_ms);

/* True while the process is alive. */
int bill_test_server_alive(bill_test_server *s);

/* Check fixtures of a suite with one server per test. bill_test_server_up
 * starts it (bill_test_server_start; with `plugins`, non-NULL, through
 * bill_test_server_start_plugins from plugin_build_dir) and fails the test
 * when it does not start. bill_test_server_down stops it with SIGTERM and
 * fails the test unless it exits 0 within 15 s (nothing when not running). */
void bill_test_server_up(bill_test_server *s, const char *binary, const char *plugin_build_dir,
                         const char *const *plugins, const char *extra_toml);
void bill_test_server_down(bill_test_server *s);

/* A Check loop test over the scenario names of a client program: for each
 * names[_i], run(names[_i]) exits 0 and the server *s is still alive after.
 * Register it with BILL_TEST_LOOP_CASE (check_main.h) over the names. */
#define BILL_TEST_SCENARIOS(test, run, s, names)                                  \
    START_TEST(test)                                                              \
    {                                                                             \
        ck_assert_msg(run(names[_i]) == 0, "scenario %s failed", names[_i]);      \
        ck_assert_msg(bill_test_server_alive(s), "server died in %s", names[_i]); \
    }                                                                             \
    END_TEST

/* The fixture of a suite with one server per test, defined in the test
 * file (which defines BILL_SERVER_BIN): `srv`, setup() starting it with
 * the NULL-terminated plugin ids that follow (just NULL: none) from
 * plugin_build_dir and extra_toml, teardown() stopping it
 * (bill_test_server_up / bill_test_server_down). */
#define BILL_TEST_SERVER_FIXTURE(plugin_build_dir, extra_toml, ...)                    \
    static bill_test_server srv;                                                      \
    __attribute__((unused)) static void setup(void)                                   \
    {                                                                                 \
        static const char *const plugins_[] = {__VA_ARGS__};                          \
        bill_test_server_up(&srv, BILL_SERVER_BIN, (plugin_build_dir),                \
                            plugins_[0] ? plugins_ : NULL, (extra_toml));             \
    }                                                                                 \
    __attribute__((unused)) static void teardown(void) { bill_test_server_down(&srv); }

/* Two servers of one cluster: a on a fresh database, b on a's database,
 * each with its own extra_toml; fails the test when either does not start. */
void bill_test_server_up_pair(bill_test_server *a, bill_test_server *b, const char *binary,
                              const char *extra_toml_a, const char *extra_toml_b);

/* A config.local.toml layer over the harness's config.toml (the server reads
 * [server] keys this way): `toml` written to a fresh file whose path goes
 * into path[cap] and LOCAL_CONFIG_FILE (for servers started after); fails
 * the test when it cannot be written. bill_test_local_config_end removes
 * the file and the variable (nothing when path is ""). */
void bill_test_local_config(char *path, size_t cap, const char *toml);
void bill_test_local_config_end(char *path);

/* Run a shell command formatted printf-style (system(3)): its exit status,
 * or -1 when it did not run or was killed. */
int bill_test_shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same (a client script, a helper), its stdout, up to cap - 1 bytes, in
 * out (NUL-terminated) and echoed to stderr for the test log. */
int bill_test_sh(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The value of the "KEY value" line in a script's output, copied into v
 * (cap bytes); fails the test when there is no such line. */
void bill_test_sh_field(const char *out, const char *key, char *v, size_t cap);

/* GET http://127.0.0.1:port/path (curl, 5 s): the HTTP status (0: no
 * answer), the body into buf[cap]. */
int bill_test_http_get(int port, const char *path, char *buf, size_t cap);

void bill_test_sleep_ms(int ms);

#endif
