/*
 * product.c — rustbill.product ProductService, ProductGroupService and
 * ProductCategoryService (wire-contract.md). The catalog is readable without
 * logging in; libbill shows non-staff callers active products only (an
 * inactive one is NOT_FOUND). Category mutations need an admin session
 * (UNAUTHENTICATED when anonymous, PERMISSION_DENIED for customers).
 * ListProducts.is_active: true asks for active products only; false means
 * "no filter" (proto3 cannot tell false from unset), which for non-staff
 * callers is still active-only.
 */
#include "conv.h"

#include "rustbill/product.pb-c.h"

#include <string.h>

static Rustbill__Product__ProductInfo *product_info(bill_srv_call *call, const bill_product *p)
{
    Rustbill__Product__ProductInfo *i = bill_srv_call_new(call, &rustbill__product__product_info__descriptor);
    size_t nc = 0;

    if (!i)
        return NULL;
    i->id = conv_str(call, p->id);
    i->name = conv_str(call, p->name);
    i->description = conv_str(call, p->description);
    i->price = conv_money(call, p->price);
    i->provider_id = conv_str(call, p->provider_interface_id);
    i->active = p->active;
    i->created_at = conv_time(call, p->created_at);
    i->updated_at = conv_time(call, p->updated_at);
    i->group_id = conv_str(call, p->group_id);
    if (conv_json_map(call, p->specs_json, &rustbill__product__product_info__specs_entry__descriptor,
                      &i->n_specs, (void ***)&i->specs) != BILL_GRPC_OK)
        return NULL;
    i->billing_cycles = bill_srv_call_alloc(call, BILL_PRODUCT_CYCLES * sizeof *i->billing_cycles);
    if (!i->billing_cycles)
        return NULL;
    for (int c = BILL_CYCLE_MONTHLY; c <= BILL_CYCLE_YEARLY; c++) {
        Rustbill__Product__ProductInfo__BillingCyclesEntry *e;
        if (!p->has_price[c])
            continue;
        e = bill_srv_call_new(call, &rustbill__product__product_info__billing_cycles_entry__descriptor);
        if (!e)
            return NULL;
        e->key = (char *)bill_cycle_name((bill_cycle)c);
        e->value = conv_money(call, p->prices[c]);
        i->billing_cycles[nc++] = e;
    }
    i->n_billing_cycles = nc;
    return i;
}
CONV_ITEM_FN(product_info_item, bill_product, product_info)

static int list_products(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Product__ListProductsRequest *req = (const Rustbill__Product__ListProductsRequest *)in;
    bill_products l = {0};
    bill_page page;
    bill_product_filter f = {.version = BILL_PRODUCT_FILTER_VERSION};
    int rc, st;

    if ((st = conv_uuid(call, "provider_id", req->provider_id, false)) != BILL_GRPC_OK ||
        (st = conv_uuid(call, "group_id", req->group_id, false)) != BILL_GRPC_OK)
        return st;
    conv_page_in(req->pagination, &page);
    f.active = req->is_active ? BILL_FILTER_YES : BILL_FILTER_ANY;
    f.provider_id = req->provider_id;
    f.group_id = req->group_id;
    f.region = req->region;
    f.search = req->search;
    rc = bill_product_list(bill_srv_call_db(call), bill_srv_call_actor(call), &f, &page, &l);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    st = CONV_REPLY_LIST(call, out, &rustbill__product__list_products_response__descriptor,
                         "products", l, product_info_item);
    bill_products_clear(&l);
    return st;
}

static int get_product(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Product__GetProductRequest *req = (const Rustbill__Product__GetProductRequest *)in;
    bill_product *p = NULL;
    int rc, st;

    if ((st = conv_uuid(call, "id", req->id, true)) != BILL_GRPC_OK)
        return st;
    rc = bill_product_get(bill_srv_call_db(call), bill_srv_call_actor(call), req->id, &p);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    st = conv_reply(call, out, &rustbill__product__get_product_response__descriptor,
                    "product", product_info(call, p));
    bill_product_free(p);
    return st;
}

/* ---- groups ---------------------------------------------------------------- */

static Rustbill__Product__ProductGroupInfo *group_info(bill_srv_call *call, const bill_product_group *g)
{
    Rustbill__Product__ProductGroupInfo *i =
        bill_srv_call_new(call, &rustbill__product__product_group_info__descriptor);
    if (!i)
        return NULL;
    i->id = conv_str(call, g->id);
    i->name = conv_str(call, g->name);
    i->description = conv_str(call, g->description);
    i->sort_order = g->sort_order;
    i->product_count = g->product_count;
    i->created_at = conv_time(call, g->created_at);
    i->updated_at = conv_time(call, g->updated_at);
    i->category_id = conv_str(call, g->category_id);
    return i;
}
CONV_ITEM_FN(group_info_item, bill_product_group, group_info)

static int list_groups(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Product__ListProductGroupsRequest *req =
        (const Rustbill__Product__ListProductGroupsRequest *)in;
    bill_product_groups l = {0};
    bill_page page;
    int rc, st;

    if ((st = conv_uuid(call, "category_id", req->category_id, false)) != BILL_GRPC_OK)
        return st;
    conv_page_in(req->pagination, &page);
    rc = bill_product_group_list(bill_srv_call_db(call), bill_srv_call_actor(call), req->category_id, &page, &l);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    st = CONV_REPLY_LIST(call, out, &rustbill__product__list_product_groups_response__descriptor,
                         "groups", l, group_info_item);
    bill_product_groups_clear(&l);
    return st;
}

/* ---- categories ------------------------------------------------------------ */

static Rustbill__Product__ProductCategoryInfo *category_info(bill_srv_call *call,
                                                              const bill_product_category *c)
{
    Rustbill__Product__ProductCategoryInfo *i =
        bill_srv_call_new(call, &rustbill__product__product_category_info__descriptor);
    if (!i)
        return NULL;
    i->id = conv_str(call, c->id);
    i->name = conv_str(call, c->name);
    i->description = conv_str(call, c->description);
    /* never negative on the wire (the SPA reads varints as uint32) */
    i->sort_order = c->sort_order < 0 ? 0 : c->sort_order;
    i->group_count = c->group_count;
    i->created_at = conv_time(call, c->created_at);
    i->updated_at = conv_time(call, c->updated_at);
    return i;
}
CONV_ITEM_FN(category_info_item, bill_product_category, category_info)

static int category_reply(bill_srv_call *call, bill_product_category *c, ProtobufCMessage **out)
{
    int st = conv_reply(call, out, &rustbill__product__get_product_category_response__descriptor,
                        "category", category_info(call, c));
    bill_product_category_free(c);
    return st;
}

static int list_categories(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Product__ListProductCategoriesRequest *req =
        (const Rustbill__Product__ListProductCategoriesRequest *)in;
    bill_product_categories l = {0};
    bill_page page;
    int rc, st = BILL_GRPC_OK;

    conv_page_in(req->pagination, &page);
    rc = bill_product_category_list(bill_srv_call_db(call), bill_srv_call_actor(call), &page, &l);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    st = CONV_REPLY_LIST(call, out, &rustbill__product__list_product_categories_response__descriptor,
                         "categories", l, category_info_item);
    bill_product_categories_clear(&l);
    return st;
}

static int get_category(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Product__GetProductCategoryRequest *req =
        (const Rustbill__Product__GetProductCategoryRequest *)in;
    bill_product_category *c = NULL;
    int rc, st;

    if ((st = conv_uuid(call, "id", req->id, true)) != BILL_GRPC_OK)
        return st;
    rc = bill_product_category_get(bill_srv_call_db(call), bill_srv_call_actor(call), req->id, &c);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    return category_reply(call, c, out);
}

static int create_category(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Product__CreateProductCategoryRequest *req =
        (const Rustbill__Product__CreateProductCategoryRequest *)in;
    bill_product_category *c = NULL;
    int rc, st;

    if ((st = bill_srv_require_admin(call)) != BILL_GRPC_OK)
        return st;
    if (req->sort_order < 0)
        return bill_srv_call_error(call, BILL_GRPC_INVALID_ARGUMENT, "sort_order: %d is negative",
                                   (int)req->sort_order);
    rc = bill_product_category_create(bill_srv_call_db(call), bill_srv_call_actor(call), req->name,
                                      req->description, req->sort_order, &c);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    return category_reply(call, c, out);
}

static int update_category(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Product__UpdateProductCategoryRequest *req =
        (const Rustbill__Product__UpdateProductCategoryRequest *)in;
    bill_product_category *c = NULL;
    int rc, st;

    if ((st = bill_srv_require_admin(call)) != BILL_GRPC_OK ||
        (st = conv_uuid(call, "id", req->id, true)) != BILL_GRPC_OK)
        return st;
    if (req->sort_order < 0)
        return bill_srv_call_error(call, BILL_GRPC_INVALID_ARGUMENT, "sort_order: %d is negative",
                                   (int)req->sort_order);
    rc = bill_product_category_update(bill_srv_call_db(call), bill_srv_call_actor(call), req->id, req->name,
                                      req->description, req->sort_order, &c);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    return category_reply(call, c, out);
}

static int delete_category(bill_srv_call *call, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rustbill__Product__DeleteProductCategoryRequest *req =
        (const Rustbill__Product__DeleteProductCategoryRequest *)in;
    int rc, st;

    if ((st = bill_srv_require_admin(call)) != BILL_GRPC_OK ||
        (st = conv_uuid(call, "id", req->id, true)) != BILL_GRPC_OK)
        return st;
    rc = bill_product_category_delete(bill_srv_call_db(call), bill_srv_call_actor(call), req->id);
    if (rc < 0)
        return bill_srv_call_fail(call, rc);
    return conv_reply(call, out, &rustbill__product__delete_product_category_response__descriptor, NULL, NULL);
}

#define M(svc, name, in, outd, fn) CONV_METHOD(product, svc, name, in, outd, fn, 0)
/* the same, for a public catalog read (answers cached for anonymous callers) */
#define MC(svc, name, in, outd, fn) \
    CONV_METHOD(product, svc, name, in, outd, fn, BILL_SRV_CATALOG_CACHE)

static const bill_srv_method product_methods[] = {
    MC("ProductService", "ListProducts", list_products_request, list_products_response, list_products),
    MC("ProductService", "GetProduct", get_product_request, get_product_response, get_product),
};
static const bill_srv_method group_methods[] = {
    MC("ProductGroupService", "ListProductGroups", list_product_groups_request,
      list_product_groups_response, list_groups),
};
static const bill_srv_method category_methods[] = {
    MC("ProductCategoryService", "ListProductCategories", list_product_categories_request,
      list_product_categories_response, list_categories),
    M("ProductCategoryService", "GetProductCategory", get_product_category_request,
      get_product_category_response, get_category),
    M("ProductCategoryService", "CreateProductCategory", create_product_category_request,
      get_product_category_response, create_category),
    M("ProductCategoryService", "UpdateProductCategory", update_product_category_request,
      get_product_category_response, update_category),
    M("ProductCategoryService", "DeleteProductCategory", delete_product_category_request,
      delete_product_category_response, delete_category),
};

CONV_SERVICE(bill_srv_product_service, "rustbill.product.ProductService", product_methods);
CONV_SERVICE(bill_srv_product_group_service, "rustbill.product.ProductGroupService", group_methods);
CONV_SERVICE(bill_srv_product_category_service,
             "rustbill.product.ProductCategoryService", category_methods);
