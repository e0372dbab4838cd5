//! The plugin runtime: the wasmtime engine, the linker that grants a plugin
//! its imports, the limits a run is held to, and the call of `run`.
//!
//! # What a plugin is granted
//!
//! Exactly the `mmhost:plugin` world (`wit/mmhost.wit`): the region, logging,
//! progress, an output stream and the step's configuration. So that plugins
//! built with a language's standard library (Rust's `std` on `wasm32-wasip2`,
//! componentize-py, ...) still instantiate, WASI 0.2 is linked too, but with
//! no authority: no preopened directories (every file system call fails), no
//! environment, no arguments, no network, a wall clock frozen at zero and a
//! monotonic clock whose sleeps end at the run's deadline (the `clock`
//! module). A core module of WASI preview 1 is adapted to it (`preview1`). WASI
//! stdout and stderr go to mmhost's stderr, so they can never corrupt the
//! plugin's output stream, and are capped at [`MAX_WASI_OUTPUT`] bytes (see
//! the `wasi` module).
//!
//! # Limits
//!
//! Each run gets its own [`Store`](wasmtime::Store) with a cap on linear memory and tables
//! ([`RunOptions::max_memory`]), an optional wall-clock timeout through
//! epoch interruption ([`RunOptions::timeout`]) and optional deterministic
//! fuel ([`RunOptions::fuel`]). The text a plugin returns is capped at
//! [`MAX_RESULT_TEXT`] bytes, its log at [`MAX_LOG_LINES`] messages of at most
//! [`MAX_LOG_MESSAGE`] bytes each, its WASI stdout and stderr at
//! [`MAX_WASI_OUTPUT`] bytes, and a single `read` at
//! [`MAX_READ`](crate::region::MAX_READ). A plugin that exceeds a limit fails
//! with an error that names it; the host stays up.
//!
//! Fuel changes the compiled code (every loop and call counts what it
//! spends), which costs a few percent even when fuel is plentiful. So the
//! [`Runtime`] compiles with fuel metering only the plugins that are loaded
//! for a run with fuel ([`Runtime::load_for`]), in a second engine created the
//! first time one is needed.
//!
//! # Why `region` is linked by hand
//!
//! `bindgen!` generates the types and the `host`/`output` imports, but the
//! `region` functions are defined with [`LinkerInstance::func_wrap`](wasmtime::component::LinkerInstance::func_wrap) so that
//! every byte crosses with one `memcpy`: a `write` copies straight from the
//! guest's memory into the mapping through [`WasmList::as_le_slice`](wasmtime::component::WasmList::as_le_slice), and a
//! `read` is lowered straight from the mapping into the guest's memory (see
//! `lower.rs`), with no intermediate `Vec` either way.
//!
//! # Files
//!
//! `mod.rs` the options, the engines and [`Runtime::run`], which takes one of
//! two paths: a serial run (one instance calls `run`) or [`parallel`] (plan,
//! chunks on threads, reduce). Both build their stores and settle their
//! results with `store.rs`; the host's side of the imports is `imports.rs`
//! (with `view.rs`, the part of the region a store sees, and `lower.rs`, the
//! copy of a read into guest memory); the limits enforced while a plugin runs
//! are `limits.rs` (memory, timeout); `trap.rs` describes how a run ended,
//! and `coredump.rs` writes the core dump of a trap (`--coredump`);
//! `plugin_bytes.rs` tells what a plugin file's bytes are (binary, text, or
//! not WebAssembly, worded one way for every command); `load.rs` compiles
//! and checks plugins; `wasi.rs` is the powerless WASI.

mod abi;
mod chunks;
mod clock;
mod code_limits;
mod command_line;
mod coredump;
mod imports;
pub mod inspect;
mod limits;
mod load;
mod lower;
pub mod parallel;
pub mod plugin_bytes;
mod preview1;
mod store;
mod terminal;
mod trap;
mod view;
mod wasi;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine};

use crate::error::{Error, ErrorKind, Result};
use crate::progress::ProgressState;
use crate::region::Region;
use imports::link_region;
pub use imports::HostState;
use limits::Watchdog;
pub(crate) use store::output_error;
use store::{take_region, StoreCtx};
use terminal::Terminal;
use view::View;

pub use chunks::{chunk_seed, ChunkDone};
pub use code_limits::{MAX_CODE, MAX_FUNCTION_BODY};
pub use limits::TABLE_ELEMENT_BYTES;
pub use load::{wrap_file, wrap_module, MIN_COMPILE_LIMIT, WIT_SOURCE};
pub use parallel::{
    chunk_size, default_jobs, parse_chunk_size, MAX_CHUNKS, MAX_PARTIAL, MIN_CHUNK, MIN_USER_CHUNK,
};
pub use terminal::{MAX_TERMINAL_LINES, MAX_TERMINAL_OUTPUT};
pub use wasi::MAX_WASI_OUTPUT;

/// Generated bindings for the `transform` world.
mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "transform",
        imports: { default: trappable },
    });
}

/// Generated bindings for the `parallel` world: `transform` plus the
/// `chunked` export. Its imports are those of [`bindings`], reused.
mod parallel_bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "parallel",
        imports: { default: trappable },
        with: {
            "mmhost:plugin/types": super::bindings::mmhost::plugin::types,
            "mmhost:plugin/region": super::bindings::mmhost::plugin::region,
            "mmhost:plugin/host": super::bindings::mmhost::plugin::host,
            "mmhost:plugin/output": super::bindings::mmhost::plugin::output,
            "mmhost:plugin/config": super::bindings::mmhost::plugin::config,
        },
    });
}

use bindings::mmhost::plugin::{config as wit_config, host, output};
use bindings::{Transform, TransformPre};
use parallel_bindings::ParallelPre;

/// The WIT package and world that plugins implement.
///
/// Plugins built against an earlier 0.1.x version of the package load too:
/// wasmtime's linker resolves an import of `mmhost:plugin/region@0.1.0` to the
/// semver-compatible definition of `region@0.1.1`.
pub const WORLD: &str = "mmhost:plugin/transform@0.1.4";
/// The world of plugins that can also run chunk by chunk on several threads.
pub const PARALLEL_WORLD: &str = "mmhost:plugin/parallel@0.1.4";
const REGION_INTERFACE: &str = "mmhost:plugin/region@0.1.4";

/// Severity of a log message, and the user's threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Only errors.
    Error,
    /// Warnings and errors.
    Warn,
    /// The default.
    Info,
    /// `-v`.
    Debug,
    /// `-vv`.
    Trace,
}

impl LogLevel {
    fn name(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

impl From<host::Level> for LogLevel {
    fn from(l: host::Level) -> Self {
        match l {
            host::Level::Error => LogLevel::Error,
            host::Level::Warn => LogLevel::Warn,
            host::Level::Info => LogLevel::Info,
            host::Level::Debug => LogLevel::Debug,
            host::Level::Trace => LogLevel::Trace,
        }
    }
}

/// Options of the engine, shared by every run.
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    /// Directory of the compilation cache; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Say on stderr when compiling a plugin takes longer than a second (a
    /// first compile of a large component), so a wait is never silent.
    pub compile_notice: bool,
    /// Write a WebAssembly core dump of the first plugin instance that traps
    /// to this file (`mmhost run --coredump FILE`; see `coredump`).
    pub coredump: Option<PathBuf>,
}

impl RuntimeOptions {
    /// The default: the cache in `$MMHOST_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/mmhost`, else `~/.cache/mmhost`.
    pub fn with_default_cache() -> Self {
        let dir = std::env::var_os("MMHOST_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("mmhost")))
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/mmhost")));
        RuntimeOptions {
            cache_dir: dir,
            compile_notice: false,
            coredump: None,
        }
    }
}

/// Options of one run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Arguments passed to the plugin's `run`.
    pub args: Vec<String>,
    /// Cap on the plugin's linear memory (and, in elements, tables), bytes.
    pub max_memory: u64,
    /// Wall-clock limit of the run.
    pub timeout: Option<Duration>,
    /// Deterministic limit of the run, in wasmtime fuel units (about one per
    /// WebAssembly instruction): the same plugin over the same input stops at
    /// the same point on every machine. The plugin must have been loaded with
    /// [`Runtime::load_for`] and options that ask for fuel.
    pub fuel: Option<u64>,
    /// Plugin log messages below this level are not shown.
    pub log_level: LogLevel,
    /// Where the run reports its progress, if anyone watches.
    pub progress: Option<Arc<ProgressState>>,
    /// The step's configuration, handed to the plugin as JSON text by the
    /// `config.get` import (`null`: none).
    pub config: serde_json::Value,
    /// How many plugin instances may run at once, on as many threads, for a
    /// plugin of the `parallel` world. 1 runs every plugin serially.
    pub jobs: usize,
    /// The size of a chunk of a parallel run; `None` chooses one from the
    /// region's size and `jobs` (see `parallel::chunk_size`). Giving one
    /// makes a parallel plugin work in chunks even with one job.
    pub chunk_size: Option<u64>,
    /// Seed WASI's random numbers with this, so that a rerun draws the same
    /// ones (chunks of a distributed run); `None`: fresh randomness.
    pub random_seed: Option<u64>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            args: Vec::new(),
            max_memory: 256 << 20,
            timeout: None,
            fuel: None,
            log_level: LogLevel::Info,
            progress: None,
            config: serde_json::Value::Null,
            jobs: 1,
            chunk_size: None,
            random_seed: None,
        }
    }
}

/// A loaded plugin, compiled and checked against the world.
pub struct Plugin {
    name: String,
    path: PathBuf,
    pre: TransformPre<HostState>,
    /// The same component seen as a `parallel` plugin, if it exports
    /// `chunked`.
    parallel: Option<ParallelPre<HostState>>,
    /// Compiled with fuel metering (by the runtime's second engine).
    metered: bool,
}

impl Plugin {
    /// The plugin's name (its file stem), used in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The path it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether it was compiled with fuel metering, so that it can run with
    /// [`RunOptions::fuel`].
    pub fn metered(&self) -> bool {
        self.metered
    }

    /// Whether it implements the `parallel` world (exports `chunked`).
    pub fn parallel(&self) -> bool {
        self.parallel.is_some()
    }
}

/// An engine and the linker of every import the world grants, for it.
struct Host {
    engine: Engine,
    linker: Linker<HostState>,
    /// Where to write the core dump of a trap, if anywhere.
    coredump: Option<coredump::Target>,
}

/// The engines and linkers; create once, load and run many plugins.
pub struct Runtime {
    opts: RuntimeOptions,
    /// Compiles plugins without fuel metering: the common case.
    plain: Host,
    /// Compiles plugins with fuel metering; made on first use.
    metered: OnceLock<Host>,
}

/// What a run left behind: the region (to commit or drop) and the result.
pub struct RunResult {
    /// The region, with the plugin's writes in it.
    pub region: Region,
    /// The plugin's `ok` text, or why the run failed.
    pub result: Result<String>,
}

/// How many log messages a plugin may print before the rest are dropped.
pub const MAX_LOG_LINES: u64 = 10_000;

/// The longest log message shown whole, in bytes; longer ones are cut.
pub const MAX_LOG_MESSAGE: usize = 8 << 10;

/// The longest `ok` or `err` text a plugin may return, in bytes (1 MiB). The
/// text is a short summary; bulk output goes through `output.emit`. A longer
/// text fails the run with a limit error (exit code 5).
pub const MAX_RESULT_TEXT: usize = 1 << 20;

/// wasmtime's default cap on the data one host call lifts out of a plugin
/// (its "hostcall fuel"): 128 MiB.
pub const MIN_HOSTCALL_DATA: u64 = 128 << 20;

/// An engine or linker that could not be set up: the host's failure, not
/// the plugin's ([`ErrorKind::Engine`]).
fn internal(what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Engine, format!("{what}: {e}"))
}

impl Host {
    /// An engine (with fuel metering if `metered`) and its linker.
    fn new(opts: &RuntimeOptions, metered: bool) -> Result<Host> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.consume_fuel(metered);
        // The GC and exception-handling proposals (wasmtime's defaults since
        // 47; here they need the `gc` and `gc-drc` features): for guests such
        // as MoonBit's wasm-gc target and Kotlin/Wasm. A plugin that uses
        // neither pays nothing measurable; the GC heap grows through the
        // store's limiter, so --max-memory covers it (plugins/README.md, "GC
        // and exception handling"; tests/gc.rs).
        config.wasm_gc(true);
        config.wasm_exceptions(true);
        config.wasm_backtrace_max_frames(std::num::NonZeroUsize::new(trap::FRAMES_COLLECTED));
        // Capturing costs nothing until a trap; only asked for by --coredump.
        config.coredump_on_trap(opts.coredump.is_some());
        if let Some(dir) = &opts.cache_dir {
            let mut cc = wasmtime::CacheConfig::new();
            cc.with_directory(dir);
            // A cache that cannot be set up only costs speed: go on without.
            if let Ok(cache) = wasmtime::Cache::new(cc) {
                config.cache(Some(cache));
            }
        }
        let engine = Engine::new(&config).map_err(|e| internal("cannot create engine", e))?;
        let mut linker = Linker::new(&engine);
        link_region(&mut linker).map_err(|e| internal("linking region", e))?;
        host::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(|e| internal("linking host", e))?;
        output::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(|e| internal("linking output", e))?;
        wit_config::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(|e| internal("linking config", e))?;
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| internal("linking WASI", e))?;
        clock::link_bounded_sleeps(&mut linker).map_err(|e| internal("linking WASI clocks", e))?;
        preview1::link(&mut linker).map_err(|e| internal("linking WASI preview 1", e))?;
        Ok(Host {
            engine,
            linker,
            coredump: opts.coredump.clone().map(coredump::Target::new),
        })
    }
}

impl Runtime {
    /// Creates the engine (with the compilation cache if configured) and the
    /// linker with every import the world grants.
    pub fn new(opts: &RuntimeOptions) -> Result<Runtime> {
        Ok(Runtime {
            opts: opts.clone(),
            plain: Host::new(opts, false)?,
            metered: OnceLock::new(),
        })
    }

    /// The wasmtime engine of plugins loaded without fuel metering.
    pub fn engine(&self) -> &Engine {
        &self.plain.engine
    }

    /// The engine and linker that compile plugins with fuel metering.
    fn metered_host(&self) -> Result<&Host> {
        if let Some(host) = self.metered.get() {
            return Ok(host);
        }
        let host = Host::new(&self.opts, true)?;
        Ok(self.metered.get_or_init(|| host))
    }

    /// Loads a plugin: a component, a core module of the world's lowered ABI
    /// (wrapped into a component here), or either in `.wat` text. Checks that
    /// it implements the `transform` world and imports nothing else.
    ///
    /// The plugin is compiled without fuel metering; use [`Runtime::load_for`]
    /// for runs with [`RunOptions::fuel`].
    pub fn load(&self, path: &Path) -> Result<Plugin> {
        self.load_with(path, false, None)
    }

    /// Loads a plugin (as [`Runtime::load`]) compiled for runs with `run`'s
    /// options: with fuel metering if they set [`RunOptions::fuel`]. A
    /// [`RunOptions::timeout`] bounds the compilation too: a compile still
    /// running when it passes fails the load (see `load::compile`).
    pub fn load_for(&self, path: &Path, run: &RunOptions) -> Result<Plugin> {
        self.load_with(path, run.fuel.is_some(), run.timeout)
    }

    fn load_with(&self, path: &Path, metered: bool, deadline: Option<Duration>) -> Result<Plugin> {
        let host = if metered {
            self.metered_host()?
        } else {
            &self.plain
        };
        let component = load::compile(&host.engine, path, self.opts.compile_notice, deadline)?;
        let pre = host
            .linker
            .instantiate_pre(&component)
            .map_err(|e| Error::plugin_load(path, load::describe_link_error(&e)))?;
        // A plugin of the `parallel` world is a `transform` plugin too; the
        // check below is the one that decides whether it loads at all.
        let parallel = ParallelPre::new(pre.clone()).ok();
        let pre = TransformPre::new(pre).map_err(|e| {
            Error::plugin_load(
                path,
                format!(
                    "does not implement the {WORLD} world: {}",
                    load::error_chain(&e)
                ),
            )
        })?;
        // Printed before every message about the plugin: quoted like any
        // file name.
        let name = crate::escape::quote(path.file_stem().map(Path::new).unwrap_or(path));
        Ok(Plugin {
            name,
            path: path.to_path_buf(),
            pre,
            parallel,
            metered,
        })
    }

    /// Runs `plugin` over `region`, writing its output stream to `out`.
    ///
    /// The region comes back in the result whatever happened, so that the
    /// caller decides what to commit. A run with [`RunOptions::fuel`] needs a
    /// plugin loaded with fuel metering ([`Runtime::load_for`]); otherwise it
    /// fails at once with a usage error.
    pub fn run(
        &self,
        plugin: &Plugin,
        region: Region,
        opts: &RunOptions,
        out: Box<dyn Write + Send>,
    ) -> RunResult {
        let progress = opts.progress.clone().unwrap_or_default();
        progress.start(region.size());
        if opts.fuel.is_some() && !plugin.metered {
            return RunResult {
                region,
                result: Err(Error::new(
                    ErrorKind::Usage,
                    format!(
                        "plugin {}: a run with fuel needs a plugin loaded with fuel metering \
                         (Runtime::load_for)",
                        plugin.name
                    ),
                )),
            };
        }
        let host = match (plugin.metered, self.metered.get()) {
            (false, _) => &self.plain,
            (true, Some(host)) => host,
            (true, None) => {
                return RunResult {
                    region,
                    result: Err(Error::new(
                        ErrorKind::Usage,
                        format!("plugin {}: loaded by another Runtime", plugin.name),
                    )),
                }
            }
        };
        let watchdog = Watchdog::start(&host.engine, opts.timeout);
        let logged = Arc::new(AtomicU64::new(0));
        let ctx = StoreCtx {
            deadline: clock::deadline(opts.timeout),
            host,
            plugin,
            opts,
            progress,
            logged,
            terminal: Terminal::new(&plugin.name),
        };
        let result = match &plugin.parallel {
            // Fuel runs stay serial: one instance, one deterministic count.
            Some(pre) if opts.fuel.is_none() && (opts.jobs > 1 || opts.chunk_size.is_some()) => {
                parallel::run(&ctx, pre, region, out)
            }
            _ => serial(&ctx, region, out),
        };
        drop(watchdog);
        // Every store is gone, and with it any half line of WASI output.
        ctx.terminal.finish();
        result
    }
}

/// A serial run: one instance calls `run` over the whole region.
fn serial(ctx: &StoreCtx<'_>, region: Region, out: Box<dyn Write + Send>) -> RunResult {
    let mut store = ctx.store(View::Whole(Box::new(region)), out);
    let called = ctx
        .plugin
        .pre
        .instantiate(&mut store)
        .and_then(|bindings: Transform| {
            store.data_mut().calling = abi::Export::Run;
            bindings.call_run(&mut store, &ctx.opts.args)
        });
    let result = ctx.settle(called, &mut store);
    RunResult {
        region: take_region(&mut store),
        result,
    }
}
