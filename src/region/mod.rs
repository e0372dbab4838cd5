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
//! of a user's file. [`Region::open`] takes one of three [`Access`] modes, by
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

pub mod chunk;
pub mod inputs;
pub mod layout;
mod map;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::marker::PhantomData;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::error::{describe_io, Error, ErrorKind, Result};
pub use inputs::{open_inputs, FileRef, InputFile};
pub use layout::{Layout, LayoutParams, OutOfRange, Placement};
use map::Reservation;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessError {
    /// The range lies outside the region.
    OutOfRange(OutOfRange),
    /// The region is read-only.
    ReadOnly,
    /// A read asked for more than the per-call limit.
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// `locate` named a segment that does not exist.
    NoSuchSegment {
        /// The number of segments.
        count: u32,
    },
}

impl std::fmt::Display for AccessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccessError::OutOfRange(r) => r.fmt(f),
            AccessError::ReadOnly => f.write_str("the region is read-only"),
            AccessError::TooLarge { limit } => {
                write!(f, "a single read may return at most {limit} bytes")
            }
            AccessError::NoSuchSegment { count } => {
                write!(f, "no such segment (there are {count})")
            }
        }
    }
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
}

/// Where writes go.
enum Backing {
    /// Nowhere.
    ReadOnly,
    /// Written mapped inputs: to staged copies mapped into `shadow` at their
    /// slots' addresses; packed inputs: in place.
    CopyOnWrite {
        stage: Mutex<Box<dyn Stage>>,
        shadow: Option<Reservation>,
        /// Per input: its staged copy, once made (written with `pwrite`).
        copies: Vec<OnceLock<File>>,
        /// Per input: held around each `pwrite` to its copy; see `Output`.
        write_locks: Vec<Mutex<()>>,
    },
    /// To `target`, mapped whole into `shadow` (global offset = shadow
    /// offset); `path` is the output it is for.
    Output {
        target: File,
        path: std::path::PathBuf,
        shadow: Option<Reservation>,
        /// Held around each `pwrite` to `target`. The file system serialises
        /// buffered writes to one file anyway (ext4: the inode's rwsem);
        /// when chunks write one file from several threads, a thread
        /// waiting on that rwsem spins, burning CPU for as long as the writer
        /// holds it, which under memory pressure (direct reclaim inside the
        /// write) was seconds of system time per GiB. A mutex sleeps instead.
        write_lock: Mutex<()>,
    },
}

/// Where the bytes of a checked read lie in the region's memory; see
/// [`Region::read_view`].
#[derive(Debug)]
pub struct ReadView {
    /// `(address, length)` per extent.
    pieces: Vec<(usize, usize)>,
    len: usize,
}

impl ReadView {
    /// Where the bytes of `slices` (of the region's memory) lie.
    fn of(slices: &[(u64, &[u8])]) -> ReadView {
        ReadView {
            pieces: slices
                .iter()
                .map(|(_, s)| (s.as_ptr() as usize, s.len()))
                .collect(),
            len: slices.iter().map(|(_, s)| s.len()).sum(),
        }
    }

    /// Total length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the read is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies the bytes into `dst` (exactly [`ReadView::len`] bytes long).
    ///
    /// # Safety
    /// The region this view came from must still be alive (its reservation
    /// mapped). Remapping a slot (staging a copy) is fine: it keeps the
    /// addresses and the bytes.
    pub unsafe fn copy_to(&self, dst: &mut [u8]) {
        assert_eq!(dst.len(), self.len, "ReadView::copy_to: wrong length");
        let mut done = 0;
        for &(addr, n) in &self.pieces {
            // SAFETY: the caller guarantees the reservation is mapped; the
            // pieces were bounds-checked against the layout when the view was
            // made; `dst` is memory outside the reservation.
            unsafe {
                std::ptr::copy_nonoverlapping(addr as *const u8, dst[done..].as_mut_ptr(), n)
            };
            done += n;
        }
    }
}

/// Why a write failed.
#[derive(Debug)]
pub enum WriteError {
    /// The access itself is wrong (range, read-only): the plugin's business.
    Access(AccessError),
    /// A copy of a file could not be made (disk full, permissions): the run
    /// cannot go on.
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
    /// The global ranges written to the shadow, merged: start -> end. Reads
    /// of them come from the shadow.
    written: Mutex<BTreeMap<u64, u64>>,
    /// Whether `written` is not empty (a read checks this first).
    any_written: AtomicBool,
    /// Bytes written to the output file since its writeback was last
    /// started (see [`WRITEBACK_EVERY`]).
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

fn segments_of(inputs: &[InputFile]) -> Vec<Segment> {
    let mut start = 0;
    inputs
        .iter()
        .map(|f| {
            let s = Segment {
                name: f.path.display().to_string(),
                start,
                len: f.len,
            };
            start += f.len;
            s
        })
        .collect()
}

fn map_error(what: &Path, e: io::Error) -> Error {
    Error::input(what, format!("cannot map: {}", describe_io(&e)))
}

/// Packed bytes that may go to anonymous memory when no packing file can be
/// made (see [`Pack`]).
const ANON_PACK_LIMIT: u64 = 1 << 30;

/// Where packed files are copied: see the module docs.
enum Pack {
    /// An unnamed temporary file laid out like the reservation (byte `a` of
    /// the file is byte `a` of the reservation), sparse where nothing is
    /// packed, and the directory it is in (for messages).
    File(File, std::path::PathBuf),
    /// Anonymous memory: no packing file could be made.
    Anonymous,
}

impl Pack {
    /// A packing file of `span` bytes in the temporary directory, or
    /// anonymous memory if none can be made and `bytes` is small enough.
    fn new(span: u64, bytes: u64) -> Result<Pack> {
        let dir = std::env::temp_dir();
        let made = inputs::unnamed_temp_file(&dir).and_then(|f| f.set_len(span).map(|()| f));
        match made {
            Ok(f) => Ok(Pack::File(f, dir)),
            Err(_) if bytes <= ANON_PACK_LIMIT => Ok(Pack::Anonymous),
            Err(e) => Err(Error::new(
                ErrorKind::Input,
                format!(
                    "input files: cannot create a temporary file in {} to pack {bytes} bytes of \
                     files into: {} (set TMPDIR to a writable directory)",
                    dir.display(),
                    describe_io(&e)
                ),
            )),
        }
    }
}

/// Copies input `f` into the packing file at `at` (hole-aware: a sparse
/// input stays sparse); the descriptor is closed after, unless held.
fn pack_into_file(f: &InputFile, pack: &File, dir: &Path, at: u64) -> Result<()> {
    let src = f.open_checked()?;
    let copied = if f.len < inputs::SMALL_FILE {
        // Small files are rarely sparse: one `copy_file_range`, without the
        // hole probing and checks of `copy_range` (100,000 files: 1 s less).
        copy_data(&src, pack, 0, at, f.len)
    } else {
        copy_range(&src, pack, at, f.len)
    };
    copied.map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => f.shrank(src.metadata().ok().map(|m| m.len())),
        _ => Error::input(
            &f.path,
            format!(
                "cannot copy it into the packing file in {}: {} (set TMPDIR to a directory \
                 with more room)",
                dir.display(),
                describe_io(&e)
            ),
        ),
    })
}

/// Reads input `f` straight into its slot `dst` (anonymous packing).
fn read_into_slot(f: &InputFile, dst: &mut [u8]) -> Result<()> {
    let src = f.open_checked()?;
    src.read_exact_at(dst, 0).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => f.shrank(src.metadata().ok().map(|m| m.len())),
        _ => Error::input(&f.path, describe_io(&e)),
    })
}

impl Region {
    /// Maps validated `inputs` (from [`open_inputs`]) into one region.
    pub fn open(inputs: Vec<InputFile>, access: Access) -> Result<Region> {
        Self::open_with(inputs, access, &LayoutParams::for_this_machine())
    }

    /// [`Region::open`] with explicit layout parameters (for tests).
    pub fn open_with(
        mut inputs: Vec<InputFile>,
        access: Access,
        params: &LayoutParams,
    ) -> Result<Region> {
        let lens: Vec<u64> = inputs.iter().map(|f| f.len).collect();
        let layout = Layout::plan(&lens, params)
            .map_err(|e| Error::new(ErrorKind::Input, format!("input files: {e}")))?;
        let mem = if layout.span() == 0 {
            None
        } else {
            let span = usize::try_from(layout.span())
                .map_err(|_| Error::new(ErrorKind::Input, "input files: too large to map"))?;
            let res = Reservation::new(span).map_err(|e| {
                Error::new(
                    ErrorKind::Input,
                    format!("input files: cannot reserve {span} bytes of address space: {e}"),
                )
            })?;
            // Writable regions keep their mapped inputs open: the commit
            // copies the ranges never written from them (hole-aware).
            let writable = !matches!(access, Access::ReadOnly);
            Self::place(&res, &mut inputs, &layout, params.page, writable)?;
            Some(res)
        };
        let backing = match access {
            Access::ReadOnly => Backing::ReadOnly,
            Access::CopyOnWrite(stage) => Backing::CopyOnWrite {
                stage: Mutex::new(stage),
                shadow: Self::shadow(layout.span(), |m| {
                    Error::new(ErrorKind::Input, format!("input files: {m}"))
                })?,
                copies: inputs.iter().map(|_| OnceLock::new()).collect(),
                write_locks: inputs.iter().map(|_| Mutex::new(())).collect(),
            },
            Access::Output(target, path) => {
                let out_err = |e: io::Error| Error::output(&path, describe_io(&e));
                // A new file of the region's size, all holes: writes fill it,
                // the commit copies in the rest.
                target.set_len(0).map_err(out_err)?;
                target.set_len(layout.size()).map_err(out_err)?;
                let page = rustix::param::page_size() as u64;
                let shadow = Self::shadow(layout.size().next_multiple_of(page), |m| {
                    Error::output(&path, m)
                })?;
                if let Some(shadow) = &shadow {
                    shadow
                        .map_file(0, layout.size() as usize, &target)
                        .map_err(out_err)?;
                }
                Backing::Output {
                    target,
                    path,
                    shadow,
                    write_lock: Mutex::new(()),
                }
            }
        };
        Ok(Region {
            dirty: inputs.iter().map(|_| AtomicBool::new(false)).collect(),
            segments: segments_of(&inputs),
            inputs,
            layout,
            mem,
            backing,
            bytes_read: AtomicU64::new(0),
            bytes_written: AtomicU64::new(0),
            written: Mutex::new(BTreeMap::new()),
            any_written: AtomicBool::new(false),
            unflushed: AtomicU64::new(0),
            _one_thread: PhantomData,
        })
    }

    /// A reservation of `span` bytes for a shadow (`None` for 0 bytes).
    fn shadow(span: u64, fail: impl Fn(String) -> Error) -> Result<Option<Reservation>> {
        if span == 0 {
            return Ok(None);
        }
        let len = usize::try_from(span).map_err(|_| fail("too large to map".into()))?;
        Reservation::new(len)
            .map(Some)
            .map_err(|e| fail(format!("cannot reserve {len} bytes of address space: {e}")))
    }

    /// Maps every file to its slot or copies it there (packed files; left
    /// writable if `writable`), one input at a time: each is reopened and
    /// checked ([`InputFile::open_checked`]), mapped or copied, and closed
    /// again, except that a region that stages copies (`writable`) keeps its
    /// mapped inputs open, to copy them from. Sizes were fixed when the files
    /// were opened: one that grew since is mapped at its opened length (the
    /// rest is not part of the run); one that shrank would fault on its lost
    /// pages, so it is refused here, before the plugin runs.
    fn place(
        res: &Reservation,
        inputs: &mut [InputFile],
        layout: &Layout,
        page: u64,
        writable: bool,
    ) -> Result<()> {
        let slots = layout.slots();
        let packed_bytes: u64 = slots
            .iter()
            .filter(|s| s.placement == Placement::Packed)
            .map(|s| s.len)
            .sum();
        let pack = if packed_bytes > 0 {
            Some(Pack::new(layout.span(), packed_bytes)?)
        } else {
            None
        };
        // Packed files come in runs of neighbours; each run gets one mapping
        // covering its pages.
        let mut i = 0;
        while i < slots.len() {
            let slot = slots[i];
            match slot.placement {
                Placement::Empty => i += 1,
                Placement::Mapped => {
                    let f = &inputs[i];
                    let file = f.open_checked()?;
                    res.map_file(slot.addr, slot.len as usize, &file)
                        .map_err(|e| map_error(&f.path, e))?;
                    // Read-only, the mapping keeps the file (and its lock)
                    // alive: the descriptor is closed here.
                    if let (FileRef::Reopened(file), true) = (file, writable) {
                        inputs[i].hold(file);
                    }
                    i += 1;
                }
                Placement::Packed => {
                    let mut j = i;
                    let mut end = slot.addr;
                    while j < slots.len()
                        && matches!(slots[j].placement, Placement::Packed | Placement::Empty)
                        && (slots[j].placement == Placement::Empty || slots[j].addr == end)
                    {
                        end = slots[j].addr + slots[j].len;
                        j += 1;
                    }
                    let first = slot.addr / page * page;
                    let len = (end.div_ceil(page) * page - first) as usize;
                    let fail = |e| map_error(&inputs[i].path, e);
                    let run = slots[i..j]
                        .iter()
                        .zip(&inputs[i..j])
                        .filter(|(s, _)| s.len > 0);
                    match pack.as_ref().expect("a packed slot has a pack") {
                        Pack::File(pack, dir) => {
                            for (s, f) in run {
                                pack_into_file(f, pack, dir, s.addr)?;
                            }
                            res.map_private(first, len, pack, writable).map_err(fail)?;
                        }
                        Pack::Anonymous => {
                            res.map_anonymous(first, len).map_err(fail)?;
                            for (s, f) in run {
                                // SAFETY: the slot lies in the anonymous run
                                // just mapped read-write; nothing else refers
                                // to it yet.
                                let dst = unsafe {
                                    std::slice::from_raw_parts_mut(res.ptr(s.addr), s.len as usize)
                                };
                                read_into_slot(f, dst)?;
                            }
                            if !writable {
                                res.protect_read_only(first, len).map_err(fail)?;
                            }
                        }
                    }
                    i = j;
                }
            }
        }
        Ok(())
    }

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
    /// handler needs to name a file truncated under the run. A staged copy
    /// sits at its input's addresses and is named by the input's path.
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
            .filter(|(slot, _)| slot.placement == Placement::Mapped)
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

    /// Reads `len` bytes at `at` (negative from the end) into a new vector.
    pub fn read(&self, at: i64, len: u64) -> Result<Vec<u8>, AccessError> {
        let start = self.check_read(at, len)?;
        let mut buf = vec![0u8; len as usize];
        self.read_into(start, &mut buf);
        self.count_read(len);
        Ok(buf)
    }

    /// Resolves a read of `len` bytes at `at` (in range, at most
    /// [`MAX_READ`]) to its global start.
    fn check_read(&self, at: i64, len: u64) -> Result<u64, AccessError> {
        let start = self.resolve(at, len)?;
        if len > MAX_READ {
            return Err(AccessError::TooLarge { limit: MAX_READ });
        }
        Ok(start)
    }

    /// Checks a read like [`Region::read`] but copies nothing yet: returns
    /// where the bytes lie, so that the caller can copy them straight to
    /// their destination (the plugin's memory) with one `memcpy` per extent.
    pub fn read_view(&self, at: i64, len: u64) -> Result<ReadView, AccessError> {
        let start = self.check_read(at, len)?;
        let view = ReadView::of(&self.slices(start, start + len));
        self.count_read(len);
        Ok(view)
    }

    /// Up to `limit` non-overlapping occurrences of `pattern` wholly inside
    /// `[start, end)`, leftmost first, each searched from the end of the one
    /// before; see `find` in the WIT. Searches the mapping in place (SIMD
    /// `memmem`), one extent at a time, plus a small window around each
    /// boundary between extents for the matches that straddle it.
    pub fn find(
        &self,
        pattern: &[u8],
        start: u64,
        end: u64,
        limit: u32,
    ) -> Result<Vec<u64>, AccessError> {
        check_find(self.size(), pattern, start, end, limit)?;
        let slices = self.slices(start, end);
        Ok(find_in(&slices, pattern, start, end, limit as usize))
    }

    /// The mapped memory of `[start, end)` (checked by the caller) as
    /// slices, one per extent, each with its global offset.
    ///
    /// The slices must not outlive a write to their bytes: callers use them
    /// within one call of the region, on the thread that owns it (or, for a
    /// chunk, on bytes no other thread writes).
    fn slices(&self, start: u64, end: u64) -> Vec<(u64, &[u8])> {
        self.spans(start, end - start)
            .into_iter()
            // SAFETY: `spans` yields mapped, readable memory of this region
            // (inputs or shadow), alive as long as `self`; the caller keeps
            // writes away while the slice lives (see above).
            .map(|(g, addr, n)| {
                (g, unsafe {
                    std::slice::from_raw_parts(addr as *const u8, n)
                })
            })
            .collect()
    }

    /// Where the bytes of `[start, start + len)` (checked by the caller) are
    /// now: `(global offset, address, length)` per run of contiguous memory,
    /// in order. Written ranges come from the shadow, the rest from the
    /// inputs' mappings.
    fn spans(&self, start: u64, len: u64) -> Vec<(u64, usize, usize)> {
        let Some(mem) = &self.mem else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let written = self
            .any_written
            .load(Ordering::Acquire)
            .then(|| self.written.lock().unwrap_or_else(|e| e.into_inner()));
        let mut g = start;
        for (addr, n) in self.layout.pieces(start, len) {
            let end = g + n as u64;
            let at_input = |from: u64| mem.ptr(addr + (from - g)) as usize;
            match &written {
                None => out.push((g, at_input(g), n)),
                Some(w) => {
                    let mut at = g;
                    for (s, e) in written_in(w, g, end) {
                        if at < s {
                            out.push((at, at_input(at), (s - at) as usize));
                        }
                        out.push((s, self.shadow_ptr(addr + (s - g), s), (e - s) as usize));
                        at = e;
                    }
                    if at < end {
                        out.push((at, at_input(at), (end - at) as usize));
                    }
                }
            }
            g = end;
        }
        out
    }

    /// The shadow address of the byte at layout address `addr`, global
    /// offset `global` (a written byte).
    fn shadow_ptr(&self, addr: u64, global: u64) -> usize {
        match &self.backing {
            Backing::CopyOnWrite {
                shadow: Some(sh), ..
            } => sh.ptr(addr) as usize,
            Backing::Output {
                shadow: Some(sh), ..
            } => sh.ptr(global) as usize,
            _ => unreachable!("only writable regions with bytes have written ranges"),
        }
    }

    /// The ranges of `[start, end)` never written to the shadow.
    fn unwritten(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let w = self.written.lock().unwrap_or_else(|e| e.into_inner());
        let mut gaps = Vec::new();
        let mut at = start;
        for (s, e) in written_in(&w, start, end) {
            if at < s {
                gaps.push((at, s));
            }
            at = e;
        }
        if at < end {
            gaps.push((at, end));
        }
        gaps
    }

    /// Counts `len` bytes as read.
    fn count_read(&self, len: u64) {
        self.bytes_read.fetch_add(len, Ordering::Relaxed);
    }

    /// Copies `buf.len()` bytes from global offset `start` into `buf`. The
    /// range must have been checked with [`Region::resolve`].
    pub fn read_into(&self, start: u64, buf: &mut [u8]) {
        assert!(
            start
                .checked_add(buf.len() as u64)
                .is_some_and(|end| end <= self.size()),
            "read_into outside the region"
        );
        let mut done = 0;
        for (_, bytes) in self.slices(start, start + buf.len() as u64) {
            buf[done..done + bytes.len()].copy_from_slice(bytes);
            done += bytes.len();
        }
    }

    /// Writes `data` at `at` (negative from the end).
    pub fn write(&self, at: i64, data: &[u8]) -> Result<(), WriteError> {
        if !self.writable() {
            return Err(WriteError::Access(AccessError::ReadOnly));
        }
        let start = self
            .resolve(at, data.len() as u64)
            .map_err(WriteError::Access)?;
        self.write_at(start, data).map_err(WriteError::Stage)
    }

    /// The inputs that overlap `[start, end)` and are not empty.
    fn inputs_in(&self, start: u64, end: u64) -> impl Iterator<Item = usize> + '_ {
        let first = self.segments.partition_point(|s| s.start + s.len <= start);
        (first..self.segments.len())
            .take_while(move |&i| self.segments[i].start < end)
            .filter(|&i| self.segments[i].len > 0)
    }

    /// Copies `data` to global offset `start` of a writable region: into the
    /// shadow (recording the range) or, for packed inputs of a copy-on-write
    /// region, in place; first staging every file it touches that has no
    /// copy yet.
    fn write_at(&self, start: u64, data: &[u8]) -> Result<()> {
        let Some(mem) = &self.mem else { return Ok(()) };
        let end = start + data.len() as u64;
        let mut wrote = Vec::new();
        for i in self.inputs_in(start, end) {
            if !self.dirty[i].load(Ordering::Acquire) {
                self.stage(i)?;
            }
            let seg = &self.segments[i];
            let slot = self.layout.slots()[i];
            let (a, b) = (start.max(seg.start), end.min(seg.start + seg.len));
            let src = &data[(a - start) as usize..(b - start) as usize];
            let addr = slot.addr + (a - seg.start);
            let fail = |e: io::Error| {
                Error::new(
                    ErrorKind::Output,
                    format!(
                        "{}: cannot write its new version: {}",
                        self.inputs[i].path.display(),
                        describe_io(&e)
                    ),
                )
            };
            let kick = |file: &File| {
                let due = self
                    .unflushed
                    .fetch_add(src.len() as u64, Ordering::Relaxed)
                    + src.len() as u64;
                if due >= WRITEBACK_EVERY {
                    self.unflushed.store(0, Ordering::Relaxed);
                    start_writeback(file);
                }
            };
            match (&self.backing, slot.placement) {
                (Backing::CopyOnWrite { .. }, Placement::Packed) => {
                    // SAFETY: a packed input of a copy-on-write region lies in
                    // anonymous read-write memory; the range was checked by
                    // `resolve`; `src` lies outside the reservation, and no
                    // slice into the range is alive (reads copy out, and
                    // only this thread may touch it).
                    unsafe { mem.write(addr, src) }
                }
                (
                    Backing::CopyOnWrite {
                        copies,
                        write_locks,
                        ..
                    },
                    _,
                ) => {
                    let copy = copies[i].get().expect("`stage` made the copy");
                    let held = write_locks[i].lock().unwrap_or_else(|e| e.into_inner());
                    copy.write_all_at(src, a - seg.start).map_err(fail)?;
                    drop(held);
                    kick(copy);
                    wrote.push((a, b));
                }
                (
                    Backing::Output {
                        target, write_lock, ..
                    },
                    _,
                ) => {
                    let held = write_lock.lock().unwrap_or_else(|e| e.into_inner());
                    target.write_all_at(src, a).map_err(fail)?;
                    drop(held);
                    kick(target);
                    wrote.push((a, b));
                }
                (Backing::ReadOnly, _) => unreachable!("`write` refuses read-only regions"),
            }
        }
        if !wrote.is_empty() {
            let mut w = self.written.lock().unwrap_or_else(|e| e.into_inner());
            for (a, b) in wrote {
                record(&mut w, a, b);
            }
            self.any_written.store(true, Ordering::Release);
        }
        self.bytes_written
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Before the first write to input `i`: for a mapped input of a
    /// copy-on-write region, gets a file for its new version from the stage
    /// and maps it into the shadow at the input's slot; then marks the input
    /// written.
    ///
    /// Chunks of a parallel run may write the same file at once: the stage
    /// lock makes exactly one of them stage it, and the others wait until
    /// the copy is mapped.
    fn stage(&self, i: usize) -> Result<()> {
        let Backing::CopyOnWrite {
            stage,
            shadow,
            copies,
            ..
        } = &self.backing
        else {
            // The output file is mapped whole from the start.
            self.dirty[i].store(true, Ordering::Release);
            return Ok(());
        };
        let mut stage = stage.lock().unwrap_or_else(|e| e.into_inner());
        if self.dirty[i].load(Ordering::Acquire) {
            return Ok(()); // another chunk staged it while we waited
        }
        if let (Some(slot), Some(shadow)) = (self.layout.slots().get(i), shadow) {
            // Packed files are written in memory: nothing to stage.
            if slot.placement == Placement::Mapped {
                let input = &self.inputs[i];
                let copy = stage.stage(i, input)?;
                // Read-only: writes go through the descriptor (`pwrite`),
                // reads of written ranges through the mapping.
                shadow
                    .map_file(slot.addr, slot.len as usize, &copy)
                    .map_err(|e| map_error(&input.path, e))?;
                // Whether input `i` has a copy is derived: written and
                // mapped. The descriptor is kept for the writes.
                let _ = copies[i].set(copy);
            }
        }
        self.dirty[i].store(true, Ordering::Release);
        Ok(())
    }

    /// Completes the output file of an [`Access::Output`] region and makes it
    /// durable: copies in every range the plugin did not write (from the
    /// inputs, hole-aware), then `msync`s and `fsync`s it.
    pub fn finish_output(&self) -> Result<()> {
        let Backing::Output { target, path, .. } = &self.backing else {
            return Ok(());
        };
        let fail =
            |what: &str, e: io::Error| Error::output(path, format!("{what}: {}", describe_io(&e)));
        for i in 0..self.inputs.len() {
            let seg = &self.segments[i];
            for (a, b) in self.unwritten(seg.start, seg.start + seg.len) {
                self.copy_input_span(i, a - seg.start, target, a, b - a)
                    .map_err(|e| fail(&format!("copying {}", self.inputs[i].path.display()), e))?;
            }
        }
        target.sync_all().map_err(|e| fail("fsync", e))
    }

    /// Copies `len` bytes of input `i`, from offset `from`, to `dst` at `to`:
    /// in the kernel and hole-aware when the input is open, else from its
    /// mapping (or packed memory).
    fn copy_input_span(
        &self,
        i: usize,
        from: u64,
        dst: &File,
        to: u64,
        len: u64,
    ) -> io::Result<()> {
        let input = &self.inputs[i];
        let slot = self.layout.slots()[i];
        match (input.file(), slot.placement) {
            (Some(src), Placement::Mapped) => copy_span(src, from, dst, to, len),
            _ => {
                let Some(mem) = &self.mem else { return Ok(()) };
                // SAFETY: the range lies inside input `i`'s slot, mapped
                // readable (the original, or packed memory); nothing writes
                // it while the slice lives (commit runs after the plugin).
                let bytes = unsafe { mem.slice(slot.addr + from, len as usize) };
                dst.write_all_at(bytes, to)
            }
        }
    }

    /// Writes the current bytes of input `i` into `file` (from offset 0) and
    /// syncs it: for packed inputs, whose writes live in memory.
    pub fn write_input_to(&self, i: usize, file: &File) -> io::Result<()> {
        let seg = &self.segments[i];
        let mut pos = 0u64;
        for (_, bytes) in self.slices(seg.start, seg.start + seg.len) {
            file.write_all_at(bytes, pos)?;
            pos += bytes.len() as u64;
        }
        file.sync_all()
    }

    /// Completes input `i`'s staged copy, if it has one: copies in the
    /// ranges the plugin did not write, from the input (hole-aware), and
    /// `fsync`s it. Returns whether the input has a staged copy.
    pub fn finish_staged(&self, i: usize) -> io::Result<bool> {
        let Backing::CopyOnWrite { copies, .. } = &self.backing else {
            return Ok(false);
        };
        let Some(copy) = copies.get(i).and_then(OnceLock::get) else {
            return Ok(false);
        };
        let seg = &self.segments[i];
        for (a, b) in self.unwritten(seg.start, seg.start + seg.len) {
            self.copy_input_span(i, a - seg.start, copy, a - seg.start, b - a)?;
        }
        copy.sync_all()?;
        Ok(true)
    }

    /// How many bytes of input `i` differ from the file on disk.
    pub fn changed_bytes(&self, i: usize) -> io::Result<u64> {
        let seg = &self.segments[i];
        let input = &self.inputs[i];
        let mut changed = 0u64;
        let mut now = vec![0u8; (1 << 20).min(seg.len as usize)];
        let mut before = vec![0u8; now.len()];
        let reopened;
        let file = match input.file() {
            Some(f) => f,
            None => {
                reopened = File::open(&input.path)?;
                &reopened
            }
        };
        let mut pos = 0u64;
        while pos < seg.len {
            let n = now.len().min((seg.len - pos) as usize);
            self.read_into(seg.start + pos, &mut now[..n]);
            file.read_exact_at(&mut before[..n], pos)?;
            changed += now[..n]
                .iter()
                .zip(&before[..n])
                .filter(|(a, b)| a != b)
                .count() as u64;
            pos += n as u64;
        }
        Ok(changed)
    }

    /// The bytes of the whole region, for tests and small regions: one copy.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.size() as usize];
        self.read_into(0, &mut v);
        v
    }
}

/// How many bytes written to an `--output` file start its writeback: the
/// disk then works while the plugin does, and the `fsync` at commit waits
/// only for the tail (without it, 1 GiB of dirty pages stays below the
/// kernel's background threshold until the commit).
const WRITEBACK_EVERY: u64 = 32 << 20;

/// Starts writing `file`'s dirty pages back, without waiting
/// (`sync_file_range(SYNC_FILE_RANGE_WRITE)`). Only a hint: errors are left
/// to the `fsync` at commit.
fn start_writeback(file: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: `file` is an open descriptor for the call's duration; the call
    // reads no memory of ours.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}

/// The ranges of `w` (disjoint, start -> end) that overlap `[start, end)`,
/// clipped to it, in order.
fn written_in(
    w: &BTreeMap<u64, u64>,
    start: u64,
    end: u64,
) -> impl Iterator<Item = (u64, u64)> + '_ {
    let first = w
        .range(..=start)
        .next_back()
        .filter(|&(_, &e)| e > start)
        .map(|(&s, &e)| (s, e));
    let rest = w
        .range(start.saturating_add(1)..end.max(start.saturating_add(1)))
        .map(|(&s, &e)| (s, e));
    first
        .into_iter()
        .chain(rest)
        .map(move |(s, e)| (s.max(start), e.min(end)))
}

/// Adds `[s, e)` to a set of disjoint, non-adjacent ranges (start -> end),
/// merging it with those it overlaps or touches.
fn record(w: &mut BTreeMap<u64, u64>, mut s: u64, mut e: u64) {
    if let Some((&ps, &pe)) = w.range(..=s).next_back() {
        if pe >= s {
            s = ps;
            e = e.max(pe);
            w.remove(&ps);
        }
    }
    while let Some((&ns, &ne)) = w.range(s..).next() {
        if ns > e {
            break;
        }
        e = e.max(ne);
        w.remove(&ns);
    }
    w.insert(s, e);
}

/// Checks the arguments of a `find` over a region of `size` bytes.
fn check_find(
    size: u64,
    pattern: &[u8],
    start: u64,
    end: u64,
    limit: u32,
) -> Result<(), AccessError> {
    if start > end || end > size {
        return Err(AccessError::OutOfRange(OutOfRange {
            at: i64::try_from(start).unwrap_or(i64::MAX),
            len: end.saturating_sub(start),
            size,
        }));
    }
    if pattern.len() as u64 > MAX_READ {
        return Err(AccessError::TooLarge { limit: MAX_READ });
    }
    if u64::from(limit) > MAX_FIND_RESULTS {
        return Err(AccessError::TooLarge {
            limit: MAX_FIND_RESULTS,
        });
    }
    Ok(())
}

/// The search behind every `find`: up to `limit` non-overlapping matches of
/// `pattern` inside `[start, end)`, leftmost first, over `slices`: the bytes
/// of `[start, end)` in order, each with its global offset, contiguous (they
/// may come from different places in memory). Each slice is searched in
/// place; a match that straddles slices is found in a window of at most
/// `2 * (pattern.len() - 1)` bytes gathered around the seam.
fn find_in(
    slices: &[(u64, &[u8])],
    pattern: &[u8],
    start: u64,
    end: u64,
    limit: usize,
) -> Vec<u64> {
    let mut found = Vec::new();
    if pattern.is_empty() {
        return found;
    }
    let finder = memchr::memmem::Finder::new(pattern);
    let m = pattern.len() as u64;
    let mut pos = start;
    let mut i = 0;
    while found.len() < limit && pos < end {
        // The slice holding `pos`.
        while i < slices.len() && slices[i].0 + slices[i].1.len() as u64 <= pos {
            i += 1;
        }
        let Some(&(s0, bytes)) = slices.get(i) else {
            break;
        };
        let t = (s0 + bytes.len() as u64).min(end);
        let hay = &bytes[(pos - s0) as usize..(t - s0) as usize];
        if let Some(k) = finder.find(hay) {
            found.push(pos + k as u64);
            pos += k as u64 + m;
            continue;
        }
        // None inside this slice: one may still straddle its end.
        if t < end && m > 1 {
            let ws = t.saturating_sub(m - 1).max(pos);
            let we = (t + m - 1).min(end);
            let window = gather(&slices[i..], ws, we);
            if let Some(k) = finder.find(&window) {
                let p = ws + k as u64;
                if p < t {
                    found.push(p);
                    pos = p + m;
                    continue;
                }
            }
        }
        pos = t;
        i += 1;
    }
    found
}

/// The bytes of `[from, to)` copied out of contiguous `slices` that start at
/// or before `from`.
fn gather(slices: &[(u64, &[u8])], from: u64, to: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity((to - from) as usize);
    for &(s0, bytes) in slices {
        let s1 = s0 + bytes.len() as u64;
        if s1 <= from {
            continue;
        }
        if s0 >= to {
            break;
        }
        let a = from.max(s0);
        let b = to.min(s1);
        out.extend_from_slice(&bytes[(a - s0) as usize..(b - s0) as usize]);
    }
    out
}

/// Copies `len` bytes from the start of `src` to `dst` at `at`, in the kernel
/// where it can (`copy_file_range`, a reflink on file systems that share
/// extents), through a buffer where it cannot (across some file systems).
/// Only the data extents of `src` are copied (`SEEK_DATA`/`SEEK_HOLE`), so a
/// sparse input stays sparse and costs no time for its holes; `dst` is
/// extended to `at + len` if it is shorter.
pub(crate) fn copy_range(src: &File, dst: &File, at: u64, len: u64) -> io::Result<()> {
    copy_span(src, 0, dst, at, len)
}

/// Copies `len` bytes of `src` from offset `from` to `dst` at `to`, as
/// [`copy_range`] does (in the kernel, data extents only); `dst` is extended
/// to `to + len` if it is shorter.
pub(crate) fn copy_span(src: &File, from: u64, dst: &File, to: u64, len: u64) -> io::Result<()> {
    use rustix::fs::{seek, SeekFrom};
    use rustix::io::Errno;
    let end = from + len;
    let mut pos = from;
    while pos < end {
        let data = match seek(src, SeekFrom::Data(pos)) {
            Ok(d) => d,
            Err(Errno::NXIO) => end, // only a hole is left
            Err(Errno::INVAL | Errno::OPNOTSUPP) => pos, // no hole support: all data
            Err(e) => return Err(e.into()),
        };
        if data >= end {
            break;
        }
        let hole = match seek(src, SeekFrom::Hole(data)) {
            Ok(h) => h.min(end),
            Err(_) => end,
        };
        copy_data(src, dst, data, to + (data - from), hole - data)?;
        pos = hole;
    }
    // A hole at the end and a file cut short look alike to SEEK_DATA.
    if src.metadata()?.len() < end {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "file shrank while being copied",
        ));
    }
    if dst.metadata()?.len() < to + len {
        dst.set_len(to + len)?;
    }
    Ok(())
}

/// Copies one data extent, `len` bytes at `from` in `src` to `to` in `dst`.
fn copy_data(src: &File, dst: &File, from: u64, to: u64, len: u64) -> io::Result<()> {
    let (mut off_in, mut off_out) = (from, to);
    let end = from + len;
    while off_in < end {
        let want = (end - off_in).min(1 << 30) as usize;
        match rustix::fs::copy_file_range(src, Some(&mut off_in), dst, Some(&mut off_out), want) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file shrank while being copied",
                ))
            }
            Ok(_) => {}
            Err(
                rustix::io::Errno::XDEV
                | rustix::io::Errno::NOSYS
                | rustix::io::Errno::INVAL
                | rustix::io::Errno::OPNOTSUPP,
            ) => return copy_buffered(src, dst, off_in, off_out, end - off_in),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn copy_buffered(src: &File, dst: &File, from: u64, to: u64, len: u64) -> io::Result<()> {
    let mut buf = vec![0u8; (1 << 20).min(len as usize)];
    let mut done = 0u64;
    while done < len {
        let n = buf.len().min((len - done) as usize);
        src.read_exact_at(&mut buf[..n], from + done)?;
        dst.write_all_at(&buf[..n], to + done)?;
        done += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A small deterministic generator (xorshift64*), so failures reproduce.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            if n == 0 {
                0
            } else {
                self.next() % n
            }
        }
    }

    fn make_files(dir: &Path, lens: &[u64], rng: &mut Rng) -> (Vec<PathBuf>, Vec<Vec<u8>>) {
        let mut paths = Vec::new();
        let mut contents = Vec::new();
        for (i, &len) in lens.iter().enumerate() {
            let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let p = dir.join(format!("f{i}"));
            std::fs::File::create(&p).unwrap().write_all(&data).unwrap();
            paths.push(p);
            contents.push(data);
        }
        (paths, contents)
    }

    use std::path::PathBuf;

    /// Stages copies as `copy<index>` in a directory.
    struct TestStage(PathBuf);

    impl Stage for TestStage {
        fn stage(&mut self, index: usize, input: &InputFile) -> Result<File> {
            let path = self.0.join(format!("copy{index}"));
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
                .unwrap();
            f.set_len(input.len).unwrap();
            Ok(f)
        }
    }

    /// Random file sets, random reads and writes, always checked against a
    /// plain in-memory concatenation; then the files themselves are checked
    /// after a flush.
    #[test]
    fn random_access_matches_concatenation() {
        let page = rustix::param::page_size() as u64;
        let interesting = [
            0,
            1,
            page - 1,
            page,
            page + 1,
            (64 << 10) - 1,
            64 << 10,
            (64 << 10) + 1,
            (2 << 20) - 1,
            (2 << 20) + 1,
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..12 {
            let dir = tempfile::tempdir().unwrap();
            let n = 1 + rng.below(6) as usize;
            let lens: Vec<u64> = (0..n)
                .map(|_| {
                    if rng.below(3) == 0 {
                        rng.below(100_000)
                    } else {
                        interesting[rng.below(interesting.len() as u64) as usize]
                    }
                })
                .collect();
            let (paths, contents) = make_files(dir.path(), &lens, &mut rng);
            let mut model: Vec<u8> = contents.concat();
            let inputs = open_inputs(&paths, true).unwrap();
            let stage = TestStage(dir.path().to_path_buf());
            let region = Region::open(inputs, Access::CopyOnWrite(Box::new(stage))).unwrap();
            assert_eq!(region.size(), model.len() as u64, "round {round} {lens:?}");
            assert_eq!(region.to_vec(), model, "round {round} {lens:?}");
            let size = model.len() as u64;
            for _ in 0..300 {
                let start = rng.below(size + 1);
                let len = rng.below(size - start + 1).min(1 << 20);
                let at = if rng.below(2) == 0 {
                    start as i64
                } else {
                    start as i64 - size as i64
                };
                if at < 0 || start < size {
                    if rng.below(2) == 0 {
                        let got = region.read(at, len).unwrap();
                        assert_eq!(got, &model[start as usize..(start + len) as usize]);
                    } else {
                        let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                        region
                            .write(at, &data)
                            .map_err(|e| format!("{e:?}"))
                            .unwrap();
                        model[start as usize..(start + len) as usize].copy_from_slice(&data);
                    }
                }
                // Out of range: never a crash, always an error.
                assert!(region.read(size as i64, 1).is_err());
                assert!(region.read(-(size as i64) - 1, 1).is_err());
            }
            assert_eq!(region.to_vec(), model);
            // The originals are untouched; each written file's copy (staged
            // file or packed memory) holds its part of the model.
            let mut pos = 0;
            for (i, (p, &len)) in paths.iter().zip(&lens).enumerate() {
                assert_eq!(
                    std::fs::read(p).unwrap(),
                    contents[i],
                    "round {round} {p:?}"
                );
                let part = &model[pos..pos + len as usize];
                let copy = dir.path().join(format!("copy{i}"));
                if region.finish_staged(i).unwrap() {
                    assert_eq!(std::fs::read(&copy).unwrap(), part, "round {round} {i}");
                } else if region.is_written(i) {
                    let f = std::fs::File::create(&copy).unwrap();
                    region.write_input_to(i, &f).unwrap();
                    assert_eq!(std::fs::read(&copy).unwrap(), part, "round {round} {i}");
                } else {
                    assert_eq!(part, &contents[i][..]);
                }
                pos += len as usize;
            }
        }
    }

    /// `--output`: random writes go to the output file, reads see them, and
    /// `finish_output` copies in exactly the bytes never written, so the file
    /// ends up equal to the model (sparse inputs included).
    #[test]
    fn output_region_matches_concatenation_after_random_writes() {
        let page = rustix::param::page_size() as u64;
        let mut rng = Rng(0x0dd_5eed);
        for round in 0..10 {
            let dir = tempfile::tempdir().unwrap();
            let n = 1 + rng.below(5) as usize;
            let lens: Vec<u64> = (0..n)
                .map(|_| match rng.below(4) {
                    0 => rng.below(200),
                    1 => page * (1 + rng.below(40)),
                    _ => rng.below(300_000),
                })
                .collect();
            let (paths, contents) = make_files(dir.path(), &lens, &mut rng);
            // One sparse input: a hole, then data.
            let sparse = dir.path().join("sparse");
            let f = std::fs::File::create(&sparse).unwrap();
            f.set_len(3 << 20).unwrap();
            f.write_all_at(b"tail", (3 << 20) - 4).unwrap();
            let mut paths = paths;
            paths.push(sparse.clone());
            let mut model: Vec<u8> = contents.concat();
            model.extend(std::fs::read(&sparse).unwrap());
            let out = dir.path().join("out");
            let target = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&out)
                .unwrap();
            let inputs = open_inputs(&paths, false).unwrap();
            let region = Region::open(inputs, Access::Output(target, out.clone())).unwrap();
            let size = model.len() as u64;
            for _ in 0..rng.below(60) {
                let start = rng.below(size);
                let len = rng.below(size - start + 1).min(1 << 18);
                let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                region
                    .write(start as i64, &data)
                    .map_err(|e| format!("{e:?}"))
                    .unwrap();
                model[start as usize..(start + len) as usize].copy_from_slice(&data);
                let at = rng.below(size);
                let n = rng.below(size - at + 1).min(1 << 18);
                assert_eq!(
                    region.read(at as i64, n).unwrap(),
                    &model[at as usize..(at + n) as usize],
                    "round {round}"
                );
            }
            assert_eq!(region.to_vec(), model, "round {round} {lens:?}");
            region.finish_output().unwrap();
            drop(region);
            assert_eq!(
                std::fs::read(&out).unwrap(),
                model,
                "round {round} {lens:?}"
            );
            for (p, c) in paths.iter().zip(&contents) {
                assert_eq!(&std::fs::read(p).unwrap(), c, "inputs untouched");
            }
        }
    }

    #[test]
    fn read_only_region_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        let (paths, contents) = make_files(dir.path(), &[10, 5000], &mut Rng(7));
        let region = Region::open(open_inputs(&paths, false).unwrap(), Access::ReadOnly).unwrap();
        assert!(matches!(
            region.write(0, b"x"),
            Err(WriteError::Access(AccessError::ReadOnly))
        ));
        assert_eq!(region.to_vec(), contents.concat());
        assert_eq!(region.read(-1, 1).unwrap(), vec![contents[1][4999]]);
        // Bounds are checked first: a huge read of a small region is out of
        // range rather than too large.
        assert!(matches!(
            region.read(0, MAX_READ + 1),
            Err(AccessError::OutOfRange(_))
        ));
    }

    #[test]
    fn locate_reaches_back_into_earlier_files() {
        let dir = tempfile::tempdir().unwrap();
        let (paths, _) = make_files(dir.path(), &[10, 0, 7], &mut Rng(3));
        let region = Region::open(open_inputs(&paths, false).unwrap(), Access::ReadOnly).unwrap();
        assert_eq!(region.locate(2, 0), Ok(10));
        assert_eq!(region.locate(2, -3), Ok(7));
        assert_eq!(region.locate(2, 7), Ok(17));
        assert_eq!(region.locate(1, 0), Ok(10));
        assert!(region.locate(2, 8).is_err());
        assert!(region.locate(0, -1).is_err());
        assert!(region.locate(0, i64::MIN).is_err());
        assert_eq!(
            region.locate(3, 0),
            Err(AccessError::NoSuchSegment { count: 3 })
        );
    }

    /// Sizes are fixed when the files are opened: a file that grows before
    /// it is mapped is seen (and written) at its opened length only, and the
    /// bytes appended are left alone.
    #[test]
    fn file_grown_after_opening_is_mapped_at_its_opened_length() {
        let dir = tempfile::tempdir().unwrap();
        // Mapped (100 KiB) and packed (10 bytes) files, both writable.
        let (paths, contents) = make_files(dir.path(), &[100 << 10, 10], &mut Rng(21));
        let inputs = open_inputs(&paths, true).unwrap();
        for p in &paths {
            let mut f = std::fs::OpenOptions::new().append(true).open(p).unwrap();
            f.write_all(b"APPENDED").unwrap();
        }
        let stage = TestStage(dir.path().to_path_buf());
        let region = Region::open(inputs, Access::CopyOnWrite(Box::new(stage))).unwrap();
        assert_eq!(region.size(), (100 << 10) + 10);
        assert_eq!(region.to_vec(), contents.concat());
        let ones = vec![1u8; region.size() as usize];
        region
            .write(0, &ones)
            .map_err(|e| format!("{e:?}"))
            .unwrap();
        // The mapped file's copy holds its opened length, all written; the
        // packed one's bytes are in memory; the originals are untouched,
        // appended bytes included.
        let copy0 = dir.path().join("copy0");
        assert!(region.finish_staged(0).unwrap());
        let copy = std::fs::read(&copy0).unwrap();
        assert_eq!(copy, vec![1u8; 100 << 10]);
        let packed = dir.path().join("packed1");
        region
            .write_input_to(1, &std::fs::File::create(&packed).unwrap())
            .unwrap();
        assert_eq!(std::fs::read(&packed).unwrap(), vec![1u8; 10]);
        drop(region);
        for (p, c) in paths.iter().zip(&contents) {
            let now = std::fs::read(p).unwrap();
            assert_eq!(&now[..c.len()], &c[..], "{p:?}");
            assert_eq!(&now[c.len()..], b"APPENDED", "{p:?}");
        }
    }

    /// A file that shrinks between the check and the mapping would fault on
    /// its lost pages: it is refused with an input error naming it.
    #[test]
    fn file_shrunk_after_opening_is_refused_before_the_run() {
        for (writable, len) in [(false, 100 << 10), (true, 100 << 10), (true, 10)] {
            let dir = tempfile::tempdir().unwrap();
            let (paths, _) = make_files(dir.path(), &[5, len], &mut Rng(22));
            let inputs = open_inputs(&paths, writable).unwrap();
            std::fs::OpenOptions::new()
                .write(true)
                .open(&paths[1])
                .unwrap()
                .set_len(len / 2)
                .unwrap();
            let access = if writable {
                Access::CopyOnWrite(Box::new(TestStage(dir.path().to_path_buf())))
            } else {
                Access::ReadOnly
            };
            let err = Region::open(inputs, access).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Input);
            let msg = err.message();
            assert!(
                msg.starts_with(&format!(
                    "{}: changed size since it was opened",
                    paths[1].display()
                )),
                "{msg}"
            );
            assert!(
                msg.contains(&format!("was {len} bytes, now {}", len / 2)),
                "{msg}"
            );
        }
        // Through --output too.
        let dir = tempfile::tempdir().unwrap();
        let (paths, _) = make_files(dir.path(), &[100 << 10], &mut Rng(23));
        let inputs = open_inputs(&paths, false).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&paths[0])
            .unwrap()
            .set_len(10)
            .unwrap();
        let out = dir.path().join("out");
        let target = std::fs::File::create(&out).unwrap();
        let err = Region::open(inputs, Access::Output(target, out)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Input);
        assert!(
            err.message().contains("changed size since it was opened"),
            "{}",
            err.message()
        );
    }

    /// Read-only, inputs are closed once checked and reopened to be mapped
    /// or copied: a path that names another file by then is refused, and
    /// the region holds no descriptor of its inputs.
    #[test]
    fn read_only_inputs_are_reopened_checked_and_closed() {
        let dir = tempfile::tempdir().unwrap();
        let (paths, contents) = make_files(dir.path(), &[100 << 10, 10], &mut Rng(31));
        for victim in 0..2 {
            let inputs = open_inputs(&paths, false).unwrap();
            assert!(inputs.iter().all(|f| f.file().is_none()));
            let other = dir.path().join("other");
            std::fs::write(&other, &contents[victim]).unwrap();
            std::fs::rename(&other, &paths[victim]).unwrap();
            let err = Region::open(inputs, Access::ReadOnly).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Input);
            assert!(
                err.message().starts_with(&format!(
                    "{}: was replaced by another file since it was opened",
                    paths[victim].display()
                )),
                "{}",
                err.message()
            );
        }
        let region = Region::open(open_inputs(&paths, false).unwrap(), Access::ReadOnly).unwrap();
        assert!(region.inputs().iter().all(|f| f.file().is_none()));
        assert_eq!(region.to_vec(), contents.concat());
    }

    /// Past the mapping budget, files are packed into the packing file
    /// (private mappings): the bytes are the concatenation's, read-only and
    /// copy-on-write alike, and writes to packed files never reach the
    /// originals.
    #[test]
    fn past_the_mapping_budget_files_are_packed_into_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let lens = vec![(64 << 10) + 1; 60];
        let (paths, contents) = make_files(dir.path(), &lens, &mut Rng(32));
        let mut params = LayoutParams::for_this_machine();
        params.max_mappings = 12;
        for writable in [false, true] {
            let inputs = open_inputs(&paths, writable).unwrap();
            let access = if writable {
                Access::CopyOnWrite(Box::new(TestStage(dir.path().to_path_buf())))
            } else {
                Access::ReadOnly
            };
            let region = Region::open_with(inputs, access, &params).unwrap();
            let layout = region.layout();
            assert!(layout.mappings() <= 12, "{}", layout.mappings());
            let kinds: Vec<Placement> = layout.slots().iter().map(|s| s.placement).collect();
            assert!(kinds.contains(&Placement::Packed) && kinds.contains(&Placement::Mapped));
            let mut model = contents.concat();
            assert_eq!(region.to_vec(), model);
            if writable {
                let ones = vec![1u8; 200_000];
                region
                    .write(1000, &ones)
                    .map_err(|e| format!("{e:?}"))
                    .unwrap();
                model[1000..201_000].copy_from_slice(&ones);
                assert_eq!(region.to_vec(), model);
            }
            drop(region);
            for (p, c) in paths.iter().zip(&contents) {
                assert_eq!(&std::fs::read(p).unwrap(), c, "{p:?}");
            }
            for i in 0..lens.len() {
                let _ = std::fs::remove_file(dir.path().join(format!("copy{i}")));
            }
        }
    }

    #[test]
    fn many_small_files_use_one_mapping() {
        let dir = tempfile::tempdir().unwrap();
        let lens: Vec<u64> = (0..3000).map(|i| i % 50).collect();
        let (paths, contents) = make_files(dir.path(), &lens, &mut Rng(11));
        let region = Region::open(open_inputs(&paths, false).unwrap(), Access::ReadOnly).unwrap();
        assert_eq!(region.layout().mappings(), 1);
        assert_eq!(region.to_vec(), contents.concat());
    }
}
