//! Copying an input's original bytes out of the region into another file:
//! what the commit uses to fill in the ranges a plugin never wrote.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use super::{Placement, Region};

impl Region {
    /// Copies `len` bytes of input `i`, from offset `from`, to `dst` at `to`:
    /// in the kernel and hole-aware when the input is open, else from its
    /// mapping (or packed memory).
    pub(crate) fn copy_input_span(
        &self,
        i: usize,
        from: u64,
        dst: &File,
        to: u64,
        len: u64,
    ) -> io::Result<()> {
        let input = &self.inputs[i];
        let slot = self.layout.slots()[i];
        match (input.file(), slot.placement) {
            (Some(src), Placement::Mapped) => crate::filecopy::copy_span(src, from, dst, to, len),
            _ => {
                let Some(mem) = &self.mem else { return Ok(()) };
                // SAFETY: the range lies inside input `i`'s slot, mapped
                // readable (the original, or packed memory); nothing writes
                // it while the slice lives (commit runs after the plugin).
                let bytes = unsafe { mem.slice(slot.addr + from, len as usize) };
                dst.write_all_at(bytes, to)
            }
        }
    }
}
