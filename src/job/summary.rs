//! The one-paragraph description of a resolved job that `mmhost check`
//! prints: what runs, over how many files and bytes, and where writes go.
//! In the library so that other front ends (the Dask driver, embedders)
//! print the same words.

use crate::escape::Quoted;
use std::fmt::Write as _;
use std::path::Path;

use super::Job;
use crate::commit::Target;

impl Job {
    /// `JOB_FILE: ok: N steps over M input files (B bytes); writes: ...`,
    /// then one line per step. Input sizes are read from the file system
    /// now; a file that cannot be read counts 0 bytes (the run reports it).
    pub fn summary(&self, job_file: &Path) -> String {
        let bytes: u64 = self
            .inputs
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        let target = match &self.target {
            Target::ReadOnly => "read-only".to_string(),
            Target::InPlace => "in place".to_string(),
            Target::Output(p) => format!("output {}", Quoted(p)),
            Target::OutputDir(p) => format!("output directory {}", Quoted(p)),
        };
        let mut text = format!(
            "{}: ok: {} step{} over {} input file{} ({bytes} bytes); writes: {target}{}\n",
            Quoted(job_file),
            self.steps.len(),
            if self.steps.len() == 1 { "" } else { "s" },
            self.inputs.len(),
            if self.inputs.len() == 1 { "" } else { "s" },
            if self.dry_run { " (dry run)" } else { "" },
        );
        for (i, step) in self.steps.iter().enumerate() {
            let _ = writeln!(
                text,
                "  steps[{i}]: {} ({})",
                Quoted(Path::new(&step.label())),
                Quoted(&step.plugin)
            );
        }
        text
    }
}
