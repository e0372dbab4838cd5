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
// Compile with `asc plugin.ts --runtime stub --use abort= -O3`: the core
// module imports only mmhost's interfaces, and `mmhost wrap` (or mmhost at
// load time) makes it a component.

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
