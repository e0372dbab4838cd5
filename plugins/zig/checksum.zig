//! checksum: prints `<sha256 hex> <size>` of the whole region. The host
//! computes the digest over the mapping (`region.digest`), with the CPU's
//! SHA instructions where it has them; no byte is copied into the plugin.
const std = @import("std");
const mmhost = @import("mmhost.zig");

comptime {
    mmhost.exportRun(run);
}

pub const panic = mmhost.panic;

fn run(gpa: std.mem.Allocator, args: []const []const u8) mmhost.Error![]u8 {
    _ = args;
    const size = mmhost.region.size();
    const digest = try mmhost.region.sha256(0, size);
    return std.fmt.allocPrint(gpa, "{x} {d}", .{ &digest, size });
}
