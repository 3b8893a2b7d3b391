/*
 * fuzz_srv_http2.c — libFuzzer target: HTTP/2 frames (after the client
 * preface) into bill-server's nghttp2 server session, the per-stream request
 * assembly, gRPC length-prefixed framing (incl. the early 4 MiB refusal),
 * the streaming built-ins (reflection, Health.Watch) and the router. The
 * first byte picks a split point so frames arrive in two reads; a Watch tick
 * and a GOAWAY follow, as the loop would do on its sweep and on SIGTERM.
 */
#include "srv_fuzz.h"

static const uint8_t preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t split = (size_t)data[0] * 8;
    data++, size--;
    if (split > size)
        split = size;
    srv_conn *c = srv_fuzz_conn_new();
    srv_fuzz_feed(c, preface, sizeof preface - 1);
    srv_fuzz_feed(c, data, split);
    srv_fuzz_feed(c, data + split, size - split);
    if (!c->dead && c->h2) {
        srv_h2_tick(c);
        srv_h2_goaway(c);
        srv_conn_flush(c);
    }
    srv_fuzz_conn_free(c);
    return 0;
}
