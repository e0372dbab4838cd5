//! Where the writes of a distributed run's processes go: straight into the
//! staged new versions that `plan` prepared, each process inside its own
//! chunks' ranges.
//!
//! A `run-chunk` process opens its region with [`access`]: for `-o FILE`
//! the staged output file, not emptied ([`Access::OutputPart`]); for `-i`
//! and `--output-dir`, a [`Stage`] that hands out the staged new version of
//! an input on its first write. The plugin's writes thus land in the staged
//! files once, with `pwrite`, at their final offsets (no scratch file, no
//! second copy). The chunk views keep every write inside its chunk, and
//! chunks never share a block of a file (`plan` cut them on `--block-size`
//! boundaries within each file), so processes never write the same block.
//!
//! When its chunks have returned, the process completes their ranges with
//! [`complete_range`]: the bytes the plugin did not write are copied in from
//! the inputs (in the kernel, hole-aware), and for packed inputs (small
//! files, whose writes live in memory) the current bytes. A chunk's range
//! is then entirely rewritten by every run of it, so a rerun (a retried
//! task) leaves exactly the same bytes, whatever an earlier, killed run left
//! there. [`sync`] makes them durable before the process reports the chunks.
//! One exception, so that no region data is copied for nothing: in place,
//! a process completes only the files it wrote, because a file no process
//! writes gets no new version; `reduce`, which sees every chunk's result,
//! completes the files some process wrote over the other chunks' ranges
//! ([`complete_for_other_chunks`]), and `commit` refuses to run before it.
//!
//! `reduce` opens its region the same way and reads the complete new
//! versions ([`Region::adopt_new_versions`](crate::region::Region)).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use super::plan::{Plan, TargetKind};
use crate::error::{describe_io, Error, Result};
use crate::region::{Access, InputFile, Region, Stage};

/// Opens a staged new version for writing (and reading: the region maps it).
fn open_staged(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| {
            Error::output(
                path,
                format!(
                    "the staged new version is gone or unwritable ({}); was the run aborted or \
                     recovered?",
                    describe_io(&e)
                ),
            )
        })
}

/// Hands out the staged new versions of a plan's inputs.
struct PlanStage {
    /// Per input: its staged new version.
    staged: Vec<Option<PathBuf>>,
}

impl Stage for PlanStage {
    fn stage(&mut self, index: usize, input: &InputFile) -> Result<File> {
        let Some(path) = self.staged.get(index).and_then(Option::as_ref) else {
            return Err(Error::output(
                &input.path,
                "the plan stages no new version of this input",
            ));
        };
        let file = open_staged(path)?;
        let len = file
            .metadata()
            .map_err(|e| Error::output(path, describe_io(&e)))?
            .len();
        if len != input.len {
            return Err(Error::output(
                path,
                format!(
                    "the staged new version is {len} bytes, not {}; plan the run again",
                    input.len
                ),
            ));
        }
        Ok(file)
    }
}

/// How a process of `plan`'s run opens its region: writes straight into
/// the staged new versions (see the module docs).
///
/// # Errors
/// The staged output is gone or unwritable (exit code 6).
pub(crate) fn access(plan: &Plan) -> Result<Access> {
    Ok(match plan.target.kind {
        TargetKind::ReadOnly => Access::ReadOnly,
        TargetKind::Output => {
            let Some(staged) = &plan.target.staged else {
                return Err(Error::output(
                    plan.target.path.as_deref().unwrap_or(Path::new("-o")),
                    "the plan names no staged output; plan the run again",
                ));
            };
            Access::OutputPart(open_staged(staged)?, staged.clone())
        }
        TargetKind::InPlace | TargetKind::OutputDir => Access::CopyOnWrite(Box::new(PlanStage {
            staged: plan.inputs.iter().map(|i| i.staged.clone()).collect(),
        })),
    })
}

/// Completes `[start, end)` of the new versions after the plugin ran over
/// it: what it did not write comes from the inputs (see the module docs).
/// Staged files this opens are kept in `opened` (for [`sync`]).
///
/// # Errors
/// A staged file cannot be opened or written, an input cannot be read
/// (exit code 6).
pub(crate) fn complete_range(
    plan: &Plan,
    region: &Region,
    (start, end): (u64, u64),
    opened: &mut BTreeMap<PathBuf, File>,
) -> Result<()> {
    // In place, a new version is committed only if some process wrote the
    // file: one this process did not write is left to `reduce`
    // ([`complete_for_other_chunks`]), which knows whether any did; copying
    // it here would copy region data that is thrown away when none did.
    // `--output-dir` commits every new version: all are completed.
    let wrote_here = region.written_inputs();
    let needed = |i: usize| plan.target.kind != TargetKind::InPlace || wrote_here.contains(&i);
    let segments = region.segments();
    let first = segments.partition_point(|s| s.start + s.len <= start);
    for i in (first..segments.len()).take_while(|&i| segments[i].start < end) {
        let seg = &segments[i];
        let (a, b) = (start.max(seg.start), end.min(seg.start + seg.len));
        if a >= b {
            continue;
        }
        let input = &region.inputs()[i].path;
        let copy_err = |dst: &Path, e: std::io::Error| {
            Error::output(
                dst,
                format!(
                    "completing its new version from {}: {}",
                    input.display(),
                    describe_io(&e)
                ),
            )
        };
        if plan.target.kind == TargetKind::Output {
            let Some((target, path)) = region.output_target() else {
                continue;
            };
            for (ga, gb) in region.unwritten(a, b) {
                region
                    .copy_input_span(i, ga - seg.start, target, ga, gb - ga)
                    .map_err(|e| copy_err(path, e))?;
            }
        } else if let Some(copy) = region.staged_copy(i) {
            // Written (and mapped): only the ranges not written.
            let path = plan.inputs[i].staged.as_deref().unwrap_or(input);
            for (ga, gb) in region.unwritten(a, b) {
                region
                    .copy_input_span(i, ga - seg.start, copy, ga - seg.start, gb - ga)
                    .map_err(|e| copy_err(path, e))?;
            }
        } else if let (Some(path), true) = (&plan.inputs[i].staged, needed(i)) {
            // Not written, or packed (its bytes, written or not, are in
            // memory): the whole range as it is now.
            if !opened.contains_key(path) {
                opened.insert(path.clone(), open_staged(path)?);
            }
            region
                .copy_input_span(i, a - seg.start, &opened[path], a - seg.start, b - a)
                .map_err(|e| copy_err(path, e))?;
        }
    }
    Ok(())
}

/// In-place runs: completes, over the ranges of the chunks whose process did
/// not write it, every file that some process wrote, from the inputs (in the
/// kernel, hole-aware), and makes it durable. `reduce` calls this before it
/// reads the new versions, with every chunk's result: only then is it known
/// which files get a new version (see [`complete_range`]). A chunk's
/// `files_written` lists the files its process wrote, and that process
/// completed them over all its chunks' ranges.
///
/// # Errors
/// A staged file cannot be opened, written or synced, an input cannot be
/// read (exit code 6).
pub(crate) fn complete_for_other_chunks(
    plan: &Plan,
    region: &Region,
    results: &[super::chunk_run::ChunkResult],
) -> Result<()> {
    if plan.target.kind != TargetKind::InPlace {
        return Ok(());
    }
    let wrote: std::collections::BTreeSet<usize> = results
        .iter()
        .flat_map(|r| r.files_written.iter().copied())
        .collect();
    let mut opened: BTreeMap<PathBuf, File> = BTreeMap::new();
    for &k in &wrote {
        let (Some(seg), Some(path)) = (
            region.segments().get(k),
            plan.inputs.get(k).and_then(|i| i.staged.as_ref()),
        ) else {
            continue;
        };
        for r in results.iter().filter(|r| !r.files_written.contains(&k)) {
            let Some(c) = plan.chunks.get(r.chunk) else {
                continue;
            };
            let (a, b) = (c.start.max(seg.start), c.end.min(seg.start + seg.len));
            if a >= b {
                continue;
            }
            if !opened.contains_key(path) {
                opened.insert(path.clone(), open_staged(path)?);
            }
            region
                .copy_input_span(k, a - seg.start, &opened[path], a - seg.start, b - a)
                .map_err(|e| {
                    Error::output(
                        path,
                        format!(
                            "completing its new version from {}: {}",
                            region.inputs()[k].path.display(),
                            describe_io(&e)
                        ),
                    )
                })?;
        }
    }
    for (path, f) in &opened {
        f.sync_all()
            .map_err(|e| Error::output(path, describe_io(&e)))?;
    }
    Ok(())
}

/// Makes every staged file this process wrote durable (`fsync`): the
/// output, the staged copies its region made, and those in `opened`.
///
/// # Errors
/// A failed `fsync` (exit code 6).
pub(crate) fn sync(region: &Region, opened: &BTreeMap<PathBuf, File>) -> Result<()> {
    let fail = |p: &Path, e: std::io::Error| Error::output(p, describe_io(&e));
    if let Some((target, path)) = region.output_target() {
        target.sync_all().map_err(|e| fail(path, e))?;
    }
    for i in 0..region.inputs().len() {
        if let Some(copy) = region.staged_copy(i) {
            copy.sync_all()
                .map_err(|e| fail(&region.inputs()[i].path, e))?;
        }
    }
    for (path, f) in opened {
        f.sync_all().map_err(|e| fail(path, e))?;
    }
    Ok(())
}
