//! `bench-wasi-filter upper|count PATTERN`: stdin to stdout, 1 MiB at a time.
//!
//! `upper` writes stdin ASCII-uppercased to stdout; `count PATTERN` prints
//! the number of non-overlapping matches (Python's `bytes.count`). The
//! kernels are those of the reference plugins (bench/kernels).

use std::io::{Read, Write};
use std::process::ExitCode;

use bench_kernels::{uppercase, StreamCounter};

const CHUNK: usize = 1 << 20;

/// Fills `buf` as far as stdin allows; returns the bytes read (0 at EOF).
fn fill(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

fn run(args: &[String]) -> std::io::Result<()> {
    let mut input = std::io::stdin().lock();
    let mut output = std::io::stdout().lock();
    let mut buf = vec![0u8; CHUNK];
    match args {
        [mode] if mode == "upper" => loop {
            let n = fill(&mut input, &mut buf)?;
            if n == 0 {
                break;
            }
            uppercase(&mut buf[..n]);
            output.write_all(&buf[..n])?;
        },
        [mode, pattern] if mode == "count" => {
            let pattern = pattern.as_bytes();
            if pattern.is_empty() {
                let mut total = 0u64;
                loop {
                    let n = fill(&mut input, &mut buf)?;
                    if n == 0 {
                        break;
                    }
                    total += n as u64;
                }
                writeln!(output, "{}", total + 1)?;
            } else {
                let mut counter = StreamCounter::new(pattern);
                loop {
                    let n = fill(&mut input, &mut buf)?;
                    if n == 0 {
                        break;
                    }
                    counter.feed(&buf[..n]);
                }
                writeln!(output, "{}", counter.count())?;
            }
        }
        _ => {
            eprintln!("usage: bench-wasi-filter upper | count PATTERN");
            std::process::exit(2);
        }
    }
    output.flush()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-wasi-filter: {e}");
            ExitCode::FAILURE
        }
    }
}
