//! A chunk's partial result: what it found, in region order, for `reduce`
//! to print. A chunk prints nothing itself, because the lines it owns (those
//! that start inside it) may need line numbers counted from the start of
//! their file, which lies outside its read window, and because a line
//! longer than the window must be finished by `reduce` in its place in the
//! output.
//!
//! Items, each a tag byte and LEB128 numbers:
//! - `0 START LEN`: a run of consecutive matching lines, `[START,
//!   START+LEN)` of one file, newlines included (the last line of a file
//!   may have none);
//! - `1 FROM TO`: the lines that start in `[FROM, TO)` were not searched
//!   (a line longer than the window, or a partial result grown to its
//!   limit): `reduce` searches them;
//! - `2 FILE COUNT`: `-c`: COUNT matching lines of file number FILE.

use mmhost_guest::partial::{get_u64, put_u64};

/// The most a chunk's partial result may hold (the host allows 1 MiB);
/// past it, the chunk leaves the rest of its lines to `reduce`.
pub const CAP: usize = (1 << 20) - 64;

/// One item of a partial result.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Item {
    Lines { start: u64, len: u64 },
    Redo { from: u64, to: u64 },
    Count { file: u64, count: u64 },
}

/// Appends `item` to `out`.
pub fn push(out: &mut Vec<u8>, item: Item) {
    let (tag, a, b) = match item {
        Item::Lines { start, len } => (0, start, len),
        Item::Redo { from, to } => (1, from, to),
        Item::Count { file, count } => (2, file, count),
    };
    out.push(tag);
    put_u64(out, a);
    put_u64(out, b);
}

/// The items of a partial result, or `None` if it is malformed.
pub fn decode(bytes: &[u8]) -> Option<Vec<Item>> {
    let mut items = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let tag = bytes[pos];
        pos += 1;
        let a = get_u64(bytes, &mut pos)?;
        let b = get_u64(bytes, &mut pos)?;
        items.push(match tag {
            0 => Item::Lines { start: a, len: b },
            1 => Item::Redo { from: a, to: b },
            2 => Item::Count { file: a, count: b },
            _ => return None,
        });
    }
    Some(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_round_trip() {
        let items = [
            Item::Lines { start: 0, len: 1 },
            Item::Redo {
                from: u64::MAX,
                to: 1 << 40,
            },
            Item::Count {
                file: 127,
                count: 128,
            },
        ];
        let mut out = Vec::new();
        for i in items {
            push(&mut out, i);
        }
        assert_eq!(decode(&out).unwrap(), items);
        assert_eq!(decode(&out[..out.len() - 1]), None);
    }
}
