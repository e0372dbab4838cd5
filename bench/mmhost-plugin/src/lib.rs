//! `bench-plugin OP ...`, one operation per run:
//!
//! - `upper CHUNK`: `plugins/upper` with chunks of CHUNK bytes;
//! - `count CHUNK PATTERN`: `plugins/count` with chunks of CHUNK bytes;
//! - `touch CHUNK`: reads the whole region in chunks and looks at one byte
//!   per 4 KiB (the cost of getting the bytes into wasm, without the work);
//! - `read LEN N`: N reads of LEN bytes, at offsets walking the region;
//! - `write LEN N`: N writes of LEN bytes (needs a writable run);
//! - `noop`: nothing (start-up and teardown only).
//!
//! Prints a one-line result so that runs can be checked.

use bench_kernels::{uppercase, Counter};
use mmhost_guest::{region, Plugin};

struct Bench;

fn num(s: Option<&String>, what: &str) -> Result<u64, String> {
    s.ok_or_else(|| format!("missing {what}"))?
        .parse()
        .map_err(|_| format!("bad {what}"))
}

fn offsets(len: u64, n: u64) -> impl Iterator<Item = i64> {
    let size = region::size();
    let span = size.saturating_sub(len) + 1;
    (0..n).map(move |i| ((i * len) % span) as i64)
}

impl Plugin for Bench {
    fn run(args: Vec<String>) -> Result<String, String> {
        let op = args.first().map(String::as_str).unwrap_or("");
        match op {
            "upper" => {
                let chunk = num(args.get(1), "CHUNK")? as usize;
                region::transform_chunks(chunk, |_, b| uppercase(b)).map_err(|e| e.to_string())?;
                Ok(String::new())
            }
            "count" => {
                let chunk = num(args.get(1), "CHUNK")? as usize;
                let pattern = args.get(2).ok_or("missing PATTERN")?.as_bytes();
                if pattern.is_empty() {
                    return Ok((region::size() + 1).to_string());
                }
                let mut counter = Counter::new(pattern);
                for c in region::chunks()
                    .chunk_size(chunk)
                    .overlap(pattern.len() - 1)
                {
                    let (offset, bytes) = c.map_err(|e| e.to_string())?;
                    counter.feed(offset, &bytes);
                }
                Ok(counter.count().to_string())
            }
            "touch" => {
                let chunk = num(args.get(1), "CHUNK")? as usize;
                let mut sum = 0u64;
                for c in region::chunks().chunk_size(chunk) {
                    let (_, bytes) = c.map_err(|e| e.to_string())?;
                    sum = bytes
                        .iter()
                        .step_by(4096)
                        .fold(sum, |s, &b| s.wrapping_add(u64::from(b)));
                }
                Ok(sum.to_string())
            }
            "read" => {
                let len = num(args.get(1), "LEN")?;
                let n = num(args.get(2), "N")?;
                let mut sum = 0u64;
                for at in offsets(len, n) {
                    let bytes = region::read(at, len).map_err(|e| e.to_string())?;
                    sum = sum.wrapping_add(u64::from(bytes.first().copied().unwrap_or(0)));
                }
                Ok(sum.to_string())
            }
            "write" => {
                let len = num(args.get(1), "LEN")?;
                let n = num(args.get(2), "N")?;
                let data = vec![b'x'; len as usize];
                for at in offsets(len, n) {
                    region::write(at, &data).map_err(|e| e.to_string())?;
                }
                Ok(n.to_string())
            }
            "noop" => Ok(String::new()),
            other => Err(format!("bench-plugin: unknown operation {other:?}")),
        }
    }
}

mmhost_guest::export!(Bench);
