"""The command line and the driver's own decisions, without a cluster.

Usage errors exit 2 with one line naming what is wrong; a scheduler that
cannot be reached exits 6 (retryable); the default chunk size and the
batches of chunks cover the region exactly.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import _env
from mmhost_dask import driver

MIB = 1 << 20


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mmhost_dask", *args],
        capture_output=True,
        env=_env(),
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "args,what",
    [
        (["frob"], "the only command is `run`"),
        (["run", "p.wasm"], "give a PLUGIN and at least one FILE"),
        (["run", "-i", "-o", "x", "p.wasm", "a"], "not allowed with argument"),
        (["run", "--batch", "0", "p.wasm", "a"], "--batch must be at least 1"),
        (["run", "--plan", "p.json", "p.wasm"], "--plan takes no PLUGIN"),
        (["run", "--job", "j.json", "--", "x"], "plugin arguments belong in the job file"),
    ],
)
def test_usage_errors_exit_2(args, what):
    r = _run(args)
    assert r.returncode == 2
    assert what in r.stderr.decode().strip().splitlines()[-1]


def test_unreachable_scheduler_exits_6(tmp_path):
    (tmp_path / "a").write_bytes(b"x")
    r = _run(["run", "--connect-timeout", "1", "--scheduler", "tcp://127.0.0.1:9", "p.wasm", "a"])
    assert r.returncode == 6
    lines = r.stderr.decode().strip().splitlines()
    assert lines[0].startswith("mmhost-dask: error: cannot reach the Dask scheduler"), lines
    assert "tcp://127.0.0.1:9" in lines[0]


@pytest.mark.parametrize("total", [0, 1, 63 * MIB, 700 * MIB, 10 << 40])
@pytest.mark.parametrize("workers", [1, 2, 7, 640])
def test_default_chunk_size(total, workers):
    size = driver.default_chunk_size(total, workers)
    assert driver.MIN_DEFAULT_CHUNK <= size <= driver.MAX_DEFAULT_CHUNK
    assert size % (4 * MIB) == 0
    chunks = -(-total // size)
    if driver.MIN_DEFAULT_CHUNK < size < driver.MAX_DEFAULT_CHUNK:
        # about CHUNKS_PER_WORKER chunks for each worker
        assert chunks <= workers * driver.CHUNKS_PER_WORKER


@pytest.mark.parametrize("count", [1, 2, 7, 100])
@pytest.mark.parametrize("per_task", [1, 3, 100, 1000])
def test_batches_cover_every_chunk_once(count, per_task):
    b = driver.batches(count, per_task)
    covered = [i for first, last in b for i in range(first, last + 1)]
    assert covered == list(range(count))
    assert all(last - first + 1 <= per_task for first, last in b)
