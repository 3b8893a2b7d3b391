#!/usr/bin/python3
"""IdentityService end to end, as the SPA and a gRPC client use it.

Usage: test_identity.py PORT SCENARIO    (SCENARIO: customer | admin | tokens |
                                          lockout | ratelimit)
The server runs with the e2e harness config (jwt secret below, bootstrap admin
"admin" / "E2e-Admin-Pass-123!"). The stories run under the harness's relaxed
[rate_limit], so they make their calls as fast as they like; the ratelimit
scenario gets a server with the shipped limits (login_per_sec 5,
register_per_sec 1, per client address) and asserts them. Messages are encoded by a
tiny protobuf codec here (strings, bools, varints, nested messages), so no
generated stubs are needed. Exits non-zero with a message on the first failed
expectation.
"""
import base64
import hashlib
import hmac
import http.client
import json
import struct
import subprocess
import sys
import time
import urllib.parse

import grpc

from pbwire import expect, enc, dec, web_frames  # noqa: E402

PORT = int(sys.argv[1])
SCENARIO = sys.argv[2]
SECRET = b'e2e-secret-0123456789abcdef0123456789'
SVC = '/rustbill.identity.IdentityService/'
ADMIN_PASS = 'E2e-Admin-Pass-123!'


def s(msg, num):
    return msg.get(num, [b''])[0].decode()


def i(msg, num):
    return msg.get(num, [0])[0]


USER_FIELDS = {1: 'id', 2: 'username', 3: 'email', 4: 'display_name', 5: 'role',
               7: 'created_at', 8: 'user_type', 9: 'customer_id'}


def user(raw):
    m = dec(raw)
    u = {name: s(m, n) for n, name in USER_FIELDS.items()}
    u['is_active'] = bool(i(m, 6))
    return u


# ---- native gRPC (HTTP/2) ---------------------------------------------------

CH = grpc.insecure_channel('127.0.0.1:%d' % PORT)


def call(method, body, token=None, headers=()):
    md = list(headers)
    if token:
        md.append(('authorization', 'Bearer ' + token))
    f = CH.unary_unary(SVC + method, request_serializer=lambda x: x,
                       response_deserializer=lambda x: x)
    try:
        return grpc.StatusCode.OK, '', dec(f(body, metadata=md, timeout=20))
    except grpc.RpcError as e:
        return e.code(), e.details() or '', None


def ok(method, body, token=None, headers=()):
    code, msg, resp = call(method, body, token, headers)
    expect(code == grpc.StatusCode.OK, '%s: expected OK, got %s %s' % (method, code, msg))
    return resp


def denied(method, body, want, token=None, headers=(), contains=None):
    code, msg, _ = call(method, body, token, headers)
    expect(code == want, '%s: expected %s, got %s (%s)' % (method, want, code, msg))
    if contains:
        expect(contains in msg, '%s: message %r lacks %r' % (method, msg, contains))
    return msg


def login(username, password, user_type=''):
    return call('Login', enc((1, username), (2, password), (3, user_type)))


# ---- gRPC-Web over HTTP/1.1 (what the browser does) -------------------------

def web(method, body, cookie=None, extra=None, src=None):
    """src: a source address on the loopback network (e.g. '127.0.0.2'), so
    one test plays clients at several addresses."""
    conn = http.client.HTTPConnection('127.0.0.1', PORT, timeout=20,
                                      source_address=(src, 0) if src else None)
    hdrs = {'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1'}
    if cookie:
        hdrs['cookie'] = cookie
    hdrs.update(extra or {})
    conn.request('POST', SVC + method, body=b'\x00' + struct.pack('>I', len(body)) + body,
                 headers=hdrs)
    r = conn.getresponse()
    data = r.read()
    headers = r.getheaders()
    conn.close()
    expect(r.status == 200, 'gRPC-Web %s: HTTP %d' % (method, r.status))
    hmap = {k.lower(): v for k, v in headers}
    cookies = [v for k, v in headers if k.lower() == 'set-cookie']
    msgs, trailers = web_frames(data, method)
    status = int(hmap.get('grpc-status', trailers.get('grpc-status', '-1')))
    message = urllib.parse.unquote(hmap.get('grpc-message', trailers.get('grpc-message', '')))
    return status, message, (dec(msgs[0]) if msgs else None), cookies


# ---- tokens -----------------------------------------------------------------

def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b'=').decode()


def forge(header, payload, key=SECRET):
    h = b64u(json.dumps(header).encode())
    p = b64u(json.dumps(payload).encode())
    sig = hmac.new(key, ('%s.%s' % (h, p)).encode(), hashlib.sha256).digest()
    return '%s.%s.%s' % (h, p, b64u(sig))


# ---- scenarios ----------------------------------------------------------------

def scenario_customer():
    # anonymous GetMe
    denied('GetMe', b'', grpc.StatusCode.UNAUTHENTICATED, contains='login required')
    # register: user + customer, balance 0.00 (checked by the C wrapper in SQL)
    r = ok('Register', enc((1, 'alice'), (2, 'alice@example.com'), (3, 'Alice'),
                            (4, 'correct horse')))
    u = user(r[1][0])
    cid = s(r, 2)
    expect(u['username'] == 'alice' and u['user_type'] == 'customer', 'register user %r' % u)
    expect(cid and u['customer_id'] == cid, 'register customer id')
    expect(u['created_at'].endswith('Z'), 'created_at RFC 3339: %r' % u['created_at'])
    denied('Register', enc((1, 'alice'), (2, 'other@example.com'), (4, 'correct horse')),
           grpc.StatusCode.ALREADY_EXISTS, contains='username already taken')
    denied('Register', enc((1, 'bob'), (2, 'nope'), (4, 'correct horse')),
           grpc.StatusCode.INVALID_ARGUMENT, contains='email')
    # verification code (cooldown answered in-band)
    r = ok('SendVerificationCode', enc((1, 'carol@example.com'), (2, 'register')))
    expect(i(r, 1) == 1, 'code sent')
    r = ok('SendVerificationCode', enc((1, 'carol@example.com'), (2, 'register')))
    expect(i(r, 1) == 0 and 0 < i(r, 3) <= 60, 'cooldown: sent=%r retry=%r' % (i(r, 1), i(r, 3)))

    # login (user_type empty = customer)
    code, msg, r = login('alice', 'correct horse')
    expect(code == grpc.StatusCode.OK, 'login: %s %s' % (code, msg))
    access, refresh = s(r, 1), s(r, 2)
    expect(i(r, 3) == 24 * 3600, 'expires_in %r' % i(r, 3))
    expect(access.count('.') == 2 and refresh.startswith('rt_'), 'token shapes')
    expect(user(r[4][0])['customer_id'] == cid, 'login user')
    code, msg, _ = login('alice', 'wrong horse')
    expect(code == grpc.StatusCode.UNAUTHENTICATED and msg == 'invalid username or password',
           'wrong password: %s %r' % (code, msg))
    code, msg, _ = login('nobody', 'correct horse')
    expect(msg == 'invalid username or password', 'unknown user message %r' % msg)

    # GetMe with the access token
    me = user(ok('GetMe', b'', token=access)[1][0])
    expect(me['username'] == 'alice' and me['user_type'] == 'customer', 'GetMe %r' % me)

    # refresh: rotation, then reuse of the old token revokes the family
    r = ok('RefreshToken', enc((1, refresh)))
    access2, refresh2 = s(r, 1), s(r, 3)
    expect(refresh2 != refresh and i(r, 2) == 24 * 3600, 'rotation')
    ok('GetMe', b'', token=access2)
    denied('RefreshToken', enc((1, refresh)), grpc.StatusCode.UNAUTHENTICATED,
           contains='already used')
    denied('RefreshToken', enc((1, refresh2)), grpc.StatusCode.UNAUTHENTICATED,
           contains='revoked')

    # a new login; Logout revokes that login's refresh family
    code, msg, r = login('alice', 'correct horse')
    expect(code == grpc.StatusCode.OK, 'relogin %s %s' % (code, msg))
    access3, refresh3 = s(r, 1), s(r, 2)
    ok('Logout', b'', token=access3)
    denied('RefreshToken', enc((1, refresh3)), grpc.StatusCode.UNAUTHENTICATED)

    # change password: wrong old, then right; old password no longer works
    denied('ChangePassword', enc((1, 'nope'), (2, 'new horse 2')),
           grpc.StatusCode.UNAUTHENTICATED, token=access3, contains='current password')
    ok('ChangePassword', enc((1, 'correct horse'), (2, 'new horse 2')), token=access3)
    code, _, _ = login('alice', 'correct horse')
    expect(code == grpc.StatusCode.UNAUTHENTICATED, 'old password still works')
    code, _, _ = login('alice', 'new horse 2')
    expect(code == grpc.StatusCode.OK, 'new password rejected')
    denied('ChangePassword', enc((1, 'x'), (2, 'y')), grpc.StatusCode.UNAUTHENTICATED)
    print('customer OK')


def scenario_tokens():
    ok('Register', enc((1, 'dave'), (2, 'dave@example.com'), (4, 'correct horse')))
    code, msg, r = login('dave', 'correct horse')
    expect(code == grpc.StatusCode.OK, 'login %s %s' % (code, msg))
    good = s(r, 1)
    claims = json.loads(base64.urlsafe_b64decode(good.split('.')[1] + '=='))
    expect(claims['typ'] == 'access' and claims['sub'] and claims['cid'], 'claims %r' % claims)
    ok('GetMe', b'', token=good)
    now = int(time.time())
    base = dict(claims)
    # expired
    exp = dict(base, iat=now - 7200, exp=now - 3600)
    denied('GetMe', b'', grpc.StatusCode.UNAUTHENTICATED, token=forge({'alg': 'HS256', 'typ': 'JWT'}, exp),
           contains='access token expired')
    # wrong signature (other key)
    denied('GetMe', b'', grpc.StatusCode.UNAUTHENTICATED,
           token=forge({'alg': 'HS256', 'typ': 'JWT'}, base, key=b'x' * 40), contains='signature')
    # alg none, with and without a signature part
    h = b64u(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())
    p = b64u(json.dumps(base).encode())
    denied('GetMe', b'', grpc.StatusCode.UNAUTHENTICATED, token='%s.%s.' % (h, p))
    denied('GetMe', b'', grpc.StatusCode.UNAUTHENTICATED, token=forge({'alg': 'none'}, base),
           contains='not accepted')
    # HS512 with the right key is still refused
    denied('GetMe', b'', grpc.StatusCode.UNAUTHENTICATED, token=forge({'alg': 'HS512'}, base))
    # garbage and a non-Bearer header
    denied('GetMe', b'', grpc.StatusCode.UNAUTHENTICATED, token='garbage')
    denied('GetMe', b'', grpc.StatusCode.UNAUTHENTICATED,
           headers=[('authorization', 'Basic YWRtaW46eA==')], contains='Bearer')
    # the same claims correctly signed pass: the forger is right, so the refusals mean something
    ok('GetMe', b'', token=forge({'alg': 'HS256', 'typ': 'JWT'}, base))
    # an invalid token does not break anonymous methods (Login still works)
    code, _, _ = call('Login', enc((1, 'dave'), (2, 'correct horse')), token='garbage')
    expect(code == grpc.StatusCode.OK, 'login with a stale token header failed: %s' % code)
    print('tokens OK')


def scenario_admin():
    st, msg, r, cookies = web('Login', enc((1, 'admin'), (2, ADMIN_PASS), (3, 'admin')))
    expect(st == 0, 'admin login: %d %s' % (st, msg))
    expect(s(r, 5) == '/admin' and s(r, 1) == '' and s(r, 2) == '', 'admin login response')
    u = user(r[4][0])
    expect(u['user_type'] == 'admin' and u['username'] == 'admin' and u['role'] == 'admin',
           'admin user %r' % u)
    expect(len(cookies) == 1, 'one set-cookie, got %r' % cookies)
    c = cookies[0]
    for part in ('rustbill_session=', 'Path=/', 'HttpOnly', 'SameSite=Lax', 'Max-Age=604800'):
        expect(part in c, 'cookie %r lacks %s' % (c, part))
    expect('Secure' not in c, 'cookie_secure=false but Secure set: %r' % c)
    pair = c.split(';')[0]
    token = pair.split('=', 1)[1]
    # GetMe with the cookie (gRPC-Web) and through curl (HTTP/1.1)
    st, msg, r, _ = web('GetMe', b'', cookie=pair)
    expect(st == 0 and user(r[1][0])['user_type'] == 'admin', 'admin GetMe %d %s' % (st, msg))
    p = subprocess.run(['curl', '-s', '-S', '-i', '--max-time', '10', '-X', 'POST',
                        '-H', 'content-type: application/grpc-web+proto', '-H', 'cookie: ' + pair,
                        '--data-binary', '@-', 'http://127.0.0.1:%d%sGetMe' % (PORT, SVC)],
                       input=b'\x00\x00\x00\x00\x00', capture_output=True)
    expect(p.returncode == 0 and b'grpc-status: 0' in p.stdout.lower() or
           b'grpc-status:0' in p.stdout.lower(), 'curl GetMe: %r' % p.stdout[:300])
    expect(b'admin' in p.stdout, 'curl GetMe body lacks the admin user')
    # tampered cookie
    bad = 'rustbill_session=' + ('A' if token[0] != 'A' else 'B') + token[1:]
    st, msg, _, _ = web('GetMe', b'', cookie=bad)
    expect(st == 16 and 'session' in msg, 'tampered cookie: %d %s' % (st, msg))
    # wrong password, unknown user_type
    st, msg, _, _ = web('Login', enc((1, 'admin'), (2, 'nope-nope'), (3, 'admin')))
    expect(st == 16, 'admin wrong password: %d' % st)
    st, msg, _, _ = web('Login', enc((1, 'admin'), (2, ADMIN_PASS), (3, 'root')))
    expect(st == 3, 'bad user_type: %d' % st)
    # logout: cookie cleared, session dead server-side even if the browser keeps it
    st, msg, _, cookies = web('Logout', b'', cookie=pair)
    expect(st == 0, 'logout %d %s' % (st, msg))
    expect(cookies and 'Max-Age=0' in cookies[0], 'logout clears cookie: %r' % cookies)
    st, msg, _, _ = web('GetMe', b'', cookie=pair)
    expect(st == 16, 'GetMe after logout: %d %s' % (st, msg))
    print('admin OK')


def scenario_lockout():
    ok('Register', enc((1, 'erin'), (2, 'erin@example.com'), (4, 'correct horse')))
    for n in range(5):
        code, _, _ = login('erin', 'bad password %d' % n)
        expect(code == grpc.StatusCode.UNAUTHENTICATED, 'attempt %d: %s' % (n, code))
    code, msg, _ = login('erin', 'correct horse')
    expect(code == grpc.StatusCode.RESOURCE_EXHAUSTED and 'too many failed logins' in msg,
           'lockout: %s %s' % (code, msg))
    # issue 8: the lock is for that address; erin, elsewhere, logs in
    st, msg, r, _ = web('Login', enc((1, 'erin'), (2, 'correct horse')), src='127.0.0.3')
    expect(st == 0 and s(r, 1).count('.') == 2, 'erin from another address: %d %s' % (st, msg))

    # An attacker at 127.0.0.2 hammers the admin's name: locked out there
    # after five failures, while the admin logs in from 127.0.0.1 and the
    # attacker's address is in the WARN lines (checked by test_identity.c).
    codes = []
    for n in range(8):
        st, msg, _, _ = web('Login', enc((1, 'admin'), (2, 'guess %d' % n), (3, 'admin')),
                            src='127.0.0.2')
        codes.append((st, msg))
    expect([c for c, _ in codes[:5]] == [16] * 5, 'attacker guesses: %r' % codes)
    expect(all(c == 8 and 'from this address' in m for c, m in codes[5:]),
           'attacker not locked: %r' % codes)
    st, msg, r, cookies = web('Login', enc((1, 'admin'), (2, ADMIN_PASS), (3, 'admin')))
    expect(st == 0 and cookies, 'admin locked out by a stranger: %d %s' % (st, msg))
    st, msg, _, _ = web('Login', enc((1, 'admin'), (2, ADMIN_PASS), (3, 'admin')),
                        src='127.0.0.2')
    expect(st == 8, 'the attacker address is still locked: %d %s' % (st, msg))
    print('lockout OK')


def burst(method, bodies):
    """Every body at once on one channel; -> [(code, details)]."""
    f = CH.unary_unary(SVC + method, request_serializer=lambda x: x,
                       response_deserializer=lambda x: x)
    futs = [f.future(b, timeout=30) for b in bodies]
    out = []
    for fu in futs:
        try:
            fu.result()
            out.append((grpc.StatusCode.OK, ''))
        except grpc.RpcError as e:
            out.append((e.code(), e.details() or ''))
    return out


def limited_burst(method, bodies, at_least, passed, message):
    """A burst of `method` calls: at least `at_least` refused with
    RESOURCE_EXHAUSTED and `message` (not the lockout), one answered with
    `passed` (it got through)."""
    res = burst(method, bodies)
    codes = [c for c, _ in res]
    limited = [m for c, m in res if c == grpc.StatusCode.RESOURCE_EXHAUSTED]
    expect(len(limited) >= at_least,
           'only %d of %d %s calls limited: %r' % (len(limited), len(bodies), method, codes))
    expect(codes.count(passed) >= 1, 'no %s got through: %r' % (method, codes))
    expect(all(m == message for m in limited), '%s rate-limit message: %r' % (method, limited))


def scenario_ratelimit():
    # The server has the shipped limits: login_per_sec = 5, register_per_sec
    # = 1, burst = rate, per client address. The limiter runs on the I/O
    # thread before a request is queued, so a burst sent at once meets it
    # within milliseconds however slow the handlers are.
    #
    # 20 logins at once (distinct users, so the lockout stays out of it):
    # at most 5 + 5/s of the burst's spread get through.
    limited_burst('Login', [enc((1, 'nobody%d' % n), (2, 'whatever')) for n in range(20)], 10,
                  grpc.StatusCode.UNAUTHENTICATED, 'too many login attempts, slow down')
    # 6 registrations at once: 1 + 1/s of the spread get through.
    limited_burst('Register', [enc((1, 'burst%d' % n), (2, 'burst%d@example.com' % n),
                                   (4, 'correct horse')) for n in range(6)], 3,
                  grpc.StatusCode.OK, 'too many registrations, slow down')
    # other methods are not limited by these buckets
    denied('GetMe', b'', grpc.StatusCode.UNAUTHENTICATED, contains='login required')
    # and another address has buckets of its own
    st, msg, _, _ = web('Login', enc((1, 'nobody'), (2, 'whatever')), src='127.0.0.4')
    expect(st == 16, 'login from another address: %d %s' % (st, msg))
    print('ratelimit OK')


{'customer': scenario_customer, 'tokens': scenario_tokens, 'admin': scenario_admin,
 'lockout': scenario_lockout, 'ratelimit': scenario_ratelimit}[SCENARIO]()
