//! The plan of a distributed run: the JSON document every process of the
//! run reads (`mmhost plan` writes it), and how it is made.
//!
//! The document is versioned (`version`: 1) and its field names are fixed by
//! issue #12, so that drivers in any language can rely on them; fields are
//! only ever added within version 1. Its JSON Schema is [`schema_text`]
//! (`mmhost schema --plan`, committed as `schema/plan.schema.json`).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{hex, identity, plan_error, plugin_sha256};
use crate::commit::stage::TempFile;
use crate::commit::{self, Recovered, Target};
use crate::error::{describe_io, Error, ErrorKind, Result};
use crate::region::{open_inputs, Access, Region};
use crate::runtime::{RunOptions, Runtime};

/// The chunk size when none is given (256 MiB): a process and an instance
/// per chunk cost milliseconds, so chunks much smaller than this spend more
/// time starting than working (BENCHMARKS.md).
pub const DEFAULT_CHUNK: u64 = 256 << 20;

/// The default block size chunk boundaries fall on within each written file
/// (4 KiB: a page, and the block of every common file system).
pub const DEFAULT_BLOCK: u64 = 4 << 10;

/// A distributed run's plan; see the module docs.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "mmhost distributed run plan")]
pub struct Plan {
    /// The version of this format: 1.
    pub version: u32,
    /// 32 hex digits naming this run (also the seed of the plugin's WASI
    /// randomness, with the chunk index).
    pub run_id: String,
    /// When the plan was made (RFC 3339, UTC).
    pub created: String,
    /// The plugin file.
    pub plugin: PluginRef,
    /// The plugin's arguments.
    pub args: Vec<String>,
    /// The plugin's configuration (`null`: none).
    pub config: serde_json::Value,
    /// Where writes go.
    pub target: PlanTarget,
    /// The limits each `run-chunk` and `reduce` process holds the plugin to.
    pub limits: PlanLimits,
    /// The size of the region (all inputs together).
    pub region_size: u64,
    /// The input files, in region order.
    pub inputs: Vec<PlanInput>,
    /// The halo the plugin's `plan` asked for; `null` when it declined to
    /// split (then there is one chunk, and `run-chunk --chunk 0` runs the
    /// plugin's `run` over the whole region).
    pub halo: Option<u64>,
    /// Chunk boundaries of a writing run fall on multiples of this within
    /// each written file.
    pub block_size: u64,
    /// The chunks, in order, covering the region.
    pub chunks: Vec<PlanChunk>,
    /// How many chunks there are.
    pub chunk_count: usize,
    /// Where `run-chunk` puts each chunk's emitted bytes (`chunk-NNNNNN.out`)
    /// and its result record (`chunk-NNNNNN.json`).
    pub stage_dir: PathBuf,
    /// The intent log: written only by `commit` (as a local run writes it
    /// at its commit), so always `null` in a plan.
    pub journal: Option<PathBuf>,
    /// The working directory of `mmhost plan`: relative input names are
    /// opened from it, so that plugins see the names as given.
    pub cwd: PathBuf,
    /// The bytes the plugin emitted in its `plan` (`plan.out` in the stage
    /// directory), which `reduce` prints before the chunks' bytes, as
    /// `mmhost run` does; absent when it emitted none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_output: Option<super::chunk_run::OutputRef>,
}

/// The plugin of a plan.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PluginRef {
    /// Absolute path.
    pub path: PathBuf,
    /// SHA-256 of the file, hex: every process checks it.
    pub sha256: String,
}

/// The kind of write target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    /// No writes.
    ReadOnly,
    /// `-i`: the inputs are replaced.
    InPlace,
    /// `-o FILE`: one output file.
    Output,
    /// `--output-dir DIR`: each input under its own name in DIR.
    OutputDir,
}

/// Where a plan's writes go.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PlanTarget {
    /// The kind of target.
    pub kind: TargetKind,
    /// The output file or directory, absolute; `null` for the others.
    pub path: Option<PathBuf>,
    /// The output file or directory as given (for messages).
    #[serde(default)]
    pub name: Option<String>,
    /// Commit nothing: `commit` counts the bytes that would change and
    /// removes what was staged (a dry run without a target stages as
    /// `in-place`).
    pub dry_run: bool,
    /// For `output`: the staged new file beside it.
    #[serde(default)]
    pub staged: Option<PathBuf>,
}

/// Limits of each process of the run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PlanLimits {
    /// Cap on the plugin's linear memory, bytes.
    pub max_memory: u64,
    /// Wall-clock limit of each `run-chunk` (and `reduce`) process, ms.
    pub timeout_ms: Option<u64>,
    /// Fuel limit (a run with fuel is not split: one chunk).
    pub fuel: Option<u64>,
}

/// One input of a plan, with the identity every process checks.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PlanInput {
    /// The path as given.
    pub name: String,
    /// Absolute path.
    pub path: PathBuf,
    /// Global offset of its first byte.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
    /// Device number.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Size when planned.
    pub size: u64,
    /// Modification time when planned, ns since the epoch.
    pub mtime_ns: i64,
    /// Where its new version goes (`in-place`, `output-dir`), else `null`.
    #[serde(default)]
    pub dest: Option<PathBuf>,
    /// Its staged new version beside `dest`, else `null`.
    #[serde(default)]
    pub staged: Option<PathBuf>,
}

/// One chunk: `[start, end)` of the region.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
pub struct PlanChunk {
    /// Its index, from 0.
    pub index: usize,
    /// Global offset of its first byte.
    pub start: u64,
    /// Global offset one past its last byte.
    pub end: u64,
}

/// What `mmhost plan` was asked for.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    /// The plugin file.
    pub plugin: PathBuf,
    /// The input files, in order.
    pub inputs: Vec<PathBuf>,
    /// Where writes go.
    pub target: Target,
    /// Commit nothing; report what would change.
    pub dry_run: bool,
    /// Arguments, configuration, limits and log level of the plugin's runs.
    pub run: RunOptions,
    /// Chunk size; `None`: [`DEFAULT_CHUNK`].
    pub chunk_size: Option<u64>,
    /// Block size of chunk boundaries in written files.
    pub block_size: u64,
    /// Where chunk outputs go; `None`: see [`default_stage_dir`].
    pub stage_dir: Option<PathBuf>,
    /// Where the plan will be written, if not to stdout.
    pub plan_out: Option<PathBuf>,
}

impl Plan {
    /// Reads and checks a plan file (a bad one is a usage error, exit 2).
    pub fn read(path: &Path) -> Result<Plan> {
        let text = std::fs::read(path).map_err(|e| {
            Error::new(
                ErrorKind::Usage,
                format!(
                    "{}: cannot read the plan: {}",
                    path.display(),
                    describe_io(&e)
                ),
            )
        })?;
        let de = &mut serde_json::Deserializer::from_slice(&text);
        let plan: Plan = serde_path_to_error::deserialize(de).map_err(|e| {
            plan_error(
                path,
                format!("not a valid plan: at {}: {}", e.path(), e.inner()),
            )
        })?;
        if plan.version != 1 {
            return Err(plan_error(
                path,
                format!(
                    "plan version {} (this mmhost reads version 1)",
                    plan.version
                ),
            ));
        }
        let mut at = 0;
        for (k, c) in plan.chunks.iter().enumerate() {
            if c.index != k || c.start != at || c.end < c.start {
                return Err(plan_error(path, format!("chunks[{k}]: not contiguous")));
            }
            at = c.end;
        }
        if at != plan.region_size || plan.chunk_count != plan.chunks.len() || plan.chunks.is_empty()
        {
            return Err(plan_error(path, "the chunks do not cover the region"));
        }
        Ok(plan)
    }

    /// The chunk boundaries: `b[k]..b[k+1]` is chunk `k`.
    pub fn bounds(&self) -> Vec<u64> {
        let mut b: Vec<u64> = self.chunks.iter().map(|c| c.start).collect();
        b.push(self.region_size);
        b
    }

    /// The options of the plugin's runs in every process of this plan.
    pub fn run_options(&self, log_level: crate::runtime::LogLevel) -> RunOptions {
        RunOptions {
            args: self.args.clone(),
            config: self.config.clone(),
            max_memory: self.limits.max_memory,
            timeout: self.limits.timeout_ms.map(Duration::from_millis),
            fuel: self.limits.fuel,
            log_level,
            jobs: 1,
            chunk_size: None,
            random_seed: Some(self.seed()),
            ..RunOptions::default()
        }
    }

    /// The seed of the run's randomness, from its id.
    pub fn seed(&self) -> u64 {
        u64::from_str_radix(self.run_id.get(..16).unwrap_or("0"), 16).unwrap_or(0)
    }

    /// The path of chunk `k`'s emitted bytes.
    pub fn chunk_output(&self, k: usize) -> PathBuf {
        self.stage_dir.join(format!("chunk-{k:06}.out"))
    }

    /// The path of chunk `k`'s result record.
    pub fn chunk_record(&self, k: usize) -> PathBuf {
        self.stage_dir.join(format!("chunk-{k:06}.json"))
    }

    /// The path of the record of what the plugin's `reduce` wrote.
    pub fn reduce_record(&self) -> PathBuf {
        self.stage_dir.join("reduce.json")
    }

    /// The staged new versions, with their destinations.
    pub fn staged(&self) -> Vec<(PathBuf, PathBuf)> {
        let mut v: Vec<(PathBuf, PathBuf)> = self
            .inputs
            .iter()
            .filter_map(|i| Some((i.staged.clone()?, i.dest.clone()?)))
            .collect();
        if let (Some(s), Some(p)) = (&self.target.staged, &self.target.path) {
            v.push((s.clone(), p.clone()));
        }
        v
    }

    /// The plan as JSON text (pretty, with a final newline).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a plan serializes");
        s.push('\n');
        s
    }
}

/// The JSON Schema of plans.
pub fn schema_text() -> String {
    let schema = schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<Plan>();
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    text.push('\n');
    text
}

/// Chunk boundaries over a region of `size` bytes whose written files are
/// `files` (`(start, len)`, in order, covering it): about `chunk` bytes
/// each, every inner boundary on a multiple of `block` within the file it
/// falls in (or at a file's end), so that no two chunks write one block.
pub fn chunk_bounds(files: &[(u64, u64)], size: u64, chunk: u64, block: u64) -> Vec<u64> {
    let (chunk, block) = (chunk.max(1), block.max(1));
    let mut bounds = vec![0];
    let mut prev = 0u64;
    loop {
        let target = prev.saturating_add(chunk);
        if target >= size {
            break;
        }
        let i = files.partition_point(|&(s, l)| s + l <= target);
        let Some(&(s, l)) = files.get(i) else { break };
        let off = target - s;
        let mut cut = s + off / block * block;
        if cut <= prev {
            cut = (s + off.div_ceil(block) * block).min(s + l);
        }
        if cut >= size {
            break;
        }
        bounds.push(cut);
        prev = cut;
    }
    bounds.push(size);
    bounds
}

/// The stage directory when none is given: `.mmhost-run-ID` beside the
/// first destination of a writing run, else beside the plan file, else in
/// the working directory.
pub fn default_stage_dir(
    first_dest_dir: Option<&Path>,
    plan_out: Option<&Path>,
    id: &str,
) -> PathBuf {
    let base = first_dest_dir
        .map(Path::to_path_buf)
        .or_else(|| {
            plan_out
                .and_then(|p| p.parent())
                .filter(|d| !d.as_os_str().is_empty())
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(|| PathBuf::from("."));
    base.join(format!(".mmhost-run-{id}"))
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).map_err(|e| Error::input(p, describe_io(&e)))
}

/// A new run id: 32 hex digits, from the time, the process and the request.
fn new_run_id(req: &PlanRequest) -> String {
    let mut h = Sha256::new();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    h.update(now.as_nanos().to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(req.plugin.as_os_str().as_encoded_bytes());
    for i in &req.inputs {
        h.update(i.as_os_str().as_encoded_bytes());
    }
    hex(&h.finalize()[..16])
}

/// `t` as RFC 3339 in UTC, to the second.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Makes the plan of a run: checks the inputs and the plugin, asks the
/// plugin's `plan` for its halo, cuts the chunks and, for a writing run,
/// stages the new versions and creates the stage directory. Recovers
/// interrupted runs in the directories the run touches first (telling
/// `on_recovery`), as a local run does.
pub fn make_plan(
    runtime: &Runtime,
    req: &PlanRequest,
    on_recovery: &mut dyn FnMut(&Recovered),
) -> Result<Plan> {
    // A dry run without a target stages like an in-place run, as locally.
    let target_req = match (&req.target, req.dry_run) {
        (Target::ReadOnly, true) => Target::InPlace,
        (t, _) => t.clone(),
    };
    let req = &PlanRequest {
        target: target_req,
        ..req.clone()
    };
    if let Some(stdin) = req.inputs.iter().find(|p| p.as_os_str() == "-") {
        return Err(Error::input(
            stdin,
            "standard input cannot be read by the processes of a distributed run; save it to a file",
        ));
    }
    if req.block_size == 0 {
        return Err(Error::new(
            ErrorKind::Usage,
            "--block-size must be at least 1",
        ));
    }
    let dirs = req.target.dirs_to_recover(&req.inputs);
    let recovered = commit::recover(&dirs).map_err(|e| {
        Error::new(
            ErrorKind::Input,
            format!("recovering an interrupted run: {}", describe_io(&e)),
        )
    })?;
    recovered.iter().for_each(&mut *on_recovery);

    let inputs = open_inputs(&req.inputs, false)?;
    if req.target == Target::InPlace && !req.dry_run {
        commit::check_in_place(&inputs)?;
    }
    let mut plan_inputs = Vec::with_capacity(inputs.len());
    let mut start = 0u64;
    for f in &inputs {
        let path = absolute(&f.path)?;
        let (dev, ino, size, mtime_ns) =
            identity(&path).map_err(|e| Error::input(&f.path, describe_io(&e)))?;
        plan_inputs.push(PlanInput {
            name: f.path.display().to_string(),
            path,
            start,
            len: f.len,
            dev,
            ino,
            size,
            mtime_ns,
            dest: None,
            staged: None,
        });
        start += f.len;
    }
    let size = start;
    // A built-in is named, not a file: every worker's mmhost has it, and
    // the digest of its module tells whether it is the same one.
    let plugin_path = if crate::builtins::is_name(&req.plugin) {
        req.plugin.clone()
    } else {
        absolute(&req.plugin)?
    };
    let plugin = runtime.load_for(&plugin_path, &req.run)?;
    let sha256 = plugin_sha256(&plugin_path)?;
    let run_id = new_run_id(req);

    let region = Region::open(inputs, Access::ReadOnly)?;
    let mut opts = req.run.clone();
    opts.random_seed = u64::from_str_radix(&run_id[..16], 16).ok();
    // What `plan` emits waits in a temporary file until the stage
    // directory exists (`reduce` prints it first, as `mmhost run` does).
    let tmp = std::env::temp_dir();
    let emitted = crate::region::inputs::unnamed_temp_file(&tmp).map_err(|e| {
        Error::output(
            &tmp,
            format!("cannot create a temporary file: {}", describe_io(&e)),
        )
    })?;
    let halo = if opts.fuel.is_some() {
        None // fuel runs are serial, as in a local run
    } else {
        let out = emitted
            .try_clone()
            .map_err(|e| Error::output(&tmp, describe_io(&e)))?;
        let out = Box::new(std::io::BufWriter::with_capacity(1 << 16, out));
        let (region, halo) = runtime.plan_halo(&plugin, region, &opts, out);
        drop(region);
        halo?
    };
    // Bounded as a local run's: at most `MAX_CHUNKS` chunks (`--chunk-size 1`
    // on a large region would otherwise plan billions of them).
    let chunk = crate::runtime::parallel::bounded_chunk_size(
        size,
        req.chunk_size.unwrap_or(DEFAULT_CHUNK),
        halo.unwrap_or(0),
    );
    let (halo, bounds) = match halo {
        Some(h) if size > chunk => {
            let files: Vec<(u64, u64)> = match req.target {
                Target::InPlace | Target::OutputDir(_) => plan_inputs
                    .iter()
                    .filter(|i| i.len > 0)
                    .map(|i| (i.start, i.len))
                    .collect(),
                Target::Output(_) => vec![(0, size)],
                // Nothing is written: cut where a local run cuts.
                Target::ReadOnly => vec![(0, size)],
            };
            let block = if req.target == Target::ReadOnly {
                1
            } else {
                req.block_size
            };
            (Some(h), chunk_bounds(&files, size, chunk, block))
        }
        // Declined, or one chunk's worth: the whole job in one task, as a
        // local run goes serial.
        _ => (None, vec![0, size]),
    };
    let chunks: Vec<PlanChunk> = bounds
        .windows(2)
        .enumerate()
        .map(|(index, w)| PlanChunk {
            index,
            start: w[0],
            end: w[1],
        })
        .collect();

    // Staging: the new versions beside their destinations, as a local run
    // makes them (names recovery knows, modes, owners).
    let mut temps: Vec<TempFile> = Vec::new();
    let mut target = PlanTarget {
        kind: TargetKind::ReadOnly,
        path: None,
        name: None,
        dry_run: req.dry_run,
        staged: None,
    };
    let mut stage = |dest: &Path, like: Option<std::fs::Metadata>, len: u64| -> Result<PathBuf> {
        let dir = match dest.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut temp = TempFile::create(&dir, dest, like.as_ref())?;
        let file = temp.take_file().expect("a new copy has its descriptor");
        file.set_len(len)
            .map_err(|e| Error::output(dest, describe_io(&e)))?;
        let path = temp.path.clone();
        temps.push(temp);
        Ok(path)
    };
    let mut first_dest_dir = None;
    match &req.target {
        Target::ReadOnly => {}
        Target::InPlace => {
            target.kind = TargetKind::InPlace;
            for i in &mut plan_inputs {
                let dest = i
                    .path
                    .canonicalize()
                    .map_err(|e| Error::input(&i.path, describe_io(&e)))?;
                let like = std::fs::metadata(&dest).ok();
                i.staged = Some(stage(&dest, like, i.len)?);
                i.dest = Some(dest);
            }
        }
        Target::OutputDir(dir) => {
            target.kind = TargetKind::OutputDir;
            target.name = Some(dir.display().to_string());
            std::fs::create_dir_all(dir).map_err(|e| Error::output(dir, describe_io(&e)))?;
            let dir = dir
                .canonicalize()
                .map_err(|e| Error::output(dir, describe_io(&e)))?;
            let mut names = std::collections::HashMap::new();
            for i in &mut plan_inputs {
                let name = i
                    .path
                    .file_name()
                    .ok_or_else(|| Error::input(&i.path, "has no file name"))?
                    .to_os_string();
                if let Some(other) = names.insert(name.clone(), i.name.clone()) {
                    return Err(Error::input(
                        &i.path,
                        format!(
                            "has the same name as {other}; both would be written to {}",
                            dir.join(&name).display()
                        ),
                    ));
                }
                let dest = dir.join(&name);
                let like = std::fs::metadata(&i.path).ok();
                i.staged = Some(stage(&dest, like, i.len)?);
                i.dest = Some(dest);
            }
            target.path = Some(dir.clone());
            first_dest_dir = Some(dir);
        }
        Target::Output(out) => {
            target.kind = TargetKind::Output;
            target.name = Some(out.display().to_string());
            if out.is_dir() {
                return Err(Error::output(out, "is a directory"));
            }
            let abs = absolute(out)?;
            let parent = abs.parent().map(Path::to_path_buf).unwrap_or_default();
            let parent = parent
                .canonicalize()
                .map_err(|e| Error::output(out, describe_io(&e)))?;
            let abs = parent.join(abs.file_name().unwrap_or_default());
            let like = std::fs::metadata(&abs).ok();
            target.staged = Some(stage(&abs, like, size)?);
            target.path = Some(abs);
            first_dest_dir = Some(parent);
        }
    }
    if req.target == Target::InPlace {
        first_dest_dir = plan_inputs
            .first()
            .and_then(|i| i.dest.as_ref()?.parent().map(Path::to_path_buf));
    }
    let stage_dir = match &req.stage_dir {
        Some(d) => absolute(d)?,
        None => absolute(&default_stage_dir(
            first_dest_dir.as_deref(),
            req.plan_out.as_deref(),
            &run_id,
        ))?,
    };
    std::fs::create_dir_all(&stage_dir).map_err(|e| {
        Error::output(
            &stage_dir,
            format!("cannot create the stage directory: {}", describe_io(&e)),
        )
    })?;
    let cwd = std::env::current_dir().map_err(|e| {
        Error::new(
            ErrorKind::Input,
            format!("the working directory: {}", describe_io(&e)),
        )
    })?;
    let plan_output = keep_plan_output(emitted, &stage_dir)?;
    let plan = Plan {
        version: 1,
        run_id,
        created: rfc3339(SystemTime::now()),
        plugin: PluginRef {
            path: plugin_path,
            sha256,
        },
        args: req.run.args.clone(),
        config: req.run.config.clone(),
        target,
        limits: PlanLimits {
            max_memory: req.run.max_memory,
            timeout_ms: req.run.timeout.map(|t| t.as_millis() as u64),
            fuel: req.run.fuel,
        },
        region_size: size,
        inputs: plan_inputs,
        halo,
        block_size: req.block_size,
        chunk_count: chunks.len(),
        chunks,
        stage_dir,
        journal: None,
        cwd,
        plan_output,
    };
    if let Some(out) = &req.plan_out {
        write_atomically(out, plan.to_json().as_bytes())?;
    }
    // Everything is in place: the staged copies outlive this process.
    for t in &mut temps {
        t.keep();
    }
    Ok(plan)
}

/// Moves what the plugin's `plan` emitted (in `emitted`) to `plan.out` in
/// `stage_dir`, synced; `None` if it emitted nothing.
fn keep_plan_output(
    mut emitted: std::fs::File,
    stage_dir: &Path,
) -> Result<Option<super::chunk_run::OutputRef>> {
    use std::io::{Seek, SeekFrom};
    let path = stage_dir.join("plan.out");
    let fail = |e: std::io::Error| Error::output(&path, describe_io(&e));
    let len = emitted.seek(SeekFrom::End(0)).map_err(fail)?;
    if len == 0 {
        return Ok(None);
    }
    emitted.seek(SeekFrom::Start(0)).map_err(fail)?;
    let mut file = std::fs::File::create(&path).map_err(fail)?;
    std::io::copy(&mut emitted, &mut file)
        .and_then(|_| file.sync_all())
        .map_err(fail)?;
    let sha256 = super::sha256_file(&path).map_err(fail)?;
    Ok(Some(super::chunk_run::OutputRef { path, len, sha256 }))
}

/// Writes `bytes` to `path` through a temporary name and a rename, synced.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let fail = |e: std::io::Error| Error::output(path, describe_io(&e));
    let tmp = {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".tmp-{}", std::process::id()));
        path.with_file_name(name)
    };
    let mut f = std::fs::File::create(&tmp).map_err(fail)?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            fail(e)
        })?;
    std::fs::rename(&tmp, path).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_fall_on_blocks_within_each_file() {
        // Two files: [0, 10000) and [10000, 30000); chunks of ~7000, 4 KiB blocks.
        let files = [(0, 10_000), (10_000, 20_000)];
        let b = chunk_bounds(&files, 30_000, 7_000, 4096);
        assert_eq!(
            b,
            vec![0, 4096, 10_000, 14_096, 18_192, 22_288, 26_384, 30_000]
        );
        for w in b.windows(2) {
            assert!(w[0] < w[1]);
        }
        // Read-only: uniform, as ChunkPlan cuts.
        assert_eq!(chunk_bounds(&[(0, 10)], 10, 4, 1), vec![0, 4, 8, 10]);
        // A chunk smaller than a block still advances, to the next block or file end.
        assert_eq!(
            chunk_bounds(&[(0, 10), (10, 3)], 13, 2, 4),
            vec![0, 4, 8, 10, 13]
        );
    }

    #[test]
    fn rfc3339_of_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_210_096); // 2024-02-29T12:34:56Z
        assert_eq!(rfc3339(t), "2024-02-29T12:34:56Z");
    }
}
