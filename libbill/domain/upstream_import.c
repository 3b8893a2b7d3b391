/*
 * upstream_import.c — import an upstream provider's catalog as products
 * (R-DOM-1 "Import from an upstream provider"; seed 000 §6.1).
 *
 * The provider plugin lists its products as a JSON array of
 *   {"id", "name", "description"?, "price", "specs"?: {..},
 *    "billing_cycles"?: {"monthly": "10.00", ...}}
 * (prices are the upstream's sale prices = our cost). Each becomes a product
 * bound to the provider interface, keyed by (provider_interface_id,
 * upstream_product_id): importing again updates name, description, specs,
 * costs and prices instead of duplicating, so the import is idempotent.
 * Our price for every cycle is cost × ratio, rounded half-to-even to cents
 * (bill_money_mul_ratio). Everything happens in one transaction; a malformed
 * upstream entry aborts the import with a message naming it and changes
 * nothing. Products that disappeared upstream are left alone (an operator
 * deactivates them; orders may refer to them).
 */
#include "domain/domain_int.h"
#include "domain/oplog_int.h"
#include "bill/plugin_host.h"
#include "bill/product.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

static const char *const cycles[] = {"monthly", "quarterly", "yearly"};

static const char *jget(json_object *o, const char *k)
{
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v) || json_object_is_type(v, json_type_null))
        return NULL;
    return json_object_get_string(v);
}

/* cost for each cycle (-1 = not offered) from billing_cycles, else "price" as monthly */
static int entry_costs(json_object *e, size_t idx, bill_money cost[3])
{
    json_object *bc;
    int n = 0;
    for (int i = 0; i < 3; i++)
        cost[i] = -1;
    if (json_object_object_get_ex(e, "billing_cycles", &bc) &&
        json_object_is_type(bc, json_type_object)) {
        json_object_object_foreach(bc, key, val)
        {
            int ci = -1;
            for (int i = 0; i < 3; i++)
                if (strcmp(key, cycles[i]) == 0)
                    ci = i;
            if (ci < 0) /* a cycle we do not sell: skip it, say nothing */
                continue;
            if (bill_money_parse(json_object_get_string(val), &cost[ci]) < 0 || cost[ci] < 0)
                return bill__err(BILL_EPLUGIN, "billing_cycles",
                                 "upstream product #%zu: %s price \"%s\" is not a valid amount",
                                 idx, key, json_object_get_string(val));
            n++;
        }
    }
    if (n == 0) {
        const char *p = jget(e, "price");
        if (!p || bill_money_parse(p, &cost[0]) < 0 || cost[0] < 0)
            return bill__err(BILL_EPLUGIN, "price",
                             "upstream product #%zu has no valid price or billing_cycles", idx);
    }
    return BILL_OK;
}

int bill_product_import_upstream(bill_db *db, const bill_actor *actor, bill_plugins *plugins,
                                 const char *interface_id, const char *group_id,
                                 const char *ratio, bool dry_run, int *created, int *updated)
{
    bill_plugin_instance *inst = NULL;
    bill_conn *c = NULL;
    char *doc_text = NULL;
    json_object *doc = NULL;
    PGresult *g = NULL;
    char *category_id = NULL;
    int rc, n_new = 0, n_upd = 0;
    bill_money probe;

    if (created)
        *created = 0;
    if (updated)
        *updated = 0;
    if ((rc = bill__require_staff(actor, "import upstream products")) < 0)
        return rc;
    if (!db || !plugins)
        return bill__err(BILL_EINVALID, NULL, "a database and a plugin registry are required");
    if ((rc = bill__check_id(interface_id, "interface_id", "plugin interface", true)) < 0)
        return rc;
    if (group_id && *group_id && (rc = bill__check_id(group_id, "group_id", "group", true)) < 0)
        return rc;
    if (!ratio || !*ratio)
        ratio = "1";
    if ((rc = bill_money_mul_ratio(100, ratio, &probe)) < 0 || probe < 0)
        return rc < 0 ? rc
                      : bill__err(BILL_EINVALID, "ratio", "markup ratio \"%s\" must not be negative",
                                  ratio);

    if ((rc = bill_plugin_host_get_provider(plugins, interface_id, &inst)) < 0)
        goto done;
    if ((rc = bill_plugin_provider_list_upstream_products(inst, &doc_text)) < 0) {
        bill__err_prefix("listing upstream products of interface %s", interface_id);
        goto done;
    }
    doc = json_tokener_parse(doc_text);
    if (!doc || !json_object_is_type(doc, json_type_array)) {
        rc = bill__err(BILL_EPLUGIN, NULL, "interface %s: upstream product list is not a JSON array",
                       interface_id);
        goto done;
    }

    if ((rc = bill__conn_begin(db, &c)) < 0)
        goto done;
    if (group_id && *group_id) {
        if ((rc = bill__qp(c, &g, "SELECT category_id FROM product_groups WHERE id = $1",
                           group_id)) < 0)
            goto done;
        if (PQntuples(g) != 1) {
            rc = bill__err(BILL_ENOTFOUND, "group_id", "product group %s not found", group_id);
            goto done;
        }
        if (!bill__isnull(g, 0, 0) && !(category_id = bill__col_dup(g, 0, 0))) {
            rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
            goto done;
        }
    }

    size_t n = json_object_array_length(doc);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(doc, i), *specs = NULL;
        PGresult *row = NULL;
        bill_money cost[3], price_m = -1, cost_m = -1;
        char costb[BILL_MONEY_BUFSZ], priceb[BILL_MONEY_BUFSZ];
        const char *uid = e ? jget(e, "id") : NULL, *name = e ? jget(e, "name") : NULL;
        const char *desc = e ? jget(e, "description") : NULL;

        if (!e || !json_object_is_type(e, json_type_object) || !uid || !*uid || !name || !*name) {
            rc = bill__err(BILL_EPLUGIN, "id",
                           "upstream product #%zu lacks an id or a name; nothing imported", i);
            goto done;
        }
        if ((rc = entry_costs(e, i, cost)) < 0)
            goto done;
        for (int k = 0; k < 3 && cost_m < 0; k++) /* the shortest cycle offered is "the" price */
            if (cost[k] >= 0) {
                cost_m = cost[k];
                if ((rc = bill_money_mul_ratio(cost[k], ratio, &price_m)) < 0)
                    goto done;
            }
        if (!json_object_object_get_ex(e, "specs", &specs) ||
            !json_object_is_type(specs, json_type_object))
            specs = NULL;
        rc = bill__qp(
            c, &row,
            "INSERT INTO products (group_id, category_id, name, description, specs, price,"
            " cost_price, provider_interface_id, upstream_product_id, active)"
            " VALUES ($1::uuid, $2::uuid, $3, $4, $5::jsonb, $6::numeric, $7::numeric, $8::uuid, $9,"
            " true)"
            " ON CONFLICT (provider_interface_id, upstream_product_id)"
            "   WHERE upstream_product_id IS NOT NULL"
            " DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description,"
            "   specs = EXCLUDED.specs, price = EXCLUDED.price, cost_price = EXCLUDED.cost_price,"
            "   group_id = COALESCE(EXCLUDED.group_id, products.group_id),"
            "   category_id = COALESCE(EXCLUDED.category_id, products.category_id),"
            "   updated_at = bill_now()"
            " RETURNING id, (xmax = 0)",
            group_id && *group_id ? group_id : NULL, category_id, name, desc ? desc : "",
            specs ? json_object_to_json_string_ext(specs, JSON_C_TO_STRING_PLAIN) : "{}",
            bill_money_format(price_m, priceb), bill_money_format(cost_m, costb), interface_id,
            uid);
        if (rc < 0) {
            bill__err_prefix("upstream product %s", uid);
            goto done;
        }
        const char *pid = bill__val(row, 0, 0);
        bool is_new = bill__bool(row, 0, 1);
        if ((rc = bill__qp(c, NULL, "DELETE FROM product_prices WHERE product_id = $1", pid)) < 0)
            goto row_done;
        for (int k = 0; k < 3; k++) {
            bill_money sale;
            if (cost[k] < 0)
                continue;
            if ((rc = bill_money_mul_ratio(cost[k], ratio, &sale)) < 0)
                goto row_done;
            if ((rc = bill__qp(c, NULL,
                               "INSERT INTO product_prices (product_id, cycle, price)"
                               " VALUES ($1, $2, $3::numeric)",
                               pid, cycles[k], bill_money_format(sale, priceb))) < 0)
                goto row_done;
        }
        rc = bill__oplog_write(c, actor, is_new ? "product.import" : "product.reimport", "product",
                               pid, NULL, NULL);
        if (is_new)
            n_new++;
        else
            n_upd++;
    row_done:
        PQclear(row);
        if (rc < 0)
            goto done;
    }
    if (dry_run)
        bill__tx_rollback(c);
    else if ((rc = bill__tx_commit_catalog(c)) < 0)
        goto done;
    if (created)
        *created = n_new;
    if (updated)
        *updated = n_upd;
    rc = BILL_OK;
done:
    if (c && rc < 0)
        bill__tx_rollback(c);
    bill__conn_done(c);
    PQclear(g);
    free(category_id);
    json_object_put(doc);
    free(doc_text);
    if (inst)
        bill_plugin_instance_release(inst);
    return rc;
}
