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

/* Run the shell command formatted from fmt (a client script, a helper):
 * its stdout, up to cap - 1 bytes, in out (NUL-terminated) and echoed to
 * stderr for the test log. Returns its exit status, or -1. */
int bill_test_sh(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The value of the "KEY value" line in a script's output, copied into v
 * (cap bytes); fails the test when there is no such line. */
void bill_test_sh_field(const char *out, const char *key, char *v, size_t cap);

#endif
