/*
 * products.c — tab 5: the catalog (bill_product_list with every product,
 * active or not, searched in the database by name or description), the
 * detail panel with every cycle price, cost, specs and provider, and `d` to
 * delete a product (libbill refuses one that orders refer to).
 */
#include "tui.h"

#include <json-c/json.h>
#include <stdio.h>

static const tui_col cols[] = {
    {"NAME", 10, 40, 0, false, true},
    {"ACTIVE", 6, 6, 0, false, false},
    {"MONTHLY", 7, 12, 0, true, false},
    {"QUARTERLY", 9, 12, 2, true, false},
    {"YEARLY", 7, 12, 2, true, false},
    {"COST", 6, 12, 3, true, false},
    {"REGION", 6, 12, 4, false, false},
    {"ID", 8, 8, 5, false, false},
};

/* A spec value as text ("hk", "2", "true"), "" when absent. */
static void spec_value(const char *specs_json, const char *key, char *out, size_t size)
{
    out[0] = '\0';
    json_object *o = json_tokener_parse(specs_json ? specs_json : "{}"), *v = NULL;
    if (o && json_object_object_get_ex(o, key, &v) && v)
        snprintf(out, size, "%s", json_object_get_string(v));
    json_object_put(o);
}

static const char *price(const bill_product *p, int cycle, char buf[BILL_MONEY_BUFSZ])
{
    if (!p->has_price[cycle])
        return "-";
    return ui_money(p->prices[cycle], buf);
}

static int fetch(tui_app *app, uint32_t page, const char *search, tui_rows *rows,
                 bill_page_meta *meta, char *summary, size_t summary_size)
{
    (void)summary;
    (void)summary_size;
    bill_product_filter f = {.version = BILL_PRODUCT_FILTER_VERSION, .active = BILL_FILTER_ANY,
                           .search = search};
    bill_page pg = {page, TUI_PAGE_SIZE};
    bill_products l;
    int rc = bill_product_list(app->db, &app->actor, &f, &pg, &l);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < l.count && rc == BILL_OK; i++) {
        const bill_product *p = &l.items[i];
        char m[BILL_MONEY_BUFSZ], q[BILL_MONEY_BUFSZ], y[BILL_MONEY_BUFSZ], c[BILL_MONEY_BUFSZ];
        char region[64], sid[16];
        spec_value(p->specs_json, "region", region, sizeof region);
        if (tui_rows_add(rows, p->id, p->name, p->active ? "yes" : "no",
                         price(p, BILL_CYCLE_MONTHLY, m), price(p, BILL_CYCLE_QUARTERLY, q),
                         price(p, BILL_CYCLE_YEARLY, y), ui_money(p->cost_price, c), region,
                         ui_short_id(p->id, sid)) < 0)
            rc = BILL_ENOMEM;
    }
    *meta = l.meta;
    bill_products_clear(&l);
    return rc;
}

static int detail(tui_app *app, const char *id, tui_text *t, char *title, size_t title_size)
{
    bill_product *p = NULL;
    char a[BILL_MONEY_BUFSZ], tm[32];
    int rc = bill_product_get(app->db, &app->actor, id, &p);
    if (rc < 0)
        return rc;
    snprintf(title, title_size, "Product %s", p->name);
    tui_text_add(t, ST_TITLE, "%s", p->name);
    tui_text_kv(t, "id", "%s", p->id);
    tui_text_kv(t, "active", "%s", p->active ? "yes (offered to customers)" : "no (hidden)");
    if (p->description[0])
        tui_text_kv(t, "description", "%s", p->description);
    tui_text_kv(t, "group", "%s", p->group_id[0] ? p->group_id : "-");
    tui_text_kv(t, "category", "%s", p->category_id[0] ? p->category_id : "-");
    tui_text_kv(t, "provider", "%s", p->provider_interface_id[0] ? p->provider_interface_id : "-");
    if (p->upstream_product_id[0])
        tui_text_kv(t, "upstream product", "%s", p->upstream_product_id);
    tui_text_kv(t, "created", "%s", ui_time(p->created_at, tm));
    tui_text_add(t, ST_NORMAL, "%s", "");
    tui_text_add(t, ST_TITLE, "%s", "Prices");
    for (int c = BILL_CYCLE_MONTHLY; c < BILL_PRODUCT_CYCLES; c++)
        tui_text_kv(t, bill_cycle_name((bill_cycle)c), "%s", price(p, c, a));
    tui_text_kv(t, "cost (monthly)", "%s", ui_money(p->cost_price, a));
    tui_text_add(t, ST_NORMAL, "%s", "");
    tui_text_add(t, ST_TITLE, "%s", "Specs");
    json_object *o = json_tokener_parse(p->specs_json ? p->specs_json : "{}");
    size_t nspec = 0;
    if (o && json_object_is_type(o, json_type_object)) {
        json_object_object_foreach(o, k, v) {
            tui_text_kv(t, k, "%s", v ? json_object_get_string(v) : "null");
            nspec++;
        }
    }
    if (!nspec)
        tui_text_add(t, ST_DIM, "%s", "  none");
    json_object_put(o);
    bill_product_free(p);
    return BILL_OK;
}

const tui_tab_ops tab_products = {
    .name = "Products",
    .cols = cols,
    .ncols = (int)(sizeof cols / sizeof cols[0]),
    .server_search = true,
    .keys_hint = "d delete",
    .fetch = fetch,
    .detail = detail,
    .remove = bill_product_delete,
    .remove_what = "product",
    .remove_note = "A product that orders or instances refer to is kept (deactivate it "
                   "instead).",
};
