/*
 * billprov.c — a provider plugin for the billing tests: instances exist in
 * memory only, every call is appended to a log file, and each action can be
 * made to fail its first N calls. Built twice (tests/plugins/billprov/meson.build):
 *   billprov_v2  provider table version 2 (change_plan)
 *   billprov_v1  an old plugin: the version 1 table, as a plugin compiled
 *                against the first header had it (no change_plan field at
 *                all), knowing only start/stop/reboot/terminate
 * Config: {"log": "/path", "fail": N}.
 */
#include <bill/plugin.h>

#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct prov {
    const bill_plugin_host *host;
    char log[512];
    int fail;
    pthread_mutex_t mu;
    int calls[8]; /* per action */
} prov;

static int init(const bill_plugin_host *host, const char *config_json, void **instance)
{
    json_object *cfg = json_tokener_parse(config_json), *v;
    prov *p = calloc(1, sizeof *p);
    if (!cfg || !p) {
        json_object_put(cfg);
        free(p);
        return host->error(host, BILL_EINVALID, "config is not a JSON object");
    }
    p->host = host;
    if (json_object_object_get_ex(cfg, "log", &v))
        snprintf(p->log, sizeof p->log, "%s", json_object_get_string(v));
    if (json_object_object_get_ex(cfg, "fail", &v))
        p->fail = json_object_get_int(v);
    json_object_put(cfg);
    pthread_mutex_init(&p->mu, NULL);
    *instance = p;
    return BILL_PLUGIN_OK;
}

static void destroy(void *instance)
{
    prov *p = instance;
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static void logf_line(prov *p, const char *what, const char *id, const char *extra)
{
    FILE *f = p->log[0] ? fopen(p->log, "a") : NULL;
    if (!f)
        return;
    fprintf(f, "%s %s%s%s\n", what, id, extra ? " " : "", extra ? extra : "");
    fclose(f);
}

static int create_instance(void *instance, const bill_provider_create_request *req,
                           bill_provider_instance *out)
{
    prov *p = instance;
    char id[96];
    snprintf(id, sizeof id, "vm-%s", req->order_id);
    out->provider_instance_id = p->host->strdup(id);
    out->status = BILL_PROVIDER_RUNNING;
    out->ip_address = p->host->strdup("192.0.2.10");
    logf_line(p, "create", id, NULL);
    return BILL_PLUGIN_OK;
}

static int get_instance(void *instance, const char *id, bill_provider_instance *out)
{
    prov *p = instance;
    out->provider_instance_id = p->host->strdup(id);
    out->status = BILL_PROVIDER_RUNNING;
    out->ip_address = p->host->strdup("192.0.2.10");
    return BILL_PLUGIN_OK;
}

/* Fail the first `fail` calls of each action slot. */
static int maybe_fail(prov *p, int slot, const char *what, const char *id)
{
    pthread_mutex_lock(&p->mu);
    int n = ++p->calls[slot];
    pthread_mutex_unlock(&p->mu);
    if (n <= p->fail) {
        logf_line(p, "fail", what, id);
        return p->host->error(p->host, BILL_EUNAVAILABLE, "%s %s: provider busy (attempt %d)",
                              what, id, n);
    }
    return BILL_PLUGIN_OK;
}

static int action(void *instance, const char *id, const char *act)
{
    prov *p = instance;
#ifdef BILLPROV_V1
    static const char *const known[] = {"start", "stop", "reboot", "terminate", NULL};
#else
    static const char *const known[] = {"start", "stop", "reboot", "terminate", "suspend",
                                        "unsuspend", NULL};
#endif
    int slot = -1;
    for (int i = 0; known[i]; i++)
        if (strcmp(known[i], act) == 0)
            slot = i;
    if (slot < 0)
        return p->host->error(p->host, BILL_EUNSUPPORTED, "action %s is not supported", act);
    int rc = maybe_fail(p, slot, act, id);
    if (rc == BILL_PLUGIN_OK)
        logf_line(p, act, id, NULL);
    return rc;
}

#ifndef BILLPROV_V1
static int change_plan(void *instance, const char *id, const char *spec_json,
                       const char *upstream_product_id)
{
    prov *p = instance;
    (void)upstream_product_id;
    int rc = maybe_fail(p, 7, "change_plan", id);
    if (rc == BILL_PLUGIN_OK)
        logf_line(p, "change_plan", id, spec_json);
    return rc;
}

static const bill_plugin_provider table = {
    .version = 2,
    .create_instance = create_instance,
    .get_instance = get_instance,
    .action = action,
    .change_plan = change_plan,
};
#else
/* The version 1 layout: what an old plugin's table holds, nothing more. */
static const struct {
    uint32_t version;
    int (*spec_template)(void *, char **);
    int (*create_instance)(void *, const bill_provider_create_request *, bill_provider_instance *);
    int (*get_instance)(void *, const char *, bill_provider_instance *);
    int (*action)(void *, const char *, const char *);
    int (*detail_sections)(void *, const char *, char **);
    int (*list_upstream_products)(void *, char **);
} table = {1, NULL, create_instance, get_instance, action, NULL, NULL};
#endif

static const bill_plugin_descriptor desc = {
    .abi_version = BILL_PLUGIN_ABI_VERSION,
    .kind = BILL_PLUGIN_FIRST_PARTY_PROVIDER,
#ifdef BILLPROV_V1
    .id = "billprov-v1",
#else
    .id = "billprov-v2",
#endif
    .name = "billing test provider",
    .version = "1.0.0",
    .config_schema = "{\"type\":\"object\",\"properties\":{\"log\":{\"type\":\"string\"},"
                     "\"fail\":{\"type\":\"integer\"}}}",
    .init = init,
    .destroy = destroy,
    .functions = &table,
};

BILL_PLUGIN_EXPORT const bill_plugin_descriptor *bill_plugin_entry(void)
{
    return &desc;
}
