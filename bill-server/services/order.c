/*
 * order.c — rustbill.order.OrderService (wire-contract.md): CreateOrder,
 * ListOrders, GetOrder, PayOrder. Login required. libbill owns every rule
 * (amount from the product's cycle price, customer scoping, state machine,
 * the one-transaction balance payment); this file only translates.
 *
 * ServerSpec <-> the order's server_spec JSON object: the six typed fields
 * are stored under their own names (zero / "" = not given), extra_specs
 * entries beside them; on the way back keys other than the six go to
 * extra_specs. CreateOrder leaves `payment` unset: paying is PayOrder.
 * gateway_id must be "", "balance" or an interface UUID.
 */
#include "conv.h"

#include "bill/order.h"
#include "rustbill/order.pb-c.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const spec_uints[] = {"cpu_cores", "memory_gb", "disk_gb", "bandwidth_mbps"};

static int check_gateway(bill_srv_call *call, const char *gw)
{
    if (!gw || !*gw || strcmp(gw, "balance") == 0)
        return BILL_GRPC_OK;
    if (!bill_uuid_valid(gw))
        return bill_srv_call_error(call, BILL_GRPC_INVALID_ARGUMENT,
                                   "gateway_id: \"%.64s\" is neither \"balance\" nor a valid UUID", gw);
    return BILL_GRPC_OK;
}

static char *spec_to_json(bill_srv_call *call, const Rustbill__Order__ServerSpec *s)
{
    json_object *o;
    char *out;
    const uint32_t v[4] = {s->cpu_cores, s->memory_gb, s->disk_gb, s->bandwidth_mbps};

    if (!(o = json_tokener_parse(conv_map_json(call, s->n_extra_specs, (void *const *)s->extra_specs))))
        return NULL;
    for (int i = 0; i < 4; i++)
        if (v[i])
            json_object_object_add(o, spec_uints[i], json_object_new_int64(v[i]));
    if (s->region && *s->region)
        json_object_object_add(o, "region", json_object_new_string(s->region));
    if (s->os && *s->os)
        json_object_object_add(o, "os", json_object_new_string(s->os));
    out = bill_srv_call_strdup(call, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return out;
}

static Rustbill__Order__ServerSpec *spec_from_json(bill_srv_call *call, const char *json)
{
    Rustbill__Order__ServerSpec *s = bill_srv_call_new(call, &rustbill__order__server_spec__descriptor);
    Rustbill__Order__ServerSpec__ExtraSpecsEntry **all = NULL;
    size_t n = 0, k = 0;

    if (!s || conv_json_map(call, json, &rustbill__order__server_spec__extra_specs_entry__descriptor, &n,
                            (void ***)&all) != BILL_GRPC_OK)
        return NULL;
    s->region = "";
    s->os = "";
    for (size_t i = 0; i < n; i++) {
        const char *key = all[i]->key, *val = all[i]->value;
        int typed = -1;
        for (int j = 0; j < 4; j++)
            if (strcmp(key, spec_uints[j]) == 0)
                typed = j;
        if (typed >= 0) {
            char *end = NULL;
            unsigned long long x = strtoull(val, &end, 10);
            if (end && *end == '\0' && *val && *val != '-' && x <= UINT32_MAX) {
                uint32_t *dst[4] = {&s->cpu_cores, &s->memory_gb, &s->disk_gb, &s->bandwidth_mbps};
                *dst[typed] = (uint32_t)x;
                continue;
            }
        } else if (strcmp(key, "region") == 0) {
            s->region = all[i]->value;
            continue;
        } else if (strcmp(key, "os") == 0) {
            s->os = all[i]->value;
            continue;
        }
        all[k++] = all[i];
    }
    s->extra_specs = all;
    s->n_extra_specs = k;
    return s;
}

static Rustbill__Order__OrderInfo *order_info(bill_srv_call *call, const bill_order *o)
{
    Rustbill__Order__OrderInfo *i = bill_srv_call_new(call, &rustbill__order__order_info__descriptor);
    if (!i)
        return NULL;
    i->id = conv_str(call, o->id);
    i->customer_id = conv_str(call, o->customer_id);
    i->product_id = conv_str(call, o->product_id);
    i->provider_id = conv_str(call, o->provider_id);
    i->provider_instance_id = conv_str(call, o->provider_instance_id);
    i->status = conv_str(call, o->status);
    i->amount = conv_money(call, o->amount);
    i->currency = conv_str(call, o->currency);
    i->gateway_id = conv_str(call, o->gateway_id);
    i->gateway_payment_id = conv_str(call, o->gateway_payment_id);
    i->notes = conv_str(call, o->notes);
    i->created_at = conv_time(call, o->created_at);
    i->updated_at = conv_time(call, o->updated_at);
    i->product_name = conv_str(call, o->product_name);
    i->billing_cycle = conv_str(call, o->billing_cycle);
    if (!(i->server_spec = spec_from_json(call, o->server_spec_json)))
        return NULL;
    return i;
}
CONV_ITEM_FN(order_info_item, bill_order, order_info)

static Rustbill__Order__PaymentInfo *payment_info(bill_srv_call *call, const bill_payment_info *p)
{
    Rustbill__Order__PaymentInfo *i = bill_srv_call_new(call, &rustbill__order__payment_info__descriptor);
    if (!i)
        return NULL;
    i->payment_id = conv_str(call, p->payment_id);
    i->gateway_id = conv_str(call, p->gateway_id);
    i->payment_url = conv_str(call, p->payment_url);
    i->qr_code = conv_str(call, p->qr_code);
    i->instructions = conv_str(call, p->instructions);
    return i;
}

static int create_order(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Order__CreateOrderRequest *req = (const Rustbill__Order__CreateOrderRequest *)in;
    bill_order_input oi = {.version = BILL_ORDER_INPUT_VERSION};
    bill_order *o = NULL;
    const char *cid = NULL;
    int rc, st;

    if ((st = conv_customer_scope(call, req->customer_id, true, &cid)) != BILL_GRPC_OK ||
        (st = conv_uuid(call, "product_id", req->product_id, true)) != BILL_GRPC_OK ||
        (st = conv_uuid(call, "provider_id", req->provider_id, false)) != BILL_GRPC_OK ||
        (st = check_gateway(call, req->gateway_id)) != BILL_GRPC_OK)
        return st;
    oi.customer_id = cid;
    oi.product_id = req->product_id;
    oi.provider_id = req->provider_id;
    if (req->server_spec && !(oi.server_spec_json = spec_to_json(call, req->server_spec)))
        return conv_oom(call);
    oi.currency = req->currency;
    oi.gateway_id = req->gateway_id;
    oi.notes = req->notes;
    oi.billing_cycle = req->billing_cycle;
    rc = bill_order_create(bill_srv_call_db(call), bill_srv_call_plugins(call), bill_srv_call_actor(call), &oi, &o);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    st = conv_reply(call, out, &rustbill__order__create_order_response__descriptor,
                    "order", order_info(call, o));
    bill_order_free(o);
    return st;
}

static int list_orders(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Order__ListOrdersRequest *req = (const Rustbill__Order__ListOrdersRequest *)in;
    bill_order_filter f = {.version = BILL_ORDER_FILTER_VERSION};
    bill_orders l = {0};
    bill_page page;
    int rc, st;

    if ((st = conv_customer_scope(call, req->customer_id, false, &f.customer_id)) != BILL_GRPC_OK ||
        (st = conv_uuid(call, "provider_id", req->provider_id, false)) != BILL_GRPC_OK)
        return st;
    if (req->status && *req->status && (rc = bill_order_status_check(req->status)) < 0)
        return bill_srv_call_fail(call, rc);
    f.status = req->status;
    f.provider_id = req->provider_id;
    f.search = req->search;
    conv_page_in(req->pagination, &page);
    rc = bill_order_list(bill_srv_call_db(call), bill_srv_call_actor(call), &f, &page, &l);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    st = CONV_REPLY_LIST(call, out, &rustbill__order__list_orders_response__descriptor,
                         "orders", l, order_info_item);
    bill_orders_clear(&l);
    return st;
}

static int get_order(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Order__GetOrderRequest *req = (const Rustbill__Order__GetOrderRequest *)in;
    bill_order *o = NULL;
    int rc, st;

    if ((st = bill_srv_require_login(call)) != BILL_GRPC_OK ||
        (st = conv_uuid(call, "id", req->id, true)) != BILL_GRPC_OK)
        return st;
    rc = bill_order_get(bill_srv_call_db(call), bill_srv_call_actor(call), req->id, &o);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    st = conv_reply(call, out, &rustbill__order__get_order_response__descriptor,
                    "order", order_info(call, o));
    bill_order_free(o);
    return st;
}

static int pay_order(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Order__PayOrderRequest *req = (const Rustbill__Order__PayOrderRequest *)in;
    bill_payment_info pi = {0};
    int rc, st;

    if ((st = bill_srv_require_login(call)) != BILL_GRPC_OK ||
        (st = conv_uuid(call, "order_id", req->order_id, true)) != BILL_GRPC_OK ||
        (st = check_gateway(call, req->gateway_id)) != BILL_GRPC_OK)
        return st;
    rc = bill_order_pay(bill_srv_call_db(call), bill_srv_call_plugins(call), bill_srv_call_actor(call), req->order_id,
                        req->gateway_id, &pi);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    st = conv_reply(call, out, &rustbill__order__pay_order_response__descriptor,
                    "payment", payment_info(call, &pi));
    bill_payment_info_clear(&pi);
    return st;
}

#define M(name, in, outd, fn) CONV_METHOD(order, "OrderService", name, in, outd, fn, 0)

static const bill_srv_method order_methods[] = {
    M("CreateOrder", create_order_request, create_order_response, create_order),
    M("ListOrders", list_orders_request, list_orders_response, list_orders),
    M("GetOrder", get_order_request, get_order_response, get_order),
    M("PayOrder", pay_order_request, pay_order_response, pay_order),
};

CONV_SERVICE(bill_srv_order_service, "rustbill.order.OrderService", order_methods);
