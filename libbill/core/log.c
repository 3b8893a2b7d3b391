/*
 * log.c — the logger behind log.h: RUST_LOG-style filtering, text and JSON
 * line formats, a replaceable sink and a per-thread context string.
 *
 * Cost model: bill_log_enabled() first compares against the most verbose
 * level any directive allows (one atomic load), so filtered DEBUG/TRACE lines
 * cost almost nothing; only levels some directive might allow take the read
 * lock and walk the (short) directive list. Each record is formatted into one
 * buffer and handed to the sink — the stderr sink issues one write() — so
 * lines from concurrent threads never interleave.
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- filter ------------------------------------------------------------ */

typedef struct {
    char *module;
    size_t len;
    int level;
} directive;

typedef struct {
    int default_level;
    directive *dirs;
    size_t n;
} log_filter;

static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static pthread_rwlock_t filter_lock = PTHREAD_RWLOCK_INITIALIZER;
static log_filter cur_filter = { BILL_LOG_LEVEL_INFO, NULL, 0 };
static atomic_int max_level = BILL_LOG_LEVEL_INFO;
static atomic_int cur_format = BILL_LOG_FORMAT_TEXT;
/* Set when BILL_LOG was invalid at first use; the WARN is emitted outside
 * pthread_once (logging from inside it would deadlock). */
static atomic_int pending_bad_env;
static char bad_env_reason[512]; /* written once inside log_init */

static pthread_mutex_t sink_mu = PTHREAD_MUTEX_INITIALIZER;
static bill_log_sink_fn sink_fn;
static void *sink_user;

static _Thread_local char tls_ctx[256];
static _Thread_local bool tls_in_sink;

static const char *const level_names[] = { "OFF", "ERROR", "WARN", "INFO", "DEBUG", "TRACE" };

const char *bill_log_level_name(int level)
{
    if (level < 0 || level > BILL_LOG_LEVEL_TRACE)
        return NULL;
    return level_names[level];
}

static int level_from(const char *s, size_t n)
{
    for (int i = 0; i <= BILL_LOG_LEVEL_TRACE; i++)
        if (strlen(level_names[i]) == n && strncasecmp(s, level_names[i], n) == 0)
            return i;
    return -1;
}

int bill_log_level_parse(const char *s, int *out)
{
    int l = s ? level_from(s, strlen(s)) : -1;
    if (l < 0)
        return bill__err(BILL_EINVALID, "level",
                         "log level \"%.32s\" is not one of off, error, warn, info, debug, trace",
                         s ? s : "(null)");
    *out = l;
    return BILL_OK;
}

static void filter_clear(log_filter *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->dirs[i].module);
    free(f->dirs);
    f->dirs = NULL;
    f->n = 0;
}

static bool module_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == ':' || c == '-' || c == '.';
}

/* Add or replace (a later directive for the same module wins, as in RUST_LOG). */
static int filter_put(log_filter *f, const char *mod, size_t len, int level)
{
    directive *nd;
    for (size_t i = 0; i < f->n; i++) {
        if (f->dirs[i].len == len && memcmp(f->dirs[i].module, mod, len) == 0) {
            f->dirs[i].level = level;
            return BILL_OK;
        }
    }
    nd = realloc(f->dirs, (f->n + 1) * sizeof *nd);
    if (!nd)
        return bill__err(BILL_ENOMEM, "BILL_LOG", "out of memory parsing the log filter");
    f->dirs = nd;
    if (!(nd[f->n].module = bill__strndup(mod, len)))
        return bill__err(BILL_ENOMEM, "BILL_LOG", "out of memory parsing the log filter");
    nd[f->n].len = len;
    nd[f->n].level = level;
    f->n++;
    return BILL_OK;
}

static int filter_parse(const char *spec, log_filter *f)
{
    const char *p = spec ? spec : "";
    int rc = BILL_OK;

    f->default_level = BILL_LOG_LEVEL_INFO;
    f->dirs = NULL;
    f->n = 0;
    while (*p) {
        const char *end = strchr(p, ',');
        const char *a = p, *b = end ? end : p + strlen(p), *eq;
        p = end ? end + 1 : b;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (a == b)
            continue; /* tolerate "info,,x=debug" and a trailing comma */
        eq = memchr(a, '=', (size_t)(b - a));
        if (!eq) {
            int l = level_from(a, (size_t)(b - a));
            if (l >= 0) {
                f->default_level = l;
                continue;
            }
            eq = b; /* bare module name: everything from it (trace) */
        }
        {
            const char *mod_end = eq, *lvl = eq < b ? eq + 1 : NULL;
            int l = BILL_LOG_LEVEL_TRACE;
            while (mod_end > a && (mod_end[-1] == ' ' || mod_end[-1] == '\t'))
                mod_end--;
            while (lvl && lvl < b && (*lvl == ' ' || *lvl == '\t'))
                lvl++;
            if (mod_end == a) {
                rc = bill__err(BILL_EINVALID, "BILL_LOG",
                               "log filter directive \"%.*s\" has no module name", (int)(b - a), a);
                goto done;
            }
            for (const char *c = a; c < mod_end; c++) {
                if (!module_char_ok(*c)) {
                    rc = bill__err(BILL_EINVALID, "BILL_LOG",
                                   "log filter directive \"%.*s\": \"%.*s\" is neither a level "
                                   "(off, error, warn, info, debug, trace) nor a module path",
                                   (int)(b - a), a, (int)(mod_end - a), a);
                    goto done;
                }
            }
            if (lvl && (l = level_from(lvl, (size_t)(b - lvl))) < 0) {
                rc = bill__err(BILL_EINVALID, "BILL_LOG",
                               "log filter directive \"%.*s\": level \"%.*s\" is not one of "
                               "off, error, warn, info, debug, trace",
                               (int)(b - a), a, (int)(b - lvl), lvl);
                goto done;
            }
            if ((rc = filter_put(f, a, (size_t)(mod_end - a), l)) < 0)
                goto done;
        }
    }
done:
    if (rc < 0)
        filter_clear(f);
    return rc;
}

static int filter_max(const log_filter *f)
{
    int m = f->default_level;
    for (size_t i = 0; i < f->n; i++)
        if (f->dirs[i].level > m)
            m = f->dirs[i].level;
    return m;
}

/* Swap in a parsed filter; the old one is freed under the write lock, so no
 * reader can still be looking at it. */
static void filter_install(log_filter *f)
{
    log_filter old;
    pthread_rwlock_wrlock(&filter_lock);
    old = cur_filter;
    cur_filter = *f;
    atomic_store(&max_level, filter_max(f));
    pthread_rwlock_unlock(&filter_lock);
    filter_clear(&old);
}

static void apply_env_format(void)
{
    const char *fmt = getenv("BILL_LOG_FORMAT");
    atomic_store(&cur_format, (fmt && strcasecmp(fmt, "json") == 0) ? BILL_LOG_FORMAT_JSON
                                                                     : BILL_LOG_FORMAT_TEXT);
}

static void log_init(void)
{
    log_filter f;
    apply_env_format();
    if (filter_parse(getenv("BILL_LOG"), &f) < 0) {
        snprintf(bad_env_reason, sizeof bad_env_reason, "%s", bill_error_last()->message);
        atomic_store(&pending_bad_env, 1);
        filter_parse("info", &f);
    }
    filter_install(&f);
}

static void ensure_init(void)
{
    pthread_once(&log_once, log_init);
    if (atomic_load_explicit(&pending_bad_env, memory_order_relaxed) &&
        atomic_exchange(&pending_bad_env, 0))
        bill_log(BILL_LOG_LEVEL_WARN, "libbill::log",
                 "BILL_LOG is invalid (%s); using \"info\"", bad_env_reason);
}

int bill_log_set_filter(const char *spec)
{
    log_filter f;
    int rc;
    pthread_once(&log_once, log_init);
    if ((rc = filter_parse(spec, &f)) < 0)
        return rc;
    filter_install(&f);
    return BILL_OK;
}

void bill_log_set_format(bill_log_format fmt)
{
    pthread_once(&log_once, log_init);
    atomic_store(&cur_format, fmt == BILL_LOG_FORMAT_JSON ? BILL_LOG_FORMAT_JSON : BILL_LOG_FORMAT_TEXT);
}

int bill_log_reload(void)
{
    const char *spec;
    int rc;
    pthread_once(&log_once, log_init);
    apply_env_format();
    spec = getenv("BILL_LOG");
    if ((rc = bill_log_set_filter(spec)) < 0) {
        char why[512];
        snprintf(why, sizeof why, "%s", bill_error_last()->message);
        bill_log(BILL_LOG_LEVEL_WARN, "libbill::log",
                 "BILL_LOG=\"%.200s\" is invalid (%s); keeping the previous filter", spec, why);
        return bill__err(rc, "BILL_LOG", "%s", why);
    }
    return BILL_OK;
}

bool bill_log_enabled(int level, const char *module)
{
    size_t best = 0, mlen;
    int allowed;
    bool matched = false;

    ensure_init();
    if (level <= BILL_LOG_LEVEL_OFF || level > atomic_load_explicit(&max_level, memory_order_relaxed))
        return false;
    if (!module)
        module = "";
    mlen = strlen(module);
    pthread_rwlock_rdlock(&filter_lock);
    allowed = cur_filter.default_level;
    for (size_t i = 0; i < cur_filter.n; i++) {
        const directive *d = &cur_filter.dirs[i];
        /* Prefix match on whole "::" path segments only. */
        if (d->len > mlen || memcmp(module, d->module, d->len) != 0)
            continue;
        if (d->len != mlen && strncmp(module + d->len, "::", 2) != 0)
            continue;
        if (!matched || d->len > best) {
            matched = true;
            best = d->len;
            allowed = d->level;
        }
    }
    pthread_rwlock_unlock(&filter_lock);
    return level <= allowed;
}

/* ---- context and sink -------------------------------------------------- */

void bill_log_set_context(const char *ctx)
{
    snprintf(tls_ctx, sizeof tls_ctx, "%s", ctx ? ctx : "");
}

const char *bill_log_context(void)
{
    return tls_ctx;
}

void bill_log_set_sink(bill_log_sink_fn fn, void *user)
{
    pthread_mutex_lock(&sink_mu);
    sink_fn = fn;
    sink_user = fn ? user : NULL;
    pthread_mutex_unlock(&sink_mu);
}

/* ---- line buffer ------------------------------------------------------- */

/* A record starts in a stack array and moves to the heap only when long
 * (bill__buf); on allocation failure the record is dropped. */
/* Length of a valid UTF-8 sequence at s (max n bytes), 0 if invalid. Rejects
 * overlongs, surrogates and code points above U+10FFFF so JSON stays valid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

/* Append s escaped. json: the content of a JSON string (quotes, backslash,
 * controls, invalid UTF-8 as U+FFFD). text: controls escaped so a record is
 * one line; with `quote_ws` also quotes/backslashes (for quoted values). */
static void lb_escaped(bill__buf *b, const char *s, bool json)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), i = 0;
    char tmp[8];
    while (i < n && !b->oom) {
        unsigned char c = u[i];
        size_t run = i;
        /* Copy plain ASCII runs in one go. */
        while (run < n && u[run] >= 0x20 && u[run] < 0x7f && u[run] != '"' && u[run] != '\\')
            run++;
        if (run > i) {
            bill__buf_add(b, s + i, run - i);
            i = run;
            continue;
        }
        switch (c) {
        case '"': bill__buf_add(b, json ? "\\\"" : "\"", json ? 2 : 1); i++; continue;
        case '\\': bill__buf_add(b, "\\\\", json ? 2 : 1); i++; continue;
        case '\n': bill__buf_add(b, "\\n", 2); i++; continue;
        case '\r': bill__buf_add(b, "\\r", 2); i++; continue;
        case '\t': bill__buf_add(b, "\\t", 2); i++; continue;
        default: break;
        }
        if (c < 0x20 || c == 0x7f) {
            snprintf(tmp, sizeof tmp, json ? "\\u%04x" : "\\x%02x", c);
            bill__buf_puts(b, tmp);
            i++;
            continue;
        }
        {
            size_t l = utf8_len(u + i, n - i);
            if (l == 0) {
                if (json)
                    bill__buf_puts(b, "\\ufffd");
                else {
                    snprintf(tmp, sizeof tmp, "\\x%02x", c);
                    bill__buf_puts(b, tmp);
                }
                i++;
            } else {
                bill__buf_add(b, s + i, l);
                i += l;
            }
        }
    }
}

static void lb_json_member(bill__buf *b, const char *key, const char *val)
{
    bill__buf_puts(b, ",\"");
    lb_escaped(b, key, true);
    bill__buf_puts(b, "\":\"");
    lb_escaped(b, val, true);
    bill__buf_puts(b, "\"");
}

static bool json_reserved(const char *k)
{
    return !strcmp(k, "ts") || !strcmp(k, "level") || !strcmp(k, "module") || !strcmp(k, "msg") ||
           !strcmp(k, "ctx");
}

/* Text values with spaces, quotes or '=' are quoted so "k=v" stays parseable. */
static void lb_text_value(bill__buf *b, const char *v)
{
    if (*v && !strpbrk(v, " \t\"=\\")) {
        lb_escaped(b, v, false);
        return;
    }
    bill__buf_puts(b, "\"");
    lb_escaped(b, v, true); /* JSON-style escaping of quotes inside quotes */
    bill__buf_puts(b, "\"");
}

/* ---- emission ---------------------------------------------------------- */

static void stderr_write(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return; /* nowhere left to report a failing stderr */
        }
        p += w;
        n -= (size_t)w;
    }
}

static void emit(int level, const char *module, const bill_log_field *fields, size_t nfields,
                 const char *fmt, va_list ap) BILL_PRINTF(5, 0);
static void emit(int level, const char *module, const bill_log_field *fields, size_t nfields,
                 const char *fmt, va_list ap)
{
    char small[512], *msg = small, ts[BILL_TIME_BUFSZ];
    bill_log_record rec;
    char line[1024];
    bill__buf b;
    va_list ap2;
    int n;
    int64_t now;
    bool json = atomic_load(&cur_format) == BILL_LOG_FORMAT_JSON;

    if (tls_in_sink || !bill_log_enabled(level, module))
        return;
    if (!module)
        module = "";
    bill__buf_init(&b, line, sizeof line, 0);
    va_copy(ap2, ap);
    n = fmt ? vsnprintf(small, sizeof small, fmt, ap) : 0;
    if (!fmt)
        small[0] = '\0';
    if (n < 0) {
        small[0] = '\0';
    } else if ((size_t)n >= sizeof small) {
        msg = malloc((size_t)n + 1);
        if (!msg)
            goto done;
        vsnprintf(msg, (size_t)n + 1, fmt, ap2);
    }
    now = bill_time_now();
    if (bill_time_format_rfc3339_ms(now, ts) < 0)
        snprintf(ts, sizeof ts, "0000-00-00T00:00:00.000Z");

    if (json) {
        bill__buf_puts(&b, "{\"ts\":\"");
        bill__buf_puts(&b, ts);
        bill__buf_puts(&b, "\",\"level\":\"");
        bill__buf_puts(&b, bill_log_level_name(level));
        bill__buf_puts(&b, "\"");
        lb_json_member(&b, "module", module);
        lb_json_member(&b, "msg", msg);
        if (tls_ctx[0])
            lb_json_member(&b, "ctx", tls_ctx);
        for (size_t i = 0; i < nfields; i++) {
            if (!fields[i].key || !fields[i].key[0])
                continue;
            if (json_reserved(fields[i].key)) {
                /* Never emit a duplicate member: prefix clashing keys. */
                char k[128];
                snprintf(k, sizeof k, "kv_%s", fields[i].key);
                lb_json_member(&b, k, fields[i].value ? fields[i].value : "");
            } else {
                lb_json_member(&b, fields[i].key, fields[i].value ? fields[i].value : "");
            }
        }
        bill__buf_puts(&b, "}\n");
    } else {
        char lvl[8];
        snprintf(lvl, sizeof lvl, "%5s", bill_log_level_name(level));
        bill__buf_puts(&b, ts);
        bill__buf_puts(&b, " ");
        bill__buf_puts(&b, lvl);
        bill__buf_puts(&b, " ");
        if (tls_ctx[0]) {
            bill__buf_puts(&b, "[");
            lb_escaped(&b, tls_ctx, false);
            bill__buf_puts(&b, "] ");
        }
        lb_escaped(&b, module, false);
        bill__buf_puts(&b, ": ");
        lb_escaped(&b, msg, false);
        for (size_t i = 0; i < nfields; i++) {
            if (!fields[i].key || !fields[i].key[0])
                continue;
            bill__buf_puts(&b, " ");
            lb_escaped(&b, fields[i].key, false);
            bill__buf_puts(&b, "=");
            lb_text_value(&b, fields[i].value ? fields[i].value : "");
        }
        bill__buf_puts(&b, "\n");
    }
    if (!bill__buf_ok(&b))
        goto done;

    rec.level = level;
    rec.module = module;
    rec.message = msg;
    rec.context = tls_ctx;
    rec.ts_usec = now;
    rec.line = b.p;
    rec.line_len = b.len;
    pthread_mutex_lock(&sink_mu);
    tls_in_sink = true;
    if (sink_fn)
        sink_fn(&rec, sink_user);
    else
        stderr_write(b.p, b.len);
    tls_in_sink = false;
    pthread_mutex_unlock(&sink_mu);
done:
    va_end(ap2);
    if (msg != small)
        free(msg);
    bill__buf_free(&b);
}

void bill_logv(int level, const char *module, const char *fmt, va_list ap)
{
    emit(level, module, NULL, 0, fmt, ap);
}

void bill_log(int level, const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(level, module, NULL, 0, fmt, ap);
    va_end(ap);
}

void bill_log_kv(int level, const char *module, const bill_log_field *fields, size_t nfields,
                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(level, module, fields, nfields, fmt, ap);
    va_end(ap);
}
