//! `sha256sum [--region]`: the SHA-256 of each input file, printed as
//! `sha256sum FILE...` (GNU coreutils) prints it: `HASH  NAME`, one line a
//! file; a name containing a backslash or a newline is escaped (`\\`, `\n`)
//! and its line starts with a backslash, as coreutils does. With `--region`,
//! one line `HASH  -`: the digest of the concatenation, as
//! `cat FILE... | sha256sum`.
//!
//! Serial: SHA-256 is a chain over the bytes of its input, so one digest
//! cannot be split into chunks (per-file digests could run side by side, one
//! file per chunk, but a chunk is a byte range, not a file).

use std::fmt::Write;

use mmhost_guest::{region, Plugin, Progress};
use sha2::{Digest, Sha256};

struct Sha256Sum;

const USAGE: &str = "usage: sha256sum [--region]";

/// The digest of `start..start + len` of the region, in lower-case hex.
fn digest(
    start: u64,
    len: u64,
    name: &str,
    progress: &mut Progress,
    done: u64,
) -> Result<String, String> {
    let mut hasher = Sha256::new();
    for chunk in region::chunks_in(start..start + len).chunk_size(4 << 20) {
        let (at, bytes) = chunk.map_err(|e| format!("sha256sum: {name}: {e}"))?;
        hasher.update(&bytes);
        progress.set(done + (at - start) + bytes.len() as u64);
    }
    let mut hex = String::with_capacity(64);
    for b in hasher.finalize() {
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
