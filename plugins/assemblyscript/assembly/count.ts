// count PATTERN: the number of non-overlapping occurrences of PATTERN (its
// UTF-8 bytes) in the region, exactly like Python's bytes.count over the
// concatenation: matches are taken greedily from the left, an empty pattern
// counts size + 1, and matches that straddle chunk or file boundaries count.
import { ok, err, argBytes, size, Chunks, lastError } from "./mmhost";
export { cabi_realloc } from "./mmhost";

export function run(argsPtr: usize, argsLen: usize): usize {
  if (argsLen != 1) return err("usage: count PATTERN");
  // The host put the pattern in the arena that every read reuses: copy it.
  const arg = argBytes(argsPtr, 0);
  const n = arg[1];
  if (n == 0) return ok((size() + 1).toString());
  const pat = heap.alloc(n);
  memory.copy(pat, arg[0], n);
  const first = load<u8>(pat);
  let total: u64 = 0;
  // With an overlap of n - 1 every occurrence lies whole in one chunk; a
  // match counts only if it starts at or after `next`, the global end of the
  // last one counted.
  let next: u64 = 0;
  const c = new Chunks(0, size(), 1 << 20, n - 1);
  while (c.next()) {
    if (c.len < n) continue;
    const last = c.len - n;
    let i: usize = next > c.offset ? <usize>(next - c.offset) : 0;
    while (i <= last) {
      if (load<u8>(c.ptr + i) == first && memory.compare(c.ptr + i, pat, n) == 0) {
        total++;
        i += n;
        next = c.offset + i;
      } else {
        i++;
      }
    }
  }
  if (c.failed) return err(lastError);
  return ok(total.toString());
}
