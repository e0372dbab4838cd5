//! The words `mmhost` prints about a distributed run (each line without the
//! `mmhost: ` prefix): what `plan` planned, what `commit` wrote (the very
//! formatter of `mmhost run`'s line, [`crate::job::writes_line`], so the two
//! can never differ) and what `abort` removed. In the library so that a
//! driver prints the same words.

use super::finish::CommitOutcome;
use super::plan::Plan;
use crate::escape::Quoted;

impl Plan {
    /// `planned run ID: B bytes in N chunks (halo H); stage directory D`.
    pub fn summary_line(&self) -> String {
        format!(
            "planned run {}: {} in {} chunk{} ({}); stage directory {}",
            self.run_id,
            crate::plural::count(self.region_size, "byte"),
            self.chunk_count,
            if self.chunk_count == 1 { "" } else { "s" },
            match self.halo {
                Some(h) => format!("halo {h}"),
                None => "the whole job in one task".to_string(),
            },
            Quoted(&self.stage_dir)
        )
    }
}

impl CommitOutcome {
    /// What the commit wrote (or, for a dry run, would change), in the words
    /// of `mmhost run`; `None` for a read-only plan.
    pub fn summary_line(&self) -> Option<String> {
        crate::job::writes_line(
            self.dry_run.as_deref(),
            self.writes,
            self.written,
            &self.files,
        )
    }
}

impl CommitOutcome {
    /// Writes what the commit did as one line of JSON to `path`
    /// (`mmhost commit --summary`): `written`, `files` (named as `mmhost
    /// run --report json` names them) and `dry_run_changes` (that report's
    /// field: per input, the bytes that would change; `null` unless a dry
    /// run).
    ///
    /// # Errors
    /// `path` cannot be written (exit code 6).
    pub fn write_summary(&self, path: &std::path::Path) -> crate::error::Result<()> {
        let changes = self.dry_run.as_ref().map(|c| {
            c.iter()
                .map(|(name, bytes)| serde_json::json!({"path": name, "bytes": bytes}))
                .collect::<Vec<_>>()
        });
        let doc = serde_json::json!({
            "written": self.written,
            "files": self.files,
            "dry_run_changes": changes,
        });
        super::plan::write_atomically(path, format!("{doc}\n").as_bytes())
    }
}

/// What `mmhost abort` did, having removed `removed` staged files.
pub fn abort_line(removed: usize) -> String {
    if removed > 0 {
        format!(
            "aborted: removed {removed} staged file{}; the files are unchanged",
            if removed == 1 { "" } else { "s" }
        )
    } else {
        "aborted: nothing staged was left to remove".to_string()
    }
}
