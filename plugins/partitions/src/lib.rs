//! `partitions [--json]`: the partition table of a disk image that was cut
//! into pieces (`split -b`) and given as those pieces: the region is the
//! disk. Sectors are 512 bytes unless `--sector-size N` (512, 1024, 2048,
//! 4096, as `sfdisk --sector-size` and `fdisk -b`) says otherwise; without
//! it, a GPT disk's sector size is detected from where its header is (LBA 1
//! at offset 512 or 4096), so a 4Kn disk image lists right; an MBR disk is
//! read in 512-byte sectors.
//!
//! GPT (a protective MBR, then the primary header at LBA 1): the header's
//! CRC32 and the partition entries' CRC32 are checked. The backup header is
//! read from the last sector (a read at a negative offset) and checked too;
//! a damaged primary header (or damaged entries) falls back to the backup,
//! with a warning on stderr, as gdisk does. MBR (`dos`): the four primary
//! entries, and the logical partitions of an extended partition (numbered
//! from 5, through the chain of extended boot records), as sfdisk lists them.
//!
//! `--json` prints what `sfdisk --json IMAGE` prints (the device is named
//! after the first piece); the text form is one line per partition, fields
//! separated by one space (START and SIZE in sectors):
//! - gpt: `NUMBER START SIZE TYPE-GUID PARTITION-GUID NAME` (NAME may be empty)
//! - dos: `NUMBER START SIZE TYPE BOOT` (TYPE in hex as `83`, BOOT `*` or `-`)
//!
//! Serial: a handful of sectors are read.

use mmhost_guest::region::{self, MAX_READ};
use mmhost_guest::{log, Plugin};

struct Partitions;

/// The logical sector size unless told or detected otherwise.
const SECTOR: u64 = 512;
const USAGE: &str = "usage: partitions [--json] [--sector-size 512|1024|2048|4096]";

fn u16_at(b: &[u8], i: usize) -> u64 {
    u64::from(u16::from_le_bytes([b[i], b[i + 1]]))
}

fn u32_at(b: &[u8], i: usize) -> u64 {
    u64::from(u32::from_le_bytes(b[i..i + 4].try_into().unwrap()))
}

fn u64_at(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().unwrap())
}

/// CRC-32 (IEEE 802.3, reflected), as UEFI computes it for GPT.
fn crc32(data: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (i, t) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *t = c;
    }
    !data.iter().fold(!0u32, |c, &b| {
        table[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8)
    })
}

/// A GUID as sfdisk prints it: upper case, the first three fields stored
/// little-endian.
fn guid(b: &[u8]) -> String {
    format!(
        "{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{}",
        u32_at(b, 0),
        u16_at(b, 4),
        u16_at(b, 6),
        b[8],
        b[9],
        b[10..16]
            .iter()
            .map(|x| format!("{x:02X}"))
            .collect::<String>()
    )
}

/// Reads `len` bytes at global offset `at` (negative: from the end).
fn read(at: i64, len: u64) -> Result<Vec<u8>, String> {
    if len > MAX_READ {
        return Err(format!(
            "partitions: {len} bytes of partition entries at offset {at} are more than can be \
             read at once ({MAX_READ})"
        ));
    }
    region::read(at, len).map_err(|e| format!("partitions: reading at offset {at}: {e}"))
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o += "\\\"",
            '\\' => o += "\\\\",
            c if (c as u32) < 0x20 => o += &format!("\\u{:04x}", c as u32),
            c => o.push(c),
        }
    }
    o + "\""
}

struct Part {
    number: u64,
    start: u64,
    size: u64,
    /// GPT: the type GUID; dos: the type byte in hex.
    ty: String,
    uuid: Option<String>,
    name: Option<String>,
    attrs: u64,
    bootable: bool,
}

struct Table {
    label: &'static str,
    id: String,
    lbas: Option<(u64, u64)>,
    parts: Vec<Part>,
}

/// A checked GPT header read at `at` (1 or, for the backup, the last LBA).
struct Header {
    disk_guid: String,
    first: u64,
    last: u64,
    entries_lba: u64,
    count: u64,
    entry_size: u64,
    entries_crc: u32,
}

/// The header in `sector` if its signature and CRC are right; else why not.
fn header(sector: &[u8], lba: u64) -> Result<Header, String> {
    let ss = sector.len();
    if &sector[..8] != b"EFI PART" {
        return Err(format!("no GPT signature \"EFI PART\" at LBA {lba}"));
    }
    let size = u32_at(sector, 12) as usize;
    if !(92..=ss).contains(&size) {
        return Err(format!("GPT header at LBA {lba} has a bad size {size}"));
    }
    let mut h = sector[..size].to_vec();
    h[16..20].fill(0);
    if crc32(&h) as u64 != u32_at(sector, 16) {
        return Err(format!("GPT header CRC mismatch at LBA {lba}"));
    }
    let (count, entry_size) = (u32_at(sector, 80), u32_at(sector, 84));
    if entry_size < 128 || entry_size % 8 != 0 || count > 65536 {
        return Err(format!(
            "GPT header at LBA {lba}: {count} entries of {entry_size} bytes are not a valid array"
        ));
    }
    Ok(Header {
        disk_guid: guid(&sector[56..72]),
        first: u64_at(sector, 40),
        last: u64_at(sector, 48),
        entries_lba: u64_at(sector, 72),
        count,
        entry_size,
        entries_crc: u32_at(sector, 88) as u32,
    })
}

/// The entries array of `h` if it can be read and its CRC is right.
fn entries(h: &Header, lba: u64, ss: u64) -> Result<Vec<u8>, String> {
    let len = h.count * h.entry_size;
    let at = h
        .entries_lba
        .checked_mul(ss)
        .filter(|a| a.checked_add(len).is_some_and(|e| e <= region::size()));
    let Some(at) = at else {
        return Err(format!(
            "the GPT header at LBA {lba} puts its partition entries at LBA {}, past the end",
            h.entries_lba
        ));
    };
    let bytes = read(at as i64, len)?;
    if crc32(&bytes) != h.entries_crc {
        return Err(format!(
            "GPT partition entries CRC mismatch at LBA {} (header at LBA {lba})",
            h.entries_lba
        ));
    }
    Ok(bytes)
}

fn gpt(size: u64, ss: u64) -> Result<Table, String> {
    let sectors = size / ss;
    let primary = read(ss as i64, ss)?;
    let last = sectors - 1;
    let backup_sector = read(-(ss as i64) - (size % ss) as i64, ss)?;
    let p = header(&primary, 1).and_then(|h| entries(&h, 1, ss).map(|e| (h, e)));
    let b = header(&backup_sector, last).and_then(|h| entries(&h, last, ss).map(|e| (h, e)));
    let (h, e) = match (p, b) {
        (Ok(p), Ok(_)) => p,
        (Ok(p), Err(why)) => {
            log::warn(&format!("{why}; the primary GPT header at LBA 1 is used"));
            p
        }
        (Err(why), Ok(b)) => {
            log::warn(&format!("{why}; using the backup header at LBA {last}"));
            b
        }
        (Err(p), Err(b)) => {
            return Err(format!("partitions: no valid GPT: {p}; {b}"));
        }
    };
    let mut parts = Vec::new();
    for (i, ent) in e.chunks(h.entry_size as usize).enumerate() {
        if ent[..16].iter().all(|&x| x == 0) {
            continue;
        }
        let (first, last) = (u64_at(ent, 32), u64_at(ent, 40));
        let units: Vec<u16> = ent[56..128]
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&u| u != 0)
            .collect();
        let name = String::from_utf16_lossy(&units);
        parts.push(Part {
            number: i as u64 + 1,
            start: first,
            size: last.saturating_add(1).saturating_sub(first),
            ty: guid(&ent[..16]),
            uuid: Some(guid(&ent[16..32])),
            name: (!name.is_empty()).then_some(name),
            attrs: u64_at(ent, 48),
            bootable: false,
        });
    }
    Ok(Table {
        label: "gpt",
        id: h.disk_guid,
        lbas: Some((h.first, h.last)),
        parts,
    })
}

/// The four entries of the MBR or EBR in `sector`: (boot, type, start, size).
fn mbr_entries(sector: &[u8]) -> impl Iterator<Item = (bool, u8, u64, u64)> + '_ {
    (0..4).map(move |i| {
        let e = &sector[446 + 16 * i..446 + 16 * (i + 1)];
        (e[0] == 0x80, e[4], u32_at(e, 8), u32_at(e, 12))
    })
}

fn is_extended(ty: u8) -> bool {
    matches!(ty, 0x05 | 0x0f | 0x85)
}

fn dos(mbr: &[u8], ss: u64) -> Result<Table, String> {
    let mut parts = Vec::new();
    let mut extended = None;
    for (i, (boot, ty, start, size)) in mbr_entries(mbr).enumerate() {
        if ty == 0 || size == 0 {
            continue;
        }
        if is_extended(ty) && extended.is_none() {
            extended = Some(start);
        }
        parts.push(Part {
            number: i as u64 + 1,
            start,
            size,
            ty: format!("{ty:x}"),
            uuid: None,
            name: None,
            attrs: 0,
            bootable: boot,
        });
    }
    if let Some(ext) = extended {
        // The chain of extended boot records: a logical partition's start is
        // relative to its EBR, the next EBR's to the extended partition.
        let (mut ebr, mut number, mut seen) = (ext, 5, 0);
        loop {
            let at = ebr.saturating_mul(ss);
            if at.saturating_add(ss) > region::size() || seen > 1024 {
                return Err(format!(
                    "partitions: the extended boot record at sector {ebr} (offset {at}) is past \
                     the end of the image or the chain loops"
                ));
            }
            let s = read(at as i64, ss)?;
            if s[510..512] != [0x55, 0xAA] {
                return Err(format!(
                    "partitions: no 0x55AA signature in the extended boot record at sector {ebr} \
                     (offset {at})"
                ));
            }
            let mut next = None;
            for (boot, ty, start, size) in mbr_entries(&s) {
                if ty == 0 || size == 0 {
                    continue;
                }
                if is_extended(ty) {
                    next.get_or_insert(ext + start);
                } else {
                    parts.push(Part {
                        number,
                        start: ebr + start,
                        size,
                        ty: format!("{ty:x}"),
                        uuid: None,
                        name: None,
                        attrs: 0,
                        bootable: boot,
                    });
                    number += 1;
                }
            }
            seen += 1;
            match next {
                Some(n) => ebr = n,
                None => break,
            }
        }
    }
    Ok(Table {
        label: "dos",
        id: format!("0x{:08x}", u32_at(mbr, 440)),
        lbas: None,
        parts,
    })
}

/// Attribute bits as sfdisk names them.
fn attrs(a: u64) -> String {
    let mut names = Vec::new();
    for (bit, name) in [
        (0, "RequiredPartition"),
        (1, "NoBlockIOProtocol"),
        (2, "LegacyBIOSBootable"),
    ] {
        if a & (1 << bit) != 0 {
            names.push(name.to_string());
        }
    }
    let high: Vec<String> = (48..64)
        .filter(|b| a & (1 << b) != 0)
        .map(|b| b.to_string())
        .collect();
    if !high.is_empty() {
        names.push(format!("GUID:{}", high.join(",")));
    }
    names.join(" ")
}

fn json(t: &Table, device: &str, ss: u64) -> String {
    let mut o = String::from("{\n   \"partitiontable\": {\n");
    o += &format!("      \"label\": \"{}\",\n", t.label);
    o += &format!("      \"id\": {},\n", json_str(&t.id));
    o += &format!("      \"device\": {},\n", json_str(device));
    o += "      \"unit\": \"sectors\",\n";
    if let Some((first, last)) = t.lbas {
        o += &format!("      \"firstlba\": {first},\n      \"lastlba\": {last},\n");
    }
    o += &format!("      \"sectorsize\": {ss}");
    if !t.parts.is_empty() {
        o += ",\n      \"partitions\": [\n";
        let items: Vec<String> = t
            .parts
            .iter()
            .map(|p| {
                let mut f = vec![
                    format!("\"node\": {}", json_str(&format!("{device}{}", p.number))),
                    format!("\"start\": {}", p.start),
                    format!("\"size\": {}", p.size),
                    format!("\"type\": {}", json_str(&p.ty)),
                ];
                if let Some(u) = &p.uuid {
                    f.push(format!("\"uuid\": {}", json_str(u)));
                }
                if let Some(n) = &p.name {
                    f.push(format!("\"name\": {}", json_str(n)));
                }
                if p.attrs != 0 {
                    f.push(format!("\"attrs\": {}", json_str(&attrs(p.attrs))));
                }
                if p.bootable {
                    f.push("\"bootable\": true".to_string());
                }
                format!("\n            {}\n         }}", f.join(",\n            "))
            })
            .collect();
        // sfdisk's layout: `},{` between two partitions.
        o += "         {";
        o += &items.join(",{");
        o += "\n      ]";
    }
    o + "\n   }\n}\n"
}

fn text(t: &Table) -> String {
    let mut o = String::new();
    for p in &t.parts {
        match &p.uuid {
            Some(u) => {
                o += &format!(
                    "{} {} {} {} {} {}\n",
                    p.number,
                    p.start,
                    p.size,
                    p.ty,
                    u,
                    p.name.as_deref().unwrap_or("")
                )
            }
            None => {
                o += &format!(
                    "{} {} {} {} {}\n",
                    p.number,
                    p.start,
                    p.size,
                    p.ty,
                    if p.bootable { "*" } else { "-" }
                )
            }
        }
    }
    o
}

/// The logical sector size of a GPT disk image, found as the kernel would
/// know it from the device: where a GPT header is. The primary header is at
/// LBA 1 (offset 512 or 4096), the backup in the last sector; the first of
/// these places (512-byte sectors first) that holds the signature decides.
/// A 512-byte disk never holds a header at 4096 (that is inside its entry
/// array), so the probe cannot mistake one for the other. With no
/// signature anywhere, 512 (and the GPT's own errors follow).
fn detect_sector_size(size: u64) -> Result<u64, String> {
    const SIG: &[u8] = b"EFI PART";
    let at = |offset: u64| -> Result<bool, String> {
        Ok(offset + 8 <= size && read(offset as i64, 8)? == SIG)
    };
    let last = |ss: u64| size.checked_sub(ss + size % ss);
    for ss in [512, 4096] {
        if at(ss)? {
            return Ok(ss);
        }
    }
    for ss in [512, 4096] {
        if let Some(o) = last(ss) {
            if at(o)? {
                return Ok(ss);
            }
        }
    }
    Ok(SECTOR)
}

impl Plugin for Partitions {
    fn run(args: Vec<String>) -> Result<String, String> {
        let mut as_json = false;
        let mut told = None;
        let mut rest = args.iter();
        while let Some(a) = rest.next() {
            let size_arg = match a.as_str() {
                "--json" | "-J" => {
                    as_json = true;
                    continue;
                }
                "--sector-size" => rest.next().map(String::as_str),
                _ => match a.strip_prefix("--sector-size=") {
                    Some(v) => Some(v),
                    None => return Err(format!("partitions: unexpected argument `{a}`; {USAGE}")),
                },
            };
            told = match size_arg.and_then(|v| v.parse::<u64>().ok()) {
                Some(n @ (512 | 1024 | 2048 | 4096)) => Some(n),
                _ => {
                    return Err(format!(
                        "partitions: --sector-size takes 512, 1024, 2048 or 4096; {USAGE}"
                    ))
                }
            };
        }
        let size = region::size();
        if size < 2 * SECTOR {
            return Err(format!(
                "partitions: the image is {size} bytes, too small for a partition table (at \
                 least 2 sectors of 512 bytes)"
            ));
        }
        let mbr = read(0, SECTOR)?;
        if mbr[510..512] != [0x55, 0xAA] {
            return Err(
                "partitions: no partition table: no 0x55AA signature at offset 510 (sector 0)"
                    .to_string(),
            );
        }
        let protective = mbr_entries(&mbr).any(|(_, ty, _, _)| ty == 0xEE);
        let ss = match told {
            Some(ss) => ss,
            None if protective => detect_sector_size(size)?,
            None => SECTOR,
        };
        if size < 2 * ss {
            return Err(format!(
                "partitions: the image is {size} bytes, too small for a partition table in \
                 sectors of {ss} bytes"
            ));
        }
        let table = if protective {
            gpt(size, ss)?
        } else {
            dos(&mbr, ss)?
        };
        let device = region::segments()
            .first()
            .map(|s| s.name.clone())
            .unwrap_or_default();
        let out = if as_json {
            json(&table, &device, ss)
        } else {
            text(&table)
        };
        mmhost_guest::emit(out.as_bytes());
        Ok(String::new())
    }
}

mmhost_guest::export!(Partitions);
