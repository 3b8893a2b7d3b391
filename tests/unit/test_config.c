/*
 * test_config.c — config.toml loading: defaults, layering, environment,
 * secret files and validation messages (R-CFG-1..4).
 *
 * Each test runs in its own forked process (Check's default), chdir()s into a
 * fresh temporary directory and sets environment variables freely.
 */
#include "bill/bill.h"

#include "check_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef EXAMPLE_CONFIG
#error "EXAMPLE_CONFIG (path of config.example.toml) must be defined by the build"
#endif

static char tmpdir[256];

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/bill-config-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    ck_assert_int_eq(chdir(tmpdir), 0);
    const char *vars[] = {"CONFIG_FILE", "LOCAL_CONFIG_FILE", "DATABASE_URL", "DATABASE_URL_FILE",
                          "JWT_SECRET_FILE", "BOOTSTRAP_ADMIN_PASSWORD_FILE", "REDIS_URL_FILE",
                          "SECURITY_MASTER_KEY_FILE", "BILL_LOG"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static void write_file(const char *name, const char *text, mode_t mode)
{
    FILE *f = fopen(name, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    ck_assert_int_eq(chmod(name, mode), 0);
}

/* True when some error (or warning) equals / contains `needle`. */
static bool has(const char *const *list, const char *needle, bool exact)
{
    for (; *list; list++)
        if (exact ? strcmp(*list, needle) == 0 : strstr(*list, needle) != NULL)
            return true;
    return false;
}

static void dump_list(const char *what, const char *const *l)
{
    for (; *l; l++)
        fprintf(stderr, "%s: %s\n", what, *l);
}

/* cfg's errors (or warnings), which must be exactly `want`: listed on
 * stderr when they are not. */
static const char *const *exactly(const bill_config *cfg, bool errors, size_t want)
{
    size_t n = (size_t)-1; /* a count that was not written fails */
    const char *const *l = errors ? bill_config_errors(cfg, &n) : bill_config_warnings(cfg, &n);
    if (n != want)
        dump_list(errors ? "error" : "warning", l);
    ck_assert_uint_eq(n, want);
    return l;
}

#define ASSERT_ERROR(cfg, msg)                                                        \
    do {                                                                              \
        if (!has(bill_config_errors(cfg, NULL), msg, true))                           \
            dump_list("error", bill_config_errors(cfg, NULL));                        \
        ck_assert_msg(has(bill_config_errors(cfg, NULL), msg, true), "missing: %s", msg); \
    } while (0)

static const char *good_secret = "0123456789abcdef0123456789abcdef-long";

START_TEST(defaults_without_file)
{
    bill_config *cfg = NULL;
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_OK);
    ck_assert_ptr_nonnull(cfg);
    ck_assert(!cfg->main_loaded);
    ck_assert(!cfg->local_loaded);
    ck_assert_str_eq(cfg->main_path, "config.toml");
    ck_assert_str_eq(cfg->local_path, "config.local.toml");
    ck_assert_str_eq(cfg->server.host, "127.0.0.1");
    ck_assert_int_eq(cfg->server.port, 50051);
    ck_assert_int_eq(cfg->server.max_concurrency, 20); /* unset: [db] max_connections */
    ck_assert_str_eq(cfg->server.notify_email, "");
    ck_assert_int_eq(cfg->server.shutdown_grace_secs, 10);
    ck_assert_str_eq(cfg->db.url, "");
    ck_assert_int_eq(cfg->db.max_connections, 20);
    ck_assert_int_eq(cfg->db.min_connections, 2);
    ck_assert_int_eq(cfg->db.idle_timeout_secs, 300);
    ck_assert_int_eq(cfg->db.max_lifetime_secs, 1800);
    ck_assert_int_eq(cfg->db.acquire_timeout_secs, 5);
    ck_assert(cfg->db.test_before_acquire);
    ck_assert_str_eq(cfg->jwt.secret, "");
    ck_assert_int_eq(cfg->jwt.expiry_hours, 24);
    ck_assert_str_eq(cfg->session.cookie_name, "rustbill_session");
    ck_assert_int_eq(cfg->session.idle_timeout_minutes, 1440);
    ck_assert_int_eq(cfg->session.absolute_timeout_hours, 168);
    ck_assert(!cfg->session.cookie_secure);
    ck_assert_str_eq(cfg->session.cookie_same_site, "Lax");
    ck_assert_str_eq(cfg->bootstrap.admin_username, "admin");
    ck_assert_str_eq(cfg->bootstrap.admin_password, "");
    ck_assert(cfg->rate_limit.enabled);
    ck_assert_int_eq(cfg->rate_limit.login_per_sec, 5);
    ck_assert_int_eq(cfg->rate_limit.register_per_sec, 1);
    ck_assert(!cfg->redis.enabled);
    ck_assert_str_eq(cfg->redis.url, "redis://127.0.0.1:6379");
    ck_assert_int_eq(cfg->redis.max_connections, 10);
    ck_assert_str_eq(cfg->redis.prefix, "rustbill");
    ck_assert_str_eq(cfg->plugins.plugins_dir, "./plugins");
    ck_assert_uint_eq(cfg->cors.allowed_origins_count, 0);
    ck_assert_ptr_null(cfg->cors.allowed_origins[0]);
    ck_assert_int_eq(cfg->billing.invoice_days_before, 7);
    ck_assert_int_eq(cfg->billing.suspend_after_days, 3);
    ck_assert_int_eq(cfg->billing.terminate_after_days, 14);
    ck_assert_str_eq(cfg->billing.currency, "CNY");
    ck_assert(cfg->billing.enabled);
    ck_assert_str_eq(cfg->log.level, "info");
    ck_assert_str_eq(cfg->log.format, "text");
    ck_assert(!cfg->registration.require_email_verification);
    ck_assert_int_eq(cfg->registration.code_ttl_secs, 600);
    ck_assert_int_eq(cfg->registration.resend_cooldown_secs, 60);
    ck_assert(!cfg->security.has_master_key);
    ck_assert(!bill_config_db_url_is_set(cfg));
    ck_assert_str_eq(bill_config_origin(cfg, "server.port"), "default");
    ck_assert_str_eq(bill_config_origin(cfg, "server.nope"), "");
    size_t n = 99;
    bill_config_errors(cfg, &n);
    ck_assert_uint_eq(n, 0);
    /* the CLI is lenient; the server is not */
    ck_assert_int_eq(bill_config_validate(cfg, BILL_CONFIG_CLI), BILL_OK);
    ck_assert_int_eq(bill_config_validate(cfg, BILL_CONFIG_SERVER), BILL_ECONFIG);
    bill_config_free(cfg);
    bill_config_free(NULL);
}
END_TEST

START_TEST(required_and_explicit_files)
{
    bill_config *cfg = NULL;
    bill_config_load_options o;
    bill_config_load_options_init(&o);
    o.require_file = true;
    ck_assert_int_eq(bill_config_load_ex(&cfg, &o), BILL_ECONFIG);
    ck_assert_ptr_nonnull(cfg);
    ck_assert(has(bill_config_errors(cfg, NULL), "config.toml: cannot open: No such file", false));
    ck_assert_int_eq(bill_error_last()->code, BILL_ECONFIG);
    bill_config_free(cfg);
    /* an explicitly named file must exist even for the CLI */
    ck_assert_int_eq(bill_config_load(&cfg, "missing.toml", NULL), BILL_ECONFIG);
    ck_assert(has(bill_config_errors(cfg, NULL), "missing.toml: cannot open", false));
    bill_config_free(cfg);
    ck_assert_int_eq(bill_config_load(NULL, NULL, NULL), BILL_EINVALID);
}
END_TEST

START_TEST(full_file_values_and_origins)
{
    write_file("config.toml",
               "# test config\n"
               "[server]\n"
               "host = \"0.0.0.0\"\n"
               "port = 8080\n"
               "[db]\n"
               "url = \"postgres://u:p@h/db\"\n"
               "max_connections = 40\n"
               "test_before_acquire = false\n"
               "[session]\n"
               "cookie_same_site = \"strict\"\n"
               "cookie_secure = true\n"
               "[cors]\n"
               "allowed_origins = [\"https://a.example\", \"*\"]\n"
               "[log]\n"
               "format = \"json\"\n"
               "[security]\n"
               "master_key = \"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"\n",
               0600);
    bill_config *cfg = NULL;
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_OK);
    ck_assert(cfg->main_loaded);
    ck_assert_str_eq(cfg->server.host, "0.0.0.0");
    ck_assert_int_eq(cfg->server.port, 8080);
    ck_assert_int_eq(cfg->db.max_connections, 40);
    ck_assert_int_eq(cfg->server.max_concurrency, 40); /* follows the pool when unset */
    ck_assert(!cfg->db.test_before_acquire);
    ck_assert_str_eq(cfg->session.cookie_same_site, "Strict"); /* canonical spelling */
    ck_assert_uint_eq(cfg->cors.allowed_origins_count, 2);
    ck_assert_str_eq(cfg->cors.allowed_origins[1], "*");
    ck_assert_str_eq(cfg->log.format, "json");
    ck_assert(cfg->security.has_master_key);
    ck_assert_int_eq(cfg->security.master_key[31], 0x1f);
    ck_assert_str_eq(bill_config_origin(cfg, "server.port"), "config.toml:4");
    ck_assert_str_eq(bill_config_origin(cfg, "db.url"), "config.toml:6");
    ck_assert(bill_config_db_url_is_set(cfg));
    bill_db_options dbo;
    bill_config_db_options(cfg, &dbo);
    ck_assert_uint_eq(dbo.version, BILL_DB_OPTIONS_VERSION);
    ck_assert_str_eq(dbo.url, "postgres://u:p@h/db");
    ck_assert_int_eq(dbo.max_connections, 40);
    ck_assert_int_eq(dbo.min_connections, 2);
    ck_assert(!dbo.test_before_acquire);
    exactly(cfg, false, 0); /* 0600, no unknown keys */
    bill_config_free(cfg);
}
END_TEST

START_TEST(master_key_base64_and_bad)
{
    /* 32 bytes 0..31 in base64 */
    write_file("config.toml", "[security]\nmaster_key = \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"\n", 0600);
    bill_config *cfg = NULL;
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_OK);
    ck_assert(cfg->security.has_master_key);
    ck_assert_int_eq(cfg->security.master_key[0], 0);
    ck_assert_int_eq(cfg->security.master_key[31], 31);
    bill_config_free(cfg);
    write_file("config.toml", "[security]\nmaster_key = \"tooshort\"\n", 0600);
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_ECONFIG);
    ASSERT_ERROR(cfg, "config.toml:2: [security] master_key: must be a 32-byte key written as 64 hex "
                      "digits or base64 (got 8 characters)");
    ck_assert(!cfg->security.has_master_key);
    bill_config_free(cfg);
}
END_TEST

START_TEST(layering_local_overrides)
{
    write_file("config.toml",
               "[server]\nhost = \"main-host\"\nport = 1000\n[cors]\nallowed_origins = [\"a\", \"b\"]\n",
               0600);
    write_file("config.local.toml",
               "[server]\nport = 2000\n[cors]\nallowed_origins = [\"c\"]\n[redis]\nprefix = \"local\"\n",
               0600);
    bill_config *cfg = NULL;
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_OK);
    ck_assert(cfg->main_loaded && cfg->local_loaded);
    ck_assert_int_eq(cfg->server.port, 2000);             /* scalar overridden */
    ck_assert_int_eq(cfg->server.max_concurrency, 20);    /* unset: [db] max_connections */
    ck_assert_str_eq(cfg->server.host, "main-host");      /* untouched key kept */
    ck_assert_uint_eq(cfg->cors.allowed_origins_count, 1); /* array replaced, not appended */
    ck_assert_str_eq(cfg->cors.allowed_origins[0], "c");
    ck_assert_ptr_null(cfg->cors.allowed_origins[1]);
    ck_assert_str_eq(cfg->redis.prefix, "local");         /* key added by local layer */
    ck_assert_str_eq(bill_config_origin(cfg, "server.port"), "config.local.toml:2");
    ck_assert_str_eq(bill_config_origin(cfg, "server.host"), "config.toml:2");
    bill_config_free(cfg);

    /* the local file sits next to the main one; LOCAL_CONFIG_FILE moves it */
    ck_assert_int_eq(mkdir("etc", 0700), 0);
    write_file("etc/main.toml", "[server]\nport = 3000\n", 0600);
    write_file("etc/config.local.toml", "[server]\nport = 3001\n", 0600);
    write_file("other.toml", "[server]\nport = 3002\n", 0600);
    ck_assert_int_eq(bill_config_load(&cfg, "etc/main.toml", NULL), BILL_OK);
    ck_assert_int_eq(cfg->server.port, 3001);
    ck_assert_str_eq(cfg->local_path, "etc/config.local.toml");
    bill_config_free(cfg);
    setenv("LOCAL_CONFIG_FILE", "other.toml", 1);
    ck_assert_int_eq(bill_config_load(&cfg, "etc/main.toml", NULL), BILL_OK);
    ck_assert_int_eq(cfg->server.port, 3002);
    bill_config_free(cfg);
}
END_TEST

START_TEST(env_overrides)
{
    write_file("custom.toml", "[db]\nurl = \"postgres://file/db\"\n[server]\nport = 4000\n", 0600);
    setenv("CONFIG_FILE", "custom.toml", 1);
    bill_config *cfg = NULL;
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_OK);
    ck_assert_int_eq(cfg->server.port, 4000);
    ck_assert_str_eq(cfg->main_path, "custom.toml");
    ck_assert_str_eq(cfg->db.url, "postgres://file/db");
    bill_config_free(cfg);

    setenv("DATABASE_URL", "postgres://env/db", 1);
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_OK);
    ck_assert_str_eq(cfg->db.url, "postgres://env/db");
    ck_assert_str_eq(bill_config_origin(cfg, "db.url"), "env DATABASE_URL");
    bill_config_free(cfg);

    /* ignore_env: neither CONFIG_FILE nor DATABASE_URL is read */
    bill_config_load_options o;
    bill_config_load_options_init(&o);
    o.ignore_env = true;
    ck_assert_int_eq(bill_config_load_ex(&cfg, &o), BILL_OK);
    ck_assert(!cfg->main_loaded);
    ck_assert_str_eq(cfg->db.url, "");
    bill_config_free(cfg);

    setenv("BILL_LOG", "debug", 1);
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_OK);
    ck_assert_str_eq(cfg->log.level, "debug");
    bill_config_free(cfg);
}
END_TEST

START_TEST(secret_files)
{
    write_file("jwt.secret", "0123456789abcdef0123456789abcdef!\n", 0600);
    write_file("admin.pw", "hunter2-hunter2\r\n", 0600);
    write_file("db.url", "postgres://secret/db\n\n", 0600);
    write_file("config.toml", "[bootstrap]\nadmin_password_file = \"admin.pw\"\n", 0600);
    setenv("JWT_SECRET_FILE", "jwt.secret", 1);
    setenv("DATABASE_URL_FILE", "db.url", 1);
    bill_config *cfg = NULL;
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_OK);
    ck_assert_str_eq(cfg->jwt.secret, "0123456789abcdef0123456789abcdef!"); /* one newline trimmed */
    ck_assert_str_eq(cfg->bootstrap.admin_password, "hunter2-hunter2");
    ck_assert_str_eq(cfg->db.url, "postgres://secret/db\n"); /* only ONE newline trimmed */
    ck_assert_str_eq(bill_config_origin(cfg, "jwt.secret"), "env JWT_SECRET_FILE");
    ck_assert_str_eq(bill_config_origin(cfg, "bootstrap.admin_password"), "config.toml:2");
    ck_assert_int_eq(bill_config_validate(cfg, BILL_CONFIG_SERVER), BILL_OK);
    bill_config_free(cfg);

    /* missing secret files are errors naming the file */
    setenv("JWT_SECRET_FILE", "/nonexistent/jwt", 1);
    write_file("config.toml", "[bootstrap]\nadmin_password_file = \"nope.pw\"\n", 0600);
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_ECONFIG);
    ASSERT_ERROR(cfg, "env JWT_SECRET_FILE: cannot read \"/nonexistent/jwt\": No such file or directory");
    ASSERT_ERROR(cfg, "config.toml:2: [bootstrap] admin_password_file: cannot read \"nope.pw\": No such "
                      "file or directory");
    bill_config_free(cfg);

    /* secret and secret_file together is ambiguous */
    unsetenv("JWT_SECRET_FILE");
    write_file("config.toml", "[jwt]\nsecret = \"x\"\nsecret_file = \"jwt.secret\"\n", 0600);
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_ECONFIG);
    ASSERT_ERROR(cfg, "config.toml:3: [jwt] secret_file: set either secret or secret_file, not both");
    bill_config_free(cfg);
}
END_TEST

START_TEST(server_validation_messages)
{
    write_file("config.toml", "[server]\nport = 8080\n\n[jwt]\nsecret = \"too-short\"\n", 0600);
    bill_config *cfg = NULL;
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_OK);
    ck_assert_int_eq(bill_config_validate(cfg, BILL_CONFIG_CLI), BILL_OK);
    ck_assert_int_eq(bill_config_validate(cfg, BILL_CONFIG_SERVER), BILL_ECONFIG);
    size_t n = 0;
    bill_config_errors(cfg, &n);
    ck_assert_uint_eq(n, 2);
    ASSERT_ERROR(cfg, "config.toml:5: [jwt] secret: must be at least 32 characters (got 9)");
    ASSERT_ERROR(cfg, "[bootstrap] admin_password: is required (set admin_password, admin_password_file "
                      "or BOOTSTRAP_ADMIN_PASSWORD_FILE)");
    const bill_error *e = bill_error_last();
    ck_assert_int_eq(e->code, BILL_ECONFIG);
    ck_assert_str_eq(e->field, "jwt.secret");
    ck_assert_str_eq(e->message, "config.toml:5: [jwt] secret: must be at least 32 characters (got 9)");
    /* validating again does not duplicate messages */
    ck_assert_int_eq(bill_config_validate(cfg, BILL_CONFIG_SERVER), BILL_ECONFIG);
    bill_config_errors(cfg, &n);
    ck_assert_uint_eq(n, 2);
    /* and the CLI purpose drops the server-only ones */
    ck_assert_int_eq(bill_config_validate(cfg, BILL_CONFIG_CLI), BILL_OK);
    bill_config_free(cfg);

    write_file("config.toml", "[jwt]\nsecret = \"change-me-in-production\"\n[bootstrap]\nadmin_password = \"pw\"\n",
               0600);
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_OK);
    ck_assert_int_eq(bill_config_validate(cfg, BILL_CONFIG_SERVER), BILL_ECONFIG);
    bill_config_errors(cfg, &n);
    ck_assert_uint_eq(n, 1);
    ASSERT_ERROR(cfg, "config.toml:2: [jwt] secret: still has the example value \"change-me-in-production\"; "
                      "generate a random one");
    bill_config_free(cfg);

    char text[256];
    snprintf(text, sizeof text, "[jwt]\nsecret = \"%s\"\n[bootstrap]\nadmin_password = \"pw\"\n", good_secret);
    write_file("config.toml", text, 0600);
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_OK);
    ck_assert_int_eq(bill_config_validate(cfg, BILL_CONFIG_SERVER), BILL_OK);
    ck_assert_int_eq(bill_config_validate(cfg, 42), BILL_EINVALID);
    bill_config_free(cfg);
}
END_TEST

START_TEST(type_range_enum_errors_all_collected)
{
    write_file("config.toml",
               "[server]\n"
               "port = \"abc\"\n"              /* 2: wrong type */
               "max_concurrency = 0\n"         /* 3: range */
               "[db]\n"
               "max_connections = 0\n"         /* 5: range */
               "idle_timeout_secs = -5\n"      /* 6: negative timeout */
               "[session]\n"
               "cookie_same_site = \"Loose\"\n" /* 8: enum */
               "[log]\n"
               "format = \"xml\"\n"            /* 10: enum */
               "[cors]\n"
               "allowed_origins = [\"a\", 1]\n" /* 12: item type */
               "[billing]\n"
               "currency = \"yuan\"\n"         /* 14 */
               "enabled = 1\n",                /* 15: wrong type */
               0600);
    bill_config *cfg = NULL;
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_ECONFIG);
    ASSERT_ERROR(cfg, "config.toml:2: [server] port: expected integer, got string");
    ASSERT_ERROR(cfg, "config.toml:3: [server] max_concurrency: must be between 1 and 100000 (got 0)");
    ASSERT_ERROR(cfg, "config.toml:5: [db] max_connections: must be between 1 and 10000 (got 0)");
    ASSERT_ERROR(cfg, "config.toml:6: [db] idle_timeout_secs: must be between 0 and 2592000 (got -5)");
    ASSERT_ERROR(cfg, "config.toml:8: [session] cookie_same_site: must be one of \"Strict\", \"Lax\", "
                      "\"None\" (got \"Loose\")");
    ASSERT_ERROR(cfg, "config.toml:10: [log] format: must be one of \"text\", \"json\" (got \"xml\")");
    ASSERT_ERROR(cfg, "config.toml:12: [cors] allowed_origins: item 1: expected string, got integer");
    ASSERT_ERROR(cfg, "config.toml:14: [billing] currency: must be a three-letter upper-case ISO 4217 "
                      "code (got \"yuan\")");
    ASSERT_ERROR(cfg, "config.toml:15: [billing] enabled: expected boolean, got integer");
    size_t n = 0;
    bill_config_errors(cfg, &n);
    ck_assert_uint_eq(n, 9);
    /* first error is the thread's error detail */
    ck_assert_str_eq(bill_error_last()->field, "server.port");
    /* bad values leave the defaults in place */
    ck_assert_int_eq(cfg->server.port, 50051);
    ck_assert_str_eq(cfg->session.cookie_same_site, "Lax");
    ck_assert_int_eq(bill_config_validate(cfg, BILL_CONFIG_CLI), BILL_ECONFIG);
    bill_config_free(cfg);

    write_file("config.toml", "[server]\nport = 70000\n[db]\nmin_connections = 30\n", 0600);
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_ECONFIG);
    ASSERT_ERROR(cfg, "config.toml:2: [server] port: must be between 1 and 65535 (got 70000)");
    ASSERT_ERROR(cfg, "config.toml:4: [db] min_connections: must not exceed [db] max_connections (30 > 20)");
    bill_config_free(cfg);

    write_file("config.toml", "[server]\nport = 0\nserver = 5\n", 0600);
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_ECONFIG);
    ASSERT_ERROR(cfg, "config.toml:2: [server] port: must be between 1 and 65535 (got 0)");
    bill_config_free(cfg);

    write_file("config.toml", "server = 5\n", 0600);
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_ECONFIG);
    ASSERT_ERROR(cfg, "config.toml:1: [server]: expected table, got integer");
    bill_config_free(cfg);

    /* a NUL written as an escape would cut the C string: refused, named */
    write_file("config.toml", "[server]\nhost = \"127.0.0.1\\u0000evil\"\n"
               "[cors]\nallowed_origins = [\"https://a\\u0000b\"]\n", 0600);
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_ECONFIG);
    ASSERT_ERROR(cfg, "config.toml:2: [server] host: must not contain U+0000");
    ASSERT_ERROR(cfg, "config.toml:4: [cors] allowed_origins: item 0: contains U+0000");
    bill_config_free(cfg);
}
END_TEST

START_TEST(syntax_error_reported_with_position)
{
    write_file("config.toml", "[server]\nport = 80\nport = 81\n", 0600);
    write_file("config.local.toml", "[db]\nmax_connections = \"x\"\n", 0600);
    bill_config *cfg = NULL;
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_ECONFIG);
    ASSERT_ERROR(cfg, "config.toml:3:1: duplicate key 'port' (key 'server.port')");
    /* the local layer is still checked so every problem is listed */
    ASSERT_ERROR(cfg, "config.local.toml:2: [db] max_connections: expected integer, got string");
    bill_config_free(cfg);
}
END_TEST

/* A file that does not parse may well hold the secret and the password: the
 * server check must then report the syntax error alone, not also accuse the
 * operator of leaving out settings that are in the file. */
START_TEST(unparsable_file_is_not_also_missing_settings)
{
    write_file("config.toml",
               "[jwt]\nsecret = \"0123456789abcdef0123456789abcdef-long\"\n"
               "[bootstrap]\nadmin_password = \"pass123\"\n[server]\nport = = 1\n",
               0600);
    bill_config *cfg = NULL;
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_ECONFIG);
    ck_assert_int_eq(bill_config_validate(cfg, BILL_CONFIG_SERVER), BILL_ECONFIG);
    const char *const *e = exactly(cfg, true, 1);
    ck_assert_ptr_nonnull(strstr(e[0], "config.toml:6:"));
    bill_config_free(cfg);

    /* a named file that does not exist: one error, naming it */
    cfg = NULL;
    ck_assert_int_eq(bill_config_load(&cfg, "missing.toml", NULL), BILL_ECONFIG);
    ck_assert_int_eq(bill_config_validate(cfg, BILL_CONFIG_SERVER), BILL_ECONFIG);
    e = exactly(cfg, true, 1);
    ck_assert_ptr_nonnull(strstr(e[0], "missing.toml"));
    bill_config_free(cfg);

    /* the same settings in a good file pass; without them, both are named */
    write_file("config.toml",
               "[jwt]\nsecret = \"0123456789abcdef0123456789abcdef-long\"\n"
               "[bootstrap]\nadmin_password = \"pass123\"\n",
               0600);
    cfg = NULL;
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_OK);
    ck_assert_int_eq(bill_config_validate(cfg, BILL_CONFIG_SERVER), BILL_OK);
    bill_config_free(cfg);
    write_file("config.toml", "[server]\nport = 8080\n", 0600);
    cfg = NULL;
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_OK);
    ck_assert_int_eq(bill_config_validate(cfg, BILL_CONFIG_SERVER), BILL_ECONFIG);
    exactly(cfg, true, 2);
    bill_config_free(cfg);
}
END_TEST

START_TEST(unknown_keys_and_mode_warnings)
{
    write_file("config.toml",
               "[server]\nport = 8080\nhots = \"x\"\n\n[nosuch]\na = 1\n[db]\nurl_file2 = 1\n",
               0644);
    bill_config *cfg = NULL;
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_OK);
    const char *const *w = exactly(cfg, false, 4);
    ck_assert(has(w, "config.toml:3: unknown key [server] hots (ignored)", true));
    ck_assert(has(w, "config.toml:5: unknown section [nosuch] (ignored)", true));
    ck_assert(has(w, "config.toml:8: unknown key [db] url_file2 (ignored)", true));
    ck_assert(has(w, "config.toml: file mode 0644 lets group/others read it; it should be 0600", true));
    ck_assert_int_eq(cfg->server.port, 8080);
    bill_config_free(cfg);
}
END_TEST

START_TEST(defaults_object)
{
    bill_config *cfg = NULL;
    ck_assert_int_eq(bill_config_defaults(&cfg), BILL_OK);
    ck_assert_int_eq(cfg->server.port, 50051);
    bill_db_options o;
    bill_config_db_options(cfg, &o);
    ck_assert_ptr_null(o.url);
    ck_assert_int_eq(o.acquire_timeout_secs, 5);
    bill_config_free(cfg);
}
END_TEST

/* [server] network keys (admin_dir, io_threads, timeouts) and the reverse
 * proxy list: defaults, values, ranges, IP/CIDR validation. */
START_TEST(server_network_keys)
{
    bill_config *cfg = NULL;
    ck_assert_int_eq(bill_config_defaults(&cfg), BILL_OK);
    ck_assert_str_eq(cfg->server.admin_dir, "./admin-dist");
    ck_assert_int_eq(cfg->server.io_threads, 2);
    ck_assert_int_eq(cfg->server.request_timeout_ms, 10000);
    ck_assert_int_eq(cfg->server.idle_timeout_ms, 120000);
    ck_assert_uint_eq(cfg->server.trusted_proxies_count, 0);
    ck_assert_ptr_null(cfg->server.trusted_proxies[0]);
    bill_config_free(cfg);

    write_file("config.toml",
               "[server]\nadmin_dir = \"/srv/admin\"\nio_threads = 4\n"
               "request_timeout_ms = 2500\nidle_timeout_ms = 60000\n"
               "trusted_proxies = [\"127.0.0.1\", \"::1\", \"10.0.0.0/8\", \"fd00::/8\"]\n",
               0600);
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_OK);
    ck_assert_str_eq(cfg->server.admin_dir, "/srv/admin");
    ck_assert_int_eq(cfg->server.io_threads, 4);
    ck_assert_int_eq(cfg->server.request_timeout_ms, 2500);
    ck_assert_int_eq(cfg->server.idle_timeout_ms, 60000);
    ck_assert_uint_eq(cfg->server.trusted_proxies_count, 4);
    ck_assert_str_eq(cfg->server.trusted_proxies[2], "10.0.0.0/8");
    ck_assert_ptr_null(cfg->server.trusted_proxies[4]);
    ck_assert_uint_eq(cfg->cors.allowed_origins_count, 0); /* arrays do not mix */
    ck_assert_str_eq(bill_config_origin(cfg, "server.trusted_proxies"), "config.toml:6");
    bill_config_free(cfg);

    write_file("config.toml",
               "[server]\nio_threads = 0\nrequest_timeout_ms = 5\nidle_timeout_ms = \"1m\"\n"
               "trusted_proxies = [\"127.0.0.1\", \"nginx\", \"10.0.0.0/33\", \"::1/129\", "
               "\"1.2.3.4/\", \"::/0\"]\n",
               0600);
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_ECONFIG);
    ASSERT_ERROR(cfg, "config.toml:2: [server] io_threads: must be between 1 and 64 (got 0)");
    ASSERT_ERROR(cfg, "config.toml:3: [server] request_timeout_ms: must be between 100 and 3600000 (got 5)");
    ASSERT_ERROR(cfg, "config.toml:4: [server] idle_timeout_ms: expected integer, got string");
    ASSERT_ERROR(cfg, "config.toml:5: [server] trusted_proxies: item 1: \"nginx\" is not an IP "
                      "address or CIDR (e.g. \"10.0.0.0/8\", \"::1\")");
    ASSERT_ERROR(cfg, "config.toml:5: [server] trusted_proxies: item 2: \"10.0.0.0/33\" is not an IP "
                      "address or CIDR (e.g. \"10.0.0.0/8\", \"::1\")");
    ASSERT_ERROR(cfg, "config.toml:5: [server] trusted_proxies: item 3: \"::1/129\" is not an IP "
                      "address or CIDR (e.g. \"10.0.0.0/8\", \"::1\")");
    ASSERT_ERROR(cfg, "config.toml:5: [server] trusted_proxies: item 4: \"1.2.3.4/\" is not an IP "
                      "address or CIDR (e.g. \"10.0.0.0/8\", \"::1\")");
    size_t n = 0;
    bill_config_errors(cfg, &n);
    ck_assert_uint_eq(n, 7); /* "::/0" is valid */
    ck_assert_int_eq(cfg->server.io_threads, 2);
    bill_config_free(cfg);
}
END_TEST

/* Keys that are parsed but nothing reads yet ([server] notify_email) are warned about where they are set, never silently; left
 * at their defaults they say nothing. */
START_TEST(accepted_not_used_yet_warned)
{
    write_file("config.toml",
               "[server]\nport = 8080\nnotify_email = \"ops@example.com\"\n"
               "[redis]\nurl = \"redis://10.0.0.1:6379\"\n",
               0600);
    bill_config *cfg = NULL;
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_OK);
    const char *const *w = exactly(cfg, false, 1);
    ck_assert(has(w, "config.toml:3: [server] notify_email: accepted, not used yet", false));
    ck_assert(!has(w, "[redis]", false)); /* [redis] is used since issue 12 */
    ck_assert_str_eq(cfg->redis.url, "redis://10.0.0.1:6379");
    ck_assert_int_eq(bill_config_validate(cfg, BILL_CONFIG_CLI), BILL_OK);
    bill_config_free(cfg);

    write_file("config.toml", "[server]\nport = 8080\n", 0600);
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_OK);
    exactly(cfg, false, 0);
    bill_config_free(cfg);
}
END_TEST

/* [redis]: a bad URL or prefix is a load error with its line, only when
 * enabled; timeout_ms within 1..60000. */
START_TEST(redis_keys_checked)
{
    write_file("config.toml",
               "[redis]\nenabled = true\nurl = \"http://x\"\nprefix = \"a b\"\n"
               "timeout_ms = 0\n",
               0600);
    bill_config *cfg = NULL;
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_ECONFIG);
    size_t n = 0;
    const char *const *e = bill_config_errors(cfg, &n);
    if (n != 3)
        dump_list("error", e);
    ck_assert_uint_eq(n, 3);
    ck_assert(has(e, "config.toml:3: [redis] url: unknown scheme (expected redis://", false));
    ck_assert(has(e, "config.toml:4: [redis] prefix: must be 1..64 printable", false));
    ck_assert(has(e, "config.toml:5: [redis] timeout_ms: must be between 1 and 60000", false));
    bill_config_free(cfg);
    write_file("config.toml", "[redis]\nenabled = false\nurl = \"http://x\"\n", 0600);
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_OK);
    ck_assert_int_eq(cfg->redis.timeout_ms, 250);
    bill_config_free(cfg);
}
END_TEST

/* config.example.toml must stay loadable and mention only known keys. */
START_TEST(example_file_is_clean)
{
    bill_config *cfg = NULL;
    ck_assert_int_eq(bill_config_load(&cfg, EXAMPLE_CONFIG, "/nonexistent-dir/none.toml"), BILL_ECONFIG);
    bill_config_free(cfg);
    bill_config_load_options o;
    bill_config_load_options_init(&o);
    o.path = EXAMPLE_CONFIG;
    o.ignore_env = true;
    ck_assert_int_eq(bill_config_load_ex(&cfg, &o), BILL_OK);
    ck_assert(cfg->main_loaded);
    const char *const *w = bill_config_warnings(cfg, NULL);
    ck_assert_msg(!has(w, "unknown", false), "example has unknown keys");
    ck_assert_msg(!has(w, "not used yet", false), "example sets keys nothing reads");
    ck_assert_int_eq(cfg->server.port, 50051);
    ck_assert_str_eq(cfg->jwt.secret, "change-me-in-production");
    ck_assert_int_eq(bill_config_validate(cfg, BILL_CONFIG_CLI), BILL_OK);
    /* the server refuses the placeholder secret and the missing password */
    ck_assert_int_eq(bill_config_validate(cfg, BILL_CONFIG_SERVER), BILL_ECONFIG);
    bill_config_free(cfg);
}
END_TEST

/* max_concurrency unset follows [db] max_connections; set, it is kept,
 * larger or smaller than the pool. */
START_TEST(max_concurrency_follows_the_pool)
{
    bill_config *cfg = NULL;
    write_file("config.toml", "[db]\nmax_connections = 7\n", 0600);
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_OK);
    ck_assert_int_eq(cfg->server.max_concurrency, 7);
    bill_config_free(cfg);
    write_file("config.toml", "[server]\nmax_concurrency = 64\n[db]\nmax_connections = 7\n", 0600);
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_OK);
    ck_assert_int_eq(cfg->server.max_concurrency, 64);
    bill_config_free(cfg);
    write_file("config.toml", "[server]\nmax_concurrency = 3\n", 0600);
    ck_assert_int_eq(bill_config_load(&cfg, NULL, NULL), BILL_OK);
    ck_assert_int_eq(cfg->server.max_concurrency, 3);
    bill_config_free(cfg);
}
END_TEST

BILL_TEST_MAIN("config", 0, setup, teardown,
               defaults_without_file, required_and_explicit_files, full_file_values_and_origins,
               master_key_base64_and_bad, layering_local_overrides, env_overrides, secret_files,
               server_validation_messages, type_range_enum_errors_all_collected,
               syntax_error_reported_with_position, unparsable_file_is_not_also_missing_settings,
               unknown_keys_and_mode_warnings, accepted_not_used_yet_warned, defaults_object,
               example_file_is_clean, redis_keys_checked,
               server_network_keys, max_concurrency_follows_the_pool);
