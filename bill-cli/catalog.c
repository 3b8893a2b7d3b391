/*
 * catalog.c — `bill-cli category|group|product …`: the product catalog.
 *
 * libbill's update calls for categories and groups replace every field, and
 * a product's price update replaces the whole set of cycles. On the command
 * line it is friendlier to change only what is named, so update commands read
 * the current row first and fill the fields that were not given from it.
 *
 * `--spec key=value` builds the specs JSON object: a value that reads as a
 * JSON number or true/false is stored as such, anything else as a string
 * (`--spec cpu_cores=2 --spec region=hk` -> {"cpu_cores":2,"region":"hk"}).
 * Whether the specs are acceptable is libbill's decision.
 */
#include "cli.h"
#include "bill/plugin_host.h"

#include <bill/money.h>
#include <bill/product.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SPECS 64

/* ==== categories and groups ============================================= */

/* Categories and groups are one kind of command: a named, sorted catalog
 * node with a description (a group also names its category). A node_cmd
 * holds what differs; node_create / node_update / node_delete do the rest.
 * libbill's updates replace every field, so an update reads the node first
 * and keeps what was not given. */
typedef struct node_fields {
    const char *id, *name, *description, *category_id; /* category_id: groups only */
    int64_t sort;
} node_fields;

typedef struct node_cmd {
    const char *what;        /* "category" (messages) */
    bool has_category;       /* --category names the group's category */
    int64_t sort_min, sort_max;
    const cli_list_view *view;
    /* libbill's get (into *obj) and create (f->id NULL) or update */
    int (*get)(cli_ctx *ctx, const char *id, void **obj);
    int (*write)(cli_ctx *ctx, const node_fields *f, void **obj);
    int (*del)(bill_db *db, const bill_actor *actor, const char *id);
    void (*fields)(const void *obj, node_fields *out);
    void (*free)(void *obj);
} node_cmd;

/* Parse --sort N within the kind's range. */
static int opt_sort(cli_ctx *ctx, const cli_args *a, const node_cmd *k, int64_t *out, bool *given)
{
    const char *v = cli_opt(a, "sort");
    *given = v != NULL;
    if (!v)
        return CLI_CONTINUE;
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!v[0] || *end || errno || n < k->sort_min || n > k->sort_max)
        return cli_usage_error(ctx, "--sort expects a whole number, got \"%s\"", v);
    *out = n;
    return CLI_CONTINUE;
}

static int node_print(cli_ctx *ctx, const node_cmd *k, const void *obj, const char *verb)
{
    node_fields f;
    k->fields(obj, &f);
    if (ctx->json)
        cli_json_print(k->view->to_json(obj));
    else if (!ctx->quiet)
        printf("%s %s %s (%s)\n", verb, k->what, f.id, f.name);
    return CLI_EXIT_OK;
}

/* create (update false) or update ID: the options given, the rest as they are */
static int node_write(cli_ctx *ctx, const cli_args *a, const node_cmd *k, bool update)
{
    node_fields f = {0};
    bool has_sort;
    void *cur = NULL, *obj = NULL;
    int rc;
    if ((rc = opt_sort(ctx, a, k, &f.sort, &has_sort)) != CLI_CONTINUE)
        return rc;
    if (update && !has_sort && !cli_flag(a, "name") && !cli_flag(a, "description") &&
        !(k->has_category && cli_flag(a, "category")))
        return cli_usage_error(ctx, "nothing to update: give --name,%s --description or --sort",
                               k->has_category ? " --category," : "");
    if ((rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    if (update) {
        node_fields now;
        int64_t sort = f.sort;
        if ((rc = k->get(ctx, a->pos[0], &cur)) < 0) {
            rc = cli_fail(ctx, rc);
            goto done;
        }
        k->fields(cur, &now);
        f = now;
        if (has_sort)
            f.sort = sort;
    }
    if (!update || cli_flag(a, "name"))
        f.name = cli_opt(a, "name");
    if (!update || cli_flag(a, "description"))
        f.description = cli_opt(a, "description");
    if (k->has_category && (!update || cli_flag(a, "category")))
        f.category_id = cli_opt(a, "category");
    if ((rc = k->write(ctx, &f, &obj)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    rc = node_print(ctx, k, obj, update ? "updated" : "created");
done:
    k->free(cur);
    k->free(obj);
    return rc;
}

static int node_delete(cli_ctx *ctx, const cli_args *a, const node_cmd *k)
{
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    if ((rc = k->del(ctx->db, &ctx->actor, a->pos[0])) < 0)
        return cli_fail(ctx, rc);
    return cli_done(ctx, "deleted %s %s", k->what, a->pos[0]);
}

/* ---- categories ---------------------------------------------------------- */

static json_object *category_json(const void *item)
{
    const bill_product_category *c = item;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", cli_json_str(c->id));
    json_object_object_add(o, "name", cli_json_str(c->name));
    json_object_object_add(o, "description", cli_json_str(c->description));
    json_object_object_add(o, "sort_order", json_object_new_int(c->sort_order));
    json_object_object_add(o, "group_count", json_object_new_int64(c->group_count));
    json_object_object_add(o, "created_at", cli_json_time(c->created_at));
    return o;
}

static void category_row(const void *item, const char *cell[CLI_MAX_COLS], cli_cells buf)
{
    const bill_product_category *c = item;
    cell[0] = c->id;
    cell[1] = c->name;
    snprintf(buf[2], CLI_CELL_SIZE, "%d", (int)c->sort_order);
    cell[2] = buf[2];
    cell[3] = cli_cell_u64(c->group_count, buf[3]);
    cell[4] = c->description;
}

static const cli_column category_cols[] = {
    {"ID", false}, {"NAME", false}, {"SORT", true}, {"GROUPS", true}, {"DESCRIPTION", false}, {0},
};

static const cli_list_view category_view = {"categories", "category", "categories", category_cols,
                                            sizeof(bill_product_category), category_json,
                                            category_row};

static int category_list(cli_ctx *ctx, const cli_args *a)
{
    bill_page page;
    bill_product_categories l = {0};
    int rc;
    if ((rc = cli_page_opts(ctx, a, &page)) != CLI_CONTINUE ||
        (rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    if ((rc = bill_product_category_list(ctx->db, &ctx->actor, &page, &l)) < 0)
        return cli_fail(ctx, rc);
    rc = CLI_LIST_PRINT(ctx, &category_view, &l, NULL, NULL);
    bill_product_categories_clear(&l);
    return rc;
}

static int category_get(cli_ctx *ctx, const char *id, void **obj)
{
    bill_product_category *c = NULL;
    int rc = bill_product_category_get(ctx->db, &ctx->actor, id, &c);
    *obj = c;
    return rc;
}

static int category_write(cli_ctx *ctx, const node_fields *f, void **obj)
{
    bill_product_category *c = NULL;
    int rc = f->id ? bill_product_category_update(ctx->db, &ctx->actor, f->id, f->name,
                                                  f->description, (int32_t)f->sort, &c)
                   : bill_product_category_create(ctx->db, &ctx->actor, f->name, f->description,
                                                  (int32_t)f->sort, &c);
    *obj = c;
    return rc;
}

static void category_fields(const void *obj, node_fields *f)
{
    const bill_product_category *c = obj;
    *f = (node_fields){c->id, c->name, c->description, NULL, c->sort_order};
}

static void category_free(void *obj)
{
    bill_product_category_free(obj);
}

static const node_cmd category_kind = {"category", false, INT32_MIN, INT32_MAX, &category_view,
                                       category_get, category_write,
                                       bill_product_category_delete, category_fields,
                                       category_free};

/* ---- groups ---------------------------------------------------------------- */

static json_object *group_json(const void *item)
{
    const bill_product_group *g = item;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", cli_json_str(g->id));
    json_object_object_add(o, "category_id", cli_json_opt(g->category_id));
    json_object_object_add(o, "name", cli_json_str(g->name));
    json_object_object_add(o, "description", cli_json_str(g->description));
    json_object_object_add(o, "sort_order", json_object_new_int64(g->sort_order));
    json_object_object_add(o, "product_count", json_object_new_int64(g->product_count));
    json_object_object_add(o, "created_at", cli_json_time(g->created_at));
    return o;
}

static void group_row(const void *item, const char *cell[CLI_MAX_COLS], cli_cells buf)
{
    const bill_product_group *g = item;
    cell[0] = g->id;
    cell[1] = g->name;
    cell[2] = g->category_id[0] ? g->category_id : "-";
    cell[3] = cli_cell_u64(g->sort_order, buf[3]);
    cell[4] = cli_cell_u64(g->product_count, buf[4]);
    cell[5] = g->description;
}

static const cli_column group_cols[] = {
    {"ID", false}, {"NAME", false}, {"CATEGORY", false}, {"SORT", true}, {"PRODUCTS", true}, {"DESCRIPTION", false}, {0},
};

static const cli_list_view group_view = {"groups", "group", "groups", group_cols,
                                         sizeof(bill_product_group), group_json, group_row};

static int group_list(cli_ctx *ctx, const cli_args *a)
{
    bill_page page;
    bill_product_groups l = {0};
    int rc;
    if ((rc = cli_page_opts(ctx, a, &page)) != CLI_CONTINUE ||
        (rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    if ((rc = bill_product_group_list(ctx->db, &ctx->actor, cli_opt(a, "category"), &page, &l)) < 0)
        return cli_fail(ctx, rc);
    rc = CLI_LIST_PRINT(ctx, &group_view, &l, NULL, NULL);
    bill_product_groups_clear(&l);
    return rc;
}

static int group_get(cli_ctx *ctx, const char *id, void **obj)
{
    bill_product_group *g = NULL;
    int rc = bill_product_group_get(ctx->db, &ctx->actor, id, &g);
    *obj = g;
    return rc;
}

static int group_write(cli_ctx *ctx, const node_fields *f, void **obj)
{
    bill_product_group *g = NULL;
    int rc = f->id ? bill_product_group_update(ctx->db, &ctx->actor, f->id, f->category_id, f->name,
                                               f->description, (uint32_t)f->sort, &g)
                   : bill_product_group_create(ctx->db, &ctx->actor, f->category_id, f->name,
                                               f->description, (uint32_t)f->sort, &g);
    *obj = g;
    return rc;
}

static void group_fields(const void *obj, node_fields *f)
{
    const bill_product_group *g = obj;
    *f = (node_fields){g->id, g->name, g->description, g->category_id, g->sort_order};
}

static void group_free(void *obj)
{
    bill_product_group_free(obj);
}

/* group sort orders are unsigned in libbill */
static const node_cmd group_kind = {"group", true, 0, UINT32_MAX, &group_view, group_get,
                                    group_write, bill_product_group_delete, group_fields,
                                    group_free};

/* the run functions of both kinds' subcommands */
#define NODE_RUNS(kind)                                                            \
    static int kind##_create(cli_ctx *ctx, const cli_args *a)                      \
    {                                                                              \
        return node_write(ctx, a, &kind##_kind, false);                            \
    }                                                                              \
    static int kind##_update(cli_ctx *ctx, const cli_args *a)                      \
    {                                                                              \
        return node_write(ctx, a, &kind##_kind, true);                             \
    }                                                                              \
    static int kind##_delete(cli_ctx *ctx, const cli_args *a)                      \
    {                                                                              \
        return node_delete(ctx, a, &kind##_kind);                                  \
    }
NODE_RUNS(category)
NODE_RUNS(group)

/* ==== products =========================================================== */

static const struct {
    bill_cycle cycle;
    const char *opt;
} price_opts[] = {
    {BILL_CYCLE_MONTHLY, "price-monthly"},
    {BILL_CYCLE_QUARTERLY, "price-quarterly"},
    {BILL_CYCLE_YEARLY, "price-yearly"},
};

static json_object *product_json(const void *item)
{
    const bill_product *p = item;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", cli_json_str(p->id));
    json_object_object_add(o, "name", cli_json_str(p->name));
    json_object_object_add(o, "description", cli_json_str(p->description));
    json_object_object_add(o, "group_id", cli_json_opt(p->group_id));
    json_object_object_add(o, "category_id", cli_json_opt(p->category_id));
    json_object *specs = cli_json_parse(p->specs_json);
    json_object_object_add(o, "specs", specs ? specs : json_object_new_object());
    json_object_object_add(o, "provider_interface_id", cli_json_opt(p->provider_interface_id));
    json_object_object_add(o, "upstream_product_id", cli_json_opt(p->upstream_product_id));
    json_object_object_add(o, "price", cli_json_money(p->price));
    json_object_object_add(o, "cost_price", cli_json_money(p->cost_price));
    json_object *prices = json_object_new_object();
    for (size_t i = 0; i < sizeof price_opts / sizeof price_opts[0]; i++) {
        bill_cycle c = price_opts[i].cycle;
        if (p->has_price[c])
            json_object_object_add(prices, bill_cycle_name(c), cli_json_money(p->prices[c]));
    }
    json_object_object_add(o, "prices", prices);
    json_object_object_add(o, "active", json_object_new_boolean(p->active));
    json_object_object_add(o, "created_at", cli_json_time(p->created_at));
    json_object_object_add(o, "updated_at", cli_json_time(p->updated_at));
    return o;
}

static const char *price_cell(const bill_product *p, bill_cycle c, char *buf)
{
    return p->has_price[c] ? bill_money_format(p->prices[c], buf) : "-";
}

static void product_row(const void *item, const char *cell[CLI_MAX_COLS], cli_cells buf)
{
    const bill_product *p = item;
    cell[0] = p->id;
    cell[1] = p->name;
    cell[2] = p->group_id[0] ? p->group_id : "-";
    cell[3] = price_cell(p, BILL_CYCLE_MONTHLY, buf[3]);
    cell[4] = price_cell(p, BILL_CYCLE_QUARTERLY, buf[4]);
    cell[5] = price_cell(p, BILL_CYCLE_YEARLY, buf[5]);
    cell[6] = cli_cell_money(p->cost_price, buf[6]);
    cell[7] = p->active ? "yes" : "no";
}

static const cli_column product_cols[] = {
    {"ID", false}, {"NAME", false}, {"GROUP", false}, {"MONTHLY", true}, {"QUARTERLY", true}, {"YEARLY", true},
    {"COST", true}, {"ACTIVE", false}, {0},
};

static const cli_list_view product_view = {"products", "product", "products", product_cols,
                                           sizeof(bill_product), product_json, product_row};

static int product_list(cli_ctx *ctx, const cli_args *a)
{
    bill_page page;
    bill_products l = {0};
    int rc;
    if ((rc = cli_page_opts(ctx, a, &page)) != CLI_CONTINUE ||
        (rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    bill_product_filter f = {
        .version = BILL_PRODUCT_FILTER_VERSION,
        .active = cli_flag(a, "all") ? BILL_FILTER_ANY : BILL_FILTER_YES,
        .group_id = cli_opt(a, "group"),
        .category_id = cli_opt(a, "category"),
        .provider_id = cli_opt(a, "provider"),
        .region = cli_opt(a, "region"),
        .search = cli_opt(a, "search"),
    };
    if ((rc = bill_product_list(ctx->db, &ctx->actor, &f, &page, &l)) < 0)
        return cli_fail(ctx, rc);
    rc = CLI_LIST_PRINT(ctx, &product_view, &l, NULL, NULL);
    bill_products_clear(&l);
    return rc;
}

static int product_show(cli_ctx *ctx, const cli_args *a)
{
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    bill_product *p = NULL;
    if ((rc = bill_product_get(ctx->db, &ctx->actor, a->pos[0], &p)) < 0)
        return cli_fail(ctx, rc);
    if (ctx->json) {
        cli_json_print(product_json(p));
    } else {
        char pr[BILL_MONEY_BUFSZ], co[BILL_MONEY_BUFSZ], t1[48], t2[48];
        cli_table *t = cli_table_new(2, NULL);
        if (t) {
            cli_table_row(t, "id:", p->id);
            cli_table_row(t, "name:", p->name);
            cli_table_row(t, "description:", p->description);
            cli_table_row(t, "group:", p->group_id[0] ? p->group_id : "-");
            cli_table_row(t, "category:", p->category_id[0] ? p->category_id : "-");
            cli_table_row(t, "active:", p->active ? "yes" : "no");
            cli_table_row(t, "price:", bill_money_format(p->price, pr));
            for (size_t i = 0; i < sizeof price_opts / sizeof price_opts[0]; i++) {
                bill_cycle c = price_opts[i].cycle;
                char label[32], b[BILL_MONEY_BUFSZ];
                snprintf(label, sizeof label, "  %s:", bill_cycle_name(c));
                cli_table_row(t, label, price_cell(p, c, b));
            }
            cli_table_row(t, "cost price:", bill_money_format(p->cost_price, co));
            cli_table_row(t, "specs:", p->specs_json);
            cli_table_row(t, "provider:", p->provider_interface_id[0] ? p->provider_interface_id : "-");
            cli_table_row(t, "upstream id:", p->upstream_product_id[0] ? p->upstream_product_id : "-");
            cli_table_row(t, "created:", cli_time(p->created_at, t1));
            cli_table_row(t, "updated:", cli_time(p->updated_at, t2));
            cli_table_print(t, stdout);
            cli_table_free(t);
        }
    }
    bill_product_free(p);
    return CLI_EXIT_OK;
}

/* Build the specs JSON text from --spec k=v options (typed by libbill's
 * bill_specs_from_text). *out is malloc'd (NULL when no --spec was given).
 * Returns CLI_CONTINUE or an exit code. */
static int build_specs(cli_ctx *ctx, const cli_args *a, char **out)
{
    const char *vals[MAX_SPECS], *keys[MAX_SPECS];
    char keybuf[MAX_SPECS][128];
    int n = cli_opt_all(a, "spec", vals, MAX_SPECS), rc;
    *out = NULL;
    if (n == 0)
        return CLI_CONTINUE;
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(vals[i], '=');
        if (!eq || eq == vals[i])
            return cli_usage_error(ctx, "--spec expects KEY=VALUE, got \"%s\"", vals[i]);
        snprintf(keybuf[i], sizeof keybuf[i], "%.*s", (int)(eq - vals[i]), vals[i]);
        keys[i] = keybuf[i];
        vals[i] = eq + 1;
    }
    if ((rc = bill_specs_from_text(keys, vals, (size_t)n, out)) < 0)
        return cli_fail(ctx, rc);
    return CLI_CONTINUE;
}

/* Fill a product input from options. Returns CLI_CONTINUE or an exit code. */
static int fill_product(cli_ctx *ctx, const cli_args *a, bill_product_input *in, unsigned *mask,
                        char **specs)
{
    int rc;
    memset(in, 0, sizeof *in);
    in->version = BILL_PRODUCT_INPUT_VERSION;
    *mask = 0;
    if ((rc = build_specs(ctx, a, specs)) != CLI_CONTINUE)
        return rc;
    if (*specs && cli_flag(a, "specs-json"))
        return cli_usage_error(ctx, "give either --spec or --specs-json, not both");
    if (cli_flag(a, "active") && cli_flag(a, "inactive"))
        return cli_usage_error(ctx, "give either --active or --inactive, not both");

    struct {
        const char *opt;
        unsigned bit;
        const char **dst;
    } strs[] = {
        {"name", BILL_PRODUCT_SET_NAME, &in->name},
        {"description", BILL_PRODUCT_SET_DESCRIPTION, &in->description},
        {"group", BILL_PRODUCT_SET_GROUP, &in->group_id},
        {"category", BILL_PRODUCT_SET_CATEGORY, &in->category_id},
        {"provider", BILL_PRODUCT_SET_PROVIDER, &in->provider_interface_id},
        {"specs-json", BILL_PRODUCT_SET_SPECS, &in->specs_json},
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (cli_flag(a, strs[i].opt)) {
            *strs[i].dst = cli_opt(a, strs[i].opt);
            *mask |= strs[i].bit;
        }
    if (*specs) {
        in->specs_json = *specs;
        *mask |= BILL_PRODUCT_SET_SPECS;
    }

    for (size_t i = 0; i < sizeof price_opts / sizeof price_opts[0]; i++) {
        const char *v = cli_opt(a, price_opts[i].opt);
        if (!v)
            continue;
        bill_cycle c = price_opts[i].cycle;
        if ((rc = bill_money_parse_field(v, price_opts[i].opt, &in->prices[c])) < 0)
            return cli_fail(ctx, rc);
        in->has_price[c] = true;
        *mask |= BILL_PRODUCT_SET_PRICES;
    }
    const char *cost = cli_opt(a, "cost");
    if (cost) {
        if ((rc = bill_money_parse_field(cost, "cost_price", &in->cost_price)) < 0)
            return cli_fail(ctx, rc);
        *mask |= BILL_PRODUCT_SET_COST_PRICE;
    }
    in->active = !cli_flag(a, "inactive");
    if (cli_flag(a, "active") || cli_flag(a, "inactive"))
        *mask |= BILL_PRODUCT_SET_ACTIVE;
    return CLI_CONTINUE;
}

static int product_print(cli_ctx *ctx, const bill_product *p, const char *verb)
{
    if (ctx->json)
        cli_json_print(product_json(p));
    else if (!ctx->quiet)
        printf("%s product %s (%s)\n", verb, p->id, p->name);
    return CLI_EXIT_OK;
}

static int product_create(cli_ctx *ctx, const cli_args *a)
{
    bill_product_input in;
    unsigned mask;
    char *specs = NULL;
    bill_product *p = NULL;
    int rc;
    if ((rc = fill_product(ctx, a, &in, &mask, &specs)) != CLI_CONTINUE)
        goto done;
    if ((rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        goto done;
    if ((rc = bill_product_create(ctx->db, &ctx->actor, &in, &p)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    rc = product_print(ctx, p, "created");
done:
    bill_product_free(p);
    free(specs);
    return rc;
}

static int product_update(cli_ctx *ctx, const cli_args *a)
{
    bill_product_input in;
    unsigned mask;
    char *specs = NULL;
    bill_product *p = NULL;
    int rc;
    /* Check the command line before touching the database. */
    if ((rc = fill_product(ctx, a, &in, &mask, &specs)) != CLI_CONTINUE)
        goto done;
    if (mask == 0) {
        rc = cli_usage_error(ctx, "nothing to update: give at least one option");
        goto done;
    }
    /* the cycles named change, the others keep their price (libbill, in one
     * transaction) */
    if (mask & BILL_PRODUCT_SET_PRICES)
        mask = (mask & ~(unsigned)BILL_PRODUCT_SET_PRICES) | BILL_PRODUCT_SET_CYCLE_PRICES;
    if ((rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        goto done;
    if ((rc = bill_product_update(ctx->db, &ctx->actor, a->pos[0], &in, mask, &p)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    rc = product_print(ctx, p, "updated");
done:
    bill_product_free(p);
    free(specs);
    return rc;
}

static int product_delete(cli_ctx *ctx, const cli_args *a)
{
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    if ((rc = bill_product_delete(ctx->db, &ctx->actor, a->pos[0])) < 0)
        return cli_fail(ctx, rc);
    return cli_done(ctx, "deleted product %s", a->pos[0]);
}

static int product_markup(cli_ctx *ctx, const cli_args *a)
{
    const char *group = cli_opt(a, "group"), *category = cli_opt(a, "category");
    if (group && category)
        return cli_usage_error(ctx, "give either --group or --category, not both");
    bool dry = cli_flag(a, "dry-run");
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    size_t count = 0;
    if ((rc = bill_product_markup(ctx->db, &ctx->actor, cli_opt(a, "ratio"), group, category, dry,
                                  &count)) < 0)
        return cli_fail(ctx, rc);
    if (ctx->json) {
        json_object *doc = json_object_new_object();
        json_object_object_add(doc, "ratio", json_object_new_string(cli_opt(a, "ratio")));
        json_object_object_add(doc, "dry_run", json_object_new_boolean(dry));
        json_object_object_add(doc, "products", json_object_new_int64((int64_t)count));
        cli_json_print(doc);
        return CLI_EXIT_OK;
    }
    if (ctx->quiet)
        return CLI_EXIT_OK;
    if (dry)
        printf("dry run: %zu product%s would be repriced at cost x %s (nothing changed)\n", count,
               count == 1 ? "" : "s", cli_opt(a, "ratio"));
    else
        printf("repriced %zu product%s at cost x %s\n", count, count == 1 ? "" : "s",
               cli_opt(a, "ratio"));
    return CLI_EXIT_OK;
}

static int product_import_upstream(cli_ctx *ctx, const cli_args *a)
{
    bool dry = cli_flag(a, "dry-run");
    const char *ratio = cli_opt(a, "ratio");
    bill_plugins *p = NULL;
    int created = 0, updated = 0;
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    if ((rc = cli_open_plugins(ctx, true, false, &p, NULL)) != CLI_CONTINUE)
        return rc;
    if ((rc = bill_product_import_upstream(ctx->db, &ctx->actor, p, cli_opt(a, "interface"),
                                           cli_opt(a, "group"), ratio, dry, &created,
                                           &updated)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    rc = CLI_EXIT_OK;
    if (ctx->json) {
        json_object *doc = json_object_new_object();
        json_object_object_add(doc, "interface_id", json_object_new_string(cli_opt(a, "interface")));
        json_object_object_add(doc, "ratio", json_object_new_string(ratio ? ratio : "1"));
        json_object_object_add(doc, "dry_run", json_object_new_boolean(dry));
        json_object_object_add(doc, "created", json_object_new_int(created));
        json_object_object_add(doc, "updated", json_object_new_int(updated));
        cli_json_print(doc);
    } else if (!ctx->quiet) {
        printf("%s%d new product%s, %d updated from upstream interface %s (price = cost x %s)%s\n",
               dry ? "dry run: " : "imported ", created, created == 1 ? "" : "s", updated,
               cli_opt(a, "interface"), ratio ? ratio : "1", dry ? "; nothing changed" : "");
    }
done:
    bill_plugins_free(p);
    return rc;
}

/* ==== tables ============================================================= */

static const cli_optdef page_opts[] = {
    CLI_PAGE_OPTDEFS,
    {0},
};

/* the four subcommands of a node kind */
#define NODE_SUBS(kind, list_opts, noun, nouns, what_delete)                        \
    {                                                                              \
        {.name = "list", .summary = "List " nouns, .opts = list_opts, .run = kind##_list}, \
        {.name = "create", .summary = "Create a " noun, .opts = kind##_create_opts,     \
         .run = kind##_create},                                                    \
        {.name = "update", .summary = "Change a " noun, .usage = "ID",              \
         .opts = kind##_update_opts, .min_args = 1, .max_args = 1, .run = kind##_update}, \
        {.name = "delete", .summary = "Delete a " what_delete, .usage = "ID",       \
         .min_args = 1, .max_args = 1, .run = kind##_delete},                       \
        {0},                                                                       \
    }

static const cli_optdef category_create_opts[] = {
    {"name", "NAME", "category name (unique)", CLI_OPT_REQUIRED},
    {"description", "TEXT", "description", 0},
    {"sort", "N", "sort order (default 0)", 0},
    {0},
};
static const cli_optdef category_update_opts[] = {
    {"name", "NAME", "category name (unique)", 0},
    {"description", "TEXT", "description", 0},
    {"sort", "N", "sort order", 0},
    {0},
};
static const cli_cmd category_subs[] =
    NODE_SUBS(category, page_opts, "category", "categories", "category that has no groups");

CLI_GROUP(cli_category_cmd, "category",
          "Product categories: list, create, update, delete", category_subs);

static const cli_optdef group_list_opts[] = {
    {"category", "ID", "only groups of this category", 0},
    CLI_PAGE_OPTDEFS,
    {0},
};
static const cli_optdef group_create_opts[] = {
    {"name", "NAME", "group name", CLI_OPT_REQUIRED},
    {"category", "ID", "category the group belongs to", 0},
    {"description", "TEXT", "description", 0},
    {"sort", "N", "sort order (default 0)", 0},
    {0},
};
static const cli_optdef group_update_opts[] = {
    {"name", "NAME", "group name", 0},
    {"category", "ID", "category (\"\" for none)", 0},
    {"description", "TEXT", "description", 0},
    {"sort", "N", "sort order", 0},
    {0},
};
static const cli_cmd group_subs[] =
    NODE_SUBS(group, group_list_opts, "product group", "product groups", "group that has no products");

CLI_GROUP(cli_group_cmd, "group",
          "Product groups: list, create, update, delete", group_subs);

static const cli_optdef product_list_opts[] = {
    {"all", NULL, "include inactive products", 0},
    {"group", "ID", "only products of this group", 0},
    {"category", "ID", "only products of this category", 0},
    {"provider", "ID", "only products of this provider interface", 0},
    {"region", "REGION", "only products whose specs say this region", 0},
    {"search", "TEXT", "substring of name or description", 0},
    CLI_PAGE_OPTDEFS,
    {0},
};

#define PRODUCT_FIELD_OPTS(name_flags)                                                     \
    {"name", "NAME", "product name", name_flags},                                          \
    {"description", "TEXT", "description", 0},                                             \
    {"group", "ID", "product group", 0},                                                   \
    {"category", "ID", "category (default: the group's)", 0},                             \
    {"price-monthly", "AMOUNT", "monthly price, e.g. 10.00", 0},                           \
    {"price-quarterly", "AMOUNT", "quarterly price", 0},                                   \
    {"price-yearly", "AMOUNT", "yearly price", 0},                                         \
    {"cost", "AMOUNT", "monthly cost price (the base of markup)", 0},                      \
    {"spec", "KEY=VALUE", "a spec entry, e.g. cpu_cores=2 or region=hk", CLI_OPT_MULTI},   \
    {"specs-json", "JSON", "all specs as one JSON object", 0},                             \
    {"provider", "ID", "provider interface id", 0},                                        \
    {"inactive", NULL, "hidden from customers", 0}

static const cli_optdef product_create_opts[] = {
    PRODUCT_FIELD_OPTS(CLI_OPT_REQUIRED),
    {0},
};

static const cli_optdef product_update_opts[] = {
    PRODUCT_FIELD_OPTS(0),
    {"active", NULL, "visible to customers again", 0},
    {0},
};

static const cli_optdef product_markup_opts[] = {
    {"ratio", "RATIO", "price = cost x RATIO (per month of the cycle), e.g. 1.25", CLI_OPT_REQUIRED},
    {"group", "ID", "only products of this group", 0},
    {"category", "ID", "only products of this category", 0},
    {"dry-run", NULL, "count what would change, change nothing", 0},
    {0},
};

static const cli_optdef product_import_opts[] = {
    {"interface", "ID", "the upstream provider interface (bill-cli plugin interfaces)", CLI_OPT_REQUIRED},
    {"group", "ID", "put new products in this group (and its category)", 0},
    {"ratio", "RATIO", "our price = upstream price x RATIO (default 1)", 0},
    {"dry-run", NULL, "count what would be imported, change nothing", 0},
    {0},
};

static const cli_cmd product_subs[] = {
    {.name = "list", .summary = "List products (active only unless --all)",
     .opts = product_list_opts, .run = product_list},
    {.name = "show", .summary = "Show one product", .usage = "ID", .min_args = 1, .max_args = 1,
     .run = product_show},
    {
        .name = "create",
        .summary = "Create a product",
        .description = "Example: bill-cli product create --name \"HK VPS 2C4G\" --group GROUP_ID \\\n"
                       "    --price-monthly 10.00 --cost 8.00 --spec cpu_cores=2 --spec region=hk",
        .opts = product_create_opts,
        .run = product_create,
    },
    {
        .name = "update",
        .summary = "Change a product",
        .usage = "ID",
        .description = "Only the options given are changed. Prices of cycles not named are kept;\n"
                       "--spec/--specs-json replace the whole specs object.",
        .opts = product_update_opts,
        .min_args = 1,
        .max_args = 1,
        .run = product_update,
    },
    {.name = "delete", .summary = "Delete a product no order refers to", .usage = "ID",
     .min_args = 1, .max_args = 1, .run = product_delete},
    {
        .name = "markup",
        .summary = "Batch pricing: price = cost x ratio",
        .description = "Every product in scope with a cost price gets each offered cycle's price\n"
                       "set to cost x months x RATIO, rounded half-to-even to cents.",
        .opts = product_markup_opts,
        .run = product_markup,
    },
    {
        .name = "import-upstream",
        .summary = "Import an upstream provider's products",
        .description = "Lists the products of an upstream provider interface (e.g. provider-rustbill)\n"
                       "and creates or updates one product each, keyed by the upstream id, so\n"
                       "running it again updates instead of duplicating. Costs are the upstream\n"
                       "prices; our prices are cost x RATIO, rounded half-to-even to cents.",
        .opts = product_import_opts,
        .run = product_import_upstream,
    },
    {0},
};

CLI_GROUP(cli_product_cmd, "product",
          "Products: list, show, create, update, delete, markup, import-upstream", product_subs);
