/*
 * fuzz_plugin_banktransfer.c — gateway-banktransfer through the real host.
 * Byte 0 picks the case:
 *   0  interface config (schema check + the plugin's own init);
 *   1  a notification (anybody may POST to its public callback URL):
 *      record = query string, record = body; it must confirm nothing;
 *   2  create_payment: records for payment id and currency, 8 bytes of
 *      amount; the instructions must name the payment id.
 */
#include "plugin_fuzz.h"

#include <stdlib.h>
#include <string.h>

#define CONFIG "{\"bank_name\":\"Bank\",\"account_name\":\"Shop Ltd\",\"account_number\":\"123-456\"," \
               "\"note\":\"Thank you.\"}"

static void run(bill_plugin_instance *inst, unsigned op)
{
    if (op == 1) {
        char *q = pf_str(), *body = pf_str();
        bill_gateway_callback cb = {
            .version = BILL_GATEWAY_CALLBACK_VERSION,
            .method = "POST",
            .query = q,
            .body = body,
            .body_len = strlen(body),
        };
        bill_gateway_callback_result r;
        if (bill_plugin_gateway_handle_callback(inst, &cb, &r) == BILL_OK) {
            if (r.verified)
                abort(); /* nothing external confirms a bank transfer */
            bill_gateway_callback_result_clear(&r);
        }
        free(q);
        free(body);
    } else {
        char *id = pf_str(), *cur = pf_str();
        int64_t amount = pf_i64();
        bill_gateway_payment_request req = {
            .version = BILL_GATEWAY_PAYMENT_REQUEST_VERSION,
            .payment_id = id,
            .amount_cents = amount,
            .currency = cur,
            .subject = "order",
        };
        bill_gateway_payment_info info;
        if (bill_plugin_gateway_create_payment(inst, &req, &info) == BILL_OK) {
            if (!info.instructions || !strstr(info.instructions, id))
                abort();
            bill_gateway_payment_info_clear(&info);
        }
        free(id);
        free(cur);
    }
}

PF_TARGET(CONFIG, 3, run)
