"""The cost of the wasm GC and exception-handling proposals when a plugin
does not use them: two mmhost binaries, OFF (built without wasmtime's `gc`
feature, the proposals off: mmhost before they were enabled) and ON (this
tree), run alternately; medians of N runs.

  compile: `mmhost run --no-cache PLUGIN tiny.txt` (compile + instantiate +
           a run over 4 bytes), per plugin
  run:     `mmhost run -j 1` over big.txt (256 MiB, made here if missing) of
           upper --in-place (on a fresh copy each time) and count; compiled
           code from the cache (warmed first)

Usage: python3 scripts/bench-gc.py OFF_BIN ON_BIN [N] (from the repository
root, after scripts/build-plugins.sh and build-lang-plugins.sh python).
See BENCHMARKS.md."""
import os, shutil, statistics, subprocess, sys, tempfile, time

off, on = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 5
bins = {'off': off, 'on': on}
tmp = tempfile.mkdtemp(prefix='bench-gc-')
tiny = os.path.join(tmp, 'tiny.txt')
open(tiny, 'w').write('abc\n')
big = os.path.join(tmp, 'big.txt')
with open(big, 'wb') as f:
    line = b'the quick brown fox jumps over the lazy dog 0123456789\n'
    f.write(line * ((256 << 20) // len(line)) + b'x' * ((256 << 20) % len(line)))
work = os.path.join(tmp, 'work.txt')

compile_plugins = ['target/plugins/upper.wasm', 'target/plugins/count.wasm',
                   'target/plugins/checksum.wasm', 'target/plugins/python/upper.wasm']
compile_plugins = [p for p in compile_plugins if os.path.exists(p)]

def timed(cmd, before=None):
    if before:
        before()
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t

def fresh_copy():
    shutil.copyfile(big, work)

cases = {}
for p in compile_plugins:
    cases[f'compile {p}'] = (lambda b, p=p: [b, 'run', '-q', '--no-cache', '--in-place', p, tiny, '--', 'a'], None)
cases['run upper -j1 256 MiB'] = (lambda b: [b, 'run', '-q', '-j', '1', '--in-place', 'target/plugins/upper.wasm', work], fresh_copy)
cases['run count -j1 256 MiB'] = (lambda b: [b, 'run', '-q', '-j', '1', 'target/plugins/count.wasm', big, '--', 'fox'], None)

# Warm the compilation cache (and the page cache) for the run cases.
for b in bins.values():
    for name, (cmd, before) in cases.items():
        if name.startswith('run'):
            timed(cmd(b), before)

times = {(c, k): [] for c in cases for k in bins}
for _ in range(n):
    for c, (cmd, before) in cases.items():
        for k, b in bins.items():
            times[(c, k)].append(timed(cmd(b), before))

print(f'{"case":52s} {"off":>8s} {"on":>8s}  on/off   (medians of {n}, alternating)')
for c in cases:
    a, b = statistics.median(times[(c, 'off')]), statistics.median(times[(c, 'on')])
    print(f'{c:52s} {a:7.3f}s {b:7.3f}s  {b / a:5.2f}')
shutil.rmtree(tmp)
