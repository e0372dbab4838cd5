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
//! A regex search runs over whole buffers of a file (4 MiB blocks read
//! into the plugin), and each match is checked against its own line, so a
//! match that would run across a newline (`[^a]` matches one) counts only
//! if the line matches alone. `-F` with one pattern and no `-i` is searched
//! by the host instead (`region.find`, SIMD over the mapping; the line's
//! ends by `find` of a newline, `-n`'s numbers by `region.count`), so only
//! the lines printed are copied into the plugin.
//!
//! Parallel (halo 1 MiB): a chunk owns the lines that start inside it and
//! searches them, reading past its end to finish its last line; it prints
//! nothing but returns where the matching lines are (runs of consecutive
//! lines) or, with `-c`, the counts per file. `reduce` prints them in
//! order, numbering lines with `region.count` from the start of each file.
//! A line that starts in a chunk but runs more than the halo past its end
//! is not searched there: the chunk names it and `reduce`, which can read
//! the whole region, searches it; so does a chunk whose partial result
//! would exceed the host's 1 MiB (it hands the rest of its lines to
//! `reduce`). The output is the serial run's, whatever the chunks.

mod partial;
mod walk;

use mmhost_guest::region::Segment;
use mmhost_guest::{region, Chunk, Plugin, Progress, RegionError};
use partial::Item;
use regex::bytes::{Regex, RegexBuilder};
use walk::{walk, Hit, Matcher, Walk, BLOCK};

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
    fn prefix(&mut self, name: &str, number: Option<u64>) {
        self.0.extend_from_slice(name.as_bytes());
        self.0.push(b':');
        if let Some(n) = number {
            self.0.extend_from_slice(n.to_string().as_bytes());
            self.0.push(b':');
        }
    }

    fn line(&mut self, name: &str, number: Option<u64>, line: &[u8]) {
        self.prefix(name, number);
        self.0.extend_from_slice(line);
        self.0.push(b'\n');
        if self.0.len() >= 1 << 16 {
            self.flush();
        }
    }

    /// A line that [`walk`] found: its bytes if at hand, else read from
    /// the region (in pieces, for a long line).
    fn hit(&mut self, name: &str, number: Option<u64>, h: &Hit<'_>) -> Result<(), RegionError> {
        if let Some(bytes) = h.bytes {
            self.line(name, number, bytes);
            return Ok(());
        }
        self.prefix(name, number);
        let mut p = h.start;
        while p < h.end {
            let n = (h.end - p).min(BLOCK);
            self.0.extend_from_slice(&region::read(p as i64, n)?);
            p += n;
            if self.0.len() >= 1 << 16 {
                self.flush();
            }
        }
        self.0.push(b'\n');
        if self.0.len() >= 1 << 16 {
            self.flush();
        }
        Ok(())
    }

    fn flush(&mut self) {
        if !self.0.is_empty() {
            mmhost_guest::emit(&self.0);
            self.0.clear();
        }
    }
}

/// The matcher for these options: the host's fixed-string search where it
/// applies (`-F` without `-i`, one non-empty pattern), else the regex.
fn matcher(o: &Options) -> Result<Matcher, String> {
    if o.fixed && !o.ignore_case && !o.pattern.is_empty() && !o.pattern.contains('\n') {
        let p = o.pattern.as_bytes();
        return Ok(Matcher::Fixed(p.to_vec(), walk::Literal::new(p)));
    }
    compile(o).map(Matcher::Regex)
}

/// The index of the file holding global offset `at` (not an empty one).
fn file_of(segs: &[Segment], at: u64) -> usize {
    segs.partition_point(|s| s.start + s.len <= at)
}

/// Prints matching lines (or counts them with `-c`) in region order, for
/// the serial run and for `reduce`.
struct Printer<'a> {
    o: &'a Options,
    segs: &'a [Segment],
    out: Out,
    counts: Vec<u64>,
    matched: bool,
    /// `-n`: a file, an offset in it, and the lines before that offset.
    cursor: (usize, u64, u64),
}

impl<'a> Printer<'a> {
    fn new(o: &'a Options, segs: &'a [Segment]) -> Self {
        Printer {
            o,
            segs,
            out: Out(Vec::new()),
            counts: vec![0; segs.len()],
            matched: false,
            cursor: (usize::MAX, 0, 0),
        }
    }

    /// The number of lines of file `i` before offset `x` (counted by the
    /// host from the last offset asked for in that file).
    fn lines_before(&mut self, i: usize, x: u64) -> Result<u64, String> {
        if self.cursor.0 != i || x < self.cursor.1 {
            self.cursor = (i, self.segs[i].start, 0);
        }
        let (_, p, n) = self.cursor;
        let n = n + region::count(b'\n', p as i64, x - p)
            .map_err(|e| format!("grep: {}: {e}", self.segs[i].name))?;
        self.cursor = (i, x, n);
        Ok(n)
    }

    /// Searches the lines of file `i` that start in `[from, to)` (`from` a
    /// line start) and prints or counts the matching ones.
    fn search(&mut self, m: &Matcher, i: usize, from: u64, to: u64) -> Result<(), String> {
        let segs = self.segs;
        let seg = &segs[i];
        let file_end = seg.start + seg.len;
        let (count, number) = (self.o.count, self.o.number);
        let base = if number {
            self.lines_before(i, from)?
        } else {
            0
        };
        let mut n = 0u64;
        let mut failed = None;
        let out = &mut self.out;
        walk(m, file_end, (from, to, file_end), number, !count, |h| {
            n += 1;
            if !count {
                if let Err(e) = out.hit(&seg.name, number.then_some(base + h.index + 1), &h) {
                    failed = Some(e);
                    return false;
                }
            }
            true
        })
        .map_err(|e| format!("grep: {}: {e}", seg.name))?;
        if let Some(e) = failed {
            return Err(format!("grep: {}: {e}", seg.name));
        }
        self.counts[i] += n;
        self.matched |= n > 0;
        Ok(())
    }

    /// Prints the run of matching lines `[start, end)` of file `i` (whole
    /// lines, newlines included) that a chunk found.
    fn lines(&mut self, i: usize, start: u64, end: u64) -> Result<(), String> {
        let segs = self.segs;
        let seg = &segs[i];
        let mut number = if self.o.number {
            Some(self.lines_before(i, start)? + 1)
        } else {
            None
        };
        let mut buf: Vec<u8> = Vec::new();
        let mut p = start;
        let mut lines = 0;
        while p < end {
            let n = (end - p).min(BLOCK);
            let more = region::read(p as i64, n).map_err(|e| format!("grep: {}: {e}", seg.name))?;
            p += n;
            buf.extend_from_slice(&more);
            let mut k = 0;
            while let Some(j) = buf[k..].iter().position(|&b| b == b'\n') {
                self.out.line(&seg.name, number, &buf[k..k + j]);
                number = number.map(|x| x + 1);
                lines += 1;
                k += j + 1;
            }
            buf.drain(..k);
        }
        if !buf.is_empty() {
            self.out.line(&seg.name, number, &buf);
        }
        if self.o.number {
            let before = self.cursor.2;
            self.cursor = (i, end, before + lines);
        }
        self.matched = true;
        Ok(())
    }

    /// Prints the counts (`-c`) and the rest of the output; the run's
    /// result.
    fn finish(mut self) -> Result<String, String> {
        if self.o.count {
            for (seg, n) in self.segs.iter().zip(&self.counts) {
                self.out.line(&seg.name, None, n.to_string().as_bytes());
            }
        }
        self.out.flush();
        if self.matched {
            Ok(String::new())
        } else {
            Err("grep: no match".to_string())
        }
    }
}

/// How many bytes beyond its bounds a chunk may read: the most the host
/// allows. A line that starts in a chunk and ends past this is searched by
/// `reduce` instead.
const HALO: u64 = 1 << 20;

impl Plugin for Grep {
    fn run(args: Vec<String>) -> Result<String, String> {
        let o = options(&args)?;
        let m = matcher(&o)?;
        let segs = region::segments();
        let mut progress = Progress::new(region::size());
        let mut p = Printer::new(&o, &segs);
        for (i, seg) in segs.iter().enumerate() {
            let end = seg.start + seg.len;
            p.search(&m, i, seg.start, end)?;
            progress.set(end);
        }
        p.finish()
    }

    fn plan(args: Vec<String>) -> Result<Option<u64>, String> {
        matcher(&options(&args)?)?;
        Ok(Some(HALO))
    }

    fn run_chunk(args: Vec<String>, chunk: Chunk) -> Result<Vec<u8>, String> {
        let o = options(&args)?;
        let m = matcher(&o)?;
        let segs = region::segments();
        let window_end = (chunk.end + chunk.halo).min(region::size());
        let mut out = Vec::new();
        for (i, seg) in segs.iter().enumerate().skip(file_of(&segs, chunk.start)) {
            let file_end = seg.start + seg.len;
            let (s, e) = (seg.start.max(chunk.start), file_end.min(chunk.end));
            if seg.start >= chunk.end {
                break;
            }
            if s >= e {
                continue;
            }
            let fail = |e: RegionError| format!("grep: {}: {e}", seg.name);
            // The first line that starts in the chunk.
            let from = if s == seg.start || region::read(s as i64 - 1, 1).map_err(fail)?[0] == b'\n'
            {
                s
            } else {
                match region::find(b"\n", s..e, 1).map_err(fail)?.first() {
                    Some(&n) => n + 1,
                    None => continue,
                }
            };
            if from >= e {
                continue;
            }
            let limit = file_end.min(window_end);
            let mut n = 0u64;
            let mut run: Option<(u64, u64)> = None;
            let walked = walk(&m, file_end, (from, e, limit), false, !o.count, |h| {
                n += 1;
                if !o.count {
                    let (a, b) = (h.start, (h.end + 1).min(file_end));
                    match &mut run {
                        Some((_, end)) if *end == a => *end = b,
                        _ => {
                            if let Some((start, end)) = run.replace((a, b)) {
                                partial::push(
                                    &mut out,
                                    Item::Lines {
                                        start,
                                        len: end - start,
                                    },
                                );
                            }
                        }
                    }
                    if out.len() > partial::CAP {
                        return false;
                    }
                }
                true
            })
            .map_err(fail)?;
            if let Some((start, end)) = run {
                partial::push(
                    &mut out,
                    Item::Lines {
                        start,
                        len: end - start,
                    },
                );
            }
            if o.count && n > 0 {
                partial::push(
                    &mut out,
                    Item::Count {
                        file: i as u64,
                        count: n,
                    },
                );
            }
            match walked {
                Walk::Done => {}
                Walk::Long(at) => partial::push(
                    &mut out,
                    Item::Redo {
                        from: at,
                        to: at + 1,
                    },
                ),
                Walk::Stopped(at) => {
                    if at < chunk.end {
                        partial::push(
                            &mut out,
                            Item::Redo {
                                from: at,
                                to: chunk.end,
                            },
                        );
                    }
                    break;
                }
            }
            if out.len() > partial::CAP {
                // Counts of many files: the files after this one are left
                // to `reduce`.
                if file_end < chunk.end {
                    partial::push(
                        &mut out,
                        Item::Redo {
                            from: file_end,
                            to: chunk.end,
                        },
                    );
                }
                break;
            }
        }
        Ok(out)
    }

    fn reduce(args: Vec<String>, partials: Vec<Vec<u8>>) -> Result<String, String> {
        let o = options(&args)?;
        let m = matcher(&o)?;
        let segs = region::segments();
        let mut p = Printer::new(&o, &segs);
        let malformed = || "grep: malformed partial result".to_string();
        for partial in &partials {
            for item in partial::decode(partial).ok_or_else(malformed)? {
                match item {
                    Item::Lines { start, len } => {
                        let i = file_of(&segs, start);
                        if i >= segs.len() {
                            return Err(malformed());
                        }
                        p.lines(i, start, start + len)?;
                    }
                    Item::Redo { from, to } => {
                        let first = file_of(&segs, from);
                        for (i, seg) in segs.iter().enumerate().skip(first) {
                            if seg.start >= to {
                                break;
                            }
                            let (a, b) = (from.max(seg.start), to.min(seg.start + seg.len));
                            if a < b {
                                p.search(&m, i, a, b)?;
                            }
                        }
                    }
                    Item::Count { file, count } => {
                        let c = p.counts.get_mut(file as usize).ok_or_else(malformed)?;
                        *c += count;
                        p.matched |= count > 0;
                    }
                }
            }
        }
        p.finish()
    }
}

mmhost_guest::export!(Grep);
