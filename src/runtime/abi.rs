//! Which call of the contract a plugin got wrong, when it breaks the
//! canonical ABI: a bad pointer or length, an enum value out of range,
//! invalid UTF-8.
//!
//! wasmtime reports such a violation as an error that is not a trap, with
//! the cause alone (`unexpected discriminant: 9`) and a backtrace whose
//! innermost frames are adapter code (`<wasm function 0>`). Two cases:
//!
//! - the plugin called an import with bad arguments: wasm is on the stack,
//!   and the innermost frame of the plugin's own module is at the `call`
//!   instruction. Decoding that instruction in the plugin file names the
//!   import (`host.log`, `region.read`);
//! - the host called an export and could not take its result (or the
//!   pointer `cabi_realloc` gave for its arguments): no wasm is on the stack,
//!   and the export is the one the run was calling ([`Export`]).

use std::path::Path;

use wasmtime::{FrameInfo, WasmBacktrace};

use crate::escape;

/// The export a store is calling, kept in its state for the error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Export {
    /// Instantiation (start function, `cabi_realloc` of nothing yet).
    None,
    /// `run`.
    Run,
    /// `chunked.plan`.
    Plan,
    /// `chunked.run-chunk`.
    RunChunk,
    /// `chunked.reduce`.
    Reduce,
}

impl Export {
    /// The export's name and the WIT type of its result.
    fn contract(self) -> Option<(&'static str, &'static str)> {
        match self {
            Export::None => None,
            Export::Run => Some(("run", "result<string, string>")),
            Export::Plan => Some(("plan", "result<option<u64>, string>")),
            Export::RunChunk => Some(("run-chunk", "result<list<u8>, string>")),
            Export::Reduce => Some(("reduce", "result<string, string>")),
        }
    }
}

/// The one-line description of a canonical-ABI violation `err` of the
/// plugin at `path`, which was calling `export`.
pub(super) fn describe(err: &wasmtime::Error, path: &Path, export: Export) -> String {
    let cause = escape::one_line(&err.root_cause().to_string(), 1000);
    let frames = err
        .downcast_ref::<WasmBacktrace>()
        .map(|bt| bt.frames())
        .unwrap_or_default();
    if !frames.is_empty() {
        return match called_import(path, frames) {
            Some(import) => format!("bad arguments to {import}: {cause}"),
            None => format!("bad arguments to an import: {cause}"),
        };
    }
    match export.contract() {
        Some((name, ty)) => format!(
            "{name} returned a value that is not a {ty}: {cause} (or cabi_realloc gave a \
             bad pointer for its arguments)"
        ),
        None => format!("breaks the canonical ABI: {cause}"),
    }
}

/// What a trap says when it happened in a guest runtime's own conversion
/// of `export`'s result: componentize-py's `run` converts what the Python
/// code returned by calling `wit_dylib_pop_string` (and the like) directly,
/// which traps on a value of another type (`return 42`). A frame of that
/// name called by the export's own function is that conversion; then the
/// plugin returned a value of the wrong type, said as for a lift error.
pub(super) fn wrong_result_trap(err: &wasmtime::Error, export: Export) -> Option<String> {
    let (name, ty) = export.contract()?;
    let frames = err.downcast_ref::<WasmBacktrace>()?.frames();
    let converter = frames.windows(2).find_map(|pair| {
        let inner = pair[0].func_name()?;
        let outer = pair[1].func_name()?;
        (inner.starts_with("wit_dylib_pop_") && outer == name).then_some(inner)
    })?;
    Some(format!(
        "{name} returned a value that is not a {ty} (its conversion, {}, trapped)",
        escape::one_line(converter, 100)
    ))
}

/// The import called at the innermost frame of `frames` that is at a
/// `call` of an imported function, as `interface.function` for the
/// mmhost interfaces (`region.read`) and `module::name` otherwise.
fn called_import(path: &Path, frames: &[FrameInfo]) -> Option<String> {
    let raw = std::fs::read(path).ok()?;
    let binary = if raw.starts_with(b"\0asm") {
        raw
    } else {
        wat::parse_bytes(&raw).ok()?.into_owned()
    };
    // A core module runs wrapped, as `load` wraps it: offsets are those of
    // the module inside the component.
    let bytes = if wasmparser::Parser::is_core_wasm(&binary) {
        super::load::wrap_module(&binary).ok()?
    } else {
        binary
    };
    let modules = core_modules(&bytes);
    frames.iter().find_map(|frame| {
        let offset = frame.module_offset()?;
        let imports: Vec<String> = frame
            .module()
            .imports()
            .map(|i| format!("{}::{}", i.module(), i.name()))
            .collect();
        if imports.is_empty() {
            return None; // adapter code
        }
        modules
            .iter()
            .find_map(|&(start, m)| import_called_at(start, m, &imports, offset))
    })
}

/// The core modules nested in the component `bytes`, with their offsets in
/// it (wasmtime's frame offsets count from the start of the component).
fn core_modules(bytes: &[u8]) -> Vec<(usize, &[u8])> {
    let mut out = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload {
            Ok(wasmparser::Payload::ModuleSection {
                unchecked_range, ..
            }) => {
                if let Some(m) = bytes.get(unchecked_range.clone()) {
                    out.push((unchecked_range.start, m));
                }
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    out
}

/// The import that the instruction at `offset` of `module` (which starts at
/// `start`) calls, if the module's imports are `imports` and that
/// instruction is a `call` of an imported function.
fn import_called_at(
    start: usize,
    module: &[u8],
    imports: &[String],
    offset: usize,
) -> Option<String> {
    use wasmparser::{Operator, Payload, TypeRef};
    let mut funcs = Vec::new();
    let mut all = Vec::new();
    for payload in wasmparser::Parser::new(start as u64).parse_all(module) {
        match payload.ok()? {
            Payload::ImportSection(r) => {
                for i in r.into_imports() {
                    let i = i.ok()?;
                    let name = format!("{}::{}", i.module, i.name);
                    if matches!(i.ty, TypeRef::Func(_)) {
                        funcs.push(name.clone());
                    }
                    all.push(name);
                }
            }
            Payload::CodeSectionEntry(body) => {
                if all != imports {
                    return None; // another module of the component
                }
                let range = body.range();
                if !(range.start..range.end).contains(&offset) {
                    continue;
                }
                let mut ops = body.get_operators_reader().ok()?;
                while !ops.eof() {
                    let (op, at) = ops.read_with_offset().ok()?;
                    if at == offset {
                        return match op {
                            Operator::Call { function_index } => {
                                funcs.get(function_index as usize).map(|name| pretty(name))
                            }
                            _ => None,
                        };
                    }
                }
                return None;
            }
            _ => {}
        }
    }
    None
}

/// `mmhost:plugin/region@0.1.2::read` as `region.read`; other imports as
/// they are, escaped.
fn pretty(import: &str) -> String {
    let short = import.strip_prefix("mmhost:plugin/").and_then(|rest| {
        let (interface, func) = rest.split_once("::")?;
        let interface = interface.split('@').next()?;
        Some(format!("{interface}.{func}"))
    });
    escape::one_line(&short.unwrap_or_else(|| import.to_string()), 200)
}
