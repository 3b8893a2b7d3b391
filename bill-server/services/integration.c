/*
 * integration.c — rustbill.integration.IntegrationService (wire-contract.md):
 * the enabled provider and gateway plugin interfaces a logged-in customer
 * may pick when ordering and paying. The gateways are libbill's catalogue
 * (bill_gateway_catalogue: "balance" first, it needs no plugin).
 *
 * libbill's interface listing is staff-only (it carries configuration), so
 * the list is read as SYSTEM and only id, name, kind, health and the
 * provider's spec template leave the server — never config or errors.
 * ListGateways answers anonymously: RustBill's public product page calls
 * it before anyone logs in (docs/api-compat.md), and id, name and health of
 * a gateway are public anyway (the id is in every callback URL).
 * ListProviders needs a login.
 */
#include "conv.h"

#include "rustbill/integration.pb-c.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

static const char *jstr(json_object *o, const char *k1, const char *k2)
{
    json_object *v = NULL;
    if ((json_object_object_get_ex(o, k1, &v) || (k2 && json_object_object_get_ex(o, k2, &v))) && v)
        return json_object_get_string(v);
    return "";
}

static int64_t jnonneg(json_object *o, const char *k)
{
    json_object *v = NULL;
    int64_t n = json_object_object_get_ex(o, k, &v) && v ? json_object_get_int64(v) : 0;
    return n < 0 ? 0 : n; /* the SPA reads varints unsigned */
}

/* Template JSON ({"fields":[...]} or [...]) -> SpecTemplate; NULL on OOM.
 * A template the plugin got wrong becomes an empty one. */
static Rustbill__Product__SpecTemplate *spec_template(bill_srv_call *call, const char *text)
{
    Rustbill__Product__SpecTemplate *t = bill_srv_call_new(call, &rustbill__product__spec_template__descriptor);
    json_object *root = text && *text ? json_tokener_parse(text) : NULL, *fields = NULL;
    size_t n;

    if (!t)
        goto done;
    if (root && json_object_is_type(root, json_type_array))
        fields = root;
    else if (root && json_object_object_get_ex(root, "fields", &fields) && !json_object_is_type(fields, json_type_array))
        fields = NULL;
    n = fields ? json_object_array_length(fields) : 0;
    if (n && !(t->fields = bill_srv_call_alloc(call, n * sizeof *t->fields))) {
        t = NULL;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *f = json_object_array_get_idx(fields, i), *x = NULL;
        Rustbill__Product__SpecField *sf;
        if (!f || !json_object_is_type(f, json_type_object))
            continue;
        if (!(sf = bill_srv_call_new(call, &rustbill__product__spec_field__descriptor))) {
            t = NULL;
            goto done;
        }
        sf->key = bill_srv_call_strdup(call, jstr(f, "key", "name"));
        sf->label = bill_srv_call_strdup(call, jstr(f, "label", NULL));
        sf->field_type = bill_srv_call_strdup(call, jstr(f, "field_type", "type"));
        sf->required = json_object_object_get_ex(f, "required", &x) && json_object_get_boolean(x);
        sf->display_order = (uint32_t)jnonneg(f, "display_order");
        sf->min = jnonneg(f, "min");
        sf->max = jnonneg(f, "max");
        sf->default_value = bill_srv_call_strdup(call, jstr(f, "default_value", "default"));
        if (json_object_object_get_ex(f, "options", &x) && json_object_is_type(x, json_type_array)) {
            size_t m = json_object_array_length(x);
            if (m && !(sf->options = bill_srv_call_alloc(call, m * sizeof *sf->options))) {
                t = NULL;
                goto done;
            }
            for (size_t j = 0; j < m; j++) {
                json_object *o = json_object_array_get_idx(x, j), *v = NULL;
                if (o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "value", &v))
                    o = v;
                sf->options[j] = bill_srv_call_strdup(call, o ? json_object_get_string(o) : "");
            }
            sf->n_options = m;
        }
        t->fields[t->n_fields++] = sf;
    }
done:
    json_object_put(root);
    return t;
}

/* Enabled interfaces of `kind` (0 = any), read as SYSTEM. */
static int enabled_interfaces(bill_srv_call *call, bill_plugins *p, int kind, bill_plugin_interfaces *out)
{
    int rc;
    if (!p)
        return BILL_GRPC_OK; /* no registry: nothing but built-ins */
    rc = bill_plugin_interface_list(p, NULL, kind, out);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    return BILL_GRPC_OK;
}

static int list_providers(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    Rustbill__Integration__ListProvidersResponse *resp;
    bill_plugins *p;
    bill_plugin_interfaces ifs = {0};
    size_t n;
    int st;
    (void)in;

    if ((st = bill_srv_require_login(call)) != BILL_GRPC_OK)
        return st;
    p = bill_srv_call_plugins(call);
    if ((st = enabled_interfaces(call, p, 0, &ifs)) != BILL_GRPC_OK)
        return st;
    n = ifs.count;
    resp = bill_srv_call_new(call, &rustbill__integration__list_providers_response__descriptor);
    if (!resp || (n && !(resp->providers = bill_srv_call_alloc(call, n * sizeof *resp->providers)))) {
        st = conv_oom(call);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const bill_plugin_interface *f = &ifs.items[i];
        Rustbill__Integration__ProviderInfo *pi;
        bill_plugin_instance *inst = NULL;
        char *tmpl = NULL;
        if (!f->enabled || (f->kind != BILL_PLUGIN_UPSTREAM_PROVIDER && f->kind != BILL_PLUGIN_FIRST_PARTY_PROVIDER))
            continue;
        if (!(pi = bill_srv_call_new(call, &rustbill__integration__provider_info__descriptor))) {
            st = conv_oom(call);
            goto done;
        }
        pi->provider_id = conv_str(call, f->id);
        pi->provider_name = conv_str(call, f->name);
        pi->provider_type = conv_str(call, bill_plugin_kind_name(f->kind));
        pi->is_healthy = f->is_healthy;
        /* A provider whose plugin is not loaded still lists, with an empty
         * template: the order form can show it as unavailable. */
        if (bill_plugin_host_get_provider(p, f->id, &inst) == BILL_OK) {
            if (bill_plugin_provider_spec_template(inst, &tmpl) != BILL_OK) {
                free(tmpl);
                tmpl = NULL;
            }
            bill_plugin_instance_release(inst);
        }
        pi->spec_template = spec_template(call, tmpl);
        free(tmpl);
        if (!pi->spec_template) {
            st = conv_oom(call);
            goto done;
        }
        resp->providers[resp->n_providers++] = pi;
    }
    *out = &resp->base;
done:
    bill_plugin_interfaces_clear(&ifs);
    return st;
}

static int list_gateways(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    Rustbill__Integration__ListGatewaysResponse *resp;
    bill_gateways gws = {0};
    int rc, st = BILL_GRPC_OK;
    (void)in;

    /* Public: no login check (see the top of this file). libbill's
     * catalogue: the balance first, then the enabled gateways. */
    if ((rc = bill_gateway_catalogue(bill_srv_call_plugins(call), &gws)) < 0)
        return bill_srv_call_fail(call, rc);
    resp = bill_srv_call_new(call, &rustbill__integration__list_gateways_response__descriptor);
    if (!resp || !(resp->gateways = bill_srv_call_alloc(call, gws.count * sizeof *resp->gateways))) {
        st = conv_oom(call);
        goto done;
    }
    for (size_t i = 0; i < gws.count; i++) {
        Rustbill__Integration__GatewayInfo *g =
            bill_srv_call_new(call, &rustbill__integration__gateway_info__descriptor);
        if (!g) {
            st = conv_oom(call);
            goto done;
        }
        g->gateway_id = conv_str(call, gws.items[i].id);
        g->gateway_name = conv_str(call, gws.items[i].name);
        g->is_healthy = gws.items[i].is_healthy;
        resp->gateways[resp->n_gateways++] = g;
    }
    *out = &resp->base;
done:
    bill_gateways_clear(&gws);
    return st;
}

#define M(name, in, outd, fn) CONV_METHOD(integration, "IntegrationService", name, in, outd, fn, 0)
#define MC(name, in, outd, fn) \
    CONV_METHOD(integration, "IntegrationService", name, in, outd, fn, BILL_SRV_CATALOG_CACHE)

static const bill_srv_method integration_methods[] = {
    M("ListProviders", list_providers_request, list_providers_response, list_providers),
    MC("ListGateways", list_gateways_request, list_gateways_response, list_gateways),
};

CONV_SERVICE(bill_srv_integration_service,
             "rustbill.integration.IntegrationService", integration_methods);
