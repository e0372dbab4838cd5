//! The write path: where a region's writes go ([`Backing`]: nowhere, staged
//! copies of the inputs, or one output file), staging a file's copy on its
//! first write, and the written ranges that later reads and the commit
//! consult. See the parent module's docs for why writes go to a shadow.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, OnceLock};

use super::map::Reservation;
use super::open::map_error;
use super::{AccessError, Placement, Region, Stage, WriteError};
use crate::error::{describe_io, Error, ErrorKind, Result};

/// Where writes go.
pub(super) enum Backing {
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

impl Region {
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
    pub(super) fn write_at(&self, start: u64, data: &[u8]) -> Result<()> {
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
                    // a private read-write mapping (of the packing file, or
                    // anonymous memory if none could be made); the range was
                    // checked by `resolve`; `src` lies outside the
                    // reservation (guest memory or a host buffer). No slice
                    // into the range is alive: a whole region is used by one
                    // thread at a time (it is not `Sync`), reads hold their
                    // slices only within one call, and in a parallel run
                    // only the chunk that owns these bytes touches them
                    // (other chunks read their halo from snapshots).
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
            self.written.record(wrote);
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
    pub(super) fn stage(&self, i: usize) -> Result<()> {
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

    /// The ranges of `[start, end)` never written to the shadow: what the
    /// commit copies in from the inputs.
    pub(crate) fn unwritten(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        self.written.gaps(start, end)
    }

    /// The output file and its path, for an [`super::Access::Output`]
    /// region.
    pub(crate) fn output_target(&self) -> Option<(&File, &Path)> {
        match &self.backing {
            Backing::Output { target, path, .. } => Some((target, path)),
            _ => None,
        }
    }

    /// Input `i`'s staged copy, if it has one (a copy-on-write region whose
    /// mapped input `i` was written).
    pub(crate) fn staged_copy(&self, i: usize) -> Option<&File> {
        match &self.backing {
            Backing::CopyOnWrite { copies, .. } => copies.get(i).and_then(OnceLock::get),
            _ => None,
        }
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
