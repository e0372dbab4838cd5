//! The JSON job file: its format, parsing with precise errors, validation,
//! and resolution into a [`Job`].
//!
//! ```json
//! {
//!   "$schema": "../schema/job.schema.json",
//!   "inputs": ["data/*.txt", "extra/notes.md"],
//!   "write": {"output": "out/joined.txt"},
//!   "limits": {"max_memory": "64M", "timeout": "30s"},
//!   "steps": [
//!     {"plugin": "../target/plugins/upper.wasm"},
//!     {"plugin": "../target/plugins/count.wasm", "config": {"pattern": "NEEDLE"}}
//!   ]
//! }
//! ```
//!
//! The Rust types below are the format: serde reads it (unknown fields are
//! errors, as are duplicate keys) and schemars derives its JSON Schema
//! ([`schema_text`], `mmhost schema`, committed as `schema/job.schema.json`).
//!
//! Errors start with the job file's path and the JSON path of the value they
//! are about (`job.json: steps[1].plugin: file not found: plugins/uppr.wasm`);
//! where the parser knows it, the line and column come first, as compilers
//! print them (`job.json:4:21: steps[0].args[1]: invalid type: ...`). The
//! structure of the file is a job error (exit code 2); a file it names that
//! is missing or unusable keeps the exit code of its kind: 3 for an input, 4
//! for a plugin. Resolving a job opens nothing for writing: an invalid job
//! changes no file.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use super::units::{format_duration, parse_duration, parse_size};
use super::{base_dir, Job, Step};
use crate::commit::Target;
use crate::error::{describe_io, Error, ErrorKind, Result};
use crate::escape::Quoted;
use crate::runtime::{default_jobs, LogLevel, RunOptions};

/// The default cap on a step's linear memory: 256 MiB.
pub const DEFAULT_MAX_MEMORY: u64 = 256 << 20;

/// A job: plugins run one after another over the same files.
///
/// Relative paths (inputs, plugins, outputs) are relative to the directory of
/// the job file. Unknown fields are errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a job: an object with \"inputs\" and \"steps\""
)]
#[schemars(title = "mmhost job")]
pub struct JobFile {
    /// The JSON Schema of this format, for editors (mmhost ignores it):
    /// `schema/job.schema.json` in the mmhost repository.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The input files, in region order: paths, or glob patterns (`*`, `?`,
    /// `[abc]`, `**` for any depth) whose matches are taken in sorted order.
    /// A pattern must match at least one file; directories it matches are
    /// skipped. To name a file whose name contains `*`, `?` or `[`, write the
    /// character in brackets: `[*]`, `[?]`, `[[]`.
    /// Required unless `inputs_from` is given.
    #[serde(default)]
    #[schemars(length(min = 1), inner(length(min = 1)))]
    pub inputs: Vec<String>,
    /// A file listing more input files, one path a line (relative to the job
    /// file, as are the paths it lists), taken after `inputs` in the list's
    /// order. For lists too long for a command line or a job file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub inputs_from: Option<PathBuf>,
    /// Where the steps' writes go; by default nowhere (read-only).
    #[serde(default, skip_serializing_if = "is_default")]
    pub write: Write,
    /// Run with writes enabled, but commit nothing: report how many bytes
    /// would change in which files.
    #[serde(default, skip_serializing_if = "is_default")]
    pub dry_run: bool,
    /// Limits for the whole job: `max_memory` is each step's cap unless the
    /// step sets its own; `timeout` bounds all the steps together.
    #[serde(default, skip_serializing_if = "is_default")]
    pub limits: Limits,
    /// The plugins to run, in order, over the same region: each step sees
    /// the writes of the steps before it. The writes are committed once,
    /// after the last step, or not at all if any step fails.
    #[schemars(length(min = 1))]
    pub steps: Vec<StepSpec>,
}

/// One plugin run of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "Step")]
#[serde(deny_unknown_fields, expecting = "a step: an object with \"plugin\"")]
pub struct StepSpec {
    /// A label for the report; by default the plugin's file name without
    /// extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The plugin: a component, a core module, or either as `.wat` text; or
    /// the name of a built-in plugin (`mmhost plugins` lists them): a value
    /// with no `/` that does not end in `.wasm` or `.wat`.
    #[schemars(length(min = 1))]
    pub plugin: PathBuf,
    /// The arguments passed to the plugin's `run` (as after `--` on the
    /// command line).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Any JSON value, handed to the plugin as JSON text by the
    /// `config.get` import of `mmhost:plugin@0.1.1` (`null` when absent).
    #[serde(
        default,
        skip_serializing_if = "Value::is_null",
        deserialize_with = "super::strict_json::deserialize"
    )]
    pub config: Value,
    /// Limits of this step; they replace the job's `max_memory`, and its
    /// `timeout` bounds this step alone (the job's still bounds the whole).
    #[serde(default, skip_serializing_if = "is_default")]
    pub limits: Limits,
}

/// Limits of a step or of the whole job.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "limits: an object with \"max_memory\", \"timeout\" and/or \"fuel\""
)]
pub struct Limits {
    /// Cap on the plugin's linear memory; default 256M.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_memory: Option<Size>,
    /// Wall-clock limit; default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Timeout>,
    /// Deterministic cut-off: units of fuel (about one per WebAssembly
    /// instruction) each step may use; default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel: Option<u64>,
    /// How many instances of a plugin that can work chunk by chunk (the
    /// `parallel` world) may run at once, one per thread; default: the
    /// number of cores. 1 runs every plugin serially.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs: Option<std::num::NonZeroU32>,
}

/// Where writes go.
///
/// `"read_only"` (the default), `"in_place"`, `{"output": "FILE"}` or
/// `{"output_dir": "DIR"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Write {
    /// Nowhere: a plugin that writes gets the `read-only` error.
    #[default]
    ReadOnly,
    /// Replace the input files with the plugins' changes, atomically.
    InPlace,
    /// Write the transformed concatenation of the inputs to this file; the
    /// inputs stay untouched.
    Output(PathBuf),
    /// Write each input, transformed, to this directory under its own name.
    OutputDir(PathBuf),
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

impl<'de> Deserialize<'de> for Write {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct WriteVisitor;
        const EXPECTED: &str =
            "\"read_only\", \"in_place\", {\"output\": \"FILE\"} or {\"output_dir\": \"DIR\"}";

        impl<'de> Visitor<'de> for WriteVisitor {
            type Value = Write;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPECTED)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Write, E> {
                match v {
                    "read_only" => Ok(Write::ReadOnly),
                    "in_place" => Ok(Write::InPlace),
                    "output" | "output_dir" => Err(E::custom(format!(
                        "\"{v}\" needs a path: write {{\"{v}\": \"PATH\"}}"
                    ))),
                    _ => Err(E::custom(format!(
                        "unknown write target \"{v}\", expected {EXPECTED}"
                    ))),
                }
            }

            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Write, A::Error> {
                let key: String = map.next_key()?.ok_or_else(|| {
                    de::Error::custom(format!("empty object, expected {EXPECTED}"))
                })?;
                let target = match key.as_str() {
                    "output" => Write::Output(map.next_value()?),
                    "output_dir" => Write::OutputDir(map.next_value()?),
                    "read_only" | "in_place" => {
                        return Err(de::Error::custom(format!(
                            "\"{key}\" is written as a string: \"write\": \"{key}\""
                        )))
                    }
                    _ => {
                        return Err(de::Error::custom(format!(
                            "unknown write target \"{key}\", expected {EXPECTED}"
                        )))
                    }
                };
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "unexpected \"{extra}\": name one write target"
                    )));
                }
                Ok(target)
            }
        }

        d.deserialize_any(WriteVisitor)
    }
}

/// A size in bytes: an integer, or a string with a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u64);

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct SizeVisitor;
        impl Visitor<'_> for SizeVisitor {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size: a number of bytes, or a string such as \"64M\" or \"1G\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Size, E> {
                Ok(Size(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Size, E> {
                parse_size(v).map(Size).map_err(E::custom)
            }
        }
        d.deserialize_any(SizeVisitor)
    }
}

impl JsonSchema for Size {
    fn schema_name() -> Cow<'static, str> {
        "Size".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A size in bytes: an integer, or a string with a unit K, M, G or T (powers of 1024), e.g. \"64M\".",
            "anyOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": "^\\s*[0-9]+([KkMmGgTt]([Ii]?[Bb])?|[Bb])?\\s*$"}
            ]
        })
    }
}

/// A duration: a number of seconds, or a string with a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout(pub Duration);

impl Serialize for Timeout {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for Timeout {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct TimeoutVisitor;
        impl Visitor<'_> for TimeoutVisitor {
            type Value = Timeout;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration: a number of seconds, or a string such as \"500ms\", \"30s\" or \"5m\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Timeout, E> {
                Ok(Timeout(Duration::from_secs(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Timeout, E> {
                super::units::saturating_secs(v)
                    .map(Timeout)
                    .ok_or_else(|| E::custom(format!("not a duration: {v}")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Timeout, E> {
                Err(E::custom(format!("not a duration: {v}")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Timeout, E> {
                parse_duration(v).map(Timeout).map_err(E::custom)
            }
        }
        d.deserialize_any(TimeoutVisitor)
    }
}

impl JsonSchema for Timeout {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration: a number of seconds, or a string with a unit ms, s, m or h, e.g. \"500ms\", \"30s\", \"5m\".",
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": "^\\s*[0-9]*\\.?[0-9]+(ms|s|m|h)?\\s*$"}
            ]
        })
    }
}

/// The JSON Schema of the job format, as `mmhost schema` prints it: pretty
/// JSON (draft 7, which editors support best) ending in a newline.
pub fn schema_text() -> String {
    let schema = schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<JobFile>();
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    text.push('\n');
    text
}

/// What the command line sets over a job file: a flag wins over the file.
#[derive(Debug, Clone)]
pub struct Overrides {
    /// Input files (relative to the current directory), replacing `inputs`.
    pub inputs: Option<Vec<PathBuf>>,
    /// The write target, replacing `write`.
    pub target: Option<Target>,
    /// `--dry-run`: makes the job a dry run.
    pub dry_run: bool,
    /// `--max-memory`: every step's cap, replacing the file's.
    pub max_memory: Option<u64>,
    /// `--timeout`: the job's time limit, replacing the file's (the job's
    /// and the steps').
    pub timeout: Option<Duration>,
    /// Plugin log messages below this level are not shown.
    pub log_level: LogLevel,
    /// `--fuel`: every step's fuel, replacing the file's.
    pub fuel: Option<u64>,
    /// `--jobs`: every step's threads, replacing the file's.
    pub jobs: Option<usize>,
    /// `--chunk-size`: every step's chunk size.
    pub chunk_size: Option<u64>,
}

impl Default for Overrides {
    fn default() -> Self {
        Overrides {
            inputs: None,
            target: None,
            dry_run: false,
            max_memory: None,
            timeout: None,
            log_level: LogLevel::Info,
            fuel: None,
            jobs: None,
            chunk_size: None,
        }
    }
}

impl Overrides {
    /// The options of a run of one plugin with `args` and no job file:
    /// these overrides over the defaults.
    pub fn run_options(&self, args: Vec<String>) -> RunOptions {
        RunOptions {
            args,
            max_memory: self.max_memory.unwrap_or(DEFAULT_MAX_MEMORY),
            timeout: self.timeout,
            fuel: self.fuel,
            log_level: self.log_level,
            jobs: self.jobs.unwrap_or_else(default_jobs),
            chunk_size: self.chunk_size,
            ..RunOptions::default()
        }
    }
}

/// A job error about the value at `json_path` in `file`.
fn at(file: &Path, kind: ErrorKind, json_path: &str, message: impl fmt::Display) -> Error {
    if json_path.is_empty() || json_path == "." {
        return Error::new(kind, format!("{}: {message}", Quoted(file)));
    }
    Error::new(kind, format!("{}: {json_path}: {message}", Quoted(file)))
}

/// A job file resolved as far as it could be ([`JobFile::resolve_all`]).
pub struct Resolved {
    /// The job; without the inputs that failed, and with every step (those
    /// in `bad_steps` name a plugin that is not there).
    pub job: Job,
    /// Every error found, in the order [`JobFile::resolve`] meets them.
    pub errors: Vec<Error>,
    /// The steps whose plugin failed its checks (not worth loading).
    pub bad_steps: Vec<usize>,
}

/// A serde_json error as `FILE:LINE:COLUMN: [PATH: ]message`.
fn json_error(file: &Path, json_path: &str, e: &serde_json::Error) -> Error {
    let text = e.to_string();
    // serde_json appends " at line L column C": we put them in front.
    let message = match text.rfind(" at line ") {
        Some(i) if e.line() > 0 => &text[..i],
        _ => &text,
    };
    let syntax = matches!(
        e.classify(),
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof
    );
    let place = if e.line() > 0 {
        format!("{}:{}:{}", Quoted(file), e.line(), e.column())
    } else {
        Quoted(file).to_string()
    };
    let path = if syntax || json_path.is_empty() || json_path == "." {
        String::new()
    } else {
        format!("{json_path}: ")
    };
    let what = if syntax { "syntax error: " } else { "" };
    Error::new(ErrorKind::Usage, format!("{place}: {path}{what}{message}"))
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The JSON pointer of a JSON path as [`check_objects`] writes them.
fn pointer(json_path: &str) -> String {
    if json_path == "." {
        return String::new();
    }
    let mut p = String::new();
    for part in json_path.split('.') {
        match part.split_once('[') {
            Some((key, index)) => {
                p.push('/');
                p.push_str(key);
                p.push('/');
                p.push_str(index.trim_end_matches(']'));
            }
            None => {
                p.push('/');
                p.push_str(part);
            }
        }
    }
    p
}

/// Finds a job, step or limits written as an array: serde accepts a
/// sequence for a struct. Returns the JSON path and what was expected.
fn check_objects(v: &Value) -> std::result::Result<(), (String, &'static str)> {
    const JOB: &str = "a job: an object with \"inputs\" and \"steps\"";
    const STEP: &str = "a step: an object with \"plugin\"";
    const LIMITS: &str = "limits: an object with \"max_memory\" and/or \"timeout\"";
    let Value::Object(job) = v else {
        return Err((".".to_string(), JOB));
    };
    if let Some(Value::Array(_)) = job.get("limits") {
        return Err(("limits".to_string(), LIMITS));
    }
    if let Some(Value::Array(steps)) = job.get("steps") {
        for (i, step) in steps.iter().enumerate() {
            match step {
                Value::Array(_) => return Err((format!("steps[{i}]"), STEP)),
                Value::Object(step) => {
                    if let Some(Value::Array(_)) = step.get("limits") {
                        return Err((format!("steps[{i}].limits"), LIMITS));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Whether an `inputs` entry is a glob pattern.
fn is_pattern(entry: &str) -> bool {
    entry.contains(['*', '?', '['])
}

fn type_name(meta: &std::fs::Metadata) -> &'static str {
    crate::region::inputs::file_type_name(&meta.file_type())
}

impl JobFile {
    /// Reads and parses the job file at `path` (see [`JobFile::parse`]).
    pub fn read(path: &Path) -> Result<JobFile> {
        let bytes =
            crate::whole_file::read(path, crate::whole_file::MAX_JOB_FILE).map_err(|e| {
                Error::new(
                    ErrorKind::Usage,
                    format!("{}: cannot read the job file: {e}", Quoted(path)),
                )
            })?;
        JobFile::parse(&bytes, path)
    }

    /// Parses a job file's text; `path` is named in errors. Checks the
    /// syntax, the types and the field names (not the files it names: see
    /// [`JobFile::resolve`]).
    pub fn parse(text: &[u8], path: &Path) -> Result<JobFile> {
        // Some editors start UTF-8 files with a byte-order mark.
        let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
        // First as plain JSON: syntax errors, and objects written as arrays,
        // which serde would otherwise take as a struct's fields in order.
        let value: Value = serde_json::from_slice(text).map_err(|e| json_error(path, "", &e))?;
        check_objects(&value).map_err(|(json_path, what)| {
            at(
                path,
                ErrorKind::Usage,
                &json_path,
                format!(
                    "invalid type: {}, expected {what}",
                    json_type(value.pointer(&pointer(&json_path)).unwrap_or(&Value::Null))
                ),
            )
        })?;
        let mut de = serde_json::Deserializer::from_slice(text);
        let file: JobFile = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| json_error(path, &e.path().to_string(), e.inner()))?;
        de.end().map_err(|e| json_error(path, "", &e))?;
        Ok(file)
    }

    /// Validates the job and turns it into a [`Job`], resolving relative
    /// paths against the directory of `job_file`, expanding glob patterns,
    /// and applying the command line's `overrides`.
    ///
    /// Checks, before anything runs: that there are steps and inputs, that
    /// every input exists and is a regular file, that every pattern matches,
    /// that no file is named twice where that is refused (in place: the same
    /// file; output directory: the same name), and that every plugin file
    /// exists. Whether each plugin is a loadable component of the world is
    /// checked by [`Job::load_plugins`].
    pub fn resolve(&self, job_file: &Path, overrides: &Overrides) -> Result<Job> {
        let mut resolved = self.resolve_all(job_file, overrides);
        if resolved.errors.is_empty() {
            Ok(resolved.job)
        } else {
            Err(resolved.errors.remove(0))
        }
    }

    /// As [`JobFile::resolve`], but going on past errors, so that `mmhost
    /// check` can report every one in one pass: the job as far as it could
    /// be resolved (inputs that failed left out), and every error, in the
    /// order `resolve` meets them (the first is `resolve`'s error).
    pub fn resolve_all(&self, job_file: &Path, overrides: &Overrides) -> Resolved {
        let mut errors = Vec::new();
        let mut bad_steps = Vec::new();
        let base = base_dir(job_file);
        let resolve = |p: &Path| -> PathBuf {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        let err = |kind, json_path: &str, message: String| at(job_file, kind, json_path, message);
        if self.steps.is_empty() {
            errors.push(err(
                ErrorKind::Usage,
                "steps",
                "a job needs at least one step, e.g. [{\"plugin\": \"upper.wasm\"}]".into(),
            ));
        }
        if self.inputs.is_empty() && self.inputs_from.is_none() && overrides.inputs.is_none() {
            errors.push(err(
                ErrorKind::Usage,
                "inputs",
                "a job needs at least one input: a path or a glob pattern (or \"inputs_from\": \"LIST\")".into(),
            ));
        }

        let target = match &overrides.target {
            Some(t) => t.clone(),
            None => match &self.write {
                Write::ReadOnly => Target::ReadOnly,
                Write::InPlace => Target::InPlace,
                Write::Output(p) | Write::OutputDir(p) if p.as_os_str().is_empty() => {
                    let key = if matches!(self.write, Write::Output(_)) {
                        "write.output"
                    } else {
                        "write.output_dir"
                    };
                    errors.push(err(ErrorKind::Usage, key, "empty path".into()));
                    Target::ReadOnly
                }
                Write::Output(p) => Target::Output(resolve(p)),
                Write::OutputDir(p) => Target::OutputDir(resolve(p)),
            },
        };
        let dry_run = self.dry_run || overrides.dry_run;

        let inputs = match &overrides.inputs {
            Some(paths) => paths.clone(),
            None => {
                let mut inputs = self
                    .expand_inputs(job_file, &base, &target, dry_run)
                    .unwrap_or_else(|e| {
                        errors.extend(e);
                        Vec::new()
                    });
                if let Some(list) = &self.inputs_from {
                    match crate::filelist::read(
                        &resolve(list),
                        crate::filelist::Separator::Newline,
                        &base,
                    ) {
                        Ok(listed) => inputs.extend(listed),
                        Err(e) => errors
                            .push(e.prefixed(format!("{}: inputs_from: ", job_file.display()))),
                    }
                }
                inputs
            }
        };

        let mut steps = Vec::with_capacity(self.steps.len());
        for (i, spec) in self.steps.iter().enumerate() {
            let json_path = format!("steps[{i}].plugin");
            let mut bad = |e: Error| {
                errors.push(e);
                bad_steps.push(i);
            };
            if spec.plugin.as_os_str().is_empty() {
                bad(err(ErrorKind::Usage, &json_path, "empty path".into()));
            } else if crate::builtins::is_name(&spec.plugin) {
                if let Err(e) = crate::builtins::module(&spec.plugin) {
                    bad(err(
                        ErrorKind::PluginLoad,
                        &json_path,
                        e.message().to_string(),
                    ));
                }
            }
            let plugin = if crate::builtins::is_name(&spec.plugin) {
                spec.plugin.clone()
            } else {
                resolve(&spec.plugin)
            };
            match std::fs::metadata(&plugin) {
                _ if spec.plugin.as_os_str().is_empty() || crate::builtins::is_name(&plugin) => {}
                Ok(m) if m.is_dir() => bad(err(
                    ErrorKind::PluginLoad,
                    &json_path,
                    format!("is a directory: {}", Quoted(&plugin)),
                )),
                Ok(m) if !m.is_file() => bad(err(
                    ErrorKind::PluginLoad,
                    &json_path,
                    format!("{}: {}", plugin.display(), type_name(&m)),
                )),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => bad(err(
                    ErrorKind::PluginLoad,
                    &json_path,
                    format!("file not found: {}", Quoted(&plugin)),
                )),
                Err(e) => bad(err(
                    ErrorKind::PluginLoad,
                    &json_path,
                    format!("{}: {}", Quoted(&plugin), describe_io(&e)),
                )),
            }
            let max_memory = overrides
                .max_memory
                .or(spec.limits.max_memory.map(|s| s.0))
                .or(self.limits.max_memory.map(|s| s.0))
                .unwrap_or(DEFAULT_MAX_MEMORY);
            let timeout = match overrides.timeout {
                Some(_) => None,
                None => spec.limits.timeout.map(|t| t.0),
            };
            steps.push(Step {
                plugin,
                name: spec.name.clone(),
                run: RunOptions {
                    args: spec.args.clone(),
                    max_memory,
                    timeout,
                    log_level: overrides.log_level,
                    config: spec.config.clone(),
                    fuel: overrides.fuel.or(spec.limits.fuel).or(self.limits.fuel),
                    jobs: overrides.jobs.unwrap_or_else(|| {
                        spec.limits
                            .jobs
                            .or(self.limits.jobs)
                            .map_or_else(default_jobs, |j| j.get() as usize)
                    }),
                    chunk_size: overrides.chunk_size,
                    ..RunOptions::default()
                },
            });
        }

        let job = Job {
            steps,
            inputs,
            target,
            dry_run,
            timeout: overrides.timeout.or(self.limits.timeout.map(|t| t.0)),
            source: Some(job_file.to_path_buf()),
        };
        Resolved {
            job,
            errors,
            bad_steps,
        }
    }

    /// The input files: entries resolved against `base`, patterns expanded
    /// (sorted), each checked to be a regular file, duplicates refused where
    /// `target` cannot take them.
    fn expand_inputs(
        &self,
        job_file: &Path,
        base: &Path,
        target: &Target,
        dry_run: bool,
    ) -> std::result::Result<Vec<PathBuf>, Vec<Error>> {
        let mut errors = Vec::new();
        let err =
            |kind, i: usize, message: String| at(job_file, kind, &format!("inputs[{i}]"), message);
        // (path, entry it came from, its metadata)
        let mut files: Vec<(PathBuf, usize, std::fs::Metadata)> = Vec::new();
        'entries: for (i, entry) in self.inputs.iter().enumerate() {
            if entry.is_empty() {
                errors.push(err(ErrorKind::Usage, i, "empty path".into()));
                continue;
            }
            if !is_pattern(entry) {
                let path = if Path::new(entry).is_absolute() {
                    PathBuf::from(entry)
                } else {
                    base.join(entry)
                };
                let meta = match std::fs::metadata(&path) {
                    Ok(meta) => meta,
                    Err(e) => {
                        let why = if e.kind() == std::io::ErrorKind::NotFound {
                            format!("file not found: {}", Quoted(&path))
                        } else {
                            format!("{}: {}", Quoted(&path), describe_io(&e))
                        };
                        errors.push(err(ErrorKind::Input, i, why));
                        continue;
                    }
                };
                if !meta.is_file() {
                    errors.push(err(
                        ErrorKind::Input,
                        i,
                        format!("{}: {}", Quoted(&path), type_name(&meta)),
                    ));
                    continue;
                }
                files.push((path, i, meta));
                continue;
            }
            let pattern = if Path::new(entry).is_absolute() || base.as_os_str().is_empty() {
                entry.clone()
            } else {
                let base = glob::Pattern::escape(&base.to_string_lossy());
                format!("{}/{entry}", base.trim_end_matches('/'))
            };
            let paths = match super::glob_walk::expand(&pattern).map_err(|e| match e {
                super::glob_walk::WalkError::Pattern(msg) => err(
                    ErrorKind::Usage,
                    i,
                    format!("invalid glob pattern `{entry}`: {msg}"),
                ),
                super::glob_walk::WalkError::Io(path, e) => err(
                    ErrorKind::Input,
                    i,
                    format!("{}: {}", path.display(), describe_io(&e)),
                ),
            }) {
                Ok(paths) => paths,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let mut matched = Vec::new();
            for p in paths {
                let meta = match std::fs::metadata(&p) {
                    Ok(meta) => meta,
                    Err(e) => {
                        errors.push(err(
                            ErrorKind::Input,
                            i,
                            format!("{}: {}", Quoted(&p), describe_io(&e)),
                        ));
                        continue 'entries;
                    }
                };
                if meta.is_dir() {
                    continue;
                }
                if !meta.is_file() {
                    errors.push(err(
                        ErrorKind::Input,
                        i,
                        format!("{}: {}", Quoted(&p), type_name(&meta)),
                    ));
                    continue 'entries;
                }
                matched.push((p, meta));
            }
            if matched.is_empty() {
                let where_ = if base.as_os_str().is_empty() {
                    String::new()
                } else {
                    format!(" (in {})", Quoted(base))
                };
                errors.push(err(
                    ErrorKind::Input,
                    i,
                    format!("pattern matched no file: {entry}{where_}"),
                ));
                continue;
            }
            matched.sort_by(|a, b| a.0.cmp(&b.0));
            files.extend(matched.into_iter().map(|(p, m)| (p, i, m)));
        }

        match target {
            // As `open_inputs`: the same file twice cannot be replaced twice.
            Target::InPlace if !dry_run => {
                let mut seen: HashMap<(u64, u64), usize> = HashMap::new();
                for (k, (path, i, meta)) in files.iter().enumerate() {
                    if let Some(&first) = seen.get(&(meta.dev(), meta.ino())) {
                        let (first_path, _, _) = &files[first];
                        errors.push(err(
                            ErrorKind::Input,
                            *i,
                            crate::region::inputs::named_twice(path, first_path),
                        ));
                        continue;
                    }
                    seen.insert((meta.dev(), meta.ino()), k);
                }
            }
            // As `commit::prepare`: two inputs cannot have one output name.
            Target::OutputDir(dir) => {
                let mut seen: HashMap<&std::ffi::OsStr, usize> = HashMap::new();
                for (k, (path, i, _)) in files.iter().enumerate() {
                    let Some(name) = path.file_name() else {
                        continue;
                    };
                    if let Some(&first) = seen.get(name) {
                        let (first_path, first_entry, _) = &files[first];
                        errors.push(err(
                            ErrorKind::Input,
                            *i,
                            format!(
                                "{} has the same name as {} (inputs[{first_entry}]); both would \
                                 be written to {}",
                                Quoted(path),
                                Quoted(first_path),
                                Quoted(&dir.join(name))
                            ),
                        ));
                        continue;
                    }
                    seen.insert(name, k);
                }
            }
            _ => {}
        }
        if errors.is_empty() {
            Ok(files.into_iter().map(|(p, _, _)| p).collect())
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<JobFile> {
        JobFile::parse(text.as_bytes(), Path::new("job.json"))
    }

    /// A job with every field set to something other than its default.
    fn every_field() -> JobFile {
        JobFile {
            schema: Some("../schema/job.schema.json".into()),
            inputs: vec!["a.txt".into(), "logs/**/*.log".into(), "/abs/b.bin".into()],
            inputs_from: Some("list.txt".into()),
            write: Write::OutputDir("out".into()),
            dry_run: true,
            limits: Limits {
                max_memory: Some(Size(64 << 20)),
                timeout: Some(Timeout(Duration::from_secs(30))),
                fuel: Some(1 << 40),
                jobs: std::num::NonZeroU32::new(2),
            },
            steps: vec![
                StepSpec {
                    name: Some("shout".into()),
                    plugin: "plugins/upper.wasm".into(),
                    args: vec!["-x".into(), "".into(), "é \"q\"".into()],
                    config: serde_json::json!({
                        "z": 1, "a": [1.5, null, true, "s"], "nested": {"k": -3}
                    }),
                    limits: Limits {
                        max_memory: Some(Size(1000)),
                        timeout: Some(Timeout(Duration::from_millis(1500))),
                        fuel: None,
                        jobs: std::num::NonZeroU32::new(1),
                    },
                },
                StepSpec {
                    name: None,
                    plugin: "count.wasm".into(),
                    args: vec![],
                    config: Value::String("just text".into()),
                    limits: Limits::default(),
                },
            ],
        }
    }

    #[test]
    fn every_field_round_trips() {
        let job = every_field();
        let text = serde_json::to_string_pretty(&job).unwrap();
        assert_eq!(parse(&text).unwrap(), job, "{text}");
        // Each write target, and the defaults (omitted when serialized).
        for write in [
            Write::ReadOnly,
            Write::InPlace,
            Write::Output("o.txt".into()),
        ] {
            let job = JobFile {
                write,
                dry_run: false,
                limits: Limits::default(),
                schema: None,
                ..every_field()
            };
            let text = serde_json::to_string(&job).unwrap();
            assert_eq!(parse(&text).unwrap(), job, "{text}");
        }
        let minimal = r#"{"inputs":["a"],"steps":[{"plugin":"p.wasm"}]}"#;
        let job = parse(minimal).unwrap();
        assert_eq!(job.write, Write::ReadOnly);
        assert!(!job.dry_run);
        assert_eq!(job.steps[0].config, Value::Null);
        assert_eq!(serde_json::to_string(&job).unwrap(), minimal);
    }

    #[test]
    fn config_keeps_key_order_and_values() {
        let job = parse(
            r#"{"inputs":["a"],"steps":[{"plugin":"p","config":{"z":1,"a":{"y":[],"b":"\u00e9\n"},"n":-1.25e3}}]}"#,
        )
        .unwrap();
        assert_eq!(
            job.steps[0].config.to_string(),
            r#"{"z":1,"a":{"y":[],"b":"é\n"},"n":-1250.0}"#
        );
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let job = parse("\u{feff}{\"inputs\":[\"a\"],\"steps\":[{\"plugin\":\"p\"}]}").unwrap();
        assert_eq!(job.inputs, ["a"]);
    }

    #[test]
    fn sizes_and_durations_in_either_form() {
        let job = parse(
            r#"{"inputs":["a"],"limits":{"max_memory":1048576,"timeout":2.5},
                "steps":[{"plugin":"p","limits":{"max_memory":"1M","timeout":"2500ms"}}]}"#,
        )
        .unwrap();
        assert_eq!(job.limits, job.steps[0].limits);
    }

    #[track_caller]
    fn fails(text: &str, want: &str) {
        let e = parse(text).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage);
        assert_eq!(e.message(), want);
    }

    #[test]
    fn errors_name_the_json_path_and_the_place() {
        fails(
            "{\"inputs\": [\"a\"],\n \"steps\": [{\"plugin\": \"p\",}]}",
            "job.json:2:27: syntax error: trailing comma",
        );
        fails(
            r#"{"inputs":["a"],"steps":[{"plugin":"p","confg":{}}]}"#,
            "job.json:1:46: steps[0].confg: unknown field `confg`, expected one of `name`, \
             `plugin`, `args`, `config`, `limits`",
        );
        fails(
            r#"{"inputs":["a"],"steps":[{"plugin":"p","args":["x",5]}]}"#,
            "job.json:1:52: steps[0].args[1]: invalid type: integer `5`, expected a string",
        );
        fails(
            r#"{"inputs":["a"],"steps":[{"plugin":"p"}],"limits":{"timeout":"5 parsecs"}}"#,
            "job.json:1:72: limits.timeout: unknown unit in `5 parsecs` (use ms, s, m or h)",
        );
        fails(
            r#"{"inputs":["a"],"write":"output","steps":[{"plugin":"p"}]}"#,
            "job.json:1:32: write: \"output\" needs a path: write {\"output\": \"PATH\"}",
        );
        fails(
            r#"{"inputs":["a"],"write":{"output":"o","output_dir":"d"},"steps":[{"plugin":"p"}]}"#,
            "job.json:1:50: write: unexpected \"output_dir\": name one write target",
        );
        fails(
            r#"{"inputs":["a"],"steps":[["p"]]}"#,
            "job.json: steps[0]: invalid type: array, expected a step: an object with \"plugin\"",
        );
        // No inputs at all is refused when the job is resolved (they may
        // come from "inputs_from" or the command line).
        let e = parse(r#"{"steps":[{"plugin":"p"}]}"#)
            .unwrap()
            .resolve(Path::new("job.json"), &Overrides::default())
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage);
        assert!(
            e.message()
                .starts_with("job.json: inputs: a job needs at least one input"),
            "{e}"
        );
        fails("", "job.json:1:0: syntax error: EOF while parsing a value");
    }

    #[test]
    fn duplicate_keys_in_config_are_errors_as_elsewhere() {
        fails(
            r#"{"inputs":["a"],"steps":[{"plugin":"p","config":{"a":1,"b":2,"a":3}}]}"#,
            "job.json:1:64: steps[0].config: duplicate key `a`",
        );
        fails(
            r#"{"inputs":["a"],"steps":[{"plugin":"p","config":{"x":[{"k":1,"k":1}]}}]}"#,
            "job.json:1:64: steps[0].config.x[0]: duplicate key `k`",
        );
        fails(
            r#"{"inputs":["a"],"inputs":["b"],"steps":[{"plugin":"p"}]}"#,
            "job.json:1:24: duplicate field `inputs`",
        );
        // The same key in different objects is fine.
        let job = parse(
            r#"{"inputs":["a"],"steps":[{"plugin":"p","config":{"a":{"a":1},"b":[{"a":2},{"a":3}]}}]}"#,
        )
        .unwrap();
        assert_eq!(job.steps[0].config["b"][1]["a"], 3);
    }

    #[test]
    fn schema_is_valid_json_naming_every_field() {
        let schema: Value = serde_json::from_str(&schema_text()).unwrap();
        let props = schema["properties"].as_object().unwrap();
        let keys: Vec<&str> = props.keys().map(|k| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "$schema",
                "inputs",
                "inputs_from",
                "write",
                "dry_run",
                "limits",
                "steps"
            ]
        );
        assert_eq!(schema["additionalProperties"], false);
        let step = &schema["definitions"]["Step"];
        assert_eq!(step["additionalProperties"], false);
        assert_eq!(step["required"], serde_json::json!(["plugin"]));
    }
}
