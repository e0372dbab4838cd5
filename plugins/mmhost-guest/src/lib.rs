//! Guest-side library for writing mmhost plugins in Rust.
//!
//! mmhost maps any number of input files, in order, into one *region* and runs
//! sandboxed WebAssembly component plugins over it. A plugin sees the region
//! only through the `mmhost:plugin/transform` world (`wit/mmhost.wit` at the
//! root of the repository): it has no file system, network, environment or
//! clock. This crate generates the bindings for that world once and wraps
//! them in a small, idiomatic API:
//!
//! * [`region`]: the size, segments and bytes of the region, with a typed
//!   [`RegionError`], a chunk iterator ([`region::chunks`]) and an in-place
//!   read-modify-write helper ([`region::transform_chunks`]);
//! * [`emit`]: append bytes to the plugin's output stream (stdout);
//! * [`config`]: the step's configuration from a job file, as JSON text (and,
//!   with the `json` feature, [`config_as`] to parse it into a type);
//! * [`log`]: messages on the host's stderr, filtered by `-v`/`-q`;
//! * [`progress`] and [`Progress`]: progress reports for long runs;
//! * [`partial`]: a compact encoding of numbers in parallel plugins' partial
//!   results.
//!
//! # Parallel plugins
//!
//! A plugin whose work splits into independent ranges can let mmhost run it
//! on every core: override [`Plugin::plan`] to return `Ok(Some(halo))`, do one
//! chunk's work in [`Plugin::run_chunk`] (reads within `halo` bytes of the
//! chunk, writes only inside it) and combine the chunks' partial results in
//! [`Plugin::reduce`]. Its serial [`Plugin::run`] must give the same result;
//! mmhost uses it for one job, fuel-metered runs and small regions. See the
//! reference plugins `upper` and `count`.
//!
//! # Writing a plugin
//!
//! A plugin is a `cdylib` crate built for `wasm32-unknown-unknown`. It
//! implements [`Plugin`] for a type and exports that type with [`export!`]:
//!
//! ```ignore
//! use mmhost_guest::{region, Plugin};
//!
//! struct Size;
//!
//! impl Plugin for Size {
//!     fn run(_args: Vec<String>) -> Result<String, String> {
//!         Ok(region::size().to_string())
//!     }
//! }
//!
//! mmhost_guest::export!(Size);
//! ```
//!
//! `Ok` text is printed on stdout after any emitted bytes, `Err` text on stderr
//! (and mmhost exits with code 1). A panic traps the plugin; its message is
//! logged at error level first.
//!
//! # Rules
//!
//! * No WASI: `std::fs`, `std::env`, `std::io::stdout`, clocks and threads do
//!   not exist (on `wasm32-unknown-unknown` they fail, panic or do nothing). Use
//!   [`emit`] and [`log`] instead of printing.
//! * Offsets are 64-bit and global to the region; a negative offset counts
//!   from the end (-1 is the last byte).
//! * A single read may be at most [`region::MAX_READ`] bytes (64 MiB) and
//!   there are no short reads: read big regions in chunks
//!   ([`region::DEFAULT_CHUNK`] = 1 MiB is a good size).
//! * Writes never change the size of the region and need `--in-place` or
//!   `--output`; otherwise they fail with [`RegionError::ReadOnly`].

#![warn(missing_docs)]

/// The bindings that `wit-bindgen` generates for the `parallel` world (the
/// `transform` world plus the optional `chunked` export, which a [`Plugin`]
/// that does not override its chunk methods declines at run time).
///
/// Plugins normally use the wrappers of this crate instead; the module is
/// public because the [`export!`] macro refers to it.
#[doc(hidden)]
#[allow(missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "parallel",
        path: "../../wit",
        pub_export_macro: true,
        default_bindings_module: "mmhost_guest::bindings",
    });
}

mod config;
mod error;
pub mod log;
pub mod partial;
mod progress;
pub mod region;

pub use config::config;
#[cfg(feature = "json")]
pub use config::{config_as, config_or_default, ConfigError};
pub use error::RegionError;
pub use progress::Progress;

/// Exports a type that implements [`Plugin`] as the plugin's `run` function
/// (with the component type information the host needs to wrap the module).
///
/// Invoke it once, at the top level of the plugin crate:
///
/// ```ignore
/// struct MyPlugin;
/// impl mmhost_guest::Plugin for MyPlugin {
///     fn run(args: Vec<String>) -> Result<String, String> {
///         Ok(format!("{} arguments", args.len()))
///     }
/// }
/// mmhost_guest::export!(MyPlugin);
/// ```
#[macro_export]
macro_rules! export {
    ($ty:ident) => {
        $crate::bindings::export!($ty with_types_in $crate::bindings);
    };
}

/// A plugin: the code that runs when mmhost calls the exported `run`.
///
/// Implement it for a (usually empty) type and pass that type to [`export!`].
pub trait Plugin {
    /// Runs the plugin with its arguments: those the user gave after `--`,
    /// or the step's `args` in a job file (its `config` is [`config()`]).
    ///
    /// `Ok` text is printed on stdout after any bytes given to [`emit`] (with
    /// a newline added if it lacks one; nothing for an empty string). `Err`
    /// text is printed on stderr and mmhost exits with code 1; nothing a
    /// failed run wrote is committed, whatever the write target (writes are
    /// all or nothing).
    fn run(args: Vec<String>) -> Result<String, String>;

    /// Whether this run may be split into chunks, and how far beyond its
    /// chunk each chunk must be able to read (its *halo*, at most 1 MiB: for
    /// a search, the pattern's length minus one). The default, `Ok(None)`,
    /// always runs [`Plugin::run`] serially.
    fn plan(args: Vec<String>) -> Result<Option<u64>, String> {
        let _ = args;
        Ok(None)
    }

    /// Does the work of one chunk: reads inside `chunk.start - chunk.halo ..
    /// chunk.end + chunk.halo`, writes inside `chunk.start..chunk.end`, and
    /// returns a partial result (at most 1 MiB) for [`Plugin::reduce`]. Only
    /// called after [`Plugin::plan`] returned `Some`.
    fn run_chunk(args: Vec<String>, chunk: Chunk) -> Result<Vec<u8>, String> {
        let _ = (args, chunk);
        Err("this plugin does not work in chunks".to_string())
    }

    /// Combines the partial results of every chunk, in chunk order, into the
    /// run's result: the same text [`Plugin::run`] would return. The whole
    /// region is readable again.
    fn reduce(args: Vec<String>, partials: Vec<Vec<u8>>) -> Result<String, String> {
        let _ = (args, partials);
        Err("this plugin does not work in chunks".to_string())
    }
}

/// One chunk of a parallel run: its `index` among `count` chunks, its global
/// range `start..end` and the `halo` it may read beyond each side.
pub use bindings::exports::mmhost::plugin::chunked::Chunk;

impl<T: Plugin> bindings::Guest for T {
    fn run(args: Vec<String>) -> Result<String, String> {
        install_panic_hook();
        <T as Plugin>::run(args)
    }
}

impl<T: Plugin> bindings::exports::mmhost::plugin::chunked::Guest for T {
    fn plan(args: Vec<String>) -> Result<Option<u64>, String> {
        install_panic_hook();
        <T as Plugin>::plan(args)
    }

    fn run_chunk(args: Vec<String>, chunk: Chunk) -> Result<Vec<u8>, String> {
        install_panic_hook();
        <T as Plugin>::run_chunk(args, chunk)
    }

    fn reduce(args: Vec<String>, partials: Vec<Vec<u8>>) -> Result<String, String> {
        install_panic_hook();
        <T as Plugin>::reduce(args, partials)
    }
}

/// Makes a panic log its message (and location) at error level before the
/// plugin traps: with `panic = "abort"` on `wasm32-unknown-unknown` the
/// message would otherwise be lost.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| log::error(&info.to_string())));
    });
}

/// Appends `data` to the plugin's output stream: the host's stdout unless the
/// user redirects it. Bytes are written in the order emitted.
pub fn emit(data: &[u8]) {
    bindings::mmhost::plugin::output::emit(data);
}

/// Reports progress to the host: `done` units of `total` (bytes, usually).
///
/// Calls are cheap, but a few per second are enough; [`Progress`] throttles
/// them for you.
pub fn progress(done: u64, total: u64) {
    bindings::mmhost::plugin::host::progress(done, total);
}
