//! A plugin author's first hour, host side (issue 16): the progress bar and
//! the run report together, progress of host-side work, the manual pages,
//! the wording of errors, and the debugging switches. Every test runs the
//! real binary on real temporary files.

mod common;

use std::path::Path;
use std::process::Command;

use common::{mmhost, plugin, Files, Run, TEXTISH};

/// The last non-empty line of `text` (a terminal's `\r\n` ends a line too).
fn last_line(text: &str) -> &str {
    text.split(['\n', '\r'])
        .rfind(|l| !l.is_empty())
        .unwrap_or_default()
}

/// A run long enough for the bar to appear (it waits a second): the `probe`
/// plugin spins until the timeout stops it (exit 5), after the bar drew.
const SPIN: &[&str] = &["--timeout", "2500ms"];

#[test]
fn progress_with_report_json_leaves_the_report_alone_on_the_last_line() {
    let files = Files::new(&[1 << 20], 7, TEXTISH);
    let out = common::run(
        &[&["--progress", "--report", "json"], SPIN].concat(),
        &plugin("probe"),
        &files.paths,
        &["loop"],
    );
    out.assert_code(5);
    // The bar did draw (else this test would prove nothing)...
    assert!(
        out.stderr.contains("\x1b[2K") && out.stderr.contains("/1.00 MiB"),
        "no bar on stderr: {:?}",
        out.stderr
    );
    // ...and the last line of stderr is the report, nothing before it.
    let last = out.stderr.lines().last().unwrap();
    let v: serde_json::Value = serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("last stderr line is not JSON ({e}): {last:?}"));
    assert_eq!(v["exit_code"], 5);
    assert_eq!(v["size"], 1 << 20);
}

#[test]
fn on_a_terminal_the_report_is_the_last_line_too() {
    // `script` gives the run a real terminal (stdout and stderr both), where
    // the bar is drawn without --progress.
    let files = Files::new(&[1 << 20], 8, TEXTISH);
    let cmd = format!(
        "{} run --report json {} {} {} -- loop",
        env!("CARGO_BIN_EXE_mmhost"),
        SPIN.join(" "),
        plugin("probe").display(),
        files.paths[0].display()
    );
    let out = common::tool(
        files.dir.path(),
        "script",
        &["-qec", &cmd, "/dev/null"],
        None,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\x1b[2K"), "no bar on the terminal: {text:?}");
    let last = last_line(&text);
    let v: serde_json::Value = serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("last terminal line is not JSON ({e}): {last:?}"));
    assert_eq!(v["exit_code"], 5);
}

/// `count` searches in the host (`find`): the bytes the host searched are
/// the run's progress, and the report says how many.
#[test]
fn host_side_search_counts_as_progress_over_the_whole_region() {
    let lens = [300_000, 0, 1 << 20, 4097, 65_536];
    let files = Files::new(&lens, 9, b"ab\n");
    let size: usize = lens.iter().sum();
    let expected = common::count(&files.concat(), b"abba");
    for flags in [&["-j", "1"][..], &["-j", "3", "--chunk-size", "64K"][..]] {
        let out = common::run(
            &[flags, &["--report", "json"]].concat(),
            &plugin("count"),
            &files.paths,
            &["abba"],
        );
        out.assert_ok();
        assert_eq!(out.stdout_str().trim(), expected.to_string());
        let v: serde_json::Value = serde_json::from_str(last_line(&out.stderr)).unwrap();
        assert_eq!(v["size"], size);
        let scanned = v["bytes_scanned"].as_u64().unwrap();
        assert_eq!(v["steps"][0]["bytes_scanned"], scanned);
        if flags[1] == "1" {
            // One pass over the region, each call resuming after the last
            // match of the one before: exactly the region.
            assert_eq!(scanned, size as u64, "{flags:?}");
        } else {
            // Chunks also search their halos (3 bytes past each boundary),
            // and `reduce` re-scans a chunk a match ran into, at most whole.
            let chunks = size.div_ceil(64 << 10) as u64;
            assert!(
                (size as u64..=2 * size as u64 + 3 * chunks).contains(&scanned),
                "{flags:?}: scanned {scanned} of {size}"
            );
        }
        files.assert_unchanged();
    }
}

/// Every `NAME(1)` that `text` mentions.
fn page_references(text: &str) -> Vec<String> {
    let mut refs = Vec::new();
    for (i, _) in text.match_indices("(1)") {
        let head = &text[..i];
        let start = head
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .map_or(0, |j| j + 1);
        if start < i {
            refs.push(head[start..].to_string());
        }
    }
    refs
}

/// `man -l PAGE`, with groff's warnings on, at a fixed width; panics (fails)
/// if man is missing (scripts/test.sh installs man-db).
fn man_render(dir: &Path, page: &Path) -> Run {
    let mut c = Command::new("man");
    c.current_dir(dir)
        .env("MANWIDTH", "80")
        .env("LC_ALL", "C.UTF-8")
        .args(["--warnings", "-l"])
        .arg(page);
    c.output()
        .unwrap_or_else(|e| panic!("man is needed by this test ({e}); install man-db"))
        .into()
}

#[test]
fn every_manual_page_renders_without_warnings_and_every_reference_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let man1 = dir.path().join("man1");
    let out: Run = mmhost()
        .arg("man")
        .arg("--dir")
        .arg(&man1)
        .output()
        .unwrap()
        .into();
    out.assert_ok();
    let mut shipped: Vec<String> = std::fs::read_dir(&man1)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    shipped.sort();
    // One page per subcommand of `mmhost --help`, and the main page.
    let help = mmhost().arg("--help").output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let mut subcommands: Vec<String> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("  ")?.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(|c| format!("mmhost-{c}.1"))
        .collect();
    subcommands.push("mmhost.1".to_string());
    subcommands.sort();
    assert_eq!(shipped, subcommands);
    assert!(shipped.contains(&"mmhost-run.1".to_string()));

    let mut referenced = 0;
    for name in &shipped {
        let page = man1.join(name);
        let shown = man_render(dir.path(), &page);
        assert_eq!(shown.code, 0, "{name}: {}", shown.stderr);
        assert_eq!(shown.stderr, "", "{name}: warnings from man -l");
        let text = shown.stdout_str();
        assert!(text.contains("EXIT STATUS"), "{name}: no EXIT STATUS");
        assert!(!text.contains("EXTRA"), "{name}: an EXTRA section");
        for r in page_references(&text) {
            assert!(
                shipped.contains(&format!("{r}.1")),
                "{name} refers to {r}(1), which is not shipped"
            );
            referenced += 1;
        }
        // `mmhost man PAGE` prints the very page written to the directory.
        let stem = name.trim_end_matches(".1");
        let mut c = mmhost();
        c.arg("man");
        if let Some(sub) = stem.strip_prefix("mmhost-") {
            c.arg(sub);
        }
        let printed = c.output().unwrap();
        assert_eq!(printed.stdout, std::fs::read(&page).unwrap(), "{name}");
    }
    assert!(referenced > shipped.len(), "too few references seen");
}

#[test]
fn the_exit_codes_are_a_section_of_one_entry_each() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("mmhost.1");
    let roff = mmhost().arg("man").output().unwrap();
    std::fs::write(&page, &roff.stdout).unwrap();
    let text = man_render(dir.path(), &page).stdout_str();
    let section: Vec<&str> = text
        .split("EXIT STATUS")
        .nth(1)
        .unwrap()
        .split("ENVIRONMENT")
        .next()
        .unwrap()
        .lines()
        .collect();
    // Each code starts its own entry, its text beside it, whole: "2" is
    // followed by "usage error", not by the end of the line before.
    for (code, first_words) in [
        ("0", "success"),
        ("2", "usage"),
        ("4", "the plugin cannot be loaded"),
        ("6", "the result could not be written"),
        ("141", "stdout was closed early"),
    ] {
        let line = section
            .iter()
            .find(|l| l.trim_start().starts_with(&format!("{code} ")))
            .unwrap_or_else(|| panic!("no entry for {code}: {section:#?}"));
        let rest = line.trim_start()[code.len()..].trim_start();
        let words: String = rest.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(words.starts_with(first_words), "{code}: {line:?}");
    }
}

#[test]
fn an_unknown_manual_page_is_a_usage_error_naming_the_pages() {
    let out: Run = mmhost().args(["man", "nosuch"]).output().unwrap().into();
    out.assert_code(2);
    assert!(
        out.stderr.starts_with(
            "mmhost: error: no manual page nosuch; the pages are: mmhost, mmhost-run,"
        ),
        "{}",
        out.stderr
    );
}

fn mmhost_in(dir: &Path, args: &[&str]) -> Run {
    mmhost()
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
        .into()
}

#[test]
fn a_file_that_is_not_webassembly_is_worded_the_same_by_every_command() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("junk.wasm"), "hello\n").unwrap();
    std::fs::write(dir.path().join("short.wasm"), b"\0asm").unwrap();
    std::fs::write(dir.path().join("in.txt"), "x").unwrap();
    for (file, said) in [
        (
            "junk.wasm",
            "plugin junk.wasm: not a WebAssembly file (no \\0asm header, and not .wat text)",
        ),
        (
            "short.wasm",
            "plugin short.wasm: truncated WebAssembly file (4 bytes)",
        ),
    ] {
        let line = format!("mmhost: error: {said}\n");
        for args in [
            vec!["run", file, "in.txt"],
            vec!["inspect", file],
            vec!["inspect", "--json", file],
            vec!["compile", file],
            vec!["wrap", file, "-o", "out.wasm"],
        ] {
            let out = mmhost_in(dir.path(), &args);
            out.assert_code(4);
            assert_eq!(out.stderr, line, "{args:?}");
        }
        assert!(!dir.path().join("out.wasm").exists());
    }
}

#[test]
fn inspect_json_has_the_file_and_world_of_the_text_form() {
    for name in ["upper", "tail", "probe"] {
        let p = plugin(name);
        let text = mmhost_in(Path::new("."), &["inspect", p.to_str().unwrap()]);
        text.assert_ok();
        let json = mmhost_in(Path::new("."), &["inspect", "--json", p.to_str().unwrap()]);
        json.assert_ok();
        let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
        let field = |key: &str| -> String {
            text.stdout_str()
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{key}:")))
                .unwrap_or_else(|| panic!("no {key} line"))
                .trim()
                .to_string()
        };
        assert_eq!(v["file"], field("file"), "{name}");
        let world = v["world"].as_str().unwrap();
        // The text adds why ("(loads in this mmhost...)") after the name.
        assert_eq!(field("world").split(" (").next().unwrap(), world, "{name}");
        let parallel = v["parallel"].as_bool().unwrap();
        let version = v["mmhost_version"].as_str().unwrap();
        let expected = format!(
            "mmhost:plugin/{}@{version}",
            if parallel { "parallel" } else { "transform" }
        );
        assert_eq!(world, expected, "{name}");
    }
    // A plugin that does not load has no world, and says why.
    let dir = tempfile::tempdir().unwrap();
    let wat = dir.path().join("bad.wat");
    std::fs::write(&wat, r#"(module (import "nope" "f" (func)))"#).unwrap();
    let json = mmhost_in(dir.path(), &["inspect", "--json", "bad.wat"]);
    json.assert_ok();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["file"], "bad.wat");
    assert_eq!(v["world"], serde_json::Value::Null);
    assert_eq!(v["loads"], false);
}

#[test]
fn usage_errors_carry_the_mmhost_prefix_and_exit_2() {
    for (args, first) in [
        (
            vec!["run", "--bogus"],
            "mmhost: error: unexpected argument '--bogus' found",
        ),
        (
            vec!["run"],
            "mmhost: error: the following required arguments were not provided:",
        ),
        (
            vec!["run", "--jobs", "0", "upper", "x"],
            "mmhost: error: invalid value '0' for '--jobs <N>'",
        ),
        (
            vec!["frobnicate"],
            "mmhost: error: unrecognized subcommand 'frobnicate'",
        ),
    ] {
        let out = mmhost_in(Path::new("."), &args);
        out.assert_code(2);
        assert!(out.stderr.starts_with(first), "{args:?}: {}", out.stderr);
        // clap's tip and usage still follow.
        assert!(out.stderr.contains("--help"), "{args:?}: {}", out.stderr);
        assert_eq!(out.stdout, b"");
    }
    // Help and version are not errors.
    for args in [vec!["--help"], vec!["--version"], vec!["run", "--help"]] {
        let out = mmhost_in(Path::new("."), &args);
        out.assert_ok();
        assert!(!out.stdout.is_empty() && out.stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn check_reports_every_error_of_a_job_in_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.txt"), "x").unwrap();
    std::fs::write(d.join("junk.wasm"), "hello\n").unwrap();
    std::fs::copy(plugin("upper"), d.join("upper.wasm")).unwrap();
    std::fs::write(
        d.join("job.json"),
        r#"{"inputs": ["a.txt", "missing.txt", "logs/*.log"],
            "steps": [{"plugin": "upper.wasm"}, {"plugin": "uppr.wasm"},
                      {"plugin": "junk.wasm"}]}"#,
    )
    .unwrap();
    let check = mmhost_in(d, &["check", "job.json"]);
    // The code `run --job` fails with: that of the first error (an input).
    check.assert_code(3);
    let lines: Vec<&str> = check.stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "mmhost: error: job.json: inputs[1]: file not found: missing.txt",
            "mmhost: error: job.json: inputs[2]: pattern matched no file: logs/*.log",
            "mmhost: error: job.json: steps[1].plugin: file not found: uppr.wasm",
            "mmhost: error: job.json: steps[2]: plugin junk.wasm: not a WebAssembly file (no \\0asm header, and not .wat text)",
        ]
    );
    let run = mmhost_in(d, &["run", "--job", "job.json"]);
    run.assert_code(3);
    assert_eq!(
        run.stderr,
        format!("{}\n", lines[0]),
        "run stops at the first"
    );
    assert_eq!(std::fs::read(d.join("a.txt")).unwrap(), b"x");
}

#[test]
fn one_byte_is_one_byte() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "a").unwrap();
    let dry = mmhost_in(dir.path(), &["run", "--dry-run", "upper", "a.txt"]);
    dry.assert_ok();
    assert_eq!(
        dry.stderr,
        "mmhost: dry run: 1 byte would change in 1 file: a.txt (1); nothing was written\n"
    );
    let run = mmhost_in(dir.path(), &["run", "-i", "upper", "a.txt"]);
    run.assert_ok();
    assert_eq!(run.stderr, "mmhost: wrote 1 byte; 1 file changed: a.txt\n");
    assert_eq!(std::fs::read(dir.path().join("a.txt")).unwrap(), b"A");
    let layout = mmhost_in(dir.path(), &["layout", "a.txt"]);
    assert!(
        layout
            .stdout_str()
            .contains("total 1 byte in 1 file; contiguous"),
        "{}",
        layout.stdout_str()
    );
}

#[test]
fn layout_help_explains_every_column_it_prints() {
    let help = mmhost_in(Path::new("."), &["layout", "--help"]).stdout_str();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a"), vec![b'x'; 70_000]).unwrap();
    std::fs::write(dir.path().join("b"), "y").unwrap();
    let table = mmhost_in(dir.path(), &["layout", "a", "b"]).stdout_str();
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["#", "start", "end", "size", "placed", "slot", "file"]
    );
    for word in [
        "start, end",
        "placed",
        "slot",
        "mapped:",
        "packed:",
        "empty:",
        "contiguous:",
        "own-slot:",
    ] {
        assert!(
            help.contains(word),
            "layout --help does not explain {word:?}"
        );
    }
    // Both slot kinds occur: b follows a (mapped, 70,000 bytes: not a page
    // multiple).
    assert!(
        table.contains("contiguous") && table.contains("own-slot"),
        "{table}"
    );
}

/// The names of the custom sections of the wasm module `bytes`; panics
/// (fails) if it does not parse as one.
fn custom_sections(bytes: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload.expect("the core dump parses as a wasm module") {
            wasmparser::Payload::Version { encoding, .. } => {
                assert_eq!(encoding, wasmparser::Encoding::Module, "a core module");
            }
            wasmparser::Payload::CustomSection(c) => names.push(c.name().to_string()),
            _ => {}
        }
    }
    names
}

#[test]
fn coredump_is_written_for_a_trap_and_only_for_a_trap() {
    let files = Files::new(&[1000, 70_000], 11, TEXTISH);
    let dir = files.dir.path();
    let probe = plugin("probe");
    for (i, (args, why)) in [
        (
            &["trap"][..],
            "trapped: wasm `unreachable` instruction executed",
        ),
        (&["panic", "boom"][..], "trapped: wasm `unreachable`"),
    ]
    .into_iter()
    .enumerate()
    {
        let dump = dir.join(format!("trap{i}.core"));
        let out = common::run(
            &["--coredump", dump.to_str().unwrap()],
            &probe,
            &files.paths,
            args,
        );
        out.assert_code(5);
        assert!(out.stderr.contains(why), "{}", out.stderr);
        let bytes = std::fs::read(&dump).expect("the core dump was written");
        assert!(
            out.stderr.contains(&format!(
                "core dump written to {} ({} bytes)",
                dump.display(),
                bytes.len()
            )),
            "{}",
            out.stderr
        );
        let sections = custom_sections(&bytes);
        assert!(sections.iter().any(|s| s == "core"), "{sections:?}");
        assert!(sections.iter().any(|s| s == "corestack"), "{sections:?}");
        files.assert_unchanged();
    }
    // A run that ends well, or with the plugin's own `err`, writes nothing.
    for (args, code) in [(&["size"][..], 0), (&["fail", "nope"][..], 1)] {
        let dump = dir.join("none.core");
        let out = common::run(
            &["--coredump", dump.to_str().unwrap()],
            &probe,
            &files.paths,
            args,
        );
        out.assert_code(code);
        assert!(!dump.exists(), "{args:?}: a core dump without a trap");
        assert!(!out.stderr.contains("core dump"), "{}", out.stderr);
    }
}

#[test]
fn a_parallel_run_whose_chunks_all_trap_leaves_one_core_dump() {
    let files = Files::new(&[300_000], 13, TEXTISH);
    let dump = files.dir.path().join("par.core");
    let out = common::run(
        &[
            "-j",
            "2",
            "--chunk-size",
            "64K",
            "--coredump",
            dump.to_str().unwrap(),
        ],
        &plugin("probe"),
        &files.paths,
        &["chunked", "0", "trap"],
    );
    out.assert_code(5);
    assert!(out.stderr.contains("run-chunk"), "{}", out.stderr);
    let bytes = std::fs::read(&dump).expect("the core dump was written");
    assert!(custom_sections(&bytes).iter().any(|s| s == "corestack"));
    // The error shown says where the dump is, whichever chunk's it is.
    assert!(
        out.stderr.contains(&format!(
            "core dump written to {} ({} bytes)",
            dump.display(),
            bytes.len()
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn coredump_never_overwrites_an_input_or_the_output() {
    let files = Files::new(&[100, 200], 12, TEXTISH);
    let out_file = files.dir.path().join("out.txt");
    std::fs::write(&out_file, "keep").unwrap();
    for (target, flags) in [
        (&files.paths[1], vec![]),
        (&out_file, vec!["-o", out_file.to_str().unwrap()]),
    ] {
        let mut all = flags.clone();
        all.extend(["--coredump", target.to_str().unwrap()]);
        let out = common::run(&all, &plugin("probe"), &files.paths, &["trap"]);
        out.assert_code(2);
        assert!(
            out.stderr.contains("--coredump is the ")
                && out
                    .stderr
                    .contains("writing the core dump would overwrite it"),
            "{}",
            out.stderr
        );
        files.assert_unchanged();
        assert_eq!(std::fs::read(&out_file).unwrap(), b"keep");
    }
}
