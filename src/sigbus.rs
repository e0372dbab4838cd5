//! What happens when a mapped file is truncated under a run: one clear line
//! and exit code 3, instead of a bare crash.
//!
//! Any program that maps a file faults with `SIGBUS` when it touches a page
//! that another process cut off the file (`truncate`, `O_TRUNC`, a shrinking
//! rewrite). mmhost takes an advisory `flock` on every input for the run (see
//! [`crate::region::inputs`]), which stops other mmhost runs and tools that
//! lock, but not a process that ignores locks. So the `mmhost` command also
//! installs a `SIGBUS` handler ([`install`]) that names the file and the byte
//! that faulted and exits with code 3:
//!
//! ```text
//! mmhost: error: a.bin: an input file was truncated by another process while mapped (SIGBUS at byte 8192 of the file); no changes were committed
//! ```
//!
//! The handler can only do async-signal-safe things: it reads a table of the
//! mapped files published before the run ([`watch`]), formats into a stack
//! buffer, `write`s to stderr and `_exit`s. Nothing is unwound and nothing is
//! committed: writes go to staged copies (see [`crate::commit`]), which the
//! next run over those files removes, and the message says so. With
//! `--output` the inputs are mapped as in any run, and are in the table
//! too. The shadow (staged copies and the output file, files mmhost made
//! itself) is not. A `SIGBUS` at an address outside the table is not
//! explained away: the handler restores the default action and the process
//! dies of it.
//!
//! The handler is process-wide, so [`install`] is for programs that run one
//! job at a time, as the `mmhost` command does; the library never installs it
//! by itself, and [`watch`] does nothing until it is installed.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

use crate::region::Region;

/// One mapped file, as the handler sees it: addresses and a printable name.
struct Entry {
    start: usize,
    end: usize,
    name: Box<[u8]>,
}

/// The table the handler reads. Published once per run and never freed (a
/// handler may be reading it on another thread), so it stays small: one
/// entry per mapped file.
struct Table {
    entries: Box<[Entry]>,
    /// What happened, after the file's name.
    what: &'static [u8],
    /// What it means for the run's writes.
    tail: &'static [u8],
}

static INSTALLED: AtomicBool = AtomicBool::new(false);
static TABLE: AtomicPtr<Table> = AtomicPtr::new(std::ptr::null_mut());

const INPUT_TRUNCATED: &[u8] =
    b": an input file was truncated by another process while mapped (SIGBUS at byte ";
const NOTHING_COMMITTED: &[u8] = b"; no changes were committed\n";
const COPIES_LEFT: &[u8] = b"; no changes were committed (the next mmhost run over these \
files removes the unfinished copies)\n";

/// Installs the `SIGBUS` handler for the whole process (once; later calls do
/// nothing).
pub fn install() -> io::Result<()> {
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return Ok(());
    }
    // SAFETY: a zeroed `sigaction` is a valid starting value; we set the
    // handler, flags and an empty mask before passing it to the kernel. The
    // handler only makes async-signal-safe calls (see `on_sigbus`).
    let rc = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigbus as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut())
    };
    if rc != 0 {
        INSTALLED.store(false, Ordering::SeqCst);
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Publishes the file mappings of `region` to the handler until the returned
/// guard is dropped. Does nothing unless [`install`] was called.
pub fn watch(region: &Region) -> Watching {
    if !INSTALLED.load(Ordering::SeqCst) {
        return Watching { active: false };
    }
    let entries: Vec<Entry> = region
        .file_mappings()
        .into_iter()
        .map(|(start, end, path)| Entry {
            start,
            end,
            name: printable(path),
        })
        .collect();
    let (what, tail) = match region.writable() {
        true => (INPUT_TRUNCATED, COPIES_LEFT),
        false => (INPUT_TRUNCATED, NOTHING_COMMITTED),
    };
    let table = Box::new(Table {
        entries: entries.into_boxed_slice(),
        what,
        tail,
    });
    // The previous table, if any, is leaked on purpose: see `Table`.
    TABLE.store(Box::into_raw(table), Ordering::SeqCst);
    Watching { active: true }
}

/// Keeps a region's mappings published to the `SIGBUS` handler; see [`watch`].
#[must_use = "the mappings are watched only while the guard lives"]
pub struct Watching {
    active: bool,
}

impl Drop for Watching {
    fn drop(&mut self) {
        if self.active {
            // Leaked, not freed: a handler on another thread may hold it.
            TABLE.store(std::ptr::null_mut(), Ordering::SeqCst);
        }
    }
}

/// The name as the handler prints it: quoted, as every name mmhost prints.
fn printable(path: &Path) -> Box<[u8]> {
    crate::escape::quote(path).into_bytes().into_boxed_slice()
}

/// Writes all of `bytes` to stderr; async-signal-safe.
fn put(bytes: &[u8]) {
    let mut rest = bytes;
    while !rest.is_empty() {
        // SAFETY: write(2) on fd 2 from a valid buffer; async-signal-safe.
        let n = unsafe { libc::write(2, rest.as_ptr().cast(), rest.len()) };
        if n <= 0 {
            return;
        }
        rest = &rest[n as usize..];
    }
}

/// Formats `n` in decimal into `buf`; async-signal-safe (no allocation).
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

extern "C" fn on_sigbus(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler, and
    // `si_addr` is the faulting address for SIGBUS.
    let addr = unsafe { (*info).si_addr() } as usize;
    // SAFETY: a non-null TABLE points to a leaked, never-freed, immutable
    // `Table` (see `watch`).
    let table = unsafe { TABLE.load(Ordering::SeqCst).as_ref() };
    let hit = table.and_then(|t| {
        t.entries
            .iter()
            .find(|e| e.start <= addr && addr < e.end)
            .map(|e| (t, e))
    });
    match hit {
        Some((table, entry)) => {
            let mut buf = [0u8; 20];
            put(b"mmhost: error: ");
            put(&entry.name);
            put(table.what);
            put(decimal((addr - entry.start) as u64, &mut buf));
            put(b" of the file)");
            put(table.tail);
            // SAFETY: _exit is async-signal-safe and ends the process at once.
            unsafe { libc::_exit(3) };
        }
        None => {
            put(b"mmhost: fatal: SIGBUS outside the mapped input files\n");
            // SAFETY: restoring the default action is async-signal-safe;
            // returning re-runs the faulting access, which now kills the
            // process with SIGBUS as it would have without this handler.
            unsafe { libc::signal(libc::SIGBUS, libc::SIG_DFL) };
        }
    }
}
