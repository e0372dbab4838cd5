//! What reaches the terminal from a plugin or a file name (issue 17, items
//! 1-5 and 19): hostile plugins (inline WAT, `probe`, `wasi-probe`) and
//! hostile file names, run through the real binary; stderr and stdout are
//! checked byte by byte for terminal controls and forged lines, file names
//! against GNU `ls --quoting-style=shell-escape` and against what bash makes
//! of the quoted name.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const LIMIT: i32 = 5;

/// The characters that must never reach the terminal raw: C0 but newline
/// (tab is allowed), DEL, C1, the bidirectional controls and the line and
/// paragraph separators.
fn is_terminal_control(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{2028}' | '\u{2029}'
        )
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// Asserts that `text` holds no terminal control and no line that starts
/// like one of mmhost's own error lines but was not written by mmhost.
#[track_caller]
fn assert_clean(what: &str, text: &[u8]) {
    let text =
        String::from_utf8(text.to_vec()).unwrap_or_else(|e| panic!("{what} is not UTF-8: {e}"));
    if let Some((i, c)) = text.char_indices().find(|&(_, c)| is_terminal_control(c)) {
        panic!(
            "{what} holds {c:?} at byte {i}: {:?}",
            &text[i.saturating_sub(80)..(i + 80).min(text.len())]
        );
    }
    for line in text.lines() {
        assert!(
            !line.starts_with("mmhost: error: forged"),
            "{what}: forged line {line:?}"
        );
    }
}

fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A name with every kind of hostile character in it.
const EVIL: &str = "evil\x1b[31mRED\nmmhost: error: forged\x07\u{202e}txt.exe\u{2028}.txt";

/// Item 1: WASI stdout and stderr come out escaped, one whole line at a
/// time, prefixed with the plugin's name and the stream.
#[test]
fn wasi_output_is_escaped_prefixed_and_line_buffered() {
    let files = Files::new(&[10], 71, TEXTISH);
    let hostile = "\x1b[31mX\r\nmmhost: error: forged\x07\x1b]0;title\x07\x1b[2J\n";
    for stream in ["stderr", "stdout"] {
        let r = run(
            &[],
            &plugin("wasi-probe"),
            &files.paths,
            &["write", stream, hostile, "half ", "a line\nand a ", "tail"],
        );
        r.assert_ok();
        assert_eq!(r.stdout_str(), "wrote 4\n");
        assert_clean("stderr", r.stderr.as_bytes());
        let p = format!("wasi-probe: {stream}: ");
        let want = [
            format!("{p}\\u{{1b}}[31mX"),
            format!("{p}mmhost: error: forged\\u{{7}}\\u{{1b}}]0;title\\u{{7}}\\u{{1b}}[2J"),
            // Two writes, one line; a partial last line at the end.
            format!("{p}half a line"),
            format!("{p}and a tail"),
        ];
        let got: Vec<&str> = r.stderr.lines().collect();
        assert_eq!(got, want, "{}", r.stderr);
    }
    files.assert_unchanged();
}

/// A core module in the lowered ABI whose `run` calls `$body`; `extra` is
/// spliced into the module.
fn wat_plugin(dir: &Path, name: &str, extra: &str) -> PathBuf {
    wat_plugin_importing(dir, name, "", extra)
}

/// [`wat_plugin`] with more imports.
fn wat_plugin_importing(dir: &Path, name: &str, imports: &str, extra: &str) -> PathBuf {
    let wat = format!(
        r#"(module
  (import "mmhost:plugin/host@0.1.0" "log" (func $log (param i32 i32 i32)))
  {imports}
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
  {extra}
)"#
    );
    write_file(dir, name, &wat)
}

/// Item 2: function names from the `name` section are escaped in trap
/// backtraces.
#[test]
fn trap_backtrace_names_are_escaped() {
    let files = Files::new(&[10], 72, TEXTISH);
    let p = wat_plugin(
        files.dir.path(),
        "named.wat",
        r#"(func $evil (@name "evil\1b[2J\1b[31mRED\nmmhost: error: forged frame\07\e2\80\ae")
    unreachable)
  (func (export "run") (param i32 i32) (result i32) (call $evil) (i32.const 0))"#,
    );
    let r = run(&[], &p, &files.paths, &[]);
    r.assert_code(LIMIT);
    assert_clean("stderr", r.stderr.as_bytes());
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(
        lines[0],
        "mmhost: error: plugin named: trapped: wasm `unreachable` instruction executed"
    );
    assert_eq!(lines[1], "wasm backtrace:");
    assert_eq!(
        lines[2],
        "    0: evil\\u{1b}[2J\\u{1b}[31mRED\\nmmhost: error: forged frame\\u{7}\\u{202e}"
    );
    files.assert_unchanged();
}

/// Item 19: a backtrace longer than the 64 frames shown says how many more
/// there were.
#[test]
fn long_backtraces_say_how_many_frames_are_cut() {
    let files = Files::new(&[10], 73, TEXTISH);
    let depth = 100;
    let p = wat_plugin(
        files.dir.path(),
        "deep.wat",
        &format!(
            r#"(func $rec (param i32)
    (if (local.get 0)
      (then (call $rec (i32.sub (local.get 0) (i32.const 1))))
      (else unreachable)))
  (func (export "run") (param i32 i32) (result i32) (call $rec (i32.const {depth})) (i32.const 0))"#
        ),
    );
    let r = run(&[], &p, &files.paths, &[]);
    r.assert_code(LIMIT);
    let lines: Vec<&str> = r.stderr.lines().collect();
    // $rec at depths 100..=0, then run: 102 frames.
    let frames = depth + 2;
    assert_eq!(lines.len(), 2 + 64 + 1, "{}", r.stderr);
    assert_eq!(lines[2 + 63], "   63: rec");
    assert_eq!(
        lines[2 + 64],
        format!("  ... {} more frames not shown", frames - 64)
    );
    // Without end: at least as many as wasmtime collects.
    let p = wat_plugin(
        files.dir.path(),
        "forever.wat",
        r#"(func $rec (call $rec))
  (func (export "run") (param i32 i32) (result i32) (call $rec) (i32.const 0))"#,
    );
    let r = run(&[], &p, &files.paths, &[]);
    r.assert_code(LIMIT);
    let last = r.stderr.lines().last().unwrap();
    assert!(
        last.starts_with("  ... ")
            && last.ends_with(" or more frames not shown (the backtrace is cut at 4096)"),
        "{}",
        r.stderr
    );
}

/// Item 2: the `producers` section is escaped by `mmhost inspect`, and its
/// JSON carries the text exactly, with no raw control character.
#[test]
fn inspect_escapes_the_producers_section() {
    let dir = tempfile::tempdir().unwrap();
    let lang = "Rust\x1b]0;title\x07\u{202e}\nmmhost: error: forged";
    let p = wat_plugin(
        dir.path(),
        "prod.wat",
        r#"(@producers (language "Rust\1b]0;title\07\e2\80\ae\nmmhost: error: forged" "1")
               (processed-by "tool\1b[2J" "9\n9"))
  (func (export "run") (param i32 i32) (result i32) (i32.const 0))"#,
    );
    let out = mmhost().arg("inspect").arg(&p).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_clean("inspect", &out.stdout);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("language:     Rust\\u{1b}]0;title\\u{7}\\u{202e}\\nmmhost: error: forged\n"),
        "{text}"
    );
    assert!(
        text.contains("processed-by: tool\\u{1b}[2J 9\\n9\n"),
        "{text}"
    );
    let out = mmhost()
        .args(["inspect", "--json"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_clean("inspect --json", &out.stdout);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["languages"], serde_json::json!([lang]));
}

/// GNU ls's quoting of `path`, if a GNU ls is there.
fn ls_quoted(path: &Path) -> Option<String> {
    let out = Command::new("ls")
        .args(["-d", "--quoting-style=shell-escape", "--"])
        .arg(path)
        .env("LC_ALL", "C.UTF-8")
        .output()
        .ok()?;
    out.status.success().then(|| {
        String::from_utf8(out.stdout)
            .unwrap()
            .trim_end_matches('\n')
            .to_string()
    })
}

/// What bash makes of `quoted` as a word: the bytes of the name.
fn bash_word(quoted: &str) -> Vec<u8> {
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("printf %s {quoted}"))
        .output()
        .expect("bash");
    assert!(out.status.success());
    out.stdout
}

/// Item 3: file names are quoted in the summary of a writing run, in
/// error messages, in `layout` and in the `plugin NAME:` prefix, as GNU ls
/// quotes them, and the quoted name is the file's name to a shell.
#[test]
fn file_names_are_quoted_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let evil = write_file(dir.path(), EVIL, "abc");
    let plain = write_file(dir.path(), "plain.txt", "xyz");
    let probe = dir.path().join(format!("{EVIL}.wasm"));
    std::fs::copy(plugin("probe"), &probe).unwrap();
    // The quoted name, checked against bash and (where it agrees, i.e.
    // without bidirectional controls, which ls prints raw) GNU ls.
    let quoted = |p: &Path| {
        let out = mmhost()
            .arg("layout")
            .arg(p)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_clean("layout", &out.stdout);
        let text = String::from_utf8(out.stdout).unwrap();
        // The name is the last column, after 76 bytes of fixed-width ones.
        let q = text.lines().nth(1).unwrap()[76..].to_string();
        assert_eq!(bash_word(&q), p.as_os_str().as_bytes(), "{q}");
        q
    };
    let q = quoted(&evil);
    assert!(q.contains("'$'\\033''[31mRED'$'\\n''mmhost: error: forged'$'\\a\\342\\200\\256''txt.exe'$'\\342\\200\\250''.txt'"), "{q}");
    for name in ["a b", "it's", "x\ty", "#x", "a=b", "é.txt", "caf\x1b.txt"] {
        let p = write_file(dir.path(), name, "");
        if let Some(ls) = ls_quoted(&p) {
            assert_eq!(quoted(&p), ls, "{name:?}");
        }
    }

    // The summary of a writing run.
    let r = run(
        &["--in-place"],
        &plugin("probe"),
        std::slice::from_ref(&evil),
        &["write", "0", "41"],
    );
    r.assert_ok();
    assert_eq!(std::fs::read(&evil).unwrap(), b"Abc");
    assert_clean("stderr", r.stderr.as_bytes());
    assert_eq!(
        r.stderr,
        format!("mmhost: wrote 1 byte; 1 file changed: {q}\n")
    );

    // An error message: the same file twice with writes.
    let r = run(
        &["--in-place"],
        &plugin("upper"),
        &[evil.clone(), evil.clone()],
        &[],
    );
    r.assert_code(3);
    assert_clean("stderr", r.stderr.as_bytes());
    assert!(
        r.stderr.starts_with(&format!(
            "mmhost: error: {q}: same file as {q}; a file may be named"
        )),
        "{}",
        r.stderr
    );
    assert_eq!(std::fs::read(&evil).unwrap(), b"Abc");

    // The plugin's name before its log lines and in its errors.
    let qp = quoted(Path::new(EVIL)); // the file stem, relative to dir
    let r = run(
        &[],
        &probe,
        std::slice::from_ref(&plain),
        &["log", "warn", "hi", "trap"],
    );
    assert_clean("stderr", r.stderr.as_bytes());
    assert!(
        r.stderr.starts_with(&format!("{qp}: warn: hi\n")),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&format!("mmhost: error: plugin {qp}: ")),
        "{}",
        r.stderr
    );
}

/// Item 3: a name that is not UTF-8 is kept, in hexadecimal, in the JSON
/// report (which used to make the host panic on writing it).
#[test]
fn report_keeps_names_that_are_not_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let raw: &[u8] = b"caf\xe9\x1b.txt";
    let evil = dir.path().join(OsStr::from_bytes(raw));
    std::fs::write(&evil, "abc").unwrap();
    let plain = write_file(dir.path(), "plain.txt", "xyz");
    let report = dir.path().join("report.json");
    let r = run(
        &["--in-place", "--report-file", report.to_str().unwrap()],
        &plugin("probe"),
        &[plain.clone(), evil.clone()],
        &["write", "3", "41"],
    );
    r.assert_ok();
    assert_clean("stderr", r.stderr.as_bytes());
    assert_eq!(std::fs::read(&evil).unwrap(), b"Abc");
    let text = std::fs::read(&report).unwrap();
    assert_clean("report", &text);
    let v: serde_json::Value = serde_json::from_slice(&text).unwrap();
    let hex: String = evil
        .as_os_str()
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let segs = v["segments"].as_array().unwrap();
    assert_eq!(segs[0].get("name_bytes"), None);
    assert_eq!(segs[1]["name_bytes"], serde_json::json!(hex));
    assert_eq!(segs[1]["name"], serde_json::json!(evil.to_string_lossy()));
    assert_eq!(
        v["files_written"],
        serde_json::json!([evil.to_string_lossy()])
    );
    assert_eq!(v["files_written_bytes"], serde_json::json!([hex]));
    // A dry run says the same of the change it would make.
    let r = run(
        &["--dry-run", "--in-place", "--report", "json"],
        &plugin("probe"),
        std::slice::from_ref(&evil),
        &["write", "1", "41"],
    );
    r.assert_ok();
    assert_clean("stderr", r.stderr.as_bytes());
    let v: serde_json::Value = serde_json::from_str(r.stderr.lines().last().unwrap()).unwrap();
    assert_eq!(
        v["dry_run_changes"][0]["path_bytes"],
        serde_json::json!(hex)
    );
}

/// Item 4: bidirectional controls and separators in log text are escaped.
#[test]
fn bidi_controls_and_separators_are_escaped() {
    let files = Files::new(&[10], 74, TEXTISH);
    let r = run(
        &[],
        &plugin("probe"),
        &files.paths,
        &[
            "log",
            "warn",
            "a\u{202e}b\u{2028}c\u{2066}d\u{200f}e\u{61c}f\u{2029}g",
        ],
    );
    r.assert_ok();
    assert_clean("stderr", r.stderr.as_bytes());
    assert_eq!(
        r.stderr,
        "probe: warn: a\\u{202e}b\\u{2028}c\\u{2066}d\\u{200f}e\\u{61c}f\\u{2029}g\n"
    );
}

/// Item 5: what one run's logs put on the terminal is bounded after
/// escaping: 100 messages of 4,096 lines each, and 100 of 8 KiB of ESC.
#[test]
fn log_output_on_the_terminal_is_bounded() {
    let files = Files::new(&[10], 75, TEXTISH);
    let lines_msg = "x\n".repeat(4096);
    let mut args: Vec<&str> = Vec::new();
    for _ in 0..100 {
        args.extend(["log", "info", &lines_msg]);
    }
    let r = run(&[], &plugin("probe"), &files.paths, &args);
    r.assert_ok();
    // Each message is `probe: info: x` and 4,095 lines `  x`: 4,096 lines
    // of 16,395 bytes. 20,000 lines hold four of them.
    let per = 14 + 4095 * 4 + 1;
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        4 * 4096 + 2,
        "{}",
        &r.stderr[r.stderr.len() - 300..]
    );
    assert_eq!(
        lines[4 * 4096],
        "probe: log and WASI output reached the limit of 1048576 bytes or 20000 lines per run; \
         the rest is suppressed"
    );
    assert_eq!(
        lines[4 * 4096 + 1],
        format!(
            "probe: {} bytes ({} lines) of log and WASI output were suppressed",
            96 * per,
            96 * 4096
        )
    );

    let esc_msg = "\x1b".repeat(8 << 10);
    let mut args: Vec<&str> = Vec::new();
    for _ in 0..100 {
        args.extend(["log", "info", &esc_msg]);
    }
    let r = run(&[], &plugin("probe"), &files.paths, &args);
    r.assert_ok();
    assert_clean("stderr", r.stderr.as_bytes());
    // Each is 13 + 6 * 8192 + 1 bytes: 21 of them fit in 1 MiB.
    let per = 13 + 6 * 8192 + 1;
    let fit = (1 << 20) / per;
    assert!(
        r.stderr.len() <= (1 << 20) + 300,
        "{} bytes",
        r.stderr.len()
    );
    assert!(
        r.stderr.ends_with(&format!(
            "probe: {} bytes ({} lines) of log and WASI output were suppressed\n",
            (100 - fit) * per,
            100 - fit
        )),
        "{}",
        &r.stderr[r.stderr.len() - 300..]
    );
    files.assert_unchanged();
}

/// Item 19: a plugin that breaks the canonical ABI is told which call of
/// the contract it got wrong, on one line, with the backtrace after it.
#[test]
fn canonical_abi_violations_name_the_call() {
    let files = Files::new(&[10], 76, TEXTISH);
    let dir = files.dir.path();
    let imports = r#"(import "mmhost:plugin/region@0.1.0" "read" (func $read (param i64 i64 i32)))
  (import "mmhost:plugin/output@0.1.0" "emit" (func $emit (param i32 i32)))"#;
    let cases = [
        // Log level 9: `level` has five cases.
        (
            "level",
            "(call $log (i32.const 9) (i32.const 16) (i32.const 2))",
            "bad arguments to host.log: ",
        ),
        // A message that is not UTF-8.
        (
            "utf8",
            "(call $log (i32.const 2) (i32.const 18) (i32.const 2))",
            "bad arguments to host.log: ",
        ),
        // A list beyond the end of memory.
        (
            "list",
            "(call $emit (i32.const 65000) (i32.const 1000))",
            "bad arguments to output.emit: ",
        ),
        // A return area that is not aligned.
        (
            "retptr",
            "(call $read (i64.const 0) (i64.const 1) (i32.const 70001))",
            "bad arguments to region.read: ",
        ),
    ];
    for (name, call, want) in cases {
        let p = wat_plugin_importing(
            dir,
            &format!("{name}.wat"),
            imports,
            &format!(
                "(data (i32.const 16) \"hi\\ff\\fe\")\n  (func $caller {call})\n  (func (export \"run\") (param i32 i32) (result i32) (call $caller) (i32.const 0))"
            ),
        );
        let r = run(&[], &p, &files.paths, &[]);
        r.assert_code(LIMIT);
        let lines: Vec<&str> = r.stderr.lines().collect();
        let first = format!("mmhost: error: plugin {name}: {want}");
        assert!(lines[0].starts_with(&first), "{}", r.stderr);
        assert!(!lines[0].contains("wasm function"), "{}", r.stderr);
        assert_eq!(lines[1], "wasm backtrace:", "{}", r.stderr);
        assert!(lines.contains(&"    1: caller"), "{}", r.stderr);
    }
    // `run` returns a pointer beyond memory, or a bad discriminant.
    for (name, body) in [
        ("farptr", "(i32.const 70000)"),
        (
            "badtag",
            "(i32.store8 (i32.const 0) (i32.const 7)) (i32.const 0)",
        ),
    ] {
        let p = wat_plugin(
            dir,
            &format!("{name}.wat"),
            &format!("(func (export \"run\") (param i32 i32) (result i32) {body})"),
        );
        let r = run(&[], &p, &files.paths, &[]);
        r.assert_code(LIMIT);
        let first = format!(
            "mmhost: error: plugin {name}: run returned a value that is not a \
             result<string, string>: "
        );
        assert!(r.stderr.starts_with(&first), "{}", r.stderr);
        assert!(
            r.stderr
                .trim_end()
                .ends_with(" (or cabi_realloc gave a bad pointer for its arguments)"),
            "{}",
            r.stderr
        );
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    }
    // A guest runtime that converts run's result itself and traps on its
    // type, as componentize-py's `wit_dylib_pop_string` does on `return 42`
    // (the conversion is called by `run` itself)...
    let p = wat_plugin(
        dir,
        "pop.wat",
        "(func $wit_dylib_pop_string unreachable)\n  \
         (func $run (export \"run\") (param i32 i32) (result i32) (call $wit_dylib_pop_string) (i32.const 0))",
    );
    let r = run(&[], &p, &files.paths, &[]);
    r.assert_code(LIMIT);
    assert!(
        r.stderr.starts_with(
            "mmhost: error: plugin pop: run returned a value that is not a \
             result<string, string> (its conversion, wit_dylib_pop_string, trapped)\n"
        ),
        "{}",
        r.stderr
    );
    // ...but the same function trapping deeper (called by the plugin's own
    // code, as when an import's argument is converted) is a plain trap.
    let p = wat_plugin(
        dir,
        "deep.wat",
        "(func $wit_dylib_pop_string unreachable)\n  \
         (func $caller (call $wit_dylib_pop_string))\n  \
         (func $run (export \"run\") (param i32 i32) (result i32) (call $caller) (i32.const 0))",
    );
    let r = run(&[], &p, &files.paths, &[]);
    r.assert_code(LIMIT);
    assert!(
        r.stderr.starts_with(
            "mmhost: error: plugin deep: trapped: wasm `unreachable` instruction executed\n"
        ),
        "{}",
        r.stderr
    );
    files.assert_unchanged();
}
