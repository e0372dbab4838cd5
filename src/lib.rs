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
//! let job = Job {
//!     plugin: "checksum.wasm".into(),
//!     inputs: vec!["a.bin".into(), "b.bin".into()],
//!     target: Target::ReadOnly,
//!     run: RunOptions::default(),
//!     dry_run: false,
//! };
//! let report = job.execute(&runtime, Box::new(std::io::stdout()), &mut |r| eprintln!("{r:?}"))?;
//! println!("{}", report.ok);
//! # Ok::<(), mmhost::Error>(())
//! ```
//!
//! Modules, in the order data flows through them:
//! - [`job`]: what to run over what, and the one function that carries it out;
//! - [`region`]: the input files, validated and mapped into one region, with
//!   the segment table that resolves global offsets;
//! - [`runtime`]: the wasmtime engine, the imports a plugin is granted, the
//!   limits of a run;
//! - [`commit`]: where writes go and how they reach the disk;
//! - [`progress`]: progress counters of a run and the bar that shows them;
//! - [`error`]: the error type and its exit codes;
//! - [`sigbus`]: the clear message and exit code 3 for a file truncated by
//!   another process while mapped (installed by the `mmhost` command).

pub mod commit;
pub mod error;
pub mod job;
pub mod progress;
pub mod region;
pub mod runtime;
pub mod sigbus;

pub use error::{Error, ErrorKind, Result};
