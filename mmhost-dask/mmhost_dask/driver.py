"""A distributed run: plan on the driver, chunks on the cluster, reduce and commit.

This module owns the order of a run and what happens when part of it fails:

1. `mmhost plan` on the driver (it stages the new versions and the intent log
   of a writing run, exactly as `mmhost run` would);
2. one Dask task per batch of chunks (`mmhost run-chunk --chunk I-J`), sent
   with `client.map(..., retries=N, pure=False)`. A task killed by a signal or
   failing with exit 6 is retried (`tasks.RetryableChunkError`); a task whose
   worker dies is rerun by the scheduler; a chunk failing with exit 1-5 fails
   the run at once: the other tasks are cancelled, their processes killed on
   every worker, `mmhost abort` removes what was staged, and the driver exits
   with that chunk's code after its message;
3. `mmhost reduce` on the driver with every chunk's line (stdout: what
   `mmhost run` prints), then `mmhost commit` for a writing run, or
   `mmhost abort` to drop the staged output files of a read-only run.

The cluster is either an existing scheduler (`--scheduler`,
`--scheduler-file`) or a `LocalCluster` that lives as long as the run. The
local cluster's workers are threads of the driver's process (`processes=
False`): the work of a task is its `mmhost run-chunk` process, so a thread
per worker loses no parallelism, and the cluster starts in a fraction of the
time worker processes take (each would import Dask again: BENCHMARKS.md).
When the chunk size does not depend on the cluster (given, or `--local N`),
`mmhost plan` runs while the cluster starts.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field

from . import host, tasks
from .progress import Bar

MIB = 1 << 20
# Chunk size bounds for the default (see `default_chunk_size`).
MIN_DEFAULT_CHUNK = 64 * MIB
MAX_DEFAULT_CHUNK = 1024 * MIB
# Chunks per worker the default aims at: enough to even out uneven chunks,
# few enough that the per-task overhead stays small.
CHUNKS_PER_WORKER = 2


class DriverError(Exception):
    """A failure of the run, with the exit code it ends with."""

    def __init__(self, code: int, message: str, detail: str = ""):
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.detail = detail


@dataclass
class Options:
    """`mmhost-dask run`'s command line."""

    request: host.PlanRequest
    mmhost: str = "mmhost"
    plan_file: str | None = None
    scheduler: str | None = None
    scheduler_file: str | None = None
    local: int | None = None
    retries: int = 2
    batch: int = 1
    progress: bool | None = None
    report: bool = False
    report_file: str | None = None
    connect_timeout: float = 30.0


@dataclass
class Outcome:
    """What a run did, for the report."""

    exit_code: int = 0
    error: str | None = None
    chunk_lines: list[dict] = field(default_factory=list)
    tasks: int = 0
    workers: int = 0
    retried: int = 0
    plan: host.Plan | None = None
    reduced: bool = False
    # `reduce.json` of the stage directory: the ok text, bytes read and
    # written by the plugin's `reduce`, the inputs it wrote.
    reduce_record: dict = field(default_factory=dict)
    # `mmhost commit --summary`: the files written, a dry run's changes.
    commit_summary: dict = field(default_factory=dict)
    committed: bool = False
    time_ms: float = 0.0
    phases_ms: dict = field(default_factory=dict)


def default_chunk_size(total: int, workers: int) -> int:
    """The chunk size when none is given: about `CHUNKS_PER_WORKER` chunks
    per worker, between 64 MiB and 1 GiB, a multiple of 4 MiB.

    A Dask task around `run-chunk` costs about 10-20 ms (BENCHMARKS.md), so
    chunks much smaller than 64 MiB spend a visible share of their time on
    overhead; a few chunks per worker keep every worker busy to the end.
    """
    want = math.ceil(total / max(1, workers * CHUNKS_PER_WORKER))
    want = min(max(want, MIN_DEFAULT_CHUNK), MAX_DEFAULT_CHUNK)
    return (want + 4 * MIB - 1) // (4 * MIB) * (4 * MIB)


def batches(count: int, per_task: int) -> list[tuple[int, int]]:
    """Chunk indices 0..count-1 in runs of `per_task`, as (first, last)."""
    return [(i, min(i + per_task, count) - 1) for i in range(0, count, per_task)]


class _Cluster:
    """The client, and the `LocalCluster` when this run started one."""

    def __init__(self, opts: Options):
        from distributed import Client, LocalCluster

        self.cluster = None
        try:
            if opts.scheduler is not None:
                self.client = Client(opts.scheduler, timeout=opts.connect_timeout)
            elif opts.scheduler_file is not None:
                self.client = Client(
                    scheduler_file=opts.scheduler_file, timeout=opts.connect_timeout
                )
            else:
                self.cluster = LocalCluster(
                    n_workers=_local_workers(opts),
                    threads_per_worker=1,
                    processes=False,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                    memory_limit=0,
                )
                self.client = Client(self.cluster)
            self.client.wait_for_workers(1, timeout=max(60.0, opts.connect_timeout))
        except (OSError, TimeoutError) as e:
            self.close()
            where = opts.scheduler or opts.scheduler_file or "a local cluster"
            raise DriverError(host.IO, f"cannot reach the Dask scheduler ({where}): {e}") from e

    @property
    def workers(self) -> int:
        return len(self.client.scheduler_info()["workers"])

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
        if self.cluster is not None:
            self.cluster.close()


def _local_workers(opts: Options) -> int:
    """The number of workers of the local cluster (`--local N`, else the cores)."""
    return opts.local or os.cpu_count() or 1


def _start_plan(opts: Options, workdir: str, workers: int):
    """Starts `mmhost plan` (the default chunk size for `workers` workers);
    returns (process, plan path)."""
    request = opts.request
    if request.chunk_size is None:
        total = _total_input_size(request)
        if total is not None:
            request.chunk_size = str(default_chunk_size(total, workers))
    path = os.path.join(workdir, "plan.json")
    return host.plan_start(opts.mmhost, request, path), path


def _total_input_size(request: host.PlanRequest) -> int | None:
    if request.job is not None and not request.files:
        return None
    total = 0
    for f in request.files:
        if f == "-":
            return None
        try:
            total += os.path.getsize(f)
        except OSError:
            return None  # `mmhost plan` names the file
    return total


def _fail_fast(cluster: _Cluster, futures, run_id: str) -> None:
    """Cancels every task of the run and kills its processes on every worker."""
    cluster.client.cancel(futures)
    try:
        cluster.client.run(tasks.kill_run, run_id)
    except Exception:  # noqa: BLE001 - a dead worker has nothing left to kill
        pass


def _run_chunks(cluster: _Cluster, opts: Options, plan: host.Plan, out: Outcome) -> list[dict]:
    """Runs every chunk; returns their lines in chunk order, or raises DriverError."""
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    chunks = plan.chunks
    work = batches(len(chunks), max(1, opts.batch))
    out.tasks = len(work)
    plan_future = cluster.client.scatter(plan.text, broadcast=True, hash=False)
    futures = cluster.client.map(
        tasks.run_chunks,
        [opts.mmhost] * len(work),
        [plan_future] * len(work),
        [plan.run_id] * len(work),
        [a for a, _ in work],
        [b for _, b in work],
        key=[f"mmhost-run-chunk-{plan.run_id}-{a}-{b}" for a, b in work],
        retries=opts.retries,
        pure=False,
    )
    bar = Bar(len(chunks), int(plan.doc["region_size"]), opts.progress)
    lines: dict[int, dict] = {}
    try:
        for fut in as_completed(futures):
            if fut.status == "error":
                exc = fut.exception()
                if isinstance(exc, tasks.RetryableChunkError):
                    raise DriverError(
                        host.IO,
                        f"{exc} (after {opts.retries} retries)",
                        exc.stderr,
                    )
                if isinstance(exc, KilledWorker):
                    raise DriverError(
                        host.IO,
                        f"{exc.task}: the workers running it died "
                        f"too often (distributed.scheduler.allowed-failures)",
                    )
                raise DriverError(host.IO, f"a task failed: {exc!r}")
            if fut.status != "finished":
                continue
            result: tasks.ChunkResult = fut.result()
            if result.returncode != 0:
                raise DriverError(
                    result.returncode,
                    "",
                    result.stderr + f"mmhost-dask: chunks {result.first}-{result.last} failed on "
                    f"{result.worker} (exit {result.returncode}); the run was aborted\n",
                )
            done_bytes = 0
            for text in result.lines:
                line = json.loads(text)
                lines[int(line["chunk"])] = line
            for i in range(result.first, result.last + 1):
                done_bytes += chunks[i]["end"] - chunks[i]["start"]
            bar.advance(result.last - result.first + 1, done_bytes)
    except BaseException:
        # fail fast: a deterministic failure, exhausted retries or Ctrl-C
        _fail_fast(cluster, futures, plan.run_id)
        raise
    finally:
        bar.close()
    missing = [i for i in range(len(chunks)) if i not in lines]
    if missing:
        raise DriverError(host.IO, f"run-chunk gave no line for chunks {missing[:10]}")
    return [lines[i] for i in range(len(chunks))]


def _reduce_record(plan: host.Plan) -> dict:
    """The record `mmhost reduce` left in the stage directory ({} if none)."""
    path = os.path.join(plan.doc["stage_dir"], "reduce.json")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def run(opts: Options) -> Outcome:
    """Carries out a distributed run; the returned outcome has the exit code."""
    started = time.perf_counter()
    out = Outcome()
    workdir = tempfile.mkdtemp(prefix="mmhost-dask-")
    cluster: _Cluster | None = None
    plan: host.Plan | None = None
    committing = False
    pending = None
    try:
        t = time.perf_counter()
        local = opts.scheduler is None and opts.scheduler_file is None
        if opts.plan_file is None and (local or opts.request.chunk_size is not None):
            # the plan does not depend on the cluster: made while it starts
            pending = _start_plan(opts, workdir, _local_workers(opts))
        try:
            cluster = _Cluster(opts)
        except BaseException:
            if pending is not None and host.plan_wait(pending[0]) == 0:
                host.abort(opts.mmhost, host.Plan.load(pending[1]))
            raise
        out.workers = cluster.workers
        out.phases_ms["cluster"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        if opts.plan_file is not None:
            plan = host.Plan.load(opts.plan_file)
        else:
            if pending is None:
                pending = _start_plan(opts, workdir, out.workers)
            code = host.plan_wait(pending[0])
            path = pending[1]
            if code != 0:
                out.exit_code = code
                out.error = "mmhost plan failed"
                return out
            plan = host.Plan.load(path)
        out.plan = plan
        out.phases_ms["plan"] = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        out.chunk_lines = _run_chunks(cluster, opts, plan, out)
        out.phases_ms["chunks"] = (time.perf_counter() - t) * 1000
        results = os.path.join(workdir, "results.jsonl")
        with open(results, "w") as f:
            for line in out.chunk_lines:
                f.write(json.dumps(line, separators=(",", ":")) + "\n")

        t = time.perf_counter()
        code = host.reduce(opts.mmhost, plan, results)
        out.phases_ms["reduce"] = (time.perf_counter() - t) * 1000
        if code != 0:
            host.abort(opts.mmhost, plan)
            out.exit_code = code
            out.error = "mmhost reduce failed"
            return out
        out.reduced = True
        out.reduce_record = _reduce_record(plan)
        t = time.perf_counter()
        if plan.writes:
            committing = True
            summary = os.path.join(workdir, "commit.json")
            code = host.commit(opts.mmhost, plan, results, summary)
            if code < 0:
                sys.stderr.write(
                    f"mmhost commit was killed by signal {-code}; "
                    "`mmhost recover` on the files' directories finishes or undoes it\n"
                )
                code = host.IO
            if code != 0:
                out.exit_code = code
                out.error = "mmhost commit failed"
                return out
            out.committed = True
            try:
                with open(summary) as f:
                    out.commit_summary = json.load(f)
            except (OSError, ValueError):
                pass
        else:
            host.abort(opts.mmhost, plan)
        out.phases_ms["commit"] = (time.perf_counter() - t) * 1000
        return out
    except DriverError as e:
        if plan is not None and not committing:
            host.abort(opts.mmhost, plan)
        if e.detail:
            sys.stderr.write(e.detail if e.detail.endswith("\n") else e.detail + "\n")
        if e.message:
            sys.stderr.write(f"mmhost-dask: error: {e.message}\n")
        out.exit_code = e.code
        out.error = (
            (e.message or e.detail).strip().splitlines()[0] if (e.message or e.detail) else None
        )
        return out
    except KeyboardInterrupt:
        if plan is not None and not committing:
            host.abort(opts.mmhost, plan)
        sys.stderr.write("mmhost-dask: interrupted; nothing was committed\n")
        out.exit_code = 130
        out.error = "interrupted"
        return out
    finally:
        if cluster is not None:
            if plan is not None:
                try:
                    cluster.client.run(tasks.forget_run, plan.run_id)
                except Exception:  # noqa: BLE001 - best effort on a cluster going away
                    pass
            cluster.close()
        shutil.rmtree(workdir, ignore_errors=True)
        out.time_ms = (time.perf_counter() - started) * 1000


def install_sigterm() -> None:
    """SIGTERM stops the run as Ctrl-C does (abort before the commit)."""

    def handler(_sig, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)
