//! Throttled progress reports.

/// How many reports a [`Progress`] sends at most for one run, besides the
/// final one.
const STEPS: u64 = 64;

/// Reports progress to the host for a task of `total` units, throttled to at
/// most about 64 reports however often it is updated.
///
/// ```ignore
/// let mut progress = Progress::new(region::size());
/// for chunk in region::chunks() {
///     let (offset, bytes) = chunk?;
///     // ... work on bytes ...
///     progress.set(offset + bytes.len() as u64);
/// }
/// progress.finish();
/// ```
#[derive(Debug, Clone)]
pub struct Progress {
    total: u64,
    step: u64,
    next: u64,
    last: Option<u64>,
}

impl Progress {
    /// Starts tracking a task of `total` units (usually bytes). Nothing is
    /// reported until the first update.
    pub fn new(total: u64) -> Self {
        let step = (total / STEPS).max(1);
        Progress {
            total,
            step,
            next: 0,
            last: None,
        }
    }

    /// The total this tracker was created with.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Records that `done` units are done, reporting to the host if enough
    /// progress was made since the last report or the task is complete. A
    /// task of 0 units reports nothing.
    pub fn set(&mut self, done: u64) {
        let done = done.min(self.total);
        if self.total == 0 || self.last == Some(done) {
            return;
        }
        if done >= self.next || done == self.total {
            crate::progress(done, self.total);
            self.last = Some(done);
            self.next = done.saturating_add(self.step);
        }
    }

    /// Reports the task as complete (unless that was already reported).
    pub fn finish(&mut self) {
        self.set(self.total);
    }
}
