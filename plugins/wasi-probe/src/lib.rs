//! `wasi-probe`: a test plugin built for `wasm32-wasip2` with Rust's `std`,
//! so that the standard library's file, environment, network and clock calls
//! become real WASI 0.2 imports; built for `wasm32-wasip1` too, where they
//! become WASI preview 1 imports that mmhost adapts (`wasi-probe-p1.wasm`). It tries each one and emits one line per
//! attempt, `NAME: denied (ERROR)` or `NAME: allowed (WHAT)` (for the clocks
//! and the environment, what it saw), so the host's tests can check that
//! mmhost grants none of them. Not meant for users.
//!
//! It also prints one line with `println!` (WASI stdout), which mmhost must
//! send to its stderr, never into the plugin's output stream.
//!
//! With the arguments `print N`, it instead prints N lines of 100 bytes with
//! `println!` and emits `printed N`: a flood of WASI output for the host's
//! cap. With `sleep MS`, it calls `std::thread::sleep` (a WASI clock
//! subscription and a blocking poll) and emits `slept N ns`, N the time the
//! monotonic clock moved across the sleep. With `write
//! STREAM TEXT...` (STREAM `stdout` or `stderr`), it writes each TEXT to that
//! WASI stream as is, in a write of its own, with no newline added, and
//! emits `wrote N` (N texts): raw bytes for the host's escaping.
//!
//! With the arguments `random`, it works in chunks (halo 0): each chunk
//! emits `chunk I random A B`, where A is a hash with a fresh
//! `RandomState` (std draws its keys from WASI's random source once per
//! instance, then derives the next ones from them: state an instance carries
//! from chunk to chunk) and B a hash with a second one; `reduce` returns
//! `chunks N`. So the tests can check that a chunk's random numbers depend
//! on the run and the chunk, not on which chunks ran before it.

use std::fmt::Display;
use std::io::Read;
use std::net::{TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use mmhost_guest::{emit, Plugin};

struct WasiProbe;

fn line(s: &str) {
    emit(s.as_bytes());
    emit(b"\n");
}

/// One line for an attempt that should fail.
fn attempt<T, E: Display>(name: &str, r: Result<T, E>, what: impl FnOnce(T) -> String) {
    match r {
        Ok(v) => line(&format!("{name}: allowed ({})", what(v))),
        Err(e) => line(&format!("{name}: denied ({e})")),
    }
}

/// A hash of `x` with a new `RandomState` (random keys, see the docs).
fn random_hash(x: u64) -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(x)
}

impl Plugin for WasiProbe {
    fn plan(args: Vec<String>) -> Result<Option<u64>, String> {
        Ok((args.first().map(String::as_str) == Some("random")).then_some(0))
    }

    fn run_chunk(_args: Vec<String>, chunk: mmhost_guest::Chunk) -> Result<Vec<u8>, String> {
        let (a, b) = (random_hash(1), random_hash(2));
        line(&format!("chunk {} random {a:016x} {b:016x}", chunk.index));
        Ok(Vec::new())
    }

    fn reduce(_args: Vec<String>, partials: Vec<Vec<u8>>) -> Result<String, String> {
        Ok(format!("chunks {}", partials.len()))
    }

    fn run(args: Vec<String>) -> Result<String, String> {
        if let [op, stream, texts @ ..] = args.as_slice() {
            if op == "write" {
                use std::io::Write;
                for text in texts {
                    let done = match stream.as_str() {
                        "stdout" => std::io::stdout()
                            .write_all(text.as_bytes())
                            .and_then(|()| std::io::stdout().flush()),
                        "stderr" => std::io::stderr().write_all(text.as_bytes()),
                        _ => return Err(format!("bad STREAM: {stream}")),
                    };
                    done.map_err(|e| format!("write: {e}"))?;
                }
                line(&format!("wrote {}", texts.len()));
                return Ok(String::new());
            }
        }
        if let [op, n] = args.as_slice() {
            if op == "sleep" {
                let ms: u64 = n.parse().map_err(|_| format!("bad MS: {n}"))?;
                let before = Instant::now();
                std::thread::sleep(std::time::Duration::from_millis(ms));
                line(&format!("slept {} ns", before.elapsed().as_nanos()));
                return Ok(String::new());
            }
            if op == "print" {
                let n: u64 = n.parse().map_err(|_| format!("bad N: {n}"))?;
                for i in 0..n {
                    println!("{i:>10} {}", "w".repeat(89));
                }
                line(&format!("printed {n}"));
                return Ok(String::new());
            }
        }
        attempt(
            "open /etc/passwd",
            std::fs::File::open("/etc/passwd").and_then(|mut f| {
                let mut s = String::new();
                f.read_to_string(&mut s).map(|_| s)
            }),
            |s| format!("{} bytes", s.len()),
        );
        attempt("read_dir /", std::fs::read_dir("/"), |d| {
            format!("{} entries", d.count())
        });
        attempt("read_dir .", std::fs::read_dir("."), |d| {
            format!("{} entries", d.count())
        });
        attempt(
            "create /tmp/wasi-probe",
            std::fs::write("/tmp/wasi-probe", b"x"),
            |()| "written".to_string(),
        );
        let vars: Vec<(String, String)> = std::env::vars().collect();
        line(&format!("env vars: {}", vars.len()));
        line(&format!("args: {}", std::env::args().count()));
        attempt(
            "tcp connect 127.0.0.1:1",
            TcpStream::connect("127.0.0.1:1"),
            |s| format!("{:?}", s.peer_addr()),
        );
        attempt(
            "tcp listen 127.0.0.1:0",
            TcpListener::bind("127.0.0.1:0"),
            |l| format!("{:?}", l.local_addr()),
        );
        attempt(
            "udp bind 127.0.0.1:0",
            UdpSocket::bind("127.0.0.1:0"),
            |s| format!("{:?}", s.local_addr()),
        );
        attempt("dns localhost", ("localhost", 80).to_socket_addrs(), |a| {
            format!("{} addresses", a.count())
        });
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(u128::MAX);
        line(&format!("wall clock: {wall} ns since the epoch"));
        let a = Instant::now();
        // Some work between two readings of the monotonic clock.
        let mut x = 1u64;
        for i in 0..1_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        line(&format!(
            "monotonic clock: {} ns elapsed",
            a.elapsed().as_nanos()
        ));
        println!("wasi-probe: this line went to WASI stdout");
        Ok(String::new())
    }
}

mmhost_guest::export!(WasiProbe);
