#!/usr/bin/env python3
"""server_layering.py — bill-server's transport names no service, layer or
route (issue 11 §1): the include graph and the call graph of transport/
reach nothing in services/, layers/, routes/ or the tables, only the other
way round.

  includes  no file under bill-server/transport/ includes a header of
            services/, layers/, routes/ or tables.h;
  calls     no object compiled from transport/ refers to a symbol that an
            object of services/, layers/, routes/, tables.c or main.c
            defines (nm: undefined symbols against defined ones).

Usage: server_layering.py SERVER_SOURCE_DIR SERVER_OBJECT_DIR
"""
import os
import re
import subprocess
import sys

OTHERS = ("services", "layers", "routes")


def includes_ok(src: str) -> int:
    bad = 0
    tdir = os.path.join(src, "transport")
    for name in sorted(os.listdir(tdir)):
        if not name.endswith((".c", ".h")):
            continue
        for lineno, line in enumerate(open(os.path.join(tdir, name), encoding="utf-8"), 1):
            m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
            if not m:
                continue
            target = os.path.normpath(os.path.join(tdir, m.group(1)))
            rel = os.path.relpath(target, src)
            top = rel.split(os.sep)[0]
            if top in OTHERS or rel in ("tables.h", "billing_job.h"):
                print(f"transport/{name}:{lineno}: includes {rel}: the transport must not know it")
                bad += 1
    return bad


def symbols(obj: str, undefined: bool) -> set:
    args = ["nm", "--undefined-only" if undefined else "--defined-only", obj]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    syms = set()
    for line in out.splitlines():
        parts = line.split()
        if not parts:
            continue
        kind, name = (parts[-2], parts[-1]) if len(parts) >= 2 else ("U", parts[-1])
        if undefined or kind.isupper():  # defined: global symbols only
            syms.add(name)
    return syms


def calls_ok(objdir: str) -> int:
    objs = [f for f in os.listdir(objdir) if f.endswith(".o")]
    transport = [f for f in objs if f.startswith("transport_")]
    others = [f for f in objs if f.startswith(tuple(o + "_" for o in OTHERS))
              or f in ("tables.c.o", "main.c.o", "billing_job.c.o")]
    if len(transport) < 8 or len(others) < 10:
        print(f"found {len(transport)} transport and {len(others)} other objects in {objdir}; "
              "did the object naming change?")
        return 1
    defined = {}
    for o in others:
        for s in symbols(os.path.join(objdir, o), False):
            defined[s] = o
    bad = 0
    for t in sorted(transport):
        for s in sorted(symbols(os.path.join(objdir, t), True)):
            if s in defined:
                print(f"{t}: uses {s}, defined by {defined[s]}: the transport must not call it")
                bad += 1
    return bad


def main() -> int:
    bad = includes_ok(sys.argv[1]) + calls_ok(sys.argv[2])
    if bad:
        print(f"{bad} layering violation(s)")
        return 1
    print("transport/ includes and calls nothing of services/, layers/, routes/, tables")
    return 0


if __name__ == "__main__":
    sys.exit(main())
