/*
 * open.c — opening the database a configuration names (config.h,
 * bill_config_db_open): the one place that decides between an explicit URL,
 * the configured one and the embedded PostgreSQL, so bill-cli, bill-tui and
 * embedders pick the same database from the same settings — and the same
 * optional Redis ([redis]), whose session cache their revocations bump.
 */
#include "store/store.h"
#include "bill/config.h"
#include "bill/redis.h"

#include <stdlib.h>
#include <string.h>

void bill_config_db_open_options_init(bill_config_db_open_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->version = BILL_CONFIG_DB_OPEN_OPTIONS_VERSION;
}

int bill_config_db_open(bill_db **out, const bill_config *cfg,
                        const bill_config_db_open_options *o, bill_db_source *source)
{
    bill_config_db_open_options defaults;
    bill_db_options dbo;
    bill_db_source src = BILL_DB_SOURCE_CONFIG;
    char *embedded_url = NULL;
    int rc;

    if (!out)
        return bill__err(BILL_EINVALID, NULL, "bill_config_db_open: out is required");
    *out = NULL;
    if (!o) {
        bill_config_db_open_options_init(&defaults);
        o = &defaults;
    }
    if (o->version != BILL_CONFIG_DB_OPEN_OPTIONS_VERSION)
        return bill__err(BILL_EINVALID, NULL, "bill_config_db_open: unknown options version %u",
                         o->version);
    bill_config_db_options(cfg, &dbo);
    if (o->url && o->url[0]) {
        dbo.url = o->url;
        src = BILL_DB_SOURCE_URL;
    } else if (!bill_config_db_url_is_set(cfg)) {
        bool started = false;
        if ((rc = bill_embedded_pg_ensure(o->var_dir ? o->var_dir : "./var", &embedded_url,
                                          &started)) < 0)
            goto done;
        dbo.url = embedded_url;
        src = started ? BILL_DB_SOURCE_EMBEDDED_STARTED : BILL_DB_SOURCE_EMBEDDED;
    }
    if (o->min_connections > 0)
        dbo.min_connections = o->min_connections;
    if (o->max_connections > 0)
        dbo.max_connections = o->max_connections;
    if (dbo.min_connections > dbo.max_connections)
        dbo.min_connections = dbo.max_connections;
    dbo.application_name = o->application_name;
    if ((rc = bill_db_open(out, &dbo)) < 0) {
        *out = NULL;
        goto done;
    }
    /* [redis]: so a revocation made here (bill-cli admin disable, ...)
     * reaches the servers' session cache at once */
    bill_redis *r = NULL;
    if ((rc = bill_redis_open_config(&r, cfg)) < 0) {
        bill_db_close(*out);
        *out = NULL;
        goto done;
    }
    bill_db_set_redis(*out, r);
    if (source)
        *source = src;
done:
    free(embedded_url);
    return rc;
}
