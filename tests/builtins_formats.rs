//! The built-in plugins that read binary formats from pieces, against the
//! standard tools: `zipinfo` against `unzip -Z1`, `partitions` against
//! `sfdisk --json`.
//!
//! Each test builds real data in a temporary directory (ZIP archives with
//! Python's zipfile and Info-ZIP's zip, disk images partitioned by sfdisk),
//! cuts it into pieces with `split -b` at sizes chosen so that a cut falls
//! inside the structure under test (the central directory, the end record,
//! the GPT headers), runs the real `mmhost` over the pieces and compares with
//! the real tool run on the whole file. A missing tool fails the test (CI
//! installs them, see scripts/test.sh); it is never skipped.

mod common;

use std::path::Path;
use std::process::Stdio;

use common::{mmhost, tool, Run};

/// `mmhost run PLUGIN PIECES... [-- ARGS]` in `dir`.
fn run(dir: &Path, plugin: &str, pieces: &[String], args: &[&str]) -> Run {
    let mut c = mmhost();
    c.current_dir(dir).arg("run").arg(plugin).args(pieces);
    if !args.is_empty() {
        c.arg("--").args(args);
    }
    c.stdin(Stdio::null());
    c.output().expect("run mmhost").into()
}

/// Cuts `file` with `split -b SIZE` into pieces named `PREFIX....`; returns
/// their names in order.
fn split(dir: &Path, file: &str, size: u64, prefix: &str) -> Vec<String> {
    tool(
        dir,
        "split",
        &["-a", "5", "-b", &size.to_string(), file, prefix],
        None,
    )
    .assert_ok();
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
}

/// Deletes the pieces named `PREFIX...`.
fn remove(dir: &Path, pieces: &[String]) {
    for p in pieces {
        std::fs::remove_file(dir.join(p)).unwrap();
    }
}

/// The bytes of every piece, to check that a run left them as they were.
fn contents(dir: &Path, pieces: &[String]) -> Vec<Vec<u8>> {
    pieces
        .iter()
        .map(|p| std::fs::read(dir.join(p)).unwrap())
        .collect()
}

/// Python's zipfile builds the archives and reports where their central
/// directory starts and where the end record starts (`start_dir`, and the
/// size minus the record and its comment), independently of the plugin.
const MAKE_ZIPS: &str = r#"
import os, zipfile
def report(name):
    z = zipfile.ZipFile(name)
    eocd = os.path.getsize(name) - 22 - len(z.comment)
    print(name, z.start_dir, eocd)
with zipfile.ZipFile("many.zip", "w", zipfile.ZIP_DEFLATED) as z:
    for i in range(3000):
        z.writestr(f"dir {i % 7}/file_{i:05d}.txt", b"x" * (i % 13))
    z.writestr("dir 0/", b"")
    z.writestr("caf\u00e9/na\u00efve.txt", b"unicode name")
    z.comment = b"an archive comment " * 40
report("many.zip")
# More than 65,535 entries: zip64 end record and locator; zip64 extra
# fields in the local headers of every other entry.
with zipfile.ZipFile("z64.zip", "w") as z:
    for i in range(70000):
        with z.open(f"e{i}", "w", force_zip64=(i % 2 == 0)) as f:
            f.write(b"abc")
report("z64.zip")
if os.path.exists("info.zip"):
    report("info.zip")
"#;

#[test]
fn zipinfo_equals_unzip_z1_of_the_whole_archive() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Info-ZIP's zip too: a directory tree, an empty file, a comment.
    std::fs::create_dir_all(d.join("tree/sub dir")).unwrap();
    std::fs::write(d.join("tree/a.txt"), b"hello\n").unwrap();
    std::fs::write(d.join("tree/sub dir/empty"), b"").unwrap();
    tool(d, "zip", &["-q", "-r", "info.zip", "tree"], None).assert_ok();
    tool(d, "zip", &["-q", "-z", "info.zip"], Some(b"zip comment\n")).assert_ok();
    let made = tool(d, "python3", &["-c", MAKE_ZIPS], None);
    made.assert_ok();
    let archives: Vec<(String, u64, u64)> = made
        .stdout_str()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (
                f[0].to_string(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(archives.len(), 3);
    // A self-extractor: 5,000 bytes of stub in front shift every offset;
    // unzip warns on stderr and lists the same names.
    let mut sfx = vec![0x7f_u8; 5000];
    sfx.extend(std::fs::read(d.join("many.zip")).unwrap());
    std::fs::write(d.join("sfx.zip"), &sfx).unwrap();
    let want = tool(d, "unzip", &["-Z1", "sfx.zip"], None);
    assert!(want.stdout.len() > 3000, "{}", want.stderr);
    let pieces = split(d, "sfx.zip", 300_000, "piece.");
    let got = run(d, "zipinfo", &pieces, &[]);
    got.assert_ok();
    assert_eq!(got.stdout_str(), want.stdout_str(), "self-extractor");
    remove(d, &pieces);
    for (name, cd, eocd) in &archives {
        let want = tool(d, "unzip", &["-Z1", name], None);
        want.assert_ok();
        assert!(want.stdout.len() > 10, "{name}: {}", want.stderr);
        // A cut inside the central directory, inside the end record (10
        // bytes into it: its fields are cut), and many small pieces (a byte
        // each for the small archive).
        let small = if name == "info.zip" { 1 } else { 4099 };
        assert!(
            cd + 37 < *eocd,
            "{name}: the cut falls inside the directory"
        );
        for piece in [cd + 37, eocd + 10, small] {
            let pieces = split(d, name, piece, "piece.");
            assert!(pieces.len() >= 2, "{name} cut at {piece}");
            let got = run(d, "zipinfo", &pieces, &[]);
            got.assert_ok();
            assert_eq!(
                got.stdout_str(),
                want.stdout_str(),
                "{name} in pieces of {piece} bytes"
            );
            remove(d, &pieces);
        }
    }
}

/// Names with control characters, bytes that are not UTF-8 (stored without
/// the UTF-8 flag), a NUL and names past unzip's 4,095 bytes: Python's
/// zipfile writes placeholder names of the same length, patched in both
/// headers afterwards.
const MAKE_ODD_NAMES: &str = r#"
import zipfile
names = ["plain.txt", "tab\there", "nl\nx", "esc\x1b[31mred", "del\x7fx",
         "c1-\u0085-x", "caf\u00e9.txt", "ctl\x01\x02\x1f", "bad-?.bin",
         "hi-?-x", "nul-?-cut", "back\\slash", "a" * 5000, "\x01" * 3000]
with zipfile.ZipFile("odd.zip", "w") as z:
    for n in names:
        z.writestr(n, b"x")
d = bytearray(open("odd.zip", "rb").read())
for old, new in [(b"bad-?.bin", b"bad-\xff.bin"), (b"hi-?-x", b"hi-\x9b-x"),
                 (b"nul-?-cut", b"nul-\x00-cut")]:
    assert d.count(old) == 2
    d = d.replace(old, new)
open("odd.zip", "wb").write(d)
"#;

#[test]
fn zipinfo_filters_names_as_unzip_does() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tool(d, "python3", &["-c", MAKE_ODD_NAMES], None).assert_ok();
    // unzip exits 1 (a warning) for the names it cuts.
    let want = tool(d, "unzip", &["-Z1", "odd.zip"], None);
    assert!(want.stderr.contains("filename too long"), "{}", want.stderr);
    // What unzip shows: ^I for a tab, cut at a NUL, raw bytes over 0x7f.
    for part in [
        &b"tab^Ihere\n"[..],
        b"nl^Jx\n",
        b"esc^[[31mred\n",
        b"bad-\xff.bin\n",
        b"nul-\n",
    ] {
        assert!(
            want.stdout.windows(part.len()).any(|w| w == part),
            "unzip -Z1 printed {:?}",
            String::from_utf8_lossy(&want.stdout)
        );
    }
    for piece in [7, 1000, 100_000] {
        let pieces = split(d, "odd.zip", piece, "piece.");
        let got = run(d, "zipinfo", &pieces, &[]);
        got.assert_ok();
        assert!(
            got.stdout == want.stdout,
            "in pieces of {piece}: {:?} vs unzip {:?}",
            String::from_utf8_lossy(&got.stdout),
            String::from_utf8_lossy(&want.stdout)
        );
        remove(d, &pieces);
    }
}

#[test]
fn zipinfo_errors_name_the_offset_and_leave_the_pieces_alone() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tool(d, "python3", &["-c", MAKE_ZIPS], None).assert_ok();
    let pieces = split(d, "many.zip", 20_000, "piece.");
    let before = contents(d, &pieces);
    // Without the last piece: no end record.
    let got = run(d, "zipinfo", &pieces[..pieces.len() - 1], &[]);
    got.assert_code(1);
    assert!(
        got.stderr
            .contains("pieces do not end with a ZIP end-of-central-directory record"),
        "{}",
        got.stderr
    );
    assert_eq!(got.stdout, b"");
    // Without the first piece: the directory the end record describes
    // cannot fit before it.
    let got = run(d, "zipinfo", &pieces[1..], &[]);
    got.assert_code(1);
    assert!(
        got.stderr.contains("central directory at offset ")
            && got.stderr.contains("runs past the end"),
        "{}",
        got.stderr
    );
    // An archive with no entries: unzip -Z1 exits 1 too.
    tool(
        d,
        "python3",
        &[
            "-c",
            "import zipfile; zipfile.ZipFile('empty.zip', 'w').close()",
        ],
        None,
    )
    .assert_ok();
    tool(d, "unzip", &["-Z1", "empty.zip"], None).assert_code(1);
    let got = run(d, "zipinfo", &["empty.zip".to_string()], &[]);
    got.assert_code(1);
    assert!(got.stderr.contains("Empty zipfile."), "{}", got.stderr);
    // Not a ZIP archive at all, and an argument it does not take.
    std::fs::write(d.join("text"), b"just text\n").unwrap();
    let got = run(d, "zipinfo", &["text".to_string()], &[]);
    got.assert_code(1);
    assert!(
        got.stderr.contains("end-of-central-directory"),
        "{}",
        got.stderr
    );
    let got = run(d, "zipinfo", &pieces, &["-v"]);
    got.assert_code(1);
    assert!(
        got.stderr.contains("unexpected argument `-v`"),
        "{}",
        got.stderr
    );
    assert_eq!(contents(d, &pieces), before);
}

/// A sparse disk image of `mib` MiB partitioned by `sfdisk` with `script`.
fn image(dir: &Path, name: &str, mib: u64, script: &str) {
    let f = std::fs::File::create(dir.join(name)).unwrap();
    f.set_len(mib << 20).unwrap();
    drop(f);
    tool(dir, "sfdisk", &["-q", name], Some(script.as_bytes())).assert_ok();
}

/// `sfdisk --json` of the whole image, and the meaningful part of it: the
/// table without the device and node names (and the alignment grain,
/// which is sfdisk's advice for new partitions, not part of the table).
fn sfdisk_json(dir: &Path, name: &str) -> (String, serde_json::Value) {
    let want = tool(dir, "sfdisk", &["--json", name], None);
    want.assert_ok();
    let text = want.stdout_str();
    (text.clone(), meaningful(&text))
}

fn meaningful(text: &str) -> serde_json::Value {
    let mut v: serde_json::Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    let t = v["partitiontable"].as_object_mut().unwrap();
    t.remove("device");
    t.remove("grain");
    for p in t["partitions"].as_array_mut().unwrap() {
        p.as_object_mut().unwrap().remove("node");
    }
    v
}

const GPT_SCRIPT: &str = "label: gpt\ntable-length: 128\n\n\
start=2048, size=20480, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=\"root fs\"\n\
size=10240, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"EFI System\"\n\
size=8192, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, attrs=\"LegacyBIOSBootable GUID:60\"\n\
size=4096, name=\"donn\u{e9}es\"\n\
size=2048, type=21686148-6449-6E6F-744E-656564454649, name=\"bios\"\n";

const DOS_SCRIPT: &str = "label: dos\nlabel-id: 0x1234abcd\n\n\
start=2048, size=8192, type=83, bootable\n\
size=8192, type=7\n\
size=40000, type=5\n\
size=4096, type=82\n\
size=4096, type=c\n\
size=2048, type=83\n";

/// Runs `partitions --json` over the image cut at `piece` bytes and checks
/// it against sfdisk's output for the whole image: the same JSON, and the
/// same text once the first piece's name is replaced by the image's.
fn check_json(d: &Path, name: &str, piece: u64, want: &(String, serde_json::Value)) -> Run {
    let pieces = split(d, name, piece, "piece.");
    assert!(pieces.len() >= 2, "{name} cut at {piece}");
    let got = run(d, "partitions", &pieces, &["--json"]);
    got.assert_ok();
    let text = got.stdout_str();
    assert_eq!(meaningful(&text), want.1, "{name} in pieces of {piece}");
    if !want.0.contains("\"grain\"") {
        assert_eq!(text.replace(&pieces[0], name), want.0, "{name} at {piece}");
    }
    remove(d, &pieces);
    got
}

#[test]
fn partitions_json_equals_sfdisk_json_for_gpt_and_mbr() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    image(d, "gpt.img", 64, GPT_SCRIPT);
    let want = sfdisk_json(d, "gpt.img");
    let parts = want.1["partitiontable"]["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 5);
    assert_eq!(want.1["partitiontable"]["label"], "gpt");
    // Pieces of 1,000,000 bytes (not a multiple of the sector), and a cut
    // 256 bytes into the last sector: the backup header straddles pieces.
    for piece in [1_000_000, (64 << 20) - 256] {
        let got = check_json(d, "gpt.img", piece, &want);
        assert_eq!(got.stderr, "", "a sound GPT warns of nothing");
    }
    // A small image cut into pieces of 700 bytes: every header and entry
    // sector straddles a cut.
    image(
        d,
        "small.img",
        2,
        "label: gpt\nfirst-lba: 34\n\nstart=40, size=100, name=\"a\"\n\
         start=200, size=1000, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"b b\"\n",
    );
    let small = sfdisk_json(d, "small.img");
    check_json(d, "small.img", 700, &small);

    image(d, "dos.img", 64, DOS_SCRIPT);
    let want = sfdisk_json(d, "dos.img");
    assert_eq!(want.1["partitiontable"]["label"], "dos");
    // Two logical partitions in the extended one (numbered 5 and 6).
    assert_eq!(
        want.1["partitiontable"]["partitions"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    check_json(d, "dos.img", 3333, &want);
}

/// The text form: one line per partition, `NUMBER START SIZE TYPE UUID
/// NAME` (gpt) or `NUMBER START SIZE TYPE BOOT` (dos), built here from
/// sfdisk's JSON (the number is the node name's suffix).
#[test]
fn partitions_text_lines_are_sfdisk_fields() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (name, script) in [("gpt.img", GPT_SCRIPT), ("dos.img", DOS_SCRIPT)] {
        image(d, name, 64, script);
        let out = tool(d, "sfdisk", &["--json", name], None);
        out.assert_ok();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut want = String::new();
        for p in v["partitiontable"]["partitions"].as_array().unwrap() {
            let s = |k: &str| match &p[k] {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                v => v.to_string(),
            };
            let number = s("node").strip_prefix(name).unwrap().to_string();
            want += &if p.get("uuid").is_some() {
                format!(
                    "{number} {} {} {} {} {}\n",
                    s("start"),
                    s("size"),
                    s("type"),
                    s("uuid"),
                    s("name")
                )
            } else {
                let boot = if p["bootable"] == true { "*" } else { "-" };
                format!(
                    "{number} {} {} {} {boot}\n",
                    s("start"),
                    s("size"),
                    s("type")
                )
            };
        }
        assert_eq!(want.lines().count(), if name == "gpt.img" { 5 } else { 6 });
        let pieces = split(d, name, 1 << 20, "piece.");
        let got = run(d, "partitions", &pieces, &[]);
        got.assert_ok();
        assert_eq!(got.stdout_str(), want, "{name}");
        remove(d, &pieces);
    }
}

/// A damaged primary GPT header (one byte of the disk GUID flipped, so its
/// CRC no longer matches): the partitions still come from the backup header
/// in the last sector, with gdisk's warning; sfdisk too reads the backup.
/// Both headers damaged: one clear error, exit 1. The pieces never change.
#[test]
fn partitions_fall_back_to_the_backup_gpt_header() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    image(d, "gpt.img", 64, GPT_SCRIPT);
    let (_, sound) = sfdisk_json(d, "gpt.img");
    let flip = |offset: u64| {
        let mut data = std::fs::read(d.join("gpt.img")).unwrap();
        data[offset as usize] ^= 0xFF;
        std::fs::write(d.join("gpt.img"), data).unwrap();
    };
    flip(512 + 60);
    let want = sfdisk_json(d, "gpt.img");
    assert_eq!(want.1, sound, "sfdisk reads the backup header");
    let got = check_json(d, "gpt.img", 1_000_000, &want);
    let last = (64u64 << 20) / 512 - 1;
    assert!(
        got.stderr.contains(&format!(
            "GPT header CRC mismatch at LBA 1; using the backup header at LBA {last}"
        )),
        "{}",
        got.stderr
    );
    // The partition entries damaged instead (a byte of the first name).
    flip(512 + 60);
    flip(1024 + 56);
    let got = check_json(d, "gpt.img", 1_000_000, &sfdisk_json(d, "gpt.img"));
    assert!(
        got.stderr
            .contains("GPT partition entries CRC mismatch at LBA 2 (header at LBA 1)"),
        "{}",
        got.stderr
    );
    // The backup header damaged as well: nothing to trust.
    flip(512 + 60);
    flip((64 << 20) - 512 + 60);
    let pieces = split(d, "gpt.img", 1_000_000, "piece.");
    let before = contents(d, &pieces);
    let got = run(d, "partitions", &pieces, &["--json"]);
    got.assert_code(1);
    assert!(
        got.stderr.contains("GPT header CRC mismatch at LBA 1")
            && got
                .stderr
                .contains(&format!("GPT header CRC mismatch at LBA {last}")),
        "{}",
        got.stderr
    );
    assert_eq!(got.stdout, b"");
    assert_eq!(contents(d, &pieces), before);
    // Not a disk image.
    let got = run(d, "partitions", &["piece.aaaab".to_string()], &[]);
    got.assert_code(1);
    assert!(got.stderr.contains("no partition table"), "{}", got.stderr);
}

/// `fdisk -b 4096` builds a GPT disk image of 4096-byte logical sectors
/// (a 4Kn disk; this machine's sfdisk, util-linux 2.38, has no
/// `--sector-size`, which came in 2.39) with three partitions, two named.
const FDISK_4K_SCRIPT: &str =
    "g\nn\n1\n\n+8M\nn\n2\n\n+16M\nt\n2\n1\nn\n3\n\n\nx\nn\n1\nroot fs\nn\n2\nEFI\nr\nw\n";

/// What `sfdisk --json` prints for a 4Kn disk (the meaningful part), built
/// from `fdisk -b 4096 -x` of the image: the disk GUID, the usable LBAs and
/// each partition's start, size, type, GUID and name.
fn fdisk_4k_json(dir: &Path, name: &str) -> serde_json::Value {
    let out = tool(
        dir,
        "fdisk",
        &[
            "-b",
            "4096",
            "-x",
            "-o",
            "Device,Start,Sectors,Type-UUID,UUID,Name",
            name,
        ],
        None,
    );
    out.assert_ok();
    let text = out.stdout_str();
    let field = |key: &str| -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in fdisk -x: {text}"))
            .trim()
            .to_string()
    };
    let mut parts = Vec::new();
    for l in text
        .lines()
        .skip_while(|l| !l.starts_with("Device"))
        .skip(1)
    {
        let mut w = l.split_whitespace();
        let (_, start, size, ty, uuid) = (w.next(), w.next(), w.next(), w.next(), w.next());
        let name = w.collect::<Vec<_>>().join(" ");
        assert!(uuid.is_some(), "{l}");
        let mut p = serde_json::json!({
            "start": start.unwrap().parse::<u64>().unwrap(),
            "size": size.unwrap().parse::<u64>().unwrap(),
            "type": ty.unwrap(),
            "uuid": uuid.unwrap(),
        });
        if !name.is_empty() {
            p["name"] = name.into();
        }
        parts.push(p);
    }
    assert_eq!(field("Disklabel type:"), "gpt");
    serde_json::json!({"partitiontable": {
        "label": "gpt",
        "id": field("Disk identifier:"),
        "unit": "sectors",
        "firstlba": field("First usable LBA:").parse::<u64>().unwrap(),
        "lastlba": field("Last usable LBA:").parse::<u64>().unwrap(),
        "sectorsize": 4096,
        "partitions": parts,
    }})
}

/// A GPT image of 4096-byte sectors: `--sector-size 4096` (as sfdisk's) and
/// the detection without it list what fdisk lists; pieces cut inside both
/// headers; a damaged primary header falls back to the backup in the last
/// 4 KiB sector; `--sector-size 512` finds no GPT, as sfdisk without the
/// option does not.
#[test]
fn partitions_reads_4096_byte_sectors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let f = std::fs::File::create(d.join("4k.img")).unwrap();
    f.set_len(64 << 20).unwrap();
    drop(f);
    tool(
        d,
        "fdisk",
        &["-b", "4096", "4k.img"],
        Some(FDISK_4K_SCRIPT.as_bytes()),
    );
    let want = fdisk_4k_json(d, "4k.img");
    assert_eq!(
        want["partitiontable"]["partitions"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(want["partitiontable"]["partitions"][0]["name"], "root fs");
    let last = (64u64 << 20) / 4096 - 1;
    // Cuts inside the primary header, inside the backup header, and pieces
    // of 1 MB.
    for piece in [4096 + 30, (64 << 20) - 4096 + 50, 1_000_000] {
        let pieces = split(d, "4k.img", piece, "piece.");
        for args in [&["--json", "--sector-size", "4096"][..], &["--json"][..]] {
            let got = run(d, "partitions", &pieces, args);
            got.assert_ok();
            assert_eq!(
                meaningful(&got.stdout_str()),
                want,
                "{args:?} in pieces of {piece}"
            );
        }
        let got = run(d, "partitions", &pieces, &["--sector-size", "512"]);
        got.assert_code(1);
        assert!(
            got.stderr
                .contains("no GPT signature \"EFI PART\" at LBA 1"),
            "{}",
            got.stderr
        );
        remove(d, &pieces);
    }
    // The primary header damaged (a byte of the disk GUID).
    let mut data = std::fs::read(d.join("4k.img")).unwrap();
    data[4096 + 60] ^= 0xFF;
    std::fs::write(d.join("4k.img"), data).unwrap();
    let pieces = split(d, "4k.img", 1_000_000, "piece.");
    let got = run(d, "partitions", &pieces, &["--json"]);
    got.assert_ok();
    assert_eq!(meaningful(&got.stdout_str()), want);
    assert!(
        got.stderr.contains(&format!(
            "GPT header CRC mismatch at LBA 1; using the backup header at LBA {last}"
        )),
        "{}",
        got.stderr
    );
    remove(d, &pieces);
    // Bad values of the option.
    for bad in ["4000", "x", "8192"] {
        let got = run(
            d,
            "partitions",
            &["4k.img".to_string()],
            &["--sector-size", bad],
        );
        got.assert_code(1);
        assert!(
            got.stderr
                .contains("--sector-size takes 512, 1024, 2048 or 4096"),
            "{}",
            got.stderr
        );
    }
}
