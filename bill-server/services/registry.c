/*
 * registry.c — every gRPC service this server exposes, in one array.
 * Routing, reflection (list_services), health names and /metrics all read it.
 * A new service is its file (listed in bill-server/meson.build) and its row
 * here.
 */
#include "service.h"

#include <string.h>

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

const bill_srv_service *const bill_srv_services[] = {
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

const bill_srv_method *bill_srv_method_find(const char *path, size_t len)
{
    for (size_t i = 0; bill_srv_services[i]; i++) {
        const bill_srv_service *s = bill_srv_services[i];
        for (size_t j = 0; j < s->n_methods; j++)
            if (strlen(s->methods[j].path) == len && memcmp(s->methods[j].path, path, len) == 0)
                return &s->methods[j];
    }
    return NULL;
}
