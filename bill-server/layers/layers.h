/*
 * layers.h — bill-server's request layers, one row each for the layer table
 * main hands the server (bill_srv_layer, transport/server.h). The seed's
 * chain (R-SRV-2) and where each step lives:
 *
 *   concurrency limit   the worker pool (transport/workers.c)
 *   → health            an EARLY route (routes/probes.c)
 *   → rate limit        admit layer  (layers/ratelimit.c)
 *   → catalog cache     answer layer (layers/catcache.c): anonymous catalog
 *                       calls from memory, on the loop thread
 *   → admin UI          an EARLY route (routes/admin_ui.c)
 *   → CORS              request layer (layers/cors.c)
 *   → session auth → JWT auth → API key auth
 *                       call layers  (layers/auth.c)
 *   → log context       the call (transport/call.c)
 *   → gRPC-Web          the gRPC route (transport/router.c) → services
 *
 * Each auth layer only looks at its own credential and passes through when it
 * is absent; authorization is per method (bill_srv_require_* in srv.h).
 * Auth layers run on a worker thread (they may query the database).
 */
#ifndef BILL_SRV_LAYERS_H
#define BILL_SRV_LAYERS_H

#include "../transport/server.h"

extern const bill_srv_layer bill_srv_layer_ratelimit;
extern const bill_srv_layer bill_srv_layer_cors;
extern const bill_srv_layer bill_srv_layer_session_auth;
extern const bill_srv_layer bill_srv_layer_jwt_auth;
extern const bill_srv_layer bill_srv_layer_apikey_auth;
extern const bill_srv_layer bill_srv_layer_catcache;

#endif
