#!/usr/bin/python3
"""Gateway callbacks wired into bill-server, end to end: a real server with
the gateway-yipay plugin in its plugins_dir, the interface created by
bill-cli, an order created and paid through the gateway over native gRPC,
then the gateway's signed notification POSTed to
/callback/gateway-yipay/<interface_id> and replayed on the plugin's own
notify_url form /callback/yipay/<interface_id>, then once more as a GET
with the form in the query string: "success" every time.
Also: a tampered signature answers "fail", an unknown interface is 404.
The database side (paid once, one success payment, the order.paid event
processed by the server's event workers) is checked by test_wiring.c.

Usage: test_wiring.py PORT SERVER_DIR BILL_CLI
Prints "ORDER <id>" and "PAYMENT <id>" for the C side. Exits non-zero with
a message on the first failure.
"""
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

import grpc

PORT = int(sys.argv[1])
SRV_DIR = sys.argv[2]
CLI = sys.argv[3]
PID, KEY = '1001', 'k3y-ABC'


from pbwire import fail, expect, enc, dec, S, M, R, bill_cli, jid, native, ok, yipay_sign  # noqa: E402,F401


CH = grpc.insecure_channel('127.0.0.1:%d' % PORT)
ID = '/rustbill.identity.IdentityService/'
ORD = '/rustbill.order.OrderService/'
PAY = '/rustbill.payment.PaymentService/'


def call(path, body, md=()):
    return ok(native(CH, path, body, md), path)


def cli(*args):
    return bill_cli(CLI, SRV_DIR, *args)


def post(path, form):
    req = urllib.request.Request('http://127.0.0.1:%d%s' % (PORT, path), data=form.encode(),
                                 headers={'Content-Type': 'application/x-www-form-urlencoded'})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers.get('content-type', ''), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get('content-type', ''), e.read().decode()


def main():
    cfg = {'api_url': 'http://127.0.0.1:9/', 'pid': PID, 'key': KEY,
           'public_base': 'https://bill.example.com'}
    iface = jid(cli('plugin', 'create-interface', '--plugin', 'gateway-yipay', '--name', 'Yipay',
                    '--config', json.dumps(cfg)))

    cat = jid(cli('category', 'create', '--name', 'Cloud'))
    grp = jid(cli('group', 'create', '--name', 'HK', '--category', cat))
    prod = jid(cli('product', 'create', '--name', 'HK-1', '--group', grp, '--price-monthly', '12.50',
                   '--spec', 'cpu_cores=2', '--spec', 'region=hk'))

    call(ID + 'Register', enc((1, 'wiring'), (2, 'wiring@example.com'), (3, 'Wiring'),
                              (4, 'Secret-Pass-1'), (5, '')))
    m = call(ID + 'Login', enc((1, 'wiring'), (2, 'Secret-Pass-1'), (3, 'customer')))
    md = [('authorization', 'Bearer ' + S(m, 1))]

    spec = enc((1, 2), (2, 0), (5, 'hk'))
    m = call(ORD + 'CreateOrder', enc((1, ''), (2, prod), (4, spec), (8, 'monthly')), md)
    oid = S(M(m, 1), 1)
    expect(S(M(m, 1), 7) == 'pending' and S(M(m, 1), 8) == '12.50', 'new order %r' % M(m, 1))
    m = call(ORD + 'PayOrder', enc((1, oid), (2, iface)), md)
    pay = M(m, 1)
    payment = S(pay, 1)
    expect(len(payment) == 36, 'payment info %r' % pay)
    m = call(ORD + 'GetOrder', enc((1, oid)), md)
    expect(S(M(m, 1), 7) == 'pending', 'order before the notification: %r' % S(M(m, 1), 7))
    print('ORDER', oid)
    print('PAYMENT', payment)
    sys.stdout.flush()

    n = {'pid': PID, 'trade_no': '2024000001', 'out_trade_no': payment, 'type': 'alipay',
         'name': 'HK-1', 'money': '12.50', 'trade_status': 'TRADE_SUCCESS', 'param': ''}
    # tampered: money changed without re-signing -> "fail", nothing paid
    bad = dict(n, sign=yipay_sign(n, KEY), sign_type='MD5', money='0.01')
    st, _, body = post('/callback/gateway-yipay/' + iface, urllib.parse.urlencode(bad))
    expect((st, body) == (200, 'fail'), 'tampered notification: %r %r' % (st, body))
    m = call(ORD + 'GetOrder', enc((1, oid)), md)
    expect(S(M(m, 1), 7) == 'pending', 'order after a tampered notification: %r' % S(M(m, 1), 7))

    n['sign'] = yipay_sign(n, KEY)
    n['sign_type'] = 'MD5'
    form = urllib.parse.urlencode(n)
    st, ct, body = post('/callback/gateway-yipay/' + iface, form)
    expect((st, body) == (200, 'success') and ct.startswith('text/plain'),
           'first notification: %r %r %r' % (st, ct, body))
    # the replay arrives on the URL the plugin itself gives the gateway
    st, _, body = post('/callback/yipay/' + iface, form)
    expect((st, body) == (200, 'success'), 'replayed notification: %r %r' % (st, body))
    # real 易支付 platforms notify with GET and the form in the query string
    with urllib.request.urlopen('http://127.0.0.1:%d/callback/yipay/%s?%s' % (PORT, iface, form),
                                timeout=30) as r:
        st, body = r.status, r.read().decode()
    expect((st, body) == (200, 'success'), 'GET notification: %r %r' % (st, body))
    m = call(ORD + 'GetOrder', enc((1, oid)), md)
    expect(S(M(m, 1), 7) in ('paid', 'provisioning', 'active'),
           'order after the notification: %r' % S(M(m, 1), 7))

    # Money is never refused (issue 8): the customer pays at the gateway,
    # but the order is cancelled before the notification arrives. The
    # notification is answered "success" and the money is in the balance.
    m = call(ORD + 'CreateOrder', enc((1, ''), (2, prod), (4, spec), (8, 'monthly')), md)
    oid2 = S(M(m, 1), 1)
    pay2 = S(M(call(ORD + 'PayOrder', enc((1, oid2), (2, iface)), md), 1), 1)
    cli('order', 'cancel', oid2)
    n2 = dict(n, trade_no='2024000002', out_trade_no=pay2)
    n2.pop('sign')
    n2['sign'] = yipay_sign(dict((k, v) for k, v in n2.items() if k != 'sign_type'), KEY)
    form2 = urllib.parse.urlencode(n2)
    for attempt in ('first', 'replayed'):
        st, _, body = post('/callback/yipay/' + iface, form2)
        expect((st, body) == (200, 'success'),
               '%s notification for a cancelled order: %r %r' % (attempt, st, body))
    m = call(ORD + 'GetOrder', enc((1, oid2)), md)
    expect(S(M(m, 1), 7) == 'cancelled', 'cancelled order after the notification: %r' % M(m, 1))
    BAL = '/rustbill.balance.BalanceService/'
    m = call(BAL + 'GetBalance', enc((1, '')), md)
    expect(S(m, 2) == '12.50', 'balance after money for a cancelled order: %r' % S(m, 2))
    m = call(BAL + 'ListBalanceTransactions', enc((3, 'recharge')), md)
    txs = R(m, 1)
    expect(len(txs) == 1 and S(txs[0], 6) == pay2 and pay2 in S(txs[0], 7)
           and 'cancelled' in S(txs[0], 7), 'recharge for the late payment: %r' % txs)
    # the same trade_no cannot confirm a third payment: "fail", nothing credited
    m = call(ORD + 'CreateOrder', enc((1, ''), (2, prod), (4, spec), (8, 'monthly')), md)
    oid3 = S(M(m, 1), 1)
    pay3 = S(M(call(ORD + 'PayOrder', enc((1, oid3), (2, iface)), md), 1), 1)
    n3 = dict(n2, out_trade_no=pay3)
    n3.pop('sign')
    n3['sign'] = yipay_sign(dict((k, v) for k, v in n3.items() if k != 'sign_type'), KEY)
    st, _, body = post('/callback/yipay/' + iface, urllib.parse.urlencode(n3))
    expect((st, body) == (200, 'fail'), 'reused trade_no: %r %r' % (st, body))
    m = call(ORD + 'GetOrder', enc((1, oid3)), md)
    expect(S(M(m, 1), 7) == 'pending', 'order paid by a reused trade_no: %r' % S(M(m, 1), 7))
    m = call(BAL + 'GetBalance', enc((1, '')), md)
    expect(S(m, 2) == '12.50', 'balance after a reused trade_no: %r' % S(m, 2))
    # a disabled interface stops new payments, not the money of old ones
    cli('plugin', 'disable', iface)
    st, _, body = post('/callback/yipay/' + iface, form)
    expect((st, body) == (200, 'success'), 'notification to a disabled interface: %r %r'
           % (st, body))
    print('LATE', pay2)
    sys.stdout.flush()

    # an unknown interface, a path naming another plugin, a malformed path: 404
    for path in ('/callback/gateway-yipay/00000000-0000-4000-8000-000000000000',
                 '/callback/notifier-email/' + iface, '/callback/gateway-yipay/',
                 '/callback/gateway-yipay/not-a-uuid'):
        st, _, _ = post(path, form)
        expect(st == 404, '%s: want 404, got %r' % (path, st))
    print('OK')


if __name__ == '__main__':
    main()
