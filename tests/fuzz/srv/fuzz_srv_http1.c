/*
 * fuzz_srv_http1.c — libFuzzer target: bytes from a client socket through
 * bill-server's HTTP/1.1 codec (http-parser, header/body limits, keep-alive,
 * pipelining, chunked bodies, HEAD) and the router behind it (health, CORS,
 * metrics, gRPC-Web framing, proxy headers). The first byte picks where the
 * input is split into two reads, so partial requests are exercised too.
 */
#include "srv_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t split = data[0];
    data++, size--;
    if (split > size)
        split = size;
    srv_conn *c = srv_fuzz_conn_new();
    srv_fuzz_feed(c, data, split);
    srv_fuzz_feed(c, data + split, size - split);
    srv_fuzz_conn_free(c);
    return 0;
}
