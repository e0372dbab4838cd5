//! The words `mmhost` uses to describe a job: the paragraph `mmhost check`
//! prints (what runs, over how many files and bytes, where writes go) and
//! the line after a run (or `mmhost commit`) that says what it wrote.
//! In the library so that other front ends (the Dask driver, embedders)
//! print the same words.

use crate::escape::Quoted;
use std::fmt::Write as _;
use std::path::Path;

use super::{Job, Report};
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
            "{}: ok: {} step{} over {} input file{} ({}); writes: {target}{}\n",
            Quoted(job_file),
            self.steps.len(),
            if self.steps.len() == 1 { "" } else { "s" },
            self.inputs.len(),
            if self.inputs.len() == 1 { "" } else { "s" },
            crate::plural::count(bytes, "byte"),
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

impl Report {
    /// What a finished run wrote, in one line (without the `mmhost: `
    /// prefix): for a dry run, how many bytes would change in which files;
    /// for a run that writes to `target`, the bytes written and the files
    /// changed; `None` for a read-only run.
    pub fn writes_summary(&self, target: &Target) -> Option<String> {
        writes_line(
            self.commit.dry_run.as_deref(),
            *target != Target::ReadOnly,
            self.stats.bytes_written,
            &self.commit.files,
        )
    }
}

/// The one line (without the `mmhost: ` prefix) that says what a finished
/// run wrote, for `mmhost run` and `mmhost commit` alike: with `dry_run`
/// (per written input, the bytes that would change), what would change;
/// else, if the run `writes`, the `bytes` written and the `files` changed;
/// else `None`.
pub fn writes_line<P: AsRef<Path>, F: AsRef<Path>>(
    dry_run: Option<&[(P, u64)]>,
    writes: bool,
    bytes: u64,
    files: &[F],
) -> Option<String> {
    if let Some(changes) = dry_run {
        let total: u64 = changes.iter().map(|(_, n)| n).sum();
        let list: Vec<String> = changes
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(p, n)| format!("{} ({n})", Quoted(p.as_ref())))
            .collect();
        Some(format!(
            "dry run: {} would change in {} file{}{}{}; nothing was written",
            crate::plural::count(total, "byte"),
            list.len(),
            if list.len() == 1 { "" } else { "s" },
            if list.is_empty() { "" } else { ": " },
            list.join(", ")
        ))
    } else if writes {
        let files: Vec<String> = files
            .iter()
            .map(|p| Quoted(p.as_ref()).to_string())
            .collect();
        Some(format!(
            "wrote {}; {} file{} changed{}{}",
            crate::plural::count(bytes, "byte"),
            files.len(),
            if files.len() == 1 { "" } else { "s" },
            if files.is_empty() { "" } else { ": " },
            files.join(", ")
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_write_line_for_a_dry_run_a_write_and_a_read_only_run() {
        let changes = [("a".to_string(), 3u64), ("b c".to_string(), 0)];
        assert_eq!(
            writes_line(Some(&changes[..]), true, 9, &[] as &[String]).unwrap(),
            "dry run: 3 bytes would change in 1 file: a (3); nothing was written"
        );
        assert_eq!(
            writes_line(None::<&[(String, u64)]>, true, 5, &["x", "y z"]).unwrap(),
            "wrote 5 bytes; 2 files changed: x, 'y z'"
        );
        assert_eq!(
            writes_line(None::<&[(String, u64)]>, true, 0, &[] as &[String]).unwrap(),
            "wrote 0 bytes; 0 files changed"
        );
        assert_eq!(
            writes_line(None::<&[(String, u64)]>, true, 1, &["x"]).unwrap(),
            "wrote 1 byte; 1 file changed: x"
        );
        let one = [("a".to_string(), 1u64)];
        assert_eq!(
            writes_line(Some(&one[..]), true, 1, &[] as &[String]).unwrap(),
            "dry run: 1 byte would change in 1 file: a (1); nothing was written"
        );
        assert!(writes_line(None::<&[(String, u64)]>, false, 5, &["x"]).is_none());
    }
}
