//! Errors of mmhost, and the exit code each one maps to.
//!
//! Errors are part of the interface: every failure a user can cause names the
//! thing it is about (a file, an offset, a plugin) in its first line, and falls
//! into one [`ErrorKind`], which fixes the process exit code. The codes are
//! documented in the README and in `mmhost --help`; scripts may rely on them.
//!
//! File names in messages are quoted as `ls --quoting-style=shell-escape`
//! does ([`crate::escape::quote`]), so that a name cannot smuggle terminal
//! escapes or a forged line into a message.
//!
//! The library uses this one error type at its boundaries (opening inputs,
//! loading and running plugins, committing writes) so that `main.rs` only has
//! to print it and exit with [`Error::exit_code`].

use std::fmt;
use std::path::Path;

use crate::escape::Quoted;

/// What class of failure an [`Error`] is; fixes the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The plugin ran and returned `err`. Exit code 1.
    PluginFailed,
    /// The command line was wrong. Exit code 2 (as clap's own usage errors).
    Usage,
    /// An input file could not be used: missing, not a regular file,
    /// unreadable, named twice, locked, shrunk since it was opened. Exit code
    /// 3, which is also the code of the `SIGBUS` handler for a file truncated
    /// while mapped ([`crate::sigbus`]).
    Input,
    /// The plugin could not be loaded: not wasm, not a component of the
    /// `transform` world, imports the host does not provide. Exit code 4.
    PluginLoad,
    /// The plugin trapped, ran out of a limit (memory, time, fuel, result
    /// text size) or misbehaved at run time. Exit code 5.
    PluginTrap,
    /// The result could not be written: a staged copy, the output file, the
    /// commit. Nothing was changed. Exit code 6.
    Output,
    /// The host could not set up its WebAssembly engine (the system refused
    /// the memory or a CPU feature the compiler needs): no plugin was
    /// loaded or run, and the plugin is not at fault. Exit code 7.
    Engine,
}

impl ErrorKind {
    /// The process exit code for this kind of failure.
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::PluginFailed => 1,
            ErrorKind::Usage => 2,
            ErrorKind::Input => 3,
            ErrorKind::PluginLoad => 4,
            ErrorKind::PluginTrap => 5,
            ErrorKind::Output => 6,
            ErrorKind::Engine => 7,
        }
    }
}

/// The exit code of a process killed by `SIGPIPE` (128 + 13), which `mmhost`
/// exits with, quietly, when the reader of its output went away (`| head`).
pub const BROKEN_PIPE_EXIT: i32 = 141;

/// The process exit code for the outcome of a command: 0 for success,
/// [`BROKEN_PIPE_EXIT`] for a write to a closed pipe, else the code of the
/// error's kind ([`ErrorKind::exit_code`]). The one place the `mmhost`
/// command decides its exit code.
pub fn exit_code_of<T>(result: &std::result::Result<T, Error>) -> i32 {
    match result {
        Ok(_) => 0,
        Err(e) if e.is_broken_pipe() => BROKEN_PIPE_EXIT,
        Err(e) => e.exit_code(),
    }
}

/// Which limit of a run stopped a plugin, for an error of kind
/// [`ErrorKind::PluginTrap`] that a limit caused: callers match this rather
/// than the message's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// The run's time (`--timeout`, or a job's time budget) ran out.
    Timeout,
    /// The run's fuel (`--fuel`) ran out.
    Fuel,
}

/// An mmhost error: a kind, a one-line message, and optional details (such as
/// a wasm backtrace) printed after the message.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    details: Option<String>,
    broken_pipe: bool,
    limit: Option<Limit>,
}

/// Result with mmhost's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with a one-line `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            details: None,
            broken_pipe: false,
            limit: None,
        }
    }

    /// An input-file error: `PATH: reason`.
    pub fn input(path: &Path, reason: impl fmt::Display) -> Self {
        Error::new(ErrorKind::Input, format!("{}: {reason}", Quoted(path)))
    }

    /// A failed write to standard output: `writing to stdout: reason`,
    /// marked as a broken pipe when the reader went away (see
    /// [`Error::is_broken_pipe`]). Every command that prints uses this one.
    pub fn stdout(e: std::io::Error) -> Self {
        Error::new(
            ErrorKind::Output,
            format!("writing to stdout: {}", describe_io(&e)),
        )
        .with_io_kind(e.kind())
    }

    /// An output error: `PATH: reason`.
    pub fn output(path: &Path, reason: impl fmt::Display) -> Self {
        Error::new(ErrorKind::Output, format!("{}: {reason}", Quoted(path)))
    }

    /// A plugin that could not be loaded: `plugin PATH: reason`.
    pub fn plugin_load(path: &Path, reason: impl fmt::Display) -> Self {
        Error::new(
            ErrorKind::PluginLoad,
            format!("plugin {}: {reason}", Quoted(path)),
        )
    }

    /// Attaches details shown after the first line (a backtrace, a cause chain).
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        let details = details.into();
        if !details.trim().is_empty() {
            self.details = Some(details);
        }
        self
    }

    /// Puts `prefix` before the message (`"steps[1]: "`, `"job.json: "`),
    /// keeping the kind and the details.
    pub fn prefixed(mut self, prefix: impl fmt::Display) -> Self {
        self.message = format!("{prefix}{}", self.message);
        self
    }

    /// Marks an output error caused by a closed pipe (the reader went away),
    /// which a command-line tool reports by exiting quietly.
    pub fn with_io_kind(mut self, kind: std::io::ErrorKind) -> Self {
        self.broken_pipe = kind == std::io::ErrorKind::BrokenPipe;
        self
    }

    /// Records which limit stopped the plugin.
    pub fn with_limit(mut self, limit: Limit) -> Self {
        self.limit = Some(limit);
        self
    }

    /// The limit that stopped the plugin, if a limit did.
    pub fn limit(&self) -> Option<Limit> {
        self.limit
    }

    /// Whether the error is a write to a closed pipe.
    pub fn is_broken_pipe(&self) -> bool {
        self.broken_pipe
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The one-line message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Details printed after the message, if any.
    pub fn details(&self) -> Option<&str> {
        self.details.as_deref()
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        self.kind.exit_code()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(details) = &self.details {
            write!(f, "\n{}", details.trim_end())?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// A short, lower-case description of an I/O error for `PATH: reason` lines.
pub(crate) fn describe_io(err: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match err.kind() {
        K::NotFound => "no such file or directory".to_string(),
        K::PermissionDenied => "permission denied".to_string(),
        K::IsADirectory => "is a directory".to_string(),
        _ => {
            // Strip Rust's " (os error N)" suffix: the text is enough.
            let text = err.to_string();
            match text.find(" (os error") {
                Some(i) => text[..i].to_string(),
                None => text,
            }
        }
    }
}

#[cfg(test)]
mod exit_code_tests {
    use super::*;

    #[test]
    fn success_a_closed_pipe_and_each_kind() {
        assert_eq!(exit_code_of(&Ok::<(), Error>(())), 0);
        let pipe = Error::stdout(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert_eq!(exit_code_of(&Err::<(), _>(pipe)), 141);
        let full = Error::stdout(std::io::Error::from(std::io::ErrorKind::StorageFull));
        assert_eq!(exit_code_of(&Err::<(), _>(full)), 6);
        let usage = Error::new(ErrorKind::Usage, "bad");
        assert_eq!(exit_code_of(&Err::<(), _>(usage)), 2);
    }
}
