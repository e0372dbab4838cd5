//! The built-in plugins against the standard tools, and input lists of any
//! length (`--files-from`, `"inputs_from"`).
//!
//! Every comparison runs the real tool (`wc`, `grep`, `sha256sum` of GNU
//! coreutils and grep) and the real `mmhost` binary over the same files in a
//! temporary directory, with the same relative names, and compares stdout
//! byte for byte. A missing tool fails the test (CI installs them, see
//! scripts/test.sh); it is never skipped.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use common::{mmhost, tool, Rng, Run};
use sha2::{Digest, Sha256};

/// `mmhost ARGS...` in `dir`.
fn mm(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut c = mmhost();
    c.current_dir(dir).args(args);
    c.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn mmhost");
    if let Some(data) = stdin {
        child.stdin.take().unwrap().write_all(data).unwrap();
    }
    child.wait_with_output().unwrap().into()
}

/// Writes `files` (name, bytes) into a fresh temporary directory.
fn dir_with(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, data) in files {
        std::fs::write(dir.path().join(name), data).unwrap();
    }
    dir
}

/// The edge cases every text tool must agree on.
fn edge_files() -> Vec<(&'static str, Vec<u8>)> {
    let mut rng = Rng(0x5eed);
    let mut long = rng.bytes(300_000, b"ab cd\tef");
    long.push(b'\n');
    let mut mixed = rng.bytes(200_000, b"needle hay\n\r\0\x01\x7f\x80\xff\x0b\x0cNEEDLE");
    mixed.extend_from_slice(b"nee");
    vec![
        ("empty.txt", Vec::new()),
        ("plain.txt", b"one two three\nfour five\n".to_vec()),
        ("nonl.txt", b"no final newline here".to_vec()),
        ("crlf.txt", b"dos line one\r\ndos line two\r\n\r\n".to_vec()),
        ("nul.bin", b"a\0b needle\0\0 c\n\0\n\x01x\x01 y\n".to_vec()),
        ("long.txt", long),
        ("mixed.bin", mixed),
        // Starts with the rest of "needle" cut at the end of mixed.bin: a
        // match must not span the two files.
        ("dle.txt", b"dle and more\nneedle\n".to_vec()),
        ("spaces.txt", b"   \n\t\x0b\x0c\r  lead  trail  \n".to_vec()),
    ]
}

fn edge_dir() -> (tempfile::TempDir, Vec<String>) {
    let files = edge_files();
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, d)| (*n, d.as_slice())).collect();
    let names = files.iter().map(|(n, _)| n.to_string()).collect();
    (dir_with(&refs), names)
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn wc_equals_gnu_wc() {
    let (dir, names) = edge_dir();
    let d = dir.path();
    let sets: Vec<Vec<&str>> = vec![
        strs(&names),
        vec!["plain.txt"],
        vec!["empty.txt"],
        vec!["nonl.txt", "empty.txt"],
        vec!["long.txt", "mixed.bin", "dle.txt"],
    ];
    for files in &sets {
        for flags in [
            vec![],
            vec!["-l"],
            vec!["-w"],
            vec!["-c"],
            vec!["-l", "-w"],
            vec!["-wc"],
        ] {
            let mut want_args = flags.clone();
            want_args.extend(files);
            let want = tool(d, "wc", &want_args, None);
            want.assert_ok();
            for jobs in [&["-j", "1"][..], &["-j", "2", "--chunk-size", "4K"][..]] {
                let mut args = vec!["run"];
                args.extend(jobs);
                args.push("wc");
                args.extend(files);
                if !flags.is_empty() {
                    args.push("--");
                    args.extend(&flags);
                }
                let got = mm(d, &args, None);
                got.assert_ok();
                assert_eq!(
                    got.stdout_str(),
                    want.stdout_str(),
                    "mmhost {args:?} vs wc {want_args:?}"
                );
            }
        }
    }
}

#[test]
fn sha256sum_equals_coreutils() {
    let (dir, names) = edge_dir();
    let d = dir.path();
    let files = strs(&names);
    let want = tool(d, "sha256sum", &files, None);
    want.assert_ok();
    let mut args = vec!["run", "sha256sum"];
    args.extend(&files);
    let got = mm(d, &args, None);
    got.assert_ok();
    assert_eq!(got.stdout_str(), want.stdout_str());

    let concat: Vec<u8> = files
        .iter()
        .flat_map(|f| std::fs::read(d.join(f)).unwrap())
        .collect();
    let want = tool(d, "sha256sum", &[], Some(&concat));
    args.extend(["--", "--region"]);
    let got = mm(d, &args, None);
    got.assert_ok();
    assert_eq!(got.stdout_str(), want.stdout_str());
}

#[test]
fn grep_equals_gnu_grep() {
    let (dir, names) = edge_dir();
    let d = dir.path();
    let files = strs(&names);
    let cases: Vec<Vec<&str>> = vec![
        vec!["-F", "needle"],
        vec!["-F", "-i", "needle"],
        vec!["-F", "-n", "needle"],
        vec!["-F", "-c", "needle"],
        vec!["-n", "dle"],
        vec!["-E", "^dos.*two\r$"],
        vec!["-n", "b[^x]*c"],
        vec!["-c", "-i", "ne+dle|lead"],
        vec!["-n", "^$"],
        vec!["-n", ""],
        vec!["-F", "-n", "line"],
        vec!["(ab|cd) (ef|ab)"],
        vec!["-c", "[[:digit:]]"],
        vec!["-n", "x.y"],
    ];
    for case in &cases {
        let (flags, pattern) = case.split_at(case.len() - 1);
        let mut grep_args = vec!["-a", "-H"];
        grep_args.extend(flags);
        if !flags.contains(&"-F") {
            grep_args.push("-E");
        }
        grep_args.push("-e");
        grep_args.push(pattern[0]);
        grep_args.extend(&files);
        let want = tool(d, "grep", &grep_args, None);
        let mut args = vec!["run", "grep"];
        args.extend(&files);
        args.push("--");
        args.extend(flags.iter().filter(|f| **f != "-E"));
        args.push("--");
        args.push(pattern[0]);
        let got = mm(d, &args, None);
        assert_eq!(
            got.stdout_str(),
            want.stdout_str(),
            "mmhost {args:?} vs grep {grep_args:?}: {}",
            got.stderr
        );
        // grep exits 1 when nothing matched; so does the plugin.
        assert_eq!(got.code, want.code, "{case:?}: {}", got.stderr);
    }
}

#[test]
fn xxd_equals_xxd_of_the_concatenation() {
    let (dir, _) = edge_dir();
    let d = dir.path();
    let files = ["plain.txt", "nul.bin", "nonl.txt", "mixed.bin", "dle.txt"];
    let concat: Vec<u8> = files
        .iter()
        .flat_map(|f| std::fs::read(d.join(f)).unwrap())
        .collect();
    std::fs::write(d.join("all.bin"), &concat).unwrap();
    let n = concat.len().to_string();
    let cases: Vec<Vec<&str>> = vec![
        vec![],
        vec!["-s", "3", "-l", "20"],
        vec!["-s", "-5"],
        vec!["-s", "-100", "-l", "40"],
        vec!["-s", "0x10", "-l", "0x21"],
        vec!["-s", "7", "-l", "0"],
        vec!["-s", &n],
        vec!["-s", "-48"],
    ];
    for case in &cases {
        let mut want_args = case.clone();
        want_args.push("all.bin");
        let want = tool(d, "xxd", &want_args, None);
        want.assert_ok();
        let mut args = vec!["run", "xxd"];
        args.extend(files);
        if !case.is_empty() {
            args.push("--");
            args.extend(case);
        }
        let got = mm(d, &args, None);
        got.assert_ok();
        assert_eq!(got.stdout_str(), want.stdout_str(), "{case:?}");
    }
    // Before the start of the region: one clear line, exit 1.
    let got = mm(d, &["run", "xxd", "plain.txt", "--", "-s", "-1000"], None);
    got.assert_code(1);
    assert!(
        got.stderr.contains("before the start of the region"),
        "{}",
        got.stderr
    );
}

/// `replace -i` over thousands of files, matches cut by file boundaries:
/// the files together equal Python's `bytes.replace` over the concatenation.
#[test]
fn replace_in_place_equals_python_over_the_concatenation() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut rng = Rng(99);
    let mut names = Vec::new();
    for i in 0..3000 {
        let name = format!("{i:04}.txt");
        let len = rng.below(12) as usize;
        std::fs::write(d.join(&name), rng.bytes(len, b"aab")).unwrap();
        names.push(name);
    }
    let concat: Vec<u8> = names
        .iter()
        .flat_map(|f| std::fs::read(d.join(f)).unwrap())
        .collect();
    std::fs::write(d.join("all.bin"), &concat).unwrap();
    let py = tool(
        d,
        "python3",
        &[
            "-c",
            "import sys; d=open('all.bin','rb').read(); r=d.replace(b'aab', b'XYZ'); \
             sys.stdout.buffer.write(r); sys.stderr.write(str(d.count(b'aab')))",
        ],
        None,
    );
    py.assert_ok();
    std::fs::write(d.join("list.txt"), names.join("\n")).unwrap();
    let got = mm(
        d,
        &[
            "run",
            "-i",
            "--files-from",
            "list.txt",
            "replace",
            "--",
            "aab",
            "XYZ",
        ],
        None,
    );
    got.assert_ok();
    assert_eq!(got.stdout_str().trim(), py.stderr.trim(), "the count");
    let after: Vec<u8> = names
        .iter()
        .flat_map(|f| std::fs::read(d.join(f)).unwrap())
        .collect();
    assert_eq!(after, py.stdout);
    // A bad argument changes nothing.
    let got = mm(
        d,
        &[
            "run",
            "-i",
            "--files-from",
            "list.txt",
            "replace",
            "--",
            "XYZ",
            "ab",
        ],
        None,
    );
    got.assert_code(1);
    let again: Vec<u8> = names
        .iter()
        .flat_map(|f| std::fs::read(d.join(f)).unwrap())
        .collect();
    assert_eq!(again, py.stdout);
}

/// Many small files, generated, listed one a line: `--files-from` gives the
/// region in the list's order, as a plain concatenation in that order.
#[test]
fn files_from_many_files_in_list_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("f")).unwrap();
    let mut rng = Rng(7);
    let n = 6000;
    let mut names = Vec::new();
    for i in 0..n {
        let name = format!("f/{i:05}.txt");
        let len = rng.below(200) as usize;
        std::fs::write(d.join(&name), rng.bytes(len, b"abc\n")).unwrap();
        names.push(name);
    }
    // Not sorted: the list's order is the region's.
    names.reverse();
    names.swap(0, 4000);
    let concat: Vec<u8> = names
        .iter()
        .flat_map(|f| std::fs::read(d.join(f)).unwrap())
        .collect();
    let want = format!("{:x}  -\n", Sha256::digest(&concat));
    std::fs::write(d.join("list.txt"), names.join("\n") + "\n").unwrap();
    let got = mm(
        d,
        &[
            "run",
            "--files-from",
            "list.txt",
            "sha256sum",
            "--",
            "--region",
        ],
        None,
    );
    got.assert_ok();
    assert_eq!(got.stdout_str(), want);

    // From standard input, NUL-separated, after a FILE given on the line.
    let nul = names[1..].join("\0");
    let got = mm(
        d,
        &[
            "run",
            "--files-from",
            "-",
            "--null",
            "sha256sum",
            &names[0],
            "--",
            "--region",
        ],
        Some(nul.as_bytes()),
    );
    got.assert_ok();
    assert_eq!(got.stdout_str(), want);

    // Per-file output in list order, as sha256sum over the same list.
    let got = mm(d, &["run", "--files-from", "list.txt", "sha256sum"], None);
    got.assert_ok();
    let want_per_file = tool(d, "xargs", &["-a", "list.txt", "sha256sum"], None);
    want_per_file.assert_ok();
    assert_eq!(got.stdout_str(), want_per_file.stdout_str());

    // A job file's "inputs_from", relative to the job file.
    std::fs::write(
        d.join("job.json"),
        r#"{"inputs_from": "list.txt", "steps": [{"plugin": "sha256sum", "args": ["--region"]}]}"#,
    )
    .unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let job = d.join("job.json");
    let got = mm(
        elsewhere.path(),
        &["run", "--job", job.to_str().unwrap()],
        None,
    );
    got.assert_ok();
    assert_eq!(got.stdout_str(), want);

    // mmhost layout reads lists too.
    let got = mm(d, &["layout", "--json", "--files-from", "list.txt"], None);
    got.assert_ok();
    let v: serde_json::Value = serde_json::from_slice(&got.stdout).unwrap();
    assert_eq!(v["files"].as_array().unwrap().len(), n);
    assert_eq!(v["files"][0]["name"], names[0].as_str());
}

#[test]
fn files_from_errors_name_the_list_and_line() {
    let dir = dir_with(&[("a.txt", b"a"), ("b.txt", b"b")]);
    let d = dir.path();
    std::fs::write(d.join("gap.txt"), "a.txt\n\nb.txt\n").unwrap();
    let got = mm(d, &["run", "--files-from", "gap.txt", "wc"], None);
    got.assert_code(2);
    assert!(
        got.stderr
            .contains("mmhost: error: gap.txt:2: empty line: each line names one file"),
        "{}",
        got.stderr
    );
    assert!(got.stdout.is_empty());

    std::fs::write(d.join("missing.txt"), "a.txt\nb.txt\nnope.txt\n").unwrap();
    let got = mm(d, &["run", "--files-from", "missing.txt", "wc"], None);
    got.assert_code(3);
    assert!(
        got.stderr
            .contains("mmhost: error: missing.txt:3: nope.txt: file not found"),
        "{}",
        got.stderr
    );

    let got = mm(d, &["run", "--files-from", "nolist.txt", "wc"], None);
    got.assert_code(3);
    assert!(got.stderr.contains("nolist.txt: cannot read the file list"));

    std::fs::write(
        d.join("job.json"),
        r#"{"inputs_from": "missing.txt", "steps": [{"plugin": "wc"}]}"#,
    )
    .unwrap();
    let got = mm(d, &["run", "--job", "job.json"], None);
    got.assert_code(3);
    assert!(
        got.stderr
            .contains("job.json: inputs_from: missing.txt:3: nope.txt: file not found"),
        "{}",
        got.stderr
    );
    // Nothing was touched.
    assert_eq!(std::fs::read(d.join("a.txt")).unwrap(), b"a");
}

#[test]
fn builtins_run_by_name_and_are_listed() {
    let dir = dir_with(&[("a.txt", b"hello world\n")]);
    let d = dir.path();
    let list = mm(d, &["plugins"], None);
    list.assert_ok();
    for name in [
        "wc",
        "sha256sum",
        "grep",
        "upper",
        "checksum",
        "count",
        "tail",
        "reverse",
    ] {
        assert!(
            list.stdout_str()
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{name} "))),
            "{name} missing from:\n{}",
            list.stdout_str()
        );
    }
    let help = mm(d, &["plugins", "grep"], None);
    help.assert_ok();
    assert!(help.stdout_str().contains("[-F] [-i] [-n] [-c] PATTERN"));
    assert_eq!(
        mm(d, &["run", "grep", "--help"], None).stdout,
        help.stdout,
        "mmhost run NAME --help is the plugin's help"
    );

    // An unknown name: exit 4, the names listed; a path is a file.
    let got = mm(d, &["run", "wcc", "a.txt"], None);
    got.assert_code(4);
    assert!(got.stderr.contains("wcc: no built-in plugin of that name"));
    assert!(got.stderr.contains("wc, sha256sum, grep"), "{}", got.stderr);
    let got = mm(d, &["run", "./wc", "a.txt"], None);
    got.assert_code(4);
    assert!(got.stderr.contains("./wc"), "{}", got.stderr);

    // The reference plugins run by name, in jobs too.
    let got = mm(d, &["run", "count", "a.txt", "--", "o"], None);
    got.assert_ok();
    assert_eq!(got.stdout_str(), "2\n");
    std::fs::write(
        d.join("job.json"),
        r#"{"inputs": ["a.txt"], "write": {"output": "up.txt"},
            "steps": [{"plugin": "upper"}, {"plugin": "wc", "args": ["-c"]}]}"#,
    )
    .unwrap();
    let got = mm(d, &["run", "--job", "job.json"], None);
    got.assert_ok();
    assert_eq!(got.stdout_str(), "12 a.txt\n");
    assert_eq!(std::fs::read(d.join("up.txt")).unwrap(), b"HELLO WORLD\n");
    let check = mm(d, &["check", "job.json"], None);
    check.assert_ok();
    std::fs::write(
        d.join("bad.json"),
        r#"{"inputs": ["a.txt"], "steps": [{"plugin": "nosuch"}]}"#,
    )
    .unwrap();
    let got = mm(d, &["check", "bad.json"], None);
    got.assert_code(4);
    assert!(
        got.stderr
            .contains("bad.json: steps[0].plugin: nosuch: no built-in plugin"),
        "{}",
        got.stderr
    );
}
