/*
 * example.c — the minimal libbill plugin, used by the plugin tests and shown
 * in docs/plugins.md. A gateway that hands out "pay to account X" text.
 *
 * Build-time switches make the variants the tests need from one source:
 *   EXAMPLE_VERSION   descriptor version string ("1" / "2") — hot reload
 *   EXAMPLE_ABI       abi_version to claim (99 -> refused by the host)
 *   EXAMPLE_GARBAGE   create_payment "succeeds" without a payment id
 *   EXAMPLE_NULL_ID   descriptor id NULL (refused)
 * Config: {"account": "...", "delay_ms": 0}. delay_ms makes calls slow so a
 * test can reload the plugin while calls are in flight.
 */
#include <bill/plugin.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef EXAMPLE_VERSION
#define EXAMPLE_VERSION "1"
#endif
#ifndef EXAMPLE_ABI
#define EXAMPLE_ABI BILL_PLUGIN_ABI_VERSION
#endif

typedef struct example {
    const bill_plugin_host *host;
    char *account;
    long delay_ms;
} example;

static int ex_init(const bill_plugin_host *host, const char *config_json, void **instance)
{
    json_object *cfg = json_tokener_parse(config_json), *v;
    example *ex;

    if (!cfg || !json_object_is_type(cfg, json_type_object)) {
        json_object_put(cfg);
        return host->error(host, BILL_EINVALID, "config is not a JSON object");
    }
    ex = calloc(1, sizeof *ex);
    if (!ex) {
        json_object_put(cfg);
        return host->error(host, BILL_ENOMEM, "out of memory");
    }
    ex->host = host;
    ex->account = strdup(json_object_object_get_ex(cfg, "account", &v) ? json_object_get_string(v)
                                                                        : "000-000");
    if (json_object_object_get_ex(cfg, "delay_ms", &v))
        ex->delay_ms = (long)json_object_get_int64(v);
    json_object_put(cfg);
    *instance = ex;
    return BILL_PLUGIN_OK;
}

static void ex_destroy(void *instance)
{
    example *ex = instance;
    if (!ex)
        return;
    free(ex->account);
    free(ex);
}

static int ex_health(void *instance, char **detail)
{
    example *ex = instance;
    *detail = ex->host->strdup("example is always healthy");
    return BILL_PLUGIN_OK;
}

static int ex_create_payment(void *instance, const bill_gateway_payment_request *req,
                             bill_gateway_payment_info *out)
{
    example *ex = instance;
    char buf[256];

    if (ex->delay_ms > 0) {
        struct timespec ts = {ex->delay_ms / 1000, (ex->delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
#ifdef EXAMPLE_GARBAGE
    (void)req;
    (void)buf;
    out->instructions = ex->host->strdup("garbage: no payment id");
    return BILL_PLUGIN_OK;
#else
    snprintf(buf, sizeof buf, "v%s: transfer %lld.%02lld to account %s, reference %s",
             EXAMPLE_VERSION, (long long)(req->amount_cents / 100),
             (long long)(req->amount_cents % 100), ex->account, req->payment_id);
    out->instructions = ex->host->strdup(buf);
    out->gateway_payment_id = ex->host->strdup(req->payment_id);
    return BILL_PLUGIN_OK;
#endif
}

static int ex_handle_callback(void *instance, const bill_gateway_callback *cb,
                              bill_gateway_callback_result *out)
{
    example *ex = instance;
    (void)cb;
    (void)out;
    return ex->host->error(ex->host, BILL_EUNSUPPORTED, "example takes no callbacks");
}

static const bill_plugin_gateway ex_gateway = {
    .version = BILL_PLUGIN_GATEWAY_VERSION,
    .create_payment = ex_create_payment,
    .handle_callback = ex_handle_callback,
};

static const bill_plugin_descriptor ex_descriptor = {
    .abi_version = EXAMPLE_ABI,
    .kind = BILL_PLUGIN_GATEWAY,
#ifdef EXAMPLE_NULL_ID
    .id = NULL,
#else
    .id = "gateway-example",
#endif
    .name = "Example transfer",
    .version = EXAMPLE_VERSION,
    .config_schema = "{\"type\":\"object\",\"required\":[\"account\"],\"properties\":{"
                     "\"account\":{\"type\":\"string\"},"
                     "\"api_key\":{\"type\":\"string\",\"format\":\"secret\"},"
                     "\"mode\":{\"type\":\"string\",\"enum\":[\"live\",\"test\"]},"
                     "\"delay_ms\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":10000}}}",
    .init = ex_init,
    .destroy = ex_destroy,
    .health = ex_health,
    .functions = &ex_gateway,
};

BILL_PLUGIN_EXPORT const bill_plugin_descriptor *bill_plugin_entry(void)
{
    return &ex_descriptor;
}
