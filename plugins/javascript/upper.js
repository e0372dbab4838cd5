// upper: ASCII-uppercases the whole region in place (--in-place or --output).
import { entry, region } from './mmhost-guest.js';

// Four bytes per step (SWAR): a byte is a-z iff its low 7 bits are at least
// 0x61 and below 0x7b and its top bit is clear; those lose 0x20. JavaScript
// runs interpreted inside wasm here, so fewer steps matter.
function uppercase(bytes) {
  const head = Math.min((4 - (bytes.byteOffset & 3)) & 3, bytes.length);
  for (let i = 0; i < head; i++) bytes[i] = upperByte(bytes[i]);
  const words = (bytes.length - head) >>> 2;
  const w32 = new Uint32Array(bytes.buffer, bytes.byteOffset + head, words);
  for (let i = 0; i < words; i++) {
    const w = w32[i];
    const low = w & 0x7f7f7f7f;
    const mask = (low + 0x1f1f1f1f) & ~(low + 0x05050505) & ~w & 0x80808080;
    w32[i] = w ^ (mask >>> 2);
  }
  for (let i = head + words * 4; i < bytes.length; i++) bytes[i] = upperByte(bytes[i]);
}

function upperByte(b) {
  return b >= 0x61 && b <= 0x7a ? b - 0x20 : b;
}

export const run = entry((args) => {
  region.transformChunks((_offset, bytes) => uppercase(bytes));
  return '';
});
