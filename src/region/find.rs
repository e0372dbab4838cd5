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
        let found = find_in(&slices, pattern, start, end, limit as usize);
        self.count_scanned(find_scanned(pattern.len(), start, end, limit, &found));
        Ok(found)
    }

    /// Counts `len` bytes as searched by the host.
    pub(super) fn count_scanned(&self, len: u64) {
        self.bytes_scanned
            .fetch_add(len, std::sync::atomic::Ordering::Relaxed);
    }
}

/// How many bytes a `find` of a `pattern_len`-byte pattern over
/// `[start, end)` that returned `found` searched: the whole range, unless it
/// stopped at `limit` matches, then up to the end of the last one (where the
/// next call resumes). This is the host's work that counts as progress and
/// as `bytes_scanned`.
pub fn find_scanned(pattern_len: usize, start: u64, end: u64, limit: u32, found: &[u64]) -> u64 {
    match found.last() {
        _ if pattern_len == 0 => 0,
        Some(&last) if found.len() >= limit as usize => {
            (last + pattern_len as u64).min(end).saturating_sub(start)
        }
        _ => end.saturating_sub(start),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Non-overlapping matches of `pat` in `hay[start..end]`, leftmost first,
    /// each searched from the end of the one before: the plain definition.
    fn naive(hay: &[u8], pat: &[u8], start: usize, end: usize, limit: usize) -> Vec<u64> {
        let mut out = Vec::new();
        if pat.is_empty() {
            return out;
        }
        let mut i = start;
        while out.len() < limit && i + pat.len() <= end {
            if &hay[i..i + pat.len()] == pat {
                out.push(i as u64);
                i += pat.len();
            } else {
                i += 1;
            }
        }
        out
    }

    /// `hay[from..to]` cut at `cuts` into slices with their global offsets
    /// (where the extents of a region would be).
    fn slices<'a>(hay: &'a [u8], from: usize, to: usize, cuts: &[usize]) -> Vec<(u64, &'a [u8])> {
        let mut bounds: Vec<usize> = cuts
            .iter()
            .copied()
            .filter(|&c| from < c && c < to)
            .collect();
        bounds.sort_unstable();
        bounds.dedup();
        let mut out = Vec::new();
        let mut a = from;
        for b in bounds.into_iter().chain([to]) {
            out.push((a as u64, &hay[a..b]));
            a = b;
        }
        out
    }

    #[test]
    fn matches_straddling_seams_are_found_once() {
        let hay = b"abcabcabc";
        // Seams inside every match.
        let s = slices(hay, 0, 9, &[1, 2, 4, 8]);
        assert_eq!(find_in(&s, b"abc", 0, 9, 10), [0, 3, 6]);
        assert_eq!(find_in(&s, b"cab", 0, 9, 10), [2, 5]);
        assert_eq!(find_in(&s, b"abc", 1, 9, 10), [3, 6]);
        assert_eq!(find_in(&s[1..], b"abc", 1, 9, 10), [3, 6]);
        assert_eq!(find_in(&s, b"abc", 0, 8, 10), [0, 3]);
        assert_eq!(find_in(&s, b"abc", 0, 9, 2), [0, 3]);
        assert_eq!(find_in(&s, b"", 0, 9, 10), Vec::<u64>::new());
        // Overlapping candidates: leftmost, then from the end of it.
        let hay = b"aaaaa";
        let s = slices(hay, 0, 5, &[2, 3]);
        assert_eq!(find_in(&s, b"aa", 0, 5, 10), [0, 2]);
    }

    /// Random haystacks over a small alphabet (many matches and near
    /// misses), cut into random extents, random windows and patterns:
    /// always the plain definition's answer.
    #[test]
    fn random_extents_match_the_plain_search() {
        let mut seed = 0x0f1d_u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..2000 {
            let len = next(200);
            let hay: Vec<u8> = (0..len).map(|_| b"ab"[next(2)]).collect();
            let from = next(len + 1);
            let to = from + next(len - from + 1);
            let cuts: Vec<usize> = (0..next(8)).map(|_| next(len + 1)).collect();
            let s = slices(&hay, from, to, &cuts);
            let plen = 1 + next(6);
            let pat: Vec<u8> = (0..plen).map(|_| b"ab"[next(2)]).collect();
            // Windows inside what the slices cover.
            let start = from + next(to - from + 1);
            let end = start + next(to - start + 1);
            let limit = 1 + next(10);
            assert_eq!(
                find_in(&s, &pat, start as u64, end as u64, limit),
                naive(&hay, &pat, start, end, limit),
                "hay {:?} slices {:?} pat {:?} [{start}, {end}) limit {limit}",
                String::from_utf8_lossy(&hay),
                s.iter().map(|(g, b)| (*g, b.len())).collect::<Vec<_>>(),
                String::from_utf8_lossy(&pat),
            );
        }
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(matches!(
            check_find(10, b"a", 5, 4, 1),
            Err(AccessError::OutOfRange(_))
        ));
        assert!(matches!(
            check_find(10, b"a", 0, 11, 1),
            Err(AccessError::OutOfRange(_))
        ));
        assert!(check_find(10, b"a", 10, 10, 1).is_ok());
        assert_eq!(
            check_find(10, b"a", 0, 10, (MAX_FIND_RESULTS + 1) as u32),
            Err(AccessError::TooLarge {
                limit: MAX_FIND_RESULTS
            })
        );
    }
}
