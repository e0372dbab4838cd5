"""count PATTERN: the number of non-overlapping occurrences of PATTERN (its
UTF-8 bytes) in the region, exactly like Python's bytes.count over the
concatenation: matches are taken greedily from the left, an empty pattern
counts size + 1, and matches that straddle chunk or file boundaries count.
"""

from mmhost_guest import Err, Plugin, region, entry


def count(pattern: bytes) -> int:
    n = len(pattern)
    if n == 0:
        return region.size() + 1
    total = 0
    # `carry` holds the bytes after the last counted match among the last
    # n - 1 of the previous chunk: where the greedy scan goes on.
    carry = b""
    for _offset, chunk in region.chunks():
        buf = carry + chunk
        if len(buf) < n:
            carry = buf
            continue
        # No match can start at or after `cut`: it would lack bytes.
        cut = len(buf) - n + 1
        # bytes.count(p, 0, x) counts the greedy matches that end by x.
        found = buf.count(pattern)
        total += found
        if n == 1 or buf.count(pattern, 0, cut) == found:
            carry = buf[cut:]
        else:
            # The last match ends after `cut`: find its end, the least x
            # where the matches that end by x are all of them.
            lo, hi = cut + 1, len(buf)
            while lo < hi:
                mid = (lo + hi) // 2
                if buf.count(pattern, 0, mid) == found:
                    hi = mid
                else:
                    lo = mid + 1
            carry = buf[lo:]
    return total


class WitWorld(Plugin):
    @entry
    def run(self, args: list[str]) -> str:
        if len(args) != 1:
            raise Err("usage: count PATTERN")
        return str(count(args[0].encode()))
