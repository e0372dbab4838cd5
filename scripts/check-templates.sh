#!/usr/bin/env bash
# Checks the plugin project templates (plugins/templates/<lang>/, the source
# for `mmhost new --lang LANG NAME`): instantiates each one as `mmhost new`
# would (the template with {{name}} replaced, plus the files listed in
# plugins/templates/FILES), runs its build.sh, and runs the plugin over a
# file, expecting the number of lines it holds.
#
#   scripts/check-templates.sh [LANG...]   # default: rust c assemblyscript python javascript go zig cpp
#
# A language whose toolchain is missing prints "skipped: <lang> (<reason>)".
# Exit status 1 if a template that could be built failed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/toolchains-env.sh
source "$ROOT/scripts/toolchains-env.sh"
export MMHOST="${MMHOST:-$ROOT/target/release/mmhost}"
TEMPLATES="$ROOT/plugins/templates"
NAME=line-count

LANGS=("$@")
[[ ${#LANGS[@]} -gt 0 ]] || LANGS=(rust c assemblyscript python javascript go zig cpp)

# Instantiates the template of $1 into directory $2 with name $3, with the
# command under test.
instantiate() {
    "$MMHOST" -q new --lang "$1" --dir "$2" "$3"
}

# Why the toolchain of $1 is missing, or nothing.
missing() {
    case $1 in
        rust) rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown || echo "rustup target wasm32-unknown-unknown not installed" ;;
        c) command -v clang-19 >/dev/null || echo "clang-19 not found" ;;
        assemblyscript) command -v asc >/dev/null || echo "asc not found" ;;
        python) command -v componentize-py >/dev/null || echo "componentize-py not found" ;;
        javascript) command -v componentize-js >/dev/null || echo "componentize-js not found" ;;
        go) command -v go >/dev/null || echo "go not found" ;;
        zig) command -v zig >/dev/null || "$MMHOST_PY/bin/python" -c 'import ziglang' 2>/dev/null || echo "zig not found (PyPI ziglang, or zig on PATH)" ;;
        cpp) command -v clang++-19 >/dev/null && [[ -f "${WASI_SYSROOT:-/usr}/include/wasm32-wasi/c++/v1/expected" ]] ||
            echo "clang++-19 or libc++ for wasm32 not found (Debian clang-19 libc++-19-dev-wasm32)" ;;
        *) echo "no template for $1" ;;
    esac
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Sample input: 1000 lines over two files, the second not page-aligned.
seq 1 700 >"$work/a.txt"
seq 1 300 >"$work/b.txt"
printf 'no newline at the end' >>"$work/b.txt"

failed=0
for lang in "${LANGS[@]}"; do
    reason=$(missing "$lang")
    if [[ -n "$reason" ]]; then
        echo "skipped: $lang ($reason)"
        continue
    fi
    dir="$work/$lang/$NAME"
    instantiate "$lang" "$dir" "$NAME"
    start=$SECONDS
    # The Rust scaffold's dependencies are kept between runs.
    if ! CARGO_TARGET_DIR="$ROOT/target/template-check" bash "$dir/build.sh" >"$work/$lang.log" 2>&1; then
        cat "$work/$lang.log" >&2
        echo "FAILED: $lang (build.sh)"
        failed=1
        continue
    fi
    # stdout only: a first compile of a large component says so on stderr.
    got=$("$MMHOST" run "$dir/$NAME.wasm" "$work/a.txt" "$work/b.txt" 2>"$work/$lang.err")
    usage=$("$MMHOST" run "$dir/$NAME.wasm" "$work/a.txt" -- extra 2>&1)
    if [[ "$got" == "1000" && "$usage" == *"usage: $NAME"* ]]; then
        echo "ok: $lang ($(wc -c <"$dir/$NAME.wasm") bytes, built in $((SECONDS - start))s)"
    else
        echo "FAILED: $lang (printed '$got' for 1000 lines; usage error '$usage')"
        failed=1
    fi
done
exit "$failed"
