/*
 * log.h — leveled, per-module filtered logging.
 *
 * Filter: BILL_LOG, with RUST_LOG's syntax — a comma list of directives, each
 * "LEVEL" (the default for unmatched modules) or "MODULE=LEVEL" or a bare
 * "MODULE" (meaning trace). Levels: off error warn info debug trace (any
 * case). Modules are "::"-separated paths; the directive with the longest
 * matching module prefix wins ("libbill::store" matches "libbill::store" and
 * "libbill::store::pool", not "libbill::storex"). Default: "info".
 *     BILL_LOG=info
 *     BILL_LOG=bill_server=debug,libbill::plugins=warn
 *     BILL_LOG=warn,libbill::store=trace
 *
 * Format: BILL_LOG_FORMAT=json gives one JSON object per line
 *     {"ts":"…","level":"INFO","module":"…","msg":"…","ctx":"req=abc","k":"v"}
 * anything else the text form
 *     2026-11-23T20:00:00.123Z  INFO bill_server: msg k=v
 * with the thread's context after the level ("INFO [req=abc] bill_server: …").
 * Control characters in text lines are escaped so one record is one line.
 *
 * Output goes to stderr (one write() per line) unless a sink is installed;
 * the library never writes to stdout. Everything here is thread-safe.
 * Configuration is read from the environment on first use and again by
 * bill_log_reload() (call it on SIGHUP — from a normal thread, not from the
 * signal handler itself).
 */
#ifndef BILL_LOG_H
#define BILL_LOG_H

#include "common.h"
#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    BILL_LOG_LEVEL_OFF = 0,
    BILL_LOG_LEVEL_ERROR = 1,
    BILL_LOG_LEVEL_WARN = 2,
    BILL_LOG_LEVEL_INFO = 3,
    BILL_LOG_LEVEL_DEBUG = 4,
    BILL_LOG_LEVEL_TRACE = 5,
} bill_log_level;

typedef enum {
    BILL_LOG_FORMAT_TEXT = 0,
    BILL_LOG_FORMAT_JSON = 1,
} bill_log_format;

/* One key/value attached to a record (JSON member / " key=value" in text). */
typedef struct bill_log_field {
    const char *key;
    const char *value;
} bill_log_field;

/* What a sink receives. All pointers are valid only during the call. `line`
 * is the fully formatted record (text or JSON per the format) ending in '\n'. */
typedef struct bill_log_record {
    int level;               /* bill_log_level */
    const char *module;
    const char *message;     /* the formatted message alone */
    const char *context;     /* this thread's context, "" if none */
    int64_t ts_usec;         /* bill_time_now() at emission */
    const char *line;
    size_t line_len;
} bill_log_record;

/* Sinks are called one at a time (serialised by the library). A sink must not
 * log itself: records emitted from inside a sink are dropped. */
typedef void (*bill_log_sink_fn)(const bill_log_record *rec, void *user);

/* Emit unconditionally-checked records; prefer the macros below. */
BILL_API void bill_log(int level, const char *module, const char *fmt, ...) BILL_PRINTF(3, 4);
BILL_API void bill_logv(int level, const char *module, const char *fmt, va_list ap) BILL_PRINTF(3, 0);
/* With key/values (nfields entries; keys/values NULL are skipped/""). */
BILL_API void bill_log_kv(int level, const char *module, const bill_log_field *fields,
                          size_t nfields, const char *fmt, ...) BILL_PRINTF(5, 6);

/* Cheap check: one atomic load when no directive enables `level` at all. */
BILL_API bool bill_log_enabled(int level, const char *module);

/* Replace the filter with `spec` (syntax above). BILL_EINVALID naming the bad
 * directive leaves the previous filter in place. NULL or "" means "info". */
BILL_API int bill_log_set_filter(const char *spec);
BILL_API void bill_log_set_format(bill_log_format fmt);
/* Re-read BILL_LOG and BILL_LOG_FORMAT. An invalid BILL_LOG keeps the previous
 * filter, returns BILL_EINVALID and logs a WARN about it. */
BILL_API int bill_log_reload(void);
/* fn NULL restores the stderr sink. */
BILL_API void bill_log_set_sink(bill_log_sink_fn fn, void *user);
/* Per-thread context (e.g. "req=abc") added to every record of this thread;
 * NULL or "" clears it. Copied (truncated to 255 bytes). */
BILL_API void bill_log_set_context(const char *ctx);
BILL_API const char *bill_log_context(void);

/* "ERROR".."TRACE", "OFF"; NULL for unknown. */
BILL_API const char *bill_log_level_name(int level);
/* Case-insensitive level name -> level; BILL_EINVALID otherwise. */
BILL_API int bill_log_level_parse(const char *s, int *out);

#define BILL__LOG_AT(lvl, module, ...)                                          \
    do {                                                                        \
        if (bill_log_enabled((lvl), (module)))                                  \
            bill_log((lvl), (module), __VA_ARGS__);                             \
    } while (0)

#define BILL_LOG_ERROR(module, ...) BILL__LOG_AT(BILL_LOG_LEVEL_ERROR, module, __VA_ARGS__)
#define BILL_LOG_WARN(module, ...)  BILL__LOG_AT(BILL_LOG_LEVEL_WARN, module, __VA_ARGS__)
#define BILL_LOG_INFO(module, ...)  BILL__LOG_AT(BILL_LOG_LEVEL_INFO, module, __VA_ARGS__)
#define BILL_LOG_DEBUG(module, ...) BILL__LOG_AT(BILL_LOG_LEVEL_DEBUG, module, __VA_ARGS__)
#define BILL_LOG_TRACE(module, ...) BILL__LOG_AT(BILL_LOG_LEVEL_TRACE, module, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
