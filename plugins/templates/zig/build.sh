#!/usr/bin/env bash
# Builds {{name}}.wasm from plugin.zig: Zig 0.17 for wasm32-freestanding (a
# core module that imports nothing but mmhost's interfaces: no WASI, no
# libc), then `mmhost wrap` makes it a component with mmhost's WIT.
#
# Needs Zig 0.17: `zig` on PATH, or PyPI ziglang 0.17.0, which mmhost's
# scripts/install-toolchains.sh zig installs. tools/wasm-producers.py (needs
# python3) drops the DWARF, keeping the function names for backtraces, and
# names the language, which Zig's LLVM backend gives as C99.
#
# OPT=ReleaseSafe bash build.sh keeps Zig's safety checks (bounds, overflow),
# which then panic with their message; the default, ReleaseFast, drops them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
NAME="{{name}}"
T="${MMHOST_TOOLCHAINS:-${XDG_CACHE_HOME:-$HOME/.cache}/mmhost-toolchains}"
# The mmhost binary: $MMHOST, else the one that created this project (if it
# is still there), else `mmhost` on PATH.
MMHOST="${MMHOST:-$(p='{{mmhost}}'; [[ -x "$p" ]] && echo "$p" || echo mmhost)}"
OPT="${OPT:-ReleaseFast}"

if command -v zig >/dev/null; then
    ZIG=(zig)
elif [[ -x "$T/py/bin/python" ]] && "$T/py/bin/python" -c 'import ziglang' 2>/dev/null; then
    ZIG=("$T/py/bin/python" -m ziglang)
else
    echo "error: zig not found: put Zig 0.17 on PATH, or run mmhost's scripts/install-toolchains.sh zig" >&2
    exit 1
fi
version=$("${ZIG[@]}" version)

mkdir -p build
# The exports are listed by name (-rdynamic would also export
# __stack_pointer, which a component cannot have).
"${ZIG[@]}" build-exe -target wasm32-freestanding -mcpu=generic+simd128 -O "$OPT" \
    -fno-entry --export=run --export=cabi_realloc --export=cabi_post_run \
    --cache-dir build/zig-cache plugin.zig -femit-bin="build/$NAME.core.wasm"
python3 tools/wasm-producers.py "build/$NAME.core.wasm" --strip-debug \
    --language "Zig=$version" --processed-by "zig=$version" --sdk "mmhost.zig=0.1.3"
"$MMHOST" wrap "build/$NAME.core.wasm" -o "$NAME.wasm"
echo "built $NAME.wasm ($(wc -c <"$NAME.wasm") bytes)"
