//! Limits that must bound, inputs that must not crash or hang the host, and
//! writes that must not land where they must not (issue 17, items 6-18).
//! Hostile plugins are written inline in WAT; every run is the real binary on
//! real temporary files. Runs that used to hang go through `timeout 20`,
//! which only detects a hang: nothing here asserts on a duration.

mod common;

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::{json, Value};

fn first_line(r: &Run) -> &str {
    r.stderr.lines().next().unwrap_or("")
}

#[track_caller]
fn assert_no_panic(r: &Run) {
    assert!(
        !r.stderr.contains("panicked") && r.code != 101 && r.code != 134 && r.code >= 0,
        "the host crashed (exit {}): {}",
        r.code,
        r.stderr
    );
}

/// `mmhost ARGS...` under `timeout 20` (exit 124 means it hung).
fn mmhost_within(cwd: &Path, args: &[&str]) -> Run {
    Command::new("timeout")
        .arg("20")
        .arg(env!("CARGO_BIN_EXE_mmhost"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("spawn timeout mmhost")
        .into()
}

/// `ok ""` of a `run` export: the return area at 64.
const RETURN_OK: &str = "
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store (i32.const 68) (i32.const 0))
    (i32.store (i32.const 72) (i32.const 0))
    (i32.const 64)";

/// A core module of the `transform` world whose `run` does `body` first.
fn wat_plugin(dir: &Path, name: &str, decls: &str, body: &str) -> PathBuf {
    wat_plugin_importing(dir, name, "", decls, body)
}

/// [`wat_plugin`] with `imports` (they come first in a module).
fn wat_plugin_importing(dir: &Path, name: &str, imports: &str, decls: &str, body: &str) -> PathBuf {
    let text = format!(
        r#"(module
  {imports}
  (memory (export "memory") 1)
  {decls}
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
  (func (export "run") (param i32 i32) (result i32)
    {body}
    {RETURN_OK}))"#
    );
    let path = dir.join(format!("{name}.wat"));
    std::fs::write(&path, text).unwrap();
    path
}

fn one_input(dir: &Path) -> PathBuf {
    let p = dir.join("in.txt");
    std::fs::write(&p, "some input\n").unwrap();
    p
}

// ---- 6. --max-memory caps the whole instance ----

#[test]
fn many_memories_together_are_held_to_max_memory() {
    let dir = tempfile::tempdir().unwrap();
    let input = one_input(dir.path());
    // 20 memories of 0 pages, each grown by 100 pages (6.25 MiB): 125 MiB in
    // all, each one far under the cap of 100 MiB.
    let decls: String = (1..=20).map(|i| format!("(memory $m{i} 0)\n")).collect();
    let grow: String = (1..=20)
        .map(|i| format!("(drop (memory.grow $m{i} (i32.const 100)))\n"))
        .collect();
    let plugin = wat_plugin(dir.path(), "memories", &decls, &grow);
    let r = run(
        &["--max-memory", "100M"],
        &plugin,
        std::slice::from_ref(&input),
        &[],
    );
    assert_no_panic(&r);
    r.assert_code(5);
    let line = first_line(&r);
    assert!(line.contains("memory limit exceeded"), "{line}");
    assert!(line.contains("104857600"), "{line}");
    assert!(line.contains("--max-memory"), "{line}");
    // Under a cap that holds them all, the same plugin runs.
    run(
        &["--max-memory", "130M"],
        &plugin,
        std::slice::from_ref(&input),
        &[],
    )
    .assert_ok();
    // Initial sizes count too: 20 memories of 100 pages, 10 tables of 1 M
    // elements, none grown.
    let memories: String = (1..=20).map(|i| format!("(memory $m{i} 100)\n")).collect();
    let tables: String = (1..=10)
        .map(|i| format!("(table $t{i} 1000000 funcref)\n"))
        .collect();
    for (name, decls, limit) in [
        ("initial-memories", memories, "memory limit exceeded"),
        ("initial-tables", tables, "table limit exceeded"),
    ] {
        let plugin = wat_plugin(dir.path(), name, &decls, "");
        let r = run(
            &["--max-memory", "100M"],
            &plugin,
            std::slice::from_ref(&input),
            &[],
        );
        r.assert_code(5);
        assert!(first_line(&r).contains(limit), "{}", r.stderr);
    }
}

#[test]
fn many_tables_together_are_held_to_max_memory() {
    let dir = tempfile::tempdir().unwrap();
    let input = one_input(dir.path());
    // 10 tables grown by 1 M elements each: 16 MiB charged each, 160 MiB in
    // all, over 100 MiB (each one alone is under the cap).
    let decls: String = (1..=10)
        .map(|i| format!("(table $t{i} 0 funcref)\n"))
        .collect();
    let grow: String = (1..=10)
        .map(|i| format!("(drop (table.grow $t{i} (ref.null func) (i32.const 1000000)))\n"))
        .collect();
    let plugin = wat_plugin(dir.path(), "tables", &decls, &grow);
    let r = run(&["--max-memory", "100M"], &plugin, &[input], &[]);
    assert_no_panic(&r);
    r.assert_code(5);
    let line = first_line(&r);
    assert!(line.contains("table limit exceeded"), "{line}");
    assert!(line.contains("104857600"), "{line}");
}

// ---- 7. compilation is bounded ----

#[test]
fn a_huge_function_is_refused_before_compiling() {
    let dir = tempfile::tempdir().unwrap();
    let input = one_input(dir.path());
    // 400,000 statements of 3 bytes: a body of 1.2 MB, over the 1 MiB limit.
    let huge = format!("(func $huge {})", "i32.const 1 drop ".repeat(400_000));
    let plugin = wat_plugin(dir.path(), "huge", &huge, "");
    let r = run(&["--no-cache"], &plugin, &[input], &[]);
    assert_no_panic(&r);
    r.assert_code(4);
    let line = first_line(&r);
    assert!(line.contains("huge.wat"), "{line}");
    assert!(line.contains("has a body of"), "{line}");
    assert!(line.contains("over the limit of 1048576 bytes"), "{line}");
    // `compile` refuses it the same way.
    let r: Run = mmhost()
        .arg("compile")
        .arg(&plugin)
        .output()
        .unwrap()
        .into();
    r.assert_code(4);
}

/// A function under the size limit that is still slow to compile (30,000
/// branches over 200 locals: 0.8 MB, 25 s and 585 MB to compile on the
/// 2-core test machine) is stopped by --timeout, which covers compiling.
#[test]
fn timeout_covers_compiling() {
    let dir = tempfile::tempdir().unwrap();
    let input = one_input(dir.path());
    let mut rng = Rng(17);
    let locals: String = (0..200).map(|i| format!("(local $l{i} i64)")).collect();
    let mut body = String::new();
    for k in 0..30_000 {
        let (a, b, c) = (rng.below(200), rng.below(200), rng.below(200));
        body += &format!(
            "(if (i64.gt_u (local.get $l{b}) (local.get $l{c})) \
               (then (local.set $l{a} (i64.mul (local.get $l{b}) (local.get $l{c})))) \
               (else (local.set $l{c} (i64.add (local.get $l{a}) (i64.const {k})))))\n"
        );
    }
    let slow = format!("(func $slow (result i64) {locals} {body} (local.get $l0))");
    let plugin = wat_plugin(dir.path(), "slow", &slow, "");
    let r = run(&["--no-cache", "--timeout", "1s"], &plugin, &[input], &[]);
    assert_no_panic(&r);
    r.assert_code(4);
    assert!(
        r.stderr
            .contains("compiling took longer than the time limit of 1000 ms"),
        "{}",
        r.stderr
    );
}

// ---- 8. --timeout 0 always fires ----

#[test]
fn timeout_zero_always_fires() {
    let files = Files::new(&[100], 8, TEXTISH);
    let dir = files.dir.path();
    let probe = plugin("probe");
    let probe_s = probe.to_str().unwrap();
    let input = files.paths[0].to_str().unwrap();
    for i in 0..40 {
        let r = mmhost_within(
            dir,
            &["run", "--timeout", "0", probe_s, input, "--", "loop"],
        );
        assert_eq!(r.code, 5, "run {i}: {}", r.stderr);
        assert!(first_line(&r).contains("timeout"), "{}", r.stderr);
    }
    // A step's own limit of 0, and a job's.
    for limits in [
        json!({"steps": [{"plugin": probe, "args": ["loop"], "limits": {"timeout": 0}}]}),
        json!({"limits": {"timeout": 0}, "steps": [{"plugin": probe, "args": ["loop"]}]}),
    ] {
        let mut job = limits;
        job["inputs"] = json!([files.paths[0]]);
        std::fs::write(dir.join("t0.json"), job.to_string()).unwrap();
        for i in 0..15 {
            let r = mmhost_within(dir, &["run", "--job", "t0.json"]);
            assert_eq!(r.code, 5, "job run {i}: {}", r.stderr);
        }
    }
    files.assert_unchanged();
}

/// Instances made after the deadline passed must trap too: here the chunks'
/// instances are made after the host has spent a while (well over the
/// timeout) copying 256 MiB of halo snapshots, so the epoch moved before
/// their stores set their deadlines. Before the fix the watchdog moved the
/// epoch once, and these chunks looped for ever.
#[test]
fn timeout_fires_for_instances_made_after_it_passed() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.bin");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(256 << 20)
        .unwrap();
    let probe = plugin("probe");
    for t in ["20ms", "100ms"] {
        let r = mmhost_within(
            dir.path(),
            &[
                "run",
                "-i",
                "--timeout",
                t,
                "-j",
                "2",
                "--chunk-size",
                "2M",
                probe.to_str().unwrap(),
                "big.bin",
                "--",
                "chunked",
                "1048576",
                "loop",
            ],
        );
        assert_eq!(r.code, 5, "--timeout {t}: {}", r.stderr);
        assert!(r.stderr.contains("timeout after"), "{}", r.stderr);
    }
    assert_eq!(std::fs::metadata(&big).unwrap().len(), 256 << 20);
}

// ---- 9. partial results are bounded in total ----

/// A `parallel` plugin whose every chunk returns a partial result of 1 MiB
/// (the most one chunk may return).
fn big_partials_plugin(dir: &Path) -> PathBuf {
    let wat = r#"(module
  (memory (export "memory") 17)
  (global $hp (mut i32) (i32.const 1114112))
  (func (export "cabi_realloc") (param $old i32) (param $old_size i32)
        (param $align i32) (param $size i32) (result i32)
    (local $p i32) (local $end i32)
    (local.set $p (i32.and (i32.add (global.get $hp) (i32.sub (local.get $align) (i32.const 1)))
                           (i32.sub (i32.const 0) (local.get $align))))
    (local.set $end (i32.add (local.get $p) (local.get $size)))
    (if (i32.gt_u (local.get $end) (i32.shl (memory.size) (i32.const 16)))
      (then
        (if (i32.eq (memory.grow (i32.shr_u (i32.add (i32.sub (local.get $end)
                        (i32.shl (memory.size) (i32.const 16))) (i32.const 0xffff)) (i32.const 16)))
                    (i32.const -1))
          (then unreachable))))
    (global.set $hp (local.get $end))
    (local.get $p))
  (func (export "run") (param i32 i32) (result i32)
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store (i32.const 68) (i32.const 0))
    (i32.store (i32.const 72) (i32.const 0))
    (i32.const 64))
  (func (export "mmhost:plugin/chunked@0.1.2#plan") (param i32 i32) (result i32)
    (i32.store8 (i32.const 0) (i32.const 0))
    (i32.store8 (i32.const 8) (i32.const 1))
    (i64.store (i32.const 16) (i64.const 0))
    (i32.const 0))
  (func (export "mmhost:plugin/chunked@0.1.2#run-chunk")
        (param i32 i32 i32 i32 i64 i64 i64) (result i32)
    (i32.store8 (i32.const 32) (i32.const 0))
    (i32.store (i32.const 36) (i32.const 4096))
    (i32.store (i32.const 40) (i32.const 1048576))
    (i32.const 32))
  (func (export "mmhost:plugin/chunked@0.1.2#reduce") (param i32 i32 i32 i32) (result i32)
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store (i32.const 68) (i32.const 0))
    (i32.store (i32.const 72) (i32.const 0))
    (i32.const 64))
)"#;
    let wit = std::fs::read_to_string(root().join("wit/history/mmhost@0.1.2.wit")).unwrap();
    let mut resolve = wit_parser::Resolve::default();
    let pkg = resolve.push_str("mmhost.wit", &wit).unwrap();
    let world = resolve.select_world(&[pkg], Some("parallel")).unwrap();
    let mut module = wat::parse_str(wat).unwrap();
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .unwrap();
    let component = wit_component::ComponentEncoder::default()
        .module(&module)
        .unwrap()
        .validate(true)
        .encode()
        .unwrap();
    let path = dir.join("partials.wasm");
    std::fs::write(&path, component).unwrap();
    path
}

#[test]
fn partial_results_are_bounded_in_total() {
    let files = Files::new(&[40_000], 9, TEXTISH);
    let plugin = big_partials_plugin(files.dir.path());
    // 40 chunks of 1 MiB partials: 40 MiB, over a cap of 16 MiB.
    let r = run(
        &["-j", "2", "--chunk-size", "1000", "--max-memory", "16M"],
        &plugin,
        &files.paths,
        &[],
    );
    assert_no_panic(&r);
    r.assert_code(5);
    let line = first_line(&r);
    assert!(line.contains("partial result limit exceeded"), "{line}");
    assert!(line.contains("16777216"), "{line}");
    // 10 chunks (10 MiB) fit under 64 MiB: reduce gets them all.
    let r = run(
        &["-j", "2", "--chunk-size", "4000", "--max-memory", "64M"],
        &plugin,
        &files.paths,
        &[],
    );
    r.assert_ok();
    files.assert_unchanged();
}

// ---- 10. one host call may carry what the plugin's memory holds ----

#[test]
fn a_log_message_over_128_mib_is_cut_not_a_trap() {
    let dir = tempfile::tempdir().unwrap();
    let input = one_input(dir.path());
    // Grow to 130 MiB + 64 KiB and log 129 MiB of NUL characters at info.
    let imports = r#"(import "mmhost:plugin/host@0.1.0" "log" (func $log (param i32 i32 i32)))"#;
    let body = "(drop (memory.grow (i32.const 2080)))
                (call $log (i32.const 2) (i32.const 65536) (i32.const 135266304))";
    let plugin = wat_plugin_importing(dir.path(), "biglog", imports, "", body);
    let r = run(&[], &plugin, &[input], &[]);
    assert_no_panic(&r);
    r.assert_ok();
    let dropped = 135266304 - 8192;
    assert!(
        r.stderr
            .contains(&format!("[... {dropped} more bytes dropped]")),
        "{}",
        &r.stderr[r.stderr.len().saturating_sub(300)..]
    );
}

// ---- 11. huge timeouts neither panic nor disagree between check and run ----

#[test]
fn huge_timeouts_saturate_in_job_step_and_command_line() {
    let files = Files::new(&[100], 11, TEXTISH);
    let dir = files.dir.path();
    let probe = plugin("probe");
    let huge = [
        json!(18446744073709551615u64),
        json!(9.3e18),
        json!("5000000000000000h"),
    ];
    for t in &huge {
        for job in [
            json!({"limits": {"timeout": t}, "steps": [{"plugin": probe, "args": ["size"]}]}),
            json!({"steps": [{"plugin": probe, "args": ["size"], "limits": {"timeout": t}}]}),
        ] {
            let mut job = job;
            job["inputs"] = json!([files.paths[0]]);
            std::fs::write(dir.join("huge.json"), job.to_string()).unwrap();
            let check = mmhost_within(dir, &["check", "huge.json"]);
            assert_no_panic(&check);
            check.assert_ok();
            let r = mmhost_within(dir, &["run", "--job", "huge.json"]);
            assert_no_panic(&r);
            r.assert_ok();
            assert_eq!(r.stdout_str(), "size 100\n", "{t}");
        }
    }
    for t in ["18446744073709551615", "5000000000000000h"] {
        let r = run(&["--timeout", t], &probe, &files.paths, &["size"]);
        assert_no_panic(&r);
        r.assert_ok();
    }
}

// ---- 12. chunk sizes ----

#[test]
fn chunk_size_zero_is_refused_and_tiny_chunks_are_bounded_in_number() {
    let dir = tempfile::tempdir().unwrap();
    let input = one_input(dir.path());
    let r = run(&["--chunk-size", "0"], &plugin("count"), &[input], &["x"]);
    r.assert_code(2);
    assert!(
        r.stderr.contains("chunk size must be at least 1 byte"),
        "{}",
        r.stderr
    );

    // 256 MiB, sparse, with a needle at a few places: one-byte chunks would
    // be 2^28 chunks (gigabytes of plan); the count must match a serial run.
    let big = dir.path().join("big.bin");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(256 << 20).unwrap();
    use std::os::unix::fs::FileExt;
    for at in [0u64, 12_345, 100 << 20, (256 << 20) - 6] {
        f.write_all_at(b"needle", at).unwrap();
    }
    drop(f);
    let r = run(
        &["-v", "-j", "2", "--chunk-size", "1"],
        &plugin("count"),
        std::slice::from_ref(&big),
        &["needle"],
    );
    assert_no_panic(&r);
    r.assert_ok();
    assert_eq!(r.stdout_str().trim(), "4");
    assert!(r.stderr.contains("chunk size 1 grown to"), "{}", r.stderr);
    assert!(r.stderr.contains("16384 chunks"), "{}", r.stderr);
}

// ---- 13. `**` does not follow directory symlinks ----

#[test]
fn star_star_does_not_loop_through_directory_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    std::fs::create_dir_all(d.join("sub")).unwrap();
    std::fs::write(d.join("one.txt"), "1").unwrap();
    std::fs::write(d.join("sub/two.txt"), "22").unwrap();
    std::os::unix::fs::symlink(".", d.join("a")).unwrap();
    std::os::unix::fs::symlink(".", d.join("b")).unwrap();
    let job = json!({"inputs": ["d/**/*.txt"], "steps": [{"plugin": plugin("probe"), "args": ["segments"]}]});
    std::fs::write(dir.path().join("glob.json"), job.to_string()).unwrap();
    let check = mmhost_within(dir.path(), &["check", "glob.json"]);
    check.assert_ok();
    assert!(
        check.stdout_str().contains("over 2 input files (3 bytes)"),
        "{}",
        check.stdout_str()
    );
    let r = mmhost_within(dir.path(), &["run", "--job", "glob.json"]);
    r.assert_ok();
    assert_eq!(r.stdout_str(), "seg d/one.txt 0 1\nseg d/sub/two.txt 1 2\n");
}

// ---- 14. plugins and job files: regular files of a bounded size ----

#[test]
fn devices_fifos_directories_and_huge_files_as_plugin_or_job_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = one_input(dir.path());
    let fifo = dir.path().join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let big = dir.path().join("big.wasm");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(300 << 20)
        .unwrap();
    let bigjob = dir.path().join("big.json");
    std::fs::File::create(&bigjob)
        .unwrap()
        .set_len(65 << 20)
        .unwrap();
    let input_s = input.to_str().unwrap();
    let out = dir.path().join("wrapped.wasm");
    let out_s = out.to_str().unwrap();
    for (bad, what) in [
        ("/dev/zero", "character device"),
        (fifo.to_str().unwrap(), "FIFO"),
        (dir.path().to_str().unwrap(), "directory"),
        (big.to_str().unwrap(), "over the limit of 268435456 bytes"),
    ] {
        for args in [
            vec!["run", bad, input_s],
            vec!["inspect", bad],
            vec!["compile", bad],
            vec!["wrap", bad, "-o", out_s],
        ] {
            let r = mmhost_within(dir.path(), &args);
            assert_no_panic(&r);
            assert_eq!(r.code, 4, "{args:?}: {}", r.stderr);
            assert!(first_line(&r).contains(what), "{args:?}: {}", r.stderr);
        }
    }
    for (bad, what) in [
        ("/dev/zero", "character device"),
        (fifo.to_str().unwrap(), "FIFO"),
        (dir.path().to_str().unwrap(), "directory"),
        (bigjob.to_str().unwrap(), "over the limit of 67108864 bytes"),
    ] {
        for args in [vec!["check", bad], vec!["run", "--job", bad]] {
            let r = mmhost_within(dir.path(), &args);
            assert_no_panic(&r);
            assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
            assert!(first_line(&r).contains(what), "{args:?}: {}", r.stderr);
        }
    }
    // A job whose step names a device as its plugin: check and run agree.
    let job = json!({"inputs": [input], "steps": [{"plugin": "/dev/zero"}]});
    std::fs::write(dir.path().join("dev.json"), job.to_string()).unwrap();
    for args in [vec!["check", "dev.json"], vec!["run", "--job", "dev.json"]] {
        let r = mmhost_within(dir.path(), &args);
        assert_eq!(r.code, 4, "{args:?}: {}", r.stderr);
        assert!(first_line(&r).contains("character device"), "{}", r.stderr);
    }
    assert!(!out.exists());
}

// ---- 15. -o onto a device, FIFO or symlink ----

#[test]
fn output_onto_a_device_or_fifo_is_refused_and_a_symlink_is_written_through() {
    let files = Files::new(&[10, 20], 15, TEXTISH);
    let dir = files.dir.path();
    let upper_p = plugin("upper");
    let fifo = dir.join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    for target in [fifo.as_path(), Path::new("/dev/null")] {
        let r = run(
            &["-o", target.to_str().unwrap()],
            &upper_p,
            &files.paths,
            &[],
        );
        assert_no_panic(&r);
        r.assert_code(6);
        let line = first_line(&r);
        assert!(line.contains(&target.display().to_string()), "{line}");
        assert!(line.contains("not a regular file"), "{line}");
    }
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
    // A symlink to /dev/null is refused the same way.
    let to_null = dir.join("to-null");
    std::os::unix::fs::symlink("/dev/null", &to_null).unwrap();
    let r = run(
        &["-o", to_null.to_str().unwrap()],
        &upper_p,
        &files.paths,
        &[],
    );
    r.assert_code(6);
    assert!(std::fs::symlink_metadata(&to_null)
        .unwrap()
        .file_type()
        .is_symlink());

    // A symlink to a file (existing or not yet) is followed: the file it
    // points to gets the output, the link stays a link.
    let expected = upper(&files.concat());
    for existing in [true, false] {
        let real = dir.join(format!("real-{existing}.txt"));
        if existing {
            std::fs::write(&real, "old").unwrap();
        }
        let link = dir.join(format!("link-{existing}"));
        std::os::unix::fs::symlink(real.file_name().unwrap(), &link).unwrap();
        run(
            &["-q", "-o", link.to_str().unwrap()],
            &upper_p,
            &files.paths,
            &[],
        )
        .assert_ok();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&real).unwrap(), expected);
    }
    // An input as the output: refused (that is -i without its checks).
    let r = run(
        &["-o", files.paths[1].to_str().unwrap()],
        &upper_p,
        &files.paths,
        &[],
    );
    r.assert_code(2);
    assert!(first_line(&r).contains("use -i"), "{}", r.stderr);
    files.assert_unchanged();
}

// ---- 16. --output-dir onto the inputs' own directory ----

#[test]
fn output_dir_that_would_replace_an_input_is_refused() {
    let files = Files::new(&[10, 20], 16, TEXTISH);
    let dir = files.dir.path();
    // One input read-only, the other with a second hard link: -i refuses
    // both, and --output-dir must not replace them either.
    let mut perms = std::fs::metadata(&files.paths[0]).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o444);
    std::fs::set_permissions(&files.paths[0], perms).unwrap();
    std::fs::hard_link(&files.paths[1], dir.join("other-name")).unwrap();
    for out in [dir.to_path_buf(), dir.join(".")] {
        let r = run(
            &["--output-dir", out.to_str().unwrap()],
            &plugin("upper"),
            &files.paths,
            &[],
        );
        assert_no_panic(&r);
        r.assert_code(2);
        let line = first_line(&r);
        assert!(line.contains("would replace the input"), "{line}");
        assert!(line.contains("use -i"), "{line}");
    }
    files.assert_unchanged();
    // Another directory is fine.
    let other = dir.join("out");
    run(
        &["-q", "--output-dir", other.to_str().unwrap()],
        &plugin("upper"),
        &files.paths,
        &[],
    )
    .assert_ok();
    assert_eq!(
        std::fs::read(other.join("in000.dat")).unwrap(),
        upper(&files.contents[0])
    );
}

// ---- 17. --report-file onto an input or the output ----

#[test]
fn report_file_onto_an_input_or_the_output_is_refused() {
    let files = Files::new(&[10, 20], 17, TEXTISH);
    let dir = files.dir.path();
    let out = dir.join("out.txt");
    let outdir = dir.join("outdir");
    let link = dir.join("link-to-input");
    std::os::unix::fs::symlink(&files.paths[0], &link).unwrap();
    for (flags, report) in [
        (vec![], files.paths[1].clone()),
        (vec![], link.clone()),
        (vec!["-o", out.to_str().unwrap()], out.clone()),
        (
            vec!["--output-dir", outdir.to_str().unwrap()],
            outdir.join("in001.dat"),
        ),
    ] {
        let mut all = flags.clone();
        let report_s = report.to_str().unwrap().to_string();
        all.extend(["--report-file", &report_s]);
        let r = run(&all, &plugin("checksum"), &files.paths, &[]);
        assert_no_panic(&r);
        r.assert_code(2);
        let line = first_line(&r);
        assert!(line.contains("--report-file"), "{line}");
        // The report still comes, as the last line of stderr.
        let last: Value = serde_json::from_str(r.stderr.lines().last().unwrap()).unwrap();
        assert_eq!(last["exit_code"], 2, "{}", r.stderr);
    }
    assert!(!out.exists());
    assert!(!outdir.exists());
    files.assert_unchanged();
}

// ---- 18. duplicate keys in a step's config ----

#[test]
fn duplicate_keys_in_config_are_errors_in_check_and_run() {
    let files = Files::new(&[10], 18, TEXTISH);
    let dir = files.dir.path();
    let text = format!(
        r#"{{"inputs": [{:?}], "steps": [{{"plugin": {:?}, "config": {{"a": 1, "nested": {{"k": 1, "k": 2}}}}}}]}}"#,
        files.paths[0],
        plugin("probe")
    );
    std::fs::write(dir.join("dup.json"), text).unwrap();
    for args in [vec!["check", "dup.json"], vec!["run", "--job", "dup.json"]] {
        let r = mmhost_within(dir, &args);
        r.assert_code(2);
        let line = first_line(&r);
        assert!(line.contains("dup.json:1:"), "{line}");
        assert!(
            line.contains("steps[0].config.nested: duplicate key `k`"),
            "{line}"
        );
    }
}
