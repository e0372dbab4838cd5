//! Making a writable region read the *new* versions of its files: what the
//! `reduce` of a distributed run needs (see [`crate::distributed`]).
//!
//! In a local parallel run, `reduce` runs over the very region the chunks
//! wrote, so it reads their bytes. In a distributed run the chunks ran in
//! other processes, which left complete new versions in the staged files
//! (or the staged output); `reduce` runs in a new process over a region
//! whose writes go to those same files ([`super::Access::OutputPart`], or a
//! [`super::Stage`] that hands out the staged files). [`Region::adopt_new_versions`]
//! then makes every byte of the region read from them, as if this process
//! had written it all, so `reduce` sees what a local run's `reduce` sees,
//! and its own writes land in the new versions too.

use std::os::unix::fs::FileExt;
use std::sync::atomic::Ordering;

use super::write::Backing;
use super::{Placement, Region};
use crate::error::{describe_io, Error, Result};

impl Region {
    /// Reads of the inputs `which` marks (those written: the new version
    /// of any other is its input) now come from their complete new
    /// versions (for an output region, every byte: the output file; else
    /// the staged copy the region's stage hands out), not from the inputs.
    /// Inputs stay marked unwritten: afterwards [`Region::written_inputs`]
    /// names only those written since. Call it before the plugin runs
    /// (nothing may hold a slice of the region).
    ///
    /// # Errors
    /// The stage cannot give a staged copy, or a staged copy of a packed
    /// input cannot be read (exit code 6).
    pub(crate) fn adopt_new_versions(&self, which: &[bool]) -> Result<()> {
        let size = self.size();
        match &self.backing {
            Backing::ReadOnly => Ok(()),
            Backing::Output { .. } => {
                if size > 0 {
                    self.written.record([(0, size)]);
                }
                Ok(())
            }
            Backing::CopyOnWrite { stage, .. } => {
                let Some(mem) = &self.mem else { return Ok(()) };
                for (i, input) in self.inputs.iter().enumerate() {
                    let seg = &self.segments[i];
                    if seg.len == 0 || input.is_absent() || !which.get(i).copied().unwrap_or(false)
                    {
                        continue;
                    }
                    let slot = self.layout.slots()[i];
                    match slot.placement {
                        Placement::Empty => {}
                        Placement::Mapped => {
                            // Maps the staged copy into the shadow; the
                            // whole file then reads from there.
                            self.stage(i)?;
                            self.written.record([(seg.start, seg.start + seg.len)]);
                            self.dirty[i].store(false, Ordering::Release);
                        }
                        Placement::Packed => {
                            // Packed bytes live in private memory: the new
                            // version's bytes are copied there.
                            let file = stage
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .stage(i, input)?;
                            let mut buf = vec![0u8; (1 << 20).min(seg.len as usize)];
                            let mut pos = 0u64;
                            while pos < seg.len {
                                let n = buf.len().min((seg.len - pos) as usize);
                                file.read_exact_at(&mut buf[..n], pos).map_err(|e| {
                                    Error::output(
                                        &input.path,
                                        format!("reading its new version: {}", describe_io(&e)),
                                    )
                                })?;
                                // SAFETY: a packed input of a writable region
                                // lies in a private read-write mapping (or
                                // anonymous memory) at its slot; `[pos, pos +
                                // n)` lies inside the slot; `buf` is a host
                                // buffer outside the reservation; no plugin
                                // runs yet, so no slice of the region is alive.
                                unsafe { mem.write(slot.addr + pos, &buf[..n]) };
                                pos += n as u64;
                            }
                        }
                    }
                }
                Ok(())
            }
        }
    }
}
