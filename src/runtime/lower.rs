//! Lowering a region read straight into the plugin's memory.
//!
//! Returning a `Vec<u8>` from the `read` host function would copy every byte
//! twice: from the mapping into the vector, then from the vector into the
//! guest's memory. [`RegionBytes`] is lowered as a WIT `list<u8>` by asking the
//! guest's `cabi_realloc` for the destination and copying the region's
//! extents into it directly: one `memcpy` per extent, nothing in between.
//!
//! This implements wasmtime's `ComponentType`/`Lower` traits by hand, the way
//! its own `[u8]` implementation does; their hidden items are public for
//! derives and stable within the pinned wasmtime version (48.0.8).

use std::mem::MaybeUninit;

use wasmtime::component::__internal::{
    CanonicalAbiInfo, InstanceType, InterfaceType, LowerContext,
};
use wasmtime::component::{ComponentType, Lower};
use wasmtime::ValRaw;

use crate::region::ReadView;

/// The bytes of a checked read, still in the region.
pub(super) struct RegionBytes(pub(super) ReadView);

// SAFETY: the type checks as `list<u8>` (delegated to `[u8]`), and its flat
// and memory representations are the canonical ABI pointer pair, as for
// `[u8]`.
unsafe impl ComponentType for RegionBytes {
    type Lower = [ValRaw; 2];
    const ABI: CanonicalAbiInfo = CanonicalAbiInfo::POINTER_PAIR;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        <[u8] as ComponentType>::typecheck(ty, types)
    }
}

impl RegionBytes {
    /// Allocates the list in guest memory and fills it; returns the pointer.
    fn store<T>(&self, cx: &mut LowerContext<'_, T>) -> wasmtime::Result<usize> {
        let len = self.0.len();
        let ptr = cx.realloc(0, 0, 1, len)?;
        let mem = cx.as_slice_mut();
        let dst = ptr
            .checked_add(len)
            .and_then(|end| mem.get_mut(ptr..end))
            .ok_or_else(|| wasmtime::format_err!("realloc return: beyond end of memory"))?;
        // SAFETY: the region lives in the store's data for the whole call
        // that produced this view, and lowering happens within that call.
        unsafe { self.0.copy_to(dst) };
        Ok(ptr)
    }
}

// SAFETY: writes exactly the pointer pair that `ComponentType::Lower` and
// `ABI` declare, pointing at a fresh allocation of `len` bytes made by the
// guest's own realloc.
unsafe impl Lower for RegionBytes {
    fn linear_lower_to_flat<T>(
        &self,
        cx: &mut LowerContext<'_, T>,
        _ty: InterfaceType,
        dst: &mut MaybeUninit<[ValRaw; 2]>,
    ) -> wasmtime::Result<()> {
        let ptr = self.store(cx)?;
        dst.write([ValRaw::i64(ptr as i64), ValRaw::i64(self.0.len() as i64)]);
        Ok(())
    }

    fn linear_lower_to_memory<T>(
        &self,
        cx: &mut LowerContext<'_, T>,
        _ty: InterfaceType,
        offset: usize,
    ) -> wasmtime::Result<()> {
        let ptr = self.store(cx)?;
        *cx.get::<4>(offset) = u32::try_from(ptr)?.to_le_bytes();
        *cx.get::<4>(offset + 4) = u32::try_from(self.0.len())?.to_le_bytes();
        Ok(())
    }
}
