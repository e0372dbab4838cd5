//! The segment table and the placement of files in the reserved address range.
//!
//! This module is pure arithmetic: it decides *where* each input file goes in
//! the reservation and how global offsets map to addresses, without touching
//! memory. Keeping it apart from the `unsafe` mapping code lets the rules be
//! unit-tested (and fuzzed) on their own.
//!
//! # Why files do not always sit back to back
//!
//! `mmap` can place a file only at a page-aligned address *and* a page-aligned
//! file offset. A file whose global start (the sum of the lengths before it) is
//! not a page multiple therefore cannot be mapped at its exact byte position
//! after the previous file. Such a file gets a slot of its own, starting at the
//! next 2 MiB boundary (large files: a 2 MiB-aligned mapping faults far less
//! often than a skewed one) or page boundary (smaller files), and the
//! [`Extent`] table records which global range lives at which address.
//!
//! When every file but the last is a multiple of the page size, consecutive
//! slots touch and the whole region is one extent: truly contiguous memory.
//! Otherwise a read or write that crosses into another extent is split into one
//! `memcpy` per extent it touches; the bytes seen are always exactly those of
//! the concatenation.
//!
//! # Small files, and the mapping budget
//!
//! The kernel allows about 65,000 mappings per process (`vm.max_map_count`).
//! Files below [`LayoutParams::pack_below`] (64 KiB by default) are not mapped:
//! they are *packed*, copied to their exact byte position, so that runs of
//! small files are contiguous with each other and cost one mapping per run
//! instead of one per file. If the large files alone would still need more
//! mappings than [`LayoutParams::max_mappings`] (half of `vm.max_map_count`),
//! the smallest of them are packed too (a third of the excess at a time, then
//! recounted), up to [`LayoutParams::max_packed_bytes`]. Mappings are counted
//! as the kernel counts them: a mapping covers its last page whole, so a file
//! or run whose neighbour starts on the next page leaves no gap.
//!
//! Where packed bytes live is [`super::Region`]'s business: a temporary file
//! laid out like the reservation, mapped privately, so that packing costs page
//! cache (and disk where data is), not anonymous memory.

use std::fmt;

/// How one file is placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// An empty file: it takes no space.
    Empty,
    /// The file is mapped from disk.
    Mapped,
    /// The file is copied to its exact position (into the region's packing
    /// file, or anonymous memory).
    Packed,
}

/// One file's place: its global range and its address in the reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// Global offset of the file's first byte.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
    /// Offset of the file's first byte from the base of the reservation.
    pub addr: u64,
    /// How the bytes get there.
    pub placement: Placement,
}

impl Slot {
    /// Global offset one past the file's last byte.
    pub fn end(&self) -> u64 {
        self.start + self.len
    }
}

/// A maximal global range that is contiguous in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    /// Global offset of the first byte.
    pub start: u64,
    /// Global offset one past the last byte.
    pub end: u64,
    /// Offset of the first byte from the base of the reservation.
    pub addr: u64,
}

/// Tunables of the placement.
#[derive(Debug, Clone, Copy)]
pub struct LayoutParams {
    /// The system page size.
    pub page: u64,
    /// Alignment of slots for files of at least this size (2 MiB).
    pub huge: u64,
    /// Files shorter than this are packed instead of mapped.
    pub pack_below: u64,
    /// Most mappings the region may use (mapped files, packed runs, gaps).
    pub max_mappings: usize,
    /// Most bytes that packing may copy (they go to a temporary file: see
    /// [`super::Region`]).
    pub max_packed_bytes: u64,
}

impl LayoutParams {
    /// Parameters for this machine: its page size, and a mapping budget of
    /// half the kernel's `vm.max_map_count` (the rest is left to wasmtime and
    /// the process itself).
    pub fn for_this_machine() -> Self {
        let max_map_count = std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .unwrap_or(65_530);
        LayoutParams {
            page: rustix::param::page_size() as u64,
            huge: 2 << 20,
            pack_below: super::inputs::SMALL_FILE,
            max_mappings: max_map_count / 2,
            // Packed bytes go to a temporary file, not to memory (see
            // `Region::open`): bounded by the room in $TMPDIR only.
            max_packed_bytes: u64::MAX,
        }
    }
}

/// Why no layout could be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayoutError {
    /// The files need more mappings than allowed even after packing.
    TooManyMappings {
        /// Mappings the files would need.
        needed: usize,
        /// Mappings allowed.
        limit: usize,
    },
    /// The total size does not fit the address space.
    TooLarge,
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayoutError::TooManyMappings { needed, limit } => write!(
                f,
                "the input files need {needed} memory mappings, more than the {limit} allowed \
                 (half of vm.max_map_count); pass fewer large files per run"
            ),
            LayoutError::TooLarge => f.write_str("the input files are too large to map"),
        }
    }
}

/// Where every file goes, and the extent table that resolves offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    slots: Vec<Slot>,
    extents: Vec<Extent>,
    size: u64,
    span: u64,
    mappings: usize,
}

fn round_up(x: u64, to: u64) -> u64 {
    x.div_ceil(to) * to
}

impl Layout {
    /// Places files of the given lengths, in order.
    pub fn plan(lens: &[u64], params: &LayoutParams) -> Result<Layout, LayoutError> {
        let size = lens
            .iter()
            .try_fold(0u64, |acc, &l| acc.checked_add(l))
            .ok_or(LayoutError::TooLarge)?;
        let mut kinds: Vec<Placement> = lens
            .iter()
            .map(|&len| match len {
                0 => Placement::Empty,
                l if l < params.pack_below => Placement::Packed,
                _ => Placement::Mapped,
            })
            .collect();

        let mut layout = Self::assign(lens, &kinds, params, size)?;
        if layout.mappings > params.max_mappings {
            // Pack the smallest mapped files until the budget holds. Each file
            // packed removes at most three mappings (its own and the gaps or
            // runs around it), so pack a third of the excess, recount, and
            // so on: a few dozen recounts for 100,000 files, and never more
            // files packed than needed in that order.
            let mut mapped: Vec<usize> = (0..lens.len())
                .filter(|&i| kinds[i] == Placement::Mapped)
                .collect();
            mapped.sort_by_key(|&i| lens[i]);
            let mut packed_bytes: u64 = (0..lens.len())
                .filter(|&i| kinds[i] == Placement::Packed)
                .map(|i| lens[i])
                .sum();
            let mut recount_at = 0;
            for (n, &i) in mapped.iter().enumerate() {
                if n == recount_at {
                    layout = Self::assign(lens, &kinds, params, size)?;
                    let excess = layout.mappings.saturating_sub(params.max_mappings);
                    if excess == 0 {
                        break;
                    }
                    recount_at = n + excess.div_ceil(3);
                }
                if packed_bytes + lens[i] > params.max_packed_bytes {
                    break;
                }
                kinds[i] = Placement::Packed;
                packed_bytes += lens[i];
            }
            layout = Self::assign(lens, &kinds, params, size)?;
            if layout.mappings > params.max_mappings {
                return Err(LayoutError::TooManyMappings {
                    needed: layout.mappings,
                    limit: params.max_mappings,
                });
            }
        }
        Ok(layout)
    }

    /// Assigns addresses to files whose placements are decided.
    fn assign(
        lens: &[u64],
        kinds: &[Placement],
        params: &LayoutParams,
        size: u64,
    ) -> Result<Layout, LayoutError> {
        let mut slots = Vec::with_capacity(lens.len());
        // Next free address, and whether the page it lies in already belongs
        // to a file mapping (whose tail beyond EOF must not be reused).
        let mut cursor: u64 = 0;
        let mut start: u64 = 0;
        let mut mappings = 0usize;
        let mut prev: Option<Placement> = None;
        for (&len, &kind) in lens.iter().zip(kinds) {
            let addr = match kind {
                Placement::Empty => cursor,
                Placement::Packed => {
                    let addr = match prev {
                        // After a file mapping that ends mid-page, the rest of
                        // that page is the file's: start on the next page.
                        Some(Placement::Mapped) => round_up(cursor, params.page),
                        _ => cursor,
                    };
                    if prev != Some(Placement::Packed) || addr != cursor {
                        mappings += 1; // a new anonymous run
                    }
                    addr
                }
                Placement::Mapped => {
                    mappings += 1;
                    if cursor.is_multiple_of(params.page) {
                        cursor // contiguous with what precedes
                    } else if len >= params.huge {
                        round_up(cursor, params.huge)
                    } else {
                        round_up(cursor, params.page)
                    }
                }
            };
            // A file or packed run's mapping covers its last page whole, so
            // only a slot beyond that page leaves a PROT_NONE gap behind.
            if addr > round_up(cursor, params.page) {
                mappings += 1;
            }
            if kind != Placement::Empty {
                prev = Some(kind);
                cursor = addr.checked_add(len).ok_or(LayoutError::TooLarge)?;
            }
            slots.push(Slot {
                start,
                len,
                addr,
                placement: kind,
            });
            start += len;
        }
        let span = round_up(cursor, params.page);
        if span > isize::MAX as u64 / 2 {
            return Err(LayoutError::TooLarge);
        }
        let extents = Self::extents_of(&slots);
        Ok(Layout {
            slots,
            extents,
            size,
            span,
            mappings,
        })
    }

    /// One contiguous extent of `size` bytes at address 0, for a region backed
    /// by a single file (the `--output` target).
    pub fn contiguous(size: u64, page: u64) -> Layout {
        let extents = if size == 0 {
            Vec::new()
        } else {
            vec![Extent {
                start: 0,
                end: size,
                addr: 0,
            }]
        };
        Layout {
            slots: Vec::new(),
            extents,
            size,
            span: round_up(size, page),
            mappings: usize::from(size > 0),
        }
    }

    fn extents_of(slots: &[Slot]) -> Vec<Extent> {
        let mut extents: Vec<Extent> = Vec::new();
        for s in slots.iter().filter(|s| s.len > 0) {
            match extents.last_mut() {
                Some(e) if e.addr + (e.end - e.start) == s.addr => e.end = s.end(),
                _ => extents.push(Extent {
                    start: s.start,
                    end: s.end(),
                    addr: s.addr,
                }),
            }
        }
        extents
    }

    /// Whether file `i` sits right after the previous bytes of the region in
    /// memory (`true` for the first file and for empty files), rather than in
    /// a slot of its own.
    pub fn joins_previous(&self, i: usize) -> bool {
        let slot = &self.slots[i];
        if slot.len == 0 {
            return true;
        }
        match self.slots[..i].iter().rev().find(|s| s.len > 0) {
            Some(prev) => prev.addr + prev.len == slot.addr,
            None => true,
        }
    }

    /// Each file's placement, in input order (empty for [`Layout::contiguous`]).
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// The extent table, ordered by global offset.
    pub fn extents(&self) -> &[Extent] {
        &self.extents
    }

    /// Total size of the region in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes of address space the layout needs (a page multiple).
    pub fn span(&self) -> u64 {
        self.span
    }

    /// Mappings the layout uses, counted as the kernel counts them.
    pub fn mappings(&self) -> usize {
        self.mappings
    }

    /// Whether the region is one contiguous range of memory.
    pub fn is_contiguous(&self) -> bool {
        self.extents.len() <= 1
    }

    /// Resolves an access of `len` bytes at `at` (negative: from the end) to
    /// a global start offset, checking that it lies inside the region.
    pub fn resolve(&self, at: i64, len: u64) -> Result<u64, OutOfRange> {
        resolve(self.size, at, len)
    }

    /// The memory pieces of the global range `[start, start + len)`, which
    /// must lie inside the region: `(address offset, length)` per extent.
    pub fn pieces(&self, start: u64, len: u64) -> Pieces<'_> {
        let first = self.extents.partition_point(|e| e.end <= start);
        Pieces {
            extents: &self.extents[first..],
            pos: start,
            end: start + len,
        }
    }
}

/// An access outside the region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfRange {
    /// The offset as given (negative: from the end).
    pub at: i64,
    /// The length of the access.
    pub len: u64,
    /// The size of the region.
    pub size: u64,
}

impl fmt::Display for OutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "range of {} bytes at offset {} is outside the region of {} bytes",
            self.len, self.at, self.size
        )
    }
}

/// Resolves `at` (negative counts from the end, -1 is the last byte) and
/// checks that `[start, start + len)` lies inside `[0, size)`; a zero-length
/// access is valid anywhere in `[0, size]`.
pub fn resolve(size: u64, at: i64, len: u64) -> Result<u64, OutOfRange> {
    let err = OutOfRange { at, len, size };
    let start = if at >= 0 {
        at as u64
    } else {
        size.checked_sub(at.unsigned_abs()).ok_or(err)?
    };
    if start > size || len > size - start {
        return Err(err);
    }
    Ok(start)
}

/// Iterator over the memory pieces of a global range; see [`Layout::pieces`].
pub struct Pieces<'a> {
    extents: &'a [Extent],
    pos: u64,
    end: u64,
}

impl Iterator for Pieces<'_> {
    type Item = (u64, usize);

    fn next(&mut self) -> Option<(u64, usize)> {
        if self.pos >= self.end {
            return None;
        }
        let (e, rest) = self.extents.split_first()?;
        let take = self.end.min(e.end) - self.pos;
        let addr = e.addr + (self.pos - e.start);
        self.pos += take;
        if self.pos == e.end {
            self.extents = rest;
        }
        Some((addr, take as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;

    fn params() -> LayoutParams {
        LayoutParams {
            page: 4096,
            huge: 2 * MIB,
            pack_below: 64 * KIB,
            max_mappings: 1000,
            max_packed_bytes: 1 << 30,
        }
    }

    /// Every global offset resolves to the address that the slots say, and
    /// pieces are consistent with the slots.
    fn check(layout: &Layout) {
        for slot in layout.slots() {
            for off in [0, slot.len / 2, slot.len.saturating_sub(1)] {
                if off >= slot.len {
                    continue;
                }
                let g = slot.start + off;
                let (addr, _) = layout.pieces(g, 1).next().unwrap();
                assert_eq!(addr, slot.addr + off, "offset {g}");
            }
        }
        let total: usize = layout.pieces(0, layout.size()).map(|(_, l)| l).sum();
        assert_eq!(total as u64, layout.size());
        assert!(
            layout.span()
                >= layout
                    .slots()
                    .iter()
                    .map(|s| s.addr + s.len)
                    .max()
                    .unwrap_or(0)
        );
    }

    #[test]
    fn page_multiples_are_contiguous() {
        let l = Layout::plan(&[4 * MIB, 64 * KIB, 12 * KIB, 3 * MIB + 17], &params()).unwrap();
        // 12 KiB is packed; it sits right after the mapped files, and the
        // last (unaligned) file still starts on a page boundary.
        assert!(l.is_contiguous(), "{l:?}");
        check(&l);
    }

    #[test]
    fn unaligned_file_gets_its_own_slot() {
        let l = Layout::plan(&[4097 + 64 * KIB, 3 * MIB], &params()).unwrap();
        assert_eq!(l.extents().len(), 2);
        assert_eq!(l.slots()[1].addr % (2 * MIB), 0);
        check(&l);
        // A read across the boundary is two pieces.
        let pieces: Vec<_> = l.pieces(4097 + 64 * KIB - 1, 2).collect();
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[1], (2 * MIB, 1));
    }

    #[test]
    fn small_files_pack_contiguously() {
        let lens: Vec<u64> = (0..10_000).map(|i| (i % 7) * 100 + 1).collect();
        let l = Layout::plan(&lens, &params()).unwrap();
        assert!(l.is_contiguous());
        assert_eq!(l.mappings(), 1);
        check(&l);
    }

    #[test]
    fn packed_after_unaligned_mapping_starts_on_next_page() {
        let l = Layout::plan(&[100 * KIB + 1, 10, 20], &params()).unwrap();
        assert_eq!(l.slots()[1].addr, 104 * KIB);
        assert_eq!(l.slots()[2].addr, 104 * KIB + 10);
        assert_eq!(l.extents().len(), 2);
        check(&l);
    }

    #[test]
    fn empty_files_take_no_space() {
        let l = Layout::plan(&[0, 5, 0, 0, 7, 0], &params()).unwrap();
        assert_eq!(l.size(), 12);
        assert!(l.is_contiguous());
        assert_eq!(l.slots()[4].start, 5);
        check(&l);
        let l = Layout::plan(&[0, 0], &params()).unwrap();
        assert_eq!((l.size(), l.span(), l.extents().len()), (0, 0, 0));
    }

    #[test]
    fn mapping_budget_packs_smallest_large_files() {
        let mut p = params();
        p.max_mappings = 10;
        let lens: Vec<u64> = (0..40).map(|i| 64 * KIB + 1 + i * 4096).collect();
        let l = Layout::plan(&lens, &p).unwrap();
        assert!(l.mappings() <= 10, "{}", l.mappings());
        check(&l);
        p.max_packed_bytes = 0;
        assert!(matches!(
            Layout::plan(&lens, &p),
            Err(LayoutError::TooManyMappings { .. })
        ));
    }

    /// A file mapping covers its last page whole: slots on the next page
    /// leave no gap, so 100 unaligned files need 100 mappings, not 200.
    #[test]
    fn unaligned_files_need_one_mapping_each() {
        let lens = vec![64 * KIB + 1; 100];
        let l = Layout::plan(&lens, &params()).unwrap();
        assert_eq!(l.mappings(), 100);
        check(&l);
    }

    #[test]
    fn files_over_4_gib() {
        let l = Layout::plan(&[5 << 30, 1, (4 << 30) + 3], &params()).unwrap();
        assert_eq!(l.size(), (9 << 30) + 4);
        check(&l);
        assert_eq!(l.resolve(-1, 1).unwrap(), (9 << 30) + 3);
    }

    #[test]
    fn resolve_edges() {
        assert_eq!(resolve(10, 0, 10), Ok(0));
        assert_eq!(resolve(10, -1, 1), Ok(9));
        assert_eq!(resolve(10, -10, 10), Ok(0));
        assert_eq!(resolve(10, 10, 0), Ok(10));
        assert!(resolve(10, 10, 1).is_err());
        assert!(resolve(10, 11, 0).is_err());
        assert!(resolve(10, -11, 0).is_err());
        assert!(resolve(10, -1, 2).is_err());
        assert!(resolve(10, i64::MIN, 0).is_err());
        assert!(resolve(10, i64::MAX, 0).is_err());
        assert!(resolve(10, 0, u64::MAX).is_err());
        assert!(resolve(u64::MAX, i64::MAX, u64::MAX).is_err());
        assert_eq!(resolve(0, 0, 0), Ok(0));
        assert!(resolve(0, -1, 0).is_err());
    }
}
