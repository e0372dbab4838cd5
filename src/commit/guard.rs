//! Where a run may not write: checks of the output paths (`--output`,
//! `--output-dir`, `--report-file`) against what they would replace.
//!
//! `--in-place` refuses inputs it cannot replace safely
//! ([`super::check_in_place`]); the other targets must not become a way
//! around those refusals, nor replace what the user did not mean to:
//! - `--output FILE` is replaced by renaming a new file over it. A symlink
//!   is followed, as `--in-place` follows a symlinked input: the file it
//!   points to is replaced (and created, if it does not exist yet). A
//!   device node, FIFO or socket is refused: the rename would put a regular
//!   file in its place (`-o /dev/null` run as root would replace the
//!   system's `/dev/null`). An input named as the output is refused: that
//!   is an in-place run without the in-place checks (`-i` does it safely).
//! - `--output-dir DIR` is refused when a file it would replace is one of
//!   the inputs (the inputs' own directory): that too would replace inputs
//!   past every `-i` refusal (read-only files, hard links).
//! - `--report-file FILE` is refused when it is an input, the output file,
//!   or a file the output directory would get: writing the report there
//!   would overwrite it, even in a read-only run.
//!
//! Files are compared by device and inode (through any path, symlink or
//! hard link); a path that does not exist yet by its resolved location.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{parent_dir, Target};
use crate::error::{describe_io, Error, ErrorKind, Result};

/// How many symlinks [`output_file`] follows before giving up (as the
/// kernel's `ELOOP`).
const MAX_SYMLINKS: usize = 40;

/// The path `--output out` really replaces: `out`, or the file at the end
/// of its symlinks. Refuses a directory, a device, FIFO or socket.
pub(crate) fn output_file(out: &Path) -> Result<PathBuf> {
    let mut path = out.to_path_buf();
    for _ in 0..MAX_SYMLINKS {
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(path),
            Err(e) => return Err(Error::output(out, describe_io(&e))),
        };
        let ft = meta.file_type();
        if ft.is_symlink() {
            let to = std::fs::read_link(&path).map_err(|e| Error::output(out, describe_io(&e)))?;
            path = if to.is_absolute() {
                to
            } else {
                parent_dir(&path).join(to)
            };
            continue;
        }
        if ft.is_file() {
            return Ok(path);
        }
        if ft.is_dir() {
            return Err(Error::output(out, "is a directory"));
        }
        let through = if path == out {
            String::new()
        } else {
            format!(" (through a symlink: {})", path.display())
        };
        return Err(Error::output(
            out,
            format!(
                "{}{through}; the output is written to a new file renamed over it, which would \
                 replace it: name a regular file, or omit --output to use standard output",
                crate::region::inputs::file_type_name(&ft)
            ),
        ));
    }
    Err(Error::output(out, "too many levels of symbolic links"))
}

/// Device and inode of the file at `path` (following symlinks), if any.
fn id(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// The inputs' identities, with their paths (standard input has none).
fn input_ids(inputs: &[PathBuf]) -> Vec<((u64, u64), &Path)> {
    inputs
        .iter()
        .filter(|p| p.as_os_str() != "-")
        .filter_map(|p| Some((id(p)?, p.as_path())))
        .collect()
}

/// The input that is the same file as `path`, if one is.
fn same_as_input<'a>(path: &Path, ids: &[((u64, u64), &'a Path)]) -> Option<&'a Path> {
    let this = id(path)?;
    ids.iter().find(|(i, _)| *i == this).map(|(_, p)| *p)
}

/// Refuses an `--output` (already resolved by [`output_file`]) that is one
/// of the inputs.
pub(crate) fn check_output(out: &Path, dest: &Path, inputs: &[PathBuf]) -> Result<()> {
    if let Some(input) = same_as_input(dest, &input_ids(inputs)) {
        return Err(Error::new(
            ErrorKind::Usage,
            format!(
                "{}: --output is the input {}; replacing an input this way would skip the \
                 checks of --in-place (read-only files, hard links): use -i to change inputs \
                 in place",
                out.display(),
                input.display()
            ),
        ));
    }
    Ok(())
}

/// Refuses an `--output-dir` in which one of `dests` (the files it would
/// replace) is one of the inputs.
pub(crate) fn check_output_dir(dir: &Path, dests: &[PathBuf], inputs: &[PathBuf]) -> Result<()> {
    let ids = input_ids(inputs);
    for dest in dests {
        if let Some(input) = same_as_input(dest, &ids) {
            return Err(Error::new(
                ErrorKind::Usage,
                format!(
                    "{}: --output-dir would replace the input {} ({} is that file), skipping \
                     the checks of --in-place (read-only files, hard links): use -i to change \
                     inputs in place, or choose another directory",
                    dir.display(),
                    input.display(),
                    dest.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Where `path` would be: its parent resolved (or, if it does not exist
/// yet, made absolute), and its name.
fn location(path: &Path) -> Option<PathBuf> {
    let parent = parent_dir(path);
    let parent = parent
        .canonicalize()
        .or_else(|_| std::path::absolute(&parent))
        .ok()?;
    Some(parent.join(path.file_name()?))
}

/// Refuses a `--report-file` that is an input, the output file, or a file
/// the output directory would get.
pub fn check_report_file(report: &Path, inputs: &[PathBuf], target: &Target) -> Result<()> {
    check_side_file(report, ("--report-file", "the report"), inputs, target)
}

/// Refuses a file that a run writes beside its results (`flag`, writing
/// `what`: `--report-file`, `--coredump`) when it is an input, the output
/// file, or a file the output directory would get.
pub fn check_side_file(
    report: &Path,
    (flag, written): (&str, &str),
    inputs: &[PathBuf],
    target: &Target,
) -> Result<()> {
    let refuse = |what: String| {
        Err(Error::new(
            ErrorKind::Usage,
            format!(
                "{}: {flag} is {what}; writing {written} would overwrite it: choose \
                 another file",
                report.display()
            ),
        ))
    };
    if let Some(input) = same_as_input(report, &input_ids(inputs)) {
        return refuse(format!("the input {}", input.display()));
    }
    let here = location(report);
    let same = |other: &Path| {
        matches!((id(report), id(other)), (Some(a), Some(b)) if a == b)
            || (here.is_some() && here == location(other))
    };
    match target {
        Target::Output(out) => {
            let dest = output_file(out).unwrap_or_else(|_| out.clone());
            if same(out) || same(&dest) {
                return refuse(format!("the output file {}", out.display()));
            }
        }
        Target::OutputDir(dir) => {
            for input in inputs {
                if let Some(name) = input.file_name() {
                    let dest = dir.join(name);
                    if same(&dest) {
                        return refuse(format!(
                            "{}, which --output-dir writes (from {})",
                            dest.display(),
                            input.display()
                        ));
                    }
                }
            }
        }
        Target::ReadOnly | Target::InPlace => {}
    }
    Ok(())
}
