#!/usr/bin/env bash
# Tests of the Dask driver (mmhost-dask/) against a real Dask cluster on
# 127.0.0.1: a venv with the pinned Dask and pytest, then pytest with the
# host binary from target/release and the plugins from target/plugins.
#
# Fails (never skips) when the venv or Dask cannot be installed, when the
# binary or plugins are missing, or when the cluster cannot start.
#
#   bash scripts/test-dask.sh              # everything
#   bash scripts/test-dask.sh -k faults    # extra arguments go to pytest
#
# Environment: MMHOST_DASK_VENV (default target/dask-venv), PYTHON (python3).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${MMHOST_DASK_VENV:-$root/target/dask-venv}"
python="${PYTHON:-python3}"

if [[ ! -x "$root/target/release/mmhost" ]]; then
    echo "test-dask: no $root/target/release/mmhost: run cargo build --release first" >&2
    exit 1
fi
if [[ ! -f "$root/target/plugins/probe.wasm" ]]; then
    echo "test-dask: no plugins in $root/target/plugins: run scripts/build-plugins.sh first" >&2
    exit 1
fi
if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -m venv "$venv" || { echo "test-dask: cannot create the venv $venv" >&2; exit 1; }
fi
# Installs (or checks, quickly when already there) the pinned versions.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$root/mmhost-dask[test]" \
    || { echo "test-dask: cannot install mmhost-dask and Dask into $venv" >&2; exit 1; }
"$venv/bin/python" -c "import distributed, pytest" && [[ -x "$venv/bin/ruff" ]] \
    || { echo "test-dask: Dask is not importable in $venv" >&2; exit 1; }

cd "$root/mmhost-dask"
# The driver's code is formatted and linted with ruff (settings in
# pyproject.toml), as the host's is with rustfmt and clippy.
"$venv/bin/ruff" format --check .
"$venv/bin/ruff" check .
export MMHOST_BIN="$root/target/release/mmhost" MMHOST_PLUGINS="$root/target/plugins"
exec "$venv/bin/python" -m pytest -p no:cacheprovider -q "$@"
