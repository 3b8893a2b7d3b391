#!/usr/bin/python3
"""Suspended and closed customers lose access at once (issue 8, defect 4),
end to end: a real bill-server, the admin changing the status with bill-cli.

A customer registers, logs in (JWT + refresh token), creates an API key and
an order, then is suspended. With the JWT issued before the suspension, with
the API key, and through gRPC-Web like the browser: GetMe, ListOrders,
CreateOrder, PayOrder and GetBalance answer PERMISSION_DENIED naming the
suspension; Login with the right password and RefreshToken too, while a
wrong password still says only "invalid username or password"; the catalog
(ListProducts) answers with the token, with the key and anonymously. Closed
says closed. Reactivated, the very same JWT, key and refresh token work.

Usage: test_access.py PORT BILL_CLI DATABASE_URL
"""
import json
import struct
import subprocess
import sys
import http.client
import urllib.parse

import grpc

from pbwire import fail, expect, enc, dec, S, M, native, web_frames  # noqa: F401

PORT, CLI, DB = int(sys.argv[1]), sys.argv[2], sys.argv[3]
CH = grpc.insecure_channel('127.0.0.1:%d' % PORT)
ID = '/rustbill.identity.IdentityService/'
ORD = '/rustbill.order.OrderService/'
PROD = '/rustbill.product.ProductService/'
KEYS = '/rustbill.downstream.ApiKeyService/'
BAL = '/rustbill.balance.BalanceService/'


def call(path, body, md=()):
    # the harness's relaxed [rate_limit]: no pacing needed (e2e_identity's
    # ratelimit case asserts the limits)
    return native(CH, path, body, md, 20)


def ok(path, body, md=()):
    code, msg, r = call(path, body, md)
    expect(code == 'OK', '%s: want OK, got %s %s' % (path, code, msg))
    return r


def refused(path, body, md, code, words):
    got, msg, _ = call(path, body, md)
    expect(got == code.name and all(w in msg for w in words),
           '%s: want %s with %r, got %s %r' % (path, code, words, got, msg))


def web(path, body, token=None):
    """gRPC-Web over HTTP/1.1, as the browser sends it."""
    conn = http.client.HTTPConnection('127.0.0.1', PORT, timeout=20)
    hdrs = {'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1',
            'origin': 'http://localhost:5173'}
    if token:
        hdrs['authorization'] = 'Bearer ' + token
    conn.request('POST', path, body=b'\x00' + struct.pack('>I', len(body)) + body, headers=hdrs)
    r = conn.getresponse()
    data = r.read()
    _, trailers = web_frames(data, path)  # a trailer frame (flag 0x80) ends a success
    status = int(r.getheader('grpc-status', trailers.get('grpc-status', '-1')))
    msg = urllib.parse.unquote(r.getheader('grpc-message', trailers.get('grpc-message', '')))
    conn.close()
    return status, msg


def cli(*args):
    p = subprocess.run([CLI, '--database-url', DB, '--json', '-q'] + list(args),
                       capture_output=True, text=True)
    expect(p.returncode == 0, 'bill-cli %s: %s %s' % (args, p.stdout, p.stderr))
    return json.loads(p.stdout) if p.stdout.strip() else None


def main():
    prod = cli('product', 'create', '--name', 'VPS-1', '--price-monthly', '1.00')['id']
    ok(ID + 'Register', enc((1, 'susan'), (2, 'susan@example.com'), (3, 'Susan'),
                                (4, 'Secret-Pass-1')))
    r = ok(ID + 'Login', enc((1, 'susan'), (2, 'Secret-Pass-1')))
    access, refresh = S(r, 1), S(r, 2)
    jwt = [('authorization', 'Bearer ' + access)]
    cid = S(M(ok(ID + 'GetMe', b'', jwt), 1), 9)
    expect(len(cid) == 36, 'customer id %r' % cid)
    cli('customer', 'update', cid, '--api-keys')
    key = S(ok(KEYS + 'CreateApiKey', enc((1, 'ci')), jwt), 1)
    xkey = [('x-api-key', key)]
    oid = S(M(ok(ORD + 'CreateOrder', enc((2, prod), (8, 'monthly')), jwt), 1), 1)
    ok(ORD + 'ListOrders', b'', xkey)

    for status in ('suspended', 'closed'):
        cli('customer', 'update', cid, '--status', status)
        words = ['customer account', status]
        for md in (jwt, xkey):
            refused(ID + 'GetMe', b'', md, grpc.StatusCode.PERMISSION_DENIED, words)
            refused(ORD + 'ListOrders', b'', md, grpc.StatusCode.PERMISSION_DENIED, words)
            refused(ORD + 'CreateOrder', enc((2, prod), (8, 'monthly')), md,
                    grpc.StatusCode.PERMISSION_DENIED, words)
            refused(ORD + 'PayOrder', enc((1, oid), (2, 'balance')), md,
                    grpc.StatusCode.PERMISSION_DENIED, words)
            refused(BAL + 'GetBalance', b'', md, grpc.StatusCode.PERMISSION_DENIED, words)
            refused(KEYS + 'ListApiKeys', b'', md, grpc.StatusCode.PERMISSION_DENIED, words)
            ok(PROD + 'ListProducts', b'', md)          # the catalog stays public
        ok(PROD + 'ListProducts', b'')
        st, msg = web(ORD + 'ListOrders', b'', access)
        expect(st == 7 and status in msg, 'gRPC-Web ListOrders: %d %r' % (st, msg))
        st, msg = web(PROD + 'ListProducts', b'')
        expect(st == 0, 'gRPC-Web anonymous catalog: %d %r' % (st, msg))
        refused(ID + 'Login', enc((1, 'susan'), (2, 'Secret-Pass-1')), (),
                grpc.StatusCode.PERMISSION_DENIED, words)
        refused(ID + 'Login', enc((1, 'susan'), (2, 'not-the-password')), (),
                grpc.StatusCode.UNAUTHENTICATED, ['invalid username or password'])
        refused(ID + 'RefreshToken', enc((1, refresh)), (), grpc.StatusCode.PERMISSION_DENIED,
                words)
        refused(ID + 'ChangePassword', enc((1, 'Secret-Pass-1'), (2, 'Other-Pass-2')), jwt,
                grpc.StatusCode.PERMISSION_DENIED, words)

    # Active again: the same credentials work, nothing was used up.
    cli('customer', 'update', cid, '--status', 'active')
    ok(ID + 'GetMe', b'', jwt)
    ok(ORD + 'ListOrders', b'', xkey)
    r = ok(ID + 'RefreshToken', enc((1, refresh)))
    expect(S(r, 1).count('.') == 2, 'refreshed access token')
    ok(ID + 'Login', enc((1, 'susan'), (2, 'Secret-Pass-1')))
    print('access OK')


if __name__ == '__main__':
    main()
