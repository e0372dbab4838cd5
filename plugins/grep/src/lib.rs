//! `grep [-F] [-i] [-n] [-c] PATTERN`: the lines of each input file that
//! match PATTERN, printed as `LC_ALL=C grep -a -H [-n] [-c] [-i] -E PATTERN
//! FILE...` (or `-F`) prints them: `NAME:LINE`, `NAME:NUMBER:LINE` with
//! `-n`, `NAME:COUNT` per file with `-c`.
//!
//! Lines never span files: each file's lines are matched on their own, and a
//! file without a final newline ends its last line there (printed with a
//! newline, as grep does). PATTERN is an extended regular expression in the
//! syntax of the `regex` crate without Unicode (bytes, as the C locale),
//! which agrees with POSIX ERE on the common forms (`a|b`, `(x)+`, `[^0-9]`,
//! `[[:alpha:]]`, `{m,n}`); back-references are not supported. `-F` takes it
//! as a fixed string; `-i` ignores ASCII case. A PATTERN with newlines is
//! several patterns, any of which may match, as in grep.
//!
//! Like grep, the plugin fails (exit code 1, no message beyond `grep: no
//! match`) when no line matched; with `-c` too.
//!
//! The search runs over whole buffers of a file (the regex crate's literal
//! prefilters make `-F` a memchr-speed scan), and each match is checked
//! against its own line, so a match that would run across a newline (`[^a]`
//! matches one) counts only if the line matches alone.
//!
//! Serial: output must come out in file and line order, and a line is found
//! only by reading from the previous newline; chunks would need a halo as
//! long as the longest line.

use mmhost_guest::{region, Plugin, Progress};
use regex::bytes::{Regex, RegexBuilder};

struct Grep;

const USAGE: &str = "usage: grep [-F] [-i] [-n] [-c] PATTERN";

struct Options {
    fixed: bool,
    ignore_case: bool,
    number: bool,
    count: bool,
    pattern: String,
}

fn options(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        fixed: false,
        ignore_case: false,
        number: false,
        count: false,
        pattern: String::new(),
    };
    let mut pattern = None;
    let mut rest = args.iter();
    while let Some(a) = rest.next() {
        if a == "--" {
            pattern = rest.next().cloned();
            if rest.next().is_some() {
                return Err(format!("grep: one PATTERN only; {USAGE}"));
            }
            break;
        }
        match a.strip_prefix('-').filter(|l| !l.is_empty()) {
            Some(letters) if pattern.is_none() => {
                for c in letters.chars() {
                    match c {
                        'F' => o.fixed = true,
                        'E' => o.fixed = false,
                        'i' => o.ignore_case = true,
                        'n' => o.number = true,
                        'c' => o.count = true,
                        _ => return Err(format!("grep: unknown option `-{c}`; {USAGE}")),
                    }
                }
            }
            _ if pattern.is_none() => pattern = Some(a.clone()),
            _ => return Err(format!("grep: one PATTERN only; {USAGE}")),
        }
    }
    o.pattern = pattern.ok_or_else(|| USAGE.to_string())?;
    Ok(o)
}

fn compile(o: &Options) -> Result<Regex, String> {
    let alternatives: Vec<String> = o
        .pattern
        .split('\n')
        .map(|p| {
            if o.fixed {
                regex::escape(p)
            } else {
                format!("(?:{p})")
            }
        })
        .collect();
    RegexBuilder::new(&alternatives.join("|"))
        .unicode(false)
        .multi_line(true)
        .case_insensitive(o.ignore_case)
        .size_limit(64 << 20)
        .build()
        .map_err(|e| {
            let first = e.to_string();
            let first = first.lines().last().unwrap_or("").trim().to_string();
            format!("grep: invalid pattern `{}`: {first}", o.pattern)
        })
}

/// Where the output goes: emitted in blocks of about 64 KiB.
struct Out(Vec<u8>);

impl Out {
    fn line(&mut self, name: &str, number: Option<u64>, line: &[u8]) {
        self.0.extend_from_slice(name.as_bytes());
        self.0.push(b':');
        if let Some(n) = number {
            self.0.extend_from_slice(n.to_string().as_bytes());
            self.0.push(b':');
        }
        self.0.extend_from_slice(line);
        self.0.push(b'\n');
        if self.0.len() >= 1 << 16 {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.0.is_empty() {
            mmhost_guest::emit(&self.0);
            self.0.clear();
        }
    }
}

/// Matches the complete lines of `buf` (those ending in `\n`, and the rest
/// too when `last`), calling `hit` with each matching line's index among
/// them and its bytes. Returns how many lines were consumed and how many
/// bytes they take.
fn scan(re: &Regex, buf: &[u8], last: bool, mut hit: impl FnMut(u64, &[u8])) -> (u64, usize) {
    let end = match memrchr(buf) {
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
        let Some(m) = re.find_at(text, pos) else {
            break;
        };
        // The line holding the match's start.
        let start = m.start();
        line_no += count_nl(&text[line_start..start]);
        line_start += text[line_start..start]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let line_end = text[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(text.len(), |i| start + i);
        let line = &text[line_start..line_end];
        // An empty last piece after the final newline is no line.
        if line_start == text.len() {
            break;
        }
        if m.end() <= line_end || re.is_match(line) {
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
    b.iter().filter(|&&c| c == b'\n').count() as u64
}

fn memrchr(b: &[u8]) -> Option<usize> {
    b.iter().rposition(|&c| c == b'\n')
}

const BLOCK: u64 = 4 << 20;

impl Plugin for Grep {
    fn run(args: Vec<String>) -> Result<String, String> {
        let o = options(&args)?;
        let re = compile(&o)?;
        let mut out = Out(Vec::new());
        let mut progress = Progress::new(region::size());
        let mut matched_any = false;
        for seg in region::segments() {
            let end = seg.start + seg.len;
            let mut buf: Vec<u8> = Vec::new();
            let mut pos = seg.start;
            let mut lines_before = 0u64;
            let mut matches = 0u64;
            while pos < end || !buf.is_empty() {
                let n = (end - pos).min(BLOCK);
                if n > 0 {
                    let more = region::read(pos as i64, n).map_err(|e| {
                        format!("grep: {}: at byte {}: {e}", seg.name, pos - seg.start)
                    })?;
                    buf.extend_from_slice(&more);
                    pos += n;
                    progress.set(pos);
                }
                let last = pos >= end;
                let base = lines_before;
                let (lines, used) = scan(&re, &buf, last, |i, line| {
                    matches += 1;
                    if !o.count {
                        out.line(&seg.name, o.number.then_some(base + i + 1), line);
                    }
                });
                lines_before += lines;
                buf.drain(..used);
                if last {
                    break;
                }
            }
            if o.count {
                out.line(&seg.name, None, matches.to_string().as_bytes());
            }
            matched_any |= matches > 0;
        }
        out.flush();
        if matched_any {
            Ok(String::new())
        } else {
            Err("grep: no match".to_string())
        }
    }
}

mmhost_guest::export!(Grep);

#[cfg(test)]
mod tests {
    use super::*;

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
