#!/usr/bin/env bash
# Sets up a fresh machine (the wasm target), builds mmhost (with its built-in
# plugins) and the reference plugins, makes sample data and runs mmhost over
# it, checking each result against a standard tool.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# The built-in plugins are built for wasm32 by build.rs during the host's
# own build, so the target must be there first.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
fi
cargo build --release
bash scripts/build-plugins.sh >/dev/null
M="$ROOT/target/release/mmhost"
P="$ROOT/target/plugins"

# Sample data: three files, the first two of sizes that are not page
# multiples, so the region has more than one extent.
S="$ROOT/target/sample"
rm -rf "$S" && mkdir -p "$S"
python3 - "$S" <<'PY'
import sys, random
random.seed(1)
words = b"alpha beta gamma delta needle haystack mmhost region plugin".split()
for name, size in [("one.txt", 5000), ("two.txt", 3 << 20 | 123), ("three.txt", 777)]:
    out = bytearray()
    while len(out) < size:
        out += random.choice(words) + (b"\n" if random.random() < 0.1 else b" ")
    open(f"{sys.argv[1]}/{name}", "wb").write(out[:size])
PY
FILES=("$S/one.txt" "$S/two.txt" "$S/three.txt")

echo "== mmhost layout"
"$M" layout "${FILES[@]}"

echo "== mmhost run checksum.wasm (and sha256sum of the concatenation)"
"$M" run "$P/checksum.wasm" "${FILES[@]}"
echo "$(cat "${FILES[@]}" | sha256sum | cut -d' ' -f1) $(cat "${FILES[@]}" | wc -c)"

echo "== mmhost run count.wasm -- needle (and python's bytes.count)"
"$M" run "$P/count.wasm" "${FILES[@]}" -- needle
cat "${FILES[@]}" | python3 -c 'import sys; print(sys.stdin.buffer.read().count(b"needle"))'

echo "== mmhost run tail.wasm -- 40 (and tail -c 40)"
"$M" run "$P/tail.wasm" "${FILES[@]}" -- 40 | od -c | head -3
cat "${FILES[@]}" | tail -c 40 | od -c | head -3

echo "== mmhost run -o upper.txt upper.wasm (and tr a-z A-Z)"
"$M" run -o "$S/upper.txt" "$P/upper.wasm" "${FILES[@]}"
cat "${FILES[@]}" | tr a-z A-Z | cmp - "$S/upper.txt" && echo "identical"

echo "== mmhost run wc (a built-in, by name) and LC_ALL=C wc"
"$M" run wc "${FILES[@]}"
LC_ALL=C wc "${FILES[@]}"

echo "== mmhost run sha256sum (a built-in; the host computes the digest) and sha256sum"
"$M" run sha256sum "${FILES[@]}"
sha256sum "${FILES[@]}"

echo "== mmhost run --job examples/count-errors.json (three steps from a JSON job file)"
"$M" run --job examples/count-errors.json
