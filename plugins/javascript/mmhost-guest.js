// A small guest library for mmhost plugins in JavaScript (componentize-js).
//
// The JavaScript counterpart of plugins/mmhost-guest: the region in chunks,
// errors with the same messages as the Rust library, logging and progress.
// Offsets and lengths are plain numbers here (exact up to 2^53 bytes); the
// WIT's s64/u64 are BigInt, converted at this boundary.
//
//   import { entry, region } from './mmhost-guest.js';
//   export const run = entry((args) => {
//     for (const [offset, bytes] of region.chunks()) { ... }
//     return 'result';                // ok: printed on stdout
//   });                               // throw 'message': err (exit code 1)
//
// componentize-js turns a thrown string into `err`; anything else thrown
// traps the plugin with no message. `entry` turns a RegionError into
// err(its message) and logs any other exception at error level before the
// trap (mmhost exit code 5), as a Rust panic does. It also checks what run
// returns: anything but a string is logged as "run returned ..., which is
// not a result<string, string>" and traps, where componentize-js would trap
// with no message.
//
// The `parallel` world (build with `--world-name parallel`): also export
//   export const chunked = parallel({ plan(args) {...}, runChunk(args, chunk) {...},
//                                     reduce(args, partials) {...} });
// plan returns a halo (a number or BigInt) or null to decline; runChunk a
// Uint8Array (chunk.start, .end and .halo are BigInts, as the WIT's u64);
// reduce a string (partials: Uint8Arrays in chunk order). `parallel` wraps
// each as `entry` wraps run.

import * as wit from 'mmhost:plugin/region@0.1.4';
import { log as hostLog, progress as hostProgress } from 'mmhost:plugin/host@0.1.4';
import { emit as hostEmit } from 'mmhost:plugin/output@0.1.4';
import { get as hostConfig } from 'mmhost:plugin/config@0.1.4';

/** Bytes per chunk: 1 MiB, as in the Rust library. */
export const DEFAULT_CHUNK = 1 << 20;

/** A region call failed; .message is the Rust library's message. */
export class RegionError extends Error {
  constructor(err, len = 0, segment = 0) {
    super(describe(err, len, segment));
    this.name = 'RegionError';
    this.error = err;
  }
}

function describe(err, len, segment) {
  switch (err && err.tag) {
    case 'out-of-range': {
      const r = err.val;
      return `access of ${r.len} bytes at offset ${r.at} is out of range for a region of ${r.size} bytes`;
    }
    case 'read-only':
      return 'region is read-only (run with --in-place or --output)';
    case 'too-large':
      return `read of ${len} bytes exceeds the host's limit of ${err.val} bytes per read (read in chunks)`;
    case 'no-such-segment':
      return `no segment ${segment}: the region has ${err.val} segment${err.val === 1 ? '' : 's'}`;
    default:
      return String(err);
  }
}

// componentize-js throws an import's `err` as an object whose `payload` is
// the error variant.
function call(f, len, segment) {
  try {
    return f();
  } catch (e) {
    if (e && typeof e === 'object' && 'payload' in e) throw new RegionError(e.payload, len, segment);
    throw e;
  }
}

export const region = {
  size: () => Number(wit.size()),
  /** The input files: [{ name, start, len }] with numbers. */
  segments: () => wit.segments().map((s) => ({ name: s.name, start: Number(s.start), len: Number(s.len) })),
  writable: () => wit.writable(),
  /** `len` bytes at `at` (negative: from the end), a Uint8Array; no short reads. */
  read: (at, len) => call(() => wit.read(BigInt(at), BigInt(len)), len),
  write: (at, bytes) => call(() => wit.write(BigInt(at), bytes), bytes.length),
  locate: (segment, delta) => Number(call(() => wit.locate(segment, BigInt(delta)), 0, segment)),
  /**
   * Up to `limit` non-overlapping occurrences of `pattern` (a Uint8Array, or
   * a string as UTF-8) wholly inside [start, end), leftmost first, searched
   * by the host: their global offsets, as numbers. An empty pattern finds
   * nothing.
   */
  find: (pattern, { start = 0, end = undefined, limit = 1 << 20 } = {}) => {
    const bytes = typeof pattern === 'string' ? new TextEncoder().encode(pattern) : pattern;
    const stop = end === undefined ? region.size() : end;
    const found = call(() => wit.find(bytes, BigInt(start), BigInt(stop), limit), Math.max(stop - start, 0));
    return Array.from(found, Number);
  },
  /**
   * The digest ('sha256': 32 bytes, a Uint8Array) of `len` bytes at `at`
   * (default: the whole region), computed by the host: nothing is copied into
   * the plugin. Needs a host of WIT 0.1.3 or later.
   */
  digest: ({ at = 0, len = undefined, algorithm = 'sha256' } = {}) => {
    const n = len === undefined ? region.size() : len;
    return call(() => wit.digest(algorithm, BigInt(at), BigInt(n)), n);
  },
  /**
   * How many of the `len` bytes at `at` (default: the whole region) equal
   * `byte` (a number 0-255, or a one-character string), counted by the host
   * over the mapping: nothing is copied into the plugin but the number
   * (`count('\n')` counts lines as `wc -l` does). Needs a host of WIT 0.1.4
   * or later.
   */
  count: (byte, { at = 0, len = undefined } = {}) => {
    const b = typeof byte === 'string' ? byte.charCodeAt(0) : byte;
    const n = len === undefined ? region.size() : len;
    return Number(call(() => wit.count(b, BigInt(at), BigInt(n)), n));
  },

  /**
   * Yields [offset, bytes] over [start, end) in chunks of `chunkSize` new
   * bytes; with `overlap` k, each chunk after the first also starts with the
   * previous chunk's last k bytes (its offset k smaller), so that a search
   * sees matches that straddle two chunks.
   */
  *chunks({ start = 0, end = undefined, chunkSize = DEFAULT_CHUNK, overlap = 0, reportProgress = true } = {}) {
    const stop = end === undefined ? region.size() : end;
    let pos = start;
    while (pos < stop) {
      const next = Math.min(pos + chunkSize, stop);
      const from = pos === start ? pos : Math.max(start, pos - overlap);
      yield [from, region.read(from, next - from)];
      pos = next;
      if (reportProgress) progress(pos - start, stop - start);
    }
  },

  /** Replaces each chunk by calling f(offset, bytes), which changes bytes in place. */
  transformChunks(f, chunkSize = DEFAULT_CHUNK) {
    if (!region.writable()) throw new RegionError({ tag: 'read-only' });
    for (const [offset, bytes] of region.chunks({ chunkSize })) {
      f(offset, bytes);
      region.write(offset, bytes);
    }
  },
};

function describeValue(v) {
  let text;
  try {
    text = typeof v === 'bigint' ? `${v}n` : JSON.stringify(v);
  } catch {
    text = undefined;
  }
  if (text === undefined) text = String(v);
  if (text.length > 60) text = `${text.slice(0, 57)}...`;
  const kind = v === null ? 'null' : Array.isArray(v) ? 'array' : v instanceof Uint8Array ? 'Uint8Array' : typeof v;
  return `${text} (${kind})`;
}

// What each export must return: [check, WIT type, what to return instead,
// conversion to what componentize-js expects].
const RESULTS = {
  run: [(v) => typeof v === 'string', 'result<string, string>', 'a string', (v) => v],
  reduce: [(v) => typeof v === 'string', 'result<string, string>', 'a string', (v) => v],
  plan: [
    (v) => v === null || v === undefined || (typeof v === 'bigint' && v >= 0n && v < 1n << 64n) ||
      (Number.isSafeInteger(v) && v >= 0),
    'result<option<u64>, string>', 'null or a non-negative integer',
    (v) => (v === null || v === undefined ? undefined : BigInt(v)),
  ],
  runChunk: [(v) => v instanceof Uint8Array, 'result<list<u8>, string>', 'a Uint8Array', (v) => v],
};

function wrap(name, f) {
  const [check, witType, instead, convert] = RESULTS[name];
  const wrong = (what) => {
    const message = `${name} ${what}, which is not a ${witType}: return ${instead} (ok) or throw a string (err)`;
    log.error(message);
    throw new TypeError(message);
  };
  return (...args) => {
    let result;
    try {
      result = f(...args);
    } catch (e) {
      if (typeof e === 'string') throw e;
      if (e instanceof RegionError) throw e.message;
      log.error(`uncaught exception: ${e && e.stack ? `${e}\n${e.stack}` : e}`);
      throw e;
    }
    if (!check(result)) wrong(`returned ${describeValue(result)}`);
    return convert(result);
  };
}

/** Wraps a run function: see the top of this file. */
export function entry(run) {
  return wrap('run', run);
}

/** Wraps the `chunked` export of the parallel world: see the top of this file. */
export function parallel({ plan, runChunk, reduce }) {
  return { plan: wrap('plan', plan), runChunk: wrap('runChunk', runChunk), reduce: wrap('reduce', reduce) };
}

/** The step's configuration as JSON text ('null' when it has none). */
export function config() {
  return hostConfig();
}

/** Appends bytes (a Uint8Array, or a string as UTF-8) to the plugin's output. */
export function emit(data) {
  hostEmit(typeof data === 'string' ? new TextEncoder().encode(data) : data);
}

export const log = {
  trace: (m) => hostLog('trace', m),
  debug: (m) => hostLog('debug', m),
  info: (m) => hostLog('info', m),
  warn: (m) => hostLog('warn', m),
  error: (m) => hostLog('error', m),
};

let lastProgress = 0;
/** Reports progress, at most once per 1% (and always at the end). */
export function progress(done, total) {
  const step = Math.max(Math.floor(total / 100), 1);
  if (done >= total || done - lastProgress >= step || done < lastProgress) {
    lastProgress = done;
    hostProgress(BigInt(done), BigInt(total));
  }
}
