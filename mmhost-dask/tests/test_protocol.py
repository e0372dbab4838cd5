"""The protocol without Dask: README.md's `xargs -P` recipe, run as written.

The recipe is taken from the README (the shell block after the
`<!-- xargs-recipe -->` marker) and run by `sh` in a directory laid out as it
expects (`target/plugins/upper.wasm`, `data/*.log`), with `mmhost` on PATH.
Its output must equal `mmhost run -j 1 -o` over the same files.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import filesets
from conftest import PKG_ROOT


def _recipe() -> str:
    text = (PKG_ROOT / "README.md").read_text()
    after = text.split("<!-- xargs-recipe -->", 1)[1]
    block = after.split("```sh\n", 1)[1].split("```", 1)[0]
    return block


def test_xargs_recipe_as_written(mmhost, plugin, tmp_path):
    d = tmp_path / "work"
    files = [(f"data/{n}", b) for n, b in filesets.many_small()[:40]]
    files += [("data/zz-big.log", filesets.one_big()[0][1][:300_000])]
    filesets.write(d, files)
    (d / "target" / "plugins").mkdir(parents=True)
    os.symlink(plugin("upper"), d / "target" / "plugins" / "upper.wasm")
    env = dict(os.environ, PATH=f"{Path(mmhost).parent}{os.pathsep}{os.environ['PATH']}")
    r = subprocess.run(["sh", "-c", _recipe()], cwd=d, env=env, capture_output=True, timeout=600)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    names = sorted(n for n, _ in files)
    whole = b"".join(dict(files)[n] for n in names)
    assert (d / "upper.txt").read_bytes() == whole.upper()
    serial = subprocess.run(
        [mmhost, "run", "-j", "1", "-o", "serial.txt", plugin("upper"), *names],
        cwd=d,
        capture_output=True,
    )
    assert serial.returncode == 0
    assert (d / "serial.txt").read_bytes() == (d / "upper.txt").read_bytes()
    # the commit's line, as `mmhost run` prints it (plan also says what it planned)
    last = r.stderr.decode().strip().splitlines()[-1]
    assert last.replace("upper.txt", "X") == serial.stderr.decode().strip().replace(
        "serial.txt", "X"
    )
    # nothing staged left: only the recipe's own files
    left = sorted(p.name for p in d.iterdir())
    assert [n for n in left if n.startswith(".mmhost")] == [], left
