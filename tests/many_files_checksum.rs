//! `checksum` over 100,000 sparse files, read-only, under an open-file limit
//! of 1,024 and past the mapping budget (see `common/sparse100k.rs`), against
//! SHA-256 computed from what the files were made of.

mod common;

use common::sparse100k::{self, run_limited, FILES, LEN};
use common::*;
use sha2::{Digest, Sha256};

#[test]
fn checksum_over_100k_sparse_files_read_only() {
    let checksum = plugin("checksum");
    let dir = sparse100k::make();
    let dir = dir.path();
    // The reference, from what the files were made of, on another thread
    // while mmhost runs.
    let reference = std::thread::spawn(|| {
        let zeros = vec![0u8; LEN as usize];
        let mut h = Sha256::new();
        for i in 0..FILES {
            let m = sparse100k::marker(i);
            h.update(&m);
            h.update(&zeros[m.len()..]);
        }
        format!("{:x} {}\n", h.finalize(), FILES as u64 * LEN)
    });
    let r = run_limited(dir, &["run", checksum.to_str().unwrap()], &[]);
    r.assert_ok();
    assert_eq!(r.stdout_str(), reference.join().unwrap());
}
