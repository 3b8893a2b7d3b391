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
