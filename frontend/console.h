/*
 * console.h — what the two operator consoles, bill-cli and bill-tui, share:
 * loading the configuration the console way, choosing and opening the
 * database (libbill's bill_config_db_open plus the schema check both refuse
 * with), opening the plugin host over it, naming the OS user the operation
 * log records, and measuring text in terminal cells.
 *
 * Nothing here prints: every function returns a libbill code with the
 * detail in bill_error_last(), and each console presents it its own way
 * (bill-cli on stderr, bill-tui on its screen or after restoring the
 * terminal). Built as a small static library linked into both programs.
 */
#ifndef BILL_FRONTEND_CONSOLE_H
#define BILL_FRONTEND_CONSOLE_H

#include <bill/bill.h>
#include <bill/config.h>
#include <bill/plugin_host.h>

#include <stdbool.h>
#include <stddef.h>

/* Make wide-character width work for UTF-8 text: LC_CTYPE from the
 * environment, or C.UTF-8 when that is not a UTF-8 locale (LC_CTYPE only
 * classifies characters; numbers print the same). Call once at start. */
void fe_locale_init(void);

/* Terminal cells of a UTF-8 string (CJK characters take two, combining marks
 * none; control characters count one; invalid input counts bytes). */
size_t fe_display_width(const char *s);

/* The person at the console, for the audit log: $SUDO_USER (under sudo the
 * person, not root), else $USER, else the passwd name of the uid. */
void fe_os_user(char *buf, size_t size);

/* Load config.toml for a console: `path` (--config) must exist when given;
 * otherwise $CONFIG_FILE or ./config.toml, and a missing ./config.toml is
 * fine (defaults apply). Validated for BILL_CONFIG_CLI. On failure *out may
 * still be set (BILL_ECONFIG): list bill_config_errors() and free it. */
int fe_config_load(const char *path, bill_config **out);

typedef struct fe_db_options {
    const char *program;      /* "bill-cli": application_name and the schema-check text */
    const char *database_url; /* --database-url; NULL/"" = from the config */
    int max_connections;      /* pool size for this console */
    bool need_schema;         /* refuse pending or changed migrations (bill_db_schema_check) */
} fe_db_options;

/* Open the database: --database-url > DATABASE_URL > [db].url > the
 * embedded PostgreSQL in ./var/pg (bill_config_db_open). *source (may be
 * NULL) says which. With need_schema the database is closed again and
 * BILL_ESTATE returned when the schema is not this build's. */
int fe_db_open(const bill_config *cfg, const fe_db_options *o, bill_db **out,
               bill_db_source *source);

/* Open libbill's plugin host over `db` with [plugins].plugins_dir and the
 * [security] master key. With `scan`, load the plugin files (needed before a
 * call into a plugin); a scan failure is returned as *scan_rc (may be NULL:
 * then it fails the call) with the host still opened, so a console can list
 * the configured interfaces of a host without a plugin directory. */
int fe_plugins_open(const bill_config *cfg, bill_db *db, bool scan, bill_plugins **out,
                    bill_plugin_scan_stats *stats, int *scan_rc);

/* The instant a console acts at instead of the wall clock: `opt` (--now;
 * may be NULL), else $BILL_NOW. Returns 0 for the wall clock; 1 with *usec
 * set; -1 when the text is not an RFC 3339 instant. *text and *source
 * ("--now" / "BILL_NOW") say which was used (1 and -1). */
int fe_now_choose(const char *opt, const char **text, const char **source, int64_t *usec);
/* Make db's clock read *usec from now on (usec must outlive db). */
void fe_db_fix_clock(bill_db *db, const int64_t *usec);

#endif
