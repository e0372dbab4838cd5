//! What a plugin file is, without running it: component or core module, the
//! interfaces it imports and exports, the mmhost world version it targets,
//! and the toolchain that made it (from its `producers` sections).

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};

/// A description of a plugin file.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Inspection {
    /// Size of the file in bytes.
    pub size: u64,
    /// `component`, `core module` or `text` (WAT, described after parsing).
    pub kind: String,
    /// Imports: interface names for components, `module::name` for modules.
    pub imports: Vec<String>,
    /// Exports (top level).
    pub exports: Vec<String>,
    /// The `mmhost:plugin` version its imports name, if any.
    pub mmhost_version: Option<String>,
    /// Source languages named by `producers` sections (e.g. `Rust`, `C11`).
    pub languages: Vec<String>,
    /// Tools that processed it, with versions (`rustc 1.95.0`, ...).
    pub processed_by: Vec<String>,
    /// SDKs named by `producers` sections.
    pub sdks: Vec<String>,
}

/// Reads and describes the plugin at `path`.
pub fn inspect(path: &Path) -> Result<Inspection> {
    let raw = crate::whole_file::read(path, crate::whole_file::MAX_PLUGIN_FILE)
        .map_err(|e| Error::plugin_load(path, e))?;
    let size = raw.len() as u64;
    let super::plugin_bytes::Binary { bytes, text, .. } = super::plugin_bytes::binary(path, raw)?;
    let mut imports = Vec::new();
    let mut exports = Vec::new();
    let mut languages = BTreeSet::new();
    let mut processed_by = BTreeSet::new();
    let mut sdks = BTreeSet::new();
    let mut kind = String::new();
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
        use wasmparser::Payload as P;
        let payload =
            payload.map_err(|e| Error::plugin_load(path, format!("invalid WebAssembly: {e}")))?;
        let bad = |e: wasmparser::BinaryReaderError| {
            Error::plugin_load(path, format!("invalid WebAssembly: {e}"))
        };
        match payload {
            P::Version { encoding, .. } => {
                depth += 1;
                if depth == 1 {
                    kind = match encoding {
                        wasmparser::Encoding::Component => "component",
                        wasmparser::Encoding::Module => "core module",
                    }
                    .to_string();
                }
            }
            P::End(_) => depth = depth.saturating_sub(1),
            P::ComponentImportSection(r) if depth == 1 => {
                for i in r {
                    imports.push(i.map_err(bad)?.name.name.to_string());
                }
            }
            P::ComponentExportSection(r) if depth == 1 => {
                for e in r {
                    exports.push(e.map_err(bad)?.name.name.to_string());
                }
            }
            P::ImportSection(r) if depth == 1 => {
                for i in r.into_imports() {
                    let i = i.map_err(bad)?;
                    imports.push(format!("{}::{}", i.module, i.name));
                }
            }
            P::ExportSection(r) if depth == 1 => {
                for e in r {
                    exports.push(e.map_err(bad)?.name.to_string());
                }
            }
            P::CustomSection(c) => {
                let wasmparser::KnownCustom::Producers(reader) = c.as_known() else {
                    continue;
                };
                for field in reader {
                    let field = field.map_err(bad)?;
                    for v in field.values {
                        let v = v.map_err(bad)?;
                        let item = if v.version.is_empty() {
                            v.name.to_string()
                        } else {
                            format!("{} {}", v.name, v.version)
                        };
                        match field.name {
                            "language" => languages.insert(language_name(v.name)),
                            "processed-by" => processed_by.insert(item),
                            "sdk" => sdks.insert(item),
                            _ => false,
                        };
                    }
                }
            }
            _ => {}
        }
    }
    if text {
        kind = format!("{kind} (WebAssembly text)");
    }
    let mmhost_version = imports.iter().find_map(|i| {
        let rest = i.strip_prefix("mmhost:plugin/")?;
        let interface = rest.split("::").next().unwrap_or(rest);
        Some(
            interface
                .split_once('@')
                .map(|(_, v)| v.to_string())
                .unwrap_or_default(),
        )
    });
    Ok(Inspection {
        size,
        kind,
        imports,
        exports,
        mmhost_version,
        languages: languages.into_iter().collect(),
        processed_by: processed_by.into_iter().collect(),
        sdks: sdks.into_iter().collect(),
    })
}

/// A source language as people name it. LLVM fills the producers section's
/// `language` field from DWARF, whose names for C++ are `C_plus_plus`,
/// `C_plus_plus_11`, `C_plus_plus_14`... (clang++ with `-g`); those become
/// `C++`, `C++11`, `C++14`. Other names (`Rust`, `C99`, `Zig`) are kept.
fn language_name(raw: &str) -> String {
    match raw.strip_prefix("C_plus_plus") {
        Some(rest) => format!("C++{}", rest.trim_start_matches('_')),
        None => raw.to_string(),
    }
}

impl Inspection {
    /// The world this mmhost runs the plugin as (`mmhost:plugin/parallel@V`
    /// or `mmhost:plugin/transform@V`, without `@V` for a plugin that
    /// imports nothing), or `None` when it does not load; `loads` as for
    /// [`Inspection::to_json`].
    pub fn world(&self, loads: &std::result::Result<bool, String>) -> Option<String> {
        let parallel = *loads.as_ref().ok()?;
        let name = if parallel { "parallel" } else { "transform" };
        Some(match &self.mmhost_version {
            Some(v) if !v.is_empty() => format!("mmhost:plugin/{name}@{v}"),
            _ => format!("mmhost:plugin/{name}"),
        })
    }

    /// The inspection of the plugin at `path` as JSON, with whether this
    /// mmhost loads it (`loads`: `Ok(parallel)` or the load error's
    /// message), as `mmhost inspect --json` prints it: the fields of the
    /// text form (`file` and `world` first), and `loads`, `parallel` and
    /// `load_error`.
    pub fn to_json(
        &self,
        path: &Path,
        loads: &std::result::Result<bool, String>,
    ) -> serde_json::Value {
        let mut v = serde_json::Map::new();
        v.insert(
            "file".into(),
            serde_json::json!(path.to_string_lossy().into_owned()),
        );
        v.insert("world".into(), serde_json::json!(self.world(loads)));
        let fields = serde_json::to_value(self).expect("inspection is JSON");
        if let serde_json::Value::Object(fields) = fields {
            v.extend(fields);
        }
        let mut v = serde_json::Value::Object(v);
        v["loads"] = serde_json::json!(loads.is_ok());
        v["parallel"] = serde_json::json!(loads.as_ref().is_ok_and(|p| *p));
        if let Err(why) = loads {
            v["load_error"] = serde_json::json!(why);
        }
        v
    }

    /// The inspection of the plugin at `path` as `mmhost inspect` prints
    /// it, one field a line; `loads` as for [`Inspection::to_json`].
    pub fn to_text(&self, path: &Path, loads: &std::result::Result<bool, String>) -> String {
        let list = |v: &[String]| {
            if v.is_empty() {
                "-".to_string()
            } else {
                // Names from the plugin file: one escaped line each.
                let v: Vec<String> = v.iter().map(|s| crate::escape::one_line(s, 200)).collect();
                v.join(", ")
            }
        };
        let name = self.world(loads).unwrap_or_default();
        let world = match (loads, &self.mmhost_version) {
            (Ok(true), _) => {
                format!("{name} (loads in this mmhost; may work in chunks on --jobs threads)")
            }
            (Ok(false), None) => format!("{name} (imports nothing; loads in this mmhost)"),
            (Ok(false), Some(_)) => format!("{name} (loads in this mmhost)"),
            (Err(why), _) => format!(
                "does not load in this mmhost: {}",
                crate::escape::one_line(why, 4096)
            ),
        };
        format!(
            "file:         {}\nsize:         {} bytes\nkind:         {}\nworld:        {world}\n\
             imports:      {}\nexports:      {}\nlanguage:     {}\nprocessed-by: {}\nsdk:          {}\n",
            crate::escape::Quoted(path),
            self.size,
            self.kind,
            list(&self.imports),
            list(&self.exports),
            list(&self.languages),
            list(&self.processed_by),
            list(&self.sdks),
        )
    }
}

/// The text `mmhost inspect` prints for `plugin` (JSON with `json`): its
/// [`inspect`]ion, and whether this mmhost loads it (the definitive check of
/// the world) with an engine using the default compilation cache.
///
/// # Errors
/// The errors of [`inspect`], and an engine error when no engine can be set
/// up. A plugin that does not load is reported in the text, not as an error.
pub fn report(plugin: &Path, json: bool) -> Result<String> {
    let info = inspect(plugin)?;
    let runtime = super::Runtime::new(&super::RuntimeOptions::with_default_cache())?;
    let loads = runtime
        .load(plugin)
        .map(|p| p.parallel())
        .map_err(|e| e.message().to_string());
    Ok(if json {
        crate::escape::json_safe(
            &serde_json::to_string_pretty(&info.to_json(plugin, &loads)).expect("json"),
        ) + "\n"
    } else {
        info.to_text(plugin, &loads)
    })
}

#[cfg(test)]
mod tests {
    use super::language_name;

    #[test]
    fn dwarf_cplusplus_names_read_as_cplusplus() {
        assert_eq!(language_name("C_plus_plus_14"), "C++14");
        assert_eq!(language_name("C_plus_plus"), "C++");
        assert_eq!(language_name("C99"), "C99");
        assert_eq!(language_name("Rust"), "Rust");
    }
}
