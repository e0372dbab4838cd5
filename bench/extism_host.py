"""Contender 3 of scripts/bench.py: Extism's Python host (PyPI `extism`).

    python3 extism_host.py PLUGIN.wasm upper OUT FILE...
    python3 extism_host.py PLUGIN.wasm count PATTERN FILE...

Reads the files into one bytes object (the concatenated input, as an Extism
plugin takes it), calls the plugin's export once, and writes the result to
OUT (upper) or prints it (count). Phase times go to stderr.
"""

import sys
import time


def main():
    t0 = time.perf_counter()
    try:
        import extism
    except ImportError as e:  # reported as a missing contender by bench.py
        print(f"extism not importable: {e}", file=sys.stderr)
        return 3
    wasm, mode, arg, *files = sys.argv[1:]
    data = b"".join(open(f, "rb").read() for f in files)
    t1 = time.perf_counter()
    config = {"pattern": arg} if mode == "count" else {}
    manifest = {"wasm": [{"path": wasm}]}
    with extism.Plugin(manifest, wasi=False, config=config) as plugin:
        t2 = time.perf_counter()
        result = plugin.call(mode, data)
        t3 = time.perf_counter()
    if mode == "upper":
        with open(arg, "wb") as out:
            out.write(result)
    else:
        sys.stdout.write(bytes(result).decode() + "\n")
    t4 = time.perf_counter()
    print(
        f"extism phases: import+read {t1 - t0:.3f}s, load {t2 - t1:.3f}s, "
        f"call {t3 - t2:.3f}s, write {t4 - t3:.3f}s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
