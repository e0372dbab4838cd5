//! `mmhost recover PATH...` as one call, and the words for what a recovery
//! did. Recovery itself (reading intent logs, finishing or undoing runs)
//! is the journal's; this module turns the paths a user names into the
//! directories to check, and each [`Recovered`] into the line every command
//! prints for it, so that `run`, `plan` and `recover` say it the same way.

use std::fmt;
use std::path::PathBuf;

use super::journal::{recover, Recovered};
use super::recovery_dirs;
use crate::error::{Error, ErrorKind, Result};
use crate::escape::Quoted;

/// Finishes or undoes the interrupted runs in `paths` (files or
/// directories: see [`recovery_dirs`]); what was done, one entry per run.
///
/// # Errors
/// An input error for a path that does not exist; an output error when a
/// run cannot be finished or undone.
pub fn recover_paths(paths: &[PathBuf]) -> Result<Vec<Recovered>> {
    let dirs = recovery_dirs(paths)?;
    recover(&dirs).map_err(|e| Error::new(ErrorKind::Output, format!("recovering: {e}")))
}

/// The line (without the `mmhost: ` prefix) that says what was recovered.
impl fmt::Display for Recovered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recovered::RolledForward(files) => write!(
                f,
                "finished an interrupted run: {} file{} replaced with the new version ({})",
                files.len(),
                if files.len() == 1 { "" } else { "s" },
                files
                    .iter()
                    .map(|p| Quoted(p).to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Recovered::RolledBack(n) => write!(
                f,
                "undid an interrupted run: removed {n} unfinished cop{}; the files are unchanged",
                if *n == 1 { "y" } else { "ies" }
            ),
            Recovered::Orphans(n) => write!(
                f,
                "removed {n} leftover cop{} of a killed run; the files are unchanged",
                if *n == 1 { "y" } else { "ies" }
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_count_files_and_copies_in_the_singular_and_plural() {
        let one = Recovered::RolledForward(vec![PathBuf::from("a b")]);
        assert_eq!(
            one.to_string(),
            "finished an interrupted run: 1 file replaced with the new version ('a b')"
        );
        assert_eq!(
            Recovered::RolledBack(2).to_string(),
            "undid an interrupted run: removed 2 unfinished copies; the files are unchanged"
        );
        assert_eq!(
            Recovered::Orphans(1).to_string(),
            "removed 1 leftover copy of a killed run; the files are unchanged"
        );
    }

    #[test]
    fn a_missing_path_is_an_input_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = recover_paths(&[dir.path().join("missing")]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Input);
        assert!(recover_paths(&[dir.path().to_path_buf()])
            .unwrap()
            .is_empty());
    }
}
