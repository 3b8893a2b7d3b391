/*
 * registry.c — every gRPC service this server exposes, in one array.
 * Routing, reflection (list_services), health names and /metrics all read it.
 * Service files that are not in the tree yet are left out by meson
 * (BILL_SRV_HAVE_<NAME> defines), so the server builds at every stage.
 */
#include "service.h"

#include <string.h>

extern const bill_srv_service bill_srv_health_service;
extern const bill_srv_service bill_srv_reflection_v1_service;
extern const bill_srv_service bill_srv_reflection_v1alpha_service;
#ifdef BILL_SRV_HAVE_IDENTITY
extern const bill_srv_service bill_srv_identity_service;
#endif
#ifdef BILL_SRV_HAVE_PRODUCT
extern const bill_srv_service bill_srv_product_service;
extern const bill_srv_service bill_srv_product_group_service;
extern const bill_srv_service bill_srv_product_category_service;
#endif
#ifdef BILL_SRV_HAVE_INTEGRATION
extern const bill_srv_service bill_srv_integration_service;
#endif
#ifdef BILL_SRV_HAVE_ORDER
extern const bill_srv_service bill_srv_order_service;
#endif
#ifdef BILL_SRV_HAVE_BILLING
extern const bill_srv_service bill_srv_billing_service;
#endif
#ifdef BILL_SRV_HAVE_PAYMENT
extern const bill_srv_service bill_srv_payment_service;
#endif
#ifdef BILL_SRV_HAVE_INSTANCE
extern const bill_srv_service bill_srv_instance_service;
#endif
#ifdef BILL_SRV_HAVE_BALANCE
extern const bill_srv_service bill_srv_balance_service;
#endif
#ifdef BILL_SRV_HAVE_TICKET
extern const bill_srv_service bill_srv_ticket_service;
#endif
#ifdef BILL_SRV_HAVE_APIKEY
extern const bill_srv_service bill_srv_apikey_service;
#endif

const bill_srv_service *const bill_srv_services[] = {
    &bill_srv_health_service,
    &bill_srv_reflection_v1_service,
    &bill_srv_reflection_v1alpha_service,
#ifdef BILL_SRV_HAVE_IDENTITY
    &bill_srv_identity_service,
#endif
#ifdef BILL_SRV_HAVE_PRODUCT
    &bill_srv_product_service,
    &bill_srv_product_group_service,
    &bill_srv_product_category_service,
#endif
#ifdef BILL_SRV_HAVE_INTEGRATION
    &bill_srv_integration_service,
#endif
#ifdef BILL_SRV_HAVE_ORDER
    &bill_srv_order_service,
#endif
#ifdef BILL_SRV_HAVE_BILLING
    &bill_srv_billing_service,
#endif
#ifdef BILL_SRV_HAVE_PAYMENT
    &bill_srv_payment_service,
#endif
#ifdef BILL_SRV_HAVE_INSTANCE
    &bill_srv_instance_service,
#endif
#ifdef BILL_SRV_HAVE_BALANCE
    &bill_srv_balance_service,
#endif
#ifdef BILL_SRV_HAVE_TICKET
    &bill_srv_ticket_service,
#endif
#ifdef BILL_SRV_HAVE_APIKEY
    &bill_srv_apikey_service,
#endif
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
