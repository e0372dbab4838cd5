// A small guest library for mmhost plugins in AssemblyScript: the
// counterpart of plugins/mmhost-guest (Rust). It declares the imports of the
// mmhost `transform` world (wit/mmhost.wit) in the lowered canonical ABI,
// manages the memory the host writes results into, and adds chunked reads,
// an in-place transform, error messages identical to the Rust library's,
// logging and throttled progress.
//
// A plugin re-exports `cabi_realloc` and exports `run`:
//
//   import { ok, err, args, Chunks } from "./mmhost";
//   export { cabi_realloc } from "./mmhost";
//   export function run(argsPtr: usize, argsLen: usize): usize {
//     const a = args(argsPtr, argsLen);
//     ...
//     return ok("result");      // or err("message")
//   }
//
// Compile with `asc plugin.ts --runtime stub --debug -O3
// --use abort=assembly/mmhost/mmhostAbort`: the core module imports only
// mmhost's interfaces, and `mmhost wrap` (or mmhost at load time) makes it a
// component. `--debug` keeps function names for trap backtraces;
// `mmhostAbort` logs a thrown error's message, file and line before the trap.
//
// The whole contract of WIT 0.1.3: size, segments, writable, read, write,
// locate, find, digest (region), log, progress (host), emit (output), config.
// Not the `parallel` world: `mmhost wrap` gives a core module the
// `transform` world.

// ---- imports, as the canonical ABI lowers them ----

@external("mmhost:plugin/region@0.1.0", "size")
declare function wit_size(): u64;
@external("mmhost:plugin/region@0.1.0", "writable")
declare function wit_writable(): bool;
// result<list<u8>, error> at ret: [0] 0 ok / 1 err; ok: [8] ptr, [12] len;
// err: [8] error tag, [16..40] payload.
@external("mmhost:plugin/region@0.1.0", "read")
declare function wit_read(at: i64, len: u64, ret: usize): void;
@external("mmhost:plugin/region@0.1.0", "write")
declare function wit_write(at: i64, ptr: usize, len: usize, ret: usize): void;
// result<u64, error> at ret: [0] 0 ok / 1 err, [8] the offset or the error.
@external("mmhost:plugin/region@0.1.0", "locate")
declare function wit_locate(segment: u32, delta: i64, ret: usize): void;
// list<segment> at ret: [0] ptr, [4] count; each record 24 bytes: [0] name
// ptr, [4] name len, [8] start, [16] len.
@external("mmhost:plugin/region@0.1.0", "segments")
declare function wit_segments(ret: usize): void;
// result<list<u64>, error> at ret, as read's.
@external("mmhost:plugin/region@0.1.0", "find")
declare function wit_find(ptr: usize, len: usize, start: u64, end: u64, limit: u32, ret: usize): void;
// result<list<u8>, error> at ret, as read's; algorithm 0 is sha256.
@external("mmhost:plugin/region@0.1.0", "digest")
declare function wit_digest(algorithm: u32, at: i64, len: u64, ret: usize): void;
// string at ret: [0] ptr, [4] len.
@external("mmhost:plugin/config@0.1.1", "get")
declare function wit_config(ret: usize): void;
@external("mmhost:plugin/host@0.1.0", "log")
declare function wit_log(level: u32, ptr: usize, len: usize): void;
@external("mmhost:plugin/host@0.1.0", "progress")
declare function wit_progress(done: u64, total: u64): void;
@external("mmhost:plugin/output@0.1.0", "emit")
declare function wit_emit(ptr: usize, len: usize): void;

/** Bytes per chunk: 1 MiB, as in the Rust library. */
export const DEFAULT_CHUNK: u64 = 1 << 20;

// ---- memory the host writes into ----
//
// The host allocates the results of region calls (and the arguments of run)
// with cabi_realloc. They go into an arena that is reset before each read, so
// a plugin's memory stays bounded however large the region: the bytes of a
// chunk are valid until the next read.

let arena: usize = 0;
let arenaCap: usize = 0;
let arenaUsed: usize = 0;

export function cabi_realloc(old: usize, oldSize: usize, align: usize, newSize: usize): usize {
  let p = (arena + arenaUsed + align - 1) & ~(align - 1);
  if (arena == 0 || p + newSize > arena + arenaCap) {
    // A new, larger arena; the old one stays allocated (what was handed out
    // from it remains valid).
    let cap = max<usize>(arenaCap << 1, <usize>DEFAULT_CHUNK + 4096);
    cap = max<usize>(cap, newSize + align);
    arena = heap.alloc(cap);
    arenaCap = cap;
    arenaUsed = 0;
    p = (arena + align - 1) & ~(align - 1);
  }
  if (oldSize > 0) memory.copy(p, old, oldSize);
  arenaUsed = p + newSize - arena;
  return p;
}

// Return areas of imports (8-aligned) and of run.
const RET: usize = memory.data(48, 8);
const RUN_RET: usize = memory.data(12, 4);

// ---- errors ----

/** Why a region call failed: the message of the Rust library. */
function errorMessage(ret: usize, len: u64, segment: u32): string {
  const tag = load<u8>(ret + 8);
  if (tag == 0) {
    return "access of " + load<u64>(ret + 24).toString() + " bytes at offset " + load<i64>(ret + 16).toString() +
      " is out of range for a region of " + load<u64>(ret + 32).toString() + " bytes";
  }
  if (tag == 1) return "region is read-only (run with --in-place or --output)";
  if (tag == 2) {
    return "read of " + len.toString() + " bytes exceeds the host's limit of " + load<u64>(ret + 16).toString() +
      " bytes per read (read in chunks)";
  }
  const count = load<u32>(ret + 16);
  return "no segment " + segment.toString() + ": the region has " + count.toString() + (count == 1 ? " segment" : " segments");
}

/** The last failure's message ("" if none): set when a call returns false. */
export let lastError: string = "";

// ---- the region ----

export function size(): u64 {
  return wit_size();
}

export function writable(): bool {
  return wit_writable();
}

/** Where the last successful read put its bytes, and how many. */
export let readPtr: usize = 0;
export let readLen: usize = 0;

/** Reads len bytes at `at` (negative: from the end) into readPtr/readLen,
 * valid until the next read. False on failure (see lastError). */
export function read(at: i64, len: u64): bool {
  arenaUsed = 0;
  wit_read(at, len, RET);
  if (load<u8>(RET) != 0) {
    lastError = errorMessage(RET, len, 0);
    return false;
  }
  readPtr = load<u32>(RET + 8);
  readLen = load<u32>(RET + 12);
  return true;
}

/** Writes len bytes from ptr at `at`. False on failure (see lastError). */
export function write(at: i64, ptr: usize, len: usize): bool {
  wit_write(at, ptr, len, RET);
  if (load<u8>(RET) != 0) {
    lastError = errorMessage(RET, <u64>len, 0);
    return false;
  }
  return true;
}

/** The global offset of byte `delta` of segment `segment`, or -1 on failure. */
export function locate(segment: u32, delta: i64): i64 {
  wit_locate(segment, delta, RET);
  if (load<u8>(RET) != 0) {
    lastError = errorMessage(RET, 0, segment);
    return -1;
  }
  return load<i64>(RET + 8);
}

/** One input file's place in the region: an owned copy of the host's record. */
export class Segment {
  constructor(public name: string, public start: u64, public len: u64) {}
}

/** The input files in order, with their global start offsets (owned copies,
 * valid for as long as the plugin keeps them). */
export function segments(): Segment[] {
  wit_segments(RET);
  const ptr = <usize>load<u32>(RET);
  const n = <i32>load<u32>(RET + 4);
  const out = new Array<Segment>(n);
  for (let i = 0; i < n; i++) {
    const rec = ptr + <usize>i * 24;
    const name = String.UTF8.decodeUnsafe(<usize>load<u32>(rec), <usize>load<u32>(rec + 4));
    out[i] = new Segment(name, load<u64>(rec + 8), load<u64>(rec + 16));
  }
  return out;
}

/** Up to `limit` non-overlapping occurrences of the `len` bytes at `ptr`
 * wholly inside [start, end), leftmost first, searched by the host: their
 * global offsets (an owned array). null on failure (see lastError). An empty
 * pattern finds nothing. */
export function find(ptr: usize, len: usize, start: u64, end: u64, limit: u32 = 1 << 20): u64[] | null {
  wit_find(ptr, len, start, end, limit, RET);
  if (load<u8>(RET) != 0) {
    lastError = errorMessage(RET, end > start ? end - start : 0, 0);
    return null;
  }
  const at = <usize>load<u32>(RET + 8);
  const n = <i32>load<u32>(RET + 12);
  const out = new Array<u64>(n);
  for (let i = 0; i < n; i++) out[i] = load<u64>(at + <usize>i * 8);
  return out;
}

/** find() of a string's UTF-8 bytes. */
export function findString(pattern: string, start: u64, end: u64, limit: u32 = 1 << 20): u64[] | null {
  const bytes = String.UTF8.encode(pattern);
  return find(changetype<usize>(bytes), bytes.byteLength, start, end, limit);
}

/** The algorithms of digest(). */
export enum DigestAlgorithm { Sha256 = 0 }

/** The digest (SHA-256: 32 bytes) of `len` bytes at `at` (negative: from the
 * end), computed by the host: nothing is copied into the plugin. null on
 * failure (see lastError). Needs a host of WIT 0.1.3 or later. */
export function digest(at: i64, len: u64, algorithm: DigestAlgorithm = DigestAlgorithm.Sha256): Uint8Array | null {
  wit_digest(<u32>algorithm, at, len, RET);
  if (load<u8>(RET) != 0) {
    lastError = errorMessage(RET, len, 0);
    return null;
  }
  const n = <i32>load<u32>(RET + 12);
  const out = new Uint8Array(n);
  memory.copy(out.dataStart, <usize>load<u32>(RET + 8), <usize>n);
  return out;
}

/** The step's configuration as JSON text ("null" when it has none). */
export function config(): string {
  wit_config(RET);
  return String.UTF8.decodeUnsafe(<usize>load<u32>(RET), <usize>load<u32>(RET + 4));
}

/**
 * Chunks of [start, end) of `chunkSize` new bytes: `next()` reads the next
 * one into offset/ptr/len. With an overlap k, each chunk after the first also
 * starts with the last k bytes of the one before it (its offset k smaller),
 * so that a search sees matches straddling two chunks. next() returns false
 * at the end or on failure (then `failed` is true and lastError says why).
 */
export class Chunks {
  offset: u64 = 0;
  ptr: usize = 0;
  len: usize = 0;
  failed: bool = false;
  reportProgress: bool = true;
  private pos: u64;

  constructor(public start: u64 = 0, public end: u64 = size(), public chunkSize: u64 = DEFAULT_CHUNK,
    public overlap: u64 = 0) {
    this.pos = start;
    if (this.end < start) this.end = start;
  }

  next(): bool {
    if (this.failed || this.pos >= this.end) return false;
    const stop = this.end - this.pos < this.chunkSize ? this.end : this.pos + this.chunkSize;
    let from = this.pos;
    if (this.pos != this.start) from = this.pos - this.start < this.overlap ? this.start : this.pos - this.overlap;
    if (!read(<i64>from, stop - from)) {
      this.failed = true;
      return false;
    }
    this.offset = from;
    this.ptr = readPtr;
    this.len = readLen;
    this.pos = stop;
    if (this.reportProgress) progress(this.pos - this.start, this.end - this.start);
    return true;
  }
}

/** Reads each chunk of the whole region, calls f(offset, ptr, len) to change
 * it in place and writes it back. False on failure (see lastError);
 * read-only unless the run is writable. */
export function transformChunks(f: (offset: u64, ptr: usize, len: usize) => void, chunkSize: u64 = DEFAULT_CHUNK): bool {
  if (!writable()) {
    lastError = "region is read-only (run with --in-place or --output)";
    return false;
  }
  const c = new Chunks(0, size(), chunkSize);
  while (c.next()) {
    f(c.offset, c.ptr, c.len);
    if (!write(<i64>c.offset, c.ptr, c.len)) return false;
  }
  return !c.failed;
}

// ---- run's arguments and result ----

/** The arguments of run, from its lowered parameters. */
export function args(ptr: usize, n: usize): string[] {
  const out = new Array<string>(<i32>n);
  for (let i: usize = 0; i < n; i++) {
    out[<i32>i] = String.UTF8.decodeUnsafe(load<u32>(ptr + i * 8), load<u32>(ptr + i * 8 + 4));
  }
  return out;
}

/** The raw UTF-8 bytes of argument i: [pointer, length]. */
export function argBytes(ptr: usize, i: usize): StaticArray<usize> {
  return [load<u32>(ptr + i * 8), load<u32>(ptr + i * 8 + 4)];
}

function result(tag: u8, s: string): usize {
  const bytes = String.UTF8.encode(s);
  store<u8>(RUN_RET, tag);
  store<u32>(RUN_RET + 4, changetype<usize>(bytes));
  store<u32>(RUN_RET + 8, bytes.byteLength);
  return RUN_RET;
}

/** run's `ok(text)`: printed on stdout. */
export function ok(text: string): usize {
  return result(0, text);
}

/** run's `err(text)`: printed on stderr, exit code 1. */
export function err(text: string): usize {
  return result(1, text);
}

// ---- host services ----

export enum Level { Trace = 0, Debug = 1, Info = 2, Warn = 3, Error = 4 }

export function log(level: Level, message: string): void {
  const bytes = String.UTF8.encode(message);
  wit_log(<u32>level, changetype<usize>(bytes), bytes.byteLength);
}

let lastProgress: u64 = 0;

/** Reports progress, at most once per 1% (and always at the end). */
export function progress(done: u64, total: u64): void {
  const step = max<u64>(total / 100, 1);
  if (done >= total || done - lastProgress >= step || done < lastProgress) {
    lastProgress = done;
    wit_progress(done, total);
  }
}

/** Appends len bytes at ptr to the plugin's output (mmhost's stdout). */
export function emit(ptr: usize, len: usize): void {
  wit_emit(ptr, len);
}

/** Appends a string, as UTF-8, to the plugin's output. */
export function emitString(s: string): void {
  const bytes = String.UTF8.encode(s);
  wit_emit(changetype<usize>(bytes), bytes.byteLength);
}

/** Hexadecimal digits of bytes (for digests). */
export function hex(bytes: Uint8Array): string {
  const digits = "0123456789abcdef";
  let out = "";
  for (let i = 0; i < bytes.length; i++) {
    out += digits.charAt(bytes[i] >> 4) + digits.charAt(bytes[i] & 15);
  }
  return out;
}

// ---- aborts ----

/**
 * AssemblyScript's `abort` (a thrown error, a failed assertion, an index out
 * of range): logs the message, file, line and column at error level, then
 * traps (mmhost exit code 5), as a Rust panic does. Build with
 * `--use abort=assembly/mmhost/mmhostAbort` (the scaffold's build.sh does);
 * `--use abort=` instead traps with no message.
 */
export function mmhostAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  let text = message !== null ? message : "abort";
  if (fileName !== null) text += " at " + fileName + ":" + line.toString() + ":" + column.toString();
  log(Level.Error, text);
  unreachable();
}
