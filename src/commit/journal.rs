//! The intent log that makes replacing several files one atomic step, and the
//! recovery that finishes or undoes a run that was killed.
//!
//! A commit renames finished copies over their destinations, possibly in
//! several directories. `rename` is atomic per file only, so the set of renames
//! is first written down in a journal:
//!
//! 1. every copy is complete and `fsync`ed (the caller's job);
//! 2. a *pointer* journal is written into every destination directory but the
//!    first, then the *primary* journal into the first; each is written to a
//!    temporary name, `fsync`ed, renamed into place and its directory
//!    `fsync`ed. The primary journal becoming durable is the commit point;
//! 3. the renames are done and their directories `fsync`ed;
//! 4. the journals are removed.
//!
//! Recovery, on any journal it finds: if the primary journal exists, the
//! commit point was passed, so it redoes the renames whose copies still exist
//! (roll forward); if not, it removes the copies (roll back). Either way the
//! files end all old or all new. A journal whose writer is still alive is left
//! alone: the writer holds an exclusive `flock` on it until it is removed.
//! Copies left without any journal (a run killed before committing) are
//! removed once no live process holds their lock.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rustix::fs::FlockOperation;
use serde::{Deserialize, Serialize};

use super::failpoint;

const PREFIX: &str = ".mmhost-journal-";
const SUFFIX: &str = ".json";
/// Marker in the names of staged copies: `.NAME.mmhost-PID-N.tmp`.
pub(crate) const TEMP_MARK: &str = ".mmhost-";
pub(crate) const TEMP_SUFFIX: &str = ".tmp";

#[derive(Serialize, Deserialize)]
struct Journal {
    version: u32,
    /// The journal whose existence marks the commit point.
    #[serde(with = "any_path")]
    primary: PathBuf,
    /// `(copy, destination)` pairs, absolute paths.
    #[serde(with = "any_path::pairs")]
    renames: Vec<(PathBuf, PathBuf)>,
}

/// Paths in a journal, whatever their bytes: a JSON string when the path is
/// UTF-8 (as journals have always held them), else `{"bytes": [...]}`, so
/// that a file whose name is not UTF-8 commits (and recovers) like any other.
mod any_path {
    use std::ffi::OsString;
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    use std::path::{Path, PathBuf};

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Text(String),
        Bytes { bytes: Vec<u8> },
    }

    fn repr(p: &Path) -> Repr {
        match p.to_str() {
            Some(s) => Repr::Text(s.to_string()),
            None => Repr::Bytes {
                bytes: p.as_os_str().as_bytes().to_vec(),
            },
        }
    }

    fn path(r: Repr) -> PathBuf {
        match r {
            Repr::Text(s) => PathBuf::from(s),
            Repr::Bytes { bytes } => PathBuf::from(OsString::from_vec(bytes)),
        }
    }

    pub(super) fn serialize<S: Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
        repr(p).serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
        Repr::deserialize(d).map(path)
    }

    /// The same for `(copy, destination)` pairs.
    pub(super) mod pairs {
        use super::*;

        pub(in super::super) fn serialize<S: Serializer>(
            v: &[(PathBuf, PathBuf)],
            s: S,
        ) -> Result<S::Ok, S::Error> {
            let v: Vec<(Repr, Repr)> = v.iter().map(|(a, b)| (repr(a), repr(b))).collect();
            v.serialize(s)
        }

        pub(in super::super) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Vec<(PathBuf, PathBuf)>, D::Error> {
            let v: Vec<(Repr, Repr)> = Vec::deserialize(d)?;
            Ok(v.into_iter().map(|(a, b)| (path(a), path(b))).collect())
        }
    }
}

fn parent(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `fsync` of a directory, so that renames and removals in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn try_lock(file: &File) -> bool {
    rustix::fs::flock(file, FlockOperation::NonBlockingLockExclusive).is_ok()
}

/// Writes `journal` durably at `path` (through a temporary name) and returns
/// the open, locked file.
fn write_journal(path: &Path, journal: &Journal) -> io::Result<File> {
    let tmp = path.with_extension("json.tmp");
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)?;
    rustix::fs::flock(&f, FlockOperation::NonBlockingLockExclusive)?;
    f.write_all(&serde_json::to_vec_pretty(journal).map_err(io::Error::other)?)?;
    f.sync_all()?;
    fs::rename(&tmp, path)?;
    sync_dir(&parent(path))?;
    Ok(f)
}

/// Renames every `(copy, destination)` pair as one atomic step; see the
/// module docs.
pub(crate) fn commit(renames: &[(PathBuf, PathBuf)]) -> io::Result<()> {
    if renames.is_empty() {
        return Ok(());
    }
    let id = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let dirs: Vec<PathBuf> = {
        let mut seen = BTreeSet::new();
        renames
            .iter()
            .map(|(_, dest)| parent(dest))
            .filter(|d| seen.insert(d.clone()))
            .collect()
    };
    let name = format!("{PREFIX}{id}{SUFFIX}");
    let primary = dirs[0].join(&name);
    let journal = Journal {
        version: 1,
        primary: primary.clone(),
        renames: renames.to_vec(),
    };
    // Pointers first: a journal found anywhere must lead to the primary.
    let mut held = Vec::new();
    for (n, dir) in dirs.iter().enumerate().skip(1) {
        held.push((dir.join(&name), write_journal(&dir.join(&name), &journal)?));
        failpoint(&format!("pointer:{n}"));
    }
    let primary_file = write_journal(&primary, &journal)?;
    failpoint("journal");
    for (n, (copy, dest)) in renames.iter().enumerate() {
        fs::rename(copy, dest)?;
        failpoint(&format!("rename:{}", n + 1));
    }
    for dir in &dirs {
        sync_dir(dir)?;
    }
    failpoint("renamed");
    fs::remove_file(&primary)?;
    drop(primary_file);
    failpoint("cleanup");
    for (path, file) in held {
        fs::remove_file(&path)?;
        drop(file);
    }
    for dir in &dirs {
        let _ = sync_dir(dir);
    }
    Ok(())
}

/// What recovery did in one directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovered {
    /// A run had passed its commit point: its renames were finished.
    RolledForward(Vec<PathBuf>),
    /// A run had not committed: its copies were removed, files unchanged.
    RolledBack(usize),
    /// Staged copies of killed runs without any journal (and stage
    /// directories of distributed runs) were removed.
    Orphans(usize),
}

/// Finishes or undoes interrupted runs whose journals or copies lie in any of
/// `dirs`. Journals and copies that a live process holds are left alone.
pub fn recover(dirs: &[PathBuf]) -> io::Result<Vec<Recovered>> {
    let mut done = Vec::new();
    let mut seen = BTreeSet::new();
    for dir in dirs {
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.clone());
        if seen.insert(dir.clone()) {
            recover_dir(&dir, &mut done)?;
        }
    }
    Ok(done)
}

fn recover_dir(dir: &Path, done: &mut Vec<Recovered>) -> io::Result<()> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(()); // nothing we can see, nothing we can fix
    };
    let mut journals = Vec::new();
    let mut temps = Vec::new();
    let mut stage_dirs = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(PREFIX) && name.ends_with(SUFFIX) {
            journals.push(entry.path());
        } else if name.starts_with(PREFIX) && name.ends_with(".json.tmp") {
            temps.push(entry.path()); // a journal never completed
        } else if name.starts_with('.') && name.contains(TEMP_MARK) && name.ends_with(TEMP_SUFFIX) {
            temps.push(entry.path());
        } else if is_stage_dir_name(&name) && entry.file_type().is_ok_and(|t| t.is_dir()) {
            stage_dirs.push(entry.path());
        }
    }
    for path in journals {
        let Ok(file) = File::open(&path) else {
            continue;
        };
        if !try_lock(&file) {
            continue; // its writer is alive and committing
        }
        let journal: Journal = match serde_json::from_reader(&file) {
            Ok(j) => j,
            // Journals appear whole (written under another name, then
            // renamed); an unreadable one is not ours to judge.
            Err(_) => continue,
        };
        if journal.primary.exists() {
            for (copy, dest) in &journal.renames {
                if copy.exists() {
                    fs::rename(copy, dest)?;
                }
            }
            let dirs: BTreeSet<PathBuf> = journal.renames.iter().map(|(_, d)| parent(d)).collect();
            for d in &dirs {
                let _ = sync_dir(d);
            }
            remove_journals(&journal, &dirs)?;
            done.push(Recovered::RolledForward(
                journal.renames.iter().map(|(_, d)| d.clone()).collect(),
            ));
        } else {
            let mut removed = 0;
            for (copy, _) in &journal.renames {
                if fs::remove_file(copy).is_ok() {
                    removed += 1;
                }
            }
            let dirs: BTreeSet<PathBuf> = journal.renames.iter().map(|(_, d)| parent(d)).collect();
            remove_journals(&journal, &dirs)?;
            let _ = fs::remove_file(&path);
            done.push(Recovered::RolledBack(removed));
        }
    }
    let mut orphans = 0;
    for path in temps {
        if !path.exists() {
            continue; // renamed or removed above
        }
        let Ok(file) = File::open(&path) else {
            continue;
        };
        if try_lock(&file) && fs::remove_file(&path).is_ok() {
            orphans += 1;
        }
    }
    // The stage directories of distributed runs whose driver died (`mmhost
    // plan` names them `.mmhost-run-ID`; they hold only chunk outputs and
    // records): as their staged copies above, a run's leftovers.
    for path in stage_dirs {
        if fs::remove_dir_all(&path).is_ok() {
            orphans += 1;
        }
    }
    if orphans > 0 {
        done.push(Recovered::Orphans(orphans));
    }
    Ok(())
}

/// Whether `name` is that of a distributed run's default stage directory:
/// `.mmhost-run-` and 32 lower-case hex digits (see
/// `distributed::plan::default_stage_dir`).
fn is_stage_dir_name(name: &str) -> bool {
    name.strip_prefix(".mmhost-run-").is_some_and(|id| {
        id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Removes every copy of a journal, pointers first, so that the primary is
/// the last trace.
fn remove_journals(journal: &Journal, dirs: &BTreeSet<PathBuf>) -> io::Result<()> {
    let name = journal
        .primary
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    for d in dirs {
        let p = d.join(&name);
        if p != journal.primary {
            let _ = fs::remove_file(&p);
        }
    }
    match fs::remove_file(&journal.primary) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
