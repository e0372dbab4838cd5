//! 100,000 sparse files of 64 KiB + 1 byte (6.5 GB of region, almost no
//! disk): more than the open-file limit and the kernel's mapping limit allow
//! one each of. Each file starts with `needle` and its six-digit number; the
//! rest is a hole. Runs get an open-file limit of 1,024 whatever the
//! machine's, so a run that needs a descriptor per file fails anywhere.

use std::os::unix::fs::FileExt;
use std::os::unix::process::CommandExt;
use std::path::Path;

use super::{mmhost, Run};

pub const FILES: usize = 100_000;
pub const LEN: u64 = (64 << 10) + 1;
/// The open-file limit (soft and hard) of the runs: far below the file count.
pub const FD_LIMIT: u64 = 1024;

/// The first bytes of file `i`; the rest is a hole (zeros).
pub fn marker(i: usize) -> Vec<u8> {
    format!("needle{i:06}").into_bytes()
}

/// The file names, in region order.
pub fn names() -> Vec<String> {
    (0..FILES).map(|i| format!("f{i:06}")).collect()
}

/// Makes the sparse files in a new temporary directory (removed when the
/// result is dropped): a few seconds, ~400 MB of disk (one block a file).
pub fn make() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (i, name) in names().iter().enumerate() {
        let f = std::fs::File::create(dir.path().join(name)).unwrap();
        f.set_len(LEN).unwrap();
        f.write_all_at(&marker(i), 0).unwrap();
    }
    dir
}

/// `mmhost run PLUGIN` over the fixture, with the open-file limit lowered
/// to [`FD_LIMIT`] (soft and hard, so mmhost cannot raise it).
pub fn run_limited(dir: &Path, args: &[&str], plugin_args: &[&str]) -> Run {
    let mut cmd = mmhost();
    cmd.current_dir(dir).args(args).args(names());
    if !plugin_args.is_empty() {
        cmd.arg("--").args(plugin_args);
    }
    // SAFETY: the closure runs in the child between fork and exec and only
    // calls setrlimit, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: FD_LIMIT,
                rlim_max: FD_LIMIT,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Run::from(cmd.output().unwrap())
}
