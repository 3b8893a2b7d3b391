/*
 * console.c — the pieces bill-cli and bill-tui share (console.h). Each is the
 * one copy of a console decision: which configuration and database to use,
 * who the operator is, how wide a string is on a terminal.
 */
#include "console.h"

#include <langinfo.h>
#include <locale.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

void fe_locale_init(void)
{
    setlocale(LC_CTYPE, "");
    const char *cs = nl_langinfo(CODESET);
    if (!cs || strcmp(cs, "UTF-8") != 0)
        setlocale(LC_CTYPE, "C.UTF-8");
}

size_t fe_display_width(const char *s)
{
    if (!s)
        return 0;
    mbstate_t st;
    memset(&st, 0, sizeof st);
    size_t width = 0, len = strlen(s);
    const char *p = s, *end = s + len;
    while (p < end) {
        wchar_t wc;
        size_t n = mbrtowc(&wc, p, (size_t)(end - p), &st);
        if (n == (size_t)-1 || n == (size_t)-2)
            return len; /* not valid in this locale: count bytes */
        if (n == 0)
            break;
        int cw = wcwidth(wc);
        /* control/unprintable characters: one cell so nothing collapses;
         * combining marks are 0 and that is right. */
        width += cw < 0 ? 1u : (size_t)cw;
        p += n;
    }
    return width;
}

void fe_os_user(char *buf, size_t size)
{
    const char *name = getenv("SUDO_USER");
    if (!name || !name[0])
        name = getenv("USER");
    if (!name || !name[0]) {
        struct passwd *pw = getpwuid(getuid());
        name = pw ? pw->pw_name : "unknown";
    }
    snprintf(buf, size, "%s", name);
}

int fe_config_load(const char *path, bill_config **out)
{
    bill_config_load_options lo;
    bill_config_load_options_init(&lo);
    lo.path = path;
    lo.require_file = path != NULL;
    *out = NULL;
    int rc = bill_config_load_ex(out, &lo);
    if (rc == BILL_OK)
        rc = bill_config_validate(*out, BILL_CONFIG_CLI);
    return rc;
}

int fe_db_open(const bill_config *cfg, const fe_db_options *o, bill_db **out,
               bill_db_source *source)
{
    bill_config_db_open_options dbo;
    bill_config_db_open_options_init(&dbo);
    dbo.url = o->database_url;
    dbo.application_name = o->program;
    dbo.min_connections = 1;
    dbo.max_connections = o->max_connections;
    int rc = bill_config_db_open(out, cfg, &dbo, source);
    if (rc < 0)
        return rc;
    if (o->need_schema && (rc = bill_db_schema_check(*out, o->program, NULL)) < 0) {
        /* keep the refusal's message: closing the pool does not fail */
        bill_db_close(*out);
        *out = NULL;
    }
    return rc;
}

int fe_plugins_open(const bill_config *cfg, bill_db *db, bool scan, bill_plugins **out,
                    bill_plugin_scan_stats *stats, int *scan_rc)
{
    bill_plugins_options o;
    bill_plugins_options_init(&o);
    o.plugins_dir = cfg && cfg->plugins.plugins_dir[0] ? cfg->plugins.plugins_dir : NULL;
    o.db = db;
    o.master_key = cfg && cfg->security.has_master_key ? cfg->security.master_key : NULL;
    bill_plugins *p = NULL;
    int rc;
    *out = NULL;
    if (scan_rc)
        *scan_rc = BILL_OK;
    if ((rc = bill_plugins_new(&p, &o)) < 0)
        return rc;
    if (scan && (rc = bill_plugins_scan(p, stats)) < 0) {
        if (!scan_rc) {
            bill_plugins_free(p);
            return rc;
        }
        *scan_rc = rc;
    }
    *out = p;
    return BILL_OK;
}

int fe_now_choose(const char *opt, const char **text, const char **source, int64_t *usec)
{
    const char *env = getenv("BILL_NOW");
    *text = NULL;
    *source = NULL;
    if (opt) {
        *text = opt;
        *source = "--now";
    } else if (env && *env) {
        *text = env;
        *source = "BILL_NOW";
    } else {
        return 0;
    }
    return bill_time_parse_rfc3339(*text, usec) == BILL_OK ? 1 : -1;
}

static int64_t fixed_clock(void *user)
{
    return *(const int64_t *)user;
}

void fe_db_fix_clock(bill_db *db, const int64_t *usec)
{
    bill_db_set_clock(db, fixed_clock, (void *)usec);
}
