//! `count PATTERN`: prints the number of non-overlapping occurrences of
//! PATTERN (its UTF-8 bytes) in the region, exactly like Python's
//! `bytes.count`: matches are taken greedily from the left, and an empty
//! pattern counts `size + 1`. Matches that straddle chunk or file boundaries
//! count.
//!
//! In a job file the pattern may come from the step's configuration instead:
//! `{"plugin": "count.wasm", "config": {"pattern": "ERROR"}}`.

use memchr::memmem::Finder;
use mmhost_guest::{region, Plugin};

struct Count;

const USAGE: &str = "usage: count PATTERN (or a step config {\"pattern\": PATTERN})";

/// The step's configuration in a job file.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    pattern: String,
}

impl Plugin for Count {
    fn run(args: Vec<String>) -> Result<String, String> {
        let pattern = match args.as_slice() {
            [pattern] => pattern.clone(),
            [] => match mmhost_guest::config_as::<Option<Config>>() {
                Ok(Some(config)) => config.pattern,
                Ok(None) => return Err(USAGE.to_string()),
                Err(e) => return Err(format!("count: {e} (expected {{\"pattern\": \"...\"}})")),
            },
            _ => return Err(USAGE.to_string()),
        };
        let pattern = pattern.as_bytes();
        if pattern.is_empty() {
            return Ok((region::size() + 1).to_string());
        }
        let mut counter = Counter::new(pattern);
        let chunks = region::chunks()
            .overlap(pattern.len() - 1)
            .report_progress();
        for chunk in chunks {
            let (offset, bytes) = chunk.map_err(|e| e.to_string())?;
            counter.feed(offset, &bytes);
        }
        Ok(counter.count().to_string())
    }
}

/// Counts the non-overlapping occurrences of a non-empty pattern of `n` bytes
/// in a sequence of chunks that overlap by `n - 1` bytes.
///
/// With that overlap every occurrence lies entirely inside exactly one chunk
/// (one that ended sooner would lack its last byte, one that started later its
/// first), so chunks can be searched independently. Non-overlap is kept
/// globally: a match is counted only if it starts at or after the end of the
/// last counted match, which may lie in the previous chunk's tail.
struct Counter<'p> {
    finder: Finder<'p>,
    count: u64,
    /// Global offset where the next counted match may start.
    next: u64,
}

impl<'p> Counter<'p> {
    fn new(pattern: &'p [u8]) -> Self {
        assert!(!pattern.is_empty(), "the empty pattern is counted apart");
        Counter {
            finder: Finder::new(pattern),
            count: 0,
            next: 0,
        }
    }

    /// Counts the matches in `bytes`, the chunk at global offset `offset`.
    fn feed(&mut self, offset: u64, bytes: &[u8]) {
        let n = self.finder.needle().len() as u64;
        let skip = usize::try_from(self.next.saturating_sub(offset)).unwrap_or(usize::MAX);
        let Some(rest) = bytes.get(skip..) else {
            return;
        };
        // `find_iter` itself yields non-overlapping matches, left to right.
        for at in self.finder.find_iter(rest) {
            self.count += 1;
            self.next = offset + (skip + at) as u64 + n;
        }
    }

    fn count(&self) -> u64 {
        self.count
    }
}

mmhost_guest::export!(Count);

#[cfg(test)]
mod tests {
    use super::Counter;

    /// Python's `bytes.count` for a non-empty pattern, naively.
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

    /// Counts like the plugin does, with chunks of `chunk` new bytes.
    fn chunked(hay: &[u8], pat: &[u8], chunk: usize) -> u64 {
        let mut counter = Counter::new(pat);
        let mut pos = 0;
        while pos < hay.len() {
            let new = chunk.min(hay.len() - pos);
            let from = if pos == 0 {
                0
            } else {
                pos.saturating_sub(pat.len() - 1)
            };
            counter.feed(from as u64, &hay[from..pos + new]);
            pos += new;
        }
        counter.count()
    }

    #[test]
    fn matches_python_for_every_chunk_size() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"aaaaaaa", b"aa"),
            (b"aaaaaaa", b"aaa"),
            (b"abababab", b"aba"),
            (b"abcabcabc", b"bca"),
            (b"xyz", b"xyzw"),
            (b"", b"a"),
            (b"a", b"a"),
            (b"aabaabaab", b"aab"),
            (b"aaaabaaaab", b"aaab"),
        ];
        for &(hay, pat) in cases {
            for chunk in 1..=hay.len() + 1 {
                assert_eq!(
                    chunked(hay, pat, chunk),
                    reference(hay, pat),
                    "{hay:?} {pat:?} chunk {chunk}"
                );
            }
        }
    }

    #[test]
    fn matches_python_on_pseudo_random_input() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut hay = Vec::new();
        for _ in 0..3000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            hay.push(b"ab"[(state % 2) as usize]);
        }
        for pat in [&b"ab"[..], b"aa", b"aba", b"abba", b"aaaa", b"babab"] {
            for chunk in [1, 2, 3, 5, 7, 64, 1000, 4096] {
                assert_eq!(chunked(&hay, pat, chunk), reference(&hay, pat));
            }
        }
    }
}
