//! Expanding a glob pattern of a job's `inputs` into paths, without
//! following directory symlinks in `**`.
//!
//! The `glob` crate follows every directory symlink while it walks `**`, with
//! no cycle detection: a folder holding `a -> .` made `d/**/*.txt` walk
//! without end, and `/usr/**` (which holds `/usr/bin/X11 -> .`) did not
//! finish. This walker matches each path component with `glob::Pattern`
//! (the same syntax and options: `*` and `?` do not match `/` nor a leading
//! dot, `[*]` escapes) but does the walking itself, with the rule of bash's
//! `globstar` (since bash 4.3): **`**` does not descend into symlinks to
//! directories**. A symlinked directory named by a literal or a wildcard
//! component (`link/*.txt`, `*/x.txt`) is followed, as a shell would; under
//! `**` a symlink to a file is matched like a file, and a symlink to a
//! directory is neither entered nor (being a directory) taken as an input.
//! So every walk is finite and yields each path once.

use std::path::{Path, PathBuf};

use glob::{MatchOptions, Pattern};

/// Why a pattern could not be expanded.
#[derive(Debug)]
pub(super) enum WalkError {
    /// The pattern is not valid glob syntax.
    Pattern(String),
    /// A directory could not be listed.
    Io(PathBuf, std::io::Error),
}

const OPTIONS: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: true,
};

/// The paths that match `pattern`, sorted, each once.
pub(super) fn expand(pattern: &str) -> Result<Vec<PathBuf>, WalkError> {
    Pattern::new(pattern).map_err(|e| WalkError::Pattern(e.msg.to_string()))?;
    let (mut current, rest) = match pattern.strip_prefix('/') {
        Some(rest) => (vec![PathBuf::from("/")], rest),
        None => (vec![PathBuf::new()], pattern),
    };
    let parts: Vec<&str> = rest.split('/').filter(|c| !c.is_empty()).collect();
    for (k, part) in parts.iter().enumerate() {
        let last = k + 1 == parts.len();
        let mut next = Vec::new();
        if *part == "**" {
            for dir in &current {
                next.push(dir.clone());
                descend(dir, last, &mut next)?;
            }
        } else if !part.contains(['*', '?', '[']) {
            for dir in &current {
                let p = dir.join(part);
                if std::fs::symlink_metadata(&p).is_ok() {
                    next.push(p);
                }
            }
        } else {
            let matcher = Pattern::new(part).map_err(|e| WalkError::Pattern(e.msg.to_string()))?;
            for dir in &current {
                for (name, _) in list(dir)? {
                    if matcher.matches_with(&name.to_string_lossy(), OPTIONS) {
                        next.push(dir.join(name));
                    }
                }
            }
        }
        if !last {
            // Only directories (symlinks to them too) lead further.
            next.retain(|p| std::fs::metadata(or_dot(p)).is_ok_and(|m| m.is_dir()));
        }
        next.sort();
        next.dedup();
        current = next;
    }
    current.retain(|p| !p.as_os_str().is_empty());
    Ok(current)
}

fn or_dot(p: &Path) -> &Path {
    if p.as_os_str().is_empty() {
        Path::new(".")
    } else {
        p
    }
}

/// The entries of `dir` (names and types, symlinks not followed). A
/// directory that vanished lists as empty.
fn list(dir: &Path) -> Result<Vec<(std::ffi::OsString, std::fs::FileType)>, WalkError> {
    let fail = |e: std::io::Error| WalkError::Io(or_dot(dir).to_path_buf(), e);
    let entries = match std::fs::read_dir(or_dot(dir)) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(fail(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(fail)?;
        out.push((entry.file_name(), entry.file_type().map_err(fail)?));
    }
    Ok(out)
}

/// Adds every directory below `dir` (and, when `**` ends the pattern, every
/// other entry too), entering no symlink and no hidden entry.
fn descend(dir: &Path, everything: bool, out: &mut Vec<PathBuf>) -> Result<(), WalkError> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for (name, ft) in list(&d)? {
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let p = d.join(&name);
            if ft.is_dir() {
                out.push(p.clone());
                stack.push(p);
            } else if everything {
                out.push(p);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn star_star_does_not_enter_directory_symlinks() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("d");
        std::fs::create_dir_all(d.join("sub/deeper")).unwrap();
        std::fs::write(d.join("top.txt"), "1").unwrap();
        std::fs::write(d.join("sub/deeper/low.txt"), "2").unwrap();
        std::fs::write(d.join(".hidden.txt"), "3").unwrap();
        symlink(".", d.join("a")).unwrap();
        symlink(".", d.join("b")).unwrap();
        symlink("../top.txt", d.join("sub/file-link.txt")).unwrap();
        let pattern = format!("{}/**/*.txt", t.path().display());
        let got = expand(&pattern).unwrap();
        let want: Vec<PathBuf> = ["sub/deeper/low.txt", "sub/file-link.txt", "top.txt"]
            .iter()
            .map(|p| d.join(p))
            .collect();
        let mut want = want;
        want.sort();
        assert_eq!(
            got.iter()
                .filter(|p| p.starts_with(&d))
                .cloned()
                .collect::<Vec<_>>(),
            want
        );
        // A symlinked directory named by a wildcard component is followed.
        let got = expand(&format!("{}/d/[a]/top.txt", t.path().display())).unwrap();
        assert_eq!(got, [d.join("a/top.txt")]);
    }
}
