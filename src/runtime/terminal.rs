//! What one run of a plugin puts on mmhost's stderr: its log messages and its
//! WASI stdout and stderr, escaped, prefixed with the plugin's name, whole
//! lines only, and held to one budget.
//!
//! A plugin's text is untrusted. Each line of it goes out as `NAME: LEVEL:
//! text` (a log message) or `NAME: stdout: text` / `NAME: stderr: text` (WASI
//! output), escaped by [`crate::escape::plugin_text`], so that it can neither
//! forge a line of mmhost's own nor send terminal escapes. WASI output is
//! line-buffered per stream and per instance: a plugin that writes half a
//! line cannot have mmhost's next line (or another instance's) appended to
//! it; a partial line is printed when the instance ends.
//!
//! Limits on what a plugin *sends* (log messages, their size, WASI bytes) do
//! not bound what reaches the terminal, since escaping and indentation make
//! text longer (an ESC becomes 6 bytes, a newline a newline and an indent).
//! So every run has one [`Terminal`] budget, shared by all its instances, of
//! [`MAX_TERMINAL_OUTPUT`] bytes and [`MAX_TERMINAL_LINES`] lines counted
//! after escaping. Past it, one line says that the rest is suppressed, and at
//! the end of the run one more line says how much was.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::escape::plugin_text;

/// The most bytes of plugin text (log messages and WASI output, after
/// escaping and indentation) one run may put on mmhost's stderr (1 MiB).
pub const MAX_TERMINAL_OUTPUT: u64 = 1 << 20;

/// The most lines of plugin text one run may put on mmhost's stderr.
pub const MAX_TERMINAL_LINES: u64 = 20_000;

/// A run's share of mmhost's stderr.
pub(super) struct Terminal {
    /// The plugin's name as printed (already quoted).
    plugin: String,
    /// Bytes and lines offered so far, printed or not.
    bytes: AtomicU64,
    lines: AtomicU64,
    /// Bytes and lines not printed.
    suppressed_bytes: AtomicU64,
    suppressed_lines: AtomicU64,
    /// The line saying the budget ran out was printed.
    noted: AtomicBool,
}

impl Terminal {
    /// The budget of one run of `plugin`.
    pub(super) fn new(plugin: &str) -> Arc<Terminal> {
        Arc::new(Terminal {
            plugin: plugin.to_string(),
            bytes: AtomicU64::new(0),
            lines: AtomicU64::new(0),
            suppressed_bytes: AtomicU64::new(0),
            suppressed_lines: AtomicU64::new(0),
            noted: AtomicBool::new(false),
        })
    }

    /// Prints `NAME: KIND: text` (text escaped and cut to `max` bytes),
    /// within the budget.
    pub(super) fn line(&self, kind: &str, text: &str, max: usize) {
        let line = format!("{}: {kind}: {}\n", self.plugin, plugin_text(text, max));
        let lines = line.bytes().filter(|&b| b == b'\n').count() as u64;
        let len = line.len() as u64;
        // Counters only grow, so once over, every later line is over too.
        let bytes_before = self.bytes.fetch_add(len, Ordering::SeqCst);
        let lines_before = self.lines.fetch_add(lines, Ordering::SeqCst);
        if bytes_before + len <= MAX_TERMINAL_OUTPUT && lines_before + lines <= MAX_TERMINAL_LINES {
            // The plugin cannot do anything useful about a failing stderr.
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
            return;
        }
        self.suppressed_bytes.fetch_add(len, Ordering::SeqCst);
        self.suppressed_lines.fetch_add(lines, Ordering::SeqCst);
        if !self.noted.swap(true, Ordering::SeqCst) {
            self.notice(&format!(
                "log and WASI output reached the limit of {MAX_TERMINAL_OUTPUT} bytes or \
                 {MAX_TERMINAL_LINES} lines per run; the rest is suppressed"
            ));
        }
    }

    /// Prints `NAME: text`, a line of mmhost's own about the plugin, outside
    /// the budget (each kind of notice is printed at most once a run).
    pub(super) fn notice(&self, text: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{}: {text}", self.plugin);
    }

    /// The end of the run: says how much was suppressed, if anything was.
    pub(super) fn finish(&self) {
        let bytes = self.suppressed_bytes.load(Ordering::SeqCst);
        if bytes > 0 {
            self.notice(&format!(
                "{} ({}) of log and WASI output were suppressed",
                crate::plural::count(bytes, "byte"),
                crate::plural::count(self.suppressed_lines.load(Ordering::SeqCst), "line")
            ));
        }
    }
}

/// One WASI output stream (stdout or stderr) of one instance: bytes are
/// gathered until a newline, then printed as a line of the [`Terminal`].
pub(super) struct LineBuffer {
    terminal: Arc<Terminal>,
    kind: &'static str,
    pending: Vec<u8>,
}

impl LineBuffer {
    /// A buffer printing lines as `NAME: KIND: text`.
    pub(super) fn new(terminal: Arc<Terminal>, kind: &'static str) -> LineBuffer {
        LineBuffer {
            terminal,
            kind,
            pending: Vec::new(),
        }
    }

    /// Takes `bytes`, printing every line they complete. A line longer than
    /// `max` bytes is printed in pieces of `max` bytes.
    pub(super) fn write(&mut self, mut bytes: &[u8], max: usize) {
        while let Some(nl) = bytes.iter().position(|&b| b == b'\n') {
            self.pending.extend_from_slice(&bytes[..nl]);
            self.emit();
            bytes = &bytes[nl + 1..];
        }
        self.pending.extend_from_slice(bytes);
        while self.pending.len() >= max {
            let rest = self.pending.split_off(max);
            self.emit();
            self.pending = rest;
        }
    }

    fn emit(&mut self) {
        let text = String::from_utf8_lossy(&self.pending);
        // Cut only by `write`; the text here fits.
        self.terminal.line(self.kind, &text, usize::MAX);
        self.pending.clear();
    }
}

impl Drop for LineBuffer {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            self.emit();
        }
    }
}
