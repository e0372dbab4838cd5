#!/usr/bin/env bash
# Builds {{name}}.wasm from plugin.js with componentize-js (the StarlingMonkey
# engine inside the component, about 12 MB). `-d ...` leaves out the WASI
# features a plugin cannot use, so it imports nothing but mmhost's WIT.
#
# Needs componentize-js: `npm install` here (about 580 MB), or mmhost's
# scripts/install-toolchains.sh javascript.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
NAME="{{name}}"
T="${MMHOST_TOOLCHAINS:-${XDG_CACHE_HOME:-$HOME/.cache}/mmhost-toolchains}"
PATH="$PWD/node_modules/.bin:$T/node/node_modules/.bin:$PATH"

componentize-js plugin.js --wit wit --world-name transform \
    -d stdio random clocks http fetch-event -o "$NAME.wasm" >/dev/null
echo "built $NAME.wasm ($(wc -c <"$NAME.wasm") bytes)"
