#!/usr/bin/env bash
# Builds {{name}}.wasm from assembly/index.ts: asc gives a core module whose
# imports are mmhost's (see assembly/mmhost.ts), and `mmhost wrap` makes it a
# component with mmhost's WIT (mmhost also runs the core module directly).
#
# Needs asc: `npm install` here, or mmhost's scripts/install-toolchains.sh
# assemblyscript.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
NAME="{{name}}"
T="${MMHOST_TOOLCHAINS:-${XDG_CACHE_HOME:-$HOME/.cache}/mmhost-toolchains}"
PATH="$PWD/node_modules/.bin:$T/node/node_modules/.bin:$PATH"
# The mmhost binary: $MMHOST, else the one that created this project (if it
# is still there), else `mmhost` on PATH.
MMHOST="${MMHOST:-$(p='{{mmhost}}'; [[ -x "$p" ]] && echo "$p" || echo mmhost)}"

mkdir -p build
# --debug keeps function names for trap backtraces; mmhostAbort logs a thrown
# error's message, file and line before the trap.
asc assembly/index.ts --runtime stub --debug --use abort=assembly/mmhost/mmhostAbort -O3 --enable simd \
    -o "build/$NAME.core.wasm"
# Name the language in a producers section (asc writes none), for
# `mmhost inspect` and `wasm-tools metadata show`.
node producers.mjs "build/$NAME.core.wasm" "$(asc --version | awk '{print $NF}')"
"$MMHOST" wrap "build/$NAME.core.wasm" -o "$NAME.wasm"
echo "built $NAME.wasm ($(wc -c <"$NAME.wasm") bytes)"
