#!/usr/bin/python3
"""Optional Redis seen from outside (issue 12 item 3): two bill-servers of
one database and one redis-server (started by test_redis.c on a unix
socket), [rate_limit] login_per_sec = 5 on both.

Usage: test_redis.py PORT_A PORT_B LOG_A LOG_B REDIS_PID REDIS_DIR

  1. the login limit is shared: 10 logins at once, half to each server
     (each server's own bucket admits its 5), inside one second -> at most
     5 get through (each server alone would let all 10 through);
  2. an admin session is refused at once on B after its logout on A, and
     another after a password change on A (B answered both from Redis);
  3. redis-server SIGKILLed under steady load on both servers (admin calls
     through the session cache, logins through the limiter): 0 failed
     requests, exactly one WARN in each server's log, bill_redis_up 0;
     restarted (same socket): exactly one INFO in each log, bill_redis_up
     1, and the limit shared again.
The restarted redis-server is this script's child and dies with it. Exits non-zero with a message on the first failure."""
import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import grpc

from pbwire import fail, expect, enc, browser

PORT_A, PORT_B = int(sys.argv[1]), int(sys.argv[2])
LOG_A, LOG_B = sys.argv[3], sys.argv[4]
REDIS_PID, REDIS_DIR = int(sys.argv[5]), sys.argv[6]
SVC = '/rustbill.identity.IdentityService/'
ADMIN_PASS = 'E2e-Admin-Pass-123!'
NEW_PASS = 'E2e-Admin-Pass-456!'

chans = {p: grpc.insecure_channel('127.0.0.1:%d' % p) for p in (PORT_A, PORT_B)}


def web(port, method, body, cookie=None):
    """gRPC-Web as the browser sends it, with the admin session cookie ->
    (status name, message, set-cookie value or None)."""
    code, msg, _, _, hdrs = browser(port, SVC + method, body, cookie=cookie)
    return code, msg, hdrs.get('set-cookie')


def admin_login(port):
    st, msg, cookie = web(port, 'Login', enc((1, 'admin'), (2, ADMIN_PASS), (3, 'admin')))
    expect(st == 'OK' and cookie, 'admin login on %d: %s %s' % (port, st, msg))
    return cookie.split(';')[0]


def metrics(port):
    with urllib.request.urlopen('http://127.0.0.1:%d/metrics' % port, timeout=10) as r:
        text = r.read().decode()
    m = re.search(r'^bill_redis_up (\d)$', text, re.M)
    expect(m, 'no bill_redis_up in /metrics of %d' % port)
    hits = re.search(r'^bill_redis_session_cache_total\{result="hit"\} (\d+)$', text, re.M)
    fb = re.search(r'^bill_redis_fallbacks_total (\d+)$', text, re.M)
    return {'up': int(m.group(1)), 'hits': int(hits.group(1)), 'fallbacks': int(fb.group(1))}


def log_count(path, level, needle):
    with open(path, errors='replace') as f:
        return sum(1 for ln in f if 'libbill::redis' in ln and level in ln and needle in ln)


def redis_cmd(*args):
    """One command to the test's redis-server (RESP over its unix socket)."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(os.path.join(REDIS_DIR, 'redis.sock'))
    s.sendall(b''.join([b'*%d\r\n' % len(args)] +
                       [b'$%d\r\n%s\r\n' % (len(a.encode()), a.encode()) for a in args]))
    f = s.makefile('rb')

    def reply():
        line = f.readline().rstrip(b'\r\n')
        kind, rest = line[:1], line[1:]
        if kind == b'*':
            return [reply() for _ in range(int(rest))]
        if kind == b'$':
            n = int(rest)
            return None if n < 0 else f.read(n + 2)[:-2].decode()
        if kind == b':':
            return int(rest)
        expect(kind == b'+', 'redis: %r' % line)
        return rest.decode()
    out = reply()
    s.close()
    return out


def next_window(skip=0):
    """Sleep until just after the next second boundary (a rate-limit window
    starts there), skipping `skip` further whole windows."""
    time.sleep(1.0 - (time.time() % 1.0) + skip + 0.02)


def burst_logins(n):
    """n logins (distinct unknown users) at once, alternating servers ->
    (count not limited, start, the Redis counts of the windows). The limit
    is decided when a request reaches a worker, right after it is sent."""
    futs = []
    t0 = time.time()
    for k in range(n):
        port = PORT_A if k % 2 == 0 else PORT_B
        f = chans[port].unary_unary(SVC + 'Login', request_serializer=lambda x: x,
                                    response_deserializer=lambda x: x)
        futs.append(f.future(enc((1, 'nobody%d-%f' % (k, t0)), (2, 'whatever')), timeout=30))
    t_sent = time.time()
    # the windows as the checks left them (a window lives 2 s; the logins
    # let through may take longer than that to answer under a sanitizer)
    # (each key lives 2 s after its last count: the highest count seen)
    deadline, counts = time.monotonic() + 10, {}
    while time.monotonic() < deadline:
        for k in redis_cmd('KEYS', 'e2e:rl:login:*'):
            counts[k] = max(counts.get(k, 0), int(redis_cmd('GET', k) or 0))
        if sum(counts.values()) >= n:
            break
        time.sleep(0.05)
    codes = []
    for fu in futs:
        try:
            fu.result()
            codes.append('OK')
        except grpc.RpcError as e:
            codes.append(e.code().name)
    bad = [c for c in codes if c not in ('UNAUTHENTICATED', 'RESOURCE_EXHAUSTED')]
    expect(not bad, 'logins answered %r' % codes)
    return codes.count('UNAUTHENTICATED'), t0, list(counts.values())


def shared_limit(what):
    """10 logins at once, half to each server: Redis holds one count per
    second for both, so at most 5 per window get through (each server
    alone would let all 5 of its own through). The windows the burst's
    checks fell in are read back from Redis: their counts add up to all 10."""
    for p in (PORT_A, PORT_B):  # connected before the clock matters
        grpc.channel_ready_future(chans[p]).result(timeout=30)
    for attempt in range(4):
        # no window of earlier logins left (they live 2 s), then start just
        # after a second boundary
        for _ in range(100):
            if not redis_cmd('KEYS', 'e2e:rl:login:*'):
                break
            time.sleep(0.1)
        next_window()
        through, t0, counts = burst_logins(10)
        if len(counts) == 1 or attempt == 3:
            break
        print('%s: the checks spanned %d windows %r, again' % (what, len(counts), counts))
    expect(sum(counts) == 10, '%s: Redis counted %r, not the 10 logins of both servers'
           % (what, counts))
    expect(1 <= through <= 5 * len(counts),
           '%s: %d of 10 logins through two servers in %d window(s) (shared limit 5/s)'
           % (what, through, len(counts)))
    print('%s: %d of 10 logins through both servers, Redis counted %r' % (what, through, counts))


def revoked_everywhere():
    next_window()  # past the window a burst used up
    pair = admin_login(PORT_A)
    for _ in range(3):
        st, msg, _ = web(PORT_B, 'GetMe', b'', cookie=pair)
        expect(st == 'OK', 'GetMe on B with A\'s session: %s %s' % (st, msg))
    hits0 = metrics(PORT_B)['hits']
    expect(hits0 >= 1, 'B answered no session from the Redis cache (hits %d)' % hits0)
    st, msg, _ = web(PORT_A, 'Logout', b'', cookie=pair)
    expect(st == 'OK', 'logout on A: %s %s' % (st, msg))
    st, msg, _ = web(PORT_B, 'GetMe', b'', cookie=pair)
    expect(st == 'UNAUTHENTICATED' and 'signed out' in msg, 'B after logout on A: %s %s' % (st, msg))
    print('session signed out on A refused at once on B (B had %d cache hits)' % hits0)
    # a password change on A signs the admin's other sessions out: one that
    # B has just answered from the cache is refused by B at once
    next_window()  # a fresh login window
    keep, other = admin_login(PORT_A), admin_login(PORT_B)
    for _ in range(2):
        st, msg, _ = web(PORT_B, 'GetMe', b'', cookie=other)
        expect(st == 'OK', 'GetMe on B: %s %s' % (st, msg))
    st, msg, _ = web(PORT_A, 'ChangePassword', enc((1, ADMIN_PASS), (2, NEW_PASS)), cookie=keep)
    expect(st == 'OK', 'ChangePassword on A: %s %s' % (st, msg))
    st, msg, _ = web(PORT_B, 'GetMe', b'', cookie=other)
    expect(st == 'UNAUTHENTICATED' and 'signed out' in msg,
           'B after the password change on A: %s %s' % (st, msg))
    st, msg, _ = web(PORT_B, 'GetMe', b'', cookie=keep)
    expect(st == 'OK', 'the changing session on B: %s %s' % (st, msg))
    st, msg, _ = web(PORT_A, 'ChangePassword', enc((1, NEW_PASS), (2, ADMIN_PASS)), cookie=keep)
    expect(st == 'OK', 'ChangePassword back on A: %s %s' % (st, msg))
    print('password changed on A: the other session refused at once on B')


class Load(threading.Thread):
    """Steady requests to both servers: admin GetMe through the session
    cache, and a login with a wrong password every 16th round (well under
    the limit even when each server counts alone)."""

    def __init__(self, cookie):
        super().__init__(daemon=True)
        self.cookie, self.stop, self.n, self.failed = cookie, False, 0, []

    def run(self):
        k = 0
        while not self.stop:
            port = PORT_A if k % 2 == 0 else PORT_B
            try:
                if k % 16 == 15:
                    f = chans[port].unary_unary(SVC + 'Login', request_serializer=lambda x: x,
                                                response_deserializer=lambda x: x)
                    try:
                        f(enc((1, 'steady%d' % k), (2, 'wrong')), timeout=20)
                        self.failed.append('login %d: OK?' % k)
                    except grpc.RpcError as e:
                        if e.code() != grpc.StatusCode.UNAUTHENTICATED:
                            self.failed.append('login on %d: %s %s' % (port, e.code(), e.details()))
                else:
                    st, msg, _ = web(port, 'GetMe', b'', cookie=self.cookie)
                    if st != 'OK':
                        self.failed.append('GetMe on %d: %s %s' % (port, st, msg))
            except BaseException as e:  # transport failure or expect(): a failed request too
                self.failed.append('on %d: %r' % (port, e))
            self.n += 1
            k += 1
            time.sleep(0.02)


RESTARTED = []


def die_with_parent():
    ctypes.CDLL('libc.so.6', use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def wait_metric(port, up, seconds):
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if metrics(port)['up'] == up:
            return time.monotonic() - t0
        time.sleep(0.05)
    fail('bill_redis_up of %d not %d within %d s' % (port, up, seconds))


def outage():
    for log in (LOG_A, LOG_B):
        expect(log_count(log, 'WARN', 'unreachable') == 0, '%s: WARN before the outage' % log)
    # past the windows the session checks used up (they make 5 login calls)
    next_window(skip=1)
    cookie = admin_login(PORT_B)
    load = Load(cookie)
    load.start()
    time.sleep(1.0)
    n0 = load.n
    os.kill(REDIS_PID, signal.SIGKILL)
    for port in (PORT_A, PORT_B):
        took = wait_metric(port, 0, 10)
        print('server %d: bill_redis_up 0 after %.2f s' % (port, took))
    time.sleep(1.5)
    expect(load.n - n0 > 20, 'load stalled during the outage (%d requests)' % (load.n - n0))
    for log in (LOG_A, LOG_B):
        w = log_count(log, 'WARN', 'unreachable')
        expect(w == 1, '%s: %d WARN lines for the outage, want exactly 1' % (log, w))
    fb = metrics(PORT_B)['fallbacks']
    expect(fb >= 1, 'B counted no fallback during the outage')
    sock = os.path.join(REDIS_DIR, 'redis.sock')
    # ours from now on: killed with this script (PR_SET_PDEATHSIG) or at its end
    p = subprocess.Popen(['/usr/bin/redis-server', '--port', '0', '--unixsocket', sock,
                          '--unixsocketperm', '700', '--daemonize', 'no', '--save', '',
                          '--appendonly', 'no', '--dir', REDIS_DIR, '--logfile',
                          os.path.join(REDIS_DIR, 'redis.log')],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)
    RESTARTED.append(p)
    for port in (PORT_A, PORT_B):
        took = wait_metric(port, 1, 10)
        print('server %d: bill_redis_up 1 %.2f s after the restart' % (port, took))
    time.sleep(1.0)
    load.stop = True
    load.join(30)
    expect(not load.failed, '%d failed requests of %d: %r' % (len(load.failed), load.n,
                                                             load.failed[:5]))
    for log in (LOG_A, LOG_B):
        w = log_count(log, 'WARN', 'unreachable')
        i = log_count(log, 'INFO', 'reachable again')
        expect(w == 1 and i == 1, '%s: %d WARN / %d INFO, want 1 / 1' % (log, w, i))
    print('outage: %d requests, 0 failed, one WARN and one INFO per server' % load.n)


try:
    shared_limit('before the outage')
    revoked_everywhere()
    outage()
    shared_limit('after the restart')
    revoked_everywhere()
finally:
    for p in RESTARTED:
        p.kill()
        p.wait()
print('redis e2e OK')
