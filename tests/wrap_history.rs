//! `mmhost wrap` (and `run`) of a core module built against an earlier WIT
//! release: a module whose `chunked` exports name `mmhost:plugin/chunked@0.1.3`
//! (as a Go plugin built with the guest library of that release does) is
//! wrapped with that release's `parallel` world and runs, serially and in
//! chunks, although the current WIT is newer. Before, wrap refused it:
//! "failed to find export of interface `mmhost:plugin/chunked@0.1.4`".

mod common;

use common::*;

/// A parallel plugin by hand, exporting the `chunked` functions of
/// `version`: `run` says "serial"; `plan` splits with no halo; each chunk's
/// partial is one byte, `c`; `reduce` returns as many `c` as partials.
fn module(version: &str) -> String {
    r#"(module
  (memory (export "memory") 2)
  (data (i32.const 1024) "serial")
  (data (i32.const 2048) "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc")
  (global $hp (mut i32) (i32.const 65536))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $hp) (i32.const 7)) (i32.const -8)))
    (global.set $hp (i32.add (local.get $p) (local.get 3)))
    (local.get $p))
  (func (export "run") (param i32 i32) (result i32)
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store (i32.const 68) (i32.const 1024))
    (i32.store (i32.const 72) (i32.const 6))
    (i32.const 64))
  (func (export "mmhost:plugin/chunked@VERSION#plan") (param i32 i32) (result i32)
    (i32.store8 (i32.const 0) (i32.const 0))
    (i32.store8 (i32.const 8) (i32.const 1))
    (i64.store (i32.const 16) (i64.const 0))
    (i32.const 0))
  (func (export "mmhost:plugin/chunked@VERSION#run-chunk")
        (param i32 i32 i32 i32 i64 i64 i64) (result i32)
    (i32.store8 (i32.const 32) (i32.const 0))
    (i32.store (i32.const 36) (i32.const 2048))
    (i32.store (i32.const 40) (i32.const 1))
    (i32.const 32))
  (func (export "mmhost:plugin/chunked@VERSION#reduce") (param i32 i32 i32 i32) (result i32)
    (i32.store8 (i32.const 96) (i32.const 0))
    (i32.store (i32.const 100) (i32.const 2048))
    (i32.store (i32.const 104) (local.get 3))
    (i32.const 96))
)"#
    .replace("VERSION", version)
}

#[test]
fn a_module_exporting_chunked_0_1_3_wraps_and_runs_in_chunks() {
    let files = Files::new(&[40_000, 25_000], 3, TEXTISH);
    let dir = files.dir.path();
    let core = dir.join("old.wat");
    std::fs::write(&core, module("0.1.3")).unwrap();
    let wrapped = dir.join("old.wasm");
    let r: Run = mmhost()
        .arg("wrap")
        .arg(&core)
        .arg("-o")
        .arg(&wrapped)
        .output()
        .unwrap()
        .into();
    r.assert_ok();
    let r: Run = mmhost()
        .arg("inspect")
        .arg(&wrapped)
        .output()
        .unwrap()
        .into();
    r.assert_ok();
    assert!(
        r.stdout_str()
            .contains("exports:      run, mmhost:plugin/chunked@0.1.3\n"),
        "{}",
        r.stdout_str()
    );
    for plugin in [&wrapped, &core] {
        // One thread: run.
        let r = run(&["-q", "-j", "1"], plugin, &files.paths, &[]);
        r.assert_ok();
        assert_eq!(r.stdout_str(), "serial\n");
        // Two threads, 16 KiB chunks of 65,000 bytes: one partial per
        // chunk, reduced.
        let r = run(
            &["-q", "-j", "2", "--chunk-size", "16K"],
            plugin,
            &files.paths,
            &[],
        );
        r.assert_ok();
        let out = r.stdout_str();
        let out = out.trim_end();
        assert!(out.len() >= 4 && out.bytes().all(|b| b == b'c'), "{out:?}");
    }
    files.assert_unchanged();
}

/// The current release's exports still wrap with the current WIT.
#[test]
fn a_module_exporting_the_current_chunked_wraps() {
    let version = mmhost::runtime::PARALLEL_WORLD
        .rsplit('@')
        .next()
        .unwrap()
        .to_string();
    let files = Files::new(&[1000], 4, TEXTISH);
    let core = files.dir.path().join("new.wat");
    std::fs::write(&core, module(&version)).unwrap();
    let r = run(&["-q", "-j", "1"], &core, &files.paths, &[]);
    r.assert_ok();
    assert_eq!(r.stdout_str(), "serial\n");
}
