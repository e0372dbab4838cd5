//! `wc [-l] [-w] [-c]`: newline, word and byte counts of each input file
//! and their total, byte for byte as `LC_ALL=C wc` (GNU coreutils) prints
//! them.
//!
//! In the C locale GNU wc counts a word at each printable non-space byte
//! (`0x21..=0x7e`) that follows white space (`\t \n \v \f \r` and space) or
//! the start of the file; other bytes (controls, NUL, bytes over 0x7f) neither
//! start nor end a word. Counts restart at each file: a word never spans two
//! files. Columns are as wide as the digits of the total size of the files
//! (GNU's `compute_number_width`), except that one count of one file is
//! printed unpadded; a `total` line follows when there are several files.
//!
//! Parallel with no halo: a chunk counts each piece of a file inside it,
//! and records the first and the last significant byte (space or printable)
//! of the piece; `reduce` joins the pieces of each file in order, counting a
//! word at a piece's first printable byte when the piece before it ended in
//! space (or the file starts there). The serial `run` is the same code over
//! one chunk.
//!
//! Without `-w`, the newlines are counted by the host (`region.count`, WIT
//! 0.1.4: SIMD over the mapping), so the bytes are never copied into the
//! plugin; words need every byte's class, so `-w` reads them.

use mmhost_guest::{region, Chunk, Plugin};

struct Wc;

const USAGE: &str = "usage: wc [-l] [-w] [-c]";

/// Which counts are printed, in wc's order.
#[derive(Clone, Copy)]
struct Flags {
    lines: bool,
    words: bool,
    bytes: bool,
}

fn flags(args: &[String]) -> Result<Flags, String> {
    let mut f = Flags {
        lines: false,
        words: false,
        bytes: false,
    };
    for a in args {
        let Some(letters) = a.strip_prefix('-').filter(|l| !l.is_empty()) else {
            return Err(format!("wc: unexpected argument `{a}`; {USAGE}"));
        };
        for c in letters.chars() {
            match c {
                'l' => f.lines = true,
                'w' => f.words = true,
                'c' => f.bytes = true,
                _ => return Err(format!("wc: unknown option `-{c}`; {USAGE}")),
            }
        }
    }
    if !(f.lines || f.words || f.bytes) {
        f = Flags {
            lines: true,
            words: true,
            bytes: true,
        };
    }
    Ok(f)
}

/// The significant bytes: white space ends a word, printable starts one.
const NONE: u8 = 0;
const SPACE: u8 = 1;
const PRINT: u8 = 2;

const fn class_table() -> [u8; 256] {
    let mut t = [NONE; 256];
    let mut b = 0x21;
    while b <= 0x7e {
        t[b] = PRINT;
        b += 1;
    }
    t[b' ' as usize] = SPACE;
    t[b'\t' as usize] = SPACE;
    t[b'\n' as usize] = SPACE;
    t[0x0b] = SPACE;
    t[0x0c] = SPACE;
    t[b'\r' as usize] = SPACE;
    t
}

static CLASS: [u8; 256] = class_table();

/// The number of `\n` in `bytes`. Counted in 16 byte-wide lanes that
/// overflow only after 255 blocks, a loop LLVM turns into `i8x16` compares
/// and subtractions (simd128): about 4x the plain `filter().count()`.
fn count_newlines(bytes: &[u8]) -> u64 {
    const LANES: usize = 16;
    const BLOCK: usize = 255 * LANES;
    let mut total = 0u64;
    let mut blocks = bytes.chunks_exact(BLOCK);
    for block in &mut blocks {
        let mut acc = [0u8; LANES];
        for v in block.chunks_exact(LANES) {
            for i in 0..LANES {
                acc[i] += u8::from(v[i] == b'\n');
            }
        }
        total += acc.iter().map(|&a| u64::from(a)).sum::<u64>();
    }
    let rest = blocks.remainder();
    total + rest.iter().filter(|&&b| b == b'\n').count() as u64
}

/// The counts of one piece of one file.
#[derive(Default, Clone, Copy)]
struct Piece {
    segment: u64,
    lines: u64,
    /// Words starting after the piece's first significant byte.
    words: u64,
    /// The class of the piece's first and last significant bytes.
    first: u8,
    last: u8,
}

impl Piece {
    fn count(&mut self, bytes: &[u8], words: bool) {
        self.lines += count_newlines(bytes);
        if !words {
            return;
        }
        let mut last = self.last;
        let mut n = 0;
        for &b in bytes {
            let c = CLASS[b as usize];
            if c != NONE {
                if last == NONE && self.first == NONE {
                    self.first = c;
                } else if c == PRINT && last == SPACE {
                    n += 1;
                }
                last = c;
            }
        }
        self.words += n;
        self.last = last;
    }

    fn encode(&self, out: &mut Vec<u8>) {
        for v in [self.segment, self.lines, self.words] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.push(self.first);
        out.push(self.last);
    }
}

const PIECE_BYTES: usize = 26;

fn decode(bytes: &[u8]) -> Result<Vec<Piece>, String> {
    if !bytes.len().is_multiple_of(PIECE_BYTES) {
        return Err("wc: malformed partial result".to_string());
    }
    Ok(bytes
        .chunks_exact(PIECE_BYTES)
        .map(|p| {
            let u = |i: usize| u64::from_le_bytes(p[i * 8..i * 8 + 8].try_into().expect("8"));
            Piece {
                segment: u(0),
                lines: u(1),
                words: u(2),
                first: p[24],
                last: p[25],
            }
        })
        .collect())
}

/// Counts the pieces of the files inside `start..end`.
fn count_range(start: u64, end: u64, f: Flags, progress: bool) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    if !(f.lines || f.words) {
        return Ok(out);
    }
    for (i, seg) in region::segments().iter().enumerate() {
        let (s, e) = (seg.start.max(start), (seg.start + seg.len).min(end));
        if s >= e {
            continue;
        }
        let mut piece = Piece {
            segment: i as u64,
            ..Piece::default()
        };
        if !f.words {
            // Lines alone: the host counts the newlines over the mapping
            // (`region.count`), nothing is copied in.
            piece.lines = region::count(b'\n', s as i64, e - s)
                .map_err(|x| format!("wc: {}: {x}", seg.name))?;
            piece.encode(&mut out);
            continue;
        }
        let mut chunks = region::chunks_in(s..e).chunk_size(4 << 20);
        if progress {
            chunks = chunks.report_progress();
        }
        for chunk in chunks {
            let (_, bytes) = chunk.map_err(|e| format!("wc: {}: {e}", seg.name))?;
            piece.count(&bytes, f.words);
        }
        piece.encode(&mut out);
    }
    Ok(out)
}

/// Joins the pieces of every file and prints wc's table.
fn report(f: Flags, partials: &[Vec<u8>]) -> Result<String, String> {
    let segments = region::segments();
    let mut lines = vec![0u64; segments.len()];
    let mut words = vec![0u64; segments.len()];
    let mut carry = vec![NONE; segments.len()];
    for partial in partials {
        for p in decode(partial)? {
            let i = p.segment as usize;
            if i >= segments.len() {
                return Err("wc: malformed partial result".to_string());
            }
            lines[i] += p.lines;
            words[i] += p.words + u64::from(p.first == PRINT && carry[i] != PRINT);
            if p.last != NONE {
                carry[i] = p.last;
            }
        }
    }
    let total_size: u64 = segments.iter().map(|s| s.len).sum();
    let fields = usize::from(f.lines) + usize::from(f.words) + usize::from(f.bytes);
    let width = if segments.len() == 1 && fields == 1 {
        1
    } else {
        total_size.to_string().len()
    };
    let mut text = String::new();
    let mut row = |l: u64, w: u64, c: u64, name: &str| {
        let mut cols = Vec::with_capacity(3);
        if f.lines {
            cols.push(l);
        }
        if f.words {
            cols.push(w);
        }
        if f.bytes {
            cols.push(c);
        }
        for (k, v) in cols.iter().enumerate() {
            if k > 0 {
                text.push(' ');
            }
            text += &format!("{v:>width$}");
        }
        text.push(' ');
        text += name;
        text.push('\n');
    };
    for (i, seg) in segments.iter().enumerate() {
        row(lines[i], words[i], seg.len, &seg.name);
    }
    if segments.len() > 1 {
        row(lines.iter().sum(), words.iter().sum(), total_size, "total");
    }
    mmhost_guest::emit(text.as_bytes());
    Ok(String::new())
}

impl Plugin for Wc {
    fn run(args: Vec<String>) -> Result<String, String> {
        let f = flags(&args)?;
        let partial = count_range(0, region::size(), f, true)?;
        report(f, &[partial])
    }

    fn plan(args: Vec<String>) -> Result<Option<u64>, String> {
        flags(&args)?;
        Ok(Some(0))
    }

    fn run_chunk(args: Vec<String>, chunk: Chunk) -> Result<Vec<u8>, String> {
        count_range(chunk.start, chunk.end, flags(&args)?, false)
    }

    fn reduce(args: Vec<String>, partials: Vec<Vec<u8>>) -> Result<String, String> {
        report(flags(&args)?, &partials)
    }
}

mmhost_guest::export!(Wc);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newlines_counted_in_lanes_as_one_by_one() {
        let mut data = Vec::new();
        for i in 0..20_000u32 {
            data.push(if i % 7 == 0 || i % 251 == 3 {
                b'\n'
            } else {
                i as u8
            });
        }
        for len in [0, 1, 15, 16, 4079, 4080, 4081, 20_000] {
            let want = data[..len].iter().filter(|&&b| b == b'\n').count() as u64;
            assert_eq!(count_newlines(&data[..len]), want, "{len}");
        }
    }
}
