/*
 * auth.c — session, JWT and API-key auth layers (R-SRV-2, R-SRV-3).
 *
 * Initial pass-through version written by "server" so the chain exists; the
 * "auth" engineer owns this file and replaces the bodies. Every layer leaves
 * the caller ANONYMOUS.
 */
#include "layers.h"

int bill_srv_auth_init(bill_db *db, const struct bill_config *cfg)
{
    (void)db;
    (void)cfg;
    return BILL_OK;
}

void bill_srv_auth_shutdown(void)
{
}

int bill_srv_layer_session_auth(bill_srv_call *call)
{
    (void)call;
    return BILL_GRPC_OK;
}

int bill_srv_layer_jwt_auth(bill_srv_call *call)
{
    (void)call;
    return BILL_GRPC_OK;
}

int bill_srv_layer_apikey_auth(bill_srv_call *call)
{
    (void)call;
    return BILL_GRPC_OK;
}
