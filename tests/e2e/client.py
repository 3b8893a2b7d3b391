#!/usr/bin/python3
"""End-to-end client scenarios against a running bill-server.

Usage: client.py PORT SCENARIO
Each scenario drives the server with real clients (python3-grpcio for native
gRPC over HTTP/2, curl for HTTP/1.1 and --http2-prior-knowledge, raw sockets
for hostile input) and exits non-zero with a message on the first failed
expectation. Messages are handled as raw bytes so no generated stubs are
needed: HealthCheckRequest{} is b'', the reflection list request is field 7.
"""
import base64
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse

import grpc

from pbwire import fail, expect, web_frames as parse_web_body  # noqa: E402

PORT = int(sys.argv[1])
BASE = 'http://127.0.0.1:%d' % PORT
ident = lambda x: x  # noqa: E731


def frame(msg, flag=0):
    return bytes([flag]) + struct.pack('>I', len(msg)) + msg


def curl(*args, data=None):
    cmd = ['curl', '-s', '-S', '-i', '--max-time', '10'] + list(args)
    p = subprocess.run(cmd, input=data, capture_output=True)
    expect(p.returncode == 0, 'curl %s failed: %s' % (args, p.stderr))
    raw = p.stdout
    head, _, body = raw.partition(b'\r\n\r\n')
    lines = head.decode('latin-1').split('\r\n')
    status = int(lines[0].split()[1])
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(':')
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, body


def channel():
    return grpc.insecure_channel('127.0.0.1:%d' % PORT)


def health_check(ch, service=b''):
    m = ch.unary_unary('/grpc.health.v1.Health/Check', request_serializer=ident,
                       response_deserializer=ident)
    req = b'' if not service else b'\x0a' + bytes([len(service)]) + service
    return m(req, timeout=5)


def rpc_refused(call, code, what):
    """call() must fail with `code`; -> the error."""
    try:
        call()
    except grpc.RpcError as e:
        expect(e.code() == code, '%s: %s' % (what, e.code()))
        return e
    fail('%s accepted' % what)


# ---- scenarios --------------------------------------------------------------

def s_grpc_native():
    ch = channel()
    expect(health_check(ch) == b'\x08\x01', 'Health/Check is not SERVING')
    expect(health_check(ch, b'grpc.health.v1.Health') == b'\x08\x01', 'named service not SERVING')
    rpc_refused(lambda: health_check(ch, b'no.such.Service'), grpc.StatusCode.NOT_FOUND,
                'unknown service')
    um = ch.unary_unary('/rustbill.nope.NopeService/Nope', request_serializer=ident,
                        response_deserializer=ident)
    e = rpc_refused(lambda: um(b'', timeout=5), grpc.StatusCode.UNIMPLEMENTED, 'unknown method')
    expect('/rustbill.nope.NopeService/Nope' in e.details(), 'message names the method')
    m = ch.unary_unary('/grpc.health.v1.Health/Check', request_serializer=ident,
                       response_deserializer=ident)
    rpc_refused(lambda: m(b'\xff\xff\xff', timeout=5), grpc.StatusCode.INVALID_ARGUMENT,
                'malformed protobuf')
    rpc_refused(lambda: m(b'\x0a\x80\x80\x80\x02' + b'x' * (5 * 1024 * 1024), timeout=20),
                grpc.StatusCode.RESOURCE_EXHAUSTED, '5 MiB message')
    # Health.Watch streams the current status first
    w = ch.unary_stream('/grpc.health.v1.Health/Watch', request_serializer=ident,
                        response_deserializer=ident)
    it = w(b'', timeout=2)
    first = next(it)
    expect(first == b'\x08\x01', 'Watch first message %r' % first)
    it.cancel()
    # still serving after all of that
    expect(health_check(ch) == b'\x08\x01', 'server unhealthy after errors')


def s_reflection():
    ch = channel()
    for ver in ('v1', 'v1alpha'):
        r = ch.stream_stream('/grpc.reflection.%s.ServerReflection/ServerReflectionInfo' % ver,
                             request_serializer=ident, response_deserializer=ident)
        sym = b'grpc.health.v1.Health'
        reqs = [b'\x3a\x00', b'\x22' + bytes([len(sym)]) + sym,
                b'\x1a\x1bgrpc/health/v1/health.proto', b'\x22\x07no.such']
        out = list(r(iter(reqs), timeout=5))
        expect(len(out) == 4, '%s: %d responses' % (ver, len(out)))
        expect(b'grpc.health.v1.Health' in out[0] and b'ServerReflection' in out[0],
               '%s list_services: %r' % (ver, out[0][:200]))
        expect(b'grpc/health/v1/health.proto' in out[1], '%s file_containing_symbol' % ver)
        expect(b'HealthCheckRequest' in out[2], '%s file_by_filename' % ver)
        expect(b'\x3a' in out[3] and b'not found' in out[3], '%s error_response' % ver)


def s_grpc_web():
    req = frame(b'')
    # HTTP/1.1 binary
    st, h, body = curl('-X', 'POST', '-H', 'content-type: application/grpc-web+proto',
                       '-H', 'x-grpc-web: 1', '--data-binary', '@-',
                       BASE + '/grpc.health.v1.Health/Check', data=req)
    expect(st == 200, 'grpc-web h1 status %d' % st)
    expect(h.get('content-type', '').startswith('application/grpc-web'), 'ctype %r' % h)
    msgs, tr = parse_web_body(body)
    expect(msgs == [b'\x08\x01'], 'grpc-web h1 messages %r' % msgs)
    expect(tr.get('grpc-status') == '0', 'grpc-web trailer %r' % tr)
    # HTTP/1.1 text (base64 in and out)
    st, h, body = curl('-X', 'POST', '-H', 'content-type: application/grpc-web-text',
                       '--data-binary', '@-', BASE + '/grpc.health.v1.Health/Check',
                       data=base64.b64encode(req))
    expect(st == 200 and 'text' in h.get('content-type', ''), 'grpc-web-text %d %r' % (st, h))
    msgs, tr = parse_web_body(base64.b64decode(body))
    expect(msgs == [b'\x08\x01'] and tr.get('grpc-status') == '0', 'text body %r %r' % (msgs, tr))
    # HTTP/2 prior knowledge, gRPC-Web binary
    st, h, body = curl('--http2-prior-knowledge', '-X', 'POST', '-H',
                       'content-type: application/grpc-web+proto', '--data-binary', '@-',
                       BASE + '/grpc.health.v1.Health/Check', data=req)
    msgs, tr = parse_web_body(body)
    expect(st == 200 and msgs == [b'\x08\x01'], 'grpc-web over h2: %d %r' % (st, msgs))
    # errors: HTTP 200, status in headers AND in the trailer frame, percent-encoded
    st, h, body = curl('-X', 'POST', '-H', 'content-type: application/grpc-web+proto',
                       '--data-binary', '@-', BASE + '/rustbill.x.Y/Z%C3%A9', data=req)
    expect(st == 200, 'error status %d' % st)
    expect(h.get('grpc-status') == '12', 'error grpc-status header %r' % h)
    # the literal '%' of the path must come back percent-encoded
    expect(urllib.parse.unquote(h.get('grpc-message', '')) == 'unknown method /rustbill.x.Y/Z%C3%A9',
           'grpc-message header %r' % h)
    msgs, tr = parse_web_body(body)
    expect(tr.get('grpc-status') == '12' and msgs == [], 'error trailer frame %r' % tr)
    # compressed flag without support -> UNIMPLEMENTED
    st, h, body = curl('-X', 'POST', '-H', 'content-type: application/grpc-web+proto',
                       '-H', 'grpc-encoding: gzip', '--data-binary', '@-',
                       BASE + '/grpc.health.v1.Health/Check', data=frame(b'', 1))
    expect(h.get('grpc-status') == '12', 'compressed: %r' % h)
    # wrong length prefix -> INVALID_ARGUMENT
    st, h, body = curl('-X', 'POST', '-H', 'content-type: application/grpc-web+proto',
                       '--data-binary', '@-', BASE + '/grpc.health.v1.Health/Check',
                       data=b'\x00\x00\x00\x00\x09ab')
    expect(h.get('grpc-status') == '3', 'bad length prefix: %r' % h)
    # grpc-timeout already expired is honoured (0 ms)
    st, h, body = curl('-X', 'POST', '-H', 'content-type: application/grpc-web+proto',
                       '-H', 'grpc-timeout: 0m', '--data-binary', '@-',
                       BASE + '/rustbill.nope.S/M', data=req)
    expect(h.get('grpc-status') in ('4', '12'), 'grpc-timeout: %r' % h)


def s_cors():
    st, h, _ = curl('-X', 'OPTIONS', '-H', 'Origin: http://localhost:5173',
                    '-H', 'Access-Control-Request-Method: POST',
                    '-H', 'Access-Control-Request-Headers: content-type,x-grpc-web',
                    BASE + '/rustbill.identity.IdentityService/Login')
    expect(st in (200, 204), 'preflight status %d' % st)
    expect(h.get('access-control-allow-origin') == 'http://localhost:5173', 'allow-origin %r' % h)
    for want in ('content-type', 'x-grpc-web', 'authorization', 'x-user-agent', 'grpc-timeout'):
        expect(want in h.get('access-control-allow-headers', ''), 'allow-headers lacks ' + want)
    expect('grpc-status' in h.get('access-control-expose-headers', ''), 'expose-headers %r' % h)
    expect(h.get('access-control-allow-credentials') == 'true', 'credentials %r' % h)
    st, h, _ = curl('-X', 'OPTIONS', '-H', 'Origin: http://evil.example',
                    '-H', 'Access-Control-Request-Method: POST', BASE + '/x')
    expect('access-control-allow-origin' not in h, 'foreign origin allowed: %r' % h)
    st, h, _ = curl('-X', 'POST', '-H', 'Origin: http://localhost:5173', '-H',
                    'content-type: application/grpc-web+proto', '--data-binary', '@-',
                    BASE + '/grpc.health.v1.Health/Check', data=frame(b''))
    expect(h.get('access-control-allow-origin') == 'http://localhost:5173', 'actual CORS %r' % h)


def s_endpoints():
    st, h, body = curl(BASE + '/health')
    expect(st == 200 and body == b'', '/health %d %r' % (st, body))
    st, h, body = curl('--http2-prior-knowledge', BASE + '/health')
    expect(st == 200, '/health over h2 %d' % st)
    st, h, body = curl(BASE + '/ready')
    expect(st == 200, '/ready %d' % st)
    health_check(channel())
    st, h, body = curl(BASE + '/metrics')
    text = body.decode()
    expect(st == 200, '/metrics %d' % st)
    for want in ('bill_grpc_requests_total{method="/grpc.health.v1.Health/Check",code="OK"}',
                 'bill_grpc_request_duration_seconds_bucket', 'bill_requests_in_flight',
                 'bill_worker_queue_depth', 'bill_db_pool_connections{state="in_use"}',
                 'bill_db_pool_connections{state="idle"}',
                 '# TYPE bill_circuit_breaker_state gauge'):
        expect(want in text, '/metrics lacks %s' % want)
    st, h, body = curl(BASE + '/no/such/path')
    expect(st == 404, 'unknown path %d' % st)
    st, h, body = curl(BASE + '/admin/')
    expect(st == 404 and b'admin UI' in body, '/admin without dir: %d %r' % (st, body))
    # keep-alive + pipelining: two requests in one write, two answers in order
    s = socket.create_connection(('127.0.0.1', PORT))
    s.sendall(b'GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n')
    data = b''
    s.settimeout(5)
    while data.count(b'HTTP/1.1') < 2:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    expect(data.startswith(b'HTTP/1.1 200') and b'HTTP/1.1 404' in data, 'pipelining %r' % data)
    # chunked request body
    s = socket.create_connection(('127.0.0.1', PORT))
    body = frame(b'')
    s.sendall(b'POST /grpc.health.v1.Health/Check HTTP/1.1\r\nHost: x\r\n'
              b'content-type: application/grpc-web+proto\r\ntransfer-encoding: chunked\r\n\r\n' +
              b'%x\r\n' % len(body) + body + b'\r\n0\r\n\r\n')
    s.settimeout(5)
    data = s.recv(65536)
    s.close()
    expect(b'grpc-status:0' in data, 'chunked body: %r' % data)


def s_hostile():
    def raw(payload, wait=1.0):
        s = socket.create_connection(('127.0.0.1', PORT))
        s.settimeout(wait)
        try:
            s.sendall(payload)
            out = b''
            while True:
                c = s.recv(65536)
                if not c:
                    break
                out += c
        except (socket.timeout, ConnectionResetError, BrokenPipeError):
            out = b''
        finally:
            s.close()
        return out

    out = raw(b'\x00\x01garbage\xff\xfe\r\n\r\n')
    expect(out == b'' or out.startswith(b'HTTP/1.1 400'), 'garbage: %r' % out[:60])
    raw(b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x10\x04\x00\x00\x00\x00\x00')  # truncated
    raw(b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' + b'\xff' * 64)                      # bad frame
    out = raw(b'GET / HTTP/1.1\r\nHost: x\r\nX-Big: ' + b'a' * 70000 + b'\r\n\r\n')
    expect(out.startswith(b'HTTP/1.1 431'), 'huge header: %r' % out[:40])
    out = raw(b'POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n')
    expect(out.startswith(b'HTTP/1.1 413'), 'huge body: %r' % out[:40])
    # a request that never completes is closed after the request timeout (2 s in tests)
    s = socket.create_connection(('127.0.0.1', PORT))
    s.sendall(b'POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc')
    s.settimeout(15)
    t0 = time.time()
    try:
        while s.recv(4096):
            pass
    except (socket.timeout, ConnectionResetError):
        fail('slow request was not closed within 15 s')
    s.close()
    expect(time.time() - t0 < 14, 'slow request closed too late')
    expect(health_check(channel()) == b'\x08\x01', 'not serving after hostile input')


def s_many_connections():
    n, opened = 10000, 0
    socks = []
    for i in range(n):
        try:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            s.connect(('127.0.0.1', PORT))
            socks.append(s)
            opened += 1
        except OSError:
            break
        if len(socks) >= 500:
            for x in socks:
                x.close()
            socks = []
    for x in socks:
        x.close()
    expect(opened == n, 'opened only %d connections' % opened)
    st, h, body = curl(BASE + '/health')
    expect(st == 200, 'health after 10k connections: %d' % st)
    expect(health_check(channel()) == b'\x08\x01', 'grpc after 10k connections')


def s_inflight():
    """Start many concurrent calls and a Watch; prints READY; the C side sends
    SIGTERM; every call must complete OK and the Watch must end cleanly."""
    ch = channel()
    results, errors = [], []

    def worker():
        try:
            for _ in range(20):
                results.append(health_check(ch))
        except grpc.RpcError as e:
            errors.append(e.code())

    w = ch.unary_stream('/grpc.health.v1.Health/Watch', request_serializer=ident,
                        response_deserializer=ident)
    it = w(b'', timeout=30)
    expect(next(it) == b'\x08\x01', 'watch first')
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    # calls really in flight before the C side sends SIGTERM (on a loaded
    # machine the threads may not have sent one yet)
    deadline = time.monotonic() + 10
    while not results and not errors and time.monotonic() < deadline:
        time.sleep(0.01)
    print('READY', flush=True)
    for t in threads:
        t.join()
    # After SIGTERM the Watch ends with OK (maybe after a NOT_SERVING update).
    try:
        for _ in it:
            pass
    except grpc.RpcError as e:
        fail('watch ended with %s' % e.code())
    expect(not errors or all(c == grpc.StatusCode.UNAVAILABLE for c in errors),
           'calls failed: %r' % errors)
    expect(len(results) > 0, 'no call completed')


SCENARIOS = {k[2:]: v for k, v in globals().items() if k.startswith('s_')}

if __name__ == '__main__':
    SCENARIOS[sys.argv[2]]()
    print('ok', sys.argv[2])
