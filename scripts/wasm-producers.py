#!/usr/bin/env python3
"""Sets the `producers` section of a core wasm module and drops its DWARF.

    wasm-producers.py MODULE --language Zig=0.17.0 [--sdk mmhost.zig=0.1.3]
                      [--processed-by zig=0.17.0] [--strip-debug]

Used by scripts/build-lang-plugins.sh for toolchains whose producers section
names the wrong source language or none (Zig's LLVM backend writes DWARF's
"C99"; a C++ module linked with wasi-libc carries wasi-libc's "C99"), so that
`mmhost inspect` and `wasm-tools metadata show` name the right one.

The `language` field is replaced by the given ones; `processed-by` and `sdk`
entries are added to those already there (same name: the new version wins).
`--strip-debug` drops the `.debug_*` custom sections and keeps `name`, so
traps still show function names. The module is rewritten in place (through
a temporary file and a rename). Standard library only: no wasm-tools needed.
"""

import argparse
import os
import sys


def leb(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_leb(data, pos):
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated LEB128")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, pos


def read_name(data, pos):
    n, pos = read_leb(data, pos)
    if pos + n > len(data):
        raise ValueError("truncated name")
    return data[pos : pos + n].decode("utf-8"), pos + n


def name(s):
    b = s.encode("utf-8")
    return leb(len(b)) + b


def parse_producers(body):
    """The fields of a producers section body: {field: {name: version}}."""
    fields = {}
    count, pos = read_leb(body, 0)
    for _ in range(count):
        field, pos = read_name(body, pos)
        values, pos = read_leb(body, pos)
        entries = fields.setdefault(field, {})
        for _ in range(values):
            n, pos = read_name(body, pos)
            v, pos = read_name(body, pos)
            entries[n] = v
    return fields


def encode_producers(fields):
    out = bytearray(leb(len(fields)))
    for field, entries in fields.items():
        out += name(field) + leb(len(entries))
        for n, v in entries.items():
            out += name(n) + name(v)
    return bytes(out)


def pairs(values):
    out = {}
    for item in values or []:
        n, sep, v = item.partition("=")
        if not sep or not n:
            sys.exit(f"wasm-producers: expected NAME=VERSION, got {item!r}")
        out[n] = v
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("module")
    p.add_argument("--language", action="append", required=True, metavar="NAME=VERSION")
    p.add_argument("--processed-by", action="append", metavar="NAME=VERSION")
    p.add_argument("--sdk", action="append", metavar="NAME=VERSION")
    p.add_argument("--strip-debug", action="store_true")
    a = p.parse_args()

    try:
        with open(a.module, "rb") as f:
            data = f.read()
    except OSError as e:
        sys.exit(f"wasm-producers: {a.module}: {e.strerror}")
    if data[:8] != b"\0asm\x01\0\0\0":
        sys.exit(f"wasm-producers: {a.module}: not a core wasm module")

    out = bytearray(data[:8])
    fields = {}
    pos = 8
    try:
        while pos < len(data):
            start = pos
            sid = data[pos]
            size, body = read_leb(data, pos + 1)
            end = body + size
            if end > len(data):
                raise ValueError(f"section at offset {start} runs past the end")
            if sid == 0:
                section, payload = read_name(data, body)
                if section == "producers":
                    fields = parse_producers(data[payload:end])
                    pos = end
                    continue
                if a.strip_debug and section.startswith(".debug_"):
                    pos = end
                    continue
            out += data[start:end]
            pos = end
    except (ValueError, UnicodeDecodeError) as e:
        sys.exit(f"wasm-producers: {a.module}: invalid module: {e}")

    fields["language"] = pairs(a.language)
    for field, values in (("processed-by", a.processed_by), ("sdk", a.sdk)):
        if values:
            fields.setdefault(field, {}).update(pairs(values))
    body = name("producers") + encode_producers(fields)
    out += b"\0" + leb(len(body)) + body

    tmp = a.module + ".tmp"
    with open(tmp, "wb") as f:
        f.write(out)
    os.replace(tmp, a.module)


if __name__ == "__main__":
    main()
