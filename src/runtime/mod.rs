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
//! environment, no arguments, no network, and clocks frozen at zero. WASI
//! stdout and stderr go to mmhost's stderr, so they can never corrupt the
//! plugin's output stream, and are capped at [`MAX_WASI_OUTPUT`] bytes (see
//! the `wasi` module).
//!
//! # Limits
//!
//! Each run gets its own [`Store`] with a cap on linear memory and tables
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
//! `region` functions are defined with [`LinkerInstance::func_wrap`] so that
//! every byte crosses with one `memcpy`: a `write` copies straight from the
//! guest's memory into the mapping through [`WasmList::as_le_slice`], and a
//! `read` is lowered straight from the mapping into the guest's memory (see
//! `lower.rs`), with no intermediate `Vec` either way.

mod abi;
pub mod inspect;
mod load;
mod lower;
pub mod parallel;
mod terminal;
mod trap;
mod view;
mod wasi;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker, LinkerInstance, ResourceTable, WasmList};
use wasmtime::{Config, Engine, Store, StoreContextMut};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::error::{Error, ErrorKind, Result};
use crate::progress::ProgressState;
use crate::region::{AccessError, Region, WriteError};
use lower::RegionBytes;
use terminal::Terminal;
use view::View;

pub use load::{wrap_module, WIT_SOURCE};
pub use parallel::{chunk_size, default_jobs, MAX_PARTIAL, MIN_CHUNK};
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

use bindings::mmhost::plugin::{config as wit_config, host, output, region as wit_region, types};
use bindings::{Transform, TransformPre};
use parallel_bindings::ParallelPre;

/// The WIT package and world that plugins implement.
///
/// Plugins built against an earlier 0.1.x version of the package load too:
/// wasmtime's linker resolves an import of `mmhost:plugin/region@0.1.0` to the
/// semver-compatible definition of `region@0.1.1`.
pub const WORLD: &str = "mmhost:plugin/transform@0.1.2";
/// The world of plugins that can also run chunk by chunk on several threads.
pub const PARALLEL_WORLD: &str = "mmhost:plugin/parallel@0.1.2";
const REGION_INTERFACE: &str = "mmhost:plugin/region@0.1.2";

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

/// Per-run state reachable from host functions.
pub struct HostState {
    view: View,
    out: Box<dyn Write + Send>,
    out_error: Option<io::Error>,
    log_level: LogLevel,
    /// Log messages printed by every instance of the run.
    logged: Arc<AtomicU64>,
    /// The run's share of the terminal.
    terminal: Arc<Terminal>,
    limiter: Limiter,
    wasi: WasiCtx,
    table: ResourceTable,
    progress: Arc<ProgressState>,
    /// The step's configuration, serialized once.
    config: String,
    /// The export being called, for messages about a broken canonical ABI.
    calling: abi::Export,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Memory and table caps; remembers what was refused for the error message.
struct Limiter {
    max_memory: u64,
    refused: Option<String>,
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.max_memory {
            let msg = format!(
                "memory limit exceeded: the plugin asked to grow its linear memory from {} to {} \
                 bytes, over the limit of {} bytes (raise it with --max-memory)",
                current, desired, self.max_memory
            );
            self.refused = Some(msg.clone());
            return Err(wasmtime::format_err!("{msg}"));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // A table element costs 8-16 bytes of host memory: hold tables to
        // the same budget, counted in elements / 16.
        let cap = (self.max_memory / 16).max(10_000);
        if desired as u64 > cap {
            let msg = format!("table limit exceeded: {desired} elements, over the limit of {cap}");
            self.refused = Some(msg.clone());
            return Err(wasmtime::format_err!("{msg}"));
        }
        Ok(true)
    }
}

impl From<AccessError> for types::Error {
    fn from(e: AccessError) -> Self {
        match e {
            AccessError::OutOfRange(r) => types::Error::OutOfRange(types::OutOfRange {
                at: r.at,
                len: r.len,
                size: r.size,
            }),
            AccessError::ReadOnly => types::Error::ReadOnly,
            AccessError::TooLarge { limit } => types::Error::TooLarge(limit),
            AccessError::NoSuchSegment { count } => types::Error::NoSuchSegment(count),
        }
    }
}

impl types::Host for HostState {}

impl host::Host for HostState {
    fn log(&mut self, level: host::Level, message: String) -> wasmtime::Result<()> {
        let level = LogLevel::from(level);
        if level > self.log_level {
            return Ok(());
        }
        let logged = self.logged.fetch_add(1, Ordering::Relaxed) + 1;
        if logged <= MAX_LOG_LINES {
            self.terminal.line(level.name(), &message, MAX_LOG_MESSAGE);
        } else if logged == MAX_LOG_LINES + 1 {
            self.terminal.notice(&format!(
                "more than {MAX_LOG_LINES} log messages; the rest are dropped"
            ));
        }
        Ok(())
    }

    fn progress(&mut self, done: u64, total: u64) -> wasmtime::Result<()> {
        // A chunk's `done of total` is about its chunk only; several at once
        // would make the bar jump. Parallel runs show bytes read and written
        // against the region's size instead.
        if !matches!(self.view, View::Chunk(_)) {
            self.progress.report(done, total);
        }
        Ok(())
    }
}

impl output::Host for HostState {
    fn emit(&mut self, data: Vec<u8>) -> wasmtime::Result<()> {
        if self.out_error.is_some() {
            return Ok(());
        }
        if let Err(e) = self.out.write_all(&data) {
            // Stop the plugin: nobody reads what it would produce.
            self.out_error = Some(e);
            return Err(wasmtime::format_err!("output stream closed"));
        }
        Ok(())
    }
}

impl wit_config::Host for HostState {
    fn get(&mut self) -> wasmtime::Result<String> {
        Ok(self.config.clone())
    }
}

/// Defines the `region` interface by hand; see the module docs for why.
fn link_region(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    type Res<T> = wasmtime::Result<(std::result::Result<T, types::Error>,)>;
    let mut inst: LinkerInstance<'_, HostState> = linker.instance(REGION_INTERFACE)?;
    inst.func_wrap("size", |store: StoreContextMut<'_, HostState>, (): ()| {
        Ok((store.data().view.size(),))
    })?;
    inst.func_wrap(
        "writable",
        |store: StoreContextMut<'_, HostState>, (): ()| Ok((store.data().view.writable(),)),
    )?;
    inst.func_wrap(
        "segments",
        |store: StoreContextMut<'_, HostState>, (): ()| {
            let segs: Vec<wit_region::Segment> = store
                .data()
                .view
                .segments()
                .iter()
                .map(|s| wit_region::Segment {
                    name: s.name.clone(),
                    start: s.start,
                    len: s.len,
                })
                .collect();
            Ok((segs,))
        },
    )?;
    inst.func_wrap(
        "read",
        |store: StoreContextMut<'_, HostState>, (at, len): (i64, u64)| -> Res<RegionBytes> {
            let state = store.data();
            let got = state.view.read_view(at, len).map(RegionBytes);
            if got.is_ok() {
                state.progress.add_read(len);
            }
            Ok((got.map_err(Into::into),))
        },
    )?;
    inst.func_wrap(
        "write",
        |store: StoreContextMut<'_, HostState>, (at, data): (i64, WasmList<u8>)| -> Res<()> {
            // Both borrows of the store are shared: the guest's bytes are
            // copied straight into the mapping.
            let bytes = data.as_le_slice(&store);
            let state = store.data();
            match state.view.write(at, bytes) {
                Ok(()) => {
                    state.progress.add_written(bytes.len() as u64);
                    Ok((Ok(()),))
                }
                Err(WriteError::Access(e)) => Ok((Err(e.into()),)),
                // The run cannot go on (disk full...): stop the plugin; the
                // error is reported as is, and nothing is committed.
                Err(WriteError::Stage(e)) => Err(wasmtime::Error::new(HostFailure(e))),
            }
        },
    )?;
    inst.func_wrap(
        "find",
        |store: StoreContextMut<'_, HostState>,
         (pattern, start, end, limit): (WasmList<u8>, u64, u64, u32)|
         -> Res<Vec<u64>> {
            let pattern = pattern.as_le_slice(&store);
            let state = store.data();
            let found = state.view.find(pattern, start, end, limit);
            Ok((found.map_err(Into::into),))
        },
    )?;
    inst.func_wrap(
        "locate",
        |store: StoreContextMut<'_, HostState>, (segment, delta): (u32, i64)| -> Res<u64> {
            Ok((store.data().view.locate(segment, delta).map_err(Into::into),))
        },
    )?;
    Ok(())
}

pub(crate) use crate::escape::plugin_text;

fn internal(what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::PluginLoad, format!("{what}: {e}"))
}

impl Host {
    /// An engine (with fuel metering if `metered`) and its linker.
    fn new(opts: &RuntimeOptions, metered: bool) -> Result<Host> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.consume_fuel(metered);
        config.wasm_backtrace_max_frames(std::num::NonZeroUsize::new(trap::FRAMES_COLLECTED));
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
        wasi::link_instant_clock_subscriptions(&mut linker)
            .map_err(|e| internal("linking WASI clocks", e))?;
        Ok(Host { engine, linker })
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
        self.load_with(path, false)
    }

    /// Loads a plugin (as [`Runtime::load`]) compiled for runs with `run`'s
    /// options: with fuel metering if they set [`RunOptions::fuel`].
    pub fn load_for(&self, path: &Path, run: &RunOptions) -> Result<Plugin> {
        self.load_with(path, run.fuel.is_some())
    }

    fn load_with(&self, path: &Path, metered: bool) -> Result<Plugin> {
        let host = if metered {
            self.metered_host()?
        } else {
            &self.plain
        };
        let component = load::compile(&host.engine, path, self.opts.compile_notice)?;
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
        let terminal = Terminal::new(&plugin.name);
        let ctx = StoreCtx {
            host,
            plugin,
            opts,
            progress,
            logged,
            terminal: terminal.clone(),
        };
        let result = match &plugin.parallel {
            // Fuel runs stay serial: one instance, one deterministic count.
            Some(pre) if opts.fuel.is_none() && (opts.jobs > 1 || opts.chunk_size.is_some()) => {
                let result = parallel::run(&ctx, pre, region, out);
                drop(watchdog);
                result
            }
            _ => {
                let mut store = ctx.store(View::Whole(Box::new(region)), out);
                let called = plugin
                    .pre
                    .instantiate(&mut store)
                    .and_then(|bindings: Transform| {
                        store.data_mut().calling = abi::Export::Run;
                        bindings.call_run(&mut store, &opts.args)
                    });
                drop(watchdog);
                let result = ctx.settle(called, &mut store);
                RunResult {
                    region: take_region(&mut store),
                    result,
                }
            }
        };
        // Every store is gone, and with it any half line of WASI output.
        terminal.finish();
        result
    }
}

/// Takes the whole region back out of a store whose run has ended.
fn take_region(store: &mut Store<HostState>) -> Region {
    store
        .data_mut()
        .view
        .take_region()
        .expect("a finished run's store holds the whole region")
}

/// Moves the engine's epoch when a run's time is up, trapping every store of
/// the run (they all have a deadline of one epoch). Stopped on drop.
struct Watchdog {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watchdog {
    fn start(engine: &Engine, timeout: Option<Duration>) -> Watchdog {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = timeout.map(|t| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                if let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(t) {
                    engine.increment_epoch();
                }
            })
        });
        Watchdog {
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What every store of one run shares.
struct StoreCtx<'a> {
    host: &'a Host,
    plugin: &'a Plugin,
    opts: &'a RunOptions,
    progress: Arc<ProgressState>,
    logged: Arc<AtomicU64>,
    terminal: Arc<Terminal>,
}

/// A value a plugin returns, with its size limit.
trait Returned {
    /// The error if the value is over its limit.
    fn over_limit(&self, plugin: &str) -> Option<Error>;
}

impl Returned for String {
    fn over_limit(&self, plugin: &str) -> Option<Error> {
        (self.len() > MAX_RESULT_TEXT).then(|| result_too_long(plugin, "ok", self))
    }
}

impl Returned for Option<u64> {
    fn over_limit(&self, _plugin: &str) -> Option<Error> {
        None
    }
}

impl Returned for Vec<u8> {
    fn over_limit(&self, plugin: &str) -> Option<Error> {
        (self.len() > parallel::MAX_PARTIAL).then(|| {
            Error::new(
                ErrorKind::PluginTrap,
                format!(
                    "plugin {plugin}: partial result limit exceeded: a chunk returned {} bytes, \
                     over the limit of {} bytes",
                    self.len(),
                    parallel::MAX_PARTIAL
                ),
            )
        })
    }
}

impl StoreCtx<'_> {
    /// A new store for one instance of the plugin, seeing `view` and
    /// emitting into `out`, with the run's limits.
    fn store(&self, view: View, out: Box<dyn Write + Send>) -> Store<HostState> {
        let (plugin, opts) = (self.plugin, self.opts);
        let state = HostState {
            view,
            out,
            out_error: None,
            log_level: opts.log_level,
            logged: self.logged.clone(),
            terminal: self.terminal.clone(),
            limiter: Limiter {
                max_memory: opts.max_memory,
                refused: None,
            },
            wasi: wasi::sandboxed(&self.terminal),
            table: ResourceTable::new(),
            progress: self.progress.clone(),
            config: opts.config.to_string(),
            calling: abi::Export::None,
        };
        let mut store = Store::new(&self.host.engine, state);
        store.limiter(|s| &mut s.limiter);
        if plugin.metered {
            // Without a limit, fuel that lasts for ever (about 2^64 steps).
            store
                .set_fuel(opts.fuel.unwrap_or(u64::MAX))
                .expect("the metered engine consumes fuel");
        }
        store.epoch_deadline_trap();
        // Without a timeout the deadline is never reached: the epoch only
        // moves when the watchdog fires.
        store.set_epoch_deadline(if opts.timeout.is_some() { 1 } else { 1 << 62 });
        store
    }

    /// Turns what a call of the plugin returned into the run's result:
    /// limits, `err` text, traps and a failed output stream become errors
    /// that say what happened. Flushes the store's output first.
    fn settle<T: Returned>(
        &self,
        called: wasmtime::Result<std::result::Result<T, String>>,
        store: &mut Store<HostState>,
    ) -> Result<T> {
        let name = &self.plugin.name;
        let flushed = store.data_mut().out.flush();
        let state = store.data_mut();
        match called {
            Ok(Ok(value)) => match (value.over_limit(name), state.out_error.take(), flushed) {
                (Some(e), _, _) => Err(e),
                (None, Some(e), _) | (None, None, Err(e)) => Err(output_error(e)),
                (None, None, Ok(())) => Ok(value),
            },
            Ok(Err(text)) if text.len() > MAX_RESULT_TEXT => {
                Err(result_too_long(name, "err", &text))
            }
            Ok(Err(message)) => Err(Error::new(
                ErrorKind::PluginFailed,
                format!(
                    "plugin {name} failed: {}",
                    plugin_text(&message, MAX_RESULT_TEXT)
                ),
            )),
            Err(e) => Err(
                match (state.out_error.take(), e.downcast::<HostFailure>()) {
                    (Some(out), _) => output_error(out),
                    (None, Ok(HostFailure(host))) => host,
                    (None, Err(e)) => trap::describe(
                        name,
                        &e,
                        state.limiter.refused.as_deref(),
                        self.opts,
                        (&self.plugin.path, state.calling),
                    ),
                },
            ),
        }
    }
}

/// An mmhost error raised inside a host call, carried through the trap so
/// that the run reports it unchanged.
#[derive(Debug)]
struct HostFailure(Error);

impl std::fmt::Display for HostFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for HostFailure {}

/// The error for an `ok` or `err` text over [`MAX_RESULT_TEXT`].
fn result_too_long(plugin: &str, which: &str, text: &str) -> Error {
    Error::new(
        ErrorKind::PluginTrap,
        format!(
            "plugin {plugin}: result text limit exceeded: its {which} text is {} bytes, over \
             the limit of {MAX_RESULT_TEXT} bytes (emit bulk output through output.emit); it \
             begins: {}",
            text.len(),
            plugin_text(text, 60).replace("\n  ", "\\n")
        ),
    )
}

/// The error for a failed write of the plugins' output stream.
pub(crate) fn output_error(e: io::Error) -> Error {
    Error::new(
        ErrorKind::Output,
        format!(
            "writing the output stream: {}",
            crate::error::describe_io(&e)
        ),
    )
    .with_io_kind(e.kind())
}
