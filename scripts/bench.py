#!/usr/bin/env python3
"""The mmhost benchmark: one command, contenders side by side, medians and ratios.

    python3 scripts/bench.py [--size tiny|medium|full] [--reps N] [--only W,...]
                             [--contenders C,...] [--no-build] [--install]
                             [--json FILE] [--data-dir DIR]

It builds what it needs (the host, the reference plugins, bench/native,
bench/wasi-filter, bench/extism-plugin, bench/mmhost-plugin), generates its
own data (under target/bench-data/SIZE, reused while its parameters match),
runs every contender --reps times on the same data, round-robin so that a
burst of load on this shared machine hits all of them alike, checks every
contender's output against Python's own `bytes.upper`/`bytes.count` (a wrong
answer is reported, not timed) and prints one markdown table per workload:
median wall time, spread, throughput, ratio to the native program, user and
system CPU time, page faults and peak RSS (from wait4).

Workloads (--only): upper-out, upper-inplace, count (each over three data
sets: 8 files of 128 MiB, 8 files of odd sizes, 10,000 small files),
startup, rss, files100k, hostcall, chunk, profile. Stdlib only. A contender
that is not installed is printed as "missing: NAME (why)" and the run goes
on; the exit status is 0 unless the harness itself fails or a contender
gives a wrong answer and --strict is given.

Sizes: `full` is the issue's (1 GiB per data set, 100,000 files, 4 GiB for
rss); `medium` is a quarter of it for a quicker look; `tiny` is a smoke run
of a few MiB that CI runs to keep this script working (it is not a timed
test).
"""

import argparse
import hashlib
import json
import os
import platform
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
TARGET = ROOT / "target"
BENCH_TARGET = TARGET / "bench"  # cargo target dir of the bench/ crates
WASMTIME_VERSION = "48.0.8"
PATTERN = "needle"
KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30

SIZES = {
    "tiny": dict(
        big=256 * KiB, nbig=8, small_files=100, small_total=4 * MiB,
        many_files=1000, many_total=2 * MiB, sparse_files=1000,
        rss=64 * MiB, hostcall_region=8 * MiB, hostcall_scale=0.02,
        chunks=[64 * KiB, 1 * MiB, 4 * MiB],
    ),
    "medium": dict(
        big=32 * MiB, nbig=8, small_files=10000, small_total=256 * MiB,
        many_files=100000, many_total=256 * MiB, sparse_files=100000,
        rss=1 * GiB, hostcall_region=64 * MiB, hostcall_scale=0.25,
        chunks=[64 * KiB, 256 * KiB, 1 * MiB, 4 * MiB, 16 * MiB, 32 * MiB],
    ),
    "full": dict(
        big=128 * MiB, nbig=8, small_files=10000, small_total=1 * GiB,
        many_files=100000, many_total=1 * GiB, sparse_files=100000,
        rss=4 * GiB, hostcall_region=64 * MiB, hostcall_scale=1.0,
        chunks=[64 * KiB, 256 * KiB, 1 * MiB, 4 * MiB, 16 * MiB, 32 * MiB, 60 * MiB],
    ),
}

WORKLOADS = ["upper-out", "upper-inplace", "count", "startup", "rss",
             "files100k", "hostcall", "chunk", "profile"]
DATASETS = ["8x128M", "8xodd", "10k-small"]
CONTENDERS = ["native", "native-fsync", "mmhost", "mmhost-1", "mmhost-go-1", "wasmtime-cli",
              "extism", "python-tutorial", "coreutils"]
LABELS = {
    "native": "native Rust (memmap2, 1 thread)",
    "native-fsync": "native Rust + fsync",
    "mmhost": "mmhost (reference plugin; default --jobs = cores)",
    "mmhost-1": "mmhost --jobs 1 (one instance)",
    "mmhost-go-1": "mmhost --jobs 1, the Go plugin (plugins/go)",
    "wasmtime-cli": f"wasmtime {WASMTIME_VERSION} CLI, WASI filter",
    "extism": "Extism (Python host)",
    "python-tutorial": "Python mmap tutorial",
    "coreutils": "coreutils pipeline",
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def human(n):
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= size:
            v = n / size
            return f"{v:.0f} {unit}" if v == int(v) else f"{v:.1f} {unit}"
    return f"{n} B"


# --------------------------------------------------------------------------
# Running and timing one process


# `bench-native measure STATFILE CMD...`, once built: runs CMD and writes its
# wall time and wait4 rusage. Forked from that small program, the peak RSS is
# the command's own; forked from this Python process it would be at least
# Python's (exec keeps the high-water mark).
MEASURE = None


class Run:
    """One finished process: wall time and the rusage wait4 gave."""

    def __init__(self, code, wall, stat, stdout, stderr, rss_anon=None):
        self.code = code
        self.wall = wall
        self.user, self.sys, self.maxrss, self.minflt, self.majflt = stat
        self.stdout = stdout
        self.stderr = stderr
        self.rss_anon = rss_anon  # max RssAnon in bytes, when sampled


def run(argv, cwd=None, env=None, timeout=1800, sample_rss=False, stdin=None):
    """Runs argv; returns a Run. stdout and stderr go through files (no pipe
    deadlocks, no cost while the process runs)."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    statfile = None
    if MEASURE:
        fd, statfile = tempfile.mkstemp(prefix="bench-stat-")
        os.close(fd)
        argv = [str(MEASURE), "measure", statfile, *argv]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        fin = open(stdin, "rb") if stdin else subprocess.DEVNULL
        try:
            t0 = time.perf_counter()
            p = subprocess.Popen(argv, cwd=cwd, env=full_env, stdin=fin, stdout=out,
                                 stderr=err, start_new_session=True)
        except OSError as e:
            # No such program or working directory: a failed run (exit 127,
            # as a shell says), reported by the caller as FAILED with this.
            if statfile:
                os.unlink(statfile)
            return Run(127, 0.0, (0.0, 0.0, 0, 0, 0), b"",
                       f"cannot run {argv[0]} in {cwd or '.'}: {e}".encode())
        finally:
            if stdin:
                fin.close()
        killer = threading.Timer(timeout, lambda: _kill(p.pid))
        killer.start()
        peak = [0]
        stop = threading.Event()
        sampler = None
        if sample_rss:
            sampler = threading.Thread(target=_sample_rss, args=(p.pid, peak, stop, bool(statfile)))
            sampler.start()
        _, status, ru = os.wait4(p.pid, 0)
        t1 = time.perf_counter()
        p.returncode = os.waitstatus_to_exitcode(status)  # keeps Popen from waiting
        killer.cancel()
        stop.set()
        if sampler:
            sampler.join()
        out.seek(0)
        err.seek(0)
        wall = t1 - t0
        stat = (ru.ru_utime, ru.ru_stime, ru.ru_maxrss * 1024, ru.ru_minflt, ru.ru_majflt)
        if statfile:
            try:
                f = open(statfile).read().split()
                wall = float(f[0])
                stat = (float(f[1]), float(f[2]), int(f[3]), int(f[4]), int(f[5]))
            except (OSError, ValueError, IndexError):
                pass  # the wrapper failed: keep the outer figures
            finally:
                os.unlink(statfile)
        return Run(p.returncode, wall, stat, out.read(), err.read(),
                   peak[0] if sample_rss else None)


def _kill(pid):
    try:
        os.killpg(pid, 9)
    except ProcessLookupError:
        pass


def _sample_rss(pid, peak, stop, wrapped):
    """Polls /proc/PID/status every 2 ms and keeps the largest RssAnon (of
    the wrapper's child when the command runs under `measure`)."""
    if wrapped:
        while not stop.is_set():
            try:
                kids = open(f"/proc/{pid}/task/{pid}/children").read().split()
            except OSError:
                return
            if kids:
                pid = int(kids[0])
                break
            time.sleep(0.0005)
    path = f"/proc/{pid}/status"
    while not stop.is_set():
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        peak[0] = max(peak[0], int(line.split()[1]) * 1024)
                        break
        except (FileNotFoundError, ProcessLookupError, ValueError):
            return
        time.sleep(0.002)


def load():
    return os.getloadavg()


# --------------------------------------------------------------------------
# Building


def sh(argv, cwd=ROOT, env=None, quiet=False):
    e = dict(os.environ)
    if env:
        e.update(env)
    r = subprocess.run(argv, cwd=cwd, env=e, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0 and not quiet:
        log(r.stdout[-3000:])
    return r


def cargo_bench(crate, target=None):
    """Builds bench/CRATE in release (into target/bench); returns the error
    text or None."""
    argv = ["cargo", "build", "--release", "--quiet"]
    if target:
        argv += ["--target", target]
    r = sh(argv, cwd=BENCH / crate, env={"CARGO_TARGET_DIR": str(BENCH_TARGET)}, quiet=True)
    if r.returncode != 0:
        lines = [l for l in r.stdout.splitlines() if l.strip()]
        return " / ".join(lines[-3:])[:300] or f"cargo exit {r.returncode}"
    return None


def installed_targets():
    r = sh(["rustup", "target", "list", "--installed"], quiet=True)
    return set(r.stdout.split()) if r.returncode == 0 else set()


class Tools:
    """Paths of everything the contenders run, and why a missing one is."""

    def __init__(self):
        self.missing = {}  # contender -> reason
        self.mmhost = TARGET / "release" / "mmhost"
        self.plugins = TARGET / "plugins"
        self.native = BENCH_TARGET / "release" / "bench-native"
        self.wasi_filter = BENCH_TARGET / "wasm32-wasip2" / "release" / "bench-wasi-filter.wasm"
        self.extism_wasm = BENCH_TARGET / "wasm32-unknown-unknown" / "release" / "bench_extism_plugin.wasm"
        self.bench_plugin = BENCH_TARGET / "bench-plugin.wasm"
        self.bench_plugin_core = BENCH_TARGET / "wasm32-unknown-unknown" / "release" / "bench_mmhost_plugin.wasm"
        self.wasmtime = None
        self.extism_python = sys.executable

    def build(self, args):
        targets = installed_targets()
        if not args.no_build:
            log("build: host (cargo build --release)")
            if sh(["cargo", "build", "--release", "--quiet"]).returncode != 0:
                raise SystemExit("bench: the host does not build")
            log("build: reference plugins (scripts/build-plugins.sh)")
            if sh(["bash", "scripts/build-plugins.sh"]).returncode != 0:
                raise SystemExit("bench: the reference plugins do not build")
            log("build: bench/native")
            err = cargo_bench("native")
            if err:
                raise SystemExit(f"bench: bench/native does not build: {err}")
            if "wasm32-wasip2" in targets:
                log("build: bench/wasi-filter (wasm32-wasip2)")
                err = cargo_bench("wasi-filter", "wasm32-wasip2")
                if err:
                    self.missing["wasmtime-cli"] = f"bench/wasi-filter does not build: {err}"
            log("build: bench/extism-plugin (wasm32-unknown-unknown)")
            err = cargo_bench("extism-plugin", "wasm32-unknown-unknown")
            if err:
                self.missing["extism"] = f"bench/extism-plugin does not build: {err}"
            log("build: bench/mmhost-plugin (wasm32-unknown-unknown, mmhost wrap)")
            err = cargo_bench("mmhost-plugin", "wasm32-unknown-unknown")
            if err:
                log(f"bench/mmhost-plugin does not build: {err}")
            else:
                sh([str(self.mmhost), "wrap", str(self.bench_plugin_core), "-o", str(self.bench_plugin)])
        # The Go plugins, if the Go toolchain is installed
        # (scripts/install-toolchains.sh go), compiled ahead so that no rep
        # pays for the first compile.
        go = [self.plugins / "go" / f"{n}.wasm" for n in ("upper", "count")]
        if not args.no_build:
            log("build: the Go plugins (scripts/build-lang-plugins.sh go)")
            sh(["bash", "scripts/build-lang-plugins.sh", "go"], quiet=True)
        skipped = self.plugins / "go" / "SKIPPED"
        if skipped.exists():
            self.missing["mmhost-go-1"] = skipped.read_text().strip()
        elif not all(p.exists() for p in go):
            self.missing["mmhost-go-1"] = "plugins/go not built (scripts/build-lang-plugins.sh go)"
        elif self.mmhost.exists():
            sh([str(self.mmhost), "-q", "compile", *map(str, go)], quiet=True)
        for path in (self.mmhost, self.native, self.plugins / "upper.wasm"):
            if not path.exists():
                raise SystemExit(f"bench: {path} missing (run without --no-build)")
        global MEASURE
        MEASURE = self.native
        # contender 2: the wasmtime CLI at the host's wasmtime version
        if "wasm32-wasip2" not in targets and "wasmtime-cli" not in self.missing:
            self.missing["wasmtime-cli"] = "rustup target wasm32-wasip2 not installed (rustup target add wasm32-wasip2)"
        exe = shutil.which("wasmtime") or str(Path.home() / ".cargo/bin/wasmtime")
        version = ""
        if Path(exe).exists():
            r = sh([exe, "--version"], quiet=True)
            version = r.stdout.strip()
        if WASMTIME_VERSION not in version.split():
            found = f"found {version!r} at {exe}" if version else "no wasmtime on PATH"
            self.missing.setdefault(
                "wasmtime-cli",
                f"wasmtime-cli {WASMTIME_VERSION} not installed ({found}); "
                f"cargo install wasmtime-cli --version {WASMTIME_VERSION} --locked")
        else:
            self.wasmtime = exe
        if not self.wasi_filter.exists():
            self.missing.setdefault("wasmtime-cli", "bench/wasi-filter.wasm not built")
        # contender 3: Extism's Python host
        r = sh([self.extism_python, "-c", "import extism"], quiet=True)
        if r.returncode != 0:
            why = (r.stdout.strip().splitlines() or ["?"])[-1]
            self.missing.setdefault("extism", f"`import extism` fails ({why}); pip install extism")
        if not self.extism_wasm.exists():
            self.missing.setdefault("extism", "bench/extism-plugin not built")
        for tool in ("cat", "tr", "grep", "wc", "bash"):
            if not shutil.which(tool):
                self.missing.setdefault("coreutils", f"{tool} not on PATH")


def install(args):
    """--install: the heavy installs, documented in BENCHMARKS.md."""
    log(f"install: cargo install wasmtime-cli --version {WASMTIME_VERSION} --locked")
    subprocess.run(["cargo", "install", "wasmtime-cli", "--version", WASMTIME_VERSION, "--locked"])
    log("install: pip install extism")
    subprocess.run([sys.executable, "-m", "pip", "install", "extism"])
    log("install: rustup target add wasm32-wasip2 wasm32-unknown-unknown")
    subprocess.run(["rustup", "target", "add", "wasm32-wasip2", "wasm32-unknown-unknown"])


# --------------------------------------------------------------------------
# Data


WORDS = (b"alpha beta gamma delta needle haystack mmhost region plugin "
         b"Wasm Component Model caf\xc3\xa9 na\xc3\xafve \xe2\x82\xac42 0x1F "
         b"The quick brown fox jumps over the lazy dog needles NEEDLE").split()


def text_block(size, seed):
    """Pseudo-random text of `size` bytes: words, spaces, newlines, some
    UTF-8 and upper case, with `needle` now and then."""
    rnd = random.Random(seed)
    out = bytearray()
    seps = [b" "] * 9 + [b"\n"]
    while len(out) < size:
        out += b"".join(w + rnd.choice(seps) for w in rnd.choices(WORDS, k=4096))
    return bytes(out[:size])


class Data:
    """The data sets of one size, generated once under target/bench-data."""

    VERSION = 3

    def __init__(self, root, size_name, p):
        self.root = Path(root) / size_name
        self.p = p
        self.block = None

    def _stamp(self, name):
        return self.root / f".{name}.json"

    def _ready(self, name, params):
        s = self._stamp(name)
        try:
            return json.loads(s.read_text()).get("params") == params
        except (OSError, ValueError):
            return False

    def _mark(self, name, params, extra=None):
        d = {"params": params}
        if extra:
            d.update(extra)
        self._stamp(name).write_text(json.dumps(d))

    def meta(self, name):
        return json.loads(self._stamp(name).read_text())

    def _text(self):
        if self.block is None:
            self.block = text_block(8 * MiB + 4099, 1)
        return self.block

    def _write_files(self, d, sizes, names, seed):
        """Writes files of the given sizes, cut from the text block at
        pseudo-random offsets (so files differ)."""
        block = self._text()
        rnd = random.Random(seed)
        for name, size in zip(names, sizes):
            with open(d / name, "wb") as f:
                left = size
                while left:
                    at = rnd.randrange(len(block) - 1)
                    piece = block[at:at + min(left, len(block) - at)]
                    f.write(piece)
                    left -= len(piece)

    def files(self, name):
        """Names (relative to dir(name)) of a data set, in order."""
        return self.meta(name)["files"]

    def dir(self, name):
        return self.root / name

    def total(self, name):
        return self.meta(name)["total"]

    def ensure(self, name):
        p = self.p
        if name == "8x128M":
            sizes = [p["big"]] * p["nbig"]
        elif name == "8xodd":
            # not page multiples: 1 + 4097*k more than the big size
            sizes = [p["big"] + 1 + 4097 * k for k in range(p["nbig"])]
        elif name == "10k-small":
            n, total = p["small_files"], p["small_total"]
            rnd = random.Random(7)
            avg = total // n
            # uniform between avg/10 and 1.9*avg: some packed (< 64 KiB),
            # most mapped at the full size; sum fixed to `total`
            sizes = [rnd.randint(max(1, avg // 10), avg * 19 // 10) for _ in range(n)]
            scale = total / sum(sizes)
            sizes = [max(1, int(s * scale)) for s in sizes]
            sizes[-1] += total - sum(sizes)
        elif name == "100k":
            n, total = p["many_files"], p["many_total"]
            rnd = random.Random(8)
            avg = total // n
            sizes = [rnd.randint(max(1, avg // 2), avg * 3 // 2) for _ in range(n)]
            sizes[-1] = max(1, sizes[-1] + total - sum(sizes))
        elif name == "one1k":
            sizes = [1024]
        else:
            raise KeyError(name)
        width = len(str(len(sizes) - 1))
        names = [f"{i:0{width}d}" for i in range(len(sizes))]
        params = {"v": self.VERSION, "sizes_sum": sum(sizes), "n": len(sizes),
                  "first": sizes[:3], "last": sizes[-3:]}
        if self._ready(name, params):
            return
        d = self.dir(name)
        log(f"data: generating {name}: {len(sizes)} files, {human(sum(sizes))} in {d}")
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        self._write_files(d, sizes, names, seed=zlib.crc32(name.encode()))
        up = hashlib.sha256()
        joined = bytearray()
        for n_ in names:
            b = (d / n_).read_bytes()
            up.update(b.upper())
            joined += b
        expected = {"upper_sha256": up.hexdigest(),
                    "count": bytes(joined).count(PATTERN.encode()),
                    "sha256": hashlib.sha256(joined).hexdigest()}
        del joined
        self._mark(name, params, {"files": names, "total": sum(sizes), "expected": expected})

    def ensure_sparse(self, name):
        """`sparse100k`: files of 65 KiB + 1 (mapped, not packed, by mmhost),
        all holes: no disk cost. `rss`: one sparse file of p["rss"] bytes."""
        p = self.p
        if name == "sparse100k":
            n, size = p["sparse_files"], 65 * KiB + 1
        else:
            n, size = 1, p["rss"]
        width = len(str(n - 1))
        names = [f"{i:0{width}d}" for i in range(n)]
        params = {"v": self.VERSION, "n": n, "size": size}
        if self._ready(name, params):
            return
        d = self.dir(name)
        log(f"data: generating {name}: {n} sparse files of {human(size)}")
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        for n_ in names:
            with open(d / n_, "wb") as f:
                f.truncate(size)
        # the expected answers of all-zero input, without reading it
        h = hashlib.sha256()
        zeros = bytes(MiB)
        left = n * size
        while left:
            k = min(left, MiB)
            h.update(zeros[:k])
            left -= k
        self._mark(name, params, {"files": names, "total": n * size,
                                  "expected": {"count": 0, "sha256": h.hexdigest(),
                                               "upper_sha256": h.hexdigest()}})

    def expected(self, name):
        return self.meta(name)["expected"]

    def reset_copy(self, name):
        """A fresh writable copy of data set `name` for in-place runs."""
        src, dst = self.dir(name), self.root / "work" / name
        shutil.rmtree(dst, ignore_errors=True)
        dst.mkdir(parents=True)
        for n_ in self.files(name):
            shutil.copyfile(src / n_, dst / n_)
        return dst


def sha256_files(paths):
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            while True:
                b = f.read(8 * MiB)
                if not b:
                    break
                h.update(b)
    return h.hexdigest()


# --------------------------------------------------------------------------
# Contenders: the command each runs for a workload


class Cmd:
    def __init__(self, argv, cwd=None, env=None, out=None, note=""):
        self.argv, self.cwd, self.env, self.out, self.note = argv, cwd, env, out, note


def pipeline(script, files):
    """bash -c SCRIPT with the files as "$@" (no quoting, no length issue
    beyond the kernel's own argument limit)."""
    return ["bash", "-c", "set -o pipefail; " + script, "bench", *files]


def commands(tools, workload, files, cwd, out):
    """{contender: Cmd or str (why not applicable)} for a data workload."""
    t = tools
    p = t.plugins
    cmds = {}
    if workload == "upper-out":
        cmds["native"] = Cmd([str(t.native), "upper-out", str(out), *files], cwd)
        cmds["native-fsync"] = Cmd([str(t.native), "upper-out", "--fsync", str(out), *files], cwd,
                                   note="the durability mmhost gives")
        cmds["mmhost"] = Cmd([str(t.mmhost), "run", "-q", "-o", str(out),
                              str(p / "upper.wasm"), *files], cwd)
        cmds["mmhost-1"] = Cmd([str(t.mmhost), "run", "-q", "-j", "1", "-o", str(out),
                                str(p / "upper.wasm"), *files], cwd)
        cmds["mmhost-go-1"] = Cmd([str(t.mmhost), "run", "-q", "-j", "1", "-o", str(out),
                                   str(p / "go" / "upper.wasm"), *files], cwd)
        if t.wasmtime:
            cmds["wasmtime-cli"] = Cmd(pipeline(
                f'cat -- "$@" | {shlex.quote(t.wasmtime)} run {shlex.quote(str(t.wasi_filter))} '
                f'upper > {shlex.quote(str(out))}', files), cwd)
        cmds["extism"] = Cmd([t.extism_python, str(BENCH / "extism_host.py"),
                              str(t.extism_wasm), "upper", str(out), *files], cwd)
        cmds["python-tutorial"] = Cmd([sys.executable, str(BENCH / "python_tutorial.py"),
                                       "upper", str(out), *files], cwd)
        cmds["coreutils"] = Cmd(pipeline(
            f'cat -- "$@" | tr a-z A-Z > {shlex.quote(str(out))}', files), cwd,
            note="cat | tr a-z A-Z")
    elif workload == "upper-inplace":
        cmds["native"] = Cmd([str(t.native), "upper-inplace", *files], cwd,
                             note="MAP_SHARED, not atomic")
        cmds["native-fsync"] = Cmd([str(t.native), "upper-inplace", "--fsync", *files], cwd,
                                   note="msync + fsync per file, not atomic")
        cmds["mmhost"] = Cmd([str(t.mmhost), "run", "-q", "-i",
                              str(p / "upper.wasm"), *files], cwd,
                             note="atomic: new versions, fsync, rename")
        cmds["mmhost-1"] = Cmd([str(t.mmhost), "run", "-q", "-j", "1", "-i",
                                str(p / "upper.wasm"), *files], cwd)
        cmds["mmhost-go-1"] = Cmd([str(t.mmhost), "run", "-q", "-j", "1", "-i",
                                   str(p / "go" / "upper.wasm"), *files], cwd)
        cmds["wasmtime-cli"] = "n/a: a stdin/stdout filter cannot write files in place"
        cmds["extism"] = "n/a: the plugin gets bytes and returns bytes"
        cmds["python-tutorial"] = Cmd([sys.executable, str(BENCH / "python_tutorial.py"),
                                       "upper-inplace", *files], cwd)
        cmds["coreutils"] = "n/a: tr has no in-place mode"
    elif workload == "count":
        cmds["native"] = Cmd([str(t.native), "count", PATTERN, *files], cwd)
        cmds["mmhost"] = Cmd([str(t.mmhost), "run", "-q", str(p / "count.wasm"),
                              *files, "--", PATTERN], cwd)
        cmds["mmhost-1"] = Cmd([str(t.mmhost), "run", "-q", "-j", "1", str(p / "count.wasm"),
                                *files, "--", PATTERN], cwd)
        cmds["mmhost-go-1"] = Cmd([str(t.mmhost), "run", "-q", "-j", "1",
                                   str(p / "go" / "count.wasm"), *files, "--", PATTERN], cwd)
        if t.wasmtime:
            cmds["wasmtime-cli"] = Cmd(pipeline(
                f'cat -- "$@" | {shlex.quote(t.wasmtime)} run {shlex.quote(str(t.wasi_filter))} '
                f'count {PATTERN}', files), cwd)
        cmds["extism"] = Cmd([t.extism_python, str(BENCH / "extism_host.py"),
                              str(t.extism_wasm), "count", PATTERN, *files], cwd)
        cmds["python-tutorial"] = Cmd([sys.executable, str(BENCH / "python_tutorial.py"),
                                       "count", PATTERN, *files], cwd)
        cmds["coreutils"] = Cmd(pipeline(
            f'cat -- "$@" | grep -oF {PATTERN} | wc -l', files), cwd,
            note="cat | grep -oF | wc -l")
    for c in CONTENDERS:
        if c in t.missing and c in cmds:
            cmds[c] = f"missing: {t.missing[c]}"
    return cmds


# --------------------------------------------------------------------------
# Measuring a set of contenders


class Result:
    def __init__(self, name, label, note=""):
        self.name, self.label, self.note = name, label, note
        self.runs = []
        self.status = "ok"  # or "n/a: ..", "missing: ..", "WRONG: ..", "FAILED: .."

    @property
    def ok(self):
        return self.status == "ok" and self.runs

    def med(self, attr="wall"):
        return statistics.median(getattr(r, attr) for r in self.runs)

    def to_json(self):
        d = {"name": self.name, "label": self.label, "note": self.note, "status": self.status}
        if self.ok:
            d.update({
                "walls": [round(r.wall, 4) for r in self.runs],
                "median": round(self.med(), 4),
                "user": round(self.med("user"), 4), "sys": round(self.med("sys"), 4),
                "minflt": int(self.med("minflt")), "maxrss": int(self.med("maxrss")),
            })
        return d


def describe_failure(r):
    tail = (r.stderr.decode(errors="replace").strip().splitlines() or [""])[-1][:200]
    return f"FAILED: exit {r.code}: {tail}"


# Data sets whose page cache settle() may drop to make room (set by Bench).
EVICTABLE = []
FREE_WANTED = 3 * GiB


def mem_free():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemFree:"):
                return int(line.split()[1]) * 1024
    return 0


def settle(out=None):
    """Before every run: removes the previous output and writes all dirty
    pages back, so that no run pays for the one before it (freeing a
    replaced 1 GiB output, or dirty-page throttling behind its writeback);
    and if less than 3 GiB of memory is free, drops the page cache of this
    benchmark's data sets that the current workload does not read, so that
    every run can allocate its output's pages without direct reclaim (which
    otherwise adds seconds of system time to whichever run comes first
    after read-only ones)."""
    if out is not None:
        try:
            os.unlink(out)
        except FileNotFoundError:
            pass
    os.sync()
    if mem_free() >= FREE_WANTED:
        return
    for d in EVICTABLE:
        for entry in os.scandir(d):
            if mem_free() >= FREE_WANTED:
                return
            if entry.is_file(follow_symlinks=False):
                try:
                    fd = os.open(entry.path, os.O_RDONLY)
                except OSError:
                    continue
                try:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                finally:
                    os.close(fd)


def measure(cmds, reps, check, before_check=None, before_run=None):
    """Checks each contender once (the check run also warms the page cache),
    then times `reps` runs of each, round-robin. `check(name, run)` returns
    None or what is wrong; `before_run()` (untimed) precedes every run."""
    results = {}
    order = []
    for name in CONTENDERS + [n for n in cmds if n not in CONTENDERS]:
        if name not in cmds:
            continue
        c = cmds[name]
        res = Result(name, LABELS.get(name, name), "" if isinstance(c, str) else c.note)
        results[name] = res
        if isinstance(c, str):
            res.status = c
            continue
        if before_check:
            before_check(name)
        try:
            if before_run:
                before_run()
            r = run(c.argv, c.cwd, c.env)
            if r.code != 0:
                res.status = describe_failure(r)
                continue
            wrong = check(name, r)
        except OSError as e:
            # A missing working or output directory, program or output file:
            # the contender's failure, reported as such, never a crash.
            res.status = f"FAILED: {e}"
            continue
        if wrong:
            res.status = f"WRONG: {wrong}"
            continue
        order.append(name)
    for _ in range(reps):
        for name in order:
            c = cmds[name]
            if not results[name].status == "ok":
                continue
            try:
                if before_run:
                    before_run()
                r = run(c.argv, c.cwd, c.env)
            except OSError as e:
                results[name].status = f"FAILED: {e}"
                continue
            if r.code != 0:
                results[name].status = describe_failure(r)
                continue
            results[name].runs.append(r)
    return results


def table(title, results, nbytes=None, baseline="native", extra_cols=()):
    """A markdown table: median, spread, throughput, ratio, CPU, faults, RSS."""
    base = results.get(baseline)
    base_med = base.med() if base is not None and base.ok else None
    base_cpu = (statistics.median(r.user + r.sys for r in base.runs)
                if base_med else None)
    lines = [f"#### {title}", ""]
    head = ["contender", "median s", "min–max s"]
    if nbytes:
        head.append("MiB/s")
    head += [f"× {baseline}", "CPU s", f"CPU × {baseline}", "user s", "sys s", "minor faults", "max RSS MiB"]
    head += [c[0] for c in extra_cols]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for res in results.values():
        label = (res.label + (f" ({res.note})" if res.note else "")).replace("|", "\\|")
        if not res.ok:
            status = res.status.replace("|", "\\|")
            lines.append(f"| {label} | {status} |" + " |" * (len(head) - 2))
            continue
        m = res.med()
        walls = [r.wall for r in res.runs]
        row = [label, f"{m:.3f}", f"{min(walls):.3f}–{max(walls):.3f}"]
        if nbytes:
            row.append(f"{nbytes / MiB / m:.0f}")
        row.append(f"{m / base_med:.2f}" if base_med else "–")
        cpu = statistics.median(r.user + r.sys for r in res.runs)
        row.append(f"{cpu:.3f}")
        row.append(f"{cpu / base_cpu:.2f}" if base_cpu else "–")
        row += [f"{res.med('user'):.3f}", f"{res.med('sys'):.3f}",
                f"{int(res.med('minflt'))}", f"{res.med('maxrss') / MiB:.0f}"]
        row += [fn(res) for _, fn in extra_cols]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# The workloads


class Bench:
    def __init__(self, args, tools, data):
        self.args, self.tools, self.data = args, tools, data
        self.out_dir = data.root / "out"
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.report = []  # markdown pieces, printed as they come
        self.json = {"workloads": {}}
        self.targets = []  # (target, measured, verdict)
        self.wrong = []

    def emit(self, md):
        self.report.append(md)
        print(md, flush=True)

    def record(self, key, results, **extra):
        self.json["workloads"][key] = {
            "load": load(), "results": [r.to_json() for r in results.values()], **extra}
        for r in results.values():
            if r.status.startswith("WRONG"):
                self.wrong.append(f"{key}: {r.name}: {r.status}")

    def ratio(self, results, a, b):
        ra, rb = results.get(a), results.get(b)
        if ra is None or rb is None or not ra.ok or not rb.ok:
            return None
        return ra.med() / rb.med()

    # -- upper-out, upper-inplace, count over the three data sets

    def use(self, names):
        """Only the data sets `names` are read now: settle() may drop the
        page cache of the others."""
        global EVICTABLE
        root = self.data.root
        dirs = [p for p in root.iterdir() if p.is_dir() and p.name not in names and p.name != "work"]
        if (root / "work").is_dir():
            dirs += [p for p in (root / "work").iterdir() if p.is_dir() and p.name not in names]
        # the biggest first
        order = {"sparse100k": 0, "rss": 1, "100k": 2}
        EVICTABLE = sorted(dirs, key=lambda p: order.get(p.name, 3))

    def data_workload(self, workload):
        reps = self.args.reps
        for ds in DATASETS:
            self.data.ensure(ds)
            self.use([ds])
            files = self.data.files(ds)
            total = self.data.total(ds)
            exp = self.data.expected(ds)
            out = self.out_dir / "out.bin"
            if workload == "upper-inplace":
                work = self.data.root / "work" / ds
                cmds = commands(self.tools, workload, files, work, out)

                def reset(_name, ds=ds):
                    self.data.reset_copy(ds)

                def check(_name, _r, ds=ds, work=work, files=files):
                    got = sha256_files(work / f for f in files)
                    return None if got == exp["upper_sha256"] else f"sha256 {got[:12]}…"
                results = measure(cmds, reps, check, before_check=reset, before_run=settle)
                note = ("In place: each contender's check run starts from a fresh copy; "
                        "the timed runs then re-uppercase already uppercased files (the same work: "
                        "every byte is read, transformed and written).")
            else:
                cmds = commands(self.tools, workload, files, self.data.dir(ds), out)

                def check(_name, r, out=out):
                    if workload == "count":
                        got = r.stdout.decode(errors="replace").strip()
                        return None if got == str(exp["count"]) else f"printed {got[:40]!r}, expected {exp['count']}"
                    got = sha256_files([out])
                    return None if got == exp["upper_sha256"] else f"output sha256 {got[:12]}…"
                results = measure(cmds, reps, check, before_run=lambda out=out: settle(out))
                note = ""
            la = load()
            title = (f"{workload}, {ds}: {len(files)} files, {human(total)} "
                     f"(reps {reps}, load {la[0]:.1f} {la[1]:.1f} {la[2]:.1f})")
            md = table(title, results, nbytes=total)
            if note:
                md += "\n" + note + "\n"
            self.emit(md)
            self.record(f"{workload}/{ds}", results, bytes=total, files=len(files))
            self.check_targets(workload, ds, results, f"{human(total)} in {len(files)} files")

    def check_targets(self, workload, ds, results, what_data):
        r = self.ratio(results, "mmhost", "native")
        r1 = self.ratio(results, "mmhost-1", "native")
        if workload == "upper-out" and ds == "8x128M" and r1 is not None:
            self.targets.append((f"upper -o, {what_data}: mmhost (one instance) ≤ 2.0× native",
                                 f"{r1:.2f}×", r1 <= 2.0))
        if workload == "upper-out" and ds == "8x128M" and r is not None:
            self.targets.append((f"upper -o, {what_data}: mmhost (--jobs = cores) ≤ 1.1× native",
                                 f"{r:.2f}×", r <= 1.1))
            rf = self.ratio(results, "mmhost", "native-fsync")
            if rf is not None:
                self.targets.append((f"(not a target) upper -o, {what_data}: mmhost (--jobs = cores) "
                                     f"vs native + fsync, the same durability", f"{rf:.2f}×", None))
        if workload == "upper-inplace" and ds == "8x128M" and r1 is not None:
            self.targets.append((f"upper -i, {what_data}: mmhost (one instance) ≤ 2.0× native",
                                 f"{r1:.2f}×", r1 <= 2.0))
        if workload == "count" and ds == "8x128M" and r is not None:
            self.targets.append((f"count, {what_data}: mmhost ≤ 1.5× native", f"{r:.2f}×", r <= 1.5))
        # The Go plugins against the Rust ones, both with one instance.
        g = self.ratio(results, "mmhost-go-1", "mmhost-1")
        if g is not None and ds == "8x128M" and workload in ("upper-out", "upper-inplace", "count"):
            bound = 2.0 if workload == "count" else 1.5
            self.targets.append((f"{workload}, {what_data}: Go plugin ≤ {bound}× the Rust plugin "
                                 f"(--jobs 1)", f"{g:.2f}×", g <= bound))
        if workload in ("upper-out", "count") and ds == "8x128M":
            for other in ("wasmtime-cli", "extism"):
                s = self.ratio(results, other, "mmhost")
                what = f"{workload}, {what_data}: mmhost ≥ 3× faster than {other}"
                if s is None:
                    st = results.get(other)
                    self.targets.append((what, st.status if st else "not run", None))
                else:
                    self.targets.append((what, f"{s:.2f}× faster", s >= 3.0))
        if workload == "upper-out" and ds == "10k-small" and r is not None:
            self.targets.append((f"upper -o, small files ({what_data}): mmhost ≤ 2× native",
                                 f"{r:.2f}×", r <= 2.0))
        if workload == "upper-inplace" and ds == "10k-small" and r is not None:
            self.targets.append((f"upper -i, small files ({what_data}): mmhost ≤ 2× native",
                                 f"{r:.2f}×", r <= 2.0))

    # -- start-up over 1 KiB

    def startup(self):
        self.data.ensure("one1k")
        self.use(["one1k"])
        d = self.data.dir("one1k")
        files = self.data.files("one1k")
        exp = self.data.expected("one1k")
        reps = max(3, self.args.reps * 3)
        t = self.tools
        cache = self.data.root / "cache"
        warm_mmhost = cache / "mmhost-warm"
        warm_wasmtime = cache / "wasmtime-warm"
        warm_extism = cache / "extism-warm"
        fresh = cache / "fresh"

        def cache_config(dirpath):
            dirpath.mkdir(parents=True, exist_ok=True)
            f = dirpath.parent / (dirpath.name + ".toml")
            f.write_text(f'[cache]\ndirectory = "{dirpath}"\n')
            return f

        cmds = {}
        cmds["native"] = Cmd([str(t.native), "count", PATTERN, *files], d)
        mm = [str(t.mmhost), "run", "-q", str(t.plugins / "count.wasm"), *files, "--", PATTERN]
        cmds["mmhost first run"] = Cmd(mm, d, {"MMHOST_CACHE_DIR": str(fresh / "mmhost")},
                                       note="empty compilation cache")
        cmds["mmhost cached"] = Cmd(mm, d, {"MMHOST_CACHE_DIR": str(warm_mmhost)})
        if t.wasmtime:
            w = [t.wasmtime, "run"]
            cmds["wasmtime-cli first run"] = Cmd(
                [*w, "-C", f"cache-config={cache_config(fresh / 'wasmtime')}",
                 str(t.wasi_filter), "count", PATTERN], d, note="empty cache; stdin from the file")
            cmds["wasmtime-cli cached"] = Cmd(
                [*w, "-C", f"cache-config={cache_config(warm_wasmtime)}",
                 str(t.wasi_filter), "count", PATTERN], d, note="stdin from the file")
        else:
            cmds["wasmtime-cli"] = f"missing: {t.missing.get('wasmtime-cli')}"
        if "extism" in t.missing:
            cmds["extism"] = f"missing: {t.missing['extism']}"
        else:
            ex = [t.extism_python, str(BENCH / "extism_host.py"), str(t.extism_wasm),
                  "count", PATTERN, *files]
            cmds["extism first run"] = Cmd(ex, d, {"EXTISM_CACHE_CONFIG": str(cache_config(fresh / "extism"))},
                                           note="empty cache")
            cmds["extism cached"] = Cmd(ex, d, {"EXTISM_CACHE_CONFIG": str(cache_config(warm_extism))})
        cmds["python-tutorial"] = Cmd([sys.executable, str(BENCH / "python_tutorial.py"),
                                       "count", PATTERN, *files], d)
        cmds["coreutils"] = Cmd(pipeline(f'cat -- "$@" | grep -oF {PATTERN} | wc -l', files), d,
                                note="cat | grep -oF | wc -l")

        # "first run" commands get an empty cache directory every run; the
        # wasmtime CLI reads the file on stdin
        def run_cmd(name, c):
            if str(fresh) in " ".join(c.argv) + json.dumps(c.env or {}):
                shutil.rmtree(fresh, ignore_errors=True)
                (fresh / "wasmtime").mkdir(parents=True, exist_ok=True)
                (fresh / "extism").mkdir(parents=True, exist_ok=True)
                if "wasmtime" in name:
                    cache_config(fresh / "wasmtime")
                if "extism" in name:
                    cache_config(fresh / "extism")
            stdin = d / files[0] if name.startswith("wasmtime") else None
            return run(c.argv, c.cwd, c.env, stdin=stdin)

        results = {}
        order = []
        for name, c in cmds.items():
            base = name.split()[0]
            res = Result(name, LABELS.get(base, base) + name[len(base):],
                         "" if isinstance(c, str) else c.note)
            results[name] = res
            if isinstance(c, str):
                res.status = c
                continue
            r = run_cmd(name, c)  # check run; warms the warm caches
            if r.code != 0:
                res.status = describe_failure(r)
                continue
            got = r.stdout.decode(errors="replace").strip()
            if got != str(exp["count"]):
                res.status = f"WRONG: printed {got[:40]!r}, expected {exp['count']}"
                continue
            order.append(name)
        for _ in range(reps):
            for name in order:
                r = run_cmd(name, cmds[name])
                if r.code != 0:
                    results[name].status = describe_failure(r)
                else:
                    results[name].runs.append(r)
        sizes = {"count.wasm (mmhost component)": (t.plugins / "count.wasm").stat().st_size}
        if t.wasi_filter.exists():
            sizes["bench-wasi-filter.wasm (WASI P2 component)"] = t.wasi_filter.stat().st_size
        if t.extism_wasm.exists():
            sizes["bench_extism_plugin.wasm"] = t.extism_wasm.stat().st_size
        la = load()
        md = table(f"startup: count over one 1 KiB file (reps {reps}, load {la[0]:.1f} {la[1]:.1f} {la[2]:.1f})",
                   results)
        md += "\nPlugin sizes: " + ", ".join(f"{k} {v / KiB:.0f} KiB" for k, v in sizes.items()) + "\n"
        self.emit(md)
        self.record("startup", results, sizes=sizes)
        r = self.ratio(results, "mmhost cached", "wasmtime-cli cached")
        what = "start-up 1 KiB, cached: mmhost ≤ wasmtime run (WASI program)"
        if r is None:
            st = results.get("wasmtime-cli cached") or results.get("wasmtime-cli")
            self.targets.append((what, st.status if st else "not run", None))
        else:
            self.targets.append((what, f"{r:.2f}× wasmtime's time", r <= 1.0))

    # -- RssAnon of checksum over a big sparse file

    def rss(self):
        self.data.ensure_sparse("rss")
        self.use(["rss"])
        settle()
        d = self.data.dir("rss")
        files = self.data.files("rss")
        total = self.data.total("rss")
        exp = self.data.expected("rss")
        t = self.tools
        want = f"{exp['sha256']} {total}"
        rows = []
        reps = max(1, min(self.args.reps, 3))
        for name, argv in (
            ("mmhost checksum", [str(t.mmhost), "run", "-q", str(t.plugins / "checksum.wasm"), *files]),
            ("native checksum", [str(t.native), "checksum", *files]),
        ):
            runs = []
            status = "ok"
            for _ in range(reps):
                r = run(argv, d, sample_rss=True)
                got = r.stdout.decode(errors="replace").strip()
                if r.code != 0:
                    status = describe_failure(r)
                    break
                if got != want:
                    status = f"WRONG: {got[:40]!r}"
                    self.wrong.append(f"rss: {name}: {status}")
                    break
                runs.append(r)
            rows.append((name, status, runs))
        la = load()
        lines = [f"#### rss: checksum over one sparse file of {human(total)} "
                 f"(reps {reps}, load {la[0]:.1f} {la[1]:.1f} {la[2]:.1f})", "",
                 "| program | median s | max RssAnon MiB (sampled every 2 ms) | each run's max RssAnon MiB | max RSS MiB (wait4, file pages included) |",
                 "|---|---|---|---|---|"]
        js = {}
        for name, status, runs in rows:
            if status != "ok":
                lines.append(f"| {name} | {status} | | | |")
                continue
            wall = statistics.median(r.wall for r in runs)
            anon = max(r.rss_anon for r in runs)
            maxrss = max(r.maxrss for r in runs)
            each = " / ".join(f"{r.rss_anon / MiB:.1f}" for r in runs)
            lines.append(f"| {name} | {wall:.2f} | {anon / MiB:.1f} | {each} | {maxrss / MiB:.0f} |")
            js[name] = {"median": wall, "rss_anon_max": anon, "maxrss": maxrss,
                        "rss_anon_runs": [r.rss_anon for r in runs]}
            if name.startswith("mmhost"):
                self.targets.append((f"memory: checksum over {human(total)} keeps RssAnon < 64 MiB",
                                     f"{anon / MiB:.1f} MiB", anon < 64 * MiB))
        self.emit("\n".join(lines) + "\n")
        self.json["workloads"]["rss"] = {"load": la, "results": js, "bytes": total}

    # -- 100,000 files

    def files100k(self):
        reps = max(1, min(self.args.reps, 3))
        out = []
        for ds in ("100k", "sparse100k"):
            if ds == "100k":
                self.data.ensure(ds)
            else:
                self.data.ensure_sparse(ds)
            self.use([ds])
            files = self.data.files(ds)
            total = self.data.total(ds)
            exp = self.data.expected(ds)
            t = self.tools
            cmds = {
                "native": Cmd([str(t.native), "count", PATTERN, *files], self.data.dir(ds)),
                "mmhost": Cmd([str(t.mmhost), "run", "-q", str(t.plugins / "count.wasm"),
                               *files, "--", PATTERN], self.data.dir(ds)),
                "python-tutorial": Cmd([sys.executable, str(BENCH / "python_tutorial.py"),
                                        "count", PATTERN, *files], self.data.dir(ds)),
            }

            def check(_n, r, exp=exp):
                got = r.stdout.decode(errors="replace").strip()
                return None if got == str(exp["count"]) else f"printed {got[:40]!r}"
            results = measure(cmds, reps, check, before_run=settle)
            la = load()
            what = ("files of 1 B to ~16 KiB (packed by mmhost)" if ds == "100k"
                    else "sparse files of 65 KiB + 1 (mapped one by one by mmhost)")
            md = table(f"files100k, {ds}: count over {len(files)} {what}, {human(total)} "
                       f"(run from the data directory with short names; reps {reps}, "
                       f"load {la[0]:.1f} {la[1]:.1f} {la[2]:.1f})", results, nbytes=total)
            self.emit(md)
            self.record(f"files100k/{ds}", results, bytes=total, files=len(files))
            m = results["mmhost"]
            verdict = m.ok
            self.targets.append((f"{len(files)} files ({ds}): no mapping-count failure",
                                 "ok" if verdict else m.status, verdict))
            if m.ok:
                r = self.ratio(results, "mmhost", "native")
                out.append(r)

    # -- host-call round trips

    def hostcall(self):
        """One region read or write round trip per size, measured from
        outside: the bench plugin makes N calls of LEN bytes; the time per
        call is (t(N2) - t(N1)) / (N2 - N1), medians of reps, so start-up,
        compilation and commit cancel out."""
        t = self.tools
        if not t.bench_plugin.exists():
            self.emit("#### hostcall\n\nmissing: bench/mmhost-plugin not built\n")
            return
        size = self.data.p["hostcall_region"]
        d = self.data.root / "hostcall"
        f = d / "region.bin"
        if not f.exists() or f.stat().st_size != size:
            d.mkdir(parents=True, exist_ok=True)
            f.write_bytes(text_block(size, 3))
        self.use(["hostcall"])
        scale = self.data.p["hostcall_scale"]
        reps = max(3, self.args.reps) if scale >= 0.1 else 1
        rows = []
        js = []
        lengths = (64, 256, KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB)
        if scale < 0.1:  # the smoke run: only keep it working
            lengths = (64, 64 * KiB, 4 * MiB)
        for length in lengths:
            # enough calls for ~0.3 s of work at full scale, at least 200
            n2 = max(50, int(min(200_000, (2 * GiB) // length) * scale))
            n1 = max(5, n2 // 10)
            row = {"len": length}
            for op in ("read", "write"):
                extra = ["-o", str(d / "out.bin")] if op == "write" else []

                def timed(n):
                    argv = [str(t.mmhost), "run", "-q", *extra, str(t.bench_plugin), str(f),
                            "--", op, str(length), str(n)]
                    walls = []
                    for _ in range(reps):
                        settle(d / "out.bin")
                        r = run(argv, d)
                        if r.code != 0:
                            raise RuntimeError(describe_failure(r))
                        walls.append(r.wall)
                    return statistics.median(walls)
                try:
                    t1, t2 = timed(n1), timed(n2)
                    per = max(0.0, (t2 - t1) / (n2 - n1))
                    row[op] = per
                except RuntimeError as e:
                    row[op] = None
                    row[op + "_error"] = str(e)
            js.append(row)
            rows.append(row)
        # the probe plugin, as the test suite drives it: `read AT LEN` (which
        # also hex-encodes and emits what it read) and `fill AT LEN BYTE`
        probe = t.plugins / "probe.wasm"
        probe_rows = []
        if probe.exists():
            for length in (64, 4 * KiB):
                n2 = max(100, int(5000 * scale))
                n1 = n2 // 10
                row = {"len": length}
                for op in ("read", "fill"):
                    extra = ["-o", str(d / "out.bin")] if op == "fill" else []

                    def ops(n):
                        a = []
                        for i in range(n):
                            at = str((i * length) % (size - length))
                            a += [op, at, str(length)] + (["78"] if op == "fill" else [])
                        return a

                    def timed(n):
                        argv = [str(t.mmhost), "run", "-q", *extra, str(probe), str(f), "--", *ops(n)]
                        walls = []
                        for _ in range(reps):
                            r = run(argv, d)
                            if r.code != 0:
                                raise RuntimeError(describe_failure(r))
                            walls.append(r.wall)
                        return statistics.median(walls)
                    try:
                        row[op] = max(0.0, (timed(n2) - timed(n1)) / (n2 - n1))
                    except RuntimeError as e:
                        row[op] = None
                        row[op + "_error"] = str(e)
                probe_rows.append(row)
        la = load()

        def fmt(per, length):
            if per is None:
                return "failed"
            if per <= 0:
                return "below noise"
            gbs = length / per / 1e9 if per > 0 else float("inf")
            return f"{per * 1e6:.2f} µs ({gbs:.2f} GB/s)"
        lines = [f"#### hostcall: one region call per size (bench plugin; reps {reps}, "
                 f"load {la[0]:.1f} {la[1]:.1f} {la[2]:.1f})", "",
                 "| size | read (host copy + lowering into wasm) | write (lifting + copy into the mapping) |",
                 "|---|---|---|"]
        for row in rows:
            lines.append(f"| {human(row['len'])} | {fmt(row.get('read'), row['len'])} | "
                         f"{fmt(row.get('write'), row['len'])} |")
        if probe_rows:
            lines += ["", "The same through the `probe` test plugin (`read AT LEN` also hex-encodes "
                      "and emits what it read; `fill` allocates and fills a buffer first):", "",
                      "| size | probe read | probe fill |", "|---|---|---|"]
            for row in probe_rows:
                lines.append(f"| {human(row['len'])} | {fmt(row.get('read'), row['len'])} | "
                             f"{fmt(row.get('fill'), row['len'])} |")
        self.emit("\n".join(lines) + "\n")
        self.json["workloads"]["hostcall"] = {"load": la, "bench": js, "probe": probe_rows}

    # -- chunk size

    def chunk(self):
        t = self.tools
        if not t.bench_plugin.exists():
            self.emit("#### chunk\n\nmissing: bench/mmhost-plugin not built\n")
            return
        ds = "8x128M"
        self.data.ensure(ds)
        self.use([ds])
        files = self.data.files(ds)
        total = self.data.total(ds)
        exp = self.data.expected(ds)
        out = self.out_dir / "out.bin"
        cwd = self.data.dir(ds)
        cmds = {}
        for chunk in self.data.p["chunks"]:
            cmds[f"upper -o, chunk {human(chunk)}"] = Cmd(
                [str(t.mmhost), "run", "-q", "-o", str(out), str(t.bench_plugin), *files,
                 "--", "upper", str(chunk)], cwd)
        for chunk in self.data.p["chunks"]:
            cmds[f"count, chunk {human(chunk)}"] = Cmd(
                [str(t.mmhost), "run", "-q", str(t.bench_plugin), *files,
                 "--", "count", str(chunk), PATTERN], cwd)
        for chunk in self.data.p["chunks"]:
            cmds[f"read only (touch), chunk {human(chunk)}"] = Cmd(
                [str(t.mmhost), "run", "-q", str(t.bench_plugin), *files,
                 "--", "touch", str(chunk)], cwd)

        def check(name, r):
            if name.startswith("upper"):
                got = sha256_files([out])
                return None if got == exp["upper_sha256"] else "output differs"
            if name.startswith("count"):
                got = r.stdout.decode().strip()
                return None if got == str(exp["count"]) else f"printed {got!r}"
            return None
        results = measure(cmds, self.args.reps, check, before_run=lambda: settle(out))
        la = load()
        md = table(f"chunk: the bench plugin (reference kernels) with a chosen chunk size, {ds}, "
                   f"{human(total)} (reps {self.args.reps}, load {la[0]:.1f} {la[1]:.1f} {la[2]:.1f})",
                   results, nbytes=total, baseline="-")
        self.emit(md)
        self.record("chunk", results, bytes=total)

    # -- where the time goes

    def profile(self):
        """Variants that split mmhost's time: native with the same durability
        work, strace -c of mmhost upper -o, and madvise choices natively."""
        t = self.tools
        ds = "8x128M"
        self.data.ensure(ds)
        self.use([ds])
        files = self.data.files(ds)
        total = self.data.total(ds)
        exp = self.data.expected(ds)
        out = self.out_dir / "out.bin"
        cwd = self.data.dir(ds)
        n = str(t.native)
        cmds = {
            "native upper-out (write(2) of 1 MiB chunks)": Cmd([n, "upper-out", str(out), *files], cwd),
            "native upper-out --fsync": Cmd([n, "upper-out", "--fsync", str(out), *files], cwd),
            "native upper-out --mmap-out": Cmd([n, "upper-out", "--mmap-out", str(out), *files], cwd),
            "native upper-out --mmap-out --fsync": Cmd([n, "upper-out", "--mmap-out", "--fsync", str(out), *files], cwd),
            "native concat (copy_file_range)": Cmd([n, "concat", str(out), *files], cwd,
                                                   note="no transform: the floor of -o's staging copy"),
            "native concat --fsync": Cmd([n, "concat", "--fsync", str(out), *files], cwd,
                                         note="copy + fsync: the floor of -o's copy and commit"),
            "mmhost upper -o": Cmd([str(t.mmhost), "run", "-q", "-o", str(out),
                                    str(t.plugins / "upper.wasm"), *files], cwd),
            "mmhost touch (read only, 1 MiB chunks)": Cmd(
                [str(t.mmhost), "run", "-q", str(t.bench_plugin), *files, "--", "touch", str(MiB)], cwd),
            "native touch (one byte per page)": Cmd([n, "touch", *files], cwd),
            "native count": Cmd([n, "count", PATTERN, *files], cwd),
            "native count, madvise none": Cmd([n, "count", PATTERN, *files], cwd, {"BENCH_ADVISE": "none"}),
            "native count, madvise willneed": Cmd([n, "count", PATTERN, *files], cwd, {"BENCH_ADVISE": "willneed"}),
            "native count, madvise hugepage": Cmd([n, "count", PATTERN, *files], cwd, {"BENCH_ADVISE": "hugepage"}),
            "mmhost count": Cmd([str(t.mmhost), "run", "-q", str(t.plugins / "count.wasm"), *files, "--", PATTERN], cwd),
        }

        def check(name, r):
            if "upper" in name:
                got = sha256_files([out])
                return None if got == exp["upper_sha256"] else "output differs"
            if "count" in name:
                got = r.stdout.decode().strip()
                return None if got == str(exp["count"]) else f"printed {got!r}"
            return None
        results = measure(cmds, self.args.reps, check, before_run=lambda: settle(out))
        la = load()
        md = table(f"profile: where the time goes, {ds}, {human(total)} (reps {self.args.reps}, "
                   f"load {la[0]:.1f} {la[1]:.1f} {la[2]:.1f})", results, nbytes=total, baseline="-")
        self.emit(md)
        self.record("profile", results, bytes=total)
        # syscall time of one mmhost upper -o
        if shutil.which("strace"):
            r = run(["strace", "-f", "-c", "-w", "-o", str(self.out_dir / "strace.txt"),
                     str(t.mmhost), "run", "-q", "-o", str(out), str(t.plugins / "upper.wasm"), *files], cwd)
            if r.code == 0:
                text = (self.out_dir / "strace.txt").read_text()
                top = [l for l in text.splitlines()[2:12] if l.strip() and not l.startswith("-")]
                self.emit("strace -f -c -w of one `mmhost run -o out upper.wasm` (wall time per "
                          f"syscall, process wall {r.wall:.2f} s under strace):\n\n```\n"
                          + "\n".join(text.splitlines()[:2] + top) + "\n```\n")
                self.json["workloads"]["profile"]["strace"] = text
        if shutil.which("perf"):
            r = run(["perf", "stat", "-x,", "-e", "task-clock,page-faults,minor-faults,major-faults,"
                     "context-switches,cpu-migrations",
                     str(t.mmhost), "run", "-q", "-o", str(out), str(t.plugins / "upper.wasm"), *files], cwd)
            if r.code == 0:
                stat = r.stderr.decode(errors="replace").strip()
                self.emit("perf stat of one `mmhost run -o out upper.wasm` (software events; this VM has "
                          "no hardware counters):\n\n```\n" + stat + "\n```\n")


# --------------------------------------------------------------------------


def machine():
    mem = "?"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / (1 << 20):.1f} GiB"
    except OSError:
        pass
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory": mem,
            "kernel": platform.release(), "python": platform.python_version(),
            "load": load()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=list(SIZES), default="full")
    ap.add_argument("--reps", type=int, default=5, help="timed runs per contender (default 5)")
    ap.add_argument("--only", default="", help="comma-separated workloads: " + ", ".join(WORKLOADS))
    ap.add_argument("--skip", default="", help="comma-separated workloads to leave out")
    ap.add_argument("--contenders", default="", help="comma-separated subset of: " + ", ".join(CONTENDERS))
    ap.add_argument("--data-dir", default=str(TARGET / "bench-data"))
    ap.add_argument("--no-build", action="store_true", help="use what is built")
    ap.add_argument("--install", action="store_true",
                    help="first install the contenders (cargo install wasmtime-cli, pip install extism)")
    ap.add_argument("--json", help="also write the results as JSON to this file")
    ap.add_argument("--prepare", action="store_true",
                    help="only build and generate the data of the chosen workloads")
    ap.add_argument("--strict", action="store_true", help="exit 1 if a contender gives a wrong answer")
    args = ap.parse_args()
    only = [w for w in args.only.split(",") if w] or list(WORKLOADS)
    skip = [w for w in args.skip.split(",") if w]
    for w in only + skip:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w}")
    workloads = [w for w in WORKLOADS if w in only and w not in skip]

    if args.install:
        install(args)
    started = time.time()
    m = machine()
    tools = Tools()
    tools.build(args)
    if args.contenders:
        keep = set(args.contenders.split(","))
        for c in CONTENDERS:
            if c not in keep and c != "native":
                tools.missing[c] = "left out (--contenders)"
    data = Data(args.data_dir, args.size, SIZES[args.size])
    bench = Bench(args, tools, data)
    git = sh(["git", "rev-parse", "--short", "HEAD"], quiet=True).stdout.strip()
    head = [f"## mmhost benchmark: size {args.size}, reps {args.reps}",
            "",
            f"machine: {m['nproc']} cores ({m['cpu']}), {m['memory']}, Linux {m['kernel']}, "
            f"Python {m['python']}; load at start {m['load'][0]:.2f} {m['load'][1]:.2f} {m['load'][2]:.2f}; "
            f"mmhost at {git}",
            "",
            "command: `python3 scripts/bench.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]) + "`",
            ""]
    for c in CONTENDERS:
        if c in tools.missing:
            head.append(f"missing: {c} ({tools.missing[c]})")
    bench.emit("\n".join(head) + "\n")
    bench.json["machine"] = m
    bench.json["missing"] = tools.missing
    bench.json["args"] = vars(args)
    if args.prepare:
        needs = {"upper-out": DATASETS, "upper-inplace": DATASETS, "count": DATASETS,
                 "startup": ["one1k"], "files100k": ["100k"], "chunk": ["8x128M"],
                 "profile": ["8x128M"]}
        for w in workloads:
            for ds in needs.get(w, []):
                data.ensure(ds)
            if w == "rss":
                data.ensure_sparse("rss")
            if w == "files100k":
                data.ensure_sparse("sparse100k")
        return 0
    for w in workloads:
        log(f"== {w} (at {time.time() - started:.0f} s)")
        if w in ("upper-out", "upper-inplace", "count"):
            bench.data_workload(w)
        else:
            getattr(bench, w)()
    # targets
    if bench.targets:
        lines = ["#### targets (ratios of medians in this run)", "",
                 "| target | measured | verdict |", "|---|---|---|"]
        for what, got, ok in bench.targets:
            if ok is None and what.startswith("(not a target)"):
                verdict = "for reference"
            else:
                verdict = "met" if ok else ("not met" if ok is False else "not measured")
            lines.append(f"| {what} | {got} | {verdict} |")
        bench.emit("\n".join(lines) + "\n")
    la = load()
    bench.emit(f"finished in {time.time() - started:.0f} s; load at end {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}\n")
    if args.json:
        bench.json["targets"] = bench.targets
        Path(args.json).write_text(json.dumps(bench.json, indent=1, default=str))
    if bench.wrong:
        log("wrong answers:\n  " + "\n  ".join(bench.wrong))
        if args.strict:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
