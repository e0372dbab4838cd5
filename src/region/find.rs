//! Search: `find` over a region or a chunk, one extent at a time in place
//! (SIMD `memmem`), with a small window around each seam between extents
//! for the matches that straddle it.

use super::{AccessError, OutOfRange, Region, MAX_FIND_RESULTS, MAX_READ};

impl Region {
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
}

/// Checks the arguments of a `find` over a region of `size` bytes.
pub(super) fn check_find(
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
pub(super) fn find_in(
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
