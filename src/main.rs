//! The `mmhost` command: argument parsing, printing, exit codes. Everything
//! else lives in the library.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgAction, Parser, Subcommand};

use mmhost::commit::Target;
use mmhost::job::Job;
use mmhost::region::{open_inputs, Placement, Region};
use mmhost::runtime::{LogLevel, RunOptions, Runtime, RuntimeOptions};
use mmhost::{Error, ErrorKind};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the plugin returned an error
  2  usage error (bad command line)
  3  input file error (missing, not a regular file, unreadable, named twice, locked,
     changed size, truncated by another process while mapped)
  4  the plugin cannot be loaded (not wasm, wrong world, unknown imports)
  5  the plugin trapped or hit a limit (memory, timeout, fuel, result size)
  6  the result could not be written (output file, in-place sync)";

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
    /// Run PLUGIN over FILES mapped as one region.
    #[command(after_help = "\
Examples:
  mmhost run checksum.wasm a.bin b.bin
  mmhost run count.wasm logs/*.txt -- ERROR
  mmhost run --in-place upper.wasm notes.txt
  mmhost run -o joined.txt upper.wasm a.txt b.txt

By default the region is read-only. With --in-place the plugin's writes go
into the input files; with --output they go into a new file holding the
transformed concatenation, and the inputs are left untouched.")]
    Run(RunArgs),
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

#[derive(clap::Args)]
struct RunArgs {
    /// Write the plugin's changes into the input files.
    #[arg(short, long, conflicts_with = "output")]
    in_place: bool,
    /// Write the transformed concatenation to FILE; inputs stay untouched.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Cap on the plugin's linear memory (e.g. 64M, 1G).
    #[arg(long, value_name = "SIZE", default_value = "256M", value_parser = parse_size)]
    max_memory: u64,
    /// Stop the plugin after this long (e.g. 500ms, 30s, 5m).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Stop the plugin after N units of fuel (about one per WebAssembly
    /// instruction): a cut-off that is the same on every run and machine.
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,
    /// Do not use the compilation cache.
    #[arg(long)]
    no_cache: bool,
    /// The plugin: a component, a core module or .wat text.
    plugin: PathBuf,
    /// The input files, in region order.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Arguments for the plugin (after --).
    #[arg(last = true)]
    args: Vec<String>,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        None => (s, 1u64),
        Some((i, _)) => {
            let mult = match s[i..]
                .to_ascii_uppercase()
                .trim_end_matches("IB")
                .trim_end_matches('B')
            {
                "" => 1,
                "K" => 1 << 10,
                "M" => 1 << 20,
                "G" => 1 << 30,
                "T" => 1 << 40,
                _ => return Err(format!("unknown unit in `{s}` (use K, M, G or T)")),
            };
            (&s[..i], mult)
        }
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("not a size: `{s}`"))
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let value: f64 = s[..split]
        .parse()
        .map_err(|_| format!("not a duration: `{s}` (e.g. 500ms, 30s, 5m)"))?;
    let secs = match &s[split..] {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("unknown unit in `{s}` (use ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("not a duration: `{s}`"))
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

fn run(cli: &Cli, args: &RunArgs) -> Result<(), Error> {
    let target = match (&args.output, args.in_place) {
        (Some(out), _) => Target::Output(out.clone()),
        (None, true) => Target::InPlace,
        (None, false) => Target::ReadOnly,
    };
    let level = log_level(cli);
    let runtime = Runtime::new(&if args.no_cache {
        RuntimeOptions::default()
    } else {
        RuntimeOptions::with_default_cache()
    })?;
    let job = Job {
        plugin: args.plugin.clone(),
        inputs: args.files.clone(),
        target,
        run: RunOptions {
            args: args.args.clone(),
            max_memory: args.max_memory,
            timeout: args.timeout,
            fuel: args.fuel,
            log_level: level,
        },
    };
    let out = Box::new(BufWriter::with_capacity(1 << 16, io::stdout()));
    let report = job.execute(&runtime, out)?;
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
    if job.target != Target::ReadOnly && level >= LogLevel::Info {
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

fn main() -> ExitCode {
    // Before anything is mapped: a file truncated under the run ends it with
    // one clear line and exit code 3 instead of a bare crash.
    if let Err(e) = mmhost::sigbus::install() {
        eprintln!("mmhost: warning: cannot install the SIGBUS handler: {e}");
    }
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Run(args) => run(&cli, args),
        Command::Layout { json, files } => layout(files, *json),
        Command::Wrap { module, output } => wrap(module, output),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our output went away (`| head`): stop quietly, as a
        // process killed by SIGPIPE would.
        Err(e) if e.is_broken_pipe() => ExitCode::from(141),
        Err(e) => {
            let _ = io::stdout().flush();
            eprintln!("mmhost: error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
