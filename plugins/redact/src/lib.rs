//! `redact REGEX`: replaces every match of REGEX with as many `X` bytes as
//! it has, so that no size changes, line by line as `sed` works: a match
//! never includes a newline. The result equals Python's
//! `re.sub(REGEX, lambda m: b"X" * len(m[0]), line)` applied to each line
//! (the bytes between newlines) of each file.
//!
//! Lines never span files, as in grep: each file's lines are matched on
//! their own, and a file without a final newline ends its last line there.
//! A match at the end of one file and the start of the next is two lines,
//! so it is found only if each part matches alone.
//!
//! REGEX is in the syntax of the `regex` crate without Unicode (bytes, as
//! Python's `re` on bytes): `\w`, `\d`, `\s` and `\b` are ASCII, `.` matches
//! any byte but newline, `^` and `$` are the start and end of the line.
//! Back-references and look-around are not supported (the regex is
//! rejected, exit code 1). One difference from Python's `re`: where, at one
//! position, the preferred match is empty but a later alternative would
//! match non-empty (`x*|b` at a `b`), Python takes the non-empty one next
//! and this plugin moves on; empty matches themselves redact nothing.
//!
//! Output: with a write target (`--in-place`, `--output`, `--output-dir`)
//! the X bytes are written into the region and the result is the number of
//! matches redacted; without one, the redacted concatenation is emitted on
//! stdout, as `sed` prints it.
//!
//! Parallel (halo 1 MiB): chunks redact the lines up to 1 MiB long that
//! overlap them, each writing the X bytes inside its own bounds, and leave
//! longer lines to `reduce`; without a write target the chunks return the X
//! ranges and `reduce` emits the text (see `parallel.rs`). The result is the
//! serial run's, whatever the chunks.

mod parallel;

use mmhost_guest::{region, Chunk, Plugin, Progress};
use regex::bytes::{Regex, RegexBuilder};

struct Redact;

const USAGE: &str = "usage: redact REGEX";

/// How much of a file is read at a time (more when a line is longer).
pub(crate) const BLOCK: u64 = 4 << 20;

fn compile(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .unicode(false)
        .multi_line(true)
        .size_limit(64 << 20)
        .build()
        .map_err(|e| {
            let first = e.to_string();
            let first = first.lines().last().unwrap_or("").trim().to_string();
            format!("redact: invalid regex `{pattern}`: {first}")
        })
}

/// The non-empty matches in `text` (whole lines: it ends at a newline or at
/// the end of its file), as ranges, found line by line: each match as
/// searching its own line alone would find it.
pub(crate) fn matches(re: &Regex, text: &[u8], mut hit: impl FnMut(usize, usize)) {
    let mut pos = 0usize;
    while pos < text.len() {
        let Some(m) = re.find_at(text, pos) else {
            break;
        };
        let (start, end) = if text[m.start()..m.end()].contains(&b'\n') {
            // It runs across a newline: search the line of its start alone.
            let line_end = text[m.start()..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(text.len(), |i| m.start() + i);
            match re.find_at(&text[..line_end], pos) {
                Some(m) => (m.start(), m.end()),
                None => {
                    pos = line_end + 1;
                    continue;
                }
            }
        } else {
            (m.start(), m.end())
        };
        if start == end {
            pos = end + 1;
        } else {
            hit(start, end);
            pos = end;
        }
    }
}

/// The end of the complete lines of `buf`: after its last newline, or all
/// of it when the file ends there.
pub(crate) fn complete(buf: &[u8], last: bool) -> usize {
    if last {
        return buf.len();
    }
    buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)
}

fn pattern(args: &[String]) -> Result<Regex, String> {
    match args {
        [p] => compile(p),
        [dd, p] if dd == "--" => compile(p),
        _ => Err(USAGE.to_string()),
    }
}

impl Plugin for Redact {
    fn plan(args: Vec<String>) -> Result<Option<u64>, String> {
        pattern(&args)?;
        Ok(Some(parallel::HALO))
    }

    fn run_chunk(args: Vec<String>, chunk: Chunk) -> Result<Vec<u8>, String> {
        parallel::run_chunk(&pattern(&args)?, &chunk)
    }

    fn reduce(args: Vec<String>, partials: Vec<Vec<u8>>) -> Result<String, String> {
        parallel::reduce(&pattern(&args)?, &partials)
    }

    fn run(args: Vec<String>) -> Result<String, String> {
        let re = pattern(&args)?;
        let write = region::writable();
        let mut progress = Progress::new(region::size());
        let mut count = 0u64;
        let mut out: Vec<u8> = Vec::new();
        for seg in region::segments() {
            let end = seg.start + seg.len;
            let mut buf: Vec<u8> = Vec::new();
            let mut buf_at = seg.start; // global offset of buf[0]
            let mut pos = seg.start;
            while pos < end {
                let n = (end - pos).min(BLOCK);
                let more = region::read(pos as i64, n).map_err(|e| {
                    format!("redact: {}: at byte {}: {e}", seg.name, pos - seg.start)
                })?;
                buf.extend_from_slice(&more);
                pos += n;
                progress.set(pos);
                let used = complete(&buf, pos >= end);
                let mut hits = Vec::new();
                matches(&re, &buf[..used], |s, e| hits.push((s, e)));
                count += hits.len() as u64;
                if write {
                    for (s, e) in hits {
                        let at = buf_at + s as u64;
                        region::write(at as i64, &vec![b'X'; e - s]).map_err(|x| {
                            format!("redact: {}: at byte {}: {x}", seg.name, at - seg.start)
                        })?;
                    }
                } else {
                    for (s, e) in hits {
                        buf[s..e].fill(b'X');
                    }
                    out.extend_from_slice(&buf[..used]);
                    if out.len() >= 1 << 16 {
                        mmhost_guest::emit(&out);
                        out.clear();
                    }
                }
                buf.drain(..used);
                buf_at += used as u64;
            }
        }
        if write {
            Ok(count.to_string())
        } else {
            mmhost_guest::emit(&out);
            Ok(String::new())
        }
    }
}

mmhost_guest::export!(Redact);
