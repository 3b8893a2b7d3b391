/*
 * fuzz_plugin_email.c — notifier-email. Byte 0 picks the case:
 *   0  interface config through the real host (schema check + the plugin's
 *      own init);
 *   1  the message the plugin would hand to SMTP (message.c, the code
 *      em_send runs before libcurl): records for recipient, subject, body
 *      and event kind, 8 bytes of clock. Checked: a recipient em_addr_ok
 *      accepts has no byte SMTP or a header could misread; the header block
 *      of the built message is exactly the plugin's own header lines (no
 *      injected header, no bare CR or LF), the body ends in CRLF.
 */
#include "plugin_fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "message.h"

#define CONFIG "{\"url\":\"smtp://mail.example.com:587\",\"from\":\"billing@shop.example.com\"}"

static const char *const headers[] = {
    "Date: ", "From: ", "To: ", "Message-ID: ", "Subject: ", " ", "X-Bill-Event: ",
    "MIME-Version: ", "Content-Type: ", "Content-Transfer-Encoding: ",
};

static void check_message(const em_msg *m)
{
    const char *end = strstr(m->data, "\r\n\r\n"), *line = m->data;
    if (!end || m->len < 2 || memcmp(m->data + m->len - 2, "\r\n", 2) != 0)
        abort();
    while (line <= end) {
        const char *eol = strstr(line, "\r\n");
        bool known = false;
        for (size_t i = 0; i < sizeof headers / sizeof *headers; i++)
            known |= strncmp(line, headers[i], strlen(headers[i])) == 0;
        if (!known || memchr(line, '\n', (size_t)(eol - line)) || memchr(line, '\r', (size_t)(eol - line)))
            abort();
        line = eol + 2;
    }
}

static void run(bill_plugin_instance *inst, unsigned op)
{
    (void)inst; /* case 1 is the message alone */
    (void)op;
    char *to = pf_str(), *subject = pf_str(), *body = pf_str(), *kind = pf_str();
    unsigned char rnd[8];
    int64_t now = pf_i64();
    for (int i = 0; i < 8; i++)
        rnd[i] = (unsigned char)(now >> (8 * i));
    if (em_addr_ok(to)) {
        for (const char *s = to; *s; s++)
            if ((unsigned char)*s <= ' ' || strchr("<>\r\n", *s))
                abort();
    } else {
        free(to);
        to = strdup("customer@example.com");
        if (!to)
            abort();
    }
    bill_notification n = {
        .version = BILL_NOTIFICATION_VERSION,
        .event_kind = kind,
        .recipient = to,
        .subject = subject,
        .body = body,
    };
    em_msg m = {0};
    if (em_msg_build(&m, "billing@shop.example.com", to, &n, now, rnd) == 0)
        check_message(&m);
    free(m.data);
    free(to);
    free(subject);
    free(body);
    free(kind);
}

PF_TARGET(CONFIG, 2, run)
