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
use super::view::View;
use super::{LogLevel, MAX_LOG_LINES, MAX_LOG_MESSAGE, REGION_INTERFACE};
use crate::error::Error;
use crate::progress::ProgressState;
use crate::region::{AccessError, WriteError};

/// Per-run state reachable from host functions.
pub struct HostState {
    pub(super) view: View,
    pub(super) plugin: String,
    pub(super) out: Box<dyn Write + Send>,
    pub(super) out_error: Option<io::Error>,
    pub(super) log_level: LogLevel,
    /// Log messages printed by every instance of the run.
    pub(super) logged: Arc<AtomicU64>,
    pub(super) limiter: Limiter,
    pub(super) wasi: WasiCtx,
    pub(super) table: ResourceTable,
    pub(super) progress: Arc<ProgressState>,
    /// The step's configuration, serialized once.
    pub(super) config: String,
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
        let mut err = io::stderr().lock();
        if logged <= MAX_LOG_LINES {
            let _ = writeln!(
                err,
                "{}: {}: {}",
                self.plugin,
                level.name(),
                plugin_text(&message, MAX_LOG_MESSAGE)
            );
        } else if logged == MAX_LOG_LINES + 1 {
            let _ = writeln!(
                err,
                "{}: more than {MAX_LOG_LINES} log messages; the rest are dropped",
                self.plugin
            );
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
            Ok((found.map_err(Into::into),))
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

/// Text from a plugin made safe to print on a terminal: cut to `max` bytes
/// (at a character boundary, saying how much was dropped), control
/// characters other than newline and tab escaped, and every line after the
/// first indented, so that a plugin cannot forge a line of mmhost's own.
pub(crate) fn plugin_text(text: &str, max: usize) -> String {
    let text = text.trim_end();
    let mut cut = text.len().min(max);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = String::with_capacity(cut + 32);
    for c in text[..cut].chars() {
        match c {
            '\n' => out.push_str("\n  "),
            '\t' => out.push('\t'),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    if cut < text.len() {
        out.push_str(&format!(" [... {} more bytes dropped]", text.len() - cut));
    }
    out
}

/// An mmhost error raised inside a host call, carried through the trap so
/// that the run reports it unchanged.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub(super) struct HostFailure(pub(super) Error);

#[cfg(test)]
mod tests {
    use super::plugin_text;

    #[test]
    fn plugin_text_is_cut_escaped_and_indented() {
        assert_eq!(plugin_text("plain text\n\n", 100), "plain text");
        assert_eq!(plugin_text("a\nb\tc", 100), "a\n  b\tc");
        assert_eq!(
            plugin_text("x\x1b[31my\rz\u{7f}", 100),
            "x\\u{1b}[31my\\rz\\u{7f}"
        );
        assert_eq!(plugin_text("abcdef", 4), "abcd [... 2 more bytes dropped]");
        // Never inside a UTF-8 character.
        assert_eq!(plugin_text("ééé", 3), "é [... 4 more bytes dropped]");
    }
}
