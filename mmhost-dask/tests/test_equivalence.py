"""`mmhost-dask run` equals `mmhost run -j 1`, byte for byte, on a real cluster.

For every file set and several chunk sizes (with batches of chunks per
task for the small ones), each mode runs twice over identical copies of
the files: once with `mmhost run -j 1`, once through the cluster. Exit
code, stdout, stderr and every file must be equal, and both must equal an
independent computation in Python (`bytes.count`, `hashlib.sha256`,
`bytes.upper`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import pytest

import filesets
from filesets import PATTERN

# (chunk size, chunks per task): None is the driver's default size.
CHUNKINGS = [("4K", 50), ("64K", 1), ("1M", 2), (None, 1)]


def _chunk_flags(chunk, batch) -> list[str]:
    flags = ["--batch", str(batch), "--no-progress"]
    if chunk is not None:
        flags += ["--chunk-size", chunk]
    return flags


def _same(serial, dask, a: Path, b: Path) -> None:
    """Same exit code, stdout and stderr (paths under the two copies made equal)."""
    assert dask.returncode == serial.returncode, dask.stderr.decode(errors="replace")
    assert dask.stdout == serial.stdout
    assert dask.stderr.decode().replace(str(b), "DIR") == serial.stderr.decode().replace(
        str(a), "DIR"
    )


def _setup(tmp_path: Path, set_name: str):
    files = filesets.SETS[set_name]()
    a, b = tmp_path / "serial", tmp_path / "dask"
    names = filesets.write(a, files)
    filesets.write(b, files)
    whole = b"".join(d for _, d in files)
    return files, names, a, b, whole


@pytest.mark.parametrize("chunk,batch", CHUNKINGS, ids=lambda v: str(v))
@pytest.mark.parametrize("set_name", sorted(filesets.SETS))
def test_read_only_plugins(run, plugin, tmp_path, set_name, chunk, batch):
    files, names, a, b, whole = _setup(tmp_path, set_name)
    for name, args, want in [
        ("count", ["--", PATTERN.decode()], f"{whole.count(PATTERN)}\n"),
        ("checksum", [], f"{hashlib.sha256(whole).hexdigest()} {len(whole)}\n"),
    ]:
        serial = run.host(["run", "-j", "1", plugin(name), *names, *args], cwd=a)
        dask = run.dask([*_chunk_flags(chunk, batch), plugin(name), *names, *args], cwd=b)
        _same(serial, dask, a, b)
        assert dask.stdout.decode() == want
        assert dask.returncode == 0
    # nothing left behind: no stage directory, no plan
    assert filesets.snapshot(b) == dict(files)


@pytest.mark.parametrize("chunk,batch", CHUNKINGS, ids=lambda v: str(v))
@pytest.mark.parametrize("set_name", sorted(filesets.SETS))
def test_upper_writes(run, plugin, tmp_path, set_name, chunk, batch):
    files, names, a, b, whole = _setup(tmp_path, set_name)
    upper = plugin("upper")

    # -o FILE
    serial = run.host(["run", "-j", "1", "-o", "out.txt", upper, *names], cwd=a)
    dask = run.dask([*_chunk_flags(chunk, batch), "-o", "out.txt", upper, *names], cwd=b)
    _same(serial, dask, a, b)
    assert serial.returncode == 0
    assert (b / "out.txt").read_bytes() == whole.upper()
    assert filesets.snapshot(b) == filesets.snapshot(a)

    # --output-dir DIR
    serial = run.host(["run", "-j", "1", "--output-dir", "od", upper, *names], cwd=a)
    dask = run.dask([*_chunk_flags(chunk, batch), "--output-dir", "od", upper, *names], cwd=b)
    _same(serial, dask, a, b)
    assert serial.returncode == 0
    for name, data in files:
        assert (b / "od" / name).read_bytes() == data.upper()
    assert filesets.snapshot(b) == filesets.snapshot(a)

    # -i
    serial = run.host(["run", "-j", "1", "-i", upper, *names], cwd=a)
    dask = run.dask([*_chunk_flags(chunk, batch), "-i", upper, *names], cwd=b)
    _same(serial, dask, a, b)
    assert serial.returncode == 0
    for name, data in files:
        assert (b / name).read_bytes() == data.upper()
    assert filesets.snapshot(b) == filesets.snapshot(a)


def test_report_json(run, plugin, tmp_path):
    files, names, a, b, whole = _setup(tmp_path, "mixed")
    dask = run.dask(
        [
            "--no-progress",
            "--chunk-size",
            "1M",
            "--report",
            "json",
            "-o",
            "out.txt",
            plugin("upper"),
            *names,
        ],
        cwd=b,
    )
    assert dask.returncode == 0, dask.stderr
    serial = run.host(
        ["run", "-j", "1", "--report", "json", "-o", "out.txt", plugin("upper"), *names], cwd=a
    )
    rep = json.loads(dask.stderr.decode().splitlines()[-1])
    want = json.loads(serial.stderr.decode().splitlines()[-1])
    assert set(want) <= set(rep)
    assert rep["ok"] is True and rep["exit_code"] == 0 and rep["error"] is None
    assert rep["size"] == len(whole) == want["size"]
    assert rep["bytes_written"] == want["bytes_written"] == len(whole)
    assert rep["write"] == want["write"]
    chunks = rep["chunks"]
    assert [c["index"] for c in chunks] == list(range(len(chunks)))
    assert chunks[0]["start"] == 0 and chunks[-1]["end"] == len(whole)
    assert all(x["end"] == y["start"] for x, y in itertools.pairwise(chunks))
    assert sum(c["written"] for c in chunks) == len(whole)
    assert len(chunks) == rep["dask"]["chunk_count"] >= 2


@pytest.mark.parametrize("target", [["-i"], ["-o", "out.txt"], ["--output-dir", "od"]])
def test_upper_dry_run(run, plugin, tmp_path, target):
    """--dry-run: the same report of what would change, and nothing written."""
    files, names, a, b, _whole = _setup(tmp_path, "mixed")
    serial = run.host(["run", "-j", "1", "--dry-run", *target, plugin("upper"), *names], cwd=a)
    dask = run.dask([*_chunk_flags("64K", 4), "--dry-run", *target, plugin("upper"), *names], cwd=b)
    _same(serial, dask, a, b)
    assert serial.returncode == 0
    assert filesets.snapshot(b) == dict(files) == filesets.snapshot(a)
    assert sorted(p.name for p in b.iterdir()) == sorted(p.name for p in a.iterdir())


# What `mmhost run --report json` says that the driver's report must say
# alike (the timings and the driver's own additions aside).
REPORT_FIELDS = ["ok", "exit_code", "error", "write", "dry_run", "size", "bytes_read"]
REPORT_FIELDS += ["bytes_written", "bytes_scanned", "segments", "files_written"]
REPORT_FIELDS += ["dry_run_changes"]
STEP_FIELDS = ["index", "name", "status", "message", "exit_code", "bytes_read", "bytes_written"]
STEP_FIELDS += ["bytes_scanned"]


@pytest.mark.parametrize(
    "plugin_name,target",
    [("checksum", []), ("count", []), ("upper", ["-o", "out.txt"]), ("upper", ["-i"])]
    + [("upper", ["--output-dir", "od"]), ("upper", ["--dry-run", "-i"])],
)
def test_report_fields_equal_mmhost_run(run, plugin, tmp_path, plugin_name, target):
    """Every field of `mmhost run --report json` (timings aside) is the same."""
    files, names, a, b, whole = _setup(tmp_path, "mixed")
    args = ["--report", "json", *target, plugin(plugin_name), *names]
    if plugin_name == "count":  # searches in the host: bytes scanned, none read
        args += ["--", PATTERN.decode()]
    serial = run.host(["run", "-j", "2", "--chunk-size", "1M", *args], cwd=a)
    dask = run.dask(["--no-progress", "--chunk-size", "1M", *args], cwd=b)
    assert serial.returncode == 0 and dask.returncode == 0, dask.stderr
    want = json.loads(serial.stderr.decode().splitlines()[-1])
    rep = json.loads(dask.stderr.decode().splitlines()[-1])
    for field in REPORT_FIELDS:
        got = json.dumps(rep[field]).replace(str(b), "DIR")
        assert got == json.dumps(want[field]).replace(str(a), "DIR"), field
    for field in STEP_FIELDS:
        assert rep["steps"][0][field] == want["steps"][0][field], field
    if plugin_name == "count":
        # the host scanned every byte (and the halos), the plugin read none
        assert rep["bytes_scanned"] >= len(whole) and rep["bytes_read"] == 0
        assert sum(c["scanned"] for c in rep["chunks"]) == rep["bytes_scanned"]
    else:
        # reads were counted (upper and checksum read every byte once)
        assert rep["bytes_read"] == len(whole)
        assert sum(c["read"] for c in rep["chunks"]) == len(whole)


def test_plan_output_is_printed_first_as_mmhost_run_prints_it(run, plugin, tmp_path):
    """Bytes the plugin emits in `plan` come first, as from `mmhost run`."""
    files, names, a, b, _whole = _setup(tmp_path, "mixed")
    args = ["--chunk-size", "256K", plugin("probe"), *names, "--", "chunked", "0"]
    args += ["atplan", "emit", "from-plan;", "atreduce", "emit", "from-reduce;"]
    serial = run.host(["run", "-j", "2", *args], cwd=a)
    dask = run.dask(["--no-progress", *args], cwd=b)
    _same(serial, dask, a, b)
    out = dask.stdout.decode()
    assert out.startswith("from-plan;chunk 0\n") and "from-reduce;chunks " in out, out
