#!/usr/bin/env python3
"""The built-in plugins against the standard tools (issue #14).

    python3 scripts/bench-builtins.py [--size full|tiny] [--reps N]
        [--only JOB,...] [--sets 8x128M,10k] [--mmhost PATH]
        [--before PATH] [--data-dir DIR] [--no-build]

Jobs: wc, wc-l, grep-F-c, grep-E, sha256sum, replace-o. Each runs the real
tool (`LC_ALL=C wc`, `LC_ALL=C grep -a -H`, coreutils `sha256sum`,
`sed s/OLD/NEW/g FILES > OUT`) and `mmhost run NAME` (default --jobs: the
cores) over the same files, REPS times, round-robin so that a burst of load
on a shared machine hits every contender alike; the table gives the median
wall time of each and the ratio mmhost / native (below 1: mmhost is
faster). Every mmhost output is compared with the tool's (stdout byte for
byte; for replace, the output file against sed's) and a difference is
reported as WRONG (and the script exits 1). `--before PATH` adds another mmhost binary
(say, one built from an older commit) as a third column.

Data (generated once under target/bench-data/builtins/SIZE, reused): text
of words of 1-10 lowercase letters, lines of 0-15 words, every file ending
in a newline; `full` is 1 GiB in
8 files of 128 MiB (`8x128M`) and 1 GiB in 10,000 files (`10k`); `tiny` is
8 MiB and 100 files, a smoke run. Stdlib only. Not a timed test: see
BENCHMARKS.md for the figures and the machine.
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
SIZES = {
    "full": {"8x128M": (8, 128 * MiB), "10k": (10_000, GiB // 10_000)},
    "tiny": {"8x128M": (8, 1 * MiB), "10k": (100, 80 * KiB)},
}
# A fixed string that is rare in random words, a regex that is a little
# less so, and a same-length replacement.
NEEDLE = "qzx"
REGEX = "qu[aeiou]+z|zz[a-c]x"
OLD, NEW = "qzx", "QZX"
JOBS = ["wc", "wc-l", "grep-F-c", "grep-E", "sha256sum", "replace-o"]


def text_block(size, seed):
    """`size` bytes of text: words of 1-10 letters, lines of 0-15 words."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = ["".join(rng.choices(letters, k=rng.randint(1, 10))) for _ in range(20000)]
    out, n = [], 0
    while n < size:
        line = " ".join(rng.choices(vocab, k=rng.randint(0, 15))) + "\n"
        out.append(line)
        n += len(line)
    return "".join(out).encode()[:size]


def make_data(base, size):
    """Writes the data sets (once); returns {set: [file names]}."""
    sets = {}
    block = None
    for name, (count, each) in SIZES[size].items():
        d = base / name
        names = [f"f{i:05d}.txt" for i in range(count)]
        stamp = d / ".complete"
        want = f"{count} {each} v2\n"
        if not (stamp.exists() and stamp.read_text() == want):
            if block is None:
                print("generating the text...", file=sys.stderr)
                block = text_block(16 * MiB, 14)
            d.mkdir(parents=True, exist_ok=True)
            pos = 0
            for i, n in enumerate(names):
                with open(d / n, "wb") as f:
                    # Every file ends a line, as sed and grep expect (sed
                    # would add the newline otherwise).
                    left = each - 1
                    while left:
                        k = min(left, len(block) - pos)
                        f.write(block[pos:pos + k])
                        left -= k
                        pos = (pos + k) % len(block)
                    f.write(b"\n")
                # Shift the next file a little: files do not all start alike.
                pos = (pos + 7919 * (i + 1)) % len(block)
            stamp.write_text(want)
        sets[name] = (d, names)
    return sets


def commands(job, mm, files, out_dir):
    """(native argv, mmhost argv, native stdout file or None, mmhost output
    file or None) for one job."""
    env = ["env", "LC_ALL=C"]
    run = [mm, "run", "-q", "--no-progress"]
    if job == "wc":
        return env + ["wc", *files], run + ["wc", *files], None, None
    if job == "wc-l":
        return env + ["wc", "-l", *files], run + ["wc", *files, "--", "-l"], None, None
    if job == "grep-F-c":
        return (env + ["grep", "-a", "-H", "-F", "-c", NEEDLE, *files],
                run + ["grep", *files, "--", "-F", "-c", NEEDLE], None, None)
    if job == "grep-E":
        return (env + ["grep", "-a", "-H", "-E", REGEX, *files],
                run + ["grep", *files, "--", "-E", REGEX], None, None)
    if job == "sha256sum":
        return ["sha256sum", *files], run + ["sha256sum", *files], None, None
    if job == "replace-o":
        sed_out, mm_out = out_dir / "sed.out", out_dir / "mmhost.out"
        return (env + ["sed", f"s/{OLD}/{NEW}/g", *files],
                run + ["-o", str(mm_out), "replace", *files, "--", OLD, NEW],
                sed_out, mm_out)
    raise ValueError(job)


def timed(argv, cwd, stdout_file=None):
    """Runs argv; returns (seconds, stdout bytes)."""
    t = time.perf_counter()
    if stdout_file is not None:
        with open(stdout_file, "wb") as f:
            p = subprocess.run(argv, cwd=cwd, stdout=f, stderr=subprocess.PIPE)
        out = b""
    else:
        p = subprocess.run(argv, cwd=cwd, capture_output=True)
        out = p.stdout
    dt = time.perf_counter() - t
    # grep exits 1 when nothing matched; that is an answer too.
    if p.returncode != 0 and not (p.returncode == 1 and "grep" in argv):
        raise RuntimeError(f"{argv[:4]}... exited {p.returncode}: {p.stderr[-500:]!r}")
    return dt, out


def same_file(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(1 << 22), fb.read(1 << 22)
            if x != y:
                return False
            if not x:
                return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", choices=SIZES, default="full")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", default=",".join(JOBS))
    ap.add_argument("--sets", default="8x128M,10k")
    ap.add_argument("--mmhost", default=str(ROOT / "target/release/mmhost"))
    ap.add_argument("--before", help="another mmhost binary, timed beside")
    ap.add_argument("--data-dir", default=str(ROOT / "target/bench-data/builtins"))
    ap.add_argument("--no-build", action="store_true")
    a = ap.parse_args()
    if not a.no_build:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    base = Path(a.data_dir) / a.size
    sets = make_data(base, a.size)
    out_dir = base / "out"
    out_dir.mkdir(exist_ok=True)
    jobs = [j for j in a.only.split(",") if j]
    for j in jobs:
        if j not in JOBS:
            sys.exit(f"unknown job {j}; jobs: {', '.join(JOBS)}")
    print(f"mmhost: {a.mmhost}; reps {a.reps}; {os.cpu_count()} cores; "
          f"load {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    head = "| job | files | native s | mmhost s | ratio |"
    rule = "| --- | --- | --- | --- | --- |"
    if a.before:
        head += " before s | before ratio |"
        rule += " --- | --- |"
    print(head)
    print(rule)
    wrong = 0
    for set_name in a.sets.split(","):
        d, files = sets[set_name]
        for job in jobs:
            native, mine, n_out, m_out = commands(job, a.mmhost, files, out_dir)
            contenders = [("native", native, n_out), ("mmhost", mine, m_out)]
            if a.before:
                b = commands(job, a.before, files, out_dir)
                contenders.append(("before", b[1], b[3]))
            times = {k: [] for k, _, _ in contenders}
            outs = {}
            for _ in range(a.reps):
                for k, argv, out_file in contenders:
                    dt, out = timed(argv, d, out_file if k == "native" else None)
                    times[k].append(dt)
                    outs[k] = out
            ok = outs["mmhost"] == outs["native"]
            if job == "replace-o":
                ok = same_file(n_out, m_out)
            wrong += not ok
            med = {k: statistics.median(v) for k, v in times.items()}
            ratio = med["mmhost"] / med["native"]
            row = (f"| `{job}` | {set_name} | {med['native']:.2f} | {med['mmhost']:.2f} | "
                   f"{ratio:.2f}{'' if ok else ' WRONG'} |")
            if a.before:
                row += f" {med['before']:.2f} | {med['before'] / med['native']:.2f} |"
            print(row, flush=True)
            for f in out_dir.iterdir():
                f.unlink()
    print(f"load after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    sys.exit(1 if wrong else 0)


if __name__ == "__main__":
    main()
