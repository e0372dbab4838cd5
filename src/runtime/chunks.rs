//! The three calls of a parallel plugin, one process at a time, for runs
//! spread over several processes or machines (`mmhost plan`, `run-chunk`,
//! `reduce`; see [`crate::distributed`]).
//!
//! `parallel.rs` runs a whole parallel run in one process: `plan`, every
//! chunk on threads, `reduce`. Here each call stands alone: [`Runtime::plan_halo`]
//! asks the plugin for its halo, [`Runtime::run_chunks`] runs the chunks a
//! [`ChunkPlan`] hands out (some of them only), one after another, each in
//! a new instance, each chunk's emitted bytes to its own writer, and
//! [`Runtime::reduce`] combines partial results that came from elsewhere.
//! The rules a chunk runs under are those of `--jobs`: the same
//! [`ChunkView`](crate::region::chunk::ChunkView) bounds, limits and
//! messages. With [`RunOptions::random_seed`] set, each chunk's WASI random
//! numbers are seeded with the seed plus the chunk index, so that a chunk
//! run again (its worker died) draws the same numbers.

use std::io::{self, Write};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::parallel_bindings::Parallel;
use super::Watchdog;
use super::{take_region, Host, Plugin, RunOptions, RunResult, Runtime, StoreCtx, View};
use crate::error::{Error, ErrorKind, Result};
use crate::region::chunk::{ChunkPlan, MAX_HALO};
use crate::region::Region;

/// What one chunk returned.
#[derive(Debug, Clone)]
pub struct ChunkDone {
    /// The chunk's index.
    pub index: u32,
    /// Its partial result (the input of `reduce`).
    pub partial: Vec<u8>,
    /// Bytes the plugin wrote in it.
    pub written: u64,
    /// Bytes the plugin read in it.
    pub read: u64,
    /// Bytes the host scanned for it (`find`, `digest`, `count`).
    pub scanned: u64,
    /// Wall-clock time of the `run-chunk` call.
    pub time: Duration,
}

impl Runtime {
    /// The host a plugin was compiled by (only unmetered plugins run in
    /// chunks: fuel runs are serial).
    fn chunk_host(&self, plugin: &Plugin) -> Result<&Host> {
        if plugin.metered {
            return Err(Error::new(
                ErrorKind::Usage,
                format!(
                    "plugin {}: runs with fuel are serial; they do not run in chunks",
                    plugin.name
                ),
            ));
        }
        Ok(&self.plain)
    }

    /// Asks a `parallel` plugin's `plan` for its halo over `region`:
    /// `Some(halo)`, or `None` when it declines to split or is not of the
    /// `parallel` world. A halo over [`MAX_HALO`] is a limit error, as in a
    /// local run. What `plan` emits goes to `out`.
    pub fn plan_halo(
        &self,
        plugin: &Plugin,
        region: Region,
        opts: &RunOptions,
        out: Box<dyn Write + Send>,
    ) -> (Region, Result<Option<u64>>) {
        let Some(pre) = &plugin.parallel else {
            return (region, Ok(None));
        };
        let host = match self.chunk_host(plugin) {
            Ok(h) => h,
            Err(e) => return (region, Err(e)),
        };
        let watchdog = Watchdog::start(&host.engine, opts.timeout);
        let ctx = ctx(host, plugin, opts);
        let mut store = ctx.store(View::Whole(Box::new(region)), out);
        let result = match pre.instantiate(&mut store) {
            Ok(inst) => {
                store.data_mut().calling = super::abi::Export::Plan;
                let called = inst
                    .mmhost_plugin_chunked()
                    .call_plan(&mut store, &opts.args);
                ctx.settle(called, &mut store)
            }
            Err(e) => ctx.settle::<Option<u64>>(Err(e), &mut store),
        };
        drop(watchdog);
        let result = result.and_then(|halo| match halo {
            Some(h) if h > MAX_HALO => Err(Error::new(
                ErrorKind::PluginTrap,
                format!(
                    "plugin {}: halo limit exceeded: plan asked for {h} bytes, over the limit \
                     of {MAX_HALO}",
                    plugin.name
                ),
            )),
            other => Ok(other),
        });
        (take_region(&mut store), result)
    }

    /// Runs every chunk `plan` hands out, in order, each in a new instance
    /// of `plugin` (so that a chunk's bytes never depend on which chunks ran
    /// before it in the same process: a retried chunk gives the same bytes
    /// whatever range of chunks the retry asks for); chunk `k` emits into
    /// `out(k)`. Stops at the first failure and returns its error (the
    /// chunks before it have run).
    pub fn run_chunks(
        &self,
        plugin: &Plugin,
        plan: &ChunkPlan,
        opts: &RunOptions,
        out: &mut dyn FnMut(u32) -> Result<Box<dyn Write + Send>>,
    ) -> Result<Vec<ChunkDone>> {
        let Some(pre) = &plugin.parallel else {
            return Err(Error::new(
                ErrorKind::Usage,
                format!(
                    "plugin {}: not of the parallel world; it cannot run in chunks",
                    plugin.name
                ),
            ));
        };
        let host = self.chunk_host(plugin)?;
        let watchdog = Watchdog::start(&host.engine, opts.timeout);
        let ctx = ctx(host, plugin, opts);
        let mut done = Vec::new();
        while let Some(view) = plan.next() {
            let started = Instant::now();
            let before = plan.stats();
            let index = view.bounds().0;
            // A new store per chunk: the instance before it (and its
            // memory) is gone, as in a process that ran this chunk alone.
            let mut store = ctx.store(View::Detached, Box::new(io::sink()));
            let inst: Parallel = match pre.instantiate(&mut store) {
                Ok(inst) => inst,
                Err(e) => return Err(ctx.settle::<Vec<u8>>(Err(e), &mut store).unwrap_err()),
            };
            let chunked = inst.mmhost_plugin_chunked();
            let partial = super::parallel::run_chunk(&ctx, chunked, &mut store, view, out(index)?)?;
            let after = plan.stats();
            done.push(ChunkDone {
                index,
                partial,
                written: after.bytes_written - before.bytes_written,
                read: after.bytes_read - before.bytes_read,
                scanned: after.bytes_scanned - before.bytes_scanned,
                time: started.elapsed(),
            });
        }
        drop(watchdog);
        Ok(done)
    }

    /// Calls a `parallel` plugin's `reduce` over `partials` (in chunk
    /// order), in one instance over `region`, emitting into `out`.
    pub fn reduce(
        &self,
        plugin: &Plugin,
        region: Region,
        opts: &RunOptions,
        partials: &[Vec<u8>],
        out: Box<dyn Write + Send>,
    ) -> RunResult {
        let (pre, host) = match (&plugin.parallel, self.chunk_host(plugin)) {
            (Some(pre), Ok(host)) => (pre, host),
            (_, Err(e)) => {
                return RunResult {
                    region,
                    result: Err(e),
                }
            }
            (None, _) => {
                let e = Error::new(
                    ErrorKind::Usage,
                    format!(
                        "plugin {}: not of the parallel world; it has no reduce",
                        plugin.name
                    ),
                );
                return RunResult {
                    region,
                    result: Err(e),
                };
            }
        };
        let watchdog = Watchdog::start(&host.engine, opts.timeout);
        let ctx = ctx(host, plugin, opts);
        let mut store = ctx.store(View::Whole(Box::new(region)), out);
        let result = match pre.instantiate(&mut store) {
            Ok(inst) => {
                store.data_mut().calling = super::abi::Export::Reduce;
                let called = inst
                    .mmhost_plugin_chunked()
                    .call_reduce(&mut store, &opts.args, partials);
                ctx.settle(called, &mut store)
            }
            Err(e) => ctx.settle::<String>(Err(e), &mut store),
        };
        drop(watchdog);
        RunResult {
            region: take_region(&mut store),
            result,
        }
    }
}

/// The seed of chunk `index`'s randomness in a run seeded with `seed`.
pub fn chunk_seed(seed: u64, index: u32) -> u64 {
    seed ^ (u64::from(index) + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

fn ctx<'a>(host: &'a Host, plugin: &'a Plugin, opts: &'a RunOptions) -> StoreCtx<'a> {
    StoreCtx {
        // Made right after the watchdog starts: the same deadline.
        deadline: super::clock::deadline(opts.timeout),
        host,
        plugin,
        opts,
        progress: opts.progress.clone().unwrap_or_default(),
        logged: Arc::new(AtomicU64::new(0)),
        terminal: super::terminal::Terminal::new(&plugin.name),
    }
}
