/*
 * server.h — bill-server's transport internals, shared by the files in
 * bill-server/transport/ (loop, http1, http2, grpc, workers, metrics, call)
 * and the built-in services (health, reflection) and layers.
 *
 * Shape (architecture.md "Threading and I/O"):
 *   - N loop threads, each with its own epoll set and its own SO_REUSEPORT
 *     listening socket (the kernel spreads new connections), own the
 *     sockets: accept, HTTP/1.1 (http-parser), HTTP/2 (nghttp2), framing.
 *   - A complete request becomes a srv_job on the bounded FIFO queue of
 *     max_concurrency worker threads (the concurrency-limit layer). Handlers
 *     run there; the finished response goes back to the owning loop through
 *     a mutex-protected list and an eventfd wakeup.
 *   - Protocol-neutral srv_req / srv_resp sit between the HTTP codecs and the
 *     router (router.c), so HTTP/1.1 and HTTP/2 share every rule above them.
 *   - The transport names no service, layer or route: main hands the server
 *     three tables (services, routes, layers) and the server context carries
 *     everything they share (see bill_srv below). Routes (bill-server/routes)
 *     and layers (bill-server/layers) include this header; the transport
 *     includes nothing of theirs.
 * Nothing here is thread-safe unless it says so: a connection is touched only
 * by its loop thread; a job only by the worker that runs it until it is posted.
 */
#ifndef BILL_SRV_SERVER_H
#define BILL_SRV_SERVER_H

#include <nghttp2/nghttp2.h>
#include <http_parser.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bill/bill.h"
#include "bill/config.h"
#include "bill/ratelimit.h"
#include "srv.h"

#define SRV_MAX_MESSAGE (4u * 1024u * 1024u)      /* gRPC message limit */
#define SRV_MAX_BODY (SRV_MAX_MESSAGE * 2u)        /* HTTP body limit (base64 + slack) */
#define SRV_MAX_HEADER_BYTES (64u * 1024u)         /* HTTP/1.1 header block limit */
#define SRV_QUEUE_MAX 4096                         /* pending jobs before "busy" */
/* HTTP/2 rapid reset (CVE-2023-44487): RST_STREAM frames a client may send,
 * as a token bucket per connection. Past it the connection gets GOAWAY
 * ENHANCE_YOUR_CALM. nghttp2's own limiter (1000 burst, 33/s in Debian's
 * 1.52 backport) stays on behind it, set explicitly in http2.c. */
#define SRV_RESET_BURST 200
#define SRV_RESET_PER_SEC 20

/* ---- small containers (util.c) -------------------------------------------- */

typedef struct srv_buf {
    char *p;
    size_t len, cap;
} srv_buf;
int srv_buf_append(srv_buf *b, const void *data, size_t n); /* 0 or -1 (OOM) */
int srv_buf_printf(srv_buf *b, const char *fmt, ...) BILL_PRINTF(2, 3);
void srv_buf_consume(srv_buf *b, size_t n);                  /* drop n bytes at the front */
void srv_buf_free(srv_buf *b);

typedef struct srv_hdr {
    char *name;  /* lower case */
    char *value; /* inside the name's allocation: never freed on its own */
} srv_hdr;
typedef struct srv_hdrs {
    srv_hdr *v;
    size_t n, cap;
} srv_hdrs;
int srv_hdrs_add(srv_hdrs *h, const char *name, size_t nlen, const char *value, size_t vlen);
int srv_hdrs_addz(srv_hdrs *h, const char *name, const char *value);
const char *srv_hdrs_get(const srv_hdrs *h, const char *name);
void srv_hdrs_free(srv_hdrs *h);

int64_t srv_now_ms(void);                    /* CLOCK_MONOTONIC */
char *srv_base64_encode(const void *p, size_t n, size_t *outlen);
int srv_base64_decode(const char *s, size_t n, srv_buf *out);  /* 0 / -1 invalid */
void srv_percent_encode(srv_buf *out, const char *s);
/* grpc-timeout header ("1-8 digits" + H M S m u n) in ms, rounded up; -1 when
 * absent or malformed. */
int64_t srv_grpc_timeout_ms(const char *v);
/* Find cookie `name` in one Cookie header value ("a=1; b=2"). Returns a
 * pointer into `header` and sets *vlen, or NULL when absent. */
const char *srv_cookie_find(const char *header, const char *name, size_t *vlen);

/* ---- requests and responses ---------------------------------------------- */

typedef struct srv_req {
    char method[16];
    char *path;        /* without query string */
    char *query;       /* after '?', or NULL */
    char peer[64];     /* client IP (proxy-aware, set by srv_dispatch) */
    srv_hdrs hdrs;
    srv_buf body;
} srv_req;
void srv_req_free(srv_req *r);

typedef struct srv_resp {
    int status;            /* HTTP status */
    srv_hdrs hdrs;
    srv_buf body;
    srv_hdrs trailers;     /* HTTP/2 trailers (native gRPC); n == 0: none */
    bool close;            /* HTTP/1.1: close the connection afterwards */
} srv_resp;
void srv_resp_free(srv_resp *r);
/* Plain text/empty response helper. */
void srv_resp_simple(srv_resp *r, int status, const char *ctype, const char *body);

/* ---- server -------------------------------------------------------------- */

typedef struct srv_loop srv_loop;
typedef struct srv_conn srv_conn;
typedef struct srv_job srv_job;
typedef struct srv_workers srv_workers;

/* Where a response goes: a connection and (HTTP/2) a stream id. */
typedef struct srv_target {
    srv_conn *conn;
    int32_t stream_id;   /* 0 for HTTP/1.1 */
} srv_target;

typedef void (*srv_job_fn)(srv_job *job);

/* ---- routes and layers (the tables main hands the server) --------------- */

/* An HTTP route. Requests are matched against the table in order: the path
 * (exactly `path`, or anything under `prefix`), the method, and for
 * BILL_SRV_ROUTE_GRPC the content type (application/grpc*). A route answers
 * inline on the loop thread (`answer`: must not block), as a job on a
 * worker (`job`: may query the database, read files, call plugins), or
 * takes the request over (`take`, the gRPC route: it answers itself and may
 * move *req and the extra headers into its job, zeroing what it moved). An EARLY route is taken
 * before the request layers run (no CORS headers). */
enum {
    BILL_SRV_ROUTE_GET = 1u << 0,   /* GET and HEAD */
    BILL_SRV_ROUTE_POST = 1u << 1,
    BILL_SRV_ROUTE_EARLY = 1u << 2,
    BILL_SRV_ROUTE_GRPC = 1u << 3,  /* any path with a gRPC content type (the gRPC route) */
};
typedef struct bill_srv_route {
    const char *path;
    const char *prefix;
    unsigned flags;
    void (*answer)(bill_srv *s, const srv_req *req, srv_resp *resp);
    srv_job_fn job;
    void (*take)(bill_srv *s, srv_target t, srv_req *req, srv_hdrs *extra);
} bill_srv_route;

/* A layer of the request chain, in table order (the seed's). A layer acts
 * at one or more of three points, each optional:
 *   request — loop thread, every request not taken by an EARLY route:
 *             return true when it answered *resp itself (e.g. a CORS
 *             preflight); `extra` collects headers every later answer of
 *             this request carries;
 *   admit   — loop thread, a well-framed unary gRPC call before it is
 *             queued: BILL_GRPC_OK, or a status with *msg (static text);
 *   call    — worker, every unary gRPC call before its handler (the auth
 *             layers, the Redis-shared rate limit): BILL_GRPC_OK, or the
 *             status to answer with. What they share they reach through
 *             the call (bill_srv_call_loginguard, srv_call_layer_state).
 *   answer  — loop thread, a unary gRPC call the admit layers let through:
 *             true when the layer has the packed response message itself
 *             (*msg malloc'd, the transport frees it; the call is answered
 *             OK right there, no job); otherwise *keep != 0 asks for the
 *             handler's answer: after an OK, `keep` (worker) gets it with
 *             that value (the catalog cache, layers/catcache.c);
 *   metrics — /metrics text of the layer's own (loop thread, no I/O).
 * `init` (optional) makes the layer's state when the server starts
 * (srv_layers_init), `fini` frees it; request and admit get that state. */
#define SRV_MAX_LAYERS 16
typedef struct bill_srv_layer {
    const char *name;
    int (*init)(bill_srv *s, void **state);   /* BILL_OK or a BILL_E* code */
    void (*fini)(void *state);
    bool (*request)(bill_srv *s, void *state, const srv_req *req, srv_resp *resp,
                    srv_hdrs *extra);
    int (*admit)(bill_srv *s, void *state, const bill_srv_method *m, const srv_req *req,
                 const char **msg);
    int (*call)(bill_srv_call *call);
    bool (*answer)(bill_srv *s, void *state, const bill_srv_method *m, const srv_req *req,
                   void **msg, size_t *len, uint64_t *keep);
    void (*keep)(void *state, const bill_srv_method *m, const srv_req *req,
                 const bill_actor *actor, bool auth_error, uint64_t keep, const void *packed,
                 size_t plen);
    void (*metrics)(void *state, srv_buf *out);
} bill_srv_layer;

/* A layer's state from its init, for its own call hook (NULL when the
 * layer is not in the server's table). */
void *srv_call_layer_state(const bill_srv_call *call, const bill_srv_layer *layer);

/* Make / free the state of every layer in the server's table (main, before
 * srv_start / after srv_stop). init returns BILL_OK or the first layer's
 * error (with the layers before it freed again). */
int srv_layers_init(bill_srv *s);
void srv_layers_free(bill_srv *s);

/* For the route table: the gRPC route (framing, admit layers, then a job
 * running the call layers and the handler; router.c), and the /metrics
 * text of the transport itself (requests, latency, queue, connections,
 * defences; metrics.c). */
void srv_grpc_route(bill_srv *s, srv_target t, srv_req *req, srv_hdrs *extra);
void srv_metrics_render(bill_srv *s, srv_buf *out);

struct bill_srv {
    const bill_config *cfg;           /* never NULL once started (defaults at least) */
    bill_db *db;                      /* may be NULL in transport-only tests */
    /* The tables (main): services and layers NULL-terminated, routes end
     * with a row whose every member is NULL. */
    const bill_srv_service *const *services;
    const bill_srv_route *routes;
    const bill_srv_layer *const *layers;
    void *layer_state[SRV_MAX_LAYERS]; /* per layer row, from its init */
    /* Shared with services and layers (accessors in srv.h); owned by main. */
    bill_plugins *plugins;
    bill_loginguard *guard;
    const char *admin_dir;            /* static admin SPA, NULL/"" = not configured */
    int nloops;
    srv_loop *loops;
    srv_workers *workers;
    char host[256];
    int port;                         /* bound port (after start) */
    int request_timeout_ms;           /* incomplete request -> closed */
    int max_jobs_per_conn;            /* requests one connection may have queued or running */
    int idle_timeout_ms;              /* idle keep-alive connection -> closed */
    atomic_int stopping;              /* 1 after SIGTERM */
    atomic_int draining;              /* 1 from SIGTERM on: /ready 503, health NOT_SERVING */
    struct bill_cluster *cluster;     /* this instance's registry member (NULL in tests) */
    atomic_int health;                /* 1 SERVING, 2 NOT_SERVING (DB monitor) */
    atomic_long conns_open;
    struct srv_cidr *proxies;         /* [server].trusted_proxies, parsed */
    size_t nproxies;
    pthread_t monitor;
    bool monitor_started;
    pthread_mutex_t mon_mu;
    pthread_cond_t mon_cv;
};

/* Bind and start the loops (main starts the workers and the health monitor
 * around it). */
int srv_start(bill_srv *s);
/* The database monitor behind bill_srv_health (transport/health.c). */
int srv_health_monitor_start(bill_srv *s);
void srv_health_monitor_stop(bill_srv *s);
/* Stop accepting, GOAWAY, wait up to grace_ms for in-flight work, join all. */
void srv_stop(bill_srv *s, int grace_ms);

/* ---- reverse proxies (proxy.c) ------------------------------------------- */

typedef struct srv_cidr {
    int family;              /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    int bits;
} srv_cidr;
/* Parse "1.2.3.4", "::1", "10.0.0.0/8" (IPv4-mapped IPv6 counts as IPv4).
 * 0 or -1. */
int srv_cidr_parse(const char *s, srv_cidr *out);
int srv_proxy_init(bill_srv *s);           /* from cfg->server.trusted_proxies */
void srv_proxy_free(bill_srv *s);
bool srv_proxy_trusted(const bill_srv *s, const char *ip);
/* The client's IP for a request that came from socket peer `peer`: when the
 * peer is a trusted proxy, the rightmost untrusted X-Forwarded-For entry (or
 * X-Real-IP); otherwise the peer itself. */
void srv_client_ip(const bill_srv *s, const char *peer, const srv_hdrs *h, char *out,
                   size_t outsz);

/* ---- connections / targets (loop.c) ------------------------------------- */

struct srv_conn {
    bill_srv *srv;
    srv_loop *loop;
    int fd;
    int proto;                 /* 0 undecided, 1 HTTP/1.1, 2 HTTP/2 */
    char peer[64];
    srv_buf in, out;
    int64_t last_active_ms;
    int64_t req_start_ms;      /* first byte of the current incomplete request, 0 = none */
    int refs;                  /* jobs in flight that will come back here */
    int inflight;              /* requests dispatched and not yet answered */
    bool dead;                 /* socket closed; freed when refs reach 0 */
    bool close_after_write;
    bool goaway_sent;
    bool draining;             /* write side shut; reading until EOF (no RST on close) */
    int64_t drain_deadline_ms;
    bool dirty;                /* queued for one flush at the end of the loop turn */
    srv_conn *dirty_next;
    uint32_t ev;               /* current epoll mask */
    srv_conn *prev, *next;
    /* HTTP/1.1 */
    http_parser parser;
    srv_req cur;
    srv_buf hfield, hvalue;
    bool in_value;
    bool h1_busy;              /* a request is being served; parsing paused */
    bool h1_keepalive;
    bool h1_error;
    bool h1_in_feed;
    bool h1_head;              /* current request is HEAD: answer without a body */
    size_t h1_header_bytes;
    int h1_reject;             /* 413/431 decided during parsing */
    /* Jobs of this connection not yet back from the workers (pending,
     * queued or running): cancelled when their stream is reset or the
     * connection closes; at most srv->max_jobs_per_conn. Loop thread only. */
    srv_job *jobs;
    int njobs;
    /* HTTP/2 */
    nghttp2_session *h2;
    void *h2_streams;          /* list of open stream records (http2.c) */
    double reset_tokens;       /* rapid-reset bucket (SRV_RESET_*) */
    int64_t reset_refill_ms;
    bool calmed;               /* GOAWAY ENHANCE_YOUR_CALM sent: no new streams */
};

/* Hand a job to the workers on behalf of its target connection (loop
 * thread). The job is tracked by the connection and submitted to the queue
 * at the end of the loop turn, so a stream reset that arrives in the same
 * read cancels it before any worker can see it. Returns 0 (the connection
 * owns the job now) or -1 when the connection already has
 * max_jobs_per_conn jobs (the caller still owns the job and answers). */
int srv_conn_submit(srv_job *job);
/* The client reset HTTP/2 stream `stream_id`: drop its job if no worker has
 * started it, otherwise mark it so its result is discarded. */
void srv_conn_cancel_stream(srv_conn *c, int32_t stream_id);
/* The same for every job of the connection (closed, or GOAWAY for abuse). */
void srv_conn_cancel_all(srv_conn *c);
/* Answer a job the server will not run (queue full, connection limit) with
 * a clear error in the job's protocol (router.c). Takes the job. */
void srv_job_refuse(srv_job *job, int grpc_status, int http_status, const char *msg);

/* Deliver a response to a target; frees nothing of resp (caller frees). */
void srv_conn_respond(srv_target t, srv_resp *resp);
/* Write pending output; close on error. */
void srv_conn_flush(srv_conn *c);
void srv_conn_close(srv_conn *c);

/* HTTP/1.1 (http1.c) */
void srv_h1_init(srv_conn *c);
void srv_h1_feed(srv_conn *c);            /* parse c->in */
void srv_h1_respond(srv_conn *c, srv_resp *r);
void srv_h1_free(srv_conn *c);

/* HTTP/2 (http2.c) */
int srv_h2_init(srv_conn *c);
void srv_h2_feed(srv_conn *c);
void srv_h2_respond(srv_conn *c, int32_t stream_id, srv_resp *r);
void srv_h2_pump(srv_conn *c);            /* move nghttp2 output to c->out */
void srv_h2_goaway(srv_conn *c);
void srv_h2_tick(srv_conn *c);            /* once a second: Health.Watch updates */
void srv_h2_free(srv_conn *c);
/* Streaming methods over HTTP/2: append a framed gRPC message to a stream's
 * output / finish it with a status (bill_srv_stream_* call these). */
void srv_h2_stream_send(srv_conn *c, int32_t stream_id, const void *frame, size_t n);
void srv_h2_stream_finish(srv_conn *c, int32_t stream_id, int status, const char *msg);

/* ---- router and gRPC (router.c) ------------------------------------------ */

/* A request is complete: route it (inline answer or job). Takes ownership
 * of *req (moved; the caller's struct is zeroed). */
void srv_dispatch(srv_target t, srv_req *req);

/* gRPC framing helpers. */
void srv_grpc_frame(srv_buf *out, const void *msg, size_t n, bool trailer);
/* The flags byte of a request message frame: only 0 (uncompressed) is
 * served. Reserved bits / the gRPC-Web trailer bit, or the compressed bit
 * without a declared grpc-encoding: INTERNAL (gRPC's PROTOCOL-HTTP2); the
 * compressed bit with an encoding: UNIMPLEMENTED (we support identity only).
 * Returns BILL_GRPC_OK or the status, with the reason in msg. */
int srv_grpc_flags_check(uint8_t flags, const char *encoding, char *msg, size_t msgsz);

/* ---- jobs and workers (workers.c) --------------------------------------- */

struct srv_job {
    srv_job *next;         /* worker queue / completion list */
    srv_job *qprev;        /* worker queue (for removal on cancel) */
    srv_job *cnext, *cprev; /* the connection's jobs (loop thread) */
    bool tracked;          /* on its connection's list */
    bool pending;          /* dispatched this loop turn, not yet queued (loop thread) */
    bool queued;           /* in the worker queue (workers mutex) */
    atomic_bool cancelled; /* stream reset / connection gone: result discarded */
    bill_srv *srv;
    srv_target target;
    srv_job_fn run;        /* on a worker: fill job->resp */
    srv_req req;
    srv_resp resp;
    int64_t enqueued_ms;
    /* gRPC-specific */
    const bill_srv_method *method;
    int method_index;
    int web;               /* 0 native, 1 grpc-web binary, 2 grpc-web text */
    int64_t deadline_ms;
    char peer[64];
    srv_hdrs cors;         /* CORS headers to add to the response */
    int keep_layer;        /* >= 0: that layer's `keep` gets the answer (with keep_tag) */
    uint64_t keep_tag;
};

int srv_workers_start(bill_srv *s, int nthreads);
/* Queue a job (FIFO). -1 when the queue is full or stopping. Thread-safe. */
int srv_workers_submit(bill_srv *s, srv_job *job);
/* Cancel a submitted job: true when it was still queued (now removed: the
 * caller owns it again and no worker will see it); false when a worker has
 * it (job->cancelled is set: the handler is skipped if not begun, and the
 * result is discarded when it comes back). Thread-safe. */
bool srv_workers_cancel(bill_srv *s, srv_job *job);
void srv_workers_stop(bill_srv *s);           /* drain queue, join */
int srv_workers_queue_depth(bill_srv *s);
void srv_job_free(srv_job *job);
/* Worker side: the job is done; hand it back to its loop (thread-safe). */
void srv_loop_post(srv_job *job);

/* ---- gRPC calls (call.c) ------------------------------------------------- */

void srv_grpc_run_job(srv_job *job);   /* srv_job_fn for unary gRPC methods */
/* A fresh x-request-id value (16 hex digits; per-thread PRNG). */
void srv_make_request_id(char *out, size_t n);

/* Every string field of an encoded message of type `desc` (sub-messages,
 * repeated fields and map entries included) must be valid UTF-8 without
 * NUL. 0 when so; else -1 with "path: reason (field of Type)" in msg, for an
 * INVALID_ARGUMENT answer before any handler runs (pbcheck.c). */
int srv_pb_check_strings(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t n,
                         char *msg, size_t msgsz);
/* Build a gRPC (or gRPC-Web) response. msg may be NULL when status != 0. */
void srv_grpc_response(srv_resp *r, int web, int status, const char *message,
                       const uint8_t *msg, size_t n);

/* ---- metrics (metrics.c) ------------------------------------------------- */

void srv_metrics_init(const bill_srv *s);
void srv_metrics_record(int method_index, int status, int64_t micros);
void srv_metrics_inflight(int delta);
/* A handler is about to run (bill_grpc_handler_calls_total). */
void srv_metrics_handler_call(int method_index);
/* Transport defence counters (see metrics.c for their names). */
enum { SRV_EV_CANCEL_QUEUED, SRV_EV_CANCEL_STARTED, SRV_EV_STREAM_RESET, SRV_EV_CALMED,
       SRV_EV_REFUSED_CONN_LIMIT, SRV_EV_REFUSED_QUEUE_FULL, SRV_EV_COUNT };
void srv_metrics_event(int ev);
int srv_method_index(const bill_srv_method *m);      /* -1 when not in the server's tables */

#endif
