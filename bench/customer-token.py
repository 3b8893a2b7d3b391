#!/usr/bin/python3
"""customer-token.py HOST:PORT — register a throw-away customer on a running
bill-server (IdentityService/Register, then Login) and print its JWT access
token, for bench/h2load-getme.sh. Uses python3-grpcio (Debian) with raw
protobuf bytes, so no generated stubs are needed."""
import os
import sys

import grpc


def field(num, text):
    b = text.encode()
    return bytes([num << 3 | 2, len(b)]) + b


def read_string(buf, want):
    i = 0
    while i < len(buf):
        key = buf[i]
        i += 1
        num, wt = key >> 3, key & 7
        if wt == 0:
            while buf[i] & 0x80:
                i += 1
            i += 1
            continue
        n, shift = 0, 0
        while True:
            b = buf[i]
            i += 1
            n |= (b & 0x7f) << shift
            shift += 7
            if not b & 0x80:
                break
        if num == want:
            return buf[i:i + n].decode()
        i += n
    sys.exit('no field %d in response' % want)


target = sys.argv[1] if len(sys.argv) > 1 else '127.0.0.1:50051'
ch = grpc.insecure_channel(target)
svc = '/rustbill.identity.IdentityService/'
name = 'bench%s' % os.urandom(4).hex()
password = 'Bench-pass-%s' % os.urandom(4).hex()
ch.unary_unary(svc + 'Register')(
    field(1, name) + field(2, name + '@example.com') + field(3, 'Bench') + field(4, password),
    timeout=30)
resp = ch.unary_unary(svc + 'Login')(field(1, name) + field(2, password), timeout=30)
print(read_string(resp, 1))
