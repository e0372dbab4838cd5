//! `replace OLD NEW`: replaces every occurrence of OLD with NEW (of the same
//! length) in the region, as Python's `data.replace(OLD, NEW)` does over the
//! concatenation of the inputs: leftmost, non-overlapping occurrences, and
//! those that straddle two files too (the region is one byte string). Sizes
//! never change, so OLD and NEW must have the same length. Prints the number
//! of replacements.
//!
//! The search runs in the host (`region::find`); with `--in-place` the
//! writes land in every file together or not at all (the host's commit).
//!
//! Serial: matches are taken greedily from the left, so where one ends
//! decides where the next may start; `count` shows how a parallel version
//! settles the seams.

use mmhost_guest::{region, Plugin};

struct Replace;

const USAGE: &str = "usage: replace OLD NEW (of the same length, OLD not empty)";

const BATCH: u32 = 1 << 16;

impl Plugin for Replace {
    fn run(args: Vec<String>) -> Result<String, String> {
        let [old, new] = args.as_slice() else {
            return Err(USAGE.to_string());
        };
        let (old, new) = (old.as_bytes(), new.as_bytes());
        if old.is_empty() || old.len() != new.len() {
            return Err(format!(
                "replace: OLD is {} bytes and NEW {}: {USAGE}",
                old.len(),
                new.len()
            ));
        }
        let size = region::size();
        let mut pos = 0u64;
        let mut count = 0u64;
        loop {
            let hits = region::find(old, pos..size, BATCH).map_err(|e| format!("replace: {e}"))?;
            for &at in &hits {
                region::write(at as i64, new).map_err(|e| format!("replace: {e}"))?;
                count += 1;
                pos = at + old.len() as u64;
            }
            if hits.len() < BATCH as usize {
                break;
            }
        }
        Ok(count.to_string())
    }
}

mmhost_guest::export!(Replace);
