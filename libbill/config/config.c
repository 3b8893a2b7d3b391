/*
 * config.c — config.toml loading, layering, environment overrides and
 * validation (R-CFG-1..4, seed 000 §2).
 *
 * One table (`fields`) describes every key: its section, type, place in
 * bill_config, range or allowed values, and whether it is a secret (which
 * may then come from a `<key>_file` key or a `<SECTION>_<KEY>_FILE` variable).
 * Each layer (main file, local file, environment) is applied onto the same
 * struct in order, so a later layer wins key by key and an array simply
 * replaces the earlier one. Problems are collected, not thrown, so that
 * `config check` can print every one of them with file:line and key.
 */
#include "internal.h"
#include "toml.h"
#include "cluster/redis_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define SECRET_FILE_MAX (64 * 1024)

typedef enum { K_STR, K_INT, K_BOOL, K_STRARR, K_ENUM, K_KEY32 } kind;

typedef struct {
    const char *section;
    const char *key;
    kind k;
    size_t off;               /* offset of the value in bill_config */
    int64_t min, max;         /* K_INT */
    const char *const *choices; /* K_ENUM: canonical spellings */
    const char *file_env;     /* secret: env var naming a file; NULL = not secret */
} field;

static const char *const same_site_choices[] = {"Strict", "Lax", "None", NULL};
static const char *const log_level_choices[] = {"trace", "debug", "info", "warn", "error", "off", NULL};
static const char *const log_format_choices[] = {"text", "json", NULL};

#define OFF(m) offsetof(bill_config, m)
#define DAY (24 * 3600)

static const field fields[] = {
    {"server", "host", K_STR, OFF(server.host), 0, 0, NULL, NULL},
    {"server", "port", K_INT, OFF(server.port), 1, 65535, NULL, NULL},
    {"server", "max_concurrency", K_INT, OFF(server.max_concurrency), 1, 100000, NULL, NULL},
    {"server", "notify_email", K_STR, OFF(server.notify_email), 0, 0, NULL, NULL},
    {"server", "shutdown_grace_secs", K_INT, OFF(server.shutdown_grace_secs), 0, 3600, NULL, NULL},
    {"server", "admin_dir", K_STR, OFF(server.admin_dir), 0, 0, NULL, NULL},
    {"server", "io_threads", K_INT, OFF(server.io_threads), 1, 64, NULL, NULL},
    {"server", "request_timeout_ms", K_INT, OFF(server.request_timeout_ms), 100, 3600 * 1000, NULL, NULL},
    {"server", "idle_timeout_ms", K_INT, OFF(server.idle_timeout_ms), 100, DAY * 1000, NULL, NULL},
    {"server", "max_requests_per_connection", K_INT, OFF(server.max_requests_per_connection), 1, 10000, NULL, NULL},
    {"server", "drain_secs", K_INT, OFF(server.drain_secs), 0, 300, NULL, NULL},
    /* K_STRARR: `max` holds the offset of the size_t count next to the array */
    {"server", "trusted_proxies", K_STRARR, OFF(server.trusted_proxies), 0, OFF(server.trusted_proxies_count), NULL, NULL},
    {"db", "url", K_STR, OFF(db.url), 0, 0, NULL, "DATABASE_URL_FILE"},
    {"db", "max_connections", K_INT, OFF(db.max_connections), 1, 10000, NULL, NULL},
    {"db", "min_connections", K_INT, OFF(db.min_connections), 0, 10000, NULL, NULL},
    {"db", "idle_timeout_secs", K_INT, OFF(db.idle_timeout_secs), 0, 30 * DAY, NULL, NULL},
    {"db", "max_lifetime_secs", K_INT, OFF(db.max_lifetime_secs), 0, 30 * DAY, NULL, NULL},
    {"db", "acquire_timeout_secs", K_INT, OFF(db.acquire_timeout_secs), 1, 3600, NULL, NULL},
    {"db", "test_before_acquire", K_BOOL, OFF(db.test_before_acquire), 0, 0, NULL, NULL},
    {"db", "test_after_idle_ms", K_INT, OFF(db.test_after_idle_ms), 0, DAY * 1000, NULL, NULL},
    {"jwt", "secret", K_STR, OFF(jwt.secret), 0, 0, NULL, "JWT_SECRET_FILE"},
    {"jwt", "expiry_hours", K_INT, OFF(jwt.expiry_hours), 1, 24 * 366, NULL, NULL},
    {"session", "cookie_name", K_STR, OFF(session.cookie_name), 0, 0, NULL, NULL},
    {"session", "idle_timeout_minutes", K_INT, OFF(session.idle_timeout_minutes), 1, 60 * 24 * 366, NULL, NULL},
    {"session", "absolute_timeout_hours", K_INT, OFF(session.absolute_timeout_hours), 1, 24 * 366, NULL, NULL},
    {"session", "cookie_secure", K_BOOL, OFF(session.cookie_secure), 0, 0, NULL, NULL},
    {"session", "cookie_same_site", K_ENUM, OFF(session.cookie_same_site), 0, 0, same_site_choices, NULL},
    {"bootstrap", "admin_username", K_STR, OFF(bootstrap.admin_username), 0, 0, NULL, NULL},
    {"bootstrap", "admin_password", K_STR, OFF(bootstrap.admin_password), 0, 0, NULL, "BOOTSTRAP_ADMIN_PASSWORD_FILE"},
    {"rate_limit", "enabled", K_BOOL, OFF(rate_limit.enabled), 0, 0, NULL, NULL},
    {"rate_limit", "login_per_sec", K_INT, OFF(rate_limit.login_per_sec), 1, 1000000, NULL, NULL},
    {"rate_limit", "register_per_sec", K_INT, OFF(rate_limit.register_per_sec), 1, 1000000, NULL, NULL},
    {"cache", "catalog_max_bytes", K_INT, OFF(cache.catalog_max_bytes), 0, 1 << 30, NULL, NULL},
    {"cache", "catalog_poll_ms", K_INT, OFF(cache.catalog_poll_ms), 10, 1000, NULL, NULL},
    {"cluster", "heartbeat_secs", K_INT, OFF(cluster.heartbeat_secs), 1, 60, NULL, NULL},
    {"redis", "enabled", K_BOOL, OFF(redis.enabled), 0, 0, NULL, NULL},
    {"redis", "url", K_STR, OFF(redis.url), 0, 0, NULL, "REDIS_URL_FILE"},
    {"redis", "max_connections", K_INT, OFF(redis.max_connections), 1, 10000, NULL, NULL},
    {"redis", "prefix", K_STR, OFF(redis.prefix), 0, 0, NULL, NULL},
    {"redis", "timeout_ms", K_INT, OFF(redis.timeout_ms), 1, 60000, NULL, NULL},
    {"plugins", "plugins_dir", K_STR, OFF(plugins.plugins_dir), 0, 0, NULL, NULL},
    {"cors", "allowed_origins", K_STRARR, OFF(cors.allowed_origins), 0, OFF(cors.allowed_origins_count), NULL, NULL},
    {"billing", "invoice_days_before", K_INT, OFF(billing.invoice_days_before), 0, 365, NULL, NULL},
    {"billing", "suspend_after_days", K_INT, OFF(billing.suspend_after_days), 0, 365, NULL, NULL},
    {"billing", "terminate_after_days", K_INT, OFF(billing.terminate_after_days), 0, 3650, NULL, NULL},
    {"billing", "currency", K_STR, OFF(billing.currency), 0, 0, NULL, NULL},
    {"billing", "enabled", K_BOOL, OFF(billing.enabled), 0, 0, NULL, NULL},
    {"billing", "interval_secs", K_INT, OFF(billing.interval_secs), 10, 86400, NULL, NULL},
    {"log", "level", K_ENUM, OFF(log.level), 0, 0, log_level_choices, NULL},
    {"log", "format", K_ENUM, OFF(log.format), 0, 0, log_format_choices, NULL},
    {"registration", "require_email_verification", K_BOOL, OFF(registration.require_email_verification), 0, 0, NULL, NULL},
    {"registration", "code_ttl_secs", K_INT, OFF(registration.code_ttl_secs), 1, 7 * DAY, NULL, NULL},
    {"registration", "resend_cooldown_secs", K_INT, OFF(registration.resend_cooldown_secs), 0, DAY, NULL, NULL},
    {"security", "master_key", K_KEY32, OFF(security.master_key), 0, 0, NULL, "SECURITY_MASTER_KEY_FILE"},
};
#define NFIELDS BILL__ARRAY_LEN(fields)

typedef struct {
    char **items; /* NULL-terminated */
    char **keys;  /* "section.key" of each item (errors only) */
    size_t n, cap;
} strlist;

struct bill__config_state {
    strlist errors, warnings;
    size_t load_errors;     /* errors found by load; validate keeps these */
    char *origin[NFIELDS];  /* "config.toml:12", "env DATABASE_URL"; NULL = default */
    bool oom;
    /* A layer could not be read or parsed: its settings are unknown, so
     * "X is required" would be a false accusation on top of the real error. */
    bool layer_failed;
};

/* ---- small helpers ------------------------------------------------------ */

static int list_add(strlist *l, const char *key, char *msg)
{
    if (!msg)
        return -1;
    if (l->n + 2 > l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 8;
        char **ni = realloc(l->items, nc * sizeof *ni);
        if (!ni) {
            free(msg);
            return -1;
        }
        l->items = ni;
        char **nk = realloc(l->keys, nc * sizeof *nk);
        if (!nk) {
            free(msg);
            return -1;
        }
        l->keys = nk;
        l->cap = nc;
    }
    l->keys[l->n] = bill__strdup(key ? key : "");
    if (!l->keys[l->n]) {
        free(msg);
        return -1;
    }
    l->items[l->n++] = msg;
    l->items[l->n] = NULL;
    return 0;
}

static void list_truncate(strlist *l, size_t n)
{
    while (l->n > n) {
        l->n--;
        free(l->items[l->n]);
        free(l->keys[l->n]);
    }
    if (l->items)
        l->items[l->n] = NULL;
}

static void list_free(strlist *l)
{
    list_truncate(l, 0);
    BILL__FREE(l->items, l->keys);
}

/* Record an error. `where` is an origin ("config.toml:12") or NULL;
 * f may be NULL for file-level problems. */
static void cfg_error(bill_config *cfg, const char *where, const field *f, const char *fmt, ...)
    BILL_PRINTF(4, 5);
static void cfg_error(bill_config *cfg, const char *where, const field *f, const char *fmt, ...)
{
    char msg[600], key[96] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *full;
    if (f) {
        snprintf(key, sizeof key, "%s.%s", f->section, f->key);
        full = where ? bill__sprintf("%s: [%s] %s: %s", where, f->section, f->key, msg)
                     : bill__sprintf("[%s] %s: %s", f->section, f->key, msg);
    } else {
        full = where ? bill__sprintf("%s: %s", where, msg) : bill__strdup(msg);
    }
    if (list_add(&cfg->state_->errors, key, full) < 0)
        cfg->state_->oom = true;
}

static void cfg_warn(bill_config *cfg, const char *fmt, ...) BILL_PRINTF(2, 3);
static void cfg_warn(bill_config *cfg, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (list_add(&cfg->state_->warnings, NULL, bill__strdup(msg)) < 0)
        cfg->state_->oom = true;
}

static void *at(bill_config *cfg, const field *f)
{
    return (char *)cfg + f->off;
}

static int field_index(const char *section, const char *key)
{
    for (size_t i = 0; i < NFIELDS; i++)
        if (strcmp(fields[i].section, section) == 0 && strcmp(fields[i].key, key) == 0)
            return (int)i;
    return -1;
}

static bool known_section(const char *s)
{
    for (size_t i = 0; i < NFIELDS; i++)
        if (strcmp(fields[i].section, s) == 0)
            return true;
    return false;
}

static void set_origin(bill_config *cfg, const field *f, char *origin)
{
    size_t i = (size_t)(f - fields);
    if (!origin) {
        cfg->state_->oom = true;
        return;
    }
    free(cfg->state_->origin[i]);
    cfg->state_->origin[i] = origin;
}

static const char *origin_of(const bill_config *cfg, const field *f)
{
    return cfg->state_->origin[f - fields];
}

static bool set_str(bill_config *cfg, char **slot, const char *v)
{
    char *d = bill__strdup(v);
    if (!d) {
        cfg->state_->oom = true;
        return false;
    }
    free(*slot);
    *slot = d;
    return true;
}

static void free_strarr(char **a)
{
    if (!a)
        return;
    for (char **p = a; *p; p++)
        free(*p);
    free(a);
}

/* "192.0.2.1", "10.0.0.0/8", "::1", "fd00::/8": an address with an optional
 * prefix length no longer than the family allows. */
static bool ip_cidr_valid(const char *s)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(s, '/');
    size_t al = slash ? (size_t)(slash - s) : strlen(s);
    if (al == 0 || al >= sizeof addr)
        return false;
    memcpy(addr, s, al);
    addr[al] = '\0';
    unsigned char buf[16];
    int maxbits = inet_pton(AF_INET, addr, buf) == 1    ? 32
                  : inet_pton(AF_INET6, addr, buf) == 1 ? 128
                                                        : -1;
    if (maxbits < 0)
        return false;
    if (!slash)
        return true;
    const char *p = slash + 1;
    if (!*p || strlen(p) > 3)
        return false;
    int bits = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        bits = bits * 10 + (*p - '0');
    }
    return bits <= maxbits;
}

/* Decode a 32-byte key written as 64 hex digits or base64 (either alphabet,
 * padding optional). Returns 0 or -1. Never reveals the key in messages. */
static int decode_key32(const char *s, unsigned char out[32])
{
    size_t len = strlen(s), bin = 0;
    if (len == 64 && sodium_hex2bin(out, 32, s, len, NULL, &bin, NULL) == 0 && bin == 32)
        return 0;
    const int variants[] = {sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
                            sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING};
    for (size_t i = 0; i < BILL__ARRAY_LEN(variants); i++) {
        const char *end = NULL;
        if (sodium_base642bin(out, 32, s, len, NULL, &bin, &end, variants[i]) == 0 && bin == 32 &&
            end == s + len)
            return 0;
    }
    sodium_memzero(out, 32);
    return -1;
}

/* Store a string value into field f (type already checked), checking enum
 * and key rules. `where` names the origin for messages. */
static void store_string(bill_config *cfg, const field *f, const char *v, const char *where,
                         char *origin)
{
    if (f->k == K_ENUM) {
        for (const char *const *c = f->choices; *c; c++) {
            if (strcasecmp(*c, v) == 0) {
                set_str(cfg, (char **)at(cfg, f), *c);
                set_origin(cfg, f, origin);
                return;
            }
        }
        char allowed[128] = "";
        size_t off = 0;
        for (const char *const *c = f->choices; *c && off < sizeof allowed; c++)
            off += (size_t)snprintf(allowed + off, sizeof allowed - off, "%s\"%s\"",
                                    c == f->choices ? "" : ", ", *c);
        cfg_error(cfg, where, f, "must be one of %s (got \"%.60s\")", allowed, v);
        free(origin);
        return;
    }
    if (f->k == K_KEY32) {
        if (decode_key32(v, cfg->security.master_key) < 0) {
            cfg_error(cfg, where, f,
                      "must be a 32-byte key written as 64 hex digits or base64 (got %zu characters)",
                      strlen(v));
            cfg->security.has_master_key = false;
            free(origin);
            return;
        }
        cfg->security.has_master_key = true;
        set_origin(cfg, f, origin);
        return;
    }
    set_str(cfg, (char **)at(cfg, f), v);
    set_origin(cfg, f, origin);
}

/* Read a secret file, trimming one trailing newline. *out malloc'd. */
static int read_secret_file(const char *path, char **out, char *why, size_t whylen)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    int rc = -1;
    if (!fp) {
        snprintf(why, whylen, "cannot read \"%s\": %s", path, strerror(errno));
        return -1;
    }
    buf = malloc(SECRET_FILE_MAX + 1);
    if (!buf) {
        snprintf(why, whylen, "out of memory");
        goto done;
    }
    size_t len = fread(buf, 1, SECRET_FILE_MAX + 1, fp);
    if (ferror(fp)) {
        snprintf(why, whylen, "cannot read \"%s\": %s", path, strerror(errno));
        goto done;
    }
    if (len > SECRET_FILE_MAX) {
        snprintf(why, whylen, "\"%s\" is larger than %d bytes", path, SECRET_FILE_MAX);
        goto done;
    }
    buf[len] = '\0';
    if (strlen(buf) != len) {
        snprintf(why, whylen, "\"%s\" contains a NUL byte", path);
        goto done;
    }
    if (len > 0 && buf[len - 1] == '\n') {
        buf[--len] = '\0';
        if (len > 0 && buf[len - 1] == '\r')
            buf[--len] = '\0';
    }
    *out = buf;
    buf = NULL;
    rc = 0;
done:
    if (buf) {
        sodium_memzero(buf, SECRET_FILE_MAX + 1);
        free(buf);
    }
    fclose(fp);
    return rc;
}

static void warn_mode(bill_config *cfg, const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077))
        cfg_warn(cfg, "%s: file mode %04o lets group/others read it; it should be 0600", path,
                 (unsigned)(st.st_mode & 07777));
}

/* A secret coming from a file: read it and store it with `origin`. */
static void apply_secret_file(bill_config *cfg, const field *f, const char *path,
                              const char *where, char *origin)
{
    char why[512];
    char *v = NULL;
    if (read_secret_file(path, &v, why, sizeof why) < 0) {
        if (where && strncmp(where, "env ", 4) == 0)
            cfg_error(cfg, NULL, NULL, "%s: %s", where, why);
        else
            cfg_error(cfg, where, NULL, "[%s] %s_file: %s", f->section, f->key, why);
        free(origin);
        return;
    }
    warn_mode(cfg, path);
    store_string(cfg, f, v, where, origin);
    bill__free_secret(v);
}

/* ---- applying one TOML layer -------------------------------------------- */

static char *node_origin(const bill__toml_node *n)
{
    return bill__sprintf("%s:%d", n->file, n->line);
}

static void apply_node(bill_config *cfg, const field *f, const bill__toml_node *n)
{
    char where[300];
    snprintf(where, sizeof where, "%s:%d", n->file, n->line);
    bill__toml_type want = f->k == K_INT ? BILL__TOML_INTEGER
                         : f->k == K_BOOL ? BILL__TOML_BOOL
                         : f->k == K_STRARR ? BILL__TOML_ARRAY
                                            : BILL__TOML_STRING;
    if (n->type != want) {
        cfg_error(cfg, where, f, "expected %s, got %s", bill__toml_type_name(want),
                  bill__toml_type_name(n->type));
        return;
    }
    switch (f->k) {
    case K_INT:
        if (n->v.i < f->min || n->v.i > f->max) {
            cfg_error(cfg, where, f, "must be between %lld and %lld (got %lld)", (long long)f->min,
                      (long long)f->max, (long long)n->v.i);
            return;
        }
        *(int *)at(cfg, f) = (int)n->v.i;
        set_origin(cfg, f, node_origin(n));
        return;
    case K_BOOL:
        *(bool *)at(cfg, f) = n->v.b;
        set_origin(cfg, f, node_origin(n));
        return;
    case K_STRARR: {
        for (size_t i = 0; i < n->nkids; i++) {
            const bill__toml_node *it = n->kids[i];
            if (it->type != BILL__TOML_STRING) {
                cfg_error(cfg, where, f, "item %zu: expected string, got %s", i,
                          bill__toml_type_name(it->type));
                return;
            }
            if (strlen(it->v.str.ptr) != it->v.str.len) {
                cfg_error(cfg, where, f, "item %zu: contains U+0000", i);
                return;
            }
        }
        char **arr = calloc(n->nkids + 1, sizeof *arr);
        if (!arr) {
            cfg->state_->oom = true;
            return;
        }
        for (size_t i = 0; i < n->nkids; i++) {
            if (!(arr[i] = bill__strdup(n->kids[i]->v.str.ptr))) {
                free_strarr(arr);
                cfg->state_->oom = true;
                return;
            }
        }
        /* arrays replace, never append (R-CFG-1) */
        char ***slot = (char ***)at(cfg, f);
        free_strarr(*slot);
        *slot = arr;
        *(size_t *)((char *)cfg + f->max) = n->nkids;
        set_origin(cfg, f, node_origin(n));
        return;
    }
    default:
        if (strlen(n->v.str.ptr) != n->v.str.len) {
            cfg_error(cfg, where, f, "must not contain U+0000");
            return;
        }
        store_string(cfg, f, n->v.str.ptr, where, node_origin(n));
        return;
    }
}

static void apply_section(bill_config *cfg, const char *section, const bill__toml_node *t)
{
    for (size_t i = 0; i < t->nkids; i++) {
        const bill__toml_node *n = t->kids[i];
        int fi = field_index(section, n->key);
        if (fi >= 0) {
            apply_node(cfg, &fields[fi], n);
            continue;
        }
        /* <secret>_file: the secret's value lives in that file */
        size_t kl = strlen(n->key);
        if (kl > 5 && strcmp(n->key + kl - 5, "_file") == 0) {
            char base[96];
            snprintf(base, sizeof base, "%.*s", (int)(kl - 5), n->key);
            fi = field_index(section, base);
            if (fi >= 0 && fields[fi].file_env) {
                const field *f = &fields[fi];
                char where[300];
                snprintf(where, sizeof where, "%s:%d", n->file, n->line);
                if (bill__toml_get(t, base)) {
                    cfg_error(cfg, where, NULL, "[%s] %s_file: set either %s or %s_file, not both",
                              section, base, base, base);
                } else if (n->type != BILL__TOML_STRING || strlen(n->v.str.ptr) != n->v.str.len) {
                    cfg_error(cfg, where, NULL, "[%s] %s_file: expected string, got %s", section,
                              base, bill__toml_type_name(n->type));
                } else {
                    apply_secret_file(cfg, f, n->v.str.ptr, where, node_origin(n));
                }
                continue;
            }
        }
        cfg_warn(cfg, "%s:%d: unknown key [%s] %s (ignored)", n->file, n->line, section, n->key);
    }
}

static void apply_tree(bill_config *cfg, const bill__toml_node *root)
{
    for (size_t i = 0; i < root->nkids; i++) {
        const bill__toml_node *n = root->kids[i];
        if (!known_section(n->key)) {
            if (n->type == BILL__TOML_TABLE)
                cfg_warn(cfg, "%s:%d: unknown section [%s] (ignored)", n->file, n->line, n->key);
            else
                cfg_warn(cfg, "%s:%d: unknown top-level key %s (ignored)", n->file, n->line, n->key);
            continue;
        }
        if (n->type != BILL__TOML_TABLE) {
            cfg_error(cfg, NULL, NULL, "%s:%d: [%s]: expected table, got %s", n->file, n->line,
                      n->key, bill__toml_type_name(n->type));
            continue;
        }
        apply_section(cfg, n->key, n);
    }
}

/* Load one file. `required`: a missing file is an error. */
static void load_layer(bill_config *cfg, const char *path, bool required, bool *loaded)
{
    char err[700];
    bill__toml_node *root = NULL;
    *loaded = false;
    int rc = bill__toml_parse_file(&root, path, err, sizeof err);
    if (rc == -2 && errno == ENOENT && !required)
        return;
    if (rc < 0) {
        cfg_error(cfg, NULL, NULL, "%s", err);
        cfg->state_->layer_failed = true;
        return;
    }
    *loaded = true;
    warn_mode(cfg, path);
    apply_tree(cfg, root);
    bill__toml_free(root);
}

/* ---- environment -------------------------------------------------------- */

static void apply_env(bill_config *cfg)
{
    for (size_t i = 0; i < NFIELDS; i++) {
        const field *f = &fields[i];
        if (!f->file_env)
            continue;
        const char *path = getenv(f->file_env);
        if (path && *path) {
            char where[96];
            snprintf(where, sizeof where, "env %s", f->file_env);
            apply_secret_file(cfg, f, path, where, bill__strdup(where));
        }
    }
    const char *url = getenv("DATABASE_URL");
    if (url && *url) {
        const field *f = &fields[field_index("db", "url")];
        store_string(cfg, f, url, "env DATABASE_URL", bill__strdup("env DATABASE_URL"));
    }
    /* BILL_LOG may be a filter ("bill_server=debug"), so it is not held to
     * the [log] level choices; the logger interprets it. */
    const char *lvl = getenv("BILL_LOG");
    if (lvl && *lvl) {
        const field *f = &fields[field_index("log", "level")];
        if (set_str(cfg, &cfg->log.level, lvl))
            set_origin(cfg, f, bill__strdup("env BILL_LOG"));
    }
}

/* Keys the loader accepts (so a RustBill config.toml loads unchanged) but
 * that nothing in this version reads. Setting one is a warning, never
 * silence: "accepted, not used yet". */
static const struct {
    const char *section, *key, *why;
} not_used_yet[] = {
    {"server", "notify_email", "no system notification is sent by e-mail yet"},
};

static void warn_not_used_yet(bill_config *cfg)
{
    for (size_t i = 0; i < sizeof not_used_yet / sizeof not_used_yet[0]; i++) {
        const char *o = origin_of(cfg, &fields[field_index(not_used_yet[i].section,
                                                           not_used_yet[i].key)]);
        if (o)
            cfg_warn(cfg, "%s: [%s] %s: accepted, not used yet (%s)", o, not_used_yet[i].section,
                     not_used_yet[i].key, not_used_yet[i].why);
    }
}

/* Cross-key rules, checked once every layer is in. */
static void check_relations(bill_config *cfg)
{
    warn_not_used_yet(cfg);
    /* Unset, max_concurrency follows the pool: a worker beyond the pool's
     * connections only waits for one (out of the FIFO order the worker
     * queue keeps, and at the cost of futex traffic on every release:
     * 7 futex calls per request with 30 workers on 10 connections, 0.75
     * with 10; issue 13). */
    if (cfg->server.max_concurrency == 0)
        cfg->server.max_concurrency = cfg->db.max_connections;
    const field *fmin = &fields[field_index("db", "min_connections")];
    if (cfg->db.min_connections > cfg->db.max_connections)
        cfg_error(cfg, origin_of(cfg, fmin), fmin,
                  "must not exceed [db] max_connections (%d > %d)", cfg->db.min_connections,
                  cfg->db.max_connections);
    const field *fterm = &fields[field_index("billing", "terminate_after_days")];
    if (cfg->billing.terminate_after_days < cfg->billing.suspend_after_days)
        cfg_error(cfg, origin_of(cfg, fterm), fterm,
                  "must not be less than [billing] suspend_after_days (%d < %d)",
                  cfg->billing.terminate_after_days, cfg->billing.suspend_after_days);
    const field *fcur = &fields[field_index("billing", "currency")];
    const char *c = cfg->billing.currency;
    if (strlen(c) != 3 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' || c[2] < 'A' ||
        c[2] > 'Z')
        cfg_error(cfg, origin_of(cfg, fcur), fcur,
                  "must be a three-letter upper-case ISO 4217 code (got \"%.20s\")", c);
    /* [redis]: a bad URL or prefix fails the check, not the first request */
    if (cfg->redis.enabled) {
        const field *furl = &fields[field_index("redis", "url")];
        const field *fpre = &fields[field_index("redis", "prefix")];
        if (bill_redis_url_check(cfg->redis.url) < 0)
            cfg_error(cfg, origin_of(cfg, furl), furl, "%s", bill_error_last()->message);
        if (!bill__redis_prefix_ok(cfg->redis.prefix))
            cfg_error(cfg, origin_of(cfg, fpre), fpre,
                      "must be 1..64 printable characters without spaces (got \"%.70s\")",
                      cfg->redis.prefix);
    }
    const field *fname = &fields[field_index("session", "cookie_name")];
    if (!cfg->session.cookie_name[0])
        cfg_error(cfg, origin_of(cfg, fname), fname, "must not be empty");
    const field *fuser = &fields[field_index("bootstrap", "admin_username")];
    if (!cfg->bootstrap.admin_username[0])
        cfg_error(cfg, origin_of(cfg, fuser), fuser, "must not be empty");
    /* A typo here would silently trust nobody (or the wrong network). */
    const field *ftp = &fields[field_index("server", "trusted_proxies")];
    for (size_t i = 0; i < cfg->server.trusted_proxies_count; i++)
        if (!ip_cidr_valid(cfg->server.trusted_proxies[i]))
            cfg_error(cfg, origin_of(cfg, ftp), ftp,
                      "item %zu: \"%.80s\" is not an IP address or CIDR (e.g. \"10.0.0.0/8\", \"::1\")",
                      i, cfg->server.trusted_proxies[i]);
    /* a browser refuses SameSite=None cookies without Secure */
    const field *fss = &fields[field_index("session", "cookie_same_site")];
    if (strcmp(cfg->session.cookie_same_site, "None") == 0 && !cfg->session.cookie_secure)
        cfg_warn(cfg, "%s%s[session] cookie_same_site: \"None\" needs cookie_secure = true or browsers drop the cookie",
                 origin_of(cfg, fss) ? origin_of(cfg, fss) : "", origin_of(cfg, fss) ? ": " : "");
}

/* ---- object lifecycle --------------------------------------------------- */

static int set_defaults(bill_config *c)
{
    struct {
        char **slot;
        const char *v;
    } s[] = {
        {&c->server.host, "127.0.0.1"}, {&c->server.notify_email, ""}, {&c->db.url, ""},
        {&c->jwt.secret, ""}, {&c->session.cookie_name, "rustbill_session"},
        {&c->session.cookie_same_site, "Lax"}, {&c->bootstrap.admin_username, "admin"},
        {&c->bootstrap.admin_password, ""}, {&c->redis.url, "redis://127.0.0.1:6379"},
        {&c->redis.prefix, "rustbill"}, {&c->plugins.plugins_dir, "./plugins"},
        {&c->billing.currency, "CNY"}, {&c->log.level, "info"}, {&c->log.format, "text"},
        {&c->main_path, ""}, {&c->local_path, ""}, {&c->server.admin_dir, "./admin-dist"},
    };
    for (size_t i = 0; i < BILL__ARRAY_LEN(s); i++)
        if (!(*s[i].slot = bill__strdup(s[i].v)))
            return BILL_ENOMEM;
    c->server.port = 50051;
    c->server.max_concurrency = 0; /* unset: [db] max_connections (check_relations) */
    c->server.shutdown_grace_secs = 10;
    c->server.io_threads = 2;
    c->server.request_timeout_ms = 10000;
    c->server.idle_timeout_ms = 120000;
    c->server.max_requests_per_connection = 32;
    c->server.drain_secs = 0;
    c->cluster.heartbeat_secs = 10;
    c->server.trusted_proxies = calloc(1, sizeof(char *));
    if (!c->server.trusted_proxies)
        return BILL_ENOMEM;
    c->db.max_connections = 20;
    c->db.min_connections = 2;
    c->db.idle_timeout_secs = 300;
    c->db.max_lifetime_secs = 1800;
    c->db.acquire_timeout_secs = 5;
    c->db.test_before_acquire = true;
    c->db.test_after_idle_ms = 1000;
    c->jwt.expiry_hours = 24;
    c->session.idle_timeout_minutes = 1440;
    c->session.absolute_timeout_hours = 168;
    c->session.cookie_secure = false;
    c->rate_limit.enabled = true;
    c->rate_limit.login_per_sec = 5;
    c->rate_limit.register_per_sec = 1;
    c->cache.catalog_max_bytes = 16 << 20;
    c->cache.catalog_poll_ms = 250;
    c->redis.enabled = false;
    c->redis.max_connections = 10;
    c->redis.timeout_ms = 250;
    c->billing.invoice_days_before = 7;
    c->billing.suspend_after_days = 3;
    c->billing.terminate_after_days = 14;
    c->billing.enabled = true;
    c->billing.interval_secs = 60;
    c->registration.require_email_verification = false;
    c->registration.code_ttl_secs = 600;
    c->registration.resend_cooldown_secs = 60;
    c->cors.allowed_origins = calloc(1, sizeof(char *));
    if (!c->cors.allowed_origins)
        return BILL_ENOMEM;
    return BILL_OK;
}

static int config_new(bill_config **out)
{
    bill_config *c = calloc(1, sizeof *c);
    if (!c)
        return bill__err(BILL_ENOMEM, NULL, "out of memory allocating the configuration");
    c->state_ = calloc(1, sizeof *c->state_);
    if (!c->state_ || set_defaults(c) < 0) {
        bill_config_free(c);
        return bill__err(BILL_ENOMEM, NULL, "out of memory allocating the configuration");
    }
    *out = c;
    return BILL_OK;
}

void bill_config_free(bill_config *cfg)
{
    if (!cfg)
        return;
    char **strs[] = {
        &cfg->server.host, &cfg->server.notify_email, &cfg->db.url, &cfg->jwt.secret,
        &cfg->session.cookie_name, &cfg->session.cookie_same_site, &cfg->bootstrap.admin_username,
        &cfg->bootstrap.admin_password, &cfg->redis.url, &cfg->redis.prefix,
        &cfg->plugins.plugins_dir, &cfg->billing.currency, &cfg->log.level, &cfg->log.format,
        &cfg->main_path, &cfg->local_path, &cfg->server.admin_dir,
    };
    /* secrets are wiped, not just released */
    if (cfg->jwt.secret)
        sodium_memzero(cfg->jwt.secret, strlen(cfg->jwt.secret));
    if (cfg->bootstrap.admin_password)
        sodium_memzero(cfg->bootstrap.admin_password, strlen(cfg->bootstrap.admin_password));
    sodium_memzero(cfg->security.master_key, sizeof cfg->security.master_key);
    for (size_t i = 0; i < BILL__ARRAY_LEN(strs); i++)
        bill__free_str(strs[i]);
    free_strarr(cfg->cors.allowed_origins);
    free_strarr(cfg->server.trusted_proxies);
    if (cfg->state_) {
        list_free(&cfg->state_->errors);
        list_free(&cfg->state_->warnings);
        for (size_t i = 0; i < NFIELDS; i++)
            free(cfg->state_->origin[i]);
        free(cfg->state_);
    }
    free(cfg);
}

void bill_config_load_options_init(bill_config_load_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->version = BILL_CONFIG_LOAD_OPTIONS_VERSION;
}

int bill_config_defaults(bill_config **out)
{
    if (!out)
        return bill__err(BILL_EINVALID, "out", "bill_config_defaults: out is NULL");
    return config_new(out);
}

/* Re-raise the first recorded error as this thread's error detail. */
static int finish(const bill_config *cfg)
{
    const strlist *e = &cfg->state_->errors;
    if (e->n == 0)
        return BILL_OK;
    const char *k = e->keys[0];
    return bill__err(BILL_ECONFIG, k[0] ? k : NULL, "%s", e->items[0]);
}

static char *local_default_for(const char *main_path)
{
    const char *slash = strrchr(main_path, '/');
    if (!slash)
        return bill__strdup("config.local.toml");
    return bill__sprintf("%.*s/config.local.toml", (int)(slash - main_path), main_path);
}

int bill_config_load_ex(bill_config **out, const bill_config_load_options *opts)
{
    bill_config *cfg = NULL;
    char *local_default = NULL;
    int rc;
    if (!out)
        return bill__err(BILL_EINVALID, "out", "bill_config_load: out is NULL");
    *out = NULL;
    bill_config_load_options dflt;
    if (!opts) {
        bill_config_load_options_init(&dflt);
        opts = &dflt;
    }
    if (opts->version != BILL_CONFIG_LOAD_OPTIONS_VERSION)
        return bill__err(BILL_EINVALID, "version",
                         "bill_config_load_options.version is %u, expected %u", opts->version,
                         BILL_CONFIG_LOAD_OPTIONS_VERSION);
    if ((rc = config_new(&cfg)) < 0)
        return rc;

    /* An explicitly named file must exist; the implicit ./config.toml need
     * not (defaults apply) unless the caller requires it. */
    const char *main = opts->path;
    bool explicit_main = main != NULL;
    if (!main && !opts->ignore_env && (main = getenv("CONFIG_FILE")) && *main)
        explicit_main = true;
    if (!main || !*main)
        main = "config.toml";
    const char *local = opts->local_path;
    bool explicit_local = local != NULL;
    if (!local && !opts->ignore_env && (local = getenv("LOCAL_CONFIG_FILE")) && *local)
        explicit_local = true;
    if (!local || !*local) {
        if (!(local_default = local_default_for(main))) {
            rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
            goto done;
        }
        local = local_default;
    }
    set_str(cfg, &cfg->main_path, main);
    set_str(cfg, &cfg->local_path, local);

    load_layer(cfg, main, explicit_main || opts->require_file, &cfg->main_loaded);
    load_layer(cfg, local, explicit_local, &cfg->local_loaded);
    if (!opts->ignore_env)
        apply_env(cfg);
    check_relations(cfg);

    if (cfg->state_->oom) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory while loading the configuration");
        goto done;
    }
    cfg->state_->load_errors = cfg->state_->errors.n;
    rc = finish(cfg);
    *out = cfg;
    cfg = NULL;
done:
    free(local_default);
    bill_config_free(cfg);
    return rc;
}

int bill_config_load(bill_config **out, const char *path, const char *local_path)
{
    bill_config_load_options o;
    bill_config_load_options_init(&o);
    o.path = path;
    o.local_path = local_path;
    return bill_config_load_ex(out, &o);
}

int bill_config_validate(bill_config *cfg, int purpose)
{
    if (!cfg || !cfg->state_)
        return bill__err(BILL_EINVALID, "cfg", "bill_config_validate: cfg is NULL");
    if (purpose != BILL_CONFIG_CLI && purpose != BILL_CONFIG_SERVER)
        return bill__err(BILL_EINVALID, "purpose", "bill_config_validate: unknown purpose %d",
                         purpose);
    /* drop what an earlier validate added, so calling twice does not repeat */
    list_truncate(&cfg->state_->errors, cfg->state_->load_errors);
    if (purpose == BILL_CONFIG_SERVER && !cfg->state_->layer_failed) {
        const field *fs = &fields[field_index("jwt", "secret")];
        size_t sl = strlen(cfg->jwt.secret);
        if (sl == 0)
            cfg_error(cfg, origin_of(cfg, fs), fs,
                      "is required (set secret, secret_file or JWT_SECRET_FILE)");
        else if (strcmp(cfg->jwt.secret, "change-me-in-production") == 0)
            cfg_error(cfg, origin_of(cfg, fs), fs,
                      "still has the example value \"change-me-in-production\"; generate a random one");
        else if (sl < 32)
            cfg_error(cfg, origin_of(cfg, fs), fs, "must be at least 32 characters (got %zu)", sl);
        const field *fp = &fields[field_index("bootstrap", "admin_password")];
        if (!cfg->bootstrap.admin_password[0])
            cfg_error(cfg, origin_of(cfg, fp), fp,
                      "is required (set admin_password, admin_password_file or BOOTSTRAP_ADMIN_PASSWORD_FILE)");
    }
    if (cfg->state_->oom)
        return bill__err(BILL_ENOMEM, NULL, "out of memory while validating the configuration");
    return finish(cfg);
}

static const char *const empty_list[] = {NULL};

const char *const *bill_config_errors(const bill_config *cfg, size_t *count)
{
    const strlist *l = cfg && cfg->state_ ? &cfg->state_->errors : NULL;
    if (count)
        *count = l ? l->n : 0;
    return l && l->items ? (const char *const *)l->items : empty_list;
}

const char *const *bill_config_warnings(const bill_config *cfg, size_t *count)
{
    const strlist *l = cfg && cfg->state_ ? &cfg->state_->warnings : NULL;
    if (count)
        *count = l ? l->n : 0;
    return l && l->items ? (const char *const *)l->items : empty_list;
}

const char *bill_config_origin(const bill_config *cfg, const char *key)
{
    if (!cfg || !cfg->state_ || !key)
        return "";
    const char *dot = strchr(key, '.');
    if (!dot)
        return "";
    char section[64];
    snprintf(section, sizeof section, "%.*s", (int)(dot - key), key);
    int fi = field_index(section, dot + 1);
    if (fi < 0)
        return "";
    const char *o = cfg->state_->origin[fi];
    return o ? o : "default";
}

void bill_config_db_options(const bill_config *cfg, bill_db_options *out)
{
    /* the pool's own defaults (one copy, in store/pool.c), then the config's */
    bill_db_options_init(out);
    if (!out || !cfg)
        return;
    out->url = cfg->db.url[0] ? cfg->db.url : NULL;
    out->max_connections = cfg->db.max_connections;
    out->min_connections = cfg->db.min_connections;
    out->idle_timeout_secs = cfg->db.idle_timeout_secs;
    out->max_lifetime_secs = cfg->db.max_lifetime_secs;
    out->acquire_timeout_secs = cfg->db.acquire_timeout_secs;
    out->test_before_acquire = cfg->db.test_before_acquire;
    out->test_after_idle_ms = cfg->db.test_after_idle_ms;
}

bool bill_config_db_url_is_set(const bill_config *cfg)
{
    return cfg && cfg->db.url && cfg->db.url[0] != '\0';
}
