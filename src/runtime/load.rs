//! Turning a plugin file into a compiled component.
//!
//! Accepted forms, told apart by their first bytes:
//! - a component (binary, layer 1);
//! - a core module (layer 0) that follows the lowered canonical ABI of the
//!   `transform` world, as `wasm32-unknown-unknown` Rust, C, AssemblyScript or
//!   hand-written WAT produce. It is wrapped into a component here with
//!   wit-component (about a millisecond), using the world embedded in the
//!   module by its bindings generator or, if it has none, mmhost's own WIT
//!   (the `parallel` world if the module exports the `chunked` functions);
//!   a module that imports WASI preview 1 (`wasi_snapshot_preview1`, as Go,
//!   Rust's `wasm32-wasip1` and Zig emit) is adapted on the way (`preview1`);
//! - either of those in WebAssembly text (`.wat`);
//! - a built-in plugin's name ([`crate::builtins`]): its embedded module.
//!
//! Compilation goes through wasmtime's cache when it is enabled, so a large
//! component compiles once per version of the file.

use std::path::Path;

use wasmtime::component::Component;
use wasmtime::Engine;

use crate::error::{Error, Result};

/// The WIT of the world plugins implement, built into the binary.
pub const WIT_SOURCE: &str = include_str!("../../wit/mmhost.wit");

/// The least time a run's timeout gives compiling (1 s): a shorter timeout
/// still lets a plugin load from the cache and run into its own limit.
pub const MIN_COMPILE_LIMIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Reads, wraps if needed, and compiles the plugin at `path`. With `notice`,
/// a compile still running after a second says so on stderr.
///
/// With a `deadline` (the run's timeout, but at least
/// [`MIN_COMPILE_LIMIT`], so that a short timeout still lets a plugin load
/// from the cache and run into its own limit), compiling runs on its own
/// thread and a compile still running when the deadline passes fails the
/// load (exit code 4), naming the limit. The thread cannot be stopped: it
/// finishes in the background (the `mmhost` command exits at once). Its
/// size was bounded before it started (see `code_limits`).
pub(super) fn compile(
    engine: &Engine,
    path: &Path,
    notice: bool,
    deadline: Option<std::time::Duration>,
) -> Result<Component> {
    let bytes = match crate::builtins::module(path)? {
        Some(module) => module.to_vec(),
        None => crate::whole_file::read(path, crate::whole_file::MAX_PLUGIN_FILE)
            .map_err(|e| Error::plugin_load(path, e))?,
    };
    let binary = super::plugin_bytes::binary(path, bytes)?;
    let component = if binary.component {
        binary.bytes
    } else {
        wrap_module(&binary.bytes).map_err(|e| {
            Error::plugin_load(
                path,
                format!(
                    "core module cannot be made a component: {}",
                    anyhow_chain(&e)
                ),
            )
        })?
    };
    if let Some(why) = super::code_limits::too_costly(&component) {
        return Err(Error::plugin_load(path, why));
    }
    let (done, waiting) = std::sync::mpsc::channel::<()>();
    let notifier = notice.then(|| {
        let (name, size) = (crate::escape::quote(path), component.len());
        std::thread::spawn(move || {
            let waited = waiting.recv_timeout(std::time::Duration::from_secs(1));
            if waited == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
                eprintln!(
                    "mmhost: compiling {name} ({:.1} MB); a first compile takes a few seconds, \
                     later runs use the compilation cache",
                    size as f64 / 1e6
                );
            }
        })
    });
    let compiled = match deadline {
        None => Component::new(engine, &component),
        Some(limit) => {
            let limit = limit.max(MIN_COMPILE_LIMIT);
            let (send, result) = std::sync::mpsc::channel();
            let engine = engine.clone();
            std::thread::spawn(move || {
                let _ = send.send(Component::new(&engine, &component));
            });
            match result.recv_timeout(limit) {
                Ok(compiled) => compiled,
                Err(_) => {
                    drop(done);
                    return Err(Error::plugin_load(
                        path,
                        format!(
                            "compiling took longer than the time limit of {} ms (--timeout \
                             covers compiling; `mmhost compile` fills the cache without a \
                             limit)",
                            limit.as_millis()
                        ),
                    ));
                }
            }
        }
    }
    .map_err(|e| Error::plugin_load(path, format!("not a valid component: {}", error_chain(&e))));
    drop(done);
    if let Some(t) = notifier {
        let _ = t.join();
    }
    compiled
}

fn has_component_type(module: &[u8]) -> anyhow::Result<bool> {
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        if let wasmparser::Payload::CustomSection(c) = payload? {
            if c.name().starts_with("component-type") {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Wraps a core module into a component of the `transform` world. The world
/// comes from the module's own `component-type` section (as bindings
/// generators embed it) or, failing that, from mmhost's WIT (its `parallel`
/// world if the module exports the `chunked` functions). A module that
/// imports WASI preview 1 gets wasmtime's adapter (see `preview1`); one that
/// imports anything else mmhost cannot satisfy is refused, naming the import.
pub fn wrap_module(module: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut module = module.to_vec();
    let own_world = !has_component_type(&module)?;
    let imports = super::preview1::imports(&module, own_world)?;
    if let Some(why) = imports.unsatisfiable {
        anyhow::bail!(why);
    }
    if own_world {
        // A module that exports the `chunked` functions (as Go plugins of
        // plugins/go do) implements the `parallel` world. Export names carry
        // the interface's version, and a component's exports must match its
        // world's exactly (imports match any later 0.1.x by semver): such a
        // module is wrapped with the WIT of the version it names, so that a
        // plugin built against an older 0.1.x keeps loading.
        let (world, source) = match &imports.chunked {
            Some(version) => ("parallel", wit_of_version(version)?),
            None => ("transform", WIT_SOURCE),
        };
        embed_world(&mut module, "mmhost.wit", source, world)?;
    }
    let mut encoder = wit_component::ComponentEncoder::default()
        .module(&module)?
        .validate(true);
    if imports.preview1 {
        encoder = encoder.adapter(super::preview1::MODULE, super::preview1::adapter()?)?;
    }
    encoder.encode()
}

/// Embeds world `world` of the WIT text `source` (named `file` in errors)
/// into the core module `module`, as `wasm-tools component embed` does, so
/// that wit-component can make it a component.
pub(super) fn embed_world(
    module: &mut Vec<u8>,
    file: &str,
    source: &str,
    world: &str,
) -> anyhow::Result<()> {
    let mut resolve = wit_parser::Resolve::default();
    let pkg = resolve.push_str(file, source)?;
    let world = resolve.select_world(&[pkg], Some(world))?;
    wit_component::embed_component_metadata(
        module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
}

/// The released versions of the WIT package, oldest first, and this
/// host's own (`wit/history/` keeps every released text).
const WIT_HISTORY: &[(&str, &str)] = &[
    ("0.1.0", include_str!("../../wit/history/mmhost@0.1.0.wit")),
    ("0.1.1", include_str!("../../wit/history/mmhost@0.1.1.wit")),
    ("0.1.2", include_str!("../../wit/history/mmhost@0.1.2.wit")),
    ("0.1.3", include_str!("../../wit/history/mmhost@0.1.3.wit")),
];

/// The WIT text of package version `version`: this host's, or a released
/// one from [`WIT_HISTORY`].
///
/// # Errors
///
/// A version this host does not know (a later one, or not 0.1.x).
fn wit_of_version(version: &str) -> anyhow::Result<&'static str> {
    let current = super::WORLD.rsplit('@').next().unwrap_or_default();
    if version == current {
        return Ok(WIT_SOURCE);
    }
    WIT_HISTORY
        .iter()
        .find(|(v, _)| *v == version)
        .map(|(_, text)| *text)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "it exports mmhost:plugin/chunked@{}, a version of the contract this mmhost \
                 does not know (it knows 0.1.0 to {})",
                crate::escape::one_line(version, 40),
                current
            )
        })
}

/// The causes of a wasmtime error, outermost first, on one line.
pub(super) fn error_chain(e: &wasmtime::Error) -> String {
    let parts: Vec<String> = e.chain().map(|c| one_line(&c)).collect();
    parts.join(": ")
}

fn anyhow_chain(e: &anyhow::Error) -> String {
    let parts: Vec<String> = e.chain().map(|c| one_line(&c)).collect();
    parts.join(": ")
}

fn one_line(e: &dyn std::fmt::Display) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why a component could not be linked, naming the import mmhost lacks.
pub(super) fn describe_link_error(e: &wasmtime::Error) -> String {
    format!(
        "imports something mmhost does not provide ({}); plugins may import only the \
         mmhost:plugin interfaces and WASI 0.2",
        error_chain(e)
    )
}

/// `mmhost wrap`: reads the core module at `module` (binary or .wat text),
/// wraps it ([`wrap_module`]) and writes the component to `output`.
///
/// # Errors
/// A plugin-load error naming `module` when it cannot be read, parsed or
/// wrapped; an output error naming `output` when it cannot be written.
pub fn wrap_file(module: &Path, output: &Path) -> Result<()> {
    let bytes = crate::whole_file::read(module, crate::whole_file::MAX_PLUGIN_FILE)
        .map_err(|e| Error::plugin_load(module, e))?;
    let bytes = super::plugin_bytes::binary(module, bytes)?.bytes;
    let component =
        wrap_module(&bytes).map_err(|e| Error::plugin_load(module, format!("{e:#}")))?;
    std::fs::write(output, component).map_err(|e| Error::output(output, e))
}
