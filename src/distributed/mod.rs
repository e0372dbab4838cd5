//! Runs of `parallel` plugins spread over many processes or machines: the
//! four protocol commands of issue #12 (`mmhost plan`, `run-chunk`,
//! `reduce`, `commit`/`abort`), which any driver (the `mmhost-dask` package,
//! `xargs -P`, a Slurm job array) can call.
//!
//! # Why a plan document
//!
//! A local parallel run (`--jobs`) holds everything in one process: the
//! region, the chunk plan, the staged copies and their locks. Spread over
//! machines, every process must agree on the same facts without talking to
//! the others, so [`plan`] writes them once into a versioned JSON document
//! ([`plan::Plan`], JSON Schema in `schema/plan.schema.json`): the plugin and
//! its SHA-256, the inputs with their identity (device, inode, size, mtime),
//! the halo, the chunk boundaries, the staged new versions and the stage
//! directory. Each later command reads the plan and *checks* those facts
//! instead of trusting them: a changed input or plugin is refused with exit
//! code 3, because locks (`flock`) are not reliable across the nodes of a
//! shared file system.
//!
//! # Writes: staged new versions, filled chunk by chunk
//!
//! For a writing run, `plan` creates each new version beside its
//! destination, exactly where and how a local run stages it (same names,
//! modes, owners), as sparse files of the final length. A `run-chunk`
//! process writes straight into them, each write at its final offset
//! (`staging`), then copies in, from the inputs, the bytes of its chunks'
//! ranges the plugin did not write, and `fsync`s them. So a chunk's range
//! is complete after it ran, ranges of chunks never overlap (they lie on
//! `--block-size` boundaries within each file, so no two processes write
//! the same block of a file), and rerunning a chunk rewrites its whole
//! range with the same bytes. `reduce` reads the new versions, as a local
//! run's `reduce` reads the written region. `commit` then renames the
//! staged versions over
//! their destinations under the intent log of a local commit
//! ([`crate::commit`]), all or nothing; a coordinator killed before the
//! commit point leaves only staged copies, which `mmhost recover` (or the
//! next run in those directories) removes, and one killed after it is
//! finished by recovery.
//!
//! Modules: [`plan`] (the document and how it is made), [`chunk_run`]
//! (`run-chunk`), [`window`] (which inputs a `run-chunk` process opens),
//! `staging` (writes straight into the staged new versions),
//! [`reduce`](mod@reduce), [`finish`] (`commit` and `abort`); `request`
//! (a plan's request from command-line values) and `summary` (the lines
//! the commands print).

pub mod chunk_run;
pub mod finish;
pub mod plan;
pub mod reduce;
mod request;
mod staging;
mod summary;
pub mod window;

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{describe_io, Error, ErrorKind, Result};

pub use chunk_run::{run_chunks, ChunkRange};
pub use finish::{abort, commit, CommitOutcome};
pub use plan::{make_plan, Plan, PlanRequest};
pub use reduce::{reduce, ReduceOutcome};
pub use summary::abort_line;

/// The SHA-256 of a file's bytes, in lower-case hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Device, inode, size and modification time (ns) of `path`.
pub(crate) fn identity(path: &Path) -> std::io::Result<(u64, u64, u64, i64)> {
    let m = std::fs::metadata(path)?;
    Ok((
        m.dev(),
        m.ino(),
        m.len(),
        m.mtime() * 1_000_000_000 + m.mtime_nsec(),
    ))
}

/// The SHA-256 of a plugin: of its file, or of the module of a built-in
/// (so a worker whose mmhost has another version of it is refused).
///
/// # Errors
///
/// An unknown built-in name, or a file that cannot be read (exit code 4).
pub(crate) fn plugin_sha256(path: &Path) -> Result<String> {
    match crate::builtins::module(path)? {
        Some(module) => Ok(hex(&Sha256::digest(module))),
        None => sha256_file(path).map_err(|e| Error::plugin_load(path, describe_io(&e))),
    }
}

/// Checks that the plugin still has the SHA-256 the plan recorded.
pub(crate) fn check_plugin(plan: &Plan) -> Result<()> {
    let path = &plan.plugin.path;
    let now = plugin_sha256(path)?;
    if now != plan.plugin.sha256 {
        return Err(Error::input(
            path,
            format!(
                "the plugin changed since the plan (SHA-256 {now}, the plan has {}); plan the \
                 run again",
                plan.plugin.sha256
            ),
        ));
    }
    Ok(())
}

/// Checks that every input is still the file the plan saw (same device,
/// inode, size and modification time).
pub(crate) fn check_inputs(plan: &Plan) -> Result<()> {
    check_some_inputs(plan, &vec![true; plan.inputs.len()])
}

/// As [`check_inputs`], for the inputs `which` marks only (those a
/// `run-chunk` window touches: see [`window`]).
pub(crate) fn check_some_inputs(plan: &Plan, which: &[bool]) -> Result<()> {
    for (input, _) in plan.inputs.iter().zip(which).filter(|(_, &w)| w) {
        let path = &input.path;
        let (dev, ino, size, mtime) =
            identity(path).map_err(|e| Error::input(path, describe_io(&e)))?;
        let what = if (dev, ino) != (input.dev, input.ino) {
            "was replaced by another file".to_string()
        } else if size != input.size {
            format!(
                "changed size ({} bytes in the plan, {size} now)",
                input.size
            )
        } else if mtime != input.mtime_ns {
            "was modified".to_string()
        } else {
            continue;
        };
        return Err(Error::input(
            path,
            format!("{what} since the plan {}; plan the run again", plan.run_id),
        ));
    }
    Ok(())
}

/// A usage error about the plan file `path`.
pub(crate) fn plan_error(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Usage, format!("{}: {what}", path.display()))
}

/// The one step of `job` with what a plan needs of the job: plugin, inputs,
/// write target, run options (the job's time limit where the step has none)
/// and whether it is a dry run.
///
/// # Errors
///
/// A job of several steps: a distributed run has one step (exit code 2).
pub fn one_step(
    job: crate::job::Job,
) -> Result<(
    std::path::PathBuf,
    Vec<std::path::PathBuf>,
    crate::commit::Target,
    crate::runtime::RunOptions,
    bool,
)> {
    if job.steps.len() != 1 {
        let from = job
            .source
            .as_ref()
            .map(|f| format!("{}: ", f.display()))
            .unwrap_or_default();
        return Err(Error::new(
            ErrorKind::Usage,
            format!(
                "{from}{} steps; a distributed run has one step (plan each step as its own run)",
                job.steps.len()
            ),
        ));
    }
    let step = job.steps.into_iter().next().expect("one step");
    let mut run = step.run;
    if run.timeout.is_none() {
        run.timeout = job.timeout;
    }
    Ok((step.plugin, job.inputs, job.target, run, job.dry_run))
}
