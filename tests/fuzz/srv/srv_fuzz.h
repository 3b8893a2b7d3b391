/*
 * srv_fuzz.h — shared scaffolding for the bill-server libFuzzer targets.
 *
 * The targets compile bill-server's codecs, router, layers and services
 * (everything but main.c, loop.c and workers.c) and drive them on one thread:
 * srv_fuzz.c stands in for the event loop (responses are serialised into the
 * connection's output buffer and dropped) and for the worker pool (every
 * submit is refused, so calls that need a worker get the "busy" answer and
 * the whole request path still runs to its response).
 */
#ifndef BILL_SRV_FUZZ_H
#define BILL_SRV_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "transport/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The process-wide server (config defaults + CORS origin + trusted proxy
 * 127.0.0.1), created on first use. */
bill_srv *srv_fuzz_server(void);
/* A fresh connection on that server (proto 0 = undecided); free with
 * srv_fuzz_conn_free. */
srv_conn *srv_fuzz_conn_new(void);
void srv_fuzz_conn_free(srv_conn *c);
/* Hand bytes to the connection as loop.c would (protocol detection, codec,
 * flush); output is discarded. */
void srv_fuzz_feed(srv_conn *c, const uint8_t *p, size_t n);

#endif
