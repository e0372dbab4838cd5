//! Conformance: the same plugins written in every language (`plugins/c`,
//! `assemblyscript`, `python`, `javascript`, `wat`, `go`) run by the real binary
//! over the same tricky file sets as the Rust reference plugins, with
//! identical results: exit code, stdout, stderr and the bytes of every file
//! afterwards.
//!
//! The plugins are built by `scripts/build-lang-plugins.sh` (once per run of
//! this test binary; incremental). A language whose toolchain is not
//! installed (`scripts/install-toolchains.sh`) is not built: its tests print
//! `SKIPPED <lang> <plugin>: <reason>` to the real stderr (not captured, so
//! it shows in every `cargo test` run) and `languages_available` prints a
//! summary. Set `MMHOST_REQUIRE_LANGS=all` (or a list such as `c,python`) to
//! make a missing language fail instead.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::*;

/// Plugins a language does not provide by design: (language, plugin, why).
const NOT_PROVIDED: &[(&str, &str, &str)] = &[];
/// What a run did, as the user sees it.
#[derive(PartialEq)]
struct Outcome {
    code: i32,
    stdout: Vec<u8>,
    /// With the directory of the run's files replaced by `<dir>`.
    stderr: String,
    /// Every input file's bytes after the run.
    files: Vec<Vec<u8>>,
}

/// Runs `plugin` over copies of `files` in a fresh directory (so that a
/// writing run changes only its own copies), under the same file names.
fn outcome(flags: &[&str], plugin: &Path, files: &Files, args: &[&str]) -> Outcome {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths: Vec<PathBuf> = files
        .paths
        .iter()
        .map(|p| {
            let copy = dir.path().join(p.file_name().expect("file name"));
            std::fs::copy(p, &copy).expect("copy input");
            copy
        })
        .collect();
    let r = run(flags, plugin, &paths, args);
    Outcome {
        code: r.code,
        stdout: r.stdout,
        stderr: r
            .stderr
            .replace(dir.path().to_str().expect("utf-8 temp path"), "<dir>"),
        files: paths
            .iter()
            .map(|p| std::fs::read(p).expect("read back"))
            .collect(),
    }
}

/// Asserts `got` equals `want`, describing the first difference briefly
/// (the outputs are megabytes).
#[track_caller]
fn assert_same(what: &str, want: &Outcome, got: &Outcome) {
    if want == got {
        return;
    }
    let mut why = Vec::new();
    if want.code != got.code {
        why.push(format!("exit code {} (Rust: {})", got.code, want.code));
    }
    if want.stdout != got.stdout {
        why.push(format!(
            "stdout {:?} (Rust: {:?})",
            preview(&got.stdout),
            preview(&want.stdout)
        ));
    }
    if want.stderr != got.stderr {
        why.push(format!("stderr {:?} (Rust: {:?})", got.stderr, want.stderr));
    }
    for (i, (w, g)) in want.files.iter().zip(&got.files).enumerate() {
        if w != g {
            let at = w.iter().zip(g).position(|(a, b)| a != b);
            why.push(format!(
                "file {i} differs (lengths {} / Rust {}, first difference at {at:?})",
                g.len(),
                w.len()
            ));
        }
    }
    panic!("{what}: {}", why.join("; "));
}

fn preview(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
    if bytes.len() > 200 {
        format!("{s}... ({} bytes)", bytes.len())
    } else {
        s
    }
}

/// Reports a skipped plugin on the real stderr, which the test harness does
/// not capture.
fn skipped(lang: &str, plugin: &str, reason: &str) {
    // One write: the harness's own lines go to stdout at the same time.
    let line = format!("SKIPPED {lang} {plugin}: {reason}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// The plugin under test, or `None` after reporting why it is skipped.
fn plugin_in(lang: &str, name: &str) -> Option<PathBuf> {
    if let Some((_, _, why)) = NOT_PROVIDED
        .iter()
        .find(|(l, n, _)| *l == lang && *n == name)
    {
        skipped(lang, name, why);
        return None;
    }
    match lang_plugin(lang, name) {
        Ok(p) => Some(p),
        Err(reason) => {
            assert!(
                !lang_required(lang),
                "{lang} {name} is required (MMHOST_REQUIRE_LANGS) but not available: {reason}"
            );
            skipped(
                lang,
                name,
                &format!("{reason}; install it with scripts/install-toolchains.sh {lang}"),
            );
            None
        }
    }
}

/// The file sets every plugin runs over: the sizes of `size_sets()` (empty,
/// 1, page +-1, 2 MiB +-1, mixes, 5 MiB) plus many small files.
fn file_sets(seed: u64, alphabet: &[u8]) -> Vec<Files> {
    let mut sets: Vec<Files> = size_sets()
        .iter()
        .enumerate()
        .map(|(i, lens)| Files::new(lens, seed + i as u64, alphabet))
        .collect();
    let mut rng = Rng(seed | 1);
    let small: Vec<usize> = (0..300).map(|_| rng.below(100) as usize).collect();
    sets.push(Files::new(&small, seed + 99, alphabet));
    sets
}

fn lens(files: &Files) -> String {
    let lens: Vec<usize> = files.contents.iter().map(Vec::len).collect();
    if lens.len() > 12 {
        format!("{} files", lens.len())
    } else {
        format!("{lens:?}")
    }
}

fn check_upper(lang: &str) {
    let Some(candidate) = plugin_in(lang, "upper") else {
        return;
    };
    let reference = common::plugin("upper");
    // Serially, and in small chunks on two threads (a plugin of the
    // `parallel` world, as Go's upper is, splits; the others run serially).
    let chunked = ["--in-place", "-j", "2", "--chunk-size", "4097"];
    for files in file_sets(1000, TEXTISH) {
        let want = outcome(&["--in-place"], &reference, &files, &[]);
        for flags in [&["--in-place"][..], &chunked[..]] {
            let got = outcome(flags, &candidate, &files, &[]);
            assert_same(
                &format!("{lang} upper {flags:?}, sizes {}", lens(&files)),
                &want,
                &got,
            );
        }
    }
    // Without a write target: the read-only error, files untouched.
    let files = Files::new(&[10, 4097], 7, TEXTISH);
    let want = outcome(&[], &reference, &files, &[]);
    assert_eq!(want.code, 1, "the reference fails read-only");
    assert_same(
        &format!("{lang} upper without a write target"),
        &want,
        &outcome(&[], &candidate, &files, &[]),
    );
    // --output: the transformed concatenation in a new file.
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.out"), dir.path().join("b.out"));
    let files = Files::new(&[4097, 2 * MIB + 1, 3], 8, TEXTISH);
    run(&["-o", a.to_str().unwrap()], &reference, &files.paths, &[]).assert_ok();
    run(&["-o", b.to_str().unwrap()], &candidate, &files.paths, &[]).assert_ok();
    assert!(
        std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
        "{lang} upper -o differs from the reference"
    );
    files.assert_unchanged();
}

fn check_checksum(lang: &str) {
    let Some(candidate) = plugin_in(lang, "checksum") else {
        return;
    };
    let reference = common::plugin("checksum");
    for files in file_sets(2000, TEXTISH) {
        let want = outcome(&[], &reference, &files, &[]);
        let got = outcome(&[], &candidate, &files, &[]);
        assert_same(
            &format!("{lang} checksum, sizes {}", lens(&files)),
            &want,
            &got,
        );
    }
}

fn check_count(lang: &str) {
    let Some(candidate) = plugin_in(lang, "count") else {
        return;
    };
    let reference = common::plugin("count");
    let long = "a".repeat(33);
    // Two letters make matches frequent, self-overlapping and straddling
    // every chunk and file boundary; "" counts size + 1.
    let patterns = ["a", "ab", "aba", "abba", "bbbbbbbbbb", &long, ""];
    for files in file_sets(3000, b"ab") {
        for pat in patterns {
            let want = outcome(&[], &reference, &files, &[pat]);
            let got = outcome(&[], &candidate, &files, &[pat]);
            assert_same(
                &format!("{lang} count {pat:?}, sizes {}", lens(&files)),
                &want,
                &got,
            );
        }
    }
    // "needle" spelled over one-byte files after a page; UTF-8 patterns;
    // the usage errors.
    let dir = tempfile::tempdir().unwrap();
    let mut parts: Vec<Vec<u8>> = vec![vec![b'x'; 4095]];
    parts[0].extend_from_slice(b"ne");
    parts.extend("edle".bytes().map(|b| vec![b]));
    parts.push("needle! café, ça, é".as_bytes().to_vec());
    parts.push(vec![0xc3]);
    parts.push("\u{a9}é needle".as_bytes().to_vec());
    let mut paths = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let path = dir.path().join(format!("p{i}"));
        std::fs::write(&path, p).unwrap();
        paths.push(path);
    }
    let files = Files {
        dir,
        paths,
        contents: parts,
    };
    let cases: &[&[&str]] = &[&["needle"], &["é"], &["ça"], &["x"], &[], &["a", "b"]];
    for args in cases {
        let want = outcome(&[], &reference, &files, args);
        let got = outcome(&[], &candidate, &files, args);
        assert_same(&format!("{lang} count {args:?}"), &want, &got);
    }
}

macro_rules! conformance {
    ($($lang:ident),*) => {$(
        mod $lang {
            #[test]
            fn upper() {
                super::check_upper(stringify!($lang));
            }

            #[test]
            fn checksum() {
                super::check_checksum(stringify!($lang));
            }

            #[test]
            fn count() {
                super::check_count(stringify!($lang));
            }
        }
    )*};
}

conformance!(c, assemblyscript, python, javascript, wat, go);

/// Prints which languages are built and which are skipped, and why.
#[test]
fn languages_available() {
    let mut lines = Vec::new();
    for lang in LANGUAGES {
        match lang_plugin(lang, "upper") {
            Ok(_) => lines.push(format!("  {lang:<15} built")),
            Err(reason) => {
                assert!(
                    !lang_required(lang),
                    "{lang} is required (MMHOST_REQUIRE_LANGS) but not available: {reason}"
                );
                lines.push(format!("  {lang:<15} SKIPPED: {reason}"));
            }
        }
    }
    let summary = format!(
        "conformance languages (besides the Rust reference):\n{}\n",
        lines.join("\n")
    );
    let _ = std::io::stderr().write_all(summary.as_bytes());
}

/// `mmhost inspect` names Go from the producers section Go's compiler
/// writes into the module (kept inside the wrapped component), and the
/// component loads, in the `parallel` world (its core module exports the
/// `chunked` functions, so `mmhost wrap` chose that world).
#[test]
fn inspect_names_go() {
    let Some(upper) = plugin_in("go", "upper") else {
        return;
    };
    let out = mmhost()
        .args(["inspect", "--json"])
        .arg(&upper)
        .output()
        .expect("mmhost inspect");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["languages"], serde_json::json!(["Go"]), "{v}");
    assert_eq!(v["loads"], serde_json::json!(true), "{v}");
    assert_eq!(v["parallel"], serde_json::json!(true), "{v}");
}
