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

use crate::commit::{self, CommitReport, Target};
use crate::error::Result;
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
    pub fn execute(&self, runtime: &Runtime, out: Box<dyn Write + Send>) -> Result<Report> {
        let inputs = open_inputs(&self.inputs, self.target.writes_inputs())?;
        let plugin = runtime.load_for(&self.plugin, &self.run)?;
        let (region, pending) = commit::prepare(inputs, &self.target)?;
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
