//! What a plugin instance sees of the region: all of it (`run`, `plan`,
//! `reduce`), one chunk of it (`run-chunk`), or nothing between chunks.

use crate::region::chunk::ChunkView;
use crate::region::{AccessError, ReadView, Region, Segment, WriteError};

/// The region as one store's host calls reach it.
pub(crate) enum View {
    /// The whole region, owned by this store (boxed: a region is much
    /// larger than a chunk view).
    Whole(Box<Region>),
    /// One chunk of a parallel run.
    Chunk(ChunkView),
    /// Nothing: the store's region was lent out (to the chunks), or this
    /// instance has no chunk right now. Host calls fail as on an empty
    /// region; no plugin code runs in this state.
    Detached,
}

impl View {
    pub(crate) fn size(&self) -> u64 {
        match self {
            View::Whole(r) => r.size(),
            View::Chunk(c) => c.size(),
            View::Detached => 0,
        }
    }

    pub(crate) fn writable(&self) -> bool {
        match self {
            View::Whole(r) => r.writable(),
            View::Chunk(c) => c.writable(),
            View::Detached => false,
        }
    }

    pub(crate) fn segments(&self) -> &[Segment] {
        match self {
            View::Whole(r) => r.segments(),
            View::Chunk(c) => c.segments(),
            View::Detached => &[],
        }
    }

    fn detached(at: i64, len: u64) -> AccessError {
        AccessError::OutOfRange(crate::region::OutOfRange { at, len, size: 0 })
    }

    pub(crate) fn read_view(&self, at: i64, len: u64) -> Result<ReadView, AccessError> {
        match self {
            View::Whole(r) => r.read_view(at, len),
            View::Chunk(c) => c.read_view(at, len),
            View::Detached => Err(Self::detached(at, len)),
        }
    }

    pub(crate) fn write(&self, at: i64, data: &[u8]) -> Result<(), WriteError> {
        match self {
            View::Whole(r) => r.write(at, data),
            View::Chunk(c) => c.write(at, data),
            View::Detached => Err(WriteError::Access(AccessError::ReadOnly)),
        }
    }

    pub(crate) fn find(
        &self,
        pattern: &[u8],
        start: u64,
        end: u64,
        limit: u32,
    ) -> Result<Vec<u64>, AccessError> {
        match self {
            View::Whole(r) => r.find(pattern, start, end, limit),
            View::Chunk(c) => c.find(pattern, start, end, limit),
            View::Detached => Err(Self::detached(
                i64::try_from(start).unwrap_or(i64::MAX),
                end.saturating_sub(start),
            )),
        }
    }

    pub(crate) fn locate(&self, segment: u32, delta: i64) -> Result<u64, AccessError> {
        match self {
            View::Whole(r) => r.locate(segment, delta),
            View::Chunk(c) => c.locate(segment, delta),
            View::Detached => Err(AccessError::NoSuchSegment { count: 0 }),
        }
    }

    /// Takes the whole region out, leaving the view detached.
    pub(crate) fn take_region(&mut self) -> Option<Region> {
        match std::mem::replace(self, View::Detached) {
            View::Whole(r) => Some(*r),
            other => {
                *self = other;
                None
            }
        }
    }
}
