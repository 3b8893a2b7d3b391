#!/usr/bin/python3
"""Steady load through a real nginx in front of two bill-servers.

Usage: rolling.py SITE_TEMPLATE WORKDIR PORT_A PORT_B

Builds an nginx configuration from the project's deploy/nginx.conf (the site
file, unchanged but for its ports, certificate and paths: TLS with ALPN h2 /
http/1.1, native gRPC to `grpc_pass`, gRPC-Web to `proxy_pass`, the two
upstreams with keepalive), writes WORKDIR/site.conf and WORKDIR/nginx.conf,
starts nginx (-p WORKDIR) and drives two kinds of steady load at once:
native gRPC (python3-grpcio over TLS/h2, one channel) and gRPC-Web over
HTTP/1.1 + TLS (a fresh connection per request, as browsers' retry rules
are not what is tested here). Both call the anonymous
IntegrationService/ListGateways (a database read) and Health/Check.

Prints "READY <nginx-port>" once both loads succeed, then runs until
WORKDIR/stop exists, prints "DONE grpc=N web=M failed=F" followed by every
failure, stops nginx and exits 0 only when F == 0 and both loads ran.
"""
import os
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import http.client

import grpc

TEMPLATE, WORK, PORT_A, PORT_B = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
LIST = '/rustbill.integration.IntegrationService/ListGateways'
HEALTH = '/grpc.health.v1.Health/Check'
ident = lambda x: x  # noqa: E731


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


def setup():
    cert, key = os.path.join(WORK, 'cert.pem'), os.path.join(WORK, 'key.pem')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
                    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost',
                    '-keyout', key, '-out', cert], check=True, capture_output=True)
    port = free_port()
    site = open(TEMPLATE).read()
    for old, new in [('listen 443 ssl http2;', 'listen 127.0.0.1:%d ssl http2;' % port),
                     ('/etc/ssl/bill/fullchain.pem', cert), ('/etc/ssl/bill/privkey.pem', key),
                     ('127.0.0.1:50051', '127.0.0.1:%d' % PORT_A),
                     ('127.0.0.1:50052', '127.0.0.1:%d' % PORT_B)]:
        if old not in site:
            raise SystemExit('FAIL: deploy/nginx.conf no longer has %r' % old)
        site = site.replace(old, new)
    with open(os.path.join(WORK, 'site.conf'), 'w') as f:
        f.write(site)
    with open(os.path.join(WORK, 'nginx.conf'), 'w') as f:
        f.write('daemon off;\npid %s/nginx.pid;\nerror_log %s/error.log info;\n'
                'worker_processes 1;\nevents { worker_connections 512; }\nhttp {\n'
                '  access_log %s/access.log;\n  client_body_temp_path %s/body;\n'
                '  proxy_temp_path %s/proxy;\n  fastcgi_temp_path %s/fcgi;\n'
                '  uwsgi_temp_path %s/uwsgi;\n  scgi_temp_path %s/scgi;\n'
                '  include %s/site.conf;\n}\n' % ((WORK,) * 9))
    return port, cert


def frame(msg):
    return b'\x00' + struct.pack('>I', len(msg)) + msg


class Load:
    def __init__(self):
        self.lock = threading.Lock()
        self.n = {'grpc': 0, 'web': 0}
        self.failures = []
        self.stop = False

    def ok(self, kind):
        with self.lock:
            self.n[kind] += 1

    def bad(self, kind, what):
        with self.lock:
            self.failures.append('%s %.3f %s' % (kind, time.time(), what))


def grpc_loop(load, port, cert):
    creds = grpc.ssl_channel_credentials(root_certificates=open(cert, 'rb').read())
    ch = grpc.secure_channel('localhost:%d' % port, creds)
    calls = [ch.unary_unary(m, request_serializer=ident, response_deserializer=ident)
             for m in (LIST, HEALTH)]
    i = 0
    while not load.stop:
        try:
            calls[i % 2](b'', timeout=10)
            load.ok('grpc')
        except grpc.RpcError as e:
            load.bad('grpc', '%s %s' % (e.code(), e.details()))
        i += 1
    ch.close()


def web_once(port, ctx, path):
    c = http.client.HTTPSConnection('localhost', port, context=ctx, timeout=10)
    try:
        c.request('POST', path, body=frame(b''),
                  headers={'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1',
                           'connection': 'close'})
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            return 'HTTP %d %r' % (r.status, body[:200])
        # trailers frame (flag 0x80) carries grpc-status
        while body:
            flag, n = body[0], struct.unpack('>I', body[1:5])[0]
            part, body = body[5:5 + n], body[5 + n:]
            if flag & 0x80:
                t = part.decode('latin-1')
                if 'grpc-status:0' not in t.replace(' ', ''):
                    return 'trailers %r' % t
                return None
        st = r.getheader('grpc-status')
        return None if st == '0' else 'no trailers, grpc-status %r' % st
    finally:
        c.close()


def web_loop(load, port, cert):
    ctx = ssl.create_default_context(cafile=cert)
    ctx.set_alpn_protocols(['http/1.1'])
    i = 0
    while not load.stop:
        try:
            err = web_once(port, ctx, (LIST, HEALTH)[i % 2])
        except (OSError, http.client.HTTPException) as e:
            err = '%s: %s' % (type(e).__name__, e)
        if err:
            load.bad('web', err)
        else:
            load.ok('web')
        i += 1


def main():
    port, cert = setup()
    ng = subprocess.Popen(['nginx', '-p', WORK, '-e', os.path.join(WORK, 'error.log'),
                           '-c', os.path.join(WORK, 'nginx.conf')],
                          stdout=subprocess.DEVNULL, stderr=open(os.path.join(WORK, 'nginx.out'), 'w'))
    try:
        load = Load()
        deadline = time.time() + 20
        ctx = ssl.create_default_context(cafile=cert)
        while True:
            try:
                if web_once(port, ctx, HEALTH) is None:
                    break
            except OSError:
                pass
            if time.time() > deadline or ng.poll() is not None:
                print('FAIL: nginx did not come up:', open(os.path.join(WORK, 'nginx.out')).read(),
                      open(os.path.join(WORK, 'error.log')).read()[-2000:], flush=True)
                return 1
            time.sleep(0.1)
        threads = [threading.Thread(target=grpc_loop, args=(load, port, cert)),
                   threading.Thread(target=grpc_loop, args=(load, port, cert)),
                   threading.Thread(target=web_loop, args=(load, port, cert)),
                   threading.Thread(target=web_loop, args=(load, port, cert))]
        for t in threads:
            t.start()
        while load.n['grpc'] < 10 or load.n['web'] < 10:
            if load.failures or time.time() > deadline + 20:
                break
            time.sleep(0.05)
        print('READY %d %d' % (port, ng.pid), flush=True)
        stop_file = os.path.join(WORK, 'stop')
        t_end = time.time() + 240
        while not os.path.exists(stop_file) and time.time() < t_end:
            time.sleep(0.05)
        load.stop = True
        for t in threads:
            t.join()
        print('DONE grpc=%d web=%d failed=%d' % (load.n['grpc'], load.n['web'],
                                                  len(load.failures)), flush=True)
        for f in load.failures[:50]:
            print('  failure:', f, flush=True)
        if load.failures:
            print(open(os.path.join(WORK, 'error.log')).read()[-4000:], flush=True)
        return 0 if not load.failures and load.n['grpc'] > 0 and load.n['web'] > 0 else 1
    finally:
        ng.send_signal(signal.SIGQUIT)
        try:
            ng.wait(10)
        except subprocess.TimeoutExpired:
            ng.kill()
            ng.wait()


sys.exit(main())
