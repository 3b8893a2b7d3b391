/*
 * product.h — the catalog: categories, groups and products with
 * one price per billing cycle.
 *
 * Who sees what: staff see everything; CUSTOMER and ANONYMOUS actors see
 * active products only (an inactive product is BILL_ENOTFOUND for them) and
 * counts of active products. Every mutation is staff only (BILL_EDENIED
 * otherwise) and writes an operation_logs row.
 *
 * Deleting: a category that still has groups, or a group that still has
 * products, is BILL_ESTATE. A product that orders or instances refer to is
 * never deleted (the history must keep pointing at it): BILL_ESTATE saying
 * to deactivate it instead (active = false hides it from customers).
 *
 * Specs are a JSON object of scalar values (string, number, boolean), e.g.
 * {"cpu_cores":2,"memory_gb":4,"region":"hk","os":"debian-12"}; anything else
 * (not an object, nested objects/arrays, null values) is BILL_EINVALID
 * naming field "specs".
 */
#ifndef BILL_PRODUCT_H
#define BILL_PRODUCT_H

#include "common.h"
#include "actor.h"
#include "db.h"
#include "money.h"
#include "page.h"
#include "time.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BILL_CATALOG_NAME_MAX 200 /* characters, for all three kinds */

/* ---- categories ------------------------------------------------------- */

typedef struct bill_product_category {
    char *id;
    char *name;        /* unique */
    char *description;
    int32_t sort_order;
    uint32_t group_count;
    int64_t created_at;
    int64_t updated_at;
} bill_product_category;

typedef struct bill_product_categories {
    BILL_LIST_OF(bill_product_category);
} bill_product_categories;

BILL_API void bill_product_category_free(bill_product_category *c);
BILL_API void bill_product_categories_clear(bill_product_categories *l);

/* description may be NULL (""). Duplicate name -> BILL_ECONFLICT. */
BILL_API int bill_product_category_create(bill_db *db, const bill_actor *actor, const char *name,
                                          const char *description, int32_t sort_order,
                                          bill_product_category **out);
BILL_API int bill_product_category_get(bill_db *db, const bill_actor *actor, const char *id,
                                       bill_product_category **out);
/* Ordered by sort_order, name. */
BILL_API int bill_product_category_list(bill_db *db, const bill_actor *actor,
                                        const bill_page *page, bill_product_categories *out);
/* Replaces all three fields (as UpdateProductCategory does). */
BILL_API int bill_product_category_update(bill_db *db, const bill_actor *actor, const char *id,
                                          const char *name, const char *description,
                                          int32_t sort_order, bill_product_category **out);
BILL_API int bill_product_category_delete(bill_db *db, const bill_actor *actor, const char *id);

/* ---- groups ------------------------------------------------------------ */

typedef struct bill_product_group {
    char *id;
    char *category_id; /* "" when the group has no category */
    char *name;
    char *description;
    uint32_t sort_order;
    uint32_t product_count; /* active products only, for non-staff actors */
    int64_t created_at;
    int64_t updated_at;
} bill_product_group;

typedef struct bill_product_groups {
    BILL_LIST_OF(bill_product_group);
} bill_product_groups;

BILL_API void bill_product_group_free(bill_product_group *g);
BILL_API void bill_product_groups_clear(bill_product_groups *l);

/* category_id NULL/"" = none; an unknown category -> BILL_EINVALID. */
BILL_API int bill_product_group_create(bill_db *db, const bill_actor *actor,
                                       const char *category_id, const char *name,
                                       const char *description, uint32_t sort_order,
                                       bill_product_group **out);
BILL_API int bill_product_group_get(bill_db *db, const bill_actor *actor, const char *id,
                                    bill_product_group **out);
/* category_id NULL/"" = all groups. Ordered by sort_order, name. */
BILL_API int bill_product_group_list(bill_db *db, const bill_actor *actor,
                                     const char *category_id, const bill_page *page,
                                     bill_product_groups *out);
/* Replaces all fields. */
BILL_API int bill_product_group_update(bill_db *db, const bill_actor *actor, const char *id,
                                       const char *category_id, const char *name,
                                       const char *description, uint32_t sort_order,
                                       bill_product_group **out);
BILL_API int bill_product_group_delete(bill_db *db, const bill_actor *actor, const char *id);

/* ---- products ---------------------------------------------------------- */

/* Prices are indexed by bill_cycle (BILL_CYCLE_MONTHLY..BILL_CYCLE_YEARLY);
 * index 0 is unused. */
#define BILL_PRODUCT_CYCLES 4

typedef struct bill_product {
    char *id;
    char *group_id;              /* "" when none */
    char *category_id;           /* "" when none */
    char *name;
    char *description;
    char *specs_json;            /* JSON object text, "{}" when empty */
    char *provider_interface_id; /* "" when none */
    char *upstream_product_id;   /* "" when not imported */
    bill_money price;            /* default price: monthly, else the shortest cycle offered */
    bill_money cost_price;
    bool has_price[BILL_PRODUCT_CYCLES];
    bill_money prices[BILL_PRODUCT_CYCLES];
    bool active;
    int64_t created_at;
    int64_t updated_at;
} bill_product;

typedef struct bill_products {
    BILL_LIST_OF(bill_product);
} bill_products;

BILL_API void bill_product_free(bill_product *p);
BILL_API void bill_products_clear(bill_products *l);

/* Which fields of bill_product_input an update applies. */
enum {
    BILL_PRODUCT_SET_NAME = 1u << 0,
    BILL_PRODUCT_SET_DESCRIPTION = 1u << 1,
    BILL_PRODUCT_SET_GROUP = 1u << 2,
    BILL_PRODUCT_SET_CATEGORY = 1u << 3,
    BILL_PRODUCT_SET_SPECS = 1u << 4,
    BILL_PRODUCT_SET_PRICES = 1u << 5,   /* replaces the whole cycle set */
    BILL_PRODUCT_SET_COST_PRICE = 1u << 6,
    BILL_PRODUCT_SET_PROVIDER = 1u << 7,
    BILL_PRODUCT_SET_ACTIVE = 1u << 8,
    BILL_PRODUCT_SET_UPSTREAM_ID = 1u << 9,
    /* Sets the prices of the cycles whose has_price is true and keeps the
     * others, in the same transaction that holds the product row locked (no
     * read-modify-write in the caller; concurrent updates of different
     * cycles both land). The default price follows. */
    BILL_PRODUCT_SET_CYCLE_PRICES = 1u << 10,
};

/* Create uses every field; update only the masked ones. NULL strings = ""
 * (none). When group_id is set and category_id is empty, the product takes
 * the group's category. At least one cycle price is required; prices and
 * cost_price are >= 0. */
#define BILL_PRODUCT_INPUT_VERSION 1u
typedef struct bill_product_input {
    unsigned int version; /* BILL_PRODUCT_INPUT_VERSION */
    const char *name;
    const char *description;
    const char *group_id;
    const char *category_id;
    const char *specs_json;            /* NULL/"" = {} */
    const char *provider_interface_id;
    const char *upstream_product_id;
    bool has_price[BILL_PRODUCT_CYCLES];
    bill_money prices[BILL_PRODUCT_CYCLES];
    bill_money cost_price;
    bool active;
    /* fields above exist since version 1 */
} bill_product_input;

BILL_API int bill_product_create(bill_db *db, const bill_actor *actor,
                                 const bill_product_input *in, bill_product **out);
BILL_API int bill_product_get(bill_db *db, const bill_actor *actor, const char *id,
                              bill_product **out);
BILL_API int bill_product_update(bill_db *db, const bill_actor *actor, const char *id,
                                 const bill_product_input *in, unsigned int set_mask,
                                 bill_product **out);
BILL_API int bill_product_delete(bill_db *db, const bill_actor *actor, const char *id);

/* The one rule that types a spec value given as text — a `--spec
 * key=value` on the command line, an entry of a gRPC map<string,string> —
 * so every frontend stores the same JSON: "true" and "false" are booleans;
 * a plain decimal number that reads back unchanged ("2", "-1", "1.5"; not
 * "007", "0x10", " 5", "1e3", "+1", ".5", "-0", nor more than 15
 * characters) is a number; anything else stays a string. Builds the JSON
 * object of the n pairs (a later duplicate key wins) into *json_out
 * (malloc'd). NULL values count as "". */
BILL_API int bill_specs_from_text(const char *const *keys, const char *const *values, size_t n,
                                  char **json_out);

/* Tri-state filter value. */
typedef enum { BILL_FILTER_ANY = 0, BILL_FILTER_YES = 1, BILL_FILTER_NO = 2 } bill_tristate;

#define BILL_PRODUCT_FILTER_VERSION 1u
typedef struct bill_product_filter {
    unsigned int version; /* BILL_PRODUCT_FILTER_VERSION */
    bill_tristate active;      /* forced to YES for non-staff actors */
    const char *group_id;      /* NULL/"" = any */
    const char *category_id;
    const char *provider_id;   /* provider_interface_id */
    const char *region;        /* specs->>'region', exact */
    const char *search;        /* substring of name or description, case-insensitive */
    /* fields above exist since version 1 */
} bill_product_filter;

/* Ordered by created_at, id. filter/page may be NULL. */
BILL_API int bill_product_list(bill_db *db, const bill_actor *actor,
                               const bill_product_filter *filter, const bill_page *page,
                               bill_products *out);

/* Batch pricing: for every product in scope with cost_price > 0, each
 * offered cycle's price becomes cost_price × months(cycle) × ratio (cost
 * price is the monthly cost), and the default price cost_price × ratio,
 * rounded half-to-even to cents (bill_money_mul_ratio). ratio is a decimal
 * string > 0 ("1.25"). Scope: group_id, else category_id, else all products
 * (NULL/"" = unset). One transaction; one operation_logs row per changed
 * product. dry_run computes and counts but changes nothing. *count (may be
 * NULL) receives the number of products whose prices were (or would be)
 * recomputed. */
BILL_API int bill_product_markup(bill_db *db, const bill_actor *actor, const char *ratio,
                                 const char *group_id, const char *category_id, bool dry_run,
                                 size_t *count);

/* Import an upstream provider's catalog. The provider interface
 * `interface_id` (an UpstreamProvider plugin, looked up in `plugins`) lists its
 * products; each becomes (or updates) a product bound to that interface and
 * keyed by the upstream id, so importing twice never duplicates. Cost per
 * cycle = the upstream price; our price = cost × ratio ("1.2"; NULL/"" = "1"),
 * half-to-even to cents. group_id (may be NULL) places new products and their
 * category. Staff only; one transaction (a malformed upstream entry changes
 * nothing, BILL_EPLUGIN naming it); dry_run counts without changing anything.
 * *created / *updated (may be NULL) receive the counts. */
typedef struct bill_plugins bill_plugins;
BILL_API int bill_product_import_upstream(bill_db *db, const bill_actor *actor,
                                          bill_plugins *plugins, const char *interface_id,
                                          const char *group_id, const char *ratio, bool dry_run,
                                          int *created, int *updated);

#ifdef __cplusplus
}
#endif
#endif
