// count PATTERN: the number of non-overlapping occurrences of PATTERN (its
// UTF-8 bytes) in the region, exactly like Python's bytes.count over the
// concatenation: matches are taken greedily from the left, an empty pattern
// counts size + 1, and matches that straddle chunk or file boundaries count.
import { entry, region } from './mmhost-guest.js';

export function count(pattern) {
  const n = pattern.length;
  if (n === 0) return region.size() + 1;
  let total = 0;
  // Global offset where the next counted match may start: a match is counted
  // only if it starts at or after the end of the last one.
  let next = 0;
  // With an overlap of n - 1 every occurrence lies whole in one chunk.
  for (const [offset, bytes] of region.chunks({ overlap: n - 1 })) {
    const last = bytes.length - n;
    let i = Math.max(next - offset, 0);
    while (i <= last) {
      // indexOf is native code: find the first byte, then compare the rest.
      i = bytes.indexOf(pattern[0], i);
      if (i < 0 || i > last) break;
      let k = 1;
      while (k < n && bytes[i + k] === pattern[k]) k++;
      if (k === n) {
        total++;
        i += n;
        next = offset + i;
      } else {
        i++;
      }
    }
  }
  return total;
}

export const run = entry((args) => {
  if (args.length !== 1) throw 'usage: count PATTERN';
  return String(count(new TextEncoder().encode(args[0])));
});
