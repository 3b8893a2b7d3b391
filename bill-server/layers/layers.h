/*
 * layers.h — the request layer chain of bill-server (R-SRV-2), in order:
 *
 *   concurrency limit (worker pool, transport/workers.c)
 *   → health (GET /health, transport/router.c)
 *   → rate limit (layers/ratelimit.c)
 *   → admin UI (static files, layers/admin_ui.c)
 *   → CORS (layers/cors.c)
 *   → session auth → JWT auth → API key auth (layers/auth.c, owned by "auth")
 *   → log context (request id into bill_log's thread context)
 *   → gRPC-Web (transport/grpc.c) → services
 *
 * Each auth layer only looks at its own credential and passes through when it
 * is absent; authorization is per method (bill_srv_require_* in service.h).
 * Auth layers run on a worker thread (they may query the database).
 */
#ifndef BILL_SRV_LAYERS_H
#define BILL_SRV_LAYERS_H

#include "../services/service.h"

/* Auth layers (layers/auth.c). Each returns BILL_GRPC_OK to continue, or a
 * gRPC status to answer the call with that error right away. A credential
 * that is present but invalid should normally NOT stop the chain: record it
 * with bill_srv_call_set_auth_error() so methods that need a login fail with
 * UNAUTHENTICATED and that message, while anonymous methods still work. */
int bill_srv_layer_session_auth(bill_srv_call *call);
int bill_srv_layer_jwt_auth(bill_srv_call *call);
int bill_srv_layer_apikey_auth(bill_srv_call *call);

/* Called once at startup / shutdown (after config and DB are ready) so auth
 * can prepare keys and caches. Returns BILL_OK or a BILL_E* code. */
int bill_srv_auth_init(bill_db *db, const struct bill_config *cfg);
void bill_srv_auth_shutdown(void);

#endif
