/*
 * instance.c — rustbill.instance.InstanceService (wire-contract.md):
 * ListInstances and GetInstance. Login required; customers see their own
 * instances only (others NOT_FOUND). GetInstance adds the provider plugin's
 * detail sections (content_html already sanitized by libbill) and the
 * actions with whether the current status allows them. server_spec goes
 * out as a map of the spec JSON's members.
 *
 * Start/Stop/Restart/TerminateInstance run libbill's one action function
 * (bill_instance_action_run, shared with bill-cli: provider plugin call,
 * status rules, suspended refusal, operation log) and answer the instance
 * as it is afterwards. RestartInstance is libbill's "reboot".
 */
#include "conv.h"

#include "bill/instance.h"
#include "rustbill/instance.pb-c.h"

static Rustbill__Instance__InstanceInfo *instance_info(bill_srv_call *call, const bill_instance *v)
{
    Rustbill__Instance__InstanceInfo *i = bill_srv_call_new(call, &rustbill__instance__instance_info__descriptor);
    if (!i)
        return NULL;
    i->id = conv_str(call, v->id);
    i->order_id = conv_str(call, v->order_id);
    i->customer_id = conv_str(call, v->customer_id);
    i->product_id = conv_str(call, v->product_id);
    i->provider_id = conv_str(call, v->provider_id);
    i->provider_instance_id = conv_str(call, v->provider_instance_id);
    i->status = conv_str(call, v->status);
    i->ip_address = conv_str(call, v->ip_address);
    i->product_name = conv_str(call, v->product_name);
    i->created_at = conv_time(call, v->created_at);
    i->updated_at = conv_time(call, v->updated_at);
    if (conv_json_map(call, v->server_spec_json, &rustbill__instance__instance_info__server_spec_entry__descriptor,
                      &i->n_server_spec, (void ***)&i->server_spec) != BILL_GRPC_OK)
        return NULL;
    return i;
}
CONV_ITEM_FN(instance_info_item, bill_instance, instance_info)

static int list_instances(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Instance__ListInstancesRequest *req = (const Rustbill__Instance__ListInstancesRequest *)in;
    bill_instance_filter f = {.version = BILL_INSTANCE_FILTER_VERSION};
    bill_instances l = {0};
    bill_page page;
    int rc, st;

    if ((st = conv_customer_scope(call, req->customer_id, false, &f.customer_id)) != BILL_GRPC_OK ||
        (st = conv_uuid(call, "provider_id", req->provider_id, false)) != BILL_GRPC_OK)
        return st;
    if (req->status && *req->status && (rc = bill_instance_status_check(req->status)) < 0)
        return bill_srv_call_fail(call, rc);
    f.status = req->status;
    f.provider_id = req->provider_id;
    conv_page_in(req->pagination, &page);
    rc = bill_instance_list(bill_srv_call_db(call), bill_srv_call_actor(call), &f, &page, &l);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    st = CONV_REPLY_LIST(call, out, &rustbill__instance__list_instances_response__descriptor,
                         "instances", l, instance_info_item);
    bill_instances_clear(&l);
    return st;
}

static int fill_detail(bill_srv_call *call, const bill_instance_detail *d,
                       Rustbill__Instance__GetInstanceResponse *resp)
{
    if (!(resp->instance = instance_info(call, &d->instance)))
        return -1;
    if (d->section_count && !(resp->sections = bill_srv_call_alloc(call, d->section_count * sizeof *resp->sections)))
        return -1;
    for (size_t s = 0; s < d->section_count; s++) {
        const bill_instance_section *src = &d->sections[s];
        Rustbill__Instance__InstanceDetailSection *sec =
            bill_srv_call_new(call, &rustbill__instance__instance_detail_section__descriptor);
        if (!sec || (src->field_count && !(sec->fields = bill_srv_call_alloc(call, src->field_count * sizeof *sec->fields))))
            return -1;
        sec->title = conv_str(call, src->title);
        sec->content_html = conv_str(call, src->content_html);
        for (size_t k = 0; k < src->field_count; k++) {
            Rustbill__Instance__InstanceDetailField *f =
                bill_srv_call_new(call, &rustbill__instance__instance_detail_field__descriptor);
            if (!f)
                return -1;
            f->key = conv_str(call, src->fields[k].key);
            f->value = conv_str(call, src->fields[k].value);
            f->value_type = conv_str(call, src->fields[k].value_type);
            sec->fields[k] = f;
        }
        sec->n_fields = src->field_count;
        resp->sections[s] = sec;
    }
    resp->n_sections = d->section_count;
    if (d->action_count && !(resp->actions = bill_srv_call_alloc(call, d->action_count * sizeof *resp->actions)))
        return -1;
    for (size_t k = 0; k < d->action_count; k++) {
        Rustbill__Instance__InstanceAction *a = bill_srv_call_new(call, &rustbill__instance__instance_action__descriptor);
        if (!a)
            return -1;
        a->id = conv_str(call, d->actions[k].id);
        a->label = conv_str(call, d->actions[k].label);
        a->style = conv_str(call, d->actions[k].style);
        a->confirmation = conv_str(call, d->actions[k].confirmation);
        a->enabled = d->actions[k].enabled;
        resp->actions[k] = a;
    }
    resp->n_actions = d->action_count;
    return 0;
}

static int get_instance(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Instance__GetInstanceRequest *req = (const Rustbill__Instance__GetInstanceRequest *)in;
    Rustbill__Instance__GetInstanceResponse *resp;
    bill_instance_detail *d = NULL;
    int rc, st = BILL_GRPC_OK;

    if ((st = bill_srv_require_login(call)) != BILL_GRPC_OK ||
        (st = conv_uuid(call, "id", req->id, true)) != BILL_GRPC_OK)
        return st;
    rc = bill_instance_get(bill_srv_call_db(call), bill_srv_call_plugins(call), bill_srv_call_actor(call), req->id, &d);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    resp = bill_srv_call_new(call, &rustbill__instance__get_instance_response__descriptor);
    if (!resp || fill_detail(call, d, resp) != 0)
        st = conv_oom(call);
    else
        *out = &resp->base;
    bill_instance_detail_free(d);
    return st;
}

/* The four action methods share this: run `action` on instance `id` and
 * return the instance as it is afterwards in *info. */
static int run_action(bill_srv_call *call, const char *id, const char *action,
                      Rustbill__Instance__InstanceInfo **info)
{
    bill_instance_detail *d = NULL;
    int rc, st;

    if ((st = bill_srv_require_login(call)) != BILL_GRPC_OK ||
        (st = conv_uuid(call, "id", id, true)) != BILL_GRPC_OK)
        return st;
    rc = bill_instance_action_run(bill_srv_call_db(call), bill_srv_call_plugins(call),
                                  bill_srv_call_actor(call), id, action);
    if (rc >= 0)
        rc = bill_instance_get(bill_srv_call_db(call), NULL, bill_srv_call_actor(call), id, &d);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    st = (*info = instance_info(call, &d->instance)) ? BILL_GRPC_OK : conv_oom(call);
    bill_instance_detail_free(d);
    return st;
}

/* One handler per method: request { 1 id }, response { 1 instance }. */
#define ACTION(fn, verb, Req, Resp, resp_desc)                                                 \
    static int fn(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)     \
    {                                                                                          \
        const Req *req = (const Req *)in;                                                      \
        Resp *resp = bill_srv_call_new(call, &resp_desc);                                      \
        if (!resp)                                                                             \
            return conv_oom(call);                                                             \
        int st = run_action(call, req->id, verb, &resp->instance);                             \
        if (st == BILL_GRPC_OK)                                                                \
            *out = &resp->base;                                                                \
        return st;                                                                             \
    }
ACTION(start_instance, "start", Rustbill__Instance__StartInstanceRequest,
       Rustbill__Instance__StartInstanceResponse, rustbill__instance__start_instance_response__descriptor)
ACTION(stop_instance, "stop", Rustbill__Instance__StopInstanceRequest,
       Rustbill__Instance__StopInstanceResponse, rustbill__instance__stop_instance_response__descriptor)
ACTION(restart_instance, "reboot", Rustbill__Instance__RestartInstanceRequest,
       Rustbill__Instance__RestartInstanceResponse,
       rustbill__instance__restart_instance_response__descriptor)
ACTION(terminate_instance, "terminate", Rustbill__Instance__TerminateInstanceRequest,
       Rustbill__Instance__TerminateInstanceResponse,
       rustbill__instance__terminate_instance_response__descriptor)

#define M(name, in, outd, fn) CONV_METHOD(instance, "InstanceService", name, in, outd, fn, 0)

static const bill_srv_method instance_methods[] = {
    M("ListInstances", list_instances_request, list_instances_response, list_instances),
    M("GetInstance", get_instance_request, get_instance_response, get_instance),
    M("StartInstance", start_instance_request, start_instance_response, start_instance),
    M("StopInstance", stop_instance_request, stop_instance_response, stop_instance),
    M("RestartInstance", restart_instance_request, restart_instance_response, restart_instance),
    M("TerminateInstance", terminate_instance_request, terminate_instance_response,
      terminate_instance),
};

CONV_SERVICE(bill_srv_instance_service, "rustbill.instance.InstanceService", instance_methods);
