/*
 * fuzz_srv_fields.c — libFuzzer target for bill-server's small header
 * parsers and encoders. Byte 0 picks one:
 *   0: Cookie header lookup (srv_cookie_find) for a name taken from the input;
 *   1: grpc-timeout (srv_grpc_timeout_ms): result is -1 or a sane value;
 *   2: grpc-message percent-encoding: output is printable ASCII without a
 *      bare '%', and decodes back to the input;
 *   3: X-Forwarded-For / X-Real-IP client IP (srv_client_ip): the answer is
 *      the peer or a canonical IP address;
 *   4: base64 (grpc-web-text): encode/decode round trip, and decoding of
 *      arbitrary text never overruns;
 *   byte 0 = 0xfe: the flat-JSON reader of map fields (conv_json_flat,
 *      services/conv.c) against json-c: whatever it accepts, json-c reads
 *      as an object with the same members and the same value texts (the
 *      rule of conv_json_map's json-c path), within the buffer it was given;
 *   byte 0 = 0xff: the request string-field check (srv_pb_check_strings)
 *      over arbitrary bytes as a CreateOrderRequest (nested message, map,
 *      strings): no overrun, a terminated non-empty message on refusal, and
 *      no refusal of a message protobuf-c accepts whose bytes are all
 *      non-NUL ASCII.
 * Properties that fail abort(), so libFuzzer reports them like crashes.
 */
#include "srv_fuzz.h"

#include "../fuzz_bytes.h"

#include <arpa/inet.h>

#include "rustbill/order.pb-c.h"
#include "services/conv.h"
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void check_percent(const char *in)
{
    srv_buf out = {0};
    srv_percent_encode(&out, in);
    if (!out.p)
        abort();
    /* decode and compare */
    size_t k = 0, inl = strlen(in);
    for (size_t i = 0; i < out.len; i++) {
        unsigned char ch = (unsigned char)out.p[i];
        if (ch < 0x20 || ch > 0x7e)
            abort();
        int v = ch;
        if (ch == '%') {
            if (i + 2 >= out.len)
                abort();
            int h = hexval(out.p[i + 1]), l = hexval(out.p[i + 2]);
            if (h < 0 || l < 0)
                abort();
            v = h * 16 + l;
            i += 2;
        }
        if (k >= inl || (unsigned char)in[k] != v)
            abort();
        k++;
    }
    if (k != inl)
        abort();
    srv_buf_free(&out);
}

static void check_client_ip(const char *text)
{
    /* text = "peer|xff|realip" (missing parts = absent) */
    char *dup = strdup(text);
    if (!dup)
        abort();
    char *peer = dup, *xff = strchr(peer, '|'), *real = NULL;
    if (xff) {
        *xff++ = '\0';
        real = strchr(xff, '|');
        if (real)
            *real++ = '\0';
    }
    srv_hdrs h = {0};
    if (xff && srv_hdrs_addz(&h, "x-forwarded-for", xff) < 0)
        abort();
    if (real && srv_hdrs_addz(&h, "x-real-ip", real) < 0)
        abort();
    char out[64];
    srv_client_ip(srv_fuzz_server(), peer, &h, out, sizeof out);
    if (strncmp(out, peer, sizeof out - 1) != 0) {
        /* not the peer: then the peer was trusted and out is an address */
        unsigned char a[16];
        if (!srv_proxy_trusted(srv_fuzz_server(), peer))
            abort();
        if (inet_pton(AF_INET, out, a) != 1 && inet_pton(AF_INET6, out, a) != 1)
            abort();
    }
    srv_hdrs_free(&h);
    free(dup);
}

static void check_base64(const uint8_t *p, size_t n)
{
    size_t elen = 0;
    char *e = srv_base64_encode(p, n, &elen);
    if (!e)
        abort();
    srv_buf d = {0};
    if (srv_base64_decode(e, elen, &d) < 0 || d.len != n || (n && memcmp(d.p, p, n) != 0))
        abort();
    srv_buf_free(&d);
    free(e);
    srv_buf d2 = {0};
    (void)srv_base64_decode((const char *)p, n, &d2);
    if (d2.len > n)
        abort();
    srv_buf_free(&d2);
}

static void check_pb_strings(const uint8_t *p, size_t n)
{
    const ProtobufCMessageDescriptor *d = &rustbill__order__create_order_request__descriptor;
    char msg[320];
    memset(msg, 'x', sizeof msg);
    int rc = srv_pb_check_strings(d, p, n, msg, sizeof msg);
    if (rc != 0 && (rc != -1 || !memchr(msg, '\0', sizeof msg) || msg[0] == '\0'))
        abort();
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, n, p);
    if (!m)
        return;
    /* no false alarm: bytes without NUL or any non-ASCII byte cannot hold
     * a bad string, so a message protobuf-c accepts must pass */
    bool clean = true;
    for (size_t i = 0; i < n && clean; i++)
        clean = p[i] != 0 && p[i] < 0x80;
    if (clean && rc != 0)
        abort();
    protobuf_c_message_free_unpacked(m, NULL);
}

static void check_json_flat(const char *json)
{
    size_t cap = strlen(json) + 1;
    char *buf = malloc(cap);
    const char *keys[16], *vals[16];
    if (!buf)
        abort();
    int n = conv_json_flat(json, buf, cap, keys, vals, 16);
    if (n >= 0) {
        json_object *o = json_tokener_parse(json);
        if (!o || !json_object_is_type(o, json_type_object))
            abort(); /* accepted what json-c does not read as an object */
        bool dup = false;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < i; j++)
                dup |= strcmp(keys[i], keys[j]) == 0;
        if (!dup) { /* with duplicates conv_json_map leaves it to json-c */
            if (json_object_object_length(o) != n)
                abort();
            for (int i = 0; i < n; i++) {
                json_object *v = NULL;
                if (keys[i] < buf || keys[i] >= buf + cap || vals[i] < buf || vals[i] >= buf + cap ||
                    !json_object_object_get_ex(o, keys[i], &v))
                    abort();
                const char *text = !v ? ""
                                   : json_object_is_type(v, json_type_string)
                                       ? json_object_get_string(v)
                                       : json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
                if (strcmp(text, vals[i]) != 0)
                    abort();
            }
        }
        json_object_put(o);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] == 0xfe) {
        char *s = fuzz_cstr(data + 1, size - 1);
        check_json_flat(s);
        free(s);
        return 0;
    }
    if (data[0] == 0xff) {
        check_pb_strings(data + 1, size - 1);
        return 0;
    }
    int mode = data[0] % 5;
    data++, size--;
    char *s = fuzz_cstr(data, size);
    switch (mode) {
    case 0: {
        /* name = up to the first NUL-free '\n', header = the rest */
        char *nl = strchr(s, '\n');
        const char *name = "rustbill_session", *hdr = s;
        if (nl) {
            *nl = '\0';
            name = s;
            hdr = nl + 1;
        }
        size_t vl = 0;
        const char *v = srv_cookie_find(hdr, name, &vl);
        if (v && (v < hdr || v + vl > hdr + strlen(hdr) || memchr(v, ';', vl)))
            abort();
        break;
    }
    case 1: {
        int64_t ms = srv_grpc_timeout_ms(s);
        if (ms < -1 || ms > 99999999LL * 3600000LL)
            abort();
        break;
    }
    case 2:
        check_percent(s);
        break;
    case 3:
        check_client_ip(s);
        break;
    default:
        check_base64(data, size);
        break;
    }
    free(s);
    return 0;
}
