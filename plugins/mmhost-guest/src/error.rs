//! The typed error of region calls.

use std::fmt;

use crate::bindings::mmhost::plugin::types::Error as WitError;

/// Why a region call failed.
///
/// The host never traps on a bad offset or length: it returns an error, and
/// the wrappers in [`region`](crate::region) convert it into this type, adding
/// what the call asked for so that the message names the offending access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegionError {
    /// The range `[at, at + len)` (after resolving a negative `at`) is not
    /// inside the region of `size` bytes. For `locate`, `at` is the delta and
    /// `len` is 0.
    OutOfRange {
        /// The offset exactly as passed (negative offsets included).
        at: i64,
        /// The length of the access in bytes.
        len: u64,
        /// The size of the region in bytes.
        size: u64,
    },
    /// The region is read-only: the run needs `--in-place` or `--output`.
    ReadOnly,
    /// A single read of `len` bytes exceeded the host's limit of `limit`
    /// bytes; read in chunks instead.
    TooLarge {
        /// The length that was asked for.
        len: u64,
        /// The host's read limit in bytes.
        limit: u64,
    },
    /// `locate` named segment `segment`, but the region has only `count`.
    NoSuchSegment {
        /// The segment index that was asked for.
        segment: u32,
        /// The number of segments in the region.
        count: u32,
    },
}

impl RegionError {
    /// Converts the WIT error of a call that asked for `len` bytes (a read or
    /// write) or for segment `segment` (`locate`).
    pub(crate) fn from_wit(err: WitError, len: u64, segment: u32) -> Self {
        match err {
            WitError::OutOfRange(r) => RegionError::OutOfRange {
                at: r.at,
                len: r.len,
                size: r.size,
            },
            WitError::ReadOnly => RegionError::ReadOnly,
            WitError::TooLarge(limit) => RegionError::TooLarge { len, limit },
            WitError::NoSuchSegment(count) => RegionError::NoSuchSegment { segment, count },
        }
    }
}

impl fmt::Display for RegionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RegionError::OutOfRange { at, len, size } => write!(
                f,
                "access of {len} bytes at offset {at} is out of range \
                 for a region of {size} bytes"
            ),
            RegionError::ReadOnly => {
                f.write_str("region is read-only (run with --in-place or --output)")
            }
            RegionError::TooLarge { len, limit } => write!(
                f,
                "read of {len} bytes exceeds the host's limit of {limit} bytes \
                 per read (read in chunks)"
            ),
            RegionError::NoSuchSegment { segment, count } => write!(
                f,
                "no segment {segment}: the region has {count} segment{}",
                if count == 1 { "" } else { "s" }
            ),
        }
    }
}

impl std::error::Error for RegionError {}
