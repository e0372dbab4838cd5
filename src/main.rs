//! The `mmhost` command: argument parsing, printing, exit codes. Everything
//! else lives in the library.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{ArgAction, CommandFactory, Parser, Subcommand, ValueEnum};

use mmhost::commit::Recovered;
use mmhost::distributed::PlanRequest;
use mmhost::error::exit_code_of;
use mmhost::escape::{terminal_details, terminal_message, Quoted};
use mmhost::job::file::Overrides;
use mmhost::job::report::RunReport;
use mmhost::job::{parse_duration, parse_size, Job, JobRequest, Report};
use mmhost::progress::{Bar, ProgressState, Show};
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
  7  the WebAssembly engine could not be set up (a host problem; nothing was run)
  141  stdout was closed early (mmhost ... | head)";

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
        /// Also write what the commit did (files, bytes, a dry run's
        /// changes) as one line of JSON to FILE, for a driver's report.
        #[arg(long, value_name = "FILE")]
        summary: Option<PathBuf>,
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
    #[command(after_help = LAYOUT_HELP)]
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
    /// Print a manual page (roff), generated from this help, or write them
    /// all: mmhost(1) and one per subcommand (mmhost-run(1), ...).
    #[command(
        after_help = "Examples:\n  mmhost man | man -l -\n  mmhost man run | man -l -\n  mmhost man --dir ~/.local/share/man/man1"
    )]
    Man {
        /// The subcommand whose page to print (run, plan, ...); default:
        /// mmhost(1).
        #[arg(conflicts_with = "dir")]
        page: Option<String>,
        /// Write every page into DIR (created if missing) as NAME.1.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
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

const LAYOUT_HELP: &str = "\
Columns:
  start, end  the file's first byte and the byte after its last,
              as global offsets of the region (byte N of the
              region is byte N of the concatenation)
  placed      mapped: mapped from disk where it lies;
              packed: a small file (under 64 KiB), copied with
              its neighbours into one temporary file, mapped;
              empty: no bytes, no memory
  slot        contiguous: right after the file before it in
              memory, so a read across the boundary is one copy;
              own-slot: a new slot starts here (a file is mapped
              only at a page-aligned address, so one that follows
              a file whose size is not a multiple of 4 KiB gets
              its own slot), and a read across the boundary is
              split in two; the plugin sees the same bytes
The total line says whether the region is one contiguous range, and
how many extents (contiguous ranges) and mappings it takes.

Example:
  mmhost layout logs/*.log";

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
    /// Cap on each plugin instance's memories and tables together
    /// [default: 256M].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_memory: Option<u64>,
    /// Stop each run-chunk (and reduce) process's plugin after this long.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Fuel limit; a run with fuel is not split (one chunk).
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,
    /// Chunk size [default: 256M]; grown so that a plan has at most 16,384
    /// chunks.
    #[arg(long, value_name = "SIZE", value_parser = mmhost::runtime::parse_chunk_size)]
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
    /// If the plugin traps, write a WebAssembly core dump of it to FILE
    /// (its stack, memories and globals, for a debugger; the memory may
    /// hold input bytes); nothing is written when it does not trap.
    #[arg(long, value_name = "FILE")]
    coredump: Option<PathBuf>,
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
    LogLevel::from_flags(cli.verbose, cli.quiet)
}

/// The values of `mmhost run`'s command line that name its job.
fn run_request(cli: &Cli, args: &RunArgs) -> JobRequest {
    JobRequest {
        job_file: args.job.clone(),
        plugin: args.plugin.clone(),
        files: args.files.clone(),
        files_from: args.files_from.clone(),
        null: args.null,
        args: args.args.clone(),
        in_place: args.in_place,
        output: args.output.clone(),
        output_dir: args.output_dir.clone(),
        overrides: Overrides {
            dry_run: args.dry_run,
            max_memory: args.max_memory,
            timeout: args.timeout,
            log_level: log_level(cli),
            fuel: args.fuel,
            jobs: args.jobs.map(|j| j as usize),
            chunk_size: args.chunk_size,
            ..Overrides::default()
        },
    }
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
    let result = run_request(cli, args).build().and_then(|j| {
        let j = job.insert(j);
        if let Some(path) = &args.report_file {
            // A report file that would overwrite an input or an output
            // is refused, and the report goes to stderr instead.
            mmhost::commit::check_report_file(path, &j.inputs, &j.target)
                .inspect_err(|_| report_file = None)?;
        }
        if let Some(path) = &args.coredump {
            mmhost::commit::check_side_file(
                path,
                ("--coredump", "the core dump"),
                &j.inputs,
                &j.target,
            )?;
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
    let runtime = Runtime::for_run(args.no_cache, level, args.coredump.clone())?;
    let progress = ProgressState::new();
    let mut job = job.clone();
    for step in &mut job.steps {
        step.run.progress = Some(progress.clone());
    }
    let show = Show::choose(args.progress, args.no_progress, level >= LogLevel::Info);
    let label = mmhost::progress::label(
        args.job
            .as_ref()
            .or(args.plugin.as_ref())
            .map(|p| p.as_path()),
    );
    let mut bar = Bar::start(progress, show, label);
    bar.set_end_line(args.report.is_some() && args.report_file.is_none());
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
    if level >= LogLevel::Warn {
        eprintln!("mmhost: {r}");
    }
}

fn new_plugin(lang: &str, name: &str, dir: Option<&Path>, level: LogLevel) -> Result<(), Error> {
    let dir = dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(name));
    let files = mmhost::scaffold::scaffold(lang, name, &dir)?;
    if level >= LogLevel::Info {
        eprintln!(
            "mmhost: created {} ({} files, {lang}); build and run it with:\n  cd {} && bash build.sh && {} run {name}.wasm FILE...",
            Quoted(&dir),
            files.len(),
            Quoted(&dir),
            mmhost::scaffold::host_command()
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
    let done = mmhost::commit::recover_paths(paths)?;
    for r in &done {
        report_recovery(r, level);
    }
    if done.is_empty() && level >= LogLevel::Info {
        eprintln!("mmhost: nothing to recover");
    }
    Ok(())
}

/// `mmhost check`: validates a job file and loads its plugins.
fn check(cli: &Cli, job_file: &Path, no_cache: bool) -> Result<(), Error> {
    let job = mmhost::job::request::check_job_file(job_file, log_level(cli), no_cache)?;
    if log_level(cli) < LogLevel::Info {
        return Ok(());
    }
    print_text(Ok(job.summary(job_file)))
}

/// `mmhost plan`: the request from the flags (or a one-step job file),
/// then one library call.
fn plan(cli: &Cli, args: &PlanArgs) -> Result<(), Error> {
    let level = log_level(cli);
    let job = JobRequest {
        job_file: args.job.clone(),
        plugin: args.plugin.clone(),
        files: args.files.clone(),
        args: args.args.clone(),
        in_place: args.in_place,
        output: args.output.clone(),
        output_dir: args.output_dir.clone(),
        overrides: Overrides {
            dry_run: args.dry_run,
            max_memory: args.max_memory,
            timeout: args.timeout,
            log_level: level,
            fuel: args.fuel,
            ..Overrides::default()
        },
        ..JobRequest::default()
    };
    let req = PlanRequest::from_command_line(
        &job,
        args.chunk_size,
        args.block_size,
        args.stage_dir.clone(),
        args.plan_out.clone(),
    )?;
    let runtime = Runtime::for_command(args.no_cache, level)?;
    let plan = mmhost::distributed::make_plan(&runtime, &req, &mut |r| report_recovery(r, level))?;
    if args.plan_out.is_none() {
        print_text(Ok(plan.to_json()))?;
    }
    if level >= LogLevel::Info {
        eprintln!("mmhost: {}", plan.summary_line());
    }
    Ok(())
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
    print_text(Ok(text))
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

/// Runs the command, printing what it prints; the result, and the summary
/// of `mmhost run` if one was asked for.
fn command(cli: &Cli) -> (Result<(), Error>, Option<Summary>) {
    let level = log_level(cli);
    let result = match &cli.command {
        Command::Run(args) => return run(cli, args),
        Command::Check { job, no_cache } => check(cli, job, *no_cache),
        Command::Schema { report, plan } => schema(*report, *plan),
        Command::Plan(args) => plan(cli, args),
        Command::RunChunk {
            plan,
            chunk,
            no_cache,
        } => Runtime::for_command(*no_cache, level).and_then(|rt| {
            mmhost::distributed::run_chunks(&rt, plan, *chunk, level, &mut io::stdout())
        }),
        Command::Reduce {
            plan,
            results,
            no_cache,
        } => Runtime::for_command(*no_cache, level).and_then(|rt| {
            let out = Box::new(BufWriter::with_capacity(1 << 16, io::stdout()));
            mmhost::distributed::reduce(&rt, plan, results, level, out).map(|_| ())
        }),
        Command::Commit {
            plan,
            results,
            summary,
        } => mmhost::distributed::commit(plan, Some(results.as_slice())).and_then(|c| {
            if let Some(line) = c.summary_line().filter(|_| level >= LogLevel::Info) {
                eprintln!("mmhost: {line}");
            }
            summary.as_deref().map_or(Ok(()), |f| c.write_summary(f))
        }),
        Command::Abort { plan } => mmhost::distributed::abort(plan).map(|n| {
            if level >= LogLevel::Info {
                eprintln!("mmhost: {}", mmhost::distributed::abort_line(n));
            }
        }),
        Command::Layout {
            json,
            files,
            files_from,
            null,
        } => print_text(
            mmhost::filelist::extend(files.clone(), files_from.as_deref(), *null)
                .and_then(|f| mmhost::region::layout_text(&f, *json)),
        ),
        Command::Recover { paths } => recover(paths, level),
        Command::Wrap { module, output } => mmhost::runtime::wrap_file(module, output),
        Command::Inspect { json, plugin } => {
            print_text(mmhost::runtime::inspect::report(plugin, *json))
        }
        Command::New { lang, dir, name } => new_plugin(lang, name, dir.as_deref(), level),
        Command::Compile { plugins } => compile(plugins, level),
        Command::Plugins { name } => print_text(mmhost::builtins::describe(name.as_deref())),
        Command::Completions { shell } => {
            // Generated into memory first: `generate` panics on a failed
            // write, and a closed pipe must be a quiet stop.
            let mut cmd = Cli::command();
            let mut text = Vec::new();
            clap_complete::generate(*shell, &mut cmd, "mmhost", &mut text);
            io::stdout().lock().write_all(&text).map_err(Error::stdout)
        }
        Command::Man { page, dir: None } => {
            print_text(
                mmhost::manual::page(Cli::command(), page.as_deref()).map(|p| {
                    // Rendered from Rust strings: valid UTF-8, unchanged.
                    String::from_utf8_lossy(&p.roff).into_owned()
                }),
            )
        }
        Command::Man {
            dir: Some(dir),
            page: _,
        } => mmhost::manual::write_all(Cli::command(), dir).map(|files| {
            if level >= LogLevel::Info {
                eprintln!(
                    "mmhost: wrote {} manual pages to {}",
                    files.len(),
                    Quoted(dir)
                );
            }
        }),
    };
    (result, None)
}

/// The command line, parsed. A usage error is printed as every error is
/// (`mmhost: error: ...` on one line, clap's tip and usage after) and gives
/// clap's exit code (2); help and version are printed as clap prints them.
fn parse_command_line() -> Result<Cli, ExitCode> {
    use clap::error::ErrorKind as Clap;
    Cli::try_parse().map_err(|e| {
        if !e.use_stderr() || e.kind() == Clap::DisplayHelpOnMissingArgumentOrSubcommand {
            e.exit();
        }
        let text = e.render().to_string();
        let text = text.strip_prefix("error: ").unwrap_or(&text);
        let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
        eprintln!(
            "mmhost: {}: {}",
            paint("error", "1;31"),
            terminal_message(first)
        );
        if !rest.trim().is_empty() {
            eprintln!("{}", terminal_details(rest.trim_end()));
        }
        ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
    })
}

fn main() -> ExitCode {
    // Before anything is mapped: a file truncated under the run ends it with
    // one clear line and exit code 3 instead of a bare crash.
    if let Err(e) = mmhost::sigbus::install() {
        eprintln!("mmhost: warning: cannot install the SIGBUS handler: {e}");
    }
    let argv: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let (result, summary) = match mmhost::builtins::run_help(&argv) {
        Some(text) => (print_text(Ok(text)), None),
        None => match parse_command_line() {
            Ok(cli) => command(&cli),
            Err(code) => return code,
        },
    };
    let mut code = exit_code_of(&result);
    match result {
        // The reader of our output went away (`| head`): stop quietly, as a
        // process killed by SIGPIPE would.
        Err(e) if !e.is_broken_pipe() => {
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
        }
        _ => {}
    }
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
