//! `xxd [-s OFFSET] [-l LEN]`: a hex dump of the region (the concatenation
//! of the inputs), byte for byte as `xxd -s OFFSET -l LEN FILE` prints it for
//! the concatenated file: offsets in hex (at least 8 digits), 16 bytes a line
//! in groups of two, then the bytes as ASCII (`.` for the unprintable). A
//! negative OFFSET counts from the end of the region, as `xxd -s -N` does on
//! a seekable file; OFFSET and LEN are decimal or `0x` hex.
//!
//! Serial: the dump is one stream in offset order, and cheap to produce.

use mmhost_guest::{region, Plugin};

struct Xxd;

const USAGE: &str = "usage: xxd [-s OFFSET] [-l LEN]";

fn number(s: &str) -> Result<i128, String> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => i128::from_str_radix(hex, 16),
        None => digits.parse::<i128>(),
    }
    .map_err(|_| format!("xxd: not a number: `{s}`; {USAGE}"))?;
    Ok(if neg { -v } else { v })
}

/// The first and one-past-last global offsets to dump.
fn range(args: &[String], size: u64) -> Result<(u64, u64), String> {
    let (mut seek, mut len) = (0i128, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| USAGE.to_string());
        match a.as_str() {
            "-s" => seek = number(value()?)?,
            "-l" => len = Some(number(value()?)?),
            _ => return Err(format!("xxd: unexpected argument `{a}`; {USAGE}")),
        }
    }
    let size = i128::from(size);
    let start = if seek < 0 { size + seek } else { seek };
    if start < 0 {
        return Err(format!(
            "xxd: -s {seek}: reaches {} bytes before the start of the region ({size} bytes)",
            -start
        ));
    }
    let start = start.min(size);
    let end = match len {
        Some(l) if l < 0 => return Err(format!("xxd: -l {l}: a length cannot be negative")),
        Some(l) => (start + l).min(size),
        None => size,
    };
    Ok((start as u64, end as u64))
}

fn line(out: &mut Vec<u8>, offset: u64, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(format!("{offset:08x}: ").as_bytes());
    for i in 0..16 {
        match bytes.get(i) {
            Some(&b) => {
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 15)]);
            }
            None => out.extend_from_slice(b"  "),
        }
        if i % 2 == 1 {
            out.push(b' ');
        }
    }
    out.push(b' ');
    out.extend(
        bytes
            .iter()
            .map(|&b| if (0x20..0x7f).contains(&b) { b } else { b'.' }),
    );
    out.push(b'\n');
}

impl Plugin for Xxd {
    fn run(args: Vec<String>) -> Result<String, String> {
        let (start, end) = range(&args, region::size())?;
        let mut out = Vec::with_capacity(1 << 17);
        let mut pos = start;
        // Read in multiples of 16 so that lines never straddle reads.
        for chunk in region::chunks_in(start..end).chunk_size(1 << 20) {
            let (_, bytes) = chunk.map_err(|e| format!("xxd: {e}"))?;
            for l in bytes.chunks(16) {
                line(&mut out, pos, l);
                pos += l.len() as u64;
            }
            mmhost_guest::emit(&out);
            out.clear();
        }
        Ok(String::new())
    }
}

mmhost_guest::export!(Xxd);
