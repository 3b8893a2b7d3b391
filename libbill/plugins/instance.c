/*
 * instance.c — live plugin instances and the checked call wrappers.
 *
 * An instance pins the generation it was created on, so a hot reload never
 * unmaps code under a running call: the old generation is dlclose'd when
 * its last instance is released. Every wrapper validates what the plugin
 * handed back; a plugin that answers garbage yields BILL_EPLUGIN and the
 * caller's out-struct is left empty (nothing to free, nothing half-set).
 */
#include "plugins_internal.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bill__instance_create(bill_plugins *p, bill__plugin_gen *g, const char *config_json,
                          bill_plugin_instance **out)
{
    int rc;
    bill_plugin_instance *inst = calloc(1, sizeof *inst);

    if (!inst)
        return bill__err(BILL_ENOMEM, NULL, "out of memory creating a plugin instance");
    inst->reg = p;
    inst->refs = 1;
    pthread_mutex_lock(&p->lock);
    g->refs++;
    pthread_mutex_unlock(&p->lock);
    inst->gen = g;
    bill__plugin_err_reset();
    rc = g->desc->init(&p->host, config_json ? config_json : "{}", &inst->state);
    if (rc != BILL_OK) {
        rc = bill__plugin_fail(inst, "init", rc);
        pthread_mutex_lock(&p->lock);
        bill__gen_unref_locked(p, g);
        pthread_mutex_unlock(&p->lock);
        free(inst);
        return rc;
    }
    *out = inst;
    return BILL_OK;
}

int bill_plugin_instance_open(bill_plugins *p, bill_plugin_kind kind, const char *plugin_id,
                              const char *config_json, bill_plugin_instance **out)
{
    int rc;
    bill__plugin_gen *g;

    if (!p || !plugin_id || !out)
        return bill__err(BILL_EINVALID, "plugin_id", "plugin registry, id and out are required");
    pthread_mutex_lock(&p->lock);
    g = bill__gen_find_locked(p, bill__plugin_db_kind(kind), plugin_id);
    if (g)
        g->refs++; /* hold it across init, which runs unlocked */
    pthread_mutex_unlock(&p->lock);
    if (!g)
        return bill__err(BILL_EUNAVAILABLE, "plugin_id", "%s plugin %s is not loaded",
                         bill_plugin_kind_name(kind), plugin_id);
    rc = bill__instance_create(p, g, config_json, out);
    pthread_mutex_lock(&p->lock);
    bill__gen_unref_locked(p, g);
    pthread_mutex_unlock(&p->lock);
    return rc;
}

void bill_plugin_instance_release(bill_plugin_instance *inst)
{
    bill_plugins *p;
    bool last;

    if (!inst)
        return;
    p = inst->reg;
    pthread_mutex_lock(&p->lock);
    last = --inst->refs == 0;
    pthread_mutex_unlock(&p->lock);
    if (!last)
        return;
    inst->gen->desc->destroy(inst->state);
    pthread_mutex_lock(&p->lock);
    bill__gen_unref_locked(p, inst->gen);
    pthread_mutex_unlock(&p->lock);
    free(inst->config_stamp);
    free(inst);
}

bill_plugin_kind bill_plugin_instance_kind(const bill_plugin_instance *inst)
{
    return inst->gen->info.kind;
}

const char *bill_plugin_instance_plugin_id(const bill_plugin_instance *inst)
{
    return inst->gen->info.id;
}

uint64_t bill_plugin_instance_generation(const bill_plugin_instance *inst)
{
    return inst->gen->info.generation;
}

/* ---- checked calls ------------------------------------------------------- */

static bool is_provider(const bill_plugin_instance *i)
{
    return i->gen->info.kind == BILL_PLUGIN_UPSTREAM_PROVIDER ||
           i->gen->info.kind == BILL_PLUGIN_FIRST_PARTY_PROVIDER;
}

static int wrong_kind(const bill_plugin_instance *i, const char *want)
{
    return bill__err(BILL_EINVALID, "interface", "%s %s is not a %s",
                     bill_plugin_kind_name(i->gen->info.kind), i->gen->info.id, want);
}

static int garbage(const bill_plugin_instance *i, const char *what, const char *why)
{
    return bill__err(BILL_EPLUGIN, "plugin", "%s %s: %s returned an invalid result: %s",
                     bill_plugin_kind_name(i->gen->info.kind), i->gen->info.id, what, why);
}

/* The function table of `inst` when `right_kind`, with the plugin error
 * state reset for the call to come; NULL and *rc = "<plugin> is not a
 * <want>" otherwise. */
static const void *functions_for(const bill_plugin_instance *inst, bool right_kind,
                                 const char *want, int *rc)
{
    if (!right_kind) {
        *rc = wrong_kind(inst, want);
        return NULL;
    }
    *rc = BILL_OK;
    bill__plugin_err_reset();
    return inst->gen->desc->functions;
}

/* One complete JSON document of type want, valid UTF-8 throughout and
 * without \u0000 (it is stored as jsonb and sent on as protobuf strings). */
static bool json_valid(const char *s, json_type want)
{
    json_object *j = bill__json_text_check(s, "json") == BILL_OK ? bill__plugin_json_parse(s) : NULL;
    bool ok = j && json_object_is_type(j, want);
    json_object_put(j);
    return ok;
}

/* Limits for what plugins hand back (all of it ends up in text columns). */
#define ID_MAX 255
#define IP_MAX 64

int bill_plugin_health(bill_plugin_instance *inst, char **detail)
{
    int rc;
    char *d = NULL;

    if (!inst)
        return bill__err(BILL_EINVALID, "interface", "instance is NULL");
    if (detail)
        *detail = NULL;
    if (!inst->gen->desc->health)
        return BILL_OK;
    bill__plugin_err_reset();
    rc = inst->gen->desc->health(inst->state, &d);
    if (rc != BILL_OK) {
        free(d);
        return bill__plugin_fail(inst, "health", rc);
    }
    bill__plugin_text_sanitize(d, false);
    if (detail)
        *detail = d;
    else
        free(d);
    return BILL_OK;
}

int bill_plugin_notify(bill_plugin_instance *inst, const bill_notification *n)
{
    int rc;
    const bill_plugin_notifier *t;

    if (!inst || !n)
        return bill__err(BILL_EINVALID, "notification", "instance and notification are required");
    if (!(t = functions_for(inst, inst->gen->info.kind == BILL_PLUGIN_NOTIFIER, "notifier", &rc)))
        return rc;
    rc = t->send(inst->state, n);
    return rc == BILL_OK ? BILL_OK : bill__plugin_fail(inst, "send", rc);
}

void bill_gateway_payment_info_clear(bill_gateway_payment_info *info)
{
    if (!info)
        return;
    BILL__FREE(info->payment_url, info->qr_code, info->instructions, info->gateway_payment_id);
    memset(info, 0, sizeof *info);
}

int bill_plugin_gateway_create_payment(bill_plugin_instance *inst,
                                       const bill_gateway_payment_request *req,
                                       bill_gateway_payment_info *out)
{
    int rc;
    const bill_plugin_gateway *t;
    bill_gateway_payment_info info = {0};

    if (!inst || !req || !out)
        return bill__err(BILL_EINVALID, "payment", "instance, request and out are required");
    memset(out, 0, sizeof *out);
    if (!(t = functions_for(inst, inst->gen->info.kind == BILL_PLUGIN_GATEWAY, "gateway", &rc)))
        return rc;
    if (req->amount_cents <= 0)
        return bill__err(BILL_EINVALID, "amount", "payment amount must be positive, got %lld cents",
                         (long long)req->amount_cents);
    rc = t->create_payment(inst->state, req, &info);
    if (rc != BILL_OK) {
        rc = bill__plugin_fail(inst, "create_payment", rc);
        goto done;
    }
    if (!info.gateway_payment_id || !info.gateway_payment_id[0]) {
        rc = garbage(inst, "create_payment", "gateway_payment_id is empty");
        goto done;
    }
    if (!bill__plugin_text_ok(info.gateway_payment_id, ID_MAX)) {
        rc = garbage(inst, "create_payment", "gateway_payment_id is not printable UTF-8 of at most "
                     "255 bytes");
        goto done;
    }
    if (!info.payment_url && !info.qr_code && !info.instructions) {
        rc = garbage(inst, "create_payment", "neither payment_url, qr_code nor instructions");
        goto done;
    }
    /* Shown to the payer: text, and URLs without spaces or controls. */
    if ((info.payment_url && (!bill__plugin_text_ok(info.payment_url, 64 * 1024) ||
                              strchr(info.payment_url, ' '))) ||
        (info.qr_code && !bill__plugin_text_ok(info.qr_code, 64 * 1024))) {
        rc = garbage(inst, "create_payment", "payment_url or qr_code is not printable UTF-8");
        goto done;
    }
    bill__plugin_text_sanitize(info.instructions, true);
    *out = info;
    memset(&info, 0, sizeof info);
done:
    bill_gateway_payment_info_clear(&info);
    return rc;
}

void bill_gateway_callback_result_clear(bill_gateway_callback_result *r)
{
    if (!r)
        return;
    BILL__FREE(r->gateway_payment_id, r->gateway_tx_id, r->response_body, r->response_content_type);
    memset(r, 0, sizeof *r);
}

int bill_plugin_gateway_handle_callback(bill_plugin_instance *inst,
                                        const bill_gateway_callback *cb,
                                        bill_gateway_callback_result *out)
{
    int rc;
    const bill_plugin_gateway *t;
    bill_gateway_callback_result r = {0};

    if (!inst || !cb || !out)
        return bill__err(BILL_EINVALID, "callback", "instance, callback and out are required");
    memset(out, 0, sizeof *out);
    if (!(t = functions_for(inst, inst->gen->info.kind == BILL_PLUGIN_GATEWAY, "gateway", &rc)))
        return rc;
    rc = t->handle_callback(inst->state, cb, &r);
    if (rc != BILL_OK) {
        rc = bill__plugin_fail(inst, "handle_callback", rc);
        goto done;
    }
    if (r.response_content_type && !bill__plugin_text_ok(r.response_content_type, 256)) {
        rc = garbage(inst, "handle_callback", "response_content_type is not a header value");
        goto done;
    }
    if (r.verified) {
        if (!r.gateway_payment_id || !r.gateway_payment_id[0]) {
            rc = garbage(inst, "handle_callback", "verified without gateway_payment_id");
            goto done;
        }
        if (!bill__plugin_text_ok(r.gateway_payment_id, ID_MAX) ||
            (r.gateway_tx_id && !bill__plugin_text_ok(r.gateway_tx_id, ID_MAX))) {
            rc = garbage(inst, "handle_callback", "gateway_payment_id or gateway_tx_id is not "
                         "printable UTF-8 of at most 255 bytes");
            goto done;
        }
        if (r.amount_cents < 0 || (int)r.status < BILL_GATEWAY_PENDING ||
            (int)r.status > BILL_GATEWAY_FAILED) {
            rc = garbage(inst, "handle_callback", "negative amount or unknown status");
            goto done;
        }
    }
    *out = r;
    memset(&r, 0, sizeof r);
done:
    bill_gateway_callback_result_clear(&r);
    return rc;
}

void bill_provider_instance_clear(bill_provider_instance *pi)
{
    if (!pi)
        return;
    BILL__FREE(pi->provider_instance_id, pi->ip_address, pi->message);
    memset(pi, 0, sizeof *pi);
}

const char *bill_provider_status_name(bill_provider_status s)
{
    switch (s) {
    case BILL_PROVIDER_PROVISIONING: return "provisioning";
    case BILL_PROVIDER_RUNNING: return "running";
    case BILL_PROVIDER_STOPPED: return "stopped";
    case BILL_PROVIDER_SUSPENDED: return "suspended";
    case BILL_PROVIDER_TERMINATED: return "terminated";
    case BILL_PROVIDER_ERROR: return "error";
    }
    return NULL;
}

static int provider_result(bill_plugin_instance *inst, const char *what, int rc,
                           bill_provider_instance *r, bill_provider_instance *out)
{
    if (rc != BILL_OK) {
        rc = bill__plugin_fail(inst, what, rc);
    } else if (!r->provider_instance_id || !r->provider_instance_id[0]) {
        rc = garbage(inst, what, "provider_instance_id is empty");
    } else if (!bill_provider_status_name(r->status)) {
        rc = garbage(inst, what, "unknown instance status");
    } else if (!bill__plugin_text_ok(r->provider_instance_id, ID_MAX)) {
        rc = garbage(inst, what, "provider_instance_id is not printable UTF-8 of at most 255 bytes");
    } else if (r->ip_address && !bill__plugin_text_ok(r->ip_address, IP_MAX)) {
        rc = garbage(inst, what, "ip_address is not printable text of at most 64 bytes");
    } else {
        bill__plugin_text_sanitize(r->message, false);
        *out = *r;
        memset(r, 0, sizeof *r);
    }
    bill_provider_instance_clear(r);
    return rc;
}

int bill_plugin_provider_create(bill_plugin_instance *inst, const bill_provider_create_request *req,
                                bill_provider_instance *out)
{
    bill_provider_instance r = {0};
    int rc;
    if (!inst || !req || !out)
        return bill__err(BILL_EINVALID, "request", "instance, request and out are required");
    memset(out, 0, sizeof *out);
    const bill_plugin_provider *t = functions_for(inst, is_provider(inst), "provider", &rc);
    if (!t)
        return rc;
    return provider_result(inst, "create_instance", t->create_instance(inst->state, req, &r), &r,
                           out);
}

int bill_plugin_provider_get(bill_plugin_instance *inst, const char *provider_instance_id,
                             bill_provider_instance *out)
{
    bill_provider_instance r = {0};
    int rc;
    if (!inst || !provider_instance_id || !out)
        return bill__err(BILL_EINVALID, "provider_instance_id", "instance id is required");
    memset(out, 0, sizeof *out);
    const bill_plugin_provider *t = functions_for(inst, is_provider(inst), "provider", &rc);
    if (!t)
        return rc;
    return provider_result(inst, "get_instance",
                           t->get_instance(inst->state, provider_instance_id, &r), &r, out);
}

int bill_plugin_provider_action(bill_plugin_instance *inst, const char *provider_instance_id,
                                const char *action)
{
    int rc;
    if (!inst || !provider_instance_id || !action)
        return bill__err(BILL_EINVALID, "action", "instance id and action are required");
    const bill_plugin_provider *t = functions_for(inst, is_provider(inst), "provider", &rc);
    if (!t)
        return rc;
    if (strcmp(action, "start") && strcmp(action, "stop") && strcmp(action, "reboot") &&
        strcmp(action, "terminate") && strcmp(action, "suspend") && strcmp(action, "unsuspend"))
        return bill__err(BILL_EINVALID, "action",
                         "action \"%s\" is not one of start, stop, reboot, terminate, suspend, "
                         "unsuspend", action);
    rc = t->action(inst->state, provider_instance_id, action);
    return rc == BILL_OK ? BILL_OK : bill__plugin_fail(inst, action, rc);
}

int bill_plugin_provider_change_plan(bill_plugin_instance *inst, const char *provider_instance_id,
                                     const char *spec_json, const char *upstream_product_id)
{
    int rc;
    if (!inst || !provider_instance_id)
        return bill__err(BILL_EINVALID, "provider_instance_id", "instance id is required");
    const bill_plugin_provider *t = functions_for(inst, is_provider(inst), "provider", &rc);
    if (!t)
        return rc;
    if (t->version < 2 || !t->change_plan)
        return bill__err(BILL_EUNSUPPORTED, "change_plan",
                         "provider plugin %s cannot change an instance's plan (provider table "
                         "version %u)", bill_plugin_instance_plugin_id(inst), t->version);
    rc = t->change_plan(inst->state, provider_instance_id, spec_json ? spec_json : "{}",
                        upstream_product_id);
    return rc == BILL_OK ? BILL_OK : bill__plugin_fail(inst, "change_plan", rc);
}

/* Shared shape of the "returns a JSON document" calls. */
static int json_call(bill_plugin_instance *inst, const char *what, int rc, char *doc,
                     json_type want, char **json_out)
{
    if (rc != BILL_OK) {
        free(doc);
        return bill__plugin_fail(inst, what, rc);
    }
    if (!json_valid(doc, want)) {
        free(doc);
        return garbage(inst, what, want == json_type_array ? "not a JSON array"
                                                           : "not a JSON object");
    }
    *json_out = doc;
    return BILL_OK;
}

int bill_plugin_provider_spec_template(bill_plugin_instance *inst, char **json_out)
{
    char *doc = NULL;
    int rc;
    if (!inst || !json_out)
        return bill__err(BILL_EINVALID, NULL, "instance and out are required");
    *json_out = NULL;
    const bill_plugin_provider *t = functions_for(inst, is_provider(inst), "provider", &rc);
    if (!t)
        return rc;
    if (!t->spec_template) {
        *json_out = strdup("{\"fields\":[]}");
        return *json_out ? BILL_OK : bill__err(BILL_ENOMEM, NULL, "out of memory");
    }
    /* Call first, then pass doc: argument evaluation order is unspecified. */
    rc = t->spec_template(inst->state, &doc);
    return json_call(inst, "spec_template", rc, doc, json_type_object, json_out);
}

int bill_plugin_provider_detail_sections(bill_plugin_instance *inst,
                                         const char *provider_instance_id, char **json_out)
{
    char *doc = NULL;
    int rc;
    if (!inst || !provider_instance_id || !json_out)
        return bill__err(BILL_EINVALID, NULL, "instance, id and out are required");
    *json_out = NULL;
    const bill_plugin_provider *t = functions_for(inst, is_provider(inst), "provider", &rc);
    if (!t)
        return rc;
    if (!t->detail_sections) {
        *json_out = strdup("[]");
        return *json_out ? BILL_OK : bill__err(BILL_ENOMEM, NULL, "out of memory");
    }
    rc = t->detail_sections(inst->state, provider_instance_id, &doc);
    return json_call(inst, "detail_sections", rc, doc, json_type_array, json_out);
}

int bill_plugin_provider_list_upstream_products(bill_plugin_instance *inst, char **json_out)
{
    char *doc = NULL;
    int rc;
    if (!inst || !json_out)
        return bill__err(BILL_EINVALID, NULL, "instance and out are required");
    *json_out = NULL;
    const bill_plugin_provider *t = functions_for(inst, is_provider(inst), "provider", &rc);
    if (!t)
        return rc;
    if (!t->list_upstream_products)
        return bill__err(BILL_EUNSUPPORTED, "interface", "provider %s has no upstream products",
                         inst->gen->info.id);
    rc = t->list_upstream_products(inst->state, &doc);
    return json_call(inst, "list_upstream_products", rc, doc, json_type_array, json_out);
}
