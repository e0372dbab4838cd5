//! The chunked run of `redact`: chunks redact the lines they can see whole,
//! `reduce` finishes the rest.
//!
//! A chunk handles every line that overlaps it and is at most [`HALO`]
//! bytes long (newline included): such a line always lies inside the
//! chunk's read window, so the chunk matches it whole and writes (or
//! records) the X bytes that fall inside its own bounds; a neighbour does
//! the same for the part of the line inside its bounds, with the same
//! matches. A longer line is left whole to `reduce` by every chunk it
//! touches (each can tell: either it sees the line whole and measures it,
//! or it cannot see one of its ends, which makes it longer than the halo),
//! so no chunk writes into a line that `reduce` reads.
//!
//! With a write target, a chunk writes its X bytes and returns the number
//! of matches that start inside it and the pieces of long lines. Without
//! one, the redacted text must come out in order, which no chunk can do
//! for a line it does not see whole, so chunks print nothing: each returns
//! the X ranges inside it (or, if they would pass the host's 1 MiB limit
//! on a partial result, hands its whole range to `reduce`), and `reduce`
//! emits the region with the X ranges applied, redacting the handed-over
//! ranges itself.
//!
//! Partial results: LEB128 items, each a tag and two numbers: `0 AT LEN` X
//! bytes at `[AT, AT+LEN)`; `1 FROM TO` a range `reduce` must redact (the
//! lines overlapping it, clipped to it); `2 COUNT 0` matches counted.

use mmhost_guest::partial::{get_u64, put_u64};
use mmhost_guest::region::Segment;
use mmhost_guest::{region, Chunk, RegionError};
use regex::bytes::Regex;

use crate::{complete, matches, BLOCK};

/// How far beyond its bounds a chunk reads: the most the host allows. Lines
/// longer than this are redacted by `reduce`.
pub const HALO: u64 = 1 << 20;

/// The most a partial result may hold (the host allows 1 MiB).
const CAP: usize = (1 << 20) - 64;

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Item {
    X { at: u64, len: u64 },
    Redo { from: u64, to: u64 },
    Count(u64),
}

fn push(out: &mut Vec<u8>, item: Item) {
    let (tag, a, b) = match item {
        Item::X { at, len } => (0, at, len),
        Item::Redo { from, to } => (1, from, to),
        Item::Count(n) => (2, n, 0),
    };
    out.push(tag);
    put_u64(out, a);
    put_u64(out, b);
}

fn decode(bytes: &[u8]) -> Option<Vec<Item>> {
    let mut items = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let tag = bytes[pos];
        pos += 1;
        let a = get_u64(bytes, &mut pos)?;
        let b = get_u64(bytes, &mut pos)?;
        items.push(match tag {
            0 => Item::X { at: a, len: b },
            1 => Item::Redo { from: a, to: b },
            2 => Item::Count(a),
            _ => return None,
        });
    }
    Some(items)
}

/// The lines of `text` (whole lines) in order, as stretches: `(true, a,
/// b)` for a line longer than [`HALO`], `(false, a, b)` for the lines
/// between such lines.
fn split_long(text: &[u8]) -> Vec<(bool, usize, usize)> {
    let mut spans = Vec::new();
    let mut stretch = 0usize; // start of the current stretch of short lines
    let mut line = 0usize;
    let ends = memchr::memchr_iter(b'\n', text)
        .map(|i| i + 1)
        .chain((!text.ends_with(b"\n") && !text.is_empty()).then_some(text.len()));
    for end in ends {
        if (end - line) as u64 > HALO {
            if stretch < line {
                spans.push((false, stretch, line));
            }
            spans.push((true, line, end));
            stretch = end;
        }
        line = end;
    }
    if stretch < text.len() {
        spans.push((false, stretch, text.len()));
    }
    spans
}

/// What a chunk does with the X ranges inside it.
struct Sink {
    write: bool,
    count: u64,
    out: Vec<u8>,
    /// An X range not yet in `out` (adjacent ones are joined).
    x: Option<(u64, u64)>,
    overflow: bool,
}

impl Sink {
    fn x(&mut self, at: u64, len: u64) -> Result<(), RegionError> {
        if self.write {
            return region::write(at as i64, &vec![b'X'; len as usize]);
        }
        match &mut self.x {
            Some((a, l)) if *a + *l == at => *l += len,
            _ => {
                self.flush_x();
                self.x = Some((at, len));
            }
        }
        Ok(())
    }

    fn flush_x(&mut self) {
        if let Some((at, len)) = self.x.take() {
            if !self.overflow {
                push(&mut self.out, Item::X { at, len });
                self.overflow = self.out.len() > CAP;
            }
        }
    }

    /// A piece of a long line, for `reduce`. Pieces are few (each line is
    /// over 1 MiB long), so they are kept even after the X ranges
    /// overflowed.
    fn redo(&mut self, from: u64, to: u64) {
        self.flush_x();
        push(&mut self.out, Item::Redo { from, to });
    }
}

/// The chunk's work; see the module docs.
pub fn run_chunk(re: &Regex, chunk: &Chunk) -> Result<Vec<u8>, String> {
    let segs = region::segments();
    let win_hi = (chunk.end + chunk.halo).min(region::size());
    let mut sink = Sink {
        write: region::writable(),
        count: 0,
        out: Vec::new(),
        x: None,
        overflow: false,
    };
    let first = segs.partition_point(|s| s.start + s.len <= chunk.start);
    for seg in &segs[first..] {
        if seg.start >= chunk.end {
            break;
        }
        chunk_file(re, seg, chunk.start, chunk.end, win_hi, &mut sink)
            .map_err(|e| format!("redact: {}: {e}", seg.name))?;
    }
    sink.flush_x();
    let mut out = if sink.overflow {
        let mut out = Vec::new();
        push(
            &mut out,
            Item::Redo {
                from: chunk.start,
                to: chunk.end,
            },
        );
        out
    } else {
        sink.out
    };
    push(&mut out, Item::Count(sink.count));
    Ok(out)
}

/// The part `[s, e)` of one file inside a chunk whose window ends at
/// `win_hi`.
fn chunk_file(
    re: &Regex,
    seg: &Segment,
    chunk_start: u64,
    chunk_end: u64,
    win_hi: u64,
    sink: &mut Sink,
) -> Result<(), RegionError> {
    let file_end = seg.start + seg.len;
    let (s, e) = (seg.start.max(chunk_start), file_end.min(chunk_end));
    if s >= e {
        return Ok(());
    }
    // The start of the line holding `s`.
    let mut pos = s;
    if s > seg.start {
        let a = seg.start.max(s.saturating_sub(HALO));
        let back = region::read(a as i64, s - a)?;
        match back.iter().rposition(|&b| b == b'\n') {
            Some(i) => pos = a + i as u64 + 1,
            None if a == seg.start => pos = seg.start,
            None => {
                // It started more than the halo before: a long line.
                let end = region::find(b"\n", s..e, 1)?.first().map_or(e, |&n| n + 1);
                sink.redo(s, end);
                if end >= e {
                    return Ok(());
                }
                pos = end;
            }
        }
    }
    let limit = file_end.min(win_hi);
    let mut buf: Vec<u8> = Vec::new();
    let mut buf_at = pos;
    let mut rd = pos;
    while buf_at < e {
        if rd < limit {
            let n = (limit - rd).min(BLOCK);
            buf.extend_from_slice(&region::read(rd as i64, n)?);
            rd += n;
        }
        let last = rd >= file_end;
        let used = complete(&buf, last);
        if used == 0 {
            if rd >= limit {
                // A line that ends past the window: longer than the halo.
                sink.redo(buf_at.max(s), e);
                return Ok(());
            }
            continue;
        }
        // The lines that start before `e`.
        let cut = if buf_at + used as u64 > e {
            let k = (e - 1 - buf_at) as usize;
            buf[k..used]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(used, |i| k + i + 1)
        } else {
            used
        };
        let text = &buf[..cut];
        for (long, a, b) in split_long(text) {
            let (ga, gb) = (buf_at + a as u64, buf_at + b as u64);
            if long {
                let (x, y) = (ga.max(s), gb.min(e));
                if x < y {
                    sink.redo(x, y);
                }
                continue;
            }
            let mut hits = Vec::new();
            matches(re, &text[a..b], |ms, me| hits.push((ms, me)));
            for (ms, me) in hits {
                let (ms, me) = (ga + ms as u64, ga + me as u64);
                if (s..e).contains(&ms) {
                    sink.count += 1;
                }
                let (x, y) = (ms.max(s), me.min(e));
                if x < y {
                    sink.x(x, y - x)?;
                }
            }
        }
        if cut < used || last {
            break;
        }
        buf.drain(..used);
        buf_at += used as u64;
    }
    Ok(())
}

/// Where `reduce`'s redacted bytes go: the output stream, or nowhere (the
/// X bytes are written into the region).
struct Emitter {
    write: bool,
    out: Vec<u8>,
}

impl Emitter {
    fn bytes(&mut self, b: &[u8]) {
        self.out.extend_from_slice(b);
        if self.out.len() >= 1 << 16 {
            mmhost_guest::emit(&self.out);
            self.out.clear();
        }
    }

    /// The region's bytes `[from, to)` as they are.
    fn raw(&mut self, from: u64, to: u64) -> Result<(), RegionError> {
        let mut p = from;
        while p < to {
            let n = (to - p).min(BLOCK);
            let b = region::read(p as i64, n)?;
            self.bytes(&b);
            p += n;
        }
        Ok(())
    }
}

/// Redacts the lines that overlap `[from, to)`, clipped to it: writes or
/// emits the result, and returns the number of matches that start in it.
fn redo(re: &Regex, segs: &[Segment], from: u64, to: u64, em: &mut Emitter) -> Result<u64, String> {
    let mut count = 0;
    let first = segs.partition_point(|s| s.start + s.len <= from);
    for seg in &segs[first..] {
        if seg.start >= to {
            break;
        }
        count +=
            redo_file(re, seg, from, to, em).map_err(|e| format!("redact: {}: {e}", seg.name))?;
    }
    Ok(count)
}

fn redo_file(
    re: &Regex,
    seg: &Segment,
    from: u64,
    to: u64,
    em: &mut Emitter,
) -> Result<u64, RegionError> {
    let file_end = seg.start + seg.len;
    let (a, b) = (seg.start.max(from), file_end.min(to));
    if a >= b {
        return Ok(0);
    }
    // Back to the start of the line holding `a`.
    let mut ls = a;
    let mut step = 4096u64;
    while ls > seg.start {
        let lo = seg.start.max(ls.saturating_sub(step));
        let back = region::read(lo as i64, ls - lo)?;
        if let Some(i) = back.iter().rposition(|&c| c == b'\n') {
            ls = lo + i as u64 + 1;
            break;
        }
        ls = lo;
        step = (step * 4).min(BLOCK);
    }
    let mut count = 0;
    let mut buf: Vec<u8> = Vec::new();
    let mut buf_at = ls;
    let mut rd = ls;
    while buf_at < b {
        if rd < file_end {
            let n = (file_end - rd).min(BLOCK);
            buf.extend_from_slice(&region::read(rd as i64, n)?);
            rd += n;
        }
        let used = complete(&buf, rd >= file_end);
        if used == 0 {
            continue;
        }
        let mut hits = Vec::new();
        matches(re, &buf[..used], |s, e| hits.push((s, e)));
        // This block's part of [a, b), as offsets into buf.
        let (pa, pb) = (a.max(buf_at), b.min(buf_at + used as u64));
        let (ia, ib) = (
            (pa.max(buf_at) - buf_at) as usize,
            (pb.max(pa) - buf_at) as usize,
        );
        for (s, e) in hits {
            let (gs, ge) = (buf_at + s as u64, buf_at + e as u64);
            if (a..b).contains(&gs) {
                count += 1;
            }
            let (x, y) = (gs.max(a), ge.min(b));
            if x < y {
                if em.write {
                    region::write(x as i64, &vec![b'X'; (y - x) as usize])?;
                } else {
                    buf[(x - buf_at) as usize..(y - buf_at) as usize].fill(b'X');
                }
            }
        }
        if !em.write && ia < ib {
            em.bytes(&buf[ia..ib]);
        }
        buf.drain(..used);
        buf_at += used as u64;
    }
    Ok(count)
}

/// Combines the chunks' partial results; see the module docs.
pub fn reduce(re: &Regex, partials: &[Vec<u8>]) -> Result<String, String> {
    let segs = region::segments();
    let mut em = Emitter {
        write: region::writable(),
        out: Vec::new(),
    };
    let fail = |e: RegionError| format!("redact: {e}");
    let mut count = 0u64;
    let mut cursor = 0u64; // emitted up to here
    let mut pending: Option<(u64, u64)> = None; // merged redo ranges
    let flush =
        |em: &mut Emitter, cursor: &mut u64, (from, to): (u64, u64)| -> Result<u64, String> {
            if !em.write {
                em.raw(*cursor, from).map_err(fail)?;
            }
            let n = redo(re, &segs, from, to, em)?;
            *cursor = to;
            Ok(n)
        };
    for partial in partials {
        let items = decode(partial).ok_or("redact: malformed partial result")?;
        for item in items {
            match item {
                Item::Count(n) => count += n,
                Item::Redo { from, to } => match &mut pending {
                    Some((_, end)) if *end == from => *end = to,
                    _ => {
                        if let Some(r) = pending.replace((from, to)) {
                            count += flush(&mut em, &mut cursor, r)?;
                        }
                    }
                },
                Item::X { at, len } => {
                    if let Some(r) = pending.take() {
                        count += flush(&mut em, &mut cursor, r)?;
                    }
                    if !em.write {
                        em.raw(cursor, at).map_err(fail)?;
                        let mut left = len;
                        while left > 0 {
                            let n = left.min(1 << 16);
                            em.bytes(&vec![b'X'; n as usize]);
                            left -= n;
                        }
                        cursor = at + len;
                    }
                }
            }
        }
    }
    if let Some(r) = pending.take() {
        count += flush(&mut em, &mut cursor, r)?;
    }
    if em.write {
        return Ok(count.to_string());
    }
    em.raw(cursor, region::size()).map_err(fail)?;
    mmhost_guest::emit(&em.out);
    Ok(String::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_round_trip() {
        let items = [
            Item::X { at: 0, len: 1 },
            Item::Redo {
                from: u64::MAX,
                to: 1 << 40,
            },
            Item::Count(300),
        ];
        let mut out = Vec::new();
        for i in items {
            push(&mut out, i);
        }
        assert_eq!(decode(&out).unwrap(), items);
        assert_eq!(decode(&out[..out.len() - 1]), None);
    }

    #[test]
    fn long_lines_are_split_out() {
        let mut text = b"a\nbb\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', HALO as usize));
        text.extend_from_slice(b"\nc\nd");
        let l = 5 + HALO as usize + 1;
        assert_eq!(
            split_long(&text),
            vec![(false, 0, 5), (true, 5, l), (false, l, text.len())]
        );
        assert_eq!(split_long(b"a\nb"), vec![(false, 0, 3)]);
    }
}
