//! A plugin author's first hour, host side (issue 16): the progress bar and
//! the run report together, progress of host-side work, the manual pages,
//! the wording of errors, and the debugging switches. Every test runs the
//! real binary on real temporary files.

mod common;

use common::{plugin, Files, TEXTISH};

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
