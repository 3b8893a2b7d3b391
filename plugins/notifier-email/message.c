/*
 * message.c — see message.h.
 */
#include "message.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pu.h"

bool em_addr_ok(const char *a)
{
    const char *at = a ? strchr(a, '@') : NULL;
    size_t n;
    if (!at || at == a || !at[1] || strchr(at + 1, '@'))
        return false;
    n = strlen(a);
    if (n > 254 || !pu_utf8_valid(a, n))
        return false;
    for (const unsigned char *s = (const unsigned char *)a; *s; s++)
        if (*s <= ' ' || *s == 0x7f || strchr("<>,;\"()\\", *s))
            return false;
    return true;
}

static int mb_put(em_msg *m, const char *s, size_t n)
{
    if (m->len + n + 1 > m->cap) {
        size_t cap = (m->cap + n) * 2 + 256;
        char *nd = realloc(m->data, cap);
        if (!nd)
            return -1;
        m->data = nd;
        m->cap = cap;
    }
    memcpy(m->data + m->len, s, n);
    m->len += n;
    m->data[m->len] = '\0';
    return 0;
}

static int mb_str(em_msg *m, const char *s)
{
    return mb_put(m, s, strlen(s));
}

/* A header value without control characters (CR/LF would start a new
 * header; the others have no business in one either). */
static int mb_header_value(em_msg *m, const char *s)
{
    for (; s && *s; s++) {
        bool ctl = (unsigned char)*s < 0x20 || *s == 0x7f;
        if (mb_put(m, ctl ? " " : s, 1) < 0)
            return -1;
    }
    return 0;
}

/* Subject: ASCII as is, else =?UTF-8?B?...?= (one encoded word per 45 bytes). */
static int mb_subject(em_msg *m, const char *s)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    bool ascii = true;
    size_t n = strlen(s);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p >= 0x80)
            ascii = false;
    if (ascii)
        return mb_header_value(m, s);
    for (size_t off = 0; off < n;) {
        size_t chunk = n - off > 45 ? 45 : n - off;
        /* Never split a UTF-8 sequence between two encoded words; text that
         * is not UTF-8 (no sequence start within 45 bytes) is cut anywhere. */
        size_t c = chunk;
        while (c > 0 && off + c < n && ((unsigned char)s[off + c] & 0xC0) == 0x80)
            c--;
        if (c > 0)
            chunk = c;
        if (off && mb_str(m, "\r\n ") < 0)
            return -1;
        if (mb_str(m, "=?UTF-8?B?") < 0)
            return -1;
        for (size_t i = 0; i < chunk; i += 3) {
            unsigned char in[3] = {0, 0, 0};
            size_t k = chunk - i < 3 ? chunk - i : 3;
            char out[4];
            for (size_t j = 0; j < k; j++)
                in[j] = (unsigned char)s[off + i + j];
            out[0] = b64[in[0] >> 2];
            out[1] = b64[((in[0] & 3) << 4) | (in[1] >> 4)];
            out[2] = k > 1 ? b64[((in[1] & 15) << 2) | (in[2] >> 6)] : '=';
            out[3] = k > 2 ? b64[in[2] & 63] : '=';
            if (mb_put(m, out, 4) < 0)
                return -1;
        }
        if (mb_str(m, "?=") < 0)
            return -1;
        off += chunk;
    }
    return 0;
}

/* Body with every line ending as CRLF (SMTP's line ending). */
static int mb_body(em_msg *m, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '\r')
            continue;
        if (*s == '\n' ? mb_str(m, "\r\n") < 0 : mb_put(m, s, 1) < 0)
            return -1;
    }
    return mb_str(m, "\r\n");
}

int em_msg_build(em_msg *m, const char *from, const char *to, const bill_notification *n,
                 int64_t now_sec, const unsigned char rnd[8])
{
    char date[64] = "Thu, 01 Jan 1970 00:00:00 +0000", mid[320];
    time_t now = (time_t)now_sec;
    struct tm tm;
    const char *at = strchr(from, '@');

    if (gmtime_r(&now, &tm))
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    snprintf(mid, sizeof mid, "<%lld.%02x%02x%02x%02x%02x%02x%02x%02x@%s>", (long long)now_sec,
             rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7],
             at ? at + 1 : "localhost");
    if (mb_str(m, "Date: ") < 0 || mb_str(m, date) < 0 || mb_str(m, "\r\nFrom: ") < 0 ||
        mb_header_value(m, from) < 0 || mb_str(m, "\r\nTo: ") < 0 ||
        mb_header_value(m, to) < 0 || mb_str(m, "\r\nMessage-ID: ") < 0 ||
        mb_header_value(m, mid) < 0 || mb_str(m, "\r\nSubject: ") < 0 ||
        mb_subject(m, n->subject ? n->subject : "") < 0 || mb_str(m, "\r\nX-Bill-Event: ") < 0 ||
        mb_header_value(m, n->event_kind) < 0 ||
        mb_str(m, "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                  "Content-Transfer-Encoding: 8bit\r\n\r\n") < 0 ||
        mb_body(m, n->body ? n->body : "") < 0)
        return -1;
    return 0;
}
