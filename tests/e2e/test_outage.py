#!/usr/bin/python3
"""A database outage seen from outside (issue 8, defect 3): the server keeps
answering, and everything it answers is retryable, never "not found" nor
"wrong password".

Usage:
  test_outage.py setup PORT SERVER_DIR BILL_CLI
      with the database up: a gateway-yipay interface (bill-cli), a product,
      a customer who orders and starts a gateway payment; prints
      "IFACE <id>", "ORDER <id>", "TOKEN <jwt>" and "FORM <signed notify>".
  test_outage.py down PORT TOKEN ORDER
      with the database stopped: GetOrder (JWT), Login and ListProducts all
      answer UNAVAILABLE.
  test_outage.py up PORT TOKEN ORDER
      with the database back: GetOrder shows the order paid.
Exits non-zero with a message on the first failure.
"""
import json
import sys
import urllib.parse

import grpc

from pbwire import fail, expect, enc, S, M, cli_id, yipay_sign  # noqa: E402

PID, KEY = '1001', 'k3y-ABC'
ID = '/rustbill.identity.IdentityService/'
ORD = '/rustbill.order.OrderService/'
PROD = '/rustbill.product.ProductService/'


def channel(port):
    return grpc.insecure_channel('127.0.0.1:%d' % port)


def raw(ch, path, body, md=()):
    f = ch.unary_unary(path, request_serializer=lambda x: x, response_deserializer=lambda x: x)
    return f(body, metadata=list(md), timeout=30)


def call(ch, path, body, md=()):
    from pbwire import dec
    try:
        return dec(raw(ch, path, body, md))
    except grpc.RpcError as e:
        fail('%s: %s %s' % (path, e.code().name, e.details()))


def setup(port, srv_dir, binary):
    ch = channel(port)
    cfg = {'api_url': 'http://127.0.0.1:9/', 'pid': PID, 'key': KEY,
           'public_base': 'https://bill.example.com'}
    iface = cli_id(binary, srv_dir, 'plugin', 'create-interface', '--plugin', 'gateway-yipay',
                '--name', 'Yipay', '--config', json.dumps(cfg))
    prod = cli_id(binary, srv_dir, 'product', 'create', '--name', 'HK-1', '--price-monthly', '12.50')
    call(ch, ID + 'Register', enc((1, 'outage'), (2, 'outage@example.com'), (3, 'Outage'),
                                  (4, 'Secret-Pass-1'), (5, '')))
    tok = S(call(ch, ID + 'Login', enc((1, 'outage'), (2, 'Secret-Pass-1'), (3, 'customer'))), 1)
    md = [('authorization', 'Bearer ' + tok)]
    oid = S(M(call(ch, ORD + 'CreateOrder', enc((2, prod), (8, 'monthly')), md), 1), 1)
    pay = S(M(call(ch, ORD + 'PayOrder', enc((1, oid), (2, iface)), md), 1), 1)
    n = {'pid': PID, 'trade_no': '2025000001', 'out_trade_no': pay, 'type': 'alipay',
         'name': 'HK-1', 'money': '12.50', 'trade_status': 'TRADE_SUCCESS', 'param': ''}
    n['sign'] = yipay_sign(n, KEY)
    n['sign_type'] = 'MD5'
    print('IFACE', iface)
    print('ORDER', oid)
    print('TOKEN', tok)
    print('FORM', urllib.parse.urlencode(n))


def down(port, tok, oid):
    ch = channel(port)
    md = [('authorization', 'Bearer ' + tok)]
    for path, body, m in ((ORD + 'GetOrder', enc((1, oid)), md),
                          (ID + 'Login', enc((1, 'outage'), (2, 'Secret-Pass-1'), (3, 'customer')), ()),
                          (ID + 'Login', enc((1, 'outage'), (2, 'wrong-pass'), (3, 'customer')), ()),
                          (PROD + 'ListProducts', b'', ())):
        try:
            raw(ch, path, body, m)
            fail('%s answered during the outage' % path)
        except grpc.RpcError as e:
            expect(e.code() == grpc.StatusCode.UNAVAILABLE,
                   '%s during the outage: want UNAVAILABLE, got %s %s'
                   % (path, e.code().name, e.details()))


def up(port, tok, oid):
    ch = channel(port)
    m = call(ch, ORD + 'GetOrder', enc((1, oid)), [('authorization', 'Bearer ' + tok)])
    expect(S(M(m, 1), 7) in ('paid', 'provisioning', 'active'), 'order after the outage: %r'
           % S(M(m, 1), 7))
    # the customer was never locked out by the refused logins of the outage
    call(ch, ID + 'Login', enc((1, 'outage'), (2, 'Secret-Pass-1'), (3, 'customer')))


def main():
    verb, port = sys.argv[1], int(sys.argv[2])
    if verb == 'setup':
        setup(port, sys.argv[3], sys.argv[4])
    elif verb == 'down':
        down(port, sys.argv[3], sys.argv[4])
    elif verb == 'up':
        up(port, sys.argv[3], sys.argv[4])
    else:
        fail('unknown verb %s' % verb)
    print('OK')


if __name__ == '__main__':
    main()
