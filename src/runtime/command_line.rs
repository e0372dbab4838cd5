//! The runtime as a command line sets it up: the log level from `-v`/`-q`
//! counts and an engine with or without the compilation cache. Here so that
//! `mmhost`'s commands and other front ends agree on both.

use super::{LogLevel, Runtime, RuntimeOptions};
use crate::error::Result;

impl LogLevel {
    /// The level `verbose` `-v` flags and `quiet` `-q` flags ask for: `Info`
    /// without either, `Debug` for `-v`, `Trace` for `-vv` or more, `Warn`
    /// for `-q`, `Error` for `-qq` or more.
    pub fn from_flags(verbose: u8, quiet: u8) -> LogLevel {
        match (verbose, quiet) {
            (0, 0) => LogLevel::Info,
            (1, _) => LogLevel::Debug,
            (v, _) if v >= 2 => LogLevel::Trace,
            (_, 1) => LogLevel::Warn,
            _ => LogLevel::Error,
        }
    }
}

impl Runtime {
    /// An engine for a command at `level`: with the default compilation
    /// cache unless `no_cache`, printing a notice while it compiles a
    /// plugin when `level` shows informational messages.
    ///
    /// # Errors
    /// An engine error when the engine cannot be set up.
    pub fn for_command(no_cache: bool, level: LogLevel) -> Result<Runtime> {
        Runtime::for_run(no_cache, level, None)
    }

    /// As [`Runtime::for_command`], for `mmhost run`: with `coredump`, a
    /// plugin that traps leaves a WebAssembly core dump in that file.
    ///
    /// # Errors
    /// An engine error when the engine cannot be set up.
    pub fn for_run(
        no_cache: bool,
        level: LogLevel,
        coredump: Option<std::path::PathBuf>,
    ) -> Result<Runtime> {
        Runtime::new(&RuntimeOptions {
            compile_notice: level >= LogLevel::Info,
            coredump,
            ..if no_cache {
                RuntimeOptions::default()
            } else {
                RuntimeOptions::with_default_cache()
            }
        })
    }
}
