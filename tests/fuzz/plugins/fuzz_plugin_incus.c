/*
 * fuzz_plugin_incus.c — provider-incus through the real host: every answer
 * of the Incus REST API it parses ({type sync|async|error}, operations and
 * their wait result, instance state with its network, /1.0 auth) comes from
 * the fuzz input, as do the customer's spec JSON, instance ids and the
 * interface config. Input layout: pf_provider_case (plugin_fuzz.h).
 */
#include "plugin_fuzz.h"

#define CONFIG "{\"url\":\"https://incus.example.com:8443/\",\"client_cert\":\"/c.pem\"," \
               "\"client_key\":\"/k.pem\",\"project\":\"bill\",\"images\":\"debian/12,ubuntu/24.04\"}"

PF_PROVIDER_TARGET(CONFIG)
