//! The read path: where the bytes of a global range lie now (the inputs'
//! mappings, or the shadow for ranges already written), copied out
//! ([`Region::read`], [`Region::read_into`]) or described for a copy
//! straight into a plugin's memory ([`ReadView`]).

use std::sync::atomic::Ordering;

use super::write::Backing;
use super::{AccessError, Region, MAX_READ};

/// Where the bytes of a checked read lie in the region's memory; see
/// [`Region::read_view`].
#[derive(Debug)]
pub struct ReadView {
    /// `(address, length)` per extent.
    pieces: Vec<(usize, usize)>,
    len: usize,
}

impl ReadView {
    /// Where the bytes of `slices` (of the region's memory) lie.
    pub(super) fn of(slices: &[(u64, &[u8])]) -> ReadView {
        ReadView {
            pieces: slices
                .iter()
                .map(|(_, s)| (s.as_ptr() as usize, s.len()))
                .collect(),
            len: slices.iter().map(|(_, s)| s.len()).sum(),
        }
    }

    /// Total length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the read is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies the bytes into `dst` (exactly [`ReadView::len`] bytes long).
    ///
    /// # Safety
    /// What this view came from must still be alive, unchanged in the
    /// viewed bytes: the region's reservations (inputs and shadow) still
    /// mapped, and for a view of a chunk, the [`super::chunk::ChunkView`]
    /// (whose halo snapshots some pieces point into) not yet dropped; and
    /// no write to the viewed range may run until the copy is done. Staging
    /// a copy meanwhile is fine: it maps the shadow at other addresses and
    /// leaves these bytes as they are.
    ///
    /// # Panics
    /// If `dst` is not exactly [`ReadView::len`] bytes long.
    pub unsafe fn copy_to(&self, dst: &mut [u8]) {
        assert_eq!(dst.len(), self.len, "ReadView::copy_to: wrong length");
        let mut done = 0;
        for &(addr, n) in &self.pieces {
            // SAFETY: the caller guarantees that the memory the pieces point
            // into (mapped reservation or snapshot) is alive and not written
            // meanwhile; the pieces were bounds-checked against the layout
            // when the view was made; `dst` is a `&mut` and so overlaps none
            // of them.
            unsafe {
                std::ptr::copy_nonoverlapping(addr as *const u8, dst[done..].as_mut_ptr(), n)
            };
            done += n;
        }
    }
}

impl Region {
    /// Reads `len` bytes at `at` (negative from the end) into a new vector.
    pub fn read(&self, at: i64, len: u64) -> Result<Vec<u8>, AccessError> {
        let start = self.check_read(at, len)?;
        let mut buf = vec![0u8; len as usize];
        self.read_into(start, &mut buf);
        self.count_read(len);
        Ok(buf)
    }

    /// Resolves a read of `len` bytes at `at` (in range, at most
    /// [`MAX_READ`]) to its global start.
    pub(super) fn check_read(&self, at: i64, len: u64) -> Result<u64, AccessError> {
        let start = self.resolve(at, len)?;
        if len > MAX_READ {
            return Err(AccessError::TooLarge { limit: MAX_READ });
        }
        Ok(start)
    }

    /// Checks a read like [`Region::read`] but copies nothing yet: returns
    /// where the bytes lie, so that the caller can copy them straight to
    /// their destination (the plugin's memory) with one `memcpy` per extent.
    pub fn read_view(&self, at: i64, len: u64) -> Result<ReadView, AccessError> {
        let start = self.check_read(at, len)?;
        let view = ReadView::of(&self.slices(start, start + len));
        self.count_read(len);
        Ok(view)
    }

    /// The mapped memory of `[start, end)` (checked by the caller) as
    /// slices, one per extent, each with its global offset.
    ///
    /// The slices must not outlive a write to their bytes: callers use them
    /// within one call of the region, on the thread that owns it (or, for a
    /// chunk, on bytes no other thread writes).
    pub(crate) fn slices(&self, start: u64, end: u64) -> Vec<(u64, &[u8])> {
        self.spans(start, end - start)
            .into_iter()
            .map(|(g, addr, n)| {
                // SAFETY: `spans` yields mapped, readable memory of this
                // region (inputs or shadow), alive as long as `self`; the
                // caller keeps writes away while the slice lives (see above).
                let bytes = unsafe { std::slice::from_raw_parts(addr as *const u8, n) };
                (g, bytes)
            })
            .collect()
    }

    /// Where the bytes of `[start, start + len)` (checked by the caller) are
    /// now: `(global offset, address, length)` per run of contiguous memory,
    /// in order. Written ranges come from the shadow, the rest from the
    /// inputs' mappings.
    fn spans(&self, start: u64, len: u64) -> Vec<(u64, usize, usize)> {
        let Some(mem) = &self.mem else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let written = self.written.lock_if_any();
        let mut g = start;
        for (addr, n) in self.layout.pieces(start, len) {
            let end = g + n as u64;
            let at_input = |from: u64| mem.ptr(addr + (from - g)) as usize;
            match &written {
                None => out.push((g, at_input(g), n)),
                Some(w) => {
                    let mut at = g;
                    for (s, e) in w.within(g, end) {
                        if at < s {
                            out.push((at, at_input(at), (s - at) as usize));
                        }
                        out.push((s, self.shadow_ptr(addr + (s - g), s), (e - s) as usize));
                        at = e;
                    }
                    if at < end {
                        out.push((at, at_input(at), (end - at) as usize));
                    }
                }
            }
            g = end;
        }
        out
    }

    /// The shadow address of the byte at layout address `addr`, global
    /// offset `global` (a written byte).
    fn shadow_ptr(&self, addr: u64, global: u64) -> usize {
        match &self.backing {
            Backing::CopyOnWrite {
                shadow: Some(sh), ..
            } => sh.ptr(addr) as usize,
            Backing::Output {
                shadow: Some(sh), ..
            } => sh.ptr(global) as usize,
            _ => unreachable!("only writable regions with bytes have written ranges"),
        }
    }

    /// Counts `len` bytes as read.
    pub(super) fn count_read(&self, len: u64) {
        self.bytes_read.fetch_add(len, Ordering::Relaxed);
    }

    /// Copies `buf.len()` bytes from global offset `start` into `buf`. The
    /// range must have been checked with [`Region::resolve`].
    pub fn read_into(&self, start: u64, buf: &mut [u8]) {
        assert!(
            start
                .checked_add(buf.len() as u64)
                .is_some_and(|end| end <= self.size()),
            "read_into outside the region"
        );
        let mut done = 0;
        for (_, bytes) in self.slices(start, start + buf.len() as u64) {
            buf[done..done + bytes.len()].copy_from_slice(bytes);
            done += bytes.len();
        }
    }
}
