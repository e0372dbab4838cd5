//! A plugin author's first mistakes, in every language: each `mmhost new`
//! scaffold (rust, c, assemblyscript, python, javascript, go, zig, cpp) is
//! created by the real binary, given a deliberate panic (an exception, a thrown error) and,
//! where the language lets one be written, a deliberate wrong-type return,
//! built by its own `build.sh` and run over real files. The test checks that
//! the message the author needs reaches stderr: their panic text (with the
//! file and line where the language has them), their Python traceback, and
//! "not a result<string, string>"; and that the untouched path still counts
//! the lines as Python's `bytes.count` does.
//!
//! Each scaffold is built once (the slow part: seconds for C and
//! AssemblyScript, about 10 s for Python and JavaScript, a minute for a cold
//! Rust build) and run several times. The build scripts run without
//! `$MMHOST`, so they also check that a scaffold wraps its module with the
//! binary that created it, before `mmhost` is on `PATH`.
//!
//! A language whose toolchain is missing is skipped with a `SKIPPED` line on
//! the real stderr, unless `CI=true` or `MMHOST_REQUIRE_LANGS` names it (as
//! in `tests/conformance.rs`): then it fails.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// The plugin's name in every scaffold.
const NAME: &str = "oops";
/// The text of every deliberate panic.
const PANIC: &str = "deliberate panic 7f3a";
/// What the host or the guest library says of a wrong-type return.
const WRONG: &str = "not a result<string, string>";

/// One language's scaffold and the mistakes made in it.
struct Case {
    lang: &'static str,
    /// The plugin source of the scaffold, edited by the test.
    source: &'static str,
    /// Lines inserted before the scaffold's usage check: one argument
    /// panics, two return a wrong type (where that can be written).
    block: &'static [&'static str],
    /// Lines appended to the source (helpers of `block`).
    tail: &'static [&'static str],
    /// Whether `block` has a wrong-type return (Rust's types forbid one).
    wrong_type: bool,
}

const RUST: Case = Case {
    lang: "rust",
    source: "src/lib.rs",
    block: &[
        "if args.len() == 1 {",
        "    panic!(\"deliberate panic 7f3a in {}\", args[0]);",
        "}",
    ],
    tail: &[],
    wrong_type: false,
};

const C: Case = Case {
    lang: "c",
    source: "plugin.c",
    block: &[
        "if (nargs == 1) mmhost_panic(\"deliberate panic 7f3a\");",
        "if (nargs == 2) { /* a result whose string lies outside memory */",
        "    ret->ptr = (uint8_t *)0xfffffff0;",
        "    ret->len = 64;",
        "    return true;",
        "}",
    ],
    tail: &[],
    wrong_type: true,
};

const ASSEMBLYSCRIPT: Case = Case {
    lang: "assemblyscript",
    source: "assembly/index.ts",
    block: &[
        "if (argsLen == 1) throw new Error(\"deliberate panic 7f3a\");",
        "if (argsLen == 2) return changetype<usize>(\"a string, not a result\");",
    ],
    tail: &[],
    wrong_type: true,
};

const PYTHON: Case = Case {
    lang: "python",
    source: "app.py",
    block: &[
        "if len(args) == 1:",
        "    return deliberate([1, 2])",
        "if len(args) == 2:",
        "    return 42",
    ],
    tail: &["", "", "def deliberate(xs):", "    return xs[7]"],
    wrong_type: true,
};

const JAVASCRIPT: Case = Case {
    lang: "javascript",
    source: "plugin.js",
    block: &[
        "if (args.length === 1) throw new Error('deliberate panic 7f3a');",
        "if (args.length === 2) return 42;",
    ],
    tail: &[],
    wrong_type: true,
};

const GO: Case = Case {
    lang: "go",
    source: "main.go",
    block: &[
        "if len(args) == 1 {",
        "\tpanic(\"deliberate panic 7f3a\")",
        "}",
    ],
    tail: &[],
    // `mmhost.Export` takes a `func([]string) (string, error)`: Go's types
    // forbid any other return, and the library lowers the result itself.
    wrong_type: false,
};

const ZIG: Case = Case {
    lang: "zig",
    source: "plugin.zig",
    block: &["if (args.len == 1) @panic(\"deliberate panic 7f3a\");"],
    tail: &[],
    // `mmhost.exportRun` takes a `mmhost.RunFn`: the compiler refuses a
    // `run` that returns anything but `mmhost.Error![]u8`.
    wrong_type: false,
};

const CPP: Case = Case {
    lang: "cpp",
    source: "plugin.cpp",
    block: &["if (args.size() == 1) mmhost::panic(\"deliberate panic 7f3a\");"],
    tail: &[],
    // `mmhost::plugin::run` is declared in mmhost.hpp as returning
    // `std::expected<std::string, std::string>`: another return type does
    // not compile, and the library lowers the result itself.
    wrong_type: false,
};

/// Whether a missing toolchain fails this test rather than skipping it.
fn required(lang: &str) -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true") || lang_required(lang)
}

/// Why the toolchain of `lang` is missing, or `None`; the same checks as
/// `scripts/check-templates.sh`, with `scripts/toolchains-env.sh` sourced.
fn missing_toolchain(lang: &str) -> Option<String> {
    let check = match lang {
        "rust" => "rustup target list --installed | grep -qx wasm32-unknown-unknown",
        "c" => "command -v clang-19",
        "assemblyscript" => "command -v asc",
        "python" => "command -v componentize-py",
        "javascript" => "command -v componentize-js",
        "go" => "command -v go",
        "zig" => "command -v zig || \"$MMHOST_PY/bin/python\" -c 'import ziglang'",
        "cpp" => "command -v clang++-19 && test -f \"${WASI_SYSROOT:-/usr}/include/wasm32-wasi/c++/v1/expected\"",
        _ => unreachable!("no such language"),
    };
    let env = root().join("scripts/toolchains-env.sh");
    let ok = Command::new("bash")
        .arg("-c")
        .arg(format!("source \"$1\" && {{ {check}; }} >/dev/null 2>&1"))
        .arg("bash")
        .arg(&env)
        .status()
        .expect("run bash")
        .success();
    (!ok).then(|| format!("toolchain not found ({check})"))
}

/// `text` with `block` inserted before the scaffold's usage check (the
/// `if` that leads to `usage: NAME`), at its indentation, and `tail`
/// appended.
fn edit(text: &str, case: &Case) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let usage = lines
        .iter()
        .position(|l| l.contains(&format!("usage: {NAME}")))
        .unwrap_or_else(|| panic!("{}: no usage line in {}", case.lang, case.source));
    // The usage text is on the `if` line, or in the block the line before
    // opens.
    let at = if lines[usage].trim_start().starts_with("if") {
        usage
    } else {
        usage - 1
    };
    let indent: String = lines[at]
        .chars()
        .take_while(|c| c.is_whitespace())
        .collect();
    for (i, l) in case.block.iter().enumerate() {
        lines.insert(at + i, format!("{indent}{l}"));
    }
    lines.extend(case.tail.iter().map(|l| l.to_string()));
    lines.join("\n") + "\n"
}

/// Runs `mmhost new` for `case` in `dir`, edits the source, builds it with
/// its `build.sh` (without `$MMHOST`), and returns the plugin.
fn build(case: &Case, dir: &Path) -> PathBuf {
    build_with(case, dir, &[])
}

/// [`build`] with `env` set for `build.sh`.
fn build_with(case: &Case, dir: &Path, env: &[(&str, &str)]) -> PathBuf {
    let project = dir.join(case.lang);
    let r: Run = mmhost()
        .args(["new", "--lang", case.lang, "--dir"])
        .arg(&project)
        .arg(NAME)
        .output()
        .expect("mmhost new")
        .into();
    r.assert_ok();
    // The hint names a command that works now: this binary.
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_mmhost")).unwrap();
    assert!(
        r.stderr
            .contains(&format!("{} run {NAME}.wasm", exe.display()))
            || r.stderr.contains(&format!("&& mmhost run {NAME}.wasm")),
        "{}",
        r.stderr
    );
    let source = project.join(case.source);
    let text = std::fs::read_to_string(&source).unwrap();
    std::fs::write(&source, edit(&text, case)).unwrap();
    let mut c = Command::new("bash");
    c.arg(project.join("build.sh"))
        .env_remove("MMHOST")
        .envs(env.iter().copied());
    if case.lang == "rust" {
        // Dependencies kept between runs (as scripts/check-templates.sh does).
        c.env("CARGO_TARGET_DIR", root().join("target/template-check"));
    }
    let out = c.output().expect("run build.sh");
    assert!(
        out.status.success(),
        "{} scaffold's build.sh failed:\n{}{}",
        case.lang,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let plugin = project.join(format!("{NAME}.wasm"));
    assert!(plugin.exists(), "{} built no {NAME}.wasm", case.lang);
    plugin
}

/// Whether the toolchain of `case` is missing (said on stderr), failing
/// the test instead if the language is required.
fn skipped(case: &Case) -> bool {
    let Some(reason) = missing_toolchain(case.lang) else {
        return false;
    };
    assert!(
        !required(case.lang),
        "{} is required (CI=true or MMHOST_REQUIRE_LANGS) but missing: {reason}; \
         install it with scripts/install-toolchains.sh {}",
        case.lang,
        case.lang
    );
    let line = format!("SKIPPED scaffold {}: {reason}\n", case.lang);
    let _ = std::io::stderr().write_all(line.as_bytes());
    true
}

/// Builds the scaffold of `case`, makes each mistake, and checks what the
/// author sees.
fn check(case: &Case) {
    if skipped(case) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let plugin = build(case, dir.path());
    let files = Files::new(&[3000, 1, 4097], 77, TEXTISH);
    let lines = files.concat().iter().filter(|&&b| b == b'\n').count();

    // Untouched: the scaffold's own behaviour.
    let r = run(&["-q"], &plugin, &files.paths, &[]);
    r.assert_ok();
    assert_eq!(r.stdout_str(), format!("{lines}\n"), "{}", case.lang);
    let r = run(&["-q"], &plugin, &files.paths, &["a", "b", "c"]);
    r.assert_code(1);
    assert!(r.stderr.contains(&format!("usage: {NAME}")), "{}", r.stderr);

    // The panic: its text reaches stderr before the trap (exit 5).
    let r = run(&["-q"], &plugin, &files.paths, &["x"]);
    r.assert_code(5);
    // (Python's is the IndexError of the traceback, checked below.)
    assert!(
        case.lang == "python" || r.stderr.contains(PANIC),
        "{}: the panic text is lost:\n{}",
        case.lang,
        r.stderr
    );
    match case.lang {
        "rust" => assert!(r.stderr.contains("src/lib.rs:"), "{}", r.stderr),
        "assemblyscript" => {
            // The thrown message with its file and line, and function names
            // in the backtrace (--debug).
            assert!(
                r.stderr.contains(&format!("{PANIC} at assembly/index.ts:")),
                "{}",
                r.stderr
            );
            assert!(r.stderr.contains("assembly/index/run"), "{}", r.stderr);
        }
        "python" => {
            // The traceback, as Python prints it, with the lines of the
            // edited app.py.
            let app = std::fs::read_to_string(dir.path().join("python/app.py")).unwrap();
            let line_of = |needle: &str| {
                1 + app
                    .lines()
                    .position(|l| l.contains(needle))
                    .expect("line in app.py")
            };
            let call = line_of("return deliberate([1, 2])");
            let fault = line_of("return xs[7]");
            for want in [
                "Traceback (most recent call last):".to_string(),
                format!("File \"/0/app.py\", line {call}, in run"),
                format!("File \"/0/app.py\", line {fault}, in deliberate"),
                "IndexError: list index out of range".to_string(),
            ] {
                assert!(
                    r.stderr.contains(&want),
                    "python: no {want:?} in:\n{}",
                    r.stderr
                );
            }
            // Logged once, and the runtime's own printing (which would
            // import `traceback` and trap in `stat`) is not attempted.
            assert_eq!(r.stderr.matches("Traceback").count(), 1, "{}", r.stderr);
            assert!(!r.stderr.contains("posix_do_stat"), "{}", r.stderr);
        }
        "javascript" => {
            let js = std::fs::read_to_string(dir.path().join("javascript/plugin.js")).unwrap();
            let line = 1 + js.lines().position(|l| l.contains(PANIC)).unwrap();
            assert!(
                r.stderr.contains(&format!("plugin.js:{line}:")),
                "javascript: no plugin.js:{line} in:\n{}",
                r.stderr
            );
        }
        "go" => {
            // The goroutine trace names the panic's line (-trimpath: the
            // module path, not the temporary directory).
            let go = std::fs::read_to_string(dir.path().join("go/main.go")).unwrap();
            let line = 1 + go.lines().position(|l| l.contains(PANIC)).unwrap();
            assert!(
                r.stderr.contains(&format!("{NAME}/main.go:{line} ")),
                "go: no {NAME}/main.go:{line} in:\n{}",
                r.stderr
            );
        }
        "zig" | "cpp" => {
            // Logged by the guest library's panic path at error level,
            // before the trap.
            assert!(
                r.stderr.contains(&format!("{NAME}: error: {PANIC}")),
                "{}: {}",
                case.lang,
                r.stderr
            );
            if case.lang == "cpp" {
                // The backtrace names the plugin's function (the name
                // section survives --strip-debug).
                assert!(r.stderr.contains("mmhost::plugin::run("), "{}", r.stderr);
            }
        }
        _ => {}
    }

    // The wrong-type return: said in those words, exit 5.
    if case.wrong_type {
        let r = run(&["-q"], &plugin, &files.paths, &["x", "y"]);
        r.assert_code(5);
        assert!(
            r.stderr.contains(WRONG),
            "{}: the wrong return type is not said:\n{}",
            case.lang,
            r.stderr
        );
        if matches!(case.lang, "python" | "javascript") {
            // Checked by the guest library, which names the value.
            assert!(
                r.stderr.contains("run returned 42 ("),
                "{}: {}",
                case.lang,
                r.stderr
            );
        } else {
            // Found by the host when it lifts the result.
            assert!(
                r.stderr.contains(&format!(
                    "plugin {NAME}: run returned a value that is {WRONG}"
                )),
                "{}: {}",
                case.lang,
                r.stderr
            );
        }
    }
    files.assert_unchanged();
}

#[test]
fn rust_scaffold_shows_the_panic_message() {
    check(&RUST);
}

#[test]
fn c_scaffold_shows_the_panic_and_the_wrong_return() {
    check(&C);
}

#[test]
fn assemblyscript_scaffold_shows_the_thrown_message_and_the_wrong_return() {
    check(&ASSEMBLYSCRIPT);
}

#[test]
fn python_scaffold_shows_the_traceback_and_the_wrong_return() {
    check(&PYTHON);
}

#[test]
fn javascript_scaffold_shows_the_exception_and_the_wrong_return() {
    check(&JAVASCRIPT);
}

#[test]
fn go_scaffold_shows_the_panic_and_where() {
    check(&GO);
}

#[test]
fn zig_scaffold_shows_the_panic_message() {
    check(&ZIG);
}

#[test]
fn cpp_scaffold_shows_the_panic_message() {
    check(&CPP);
}

/// `OPT=ReleaseSafe bash build.sh` keeps Zig's safety checks, as the Zig
/// scaffold's README says: an index out of bounds panics through the guest
/// library's handler with Zig's own words, index and length.
#[test]
fn zig_scaffold_release_safe_reports_an_index_out_of_bounds() {
    const SAFE: Case = Case {
        lang: "zig",
        source: "plugin.zig",
        block: &[
            "if (args.len == 1) {",
            "    const xs = [_]u8{ 1, 2 };",
            "    var i: usize = 7;",
            "    _ = &i;",
            "    return mmhost.decimal(gpa, xs[i]);",
            "}",
        ],
        tail: &[],
        wrong_type: false,
    };
    if skipped(&SAFE) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let plugin = build_with(&SAFE, dir.path(), &[("OPT", "ReleaseSafe")]);
    let files = Files::new(&[1000, 3], 5, TEXTISH);
    let r = run(&["-q"], &plugin, &files.paths, &["x"]);
    r.assert_code(5);
    assert!(
        r.stderr.contains(&format!(
            "{NAME}: error: index out of bounds: index 7, len 2"
        )),
        "{}",
        r.stderr
    );
    files.assert_unchanged();
}

/// The insertion lands before the usage check in every template, whatever
/// its shape (an `if` line, or the line inside its block).
#[test]
fn edit_inserts_before_the_usage_check() {
    let py = "class W:\n    def run(self, args):\n        if args:\n            raise Err(\"usage: oops\")\n        return \"0\"\n";
    let got = edit(py, &PYTHON);
    assert!(
        got.contains("        if len(args) == 1:\n            return deliberate([1, 2])\n        if len(args) == 2:\n            return 42\n        if args:\n"),
        "{got}"
    );
    let js = "export const run = entry((args) => {\n  if (args.length) throw 'usage: oops';\n});\n";
    let got = edit(js, &JAVASCRIPT);
    assert!(
        got.starts_with("export const run = entry((args) => {\n  if (args.length === 1)"),
        "{got}"
    );
}
