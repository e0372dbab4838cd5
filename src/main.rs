//! The `mmhost` command: argument parsing, printing, exit codes. Everything
//! else lives in the library.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{ArgAction, CommandFactory, Parser, Subcommand, ValueEnum};

use mmhost::commit::{Recovered, Target};
use mmhost::escape::{json_safe, terminal_details, terminal_message, Quoted};
use mmhost::job::file::{JobFile, Overrides};
use mmhost::job::report::RunReport;
use mmhost::job::{parse_duration, parse_size, Job, Report};
use mmhost::progress::{Bar, ProgressState, Show};
use mmhost::region::{open_inputs, Region};
use mmhost::runtime::{LogLevel, Runtime, RuntimeOptions};
use mmhost::{Error, ErrorKind};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the plugin returned an error
  2  usage error (bad command line, invalid job file; -o, --output-dir or
     --report-file that would overwrite an input)
  3  input file error (missing, not a regular file, unreadable, named twice, locked,
     changed size, truncated by another process while mapped)
  4  the plugin cannot be loaded (not wasm, wrong world, unknown imports, not a
     regular file, over 256 MiB, a function body over 1 MiB)
  5  the plugin trapped or hit a limit (memory, timeout, fuel, result size,
     partial results)
  6  the result could not be written (disk full, unwritable directory, -o onto a
     device or FIFO); nothing changed
  7  the WebAssembly engine could not be set up (a host problem; nothing was run)";

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
    /// Print the JSON Schema of job files (or of the run report, or of plans).
    Schema {
        /// The schema of `mmhost run --report json` instead.
        #[arg(long)]
        report: bool,
        /// The schema of `mmhost plan`'s documents instead.
        #[arg(long, conflicts_with = "report")]
        plan: bool,
    },
    /// Plan a run spread over many processes or machines: check the inputs
    /// and plugin, cut the chunks, stage the new versions; print the plan.
    #[command(after_help = DISTRIBUTED_HELP)]
    Plan(PlanArgs),
    /// Run chunks I..J of a plan in this process (one instance); print one
    /// JSON result line per chunk.
    #[command(after_help = DISTRIBUTED_HELP)]
    RunChunk {
        /// The plan file (from `mmhost plan`).
        #[arg(long, value_name = "PLAN")]
        plan: PathBuf,
        /// The chunk, or an inclusive range of chunks: I or I-J.
        #[arg(long, value_name = "I[-J]")]
        chunk: mmhost::distributed::ChunkRange,
        /// Do not use the compilation cache.
        #[arg(long)]
        no_cache: bool,
    },
    /// Combine the result lines of every chunk: print the emitted bytes in
    /// chunk order, then the plugin's `ok` text, as `mmhost run` does.
    #[command(after_help = DISTRIBUTED_HELP)]
    Reduce {
        /// The plan file.
        #[arg(long, value_name = "PLAN")]
        plan: PathBuf,
        /// Files of result lines (`-`: standard input), in any order.
        #[arg(required = true, value_name = "RESULTS")]
        results: Vec<PathBuf>,
        /// Do not use the compilation cache.
        #[arg(long)]
        no_cache: bool,
    },
    /// Commit a planned writing run whose chunks have all run: all or
    /// nothing, as `mmhost run` commits.
    #[command(after_help = DISTRIBUTED_HELP)]
    Commit {
        /// The plan file.
        #[arg(long, value_name = "PLAN")]
        plan: PathBuf,
        /// Take the chunks' results from these files (default: the records
        /// in the plan's stage directory).
        #[arg(long, value_name = "RESULTS", num_args = 1..)]
        results: Vec<PathBuf>,
    },
    /// Abandon a planned run: remove its staged new versions and its stage
    /// directory; the files are unchanged.
    #[command(after_help = DISTRIBUTED_HELP)]
    Abort {
        /// The plan file.
        #[arg(long, value_name = "PLAN")]
        plan: PathBuf,
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

const DISTRIBUTED_HELP: &str = "\
A run spread over processes or machines (see README, Protocol):
  mmhost plan --chunk-size 256M -o out.txt upper.wasm in/*.txt > p.json
  N=$(jq .chunk_count p.json)
  seq 0 $((N-1)) | xargs -P 4 -I{} mmhost run-chunk --plan p.json --chunk {} > results
  mmhost reduce --plan p.json results && mmhost commit --plan p.json --results results

A driver may retry a chunk killed by a signal or one that exited with 6 (I/O);
exit codes 1-5 are deterministic: abort with `mmhost abort --plan p.json`.";

/// `mmhost plan`'s arguments: `mmhost run`'s write and limit flags, and the
/// plan's own.
#[derive(clap::Args)]
struct PlanArgs {
    /// Take the plugin, arguments, inputs, write target and limits from this
    /// JSON job file (one step only).
    #[arg(long, value_name = "JOB_FILE")]
    job: Option<PathBuf>,
    /// Replace the input files with the plugin's changes (atomically, at
    /// `mmhost commit`).
    #[arg(short, long, conflicts_with_all = ["output", "output_dir"])]
    in_place: bool,
    /// Write the transformed concatenation to FILE.
    #[arg(short, long, value_name = "FILE", conflicts_with = "output_dir")]
    output: Option<PathBuf>,
    /// Write each input, transformed, to DIR under its own name.
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// Run with writes enabled but commit nothing: `mmhost commit` reports
    /// what would change.
    #[arg(long)]
    dry_run: bool,
    /// Cap on the plugin's linear memory [default: 256M].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_memory: Option<u64>,
    /// Stop each run-chunk (and reduce) process's plugin after this long.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Fuel limit; a run with fuel is not split (one chunk).
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,
    /// Chunk size [default: 256M].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    chunk_size: Option<u64>,
    /// In writing runs, chunk boundaries fall on multiples of SIZE within
    /// each written file, so no two chunks write one block [default: 4K].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    block_size: Option<u64>,
    /// Where chunks put their emitted bytes and result records (on a file
    /// system every worker sees) [default: .mmhost-run-ID beside the output,
    /// else beside --plan-out, else in the working directory].
    #[arg(long, value_name = "DIR")]
    stage_dir: Option<PathBuf>,
    /// Write the plan to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    plan_out: Option<PathBuf>,
    /// Do not use the compilation cache.
    #[arg(long)]
    no_cache: bool,
    /// The plugin.
    #[arg(required_unless_present = "job")]
    plugin: Option<PathBuf>,
    /// The input files, in region order.
    #[arg(required_unless_present = "job")]
    files: Vec<PathBuf>,
    /// Arguments for the plugin (after --).
    #[arg(last = true)]
    args: Vec<String>,
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
    /// Cap on each plugin instance's linear memories and tables together
    /// (e.g. 64M, 1G) [default: 256M]. Per instance: a parallel run of N
    /// jobs has N + 1 instances, so up to (N + 1) x SIZE, plus at most SIZE
    /// of partial results.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_memory: Option<u64>,
    /// Stop the plugin after this long (e.g. 500ms, 30s, 5m); with --job, all
    /// the steps together. Also bounds compiling a plugin not in the cache
    /// (at least 1s).
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
    /// given, chunks are used even with --jobs 1. At least 1 byte; grown if
    /// the region would have over 16384 chunks.
    #[arg(long, value_name = "SIZE", value_parser = mmhost::runtime::parse_chunk_size)]
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
    let files: Vec<PathBuf> = match &args.job {
        // With --job, PLUGIN is the first input.
        Some(_) => args.plugin.iter().chain(&args.files).cloned().collect(),
        None => args.files.clone(),
    };
    let files = with_list(files, &args.files_from, args.null)?;
    let overrides = Overrides {
        inputs: (!files.is_empty()).then(|| files.clone()),
        target,
        dry_run: args.dry_run,
        max_memory: args.max_memory,
        timeout: args.timeout,
        log_level: log_level(cli),
        fuel: args.fuel,
        jobs: args.jobs.map(|j| j as usize),
        chunk_size: args.chunk_size,
    };
    let Some(job_file) = &args.job else {
        let plugin = args
            .plugin
            .clone()
            .expect("clap requires PLUGIN without --job");
        return Ok(Job::single(
            plugin,
            files,
            overrides.target.clone().unwrap_or(Target::ReadOnly),
            overrides.run_options(args.args.clone()),
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

/// The JSON summary of a run, and the file to write it to (`None`: stderr).
type Summary = (RunReport, Option<PathBuf>);

/// `mmhost run`: the result, and the JSON summary if one was asked for with
/// the file to write it to (`None`: stderr).
fn run(cli: &Cli, args: &RunArgs) -> (Result<(), Error>, Option<Summary>) {
    let started = Instant::now();
    let mut report = Report::default();
    let mut job = None;
    let mut report_file = args.report_file.clone();
    let result = build_job(cli, args).and_then(|j| {
        let j = job.insert(j);
        if let Some(path) = &args.report_file {
            // A report file that would overwrite an input or an output
            // is refused, and the report goes to stderr instead.
            mmhost::commit::check_report_file(path, &j.inputs, &j.target)
                .inspect_err(|_| report_file = None)?;
        }
        run_job(cli, args, j, &mut report)
    });
    let summary = (args.report.is_some() || args.report_file.is_some()).then(|| {
        RunReport::new(
            job.as_ref(),
            &report,
            result.as_ref().err(),
            started.elapsed(),
        )
    });
    (result, summary.map(|s| (s, report_file)))
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
        .map(|s| mmhost::escape::quote(Path::new(s)))
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
            .map_err(Error::stdout)?;
    }
    if level >= LogLevel::Info {
        if let Some(line) = report.writes_summary(&job.target) {
            eprintln!("mmhost: {line}");
        }
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
                .map(|p| Quoted(p).to_string())
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
    let text = if json {
        json_safe(&serde_json::to_string_pretty(&info.to_json(&loads)).expect("json")) + "\n"
    } else {
        info.to_text(plugin, &loads)
    };
    io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(Error::stdout)
}

fn new_plugin(lang: &str, name: &str, dir: Option<&Path>, level: LogLevel) -> Result<(), Error> {
    let dir = dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(name));
    let files = mmhost::scaffold::scaffold(lang, name, &dir)?;
    if level >= LogLevel::Info {
        eprintln!(
            "mmhost: created {} ({} files, {lang}); build and run it with:\n  cd {} && bash build.sh && mmhost run {name}.wasm FILE...",
            Quoted(&dir),
            files.len(),
            Quoted(&dir)
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
                Quoted(p),
                t.elapsed().as_millis()
            );
        }
    }
    Ok(())
}

fn recover(paths: &[PathBuf], level: LogLevel) -> Result<(), Error> {
    let dirs = mmhost::commit::recovery_dirs(paths)?;
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
    let text = if json {
        let v = region.layout_json();
        json_safe(&serde_json::to_string_pretty(&v).expect("json")) + "\n"
    } else {
        region.layout_table()
    };
    io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(Error::stdout)
}

fn wrap(module: &Path, output: &Path) -> Result<(), Error> {
    let bytes = mmhost::whole_file::read(module, mmhost::whole_file::MAX_PLUGIN_FILE)
        .map_err(|e| Error::plugin_load(module, e))?;
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
    let text = job.summary(job_file);
    io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(Error::stdout)
}

/// `mmhost plan`: the request from the flags (or a one-step job file),
/// then one library call.
fn plan(cli: &Cli, args: &PlanArgs) -> Result<(), Error> {
    let level = log_level(cli);
    let target = match (&args.output, &args.output_dir, args.in_place) {
        (Some(out), _, _) => Some(Target::Output(out.clone())),
        (None, Some(dir), _) => Some(Target::OutputDir(dir.clone())),
        (None, None, true) => Some(Target::InPlace),
        (None, None, false) => None,
    };
    let files: Vec<PathBuf> = match &args.job {
        // With --job, PLUGIN is the first input.
        Some(_) => args.plugin.iter().chain(&args.files).cloned().collect(),
        None => args.files.clone(),
    };
    let overrides = Overrides {
        inputs: (!files.is_empty()).then_some(files),
        target,
        dry_run: args.dry_run,
        max_memory: args.max_memory,
        timeout: args.timeout,
        log_level: level,
        fuel: args.fuel,
        ..Overrides::default()
    };
    let job = match &args.job {
        Some(job_file) => JobFile::read(job_file)?.resolve(job_file, &overrides)?,
        None => Job::single(
            args.plugin
                .clone()
                .expect("clap requires PLUGIN without --job"),
            args.files.clone(),
            overrides.target.clone().unwrap_or(Target::ReadOnly),
            overrides.run_options(args.args.clone()),
            args.dry_run,
        ),
    };
    let (plugin, inputs, target, run, dry_run) = mmhost::distributed::one_step(job)?;
    let req = mmhost::distributed::PlanRequest {
        plugin,
        inputs,
        target,
        dry_run,
        run,
        chunk_size: args.chunk_size,
        block_size: args
            .block_size
            .unwrap_or(mmhost::distributed::plan::DEFAULT_BLOCK),
        stage_dir: args.stage_dir.clone(),
        plan_out: args.plan_out.clone(),
    };
    let runtime = runtime(args.no_cache, level)?;
    let plan = mmhost::distributed::make_plan(&runtime, &req, &mut |r| report_recovery(r, level))?;
    if args.plan_out.is_none() {
        io::stdout()
            .lock()
            .write_all(plan.to_json().as_bytes())
            .map_err(Error::stdout)?;
    }
    if level >= LogLevel::Info {
        eprintln!(
            "mmhost: planned run {}: {} bytes in {} chunk{} ({}); stage directory {}",
            plan.run_id,
            plan.region_size,
            plan.chunk_count,
            if plan.chunk_count == 1 { "" } else { "s" },
            match plan.halo {
                Some(h) => format!("halo {h}"),
                None => "the whole job in one task".to_string(),
            },
            Quoted(&plan.stage_dir)
        );
    }
    Ok(())
}

/// The line `mmhost run --dry-run` prints.
fn print_dry_run(changes: &[(String, u64)]) {
    let total: u64 = changes.iter().map(|(_, n)| n).sum();
    let list: Vec<String> = changes
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(p, n)| format!("{} ({n})", Quoted(Path::new(p))))
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

/// The line `mmhost run` prints after a commit.
fn print_wrote(bytes: u64, files: &[String]) {
    eprintln!(
        "mmhost: wrote {} bytes; {} file{} changed{}{}",
        bytes,
        files.len(),
        if files.len() == 1 { "" } else { "s" },
        if files.is_empty() { "" } else { ": " },
        files
            .iter()
            .map(|f| Quoted(Path::new(f)).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
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
        .map_err(Error::stdout)
}

fn schema(report: bool, plan: bool) -> Result<(), Error> {
    let text = if plan {
        mmhost::distributed::plan::schema_text()
    } else if report {
        mmhost::job::report::schema_text()
    } else {
        mmhost::job::file::schema_text()
    };
    io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(Error::stdout)
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
            summary = report;
            result
        }
        Command::Check { job, no_cache } => check(&cli, job, *no_cache),
        Command::Schema { report, plan } => schema(*report, *plan),
        Command::Plan(args) => plan(&cli, args),
        Command::RunChunk {
            plan,
            chunk,
            no_cache,
        } => runtime(*no_cache, log_level(&cli)).and_then(|rt| {
            mmhost::distributed::run_chunks(&rt, plan, *chunk, log_level(&cli), &mut io::stdout())
        }),
        Command::Reduce {
            plan,
            results,
            no_cache,
        } => runtime(*no_cache, log_level(&cli)).and_then(|rt| {
            let out = Box::new(BufWriter::with_capacity(1 << 16, io::stdout()));
            mmhost::distributed::reduce(&rt, plan, results, log_level(&cli), out).map(|_| ())
        }),
        Command::Commit { plan, results } => {
            mmhost::distributed::commit(plan, Some(results.as_slice())).map(|c| {
                if log_level(&cli) < LogLevel::Info {
                } else if let Some(changes) = &c.dry_run {
                    print_dry_run(changes);
                } else if c.writes {
                    print_wrote(c.written, &c.files);
                }
            })
        }
        Command::Abort { plan } => mmhost::distributed::abort(plan).map(|n| {
            if log_level(&cli) >= LogLevel::Info && n > 0 {
                eprintln!(
                    "mmhost: aborted: removed {n} staged file{}; the files are unchanged",
                    if n == 1 { "" } else { "s" }
                );
            } else if log_level(&cli) >= LogLevel::Info {
                eprintln!("mmhost: aborted: nothing staged was left to remove");
            }
        }),
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
            // Generated into memory first: `generate` panics on a failed
            // write, and a closed pipe must be a quiet stop.
            let mut cmd = Cli::command();
            let mut text = Vec::new();
            clap_complete::generate(*shell, &mut cmd, "mmhost", &mut text);
            io::stdout().lock().write_all(&text).map_err(Error::stdout)
        }
        Command::Man => clap_mangen::Man::new(Cli::command())
            .render(&mut io::stdout())
            .map_err(Error::stdout),
    };
    let mut code = match result {
        Ok(()) => 0,
        // The reader of our output went away (`| head`): stop quietly, as a
        // process killed by SIGPIPE would.
        Err(e) if e.is_broken_pipe() => 141,
        Err(e) => {
            let _ = io::stdout().flush();
            // Whatever the message holds (a file name, text of a plugin),
            // it reaches the terminal escaped.
            eprintln!(
                "mmhost: {}: {}",
                paint("error", "1;31"),
                terminal_message(e.message())
            );
            if let Some(details) = e.details() {
                eprintln!("{}", terminal_details(details.trim_end()));
            }
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
                        Quoted(&path)
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
