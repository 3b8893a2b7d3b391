"""pbwire.py — what the e2e scripts share: failing a scenario with a message,
and a minimal hand-written protobuf codec that writes requests the way the
RustBill front end's codec does (explicit defaults, never packed) and reads
response fields by their contract numbers. Deliberately not the generated
classes: the tests check the wire, not protobuf's idea of it. Also the
transports around it (native gRPC calls, gRPC-Web bodies, the browser's
call), bill-cli with the server's config, and the 易支付 signature."""
import json
import struct
import subprocess
import sys


def fail(msg):
    print('FAIL:', msg)
    sys.stdout.flush()
    sys.exit(1)


def expect(cond, msg):
    if not cond:
        fail(msg)



def varint(n):
    expect(n >= 0, 'negative varint in a request')
    out = b''
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def enc(*fields):
    """fields: (number, value); bool/int -> varint, str/bytes -> length-
    delimited, list -> repeated (one tag per element, never packed), dict ->
    map<string,string> entries. Default values ARE written (0, '', False):
    the server must treat them as unset exactly like absent fields."""
    out = b''
    for num, v in fields:
        if isinstance(v, list):
            out += enc(*[(num, x) for x in v])
        elif isinstance(v, dict):
            out += enc(*[(num, enc((1, k), (2, x))) for k, x in v.items()])
        elif isinstance(v, (bool, int)):
            out += varint(num << 3) + varint(int(v))
        else:
            b = v.encode() if isinstance(v, str) else v
            out += varint((num << 3) | 2) + varint(len(b)) + b
    return out


def read_varint(buf, i):
    v, shift = 0, 0
    while True:
        expect(i < len(buf), 'truncated varint')
        b = buf[i]
        i += 1
        v |= (b & 0x7f) << shift
        shift += 7
        if not b & 0x80:
            return v, i


def dec(buf):
    """-> {number: [values]}: ints for varints, bytes for length-delimited.
    Varints must fit 32 bits unless they are uint64 totals (checked by the
    caller): the SPA decodes varints as uint32 and negative numbers would be
    10-byte varints."""
    out, i = {}, 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = read_varint(buf, i)
        elif wt == 2:
            n, i = read_varint(buf, i)
            expect(i + n <= len(buf), 'truncated field %d' % num)
            v = buf[i:i + n]
            i += n
        else:
            fail('unexpected wire type %d for field %d' % (wt, num))
        out.setdefault(num, []).append(v)
    return out


def S(m, n):
    return m.get(n, [b''])[-1].decode()


def I(m, n):
    return m.get(n, [0])[-1]


def M(m, n):
    return dec(m[n][-1]) if n in m else {}


def R(m, n):
    return [dec(x) for x in m.get(n, [])]


def MAP(m, n):
    return {S(e, 1): S(e, 2) for e in R(m, n)}


def cli_id(binary, srv_dir, *args):
    """Run bill-cli --json on the server's config; -> the id of the object
    it printed (None when it printed none). Fails the scenario when it
    fails."""
    doc = bill_cli(binary, srv_dir, *args, empty={})
    if 'id' in doc:
        return doc['id']
    return next((v['id'] for v in doc.values() if isinstance(v, dict) and 'id' in v), None)


def yipay_sign(params, key):
    """The Yipay (epay) MD5 signature of a notification's fields."""
    import hashlib
    items = sorted((k, v) for k, v in params.items() if v != '' and k not in ('sign', 'sign_type'))
    return hashlib.md5(('&'.join('%s=%s' % kv for kv in items) + key).encode()).hexdigest()


GRPC_CODES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND',
              'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION',
              'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS',
              'UNAUTHENTICATED']


def web_frames(data, what=''):
    """A gRPC-Web response body -> (messages, trailers with lower-cased
    names)."""
    msgs, trailers = [], {}
    while data:
        expect(len(data) >= 5, '%s: truncated gRPC-Web frame' % what)
        flag, n = data[0], struct.unpack('>I', data[1:5])[0]
        payload, data = data[5:5 + n], data[5 + n:]
        if flag & 0x80:
            for ln in payload.decode().split('\r\n'):
                k, _, v = ln.partition(':')
                if k:
                    trailers[k.strip().lower()] = v.strip()
        else:
            msgs.append(payload)
    return msgs, trailers


def native(ch, path, body, md=(), timeout=30):
    """One unary call over native gRPC on channel ch -> (code name, details,
    decoded response or None)."""
    import grpc
    f = ch.unary_unary(path, request_serializer=lambda x: x, response_deserializer=lambda x: x)
    try:
        return 'OK', '', dec(f(body, metadata=list(md), timeout=timeout))
    except grpc.RpcError as e:
        return e.code().name, e.details() or '', None


def ok(res, what):
    """The message of a (code, message, decoded, ...) result that must be OK."""
    code, msg, m = res[:3]
    expect(code == 'OK', '%s: %s %s' % (what, code, msg))
    return m


def status(res, want, what):
    """The message of a result that must have code `want`."""
    code, msg = res[:2]
    expect(code == want, '%s: want %s, got %s (%s)' % (what, want, code, msg))
    return msg


def browser(port, path, body, token=None, text=False, origin='http://localhost:5173', page='/',
            cookie=None):
    """One call exactly as the RustBill front end's grpc-web client sends it
    from a browser: HTTP/1.1 POST, application/grpc-web+proto (or the text
    mode, base64), x-grpc-web, the page's Origin (and Referer: origin +
    page), and credentials only when the page has them (token: a customer
    JWT as a bearer token; cookie: the admin session cookie "name=value" the
    browser keeps).
    -> (code name, message, decoded message or None, raw response bytes,
    response headers lower-cased). The CORS answer is checked here: a
    browser would refuse the response without it."""
    import base64
    import http.client
    import urllib.parse
    frame = struct.pack('>BI', 0, len(body)) + body
    ctype = 'application/grpc-web-text+proto' if text else 'application/grpc-web+proto'
    headers = {'content-type': ctype, 'accept': ctype, 'x-grpc-web': '1',
               'x-user-agent': 'grpc-web-javascript/0.1', 'origin': origin,
               'referer': origin + page, 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64)'}
    if token:
        headers['authorization'] = 'Bearer ' + token
    if cookie:
        headers['cookie'] = cookie
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
    c.request('POST', path, body=base64.b64encode(frame) if text else frame, headers=headers)
    r = c.getresponse()
    raw = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    expect(r.status == 200, '%s: HTTP %d' % (path, r.status))
    expect(hdrs.get('access-control-allow-origin') == origin, '%s: no CORS answer' % path)
    msgs, trailers = web_frames(base64.b64decode(raw) if text else raw, path)
    st = trailers.get('grpc-status', hdrs.get('grpc-status'))
    expect(st is not None, '%s: no grpc-status' % path)
    code = GRPC_CODES[int(st)]
    msg = urllib.parse.unquote(trailers.get('grpc-message', hdrs.get('grpc-message', '')))
    if code != 'OK':
        return code, msg, None, raw, hdrs
    expect(len(msgs) == 1, '%s: %d messages' % (path, len(msgs)))
    return code, '', dec(msgs[0]), raw, hdrs


def bill_cli(binary, srv_dir, *args, text=False, empty=None):
    """bill-cli --json -q ARGS with the server's config, in its directory:
    the JSON it printed (`empty` when it printed nothing; text=True: output
    that is not JSON as it is). A non-zero exit fails the scenario."""
    p = subprocess.run([binary, '--config', srv_dir + '/config.toml', '--json', '-q'] + list(args),
                       capture_output=True, text=True, cwd=srv_dir)
    expect(p.returncode == 0, 'bill-cli %s failed: %s %s' % (args, p.stdout, p.stderr))
    if not p.stdout.strip():
        return empty
    try:
        return json.loads(p.stdout)
    except ValueError:
        if text:
            return p.stdout
        raise


def jid(doc):
    """id of the object a bill-cli --json command printed."""
    if isinstance(doc, dict):
        if 'id' in doc:
            return doc['id']
        for v in doc.values():
            if isinstance(v, dict) and 'id' in v:
                return v['id']
    fail('no id in bill-cli output %r' % (doc,))
