"""Contender 4 of scripts/bench.py: the approach of the Python tutorial mmhost
grew from: map each file with Python's mmap, join, transform, write.

    python3 python_tutorial.py upper OUT FILE...
    python3 python_tutorial.py upper-inplace FILE...
    python3 python_tutorial.py count PATTERN FILE...

"Made to run": empty files are skipped (mmap refuses length 0), each file is
closed once mapped (the map keeps its own duplicate descriptor, so this
stays under the open-file limit up to about 20,000 files here), maps are
closed once joined, and in-place writes go back through each file's own
writable map.
"""

import mmap
import sys


def mapped(path, access=mmap.ACCESS_READ):
    with open(path, "r+b" if access == mmap.ACCESS_WRITE else "rb") as f:
        try:
            return mmap.mmap(f.fileno(), 0, access=access)
        except ValueError:  # empty file
            return None


def joined(files):
    maps = [m for m in map(mapped, files) if m is not None]
    data = b"".join(maps)  # bytes.join takes the maps as buffers: one copy
    for m in maps:
        m.close()
    return data


def main():
    mode, *rest = sys.argv[1:]
    if mode == "upper":
        out, *files = rest
        data = joined(files)
        with open(out, "wb") as f:
            f.write(data.upper())
    elif mode == "upper-inplace":
        for path in rest:
            m = mapped(path, mmap.ACCESS_WRITE)
            if m is not None:
                m[:] = m[:].upper()
                m.close()
    elif mode == "count":
        pattern, *files = rest
        print(joined(files).count(pattern.encode()))
    else:
        print(f"unknown mode {mode}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
