//! `reverse`: reverses the whole region in place (byte `i` swaps with byte
//! `size - 1 - i`), working from both ends toward the middle with one pair of
//! chunks in memory at a time. Needs a writable run.

use mmhost_guest::{region, Plugin, Progress, RegionError};

struct Reverse;

impl Plugin for Reverse {
    fn run(_args: Vec<String>) -> Result<String, String> {
        reverse(region::DEFAULT_CHUNK as u64).map_err(|e| e.to_string())?;
        Ok(String::new())
    }
}

/// Reverses the region with chunks of at most `chunk` bytes from each end.
fn reverse(chunk: u64) -> Result<(), RegionError> {
    if !region::writable() {
        return Err(RegionError::ReadOnly);
    }
    let size = region::size();
    let mut progress = Progress::new(size / 2);
    // Invariant: everything outside [lo, hi) is already reversed.
    let (mut lo, mut hi) = (0u64, size);
    while hi - lo >= 2 {
        // At most half of what is left, so the two chunks never overlap; an
        // odd middle byte stays where it is.
        let len = chunk.min((hi - lo) / 2);
        let mut front = region::read(lo as i64, len)?;
        let mut back = region::read((hi - len) as i64, len)?;
        front.reverse();
        back.reverse();
        region::write(lo as i64, &back)?;
        region::write((hi - len) as i64, &front)?;
        lo += len;
        hi -= len;
        progress.set(lo);
    }
    progress.finish();
    Ok(())
}

mmhost_guest::export!(Reverse);
