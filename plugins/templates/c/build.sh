#!/usr/bin/env bash
# Builds {{name}}.wasm from plugin.c: bindings from wit/ with `wit-bindgen c`,
# clang-19 for wasm32-wasi, then `mmhost wrap` makes the core module a
# component (`wasm-tools component new` does the same).
#
# Needs clang-19, lld-19 and wasi-libc (Debian packages clang-19 lld-19
# libclang-rt-19-dev-wasm32 wasi-libc) and wit-bindgen 0.60 (cargo install
# --locked wit-bindgen-cli --version 0.60.0); mmhost's
# scripts/install-toolchains.sh c installs them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
NAME="{{name}}"
T="${MMHOST_TOOLCHAINS:-${XDG_CACHE_HOME:-$HOME/.cache}/mmhost-toolchains}"
PATH="$T/cargo/bin:$PATH"
# The mmhost binary: $MMHOST, else the one that created this project (if it
# is still there), else `mmhost` on PATH.
MMHOST="${MMHOST:-$(p='{{mmhost}}'; [[ -x "$p" ]] && echo "$p" || echo mmhost)}"

mkdir -p build
out=$(wit-bindgen c wit --world transform --out-dir build 2>&1) || { echo "$out" >&2; exit 1; }
clang-19 --target=wasm32-wasi -O3 -msimd128 -mexec-model=reactor -Wall -Wl,--strip-debug \
    -Ibuild -I. plugin.c mmhost_guest.c build/transform.c build/transform_component_type.o \
    -o "build/$NAME.core.wasm"
"$MMHOST" wrap "build/$NAME.core.wasm" -o "$NAME.wasm"
echo "built $NAME.wasm ($(wc -c <"$NAME.wasm") bytes)"
