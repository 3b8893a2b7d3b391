#!/usr/bin/python3
"""Write the seed corpora of the plugin fuzz targets (tests/fuzz/corpus/
plugin_<name>/seed_*) in the input layout of plugin_fuzz.h: bytes, records
(2-byte big-endian length + data) and, per HTTP request the plugin makes,
one status byte + one record (the response body).

The seeds are realistic conversations (what Incus, an upstream RustBill, a
易支付 platform or a webhook receiver really answer) plus the malformed
answers that crashed or misled the plugins before issue 8 (kept as regression
inputs under the name crash_*). Rerun after changing a target's layout:
    /usr/bin/python3 tests/fuzz/plugins/make_seeds.py
Files the fuzzer found (crash_* reproducers) live beside them and are kept.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, '..', 'corpus')
sys.path.insert(0, os.path.join(HERE, '..', '..', 'e2e'))
from pbwire import enc  # noqa: E402

# plugin_fuzz.c: statuses[st % 16]; bit 0x10 adds a JSON content type
ST = {200: 0, 201: 5, 202: 6, 204: 7, 302: 8, 400: 9, 401: 10, 404: 11, 409: 12, 429: 13,
      500: 14, 503: 15}
TIMEOUT = b'\xff'


def b(x):
    if isinstance(x, (dict, list)):
        return json.dumps(x).encode()
    return x.encode() if isinstance(x, str) else x


def rec(x):
    x = b(x)
    assert len(x) < 65536
    return len(x).to_bytes(2, 'big') + x


def http(status, body=b''):
    return bytes([ST[status] | 0x10]) + rec(body)


def write(target, name, data):
    d = os.path.join(CORPUS, 'plugin_' + target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


def seeds(target, cases):
    for name, data in cases.items():
        write(target, name, data)


CONFIGS_COMMON = {
    'cfg_not_json': 'not json', 'cfg_array': '[]', 'cfg_trailing': '{} {}', 'cfg_empty': '',
    'cfg_nan': '{"timeout": NaN}', 'cfg_nul': '{"url": "a\\u0000b"}', 'cfg_deep': '[' * 40,
    'cfg_badutf8': b'{"url": "\xff\xfe"}', 'cfg_null': '{"url": null, "key": null}',
}


def configs(good):
    out = {'cfg_' + k: b'\x00' + rec(v) for k, v in good.items()}
    out.update({k: b'\x00' + rec(v) for k, v in CONFIGS_COMMON.items()})
    return out


# ---- gateway-yipay ----------------------------------------------------------

def yipay():
    good = {'ok': {'api_url': 'https://pay.example.com/', 'pid': '1001', 'key': 'k',
                   'public_base': 'https://bill.example.com', 'interface_id': 'x',
                   'type': 'wxpay', 'return_url': 'https://bill.example.com/done'},
            'pid_int': {'api_url': 'http://p', 'pid': 1001, 'key': 'k', 'public_base': 'x'},
            'pid_float': {'api_url': 'http://p', 'pid': 1.5, 'key': 'k', 'public_base': 'x'},
            'ftp': {'api_url': 'ftp://p', 'pid': '1', 'key': 'k', 'public_base': 'x'},
            'type_bad': {'api_url': 'http://p', 'pid': '1', 'key': 'k', 'public_base': 'x',
                         'type': 'paypal'},
            'nokey': {'api_url': 'http://p', 'pid': '1', 'public_base': 'x'},
            'ctl': {'api_url': 'http://p\n', 'pid': '1', 'key': 'k', 'public_base': 'x'}}
    cases = configs(good)
    notify = ('pid=1001&trade_no=2024000001&out_trade_no=7b0b2a4e-93c4-4b1e-9d1c-0e6f3c2d1a00'
              '&type=alipay&name=VPS&money=12.50&trade_status=TRADE_SUCCESS'
              '&sign=0123456789abcdef0123456789abcdef&sign_type=MD5')
    for i, q in enumerate([notify, 'a', 'a&b', '=', '&&', '%', '%zz', 'a=%00', 'pid=1001&sign',
                           'k=' + 'v' * 2000, '&'.join('p%d' % i for i in range(70)),
                           'pid=1001&pid=1002', '+%2B+']):
        cases['get_%02d' % i] = b'\x01' + rec(q)
    cases['crash_noeq_get'] = b'\x01' + rec('a')
    cases['crash_noeq_post'] = b'\x02' + rec('a') + rec('')
    cases['post_form'] = b'\x02' + rec(notify) + rec('')
    cases['post_nul'] = b'\x02' + rec(b'pid=1001\x00&sign=x') + rec('')
    cases['post_and_query'] = b'\x02' + rec('pid=1001&sign=a') + rec('out_trade_no=b')

    def signed(pairs, body=False):
        return b'\x03' + bytes([1 if body else 0]) + b''.join(rec(k) + rec(v) for k, v in pairs)
    base = [('pid', '1001'), ('trade_no', '2024000001'),
            ('out_trade_no', '7b0b2a4e-93c4-4b1e-9d1c-0e6f3c2d1a00'), ('type', 'alipay'),
            ('name', 'VPS S'), ('money', '12.50'), ('trade_status', 'TRADE_SUCCESS')]
    cases['signed_ok'] = signed(base)
    cases['signed_ok_body'] = signed(base, True)
    for i, (k, v) in enumerate([('money', '0.01'), ('money', '12.5'), ('money', '12'),
                                ('money', '-1'), ('money', '1e5'), ('money', '12.505'),
                                ('money', '99999999999999.99'), ('money', ''),
                                ('trade_status', 'WAIT_BUYER_PAY'), ('out_trade_no', ''),
                                ('out_trade_no', 'x' * 200), ('trade_no', 'a\nb'),
                                ('trade_no', '\xff'), ('pid', '1002')]):
        cases['signed_%02d' % i] = signed([(a, v if a == k else w) for a, w in base])
    cases['create_ok'] = (b'\x04' + rec('7b0b2a4e-93c4-4b1e-9d1c-0e6f3c2d1a00') + rec('VPS S & more')
                          + rec('https://bill.example.com/orders?id=1') + rec('')
                          + (1250).to_bytes(8, 'big'))
    cases['create_neg'] = (b'\x04' + rec('p') + rec('') + rec('') + rec('https://n/')
                           + (2 ** 64 - 5).to_bytes(8, 'big'))
    cases['create_noid'] = b'\x04' + rec('') + rec('') + rec('') + rec('') + (1).to_bytes(8, 'big')
    seeds('yipay', cases)


# ---- gateway-banktransfer -----------------------------------------------------

def banktransfer():
    good = {'ok': {'bank_name': 'B', 'account_name': 'A', 'account_number': '1', 'note': 'n'},
            'nonum': {'bank_name': 'B', 'account_name': 'A'},
            'num_int': {'bank_name': 'B', 'account_name': 'A', 'account_number': 12},
            'multiline': {'bank_name': 'B', 'account_name': 'A', 'account_number': '1',
                          'note': 'line 1\nline 2'},
            'extra': {'account_number': '1', 'swift': 'X'}}
    cases = configs(good)
    cases['callback'] = b'\x01' + rec('pid=1&sign=x') + rec('money=1')
    cases['callback_empty'] = b'\x01'
    cases['create_ok'] = b'\x02' + rec('7b0b2a4e') + rec('CNY') + (1250).to_bytes(8, 'big')
    cases['create_neg'] = b'\x02' + rec('p') + rec('') + (2 ** 64 - 1).to_bytes(8, 'big')
    cases['create_noid'] = b'\x02' + rec('') + rec('CNY') + (1).to_bytes(8, 'big')
    seeds('banktransfer', cases)


# ---- notifier-webhook ---------------------------------------------------------

def webhook():
    good = {'ok': {'url': 'https://h.example.com/x', 'secret': 's', 'timeout': 10},
            'nosecret': {'url': 'http://h/x'}, 'ftp': {'url': 'ftp://h/x'},
            'timeout_str': {'url': 'http://h/x', 'timeout': '10'},
            'timeout_big': {'url': 'http://h/x', 'timeout': 1000},
            'timeout_float': {'url': 'http://h/x', 'timeout': 2.5},
            'url_space': {'url': 'http://h/a b'}, 'url_crlf': {'url': 'http://h/\r\nX: y'}}
    cases = configs(good)

    def send(payload, *answers, subject='Invoice issued', body='Your invoice INV-1 is due.'):
        return (b'\x01' + rec('invoice.issued') + rec('alice@example.com') + rec(subject)
                + rec(body) + rec(payload) + b''.join(answers))
    pl = {'invoice_id': '7b0b2a4e', 'amount': '12.50', 'customer': {'name': 'Alice'}}
    cases['send_200'] = send(json.dumps(pl), http(200, 'ok'))
    cases['send_204'] = send(json.dumps(pl), http(204))
    cases['send_500'] = send(json.dumps(pl), http(500, '<html>oops</html>'))
    cases['send_404'] = send(json.dumps(pl), http(404, b'\xff\xfe\x00bad'))
    cases['send_429'] = send('', http(429, 'slow down'))
    cases['send_timeout'] = send('{}', TIMEOUT + rec(''))
    cases['send_refused'] = send('{}')
    cases['send_badjson'] = send('{"a":', http(200))
    cases['send_trailing'] = send('{} x', http(200))
    cases['send_array'] = send('[1,2,3]', http(200))
    cases['send_badutf8'] = send('{}', http(200), subject=b'\xff\xfe'.decode('latin-1'))
    cases['send_ctl'] = send('{}', http(200), subject='a\r\nX-Evil: 1', body='\x00')
    seeds('webhook', cases)


# ---- notifier-email -----------------------------------------------------------

def email():
    good = {'ok': {'url': 'smtp://mail.example.com:587', 'from': 'billing@shop.example.com',
                   'to': 'ops@shop.example.com', 'username': 'u', 'password': 'p',
                   'starttls': 'required', 'ca_file': '/ca.pem', 'insecure_skip_verify': False,
                   'timeout': 20},
            'smtps': {'url': 'smtps://m', 'from': 'a@b'},
            'http': {'url': 'http://m', 'from': 'a@b'},
            'from_bad': {'url': 'smtp://m', 'from': 'a b@c'},
            'from_crlf': {'url': 'smtp://m', 'from': 'a@b\r\nRCPT TO:<x@y>'},
            'insecure_str': {'url': 'smtp://m', 'from': 'a@b', 'insecure_skip_verify': 'false'},
            'timeout_str': {'url': 'smtp://m', 'from': 'a@b', 'timeout': '30'},
            'starttls_bad': {'url': 'smtp://m', 'from': 'a@b', 'starttls': 'maybe'}}
    cases = configs(good)

    def msg(to, subject, body, kind='order.paid', now=1767225600):
        return (b'\x01' + rec(to) + rec(subject) + rec(body) + rec(kind)
                + now.to_bytes(8, 'big'))
    cases['msg_ascii'] = msg('alice@example.com', 'Order paid', 'Thanks.\nBye.\n')
    cases['msg_utf8'] = msg('alice@example.com', '订单已支付 — 您的服务器正在开通' * 3, '你好\r\n')
    cases['msg_crlf'] = msg('alice@example.com', 'Hi\r\nBcc: evil@example.com', 'x\r\n.\r\n')
    cases['msg_rcpt_bad'] = msg('a@b>\r\nRCPT TO:<c@d', 's', 'b')
    cases['crash_subject_continuations'] = msg('a@b', b'\xc3' + b'\x80' * 80, 'b')
    cases['msg_long_domain'] = msg('a@' + 'd' * 250, 's', 'b')
    cases['msg_far_future'] = msg('a@b', 's', 'b', now=2 ** 62)
    seeds('email', cases)


# ---- provider-incus -----------------------------------------------------------

OP = '/1.0/operations/3d4f7a2e-1c9b-4e9a-9d7e-2b6f8c1a0e55'


def incus():
    good = {'ok': {'url': 'https://incus:8443', 'client_cert': '/c', 'client_key': '/k',
                   'ca_file': '/ca', 'insecure_skip_verify': True, 'project': 'p',
                   'storage_pool': 'fast', 'instance_type': 'virtual-machine',
                   'images': 'debian/12,,alpine/3.20', 'operation_timeout': 60},
            'http': {'url': 'http://incus'}, 'project_bad': {'url': 'https://i', 'project': 'a&b'},
            'insecure_str': {'url': 'https://i', 'insecure_skip_verify': 'no'},
            'timeout_str': {'url': 'https://i', 'operation_timeout': 'x'},
            'type_bad': {'url': 'https://i', 'instance_type': 'lxc'}}
    cases = {'cfg_' + k: b'\x00' + rec(v) for k, v in good.items()}
    cases.update({k: b'\x00' + rec(v) for k, v in CONFIGS_COMMON.items()})
    sync_ok = {'type': 'sync', 'status': 'Success', 'status_code': 200, 'metadata': {}}
    notfound = {'type': 'error', 'error': 'Instance not found', 'error_code': 404}
    async_op = {'type': 'async', 'status': 'Operation created', 'status_code': 100,
                'operation': OP, 'metadata': {'id': OP[16:], 'class': 'task'}}
    wait_ok = {'type': 'sync', 'metadata': {'id': OP[16:], 'status': 'Success', 'err': ''}}
    wait_fail = {'type': 'sync', 'metadata': {'status': 'Failure', 'err': 'no space left'}}
    wait_running = {'type': 'sync', 'metadata': {'status': 'Running'}}
    state = {'type': 'sync', 'metadata': {'status': 'Running', 'network': {
        'lo': {'addresses': [{'family': 'inet', 'address': '127.0.0.1', 'scope': 'local'}]},
        'eth0': {'addresses': [{'family': 'inet6', 'address': 'fd42::5', 'scope': 'global'},
                               {'family': 'inet', 'address': '10.0.3.5', 'scope': 'global'}]}}}}
    spec = {'cpu_cores': 2, 'memory_gb': '2', 'disk_gb': 20, 'os': 'debian/12'}
    order = '0f8e3c1a-7b2d-4e6f-9a1b-2c3d4e5f6a7b'

    def create(sp, *answers):
        return b'\x01' + rec(sp) + rec(order) + rec('') + b''.join(answers)
    cases['create_ok'] = create(spec, http(404, notfound), http(202, async_op), http(200, wait_ok))
    cases['create_exists'] = create(spec, http(200, sync_ok))
    cases['create_sync'] = create(spec, http(404, notfound), http(200, sync_ok))
    cases['create_failed'] = create(spec, http(404, notfound), http(202, async_op),
                                    http(200, wait_fail))
    cases['create_timeout'] = create(spec, http(404, notfound), http(202, async_op),
                                     http(200, wait_running))
    cases['create_bad_op'] = create(spec, http(404, notfound),
                                    http(202, dict(async_op, operation='/1.0/instances?x#')))
    cases['create_500'] = create(spec, http(500, 'gateway error'))
    cases['create_range'] = create({'cpu_cores': 1000}, http(404, notfound))
    cases['create_image'] = create({'image': 'ubuntu/24.04'}, http(404, notfound),
                                   http(200, sync_ok))
    cases['crash_create_os_null'] = create({'os': None}, http(404, notfound), http(200, sync_ok))
    cases['create_os_object'] = create({'os': {'a': 1}}, http(404, notfound))
    cases['create_nan'] = create('{"cpu_cores": NaN}', http(404, notfound))
    cases['create_badorder'] = b'\x01' + rec(spec) + rec('xyz') + rec('')
    cases['crash_type_null'] = create(spec, http(200, {'type': None}))

    def get(name, *answers, op=2):
        return bytes([op]) + rec(name) + b''.join(answers)
    cases['get_running'] = get('bill-0f8e3c1a7b2d', http(200, state))
    cases['get_stopped'] = get('bill-0f8e3c1a7b2d', http(200, {'type': 'sync',
                                                             'metadata': {'status': 'Stopped'}}))
    cases['get_gone'] = get('bill-0f8e3c1a7b2d', http(404, notfound))
    cases['get_badname'] = get('../../1.0', http(200, state))
    cases['get_nonjson'] = get('bill-0f8e3c1a7b2d', http(200, '<html>'))
    cases['get_nul'] = get('bill-0f8e3c1a7b2d', http(200, b'{"type":"sync"}\x00garbage'))
    cases['crash_addresses_string'] = get('bill-0f8e3c1a7b2d', http(200, {
        'type': 'sync', 'metadata': {'status': 'Running', 'network': {'eth0': {'addresses': 'x'}}}}))
    cases['crash_status_null'] = get('bill-0f8e3c1a7b2d', http(200, {
        'type': 'sync', 'metadata': {'status': None}}))
    cases['crash_family_null'] = get('bill-0f8e3c1a7b2d', http(200, {
        'type': 'sync', 'metadata': {'status': 'Running', 'network': {'eth0': {'addresses': [
            {'family': None, 'scope': None, 'address': None}, 7, None]}}}}))
    cases['get_ip_bad'] = get('bill-0f8e3c1a7b2d', http(200, {
        'type': 'sync', 'metadata': {'status': 'Running', 'network': {'eth0': {'addresses': [
            {'family': 'inet', 'scope': 'global', 'address': '10.0.0.1; rm -rf'}]}}}}))
    for i, a in enumerate(range(7)):
        cases['action_%d' % i] = (b'\x03' + bytes([a]) + rec('bill-0f8e3c1a7b2d')
                                  + http(202, async_op) + http(200, wait_ok)
                                  + http(202, async_op) + http(200, wait_ok))
    cases['action_stop_fail'] = (b'\x03\x01' + rec('bill-0f8e3c1a7b2d')
                                 + http(400, {'type': 'error', 'error': 'already stopped'}))
    cases['action_terminate_gone'] = b'\x03\x03' + rec('bill-0f8e3c1a7b2d') + http(404, notfound)
    cases['detail'] = get('bill-0f8e3c1a7b2d', http(200, state), op=4)
    cases['template'] = b'\x05'
    cases['health_ok'] = b'\x06' + http(200, {'type': 'sync', 'metadata': {'auth': 'trusted'}})
    cases['health_untrusted'] = b'\x06' + http(200, {'type': 'sync',
                                                     'metadata': {'auth': 'untrusted'}})
    cases['crash_health_auth_null'] = b'\x06' + http(200, {'metadata': {'auth': None}})
    cases['upstream'] = b'\x07'
    cases['change_plan'] = b'\x08' + rec('bill-0f8e3c1a7b2d') + rec(spec) + rec('')
    seeds('incus', cases)


# ---- provider-rustbill --------------------------------------------------------

def frame(msg, flag=0):
    return bytes([flag]) + len(msg).to_bytes(4, 'big') + msg


def grpc(msg=None, status=0, message='', extra=b''):
    body = frame(msg) if msg is not None else b''
    t = 'grpc-status: %d\r\n' % status
    if message:
        t += 'grpc-message: %s\r\n' % message
    return body + extra + frame(t.encode(), 0x80)


def rustbill():
    good = {'ok': {'upstream_url': 'https://up.example.com/', 'api_key': 'k', 'timeout': 30,
                   'ca_file': '/ca', 'insecure_skip_verify': False},
            'http': {'upstream_url': 'http://up', 'api_key': 'k'},
            'ftp': {'upstream_url': 'ftp://up', 'api_key': 'k'},
            'nokey': {'upstream_url': 'http://up'},
            'key_space': {'upstream_url': 'http://up', 'api_key': 'a b'},
            'timeout_str': {'upstream_url': 'http://up', 'api_key': 'k', 'timeout': '5'},
            'insecure_str': {'upstream_url': 'http://up', 'api_key': 'k',
                             'insecure_skip_verify': 'yes'}}
    cases = {'cfg_' + k: b'\x00' + rec(v) for k, v in good.items()}
    cases.update({k: b'\x00' + rec(v) for k, v in CONFIGS_COMMON.items()})
    meta = lambda pages: enc((1, 3), (2, 1), (3, 100), (4, pages))  # noqa: E731
    prod = enc((1, 'p-1'), (2, 'HK VPS'), (10, '10.00'),
               (16, {'cpu_cores': '2', 'region': 'hk'}),
               (18, {'monthly': '10.00', 'yearly': '100.00'}))
    prod2 = enc((1, 'p-2'), (2, '东京 VPS'), (10, '20.00'))
    cases['products_1'] = b'\x07' + http(200, grpc(enc((1, prod), (1, prod2), (2, meta(1)))))
    cases['products_2pages'] = (b'\x07' + http(200, grpc(enc((1, prod), (2, meta(2)))))
                                + http(200, grpc(enc((1, prod2), (2, meta(2))))))
    cases['products_empty'] = b'\x07' + http(200, grpc(b''))
    cases['products_noid'] = b'\x07' + http(200, grpc(enc((1, enc((2, 'x'))))))
    cases['products_badutf8'] = b'\x07' + http(200, grpc(enc((1, enc((1, b'\xff'), (2, b'\xc0'))))))
    cases['products_nul'] = b'\x07' + http(200, grpc(enc((1, enc((1, b'a\x00b'))))))
    cases['products_unauth'] = b'\x07' + http(200, grpc(None, 16, 'invalid%20api%20key%0A'))
    cases['products_notrailer'] = b'\x07' + http(200, frame(enc((1, prod))))
    cases['products_compressed'] = b'\x07' + http(200, frame(b'xx', 1))
    # a unary answer is one message frame, then the trailers
    cases['products_two_messages'] = b'\x07' + http(200, grpc(enc((1, prod)), extra=frame(enc((1, prod2)))))
    cases['products_after_trailer'] = b'\x07' + http(200, grpc(enc((1, prod))) + frame(enc((1, prod2))))
    cases['products_truncated'] = b'\x07' + http(200, frame(enc((1, prod)))[:-3])
    cases['products_http502'] = b'\x07' + http(503, 'bad gateway')
    cases['products_badpb'] = b'\x07' + http(200, grpc(b'\x0a\xff\xff\xff\xff\x0f'))
    cases['products_wiretype'] = b'\x07' + http(200, grpc(b'\x0b\x0c'))
    spec = {'cpu_cores': 2, 'memory_gb': '4', 'region': 'hk', 'os': 'debian-12',
            'billing_cycle': 'monthly', 'gpu': 'none'}
    order = enc((1, 'up-order-1'), (7, 'pending'), (8, '10.00'),
                (12, 'downstream order 0f8e3c1a-7b2d-4e6f-9a1b-2c3d4e5f6a7b'))
    pay = enc((1, enc((1, 'pay-1'), (2, 'balance'))))

    def create(sp, *answers, down='0f8e3c1a-7b2d-4e6f-9a1b-2c3d4e5f6a7b', product='p-1'):
        return b'\x01' + rec(sp) + rec(down) + rec(product) + b''.join(answers)
    cases['create_new'] = create(spec, http(200, grpc(enc((2, meta(1))))),
                                 http(200, grpc(enc((1, order), (2, pay)))), http(200, grpc(pay)))
    cases['create_found_pending'] = create(spec, http(200, grpc(enc((1, order), (2, meta(1))))),
                                           http(200, grpc(pay)))
    cases['create_found_paid'] = create(spec, http(200, grpc(enc(
        (1, enc((1, 'up-order-1'), (7, 'paid'),
                (12, 'downstream order 0f8e3c1a-7b2d-4e6f-9a1b-2c3d4e5f6a7b'))),
        (2, meta(1))))))
    cases['create_pay_denied'] = create(spec, http(200, grpc(enc((2, meta(1))))),
                                        http(200, grpc(enc((1, order)))),
                                        http(200, grpc(None, 9, 'insufficient balance')))
    cases['create_noproduct'] = create(spec, product='')
    cases['crash_create_cycle_null'] = create({'billing_cycle': None},
                                              http(200, grpc(enc((2, meta(1))))))
    cases['create_spec_types'] = create({'cpu_cores': -1, 'region': 5, 'os': None, 'x': [1]},
                                        http(200, grpc(enc((2, meta(1))))))
    cases['create_spec_nan'] = create('{"cpu_cores": NaN}')
    cases['create_spec_huge'] = create({'disk_gb': 2 ** 40})

    inst = enc((1, 'i-1'), (2, 'up-order-1'), (7, 'running'), (8, '203.0.113.7'))

    def get(*answers, op=2, oid='up-order-1'):
        return bytes([op]) + rec(oid) + b''.join(answers)
    getorder = http(200, grpc(enc((1, order))))
    cases['get_running'] = get(getorder, http(200, grpc(enc((1, inst), (2, meta(1))))))
    cases['get_noinstance'] = get(getorder, http(200, grpc(enc((2, meta(1))))))
    cancelled = enc((1, 'up-order-1'), (7, 'cancelled'))
    cases['get_cancelled'] = get(http(200, grpc(enc((1, cancelled)))),
                                 http(200, grpc(enc((2, meta(1))))))
    bad_ip = enc((2, 'up-order-1'), (7, 'running'), (8, 'not an ip\n'))
    cases['get_ip_bad'] = get(getorder, http(200, grpc(enc((1, bad_ip)))))
    ctl = enc((2, 'up-order-1'), (7, 'run\x1bning'))
    cases['get_status_ctl'] = get(getorder, http(200, grpc(enc((1, ctl)))))
    cases['get_nostatus'] = get(http(200, grpc(enc((1, enc((1, 'x')))))))
    cases['get_notfound'] = get(http(200, grpc(None, 5, 'order not found')))
    cases['get_empty_id'] = get(oid='')
    cases['detail'] = get(getorder, http(200, grpc(enc((1, inst), (2, meta(1))))), op=4)
    field = enc((1, 'cpu_cores'), (2, 'CPU'), (3, 'select'), (4, True), (6, '1'), (6, '2'),
                (7, 1), (8, 16), (9, '2'))
    tmpl = enc((1, field), (1, enc((1, 'os'), (3, 'text'))))
    cases['template'] = b'\x05' + http(200, grpc(enc((1, enc((1, 'incus'), (5, tmpl))))))
    cases['template_none'] = b'\x05' + http(200, grpc(enc((1, enc((1, 'x'))))))
    big = enc((1, enc((1, 'a'), (3, b'\xff'), (7, 2 ** 64 - 1), (8, 2 ** 63))))
    cases['template_extremes'] = b'\x05' + http(200, grpc(enc((1, enc((5, big))))))
    cases['health_ok'] = b'\x06' + http(200, 'OK')
    cases['health_503'] = b'\x06' + http(503, '')
    cases['action'] = b'\x03\x00' + rec('up-order-1')
    cases['action_suspend'] = b'\x03\x04' + rec('up-order-1')
    cases['change_plan'] = b'\x08' + rec('up-order-1') + rec(spec) + rec('p-2')
    seeds('rustbill', cases)


if __name__ == '__main__':
    yipay()
    banktransfer()
    webhook()
    email()
    incus()
    rustbill()
