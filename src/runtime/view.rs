//! What a plugin instance sees of the region: all of it (`run`, `plan`,
//! `reduce`), one chunk of it (`run-chunk`), or nothing between chunks.
//! Host calls go through [`View::access`], one [`RegionAccess`] whatever
//! the case.

use crate::region::chunk::ChunkView;
use crate::region::{Detached, Region, RegionAccess};

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
    /// The region, chunk or nothing that host calls use.
    pub(crate) fn access(&self) -> &dyn RegionAccess {
        match self {
            View::Whole(r) => &**r,
            View::Chunk(c) => c,
            View::Detached => &Detached,
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
