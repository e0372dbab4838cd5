//! The only code of mmhost that calls `mmap`, `munmap` and `mprotect`: one
//! reserved range of address space, and file or anonymous mappings placed
//! inside it.
//!
//! The design follows memmap2's: a small type that owns a mapping, unmaps it on
//! drop, and hands out raw pointers. Bounds are checked twice: by the region
//! ([`super::Region`]), which uses the extent table of [`super::layout`] to
//! compute every address it passes here, and here again (an offset past the
//! reservation panics rather than producing a wild pointer). Turning those
//! pointers into slices is the callers' `unsafe`, each with its own `SAFETY`
//! comment (the region's read, write, copy and open paths).

use std::ffi::c_void;
use std::fs::File;
use std::io;
use std::ptr::NonNull;

use rustix::mm::{self, MapFlags, MprotectFlags, ProtFlags};

/// Alignment of the reservation's base: 2 MiB, so that slots placed at 2 MiB
/// offsets are 2 MiB-aligned in memory too (huge-page friendly).
const BASE_ALIGN: usize = 2 << 20;

/// A reserved range of address space (`PROT_NONE`, no swap reserved) into
/// which files and anonymous memory are mapped with `MAP_FIXED`.
#[derive(Debug)]
pub(crate) struct Reservation {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: a `Reservation` exclusively owns its address range; nothing in it is
// tied to the thread that created it, so it may move to another thread.
unsafe impl Send for Reservation {}

impl Reservation {
    /// Reserves `len` bytes (a page multiple, > 0) at a 2 MiB-aligned base.
    pub(crate) fn new(len: usize) -> io::Result<Reservation> {
        let over = len
            .checked_add(BASE_ALIGN)
            .ok_or_else(|| io::Error::other("region too large for the address space"))?;
        // SAFETY: a fresh anonymous PROT_NONE mapping at an address the kernel
        // chooses; it aliases nothing.
        let raw = unsafe {
            mm::mmap_anonymous(
                std::ptr::null_mut(),
                over,
                ProtFlags::empty(),
                MapFlags::PRIVATE | MapFlags::NORESERVE,
            )?
        };
        let raw_addr = raw as usize;
        let base = raw_addr.next_multiple_of(BASE_ALIGN);
        let head = base - raw_addr;
        let tail = over - head - len;
        // SAFETY: both ranges lie inside the mapping just made and outside
        // [base, base + len), which is what we keep.
        unsafe {
            if head > 0 {
                mm::munmap(raw, head)?;
            }
            if tail > 0 {
                mm::munmap((base + len) as *mut c_void, tail)?;
            }
        }
        Ok(Reservation {
            base: NonNull::new(base as *mut u8).expect("mmap never returns null"),
            len,
        })
    }

    /// Address of byte `offset` of the reservation (`offset == len` gives
    /// the address one past its end).
    ///
    /// # Panics
    /// If `offset` is past the end of the reservation: callers compute
    /// offsets from the layout, so this is a bug in mmhost, never a bad
    /// input; the check keeps it from becoming a wild pointer.
    pub(crate) fn ptr(&self, offset: u64) -> *mut u8 {
        assert!(
            offset <= self.len as u64,
            "offset {offset} outside a reservation of {} bytes",
            self.len
        );
        // SAFETY: `offset <= len` (checked above), so the result stays
        // inside the reservation or one past its end, which is one
        // allocation (one mapping) for pointer arithmetic.
        unsafe { self.base.as_ptr().add(offset as usize) }
    }

    fn check(&self, offset: u64, len: usize) {
        assert!(
            offset.is_multiple_of(rustix::param::page_size() as u64)
                && offset + len as u64 <= self.len as u64,
            "mapping outside the reservation or unaligned"
        );
    }

    /// Maps `len` bytes of `file` from its start at `offset` of the
    /// reservation, shared and read-only: an input, or a file the region
    /// writes with `pwrite` and reads back through the mapping.
    pub(crate) fn map_file(&self, offset: u64, len: usize, file: &File) -> io::Result<()> {
        self.map(offset, len, file, 0, ProtFlags::READ, MapFlags::SHARED)
    }

    /// Maps `len` bytes of `file`, from file offset `offset`, at the same
    /// `offset` of the reservation: private (a write copies the page into
    /// this process's memory and never reaches the file), readable and (if
    /// `writable`) writable. For the packing file, which is laid out like the
    /// reservation.
    pub(crate) fn map_private(
        &self,
        offset: u64,
        len: usize,
        file: &File,
        writable: bool,
    ) -> io::Result<()> {
        let prot = if writable {
            ProtFlags::READ | ProtFlags::WRITE
        } else {
            ProtFlags::READ
        };
        self.map(offset, len, file, offset, prot, MapFlags::PRIVATE)
    }

    /// Maps `len` bytes of `file` from `file_offset` at `offset` of the
    /// reservation, replacing what was there.
    fn map(
        &self,
        offset: u64,
        len: usize,
        file: &File,
        file_offset: u64,
        prot: ProtFlags,
        flags: MapFlags,
    ) -> io::Result<()> {
        self.check(offset, len);
        // SAFETY: the target range is page-aligned and inside our reservation
        // (checked above), so MAP_FIXED replaces only pages we own, and no
        // Rust reference points into them (the region hands out copies, and
        // slices only within one call that maps nothing). `file_offset` is 0
        // or equal to `offset`, so page-aligned too.
        unsafe {
            mm::mmap(
                self.ptr(offset).cast(),
                len,
                prot,
                flags | MapFlags::FIXED,
                file,
                file_offset,
            )?;
        }
        Ok(())
    }

    /// Makes `len` bytes at `offset` anonymous, zeroed, read-write memory.
    pub(crate) fn map_anonymous(&self, offset: u64, len: usize) -> io::Result<()> {
        self.check(offset, len);
        // SAFETY: as in `map`: a page-aligned range inside our own
        // reservation, with no references into it.
        unsafe {
            mm::mmap_anonymous(
                self.ptr(offset).cast(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE | MapFlags::FIXED,
            )?;
        }
        Ok(())
    }

    /// Makes `len` bytes at `offset` read-only.
    pub(crate) fn protect_read_only(&self, offset: u64, len: usize) -> io::Result<()> {
        self.check(offset, len);
        // SAFETY: changes protection of pages we own; no Rust reference
        // into them is alive, and later accesses are reads only.
        unsafe { mm::mprotect(self.ptr(offset).cast(), len, MprotectFlags::READ)? };
        Ok(())
    }

    /// Copies `src` into the reservation at `offset`.
    ///
    /// # Safety
    /// `[offset, offset + src.len())` must be mapped writable memory inside
    /// the reservation, and no Rust reference may point into it.
    pub(crate) unsafe fn write(&self, offset: u64, src: &[u8]) {
        // SAFETY: the caller guarantees the target is mapped and writable and
        // unaliased; `src` is not inside the reservation (callers pass guest
        // memory or host buffers).
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.ptr(offset), src.len()) }
    }

    /// The bytes `[offset, offset + len)` as a slice.
    ///
    /// # Safety
    /// The range must be mapped readable memory, and must not be written
    /// while the slice lives.
    pub(crate) unsafe fn slice(&self, offset: u64, len: usize) -> &[u8] {
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts(self.ptr(offset), len) }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        // SAFETY: we own [base, base + len); unmapping it also removes every
        // mapping placed inside it. No references into it outlive `self`.
        unsafe {
            let _ = mm::munmap(self.base.as_ptr().cast(), self.len);
        }
    }
}
