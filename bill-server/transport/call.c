/*
 * call.c — one unary gRPC call on a worker thread, and the bill_srv_call API
 * handlers see (srv.h): arena, headers, actor, errors.
 *
 * Order inside the job (the tail of the layer chain): log context →
 * deadline check → the `call` points of the server's layer table, in order
 * (the auth layers) → unpack → handler → pack → gRPC / gRPC-Web response.
 * Inline methods (BILL_SRV_INLINE_OK, run on the loop thread) skip the call
 * layers: those may query the database.
 */
#include "server.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "bill/log.h"

#define MOD "bill_server::grpc"

typedef struct arena_blk {
    struct arena_blk *next;
    max_align_t align[];
} arena_blk;

struct bill_srv_call {
    srv_job *job;
    bill_srv *srv;
    bill_actor actor;
    char *auth_error;
    bool auth_denied; /* the credential was valid, its account may not act */
    char *status_msg;
    char request_id[20];
    arena_blk *arena;
    /* First 2 KiB of the arena live in the call itself (on the stack of the
     * thread running it): small calls allocate nothing from the heap. */
    size_t inline_used;
    _Alignas(max_align_t) unsigned char inline_buf[2048];
};

/* ---- arena ------------------------------------------------------------- */

void *bill_srv_call_alloc(bill_srv_call *call, size_t size)
{
    size_t al = _Alignof(max_align_t);
    size_t need = size ? (size + al - 1) / al * al : al;
    if (need >= size && need <= sizeof call->inline_buf - call->inline_used) {
        void *p = call->inline_buf + call->inline_used;
        call->inline_used += need;
        memset(p, 0, size);
        return p;
    }
    arena_blk *b = calloc(1, sizeof *b + (size ? size : 1));
    if (!b)
        return NULL;
    b->next = call->arena;
    call->arena = b;
    return b->align;
}

char *bill_srv_call_strdup(bill_srv_call *call, const char *s)
{
    if (!s)
        s = "";
    size_t n = strlen(s);
    char *p = bill_srv_call_alloc(call, n + 1);
    if (p)
        memcpy(p, s, n + 1);
    return p;
}

char *bill_srv_call_sprintf(bill_srv_call *call, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = bill_srv_call_alloc(call, (size_t)n + 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void *bill_srv_call_new(bill_srv_call *call, const ProtobufCMessageDescriptor *desc)
{
    ProtobufCMessage *m = bill_srv_call_alloc(call, desc->sizeof_message);
    if (m)
        protobuf_c_message_init(desc, m);
    return m;
}

static void arena_free(bill_srv_call *call)
{
    while (call->arena) {
        arena_blk *n = call->arena->next;
        free(call->arena);
        call->arena = n;
    }
}

/* ---- accessors ---------------------------------------------------------- */

bill_srv *bill_srv_call_server(const bill_srv_call *call) { return call->srv; }
bill_db *bill_srv_call_db(const bill_srv_call *call) { return call->srv->db; }
bill_plugins *bill_srv_call_plugins(const bill_srv_call *call) { return call->srv->plugins; }
bill_loginguard *bill_srv_call_loginguard(const bill_srv_call *call) { return call->srv->guard; }
const bill_srv_method *bill_srv_call_method(const bill_srv_call *call) { return call->job->method; }

void *srv_call_layer_state(const bill_srv_call *call, const bill_srv_layer *layer)
{
    const bill_srv *s = call->srv;
    for (size_t i = 0; s->layers && s->layers[i] && i < SRV_MAX_LAYERS; i++)
        if (s->layers[i] == layer)
            return s->layer_state[i];
    return NULL;
}
const struct bill_config *bill_srv_call_config(const bill_srv_call *call) { return call->srv->cfg; }
const bill_actor *bill_srv_call_actor(const bill_srv_call *call) { return &call->actor; }
const char *bill_srv_call_peer_ip(const bill_srv_call *call) { return call->job->peer; }
const char *bill_srv_call_request_id(const bill_srv_call *call) { return call->request_id; }
const char *bill_srv_call_path(const bill_srv_call *call) { return call->job->req.path; }
int64_t bill_srv_call_deadline_ms(const bill_srv_call *call) { return call->job->deadline_ms; }
const char *bill_srv_call_auth_error(const bill_srv_call *call) { return call->auth_error; }

const char *bill_srv_call_header(const bill_srv_call *call, const char *name)
{
    return srv_hdrs_get(&call->job->req.hdrs, name);
}

const char *bill_srv_call_cookie(bill_srv_call *call, const char *name)
{
    const srv_hdrs *h = &call->job->req.hdrs;
    for (size_t i = 0; i < h->n; i++) {
        if (strcmp(h->v[i].name, "cookie") != 0)
            continue;
        size_t vl = 0;
        const char *v = srv_cookie_find(h->v[i].value, name, &vl);
        if (!v)
            continue;
        char *out = bill_srv_call_alloc(call, vl + 1);
        if (out)
            memcpy(out, v, vl); /* the arena zeroes, so out is terminated */
        return out;
    }
    return NULL;
}

void bill_srv_call_set_actor(bill_srv_call *call, const bill_actor *a)
{
    bill_actor c = *a;
    c.user_id = a->user_id ? bill_srv_call_strdup(call, a->user_id) : NULL;
    c.username = a->username ? bill_srv_call_strdup(call, a->username) : NULL;
    c.customer_id = a->customer_id ? bill_srv_call_strdup(call, a->customer_id) : NULL;
    c.api_key_id = a->api_key_id ? bill_srv_call_strdup(call, a->api_key_id) : NULL;
    c.role = a->role ? bill_srv_call_strdup(call, a->role) : NULL;
    c.source_ip = call->job->peer;
    call->actor = c;
}

void bill_srv_call_set_auth_error(bill_srv_call *call, const char *message)
{
    call->auth_error = bill_srv_call_strdup(call, message);
}

void bill_srv_call_set_auth_denied(bill_srv_call *call, const char *message)
{
    call->auth_error = bill_srv_call_strdup(call, message);
    call->auth_denied = true;
}

int bill_srv_call_add_header(bill_srv_call *call, const char *name, const char *value)
{
    return srv_hdrs_addz(&call->job->resp.hdrs, name, value) < 0 ? BILL_ENOMEM : BILL_OK;
}

/* ---- errors ------------------------------------------------------------- */

int bill_srv_call_error(bill_srv_call *call, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = n >= 0 ? bill_srv_call_alloc(call, (size_t)n + 1) : NULL;
    if (p) {
        va_start(ap, fmt);
        vsnprintf(p, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    call->status_msg = p;
    return status;
}

int bill_srv_call_fail(bill_srv_call *call, int rc)
{
    const bill_error *e = bill_error_last();
    int status = bill_error_grpc_status(rc);
    const char *msg = (e->code == rc && e->message[0]) ? e->message : bill_strerror(rc);
    if (rc == BILL_EDB || rc == BILL_EINTERNAL || rc == BILL_EIO) {
        /* Details (SQL, paths) stay in the log; the client gets a reference. */
        BILL_LOG_ERROR(MOD, "%s failed: %s (%s) sqlstate=%s", call->job->req.path, msg,
                       bill_error_name(rc), e->sqlstate);
        return bill_srv_call_error(call, status, "internal error (request id %s)",
                                   call->request_id);
    }
    if (status == BILL_GRPC_OK)
        status = BILL_GRPC_UNKNOWN;
    return bill_srv_call_error(call, status, "%s", msg);
}

int bill_srv_require_login(bill_srv_call *call)
{
    if (call->actor.kind != BILL_ACTOR_ANONYMOUS)
        return BILL_GRPC_OK;
    return bill_srv_call_error(call, call->auth_denied ? BILL_GRPC_PERMISSION_DENIED
                                                       : BILL_GRPC_UNAUTHENTICATED,
                               "%s", call->auth_error ? call->auth_error : "login required");
}

int bill_srv_require_customer(bill_srv_call *call)
{
    int rc = bill_srv_require_login(call);
    if (rc != BILL_GRPC_OK)
        return rc;
    if (call->actor.kind != BILL_ACTOR_CUSTOMER)
        return bill_srv_call_error(call, BILL_GRPC_PERMISSION_DENIED,
                                   "this method is for customer accounts");
    return BILL_GRPC_OK;
}

int bill_srv_require_admin(bill_srv_call *call)
{
    int rc = bill_srv_require_login(call);
    if (rc != BILL_GRPC_OK)
        return rc;
    if (!bill_actor_is_staff(&call->actor))
        return bill_srv_call_error(call, BILL_GRPC_PERMISSION_DENIED,
                                   "this method needs an admin session");
    return BILL_GRPC_OK;
}

/* ---- the job ------------------------------------------------------------ */

/* Request ids only correlate log lines: a per-thread xorshift seeded once
 * from getrandom() is enough and keeps a syscall off every request. */
void srv_make_request_id(char *out, size_t n)
{
    static _Thread_local uint64_t x;
    static const char hex[] = "0123456789abcdef";
    if (x == 0) {
        if (getrandom(&x, sizeof x, GRND_NONBLOCK) != (ssize_t)sizeof x || x == 0)
            x = (uint64_t)srv_now_ms() * 0x9E3779B97F4A7C15ull | 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    uint64_t v = x;
    size_t k = 0;
    for (int i = 0; i < 16 && k + 1 < n; i++, v >>= 4)
        out[k++] = hex[v & 15];
    out[k] = '\0';
}

void srv_grpc_run_job(srv_job *job)
{
    bill_srv_call call = {.job = job, .srv = job->srv};
    call.actor.kind = BILL_ACTOR_ANONYMOUS;
    call.actor.source_ip = job->peer;
    srv_make_request_id(call.request_id, sizeof call.request_id);
    const bill_srv_method *m = job->method;
    int64_t t0 = srv_now_ms();
    int status = BILL_GRPC_OK;
    ProtobufCMessage *req = NULL, *resp = NULL;
    uint8_t *packed = NULL, small[256];
    size_t plen = 0;
    bool inline_ok = (m->flags & BILL_SRV_INLINE_OK) != 0;
    char ctx[48];

    if (!inline_ok) {
        snprintf(ctx, sizeof ctx, "req=%s", call.request_id);
        bill_log_set_context(ctx);
    }
    if (job->deadline_ms && t0 > job->deadline_ms) {
        status = bill_srv_call_error(&call, BILL_GRPC_DEADLINE_EXCEEDED,
                                     "deadline exceeded while queued");
        goto done;
    }
    if (!inline_ok) {
        for (size_t i = 0; call.srv->layers && call.srv->layers[i]; i++) {
            const bill_srv_layer *l = call.srv->layers[i];
            if (l->call && (status = l->call(&call)) != BILL_GRPC_OK)
                goto done;
        }
    }
    req = protobuf_c_message_unpack(m->input, NULL, job->req.body.len - 5,
                                    (const uint8_t *)job->req.body.p + 5);
    if (!req) {
        status = bill_srv_call_error(&call, BILL_GRPC_INVALID_ARGUMENT,
                                     "malformed %s message", m->input->name);
        goto done;
    }
    {
        /* Every string field, centrally: a NUL would silently cut the value
         * protobuf-c hands the handler ("monthly\0x" -> "monthly"). */
        char why[320];
        if (srv_pb_check_strings(m->input, (const uint8_t *)job->req.body.p + 5,
                                 job->req.body.len - 5, why, sizeof why) < 0) {
            status = bill_srv_call_error(&call, BILL_GRPC_INVALID_ARGUMENT, "%s", why);
            goto done;
        }
    }
    if (atomic_load(&job->cancelled)) {
        /* Reset or disconnected while the auth layers ran: nobody waits
         * for this answer, so the handler (and its side effects) is skipped. */
        status = bill_srv_call_error(&call, BILL_GRPC_CANCELLED, "cancelled by the client");
        goto done;
    }
    bill_error_clear();
    srv_metrics_handler_call(job->method_index);
    status = m->handler(&call, req, &resp);
    if (status == BILL_GRPC_OK && !resp)
        status = bill_srv_call_error(&call, BILL_GRPC_INTERNAL, "handler returned no response");
    if (status == BILL_GRPC_OK && job->deadline_ms && srv_now_ms() > job->deadline_ms)
        status = bill_srv_call_error(&call, BILL_GRPC_DEADLINE_EXCEEDED, "deadline exceeded");
    if (status == BILL_GRPC_OK) {
        plen = protobuf_c_message_get_packed_size(resp);
        packed = plen <= sizeof small ? small : malloc(plen ? plen : 1);
        if (!packed)
            status = bill_srv_call_error(&call, BILL_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        else
            protobuf_c_message_pack(resp, packed);
        if (packed && job->keep_tag && job->keep_layer >= 0) {
            /* the layer that could not answer from memory keeps this answer */
            const bill_srv_layer *l = job->srv->layers[job->keep_layer];
            if (l->keep)
                l->keep(job->srv->layer_state[job->keep_layer], m, &job->req, &call.actor,
                        call.auth_error != NULL, job->keep_tag, packed, plen);
        }
    }
done:
    srv_grpc_response(&job->resp, job->web, status,
                      status == BILL_GRPC_OK ? NULL
                      : call.status_msg      ? call.status_msg
                                             : "error",
                      packed, plen);
    srv_hdrs_addz(&job->resp.hdrs, "x-request-id", call.request_id);
    for (size_t i = 0; i < job->cors.n; i++)
        srv_hdrs_addz(&job->resp.hdrs, job->cors.v[i].name, job->cors.v[i].value);
    int64_t dt = srv_now_ms() - job->enqueued_ms;
    srv_metrics_record(job->method_index, status, dt * 1000);
    if (status == BILL_GRPC_UNAUTHENTICATED || status == BILL_GRPC_PERMISSION_DENIED)
        BILL_LOG_WARN(MOD, "%s from %s: status %d %s", m->path, job->peer, status,
                      call.status_msg ? call.status_msg : "");
    else
        BILL_LOG_DEBUG(MOD, "%s status=%d duration_ms=%lld%s%s", m->path, status, (long long)dt,
                       call.status_msg ? " message=" : "", call.status_msg ? call.status_msg : "");
    if (packed != small)
        free(packed);
    if (req)
        protobuf_c_message_free_unpacked(req, NULL);
    arena_free(&call);
    if (!inline_ok)
        bill_log_set_context(NULL);
}
