//! Digests of region ranges (`region.digest` in the WIT, added in 0.1.3),
//! computed over the mapping.
//!
//! This module owns the hash algorithms the host offers and the hashing of
//! a checked range's slices. It exists because WebAssembly has no hash
//! instructions: SHA-256 in a plugin runs at a fraction of the speed of the
//! `sha2` crate here, which uses the CPU's SHA extensions (x86 SHA-NI,
//! ARMv8 SHA2) when `cpufeatures` detects them at run time, and a digest
//! computed here copies nothing into the plugin. The plugin still decides
//! what is hashed (which ranges, in which order); the bounds are those of a
//! read, without the read-size limit since nothing is allocated.

use sha2::{Digest, Sha256};

use super::{AccessError, Region};

/// A hash function the host computes (the WIT's `digest-algorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlgorithm {
    /// SHA-256: a 32-byte digest.
    Sha256,
}

/// The digest of the concatenation of `slices` (global offset, bytes).
pub(crate) fn digest_slices(algorithm: DigestAlgorithm, slices: &[(u64, &[u8])]) -> Vec<u8> {
    match algorithm {
        DigestAlgorithm::Sha256 => {
            let mut h = Sha256::new();
            for (_, s) in slices {
                h.update(s);
            }
            h.finalize().to_vec()
        }
    }
}

impl Region {
    /// The digest of the `len` bytes at `at` (negative from the end).
    ///
    /// # Errors
    /// [`AccessError::OutOfRange`] if the range is not inside the region;
    /// any length is allowed.
    pub fn digest(
        &self,
        algorithm: DigestAlgorithm,
        at: i64,
        len: u64,
    ) -> Result<Vec<u8>, AccessError> {
        let start = self.resolve(at, len)?;
        let out = digest_slices(algorithm, &self.slices(start, start + len));
        self.count_read(len);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_pieces_is_that_of_their_concatenation() {
        // FIPS 180-4 example: SHA-256("abc").
        let want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        for slices in [
            vec![(0u64, &b"abc"[..])],
            vec![(0, &b"a"[..]), (1, &b""[..]), (1, &b"bc"[..])],
        ] {
            let got: String = digest_slices(DigestAlgorithm::Sha256, &slices)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(got, want);
        }
    }
}
