//! `tail N`: emits the last N bytes of the region (the whole region if N is
//! at least its size), read through negative offsets and in chunks.

use mmhost_guest::{emit, region, Plugin};

const USAGE: &str = "usage: tail N (N = number of bytes, a non-negative integer)";

struct Tail;

impl Plugin for Tail {
    fn run(args: Vec<String>) -> Result<String, String> {
        let [n] = args.as_slice() else {
            return Err(USAGE.to_string());
        };
        let n: u64 = n.parse().map_err(|_| format!("invalid N {n:?}; {USAGE}"))?;
        // Offsets from the end: -remaining is where the rest of the tail
        // starts. Regions are far below i64::MAX bytes.
        let mut remaining = n.min(region::size());
        while remaining > 0 {
            let len = remaining.min(region::DEFAULT_CHUNK as u64);
            let at = -i64::try_from(remaining).map_err(|_| "N is too large".to_string())?;
            let bytes = region::read(at, len).map_err(|e| e.to_string())?;
            emit(&bytes);
            remaining -= len;
        }
        Ok(String::new())
    }
}

mmhost_guest::export!(Tail);
