#!/usr/bin/env bash
# Builds {{name}}.wasm: cargo builds a core module for wasm32-unknown-unknown
# (no WASI; .cargo/config.toml enables simd128), and `mmhost wrap` makes it a
# component (wit-bindgen embedded the world in it).
#
# Needs the Rust target: rustup target add wasm32-unknown-unknown
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
NAME="{{name}}"
# The mmhost binary: $MMHOST, else the one that created this project (if it
# is still there), else `mmhost` on PATH.
MMHOST="${MMHOST:-$(p='{{mmhost}}'; [[ -x "$p" ]] && echo "$p" || echo mmhost)}"

cargo build --release
"$MMHOST" wrap "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/${NAME//-/_}.wasm" -o "$NAME.wasm"
echo "built $NAME.wasm ($(wc -c <"$NAME.wasm") bytes)"
