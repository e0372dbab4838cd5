//! The limits a run is held to while it runs: the memory cap of one plugin
//! instance ([`Limiter`], one per store: every linear memory and every table
//! of the instance together, not each one alone) and the wall-clock timeout
//! ([`Watchdog`], one per run, which moves the engine's epoch). Fuel is set
//! on each store where it is built (`store.rs`); the size limits on what a
//! plugin returns are checked when its result is settled (`store.rs`).
//!
//! A component instance may hold several core instances, each with several
//! memories and tables. wasmtime asks the store's [`wasmtime::ResourceLimiter`]
//! about each creation and each growth of one of them, with that one's
//! current and desired size. Checking each against the cap alone would let a
//! plugin with twenty memories use twenty times the cap; so the limiter
//! keeps the sum of all of them and refuses the growth that would take the
//! sum over the cap. Table elements are charged [`TABLE_ELEMENT_BYTES`]
//! each (a `funcref` costs the host 8 to 16 bytes).
//!
//! One store holds one instance; a parallel run has one store per thread
//! plus the main instance, each with its own cap (see the README).

use std::sync::mpsc;
use std::time::Duration;

use wasmtime::Engine;

/// What one table element is charged against the memory cap, in bytes.
pub const TABLE_ELEMENT_BYTES: u64 = 16;

/// Memory and table caps of one store; remembers what was refused for the
/// error message.
pub(super) struct Limiter {
    max_memory: u64,
    /// Bytes of every memory plus charged bytes of every table, as granted.
    used: u64,
    /// The bytes of the growth granted last, taken back if it then fails.
    last_grant: u64,
    /// The message of the first refused growth.
    pub(super) refused: Option<String>,
}

impl Limiter {
    /// A limiter of `max_memory` bytes for one instance.
    pub(super) fn new(max_memory: u64) -> Limiter {
        Limiter {
            max_memory,
            used: 0,
            last_grant: 0,
            refused: None,
        }
    }

    /// Grants `extra` bytes if the sum stays within the cap; else records
    /// `what` (given the sum it would have reached) as the refusal.
    fn grant(&mut self, extra: u64, what: impl FnOnce(u64) -> String) -> wasmtime::Result<bool> {
        let total = self.used.saturating_add(extra);
        if total > self.max_memory {
            let msg = what(total);
            self.refused.get_or_insert_with(|| msg.clone());
            return Err(wasmtime::format_err!("{msg}"));
        }
        self.used = total;
        self.last_grant = extra;
        Ok(true)
    }

    fn take_back(&mut self) {
        self.used = self.used.saturating_sub(self.last_grant);
        self.last_grant = 0;
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let extra = (desired as u64).saturating_sub(current as u64);
        let (used, max) = (self.used, self.max_memory);
        self.grant(extra, |total| {
            format!(
                "memory limit exceeded: the plugin asked to grow a linear memory from {current} \
                 to {desired} bytes, which would take its memories and tables together to \
                 {total} bytes (using {used} now), over the limit of {max} bytes for the \
                 instance (raise it with --max-memory)"
            )
        })
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.take_back();
        Ok(())
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let elements = (desired as u64).saturating_sub(current as u64);
        let extra = elements.saturating_mul(TABLE_ELEMENT_BYTES);
        let (used, max) = (self.used, self.max_memory);
        self.grant(extra, |total| {
            format!(
                "table limit exceeded: the plugin asked to grow a table from {current} to \
                 {desired} elements ({TABLE_ELEMENT_BYTES} bytes each), which would take its \
                 memories and tables together to {total} bytes (using {used} now), over the \
                 limit of {max} bytes for the instance (raise it with --max-memory)"
            )
        })
    }

    fn table_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.take_back();
        Ok(())
    }
}

/// Moves the engine's epoch when a run's time is up, trapping every store of
/// the run (they all have a deadline of one epoch). Stopped on drop.
///
/// Once the time is up it keeps moving the epoch, every
/// [`WATCHDOG_TICK`], until it is stopped: a store's deadline is relative to
/// the epoch when the store sets it, so a store made after the first move
/// (a timeout of 0, a step that starts with almost no time left, a chunk's
/// instance) would otherwise wait for a move that never comes.
pub(super) struct Watchdog {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How often the watchdog moves the epoch again after a run's time is up.
const WATCHDOG_TICK: Duration = Duration::from_millis(5);

impl Watchdog {
    pub(super) fn start(engine: &Engine, timeout: Option<Duration>) -> Watchdog {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = timeout.map(|t| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                let mut wait = t;
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(wait) {
                    engine.increment_epoch();
                    wait = WATCHDOG_TICK;
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

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ResourceLimiter;

    #[test]
    fn memories_and_tables_share_one_budget() {
        let mut l = Limiter::new(1000);
        assert!(l.memory_growing(0, 400, None).unwrap());
        assert!(l.memory_growing(0, 400, None).unwrap()); // a second memory
        assert!(l.memory_growing(400, 500, None).unwrap()); // 900 in all
        assert!(l.memory_growing(0, 200, None).is_err()); // a third: 1100
        assert!(l
            .refused
            .as_deref()
            .unwrap()
            .contains("memory limit exceeded"));
        assert!(l.table_growing(0, 6, None).unwrap()); // 96 bytes: 996
        assert!(l.table_growing(6, 7, None).is_err()); // 1012
    }

    #[test]
    fn a_failed_growth_is_taken_back() {
        let mut l = Limiter::new(1000);
        assert!(l.memory_growing(0, 600, None).unwrap());
        l.memory_grow_failed(wasmtime::format_err!("no")).unwrap();
        assert!(l.memory_growing(0, 1000, None).unwrap());
    }
}
