//! `mmhost commit` and `mmhost abort`: the end of a distributed writing run.
//!
//! `commit` makes sure every chunk ran (a result for each, from `--results`
//! or from the records `run-chunk` left in the stage directory) and that the
//! inputs are still the files the plan saw, then renames the staged new
//! versions over their destinations with the journaled, all-or-nothing
//! commit of a local run ([`crate::commit`]); `mmhost recover` finishes or
//! undoes one that was killed. `abort` removes everything staged.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::chunk_run::ChunkResult;
use super::plan::{Plan, TargetKind};
use super::reduce::gather;
use super::{check_inputs, plan_error};
use crate::commit::journal;
use crate::error::{describe_io, Error, ErrorKind, Result};
use crate::region::open_inputs;

/// What a commit did, for the same message as `mmhost run`'s.
#[derive(Debug, Clone, Default)]
pub struct CommitOutcome {
    /// Whether the plan writes at all.
    pub writes: bool,
    /// Bytes the plugin wrote (sum over the chunks).
    pub written: u64,
    /// Files changed, named as `mmhost run` names them.
    pub files: Vec<String>,
    /// For a dry run: per written input (named as given), the bytes that
    /// would change; nothing was committed.
    pub dry_run: Option<Vec<(String, u64)>>,
}

/// The result record of every chunk, from the stage directory.
fn records(plan: &Plan, plan_path: &Path) -> Result<Vec<ChunkResult>> {
    let mut out = Vec::with_capacity(plan.chunk_count);
    let mut missing = Vec::new();
    for k in 0..plan.chunk_count {
        let path = plan.chunk_record(k);
        match std::fs::read_to_string(&path) {
            Ok(text) => out.push(
                serde_json::from_str(text.trim())
                    .map_err(|e| plan_error(&path, format!("not a chunk result record: {e}")))?,
            ),
            Err(_) => missing.push(k.to_string()),
        }
    }
    if !missing.is_empty() {
        let shown: Vec<&str> = missing.iter().take(20).map(String::as_str).collect();
        return Err(plan_error(
            plan_path,
            format!(
                "{} of {} chunks have not run (no record in {}): chunk{} {}{}; run them, or \
                 `mmhost abort`",
                missing.len(),
                plan.chunk_count,
                plan.stage_dir.display(),
                if missing.len() == 1 { "" } else { "s" },
                shown.join(", "),
                if missing.len() > shown.len() {
                    ", ..."
                } else {
                    ""
                }
            ),
        ));
    }
    Ok(out)
}

/// `mmhost commit`: see the module docs. `results`: result files to take
/// the chunks' results from instead of the stage directory's records.
pub fn commit(plan_path: &Path, results: Option<&[PathBuf]>) -> Result<CommitOutcome> {
    let plan = Plan::read(plan_path)?;
    let results = match results {
        Some(files) if !files.is_empty() => gather(&plan, files)?,
        _ => records(&plan, plan_path)?,
    };
    let reduced = super::reduce::ReduceRecord::read(&plan)?;
    let reduce_ran = reduced.is_some();
    let by_reduce = reduced.unwrap_or_default();
    let written: u64 = results.iter().map(|r| r.written).sum::<u64>() + by_reduce.written;
    let mut outcome = CommitOutcome {
        writes: plan.target.kind != TargetKind::ReadOnly,
        written,
        files: Vec::new(),
        dry_run: None,
    };
    if plan.inputs.iter().any(|i| Path::new(&i.name).is_relative()) {
        std::env::set_current_dir(&plan.cwd)
            .map_err(|e| Error::input(&plan.cwd, describe_io(&e)))?;
    }
    check_inputs(&plan)?;
    let wrote: BTreeSet<usize> = results
        .iter()
        .flat_map(|r| r.files_written.clone())
        .chain(by_reduce.files_written)
        .collect();
    // In place, `reduce` completes the new versions over the chunks that did
    // not write them (see `staging::complete_for_other_chunks`): committed
    // before that, they could hold holes.
    if plan.target.kind == TargetKind::InPlace
        && !plan.target.dry_run
        && plan.halo.is_some()
        && !wrote.is_empty()
        && !reduce_ran
    {
        return Err(Error::new(
            ErrorKind::Usage,
            format!(
                "{}: `mmhost reduce` has not run for this plan; run it before `commit` (it \
                 completes the new versions of the files the chunks wrote); nothing was \
                 committed",
                plan_path.display()
            ),
        ));
    }
    if plan.target.dry_run {
        let changes = dry_run_changes(&plan, &wrote);
        // Nothing is committed: everything staged goes, as after a local
        // dry run.
        abort(plan_path)?;
        outcome.dry_run = Some(changes?);
        return Ok(outcome);
    }
    // Replacing inputs: hold them locked (exclusively) through the renames,
    // as a local run does.
    let _locked = if plan.target.kind == TargetKind::InPlace {
        let names: Vec<PathBuf> = plan.inputs.iter().map(|i| PathBuf::from(&i.name)).collect();
        Some(open_inputs(&names, true)?)
    } else {
        None
    };
    let mut renames: Vec<(PathBuf, PathBuf, u64)> = Vec::new();
    let mut drop_staged: Vec<PathBuf> = Vec::new();
    match plan.target.kind {
        TargetKind::ReadOnly => {}
        TargetKind::Output => {
            if let (Some(s), Some(p)) = (&plan.target.staged, &plan.target.path) {
                renames.push((s.clone(), p.clone(), plan.region_size));
                outcome.files.push(
                    plan.target
                        .name
                        .clone()
                        .unwrap_or_else(|| p.display().to_string()),
                );
            }
        }
        TargetKind::OutputDir | TargetKind::InPlace => {
            let every = plan.target.kind == TargetKind::OutputDir;
            for (k, i) in plan.inputs.iter().enumerate() {
                let (Some(s), Some(d)) = (&i.staged, &i.dest) else {
                    continue;
                };
                if every || wrote.contains(&k) {
                    renames.push((s.clone(), d.clone(), i.len));
                    outcome.files.push(if every {
                        d.display().to_string()
                    } else {
                        i.name.clone()
                    });
                } else {
                    drop_staged.push(s.clone());
                }
            }
        }
    }
    // Every new version must be there, whole and durable, before the
    // commit point: a rename that fails after it would leave a mix.
    for (staged, _, len) in &renames {
        let fail = |what: String| {
            Error::new(
                ErrorKind::Output,
                format!(
                    "{}: the staged new version {what}; nothing was committed (`mmhost abort` \
                     cleans up)",
                    staged.display()
                ),
            )
        };
        let f = std::fs::File::open(staged)
            .map_err(|e| fail(format!("cannot be opened: {}", describe_io(&e))))?;
        let now = f.metadata().map_err(|e| fail(describe_io(&e)))?.len();
        if now != *len {
            return Err(fail(format!("is {now} bytes, not {len}")));
        }
        f.sync_all().map_err(|e| fail(describe_io(&e)))?;
    }
    let pairs: Vec<(PathBuf, PathBuf)> = renames.into_iter().map(|(s, d, _)| (s, d)).collect();
    // Nothing in the stage directory is needed from here on (its records
    // were read above; `reduce` has read the outputs), and removed now it
    // is not left behind by a commit killed past its commit point, which
    // `mmhost recover` finishes.
    let _ = std::fs::remove_dir_all(&plan.stage_dir);
    journal::commit(&pairs).map_err(|e| {
        Error::new(
            ErrorKind::Output,
            format!(
                "committing {} files: {} (`mmhost recover` on their directories will finish or \
                 undo it)",
                pairs.len(),
                describe_io(&e)
            ),
        )
        .with_io_kind(e.kind())
    })?;
    for s in drop_staged {
        let _ = std::fs::remove_file(s);
    }
    Ok(outcome)
}

/// `mmhost abort`: removes every staged new version and the stage
/// directory. Returns how many staged files were removed. Committed files
/// are never touched (their staged names no longer exist).
pub fn abort(plan_path: &Path) -> Result<usize> {
    let plan = Plan::read(plan_path)?;
    let mut removed = 0;
    for (staged, _) in plan.staged() {
        match std::fs::remove_file(&staged) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::output(&staged, describe_io(&e))),
        }
    }
    match std::fs::remove_dir_all(&plan.stage_dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::output(&plan.stage_dir, describe_io(&e)))
        }
        _ => Ok(removed),
    }
}

/// For a dry run: per written input, how many of its bytes the staged new
/// version changes.
fn dry_run_changes(plan: &Plan, wrote: &BTreeSet<usize>) -> Result<Vec<(String, u64)>> {
    use std::os::unix::fs::FileExt;
    let mut changes = Vec::new();
    for &k in wrote {
        let Some(input) = plan.inputs.get(k) else {
            continue;
        };
        let (new, at) = match (&plan.target.staged, &input.staged) {
            (Some(out), _) if plan.target.kind == TargetKind::Output => (out, input.start),
            (_, Some(staged)) => (staged, 0),
            _ => continue,
        };
        let open = |p: &Path| std::fs::File::open(p).map_err(|e| Error::input(p, describe_io(&e)));
        let (new_f, old_f) = (open(new)?, open(&input.path)?);
        let mut a = vec![0u8; (1 << 20).min(input.len as usize)];
        let mut b = a.clone();
        let (mut pos, mut n) = (0u64, 0u64);
        while pos < input.len {
            let len = a.len().min((input.len - pos) as usize);
            new_f
                .read_exact_at(&mut a[..len], at + pos)
                .map_err(|e| Error::input(new, describe_io(&e)))?;
            old_f
                .read_exact_at(&mut b[..len], pos)
                .map_err(|e| Error::input(&input.path, describe_io(&e)))?;
            n += a[..len]
                .iter()
                .zip(&b[..len])
                .filter(|(x, y)| x != y)
                .count() as u64;
            pos += len as u64;
        }
        changes.push((input.name.clone(), n));
    }
    Ok(changes)
}
