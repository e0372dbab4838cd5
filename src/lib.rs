//! mmhost maps many files into one region and runs sandboxed WebAssembly
//! plugins over it.
//!
//! The library is what the `mmhost` command is made of; another Rust program
//! can use it the same way. A plugin is a component of the `transform` world
//! (`wit/mmhost.wit`), or a core module in its lowered ABI, which the host
//! wraps when it loads it; as text (WAT), as here, or binary:
//!
//! ```
//! use mmhost::{commit::Target, job::Job, runtime::{RunOptions, Runtime, RuntimeOptions}};
//!
//! // A plugin that writes "HI" at global offset 0 and returns `ok("done")`.
//! const PLUGIN: &str = r#"(module
//!   (import "mmhost:plugin/region@0.1.0" "write" (func $write (param i64 i32 i32 i32)))
//!   (memory (export "memory") 1)
//!   (data (i32.const 200) "HI")
//!   (data (i32.const 210) "done")
//!   (global $hp (mut i32) (i32.const 1024))
//!   (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
//!     (local $p i32)
//!     (local.set $p (global.get $hp))
//!     (global.set $hp (i32.add (local.get $p) (local.get 3)))
//!     (local.get $p))
//!   (func (export "run") (param i32 i32) (result i32)
//!     (call $write (i64.const 0) (i32.const 200) (i32.const 2) (i32.const 0))
//!     (i32.store8 (i32.const 64) (i32.const 0))
//!     (i32.store (i32.const 68) (i32.const 210))
//!     (i32.store (i32.const 72) (i32.const 4))
//!     (i32.const 64)))"#;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let plugin = dir.path().join("hi.wat");
//! std::fs::write(&plugin, PLUGIN).unwrap();
//! let (a, b) = (dir.path().join("a.txt"), dir.path().join("b.txt"));
//! std::fs::write(&a, "a").unwrap();
//! std::fs::write(&b, "bcd").unwrap();
//! let out = dir.path().join("out.txt");
//!
//! // One engine for any number of runs (no compile cache here).
//! let runtime = Runtime::new(&RuntimeOptions::default())?;
//! let job = Job::single(
//!     &plugin,
//!     vec![a.clone(), b.clone()],
//!     Target::Output(out.clone()),
//!     RunOptions::default(),
//!     false,
//! );
//! // The plugin's output stream goes to the writer given here.
//! let report = job.execute(&runtime, Box::new(std::io::sink()), &mut |_| {})?;
//! assert_eq!(report.ok, "done");
//! // The write spans both files: the output holds the region, changed.
//! assert_eq!(std::fs::read_to_string(&out).unwrap(), "HIcd");
//! // The inputs are untouched.
//! assert_eq!(std::fs::read_to_string(&a).unwrap(), "a");
//! # Ok::<(), mmhost::Error>(())
//! ```
//!
//! The region itself can be used without a plugin: open files, read and
//! search at global offsets across their boundaries.
//!
//! ```
//! use mmhost::region::{open_inputs, Access, Region};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let paths = vec![dir.path().join("a"), dir.path().join("b")];
//! std::fs::write(&paths[0], "hello, ").unwrap();
//! std::fs::write(&paths[1], "world").unwrap();
//! let region = Region::open(open_inputs(&paths, false)?, Access::ReadOnly)?;
//! assert_eq!(region.size(), 12);
//! assert_eq!(region.read(5, 4).unwrap(), b", wo");
//! assert_eq!(region.read(-5, 5).unwrap(), b"world"); // from the end
//! assert_eq!(region.find(b"o", 0, 12, 10).unwrap(), [4, 8]);
//! assert_eq!(region.segments()[1].start, 7);
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
//! - [`distributed`]: runs spread over processes or machines, chunk by
//!   chunk (`mmhost plan`, `run-chunk`, `reduce`, `commit`, `abort`);
//! - [`progress`]: progress counters of a run and the bar that shows them;
//! - [`manual`]: the manual pages, `mmhost(1)` and one per subcommand;
//! - [`plural`]: counts in words (`1 byte`, `2 bytes`);
//! - [`filelist`]: input files read from a list file (`--files-from`);
//! - [`error`]: the error type and its exit codes;
//! - [`whole_file`]: reading plugins and job files (regular files only, of
//!   a capped size);
//! - [`escape`]: plugin text and file names made safe to print on a
//!   terminal;
//! - [`sigbus`]: the clear message and exit code 3 for a file truncated by
//!   another process while mapped (installed by the `mmhost` command).

pub mod builtins;
pub mod commit;
pub mod distributed;
pub mod error;
pub mod escape;
mod filecopy;
pub mod filelist;
pub mod job;
pub mod manual;
pub mod plural;
pub mod progress;
pub mod region;
pub mod runtime;
pub mod scaffold;
pub mod sigbus;
pub mod whole_file;

pub use error::{Error, ErrorKind, Result};
