//! Describing a failed run: which limit was hit, or which trap, and where.
//!
//! The first line says what happened in words a user can act on; the details
//! carry the wasm backtrace with function names (from the plugin's `name`
//! section where it kept one), one frame per line.

use wasmtime::{Trap, WasmBacktrace};

use super::RunOptions;
use crate::error::{Error, ErrorKind, Limit};

/// Builds the error for a run that ended in `err` (a trap or a host error).
pub(super) fn describe(
    plugin: &str,
    err: &wasmtime::Error,
    refused: Option<&str>,
    opts: &RunOptions,
) -> Error {
    let mut limit = None;
    let what = match (err.downcast_ref::<Trap>(), refused) {
        (_, Some(limit)) => limit.to_string(),
        (Some(Trap::Interrupt), _) => match opts.timeout {
            Some(t) => {
                limit = Some(Limit::Timeout);
                format!("timeout after {} ms", t.as_millis())
            }
            None => "interrupted".to_string(),
        },
        (Some(Trap::OutOfFuel), _) => {
            limit = Some(Limit::Fuel);
            match opts.fuel {
                Some(f) => format!("out of fuel: used all {f} units (raise it with --fuel)"),
                None => "out of fuel".to_string(),
            }
        }
        (Some(trap), _) => {
            let text = trap.to_string();
            format!(
                "trapped: {}",
                text.strip_prefix("wasm trap: ").unwrap_or(&text)
            )
        }
        (None, _) => super::load::error_chain(err),
    };
    let mut details = String::new();
    if let Some(bt) = err.downcast_ref::<WasmBacktrace>() {
        details.push_str("wasm backtrace:\n");
        for (i, frame) in bt.frames().iter().enumerate() {
            // Rust guests keep mangled names in their name section.
            let name = match frame.func_name() {
                Some(raw) => format!("{:#}", rustc_demangle::demangle(raw)),
                None => format!("<function {}>", frame.func_index()),
            };
            details.push_str(&format!("  {i:>3}: {name}\n"));
        }
    }
    let e =
        Error::new(ErrorKind::PluginTrap, format!("plugin {plugin}: {what}")).with_details(details);
    match limit {
        Some(limit) => e.with_limit(limit),
        None => e,
    }
}
