/*
 * actions.c — carrying out the provider actions the billing engine queues
 * ("provider.action" events: suspend, unsuspend, terminate, change_plan)
 * through the instance's provider plugin. A failure goes back to the event
 * queue, which retries with backoff (hourly at most) practically forever;
 * billing state is never rolled back because a provider failed, and
 * `bill-cli events list --failing` shows what keeps failing. An action the
 * provider does not implement (an older plugin, BILL_EUNSUPPORTED) cannot
 * succeed by retrying: it is written to the operation log for a person to do
 * by hand and the event is done.
 */
#include "billing/billing_int.h"
#include "domain/oplog_int.h"
#include "bill/events.h"
#include "bill/log.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "libbill::billing"

static const bill_actor biller = {.kind = BILL_ACTOR_SYSTEM, .username = "billing"};

static const char *jstr(json_object *o, const char *k)
{
    json_object *v;
    return o && json_object_object_get_ex(o, k, &v) && json_object_get_string(v)
               ? json_object_get_string(v) : "";
}

int bill__billing_provider_action(bill_db *db, bill_plugins *plugins, const bill_event *ev)
{
    json_object *doc = json_tokener_parse(ev->payload_json);
    bill_conn *c = NULL;
    PGresult *i = NULL;
    bill_plugin_instance *prov = NULL;
    int rc;
    char iid[64], action[32];

    if (!doc || !jstr(doc, "instance_id")[0] || !jstr(doc, "action")[0]) {
        rc = bill__err(BILL_EINVALID, "payload", "provider.action event %lld: bad payload",
                       (long long)ev->id);
        goto done;
    }
    snprintf(iid, sizeof iid, "%s", jstr(doc, "instance_id"));
    snprintf(action, sizeof action, "%s", jstr(doc, "action"));
    if ((rc = bill__check_id(iid, "instance_id", "instance", true)) < 0 ||
        (rc = bill__conn_acquire(db, &c)) < 0)
        goto done;
    if ((rc = bill__qp(c, &i,
                       "SELECT coalesce(i.provider_interface_id::text, ''), i.provider_instance_id, "
                       "i.server_spec::text, coalesce(p.upstream_product_id, '') FROM instances i "
                       "LEFT JOIN products p ON p.id = i.product_id WHERE i.id = $1",
                       iid)) < 0)
        goto done;
    if (PQntuples(i) == 0 || !bill__val(i, 0, 0)[0] || !bill__val(i, 0, 1)[0]) {
        rc = BILL_OK; /* gone, or nothing at a provider to act on */
        goto done;
    }
    if (!plugins) {
        rc = bill__err(BILL_EUNAVAILABLE, "plugins", "no plugin host to %s instance %s", action,
                       iid);
        goto done;
    }
    if ((rc = bill_plugin_host_get_provider(plugins, bill__val(i, 0, 0), &prov)) < 0) {
        bill__err_prefix("%s instance %s: provider %s", action, iid, bill__val(i, 0, 0));
        goto done;
    }
    if (strcmp(action, "change_plan") == 0)
        rc = bill_plugin_provider_change_plan(prov, bill__val(i, 0, 1), bill__val(i, 0, 2),
                                              bill__val(i, 0, 3)[0] ? bill__val(i, 0, 3)
                                                                     : NULL);
    else
        rc = bill_plugin_provider_action(prov, bill__val(i, 0, 1), action);
    if (rc == BILL_EUNSUPPORTED) {
        char after[256];
        BILL_LOG_WARN(MOD, "instance %s: provider %s cannot %s (%s); do it by hand", iid,
                      bill__val(i, 0, 0), action, bill_error_last()->message);
        snprintf(after, sizeof after, "{\"action\": \"%s\", \"result\": \"unsupported\"}",
                 action);
        rc = bill__oplog_write(c, &biller, "instance.provider_action_unsupported", "instance", iid,
                               NULL, after);
        goto done;
    }
    if (rc < 0)
        bill__err_prefix("%s instance %s", action, iid);
done:
    bill_plugin_instance_release(prov);
    PQclear(i);
    bill__conn_done(c);
    json_object_put(doc);
    return rc;
}
