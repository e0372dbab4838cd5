//! `checksum`: prints `<sha256 hex> <size>` of the whole region.

use std::fmt::Write;

use mmhost_guest::{region, Plugin};
use sha2::{Digest, Sha256};

struct Checksum;

impl Plugin for Checksum {
    fn run(_args: Vec<String>) -> Result<String, String> {
        let size = region::size();
        let mut hasher = Sha256::new();
        for chunk in region::chunks().report_progress() {
            let (_offset, bytes) = chunk.map_err(|e| e.to_string())?;
            hasher.update(&bytes);
        }
        let mut out = String::with_capacity(64 + 1 + 20);
        for byte in hasher.finalize() {
            write!(out, "{byte:02x}").expect("writing to a String cannot fail");
        }
        write!(out, " {size}").expect("writing to a String cannot fail");
        Ok(out)
    }
}

mmhost_guest::export!(Checksum);
