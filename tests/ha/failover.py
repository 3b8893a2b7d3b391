#!/usr/bin/python3
"""Payment load through a real bill-server while its PostgreSQL primary is
killed (issue 12 item 5; driven by test_failover.c).

Usage:
  failover.py PORT SERVER_DIR BILL_CLI PG_HA HA_DIR

Setup (bill-cli and the API): a gateway-yipay interface, a product at 12.50,
a customer with 1,000,000.00 on the balance. Load: three workers pay orders
from the balance over native gRPC (CreateOrder + PayOrder 'balance'); one
worker plays a customer paying through the gateway and the gateway itself
(CreateOrder + PayOrder <yipay> + the signed notification, re-sent on 503
as a gateway does until it reads "success", then replayed once). After two
seconds of load `PG_HA kill-primary HA_DIR` SIGKILLs the primary; the load
runs on until the service is back plus three seconds (at most 40 s). "Back"
is the first success of a request sent after the load saw the outage (a
request in flight at the kill may still succeed), timed from the kill.

Asserted here: every failure is UNAVAILABLE (gRPC, with a message naming
the database) or 503 (the callback), never another answer; the service is back
within 30 s of the kill; every acknowledged payment is visible afterwards
(GetOrder: paid); a PayOrder whose outcome was unknown (UNAVAILABLE) is
settled by paying again: it either pays now or is refused as already paid.
Prints "CUSTOMER <id>", "ACKED <n>", "GATEWAY <n>", "UNKNOWN <n>",
"REPAID <n>", "ERRORS <n>", "BACK_AFTER <s>" and writes SERVER_DIR/acked
(one "<order id> <payment id or ''> <trade_no or ''>" per acknowledged
payment) for the database checks of the C side. Exits non-zero with a
message on the first failure.
"""
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'e2e'))
from pbwire import fail, expect, enc, dec, S, M, cli_id, yipay_sign  # noqa: E402

PID, KEY = '1001', 'k3y-ABC'
ID = '/rustbill.identity.IdentityService/'
ORD = '/rustbill.order.OrderService/'
PRICE = '12.50'


class Load:
    def __init__(self, port):
        self.port = port
        self.ch = grpc.insecure_channel('127.0.0.1:%d' % port)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.acked = []        # (order, payment, trade_no)
        self.unknown = []      # orders whose PayOrder answered UNAVAILABLE
        self.bad = []          # anything but UNAVAILABLE / 503
        self.errors = 0
        self.samples = set()   # a few UNAVAILABLE messages, for the log
        self.killed_at = None
        self.first_fail_after_kill = None
        # "back": the first success of a request sent after the outage was
        # seen (a request in flight at the kill may still succeed)
        self.first_ok_after_kill = None

    def ok(self, sent):
        now = time.monotonic()
        with self.lock:
            if self.first_fail_after_kill is not None and self.first_ok_after_kill is None \
                    and sent > self.first_fail_after_kill:
                self.first_ok_after_kill = now

    def failed(self, what, code, msg):
        with self.lock:
            self.errors += 1
            if self.killed_at is not None and self.first_fail_after_kill is None:
                self.first_fail_after_kill = time.monotonic()
            # gRPC: UNAVAILABLE saying why; the callback: 503 (the gateway retries)
            clear = code == 503 or (code == 'UNAVAILABLE' and ('PostgreSQL' in msg or
                                                             'database' in msg))
            if not clear:
                self.bad.append('%s: %s %s' % (what, code, msg))
            elif len(self.samples) < 6:
                self.samples.add('%s: %s' % (code, msg[:200]))

    def call(self, path, body, md):
        """-> decoded answer, or None after recording a failure."""
        f = self.ch.unary_unary(path, request_serializer=lambda x: x,
                                response_deserializer=lambda x: x)
        sent = time.monotonic()
        try:
            out = dec(f(body, metadata=md, timeout=10))
        except grpc.RpcError as e:
            self.failed(path.rsplit('/', 1)[1], e.code().name, e.details() or '')
            return None
        self.ok(sent)
        return out


def setup(ld, srv_dir, binary):
    cfg = {'api_url': 'http://127.0.0.1:9/', 'pid': PID, 'key': KEY,
           'public_base': 'https://bill.example.com'}
    iface = cli_id(binary, srv_dir, 'plugin', 'create-interface', '--plugin', 'gateway-yipay',
                '--name', 'Yipay', '--config', json.dumps(cfg))
    prod = cli_id(binary, srv_dir, 'product', 'create', '--name', 'HA-1', '--price-monthly', PRICE)
    m = ld.call(ID + 'Register', enc((1, 'failover'), (2, 'failover@example.com'), (3, 'Failover'),
                                     (4, 'Secret-Pass-1'), (5, '')), [])
    expect(m is not None, 'Register failed: %r' % ld.bad)
    cust = S(m, 2)
    m = ld.call(ID + 'Login', enc((1, 'failover'), (2, 'Secret-Pass-1'), (3, 'customer')), [])
    expect(m is not None, 'Login failed: %r' % ld.bad)
    md = [('authorization', 'Bearer ' + S(m, 1))]
    cli_id(binary, srv_dir, 'customer', 'balance', 'add', cust, '1000000.00', '--description', 'load')
    return iface, prod, cust, md


def create_order(ld, prod, md):
    """-> a new order's id, or None when the load stops first."""
    while not ld.stop.is_set():
        m = ld.call(ORD + 'CreateOrder', enc((2, prod), (8, 'monthly')), md)
        if m is not None:
            return S(M(m, 1), 1)
        time.sleep(0.05)
    return None


def balance_worker(ld, prod, md):
    while True:
        oid = create_order(ld, prod, md)
        if oid is None:
            return
        m = ld.call(ORD + 'PayOrder', enc((1, oid), (2, 'balance')), md)
        with ld.lock:
            if m is None:
                ld.unknown.append(oid)
            else:
                ld.acked.append((oid, '', ''))


def notify(ld, iface, form):
    """One delivery of the notification: 'success', 'retry' (503) or None."""
    req = urllib.request.Request('http://127.0.0.1:%d/callback/yipay/%s' % (ld.port, iface),
                                 data=form.encode(), method='POST',
                                 headers={'Content-Type': 'application/x-www-form-urlencoded'})
    sent = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read().decode()
            if body == 'success':
                ld.ok(sent)
                return 'success'
            ld.failed('callback', r.status, body)
            return None
    except urllib.error.HTTPError as e:
        ld.failed('callback', e.code, e.read().decode(errors='replace'))
        return 'retry' if e.code == 503 else None


def gateway_worker(ld, iface, prod, md):
    n = 0
    while True:
        oid = create_order(ld, prod, md)
        if oid is None:
            return
        pay = None
        while pay is None and not ld.stop.is_set():
            # a repeated PayOrder supersedes an earlier pending payment
            m = ld.call(ORD + 'PayOrder', enc((1, oid), (2, iface)), md)
            pay = S(M(m, 1), 1) if m is not None else None
            if pay is None:
                time.sleep(0.05)
        if pay is None:
            break
        n += 1
        tn = 'HA%08d' % n
        f = {'pid': PID, 'trade_no': tn, 'out_trade_no': pay, 'type': 'alipay', 'name': 'HA-1',
             'money': PRICE, 'trade_status': 'TRADE_SUCCESS', 'param': ''}
        f['sign'] = yipay_sign(f, KEY)
        f['sign_type'] = 'MD5'
        form = urllib.parse.urlencode(f)
        deadline = time.monotonic() + 45
        while True:  # the gateway retries until it reads "success"
            r = notify(ld, iface, form)
            if r == 'success':
                break
            if r is None or time.monotonic() > deadline:
                return
            time.sleep(0.2)
        with ld.lock:
            ld.acked.append((oid, pay, tn))
        while notify(ld, iface, form) == 'retry':  # a duplicate delivery
            time.sleep(0.2)


def main():
    port, srv_dir, binary, pg_ha, ha_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3], \
        sys.argv[4], sys.argv[5]
    ld = Load(port)
    iface, prod, cust, md = setup(ld, srv_dir, binary)
    print('CUSTOMER', cust)
    threads = [threading.Thread(target=balance_worker, args=(ld, prod, md)) for _ in range(3)]
    threads.append(threading.Thread(target=gateway_worker, args=(ld, iface, prod, md)))
    for t in threads:
        t.start()
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 2 or len(ld.acked) < 20:
            expect(time.monotonic() - t0 < 30, 'no load before the kill: %r' % ld.bad[:3])
            expect(not ld.bad, 'before the kill: %r' % ld.bad[:3])
            time.sleep(0.1)
        before = len(ld.acked)
        ld.killed_at = time.monotonic()
        p = subprocess.run([pg_ha, 'kill-primary', ha_dir], capture_output=True, text=True)
        expect(p.returncode == 0, 'kill-primary: %s %s' % (p.stdout, p.stderr))
        print('KILLED', p.stdout.strip(), 'after', before, 'acknowledged payments')
        sys.stdout.flush()
        while time.monotonic() - ld.killed_at < 40:
            back = ld.first_ok_after_kill
            if back and time.monotonic() - back > 3:
                break
            time.sleep(0.1)
    finally:
        ld.stop.set()
        for t in threads:
            t.join(30)
    for s in sorted(ld.samples):
        print('SAMPLE', s)
    expect(not ld.bad, 'answers other than UNAVAILABLE: %r' % ld.bad[:5])
    expect(ld.first_fail_after_kill is not None, 'the load never saw the primary go')
    expect(ld.first_ok_after_kill is not None, 'service not back within 40 s of the kill')
    back = ld.first_ok_after_kill - ld.killed_at
    expect(back <= 30, 'service back only after %.1f s' % back)

    # after the switch: every acknowledged payment is there; unknown
    # outcomes are settled by paying again (exactly once either way)
    repaid = 0
    for oid in ld.unknown:
        m = ld.call(ORD + 'GetOrder', enc((1, oid)), md)
        expect(m is not None, 'GetOrder after the switch: %r' % ld.bad)
        if S(M(m, 1), 7) == 'pending':
            f = ld.ch.unary_unary(ORD + 'PayOrder', request_serializer=lambda x: x,
                                  response_deserializer=lambda x: x)
            try:
                f(enc((1, oid), (2, 'balance')), metadata=md, timeout=10)
            except grpc.RpcError as e:
                fail('paying order %s again: %s %s' % (oid, e.code().name, e.details()))
            ld.acked.append((oid, '', ''))
            repaid += 1
    for oid, _, _ in ld.acked:
        m = ld.call(ORD + 'GetOrder', enc((1, oid)), md)
        expect(m is not None, 'GetOrder after the switch: %r' % ld.bad)
        st = S(M(m, 1), 7)
        expect(st in ('paid', 'provisioning', 'active'), 'acknowledged order %s is %s' % (oid, st))
    with open(os.path.join(srv_dir, 'acked'), 'w') as f:
        for a in ld.acked:
            f.write('%s %s %s\n' % a)
    print('ACKED', len(ld.acked))
    print('GATEWAY', sum(1 for a in ld.acked if a[1]))
    print('UNKNOWN', len(ld.unknown))
    print('REPAID', repaid)
    print('ERRORS', ld.errors)
    print('BACK_AFTER %.1f' % back)
    print('OK')


if __name__ == '__main__':
    main()
