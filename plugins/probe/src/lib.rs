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
//! - `readloop N`: logs `readloop started`, then reads the whole region N
//!   times over in 64 KiB chunks (for tests that change the files meanwhile);
//!   -> `readloop N` (the rounds done) or `err ...`
//! - `log LEVEL MESSAGE`, `emit TEXT`, `logflood N`
//! - `config` -> `config TEXT` (the step's configuration as the host gives
//!   it); `configvalue` -> `configvalue JSON` (parsed with `config_as` and
//!   written back compactly), or `err ...`
//! - `loop` (forever), `grow MIB` (allocate and touch), `trap`, `panic MSG`,
//!   `fail MSG` (return `err`), `bigresult MIB` (return a huge `ok` string)

use mmhost_guest::{emit, log, region, Plugin, RegionError};

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

impl Plugin for Probe {
    fn run(args: Vec<String>) -> Result<String, String> {
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
}

mmhost_guest::export!(Probe);
