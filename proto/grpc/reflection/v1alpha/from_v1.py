#!/usr/bin/env python3
"""Write reflection v1alpha from v1: the same messages and service under
package grpc.reflection.v1alpha. Usage: from_v1.py V1_PROTO OUT_PROTO."""
import sys

src, out = sys.argv[1], sys.argv[2]
text = open(src, encoding='utf-8').read()
for old, new in (('package grpc.reflection.v1;', 'package grpc.reflection.v1alpha;'),
                 ('protocol (v1)', 'protocol (v1alpha)')):
    if old not in text:
        sys.exit('from_v1.py: %r not in %s' % (old, src))
    text = text.replace(old, new)
open(out, 'w', encoding='utf-8').write(text)
