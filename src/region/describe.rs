//! What `mmhost layout` prints: the placement of each file of a region
//! (mapped, packed, empty; its own slot or contiguous with the one before)
//! as a table or as JSON. In the library so that other front ends print the
//! same model.

use std::fmt::Write as _;

use super::{Placement, Region, Segment};

impl Region {
    /// One row per file: index, segment, placement, slot kind.
    fn layout_rows(&self) -> Vec<(usize, &Segment, Placement, &'static str)> {
        let layout = self.layout();
        self.segments()
            .iter()
            .zip(layout.slots())
            .enumerate()
            .map(|(i, (seg, slot))| {
                let slot_kind = if layout.joins_previous(i) {
                    "contiguous"
                } else {
                    "own-slot"
                };
                (i, seg, slot.placement, slot_kind)
            })
            .collect()
    }

    /// The layout as JSON: size, contiguity, extents, mappings, and per file
    /// its name, range, placement and slot kind.
    pub fn layout_json(&self) -> serde_json::Value {
        let layout = self.layout();
        let files: Vec<serde_json::Value> = self
            .layout_rows()
            .iter()
            .map(|(_, seg, p, slot)| {
                serde_json::json!({
                    "name": seg.name,
                    "start": seg.start,
                    "end": seg.start + seg.len,
                    "len": seg.len,
                    "placement": placement(*p),
                    "slot": slot,
                })
            })
            .collect();
        serde_json::json!({
            "size": layout.size(),
            "contiguous": layout.is_contiguous(),
            "extents": layout.extents().len(),
            "mappings": layout.mappings(),
            "files": files,
        })
    }

    /// The layout as a table, one line per file and a total line.
    pub fn layout_table(&self) -> String {
        let layout = self.layout();
        let rows = self.layout_rows();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:>5}  {:>14}  {:>14}  {:>14}  {:<7}  {:<10}  file",
            "#", "start", "end", "size", "placed", "slot"
        );
        for (i, seg, p, slot) in &rows {
            let _ = writeln!(
                out,
                "{:>5}  {:>14}  {:>14}  {:>14}  {:<7}  {:<10}  {}",
                i,
                seg.start,
                seg.start + seg.len,
                seg.len,
                placement(*p),
                slot,
                match self.inputs().get(*i) {
                    Some(f) => crate::escape::Quoted(&f.path).to_string(),
                    None => crate::escape::Quoted(std::path::Path::new(&seg.name)).to_string(),
                }
            );
        }
        let _ = writeln!(
            out,
            "total {} in {}; {} ({} extent{}, {} mapping{})",
            crate::plural::count(layout.size(), "byte"),
            crate::plural::count(rows.len() as u64, "file"),
            if layout.is_contiguous() {
                "contiguous"
            } else {
                "not contiguous"
            },
            layout.extents().len(),
            if layout.extents().len() == 1 { "" } else { "s" },
            layout.mappings(),
            if layout.mappings() == 1 { "" } else { "s" },
        );
        out
    }
}

/// The word for a placement in `mmhost layout`.
fn placement(p: Placement) -> &'static str {
    match p {
        Placement::Empty => "empty",
        Placement::Mapped => "mapped",
        Placement::Packed => "packed",
    }
}

/// The text `mmhost layout` prints for `files` (JSON with `json`), the
/// files opened read-only as a region.
///
/// # Errors
/// The input errors of opening the files and the region.
pub fn layout_text(files: &[std::path::PathBuf], json: bool) -> crate::error::Result<String> {
    let region = Region::open(super::open_inputs(files, false)?, super::Access::ReadOnly)?;
    Ok(if json {
        crate::escape::json_safe(
            &serde_json::to_string_pretty(&region.layout_json()).expect("json"),
        ) + "\n"
    } else {
        region.layout_table()
    })
}
