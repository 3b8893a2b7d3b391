/*
 * srv.h — what bill-server's transport offers the gRPC services (one file
 * per proto service under bill-server/services/) and the layers: method
 * tables, the call a handler runs in, streams, and the server context. The
 * transport knows its services only through these tables (main hands them
 * over, see transport/server.h); it includes nothing from services/ or
 * layers/.
 *
 * A service is a static table of methods. The transport decodes the request
 * message with the method's input descriptor, runs the layer chain (auth
 * layers fill in the actor), then calls the handler on a WORKER thread (never
 * on a network loop thread), so handlers may run SQL and other blocking calls.
 *
 * Handler contract:
 *   - return BILL_GRPC_OK and set *resp to a message of the method's output
 *     type, or return a non-zero gRPC status (use bill_srv_call_error /
 *     bill_srv_call_fail, which also record the message).
 *   - *resp and everything it points to must live in the call's arena
 *     (bill_srv_call_alloc / _strdup / _sprintf / _new) or be static: the
 *     transport packs the response after the handler returns and then frees
 *     the arena in one go. Handlers never free anything they got from the arena.
 *   - `req` is owned by the transport and valid only during the call.
 *
 * Streaming methods (reflection, Health.Watch) carry bill_srv_stream_ops
 * instead of a handler; they run on the connection's loop thread over
 * native gRPC (HTTP/2) and must not block.
 *
 * Registering: each service file defines
 *     const bill_srv_service bill_srv_<name>_service = { ... };
 * and one row in services/registry.c lists it; main hands that table to the
 * server. Routing, reflection, health names and /metrics all read it.
 */
#ifndef BILL_SRV_SRV_H
#define BILL_SRV_SRV_H

#include <protobuf-c/protobuf-c.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "bill/bill.h"
#include "bill/plugin_host.h"
#include "bill/ratelimit.h"

/* gRPC status codes (grpc/doc/statuscodes.md). */
enum {
    BILL_GRPC_OK = 0,
    BILL_GRPC_CANCELLED = 1,
    BILL_GRPC_UNKNOWN = 2,
    BILL_GRPC_INVALID_ARGUMENT = 3,
    BILL_GRPC_DEADLINE_EXCEEDED = 4,
    BILL_GRPC_NOT_FOUND = 5,
    BILL_GRPC_ALREADY_EXISTS = 6,
    BILL_GRPC_PERMISSION_DENIED = 7,
    BILL_GRPC_RESOURCE_EXHAUSTED = 8,
    BILL_GRPC_FAILED_PRECONDITION = 9,
    BILL_GRPC_ABORTED = 10,
    BILL_GRPC_OUT_OF_RANGE = 11,
    BILL_GRPC_UNIMPLEMENTED = 12,
    BILL_GRPC_INTERNAL = 13,
    BILL_GRPC_UNAVAILABLE = 14,
    BILL_GRPC_DATA_LOSS = 15,
    BILL_GRPC_UNAUTHENTICATED = 16,
};

/* Method flags. */
enum {
    /* Counted against [rate_limit].login_per_sec per client IP. */
    BILL_SRV_RATE_LIMIT_LOGIN = 1u << 0,
    /* Counted against [rate_limit].register_per_sec per client IP. */
    BILL_SRV_RATE_LIMIT_REGISTER = 1u << 1,
    /* Handler never blocks (no SQL, no plugin call): the transport may run it
     * on the loop thread instead of queueing a job. */
    BILL_SRV_INLINE_OK = 1u << 2,
    /* Public catalog read: the same answer for every anonymous caller while
     * the catalog version stays the same, so an anonymous call (no
     * authorization, x-api-key or session cookie) may be answered from
     * bill_catcache on the loop thread (layers/catcache.c, issue 13). */
    BILL_SRV_CATALOG_CACHE = 1u << 3,
};

/* One in-flight request. Opaque; owned by the transport. */
typedef struct bill_srv_call bill_srv_call;

/* Server-wide configuration as loaded by bill-server (include/bill/config.h).
 * Forward-declared so services compile without knowing its layout. */
struct bill_config;

/* The server context (transport/server.h): configuration, database, plugin
 * registry, login guard, health, the tables. One per server; no globals. */
typedef struct bill_srv bill_srv;

typedef int (*bill_srv_handler)(bill_srv_call *call, const ProtobufCMessage *req,
                                ProtobufCMessage **resp);

/* ---- streams ------------------------------------------------------------------ */

/* One open stream of a streaming method. Opaque; owned by the transport. */
typedef struct bill_srv_stream bill_srv_stream;

/* What a streaming method does; every member may be NULL. *state starts
 * NULL and belongs to the method until `free`. All on the loop thread. */
typedef struct bill_srv_stream_ops {
    /* The request headers arrived (before any message). */
    void (*open)(bill_srv_stream *st, void **state);
    /* One whole request message, its string fields already checked (as for
     * unary calls: valid UTF-8, no NUL). */
    void (*message)(bill_srv_stream *st, void **state, const uint8_t *msg, size_t len);
    /* Once a second while the stream is open. */
    void (*tick)(bill_srv_stream *st, void **state);
    /* The server is stopping (GOAWAY): a stream that never ends by itself
     * finishes here. */
    void (*goaway)(bill_srv_stream *st, void **state);
    /* The stream is gone (finished, reset, or its connection closed). */
    void (*free)(void *state);
} bill_srv_stream_ops;

/* Pack and send one response message on the stream. */
void bill_srv_stream_send(bill_srv_stream *st, const ProtobufCMessage *msg);
/* End the stream with a status (and message, may be NULL). Later sends are
 * dropped. */
void bill_srv_stream_finish(bill_srv_stream *st, int status, const char *message);
bill_srv *bill_srv_stream_server(const bill_srv_stream *st);

/* ---- method and service tables ------------------------------------------------ */

typedef struct bill_srv_method {
    const char *path;                          /* "/rustbill.identity.IdentityService/Login" */
    const ProtobufCMessageDescriptor *input;   /* request type, used to unpack */
    const ProtobufCMessageDescriptor *output;  /* response type, used by reflection/checks */
    bill_srv_handler handler;                  /* unary; NULL for a streaming method */
    unsigned int flags;                        /* BILL_SRV_* */
    const bill_srv_stream_ops *stream;         /* streaming; NULL for a unary method */
} bill_srv_method;

/* One row of a service's method table: a unary method "<svc>/<name>". */
#define BILL_SRV_UNARY(svc, name, in, out, fn, fl)                                 \
    {.path = "/" svc "/" name, .input = &(in), .output = &(out), .handler = (fn),  \
     .flags = (fl)}

typedef struct bill_srv_service {
    const char *name;                          /* "rustbill.identity.IdentityService" */
    const bill_srv_method *methods;
    size_t n_methods;
} bill_srv_service;

/* Look a method up by its full path in the server's services; NULL when
 * unknown. */
const bill_srv_method *bill_srv_method_find(const bill_srv *s, const char *path, size_t len);
/* The server's services, NULL-terminated. */
const bill_srv_service *const *bill_srv_services(const bill_srv *s);

/* ---- server state ------------------------------------------------------------- */

/* Health of the server for a service name ("" = the whole server): 1
 * SERVING, 2 NOT_SERVING (stopping, or the database does not answer), 3
 * SERVICE_UNKNOWN (a name that is no service of this server). A memory
 * read: a monitor thread pings the database every 2 s. */
int bill_srv_health(const bill_srv *s, const char *service);

/* ---- what a handler may read -------------------------------------------- */

bill_srv *bill_srv_call_server(const bill_srv_call *call);
bill_db *bill_srv_call_db(const bill_srv_call *call);
/* Never NULL: the server always has a configuration (defaults at least). */
const struct bill_config *bill_srv_call_config(const bill_srv_call *call);
/* The plugin registry main created (NULL: none, e.g. transport-only tests). */
bill_plugins *bill_srv_call_plugins(const bill_srv_call *call);
/* The failed-login guard (NULL: never locked). */
bill_loginguard *bill_srv_call_loginguard(const bill_srv_call *call);
/* The method being called (its path, flags). */
const bill_srv_method *bill_srv_call_method(const bill_srv_call *call);
/* The resolved caller. Never NULL: ANONYMOUS until an auth layer sets it. */
const bill_actor *bill_srv_call_actor(const bill_srv_call *call);
/* Client IP as text ("127.0.0.1", "::1"); X-Forwarded-For is NOT trusted here. */
const char *bill_srv_call_peer_ip(const bill_srv_call *call);
/* First value of a request header (name compared case-insensitively), or NULL.
 * gRPC-Web text/binary differences are already removed. */
const char *bill_srv_call_header(const bill_srv_call *call, const char *name);
/* Value of one cookie from the Cookie header(s), arena-allocated, or NULL. */
const char *bill_srv_call_cookie(bill_srv_call *call, const char *name);
/* Short random id for log correlation; also sent back as x-request-id. */
const char *bill_srv_call_request_id(const bill_srv_call *call);
/* "/pkg.Service/Method". */
const char *bill_srv_call_path(const bill_srv_call *call);
/* Absolute deadline in CLOCK_MONOTONIC milliseconds from grpc-timeout, 0 = none. */
int64_t bill_srv_call_deadline_ms(const bill_srv_call *call);

/* ---- what a handler / auth layer may change ----------------------------- */

/* Replace the caller (auth layers). Strings are copied into the arena. */
void bill_srv_call_set_actor(bill_srv_call *call, const bill_actor *actor);
/* Remember that a credential was presented but rejected: authenticated
 * methods then fail with UNAUTHENTICATED and this message instead of
 * "login required". Copied. */
void bill_srv_call_set_auth_error(bill_srv_call *call, const char *message);
/* Same for a credential that is valid but whose account may not act (a
 * suspended customer's API key): authenticated methods fail with
 * PERMISSION_DENIED and this message; public methods still answer. */
void bill_srv_call_set_auth_denied(bill_srv_call *call, const char *message);
/* NULL when no credential was rejected. */
const char *bill_srv_call_auth_error(const bill_srv_call *call);
/* Add a response header (lowercase name), e.g. "set-cookie". May repeat.
 * Returns BILL_OK or BILL_ENOMEM. */
int bill_srv_call_add_header(bill_srv_call *call, const char *name, const char *value);

/* ---- arena: memory freed after the response is sent --------------------- */

void *bill_srv_call_alloc(bill_srv_call *call, size_t size);  /* zeroed; NULL on OOM */
char *bill_srv_call_strdup(bill_srv_call *call, const char *s); /* NULL -> "" */
char *bill_srv_call_sprintf(bill_srv_call *call, const char *fmt, ...) BILL_PRINTF(2, 3);
/* Allocate and protobuf_c_message_init() a message of type `desc`. */
void *bill_srv_call_new(bill_srv_call *call, const ProtobufCMessageDescriptor *desc);

/* ---- errors ------------------------------------------------------------- */

/* Set the status message (printf rules) and return `status`:
 *     return bill_srv_call_error(call, BILL_GRPC_NOT_FOUND, "order %s not found", id); */
int bill_srv_call_error(bill_srv_call *call, int status, const char *fmt, ...) BILL_PRINTF(3, 4);
/* Map a failed libbill call: status from bill_error_grpc_status(rc), message
 * from bill_error_last() (when it belongs to rc) else bill_strerror(rc).
 * Internal/DB errors are logged with detail and answered generically. */
int bill_srv_call_fail(bill_srv_call *call, int rc);

/* Authorization helpers for handlers: return BILL_GRPC_OK when allowed, else
 * set the error (UNAUTHENTICATED / PERMISSION_DENIED) and return it. */
int bill_srv_require_customer(bill_srv_call *call);  /* CUSTOMER actor */
int bill_srv_require_admin(bill_srv_call *call);     /* staff actor (ADMIN/CLI/SYSTEM) */
int bill_srv_require_login(bill_srv_call *call);     /* anything but ANONYMOUS */

#endif
