/*
 * conv.c — shared proto <-> libbill conversions of the customer API services
 * (see conv.h for the wire rules they enforce).
 */
#include "conv.h"

#include "bill/config.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>


char *conv_money(bill_srv_call *call, bill_money cents)
{
    char buf[BILL_MONEY_BUFSZ];
    return bill_srv_call_strdup(call, bill_money_format(cents, buf));
}

char *conv_time(bill_srv_call *call, int64_t us)
{
    char buf[BILL_TIME_BUFSZ];
    if (us <= 0 || bill_time_format_rfc3339(us, buf) != BILL_OK)
        return "";
    return bill_srv_call_strdup(call, buf);
}

char *conv_str(bill_srv_call *call, const char *s)
{
    if (!s || !*s)
        return "";
    return bill_srv_call_strdup(call, s);
}

void conv_page_in(const Rustbill__Common__PageRequest *in, bill_page *out)
{
    out->page = in ? in->page : 0;
    out->page_size = in ? in->page_size : 0;
    bill_page_normalize(out);
}

Rustbill__Common__PageMeta *conv_page_meta(bill_srv_call *call, const bill_page_meta *m)
{
    Rustbill__Common__PageMeta *pm = bill_srv_call_new(call, &rustbill__common__page_meta__descriptor);
    if (!pm)
        return NULL;
    pm->total = m->total;
    pm->page = m->page;
    pm->page_size = m->page_size;
    pm->total_pages = m->total_pages;
    return pm;
}

int conv_uuid(bill_srv_call *call, const char *field, const char *value, bool required)
{
    if (!value || !*value) {
        if (!required)
            return BILL_GRPC_OK;
        return bill_srv_call_error(call, BILL_GRPC_INVALID_ARGUMENT, "%s is required", field);
    }
    if (!bill_uuid_valid(value))
        return bill_srv_call_error(call, BILL_GRPC_INVALID_ARGUMENT, "%s: not a valid UUID", field);
    return BILL_GRPC_OK;
}

int conv_customer_scope(bill_srv_call *call, const char *requested, bool required,
                        const char **out)
{
    int st, rc;

    *out = NULL;
    if ((st = bill_srv_require_login(call)) != BILL_GRPC_OK ||
        (st = conv_uuid(call, "customer_id", requested, false)) != BILL_GRPC_OK)
        return st;
    if ((rc = bill_actor_customer_scope(bill_srv_call_actor(call), requested, required, out)) < 0)
        return bill_srv_call_fail(call, rc);
    return BILL_GRPC_OK;
}

int conv_oom(bill_srv_call *call)
{
    return bill_srv_call_error(call, BILL_GRPC_RESOURCE_EXHAUSTED, "out of memory");
}

/* The (repeated or singular) message field `name` of `desc`, or NULL. */
static const ProtobufCFieldDescriptor *msg_field(const ProtobufCMessageDescriptor *desc,
                                                 const char *name, bool repeated)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(desc, name);
    if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE || (f->label == PROTOBUF_C_LABEL_REPEATED) != repeated)
        return NULL;
    return f;
}

static int no_field(bill_srv_call *call, const ProtobufCMessageDescriptor *desc, const char *name)
{
    return bill_srv_call_error(call, BILL_GRPC_INTERNAL, "%s has no message field %s", desc->name, name);
}

int conv_reply(bill_srv_call *call, ProtobufCMessage **out, const ProtobufCMessageDescriptor *desc,
               const char *field, void *msg)
{
    const ProtobufCFieldDescriptor *f = field ? msg_field(desc, field, false) : NULL;
    char *resp;

    if (field && !f)
        return no_field(call, desc, field);
    if ((field && !msg) || !(resp = bill_srv_call_new(call, desc)))
        return conv_oom(call);
    if (f)
        memcpy(resp + f->offset, &msg, sizeof msg);
    *out = (ProtobufCMessage *)(void *)resp;
    return BILL_GRPC_OK;
}

int conv_reply_list(bill_srv_call *call, ProtobufCMessage **out, const ProtobufCMessageDescriptor *desc,
                    const char *field, const bill_page_meta *m, const void *items, size_t count,
                    size_t size, conv_item_fn *conv)
{
    const ProtobufCFieldDescriptor *f = msg_field(desc, field, true);
    void **arr = NULL;
    int st;

    if (!f)
        return no_field(call, desc, field);
    if (count && !(arr = bill_srv_call_alloc(call, count * sizeof *arr)))
        return conv_oom(call);
    for (size_t i = 0; i < count; i++)
        if (!(arr[i] = conv(call, (const char *)items + i * size)))
            return conv_oom(call);
    if ((st = conv_reply(call, out, desc, "meta", conv_page_meta(call, m))) != BILL_GRPC_OK)
        return st;
    memcpy((char *)*out + f->quantifier_offset, &count, sizeof count);
    memcpy((char *)*out + f->offset, &arr, sizeof arr);
    return BILL_GRPC_OK;
}

/* Offsets of key (1) and value (2) in a protoc-c map entry message. */
static int entry_offsets(const ProtobufCMessageDescriptor *d, size_t *koff, size_t *voff)
{
    const ProtobufCFieldDescriptor *k = protobuf_c_message_descriptor_get_field(d, 1);
    const ProtobufCFieldDescriptor *v = protobuf_c_message_descriptor_get_field(d, 2);
    if (!k || !v || k->type != PROTOBUF_C_TYPE_STRING || v->type != PROTOBUF_C_TYPE_STRING)
        return -1;
    *koff = k->offset;
    *voff = v->offset;
    return 0;
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* A JSON string at *pp (after its opening quote) unescaped into *out;
 * false for \u escapes and anything else outside the simple escapes. */
static bool flat_string(const char **pp, char **out, char *end)
{
    const char *p = *pp;
    char *o = *out;
    for (;;) {
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            break;
        if (c < 0x20 || o >= end)
            return false; /* control characters must be escaped; NUL ends */
        if (c == '\\') {
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            const char *k = p[1] ? strchr(from, p[1]) : NULL;
            if (!k)
                return false;
            *o++ = to[k - from];
            p += 2;
            continue;
        }
        *o++ = (char)c;
        p++;
    }
    if (o >= end)
        return false;
    *o++ = '\0';
    *pp = p + 1;
    *out = o;
    return true;
}

int conv_json_flat(const char *json, char *buf, size_t cap, const char **keys, const char **vals,
                   size_t max)
{
    const char *p = skip_ws(json);
    char *o = buf, *end = buf + cap;
    size_t n = 0;
    if (cap == 0 || *p++ != '{')
        return -1;
    p = skip_ws(p);
    if (*p == '}')
        return *skip_ws(p + 1) ? -1 : 0;
    for (;;) {
        if (n >= max || *p++ != '"')
            return -1;
        keys[n] = o;
        if (!flat_string(&p, &o, end))
            return -1;
        p = skip_ws(p);
        if (*p++ != ':')
            return -1;
        p = skip_ws(p);
        vals[n] = o;
        if (*p == '"') {
            p++;
            if (!flat_string(&p, &o, end))
                return -1;
        } else {
            /* true, false, null ("" as json-c gives for a null member), or
             * an integer as json-c prints an int64: -?(0|[1-9][0-9]{0,17}) */
            static const char *const lit[] = {"true", "false", "null"};
            size_t len = 0;
            for (int i = 0; i < 3 && !len; i++)
                if (!strncmp(p, lit[i], strlen(lit[i])))
                    len = strlen(lit[i]);
            const char *v = p;
            if (len) {
                if (len == 4 && *p == 'n')
                    v = p + 4; /* null: empty text */
                p += len;
            } else {
                const char *d = p + (*p == '-');
                size_t digits = strspn(d, "0123456789");
                if (digits == 0 || digits > 18 || (digits > 1 && *d == '0') ||
                    (*p == '-' && digits == 1 && *d == '0'))
                    return -1;
                len = (size_t)(d - p) + digits;
                p += len;
            }
            size_t vl = (size_t)(p - v);
            if ((size_t)(end - o) < vl + 1)
                return -1;
            memcpy(o, v, vl);
            o[vl] = '\0';
            o += vl + 1;
        }
        n++;
        p = skip_ws(p);
        if (*p == ',') {
            p = skip_ws(p + 1);
            continue;
        }
        if (*p++ != '}')
            return -1;
        return *skip_ws(p) ? -1 : (int)n;
    }
}

typedef struct kv {
    const char *k, *v;
} kv;

static int cmp_kv(const void *a, const void *b)
{
    return strcmp(((const kv *)a)->k, ((const kv *)b)->k);
}

/* The fast path of conv_json_map: a flat object read in place (no json-c
 * objects, no copies beyond one buffer in the arena); 1 done, 0 not
 * handled (the caller falls back to json-c), negative a gRPC error. */
#define FLAT_MAX 64
static int json_map_flat(bill_srv_call *call, const char *json, const ProtobufCMessageDescriptor *d,
                         size_t koff, size_t voff, size_t *n_out, void ***entries_out)
{
    const char *keys[FLAT_MAX], *vals[FLAT_MAX];
    kv pairs[FLAT_MAX];
    size_t cap = strlen(json) + 1;
    char *buf = bill_srv_call_alloc(call, cap);
    if (!buf)
        return -conv_oom(call);
    int n = conv_json_flat(json, buf, cap, keys, vals, FLAT_MAX);
    if (n < 0)
        return 0;
    for (int i = 0; i < n; i++)
        pairs[i] = (kv){keys[i], vals[i]};
    qsort(pairs, (size_t)n, sizeof *pairs, cmp_kv);
    for (int i = 1; i < n; i++)
        if (!strcmp(pairs[i - 1].k, pairs[i].k))
            return 0; /* duplicate keys: json-c's rule (the last wins) applies */
    void **entries = n ? bill_srv_call_alloc(call, (size_t)n * sizeof *entries) : NULL;
    if (n && !entries)
        return -conv_oom(call);
    for (int i = 0; i < n; i++) {
        char *e = bill_srv_call_new(call, d);
        if (!e)
            return -conv_oom(call);
        *(const char **)(e + koff) = pairs[i].k;
        *(const char **)(e + voff) = pairs[i].v;
        entries[i] = e;
    }
    *n_out = (size_t)n;
    *entries_out = entries;
    return 1;
}

int conv_json_map(bill_srv_call *call, const char *json, const ProtobufCMessageDescriptor *entry_desc,
                  size_t *n_out, void ***entries_out)
{
    json_object *o = NULL;
    const char **keys = NULL;
    void **entries = NULL;
    size_t n = 0, koff, voff;
    int st = BILL_GRPC_OK;

    *n_out = 0;
    *entries_out = NULL;
    if (entry_offsets(entry_desc, &koff, &voff) != 0)
        return bill_srv_call_error(call, BILL_GRPC_INTERNAL, "map entry type has no string key/value");
    if (json && *json) {
        /* jsonb prints a flat object of strings, integers and booleans: read
         * it in place; json-c for anything else (issue 13: json-c's objects
         * were a third of a ListProducts page) */
        int f = json_map_flat(call, json, entry_desc, koff, voff, n_out, entries_out);
        if (f < 0)
            return -f;
        if (f > 0)
            return BILL_GRPC_OK;
    }
    if (!json || !*json || !(o = json_tokener_parse(json)) || !json_object_is_type(o, json_type_object))
        goto done;
    n = (size_t)json_object_object_length(o);
    if (n == 0)
        goto done;
    keys = bill_srv_call_alloc(call, n * sizeof *keys);
    entries = bill_srv_call_alloc(call, n * sizeof *entries);
    if (!keys || !entries) {
        st = conv_oom(call);
        goto done;
    }
    size_t i = 0;
    json_object_object_foreach(o, key, member) {
        if (i < n)
            keys[i++] = key;
        (void)member;
    }
    n = i;
    qsort(keys, n, sizeof *keys, cmp_key);
    for (i = 0; i < n; i++) {
        json_object *val = NULL;
        char *e = bill_srv_call_new(call, entry_desc);
        if (!e) {
            st = conv_oom(call);
            goto done;
        }
        json_object_object_get_ex(o, keys[i], &val);
        const char *text = !val ? "" : json_object_is_type(val, json_type_string)
                                           ? json_object_get_string(val)
                                           : json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN);
        *(char **)(e + koff) = bill_srv_call_strdup(call, keys[i]);
        *(char **)(e + voff) = bill_srv_call_strdup(call, text);
        entries[i] = e;
    }
    *n_out = n;
    *entries_out = entries;
done:
    json_object_put(o);
    return st;
}

char *conv_map_json(bill_srv_call *call, size_t n, void *const *entries)
{
    const char **keys = n ? bill_srv_call_alloc(call, n * sizeof *keys) : NULL;
    const char **vals = n ? bill_srv_call_alloc(call, n * sizeof *vals) : NULL;
    char *json = NULL, *out;

    if (n && (!keys || !vals))
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const ProtobufCMessage *m = entries[i];
        size_t koff, voff;
        keys[i] = vals[i] = "";
        if (entry_offsets(m->descriptor, &koff, &voff) != 0)
            continue;
        keys[i] = *(char *const *)((const char *)m + koff);
        vals[i] = *(char *const *)((const char *)m + voff);
    }
    /* "2" a number, "true" a boolean, "007" a string: libbill's one rule, so
     * the server and the CLI store the same spec. */
    if (bill_specs_from_text(keys, vals, n, &json) < 0)
        return NULL;
    out = bill_srv_call_strdup(call, json);
    free(json);
    return out;
}
