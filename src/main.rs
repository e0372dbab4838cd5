//! The `mmhost` command: argument parsing, printing, exit codes. Everything
//! else lives in the library.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{ArgAction, Parser, Subcommand, ValueEnum};

use mmhost::commit::{Recovered, Target};
use mmhost::job::file::{JobFile, Overrides, DEFAULT_MAX_MEMORY};
use mmhost::job::report::RunReport;
use mmhost::job::{parse_duration, parse_size, Job, Report};
use mmhost::region::{open_inputs, Placement, Region};
use mmhost::runtime::{LogLevel, RunOptions, Runtime, RuntimeOptions};
use mmhost::{Error, ErrorKind};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the plugin returned an error
  2  usage error (bad command line, invalid job file)
  3  input file error (missing, not a regular file, unreadable, named twice, locked)
  4  the plugin cannot be loaded (not wasm, wrong world, unknown imports)
  5  the plugin trapped or hit a limit (memory, timeout)
  6  the result could not be written (disk full, unwritable directory); nothing changed";

#[derive(Parser)]
#[command(
    name = "mmhost",
    version,
    about = "Map many files into one region and run a sandboxed WebAssembly plugin over it",
    after_help = EXIT_CODES
)]
struct Cli {
    /// Show more (-v: plugin debug logs, -vv: trace).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    verbose: u8,
    /// Show less (-q: only warnings and errors, -qq: only errors).
    #[arg(short, long, action = ArgAction::Count, global = true, conflicts_with = "verbose")]
    quiet: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run PLUGIN over FILES mapped as one region, or the job in a JSON file.
    #[command(
        override_usage = "mmhost run [OPTIONS] PLUGIN FILE... [-- PLUGIN_ARG...]\n       \
                          mmhost run [OPTIONS] --job JOB_FILE [FILE...]",
        after_help = "\
Examples:
  mmhost run checksum.wasm a.bin b.bin
  mmhost run --job job.json
  mmhost run --job job.json --output out.txt --report json new/*.txt
  mmhost run count.wasm logs/*.txt -- ERROR
  mmhost run --in-place upper.wasm notes.txt
  mmhost run -o joined.txt upper.wasm a.txt b.txt
  mmhost run --output-dir out/ upper.wasm a.txt b.txt
  mmhost run --dry-run upper.wasm notes.txt

By default the region is read-only. With --in-place the plugin's writes
replace the input files; with --output they go into a new file holding the
transformed concatenation; with --output-dir each input is written to the
directory under its own name. Writes are all or nothing: a plugin error, a
trap or a kill leaves every file exactly old or exactly new.

With --job, the plugins, arguments, inputs, write target and limits come
from a JSON job file (`mmhost schema` prints its JSON Schema); the flags
given override the file's values, and FILEs replace its inputs."
    )]
    Run(RunArgs),
    /// Validate a job file and the plugins it names, without running anything.
    ///
    /// Checks the syntax, the fields and their types, that every input exists
    /// and every pattern matches, that no file is named twice where that is
    /// refused, and that every plugin loads and implements the world. Exits
    /// with the code `mmhost run --job` would fail with.
    Check {
        /// The job file.
        job: PathBuf,
        /// Do not use the compilation cache.
        #[arg(long)]
        no_cache: bool,
    },
    /// Print the JSON Schema of job files (or of the run report).
    Schema {
        /// The schema of `mmhost run --report json` instead.
        #[arg(long)]
        report: bool,
    },
    /// Finish or undo interrupted runs over PATHS (files or directories).
    ///
    /// mmhost does this by itself before any run that touches the same
    /// directories; this command does only that.
    Recover {
        /// Files or directories to check.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Print how FILES would be laid out in a region (the segment table).
    Layout {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// The input files, in order.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Turn a core wasm module into a component of the mmhost world.
    Wrap {
        /// The core module (binary or .wat).
        module: PathBuf,
        /// Where to write the component.
        #[arg(short, long)]
        output: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    /// One line of JSON.
    Json,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Run the job described in this JSON file instead of PLUGIN.
    #[arg(long, value_name = "JOB_FILE")]
    job: Option<PathBuf>,
    /// Replace the input files with the plugin's changes (atomically).
    #[arg(short, long, conflicts_with_all = ["output", "output_dir"])]
    in_place: bool,
    /// Write the transformed concatenation to FILE; inputs stay untouched.
    #[arg(short, long, value_name = "FILE", conflicts_with = "output_dir")]
    output: Option<PathBuf>,
    /// Write each input, transformed, to DIR under its own name.
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// Run with writes enabled but commit nothing; report what would change.
    #[arg(long)]
    dry_run: bool,
    /// Cap on each plugin's linear memory (e.g. 64M, 1G) [default: 256M].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_memory: Option<u64>,
    /// Stop the plugin after this long (e.g. 500ms, 30s, 5m); with --job, all
    /// the steps together.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Do not use the compilation cache.
    #[arg(long)]
    no_cache: bool,
    /// Print a summary of the run (steps, bytes, times, segment table) as the
    /// last line of stderr, success or not.
    #[arg(long, value_name = "FORMAT")]
    report: Option<ReportFormat>,
    /// Write the --report summary to FILE instead of stderr.
    #[arg(long, value_name = "FILE")]
    report_file: Option<PathBuf>,
    /// The plugin: a component, a core module or .wat text.
    #[arg(required_unless_present = "job")]
    plugin: Option<PathBuf>,
    /// The input files, in region order (with --job: instead of its inputs).
    #[arg(required_unless_present = "job")]
    files: Vec<PathBuf>,
    /// Arguments for the plugin (after --).
    #[arg(last = true)]
    args: Vec<String>,
}

fn log_level(cli: &Cli) -> LogLevel {
    match (cli.verbose, cli.quiet) {
        (0, 0) => LogLevel::Info,
        (1, _) => LogLevel::Debug,
        (v, _) if v >= 2 => LogLevel::Trace,
        (_, 1) => LogLevel::Warn,
        _ => LogLevel::Error,
    }
}

fn runtime(no_cache: bool) -> Result<Runtime, Error> {
    Runtime::new(&if no_cache {
        RuntimeOptions::default()
    } else {
        RuntimeOptions::with_default_cache()
    })
}

/// The job the command line asks for: one plugin, or a job file with the
/// flags over it.
fn build_job(cli: &Cli, args: &RunArgs) -> Result<Job, Error> {
    let target = match (&args.output, &args.output_dir, args.in_place) {
        (Some(out), _, _) => Some(Target::Output(out.clone())),
        (None, Some(dir), _) => Some(Target::OutputDir(dir.clone())),
        (None, None, true) => Some(Target::InPlace),
        (None, None, false) => None,
    };
    let level = log_level(cli);
    let Some(job_file) = &args.job else {
        let plugin = args
            .plugin
            .clone()
            .expect("clap requires PLUGIN without --job");
        let run = RunOptions {
            args: args.args.clone(),
            max_memory: args.max_memory.unwrap_or(DEFAULT_MAX_MEMORY),
            timeout: args.timeout,
            log_level: level,
            ..RunOptions::default()
        };
        return Ok(Job::single(
            plugin,
            args.files.clone(),
            target.unwrap_or(Target::ReadOnly),
            run,
            args.dry_run,
        ));
    };
    if !args.args.is_empty() {
        return Err(Error::new(
            ErrorKind::Usage,
            "plugin arguments after `--` do not go with --job: give each step its \"args\" in \
             the job file",
        ));
    }
    let inputs: Vec<PathBuf> = args.plugin.iter().chain(&args.files).cloned().collect();
    let overrides = Overrides {
        inputs: (!inputs.is_empty()).then_some(inputs),
        target,
        dry_run: args.dry_run,
        max_memory: args.max_memory,
        timeout: args.timeout,
        log_level: level,
    };
    JobFile::read(job_file)?.resolve(job_file, &overrides)
}

/// `mmhost run`: the result, and the JSON summary if one was asked for.
fn run(cli: &Cli, args: &RunArgs) -> (Result<(), Error>, Option<RunReport>) {
    let started = Instant::now();
    let mut report = Report::default();
    let mut job = None;
    let result = build_job(cli, args).and_then(|j| run_job(cli, args, job.insert(j), &mut report));
    let summary = (args.report.is_some() || args.report_file.is_some()).then(|| {
        RunReport::new(
            job.as_ref(),
            &report,
            result.as_ref().err(),
            started.elapsed(),
        )
    });
    (result, summary)
}

fn run_job(cli: &Cli, args: &RunArgs, job: &Job, report: &mut Report) -> Result<(), Error> {
    let level = log_level(cli);
    let runtime = runtime(args.no_cache)?;
    let out = Box::new(BufWriter::with_capacity(1 << 16, io::stdout()));
    job.execute_into(&runtime, out, &mut |r| report_recovery(r, level), report)?;
    if !report.ok.is_empty() {
        let mut stdout = io::stdout().lock();
        let nl = if report.ok.ends_with('\n') { "" } else { "\n" };
        write!(stdout, "{}{nl}", report.ok)
            .and_then(|_| stdout.flush())
            .map_err(|e| {
                Error::new(ErrorKind::Output, format!("writing to stdout: {e}"))
                    .with_io_kind(e.kind())
            })?;
    }
    if let Some(changes) = &report.commit.dry_run {
        if level >= LogLevel::Info {
            let total: u64 = changes.iter().map(|(_, n)| n).sum();
            let list: Vec<String> = changes
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(p, n)| format!("{} ({n})", p.display()))
                .collect();
            eprintln!(
                "mmhost: dry run: {} bytes would change in {} file{}{}{}; nothing was written",
                total,
                list.len(),
                if list.len() == 1 { "" } else { "s" },
                if list.is_empty() { "" } else { ": " },
                list.join(", ")
            );
        }
    } else if job.target != Target::ReadOnly && level >= LogLevel::Info {
        let files: Vec<String> = report
            .commit
            .files
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        eprintln!(
            "mmhost: wrote {} bytes; {} file{} changed{}{}",
            report.stats.bytes_written,
            files.len(),
            if files.len() == 1 { "" } else { "s" },
            if files.is_empty() { "" } else { ": " },
            files.join(", ")
        );
    }
    Ok(())
}

fn report_recovery(r: &Recovered, level: LogLevel) {
    if level < LogLevel::Warn {
        return;
    }
    match r {
        Recovered::RolledForward(files) => eprintln!(
            "mmhost: finished an interrupted run: {} file{} replaced with the new version ({})",
            files.len(),
            if files.len() == 1 { "" } else { "s" },
            files
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Recovered::RolledBack(n) => eprintln!(
            "mmhost: undid an interrupted run: removed {n} unfinished cop{}; the files are unchanged",
            if *n == 1 { "y" } else { "ies" }
        ),
        Recovered::Orphans(n) => eprintln!(
            "mmhost: removed {n} leftover cop{} of a killed run; the files are unchanged",
            if *n == 1 { "y" } else { "ies" }
        ),
    }
}

fn recover(paths: &[PathBuf], level: LogLevel) -> Result<(), Error> {
    let dirs: Vec<PathBuf> = paths
        .iter()
        .map(|p| {
            let p = p.canonicalize().map_err(|e| Error::input(p, e))?;
            Ok(if p.is_dir() {
                p
            } else {
                p.parent().map(PathBuf::from).unwrap_or(p)
            })
        })
        .collect::<Result<_, Error>>()?;
    let done = mmhost::commit::recover(&dirs)
        .map_err(|e| Error::new(ErrorKind::Output, format!("recovering: {e}")))?;
    for r in &done {
        report_recovery(r, level);
    }
    if done.is_empty() && level >= LogLevel::Info {
        eprintln!("mmhost: nothing to recover");
    }
    Ok(())
}

fn layout(files: &[PathBuf], json: bool) -> Result<(), Error> {
    let region = Region::open(open_inputs(files, false)?, mmhost::region::Access::ReadOnly)?;
    let layout = region.layout();
    let mut out = io::stdout().lock();
    let write_err = |e: io::Error| Error::new(ErrorKind::Output, format!("writing to stdout: {e}"));
    let rows: Vec<(usize, &mmhost::region::Segment, Placement, u64)> = region
        .segments()
        .iter()
        .zip(layout.slots())
        .enumerate()
        .map(|(i, (seg, slot))| (i, seg, slot.placement, slot.addr))
        .collect();
    let placement = |p: Placement| match p {
        Placement::Empty => "empty",
        Placement::Mapped => "mapped",
        Placement::Packed => "packed",
    };
    if json {
        let files: Vec<serde_json::Value> = rows
            .iter()
            .map(|(_, seg, p, addr)| {
                serde_json::json!({
                    "name": seg.name,
                    "start": seg.start,
                    "end": seg.start + seg.len,
                    "len": seg.len,
                    "placement": placement(*p),
                    "address_offset": addr,
                })
            })
            .collect();
        let v = serde_json::json!({
            "size": layout.size(),
            "contiguous": layout.is_contiguous(),
            "extents": layout.extents().len(),
            "mappings": layout.mappings(),
            "files": files,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v).expect("json")).map_err(write_err)?;
    } else {
        writeln!(
            out,
            "{:>5}  {:>14}  {:>14}  {:>14}  {:<7}  file",
            "#", "start", "end", "size", "placed"
        )
        .map_err(write_err)?;
        for (i, seg, p, _) in &rows {
            writeln!(
                out,
                "{:>5}  {:>14}  {:>14}  {:>14}  {:<7}  {}",
                i,
                seg.start,
                seg.start + seg.len,
                seg.len,
                placement(*p),
                seg.name
            )
            .map_err(write_err)?;
        }
        writeln!(
            out,
            "total {} bytes in {} files; {} ({} extent{}, {} mapping{})",
            layout.size(),
            rows.len(),
            if layout.is_contiguous() {
                "contiguous"
            } else {
                "not contiguous"
            },
            layout.extents().len(),
            if layout.extents().len() == 1 { "" } else { "s" },
            layout.mappings(),
            if layout.mappings() == 1 { "" } else { "s" },
        )
        .map_err(write_err)?;
    }
    Ok(())
}

fn wrap(module: &PathBuf, output: &PathBuf) -> Result<(), Error> {
    let bytes = std::fs::read(module).map_err(|e| Error::plugin_load(module, e))?;
    let bytes = wat::parse_bytes(&bytes)
        .map_err(|e| Error::plugin_load(module, e))?
        .into_owned();
    let component = mmhost::runtime::wrap_module(&bytes)
        .map_err(|e| Error::plugin_load(module, format!("{e:#}")))?;
    std::fs::write(output, component).map_err(|e| Error::output(output, e))?;
    Ok(())
}

/// `mmhost check`: validates a job file and loads its plugins.
fn check(cli: &Cli, job_file: &Path, no_cache: bool) -> Result<(), Error> {
    let overrides = Overrides {
        log_level: log_level(cli),
        ..Overrides::default()
    };
    let job = JobFile::read(job_file)?.resolve(job_file, &overrides)?;
    job.load_plugins(&runtime(no_cache)?)?;
    if log_level(cli) < LogLevel::Info {
        return Ok(());
    }
    let bytes: u64 = job
        .inputs
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let target = match &job.target {
        Target::ReadOnly => "read-only".to_string(),
        Target::InPlace => "in place".to_string(),
        Target::Output(p) => format!("output {}", p.display()),
        Target::OutputDir(p) => format!("output directory {}", p.display()),
    };
    let mut text = format!(
        "{}: ok: {} step{} over {} input file{} ({bytes} bytes); writes: {target}{}\n",
        job_file.display(),
        job.steps.len(),
        if job.steps.len() == 1 { "" } else { "s" },
        job.inputs.len(),
        if job.inputs.len() == 1 { "" } else { "s" },
        if job.dry_run { " (dry run)" } else { "" },
    );
    for (i, step) in job.steps.iter().enumerate() {
        text += &format!(
            "  steps[{i}]: {} ({})\n",
            step.label(),
            step.plugin.display()
        );
    }
    io::stdout().lock().write_all(text.as_bytes()).map_err(|e| {
        Error::new(ErrorKind::Output, format!("writing to stdout: {e}")).with_io_kind(e.kind())
    })
}

fn schema(report: bool) -> Result<(), Error> {
    let text = if report {
        mmhost::job::report::schema_text()
    } else {
        mmhost::job::file::schema_text()
    };
    io::stdout().lock().write_all(text.as_bytes()).map_err(|e| {
        Error::new(ErrorKind::Output, format!("writing to stdout: {e}")).with_io_kind(e.kind())
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut summary = None;
    let result = match &cli.command {
        Command::Run(args) => {
            let (result, report) = run(&cli, args);
            summary = report.map(|r| (r, args.report_file.clone()));
            result
        }
        Command::Check { job, no_cache } => check(&cli, job, *no_cache),
        Command::Schema { report } => schema(*report),
        Command::Layout { json, files } => layout(files, *json),
        Command::Recover { paths } => recover(paths, log_level(&cli)),
        Command::Wrap { module, output } => wrap(module, output),
    };
    let mut code = match result {
        Ok(()) => 0,
        // The reader of our output went away (`| head`): stop quietly, as a
        // process killed by SIGPIPE would.
        Err(e) if e.is_broken_pipe() => 141,
        Err(e) => {
            let _ = io::stdout().flush();
            eprintln!("mmhost: error: {e}");
            e.exit_code()
        }
    };
    // The report comes last, after any error, so that it is the last line
    // of stderr.
    if let Some((summary, file)) = summary {
        let line = summary.to_json_line();
        match file {
            None => eprintln!("{line}"),
            Some(path) => {
                if let Err(e) = std::fs::write(&path, line + "\n") {
                    eprintln!(
                        "mmhost: error: {}: cannot write the report: {e}",
                        path.display()
                    );
                    if code == 0 {
                        code = ErrorKind::Output.exit_code();
                    }
                }
            }
        }
    }
    ExitCode::from(code as u8)
}
