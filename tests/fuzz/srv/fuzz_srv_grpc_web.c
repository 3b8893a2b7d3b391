/*
 * fuzz_srv_grpc_web.c — libFuzzer target: a complete gRPC-Web (or native
 * gRPC) request body through the router's decoding: base64 of
 * grpc-web-text (several padded chunks allowed), the 5-byte message frame
 * (compressed flag, length, truncation, trailing bytes, 4 MiB limit) and the
 * inline Health/Check handler's protobuf decoding. Byte 0 picks the content
 * type and the method, byte 1 the protocol (HTTP/1.1 or an HTTP/2 stream id).
 */
#include "srv_fuzz.h"

#include <stdlib.h>
#include <string.h>

static const char *const ctypes[] = {
    "application/grpc-web+proto", "application/grpc-web-text+proto", "application/grpc-web",
    "application/grpc-web-text", "application/grpc", "application/grpc+proto",
};
static const char *const paths[] = {
    "/grpc.health.v1.Health/Check", "/rustbill.identity.IdentityService/Login",
    "/grpc.health.v1.Health/Watch", "/no.Such/Method",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    const char *ct = ctypes[data[0] % 6];
    const char *path = paths[(data[0] / 6) % 4];
    bool h2 = data[1] & 1;
    data += 2, size -= 2;

    srv_conn *c = srv_fuzz_conn_new();
    c->proto = 1;
    srv_h1_init(c);
    c->h1_busy = true;
    c->inflight = 1;
    srv_req req = {0};
    memcpy(req.method, "POST", 5);
    req.path = strdup(path);
    if (!req.path || srv_hdrs_addz(&req.hdrs, "content-type", ct) < 0 ||
        srv_hdrs_addz(&req.hdrs, "grpc-timeout", "5S") < 0 ||
        srv_hdrs_addz(&req.hdrs, "origin", "http://localhost:5173") < 0 ||
        srv_buf_append(&req.body, data, size) < 0)
        abort();
    /* HTTP/2 needs a session for the answer; an unknown stream id is
     * dropped by srv_h2_respond, which is what a reset stream looks like. */
    if (h2) {
        c->proto = 2;
        if (srv_h2_init(c) < 0)
            abort();
    }
    srv_target t = {c, h2 ? 1 : 0};
    srv_dispatch(t, &req);
    srv_req_free(&req);
    srv_conn_flush(c);
    srv_fuzz_conn_free(c);
    return 0;
}
