//! `sha256sum [--region]`: the SHA-256 of each input file, printed as
//! `sha256sum FILE...` (GNU coreutils) prints it: `HASH  NAME`, one line a
//! file; a name containing a backslash or a newline is escaped (`\\`, `\n`)
//! and its line starts with a backslash, as coreutils does. With `--region`,
//! one line `HASH  -`: the digest of the concatenation, as
//! `cat FILE... | sha256sum`.
//!
//! The hashing runs in the host (`region.digest`, WIT 0.1.3): WebAssembly
//! has no SHA instructions, the host's `sha2` uses the CPU's.
//!
//! Serial: SHA-256 is a chain over the bytes of its input, so one digest
//! cannot be split into chunks (per-file digests could run side by side, one
//! file per chunk, but a chunk is a byte range, not a file).

use std::fmt::Write;

use mmhost_guest::region::{self, DigestAlgorithm};
use mmhost_guest::{Plugin, Progress};

struct Sha256Sum;

const USAGE: &str = "usage: sha256sum [--region]";

/// The digest of `start..start + len` of the region, in lower-case hex:
/// computed by the host (`region::digest`, with the CPU's SHA instructions
/// where it has them), one call per range, so progress moves once a range.
fn digest(
    start: u64,
    len: u64,
    name: &str,
    progress: &mut Progress,
    done: u64,
) -> Result<String, String> {
    let at = i64::try_from(start).unwrap_or(i64::MAX);
    let sum = region::digest(DigestAlgorithm::Sha256, at, len)
        .map_err(|e| format!("sha256sum: {name}: {e}"))?;
    progress.set(done + len);
    let mut hex = String::with_capacity(64);
    for b in sum {
        write!(hex, "{b:02x}").expect("writing to a String");
    }
    Ok(hex)
}

/// A name as coreutils prints it, and whether the line needs a leading `\`.
fn escape(name: &str) -> (bool, String) {
    if !name.contains(['\\', '\n']) {
        return (false, name.to_string());
    }
    (true, name.replace('\\', "\\\\").replace('\n', "\\n"))
}

impl Plugin for Sha256Sum {
    fn run(args: Vec<String>) -> Result<String, String> {
        let whole = match args.as_slice() {
            [] => false,
            [a] if a == "--region" => true,
            _ => return Err(USAGE.to_string()),
        };
        let size = region::size();
        let mut progress = Progress::new(size);
        if whole {
            let hex = digest(0, size, "region", &mut progress, 0)?;
            return Ok(format!("{hex}  -"));
        }
        let mut out = String::new();
        for seg in region::segments() {
            let hex = digest(seg.start, seg.len, &seg.name, &mut progress, seg.start)?;
            let (escaped, name) = escape(&seg.name);
            if escaped {
                out.push('\\');
            }
            writeln!(out, "{hex}  {name}").expect("writing to a String");
            if out.len() >= 1 << 16 {
                mmhost_guest::emit(out.as_bytes());
                out.clear();
            }
        }
        mmhost_guest::emit(out.as_bytes());
        Ok(String::new())
    }
}

mmhost_guest::export!(Sha256Sum);
