//! Where a run's writes go, and making them reach the disk.
//!
//! - [`Target::ReadOnly`]: nothing to commit; the region refuses writes.
//! - [`Target::InPlace`]: the files are mapped shared and writable, so writes
//!   reach the page cache as the plugin makes them; committing syncs them to
//!   disk and writes back packed small files. This is *not* atomic: a plugin
//!   that traps halfway leaves the files half written (the crash-safe journal
//!   is tracked separately).
//! - [`Target::Output`]: the concatenation is copied to a temporary file next
//!   to the output (same directory, so the final `rename` is atomic), the
//!   plugin runs over that copy, and committing `fsync`s it and renames it
//!   over the output path. A failed run removes the temporary file; the
//!   inputs are never opened for writing, and the output is either the old
//!   file or the complete new one.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{describe_io, Error, Result};
use crate::region::{Access, InputFile, Region};

/// Where writes go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Nowhere: the plugin may only read.
    ReadOnly,
    /// Into the input files.
    InPlace,
    /// Into a new file holding the transformed concatenation.
    Output(PathBuf),
}

/// What a commit did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitReport {
    /// Files that were written (inputs in place, or the output file).
    pub files: Vec<PathBuf>,
    /// Bytes the plugin wrote.
    pub bytes_written: u64,
}

/// A region opened for a target, and what is needed to commit it.
pub struct Pending {
    target: Target,
    temp: Option<TempFile>,
}

/// A temporary file that is removed unless it was renamed into place.
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Target {
    /// Whether the input files are opened for writing.
    pub fn writes_inputs(&self) -> bool {
        *self == Target::InPlace
    }
}

/// Maps validated `inputs` (opened with [`Target::writes_inputs`]) as a
/// region for `target`. The returned [`Pending`] commits the writes after the
/// run, or discards what can be discarded when dropped.
pub fn prepare(inputs: Vec<InputFile>, target: &Target) -> Result<(Region, Pending)> {
    let (region, temp) = match target {
        Target::ReadOnly => (Region::open(inputs, Access::ReadOnly)?, None),
        Target::InPlace => (Region::open(inputs, Access::InPlace)?, None),
        Target::Output(out) => {
            let (file, temp) = create_temp_beside(out)?;
            (Region::over_copy(inputs, file, out)?, Some(temp))
        }
    };
    Ok((
        region,
        Pending {
            target: target.clone(),
            temp,
        },
    ))
}

/// Creates a new temporary file in the directory of `out`, with the
/// permissions `out` has if it exists.
fn create_temp_beside(out: &Path) -> Result<(File, TempFile)> {
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = out
        .file_name()
        .ok_or_else(|| Error::output(out, "not a file name"))?
        .to_string_lossy()
        .into_owned();
    if out.is_dir() {
        return Err(Error::output(out, "is a directory"));
    }
    let mode = std::fs::metadata(out)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o666);
    for attempt in 0..100u32 {
        let path = dir.join(format!(
            ".{name}.mmhost-{}-{attempt}.tmp",
            std::process::id()
        ));
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&path)
        {
            Ok(file) => {
                // `mode` went through the umask; an existing output's exact
                // permissions are kept.
                if std::fs::metadata(out).is_ok() {
                    let _ = file.set_permissions(std::fs::Permissions::from_mode(mode));
                }
                return Ok((file, TempFile { path, keep: false }));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(Error::output(
                    out,
                    format!(
                        "cannot create a temporary file in {}: {}",
                        dir.display(),
                        describe_io(&e)
                    ),
                ))
            }
        }
    }
    Err(Error::output(out, "cannot find a free temporary file name"))
}

impl Pending {
    /// Makes the run's writes durable (see the module docs for what that
    /// means per target).
    pub fn commit(mut self, region: &Region) -> Result<CommitReport> {
        let bytes_written = region.stats().bytes_written;
        match &self.target {
            Target::ReadOnly => Ok(CommitReport::default()),
            Target::InPlace => {
                region.flush()?;
                let files = region
                    .written_inputs()
                    .into_iter()
                    .map(|i| region.inputs()[i].path.clone())
                    .collect();
                Ok(CommitReport {
                    files,
                    bytes_written,
                })
            }
            Target::Output(out) => {
                region
                    .flush()
                    .map_err(|e| Error::output(out, e.message()))?;
                let temp = self.temp.as_mut().expect("output target has a temp file");
                std::fs::rename(&temp.path, out).map_err(|e| {
                    Error::output(
                        out,
                        format!(
                            "cannot rename the finished file into place: {}",
                            describe_io(&e)
                        ),
                    )
                })?;
                temp.keep = true;
                sync_parent(out);
                Ok(CommitReport {
                    files: vec![out.clone()],
                    bytes_written,
                })
            }
        }
    }

    /// The target this was opened for.
    pub fn target(&self) -> &Target {
        &self.target
    }
}

/// Makes a rename in `path`'s directory durable. Best effort: some file
/// systems cannot fsync a directory.
fn sync_parent(path: &Path) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}
