/*
 * tables.c — what bill-server is, in three tables that main hands the
 * server (the fuzz targets hand over the same ones):
 *   - the gRPC services (one file each under services/): routing,
 *     reflection (list_services), health names and /metrics read them;
 *   - the HTTP routes, matched in order (routes/, and the transport's own
 *     gRPC route last);
 *   - the layers, in the seed's order (R-SRV-2; layers/layers.h shows where
 *     each step of the chain lives).
 * A new service is its file (listed in bill-server/meson.build) and its row
 * here; so is a route or a layer. The transport names none of them.
 */
#include "tables.h"

#include "layers/layers.h"
#include "routes/routes.h"

extern const bill_srv_service bill_srv_health_service;
extern const bill_srv_service bill_srv_reflection_v1_service;
extern const bill_srv_service bill_srv_reflection_v1alpha_service;
extern const bill_srv_service bill_srv_identity_service;
extern const bill_srv_service bill_srv_product_service;
extern const bill_srv_service bill_srv_product_group_service;
extern const bill_srv_service bill_srv_product_category_service;
extern const bill_srv_service bill_srv_integration_service;
extern const bill_srv_service bill_srv_order_service;
extern const bill_srv_service bill_srv_billing_service;
extern const bill_srv_service bill_srv_payment_service;
extern const bill_srv_service bill_srv_instance_service;
extern const bill_srv_service bill_srv_balance_service;
extern const bill_srv_service bill_srv_ticket_service;
extern const bill_srv_service bill_srv_apikey_service;

const bill_srv_service *const bill_srv_service_table[] = {
    &bill_srv_health_service,
    &bill_srv_reflection_v1_service,
    &bill_srv_reflection_v1alpha_service,
    &bill_srv_identity_service,
    &bill_srv_product_service,
    &bill_srv_product_group_service,
    &bill_srv_product_category_service,
    &bill_srv_integration_service,
    &bill_srv_order_service,
    &bill_srv_billing_service,
    &bill_srv_payment_service,
    &bill_srv_instance_service,
    &bill_srv_balance_service,
    &bill_srv_ticket_service,
    &bill_srv_apikey_service,
    NULL,
};

const bill_srv_route bill_srv_route_table[] = {
    /* before every layer: the process answers */
    {.path = "/health", .flags = BILL_SRV_ROUTE_GET | BILL_SRV_ROUTE_EARLY,
     .answer = srv_route_health},
    /* payment gateways (plain HTTP, signed by the plugin): before CORS and auth */
    {.prefix = "/callback/", .flags = BILL_SRV_ROUTE_GET | BILL_SRV_ROUTE_POST | BILL_SRV_ROUTE_EARLY,
     .job = srv_route_callback_job},
    /* the admin SPA's static files: before CORS */
    {.path = "/admin", .prefix = "/admin/", .flags = BILL_SRV_ROUTE_GET | BILL_SRV_ROUTE_EARLY,
     .job = srv_route_admin_job},
    {.path = "/ready", .flags = BILL_SRV_ROUTE_GET, .job = srv_route_ready_job},
    {.path = "/metrics", .flags = BILL_SRV_ROUTE_GET, .answer = srv_route_metrics},
    {.flags = BILL_SRV_ROUTE_GRPC, .take = srv_grpc_route},
    {0},
};

const bill_srv_layer *const bill_srv_layer_table[] = {
    &bill_srv_layer_ratelimit,    /* admit: Login / Register buckets per client IP */
    &bill_srv_layer_catcache,     /* answer: anonymous catalog calls from memory */
    &bill_srv_layer_cors,         /* request: preflights, CORS headers */
    &bill_srv_layer_session_auth, /* call: admin session cookie */
    &bill_srv_layer_jwt_auth,     /* call: customer access token */
    &bill_srv_layer_apikey_auth,  /* call: customer API key */
    NULL,
};
