/*
 * provision.c — order paid -> provider instance -> running, the refund when
 * a provider cannot deliver, and the fan-out of customer notifications to
 * every enabled notifier plugin. See include/bill/provision.h for the flow;
 * everything here runs as event handlers, so it must be idempotent.
 */
#include "internal.h"
#include "domain/domain_int.h"
#include "domain/balance_int.h"
#include "domain/order_int.h"
#include "domain/notify_int.h"
#include "events/events_int.h"
#include "billing/billing_int.h"
#include "store/store.h"

#include "bill/provision.h"
#include "bill/balance.h"
#include "bill/log.h"
#include "bill/time.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "libbill::provision"

struct bill_provision {
    bill_db *db;
    bill_plugins *plugins;
    bill_provision_options opts;
};

/* Who the flow acts as in the audit log. */
static void add_str(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v ? v : ""));
}

static const bill_actor provisioner = {.kind = BILL_ACTOR_SYSTEM, .username = "provisioner"};

void bill_provision_options_init(bill_provision_options *o)
{
    memset(o, 0, sizeof *o);
    o->version = BILL_PROVISION_OPTIONS_VERSION;
    o->poll_delay_ms = 5000;
    o->poll_max_attempts = 20;
    o->notify_max_attempts = 10;
}

int bill_provision_new(bill_provision **out, bill_db *db, bill_plugins *plugins,
                       const bill_provision_options *opts)
{
    bill_provision *p;
    if (!out || !db)
        return bill__err(BILL_EINVALID, "db", "bill_provision_new needs an out pointer and a db");
    *out = NULL;
    if (!(p = calloc(1, sizeof *p)))
        return bill__err(BILL_ENOMEM, NULL, "out of memory");
    p->db = db;
    p->plugins = plugins;
    bill_provision_options_init(&p->opts);
    if (opts) {
        if (opts->poll_delay_ms > 0)
            p->opts.poll_delay_ms = opts->poll_delay_ms;
        if (opts->poll_max_attempts > 0)
            p->opts.poll_max_attempts = opts->poll_max_attempts;
        if (opts->notify_max_attempts > 0)
            p->opts.notify_max_attempts = opts->notify_max_attempts;
    }
    *out = p;
    return BILL_OK;
}

void bill_provision_free(bill_provision *p)
{
    free(p);
}

static const char *jstr(json_object *o, const char *k)
{
    json_object *v;
    return o && json_object_object_get_ex(o, k, &v) && json_object_get_string(v)
               ? json_object_get_string(v) : "";
}

/* "notify": one notify.send per enabled notifier interface, in one tx. */
static int on_notify(const bill_event *ev, void *user)
{
    bill_provision *p = user;
    json_object *doc = json_tokener_parse(ev->payload_json), *send = NULL;
    bill_conn *c = NULL;
    PGresult *ifs = NULL, *cust = NULL;
    char ma[16];
    int rc = BILL_OK;

    if (!doc || !json_object_is_type(doc, json_type_object)) {
        rc = bill__err(BILL_EINVALID, "payload", "notify event %lld: payload is not an object",
                       (long long)ev->id);
        goto done;
    }
    if ((rc = bill__conn_acquire(p->db, &c)) < 0)
        goto done;
    if (!jstr(doc, "recipient")[0] && jstr(doc, "customer_id")[0]) {
        if ((rc = bill__qp(c, &cust, "SELECT email FROM customers WHERE id = $1",
                           jstr(doc, "customer_id"))) < 0)
            goto done;
        if (PQntuples(cust) == 1)
            add_str(doc, "recipient", bill__val(cust, 0, 0));
    }
    if ((rc = bill__tx_begin(c)) < 0)
        goto done;
    if ((rc = bill__q(c, &ifs, "SELECT id FROM plugin_interfaces WHERE kind = 'notifier' "
                               "AND enabled ORDER BY name, id", 0, NULL)) < 0)
        goto done;
    snprintf(ma, sizeof ma, "%d", p->opts.notify_max_attempts);
    for (int i = 0; i < PQntuples(ifs); i++) {
        add_str(doc, "interface_id", bill__val(ifs, i, 0));
        if ((rc = bill__event_enqueue_conn(
                 c, "notify.send", json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN), 0,
                 p->opts.notify_max_attempts, NULL)) < 0)
            goto done;
    }
    rc = bill__tx_commit(c);
    if (rc == BILL_OK && PQntuples(ifs) == 0)
        bill_log(BILL_LOG_LEVEL_DEBUG, LOG_MODULE, "notification %s: no enabled notifier",
                 jstr(doc, "kind"));
done:
    if (c && rc < 0)
        bill__tx_rollback(c);
    bill__conn_done(c);
    PQclear(ifs);
    PQclear(cust);
    json_object_put(send);
    json_object_put(doc);
    return rc;
}

/* "notify.send": one notifier, one notification. */
static int on_notify_send(const bill_event *ev, void *user)
{
    bill_provision *p = user;
    json_object *doc = json_tokener_parse(ev->payload_json), *data = NULL;
    bill_plugin_instance *inst = NULL;
    int rc;

    if (!doc || !json_object_is_type(doc, json_type_object)) {
        rc = bill__err(BILL_EINVALID, "payload", "notify.send event %lld: bad payload",
                       (long long)ev->id);
        goto done;
    }
    if (!p->plugins) {
        rc = bill__err(BILL_EUNAVAILABLE, "plugins", "no plugin host to send notifications");
        goto done;
    }
    if ((rc = bill_plugin_host_get_notifier(p->plugins, jstr(doc, "interface_id"), &inst)) < 0) {
        if (rc == BILL_ESTATE || rc == BILL_ENOTFOUND) {
            /* Disabled or deleted since: nothing to send, not an error. */
            rc = BILL_OK;
        }
        goto done;
    }
    json_object_object_get_ex(doc, "data", &data);
    bill_notification n = {
        .version = BILL_NOTIFICATION_VERSION,
        .event_kind = jstr(doc, "kind"),
        .recipient = jstr(doc, "recipient")[0] ? jstr(doc, "recipient") : NULL,
        .subject = jstr(doc, "subject"),
        .body = jstr(doc, "body"),
        .payload_json = data ? json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN) : NULL,
    };
    rc = bill_plugin_notify(inst, &n);
done:
    bill_plugin_instance_release(inst);
    json_object_put(doc);
    return rc;
}

/* ---- failure: cancel + refund -------------------------------------------- */

/* Cancel the order, give back what was paid, mark the instance error and
 * tell the customer; one transaction. Then (best effort) ask the provider
 * to remove what it made. */
static int fail_order(bill_provision *p, const char *order_id, const char *reason)
{
    bill_conn *c = NULL;
    PGresult *o = NULL, *pays = NULL, *inst = NULL;
    bill_money refunded = 0;
    char money[32], *provider = NULL, *pinst = NULL;
    json_object *data;
    int rc;

    if ((rc = bill__conn_begin(p->db, &c)) < 0)
        goto done;
    if ((rc = bill__qp(c, &o,
                       "SELECT status, customer_id, total_amount::text FROM orders "
                       "WHERE id = $1 FOR UPDATE", order_id)) < 0)
        goto done;
    if (PQntuples(o) != 1 || (strcmp(bill__val(o, 0, 0), "paid") != 0 &&
                              strcmp(bill__val(o, 0, 0), "provisioning") != 0)) {
        rc = bill__tx_commit(c); /* handled before (or never paid): nothing to undo */
        goto done;
    }
    if ((rc = bill__order_move_tx(c, &provisioner, order_id, "cancelled", NULL)) < 0)
        goto done;
    /* Everything still held of this order's payments goes back. */
    if ((rc = bill__qp(c, &pays,
                       "SELECT id, (amount - refunded_amount)::text FROM payments "
                       "WHERE order_id = $1 AND status IN ('success', 'refunded') AND "
                       "NOT credited_to_balance "
                       "ORDER BY created_at FOR UPDATE", order_id)) < 0)
        goto done;
    for (int i = 0; i < PQntuples(pays); i++) {
        bill_money m = 0;
        char *desc;
        if ((rc = bill__money_col(pays, i, 1, &m)) < 0)
            goto done;
        if (m <= 0)
            continue;
        if ((rc = bill__qp(c, NULL,
                           "UPDATE payments SET refunded_amount = amount, status = 'refunded', "
                           "updated_at = bill_now() WHERE id = $1", bill__val(pays, i, 0))) < 0)
            goto done;
        if (!(desc = bill__sprintf("refund of order %s: %s", order_id, reason))) {
            rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
            goto done;
        }
        rc = bill__balance_change_tx(c, &provisioner, bill__val(o, 0, 1), BILL_BALANCE_REFUND, m,
                                     bill__val(pays, i, 0), desc, NULL);
        free(desc);
        if (rc < 0)
            goto done;
        refunded += m;
    }
    if ((rc = bill__qp(c, &inst,
                       "UPDATE instances SET status = 'error', updated_at = bill_now() "
                       "WHERE order_id = $1 AND status = 'provisioning' "
                       "RETURNING provider_interface_id::text, provider_instance_id",
                       order_id)) < 0)
        goto done;
    if (PQntuples(inst) > 0 && bill__val(inst, 0, 1)[0]) {
        provider = bill__strdup(bill__val(inst, 0, 0));
        pinst = bill__strdup(bill__val(inst, 0, 1));
    }
    snprintf(money, sizeof money, "%lld.%02lld", (long long)(refunded / 100),
             (long long)(refunded % 100));
    data = json_object_new_object();
    add_str(data, "order_id", order_id);
    add_str(data, "refunded", money);
    add_str(data, "reason", reason);
    {
        char *body = bill__sprintf("We could not set up the server of order %s (%s). The order "
                                   "is cancelled and %s was returned to your balance.",
                                   order_id, reason, money);
        rc = bill__notify_conn(c, BILL_NOTIFY_PROVISION_FAILED, bill__val(o, 0, 1), NULL,
                         "Your order could not be provisioned", body ? body : reason, data);
        free(body);
    }
    if (rc < 0)
        goto done;
    if ((rc = bill__tx_commit(c)) < 0)
        goto done;
    bill_log(BILL_LOG_LEVEL_WARN, LOG_MODULE, "order %s cancelled and %s refunded: %s", order_id,
             money, reason);
    if (provider && pinst && p->plugins) {
        bill_plugin_instance *pi = NULL;
        if (bill_plugin_host_get_provider(p->plugins, provider, &pi) == BILL_OK) {
            if (bill_plugin_provider_action(pi, pinst, BILL_PROVIDER_ACTION_TERMINATE) < 0)
                bill_log(BILL_LOG_LEVEL_WARN, LOG_MODULE,
                         "order %s: could not terminate %s after the failure: %s", order_id,
                         pinst, bill_error_last()->message);
            bill_plugin_instance_release(pi);
        }
    }
done:
    if (c && rc < 0)
        bill__tx_rollback(c);
    bill__conn_done(c);
    PQclear(o);
    PQclear(pays);
    PQclear(inst);
    free(provider);
    free(pinst);
    return rc;
}

/* A provider failure on the event's last attempt fails the order (and the
 * event is done); before that the error goes back to the queue to retry. */
static int failed_attempt(bill_provision *p, const bill_event *ev, const char *order_id, int rc)
{
    char reason[300];
    if (ev->attempts < ev->max_attempts)
        return rc;
    snprintf(reason, sizeof reason, "%s", bill_error_last()->message[0]
                                              ? bill_error_last()->message
                                              : bill_error_name(rc));
    return fail_order(p, order_id, reason);
}

/* ---- order.paid ---------------------------------------------------------- */

/* The instance of a paid order, anchored on the order's payment
 * (billing.md §1): anchor = UTC date of paid_at, the first period
 * [anchor, anchor + 1 cycle) paid by the order (its amount is that period's
 * basis for any later proration). *res holds the new id. */
static int insert_instance(bill_conn *c, const char *order_id, const char *provider_instance_id,
                           const char *ip, const char *status, PGresult **res)
{
    return bill__qp(c, res,
                    "WITH o AS (SELECT o.*, (coalesce(o.paid_at, bill_now()) AT TIME ZONE 'UTC')"
                    "::date AS anchor FROM orders o WHERE o.id = $1), "
                    "i AS (INSERT INTO instances (customer_id, order_id, product_id, "
                    "provider_interface_id, provider_instance_id, status, ip_address, server_spec, "
                    "billing_cycle, anchor_date, next_due_date, current_period_start) "
                    "SELECT customer_id, id, product_id, provider_interface_id, $2, $4, $3, "
                    "server_spec, billing_cycle, anchor, bill_period_end(anchor, anchor, "
                    "billing_cycle), anchor FROM o RETURNING id, customer_id, product_id, "
                    "billing_cycle, anchor_date, next_due_date), "
                    "per AS (INSERT INTO instance_periods (instance_id, customer_id, period_start, "
                    "period_end, basis, product_id, billing_cycle, source, order_id) "
                    "SELECT i.id, i.customer_id, i.anchor_date, i.next_due_date, o.total_amount, "
                    "i.product_id, i.billing_cycle, 'order', o.id FROM i, o) "
                    "SELECT id FROM i",
                    order_id, provider_instance_id, ip, status);
}

static int on_order_paid(const bill_event *ev, void *user)
{
    bill_provision *p = user;
    json_object *doc = json_tokener_parse(ev->payload_json), *data;
    bill_conn *c = NULL;
    PGresult *o = NULL, *lock = NULL, *ins = NULL;
    bill_plugin_instance *prov = NULL;
    bill_provider_instance pi = {0};
    char order_id[64], poll[160];
    int rc;

    if (!doc || !jstr(doc, "order_id")[0]) {
        rc = bill__err(BILL_EINVALID, "payload", "order.paid event %lld: no order_id",
                       (long long)ev->id);
        goto done;
    }
    snprintf(order_id, sizeof order_id, "%s", jstr(doc, "order_id"));
    if ((rc = bill__check_id(order_id, "order_id", "order", true)) < 0 ||
        (rc = bill__conn_acquire(p->db, &c)) < 0)
        goto done;
    if ((rc = bill__qp(c, &o,
                       "SELECT o.status, o.customer_id, "
                       "COALESCE(o.provider_interface_id::text, ''), o.server_spec::text, "
                       "COALESCE(pr.upstream_product_id, ''), COALESCE(pr.name, ''), "
                       "o.total_amount::text, o.currency "
                       "FROM orders o LEFT JOIN products pr ON pr.id = o.product_id "
                       "WHERE o.id = $1", order_id)) < 0)
        goto done;
    if (PQntuples(o) != 1 || strcmp(bill__val(o, 0, 0), "paid") != 0) {
        rc = BILL_OK; /* gone, or handled by an earlier run */
        goto done;
    }
    data = json_object_new_object();
    add_str(data, "order_id", order_id);
    add_str(data, "product", bill__val(o, 0, 5));
    add_str(data, "amount", bill__val(o, 0, 6));
    add_str(data, "currency", bill__val(o, 0, 7));

    if (!bill__val(o, 0, 2)[0]) {
        /* No provider: manual provisioning (WHMCS's "None" module). The
         * instance exists and runs at once, billed like any other; staff do
         * whatever setup it needs. */
        if ((rc = bill__tx_begin(c)) < 0 ||
            (rc = bill__qp(c, &lock, "SELECT status FROM orders WHERE id = $1 FOR UPDATE",
                           order_id)) < 0) {
            json_object_put(data);
            goto done;
        }
        if (strcmp(bill__val(lock, 0, 0), "paid") != 0) {
            json_object_put(data);
            rc = bill__tx_commit(c); /* a concurrent run won */
            goto done;
        }
        if ((rc = insert_instance(c, order_id, "", "", "running", &ins)) < 0 ||
            (rc = bill__order_move_tx(c, &provisioner, order_id, "provisioning", NULL)) < 0 ||
            (rc = bill__order_move_tx(c, &provisioner, order_id, "active", NULL)) < 0) {
            json_object_put(data);
            goto done;
        }
        add_str(data, "instance_id", bill__val(ins, 0, 0));
        char *body = bill__sprintf("Your payment of %s %s for %s was received; your service "
                                   "is active.", bill__val(o, 0, 6), bill__val(o, 0, 7),
                                   bill__val(o, 0, 5));
        rc = bill__notify_conn(c, BILL_NOTIFY_ORDER_PAID, bill__val(o, 0, 1), NULL, "Order paid",
                         body ? body : "Your order is paid.", data);
        free(body);
        if (rc == BILL_OK)
            rc = bill__tx_commit(c);
        goto done;
    }
    if (!p->plugins) {
        json_object_put(data);
        rc = bill__err(BILL_EUNAVAILABLE, "plugins", "order %s: no plugin host to provision",
                       order_id);
        goto done;
    }
    /* 1. Ask the provider, outside any transaction (it may be slow). */
    bill_provider_create_request req = {
        .version = BILL_PROVIDER_CREATE_REQUEST_VERSION,
        .order_id = order_id,
        .customer_id = bill__val(o, 0, 1),
        .spec_json = bill__val(o, 0, 3),
        .upstream_product_id = bill__val(o, 0, 4)[0] ? bill__val(o, 0, 4) : NULL,
    };
    if ((rc = bill_plugin_host_get_provider(p->plugins, bill__val(o, 0, 2), &prov)) < 0 ||
        (rc = bill_plugin_provider_create(prov, &req, &pi)) < 0) {
        json_object_put(data);
        bill__err_prefix("order %s: provider %s", order_id, bill__val(o, 0, 2));
        rc = failed_attempt(p, ev, order_id, rc);
        goto done;
    }
    /* 2. Record it, with the order locked. */
    if ((rc = bill__tx_begin(c)) < 0 ||
        (rc = bill__qp(c, &lock, "SELECT status FROM orders WHERE id = $1 FOR UPDATE",
                       order_id)) < 0) {
        json_object_put(data);
        goto done;
    }
    if (strcmp(bill__val(lock, 0, 0), "paid") != 0) {
        json_object_put(data);
        rc = bill__tx_commit(c); /* a concurrent run won */
        goto done;
    }
    if ((rc = insert_instance(c, order_id, pi.provider_instance_id,
                              pi.ip_address ? pi.ip_address : "", "provisioning", &ins)) < 0 ||
        (rc = bill__qp(c, NULL, "UPDATE orders SET provider_instance_id = $2 WHERE id = $1",
                       order_id, pi.provider_instance_id)) < 0 ||
        (rc = bill__order_move_tx(c, &provisioner, order_id, "provisioning", NULL)) < 0) {
        json_object_put(data);
        goto done;
    }
    snprintf(poll, sizeof poll, "{\"instance_id\": \"%s\", \"order_id\": \"%s\"}",
             bill__val(ins, 0, 0), order_id);
    if ((rc = bill__event_enqueue_conn(c, "instance.poll", poll,
                                       bill_db_now(p->db) + (int64_t)p->opts.poll_delay_ms * 1000,
                                       p->opts.poll_max_attempts, NULL)) < 0) {
        json_object_put(data);
        goto done;
    }
    add_str(data, "instance_id", bill__val(ins, 0, 0));
    {
        char *body = bill__sprintf("Your payment of %s %s for %s was received; your server is "
                                   "being set up.", bill__val(o, 0, 6), bill__val(o, 0, 7),
                                   bill__val(o, 0, 5));
        rc = bill__notify_conn(c, BILL_NOTIFY_ORDER_PAID, bill__val(o, 0, 1), NULL, "Order paid",
                         body ? body : "Your order is paid.", data);
        free(body);
    }
    if (rc < 0)
        goto done;
    rc = bill__tx_commit(c);
done:
    if (c && rc < 0)
        bill__tx_rollback(c);
    bill__conn_done(c);
    bill_provider_instance_clear(&pi);
    bill_plugin_instance_release(prov);
    PQclear(o);
    PQclear(lock);
    PQclear(ins);
    json_object_put(doc);
    return rc;
}

/* ---- instance.poll ------------------------------------------------------- */

static int on_instance_poll(const bill_event *ev, void *user)
{
    bill_provision *p = user;
    json_object *doc = json_tokener_parse(ev->payload_json), *data;
    bill_conn *c = NULL;
    PGresult *i = NULL, *lock = NULL;
    bill_plugin_instance *prov = NULL;
    bill_provider_instance pi = {0};
    char instance_id[64], order_id[64] = "";
    int rc;

    if (!doc || !jstr(doc, "instance_id")[0]) {
        rc = bill__err(BILL_EINVALID, "payload", "instance.poll event %lld: no instance_id",
                       (long long)ev->id);
        goto done;
    }
    snprintf(instance_id, sizeof instance_id, "%s", jstr(doc, "instance_id"));
    if ((rc = bill__check_id(instance_id, "instance_id", "instance", true)) < 0 ||
        (rc = bill__conn_acquire(p->db, &c)) < 0)
        goto done;
    if ((rc = bill__qp(c, &i,
                       "SELECT status, COALESCE(provider_interface_id::text, ''), "
                       "provider_instance_id, COALESCE(order_id::text, ''), customer_id "
                       "FROM instances WHERE id = $1", instance_id)) < 0)
        goto done;
    if (PQntuples(i) != 1 || strcmp(bill__val(i, 0, 0), "provisioning") != 0) {
        rc = BILL_OK;
        goto done;
    }
    snprintf(order_id, sizeof order_id, "%s", bill__val(i, 0, 3));
    if (!p->plugins) {
        rc = bill__err(BILL_EUNAVAILABLE, "plugins", "no plugin host to poll instance %s",
                       instance_id);
        goto done;
    }
    if ((rc = bill_plugin_host_get_provider(p->plugins, bill__val(i, 0, 1), &prov)) < 0 ||
        (rc = bill_plugin_provider_get(prov, bill__val(i, 0, 2), &pi)) < 0) {
        bill__err_prefix("instance %s", instance_id);
        goto failed;
    }
    if (pi.status != BILL_PROVIDER_RUNNING) {
        rc = bill__err(pi.status == BILL_PROVIDER_PROVISIONING ? BILL_EUNAVAILABLE : BILL_EPLUGIN,
                       "status", "instance %s is %s at the provider%s%s", instance_id,
                       bill_provider_status_name(pi.status), pi.message ? ": " : "",
                       pi.message ? pi.message : "");
        goto failed;
    }
    if (!pi.ip_address && ev->attempts < 3 && ev->attempts < ev->max_attempts) {
        /* Booted but no address yet (DHCP): the ready mail should carry the
         * IP, so wait a little; providers that never report one still
         * become ready after a few polls. Not a failure. */
        rc = bill__err(BILL_EUNAVAILABLE, "ip_address", "instance %s is running but has no "
                       "IPv4 address yet", instance_id);
        goto done;
    }
    if ((rc = bill__tx_begin(c)) < 0 ||
        (rc = bill__qp(c, &lock, "SELECT status FROM instances WHERE id = $1 FOR UPDATE",
                       instance_id)) < 0)
        goto done;
    if (strcmp(bill__val(lock, 0, 0), "provisioning") != 0) {
        rc = bill__tx_commit(c);
        goto done;
    }
    if ((rc = bill__qp(c, NULL,
                       "UPDATE instances SET status = 'running', ip_address = $2, "
                       "updated_at = bill_now() WHERE id = $1",
                       instance_id, pi.ip_address ? pi.ip_address : "")) < 0)
        goto done;
    if (order_id[0]) {
        PGresult *os = NULL;
        rc = bill__qp(c, &os, "SELECT status FROM orders WHERE id = $1 FOR UPDATE", order_id);
        if (rc == BILL_OK && PQntuples(os) == 1 && strcmp(bill__val(os, 0, 0), "provisioning") == 0)
            rc = bill__order_move_tx(c, &provisioner, order_id, "active", NULL);
        PQclear(os);
        if (rc < 0)
            goto done;
    }
    data = json_object_new_object();
    add_str(data, "instance_id", instance_id);
    add_str(data, "order_id", order_id);
    add_str(data, "ip_address", pi.ip_address);
    {
        char *body = bill__sprintf("Your server is running%s%s.", pi.ip_address ? " at " : "",
                                   pi.ip_address ? pi.ip_address : "");
        rc = bill__notify_conn(c, BILL_NOTIFY_INSTANCE_READY, bill__val(i, 0, 4), NULL,
                         "Your server is ready", body ? body : "Your server is running.", data);
        free(body);
    }
    if (rc < 0)
        goto done;
    rc = bill__tx_commit(c);
    goto done;
failed:
    if (order_id[0])
        rc = failed_attempt(p, ev, order_id, rc);
done:
    if (c && rc < 0)
        bill__tx_rollback(c);
    bill__conn_done(c);
    bill_provider_instance_clear(&pi);
    bill_plugin_instance_release(prov);
    PQclear(i);
    PQclear(lock);
    json_object_put(doc);
    return rc;
}

/* "ticket.assigned" (enqueued by ticket assignment): tell the old and the new
 * assignee, once each, through the notifiers. One transaction, so a retry after a
 * failure never queues a second pair. */
static int on_ticket_assigned(const bill_event *ev, void *user)
{
    bill_provision *p = user;
    json_object *doc = json_tokener_parse(ev->payload_json);
    bill_conn *c = NULL;
    PGresult *t = NULL;
    int rc;

    if (!doc || !json_object_is_type(doc, json_type_object)) {
        rc = bill__err(BILL_EINVALID, "payload", "ticket.assigned event %lld: bad payload",
                       (long long)ev->id);
        goto done;
    }
    const char *ticket = jstr(doc, "ticket_id");
    const char *who[2] = {jstr(doc, "old_assignee_id"), jstr(doc, "new_assignee_id")};
    if ((rc = bill__conn_acquire(p->db, &c)) < 0)
        goto done;
    if ((rc = bill__qp(c, &t, "SELECT customer_id, title FROM tickets WHERE id = $1", ticket)) < 0)
        goto done;
    if (PQntuples(t) != 1) /* ticket gone: nothing to say */
        goto done;
    if ((rc = bill__tx_begin(c)) < 0)
        goto done;
    for (int i = 0; i < 2; i++) {
        PGresult *u = NULL;
        if (!who[i][0] || (i == 1 && strcmp(who[0], who[1]) == 0))
            continue;
        if ((rc = bill__qp(c, &u, "SELECT email, username FROM admin_users WHERE id = $1",
                           who[i])) < 0)
            goto done;
        if (PQntuples(u) == 1) {
            char *subject = bill__sprintf("Ticket \"%s\" %s", bill__val(t, 0, 1),
                                          i == 0 ? "was reassigned away from you"
                                                 : "was assigned to you");
            json_object *data = json_object_new_object();
            if (!subject || !data) {
                free(subject);
                json_object_put(data);
                PQclear(u);
                rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
                goto done;
            }
            add_str(data, "ticket_id", ticket);
            add_str(data, "admin_user_id", who[i]);
            add_str(data, "role", i == 0 ? "old_assignee" : "new_assignee");
            add_str(data, "old_assignee_id", who[0]);
            add_str(data, "new_assignee_id", who[1]);
            /* customer_id stays empty: the recipient is the admin, not the customer */
            rc = bill__notify_conn(c, BILL_NOTIFY_TICKET_ASSIGNED, NULL, bill__val(u, 0, 0), subject,
                             subject, data);
            free(subject);
        }
        PQclear(u);
        if (rc < 0)
            goto done;
    }
    rc = bill__tx_commit(c);
done:
    if (c && rc < 0)
        bill__tx_rollback(c);
    bill__conn_done(c);
    PQclear(t);
    json_object_put(doc);
    return rc;
}

/* "notify.verification_code" (enqueued by bill_verification_code_send): mail the
 * code to the address it was requested for. */
static int on_verification_code(const bill_event *ev, void *user)
{
    bill_provision *p = user;
    json_object *doc = json_tokener_parse(ev->payload_json), *data = NULL, *v;
    bill_conn *c = NULL;
    char *body = NULL;
    int rc, ttl = 0;

    if (!doc || !json_object_is_type(doc, json_type_object) || !jstr(doc, "email")[0] ||
        !jstr(doc, "code")[0]) {
        rc = bill__err(BILL_EINVALID, "payload",
                       "notify.verification_code event %lld: bad payload", (long long)ev->id);
        goto done;
    }
    if (json_object_object_get_ex(doc, "expires_in_secs", &v))
        ttl = json_object_get_int(v);
    body = bill__sprintf("Your verification code is %s. It expires in %d minutes.",
                         jstr(doc, "code"), ttl > 0 ? (ttl + 59) / 60 : 10);
    data = json_object_new_object();
    if (!body || !data) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
        goto done;
    }
    add_str(data, "purpose", jstr(doc, "purpose"));
    add_str(data, "code", jstr(doc, "code"));
    if ((rc = bill__conn_acquire(p->db, &c)) < 0)
        goto done;
    rc = bill__notify_conn(c, BILL_NOTIFY_VERIFICATION_CODE, NULL, jstr(doc, "email"),
                     "Your verification code", body, data);
    data = NULL; /* owned by notify_conn */
done:
    bill__conn_done(c);
    json_object_put(data);
    free(body);
    json_object_put(doc);
    return rc;
}

/* "provider.action" (queued by the billing engine): libbill/billing/actions.c. */
static int on_provider_action(const bill_event *ev, void *user)
{
    bill_provision *p = user;
    return bill__billing_provider_action(p->db, p->plugins, ev);
}

int bill_provision_register(bill_provision *p, bill_events *ev)
{
    int rc;
    if (!p || !ev)
        return bill__err(BILL_EINVALID, NULL, "provision and events are required");
    if ((rc = bill_events_register(ev, "order.paid", on_order_paid, p)) < 0 ||
        (rc = bill_events_register(ev, "instance.poll", on_instance_poll, p)) < 0 ||
        (rc = bill_events_register(ev, "notify", on_notify, p)) < 0 ||
        (rc = bill_events_register(ev, "notify.send", on_notify_send, p)) < 0 ||
        (rc = bill_events_register(ev, "ticket.assigned", on_ticket_assigned, p)) < 0 ||
        (rc = bill_events_register(ev, "notify.verification_code", on_verification_code, p)) < 0 ||
        (rc = bill_events_register(ev, "provider.action", on_provider_action, p)) < 0)
        return rc;
    return BILL_OK;
}
