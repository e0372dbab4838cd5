"""Faults on a real cluster: dead workers, killed chunks, changed inputs,
plugin errors, and a coordinator killed in its commit.

The slow chunk is the `probe` plugin's: `chunked HALO ... onchunk 1
readloop N` makes chunk 1 read the whole region N times (a halo of 1 MiB,
the host's limit, over a region of about 1 MiB makes all of it readable),
so the test can find that chunk's
`mmhost run-chunk` process and kill it or its worker. Waiting for that
process has a generous deadline; nothing asserts on time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

import filesets

SIZE = filesets.MIB + 5
HALO = str(filesets.MIB)


def _files(tmp: Path) -> tuple[list[str], bytes]:
    data = filesets.one_big()[0][1][:SIZE]
    files = [("a.bin", data[: SIZE // 3]), ("b.bin", data[SIZE // 3 :])]
    names = filesets.write(tmp, files)
    return names, data


def _find_run_chunk(first: int, deadline: float = 120.0) -> tuple[int, int]:
    """(pid, parent pid) of the `mmhost run-chunk --chunk FIRST-…` process."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            if b"run-chunk" in argv and b"--chunk" in argv:
                spec = argv[argv.index(b"--chunk") + 1].decode()
                if spec.split("-")[0] == str(first):
                    ppid = int(stat.rsplit(")", 1)[1].split()[1])
                    return int(pid), ppid
        time.sleep(0.02)
    raise AssertionError(f"no run-chunk process for chunk {first} appeared")


def _gone(pid: int, deadline: float = 60.0) -> bool:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def _slow_probe_args(rounds: int) -> list[str]:
    # every chunk writes 'A' over itself; chunk 1 also reads the region `rounds` times
    return [
        "--",
        "chunked",
        HALO,
        "fill",
        "@start",
        "@len",
        "41",
        "onchunk",
        "1",
        "readloop",
        str(rounds),
    ]


@pytest.mark.parametrize("victim", ["worker", "run-chunk"])
def test_killed_chunk_reruns_with_the_same_result(run, cluster, plugin, tmp_path, victim):
    names, data = _files(tmp_path / "d")
    reference_dir = tmp_path / "ref"
    filesets.write(reference_dir, [(n, (tmp_path / "d" / n).read_bytes()) for n in names])
    flags = ["--no-progress", "--chunk-size", "256K", "--retries", "2", "-o", "out.bin"]
    args = [*flags, plugin("probe"), *names, *_slow_probe_args(3000)]

    # the same run undisturbed, for reference
    ref = run.dask(args, cwd=reference_dir)
    assert ref.returncode == 0, ref.stderr
    assert (reference_dir / "out.bin").read_bytes() == b"A" * SIZE

    proc = run.dask_popen(args, cwd=tmp_path / "d")
    try:
        pid, worker_pid = _find_run_chunk(1)
        os.kill(worker_pid if victim == "worker" else pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert _gone(pid), "the killed worker's run-chunk process outlived it"
    assert proc.returncode == 0, err.decode(errors="replace")
    assert out == ref.stdout
    assert (tmp_path / "d" / "out.bin").read_bytes() == b"A" * SIZE
    assert filesets.snapshot(tmp_path / "d") == filesets.snapshot(reference_dir)
    if victim == "worker":
        cluster.wait_for_workers(2)  # the nanny restarts it


def test_input_changed_between_plan_and_chunk(run, plugin, tmp_path):
    d = tmp_path / "d"
    names, data = _files(d)
    plan = run.host(["plan", "--chunk-size", "1M", "-i", plugin("upper"), *names], cwd=d)
    assert plan.returncode == 0, plan.stderr
    (d / "plan.json").write_bytes(plan.stdout)
    # same size, other bytes, other mtime: the plan's identity no longer holds
    changed = b"z" * len((d / names[1]).read_bytes())
    (d / names[1]).write_bytes(changed)
    st = os.stat(d / names[1])
    os.utime(d / names[1], ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    dask = run.dask(["--no-progress", "--plan", "plan.json"], cwd=d)
    assert dask.returncode == 3, dask.stderr
    first = dask.stderr.decode().splitlines()[0]
    assert names[1] in first, first
    # nothing committed, nothing staged left
    want = {names[0]: data[: SIZE // 3], names[1]: changed, "plan.json": plan.stdout}
    assert filesets.snapshot(d) == want
    assert sorted(os.listdir(d)) == sorted(want)


@pytest.mark.parametrize("target", [["-i"], ["-o", "out.bin"], ["--output-dir", "od"]])
def test_plugin_err_in_one_chunk_commits_nothing(run, plugin, tmp_path, target):
    d, serial_dir = tmp_path / "d", tmp_path / "serial"
    names, _data = _files(d)
    _files(serial_dir)
    before = filesets.snapshot(d)
    args = [
        "--no-progress",
        "--chunk-size",
        "256K",
        *target,
        plugin("probe"),
        *names,
        "--",
        "chunked",
        "0",
        "fill",
        "@start",
        "@len",
        "41",
        "onchunk",
        "2",
        "fail",
        "boom",
    ]
    dask = run.dask(args, cwd=d)
    assert dask.returncode == 1, dask.stderr
    err = dask.stderr.decode()
    assert "boom" in err.splitlines()[0], err
    assert filesets.snapshot(d) == before
    # what is left is what `mmhost run` leaves (an empty --output-dir it made)
    serial = run.host(["run", "-j", "1", *args[1:]], cwd=serial_dir)
    assert serial.returncode == 1
    assert sorted(os.listdir(d)) == sorted(os.listdir(serial_dir))


def test_plugin_load_error_is_not_retried(run, tmp_path):
    d = tmp_path / "d"
    names, _ = _files(d)
    (d / "bad.wasm").write_bytes(b"not wasm at all")
    dask = run.dask(["--no-progress", "-i", str(d / "bad.wasm"), *names], cwd=d)
    assert dask.returncode == 4, dask.stderr


# The failpoints `mmhost commit` passes (tests/atomic.rs names them): all
# after the commit point ("journal"), since the plan staged and synced
# before. Killed before the commit, a run is tested above (nothing changes).
COMMIT_POINTS = ["journal", "rename:1", "rename:2", "renamed", "cleanup"]
COMMITTED_FROM = COMMIT_POINTS.index("journal")


@pytest.mark.parametrize("point", COMMIT_POINTS)
def test_coordinator_killed_in_commit_then_recover(run, plugin, tmp_path, point):
    d = tmp_path / "d"
    files = filesets.mixed()
    names = filesets.write(d, files)
    old = dict(files)
    new = {n: b.upper() for n, b in files}
    plan = run.host(["plan", "--chunk-size", "64K", "-i", plugin("upper"), *names], cwd=d)
    assert plan.returncode == 0, plan.stderr
    planfile = tmp_path / "plan.json"
    planfile.write_bytes(plan.stdout)
    dask = run.dask(
        ["--no-progress", "--plan", str(planfile)], cwd=d, env_extra={"MMHOST_FAILPOINT": point}
    )
    assert dask.returncode == 6, dask.stderr  # commit killed: I/O class, recover
    rec = run.host(["recover", str(d)], cwd=d)
    assert rec.returncode == 0, rec.stderr
    now = {n: (d / n).read_bytes() for n in names}
    want = new if COMMIT_POINTS.index(point) >= COMMITTED_FROM else old
    assert now == want, f"{point}: files are neither all old nor all new as expected"
    # nothing left: the commit removed the stage directory before its commit point
    assert sorted(os.listdir(d)) == sorted(names), "leftovers after recover"
    # and `abort` afterwards changes nothing (idempotent)
    ab = run.host(["abort", "--plan", str(planfile)], cwd=d)
    assert ab.returncode == 0, ab.stderr
    assert {n: (d / n).read_bytes() for n in names} == want
    assert sorted(os.listdir(d)) == sorted(names)


# Rounds of chunk 1's read loop that would take ~15 minutes: only a kill
# ends it within the tests' deadlines.
NEVER_ENDING = 10_000_000


def _reap(pid: int) -> None:
    """Kills a `run-chunk` process a failed test left running."""
    try:
        if b"run-chunk" in Path(f"/proc/{pid}/cmdline").read_bytes():
            os.kill(pid, signal.SIGKILL)
    except (OSError, ProcessLookupError):
        pass


def _plan_of(pid: int) -> str:
    """The plan file a `run-chunk` process was given (its `--plan`)."""
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    return argv[argv.index(b"--plan") + 1].decode()


def test_driver_killed_during_the_chunks_local_cluster(run, plugin, tmp_path):
    """SIGKILL to `mmhost-dask --local 2` while a chunk runs: its workers and
    their `run-chunk` processes die with it, every input is byte-identical,
    nothing is committed, and `mmhost abort --plan` (or `mmhost recover`)
    leaves nothing staged."""
    d = tmp_path / "d"
    names, data = _files(d)
    before = filesets.snapshot(d)
    cmd = [*run.dask_cmd([])[:4], "--local", "2", "--mmhost", run.mmhost, "--no-progress"]
    cmd += ["--chunk-size", "256K", "-i", plugin("probe"), *names, *_slow_probe_args(NEVER_ENDING)]
    proc = subprocess.Popen(cmd, cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        pid, worker_pid = _find_run_chunk(1)
        plan = tmp_path / "plan.json"
        plan.write_bytes(Path(_plan_of(pid)).read_bytes())
        proc.kill()
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    gone = _gone(worker_pid), _gone(pid)
    _reap(pid)
    assert gone[0], "a LocalCluster worker outlived the killed driver"
    assert gone[1], "a run-chunk process outlived the killed driver"
    assert {n: (d / n).read_bytes() for n in names} == before  # nothing committed
    staged = sorted(set(os.listdir(d)) - set(names))
    assert staged, "a killed writing run leaves its staged copies (until abort)"
    ab = run.host(["abort", "--plan", str(plan)], cwd=d)
    assert ab.returncode == 0, ab.stderr
    assert sorted(os.listdir(d)) == sorted(names)
    assert filesets.snapshot(d) == before


def test_driver_killed_during_the_chunks_external_cluster(run, cluster, plugin, tmp_path):
    """SIGKILL to the driver of a run on a running cluster: the cluster
    drops the run's tasks and kills their `run-chunk` processes (the tasks
    watch their futures), every input is byte-identical, and `mmhost
    recover` on the directory leaves nothing staged."""
    d = tmp_path / "d"
    names, data = _files(d)
    before = filesets.snapshot(d)
    args = ["--no-progress", "--chunk-size", "256K", "-i", plugin("probe"), *names]
    proc = run.dask_popen([*args, *_slow_probe_args(NEVER_ENDING)], cwd=d)
    try:
        pid, _worker_pid = _find_run_chunk(1)
        proc.kill()
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    gone = _gone(pid)
    _reap(pid)
    assert gone, "a run-chunk process outlived its run's driver"
    assert {n: (d / n).read_bytes() for n in names} == before
    rec = run.host(["recover", str(d)], cwd=d)
    assert rec.returncode == 0, rec.stderr
    assert sorted(os.listdir(d)) == sorted(names), "recover left staged files"
    assert filesets.snapshot(d) == before
