/*
 * config.h — loading and validating config.toml.
 *
 * Layers, lowest to highest priority:
 *   built-in defaults < config.toml < config.local.toml < environment.
 * A later layer wins key by key; arrays replace, never append.
 * Environment: CONFIG_FILE / LOCAL_CONFIG_FILE choose the files,
 * DATABASE_URL overrides [db].url, BILL_LOG overrides [log].level, and every
 * secret can come from a file named by <SECTION>_<KEY>_FILE (JWT_SECRET_FILE,
 * BOOTSTRAP_ADMIN_PASSWORD_FILE, DATABASE_URL_FILE, REDIS_URL_FILE,
 * SECURITY_MASTER_KEY_FILE) or by a `<key>_file = "/path"` key in the TOML.
 * One trailing newline of a secret file is trimmed.
 *
 * Ownership: bill_config is a public, read-only struct. Every string in it is
 * owned by the config object (never NULL; "" when unset) and lives until
 * bill_config_free(). Do not modify or free the fields.
 *
 * Error model: bill_config_load() keeps going after a problem so that a
 * `config check` can show every one. It returns BILL_ECONFIG when at least one
 * error was recorded and STILL sets *out in that case (unlike other
 * constructors) so the caller can list them with bill_config_errors() — the
 * caller then frees it. bill_error_last() holds the first error. Messages look
 * like "config.toml:12: [jwt] secret: must be at least 32 characters (got 9)".
 * Unknown keys and a group/world readable file are warnings, not errors.
 * A file named explicitly (argument, CONFIG_FILE, LOCAL_CONFIG_FILE) must
 * exist; only the implicit ./config.toml and config.local.toml are optional.
 * bill_config_validate() may be called even after load returned BILL_ECONFIG:
 * it appends the purpose's checks to the load errors, so a frontend can list
 * everything wrong in one go.
 */
#ifndef BILL_CONFIG_H
#define BILL_CONFIG_H

#include "common.h"
#include "db.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bill__config_state bill__config_state;

typedef struct bill_config {
    struct {
        char *host;                 /* "127.0.0.1" */
        int port;                   /* 50051 (1..65535) */
        int max_concurrency;        /* 30 */
        char *notify_email;         /* "" */
        int shutdown_grace_secs;    /* 10 */
        char *admin_dir;            /* "./admin-dist": admin SPA files; "" = none */
        int io_threads;             /* 2: network loop threads (1..64) */
        int request_timeout_ms;     /* 10000: incomplete request -> connection closed */
        int idle_timeout_ms;        /* 120000: idle keep-alive connection -> closed */
        int max_requests_per_connection; /* 32: queued or running requests of one connection */
        int drain_secs;             /* 0: after SIGTERM, /ready answers 503 this long before
                                     * the listener closes (load balancers take it out) */
        /* Reverse proxies whose X-Forwarded-For / X-Real-IP are believed:
         * IP addresses or CIDRs ("127.0.0.1", "10.0.0.0/8", "::1"). [] = none. */
        char **trusted_proxies;
        size_t trusted_proxies_count;
    } server;
    struct {
        char *url;                  /* "" = not configured (see bill_config_db_url_is_set) */
        int max_connections;        /* 20 */
        int min_connections;        /* 2 */
        int idle_timeout_secs;      /* 300 */
        int max_lifetime_secs;      /* 1800 */
        int acquire_timeout_secs;   /* 5 */
        bool test_before_acquire;   /* true */
        int test_after_idle_ms;     /* 1000 */
    } db;
    struct {
        char *secret;               /* "" (required by the server, >= 32 chars) */
        int expiry_hours;           /* 24 */
    } jwt;
    struct {
        char *cookie_name;          /* "rustbill_session" */
        int idle_timeout_minutes;   /* 1440 */
        int absolute_timeout_hours; /* 168 */
        bool cookie_secure;         /* false */
        char *cookie_same_site;     /* "Lax": one of "Strict", "Lax", "None" */
    } session;
    struct {
        char *admin_username;       /* "admin" */
        char *admin_password;       /* "" (required by the server) */
    } bootstrap;
    struct {
        bool enabled;               /* true */
        int login_per_sec;          /* 5 */
        int register_per_sec;       /* 1 */
    } rate_limit;
    struct {
        int heartbeat_secs;         /* 10: registry heartbeat and role renewal (1..60);
                                     * leases last 3 heartbeats, rows expire after 6 */
    } cluster;
    struct {
        bool enabled;               /* false */
        char *url;                  /* "redis://127.0.0.1:6379" */
        int max_connections;        /* 10 */
        char *prefix;               /* "rustbill" */
        int timeout_ms;             /* 250: connect and command timeout (1..60000) */
    } redis;
    struct {
        char *plugins_dir;          /* "./plugins" */
    } plugins;
    struct {
        char **allowed_origins;     /* [] ; "*" only when written explicitly */
        size_t allowed_origins_count;
    } cors;
    struct {
        int invoice_days_before;    /* 7 */
        int suspend_after_days;     /* 3 */
        int terminate_after_days;   /* 14 */
        char *currency;             /* "CNY" (three upper-case letters) */
        bool enabled;               /* true: bill-server runs the billing pass */
        int interval_secs;          /* 60: seconds between two passes (10..86400) */
    } billing;
    struct {
        char *level;                /* "info": trace|debug|info|warn|error|off; BILL_LOG wins */
        char *format;               /* "text" | "json" */
    } log;
    struct {
        bool require_email_verification; /* false */
        int code_ttl_secs;          /* 600 */
        int resend_cooldown_secs;   /* 60 */
    } registration;
    struct {
        bool has_master_key;        /* a master_key / master_key_file was given */
        unsigned char master_key[32]; /* decoded key (hex or base64 in the file) */
    } security;
    struct {
        int catalog_max_bytes;      /* 16777216: memory of the anonymous catalog cache; 0 = off */
        int catalog_poll_ms;        /* 250: catalog version poll (10..1000) */
    } cache;

    /* Where the values came from: paths actually read ("" when not read). */
    char *main_path;                /* config.toml as resolved */
    char *local_path;               /* config.local.toml as resolved */
    bool main_loaded;               /* the main file existed and was read */
    bool local_loaded;              /* the local file existed and was read */

    bill__config_state *state_;     /* private: errors, warnings, key origins */
} bill_config;

/* What the caller will use the config for (bill_config_validate). */
enum {
    BILL_CONFIG_CLI = 0,    /* lenient: only type/range/enum errors */
    BILL_CONFIG_SERVER = 1, /* also needs [jwt].secret and [bootstrap].admin_password */
};

#define BILL_CONFIG_LOAD_OPTIONS_VERSION 1

typedef struct bill_config_load_options {
    unsigned int version;    /* BILL_CONFIG_LOAD_OPTIONS_VERSION */
    const char *path;        /* NULL: env CONFIG_FILE, else "./config.toml" */
    const char *local_path;  /* NULL: env LOCAL_CONFIG_FILE, else "config.local.toml"
                              * in the main file's directory (always optional) */
    bool require_file;       /* true: a missing main file is an error (server);
                              * false: defaults apply (CLI) */
    bool ignore_env;         /* true: read no environment variable (tests, embedders) */
} bill_config_load_options;

/* Fill *o with defaults (everything NULL/false). */
BILL_API void bill_config_load_options_init(bill_config_load_options *o);

/* Load with explicit options. See the error model above for *out on failure:
 * *out is set whenever the object could be built (always, except BILL_ENOMEM
 * and BILL_EINVALID for a NULL out). */
BILL_API int bill_config_load_ex(bill_config **out, const bill_config_load_options *opts);

/* Same as bill_config_load_ex with require_file = false, env honoured. */
BILL_API int bill_config_load(bill_config **out, const char *path, const char *local_path);

/* A config holding only the built-in defaults (nothing read). */
BILL_API int bill_config_defaults(bill_config **out);

/* Check the loaded config for `purpose` (BILL_CONFIG_CLI / BILL_CONFIG_SERVER).
 * Returns BILL_OK or BILL_ECONFIG; afterwards bill_config_errors() lists every
 * problem, load problems included. Calling it twice does not duplicate
 * messages. */
BILL_API int bill_config_validate(bill_config *cfg, int purpose);

/* Every recorded error / warning, in file order. The array and strings belong
 * to cfg. *count may be NULL; the array is NULL-terminated. */
BILL_API const char *const *bill_config_errors(const bill_config *cfg, size_t *count);
BILL_API const char *const *bill_config_warnings(const bill_config *cfg, size_t *count);

/* Where a key got its value: "config.toml:12", "env DATABASE_URL", or
 * "default". `key` is "section.key" (e.g. "jwt.secret"). Never NULL; the
 * string belongs to cfg. */
BILL_API const char *bill_config_origin(const bill_config *cfg, const char *key);

/* Pool options from [db]. out->url points into cfg (NULL when unset). */
BILL_API void bill_config_db_options(const bill_config *cfg, bill_db_options *out);

/* True when [db].url or DATABASE_URL gave a database; false means the
 * frontend should start the embedded PostgreSQL. */
BILL_API bool bill_config_db_url_is_set(const bill_config *cfg);

/* ---- opening the database a configuration names ------------------------ */

/* Where bill_config_db_open found its database. */
typedef enum {
    BILL_DB_SOURCE_URL = 1,              /* the explicit url of the options */
    BILL_DB_SOURCE_CONFIG = 2,           /* DATABASE_URL or [db].url */
    BILL_DB_SOURCE_EMBEDDED = 3,         /* the embedded cluster, already running */
    BILL_DB_SOURCE_EMBEDDED_STARTED = 4, /* the embedded cluster, started by this call */
} bill_db_source;

#define BILL_CONFIG_DB_OPEN_OPTIONS_VERSION 1

typedef struct bill_config_db_open_options {
    unsigned int version;         /* BILL_CONFIG_DB_OPEN_OPTIONS_VERSION */
    const char *url;              /* wins over the config (a --database-url option); NULL/"" = none */
    const char *var_dir;          /* home of the embedded cluster; NULL -> "./var" */
    const char *application_name; /* NULL -> "libbill" */
    int min_connections;          /* 0 -> [db].min_connections */
    int max_connections;          /* 0 -> [db].max_connections */
    /* fields above exist since version 1 */
} bill_config_db_open_options;

/* Fill *o with defaults (everything NULL/0). */
BILL_API void bill_config_db_open_options_init(bill_config_db_open_options *o);

/* Open the database the way every frontend chooses it: o->url, else
 * DATABASE_URL / [db].url (the config loader already let the environment
 * win), else the embedded PostgreSQL under var_dir/pg, started on demand
 * (bill_embedded_pg_ensure). Pool settings come from [db]. cfg NULL = the
 * built-in defaults; o may be NULL. *source (may be NULL) says which was
 * used, so the frontend can tell the operator. Errors are those of
 * bill_embedded_pg_ensure and bill_db_open. */
BILL_API int bill_config_db_open(bill_db **out, const bill_config *cfg,
                                 const bill_config_db_open_options *o, bill_db_source *source);

BILL_API void bill_config_free(bill_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
