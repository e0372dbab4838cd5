//! Core modules of WASI preview 1: what Go (`GOOS=wasip1`), Rust's
//! `wasm32-wasip1`, Zig's and wasi-libc's WASI targets emit. Such a module
//! imports its system calls from `wasi_snapshot_preview1` (`fd_write`,
//! `clock_time_get`, `random_get`, `proc_exit`, ...), which no component
//! host provides as such: `load::wrap_module` gives wit-component an
//! *adapter*, a core module that exports those functions and is linked into
//! the component beside the plugin.
//!
//! The adapter is mmhost's own (`preview1/adapter.wat`, about 250 lines), not
//! wasmtime's (crates.io `wasi-preview1-component-adapter-provider`), because
//! wasmtime's does not work with Go: on its first call it allocates its state
//! and a 64 KiB stack, either through the plugin's `cabi_realloc`, which
//! re-enters the Go runtime in the middle of one of its own system calls
//! (Go throws: `badsystemstack`, `out of bounds memory access`), or with
//! `memory.grow`, behind the back of Go's allocator, which assumes the
//! memory above its break is its own and would later hand out the same
//! pages. mmhost's adapter allocates nothing and keeps no state: it works
//! on the pointers the module passes, and it need not implement a file
//! system, sockets or an environment, since the sandbox grants none. So:
//!
//! - no arguments, no environment variables, no preopened directories;
//!   every descriptor but 0, 1 and 2 is `EBADF` (so `path_open` and the
//!   socket calls fail), stdin is empty;
//! - `fd_write` to stdout and stderr goes where a component's WASI output
//!   goes (through the same WASI 0.2 streams: escaped lines on mmhost's
//!   stderr, prefixed with the plugin's name, within the instance's budget);
//! - `clock_time_get`: the wall clock stands at 0, the monotonic clock is the
//!   instance's (the `clock` module); `poll_oneoff` on clocks sleeps, never
//!   past the run's deadline;
//! - `random_get`: the instance's WASI random generator (seeded in
//!   distributed runs, as for components);
//! - `proc_exit` ends the instance: a run that exits (Go's `os.Exit`, or its
//!   runtime after a panic) fails with the status (exit code 5).
//!
//! The adapter calls the host through a host-internal interface
//! (`preview1/adapter.wit`, `mmhost:wasip1/calls`), linked by [`link`]. The
//! adapter is built from its text once per process (under a millisecond).
//!
//! A core module that imports anything else mmhost cannot satisfy is
//! refused before wrapping with one line naming the import (exit code 4).

use std::collections::BTreeSet;
use std::sync::OnceLock;

use wasmtime::component::Linker;
use wasmtime::StoreContextMut;

use super::HostState;

/// The import module of WASI preview 1.
pub(super) const MODULE: &str = "wasi_snapshot_preview1";

/// The adapter's source, and the WIT of its host calls.
const ADAPTER_WAT: &str = include_str!("preview1/adapter.wat");
const ADAPTER_WIT: &str = include_str!("preview1/adapter.wit");

/// The interface of the host calls, as linked.
const CALLS: &str = "mmhost:wasip1/calls@0.1.0";

/// The adapter given to wit-component for [`MODULE`]: the module of
/// `adapter.wat` with the world of `adapter.wit` embedded.
pub(super) fn adapter() -> anyhow::Result<&'static [u8]> {
    static ADAPTER: OnceLock<Result<Vec<u8>, String>> = OnceLock::new();
    let built = ADAPTER.get_or_init(|| {
        let build = || -> anyhow::Result<Vec<u8>> {
            let mut module = wat::parse_str(ADAPTER_WAT)?;
            super::load::embed_world(&mut module, "adapter.wit", ADAPTER_WIT, "adapter")?;
            Ok(module)
        };
        build().map_err(|e| format!("{e:#}"))
    });
    match built {
        Ok(bytes) => Ok(bytes),
        Err(e) => anyhow::bail!("mmhost's WASI preview 1 adapter does not build: {e}"),
    }
}

/// The preview 1 functions the adapter implements (its exports).
fn adapter_functions() -> &'static BTreeSet<String> {
    static FUNCTIONS: OnceLock<BTreeSet<String>> = OnceLock::new();
    FUNCTIONS.get_or_init(|| {
        let mut names = BTreeSet::new();
        if let Ok(module) = wat::parse_str(ADAPTER_WAT) {
            for payload in wasmparser::Parser::new(0).parse_all(&module) {
                if let Ok(wasmparser::Payload::ExportSection(r)) = payload {
                    names.extend(r.into_iter().flatten().map(|e| e.name.to_string()));
                }
            }
        }
        names
    })
}

/// Links the host calls of the adapter (`adapter.wit`) into `linker`.
pub(super) fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    let mut calls = linker.instance(CALLS)?;
    calls.func_wrap(
        "monotonic-now",
        |store: StoreContextMut<'_, HostState>, (): ()| Ok((store.data().clock.now(),)),
    )?;
    calls.func_wrap(
        "sleep-until",
        |store: StoreContextMut<'_, HostState>, (instant,): (u64,)| {
            store.data().clock.sleep_until(instant);
            Ok(())
        },
    )?;
    calls.func_wrap(
        "random-u64",
        |mut store: StoreContextMut<'_, HostState>, (): ()| {
            use wasmtime_wasi::p2::bindings::random::random::Host;
            Ok((store.data_mut().wasi.random().get_random_u64()?,))
        },
    )?;
    calls.func_wrap(
        "write",
        |mut store: StoreContextMut<'_, HostState>, (fd, data): (u32, Vec<u8>)| {
            write(store.data_mut(), fd, data)
        },
    )?;
    calls.func_wrap(
        "exit",
        |_store: StoreContextMut<'_, HostState>, (code,): (u32,)| -> wasmtime::Result<()> {
            Err(wasmtime_wasi::I32Exit(code as i32).into())
        },
    )?;
    Ok(())
}

/// Writes `data` to the instance's WASI stdout (`fd` 1) or stderr (2),
/// through the same stream a component's `wasi:cli/stdout` gets.
fn write(state: &mut HostState, fd: u32, data: Vec<u8>) -> wasmtime::Result<()> {
    use wasmtime_wasi::cli::WasiCliCtxView;
    use wasmtime_wasi::p2::bindings::cli::{stderr, stdout};
    let mut view = WasiCliCtxView {
        ctx: state.wasi.cli(),
        table: &mut state.table,
    };
    let stream = match fd {
        1 => stdout::Host::get_stdout(&mut view)?,
        _ => stderr::Host::get_stderr(&mut view)?,
    };
    let mut stream = state.table.delete(stream)?;
    // The streams mmhost gives take every write whole (see `wasi`).
    let _ = stream.write(bytes::Bytes::from(data));
    Ok(())
}

/// What a core module imports, as far as wrapping is concerned.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Imports {
    /// It imports from [`MODULE`]: it needs the adapter.
    pub(super) preview1: bool,
    /// The first import mmhost cannot satisfy, as `module::name`, with why.
    pub(super) unsatisfiable: Option<String>,
    /// It exports the functions of the `chunked` interface (`parallel`):
    /// the version in their names (`mmhost:plugin/chunked@0.1.3#plan`
    /// gives `0.1.3`).
    pub(super) chunked: Option<String>,
}

/// Why a WASI command cannot be a plugin.
const COMMAND: &str = "it is a WASI command: it exports _start, which mmhost never calls, so \
    its runtime is never set up (build a library: Go -buildmode=c-shared, Rust crate-type \
    cdylib, C -mexec-model=reactor)";

/// Reads the imports of the core module `module`. With `own_world` (the
/// module carries no world of its own, so it is wrapped with mmhost's), every
/// import must come from an `mmhost:plugin/` interface or be a preview 1
/// function; a module that embeds its own world (a bindings generator's
/// `component-type` section) is left to wit-component, which checks its
/// imports against that world. A WASI command (it exports `_start`) is
/// refused whatever it imports.
pub(super) fn imports(module: &[u8], own_world: bool) -> anyhow::Result<Imports> {
    let mut found = Imports::default();
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        let r = match payload? {
            wasmparser::Payload::ImportSection(r) => r,
            wasmparser::Payload::ExportSection(r) => {
                for export in r {
                    let name = export?.name;
                    if name == "_start" {
                        found.unsatisfiable = Some(COMMAND.to_string());
                    }
                    if let Some(rest) = name.strip_prefix("mmhost:plugin/chunked@") {
                        let version = rest.split('#').next().unwrap_or(rest);
                        found.chunked.get_or_insert_with(|| version.to_string());
                    }
                }
                continue;
            }
            _ => continue,
        };
        for import in r.into_imports() {
            let import = import?;
            let why = if import.module == MODULE {
                found.preview1 = true;
                (!adapter_functions().contains(import.name))
                    .then_some("which is not a WASI preview 1 function")
            } else if !own_world || import.module.starts_with("mmhost:plugin/") {
                None
            } else if import.module == "wasi_unstable" {
                Some("from WASI snapshot 0, which mmhost does not provide (build for wasip1)")
            } else {
                Some("which mmhost does not provide")
            };
            if let (Some(why), None) = (why, &found.unsatisfiable) {
                found.unsatisfiable = Some(format!(
                    "it imports {}::{}, {why} (a core module may import the mmhost:plugin \
                     interfaces and {MODULE})",
                    crate::escape::one_line(import.module, 200),
                    crate::escape::one_line(import.name, 200),
                ));
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(wat: &str) -> Vec<u8> {
        wat::parse_str(wat).unwrap()
    }

    #[test]
    fn the_adapter_builds_and_provides_every_preview1_call() {
        adapter().unwrap();
        assert_eq!(adapter_functions().len(), 46);
        for f in [
            "fd_write",
            "clock_time_get",
            "random_get",
            "proc_exit",
            "poll_oneoff",
            "args_get",
            "environ_get",
            "sched_yield",
        ] {
            assert!(adapter_functions().contains(f), "{f}");
        }
    }

    #[test]
    fn preview1_imports_need_the_adapter() {
        let m = module(
            r#"(module (import "wasi_snapshot_preview1" "fd_write"
                 (func (param i32 i32 i32 i32) (result i32))))"#,
        );
        let found = imports(&m, true).unwrap();
        assert!(found.preview1);
        assert_eq!(found.unsatisfiable, None);
    }

    #[test]
    fn a_wasi_command_is_refused() {
        let m = module(r#"(module (func (export "_start")) (func (export "run")))"#);
        let why = imports(&m, true).unwrap().unsatisfiable.unwrap();
        assert!(
            why.starts_with("it is a WASI command: it exports _start"),
            "{why}"
        );
    }

    #[test]
    fn an_unknown_import_is_named() {
        let m = module(
            r#"(module
                 (import "mmhost:plugin/region@0.1.3" "size" (func (result i64)))
                 (import "env" "now" (func (result i64)))
                 (import "wasi_snapshot_preview1" "no_such_call" (func)))"#,
        );
        let found = imports(&m, true).unwrap();
        assert!(found.preview1);
        let why = found.unsatisfiable.unwrap();
        assert!(why.starts_with("it imports env::now, "), "{why}");
        // With a world of its own, wit-component judges the other modules.
        let found = imports(&m, false).unwrap();
        let why = found.unsatisfiable.unwrap();
        assert!(
            why.starts_with("it imports wasi_snapshot_preview1::no_such_call, which is not"),
            "{why}"
        );
    }
}
