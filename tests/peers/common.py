"""common.py — shared bits of the python test peers: argument parsing, the
READY handshake (see peer_harness.h) and writing observations into --dir
atomically (write to a temp name, then rename), so the C test never reads a
half-written file."""
import argparse
import os
import sys


def parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--dir", required=True, help="where to write what we saw")
    return p


def ready(port):
    sys.stdout.write("READY %d\n" % port)
    sys.stdout.flush()


def record(directory, name, data):
    if isinstance(data, str):
        data = data.encode()
    tmp = os.path.join(directory, "." + name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, os.path.join(directory, name))


def append(directory, name, line):
    with open(os.path.join(directory, name), "a") as f:
        f.write(line.rstrip("\n") + "\n")
