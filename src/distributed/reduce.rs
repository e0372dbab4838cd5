//! `mmhost reduce`: gathers the result lines of every chunk (from any
//! number of files, in any order), checks that each chunk is there exactly
//! once and that its emitted bytes are intact, writes those bytes in chunk
//! order, and combines the partial results with the plugin's `reduce`: what
//! `mmhost run` prints for the same job.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;

use super::chunk_run::{ChunkResult, OutputRef};
use super::plan::Plan;
use super::{check_inputs, check_plugin, sha256_file, staging};
use crate::error::{describe_io, Error, ErrorKind, Result};
use crate::region::{open_inputs, Region};
use crate::runtime::{LogLevel, Runtime};

/// What a reduce produced: the `ok` text (already printed after the emitted
/// bytes) and the bytes the chunks wrote.
#[derive(Debug, Clone)]
pub struct ReduceOutcome {
    /// The plugin's `ok` text.
    pub ok: String,
    /// Sum of the chunks' `written`.
    pub written: u64,
}

/// Reads result lines from `files` (`-`: standard input) and returns one
/// result per chunk, in chunk order; a missing, duplicated or failed chunk,
/// or a line that is not a result, is a usage error naming it.
pub fn gather(plan: &Plan, files: &[PathBuf]) -> Result<Vec<ChunkResult>> {
    let mut found: Vec<Option<(ChunkResult, String)>> = vec![None; plan.chunk_count];
    for file in files {
        let reader: Box<dyn Read> = if file.as_os_str() == "-" {
            Box::new(std::io::stdin())
        } else {
            Box::new(std::fs::File::open(file).map_err(|e| {
                Error::new(
                    ErrorKind::Usage,
                    format!(
                        "{}: cannot read results: {}",
                        file.display(),
                        describe_io(&e)
                    ),
                )
            })?)
        };
        for (n, line) in BufReader::new(reader).lines().enumerate() {
            let at = format!("{}:{}", file.display(), n + 1);
            let line = line
                .map_err(|e| Error::new(ErrorKind::Usage, format!("{at}: {}", describe_io(&e))))?;
            if line.trim().is_empty() {
                continue;
            }
            let r: ChunkResult = serde_json::from_str(&line).map_err(|e| {
                Error::new(
                    ErrorKind::Usage,
                    format!("{at}: not a chunk result line: {e}"),
                )
            })?;
            if r.chunk >= plan.chunk_count {
                return Err(Error::new(
                    ErrorKind::Usage,
                    format!(
                        "{at}: chunk {} is not in the plan (it has {})",
                        r.chunk,
                        crate::plural::count(plan.chunk_count as u64, "chunk")
                    ),
                ));
            }
            if let Some(err) = &r.error {
                return Err(Error::new(
                    ErrorKind::Usage,
                    format!(
                        "{at}: chunk {} failed{}: {err}",
                        r.chunk,
                        r.exit.map(|c| format!(" (exit {c})")).unwrap_or_default()
                    ),
                ));
            }
            if let Some((_, first)) = &found[r.chunk] {
                return Err(Error::new(
                    ErrorKind::Usage,
                    format!("{at}: chunk {} appears twice (first at {first})", r.chunk),
                ));
            }
            let k = r.chunk;
            found[k] = Some((r, at));
        }
    }
    let missing: Vec<String> = found
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_none())
        .map(|(k, _)| k.to_string())
        .collect();
    if !missing.is_empty() {
        let shown: Vec<&str> = missing.iter().take(20).map(String::as_str).collect();
        return Err(Error::new(
            ErrorKind::Usage,
            format!(
                "{} of {} chunks have no result: chunk{} {}{}",
                missing.len(),
                plan.chunk_count,
                if missing.len() == 1 { "" } else { "s" },
                shown.join(", "),
                if missing.len() > shown.len() {
                    ", ..."
                } else {
                    ""
                }
            ),
        ));
    }
    Ok(found
        .into_iter()
        .map(|r| r.expect("checked above").0)
        .collect())
}

/// Checks a chunk's output file against its result line.
fn check_output(r: &ChunkResult) -> Result<&Path> {
    let Some(out) = &r.output else {
        return Err(Error::new(
            ErrorKind::Usage,
            format!("chunk {}: its result names no output file", r.chunk),
        ));
    };
    check_emitted(
        out,
        &format!("chunk {}'s output", r.chunk),
        "run the chunk again",
    )
}

/// Checks an emitted-bytes file against its length and SHA-256; `what`
/// names it in messages, `fix` says what to do.
fn check_emitted<'a>(out: &'a OutputRef, what: &str, fix: &str) -> Result<&'a Path> {
    let path = out.path.as_path();
    let fail = |how: String| {
        Error::new(
            ErrorKind::Output,
            format!("{}: {what} {how}; {fix}", path.display()),
        )
    };
    let len = std::fs::metadata(path)
        .map_err(|e| fail(format!("cannot be read: {}", describe_io(&e))))?
        .len();
    if len != out.len {
        return Err(fail(format!("is {len} bytes, the result says {}", out.len)));
    }
    let sha =
        sha256_file(path).map_err(|e| fail(format!("cannot be read: {}", describe_io(&e))))?;
    if sha != out.sha256 {
        return Err(fail(format!(
            "has SHA-256 {sha}, the result says {}",
            out.sha256
        )));
    }
    Ok(path)
}

/// `mmhost reduce`: see the module docs. Writes the emitted bytes, then the
/// `ok` text (with a final newline, as `mmhost run`), to `out`.
pub fn reduce(
    runtime: &Runtime,
    plan_path: &Path,
    files: &[PathBuf],
    log_level: LogLevel,
    out: Box<dyn Write + Send>,
) -> Result<ReduceOutcome> {
    let out = Shared(Arc::new(Mutex::new(out)));
    let mut out = out.clone();
    let out = &mut out;
    let plan = Plan::read(plan_path)?;
    let results = gather(&plan, files)?;
    for r in &results {
        check_output(r)?;
    }
    let write_err = |e: std::io::Error| {
        Error::new(ErrorKind::Output, format!("writing to stdout: {e}")).with_io_kind(e.kind())
    };
    let plan_out = match &plan.plan_output {
        Some(o) => Some(check_emitted(o, "the plan's output", "plan the run again")?),
        None => None,
    };
    // What `plan` emitted, then each chunk's bytes, in chunk order.
    for path in plan_out.into_iter().chain(
        results
            .iter()
            .map(|r| r.output.as_ref().expect("checked").path.as_path()),
    ) {
        let mut f = std::fs::File::open(path).map_err(|e| Error::output(path, describe_io(&e)))?;
        std::io::copy(&mut f, out).map_err(write_err)?;
    }
    let mut written: u64 = results.iter().map(|r| r.written).sum();
    let mut record = ReduceRecord::default();
    let ok = if plan.halo.is_none() {
        results[0].ok.clone().ok_or_else(|| {
            Error::new(
                ErrorKind::Usage,
                "chunk 0: the plan runs the job whole, but its result has no `ok` text",
            )
        })?
    } else {
        let mut partials = Vec::with_capacity(results.len());
        for r in &results {
            partials.push(
                base64::engine::general_purpose::STANDARD
                    .decode(&r.partial)
                    .map_err(|e| {
                        Error::new(
                            ErrorKind::Usage,
                            format!("chunk {}: its partial result is not base64: {e}", r.chunk),
                        )
                    })?,
            );
        }
        check_plugin(&plan)?;
        if plan.inputs.iter().any(|i| Path::new(&i.name).is_relative()) {
            std::env::set_current_dir(&plan.cwd)
                .map_err(|e| Error::input(&plan.cwd, describe_io(&e)))?;
        }
        check_inputs(&plan)?;
        let names: Vec<PathBuf> = plan.inputs.iter().map(|i| PathBuf::from(&i.name)).collect();
        // The region `reduce` sees is the one the chunks left: the new
        // versions, complete once `complete_for_other_chunks` below has
        // filled, in place, the ranges of chunks that did not write a file;
        // its own writes go into them too (see `staging`).
        let region = Region::open(open_inputs(&names, false)?, staging::access(&plan)?)?;
        // Only files a chunk wrote have new bytes (and so a new version
        // worth a descriptor and a mapping).
        let mut wrote = vec![false; plan.inputs.len()];
        for k in results.iter().flat_map(|r| r.files_written.iter()) {
            if let Some(w) = wrote.get_mut(*k) {
                *w = true;
            }
        }
        staging::complete_for_other_chunks(&plan, &region, &results)?;
        region.adopt_new_versions(&wrote)?;
        let mut opts = plan.run_options(log_level);
        opts.random_seed = opts.random_seed.map(|s| s ^ 0x7265_6475_6365); // "reduce"
        let plugin = runtime.load_for(&plan.plugin.path, &opts)?;
        out.flush().map_err(write_err)?;
        let run = runtime.reduce(&plugin, region, &opts, &partials, Box::new(out.clone()));
        let ok = run.result?;
        let stats = run.region.stats();
        if stats.bytes_written > 0 {
            written += stats.bytes_written;
            keep_reduce_writes(&plan, &run.region)?;
        }
        record = ReduceRecord {
            ok: Some(ok.clone()),
            read: stats.bytes_read,
            scanned: stats.bytes_scanned,
            written: stats.bytes_written,
            files_written: run.region.written_inputs(),
        };
        ok
    };
    if record.ok.is_none() {
        record.ok = Some(ok.clone());
    }
    let line = serde_json::to_string(&record).expect("a reduce record serializes");
    super::plan::write_atomically(&plan.reduce_record(), format!("{line}\n").as_bytes())?;
    if !ok.is_empty() {
        let nl = if ok.ends_with('\n') { "" } else { "\n" };
        write!(out, "{ok}{nl}").map_err(write_err)?;
    }
    out.flush().map_err(write_err)?;
    Ok(ReduceOutcome { ok, written })
}

/// What `reduce` wrote, made whole and durable: its files completed
/// (packed inputs' bytes live in memory) and synced.
fn keep_reduce_writes(plan: &Plan, region: &Region) -> Result<()> {
    let mut opened = std::collections::BTreeMap::new();
    for i in region.written_inputs() {
        let seg = &region.segments()[i];
        staging::complete_range(plan, region, (seg.start, seg.start + seg.len), &mut opened)?;
    }
    staging::sync(region, &opened)
}

/// What the plugin's `reduce` did (`reduce.json` in the stage directory,
/// written by `mmhost reduce`): `commit` renames the files it wrote too, and
/// a driver reads it for its report.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ReduceRecord {
    /// The run's `ok` text (`None` only before `reduce` ran).
    #[serde(default)]
    pub ok: Option<String>,
    /// Bytes `reduce` read (0 for a plan run whole in chunk 0).
    #[serde(default)]
    pub read: u64,
    /// Bytes the host scanned for `reduce` (`find`, `digest`, `count`).
    #[serde(default)]
    pub scanned: u64,
    /// Bytes `reduce` wrote.
    #[serde(default)]
    pub written: u64,
    /// The inputs (indices) `reduce` wrote to.
    #[serde(default)]
    pub files_written: Vec<usize>,
}

impl ReduceRecord {
    /// The record of `plan`'s `reduce`, if it ran.
    pub fn read(plan: &Plan) -> Result<Option<ReduceRecord>> {
        let path = plan.reduce_record();
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(text.trim())
                .map(Some)
                .map_err(|e| super::plan_error(&path, format!("not a reduce record: {e}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::input(&path, describe_io(&e))),
        }
    }
}

/// The output stream, shared by the chunks' bytes, the plugin's `reduce`
/// and the `ok` text, in that order.
#[derive(Clone)]
struct Shared(Arc<Mutex<Box<dyn Write + Send>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).flush()
    }
}
