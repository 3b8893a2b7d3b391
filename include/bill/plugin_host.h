/*
 * plugin_host.h — the host side of plugins, for frontends and the rest of
 * libbill: loading .so files (scanner, hot reload), configured interfaces
 * (config validated against the plugin's schema, secrets encrypted at rest),
 * calls into plugins, and the per-host circuit breaker of outgoing HTTP.
 *
 * One bill_plugins handle per process. It is thread-safe: calls may run on
 * any number of threads while the scanner replaces a plugin file.
 *
 * Hot reload: every load of a file is a "generation". A call holds a
 * reference to the generation it started on; when a changed file (different
 * SHA-256) is loaded, new calls use the new generation and the old one is
 * dlclose'd once its last call returns.
 */
#ifndef BILL_PLUGIN_HOST_H
#define BILL_PLUGIN_HOST_H

#include "common.h"
#include "db.h"
#include "actor.h"
#include "page.h"
#include "plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bill_plugins bill_plugins;
/* A live configured instance of a plugin (refcounted). */
typedef struct bill_plugin_instance bill_plugin_instance;

#define BILL_PLUGINS_OPTIONS_VERSION 1u
typedef struct bill_plugins_options {
    unsigned int version;          /* BILL_PLUGINS_OPTIONS_VERSION */
    const char *plugins_dir;       /* [plugins].plugins_dir; NULL -> "./plugins" */
    bill_db *db;                   /* NULL: loader only (no sync, no interfaces) */
    /* 32-byte key for secret config ([security] master_key, decoded). NULL:
     * interfaces whose schema has secret fields cannot be stored. Copied. */
    const unsigned char *master_key;
    /* Circuit breaker: consecutive failures before opening (5) and the
     * cool-down before a half-open probe (30000 ms). 0 -> default. */
    int breaker_failure_threshold;
    int breaker_cooldown_ms;
    /* fields above exist since version 1 */
} bill_plugins_options;

BILL_API void bill_plugins_options_init(bill_plugins_options *o);
BILL_API int bill_plugins_new(bill_plugins **out, const bill_plugins_options *opts);
/* Destroys cached instances and unloads every generation. Callers must have
 * released every instance first. NULL-safe. */
BILL_API void bill_plugins_free(bill_plugins *p);

/* Kind names as stored in the database and shown to people:
 * "notifier", "gateway", "upstream_provider", "first_party_provider". */
BILL_API const char *bill_plugin_kind_name(bill_plugin_kind kind);
BILL_API int bill_plugin_kind_parse(const char *s, bill_plugin_kind *out);

/* ---- loading ------------------------------------------------------------ */

typedef struct bill_plugin_info {
    bill_plugin_kind kind;
    char id[64];
    char name[128];
    char version[32];
    char file_path[512];
    char file_hash[65];     /* hex SHA-256 of the file */
    uint64_t generation;    /* increases with every (re)load */
    uint32_t abi_version;
} bill_plugin_info;

/* Load (or reload, if its hash changed) one .so. A refused file (missing
 * entry symbol, unknown ABI version, NULL id, unknown kind, missing function
 * table) returns BILL_EPLUGIN with the reason, logs it at WARN and leaves
 * the loaded plugins unchanged. *info may be NULL. */
BILL_API int bill_plugins_load_file(bill_plugins *p, const char *path, bill_plugin_info *info);

typedef struct bill_plugin_scan_stats {
    int files;       /* *.so seen */
    int loaded;      /* new plugins */
    int reloaded;    /* changed files -> new generation */
    int unchanged;
    int refused;
    int duplicates;  /* same kind+id as another file in this scan (skipped) */
} bill_plugin_scan_stats;

/* Scan plugins_dir: load new and changed files, then (when a db was given)
 * upsert the `plugins` table by (kind, plugin_id). Run at start and every
 * 5 minutes (BILL_PLUGINS_SCAN_INTERVAL_SECS) from the server's timer. */
#define BILL_PLUGINS_SCAN_INTERVAL_SECS 300
BILL_API int bill_plugins_scan(bill_plugins *p, bill_plugin_scan_stats *stats);
/* The same without writing the `plugins` table: files are loaded and
 * reloaded for this process only. For cluster members that do not hold the
 * writing role (bill-server: `events`, like the other periodic jobs), so
 * that one instance, not every one, keeps the catalogue rows. */
BILL_API int bill_plugins_scan_files(bill_plugins *p, bill_plugin_scan_stats *stats);

typedef struct bill_plugin_infos {
    BILL_LIST_OF(bill_plugin_info);
} bill_plugin_infos;
BILL_API void bill_plugin_infos_clear(bill_plugin_infos *l);

/* Currently loaded plugins (newest generation of each); not paged. */
BILL_API int bill_plugins_list(bill_plugins *p, bill_plugin_infos *out);

/* ---- instances and calls ------------------------------------------------ */

/* Create an instance straight from a config (no database). The caller owns
 * the reference; drop it with bill_plugin_instance_release. */
BILL_API int bill_plugin_instance_open(bill_plugins *p, bill_plugin_kind kind,
                                       const char *plugin_id, const char *config_json,
                                       bill_plugin_instance **out);
/* The instance of a configured, enabled interface (cached; rebuilt when the
 * interface config or the plugin generation changed). Disabled interface ->
 * BILL_ESTATE; unknown id -> BILL_ENOTFOUND; plugin not loaded ->
 * BILL_EUNAVAILABLE. Release with bill_plugin_instance_release. */
BILL_API int bill_plugin_host_get(bill_plugins *p, const char *interface_id,
                                  bill_plugin_instance **out);
/* Same, also checking the kind is a provider / gateway / notifier. */
BILL_API int bill_plugin_host_get_provider(bill_plugins *p, const char *interface_id,
                                           bill_plugin_instance **out);
BILL_API int bill_plugin_host_get_gateway(bill_plugins *p, const char *interface_id,
                                          bill_plugin_instance **out);
BILL_API int bill_plugin_host_get_notifier(bill_plugins *p, const char *interface_id,
                                           bill_plugin_instance **out);
/* The gateway instance that handles a gateway's notification: like
 * bill_plugin_host_get_gateway, but a disabled interface is served too
 * (disabling stops new payments; money for payments already made through
 * it must still be accepted). Anything that is not a gateway interface is
 * BILL_ENOTFOUND; every other failure (database, plugin not loaded) means
 * "try again later", never "unknown". */
BILL_API int bill_plugin_host_get_gateway_callback(bill_plugins *p, const char *interface_id,
                                                   bill_plugin_instance **out);
BILL_API void bill_plugin_instance_release(bill_plugin_instance *inst);
BILL_API bill_plugin_kind bill_plugin_instance_kind(const bill_plugin_instance *inst);
BILL_API const char *bill_plugin_instance_plugin_id(const bill_plugin_instance *inst);
BILL_API uint64_t bill_plugin_instance_generation(const bill_plugin_instance *inst);

/* Calls. Each validates what the plugin returned; garbage (missing required
 * fields, bad JSON, codes outside the error table) becomes BILL_EPLUGIN with a
 * message naming the plugin, and nothing is left allocated in *out. */
BILL_API int bill_plugin_health(bill_plugin_instance *inst, char **detail);
BILL_API int bill_plugin_notify(bill_plugin_instance *inst, const bill_notification *n);
BILL_API int bill_plugin_gateway_create_payment(bill_plugin_instance *inst,
                                                const bill_gateway_payment_request *req,
                                                bill_gateway_payment_info *out);
BILL_API void bill_gateway_payment_info_clear(bill_gateway_payment_info *info);
BILL_API int bill_plugin_gateway_handle_callback(bill_plugin_instance *inst,
                                                 const bill_gateway_callback *cb,
                                                 bill_gateway_callback_result *out);
BILL_API void bill_gateway_callback_result_clear(bill_gateway_callback_result *r);
BILL_API int bill_plugin_provider_spec_template(bill_plugin_instance *inst, char **json_out);
BILL_API int bill_plugin_provider_create(bill_plugin_instance *inst,
                                         const bill_provider_create_request *req,
                                         bill_provider_instance *out);
BILL_API int bill_plugin_provider_get(bill_plugin_instance *inst, const char *provider_instance_id,
                                      bill_provider_instance *out);
BILL_API int bill_plugin_provider_action(bill_plugin_instance *inst,
                                         const char *provider_instance_id, const char *action);
/* Provider table version 2 (change_plan); an older plugin, or one that
 * leaves it NULL: BILL_EUNSUPPORTED naming "change_plan". */
BILL_API int bill_plugin_provider_change_plan(bill_plugin_instance *inst,
                                              const char *provider_instance_id,
                                              const char *spec_json,
                                              const char *upstream_product_id);
BILL_API int bill_plugin_provider_detail_sections(bill_plugin_instance *inst,
                                                  const char *provider_instance_id,
                                                  char **json_out);
BILL_API int bill_plugin_provider_list_upstream_products(bill_plugin_instance *inst,
                                                         char **json_out);
BILL_API void bill_provider_instance_clear(bill_provider_instance *pi);
BILL_API const char *bill_provider_status_name(bill_provider_status s);

/* ---- interfaces (plugin_interfaces table) ------------------------------- */

#define BILL_PLUGIN_SECRET_MASK "********"

typedef struct bill_plugin_interface {
    char id[37];
    bill_plugin_kind kind;
    char plugin_id[64];
    char name[128];
    bool enabled;
    char *config_json;       /* secrets replaced by BILL_PLUGIN_SECRET_MASK */
    bool is_healthy;
    char last_health_at[40]; /* RFC 3339 or "" */
    char *last_error;        /* "" when none */
} bill_plugin_interface;
BILL_API void bill_plugin_interface_clear(bill_plugin_interface *pi);

typedef struct bill_plugin_interfaces {
    BILL_LIST_OF(bill_plugin_interface);
} bill_plugin_interfaces;
BILL_API void bill_plugin_interfaces_clear(bill_plugin_interfaces *l);

/* Create an interface of a loaded plugin. config_json is validated against
 * the plugin's schema (BILL_EINVALID naming the field); fields with
 * "format":"secret" are encrypted with the master key (no key ->
 * BILL_ECONFIG). Staff only. id_out receives the new uuid. */
BILL_API int bill_plugin_interface_create(bill_plugins *p, const bill_actor *actor,
                                          bill_plugin_kind kind, const char *plugin_id,
                                          const char *name, const char *config_json,
                                          bool enabled, char id_out[37]);
/* Replace name (NULL keeps) and config (NULL keeps). A secret field whose
 * value is BILL_PLUGIN_SECRET_MASK or absent keeps its stored value. */
BILL_API int bill_plugin_interface_update(bill_plugins *p, const bill_actor *actor,
                                          const char *id, const char *name,
                                          const char *config_json);
BILL_API int bill_plugin_interface_set_enabled(bill_plugins *p, const bill_actor *actor,
                                               const char *id, bool enabled);
BILL_API int bill_plugin_interface_get(bill_plugins *p, const bill_actor *actor,
                                       const char *id, bill_plugin_interface *out);
/* All interfaces of `kind` (0 = any kind), ordered by name; not paged. */
BILL_API int bill_plugin_interface_list(bill_plugins *p, const bill_actor *actor,
                                        int kind, bill_plugin_interfaces *out);
/* Run the plugin's health check and store is_healthy / last_health_at /
 * last_error. Returns BILL_OK when the check ran (healthy or not). */
BILL_API int bill_plugin_interface_health(bill_plugins *p, const bill_actor *actor,
                                          const char *id, bool *healthy);

/* Validate config_json against a schema text (the subset in plugin.h).
 * BILL_EINVALID with the offending field on failure. Exposed for frontends
 * that want to check a form before saving. */
BILL_API int bill_plugin_config_validate(const char *schema_json, const char *config_json);

/* ---- circuit breaker -------------------------------------------------- */

typedef enum bill_breaker_state {
    BILL_BREAKER_CLOSED = 0,
    BILL_BREAKER_OPEN = 1,
    BILL_BREAKER_HALF_OPEN = 2,
} bill_breaker_state;

typedef struct bill_breaker_stat {
    char host[256];
    bill_breaker_state state;
    int consecutive_failures;
    uint64_t successes_total;
    uint64_t failures_total;
    uint64_t rejected_total;  /* calls failed fast while open */
    uint64_t opened_total;
} bill_breaker_stat;

BILL_API const char *bill_breaker_state_name(bill_breaker_state s);
/* Snapshot of every host seen so far, for /metrics. *out malloc'd. */
BILL_API int bill_breaker_stats(bill_plugins *p, bill_breaker_stat **out, size_t *count);

#ifdef __cplusplus
}
#endif
#endif
