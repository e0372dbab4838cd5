//! Core modules of WASI preview 1 (`wasi_snapshot_preview1` imports, as Go,
//! Rust's `wasm32-wasip1` and Zig emit): mmhost adapts them wherever it loads
//! a plugin, with the same sandbox as components, and refuses a module whose
//! imports it cannot satisfy with one line naming the import (exit code 4).
//! The Rust `wasm32-wasip1` probe is in `tests/sandbox.rs`; the Go plugins
//! are in `tests/conformance.rs`.

mod common;

use std::path::{Path, PathBuf};

use common::*;

const PLUGIN_LOAD: i32 = 4;
const LIMIT: i32 = 5;

/// A preview 1 module that checks what the adapter answers and returns
/// `ok("sandboxed")`, or `err(what differs)`; with an argument it writes a
/// line to stderr and calls `proc_exit(3)` instead.
const PROBE: &str = r#"
(module
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (global $hp (mut i32) (i32.const 8192))
  (data (i32.const 512) "to stderr\n")
  (data (i32.const 1024) "sandboxed")
  (data (i32.const 1040) "monotonic clock")
  (data (i32.const 1056) "wall clock")
  (data (i32.const 1072) "path_open")
  (data (i32.const 1088) "preopens")
  (data (i32.const 1104) "environment")
  (data (i32.const 1120) "random")
  (data (i32.const 1136) "arguments")
  (func (export "cabi_realloc") (param i32 i32) (param $align i32) (param $size i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $hp))
    (global.set $hp (i32.add (local.get $p) (i32.and (i32.add (local.get $size) (i32.const 7))
                                                      (i32.const -8))))
    (local.get $p))
  (func $result (param $disc i32) (param $text i32) (param $len i32) (result i32)
    (i32.store8 (i32.const 64) (local.get $disc))
    (i32.store (i32.const 68) (local.get $text))
    (i32.store (i32.const 72) (local.get $len))
    (i32.const 64))
  (func (export "run") (param $args_ptr i32) (param $nargs i32) (result i32)
    (i32.store (i32.const 256) (i32.const 512))
    (i32.store (i32.const 260) (i32.const 10))
    (drop (call $fd_write (i32.const 2) (i32.const 256) (i32.const 1) (i32.const 264)))
    (if (local.get $nargs) (then (call $exit (i32.const 3))))
    ;; The monotonic clock: two readings, not 0, the second greater.
    (if (i32.or (call $clock (i32.const 1) (i64.const 0) (i32.const 300))
                (call $clock (i32.const 1) (i64.const 0) (i32.const 308)))
      (then (return (call $result (i32.const 1) (i32.const 1040) (i32.const 15)))))
    (if (i32.or (i64.eqz (i64.load (i32.const 300)))
                (i64.le_u (i64.load (i32.const 308)) (i64.load (i32.const 300))))
      (then (return (call $result (i32.const 1) (i32.const 1040) (i32.const 15)))))
    ;; The wall clock stands at 0.
    (i64.store (i32.const 316) (i64.const -1))
    (if (i32.or (call $clock (i32.const 0) (i64.const 0) (i32.const 316))
                (i64.ne (i64.load (i32.const 316)) (i64.const 0)))
      (then (return (call $result (i32.const 1) (i32.const 1056) (i32.const 10)))))
    ;; No directory to open files in: EBADF.
    (if (i32.ne (call $path_open (i32.const 3) (i32.const 0) (i32.const 512) (i32.const 3)
                  (i32.const 0) (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 324))
                (i32.const 8))
      (then (return (call $result (i32.const 1) (i32.const 1072) (i32.const 9)))))
    (if (i32.ne (call $prestat (i32.const 3) (i32.const 324)) (i32.const 8))
      (then (return (call $result (i32.const 1) (i32.const 1088) (i32.const 8)))))
    ;; No environment, no arguments.
    (i32.store (i32.const 332) (i32.const -1))
    (drop (call $environ (i32.const 332) (i32.const 336)))
    (if (i32.load (i32.const 332))
      (then (return (call $result (i32.const 1) (i32.const 1104) (i32.const 11)))))
    (i32.store (i32.const 332) (i32.const -1))
    (drop (call $args (i32.const 332) (i32.const 336)))
    (if (i32.load (i32.const 332))
      (then (return (call $result (i32.const 1) (i32.const 1136) (i32.const 9)))))
    ;; Random bytes: 19 of them (two words and three bytes), not all 0.
    (if (i32.or (call $random (i32.const 400) (i32.const 19))
                (i64.eqz (i64.or (i64.or (i64.load (i32.const 400)) (i64.load (i32.const 408)))
                                 (i64.load32_u (i32.const 415)))))
      (then (return (call $result (i32.const 1) (i32.const 1120) (i32.const 6)))))
    (call $result (i32.const 0) (i32.const 1024) (i32.const 9)))
)
"#;

/// Writes `text` to `name` in a fresh directory; returns both.
fn module(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn first_line(r: &Run) -> &str {
    r.stderr.lines().next().unwrap_or("")
}

#[test]
fn a_preview1_module_runs_in_the_sandbox() {
    let (_dir, p1) = module("p1.wat", PROBE);
    let files = Files::new(&[10, 4097], 1, TEXTISH);
    let r = run(&[], &p1, &files.paths, &[]);
    r.assert_ok();
    assert_eq!(r.stdout_str(), "sandboxed\n");
    // fd 2 goes where WASI stderr goes: mmhost's stderr, one prefixed line.
    assert!(
        r.stderr.lines().any(|l| l == "p1: stderr: to stderr"),
        "{}",
        r.stderr
    );
    files.assert_unchanged();
}

#[test]
fn wrap_adapts_a_preview1_module_into_a_component() {
    let (dir, p1) = module("p1.wat", PROBE);
    let component = dir.path().join("p1.wasm");
    let r: Run = mmhost()
        .arg("wrap")
        .arg(&p1)
        .arg("-o")
        .arg(&component)
        .output()
        .unwrap()
        .into();
    r.assert_ok();
    let bytes = std::fs::read(&component).unwrap();
    assert_eq!(&bytes[..8], b"\0asm\x0d\0\x01\0", "a component");
    let files = Files::new(&[3], 2, TEXTISH);
    let r = run(&[], &component, &files.paths, &[]);
    r.assert_ok();
    assert_eq!(r.stdout_str(), "sandboxed\n");
}

#[test]
fn proc_exit_ends_the_run_with_its_status() {
    let (_dir, p1) = module("p1.wat", PROBE);
    let files = Files::new(&[10], 3, TEXTISH);
    let r = run(&["-i"], &p1, &files.paths, &["exit"]);
    r.assert_code(LIMIT);
    // What the plugin wrote before it exited, then the error.
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(
        lines[..2],
        [
            "p1: stderr: to stderr",
            "mmhost: error: plugin p1: exited with status 3 before returning a result (a WASI exit call)"
        ],
        "{}",
        r.stderr
    );
    assert_eq!(r.stdout_str(), "");
    files.assert_unchanged();
}

/// `mmhost run` and `mmhost wrap` of a module with `import`: exit code 4 and
/// one line naming the import.
fn refused(import: &str, named: &str) {
    let text = format!(
        r#"(module {import}
             (memory (export "memory") 1)
             (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 0))
             (func (export "run") (param i32 i32) (result i32) (i32.const 0)))"#
    );
    let (dir, path) = module("bad.wat", &text);
    let files = Files::new(&[10], 4, TEXTISH);
    let r = run(&[], &path, &files.paths, &[]);
    r.assert_code(PLUGIN_LOAD);
    let line = first_line(&r);
    assert!(line.contains(&format!("it imports {named}, ")), "{line}");
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    let out = dir.path().join("bad.wasm");
    let r: Run = mmhost()
        .arg("wrap")
        .arg(&path)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap()
        .into();
    r.assert_code(PLUGIN_LOAD);
    assert!(
        first_line(&r).contains(&format!("it imports {named}, ")),
        "{}",
        r.stderr
    );
    assert!(!Path::new(&out).exists());
    files.assert_unchanged();
}

/// A WASI command (`_start`; Go without `-buildmode=c-shared`) would run
/// `run` before its runtime is set up: refused, saying how to build it.
#[test]
fn a_wasi_command_is_refused() {
    let (_dir, path) = module(
        "cmd.wat",
        r#"(module
             (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
             (memory (export "memory") 1)
             (func (export "_start"))
             (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 0))
             (func (export "run") (param i32 i32) (result i32) (i32.const 0)))"#,
    );
    let files = Files::new(&[10], 5, TEXTISH);
    let r = run(&[], &path, &files.paths, &[]);
    r.assert_code(PLUGIN_LOAD);
    assert!(
        first_line(&r).contains("it is a WASI command: it exports _start")
            && first_line(&r).contains("Go -buildmode=c-shared"),
        "{}",
        r.stderr
    );
}

#[test]
fn an_import_mmhost_cannot_satisfy_is_named() {
    refused(r#"(import "env" "now" (func (result i64)))"#, "env::now");
    refused(
        r#"(import "wasi_snapshot_preview1" "no_such_call" (func))"#,
        "wasi_snapshot_preview1::no_such_call",
    );
    refused(
        r#"(import "wasi_unstable" "fd_write" (func (param i32 i32 i32 i32) (result i32)))"#,
        "wasi_unstable::fd_write",
    );
}

/// A core module exporting the `chunked` functions is wrapped in the
/// `parallel` world of the contract version its export names carry (Go's
/// plugins name 0.1.3 and run chunk by chunk on a 0.1.4 host: see
/// `tests/conformance.rs`); a version this host does not know is refused
/// with one line naming it, exit code 4.
#[test]
fn chunked_exports_of_an_unknown_version_are_named() {
    let (_dir, path) = module(
        "future.wat",
        r#"(module
             (memory (export "memory") 1)
             (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 0))
             (func (export "run") (param i32 i32) (result i32) (i32.const 0))
             (func (export "mmhost:plugin/chunked@0.9.9#plan") (param i32 i32) (result i32)
               (i32.const 0)))"#,
    );
    let files = Files::new(&[10], 6, TEXTISH);
    let r = run(&[], &path, &files.paths, &[]);
    r.assert_code(PLUGIN_LOAD);
    assert!(
        first_line(&r).contains(
            "it exports mmhost:plugin/chunked@0.9.9, a version of the contract this mmhost \
             does not know (it knows 0.1.0 to 0.1.4)"
        ),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    files.assert_unchanged();
}
