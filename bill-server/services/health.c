/*
 * health.c — grpc.health.v1.Health (R-SRV-4). A monitor thread pings the
 * database every 2 s and keeps one SERVING/NOT_SERVING flag, so Check is a
 * memory read (it runs inline on the loop thread: load balancers call it
 * often) and Watch streams see changes within a second. Service names known
 * to the registry answer like "" (whole server); others are NOT_FOUND
 * (Check) or SERVICE_UNKNOWN (Watch), as the health protocol says.
 */
#include "../transport/server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grpc/health/v1/health.pb-c.h"

int srv_health_status(bill_srv *s, const char *service)
{
    if (atomic_load(&s->stopping))
        return GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
    if (service && *service) {
        bool known = false;
        for (size_t i = 0; bill_srv_services[i] && !known; i++)
            known = strcmp(bill_srv_services[i]->name, service) == 0;
        if (!known)
            return GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN;
    }
    return atomic_load(&s->health) == 1
               ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
               : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
}

static int check(bill_srv_call *call, const ProtobufCMessage *reqm, ProtobufCMessage **resp)
{
    const Grpc__Health__V1__HealthCheckRequest *req = (const void *)reqm;
    int st = srv_health_status(srv_global, req->service);
    if (st == GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN)
        return bill_srv_call_error(call, BILL_GRPC_NOT_FOUND, "unknown service \"%s\"",
                                   req->service);
    Grpc__Health__V1__HealthCheckResponse *r =
        bill_srv_call_new(call, &grpc__health__v1__health_check_response__descriptor);
    if (!r)
        return bill_srv_call_error(call, BILL_GRPC_RESOURCE_EXHAUSTED, "out of memory");
    r->status = st;
    *resp = &r->base;
    return BILL_GRPC_OK;
}

static const bill_srv_method methods[] = {
    {"/grpc.health.v1.Health/Check", &grpc__health__v1__health_check_request__descriptor,
     &grpc__health__v1__health_check_response__descriptor, check, BILL_SRV_INLINE_OK},
    {"/grpc.health.v1.Health/Watch", &grpc__health__v1__health_check_request__descriptor,
     &grpc__health__v1__health_check_response__descriptor, NULL, BILL_SRV_STREAMING},
};

const bill_srv_service bill_srv_health_service = {"grpc.health.v1.Health", methods, 2};

/* ---- Watch (server streaming over HTTP/2, driven by http2.c) ------------ */

typedef struct watch_state {
    char *service;
    int last;
} watch_state;

static void watch_send(srv_conn *c, int32_t id, int status)
{
    Grpc__Health__V1__HealthCheckResponse r = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    r.status = status;
    uint8_t buf[16];
    size_t n = grpc__health__v1__health_check_response__pack(&r, buf);
    srv_buf f = {0};
    srv_grpc_frame(&f, buf, n, false);
    srv_h2_stream_send(c, id, f.p, f.len);
    srv_buf_free(&f);
}

void srv_health_watch_message(srv_conn *c, int32_t id, const uint8_t *msg, size_t len,
                              void **state);
void srv_health_watch_message(srv_conn *c, int32_t id, const uint8_t *msg, size_t len,
                              void **state)
{
    watch_state *w = *state;
    if (msg) { /* the request: start watching */
        if (w)
            return; /* one request per Watch; ignore extras */
        Grpc__Health__V1__HealthCheckRequest *req =
            grpc__health__v1__health_check_request__unpack(NULL, len, msg);
        if (!req) {
            srv_h2_stream_finish(c, id, BILL_GRPC_INVALID_ARGUMENT,
                                 "malformed HealthCheckRequest");
            return;
        }
        w = calloc(1, sizeof *w);
        if (w)
            w->service = strdup(req->service);
        grpc__health__v1__health_check_request__free_unpacked(req, NULL);
        if (!w || !w->service) {
            if (w)
                free(w);
            srv_h2_stream_finish(c, id, BILL_GRPC_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
        *state = w;
    }
    if (!w)
        return;
    int st = srv_health_status(srv_global, w->service);
    if (st != w->last) {
        w->last = st;
        watch_send(c, id, st);
    }
}

void srv_health_watch_free(void *state);
void srv_health_watch_free(void *state)
{
    watch_state *w = state;
    if (!w)
        return;
    free(w->service);
    free(w);
}

/* ---- DB monitor ---------------------------------------------------------- */

static void *monitor_main(void *arg)
{
    bill_srv *s = arg;
    pthread_mutex_lock(&s->mon_mu);
    while (!atomic_load(&s->stopping)) {
        pthread_mutex_unlock(&s->mon_mu);
        bool ok = s->db == NULL || bill_db_ping(s->db) == BILL_OK;
        atomic_store(&s->health, ok ? 1 : 2);
        pthread_mutex_lock(&s->mon_mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 2;
        while (!atomic_load(&s->stopping) &&
               pthread_cond_timedwait(&s->mon_cv, &s->mon_mu, &ts) != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&s->mon_mu);
    return NULL;
}

int srv_health_monitor_start(bill_srv *s);
int srv_health_monitor_start(bill_srv *s)
{
    pthread_mutex_init(&s->mon_mu, NULL);
    pthread_cond_init(&s->mon_cv, NULL);
    atomic_store(&s->health, s->db == NULL || bill_db_ping(s->db) == BILL_OK ? 1 : 2);
    if (pthread_create(&s->monitor, NULL, monitor_main, s) != 0)
        return -1;
    s->monitor_started = true;
    return 0;
}

void srv_health_monitor_stop(bill_srv *s);
void srv_health_monitor_stop(bill_srv *s)
{
    if (!s->monitor_started)
        return;
    pthread_mutex_lock(&s->mon_mu);
    pthread_cond_broadcast(&s->mon_cv);
    pthread_mutex_unlock(&s->mon_mu);
    pthread_join(s->monitor, NULL);
    s->monitor_started = false;
}
