//! Staged copies: the files a writing run produces beside their destinations
//! before the commit swaps them in.
//!
//! A copy is created in the destination's own directory (so the final
//! `rename` is atomic and never crosses file systems), under a name recovery
//! recognises (`.NAME.mmhost-PID-N.tmp`), with the permissions of the file it
//! will replace and, where the process may, its owner and group. The creator
//! holds an exclusive `flock` on it for its whole life, which is how recovery
//! tells a live run's copy from a dead one's. A copy that is not committed is
//! removed when dropped.

use std::fs::{File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rustix::fs::FlockOperation;

use super::failpoint;
use super::journal::{TEMP_MARK, TEMP_SUFFIX};
use crate::error::{describe_io, Error, Result};
use crate::escape::Quoted;
use crate::region::{InputFile, Stage};

/// A staged copy; removed on drop unless [`TempFile::keep`] was called.
pub(crate) struct TempFile {
    pub(crate) path: PathBuf,
    /// `None` once handed to the region ([`TempFile::take_file`]), which then
    /// holds the only descriptor (and with it the lock).
    file: Option<File>,
    keep: bool,
}

impl TempFile {
    /// Creates a new, locked copy file for `dest` in `dir`, with the mode
    /// (and, if possible, owner) of `like`.
    pub(crate) fn create(
        dir: &Path,
        dest: &Path,
        like: Option<&std::fs::Metadata>,
    ) -> Result<TempFile> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".to_string());
        let mode = like.map(|m| m.mode() & 0o7777).unwrap_or(0o666);
        loop {
            let n = SEQ.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!(
                ".{name}{TEMP_MARK}{}-{n}{TEMP_SUFFIX}",
                std::process::id()
            ));
            let file = match OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&path)
            {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(Error::output(
                        dest,
                        format!(
                            "cannot create a file in {}: {}",
                            Quoted(dir),
                            describe_io(&e)
                        ),
                    ))
                }
            };
            let temp = TempFile {
                path,
                file: Some(file),
                keep: false,
            };
            let fail = |e: io::Error| Error::output(dest, describe_io(&e));
            rustix::fs::flock(temp.file(), FlockOperation::NonBlockingLockExclusive)
                .map_err(|e| fail(e.into()))?;
            if let Some(m) = like {
                // The umask narrowed `mode`; the replaced file's mode wins.
                temp.file()
                    .set_permissions(Permissions::from_mode(mode))
                    .map_err(fail)?;
                if m.uid() != rustix::process::geteuid().as_raw()
                    || m.gid() != rustix::process::getegid().as_raw()
                {
                    // Only root (or the owner, for the group) may do this;
                    // `check_in_place` refused files we could not chown.
                    let _ = std::os::unix::fs::fchown(temp.file(), Some(m.uid()), Some(m.gid()));
                }
            }
            return Ok(temp);
        }
    }

    /// The open file.
    ///
    /// # Panics
    /// If it was handed over with [`TempFile::take_file`].
    pub(crate) fn file(&self) -> &File {
        self.file
            .as_ref()
            .expect("the copy's descriptor was handed to the region")
    }

    /// Hands the descriptor over (to the region, which writes the copy and
    /// syncs it at commit), so that a copy costs one descriptor, not two.
    /// The `flock` stays: it belongs to the open file, not this handle.
    pub(crate) fn take_file(&mut self) -> Option<File> {
        self.file.take()
    }

    /// Keeps the file when dropped (it was renamed into place).
    pub(crate) fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Where each input's new version goes, and the copies made so far.
pub(crate) struct Staging {
    /// Per input: the path its new version replaces.
    pub(crate) dests: Vec<PathBuf>,
    /// Put copies here instead of beside their destinations (dry runs).
    pub(crate) scratch_dir: Option<PathBuf>,
    /// Per input: its staged copy, once made.
    pub(crate) temps: Vec<Option<TempFile>>,
    staged: usize,
}

impl Staging {
    pub(crate) fn new(dests: Vec<PathBuf>, scratch_dir: Option<PathBuf>) -> Staging {
        let temps = dests.iter().map(|_| None).collect();
        Staging {
            dests,
            scratch_dir,
            temps,
            staged: 0,
        }
    }

    /// Creates the copy file for input `i` (empty), recording it.
    pub(crate) fn create(&mut self, i: usize, input: &InputFile) -> Result<&mut TempFile> {
        let dest = &self.dests[i];
        let dir = match &self.scratch_dir {
            Some(d) => d.clone(),
            None => match dest.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            },
        };
        let like = input
            .file()
            .and_then(|f| f.metadata().ok())
            .or_else(|| std::fs::metadata(&input.path).ok());
        let temp = TempFile::create(&dir, dest, like.as_ref())?;
        self.staged += 1;
        failpoint(&format!("stage:{}", self.staged));
        Ok(self.temps[i].insert(temp))
    }
}

/// The region's side of staging: on an input's first write, a new file of
/// its length beside its destination (all holes: the region writes the
/// plugin's bytes into it and fills in the rest at commit).
pub(crate) struct SharedStaging(pub(crate) Arc<Mutex<Staging>>);

impl Stage for SharedStaging {
    fn stage(&mut self, index: usize, input: &InputFile) -> Result<File> {
        let mut staging = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let dest = staging.dests[index].clone();
        let temp = staging.create(index, input)?;
        let fail = |e: io::Error| Error::output(&dest, describe_io(&e));
        temp.file().set_len(input.len).map_err(fail)?;
        temp.take_file()
            .ok_or_else(|| fail(io::Error::other("the copy was handed over twice")))
    }
}
