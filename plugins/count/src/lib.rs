//! `count PATTERN`: prints the number of non-overlapping occurrences of
//! PATTERN (its UTF-8 bytes) in the region, exactly like Python's
//! `bytes.count`: matches are taken greedily from the left, and an empty
//! pattern counts `size + 1`. Matches that straddle file boundaries count.
//!
//! The search runs in the host (`region::find`: SIMD memmem over the
//! mapping), so no byte of the region is copied into the plugin.
//!
//! In a job file the pattern may come from the step's configuration instead:
//! `{"plugin": "count.wasm", "config": {"pattern": "ERROR"}}`.

use mmhost_guest::{region, Plugin};

struct Count;

/// The same text as the plugins in other languages print (the conformance
/// suite compares them); in a job file, a step config {"pattern": ...} works too.
const USAGE: &str = "usage: count PATTERN";

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
        // The host searches the mapping (SIMD memmem); only offsets cross.
        const BATCH: u32 = 1 << 16;
        let size = region::size();
        let mut progress = mmhost_guest::Progress::new(size);
        let (mut count, mut pos) = (0u64, 0u64);
        loop {
            let hits = region::find(pattern, pos..size, BATCH).map_err(|e| e.to_string())?;
            count += hits.len() as u64;
            match hits.last() {
                Some(&last) if hits.len() == BATCH as usize => pos = last + pattern.len() as u64,
                _ => break,
            }
            progress.set(pos);
        }
        progress.finish();
        Ok(count.to_string())
    }
}

mmhost_guest::export!(Count);
