//! A region split into chunks for a parallel run: the only way several
//! threads touch one [`Region`] at once.
//!
//! A [`ChunkPlan`] takes the region (so no other handle to it exists while
//! chunks run), cuts it into contiguous chunks and hands each out exactly
//! once, as a [`ChunkView`], to whichever thread asks next
//! ([`ChunkPlan::next`]). A view enforces the rules of the `chunked` WIT
//! interface:
//! - writes only inside its own chunk `[start, end)`; elsewhere they fail
//!   with [`AccessError::ReadOnly`];
//! - reads and searches only inside `[start - halo, end + halo)` (clamped),
//!   else [`AccessError::OutOfRange`].
//!
//! Why these rules make sharing sound: the region's writes take `&self` and
//! copy into mapped memory, so two threads must never touch the same bytes
//! while one of them writes. Write ranges are disjoint by construction, and
//! a chunk's reads outside its own range (its halo) are served from a
//! *snapshot* taken before any chunk ran, not from the mapping that the
//! neighbour may be writing. That also makes halo bytes deterministic: they
//! are the bytes as they were before the run, whatever the neighbours do.
//! In a read-only region nothing writes, so halo reads go to the mapping.
//!
//! Shared state (the staging of copies, the per-file written flags and the
//! byte counters) is behind a mutex or atomics in [`Region`] itself; see
//! `Region::stage`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::count::count_slices;
use super::digest::digest_slices;
use super::find::{check_find, find_in};
use super::{AccessError, DigestAlgorithm, ReadView, Region, RegionAccess, Segment, WriteError};
use crate::region::layout::OutOfRange;

/// The largest halo a plugin may ask for (1 MiB): bounds the snapshot memory
/// to two halos per chunk boundary.
pub const MAX_HALO: u64 = 1 << 20;

/// A region shared by the views of one plan.
///
/// `Region` is deliberately not `Sync` (see its `_one_thread` field). This
/// wrapper is, because its only users are [`ChunkView`]s, which call on the
/// region only: its immutable tables (layout, segments, size), `stage`
/// (serialised by the region's stage mutex; flags and counters are atomics),
/// reads of bytes no one writes during the plan (its own chunk, which only
/// its own thread writes; or anything, when the region is read-only), and
/// writes inside its own chunk, which no other view may touch.
struct SharedRegion(Region);

// SAFETY: see the type's docs: every access through a view is either to
// data that is immutable for the plan's life, to atomics or mutex-guarded
// state, or to bytes of the mapping that exactly one view may write and no
// other view reads (halo reads of a writable region come from snapshots).
unsafe impl Send for SharedRegion {}
// SAFETY: as for `Send`.
unsafe impl Sync for SharedRegion {}

/// Bytes copied out of the region before any chunk ran: the halo around one
/// boundary between chunks.
#[derive(Debug)]
struct Snapshot {
    start: u64,
    bytes: Vec<u8>,
}

impl Snapshot {
    /// `[a, b)` with its global offset, if the snapshot holds it.
    fn part(&self, a: u64, b: u64) -> Option<(u64, &[u8])> {
        let end = self.start + self.bytes.len() as u64;
        (self.start <= a && b <= end).then(|| {
            (
                a,
                &self.bytes[(a - self.start) as usize..(b - self.start) as usize],
            )
        })
    }
}

/// A region cut into chunks, each handed out once.
pub struct ChunkPlan {
    region: Arc<SharedRegion>,
    /// Chunk `k` is `[bounds[k], bounds[k + 1])`.
    bounds: Vec<u64>,
    halo: u64,
    /// For a writable region: per boundary `k` (between chunks `k - 1` and
    /// `k`, so index 0 is unused), the bytes `[bounds[k] - halo, bounds[k] +
    /// halo)` as they were.
    snapshots: Vec<Option<Arc<Snapshot>>>,
    next: AtomicUsize,
    /// One past the last chunk handed out (the count, unless the plan was
    /// made for some chunks only: [`ChunkPlan::some`]).
    last: usize,
}

impl std::fmt::Debug for ChunkPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkPlan")
            .field("chunks", &self.count())
            .field("halo", &self.halo)
            .finish_non_exhaustive()
    }
}

impl ChunkPlan {
    /// Splits `region` into chunks of `chunk_size` bytes (the last may be
    /// shorter) whose reads may reach `halo` bytes beyond each side. Returns
    /// the region back if it has fewer than two chunks' worth of bytes, or
    /// if `halo` is over [`MAX_HALO`] (the caller reports it).
    pub fn new(region: Region, chunk_size: u64, halo: u64) -> Result<ChunkPlan, Box<Region>> {
        let size = region.size();
        let chunk_size = chunk_size.max(1);
        if size <= chunk_size || halo > MAX_HALO {
            return Err(Box::new(region));
        }
        let mut bounds: Vec<u64> = (0..size.div_ceil(chunk_size))
            .map(|k| k * chunk_size)
            .collect();
        bounds.push(size);
        let last = bounds.len() - 2;
        ChunkPlan::some(region, bounds, halo, 0, last)
    }

    /// A plan over `region` cut at `bounds` (`0 = b0 < b1 < ... = size`:
    /// chunk `k` is `[b_k, b_{k+1})`) that hands out only chunks
    /// `first..=last`, in order: how one process of a distributed run
    /// (`mmhost run-chunk`) runs its share. Snapshots are taken only of the
    /// boundaries those chunks read across. Returns the region back if the
    /// bounds do not cover it in increasing order, the range is not inside
    /// them, or `halo` is over [`MAX_HALO`].
    pub fn some(
        region: Region,
        bounds: Vec<u64>,
        halo: u64,
        first: usize,
        last: usize,
    ) -> Result<ChunkPlan, Box<Region>> {
        let size = region.size();
        let valid = bounds.len() >= 2
            && bounds[0] == 0
            && bounds[bounds.len() - 1] == size
            && bounds.windows(2).all(|w| w[0] < w[1])
            && first <= last
            && last < bounds.len() - 1
            && halo <= MAX_HALO;
        if !valid {
            return Err(Box::new(region));
        }
        let snapshots = if region.writable() && halo > 0 {
            bounds
                .iter()
                .enumerate()
                .map(|(k, &b)| {
                    (k > 0 && b < size && k >= first && k <= last + 1).then(|| {
                        let start = b.saturating_sub(halo);
                        let end = (b + halo).min(size);
                        let mut bytes = vec![0u8; (end - start) as usize];
                        region.read_into(start, &mut bytes);
                        Arc::new(Snapshot { start, bytes })
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(ChunkPlan {
            region: Arc::new(SharedRegion(region)),
            bounds,
            halo,
            snapshots,
            next: AtomicUsize::new(first),
            last: last + 1,
        })
    }

    /// Bytes read and written through the views so far.
    pub fn stats(&self) -> super::Stats {
        self.region.0.stats()
    }

    /// How many chunks there are.
    pub fn count(&self) -> usize {
        self.bounds.len() - 1
    }

    /// The next chunk not handed out yet, in order, or `None` when all have
    /// been. Safe to call from any thread; each chunk comes out once.
    pub fn next(&self) -> Option<ChunkView> {
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        if k >= self.last {
            // Keep the counter from wrapping however often it is asked.
            self.next.store(self.last, Ordering::Relaxed);
            return None;
        }
        let (start, end) = (self.bounds[k], self.bounds[k + 1]);
        let size = self.bounds[self.count()];
        let snap = |b: usize| self.snapshots.get(b).cloned().flatten();
        Some(ChunkView {
            region: self.region.clone(),
            index: k as u32,
            count: self.count() as u32,
            start,
            end,
            halo: self.halo,
            lo: start.saturating_sub(self.halo),
            hi: end.saturating_add(self.halo).min(size),
            before: snap(k),
            after: snap(k + 1),
        })
    }

    /// Stops handing out chunks (after a failure).
    pub fn stop(&self) {
        self.next.store(self.last, Ordering::Relaxed);
    }

    /// The region back, once every view has been dropped; `None` while one
    /// is still alive.
    pub fn into_region(self) -> Option<Region> {
        Arc::try_unwrap(self.region).ok().map(|shared| shared.0)
    }
}

/// One chunk of a [`ChunkPlan`]: the region as a `run-chunk` call sees it.
pub struct ChunkView {
    region: Arc<SharedRegion>,
    index: u32,
    count: u32,
    start: u64,
    end: u64,
    halo: u64,
    /// The readable window `[lo, hi)`.
    lo: u64,
    hi: u64,
    /// Snapshots of the boundaries at `start` and `end` (writable regions
    /// with a halo only).
    before: Option<Arc<Snapshot>>,
    after: Option<Arc<Snapshot>>,
}

impl std::fmt::Debug for ChunkView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkView")
            .field("index", &self.index)
            .field("count", &self.count)
            .field("start", &self.start)
            .field("end", &self.end)
            .field("halo", &self.halo)
            .finish_non_exhaustive()
    }
}

impl ChunkView {
    fn region(&self) -> &Region {
        &self.region.0
    }

    /// Index, count, start, end and halo of the chunk.
    pub fn bounds(&self) -> (u32, u32, u64, u64, u64) {
        (self.index, self.count, self.start, self.end, self.halo)
    }

    /// The error for an access outside the readable window.
    fn outside(&self, at: i64, len: u64) -> AccessError {
        AccessError::OutOfRange(OutOfRange {
            at,
            len,
            size: self.size(),
        })
    }

    /// Checks that `[start, end)` is readable from this chunk.
    fn check_window(&self, at: i64, start: u64, end: u64) -> Result<(), AccessError> {
        if start < self.lo || end > self.hi {
            return Err(self.outside(at, end - start));
        }
        Ok(())
    }

    /// The memory of `[start, end)` (inside the window) as slices with their
    /// global offsets: halo parts of a writable region from the snapshots,
    /// the rest from the mapping.
    fn slices(&self, start: u64, end: u64) -> Vec<(u64, &[u8])> {
        if !self.writable() {
            return self.region().slices(start, end);
        }
        let mut out = Vec::new();
        let (a, b) = (start, end.min(self.start));
        if a < b {
            // `check_window` keeps reads inside the halo, which the
            // snapshot covers.
            out.extend(self.before.as_deref().and_then(|s| s.part(a, b)));
        }
        let (a, b) = (start.max(self.start), end.min(self.end));
        if a < b {
            out.extend(self.region().slices(a, b));
        }
        let (a, b) = (start.max(self.end), end);
        if a < b {
            out.extend(self.after.as_deref().and_then(|s| s.part(a, b)));
        }
        out
    }
}

/// A chunk's view of the region: writes only inside the chunk, reads and
/// searches only inside its window (see the module docs).
impl RegionAccess for ChunkView {
    /// The size of the whole region.
    fn size(&self) -> u64 {
        self.region().size()
    }

    /// The segment table of the whole region.
    fn segments(&self) -> &[Segment] {
        self.region().segments()
    }

    /// Whether the run allows writes (inside the chunk).
    fn writable(&self) -> bool {
        self.region().writable()
    }

    /// As [`Region::locate`].
    fn locate(&self, segment: u32, delta: i64) -> Result<u64, AccessError> {
        self.region().locate(segment, delta)
    }

    /// As [`Region::read_view`], inside the window.
    fn read_view(&self, at: i64, len: u64) -> Result<ReadView, AccessError> {
        let start = self.region().check_read(at, len)?;
        self.check_window(at, start, start + len)?;
        let view = ReadView::of(&self.slices(start, start + len));
        self.region().count_read(len);
        Ok(view)
    }

    /// As [`Region::write`], inside the chunk.
    fn write(&self, at: i64, data: &[u8]) -> Result<(), WriteError> {
        let region = self.region();
        if !region.writable() {
            return Err(WriteError::Access(AccessError::ReadOnly));
        }
        let start = region
            .resolve(at, data.len() as u64)
            .map_err(WriteError::Access)?;
        if start < self.start || start + data.len() as u64 > self.end {
            return Err(WriteError::Access(AccessError::ReadOnly));
        }
        region.write_at(start, data).map_err(WriteError::Stage)
    }

    /// As [`Region::find`], inside the window.
    fn find(
        &self,
        pattern: &[u8],
        start: u64,
        end: u64,
        limit: u32,
    ) -> Result<Vec<u64>, AccessError> {
        check_find(self.size(), pattern, start, end, limit)?;
        self.check_window(i64::try_from(start).unwrap_or(i64::MAX), start, end)?;
        let slices = self.slices(start, end);
        let found = find_in(&slices, pattern, start, end, limit as usize);
        self.region().count_scanned(super::find_scanned(
            pattern.len(),
            start,
            end,
            limit,
            &found,
        ));
        Ok(found)
    }

    /// As [`Region::digest`], inside the window.
    fn digest(
        &self,
        algorithm: DigestAlgorithm,
        at: i64,
        len: u64,
    ) -> Result<Vec<u8>, AccessError> {
        let start = self.region().resolve(at, len)?;
        self.check_window(at, start, start + len)?;
        let out = digest_slices(algorithm, &self.slices(start, start + len));
        self.region().count_read(len);
        Ok(out)
    }

    /// As [`Region::count`], inside the window.
    fn count(&self, byte: u8, at: i64, len: u64) -> Result<u64, AccessError> {
        let start = self.region().resolve(at, len)?;
        self.check_window(at, start, start + len)?;
        let n = count_slices(byte, &self.slices(start, start + len));
        self.region().count_read(len);
        Ok(n)
    }
}
