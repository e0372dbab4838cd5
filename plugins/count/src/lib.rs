//! `count PATTERN`: prints the number of non-overlapping occurrences of
//! PATTERN (its UTF-8 bytes) in the region, exactly like Python's
//! `bytes.count`: matches are taken greedily from the left, and an empty
//! pattern counts `size + 1`. Matches that straddle file boundaries count.
//!
//! The search runs in the host (`region::find`: SIMD memmem over the
//! mapping), so no byte of the region is copied into the plugin.
//!
//! Parallel: each chunk scans from its own start with a halo of the pattern's
//! length minus one; `reduce` settles the seams where a match ran across a
//! chunk boundary (see `Count::reduce`), so the count is the serial one.
//!
//! In a job file the pattern may come from the step's configuration instead:
//! `{"plugin": "count.wasm", "config": {"pattern": "ERROR"}}`.

use mmhost_guest::{region, Chunk, Plugin};

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

/// The pattern, from the arguments or the step's configuration.
fn pattern(args: &[String]) -> Result<Vec<u8>, String> {
    match args {
        [pattern] => Ok(pattern.as_bytes().to_vec()),
        [] => match mmhost_guest::config_as::<Option<Config>>() {
            Ok(Some(config)) => Ok(config.pattern.into_bytes()),
            Ok(None) => Err(USAGE.to_string()),
            Err(e) => Err(format!("count: {e} (expected {{\"pattern\": \"...\"}})")),
        },
        _ => Err(USAGE.to_string()),
    }
}

/// How many results one `find` call returns at most.
const BATCH: u32 = 1 << 16;

/// How many of a chunk's first match offsets its partial result carries, so
/// that `reduce` can tell where a re-scan meets the chunk's own scan.
const FIRSTS: usize = 64;

/// A greedy left-to-right scan from `from`: the matches that start before
/// `stop` (searched up to `hi`, which must leave room for a match starting
/// just before `stop`). Calls `hit` with each match offset; stops early when
/// `hit` returns false. Returns where the scan ended: the end of the last
/// match taken, or `from`.
fn scan(
    pattern: &[u8],
    from: u64,
    stop: u64,
    hi: u64,
    mut hit: impl FnMut(u64) -> bool,
) -> Result<u64, String> {
    let m = pattern.len() as u64;
    let mut pos = from;
    loop {
        let hits = region::find(pattern, pos..hi, BATCH).map_err(|e| e.to_string())?;
        for &p in &hits {
            if p >= stop || !hit(p) {
                return Ok(pos);
            }
            pos = p + m;
        }
        if hits.len() < BATCH as usize {
            return Ok(pos);
        }
    }
}

/// A chunk's partial result: its bounds, its count of matches when scanned
/// from its own start, where that scan ended, and its first match offsets.
struct Partial {
    start: u64,
    count: u64,
    scan_end: u64,
    firsts: Vec<u64>,
}

impl Partial {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24 + 8 * self.firsts.len());
        for v in [self.start, self.count, self.scan_end] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in &self.firsts {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    fn decode(bytes: &[u8]) -> Result<Partial, String> {
        if bytes.len() < 24 || !bytes.len().is_multiple_of(8) {
            return Err(format!("count: a partial result of {} bytes", bytes.len()));
        }
        let words: Vec<u64> = bytes
            .chunks_exact(8)
            .map(|w| u64::from_le_bytes(w.try_into().expect("8 bytes")))
            .collect();
        Ok(Partial {
            start: words[0],
            count: words[1],
            scan_end: words[2],
            firsts: words[3..].to_vec(),
        })
    }
}

impl Plugin for Count {
    fn run(args: Vec<String>) -> Result<String, String> {
        let pattern = pattern(&args)?;
        let size = region::size();
        if pattern.is_empty() {
            return Ok((size + 1).to_string());
        }
        // The host searches the mapping (SIMD memmem); only offsets cross.
        let mut progress = mmhost_guest::Progress::new(size);
        let mut count = 0u64;
        scan(&pattern, 0, size, size, |p| {
            count += 1;
            progress.set(p);
            true
        })?;
        progress.finish();
        Ok(count.to_string())
    }

    /// Chunks need to see a match that starts in them and ends in the next
    /// one: a halo of the pattern's length minus one. An empty pattern needs
    /// no search at all: serial.
    fn plan(args: Vec<String>) -> Result<Option<u64>, String> {
        let pattern = pattern(&args)?;
        Ok((!pattern.is_empty()).then(|| pattern.len() as u64 - 1))
    }

    /// Scans the chunk as if a scan started at its first byte. Whether the
    /// previous chunk's last match reaches into this one is settled in
    /// `reduce`.
    fn run_chunk(args: Vec<String>, chunk: Chunk) -> Result<Vec<u8>, String> {
        let pattern = pattern(&args)?;
        let hi = (chunk.end + chunk.halo).min(region::size());
        let mut partial = Partial {
            start: chunk.start,
            count: 0,
            scan_end: chunk.start,
            firsts: Vec::new(),
        };
        partial.scan_end = scan(&pattern, chunk.start, chunk.end, hi, |p| {
            partial.count += 1;
            if partial.firsts.len() < FIRSTS {
                partial.firsts.push(p);
            }
            true
        })?;
        Ok(partial.encode())
    }

    /// Adds the chunks up in order. A chunk whose start lies inside the
    /// previous chunk's last match (the scan must resume after it) is
    /// re-scanned from there until the re-scan meets a match of the chunk's
    /// own scan: from that match on, both scans are the same (the scan is
    /// a function of where it starts), so the rest of the chunk's count
    /// holds. Usually that is the first match; at worst the chunk is
    /// re-scanned whole.
    fn reduce(args: Vec<String>, partials: Vec<Vec<u8>>) -> Result<String, String> {
        let pattern = pattern(&args)?;
        let size = region::size();
        let halo = pattern.len() as u64 - 1;
        let partials = partials
            .iter()
            .map(|p| Partial::decode(p))
            .collect::<Result<Vec<_>, _>>()?;
        let (mut total, mut resume) = (0u64, 0u64);
        for (k, part) in partials.iter().enumerate() {
            let end = partials.get(k + 1).map_or(size, |next| next.start);
            if resume <= part.start {
                total += part.count;
                resume = resume.max(part.scan_end);
                continue;
            }
            // Re-scan from `resume` until it meets the chunk's own scan.
            let (mut extra, mut met) = (0u64, None);
            let hi = (end + halo).min(size);
            let scan_end = scan(&pattern, resume, end, hi, |p| {
                match part.firsts.binary_search(&p) {
                    Ok(i) => {
                        met = Some(i as u64);
                        false
                    }
                    Err(_) => {
                        extra += 1;
                        true
                    }
                }
            })?;
            match met {
                Some(i) => {
                    total += extra + (part.count - i);
                    resume = part.scan_end;
                }
                None => {
                    total += extra;
                    resume = scan_end;
                }
            }
        }
        Ok(total.to_string())
    }
}

mmhost_guest::export!(Count);
