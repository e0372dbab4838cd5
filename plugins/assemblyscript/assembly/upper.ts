// upper: ASCII-uppercases the whole region in place (--in-place or --output).
import { ok, err, transformChunks, lastError } from "./mmhost";
export { cabi_realloc } from "./mmhost";

// 16 bytes per step with SIMD: a byte is a-z iff (b - 'a') < 26 unsigned;
// those lose 0x20.
function uppercase(_offset: u64, ptr: usize, len: usize): void {
  const end = ptr + len;
  const a = i8x16.splat(0x61);
  const n = i8x16.splat(26);
  const d = i8x16.splat(0x20);
  let p = ptr;
  while (p + 16 <= end) {
    const v = v128.load(p);
    v128.store(p, i8x16.sub(v, v128.and(i8x16.lt_u(i8x16.sub(v, a), n), d)));
    p += 16;
  }
  for (; p < end; p++) {
    const b = load<u8>(p);
    if (<u8>(b - 0x61) < 26) store<u8>(p, b - 0x20);
  }
}

export function run(argsPtr: usize, argsLen: usize): usize {
  if (!transformChunks(uppercase)) return err(lastError);
  return ok("");
}
