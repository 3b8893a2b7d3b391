/*
 * metrics.c — Prometheus text exposition for GET /metrics: gRPC requests by
 * method and status code, a latency histogram per method, requests being
 * handled, worker queue depth, open connections, the DB pool and the
 * plugins' per-host circuit breakers (seed 000 §9.8, R-PLG-6), handler runs
 * and the transport's defences (cancelled jobs, stream resets, calmed
 * connections, refused requests). Counters are relaxed atomics: exact
 * totals, no lock on the hot path.
 */
#include "server.h"

#include <bill/plugin_host.h>
#include <bill/redis.h>
#include <stdlib.h>

#include <string.h>

#define MAX_METHODS 256
#define NCODES 17
static const double bucket_ms[] = {1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000};
#define NBUCKETS (sizeof bucket_ms / sizeof bucket_ms[0])

static const bill_srv_method *methods[MAX_METHODS];
static int nmethods;
/* slot nmethods (== index -1) collects unknown methods */
static atomic_ulong counts[MAX_METHODS + 1][NCODES];
static atomic_ulong hist[MAX_METHODS + 1][NBUCKETS + 1];
static atomic_ullong sum_us[MAX_METHODS + 1];
static atomic_long inflight;
static atomic_ulong handler_calls[MAX_METHODS + 1];
static atomic_ulong events[SRV_EV_COUNT];

void srv_metrics_init(const bill_srv *s)
{
    const bill_srv_service *const *sv = bill_srv_services(s);
    nmethods = 0;
    for (size_t i = 0; sv[i]; i++)
        for (size_t j = 0; j < sv[i]->n_methods && nmethods < MAX_METHODS; j++)
            methods[nmethods++] = &sv[i]->methods[j];
}

int srv_method_index(const bill_srv_method *m)
{
    for (int i = 0; i < nmethods; i++)
        if (methods[i] == m)
            return i;
    return -1;
}


void srv_metrics_record(int mi, int status, int64_t micros)
{
    int slot = mi >= 0 && mi < nmethods ? mi : nmethods;
    if (status < 0 || status >= NCODES)
        status = 2;
    atomic_fetch_add_explicit(&counts[slot][status], 1, memory_order_relaxed);
    size_t b = 0;
    while (b < NBUCKETS && (double)micros / 1000.0 > bucket_ms[b])
        b++;
    atomic_fetch_add_explicit(&hist[slot][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&sum_us[slot], (unsigned long long)(micros > 0 ? micros : 0),
                              memory_order_relaxed);
}

void srv_metrics_handler_call(int mi)
{
    int slot = mi >= 0 && mi < nmethods ? mi : nmethods;
    atomic_fetch_add_explicit(&handler_calls[slot], 1, memory_order_relaxed);
}

void srv_metrics_event(int ev)
{
    if (ev >= 0 && ev < SRV_EV_COUNT)
        atomic_fetch_add_explicit(&events[ev], 1, memory_order_relaxed);
}

void srv_metrics_inflight(int delta)
{
    atomic_fetch_add_explicit(&inflight, delta, memory_order_relaxed);
}

static const char *code_name(int c)
{
    static const char *n[] = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
        "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
    return n[c];
}

void srv_metrics_render(bill_srv *s, srv_buf *o)
{
    srv_buf_printf(o, "# HELP bill_grpc_requests_total gRPC requests by method and status code.\n"
                      "# TYPE bill_grpc_requests_total counter\n");
    for (int i = 0; i <= nmethods; i++) {
        const char *path = i < nmethods ? methods[i]->path : "unknown";
        for (int c = 0; c < NCODES; c++) {
            unsigned long v = atomic_load_explicit(&counts[i][c], memory_order_relaxed);
            if (v)
                srv_buf_printf(o, "bill_grpc_requests_total{method=\"%s\",code=\"%s\"} %lu\n",
                               path, code_name(c), v);
        }
    }
    srv_buf_printf(o, "# HELP bill_grpc_request_duration_seconds gRPC latency (queue + handler).\n"
                      "# TYPE bill_grpc_request_duration_seconds histogram\n");
    for (int i = 0; i <= nmethods; i++) {
        unsigned long total = 0;
        for (size_t b = 0; b <= NBUCKETS; b++)
            total += atomic_load_explicit(&hist[i][b], memory_order_relaxed);
        if (!total)
            continue;
        const char *path = i < nmethods ? methods[i]->path : "unknown";
        unsigned long cum = 0;
        for (size_t b = 0; b < NBUCKETS; b++) {
            cum += atomic_load_explicit(&hist[i][b], memory_order_relaxed);
            srv_buf_printf(o, "bill_grpc_request_duration_seconds_bucket{method=\"%s\",le=\"%g\"} %lu\n",
                           path, bucket_ms[b] / 1000.0, cum);
        }
        srv_buf_printf(o, "bill_grpc_request_duration_seconds_bucket{method=\"%s\",le=\"+Inf\"} %lu\n",
                       path, total);
        srv_buf_printf(o, "bill_grpc_request_duration_seconds_sum{method=\"%s\"} %.6f\n", path,
                       (double)atomic_load(&sum_us[i]) / 1e6);
        srv_buf_printf(o, "bill_grpc_request_duration_seconds_count{method=\"%s\"} %lu\n", path,
                       total);
    }
    srv_buf_printf(o, "# HELP bill_grpc_handler_calls_total Service handlers actually run, by method "
                      "(a cancelled request never gets here).\n"
                      "# TYPE bill_grpc_handler_calls_total counter\n");
    for (int i = 0; i <= nmethods; i++) {
        unsigned long v = atomic_load_explicit(&handler_calls[i], memory_order_relaxed);
        if (v)
            srv_buf_printf(o, "bill_grpc_handler_calls_total{method=\"%s\"} %lu\n",
                           i < nmethods ? methods[i]->path : "unknown", v);
    }
#define EV(i) atomic_load_explicit(&events[i], memory_order_relaxed)
    srv_buf_printf(o,
        "# HELP bill_jobs_cancelled_total Requests cancelled (stream reset, connection closed "
        "or told to go away): queued = dropped before any worker took it; started = a worker "
        "had it, its result was discarded.\n"
        "# TYPE bill_jobs_cancelled_total counter\n"
        "bill_jobs_cancelled_total{stage=\"queued\"} %lu\n"
        "bill_jobs_cancelled_total{stage=\"started\"} %lu\n"
        "# HELP bill_http2_stream_resets_total RST_STREAM frames received from clients.\n"
        "# TYPE bill_http2_stream_resets_total counter\nbill_http2_stream_resets_total %lu\n"
        "# HELP bill_http2_connections_calmed_total Connections sent GOAWAY ENHANCE_YOUR_CALM "
        "for resetting streams too fast (rapid reset).\n"
        "# TYPE bill_http2_connections_calmed_total counter\n"
        "bill_http2_connections_calmed_total %lu\n"
        "# HELP bill_requests_refused_total Requests answered without running: "
        "connection_limit = [server].max_requests_per_connection reached; queue_full = the "
        "worker queue is full.\n"
        "# TYPE bill_requests_refused_total counter\n"
        "bill_requests_refused_total{reason=\"connection_limit\"} %lu\n"
        "bill_requests_refused_total{reason=\"queue_full\"} %lu\n",
        EV(SRV_EV_CANCEL_QUEUED), EV(SRV_EV_CANCEL_STARTED), EV(SRV_EV_STREAM_RESET),
        EV(SRV_EV_CALMED), EV(SRV_EV_REFUSED_CONN_LIMIT), EV(SRV_EV_REFUSED_QUEUE_FULL));
#undef EV
    srv_buf_printf(o, "# HELP bill_requests_in_flight Requests being handled by workers.\n"
                      "# TYPE bill_requests_in_flight gauge\nbill_requests_in_flight %ld\n",
                   atomic_load(&inflight));
    srv_buf_printf(o, "# HELP bill_worker_queue_depth Requests waiting for a worker.\n"
                      "# TYPE bill_worker_queue_depth gauge\nbill_worker_queue_depth %d\n",
                   srv_workers_queue_depth(s));
    srv_buf_printf(o, "# HELP bill_connections_open Open client connections.\n"
                      "# TYPE bill_connections_open gauge\nbill_connections_open %ld\n",
                   atomic_load(&s->conns_open));
    if (s->db) {
        bill_db_pool_stats st;
        memset(&st, 0, sizeof st);
        bill_db_pool_stats_get(s->db, &st);
        srv_buf_printf(o,
            "# HELP bill_db_pool_connections Database pool connections by state.\n"
            "# TYPE bill_db_pool_connections gauge\n"
            "bill_db_pool_connections{state=\"in_use\"} %d\n"
            "bill_db_pool_connections{state=\"idle\"} %d\n"
            "bill_db_pool_connections{state=\"waiting\"} %d\n"
            "bill_db_pool_connections{state=\"max\"} %d\n"
            "# TYPE bill_db_pool_acquired_total counter\nbill_db_pool_acquired_total %llu\n"
            "# TYPE bill_db_pool_timeouts_total counter\nbill_db_pool_timeouts_total %llu\n",
            st.in_use, st.idle, st.waiting, st.max, (unsigned long long)st.acquired_total,
            (unsigned long long)st.timeouts_total);
    }
    if (s->db && bill_db_redis(s->db)) {
        bill_redis_stats rs;
        bill_redis_stats_get(bill_db_redis(s->db), &rs);
        srv_buf_printf(o,
            "# HELP bill_redis_up 1 while Redis answers ([redis] enabled), 0 while this "
            "instance falls back.\n# TYPE bill_redis_up gauge\nbill_redis_up %d\n"
            "# TYPE bill_redis_commands_total counter\nbill_redis_commands_total %llu\n"
            "# TYPE bill_redis_errors_total counter\nbill_redis_errors_total %llu\n"
            "# HELP bill_redis_fallbacks_total Rate-limit checks, session lookups and locks "
            "served without Redis because it did not answer.\n"
            "# TYPE bill_redis_fallbacks_total counter\nbill_redis_fallbacks_total %llu\n"
            "# TYPE bill_redis_transitions_total counter\n"
            "bill_redis_transitions_total{to=\"down\"} %llu\n"
            "bill_redis_transitions_total{to=\"up\"} %llu\n"
            "# TYPE bill_redis_session_cache_total counter\n"
            "bill_redis_session_cache_total{result=\"hit\"} %llu\n"
            "bill_redis_session_cache_total{result=\"miss\"} %llu\n",
            rs.up ? 1 : 0, (unsigned long long)rs.commands, (unsigned long long)rs.errors,
            (unsigned long long)rs.fallbacks, (unsigned long long)rs.downs,
            (unsigned long long)rs.ups, (unsigned long long)rs.session_hits,
            (unsigned long long)rs.session_misses);
    }
    /* the layers' own figures (the catalog cache, the JWT cache) */
    for (size_t i = 0; s->layers && s->layers[i]; i++)
        if (s->layers[i]->metrics)
            s->layers[i]->metrics(s->layer_state[i], o);
    /* Circuit breakers of plugins' outgoing hosts (R-PLG-6): an in-memory
     * snapshot, no I/O, so fine on the loop thread. Host names come from
     * plugin configs: quote-safe by construction (no '"', '\\' or newline
     * in a URL host), but escape anyway. */
    bill_plugins *pl = s->plugins;
    bill_breaker_stat *bs = NULL;
    size_t nbs = 0;
    if (pl && bill_breaker_stats(pl, &bs, &nbs) == BILL_OK) {
        srv_buf_printf(o, "# HELP bill_circuit_breaker_state Outgoing host breaker: 0 closed, "
                          "1 open, 2 half-open.\n# TYPE bill_circuit_breaker_state gauge\n");
        for (size_t i = 0; i < nbs; i++) {
            char host[sizeof bs[i].host];
            size_t k = 0;
            for (const char *c = bs[i].host; *c && k + 1 < sizeof host; c++)
                host[k++] = (*c == '"' || *c == '\\' || *c == '\n') ? '_' : *c;
            host[k] = '\0';
            srv_buf_printf(o,
                "bill_circuit_breaker_state{host=\"%s\"} %d\n"
                "bill_circuit_breaker_failures_total{host=\"%s\"} %llu\n"
                "bill_circuit_breaker_rejected_total{host=\"%s\"} %llu\n"
                "bill_circuit_breaker_opened_total{host=\"%s\"} %llu\n",
                host, (int)bs[i].state, host, (unsigned long long)bs[i].failures_total, host,
                (unsigned long long)bs[i].rejected_total, host,
                (unsigned long long)bs[i].opened_total);
        }
    }
    free(bs);
    srv_buf_printf(o, "# TYPE bill_health_serving gauge\nbill_health_serving %d\n",
                   atomic_load(&s->health) == 1 ? 1 : 0);
    srv_buf_printf(o, "# HELP bill_draining 1 from SIGTERM until the listener closes.\n"
                      "# TYPE bill_draining gauge\nbill_draining %d\n",
                   atomic_load(&s->draining) ? 1 : 0);
    /* Leader roles of this instance: a memory read (the heartbeat thread
     * does the database work). Role names are identifier-like. */
    if (s->cluster) {
        bill_cluster_role_stats rs[16];
        size_t nrs = 0;
        bill_cluster_role_stats_get(s->cluster, rs, 16, &nrs);
        srv_buf_printf(o, "# HELP bill_cluster_role_held 1 while this instance holds the leader "
                          "role.\n# TYPE bill_cluster_role_held gauge\n");
        for (size_t i = 0; i < nrs; i++)
            srv_buf_printf(o, "bill_cluster_role_held{role=\"%s\"} %d\n", rs[i].role,
                           rs[i].held ? 1 : 0);
        srv_buf_printf(o, "# HELP bill_cluster_role_elections_total Times this instance took "
                          "the role.\n# TYPE bill_cluster_role_elections_total counter\n");
        for (size_t i = 0; i < nrs; i++)
            srv_buf_printf(o, "bill_cluster_role_elections_total{role=\"%s\"} %llu\n",
                           rs[i].role, (unsigned long long)rs[i].elections);
        srv_buf_printf(o, "# HELP bill_cluster_role_losses_total Times the role went to another "
                          "instance or its lease ended unrenewed.\n"
                          "# TYPE bill_cluster_role_losses_total counter\n");
        for (size_t i = 0; i < nrs; i++)
            srv_buf_printf(o, "bill_cluster_role_losses_total{role=\"%s\"} %llu\n",
                           rs[i].role, (unsigned long long)rs[i].losses);
    }
}
