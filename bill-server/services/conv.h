/*
 * conv.h — proto <-> libbill conversions shared by the customer API services
 * (product, integration, order, billing, payment, instance, balance, ticket,
 * apikey). Services are translators; these helpers keep the wire rules of
 * wire-contract.md in one place:
 *   - money is a string with exactly two decimals ("12.50");
 *   - timestamps are RFC 3339 UTC strings, "" when unset;
 *   - PageRequest -> bill_page (0 -> defaults, capped), PageMeta from libbill;
 *   - ids are validated before they reach SQL ("id: not a valid UUID");
 *   - a customer caller's explicit customer_id must be its own: any other
 *     value answers NOT_FOUND "customer X not found" (the same answer as for
 *     any other customer-owned id, so nothing leaks about existence);
 *   - nothing negative goes out (the SPA decodes varints as uint32).
 * Every string returned lives in the call's arena.
 */
#ifndef BILL_SRV_CONV_H
#define BILL_SRV_CONV_H

#include "../transport/srv.h"

#include "rustbill/common.pb-c.h"

/* "12.50"; arena-allocated. */
char *conv_money(bill_srv_call *call, bill_money cents);
/* RFC 3339 UTC, "" when us <= 0. */
char *conv_time(bill_srv_call *call, int64_t us);
/* NULL -> "" (arena or static). */
char *conv_str(bill_srv_call *call, const char *s);

/* PageRequest (may be NULL) -> normalized bill_page. */
void conv_page_in(const Rustbill__Common__PageRequest *in, bill_page *out);
Rustbill__Common__PageMeta *conv_page_meta(bill_srv_call *call, const bill_page_meta *m);

/* Status BILL_GRPC_OK when `value` is a UUID (or empty and !required);
 * else INVALID_ARGUMENT "<field>: not a valid UUID" / "<field> is required". */
int conv_uuid(bill_srv_call *call, const char *field, const char *value, bool required);

/* The customer a request is about: login and the id's wire format are
 * checked here, the scoping rule is libbill's (bill_actor_customer_scope):
 * staff name any customer ("" = all, or INVALID_ARGUMENT when `required`),
 * a customer gets its own, another customer's id is NOT_FOUND. *out points
 * into the request or the actor; NULL for staff asking about all. */
int conv_customer_scope(bill_srv_call *call, const char *requested, bool required,
                        const char **out);

/* RESOURCE_EXHAUSTED "out of memory". */
int conv_oom(bill_srv_call *call);

/* A method row of the service rustbill.<pkg>.<svc>; request and response
 * types by their protoc-c stems: CONV_METHOD(order, "OrderService",
 * "GetOrder", get_order_request, get_order_response, get_order, 0). */
#define CONV_METHOD(pkg, svc, name, in, outd, fn, fl)                          \
    BILL_SRV_UNARY("rustbill." #pkg "." svc, name, rustbill__##pkg##__##in##__descriptor, \
                   rustbill__##pkg##__##outd##__descriptor, fn, fl)
/* Defines `const bill_srv_service var` named `svc` over the array `table`. */
#define CONV_SERVICE(var, svc, table)                                          \
    const bill_srv_service var = {.name = (svc), .methods = (table),           \
                                  .n_methods = sizeof(table) / sizeof(table)[0]}

/* One libbill item (a `const T *`) as its wire message in the call's arena;
 * NULL on out of memory. CONV_ITEM_FN(name, T, fn) defines such a function
 * `name` over a typed converter `T_info *fn(bill_srv_call *, const T *)`. */
typedef void *conv_item_fn(bill_srv_call *call, const void *item);
#define CONV_ITEM_FN(name, T, fn)                                               \
    static void *name(bill_srv_call *call, const void *item)                    \
    {                                                                           \
        return fn(call, (const T *)item);                                       \
    }

/* The answer of a handler: *out = a new message of `desc` whose message
 * field named `field` holds `msg` (NULL: a converter ran out of memory ->
 * RESOURCE_EXHAUSTED); field NULL: an empty message (msg unused).
 * Returns the status. */
int conv_reply(bill_srv_call *call, ProtobufCMessage **out, const ProtobufCMessageDescriptor *desc,
               const char *field, void *msg);

/* The answer of a list handler: *out = a new message of `desc` whose field
 * "meta" comes from `m` and whose repeated message field `field` holds
 * conv(item) of the `count` items (each `size` bytes) at `items`.
 * CONV_REPLY_LIST takes a public list (items/count/meta) instead. */
int conv_reply_list(bill_srv_call *call, ProtobufCMessage **out, const ProtobufCMessageDescriptor *desc,
                    const char *field, const bill_page_meta *m, const void *items, size_t count,
                    size_t size, conv_item_fn *conv);
#define CONV_REPLY_LIST(call, out, desc, field, l, conv)                        \
    conv_reply_list((call), (out), (desc), (field), &(l).meta, (l).items, (l).count, \
                    sizeof *(l).items, (conv))

/* A JSON object's members as strings (numbers and booleans as their JSON
 * text, strings unquoted), for map<string,string> fields. `entry_desc` is
 * the map entry message type (fields key=1, value=2 as generated by
 * protoc-c). Invalid or non-object JSON gives an empty map. Sorted by key
 * so responses are stable. */
int conv_json_map(bill_srv_call *call, const char *json, const ProtobufCMessageDescriptor *entry_desc,
                  size_t *n_out, void ***entries_out);
/* conv_json_map's fast path, exposed for its fuzz target: the members of a
 * flat JSON object (string, integer, true/false/null values; the simple
 * escapes) unescaped into buf (cap >= strlen(json) + 1 always suffices),
 * keys[i]/vals[i] pointing into it, values as json-c's path gives them
 * (null as ""). Returns the number of members, or -1 for anything outside
 * that (nested values, fractions, \u escapes, more than max members,
 * trailing bytes): then json-c decides. */
int conv_json_flat(const char *json, char *buf, size_t cap, const char **keys, const char **vals,
                   size_t max);

/* JSON object text from map entries (key=1, value=2 strings); values that
 * parse as a JSON number or boolean keep that type. Arena string. */
char *conv_map_json(bill_srv_call *call, size_t n, void *const *entries);

#endif
