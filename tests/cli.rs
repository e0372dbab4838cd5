//! The command line as a user meets it: help, completions, the manual page,
//! `layout`, logging, colour, standard input, and the progress bar (absent
//! when stderr is not a terminal, drawn on a pseudo-terminal).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;

fn stdout_of(args: &[&str]) -> String {
    let r: Run = mmhost().args(args).output().unwrap().into();
    r.assert_ok();
    r.stdout_str()
}

#[test]
fn help_lists_commands_exit_codes_and_examples() {
    let top = stdout_of(&["--help"]);
    for word in [
        "run",
        "layout",
        "recover",
        "completions",
        "man",
        "Exit codes:",
        "5  the plugin trapped",
    ] {
        assert!(top.contains(word), "--help lacks {word:?}:\n{top}");
    }
    for sub in ["run", "completions", "man"] {
        let help = stdout_of(&[sub, "--help"]);
        assert!(
            help.contains("Example"),
            "{sub} --help has no example:\n{help}"
        );
    }
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout_of(&["completions", shell]);
        assert!(
            script.contains("layout") && script.contains("in-place"),
            "{shell}"
        );
    }
    // The bash script is valid bash.
    let script = stdout_of(&["completions", "bash"]);
    let mut bash = Command::new("bash")
        .arg("-n")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    bash.stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(bash.wait().unwrap().success());
}

#[test]
fn man_page_is_roff() {
    let man = stdout_of(&["man"]);
    assert!(
        man.contains(".TH mmhost 1"),
        "{}",
        &man[..200.min(man.len())]
    );
    assert!(man.contains("run"));
}

#[test]
fn layout_table_and_json() {
    let files = Files::new(&[64 * KIB, 100, 70_000, 0], 3, TEXTISH);
    let names: Vec<String> = files
        .paths
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mut args = vec!["layout"];
    args.extend(names.iter().map(String::as_str));
    let table = stdout_of(&args);
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        ["#", "start", "end", "size", "placed", "slot", "file"]
    );
    assert_eq!(
        lines[1][1..6],
        ["0", "65536", "65536", "mapped", "contiguous"]
    );
    assert_eq!(
        lines[2][1..6],
        ["65536", "65636", "100", "packed", "contiguous"]
    );
    // Starts at 65636, not a page multiple: a slot of its own.
    assert_eq!(
        lines[3][1..6],
        ["65636", "135636", "70000", "mapped", "own-slot"]
    );
    assert_eq!(
        lines[4][1..6],
        ["135636", "135636", "0", "empty", "contiguous"]
    );
    assert!(
        table.contains("total 135636 bytes in 4 files; not contiguous (2 extents"),
        "{table}"
    );

    args.insert(1, "--json");
    let v: serde_json::Value = serde_json::from_str(&stdout_of(&args)).unwrap();
    assert_eq!(v["size"], 135636);
    assert_eq!(v["contiguous"], false);
    assert_eq!(v["files"][2]["start"], 65636);
    assert_eq!(v["files"][2]["slot"], "own-slot");
    assert_eq!(v["files"][1]["placement"], "packed");
    assert_eq!(v["files"][0]["name"], names[0].as_str());
}

#[test]
fn plugin_logs_are_prefixed_and_filtered() {
    let files = Files::new(&[10], 4, TEXTISH);
    let args = [
        "log", "info", "hello", "log", "debug", "details", "log", "warn", "careful",
    ];
    let r = run(&[], &plugin("probe"), &files.paths, &args);
    r.assert_ok();
    assert!(r.stderr.contains("probe: info: hello"), "{}", r.stderr);
    assert!(r.stderr.contains("probe: warn: careful"));
    assert!(!r.stderr.contains("details"));
    let r = run(&["-v"], &plugin("probe"), &files.paths, &args);
    assert!(r.stderr.contains("probe: debug: details"), "{}", r.stderr);
    let r = run(&["-q"], &plugin("probe"), &files.paths, &args);
    assert!(
        !r.stderr.contains("hello") && r.stderr.contains("careful"),
        "{}",
        r.stderr
    );
}

#[test]
fn standard_input_as_a_file() {
    let files = Files::new(&[5000, 7], 5, TEXTISH);
    let piped = Rng(9).bytes(100_000, TEXTISH); // large enough to be mapped
    let mut child = mmhost()
        .arg("run")
        .arg(plugin("checksum"))
        .arg(&files.paths[0])
        .arg("-")
        .arg(&files.paths[1])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&piped).unwrap();
    let out = child.wait_with_output().unwrap();
    let all = [files.contents[0].clone(), piped, files.contents[1].clone()].concat();
    use sha2::Digest;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{:x} {}\n", sha2::Sha256::digest(&all), all.len())
    );
    // It cannot be replaced in place.
    let r: Run = mmhost()
        .args(["run", "-i"])
        .arg(plugin("upper"))
        .arg("-")
        .stdin(Stdio::null())
        .output()
        .unwrap()
        .into();
    r.assert_code(3);
    assert!(r.stderr.contains("standard input"), "{}", r.stderr);
}

/// A run that lasts about 1.5 s: the plugin loops until its timeout.
fn slow_run(extra: &[&str]) -> Command {
    let files = Files::new(&[10], 6, TEXTISH);
    let mut c = mmhost();
    c.arg("run")
        .args(["--timeout", "1500ms"])
        .args(extra)
        .arg(plugin("probe"));
    c.args(&files.paths).args(["--", "loop"]);
    std::mem::forget(files); // keep the directory for the child
    c
}

#[test]
fn no_progress_bar_when_stderr_is_not_a_terminal() {
    let r: Run = slow_run(&[]).output().unwrap().into();
    r.assert_code(5);
    assert!(!r.stderr.contains("probe ["), "{}", r.stderr);
    // Forced, it is drawn even here.
    let r: Run = slow_run(&["--progress"]).output().unwrap().into();
    assert!(r.stderr.contains("probe ["), "{}", r.stderr);
}

/// Runs a command line on a pseudo-terminal with `script`, returning what
/// the terminal showed.
fn on_a_terminal(cmd: &Command, env: &[(&str, &str)]) -> Option<String> {
    let mut line = vec![cmd.get_program().to_string_lossy().into_owned()];
    line.extend(cmd.get_args().map(|a| format!("'{}'", a.to_string_lossy())));
    let mut script = Command::new("script");
    script.args(["-qefc", &line.join(" "), "/dev/null"]);
    script.env("TERM", "xterm");
    for (k, v) in env {
        script.env(k, v);
    }
    let out = script.output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn progress_bar_and_colour_on_a_terminal() {
    let Some(screen) = on_a_terminal(&slow_run(&[]), &[]) else {
        panic!("`script` (util-linux) is needed for this test");
    };
    assert!(
        screen.contains("probe ["),
        "no bar on the terminal: {screen:?}"
    );
    assert!(
        screen.contains("\x1b[1;31merror\x1b[0m"),
        "no colour: {screen:?}"
    );
    let plain = on_a_terminal(&slow_run(&["--no-progress"]), &[("NO_COLOR", "1")]).unwrap();
    assert!(!plain.contains("probe ["), "{plain:?}");
    assert!(
        !plain.contains("\x1b[1;31m"),
        "colour despite NO_COLOR: {plain:?}"
    );
    assert!(
        plain.contains("error: plugin probe: timeout after 1500 ms"),
        "{plain:?}"
    );
}

#[test]
fn inspect_describes_a_plugin() {
    let text = stdout_of(&["inspect", plugin("upper").to_str().unwrap()]);
    assert!(text.contains("kind:         component"), "{text}");
    assert!(
        text.contains(
            "world:        mmhost:plugin/parallel@0.1.4 (loads in this mmhost; may work in chunks"
        ),
        "{text}"
    );
    assert!(text.contains("mmhost:plugin/region@0.1.4"), "{text}");
    assert!(text.contains("language:     Rust"), "{text}");
    let v: serde_json::Value = serde_json::from_str(&stdout_of(&[
        "inspect",
        "--json",
        plugin("count").to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(v["kind"], "component");
    assert_eq!(v["mmhost_version"], "0.1.4");
    assert_eq!(
        v["exports"],
        serde_json::json!(["run", "mmhost:plugin/chunked@0.1.4"])
    );
    assert_eq!(v["loads"], true);
    assert_eq!(v["parallel"], true);
    assert_eq!(v["size"], std::fs::metadata(plugin("count")).unwrap().len());
    // Something that is not a plugin is described as such.
    let dir = tempfile::tempdir().unwrap();
    let wat = dir.path().join("empty.wat");
    std::fs::write(&wat, "(module)").unwrap();
    let text = stdout_of(&["inspect", wat.to_str().unwrap()]);
    assert!(text.contains("core module (WebAssembly text)"), "{text}");
    assert!(text.contains("does not load in this mmhost"), "{text}");
}

#[test]
fn compile_fills_the_cache_ahead_of_time() {
    let cache = tempfile::tempdir().unwrap();
    let r: Run = mmhost()
        .env("MMHOST_CACHE_DIR", cache.path())
        .args([
            "compile",
            plugin("upper").to_str().unwrap(),
            plugin("count").to_str().unwrap(),
        ])
        .output()
        .unwrap()
        .into();
    r.assert_ok();
    assert!(r.stderr.contains("upper.wasm ready"), "{}", r.stderr);
    let entries = walk(cache.path());
    assert!(entries >= 2, "the cache holds {entries} files");
    // A plugin that does not load is an error with the load exit code.
    let bad = cache.path().join("bad.wasm");
    std::fs::write(&bad, b"nope").unwrap();
    let r: Run = mmhost()
        .args(["compile"])
        .arg(&bad)
        .output()
        .unwrap()
        .into();
    r.assert_code(4);
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        walk(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// `mmhost new` for every language: each scaffold builds with its own
/// build.sh and runs (counting the lines of two files), through
/// scripts/check-templates.sh, which uses the binary under test. A language
/// whose toolchain is missing is skipped by name in the output.
#[test]
fn new_scaffolds_build_and_run_in_every_language() {
    let out = Command::new("bash")
        .arg(root().join("scripts/check-templates.sh"))
        .env("MMHOST", env!("CARGO_BIN_EXE_mmhost"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    for lang in [
        "rust",
        "c",
        "assemblyscript",
        "python",
        "javascript",
        "go",
        "zig",
        "cpp",
    ] {
        assert!(
            text.contains(&format!("ok: {lang} ")) || text.contains(&format!("skipped: {lang} (")),
            "{lang} neither built nor skipped:\n{text}"
        );
    }
    assert!(
        text.contains("ok: rust "),
        "the Rust scaffold must always build:\n{text}"
    );
}

#[test]
fn new_refuses_bad_names_and_busy_directories() {
    let dir = tempfile::tempdir().unwrap();
    let r: Run = mmhost()
        .current_dir(dir.path())
        .args(["new", "--lang", "rust", "Bad_Name"])
        .output()
        .unwrap()
        .into();
    r.assert_code(2);
    assert!(r.stderr.contains("not a plugin name"), "{}", r.stderr);
    std::fs::create_dir(dir.path().join("busy")).unwrap();
    std::fs::write(dir.path().join("busy/x"), "x").unwrap();
    let r: Run = mmhost()
        .current_dir(dir.path())
        .args(["new", "--lang", "c", "--dir", "busy", "fine"])
        .output()
        .unwrap()
        .into();
    r.assert_code(2);
    assert!(r.stderr.contains("not empty"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert_eq!(std::fs::read(dir.path().join("busy/x")).unwrap(), b"x");
    let r: Run = mmhost()
        .current_dir(dir.path())
        .args(["new", "--lang", "c", "--dir", "busy/x", "fine"])
        .output()
        .unwrap()
        .into();
    r.assert_code(2);
    assert!(r.stderr.contains("not a directory"), "{}", r.stderr);
    assert_eq!(std::fs::read(dir.path().join("busy/x")).unwrap(), b"x");
    let r: Run = mmhost()
        .current_dir(dir.path())
        .args(["new", "--lang", "python", "fine"])
        .output()
        .unwrap()
        .into();
    r.assert_ok();
    for f in [
        "fine/build.sh",
        "fine/app.py",
        "fine/wit/mmhost.wit",
        "fine/mmhost_guest.py",
    ] {
        assert!(dir.path().join(f).exists(), "{f} missing");
    }
    let app = std::fs::read_to_string(dir.path().join("fine/README.md")).unwrap();
    assert!(app.contains("fine") && !app.contains("{{name}}"));
}

/// A reader that went away (`mmhost layout FILES | head -1`) stops every
/// command that prints quietly, with 141 as a process killed by `SIGPIPE`:
/// the same rule as `run`. The pipe's read end is closed before mmhost
/// starts, so every write fails, whatever the timing.
#[test]
fn a_closed_stdout_is_a_quiet_stop_for_every_command() {
    let files = Files::new(&[10, 20], 41, TEXTISH);
    let names: Vec<&str> = files.paths.iter().map(|p| p.to_str().unwrap()).collect();
    let mut layout = vec!["layout"];
    layout.extend(&names);
    let mut layout_json = vec!["layout", "--json"];
    layout_json.extend(&names);
    let mut run = vec!["run", "-q"];
    let count = plugin("count");
    run.push(count.to_str().unwrap());
    run.extend(&names);
    run.extend(["--", "a"]);
    for args in [
        layout,
        layout_json,
        vec!["schema"],
        vec!["completions", "bash"],
        vec!["man"],
        run,
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = mmhost()
            .args(&args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(141), "{args:?}");
        assert!(
            out.stderr.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
