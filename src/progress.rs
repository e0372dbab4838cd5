//! Progress of a run: counters the runtime updates, and a bar on stderr that
//! shows them.
//!
//! The runtime only stores numbers into atomics (a relaxed store per host
//! call, nothing more), so progress costs the plugin nothing measurable. A
//! separate thread samples them ten times a second and draws an indicatif bar
//! once a run has lasted about a second, so quick runs never flash a bar. The
//! bar follows the plugin's own `progress(done, total)` calls; a plugin that
//! never makes them is followed by the bytes it read or wrote, against the
//! size of the region.

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

    /// `(done, total, in bytes?)`: the plugin's report if it made one, else
    /// the larger of bytes read and written against the region's size.
    pub fn snapshot(&self) -> (u64, u64, bool) {
        if self.reported.load(Ordering::Relaxed) {
            let total = self.total.load(Ordering::Relaxed);
            (self.done.load(Ordering::Relaxed).min(total), total, false)
        } else {
            let size = self.size.load(Ordering::Relaxed);
            let moved = self
                .read
                .load(Ordering::Relaxed)
                .max(self.written.load(Ordering::Relaxed));
            (moved.min(size), size, true)
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
    thread: Option<JoinHandle<()>>,
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
        Bar { stop, thread }
    }
}

fn draw_loop(state: &ProgressState, stop: &AtomicBool, show: Show, label: String) {
    let started = Instant::now();
    let mut bar: Option<ProgressBar> = None;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        if started.elapsed() < DELAY {
            continue;
        }
        let (done, total, bytes) = state.snapshot();
        let bar = bar.get_or_insert_with(|| {
            let target = if show == Show::Always {
                // Draw even where stderr is not a terminal.
                ProgressDrawTarget::term_like_with_hz(Box::new(console::Term::stderr()), 10)
            } else {
                ProgressDrawTarget::stderr_with_hz(10)
            };
            let b = ProgressBar::with_draw_target(Some(total), target);
            let template = if bytes {
                "{prefix} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
            } else {
                "{prefix} [{bar:40}] {human_pos}/{human_len} eta {eta}"
            };
            b.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b.set_prefix(label.clone());
            b
        });
        bar.set_length(total);
        bar.set_position(done);
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
