//! Parallel runs of `parallel`-world plugins: `plan`, then `run-chunk` on N
//! threads, then `reduce` (see the `chunked` interface in `wit/mmhost.wit`).
//!
//! # How a run goes
//!
//! One instance (the *main* instance) is made first and asked to `plan`. If
//! it declines (`none`), if the region is no bigger than one chunk, the run
//! is an ordinary serial `run` in that same instance. Otherwise the region
//! leaves the main store and is cut into a [`ChunkPlan`]; `jobs` threads each
//! make one instance and take chunks from the plan, in order, until none are
//! left. The views enforce the chunk's read and write bounds (see
//! [`crate::region::chunk`]). When all threads have joined, the region goes
//! back to the main store and `reduce` combines the partial results.
//!
//! # Output order
//!
//! Bytes a chunk emits must appear in chunk order. The chunk at the *head*
//! (the lowest one not finished) writes straight through; the others buffer
//! up to [`MAX_BUFFERED`] bytes each and then wait for their turn. Waiting
//! cannot deadlock: a chunk waits only for lower chunks, which were handed
//! out before it and so are running (or done) on other threads, and the
//! head never waits.
//!
//! # Failures
//!
//! The first failure stops the plan handing out chunks; running chunks
//! finish (or trap on the shared timeout). The error reported is that of
//! the lowest failed chunk, ignoring chunks that failed only because the
//! output was aborted by another's failure. Nothing is committed: the caller
//! gets the region back with the error, as from a serial run.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::parallel_bindings::exports::mmhost::plugin::chunked::Chunk;
use super::parallel_bindings::{Parallel, ParallelPre};
use super::{take_region, HostState, LogLevel, RunResult, StoreCtx, View};
use crate::error::{Error, ErrorKind, Result};
use crate::region::chunk::{ChunkPlan, MAX_HALO};
use crate::region::Region;

/// The most bytes one chunk's partial result may hold (1 MiB).
pub const MAX_PARTIAL: usize = 1 << 20;

/// The most bytes a chunk that is not at the head buffers before it waits.
pub const MAX_BUFFERED: usize = 16 << 20;

/// The smallest chunk the host chooses by itself: below it, starting an
/// instance costs more than the chunk's work (4 MiB; see BENCHMARKS.md).
pub const MIN_CHUNK: u64 = 4 << 20;

/// The smallest chunk size a user may ask for: one byte. Tiny chunks are
/// slow (one call of the plugin each) but they are how the edges of chunks
/// are tested; what makes them dangerous is their number, which
/// [`MAX_CHUNKS`] bounds.
pub const MIN_USER_CHUNK: u64 = 1;

/// The most chunks a run is cut into (16,384): the plan and the partial
/// results take memory per chunk, and `--chunk-size 1` on 1 GiB would
/// otherwise plan a billion chunks. A chunk size that would make more is
/// grown (with `-v`, the run says so).
pub const MAX_CHUNKS: u64 = 16 << 10;

/// The most bytes the halo snapshots of one plan may take (two halos per
/// boundary between chunks, see `region::chunk`); a chunk size that would
/// need more is grown.
pub const MAX_SNAPSHOTS: u64 = 256 << 20;

/// Parses a `--chunk-size`: a size (see [`crate::job::parse_size`]) of at
/// least [`MIN_USER_CHUNK`] (0 is refused, not taken as 1).
pub fn parse_chunk_size(s: &str) -> std::result::Result<u64, String> {
    let n = crate::job::parse_size(s)?;
    if n < MIN_USER_CHUNK {
        return Err(format!(
            "a chunk size must be at least {MIN_USER_CHUNK} byte (got {n})"
        ));
    }
    Ok(n)
}

/// The chunk size a plan of a region of `size` bytes with `halo` really
/// uses when `chunk` was asked for: at least [`MIN_USER_CHUNK`] (a library
/// caller may pass anything), and large enough that the plan has at most
/// [`MAX_CHUNKS`] chunks and its snapshots take at most [`MAX_SNAPSHOTS`]
/// bytes.
pub fn bounded_chunk_size(size: u64, chunk: u64, halo: u64) -> u64 {
    let by_snapshots = MAX_SNAPSHOTS / halo.saturating_mul(2).max(1);
    let most = MAX_CHUNKS.min(by_snapshots).max(1);
    chunk.max(MIN_USER_CHUNK).max(size.div_ceil(most))
}

/// The default number of jobs: the number of cores this process may use.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The chunk size for a region of `size` bytes and `jobs` threads when the
/// user gave none: about four chunks per thread, so that a slow chunk does
/// not leave the other threads idle at the end, in whole MiB, at least
/// [`MIN_CHUNK`].
pub fn chunk_size(size: u64, jobs: usize) -> u64 {
    let per = size.div_ceil(jobs.max(1) as u64 * 4);
    per.next_multiple_of(1 << 20).max(MIN_CHUNK)
}

/// Runs a `parallel` plugin; see the module docs.
pub(super) fn run(
    ctx: &StoreCtx<'_>,
    pre: &ParallelPre<HostState>,
    region: Region,
    out: Box<dyn Write + Send>,
) -> RunResult {
    let opts = ctx.opts;
    let ordered = Arc::new(Ordered::new(out));
    let mut store = ctx.store(
        View::Whole(Box::new(region)),
        Box::new(Direct(ordered.clone())),
    );
    let inst: Parallel = match pre.instantiate(&mut store) {
        Ok(inst) => inst,
        Err(e) => {
            let result = ctx.settle::<String>(Err(e), &mut store);
            return finish(&mut store, result);
        }
    };
    let chunked = inst.mmhost_plugin_chunked();
    store.data_mut().calling = super::abi::Export::Plan;
    let planned = chunked.call_plan(&mut store, &opts.args);
    let halo = match ctx.settle(planned, &mut store) {
        Ok(Some(halo)) => halo,
        Ok(None) => {
            debug(ctx, "the plugin runs serially (plan returned none)");
            return serial(ctx, &inst, store);
        }
        Err(e) => return finish(&mut store, Err(e)),
    };
    if halo > MAX_HALO {
        let e = Error::new(
            ErrorKind::PluginTrap,
            format!(
                "plugin {}: halo limit exceeded: plan asked for {halo} bytes, over the limit of \
                 {MAX_HALO}",
                ctx.plugin.name
            ),
        );
        return finish(&mut store, Err(e));
    }
    let region = take_region(&mut store);
    let size = region.size();
    let asked = opts
        .chunk_size
        .unwrap_or_else(|| chunk_size(size, opts.jobs));
    let chunk = bounded_chunk_size(size, asked, halo);
    if chunk != asked {
        debug(
            ctx,
            &format!(
                "chunk size {asked} grown to {} (at most {MAX_CHUNKS} chunks and \
                 {MAX_SNAPSHOTS} bytes of halo snapshots a run)",
                crate::plural::count(chunk, "byte")
            ),
        );
    }
    let plan = match ChunkPlan::new(region, chunk, halo) {
        Ok(plan) => plan,
        Err(region) => {
            debug(
                ctx,
                &format!(
                    "serial run: the region fits in one chunk of {}",
                    crate::plural::count(chunk, "byte")
                ),
            );
            store.data_mut().view = View::Whole(region);
            return serial(ctx, &inst, store);
        }
    };
    let count = plan.count();
    let jobs = opts.jobs.clamp(1, count);
    debug(
        ctx,
        &format!(
            "{} of up to {} (halo {halo}) on {}",
            crate::plural::count(count as u64, "chunk"),
            crate::plural::count(chunk, "byte"),
            crate::plural::count(jobs as u64, "thread")
        ),
    );
    let partials: Mutex<Vec<Option<Vec<u8>>>> = Mutex::new(vec![None; count]);
    let failures: Mutex<Vec<Failure>> = Mutex::new(Vec::new());
    let kept = PartialBudget {
        total: AtomicU64::new(0),
        limit: opts.max_memory,
    };
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| worker(ctx, pre, &plan, &ordered, (&partials, &kept), &failures));
        }
    });
    // Every worker has joined and dropped its store, and with it its view.
    let region = plan
        .into_region()
        .expect("every chunk view was dropped with its worker");
    store.data_mut().view = View::Whole(Box::new(region));
    let failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    if let Some(f) = failures.into_iter().min_by_key(|f| (f.secondary, f.index)) {
        return finish(&mut store, Err(f.error));
    }
    let partials: Vec<Vec<u8>> = partials
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|p| p.expect("every chunk ran without failure"))
        .collect();
    store.data_mut().calling = super::abi::Export::Reduce;
    let called = chunked.call_reduce(&mut store, &opts.args, &partials);
    let result = ctx.settle(called, &mut store);
    finish(&mut store, result)
}

/// Says on stderr, with `-v`, how the run was done.
fn debug(ctx: &StoreCtx<'_>, what: &str) {
    if ctx.opts.log_level >= LogLevel::Debug {
        eprintln!("mmhost: {}: {what}", ctx.plugin.name);
    }
}

/// The run's end: the region back out of the main store, with `result`.
fn finish(store: &mut wasmtime::Store<HostState>, result: Result<String>) -> RunResult {
    RunResult {
        region: take_region(store),
        result,
    }
}

/// A serial `run` in the main instance (the plugin declined to split, or
/// the region is too small to).
fn serial(ctx: &StoreCtx<'_>, inst: &Parallel, mut store: wasmtime::Store<HostState>) -> RunResult {
    store.data_mut().calling = super::abi::Export::Run;
    let called = inst.call_run(&mut store, &ctx.opts.args);
    let result = ctx.settle(called, &mut store);
    finish(&mut store, result)
}

/// A chunk that failed.
struct Failure {
    index: usize,
    /// It failed because another chunk's failure aborted the output.
    secondary: bool,
    error: Error,
}

/// The partial results kept for `reduce`, in total: they are all handed to
/// the main instance at once, so together they may not exceed its memory
/// cap (`--max-memory`); past that the run fails at once rather than
/// holding them in the host.
struct PartialBudget {
    total: AtomicU64,
    limit: u64,
}

impl PartialBudget {
    /// Counts a partial result of `len` bytes; the error if the kept results
    /// are now over the limit.
    fn keep(&self, plugin: &str, index: usize, len: usize) -> Result<()> {
        let total = self.total.fetch_add(len as u64, Ordering::Relaxed) + len as u64;
        if total <= self.limit {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::PluginTrap,
            format!(
                "plugin {plugin}: partial result limit exceeded: with chunk {index}'s the \
                 partial results total {total} bytes, over the limit of {} bytes (--max-memory: \
                 reduce receives them all in its memory)",
                self.limit
            ),
        ))
    }
}

/// One thread of a parallel run: an instance that runs chunks until the
/// plan has none left.
fn worker(
    ctx: &StoreCtx<'_>,
    pre: &ParallelPre<HostState>,
    plan: &ChunkPlan,
    ordered: &Arc<Ordered>,
    (partials, kept): (&Mutex<Vec<Option<Vec<u8>>>>, &PartialBudget),
    failures: &Mutex<Vec<Failure>>,
) {
    let fail = |index: usize, error: Error| {
        let secondary = ordered.is_aborted();
        plan.stop();
        ordered.abort();
        failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Failure {
                index,
                secondary,
                error,
            });
    };
    let mut store = ctx.store(View::Detached, Box::new(io::sink()));
    let inst = match pre.instantiate(&mut store) {
        Ok(inst) => inst,
        Err(e) => {
            let error = ctx.settle::<Vec<u8>>(Err(e), &mut store).err();
            fail(
                usize::MAX,
                error.expect("a failed instantiation settles to an error"),
            );
            return;
        }
    };
    let chunked = inst.mmhost_plugin_chunked();
    while let Some(view) = plan.next() {
        let k = view.bounds().0 as usize;
        let out = Box::new(ChunkOut {
            ordered: ordered.clone(),
            index: k,
        });
        let result = run_chunk(ctx, chunked, &mut store, view, out).and_then(|partial| {
            kept.keep(&ctx.plugin.name, k, partial.len())?;
            Ok(partial)
        });
        match result {
            Ok(partial) => {
                ordered.finish(k);
                partials.lock().unwrap_or_else(|e| e.into_inner())[k] = Some(partial);
            }
            Err(error) => {
                fail(k, error);
                return;
            }
        }
    }
}

/// The run's output stream, written in chunk order; see the module docs.
struct Ordered {
    state: Mutex<OrderedState>,
    turn: Condvar,
}

struct OrderedState {
    out: Box<dyn Write + Send>,
    /// The lowest chunk not finished: it writes straight through.
    head: usize,
    /// Bytes of chunks after the head, waiting for their turn.
    pending: BTreeMap<usize, Vec<u8>>,
    /// Chunks after the head that have finished.
    finished: BTreeSet<usize>,
    /// The first error of `out`, repeated to every later write.
    error: Option<(io::ErrorKind, String)>,
    /// A chunk failed: waiting writers give up.
    aborted: bool,
    /// Writers blocked until their turn (over their buffer); what a test
    /// waits for instead of a sleep.
    waiting: usize,
}

impl OrderedState {
    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        if let Some((kind, msg)) = &self.error {
            return Err(io::Error::new(*kind, msg.clone()));
        }
        self.out.write_all(data).inspect_err(|e| {
            self.error = Some((e.kind(), e.to_string()));
        })
    }

    /// Moves the head past finished chunks, writing what they buffered, and
    /// flushes what the new head has buffered so far.
    fn advance(&mut self) {
        loop {
            if let Some(buf) = self.pending.remove(&self.head) {
                // An error is kept in `self.error` for the next writer.
                let _ = self.write(&buf);
            }
            if !self.finished.remove(&self.head) {
                break;
            }
            self.head += 1;
        }
    }
}

impl Ordered {
    fn new(out: Box<dyn Write + Send>) -> Ordered {
        Ordered {
            state: Mutex::new(OrderedState {
                out,
                head: 0,
                pending: BTreeMap::new(),
                finished: BTreeSet::new(),
                error: None,
                aborted: false,
                waiting: 0,
            }),
            turn: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, OrderedState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes bytes of chunk `k`, buffering them while earlier chunks run.
    fn write_chunk(&self, k: usize, data: &[u8]) -> io::Result<()> {
        let mut st = self.lock();
        loop {
            if st.aborted {
                return Err(io::Error::other("another chunk failed"));
            }
            if st.head == k || st.error.is_some() {
                return st.write(data);
            }
            let buffered = st.pending.get(&k).map_or(0, Vec::len);
            if buffered + data.len() <= MAX_BUFFERED {
                st.pending.entry(k).or_default().extend_from_slice(data);
                return Ok(());
            }
            st.waiting += 1;
            st = self.turn.wait(st).unwrap_or_else(|e| e.into_inner());
            st.waiting -= 1;
        }
    }

    /// Chunk `k` has finished: its bytes may follow those of the chunks
    /// before it.
    fn finish(&self, k: usize) {
        let mut st = self.lock();
        st.finished.insert(k);
        st.advance();
        drop(st);
        self.turn.notify_all();
    }

    fn abort(&self) {
        self.lock().aborted = true;
        self.turn.notify_all();
    }

    fn is_aborted(&self) -> bool {
        self.lock().aborted
    }
}

/// The output of the main instance (`plan`, `reduce`, or a serial `run`):
/// straight through.
struct Direct(Arc<Ordered>);

impl Write for Direct {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().write(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.lock().out.flush()
    }
}

/// The output of one chunk, in its place in the order.
struct ChunkOut {
    ordered: Arc<Ordered>,
    index: usize,
}

impl Write for ChunkOut {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.ordered.write_chunk(self.index, buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs the chunk `view` in `store`'s instance: the chunk's view and its
/// output writer `out` put in place (and, for a distributed run, WASI's
/// randomness seeded from the chunk's index), `run-chunk` called and its
/// result settled, then the view detached and the writer dropped (which
/// closes it). The one way a chunk runs, in a local parallel run and in
/// `mmhost run-chunk`.
pub(super) fn run_chunk(
    ctx: &StoreCtx<'_>,
    chunked: &super::parallel_bindings::exports::mmhost::plugin::chunked::Guest,
    store: &mut wasmtime::Store<HostState>,
    view: crate::region::chunk::ChunkView,
    out: Box<dyn Write + Send>,
) -> Result<Vec<u8>> {
    let (index, count, start, end, halo) = view.bounds();
    let data = store.data_mut();
    data.view = View::Chunk(view);
    data.out = out;
    if let Some(seed) = ctx.opts.random_seed {
        data.wasi = super::wasi::sandboxed(
            &data.terminal,
            data.clock.clone(),
            Some(super::chunk_seed(seed, index)),
        );
    }
    data.calling = super::abi::Export::RunChunk;
    let chunk = Chunk {
        index,
        count,
        start,
        end,
        halo,
    };
    let called = chunked.call_run_chunk(&mut *store, &ctx.opts.args, chunk);
    let result = ctx.settle(called, store);
    let data = store.data_mut();
    data.view = View::Detached;
    data.out = Box::new(io::sink());
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_size_is_four_per_job_in_whole_mib_at_least_the_minimum() {
        assert_eq!(chunk_size(1 << 30, 2), 128 << 20);
        assert_eq!(chunk_size(1 << 30, 1), 256 << 20);
        assert_eq!(chunk_size(10 << 20, 2), MIN_CHUNK);
        assert_eq!(chunk_size((1 << 30) + 1, 2), 129 << 20);
        assert_eq!(chunk_size(0, 0), MIN_CHUNK);
    }

    #[test]
    fn chunk_sizes_are_bounded_in_count_and_snapshot_memory() {
        // A library caller's 0 is taken as 1; small regions keep small chunks.
        assert_eq!(bounded_chunk_size(10_000, 0, 0), 1);
        assert_eq!(bounded_chunk_size(10_000, 7, 3), 7);
        // 1 GiB in 1-byte chunks would be 2^30 chunks: at most MAX_CHUNKS.
        let c = bounded_chunk_size(1 << 30, 1, 0);
        assert_eq!((1u64 << 30).div_ceil(c), MAX_CHUNKS);
        // A 1 MiB halo: at most 128 boundaries of 2 MiB of snapshots.
        let c = bounded_chunk_size(1 << 30, 1, 1 << 20);
        assert!((1u64 << 30).div_ceil(c) * (2 << 20) <= MAX_SNAPSHOTS);
        // A sensible ask is kept.
        assert_eq!(bounded_chunk_size(1 << 30, 64 << 20, 4096), 64 << 20);
        assert!(parse_chunk_size("0").is_err());
        assert!(parse_chunk_size("0M").is_err());
        assert_eq!(parse_chunk_size("1"), Ok(1));
    }

    /// A writer whose bytes the test can read afterwards.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn chunk_output_comes_out_in_chunk_order_whatever_the_finishing_order() {
        let sink = Shared::default();
        let ordered = Ordered::new(Box::new(sink.clone()));
        ordered.lock().write(b"plan;").unwrap();
        ordered.write_chunk(2, b"c2a,").unwrap();
        ordered.write_chunk(1, b"c1,").unwrap();
        ordered.finish(2);
        ordered.write_chunk(0, b"c0a,").unwrap(); // the head: straight through
        assert_eq!(&*sink.0.lock().unwrap(), b"plan;c0a,");
        ordered.finish(0); // 1 becomes the head: its buffer is written
        assert_eq!(&*sink.0.lock().unwrap(), b"plan;c0a,c1,");
        ordered.write_chunk(1, b"c1b,").unwrap();
        ordered.finish(1); // 2 had finished: written too
        ordered.lock().write(b"reduce").unwrap();
        assert_eq!(&*sink.0.lock().unwrap(), b"plan;c0a,c1,c1b,c2a,reduce");
    }

    #[test]
    fn a_chunk_over_its_buffer_waits_for_its_turn() {
        let sink = Shared::default();
        let ordered = Arc::new(Ordered::new(Box::new(sink.clone())));
        let big = vec![b'x'; MAX_BUFFERED];
        let o = ordered.clone();
        let t = std::thread::spawn(move || {
            o.write_chunk(1, &big).unwrap();
            o.write_chunk(1, b"y").unwrap(); // over the buffer: waits
            o.finish(1);
        });
        // Until the writer is blocked over its buffer (no sleep: whatever
        // the scheduling, the state is the same when the loop ends).
        while ordered.lock().waiting == 0 {
            // A writer that does not wait finishes instead.
            assert!(!t.is_finished(), "the write over the buffer did not wait");
            std::thread::yield_now();
        }
        assert!(sink.0.lock().unwrap().is_empty());
        assert_eq!(
            ordered.lock().pending.get(&1).map(Vec::len),
            Some(MAX_BUFFERED)
        );
        ordered.write_chunk(0, b"first").unwrap();
        ordered.finish(0);
        t.join().unwrap();
        let out = sink.0.lock().unwrap();
        assert!(out.starts_with(b"firstxxx"));
        assert!(out.ends_with(b"xy"));
        assert_eq!(out.len(), 5 + MAX_BUFFERED + 1);
    }
}
