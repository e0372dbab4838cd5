//! Parallel runs (`--jobs`, `--chunk-size`, the `parallel` world): the
//! reference plugins give the serial results on every test file set, and the
//! host enforces the chunk rules (read window, write bounds, halo snapshots,
//! output order, failures) — checked against independent computations.

mod common;

use common::*;

/// Every size set, plus many small files and one set of odd sizes.
fn file_sets() -> Vec<Vec<usize>> {
    let mut sets = size_sets();
    sets.push((0..300).map(|i| (i * 37) % 500).collect());
    sets.push(vec![3 * MIB + 11, 1, 7 * MIB - 5]);
    sets
}

#[test]
fn upper_in_chunks_equals_serial_upper_on_every_file_set() {
    for (n, lens) in file_sets().into_iter().enumerate() {
        let total: usize = lens.iter().sum();
        let mut chunk_sizes = vec!["4096", "65537", "1M"];
        if total < 20_000 {
            chunk_sizes.push("1");
            chunk_sizes.push("7");
        }
        for (c, chunk) in chunk_sizes.into_iter().enumerate() {
            let files = Files::new(&lens, 100 + n as u64, TEXTISH);
            let expected = upper(&files.concat());
            // --output
            let out = files.dir.path().join("out");
            let mut flags = vec!["-q", "-j", "2", "--chunk-size", chunk, "-o"];
            let out_s = out.to_str().unwrap().to_string();
            flags.push(&out_s);
            run(&flags, &plugin("upper"), &files.paths, &[]).assert_ok();
            assert!(
                std::fs::read(&out).unwrap() == expected,
                "set {n} {lens:?} chunk {chunk}: -o differs"
            );
            files.assert_unchanged();
            // --in-place (odd jobs count too)
            let jobs = ["1", "2", "3"][c % 3];
            run(
                &["-q", "-j", jobs, "--chunk-size", chunk, "-i"],
                &plugin("upper"),
                &files.paths,
                &[],
            )
            .assert_ok();
            files.assert_concat_is(&expected);
        }
    }
}

#[test]
fn count_in_chunks_equals_python_count_for_overlapping_patterns() {
    // Few letters, so that matches overlap, run across chunk and file
    // boundaries, and re-scans in `reduce` are needed.
    for (n, lens) in file_sets().into_iter().enumerate() {
        let files = Files::new(&lens, 200 + n as u64, b"aab");
        let data = files.concat();
        for pattern in ["a", "aa", "aba", "aaaa", "baab", "aaaaaaaaaaaaaaaa"] {
            let expected = count(&data, pattern.as_bytes()).to_string();
            let chunks: &[&str] = if data.len() < 20_000 {
                &["1", "2", "3", "7", "100"]
            } else {
                &["4095", "65536", "1M"]
            };
            for chunk in chunks {
                let r = run(
                    &["-j", "2", "--chunk-size", chunk],
                    &plugin("count"),
                    &files.paths,
                    &[pattern],
                );
                r.assert_ok();
                assert_eq!(
                    r.stdout_str().trim(),
                    expected,
                    "set {n} {lens:?}, pattern {pattern}, chunk {chunk}"
                );
            }
        }
    }
}

#[test]
fn count_of_a_long_run_needs_whole_chunk_rescans_and_still_agrees() {
    // One run of 'a's: every chunk's own scan is out of phase with the
    // serial one, so `reduce` re-scans far into each chunk.
    let files = Files::new(&[100_001, 3, 99_999], 7, b"a");
    for pattern in ["aa", "aaa", "aaaaaaa"] {
        let expected = count(&files.concat(), pattern.as_bytes()).to_string();
        for chunk in ["1000", "4096", "33333"] {
            let r = run(
                &["-j", "2", "--chunk-size", chunk],
                &plugin("count"),
                &files.paths,
                &[pattern],
            );
            assert_eq!(
                r.assert_ok().stdout_str().trim(),
                expected,
                "{pattern} {chunk}"
            );
        }
    }
}

/// Lines of a probe run, per chunk: `chunk K` starts chunk K's lines.
fn per_chunk(stdout: &str) -> Vec<Vec<String>> {
    let mut chunks: Vec<Vec<String>> = Vec::new();
    for line in stdout.lines() {
        if let Some(k) = line.strip_prefix("chunk ") {
            assert_eq!(
                k.parse::<usize>().unwrap(),
                chunks.len(),
                "chunks out of order"
            );
            chunks.push(Vec::new());
        } else if line.starts_with("chunks ") {
            continue;
        } else {
            chunks
                .last_mut()
                .expect("a line before any chunk")
                .push(line.into());
        }
    }
    chunks
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_chunk_reads_only_its_window_and_writes_only_inside_itself() {
    let files = Files::new(&[3000, 4000, 3000], 11, TEXTISH);
    let data = files.concat();
    let size = data.len();
    let (chunk, halo) = (1000usize, 2usize);
    let args = [
        "chunked", "2", // halo 2
        "read", "@lo-1", "1", // just outside the window (-1 in chunk 0: the last byte)
        "read", "@lo", "1", // its first byte
        "read", "@hi-1", "1", // its last byte
        "read", "@hi", "1", // just outside
        "write", "@start-1", "41", // before the chunk (chunk 0: the last byte)
        "write", "@end", "41", // after the chunk
        "write", "@start", "41", // inside
        "find", "61", "@lo", "@hi+1", "10", // a search reaching outside
        "find", "61", "@lo", "@hi", "1000", // inside: every 'a' in the window
    ];
    let r = run(
        &["-j", "2", "--chunk-size", "1000", "-i"],
        &plugin("probe"),
        &files.paths,
        &args,
    );
    r.assert_ok();
    assert!(
        r.stdout_str().ends_with("chunks 10\n"),
        "{}",
        r.stdout_str()
    );
    let chunks = per_chunk(&r.stdout_str());
    assert_eq!(chunks.len(), size / chunk);
    let oor = |at: i64, len: usize| format!("err out-of-range at={at} len={len} size={size}");
    for (k, lines) in chunks.iter().enumerate() {
        let (start, end) = (k * chunk, (k + 1) * chunk);
        let lo = start.saturating_sub(halo);
        let hi = (end + halo).min(size);
        // The window holds original bytes, except this chunk's first byte
        // once written (the find runs after the write).
        let mut window = data[lo..hi].to_vec();
        window[start - lo] = b'A';
        let hits: Vec<String> = window
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == b'a')
            .map(|(i, _)| (lo + i).to_string())
            .collect();
        let expected = vec![
            oor(lo as i64 - 1, 1),
            format!("ok {}", hex(&data[lo..lo + 1])),
            format!("ok {}", hex(&data[hi - 1..hi])),
            oor(hi as i64, 1),
            "err read-only".to_string(),
            if end == size {
                oor(size as i64, 1)
            } else {
                "err read-only".into()
            },
            "ok".into(),
            oor(lo as i64, hi + 1 - lo),
            format!("ok {}", hits.join(" ")).trim_end().to_string(),
        ];
        assert_eq!(lines, &expected, "chunk {k}");
    }
    // Only the writes inside chunks landed: one 'A' at each chunk start.
    let mut model = data.clone();
    for k in 0..size / chunk {
        model[k * chunk] = b'A';
    }
    files.assert_concat_is(&model);
}

#[test]
fn halo_reads_see_the_bytes_from_before_the_run_whatever_neighbours_write() {
    // Every chunk overwrites itself, then reads the halo on both sides: it
    // must see the original bytes, never a neighbour's 'X's, however the
    // threads interleave. Many small chunks, so that they do interleave.
    // With one thread the chunks run in order, so every chunk's neighbour
    // before it has certainly overwritten the bytes its halo reads: without
    // the snapshots that case fails whatever the timing.
    for jobs in ["1", "3"] {
        let files = Files::new(&[20_000, 1, 29_999], 12, TEXTISH);
        let data = files.concat();
        let size = data.len();
        let (chunk, halo) = (500usize, 8usize);
        let r = run(
            &["-j", jobs, "--chunk-size", "500", "-i"],
            &plugin("probe"),
            &files.paths,
            &[
                "chunked", "8", "fill", "@start", "@len", "58", "read", "@lo", "8", "read", "@end",
                "8",
            ],
        );
        r.assert_ok();
        let chunks = per_chunk(&r.stdout_str());
        assert_eq!(chunks.len(), size / chunk);
        for (k, lines) in chunks.iter().enumerate() {
            let (start, end) = (k * chunk, (k + 1) * chunk);
            let lo = start.saturating_sub(halo);
            // Before the chunk: original bytes (chunk 0's window starts at
            // its own, already overwritten, first byte).
            let before = if k == 0 {
                hex(&[b'X'; 8])
            } else {
                hex(&data[lo..lo + 8])
            };
            assert_eq!(lines[1], format!("ok {before}"), "-j {jobs} chunk {k}");
            let after = if end == size {
                format!("err out-of-range at={size} len=8 size={size}")
            } else {
                format!("ok {}", hex(&data[end..end + 8]))
            };
            assert_eq!(lines[2], after, "-j {jobs} chunk {k}");
        }
        files.assert_concat_is(&vec![b'X'; size]);
    }
}

#[test]
fn a_failing_or_trapping_chunk_commits_nothing_and_reports_its_error() {
    let files = Files::new(&[70_000, 5, 130_000], 13, TEXTISH);
    let cases: [(&[&str], i32, &str); 3] = [
        (
            &[
                "chunked", "0", "fill", "@start", "@len", "41", "onchunk", "7", "fail", "boom",
            ],
            1,
            "plugin probe failed: boom",
        ),
        (
            &[
                "chunked", "0", "fill", "@start", "@len", "41", "onchunk", "3", "trap",
            ],
            5,
            "unreachable",
        ),
        (
            &["chunked", "0", "onchunk", "5", "panic", "kaboom"],
            5,
            "kaboom",
        ),
    ];
    for (args, code, message) in cases {
        for target in ["-i", "-o"] {
            let out = files.dir.path().join("out.bin");
            let mut flags = vec!["-j", "2", "--chunk-size", "10000", target];
            let out_s = out.to_str().unwrap().to_string();
            if target == "-o" {
                flags.push(&out_s);
            }
            let r = run(&flags, &plugin("probe"), &files.paths, args);
            r.assert_code(code);
            assert!(r.stderr.contains(message), "{args:?}: {}", r.stderr);
            files.assert_unchanged();
            assert!(!out.exists(), "{args:?}: an output was written");
            let _ = std::fs::remove_file(&out);
        }
    }
}

#[test]
fn serial_when_one_job_fuel_small_regions_or_the_plugin_declines() {
    let files = Files::new(&[50_000], 14, TEXTISH);
    let chunked = ["chunked", "0"];
    // One job and no chunk size: serial `run` (one chunk of 1).
    let r = run(&["-j", "1"], &plugin("probe"), &files.paths, &chunked);
    assert_eq!(r.assert_ok().stdout_str(), "chunk 0\nchunks 1\n");
    // Fuel: serial even with a chunk size.
    let r = run(
        &["-j", "2", "--chunk-size", "1000", "--fuel", "100000000000"],
        &plugin("probe"),
        &files.paths,
        &chunked,
    );
    assert_eq!(r.assert_ok().stdout_str(), "chunk 0\nchunks 1\n");
    // A region no bigger than one chunk.
    let r = run(
        &["-j", "2", "--chunk-size", "50000"],
        &plugin("probe"),
        &files.paths,
        &chunked,
    );
    assert_eq!(r.assert_ok().stdout_str(), "chunk 0\nchunks 1\n");
    // A plugin that declines (`plan` returns none): the probe without
    // `chunked` runs its ordinary operations once.
    let r = run(
        &["-j", "2", "--chunk-size", "1000"],
        &plugin("probe"),
        &files.paths,
        &["size"],
    );
    assert_eq!(r.assert_ok().stdout_str(), "size 50000\n");
    // With -v, mmhost says how it ran.
    let r = run(
        &["-v", "-j", "2", "--chunk-size", "1000"],
        &plugin("probe"),
        &files.paths,
        &["size"],
    );
    assert!(
        r.assert_ok()
            .stderr
            .contains("mmhost: probe: the plugin runs serially (plan returned none)"),
        "{}",
        r.stderr
    );
    let r = run(
        &["-v", "-j", "2", "--chunk-size", "1000"],
        &plugin("probe"),
        &files.paths,
        &chunked,
    );
    assert!(
        r.assert_ok()
            .stderr
            .contains("mmhost: probe: 50 chunks of up to 1000 bytes (halo 0) on 2 threads"),
        "{}",
        r.stderr
    );
    // And with chunks: 50 of them, in order.
    let r = run(
        &["-j", "2", "--chunk-size", "1000"],
        &plugin("probe"),
        &files.paths,
        &chunked,
    );
    let out = r.assert_ok().stdout_str();
    assert_eq!(per_chunk(&out).len(), 50);
    assert!(out.ends_with("chunks 50\n"));
}

#[test]
fn limits_hold_in_parallel_runs() {
    let files = Files::new(&[100_000], 15, TEXTISH);
    // A halo over 1 MiB is refused.
    let r = run(
        &["-j", "2", "--chunk-size", "1000"],
        &plugin("probe"),
        &files.paths,
        &["chunked", "1048577"],
    );
    r.assert_code(5);
    assert!(r.stderr.contains("halo limit exceeded"), "{}", r.stderr);
    // A chunk that loops for ever is stopped by the run's timeout.
    let started = std::time::Instant::now();
    let r = run(
        &[
            "-j",
            "2",
            "--chunk-size",
            "10000",
            "--timeout",
            "500ms",
            "-i",
        ],
        &plugin("probe"),
        &files.paths,
        &["chunked", "0", "onchunk", "4", "loop"],
    );
    r.assert_code(5);
    assert!(r.stderr.contains("timeout after 500 ms"), "{}", r.stderr);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    files.assert_unchanged();
}

#[test]
fn jobs_in_a_job_file_and_on_the_command_line() {
    let files = Files::new(&[40_000, 3, 60_000], 16, TEXTISH);
    let file_jobs = std::thread::available_parallelism().map_or(1, |n| n.get()) + 2;
    let job = files.dir.path().join("job.json");
    let out = files.dir.path().join("out");
    let inputs: Vec<String> = files
        .paths
        .iter()
        .map(|p| p.to_str().unwrap().to_string())
        .collect();
    std::fs::write(
        &job,
        serde_json::json!({
            "inputs": inputs,
            "write": {"output": out},
            "limits": {"jobs": file_jobs},
            "steps": [{"plugin": plugin("upper")}, {"plugin": plugin("count"), "args": ["A"]}]
        })
        .to_string(),
    )
    .unwrap();
    let expected = upper(&files.concat());
    // The thread counts differ from each other and from this machine's
    // default, so that `-v` shows which one was used: 100,003 bytes in
    // chunks of 9,999 bytes are 11 chunks, more than either count.
    let cmd_jobs = file_jobs + 1;
    let cmd_jobs_text = cmd_jobs.to_string();
    for (flags, threads) in [
        (vec!["--chunk-size", "9999", "--job"], file_jobs),
        (
            vec!["-j", &cmd_jobs_text, "--chunk-size", "9999", "--job"],
            cmd_jobs,
        ),
    ] {
        let mut c = mmhost();
        c.arg("-v").arg("run").args(&flags).arg(&job);
        let r: Run = c.output().unwrap().into();
        r.assert_ok();
        assert_eq!(
            r.stdout_str().trim(),
            count(&expected, b"A").to_string(),
            "{flags:?}"
        );
        assert!(std::fs::read(&out).unwrap() == expected);
        // Both steps ran in chunks, on the threads the job asked for.
        for step in ["upper", "count"] {
            let said = format!("mmhost: {step}: 11 chunks of up to 9999 bytes");
            let line = r.stderr.lines().find(|l| l.starts_with(&said));
            assert!(
                line.is_some_and(|l| l.ends_with(&format!(" on {threads} threads"))),
                "{flags:?} {step}: {}",
                r.stderr
            );
        }
    }
    // `jobs` must be at least 1.
    std::fs::write(
        &job,
        r#"{"inputs": ["x"], "limits": {"jobs": 0}, "steps": [{"plugin": "p.wasm"}]}"#,
    )
    .unwrap();
    let mut c = mmhost();
    let r: Run = c.arg("check").arg(&job).output().unwrap().into();
    r.assert_code(2);
    assert!(r.stderr.contains("limits.jobs"), "{}", r.stderr);
}
