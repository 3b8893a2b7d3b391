/*
 * fuzz_plugin_webhook.c — notifier-webhook through the real host. Byte 0
 * picks the case:
 *   0  interface config (schema check + the plugin's own init);
 *   1  send: records for event kind, recipient, subject, body and the
 *      event payload JSON; the receiver's answer (status + body) comes from
 *      the rest of the input.
 * The host checks the request the plugin makes (method, URL, header lines
 * a CR/LF cannot split) before "sending" it.
 */
#include "plugin_fuzz.h"

#include <stdlib.h>

#define CONFIG "{\"url\":\"https://hooks.example.com/bill\",\"secret\":\"s3cret\",\"timeout\":5}"

static void run(bill_plugin_instance *inst, unsigned op)
{
    (void)op; /* 1: send */
    char *kind = pf_str(), *rcpt = pf_str(), *subject = pf_str(), *body = pf_str(),
         *payload = pf_str();
    bill_notification n = {
        .version = BILL_NOTIFICATION_VERSION,
        .event_kind = kind,
        .recipient = rcpt[0] ? rcpt : NULL,
        .subject = subject,
        .body = body,
        .payload_json = payload[0] ? payload : NULL,
    };
    (void)bill_plugin_notify(inst, &n);
    free(kind);
    free(rcpt);
    free(subject);
    free(body);
    free(payload);
}

PF_TARGET(CONFIG, 2, run)
