//! Opening and validating input files before anything is mapped.
//!
//! Every check that can fail on a user's input happens here, before a byte is
//! mapped or a plugin runs, so that a bad file list fails fast with one line
//! naming the path, and changes nothing.
//!
//! Each file is opened once and checked on the open descriptor (`fstat`), so a
//! path swapped for something else between the check and the opening is seen.
//! An advisory lock (`flock`: shared for reading, exclusive for writing) keeps
//! two mmhost runs from writing the same file at once.
//!
//! # Descriptors
//!
//! A read-only run must not need a descriptor per input: the open-file limit
//! (often 1,024, 20,000 here) is far below the 100,000 files a run may name.
//! So opening an input read-only checks it and **closes it again**, keeping
//! its identity (device and inode) and length (`Content::Closed`). When the
//! region needs its bytes it reopens the path with [`InputFile::open_checked`],
//! which refuses a path that now names another file (replaced, renamed over)
//! or one that shrank, and takes the shared lock again; the bytes mapped or
//! copied are therefore those of the file checked here. The region closes the
//! descriptor as soon as the file is mapped (a mapping keeps its file alive,
//! and with it the `flock`, until it is unmapped) or copied (packed files), so
//! a read-only run holds a handful of descriptors however many inputs it has.
//!
//! A run that replaces its inputs (`writable`) keeps each one open and locked
//! exclusively for the whole run (`Content::Open`): its lock must not lapse
//! between the check and the commit, and the staged copies are made from it.
//! That needs two descriptors a written file (the input and its copy), so such
//! a run is refused up front when the limit cannot allow it. Standard input,
//! spooled into an unnamed file, is always held open (it has no path to
//! reopen).
//!
//! The length read here is the file's length for the whole run: a file that
//! grows later is mapped at this length, and one that shrinks before it is
//! mapped or copied is refused. One truncated while mapped is the business of
//! [`crate::sigbus`].

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, StatFs};

use crate::error::{describe_io, Error, Result};

/// Files below this size are packed (copied) rather than mapped: see
/// [`super::layout`].
pub const SMALL_FILE: u64 = 64 << 10;

/// Descriptors kept free for everything else the process opens.
const FD_RESERVE: u64 = 256;

/// An opened, validated input file.
#[derive(Debug)]
pub struct InputFile {
    /// The path as the user gave it.
    pub path: PathBuf,
    /// Length in bytes at the time it was opened.
    pub len: u64,
    content: Content,
}

/// Where an input's bytes can be had; see the module docs.
#[derive(Debug)]
enum Content {
    /// The open file (read-only, or read-write for in-place runs), locked.
    Open(File),
    /// Checked and closed (read-only runs): reopened by path, and checked to
    /// be the same file, when its bytes are needed.
    Closed {
        /// Device and inode when it was checked.
        id: (u64, u64),
    },
    /// Never opened: an input outside the window of a process that runs
    /// some chunks of a distributed run (`InputFile::outside_window`).
    /// Its slot is left unplaced and no access may reach it.
    Absent,
}

/// A descriptor of an input: the one it holds, or a new one reopened and
/// checked by [`InputFile::open_checked`] (closed when dropped).
#[derive(Debug)]
pub enum FileRef<'a> {
    /// The input's own descriptor.
    Held(&'a File),
    /// A descriptor opened for this use.
    Reopened(File),
}

impl std::ops::Deref for FileRef<'_> {
    type Target = File;

    fn deref(&self) -> &File {
        match self {
            FileRef::Held(f) => f,
            FileRef::Reopened(f) => f,
        }
    }
}

impl InputFile {
    /// The open file, if the input holds its descriptor (inputs of a run that
    /// replaces them, standard input, and the mapped inputs of a region that
    /// stages copies); see [`InputFile::open_checked`] for the others.
    pub fn file(&self) -> Option<&File> {
        match &self.content {
            Content::Open(f) => Some(f),
            Content::Closed { .. } | Content::Absent => None,
        }
    }

    /// An input that is part of the region's layout and segment table
    /// (`path`, `len` bytes, as a plan recorded them) but is never opened,
    /// checked or placed: the region leaves its slot reserved and unmapped
    /// (`PROT_NONE`, or holes of the packing file). Only for a region whose
    /// every access is held inside a window that this input lies outside
    /// of (the chunk views of [`super::chunk::ChunkPlan::some`]); see
    /// `crate::distributed::window`.
    ///
    /// Crate-private on purpose: a safe [`Region::read`](super::Region::read)
    /// of such a slot would fault, so only code that holds every access
    /// inside a window (`run-chunk`) may build one.
    pub(crate) fn outside_window(path: PathBuf, len: u64) -> InputFile {
        InputFile {
            path,
            len,
            content: Content::Absent,
        }
    }

    /// Whether this input was never opened (`InputFile::outside_window`).
    pub fn is_absent(&self) -> bool {
        matches!(self.content, Content::Absent)
    }

    /// A descriptor of this input: the one it holds, or the path reopened
    /// (read-only, shared lock) and checked to be the very file that was
    /// validated, at least as long as it was then. The error names the file:
    /// replaced by another, shrunk, locked, unreadable.
    pub fn open_checked(&self) -> Result<FileRef<'_>> {
        let path = &self.path;
        let id = match &self.content {
            Content::Open(f) => {
                let now = f
                    .metadata()
                    .map_err(|e| Error::input(path, describe_io(&e)))?
                    .len();
                if now < self.len {
                    return Err(self.shrank(Some(now)));
                }
                return Ok(FileRef::Held(f));
            }
            Content::Closed { id } => *id,
            Content::Absent => {
                return Err(Error::input(
                    path,
                    "lies outside this process's window and was not opened",
                ))
            }
        };
        let file = open_read_only(path)?;
        let meta = file
            .metadata()
            .map_err(|e| Error::input(path, describe_io(&e)))?;
        if (meta.dev(), meta.ino()) != id || !meta.file_type().is_file() {
            return Err(Error::input(
                path,
                "was replaced by another file since it was opened (renamed or moved over); \
                 nothing was run",
            ));
        }
        if meta.len() < self.len {
            return Err(self.shrank(Some(meta.len())));
        }
        lock(&file, path, false)?;
        Ok(FileRef::Reopened(file))
    }

    /// Keeps `file` (from [`InputFile::open_checked`]) as this input's
    /// descriptor from now on.
    pub(crate) fn hold(&mut self, file: File) {
        self.content = Content::Open(file);
    }

    /// The error for an input that is shorter than when it was opened (`now`
    /// bytes, if known).
    pub(crate) fn shrank(&self, now: Option<u64>) -> Error {
        let now = now.map(|n| format!(", now {n}")).unwrap_or_default();
        Error::input(
            &self.path,
            format!(
                "changed size since it was opened (was {} bytes{now}): another process is \
                 truncating it; nothing was run",
                self.len
            ),
        )
    }
}

/// Raises the limit on open files as far as allowed (the hard limit, or for
/// a privileged process the kernel's `fs.nr_open`) and returns the soft limit.
fn raise_fd_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    let lim = getrlimit(Resource::Nofile);
    if let Some(n) = nr_open.filter(|&n| lim.maximum.is_some_and(|m| m < n)) {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(n),
                maximum: Some(n),
            },
        );
    }
    let mut lim = getrlimit(Resource::Nofile);
    if let Some(max) = lim.maximum {
        if lim.current.is_some_and(|cur| cur < max) {
            lim.current = Some(max);
            let _ = setrlimit(Resource::Nofile, lim);
        }
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
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

/// Why a file that is not a regular file cannot be an input, in words.
pub(crate) fn file_type_name(ft: &std::fs::FileType) -> &'static str {
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

/// The one wording of a file named twice where its writes would replace it
/// twice: `PATH: same file as FIRST; ...`, on the command line and in job
/// files alike (a job file's error adds the entry's JSON path before it).
pub(crate) fn named_twice(path: &Path, first: &Path) -> String {
    format!(
        "{}: same file as {}; a file may be named only once when writes go in place",
        crate::escape::Quoted(path),
        crate::escape::Quoted(first)
    )
}

/// Opens and validates `paths`, in order, read-only: mmhost never writes
/// through these descriptors (writes go to staged copies). Without
/// `writable`, each file is closed again once checked (see the module docs:
/// the region reopens it when it maps or copies it). With `writable` (a run
/// whose writes will replace the files) each file is locked exclusively and
/// kept open, and the same file named twice (same device and inode, through
/// any path, symlink or hard link) is refused.
pub fn open_inputs(paths: &[PathBuf], writable: bool) -> Result<Vec<InputFile>> {
    let fd_budget = raise_fd_limit().saturating_sub(FD_RESERVE);
    // A run that replaces its inputs holds each one open and locked, and
    // each staged copy open and locked until the commit: two per file.
    if writable && 2 * paths.len() as u64 > fd_budget {
        return Err(Error::new(
            crate::error::ErrorKind::Input,
            format!(
                "{} input files: replacing them in place keeps each file and its new copy open \
                 and locked (two descriptors a file), and the open-file limit allows \
                 {fd_budget}; raise it (ulimit -n) or write with --output-dir",
                paths.len()
            ),
        ));
    }
    let mut seen: HashMap<(u64, u64), usize> = HashMap::new();
    let mut files = Vec::with_capacity(paths.len());
    let mut stdin_seen = false;
    for (i, path) in paths.iter().enumerate() {
        if path.as_os_str() == "-" {
            if stdin_seen {
                return Err(Error::input(path, "standard input can be named only once"));
            }
            if writable {
                return Err(Error::input(
                    path,
                    "standard input cannot be replaced in place; write with --output",
                ));
            }
            stdin_seen = true;
            files.push(spool_stdin()?);
            continue;
        }
        let input = open_one(path)?;
        let (dev, ino) = input.id;
        if let Some(&first) = seen.get(&(dev, ino)) {
            if writable {
                return Err(Error::new(
                    crate::error::ErrorKind::Input,
                    named_twice(path, &paths[first]),
                ));
            }
        } else {
            seen.insert((dev, ino), i);
        }
        lock(&input.file, path, writable)?;
        let content = if writable {
            Content::Open(input.file)
        } else {
            // Checked and locked; closed now (see the module docs).
            Content::Closed { id: input.id }
        };
        files.push(InputFile {
            path: path.clone(),
            len: input.len,
            content,
        });
    }
    Ok(files)
}

/// Reads standard input into an unnamed temporary file (it cannot be mapped
/// as it is: a pipe has no pages), so that it is mapped like any other input,
/// however large, without taking memory.
fn spool_stdin() -> Result<InputFile> {
    let path = Path::new("-");
    let fail =
        |e: io::Error| Error::input(path, format!("reading standard input: {}", describe_io(&e)));
    let mut file = unnamed_temp_file(&std::env::temp_dir()).map_err(fail)?;
    let len = io::copy(&mut io::stdin().lock(), &mut file).map_err(fail)?;
    Ok(InputFile {
        path: path.to_path_buf(),
        len,
        content: Content::Open(file),
    })
}

/// Creates an unnamed temporary file in `dir`, open read-write: `O_TMPFILE`
/// where the file system supports it, else a named file unlinked at once. It
/// disappears with its last descriptor or mapping.
pub(crate) fn unnamed_temp_file(dir: &Path) -> io::Result<File> {
    use rustix::fs::{Mode, OFlags, CWD};
    let fd = rustix::fs::openat(
        CWD,
        dir,
        OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    );
    match fd {
        Ok(fd) => Ok(File::from(fd)),
        Err(_) => {
            use std::sync::atomic::{AtomicU64, Ordering};
            static SEQ: AtomicU64 = AtomicU64::new(0);
            let named = dir.join(format!(
                ".mmhost-scratch-{}-{}",
                std::process::id(),
                SEQ.fetch_add(1, Ordering::Relaxed)
            ));
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&named)?;
            let _ = std::fs::remove_file(&named);
            Ok(f)
        }
    }
}

/// Takes the advisory lock for the run; checked after the duplicate test, so
/// a file named twice is reported as such, not as locked.
fn lock(file: &File, path: &Path, writable: bool) -> Result<()> {
    let op = if writable {
        FlockOperation::NonBlockingLockExclusive
    } else {
        FlockOperation::NonBlockingLockShared
    };
    if let Err(e) = rustix::fs::flock(file, op) {
        let why = if e == rustix::io::Errno::WOULDBLOCK {
            "is locked by another process (another mmhost run writing it?)".to_string()
        } else {
            format!("cannot lock: {e}")
        };
        return Err(Error::input(path, why));
    }
    Ok(())
}

/// A file opened and checked, not yet locked.
struct Opened {
    file: File,
    len: u64,
    id: (u64, u64),
}

fn open_one(path: &Path) -> Result<Opened> {
    // Look before opening: opening a FIFO would block, a socket would fail
    // with an obscure error.
    let meta = std::fs::metadata(path).map_err(|e| Error::input(path, describe_io(&e)))?;
    if !meta.file_type().is_file() {
        return Err(Error::input(path, file_type_name(&meta.file_type())));
    }
    let file = open_read_only(path)?;
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
    Ok(Opened {
        file,
        len: fmeta.len(),
        id: (fmeta.dev(), fmeta.ino()),
    })
}

/// Opens `path` for reading, with the flags every input is opened with.
fn open_read_only(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc_flags())
        .open(path)
        .map_err(|e| {
            let why = match e.kind() {
                io::ErrorKind::PermissionDenied => {
                    "permission denied (cannot open for reading)".to_string()
                }
                _ => describe_io(&e),
            };
            Error::input(path, why)
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
