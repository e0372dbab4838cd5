//! `count` over 100,000 sparse files, read-only, under an open-file limit of
//! 1,024 and past the mapping budget (see `common/sparse100k.rs`), against
//! answers known from what the files were made of. The checksum over the same
//! files is `many_files_checksum.rs` (its own binary: each takes most of a
//! minute of two cores).

mod common;

use common::sparse100k::{self, run_limited, FILES};
use common::*;

#[test]
fn count_over_100k_sparse_files_read_only() {
    let count = plugin("count");
    let dir = sparse100k::make();
    let dir = dir.path();
    // Past the mapping budget (half of vm.max_map_count): some files are
    // mapped, the rest packed, and the layout says so.
    let layout = run_limited(dir, &["layout", "--json"], &[]);
    layout.assert_ok();
    let json: serde_json::Value = serde_json::from_slice(&layout.stdout).unwrap();
    let files = json["files"].as_array().unwrap();
    let placed = |what: &str| files.iter().filter(|f| f["placement"] == what).count();
    assert_eq!(files.len(), FILES);
    assert!(placed("mapped") > 1000, "{}", placed("mapped"));
    assert!(placed("packed") > 1000, "{}", placed("packed"));
    let max_map_count: u64 = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .map(|s| s.trim().parse().unwrap())
        .unwrap_or(65_530);
    assert!(json["mappings"].as_u64().unwrap() <= max_map_count / 2);

    // Every file starts with "needle" and nothing else in the region is
    // non-zero: one match per file.
    let r = run_limited(dir, &["run", count.to_str().unwrap()], &["needle"]);
    r.assert_ok();
    assert_eq!(r.stdout_str(), format!("{FILES}\n"));
    // Files 99,990 to 99,999, the last ones mapped.
    let r = run_limited(dir, &["run", count.to_str().unwrap()], &["dle09999"]);
    r.assert_ok();
    assert_eq!(r.stdout_str(), "10\n");
}
