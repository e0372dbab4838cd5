//! `bench-native`: contender 1 of `scripts/bench.py`, the practical limit.
//!
//! The same transforms as the reference plugins, over the input files mapped
//! with memmap2, on one thread, with no sandbox and no atomicity:
//!
//! ```text
//! bench-native upper-out [--mmap-out] [--fsync] OUT FILE...
//! bench-native upper-inplace [--fsync] FILE...
//! bench-native count PATTERN FILE...
//! bench-native checksum FILE...
//! bench-native touch FILE...       # one byte per page: the mapping floor
//! bench-native concat [--fsync] OUT FILE...   # copy_file_range, no transform
//! bench-native measure STATFILE CMD [ARG...]   # run CMD, write its wall time and rusage
//! ```
//!
//! `measure` is how `scripts/bench.py` times every contender: `wait4` gives
//! the child's CPU times, page faults and peak RSS. (From Python, the peak
//! RSS would be that of the forked Python process, which exec inherits as a
//! high-water mark; forked from this small program it is the command's own.)
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
        // Page-aligned (an anonymous mapping, not a malloc'd Vec whose data
        // starts 16 bytes into a page): with the source 16 bytes off the page
        // cache's alignment, the kernel's copy in write(2) ran at ~1 GB/s on
        // this machine (see BENCHMARKS.md), which is no practical limit.
        let mut buf = MmapMut::map_anon(CHUNK)?;
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

fn upper_inplace(args: &[String]) -> std::io::Result<()> {
    let (fsync, files) = match args.first().map(String::as_str) {
        Some("--fsync") => (true, &args[1..]),
        _ => (false, args),
    };
    for f in files {
        let file = OpenOptions::new().read(true).write(true).open(f)?;
        if file.metadata()?.len() == 0 {
            continue;
        }
        // SAFETY: the benchmark owns these files for the run.
        let mut map = unsafe { MmapMut::map_mut(&file)? };
        let _ = map.advise(Advice::Sequential);
        uppercase(&mut map);
        if fsync {
            map.flush()?; // msync
            file.sync_all()?;
        }
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
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
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

/// Concatenates FILEs into OUT with `std::io::copy` (copy_file_range on
/// Linux): the floor of mmhost's `-o` staging copy, with `--fsync` its commit.
fn concat(args: &[String]) -> std::io::Result<()> {
    let (fsync, rest) = match args.first().map(String::as_str) {
        Some("--fsync") => (true, &args[1..]),
        _ => (false, args),
    };
    let (out, files) = rest
        .split_first()
        .expect("usage: concat [--fsync] OUT FILE...");
    let mut out = File::create(out)?;
    for f in files {
        std::io::copy(&mut File::open(f)?, &mut out)?;
    }
    if fsync {
        out.sync_all()?;
    }
    Ok(())
}

/// Runs CMD with inherited stdio; writes `wall user sys maxrss_bytes minflt
/// majflt` to STATFILE and exits with CMD's status.
fn measure(args: &[String]) -> ExitCode {
    let (stat, cmd) = args.split_first().expect("usage: measure STATFILE CMD...");
    let (prog, cmd_args) = cmd.split_first().expect("usage: measure STATFILE CMD...");
    let start = std::time::Instant::now();
    let child = match std::process::Command::new(prog).args(cmd_args).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bench-native measure: {prog}: {e}");
            return ExitCode::from(127);
        }
    };
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: plain wait4 on our own child, with valid out-pointers.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let wall = start.elapsed().as_secs_f64();
    if r != pid {
        eprintln!(
            "bench-native measure: wait4: {}",
            std::io::Error::last_os_error()
        );
        return ExitCode::from(127);
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let line = format!(
        "{wall:.6} {:.6} {:.6} {} {} {}\n",
        secs(ru.ru_utime),
        secs(ru.ru_stime),
        ru.ru_maxrss * 1024,
        ru.ru_minflt,
        ru.ru_majflt
    );
    if let Err(e) = std::fs::write(stat, line) {
        eprintln!("bench-native measure: {stat}: {e}");
        return ExitCode::from(127);
    }
    std::mem::forget(child); // reaped above
    if libc::WIFEXITED(status) {
        ExitCode::from(libc::WEXITSTATUS(status) as u8)
    } else {
        ExitCode::from(128 + libc::WTERMSIG(status) as u8)
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((mode, rest)) = args.split_first() else {
        eprintln!("usage: bench-native upper-out|upper-inplace|count|checksum|touch ...");
        return ExitCode::from(2);
    };
    if mode == "measure" {
        return measure(rest);
    }
    let result = match mode.as_str() {
        "upper-out" => upper_out(rest),
        "upper-inplace" => upper_inplace(rest),
        "count" => count(rest).map(|n| println!("{n}")),
        "checksum" => checksum(rest).map(|s| println!("{s}")),
        "touch" => touch(rest).map(|n| println!("{n}")),
        "concat" => concat(rest),
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
