//! Opening a region: planning the layout, reserving address space, and
//! placing every input in its slot (mapped, or packed into the packing
//! file), plus the shadow that writable regions write through. See the
//! parent module's docs for the packing file and the descriptors it keeps.

use std::fs::File;
use std::io;
use std::marker::PhantomData;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Mutex, OnceLock};

use super::map::Reservation;
use super::write::Backing;
use super::written::Written;
use super::{inputs, Access, FileRef, InputFile, Layout, LayoutParams, Placement, Region, Segment};
use crate::error::{describe_io, Error, ErrorKind, Result};

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

pub(super) fn map_error(what: &Path, e: io::Error) -> Error {
    Error::input(what, format!("cannot map: {}", describe_io(&e)))
}

/// Packed bytes that may go to anonymous memory when no packing file can be
/// made (see [`Pack`]).
const ANON_PACK_LIMIT: u64 = 1 << 30;

/// Where packed files are copied: see the module docs.
enum Pack {
    /// An unnamed temporary file laid out like the reservation (byte `a` of
    /// the file is byte `a` of the reservation), sparse where nothing is
    /// packed, and the directory it is in (for messages).
    File(File, std::path::PathBuf),
    /// Anonymous memory: no packing file could be made.
    Anonymous,
}

impl Pack {
    /// A packing file of `span` bytes in the temporary directory, or
    /// anonymous memory if none can be made and `bytes` is small enough.
    fn new(span: u64, bytes: u64) -> Result<Pack> {
        let dir = std::env::temp_dir();
        let made = inputs::unnamed_temp_file(&dir).and_then(|f| f.set_len(span).map(|()| f));
        match made {
            Ok(f) => Ok(Pack::File(f, dir)),
            Err(_) if bytes <= ANON_PACK_LIMIT => Ok(Pack::Anonymous),
            Err(e) => Err(Error::new(
                ErrorKind::Input,
                format!(
                    "input files: cannot create a temporary file in {} to pack {bytes} bytes of \
                     files into: {} (set TMPDIR to a writable directory)",
                    dir.display(),
                    describe_io(&e)
                ),
            )),
        }
    }
}

/// Copies input `f` into the packing file at `at` (hole-aware: a sparse
/// input stays sparse); the descriptor is closed after, unless held.
fn pack_into_file(f: &InputFile, pack: &File, dir: &Path, at: u64) -> Result<()> {
    let src = f.open_checked()?;
    let copied = if f.len < inputs::SMALL_FILE {
        // Small files are rarely sparse: one `copy_file_range`, without the
        // hole probing and checks of `copy_range` (100,000 files: 1 s less).
        crate::filecopy::copy_data(&src, pack, 0, at, f.len)
    } else {
        crate::filecopy::copy_range(&src, pack, at, f.len)
    };
    copied.map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => f.shrank(src.metadata().ok().map(|m| m.len())),
        _ => Error::input(
            &f.path,
            format!(
                "cannot copy it into the packing file in {}: {} (set TMPDIR to a directory \
                 with more room)",
                dir.display(),
                describe_io(&e)
            ),
        ),
    })
}

/// Reads input `f` straight into its slot `dst` (anonymous packing).
fn read_into_slot(f: &InputFile, dst: &mut [u8]) -> Result<()> {
    let src = f.open_checked()?;
    src.read_exact_at(dst, 0).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => f.shrank(src.metadata().ok().map(|m| m.len())),
        _ => Error::input(&f.path, describe_io(&e)),
    })
}

impl Region {
    /// Maps validated `inputs` (from [`open_inputs`](super::open_inputs)) into one region.
    pub fn open(inputs: Vec<InputFile>, access: Access) -> Result<Region> {
        Self::open_with(inputs, access, &LayoutParams::for_this_machine())
    }

    /// [`Region::open`] with explicit layout parameters (for tests).
    pub fn open_with(
        mut inputs: Vec<InputFile>,
        access: Access,
        params: &LayoutParams,
    ) -> Result<Region> {
        let lens: Vec<u64> = inputs.iter().map(|f| f.len).collect();
        let layout = Layout::plan(&lens, params)
            .map_err(|e| Error::new(ErrorKind::Input, format!("input files: {e}")))?;
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
            // Writable regions keep their mapped inputs open: the commit
            // copies the ranges never written from them (hole-aware).
            let writable = !matches!(access, Access::ReadOnly);
            Self::place(&res, &mut inputs, &layout, params.page, writable)?;
            Some(res)
        };
        let part = matches!(access, Access::OutputPart(..));
        let backing = match access {
            Access::ReadOnly => Backing::ReadOnly,
            Access::CopyOnWrite(stage) => Backing::CopyOnWrite {
                stage: Mutex::new(stage),
                shadow: Self::shadow(layout.span(), |m| {
                    Error::new(ErrorKind::Input, format!("input files: {m}"))
                })?,
                copies: inputs.iter().map(|_| OnceLock::new()).collect(),
                write_locks: inputs.iter().map(|_| Mutex::new(())).collect(),
            },
            Access::Output(target, path) | Access::OutputPart(target, path) => {
                let out_err = |e: io::Error| Error::output(&path, describe_io(&e));
                if part {
                    // Other processes fill the rest of it: never emptied.
                    let len = target.metadata().map_err(out_err)?.len();
                    if len != layout.size() {
                        return Err(Error::output(
                            &path,
                            format!(
                                "the staged output is {len} bytes, not the region's {}",
                                layout.size()
                            ),
                        ));
                    }
                } else {
                    // A new file of the region's size, all holes: writes fill
                    // it, the commit copies in the rest.
                    target.set_len(0).map_err(out_err)?;
                    target.set_len(layout.size()).map_err(out_err)?;
                }
                let page = rustix::param::page_size() as u64;
                let shadow = Self::shadow(layout.size().next_multiple_of(page), |m| {
                    Error::output(&path, m)
                })?;
                if let Some(shadow) = &shadow {
                    shadow
                        .map_file(0, layout.size() as usize, &target)
                        .map_err(out_err)?;
                }
                Backing::Output {
                    target,
                    path,
                    shadow,
                    write_lock: Mutex::new(()),
                }
            }
        };
        Ok(Region {
            dirty: inputs.iter().map(|_| AtomicBool::new(false)).collect(),
            segments: segments_of(&inputs),
            inputs,
            layout,
            mem,
            backing,
            bytes_read: AtomicU64::new(0),
            bytes_written: AtomicU64::new(0),
            bytes_scanned: AtomicU64::new(0),
            written: Written::new(),
            unflushed: AtomicU64::new(0),
            _one_thread: PhantomData,
        })
    }

    /// A reservation of `span` bytes for a shadow (`None` for 0 bytes).
    fn shadow(span: u64, fail: impl Fn(String) -> Error) -> Result<Option<Reservation>> {
        if span == 0 {
            return Ok(None);
        }
        let len = usize::try_from(span).map_err(|_| fail("too large to map".into()))?;
        Reservation::new(len)
            .map(Some)
            .map_err(|e| fail(format!("cannot reserve {len} bytes of address space: {e}")))
    }

    /// Maps every file to its slot or copies it there (packed files; left
    /// writable if `writable`), except inputs outside the window
    /// (`InputFile::outside_window`), whose slots stay unplaced. Files are
    /// placed one input at a time: each is reopened and checked ([`InputFile::open_checked`]), mapped or copied, and closed
    /// again, except that a region that stages copies (`writable`) keeps its
    /// mapped inputs open, to copy them from. Sizes were fixed when the files
    /// were opened: one that grew since is mapped at its opened length (the
    /// rest is not part of the run); one that shrank would fault on its lost
    /// pages, so it is refused here, before the plugin runs.
    fn place(
        res: &Reservation,
        inputs: &mut [InputFile],
        layout: &Layout,
        page: u64,
        writable: bool,
    ) -> Result<()> {
        let slots = layout.slots();
        let packed_bytes: u64 = slots
            .iter()
            .zip(inputs.iter())
            .filter(|(s, f)| s.placement == Placement::Packed && !f.is_absent())
            .map(|(s, _)| s)
            .map(|s| s.len)
            .sum();
        let pack = if packed_bytes > 0 {
            Some(Pack::new(layout.span(), packed_bytes)?)
        } else {
            None
        };
        // Packed files come in runs of neighbours; each run gets one mapping
        // covering its pages.
        let mut i = 0;
        while i < slots.len() {
            let slot = slots[i];
            match slot.placement {
                Placement::Empty => i += 1,
                // Outside the window: its pages stay reserved `PROT_NONE`.
                Placement::Mapped if inputs[i].is_absent() => i += 1,
                Placement::Mapped => {
                    let f = &inputs[i];
                    let file = f.open_checked()?;
                    res.map_file(slot.addr, slot.len as usize, &file)
                        .map_err(|e| map_error(&f.path, e))?;
                    // Read-only, the mapping keeps the file (and its lock)
                    // alive: the descriptor is closed here.
                    if let (FileRef::Reopened(file), true) = (file, writable) {
                        inputs[i].hold(file);
                    }
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
                    let fail = |e| map_error(&inputs[i].path, e);
                    let run = slots[i..j]
                        .iter()
                        .zip(&inputs[i..j])
                        // Absent inputs (outside the window) stay holes of
                        // the packing file, or zeros.
                        .filter(|(s, f)| s.len > 0 && !f.is_absent());
                    if run.clone().next().is_none() {
                        // Nothing of this run is placed: it stays `PROT_NONE`.
                        i = j;
                        continue;
                    }
                    match pack
                        .as_ref()
                        .expect("a packed slot with an input has a pack")
                    {
                        Pack::File(pack, dir) => {
                            for (s, f) in run {
                                pack_into_file(f, pack, dir, s.addr)?;
                            }
                            res.map_private(first, len, pack, writable).map_err(fail)?;
                        }
                        Pack::Anonymous => {
                            res.map_anonymous(first, len).map_err(fail)?;
                            for (s, f) in run {
                                // SAFETY: the slot lies in the anonymous run
                                // just mapped read-write; nothing else refers
                                // to it yet.
                                let dst = unsafe {
                                    std::slice::from_raw_parts_mut(res.ptr(s.addr), s.len as usize)
                                };
                                read_into_slot(f, dst)?;
                            }
                            if !writable {
                                res.protect_read_only(first, len).map_err(fail)?;
                            }
                        }
                    }
                    i = j;
                }
            }
        }
        Ok(())
    }
}
