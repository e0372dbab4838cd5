//! The kernels of the benchmark, shared by every Rust contender.

#![no_std]

use memchr::memmem::Finder;

/// ASCII-uppercases `bytes` in place; the loop of `plugins/upper`
/// (branch-free, so that it vectorises).
pub fn uppercase(bytes: &mut [u8]) {
    for b in bytes {
        *b -= u8::from(b.wrapping_sub(b'a') < 26) * 32;
    }
}

/// ASCII-uppercases `src` into `dst` (same length): the fused copy + transform
/// a native program can do when the output is a different buffer.
pub fn uppercase_into(src: &[u8], dst: &mut [u8]) {
    assert_eq!(src.len(), dst.len());
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = s - u8::from(s.wrapping_sub(b'a') < 26) * 32;
    }
}

/// Counts the non-overlapping occurrences of a non-empty pattern, like
/// Python's `bytes.count`, over a sequence of chunks fed in order; the
/// `Counter` of `plugins/count`.
///
/// Chunks may overlap (a chunk may start before the end of the previous
/// one) as long as every occurrence lies entirely inside at least one chunk,
/// and chunks are fed in increasing order of their end.
pub struct Counter<'p> {
    finder: Finder<'p>,
    count: u64,
    /// Global offset where the next counted match may start.
    next: u64,
}

impl<'p> Counter<'p> {
    pub fn new(pattern: &'p [u8]) -> Self {
        assert!(!pattern.is_empty(), "the empty pattern is counted apart");
        Counter {
            finder: Finder::new(pattern),
            count: 0,
            next: 0,
        }
    }

    pub fn needle_len(&self) -> usize {
        self.finder.needle().len()
    }

    /// Counts the matches in `bytes`, the chunk at global offset `offset`.
    pub fn feed(&mut self, offset: u64, bytes: &[u8]) {
        let n = self.finder.needle().len() as u64;
        let skip = usize::try_from(self.next.saturating_sub(offset)).unwrap_or(usize::MAX);
        let Some(rest) = bytes.get(skip..) else {
            return;
        };
        for at in self.finder.find_iter(rest) {
            self.count += 1;
            self.next = offset + (skip + at) as u64 + n;
        }
    }

    pub fn count(&self) -> u64 {
        self.count
    }
}

/// A [`Counter`] over a stream of arbitrary pieces (files, reads from a
/// pipe) that need not overlap: it keeps the last `n - 1` bytes seen and
/// searches the seam between them and the head of each new piece, so
/// matches across piece boundaries count, without copying the pieces.
pub struct StreamCounter<'p> {
    counter: Counter<'p>,
    /// Global offset of the next piece.
    pos: u64,
    /// The last `n - 1` bytes of the stream (fewer at the start).
    tail: [u8; 64],
    tail_len: usize,
    seam: [u8; 128],
}

impl<'p> StreamCounter<'p> {
    /// Patterns up to 65 bytes (the seam buffer is fixed-size).
    pub fn new(pattern: &'p [u8]) -> Self {
        assert!(
            pattern.len() <= 65,
            "pattern too long for the benchmark counter"
        );
        StreamCounter {
            counter: Counter::new(pattern),
            pos: 0,
            tail: [0; 64],
            tail_len: 0,
            seam: [0; 128],
        }
    }

    pub fn feed(&mut self, piece: &[u8]) {
        if piece.is_empty() {
            return;
        }
        let keep = self.counter.needle_len() - 1;
        if self.tail_len > 0 {
            // The seam: the kept tail, then the first `keep` bytes of the
            // piece. A match starting in the tail ends inside it.
            let head = keep.min(piece.len());
            self.seam[..self.tail_len].copy_from_slice(&self.tail[..self.tail_len]);
            self.seam[self.tail_len..self.tail_len + head].copy_from_slice(&piece[..head]);
            let seam_at = self.pos - self.tail_len as u64;
            self.counter
                .feed(seam_at, &self.seam[..self.tail_len + head]);
        }
        self.counter.feed(self.pos, piece);
        // New tail: the last `keep` bytes of (old tail + piece).
        if keep > 0 {
            if piece.len() >= keep {
                self.tail[..keep].copy_from_slice(&piece[piece.len() - keep..]);
                self.tail_len = keep;
            } else {
                let mut joined = [0u8; 128];
                let total = self.tail_len + piece.len();
                joined[..self.tail_len].copy_from_slice(&self.tail[..self.tail_len]);
                joined[self.tail_len..total].copy_from_slice(piece);
                let from = total.saturating_sub(keep);
                self.tail_len = total - from;
                self.tail[..self.tail_len].copy_from_slice(&joined[from..total]);
            }
        }
        self.pos += piece.len() as u64;
    }

    pub fn count(&self) -> u64 {
        self.counter.count()
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn reference(hay: &[u8], pat: &[u8]) -> u64 {
        let (mut i, mut c) = (0, 0);
        while i + pat.len() <= hay.len() {
            if &hay[i..i + pat.len()] == pat {
                c += 1;
                i += pat.len();
            } else {
                i += 1;
            }
        }
        c
    }

    #[test]
    fn stream_counter_matches_python_for_any_split() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut hay = Vec::new();
        for _ in 0..2000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            hay.push(b"ab"[(state % 2) as usize]);
        }
        for pat in [&b"a"[..], b"ab", b"aa", b"aba", b"abba", b"aaaa", b"babab"] {
            for piece in [1, 2, 3, 5, 7, 64, 1000, 4096] {
                let mut c = StreamCounter::new(pat);
                for p in hay.chunks(piece) {
                    c.feed(p);
                    c.feed(&[]);
                }
                assert_eq!(c.count(), reference(&hay, pat), "{pat:?} {piece}");
            }
        }
    }

    #[test]
    fn uppercase_into_matches_in_place() {
        let src: Vec<u8> = (0..=255u8).collect();
        let mut a = src.clone();
        uppercase(&mut a);
        let mut b = src.clone();
        uppercase_into(&src, &mut b);
        assert_eq!(a, b);
        assert_eq!(
            &a[b'a' as usize..=b'z' as usize],
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        );
    }
}
