#!/usr/bin/env bash
# Builds {{name}}.wasm from plugin.c: clang-19 for wasm32-wasi with the
# bindings in bindings/ (what `wit-bindgen c wit --world transform` 0.60
# writes), then `mmhost wrap` makes the core module a component (the world
# is in the module's component-type section; `wasm-tools component new` does
# the same).
#
# Needs clang-19, lld-19 and wasi-libc (Debian packages clang-19 lld-19
# libclang-rt-19-dev-wasm32 wasi-libc); mmhost's
# scripts/install-toolchains.sh c installs them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
NAME="{{name}}"
# The mmhost binary: $MMHOST, else the one that created this project (if it
# is still there), else `mmhost` on PATH.
MMHOST="${MMHOST:-$(p='{{mmhost}}'; [[ -x "$p" ]] && echo "$p" || echo mmhost)}"

mkdir -p build
clang-19 --target=wasm32-wasi -O3 -msimd128 -mexec-model=reactor -Wall -Wl,--strip-debug \
    -Ibindings -I. plugin.c mmhost_guest.c bindings/transform.c bindings/transform_component_type.o \
    -o "build/$NAME.core.wasm"
"$MMHOST" wrap "build/$NAME.core.wasm" -o "$NAME.wasm"
echo "built $NAME.wasm ($(wc -c <"$NAME.wasm") bytes)"
