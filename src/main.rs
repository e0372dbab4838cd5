//! The `mmhost` command: argument parsing, printing, exit codes. Everything
//! else lives in the library.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{ArgAction, CommandFactory, Parser, Subcommand, ValueEnum};

use mmhost::commit::{Recovered, Target};
use mmhost::job::file::{JobFile, Overrides, DEFAULT_MAX_MEMORY};
use mmhost::job::report::RunReport;
use mmhost::job::{parse_duration, parse_size, Job, Report};
use mmhost::progress::{Bar, ProgressState, Show};
use mmhost::region::{open_inputs, Placement, Region};
use mmhost::runtime::{default_jobs, LogLevel, RunOptions, Runtime, RuntimeOptions};
use mmhost::{Error, ErrorKind};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the plugin returned an error
  2  usage error (bad command line, invalid job file)
  3  input file error (missing, not a regular file, unreadable, named twice, locked,
     changed size, truncated by another process while mapped)
  4  the plugin cannot be loaded (not wasm, wrong world, unknown imports)
  5  the plugin trapped or hit a limit (memory, timeout, fuel, result size)
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
        /// Read more input files from LIST (`-`: standard input), one path a
        /// line, after FILEs.
        #[arg(long, value_name = "LIST")]
        files_from: Option<PathBuf>,
        /// The --files-from list is NUL-separated.
        #[arg(long, requires = "files_from")]
        null: bool,
        /// The input files, in order.
        #[arg(required_unless_present = "files_from")]
        files: Vec<PathBuf>,
    },
    /// Describe a plugin: component or module, world and version, imports,
    /// exports, size, source language.
    #[command(after_help = "Example:\n  mmhost inspect target/plugins/upper.wasm")]
    Inspect {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// The plugin file.
        plugin: PathBuf,
    },
    /// Compile plugins ahead of time into the compilation cache, so that
    /// their first run starts fast; checks that each loads.
    #[command(after_help = "Example:\n  mmhost compile plugins/python/upper.wasm")]
    Compile {
        /// The plugin files.
        #[arg(required = true)]
        plugins: Vec<PathBuf>,
    },
    /// Create a plugin project: the WIT, a helper library, a buildable
    /// example (counts lines) and a build.sh.
    #[command(
        after_help = "Examples:\n  mmhost new --lang rust line-count\n  mmhost new --lang python --dir plugins/mine line-count\n\nThen: cd line-count && bash build.sh && mmhost run line-count.wasm FILE..."
    )]
    New {
        /// rust, c, assemblyscript, python or javascript.
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(mmhost::scaffold::LANGUAGES))]
        lang: String,
        /// Directory to create (default: NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The plugin's name: lower-case letters, digits and `-`.
        name: String,
    },
    /// List the built-in plugins (run by name: `mmhost run wc FILE...`), or
    /// print the help of one.
    #[command(after_help = "Examples:\n  mmhost plugins\n  mmhost plugins grep")]
    Plugins {
        /// The built-in to describe.
        name: Option<String>,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(
        after_help = "Example:\n  mmhost completions bash > ~/.local/share/bash-completion/completions/mmhost"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), generated from this help.
    #[command(after_help = "Example:\n  mmhost man | man -l -")]
    Man,
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
    /// Stop the plugin after N units of fuel (about one per WebAssembly
    /// instruction): a cut-off that is the same on every run and machine.
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,
    /// Run plugins that can work chunk by chunk (the `parallel` world) on N
    /// threads, one instance each [default: the number of cores]; 1 runs
    /// every plugin serially. With --fuel, runs are serial.
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    jobs: Option<u32>,
    /// Split the region into chunks of SIZE bytes for a parallel plugin (e.g.
    /// 64M) instead of choosing (about four chunks per job, at least 4M);
    /// given, chunks are used even with --jobs 1.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    chunk_size: Option<u64>,
    /// Do not use the compilation cache.
    #[arg(long)]
    no_cache: bool,
    /// Show a progress bar even when stderr is not a terminal.
    #[arg(long, conflicts_with = "no_progress")]
    progress: bool,
    /// Never show a progress bar.
    #[arg(long)]
    no_progress: bool,
    /// Print a summary of the run (steps, bytes, times, segment table) as the
    /// last line of stderr, success or not.
    #[arg(long, value_name = "FORMAT")]
    report: Option<ReportFormat>,
    /// Write the --report summary to FILE instead of stderr.
    #[arg(long, value_name = "FILE")]
    report_file: Option<PathBuf>,
    /// Read more input files from LIST (`-`: standard input), one path a
    /// line, taken after FILEs in the list's order (with --job: instead of
    /// its inputs).
    #[arg(long, value_name = "LIST")]
    files_from: Option<PathBuf>,
    /// The --files-from list is NUL-separated (as `find -print0` writes it).
    #[arg(long, requires = "files_from")]
    null: bool,
    /// The plugin: a component, a core module or .wat text (a path with a
    /// `/` or a .wasm/.wat name), or a built-in's name (`mmhost plugins`).
    #[arg(required_unless_present = "job")]
    plugin: Option<PathBuf>,
    /// The input files, in region order (with --job: instead of its inputs).
    #[arg(required_unless_present_any = ["job", "files_from"])]
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

fn runtime(no_cache: bool, level: LogLevel) -> Result<Runtime, Error> {
    Runtime::new(&RuntimeOptions {
        compile_notice: level >= LogLevel::Info,
        ..if no_cache {
            RuntimeOptions::default()
        } else {
            RuntimeOptions::with_default_cache()
        }
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
            fuel: args.fuel,
            log_level: level,
            jobs: default_jobs(),
            ..RunOptions::default()
        };
        return Ok(Job::single(
            plugin,
            with_list(args.files.clone(), &args.files_from, args.null)?,
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
    let inputs = with_list(inputs, &args.files_from, args.null)?;
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

/// `files` followed by those of the `--files-from` list, if any.
fn with_list(
    mut files: Vec<PathBuf>,
    list: &Option<PathBuf>,
    null: bool,
) -> Result<Vec<PathBuf>, Error> {
    if let Some(list) = list {
        let sep = if null {
            mmhost::filelist::Separator::Nul
        } else {
            mmhost::filelist::Separator::Newline
        };
        files.extend(mmhost::filelist::read(list, sep, Path::new(""))?);
    }
    Ok(files)
}

/// `mmhost run`: the result, and the JSON summary if one was asked for.
fn run(cli: &Cli, args: &RunArgs) -> (Result<(), Error>, Option<RunReport>) {
    let started = Instant::now();
    let mut report = Report::default();
    let mut job = None;
    let result = build_job(cli, args)
        .map(|mut j| {
            // Flags that hold for every step.
            for step in &mut j.steps {
                if args.fuel.is_some() {
                    step.run.fuel = args.fuel;
                }
                if let Some(jobs) = args.jobs {
                    step.run.jobs = jobs as usize;
                }
                if args.chunk_size.is_some() {
                    step.run.chunk_size = args.chunk_size;
                }
            }
            j
        })
        .and_then(|j| run_job(cli, args, job.insert(j), &mut report));
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
    let runtime = runtime(args.no_cache, level)?;
    let progress = ProgressState::new();
    let mut job = job.clone();
    for step in &mut job.steps {
        step.run.progress = Some(progress.clone());
    }
    let show = match (args.progress, args.no_progress) {
        (true, _) => Show::Always,
        (_, true) => Show::Never,
        _ if level < LogLevel::Info => Show::Never,
        _ => Show::Auto,
    };
    let label = args
        .job
        .as_ref()
        .or(args.plugin.as_ref())
        .and_then(|p| p.file_stem())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bar = Bar::start(progress, show, label);
    let out = Box::new(BufWriter::with_capacity(1 << 16, io::stdout()));
    let executed = job.execute_into(&runtime, out, &mut |r| report_recovery(r, level), report);
    drop(bar);
    executed?;
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

fn inspect(plugin: &std::path::Path, json: bool) -> Result<(), Error> {
    let info = mmhost::runtime::inspect::inspect(plugin)?;
    // Whether this mmhost loads it: the definitive check of the world.
    let runtime = Runtime::new(&RuntimeOptions::with_default_cache())?;
    let loads = runtime
        .load(plugin)
        .map(|p| p.parallel())
        .map_err(|e| e.message().to_string());
    let mut out = io::stdout().lock();
    let write_err = |e: io::Error| {
        Error::new(ErrorKind::Output, format!("writing to stdout: {e}")).with_io_kind(e.kind())
    };
    if json {
        let mut v = serde_json::to_value(&info).expect("inspection is JSON");
        v["loads"] = serde_json::json!(loads.is_ok());
        v["parallel"] = serde_json::json!(loads.as_ref().is_ok_and(|p| *p));
        if let Err(why) = &loads {
            v["load_error"] = serde_json::json!(why);
        }
        writeln!(out, "{}", serde_json::to_string_pretty(&v).expect("json")).map_err(write_err)?;
        return Ok(());
    }
    let list = |v: &[String]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(", ")
        }
    };
    let world = match (&loads, &info.mmhost_version) {
        (Ok(true), Some(v)) => {
            format!("mmhost:plugin/parallel@{v} (loads in this mmhost; may work in chunks on --jobs threads)")
        }
        (Ok(false), Some(v)) => format!("mmhost:plugin/transform@{v} (loads in this mmhost)"),
        (Ok(_), None) => "mmhost:plugin/transform (imports nothing; loads in this mmhost)".into(),
        (Err(why), _) => format!("does not load in this mmhost: {why}"),
    };
    let text = format!(
        "file:         {}\nsize:         {} bytes\nkind:         {}\nworld:        {world}\n\
         imports:      {}\nexports:      {}\nlanguage:     {}\nprocessed-by: {}\nsdk:          {}\n",
        plugin.display(),
        info.size,
        info.kind,
        list(&info.imports),
        list(&info.exports),
        list(&info.languages),
        list(&info.processed_by),
        list(&info.sdks),
    );
    out.write_all(text.as_bytes()).map_err(write_err)
}

fn new_plugin(lang: &str, name: &str, dir: Option<&Path>, level: LogLevel) -> Result<(), Error> {
    let dir = dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(name));
    let files = mmhost::scaffold::scaffold(lang, name, &dir)?;
    if level >= LogLevel::Info {
        eprintln!(
            "mmhost: created {} ({} files, {lang}); build and run it with:\n  cd {} && bash build.sh && mmhost run {name}.wasm FILE...",
            dir.display(),
            files.len(),
            dir.display()
        );
    }
    Ok(())
}

fn compile(plugins: &[PathBuf], level: LogLevel) -> Result<(), Error> {
    let opts = RuntimeOptions {
        compile_notice: level >= LogLevel::Info,
        ..RuntimeOptions::with_default_cache()
    };
    let runtime = Runtime::new(&opts)?;
    for p in plugins {
        let t = std::time::Instant::now();
        runtime.load(p)?;
        if level >= LogLevel::Info {
            eprintln!(
                "mmhost: {} ready ({} ms)",
                p.display(),
                t.elapsed().as_millis()
            );
        }
    }
    Ok(())
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
    let rows: Vec<(usize, &mmhost::region::Segment, Placement, &str)> = region
        .segments()
        .iter()
        .zip(layout.slots())
        .enumerate()
        .map(|(i, (seg, slot))| {
            let slot_kind = if layout.joins_previous(i) {
                "contiguous"
            } else {
                "own-slot"
            };
            (i, seg, slot.placement, slot_kind)
        })
        .collect();
    let placement = |p: Placement| match p {
        Placement::Empty => "empty",
        Placement::Mapped => "mapped",
        Placement::Packed => "packed",
    };
    if json {
        let files: Vec<serde_json::Value> = rows
            .iter()
            .map(|(_, seg, p, slot)| {
                serde_json::json!({
                    "name": seg.name,
                    "start": seg.start,
                    "end": seg.start + seg.len,
                    "len": seg.len,
                    "placement": placement(*p),
                    "slot": slot,
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
            "{:>5}  {:>14}  {:>14}  {:>14}  {:<7}  {:<10}  file",
            "#", "start", "end", "size", "placed", "slot"
        )
        .map_err(write_err)?;
        for (i, seg, p, slot) in &rows {
            writeln!(
                out,
                "{:>5}  {:>14}  {:>14}  {:>14}  {:<7}  {:<10}  {}",
                i,
                seg.start,
                seg.start + seg.len,
                seg.len,
                placement(*p),
                slot,
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
    job.load_plugins(&runtime(no_cache, log_level(cli))?)?;
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

/// `mmhost run NAME --help` for a built-in NAME: its help (as `mmhost
/// plugins NAME`), not the help of `run`.
fn builtin_help() -> Option<String> {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    match args.as_slice() {
        [run, name, help] if run == "run" && (help == "--help" || help == "-h") => {
            mmhost::builtins::describe(Some(name)).ok()
        }
        _ => None,
    }
}

fn print_text(text: Result<String, Error>) -> Result<(), Error> {
    io::stdout()
        .lock()
        .write_all(text?.as_bytes())
        .map_err(|e| {
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

/// `text` in the ANSI style `sgr` when stderr is a terminal and `NO_COLOR`
/// is not set (<https://no-color.org>); plain otherwise.
fn paint(text: &str, sgr: &str) -> String {
    use std::io::IsTerminal;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    if !no_color && io::stderr().is_terminal() {
        format!("\x1b[{sgr}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

fn main() -> ExitCode {
    // Before anything is mapped: a file truncated under the run ends it with
    // one clear line and exit code 3 instead of a bare crash.
    if let Err(e) = mmhost::sigbus::install() {
        eprintln!("mmhost: warning: cannot install the SIGBUS handler: {e}");
    }
    if let Some(text) = builtin_help() {
        return match print_text(Ok(text)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => ExitCode::from(e.exit_code() as u8),
        };
    }
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
        Command::Layout {
            json,
            files,
            files_from,
            null,
        } => with_list(files.clone(), files_from, *null).and_then(|f| layout(&f, *json)),
        Command::Recover { paths } => recover(paths, log_level(&cli)),
        Command::Wrap { module, output } => wrap(module, output),
        Command::Inspect { json, plugin } => inspect(plugin, *json),
        Command::New { lang, dir, name } => new_plugin(lang, name, dir.as_deref(), log_level(&cli)),
        Command::Compile { plugins } => compile(plugins, log_level(&cli)),
        Command::Plugins { name } => print_text(mmhost::builtins::describe(name.as_deref())),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(*shell, &mut cmd, "mmhost", &mut io::stdout());
            Ok(())
        }
        Command::Man => clap_mangen::Man::new(Cli::command())
            .render(&mut io::stdout())
            .map_err(|e| {
                Error::new(ErrorKind::Output, format!("writing to stdout: {e}"))
                    .with_io_kind(e.kind())
            }),
    };
    let mut code = match result {
        Ok(()) => 0,
        // The reader of our output went away (`| head`): stop quietly, as a
        // process killed by SIGPIPE would.
        Err(e) if e.is_broken_pipe() => 141,
        Err(e) => {
            let _ = io::stdout().flush();
            eprintln!("mmhost: {}: {e}", paint("error", "1;31"));
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
