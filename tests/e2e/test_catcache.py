#!/usr/bin/python3
"""The anonymous catalog cache seen from outside (issue 13), on two
bill-servers of one database (B with a small [cache] catalog_max_bytes).

Usage: test_catcache.py PORT_A PORT_B SERVER_DIR_A BILL_CLI

  - anonymous catalog calls are answered from memory (hits in /metrics);
    a call carrying credentials never is;
  - a bill-cli write (a product renamed, a category added) is what an
    anonymous caller of either server gets within 1 s of bill-cli exiting;
  - many distinct anonymous requests keep B's cache within its bound.
Exits non-zero with a message on the first failure."""
import re
import sys
import time
import urllib.request

import grpc

from pbwire import fail, expect, enc, S, R, cli_id, native, ok

PORT_A, PORT_B, DIR_A, CLI = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
PROD = '/rustbill.product.ProductService/'
GRP = '/rustbill.product.ProductGroupService/'
CAT = '/rustbill.product.ProductCategoryService/'
INT = '/rustbill.integration.IntegrationService/'


def cli(*args):
    return cli_id(CLI, DIR_A, *args)


chans = {p: grpc.insecure_channel('127.0.0.1:%d' % p) for p in (PORT_A, PORT_B)}


def call(port, path, body, md=()):
    return ok(native(chans[port], path, body, md), '%s on %d' % (path, port))


def metrics(port):
    with urllib.request.urlopen('http://127.0.0.1:%d/metrics' % port, timeout=10) as r:
        text = r.read().decode()
    out = {}
    for m in re.finditer(r'^(bill_catalog_cache_\w+|bill_catalog_version) (\d+)$', text, re.M):
        out[m.group(1)] = int(m.group(2))
    expect('bill_catalog_cache_hits_total' in out, 'no catalog cache in /metrics of %d' % port)
    return out


def page(n, size):
    return enc((1, enc((1, n), (2, size))))


def names(port, body=None):
    m = call(port, PROD + 'ListProducts', page(1, 20) if body is None else body)
    return [S(p, 2) for p in R(m, 1)]


def visible_within(what, check, seconds=1.0):
    """check() polled from now (bill-cli just exited) until true; it must
    be true within `seconds` on both servers."""
    t0 = time.monotonic()
    while True:
        if all(check(p) for p in (PORT_A, PORT_B)):
            took = time.monotonic() - t0
            expect(took <= seconds, '%s took %.2f s (> %.1f s)' % (what, took, seconds))
            print('%s: visible on both servers after %.2f s' % (what, took))
            return
        if time.monotonic() - t0 > seconds:
            fail('%s not visible on both servers within %.1f s: A %r, B %r'
                 % (what, seconds, names(PORT_A), names(PORT_B)))
        time.sleep(0.02)


cat = cli('category', 'create', '--name', 'Cloud')
grp = cli('group', 'create', '--name', 'Hong Kong', '--category', cat)
pid = cli('product', 'create', '--name', 'HK-1', '--group', grp, '--price-monthly', '10.00')
expect(pid, 'no product id')

# warm both caches; the second call of each is a hit. A catalog write of a
# server's own start-up (plugin interfaces' health, the plugin scan) may
# land meanwhile and flush what was warmed: warm again until A's version
# held still across the warm-up.
for attempt in range(10):
    v0 = metrics(PORT_A)['bill_catalog_version']
    for port in (PORT_A, PORT_B):
        for _ in range(2):
            expect(names(port) == ['HK-1'], 'catalog on %d: %r' % (port, names(port)))
            call(port, PROD + 'GetProduct', enc((1, pid)))
            call(port, GRP + 'ListProductGroups', page(1, 20))
            call(port, CAT + 'ListProductCategories', page(1, 20))
            call(port, INT + 'ListGateways', b'')
    a0 = metrics(PORT_A)
    if a0['bill_catalog_version'] == v0:
        break
    time.sleep(0.3)
expect(a0['bill_catalog_cache_hits_total'] >= 5, 'no hits on A: %r' % a0)
expect(a0['bill_catalog_cache_entries'] >= 5, 'A holds %r' % a0)

# credentials: never from (nor into) the cache, even an invalid token
m0 = metrics(PORT_A)
for md in ([('authorization', 'Bearer not-a-token')], [('x-api-key', 'rb_nothing')],
           [('cookie', 'rustbill_session=nothing')]):
    m = call(PORT_A, PROD + 'ListProducts', page(1, 20), md)
    expect([S(p, 2) for p in R(m, 1)] == ['HK-1'], 'with %r: %r' % (md, m))
m1 = metrics(PORT_A)
expect(m1['bill_catalog_cache_hits_total'] == m0['bill_catalog_cache_hits_total'] and
       m1['bill_catalog_cache_misses_total'] == m0['bill_catalog_cache_misses_total'],
       'a call with credentials used the cache: %r -> %r' % (m0, m1))

# bill-cli writes: within 1 s on both servers
cli('product', 'update', pid, '--name', 'HK-2')
visible_within('renamed product', lambda p: names(p) == ['HK-2'])
expect(S(R(call(PORT_B, PROD + 'GetProduct', enc((1, pid))), 1)[0], 2) == 'HK-2',
       'GetProduct on B is stale')
cli('category', 'create', '--name', 'Second')
visible_within('new category',
               lambda p: sorted(S(c, 2) for c in R(call(p, CAT + 'ListProductCategories',
                                                         page(1, 20)), 1)) == ['Cloud', 'Second'])
cli('product', 'update', pid, '--inactive')
visible_within('product taken off sale', lambda p: names(p) == [])
cli('product', 'update', pid, '--active')
visible_within('product back on sale', lambda p: names(p) == ['HK-2'])
# Each write above was seen fresh on B; B got there by flushing on a new
# version at least once (several writes inside one poll interval count as
# one flush, so no exact count).
mb = metrics(PORT_B)
expect(mb['bill_catalog_cache_invalidations_total'] >= 1, 'B never invalidated: %r' % mb)

# B's bound: 80 distinct requests (page sizes), each a few hundred bytes
mb = metrics(PORT_B)
bound = mb['bill_catalog_cache_max_bytes']
for size in range(1, 81):
    expect(names(PORT_B, page(1, size)) == ['HK-2'], 'page size %d' % size)
    if size % 10 == 0:
        mb = metrics(PORT_B)
        expect(mb['bill_catalog_cache_bytes'] <= bound, 'B over its bound: %r' % mb)
expect(mb['bill_catalog_cache_evictions_total'] > 0, 'B never evicted: %r' % mb)
expect(mb['bill_catalog_cache_entries'] >= 2, 'B keeps nothing: %r' % mb)
print('bound: %d of %d bytes, %d entries, %d evictions'
      % (mb['bill_catalog_cache_bytes'], bound, mb['bill_catalog_cache_entries'],
         mb['bill_catalog_cache_evictions_total']))
print('OK')
