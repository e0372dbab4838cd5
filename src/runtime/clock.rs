//! The clocks a plugin sees, and how long it may sleep.
//!
//! - **Wall clock**: frozen at 1970-01-01T00:00:00Z (the `wasi` module). A
//!   plugin learns neither the date nor the time of day.
//! - **Monotonic clock**: real time since the plugin's instance was created,
//!   in nanoseconds, plus one, and one more nanosecond on every read where
//!   the real clock has not moved: it is never 0 and every read is greater
//!   than the one before. Language runtimes need this: Go's refuses to start
//!   on a clock that reads 0 ("nanotime returning zero") and its scheduler
//!   waits for a timer forever on a clock that never moves. What it tells a
//!   plugin is how long it has been running, which it could measure anyway
//!   by counting its own loop iterations; no date, nothing about other runs.
//! - **Sleeping** (`subscribe-duration`, `subscribe-instant` of
//!   `wasi:clocks/monotonic-clock`, which preview 1's `poll_oneoff` and every
//!   language's `sleep` come down to) waits for real time in the host, but
//!   never past the run's deadline (its `--timeout`): a wait in the host is
//!   where neither the epoch deadline nor fuel can stop a plugin, so a sleep
//!   of an hour under `--timeout 1s` returns at the deadline, having moved
//!   the engine's epoch itself (as the run's watchdog does at that moment,
//!   which may be scheduled a little later), and the plugin, back in wasm,
//!   is stopped there by the timeout (exit code 5). A
//!   plugin polling for time to pass without sleeping spins in wasm, where
//!   the limits apply too. Without a timeout a sleep takes the time it asks
//!   for, as a loop of the same length would.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{Linker, Resource};
use wasmtime::{Engine, StoreContextMut};
use wasmtime_wasi::p2::{DynPollable, Pollable};

use super::HostState;

/// The `wasi:clocks/monotonic-clock` instance that `wasmtime-wasi` (pinned
/// at 48.0.8 in Cargo.toml) links; components importing any 0.2.x version
/// resolve to it.
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// The moment a run's time is up: `timeout` from now (`None`: no timeout, or
/// one too long for the clock). Taken where the run's watchdog starts, so
/// that a sleep and the watchdog end together.
pub(super) fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| Instant::now().checked_add(t))
}

/// The monotonic clock of one plugin instance, and its run's deadline.
#[derive(Clone)]
pub(super) struct Clock(Arc<State>);

struct State {
    start: Instant,
    deadline: Option<Instant>,
    /// The engine whose epoch a sleep cut short by the deadline moves.
    engine: Engine,
    /// The last reading, so that the next one is greater.
    last: AtomicU64,
}

impl Clock {
    /// A clock that starts now, for an instance (in `engine`) of a run that
    /// ends at `deadline`.
    pub(super) fn new(deadline: Option<Instant>, engine: &Engine) -> Clock {
        Clock(Arc::new(State {
            start: Instant::now(),
            deadline,
            engine: engine.clone(),
            last: AtomicU64::new(0),
        }))
    }

    /// The clock's reading: nanoseconds since the start, plus one, and at
    /// least one more than the reading before.
    pub(super) fn now(&self) -> u64 {
        let real = u64::try_from(self.0.start.elapsed().as_nanos())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1);
        let before = self
            .0
            .last
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
                Some(real.max(last.saturating_add(1)))
            })
            .unwrap_or(0);
        real.max(before.saturating_add(1))
    }

    /// When a wait that asks to end at `target` ends: then, or at the run's
    /// deadline if that comes first (`None`: never).
    fn wake(&self, target: Option<Instant>) -> Option<Instant> {
        match (target, self.0.deadline) {
            (Some(t), Some(d)) => Some(t.min(d)),
            (t, d) => t.or(d),
        }
    }

    /// Blocks until the clock reads `reading`, or until the run's deadline
    /// if that comes first: the sleep of WASI preview 1's `poll_oneoff`.
    pub(super) fn sleep_until(&self, reading: u64) {
        let Some(until) = self.wake(self.instant_of(reading)) else {
            // No deadline, and an instant past what the system's clock can
            // represent: a wait without end, as a loop without end would be.
            loop {
                std::thread::park();
            }
        };
        let now = Instant::now();
        if until > now {
            std::thread::sleep(until - now);
        }
        self.woke();
    }

    /// After a sleep: if it ended at the run's deadline, moves the epoch so
    /// that the plugin stops at its next check, whether or not the watchdog
    /// has run yet (every store of a run with a timeout has a deadline of
    /// one epoch; the watchdog moves it for the same reason).
    fn woke(&self) {
        if self.0.deadline.is_some_and(|d| Instant::now() >= d) {
            self.0.engine.increment_epoch();
        }
    }

    /// The instant of the clock's reading `reading` (`None`: beyond what
    /// the system's clock can represent).
    fn instant_of(&self, reading: u64) -> Option<Instant> {
        self.0
            .start
            .checked_add(Duration::from_nanos(reading.saturating_sub(1)))
    }
}

impl wasmtime_wasi::HostMonotonicClock for Clock {
    fn resolution(&self) -> u64 {
        1
    }
    fn now(&self) -> u64 {
        Clock::now(self)
    }
}

/// A sleep of an instance with this clock: ready at an instant, or never.
struct Sleep(Option<Instant>, Clock);

#[wasmtime_wasi::async_trait]
impl Pollable for Sleep {
    async fn ready(&mut self) {
        match self.0 {
            Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
            None => std::future::pending().await,
        }
        self.1.woke();
    }
}

/// Replaces `subscribe-duration` and `subscribe-instant` of the linked WASI
/// monotonic clock (after `wasmtime_wasi::p2::add_to_linker_sync`) with
/// sleeps that end at the run's deadline at the latest; see the module docs.
pub(super) fn link_bounded_sleeps(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    fn subscribe(
        store: &mut StoreContextMut<'_, HostState>,
        target: impl FnOnce(&Clock) -> Option<Instant>,
    ) -> wasmtime::Result<(Resource<DynPollable>,)> {
        let state = store.data_mut();
        let wake = state.clock.wake(target(&state.clock));
        let sleep = state.table.push(Sleep(wake, state.clock.clone()))?;
        Ok((wasmtime_wasi::p2::subscribe(&mut state.table, sleep)?,))
    }
    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC_CLOCK)?;
    clock.func_wrap(
        "subscribe-duration",
        |mut store: StoreContextMut<'_, HostState>, (nanos,): (u64,)| {
            subscribe(&mut store, |_| {
                Instant::now().checked_add(Duration::from_nanos(nanos))
            })
        },
    )?;
    clock.func_wrap(
        "subscribe-instant",
        |mut store: StoreContextMut<'_, HostState>, (when,): (u64,)| {
            subscribe(&mut store, |clock| clock.instant_of(when))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_are_never_zero_and_always_grow() {
        let clock = Clock::new(None, &Engine::default());
        let mut last = 0;
        for _ in 0..10_000 {
            let now = clock.now();
            assert!(now > last, "{now} after {last}");
            last = now;
        }
    }

    #[test]
    fn a_reading_maps_back_to_its_instant() {
        let clock = Clock::new(None, &Engine::default());
        let t = clock.instant_of(1_000_000_001).unwrap();
        assert_eq!(t - clock.0.start, Duration::from_secs(1));
        assert_eq!(clock.instant_of(0), Some(clock.0.start));
    }

    #[test]
    fn a_wait_ends_at_the_deadline_at_the_latest() {
        let now = Instant::now();
        let (soon, later) = (
            now + Duration::from_secs(1),
            now + Duration::from_secs(3600),
        );
        let bounded = Clock::new(Some(soon), &Engine::default());
        assert_eq!(bounded.wake(Some(later)), Some(soon));
        assert_eq!(bounded.wake(Some(now)), Some(now));
        assert_eq!(bounded.wake(None), Some(soon));
        let unbounded = Clock::new(None, &Engine::default());
        assert_eq!(unbounded.wake(Some(later)), Some(later));
        assert_eq!(unbounded.wake(None), None);
    }

    #[test]
    fn no_deadline_for_a_timeout_too_long_for_the_clock() {
        assert_eq!(deadline(None), None);
        assert_eq!(deadline(Some(Duration::MAX)), None);
        assert!(deadline(Some(Duration::from_secs(1))).is_some());
    }
}
