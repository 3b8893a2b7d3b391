/*
 * health.c — grpc.health.v1.Health (R-SRV-4) over the server's health state
 * (bill_srv_health, transport/health.c: a memory read). Check runs inline on
 * the loop thread (load balancers call it often); Watch is a streaming
 * method that sends the status on its request and again whenever it
 * changes (ticks once a second). Service names of the server answer like ""
 * (whole server); others are NOT_FOUND (Check) or SERVICE_UNKNOWN (Watch),
 * as the health protocol says.
 */
#include "../transport/srv.h"

#include <stdlib.h>
#include <string.h>

#include "grpc/health/v1/health.pb-c.h"

static int check(bill_srv_call *call, const ProtobufCMessage *reqm, ProtobufCMessage **resp)
{
    const Grpc__Health__V1__HealthCheckRequest *req = (const void *)reqm;
    int st = bill_srv_health(bill_srv_call_server(call), req->service);
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

/* ---- Watch ---------------------------------------------------------------- */

typedef struct watch_state {
    char *service;
    int last;
} watch_state;

static void watch_tick(bill_srv_stream *st, void **state)
{
    watch_state *w = *state;
    if (!w)
        return; /* no request yet */
    int status = bill_srv_health(bill_srv_stream_server(st), w->service);
    if (status == w->last)
        return;
    w->last = status;
    Grpc__Health__V1__HealthCheckResponse r = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    r.status = status;
    bill_srv_stream_send(st, &r.base);
}

static void watch_message(bill_srv_stream *st, void **state, const uint8_t *msg, size_t len)
{
    if (*state)
        return; /* one request per Watch; ignore extras */
    Grpc__Health__V1__HealthCheckRequest *req =
        grpc__health__v1__health_check_request__unpack(NULL, len, msg);
    if (!req) {
        bill_srv_stream_finish(st, BILL_GRPC_INVALID_ARGUMENT, "malformed HealthCheckRequest");
        return;
    }
    watch_state *w = calloc(1, sizeof *w);
    if (w)
        w->service = strdup(req->service);
    grpc__health__v1__health_check_request__free_unpacked(req, NULL);
    if (!w || !w->service) {
        free(w);
        bill_srv_stream_finish(st, BILL_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    *state = w;
    watch_tick(st, state);
}

/* A stopping server: Watch never ends by itself, so it ends here. */
static void watch_goaway(bill_srv_stream *st, void **state)
{
    (void)state;
    bill_srv_stream_finish(st, BILL_GRPC_OK, NULL);
}

static void watch_free(void *state)
{
    watch_state *w = state;
    if (!w)
        return;
    free(w->service);
    free(w);
}

static const bill_srv_stream_ops watch_ops = {
    .message = watch_message, .tick = watch_tick, .goaway = watch_goaway, .free = watch_free};

#define SVC "grpc.health.v1.Health"
static const bill_srv_method methods[] = {
    BILL_SRV_UNARY(SVC, "Check", grpc__health__v1__health_check_request__descriptor,
                   grpc__health__v1__health_check_response__descriptor, check,
                   BILL_SRV_INLINE_OK),
    {.path = "/" SVC "/Watch", .input = &grpc__health__v1__health_check_request__descriptor,
     .output = &grpc__health__v1__health_check_response__descriptor, .stream = &watch_ops},
};

const bill_srv_service bill_srv_health_service = {SVC, methods, 2};
