#!/usr/bin/python3
"""End-to-end checks for bill-server hardening: HEAD without a body, and the
client IP behind trusted reverse proxies (X-Forwarded-For / X-Real-IP).

Usage: hardening.py PORT SERVER_LOG SCENARIO
SERVER_LOG is the running server's log file: the audit line
'admin "admin" logged in from IP' and the rate-limit warning show which
client address the server settled on. Exits non-zero on the first failure.
"""
import http.client
import socket
import struct
import subprocess
import sys
import threading
import time

from pbwire import fail, expect, enc  # noqa: E402

PORT = int(sys.argv[1])
LOG = sys.argv[2]
SCENARIO = sys.argv[3]
SVC = '/rustbill.identity.IdentityService/'
ADMIN_PASS = 'E2e-Admin-Pass-123!'


def web_login(user, password, user_type='', headers=None, src=None):
    """IdentityService/Login over gRPC-Web (HTTP/1.1). Returns grpc-status.
    src: a loopback source address (e.g. '127.0.0.2'), another client."""
    body = enc((1, user), (2, password), (3, user_type))
    conn = http.client.HTTPConnection('127.0.0.1', PORT, timeout=20,
                                      source_address=(src, 0) if src else None)
    h = {'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1'}
    h.update(headers or {})
    # http.client folds a list into repeated header lines only via putheader
    conn.putrequest('POST', SVC + 'Login', skip_accept_encoding=True)
    for k, v in h.items():
        for one in (v if isinstance(v, list) else [v]):
            conn.putheader(k, one)
    frame = b'\x00' + struct.pack('>I', len(body)) + body
    conn.putheader('content-length', str(len(frame)))
    conn.endheaders(frame)
    r = conn.getresponse()
    data = r.read()
    hdr = r.getheader('grpc-status')
    conn.close()
    expect(r.status == 200, 'Login HTTP %d' % r.status)
    if hdr is not None:
        return int(hdr)
    i = data.find(b'grpc-status:')
    expect(i >= 0, 'no grpc-status in %r' % data)
    return int(data[i + 12:].split(b'\r\n')[0])


def burst(headers_for, n=20):
    """n concurrent failed customer logins (distinct users: no lockout)."""
    codes = [None] * n

    def one(k):
        codes[k] = web_login('nobody-%d' % k, 'wrong-password', '', headers_for(k))
    ts = [threading.Thread(target=one, args=(k,)) for k in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return codes


RESOURCE_EXHAUSTED, UNAUTHENTICATED, OK = 8, 16, 0


def logged(text, timeout=15.0):
    """True once the server log contains `text` (it may write the line after
    answering): polls until then, False after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        with open(LOG, encoding='utf-8', errors='replace') as f:
            if text in f.read():
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def admin_login_logged_as(headers, want_ip, src=None):
    st = web_login('admin', ADMIN_PASS, 'admin', headers, src)
    expect(st == OK, 'admin login status %d' % st)
    line = 'admin "admin" logged in from %s' % want_ip
    expect(logged(line), 'log lacks %r (headers %r)' % (line, headers))


def s_proxy_trusted():
    # 20 logins from one client behind the proxy: its own bucket runs dry.
    codes = burst(lambda k: {'x-forwarded-for': '203.0.113.7'})
    expect(codes.count(RESOURCE_EXHAUSTED) >= 10, 'client 203.0.113.7 not limited: %r' % codes)
    expect(logged('rate limit: %sLogin from 203.0.113.7' % SVC),
           'rate-limit log does not name the forwarded client')
    # ... while another client behind the same proxy is not affected.
    st = web_login('someone-else', 'wrong-password', '', {'x-forwarded-for': '203.0.113.8'})
    expect(st == UNAUTHENTICATED, 'client 203.0.113.8 got %d, want UNAUTHENTICATED' % st)
    # 20 clients behind the proxy, one request each: none limited.
    codes = burst(lambda k: {'x-forwarded-for': '198.18.0.%d' % (k + 1)})
    expect(codes.count(RESOURCE_EXHAUSTED) == 0, 'distinct clients limited: %r' % codes)
    # Audit source IP: rightmost untrusted hop; a client-supplied prefix is ignored.
    admin_login_logged_as({'x-forwarded-for': '6.6.6.6, 198.51.100.9, 127.0.0.1'}, '198.51.100.9')
    # Two X-Forwarded-For lines form one list (last line is the nearest hop).
    admin_login_logged_as({'x-forwarded-for': ['6.6.6.6', '198.51.100.10']}, '198.51.100.10')
    # X-Real-IP when there is no X-Forwarded-For (IPv6 canonicalised).
    admin_login_logged_as({'x-real-ip': '2001:DB8:0::5'}, '2001:db8::5')
    # Every hop trusted: the leftmost is the client.
    admin_login_logged_as({'x-forwarded-for': '::1, 127.0.0.1'}, '::1')
    # Garbage in the chain: stop at the last address a trusted hop vouched for.
    admin_login_logged_as({'x-forwarded-for': 'not-an-ip, 198.51.100.11'}, '198.51.100.11')
    print('proxy_trusted OK')


def s_proxy_untrusted():
    # No trusted_proxies: forwarded headers are the client's word and ignored;
    # 20 "different" clients share 127.0.0.1's bucket.
    codes = burst(lambda k: {'x-forwarded-for': '198.18.1.%d' % (k + 1),
                             'x-real-ip': '198.18.2.%d' % (k + 1)})
    expect(codes.count(RESOURCE_EXHAUSTED) >= 10, 'spoofed XFF escaped the limit: %r' % codes)
    # The admin, from another address (127.0.0.1's bucket is dry): logged
    # under the socket's address, not the header's.
    admin_login_logged_as({'x-forwarded-for': '198.51.100.9'}, '127.0.0.2', src='127.0.0.2')
    print('proxy_untrusted OK')


def read_response(s, buf):
    """One HTTP/1.1 response head from socket s; returns (status, headers, rest)."""
    while b'\r\n\r\n' not in buf:
        c = s.recv(65536)
        expect(c, 'connection closed mid-response: %r' % buf)
        buf += c
    head, _, rest = buf.partition(b'\r\n\r\n')
    lines = head.decode('latin-1').split('\r\n')
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(':')
        hdrs[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), hdrs, rest


def s_head():
    # HTTP/1.1, keep-alive: HEAD answers carry content-length but no body, so
    # the next response on the connection starts right after the headers.
    s = socket.create_connection(('127.0.0.1', PORT))
    s.settimeout(5)
    for path, want in (('/metrics', 200), ('/no/such/path', 404), ('/ready', 200),
                       ('/admin/', 404), ('/health', 200)):
        s.sendall(b'HEAD %s HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n'
                  % path.encode())
        st, h, rest = read_response(s, b'')
        expect(st == want, 'HEAD %s: %d' % (path, st))
        if path in ('/metrics', '/no/such/path'):
            expect(int(h.get('content-length', '0')) > 0, 'HEAD %s: no length %r' % (path, h))
        # the bytes after the HEAD response must be the next response
        st2, h2, rest2 = read_response(s, rest)
        expect(rest.startswith(b'HTTP/1.1 200'), 'HEAD %s sent a body: %r' % (path, rest[:60]))
        expect(st2 == 200 and h2.get('content-length') == '0', 'GET after HEAD %s' % path)
        expect(rest2 == b'', 'extra bytes after GET /health: %r' % rest2)
    s.close()
    # HTTP/2: the response to HEAD ends on HEADERS (no DATA frame).
    p = subprocess.run(['nghttp', '-nv', '-H', ':method: HEAD',
                        'http://127.0.0.1:%d/metrics' % PORT], capture_output=True, timeout=20)
    out = p.stdout.decode('latin-1')
    expect(p.returncode == 0, 'nghttp HEAD failed: %s %s' % (out[-500:], p.stderr))
    expect(':status: 200' in out, 'h2 HEAD status: %s' % out[-800:])
    expect('recv DATA frame' not in out, 'h2 HEAD carried DATA: %s' % out[-800:])
    # and GET still has its body
    p = subprocess.run(['nghttp', '-nv', 'http://127.0.0.1:%d/metrics' % PORT],
                       capture_output=True, timeout=20)
    expect('recv DATA frame' in p.stdout.decode('latin-1'), 'h2 GET without DATA')
    print('head OK')


def s_config_keys():
    # [server] admin_dir (from config.local.toml, no BILL_ADMIN_DIR): the SPA
    # and its client-side-route fallback are served from there.
    s = socket.create_connection(('127.0.0.1', PORT))
    s.settimeout(10)
    s.sendall(b'GET /admin/ HTTP/1.1\r\nHost: x\r\n\r\n')
    st, h, rest = read_response(s, b'')
    while len(rest) < int(h.get('content-length', '0')):
        rest += s.recv(65536)
    expect(st == 200 and b's2-admin-marker' in rest, 'admin_dir not used: %d %r' % (st, rest[:80]))
    s.sendall(b'HEAD /admin/customers/42 HTTP/1.1\r\nHost: x\r\n\r\n')
    st, h, rest = read_response(s, b'')
    expect(st == 200 and rest == b'' and int(h.get('content-length', '0')) > 0,
           'SPA fallback HEAD: %d %r %r' % (st, h, rest))
    # [server] idle_timeout_ms = 500: the idle keep-alive connection is
    # closed by the server within a few sweeps (the default is 120 s).
    t0 = time.time()
    try:
        while s.recv(4096):
            pass
    except socket.timeout:
        fail('idle connection still open after 10 s (idle_timeout_ms not applied)')
    dt = time.time() - t0
    s.close()
    expect(dt >= 0.4, 'idle connection closed too early (%.2f s)' % dt)
    print('config_keys OK (idle close after %.2f s)' % dt)


{'config_keys': s_config_keys, 'proxy_trusted': s_proxy_trusted, 'proxy_untrusted': s_proxy_untrusted,
 'head': s_head}[SCENARIO]()
