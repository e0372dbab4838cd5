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
MMHOST="${MMHOST:-mmhost}"

mkdir -p build
asc assembly/index.ts --runtime stub --use abort= -O3 --enable simd -o "build/$NAME.core.wasm"
# Name the language in a producers section (asc writes none), for
# `mmhost inspect` and `wasm-tools metadata show`.
node producers.mjs "build/$NAME.core.wasm" "$(asc --version | awk '{print $NF}')"
"$MMHOST" wrap "build/$NAME.core.wasm" -o "$NAME.wasm"
echo "built $NAME.wasm ($(wc -c <"$NAME.wasm") bytes)"
