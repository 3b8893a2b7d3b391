/*
 * gateway.c — the payment gateway catalogue and gateways' notifications
 * (contract in include/bill/gateway.h). The notification path is money:
 * every decision is logged, and only a truly unknown interface is final.
 */
#include "bill/gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bill/log.h"
#include "bill/payment.h"
#include "bill/uuid.h"
#include "internal.h"

#define MOD "libbill::gateway"

void bill_gateways_clear(bill_gateways *l)
{
    if (!l)
        return;
    free(l->items);
    memset(l, 0, sizeof *l);
}

int bill_gateway_catalogue(bill_plugins *p, bill_gateways *out)
{
    bill_plugin_interfaces ifs = {0};
    int rc;
    if (!out)
        return bill__err(BILL_EINVALID, "out", "out is required");
    memset(out, 0, sizeof *out);
    if (p && (rc = bill_plugin_interface_list(p, NULL, BILL_PLUGIN_GATEWAY, &ifs)) < 0)
        return rc;
    out->items = calloc(ifs.count + 1, sizeof *out->items);
    if (!out->items) {
        bill_plugin_interfaces_clear(&ifs);
        return bill__err(BILL_ENOMEM, NULL, "out of memory");
    }
    bill_gateway_entry *e = &out->items[out->count++];
    snprintf(e->id, sizeof e->id, "%s", BILL_GATEWAY_BALANCE_ID);
    snprintf(e->name, sizeof e->name, "Account balance");
    e->is_healthy = true;
    for (size_t i = 0; i < ifs.count; i++) {
        const bill_plugin_interface *f = &ifs.items[i];
        if (!f->enabled || f->kind != BILL_PLUGIN_GATEWAY)
            continue;
        e = &out->items[out->count++];
        snprintf(e->id, sizeof e->id, "%s", f->id);
        snprintf(e->name, sizeof e->name, "%s", f->name);
        e->is_healthy = f->is_healthy;
    }
    bill_page_meta_one(&out->meta, out->count);
    bill_plugin_interfaces_clear(&ifs);
    return BILL_OK;
}

void bill_gateway_notify_result_clear(bill_gateway_notify_result *r)
{
    if (!r)
        return;
    BILL__FREE(r->body, r->content_type);
    memset(r, 0, sizeof *r);
}

/* The path names the plugin by its id or by that id without "gateway-". */
static bool plugin_matches(const char *segment, const char *plugin_id)
{
    if (strcmp(segment, plugin_id) == 0)
        return true;
    return strncmp(plugin_id, "gateway-", 8) == 0 && strcmp(segment, plugin_id + 8) == 0;
}

/* A failure that may pass by itself: the gateway should retry. */
static bool retryable(int rc)
{
    return rc == BILL_EUNAVAILABLE || rc == BILL_EDB || rc == BILL_ETIMEOUT ||
           rc == BILL_ENOMEM || rc == BILL_EINTERNAL || rc == BILL_EIO;
}

static int answer(bill_gateway_notify_result *out, const char *body, const char *ctype)
{
    out->outcome = BILL_GATEWAY_NOTIFY_ANSWER;
    out->body = bill__strdup(body && *body ? body : "fail");
    out->content_type = bill__strdup(ctype && *ctype ? ctype : "text/plain");
    if (!out->body || !out->content_type) {
        /* Nothing to answer with: the gateway asks again. */
        BILL__FREE(out->body, out->content_type);
        out->body = out->content_type = NULL;
        out->outcome = BILL_GATEWAY_NOTIFY_RETRY;
    }
    return BILL_OK;
}

int bill_gateway_notify(bill_db *db, bill_plugins *p, const char *plugin,
                        const char *interface_id, const bill_gateway_callback *cb,
                        bill_gateway_notify_result *out)
{
    bill_plugin_instance *gw = NULL;
    bill_gateway_callback_result r;
    int rc;

    if (!out)
        return bill__err(BILL_EINVALID, "out", "out is required");
    memset(out, 0, sizeof *out);
    memset(&r, 0, sizeof r);
    if (!db || !cb || !plugin || !interface_id)
        return bill__err(BILL_EINVALID, NULL, "db, plugin, interface_id and cb are required");
    out->outcome = BILL_GATEWAY_NOTIFY_UNKNOWN;
    if (!bill_uuid_valid(interface_id))
        return BILL_OK;
    if (!p) {
        BILL_LOG_WARN(MOD, "notification for interface %s: no plugin registry", interface_id);
        out->outcome = BILL_GATEWAY_NOTIFY_RETRY;
        return BILL_OK;
    }
    rc = bill_plugin_host_get_gateway_callback(p, interface_id, &gw);
    if (rc != BILL_OK && rc != BILL_ENOTFOUND && rc != BILL_EINVALID) {
        BILL_LOG_ERROR(MOD, "notification for %s/%s: retry: %s", plugin, interface_id,
                       bill_error_last()->message);
        out->outcome = BILL_GATEWAY_NOTIFY_RETRY;
        goto done;
    }
    if (rc != BILL_OK || !plugin_matches(plugin, bill_plugin_instance_plugin_id(gw))) {
        BILL_LOG_WARN(MOD, "notification for %s/%s: %s", plugin, interface_id,
                      rc != BILL_OK ? bill_error_last()->message : "interface is of another plugin");
        goto done;
    }
    rc = bill_plugin_gateway_handle_callback(gw, cb, &r);
    if (retryable(rc)) {
        BILL_LOG_ERROR(MOD, "notification for %s/%s: plugin: retry: %s", plugin, interface_id,
                       bill_error_last()->message);
        out->outcome = BILL_GATEWAY_NOTIFY_RETRY;
        goto done;
    }
    if (rc != BILL_OK) {
        BILL_LOG_WARN(MOD, "notification for %s/%s: plugin: %s", plugin, interface_id,
                      bill_error_last()->message);
        answer(out, "fail", NULL);
        goto done;
    }
    out->verified = r.verified;
    const char *body = r.response_body;
    if (!r.verified) {
        BILL_LOG_WARN(MOD, "notification for %s/%s: signature not verified", plugin, interface_id);
    } else if (r.status == BILL_GATEWAY_SUCCEEDED) {
        rc = bill_payment_confirm(db, NULL, NULL, interface_id, r.gateway_payment_id,
                                  r.amount_cents, r.gateway_tx_id, &out->already);
        const char *pid = r.gateway_payment_id ? r.gateway_payment_id : "";
        if (retryable(rc)) {
            BILL_LOG_ERROR(MOD, "notification for %s/%s: payment %s not confirmed yet, retry: %s",
                           plugin, interface_id, pid, bill_error_last()->message);
            out->outcome = BILL_GATEWAY_NOTIFY_RETRY;
            out->already = false;
            goto done;
        } else if (rc != BILL_OK) {
            BILL_LOG_ERROR(MOD, "notification for %s/%s: payment %s not confirmed: %s", plugin,
                           interface_id, pid, bill_error_last()->message);
            out->already = false;
            body = "fail";
        } else {
            out->confirmed = true;
            BILL_LOG_INFO(MOD, "notification for %s/%s: payment %s %s", plugin, interface_id, pid,
                          out->already ? "was already confirmed" : "confirmed");
        }
    }
    answer(out, body, r.response_content_type);
done:
    bill_gateway_callback_result_clear(&r);
    bill_plugin_instance_release(gw);
    return BILL_OK;
}
