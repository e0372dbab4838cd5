//! upper: ASCII-uppercases the whole region in place (needs `--in-place` or
//! `--output`). Bytes other than `a`-`z` are left alone, so UTF-8 stays valid.
const std = @import("std");
const mmhost = @import("mmhost.zig");

comptime {
    mmhost.exportRun(run);
}

pub const panic = mmhost.panic;

fn run(gpa: std.mem.Allocator, args: []const []const u8) mmhost.Error![]u8 {
    _ = args;
    try mmhost.region.transform(mmhost.default_chunk, uppercase);
    return gpa.alloc(u8, 0);
}

/// 16 bytes per wasm SIMD operation, four vectors per step: the plain byte
/// loop does not vectorise in Zig 0.17.
const V = @Vector(16, u8);

fn uppercase(_: u64, bytes: []u8) void {
    const a: V = @splat('a');
    const letters: V = @splat(26);
    const case: V = @splat(32);
    const zero: V = @splat(0);
    var i: usize = 0;
    while (i + 64 <= bytes.len) : (i += 64) {
        inline for (0..4) |k| {
            const v: V = bytes[i + 16 * k ..][0..16].*;
            bytes[i + 16 * k ..][0..16].* = v - @select(u8, v -% a < letters, case, zero);
        }
    }
    while (i + 16 <= bytes.len) : (i += 16) {
        const v: V = bytes[i..][0..16].*;
        bytes[i..][0..16].* = v - @select(u8, v -% a < letters, case, zero);
    }
    for (bytes[i..]) |*b| {
        if (b.* -% 'a' < 26) b.* -= 32;
    }
}
