/*
 * message.h — notifier-email's message text: address checks and the
 * RFC 5322 message built from a notification. Internal to the plugin (no
 * libcurl, no host calls), and compiled as is into the plugin's fuzz target.
 */
#ifndef BILL_NOTIFIER_EMAIL_MESSAGE_H
#define BILL_NOTIFIER_EMAIL_MESSAGE_H

#include <bill/plugin.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct em_msg {
    char *data;       /* NUL-terminated, len bytes */
    size_t len, cap;
    size_t pos;       /* read position of the upload callback */
} em_msg;

/* A plain address (local@domain) we can put into MAIL FROM / RCPT TO and a
 * header as is: one '@' with text on both sides, valid UTF-8, at most 254
 * bytes, no space, control character or any of <>,;"()\ . */
bool em_addr_ok(const char *a);

/* The whole message (headers + CRLF body) for notification n from `from` to
 * `to` (both em_addr_ok), dated now_sec, Message-ID made of now_sec and
 * rnd. Header values lose their control characters (no header injection);
 * a non-ASCII subject becomes RFC 2047 encoded words; body line endings
 * become CRLF. -1 when out of memory. Free m->data with free(). */
int em_msg_build(em_msg *m, const char *from, const char *to, const bill_notification *n,
                 int64_t now_sec, const unsigned char rnd[8]);

#endif
