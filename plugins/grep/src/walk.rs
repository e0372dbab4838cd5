//! The line walker: the lines of one file that start in a range, and which
//! of them match.
//!
//! Every mode of the plugin (the serial run, a chunk, `reduce` redoing what
//! a chunk could not) finds matching lines the same way, through [`walk`]:
//! given a line start `from` inside a file, it visits the lines that start
//! in `[from, to)`, reading at most up to `limit` (the file's end, or the
//! end of a chunk's read window), and calls back for each matching line in
//! order. A line that runs past `limit` is reported as [`Walk::Long`]: the
//! caller (a chunk) leaves it to `reduce`, which can read the whole region.
//!
//! Two matchers: a regular expression run over 4 MiB blocks read into the
//! plugin, and a fixed string searched by the host (`region.find`, SIMD
//! over the mapping) with the line's ends found by the host too, so that a
//! `-F` search copies only the lines it prints.

use mmhost_guest::{region, RegionError};
use regex::bytes::Regex;

/// How much of a file is read at a time (more when a line is longer).
pub const BLOCK: u64 = 4 << 20;

/// What a line must contain.
pub enum Matcher {
    /// A regular expression (also `-i`, several patterns, an empty one).
    Regex(Regex),
    /// One non-empty fixed string without a newline, matched case
    /// sensitively: searched by the host; and the same as a regex, for
    /// stretches where matching lines are dense (a few host calls per
    /// matching line would cost more than reading the bytes in).
    Fixed(Vec<u8>, Literal),
}

/// How a block of lines read into the plugin is searched.
pub trait LineSearch {
    /// The first match in `text` at or after `pos`, as a byte range.
    fn find_at(&self, text: &[u8], pos: usize) -> Option<(usize, usize)>;
    /// Whether `line` (one line, no newline) holds a match.
    fn is_match(&self, line: &[u8]) -> bool;
}

impl LineSearch for Regex {
    fn find_at(&self, text: &[u8], pos: usize) -> Option<(usize, usize)> {
        Regex::find_at(self, text, pos).map(|m| (m.start(), m.end()))
    }
    fn is_match(&self, line: &[u8]) -> bool {
        Regex::is_match(self, line)
    }
}

/// A fixed string searched in the plugin with `memchr`'s `memmem` (SIMD128):
/// far less work per call than a regex, which counts where matching lines
/// are dense.
pub struct Literal(memchr::memmem::Finder<'static>);

impl Literal {
    pub fn new(pattern: &[u8]) -> Self {
        Literal(memchr::memmem::Finder::new(pattern).into_owned())
    }
}

impl LineSearch for Literal {
    fn find_at(&self, text: &[u8], pos: usize) -> Option<(usize, usize)> {
        let k = self.0.find(text.get(pos..)?)?;
        Some((pos + k, pos + k + self.0.needle().len()))
    }
    fn is_match(&self, line: &[u8]) -> bool {
        self.0.find(line).is_some()
    }
}

/// A matching line.
pub struct Hit<'a> {
    /// Global offset of its first byte (see `need_start` of [`walk`]).
    pub start: u64,
    /// Global offset of its newline (or of its file's end).
    pub end: u64,
    /// How many lines lie between `from` and it (only when asked for).
    pub index: u64,
    /// Its bytes, when the walker has them at hand.
    pub bytes: Option<&'a [u8]>,
}

/// How a walk ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Walk {
    /// Every line that starts in `[from, to)` was visited.
    Done,
    /// The line starting here runs past `limit`; it and the lines after it
    /// were not visited.
    Long(u64),
    /// The callback asked to stop; the lines from here on were not visited.
    Stopped(u64),
}

/// Visits the matching lines of the file ending at `file_end` that start in
/// `[from, to)` (`from` is a line start), reading no further than `limit`
/// (`to <= limit <= file_end`). `hit` returns `false` to stop. With
/// `want_index`, each hit carries its line index from `from`; without
/// `need_start`, a hit found before `to` may carry its match's offset as
/// its `start` (enough for counting).
pub fn walk(
    m: &Matcher,
    file_end: u64,
    (from, to, limit): (u64, u64, u64),
    want_index: bool,
    need_start: bool,
    hit: impl FnMut(Hit<'_>) -> bool,
) -> Result<Walk, RegionError> {
    match m {
        Matcher::Regex(re) => walk_regex(re, file_end, from, to, limit, hit),
        Matcher::Fixed(p, re) => walk_fixed(
            (p, re),
            file_end,
            (from, to, limit),
            want_index,
            need_start,
            hit,
        ),
    }
}

fn walk_regex(
    re: &impl LineSearch,
    file_end: u64,
    from: u64,
    to: u64,
    limit: u64,
    mut hit: impl FnMut(Hit<'_>) -> bool,
) -> Result<Walk, RegionError> {
    let mut buf: Vec<u8> = Vec::new();
    let mut buf_at = from; // a line start: the global offset of buf[0]
    let mut pos = from; // where the next read starts
    let mut index = 0u64;
    while buf_at < to {
        if pos < limit {
            let n = (limit - pos).min(BLOCK);
            buf.extend_from_slice(&region::read(pos as i64, n)?);
            pos += n;
        }
        let last = pos >= file_end;
        let used = if last {
            buf.len()
        } else {
            buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)
        };
        if used == 0 {
            if pos >= limit {
                return Ok(Walk::Long(buf_at));
            }
            continue;
        }
        // Only the lines that start before `to`.
        let cut = if buf_at + used as u64 > to {
            let k = (to - 1 - buf_at) as usize;
            buf[k..used]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(used, |i| k + i + 1)
        } else {
            used
        };
        let text = &buf[..cut];
        let base = text.as_ptr() as usize;
        let mut stopped = None;
        let (lines, _) = scan(re, text, last && cut == used, |i, line| {
            if stopped.is_some() {
                return;
            }
            let at = buf_at + (line.as_ptr() as usize - base) as u64;
            let end = at + line.len() as u64;
            let h = Hit {
                start: at,
                end,
                index: index + i,
                bytes: Some(line),
            };
            if !hit(h) {
                stopped = Some((end + 1).min(file_end));
            }
        });
        if let Some(r) = stopped {
            return Ok(Walk::Stopped(r));
        }
        index += lines;
        if cut < used || last {
            break;
        }
        buf.drain(..used);
        buf_at += used as u64;
    }
    Ok(Walk::Done)
}

/// The first newline in `[at, end)`, found by the host.
fn next_newline(at: u64, end: u64) -> Result<Option<u64>, RegionError> {
    Ok(region::find(b"\n", at..end, 1)?.first().copied())
}

/// The start of the line holding `x`, given that `lo <= x` is a line
/// start: after the last newline in `[lo, x)`, read backwards in growing
/// pieces (lines are usually short).
fn line_start(lo: u64, x: u64) -> Result<u64, RegionError> {
    let mut hi = x;
    let mut step = 256u64;
    while hi > lo {
        let a = hi.saturating_sub(step).max(lo);
        let bytes = region::read(a as i64, hi - a)?;
        if let Some(i) = bytes.iter().rposition(|&b| b == b'\n') {
            return Ok(a + i as u64 + 1);
        }
        hi = a;
        step = (step * 4).min(BLOCK);
    }
    Ok(lo)
}

/// After this many matching lines, [`walk_fixed`] checks how dense they
/// are.
const DENSE_AFTER: u64 = 64;
/// Matching lines closer than this on average (bytes per line) are
/// searched by reading the bytes in: host calls (three or four a line)
/// would cost more than copying.
const DENSE_GAP: u64 = 16 << 10;

fn walk_fixed(
    (pattern, re): (&[u8], &Literal),
    file_end: u64,
    (from, to, limit): (u64, u64, u64),
    want_index: bool,
    need_start: bool,
    mut hit: impl FnMut(Hit<'_>) -> bool,
) -> Result<Walk, RegionError> {
    let mut pos = from; // a line start
    let mut index = 0u64; // lines in [from, pos)
    let mut hits = 0u64;
    while pos < to {
        if hits == DENSE_AFTER && (pos - from) / hits < DENSE_GAP {
            // Dense: read the rest in (the line index continues).
            let base = index;
            return walk_regex(re, file_end, pos, to, limit, |h| {
                hit(Hit {
                    index: base + h.index,
                    ..h
                })
            });
        }
        let Some(&m) = region::find(pattern, pos..limit, 1)?.first() else {
            // No match left before `limit`; but the last line that starts
            // before `to` may run past it (and match there).
            if limit < file_end && next_newline(to - 1, limit)?.is_none() {
                return Ok(Walk::Long(line_start(pos, to - 1)?));
            }
            return Ok(Walk::Done);
        };
        let start = if need_start || want_index || m >= to {
            line_start(pos, m)?
        } else {
            m
        };
        if start >= to {
            return Ok(Walk::Done);
        }
        let end = match next_newline(m, limit)? {
            Some(n) => n,
            None if limit == file_end => file_end,
            None => return Ok(Walk::Long(start)),
        };
        if want_index {
            index += region::count(b'\n', pos as i64, start - pos)?;
        }
        let h = Hit {
            start,
            end,
            index,
            bytes: None,
        };
        let next = (end + 1).min(file_end);
        if !hit(h) {
            return Ok(Walk::Stopped(next));
        }
        index += 1;
        hits += 1;
        pos = next;
    }
    Ok(Walk::Done)
}

/// Matches the complete lines of `buf` (those ending in `\n`, and the rest
/// too when `last`), calling `hit` with each matching line's index among
/// them and its bytes. Returns how many lines were consumed and how many
/// bytes they take.
pub fn scan(
    re: &impl LineSearch,
    buf: &[u8],
    last: bool,
    mut hit: impl FnMut(u64, &[u8]),
) -> (u64, usize) {
    let end = match memchr::memrchr(b'\n', buf) {
        Some(i) => i + 1,
        None if last => buf.len(),
        None => return (0, 0),
    };
    let end = if last { buf.len() } else { end };
    let text = &buf[..end];
    let mut line_no = 0u64; // lines before `line_start`
    let mut line_start = 0usize;
    let mut pos = 0usize;
    while pos <= text.len() {
        let Some((start, m_end)) = re.find_at(text, pos) else {
            break;
        };
        // The line holding the match's start.
        line_no += count_nl(&text[line_start..start]);
        line_start += memchr::memrchr(b'\n', &text[line_start..start]).map_or(0, |i| i + 1);
        let line_end = memchr::memchr(b'\n', &text[start..]).map_or(text.len(), |i| start + i);
        let line = &text[line_start..line_end];
        // An empty last piece after the final newline is no line.
        if line_start == text.len() {
            break;
        }
        if m_end <= line_end || re.is_match(line) {
            hit(line_no, line);
        }
        line_no += 1;
        line_start = line_end + 1;
        pos = line_start;
    }
    let lines = count_nl(text) + u64::from(last && !text.is_empty() && !text.ends_with(b"\n"));
    (lines, end)
}

fn count_nl(b: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', b).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::bytes::RegexBuilder;

    fn lines(pattern: &str, text: &[u8]) -> Vec<(u64, Vec<u8>)> {
        let re = RegexBuilder::new(pattern).multi_line(true).build().unwrap();
        let mut got = Vec::new();
        scan(&re, text, true, |i, l| got.push((i, l.to_vec())));
        got
    }

    #[test]
    fn matches_stay_inside_lines() {
        assert_eq!(
            lines("b", b"a\nb\nab"),
            vec![(1, b"b".to_vec()), (2, b"ab".to_vec())]
        );
        assert_eq!(lines("a[^x]b", b"a\nb\n"), vec![]);
        assert_eq!(
            lines("a[^x]*", b"a\nb\nxa"),
            vec![(0, b"a".to_vec()), (2, b"xa".to_vec())]
        );
        assert_eq!(
            lines("", b"a\n\nb"),
            vec![(0, b"a".to_vec()), (1, b"".to_vec()), (2, b"b".to_vec())]
        );
        assert_eq!(lines("", b""), vec![]);
        assert_eq!(lines("^b$", b"ab\nb\nbc"), vec![(1, b"b".to_vec())]);
    }
}
