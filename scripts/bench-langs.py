#!/usr/bin/env python3
"""The plugins in other languages against the Rust reference: `upper` and
`count` over the same data, serially (`-j 1`), medians and ratios.

    python3 scripts/bench-langs.py [--mib 256] [--reps 5] [--langs rust,c,zig,...]

The languages are those of plugins/LANGUAGES (the one list), less the
interpreted ones (python, javascript: an interpreter inside wasm runs a byte
loop at a few MB/s; name them with --langs to time them anyway), with the
Rust reference plugins (target/plugins/*.wasm) first. It needs a release
build (`cargo build --release`), scripts/build-plugins.sh and
scripts/build-lang-plugins.sh; a language that is not built is reported as
missing, not timed.

Data: --mib MiB of text (four files, the last of an odd size) with a
`needle` on three lines in four, under --dir (default
target/bench-data/langs/; reused while its size matches). Every plugin is compiled into mmhost's cache first
(`mmhost compile`), so the times are of running, not compiling. The runs
are round-robin (a burst of load on a shared machine hits every language
alike); each output is checked against Python (`bytes.upper` of the
concatenation, `bytes.count`): a wrong answer is reported and not timed.
Prints one markdown table per workload: median and spread of wall time,
throughput, ratio to Rust. Not a test: figures go in BENCHMARKS.md.
"""

import argparse
import hashlib
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MMHOST = ROOT / "target/release/mmhost"
PLUGINS = ROOT / "target/plugins"
INTERPRETED = {"python", "javascript"}
PATTERN = b"needle"


def languages():
    out = []
    for line in (ROOT / "plugins/LANGUAGES").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(line)
    return out


def plugin(lang, name):
    return PLUGINS / f"{name}.wasm" if lang == "rust" else PLUGINS / lang / f"{name}.wasm"


def make_data(mib, d):
    """Four files of text totalling `mib` MiB, the last one an odd size."""
    total = mib << 20
    sizes = [total // 4] * 3
    sizes.append(total - sum(sizes) - 1)
    paths = [d / f"part{i}.txt" for i in range(4)]
    if all(p.exists() for p in paths) and [p.stat().st_size for p in paths] == sizes:
        return paths
    d.mkdir(parents=True, exist_ok=True)
    rng = random.Random(13)
    words = [b"alpha", b"Beta", b"gamma", b"DELTA", b"epsilon", b"zeta\n", b"eta", b"theta,", b"iota", b"kappa"]
    block = bytearray()
    while len(block) < 1 << 20:
        line = b" ".join(rng.choice(words) for _ in range(rng.randrange(3, 30)))
        if rng.random() < 0.75:
            line += b" " + PATTERN
        block += line + b"\n"
    block = bytes(block[: 1 << 20])
    for p, size in zip(paths, sizes):
        with open(p, "wb") as f:
            left = size
            while left:
                n = min(left, len(block))
                f.write(block[:n])
                left -= n
    return paths


def expected(paths):
    data = b"".join(p.read_bytes() for p in paths)
    return hashlib.sha256(data.upper()).hexdigest(), data.count(PATTERN)


def run(cmd):
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return time.perf_counter() - t, r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--dir", type=Path, default=ROOT / "target/bench-data/langs",
                    help="where the data and upper's output go (a tmpfs such as /dev/shm/x takes the disk out of the times)")
    ap.add_argument("--langs", help="comma-separated (default: rust and the compiled languages of plugins/LANGUAGES)")
    a = ap.parse_args()
    langs = a.langs.split(",") if a.langs else ["rust"] + [l for l in languages() if l not in INTERPRETED]
    if not MMHOST.exists():
        sys.exit(f"bench-langs: {MMHOST} not built (cargo build --release)")

    present = []
    for lang in langs:
        missing = [str(plugin(lang, n)) for n in ("upper", "count") if not plugin(lang, n).exists()]
        if missing:
            print(f"missing: {lang} ({', '.join(missing)} not built)")
        else:
            present.append(lang)
    subprocess.run([MMHOST, "-q", "compile"] + [plugin(l, n) for l in present for n in ("upper", "count")], check=True)

    paths = make_data(a.mib, a.dir)
    size = sum(p.stat().st_size for p in paths)
    want_upper, want_count = expected(paths)
    out = a.dir / "upper.out"
    load = os.getloadavg()

    times = {(w, l): [] for w in ("upper", "count") for l in present}
    wrong = set()
    for _ in range(a.reps):
        for lang in present:
            if ("upper", lang) not in wrong:
                t, r = run([MMHOST, "run", "-q", "-j", "1", "-o", out, plugin(lang, "upper")] + paths)
                ok = r.returncode == 0 and hashlib.sha256(out.read_bytes()).hexdigest() == want_upper
                if ok:
                    times[("upper", lang)].append(t)
                else:
                    wrong.add(("upper", lang))
                    print(f"WRONG: {lang} upper (exit {r.returncode}: {r.stderr.decode(errors='replace')[:200]})")
            if ("count", lang) not in wrong:
                t, r = run([MMHOST, "run", "-q", "-j", "1", plugin(lang, "count")] + paths + ["--", PATTERN.decode()])
                if r.returncode == 0 and r.stdout.strip() == str(want_count).encode():
                    times[("count", lang)].append(t)
                else:
                    wrong.add(("count", lang))
                    print(f"WRONG: {lang} count (exit {r.returncode}: {r.stdout[:80]!r} {r.stderr[:200]!r})")
    out.unlink(missing_ok=True)

    print(f"\n{size / (1 << 20):.0f} MiB in 4 files in {a.dir}, -j 1, reps {a.reps}, load before {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    for w, what in (("upper", f"upper -j 1 -o OUT ({size >> 20} MiB)"), ("count", f"count -j 1 needle ({size >> 20} MiB)")):
        print(f"\n#### {what}\n")
        print("| language | median | min - max | MB/s (median) | vs Rust (median) | vs Rust (best) |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        base = statistics.median(times[(w, "rust")]) if times.get((w, "rust")) else None
        best = min(times[(w, "rust")]) if times.get((w, "rust")) else None
        for lang in present:
            ts = times[(w, lang)]
            if not ts:
                print(f"| {lang} | wrong | | | | |")
                continue
            m = statistics.median(ts)
            ratio = f"{m / base:.2f}x" if base else "-"
            ratio_best = f"{min(ts) / best:.2f}x" if best else "-"
            print(f"| {lang} | {m:.3f} s | {min(ts):.3f} - {max(ts):.3f} | {size / m / 1e6:.0f} | {ratio} | {ratio_best} |")
    sys.exit(1 if wrong else 0)


if __name__ == "__main__":
    main()
