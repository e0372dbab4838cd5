//! One interface to a region's bytes, whatever a caller holds: the whole
//! region ([`Region`]) or one chunk of it ([`ChunkView`](super::chunk::ChunkView)).
//!
//! The runtime's host calls (`region` and `chunked` WIT interfaces) are
//! written once against [`RegionAccess`]; what differs between a whole
//! region and a chunk (the read window, the write bounds, the halo
//! snapshots) lives in the implementations, next to the data they guard.

use super::{AccessError, DigestAlgorithm, ReadView, Region, Segment, WriteError};

/// Bounds-checked access to a region's bytes at global offsets (negative
/// ones count from the end). Every failure is an [`AccessError`] (or a
/// [`WriteError`]), never a panic.
pub trait RegionAccess {
    /// Total size of the region in bytes.
    fn size(&self) -> u64;

    /// The segment table: one entry per input file, in order.
    fn segments(&self) -> &[Segment];

    /// Whether writes are allowed (somewhere).
    fn writable(&self) -> bool;

    /// Checks a read of `len` bytes at `at` and returns where the bytes lie,
    /// for one copy straight to their destination.
    ///
    /// # Errors
    /// [`AccessError::OutOfRange`] outside the readable range,
    /// [`AccessError::TooLarge`] over [`super::MAX_READ`].
    fn read_view(&self, at: i64, len: u64) -> Result<ReadView, AccessError>;

    /// Reads `len` bytes at `at` into a new vector.
    ///
    /// # Errors
    /// As [`RegionAccess::read_view`].
    fn read(&self, at: i64, len: u64) -> Result<Vec<u8>, AccessError> {
        let view = self.read_view(at, len)?;
        let mut buf = vec![0u8; view.len()];
        // SAFETY: `self` (and so the region the view points into) is
        // borrowed for this whole call, and nothing writes through it while
        // the copy runs (writes take the same thread or a disjoint chunk).
        unsafe { view.copy_to(&mut buf) };
        Ok(buf)
    }

    /// Writes `data` at `at`.
    ///
    /// # Errors
    /// [`WriteError::Access`] for a read-only region or a range outside the
    /// writable range; [`WriteError::Stage`] if the new version of a file
    /// could not be made or written.
    fn write(&self, at: i64, data: &[u8]) -> Result<(), WriteError>;

    /// The global offset of byte `delta` of segment `segment` (negative
    /// deltas reach into earlier files); valid results are `0..=size`.
    ///
    /// # Errors
    /// [`AccessError::NoSuchSegment`], or [`AccessError::OutOfRange`] if the
    /// result falls outside the region.
    fn locate(&self, segment: u32, delta: i64) -> Result<u64, AccessError>;

    /// Up to `limit` non-overlapping occurrences of `pattern` inside
    /// `[start, end)`, leftmost first; see `find` in the WIT.
    ///
    /// # Errors
    /// [`AccessError::OutOfRange`] for a range outside the readable range,
    /// [`AccessError::TooLarge`] for a pattern over [`super::MAX_READ`] bytes
    /// or a limit over [`super::MAX_FIND_RESULTS`].
    fn find(
        &self,
        pattern: &[u8],
        start: u64,
        end: u64,
        limit: u32,
    ) -> Result<Vec<u64>, AccessError>;

    /// The digest of the `len` bytes at `at`; see `digest` in the WIT.
    ///
    /// # Errors
    /// [`AccessError::OutOfRange`] outside the readable range (any `len` is
    /// allowed: nothing is allocated).
    fn digest(&self, algorithm: DigestAlgorithm, at: i64, len: u64)
        -> Result<Vec<u8>, AccessError>;

    /// The number of bytes equal to `byte` among the `len` bytes at `at`;
    /// see `count` in the WIT.
    ///
    /// # Errors
    /// [`AccessError::OutOfRange`] outside the readable range (any `len` is
    /// allowed: nothing is allocated).
    fn count(&self, byte: u8, at: i64, len: u64) -> Result<u64, AccessError>;
}

/// The whole region. Its inherent methods of the same names are the ones
/// this implementation calls, so that code holding a `Region` needs no
/// import.
impl RegionAccess for Region {
    fn size(&self) -> u64 {
        Region::size(self)
    }
    fn segments(&self) -> &[Segment] {
        Region::segments(self)
    }
    fn writable(&self) -> bool {
        Region::writable(self)
    }
    fn read_view(&self, at: i64, len: u64) -> Result<ReadView, AccessError> {
        Region::read_view(self, at, len)
    }
    fn read(&self, at: i64, len: u64) -> Result<Vec<u8>, AccessError> {
        Region::read(self, at, len)
    }
    fn write(&self, at: i64, data: &[u8]) -> Result<(), WriteError> {
        Region::write(self, at, data)
    }
    fn locate(&self, segment: u32, delta: i64) -> Result<u64, AccessError> {
        Region::locate(self, segment, delta)
    }
    fn find(
        &self,
        pattern: &[u8],
        start: u64,
        end: u64,
        limit: u32,
    ) -> Result<Vec<u64>, AccessError> {
        Region::find(self, pattern, start, end, limit)
    }
    fn digest(
        &self,
        algorithm: DigestAlgorithm,
        at: i64,
        len: u64,
    ) -> Result<Vec<u8>, AccessError> {
        Region::digest(self, algorithm, at, len)
    }
    fn count(&self, byte: u8, at: i64, len: u64) -> Result<u64, AccessError> {
        Region::count(self, byte, at, len)
    }
}

/// No region: what a plugin instance sees between chunks, or once its
/// region was lent out. Every access fails as on an empty read-only region.
#[derive(Debug, Clone, Copy, Default)]
pub struct Detached;

impl RegionAccess for Detached {
    fn size(&self) -> u64 {
        0
    }
    fn segments(&self) -> &[Segment] {
        &[]
    }
    fn writable(&self) -> bool {
        false
    }
    fn read_view(&self, at: i64, len: u64) -> Result<ReadView, AccessError> {
        Err(AccessError::OutOfRange(super::OutOfRange {
            at,
            len,
            size: 0,
        }))
    }
    fn write(&self, _at: i64, _data: &[u8]) -> Result<(), WriteError> {
        Err(WriteError::Access(AccessError::ReadOnly))
    }
    fn locate(&self, _segment: u32, _delta: i64) -> Result<u64, AccessError> {
        Err(AccessError::NoSuchSegment { count: 0 })
    }
    fn find(
        &self,
        _pattern: &[u8],
        start: u64,
        end: u64,
        _limit: u32,
    ) -> Result<Vec<u64>, AccessError> {
        Err(AccessError::OutOfRange(super::OutOfRange {
            at: i64::try_from(start).unwrap_or(i64::MAX),
            len: end.saturating_sub(start),
            size: 0,
        }))
    }
    fn digest(
        &self,
        _algorithm: DigestAlgorithm,
        at: i64,
        len: u64,
    ) -> Result<Vec<u8>, AccessError> {
        Err(AccessError::OutOfRange(super::OutOfRange {
            at,
            len,
            size: 0,
        }))
    }
    fn count(&self, _byte: u8, at: i64, len: u64) -> Result<u64, AccessError> {
        Err(AccessError::OutOfRange(super::OutOfRange {
            at,
            len,
            size: 0,
        }))
    }
}
