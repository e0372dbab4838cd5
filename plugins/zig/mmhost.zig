//! mmhost.zig: the guest library for mmhost plugins in Zig, the counterpart
//! of plugins/mmhost-guest (Rust) and plugins/c/mmhost_guest.h (C).
//!
//! It owns the plugin's side of the component model's canonical ABI for the
//! `transform` world of wit/mmhost.wit: the imports (`extern` functions named
//! as the component model names them), the `run` export, `cabi_realloc` and
//! `cabi_post_run`. No bindings generator is involved: the module is a plain
//! `wasm32-freestanding` core module that `mmhost wrap` (or mmhost at load
//! time) turns into a component with mmhost's own WIT. It imports nothing
//! but mmhost's interfaces (no WASI, no libc).
//!
//! A plugin is a source file that imports this one, defines
//!
//!     fn run(gpa: std.mem.Allocator, args: []const []const u8) mmhost.Error![]u8
//!
//! and exports it with `comptime { mmhost.exportRun(run); }`. `run` returns
//! its `ok` text allocated with `gpa` (the caller owns it: this library
//! frees it after the host has copied it). Failing region calls
//! return a `RegionError` and record the details (offsets, lengths) in
//! `lastFailure()`; returning that error from `run` gives the same message
//! the Rust library prints. `fail("usage: ...", .{})` returns an error with a
//! message of the plugin's own. Memory: `allocator` (a `std.mem.Allocator`
//! over wasm linear memory) backs everything the host allocates in the
//! plugin, so buffers from `region.read` are freed with `allocator.free`.
const std = @import("std");

/// The allocator of the plugin's linear memory (the host allocates `run`'s
/// arguments and `read`'s results through `cabi_realloc`, which uses it too).
pub const allocator = std.heap.wasm_allocator;

/// Bytes per chunk: 1 MiB, as in the Rust library.
pub const default_chunk: u64 = 1 << 20;

/// Why a region call failed; `lastFailure()` holds the details.
pub const RegionError = error{ OutOfRange, ReadOnly, TooLarge, NoSuchSegment };

/// What `run` may return: a region error, a message of the plugin's own
/// (`fail`), or out of memory.
pub const Error = RegionError || error{ Failed, OutOfMemory };

/// The details of the last failed region call, as the host returned them.
pub const Failure = union(enum) {
    /// `[at, at + len)` is not inside a region of `size` bytes.
    out_of_range: struct { at: i64, len: u64, size: u64 },
    /// The run is read-only (no `--in-place` or `--output`).
    read_only,
    /// A read of `len` bytes exceeds the host's `limit` per read.
    too_large: struct { len: u64, limit: u64 },
    /// `locate` named segment `segment` of `count`.
    no_such_segment: struct { segment: u32, count: u32 },

    /// The message the Rust library (`RegionError`'s Display) gives,
    /// written into `buf`.
    pub fn message(self: Failure, buf: []u8) []const u8 {
        return switch (self) {
            .out_of_range => |f| std.fmt.bufPrint(buf, "access of {d} bytes at offset {d} is out of range for a region of {d} bytes", .{ f.len, f.at, f.size }),
            .read_only => std.fmt.bufPrint(buf, "region is read-only (run with --in-place or --output)", .{}),
            .too_large => |f| std.fmt.bufPrint(buf, "read of {d} bytes exceeds the host's limit of {d} bytes per read (read in chunks)", .{ f.len, f.limit }),
            .no_such_segment => |f| std.fmt.bufPrint(buf, "no segment {d}: the region has {d} segment{s}", .{ f.segment, f.count, if (f.count == 1) "" else "s" }),
        } catch buf[0..0];
    }
};

var last_failure: Failure = .read_only;

/// The details of the last region call that returned a `RegionError`.
pub fn lastFailure() Failure {
    return last_failure;
}

var fail_buf: [1024]u8 = undefined;
var fail_text: []const u8 = "";

/// Sets the `err` text of this run and returns `error.Failed`, for `run`
/// to return: `return mmhost.fail("usage: count PATTERN", .{});`. A message
/// longer than 1 KiB is cut.
pub fn fail(comptime fmt: []const u8, args: anytype) error{Failed} {
    fail_text = std.fmt.bufPrint(&fail_buf, fmt, args) catch fail_buf[0..];
    return error.Failed;
}

// ---------------------------------------------------------------------------
// The canonical ABI: imports in their lowered form.

/// A `list<u8>` or `string` as the canonical ABI lays it out.
const WitList = extern struct { ptr: ?[*]u8, len: usize };

/// The return area of a `result<T, error>`: byte 0 the discriminant, the
/// payload at 8 (ok: a list; err: the error's tag at 8 and its payload at 16).
const ResultArea = extern struct {
    is_err: u8,
    pad: [7]u8,
    payload: [32]u8,

    fn list(self: *const ResultArea) WitList {
        return .{ .ptr = @ptrFromInt(self.word(u32, 0)), .len = self.word(u32, 4) };
    }

    fn word(self: *const ResultArea, comptime T: type, comptime at: usize) T {
        return std.mem.readInt(T, self.payload[at..][0..@sizeOf(T)], .little);
    }

    /// Records the error in `last_failure`; `len` is what the call asked for.
    fn failure(self: *const ResultArea, len: u64, segment: u32) RegionError {
        switch (self.payload[0]) {
            0 => {
                last_failure = .{ .out_of_range = .{ .at = self.word(i64, 8), .len = self.word(u64, 16), .size = self.word(u64, 24) } };
                return error.OutOfRange;
            },
            1 => {
                last_failure = .read_only;
                return error.ReadOnly;
            },
            2 => {
                last_failure = .{ .too_large = .{ .len = len, .limit = self.word(u64, 8) } };
                return error.TooLarge;
            },
            else => {
                last_failure = .{ .no_such_segment = .{ .segment = segment, .count = self.word(u32, 8) } };
                return error.NoSuchSegment;
            },
        }
    }
};

/// The imports, named `mmhost:plugin/<interface>@0.1.3` (0.1.3 for `digest`;
/// changes within 0.1.x only add, so later mmhost versions link them).
const wit = struct {
    extern "mmhost:plugin/region@0.1.3" fn size() u64;
    extern "mmhost:plugin/region@0.1.3" fn writable() bool;
    extern "mmhost:plugin/region@0.1.3" fn read(at: i64, len: u64, ret: *ResultArea) void;
    extern "mmhost:plugin/region@0.1.3" fn write(at: i64, ptr: [*]const u8, len: usize, ret: *ResultArea) void;
    extern "mmhost:plugin/region@0.1.3" fn locate(segment: u32, delta: i64, ret: *ResultArea) void;
    extern "mmhost:plugin/region@0.1.3" fn find(ptr: [*]const u8, len: usize, start: u64, end: u64, limit: u32, ret: *ResultArea) void;
    extern "mmhost:plugin/region@0.1.3" fn digest(algorithm: u32, at: i64, len: u64, ret: *ResultArea) void;
    extern "mmhost:plugin/host@0.1.3" fn log(level: u32, ptr: [*]const u8, len: usize) void;
    extern "mmhost:plugin/host@0.1.3" fn progress(done: u64, total: u64) void;
    extern "mmhost:plugin/output@0.1.3" fn emit(ptr: [*]const u8, len: usize) void;
    extern "mmhost:plugin/config@0.1.3" fn get(ret: *WitList) void;
};

/// Takes ownership of a list the host allocated in our memory.
fn owned(comptime T: type, l: WitList) []T {
    const p = l.ptr orelse return &.{};
    if (l.len == 0) return &.{};
    return @as([*]T, @ptrCast(@alignCast(p)))[0..l.len];
}

// ---------------------------------------------------------------------------
// The region.

/// The mapped region: every input file, concatenated. Offsets are global;
/// a negative offset counts from the end (-1 is the last byte).
pub const region = struct {
    /// The size of the region in bytes.
    pub fn size() u64 {
        return wit.size();
    }

    /// Whether writes are allowed (`--in-place` or `--output`).
    pub fn writable() bool {
        return wit.writable();
    }

    /// Reads `len` bytes at `at` (no short reads; at most 64 MiB). The
    /// caller owns the result: `mmhost.allocator.free(bytes)`.
    pub fn read(at: i64, len: u64) RegionError![]u8 {
        var ret: ResultArea = undefined;
        wit.read(at, len, &ret);
        if (ret.is_err != 0) return ret.failure(len, 0);
        return owned(u8, ret.list());
    }

    /// Writes `data` at `at`; never changes any size.
    pub fn write(at: i64, data: []const u8) RegionError!void {
        var ret: ResultArea = undefined;
        wit.write(at, data.ptr, data.len, &ret);
        if (ret.is_err != 0) return ret.failure(data.len, 0);
    }

    /// The global offset of byte `delta` of segment `segment`.
    pub fn locate(segment: u32, delta: i64) RegionError!u64 {
        var ret: ResultArea = undefined;
        wit.locate(segment, delta, &ret);
        if (ret.is_err != 0) return ret.failure(0, segment);
        return ret.word(u64, 0);
    }

    /// Up to `limit` offsets of non-overlapping occurrences of `pattern`
    /// wholly inside `[start, end)`, leftmost first, searched by the host.
    /// An empty pattern finds nothing. The caller owns the result.
    pub fn find(pattern: []const u8, start: u64, end: u64, limit: u32) RegionError![]u64 {
        var ret: ResultArea = undefined;
        wit.find(pattern.ptr, pattern.len, start, end, limit, &ret);
        if (ret.is_err != 0) return ret.failure(end -| start, 0);
        return owned(u64, ret.list());
    }

    /// The SHA-256 of the `len` bytes at `at`, computed by the host over
    /// the mapping (no copy into the plugin, no read limit).
    pub fn sha256(at: i64, len: u64) RegionError![32]u8 {
        var ret: ResultArea = undefined;
        wit.digest(0, at, len, &ret);
        if (ret.is_err != 0) return ret.failure(len, 0);
        const bytes = owned(u8, ret.list());
        defer allocator.free(bytes);
        var out: [32]u8 = undefined;
        if (bytes.len != out.len) @panic("region.digest: not 32 bytes");
        @memcpy(&out, bytes);
        return out;
    }

    /// Chunks of the whole region (see `Chunks`).
    pub fn chunks() Chunks {
        return Chunks.init(0, size());
    }

    /// Reads each chunk of `[0, size)`, lets `f` change it in place and
    /// writes it back. `error.ReadOnly` unless the run is writable.
    pub fn transform(chunk_size: u64, comptime f: fn (offset: u64, bytes: []u8) void) RegionError!void {
        return transformRange(0, size(), chunk_size, f);
    }

    /// `transform` over `[start, end)`.
    pub fn transformRange(start: u64, end: u64, chunk_size: u64, comptime f: fn (offset: u64, bytes: []u8) void) RegionError!void {
        if (!writable()) {
            last_failure = .read_only;
            return error.ReadOnly;
        }
        var it = Chunks.init(start, end);
        it.chunk_size = chunk_size;
        defer it.deinit();
        while (try it.next()) |chunk| {
            f(chunk.offset, chunk.bytes);
            try write(@intCast(chunk.offset), chunk.bytes);
        }
    }
};

/// One chunk: its global offset and its bytes (valid until the next call
/// to `Chunks.next`).
pub const Chunk = struct { offset: u64, bytes: []u8 };

/// An iterator over `[start, end)` in chunks of `chunk_size` new bytes.
/// With `overlap` k, each chunk after the first also starts with the last k
/// bytes of the one before (its offset is k smaller), so that a search sees
/// matches straddling two chunks. Reports progress unless `report_progress`
/// is false.
///
///     var it = mmhost.region.chunks();
///     defer it.deinit();
///     while (try it.next()) |chunk| use(chunk.offset, chunk.bytes);
pub const Chunks = struct {
    start: u64,
    pos: u64,
    end: u64,
    chunk_size: u64 = default_chunk,
    overlap: u64 = 0,
    report_progress: bool = true,
    current: []u8 = &.{},

    pub fn init(start: u64, end: u64) Chunks {
        return .{ .start = start, .pos = start, .end = @max(start, end) };
    }

    /// The next chunk, `null` at the end; frees the chunk before.
    pub fn next(self: *Chunks) RegionError!?Chunk {
        self.deinit();
        if (self.pos >= self.end) return null;
        const upto = self.pos + @min(self.end - self.pos, @max(self.chunk_size, 1));
        const from = if (self.pos == self.start) self.pos else self.pos - @min(self.overlap, self.pos - self.start);
        self.current = try region.read(@intCast(from), upto - from);
        self.pos = upto;
        if (self.report_progress) progress(self.pos - self.start, self.end - self.start);
        return .{ .offset = from, .bytes = self.current };
    }

    /// Frees the current chunk (`next` does it for the one before).
    pub fn deinit(self: *Chunks) void {
        allocator.free(self.current);
        self.current = &.{};
    }
};

// ---------------------------------------------------------------------------
// Host services.

/// Severity of a log message; the user picks which show (`-v`, `-q`).
pub const Level = enum(u32) { trace, debug, info, warn, err };

/// Writes `message` to mmhost's stderr, prefixed with the plugin's name.
pub fn log(level: Level, message: []const u8) void {
    wit.log(@backingInt(level), message.ptr, message.len);
}

var last_progress: u64 = 0;

/// Reports progress, at most once per 1% of `total` (and at the end).
pub fn progress(done: u64, total: u64) void {
    const step = @max(total / 100, 1);
    if (done >= total or done -% last_progress >= step or done < last_progress) {
        last_progress = done;
        wit.progress(done, total);
    }
}

/// Appends bytes to the plugin's output (mmhost's stdout).
pub fn emit(data: []const u8) void {
    wit.emit(data.ptr, data.len);
}

/// The step's configuration in a job file, as JSON text (`null` when there
/// is none). The caller owns it.
pub fn config() []u8 {
    var l: WitList = undefined;
    wit.get(&l);
    return owned(u8, l);
}

// ---------------------------------------------------------------------------
// Exports.

/// `cabi_realloc(old, old_size, align, new_size)`: the host allocates in our
/// memory through it. A zero-size allocation is the (never dereferenced,
/// never freed) address `align`; everything else comes from `allocator`.
fn cabiRealloc(old: ?[*]u8, old_size: usize, alignment: usize, new_size: usize) callconv(.c) ?[*]u8 {
    const a = std.mem.Alignment.fromByteUnits(alignment);
    if (new_size == 0) {
        if (old_size != 0) allocator.rawFree(old.?[0..old_size], a, @returnAddress());
        return @ptrFromInt(alignment);
    }
    if (old_size == 0) {
        return allocator.rawAlloc(new_size, a, @returnAddress()) orelse @trap();
    }
    if (allocator.rawRemap(old.?[0..old_size], a, new_size, @returnAddress())) |p| return p;
    const p = allocator.rawAlloc(new_size, a, @returnAddress()) orelse @trap();
    @memcpy(p[0..@min(old_size, new_size)], old.?[0..@min(old_size, new_size)]);
    allocator.rawFree(old.?[0..old_size], a, @returnAddress());
    return p;
}

/// `run`'s return area: `result<string, string>`.
const RunResult = extern struct { is_err: u8, ptr: [*]const u8, len: usize };
var run_result: RunResult = undefined;
/// The `ok` text `cabi_post_run` frees.
var run_owned: []u8 = &.{};

/// The signature of a plugin's `run` (see the top of this file).
pub const RunFn = fn (gpa: std.mem.Allocator, args: []const []const u8) Error![]u8;

/// Exports `f` as the world's `run`, with `cabi_realloc` and
/// `cabi_post_run`: the one line a plugin file needs,
/// `comptime { mmhost.exportRun(run); }`.
pub fn exportRun(comptime f: RunFn) void {
    const S = struct {
        fn run(args_ptr: [*]WitList, args_len: usize) callconv(.c) *RunResult {
            return callRun(f, args_ptr, args_len);
        }
    };
    @export(&S.run, .{ .name = "run" });
    @export(&cabiRealloc, .{ .name = "cabi_realloc" });
    @export(&cabiPostRun, .{ .name = "cabi_post_run" });
}

fn callRun(comptime f: RunFn, args_ptr: [*]WitList, args_len: usize) *RunResult {
    const list = args_ptr[0..args_len];
    // The strings are ours; view them as slices for the plugin.
    const args = allocator.alloc([]const u8, args_len) catch @trap();
    for (list, args) |l, *a| a.* = owned(u8, l);
    const result = f(allocator, args);
    for (args) |a| allocator.free(a);
    allocator.free(args);
    if (args_len != 0) {
        const bytes = @as([*]u8, @ptrCast(args_ptr))[0 .. args_len * @sizeOf(WitList)];
        allocator.rawFree(bytes, .fromByteUnits(@alignOf(WitList)), @returnAddress());
    }
    if (result) |text| {
        run_owned = text;
        // A zero-length slice's pointer may be any address; the host checks
        // it against the memory's bounds, so give it one inside.
        run_result = .{ .is_err = 0, .ptr = if (text.len == 0) @ptrCast(&run_result) else text.ptr, .len = text.len };
    } else |e| {
        const message: []const u8 = switch (e) {
            error.Failed => fail_text,
            error.OutOfMemory => "out of memory",
            else => last_failure.message(&fail_buf),
        };
        run_result = .{ .is_err = 1, .ptr = message.ptr, .len = message.len };
    }
    return &run_result;
}

/// Frees `run`'s `ok` text once the host has copied it.
fn cabiPostRun(_: *RunResult) callconv(.c) void {
    allocator.free(run_owned);
    run_owned = &.{};
}

/// The panic handler for a plugin's root file, `pub const panic =
/// mmhost.panic;`: logs the message at error level (as the Rust library
/// does), then traps, so mmhost reports the trap with a backtrace.
pub const panic = std.debug.FullPanic(logAndTrap);

fn logAndTrap(message: []const u8, _: ?usize) noreturn {
    @branchHint(.cold);
    log(.err, message);
    @trap();
}

/// The decimal digits of `v`, allocated: for `ok` texts that are numbers.
pub fn decimal(gpa: std.mem.Allocator, v: u64) error{OutOfMemory}![]u8 {
    return std.fmt.allocPrint(gpa, "{d}", .{v});
}
