#!/usr/bin/env python3
"""Run protoc-c, then patch C keywords it emits as identifiers.

protoc-c lowercases RPC names into struct members of the generated service
vtables; IdentityService.Register becomes `register`, a C keyword, and the
header no longer compiles. The RPC name is fixed by the wire contract, so the
generated member is renamed instead (we never use protoc-c's RPC vtables).

Usage: protoc_c.py PROTOC_C OUT_DIR ARGS...  (ARGS are passed to protoc-c)
"""
import pathlib
import re
import subprocess
import sys

KEYWORDS = ['register', 'default', 'return', 'switch', 'case', 'continue',
            'static', 'extern', 'union', 'struct', 'const', 'volatile', 'auto']


def main() -> int:
    protoc, out_dir, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    rc = subprocess.call([protoc] + args)
    if rc != 0:
        return rc
    pat = re.compile(r'(\(\*|function_prefix__ ## )(%s)\b' % '|'.join(KEYWORDS))
    # Only this run's outputs: other protoc-c runs may be writing in parallel.
    outs = []
    for a in args:
        if a.endswith('.proto'):
            stem = pathlib.Path(out_dir) / a[:-len('.proto')]
            outs += [stem.with_suffix('.pb-c.c'), stem.with_suffix('.pb-c.h')]
    for p in outs:
        text = p.read_text()
        fixed = pat.sub(lambda m: m.group(1) + m.group(2) + '_', text)
        if fixed != text:
            p.write_text(fixed)
    return 0


if __name__ == '__main__':
    sys.exit(main())
