/*
 * order.c — orders: creation priced from the catalog, scoped reads, the one
 * status transition table, paying (balance in one transaction; gateways via
 * the plugin host) and expiry of unpaid orders. Contract in
 * include/bill/order.h.
 */
#include "auth/access_int.h"
#include "domain/domain_int.h"
#include "domain/oplog_int.h"
#include "domain/balance_int.h"
#include "domain/order_int.h"
#include "events/events_int.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ORD_COLS                                                                          \
    "o.id, o.customer_id, o.product_id, coalesce(p.name, ''), o.provider_interface_id, " \
    "o.provider_instance_id, o.server_spec::text, o.status, o.total_amount, o.currency, " \
    "o.billing_cycle, o.gateway_id, o.gateway_payment_id, o.notes, " BILL__US("o.paid_at") \
    ", " BILL__US("o.created_at") ", " BILL__US("o.updated_at")
#define ORD_FROM " FROM orders o LEFT JOIN products p ON p.id = o.product_id "

static const char *const statuses[] = {"pending",   "paid",      "provisioning", "active",
                                       "cancelled", "suspended", "refunded",     "completed",
                                       "terminated"};

/* The transition table (from, to) — the only place it exists. */
static const struct {
    const char *from, *to;
} transitions[] = {
    {"pending", "paid"},          {"pending", "cancelled"},
    {"paid", "provisioning"},     {"paid", "refunded"},
    {"paid", "cancelled"},        {"provisioning", "active"},
    {"provisioning", "cancelled"}, {"active", "suspended"},
    {"active", "completed"},      {"active", "refunded"},
    {"suspended", "active"},      {"suspended", "completed"},
    {"suspended", "refunded"},
    /* Its instance was terminated (final, like the instance). */
    {"active", "terminated"},     {"suspended", "terminated"},
};

int bill_order_status_check(const char *s)
{
    for (size_t i = 0; s && i < BILL__ARRAY_LEN(statuses); i++)
        if (strcmp(s, statuses[i]) == 0)
            return BILL_OK;
    return bill__err(BILL_EINVALID, "status",
                     "status \"%.40s\" is not one of pending, paid, provisioning, active, "
                     "cancelled, suspended, refunded, completed, terminated",
                     s ? s : "");
}

bool bill_order_transition_allowed(const char *from, const char *to)
{
    for (size_t i = 0; from && to && i < BILL__ARRAY_LEN(transitions); i++)
        if (strcmp(from, transitions[i].from) == 0 && strcmp(to, transitions[i].to) == 0)
            return true;
    return false;
}

/* ---- rows -------------------------------------------------------------- */

static void ord_clear(void *p)
{
    bill_order *o = p;
    BILL__FREE(o->id, o->customer_id, o->product_id, o->product_name, o->provider_id,
               o->provider_instance_id, o->server_spec_json, o->status, o->currency,
               o->billing_cycle, o->gateway_id, o->gateway_payment_id, o->notes);
    memset(o, 0, sizeof *o);
}

static int ord_from_row(const PGresult *r, int row, const void *ctx, void *p)
{
    bill_order *o = p;
    char **s[] = {&o->id,         &o->customer_id,        &o->product_id,
                  &o->product_name, &o->provider_id,      &o->provider_instance_id,
                  &o->server_spec_json, &o->status};
    for (int i = 0; i < (int)BILL__ARRAY_LEN(s); i++)
        if (!(*s[i] = bill__col_dup(r, row, i)))
            goto oom;
    int rc = bill__money_col(r, row, 8, &o->amount);
    if (rc < 0)
        return rc;
    if (!(o->currency = bill__col_dup(r, row, 9)) ||
        !(o->billing_cycle = bill__col_dup(r, row, 10)) ||
        !(o->gateway_id = bill__col_dup(r, row, 11)) ||
        !(o->gateway_payment_id = bill__col_dup(r, row, 12)) ||
        !(o->notes = bill__col_dup(r, row, 13)))
        goto oom;
    o->paid_at = bill__i64(r, row, 14);
    o->created_at = bill__i64(r, row, 15);
    o->updated_at = bill__i64(r, row, 16);
    return BILL_OK;
oom:
    return bill__err(BILL_ENOMEM, NULL, "out of memory reading an order");
}

static const bill__rowtype ORD_ROW = {sizeof(bill_order), ord_from_row, ord_clear, "order"};

BILL__ROW_FUNCS(&ORD_ROW, bill_order, bill_order_free, bill_orders, bill_orders_clear)

static int ord_fetch(bill_conn *c, const bill_actor *actor, const char *id, void *out)
{
    return bill__fetch_owned(c, actor, &ORD_ROW, "order",
                             "SELECT " ORD_COLS ORD_FROM "WHERE o.id = $1",
                             1, id, out);
}

/* ---- validation -------------------------------------------------------- */

/* A JSON object whose values are scalars (as the catalog's specs). On
 * success *obj holds the parsed object (caller puts it). */
static int parse_spec(const char *text, json_object **obj)
{
    json_object *o;
    *obj = NULL;
    if (!text || !*text)
        text = "{}";
    int rc = bill__json_text_check(text, "server_spec");
    if (rc < 0)
        return rc;
    o = json_tokener_parse(text);
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return bill__err(BILL_EINVALID, "server_spec", "server_spec is not a JSON object");
    }
    json_object_object_foreach(o, key, val) {
        if (!val || json_object_is_type(val, json_type_object) ||
            json_object_is_type(val, json_type_array)) {
            /* key lives in o: report before releasing it. */
            rc = bill__err(BILL_EINVALID, "server_spec",
                           "server_spec \"%.64s\" must be a string, number or boolean", key);
            json_object_put(o);
            return rc;
        }
    }
    *obj = o;
    return BILL_OK;
}

/* Check a spec against a provider's template: {"fields":[...]} or [...],
 * each field {"key"|"name", "required", "options":[...], "min", "max"}. */
static int check_spec_template(json_object *spec, const char *tmpl_text)
{
    json_object *tmpl = json_tokener_parse(tmpl_text ? tmpl_text : ""), *fields = NULL;
    int rc = BILL_OK;
    if (!tmpl)
        return bill__err(BILL_EPLUGIN, "server_spec", "provider returned a bad spec template");
    if (json_object_is_type(tmpl, json_type_array))
        fields = tmpl;
    else if (!json_object_object_get_ex(tmpl, "fields", &fields) ||
             !json_object_is_type(fields, json_type_array))
        fields = NULL;
    for (size_t i = 0; fields && i < json_object_array_length(fields); i++) {
        json_object *f = json_object_array_get_idx(fields, i), *k = NULL, *v = NULL, *x = NULL;
        if (!json_object_is_type(f, json_type_object))
            continue;
        if (!json_object_object_get_ex(f, "key", &k) && !json_object_object_get_ex(f, "name", &k))
            continue;
        const char *key = json_object_get_string(k);
        bool required = json_object_object_get_ex(f, "required", &x) && json_object_get_boolean(x);
        if (!json_object_object_get_ex(spec, key, &v) || !v) {
            if (required) {
                rc = bill__err(BILL_EINVALID, "server_spec", "server_spec needs \"%.64s\"", key);
                goto done;
            }
            continue;
        }
        if (json_object_object_get_ex(f, "options", &x) &&
            json_object_is_type(x, json_type_array) && json_object_array_length(x) > 0) {
            const char *have = json_object_get_string(v);
            bool found = false;
            for (size_t j = 0; j < json_object_array_length(x) && !found; j++) {
                json_object *opt = json_object_array_get_idx(x, j), *ov = NULL;
                if (json_object_is_type(opt, json_type_object) &&
                    json_object_object_get_ex(opt, "value", &ov))
                    opt = ov;
                found = opt && strcmp(json_object_get_string(opt), have) == 0;
            }
            if (!found) {
                rc = bill__err(BILL_EINVALID, "server_spec",
                               "server_spec \"%.64s\" = \"%.64s\" is not one of the offered "
                               "options", key, have);
                goto done;
            }
        }
        if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) {
            int64_t n = json_object_get_int64(v);
            if ((json_object_object_get_ex(f, "min", &x) && n < json_object_get_int64(x)) ||
                (json_object_object_get_ex(f, "max", &x) && n > json_object_get_int64(x))) {
                rc = bill__err(BILL_EINVALID, "server_spec",
                               "server_spec \"%.64s\" = %lld is out of range", key,
                               (long long)n);
                goto done;
            }
        }
    }
done:
    json_object_put(tmpl);
    return rc;
}

static bool currency_ok(const char *c)
{
    return strlen(c) == 3 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z' &&
           c[2] >= 'A' && c[2] <= 'Z';
}

/* The product's price for `cycle`; the list of offered cycles goes into the
 * error otherwise. */
static int product_price(bill_conn *c, const char *product_id, const char *cycle,
                         bill_money *price, char **provider_id)
{
    PGresult *p = NULL, *pp = NULL;
    char offered[64] = "";
    int rc;
    if ((rc = bill__qp_found(c, &p, "product_id", "product", product_id,
                             "SELECT active, price, coalesce(provider_interface_id::text, '') "
                             "FROM products WHERE id = $1",
                             product_id)) < 0)
        goto done;
    if (!bill__bool(p, 0, 0)) {
        rc = bill__err(BILL_ESTATE, "product_id", "product %s is not active", product_id);
        goto done;
    }
    if ((rc = bill__qp(c, &pp,
                       "SELECT cycle, price FROM product_prices WHERE product_id = $1 ORDER BY "
                       "array_position(ARRAY['monthly','quarterly','yearly'], cycle)",
                       product_id)) < 0)
        goto done;
    rc = BILL_ENOTFOUND;
    if (PQntuples(pp) == 0) {
        snprintf(offered, sizeof offered, "monthly");
        if (strcmp(cycle, "monthly") == 0)
            rc = bill__money_col(p, 0, 1, price);
    }
    for (int i = 0; i < PQntuples(pp); i++) {
        size_t n = strlen(offered);
        snprintf(offered + n, sizeof offered - n, "%s%s", n ? ", " : "", bill__val(pp, i, 0));
        if (strcmp(bill__val(pp, i, 0), cycle) == 0)
            rc = bill__money_col(pp, i, 1, price);
    }
    if (rc == BILL_ENOTFOUND) {
        rc = bill__err(BILL_EINVALID, "billing_cycle",
                       "billing_cycle \"%s\" is not offered by product %s (offered: %s)", cycle,
                       product_id, offered);
        goto done;
    }
    if (rc < 0)
        goto done;
    if (!(*provider_id = bill__col_dup(p, 0, 2)))
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
done:
    PQclear(p);
    PQclear(pp);
    return rc;
}

/* ---- create / read ----------------------------------------------------- */

int bill_order_create(bill_db *db, bill_plugins *plugins, const bill_actor *actor,
                      const bill_order_input *in, bill_order **out)
{
    bill_conn *c = NULL;
    PGresult *res = NULL;
    json_object *spec = NULL;
    char *provider = NULL, *tmpl = NULL, price_txt[BILL_MONEY_BUFSZ];
    const char *customer_id, *cycle, *currency;
    bill_plugin_instance *inst = NULL;
    bill_money price = 0;
    bill_cycle cy;
    int rc;

    if (out)
        *out = NULL;
    if (!in)
        return bill__err(BILL_EINVALID, NULL, "order input is required");
    if ((rc = bill__require_known(actor)) < 0 ||
        (rc = bill__check_version(in->version, BILL_ORDER_INPUT_VERSION, "bill_order_input")) < 0)
        return rc;
    if ((rc = bill_actor_customer_scope(actor, in->customer_id, true, &customer_id)) < 0 ||
        (rc = bill__check_id(in->product_id, "product_id", "product", false)) < 0)
        return rc;
    cycle = in->billing_cycle && *in->billing_cycle ? in->billing_cycle : "monthly";
    if ((rc = bill_cycle_parse(cycle, &cy)) < 0)
        return rc;
    currency = in->currency && *in->currency ? in->currency : BILL_DEFAULT_CURRENCY;
    if (!currency_ok(currency))
        return bill__err(BILL_EINVALID, "currency",
                         "currency \"%.16s\" is not three upper-case letters", currency);
    if (in->notes && strlen(in->notes) > 8000)
        return bill__err(BILL_EINVALID, "notes", "notes are longer than 8000 bytes");
    if (in->gateway_id && strlen(in->gateway_id) > 64)
        return bill__err(BILL_EINVALID, "gateway_id", "gateway_id is longer than 64 bytes");
    if ((rc = parse_spec(in->server_spec_json, &spec)) < 0)
        return rc;

    if ((rc = bill__conn_acquire_as(db, actor, &c)) < 0)
        goto done;
    if ((rc = product_price(c, in->product_id, cycle, &price, &provider)) < 0)
        goto done;
    if (in->provider_id && *in->provider_id && strcasecmp(in->provider_id, provider) != 0) {
        rc = bill__err(BILL_EINVALID, "provider_id",
                       "provider_id %.64s is not the provider of product %s", in->provider_id,
                       in->product_id);
        goto done;
    }
    if (*provider && plugins) {
        /* Ask the provider for its template; a provider that has none (or
         * is not loaded) leaves the spec unchecked here — provisioning will
         * refuse it then. */
        if (bill_plugin_host_get_provider(plugins, provider, &inst) == BILL_OK &&
            bill_plugin_provider_spec_template(inst, &tmpl) == BILL_OK && tmpl && *tmpl &&
            (rc = check_spec_template(spec, tmpl)) < 0)
            goto done;
        bill_error_clear();
    }
    rc = bill__qp(c, &res,
                  "INSERT INTO orders (customer_id, product_id, provider_interface_id, "
                  "server_spec, status, total_amount, currency, billing_cycle, gateway_id, "
                  "notes, expires_at) VALUES ($1, $2, NULLIF($3, '')::uuid, $4::jsonb, "
                  "'pending', $5::numeric, $6, $7, $8, $9, bill_now() + interval '24 hours') "
                  "RETURNING id",
                  customer_id, in->product_id, provider, json_object_to_json_string(spec),
                  bill_money_format(price, price_txt), currency, cycle,
                  in->gateway_id ? in->gateway_id : "", in->notes ? in->notes : "");
    if (rc == BILL_EINVALID && strcmp(bill_error_last()->sqlstate, "23503") == 0)
        rc = bill__err(BILL_ENOTFOUND, "customer_id", "customer %s not found", customer_id);
    if (rc < 0)
        goto done;
    if ((rc = bill__oplog_write(c, actor, "order.create", "order", bill__val(res, 0, 0), NULL,
                                NULL)) < 0)
        goto done;
    if (out)
        rc = ord_fetch(c, NULL, bill__val(res, 0, 0), out);
done:
    if (inst)
        bill_plugin_instance_release(inst);
    free(tmpl);
    free(provider);
    json_object_put(spec);
    PQclear(res);
    bill__conn_done(c);
    return rc;
}

int bill_order_get(bill_db *db, const bill_actor *actor, const char *id, bill_order **out)
{
    return bill__get_as(db, actor, id, "order", ord_fetch, out);
}

int bill_order_list(bill_db *db, const bill_actor *actor, const bill_order_filter *f,
                    const bill_page *page, bill_orders *out)
{
    bill_order_filter none = {0};
    const char *cust;
    char *pattern = NULL;
    int rc;

    if ((rc = BILL__LIST_START(out, actor, f,
                               BILL_ORDER_FILTER_VERSION, "bill_order_filter", &cust)) < 0)
        return rc;
    if (!f)
        f = &none;
    if ((rc = bill__check_opt_id(f->provider_id, "provider_id")) < 0)
        return rc;
    if (bill__opt(f->status) && (rc = bill_order_status_check(f->status)) < 0)
        return rc;
    if (bill__opt(f->search) && !(pattern = bill__like_pattern(f->search)))
        return bill__err(BILL_ENOMEM, NULL, "out of memory");
    /* only the filters asked for (bill__where: a generic plan that uses the indexes) */
    const bill__filter filters[] = {
        {"o.customer_id = $?::uuid", cust},
        {"o.status = $?", bill__opt(f->status)},
        {"o.provider_interface_id = $?::uuid", bill__opt(f->provider_id)},
        {"(p.name ILIKE $? ESCAPE '\\' OR o.notes ILIKE $? ESCAPE '\\' OR o.id::text ILIKE $? "
         "ESCAPE '\\')",
         pattern},
    };
    bill__list_where w;
    if ((rc = bill__list_where_init(&w, ORD_COLS, ORD_FROM "WHERE true",
                                    "o.created_at DESC, o.id DESC", filters,
                                    (int)BILL__ARRAY_LEN(filters))) == BILL_OK)
        rc = BILL__LIST_PAGE_AS(db, actor, &ORD_ROW, &w.q, w.np, w.params, page, NULL, out);
    free(pattern);
    return rc;
}

/* ---- transitions ------------------------------------------------------- */

/* The pending payments of order `id` (locked by the caller) fail: the order
 * is no longer payable by them. A payment row locked by someone else is
 * being confirmed right now (payment -> order is the lock order, so waiting
 * for it here would deadlock): it is skipped, and that confirmation finds
 * the order no longer pending and credits the balance instead. */
static int fail_pending_payments(bill_conn *c, const char *id)
{
    return bill__qp(c, NULL,
                    "UPDATE payments SET status = 'failed', updated_at = bill_now() WHERE id IN "
                    "(SELECT id FROM payments WHERE order_id = $1 AND status = 'pending' "
                    "FOR UPDATE SKIP LOCKED)",
                    id);
}

int bill__order_move_tx(bill_conn *c, const bill_actor *actor, const char *id,
                        const char *target, const char *payment_id)
{
    PGresult *cur = NULL, *upd = NULL;
    char *payload = NULL;
    int rc;
    if ((rc = bill__qp_found(c, &cur, "id", "order", id,
                             "SELECT status, customer_id, total_amount::text FROM orders "
                             "WHERE id = $1 FOR UPDATE",
                             id)) < 0)
        goto done;
    if ((rc = bill__owns(actor, bill__val(cur, 0, 1), "order", id)) < 0)
        goto done;
    const char *from = bill__val(cur, 0, 0);
    if (!bill_order_transition_allowed(from, target)) {
        if (strcmp(target, "paid") == 0 && strcmp(from, "pending") != 0 &&
            strcmp(from, "cancelled") != 0)
            rc = bill__err(BILL_ESTATE, "status", "order %s is already paid (status %s)", id,
                           from);
        else
            rc = bill__err(BILL_ESTATE, "status", "order %s is %s; cannot move to %s", id, from,
                           target);
        goto done;
    }
    if ((rc = bill__qp(c, &upd,
                       "UPDATE orders SET status = $2, updated_at = bill_now(), "
                       "paid_at = CASE WHEN $2 = 'paid' THEN bill_now() ELSE paid_at END "
                       "WHERE id = $1 RETURNING jsonb_build_object('status', status)::text",
                       id, target)) < 0)
        goto done;
    char before[64];
    snprintf(before, sizeof before, "{\"status\": \"%s\"}", from);
    if ((rc = bill__oplog_write(c, actor, "order.status", "order", id, before,
                                bill__val(upd, 0, 0))) < 0)
        goto done;
    /* One payable payment per order: once the order leaves pending (paid
     * by some payment, cancelled, ...) its other pending payments fail. A
     * gateway that still delivers money for one of them is not refused:
     * bill_payment_confirm credits it to the balance. */
    if (strcmp(from, "pending") == 0 && (rc = fail_pending_payments(c, id)) < 0)
        goto done;
    if (strcmp(target, "paid") == 0) {
        payload = bill__sprintf("{\"order_id\": \"%s\", \"customer_id\": \"%s\", "
                                "\"payment_id\": \"%s\", \"amount\": \"%s\"}",
                                id, bill__val(cur, 0, 1), payment_id ? payment_id : "",
                                bill__val(cur, 0, 2));
        if (!payload) {
            rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
            goto done;
        }
        rc = bill__event_enqueue_conn(c, "order.paid", payload, 0, 0, NULL);
    }
done:
    free(payload);
    PQclear(cur);
    PQclear(upd);
    return rc;
}

/* One locked move in its own transaction. */
static int move(bill_db *db, const bill_actor *actor, const char *id, const char *target)
{
    bill_conn *c = NULL;
    int rc;
    if ((rc = bill__conn_begin_as(db, actor, &c)) < 0)
        goto done;
    if ((rc = bill__order_move_tx(c, actor, id, target, NULL)) < 0)
        goto done;
    rc = bill__tx_commit(c);
done:
    bill__conn_done(c);
    return rc;
}

int bill_order_set_status(bill_db *db, const bill_actor *actor, const char *id,
                          const char *target)
{
    int rc;
    if ((rc = bill__require_staff(actor, "change order status")) < 0 ||
        (rc = bill__check_id(id, "id", "order", false)) < 0 ||
        (rc = bill_order_status_check(target)) < 0)
        return rc;
    if (strcmp(target, "paid") == 0)
        return bill__err(BILL_ESTATE, "status",
                         "order %s: an order becomes paid only through a payment", id);
    return move(db, actor, id, target);
}

int bill_order_cancel(bill_db *db, const bill_actor *actor, const char *id)
{
    bill_conn *c = NULL;
    PGresult *res = NULL;
    int rc;
    if ((rc = bill__require_known(actor)) < 0 ||
        (rc = bill__check_id(id, "id", "order", false)) < 0)
        return rc;
    if (bill_actor_is_staff(actor))
        return move(db, actor, id, "cancelled");
    /* Customers: their own pending orders only, decided under the lock. */
    if ((rc = bill__conn_begin_as(db, actor, &c)) < 0)
        goto done;
    if ((rc = bill__qp_found(c, &res, "id", "order", id,
                             "SELECT status, customer_id FROM orders WHERE id = $1 FOR UPDATE",
                             id)) < 0)
        goto done;
    if ((rc = bill__owns(actor, bill__val(res, 0, 1), "order", id)) < 0)
        goto done;
    if (strcmp(bill__val(res, 0, 0), "pending") != 0) {
        rc = bill__err(BILL_ESTATE, "status",
                       "order %s is %s; customers may cancel pending orders only", id,
                       bill__val(res, 0, 0));
        goto done;
    }
    if ((rc = bill__order_move_tx(c, actor, id, "cancelled", NULL)) < 0)
        goto done;
    rc = bill__tx_commit(c);
done:
    PQclear(res);
    bill__conn_done(c);
    return rc;
}

/* ---- paying ------------------------------------------------------------ */

void bill_payment_info_clear(bill_payment_info *p)
{
    if (!p)
        return;
    BILL__FREE(p->payment_id, p->gateway_id, p->payment_url, p->qr_code, p->instructions);
    memset(p, 0, sizeof *p);
}

static int info_fill(bill_payment_info *out, const char *payment_id, const char *gateway_id,
                     const bill_gateway_payment_info *g)
{
    memset(out, 0, sizeof *out);
    out->payment_id = strdup(payment_id);
    out->gateway_id = strdup(gateway_id);
    out->payment_url = strdup(g && g->payment_url ? g->payment_url : "");
    out->qr_code = strdup(g && g->qr_code ? g->qr_code : "");
    out->instructions = strdup(g && g->instructions ? g->instructions : "");
    if (!out->payment_id || !out->gateway_id || !out->payment_url || !out->qr_code ||
        !out->instructions) {
        bill_payment_info_clear(out);
        return bill__err(BILL_ENOMEM, NULL, "out of memory");
    }
    return BILL_OK;
}

/* Lock the order and check it may be paid by this actor. */
static int lock_payable(bill_conn *c, const bill_actor *actor, const char *id, PGresult **res)
{
    int rc;
    if ((rc = bill__qp(c, res,
                       "SELECT o.status, o.customer_id, o.total_amount, o.currency, "
                       "coalesce(p.name, '') FROM orders o LEFT JOIN products p "
                       "ON p.id = o.product_id WHERE o.id = $1 FOR UPDATE OF o",
                       id)) < 0)
        return rc;
    if (PQntuples(*res) == 0)
        return bill__err(BILL_ENOTFOUND, "order_id", "order %s not found", id);
    if ((rc = bill__owns(actor, bill__val(*res, 0, 1), "order", id)) < 0)
        return rc;
    const char *st = bill__val(*res, 0, 0);
    if (strcmp(st, "pending") == 0)
        return BILL_OK;
    if (strcmp(st, "cancelled") == 0)
        return bill__err(BILL_ESTATE, "status", "order %s is cancelled; it cannot be paid", id);
    return bill__err(BILL_ESTATE, "status", "order %s is already paid (status %s)", id, st);
}

static int pay_balance(bill_conn *c, const bill_actor *actor, const char *id,
                       bill_payment_info *out)
{
    PGresult *o = NULL, *pay = NULL;
    bill_money amount = 0;
    char desc[80];
    int rc;
    if ((rc = bill__tx_begin(c)) < 0)
        goto done;
    if ((rc = lock_payable(c, actor, id, &o)) < 0 || (rc = bill__money_col(o, 0, 2, &amount)) < 0)
        goto done;
    snprintf(desc, sizeof desc, "payment of order %s", id);
    /* A free order (price 0.00) has nothing to take from the balance. */
    if (amount > 0 &&
        (rc = bill__balance_change_tx(c, actor, bill__val(o, 0, 1), BILL_BALANCE_PAYMENT, amount,
                                      id, desc, NULL)) < 0)
        goto done;
    if ((rc = bill__qp(c, &pay,
                       "INSERT INTO payments (customer_id, order_id, amount, currency, "
                       "gateway_id, status, paid_at) VALUES ($1, $2, $3::numeric, $4, "
                       "'balance', 'success', bill_now()) RETURNING id",
                       bill__val(o, 0, 1), id, bill__val(o, 0, 2), bill__val(o, 0, 3))) < 0)
        goto done;
    if ((rc = bill__qp(c, NULL,
                       "UPDATE orders SET gateway_id = 'balance', gateway_payment_id = $2 "
                       "WHERE id = $1",
                       id, bill__val(pay, 0, 0))) < 0)
        goto done;
    if ((rc = bill__order_move_tx(c, actor, id, "paid", bill__val(pay, 0, 0))) < 0)
        goto done;
    if ((rc = bill__tx_commit(c)) < 0)
        goto done;
    if (out)
        rc = info_fill(out, bill__val(pay, 0, 0), "balance", NULL);
done:
    PQclear(o);
    PQclear(pay);
    return rc;
}

static int pay_gateway(bill_conn *c, bill_plugins *plugins, const bill_actor *actor,
                       const char *id, const char *gateway_id, bill_payment_info *out)
{
    PGresult *o = NULL, *pay = NULL;
    bill_plugin_instance *inst = NULL;
    bill_gateway_payment_info gi = {0};
    bill_money amount = 0;
    char payment_id[BILL_UUID_BUFSZ] = "";
    int rc;

    if (!plugins)
        return bill__err(BILL_EUNSUPPORTED, "gateway_id",
                         "gateway %s: no plugin host is available to this call; pay from "
                         "balance (gateway \"balance\") instead", gateway_id);
    if ((rc = bill__check_id(gateway_id, "gateway_id", "gateway", true)) < 0)
        return rc;
    if ((rc = bill_plugin_host_get_gateway(plugins, gateway_id, &inst)) < 0) {
        bill__err_prefix("gateway_id %s", gateway_id);
        return rc;
    }
    /* 1. Record the attempt (pending) so the gateway gets our payment id. */
    if ((rc = bill__tx_begin(c)) < 0)
        goto done;
    if ((rc = lock_payable(c, actor, id, &o)) < 0 || (rc = bill__money_col(o, 0, 2, &amount)) < 0)
        goto done;
    /* The newest gateway attempt supersedes earlier pending ones (the
     * customer picked another gateway, or asked again): they fail, so the
     * order has one payable payment. Money still arriving on a superseded
     * one pays the order if it is still pending, else the balance. */
    if ((rc = fail_pending_payments(c, id)) < 0)
        goto done;
    if ((rc = bill__qp(c, &pay,
                       "INSERT INTO payments (customer_id, order_id, amount, currency, "
                       "gateway_id, status) VALUES ($1, $2, $3::numeric, $4, $5, 'pending') "
                       "RETURNING id",
                       bill__val(o, 0, 1), id, bill__val(o, 0, 2), bill__val(o, 0, 3),
                       gateway_id)) < 0)
        goto done;
    snprintf(payment_id, sizeof payment_id, "%s", bill__val(pay, 0, 0));
    if ((rc = bill__tx_commit(c)) < 0)
        goto done;
    /* 2. Ask the gateway (outside any transaction: it may be slow). */
    bill_gateway_payment_request req = {
        .version = BILL_GATEWAY_PAYMENT_REQUEST_VERSION,
        .payment_id = payment_id,
        .order_id = id,
        .amount_cents = amount,
        .currency = bill__val(o, 0, 3),
        .subject = bill__val(o, 0, 4),
    };
    if ((rc = bill_plugin_gateway_create_payment(inst, &req, &gi)) < 0) {
        int keep = rc;
        (void)bill__qp(c, NULL, "UPDATE payments SET status = 'failed', updated_at = bill_now() "
                                "WHERE id = $1", payment_id);
        rc = keep;
        goto done;
    }
    /* 3. Remember the gateway's id for its callbacks. */
    if ((rc = bill__qp(c, NULL,
                       "UPDATE payments SET gateway_payment_id = $2, updated_at = bill_now() "
                       "WHERE id = $1",
                       payment_id, gi.gateway_payment_id)) < 0)
        goto done;
    if ((rc = bill__qp(c, NULL,
                       "UPDATE orders SET gateway_id = $2, gateway_payment_id = $3, "
                       "updated_at = bill_now() WHERE id = $1 AND status = 'pending'",
                       id, gateway_id, gi.gateway_payment_id)) < 0)
        goto done;
    if (out)
        rc = info_fill(out, payment_id, gateway_id, &gi);
done:
    bill_gateway_payment_info_clear(&gi);
    bill_plugin_instance_release(inst);
    PQclear(o);
    PQclear(pay);
    return rc;
}

int bill_order_pay(bill_db *db, bill_plugins *plugins, const bill_actor *actor,
                   const char *order_id, const char *gateway_id, bill_payment_info *out)
{
    bill_conn *c = NULL;
    int rc;
    if (out)
        memset(out, 0, sizeof *out);
    if ((rc = bill__require_known(actor)) < 0 ||
        (rc = bill__check_id(order_id, "order_id", "order", false)) < 0)
        return rc;
    if ((rc = bill__conn_acquire_as(db, actor, &c)) < 0)
        return rc;
    if (!gateway_id || !*gateway_id || strcmp(gateway_id, "balance") == 0)
        rc = pay_balance(c, actor, order_id, out);
    else
        rc = pay_gateway(c, plugins, actor, order_id, gateway_id, out);
    bill__conn_done(c);
    return rc;
}

int bill_order_cancel_expired(bill_db *db, int64_t older_than_secs, int64_t now_usec,
                              int64_t *count)
{
    PGresult *res = NULL;
    char cutoff[24];
    int rc;
    if (count)
        *count = 0;
    if (older_than_secs <= 0)
        older_than_secs = BILL_ORDER_UNPAID_TTL_SECS;
    if (now_usec <= 0)
        now_usec = bill_db_now(db);
    bill__i64_text(now_usec - older_than_secs * BILL_USEC_PER_SEC, cutoff);
    /* Their pending payments fail with them (see bill__order_move_tx). */
    rc = bill__qp_db(db, &res,
                     "WITH o AS (UPDATE orders SET status = 'cancelled', updated_at = bill_now() "
                     "WHERE status = 'pending' AND created_at < "
                     "'epoch'::timestamptz + $1::int8 * interval '1 microsecond' RETURNING id), "
                     "p AS (UPDATE payments SET status = 'failed', updated_at = bill_now() WHERE id IN "
                     "(SELECT id FROM payments WHERE status = 'pending' AND order_id IN "
                     "(SELECT id FROM o) FOR UPDATE SKIP LOCKED)) "
                     "SELECT count(*) FROM o",
                     cutoff);
    if (rc == BILL_OK && count)
        *count = strtoll(bill__val(res, 0, 0), NULL, 10);
    PQclear(res);
    return rc;
}
