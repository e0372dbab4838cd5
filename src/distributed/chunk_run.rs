//! `mmhost run-chunk`: one process runs chunks I..J of a plan in one
//! instance, puts each chunk's emitted bytes in the stage directory, fills
//! the chunks' ranges of the staged new versions, and prints one JSON line
//! per chunk.
//!
//! The region is opened over the plan's inputs, of which only those the
//! window of chunks I..J touches are opened and mapped (after checking that
//! each is still the file the plan saw; see [`super::window`]), with its
//! writes going straight into the staged new versions (`staging`);
//! the views of [`ChunkPlan`] hold the chunk to the read window (chunk plus
//! halo, halo bytes as they were before the run) and write window (the
//! chunk) of a local parallel run. When every chunk has returned, the bytes
//! of each chunk's range the plugin did not write are copied in from the
//! inputs and the staged files are synced: the range is then complete, and
//! a rerun (a retried task) writes exactly the same bytes, since the inputs
//! are checked unchanged, each chunk runs in a new instance and the
//! plugin's randomness is seeded from the run id and the chunk index.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::plan::{write_atomically, Plan, TargetKind};
use super::{check_plugin, check_some_inputs, sha256_file, staging, window};
use crate::error::{describe_io, Error, ErrorKind, Result};
use crate::region::chunk::ChunkPlan;
use crate::region::Region;
use crate::runtime::{chunk_seed, LogLevel, Runtime};

/// `--chunk I` or `--chunk I-J`: chunks I to J, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkRange {
    /// The first chunk.
    pub first: usize,
    /// The last chunk (inclusive).
    pub last: usize,
}

impl std::str::FromStr for ChunkRange {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let num = |t: &str| {
            t.trim()
                .parse::<usize>()
                .map_err(|_| format!("`{s}` is not a chunk index or range I-J"))
        };
        let (first, last) = match s.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => (num(s)?, num(s)?),
        };
        if first > last {
            return Err(format!("`{s}`: the range ends before it starts"));
        }
        Ok(ChunkRange { first, last })
    }
}

/// Where a chunk's (or the plan's) emitted bytes went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OutputRef {
    /// The file, absolute.
    pub path: PathBuf,
    /// Its length.
    pub len: u64,
    /// Its SHA-256, hex.
    pub sha256: String,
}

/// One line of `run-chunk`'s output (and the record it leaves in the stage
/// directory); a driver may also write failure lines (`error`, `exit`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkResult {
    /// The chunk's index.
    pub chunk: usize,
    /// For a plan whose halo is `null`: the `ok` text of the whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<String>,
    /// The partial result, base64.
    #[serde(default)]
    pub partial: String,
    /// The emitted bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputRef>,
    /// Bytes the plugin wrote.
    #[serde(default)]
    pub written: u64,
    /// Bytes the plugin read.
    #[serde(default)]
    pub read: u64,
    /// Bytes the host scanned for the plugin (`find`, `digest`, `count`).
    #[serde(default)]
    pub scanned: u64,
    /// Milliseconds the chunk took.
    #[serde(default)]
    pub ms: u64,
    /// Inputs (indices) the plugin wrote to while running this process's
    /// chunks.
    #[serde(default)]
    pub files_written: Vec<usize>,
    /// A failed chunk: its error (written by drivers, not by `run-chunk`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A failed chunk: its exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<i32>,
}

/// Runs `range` of the plan at `plan_path`; prints one JSON line per chunk
/// to `lines`, in chunk order, once all of them are durable.
pub fn run_chunks(
    runtime: &Runtime,
    plan_path: &Path,
    range: ChunkRange,
    log_level: LogLevel,
    lines: &mut dyn Write,
) -> Result<()> {
    let plan = Plan::read(plan_path)?;
    if range.last >= plan.chunk_count {
        return Err(Error::new(
            ErrorKind::Usage,
            format!(
                "--chunk {}-{}: the plan {} has {} chunk{} (0-{})",
                range.first,
                range.last,
                plan_path.display(),
                plan.chunk_count,
                if plan.chunk_count == 1 { "" } else { "s" },
                plan.chunk_count - 1
            ),
        ));
    }
    check_plugin(&plan)?;
    if plan.inputs.iter().any(|i| Path::new(&i.name).is_relative()) {
        std::env::set_current_dir(&plan.cwd).map_err(|e| {
            Error::input(
                &plan.cwd,
                format!(
                    "the plan's working directory (inputs are named relative to it): {}",
                    describe_io(&e)
                ),
            )
        })?;
    }
    // Only the inputs the window touches are checked and opened.
    let window = window::window(&plan, range);
    let touched = window::touched(&plan, window);
    check_some_inputs(&plan, &touched)?;
    let inputs = window::open_touched(&plan, &touched)?;
    if log_level >= LogLevel::Debug {
        eprintln!(
            "mmhost: run-chunk {}-{}: window [{}, {}) opened {} of {} inputs",
            range.first,
            range.last,
            window.0,
            window.1,
            touched.iter().filter(|&&t| t).count(),
            touched.len()
        );
    }
    let opts = plan.run_options(log_level);
    let plugin = runtime.load_for(&plan.plugin.path, &opts)?;
    let writing = plan.target.kind != TargetKind::ReadOnly;
    let access = staging::access(&plan)?;
    let region = Region::open(inputs, access)?;
    let _watching = crate::sigbus::watch(&region);
    let pid = std::process::id();
    let temp_out = |k: usize| {
        let mut name = plan.chunk_output(k).into_os_string();
        name.push(format!(".tmp-{pid}"));
        PathBuf::from(name)
    };
    let mut created: Vec<PathBuf> = Vec::new();
    let mut out = |k: u32| -> Result<Box<dyn Write + Send>> {
        let path = temp_out(k as usize);
        let file = File::create(&path).map_err(|e| Error::output(&path, describe_io(&e)))?;
        created.push(path);
        Ok(Box::new(BufWriter::with_capacity(1 << 16, file)))
    };
    let result = run_in_region(runtime, &plan, &plugin, region, range, &opts, &mut out);
    let (region, done) = match result {
        Ok(v) => v,
        Err(e) => {
            for p in &created {
                let _ = std::fs::remove_file(p);
            }
            return Err(e);
        }
    };
    let files_written = region.written_inputs();
    if writing {
        let mut opened: BTreeMap<PathBuf, File> = BTreeMap::new();
        for d in &done {
            let c = plan.chunks[d.index];
            staging::complete_range(&plan, &region, (c.start, c.end), &mut opened)?;
        }
        staging::sync(&region, &opened)?;
    }
    let mut text = String::new();
    for d in done {
        let tmp = temp_out(d.index);
        let path = plan.chunk_output(d.index);
        let fail = |e: std::io::Error| Error::output(&path, describe_io(&e));
        File::open(&tmp).and_then(|f| f.sync_all()).map_err(fail)?;
        std::fs::rename(&tmp, &path).map_err(fail)?;
        let len = std::fs::metadata(&path).map_err(fail)?.len();
        let sha256 = sha256_file(&path).map_err(fail)?;
        let result = ChunkResult {
            chunk: d.index,
            ok: d.ok,
            partial: base64::engine::general_purpose::STANDARD.encode(&d.partial),
            output: Some(OutputRef { path, len, sha256 }),
            written: d.written,
            read: d.read,
            scanned: d.scanned,
            ms: d.ms,
            files_written: files_written.clone(),
            error: None,
            exit: None,
        };
        let line = serde_json::to_string(&result).expect("a chunk result serializes");
        write_atomically(&plan.chunk_record(d.index), format!("{line}\n").as_bytes())?;
        text.push_str(&line);
        text.push('\n');
    }
    lines
        .write_all(text.as_bytes())
        .and_then(|()| lines.flush())
        .map_err(|e| {
            Error::new(ErrorKind::Output, format!("writing to stdout: {e}")).with_io_kind(e.kind())
        })
}

/// What one chunk of this process produced.
struct Done {
    index: usize,
    ok: Option<String>,
    partial: Vec<u8>,
    written: u64,
    read: u64,
    scanned: u64,
    ms: u64,
}

/// Runs the chunks (or, for a plan whose halo is `null`, the plugin's `run`
/// over the whole region) and gives the region back.
fn run_in_region(
    runtime: &Runtime,
    plan: &Plan,
    plugin: &crate::runtime::Plugin,
    region: Region,
    range: ChunkRange,
    opts: &crate::runtime::RunOptions,
    out: &mut dyn FnMut(u32) -> Result<Box<dyn Write + Send>>,
) -> Result<(Region, Vec<Done>)> {
    let Some(halo) = plan.halo else {
        // One chunk: the whole run, as `mmhost run -j 1` runs it.
        let started = Instant::now();
        let mut opts = opts.clone();
        opts.random_seed = opts.random_seed.map(|s| chunk_seed(s, 0));
        let before = region.stats();
        let run = runtime.run(plugin, region, &opts, out(0)?);
        let ok = run.result?;
        let after = run.region.stats();
        let done = Done {
            index: 0,
            ok: Some(ok),
            partial: Vec::new(),
            written: after.bytes_written - before.bytes_written,
            read: after.bytes_read - before.bytes_read,
            scanned: after.bytes_scanned - before.bytes_scanned,
            ms: started.elapsed().as_millis() as u64,
        };
        return Ok((run.region, vec![done]));
    };
    let chunks =
        ChunkPlan::some(region, plan.bounds(), halo, range.first, range.last).map_err(|_| {
            Error::new(
                ErrorKind::Usage,
                format!(
                    "the plan's chunks do not fit its inputs (halo {halo}); plan the run again"
                ),
            )
        })?;
    let ran = runtime.run_chunks(plugin, &chunks, opts, out);
    let region = chunks
        .into_region()
        .expect("every chunk view was dropped with its store");
    let done = ran?
        .into_iter()
        .map(|d| Done {
            index: d.index as usize,
            ok: None,
            partial: d.partial,
            written: d.written,
            read: d.read,
            scanned: d.scanned,
            ms: d.time.as_millis() as u64,
        })
        .collect();
    Ok((region, done))
}
