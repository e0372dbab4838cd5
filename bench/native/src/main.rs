//! `bench-native`: contender 1 of `scripts/bench.py`, the practical limit.
//!
//! The same transforms as the reference plugins, over the input files mapped
//! with memmap2, on one thread, with no sandbox and no atomicity:
//!
//! ```text
//! bench-native upper-out [--mmap-out] [--fsync] OUT FILE...
//! bench-native upper-inplace FILE...
//! bench-native count PATTERN FILE...
//! bench-native checksum FILE...
//! bench-native touch FILE...       # read every byte, no work (page-cache floor)
//! ```
//!
//! `upper-out` writes the uppercased concatenation to OUT, by default with
//! `write(2)` of 1 MiB chunks transformed straight from the input mapping
//! into one buffer (`--mmap-out`: into a mapping of OUT instead). Set
//! `BENCH_ADVISE=sequential|willneed|hugepage|none` to try `madvise` on the
//! input mappings (default `sequential`). `count` prints the number of
//! non-overlapping matches across file boundaries, like Python's
//! `bytes.count`; `checksum` prints `<sha256> <size>` like the plugin.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::process::ExitCode;

use bench_kernels::{uppercase, uppercase_into, StreamCounter};
use memmap2::{Advice, Mmap, MmapMut, MmapOptions};
use sha2::{Digest, Sha256};

const CHUNK: usize = 1 << 20;

fn advise(map: &Mmap) {
    let advice = match std::env::var("BENCH_ADVISE").as_deref() {
        Ok("none") => return,
        Ok("willneed") => Advice::WillNeed,
        Ok("hugepage") => Advice::HugePage,
        _ => Advice::Sequential,
    };
    let _ = map.advise(advice);
}

/// Maps `path` read-only; `None` for an empty file (which cannot be mapped).
fn map(path: &str) -> std::io::Result<Option<Mmap>> {
    let file = File::open(path)?;
    if file.metadata()?.len() == 0 {
        return Ok(None);
    }
    // SAFETY: benchmark inputs are not modified while mapped.
    let map = unsafe { MmapOptions::new().map(&file)? };
    advise(&map);
    Ok(Some(map))
}

fn upper_out(args: &[String]) -> std::io::Result<()> {
    let mut mmap_out = false;
    let mut fsync = false;
    let mut rest = args;
    while let Some(a) = rest.first() {
        match a.as_str() {
            "--mmap-out" => mmap_out = true,
            "--fsync" => fsync = true,
            _ => break,
        }
        rest = &rest[1..];
    }
    let (out, files) = rest.split_first().expect("usage: upper-out OUT FILE...");
    let out = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(out)?;
    if mmap_out {
        let mut total = 0u64;
        for f in files {
            total += std::fs::metadata(f)?.len();
        }
        out.set_len(total)?;
        if total > 0 {
            // SAFETY: OUT is ours alone for the run.
            let mut dst = unsafe { MmapMut::map_mut(&out)? };
            let mut pos = 0usize;
            for f in files {
                if let Some(src) = map(f)? {
                    uppercase_into(&src, &mut dst[pos..pos + src.len()]);
                    pos += src.len();
                }
            }
            if fsync {
                dst.flush()?;
            }
        }
    } else {
        let mut buf = vec![0u8; CHUNK];
        let mut out_w = &out;
        for f in files {
            if let Some(src) = map(f)? {
                for piece in src.chunks(CHUNK) {
                    let dst = &mut buf[..piece.len()];
                    uppercase_into(piece, dst);
                    out_w.write_all(dst)?;
                }
            }
        }
    }
    if fsync {
        out.sync_all()?;
    }
    Ok(())
}

fn upper_inplace(files: &[String]) -> std::io::Result<()> {
    for f in files {
        let file = OpenOptions::new().read(true).write(true).open(f)?;
        if file.metadata()?.len() == 0 {
            continue;
        }
        // SAFETY: the benchmark owns these files for the run.
        let mut map = unsafe { MmapMut::map_mut(&file)? };
        let _ = map.advise(Advice::Sequential);
        uppercase(&mut map);
    }
    Ok(())
}

fn count(args: &[String]) -> std::io::Result<u64> {
    let (pattern, files) = args.split_first().expect("usage: count PATTERN FILE...");
    let pattern = pattern.as_bytes();
    if pattern.is_empty() {
        let mut total = 0;
        for f in files {
            total += std::fs::metadata(f)?.len();
        }
        return Ok(total + 1);
    }
    let mut counter = StreamCounter::new(pattern);
    for f in files {
        if let Some(src) = map(f)? {
            counter.feed(&src);
        }
    }
    Ok(counter.count())
}

fn checksum(files: &[String]) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    for f in files {
        if let Some(src) = map(f)? {
            hasher.update(&src[..]);
            size += src.len() as u64;
        }
    }
    let hex: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{hex} {size}"))
}

fn touch(files: &[String]) -> std::io::Result<u64> {
    let mut sum = 0u64;
    for f in files {
        if let Some(src) = map(f)? {
            for page in src.chunks(4096) {
                sum = sum.wrapping_add(u64::from(page[0]));
            }
        }
    }
    Ok(sum)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((mode, rest)) = args.split_first() else {
        eprintln!("usage: bench-native upper-out|upper-inplace|count|checksum|touch ...");
        return ExitCode::from(2);
    };
    let result = match mode.as_str() {
        "upper-out" => upper_out(rest),
        "upper-inplace" => upper_inplace(rest),
        "count" => count(rest).map(|n| println!("{n}")),
        "checksum" => checksum(rest).map(|s| println!("{s}")),
        "touch" => touch(rest).map(|n| println!("{n}")),
        other => {
            eprintln!("bench-native: unknown mode {other}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-native: {e}");
            ExitCode::FAILURE
        }
    }
}
