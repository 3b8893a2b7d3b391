/*
 * plugin.h — THE libbill plugin ABI. The only header a
 * plugin includes. A plugin never links libbill and never sees its internals:
 * everything it may use from the host arrives in a bill_plugin_host table.
 *
 * A plugin is a shared object (built with name_prefix '', e.g.
 * "notifier-webhook.so") exporting exactly one symbol:
 *
 *     const bill_plugin_descriptor *bill_plugin_entry(void);
 *
 * returning a pointer to static storage that lives as long as the object is
 * loaded. The host loads it with dlopen(RTLD_NOW | RTLD_LOCAL), checks
 * abi_version, kind, id and the per-kind table, and refuses (WARN log,
 * dlclose) anything it does not know.
 *
 * Versioning rules (SQLite's iVersion / redis' module API habit):
 *   - BILL_PLUGIN_ABI_VERSION changes only if the descriptor layout changes
 *     incompatibly; the host refuses any other value.
 *   - every table (host services, per-kind function tables, request/result
 *     structs) starts with a uint32_t version; fields are APPEND-ONLY and each
 *     block says "fields above exist since version N". Readers look at newer
 *     fields only after checking the version.
 *
 * Life cycle of a configured instance ("interface"):
 *     init(host, config_json, &instance)  -> per-interface state
 *     health / kind-specific calls       -> may run concurrently on several
 *                                            threads: instance state must be
 *                                            thread-safe (treat it read-only
 *                                            after init, or lock it yourself)
 *     destroy(instance)                  -> after the last in-flight call
 *
 * Return values: BILL_PLUGIN_OK (0) or a negative code from bill/error.h
 * (BILL_EINVALID for bad input, BILL_EUNAVAILABLE/BILL_ETIMEOUT for a peer
 * that does not answer, BILL_EPLUGIN for a peer that answered nonsense...).
 * Before returning an error, call host->error(host, code, "fmt", ...) with a
 * message naming what failed; the host attaches it to the interface.
 *
 * Memory: every char * a plugin puts into a result struct is allocated with
 * malloc() (or host->strdup) and becomes the host's, which free()s it. Input
 * strings are borrowed for the duration of the call only.
 *
 * JSON crosses the boundary as text (UTF-8); plugins parse it with any
 * library they like (the built-in ones use json-c). This keeps the ABI free
 * of a third-party struct layout.
 */
#ifndef BILL_PLUGIN_H
#define BILL_PLUGIN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BILL_PLUGIN_ABI_VERSION 1u
#define BILL_PLUGIN_OK 0
#define BILL_PLUGIN_ENTRY_SYMBOL "bill_plugin_entry"

/* Exported by a plugin; `visibility("default")` even when the rest is hidden. */
#define BILL_PLUGIN_EXPORT __attribute__((visibility("default")))

typedef enum bill_plugin_kind {
    BILL_PLUGIN_NOTIFIER = 1,             /* sends notifications */
    BILL_PLUGIN_GATEWAY = 2,              /* takes payments */
    BILL_PLUGIN_UPSTREAM_PROVIDER = 3,    /* resells another billing system */
    BILL_PLUGIN_FIRST_PARTY_PROVIDER = 4, /* drives own infrastructure */
} bill_plugin_kind;

typedef enum bill_plugin_log_level {
    BILL_PLUGIN_LOG_ERROR = 1,
    BILL_PLUGIN_LOG_WARN = 2,
    BILL_PLUGIN_LOG_INFO = 3,
    BILL_PLUGIN_LOG_DEBUG = 4,
} bill_plugin_log_level;

/* ------------------------------------------------------------------------ */
/* Host services                                                            */
/* ------------------------------------------------------------------------ */

typedef struct bill_plugin_host bill_plugin_host;

#define BILL_PLUGIN_HTTP_REQUEST_VERSION 1u
typedef struct bill_plugin_http_header {
    const char *name;
    const char *value;
} bill_plugin_http_header;

/* An outgoing HTTP(S) request. The host runs it through libcurl with the
 * per-host circuit breaker: while a host's breaker is open the
 * call fails fast with BILL_EUNAVAILABLE, without touching the network. */
typedef struct bill_plugin_http_request {
    uint32_t version;              /* BILL_PLUGIN_HTTP_REQUEST_VERSION */
    const char *method;            /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    const char *url;               /* http:// or https:// only */
    const bill_plugin_http_header *headers;
    size_t n_headers;
    const char *body;              /* may be NULL */
    size_t body_len;               /* bytes of body */
    long timeout_ms;               /* 0 -> 10000; whole transfer */
    long connect_timeout_ms;       /* 0 -> 5000 */
    const char *ca_file;           /* PEM bundle to verify the peer; NULL = system */
    const char *client_cert_file;  /* PEM client certificate for mTLS; may be NULL */
    const char *client_key_file;   /* PEM key for client_cert_file; may be NULL */
    bool insecure_skip_verify;     /* only for tests / self-signed peers */
    /* fields above exist since version 1 */
} bill_plugin_http_request;

/* Response of host->http. `status` is the HTTP status (a 4xx/5xx still
 * returns BILL_OK: interpreting it is the plugin's job, but 5xx counts as a
 * failure for the breaker). Free with host->http_response_free. */
typedef struct bill_plugin_http_response {
    uint32_t version;  /* filled by the host */
    long status;
    char *body;        /* NUL-terminated, may contain NULs before body_len */
    size_t body_len;
    char *content_type;/* may be NULL */
    /* fields above exist since version 1 */
} bill_plugin_http_response;

#define BILL_PLUGIN_HOST_VERSION 1u
struct bill_plugin_host {
    uint32_t version;  /* BILL_PLUGIN_HOST_VERSION */
    void *host_data;   /* private to the host */

    /* Log a line under module "plugin::<id>". */
    void (*log)(const bill_plugin_host *h, bill_plugin_log_level level,
                const char *fmt, ...) BILL_PRINTF(3, 4);
    /* Record the detail of the failure about to be returned; returns `code`
     * so plugins can write `return h->error(h, BILL_EINVALID, "...")`. */
    int (*error)(const bill_plugin_host *h, int code, const char *fmt, ...) BILL_PRINTF(3, 4);
    /* Outgoing HTTP through libcurl + breaker. BILL_OK with *resp filled, or
     * BILL_EUNAVAILABLE (connect failure / open breaker), BILL_ETIMEOUT,
     * BILL_EINVALID (bad URL). */
    int (*http)(const bill_plugin_host *h, const bill_plugin_http_request *req,
                bill_plugin_http_response *resp);
    void (*http_response_free)(bill_plugin_http_response *resp);
    /* Current time, microseconds since the epoch, UTC (the host's clock,
     * which tests may move). */
    int64_t (*now_usec)(const bill_plugin_host *h);
    /* HMAC-SHA-256 of msg under key, as 64 lowercase hex chars + NUL. */
    void (*hmac_sha256_hex)(const void *key, size_t key_len, const void *msg,
                            size_t msg_len, char out[65]);
    /* malloc'd copy (NULL-safe) for strings handed back to the host. */
    char *(*strdup)(const char *s);
    /* fields above exist since version 1 */
};

/* ------------------------------------------------------------------------ */
/* Notifier                                                                 */
/* ------------------------------------------------------------------------ */

#define BILL_NOTIFICATION_VERSION 1u
typedef struct bill_notification {
    uint32_t version;          /* BILL_NOTIFICATION_VERSION */
    const char *event_kind;    /* "order.paid", "ticket.assigned", ... */
    const char *recipient;     /* e-mail address or NULL (plugin default) */
    const char *subject;
    const char *body;          /* plain text */
    const char *payload_json;  /* machine-readable event payload; may be NULL */
    /* fields above exist since version 1 */
} bill_notification;

#define BILL_PLUGIN_NOTIFIER_VERSION 1u
typedef struct bill_plugin_notifier {
    uint32_t version; /* BILL_PLUGIN_NOTIFIER_VERSION */
    int (*send)(void *instance, const bill_notification *n);
    /* fields above exist since version 1 */
} bill_plugin_notifier;

/* ------------------------------------------------------------------------ */
/* Gateway                                                                  */
/* ------------------------------------------------------------------------ */

#define BILL_GATEWAY_PAYMENT_REQUEST_VERSION 1u
typedef struct bill_gateway_payment_request {
    uint32_t version;          /* BILL_GATEWAY_PAYMENT_REQUEST_VERSION */
    const char *payment_id;    /* our payments.id: use as the merchant order no. */
    const char *order_id;      /* may be NULL (invoice payment) */
    const char *invoice_id;    /* may be NULL (order payment) */
    int64_t amount_cents;
    const char *currency;      /* "CNY" */
    const char *subject;       /* short product name for the payer */
    const char *return_url;    /* browser comes back here; may be NULL */
    const char *notify_url;    /* gateway calls this (server to server) */
    const char *client_ip;     /* may be NULL */
    /* fields above exist since version 1 */
} bill_gateway_payment_request;

typedef struct bill_gateway_payment_info {
    char *payment_url;         /* redirect the payer here; may be NULL */
    char *qr_code;             /* content to render as QR; may be NULL */
    char *instructions;        /* text for the payer (bank transfer); may be NULL */
    char *gateway_payment_id;  /* id the gateway will use in callbacks; required */
} bill_gateway_payment_info;

typedef enum bill_gateway_status {
    BILL_GATEWAY_PENDING = 0,
    BILL_GATEWAY_SUCCEEDED = 1,
    BILL_GATEWAY_FAILED = 2,
} bill_gateway_status;

#define BILL_GATEWAY_CALLBACK_VERSION 1u
typedef struct bill_gateway_callback {
    uint32_t version;          /* BILL_GATEWAY_CALLBACK_VERSION */
    const char *method;        /* "GET" / "POST" */
    const char *query;         /* raw query string without '?', may be "" */
    const char *body;          /* raw body, may be "" */
    size_t body_len;
    const char *content_type;  /* may be NULL */
    /* fields above exist since version 1 */
} bill_gateway_callback;

/* What the gateway told us. `verified` false means "not from the gateway"
 * (bad signature): the host changes nothing. The host still checks amount
 * and idempotency itself; the plugin reports what the gateway said. */
typedef struct bill_gateway_callback_result {
    bool verified;
    char *gateway_payment_id;  /* our payment_id echoed back by most gateways */
    char *gateway_tx_id;       /* the gateway's own transaction number */
    int64_t amount_cents;
    bill_gateway_status status;
    char *response_body;       /* what to answer the gateway ("success") */
    char *response_content_type; /* NULL -> "text/plain" */
} bill_gateway_callback_result;

#define BILL_PLUGIN_GATEWAY_VERSION 1u
typedef struct bill_plugin_gateway {
    uint32_t version; /* BILL_PLUGIN_GATEWAY_VERSION */
    int (*create_payment)(void *instance, const bill_gateway_payment_request *req,
                          bill_gateway_payment_info *out);
    int (*handle_callback)(void *instance, const bill_gateway_callback *cb,
                           bill_gateway_callback_result *out);
    /* fields above exist since version 1 */
} bill_plugin_gateway;

/* ------------------------------------------------------------------------ */
/* Providers (first-party and upstream share one table)                     */
/* ------------------------------------------------------------------------ */

typedef enum bill_provider_status {
    BILL_PROVIDER_PROVISIONING = 0,
    BILL_PROVIDER_RUNNING = 1,
    BILL_PROVIDER_STOPPED = 2,
    BILL_PROVIDER_SUSPENDED = 3,
    BILL_PROVIDER_TERMINATED = 4,
    BILL_PROVIDER_ERROR = 5,
} bill_provider_status;

#define BILL_PROVIDER_CREATE_REQUEST_VERSION 1u
typedef struct bill_provider_create_request {
    uint32_t version;              /* BILL_PROVIDER_CREATE_REQUEST_VERSION */
    const char *order_id;          /* idempotency key: same order -> same instance */
    const char *customer_id;
    const char *hostname;          /* suggested name; may be NULL */
    const char *spec_json;         /* server_spec chosen by the customer */
    const char *upstream_product_id; /* upstream providers only; may be NULL */
    /* fields above exist since version 1 */
} bill_provider_create_request;

typedef struct bill_provider_instance {
    char *provider_instance_id;    /* required on create */
    bill_provider_status status;
    char *ip_address;              /* may be NULL */
    char *message;                 /* human-readable state detail; may be NULL */
} bill_provider_instance;

/* Actions a customer may trigger. */
#define BILL_PROVIDER_ACTION_START "start"
#define BILL_PROVIDER_ACTION_STOP "stop"
#define BILL_PROVIDER_ACTION_REBOOT "reboot"
#define BILL_PROVIDER_ACTION_TERMINATE "terminate"
/* Actions the billing engine asks for (dunning). Passed through `action`
 * like the ones above, so a version 1 table needs no new field: a plugin
 * that does not know them returns BILL_EUNSUPPORTED. */
#define BILL_PROVIDER_ACTION_SUSPEND "suspend"
#define BILL_PROVIDER_ACTION_UNSUSPEND "unsuspend"

#define BILL_PLUGIN_PROVIDER_VERSION 2u
typedef struct bill_plugin_provider {
    uint32_t version; /* BILL_PLUGIN_PROVIDER_VERSION */
    /* JSON describing selectable spec fields (wire SpecTemplate):
     * {"fields":[{"name":"cpu","label":"CPU","type":"select","options":[...]}]} */
    int (*spec_template)(void *instance, char **json_out);
    int (*create_instance)(void *instance, const bill_provider_create_request *req,
                           bill_provider_instance *out);
    int (*get_instance)(void *instance, const char *provider_instance_id,
                        bill_provider_instance *out);
    /* One of BILL_PROVIDER_ACTION_*; unknown -> BILL_EUNSUPPORTED. */
    int (*action)(void *instance, const char *provider_instance_id, const char *action);
    /* JSON array of {"title","fields":{k:v},"content_html","sort_order"}. */
    int (*detail_sections)(void *instance, const char *provider_instance_id, char **json_out);
    /* Upstream providers: JSON array of {"id","name","price","specs"};
     * first-party providers set this to NULL. */
    int (*list_upstream_products)(void *instance, char **json_out);
    /* fields above exist since version 1 */

    /* The instance's plan changed (bill_instance_change_product): resize it
     * to spec_json (the new product's specs) / upstream_product_id (upstream
     * providers; may be NULL). May be NULL: BILL_EUNSUPPORTED. */
    int (*change_plan)(void *instance, const char *provider_instance_id, const char *spec_json,
                       const char *upstream_product_id);
    /* fields above exist since version 2 */
} bill_plugin_provider;

/* ------------------------------------------------------------------------ */
/* Descriptor                                                               */
/* ------------------------------------------------------------------------ */

typedef struct bill_plugin_descriptor {
    uint32_t abi_version;    /* BILL_PLUGIN_ABI_VERSION */
    bill_plugin_kind kind;
    const char *id;          /* "notifier-webhook": [a-z0-9-], unique per kind */
    const char *name;        /* human-readable */
    const char *version;     /* plugin's own version, "1.2.0" */
    /* JSON Schema subset for the interface config: type, properties,
     * required, enum, minimum, maximum, and "format":"secret" for values
     * the host encrypts at rest and never shows again. May be NULL ("{}"). */
    const char *config_schema;

    /* Create per-interface state from its config (secrets decrypted). The
     * host table outlives the instance. */
    int (*init)(const bill_plugin_host *host, const char *config_json, void **instance);
    void (*destroy)(void *instance);
    /* Cheap reachability check; BILL_OK = healthy. *detail (malloc'd, may
     * stay NULL) explains. May be NULL: always healthy. */
    int (*health)(void *instance, char **detail);

    /* Per-kind table, matching `kind`: const bill_plugin_notifier *,
     * const bill_plugin_gateway * or const bill_plugin_provider *. */
    const void *functions;
} bill_plugin_descriptor;

typedef const bill_plugin_descriptor *(*bill_plugin_entry_fn)(void);

/* The one symbol a plugin defines (declared here so the compiler checks its
 * signature). The host never links it: it finds it with dlsym. */
BILL_PLUGIN_EXPORT const bill_plugin_descriptor *bill_plugin_entry(void);

#ifdef __cplusplus
}
#endif
#endif
