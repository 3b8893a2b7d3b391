#!/usr/bin/env python3
"""config_keys_documented.py — every key libbill's config loader knows (the
`fields[]` table of libbill/config/config.c) appears in config.example.toml
under its section, set or commented out with its default (R-CFG, issue 2
item 3), and the example names no key the loader does not know.

Usage: config_keys_documented.py CONFIG_C CONFIG_EXAMPLE_TOML
"""
import re
import sys


def main() -> int:
    src = open(sys.argv[1], encoding="utf-8").read()
    known = re.findall(r'\{"([a-z_]+)", "([a-z_]+)", K_[A-Z0-9]+', src)
    if len(known) < 40:
        print(f"found only {len(known)} keys in {sys.argv[1]}; did the fields[] table change shape?")
        return 1
    documented, section = {}, None
    for lineno, line in enumerate(open(sys.argv[2], encoding="utf-8"), 1):
        m = re.match(r"^\s*#?\s*\[([a-z_]+)\]\s*(#.*)?$", line)
        if m:
            section = m.group(1)
            continue
        m = re.match(r"^\s*#?\s*([a-z_]+)\s*=", line)
        if m and section:
            documented.setdefault((section, m.group(1)), lineno)
    bad = 0
    for sec, key in known:
        if (sec, key) not in documented:
            print(f"[{sec}] {key}: known to the loader but not documented in config.example.toml")
            bad += 1
    # *_file variants of secret keys are handled generically by the loader.
    names = set(known)
    for (sec, key), lineno in sorted(documented.items(), key=lambda kv: kv[1]):
        base = key[:-5] if key.endswith("_file") else None
        if (sec, key) not in names and (base is None or (sec, base) not in names):
            print(f"config.example.toml:{lineno}: [{sec}] {key} is not a key the loader knows")
            bad += 1
    print(f"{len(known)} keys known, {len(documented)} documented, {bad} problem(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
