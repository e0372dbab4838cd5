//! Where a run's writes go, and making them reach the disk all or nothing.
//!
//! # The design: a new version on first write, then one journaled swap
//!
//! mmhost never writes into a user's file. Inputs are mapped read-only; the
//! first write to a file creates its *staged copy* beside it, an empty file of
//! its length (`stage.rs`) that the region maps into its shadow and writes
//! into, remembering the ranges written so that later reads see them. Small
//! packed files are written in memory and staged only at commit. When the
//! plugin has finished successfully, each copy gets the ranges the plugin did
//! not write from its original (`copy_file_range`, which reflinks on file
//! systems that can), every copy is `fsync`ed and the copies
//! are renamed over their destinations as one atomic step under an intent log
//! (`journal.rs`). Until the log's commit point nothing the user owns has
//! changed; after it, recovery finishes the renames. So a trap, an `err`, a
//! limit, a full disk or a `kill -9` at any instant leaves every file either
//! exactly old or exactly new, and the next mmhost run that touches those
//! directories (or `mmhost recover`) repairs an interrupted commit first.
//!
//! Why not an undo journal written in place? It preserves inode identity, but
//! it must fsync the journal before each first overwrite, buffer writes
//! between group commits and overlay that buffer on every read. New versions
//! need none of that: memory stays bounded (they are file-backed mappings),
//! reads need only the region's set of written ranges, and the cost is disk:
//! one new version of each file written (its unwritten ranges reflinked where
//! the file system can).
//!
//! Consequences, checked before the plugin runs ([`check_in_place`]):
//! - a file with several hard links is refused: replacing it would split the
//!   links (the other names would keep the old bytes);
//! - a file without write permission, in a directory we cannot write, or on
//!   a read-only file system is refused: the copy could not be made or
//!   swapped in;
//! - a file owned by another user is refused unless we are root, because its
//!   replacement could not keep the owner;
//! - symlinks are resolved: the file they point to is replaced, in its own
//!   directory (copies never cross file systems);
//! - the replacement gets the original's mode, owner and group; other
//!   metadata (extended attributes, ACLs) is not carried over.
//!
//! Targets:
//! - [`Target::ReadOnly`]: the region refuses writes; nothing to commit.
//! - [`Target::InPlace`]: written inputs are replaced as above.
//! - [`Target::OutputDir`]: every input is written, transformed or not, to
//!   the directory under its own name, as one atomic step; inputs are never
//!   opened for writing.
//! - [`Target::Output`]: writes go to one new file beside the output path at
//!   their global offsets; at commit the bytes never written are copied in
//!   from the inputs and it is renamed into place.
//!
//! A dry run stages copies in the system's temporary directory and, instead
//! of committing, counts the bytes that would change.

mod finish;
mod guard;
pub(crate) mod journal;
mod recovery;
pub(crate) mod stage;

use std::collections::HashMap;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use guard::{check_report_file, check_side_file};
pub use journal::{recover, Recovered};
pub use recovery::recover_paths;
use stage::{SharedStaging, Staging, TempFile};

use crate::error::{describe_io, Error, ErrorKind, Result};
use crate::escape::Quoted;
use crate::filecopy::copy_range;
use crate::region::{Access, InputFile, Region};

/// Where writes go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Nowhere: the plugin may only read.
    ReadOnly,
    /// Into the input files, replaced atomically.
    InPlace,
    /// Into a new file holding the transformed concatenation.
    Output(PathBuf),
    /// Into a directory, each input under its own name.
    OutputDir(PathBuf),
}

impl Target {
    /// Whether the inputs will be replaced (they are locked exclusively).
    pub fn replaces_inputs(&self) -> bool {
        *self == Target::InPlace
    }

    /// Directories whose interrupted runs must be recovered before this run:
    /// those of the inputs and of the output.
    pub fn dirs_to_recover(&self, inputs: &[PathBuf]) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = inputs
            .iter()
            .map(|p| parent_dir(&p.canonicalize().unwrap_or_else(|_| p.clone())))
            .collect();
        match self {
            Target::Output(out) => dirs.push(parent_dir(out)),
            Target::OutputDir(dir) => dirs.push(dir.clone()),
            Target::ReadOnly | Target::InPlace => {}
        }
        dirs.sort();
        dirs.dedup();
        dirs
    }
}

/// The directories `mmhost recover PATH...` recovers: each path if it is a
/// directory, else the directory it is in (symlinks resolved, as
/// [`Target::dirs_to_recover`] resolves inputs).
///
/// # Errors
/// An input error naming a path that does not exist or cannot be resolved.
pub fn recovery_dirs(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    paths
        .iter()
        .map(|p| {
            let p = p
                .canonicalize()
                .map_err(|e| Error::input(p, describe_io(&e)))?;
            Ok(if p.is_dir() {
                p
            } else {
                p.parent().map(PathBuf::from).unwrap_or(p)
            })
        })
        .collect()
}

fn parent_dir(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A crash-test hook: when `MMHOST_FAILPOINT` names this point, the process
/// kills itself with SIGKILL right here. The test suite uses it to stop a
/// run at every step of a commit; it costs one comparison otherwise.
pub(crate) fn failpoint(name: &str) {
    static POINT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let point = POINT.get_or_init(|| std::env::var("MMHOST_FAILPOINT").ok());
    if point.as_deref() == Some(name) {
        let _ =
            rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    }
}

/// What a commit did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitReport {
    /// Files written (replaced inputs, or the outputs).
    pub files: Vec<PathBuf>,
    /// Bytes the plugin wrote.
    pub bytes_written: u64,
    /// For a dry run: per written input, the bytes that would change.
    pub dry_run: Option<Vec<(PathBuf, u64)>>,
}

/// Refuses inputs that cannot be replaced safely; see the module docs.
pub fn check_in_place(inputs: &[InputFile]) -> Result<()> {
    let euid = rustix::process::geteuid();
    for input in inputs {
        let path = &input.path;
        let meta = std::fs::metadata(path).map_err(|e| Error::input(path, describe_io(&e)))?;
        if meta.nlink() > 1 {
            return Err(Error::input(
                path,
                format!(
                    "has {} hard links; replacing it in place would split them (write with \
                     --output-dir instead)",
                    meta.nlink()
                ),
            ));
        }
        let write_bits = if euid.is_root() {
            0o222
        } else if meta.uid() == euid.as_raw() {
            0o200
        } else {
            return Err(Error::input(
                path,
                "is owned by another user; its replacement could not keep the owner",
            ));
        };
        if meta.mode() & write_bits == 0 {
            return Err(Error::input(path, "is read-only (no write permission)"));
        }
        let real = path
            .canonicalize()
            .map_err(|e| Error::input(path, describe_io(&e)))?;
        let dir = parent_dir(&real);
        if rustix::fs::access(&dir, rustix::fs::Access::WRITE_OK).is_err() {
            return Err(Error::input(
                path,
                format!(
                    "its directory {} is not writable (the new version is made beside it)",
                    Quoted(&dir)
                ),
            ));
        }
        if let Ok(vfs) = rustix::fs::statvfs(&dir) {
            if vfs.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY) {
                return Err(Error::input(path, "is on a read-only file system"));
            }
        }
    }
    Ok(())
}

/// A region opened for a target, and what is needed to commit it. Dropping it
/// without [`Pending::commit`] removes every copy: nothing changes.
pub struct Pending {
    target: Target,
    staging: Option<Arc<Mutex<Staging>>>,
    /// The `--output FILE` copy.
    output: Option<TempFile>,
    dry_run: bool,
}

/// Maps validated `inputs` as a region for `target`; see the module docs.
pub fn prepare(
    inputs: Vec<InputFile>,
    target: &Target,
    dry_run: bool,
) -> Result<(Region, Pending)> {
    let mut pending = Pending {
        target: target.clone(),
        staging: None,
        output: None,
        dry_run,
    };
    // A dry run without a target behaves like an in-place run.
    let effective = match (target, dry_run) {
        (Target::ReadOnly, true) => &Target::InPlace,
        _ => target,
    };
    let scratch = dry_run.then(std::env::temp_dir);
    let region = match effective {
        Target::ReadOnly => Region::open(inputs, Access::ReadOnly)?,
        Target::InPlace => {
            if !dry_run {
                check_in_place(&inputs)?;
            }
            let dests = inputs
                .iter()
                .map(|f| {
                    f.path
                        .canonicalize()
                        .map_err(|e| Error::input(&f.path, describe_io(&e)))
                })
                .collect::<Result<Vec<_>>>()?;
            copy_on_write(inputs, dests, scratch, &mut pending)?
        }
        Target::OutputDir(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| Error::output(dir, describe_io(&e)))?;
            let dir = dir
                .canonicalize()
                .map_err(|e| Error::output(dir, describe_io(&e)))?;
            let mut names: HashMap<std::ffi::OsString, &Path> = HashMap::new();
            let mut dests = Vec::new();
            for f in &inputs {
                let name = f
                    .path
                    .file_name()
                    .ok_or_else(|| Error::input(&f.path, "has no file name"))?;
                if let Some(other) = names.insert(name.to_os_string(), &f.path) {
                    return Err(Error::input(
                        &f.path,
                        format!(
                            "has the same name as {}; both would be written to {}",
                            Quoted(other),
                            Quoted(&dir.join(name))
                        ),
                    ));
                }
                dests.push(dir.join(name));
            }
            if !dry_run {
                let paths: Vec<PathBuf> = inputs.iter().map(|f| f.path.clone()).collect();
                guard::check_output_dir(&dir, &dests, &paths)?;
            }
            copy_on_write(inputs, dests, scratch, &mut pending)?
        }
        Target::Output(named) => {
            // A symlink is followed; a device, FIFO or directory refused.
            let out = &guard::output_file(named)?;
            if !dry_run {
                let paths: Vec<PathBuf> = inputs.iter().map(|f| f.path.clone()).collect();
                guard::check_output(named, out, &paths)?;
            }
            pending.target = Target::Output(out.clone());
            let dir = scratch.unwrap_or_else(|| parent_dir(out));
            let like = std::fs::metadata(out).ok();
            let mut temp = TempFile::create(&dir, out, like.as_ref())?;
            let file = temp
                .take_file()
                .expect("a new temporary file has its descriptor");
            pending.output = Some(temp);
            Region::open(inputs, Access::Output(file, out.clone()))?
        }
    };
    Ok((region, pending))
}

fn copy_on_write(
    inputs: Vec<InputFile>,
    dests: Vec<PathBuf>,
    scratch: Option<PathBuf>,
    pending: &mut Pending,
) -> Result<Region> {
    let staging = Arc::new(Mutex::new(Staging::new(dests, scratch)));
    pending.staging = Some(staging.clone());
    Region::open(
        inputs,
        Access::CopyOnWrite(Box::new(SharedStaging(staging))),
    )
}

impl Pending {
    /// The target this was opened for.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Makes the run's writes durable, all or nothing (or, for a dry run,
    /// counts what would change and discards everything).
    pub fn commit(mut self, region: &Region) -> Result<CommitReport> {
        failpoint("commit");
        let bytes_written = region.stats().bytes_written;
        if self.dry_run {
            let mut changes = Vec::new();
            for i in region.written_inputs() {
                let input = &region.inputs()[i];
                let n = region
                    .changed_bytes(i)
                    .map_err(|e| Error::input(&input.path, describe_io(&e)))?;
                changes.push((input.path.clone(), n));
            }
            return Ok(CommitReport {
                files: Vec::new(),
                bytes_written,
                dry_run: Some(changes),
            });
        }
        let files = match &self.target {
            Target::ReadOnly => Vec::new(),
            Target::Output(out) => {
                region.finish_output()?;
                let temp = self.output.as_mut().expect("output target has a copy");
                std::fs::rename(&temp.path, out).map_err(|e| {
                    Error::output(
                        out,
                        format!(
                            "cannot rename the finished file into place: {}",
                            describe_io(&e)
                        ),
                    )
                })?;
                temp.keep();
                let _ = journal::sync_dir(&parent_dir(out));
                vec![out.clone()]
            }
            Target::InPlace | Target::OutputDir(_) => {
                let staging = self
                    .staging
                    .take()
                    .expect("copy-on-write target has staging");
                let mut staging = staging.lock().unwrap_or_else(|e| e.into_inner());
                let every_input = matches!(self.target, Target::OutputDir(_));
                finish_copies(region, &mut staging, every_input)?;
                let mut renames = Vec::new();
                let mut files = Vec::new();
                for (i, temp) in staging.temps.iter().enumerate() {
                    if let Some(t) = temp {
                        renames.push((t.path.clone(), staging.dests[i].clone()));
                        // Name replaced inputs as the user did.
                        files.push(match self.target {
                            Target::InPlace => region.inputs()[i].path.clone(),
                            _ => staging.dests[i].clone(),
                        });
                    }
                }
                failpoint("synced");
                journal::commit(&renames).map_err(|e| {
                    Error::new(
                        ErrorKind::Output,
                        format!(
                            "committing {} files: {} (the next mmhost run over these files, or \
                             `mmhost recover`, will finish or undo it)",
                            renames.len(),
                            describe_io(&e)
                        ),
                    )
                })?;
                for t in staging.temps.iter_mut().flatten() {
                    t.keep();
                }
                files
            }
        };
        Ok(CommitReport {
            files,
            bytes_written,
            dry_run: None,
        })
    }
}

/// Makes every copy complete and durable: staged copies of mapped files are
/// synced, written packed files are written out, and (for an output
/// directory) untouched inputs are copied too.
fn finish_copies(region: &Region, staging: &mut Staging, every_input: bool) -> Result<()> {
    for (i, input) in region.inputs().iter().enumerate() {
        let dest = staging.dests[i].clone();
        let fail = |e: io::Error| Error::output(&dest, describe_io(&e));
        if region.finish_staged(i).map_err(fail)? {
            continue;
        }
        if region.is_written(i) {
            let temp = staging.create(i, input)?;
            region.write_input_to(i, temp.file()).map_err(fail)?;
        } else if every_input {
            let temp = staging.create(i, input)?;
            match input.file() {
                Some(src) => copy_range(src, temp.file(), 0, input.len),
                None => region.write_input_to(i, temp.file()),
            }
            .and_then(|()| temp.file().sync_all())
            .map_err(fail)?;
        }
    }
    Ok(())
}
