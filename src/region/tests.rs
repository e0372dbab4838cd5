//! Tests of the whole region against a plain concatenation of its files.

use super::*;
use crate::error::ErrorKind;
use std::io::Write;
use std::os::unix::fs::FileExt;

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

fn make_files(dir: &Path, lens: &[u64], rng: &mut Rng) -> (Vec<PathBuf>, Vec<Vec<u8>>) {
    let mut paths = Vec::new();
    let mut contents = Vec::new();
    for (i, &len) in lens.iter().enumerate() {
        let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let p = dir.join(format!("f{i}"));
        std::fs::File::create(&p).unwrap().write_all(&data).unwrap();
        paths.push(p);
        contents.push(data);
    }
    (paths, contents)
}

use std::path::PathBuf;

/// Stages copies as `copy<index>` in a directory.
struct TestStage(PathBuf);

impl Stage for TestStage {
    fn stage(&mut self, index: usize, input: &InputFile) -> Result<File> {
        let path = self.0.join(format!("copy{index}"));
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        f.set_len(input.len).unwrap();
        Ok(f)
    }
}

/// Random file sets, random reads and writes, always checked against a
/// plain in-memory concatenation; then the files themselves are checked
/// after a flush.
#[test]
fn random_access_matches_concatenation() {
    let page = rustix::param::page_size() as u64;
    let interesting = [
        0,
        1,
        page - 1,
        page,
        page + 1,
        (64 << 10) - 1,
        64 << 10,
        (64 << 10) + 1,
        (2 << 20) - 1,
        (2 << 20) + 1,
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..12 {
        let dir = tempfile::tempdir().unwrap();
        let n = 1 + rng.below(6) as usize;
        let lens: Vec<u64> = (0..n)
            .map(|_| {
                if rng.below(3) == 0 {
                    rng.below(100_000)
                } else {
                    interesting[rng.below(interesting.len() as u64) as usize]
                }
            })
            .collect();
        let (paths, contents) = make_files(dir.path(), &lens, &mut rng);
        let mut model: Vec<u8> = contents.concat();
        let inputs = open_inputs(&paths, true).unwrap();
        let stage = TestStage(dir.path().to_path_buf());
        let region = Region::open(inputs, Access::CopyOnWrite(Box::new(stage))).unwrap();
        assert_eq!(region.size(), model.len() as u64, "round {round} {lens:?}");
        assert_eq!(region.to_vec(), model, "round {round} {lens:?}");
        let size = model.len() as u64;
        for _ in 0..300 {
            let start = rng.below(size + 1);
            let len = rng.below(size - start + 1).min(1 << 20);
            let at = if rng.below(2) == 0 {
                start as i64
            } else {
                start as i64 - size as i64
            };
            if at < 0 || start < size {
                if rng.below(2) == 0 {
                    let got = region.read(at, len).unwrap();
                    assert_eq!(got, &model[start as usize..(start + len) as usize]);
                } else {
                    let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                    region
                        .write(at, &data)
                        .map_err(|e| format!("{e:?}"))
                        .unwrap();
                    model[start as usize..(start + len) as usize].copy_from_slice(&data);
                }
            }
            // Out of range: never a crash, always an error.
            assert!(region.read(size as i64, 1).is_err());
            assert!(region.read(-(size as i64) - 1, 1).is_err());
        }
        assert_eq!(region.to_vec(), model);
        // The originals are untouched; each written file's copy (staged
        // file or packed memory) holds its part of the model.
        let mut pos = 0;
        for (i, (p, &len)) in paths.iter().zip(&lens).enumerate() {
            assert_eq!(
                std::fs::read(p).unwrap(),
                contents[i],
                "round {round} {p:?}"
            );
            let part = &model[pos..pos + len as usize];
            let copy = dir.path().join(format!("copy{i}"));
            if region.finish_staged(i).unwrap() {
                assert_eq!(std::fs::read(&copy).unwrap(), part, "round {round} {i}");
            } else if region.is_written(i) {
                let f = std::fs::File::create(&copy).unwrap();
                region.write_input_to(i, &f).unwrap();
                assert_eq!(std::fs::read(&copy).unwrap(), part, "round {round} {i}");
            } else {
                assert_eq!(part, &contents[i][..]);
            }
            pos += len as usize;
        }
    }
}

/// `--output`: random writes go to the output file, reads see them, and
/// `finish_output` copies in exactly the bytes never written, so the file
/// ends up equal to the model (sparse inputs included).
#[test]
fn output_region_matches_concatenation_after_random_writes() {
    let page = rustix::param::page_size() as u64;
    let mut rng = Rng(0x0dd_5eed);
    for round in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let n = 1 + rng.below(5) as usize;
        let lens: Vec<u64> = (0..n)
            .map(|_| match rng.below(4) {
                0 => rng.below(200),
                1 => page * (1 + rng.below(40)),
                _ => rng.below(300_000),
            })
            .collect();
        let (paths, contents) = make_files(dir.path(), &lens, &mut rng);
        // One sparse input: a hole, then data.
        let sparse = dir.path().join("sparse");
        let f = std::fs::File::create(&sparse).unwrap();
        f.set_len(3 << 20).unwrap();
        f.write_all_at(b"tail", (3 << 20) - 4).unwrap();
        let mut paths = paths;
        paths.push(sparse.clone());
        let mut model: Vec<u8> = contents.concat();
        model.extend(std::fs::read(&sparse).unwrap());
        let out = dir.path().join("out");
        let target = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&out)
            .unwrap();
        let inputs = open_inputs(&paths, false).unwrap();
        let region = Region::open(inputs, Access::Output(target, out.clone())).unwrap();
        let size = model.len() as u64;
        for _ in 0..rng.below(60) {
            let start = rng.below(size);
            let len = rng.below(size - start + 1).min(1 << 18);
            let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            region
                .write(start as i64, &data)
                .map_err(|e| format!("{e:?}"))
                .unwrap();
            model[start as usize..(start + len) as usize].copy_from_slice(&data);
            let at = rng.below(size);
            let n = rng.below(size - at + 1).min(1 << 18);
            assert_eq!(
                region.read(at as i64, n).unwrap(),
                &model[at as usize..(at + n) as usize],
                "round {round}"
            );
        }
        assert_eq!(region.to_vec(), model, "round {round} {lens:?}");
        region.finish_output().unwrap();
        drop(region);
        assert_eq!(
            std::fs::read(&out).unwrap(),
            model,
            "round {round} {lens:?}"
        );
        for (p, c) in paths.iter().zip(&contents) {
            assert_eq!(&std::fs::read(p).unwrap(), c, "inputs untouched");
        }
    }
}

#[test]
fn read_only_region_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (paths, contents) = make_files(dir.path(), &[10, 5000], &mut Rng(7));
    let region = Region::open(open_inputs(&paths, false).unwrap(), Access::ReadOnly).unwrap();
    assert!(matches!(
        region.write(0, b"x"),
        Err(WriteError::Access(AccessError::ReadOnly))
    ));
    assert_eq!(region.to_vec(), contents.concat());
    assert_eq!(region.read(-1, 1).unwrap(), vec![contents[1][4999]]);
    // Bounds are checked first: a huge read of a small region is out of
    // range rather than too large.
    assert!(matches!(
        region.read(0, MAX_READ + 1),
        Err(AccessError::OutOfRange(_))
    ));
}

#[test]
fn locate_reaches_back_into_earlier_files() {
    let dir = tempfile::tempdir().unwrap();
    let (paths, _) = make_files(dir.path(), &[10, 0, 7], &mut Rng(3));
    let region = Region::open(open_inputs(&paths, false).unwrap(), Access::ReadOnly).unwrap();
    assert_eq!(region.locate(2, 0), Ok(10));
    assert_eq!(region.locate(2, -3), Ok(7));
    assert_eq!(region.locate(2, 7), Ok(17));
    assert_eq!(region.locate(1, 0), Ok(10));
    assert!(region.locate(2, 8).is_err());
    assert!(region.locate(0, -1).is_err());
    assert!(region.locate(0, i64::MIN).is_err());
    assert_eq!(
        region.locate(3, 0),
        Err(AccessError::NoSuchSegment { count: 3 })
    );
}

/// Sizes are fixed when the files are opened: a file that grows before
/// it is mapped is seen (and written) at its opened length only, and the
/// bytes appended are left alone.
#[test]
fn file_grown_after_opening_is_mapped_at_its_opened_length() {
    let dir = tempfile::tempdir().unwrap();
    // Mapped (100 KiB) and packed (10 bytes) files, both writable.
    let (paths, contents) = make_files(dir.path(), &[100 << 10, 10], &mut Rng(21));
    let inputs = open_inputs(&paths, true).unwrap();
    for p in &paths {
        let mut f = std::fs::OpenOptions::new().append(true).open(p).unwrap();
        f.write_all(b"APPENDED").unwrap();
    }
    let stage = TestStage(dir.path().to_path_buf());
    let region = Region::open(inputs, Access::CopyOnWrite(Box::new(stage))).unwrap();
    assert_eq!(region.size(), (100 << 10) + 10);
    assert_eq!(region.to_vec(), contents.concat());
    let ones = vec![1u8; region.size() as usize];
    region
        .write(0, &ones)
        .map_err(|e| format!("{e:?}"))
        .unwrap();
    // The mapped file's copy holds its opened length, all written; the
    // packed one's bytes are in memory; the originals are untouched,
    // appended bytes included.
    let copy0 = dir.path().join("copy0");
    assert!(region.finish_staged(0).unwrap());
    let copy = std::fs::read(&copy0).unwrap();
    assert_eq!(copy, vec![1u8; 100 << 10]);
    let packed = dir.path().join("packed1");
    region
        .write_input_to(1, &std::fs::File::create(&packed).unwrap())
        .unwrap();
    assert_eq!(std::fs::read(&packed).unwrap(), vec![1u8; 10]);
    drop(region);
    for (p, c) in paths.iter().zip(&contents) {
        let now = std::fs::read(p).unwrap();
        assert_eq!(&now[..c.len()], &c[..], "{p:?}");
        assert_eq!(&now[c.len()..], b"APPENDED", "{p:?}");
    }
}

/// A file that shrinks between the check and the mapping would fault on
/// its lost pages: it is refused with an input error naming it.
#[test]
fn file_shrunk_after_opening_is_refused_before_the_run() {
    for (writable, len) in [(false, 100 << 10), (true, 100 << 10), (true, 10)] {
        let dir = tempfile::tempdir().unwrap();
        let (paths, _) = make_files(dir.path(), &[5, len], &mut Rng(22));
        let inputs = open_inputs(&paths, writable).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&paths[1])
            .unwrap()
            .set_len(len / 2)
            .unwrap();
        let access = if writable {
            Access::CopyOnWrite(Box::new(TestStage(dir.path().to_path_buf())))
        } else {
            Access::ReadOnly
        };
        let err = Region::open(inputs, access).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Input);
        let msg = err.message();
        assert!(
            msg.starts_with(&format!(
                "{}: changed size since it was opened",
                paths[1].display()
            )),
            "{msg}"
        );
        assert!(
            msg.contains(&format!("was {len} bytes, now {}", len / 2)),
            "{msg}"
        );
    }
    // Through --output too.
    let dir = tempfile::tempdir().unwrap();
    let (paths, _) = make_files(dir.path(), &[100 << 10], &mut Rng(23));
    let inputs = open_inputs(&paths, false).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&paths[0])
        .unwrap()
        .set_len(10)
        .unwrap();
    let out = dir.path().join("out");
    let target = std::fs::File::create(&out).unwrap();
    let err = Region::open(inputs, Access::Output(target, out)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Input);
    assert!(
        err.message().contains("changed size since it was opened"),
        "{}",
        err.message()
    );
}

/// Read-only, inputs are closed once checked and reopened to be mapped
/// or copied: a path that names another file by then is refused, and
/// the region holds no descriptor of its inputs.
#[test]
fn read_only_inputs_are_reopened_checked_and_closed() {
    let dir = tempfile::tempdir().unwrap();
    let (paths, contents) = make_files(dir.path(), &[100 << 10, 10], &mut Rng(31));
    for victim in 0..2 {
        let inputs = open_inputs(&paths, false).unwrap();
        assert!(inputs.iter().all(|f| f.file().is_none()));
        let other = dir.path().join("other");
        std::fs::write(&other, &contents[victim]).unwrap();
        std::fs::rename(&other, &paths[victim]).unwrap();
        let err = Region::open(inputs, Access::ReadOnly).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Input);
        assert!(
            err.message().starts_with(&format!(
                "{}: was replaced by another file since it was opened",
                paths[victim].display()
            )),
            "{}",
            err.message()
        );
    }
    let region = Region::open(open_inputs(&paths, false).unwrap(), Access::ReadOnly).unwrap();
    assert!(region.inputs().iter().all(|f| f.file().is_none()));
    assert_eq!(region.to_vec(), contents.concat());
}

/// Past the mapping budget, files are packed into the packing file
/// (private mappings): the bytes are the concatenation's, read-only and
/// copy-on-write alike, and writes to packed files never reach the
/// originals.
#[test]
fn past_the_mapping_budget_files_are_packed_into_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let lens = vec![(64 << 10) + 1; 60];
    let (paths, contents) = make_files(dir.path(), &lens, &mut Rng(32));
    let mut params = LayoutParams::for_this_machine();
    params.max_mappings = 12;
    for writable in [false, true] {
        let inputs = open_inputs(&paths, writable).unwrap();
        let access = if writable {
            Access::CopyOnWrite(Box::new(TestStage(dir.path().to_path_buf())))
        } else {
            Access::ReadOnly
        };
        let region = Region::open_with(inputs, access, &params).unwrap();
        let layout = region.layout();
        assert!(layout.mappings() <= 12, "{}", layout.mappings());
        let kinds: Vec<Placement> = layout.slots().iter().map(|s| s.placement).collect();
        assert!(kinds.contains(&Placement::Packed) && kinds.contains(&Placement::Mapped));
        let mut model = contents.concat();
        assert_eq!(region.to_vec(), model);
        if writable {
            let ones = vec![1u8; 200_000];
            region
                .write(1000, &ones)
                .map_err(|e| format!("{e:?}"))
                .unwrap();
            model[1000..201_000].copy_from_slice(&ones);
            assert_eq!(region.to_vec(), model);
        }
        drop(region);
        for (p, c) in paths.iter().zip(&contents) {
            assert_eq!(&std::fs::read(p).unwrap(), c, "{p:?}");
        }
        for i in 0..lens.len() {
            let _ = std::fs::remove_file(dir.path().join(format!("copy{i}")));
        }
    }
}

#[test]
fn many_small_files_use_one_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let lens: Vec<u64> = (0..3000).map(|i| i % 50).collect();
    let (paths, contents) = make_files(dir.path(), &lens, &mut Rng(11));
    let region = Region::open(open_inputs(&paths, false).unwrap(), Access::ReadOnly).unwrap();
    assert_eq!(region.layout().mappings(), 1);
    assert_eq!(region.to_vec(), contents.concat());
}

/// A region whose inputs outside a window were never opened (they do not
/// even exist on disk): the segment table is whole, the window's bytes are
/// the concatenation's, reads and searches outside it are refused, writes
/// inside the chunk land at their global offsets.
#[test]
fn inputs_outside_the_window_are_never_opened_nor_mapped() {
    use super::chunk::ChunkPlan;
    let dir = tempfile::tempdir().unwrap();
    // Mapped, packed, mapped, packed, mapped; 1 and 2 lie outside.
    let lens = [70_000u64, 1000, 70_000, 500, 200_000];
    let (paths, contents) = make_files(dir.path(), &lens, &mut Rng(77));
    let model = contents.concat();
    let size = model.len() as u64;
    let (gone_lo, gone_hi) = (70_000u64, 141_000u64);
    for p in &paths[1..3] {
        std::fs::remove_file(p).unwrap();
    }
    let bounds = vec![0, 69_000, 141_500, size];
    let halo = 100;
    for (writable, chunk) in [(false, 0usize), (false, 2), (true, 0), (true, 2)] {
        let mut present = open_inputs(&[paths[0].clone()], false).unwrap();
        present.extend(open_inputs(&paths[3..], false).unwrap());
        let mut present = present.into_iter();
        let inputs: Vec<InputFile> = paths
            .iter()
            .zip(lens)
            .enumerate()
            .map(|(i, (p, len))| match i {
                1 | 2 => InputFile::outside_window(p.clone(), len),
                _ => present.next().unwrap(),
            })
            .collect();
        assert!(inputs[1].is_absent() && !inputs[0].is_absent());
        let access = if writable {
            let out = inputs::unnamed_temp_file(dir.path()).unwrap();
            Access::Output(out, dir.path().join("out"))
        } else {
            Access::ReadOnly
        };
        let region = Region::open(inputs, access).unwrap();
        assert_eq!(region.size(), size);
        let starts: Vec<u64> = region.segments().iter().map(|s| s.start).collect();
        assert_eq!(starts, vec![0, 70_000, 71_000, 141_000, 141_500]);
        // Only the present mapped inputs (0 and 4) are listed for SIGBUS.
        assert_eq!(region.file_mappings().len(), 2);
        let plan = ChunkPlan::some(region, bounds.clone(), halo, chunk, chunk).unwrap();
        let view = plan.next().unwrap();
        let (lo, hi) = (
            bounds[chunk].saturating_sub(halo),
            (bounds[chunk + 1] + halo).min(size),
        );
        assert!(hi <= gone_lo || lo >= gone_hi);
        let got = view.read_view(lo as i64, hi - lo).unwrap();
        let mut bytes = vec![0u8; got.len()];
        // SAFETY: the view (and so the region and its snapshots) is alive,
        // and nothing writes the window until the copy is done.
        unsafe { got.copy_to(&mut bytes) };
        assert!(bytes == model[lo as usize..hi as usize]);
        assert!(view.read_view(gone_lo as i64, 10).is_err());
        assert!(view.find(b"x", gone_lo, gone_hi, 10).is_err());
        let (a, b) = (bounds[chunk], bounds[chunk + 1]);
        if writable {
            let ones = vec![1u8; (b - a) as usize];
            view.write(a as i64, &ones).unwrap();
        }
        drop(view);
        let region = plan.into_region().unwrap();
        let mut back = vec![0u8; (b - a) as usize];
        region.read_into(a, &mut back);
        if writable {
            assert!(back.iter().all(|&x| x == 1));
        } else {
            assert!(back == model[a as usize..b as usize]);
        }
    }
}
