#!/usr/bin/python3
"""order-pay.py — CreateOrder + PayOrder(balance) pairs against bill-server
over native gRPC (grpc.aio), CONCURRENCY pairs in flight, for SECONDS.

  order-pay.py PORT TOKEN PRODUCT_ID SECONDS CONCURRENCY

Prints "pairs=N seconds=S pairs_per_sec=R errors=E". Messages are encoded
by hand (field numbers of wire-contract.md), as in tests/e2e/test_api.py.
h2load cannot chain two calls (PayOrder needs the id CreateOrder returns),
hence this driver; it shares the machine's cores with the server."""
import asyncio
import sys
import time

import grpc

PORT, TOKEN, PID = int(sys.argv[1]), sys.argv[2], sys.argv[3]
SECS, CONC = float(sys.argv[4]), int(sys.argv[5])


def ld(num, b):
    b = b.encode() if isinstance(b, str) else b
    return bytes([(num << 3) | 2, len(b)]) + b


def varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7f) << shift
        shift += 7
        if not c & 0x80:
            return v, i


def field(raw, num):
    """First length-delimited field `num` of a message (bytes) or None."""
    i = 0
    while i < len(raw):
        key, i = varint(raw, i)
        if key & 7 == 0:
            _, i = varint(raw, i)
            continue
        n, i = varint(raw, i)
        if key >> 3 == num:
            return raw[i:i + n]
        i += n
    return None


def first_string_in_submsg(raw, outer, inner):
    return field(field(raw, outer), inner).decode()


async def main():
    md = (('authorization', 'Bearer ' + TOKEN),)
    stats = {'pairs': 0, 'errors': 0}
    async with grpc.aio.insecure_channel('127.0.0.1:%d' % PORT) as ch:
        create = ch.unary_unary('/rustbill.order.OrderService/CreateOrder')
        pay = ch.unary_unary('/rustbill.order.OrderService/PayOrder')
        end = time.time() + SECS

        async def worker():
            while time.time() < end:
                try:
                    raw = await create(ld(2, PID), metadata=md, timeout=30)
                    oid = first_string_in_submsg(raw, 1, 1)
                    await pay(ld(1, oid) + ld(2, 'balance'), metadata=md, timeout=30)
                    stats['pairs'] += 1
                except grpc.RpcError as e:
                    stats['errors'] += 1
                    if stats['errors'] < 3:
                        print('error:', e.code(), e.details(), file=sys.stderr)

        t0 = time.time()
        await asyncio.gather(*[worker() for _ in range(CONC)])
        dt = time.time() - t0
    print('pairs=%d seconds=%.1f pairs_per_sec=%.1f errors=%d' % (stats['pairs'], dt, stats['pairs'] / dt,
                                                                   stats['errors']))


asyncio.run(main())
