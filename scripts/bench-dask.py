#!/usr/bin/env python3
"""Benchmark of the Dask driver: `mmhost-dask --local 2` against `mmhost run -j 2`.

    target/dask-venv/bin/python scripts/bench-dask.py [--size-mib 1024] [--reps 3]
                                                     [--data-dir DIR] [--json FILE]
                                                     [--quick] [--mmhost PATH]
                                                     [--only count|'upper -o']

Run it with the venv of scripts/test-dask.sh (it imports distributed and
mmhost_dask). It generates its data (8 files, --size-mib in all, with the
pattern planted; reused while the size matches), then, round-robin so that
a burst of load on a shared machine hits every contender alike:

- count PATTERN and upper -o: `mmhost run -j 2`; `mmhost-dask --local 2`
  (end to end: the LocalCluster's start and stop included); `mmhost-dask`
  on a cluster already running (2 workers, 1 thread each);
- the overhead per chunk: `mmhost run-chunk` alone on a 4 KiB chunk
  (process start, plan read, instance), then the same chunks as Dask tasks
  on 2 workers (wall time x workers / tasks), and a no-op Dask task.

With `--quick` (for large sizes): no running-cluster contender and no
per-chunk overhead, and the output of `upper -o` is checked by size and by
the SHA-256 of a sample of 64 KiB blocks against Python's. Every run of
mmhost-dask also writes its `--report-file`, and the medians of its phases
(cluster start, plan, chunks, reduce, commit) are printed, beside the time
of `python -c 'import distributed'` and the `mmhost run-chunk` process over
all chunks of the `upper -o` plan, alone (no Dask).

Every answer is checked against Python (`bytes.count`, `bytes.upper`); a
wrong one fails the script. Prints markdown tables of medians (and min-max);
not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MMHOST = ROOT / "target" / "release" / "mmhost"
PLUGINS = ROOT / "target" / "plugins"
PATTERN = b"needle"
MiB = 1 << 20


def gen(data_dir: Path, size_mib: int) -> list[Path]:
    stamp = data_dir / f".size-{size_mib}"
    files = [data_dir / f"part{i}.txt" for i in range(8)]
    if stamp.exists() and all(f.exists() for f in files):
        return files
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    rng = random.Random(1)
    block = bytearray(rng.choice(b"abcdefghij klmnop\n") for _ in range(MiB))
    for k in range(0, MiB - 6, 4099):
        block[k : k + 6] = PATTERN
    per = size_mib * MiB // 8
    for i, f in enumerate(files):
        with open(f, "wb") as out:
            left = per + i * 1001  # odd sizes
            while left:
                n = min(left, len(block))
                out.write(block[:n])
                left -= n
    stamp.touch()
    return files


def _count_file(f: Path) -> int:
    """PATTERN's occurrences in f, read in pieces (files are made of whole
    1 MiB blocks plus a tail, and the pattern never crosses a block)."""
    n = 0
    with open(f, "rb") as fh:
        while block := fh.read(MiB):
            n += block.count(PATTERN)
    return n


def _sampled_upper_ok(files: list[Path], got: Path) -> bool:
    """Whether 64 KiB blocks of `got` at 64 places equal Python's upper()."""
    import hashlib

    offsets, base = [], 0
    for f in files:
        size = f.stat().st_size
        offsets += [(f, base, k * size // 8) for k in range(8)]
        base += size
    with open(got, "rb") as g:
        for f, at, off in offsets:
            with open(f, "rb") as fh:
                fh.seek(off)
                want = fh.read(64 << 10).upper()
            g.seek(at + off)
            if hashlib.sha256(g.read(len(want))).digest() != hashlib.sha256(want).digest():
                return False
    return True


def timed(cmd: list[str], cwd=None) -> tuple[float, subprocess.CompletedProcess]:
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, cwd=cwd)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"bench-dask: failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr.decode()}")
    return dt, r


def median_str(xs: list[float], unit: float = 1.0, fmt: str = "{:.2f}") -> str:
    xs = [x * unit for x in xs]
    return f"{fmt.format(statistics.median(xs))} ({fmt.format(min(xs))}-{fmt.format(max(xs))})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--data-dir", default=str(ROOT / "target" / "bench-dask-data"))
    ap.add_argument("--chunk-size", default=None, help="for mmhost-dask (default: its own)")
    ap.add_argument("--json")
    ap.add_argument("--quick", action="store_true", help="large sizes: fewer contenders")
    ap.add_argument("--mmhost", default=str(MMHOST), help="the mmhost binary")
    ap.add_argument("--only", choices=["count", "upper -o"], help="one workload only")
    a = ap.parse_args()
    mmhost = a.mmhost

    from distributed import Client, LocalCluster

    from mmhost_dask import tasks

    data_dir = Path(a.data_dir).resolve()
    files = gen(data_dir, a.size_mib)
    names = [f.name for f in files]
    whole_count = sum(_count_file(f) for f in files)
    total = sum(f.stat().st_size for f in files)
    out_dir = Path(tempfile.mkdtemp(prefix="bench-dask-out-", dir=data_dir.parent))
    count, upper = str(PLUGINS / "count.wasm"), str(PLUGINS / "upper.wasm")
    dask_cmd = [
        sys.executable,
        "-m",
        "mmhost_dask",
        "run",
        "--mmhost",
        mmhost,
        "--no-progress",
        "--report-file",
        str(out_dir / "report.json"),
    ]
    if a.chunk_size:
        dask_cmd += ["--chunk-size", a.chunk_size]

    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        memory_limit=0,
    )
    client = Client(cluster)
    sched = ["--scheduler", cluster.scheduler_address]

    contenders = {
        ("count", "mmhost run -j 2"): [
            mmhost,
            "run",
            "-j",
            "2",
            count,
            *names,
            "--",
            "needle",
        ],
        ("count", "mmhost-dask --local 2"): [
            *dask_cmd,
            "--local",
            "2",
            count,
            *names,
            "--",
            "needle",
        ],
        ("count", "mmhost-dask, running cluster"): [
            *dask_cmd,
            *sched,
            count,
            *names,
            "--",
            "needle",
        ],
        ("upper -o", "mmhost run -j 2"): [
            mmhost,
            "run",
            "-j",
            "2",
            "-o",
            str(out_dir / "o.txt"),
            upper,
            *names,
        ],
        ("upper -o", "mmhost-dask --local 2"): [
            *dask_cmd,
            "--local",
            "2",
            "-o",
            str(out_dir / "o.txt"),
            upper,
            *names,
        ],
        ("upper -o", "mmhost-dask, running cluster"): [
            *dask_cmd,
            *sched,
            "-o",
            str(out_dir / "o.txt"),
            upper,
            *names,
        ],
    }
    if a.quick:
        contenders = {k: v for k, v in contenders.items() if "running cluster" not in k[1]}
    if a.only:
        contenders = {k: v for k, v in contenders.items() if k[0] == a.only}
    times: dict = {k: [] for k in contenders}
    phases: dict = {}
    for rep in range(a.reps):
        for key, cmd in contenders.items():
            dt, r = timed(cmd, cwd=data_dir)
            if key[0] == "count":
                assert r.stdout.decode().strip() == str(whole_count), (key, r.stdout)
            else:
                got = out_dir / "o.txt"
                assert got.stat().st_size == total, key
                if a.quick:
                    assert _sampled_upper_ok(files, got), key
                elif rep == 0:
                    want = b"".join(f.read_bytes() for f in files).upper()
                    assert got.read_bytes() == want, key
                got.unlink()
            times[key].append(dt)
            if "mmhost-dask" in key[1]:
                rep_doc = json.loads((out_dir / "report.json").read_text())
                for ph, ms in rep_doc["dask"]["phases_ms"].items():
                    phases.setdefault(key, {}).setdefault(ph, []).append(ms / 1000)

    # Python's start with Dask's import, and run-chunk alone over a plan
    imports = [
        timed([sys.executable, "-c", "import distributed"])[0] for _ in range(max(2, a.reps))
    ]
    if a.only == "count":
        client.close()
        cluster.close()
        shutil.rmtree(out_dir, ignore_errors=True)
        report(a, files, total, times, phases, imports, [0.0], 0, None)
        return
    plan_o = subprocess.run(
        [mmhost, "plan", "--chunk-size", "256M", "-o", str(out_dir / "o.txt"), upper, *names],
        capture_output=True,
        cwd=data_dir,
        check=True,
    ).stdout
    (out_dir / "plan-o.json").write_bytes(plan_o)
    n_o = json.loads(plan_o)["chunk_count"]
    alone_o = []
    for _ in range(a.reps):
        dt, _ = timed(
            [mmhost, "run-chunk", "--plan", str(out_dir / "plan-o.json"), "--chunk", f"0-{n_o - 1}"]
        )
        alone_o.append(dt)
    subprocess.run([mmhost, "abort", "--plan", str(out_dir / "plan-o.json")], capture_output=True)

    if a.quick:
        client.close()
        cluster.close()
        shutil.rmtree(out_dir, ignore_errors=True)
        report(a, files, total, times, phases, imports, alone_o, n_o, None)
        return

    # overhead per chunk: run-chunk alone, then as Dask tasks
    small = out_dir / "small.bin"
    small.write_bytes(b"x" * (400 * 4096))
    plan = subprocess.run(
        [mmhost, "plan", "--chunk-size", "4K", count, str(small), "--", "needle"],
        capture_output=True,
        cwd=out_dir,
        check=True,
    ).stdout
    plan_path = out_dir / "plan.json"
    plan_path.write_bytes(plan)
    doc = json.loads(plan)
    n = doc["chunk_count"]
    alone = []
    for i in range(min(n, 60)):
        dt, _ = timed([mmhost, "run-chunk", "--plan", str(plan_path), "--chunk", str(i)])
        alone.append(dt)
    per_task = []
    noop = []
    pf = client.scatter(plan, broadcast=True, hash=False)
    for _ in range(a.reps):
        t = time.perf_counter()
        futs = client.map(
            tasks.run_chunks,
            [mmhost] * n,
            [pf] * n,
            [doc["run_id"]] * n,
            list(range(n)),
            list(range(n)),
            pure=False,
        )
        client.gather(futs)
        per_task.append((time.perf_counter() - t) * 2 / n)
        t = time.perf_counter()
        futs = client.map(lambda x: x, range(1000), pure=False)
        client.gather(futs)
        noop.append((time.perf_counter() - t) * 2 / 1000)
    client.run(tasks.forget_run, doc["run_id"])
    subprocess.run([mmhost, "abort", "--plan", str(plan_path)], capture_output=True)
    client.close()
    cluster.close()
    shutil.rmtree(out_dir, ignore_errors=True)
    report(a, files, total, times, phases, imports, alone_o, n_o, (alone, per_task, noop))


def report(a, files, total, times, phases, imports, alone_o, n_o, overhead) -> None:
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"#### mmhost-dask: {len(files)} files, {total / MiB:.0f} MiB, 2 cores "
        f"(reps {a.reps}, load {load})\n"
    )
    print("| workload | contender | median s (min-max) | GB/s | ratio to `run -j 2` |")
    print("| --- | --- | --- | --- | --- |")
    result = {}
    for (w, c), xs in times.items():
        base = statistics.median(times[(w, "mmhost run -j 2")])
        m = statistics.median(xs)
        result[f"{w} / {c}"] = xs
        print(f"| {w} | {c} | {median_str(xs)} | {total / m / 1e9:.2f} | {m / base:.2f}x |")
    print()
    print("| mmhost-dask phase | " + " | ".join(f"{w}, {c}" for (w, c) in phases) + " |")
    print("| --- |" + " --- |" * len(phases))
    for ph in ["cluster", "plan", "chunks", "reduce", "commit"]:
        cells = [median_str(p.get(ph, [0.0])) for p in phases.values()]
        print(f"| {ph} (s) | " + " | ".join(cells) + " |")
    print()
    print(f"| `python -c 'import distributed'` | {median_str(imports)} s |")
    print("| --- | --- |")
    print(
        f"| `mmhost run-chunk` alone, `upper -o`, all {n_o} chunks in one process "
        f"| {median_str(alone_o)} s |"
    )
    result["import_distributed"] = imports
    result["run_chunk_alone_upper_o"] = alone_o
    if overhead is None:
        if a.json:
            Path(a.json).write_text(json.dumps(result, indent=1))
        return
    alone, per_task, noop = overhead
    print()
    print("| per chunk | median ms (min-max) |")
    print("| --- | --- |")
    print(
        "| `mmhost run-chunk` alone, one 4 KiB chunk of `count` (process, plan, instance) | "
        + median_str(alone, 1000, "{:.1f}")
        + " |"
    )
    print(
        "| the same as Dask tasks on 2 workers (wall x 2 / tasks) | "
        + median_str(per_task, 1000, "{:.1f}")
        + " |"
    )
    print(
        f"| a no-op Dask task on 2 workers (wall x 2 / 1000) | {median_str(noop, 1000, '{:.2f}')} |"
    )
    result.update(run_chunk_alone=alone, dask_task=per_task, noop=noop)
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
