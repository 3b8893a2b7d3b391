/*
 * pu.h — helpers the built-in plugins share for reading bytes that come
 * from outside (peer answers, gateway notifications, interface config):
 * strict JSON parsing, typed field getters, UTF-8 and printable-text checks.
 *
 * Each plugin compiles pu.c into itself with hidden visibility, so a plugin
 * still includes nothing of libbill but bill/plugin.h and exports nothing
 * but bill_plugin_entry.
 */
#ifndef BILL_PLUGINS_PU_H
#define BILL_PLUGINS_PU_H

#include <bill/plugin.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parse exactly `len` bytes as one JSON value: NULL when it is not JSON,
 * has bytes after the value (other than whitespace), contains a NUL byte or
 * invalid UTF-8, or nests deeper than 32. Caller puts the result. */
json_object *pu_json_parse(const char *text, size_t len);
/* The same for a NUL-terminated text that must be a JSON object. */
json_object *pu_json_parse_object(const char *text);

/* Member `key` of object o when it has type t, else NULL (also when o is
 * NULL or not an object, or the member is JSON null). */
json_object *pu_json_get(json_object *o, const char *key, json_type t);
/* Member `key` as a C string: NULL unless it is a JSON string without an
 * embedded NUL (a "\u0000" would silently cut the C string short). */
const char *pu_json_str(json_object *o, const char *key);
/* Typed optional members: absent (or JSON null) -> *out = dflt and 0;
 * present with the right type -> *out = value and 0; present with any
 * other type -> -1 (the caller reports "<key> must be a ..."). Integers
 * must be JSON integers (not 1.5, not "5"). */
int pu_json_opt_str(json_object *o, const char *key, const char *dflt, const char **out);
int pu_json_opt_int(json_object *o, const char *key, int64_t dflt, int64_t *out);
int pu_json_opt_bool(json_object *o, const char *key, bool dflt, bool *out);

/* One string member of a config: copied into *dst (dflt when absent; a NULL
 * dflt leaves *dst NULL). */
typedef struct pu_cfg_str {
    const char *key, *dflt;
    char **dst;
} pu_cfg_str;
/* Copy every member of t (n entries) from cfg. 0; -1 when one is present
 * with another type or is not printable UTF-8 (*bad names it); -2 out of
 * memory. What was copied before a failure is the caller's to free. */
int pu_cfg_strings(json_object *cfg, const pu_cfg_str *t, size_t n, const char **bad);

/* The start of a plugin's init: config_json parsed as a JSON object into
 * *cfg and a zeroed instance of `size` bytes into *instance. Returns
 * BILL_PLUGIN_OK, or host->error's status with both NULL. */
int pu_init_begin(const bill_plugin_host *host, const char *config_json, size_t size,
                  json_object **cfg, void **instance);
/* pu_cfg_strings with its failures reported through host->error ("<key>
 * must be a string without control characters", out of memory). */
int pu_cfg_load(const bill_plugin_host *host, json_object *cfg, const pu_cfg_str *t, size_t n);
/* Member "insecure_skip_verify" (default false) into *out; a non-boolean
 * is reported through host->error. */
int pu_cfg_insecure(const bill_plugin_host *host, json_object *cfg, bool *out);
/* An http:// or https:// URL of printable UTF-8 without spaces. */
bool pu_http_url_ok(const char *url);

/* Well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF). */
bool pu_utf8_valid(const char *s, size_t n);
/* Text fit for a database column, a log line or a header: well-formed
 * UTF-8 without control characters (U+0000..U+001F, U+007F). */
bool pu_text_ok(const char *s, size_t n);
/* A literal IPv4 or IPv6 address. */
bool pu_ip_ok(const char *s);

#endif
