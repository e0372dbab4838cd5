//! Opening and validating input files before anything is mapped.
//!
//! Every check that can fail on a user's input happens here, before a byte is
//! mapped or a plugin runs, so that a bad file list fails fast with one line
//! naming the path, and changes nothing.
//!
//! Each file is opened once and checked on the open descriptor (`fstat`), so a
//! path swapped for something else between the check and the mapping is seen.
//! An advisory lock (`flock`: shared for reading, exclusive for writing) is
//! held for the run, so two mmhost runs never write the same file at once.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, StatFs};

use crate::error::{describe_io, Error, Result};

/// An opened, validated input file.
#[derive(Debug)]
pub struct InputFile {
    /// The path as the user gave it.
    pub path: PathBuf,
    /// The open file (read-only, or read-write for in-place runs).
    pub file: File,
    /// Length in bytes at the time it was opened.
    pub len: u64,
}

/// Pseudo file systems whose files report sizes unrelated to their content.
const PSEUDO_FS: &[(i64, &str)] = &[
    (0x9fa0, "/proc"),
    (0x6265_6572, "/sys"),
    (0x6462_6720, "debugfs"),
    (0x7472_6163, "tracefs"),
    (0x6367_7270, "cgroup2"),
    (0x0027_e0eb, "cgroup"),
    (0x7363_6673, "securityfs"),
];

fn file_type_name(ft: &std::fs::FileType) -> &'static str {
    if ft.is_dir() {
        "is a directory"
    } else if ft.is_fifo() {
        "is a FIFO, not a regular file (it cannot be mapped)"
    } else if ft.is_socket() {
        "is a socket, not a regular file"
    } else if ft.is_char_device() {
        "is a character device, not a regular file"
    } else if ft.is_block_device() {
        "is a block device, not a regular file"
    } else {
        "is not a regular file"
    }
}

/// Opens and validates `paths`, in order. With `writable`, files are opened
/// for writing and the same file named twice (same device and inode, through
/// any path, symlink or hard link) is refused.
pub fn open_inputs(paths: &[PathBuf], writable: bool) -> Result<Vec<InputFile>> {
    let mut seen: HashMap<(u64, u64), usize> = HashMap::new();
    let mut files = Vec::with_capacity(paths.len());
    for (i, path) in paths.iter().enumerate() {
        let input = open_one(path, writable)?;
        let meta = input
            .file
            .metadata()
            .map_err(|e| Error::input(path, describe_io(&e)))?;
        if let Some(&first) = seen.get(&(meta.dev(), meta.ino())) {
            if writable {
                return Err(Error::input(
                    path,
                    format!(
                        "same file as {} (input {}); a file may be named only once when writes \
                         are enabled",
                        paths[first].display(),
                        first + 1
                    ),
                ));
            }
        } else {
            seen.insert((meta.dev(), meta.ino()), i);
        }
        lock(&input, writable)?;
        files.push(input);
    }
    Ok(files)
}

/// Takes the advisory lock for the run; checked after the duplicate test, so
/// a file named twice is reported as such, not as locked.
fn lock(input: &InputFile, writable: bool) -> Result<()> {
    let op = if writable {
        FlockOperation::NonBlockingLockExclusive
    } else {
        FlockOperation::NonBlockingLockShared
    };
    if let Err(e) = rustix::fs::flock(&input.file, op) {
        let why = if e == rustix::io::Errno::WOULDBLOCK {
            "is locked by another process (another mmhost run writing it?)".to_string()
        } else {
            format!("cannot lock: {e}")
        };
        return Err(Error::input(&input.path, why));
    }
    Ok(())
}

fn open_one(path: &Path, writable: bool) -> Result<InputFile> {
    // Look before opening: opening a FIFO would block, a socket would fail
    // with an obscure error.
    let meta = std::fs::metadata(path).map_err(|e| Error::input(path, describe_io(&e)))?;
    if !meta.file_type().is_file() {
        return Err(Error::input(path, file_type_name(&meta.file_type())));
    }
    let file = OpenOptions::new()
        .read(true)
        .write(writable)
        .custom_flags(libc_flags())
        .open(path)
        .map_err(|e| {
            let why = match (e.kind(), writable) {
                (io::ErrorKind::PermissionDenied, true) => {
                    "permission denied (cannot open for reading and writing)".to_string()
                }
                (io::ErrorKind::PermissionDenied, false) => {
                    "permission denied (cannot open for reading)".to_string()
                }
                (io::ErrorKind::ReadOnlyFilesystem, _) => {
                    "read-only file system (cannot write in place)".to_string()
                }
                _ => describe_io(&e),
            };
            Error::input(path, why)
        })?;
    // Check the descriptor itself: the path may have changed since `metadata`.
    let fmeta = file
        .metadata()
        .map_err(|e| Error::input(path, describe_io(&e)))?;
    if !fmeta.file_type().is_file() {
        return Err(Error::input(path, file_type_name(&fmeta.file_type())));
    }
    if let Ok(fs) = rustix::fs::fstatfs(&file) {
        if let Some(name) = pseudo_fs(&fs) {
            return Err(Error::input(
                path,
                format!(
                    "is a file of {name}, whose size is not its content; copy it to a regular \
                     file first"
                ),
            ));
        }
    }
    Ok(InputFile {
        path: path.to_path_buf(),
        file,
        len: fmeta.len(),
    })
}

fn pseudo_fs(fs: &StatFs) -> Option<&'static str> {
    #[allow(clippy::unnecessary_cast)] // f_type's width differs between targets
    let kind = fs.f_type as i64;
    PSEUDO_FS
        .iter()
        .find(|(magic, _)| *magic == kind)
        .map(|(_, name)| *name)
}

/// `O_NONBLOCK` (no effect on regular files, but a FIFO swapped in after the
/// check does not hang the open) and `O_NOCTTY`.
fn libc_flags() -> i32 {
    (rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY).bits() as i32
}
