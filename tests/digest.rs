//! `region.digest` (WIT 0.1.3): the host's SHA-256 of a range of the
//! region, driven through the `probe` plugin over real files and compared
//! with coreutils `sha256sum` of the same bytes (cut from the plain
//! concatenation); its bounds are those of `read`: out-of-range errors
//! carry the offset, length and size, any length is allowed, and inside a
//! chunk the read window applies.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{plugin, run, Files, TEXTISH};

/// `sha256sum` of `data` on stdin, as lower-case hex.
fn coreutils_sha256(data: &[u8]) -> String {
    let mut c = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum (coreutils) is needed by this test");
    c.stdin.take().unwrap().write_all(data).unwrap();
    let o = c.wait_with_output().unwrap();
    assert!(o.status.success());
    String::from_utf8(o.stdout).unwrap()[..64].to_string()
}

/// A digest call (at, len) and the range it resolves to, or `None` where it
/// is out of range.
type Case = (i64, u64, Option<(usize, usize)>);

#[test]
fn digest_equals_sha256sum_of_the_range_and_checks_bounds_as_read() {
    let files = Files::new(&[1000, 0, 70_000, 5], 3, TEXTISH);
    let data = files.concat();
    let size = data.len() as i64;
    let cases: Vec<Case> = vec![
        (0, size as u64, Some((0, size as usize))),
        (990, 200, Some((990, 1190))), // across the empty file's boundary
        (-5, 5, Some((size as usize - 5, size as usize))),
        (
            -70_010,
            70_000,
            Some((size as usize - 70_010, size as usize - 10)),
        ),
        (size, 0, Some((size as usize, size as usize))),
        (size - 1, 2, None),
        (-size - 1, 1, None),
        (0, size as u64 + 1, None),
        (5, 100 << 20, None), // past the read limit: out of range, not too-large
        (size + 1, 0, None),
    ];
    let mut args = Vec::new();
    for (at, len, _) in &cases {
        args.extend(["digest".to_string(), at.to_string(), len.to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run(&[], &plugin("probe"), &files.paths, &args);
    r.assert_ok();
    let out = r.stdout_str();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), cases.len(), "{out}");
    for ((at, len, want), got) in cases.iter().zip(&lines) {
        match want {
            Some((a, b)) => assert_eq!(
                *got,
                format!("ok {}", coreutils_sha256(&data[*a..*b])),
                "digest {at} {len}"
            ),
            None => assert_eq!(
                *got,
                format!("err out-of-range at={at} len={len} size={size}"),
                "digest {at} {len}"
            ),
        }
    }
    files.assert_unchanged();
}

#[test]
fn digest_in_a_chunk_is_limited_to_its_read_window() {
    let files = Files::new(&[3000, 4000, 3000], 5, TEXTISH);
    let data = files.concat();
    let size = data.len();
    let args = [
        "chunked", "2", "digest", "@lo", "4", // inside the window
        "digest", "@hi-1", "2", // one byte past it
    ];
    let r = run(
        &["-j", "2", "--chunk-size", "1000"],
        &plugin("probe"),
        &files.paths,
        &args,
    );
    r.assert_ok();
    let out = r.stdout_str();
    assert!(out.ends_with("chunks 10\n"), "{out}");
    let mut chunk = None;
    let mut seen = 0;
    let mut checked = 0;
    for l in out.lines() {
        if let Some(k) = l.strip_prefix("chunk ") {
            chunk = Some(k.parse::<usize>().unwrap());
            seen = 0;
            continue;
        }
        let Some(k) = chunk else { continue };
        if l.starts_with("chunks ") {
            break;
        }
        let lo = (k * 1000).saturating_sub(2);
        let hi = ((k + 1) * 1000 + 2).min(size);
        if seen == 0 {
            assert_eq!(
                l,
                format!("ok {}", coreutils_sha256(&data[lo..lo + 4])),
                "chunk {k}"
            );
        } else {
            assert_eq!(
                l,
                format!("err out-of-range at={} len=2 size={size}", hi - 1),
                "chunk {k}"
            );
        }
        seen += 1;
        checked += 1;
    }
    assert_eq!(checked, 20, "two digests in each of 10 chunks: {out}");
}
