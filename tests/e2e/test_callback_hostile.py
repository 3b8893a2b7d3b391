#!/usr/bin/python3
"""Hostile gateway notifications against a real bill-server: the interface
id of a gateway is public (ListGateways), so anybody can reach
/callback/<gateway>/<interface_id> with any query string and body. Each
request below must get a clear answer — the gateway protocol's "fail" with
HTTP 200 from gateway-yipay, the manual-confirmation text from
gateway-banktransfer, or a 4xx from the HTTP layer for bytes HTTP itself
refuses — and the server must keep serving: GET /health answers 200 after
every single request.

The first cases are the remote crash of issue 8: a form parameter without
'=' (GET ?a, POST body a) made gateway-yipay's form parser write into a
string literal (SIGSEGV, the whole server gone).

Usage: test_callback_hostile.py PORT SERVER_DIR BILL_CLI
Exits non-zero with a message on the first failure; prints OK at the end.
"""
import json
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request

from pbwire import fail, expect, bill_cli, jid, yipay_sign  # noqa: E402

PORT = int(sys.argv[1])
SRV_DIR = sys.argv[2]
CLI = sys.argv[3]
PID, KEY = '1001', 'k3y-ABC'


def cli(*args):
    return jid(bill_cli(CLI, SRV_DIR, *args))


def request(method, path, body=None):
    """One request on its own connection. -> (status, body) or fail()."""
    req = urllib.request.Request('http://127.0.0.1:%d%s' % (PORT, path), data=body, method=method,
                                 headers={'Content-Type': 'application/x-www-form-urlencoded'})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (OSError, urllib.error.URLError) as e:
        fail('%s %s: no answer (%s) — did the server die?' % (method, path[:80], e))


def raw(data):
    """Raw bytes on a socket (for what urllib will not send): -> status."""
    s = socket.create_connection(('127.0.0.1', PORT), timeout=30)
    try:
        s.sendall(data)
        head = b''
        while b'\r\n' not in head:
            chunk = s.recv(4096)
            if not chunk:
                fail('raw request %r: connection closed without an answer' % data[:60])
            head += chunk
        return int(head.split(b' ', 2)[1])
    finally:
        s.close()


def alive(after):
    st, body = request('GET', '/health')
    expect(st == 200, 'GET /health after %s: %r %r' % (after, st, body))


# Unsigned or malformed forms: gateway-yipay answers "fail", verifies nothing.
FORMS = [
    'a', 'a&b&c', '=', '&', '&&&', '=&=', '==', 'a==b', '%', '%%', '%0', '%zz', 'a=%', 'a=%4',
    '%=%', '+', 'a+b=c+d', 'sign', 'sign&pid&out_trade_no', 'pid&sign=&out_trade_no=x',
    'pid=' + PID + '&out_trade_no=x&sign', 'pid=' + PID + '&out_trade_no&sign=00',
    'pid=' + PID + '&sign=&out_trade_no=x&money=', 'a=%00b', '%00', 'out_trade_no=%00&pid=%00',
    'pid=%FF%FE&sign=%C0%80&out_trade_no=%ED%A0%80', 'k=' + 'v' * 65536, 'k' * 65536,
    '&'.join('p%d' % i for i in range(5000)), '&'.join('a' for _ in range(5000)),
    'money=1&money=2&sign=x&sign=y', 'sign_type=MD5', 'pid=1001;sign=x',
]


def signed(**over):
    """A correctly signed notification (we know the test key) with hostile
    values: the plugin's own parsing after the signature check."""
    n = {'pid': PID, 'trade_no': '2024000001', 'out_trade_no': '00000000-0000-4000-8000-000000000000',
         'type': 'alipay', 'name': 'x', 'money': '12.50', 'trade_status': 'TRADE_SUCCESS'}
    n.update(over)
    n['sign'] = yipay_sign(n, KEY)
    n['sign_type'] = 'MD5'
    return urllib.parse.urlencode(n)


SIGNED = [
    signed(money='-1'), signed(money='1e5'), signed(money='99999999999999999999.99'),
    signed(money='12.505'), signed(money='12.'), signed(money='.5'), signed(money='0x10'),
    signed(money='12.50 '), signed(money=''), signed(out_trade_no='not-a-uuid'),
    signed(out_trade_no='x' * 4000), signed(trade_no='t' * 4000),
    signed(trade_status='TRADE_SUCCESS\n'), signed(out_trade_no="'; DROP TABLE payments; --"),
]


def main():
    yipay = cli('plugin', 'create-interface', '--plugin', 'gateway-yipay', '--name', 'Yipay',
                '--config', json.dumps({'api_url': 'http://127.0.0.1:9/', 'pid': PID, 'key': KEY,
                                        'public_base': 'https://bill.example.com'}))
    bank = cli('plugin', 'create-interface', '--plugin', 'gateway-banktransfer', '--name', 'Bank',
               '--config', json.dumps({'bank_name': 'B', 'account_name': 'A',
                                       'account_number': '123'}))
    alive('start')

    # The crash of issue 8, exactly as reported: first, and on its own.
    st, body = request('GET', '/callback/yipay/%s?a' % yipay)
    expect((st, body) == (200, b'fail'), 'GET ?a: want 200 "fail", got %r %r' % (st, body))
    alive('GET /callback/yipay/<id>?a')
    st, body = request('POST', '/callback/yipay/%s' % yipay, b'a')
    expect((st, body) == (200, b'fail'), 'POST a: want 200 "fail", got %r %r' % (st, body))
    alive('POST /callback/yipay/<id> a')

    for form in FORMS + SIGNED:
        for method in ('GET', 'POST'):
            if method == 'GET':
                st, body = request('GET', '/callback/gateway-yipay/%s?%s' % (yipay, form))
            else:
                st, body = request('POST', '/callback/gateway-yipay/%s' % yipay, form.encode())
            # 414/431: a query too long for the HTTP layer is refused before the plugin.
            expect((st, body) == (200, b'fail') or (method == 'GET' and st in (400, 414, 431)),
                   '%s %r: want 200 "fail", got %r %r' % (method, form[:80], st, body[:200]))
            alive('%s %r' % (method, form[:80]))

    # Bytes urllib will not send: raw NUL, CR and high bytes in the query and body.
    for data in (b'GET /callback/yipay/%s?a\x00b HTTP/1.1\r\nHost: x\r\n\r\n' % yipay.encode(),
                 b'GET /callback/yipay/%s?\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n' % yipay.encode(),
                 b'POST /callback/yipay/%s HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\na\x00b=\x00\xff'
                 % yipay.encode()):
        st = raw(data)
        expect(st in (200, 400), 'raw %r: want 200 or 400, got %r' % (data[:60], st))
        alive('raw %r' % data[:60])

    # gateway-banktransfer confirms nothing by callback, whatever arrives.
    for form in FORMS[:12]:
        st, body = request('POST', '/callback/gateway-banktransfer/%s' % bank, form.encode())
        expect((st, body) == (200, b'manual confirmation only'),
               'banktransfer %r: %r %r' % (form, st, body))
        alive('banktransfer %r' % form)
    print('OK')


if __name__ == '__main__':
    main()
