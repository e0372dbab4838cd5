//! Progress of a run: counters the runtime updates, and a bar on stderr that
//! shows them.
//!
//! The runtime only stores numbers into atomics (a relaxed store per host
//! call, nothing more), so progress costs the plugin nothing measurable. A
//! separate thread samples them ten times a second and draws an indicatif bar
//! once a run has lasted about a second, so quick runs never flash a bar.
//!
//! Every bar has one format: bytes of the region, in human units, with a
//! rate and an estimate of the time left. A plugin's own `progress(done,
//! total)` calls are shown as that fraction of the region's size; a plugin
//! that never makes them (and every parallel run, whose chunks' reports are
//! about the chunk only) is followed by the bytes it read or wrote, or the
//! host read or searched for it (`digest`, `find`), against the size of the
//! region. A bar that was drawn ends its line when it is cleared where
//! someone reads stderr as text (not a terminal, or a report follows), so
//! that the next line, such as the `--report json` line, starts clean.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Counters of a run in flight, shared between the runtime and a display.
#[derive(Debug, Default)]
pub struct ProgressState {
    size: AtomicU64,
    read: AtomicU64,
    written: AtomicU64,
    reported: AtomicBool,
    done: AtomicU64,
    total: AtomicU64,
}

impl ProgressState {
    /// A new, shareable state.
    pub fn new() -> Arc<ProgressState> {
        Arc::new(ProgressState::default())
    }

    /// A run over a region of `size` bytes starts.
    pub fn start(&self, size: u64) {
        self.size.store(size, Ordering::Relaxed);
        self.read.store(0, Ordering::Relaxed);
        self.written.store(0, Ordering::Relaxed);
        self.reported.store(false, Ordering::Relaxed);
    }

    /// The plugin read `n` bytes.
    pub fn add_read(&self, n: u64) {
        self.read.fetch_add(n, Ordering::Relaxed);
    }

    /// The plugin wrote `n` bytes.
    pub fn add_written(&self, n: u64) {
        self.written.fetch_add(n, Ordering::Relaxed);
    }

    /// The plugin reported `done` of `total`.
    pub fn report(&self, done: u64, total: u64) {
        self.done.store(done, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
        self.reported.store(true, Ordering::Relaxed);
    }

    /// `(done, size)` in bytes of the region: the plugin's report if it
    /// made one, as the same fraction of the region's size; else the larger
    /// of bytes read (or searched) and written.
    pub fn snapshot(&self) -> (u64, u64) {
        let size = self.size.load(Ordering::Relaxed);
        if self.reported.load(Ordering::Relaxed) {
            let total = self.total.load(Ordering::Relaxed);
            let done = self.done.load(Ordering::Relaxed).min(total);
            let scaled = if total == 0 {
                0
            } else {
                // At most `size`: done <= total.
                (u128::from(done) * u128::from(size) / u128::from(total)) as u64
            };
            (scaled, size)
        } else {
            let moved = self
                .read
                .load(Ordering::Relaxed)
                .max(self.written.load(Ordering::Relaxed));
            (moved.min(size), size)
        }
    }
}

/// When to draw the bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    /// When stderr is a terminal.
    Auto,
    /// Always (`--progress`).
    Always,
    /// Never (`--no-progress`).
    Never,
}

impl Show {
    /// The choice of `--progress` (`always`), `--no-progress` (`never`)
    /// and whether informational messages are shown (`info`, false with
    /// `-q`): `Never` when they are not, else `Auto`.
    pub fn choose(always: bool, never: bool, info: bool) -> Show {
        match (always, never) {
            (true, _) => Show::Always,
            (_, true) => Show::Never,
            _ if !info => Show::Never,
            _ => Show::Auto,
        }
    }
}

/// The bar's label: the file stem of `name` (the job file or plugin),
/// quoted; empty without one.
pub fn label(name: Option<&std::path::Path>) -> String {
    name.and_then(|p| p.file_stem())
        .map(|s| crate::escape::quote(std::path::Path::new(s)))
        .unwrap_or_default()
}

/// A bar drawn on stderr while a run lasts; stops and clears when dropped.
pub struct Bar {
    stop: Arc<AtomicBool>,
    /// The drawing thread; it returns whether it drew a bar.
    thread: Option<JoinHandle<bool>>,
    end_line: bool,
}

/// How long a run goes before its bar appears.
const DELAY: Duration = Duration::from_millis(1000);

impl Bar {
    /// Starts drawing `state` per `show` (nothing for `Never`, or `Auto`
    /// when stderr is not a terminal).
    pub fn start(state: Arc<ProgressState>, show: Show, label: String) -> Bar {
        let stop = Arc::new(AtomicBool::new(false));
        let draw = match show {
            Show::Never => false,
            Show::Always => true,
            Show::Auto => std::io::stderr().is_terminal(),
        };
        let thread = draw.then(|| {
            let stop = stop.clone();
            std::thread::spawn(move || draw_loop(&state, &stop, show, label))
        });
        Bar {
            stop,
            thread,
            end_line: false,
        }
    }

    /// Whether a drawn bar ends its line when cleared even on a terminal
    /// (it always does elsewhere): true when a line that must start clean,
    /// such as the `--report json` line, follows on stderr.
    pub fn set_end_line(&mut self, yes: bool) {
        self.end_line = yes;
    }
}

/// The bar's one format: bytes of the region, whoever counts them.
const TEMPLATE: &str = "{prefix} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}";

fn draw_loop(state: &ProgressState, stop: &AtomicBool, show: Show, label: String) -> bool {
    let started = Instant::now();
    let mut bar: Option<ProgressBar> = None;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        if started.elapsed() < DELAY {
            continue;
        }
        let (done, total) = state.snapshot();
        let bar = bar.get_or_insert_with(|| {
            let target = if show == Show::Always {
                // Draw even where stderr is not a terminal.
                ProgressDrawTarget::term_like_with_hz(Box::new(console::Term::stderr()), 10)
            } else {
                ProgressDrawTarget::stderr_with_hz(10)
            };
            let b = ProgressBar::with_draw_target(Some(total), target);
            b.set_style(
                ProgressStyle::with_template(TEMPLATE)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b.set_prefix(label.clone());
            b
        });
        bar.set_length(total);
        bar.set_position(done);
    }
    match bar {
        Some(bar) => {
            bar.finish_and_clear();
            true
        }
        None => false,
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let drew = t.join().unwrap_or(false);
            // Clearing leaves the cursor at the start of the bar's line,
            // after `\r` and an erase sequence: end that line, so that what
            // follows is a line of its own for a reader of the bytes.
            if drew && (self.end_line || !std::io::stderr().is_terminal()) {
                eprintln!();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plugins_report_is_shown_as_the_same_fraction_of_the_region() {
        let p = ProgressState::default();
        p.start(8 << 30);
        p.add_read(100);
        assert_eq!(p.snapshot(), (100, 8 << 30));
        // 1 of 4 units: a quarter of 8 GiB, whatever the units are.
        p.report(1, 4);
        assert_eq!(p.snapshot(), (2 << 30, 8 << 30));
        // Past the end, and a report of nothing, stay inside the bar.
        p.report(9, 4);
        assert_eq!(p.snapshot(), (8 << 30, 8 << 30));
        p.report(0, 0);
        assert_eq!(p.snapshot(), (0, 8 << 30));
        // No overflow on the largest counts.
        p.report(u64::MAX - 1, u64::MAX);
        assert_eq!(p.snapshot().0, (8 << 30) - 1);
    }

    #[test]
    fn without_a_report_the_bar_follows_the_bytes_moved() {
        let p = ProgressState::default();
        p.start(1000);
        p.add_read(300);
        p.add_written(500);
        assert_eq!(p.snapshot(), (500, 1000));
        p.add_read(5000);
        assert_eq!(p.snapshot(), (1000, 1000));
    }
}
