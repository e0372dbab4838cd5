//! Building a store for one instance of a plugin, with the run's limits
//! ([`StoreCtx::store`]), and settling what a call returned into the run's
//! result ([`StoreCtx::settle`]): shared by the serial and the parallel run.

use std::io::{self, Write};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::Store;

use super::clock::Clock;
use super::imports::{plugin_text, HostFailure, HostState};
use super::limits::Limiter;
use super::terminal::Terminal;
use super::view::View;
use super::{parallel, trap, wasi, Host, Plugin, RunOptions, MAX_RESULT_TEXT, MIN_HOSTCALL_DATA};
use crate::error::{Error, ErrorKind, Result};
use crate::progress::ProgressState;
use crate::region::Region;

/// Takes the whole region back out of a store whose run has ended.
pub(super) fn take_region(store: &mut Store<HostState>) -> Region {
    store
        .data_mut()
        .view
        .take_region()
        .expect("a finished run's store holds the whole region")
}

/// What every store of one run shares.
pub(super) struct StoreCtx<'a> {
    pub(super) host: &'a Host,
    pub(super) plugin: &'a Plugin,
    pub(super) opts: &'a RunOptions,
    pub(super) progress: Arc<ProgressState>,
    pub(super) logged: Arc<AtomicU64>,
    /// The run's share of the terminal (plugin logs and WASI output).
    pub(super) terminal: Arc<Terminal>,
    /// When the run's timeout is up: no sleep of the plugin lasts past it.
    pub(super) deadline: Option<std::time::Instant>,
}

/// A value a plugin returns, with its size limit.
pub(super) trait Returned {
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
    pub(super) fn store(&self, view: View, out: Box<dyn Write + Send>) -> Store<HostState> {
        let (plugin, opts) = (self.plugin, self.opts);
        let clock = Clock::new(self.deadline, &self.host.engine);
        let state = HostState {
            view,
            out,
            out_error: None,
            log_level: opts.log_level,
            logged: self.logged.clone(),
            terminal: self.terminal.clone(),
            limiter: Limiter::new(opts.max_memory),
            wasi: wasi::sandboxed(&self.terminal, clock.clone(), opts.random_seed),
            clock,
            table: ResourceTable::new(),
            progress: self.progress.clone(),
            config: opts.config.to_string(),
            calling: super::abi::Export::None,
        };
        let mut store = Store::new(&self.host.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_hostcall_fuel(hostcall_fuel(opts.max_memory));
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
    pub(super) fn settle<T: Returned>(
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
                    (None, Err(e)) => {
                        let described = trap::describe(
                            name,
                            &e,
                            state.limiter.refused.as_deref(),
                            self.opts,
                            (&self.plugin.path, state.calling),
                        );
                        match &self.host.coredump {
                            Some(target) => target.write(&e, store, name, described),
                            None => described,
                        }
                    }
                },
            ),
        }
    }
}

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

/// The data one host call (`emit`, `log`, `write`, ...) may carry out of a
/// plugin: its memory cap, and at least [`MIN_HOSTCALL_DATA`]. A list or
/// string lies inside one linear memory, which the memory cap bounds, so an
/// argument the plugin could build is never refused by this second limit
/// (whose wasmtime message, "fuel allocated for hostcalls has been
/// exhausted", names no option); the host copies at most that much per call.
fn hostcall_fuel(max_memory: u64) -> usize {
    usize::try_from(max_memory.max(MIN_HOSTCALL_DATA)).unwrap_or(usize::MAX)
}
