//! count PATTERN: the number of non-overlapping occurrences of PATTERN (its
//! UTF-8 bytes) in the region, exactly like Python's `bytes.count`: matches
//! are taken greedily from the left, an empty pattern counts size + 1, and
//! matches that straddle file boundaries count. The host searches
//! (`region.find`, SIMD memmem over the mapping); nothing is copied in.
//! In a job file the pattern may come from the step's configuration:
//! `{"pattern": "..."}`.
const std = @import("std");
const mmhost = @import("mmhost.zig");

comptime {
    mmhost.exportRun(run);
}

pub const panic = mmhost.panic;

const usage = "usage: count PATTERN";

/// How many offsets one `find` call returns at most.
const batch: u32 = 1 << 16;

fn run(gpa: std.mem.Allocator, args: []const []const u8) mmhost.Error![]u8 {
    var config: ?std.json.Parsed(Config) = null;
    defer if (config) |c| c.deinit();
    const pattern = switch (args.len) {
        1 => args[0],
        0 => blk: {
            config = try parseConfig(gpa);
            const c = config orelse return mmhost.fail(usage, .{});
            break :blk c.value.pattern;
        },
        else => return mmhost.fail(usage, .{}),
    };
    const size = mmhost.region.size();
    if (pattern.len == 0) return mmhost.decimal(gpa, size + 1);
    var total: u64 = 0;
    var pos: u64 = 0;
    while (true) {
        const hits = try mmhost.region.find(pattern, pos, size, batch);
        defer gpa.free(hits);
        total += hits.len;
        if (hits.len < batch) break;
        pos = hits[hits.len - 1] + pattern.len;
    }
    return mmhost.decimal(gpa, total);
}

/// The step's configuration in a job file.
const Config = struct { pattern: []const u8 };

/// The configuration, or null when the step has none.
fn parseConfig(gpa: std.mem.Allocator) mmhost.Error!?std.json.Parsed(Config) {
    const text = mmhost.config();
    defer gpa.free(text);
    if (std.mem.eql(u8, text, "null")) return null;
    return std.json.parseFromSlice(Config, gpa, text, .{ .allocate = .alloc_always }) catch |e| switch (e) {
        error.OutOfMemory => error.OutOfMemory,
        else => mmhost.fail("count: invalid config: {s} (expected {{\"pattern\": \"...\"}})", .{describe(e)}),
    };
}

/// Why `std.json` refused the configuration, in words.
fn describe(e: anyerror) []const u8 {
    return switch (e) {
        error.UnknownField => "unknown field, expected `pattern`",
        error.MissingField => "missing field `pattern`",
        error.DuplicateField => "duplicate field `pattern`",
        error.UnexpectedToken => "`pattern` must be a string, in an object",
        error.SyntaxError, error.UnexpectedEndOfInput => "not JSON",
        else => @errorName(e),
    };
}
