//! A job: which plugins run, one after another, over which files, with which
//! arguments, configuration and limits, and where their writes go; and the
//! one place that carries it out.
//!
//! Data flows one way: the job's inputs are validated, every step's plugin
//! is loaded, the files are mapped into a [`Region`](crate::region::Region),
//! the [`Runtime`] runs each step over that same region in turn (a step sees
//! the writes of the steps before it), and [`commit`](mod@crate::commit) makes
//! the writes durable once, at the end, or drops them all if any step failed.
//! Inputs are checked before any plugin is compiled, and every plugin is
//! loaded before anything is mapped, so a typo in a file name or a bad
//! plugin in the last step fails at once, before any work.
//!
//! `mmhost run PLUGIN FILE...` is a one-step job ([`Job::single`]); a JSON job
//! file ([`file`](mod@file)) describes the rest.

pub mod file;
mod glob_walk;
pub mod report;
pub mod request;
mod strict_json;
mod summary;
mod units;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::commit::{self, CommitReport, Recovered, Target};
use crate::error::{Error, ErrorKind, Limit, Result};
use crate::region::{open_inputs, Placement, Stats};
use crate::runtime::{Plugin, RunOptions, RunResult, Runtime};

pub use request::JobRequest;
pub use summary::writes_line;
pub use units::{format_duration, parse_duration, parse_size};

/// One plugin run of a job.
#[derive(Debug, Clone)]
pub struct Step {
    /// The plugin file (component, core module or `.wat`).
    pub plugin: PathBuf,
    /// A label for the report; `None`: the plugin's file stem.
    pub name: Option<String>,
    /// Arguments, configuration and limits of the run.
    pub run: RunOptions,
}

impl Step {
    /// A step running `plugin` with `run`.
    pub fn new(plugin: impl Into<PathBuf>, run: RunOptions) -> Step {
        Step {
            plugin: plugin.into(),
            name: None,
            run,
        }
    }

    /// The step's label: its name, else the plugin's file stem.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            self.plugin
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| self.plugin.display().to_string())
        })
    }
}

/// Plugins run one after another over a list of files.
#[derive(Debug, Clone)]
pub struct Job {
    /// The steps, in the order they run. At least one.
    pub steps: Vec<Step>,
    /// The input files, in region order.
    pub inputs: Vec<PathBuf>,
    /// Where writes go.
    pub target: Target,
    /// Run with writes enabled, commit nothing, report what would change.
    pub dry_run: bool,
    /// Wall-clock limit on all the steps together (each step's own limit is
    /// in its [`RunOptions::timeout`]).
    pub timeout: Option<Duration>,
    /// The job file this job was read from; errors of a step then start with
    /// `FILE: steps[i]: `. Without it they do so only in a job of several
    /// steps (`steps[i]: `).
    pub source: Option<PathBuf>,
}

/// What a job did, step by step. Filled as the job goes, so that a failed job
/// still tells which steps ran (see [`Job::execute_into`]).
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The last step's `ok` text (the earlier steps' texts were written to the
    /// output stream after their own output).
    pub ok: String,
    /// The size of the region.
    pub size: u64,
    /// Bytes read and written by all the steps.
    pub stats: Stats,
    /// What was committed.
    pub commit: CommitReport,
    /// One entry per step of the job, in order.
    pub steps: Vec<StepReport>,
    /// The segment table of the region (empty if the job failed before the
    /// inputs were mapped).
    pub segments: Vec<SegmentReport>,
}

/// What one step did.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// The step's label.
    pub name: String,
    /// The plugin file.
    pub plugin: PathBuf,
    /// How it ended.
    pub outcome: StepOutcome,
    /// Bytes this step read and wrote.
    pub stats: Stats,
    /// Wall-clock time of the step (instantiation and run).
    pub time: Duration,
}

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// It did not run: the job failed before it.
    NotRun,
    /// It returned `ok` with this text.
    Ok(String),
    /// It failed; the error's kind and first line.
    Failed {
        /// The kind of failure (fixes the exit code).
        kind: ErrorKind,
        /// The error message.
        message: String,
    },
}

/// One input file's place in the region, and how it was laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentReport {
    /// The path of the file, as text (bytes that are not UTF-8 replaced).
    pub name: String,
    /// The path of the file.
    pub path: PathBuf,
    /// Global offset of its first byte.
    pub start: u64,
    /// Its length.
    pub len: u64,
    /// Mapped, packed or empty; `None` when the inputs were copied into one
    /// output file, which is mapped whole (`--output`).
    pub placement: Option<Placement>,
}

/// The output stream shared by the steps of a job, in order.
#[derive(Clone)]
struct SharedOut(Arc<Mutex<Box<dyn Write + Send>>>);

impl Write for SharedOut {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .write_all(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).flush()
    }
}

impl Job {
    /// A job of one step: `plugin` over `inputs` (what `mmhost run PLUGIN
    /// FILE...` runs).
    pub fn single(
        plugin: impl Into<PathBuf>,
        inputs: Vec<PathBuf>,
        target: Target,
        run: RunOptions,
        dry_run: bool,
    ) -> Job {
        Job {
            steps: vec![Step::new(plugin, run)],
            inputs,
            target,
            dry_run,
            timeout: None,
            source: None,
        }
    }

    /// What goes before the message of an error of step `i`.
    fn step_prefix(&self, i: usize) -> Option<String> {
        match &self.source {
            Some(file) => Some(format!("{}: steps[{i}]: ", crate::escape::Quoted(file))),
            None if self.steps.len() > 1 => Some(format!("steps[{i}]: ")),
            None => None,
        }
    }

    fn step_error(&self, i: usize, e: Error) -> Error {
        match self.step_prefix(i) {
            Some(p) if !e.is_broken_pipe() => e.prefixed(p),
            _ => e,
        }
    }

    /// Loads the plugin of every step not in `skip` (each distinct file
    /// once, as [`Job::load_plugins`]) and returns every error, each naming
    /// its step: for `mmhost check`, which reports them all.
    pub fn load_errors(&self, runtime: &Runtime, skip: &[usize]) -> Vec<Error> {
        let mut errors = Vec::new();
        let mut tried: Vec<(&std::path::Path, bool)> = Vec::new();
        for (i, step) in self.steps.iter().enumerate() {
            let key = (step.plugin.as_path(), step.run.fuel.is_some());
            if skip.contains(&i) || tried.contains(&key) {
                continue;
            }
            tried.push(key);
            let mut run = step.run.clone();
            run.timeout = match (run.timeout, self.timeout) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if let Err(e) = runtime.load_for(&step.plugin, &run) {
                errors.push(self.step_error(i, e));
            }
        }
        errors
    }

    /// Loads every step's plugin (each distinct file once), checking that it
    /// implements the world. Returns the plugins and, per step, the index of
    /// its plugin. Used by [`Job::execute`] and by `mmhost check`.
    pub fn load_plugins(&self, runtime: &Runtime) -> Result<(Vec<Plugin>, Vec<usize>)> {
        if self.steps.is_empty() {
            return Err(Error::new(
                ErrorKind::Usage,
                "a job needs at least one step",
            ));
        }
        let mut plugins: Vec<Plugin> = Vec::new();
        let mut index = Vec::with_capacity(self.steps.len());
        for (i, step) in self.steps.iter().enumerate() {
            // A plugin is loaded once per file, and once more if some step
            // runs it with fuel (that needs code compiled with metering).
            let metered = step.run.fuel.is_some();
            match plugins
                .iter()
                .position(|p| p.path() == step.plugin && p.metered() == metered)
            {
                Some(k) => index.push(k),
                None => {
                    // Compiling is bounded by the step's time limit and the
                    // job's, whichever is shorter.
                    let mut run = step.run.clone();
                    run.timeout = match (run.timeout, self.timeout) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    let plugin = runtime
                        .load_for(&step.plugin, &run)
                        .map_err(|e| self.step_error(i, e))?;
                    index.push(plugins.len());
                    plugins.push(plugin);
                }
            }
        }
        Ok((plugins, index))
    }

    /// Runs the job, writing the plugins' output stream to `out`.
    ///
    /// First finishes or undoes any interrupted run in the directories this
    /// job touches (telling `on_recovery`), so that nothing reads a file
    /// caught between two versions.
    pub fn execute(
        &self,
        runtime: &Runtime,
        out: Box<dyn Write + Send>,
        on_recovery: &mut dyn FnMut(&Recovered),
    ) -> Result<Report> {
        let mut report = Report::default();
        self.execute_into(runtime, out, on_recovery, &mut report)?;
        Ok(report)
    }

    /// [`Job::execute`], filling `report` as the job goes: on failure it
    /// still holds every step (those that did not run as
    /// [`StepOutcome::NotRun`]) and, once the inputs were mapped, the
    /// segment table.
    ///
    /// The steps run one after another over one region; each step's `ok`
    /// text but the last is written to `out` after that step's own output
    /// (the last is [`Report::ok`], for the caller to print after the
    /// commit). A failing step stops the job and nothing is committed.
    pub fn execute_into(
        &self,
        runtime: &Runtime,
        out: Box<dyn Write + Send>,
        on_recovery: &mut dyn FnMut(&Recovered),
        report: &mut Report,
    ) -> Result<()> {
        report.steps = self
            .steps
            .iter()
            .map(|s| StepReport {
                name: s.label(),
                plugin: s.plugin.clone(),
                outcome: StepOutcome::NotRun,
                stats: Stats::default(),
                time: Duration::ZERO,
            })
            .collect();
        if self.steps.is_empty() {
            return Err(Error::new(
                ErrorKind::Usage,
                "a job needs at least one step",
            ));
        }
        let dirs = self.target.dirs_to_recover(&self.inputs);
        let recovered = commit::recover(&dirs).map_err(|e| {
            Error::new(
                ErrorKind::Input,
                format!(
                    "recovering an interrupted run: {}",
                    crate::error::describe_io(&e)
                ),
            )
        })?;
        recovered.iter().for_each(&mut *on_recovery);
        let exclusive = self.target.replaces_inputs() && !self.dry_run;
        let inputs = open_inputs(&self.inputs, exclusive)?;
        let (plugins, index) = self.load_plugins(runtime)?;
        let (mut region, pending) = commit::prepare(inputs, &self.target, self.dry_run)?;
        // Until the region is unmapped, a file truncated under it is named by
        // the SIGBUS handler, if the program installed it.
        let _watching = crate::sigbus::watch(&region);
        report.size = region.size();
        let slots = region.layout().slots();
        report.segments = region
            .segments()
            .iter()
            .enumerate()
            .map(|(i, seg)| SegmentReport {
                name: seg.name.clone(),
                path: region
                    .inputs()
                    .get(i)
                    .map(|f| f.path.clone())
                    .unwrap_or_else(|| PathBuf::from(&seg.name)),
                start: seg.start,
                len: seg.len,
                placement: slots.get(i).map(|slot| slot.placement),
            })
            .collect();

        let out = SharedOut(Arc::new(Mutex::new(out)));
        // A limit so far away that the clock cannot hold its end (years on
        // end) is no limit: saturate rather than overflow.
        let deadline = self
            .timeout
            .and_then(|t| Some((Instant::now().checked_add(t)?, t)));
        let last = self.steps.len() - 1;
        for (i, step) in self.steps.iter().enumerate() {
            let mut opts = step.run.clone();
            // The job's limit binds this step when less of it is left than
            // the step's own limit.
            let mut job_limit_binds = false;
            if let Some((end, total)) = deadline {
                let left = end.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    let e = self.step_error(i, job_timeout(&plugins[index[i]], total));
                    report.steps[i].outcome = StepOutcome::Failed {
                        kind: e.kind(),
                        message: e.message().to_string(),
                    };
                    return Err(e);
                }
                if opts.timeout.is_none_or(|t| left < t) {
                    opts.timeout = Some(left);
                    job_limit_binds = true;
                }
            }
            let before = region.stats();
            let started = Instant::now();
            let RunResult {
                region: back,
                result,
            } = runtime.run(&plugins[index[i]], region, &opts, Box::new(out.clone()));
            region = back;
            let after = region.stats();
            let step_report = &mut report.steps[i];
            step_report.time = started.elapsed();
            step_report.stats = Stats {
                bytes_read: after.bytes_read - before.bytes_read,
                bytes_written: after.bytes_written - before.bytes_written,
                bytes_scanned: after.bytes_scanned - before.bytes_scanned,
            };
            report.stats = after;
            let result = result.and_then(|text| {
                if i < last && !text.is_empty() {
                    let nl = if text.ends_with('\n') { "" } else { "\n" };
                    let mut out = out.clone();
                    write!(out, "{text}{nl}")
                        .and_then(|()| out.flush())
                        .map_err(crate::runtime::output_error)?;
                }
                Ok(text)
            });
            match result {
                Ok(text) => step_report.outcome = StepOutcome::Ok(text),
                Err(e) => {
                    let e = match deadline {
                        Some((end, total))
                            if job_limit_binds
                                && e.limit() == Some(Limit::Timeout)
                                && Instant::now() >= end =>
                        {
                            let mut limit = job_timeout(&plugins[index[i]], total);
                            if let Some(d) = e.details() {
                                limit = limit.with_details(d);
                            }
                            limit
                        }
                        _ => e,
                    };
                    let e = self.step_error(i, e);
                    step_report.outcome = StepOutcome::Failed {
                        kind: e.kind(),
                        message: e.message().to_string(),
                    };
                    // `pending` is dropped on return, which discards what
                    // it can: nothing of any step is committed.
                    return Err(e);
                }
            }
        }
        if let StepOutcome::Ok(text) = &report.steps[last].outcome {
            report.ok = text.clone();
        }
        report.commit = pending.commit(&region)?;
        Ok(())
    }
}

fn job_timeout(plugin: &Plugin, total: Duration) -> Error {
    Error::new(
        ErrorKind::PluginTrap,
        format!(
            "plugin {}: timeout: the job's time limit of {} ran out",
            plugin.name(),
            format_duration(total)
        ),
    )
    .with_limit(Limit::Timeout)
}

/// The directory relative paths of a job file are resolved against.
pub(crate) fn base_dir(job_file: &Path) -> PathBuf {
    match job_file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::new(),
    }
}
