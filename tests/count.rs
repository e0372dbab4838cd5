//! `region.count` (WIT 0.1.4): the host's count of one byte value over a
//! range of the region, driven through the `probe` plugin over real files
//! and compared with a plain count over the files' concatenation; its
//! bounds are those of `read` (out-of-range errors carry the offset, length
//! and size; any length is allowed; inside a chunk the read window applies).
//! Also: a plugin built against the 0.1.3 contract (kept in `wit/history/`)
//! still loads and calls what 0.1.3 offered.

mod common;

use common::{plugin, root, run, Files, TEXTISH};
use sha2::{Digest, Sha256};

/// A count call (at, len) and the range it resolves to, or `None` where it
/// is out of range.
type Case = (i64, u64, Option<(usize, usize)>);

fn occurrences(data: &[u8], byte: u8) -> usize {
    data.iter().filter(|&&b| b == byte).count()
}

#[test]
fn count_equals_a_plain_count_of_the_range_and_checks_bounds_as_read() {
    let files = Files::new(&[1000, 0, 70_000, 5, 3 << 20], 3, TEXTISH);
    let data = files.concat();
    let size = data.len() as i64;
    let s = size as usize;
    let cases: Vec<Case> = vec![
        (0, size as u64, Some((0, s))),
        (990, 200, Some((990, 1190))), // across the empty file's boundary
        (-5, 5, Some((s - 5, s))),
        (-70_010, 70_000, Some((s - 70_010, s - 10))),
        (size, 0, Some((s, s))),
        (0, 0, Some((0, 0))),
        (size - 1, 2, None),
        (-size - 1, 1, None),
        (0, size as u64 + 1, None),
        (5, 100 << 20, None), // past the read limit: out of range, not too-large
        (size + 1, 0, None),
    ];
    for byte in [b'\n', 0u8, 0xff, b'a', b'#'] {
        let mut args = Vec::new();
        for (at, len, _) in &cases {
            args.extend([
                "count".to_string(),
                format!("{byte:02x}"),
                at.to_string(),
                len.to_string(),
            ]);
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
                    format!("ok {}", occurrences(&data[*a..*b], byte)),
                    "count {byte:02x} {at} {len}"
                ),
                None => assert_eq!(
                    *got,
                    format!("err out-of-range at={at} len={len} size={size}"),
                    "count {byte:02x} {at} {len}"
                ),
            }
        }
    }
    // The byte `#` is not in the alphabet: a count of 0 is an answer too.
    assert_eq!(occurrences(&data, b'#'), 0);
    files.assert_unchanged();
}

#[test]
fn count_in_a_chunk_is_limited_to_its_read_window() {
    let files = Files::new(&[3000, 4000, 3000], 5, TEXTISH);
    let data = files.concat();
    let size = data.len();
    let args = [
        "chunked", "2", "count", "0a", "@lo", "@len", // inside the window
        "count", "0a", "@hi-1", "2", // one byte past it
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
            // @len is the chunk's own length (1000), counted from @lo.
            assert_eq!(
                l,
                format!("ok {}", occurrences(&data[lo..lo + 1000], b'\n')),
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
    assert_eq!(checked, 20, "two counts in each of 10 chunks: {out}");
}

/// A plugin written against `mmhost:plugin@0.1.3`: it asks the host for
/// the SHA-256 of the first 3 bytes (`region.digest`, new in 0.1.3) and
/// emits the 32 bytes; `run` returns `ok ""`.
const PLUGIN_0_1_3: &str = r#"(module
  (import "mmhost:plugin/region@0.1.3" "digest" (func $digest (param i32 i64 i64 i32)))
  (import "mmhost:plugin/output@0.1.3" "emit" (func $emit (param i32 i32)))
  (memory (export "memory") 1)
  (global $hp (mut i32) (i32.const 4096))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $hp) (i32.const 7)) (i32.const -8)))
    (global.set $hp (i32.add (local.get $p) (local.get 3)))
    (local.get $p))
  (func (export "run") (param i32 i32) (result i32)
    ;; result<list<u8>, error> at 64: tag, then the list at 64 + 8.
    (call $digest (i32.const 0) (i64.const 0) (i64.const 3) (i32.const 64))
    (if (i32.eqz (i32.load8_u (i32.const 64)))
      (then (call $emit (i32.load (i32.const 72)) (i32.load (i32.const 76)))))
    (i32.store8 (i32.const 0) (i32.const 0))
    (i32.store (i32.const 4) (i32.const 0))
    (i32.store (i32.const 8) (i32.const 0))
    (i32.const 0))
)"#;

#[test]
fn plugins_built_against_0_1_3_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "abcdef").unwrap();
    let wit = std::fs::read_to_string(root().join("wit/history/mmhost@0.1.3.wit")).unwrap();
    let mut resolve = wit_parser::Resolve::default();
    let pkg = resolve.push_str("mmhost@0.1.3.wit", &wit).unwrap();
    let world = resolve.select_world(&[pkg], Some("transform")).unwrap();
    let mut module = wat::parse_str(PLUGIN_0_1_3).unwrap();
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .unwrap();
    let component = wit_component::ComponentEncoder::default()
        .module(&module)
        .unwrap()
        .validate(true)
        .encode()
        .unwrap();
    let contains = |needle: &[u8]| component.windows(needle.len()).any(|w| w == needle);
    assert!(contains(b"mmhost:plugin/region@0.1.3"));
    assert!(!contains(b"@0.1.4"));
    let old = dir.path().join("old.wasm");
    std::fs::write(&old, &component).unwrap();
    let r = run(&[], &old, std::slice::from_ref(&input), &[]);
    r.assert_ok();
    assert_eq!(r.stdout, Sha256::digest(b"abc").to_vec());
}

/// A count is not bounded by the 64 MiB read limit: one call over a sparse
/// file of 80 MiB (zeros, then a newline), where a read of that length is
/// `too-large`.
#[test]
fn count_has_no_length_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sparse.bin");
    let len: u64 = 80 << 20;
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(len - 1).unwrap();
    drop(f);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut f, b"\n").unwrap();
    drop(f);
    let all = len.to_string();
    let r = run(
        &[],
        &plugin("probe"),
        std::slice::from_ref(&path),
        &[
            "count", "00", "0", &all, "count", "0a", "-1", "1", "read", "0", &all,
        ],
    );
    r.assert_ok();
    let out = r.stdout_str();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("ok {}", len - 1), "{out}");
    assert_eq!(lines[1], "ok 1", "{out}");
    assert!(lines[2].starts_with("err too-large"), "{out}");
}
