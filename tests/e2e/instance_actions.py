#!/usr/bin/python3
"""Customers control their own instances (issue 8): InstanceService
Start/Stop/Restart/TerminateInstance end to end, against a real bill-server
whose provider-incus plugin talks mTLS to the fake Incus of tests/peers.

The instance is made the real way: a customer orders a product of the Incus
provider and pays from the balance; the server's event workers provision it.
The actions then go over gRPC-Web exactly as the RustBill front end sends
them from a browser (HTTP/1.1 POST, application/grpc-web+proto and
application/grpc-web-text+proto, Origin, customer JWT as a bearer token) and
over native gRPC (python3-grpcio). Each action must reach Incus
(actions.log of the peer), another customer's id is NOT_FOUND, a suspended
instance is refused with FAILED_PRECONDITION, terminate is final, every call
is in the operation log with the customer user as actor, and reflection
lists the four methods.

Usage: instance_actions.py PORT SERVER_DIR BILL_CLI DB_URL PEERS_DIR
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import grpc

import pbwire  # noqa: E402
from pbwire import expect, enc, S, M, R, bill_cli, jid, ok, status  # noqa: E402

PORT = int(sys.argv[1])
SRV_DIR = sys.argv[2]
CLI = sys.argv[3]
DB_URL = sys.argv[4]
PEERS = sys.argv[5]
ID = '/rustbill.identity.IdentityService/'
ORD = '/rustbill.order.OrderService/'
INST = '/rustbill.instance.InstanceService/'
ORIGIN = 'http://localhost:5173'
CH = grpc.insecure_channel('127.0.0.1:%d' % PORT)


def cli(*args):
    return bill_cli(CLI, SRV_DIR, *args)


def native(path, body, token=None):
    return pbwire.native(CH, path, body, [('authorization', 'Bearer ' + token)] if token else [], 60)


def web_bin(path, body, token=None):
    """What the RustBill front end's grpc-web client sends from a browser."""
    return pbwire.browser(PORT, path, body, token, False, ORIGIN, '/instances')[:3]


def web_text(path, body, token=None):
    return pbwire.browser(PORT, path, body, token, True, ORIGIN, '/instances')[:3]


def register(name):
    # the harness's relaxed [rate_limit]: no retry on RESOURCE_EXHAUSTED
    res = native(ID + 'Register', enc((1, name), (2, name + '@example.com'), (3, name.title()),
                                      (4, 'Secret-Pass-1'), (5, '')))
    cid = S(ok(res, 'Register ' + name), 2)
    m = ok(native(ID + 'Login', enc((1, name), (2, 'Secret-Pass-1'), (3, 'customer'))), 'Login ' + name)
    return S(m, 1), cid, S(M(m, 4), 1)


def start_incus():
    certs = tempfile.mkdtemp(prefix='bill-e2e-incus-')
    subprocess.run(['sh', os.path.join(PEERS, 'make_certs.sh'), certs], check=True,
                   capture_output=True)
    pdir = tempfile.mkdtemp(prefix='bill-e2e-incus-peer-')
    p = subprocess.Popen(['/usr/bin/python3', os.path.join(PEERS, 'incus_server.py'), '--dir', pdir,
                          '--cert', certs + '/server.pem', '--key', certs + '/server.key',
                          '--ca', certs + '/ca.pem'], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    expect(line.startswith('READY '), 'incus peer: %r' % line)
    return p, int(line.split()[1]), certs, pdir


def actions_log(pdir):
    try:
        with open(os.path.join(pdir, 'actions.log')) as f:
            return f.read().split('\n')
    except FileNotFoundError:
        return []


def psql(sql):
    subprocess.run(['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', DB_URL, '-c', sql], check=True,
                   capture_output=True)


def info_status(m):
    return S(M(m, 1), 7)


def main():
    peer, iport, certs, pdir = start_incus()
    try:
        run(iport, certs, pdir)
    finally:
        peer.terminate()
        peer.wait(timeout=30)
        subprocess.run(['rm', '-rf', certs, pdir])


def run(iport, certs, pdir):
    cfg = {'url': 'https://127.0.0.1:%d' % iport, 'ca_file': certs + '/ca.pem',
           'client_cert': certs + '/client.pem', 'client_key': certs + '/client.key',
           'images': 'debian/12', 'operation_timeout': 10}
    iface = jid(cli('plugin', 'create-interface', '--plugin', 'provider-incus', '--name', 'Incus',
                    '--config', json.dumps(cfg)))
    cat = jid(cli('category', 'create', '--name', 'Cloud'))
    grp = jid(cli('group', 'create', '--name', 'HK', '--category', cat))
    prod = jid(cli('product', 'create', '--name', 'Incus S', '--group', grp, '--price-monthly', '12.50',
                   '--provider', iface))

    alice, alice_cid, alice_user = register('alice')
    bob, _, _ = register('bob')
    expect(len(alice_user) == 36, 'alice user id %r' % alice_user)
    cli('customer', 'balance', 'add', alice_cid, '100.00')

    spec = enc((1, 1), (2, 1), (3, 10), (6, 'debian/12'))
    m = ok(native(ORD + 'CreateOrder', enc((2, prod), (4, spec), (8, 'monthly')), alice), 'CreateOrder')
    oid = S(M(m, 1), 1)
    ok(native(ORD + 'PayOrder', enc((1, oid), (2, 'balance')), alice), 'PayOrder balance')

    # the server's event workers provision it through provider-incus
    inst = None
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        m = ok(web_bin(INST + 'ListInstances', b'', alice), 'ListInstances')
        rows = R(m, 1)
        if rows and S(rows[0], 7) == 'running' and S(rows[0], 8):
            inst = rows[0]
            break
        time.sleep(0.5)
    expect(inst is not None, 'instance never became running: %r' % (rows,))
    iid, name = S(inst, 1), S(inst, 6)
    expect(name.startswith('bill-'), 'provider instance id %r' % name)
    req = enc((1, iid))

    # reflection lists the four actions (it reads the service table)
    sym = b'rustbill.instance.InstanceService'
    for ver in ('v1', 'v1alpha'):
        r = CH.stream_stream('/grpc.reflection.%s.ServerReflection/ServerReflectionInfo' % ver,
                             request_serializer=lambda x: x, response_deserializer=lambda x: x)
        out = list(r(iter([b'\x22' + bytes([len(sym)]) + sym]), timeout=30))
        expect(len(out) == 1 and b'rustbill/instance.proto' in out[0], 'reflection %s: %r' % (ver, out))
        for meth in (b'StartInstance', b'StopInstance', b'RestartInstance', b'TerminateInstance',
                     b'TerminateInstanceResponse'):
            expect(meth in out[0], 'reflection %s lacks %s' % (ver, meth))

    # not logged in / someone else's / malformed id
    expect('login' in status(web_bin(INST + 'StopInstance', req), 'UNAUTHENTICATED', 'anonymous stop').lower(),
           'anonymous message')
    for call in (web_bin, web_text, native):
        status(call(INST + 'StopInstance', req, bob), 'NOT_FOUND', 'bob stops alice\'s instance')
        status(call(INST + 'TerminateInstance', req, bob), 'NOT_FOUND', 'bob terminates alice\'s instance')
    expect('id' in status(web_bin(INST + 'StartInstance', enc((1, 'nope')), alice), 'INVALID_ARGUMENT', 'bad id'),
           'bad id named')
    expect(not [ln for ln in actions_log(pdir) if ln], 'a refused call reached Incus: %r' % actions_log(pdir))

    # stop (browser, binary), start (browser, text), restart (native)
    m = ok(web_bin(INST + 'StopInstance', req, alice), 'StopInstance')
    expect(info_status(m) == 'stopped' and S(M(m, 1), 1) == iid, 'after stop %r' % M(m, 1))
    status(web_bin(INST + 'StopInstance', req, alice), 'FAILED_PRECONDITION', 'stop twice')
    status(web_text(INST + 'RestartInstance', req, alice), 'FAILED_PRECONDITION', 'restart stopped')
    m = ok(web_text(INST + 'StartInstance', req, alice), 'StartInstance')
    expect(info_status(m) == 'running', 'after start %r' % M(m, 1))
    m = ok(native(INST + 'RestartInstance', req, alice), 'RestartInstance')
    expect(info_status(m) == 'running', 'after restart %r' % M(m, 1))
    log = [ln for ln in actions_log(pdir) if ln]
    expect(log == ['%s stop' % name, '%s start' % name, '%s restart' % name], 'Incus saw %r' % log)

    # suspended: refused with a message, nothing reaches Incus
    psql("UPDATE instances SET status = 'suspended' WHERE id = '%s'" % iid)
    for call, meth in ((web_bin, 'StartInstance'), (web_text, 'StopInstance'),
                       (native, 'RestartInstance'), (web_bin, 'TerminateInstance')):
        msg = status(call(INST + meth, req, alice), 'FAILED_PRECONDITION', meth + ' suspended')
        expect('suspended' in msg, '%s suspended message: %r' % (meth, msg))
    expect(len([ln for ln in actions_log(pdir) if ln]) == 3, 'a suspended call reached Incus')
    psql("UPDATE instances SET status = 'running' WHERE id = '%s'" % iid)

    # terminate (browser, binary): final
    m = ok(web_bin(INST + 'TerminateInstance', req, alice), 'TerminateInstance')
    expect(info_status(m) == 'terminated', 'after terminate %r' % M(m, 1))
    log = [ln for ln in actions_log(pdir) if ln]
    expect(len(log) >= 4 and log[-1].startswith(name) and ('delete' in log[-1] or 'stop' in log[-1]),
           'Incus after terminate %r' % log)
    for call, meth in ((web_bin, 'StartInstance'), (native, 'TerminateInstance')):
        msg = status(call(INST + meth, req, alice), 'FAILED_PRECONDITION', meth + ' after terminate')
        expect('terminated' in msg, 'terminated message %r' % msg)
    m = ok(web_text(INST + 'GetInstance', req, alice), 'GetInstance')
    expect(info_status(m) == 'terminated', 'GetInstance after terminate')

    # every call is in the operation log, the customer user as actor
    rows = cli('oplog', 'list', '--target', iid, '--page-size', '100')['entries']
    done = [(r['action'], (r.get('after') or {}).get('status')) for r in rows
            if 'refused' not in (r.get('after') or {})]
    for want in (('instance.stop', 'stopped'), ('instance.start', 'running'),
                 ('instance.reboot', 'running'), ('instance.terminate', 'terminated')):
        expect(want in done, 'oplog lacks %r: %r' % (want, done))
    refused = [r for r in rows if 'refused' in (r.get('after') or {})]
    expect(len(refused) >= 4 + 6, 'refused calls logged: %d' % len(refused))
    for r in rows:
        if r['actor_name'] == 'alice':
            expect(r['actor_type'] == 'customer' and r['actor_id'] == alice_user, 'actor of %r' % r)
    expect({r['actor_name'] for r in rows} == {'alice', 'bob'}, 'actors %r' % {r['actor_name'] for r in rows})
    print('ok instance actions')


if __name__ == '__main__':
    main()
