//! A job: which plugin runs over which files, with which arguments and limits,
//! and where its writes go; and the one place that carries it out.
//!
//! Data flows one way: the job's inputs are validated, the plugin is loaded,
//! the files are mapped into a [`Region`](crate::region::Region), the
//! [`Runtime`] runs the plugin over it, and [`commit`](crate::commit) makes the
//! writes durable (or drops them). Inputs are checked before the plugin is
//! compiled, so a typo in a file name fails at once, not after a long compile.

use std::io::Write;
use std::path::PathBuf;

use crate::commit::{self, CommitReport, Recovered, Target};
use crate::error::{Error, ErrorKind, Result};
use crate::region::{open_inputs, Stats};
use crate::runtime::{RunOptions, RunResult, Runtime};

/// One plugin over a list of files.
#[derive(Debug, Clone)]
pub struct Job {
    /// The plugin file (component, core module or `.wat`).
    pub plugin: PathBuf,
    /// The input files, in region order.
    pub inputs: Vec<PathBuf>,
    /// Where writes go.
    pub target: Target,
    /// Arguments and limits of the run.
    pub run: RunOptions,
    /// Run with writes enabled, commit nothing, report what would change.
    pub dry_run: bool,
}

/// What a successful job did.
#[derive(Debug, Clone)]
pub struct Report {
    /// The plugin's `ok` text.
    pub ok: String,
    /// The size of the region.
    pub size: u64,
    /// Bytes read and written by the plugin.
    pub stats: Stats,
    /// What was committed.
    pub commit: CommitReport,
}

impl Job {
    /// Runs the job, writing the plugin's output stream to `out`.
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
        let plugin = runtime.load_for(&self.plugin, &self.run)?;
        let (region, pending) = commit::prepare(inputs, &self.target, self.dry_run)?;
        // Until the region is unmapped, a file truncated under it is named by
        // the SIGBUS handler, if the program installed it.
        let _watching = crate::sigbus::watch(&region);
        let RunResult { region, result } = runtime.run(&plugin, region, &self.run, out);
        // On failure `pending` is dropped here, which discards what it can.
        let ok = result?;
        let commit = pending.commit(&region)?;
        Ok(Report {
            ok,
            size: region.size(),
            stats: region.stats(),
            commit,
        })
    }
}
