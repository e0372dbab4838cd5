//! Which inputs one `run-chunk` process opens: only those its window
//! touches.
//!
//! A process that runs chunks I..J of a plan reads only the bytes
//! `[start(I) - halo, end(J) + halo)` (clamped to the region): the chunk
//! views of [`crate::region::chunk::ChunkPlan::some`] refuse every access
//! outside that window. So on a run over 100,000 files a chunk task need not
//! open, check and map them all: the inputs whose bytes intersect the window
//! are opened and checked against the plan; every other input enters the
//! region as `InputFile::outside_window`, with the plan's name and length,
//! so the plugin still sees the whole region's size and segment table at
//! the same global offsets, while its slot stays reserved but unmapped.
//!
//! An empty input counts as touched when its offset lies in the closed
//! window `[lo, hi]`: it has no bytes to map, but so every input, empty or
//! not, is checked against the plan by at least one chunk of a run (the
//! windows of all chunks cover `[0, size]`). A plan whose halo is `null`
//! runs as one task over the whole region: every input is touched.

use std::path::PathBuf;

use super::chunk_run::ChunkRange;
use super::plan::Plan;
use crate::error::Result;
use crate::region::{open_inputs, InputFile};

/// The readable window `[lo, hi)` of chunks `range` of `plan`: the chunks
/// plus the halo on each side, clamped to the region; the whole region when
/// the plan's halo is `null`. `range` must lie inside the plan's chunks.
pub fn window(plan: &Plan, range: ChunkRange) -> (u64, u64) {
    let Some(halo) = plan.halo else {
        return (0, plan.region_size);
    };
    let bounds = plan.bounds();
    let lo = bounds[range.first].saturating_sub(halo);
    let hi = bounds[range.last + 1]
        .saturating_add(halo)
        .min(plan.region_size);
    (lo, hi)
}

/// Per input of `plan`: whether the window `[lo, hi)` touches it (see the
/// module docs for empty inputs).
pub fn touched(plan: &Plan, (lo, hi): (u64, u64)) -> Vec<bool> {
    plan.inputs
        .iter()
        .map(|i| {
            if i.len == 0 {
                lo <= i.start && i.start <= hi
            } else {
                i.start < hi && lo < i.start + i.len
            }
        })
        .collect()
}

/// The region's inputs for a process whose window touches `touched`: those
/// opened and validated read-only ([`open_inputs`]), the others placeholders
/// that are never opened.
pub fn open_touched(plan: &Plan, touched: &[bool]) -> Result<Vec<InputFile>> {
    let names: Vec<PathBuf> = plan
        .inputs
        .iter()
        .zip(touched)
        .filter(|(_, &t)| t)
        .map(|(i, _)| PathBuf::from(&i.name))
        .collect();
    let mut opened = open_inputs(&names, false)?.into_iter();
    Ok(plan
        .inputs
        .iter()
        .zip(touched)
        .map(|(i, &t)| match t {
            true => opened.next().expect("one opened input per touched one"),
            false => InputFile::outside_window(PathBuf::from(&i.name), i.len),
        })
        .collect())
}
