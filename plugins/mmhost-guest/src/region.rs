//! The mapped region: every input file, concatenated.
//!
//! Byte N of the region is byte N of the input files concatenated in the order
//! the user gave them. Offsets are 64-bit and global; wherever a function
//! takes a signed offset `at`, a negative value counts from the end as in
//! Python (-1 is the last byte). There are no short reads or writes: the whole
//! range must lie inside the region, else [`RegionError::OutOfRange`].
//!
//! For anything bigger than a few MiB, work in chunks: [`chunks`] iterates
//! over the region (or [`chunks_in`] over a range), and [`transform_chunks`]
//! rewrites the region in place one chunk at a time.

use std::ops::Range;

use crate::bindings::mmhost::plugin::region as wit;
use crate::{Progress, RegionError};

/// One input file's place in the region: its `name` as the user gave it, the
/// global offset `start` of its first byte and its length `len`.
pub use wit::Segment;

/// The host's limit on the length of a single [`read`]: 64 MiB.
pub const MAX_READ: u64 = 64 << 20;

/// The default chunk size of [`chunks`] and a good one for
/// [`transform_chunks`]: 1 MiB.
pub const DEFAULT_CHUNK: usize = 1 << 20;

/// Converts a global offset to the signed form the host takes. Offsets past
/// `i64::MAX` cannot be in a region, so they saturate (and the host reports
/// them as out of range).
fn signed(offset: u64) -> i64 {
    i64::try_from(offset).unwrap_or(i64::MAX)
}

/// The total size of the region in bytes: the sum of all file lengths.
pub fn size() -> u64 {
    wit::size()
}

/// The input files in order, with their global start offsets. Segment `i + 1`
/// starts where segment `i` ends.
pub fn segments() -> Vec<Segment> {
    wit::segments()
}

/// Whether [`write()`] is allowed in this run (`--in-place` or `--output`).
pub fn writable() -> bool {
    wit::writable()
}

/// Reads `len` bytes starting at `at` (negative: from the end).
///
/// The whole range must lie inside the region, and `len` may be at most
/// [`MAX_READ`]. Reads that cross file boundaries return the bytes exactly as
/// in the concatenation.
pub fn read(at: i64, len: u64) -> Result<Vec<u8>, RegionError> {
    wit::read(at, len).map_err(|e| RegionError::from_wit(e, len, 0))
}

/// Writes `data` starting at `at` (negative: from the end).
///
/// Writes never change the size of the region: the whole range must lie
/// inside it. Fails with [`RegionError::ReadOnly`] unless the run allows
/// writes; a write that fails changes nothing.
pub fn write(at: i64, data: &[u8]) -> Result<(), RegionError> {
    wit::write(at, data).map_err(|e| RegionError::from_wit(e, data.len() as u64, 0))
}

/// The global offset of byte `delta` of segment `segment` (an index into
/// [`segments`]).
///
/// A negative delta reaches back into the files before it; a delta of the
/// segment's length is its end. The result is in `0..=size()`.
pub fn locate(segment: u32, delta: i64) -> Result<u64, RegionError> {
    wit::locate(segment, delta).map_err(|e| RegionError::from_wit(e, 0, segment))
}

/// Up to `limit` non-overlapping occurrences of `pattern` wholly inside the
/// global range `range`, leftmost first (as Python's `bytes.count` takes
/// them), searched by the host over the mapping: nothing is copied into the
/// plugin but the offsets. Fewer than `limit` results mean there are no more.
/// An empty pattern finds nothing.
pub fn find(pattern: &[u8], range: Range<u64>, limit: u32) -> Result<Vec<u64>, RegionError> {
    wit::find(pattern, range.start, range.end, limit)
        .map_err(|e| RegionError::from_wit(e, range.end.saturating_sub(range.start), 0))
}

/// A hash function the host computes for [`digest`].
pub use wit::DigestAlgorithm;

/// The digest of the `len` bytes at `at` (negative: from the end), computed
/// by the host over the mapping with the CPU's hash instructions where it
/// has them: nothing is copied into the plugin but the digest (32 bytes for
/// SHA-256). The whole range must lie inside the region (inside a chunk, its
/// read window); any `len` is allowed. Needs a host of WIT 0.1.3 or later.
pub fn digest(algorithm: DigestAlgorithm, at: i64, len: u64) -> Result<Vec<u8>, RegionError> {
    wit::digest(algorithm, at, len).map_err(|e| RegionError::from_wit(e, len, 0))
}

/// The number of bytes equal to `byte` among the `len` bytes at `at`
/// (negative: from the end), counted by the host over the mapping with SIMD:
/// nothing is copied into the plugin but the number. `count(b'\n', ..)`
/// counts lines as `wc -l` does. The whole range must lie inside the region
/// (inside a chunk, its read window); any `len` is allowed. Needs a host of
/// WIT 0.1.4 or later.
pub fn count(byte: u8, at: i64, len: u64) -> Result<u64, RegionError> {
    wit::count(byte, at, len).map_err(|e| RegionError::from_wit(e, len, 0))
}

/// Iterates over the whole region in chunks of [`DEFAULT_CHUNK`] bytes.
///
/// Use the builder methods of [`Chunks`] to change the chunk size, add an
/// overlap or report progress.
pub fn chunks() -> Chunks {
    chunks_in(0..size())
}

/// Iterates over the global byte range `range` in chunks of
/// [`DEFAULT_CHUNK`] bytes.
///
/// The range is not checked up front: a range outside the region yields a
/// [`RegionError::OutOfRange`] from the first read.
pub fn chunks_in(range: Range<u64>) -> Chunks {
    Chunks {
        pos: range.start,
        start: range.start,
        end: range.end.max(range.start),
        chunk_size: DEFAULT_CHUNK,
        overlap: 0,
        progress: None,
        failed: false,
    }
}

/// An iterator over `(offset, bytes)` chunks of a range of the region, made
/// by [`chunks`] or [`chunks_in`].
///
/// Each item is the global offset of the chunk's first byte and the chunk's
/// bytes. Chunks are consecutive and never empty; the last one may be
/// shorter. With an [`overlap`](Chunks::overlap) of `k`, every chunk but the
/// first also starts with the last `k` bytes of the chunk before it (so its
/// offset is `k` smaller), which lets a search find matches that straddle two
/// chunks. After an error the iterator ends.
#[derive(Debug)]
#[must_use = "iterators do nothing unless consumed"]
pub struct Chunks {
    /// Where the next chunk's new bytes start.
    pos: u64,
    /// The start of the range.
    start: u64,
    /// The end of the range.
    end: u64,
    chunk_size: usize,
    overlap: usize,
    progress: Option<Progress>,
    failed: bool,
}

impl Chunks {
    /// Sets the number of new bytes per chunk (at least 1). A chunk is read
    /// with one host call, so `chunk_size + overlap` must not exceed
    /// [`MAX_READ`].
    pub fn chunk_size(mut self, chunk_size: usize) -> Self {
        self.chunk_size = chunk_size.max(1);
        self
    }

    /// Makes every chunk but the first repeat the last `overlap` bytes of the
    /// chunk before it. For a search for a pattern of `n` bytes, an overlap of
    /// `n - 1` makes every match lie entirely inside exactly one chunk.
    pub fn overlap(mut self, overlap: usize) -> Self {
        self.overlap = overlap;
        self
    }

    /// Reports progress to the host (throttled, see [`Progress`]) as chunks
    /// are consumed: when a chunk is requested, the chunks before it count as
    /// done.
    pub fn report_progress(mut self) -> Self {
        self.progress = Some(Progress::new(self.end - self.start));
        self
    }
}

impl Iterator for Chunks {
    type Item = Result<(u64, Vec<u8>), RegionError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(progress) = &mut self.progress {
            progress.set(self.pos - self.start);
        }
        if self.failed || self.pos >= self.end {
            return None;
        }
        let new = (self.end - self.pos).min(self.chunk_size as u64);
        let from = if self.pos == self.start {
            self.pos
        } else {
            self.pos.saturating_sub(self.overlap as u64).max(self.start)
        };
        let len = self.pos + new - from;
        match read(signed(from), len) {
            Ok(bytes) => {
                self.pos += new;
                Some(Ok((from, bytes)))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

impl std::iter::FusedIterator for Chunks {}

/// Rewrites the whole region in place, one chunk of `chunk_size` bytes at a
/// time: reads each chunk, lets `f` modify it (given the chunk's global
/// offset) and writes it back.
///
/// Fails with [`RegionError::ReadOnly`] before reading anything if the run is
/// not writable. Reports progress to the host. A chunk size of 0 means
/// [`DEFAULT_CHUNK`].
pub fn transform_chunks<F>(chunk_size: usize, f: F) -> Result<(), RegionError>
where
    F: FnMut(u64, &mut [u8]),
{
    transform_range(0..size(), chunk_size, f)
}

/// Like [`transform_chunks`], but only for the global byte range `range`.
pub fn transform_range<F>(range: Range<u64>, chunk_size: usize, mut f: F) -> Result<(), RegionError>
where
    F: FnMut(u64, &mut [u8]),
{
    if !writable() {
        return Err(RegionError::ReadOnly);
    }
    let chunk_size = if chunk_size == 0 {
        DEFAULT_CHUNK
    } else {
        chunk_size
    };
    for chunk in chunks_in(range).chunk_size(chunk_size).report_progress() {
        let (offset, mut bytes) = chunk?;
        f(offset, &mut bytes);
        write(signed(offset), &bytes)?;
    }
    Ok(())
}
