/*
 * banktransfer.c — gateway-banktransfer: the payer gets bank account details
 * and a reference; nothing is ever confirmed by a callback. The payment stays
 * pending until staff confirm it by hand (R-DOM-5 manual confirmation), so
 * handle_callback refuses everything.
 *
 * Config: {"bank_name", "account_name", "account_number", "note"?}.
 */
#include <bill/plugin.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bt {
    const bill_plugin_host *host;
    char *bank, *holder, *number, *note;
} bt;

static char *get(json_object *cfg, const char *k)
{
    json_object *v;
    return strdup(json_object_object_get_ex(cfg, k, &v) && json_object_get_string(v)
                      ? json_object_get_string(v) : "");
}

static void bt_destroy(void *instance)
{
    bt *b = instance;
    if (!b)
        return;
    free(b->bank);
    free(b->holder);
    free(b->number);
    free(b->note);
    free(b);
}

static int bt_init(const bill_plugin_host *host, const char *config_json, void **instance)
{
    json_object *cfg = json_tokener_parse(config_json);
    bt *b;
    if (!cfg || !json_object_is_type(cfg, json_type_object)) {
        json_object_put(cfg);
        return host->error(host, BILL_EINVALID, "config is not a JSON object");
    }
    b = calloc(1, sizeof *b);
    if (!b) {
        json_object_put(cfg);
        return host->error(host, BILL_ENOMEM, "out of memory");
    }
    b->host = host;
    b->bank = get(cfg, "bank_name");
    b->holder = get(cfg, "account_name");
    b->number = get(cfg, "account_number");
    b->note = get(cfg, "note");
    json_object_put(cfg);
    if (!b->bank || !b->holder || !b->number || !b->note) {
        bt_destroy(b);
        return host->error(host, BILL_ENOMEM, "out of memory");
    }
    if (!b->number[0]) {
        bt_destroy(b);
        return host->error(host, BILL_EINVALID, "account_number is required");
    }
    *instance = b;
    return BILL_PLUGIN_OK;
}

static int bt_create_payment(void *instance, const bill_gateway_payment_request *req,
                             bill_gateway_payment_info *out)
{
    bt *b = instance;
    char *text = NULL;
    if (!req->payment_id || !req->payment_id[0])
        return b->host->error(b->host, BILL_EINVALID, "payment_id is required");
    if (asprintf(&text,
                 "Please transfer %lld.%02lld %s to %s, account %s (%s). "
                 "Use reference %s so we can match your payment.%s%s",
                 (long long)(req->amount_cents / 100), (long long)(req->amount_cents % 100),
                 req->currency ? req->currency : "", b->bank, b->number, b->holder,
                 req->payment_id, b->note[0] ? " " : "", b->note) < 0)
        return b->host->error(b->host, BILL_ENOMEM, "out of memory");
    out->instructions = text;
    out->gateway_payment_id = b->host->strdup(req->payment_id);
    return out->gateway_payment_id ? BILL_PLUGIN_OK
                                   : b->host->error(b->host, BILL_ENOMEM, "out of memory");
}

static int bt_handle_callback(void *instance, const bill_gateway_callback *cb,
                              bill_gateway_callback_result *out)
{
    bt *b = instance;
    (void)cb;
    out->verified = false; /* nothing external can confirm a bank transfer */
    out->response_body = b->host->strdup("manual confirmation only");
    return BILL_PLUGIN_OK;
}

static const bill_plugin_gateway bt_fns = {
    .version = BILL_PLUGIN_GATEWAY_VERSION,
    .create_payment = bt_create_payment,
    .handle_callback = bt_handle_callback,
};

static const bill_plugin_descriptor bt_desc = {
    .abi_version = BILL_PLUGIN_ABI_VERSION,
    .kind = BILL_PLUGIN_GATEWAY,
    .id = "gateway-banktransfer",
    .name = "Bank transfer (manual confirmation)",
    .version = "1.0.0",
    .config_schema =
        "{\"type\":\"object\",\"required\":[\"bank_name\",\"account_name\",\"account_number\"],"
        "\"additionalProperties\":false,\"properties\":{"
        "\"bank_name\":{\"type\":\"string\"},\"account_name\":{\"type\":\"string\"},"
        "\"account_number\":{\"type\":\"string\"},\"note\":{\"type\":\"string\"}}}",
    .init = bt_init,
    .destroy = bt_destroy,
    .health = NULL,
    .functions = &bt_fns,
};

BILL_PLUGIN_EXPORT const bill_plugin_descriptor *bill_plugin_entry(void)
{
    return &bt_desc;
}
