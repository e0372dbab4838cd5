//! The WASI 0.2 context a plugin gets: no authority, and a bounded output.
//!
//! WASI is linked only so that components built with a standard library
//! instantiate. The context grants no preopened directory (every file system
//! call fails), no environment, no arguments, no sockets or name lookups,
//! and a wall clock frozen at zero (it says 1970-01-01T00:00:00Z). The
//! monotonic clock moves, and a sleep ends at the run's deadline at the
//! latest: see the `clock` module. Random numbers are wasmtime's defaults:
//! they carry no authority (seeded when the run asks for repeatable
//! numbers).
//!
//! WASI stdout and stderr both go to mmhost's stderr, never into the plugin's
//! output stream, as escaped lines prefixed with the plugin's name (`NAME:
//! stdout: ...`, see the `terminal` module), and together they may carry at
//! most [`MAX_WASI_OUTPUT`] bytes per instance; what reaches the terminal is
//! held to the run's budget shared with `host.log`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::WasiCtx;

use super::clock::Clock;
use super::terminal::{LineBuffer, Terminal};
use super::MAX_LOG_MESSAGE;

/// The most bytes a plugin instance may write to WASI stdout and stderr
/// together (1 MiB); the rest is dropped, with one line saying so.
pub const MAX_WASI_OUTPUT: u64 = 1 << 20;

/// A wall clock that stands still at zero: the world grants no date, but
/// `std` wants a clock to exist.
struct FrozenClock;

impl wasmtime_wasi::HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

/// The WASI context of one instance of a run that prints on `terminal`,
/// whose monotonic clock is `clock`; with `seed`, its random numbers (secure and insecure) come from a
/// generator seeded with it, so that a rerun draws the same numbers
/// (distributed chunks, see `RunOptions::random_seed`).
pub(super) fn sandboxed(terminal: &Arc<Terminal>, clock: Clock, seed: Option<u64>) -> WasiCtx {
    let budget = Arc::new(Budget {
        left: AtomicU64::new(MAX_WASI_OUTPUT),
        noted: AtomicBool::new(false),
        terminal: terminal.clone(),
    });
    let stream = |kind| {
        CappedStderr(
            budget.clone(),
            Arc::new(Mutex::new(LineBuffer::new(terminal.clone(), kind))),
        )
    };
    let mut builder = WasiCtx::builder();
    if let Some(seed) = seed {
        use rand::SeedableRng;
        builder
            .secure_random(rand::rngs::StdRng::seed_from_u64(seed))
            .insecure_random(rand::rngs::StdRng::seed_from_u64(seed ^ 0x5eed))
            .insecure_random_seed(u128::from(seed));
    }
    builder
        .stdout(stream("stdout"))
        .stderr(stream("stderr"))
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .wall_clock(FrozenClock)
        .monotonic_clock(clock)
        .build()
}

/// What is left of an instance's WASI output budget.
struct Budget {
    left: AtomicU64,
    noted: AtomicBool,
    terminal: Arc<Terminal>,
}

/// WASI stdout or stderr: lines on mmhost's stderr (see the `terminal`
/// module), within the budget.
#[derive(Clone)]
struct CappedStderr(Arc<Budget>, Arc<Mutex<LineBuffer>>);

impl IsTerminal for CappedStderr {
    fn is_terminal(&self) -> bool {
        // Not the plugin's business (and no colour codes in our stderr).
        false
    }
}

impl StdoutStream for CappedStderr {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        // Only WASI 0.3 uses this, and mmhost links only WASI 0.2: nothing
        // of it reaches the terminal.
        Box::new(tokio::io::sink())
    }
}

impl OutputStream for CappedStderr {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        let want = bytes.len() as u64;
        let before = self
            .0
            .left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                Some(left - left.min(want))
            })
            .unwrap_or(0);
        let take = before.min(want) as usize;
        self.1
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .write(&bytes[..take], MAX_LOG_MESSAGE);
        if take < bytes.len() && !self.0.noted.swap(true, Ordering::SeqCst) {
            self.0.terminal.notice(&format!(
                "more than {MAX_WASI_OUTPUT} bytes on WASI stdout/stderr; the rest is dropped"
            ));
        }
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        // Lines are printed whole, when their newline comes.
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 << 10)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CappedStderr {
    async fn ready(&mut self) {}
}
