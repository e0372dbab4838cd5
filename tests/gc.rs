//! The wasm GC and exception-handling proposals, which the engine enables
//! (`runtime::Host::new`): a plugin that allocates on the GC heap runs, its
//! garbage is collected, and the GC heap is held to `--max-memory` like
//! linear memory (wasmtime grows it through the store's resource limiter).
//!
//! The plugin is `tests/plugins/gc-alloc.wat`, a core module with GC types
//! that mmhost wraps when it loads it; its result is checked against the
//! arithmetic of what it was asked to allocate.

mod common;

use std::path::PathBuf;

use common::*;

/// Exit code of a run stopped by a limit.
const LIMIT: i32 = 5;

fn gc_plugin() -> PathBuf {
    root().join("tests/plugins/gc-alloc.wat")
}

fn input() -> Files {
    Files::new(&[100], 1, b"abc")
}

#[test]
fn gc_allocations_run_and_garbage_is_collected() {
    let files = input();
    // 16 arrays of 1 MiB kept alive, under a 64 MiB cap: each has a 1 in
    // its last byte, so the sum is the count.
    let r = run(
        &["--max-memory", "64M"],
        &gc_plugin(),
        &files.paths,
        &["keep", "16"],
    );
    r.assert_ok();
    assert_eq!(r.stdout_str(), "16\n");
    // 400 MiB allocated in all, one array live at a time: only collection
    // keeps that under the same cap.
    let r = run(
        &["--max-memory", "64M"],
        &gc_plugin(),
        &files.paths,
        &["drop", "400"],
    );
    r.assert_ok();
    assert_eq!(r.stdout_str(), "400\n");
    files.assert_unchanged();
}

#[test]
fn gc_heap_growth_stops_at_the_memory_limit() {
    let files = input();
    // 200 MiB live on the GC heap against a 64 MiB cap.
    let r = run(
        &["--max-memory", "64M"],
        &gc_plugin(),
        &files.paths,
        &["keep", "200"],
    );
    r.assert_code(LIMIT);
    let line = r.stderr.lines().next().unwrap_or_default().to_string();
    assert!(line.contains("memory limit exceeded"), "{}", r.stderr);
    assert!(line.contains("--max-memory"), "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    files.assert_unchanged();
    // The same allocations fit under a cap large enough for them.
    let r = run(
        &["--max-memory", "512M"],
        &gc_plugin(),
        &files.paths,
        &["keep", "200"],
    );
    r.assert_ok();
    assert_eq!(r.stdout_str(), "200\n");
}
