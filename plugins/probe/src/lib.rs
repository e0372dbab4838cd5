//! `probe`: a test plugin that performs the region calls (and the misbehaviour)
//! its arguments script, one operation at a time, and emits one line per
//! operation. The host's tests drive it to check offsets, errors and limits
//! against an independent model. Not meant for users.
//!
//! Operations (arguments, consumed left to right):
//! - `size`, `writable`, `segments`
//! - `read AT LEN` -> `ok HEX` or `err ...`
//! - `write AT HEX` -> `ok` or `err ...`
//! - `fill AT LEN BYTE` (BYTE in hex) -> `ok` or `err ...`
//! - `locate SEG DELTA` -> `ok OFFSET` or `err ...`
//! - `find HEX START END LIMIT` -> `ok OFFSET...` or `err ...`
//! - `digest AT LEN` -> `ok HEX` (the host's SHA-256 of the range) or `err ...`
//! - `count BYTE AT LEN` (BYTE in hex) -> `ok N` (the host's count of BYTE in
//!   the range) or `err ...`
//! - `readloop N`: logs `readloop started`, then reads the whole region N
//!   times over in 64 KiB chunks (for tests that change the files meanwhile);
//!   -> `readloop N` (the rounds done) or `err ...`
//! - `log LEVEL MESSAGE`, `emit TEXT`, `logflood N`
//! - `config` -> `config TEXT` (the step's configuration as the host gives
//!   it); `configvalue` -> `configvalue JSON` (parsed with `config_as` and
//!   written back compactly), or `err ...`
//! - `loop` (forever), `grow MIB` (allocate and touch), `trap`, `panic MSG`,
//!   `fail MSG` (return `err`), `bigresult MIB` (return a huge `ok` string)
//!
//! Parallel runs: arguments `chunked HALO OP...` make `plan` ask for chunks
//! with that halo; each chunk emits `chunk INDEX` and then runs the OPs, in
//! which `@start`, `@end`, `@len`, `@lo`, `@hi` (the readable window) and
//! `@index`, each optionally followed by `+N` or `-N`, stand for the chunk's
//! values; after `onchunk K`, operations run in chunk K only (until the
//! next `onchunk` or `allchunks`). `reduce` returns
//! `chunks COUNT`. Run serially, the whole region is chunk 0 of 1.
//! After `atplan`, operations run in `plan` only; after `atreduce`, in
//! `reduce` only (both end the chunks' operations; `atreduce` also ends
//! the plan's); a serial run runs the chunk's and the reduce's.

use mmhost_guest::{emit, log, region, Chunk, Plugin, RegionError};

struct Probe;

fn line(s: &str) {
    emit(s.as_bytes());
    emit(b"\n");
}

fn describe(e: RegionError) -> String {
    match e {
        RegionError::OutOfRange { at, len, size } => {
            format!("err out-of-range at={at} len={len} size={size}")
        }
        RegionError::ReadOnly => "err read-only".to_string(),
        RegionError::TooLarge { limit, .. } => format!("err too-large limit={limit}"),
        RegionError::NoSuchSegment { count, .. } => format!("err no-such-segment count={count}"),
        other => format!("err {other}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) {
        return Err(format!("odd hex length: {s}"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| format!("bad hex {s}: {e}")))
        .collect()
}

fn num<T: std::str::FromStr>(
    args: &mut impl Iterator<Item = String>,
    what: &str,
) -> Result<T, String> {
    let a = args.next().ok_or_else(|| format!("missing {what}"))?;
    a.parse().map_err(|_| format!("bad {what}: {a}"))
}

fn text(args: &mut impl Iterator<Item = String>, what: &str) -> Result<String, String> {
    args.next().ok_or_else(|| format!("missing {what}"))
}

/// Replaces the `@name[+-N]` tokens of a chunked run's operations.
fn substitute(args: &[String], chunk: &Chunk) -> Result<Vec<String>, String> {
    let size = region::size();
    let lo = chunk.start.saturating_sub(chunk.halo);
    let hi = (chunk.end + chunk.halo).min(size);
    args.iter()
        .map(|a| {
            let Some(token) = a.strip_prefix('@') else {
                return Ok(a.clone());
            };
            let split = token.find(['+', '-']).unwrap_or(token.len());
            let (name, delta) = token.split_at(split);
            let base = match name {
                "start" => chunk.start,
                "end" => chunk.end,
                "len" => chunk.end - chunk.start,
                "lo" => lo,
                "hi" => hi,
                "index" => u64::from(chunk.index),
                _ => return Err(format!("unknown token {a}")),
            } as i64;
            let delta: i64 = if delta.is_empty() {
                0
            } else {
                delta.parse().map_err(|_| format!("bad token {a}"))?
            };
            Ok((base + delta).to_string())
        })
        .collect()
}

/// The OPs of `chunked HALO OP...` (those of the chunks: up to `atplan`
/// or `atreduce`), or `None` for an ordinary run.
fn chunked(args: &[String]) -> Option<(u64, &[String])> {
    match args {
        [c, halo, ops @ ..] if c == "chunked" => {
            let end = ops
                .iter()
                .position(|o| o == "atplan" || o == "atreduce")
                .unwrap_or(ops.len());
            Some((halo.parse().ok()?, &ops[..end]))
        }
        _ => None,
    }
}

/// The operations after `marker` (`atplan` or `atreduce`), up to the other
/// marker.
fn section(args: &[String], marker: &str) -> Vec<String> {
    let Some(at) = args.iter().position(|o| o == marker) else {
        return Vec::new();
    };
    args[at + 1..]
        .iter()
        .take_while(|o| *o != "atplan" && *o != "atreduce")
        .cloned()
        .collect()
}

/// Runs one chunk's operations.
fn run_chunk_ops(ops: &[String], chunk: &Chunk) -> Result<String, String> {
    line(&format!("chunk {}", chunk.index));
    let ops = substitute(ops, chunk)?;
    // `onchunk K`: the operations after it, up to the next `onchunk` or
    // `allchunks`, run in chunk K only.
    let mut kept = Vec::new();
    let mut active = true;
    let mut ops = ops.into_iter();
    while let Some(op) = ops.next() {
        match op.as_str() {
            "onchunk" => {
                let k: u32 = num(&mut ops, "K")?;
                active = k == chunk.index;
            }
            "allchunks" => active = true,
            _ if active => kept.push(op),
            _ => {}
        }
    }
    run_ops(kept)
}

impl Plugin for Probe {
    fn run(args: Vec<String>) -> Result<String, String> {
        match chunked(&args) {
            Some((_, ops)) => {
                let size = region::size();
                let whole = Chunk {
                    index: 0,
                    count: 1,
                    start: 0,
                    end: size,
                    halo: 0,
                };
                run_chunk_ops(ops, &whole)?;
                run_ops(section(&args, "atreduce"))?;
                Ok("chunks 1".to_string())
            }
            None => run_ops(args),
        }
    }

    fn plan(args: Vec<String>) -> Result<Option<u64>, String> {
        if chunked(&args).is_some() {
            run_ops(section(&args, "atplan"))?;
        }
        Ok(chunked(&args).map(|(halo, _)| halo))
    }

    fn run_chunk(args: Vec<String>, chunk: Chunk) -> Result<Vec<u8>, String> {
        let (_, ops) = chunked(&args).ok_or("not a chunked run")?;
        run_chunk_ops(ops, &chunk)?;
        Ok(Vec::new())
    }

    fn reduce(args: Vec<String>, partials: Vec<Vec<u8>>) -> Result<String, String> {
        run_ops(section(&args, "atreduce"))?;
        Ok(format!("chunks {}", partials.len()))
    }
}

/// Runs the operations of an ordinary run.
fn run_ops(args: Vec<String>) -> Result<String, String> {
    let mut args = args.into_iter();
    while let Some(op) = args.next() {
        match op.as_str() {
            "size" => line(&format!("size {}", region::size())),
            "writable" => line(&format!("writable {}", region::writable())),
            "segments" => {
                for s in region::segments() {
                    line(&format!("seg {} {} {}", s.name, s.start, s.len));
                }
            }
            "read" => {
                let at: i64 = num(&mut args, "AT")?;
                let len: u64 = num(&mut args, "LEN")?;
                match region::read(at, len) {
                    Ok(b) => line(&format!("ok {}", hex(&b))),
                    Err(e) => line(&describe(e)),
                }
            }
            "write" => {
                let at: i64 = num(&mut args, "AT")?;
                let data = unhex(&text(&mut args, "HEX")?)?;
                match region::write(at, &data) {
                    Ok(()) => line("ok"),
                    Err(e) => line(&describe(e)),
                }
            }
            "fill" => {
                let at: i64 = num(&mut args, "AT")?;
                let len: usize = num(&mut args, "LEN")?;
                let byte = unhex(&text(&mut args, "BYTE")?)?;
                let data = vec![*byte.first().ok_or("empty BYTE")?; len];
                match region::write(at, &data) {
                    Ok(()) => line("ok"),
                    Err(e) => line(&describe(e)),
                }
            }
            "find" => {
                let pattern = unhex(&text(&mut args, "HEX")?)?;
                let start: u64 = num(&mut args, "START")?;
                let end: u64 = num(&mut args, "END")?;
                let limit: u32 = num(&mut args, "LIMIT")?;
                match region::find(&pattern, start..end, limit) {
                    Ok(hits) => {
                        let hits: Vec<String> = hits.iter().map(u64::to_string).collect();
                        line(format!("ok {}", hits.join(" ")).trim_end());
                    }
                    Err(e) => line(&describe(e)),
                }
            }
            "digest" => {
                let at: i64 = num(&mut args, "AT")?;
                let len: u64 = num(&mut args, "LEN")?;
                match region::digest(region::DigestAlgorithm::Sha256, at, len) {
                    Ok(b) => line(&format!("ok {}", hex(&b))),
                    Err(e) => line(&describe(e)),
                }
            }
            "count" => {
                let byte = unhex(&text(&mut args, "BYTE")?)?;
                let byte = *byte.first().ok_or("empty BYTE")?;
                let at: i64 = num(&mut args, "AT")?;
                let len: u64 = num(&mut args, "LEN")?;
                match region::count(byte, at, len) {
                    Ok(n) => line(&format!("ok {n}")),
                    Err(e) => line(&describe(e)),
                }
            }
            "locate" => {
                let seg: u32 = num(&mut args, "SEG")?;
                let delta: i64 = num(&mut args, "DELTA")?;
                match region::locate(seg, delta) {
                    Ok(g) => line(&format!("ok {g}")),
                    Err(e) => line(&describe(e)),
                }
            }
            "log" => {
                let level = text(&mut args, "LEVEL")?;
                let msg = text(&mut args, "MESSAGE")?;
                match level.as_str() {
                    "trace" => log::trace(&msg),
                    "debug" => log::debug(&msg),
                    "info" => log::info(&msg),
                    "warn" => log::warn(&msg),
                    _ => log::error(&msg),
                }
            }
            "readloop" => {
                let n: u64 = num(&mut args, "N")?;
                log::info("readloop started");
                let size = region::size();
                let mut done = 0;
                'rounds: while done < n {
                    let mut at = 0u64;
                    while at < size {
                        let len = (size - at).min(64 << 10);
                        if let Err(e) = region::read(at as i64, len) {
                            line(&describe(e));
                            break 'rounds;
                        }
                        at += len;
                    }
                    done += 1;
                }
                line(&format!("readloop {done}"));
            }
            "logflood" => {
                let n: u64 = num(&mut args, "N")?;
                for i in 0..n {
                    log::info(&format!("flood {i}"));
                }
            }
            "emit" => emit(text(&mut args, "TEXT")?.as_bytes()),
            "config" => line(&format!("config {}", mmhost_guest::config())),
            "configvalue" => match mmhost_guest::config_as::<serde_json::Value>() {
                Ok(v) => line(&format!("configvalue {v}")),
                Err(e) => line(&format!("err {e}")),
            },
            "loop" => {
                let mut x: u64 = 1;
                loop {
                    x = std::hint::black_box(x.wrapping_mul(3).wrapping_add(1));
                }
            }
            "grow" => {
                let mib: usize = num(&mut args, "MIB")?;
                let mut keep: Vec<Vec<u8>> = Vec::new();
                for _ in 0..mib {
                    keep.push(vec![1u8; 1 << 20]);
                }
                line(&format!("grew {}", keep.len()));
            }
            "trap" => core::arch::wasm32::unreachable(),
            "panic" => panic!("{}", text(&mut args, "MSG")?),
            "fail" => return Err(text(&mut args, "MSG")?),
            "bigresult" => {
                let mib: usize = num(&mut args, "MIB")?;
                return Ok("x".repeat(mib << 20));
            }
            other => return Err(format!("unknown operation {other:?}")),
        }
    }
    Ok(String::new())
}

mmhost_guest::export!(Probe);
