"""A plugin language's `upper` and `count` against the Rust reference over
one 256 MiB text file with `-j 1` (one instance, no parallel chunks): medians
of N alternating runs, compiled code from the cache (warmed first). upper
runs --in-place on a fresh copy each time (the copy is not timed).

Usage: python3 scripts/bench-lang.py [--mmhost BIN] [-n N] LANG...
(from the repository root; LANG as in target/plugins/LANG/, e.g. moonbit).
Prints each case's median and its ratio to Rust. See BENCHMARKS.md."""
import argparse, os, shutil, statistics, subprocess, tempfile, time

ap = argparse.ArgumentParser()
ap.add_argument('--mmhost', default='target/release/mmhost')
ap.add_argument('-n', type=int, default=5)
ap.add_argument('langs', nargs='+')
a = ap.parse_args()

tmp = tempfile.mkdtemp(prefix='bench-lang-')
big = os.path.join(tmp, 'big.txt')
line = b'the quick brown fox jumps over the lazy dog 0123456789\n'
with open(big, 'wb') as f:
    f.write(line * ((256 << 20) // len(line)) + b'x' * ((256 << 20) % len(line)))
work = os.path.join(tmp, 'work.txt')

def plugin(lang, name):
    return f'target/plugins/{name}.wasm' if lang == 'rust' else f'target/plugins/{lang}/{name}.wasm'

langs = ['rust'] + a.langs
cases = {
    'upper': lambda l: ([a.mmhost, 'run', '-q', '-j', '1', '--in-place', plugin(l, 'upper'), work], True),
    'count': lambda l: ([a.mmhost, 'run', '-j', '1', plugin(l, 'count'), big, '--', 'fox'], False),
}

def once(case, lang):
    argv, copy = cases[case](lang)
    if copy:
        shutil.copyfile(big, work)
    t = time.perf_counter()
    out = subprocess.run(argv, check=True, capture_output=True).stdout
    return time.perf_counter() - t, out

for case in cases:  # warm the compilation cache and the page cache
    for l in langs:
        once(case, l)
times = {(c, l): [] for c in cases for l in langs}
outs = {}
for _ in range(a.n):
    for c in cases:
        for l in langs:
            t, out = once(c, l)
            times[(c, l)].append(t)
            outs[(c, l)] = out
print(f'{"case":8s} {"language":12s} {"median":>8s}  {"x Rust":>6s}  runs (s)')
for c in cases:
    rust = statistics.median(times[(c, 'rust')])
    for l in langs:
        m = statistics.median(times[(c, l)])
        same = '' if outs[(c, l)] == outs[(c, 'rust')] else '  OUTPUT DIFFERS'
        print(f'{c:8s} {l:12s} {m:7.3f}s  {m / rust:6.2f}  {" ".join(f"{x:.2f}" for x in times[(c, l)])}{same}')
print('load average:', ' '.join(f'{x:.1f}' for x in os.getloadavg()))
shutil.rmtree(tmp)
