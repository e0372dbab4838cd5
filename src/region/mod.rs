//! The region: many files mapped into one range of memory, addressed by global
//! offsets, with the segment table that says which bytes belong to which file.
//!
//! A [`Region`] owns the mappings of a run and is the only way to touch them.
//! It offers bounds-checked, byte-exact reads and writes at global offsets
//! (negative ones count from the end); an access that crosses file boundaries
//! costs one `memcpy` per contiguous extent it touches (see [`layout`] for why
//! a region is not always one contiguous range, and when it is).
//!
//! Three ways to open one, by where writes go:
//! - [`Region::open`] with [`Access::ReadOnly`]: files mapped shared and
//!   read-only; `write` fails.
//! - [`Region::open`] with [`Access::InPlace`]: files mapped shared and
//!   writable; writes reach the page cache at once and [`Region::flush`]
//!   makes them durable. Small packed files are written back by `flush`.
//! - [`Region::over_copy`]: the inputs are copied (`copy_file_range`, which
//!   the kernel may do without moving bytes) into one target file that is
//!   mapped whole, so the region is contiguous and the inputs are never
//!   opened for writing. Used for `--output`.
//!
//! File lengths are those seen when the inputs were opened; opening a region
//! refuses a file that has shrunk since (its lost pages would fault). The
//! address ranges of the file mappings are available to the `SIGBUS` handler
//! ([`crate::sigbus`]), which names a file truncated while mapped.

pub mod inputs;
pub mod layout;
mod map;

use std::cell::Cell;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::error::{describe_io, Error, ErrorKind, Result};
pub use inputs::{open_inputs, InputFile};
pub use layout::{Layout, LayoutParams, OutOfRange, Placement};
use map::Reservation;

/// How a region may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads only; writes fail with [`AccessError::ReadOnly`].
    ReadOnly,
    /// Writes go into the input files.
    InPlace,
}

/// One input file's place in the region, as plugins see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The path as the user gave it.
    pub name: String,
    /// Global offset of the file's first byte.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
}

/// Why a region access failed. Returned to plugins, never a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessError {
    /// The range lies outside the region.
    OutOfRange(OutOfRange),
    /// The region is read-only.
    ReadOnly,
    /// A read asked for more than the per-call limit.
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// `locate` named a segment that does not exist.
    NoSuchSegment {
        /// The number of segments.
        count: u32,
    },
}

impl std::fmt::Display for AccessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccessError::OutOfRange(r) => r.fmt(f),
            AccessError::ReadOnly => f.write_str("the region is read-only"),
            AccessError::TooLarge { limit } => {
                write!(f, "a single read may return at most {limit} bytes")
            }
            AccessError::NoSuchSegment { count } => {
                write!(f, "no such segment (there are {count})")
            }
        }
    }
}

/// The most bytes one `read` may return (64 MiB): a bound on what a plugin can
/// make the host allocate in one call.
pub const MAX_READ: u64 = 64 << 20;

/// Counters of what a run did to the region.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes returned by reads.
    pub bytes_read: u64,
    /// Bytes written.
    pub bytes_written: u64,
}

/// Where the bytes of a region live.
#[derive(Debug)]
enum Backing {
    /// The input files themselves (read-only or in place).
    Inputs,
    /// One target file holding a copy of the concatenation, and the path it
    /// is for (the output the user named).
    Copy(File, std::path::PathBuf),
}

/// Input files mapped into one region. See the module docs.
#[derive(Debug)]
pub struct Region {
    inputs: Vec<InputFile>,
    segments: Vec<Segment>,
    layout: Layout,
    mem: Option<Reservation>,
    backing: Backing,
    writable: bool,
    /// Per input: written since the last flush.
    dirty: Vec<Cell<bool>>,
    stats: Cell<Stats>,
}

fn segments_of(inputs: &[InputFile]) -> Vec<Segment> {
    let mut start = 0;
    inputs
        .iter()
        .map(|f| {
            let s = Segment {
                name: f.path.display().to_string(),
                start,
                len: f.len,
            };
            start += f.len;
            s
        })
        .collect()
}

fn map_error(what: &Path, e: io::Error) -> Error {
    Error::input(what, format!("cannot map: {}", describe_io(&e)))
}

/// The error for an input that is shorter than when it was opened.
fn shrank(f: &InputFile, now: Option<u64>) -> Error {
    let now = now.map(|n| format!(", now {n}")).unwrap_or_default();
    Error::input(
        &f.path,
        format!(
            "changed size since it was opened (was {} bytes{now}): another process is \
             truncating it; nothing was run",
            f.len
        ),
    )
}

/// Reads `dst.len()` bytes from the start of `f`, reporting a file that
/// shrank since it was opened as such.
fn read_input_start(f: &InputFile, dst: &mut [u8]) -> Result<()> {
    f.read_start(dst).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => {
            shrank(f, f.file().and_then(|h| h.metadata().ok()).map(|m| m.len()))
        }
        _ => Error::input(&f.path, describe_io(&e)),
    })
}

impl Region {
    /// Maps validated `inputs` (from [`open_inputs`], opened writable if
    /// `access` is [`Access::InPlace`]) into one region.
    pub fn open(inputs: Vec<InputFile>, access: Access) -> Result<Region> {
        Self::open_with(inputs, access, &LayoutParams::for_this_machine())
    }

    /// [`Region::open`] with explicit layout parameters (for tests).
    pub fn open_with(
        inputs: Vec<InputFile>,
        access: Access,
        params: &LayoutParams,
    ) -> Result<Region> {
        let lens: Vec<u64> = inputs.iter().map(|f| f.len).collect();
        let layout = Layout::plan(&lens, params)
            .map_err(|e| Error::new(ErrorKind::Input, format!("input files: {e}")))?;
        let writable = access == Access::InPlace;
        let mem = if layout.span() == 0 {
            None
        } else {
            let span = usize::try_from(layout.span())
                .map_err(|_| Error::new(ErrorKind::Input, "input files: too large to map"))?;
            let res = Reservation::new(span).map_err(|e| {
                Error::new(
                    ErrorKind::Input,
                    format!("input files: cannot reserve {span} bytes of address space: {e}"),
                )
            })?;
            Self::place(&res, &inputs, &layout, params.page, writable)?;
            // Sizes were fixed when the files were opened. One that grew since
            // is mapped at its opened length (the rest is not part of the
            // run); one that shrank would fault on its lost pages, so it is
            // refused here, before the plugin runs.
            for f in &inputs {
                if let Some(file) = f.file() {
                    let now = file
                        .metadata()
                        .map_err(|e| Error::input(&f.path, describe_io(&e)))?
                        .len();
                    if now < f.len {
                        return Err(shrank(f, Some(now)));
                    }
                }
            }
            Some(res)
        };
        Ok(Region {
            dirty: inputs.iter().map(|_| Cell::new(false)).collect(),
            segments: segments_of(&inputs),
            inputs,
            layout,
            mem,
            backing: Backing::Inputs,
            writable,
            stats: Cell::new(Stats::default()),
        })
    }

    /// Maps or copies every file to its slot.
    fn place(
        res: &Reservation,
        inputs: &[InputFile],
        layout: &Layout,
        page: u64,
        writable: bool,
    ) -> Result<()> {
        let slots = layout.slots();
        // Packed files come in runs of neighbours; each run gets one
        // anonymous mapping covering its pages.
        let mut i = 0;
        while i < slots.len() {
            let slot = slots[i];
            match slot.placement {
                Placement::Empty => i += 1,
                Placement::Mapped => {
                    let f = &inputs[i];
                    let file = f.file().ok_or_else(|| {
                        map_error(&f.path, io::Error::other("file was closed after reading"))
                    })?;
                    res.map_file(slot.addr, slot.len as usize, file, writable)
                        .map_err(|e| map_error(&f.path, e))?;
                    i += 1;
                }
                Placement::Packed => {
                    let mut j = i;
                    let mut end = slot.addr;
                    while j < slots.len()
                        && matches!(slots[j].placement, Placement::Packed | Placement::Empty)
                        && (slots[j].placement == Placement::Empty || slots[j].addr == end)
                    {
                        end = slots[j].addr + slots[j].len;
                        j += 1;
                    }
                    let first = slot.addr / page * page;
                    let len = (end.div_ceil(page) * page - first) as usize;
                    res.map_anonymous(first, len)
                        .map_err(|e| map_error(&inputs[i].path, e))?;
                    for k in i..j {
                        let s = slots[k];
                        if s.len == 0 {
                            continue;
                        }
                        // SAFETY: the slot lies in the anonymous run just
                        // mapped read-write; nothing else refers to it yet.
                        let dst = unsafe {
                            std::slice::from_raw_parts_mut(res.ptr(s.addr), s.len as usize)
                        };
                        read_input_start(&inputs[k], dst)?;
                    }
                    if !writable {
                        res.protect_read_only(first, len)
                            .map_err(|e| map_error(&inputs[i].path, e))?;
                    }
                    i = j;
                }
            }
        }
        Ok(())
    }

    /// Copies the concatenation of `inputs` into `target` (truncated first)
    /// and maps it whole and writable: a contiguous region whose writes touch
    /// only `target`. The segment table still names the inputs.
    pub fn over_copy(inputs: Vec<InputFile>, target: File, target_path: &Path) -> Result<Region> {
        let out_err = |e: io::Error| Error::output(target_path, describe_io(&e));
        target.set_len(0).map_err(out_err)?;
        let mut pos = 0u64;
        for f in &inputs {
            let copied = match f.file() {
                Some(file) => copy_range(file, &target, pos, f.len),
                None => {
                    let mut bytes = vec![0u8; f.len as usize];
                    read_input_start(f, &mut bytes)?;
                    target.write_all_at(&bytes, pos)
                }
            };
            copied.map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => {
                    shrank(f, f.file().and_then(|h| h.metadata().ok()).map(|m| m.len()))
                }
                _ => Error::output(
                    target_path,
                    format!("copying {}: {}", f.path.display(), describe_io(&e)),
                ),
            })?;
            pos += f.len;
        }
        let page = rustix::param::page_size() as u64;
        let layout = Layout::contiguous(pos, page);
        let mem = if pos == 0 {
            None
        } else {
            let span = usize::try_from(layout.span())
                .map_err(|_| Error::output(target_path, "too large to map"))?;
            let res = Reservation::new(span).map_err(out_err)?;
            res.map_file(0, pos as usize, &target, true)
                .map_err(out_err)?;
            Some(res)
        };
        Ok(Region {
            dirty: inputs.iter().map(|_| Cell::new(false)).collect(),
            segments: segments_of(&inputs),
            inputs,
            layout,
            mem,
            backing: Backing::Copy(target, target_path.to_path_buf()),
            writable: true,
            stats: Cell::new(Stats::default()),
        })
    }

    /// Total size in bytes.
    pub fn size(&self) -> u64 {
        self.layout.size()
    }

    /// The segment table: one entry per input file, in order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The placement of the files and the extent table.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Whether writes are allowed.
    pub fn writable(&self) -> bool {
        self.writable
    }

    /// What reads and writes have done so far.
    pub fn stats(&self) -> Stats {
        self.stats.get()
    }

    /// The input files, in order.
    pub fn inputs(&self) -> &[InputFile] {
        &self.inputs
    }

    /// For a region over a copy ([`Region::over_copy`]), the output path the
    /// copy is for.
    pub fn copy_target(&self) -> Option<&Path> {
        match &self.backing {
            Backing::Copy(_, path) => Some(path),
            Backing::Inputs => None,
        }
    }

    /// The file mappings of the region as address ranges of this process
    /// (whole pages), with the path of the file each maps: what the `SIGBUS`
    /// handler needs to name a file truncated under the run.
    pub(crate) fn file_mappings(&self) -> Vec<(usize, usize, &Path)> {
        let Some(mem) = &self.mem else {
            return Vec::new();
        };
        let page = rustix::param::page_size() as u64;
        let range = |addr: u64, len: u64| {
            let start = mem.ptr(addr) as usize;
            (start, start + len.div_ceil(page) as usize * page as usize)
        };
        match &self.backing {
            Backing::Copy(_, path) => {
                let (start, end) = range(0, self.size());
                vec![(start, end, path.as_path())]
            }
            Backing::Inputs => self
                .layout
                .slots()
                .iter()
                .zip(&self.inputs)
                .filter(|(slot, _)| slot.placement == Placement::Mapped)
                .map(|(slot, f)| {
                    let (start, end) = range(slot.addr, slot.len);
                    (start, end, f.path.as_path())
                })
                .collect(),
        }
    }

    /// Which inputs were written to (for reports).
    pub fn written_inputs(&self) -> Vec<usize> {
        (0..self.dirty.len())
            .filter(|&i| self.dirty[i].get())
            .collect()
    }

    /// Resolves `at` (negative from the end) for an access of `len` bytes.
    pub fn resolve(&self, at: i64, len: u64) -> Result<u64, AccessError> {
        self.layout
            .resolve(at, len)
            .map_err(AccessError::OutOfRange)
    }

    /// The global offset of byte `delta` of segment `segment` (negative deltas
    /// reach into earlier files); valid results are `0..=size`.
    pub fn locate(&self, segment: u32, delta: i64) -> Result<u64, AccessError> {
        let seg = self
            .segments
            .get(segment as usize)
            .ok_or(AccessError::NoSuchSegment {
                count: self.segments.len() as u32,
            })?;
        let out = AccessError::OutOfRange(OutOfRange {
            at: delta,
            len: 0,
            size: self.size(),
        });
        let global = i128::from(seg.start) + i128::from(delta);
        if global < 0 || global > i128::from(self.size()) {
            return Err(out);
        }
        Ok(global as u64)
    }

    /// Reads `len` bytes at `at` (negative from the end) into a new vector.
    pub fn read(&self, at: i64, len: u64) -> Result<Vec<u8>, AccessError> {
        let start = self.resolve(at, len)?;
        if len > MAX_READ {
            return Err(AccessError::TooLarge { limit: MAX_READ });
        }
        let mut buf = vec![0u8; len as usize];
        self.read_into(start, &mut buf);
        Ok(buf)
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
        if let Some(mem) = &self.mem {
            let mut done = 0;
            for (addr, n) in self.layout.pieces(start, buf.len() as u64) {
                // SAFETY: `pieces` yields ranges inside extents, which are
                // mapped readable for the life of the reservation; `buf` is
                // host or guest memory outside it.
                unsafe { mem.read(addr, &mut buf[done..done + n]) };
                done += n;
            }
        }
        let mut s = self.stats.get();
        s.bytes_read += buf.len() as u64;
        self.stats.set(s);
    }

    /// Writes `data` at `at` (negative from the end).
    pub fn write(&self, at: i64, data: &[u8]) -> Result<(), AccessError> {
        if !self.writable {
            return Err(AccessError::ReadOnly);
        }
        let start = self.resolve(at, data.len() as u64)?;
        self.write_at(start, data);
        Ok(())
    }

    /// Copies `data` to global offset `start` of a writable region.
    fn write_at(&self, start: u64, data: &[u8]) {
        let Some(mem) = &self.mem else { return };
        let mut done = 0;
        for (addr, n) in self.layout.pieces(start, data.len() as u64) {
            // SAFETY: the region is writable, so every extent is mapped
            // read-write; the range was bounds-checked by `resolve`; `data`
            // lies outside the reservation and no slice into it is alive
            // (the region hands out only copies).
            unsafe { mem.write(addr, &data[done..done + n]) };
            done += n;
        }
        // Mark the files touched.
        let end = start + data.len() as u64;
        let first = self.segments.partition_point(|s| s.start + s.len <= start);
        for (seg, dirty) in self.segments[first..].iter().zip(&self.dirty[first..]) {
            if seg.start >= end {
                break;
            }
            if seg.len > 0 {
                dirty.set(true);
            }
        }
        let mut s = self.stats.get();
        s.bytes_written += data.len() as u64;
        self.stats.set(s);
    }

    /// Makes every write so far durable: syncs written mappings and writes
    /// packed files back to their files, then `fsync`s them.
    pub fn flush(&self) -> Result<()> {
        let Some(mem) = &self.mem else {
            return Ok(());
        };
        match &self.backing {
            Backing::Copy(target, _) => {
                if self.dirty.iter().any(Cell::get) {
                    mem.sync(0, self.size() as usize)
                        .map_err(|e| Error::new(ErrorKind::Output, format!("msync: {e}")))?;
                }
                target
                    .sync_all()
                    .map_err(|e| Error::new(ErrorKind::Output, format!("fsync: {e}")))?;
            }
            Backing::Inputs => {
                for (i, slot) in self.layout.slots().iter().enumerate() {
                    if !self.dirty[i].get() {
                        continue;
                    }
                    let f = &self.inputs[i];
                    let fail = |e: io::Error| Error::output(&f.path, describe_io(&e));
                    // Writable regions keep every input open (see open_inputs).
                    let file = f
                        .file()
                        .ok_or_else(|| fail(io::Error::other("file is not open for writing")))?;
                    match slot.placement {
                        Placement::Empty => {}
                        Placement::Mapped => {
                            mem.sync(slot.addr, slot.len as usize).map_err(fail)?
                        }
                        Placement::Packed => {
                            // SAFETY: the slot is mapped (anonymous) memory of
                            // this region, and nothing writes it during the
                            // copy (`flush` runs after the plugin).
                            let bytes = unsafe { mem.slice(slot.addr, slot.len as usize) };
                            file.write_all_at(bytes, 0).map_err(fail)?;
                        }
                    }
                    file.sync_data().map_err(fail)?;
                }
            }
        }
        Ok(())
    }

    /// The bytes of the whole region, for tests and small regions: one copy.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.size() as usize];
        self.read_into(0, &mut v);
        v
    }
}

/// Copies `len` bytes from the start of `src` to `dst` at `at`, in the kernel
/// where it can (`copy_file_range`, a reflink on file systems that share
/// extents), through a buffer where it cannot (across some file systems).
fn copy_range(src: &File, dst: &File, at: u64, len: u64) -> io::Result<()> {
    let mut off_in = 0u64;
    let mut off_out = at;
    while off_in < len {
        let want = (len - off_in).min(1 << 30) as usize;
        match rustix::fs::copy_file_range(src, Some(&mut off_in), dst, Some(&mut off_out), want) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file shrank while being copied",
                ))
            }
            Ok(_) => {}
            Err(e)
                if off_in == 0
                    && matches!(
                        e,
                        rustix::io::Errno::XDEV
                            | rustix::io::Errno::NOSYS
                            | rustix::io::Errno::INVAL
                            | rustix::io::Errno::OPNOTSUPP
                    ) =>
            {
                return copy_buffered(src, dst, at, len);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn copy_buffered(src: &File, dst: &File, at: u64, len: u64) -> io::Result<()> {
    let mut buf = vec![0u8; (1 << 20).min(len as usize)];
    let mut done = 0u64;
    while done < len {
        let n = buf.len().min((len - done) as usize);
        src.read_exact_at(&mut buf[..n], done)?;
        dst.write_all_at(&buf[..n], at + done)?;
        done += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A small deterministic generator (xorshift64*), so failures reproduce.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            if n == 0 {
                0
            } else {
                self.next() % n
            }
        }
    }

    fn make_files(dir: &Path, lens: &[u64], rng: &mut Rng) -> (Vec<PathBuf>, Vec<Vec<u8>>) {
        let mut paths = Vec::new();
        let mut contents = Vec::new();
        for (i, &len) in lens.iter().enumerate() {
            let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let p = dir.join(format!("f{i}"));
            std::fs::File::create(&p).unwrap().write_all(&data).unwrap();
            paths.push(p);
            contents.push(data);
        }
        (paths, contents)
    }

    use std::path::PathBuf;

    /// Random file sets, random reads and writes, always checked against a
    /// plain in-memory concatenation; then the files themselves are checked
    /// after a flush.
    #[test]
    fn random_access_matches_concatenation() {
        let page = rustix::param::page_size() as u64;
        let interesting = [
            0,
            1,
            page - 1,
            page,
            page + 1,
            (64 << 10) - 1,
            64 << 10,
            (64 << 10) + 1,
            (2 << 20) - 1,
            (2 << 20) + 1,
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..12 {
            let dir = tempfile::tempdir().unwrap();
            let n = 1 + rng.below(6) as usize;
            let lens: Vec<u64> = (0..n)
                .map(|_| {
                    if rng.below(3) == 0 {
                        rng.below(100_000)
                    } else {
                        interesting[rng.below(interesting.len() as u64) as usize]
                    }
                })
                .collect();
            let (paths, contents) = make_files(dir.path(), &lens, &mut rng);
            let mut model: Vec<u8> = contents.concat();
            let inputs = open_inputs(&paths, true).unwrap();
            let region = Region::open(inputs, Access::InPlace).unwrap();
            assert_eq!(region.size(), model.len() as u64, "round {round} {lens:?}");
            assert_eq!(region.to_vec(), model, "round {round} {lens:?}");
            let size = model.len() as u64;
            for _ in 0..300 {
                let start = rng.below(size + 1);
                let len = rng.below(size - start + 1).min(1 << 20);
                let at = if rng.below(2) == 0 {
                    start as i64
                } else {
                    start as i64 - size as i64
                };
                if at < 0 || start < size {
                    if rng.below(2) == 0 {
                        let got = region.read(at, len).unwrap();
                        assert_eq!(got, &model[start as usize..(start + len) as usize]);
                    } else {
                        let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                        region.write(at, &data).unwrap();
                        model[start as usize..(start + len) as usize].copy_from_slice(&data);
                    }
                }
                // Out of range: never a crash, always an error.
                assert!(region.read(size as i64, 1).is_err());
                assert!(region.read(-(size as i64) - 1, 1).is_err());
            }
            assert_eq!(region.to_vec(), model);
            region.flush().unwrap();
            drop(region);
            let mut pos = 0;
            for (p, &len) in paths.iter().zip(&lens) {
                let on_disk = std::fs::read(p).unwrap();
                assert_eq!(
                    on_disk,
                    &model[pos..pos + len as usize],
                    "round {round} {p:?}"
                );
                pos += len as usize;
            }
        }
    }

    #[test]
    fn read_only_region_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        let (paths, contents) = make_files(dir.path(), &[10, 5000], &mut Rng(7));
        let region = Region::open(open_inputs(&paths, false).unwrap(), Access::ReadOnly).unwrap();
        assert_eq!(region.write(0, b"x"), Err(AccessError::ReadOnly));
        assert_eq!(region.to_vec(), contents.concat());
        assert_eq!(region.read(-1, 1).unwrap(), vec![contents[1][4999]]);
        // Bounds are checked first: a huge read of a small region is out of
        // range rather than too large.
        assert!(matches!(
            region.read(0, MAX_READ + 1),
            Err(AccessError::OutOfRange(_))
        ));
    }

    #[test]
    fn locate_reaches_back_into_earlier_files() {
        let dir = tempfile::tempdir().unwrap();
        let (paths, _) = make_files(dir.path(), &[10, 0, 7], &mut Rng(3));
        let region = Region::open(open_inputs(&paths, false).unwrap(), Access::ReadOnly).unwrap();
        assert_eq!(region.locate(2, 0), Ok(10));
        assert_eq!(region.locate(2, -3), Ok(7));
        assert_eq!(region.locate(2, 7), Ok(17));
        assert_eq!(region.locate(1, 0), Ok(10));
        assert!(region.locate(2, 8).is_err());
        assert!(region.locate(0, -1).is_err());
        assert!(region.locate(0, i64::MIN).is_err());
        assert_eq!(
            region.locate(3, 0),
            Err(AccessError::NoSuchSegment { count: 3 })
        );
    }

    /// Sizes are fixed when the files are opened: a file that grows before
    /// it is mapped is seen (and written) at its opened length only, and the
    /// bytes appended are left alone.
    #[test]
    fn file_grown_after_opening_is_mapped_at_its_opened_length() {
        let dir = tempfile::tempdir().unwrap();
        // Mapped (100 KiB) and packed (10 bytes) files, both writable.
        let (paths, contents) = make_files(dir.path(), &[100 << 10, 10], &mut Rng(21));
        let inputs = open_inputs(&paths, true).unwrap();
        for p in &paths {
            let mut f = std::fs::OpenOptions::new().append(true).open(p).unwrap();
            f.write_all(b"APPENDED").unwrap();
        }
        let region = Region::open(inputs, Access::InPlace).unwrap();
        assert_eq!(region.size(), (100 << 10) + 10);
        assert_eq!(region.to_vec(), contents.concat());
        let ones = vec![1u8; region.size() as usize];
        region.write(0, &ones).unwrap();
        region.flush().unwrap();
        drop(region);
        for (p, c) in paths.iter().zip(&contents) {
            let now = std::fs::read(p).unwrap();
            assert_eq!(now.len(), c.len() + 8, "{p:?}");
            assert!(now[..c.len()].iter().all(|&b| b == 1), "{p:?}");
            assert_eq!(&now[c.len()..], b"APPENDED", "{p:?}");
        }
    }

    /// A file that shrinks between the check and the mapping would fault on
    /// its lost pages: it is refused with an input error naming it.
    #[test]
    fn file_shrunk_after_opening_is_refused_before_the_run() {
        for (writable, len) in [(false, 100 << 10), (true, 100 << 10), (true, 10)] {
            let dir = tempfile::tempdir().unwrap();
            let (paths, _) = make_files(dir.path(), &[5, len], &mut Rng(22));
            let inputs = open_inputs(&paths, writable).unwrap();
            std::fs::OpenOptions::new()
                .write(true)
                .open(&paths[1])
                .unwrap()
                .set_len(len / 2)
                .unwrap();
            let access = if writable {
                Access::InPlace
            } else {
                Access::ReadOnly
            };
            let err = Region::open(inputs, access).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Input);
            let msg = err.message();
            assert!(
                msg.starts_with(&format!(
                    "{}: changed size since it was opened",
                    paths[1].display()
                )),
                "{msg}"
            );
            assert!(
                msg.contains(&format!("was {len} bytes, now {}", len / 2)),
                "{msg}"
            );
        }
        // Through --output, the copy notices it too.
        let dir = tempfile::tempdir().unwrap();
        let (paths, _) = make_files(dir.path(), &[100 << 10], &mut Rng(23));
        let inputs = open_inputs(&paths, false).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&paths[0])
            .unwrap()
            .set_len(10)
            .unwrap();
        let out = dir.path().join("out");
        let target = std::fs::File::create(&out).unwrap();
        let err = Region::over_copy(inputs, target, &out).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Input);
        assert!(
            err.message().contains("changed size since it was opened"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn many_small_files_use_one_mapping() {
        let dir = tempfile::tempdir().unwrap();
        let lens: Vec<u64> = (0..3000).map(|i| i % 50).collect();
        let (paths, contents) = make_files(dir.path(), &lens, &mut Rng(11));
        let region = Region::open(open_inputs(&paths, false).unwrap(), Access::ReadOnly).unwrap();
        assert_eq!(region.layout().mappings(), 1);
        assert_eq!(region.to_vec(), contents.concat());
    }
}
