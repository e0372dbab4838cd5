//! The limits a run is held to while it runs: the cap on linear memory and
//! tables ([`Limiter`], one per store) and the wall-clock timeout
//! ([`Watchdog`], one per run, which moves the engine's epoch). Fuel is set
//! on each store where it is built (`store.rs`); the size limits on what a
//! plugin returns are checked when its result is settled (`store.rs`).

use std::sync::mpsc;
use std::time::Duration;

use wasmtime::Engine;

/// Memory and table caps; remembers what was refused for the error message.
pub(super) struct Limiter {
    pub(super) max_memory: u64,
    pub(super) refused: Option<String>,
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.max_memory {
            let msg = format!(
                "memory limit exceeded: the plugin asked to grow its linear memory from {} to {} \
                 bytes, over the limit of {} bytes (raise it with --max-memory)",
                current, desired, self.max_memory
            );
            self.refused = Some(msg.clone());
            return Err(wasmtime::format_err!("{msg}"));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // A table element costs 8-16 bytes of host memory: hold tables to
        // the same budget, counted in elements / 16.
        let cap = (self.max_memory / 16).max(10_000);
        if desired as u64 > cap {
            let msg = format!("table limit exceeded: {desired} elements, over the limit of {cap}");
            self.refused = Some(msg.clone());
            return Err(wasmtime::format_err!("{msg}"));
        }
        Ok(true)
    }
}

/// Moves the engine's epoch when a run's time is up, trapping every store of
/// the run (they all have a deadline of one epoch). Stopped on drop.
pub(super) struct Watchdog {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watchdog {
    pub(super) fn start(engine: &Engine, timeout: Option<Duration>) -> Watchdog {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = timeout.map(|t| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                if let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(t) {
                    engine.increment_epoch();
                }
            })
        });
        Watchdog {
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
