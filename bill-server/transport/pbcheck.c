/*
 * pbcheck.c — one check over every string field of a request message, run
 * on the encoded bytes before any handler sees the decoded message.
 *
 * protobuf-c copies a string field into a NUL-terminated C string, so
 * "monthly\0" arrives at a handler as "monthly" and "admin\0x" as "admin":
 * the bytes after the NUL vanish without a trace. proto3 also requires
 * string fields to be valid UTF-8 (RustBill's decoder refuses anything
 * else). Neither can be seen after unpacking, so this walks the wire format
 * with the message's descriptor: every length-delimited field whose
 * descriptor says string is checked, every sub-message (including map
 * entries and repeated messages) is walked the same way. Unknown fields and
 * scalars are skipped. The message has already been unpacked successfully,
 * so the framing is known to be sound; the walk still bounds every read.
 */
#include "server.h"

#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 32

static int read_varint(const uint8_t *p, size_t n, size_t *i, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*i >= n)
            return -1;
        uint8_t b = p[(*i)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, <= U+10FFFF. */
static bool utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

typedef struct walk {
    char *path;       /* field path being built ("server_spec.region") */
    size_t pathsz;
    const char *why;
} walk;

/* Append ".name" or "name[idx]" to the path; returns the old length. */
static size_t path_push(walk *w, const ProtobufCFieldDescriptor *f, size_t idx)
{
    size_t old = strlen(w->path);
    const char *sep = old ? "." : "";
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        snprintf(w->path + old, w->pathsz - old, "%s%s[%zu]", sep, f->name, idx);
    else
        snprintf(w->path + old, w->pathsz - old, "%s%s", sep, f->name);
    return old;
}

static int walk_message(walk *w, const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n,
                        int depth)
{
    /* repeated fields are named by their index: count occurrences per field */
    size_t seen[64] = {0};
    size_t i = 0;
    if (depth > MAX_DEPTH) {
        w->why = "is nested too deeply";
        return -1;
    }
    while (i < n) {
        uint64_t key, len, skip;
        if (read_varint(p, n, &i, &key) < 0)
            return 0; /* unpack accepted it; nothing more to check */
        uint32_t num = (uint32_t)(key >> 3);
        switch (key & 7) {
        case 0:
            if (read_varint(p, n, &i, &skip) < 0)
                return 0;
            continue;
        case 1:
            i = n - i >= 8 ? i + 8 : n;
            continue;
        case 5:
            i = n - i >= 4 ? i + 4 : n;
            continue;
        case 2:
            break;
        default:
            return 0;
        }
        if (read_varint(p, n, &i, &len) < 0 || len > n - i)
            return 0;
        const uint8_t *v = p + i;
        i += (size_t)len;
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(d, num);
        if (!f)
            continue; /* unknown field: not the handler's business */
        size_t fi = (size_t)(f - d->fields);
        size_t idx = fi < 64 ? seen[fi]++ : 0;
        if (f->type == PROTOBUF_C_TYPE_STRING) {
            const char *bad = memchr(v, '\0', (size_t)len)      ? "contains a NUL character"
                              : !utf8_valid(v, (size_t)len) ? "is not valid UTF-8"
                                                                : NULL;
            if (bad) {
                path_push(w, f, idx);
                w->why = bad;
                return -1;
            }
        } else if (f->type == PROTOBUF_C_TYPE_MESSAGE && f->descriptor) {
            size_t old = path_push(w, f, idx);
            if (walk_message(w, f->descriptor, v, (size_t)len, depth + 1) < 0)
                return -1;
            w->path[old] = '\0';
        }
    }
    return 0;
}

int srv_pb_check_strings(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t n,
                         char *msg, size_t msgsz)
{
    char path[256] = "";
    walk w = {path, sizeof path, NULL};
    if (walk_message(&w, desc, p, n, 0) == 0)
        return 0;
    if (path[0])
        snprintf(msg, msgsz, "%s: %s (field of %s)", path, w.why, desc->name);
    else
        snprintf(msg, msgsz, "%s %s", desc->name, w.why);
    return -1;
}
