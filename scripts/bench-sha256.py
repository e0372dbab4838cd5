"""`sha256sum` against coreutils and a native SHA-256 (Python's hashlib,
OpenSSL: SHA-NI where present): medians of 3 alternating runs over
f0.bin..f7.bin in the current directory (e.g. 8 x 128 MiB of
/dev/urandom). Usage: python3 scripts/bench-sha256.py [MMHOST] (run from
the data directory). See BENCHMARKS.md."""
import subprocess, time, statistics, sys
M=sys.argv[1] if len(sys.argv)>1 else 'mmhost'
files=[f'f{i}.bin' for i in range(8)]
py="import hashlib,sys\nfor f in sys.argv[1:]:\n h=hashlib.sha256()\n with open(f,'rb') as fh:\n  while (b:=fh.read(1<<22)): h.update(b)\n print(h.hexdigest(), f)"
cmds={
 'mmhost run sha256sum (per file)':[M,'run','-q','sha256sum',*files],
 'mmhost run sha256sum -- --region':[M,'run','-q','sha256sum',*files,'--','--region'],
 'mmhost run checksum (SHA-256 in wasm)':[M,'run','-q','checksum',*files],
 'coreutils sha256sum FILES':['sha256sum',*files],
 'python3 hashlib (OpenSSL) per file':['python3','-c',py,*files],
}
times={k:[] for k in cmds}
outs={}
for r in range(3):
    for k,c in cmds.items():
        t=time.perf_counter(); o=subprocess.run(c,capture_output=True,check=True).stdout; times[k].append(time.perf_counter()-t)
        outs[k]=o
for k in cmds: print(f'{k:42s} median {statistics.median(times[k]):6.2f} s  runs {" ".join(f"{x:.2f}" for x in times[k])}')
a=outs['mmhost run sha256sum (per file)']; b=outs['coreutils sha256sum FILES']
print('per-file output equal to coreutils:', a==b)
