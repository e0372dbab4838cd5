#!/usr/bin/env bash
# Builds {{name}}.wasm from plugin.cpp: clang++-19 for wasm32-wasi with
# libc++ (C++23, no exceptions, no RTTI), with the guest library
# mmhost.hpp/mmhost.cpp in place of generated bindings, then `mmhost wrap`
# makes the core module a component with mmhost's WIT.
#
# Needs clang-19, lld-19, wasi-libc and libc++ for wasm32 (Debian packages
# clang-19 lld-19 libclang-rt-19-dev-wasm32 wasi-libc libc++-19-dev-wasm32
# libc++abi-19-dev-wasm32); mmhost's scripts/install-toolchains.sh cpp
# installs them. WASI_SYSROOT points at another wasi-libc. python3 runs
# tools/wasm-producers.py, which names the language (wasi-libc's objects say
# C99).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
NAME="{{name}}"
# The mmhost binary: $MMHOST, else the one that created this project (if it
# is still there), else `mmhost` on PATH.
MMHOST="${MMHOST:-$(p='{{mmhost}}'; [[ -x "$p" ]] && echo "$p" || echo mmhost)}"
FLAGS=(--target=wasm32-wasi ${WASI_SYSROOT:+--sysroot "$WASI_SYSROOT"} -std=c++23 -O3 -msimd128
    -fno-exceptions -fno-rtti -Wall -Wextra -I.)

mkdir -p build
if [[ ! build/mmhost.o -nt mmhost.cpp || ! build/mmhost.o -nt mmhost.hpp ]]; then
    clang++-19 "${FLAGS[@]}" -c mmhost.cpp -o build/mmhost.o
fi
# -Wl,--strip-debug drops the DWARF but keeps the name section, so traps
# show function names.
clang++-19 "${FLAGS[@]}" -mexec-model=reactor -Wl,--strip-debug plugin.cpp build/mmhost.o \
    -o "build/$NAME.core.wasm"
python3 tools/wasm-producers.py "build/$NAME.core.wasm" \
    --language "C++=23" --processed-by "clang=$(clang++-19 -dumpversion)" --sdk "mmhost.hpp=0.1.3"
"$MMHOST" wrap "build/$NAME.core.wasm" -o "$NAME.wasm"
echo "built $NAME.wasm ($(wc -c <"$NAME.wasm") bytes)"
