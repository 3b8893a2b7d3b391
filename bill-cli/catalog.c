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

static json_object *money_json(bill_money m)
{
    char b[BILL_MONEY_BUFSZ];
    return json_object_new_string(bill_money_format(m, b));
}

/* Parse --sort N (a signed 32-bit integer). */
static int opt_sort(cli_ctx *ctx, const cli_args *a, int32_t *out, bool *given)
{
    const char *v = cli_opt(a, "sort");
    *given = v != NULL;
    if (!v)
        return CLI_CONTINUE;
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (!v[0] || *end || errno || n < INT32_MIN || n > INT32_MAX)
        return cli_usage_error(ctx, "--sort expects a whole number, got \"%s\"", v);
    *out = (int32_t)n;
    return CLI_CONTINUE;
}

static int open_and_list_page(cli_ctx *ctx, const cli_args *a, bill_page *page)
{
    int rc;
    memset(page, 0, sizeof *page);
    if ((rc = cli_opt_u32(ctx, a, "page", &page->page)) != CLI_CONTINUE ||
        (rc = cli_opt_u32(ctx, a, "page-size", &page->page_size)) != CLI_CONTINUE)
        return rc;
    return cli_open_db(ctx, true);
}

static void print_page_footer(const bill_page_meta *m, const char *one, const char *many)
{
    printf("\n%llu %s (page %u of %u)\n", (unsigned long long)m->total, m->total == 1 ? one : many,
           m->page, m->total_pages ? m->total_pages : 1);
}

static void add_page_meta(json_object *doc, const bill_page_meta *m)
{
    json_object_object_add(doc, "total", json_object_new_int64((int64_t)m->total));
    json_object_object_add(doc, "page", json_object_new_int64(m->page));
    json_object_object_add(doc, "page_size", json_object_new_int64(m->page_size));
}

/* ==== categories ========================================================= */

static json_object *category_json(const bill_product_category *c)
{
    char t[48];
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", cli_json_str(c->id));
    json_object_object_add(o, "name", cli_json_str(c->name));
    json_object_object_add(o, "description", cli_json_str(c->description));
    json_object_object_add(o, "sort_order", json_object_new_int(c->sort_order));
    json_object_object_add(o, "group_count", json_object_new_int64(c->group_count));
    json_object_object_add(o, "created_at", json_object_new_string(cli_time(c->created_at, t)));
    return o;
}

static int category_list(cli_ctx *ctx, const cli_args *a)
{
    bill_page page;
    int rc = open_and_list_page(ctx, a, &page);
    if (rc != CLI_CONTINUE)
        return rc;
    bill_product_categories l = {0};
    cli_table *t = NULL;
    if ((rc = bill_product_category_list(ctx->db, &ctx->actor, &page, &l)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    if (ctx->json) {
        json_object *doc = json_object_new_object(), *arr = json_object_new_array();
        for (size_t i = 0; i < l.count; i++)
            json_object_array_add(arr, category_json(&l.items[i]));
        json_object_object_add(doc, "categories", arr);
        add_page_meta(doc, &l.meta);
        cli_json_print(doc);
        rc = CLI_EXIT_OK;
        goto done;
    }
    static const char *const hdr[] = {"ID", "NAME", "SORT", "GROUPS", "DESCRIPTION"};
    if (!(t = cli_table_new(5, hdr))) {
        rc = cli_errorf("out of memory");
        goto done;
    }
    cli_table_align_right(t, 2);
    cli_table_align_right(t, 3);
    for (size_t i = 0; i < l.count; i++) {
        const bill_product_category *c = &l.items[i];
        char so[16], gc[16];
        snprintf(so, sizeof so, "%d", (int)c->sort_order);
        snprintf(gc, sizeof gc, "%u", (unsigned)c->group_count);
        cli_table_row(t, c->id, c->name, so, gc, c->description);
    }
    cli_table_print(t, stdout);
    print_page_footer(&l.meta, "category", "categories");
    rc = CLI_EXIT_OK;
done:
    cli_table_free(t);
    bill_product_categories_clear(&l);
    return rc;
}

static int category_print(cli_ctx *ctx, const bill_product_category *c, const char *verb)
{
    if (ctx->json)
        cli_json_print(category_json(c));
    else if (!ctx->quiet)
        printf("%s category %s (%s)\n", verb, c->id, c->name);
    return CLI_EXIT_OK;
}

static int category_create(cli_ctx *ctx, const cli_args *a)
{
    int32_t sort = 0;
    bool has_sort;
    bill_product_category *c = NULL;
    int rc;
    if ((rc = opt_sort(ctx, a, &sort, &has_sort)) != CLI_CONTINUE)
        return rc;
    if ((rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    if ((rc = bill_product_category_create(ctx->db, &ctx->actor, cli_opt(a, "name"),
                                           cli_opt(a, "description"), sort, &c)) < 0)
        return cli_fail(ctx, rc);
    rc = category_print(ctx, c, "created");
    bill_product_category_free(c);
    return rc;
}

static int category_update(cli_ctx *ctx, const cli_args *a)
{
    int32_t sort = 0;
    bool has_sort;
    bill_product_category *cur = NULL, *c = NULL;
    int rc;
    if ((rc = opt_sort(ctx, a, &sort, &has_sort)) != CLI_CONTINUE)
        return rc;
    if (!has_sort && !cli_flag(a, "name") && !cli_flag(a, "description"))
        return cli_usage_error(ctx, "nothing to update: give --name, --description or --sort");
    if ((rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    if ((rc = bill_product_category_get(ctx->db, &ctx->actor, a->pos[0], &cur)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    const char *name = cli_flag(a, "name") ? cli_opt(a, "name") : cur->name;
    const char *desc = cli_flag(a, "description") ? cli_opt(a, "description") : cur->description;
    if ((rc = bill_product_category_update(ctx->db, &ctx->actor, cur->id, name, desc,
                                           has_sort ? sort : cur->sort_order, &c)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    rc = category_print(ctx, c, "updated");
done:
    bill_product_category_free(cur);
    bill_product_category_free(c);
    return rc;
}

static int category_delete(cli_ctx *ctx, const cli_args *a)
{
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    if ((rc = bill_product_category_delete(ctx->db, &ctx->actor, a->pos[0])) < 0)
        return cli_fail(ctx, rc);
    return cli_done(ctx, "deleted category %s", a->pos[0]);
}

/* ==== groups ============================================================= */

static json_object *group_json(const bill_product_group *g)
{
    char t[48];
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", cli_json_str(g->id));
    json_object_object_add(o, "category_id", g->category_id && g->category_id[0]
                                                 ? json_object_new_string(g->category_id)
                                                 : NULL);
    json_object_object_add(o, "name", cli_json_str(g->name));
    json_object_object_add(o, "description", cli_json_str(g->description));
    json_object_object_add(o, "sort_order", json_object_new_int64(g->sort_order));
    json_object_object_add(o, "product_count", json_object_new_int64(g->product_count));
    json_object_object_add(o, "created_at", json_object_new_string(cli_time(g->created_at, t)));
    return o;
}

static int group_list(cli_ctx *ctx, const cli_args *a)
{
    bill_page page;
    int rc = open_and_list_page(ctx, a, &page);
    if (rc != CLI_CONTINUE)
        return rc;
    bill_product_groups l = {0};
    cli_table *t = NULL;
    if ((rc = bill_product_group_list(ctx->db, &ctx->actor, cli_opt(a, "category"), &page, &l)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    if (ctx->json) {
        json_object *doc = json_object_new_object(), *arr = json_object_new_array();
        for (size_t i = 0; i < l.count; i++)
            json_object_array_add(arr, group_json(&l.items[i]));
        json_object_object_add(doc, "groups", arr);
        add_page_meta(doc, &l.meta);
        cli_json_print(doc);
        rc = CLI_EXIT_OK;
        goto done;
    }
    static const char *const hdr[] = {"ID", "NAME", "CATEGORY", "SORT", "PRODUCTS", "DESCRIPTION"};
    if (!(t = cli_table_new(6, hdr))) {
        rc = cli_errorf("out of memory");
        goto done;
    }
    cli_table_align_right(t, 3);
    cli_table_align_right(t, 4);
    for (size_t i = 0; i < l.count; i++) {
        const bill_product_group *g = &l.items[i];
        char so[16], pc[16];
        snprintf(so, sizeof so, "%u", (unsigned)g->sort_order);
        snprintf(pc, sizeof pc, "%u", (unsigned)g->product_count);
        cli_table_row(t, g->id, g->name, g->category_id[0] ? g->category_id : "-", so, pc,
                      g->description);
    }
    cli_table_print(t, stdout);
    print_page_footer(&l.meta, "group", "groups");
    rc = CLI_EXIT_OK;
done:
    cli_table_free(t);
    bill_product_groups_clear(&l);
    return rc;
}

static int group_print(cli_ctx *ctx, const bill_product_group *g, const char *verb)
{
    if (ctx->json)
        cli_json_print(group_json(g));
    else if (!ctx->quiet)
        printf("%s group %s (%s)\n", verb, g->id, g->name);
    return CLI_EXIT_OK;
}

/* Group sort orders are unsigned in libbill. */
static int opt_group_sort(cli_ctx *ctx, const cli_args *a, uint32_t *out, bool *given)
{
    *given = cli_flag(a, "sort");
    return cli_opt_u32(ctx, a, "sort", out);
}

static int group_create(cli_ctx *ctx, const cli_args *a)
{
    uint32_t sort = 0;
    bool has_sort;
    bill_product_group *g = NULL;
    int rc;
    if ((rc = opt_group_sort(ctx, a, &sort, &has_sort)) != CLI_CONTINUE)
        return rc;
    if ((rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    if ((rc = bill_product_group_create(ctx->db, &ctx->actor, cli_opt(a, "category"),
                                        cli_opt(a, "name"), cli_opt(a, "description"), sort, &g)) < 0)
        return cli_fail(ctx, rc);
    rc = group_print(ctx, g, "created");
    bill_product_group_free(g);
    return rc;
}

static int group_update(cli_ctx *ctx, const cli_args *a)
{
    uint32_t sort = 0;
    bool has_sort;
    bill_product_group *cur = NULL, *g = NULL;
    int rc;
    if ((rc = opt_group_sort(ctx, a, &sort, &has_sort)) != CLI_CONTINUE)
        return rc;
    if (!has_sort && !cli_flag(a, "name") && !cli_flag(a, "description") && !cli_flag(a, "category"))
        return cli_usage_error(ctx,
                               "nothing to update: give --name, --category, --description or --sort");
    if ((rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        return rc;
    if ((rc = bill_product_group_get(ctx->db, &ctx->actor, a->pos[0], &cur)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    const char *name = cli_flag(a, "name") ? cli_opt(a, "name") : cur->name;
    const char *desc = cli_flag(a, "description") ? cli_opt(a, "description") : cur->description;
    const char *cat = cli_flag(a, "category") ? cli_opt(a, "category") : cur->category_id;
    if ((rc = bill_product_group_update(ctx->db, &ctx->actor, cur->id, cat, name, desc,
                                        has_sort ? sort : cur->sort_order, &g)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    rc = group_print(ctx, g, "updated");
done:
    bill_product_group_free(cur);
    bill_product_group_free(g);
    return rc;
}

static int group_delete(cli_ctx *ctx, const cli_args *a)
{
    int rc = cli_open_db(ctx, true);
    if (rc != CLI_CONTINUE)
        return rc;
    if ((rc = bill_product_group_delete(ctx->db, &ctx->actor, a->pos[0])) < 0)
        return cli_fail(ctx, rc);
    return cli_done(ctx, "deleted group %s", a->pos[0]);
}

/* ==== products =========================================================== */

static const struct {
    bill_cycle cycle;
    const char *opt;
} price_opts[] = {
    {BILL_CYCLE_MONTHLY, "price-monthly"},
    {BILL_CYCLE_QUARTERLY, "price-quarterly"},
    {BILL_CYCLE_YEARLY, "price-yearly"},
};

static json_object *product_json(const bill_product *p)
{
    char t[48];
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", cli_json_str(p->id));
    json_object_object_add(o, "name", cli_json_str(p->name));
    json_object_object_add(o, "description", cli_json_str(p->description));
    json_object_object_add(o, "group_id", p->group_id[0] ? json_object_new_string(p->group_id) : NULL);
    json_object_object_add(o, "category_id",
                           p->category_id[0] ? json_object_new_string(p->category_id) : NULL);
    json_object *specs = p->specs_json ? json_tokener_parse(p->specs_json) : NULL;
    json_object_object_add(o, "specs", specs ? specs : json_object_new_object());
    json_object_object_add(o, "provider_interface_id",
                           p->provider_interface_id[0] ? json_object_new_string(p->provider_interface_id)
                                                       : NULL);
    json_object_object_add(o, "upstream_product_id",
                           p->upstream_product_id[0] ? json_object_new_string(p->upstream_product_id)
                                                     : NULL);
    json_object_object_add(o, "price", money_json(p->price));
    json_object_object_add(o, "cost_price", money_json(p->cost_price));
    json_object *prices = json_object_new_object();
    for (size_t i = 0; i < sizeof price_opts / sizeof price_opts[0]; i++) {
        bill_cycle c = price_opts[i].cycle;
        if (p->has_price[c])
            json_object_object_add(prices, bill_cycle_name(c), money_json(p->prices[c]));
    }
    json_object_object_add(o, "prices", prices);
    json_object_object_add(o, "active", json_object_new_boolean(p->active));
    json_object_object_add(o, "created_at", json_object_new_string(cli_time(p->created_at, t)));
    json_object_object_add(o, "updated_at", json_object_new_string(cli_time(p->updated_at, t)));
    return o;
}

static const char *price_cell(const bill_product *p, bill_cycle c, char buf[BILL_MONEY_BUFSZ])
{
    return p->has_price[c] ? bill_money_format(p->prices[c], buf) : "-";
}

static int product_list(cli_ctx *ctx, const cli_args *a)
{
    bill_page page;
    int rc = open_and_list_page(ctx, a, &page);
    if (rc != CLI_CONTINUE)
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
    bill_products l = {0};
    cli_table *t = NULL;
    if ((rc = bill_product_list(ctx->db, &ctx->actor, &f, &page, &l)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    if (ctx->json) {
        json_object *doc = json_object_new_object(), *arr = json_object_new_array();
        for (size_t i = 0; i < l.count; i++)
            json_object_array_add(arr, product_json(&l.items[i]));
        json_object_object_add(doc, "products", arr);
        add_page_meta(doc, &l.meta);
        cli_json_print(doc);
        rc = CLI_EXIT_OK;
        goto done;
    }
    static const char *const hdr[] = {"ID",      "NAME",   "GROUP", "MONTHLY", "QUARTERLY",
                                      "YEARLY", "COST",  "ACTIVE"};
    if (!(t = cli_table_new(8, hdr))) {
        rc = cli_errorf("out of memory");
        goto done;
    }
    for (int c = 3; c <= 6; c++)
        cli_table_align_right(t, c);
    for (size_t i = 0; i < l.count; i++) {
        const bill_product *p = &l.items[i];
        char m[BILL_MONEY_BUFSZ], q[BILL_MONEY_BUFSZ], y[BILL_MONEY_BUFSZ], co[BILL_MONEY_BUFSZ];
        cli_table_row(t, p->id, p->name, p->group_id[0] ? p->group_id : "-",
                      price_cell(p, BILL_CYCLE_MONTHLY, m), price_cell(p, BILL_CYCLE_QUARTERLY, q),
                      price_cell(p, BILL_CYCLE_YEARLY, y), bill_money_format(p->cost_price, co),
                      p->active ? "yes" : "no");
    }
    cli_table_print(t, stdout);
    print_page_footer(&l.meta, "product", "products");
    rc = CLI_EXIT_OK;
done:
    cli_table_free(t);
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

/* True when `v` is a JSON number as json-c would write it back unchanged
 * (so "2" and "1.5" become numbers but "007" or "1e3" stay strings). */
static bool is_plain_number(const char *v)
{
    const char *s = v;
    if (*s == '-')
        s++;
    if (!(*s >= '0' && *s <= '9'))
        return false;
    if (*s == '0' && s[1] >= '0' && s[1] <= '9')
        return false;
    while (*s >= '0' && *s <= '9')
        s++;
    if (*s == '.') {
        s++;
        if (!(*s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0' && strlen(v) <= 15; /* stays exact as a double */
}

/* Build the specs JSON text from --spec k=v options. *out is malloc'd (NULL
 * when no --spec was given). Returns CLI_CONTINUE or an exit code. */
static int build_specs(cli_ctx *ctx, const cli_args *a, char **out)
{
    const char *vals[MAX_SPECS];
    int n = cli_opt_all(a, "spec", vals, MAX_SPECS);
    *out = NULL;
    if (n == 0)
        return CLI_CONTINUE;
    json_object *o = json_object_new_object();
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(vals[i], '=');
        if (!eq || eq == vals[i]) {
            json_object_put(o);
            return cli_usage_error(ctx, "--spec expects KEY=VALUE, got \"%s\"", vals[i]);
        }
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)(eq - vals[i]), vals[i]);
        const char *v = eq + 1;
        json_object *jv;
        if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
            jv = json_object_new_boolean(v[0] == 't');
        else if (is_plain_number(v) && !strchr(v, '.'))
            jv = json_object_new_int64(strtoll(v, NULL, 10));
        else if (is_plain_number(v))
            jv = json_object_new_double_s(strtod(v, NULL), v); /* keeps the text as given */
        else
            jv = json_object_new_string(v);
        json_object_object_add(o, key, jv);
    }
    *out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                        JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return *out ? CLI_CONTINUE : cli_errorf("out of memory");
}

/* Fill a product input from options. `cur` (update) supplies the prices of
 * cycles not named. Returns CLI_CONTINUE or an exit code. */
static int fill_product(cli_ctx *ctx, const cli_args *a, const bill_product *cur,
                        bill_product_input *in, unsigned *mask, char **specs)
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

    if (cur)
        for (int c = 0; c < BILL_PRODUCT_CYCLES; c++) {
            in->has_price[c] = cur->has_price[c];
            in->prices[c] = cur->prices[c];
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
    if ((rc = fill_product(ctx, a, NULL, &in, &mask, &specs)) != CLI_CONTINUE)
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
    bill_product *cur = NULL, *p = NULL;
    int rc;
    /* Check the command line before touching the database. */
    if ((rc = fill_product(ctx, a, NULL, &in, &mask, &specs)) != CLI_CONTINUE)
        goto done;
    if (mask == 0) {
        rc = cli_usage_error(ctx, "nothing to update: give at least one option");
        goto done;
    }
    if ((rc = cli_open_db(ctx, true)) != CLI_CONTINUE)
        goto done;
    if (mask & BILL_PRODUCT_SET_PRICES) {
        /* keep the cycles that were not named */
        if ((rc = bill_product_get(ctx->db, &ctx->actor, a->pos[0], &cur)) < 0) {
            rc = cli_fail(ctx, rc);
            goto done;
        }
        free(specs);
        specs = NULL;
        if ((rc = fill_product(ctx, a, cur, &in, &mask, &specs)) != CLI_CONTINUE)
            goto done;
    }
    if ((rc = bill_product_update(ctx->db, &ctx->actor, a->pos[0], &in, mask, &p)) < 0) {
        rc = cli_fail(ctx, rc);
        goto done;
    }
    rc = product_print(ctx, p, "updated");
done:
    bill_product_free(cur);
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
    {"page", "N", "page number (1-based)", 0},
    {"page-size", "N", "rows per page (default 20, at most 100)", 0},
    {0},
};

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

static const cli_cmd category_subs[] = {
    {.name = "list", .summary = "List categories", .opts = page_opts, .run = category_list},
    {.name = "create", .summary = "Create a category", .opts = category_create_opts,
     .run = category_create},
    {.name = "update", .summary = "Change a category", .usage = "ID", .opts = category_update_opts,
     .min_args = 1, .max_args = 1, .run = category_update},
    {.name = "delete", .summary = "Delete a category that has no groups", .usage = "ID",
     .min_args = 1, .max_args = 1, .run = category_delete},
    {0},
};

const cli_cmd cli_category_cmd = {
    .name = "category",
    .summary = "Product categories: list, create, update, delete",
    .subs = category_subs,
};

static const cli_optdef group_list_opts[] = {
    {"category", "ID", "only groups of this category", 0},
    {"page", "N", "page number (1-based)", 0},
    {"page-size", "N", "rows per page (default 20, at most 100)", 0},
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

static const cli_cmd group_subs[] = {
    {.name = "list", .summary = "List product groups", .opts = group_list_opts, .run = group_list},
    {.name = "create", .summary = "Create a product group", .opts = group_create_opts,
     .run = group_create},
    {.name = "update", .summary = "Change a product group", .usage = "ID", .opts = group_update_opts,
     .min_args = 1, .max_args = 1, .run = group_update},
    {.name = "delete", .summary = "Delete a group that has no products", .usage = "ID",
     .min_args = 1, .max_args = 1, .run = group_delete},
    {0},
};

const cli_cmd cli_group_cmd = {
    .name = "group",
    .summary = "Product groups: list, create, update, delete",
    .subs = group_subs,
};

static const cli_optdef product_list_opts[] = {
    {"all", NULL, "include inactive products", 0},
    {"group", "ID", "only products of this group", 0},
    {"category", "ID", "only products of this category", 0},
    {"provider", "ID", "only products of this provider interface", 0},
    {"region", "REGION", "only products whose specs say this region", 0},
    {"search", "TEXT", "substring of name or description", 0},
    {"page", "N", "page number (1-based)", 0},
    {"page-size", "N", "rows per page (default 20, at most 100)", 0},
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

const cli_cmd cli_product_cmd = {
    .name = "product",
    .summary = "Products: list, show, create, update, delete, markup, import-upstream",
    .subs = product_subs,
};
