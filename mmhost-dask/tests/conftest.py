"""Fixtures: the real mmhost binary and plugins, a real Dask cluster on 127.0.0.1.

The cluster is a `dask scheduler` and two `dask worker` processes (each a
nanny with one worker process, one thread), started once per session and
stopped whatever happens. Nothing is mocked: every test runs the
`mmhost-dask` command against it, over real files in a temporary directory.

A missing binary, plugin or cluster is a failure, never a skip.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PKG_ROOT = Path(__file__).resolve().parents[1]
REPO = PKG_ROOT.parent
MMHOST = Path(os.environ.get("MMHOST_BIN", REPO / "target" / "release" / "mmhost"))
PLUGINS = Path(os.environ.get("MMHOST_PLUGINS", REPO / "target" / "plugins"))


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(PKG_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    env.pop("MMHOST_FAILPOINT", None)
    return env


@pytest.fixture(scope="session")
def mmhost() -> str:
    if not os.access(MMHOST, os.X_OK):
        pytest.fail(f"no mmhost binary at {MMHOST}: run `cargo build --release` first")
    out = subprocess.run([str(MMHOST), "plan", "--help"], capture_output=True)
    if out.returncode != 0:
        pytest.fail(f"{MMHOST} has no `plan` subcommand (issue #12's host side)")
    return str(MMHOST)


@pytest.fixture(scope="session")
def plugin():
    def path(name: str) -> str:
        p = PLUGINS / f"{name}.wasm"
        if not p.is_file():
            pytest.fail(f"no plugin {p}: run `bash scripts/build-plugins.sh` first")
        return str(p)

    return path


class Cluster:
    """A scheduler and two worker processes, by their process ids."""

    def __init__(self, tmp: Path):
        self.scheduler_file = str(tmp / "scheduler.json")
        self.procs: list[subprocess.Popen] = []
        self.logs = tmp

    def start(self) -> None:
        env = _env()
        self.procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "distributed.cli.dask_scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--no-dashboard",
                    "--scheduler-file",
                    self.scheduler_file,
                ],
                stdout=open(self.logs / "scheduler.log", "wb"),
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        )
        deadline = time.monotonic() + 60
        while not os.path.exists(self.scheduler_file):
            if self.procs[0].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the Dask scheduler did not start: " + self.log("scheduler"))
            time.sleep(0.1)
        for i in range(2):
            self.procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "distributed.cli.dask_worker",
                        "--scheduler-file",
                        self.scheduler_file,
                        "--host",
                        "127.0.0.1",
                        "--nworkers",
                        "1",
                        "--nthreads",
                        "1",
                        "--no-dashboard",
                        "--memory-limit",
                        "0",
                        "--name",
                        f"w{i}",
                    ],
                    stdout=open(self.logs / f"worker{i}.log", "wb"),
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                )
            )
        self.wait_for_workers(2)

    def client(self):
        from distributed import Client

        return Client(scheduler_file=self.scheduler_file, timeout="30s")

    def wait_for_workers(self, n: int) -> None:
        with self.client() as c:
            c.wait_for_workers(n, timeout=120)

    def log(self, name: str) -> str:
        try:
            return (self.logs / f"{name}.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def stop(self) -> None:
        for p in reversed(self.procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in reversed(self.procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        c.start()
        yield c
    finally:
        c.stop()


class Runner:
    """Runs `mmhost run` and `mmhost-dask run` the same way, in a directory."""

    def __init__(self, mmhost: str, cluster: Cluster):
        self.mmhost = mmhost
        self.cluster = cluster

    def host(self, args: list[str], cwd, env=None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.mmhost, *args], cwd=cwd, capture_output=True, env=env or _env(), timeout=600
        )

    def dask_cmd(self, args: list[str]) -> list[str]:
        return [
            sys.executable,
            "-m",
            "mmhost_dask",
            "run",
            "--scheduler-file",
            self.cluster.scheduler_file,
            "--mmhost",
            self.mmhost,
            *args,
        ]

    def dask(self, args: list[str], cwd, env_extra=None) -> subprocess.CompletedProcess:
        env = _env()
        env.update(env_extra or {})
        return subprocess.run(
            self.dask_cmd(args), cwd=cwd, capture_output=True, env=env, timeout=600
        )

    def dask_popen(self, args: list[str], cwd) -> subprocess.Popen:
        return subprocess.Popen(
            self.dask_cmd(args),
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_env(),
        )


@pytest.fixture(scope="session")
def run(mmhost, cluster) -> Runner:
    return Runner(mmhost, cluster)
