/*
 * apikey.c — rustbill.downstream.ApiKeyService (wire-contract.md): create,
 * list and revoke customer API keys. Login required. libbill holds every
 * rule: customers manage their own keys only (others NOT_FOUND), a caller
 * that authenticated WITH an API key cannot create or revoke keys
 * (PERMISSION_DENIED), creating needs customers.can_create_api_keys
 * (PERMISSION_DENIED), staff may manage any customer's keys (customer_id
 * required then). The full key is in the CreateApiKey response only.
 */
#include "conv.h"

#include "rustbill/downstream.pb-c.h"

#include <stdlib.h>

static int create_key(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Downstream__CreateApiKeyRequest *req = (const Rustbill__Downstream__CreateApiKeyRequest *)in;
    Rustbill__Downstream__CreateApiKeyResponse *resp;
    bill_apikey_info info;
    const char *cid = NULL;
    char *key = NULL;
    int rc, st;

    if ((st = conv_customer_scope(call, req->customer_id, true, &cid)) != BILL_GRPC_OK)
        return st;
    rc = bill_apikey_create(bill_srv_call_db(call), bill_srv_call_actor(call), cid, req->name,
                            bill_time_now(), &key, &info);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    resp = bill_srv_call_new(call, &rustbill__downstream__create_api_key_response__descriptor);
    if (!resp) {
        free(key);
        return conv_oom(call);
    }
    resp->api_key = bill_srv_call_strdup(call, key);
    resp->key_prefix = conv_str(call, info.key_prefix);
    resp->id = conv_str(call, info.id);
    /* the secret must not linger in freed heap memory */
    for (char *p = key; *p; p++)
        *(volatile char *)p = 0;
    free(key);
    *out = &resp->base;
    return BILL_GRPC_OK;
}

static int list_keys(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Downstream__ListApiKeysRequest *req = (const Rustbill__Downstream__ListApiKeysRequest *)in;
    Rustbill__Downstream__ListApiKeysResponse *resp;
    bill_apikeys keys = {0};
    const char *cid = NULL;
    size_t n;
    int rc, st;

    if ((st = conv_customer_scope(call, req->customer_id, true, &cid)) != BILL_GRPC_OK)
        return st;
    rc = bill_apikey_list(bill_srv_call_db(call), bill_srv_call_actor(call), cid, &keys);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    n = keys.count;
    st = BILL_GRPC_OK;
    resp = bill_srv_call_new(call, &rustbill__downstream__list_api_keys_response__descriptor);
    if (!resp || (n && !(resp->keys = bill_srv_call_alloc(call, n * sizeof *resp->keys)))) {
        st = conv_oom(call);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        Rustbill__Downstream__ApiKeyInfo *k = bill_srv_call_new(call, &rustbill__downstream__api_key_info__descriptor);
        if (!k) {
            st = conv_oom(call);
            goto done;
        }
        k->id = conv_str(call, keys.items[i].id);
        k->key_prefix = conv_str(call, keys.items[i].key_prefix);
        k->name = conv_str(call, keys.items[i].name);
        k->enabled = keys.items[i].enabled;
        k->created_at = conv_time(call, keys.items[i].created_at_us);
        k->last_used_at = conv_time(call, keys.items[i].last_used_at_us);
        k->expires_at = conv_time(call, keys.items[i].expires_at_us);
        resp->keys[i] = k;
    }
    resp->n_keys = n;
    *out = &resp->base;
done:
    bill_apikeys_clear(&keys);
    return st;
}

static int revoke_key(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Downstream__RevokeApiKeyRequest *req = (const Rustbill__Downstream__RevokeApiKeyRequest *)in;
    int rc, st;

    if ((st = bill_srv_require_login(call)) != BILL_GRPC_OK ||
        (st = conv_uuid(call, "id", req->id, true)) != BILL_GRPC_OK)
        return st;
    rc = bill_apikey_revoke(bill_srv_call_db(call), bill_srv_call_actor(call), req->id, bill_time_now());
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    return conv_reply(call, out, &rustbill__downstream__revoke_api_key_response__descriptor, NULL, NULL);
}

#define M(name, in, outd, fn) CONV_METHOD(downstream, "ApiKeyService", name, in, outd, fn, 0)

static const bill_srv_method apikey_methods[] = {
    M("CreateApiKey", create_api_key_request, create_api_key_response, create_key),
    M("ListApiKeys", list_api_keys_request, list_api_keys_response, list_keys),
    M("RevokeApiKey", revoke_api_key_request, revoke_api_key_response, revoke_key),
};

CONV_SERVICE(bill_srv_apikey_service, "rustbill.downstream.ApiKeyService", apikey_methods);
