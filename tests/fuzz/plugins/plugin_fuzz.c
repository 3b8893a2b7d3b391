/*
 * plugin_fuzz.c — see plugin_fuzz.h.
 */
#include "plugin_fuzz.h"

#include "../fuzz_bytes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bill/log.h"
#include "plugins_internal.h"
#include "pu.h"

static const uint8_t *in_p;
static size_t in_n;

void pf_begin(const uint8_t *data, size_t size)
{
    in_p = data;
    in_n = size;
}

size_t pf_left(void)
{
    return in_n;
}

uint8_t pf_u8(void)
{
    if (!in_n)
        return 0;
    in_n--;
    return *in_p++;
}

const uint8_t *pf_rec(size_t *len)
{
    size_t n = (size_t)pf_u8() << 8;
    n |= pf_u8();
    if (n > in_n)
        n = in_n;
    const uint8_t *r = in_p;
    in_p += n;
    in_n -= n;
    *len = n;
    return r;
}

int64_t pf_i64(void)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | pf_u8();
    return (int64_t)v;
}

char *pf_str(void)
{
    size_t n;
    const uint8_t *r = pf_rec(&n);
    return fuzz_cstr(r, n);
}

/* ---- the network ------------------------------------------------------- */

static const long statuses[16] = {200, 200, 200, 200, 200, 201, 202, 204,
                                  302, 400, 401, 404, 409, 429, 500, 503};

static int pf_http(const bill_plugin_host *h, const bill_plugin_http_request *req,
                   bill_plugin_http_response *resp)
{
    int rc;
    size_t n;
    const uint8_t *body;
    uint8_t st;

    memset(resp, 0, sizeof *resp);
    resp->version = 1;
    if ((rc = bill__plugin_http_check(h, req)) < 0)
        return rc;
    /* What curl would read: the whole body must be addressable. */
    if (req->body && req->body_len) {
        char *copy = malloc(req->body_len);
        if (!copy)
            abort();
        memcpy(copy, req->body, req->body_len);
        free(copy);
    }
    if (!pf_left())
        return h->error(h, BILL_EUNAVAILABLE, "%s %s: connection refused (fuzz input used up)",
                        req->method, req->url);
    st = pf_u8();
    body = pf_rec(&n);
    if (st == 0xff)
        return h->error(h, BILL_ETIMEOUT, "%s %s: timed out", req->method, req->url);
    resp->status = statuses[st % 16];
    if (!(resp->body = malloc(n + 1)))
        abort();
    memcpy(resp->body, body, n);
    resp->body[n] = '\0';
    resp->body_len = n;
    if (st & 0x10)
        resp->content_type = strdup("application/json");
    return BILL_OK;
}

/* ---- registry ---------------------------------------------------------- */

static bill_plugins *reg;

static bill_plugins *registry(void)
{
    const bill_plugin_descriptor *d;
    bill_plugins_options o;
    bill__plugin_gen *g;

    if (reg)
        return reg;
    bill_log_set_filter("off");
    bill_plugins_options_init(&o);
    o.plugins_dir = "/nonexistent";
    if (bill_plugins_new(&reg, &o) != BILL_OK)
        abort();
    /* The plugin is linked in, not dlopen'd: one generation by hand, as
     * load_path would record it. */
    d = bill_plugin_entry();
    if (!(g = calloc(1, sizeof *g)))
        abort();
    g->refs = 1;
    g->current = true;
    g->desc = d;
    g->info.kind = d->kind;
    snprintf(g->info.id, sizeof g->info.id, "%s", d->id);
    snprintf(g->info.name, sizeof g->info.name, "%s", d->name);
    snprintf(g->info.version, sizeof g->info.version, "%s", d->version);
    g->info.generation = 1;
    g->info.abi_version = d->abi_version;
    reg->gens = g;
    reg->host.http = pf_http;
    return reg;
}

int pf_open(const char *config_json, bill_plugin_instance **out)
{
    const bill_plugin_descriptor *d = bill_plugin_entry();
    bill_plugins *p = registry();
    *out = NULL;
    return bill_plugin_instance_open(p, d->kind, d->id, config_json, out);
}

bill_plugin_instance *pf_case(const char *config_json, unsigned n_cases, unsigned *op)
{
    bill_plugin_instance *inst = NULL;
    *op = pf_u8() % n_cases;
    if (*op == 0) {
        char *cfg = pf_str();
        pf_config(cfg);
        free(cfg);
        return NULL;
    }
    if (pf_open(config_json, &inst) != BILL_OK)
        abort();
    return inst;
}

int pf_target(const uint8_t *data, size_t size, const char *config_json, unsigned n_cases,
              pf_case_fn *run)
{
    unsigned op;

    pf_begin(data, size);
    bill_plugin_instance *inst = pf_case(config_json, n_cases, &op);
    if (inst) {
        run(inst, op);
        bill_plugin_instance_release(inst);
    }
    return 0;
}

void pf_config(const char *config_json)
{
    const char *schema = bill_plugin_entry()->config_schema;
    bill_plugin_instance *inst = NULL;
    char *pub = NULL, *sec = NULL, *merged = NULL;
    bool has_secret = false;

    registry();
    if (bill_plugin_config_validate(schema, config_json) == BILL_OK &&
        bill__config_split(schema, config_json, &pub, &sec, &has_secret) == BILL_OK) {
        char *masked = bill__config_mask(pub, sec);
        pf_assert_json(masked, json_type_object);
        free(masked);
        merged = bill__config_merge(pub, sec);
        pf_assert_json(merged, json_type_object);
    }
    if (pf_open(config_json, &inst) == BILL_OK)
        bill_plugin_instance_release(inst);
    if (merged && pf_open(merged, &inst) == BILL_OK)
        bill_plugin_instance_release(inst);
    free(pub);
    free(sec);
    free(merged);
}

/* ---- post-conditions --------------------------------------------------- */

void pf_assert_text(const char *s)
{
    if (s && !pu_text_ok(s, strlen(s))) {
        fprintf(stderr, "plugin_fuzz: a checked call returned text that is not printable UTF-8\n");
        abort();
    }
}

void pf_assert_json(const char *s, int want)
{
    json_object *j = s ? pu_json_parse(s, strlen(s)) : NULL;
    if (!j || !json_object_is_type(j, (json_type)want)) {
        fprintf(stderr, "plugin_fuzz: a checked call returned JSON that is not a complete %s\n",
                json_type_to_name((json_type)want));
        abort();
    }
    json_object_put(j);
}

/* ---- providers --------------------------------------------------------- */

static void check_instance(int rc, bill_provider_instance *pi)
{
    if (rc != BILL_OK)
        return;
    if (!pi->provider_instance_id || !pi->provider_instance_id[0] ||
        !bill_provider_status_name(pi->status))
        abort();
    pf_assert_text(pi->provider_instance_id);
    pf_assert_text(pi->ip_address);
    pf_assert_text(pi->message);
    bill_provider_instance_clear(pi);
}

void pf_provider_case(bill_plugin_instance *inst, unsigned op)
{
    static const char *const actions[] = {"start",   "stop",      "reboot", "terminate",
                                          "suspend", "unsuspend", "resize"};
    bill_provider_instance pi;
    char *doc = NULL, *detail = NULL;
    int rc;

    switch (op) {
    case 1: {
        char *spec = pf_str(), *order = pf_str(), *upstream = pf_str();
        bill_provider_create_request req = {
            .version = BILL_PROVIDER_CREATE_REQUEST_VERSION,
            .order_id = order,
            .customer_id = "7b0b2a4e-93c4-4b1e-9d1c-0e6f3c2d1a00",
            .hostname = "vm",
            .spec_json = spec,
            .upstream_product_id = upstream[0] ? upstream : NULL,
        };
        check_instance(bill_plugin_provider_create(inst, &req, &pi), &pi);
        free(spec);
        free(order);
        free(upstream);
        break;
    }
    case 2: {
        char *id = pf_str();
        check_instance(bill_plugin_provider_get(inst, id, &pi), &pi);
        free(id);
        break;
    }
    case 3: {
        const char *a = actions[pf_u8() % 7];
        char *id = pf_str();
        (void)bill_plugin_provider_action(inst, id, a);
        free(id);
        break;
    }
    case 4: {
        char *id = pf_str();
        if (bill_plugin_provider_detail_sections(inst, id, &doc) == BILL_OK)
            pf_assert_json(doc, json_type_array);
        free(id);
        break;
    }
    case 5:
        if (bill_plugin_provider_spec_template(inst, &doc) == BILL_OK)
            pf_assert_json(doc, json_type_object);
        break;
    case 6:
        rc = bill_plugin_health(inst, &detail);
        if (rc == BILL_OK)
            pf_assert_text(detail);
        break;
    case 7:
        if (bill_plugin_provider_list_upstream_products(inst, &doc) == BILL_OK)
            pf_assert_json(doc, json_type_array);
        break;
    default: {
        char *id = pf_str(), *spec = pf_str(), *upstream = pf_str();
        (void)bill_plugin_provider_change_plan(inst, id, spec, upstream[0] ? upstream : NULL);
        free(id);
        free(spec);
        free(upstream);
        break;
    }
    }
    free(doc);
    free(detail);
}
