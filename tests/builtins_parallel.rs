//! `grep` and `redact` in chunks on several threads give exactly the output
//! of the serial run and of the real tool: GNU grep (`LC_ALL=C grep -a -H`)
//! and Python's `re.sub` per line, over real temporary files, with several
//! chunk sizes and `-j`. The files include a line longer than the 1 MiB
//! halo (left by the chunks to `reduce`), runs of short matching lines
//! dense enough that a chunk's partial result reaches the host's 1 MiB
//! limit (the rest handed to `reduce`), files without a final newline,
//! empty files, CRLF, NUL bytes and matches cut at file boundaries.

mod common;

use std::path::Path;
use std::process::Command;

use common::{mmhost, tool, Rng, Run};

fn mm(dir: &Path, args: &[&str]) -> Run {
    let mut c = mmhost();
    c.current_dir(dir).args(args);
    c.output().expect("spawn mmhost").into()
}

/// The test files: (name, bytes).
fn files() -> Vec<(&'static str, Vec<u8>)> {
    let mut rng = Rng(0xc0ffee);
    // A line of 2.5 MiB with matches at its start, middle and end.
    let mut long = b"x1 needle 42 ".to_vec();
    long.extend(rng.bytes(1_300_000, b"ab cd7"));
    long.extend_from_slice(b" needle 99 ");
    long.extend(rng.bytes(1_300_000, b"ef gh8"));
    long.extend_from_slice(b" needle\nshort needle 5\n");
    // Alternate matching lines, 5 bytes a pair: over a 1 MiB chunk, more
    // runs than a partial result holds.
    let dense = b"x1\ny\n".repeat(420_000);
    // Digits and letters alternating: an X range every two bytes.
    let mut xs = b"1a".repeat(700_000);
    xs.push(b'\n');
    let text = rng.bytes(900_000, b"needle hay x1 42\n\r\0\xff");
    vec![
        ("empty.txt", Vec::new()),
        ("long.txt", long),
        ("dense.txt", dense),
        ("nonl.txt", b"x1 needle without newline 7".to_vec()),
        ("crlf.txt", b"needle 1\r\nhay\r\n\r\n".to_vec()),
        ("xs.txt", xs),
        ("text.bin", text),
        ("nee", b"nee".to_vec()),
        ("dle.txt", b"dle 3\nneedle\n".to_vec()),
    ]
}

fn dir_with_files() -> (tempfile::TempDir, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut names = Vec::new();
    for (name, data) in files() {
        std::fs::write(dir.path().join(name), data).unwrap();
        names.push(name.to_string());
    }
    (dir, names)
}

/// Serial, and in chunks of several sizes on 2 and 3 threads.
const RUNS: &[&[&str]] = &[
    &["-j", "1"],
    &["-j", "2", "--chunk-size", "4K"],
    &["-j", "2", "--chunk-size", "64K"],
    &["-j", "3", "--chunk-size", "1M"],
    &["-j", "2"],
];

/// Checks that a `-v` run of more than one job really ran in chunks.
#[track_caller]
fn assert_chunked(flags: &[&str], r: &Run) {
    if flags[1] != "1" {
        assert!(
            r.stderr.contains(" chunks of up to "),
            "{flags:?} did not run in chunks: {}",
            r.stderr
        );
    }
}

#[test]
fn parallel_grep_equals_gnu_grep() {
    let (dir, names) = dir_with_files();
    let d = dir.path();
    let cases: &[&[&str]] = &[
        &["-F", "needle"],
        &["-F", "-n", "x1"],
        &["-F", "-c", "needle"],
        &["-n", "^x[0-9]"],
        &["-c", "-i", "NEEDLE [0-9]+"],
        &["-n", "dle|^y$"],
    ];
    for case in cases {
        let (flags, pattern) = case.split_at(case.len() - 1);
        let mut grep_args = vec!["-a", "-H"];
        grep_args.extend(flags);
        if !flags.contains(&"-F") {
            grep_args.push("-E");
        }
        grep_args.extend(["-e", pattern[0]]);
        grep_args.extend(names.iter().map(String::as_str));
        let want = tool(d, "grep", &grep_args, None);
        want.assert_ok();
        for run in RUNS {
            let mut args = vec!["run", "-v"];
            args.extend(*run);
            args.push("grep");
            args.extend(names.iter().map(String::as_str));
            args.push("--");
            args.extend(flags);
            args.extend(["--", pattern[0]]);
            let got = mm(d, &args);
            got.assert_ok();
            assert_chunked(run, &got);
            assert!(
                got.stdout == want.stdout,
                "mmhost {args:?} vs grep {grep_args:?}: {} vs {} bytes",
                got.stdout.len(),
                want.stdout.len()
            );
        }
    }
}

/// Python's answer: the redacted concatenation and the number of matches.
fn python_redact(dir: &Path, names: &[String], regex: &str) -> (Vec<u8>, usize) {
    let script = r#"
import re, sys
pat = re.compile(sys.argv[1].encode())
out = []
n = 0
for name in sys.argv[2:]:
    lines = open(name, 'rb').read().split(b'\n')
    n += sum(1 for l in lines for m in pat.finditer(l) if m.end() > m.start())
    out.append(b'\n'.join(pat.sub(lambda m: b'X' * len(m[0]), l) for l in lines))
sys.stdout.buffer.write(b''.join(out))
sys.stderr.write(str(n))
"#;
    let o = Command::new("python3")
        .current_dir(dir)
        .arg("-c")
        .arg(script)
        .arg(regex)
        .args(names)
        .output()
        .expect("python3 is needed by this test (scripts/test.sh installs it)");
    assert!(o.status.success());
    let n = String::from_utf8(o.stderr).unwrap().parse().unwrap();
    (o.stdout, n)
}

fn concat(dir: &Path, names: &[String]) -> Vec<u8> {
    names
        .iter()
        .flat_map(|f| std::fs::read(dir.join(f)).unwrap())
        .collect()
}

#[test]
fn parallel_redact_equals_python_per_line() {
    let (dir, names) = dir_with_files();
    let d = dir.path();
    let original: Vec<(String, Vec<u8>)> = names
        .iter()
        .map(|n| (n.clone(), std::fs::read(d.join(n)).unwrap()))
        .collect();
    for regex in [r"[0-9]+", r"needle", r"x1|y$", r"a\w*"] {
        let (want, count) = python_redact(d, &names, regex);
        for run in RUNS {
            // Printed.
            let mut args = vec!["run", "-v"];
            args.extend(*run);
            args.push("redact");
            args.extend(names.iter().map(String::as_str));
            args.extend(["--", regex]);
            let got = mm(d, &args);
            got.assert_ok();
            assert_chunked(run, &got);
            assert!(
                got.stdout == want,
                "redact {regex} {run:?} on stdout vs Python"
            );
            // In place, then the files are put back.
            let mut args = vec!["run", "-v", "-i"];
            args.extend(*run);
            args.push("redact");
            args.extend(names.iter().map(String::as_str));
            args.extend(["--", regex]);
            let got = mm(d, &args);
            got.assert_ok();
            assert_chunked(run, &got);
            assert_eq!(got.stdout_str(), format!("{count}\n"), "{regex} {run:?}");
            assert!(
                concat(d, &names) == want,
                "redact -i {regex} {run:?} vs Python"
            );
            for (n, data) in &original {
                std::fs::write(d.join(n), data).unwrap();
            }
        }
    }
}
