//! The `redact` built-in against Python's `re.sub`, line by line, over
//! generated files: the real `mmhost` binary rewrites real temporary files
//! (`--in-place`, through `--files-from`) or prints the redacted text, and
//! the result must equal what `python3` computes from the same files with
//! `re.sub(REGEX, lambda m: b"X" * len(m[0]), line)` on every line of every
//! file (lines never span files, as in grep).

mod common;

use std::path::Path;
use std::process::Command;

use common::{mmhost, Rng, Run};

/// Python's answer: the redacted concatenation of `names` (read in `dir`).
fn python_redact(dir: &Path, names: &[String], regex: &str) -> Vec<u8> {
    let script = r#"
import re, sys
pat = re.compile(sys.argv[1].encode())
out = []
for name in sys.argv[2:]:
    data = open(name, 'rb').read()
    lines = data.split(b'\n')
    out.append(b'\n'.join(pat.sub(lambda m: b'X' * len(m[0]), l) for l in lines))
sys.stdout.buffer.write(b''.join(out))
"#;
    let o = Command::new("python3")
        .current_dir(dir)
        .arg("-c")
        .arg(script)
        .arg(regex)
        .args(names)
        .output()
        .expect("python3 is needed by this test (scripts/test.sh installs it)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}

fn mm(dir: &Path, args: &[&str]) -> Run {
    let mut c = mmhost();
    c.current_dir(dir).args(args);
    c.output().expect("spawn mmhost").into()
}

fn concat(dir: &Path, names: &[String]) -> Vec<u8> {
    names
        .iter()
        .flat_map(|f| std::fs::read(dir.join(f)).unwrap())
        .collect()
}

/// Generated files, some cut so that a match would straddle two of them
/// (`ab` split as `a` | `b`, digits split across the boundary), with CRLF,
/// NUL bytes, empty files and files without a final newline.
fn files(dir: &Path, n: usize, seed: u64) -> Vec<String> {
    let mut rng = Rng(seed);
    let mut names = Vec::new();
    for i in 0..n {
        let name = format!("{i:04}.txt");
        let len = rng.below(40) as usize;
        let mut data = rng.bytes(len, b"ab c12\n\r\0xyfo9Z");
        match i % 5 {
            0 => data.push(b'a'),
            1 => data.insert(0, b'b'),
            2 => data.extend_from_slice(b"foo7"),
            _ => {}
        }
        std::fs::write(dir.join(&name), data).unwrap();
        names.push(name);
    }
    names
}

const REGEXES: &[&str] = &[
    r"[0-9]+",
    r"ab",
    r"ab|b[0-9]",
    r"\bfo+\w*",
    r"a.c",
    r"^x",
    r"y$",
    r"b[^a]*c",
    r"\s+",
    r"(?i)z",
];

#[test]
fn redact_in_place_equals_python_re_sub_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let names = files(d, 400, 7);
    std::fs::write(d.join("list.txt"), names.join("\n")).unwrap();
    for regex in REGEXES {
        let before = concat(d, &names);
        let want = python_redact(d, &names, regex);
        assert_eq!(want.len(), before.len());
        let hits = before.iter().zip(&want).filter(|(a, b)| a != b).count();
        // Printed, unchanged files.
        let mut args = vec!["run", "redact"];
        args.extend(names.iter().map(String::as_str));
        args.extend(["--", regex]);
        let got = mm(d, &args);
        got.assert_ok();
        assert!(got.stdout == want, "redact {regex} on stdout vs Python");
        assert_eq!(concat(d, &names), before, "printing changes no file");
        // In place.
        let got = mm(
            d,
            &[
                "run",
                "-i",
                "--files-from",
                "list.txt",
                "redact",
                "--",
                regex,
            ],
        );
        got.assert_ok();
        let after = concat(d, &names);
        assert!(after == want, "redact -i {regex} vs Python");
        let count: usize = got.stdout_str().trim().parse().unwrap();
        assert!(
            count <= hits && (hits == 0) == (count == 0),
            "{regex}: {count} matches"
        );
    }
}

#[test]
fn redact_matches_do_not_span_files_or_lines() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a"), b"key=12 sec").unwrap();
    std::fs::write(d.join("b"), b"ret end\nsecret\r\n").unwrap();
    let got = mm(d, &["run", "redact", "a", "b", "--", "secret|[0-9]+"]);
    got.assert_ok();
    assert_eq!(got.stdout, b"key=XX secret end\nXXXXXX\r\n");
    let got = mm(d, &["run", "redact", "a", "b", "--", r"sec\s*ret"]);
    got.assert_ok();
    assert_eq!(got.stdout, b"key=12 secret end\nXXXXXX\r\n");
}

#[test]
fn redact_bad_regex_fails_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a"), b"abc\n").unwrap();
    let got = mm(d, &["run", "-i", "redact", "a", "--", "(ab"]);
    got.assert_code(1);
    assert!(
        got.stderr.contains("redact: invalid regex `(ab`"),
        "{}",
        got.stderr
    );
    assert_eq!(std::fs::read(d.join("a")).unwrap(), b"abc\n");
    let got = mm(d, &["run", "redact", "a"]);
    got.assert_code(1);
    assert!(got.stderr.contains("usage: redact REGEX"), "{}", got.stderr);
}
