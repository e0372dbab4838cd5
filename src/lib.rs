//! mmhost maps many files into one region and runs sandboxed WebAssembly
//! plugins over it.
//!
//! The library is what the `mmhost` command is made of; another Rust program
//! can use it the same way:
//!
//! ```no_run
//! use mmhost::{commit::Target, job::Job, runtime::{RunOptions, Runtime, RuntimeOptions}};
//!
//! let runtime = Runtime::new(&RuntimeOptions::with_default_cache())?;
//! let job = Job::single(
//!     "checksum.wasm",
//!     vec!["a.bin".into(), "b.bin".into()],
//!     Target::ReadOnly,
//!     RunOptions::default(),
//!     false,
//! );
//! let report = job.execute(&runtime, Box::new(std::io::stdout()), &mut |r| eprintln!("{r:?}"))?;
//! println!("{}", report.ok);
//! # Ok::<(), mmhost::Error>(())
//! ```
//!
//! A job of several steps, as a JSON job file describes it:
//!
//! ```no_run
//! use std::path::Path;
//! use mmhost::job::file::{JobFile, Overrides};
//! # use mmhost::runtime::{Runtime, RuntimeOptions};
//! # let runtime = Runtime::new(&RuntimeOptions::with_default_cache())?;
//!
//! let path = Path::new("job.json");
//! let job = JobFile::read(path)?.resolve(path, &Overrides::default())?;
//! let report = job.execute(&runtime, Box::new(std::io::stdout()), &mut |_| {})?;
//! for step in &report.steps {
//!     eprintln!("{}: {:?}", step.name, step.outcome);
//! }
//! # Ok::<(), mmhost::Error>(())
//! ```
//!
//! Modules, in the order data flows through them:
//! - [`builtins`]: the plugins shipped in the binary, run by name;
//! - [`job`]: what to run over what (one plugin, or the steps of a JSON job
//!   file), and the one function that carries it out;
//! - [`region`]: the input files, validated and mapped into one region, with
//!   the segment table that resolves global offsets;
//! - [`runtime`]: the wasmtime engine, the imports a plugin is granted, the
//!   limits of a run;
//! - [`commit`]: where writes go and how they reach the disk;
//! - [`progress`]: progress counters of a run and the bar that shows them;
//! - [`filelist`]: input files read from a list file (`--files-from`);
//! - [`error`]: the error type and its exit codes;
//! - [`sigbus`]: the clear message and exit code 3 for a file truncated by
//!   another process while mapped (installed by the `mmhost` command).

pub mod builtins;
pub mod commit;
pub mod error;
pub mod filelist;
pub mod job;
pub mod progress;
pub mod region;
pub mod runtime;
pub mod scaffold;
pub mod sigbus;

pub use error::{Error, ErrorKind, Result};
