//! The commit's side of a region: completing the new versions of the files
//! (copying in what a plugin did not write), making them durable, and
//! counting changed bytes. These are methods of [`Region`] so that callers
//! (and tests) keep one handle, but they live here, with the commit: the
//! region only answers what was written and where its bytes are.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use crate::error::{describe_io, Error, Result};
use crate::region::Region;

impl Region {
    /// Completes the output file of an [`Access::Output`](crate::region::Access::Output) region and makes it
    /// durable: copies in every range the plugin did not write (from the
    /// inputs, hole-aware), then `msync`s and `fsync`s it.
    pub fn finish_output(&self) -> Result<()> {
        let Some((target, path)) = self.output_target() else {
            return Ok(());
        };
        let fail =
            |what: &str, e: io::Error| Error::output(path, format!("{what}: {}", describe_io(&e)));
        for i in 0..self.inputs().len() {
            let seg = &self.segments()[i];
            for (a, b) in self.unwritten(seg.start, seg.start + seg.len) {
                self.copy_input_span(i, a - seg.start, target, a, b - a)
                    .map_err(|e| {
                        fail(&format!("copying {}", self.inputs()[i].path.display()), e)
                    })?;
            }
        }
        target.sync_all().map_err(|e| fail("fsync", e))
    }

    /// Writes the current bytes of input `i` into `file` (from offset 0) and
    /// syncs it: for packed inputs, whose writes live in memory.
    pub fn write_input_to(&self, i: usize, file: &File) -> io::Result<()> {
        let seg = &self.segments()[i];
        let mut pos = 0u64;
        for (_, bytes) in self.slices(seg.start, seg.start + seg.len) {
            file.write_all_at(bytes, pos)?;
            pos += bytes.len() as u64;
        }
        file.sync_all()
    }

    /// Completes input `i`'s staged copy, if it has one: copies in the
    /// ranges the plugin did not write, from the input (hole-aware), and
    /// `fsync`s it. Returns whether the input has a staged copy.
    pub fn finish_staged(&self, i: usize) -> io::Result<bool> {
        let Some(copy) = self.staged_copy(i) else {
            return Ok(false);
        };
        let seg = &self.segments()[i];
        for (a, b) in self.unwritten(seg.start, seg.start + seg.len) {
            self.copy_input_span(i, a - seg.start, copy, a - seg.start, b - a)?;
        }
        copy.sync_all()?;
        Ok(true)
    }

    /// How many bytes of input `i` differ from the file on disk.
    pub fn changed_bytes(&self, i: usize) -> io::Result<u64> {
        let seg = &self.segments()[i];
        let input = &self.inputs()[i];
        let mut changed = 0u64;
        let mut now = vec![0u8; (1 << 20).min(seg.len as usize)];
        let mut before = vec![0u8; now.len()];
        let reopened;
        let file = match input.file() {
            Some(f) => f,
            None => {
                reopened = File::open(&input.path)?;
                &reopened
            }
        };
        let mut pos = 0u64;
        while pos < seg.len {
            let n = now.len().min((seg.len - pos) as usize);
            self.read_into(seg.start + pos, &mut now[..n]);
            file.read_exact_at(&mut before[..n], pos)?;
            changed += now[..n]
                .iter()
                .zip(&before[..n])
                .filter(|(a, b)| a != b)
                .count() as u64;
            pos += n as u64;
        }
        Ok(changed)
    }
}
