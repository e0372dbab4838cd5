#!/usr/bin/env bash
# Runs the whole test suite, as CI does (.ci/run calls this script):
# formatting, the host's unit and integration tests (which build the plugins
# with scripts/build-plugins.sh), and clippy on host and plugins.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

for t in wasm32-unknown-unknown wasm32-wasip2 wasm32-wasip1; do
    if ! rustup target list --installed | grep -qx "$t"; then
        rustup target add "$t"
    fi
done
rustup component add rustfmt clippy >/dev/null 2>&1 || true

# The standard tools tests/builtins.rs compares the built-in plugins with
# (a missing one fails those tests, it is never skipped). wc, grep,
# sha256sum, xargs and python3 come with the base system. man renders the
# manual pages and script gives a run a terminal (tests/first_hour.rs).
missing=()
for tool in xxd unzip zip sfdisk man script; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
    # sfdisk comes in the Debian package fdisk, man in man-db, script in
    # bsdutils.
    missing=("${missing[@]/#sfdisk/fdisk}")
    missing=("${missing[@]/#man/man-db}")
    missing=("${missing[@]/#script/bsdutils}")
    apt-get update -qq && apt-get install -y -qq "${missing[@]}"
fi

cargo fmt --all -- --check
(cd plugins && cargo fmt --all -- --check)

# Guest toolchains for the plugins in other languages (tests/conformance.rs
# builds and checks them). Cached in ~/.cache/mmhost-toolchains: seconds when
# present. Every language of plugins/LANGUAGES is required here and in CI: a
# toolchain that does not install fails the run, by name, and
# MMHOST_REQUIRE_LANGS=all makes the conformance tests fail (not skip) a
# language that did not build. (Run by hand, a single test still skips.)
if ! bash scripts/install-toolchains.sh; then
    echo "error: guest toolchains missing (named above); every language of plugins/LANGUAGES is required" >&2
    exit 1
fi
export MMHOST_REQUIRE_LANGS=all

# The C bindings committed in plugins/c/bindings match the WIT (regenerated
# with the wit-bindgen-c crate as a library; no wit-bindgen-cli needed).
(cd plugins && cargo run --quiet -p c-bindings -- --check ../wit c/bindings)

# The unit tests of the Rust guest library and of the built-in plugins, on
# the host (they test plain functions: the partial-result codecs of grep and
# redact, grep's line walk, wc's counts, zipinfo's name filter).
(cd plugins && cargo test --quiet -p mmhost-guest -p grep -p redact -p wc -p zipinfo --lib)

cargo test --release

# The Dask driver (mmhost-dask/) against a real scheduler and worker
# processes on 127.0.0.1, started and stopped by its tests; it needs the
# release binary and plugins that the tests above built.
bash scripts/test-dask.sh

cargo clippy --release --all-targets -- -D warnings
(cd plugins && cargo clippy --release --target wasm32-unknown-unknown -- -D warnings)
(cd plugins && cargo clippy --release --target wasm32-wasip2 -p wasi-probe -- -D warnings)
(cd plugins && cargo clippy --release --target wasm32-wasip1 -p wasi-probe -- -D warnings)

# The benchmark harness, as a smoke run (tiny data, one rep): it must keep
# working; its figures mean nothing at this size. See BENCHMARKS.md.
python3 scripts/bench.py --size tiny --reps 1
python3 scripts/bench-builtins.py --size tiny --reps 1 --no-build
