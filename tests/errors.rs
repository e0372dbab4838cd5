//! Bad inputs and bad plugins: each gets one clear line naming what it is
//! about, its documented exit code, and leaves every input byte-identical.

mod common;

use std::path::{Path, PathBuf};

use common::*;

const INPUT: i32 = 3;
const LOAD: i32 = 4;

/// The first line of stderr.
fn first_line(r: &Run) -> &str {
    r.stderr.lines().next().unwrap_or("")
}

#[track_caller]
fn expect_input_error(flags: &[&str], files: &[PathBuf], culprit: &Path, words: &str) {
    let r = run(flags, &plugin("upper"), files, &[]);
    r.assert_code(INPUT);
    let line = first_line(&r);
    assert!(line.contains(&culprit.display().to_string()), "{line}");
    assert!(line.contains(words), "wanted {words:?} in {line}");
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

#[test]
fn missing_file() {
    let files = Files::new(&[5, 6], 1, TEXTISH);
    let missing = files.dir.path().join("nope.txt");
    let mut paths = files.paths.clone();
    paths.insert(1, missing.clone());
    expect_input_error(&["--in-place"], &paths, &missing, "no such file");
    files.assert_unchanged();
}

#[test]
fn directory() {
    let files = Files::new(&[5], 2, TEXTISH);
    let mut paths = files.paths.clone();
    paths.push(files.dir.path().to_path_buf());
    expect_input_error(&["--in-place"], &paths, files.dir.path(), "is a directory");
    files.assert_unchanged();
}

#[test]
fn fifo() {
    let files = Files::new(&[5], 3, TEXTISH);
    let fifo = files.dir.path().join("fifo");
    let ok = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(ok.success());
    let mut paths = files.paths.clone();
    paths.push(fifo.clone());
    expect_input_error(&["--in-place"], &paths, &fifo, "FIFO");
    files.assert_unchanged();
}

#[test]
fn proc_file() {
    let files = Files::new(&[5], 4, TEXTISH);
    let mut paths = files.paths.clone();
    let proc_file = PathBuf::from("/proc/self/status");
    paths.push(proc_file.clone());
    expect_input_error(&[], &paths, &proc_file, "/proc");
    files.assert_unchanged();
}

#[test]
fn device_file() {
    let files = Files::new(&[5], 5, TEXTISH);
    let dev = PathBuf::from("/dev/null");
    let mut paths = files.paths.clone();
    paths.push(dev.clone());
    expect_input_error(&[], &paths, &dev, "character device");
}

#[test]
fn same_file_twice_is_refused_with_writes() {
    let files = Files::new(&[5, 7], 6, TEXTISH);
    let link = files.dir.path().join("hard");
    std::fs::hard_link(&files.paths[0], &link).unwrap();
    let sym = files.dir.path().join("sym");
    std::os::unix::fs::symlink(&files.paths[1], &sym).unwrap();
    for (dup, flags) in [
        (files.paths[0].clone(), &["--in-place"][..]),
        (link.clone(), &["--in-place"][..]),
        (sym.clone(), &["--in-place"][..]),
    ] {
        let mut paths = files.paths.clone();
        paths.push(dup.clone());
        expect_input_error(flags, &paths, &dup, "same file as");
        files.assert_unchanged();
    }
    // Reading the same file twice is fine: the region holds it twice.
    let mut paths = files.paths.clone();
    paths.push(link);
    let r = run(&[], &plugin("tail"), &paths, &["12"]);
    r.assert_ok();
    assert_eq!(
        r.stdout,
        [files.contents[1].clone(), files.contents[0].clone()].concat()
    );
}

#[test]
fn empty_files_are_fine() {
    let files = Files::new(&[0, 0, 0], 7, TEXTISH);
    let r = run(&[], &plugin("checksum"), &files.paths, &[]);
    r.assert_ok();
    assert_eq!(
        r.stdout_str(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 0\n"
    );
    run(&["--in-place"], &plugin("upper"), &files.paths, &[]).assert_ok();
    files.assert_unchanged();
}

#[track_caller]
fn expect_load_error(plugin_path: &Path, words: &str) {
    let files = Files::new(&[100], 8, TEXTISH);
    let r = run(&["--in-place"], plugin_path, &files.paths, &[]);
    r.assert_code(LOAD);
    let line = first_line(&r);
    assert!(line.contains(&plugin_path.display().to_string()), "{line}");
    assert!(line.contains(words), "wanted {words:?} in {line}");
    files.assert_unchanged();
}

#[test]
fn bad_plugins() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.wasm");
    std::fs::write(&text, "hello, I am not wasm").unwrap();
    expect_load_error(&text, "not a WebAssembly file");

    let missing = dir.path().join("missing.wasm");
    expect_load_error(&missing, "no such file");

    expect_load_error(dir.path(), "is a directory");

    let good = std::fs::read(plugin("upper")).unwrap();
    let truncated = dir.path().join("truncated.wasm");
    std::fs::write(&truncated, &good[..good.len() / 2]).unwrap();
    expect_load_error(&truncated, "not a valid component");

    let tiny = dir.path().join("tiny.wasm");
    std::fs::write(&tiny, b"\0asm").unwrap();
    expect_load_error(&tiny, "truncated");

    // A core module that exports nothing the world needs.
    let empty = dir.path().join("empty.wat");
    std::fs::write(&empty, "(module)").unwrap();
    expect_load_error(&empty, "run");

    // A component for another world: imports something we do not have.
    let other = dir.path().join("other.wat");
    std::fs::write(
        &other,
        r#"(component
             (import "acme:db/query@1.0.0" (instance (export "q" (func))))
           )"#,
    )
    .unwrap();
    expect_load_error(&other, "acme:db/query@1.0.0");
}

#[test]
fn usage_errors_exit_2() {
    let r: Run = mmhost().args(["run"]).output().unwrap().into();
    r.assert_code(2);
    let files = Files::new(&[1], 9, TEXTISH);
    let r: Run = mmhost()
        .args(["run", "--in-place", "-o", "x"])
        .arg(plugin("upper"))
        .args(&files.paths)
        .output()
        .unwrap()
        .into();
    r.assert_code(2);
    files.assert_unchanged();
}
