//! `mmhost run --coredump FILE`: a WebAssembly core dump of the first plugin
//! instance that traps, for a debugger.
//!
//! The engine captures one on every trap when asked (wasmtime's
//! `Config::coredump_on_trap`; off otherwise, so ordinary runs pay nothing):
//! the stack of the trap with each frame's function and code offset, and
//! the instance's memories and globals. It is written in the format of the
//! tool conventions (<https://github.com/WebAssembly/tool-conventions/blob/main/Coredump.md>):
//! a wasm module with a `core` custom section naming the process, a
//! `corestack` section with the frames, and the memories as data. A run
//! that does not trap writes nothing; a parallel run writes the dump of the
//! first chunk that trapped. The dump holds the plugin's memory, which may
//! hold bytes of the input files.

use std::path::PathBuf;
use std::sync::Mutex;

use wasmtime::{Store, WasmCoreDump};

use super::imports::HostState;
use crate::error::{describe_io, Error};
use crate::escape::Quoted;

/// Where a run's core dump goes, and what became of it.
pub(super) struct Target {
    path: PathBuf,
    /// Once a trap was dumped: the line that says where (or why not).
    outcome: Mutex<Option<String>>,
}

impl Target {
    pub(super) fn new(path: PathBuf) -> Target {
        Target {
            path,
            outcome: Mutex::new(None),
        }
    }

    /// For a run that failed with `err` (already `described`): if `err` is
    /// a trap that carries a core dump and none was written yet this run,
    /// writes it, and says so (or why not) after the error's details; a
    /// later trap of the run (another chunk) says where the first one's
    /// went. The error stays the trap's, whatever happens to the dump.
    pub(super) fn write(
        &self,
        err: &wasmtime::Error,
        store: &mut Store<HostState>,
        plugin: &str,
        described: Error,
    ) -> Error {
        let Some(dump) = err.downcast_ref::<WasmCoreDump>() else {
            return described;
        };
        // A poisoned lock only means another trap's thread panicked: the
        // outcome it holds is still the truth.
        let mut outcome = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        let line = match &*outcome {
            Some(first) => format!("{first}, from the first instance that trapped"),
            None => {
                let bytes = dump.serialize(&mut *store, plugin);
                let line = match std::fs::write(&self.path, &bytes) {
                    Ok(()) => format!(
                        "core dump written to {} ({})",
                        Quoted(&self.path),
                        crate::plural::count(bytes.len() as u64, "byte")
                    ),
                    Err(e) => format!(
                        "core dump not written: {}: {}",
                        Quoted(&self.path),
                        describe_io(&e)
                    ),
                };
                *outcome = Some(line.clone());
                line
            }
        };
        let details = match described.details() {
            Some(d) => format!("{}\n{line}", d.trim_end()),
            None => line,
        };
        described.with_details(details)
    }
}
