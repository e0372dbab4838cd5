//! Global, negative and file-relative offsets, checked through the `probe`
//! test plugin against a plain in-memory model of the concatenation.

mod common;

use std::path::PathBuf;

use common::*;

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the probe should print for an access, computed from the model.
fn resolve(size: u64, at: i64, len: u64) -> Option<usize> {
    let start = if at >= 0 {
        at as u64
    } else {
        size.checked_sub(at.unsigned_abs())?
    };
    (start <= size && len <= size - start).then_some(start as usize)
}

fn out_of_range(at: i64, len: u64, size: usize) -> String {
    format!("err out-of-range at={at} len={len} size={size}")
}

/// Random reads and writes (straddling boundaries on purpose) in one run,
/// each answer compared with the model; then the files are compared too.
#[test]
fn random_access_across_boundaries() {
    let probe = plugin("probe");
    let mut rng = Rng(77);
    for (set, lens) in size_sets().iter().enumerate() {
        let files = Files::new(lens, 900 + set as u64, TEXTISH);
        let mut model = files.concat();
        let size = model.len();
        // Offsets of interest: every boundary and its neighbours.
        let mut marks = vec![0usize, size];
        let mut pos = 0;
        for c in &files.contents {
            pos += c.len();
            marks.extend([pos.saturating_sub(1), pos, pos + 1]);
        }
        let mut args: Vec<String> = Vec::new();
        let mut want: Vec<String> = Vec::new();
        for _ in 0..60 {
            let base = marks[rng.below(marks.len() as u64) as usize];
            let start = base.saturating_sub(rng.below(5) as usize);
            let len = rng.below(9) as usize;
            let negative = rng.below(2) == 0 && start < size;
            let at: i64 = if negative {
                start as i64 - size as i64
            } else {
                start as i64
            };
            let expect_start = resolve(size as u64, at, len as u64);
            if rng.below(3) == 0 {
                let data = rng.bytes(len, TEXTISH);
                args.extend(["write".into(), at.to_string(), hex(&data)]);
                want.push(match expect_start {
                    Some(s) => {
                        model[s..s + len].copy_from_slice(&data);
                        "ok".into()
                    }
                    None => out_of_range(at, len as u64, size),
                });
            } else {
                args.extend(["read".into(), at.to_string(), len.to_string()]);
                want.push(match expect_start {
                    Some(s) => format!("ok {}", hex(&model[s..s + len])),
                    None => out_of_range(at, len as u64, size),
                });
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = run(&["--in-place"], &probe, &files.paths, &args);
        r.assert_ok();
        let got: Vec<String> = r.stdout_str().lines().map(str::to_string).collect();
        assert_eq!(got, want, "sizes {lens:?}");
        files.assert_concat_is(&model);
    }
}

#[test]
fn edges_of_every_kind() {
    let files = Files::new(&[3, 0, 4], 5, TEXTISH);
    let all = files.concat();
    let size = all.len() as i64; // 7
    let r = run(
        &[],
        &plugin("probe"),
        &files.paths,
        &[
            "read",
            "0",
            "1",
            "read",
            "-1",
            "1",
            "read",
            "7",
            "0",
            "read",
            "7",
            "1",
            "read",
            "8",
            "0",
            "read",
            "-7",
            "7",
            "read",
            "-8",
            "1",
            "read",
            &i64::MIN.to_string(),
            "0",
            "read",
            &i64::MAX.to_string(),
            "1",
            "read",
            "0",
            &u32::MAX.to_string(),
            "read",
            "0",
            &u64::MAX.to_string(),
            "read",
            "0",
            "67108865",
            "write",
            "0",
            "41",
            "size",
            "writable",
        ],
    );
    r.assert_ok();
    let lines: Vec<&str> = r.stdout_str().leak().lines().collect();
    assert_eq!(lines[0], format!("ok {}", hex(&all[..1])));
    assert_eq!(lines[1], format!("ok {}", hex(&all[6..])));
    assert_eq!(lines[2], "ok ");
    assert_eq!(lines[3], out_of_range(7, 1, 7));
    assert_eq!(lines[4], out_of_range(8, 0, 7));
    assert_eq!(lines[5], format!("ok {}", hex(&all)));
    assert_eq!(lines[6], out_of_range(-8, 1, 7));
    assert_eq!(lines[7], out_of_range(i64::MIN, 0, 7));
    assert_eq!(lines[8], out_of_range(i64::MAX, 1, 7));
    assert_eq!(lines[9], out_of_range(0, u32::MAX as u64, 7));
    assert_eq!(lines[10], out_of_range(0, u64::MAX, 7));
    assert_eq!(lines[11], out_of_range(0, 67108865, 7));
    assert_eq!(lines[12], "err read-only");
    assert_eq!(lines[13], format!("size {size}"));
    assert_eq!(lines[14], "writable false");
    files.assert_unchanged();
}

#[test]
fn segments_and_file_relative_offsets() {
    let files = Files::new(&[4097, 0, 10, 2 * MIB + 1], 6, TEXTISH);
    let all = files.concat();
    let r = run(
        &[],
        &plugin("probe"),
        &files.paths,
        &[
            "segments", "locate", "2", "0", "locate", "2", "-1", "locate", "2", "-4097", "locate",
            "2", "-4098", "locate", "3", "2097153", "locate", "3", "2097154", "locate", "1", "0",
            "locate", "4", "0",
        ],
    );
    r.assert_ok();
    let out = r.stdout_str();
    let lines: Vec<&str> = out.lines().collect();
    let mut start = 0;
    for (i, (p, c)) in files.paths.iter().zip(&files.contents).enumerate() {
        assert_eq!(lines[i], format!("seg {} {start} {}", p.display(), c.len()));
        start += c.len();
    }
    assert_eq!(
        &lines[4..],
        [
            "ok 4097",
            "ok 4096",
            "ok 0",
            &out_of_range(-4098, 0, all.len()),
            &format!("ok {}", all.len()),
            &out_of_range(2097154, 0, all.len()),
            "ok 4097",
            "err no-such-segment count=4",
        ]
    );
}

/// Files over 4 GiB, made sparse so the test costs no disk: offsets past
/// 2^32 resolve exactly, from the front, the end and relative to a file.
#[test]
fn files_over_4_gib() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.sparse");
    let small = dir.path().join("small.txt");
    let five_gib: u64 = 5 << 30;
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(five_gib + 3).unwrap(); // not a page multiple: own slot next
        f.write_all_at(b"HEAD", 0).unwrap();
        f.write_all_at(b"ABOVE4G", (4 << 30) + 5).unwrap();
        f.write_all_at(b"END", five_gib).unwrap();
    }
    std::fs::write(&small, b"tail!").unwrap();
    let files: Vec<PathBuf> = vec![big.clone(), small.clone()];
    let size = five_gib + 3 + 5;
    let r = run(
        &["--in-place"],
        &plugin("probe"),
        &files,
        &[
            "size",
            "read",
            "0",
            "4",
            "read",
            &((4u64 << 30) + 5).to_string(),
            "7",
            "read",
            "-8",
            "8",
            "locate",
            "1",
            "-3",
            "write",
            &(five_gib + 1).to_string(),
            "7a7a7a7a", // straddles into small.txt
            "read",
            &(-(size as i64)).to_string(),
            "2",
            "read",
            "0",
            "67108865",
        ],
    );
    r.assert_ok();
    let out = r.stdout_str();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("size {size}"));
    assert_eq!(lines[1], format!("ok {}", hex(b"HEAD")));
    assert_eq!(lines[2], format!("ok {}", hex(b"ABOVE4G")));
    assert_eq!(lines[3], format!("ok {}", hex(b"ENDtail!")));
    assert_eq!(lines[4], format!("ok {five_gib}"));
    assert_eq!(lines[5], "ok");
    assert_eq!(lines[6], format!("ok {}", hex(b"HE")));
    // In range, but more than one read may return.
    assert_eq!(lines[7], "err too-large limit=67108864");
    assert_eq!(std::fs::read(&small).unwrap(), b"zzil!");
    use std::os::unix::fs::FileExt;
    let mut end = [0u8; 3];
    std::fs::File::open(&big)
        .unwrap()
        .read_exact_at(&mut end, five_gib)
        .unwrap();
    assert_eq!(&end, b"Ezz");
}

/// The model of `find`: non-overlapping occurrences inside [start, end).
fn model_find(hay: &[u8], pat: &[u8], start: usize, end: usize, limit: usize) -> Vec<usize> {
    let mut out = Vec::new();
    if pat.is_empty() {
        return out;
    }
    let mut i = start;
    while out.len() < limit && i + pat.len() <= end {
        if &hay[i..i + pat.len()] == pat {
            out.push(i);
            i += pat.len();
        } else {
            i += 1;
        }
    }
    out
}

/// Host-side `find` against the model, over every size set, with patterns
/// long and short, ranges cut at and around file boundaries, and limits.
#[test]
fn find_matches_the_model_across_boundaries() {
    let probe = plugin("probe");
    let mut rng = Rng(4242);
    for (set, lens) in size_sets().iter().enumerate() {
        // Two letters: dense, overlapping, straddling matches everywhere.
        let files = Files::new(lens, 1300 + set as u64, b"ab");
        let all = files.concat();
        let size = all.len();
        let mut args: Vec<String> = Vec::new();
        let mut want: Vec<String> = Vec::new();
        for _ in 0..40 {
            let plen = 1 + rng.below(12) as usize;
            let pat: Vec<u8> = if size >= plen && rng.below(2) == 0 {
                let at = rng.below((size - plen + 1) as u64) as usize;
                all[at..at + plen].to_vec() // certainly present
            } else {
                rng.bytes(plen, b"ab")
            };
            let start = rng.below(size as u64 + 1) as usize;
            let end = start + rng.below((size - start) as u64 + 1) as usize;
            let limit = [1usize, 2, 7, 1000][rng.below(4) as usize];
            args.extend([
                "find".to_string(),
                hex(&pat),
                start.to_string(),
                end.to_string(),
                limit.to_string(),
            ]);
            let hits: Vec<String> = model_find(&all, &pat, start, end, limit)
                .iter()
                .map(usize::to_string)
                .collect();
            want.push(format!("ok {}", hits.join(" ")).trim_end().to_string());
        }
        // Errors: a range past the end, reversed, an empty pattern.
        args.extend(
            [
                "find",
                "61",
                &(size + 1).to_string(),
                &(size + 1).to_string(),
                "1",
            ]
            .map(String::from),
        );
        want.push(format!(
            "err out-of-range at={} len=0 size={size}",
            size + 1
        ));
        args.extend(["find", "61", "1", "0", "1"].map(String::from));
        want.push(format!("err out-of-range at=1 len=0 size={size}"));
        args.extend(["find", "", "0", &size.to_string(), "5"].map(String::from));
        want.push("ok".to_string());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = run(&[], &probe, &files.paths, &args);
        r.assert_ok();
        let got: Vec<String> = r.stdout_str().lines().map(str::to_string).collect();
        assert_eq!(got, want, "sizes {lens:?}");
    }
}
