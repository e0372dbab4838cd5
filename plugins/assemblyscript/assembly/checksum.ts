// checksum: prints `<sha256 hex> <size>` of the whole region.
import { ok, err, size, Chunks, lastError } from "./mmhost";
import { Sha256 } from "./sha256";
export { cabi_realloc } from "./mmhost";

export function run(argsPtr: usize, argsLen: usize): usize {
  const hash = new Sha256();
  const c = new Chunks();
  while (c.next()) hash.update(c.ptr, c.len);
  if (c.failed) return err(lastError);
  return ok(hash.hex() + " " + size().toString());
}
