//! The sandbox: limits (memory, time, fuel, result size, log), hostile
//! plugins, plugins that try for authority they are not granted, and inputs
//! that change under a run. In every case: the documented exit code, one
//! clear first line, the inputs byte-identical afterwards (unless the test is
//! about changing them) and no panic of the host.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;

const INPUT: i32 = 3;
const LIMIT: i32 = 5;

/// The first line of stderr.
fn first_line(r: &Run) -> &str {
    r.stderr.lines().next().unwrap_or("")
}

/// The host did not panic (the plugin's own panic message, logged on lines
/// prefixed with its name, does not count).
#[track_caller]
fn assert_no_host_panic(r: &Run) {
    for line in r.stderr.lines() {
        assert!(
            !line.contains("panicked") || line.starts_with("probe: "),
            "host panic in stderr:\n{}",
            r.stderr
        );
    }
}

/// A plugin run over fresh files: the files, and what the run did.
fn probe(flags: &[&str], args: &[&str]) -> (Files, Run) {
    let files = Files::new(&[5000, 4097, 70_000], 31, TEXTISH);
    let r = run(flags, &plugin("probe"), &files.paths, args);
    (files, r)
}

#[test]
fn infinite_loop_ends_at_the_timeout() {
    let start = Instant::now();
    let (files, r) = probe(&["--timeout", "300ms"], &["loop"]);
    let took = start.elapsed();
    r.assert_code(LIMIT);
    assert_eq!(
        first_line(&r),
        "mmhost: error: plugin probe: timeout after 300 ms"
    );
    assert!(r.stderr.contains("wasm backtrace:"), "{}", r.stderr);
    // Promptly: the deadline plus start-up (compiling the plugin at worst),
    // with room for a loaded machine.
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_no_host_panic(&r);
    files.assert_unchanged();
}

#[test]
fn infinite_loop_runs_out_of_fuel() {
    let (files, r) = probe(&["--fuel", "1000000"], &["read", "0", "2", "loop"]);
    r.assert_code(LIMIT);
    let line = first_line(&r);
    assert!(
        line.starts_with("mmhost: error: plugin probe: out of fuel"),
        "{line}"
    );
    assert!(line.contains("1000000"), "{line}");
    // What ran before the cut-off still reached stdout.
    assert_eq!(
        r.stdout_str(),
        format!("ok {}\n", hex(&files.contents[0][..2]))
    );
    assert_no_host_panic(&r);
    files.assert_unchanged();
}

#[test]
fn fuel_cuts_off_at_the_same_point_every_time() {
    let last_flood = |r: &Run| -> String {
        r.stderr
            .lines()
            .rfind(|l| l.starts_with("probe: info: flood "))
            .unwrap_or("")
            .to_string()
    };
    let (files, a) = probe(&["--fuel", "2000000"], &["logflood", "1000000"]);
    let (_, b) = probe(&["--fuel", "2000000"], &["logflood", "1000000"]);
    a.assert_code(LIMIT);
    b.assert_code(LIMIT);
    let (la, lb) = (last_flood(&a), last_flood(&b));
    assert!(!la.is_empty(), "{}", a.stderr);
    assert_eq!(la, lb);
    // Well before the log cap, so the cut-off is fuel's, not the log's.
    let n: u64 = la.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n < 9000, "{la}");
    // Enough fuel: the same plugin completes.
    let (_, c) = probe(&["--fuel", "100000000000"], &["logflood", "10"]);
    c.assert_ok();
    files.assert_unchanged();
}

#[test]
fn memory_growth_stops_at_the_limit() {
    let (files, r) = probe(&["--max-memory", "32M"], &["grow", "64"]);
    r.assert_code(LIMIT);
    let line = first_line(&r);
    assert!(line.contains("memory limit exceeded"), "{line}");
    assert!(line.contains(&(32u64 << 20).to_string()), "{line}");
    assert!(line.contains("--max-memory"), "{line}");
    assert_no_host_panic(&r);
    files.assert_unchanged();
    // Under the limit, the same growth is fine.
    let (_, r) = probe(&["--max-memory", "128M"], &["grow", "64"]);
    r.assert_ok();
    assert_eq!(r.stdout_str(), "grew 64\n");
}

#[test]
fn default_memory_limit_is_256_mib() {
    let (files, r) = probe(&[], &["grow", "300"]);
    r.assert_code(LIMIT);
    assert!(
        first_line(&r).contains(&(256u64 << 20).to_string()),
        "{}",
        r.stderr
    );
    files.assert_unchanged();
}

#[test]
fn trap_in_the_middle_of_a_read_only_run() {
    let (files, r) = probe(
        &[],
        &[
            "read", "0", "3", "read", "-2", "2", "trap", "read", "0", "1",
        ],
    );
    r.assert_code(LIMIT);
    assert_eq!(
        first_line(&r),
        "mmhost: error: plugin probe: trapped: wasm `unreachable` instruction executed"
    );
    // One readable block: the backtrace, one named frame per line.
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines[1], "wasm backtrace:");
    assert!(
        lines[2..].iter().all(|l| l.starts_with("  ")),
        "{}",
        r.stderr
    );
    assert!(
        lines[2..].iter().any(|l| l.ends_with(": run")),
        "{}",
        r.stderr
    );
    // The reads before the trap were answered; the one after never ran.
    let all = files.concat();
    assert_eq!(
        r.stdout_str(),
        format!("ok {}\nok {}\n", hex(&all[..3]), hex(&all[all.len() - 2..]))
    );
    assert_no_host_panic(&r);
    files.assert_unchanged();
}

#[test]
fn trap_after_writes_to_an_output_commits_nothing() {
    let files = Files::new(&[5000, 4097], 32, TEXTISH);
    let out = files.dir.path().join("out.bin");
    let r = run(
        &["-o", out.to_str().unwrap()],
        &plugin("probe"),
        &files.paths,
        &["fill", "0", "9000", "41", "trap"],
    );
    r.assert_code(LIMIT);
    assert!(!out.exists(), "a failed run must not create the output");
    let leftovers: Vec<_> = std::fs::read_dir(files.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".mmhost-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert_no_host_panic(&r);
    files.assert_unchanged();
}

#[test]
fn plugin_panic_is_a_trap_with_its_message() {
    let (files, r) = probe(&[], &["panic", "boom"]);
    r.assert_code(LIMIT);
    assert!(
        r.stderr.starts_with("probe: error: panicked at"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("\n  boom\n"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("mmhost: error: plugin probe: trapped: wasm `unreachable`"),
        "{}",
        r.stderr
    );
    assert_no_host_panic(&r);
    files.assert_unchanged();
}

#[test]
fn huge_result_text_is_refused_not_printed() {
    let (files, r) = probe(&[], &["bigresult", "64"]);
    r.assert_code(LIMIT);
    let line = first_line(&r);
    assert!(line.contains("result text limit exceeded"), "{line}");
    assert!(line.contains(&(64u64 << 20).to_string()), "{line}");
    assert!(line.contains(&(1u64 << 20).to_string()), "{line}");
    assert!(r.stdout.is_empty(), "{} bytes on stdout", r.stdout.len());
    assert!(r.stderr.len() < 1024, "{} bytes on stderr", r.stderr.len());
    assert_no_host_panic(&r);
    files.assert_unchanged();
    // At the limit exactly, the text is printed.
    let (_, r) = probe(&[], &["bigresult", "1"]);
    r.assert_ok();
    assert_eq!(r.stdout.len(), (1 << 20) + 1);
}

#[test]
fn log_flood_is_capped() {
    let (files, r) = probe(&[], &["logflood", "20000", "emit", "done"]);
    r.assert_ok();
    assert_eq!(r.stdout_str(), "done");
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 10_001, "{:?}", &lines[lines.len() - 3..]);
    assert_eq!(lines[9_999], "probe: info: flood 9999");
    assert_eq!(
        lines[10_000],
        "probe: more than 10000 log messages; the rest are dropped"
    );
    assert!(r.stderr.len() < 300_000, "{} bytes", r.stderr.len());
    assert_no_host_panic(&r);
    files.assert_unchanged();
}

#[test]
fn log_messages_cannot_forge_host_lines() {
    let long = "y".repeat(20_000);
    let (files, r) = probe(
        &[],
        &[
            "log",
            "warn",
            "first\nmmhost: error: forged\x1b[2J",
            "log",
            "info",
            &long,
        ],
    );
    r.assert_ok();
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines[0], "probe: warn: first");
    // Continuation lines are indented; control characters escaped.
    assert_eq!(lines[1], "  mmhost: error: forged\\u{1b}[2J");
    assert!(!r.stderr.contains('\x1b'));
    // A long message is cut at 8 KiB and says so.
    assert!(lines[2].starts_with("probe: info: yyyy"), "{}", lines[2]);
    assert!(
        lines[2].ends_with(&format!(" [... {} more bytes dropped]", 20_000 - 8192)),
        "{}",
        &lines[2][lines[2].len() - 60..]
    );
    files.assert_unchanged();
}

#[test]
fn reads_and_writes_at_every_edge_fail_cleanly() {
    // The edges of tests/offsets.rs, with writes too and a writable region.
    let files = Files::new(&[3, 0, 4], 33, TEXTISH);
    let size = 7i64;
    let mut args: Vec<String> = Vec::new();
    let mut want: Vec<String> = Vec::new();
    for (at, len) in [
        (size, 1u64),
        (size + 1, 0),
        (-size - 1, 1),
        (i64::MIN, 0),
        (i64::MIN, 1),
        (i64::MAX, 0),
        (i64::MAX, 1),
        (0, u32::MAX as u64),
        (0, u64::MAX),
        (-1, u64::MAX),
    ] {
        args.extend(["read".into(), at.to_string(), len.to_string()]);
        want.push(format!("err out-of-range at={at} len={len} size={size}"));
    }
    for at in [size, size + 1, -size - 1, i64::MIN, i64::MAX] {
        args.extend(["write".into(), at.to_string(), "00".into()]);
        want.push(format!("err out-of-range at={at} len=1 size={size}"));
    }
    // Zero-length accesses at the very end are valid and do nothing.
    args.extend(["write".into(), size.to_string(), String::new()]);
    want.push("ok".into());
    args.extend(["read".into(), size.to_string(), "0".into()]);
    want.push("ok ".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run(&["--in-place"], &plugin("probe"), &files.paths, &args);
    r.assert_ok();
    let got: Vec<String> = r.stdout_str().lines().map(str::to_string).collect();
    assert_eq!(got, want);
    assert_no_host_panic(&r);
    files.assert_unchanged();
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// The WASI probe built with Rust's `std` as a component (`wasm32-wasip2`)
/// and as a core module of WASI preview 1 (`wasm32-wasip1`, which mmhost
/// adapts when it loads it): both must meet the same sandbox.
const WASI_PROBES: [&str; 2] = ["wasi-probe", "wasi-probe-p1"];

/// The probe's "monotonic clock: N ns elapsed" or "slept N ns": N.
fn nanos_in(out: &str, prefix: &str) -> u128 {
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in:\n{out}"));
    line.trim_end_matches(" ns elapsed")
        .trim_end_matches(" ns")
        .parse()
        .unwrap_or_else(|e| panic!("{line:?}: {e}"))
}

/// A component built with Rust's `std` for `wasm32-wasip2`, and the same
/// code as a WASI preview 1 core module, try the file system, the
/// environment, the network and the clocks: every attempt is denied or
/// empty, the wall clock stands at the epoch; the monotonic clock moves.
#[test]
fn wasi_grants_no_ambient_authority() {
    for probe in WASI_PROBES {
        wasi_grants_no_ambient_authority_to(probe);
    }
}

fn wasi_grants_no_ambient_authority_to(probe: &str) {
    let files = Files::new(&[100], 34, TEXTISH);
    let mut c = mmhost();
    c.arg("run")
        .arg(plugin(probe))
        .args(&files.paths)
        .env("MMHOST_PROBE_SECRET", "leak-me");
    let r = Run::from(c.output().unwrap());
    r.assert_ok();
    let out = r.stdout_str();
    let lines: Vec<&str> = out.lines().collect();
    let attempts = [
        "open /etc/passwd",
        "read_dir /",
        "read_dir .",
        "create /tmp/wasi-probe",
        "tcp connect 127.0.0.1:1",
        "tcp listen 127.0.0.1:0",
        "udp bind 127.0.0.1:0",
        "dns localhost",
    ];
    for name in attempts {
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no line for {name:?} in:\n{out}"));
        assert!(
            line.starts_with(&format!("{name}: denied (")),
            "{line}\nall:\n{out}"
        );
    }
    assert!(lines.contains(&"env vars: 0"), "{out}");
    assert!(lines.contains(&"args: 0"), "{out}");
    assert!(lines.contains(&"wall clock: 0 ns since the epoch"), "{out}");
    // Two readings around a million loop steps: the clock moved.
    assert!(nanos_in(&out, "monotonic clock: ") > 0, "{out}");
    assert!(!out.contains("leak-me"));
    // WASI stdout goes to mmhost's stderr, never into the output stream.
    assert!(!out.contains("WASI stdout"), "{out}");
    assert!(
        r.stderr.contains(&format!(
            "{probe}: stdout: wasi-probe: this line went to WASI stdout"
        )),
        "{}",
        r.stderr
    );
    assert!(!Path::new("/tmp/wasi-probe").exists());
    files.assert_unchanged();
}

/// Sleeping blocks inside a host call, out of reach of the epoch deadline
/// and of fuel: the host ends a sleep at the run's deadline, so a plugin
/// sleeping for an hour under `--timeout 1s` is stopped by the timeout,
/// never having printed what follows its sleep.
#[test]
fn wasi_sleep_cannot_outlast_the_timeout() {
    let files = Files::new(&[10], 41, TEXTISH);
    for probe in WASI_PROBES {
        let r = run(
            &["--timeout", "1s"],
            &plugin(probe),
            &files.paths,
            &["sleep", "3600000"],
        );
        r.assert_code(LIMIT);
        assert_eq!(
            first_line(&r),
            format!("mmhost: error: plugin {probe}: timeout after 1000 ms"),
            "{}",
            r.stderr
        );
        assert_eq!(r.stdout_str(), "", "{probe}");
    }
    files.assert_unchanged();
}

/// A sleep within the time limit takes the time it asks for: the monotonic
/// clock moves across it by at least that much, and the run goes on.
#[test]
fn wasi_sleep_takes_its_time() {
    let files = Files::new(&[10], 42, TEXTISH);
    for probe in WASI_PROBES {
        for flags in [&[][..], &["--timeout", "1h"][..]] {
            let r = run(flags, &plugin(probe), &files.paths, &["sleep", "30"]);
            r.assert_ok();
            let slept = nanos_in(&r.stdout_str(), "slept ");
            assert!(slept >= 30_000_000, "{probe} {flags:?}: slept {slept} ns");
        }
    }
}

#[test]
fn wasi_output_flood_is_capped() {
    let files = Files::new(&[10], 40, TEXTISH);
    // 50,000 lines of 100 bytes: 5 MB, five times the cap.
    let r = run(
        &[],
        &plugin("wasi-probe"),
        &files.paths,
        &["print", "50000"],
    );
    r.assert_ok();
    assert_eq!(r.stdout_str(), "printed 50000\n");
    // Each line reaches the terminal prefixed: 121 bytes. The terminal
    // budget (1 MiB) holds 8,665 of them; the WASI cap (1 MiB sent) lets
    // 10,381 whole lines and 95 bytes of the next through, the rest of
    // which is suppressed.
    let line = |i: usize| format!("wasi-probe: stdout: {i:>10} {}", "w".repeat(89));
    let per = line(0).len() + 1;
    let shown = (1 << 20) / per;
    let sent_lines = (1 << 20) / 101;
    let partial = (1 << 20) % 101;
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        shown + 3,
        "{}",
        &r.stderr[r.stderr.len() - 400..]
    );
    for (i, l) in lines[..shown].iter().enumerate() {
        assert_eq!(*l, line(i));
    }
    assert_eq!(
        lines[shown],
        "wasi-probe: log and WASI output reached the limit of 1048576 bytes or 20000 lines per \
         run; the rest is suppressed"
    );
    assert_eq!(
        lines[shown + 1],
        "wasi-probe: more than 1048576 bytes on WASI stdout/stderr; the rest is dropped"
    );
    assert_eq!(
        lines[shown + 2],
        format!(
            "wasi-probe: {} bytes ({} lines) of log and WASI output were suppressed",
            (sent_lines - shown) * per + "wasi-probe: stdout: ".len() + partial + 1,
            sent_lines - shown + 1
        )
    );
    assert!(
        r.stderr.len() < (1 << 20) + 300,
        "{} bytes on stderr",
        r.stderr.len()
    );
    assert_no_host_panic(&r);
    files.assert_unchanged();
}

#[test]
fn unix_socket_input_is_refused() {
    let files = Files::new(&[5], 35, TEXTISH);
    let sock = files.dir.path().join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let mut paths = files.paths.clone();
    paths.push(sock.clone());
    for flags in [&[][..], &["--in-place"][..]] {
        let r = run(flags, &plugin("upper"), &paths, &[]);
        r.assert_code(INPUT);
        let line = first_line(&r);
        assert!(line.contains(&sock.display().to_string()), "{line}");
        assert!(line.contains("is a socket"), "{line}");
        assert_no_host_panic(&r);
    }
    files.assert_unchanged();
}

/// How to run mmhost as a user that cannot read a root-owned 0600 file.
enum Unprivileged {
    /// We are not root: chmod is enough.
    AlreadyNot,
    /// We are root: drop to `nobody` with setpriv (util-linux).
    Setpriv,
}

fn unprivileged() -> Result<Unprivileged, String> {
    if !rustix::process::geteuid().is_root() {
        return Ok(Unprivileged::AlreadyNot);
    }
    let probe = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_mmhost"))
        .arg("--version")
        .output();
    match probe {
        Ok(o) if o.status.success() => Ok(Unprivileged::Setpriv),
        Ok(o) => Err(format!(
            "running as root, and `setpriv --reuid=65534` cannot run mmhost: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!(
            "running as root, and setpriv (util-linux) is not available: {e}"
        )),
    }
}

fn run_unprivileged(how: &Unprivileged, flags: &[&str], files: &[PathBuf]) -> Run {
    let mut c = match how {
        Unprivileged::AlreadyNot => mmhost(),
        Unprivileged::Setpriv => {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(env!("CARGO_BIN_EXE_mmhost"));
            c
        }
    };
    c.arg("run")
        .args(flags)
        .arg(plugin("upper"))
        .args(files)
        .env(
            "MMHOST_CACHE_DIR",
            std::env::temp_dir().join("mmhost-nobody-cache"),
        );
    c.output().unwrap().into()
}

#[test]
fn unreadable_and_unwritable_files_are_refused() {
    let how = match unprivileged() {
        Ok(how) => how,
        Err(why) => {
            // Not silent: the reason is in the test output.
            println!("SKIPPED unreadable_and_unwritable_files_are_refused: {why}");
            eprintln!("SKIPPED unreadable_and_unwritable_files_are_refused: {why}");
            return;
        }
    };
    use std::os::unix::fs::PermissionsExt;
    let files = Files::new(&[5, 6], 36, TEXTISH);
    // The unprivileged user must reach the files but not read the secret.
    std::fs::set_permissions(files.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for p in &files.paths {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let secret = files.dir.path().join("secret");
    std::fs::write(&secret, b"top secret").unwrap();
    let mode = if matches!(how, Unprivileged::AlreadyNot) {
        0o000
    } else {
        0o600
    };
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(mode)).unwrap();

    let mut paths = files.paths.clone();
    paths.insert(1, secret.clone());
    let r = run_unprivileged(&how, &[], &paths);
    r.assert_code(INPUT);
    let line = first_line(&r);
    assert!(line.contains(&secret.display().to_string()), "{line}");
    assert!(
        line.contains("permission denied (cannot open for reading)"),
        "{line}"
    );
    assert_no_host_panic(&r);

    // Readable but not writable: refused for --in-place, with the reason.
    if matches!(how, Unprivileged::Setpriv) {
        let r = run_unprivileged(&how, &["--in-place"], &files.paths);
        r.assert_code(INPUT);
        let line = first_line(&r);
        assert!(
            line.contains(&files.paths[0].display().to_string()),
            "{line}"
        );
        // Replacing it would need to keep the owner, which only root can.
        assert!(line.contains("is owned by another user"), "{line}");
        // And read-only, the same files are fine for that user.
        let r = run_unprivileged(&how, &[], &files.paths);
        r.assert_code(1); // upper wants to write: the read-only error
        assert!(r.stderr.contains("read-only"), "{}", r.stderr);
    }
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(std::fs::read(&secret).unwrap(), b"top secret");
    files.assert_unchanged();
}

/// Runs the probe's `args` (which start with `readloop`) over `paths` and,
/// once the loop is running, truncates `victim` to `new_len` bytes from this
/// (other) process.
fn truncate_while_running(
    flags: &[&str],
    paths: &[PathBuf],
    args: &[&str],
    victim: &Path,
    new_len: u64,
) -> Run {
    let mut child = mmhost()
        .arg("run")
        .args(flags)
        // A safety net: the test must never hang.
        .args(["--timeout", "60s"])
        .arg(plugin("probe"))
        .args(paths)
        .arg("--")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap_or_default();
            all.push_str(&line);
            all.push('\n');
            let _ = tx.send(line);
        }
        all
    });
    // Wait until the plugin is reading the mapped files.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("readloop started") => break,
            Ok(_) => continue,
            Err(e) => {
                let _ = child.kill();
                panic!("the probe never started reading: {e}");
            }
        }
    }
    std::thread::sleep(Duration::from_millis(100));
    std::fs::OpenOptions::new()
        .write(true)
        .open(victim)
        .unwrap()
        .set_len(new_len)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = reader.join().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr,
    }
}

/// Reads until something stops the probe (the `--timeout` is the net).
const FOREVER: [&str; 2] = ["readloop", "1000000000"];

#[test]
fn file_truncated_while_mapped_is_a_clear_error() {
    // A small packed file, then a large mapped one that gets truncated.
    let files = Files::new(&[1000, 4 * MIB + 1], 37, TEXTISH);
    let victim = files.paths[1].clone();
    let r = truncate_while_running(&[], &files.paths, &FOREVER, &victim, 0);
    r.assert_code(INPUT);
    let line = r
        .stderr
        .lines()
        .find(|l| l.starts_with("mmhost: error: "))
        .unwrap_or_else(|| panic!("no error line in:\n{}", r.stderr));
    assert!(
        line.starts_with(&format!(
            "mmhost: error: {}: an input file was truncated by another process while mapped \
             (SIGBUS at byte ",
            victim.display()
        )),
        "{line}"
    );
    assert!(line.ends_with("; no changes were committed"), "{line}");
    assert_no_host_panic(&r);
    // The other input is untouched.
    assert_eq!(std::fs::read(&files.paths[0]).unwrap(), files.contents[0]);
}

#[test]
fn file_truncated_while_mapped_in_place_commits_nothing() {
    let files = Files::new(&[4 * MIB, 3000], 38, TEXTISH);
    let victim = files.paths[0].clone();
    let r = truncate_while_running(&["--in-place"], &files.paths, &FOREVER, &victim, 4096);
    r.assert_code(INPUT);
    assert!(
        r.stderr.contains(&format!(
            "mmhost: error: {}: an input file was truncated by another process while mapped",
            victim.display()
        )),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("no changes were committed (the next mmhost run over these files removes the unfinished copies)"),
        "{}",
        r.stderr
    );
    assert_no_host_panic(&r);
    assert_eq!(std::fs::read(&files.paths[1]).unwrap(), files.contents[1]);
    assert_eq!(std::fs::read(&victim).unwrap(), files.contents[0][..4096]);
}

#[test]
fn with_output_a_truncated_input_faults_and_commits_nothing() {
    // --output maps the inputs as every run does (the bytes a plugin does
    // not write are read from them, and copied from them at commit), so an
    // input truncated mid-run is named like any other, and the output file
    // is not written.
    let files = Files::new(&[4 * MIB + 1], 39, TEXTISH);
    let victim = files.paths[0].clone();
    let out = files.dir.path().join("out.bin");
    let r = truncate_while_running(
        &["-o", out.to_str().unwrap()],
        &files.paths,
        &FOREVER,
        &victim,
        4096,
    );
    r.assert_code(INPUT);
    assert!(
        r.stderr.contains(&format!(
            "mmhost: error: {}: an input file was truncated by another process while mapped",
            victim.display()
        )),
        "{}",
        r.stderr
    );
    assert_no_host_panic(&r);
    assert!(!out.exists(), "the output file was written");
}
