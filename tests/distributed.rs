//! The protocol of distributed runs (`mmhost plan`, `run-chunk`, `reduce`,
//! `commit`, `abort`; issue #12), with the real binary on real temp files:
//! planned and run chunk by chunk, in any order and grouping, a job gives
//! exactly what `mmhost run -j 1` gives (stdout, stderr's commit line, the
//! files); changed inputs, failing chunks, killed processes and incomplete
//! results are refused or recovered as documented.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// `mmhost ARGS...`
fn mm(args: &[&str]) -> Run {
    mmhost().args(args).output().expect("spawn mmhost").into()
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// A plan made by `mmhost plan`, in `dir/plan.json`.
struct Planned {
    path: PathBuf,
    json: serde_json::Value,
}

impl Planned {
    fn count(&self) -> usize {
        self.json["chunk_count"].as_u64().unwrap() as usize
    }
    fn p(&self) -> String {
        s(&self.path)
    }
}

/// `mmhost plan FLAGS --plan-out DIR/plan.json PLUGIN FILES -- ARGS`.
fn plan(dir: &Path, flags: &[&str], plugin: &Path, files: &[PathBuf], args: &[&str]) -> Planned {
    let r = try_plan(dir, flags, plugin, files, args);
    r.assert_ok();
    let path = dir.join("plan.json");
    let json = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    Planned { path, json }
}

fn try_plan(dir: &Path, flags: &[&str], plugin: &Path, files: &[PathBuf], args: &[&str]) -> Run {
    let mut c = mmhost();
    c.arg("-q").arg("plan").args(flags);
    c.arg("--plan-out").arg(dir.join("plan.json"));
    c.arg(plugin).args(files);
    if !args.is_empty() {
        c.arg("--").args(args);
    }
    c.output().expect("spawn mmhost").into()
}

/// The chunk specs that cover `count` chunks: each alone, in a shuffled
/// order (`grouped`: ranges of up to three, also shuffled).
fn specs(count: usize, seed: u64, grouped: bool) -> Vec<String> {
    let mut v: Vec<String> = if grouped {
        (0..count)
            .step_by(3)
            .map(|a| {
                let b = (a + 2).min(count - 1);
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect()
    } else {
        (0..count).map(|k| k.to_string()).collect()
    };
    let mut rng = Rng(seed | 1);
    for i in (1..v.len()).rev() {
        v.swap(i, rng.below(i as u64 + 1) as usize);
    }
    v
}

/// Runs every chunk of `planned` (as `specs` groups them), writing the
/// result lines to DIR/results, and returns that path.
fn run_all(dir: &Path, planned: &Planned, specs: &[String]) -> PathBuf {
    let mut lines = Vec::new();
    for spec in specs {
        let r = mm(&["run-chunk", "--plan", &planned.p(), "--chunk", spec]);
        r.assert_ok();
        lines.extend_from_slice(&r.stdout);
    }
    let results = dir.join("results");
    std::fs::write(&results, lines).unwrap();
    results
}

/// plan, run-chunk (each chunk, shuffled), reduce, commit: (reduce, commit).
fn distributed(
    dir: &Path,
    flags: &[&str],
    plugin: &Path,
    files: &[PathBuf],
    args: &[&str],
    seed: u64,
) -> (Run, Run) {
    let planned = plan(dir, flags, plugin, files, args);
    let results = run_all(
        dir,
        &planned,
        &specs(planned.count(), seed, seed.is_multiple_of(2)),
    );
    let reduced = mm(&["reduce", "--plan", &planned.p(), &s(&results)]);
    let committed = mm(&["commit", "--plan", &planned.p(), "--results", &s(&results)]);
    (reduced, committed)
}

/// The files and directories whose names mark staged copies, journals or
/// stage directories, in `dir`.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".mmhost-"))
        .collect()
}

fn file_sets() -> Vec<Vec<usize>> {
    let mut sets = size_sets();
    sets.push((0..120).map(|i| (i * 37) % 500).collect());
    sets.push(vec![3 * MIB + 11, 1, 7 * MIB - 5]);
    sets
}

/// Chunk sizes giving a handful of chunks over `total` bytes.
fn chunk_sizes(total: usize) -> Vec<String> {
    [2usize, 5]
        .iter()
        .map(|k| total.div_ceil(*k).max(1).to_string())
        .collect()
}

#[test]
fn count_and_checksum_equal_a_serial_run_on_every_file_set() {
    for (n, lens) in file_sets().into_iter().enumerate() {
        let files = Files::new(&lens, 300 + n as u64, b"aab");
        let total: usize = lens.iter().sum();
        for (c, chunk) in chunk_sizes(total).iter().enumerate() {
            for (name, args) in [
                ("count", &["ab"][..]),
                ("count", &["aa"][..]),
                ("checksum", &[][..]),
            ] {
                let expected = run(&["-j", "1"], &plugin(name), &files.paths, args);
                expected.assert_ok();
                let dir = tempfile::tempdir().unwrap();
                let (reduced, committed) = distributed(
                    dir.path(),
                    &["--chunk-size", chunk],
                    &plugin(name),
                    &files.paths,
                    args,
                    (n * 10 + c) as u64,
                );
                reduced.assert_ok();
                assert!(
                    reduced.stdout == expected.stdout,
                    "set {n} {lens:?} chunk {chunk} {name} {args:?}: {} vs {}",
                    reduced.stdout_str(),
                    expected.stdout_str()
                );
                committed.assert_ok();
                assert_eq!(committed.stderr, "", "a read-only commit says nothing");
                files.assert_unchanged();
            }
        }
    }
}

/// The commit line of `mmhost run` and `mmhost commit`.
fn wrote_line(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.starts_with("mmhost: wrote "))
        .unwrap_or_else(|| panic!("no commit line in: {stderr}"))
}

#[test]
fn upper_to_output_in_place_and_output_dir_equals_a_serial_run() {
    for (n, lens) in file_sets().into_iter().enumerate() {
        let total: usize = lens.iter().sum();
        for (c, chunk) in chunk_sizes(total).iter().enumerate() {
            let seed = (n * 10 + c) as u64;
            let files = Files::new(&lens, 400 + n as u64, TEXTISH);
            let expected = upper(&files.concat());
            let twin = Files::new(&lens, 400 + n as u64, TEXTISH); // the serial run's copy

            // -o
            let out = files.dir.path().join("out.txt");
            let serial_out = twin.dir.path().join("out.txt");
            let serial = run(
                &["-j", "1", "-o", &s(&serial_out)],
                &plugin("upper"),
                &twin.paths,
                &[],
            );
            serial.assert_ok();
            let dir = tempfile::tempdir().unwrap();
            let (reduced, committed) = distributed(
                dir.path(),
                &["--chunk-size", chunk, "-o", &s(&out)],
                &plugin("upper"),
                &files.paths,
                &[],
                seed,
            );
            reduced.assert_ok();
            committed.assert_ok();
            assert!(
                std::fs::read(&out).unwrap() == expected,
                "set {n} chunk {chunk}: -o differs"
            );
            assert_eq!(
                wrote_line(&committed.stderr).replace(&s(&out), "OUT"),
                wrote_line(&serial.stderr).replace(&s(&serial_out), "OUT"),
            );
            files.assert_unchanged();

            // --output-dir
            let outdir = files.dir.path().join("outdir");
            let serial_dir = twin.dir.path().join("outdir");
            let serial = run(
                &["-j", "1", "--output-dir", &s(&serial_dir)],
                &plugin("upper"),
                &twin.paths,
                &[],
            );
            serial.assert_ok();
            let (reduced, committed) = distributed(
                dir.path(),
                &["--chunk-size", chunk, "--output-dir", &s(&outdir)],
                &plugin("upper"),
                &files.paths,
                &[],
                seed + 1,
            );
            reduced.assert_ok();
            committed.assert_ok();
            let mut pos = 0;
            for p in &files.paths {
                let got = std::fs::read(outdir.join(p.file_name().unwrap())).unwrap();
                assert!(
                    got == expected[pos..pos + got.len()],
                    "set {n} chunk {chunk}: {}",
                    p.display()
                );
                pos += got.len();
            }
            assert_eq!(pos, expected.len());
            let root_a = s(&files.dir.path().canonicalize().unwrap());
            let root_b = s(&twin.dir.path().canonicalize().unwrap());
            assert_eq!(
                wrote_line(&committed.stderr).replace(&root_a, "ROOT"),
                wrote_line(&serial.stderr).replace(&root_b, "ROOT"),
            );
            files.assert_unchanged();

            // -i
            let serial = run(&["-j", "1", "-i"], &plugin("upper"), &twin.paths, &[]);
            serial.assert_ok();
            let (reduced, committed) = distributed(
                dir.path(),
                &["--chunk-size", chunk, "-i"],
                &plugin("upper"),
                &files.paths,
                &[],
                seed + 2,
            );
            reduced.assert_ok();
            committed.assert_ok();
            files.assert_concat_is(&expected);
            let root_a = s(files.dir.path());
            let root_b = s(twin.dir.path());
            assert_eq!(
                wrote_line(&committed.stderr).replace(&root_a, "ROOT"),
                wrote_line(&serial.stderr).replace(&root_b, "ROOT"),
            );
            assert!(
                leftovers(files.dir.path()).is_empty(),
                "{:?}",
                leftovers(files.dir.path())
            );
        }
    }
}

#[test]
fn chunk_boundaries_of_a_writing_run_fall_on_blocks_within_each_file() {
    let files = Files::new(&[10_000, 5, 70_000, 0, 9_000], 5, TEXTISH);
    let dir = tempfile::tempdir().unwrap();
    let planned = plan(
        dir.path(),
        &["--chunk-size", "7000", "--block-size", "4K", "-i"],
        &plugin("upper"),
        &files.paths,
        &[],
    );
    let starts: Vec<u64> = files
        .contents
        .iter()
        .scan(0u64, |at, c| {
            let s = *at;
            *at += c.len() as u64;
            Some(s)
        })
        .collect();
    let chunks = planned.json["chunks"].as_array().unwrap();
    assert!(chunks.len() > 5);
    for c in chunks {
        let b = c["start"].as_u64().unwrap();
        // Inside file f, at a multiple of 4096 from its start (or at its start).
        let f = starts.iter().rposition(|&s| s <= b).unwrap();
        assert_eq!((b - starts[f]) % 4096, 0, "boundary {b} in file {f}");
    }
    let r = mm(&["abort", "--plan", &planned.p()]);
    r.assert_ok();
    assert!(leftovers(files.dir.path()).is_empty());
    files.assert_unchanged();
}

#[test]
fn parallel_probe_output_and_halo_reads_equal_a_local_parallel_run() {
    // Each chunk emits what it reads around its bounds (its halo): the
    // distributed run must give the bytes of a local run with the same chunks.
    let files = Files::new(&[1000, 0, 2500, 7], 21, TEXTISH);
    let args = ["chunked", "6", "read", "@lo", "12", "read", "@start", "3"];
    let local = run(
        &["-j", "2", "--chunk-size", "900"],
        &plugin("probe"),
        &files.paths,
        &args,
    );
    local.assert_ok();
    let dir = tempfile::tempdir().unwrap();
    let (reduced, _) = distributed(
        dir.path(),
        &["--chunk-size", "900"],
        &plugin("probe"),
        &files.paths,
        &args,
        3,
    );
    reduced.assert_ok();
    assert_eq!(reduced.stdout_str(), local.stdout_str());
    assert!(
        local.stdout_str().contains("chunks 4"),
        "{}",
        local.stdout_str()
    );
}

#[test]
fn a_plugin_that_declines_to_split_runs_whole_in_chunk_zero() {
    let files = Files::new(&[5000, 3], 8, TEXTISH);
    let dir = tempfile::tempdir().unwrap();
    // `tail` is not of the parallel world.
    let planned = plan(
        dir.path(),
        &["--chunk-size", "100"],
        &plugin("tail"),
        &files.paths,
        &["10"],
    );
    assert!(planned.json["halo"].is_null());
    assert_eq!(planned.count(), 1);
    let results = run_all(dir.path(), &planned, &["0".to_string()]);
    let line: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&results).unwrap()).unwrap();
    assert!(line["ok"].is_string(), "{line}");
    let reduced = mm(&["reduce", "--plan", &planned.p(), &s(&results)]);
    let expected = run(&["-j", "1"], &plugin("tail"), &files.paths, &["10"]);
    assert_eq!(reduced.assert_ok().stdout, expected.assert_ok().stdout);
    mm(&["commit", "--plan", &planned.p()]).assert_ok();
}

#[test]
fn an_input_changed_after_the_plan_is_refused_and_abort_leaves_nothing() {
    let files = Files::new(&[9000, 100, 20_000], 9, TEXTISH);
    let dir = tempfile::tempdir().unwrap();
    let out = files.dir.path().join("out.txt");
    for target in [vec!["-i"], vec!["-o", out.to_str().unwrap()]] {
        let mut flags = vec!["--chunk-size", "4096"];
        flags.extend(&target);
        let planned = plan(dir.path(), &flags, &plugin("upper"), &files.paths, &[]);
        assert!(
            !leftovers(files.dir.path()).is_empty(),
            "staged copies were made"
        );
        // Same size, new bytes (and mtime): the identity check catches it.
        let changed = b"Z".repeat(100);
        std::fs::write(&files.paths[1], &changed).unwrap();
        // A chunk whose window reaches the changed input (one that does not
        // never opens it: `run_chunk_opens_only_the_inputs_its_window_touches`).
        let k = chunks_touching(&planned, 1).0[0];
        let r = chunk_lines(&planned, k);
        r.assert_code(3);
        assert!(r.stderr.contains("since the plan"), "{}", r.stderr);
        assert!(r.stderr.contains("in001.dat"), "{}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        // Commit refuses too (its chunks have not run, or the input changed).
        assert_ne!(mm(&["commit", "--plan", &planned.p()]).code, 0);
        mm(&["abort", "--plan", &planned.p()]).assert_ok();
        assert!(
            leftovers(files.dir.path()).is_empty(),
            "{:?}",
            leftovers(files.dir.path())
        );
        assert!(!planned.json["stage_dir"]
            .as_str()
            .map(Path::new)
            .unwrap()
            .exists());
        assert!(!out.exists());
        std::fs::write(&files.paths[1], &files.contents[1]).unwrap();
        files.assert_unchanged();
    }
}

#[test]
fn a_changed_plugin_is_refused() {
    let files = Files::new(&[3000], 10, TEXTISH);
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("count.wasm");
    std::fs::copy(plugin("count"), &copy).unwrap();
    let planned = plan(
        dir.path(),
        &["--chunk-size", "1000"],
        &copy,
        &files.paths,
        &["a"],
    );
    std::fs::copy(plugin("checksum"), &copy).unwrap();
    let r = mm(&["run-chunk", "--plan", &planned.p(), "--chunk", "1"]);
    r.assert_code(3);
    assert!(
        r.stderr.contains("the plugin changed since the plan"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_plugin_error_in_one_chunk_fails_that_chunk_with_exit_1_and_commits_nothing() {
    let files = Files::new(&[70_000, 5, 130_000], 13, TEXTISH);
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "chunked", "0", "fill", "@start", "@len", "41", "onchunk", "7", "fail", "boom",
    ];
    let planned = plan(
        dir.path(),
        &["--chunk-size", "10000", "-i"],
        &plugin("probe"),
        &files.paths,
        &args,
    );
    for k in 0..planned.count() {
        let r = mm(&[
            "run-chunk",
            "--plan",
            &planned.p(),
            "--chunk",
            &k.to_string(),
        ]);
        if k == 7 {
            r.assert_code(1);
            assert!(
                r.stderr.contains("plugin probe failed: boom"),
                "{}",
                r.stderr
            );
            assert!(r.stdout.is_empty());
        } else {
            r.assert_ok();
        }
    }
    // A range holding the failing chunk fails as a whole.
    mm(&["run-chunk", "--plan", &planned.p(), "--chunk", "5-9"]).assert_code(1);
    let c = mm(&["commit", "--plan", &planned.p()]);
    c.assert_code(2);
    assert!(c.stderr.contains("chunk 7"), "{}", c.stderr);
    files.assert_unchanged();
    mm(&["abort", "--plan", &planned.p()]).assert_ok();
    assert!(leftovers(files.dir.path()).is_empty());
    files.assert_unchanged();
}

#[test]
fn a_chunk_killed_and_run_again_gives_the_same_line_and_bytes() {
    let files = Files::new(&[6 * MIB + 3, 4097], 14, TEXTISH);
    let dir = tempfile::tempdir().unwrap();
    let out = files.dir.path().join("out.txt");
    let planned = plan(
        dir.path(),
        &["--chunk-size", "2M", "-o", &s(&out)],
        &plugin("upper"),
        &files.paths,
        &[],
    );
    let strip = |r: &Run| -> Vec<serde_json::Value> {
        r.stdout
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_slice(l).unwrap();
                v.as_object_mut().unwrap().remove("ms");
                v
            })
            .collect()
    };
    let first = mm(&["run-chunk", "--plan", &planned.p(), "--chunk", "1-2"]);
    let first = strip(first.assert_ok());
    // Killed at some point of its run (where does not matter: any point must do).
    for delay in [0u64, 20, 80] {
        let mut child = mmhost()
            .args(["run-chunk", "--plan", &planned.p(), "--chunk", "1-2"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay));
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        let _ = child.wait();
        let again = mm(&["run-chunk", "--plan", &planned.p(), "--chunk", "1-2"]);
        assert_eq!(strip(again.assert_ok()), first);
    }
    let mut lines = Vec::new();
    for k in [3, 0] {
        lines.extend(
            mm(&[
                "run-chunk",
                "--plan",
                &planned.p(),
                "--chunk",
                &k.to_string(),
            ])
            .stdout,
        );
    }
    let again = mm(&["run-chunk", "--plan", &planned.p(), "--chunk", "1-2"]);
    lines.extend(again.stdout);
    let results = dir.path().join("results");
    std::fs::write(&results, lines).unwrap();
    mm(&["reduce", "--plan", &planned.p(), &s(&results)]).assert_ok();
    mm(&["commit", "--plan", &planned.p(), "--results", &s(&results)]).assert_ok();
    assert!(std::fs::read(&out).unwrap() == upper(&files.concat()));
    assert!(
        leftovers(files.dir.path()).is_empty(),
        "{:?}",
        leftovers(files.dir.path())
    );
}

#[test]
fn reduce_names_a_missing_duplicated_or_failed_chunk() {
    let files = Files::new(&[5000], 15, b"ab");
    let dir = tempfile::tempdir().unwrap();
    let planned = plan(
        dir.path(),
        &["--chunk-size", "1000"],
        &plugin("count"),
        &files.paths,
        &["ab"],
    );
    assert_eq!(planned.count(), 5);
    let results = run_all(dir.path(), &planned, &specs(5, 1, false));
    let text = std::fs::read_to_string(&results).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let line_of = |k: usize| {
        *lines
            .iter()
            .find(|l| l.starts_with(&format!("{{\"chunk\":{k},")))
            .unwrap()
    };
    // Missing chunk 3.
    let f = dir.path().join("missing");
    let kept: Vec<&str> = lines.iter().copied().filter(|l| *l != line_of(3)).collect();
    std::fs::write(&f, kept.join("\n")).unwrap();
    let r = mm(&["reduce", "--plan", &planned.p(), &s(&f)]);
    r.assert_code(2);
    assert!(
        r.stderr.contains("1 of 5 chunks have no result: chunk 3"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty());
    // Chunk 2 twice, across two files.
    let f2 = dir.path().join("again");
    std::fs::write(&f2, format!("{}\n", line_of(2))).unwrap();
    let r = mm(&["reduce", "--plan", &planned.p(), &s(&results), &s(&f2)]);
    r.assert_code(2);
    assert!(r.stderr.contains("chunk 2 appears twice"), "{}", r.stderr);
    // A failure line from a driver.
    let f3 = dir.path().join("failed");
    let failed = format!(
        "{}\n{{\"chunk\":4,\"error\":\"worker lost\",\"exit\":6}}\n",
        kept[..3].join("\n")
    );
    std::fs::write(&f3, failed).unwrap();
    let r = mm(&["reduce", "--plan", &planned.p(), &s(&f3)]);
    r.assert_code(2);
    assert!(
        r.stderr.contains("chunk 4 failed (exit 6): worker lost"),
        "{}",
        r.stderr
    );
    // An output file that was damaged.
    let line: serde_json::Value = serde_json::from_str(line_of(0)).unwrap();
    let out = line["output"]["path"].as_str().unwrap();
    std::fs::write(out, "junk").unwrap();
    let r = mm(&["reduce", "--plan", &planned.p(), &s(&results)]);
    r.assert_code(6);
    assert!(
        r.stderr.contains("chunk 0's output is 4 bytes"),
        "{}",
        r.stderr
    );
    // Through stdin, complete: the answer.
    let mut c = mmhost();
    c.args(["reduce", "--plan", &planned.p(), "-"]);
    std::fs::write(out, "").unwrap();
    let r: Run = c
        .stdin(std::fs::File::open(&results).unwrap())
        .output()
        .unwrap()
        .into();
    let expected = count(&files.concat(), b"ab");
    assert_eq!(r.assert_ok().stdout_str(), format!("{expected}\n"));
}

#[test]
fn a_coordinator_killed_in_commit_is_finished_or_undone_by_recover() {
    for (point, new) in [("journal", true), ("rename:1", true), ("renamed", true)] {
        let files = Files::new(&[5000, 3, 9000], 16, TEXTISH);
        let dir = tempfile::tempdir().unwrap();
        let planned = plan(
            dir.path(),
            &["--chunk-size", "4096", "-i"],
            &plugin("upper"),
            &files.paths,
            &[],
        );
        let results = run_all(dir.path(), &planned, &specs(planned.count(), 2, true));
        mm(&["reduce", "--plan", &planned.p(), &s(&results)]).assert_ok();
        let r: Run = mmhost()
            .args(["commit", "--plan", &planned.p()])
            .env("MMHOST_FAILPOINT", point)
            .output()
            .unwrap()
            .into();
        assert_eq!(r.code, -1, "{point}: killed");
        mm(&["recover", &s(files.dir.path())]).assert_ok();
        if new {
            files.assert_concat_is(&upper(&files.concat()));
        } else {
            files.assert_unchanged();
        }
        // Nothing is left: the stage directory went before the commit point.
        let names = leftovers(files.dir.path());
        assert!(names.is_empty(), "{point}: {names:?}");
    }
    // Killed before the commit point (never committed): recover undoes.
    let files = Files::new(&[5000, 3, 9000], 17, TEXTISH);
    let dir = tempfile::tempdir().unwrap();
    let planned = plan(
        dir.path(),
        &["--chunk-size", "4096", "-i"],
        &plugin("upper"),
        &files.paths,
        &[],
    );
    run_all(dir.path(), &planned, &specs(planned.count(), 2, true));
    mm(&["recover", &s(files.dir.path())]).assert_ok();
    files.assert_unchanged();
    let names: Vec<String> = leftovers(files.dir.path());
    assert!(
        names.iter().all(|n| n.starts_with(".mmhost-run-")),
        "{names:?}"
    );
}

#[test]
fn the_readme_xargs_recipe_runs_as_written() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("<!-- xargs-recipe -->")
        .expect("README has the recipe");
    let body = &readme[start..];
    let code = body
        .split("```sh\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let files = Files::new(&[300_000, 17, 500_000], 18, TEXTISH);
    let work = files.dir.path();
    std::fs::write(work.join("notes.txt"), &files.contents[0]).unwrap();
    std::fs::write(work.join("more.txt"), &files.contents[2]).unwrap();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_mmhost"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .arg("-euo")
        .arg("pipefail")
        .arg("-c")
        .arg(code)
        .current_dir(work)
        .env("PATH", path)
        .env("PLUGINS", plugins())
        .output()
        .unwrap();
    let r: Run = out.into();
    r.assert_ok();
    let expected = upper(&[&files.contents[0][..], &files.contents[2][..]].concat());
    assert!(std::fs::read(work.join("upper.txt")).unwrap() == expected);
    assert!(leftovers(work).is_empty(), "{:?}", leftovers(work));
}

#[test]
fn the_plan_schema_is_committed_and_usage_errors_exit_2() {
    let r = mm(&["schema", "--plan"]);
    let committed = std::fs::read_to_string(root().join("schema/plan.schema.json")).unwrap();
    assert_eq!(r.assert_ok().stdout_str(), committed);
    let files = Files::new(&[100], 19, TEXTISH);
    let dir = tempfile::tempdir().unwrap();
    let planned = plan(
        dir.path(),
        &["--chunk-size", "10"],
        &plugin("count"),
        &files.paths,
        &["a"],
    );
    let r = mm(&["run-chunk", "--plan", &planned.p(), "--chunk", "10"]);
    r.assert_code(2);
    assert!(r.stderr.contains("has 10 chunks (0-9)"), "{}", r.stderr);
    std::fs::write(dir.path().join("bad.json"), "{\"version\": 1}").unwrap();
    let r = mm(&[
        "run-chunk",
        "--plan",
        &s(&dir.path().join("bad.json")),
        "--chunk",
        "0",
    ]);
    r.assert_code(2);
    assert!(
        r.stderr.contains("bad.json: not a valid plan"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_dry_run_reports_what_a_serial_dry_run_reports_and_changes_nothing() {
    let lens = [5000, 0, 3, 70_000];
    for target in [
        &[][..],
        &["-i"][..],
        &["--output-dir", "OUT"][..],
        &["-o", "OUT"][..],
    ] {
        let files = Files::new(&lens, 20, TEXTISH);
        let out = files.dir.path().join("out");
        let flags: Vec<String> = target
            .iter()
            .map(|f| if *f == "OUT" { s(&out) } else { f.to_string() })
            .collect();
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let mut serial_flags = vec!["-j", "1", "--dry-run"];
        serial_flags.extend(&flags);
        let serial = run(&serial_flags, &plugin("upper"), &files.paths, &[]);
        serial.assert_ok();
        let dir = tempfile::tempdir().unwrap();
        let mut plan_flags = vec!["--dry-run", "--chunk-size", "4096"];
        plan_flags.extend(&flags);
        let (reduced, committed) = distributed(
            dir.path(),
            &plan_flags,
            &plugin("upper"),
            &files.paths,
            &[],
            4,
        );
        reduced.assert_ok();
        committed.assert_ok();
        let line = |e: &str| {
            e.lines()
                .find(|l| l.starts_with("mmhost: dry run: "))
                .map(str::to_string)
        };
        assert_eq!(line(&committed.stderr), line(&serial.stderr), "{target:?}");
        assert!(line(&serial.stderr).is_some());
        files.assert_unchanged();
        assert!(
            leftovers(files.dir.path()).is_empty(),
            "{:?}",
            leftovers(files.dir.path())
        );
        let out_left =
            out.exists() && (out.is_file() || std::fs::read_dir(&out).unwrap().next().is_some());
        assert!(!out_left, "{target:?}: an output was written");
    }
}

#[test]
fn a_built_in_named_plugin_plans_and_runs_chunk_by_chunk() {
    // `count` by name (a built-in), not by path: the plan records the name
    // and the SHA-256 of the module inside the binary.
    let files = Files::new(&[5000, 0, 3001], 21, b"aab");
    let expected = run(&["-j", "1"], &plugin("count"), &files.paths, &["ab"]);
    expected.assert_ok();
    let dir = tempfile::tempdir().unwrap();
    let (reduced, committed) = distributed(
        dir.path(),
        &["--chunk-size", "2000"],
        Path::new("count"),
        &files.paths,
        &["ab"],
        7,
    );
    reduced.assert_ok();
    assert_eq!(reduced.stdout, expected.stdout);
    committed.assert_ok();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("plan.json")).unwrap()).unwrap();
    assert_eq!(json["plugin"]["path"], "count");
    assert_eq!(json["plugin"]["sha256"].as_str().unwrap().len(), 64);
    files.assert_unchanged();
}

/// The chunks of `planned` whose window (the chunk plus the halo, clamped)
/// touches the bytes of input `i`, and those it does not.
fn chunks_touching(planned: &Planned, i: usize) -> (Vec<usize>, Vec<usize>) {
    let j = &planned.json;
    let halo = j["halo"].as_u64().unwrap();
    let size = j["region_size"].as_u64().unwrap();
    let (a, len) = (
        j["inputs"][i]["start"].as_u64().unwrap(),
        j["inputs"][i]["len"].as_u64().unwrap(),
    );
    assert!(len > 0);
    let mut touching = Vec::new();
    let mut not = Vec::new();
    for c in j["chunks"].as_array().unwrap() {
        let lo = c["start"].as_u64().unwrap().saturating_sub(halo);
        let hi = (c["end"].as_u64().unwrap() + halo).min(size);
        let k = c["index"].as_u64().unwrap() as usize;
        if a < hi && lo < a + len {
            touching.push(k);
        } else {
            not.push(k);
        }
    }
    (touching, not)
}

/// `mmhost run-chunk` of chunk `k` of `planned`.
fn chunk_lines(planned: &Planned, k: usize) -> Run {
    mm(&[
        "run-chunk",
        "--plan",
        &planned.p(),
        "--chunk",
        &k.to_string(),
    ])
}

/// The JSON lines of a `run-chunk`, without their times.
fn without_ms(r: &Run) -> Vec<serde_json::Value> {
    r.stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_slice(l).unwrap();
            v.as_object_mut().unwrap().remove("ms");
            v
        })
        .collect()
}

#[test]
fn run_chunk_opens_only_the_inputs_its_window_touches() {
    // 48 files: small ones (packed) and ones over 64 KiB (mapped), so that
    // the input taken away is of either kind.
    let lens: Vec<usize> = (0..48)
        .map(|i| if i % 3 == 0 { 70_000 + i * 11 } else { 900 + i })
        .collect();
    for (victim, plugin_name, flags) in [
        (24usize, "count", vec!["--chunk-size", "60000"]),
        (25, "count", vec!["--chunk-size", "60000"]),
        (27, "upper", vec!["--chunk-size", "60000", "-o"]),
        (26, "count", vec!["--chunk-size", "100000"]),
    ] {
        let files = Files::new(&lens, 40 + victim as u64, b"aab");
        let dir = tempfile::tempdir().unwrap();
        let mut flags: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
        if flags.last().is_some_and(|f| f == "-o") {
            flags.push(s(&files.dir.path().join("out.txt")));
        }
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let args: &[&str] = if plugin_name == "count" { &["ab"] } else { &[] };
        let planned = plan(dir.path(), &flags, &plugin(plugin_name), &files.paths, args);
        let (touching, not) = chunks_touching(&planned, victim);
        assert!(
            !touching.is_empty() && not.len() >= 2,
            "{touching:?} {not:?}"
        );
        let before: Vec<_> = (0..planned.count())
            .map(|k| without_ms(chunk_lines(&planned, k).assert_ok()))
            .collect();
        // The lines made before the change reduce to what a serial run prints.
        let results = dir.path().join("results");
        let mut text = String::new();
        for k in 0..planned.count() {
            text.push_str(
                &std::fs::read_to_string(
                    Path::new(planned.json["stage_dir"].as_str().unwrap())
                        .join(format!("chunk-{k:06}.json")),
                )
                .unwrap(),
            );
        }
        std::fs::write(&results, text).unwrap();
        if plugin_name != "upper" {
            let expected = run(&["-j", "1"], &plugin(plugin_name), &files.paths, args);
            let reduced = mm(&["reduce", "--plan", &planned.p(), &s(&results)]);
            assert_eq!(reduced.assert_ok().stdout, expected.assert_ok().stdout);
        }
        // Taken away, then replaced by a file of another size.
        let vpath = &files.paths[victim];
        std::fs::remove_file(vpath).unwrap();
        for step in ["deleted", "resized"] {
            // The chunks next to the touching ones, and the first and last.
            let near = |k: usize| {
                k == 0 || k + 1 == planned.count() || touching.iter().any(|&t| t.abs_diff(k) <= 2)
            };
            for &k in not.iter().filter(|&&k| near(k)) {
                let r = chunk_lines(&planned, k);
                assert_eq!(
                    without_ms(r.assert_ok()),
                    before[k],
                    "{plugin_name}: chunk {k} with input {victim} {step}"
                );
            }
            for &k in &touching {
                let r = chunk_lines(&planned, k);
                r.assert_code(3);
                assert!(
                    r.stderr.contains(&format!("in{victim:03}.dat")),
                    "{}",
                    r.stderr
                );
                assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
            }
            std::fs::write(vpath, b"another size").unwrap();
        }
        if plugin_name == "upper" {
            // The staged output's ranges of the chunks run after the change
            // hold the upper-cased bytes of the original files.
            let staged = std::fs::read(planned.json["target"]["staged"].as_str().unwrap()).unwrap();
            let expected = upper(&files.concat());
            for c in planned.json["chunks"].as_array().unwrap() {
                let (a, b) = (
                    c["start"].as_u64().unwrap() as usize,
                    c["end"].as_u64().unwrap() as usize,
                );
                assert!(staged[a..b] == expected[a..b], "chunk {c}");
            }
        }
        // Back as it was (same bytes, new identity): still refused.
        std::fs::write(vpath, &files.contents[victim]).unwrap();
        chunk_lines(&planned, touching[0]).assert_code(3);
        mm(&["abort", "--plan", &planned.p()]).assert_ok();
        files.assert_unchanged();
    }
}

#[test]
fn run_chunk_verbose_says_how_many_inputs_it_opened() {
    // 30 files of 1000 bytes, chunks of 3000, halo 1 (`count ab`): chunk 4
    // is [12000, 15000), its window [11999, 15001) touches files 11..=15.
    let files = Files::new(&[1000; 30], 5, b"ab");
    let dir = tempfile::tempdir().unwrap();
    let planned = plan(
        dir.path(),
        &["--chunk-size", "3000"],
        &plugin("count"),
        &files.paths,
        &["ab"],
    );
    assert_eq!(planned.json["halo"].as_u64(), Some(1));
    let r = mm(&["-v", "run-chunk", "--plan", &planned.p(), "--chunk", "4"]);
    r.assert_ok();
    assert!(
        r.stderr
            .contains("window [11999, 15001) opened 5 of 30 inputs"),
        "{}",
        r.stderr
    );
    let r = mm(&["-v", "run-chunk", "--plan", &planned.p(), "--chunk", "0-9"]);
    assert!(
        r.assert_ok().stderr.contains("opened 30 of 30 inputs"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_tiny_chunk_size_is_bounded_and_zero_is_refused() {
    // As a local run: `--chunk-size 1` grows to keep at most 16,384 chunks
    // (a byte a chunk over 1 MiB would be a million), and 0 is a usage error.
    let files = Files::new(&[1 << 20], 5, b"aab");
    let dir = tempfile::tempdir().unwrap();
    let planned = plan(
        dir.path(),
        &["--chunk-size", "1"],
        &plugin("count"),
        &files.paths,
        &["ab"],
    );
    assert!(planned.count() <= 16 << 10, "{} chunks", planned.count());
    assert!(planned.count() > 1);
    let r = try_plan(
        dir.path(),
        &["--chunk-size", "0"],
        &plugin("count"),
        &files.paths,
        &["ab"],
    );
    r.assert_code(2);
    mm(&["abort", "--plan", &planned.p()]).assert_ok();
}

// ---- dask2: what reduce sees, plan-time output, randomness per chunk ----

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn reduce_sees_the_written_bytes_and_plan_output_comes_first_as_in_a_local_run() {
    // Chunk 0 writes 'X' at its start; `plan` emits a line; `reduce` reads
    // the whole region (it must see the 'X'), then writes '!' at the last
    // byte (a file no chunk wrote) and reads it back. Every write target
    // (one output file, in place, an output directory), packed (small) and
    // mapped files, against `mmhost run -j 2` with the same chunks, and
    // against the bytes computed here.
    let lens = [3000usize, 70_005, 1, 100_000];
    let total: usize = lens.iter().sum();
    let total_s = total.to_string();
    let args = [
        "chunked",
        "0",
        "onchunk",
        "0",
        "write",
        "@start",
        "58",
        "allchunks",
        "read",
        "@start",
        "2",
        "atplan",
        "emit",
        "planned;",
        "atreduce",
        "read",
        "0",
        &total_s,
        "write",
        "-1",
        "21",
        "read",
        "-2",
        "2",
    ];
    let mut model = Files::new(&lens, 77, TEXTISH).concat();
    model[0] = b'X';
    for target in ["-o", "-i", "--output-dir"] {
        let local_files = Files::new(&lens, 77, TEXTISH);
        let dist_files = Files::new(&lens, 77, TEXTISH);
        let flags = |files: &Files| -> Vec<String> {
            match target {
                "-o" => vec!["-o".into(), s(&files.dir.path().join("out"))],
                "-i" => vec!["-i".into()],
                _ => vec!["--output-dir".into(), s(&files.dir.path().join("outdir"))],
            }
        };
        let mut local_flags = vec!["-j".to_string(), "2".into(), "--chunk-size".into()];
        local_flags.push("40000".into());
        local_flags.extend(flags(&local_files));
        let lf: Vec<&str> = local_flags.iter().map(String::as_str).collect();
        let local = run(&lf, &plugin("probe"), &local_files.paths, &args);
        local.assert_ok();
        let dir = tempfile::tempdir().unwrap();
        let mut plan_flags = vec![
            "--chunk-size".to_string(),
            "40000".into(),
            "--block-size".into(),
            "1".into(),
        ];
        plan_flags.extend(flags(&dist_files));
        let pf: Vec<&str> = plan_flags.iter().map(String::as_str).collect();
        let (reduced, committed) = distributed(
            dir.path(),
            &pf,
            &plugin("probe"),
            &dist_files.paths,
            &args,
            5,
        );
        reduced.assert_ok();
        committed.assert_ok();
        let out = reduced.stdout_str();
        assert_eq!(out, local.stdout_str(), "{target}");
        assert!(out.starts_with("planned;chunk 0\n"), "{target}: {out}");
        assert!(out.contains(&format!("ok {}\n", hex(&model))), "{target}");
        let mut expected = model.clone();
        *expected.last_mut().unwrap() = b'!';
        let tail = format!("ok\nok {}\nchunks 5\n", hex(&expected[total - 2..]));
        assert!(out.ends_with(&tail), "{target}: {out}");
        match target {
            "-o" => {
                let a = std::fs::read(local_files.dir.path().join("out")).unwrap();
                let b = std::fs::read(dist_files.dir.path().join("out")).unwrap();
                assert!(a == expected && b == expected, "{target}");
            }
            "-i" => {
                local_files.assert_concat_is(&expected);
                dist_files.assert_concat_is(&expected);
            }
            _ => {
                for (i, p) in dist_files.paths.iter().enumerate() {
                    let name = p.file_name().unwrap();
                    let a = std::fs::read(local_files.dir.path().join("outdir").join(name));
                    let b = std::fs::read(dist_files.dir.path().join("outdir").join(name));
                    assert_eq!(a.unwrap(), b.unwrap(), "{target}: file {i}");
                }
                dist_files.assert_unchanged();
            }
        }
        let local_line = wrote_line(&local.stderr).replace(
            local_files.dir.path().to_str().unwrap(),
            dist_files.dir.path().to_str().unwrap(),
        );
        assert_eq!(wrote_line(&committed.stderr), local_line, "{target}");
        assert!(leftovers(dist_files.dir.path()).is_empty(), "{target}");
    }
}

#[test]
fn a_chunks_random_numbers_depend_on_the_run_and_the_chunk_not_on_the_grouping() {
    // wasi-probe's chunks hash with std's RandomState: keys drawn from WASI
    // randomness once per instance. A chunk retried alone must draw what it
    // drew in a range of chunks.
    let files = Files::new(&[4000], 4, TEXTISH);
    let chunk2 = |planned: &Planned, spec: &str| -> String {
        mm(&["run-chunk", "--plan", &planned.p(), "--chunk", spec]).assert_ok();
        let out = PathBuf::from(planned.json["stage_dir"].as_str().unwrap());
        std::fs::read_to_string(out.join("chunk-000002.out")).unwrap()
    };
    let d1 = tempfile::tempdir().unwrap();
    let p1 = plan(
        d1.path(),
        &["--chunk-size", "1000"],
        &plugin("wasi-probe"),
        &files.paths,
        &["random"],
    );
    assert_eq!(p1.count(), 4);
    let grouped = chunk2(&p1, "0-3");
    assert!(grouped.starts_with("chunk 2 random "), "{grouped}");
    assert_eq!(chunk2(&p1, "2"), grouped);
    assert_eq!(chunk2(&p1, "1-2"), grouped);
    // Random all the same: another chunk, another run draw other numbers.
    let stage = PathBuf::from(p1.json["stage_dir"].as_str().unwrap());
    let chunk1 = std::fs::read_to_string(stage.join("chunk-000001.out")).unwrap();
    assert_ne!(chunk1[8..], grouped[8..]);
    let d2 = tempfile::tempdir().unwrap();
    let p2 = plan(
        d2.path(),
        &["--chunk-size", "1000"],
        &plugin("wasi-probe"),
        &files.paths,
        &["random"],
    );
    assert_ne!(chunk2(&p2, "2"), grouped);
    for p in [&p1, &p2] {
        mm(&["abort", "--plan", &p.p()]).assert_ok();
    }
}

#[test]
fn a_job_file_naming_a_built_in_plans_and_runs_as_mmhost_run_job() {
    // `mmhost plan --job JOB` with built-ins by name (`wc` read-only, `upper`
    // writing to the job's output file), in several chunks, against `mmhost
    // run --job JOB` and the bytes computed here.
    let files = Files::new(&[9000, 0, 17_001, 5], 31, TEXTISH);
    let d = files.dir.path();
    let names: Vec<String> = files
        .paths
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    let inputs = serde_json::to_string(&names).unwrap();
    let wc_job = d.join("wc.json");
    std::fs::write(
        &wc_job,
        format!(r#"{{"inputs": {inputs}, "steps": [{{"plugin": "wc", "args": ["-l"]}}]}}"#),
    )
    .unwrap();
    let up_job = d.join("upper.json");
    std::fs::write(
        &up_job,
        format!(
            r#"{{"inputs": {inputs}, "write": {{"output": "out.txt"}}, "steps": [{{"plugin": "upper"}}]}}"#
        ),
    )
    .unwrap();
    let in_dir = |args: &[&str]| -> Run {
        mmhost()
            .current_dir(d)
            .args(args)
            .output()
            .expect("spawn mmhost")
            .into()
    };
    let local = in_dir(&["run", "--job", "wc.json"]);
    local.assert_ok();
    let run_job = |job: &str| -> Run {
        let plan_path = d.join(format!("{job}.plan"));
        in_dir(&[
            "-q",
            "plan",
            "--job",
            job,
            "--chunk-size",
            "4000",
            "--plan-out",
            plan_path.to_str().unwrap(),
        ])
        .assert_ok();
        let planned: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&plan_path).unwrap()).unwrap();
        assert!(planned["chunk_count"].as_u64().unwrap() > 2, "{planned}");
        let p = s(&plan_path);
        let k = planned["chunk_count"].as_u64().unwrap() - 1;
        let lines = in_dir(&["run-chunk", "--plan", &p, "--chunk", &format!("0-{k}")]);
        let results = d.join(format!("{job}.results"));
        std::fs::write(&results, &lines.assert_ok().stdout).unwrap();
        let reduced = in_dir(&["reduce", "--plan", &p, &s(&results)]);
        reduced.assert_ok();
        in_dir(&["commit", "--plan", &p, "--results", &s(&results)]).assert_ok();
        reduced
    };
    assert_eq!(run_job("wc.json").stdout_str(), local.stdout_str());
    assert!(
        local.stdout_str().contains(" total"),
        "{}",
        local.stdout_str()
    );
    run_job("upper.json");
    assert!(std::fs::read(d.join("out.txt")).unwrap() == upper(&files.concat()));
    files.assert_unchanged();
}

#[test]
fn recover_after_a_dead_driver_leaves_only_the_files() {
    // A driver died after `plan` and some chunks: the staged copies and the
    // stage directory (default name, beside the files) are its leftovers;
    // `mmhost recover DIR` removes them all and changes no file.
    let files = Files::new(&[20_000, 3, 9_000], 12, TEXTISH);
    let dir = tempfile::tempdir().unwrap();
    let planned = plan(
        dir.path(),
        &["--chunk-size", "8000", "-i"],
        &plugin("upper"),
        &files.paths,
        &[],
    );
    mm(&["run-chunk", "--plan", &planned.p(), "--chunk", "0-1"]).assert_ok();
    let left = leftovers(files.dir.path());
    assert!(
        left.iter().any(|n| n.starts_with(".mmhost-run-")),
        "{left:?}"
    );
    assert!(left.len() > 1, "{left:?}");
    mm(&["recover", &s(files.dir.path())]).assert_ok();
    assert!(
        leftovers(files.dir.path()).is_empty(),
        "{:?}",
        leftovers(files.dir.path())
    );
    files.assert_unchanged();
    // A directory that only looks like one is not touched.
    let other = files.dir.path().join(".mmhost-run-not-a-run-id");
    std::fs::create_dir(&other).unwrap();
    mm(&["recover", &s(files.dir.path())]).assert_ok();
    assert!(other.is_dir());
}

/// In place, a file that only some chunks write gets a whole new version:
/// each process completes only the files it wrote (a file nobody writes is
/// never copied), `reduce` fills the other chunks' ranges from the inputs,
/// and `commit` refuses to run before `reduce`. `redact abc` (which splits
/// and writes only its matches) checked against the replacement computed
/// here, for a file whose one match lies in its first chunk, a file with
/// none, and a file with a match at its end.
#[test]
fn in_place_files_written_by_some_chunks_are_completed_by_reduce() {
    let dir = tempfile::tempdir().unwrap();
    let mut big = vec![b'.'; 300_000];
    big[100..103].copy_from_slice(b"abc");
    let mut tail = vec![b'-'; 70_000];
    let n = tail.len();
    tail[n - 3..].copy_from_slice(b"abc");
    let contents = [big, vec![b'x'; 200_000], tail];
    let paths: Vec<PathBuf> = contents
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let p = dir.path().join(format!("f{i}"));
            std::fs::write(&p, c).unwrap();
            p
        })
        .collect();
    let replaced = |c: &[u8]| -> Vec<u8> {
        let mut out = c.to_vec();
        for i in 0..out.len().saturating_sub(2) {
            if &out[i..i + 3] == b"abc" {
                out[i..i + 3].copy_from_slice(b"XXX");
            }
        }
        out
    };
    let flags = ["-i", "--chunk-size", "64K"];
    let planned = plan(dir.path(), &flags, Path::new("redact"), &paths, &["abc"]);
    assert!(planned.count() >= 8, "{}", planned.count());
    let results = run_all(dir.path(), &planned, &specs(planned.count(), 7, false));
    // Before `reduce`, `commit` refuses: usage error, nothing committed.
    let early = mm(&["commit", "--plan", &planned.p(), "--results", &s(&results)]);
    early.assert_code(2);
    assert!(
        early.stderr.contains("`mmhost reduce` has not run"),
        "{}",
        early.stderr
    );
    for (p, c) in paths.iter().zip(&contents) {
        assert!(&std::fs::read(p).unwrap() == c, "{} changed", p.display());
    }
    mm(&["reduce", "--plan", &planned.p(), &s(&results)]).assert_ok();
    mm(&["commit", "--plan", &planned.p(), "--results", &s(&results)]).assert_ok();
    for (p, c) in paths.iter().zip(&contents) {
        let (got, want) = (std::fs::read(p).unwrap(), replaced(c));
        let first_difference = got.iter().zip(&want).position(|(a, b)| a != b);
        assert!(
            got == want,
            "{}: {} bytes, want {}; first difference at byte {first_difference:?}",
            p.display(),
            got.len(),
            want.len()
        );
    }
}
