//! {{name}}: an mmhost plugin in Zig. Prints the number of lines ('\n'
//! bytes) in the region; change run to do what you need.
const std = @import("std");
const mmhost = @import("mmhost.zig");

comptime {
    mmhost.exportRun(run); // the world's `run`, cabi_realloc, cabi_post_run
}

/// A panic (`@panic`, `unreachable`, a failed safety check) logs its message
/// at error level, then traps: mmhost exits with code 5 and a backtrace.
pub const panic = mmhost.panic;

fn run(gpa: std.mem.Allocator, args: []const []const u8) mmhost.Error![]u8 {
    if (args.len != 0) return mmhost.fail("usage: {{name}}", .{}); // err: stderr, exit code 1
    var lines: u64 = 0;
    var chunks = mmhost.region.chunks(); // 1 MiB at a time
    defer chunks.deinit();
    while (try chunks.next()) |chunk| lines += std.mem.count(u8, chunk.bytes, "\n");
    return mmhost.decimal(gpa, lines); // ok: printed on stdout
}
