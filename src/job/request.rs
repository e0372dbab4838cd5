//! The job a command line asks for: one plugin with its files, or a job file
//! with the flags over it. `mmhost run` and `mmhost plan` build their job
//! here from the values their parser produced, so that the rule for which
//! flag wins over which field lives in one place, and another front end (the
//! Dask driver, an embedder with its own argument parser) builds the same
//! job from the same values.

use std::path::PathBuf;

use super::file::{JobFile, Overrides};
use super::Job;
use crate::commit::Target;
use crate::error::{Error, ErrorKind, Result};
use crate::filelist;
use crate::runtime::Runtime;

/// The parsed values of a command line that names a job (`mmhost run`,
/// `mmhost plan`).
#[derive(Debug, Clone, Default)]
pub struct JobRequest {
    /// `--job`: the job file; then `plugin` is the first input file.
    pub job_file: Option<PathBuf>,
    /// PLUGIN: the plugin (a file or a built-in's name), or, with `--job`,
    /// the first input file.
    pub plugin: Option<PathBuf>,
    /// FILE...: the input files, in region order.
    pub files: Vec<PathBuf>,
    /// `--files-from`: a list of more input files, read after `files`.
    pub files_from: Option<PathBuf>,
    /// `--null`: the `files_from` list is NUL-separated.
    pub null: bool,
    /// The plugin's arguments (after `--`).
    pub args: Vec<String>,
    /// `--in-place`.
    pub in_place: bool,
    /// `--output FILE`.
    pub output: Option<PathBuf>,
    /// `--output-dir DIR`.
    pub output_dir: Option<PathBuf>,
    /// The limits, level and dry-run flag; its `inputs` and `target` are
    /// filled in from the fields above.
    pub overrides: Overrides,
}

impl JobRequest {
    /// The write target the flags ask for (`--output` before
    /// `--output-dir` before `--in-place`); `None`: no flag (the job file's,
    /// or read-only).
    pub fn target(&self) -> Option<Target> {
        match (&self.output, &self.output_dir, self.in_place) {
            (Some(out), _, _) => Some(Target::Output(out.clone())),
            (None, Some(dir), _) => Some(Target::OutputDir(dir.clone())),
            (None, None, true) => Some(Target::InPlace),
            (None, None, false) => None,
        }
    }

    /// The job: one plugin over the files, or the job file resolved with the
    /// flags over it (FILEs and the list replacing its inputs).
    ///
    /// # Errors
    /// A usage error for plugin arguments given with a job file; the errors
    /// of [`filelist::read`], [`JobFile::read`] and [`JobFile::resolve`].
    pub fn build(&self) -> Result<Job> {
        self.build_job(true)
    }

    /// As [`build`](Self::build); with `refuse_args` false, arguments after
    /// `--` given with a job file are ignored (as `mmhost plan` has done).
    pub(crate) fn build_job(&self, refuse_args: bool) -> Result<Job> {
        let files: Vec<PathBuf> = match &self.job_file {
            // With --job, PLUGIN is the first input.
            Some(_) => self.plugin.iter().chain(&self.files).cloned().collect(),
            None => self.files.clone(),
        };
        let files = filelist::extend(files, self.files_from.as_deref(), self.null)?;
        let overrides = Overrides {
            inputs: (!files.is_empty()).then(|| files.clone()),
            target: self.target(),
            ..self.overrides.clone()
        };
        let Some(job_file) = &self.job_file else {
            let plugin = self
                .plugin
                .clone()
                .ok_or_else(|| Error::new(ErrorKind::Usage, "no plugin given (PLUGIN or --job)"))?;
            return Ok(Job::single(
                plugin,
                files,
                overrides.target.clone().unwrap_or(Target::ReadOnly),
                overrides.run_options(self.args.clone()),
                overrides.dry_run,
            ));
        };
        if refuse_args && !self.args.is_empty() {
            return Err(Error::new(
                ErrorKind::Usage,
                "plugin arguments after `--` do not go with --job: give each step its \"args\" in \
                 the job file",
            ));
        }
        JobFile::read(job_file)?.resolve(job_file, &overrides)
    }
}

/// `mmhost check JOB_FILE`: the job file read and resolved (messages of
/// its plugins at `log_level`), then every plugin it names loaded with an
/// engine as [`Runtime::for_command`] sets it up; the job, for its
/// [`summary`](Job::summary).
///
/// # Errors
/// The errors of [`JobFile::read`], [`JobFile::resolve`] and of loading a
/// plugin (or setting up the engine): the ones `mmhost run --job` would fail
/// with.
pub fn check_job_file(
    job_file: &std::path::Path,
    log_level: crate::runtime::LogLevel,
    no_cache: bool,
) -> Result<Job> {
    let overrides = Overrides {
        log_level,
        ..Overrides::default()
    };
    let resolved = JobFile::read(job_file)?.resolve_all(job_file, &overrides);
    let mut errors = resolved.errors;
    let job = resolved.job;
    if !job.steps.is_empty() {
        let runtime = Runtime::for_command(no_cache, log_level)?;
        errors.extend(job.load_errors(&runtime, &resolved.bad_steps));
    }
    if errors.is_empty() {
        return Ok(job);
    }
    // The first error decides the exit code (the one `mmhost run --job`
    // would fail with); the others follow it, one line each, as the
    // command prints errors.
    let first = errors.remove(0);
    if errors.is_empty() {
        return Err(first);
    }
    let mut more: Vec<String> = first.details().map(str::to_string).into_iter().collect();
    for e in &errors {
        more.push(format!("mmhost: error: {}", e.message()));
        more.extend(e.details().map(str::to_string));
    }
    Err(first.with_details(more.join("\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_choose_the_target_and_files_follow_the_list() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            dir.path().join("a"),
            dir.path().join("b"),
            dir.path().join("c"),
        );
        for p in [&a, &b, &c] {
            std::fs::write(p, "x").unwrap();
        }
        let list = dir.path().join("list");
        std::fs::write(&list, format!("{}\n{}\n", c.display(), a.display())).unwrap();
        let out = dir.path().join("out");
        let req = JobRequest {
            plugin: Some("upper.wasm".into()),
            files: vec![b.clone()],
            files_from: Some(list),
            args: vec!["x".into()],
            in_place: true,
            output: Some(out.clone()),
            ..JobRequest::default()
        };
        let job = req.build().unwrap();
        assert_eq!(
            job.inputs,
            vec![b, c, a],
            "FILEs, then the list in its order"
        );
        assert_eq!(job.target, Target::Output(out), "--output wins");
        assert_eq!(job.steps[0].run.args, vec!["x".to_string()]);
        let none = JobRequest {
            plugin: Some("upper.wasm".into()),
            ..JobRequest::default()
        };
        assert_eq!(none.build().unwrap().target, Target::ReadOnly);
    }

    #[test]
    fn arguments_with_a_job_file_are_a_usage_error_for_run_only() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.txt");
        std::fs::write(&input, "x").unwrap();
        let job_file = dir.path().join("job.json");
        std::fs::write(
            &job_file,
            format!(
                r#"{{"steps": [{{"plugin": "wc"}}], "inputs": [{:?}]}}"#,
                input.display().to_string()
            ),
        )
        .unwrap();
        let req = JobRequest {
            job_file: Some(job_file),
            args: vec!["-l".into()],
            ..JobRequest::default()
        };
        let err = req.build().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Usage);
        let job = req.build_job(false).unwrap();
        assert_eq!(job.inputs, vec![input]);
    }
}
