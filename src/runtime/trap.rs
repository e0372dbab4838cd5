//! Describing a failed run: which limit was hit, or which trap, and where.
//!
//! The first line says what happened in words a user can act on; the details
//! carry the wasm backtrace with function names (from the plugin's `name`
//! section where it kept one), one frame per line.

use std::path::Path;

use wasmtime::{Trap, WasmBacktrace};

use super::abi::{self, Export};
use super::RunOptions;
use crate::error::{Error, ErrorKind, Limit};
use crate::escape;

/// Builds the error for a run that ended in `err` (a trap or a host error).
pub(super) fn describe(
    plugin: &str,
    err: &wasmtime::Error,
    refused: Option<&str>,
    opts: &RunOptions,
    (path, export): (&Path, Export),
) -> Error {
    let mut limit = None;
    let wrong_result = abi::wrong_result_trap(err, export);
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
        // A guest runtime's conversion of the result trapped on its type.
        (Some(_), _) if wrong_result.is_some() => wrong_result.unwrap_or_default(),
        (Some(trap), _) => {
            let text = trap.to_string();
            format!(
                "trapped: {}",
                text.strip_prefix("wasm trap: ").unwrap_or(&text)
            )
        }
        // WASI's exit (preview 1's proc_exit too): Go's runtime exits so
        // after a panic, having printed why on stderr.
        (None, _) if err.downcast_ref::<wasmtime_wasi::I32Exit>().is_some() => {
            let code = err
                .downcast_ref::<wasmtime_wasi::I32Exit>()
                .map_or(0, |e| e.0);
            format!("exited with status {code} before returning a result (a WASI exit call)")
        }
        // Not a trap: the plugin broke the canonical ABI.
        (None, _) => abi::describe(err, path, export),
    };
    let mut details = String::new();
    if let Some(bt) = err.downcast_ref::<WasmBacktrace>() {
        details.push_str(&backtrace(bt));
    }
    let e =
        Error::new(ErrorKind::PluginTrap, format!("plugin {plugin}: {what}")).with_details(details);
    match limit {
        Some(limit) => e.with_limit(limit),
        None => e,
    }
}

/// Frames of a backtrace shown; the rest are counted.
pub(super) const FRAMES_SHOWN: usize = 64;

/// Frames wasmtime collects (`Config::wasm_backtrace_max_frames`), so that
/// the number of frames not shown can be told up to this depth.
pub(super) const FRAMES_COLLECTED: usize = 4096;

/// The backtrace, innermost frame first, one escaped name per line, and how
/// many frames were left out.
fn backtrace(bt: &WasmBacktrace) -> String {
    let frames = bt.frames();
    let mut out = String::from("wasm backtrace:\n");
    for (i, frame) in frames.iter().take(FRAMES_SHOWN).enumerate() {
        // Rust guests keep mangled names in their name section. The name
        // is the plugin's: printed on one line, escaped.
        let name = match frame.func_name() {
            Some(raw) => escape::one_line(&format!("{:#}", rustc_demangle::demangle(raw)), 200),
            None => format!("<function {}>", frame.func_index()),
        };
        out.push_str(&format!("  {i:>3}: {name}\n"));
    }
    let more = frames.len().saturating_sub(FRAMES_SHOWN);
    if frames.len() >= FRAMES_COLLECTED {
        out.push_str(&format!(
            "  ... {more} or more frames not shown (the backtrace is cut at {FRAMES_COLLECTED})\n"
        ));
    } else if more > 0 {
        out.push_str(&format!("  ... {more} more frames not shown\n"));
    }
    out
}
