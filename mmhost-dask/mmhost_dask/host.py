"""The driver's calls of the `mmhost` binary: `plan`, `reduce`, `commit`, `abort`.

This module owns the command lines of the host subcommands (issue #12's
protocol) and what their exit codes mean to a driver. Every call runs the
real binary; nothing here parses `mmhost`'s messages: outcomes are exit
codes and the plan's JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field

# Exit codes of mmhost (README, "Exit codes").
OK = 0
PLUGIN_ERR = 1
USAGE = 2
INPUT = 3
PLUGIN_LOAD = 4
TRAP = 5
IO = 6


@dataclass
class PlanRequest:
    """What `mmhost plan` is asked to plan: the flags of `mmhost run`."""

    plugin: str | None
    files: list[str]
    plugin_args: list[str] = field(default_factory=list)
    in_place: bool = False
    output: str | None = None
    output_dir: str | None = None
    dry_run: bool = False
    chunk_size: str | None = None
    block_size: str | None = None
    max_memory: str | None = None
    timeout: str | None = None
    fuel: str | None = None
    job: str | None = None
    stage_dir: str | None = None

    def argv(self, mmhost: str) -> list[str]:
        """The command line; the plan comes out on stdout."""
        cmd = [mmhost, "plan"]
        if self.in_place:
            cmd.append("--in-place")
        if self.output is not None:
            cmd += ["--output", self.output]
        if self.output_dir is not None:
            cmd += ["--output-dir", self.output_dir]
        if self.dry_run:
            cmd.append("--dry-run")
        for flag, value in [
            ("--chunk-size", self.chunk_size),
            ("--block-size", self.block_size),
            ("--max-memory", self.max_memory),
            ("--timeout", self.timeout),
            ("--fuel", self.fuel),
            ("--job", self.job),
            ("--stage-dir", self.stage_dir),
        ]:
            if value is not None:
                cmd += [flag, str(value)]
        if self.plugin is not None:
            cmd.append(self.plugin)
        cmd += self.files
        if self.plugin_args:
            cmd += ["--", *self.plugin_args]
        return cmd


@dataclass
class Plan:
    """A plan document (version 1) and the file it is in."""

    path: str
    text: bytes
    doc: dict

    @classmethod
    def load(cls, path: str) -> Plan:
        with open(path, "rb") as f:
            text = f.read()
        return cls(os.path.abspath(path), text, json.loads(text))

    @property
    def run_id(self) -> str:
        return self.doc["run_id"]

    @property
    def chunks(self) -> list[dict]:
        return self.doc["chunks"]

    @property
    def writes(self) -> bool:
        return self.doc["target"]["kind"] != "read-only"


def plan(mmhost: str, request: PlanRequest, out: str) -> int:
    """Runs `mmhost plan`, writing the plan to `out`.

    Its stderr (a "planned run" line) is shown only when it fails, so that a
    run's stderr is what `mmhost run` prints.
    """
    return plan_wait(plan_start(mmhost, request, out))


def plan_start(mmhost: str, request: PlanRequest, out: str) -> subprocess.Popen:
    """Starts `mmhost plan` writing to `out` (see `plan`); `plan_wait` ends it."""
    with open(out, "wb") as f:
        return subprocess.Popen(
            request.argv(mmhost), stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.PIPE
        )


def plan_wait(proc: subprocess.Popen) -> int:
    """Waits for a `plan_start`ed plan; shows its stderr if it failed."""
    _, err = proc.communicate()
    if proc.returncode != 0:
        sys.stderr.buffer.write(err)
        sys.stderr.flush()
    return proc.returncode


def reduce(mmhost: str, plan: Plan, results: str) -> int:
    """Runs `mmhost reduce`: emitted bytes and the ok text go to our stdout."""
    cmd = [mmhost, "reduce", "--plan", plan.path, results]
    return subprocess.run(cmd, stdin=subprocess.DEVNULL).returncode


def commit(mmhost: str, plan: Plan, results: str, summary: str | None = None) -> int:
    """Runs `mmhost commit`: its "wrote N bytes" line goes to our stderr;
    with `summary`, what it did (JSON) goes to that file."""
    cmd = [mmhost, "commit", "--plan", plan.path, "--results", results]
    if summary is not None:
        cmd += ["--summary", summary]
    return subprocess.run(cmd, stdin=subprocess.DEVNULL).returncode


def abort(mmhost: str, plan: Plan) -> int:
    """Runs `mmhost abort`: removes everything the plan staged."""
    r = subprocess.run(
        [mmhost, "abort", "--plan", plan.path], stdin=subprocess.DEVNULL, capture_output=True
    )
    if r.returncode != 0:
        sys.stderr.buffer.write(r.stderr)
        sys.stderr.flush()
    return r.returncode


def version(mmhost: str) -> str:
    """`mmhost --version`'s number, or "" when it cannot be run."""
    try:
        out = subprocess.run([mmhost, "--version"], capture_output=True, text=True).stdout
    except OSError:
        return ""
    parts = out.split()
    return parts[-1] if parts else ""
