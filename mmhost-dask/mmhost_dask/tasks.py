"""What runs on a Dask worker: one `mmhost run-chunk` process per task.

This module owns the worker side of a distributed run. A task runs chunks
I..J of a plan in one `mmhost run-chunk` process and hands back its exit
code, its JSON lines and its stderr. It is imported by reference on the
workers, so every worker needs `mmhost-dask` installed (as it needs the
`mmhost` binary, the plugin and the inputs at the same paths).

Failures are split the way the protocol says:

- killed by a signal, or exit 6 (I/O): *retryable*. The task raises
  `RetryableChunkError`, and Dask reruns it (`retries=`). A chunk is
  idempotent, so a rerun writes and returns the same bytes.
- exit 1-5 (plugin `err`, usage, input changed, plugin load, trap or limit):
  *deterministic*. The task returns the failure as a value (no exception,
  hence no retry) and the driver fails the run fast.

A worker that dies while it runs a task takes the `mmhost` process with it
(`PR_SET_PDEATHSIG`), and the scheduler reruns the task on another worker.
The signal is asked for through util-linux's `setpriv --pdeathsig KILL`
when it is installed: a `preexec_fn` makes Python fork the whole worker
instead of using vfork, which costs ~100 ms per task with a worker-sized
heap (measured: /bin/true from a 300 MB process, 2 ms with vfork, 6 ms
through setpriv, 99 ms with preexec_fn).
The driver can stop every process of a run on every worker (`kill_run`) when
it fails fast, before it removes the staged files.

A driver that dies (SIGKILL, a lost connection) cannot do that. Its
`LocalCluster` dies with it (Dask's worker processes exit when their nanny's
process is gone, and their `run-chunk` processes with them), but a running
cluster carries on: the scheduler releases the dead client's tasks, and a
worker marks a task it is running `cancelled`, yet lets it run to its end.
So each task watches its own state while `run-chunk` runs (`_still_wanted`,
twice a second) and kills the process once the task is no longer wanted.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field

# Exit codes a driver may retry (besides death by a signal).
RETRYABLE_CODES = frozenset({6})


class RetryableChunkError(Exception):
    """`run-chunk` was killed by a signal or failed with exit 6 (I/O)."""

    def __init__(self, first: int, last: int, returncode: int, stderr: str, worker: str):
        super().__init__(first, last, returncode, stderr, worker)
        self.first = first
        self.last = last
        self.returncode = returncode
        self.stderr = stderr
        self.worker = worker

    def __str__(self) -> str:
        what = (
            f"killed by signal {-self.returncode}"
            if self.returncode < 0
            else f"exit {self.returncode}"
        )
        detail = self.stderr.strip().splitlines()
        return f"chunks {self.first}-{self.last} on {self.worker}: {what}" + (
            f": {detail[0]}" if detail else ""
        )


@dataclass
class ChunkResult:
    """What one task's `run-chunk` process did."""

    first: int
    last: int
    returncode: int
    lines: list[str] = field(default_factory=list)
    stderr: str = ""
    worker: str = ""
    ms: float = 0.0


@dataclass
class _Registry:
    """The `run-chunk` processes of this worker process, by run id."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    procs: dict[str, set[subprocess.Popen]] = field(default_factory=dict)
    cancelled: set[str] = field(default_factory=set)


_REGISTRY = _Registry()


def _pdeathsig():
    """A `preexec_fn` that has the child killed when its parent dies."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        prctl = ctypes.CDLL(name, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)

    return preexec


_SETPRIV = shutil.which("setpriv")
_PREEXEC = None if _SETPRIV else _pdeathsig()


def _spawn_argv(cmd: list[str]) -> list[str]:
    """`cmd`, run under `setpriv --pdeathsig KILL` when setpriv exists."""
    return [_SETPRIV, "--pdeathsig", "KILL", *cmd] if _SETPRIV else cmd


def plan_path(plan_text: bytes, run_id: str) -> str:
    """The plan written to this machine's temporary directory, once per run.

    Workers need no shared location for the plan itself: each writes the
    copy it was sent (atomically) and `run-chunk` reads that.
    """
    path = os.path.join(tempfile.gettempdir(), f"mmhost-dask-plan-{run_id}.json")
    try:
        with open(path, "rb") as f:
            if f.read() == plan_text:
                return path
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(prefix=f".mmhost-dask-plan-{run_id}.", dir=os.path.dirname(path))
    with os.fdopen(fd, "wb") as f:
        f.write(plan_text)
    os.replace(tmp, path)
    return path


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except ValueError:
        return f"pid {os.getpid()}"


# How often a task checks that it is still wanted while `run-chunk` runs.
WATCH_SECONDS = 0.5


def _still_wanted():
    """A function telling whether the task running on this thread is still
    wanted by the scheduler (not cancelled, released or forgotten), or None
    outside a Dask worker."""
    try:
        from distributed import get_worker
        from distributed.worker import thread_state

        worker, key = get_worker(), thread_state.key
    except (ImportError, ValueError, AttributeError):
        return None

    def wanted() -> bool:
        ts = worker.state.tasks.get(key)
        return ts is not None and ts.state not in ("cancelled", "released", "forgotten")

    return wanted


def _watch(proc: subprocess.Popen, wanted) -> threading.Thread:
    """Kills `proc` once `wanted()` turns false (the task was dropped)."""

    def loop() -> None:
        while True:
            try:
                proc.wait(timeout=WATCH_SECONDS)
                return
            except subprocess.TimeoutExpired:
                pass
            try:
                keep = wanted()
            except Exception:  # noqa: BLE001 - a worker shutting down: keep going
                keep = True
            if not keep:
                try:
                    proc.kill()
                except ProcessLookupError:
                    pass
                return

    t = threading.Thread(target=loop, name="mmhost-run-chunk-watch", daemon=True)
    t.start()
    return t


def run_chunks(mmhost: str, plan_text: bytes, run_id: str, first: int, last: int) -> ChunkResult:
    """Runs `mmhost run-chunk --chunk FIRST-LAST` and returns what it did.

    Raises `RetryableChunkError` for a failure worth retrying.
    """
    worker = _worker_name()
    path = plan_path(plan_text, run_id)
    cmd = [mmhost, "run-chunk", "--plan", path, "--chunk", f"{first}-{last}"]
    started = time.perf_counter()
    with _REGISTRY.lock:
        if run_id in _REGISTRY.cancelled:
            return ChunkResult(first, last, -signal.SIGKILL, [], "cancelled", worker)
        proc = subprocess.Popen(
            _spawn_argv(cmd),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=_PREEXEC,
        )
        _REGISTRY.procs.setdefault(run_id, set()).add(proc)
    wanted = _still_wanted()
    if wanted is not None:
        _watch(proc, wanted)
    try:
        out, err = proc.communicate()
    finally:
        with _REGISTRY.lock:
            _REGISTRY.procs.get(run_id, set()).discard(proc)
    ms = (time.perf_counter() - started) * 1000.0
    stderr = err.decode("utf-8", "replace")
    rc = proc.returncode
    if rc < 0 or rc in RETRYABLE_CODES:
        raise RetryableChunkError(first, last, rc, stderr, worker)
    lines = [line for line in out.decode("utf-8", "replace").splitlines() if line.strip()]
    return ChunkResult(first, last, rc, lines, stderr, worker, ms)


def kill_run(run_id: str) -> int:
    """Kills this worker's `run-chunk` processes of a run and refuses new ones.

    Called on every worker by the driver (`client.run`) when it fails fast.
    Returns how many processes it killed.
    """
    with _REGISTRY.lock:
        _REGISTRY.cancelled.add(run_id)
        procs = list(_REGISTRY.procs.pop(run_id, set()))
    for proc in procs:
        try:
            proc.kill()
        except ProcessLookupError:
            pass
    for proc in procs:
        proc.wait()
    return len(procs)


def forget_run(run_id: str) -> None:
    """Removes this machine's copy of a run's plan (called on every worker)."""
    path = os.path.join(tempfile.gettempdir(), f"mmhost-dask-plan-{run_id}.json")
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
