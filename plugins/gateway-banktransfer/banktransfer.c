/*
 * banktransfer.c — gateway-banktransfer: the payer gets bank account details
 * and a reference; nothing is ever confirmed by a callback. The payment stays
 * pending until staff confirm it by hand (R-DOM-5 manual confirmation), so
 * handle_callback refuses everything.
 *
 * Config: {"bank_name", "account_name", "account_number", "note"?}.
 */
#include <bill/plugin.h>

#include "pu.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bt {
    const bill_plugin_host *host;
    char *bank, *holder, *number, *note;
} bt;

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
    json_object *cfg = NULL;
    bt *b = NULL;
    void *mem;
    int rc = BILL_PLUGIN_OK;
    static const char *const keys[] = {"bank_name", "account_name", "account_number", "note"};

    if ((rc = pu_init_begin(host, config_json, sizeof *b, &cfg, &mem)) != BILL_PLUGIN_OK)
        goto done;
    b = mem;
    b->host = host;
    for (size_t i = 0; i < 4; i++) {
        char **dst = i == 0 ? &b->bank : i == 1 ? &b->holder : i == 2 ? &b->number : &b->note;
        const char *v;
        /* The text goes to the payer (a protobuf string): valid UTF-8. */
        if (pu_json_opt_str(cfg, keys[i], "", &v) < 0 || !pu_utf8_valid(v, strlen(v))) {
            rc = host->error(host, BILL_EINVALID, "%s must be a UTF-8 string", keys[i]);
            goto done;
        }
        if (!(*dst = strdup(v))) {
            rc = host->error(host, BILL_ENOMEM, "out of memory");
            goto done;
        }
    }
    if (!b->number[0]) {
        rc = host->error(host, BILL_EINVALID, "account_number is required");
        goto done;
    }
    *instance = b;
    b = NULL;
done:
    bt_destroy(b);
    json_object_put(cfg);
    return rc;
}

static int bt_create_payment(void *instance, const bill_gateway_payment_request *req,
                             bill_gateway_payment_info *out)
{
    bt *b = instance;
    char *text = NULL;
    if (!req->payment_id || !req->payment_id[0])
        return b->host->error(b->host, BILL_EINVALID, "payment_id is required");
    if (req->amount_cents <= 0)
        return b->host->error(b->host, BILL_EINVALID, "amount %lld cents is not payable",
                              (long long)req->amount_cents);
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
    return out->response_body ? BILL_PLUGIN_OK : b->host->error(b->host, BILL_ENOMEM, "out of memory");
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
