// {{name}}: an mmhost plugin in AssemblyScript. Prints the number of lines
// ('\n' bytes) in the region; change run() to do what you need.
import { ok, err, Chunks, lastError } from "./mmhost";
export { cabi_realloc } from "./mmhost"; // the host allocates through it

export function run(argsPtr: usize, argsLen: usize): usize {
  if (argsLen != 0) return err("usage: {{name}}"); // err: stderr, exit code 1
  let lines: u64 = 0;
  const c = new Chunks(); // the whole region, 1 MiB at a time
  while (c.next()) {
    for (let p = c.ptr; p < c.ptr + c.len; p++) if (load<u8>(p) == 0x0a) lines++;
  }
  if (c.failed) return err(lastError);
  return ok(lines.toString()); // ok: printed on stdout
}
