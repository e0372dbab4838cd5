//! `zipinfo`: the names of the members of a ZIP archive, one a line, byte for
//! byte as `unzip -Z1 ARCHIVE` prints them, when the archive was cut into
//! pieces (`split -b`) and the pieces are the inputs: the region is the
//! archive.
//!
//! The end-of-central-directory record is searched for from the end of the
//! region (a read at a negative offset of the last 64 KiB + 22 bytes: the
//! record and a comment of at most 65,535 bytes), and must account for the
//! comment it announces. A zip64 archive (a zip64 end-of-central-directory
//! locator just before that record, or a field saturated at 0xFFFF /
//! 0xFFFFFFFF) is read through its zip64 end-of-central-directory record.
//! The central directory is then read wherever it lies, across pieces too,
//! and each entry's name is printed as unzip prints it (see [`print_name`]).
//! Data in front of
//! the archive (a self-extractor's stub) shifts every offset; the shift is
//! found as unzip finds it, from where the central directory must end.
//!
//! Errors name the global offset (and the piece it falls in).
//!
//! Serial: the walk through the central directory is a chain.

use mmhost_guest::region::{self, MAX_READ};
use mmhost_guest::Plugin;

struct Zipinfo;

const EOCD_SIG: &[u8; 4] = b"PK\x05\x06";
const LOC64_SIG: &[u8; 4] = b"PK\x06\x07";
const EOCD64_SIG: &[u8; 4] = b"PK\x06\x06";
const CEN_SIG: &[u8; 4] = b"PK\x01\x02";
const EOCD_LEN: u64 = 22;
const LOC64_LEN: u64 = 20;

fn u16_at(b: &[u8], i: usize) -> u64 {
    u64::from(u16::from_le_bytes([b[i], b[i + 1]]))
}

fn u32_at(b: &[u8], i: usize) -> u64 {
    u64::from(u32::from_le_bytes(b[i..i + 4].try_into().unwrap()))
}

fn u64_at(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().unwrap())
}

/// "offset N (piece NAME)": where a global offset lies.
fn place(offset: u64) -> String {
    let segs = region::segments();
    match segs
        .iter()
        .rev()
        .find(|s| s.start <= offset && offset < s.start + s.len)
    {
        Some(s) => format!("offset {offset} (in {} at {})", s.name, offset - s.start),
        None => format!("offset {offset}"),
    }
}

/// Reads `len` bytes at global offset `at`, in reads the host allows.
fn read_range(at: u64, len: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(len as usize);
    let mut pos = at;
    while pos < at + len {
        let n = (at + len - pos).min(MAX_READ);
        let bytes = region::read(pos as i64, n)
            .map_err(|e| format!("zipinfo: reading at {}: {e}", place(pos)))?;
        out.extend_from_slice(&bytes);
        pos += n;
    }
    Ok(out)
}

/// The central directory as the end records describe it: entries, size,
/// offset (as stored), and where the record that follows it starts.
struct Directory {
    entries: u64,
    size: u64,
    offset: u64,
    end: u64,
}

/// Finds and decodes the end record(s).
fn directory(size: u64) -> Result<Directory, String> {
    let tail_len = size.min(EOCD_LEN + 0xFFFF);
    let tail_start = size - tail_len;
    let tail = if tail_len == 0 {
        Vec::new()
    } else {
        region::read(-(tail_len as i64), tail_len)
            .map_err(|e| format!("zipinfo: reading the last {tail_len} bytes: {e}"))?
    };
    // The last signature whose record and announced comment fit.
    let mut found = None;
    if tail.len() as u64 >= EOCD_LEN {
        for i in (0..=tail.len() - EOCD_LEN as usize).rev() {
            if &tail[i..i + 4] == EOCD_SIG
                && i as u64 + EOCD_LEN + u16_at(&tail, i + 20) <= tail_len
            {
                found = Some(i);
                break;
            }
        }
    }
    let Some(i) = found else {
        return Err(format!(
            "zipinfo: the pieces do not end with a ZIP end-of-central-directory record \
             (no signature PK\\5\\6 in the last {tail_len} bytes, from offset {tail_start} to \
             the end at {size})"
        ));
    };
    let eocd = tail_start + i as u64;
    let r = &tail[i..];
    let mut d = Directory {
        entries: u16_at(r, 10),
        size: u32_at(r, 12),
        offset: u32_at(r, 16),
        end: eocd,
    };
    let loc = if eocd >= LOC64_LEN {
        Some(read_range(eocd - LOC64_LEN, LOC64_LEN)?)
    } else {
        None
    };
    let saturated = d.entries == 0xFFFF || d.size == 0xFFFF_FFFF || d.offset == 0xFFFF_FFFF;
    match loc {
        Some(loc) if &loc[..4] == LOC64_SIG => {
            let loc_at = eocd - LOC64_LEN;
            let stored = u64_at(&loc, 8);
            // The zip64 record lies right before its locator; prefix data
            // shifts the stored offset, so look where it must be first.
            let mut at = None;
            for cand in [loc_at.checked_sub(56), Some(stored)].into_iter().flatten() {
                if cand + 56 <= loc_at {
                    let rec = read_range(cand, 56)?;
                    if &rec[..4] == EOCD64_SIG {
                        at = Some((cand, rec));
                        break;
                    }
                }
            }
            let Some((at, rec)) = at else {
                return Err(format!(
                    "zipinfo: the zip64 end-of-central-directory locator at {} points to offset \
                     {stored}, which holds no zip64 end-of-central-directory record",
                    place(loc_at)
                ));
            };
            d = Directory {
                entries: u64_at(&rec, 32),
                size: u64_at(&rec, 40),
                offset: u64_at(&rec, 48),
                end: at,
            };
        }
        _ if saturated => {
            return Err(format!(
                "zipinfo: the end-of-central-directory record at {} says zip64 (a field is \
                 0xFFFF...), but no zip64 locator precedes it",
                place(eocd)
            ))
        }
        _ => {}
    }
    Ok(d)
}

impl Plugin for Zipinfo {
    fn run(args: Vec<String>) -> Result<String, String> {
        if let Some(a) = args.first() {
            return Err(format!(
                "zipinfo: unexpected argument `{a}`; usage: zipinfo"
            ));
        }
        let size = region::size();
        let d = directory(size)?;
        let Some(start) = d.offset.checked_add(d.size).filter(|&e| e <= d.end) else {
            return Err(format!(
                "zipinfo: central directory at offset {} runs past the end (its {} bytes would \
                 end at {}, but the end record starts at offset {})",
                d.offset,
                d.size,
                d.offset.saturating_add(d.size),
                d.end
            ));
        };
        // Bytes before the archive shift it: the directory ends where the
        // end record starts.
        let shift = d.end - start;
        let cd_at = d.offset + shift;
        if d.entries == 0 {
            // unzip -Z1 says so too, and exits 1.
            return Err(format!(
                "zipinfo: Empty zipfile. (the end record before offset {} lists no entries)",
                d.end
            ));
        }
        let cd = read_range(cd_at, d.size)?;
        let mut out = Vec::new();
        let mut p = 0usize;
        for n in 0..d.entries {
            let at = cd_at + p as u64;
            if p + 46 > cd.len() || &cd[p..p + 4] != CEN_SIG {
                return Err(format!(
                    "zipinfo: central directory entry {} of {} at {}: {}",
                    n + 1,
                    d.entries,
                    place(at),
                    if p + 46 > cd.len() {
                        "past the end of the central directory"
                    } else {
                        "no signature PK\\1\\2"
                    }
                ));
            }
            let name_len = u16_at(&cd, p + 28) as usize;
            let rest = name_len + u16_at(&cd, p + 30) as usize + u16_at(&cd, p + 32) as usize;
            if p + 46 + rest > cd.len() {
                return Err(format!(
                    "zipinfo: central directory entry {} at {} runs past the end of the central \
                     directory (at offset {})",
                    n + 1,
                    place(at),
                    cd_at + d.size
                ));
            }
            print_name(&mut out, &cd[p + 46..p + 46 + name_len]);
            p += 46 + rest;
            if out.len() >= 1 << 16 {
                mmhost_guest::emit(&out);
                out.clear();
            }
        }
        mmhost_guest::emit(&out);
        Ok(String::new())
    }
}

/// The longest name unzip keeps (`FILNAMSIZ - 1` on Unix): it cuts longer
/// ones there, with a warning.
const MAX_NAME: usize = 4095;

/// Appends a member's name and a newline as `unzip -Z1` prints it (its
/// `fnfilter`, in every locale): the stored bytes, cut at 4,095 bytes and
/// at the first NUL (unzip holds names as C strings), with each control
/// byte below 0x20 shown as `^` and the byte plus 0x40 (`^I` for a tab,
/// `^J` for a newline, `^[` for ESC), so that no name can break a line or
/// drive the terminal. Other bytes (DEL, bytes over 0x7f, UTF-8 or not)
/// are printed as stored.
fn print_name(out: &mut Vec<u8>, name: &[u8]) {
    let name = if name.len() > MAX_NAME {
        mmhost_guest::log::warn("filename too long--truncating.");
        &name[..MAX_NAME]
    } else {
        name
    };
    let name = name.split(|&b| b == 0).next().unwrap_or_default();
    for &b in name {
        if b < 0x20 {
            out.push(b'^');
            out.push(b + 0x40);
        } else {
            out.push(b);
        }
    }
    out.push(b'\n');
}

mmhost_guest::export!(Zipinfo);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_filtered_as_unzip_does() {
        let mut out = Vec::new();
        print_name(&mut out, b"tab\there\x1b[1m\x7f\xff\xc3\xa9");
        print_name(&mut out, b"a\0b\x01");
        assert_eq!(out, b"tab^Ihere^[[1m\x7f\xff\xc3\xa9\na\n");
    }
}
