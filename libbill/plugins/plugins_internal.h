/*
 * plugins_internal.h — private structures shared by the plugin host files:
 * the registry (bill_plugins), loaded generations, instances, the breaker
 * and the host-services table handed to plugins.
 *
 * Locking: one mutex (bill_plugins.lock) guards the generation list, the
 * interface-instance cache and every refcount. Plugin code never runs with
 * that lock held, so a slow plugin cannot stall loading or other plugins.
 */
#ifndef BILL_PLUGINS_INTERNAL_H
#define BILL_PLUGINS_INTERNAL_H

#include "internal.h"
#include "bill/plugin_host.h"
#include "bill/log.h"

#include <pthread.h>

#define BILL__PLG_MODULE "libbill::plugins"

/* One dlopen of one file. Refcount: 1 while it is the current generation of
 * its (kind, id) + 1 per live instance. dlclose'd (and its temp copy
 * removed) when it drops to 0. */
typedef struct bill__plugin_gen {
    struct bill__plugin_gen *next;   /* registry list */
    int refs;
    bool current;
    void *dl;
    char *tmp_path;                  /* private copy that was dlopen'd */
    const bill_plugin_descriptor *desc;
    bill_plugin_info info;
} bill__plugin_gen;

struct bill_plugin_instance {
    bill_plugins *reg;
    bill__plugin_gen *gen;
    void *state;          /* what desc->init returned */
    int refs;
    /* interface cache key (empty for bill_plugin_instance_open) */
    char interface_id[37];
    char *config_stamp;   /* updated_at of the interface row it was built from */
    struct bill_plugin_instance *next_cached;
};

typedef struct bill__breaker bill__breaker;

struct bill_plugins {
    pthread_mutex_t lock;
    char *plugins_dir;
    bill_db *db;
    bool have_key;
    unsigned char master_key[32];
    uint64_t next_generation;
    bill__plugin_gen *gens;                 /* every live generation */
    struct bill_plugin_instance *cache;     /* interface instances */
    bill__breaker *breaker;
    bill_plugin_host host;                  /* services table; host_data = this */
};

/* Is the db kind of two plugin kinds the same ("provider" covers both)? */
const char *bill__plugin_db_kind(bill_plugin_kind k);

/* Generation refcounting (lock held by caller). */
void bill__gen_unref_locked(bill_plugins *p, bill__plugin_gen *g);
/* Current generation for a db kind + id, or NULL (lock held). */
bill__plugin_gen *bill__gen_find_locked(bill_plugins *p, const char *db_kind, const char *id);
/* Build an instance on `g` (takes its own gen ref; lock NOT held: runs init). */
int bill__instance_create(bill_plugins *p, bill__plugin_gen *g, const char *config_json,
                          bill_plugin_instance **out);

/* host.c: fill the services table. */
void bill__plugin_host_init(bill_plugins *p);
/* After a plugin call returned rc != OK: turn it into a libbill error that
 * names the plugin (uses the message the plugin left via host->error). */
int bill__plugin_fail(const bill_plugin_instance *inst, const char *what, int rc);
/* What host->http checks before anything goes out: version, method, URL
 * and header lines a CR/LF could not split. BILL_OK or host->error(...). */
int bill__plugin_http_check(const bill_plugin_host *h, const bill_plugin_http_request *req);
/* Clear the plugin message slot before a call. */
void bill__plugin_err_reset(void);
/* s is well-formed UTF-8 of at most max_bytes without control characters
 * (what may go into a database column, a header or a protobuf string). */
bool bill__plugin_text_ok(const char *s, size_t max_bytes);
/* In place (NULL-safe): invalid UTF-8 bytes become '?', control
 * characters ' ' (newlines and tabs stay when keep_lines). */
void bill__plugin_text_sanitize(char *s, bool keep_lines);

/* breaker.c */
int bill__breaker_new(bill__breaker **out, int threshold, int cooldown_ms);
void bill__breaker_free(bill__breaker *b);
/* BILL_OK: go ahead (maybe as the half-open probe); BILL_EUNAVAILABLE: open. */
int bill__breaker_allow(bill__breaker *b, const char *host);
void bill__breaker_report(bill__breaker *b, const char *host, bool ok);
int bill__breaker_stats(bill__breaker *b, bill_breaker_stat **out, size_t *count);

/* schema.c: one complete JSON value in valid UTF-8 (nothing but whitespace
 * after it), or NULL. Caller puts it. */
struct json_object;
struct json_object *bill__plugin_json_parse(const char *text);

/* schema.c: split a validated config into public JSON (secrets removed) and
 * secret JSON (only secret fields), and mask secrets for display. */
int bill__config_split(const char *schema_json, const char *config_json,
                       char **public_out, char **secret_out, bool *has_secret);
char *bill__config_mask(const char *public_json, const char *secret_json);
char *bill__config_merge(const char *public_json, const char *secret_json);

#endif
