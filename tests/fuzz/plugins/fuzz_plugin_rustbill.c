/*
 * fuzz_plugin_rustbill.c — provider-rustbill through the real host: every
 * upstream answer is a gRPC-Web body from the fuzz input (frames, trailers
 * with grpc-status / grpc-message, the protobuf messages of ListProducts,
 * ListOrders, CreateOrder, PayOrder, GetOrder, ListInstances and
 * ListProviders), as are the customer's spec JSON, ids and the interface
 * config. Input layout: pf_provider_case (plugin_fuzz.h).
 */
#include "plugin_fuzz.h"

#define CONFIG "{\"upstream_url\":\"https://upstream.example.com/\",\"api_key\":\"rb_live_0123456789\"," \
               "\"timeout\":5}"

PF_PROVIDER_TARGET(CONFIG)
