//! The region: many files mapped into one range of memory, addressed by global
//! offsets, with the segment table that says which bytes belong to which file.
//!
//! A [`Region`] owns the mappings of a run and is the only way to touch them.
//! It offers bounds-checked, byte-exact reads and writes at global offsets
//! (negative ones count from the end); an access that crosses file boundaries
//! costs one `memcpy` per contiguous extent it touches (see [`layout`] for why
//! a region is not always one contiguous range, and when it is).
//!
//! Input files are only ever mapped read-only: a region never writes a byte
//! of a user's file. [`Region::open`] takes one of four [`Access`] modes, by
//! where writes go:
//! - [`Access::ReadOnly`]: `write` fails.
//! - [`Access::CopyOnWrite`]: the first write to a mapped file asks the
//!   [`Stage`] for a new, empty file of its length (for `--in-place`, a
//!   temporary file beside it) and maps it into the *shadow*: a second
//!   reservation with the same layout. Writes go to that file. Packed small files
//!   are written in memory (their private mappings). The commit layer later fills in what was not
//!   written ([`Region::finish_staged`]), makes the copies durable and swaps
//!   them in atomically (see `commit`); until then the inputs are untouched,
//!   so a trap or a kill changes nothing.
//! - [`Access::Output`]: writes go to one new file, at their global offsets,
//!   through a shadow that maps it whole; at commit the ranges never written
//!   are copied in from the inputs ([`Region::finish_output`]). Used for
//!   `--output FILE`.
//! - [`Access::OutputPart`]: as `Output`, into a file of the region's size
//!   that is not emptied: the staged output of a distributed run, which
//!   several processes fill chunk by chunk (`adopt.rs` makes a region read
//!   such new versions whole, for the run's `reduce`).
//!
//! # Why writes go to a shadow, tracked by range
//!
//! The first design copied a file (or, for `--output`, every input) before
//! its first write and mapped the copy over the original. For a plugin that
//! rewrites everything (`upper`), that copy was wasted work: about a third
//! of the CPU time (BENCHMARKS.md). Now nothing is copied up front: the
//! region keeps the set of global ranges written so far, reads of those come
//! from the shadow and all other reads from the inputs, and only the ranges
//! never written are copied at commit (hole-aware, so sparse files stay
//! sparse). Writes go to the new file with `pwrite`, not through a writable
//! mapping: no page fault per 4 KiB written, no page zeroed before it is
//! overwritten (measured for 1 GiB into a new file on this machine's ext4:
//! stores into a shared mapping 1.4-3.6 s, `MADV_POPULATE_WRITE` then stores
//! 0.35-2.6 s (large folios zeroed on a 2 MiB-aligned mapping), `pwrite`
//! 0.25 s, each before the `fsync`), and a full disk is an error (`ENOSPC`),
//! never a `SIGBUS`. The shadow maps the new files read-only, for reads of
//! written ranges; the page cache keeps both views the same.
//!
//! File lengths are those seen when the inputs were opened; opening a region
//! refuses a file that has shrunk since (its lost pages would fault). The
//! address ranges of the file mappings are available to the `SIGBUS` handler
//! ([`crate::sigbus`]), which names a file truncated while mapped.
//!
//! # Descriptors
//!
//! Opening a region places one input at a time: a read-only input (closed
//! once checked, see [`inputs`]) is reopened and checked to be the same file
//! ([`InputFile::open_checked`]), mapped or copied, and closed again. A
//! mapping keeps its file, and the file's `flock`, alive without a
//! descriptor, so a read-only region over 100,000 files holds none of them
//! open. A copy-on-write region keeps the descriptors of its mapped inputs
//! (the [`Stage`] copies from them); inputs opened for writing hold theirs
//! anyway.
//!
//! # Packing
//!
//! Packed files (small ones, and large ones past the mapping budget: see
//! [`layout`]) are copied into one *packing file*: an unnamed temporary file
//! in `$TMPDIR`, laid out like the reservation (byte `a` of the file is byte
//! `a` of the reservation, holes elsewhere), filled with `copy_file_range`
//! (hole-aware for files of 64 KiB and more, so sparse inputs stay sparse)
//! and mapped **privately** run by run. So packing costs page cache, which
//! the kernel can write back and drop, rather than anonymous memory: 100,000
//! files totalling 1 GiB took 2 GiB of anonymous memory when they were read
//! into buffers and then copied into anonymous runs, and take ~50 MiB now;
//! and 100,000 files of 64 KiB + 1, of which two thirds must be packed to
//! stay within the mapping budget, work at all. Writes to a packed file (a
//! copy-on-write region) copy the page into process memory and never reach
//! the packing file. If no packing file can be made (no writable `$TMPDIR`),
//! up to 1 GiB of packed files go to anonymous memory instead, read straight
//! into their slots.
//!
//! # Files
//!
//! One concern each: `mod.rs` the public types and the region's tables;
//! [`inputs`] checking and opening the files; [`layout`] where each file
//! goes; `open.rs` placement and packing; `map.rs` the only `mmap` calls;
//! `read.rs` the read path ([`ReadView`]); `write.rs` the write backing and
//! staging; `written.rs` the set of written ranges; `find.rs` search;
//! `copy.rs` copying an input's original bytes out; `adopt.rs` reading new
//! versions made by other processes; [`chunk`] sharing the
//! region between threads; `access.rs` the [`RegionAccess`] trait a whole
//! region and a chunk share; `describe.rs` what `mmhost layout` prints. The
//! commit's side of a region (completing the new files) is in
//! `commit/finish.rs`: this module imports nothing from [`crate::commit`].

mod access;
mod adopt;
pub mod chunk;
mod copy;
mod count;
mod describe;
mod digest;
pub use describe::layout_text;
mod find;
pub mod inputs;
pub mod layout;
mod map;
mod open;
mod read;
mod write;
mod written;

use std::cell::Cell;
use std::fs::File;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::error::{Error, Result};
pub use access::{Detached, RegionAccess};
pub use digest::DigestAlgorithm;
pub use find::find_scanned;
pub use inputs::{open_inputs, FileRef, InputFile};
pub use layout::{Layout, LayoutParams, OutOfRange, Placement};
use map::Reservation;
pub use read::ReadView;
use write::Backing;
use written::Written;

/// Supplies the files that receive the new versions of inputs, on their
/// first write.
pub trait Stage: Send {
    /// Returns a new file, opened read-write, `input.len` bytes long (a
    /// sparse file of zeros is fine: nothing needs copying), for input number
    /// `index`. The region maps it into its shadow and sends every write of
    /// that input there; [`Region::finish_staged`] later fills in the bytes
    /// that were never written.
    fn stage(&mut self, index: usize, input: &InputFile) -> Result<File>;
}

/// How a region may be written.
pub enum Access {
    /// Reads only; writes fail with [`AccessError::ReadOnly`].
    ReadOnly,
    /// Writes go to copies that the [`Stage`] provides, file by file.
    CopyOnWrite(Box<dyn Stage>),
    /// Writes go to this new file (emptied first) at their global offsets;
    /// the path is the output it is for, for messages.
    Output(File, std::path::PathBuf),
    /// As [`Access::Output`], but the file already has the region's size
    /// and is **not** emptied: a distributed run's staged output, of which
    /// each `run-chunk` process fills its chunks' ranges (see
    /// [`crate::distributed`]).
    OutputPart(File, std::path::PathBuf),
}

/// One input file's place in the region, as plugins see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The path as the user gave it.
    pub name: String,
    /// Global offset of the file's first byte.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
}

/// Why a region access failed. Returned to plugins, never a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// The range lies outside the region.
    #[error("{0}")]
    OutOfRange(OutOfRange),
    /// The region is read-only.
    #[error("the region is read-only")]
    ReadOnly,
    /// A read asked for more than the per-call limit.
    #[error("a single read may return at most {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// `locate` named a segment that does not exist.
    #[error("no such segment (there are {count})")]
    NoSuchSegment {
        /// The number of segments.
        count: u32,
    },
}

/// The most bytes one `read` may return (64 MiB): a bound on what a plugin can
/// make the host allocate in one call.
pub const MAX_READ: u64 = 64 << 20;

/// The most results one `find` may return.
pub const MAX_FIND_RESULTS: u64 = 1 << 20;

/// Counters of what a run did to the region.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes returned by reads.
    pub bytes_read: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// Bytes searched by the host for `find` (each call: up to the end of
    /// its range, or of its last match when it returned `limit` matches).
    pub bytes_scanned: u64,
}

/// Why a write failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The access itself is wrong (range, read-only): the plugin's business.
    #[error(transparent)]
    Access(AccessError),
    /// A copy of a file could not be made (disk full, permissions): the run
    /// cannot go on.
    #[error(transparent)]
    Stage(Error),
}

/// Input files mapped into one region. See the module docs.
pub struct Region {
    inputs: Vec<InputFile>,
    segments: Vec<Segment>,
    layout: Layout,
    mem: Option<Reservation>,
    backing: Backing,
    /// Per input: written to. Set (with `Release`) only after the input's
    /// slot is writable, so a thread that sees it set may write at once.
    dirty: Vec<AtomicBool>,
    bytes_read: AtomicU64,
    bytes_written: AtomicU64,
    bytes_scanned: AtomicU64,
    /// The global ranges written to the shadow. Reads of them come from the
    /// shadow.
    written: Written,
    /// Bytes written to the output file since its writeback was last
    /// started (see `write::WRITEBACK_EVERY`).
    unflushed: AtomicU64,
    /// A `Region` is `Send` but not `Sync`: its writes take `&self` (so that
    /// a host call can copy straight from guest memory), which is sound only
    /// while one thread at a time uses it. Parallel runs share it through
    /// [`chunk::ChunkView`]s, whose write ranges are disjoint by
    /// construction.
    _one_thread: PhantomData<Cell<()>>,
}

impl std::fmt::Debug for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Region")
            .field("segments", &self.segments)
            .field("layout", &self.layout)
            .field("writable", &self.writable())
            .finish_non_exhaustive()
    }
}

impl Region {
    /// Total size in bytes.
    pub fn size(&self) -> u64 {
        self.layout.size()
    }

    /// The segment table: one entry per input file, in order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The placement of the files and the extent table.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Whether writes are allowed.
    pub fn writable(&self) -> bool {
        !matches!(self.backing, Backing::ReadOnly)
    }

    /// What reads and writes have done so far.
    pub fn stats(&self) -> Stats {
        Stats {
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
            bytes_written: self.bytes_written.load(Ordering::Relaxed),
            bytes_scanned: self.bytes_scanned.load(Ordering::Relaxed),
        }
    }

    /// The input files, in order.
    pub fn inputs(&self) -> &[InputFile] {
        &self.inputs
    }

    /// Whether input `i` was written to.
    pub fn is_written(&self, i: usize) -> bool {
        self.dirty[i].load(Ordering::Acquire)
    }

    /// The file mappings of the region as address ranges of this process
    /// (whole pages), with the path of the file each maps: what the `SIGBUS`
    /// handler needs to name a file truncated under the run. Only the
    /// inputs' own mappings are listed; staged copies and the output file
    /// live in the shadow.
    pub(crate) fn file_mappings(&self) -> Vec<(usize, usize, &Path)> {
        let Some(mem) = &self.mem else {
            return Vec::new();
        };
        let page = rustix::param::page_size() as u64;
        let range = |addr: u64, len: u64| {
            let start = mem.ptr(addr) as usize;
            (start, start + len.div_ceil(page) as usize * page as usize)
        };
        self.layout
            .slots()
            .iter()
            .zip(&self.inputs)
            .filter(|(slot, f)| slot.placement == Placement::Mapped && !f.is_absent())
            .map(|(slot, f)| {
                let (start, end) = range(slot.addr, slot.len);
                (start, end, f.path.as_path())
            })
            .collect()
    }

    /// Which inputs were written to (for reports).
    pub fn written_inputs(&self) -> Vec<usize> {
        (0..self.dirty.len())
            .filter(|&i| self.dirty[i].load(Ordering::Acquire))
            .collect()
    }

    /// Resolves `at` (negative from the end) for an access of `len` bytes.
    pub fn resolve(&self, at: i64, len: u64) -> Result<u64, AccessError> {
        self.layout
            .resolve(at, len)
            .map_err(AccessError::OutOfRange)
    }

    /// The global offset of byte `delta` of segment `segment` (negative deltas
    /// reach into earlier files); valid results are `0..=size`.
    pub fn locate(&self, segment: u32, delta: i64) -> Result<u64, AccessError> {
        let seg = self
            .segments
            .get(segment as usize)
            .ok_or(AccessError::NoSuchSegment {
                count: self.segments.len() as u32,
            })?;
        let out = AccessError::OutOfRange(OutOfRange {
            at: delta,
            len: 0,
            size: self.size(),
        });
        let global = i128::from(seg.start) + i128::from(delta);
        if global < 0 || global > i128::from(self.size()) {
            return Err(out);
        }
        Ok(global as u64)
    }

    /// The bytes of the whole region, for tests and small regions: one copy.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.size() as usize];
        self.read_into(0, &mut v);
        v
    }
}

#[cfg(test)]
mod tests;
