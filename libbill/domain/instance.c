/*
 * instance.c — instances: scoped reads, the detail page (stored sections
 * plus the provider's, HTML sanitized here (core/html.c) so no frontend can
 * forget it), actions with status rules delegated to the provider.
 * Contract in include/bill/instance.h.
 */
#include "auth/access_int.h"
#include "domain/domain_int.h"
#include "domain/oplog_int.h"
#include "domain/order_int.h"
#include "bill/instance.h"
#include "bill/html.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ======================================================================== */
/* Instances                                                                */
/* ======================================================================== */

#define INS_COLS                                                                          \
    "i.id, coalesce(i.order_id::text, ''), i.customer_id, coalesce(i.product_id::text, ''), " \
    "coalesce(p.name, ''), coalesce(i.provider_interface_id::text, ''), "               \
    "i.provider_instance_id, i.status, i.ip_address, i.server_spec::text, "             \
    "i.billing_cycle, coalesce(i.next_due_date::text, ''), " BILL__US("i.created_at") ", " \
    BILL__US("i.updated_at") ", coalesce(i.anchor_date::text, ''), "                     \
    "coalesce(i.current_period_start::text, ''), i.cancel_at_period_end"
#define INS_FROM " FROM instances i LEFT JOIN products p ON p.id = i.product_id "

static const char *const statuses[] = {"provisioning", "running",    "stopped",
                                       "suspended",    "terminated", "error"};

int bill_instance_status_check(const char *s)
{
    for (size_t i = 0; s && i < BILL__ARRAY_LEN(statuses); i++)
        if (strcmp(s, statuses[i]) == 0)
            return BILL_OK;
    return bill__err(BILL_EINVALID, "status",
                     "status \"%.40s\" is not one of provisioning, running, stopped, suspended, "
                     "terminated, error",
                     s ? s : "");
}

static void ins_clear(void *item)
{
    bill_instance *x = item;
    BILL__FREE(x->id, x->order_id, x->customer_id, x->product_id, x->product_name, x->provider_id,
               x->provider_instance_id, x->status, x->ip_address, x->server_spec_json,
               x->billing_cycle, x->next_due_date, x->anchor_date, x->current_period_start);
    memset(x, 0, sizeof *x);
}

static int ins_from_row(const PGresult *r, int row, const void *ctx, void *item)
{
    bill_instance *x = item;
    char **s[] = {&x->id,          &x->order_id,    &x->customer_id, &x->product_id,
                  &x->product_name, &x->provider_id, &x->provider_instance_id,
                  &x->status,      &x->ip_address,  &x->server_spec_json,
                  &x->billing_cycle, &x->next_due_date};
    for (int i = 0; i < (int)BILL__ARRAY_LEN(s); i++)
        if (!(*s[i] = bill__col_dup(r, row, i)))
            return bill__err(BILL_ENOMEM, NULL, "out of memory reading an instance");
    x->created_at = bill__i64(r, row, 12);
    x->updated_at = bill__i64(r, row, 13);
    if (!(x->anchor_date = bill__col_dup(r, row, 14)) ||
        !(x->current_period_start = bill__col_dup(r, row, 15)))
        return bill__err(BILL_ENOMEM, NULL, "out of memory reading an instance");
    x->cancel_at_period_end = bill__bool(r, row, 16);
    return BILL_OK;
}

static const bill__rowtype INS_ROW = {sizeof(bill_instance), ins_from_row, ins_clear, "instance"};

BILL__ROW_FUNCS(&INS_ROW, bill_instance, bill_instance_free, bill_instances, bill_instances_clear)

static void section_clear(bill_instance_section *s)
{
    BILL__FREE(s->title, s->content_html);
    for (size_t i = 0; i < s->field_count; i++) {
        free(s->fields[i].key);
        free(s->fields[i].value);
        free(s->fields[i].value_type);
    }
    free(s->fields);
    memset(s, 0, sizeof *s);
}

void bill_instance_detail_free(bill_instance_detail *d)
{
    if (!d)
        return;
    ins_clear(&d->instance);
    for (size_t i = 0; i < d->section_count; i++)
        section_clear(&d->sections[i]);
    free(d->sections);
    free(d);
}

/* What an action needs and what it leads to; NULL target = unknown. */
static const struct {
    const char *action, *label, *style, *confirmation, *from, *to;
} action_rules[] = {
    {"start", "Start", "primary", "", "stopped", "running"},
    {"stop", "Stop", "default", "Stop the server?", "running", "stopped"},
    {"reboot", "Reboot", "default", "Reboot the server?", "running", "running"},
    {"terminate", "Terminate", "danger",
     "Terminate the server? This cannot be undone and its data will be lost.", NULL,
     "terminated"},
};

/* A suspended instance (unpaid) is out of its customer's hands: every
 * action is refused until staff resume it; staff may still terminate it. */
static bool action_allowed(size_t r, const char *status, const bill_actor *actor)
{
    if (strcmp(status, "terminated") == 0)
        return false;
    if (strcmp(status, "suspended") == 0 && actor && actor->kind == BILL_ACTOR_CUSTOMER)
        return false;
    return !action_rules[r].from || strcmp(action_rules[r].from, status) == 0;
}

/* Append sections from a JSON array: stored rows use fields as an array of
 * {"key","value","value_type"}; providers may send an object {k: v}. */
static int add_section(bill_instance_detail *d, const char *title, json_object *fields,
                       const char *html, int sort_order)
{
    bill_instance_section *ns = realloc(d->sections, (d->section_count + 1) * sizeof *ns), *s;
    if (!ns)
        return bill__err(BILL_ENOMEM, NULL, "out of memory");
    d->sections = ns;
    s = &ns[d->section_count++];
    memset(s, 0, sizeof *s);
    s->sort_order = sort_order;
    s->title = strdup(title ? title : "");
    if (!s->title || bill_html_sanitize(html, &s->content_html) < 0)
        return bill__err(BILL_ENOMEM, NULL, "out of memory");
    size_t cap = 0;
    if (fields && json_object_is_type(fields, json_type_array))
        cap = json_object_array_length(fields);
    else if (fields && json_object_is_type(fields, json_type_object))
        cap = (size_t)json_object_object_length(fields);
    if (cap == 0)
        return BILL_OK;
    if (!(s->fields = calloc(cap, sizeof *s->fields)))
        return bill__err(BILL_ENOMEM, NULL, "out of memory");
    if (json_object_is_type(fields, json_type_array)) {
        for (size_t i = 0; i < cap; i++) {
            json_object *f = json_object_array_get_idx(fields, i), *k, *v, *t;
            if (!json_object_is_type(f, json_type_object))
                continue;
            bill_instance_field *x = &s->fields[s->field_count++];
            x->key = strdup(json_object_object_get_ex(f, "key", &k) ? json_object_get_string(k)
                                                                    : "");
            x->value = strdup(json_object_object_get_ex(f, "value", &v) && v
                                  ? json_object_get_string(v) : "");
            x->value_type = strdup(json_object_object_get_ex(f, "value_type", &t) && t
                                       ? json_object_get_string(t) : "text");
            if (!x->key || !x->value || !x->value_type)
                return bill__err(BILL_ENOMEM, NULL, "out of memory");
        }
    } else {
        json_object_object_foreach(fields, key, val) {
            bill_instance_field *x = &s->fields[s->field_count++];
            x->key = strdup(key);
            x->value = strdup(val ? json_object_get_string(val) : "");
            x->value_type = strdup("text");
            if (!x->key || !x->value || !x->value_type)
                return bill__err(BILL_ENOMEM, NULL, "out of memory");
        }
    }
    return BILL_OK;
}

static int provider_sections(bill_plugins *plugins, bill_instance_detail *d)
{
    bill_plugin_instance *inst = NULL;
    char *json = NULL;
    json_object *arr = NULL;
    int rc = BILL_OK;
    if (bill_plugin_host_get_provider(plugins, d->instance.provider_id, &inst) < 0 ||
        bill_plugin_provider_detail_sections(inst, d->instance.provider_instance_id, &json) < 0 ||
        !json || !(arr = json_tokener_parse(json)) || !json_object_is_type(arr, json_type_array)) {
        bill_error_clear(); /* a failing provider does not hide the stored sections */
        goto done;
    }
    for (size_t i = 0; i < json_object_array_length(arr) && rc == BILL_OK; i++) {
        json_object *s = json_object_array_get_idx(arr, i), *t = NULL, *f = NULL, *h = NULL,
                    *o = NULL;
        if (!json_object_is_type(s, json_type_object))
            continue;
        json_object_object_get_ex(s, "title", &t);
        json_object_object_get_ex(s, "fields", &f);
        json_object_object_get_ex(s, "content_html", &h);
        json_object_object_get_ex(s, "sort_order", &o);
        rc = add_section(d, t ? json_object_get_string(t) : "", f,
                         h ? json_object_get_string(h) : "", o ? json_object_get_int(o) : 0);
    }
done:
    json_object_put(arr);
    free(json);
    if (inst)
        bill_plugin_instance_release(inst);
    return rc;
}

int bill_instance_get(bill_db *db, bill_plugins *plugins, const bill_actor *actor,
                      const char *id, bill_instance_detail **out)
{
    bill_conn *c = NULL;
    PGresult *res = NULL, *sec = NULL;
    bill_instance_detail *d = NULL;
    int rc;

    if (!out)
        return bill__err(BILL_EINVALID, NULL, "out is required");
    *out = NULL;
    if ((rc = bill__require_known(actor)) < 0 ||
        (rc = bill__check_id(id, "id", "instance", false)) < 0)
        return rc;
    if ((rc = bill__conn_acquire_as(db, actor, &c)) < 0)
        return rc;
    if ((rc = bill__qp_found(c, &res, "id", "instance", id,
                             "SELECT " INS_COLS INS_FROM "WHERE i.id = $1", id)) < 0)
        goto done;
    if ((rc = bill__owns(actor, bill__val(res, 0, 2), "instance", id)) < 0)
        goto done;
    if (!(d = calloc(1, sizeof *d))) {
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
        goto done;
    }
    if ((rc = ins_from_row(res, 0, NULL, &d->instance)) < 0)
        goto done;
    if ((rc = bill__qp(c, &sec,
                       "SELECT title, fields::text, content_html, sort_order FROM "
                       "instance_detail_sections WHERE instance_id = $1 ORDER BY sort_order, "
                       "created_at, id",
                       id)) < 0)
        goto done;
    for (int i = 0; i < PQntuples(sec); i++) {
        json_object *f = json_tokener_parse(bill__val(sec, i, 1));
        rc = add_section(d, bill__val(sec, i, 0), f, bill__val(sec, i, 2),
                         (int)bill__i64(sec, i, 3));
        json_object_put(f);
        if (rc < 0)
            goto done;
    }
    if (plugins && *d->instance.provider_id && *d->instance.provider_instance_id &&
        (rc = provider_sections(plugins, d)) < 0)
        goto done;
    for (size_t r = 0; r < BILL__ARRAY_LEN(action_rules); r++) {
        bill_instance_action *a = &d->actions[d->action_count++];
        a->id = action_rules[r].action;
        a->label = action_rules[r].label;
        a->style = action_rules[r].style;
        a->confirmation = action_rules[r].confirmation;
        a->enabled = action_allowed(r, d->instance.status, actor);
    }
    *out = d;
    d = NULL;
done:
    bill_instance_detail_free(d);
    PQclear(res);
    PQclear(sec);
    bill__conn_done(c);
    return rc;
}

int bill_instance_list(bill_db *db, const bill_actor *actor, const bill_instance_filter *f,
                       const bill_page *page, bill_instances *out)
{
    bill_instance_filter none = {0};
    const char *cust;
    int rc;

    if ((rc = BILL__LIST_START(out, actor, f,
                               BILL_INSTANCE_FILTER_VERSION, "bill_instance_filter", &cust)) < 0)
        return rc;
    if (!f)
        f = &none;
    if ((rc = bill__check_opt_id(f->provider_id, "provider_id")) < 0)
        return rc;
    if (bill__opt(f->status) && (rc = bill_instance_status_check(f->status)) < 0)
        return rc;
    /* only the filters asked for (bill__where: a generic plan that uses the indexes) */
    const bill__filter filters[] = {
        {"i.customer_id = $?::uuid", cust},
        {"i.status = $?", bill__opt(f->status)},
        {"i.provider_interface_id = $?::uuid", bill__opt(f->provider_id)},
    };
    bill__list_where w;
    if ((rc = bill__list_where_init(&w, INS_COLS, INS_FROM "WHERE true",
                                    "i.created_at DESC, i.id DESC", filters,
                                    (int)BILL__ARRAY_LEN(filters))) < 0)
        return rc;
    return BILL__LIST_PAGE_AS(db, actor, &INS_ROW, &w.q, w.np, w.params, page, NULL, out);
}

/* After a refused action: record the attempt (outside the rolled-back
 * transaction) and hand the caller the original error. */
static int log_refused(bill_conn *c, const bill_actor *actor, const char *what, const char *id,
                       int rc)
{
    const bill_error *e = bill_error_last();
    char *msg = bill__strdup(e->code == rc && e->message[0] ? e->message : bill_strerror(rc));
    char *field = bill__strdup(e->code == rc ? e->field : "");
    json_object *o = json_object_new_object();
    if (o && msg) {
        json_object_object_add(o, "refused", json_object_new_string(msg));
        json_object_object_add(o, "error", json_object_new_string(bill_error_name(rc)));
        if (bill__oplog_write_all(c, actor, what, "instance", id, NULL,
                                  json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) < 0)
            BILL_LOG_WARN("libbill::instance", "could not log the refused %s of instance %s",
                          what, id);
    }
    json_object_put(o);
    bill__err(rc, field && *field ? field : NULL, "%s", msg ? msg : bill_strerror(rc));
    free(msg);
    free(field);
    return rc;
}

/* The order of a terminated instance becomes terminated when its status
 * allows (active, suspended); an order already final stays as it is. */
static int terminate_order(bill_conn *c, const bill_actor *actor, const char *instance_id)
{
    PGresult *o = NULL;
    int rc;
    if ((rc = bill__qp(c, &o,
                       "SELECT o.id, o.status FROM instances i JOIN orders o ON o.id = i.order_id "
                       "WHERE i.id = $1 FOR UPDATE OF o",
                       instance_id)) < 0)
        goto done;
    if (PQntuples(o) == 1 && bill_order_transition_allowed(bill__val(o, 0, 1), "terminated"))
        rc = bill__order_move_tx(c, actor, bill__val(o, 0, 0), "terminated", NULL);
done:
    PQclear(o);
    return rc;
}

int bill_instance_action_run(bill_db *db, bill_plugins *plugins, const bill_actor *actor,
                             const char *id, const char *action)
{
    bill_conn *c = NULL;
    PGresult *res = NULL;
    bill_plugin_instance *inst = NULL;
    size_t r = BILL__ARRAY_LEN(action_rules);
    bool in_tx = false;
    char what[32] = "";
    int rc;

    if ((rc = bill__require_known(actor)) < 0 ||
        (rc = bill__check_id(id, "id", "instance", false)) < 0)
        return rc;
    for (size_t k = 0; action && k < BILL__ARRAY_LEN(action_rules); k++)
        if (strcmp(action, action_rules[k].action) == 0)
            r = k;
    if (r == BILL__ARRAY_LEN(action_rules))
        return bill__err(BILL_EINVALID, "action",
                         "action \"%.40s\" is not one of start, stop, reboot, terminate",
                         action ? action : "");
    snprintf(what, sizeof what, "instance.%s", action);
    if ((rc = bill__conn_begin_as(db, actor, &c)) < 0)
        goto done;
    in_tx = true;
    /* The lock serializes actions on one instance (start vs terminate). */
    if ((rc = bill__qp_found(c, &res, "id", "instance", id,
                             "SELECT status, customer_id, coalesce(provider_interface_id::text, ''), "
                             "provider_instance_id FROM instances WHERE id = $1 FOR UPDATE",
                             id)) < 0)
        goto done;
    if ((rc = bill__owns(actor, bill__val(res, 0, 1), "instance", id)) < 0)
        goto done;
    const char *st = bill__val(res, 0, 0), *provider = bill__val(res, 0, 2);
    if (!action_allowed(r, st, actor)) {
        if (strcmp(st, "terminated") == 0)
            rc = bill__err(BILL_ESTATE, "status",
                           "instance %s is terminated; %s is no longer possible", id, action);
        else if (strcmp(st, "suspended") == 0 && actor && actor->kind == BILL_ACTOR_CUSTOMER)
            rc = bill__err(BILL_ESTATE, "status",
                           "instance %s is suspended (unpaid); it cannot be started, stopped, "
                           "restarted or terminated until it is resumed: pay the open invoice "
                           "or contact support", id);
        else
            rc = bill__err(BILL_ESTATE, "status", "instance %s is %s; cannot %s it", id, st,
                           action);
        goto done;
    }
    if (*provider) {
        if (!plugins) {
            rc = bill__err(BILL_EUNAVAILABLE, "provider_id",
                           "instance %s: its provider %s is not reachable from this call", id,
                           provider);
            goto done;
        }
        if ((rc = bill_plugin_host_get_provider(plugins, provider, &inst)) < 0 ||
            (rc = bill_plugin_provider_action(inst, bill__val(res, 0, 3), action)) < 0)
            goto done;
    }
    if ((rc = bill__qp(c, NULL,
                       "UPDATE instances SET status = $2, updated_at = bill_now(), terminated_at = "
                       "CASE WHEN $2 = 'terminated' THEN bill_now() ELSE terminated_at END "
                       "WHERE id = $1",
                       id, action_rules[r].to)) < 0)
        goto done;
    /* Terminate is final for the order too (payment -> order is never
     * locked here: instance -> order is the only order taken). */
    if (strcmp(action_rules[r].to, "terminated") == 0 && (rc = terminate_order(c, actor, id)) < 0)
        goto done;
    char after[64];
    snprintf(after, sizeof after, "{\"status\":\"%s\"}", action_rules[r].to);
    char before[64];
    snprintf(before, sizeof before, "{\"status\":\"%.40s\"}", st);
    if ((rc = bill__oplog_write_all(c, actor, what, "instance", id, before, after)) < 0)
        goto done;
    rc = bill__tx_commit(c);
    in_tx = false;
done:
    if (rc < 0 && in_tx)
        bill__tx_rollback(c);
    /* Every call on an instance leaves a trace, refused ones included (who
     * tried to stop or terminate what); not when the database itself is
     * what failed. */
    if (rc < 0 && c && rc != BILL_EDB)
        rc = log_refused(c, actor, what, id, rc);
    if (inst)
        bill_plugin_instance_release(inst);
    PQclear(res);
    bill__conn_done(c);
    return rc;
}
