//! The machine-readable summary of a run, as `mmhost run --report json`
//! prints it: the outcome and exit code, each step's result, bytes read and
//! written, times, the segment table and what was committed.
//!
//! Its JSON Schema is [`schema_text`] (`mmhost schema --report`, committed
//! as `schema/report.schema.json`). Fields are only ever added within
//! `report_version` 1.

use std::path::{Path, PathBuf};
use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;

use super::file::Write;
use super::{Job, Report, StepOutcome};
use crate::commit::Target;
use crate::error::Error;
use crate::region::Placement;

/// The summary of one `mmhost run`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(title = "mmhost run report")]
pub struct RunReport {
    /// The version of this format: 1.
    pub report_version: u32,
    /// The version of mmhost that ran.
    pub mmhost_version: String,
    /// Whether the run succeeded (exit code 0).
    pub ok: bool,
    /// The process's exit code (see `mmhost --help`).
    pub exit_code: i32,
    /// The error's first line, if the run failed.
    pub error: Option<String>,
    /// The job file, for `mmhost run --job`.
    pub job_file: Option<PathBuf>,
    /// Where writes went: `"read_only"`, `"in_place"`, `{"output": FILE}` or
    /// `{"output_dir": DIR}` (null if the job could not be read).
    pub write: Option<Write>,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// The size of the region in bytes.
    pub size: u64,
    /// Bytes the steps read from the region, all together.
    pub bytes_read: u64,
    /// Bytes the steps wrote to the region, all together.
    pub bytes_written: u64,
    /// Bytes the host searched for the steps' `find` calls, all together (a
    /// parallel step's chunks search their halos too).
    pub bytes_scanned: u64,
    /// Wall-clock time of the whole run in milliseconds (loading the
    /// plugins, mapping, the steps and the commit).
    pub time_ms: f64,
    /// Every step of the job, in order.
    pub steps: Vec<StepJson>,
    /// The input files' places in the region (empty if the run failed before
    /// they were mapped).
    pub segments: Vec<SegmentJson>,
    /// The files written by the commit (empty for a read-only, dry or failed
    /// run).
    pub files_written: Vec<PathBuf>,
    /// Present only when a path in `files_written` is not valid UTF-8 (it
    /// then has U+FFFD in place of the bytes that are not): the bytes of
    /// every path of `files_written`, in the same order, in hexadecimal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files_written_bytes: Option<Vec<String>>,
    /// For a dry run that got to its end: per written input, how many bytes
    /// would change.
    pub dry_run_changes: Option<Vec<ChangeJson>>,
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// The plugin returned `ok`.
    Ok,
    /// The step failed: the plugin returned `err`, trapped, hit a limit, or
    /// could not be loaded.
    Failed,
    /// The step did not run: the job failed before it.
    NotRun,
}

/// One step of the run.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StepJson {
    /// The step's index in `steps`.
    pub index: usize,
    /// The step's name (by default the plugin's file stem).
    pub name: String,
    /// The plugin file.
    pub plugin: PathBuf,
    /// How it ended.
    pub status: StepStatus,
    /// The plugin's `ok` text, or the error's first line.
    pub message: Option<String>,
    /// For a failed step, the exit code its error gives.
    pub exit_code: Option<i32>,
    /// Bytes this step read from the region.
    pub bytes_read: u64,
    /// Bytes this step wrote to the region.
    pub bytes_written: u64,
    /// Bytes the host searched for this step's `find` calls.
    pub bytes_scanned: u64,
    /// Wall-clock time of the step (instantiation and run), milliseconds.
    pub time_ms: f64,
}

/// One input file's place in the region.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SegmentJson {
    /// The file's path.
    pub name: String,
    /// Present only when the path is not valid UTF-8 (`name` then has U+FFFD
    /// in place of the bytes that are not): its bytes in hexadecimal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_bytes: Option<String>,
    /// Global offset of its first byte.
    pub start: u64,
    /// Global offset after its last byte.
    pub end: u64,
    /// Its length in bytes.
    pub len: u64,
    /// `mapped`, `packed` (small files copied into memory), `empty`, or
    /// `unknown` (the run ended before the files were mapped).
    pub placement: String,
}

/// Bytes that a dry run would change in one file.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ChangeJson {
    /// The input file.
    pub path: PathBuf,
    /// Present only when the path is not valid UTF-8 (`path` then has U+FFFD
    /// in place of the bytes that are not): its bytes in hexadecimal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_bytes: Option<String>,
    /// How many of its bytes would change.
    pub bytes: u64,
}

/// `path` as JSON can carry it: bytes that are not UTF-8 become U+FFFD (a
/// `PathBuf` that is not UTF-8 does not serialize at all).
fn lossy(path: &Path) -> PathBuf {
    PathBuf::from(path.to_string_lossy().into_owned())
}

/// The bytes of `path` in hexadecimal.
fn hex(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str()
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The bytes of `path` in hexadecimal, if it is not valid UTF-8.
fn bytes_if_not_utf8(path: &Path) -> Option<String> {
    path.to_str().is_none().then(|| hex(path))
}

fn millis(d: Duration) -> f64 {
    // Microsecond resolution is plenty and keeps the numbers short.
    (d.as_micros() as f64) / 1000.0
}

fn placement(p: Option<Placement>, len: u64) -> &'static str {
    match (p, len) {
        (Some(Placement::Empty), _) | (None, 0) => "empty",
        (Some(Placement::Mapped), _) => "mapped",
        (Some(Placement::Packed), _) => "packed",
        (None, _) => "unknown",
    }
}

impl RunReport {
    /// The summary of a run of `job` (`None` if it could not even be read)
    /// that filled `report` and ended with `error` after `time`.
    pub fn new(
        job: Option<&Job>,
        report: &Report,
        error: Option<&Error>,
        time: Duration,
    ) -> RunReport {
        let exit_code = match error {
            None => 0,
            Some(e) if e.is_broken_pipe() => 141,
            Some(e) => e.exit_code(),
        };
        let steps = report
            .steps
            .iter()
            .enumerate()
            .map(|(index, s)| {
                let (status, message, exit_code) = match &s.outcome {
                    StepOutcome::NotRun => (StepStatus::NotRun, None, None),
                    StepOutcome::Ok(text) => (StepStatus::Ok, Some(text.clone()), None),
                    StepOutcome::Failed { kind, message } => (
                        StepStatus::Failed,
                        Some(message.clone()),
                        Some(kind.exit_code()),
                    ),
                };
                StepJson {
                    index,
                    name: s.name.clone(),
                    plugin: lossy(&s.plugin),
                    status,
                    message,
                    exit_code,
                    bytes_read: s.stats.bytes_read,
                    bytes_written: s.stats.bytes_written,
                    bytes_scanned: s.stats.bytes_scanned,
                    time_ms: millis(s.time),
                }
            })
            .collect();
        RunReport {
            report_version: 1,
            mmhost_version: env!("CARGO_PKG_VERSION").to_string(),
            ok: error.is_none(),
            exit_code,
            error: error.map(|e| e.message().to_string()),
            job_file: job.and_then(|j| j.source.as_deref().map(lossy)),
            write: job.map(|j| match &j.target {
                Target::ReadOnly => Write::ReadOnly,
                Target::InPlace => Write::InPlace,
                Target::Output(p) => Write::Output(lossy(p)),
                Target::OutputDir(p) => Write::OutputDir(lossy(p)),
            }),
            dry_run: job.is_some_and(|j| j.dry_run),
            size: report.size,
            bytes_read: report.stats.bytes_read,
            bytes_written: report.stats.bytes_written,
            bytes_scanned: report.stats.bytes_scanned,
            time_ms: millis(time),
            steps,
            segments: report
                .segments
                .iter()
                .map(|s| SegmentJson {
                    name: s.name.clone(),
                    name_bytes: bytes_if_not_utf8(&s.path),
                    start: s.start,
                    end: s.start + s.len,
                    len: s.len,
                    placement: placement(s.placement, s.len).to_string(),
                })
                .collect(),
            files_written: report.commit.files.iter().map(|p| lossy(p)).collect(),
            files_written_bytes: report
                .commit
                .files
                .iter()
                .any(|p| p.to_str().is_none())
                .then(|| report.commit.files.iter().map(|p| hex(p)).collect()),
            dry_run_changes: report.commit.dry_run.as_ref().map(|changes| {
                changes
                    .iter()
                    .map(|(path, bytes)| ChangeJson {
                        path: lossy(path),
                        path_bytes: bytes_if_not_utf8(path),
                        bytes: *bytes,
                    })
                    .collect()
            }),
        }
    }

    /// The report as one line of JSON (no newline), safe to print on a
    /// terminal (see [`crate::escape::json_safe`]).
    pub fn to_json_line(&self) -> String {
        crate::escape::json_safe(&serde_json::to_string(self).expect("a report serializes"))
    }
}

/// The JSON Schema of the report, as `mmhost schema --report` prints it.
pub fn schema_text() -> String {
    let schema = schemars::generate::SchemaSettings::draft07()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<RunReport>();
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    text.push('\n');
    text
}
