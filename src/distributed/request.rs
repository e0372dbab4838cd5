//! The request of `mmhost plan` from its command line: the job the flags
//! (or a one-step job file) ask for, with the plan's own settings. Here so
//! that a driver with its own argument parser makes the same plan from the
//! same values.

use std::path::PathBuf;

use super::plan::{PlanRequest, DEFAULT_BLOCK};
use crate::error::Result;
use crate::job::JobRequest;

impl PlanRequest {
    /// The request for the job `job` asks for (one step), cut into chunks
    /// of `chunk_size` (`None`: the default) on boundaries of `block_size`
    /// (`None`: [`DEFAULT_BLOCK`]), staged in `stage_dir` (`None`: beside
    /// the output), with the plan written to `plan_out` (`None`: standard
    /// output). Arguments after `--` given with a job file are ignored.
    ///
    /// # Errors
    /// The errors of building the job ([`JobRequest::build`]) and a usage
    /// error for a job file of more than one step.
    pub fn from_command_line(
        job: &JobRequest,
        chunk_size: Option<u64>,
        block_size: Option<u64>,
        stage_dir: Option<PathBuf>,
        plan_out: Option<PathBuf>,
    ) -> Result<PlanRequest> {
        let (plugin, inputs, target, run, dry_run) = super::one_step(job.build_job(false)?)?;
        Ok(PlanRequest {
            plugin,
            inputs,
            target,
            dry_run,
            run,
            chunk_size,
            block_size: block_size.unwrap_or(DEFAULT_BLOCK),
            stage_dir,
            plan_out,
        })
    }
}
