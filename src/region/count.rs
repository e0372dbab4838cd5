//! Byte counts over region ranges (`region.count` in the WIT, added in
//! 0.1.4), computed over the mapping.
//!
//! This module owns counting one byte value over a checked range's slices.
//! It exists because counting in a plugin means copying the region into its
//! memory first: `wc -l` in wasm ran at about a fifth of GNU `wc -l`, which
//! counts newlines with AVX2 straight from the page cache. Here `memchr`'s
//! count (AVX2/SSE2 on x86-64, NEON on aarch64) runs over the mapping in
//! place and only the number crosses into the plugin. The plugin still
//! decides what is counted (which byte, which ranges); the bounds are those
//! of a read, without the read-size limit since nothing is allocated.

use super::{AccessError, Region};

/// The number of bytes equal to `byte` in `slices` (global offset, bytes).
pub(crate) fn count_slices(byte: u8, slices: &[(u64, &[u8])]) -> u64 {
    slices
        .iter()
        .map(|(_, s)| memchr::memchr_iter(byte, s).count() as u64)
        .sum()
}

impl Region {
    /// The number of bytes equal to `byte` among the `len` bytes at `at`
    /// (negative from the end).
    ///
    /// # Errors
    /// [`AccessError::OutOfRange`] if the range is not inside the region;
    /// any length is allowed.
    pub fn count(&self, byte: u8, at: i64, len: u64) -> Result<u64, AccessError> {
        let start = self.resolve(at, len)?;
        let n = count_slices(byte, &self.slices(start, start + len));
        self.count_read(len);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_of_pieces_is_that_of_their_concatenation() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 13) as u8).collect();
        let want = data.iter().filter(|&&b| b == 3).count() as u64;
        for cut in [0, 1, 31, 32, 33, 4095, 9_999, 10_000] {
            let (a, b) = data.split_at(cut);
            let slices = [(0u64, a), (cut as u64, &b""[..]), (cut as u64, b)];
            assert_eq!(count_slices(3, &slices), want, "cut at {cut}");
        }
        assert_eq!(count_slices(b'\n', &[]), 0);
    }
}
