"""The test file sets: odd sizes, empty files, patterns across boundaries.

Each set is a list of (name, bytes), generated from a fixed seed so that a
failure reproduces. The pattern `needle` is planted across file boundaries
and at offsets that straddle 4 KiB and 64 KiB chunk boundaries.
"""

from __future__ import annotations

import random
from pathlib import Path

PATTERN = b"needle"
KIB = 1024
MIB = 1024 * KIB


def _text(rng: random.Random, n: int) -> bytearray:
    alphabet = b"abcdefghijklmnopqrstuvwxyz .,\n\xc3\xa9needleNEEDLE"
    return (
        bytearray(rng.choice(alphabet) for _ in range(n)) if n < 4096 else _fast(rng, n, alphabet)
    )


def _fast(rng: random.Random, n: int, alphabet: bytes) -> bytearray:
    block = bytes(rng.choice(alphabet) for _ in range(4093))
    out = bytearray((block * (n // len(block) + 1))[:n])
    # a few random bytes so that the blocks are not all alike
    for _ in range(min(64, n)):
        out[rng.randrange(n)] = rng.randrange(256)
    return out


def _plant(data: bytearray, positions: list[int]) -> None:
    for p in positions:
        if 0 <= p and p + len(PATTERN) <= len(data):
            data[p : p + len(PATTERN)] = PATTERN


def mixed() -> list[tuple[str, bytes]]:
    """Odd and page-edge sizes, empty files, patterns across every seam."""
    rng = random.Random(12)
    sizes = [0, 1, 4095, 4096, 4097, 0, 2 * MIB - 1, 7, 2 * MIB + 1, 100_003, 0, 65_539]
    files = []
    for i, n in enumerate(sizes):
        d = _text(rng, n)
        _plant(d, [n - 3, 4093, 65533, MIB - 2, 10, 2 * MIB - 4])
        if n and i % 2:
            d[0:1] = b"e"  # "needl" + "e" across the previous file's end
        files.append((f"m{i:02d}.txt", bytes(d)))
    # patterns split across file boundaries: "nee" | "dle"
    files.insert(3, ("split-a.txt", b"xxnee"))
    files.insert(4, ("split-b.txt", b"dlexx"))
    return files


def many_small() -> list[tuple[str, bytes]]:
    """300 small files of 0..3000 bytes."""
    rng = random.Random(300)
    files = []
    for i in range(300):
        n = rng.choice([0, 1, 5, rng.randrange(3000)])
        d = _text(rng, n)
        _plant(d, [0, n - 6, n // 2])
        files.append((f"s{i:03d}.log", bytes(d)))
    return files


def one_big() -> list[tuple[str, bytes]]:
    """One 5 MiB + 3 bytes file."""
    rng = random.Random(5)
    d = _text(rng, 5 * MIB + 3)
    _plant(d, [k * 64 * KIB - 3 for k in range(1, 80)] + [k * MIB - 2 for k in range(1, 5)])
    return [("big.bin", bytes(d))]


SETS = {"mixed": mixed, "many_small": many_small, "one_big": one_big}


def write(directory: Path, files: list[tuple[str, bytes]]) -> list[str]:
    """Writes the files into `directory`; returns their names, in order."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files:
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_bytes(data)
    return [name for name, _ in files]


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under `directory`, by relative path, with its bytes."""
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }
