"""`mmhost-dask run`: the command line, and the report of a run.

Parses the flags (those of `mmhost run` that a plan takes, plus the
cluster's), hands them to `driver.run`, and prints the `--report json`
summary: the fields of `mmhost run --report json` plus the chunks.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import __version__, driver, host


def _parser() -> argparse.ArgumentParser:
    r = argparse.ArgumentParser(
        prog="mmhost-dask run",
        usage="mmhost-dask run [OPTIONS] PLUGIN FILE... [-- PLUGIN_ARG...]\n"
        "       mmhost-dask run [OPTIONS] --job JOB_FILE [FILE...]\n"
        "       mmhost-dask run [OPTIONS] --plan PLAN",
        description="Plans on this machine (mmhost plan), runs one Dask task per chunk "
        "or batch of chunks (mmhost run-chunk), then reduces and commits here. "
        "Prints what `mmhost run` prints.",
    )
    w = r.add_mutually_exclusive_group()
    w.add_argument("-i", "--in-place", action="store_true", help="replace the input files")
    w.add_argument("-o", "--output", metavar="FILE", help="write the result to FILE")
    w.add_argument("--output-dir", metavar="DIR", help="write each input, transformed, to DIR")
    r.add_argument(
        "--dry-run", action="store_true", help="commit nothing, report what would change"
    )
    r.add_argument(
        "--chunk-size",
        metavar="SIZE",
        help="chunk size (default: about 2 chunks per worker, 64M to 1G)",
    )
    r.add_argument("--block-size", metavar="SIZE", help="write chunks start on SIZE blocks (4K)")
    r.add_argument("--max-memory", metavar="SIZE", help="plugin memory cap per instance")
    r.add_argument("--timeout", metavar="DURATION", help="time limit of each run-chunk")
    r.add_argument("--fuel", metavar="N", help="fuel limit of each instance")
    r.add_argument("--job", metavar="JOB_FILE", help="a job file (one step)")
    r.add_argument(
        "--stage-dir",
        metavar="DIR",
        help="where chunks put their output files; on a file system every worker mounts",
    )
    r.add_argument("--plan", metavar="PLAN", help="run an existing plan from `mmhost plan`")
    r.add_argument("--report", choices=["json"], help="JSON summary as the last line of stderr")
    r.add_argument("--report-file", metavar="FILE", help="write the summary to FILE")
    prog = r.add_mutually_exclusive_group()
    prog.add_argument("--progress", dest="progress", action="store_true", default=None)
    prog.add_argument("--no-progress", dest="progress", action="store_false")
    r.add_argument(
        "--retries", type=int, default=2, metavar="N", help="retries of a retryable failure (2)"
    )
    r.add_argument("--batch", type=int, default=1, metavar="K", help="chunks per Dask task (1)")
    r.add_argument(
        "--mmhost",
        metavar="PATH",
        default=os.environ.get("MMHOST", "mmhost"),
        help="the mmhost binary, at the same path on every worker ($MMHOST, else mmhost)",
    )
    c = r.add_mutually_exclusive_group()
    c.add_argument("--scheduler", metavar="ADDRESS", help="an existing scheduler: tcp://HOST:8786")
    c.add_argument("--scheduler-file", metavar="FILE", help="an existing scheduler's file")
    c.add_argument(
        "--local", type=int, metavar="N", help="start N local worker processes (default: the cores)"
    )
    r.add_argument(
        "--connect-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long to try to reach the scheduler (30)",
    )
    r.add_argument("args", nargs="*", metavar="PLUGIN FILE...")
    return r


_TOP_USAGE = """usage: mmhost-dask run [OPTIONS] PLUGIN FILE... [-- PLUGIN_ARG...]

Runs an mmhost plugin chunk by chunk on a Dask cluster; see
`mmhost-dask run --help`.
"""


def parse(argv: list[str]) -> driver.Options:
    """The options of a command line (exits 2 on a usage error)."""
    plugin_args: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, plugin_args = argv[:cut], argv[cut + 1 :]
    if argv[:1] in (["-h"], ["--help"]):
        sys.stdout.write(_TOP_USAGE)
        sys.exit(0)
    if argv[:1] == ["--version"]:
        sys.stdout.write(f"mmhost-dask {__version__}\n")
        sys.exit(0)
    if argv[:1] != ["run"]:
        sys.stderr.write(_TOP_USAGE)
        sys.stderr.write("mmhost-dask: error: the only command is `run`\n")
        sys.exit(host.USAGE)
    parser = _parser()
    ns = parser.parse_intermixed_args(argv[1:])
    positional = list(ns.args)
    if ns.plan is not None:
        if positional or plugin_args or ns.job:
            parser.error("--plan takes no PLUGIN, FILE, --job or plugin arguments")
        plugin, files = None, []
    elif ns.job is not None:
        if plugin_args:
            parser.error("plugin arguments belong in the job file's steps[i].args")
        plugin, files = None, positional
    else:
        if len(positional) < 2:
            parser.error("give a PLUGIN and at least one FILE")
        plugin, files = positional[0], positional[1:]
    for name in ("retries", "batch", "local"):
        value = getattr(ns, name)
        if value is not None and value < (0 if name == "retries" else 1):
            parser.error(f"--{name} must be at least {0 if name == 'retries' else 1}")
    request = host.PlanRequest(
        plugin=plugin,
        files=files,
        plugin_args=plugin_args,
        in_place=ns.in_place,
        output=ns.output,
        output_dir=ns.output_dir,
        dry_run=ns.dry_run,
        chunk_size=ns.chunk_size,
        block_size=ns.block_size,
        max_memory=ns.max_memory,
        timeout=ns.timeout,
        fuel=ns.fuel,
        job=ns.job,
        stage_dir=ns.stage_dir,
    )
    return driver.Options(
        request=request,
        mmhost=ns.mmhost,
        plan_file=ns.plan,
        scheduler=ns.scheduler,
        scheduler_file=ns.scheduler_file,
        local=ns.local,
        retries=ns.retries,
        batch=ns.batch,
        progress=ns.progress,
        report=ns.report == "json" or ns.report_file is not None,
        report_file=ns.report_file,
        connect_timeout=ns.connect_timeout,
    )


_WRITE = {"read-only": "read_only", "in-place": "in_place"}

# Inputs below this size are packed (copied), not mapped: the host's
# `region::inputs::SMALL_FILE`.
_SMALL_FILE = 64 << 10


def _placement(length: int) -> str:
    if length == 0:
        return "empty"
    return "packed" if length < _SMALL_FILE else "mapped"


def report(opts: driver.Options, out: driver.Outcome) -> dict:
    """The run's summary: `mmhost run --report json`'s fields plus the chunks.

    Built from the plan, the chunks' result lines and the record `mmhost
    reduce` leaves (the plugin's `ok` text, what `reduce` read and wrote):
    the host's `reduce` and `commit` print no report of their own. A
    segment's placement is the host's rule (empty, packed below 64 KiB,
    else mapped). `chunks` and `dask` are the driver's additions.
    """
    plan = out.plan.doc if out.plan is not None else None
    lines = out.chunk_lines
    write: object = None
    segments: list = []
    files_written: list = []
    if plan is not None:
        target = plan["target"]
        kind = target["kind"]
        name = target.get("name") or target.get("path")
        write = _WRITE.get(kind) or {kind.replace("-", "_"): name}
        inputs = plan["inputs"]
        segments = [
            {
                "name": i["name"],
                "start": i["start"],
                "end": i["start"] + i["len"],
                "len": i["len"],
                "placement": _placement(i["len"]),
            }
            for i in inputs
        ]
        if out.commit_summary and not target.get("dry_run"):
            files_written = list(out.commit_summary.get("files", []))
        elif out.committed and not target.get("dry_run"):
            if kind == "output":
                files_written = [name]
            else:
                touched = sorted(
                    {k for c in lines for k in c.get("files_written", [])}
                    | set(out.reduce_record.get("files_written", []))
                )
                if kind == "output-dir":
                    touched = range(len(inputs))
                # as `mmhost run` names them: inputs as given, new files by path
                key = "name" if kind == "in-place" else "dest"
                files_written = [inputs[k].get(key) or inputs[k]["path"] for k in touched]
    step_name = os.path.splitext(os.path.basename(opts.request.plugin or ""))[0]
    if plan is not None and not step_name:
        step_name = os.path.splitext(os.path.basename(plan["plugin"]["path"]))[0]
    ok = out.exit_code == 0
    rec = out.reduce_record
    written = sum(int(c.get("written", 0)) for c in lines) + int(rec.get("written", 0))
    read = sum(int(c.get("read", 0)) for c in lines) + int(rec.get("read", 0))
    scanned = sum(int(c.get("scanned", 0)) for c in lines) + int(rec.get("scanned", 0))
    return {
        "report_version": 1,
        "mmhost_version": host.version(opts.mmhost),
        "ok": ok,
        "exit_code": out.exit_code,
        "error": None if ok else out.error,
        "job_file": opts.request.job,
        "write": write,
        "dry_run": bool(plan["target"].get("dry_run")) if plan else opts.request.dry_run,
        "size": plan["region_size"] if plan else 0,
        "bytes_read": read,
        "bytes_written": written,
        "bytes_scanned": scanned,
        "time_ms": round(out.time_ms, 3),
        "steps": [
            {
                "index": 0,
                "name": step_name,
                "plugin": opts.request.plugin or (plan["plugin"]["path"] if plan else ""),
                "status": "ok" if ok else "failed",
                "message": rec.get("ok") if ok else out.error,
                "exit_code": None if ok else out.exit_code,
                "bytes_read": read,
                "bytes_written": written,
                "bytes_scanned": scanned,
                "time_ms": round(out.phases_ms.get("chunks", 0.0), 3),
            }
        ],
        "segments": segments,
        "files_written": files_written,
        "dry_run_changes": out.commit_summary.get("dry_run_changes"),
        "chunks": [
            {
                "index": c["chunk"],
                "start": plan["chunks"][c["chunk"]]["start"] if plan else None,
                "end": plan["chunks"][c["chunk"]]["end"] if plan else None,
                "written": c.get("written", 0),
                "read": c.get("read", 0),
                "scanned": c.get("scanned", 0),
                "output_len": (c.get("output") or {}).get("len", 0),
                "ms": c.get("ms"),
            }
            for c in lines
        ],
        "dask": {
            "workers": out.workers,
            "tasks": out.tasks,
            "chunk_count": len(plan["chunks"]) if plan else 0,
            "halo": plan.get("halo") if plan else None,
            "phases_ms": {k: round(v, 3) for k, v in out.phases_ms.items()},
        },
    }


def main(argv: list[str] | None = None) -> int:
    opts = parse(sys.argv[1:] if argv is None else argv)
    driver.install_sigterm()
    out = driver.run(opts)
    if opts.report:
        text = json.dumps(report(opts, out), separators=(",", ":"))
        if opts.report_file is not None:
            with open(opts.report_file, "w") as f:
                f.write(text + "\n")
        else:
            sys.stderr.write(text + "\n")
    sys.stdout.flush()
    return out.exit_code


if __name__ == "__main__":
    sys.exit(main())
