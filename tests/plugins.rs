//! The reference plugins, run by the real binary over real files, checked
//! against plain in-memory computations over the concatenation.

mod common;

use common::*;
use sha2::{Digest, Sha256};

#[test]
fn checksum_matches_sha256_of_concatenation() {
    let plugin = plugin("checksum");
    for (i, lens) in size_sets().iter().enumerate() {
        let files = Files::new(lens, 100 + i as u64, TEXTISH);
        let all = files.concat();
        let want = format!("{:x} {}\n", Sha256::digest(&all), all.len());
        let r = run(&[], &plugin, &files.paths, &[]);
        r.assert_ok();
        assert_eq!(r.stdout_str(), want, "sizes {lens:?}");
        files.assert_unchanged();
    }
}

#[test]
fn count_matches_python_semantics_across_boundaries() {
    let plugin = plugin("count");
    for (i, lens) in size_sets().iter().enumerate() {
        // A two-letter alphabet makes matches frequent, overlapping and
        // straddling every file boundary.
        let files = Files::new(lens, 200 + i as u64, b"ab");
        let all = files.concat();
        for pat in [
            "a",
            "ab",
            "aba",
            "abba",
            "bbbbbbbbbb",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            let r = run(&[], &plugin, &files.paths, &[pat]);
            r.assert_ok();
            assert_eq!(
                r.stdout_str().trim(),
                count(&all, pat.as_bytes()).to_string(),
                "pattern {pat:?}, sizes {lens:?}"
            );
        }
        files.assert_unchanged();
    }
}

#[test]
fn count_finds_a_match_split_over_many_files() {
    // "needle" spelled over six one-byte files and a page-sized neighbour.
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    let mut parts: Vec<Vec<u8>> = vec![vec![b'x'; 4095]];
    parts[0].extend_from_slice(b"ne");
    parts.extend("edle".bytes().map(|b| vec![b]));
    parts.push(b"needle!".to_vec());
    for (i, p) in parts.iter().enumerate() {
        let path = dir.path().join(format!("p{i}"));
        std::fs::write(&path, p).unwrap();
        paths.push(path);
    }
    let r = run(&[], &plugin("count"), &paths, &["needle"]);
    r.assert_ok();
    assert_eq!(r.stdout_str().trim(), "2");
}

#[test]
fn tail_emits_last_bytes_through_negative_offset() {
    let plugin = plugin("tail");
    for (i, lens) in size_sets().iter().enumerate() {
        let files = Files::new(lens, 300 + i as u64, TEXTISH);
        let all = files.concat();
        for n in [
            0usize,
            1,
            4096,
            all.len().saturating_sub(1),
            all.len(),
            all.len() + 10,
        ] {
            let r = run(&[], &plugin, &files.paths, &[&n.to_string()]);
            r.assert_ok();
            let want = &all[all.len() - n.min(all.len())..];
            assert!(r.stdout == want, "tail {n} of sizes {lens:?}");
        }
    }
}

#[test]
fn upper_in_place_transforms_each_file() {
    let plugin = plugin("upper");
    for (i, lens) in size_sets().iter().enumerate() {
        let files = Files::new(lens, 400 + i as u64, TEXTISH);
        let r = run(&["--in-place"], &plugin, &files.paths, &[]);
        r.assert_ok();
        assert!(r.stdout.is_empty());
        files.assert_concat_is(&upper(&files.concat()));
    }
}

#[test]
fn upper_to_output_leaves_inputs_untouched() {
    let plugin = plugin("upper");
    for (i, lens) in size_sets().iter().enumerate() {
        let files = Files::new(lens, 500 + i as u64, TEXTISH);
        let out = files.dir.path().join("out.txt");
        let r = run(&["-o", out.to_str().unwrap()], &plugin, &files.paths, &[]);
        r.assert_ok();
        assert!(
            std::fs::read(&out).unwrap() == upper(&files.concat()),
            "sizes {lens:?}"
        );
        files.assert_unchanged();
        // No temporary file is left behind.
        let leftovers: Vec<_> = std::fs::read_dir(files.dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".mmhost-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}

#[test]
fn reverse_in_place_reverses_the_concatenation() {
    let plugin = plugin("reverse");
    for (i, lens) in size_sets().iter().enumerate() {
        let files = Files::new(lens, 600 + i as u64, TEXTISH);
        let mut want = files.concat();
        want.reverse();
        let r = run(&["--in-place"], &plugin, &files.paths, &[]);
        r.assert_ok();
        files.assert_concat_is(&want);
    }
}

#[test]
fn writes_are_refused_without_a_write_target() {
    let files = Files::new(&[10, 4097], 7, TEXTISH);
    let r = run(&[], &plugin("upper"), &files.paths, &[]);
    r.assert_code(1);
    assert!(r.stderr.contains("read-only"), "{}", r.stderr);
    files.assert_unchanged();
}

#[test]
fn core_module_and_component_give_the_same_result() {
    // The host wraps a bare core module at load time.
    let core = root().join("plugins/target/wasm32-unknown-unknown/release/checksum.wasm");
    let _ = plugins();
    let files = Files::new(&[4097, 3], 9, TEXTISH);
    let a = run(&[], &core, &files.paths, &[]);
    let b = run(&[], &plugin("checksum"), &files.paths, &[]);
    a.assert_ok();
    b.assert_ok();
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn many_small_files() {
    // 100,000 files of 0..=99 bytes: more than the open-file limit and the
    // mapping limit allow one each of; packed, they cost one mapping.
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(42);
    let mut all = Vec::new();
    let mut names = Vec::new();
    for i in 0..100_000 {
        let len = rng.below(100) as usize;
        let data = rng.bytes(len, TEXTISH);
        let name = format!("f{i}");
        std::fs::write(dir.path().join(&name), &data).unwrap();
        all.extend_from_slice(&data);
        names.push(name);
    }
    let out = mmhost()
        .current_dir(dir.path())
        .arg("run")
        .arg(plugin("checksum"))
        .args(&names)
        .output()
        .unwrap();
    let r = Run::from(out);
    r.assert_ok();
    assert_eq!(
        r.stdout_str(),
        format!("{:x} {}\n", Sha256::digest(&all), all.len())
    );
}
