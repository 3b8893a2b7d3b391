/*
 * product.c — the catalog: categories, groups, products with per-cycle
 * prices, visibility rules (non-staff see active products only), delete
 * guards, and batch markup pricing computed in exact cents in C (PostgreSQL's
 * round() rounds half away from zero; we need half-to-even).
 * Contract in include/bill/product.h.
 */
#include "domain/domain_int.h"
#include "domain/oplog_int.h"
#include "bill/product.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

/* ---- shared validation ---------------------------------------------------- */

static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

static int check_name(const char *name)
{
    if (!name || !*name)
        return bill__err(BILL_EINVALID, "name", "name is required");
    if (isspace((unsigned char)name[0]) || isspace((unsigned char)name[strlen(name) - 1]))
        return bill__err(BILL_EINVALID, "name", "name \"%.100s\" starts or ends with whitespace",
                         name);
    if (utf8_len(name) > BILL_CATALOG_NAME_MAX)
        return bill__err(BILL_EINVALID, "name", "name is longer than %d characters",
                         BILL_CATALOG_NAME_MAX);
    return BILL_OK;
}

static int check_desc(const char *d)
{
    if (d && strlen(d) > 20000)
        return bill__err(BILL_EINVALID, "description", "description is longer than 20000 bytes");
    return BILL_OK;
}

/* NULL/"" -> NULL (SQL NULL); a non-UUID -> BILL_EINVALID naming the field. */
static int opt_id(const char *v, const char *field, const char **out)
{
    *out = NULL;
    if (!v || !*v)
        return BILL_OK;
    if (!bill_uuid_valid(v))
        return bill__err(BILL_EINVALID, field, "%s \"%.64s\" is not a UUID", field, v);
    *out = v;
    return BILL_OK;
}

/* A foreign key that points nowhere comes back from PostgreSQL as 23503;
 * say which field in words the caller understands. */
static int fk_error(int rc, const char *what)
{
    if (rc == BILL_EINVALID && strcmp(bill_error_last()->sqlstate, "23503") == 0)
        return bill__err(BILL_EINVALID, what, "%s does not exist", what);
    return rc;
}

static const char *s_or_empty(const char *s)
{
    return s ? s : "";
}

/* ---- categories and groups ------------------------------------------------ */

/* Categories and groups are the same kind of object: a named, sorted node of
 * the catalog with a description, created and updated by staff, deleted only
 * while nothing refers to it, every change audited. A node_kind holds what
 * differs between the two; one set of functions below does the rest. Every
 * SELECT takes $1 = "is the actor staff" (a group counts inactive products
 * only for staff) and $2 = id; INSERT takes the kind's fields as $1..$n,
 * UPDATE the id as $1 and the fields as $2..$n+1, DELETE the id; `refs`
 * ($1 = id) answers
 * how many rows refer to the node and in words. */
typedef struct node_kind {
    const char *what;   /* "product category" (messages) */
    const char *target; /* "product_category" (operation log) */
    const bill__rowtype *row;
    const char *select, *select_lock;
    int json_col;       /* the audit JSON's column in select */
    const char *insert, *update, *delete;
    int nfields;
    const char *refs;
} node_kind;

#define CAT_COLS                                                                      \
    "c.id, c.name, c.description, c.sort_order, "                                     \
    "(SELECT count(*) FROM product_groups g WHERE g.category_id = c.id), "            \
    BILL__US("c.created_at") ", " BILL__US("c.updated_at")
#define CAT_SELECT                                                                    \
    "SELECT " CAT_COLS ", to_jsonb(c)::text FROM product_categories c "               \
    "WHERE $1::boolean IS NOT NULL AND c.id = $2"

/* product_count: all products for staff ($1 true), active ones otherwise. */
#define GRP_COLS                                                                      \
    "g.id, g.category_id, g.name, g.description, g.sort_order, "                      \
    "(SELECT count(*) FROM products p WHERE p.group_id = g.id AND ($1::boolean OR p.active)), " \
    BILL__US("g.created_at") ", " BILL__US("g.updated_at")
#define GRP_SELECT                                                                    \
    "SELECT " GRP_COLS ", to_jsonb(g)::text FROM product_groups g WHERE g.id = $2"

static void cat_clear(void *item)
{
    bill_product_category *c = item;
    BILL__FREE(c->id, c->name, c->description);
    memset(c, 0, sizeof *c);
}

static int cat_from_row(const PGresult *r, int row, const void *ctx, void *item)
{
    bill_product_category *c = item;
    int rc;
    if ((rc = BILL__DUP_COLS(r, row, "reading a category", &c->id, 0, &c->name, 1,
                                     &c->description, 2)) < 0)
        return rc;
    c->sort_order = (int32_t)bill__i64(r, row, 3);
    c->group_count = (uint32_t)bill__i64(r, row, 4);
    c->created_at = bill__i64(r, row, 5);
    c->updated_at = bill__i64(r, row, 6);
    return BILL_OK;
}

static void grp_clear(void *item)
{
    bill_product_group *g = item;
    BILL__FREE(g->id, g->category_id, g->name, g->description);
    memset(g, 0, sizeof *g);
}

static int grp_from_row(const PGresult *r, int row, const void *ctx, void *item)
{
    bill_product_group *g = item;
    int rc;
    if ((rc = BILL__DUP_COLS(r, row, "reading a product group", &g->id, 0, &g->category_id, 1,
                                     &g->name, 2, &g->description, 3)) < 0)
        return rc;
    g->sort_order = (uint32_t)bill__i64(r, row, 4);
    g->product_count = (uint32_t)bill__i64(r, row, 5);
    g->created_at = bill__i64(r, row, 6);
    g->updated_at = bill__i64(r, row, 7);
    return BILL_OK;
}

static const bill__rowtype CAT_ROW = {sizeof(bill_product_category), cat_from_row, cat_clear,
                                      "product category"};
static const bill__rowtype GRP_ROW = {sizeof(bill_product_group), grp_from_row, grp_clear,
                                      "product group"};

static const node_kind CATEGORY = {
    "product category", "product_category", &CAT_ROW, CAT_SELECT, CAT_SELECT " FOR UPDATE", 7,
    "INSERT INTO product_categories (name, description, sort_order) "
    "VALUES ($1, $2, $3::int) RETURNING id",
    "UPDATE product_categories SET name = $2, description = $3, sort_order = $4::int, "
    "updated_at = bill_now() WHERE id = $1",
    "DELETE FROM product_categories WHERE id = $1",
    3,
    "SELECT g + p, format('%s groups and %s products', g, p) FROM "
    "(SELECT (SELECT count(*) FROM product_groups WHERE category_id = $1) AS g, "
    "(SELECT count(*) FROM products WHERE category_id = $1) AS p) n",
};

static const node_kind GROUP = {
    "product group", "product_group", &GRP_ROW, GRP_SELECT, GRP_SELECT " FOR UPDATE", 8,
    "INSERT INTO product_groups (category_id, name, description, sort_order) "
    "VALUES ($1::uuid, $2, $3, $4::int) RETURNING id",
    "UPDATE product_groups SET category_id = $2::uuid, name = $3, description = $4, "
    "sort_order = $5::int, updated_at = bill_now() WHERE id = $1",
    "DELETE FROM product_groups WHERE id = $1",
    4,
    "SELECT n, format('%s products', n) FROM "
    "(SELECT count(*) AS n FROM products WHERE group_id = $1) n",
};

static const char *staff_flag(const bill_actor *actor)
{
    return bill_actor_is_staff(actor) ? "true" : "false";
}

static int node_fetch(bill_conn *c, const node_kind *k, const bill_actor *actor, const char *id,
                      bool lock, PGresult **res)
{
    int rc = bill__qp(c, res, lock ? k->select_lock : k->select, staff_flag(actor), id);
    if (rc == BILL_OK && PQntuples(*res) == 0) {
        PQclear(*res);
        *res = NULL;
        rc = bill__err(BILL_ENOTFOUND, "id", "%s %s not found", k->what, id);
    }
    return rc;
}

static int node_get(bill_db *db, const node_kind *k, const bill_actor *actor, const char *id,
                    void *out)
{
    bill_conn *c = NULL;
    PGresult *res = NULL;
    int rc;
    if (!out)
        return bill__err(BILL_EINVALID, NULL, "out is required");
    if ((rc = bill__check_id(id, "id", k->what, false)) < 0)
        return rc;
    if ((rc = bill__conn_acquire(db, &c)) < 0 || (rc = node_fetch(c, k, actor, id, false, &res)) < 0)
        goto done;
    rc = bill__row_new(k->row, res, 0, actor, out);
done:
    PQclear(res);
    bill__conn_done(c);
    return rc;
}

/* Create (id NULL) or update a node with the kind's fields; audited. */
static int node_write(bill_db *db, const node_kind *k, const bill_actor *actor, const char *id,
                      const char *name, const char *const *fields, void *out)
{
    bill_conn *c = NULL;
    PGresult *before = NULL, *ins = NULL, *after = NULL;
    const char *params[8];
    char action[64];
    int rc;

    if ((rc = bill__conn_acquire(db, &c)) < 0 || (rc = bill__tx_begin(c)) < 0 ||
        (id && (rc = node_fetch(c, k, actor, id, true, &before)) < 0))
        goto done;
    params[0] = id;
    for (int i = 0; i < k->nfields; i++)
        params[i + 1] = fields[i];
    rc = id ? bill__q(c, NULL, k->update, k->nfields + 1, params)
            : bill__q(c, &ins, k->insert, k->nfields, params + 1);
    if (rc == BILL_ECONFLICT)
        rc = bill__err(BILL_ECONFLICT, "name", "%s \"%s\" already exists", k->what, name);
    if ((rc = fk_error(rc, "category_id")) < 0 ||
        (rc = node_fetch(c, k, actor, id ? id : bill__val(ins, 0, 0), false, &after)) < 0)
        goto done;
    snprintf(action, sizeof action, "%s.%s", k->target, id ? "update" : "create");
    if ((rc = bill__oplog_write(c, actor, action, k->target, bill__val(after, 0, 0),
                                id ? bill__val(before, 0, k->json_col) : NULL,
                                bill__val(after, 0, k->json_col))) < 0 ||
        (rc = bill__tx_commit_catalog(c)) < 0)
        goto done;
    if (out)
        rc = bill__row_new(k->row, after, 0, actor, out);
done:
    PQclear(before);
    PQclear(ins);
    PQclear(after);
    bill__conn_done(c);
    return rc;
}

static int node_delete(bill_db *db, const node_kind *k, const bill_actor *actor, const char *id)
{
    bill_conn *c = NULL;
    PGresult *before = NULL, *refs = NULL;
    char action[64];
    int rc;
    if ((rc = bill__require_staff(actor, "change the catalog")) < 0 ||
        (rc = bill__check_id(id, "id", k->what, false)) < 0)
        return rc;
    if ((rc = bill__conn_acquire(db, &c)) < 0 || (rc = bill__tx_begin(c)) < 0 ||
        (rc = node_fetch(c, k, actor, id, true, &before)) < 0 ||
        (rc = bill__qp(c, &refs, k->refs, id)) < 0)
        goto done;
    if (bill__i64(refs, 0, 0) > 0) {
        rc = bill__err(BILL_ESTATE, "id", "%s %s still has %s; move or delete them first",
                       k->what, id, bill__val(refs, 0, 1));
        goto done;
    }
    snprintf(action, sizeof action, "%s.delete", k->target);
    if ((rc = bill__qp(c, NULL, k->delete, id)) < 0 ||
        (rc = bill__oplog_write(c, actor, action, k->target, id,
                                bill__val(before, 0, k->json_col), NULL)) < 0)
        goto done;
    rc = bill__tx_commit_catalog(c);
done:
    PQclear(before);
    PQclear(refs);
    bill__conn_done(c);
    return rc;
}

static int check_node(const char *name, const char *description, int64_t sort_order)
{
    int rc;
    if ((rc = check_name(name)) < 0 || (rc = check_desc(description)) < 0)
        return rc;
    if (sort_order > INT32_MAX)
        return bill__err(BILL_EINVALID, "sort_order", "sort_order %lld is above %d",
                         (long long)sort_order, INT32_MAX);
    return BILL_OK;
}

BILL__ROW_FUNCS(&CAT_ROW, bill_product_category, bill_product_category_free,
                bill_product_categories, bill_product_categories_clear)

BILL__ROW_FUNCS(&GRP_ROW, bill_product_group, bill_product_group_free,
                bill_product_groups, bill_product_groups_clear)

int bill_product_category_create(bill_db *db, const bill_actor *actor, const char *name,
                                 const char *description, int32_t sort_order,
                                 bill_product_category **out)
{
    char so[24];
    int rc;
    if ((rc = bill__require_staff(actor, "change the catalog")) < 0 ||
        (rc = check_node(name, description, sort_order)) < 0)
        return rc;
    const char *f[] = {name, s_or_empty(description), bill__i64_text(sort_order, so)};
    return node_write(db, &CATEGORY, actor, NULL, name, f, out);
}

int bill_product_category_get(bill_db *db, const bill_actor *actor, const char *id,
                              bill_product_category **out)
{
    return node_get(db, &CATEGORY, actor, id, out);
}

int bill_product_category_list(bill_db *db, const bill_actor *actor, const bill_page *page,
                               bill_product_categories *out)
{
    static const bill__list_sql q = {CAT_COLS, "FROM product_categories c",
                                     "c.sort_order, c.name, c.id"};
    if (!out)
        return bill__err(BILL_EINVALID, NULL, "out is required");
    return BILL__LIST_PAGE_CATALOG(db, &CAT_ROW, &q, 0, NULL, page, NULL, out);
}

int bill_product_category_update(bill_db *db, const bill_actor *actor, const char *id,
                                 const char *name, const char *description, int32_t sort_order,
                                 bill_product_category **out)
{
    char so[24];
    int rc;
    if ((rc = bill__require_staff(actor, "change the catalog")) < 0 ||
        (rc = bill__check_id(id, "id", CATEGORY.what, false)) < 0 ||
        (rc = check_node(name, description, sort_order)) < 0)
        return rc;
    const char *f[] = {name, s_or_empty(description), bill__i64_text(sort_order, so)};
    return node_write(db, &CATEGORY, actor, id, name, f, out);
}

int bill_product_category_delete(bill_db *db, const bill_actor *actor, const char *id)
{
    return node_delete(db, &CATEGORY, actor, id);
}

static int group_fields(const bill_actor *actor, const char *id, const char *category_id,
                        const char *name, const char *description, uint32_t sort_order,
                        char so[24], const char *f[4])
{
    int rc;
    if ((rc = bill__require_staff(actor, "change the catalog")) < 0 ||
        (id && (rc = bill__check_id(id, "id", GROUP.what, false)) < 0) ||
        (rc = check_node(name, description, sort_order)) < 0 ||
        (rc = opt_id(category_id, "category_id", &f[0])) < 0)
        return rc;
    f[1] = name;
    f[2] = s_or_empty(description);
    f[3] = bill__i64_text(sort_order, so);
    return BILL_OK;
}

int bill_product_group_create(bill_db *db, const bill_actor *actor, const char *category_id,
                              const char *name, const char *description, uint32_t sort_order,
                              bill_product_group **out)
{
    const char *f[4];
    char so[24];
    int rc = group_fields(actor, NULL, category_id, name, description, sort_order, so, f);
    return rc < 0 ? rc : node_write(db, &GROUP, actor, NULL, name, f, out);
}

int bill_product_group_get(bill_db *db, const bill_actor *actor, const char *id,
                           bill_product_group **out)
{
    return node_get(db, &GROUP, actor, id, out);
}

int bill_product_group_list(bill_db *db, const bill_actor *actor, const char *category_id,
                            const bill_page *page, bill_product_groups *out)
{
    static const bill__list_sql q = {GRP_COLS,
                                     "FROM product_groups g WHERE $1::boolean IS NOT NULL AND "
                                     "($2::uuid IS NULL OR g.category_id = $2::uuid)",
                                     "g.sort_order, g.name, g.id"};
    const char *cat = NULL;
    int rc;
    if (!out)
        return bill__err(BILL_EINVALID, NULL, "out is required");
    memset(out, 0, sizeof *out);
    if ((rc = opt_id(category_id, "category_id", &cat)) < 0)
        return rc;
    const char *params[] = {staff_flag(actor), cat};
    return BILL__LIST_PAGE_CATALOG(db, &GRP_ROW, &q, 2, params, page, NULL, out);
}

int bill_product_group_update(bill_db *db, const bill_actor *actor, const char *id,
                              const char *category_id, const char *name, const char *description,
                              uint32_t sort_order, bill_product_group **out)
{
    const char *f[4];
    char so[24];
    int rc = group_fields(actor, id, category_id, name, description, sort_order, so, f);
    return rc < 0 ? rc : node_write(db, &GROUP, actor, id, name, f, out);
}

int bill_product_group_delete(bill_db *db, const bill_actor *actor, const char *id)
{
    return node_delete(db, &GROUP, actor, id);
}

/* ---- products -------------------------------------------------------------------- */

#define PR_COLS                                                                          \
    "p.id, p.group_id, p.category_id, p.name, p.description, p.specs::text, "            \
    "p.provider_interface_id, p.upstream_product_id, p.price, p.cost_price, p.active, "  \
    BILL__US("p.created_at") ", " BILL__US("p.updated_at") ", "                          \
    "(SELECT string_agg(pp.cycle || '=' || pp.price::text, ',') FROM product_prices pp " \
    " WHERE pp.product_id = p.id)"
#define PR_NCOLS 14
/* The product with its price table, for the audit trail. */
#define PR_JSON                                                                          \
    "(to_jsonb(p) || jsonb_build_object('prices', COALESCE((SELECT "                    \
    "jsonb_object_agg(pp.cycle, pp.price) FROM product_prices pp "                       \
    "WHERE pp.product_id = p.id), '{}'::jsonb)))::text"

static void pr_clear(void *item)
{
    bill_product *p = item;
    BILL__FREE(p->id, p->group_id, p->category_id, p->name, p->description, p->specs_json,
               p->provider_interface_id, p->upstream_product_id);
    memset(p, 0, sizeof *p);
}

/* "monthly=10.00,yearly=100.00" -> has_price/prices. */
static int parse_price_list(const char *s, bool has[BILL_PRODUCT_CYCLES],
                            bill_money prices[BILL_PRODUCT_CYCLES])
{
    char buf[64];
    while (*s) {
        size_t n = strcspn(s, ",");
        if (n >= sizeof buf)
            return bill__err(BILL_EINTERNAL, "prices", "unexpected price entry from the database");
        memcpy(buf, s, n);
        buf[n] = '\0';
        char *eq = strchr(buf, '=');
        bill_cycle cy;
        bill_money m;
        if (!eq)
            return bill__err(BILL_EINTERNAL, "prices", "unexpected price entry \"%s\"", buf);
        *eq = '\0';
        if (bill_cycle_parse(buf, &cy) < 0 || bill_money_parse_field(eq + 1, "price", &m) < 0)
            return bill__err(BILL_EINTERNAL, "prices", "unexpected price entry \"%s\"", buf);
        has[cy] = true;
        prices[cy] = m;
        s += n;
        if (*s == ',')
            s++;
    }
    return BILL_OK;
}

static int pr_from_row(const PGresult *r, int row, const void *ctx, void *item)
{
    bill_product *p = item;
    int rc;
    if ((rc = BILL__DUP_COLS(r, row, "reading a product", &p->id, 0, &p->group_id, 1,
                                     &p->category_id, 2, &p->name, 3, &p->description, 4,
                                     &p->specs_json, 5, &p->provider_interface_id, 6,
                                     &p->upstream_product_id, 7)) < 0)
        return rc;
    if ((rc = bill__money_col(r, row, 8, &p->price)) < 0 ||
        (rc = bill__money_col(r, row, 9, &p->cost_price)) < 0)
        return rc;
    p->active = bill__bool(r, row, 10);
    p->created_at = bill__i64(r, row, 11);
    p->updated_at = bill__i64(r, row, 12);
    return parse_price_list(bill__val(r, row, 13), p->has_price, p->prices);
}

static const bill__rowtype PR_ROW = {sizeof(bill_product), pr_from_row, pr_clear, "product"};

BILL__ROW_FUNCS(&PR_ROW, bill_product, bill_product_free, bill_products, bill_products_clear)

static int pr_new(const PGresult *r, int row, bill_product **out)
{
    return bill__row_new(&PR_ROW, r, row, NULL, out);
}

/* Specs: a JSON object whose values are strings, numbers or booleans. */
static int check_specs(const char *text)
{
    enum json_tokener_error jerr;
    json_object *o;
    int rc = BILL_OK;
    if (!text || !*text)
        return BILL_OK;
    if ((rc = bill__json_text_check(text, "specs")) < 0)
        return rc;
    if (!(o = json_tokener_parse_verbose(text, &jerr)))
        return bill__err(BILL_EINVALID, "specs", "specs is not valid JSON: %s",
                         json_tokener_error_desc(jerr));
    if (!json_object_is_type(o, json_type_object)) {
        rc = bill__err(BILL_EINVALID, "specs", "specs must be a JSON object of key/value pairs");
    } else {
        json_object_object_foreach(o, key, val) {
            json_type t = json_object_get_type(val);
            if (t != json_type_string && t != json_type_int && t != json_type_double &&
                t != json_type_boolean) {
                rc = bill__err(BILL_EINVALID, "specs",
                               "specs value of \"%.64s\" must be a string, number or boolean",
                               key);
                break;
            }
            if (!*key) {
                rc = bill__err(BILL_EINVALID, "specs", "specs keys must not be empty");
                break;
            }
        }
    }
    json_object_put(o);
    return rc;
}

/* A JSON number as json-c writes it back unchanged: optional '-', no
 * leading zero, digits, optionally '.' and digits; short enough to stay
 * exact as a double. "-0" would come back as 0, so it stays text. */
static bool plain_number(const char *v, bool *integer)
{
    const char *s = v;
    if (*s == '-')
        s++;
    if (!(*s >= '0' && *s <= '9') || (*s == '0' && s[1] >= '0' && s[1] <= '9'))
        return false;
    while (*s >= '0' && *s <= '9')
        s++;
    *integer = *s != '.';
    if (*s == '.') {
        s++;
        if (!(*s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0' && strlen(v) <= 15 && strcmp(v, "-0") != 0;
}

int bill_specs_from_text(const char *const *keys, const char *const *values, size_t n,
                         char **json_out)
{
    json_object *o;
    int rc = BILL_OK;

    if (!json_out || (n && (!keys || !values)))
        return bill__err(BILL_EINVALID, NULL, "bill_specs_from_text needs keys, values and out");
    *json_out = NULL;
    if (!(o = json_object_new_object()))
        return bill__err(BILL_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *v = values[i] ? values[i] : "";
        json_object *jv;
        bool integer;
        if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
            jv = json_object_new_boolean(v[0] == 't');
        else if (plain_number(v, &integer) && integer)
            jv = json_object_new_int64(strtoll(v, NULL, 10));
        else if (plain_number(v, &integer))
            jv = json_object_new_double_s(strtod(v, NULL), v); /* keeps the text as given */
        else
            jv = json_object_new_string(v);
        if (!jv || json_object_object_add(o, keys[i] ? keys[i] : "", jv) != 0) {
            json_object_put(jv);
            rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
            goto done;
        }
    }
    if (!(*json_out = bill__strdup(json_object_to_json_string_ext(
              o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE))))
        rc = bill__err(BILL_ENOMEM, NULL, "out of memory");
done:
    json_object_put(o);
    return rc;
}

/* Default price: monthly, else the shortest cycle offered. */
static bill_money default_price(const bool has[BILL_PRODUCT_CYCLES],
                                const bill_money prices[BILL_PRODUCT_CYCLES])
{
    for (int cy = BILL_CYCLE_MONTHLY; cy <= BILL_CYCLE_YEARLY; cy++)
        if (has[cy])
            return prices[cy];
    return 0;
}

typedef struct {
    const char *group, *category, *provider;
} pr_ids;

static int check_product(const bill_product_input *in, unsigned int m, pr_ids *ids)
{
    int rc;
    char buf[BILL_MONEY_BUFSZ];
    if (!in)
        return bill__err(BILL_EINVALID, NULL, "product input is required");
    if ((rc = bill__check_version(in->version, BILL_PRODUCT_INPUT_VERSION, "bill_product_input")) < 0)
        return rc;
    if ((m & BILL_PRODUCT_SET_NAME) && (rc = check_name(in->name)) < 0)
        return rc;
    if ((m & BILL_PRODUCT_SET_DESCRIPTION) && (rc = check_desc(in->description)) < 0)
        return rc;
    if ((m & BILL_PRODUCT_SET_GROUP) && (rc = opt_id(in->group_id, "group_id", &ids->group)) < 0)
        return rc;
    if ((m & BILL_PRODUCT_SET_CATEGORY) &&
        (rc = opt_id(in->category_id, "category_id", &ids->category)) < 0)
        return rc;
    if ((m & BILL_PRODUCT_SET_PROVIDER) &&
        (rc = opt_id(in->provider_interface_id, "provider_interface_id", &ids->provider)) < 0)
        return rc;
    if ((m & BILL_PRODUCT_SET_SPECS) && (rc = check_specs(in->specs_json)) < 0)
        return rc;
    if ((m & BILL_PRODUCT_SET_UPSTREAM_ID) && in->upstream_product_id &&
        strlen(in->upstream_product_id) > 200)
        return bill__err(BILL_EINVALID, "upstream_product_id", "upstream_product_id is too long");
    if ((m & BILL_PRODUCT_SET_COST_PRICE) &&
        (in->cost_price < 0 || !bill_money_in_range(in->cost_price)))
        return bill__err(BILL_EINVALID, "cost_price",
                         "cost_price %s must be between 0.00 and 9999999999.99",
                         bill_money_format(in->cost_price, buf));
    if ((m & BILL_PRODUCT_SET_PRICES) && (m & BILL_PRODUCT_SET_CYCLE_PRICES))
        return bill__err(BILL_EINVALID, "billing_cycles",
                         "replace the cycle prices or set some of them, not both");
    if (m & (BILL_PRODUCT_SET_PRICES | BILL_PRODUCT_SET_CYCLE_PRICES)) {
        int offered = 0;
        for (int cy = BILL_CYCLE_MONTHLY; cy <= BILL_CYCLE_YEARLY; cy++) {
            if (!in->has_price[cy])
                continue;
            offered++;
            if (in->prices[cy] < 0 || !bill_money_in_range(in->prices[cy]))
                return bill__err(BILL_EINVALID, "price",
                                 "%s price %s must be between 0.00 and 9999999999.99",
                                 bill_cycle_name((bill_cycle)cy),
                                 bill_money_format(in->prices[cy], buf));
        }
        if (!offered)
            return bill__err(BILL_EINVALID, "billing_cycles",
                             "a product needs a price for at least one billing cycle");
    }
    return BILL_OK;
}

static int pr_fetch(bill_conn *conn, const char *id, bool lock, PGresult **res)
{
    return bill__qp_found(conn, res, "id", "product", id,
                          lock ? "SELECT " PR_COLS ", " PR_JSON " FROM products p WHERE id = $1 "
                                 "FOR UPDATE"
                               : "SELECT " PR_COLS ", " PR_JSON " FROM products p WHERE id = $1",
                          id);
}

/* Write the product's cycle prices — all of them (`replace`: cycles not
 * offered are dropped) or only those offered in `in` (the others kept) —
 * and the default price that follows. The caller holds the product row
 * locked, so the price set read back here is the one that stays. */
static int write_prices(bill_conn *c, const char *id, const bill_product_input *in, bool replace)
{
    PGresult *res = NULL;
    bool has[BILL_PRODUCT_CYCLES] = {0};
    bill_money prices[BILL_PRODUCT_CYCLES] = {0};
    char buf[BILL_MONEY_BUFSZ];
    int rc;
    if (replace &&
        (rc = bill__qp(c, NULL, "DELETE FROM product_prices WHERE product_id = $1", id)) < 0)
        return rc;
    for (int cy = BILL_CYCLE_MONTHLY; cy <= BILL_CYCLE_YEARLY; cy++) {
        if (!in->has_price[cy])
            continue;
        if ((rc = bill__qp(c, NULL,
                           "INSERT INTO product_prices (product_id, cycle, price) "
                           "VALUES ($1, $2, $3::numeric) ON CONFLICT (product_id, cycle) "
                           "DO UPDATE SET price = EXCLUDED.price, updated_at = bill_now()",
                           id, bill_cycle_name((bill_cycle)cy),
                           bill_money_format(in->prices[cy], buf))) < 0)
            return rc;
    }
    if ((rc = bill__qp(c, &res,
                       "SELECT coalesce(string_agg(cycle || '=' || price::text, ','), '') "
                       "FROM product_prices WHERE product_id = $1",
                       id)) < 0 ||
        (rc = parse_price_list(bill__val(res, 0, 0), has, prices)) < 0)
        goto done;
    rc = bill__qp(c, NULL, "UPDATE products SET price = $2::numeric WHERE id = $1", id,
                  bill_money_format(default_price(has, prices), buf));
done:
    PQclear(res);
    return rc;
}

static int map_product_fk(int rc)
{
    if (rc == BILL_EINVALID && strcmp(bill_error_last()->sqlstate, "23503") == 0) {
        const char *msg = bill_error_last()->message;
        const char *f = strstr(msg, "group_id") ? "group_id"
                        : strstr(msg, "category_id") ? "category_id"
                                                     : "provider_interface_id";
        return bill__err(BILL_EINVALID, f, "%s does not exist", f);
    }
    if (rc == BILL_ECONFLICT)
        return bill__err(BILL_ECONFLICT, "upstream_product_id",
                         "this upstream product is already imported for that provider");
    return rc;
}

int bill_product_create(bill_db *db, const bill_actor *actor, const bill_product_input *in,
                        bill_product **out)
{
    bill_conn *c = NULL;
    PGresult *ins = NULL, *row = NULL;
    pr_ids ids = {0};
    char cost[BILL_MONEY_BUFSZ];
    int rc;
    if ((rc = bill__require_staff(actor, "change the catalog")) < 0 ||
        (rc = check_product(in, ~0u & ~(unsigned)BILL_PRODUCT_SET_CYCLE_PRICES, &ids)) < 0)
        return rc;
    if ((rc = bill__conn_acquire(db, &c)) < 0 || (rc = bill__tx_begin(c)) < 0)
        goto done;
    rc = bill__qp(c, &ins,
                  "INSERT INTO products (group_id, category_id, name, description, specs, "
                  "cost_price, provider_interface_id, upstream_product_id, active) "
                  "VALUES ($1::uuid, COALESCE($2::uuid, (SELECT category_id FROM product_groups "
                  "WHERE id = $1::uuid)), $3, $4, COALESCE($5::jsonb, '{}'::jsonb), $6::numeric, "
                  "$7::uuid, $8, $9::boolean) RETURNING id",
                  ids.group, ids.category, in->name, s_or_empty(in->description),
                  in->specs_json && *in->specs_json ? in->specs_json : NULL,
                  bill_money_format(in->cost_price, cost), ids.provider,
                  in->upstream_product_id && *in->upstream_product_id ? in->upstream_product_id
                                                                      : NULL,
                  in->active ? "true" : "false");
    if ((rc = map_product_fk(rc)) < 0)
        goto done;
    if ((rc = write_prices(c, bill__val(ins, 0, 0), in, true)) < 0 ||
        (rc = pr_fetch(c, bill__val(ins, 0, 0), false, &row)) < 0)
        goto done;
    if ((rc = bill__oplog_write(c, actor, "product.create", "product", bill__val(row, 0, 0), NULL,
                                bill__val(row, 0, PR_NCOLS))) < 0 ||
        (rc = bill__tx_commit_catalog(c)) < 0)
        goto done;
    if (out)
        rc = pr_new(row, 0, out);
done:
    PQclear(ins);
    PQclear(row);
    bill__conn_done(c);
    return rc;
}

int bill_product_get(bill_db *db, const bill_actor *actor, const char *id, bill_product **out)
{
    bill_conn *c = NULL;
    PGresult *res = NULL;
    int rc;
    if (!out)
        return bill__err(BILL_EINVALID, NULL, "out is required");
    if ((rc = bill__check_id(id, "id", "product", false)) < 0)
        return rc;
    if ((rc = bill__conn_acquire(db, &c)) < 0 || (rc = pr_fetch(c, id, false, &res)) < 0)
        goto done;
    /* Inactive products do not exist for customers. */
    if (!bill_actor_is_staff(actor) && !bill__bool(res, 0, 10)) {
        rc = bill__err(BILL_ENOTFOUND, "id", "product %s not found", id);
        goto done;
    }
    rc = pr_new(res, 0, out);
done:
    PQclear(res);
    bill__conn_done(c);
    return rc;
}

int bill_product_update(bill_db *db, const bill_actor *actor, const char *id,
                        const bill_product_input *in, unsigned int m, bill_product **out)
{
    bill_conn *c = NULL;
    PGresult *before = NULL, *after = NULL;
    pr_ids ids = {0};
    char mask[24], cost[BILL_MONEY_BUFSZ];
    int rc;
    if ((rc = bill__require_staff(actor, "change the catalog")) < 0 ||
        (rc = bill__check_id(id, "id", "product", false)) < 0 ||
        (rc = check_product(in, m, &ids)) < 0)
        return rc;
    if ((rc = bill__conn_acquire(db, &c)) < 0 || (rc = bill__tx_begin(c)) < 0 ||
        (rc = pr_fetch(c, id, true, &before)) < 0)
        goto done;
    const char *params[] = {
        id,
        bill__i64_text(m, mask),
        in->name,
        s_or_empty(in->description),
        ids.group,
        ids.category,
        in->specs_json && *in->specs_json ? in->specs_json : "{}",
        bill_money_format(in->cost_price, cost),
        ids.provider,
        in->active ? "true" : "false",
        in->upstream_product_id && *in->upstream_product_id ? in->upstream_product_id : NULL,
    };
    /* A category left empty while a group is set follows the group's. */
    rc = bill__q(c, NULL,
                 "UPDATE products SET "
                 "name = CASE WHEN ($2::int & 1) <> 0 THEN $3 ELSE name END, "
                 "description = CASE WHEN ($2::int & 2) <> 0 THEN $4 ELSE description END, "
                 "group_id = CASE WHEN ($2::int & 4) <> 0 THEN $5::uuid ELSE group_id END, "
                 "category_id = CASE WHEN ($2::int & 8) <> 0 THEN COALESCE($6::uuid, "
                 "  (SELECT g.category_id FROM product_groups g WHERE g.id = "
                 "   CASE WHEN ($2::int & 4) <> 0 THEN $5::uuid ELSE products.group_id END)) "
                 "  ELSE category_id END, "
                 "specs = CASE WHEN ($2::int & 16) <> 0 THEN $7::jsonb ELSE specs END, "
                 "cost_price = CASE WHEN ($2::int & 64) <> 0 THEN $8::numeric ELSE cost_price END, "
                 "provider_interface_id = CASE WHEN ($2::int & 128) <> 0 THEN $9::uuid "
                 "  ELSE provider_interface_id END, "
                 "active = CASE WHEN ($2::int & 256) <> 0 THEN $10::boolean ELSE active END, "
                 "upstream_product_id = CASE WHEN ($2::int & 512) <> 0 THEN $11 "
                 "  ELSE upstream_product_id END, "
                 "updated_at = bill_now() WHERE id = $1",
                 (int)BILL__ARRAY_LEN(params), params);
    if ((rc = map_product_fk(rc)) < 0)
        goto done;
    if ((m & (BILL_PRODUCT_SET_PRICES | BILL_PRODUCT_SET_CYCLE_PRICES)) &&
        (rc = write_prices(c, id, in, (m & BILL_PRODUCT_SET_PRICES) != 0)) < 0)
        goto done;
    if ((rc = pr_fetch(c, id, false, &after)) < 0 ||
        (rc = bill__oplog_write(c, actor, "product.update", "product", id,
                                bill__val(before, 0, PR_NCOLS), bill__val(after, 0, PR_NCOLS))) < 0 ||
        (rc = bill__tx_commit_catalog(c)) < 0)
        goto done;
    if (out)
        rc = pr_new(after, 0, out);
done:
    PQclear(before);
    PQclear(after);
    bill__conn_done(c);
    return rc;
}

int bill_product_delete(bill_db *db, const bill_actor *actor, const char *id)
{
    bill_conn *c = NULL;
    PGresult *before = NULL, *refs = NULL;
    int rc;
    if ((rc = bill__require_staff(actor, "change the catalog")) < 0 ||
        (rc = bill__check_id(id, "id", "product", false)) < 0)
        return rc;
    if ((rc = bill__conn_acquire(db, &c)) < 0 || (rc = bill__tx_begin(c)) < 0 ||
        (rc = pr_fetch(c, id, true, &before)) < 0)
        goto done;
    if ((rc = bill__qp(c, &refs,
                       "SELECT (SELECT count(*) FROM orders WHERE product_id = $1) + "
                       "(SELECT count(*) FROM instances WHERE product_id = $1)",
                       id)) < 0)
        goto done;
    if (bill__i64(refs, 0, 0) > 0) {
        rc = bill__err(BILL_ESTATE, "id",
                       "product %s is referenced by %s orders/instances and cannot be deleted; "
                       "deactivate it instead",
                       id, bill__val(refs, 0, 0));
        goto done;
    }
    if ((rc = bill__qp(c, NULL, "DELETE FROM products WHERE id = $1", id)) < 0 ||
        (rc = bill__oplog_write(c, actor, "product.delete", "product", id,
                                bill__val(before, 0, PR_NCOLS), NULL)) < 0)
        goto done;
    rc = bill__tx_commit_catalog(c);
done:
    PQclear(before);
    PQclear(refs);
    bill__conn_done(c);
    return rc;
}

int bill_product_list(bill_db *db, const bill_actor *actor, const bill_product_filter *filter,
                      const bill_page *page, bill_products *out)
{
    bill_product_filter f = filter ? *filter : (bill_product_filter){0};
    const char *grp = NULL, *cat = NULL, *prov = NULL;
    char *pattern = NULL;
    int rc;

    if (!out)
        return bill__err(BILL_EINVALID, NULL, "out is required");
    memset(out, 0, sizeof *out);
    if ((rc = BILL__CHECK_VERSION(filter, BILL_PRODUCT_FILTER_VERSION, "bill_product_filter")) < 0)
        return rc;
    if (!bill_actor_is_staff(actor))
        f.active = BILL_FILTER_YES;
    if ((rc = opt_id(f.group_id, "group_id", &grp)) < 0 ||
        (rc = opt_id(f.category_id, "category_id", &cat)) < 0 ||
        (rc = opt_id(f.provider_id, "provider_id", &prov)) < 0)
        return rc;
    if (f.search && *f.search && !(pattern = bill__like_pattern(f.search)))
        return bill__err(BILL_ENOMEM, NULL, "out of memory");
    /* only the filters asked for, so the statement's plan uses the indexes */
    const bill__filter filters[] = {
        {"p.active = $?::boolean",
         f.active == BILL_FILTER_ANY ? NULL : f.active == BILL_FILTER_YES ? "true" : "false"},
        {"p.group_id = $?::uuid", grp},
        {"p.category_id = $?::uuid", cat},
        {"p.provider_interface_id = $?::uuid", prov},
        {"p.specs->>'region' = $?", f.region && *f.region ? f.region : NULL},
        {"(p.name ILIKE $? ESCAPE '\\' OR p.description ILIKE $? ESCAPE '\\')", pattern},
    };
    bill__list_where w;
    if ((rc = bill__list_where_init(&w, PR_COLS, "FROM products p WHERE true",
                                    "p.created_at, p.id", filters,
                                    (int)BILL__ARRAY_LEN(filters))) == BILL_OK)
        rc = BILL__LIST_PAGE_CATALOG(db, &PR_ROW, &w.q, w.np, w.params, page, NULL, out);
    free(pattern);
    return rc;
}

/* ---- batch markup ------------------------------------------------------------------- */

/* ratio must be a decimal > 0 that bill_money_mul_ratio accepts. */
static int check_ratio(const char *ratio)
{
    bill_money probe;
    int rc;
    if (!ratio || !*ratio)
        return bill__err(BILL_EINVALID, "ratio", "ratio is required");
    if (ratio[0] == '-')
        return bill__err(BILL_EINVALID, "ratio", "ratio \"%.40s\" must be greater than 0", ratio);
    /* 10,000,000.00 x ratio is >= 0.01 for every ratio >= 1e-9. */
    rc = bill_money_mul_ratio(INT64_C(1000000000), ratio, &probe);
    if (rc == BILL_ELIMIT)
        return BILL_OK;
    if (rc < 0)
        return bill__err(BILL_EINVALID, "ratio", "ratio \"%.40s\" is not a decimal number", ratio);
    if (probe <= 0)
        return bill__err(BILL_EINVALID, "ratio", "ratio \"%.40s\" must be greater than 0", ratio);
    return BILL_OK;
}

int bill_product_markup(bill_db *db, const bill_actor *actor, const char *ratio,
                        const char *group_id, const char *category_id, bool dry_run,
                        size_t *count)
{
    bill_conn *c = NULL;
    PGresult *sel = NULL, *after = NULL;
    const char *grp = NULL, *cat = NULL;
    char buf[BILL_MONEY_BUFSZ];
    size_t changed = 0;
    int rc;

    if (count)
        *count = 0;
    if ((rc = bill__require_staff(actor, "change the catalog")) < 0 ||
        (rc = check_ratio(ratio)) < 0 || (rc = opt_id(group_id, "group_id", &grp)) < 0 ||
        (rc = opt_id(category_id, "category_id", &cat)) < 0)
        return rc;
    if (grp)
        cat = NULL; /* the group is the narrower scope */
    if ((rc = bill__conn_acquire(db, &c)) < 0 || (rc = bill__tx_begin(c)) < 0)
        goto done;
    rc = bill__qp(c, &sel,
                  "SELECT " PR_COLS ", " PR_JSON " FROM products p WHERE p.cost_price > 0 AND "
                  "($1::uuid IS NULL OR p.group_id = $1::uuid) AND "
                  "($2::uuid IS NULL OR p.category_id = $2::uuid) "
                  "ORDER BY p.id FOR UPDATE",
                  grp, cat);
    if (rc < 0)
        goto done;
    for (int i = 0; i < PQntuples(sel); i++) {
        bill_product_input in = {.version = BILL_PRODUCT_INPUT_VERSION};
        bill_money cost = 0;
        const char *id = bill__val(sel, i, 0);
        if ((rc = bill__money_col(sel, i, 9, &cost)) < 0 ||
            (rc = parse_price_list(bill__val(sel, i, 13), in.has_price, in.prices)) < 0)
            goto done;
        /* A product without cycle prices gets a monthly one. */
        if (!in.has_price[BILL_CYCLE_MONTHLY] && !in.has_price[BILL_CYCLE_QUARTERLY] &&
            !in.has_price[BILL_CYCLE_YEARLY])
            in.has_price[BILL_CYCLE_MONTHLY] = true;
        for (int cy = BILL_CYCLE_MONTHLY; cy <= BILL_CYCLE_YEARLY; cy++) {
            if (!in.has_price[cy])
                continue;
            rc = bill_money_mul_ratio(cost * bill_cycle_months((bill_cycle)cy), ratio,
                                      &in.prices[cy]);
            if (rc < 0) {
                rc = bill__err(rc, "ratio", "product %s: cost %s x %d months x %s is out of range",
                               id, bill_money_format(cost, buf),
                               bill_cycle_months((bill_cycle)cy), ratio);
                goto done;
            }
        }
        changed++;
        if (dry_run)
            continue;
        if ((rc = write_prices(c, id, &in, true)) < 0)
            goto done;
        /* The default price is one month at the new ratio, like the monthly price. */
        bill_money monthly;
        if ((rc = bill_money_mul_ratio(cost, ratio, &monthly)) < 0 ||
            (rc = bill__qp(c, NULL,
                           "UPDATE products SET price = $2::numeric, updated_at = bill_now() "
                           "WHERE id = $1",
                           id, bill_money_format(monthly, buf))) < 0)
            goto done;
        PQclear(after);
        after = NULL;
        if ((rc = pr_fetch(c, id, false, &after)) < 0 ||
            (rc = bill__oplog_write(c, actor, "product.markup", "product", id,
                                    bill__val(sel, i, PR_NCOLS), bill__val(after, 0, PR_NCOLS))) < 0)
            goto done;
    }
    if (dry_run)
        bill__tx_rollback(c);
    else if ((rc = bill__tx_commit_catalog(c)) < 0)
        goto done;
    if (count)
        *count = changed;
    rc = BILL_OK;
done:
    PQclear(sel);
    PQclear(after);
    bill__conn_done(c);
    return rc;
}
