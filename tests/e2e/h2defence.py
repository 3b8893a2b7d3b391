#!/usr/bin/python3
"""bill-server's HTTP/2 defences end to end, with a hand-built HTTP/2 client
(frames written byte by byte, headers coded by python3-hpack) so the test
controls exactly which frames travel in one write: a reset in the same write
as its request, floods of resets (CVE-2023-44487), streams beyond the
connection's limit, and gRPC message frames with reserved flag bits.

Usage: h2defence.py PORT DB_URL SCENARIO
Handler executions are counted through /metrics
(bill_grpc_handler_calls_total), so "the cancelled ones did not run" is read
from the server itself. Waits are for states the server reports (metrics,
PING acknowledgements), bounded in time; nothing asserts on durations.
Exits non-zero with a message on the first failure.
"""
import http.client
import socket
import struct
import subprocess
import sys
import threading
import time

import hpack

from pbwire import fail, expect  # noqa: E402

PORT = int(sys.argv[1])
DB_URL = sys.argv[2]
SCENARIO = sys.argv[3]
CATS = '/rustbill.product.ProductCategoryService/ListProductCategories'

DATA, HEADERS, RST, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 3, 4, 6, 7, 8, 9
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1
CANCEL, REFUSED_STREAM, ENHANCE_YOUR_CALM = 0x8, 0x7, 0xb


def frame(ftype, flags, sid, payload=b''):
    return struct.pack('>I', len(payload))[1:] + bytes([ftype, flags]) + struct.pack('>I', sid) + payload


def grpc_msg(body=b'', flag=0):
    return bytes([flag]) + struct.pack('>I', len(body)) + body


class H2:
    """One client connection. Streams: odd ids from 1. Events are gathered
    by read_until() into self.streams[sid] = {'headers', 'data', 'trailers',
    'rst'} and self.goaway."""

    def __init__(self, ack_settings=True):
        self.s = socket.create_connection(('127.0.0.1', PORT), timeout=30)
        self.enc, self.dec = hpack.Encoder(), hpack.Decoder()
        self.next_sid = 1
        self.buf = b''
        self.streams = {}
        self.goaway = None
        self.closed = False
        self.pings = set()
        self.ack_settings = ack_settings
        self.hblock = {}

    def preface(self, extra=b''):
        # our settings: big stream window; connection window raised too
        settings = struct.pack('>HI', 4, 1 << 24)
        self.s.sendall(b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' + frame(SETTINGS, 0, 0, settings) +
                       frame(WINDOW_UPDATE, 0, 0, struct.pack('>I', 1 << 24)) + extra)

    def request_frames(self, path=CATS, body=grpc_msg(), headers=(), reset=False):
        sid = self.next_sid
        self.next_sid += 2
        hdrs = [(':method', 'POST'), (':scheme', 'http'), (':path', path),
                (':authority', '127.0.0.1:%d' % PORT), ('content-type', 'application/grpc'),
                ('te', 'trailers')] + list(headers)
        out = frame(HEADERS, END_HEADERS, sid, self.enc.encode(hdrs))
        out += frame(DATA, END_STREAM, sid, body)
        if reset:
            out += frame(RST, 0, sid, struct.pack('>I', CANCEL))
        self.streams[sid] = {'headers': None, 'data': b'', 'trailers': None, 'rst': None}
        return sid, out

    def send(self, data):
        self.s.sendall(data)

    def ping(self):
        token = struct.pack('>Q', int(time.time() * 1e6) & 0xffffffffffff)
        self.pings.add(token)
        self.send(frame(PING, 0, 0, token))
        self.read_until(lambda: token not in self.pings, 'PING acknowledged')

    def _frames(self):
        while len(self.buf) >= 9:
            n = struct.unpack('>I', b'\0' + self.buf[:3])[0]
            if len(self.buf) < 9 + n:
                return
            ft, fl = self.buf[3], self.buf[4]
            sid = struct.unpack('>I', self.buf[5:9])[0] & 0x7fffffff
            payload = self.buf[9:9 + n]
            self.buf = self.buf[9 + n:]
            yield ft, fl, sid, payload

    def _handle(self, ft, fl, sid, p):
        if ft == SETTINGS and not fl & ACK and self.ack_settings:
            self.send(frame(SETTINGS, ACK, 0))
        elif ft == PING and fl & ACK:
            self.pings.discard(p)
        elif ft == PING:
            self.send(frame(PING, ACK, 0, p))
        elif ft == GOAWAY:
            self.goaway = struct.unpack('>II', p[:8])
        elif ft in (HEADERS, CONTINUATION):
            block = self.hblock.get(sid, b'') + (p if ft == CONTINUATION else self._hpayload(fl, p))
            if not fl & END_HEADERS:
                self.hblock[sid] = block
                return
            self.hblock.pop(sid, None)
            hs = dict((k.decode() if isinstance(k, bytes) else k, v.decode() if isinstance(v, bytes) else v)
                      for k, v in self.dec.decode(block))
            st = self.streams.setdefault(sid, {'headers': None, 'data': b'', 'trailers': None, 'rst': None})
            if st['headers'] is None:
                st['headers'] = hs
                if 'grpc-status' in hs:   # trailers-only
                    st['trailers'] = hs
            else:
                st['trailers'] = hs
        elif ft == DATA:
            st = self.streams.setdefault(sid, {'headers': None, 'data': b'', 'trailers': None, 'rst': None})
            st['data'] += p
        elif ft == RST:
            st = self.streams.setdefault(sid, {'headers': None, 'data': b'', 'trailers': None, 'rst': None})
            st['rst'] = struct.unpack('>I', p)[0]

    @staticmethod
    def _hpayload(fl, p):
        if fl & 0x8:   # PADDED
            p = p[1:len(p) - p[0]]
        if fl & 0x20:  # PRIORITY
            p = p[5:]
        return p

    def read_until(self, cond, what, timeout=30):
        end = time.monotonic() + timeout
        while not cond():
            if self.closed:
                fail('connection closed while waiting for: %s' % what)
            left = end - time.monotonic()
            if left <= 0:
                fail('gave up waiting for: %s' % what)
            self.s.settimeout(left)
            try:
                data = self.s.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                data = b''
            if not data:
                self.closed = True
                continue
            self.buf += data
            for f in list(self._frames()):
                self._handle(*f)

    def read_to_close(self, timeout=30):
        end = time.monotonic() + timeout
        while not self.closed and time.monotonic() < end:
            self.s.settimeout(max(0.1, end - time.monotonic()))
            try:
                data = self.s.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                data = b''
            if not data:
                self.closed = True
                break
            self.buf += data
            for f in list(self._frames()):
                self._handle(*f)
        expect(self.closed, 'server did not close the connection')

    def done(self, sid):
        st = self.streams[sid]
        return st['trailers'] is not None or st['rst'] is not None

    def status(self, sid):
        st = self.streams[sid]
        expect(st['trailers'] is not None, 'stream %d: no trailers (%r)' % (sid, st))
        return int(st['trailers'].get('grpc-status', -1)), st['trailers'].get('grpc-message', '')

    def call(self, path=CATS, body=grpc_msg(), headers=()):
        sid, out = self.request_frames(path, body, headers)
        self.send(out)
        self.read_until(lambda: self.done(sid), 'answer on stream %d' % sid)
        return sid

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def metrics():
    c = http.client.HTTPConnection('127.0.0.1', PORT, timeout=30)
    c.request('GET', '/metrics')
    r = c.getresponse()
    text = r.read().decode()
    c.close()
    expect(r.status == 200, '/metrics HTTP %d' % r.status)
    out = {}
    for ln in text.splitlines():
        if ln and not ln.startswith('#'):
            k, _, v = ln.rpartition(' ')
            out[k] = float(v)
    return out


def m_calls(m, path=CATS):
    return m.get('bill_grpc_handler_calls_total{method="%s"}' % path, 0)


def m_cancel(m, stage):
    key = 'bill_jobs_cancelled_total{stage="%s"}' % stage
    expect(key in m, 'metric %s missing' % key)
    return m[key]


def wait_metric(pred, what, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        m = metrics()
        if pred(m):
            return m
        time.sleep(0.05)
    fail('gave up waiting for the server to report: %s' % what)


class TableLock:
    """Hold ACCESS EXCLUSIVE on a table from a psql session, so handlers that
    read it block in SQL until release(): a worker provably busy."""

    def __init__(self, table):
        self.p = subprocess.Popen(['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', DB_URL],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.p.stdin.write('BEGIN;\nLOCK TABLE %s IN ACCESS EXCLUSIVE MODE;\n\\echo LOCKED\n' % table)
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        expect(line.strip() == 'LOCKED', 'psql could not lock %s: %r' % (table, line))

    def release(self):
        if self.p:
            self.p.stdin.write('COMMIT;\n')
            self.p.stdin.close()
            self.p.wait(timeout=30)
            self.p = None


# ---- scenarios -------------------------------------------------------------

def s_reset_same_write():
    """50 requests each followed by its RST_STREAM in the same write: every
    job is cancelled before a worker can see it, none runs."""
    before = metrics()
    h = H2()
    h.preface()
    burst = b''
    for _ in range(50):
        burst += h.request_frames(reset=True)[1]
    h.send(burst)
    h.ping()
    ok_sid = h.call()  # a later loop turn: the cancellations are accounted by now
    expect(h.status(ok_sid)[0] == 0, 'call after the resets failed: %r' % (h.status(ok_sid),))
    after = metrics()
    expect(m_calls(after) - m_calls(before) == 1,
           'handlers run: %d, want 1 (the 50 reset ones must not run)' % (m_calls(after) - m_calls(before)))
    expect(m_cancel(after, 'queued') - m_cancel(before, 'queued') == 50,
           'cancelled while queued: %d, want 50' % (m_cancel(after, 'queued') - m_cancel(before, 'queued')))
    d = after['bill_http2_stream_resets_total'] - before.get('bill_http2_stream_resets_total', 0)
    expect(d == 50, 'stream resets counted: %d, want 50' % d)
    for sid, st in h.streams.items():
        if sid != ok_sid:
            expect(st['headers'] is None, 'reset stream %d was answered: %r' % (sid, st))
    h.close()


def s_reset_queued():
    """max_concurrency 1, max_requests_per_connection 4. One request holds
    the only worker (blocked on a table lock); three wait in the queue.
    Resetting the running one marks it (its result is discarded); the
    connection still counts it, so a fourth new request is refused with
    RESOURCE_EXHAUSTED; resetting the three queued ones takes them out of
    the queue: they never run."""
    before = metrics()
    lock = TableLock('product_categories')
    try:
        h = H2()
        h.preface()
        s1, out = h.request_frames()
        h.send(out)
        wait_metric(lambda m: m.get('bill_requests_in_flight', 0) >= 1, 'one request running')
        queued = []
        burst = b''
        for _ in range(3):
            sid, out = h.request_frames()
            queued.append(sid)
            burst += out
        h.send(burst)
        wait_metric(lambda m: m.get('bill_worker_queue_depth', 0) == 3, 'three requests queued')
        h.send(frame(RST, 0, s1, struct.pack('>I', CANCEL)))
        h.ping()
        s9 = h.call()
        code, msg = h.status(s9)
        expect(code == 8 and 'at most 4' in msg,
               'fifth job on the connection: want RESOURCE_EXHAUSTED "at most 4", got %d %r' % (code, msg))
        h.send(b''.join(frame(RST, 0, sid, struct.pack('>I', CANCEL)) for sid in queued))
        wait_metric(lambda m: m.get('bill_worker_queue_depth', 0) == 0, 'queue emptied by the resets')
    finally:
        lock.release()
    # the running one finishes; its answer goes nowhere
    wait_metric(lambda m: m.get('bill_requests_in_flight', 0) == 0, 'nothing running')
    s11 = h.call()
    expect(h.status(s11)[0] == 0, 'call after the resets: %r' % (h.status(s11),))
    after = metrics()
    expect(m_calls(after) - m_calls(before) == 2,
           'handlers run: %d, want 2 (the blocked one and the last)' % (m_calls(after) - m_calls(before)))
    expect(m_cancel(after, 'queued') - m_cancel(before, 'queued') == 3, 'queued cancels')
    expect(m_cancel(after, 'started') - m_cancel(before, 'started') == 1, 'started cancels')
    k = 'bill_requests_refused_total{reason="connection_limit"}'
    expect(after.get(k, 0) - before.get(k, 0) == 1, 'connection_limit refusals')
    for sid in [s1] + queued:
        expect(h.streams[sid]['headers'] is None, 'reset stream %d was answered' % sid)
    h.close()


def s_close_cancels():
    """A connection closed with requests still queued: they are dropped."""
    before = metrics()
    lock = TableLock('product_categories')
    try:
        h = H2()
        h.preface()
        burst = b''
        for _ in range(4):
            burst += h.request_frames()[1]
        h.send(burst)
        wait_metric(lambda m: m.get('bill_worker_queue_depth', 0) == 3, 'one running, three queued')
        h.close()
        wait_metric(lambda m: m.get('bill_worker_queue_depth', 0) == 0, 'queue emptied by the close')
    finally:
        lock.release()
    wait_metric(lambda m: m.get('bill_requests_in_flight', 0) == 0, 'nothing running')
    after = metrics()
    expect(m_calls(after) - m_calls(before) == 1, 'handlers run: %d, want 1' % (m_calls(after) - m_calls(before)))
    expect(m_cancel(after, 'queued') - m_cancel(before, 'queued') == 3, 'queued cancels on close')


def s_stream_limit():
    """max_requests_per_connection 4 is also the stream limit: ten requests
    sent at once (before our SETTINGS ACK) get four answers and six
    REFUSED_STREAM resets, and only four handlers run."""
    before = metrics()
    h = H2(ack_settings=False)
    burst = b''
    sids = []
    for _ in range(10):
        sid, out = h.request_frames()
        sids.append(sid)
        burst += out
    h.preface(burst)
    h.read_until(lambda: all(h.done(s) for s in sids), 'every stream answered or refused')
    answered = [s for s in sids if h.streams[s]['trailers'] is not None]
    refused = [s for s in sids if h.streams[s]['rst'] == REFUSED_STREAM]
    expect(len(answered) == 4 and len(refused) == 6,
           'answered %r refused %r: %r' % (answered, refused, h.streams))
    for s in answered:
        expect(h.status(s)[0] == 0, 'stream %d: %r' % (s, h.status(s)))
    after = metrics()
    expect(m_calls(after) - m_calls(before) == 4, 'handlers run: %d' % (m_calls(after) - m_calls(before)))
    h.close()


def rapid_reset_once(n=400):
    h = H2()
    h.preface()
    burst = b''
    for _ in range(n):
        burst += h.request_frames(reset=True)[1]
    try:
        h.send(burst)
    except (BrokenPipeError, ConnectionResetError):
        pass
    h.read_to_close()
    h.close()
    return h.goaway


def s_rapid_reset():
    """400 requests reset at once on one connection: GOAWAY
    ENHANCE_YOUR_CALM, the connection closes, no handler runs."""
    before = metrics()
    ga = rapid_reset_once()
    expect(ga is not None and ga[1] == ENHANCE_YOUR_CALM, 'GOAWAY: %r' % (ga,))
    after = metrics()
    calmed = after['bill_http2_connections_calmed_total'] - before.get('bill_http2_connections_calmed_total', 0)
    expect(calmed == 1, 'connections calmed: %d' % calmed)
    expect(m_calls(after) == m_calls(before), 'a reset request ran')
    # a polite connection is still served
    h = H2()
    h.preface()
    expect(h.status(h.call())[0] == 0, 'normal call after the attack')
    h.close()


def s_attack_fairness():
    """Attackers on several connections (rapid resets, and floods of
    requests left open) while a normal client on its own connection keeps
    calling: every normal call is answered OK, the server stays up."""
    stop = threading.Event()
    errors = []

    def resetter():
        try:
            for _ in range(15):
                if stop.is_set():
                    return
                ga = rapid_reset_once(300)
                if ga is None or ga[1] != ENHANCE_YOUR_CALM:
                    errors.append('attacker not calmed: %r' % (ga,))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append('resetter: %r' % e)

    def flooder():
        try:
            for _ in range(10):
                if stop.is_set():
                    return
                h = H2()
                h.preface()
                burst = b''
                for _ in range(32):
                    burst += h.request_frames()[1]
                h.send(burst)
                h.close()   # closing leaves nobody to answer: queued work is dropped
        except Exception as e:  # noqa: BLE001
            errors.append('flooder: %r' % e)

    threads = [threading.Thread(target=resetter) for _ in range(6)] + \
              [threading.Thread(target=flooder) for _ in range(4)]
    for t in threads:
        t.start()
    good = H2()
    good.preface()
    oks = 0
    try:
        for _ in range(40):
            sid = good.call()
            code, msg = good.status(sid)
            expect(code == 0, 'normal client got %d %r during the attack' % (code, msg))
            oks += 1
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=120)
    expect(oks == 40, 'normal calls answered: %d of 40' % oks)
    expect(not errors, 'attack threads: %s' % errors[:3])
    m = metrics()
    expect(m['bill_http2_connections_calmed_total'] >= 6, 'calmed %r' % m['bill_http2_connections_calmed_total'])
    good.close()


def s_frame_flags():
    """Only flag 0 is a request message: reserved bits (0x80, 0x02) and the
    compressed bit without grpc-encoding are INTERNAL, compressed with an
    encoding UNIMPLEMENTED; none reaches a handler. Native gRPC, gRPC-Web
    binary and text, and the streaming reflection method alike."""
    before = metrics()
    h = H2()
    h.preface()
    cases = [(0x80, (), 13), (0x02, (), 13), (0x81, (), 13), (0x01, (), 13),
             (0x01, (('grpc-encoding', 'identity'),), 13), (0x01, (('grpc-encoding', 'gzip'),), 12)]
    for flag, hdrs, want in cases:
        sid = h.call(body=grpc_msg(b'', flag), headers=hdrs)
        code, msg = h.status(sid)
        expect(code == want, 'native flag 0x%02x %r: %d %r, want %d' % (flag, hdrs, code, msg, want))
    # streaming built-in (reflection) over native gRPC
    sid, out = h.request_frames('/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
                                grpc_msg(b'\x3a\x00', 0x80))
    h.send(out)
    h.read_until(lambda: h.done(sid), 'reflection answer')
    expect(h.status(sid)[0] == 13, 'reflection flag 0x80: %r' % (h.status(sid),))
    h.close()
    import base64
    for ctype, body in (('application/grpc-web+proto', grpc_msg(b'', 0x80)),
                        ('application/grpc-web-text+proto', base64.b64encode(grpc_msg(b'', 0x80)))):
        c = http.client.HTTPConnection('127.0.0.1', PORT, timeout=30)
        c.request('POST', CATS, body=body, headers={'content-type': ctype, 'x-grpc-web': '1',
                                                    'origin': 'http://localhost:5173'})
        r = c.getresponse()
        r.read()
        expect(r.status == 200 and r.getheader('grpc-status') == '13',
               '%s flag 0x80: HTTP %d grpc-status %r' % (ctype, r.status, r.getheader('grpc-status')))
        c.close()
    after = metrics()
    expect(m_calls(after) == m_calls(before), 'a request with bad frame flags reached its handler')


SCENARIOS = {name[2:]: fn for name, fn in globals().items() if name.startswith('s_')}

if __name__ == '__main__':
    if SCENARIO not in SCENARIOS:
        fail('unknown scenario %s (have %s)' % (SCENARIO, ', '.join(sorted(SCENARIOS))))
    SCENARIOS[SCENARIO]()
    print('ok', SCENARIO)
