//! Property tests of offset resolution, the segment table and a real mapped
//! region, always checked against a plain in-memory concatenation.
//!
//! Deterministic: a fixed seed and a fixed number of cases (no failure
//! persistence files), so CI runs the same cases every time. Random file
//! sizes lean on the edges that matter to the layout: 0, the page size ± 1,
//! the packing threshold (64 KiB) ± 1 and 2 MiB ± 1.

use std::path::PathBuf;

use mmhost::region::layout::{resolve, Layout, LayoutError, LayoutParams};
use mmhost::region::{
    open_inputs, Access, AccessError, InputFile, OutOfRange, Placement, Region, Stage, WriteError,
    MAX_READ,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x6d6d_686f_7374),
        ..Config::default()
    }
}

/// The model of `resolve`: exact arithmetic in i128.
fn model_resolve(size: u64, at: i64, len: u64) -> Option<u64> {
    let start = if at >= 0 {
        i128::from(at)
    } else {
        i128::from(size) + i128::from(at)
    };
    (start >= 0 && start + i128::from(len) <= i128::from(size)).then_some(start as u64)
}

/// Offsets near the interesting places of a region of `size` bytes, both
/// ways of counting, and the extremes.
fn offset(size: u64) -> impl Strategy<Value = i64> {
    let s = size as i64;
    prop_oneof![
        4 => -(s + 3)..=(s + 3),
        1 => prop_oneof![Just(0i64), Just(-1), Just(s), Just(-s), Just(s + 1), Just(-s - 1)],
        1 => prop_oneof![Just(i64::MIN), Just(i64::MIN + 1), Just(i64::MAX), Just(i64::MAX - 1)],
    ]
}

fn length(size: u64) -> impl Strategy<Value = u64> {
    prop_oneof![
        6 => 0..=(size + 2).min(5000),
        2 => 0..=size + 1,
        1 => prop_oneof![
            Just(u64::MAX),
            Just(u64::MAX - 1),
            Just(u32::MAX as u64),
            Just(MAX_READ),
            Just(MAX_READ + 1),
            Just(1u64 << 63),
        ],
    ]
}

fn file_len(page: u64) -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => prop_oneof![
            Just(0u64),
            Just(1),
            Just(page - 1),
            Just(page),
            Just(page + 1),
            Just(64 * KIB - 1),
            Just(64 * KIB),
            Just(64 * KIB + 1),
            Just(2 * MIB - 1),
            Just(2 * MIB),
            Just(2 * MIB + 1),
        ],
        3 => 0..300 * KIB,
        1 => 0..100u64,
    ]
}

proptest! {
    #![proptest_config(config(20_000))]

    /// `resolve` agrees with exact arithmetic for every size, offset and
    /// length, including the extremes of both types.
    #[test]
    fn resolve_matches_exact_arithmetic(
        size in prop_oneof![0..10_000u64, Just(u64::MAX), Just(i64::MAX as u64), any::<u64>()],
        at in prop_oneof![any::<i64>(), -10_010..10_010i64, Just(i64::MIN), Just(i64::MAX)],
        len in prop_oneof![any::<u64>(), 0..10_010u64, Just(u64::MAX)],
    ) {
        let want = model_resolve(size, at, len).ok_or(OutOfRange { at, len, size });
        prop_assert_eq!(resolve(size, at, len), want);
    }
}

/// Random layout tunables: this machine's page size or larger ones, packing
/// off or on, and mapping budgets small enough to force packing.
fn params() -> impl Strategy<Value = LayoutParams> {
    (
        prop_oneof![Just(4096u64), Just(16 * KIB), Just(64 * KIB)],
        prop_oneof![Just(0u64), Just(1), Just(64 * KIB), Just(8 * KIB)],
        prop_oneof![2..12usize, Just(1000)],
        prop_oneof![Just(0u64), Just(MIB), Just(1 << 30)],
    )
        .prop_map(
            |(page, pack_below, max_mappings, max_packed_bytes)| LayoutParams {
                page,
                huge: 2 * MIB,
                pack_below,
                max_mappings,
                max_packed_bytes,
            },
        )
}

fn round_up(x: u64, to: u64) -> u64 {
    x.div_ceil(to) * to
}

proptest! {
    #![proptest_config(config(4096))]

    /// The plan places every file where the mapping rules allow, and the
    /// pieces of any range, read through the slots, are exactly the bytes of
    /// the concatenation.
    #[test]
    fn layout_is_a_faithful_concatenation(
        (p, lens, ranges) in params().prop_flat_map(|p| {
            (Just(p), prop::collection::vec(file_len(p.page), 0..10))
        }).prop_flat_map(|(p, lens)| {
            let size: u64 = lens.iter().sum();
            let range = (0..=size).prop_flat_map(move |start| (Just(start), 0..=size - start));
            (Just(p), Just(lens), prop::collection::vec(range, 1..20))
        })
    ) {
        let layout = match Layout::plan(&lens, &p) {
            Ok(l) => l,
            // Only a tight budget may be refused, and only with no room left
            // to pack.
            Err(LayoutError::TooManyMappings { limit, .. }) => {
                prop_assert!(limit < 1000);
                return Ok(());
            }
            Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
        };
        let size: u64 = lens.iter().sum();
        prop_assert_eq!(layout.size(), size);
        prop_assert!(layout.mappings() <= p.max_mappings);
        let slots = layout.slots();
        prop_assert_eq!(slots.len(), lens.len());
        let mut start = 0;
        for (s, &len) in slots.iter().zip(&lens) {
            prop_assert_eq!((s.start, s.len), (start, len));
            start += len;
            prop_assert_eq!(s.placement == Placement::Empty, len == 0);
            prop_assert!(s.addr + s.len <= layout.span());
            if s.placement == Placement::Mapped {
                // mmap needs a page-aligned address, and every page of a
                // mapped file is its own (the kernel fills the last one past
                // EOF): no other file's bytes, mapped or packed, may share
                // one of them.
                prop_assert_eq!(s.addr % p.page, 0);
                let pages = |a: u64, l: u64| (a / p.page * p.page, round_up(a + l, p.page));
                let (lo, hi) = pages(s.addr, s.len);
                for o in slots.iter().filter(|o| o.len > 0 && !std::ptr::eq(*o, s)) {
                    let (olo, ohi) = pages(o.addr, o.len);
                    prop_assert!(ohi <= lo || olo >= hi, "{:?} shares a page with {:?}", o, s);
                }
            }
        }
        // Non-empty slots never overlap in memory.
        let mut by_addr: Vec<_> = slots.iter().filter(|s| s.len > 0).collect();
        by_addr.sort_by_key(|s| s.addr);
        for w in by_addr.windows(2) {
            prop_assert!(w[0].addr + w[0].len <= w[1].addr);
        }
        // Through the slots, every byte of every piece is the global offset
        // the concatenation has there.
        let owner = |addr: u64| -> Option<u64> {
            let i = by_addr.partition_point(|s| s.addr + s.len <= addr);
            let s = by_addr.get(i)?;
            (s.addr <= addr).then(|| s.start + (addr - s.addr))
        };
        for (start, len) in ranges {
            let mut expect = start;
            for (addr, n) in layout.pieces(start, len) {
                prop_assert!(n > 0);
                // Check both ends and the middle of each piece.
                for k in [0, n as u64 / 2, n as u64 - 1] {
                    prop_assert_eq!(owner(addr + k), Some(expect + k));
                }
                expect += n as u64;
            }
            prop_assert_eq!(expect, start + len, "pieces of {}+{}", start, len);
        }
    }
}

/// One access of the plugin API, as the region and the model both see it.
#[derive(Debug, Clone)]
enum Op {
    Read(i64, u64),
    Write(i64, u64, u8),
    Locate(u32, i64),
}

fn ops(size: u64, segments: u32) -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        4 => (offset(size), length(size)).prop_map(|(at, len)| Op::Read(at, len)),
        3 => (offset(size), length(size), any::<u8>()).prop_map(|(at, len, b)| Op::Write(at, len, b)),
        1 => (0..segments + 2, offset(size)).prop_map(|(s, d)| Op::Locate(s, d)),
    ];
    prop::collection::vec(op, 1..40)
}

fn files_and_ops() -> impl Strategy<Value = (Vec<u64>, u8, Vec<Op>)> {
    (prop::collection::vec(file_len(4096), 1..7), 0..3u8).prop_flat_map(|(lens, mode)| {
        let size: u64 = lens.iter().sum();
        let n = lens.len() as u32;
        (Just(lens), Just(mode), ops(size, n))
    })
}

/// The model's answer to a write: `None` if it is refused.
fn model_write(model: &mut [u8], writable: bool, at: i64, data: &[u8]) -> Result<(), AccessError> {
    if !writable {
        return Err(AccessError::ReadOnly);
    }
    let size = model.len() as u64;
    let len = data.len() as u64;
    let start = model_resolve(size, at, len).ok_or(AccessError::OutOfRange(OutOfRange {
        at,
        len,
        size,
    }))?;
    model[start as usize..(start + len) as usize].copy_from_slice(data);
    Ok(())
}

/// Stages copies as `copy<index>` in a directory, as the commit layer does
/// beside the files.
struct TestStage(PathBuf);

impl Stage for TestStage {
    fn stage(&mut self, index: usize, input: &InputFile) -> mmhost::Result<std::fs::File> {
        let path = self.0.join(format!("copy{index}"));
        let dst = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        // The new version starts as holes: the region fills it in.
        dst.set_len(input.len).unwrap();
        Ok(dst)
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// Real files mapped into a real region (read-only, in place with this
    /// machine's layout, or in place with everything mapped): every read,
    /// write and locate gives what the concatenation gives, and after a
    /// flush the files hold exactly the model's bytes.
    #[test]
    fn mapped_region_matches_concatenation((lens, mode, ops) in files_and_ops()) {
        let dir = tempfile::tempdir().unwrap();
        let mut paths: Vec<PathBuf> = Vec::new();
        let mut model: Vec<u8> = Vec::new();
        for (i, &len) in lens.iter().enumerate() {
            let data: Vec<u8> = (0..len).map(|k| (k as u8).wrapping_mul(31) ^ (i as u8 * 17 + 1)).collect();
            let p = dir.path().join(format!("f{i}"));
            std::fs::write(&p, &data).unwrap();
            paths.push(p);
            model.extend_from_slice(&data);
        }
        let writable = mode != 0;
        let inputs = open_inputs(&paths, writable).unwrap();
        let mut params = LayoutParams::for_this_machine();
        if mode == 2 {
            // Map every non-empty file, however small: more extents, more
            // boundaries between them.
            params.pack_below = 1;
        }
        let access = if writable {
            Access::CopyOnWrite(Box::new(TestStage(dir.path().to_path_buf())))
        } else {
            Access::ReadOnly
        };
        let region = Region::open_with(inputs, access, &params).unwrap();
        let size = model.len() as u64;
        prop_assert_eq!(region.size(), size);
        let starts: Vec<u64> = lens.iter().scan(0, |acc, &l| { let s = *acc; *acc += l; Some(s) }).collect();
        for op in ops {
            match op {
                Op::Read(at, len) => {
                    let want = match model_resolve(size, at, len) {
                        None => Err(AccessError::OutOfRange(OutOfRange { at, len, size })),
                        Some(_) if len > MAX_READ => Err(AccessError::TooLarge { limit: MAX_READ }),
                        Some(s) => Ok(model[s as usize..(s + len) as usize].to_vec()),
                    };
                    prop_assert!(region.read(at, len) == want, "read {} {}", at, len);
                }
                Op::Write(at, len, byte) => {
                    // Huge lengths are out of range before any allocation.
                    let len = len.min(size + 1);
                    let data = vec![byte; len as usize];
                    let want = model_write(&mut model, writable, at, &data);
                    let got = region.write(at, &data).map_err(|e| match e {
                        WriteError::Access(a) => a,
                        WriteError::Stage(e) => panic!("staging failed: {e}"),
                    });
                    prop_assert_eq!(got, want, "write {} {}", at, len);
                }
                Op::Locate(seg, delta) => {
                    let want = match starts.get(seg as usize) {
                        None => Err(AccessError::NoSuchSegment { count: lens.len() as u32 }),
                        Some(&s) => {
                            let g = i128::from(s) + i128::from(delta);
                            if (0..=i128::from(size)).contains(&g) {
                                Ok(g as u64)
                            } else {
                                Err(AccessError::OutOfRange(OutOfRange { at: delta, len: 0, size }))
                            }
                        }
                    };
                    prop_assert_eq!(region.locate(seg, delta), want);
                }
            }
        }
        prop_assert!(region.to_vec() == model);
        // The originals never change; each written file's new version (its
        // staged copy, or its packed bytes) is exactly the model's part.
        let mut pos = 0usize;
        for (i, (p, &len)) in paths.iter().zip(&lens).enumerate() {
            let part = &model[pos..pos + len as usize];
            let copy = dir.path().join(format!("copy{i}"));
            if region.finish_staged(i).unwrap() {
                prop_assert!(std::fs::read(&copy).unwrap() == part, "{:?}", p);
            } else if region.is_written(i) {
                region.write_input_to(i, &std::fs::File::create(&copy).unwrap()).unwrap();
                prop_assert!(std::fs::read(&copy).unwrap() == part, "{:?}", p);
            }
            let original: Vec<u8> = (0..len).map(|k| (k as u8).wrapping_mul(31) ^ (i as u8 * 17 + 1)).collect();
            prop_assert!(std::fs::read(p).unwrap() == original, "{:?} changed", p);
            pos += len as usize;
        }
    }
}
