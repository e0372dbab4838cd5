//! The host's side of the `mmhost:plugin` imports: the per-store state a
//! host call reaches ([`HostState`]), logging, progress, the output stream,
//! the step's configuration, and the `region` interface, linked by hand (see
//! the parent module's docs for why).

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use wasmtime::component::{Linker, LinkerInstance, ResourceTable, WasmList};
use wasmtime::StoreContextMut;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::mmhost::plugin::{
    config as wit_config, host, output, region as wit_region, types,
};
use super::limits::Limiter;
use super::lower::RegionBytes;
use super::terminal::Terminal;
use super::view::View;
use super::{LogLevel, MAX_LOG_LINES, MAX_LOG_MESSAGE, REGION_INTERFACE};
use crate::error::Error;
use crate::progress::ProgressState;
use crate::region::{AccessError, DigestAlgorithm, WriteError};

/// Per-run state reachable from host functions.
pub struct HostState {
    pub(super) view: View,
    pub(super) out: Box<dyn Write + Send>,
    pub(super) out_error: Option<io::Error>,
    pub(super) log_level: LogLevel,
    /// Log messages printed by every instance of the run.
    pub(super) logged: Arc<AtomicU64>,
    /// The run's share of the terminal.
    pub(super) terminal: Arc<Terminal>,
    pub(super) limiter: Limiter,
    pub(super) wasi: WasiCtx,
    /// The instance's monotonic clock and its run's deadline.
    pub(super) clock: super::clock::Clock,
    pub(super) table: ResourceTable,
    pub(super) progress: Arc<ProgressState>,
    /// The step's configuration, serialized once.
    pub(super) config: String,
    /// The export being called, for messages about a broken canonical ABI.
    pub(super) calling: super::abi::Export,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
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
pub(super) fn link_region(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    type Res<T> = wasmtime::Result<(std::result::Result<T, types::Error>,)>;
    let mut inst: LinkerInstance<'_, HostState> = linker.instance(REGION_INTERFACE)?;
    inst.func_wrap("size", |store: StoreContextMut<'_, HostState>, (): ()| {
        Ok((store.data().view.access().size(),))
    })?;
    inst.func_wrap(
        "writable",
        |store: StoreContextMut<'_, HostState>, (): ()| {
            Ok((store.data().view.access().writable(),))
        },
    )?;
    inst.func_wrap(
        "segments",
        |store: StoreContextMut<'_, HostState>, (): ()| {
            let segs: Vec<wit_region::Segment> = store
                .data()
                .view
                .access()
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
            let got = state.view.access().read_view(at, len).map(RegionBytes);
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
            match state.view.access().write(at, bytes) {
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
            let found = state.view.access().find(pattern, start, end, limit);
            if let Ok(found) = &found {
                // The host's search is the plugin's progress through the
                // region as much as a read is.
                state.progress.add_read(crate::region::find_scanned(
                    pattern.len(),
                    start,
                    end,
                    limit,
                    found,
                ));
            }
            Ok((found.map_err(Into::into),))
        },
    )?;
    inst.func_wrap(
        "digest",
        |store: StoreContextMut<'_, HostState>,
         (algorithm, at, len): (wit_region::DigestAlgorithm, i64, u64)|
         -> Res<Vec<u8>> {
            let algorithm = match algorithm {
                wit_region::DigestAlgorithm::Sha256 => DigestAlgorithm::Sha256,
            };
            let state = store.data();
            let got = state.view.access().digest(algorithm, at, len);
            if got.is_ok() {
                state.progress.add_read(len);
            }
            Ok((got.map_err(Into::into),))
        },
    )?;
    inst.func_wrap(
        "count",
        |store: StoreContextMut<'_, HostState>, (byte, at, len): (u8, i64, u64)| -> Res<u64> {
            let state = store.data();
            let got = state.view.access().count(byte, at, len);
            if got.is_ok() {
                state.progress.add_read(len);
            }
            Ok((got.map_err(Into::into),))
        },
    )?;
    inst.func_wrap(
        "locate",
        |store: StoreContextMut<'_, HostState>, (segment, delta): (u32, i64)| -> Res<u64> {
            Ok((store
                .data()
                .view
                .access()
                .locate(segment, delta)
                .map_err(Into::into),))
        },
    )?;
    Ok(())
}

pub(crate) use crate::escape::plugin_text;

/// An mmhost error raised inside a host call, carried through the trap so
/// that the run reports it unchanged.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub(super) struct HostFailure(pub(super) Error);
