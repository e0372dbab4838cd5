#!/usr/bin/env bash
# Builds the reference plugins under plugins/ and turns them into components.
#
#   scripts/build-plugins.sh
#
# 1. Builds the plugins workspace in release for wasm32-unknown-unknown
#    (installing the target with rustup if it is missing), giving core modules
#    in plugins/target/wasm32-unknown-unknown/release/<name>.wasm.
# 2. Wraps each core module into a component with the host,
#    `target/release/mmhost wrap`, giving target/plugins/<name>.wasm.
#    Build the host first (`cargo build --release`); set MMHOST to use
#    another mmhost binary.
# 3. Builds the test plugin wasi-probe, which uses Rust's std, for
#    wasm32-wasip2 (installing that target too if it is missing). The
#    toolchain links it into a component that imports WASI 0.2, copied to
#    target/plugins/wasi-probe.wasm.
# 4. Builds wasi-probe once more for wasm32-wasip1: a core module that
#    imports WASI preview 1 (wasi_snapshot_preview1), as Go, Zig and C
#    toolchains emit, which mmhost adapts when it loads it. Copied as is to
#    target/plugins/wasi-probe-p1.wasm.
#
# Works from any current directory.
set -euo pipefail

# The plugins to build: crate names under plugins/, one place only.
PLUGINS=(upper checksum count tail reverse probe)
# Plugins built for WASI 0.2 with std (not wrapped: already components).
WASI_PLUGINS=(wasi-probe)
WASI_TARGET=wasm32-wasip2
# The same, built for WASI preview 1: core modules (named <name>-p1.wasm).
WASI_P1_TARGET=wasm32-wasip1

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET=wasm32-unknown-unknown
CORE_DIR="$ROOT/plugins/target/$TARGET/release"
OUT_DIR="$ROOT/target/plugins"
MMHOST="${MMHOST:-$ROOT/target/release/mmhost}"

for t in "$TARGET" "$WASI_TARGET" "$WASI_P1_TARGET"; do
    if command -v rustup >/dev/null && ! rustup target list --installed | grep -x "$t" >/dev/null; then
        echo "installing the Rust target $t" >&2
        rustup target add "$t"
    fi
done

packages=()
for name in "${PLUGINS[@]}"; do
    packages+=(-p "$name")
done
# Run cargo from plugins/ so that plugins/.cargo/config.toml (simd128) applies:
# cargo reads config files from the current directory, not the manifest's.
(cd "$ROOT/plugins" && cargo build --release --target "$TARGET" \
    --manifest-path "$ROOT/plugins/Cargo.toml" "${packages[@]}")
wasi_packages=()
for name in "${WASI_PLUGINS[@]}"; do
    wasi_packages+=(-p "$name")
done
(cd "$ROOT/plugins" && cargo build --release --target "$WASI_TARGET" \
    --manifest-path "$ROOT/plugins/Cargo.toml" "${wasi_packages[@]}")
(cd "$ROOT/plugins" && cargo build --release --target "$WASI_P1_TARGET" \
    --manifest-path "$ROOT/plugins/Cargo.toml" "${wasi_packages[@]}")

if [[ ! -x "$MMHOST" ]]; then
    echo "error: $MMHOST not found: build the host first (cargo build --release)" >&2
    echo "core modules are in $CORE_DIR" >&2
    exit 1
fi

mkdir -p "$OUT_DIR"
for name in "${PLUGINS[@]}"; do
    "$MMHOST" wrap "$CORE_DIR/$name.wasm" -o "$OUT_DIR/$name.wasm"
    echo "built $OUT_DIR/$name.wasm ($(wc -c <"$OUT_DIR/$name.wasm") bytes)"
done
for name in "${WASI_PLUGINS[@]}"; do
    cp "$ROOT/plugins/target/$WASI_TARGET/release/${name//-/_}.wasm" "$OUT_DIR/$name.wasm"
    echo "built $OUT_DIR/$name.wasm ($(wc -c <"$OUT_DIR/$name.wasm") bytes)"
    cp "$ROOT/plugins/target/$WASI_P1_TARGET/release/${name//-/_}.wasm" "$OUT_DIR/$name-p1.wasm"
    echo "built $OUT_DIR/$name-p1.wasm ($(wc -c <"$OUT_DIR/$name-p1.wasm") bytes)"
done
