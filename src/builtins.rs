//! Built-in plugins: plugins shipped inside the `mmhost` binary and run by
//! name (`mmhost run wc logs/*`), so that an installed mmhost does real work
//! without a build folder.
//!
//! This module owns the naming rule and the catalogue. A PLUGIN argument (or
//! a job step's `"plugin"`) that contains a `/` or ends in `.wasm` or `.wat`
//! is a file; anything else is a built-in name, and an unknown name is a
//! plugin-load error (exit code 4) that lists the names. The modules are
//! built from `plugins/` by `build.rs` (never committed as binaries) and
//! embedded as core modules; the runtime wraps and compiles them like any
//! plugin file, through the same compilation cache.

use std::path::Path;

use crate::error::{Error, ErrorKind, Result};

include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

/// What `mmhost plugins` says about a built-in.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    /// The name it runs by.
    pub name: &'static str,
    /// Its arguments (what follows `--`), as a usage line.
    pub usage: &'static str,
    /// One line: what it does.
    pub summary: &'static str,
    /// The longer help of `mmhost plugins NAME`.
    pub help: &'static str,
}

/// The catalogue, in listing order. `build.rs` builds a module for each.
pub const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "wc",
        usage: "[-l] [-w] [-c]",
        summary: "newline, word and byte counts per file and in total, as `LC_ALL=C wc`",
        help: "\
Prints, for each input file, its newline, word and byte counts (or only those
asked for with -l, -w, -c, in that order) and a total line when there are
several files, byte for byte as `LC_ALL=C wc [-l] [-w] [-c] FILE...` prints
them: a word is a run of bytes that are not ASCII white space; columns are as
wide as the digits of the total size. Without -w the host counts the
newlines (region.count), nothing is copied. Parallel: chunks count on every
core.",
    },
    Builtin {
        name: "sha256sum",
        usage: "[--region]",
        summary: "SHA-256 of each file, as `sha256sum FILE...` (--region: of the concatenation)",
        help: "\
Prints `HASH  NAME` for each input file, as `sha256sum FILE...` does (names
with a backslash or newline are escaped as sha256sum escapes them). With
--region, one line `HASH  -`: the digest of the concatenation, as
`cat FILE... | sha256sum`. The host computes each digest (region.digest,
with the CPU's SHA instructions). Serial: SHA-256 is a chain over the bytes.",
    },
    Builtin {
        name: "grep",
        usage: "[-F] [-i] [-n] [-c] PATTERN",
        summary: "lines matching PATTERN, as `LC_ALL=C grep -a -H -E` (or -F)",
        help: "\
Prints the lines that match PATTERN, each as `FILE:LINE` (with -n,
`FILE:NUMBER:LINE`), or with -c the number of matching lines per file, byte
for byte as `LC_ALL=C grep -a -H [-F] [-i] [-n] [-c] -E PATTERN FILE...`:
PATTERN is an extended regular expression, or a fixed string with -F; -i
ignores ASCII case. Lines never span files (a file without a final newline
ends its last line). Exit: `err` (code 1) when nothing matched, as grep.
-F without -i is searched by the host (region.find, region.count). Parallel:
a chunk searches the lines that start in it and the output is assembled in
order; a line longer than 1 MiB past its chunk is searched at the end.",
    },
    Builtin {
        name: "xxd",
        usage: "[-s OFFSET] [-l LEN]",
        summary: "hex dump of the concatenation, as `xxd -s OFFSET -l LEN` (negative OFFSET: from the end)",
        help: "\
Prints a hex dump of LEN bytes of the region from OFFSET, as `xxd -s OFFSET
-l LEN` prints it for the concatenated file: hex offsets, 16 bytes a line in
groups of two, the bytes as ASCII. A negative OFFSET counts from the end of
the region (read at a negative offset). Decimal or 0x hex. Serial.",
    },
    Builtin {
        name: "replace",
        usage: "OLD NEW",
        summary: "replaces OLD with NEW (same length) across the files, as Python's data.replace",
        help: "\
Replaces every occurrence of OLD with NEW in the concatenation, as Python's
`data.replace(OLD, NEW)`: leftmost, non-overlapping, across file boundaries
too. OLD and NEW must have the same length (sizes never change). Prints the
number of replacements. Writes: run it with --in-place (all files change
together or none), --output or --output-dir. Serial.",
    },
    Builtin {
        name: "redact",
        usage: "REGEX",
        summary: "replaces each match of REGEX with as many X bytes, line by line as sed",
        help: "\
Replaces every match of REGEX with as many `X` bytes as it has (sizes never
change), line by line as sed works: a match never includes a newline, and
lines never span files. Equals Python's re.sub with that replacement on each
line. REGEX: the regex crate's syntax on bytes (ASCII classes). With
--in-place (all files together or none), --output or --output-dir it writes
and prints the number of matches; without, it prints the redacted text on
stdout. Parallel: chunks redact the lines up to 1 MiB long that overlap
them; longer lines are redacted at the end, and the output is the same.",
    },
    Builtin {
        name: "zipinfo",
        usage: "",
        summary: "member names of a ZIP archive given in pieces, as `unzip -Z1` (zip64 too)",
        help: "\
Prints the name of each member of the ZIP archive that the inputs make when
concatenated (an archive cut with `split -b`, say), one a line, byte for byte
as `unzip -Z1 ARCHIVE`: the end-of-central-directory record is found from the
end (the last 64 KiB + 22 bytes), zip64 archives are read through their zip64
end record, and the central directory may straddle pieces. Names print as
unzip prints them: control bytes as ^X (^I for a tab), cut at a NUL and at
4,095 bytes. Errors name the offset. Serial.",
    },
    Builtin {
        name: "partitions",
        usage: "[--json] [--sector-size 512|1024|2048|4096]",
        summary: "partitions of a disk image given in pieces (MBR, GPT), as `sfdisk --json`",
        help: "\
Lists the partitions of the disk image that the inputs make when concatenated
(512-byte sectors; --sector-size N as sfdisk's; a GPT disk of 4096-byte
sectors is detected from where its header is): MBR (dos; logical partitions too) or GPT. GPT: both
headers' CRC32 and the entries' CRC32 are checked; the backup header is read
from the last sector; a damaged primary header falls back to the backup with
a warning, as gdisk does. --json prints what `sfdisk --json IMAGE` prints
(device and node names are those of the first piece). Without it, one line
per partition, fields separated by one space:
  gpt: NUMBER START SIZE TYPE-GUID PARTITION-GUID NAME   (NAME may be empty)
  dos: NUMBER START SIZE TYPE BOOT   (TYPE in hex as `83`, BOOT `*` or `-`)
START and SIZE in sectors. Serial.",
    },
    Builtin {
        name: "upper",
        usage: "",
        summary: "ASCII-uppercases the region in place (needs -i or -o)",
        help: "Uppercases every ASCII letter of the region; writes, so run it with\n--in-place, --output or --output-dir. Parallel.",
    },
    Builtin {
        name: "checksum",
        usage: "",
        summary: "prints `<sha256 hex> <size>` of the whole region",
        help: "Prints the SHA-256 of the concatenation and its size (a reference plugin;\nsee sha256sum for the coreutils format).",
    },
    Builtin {
        name: "count",
        usage: "PATTERN",
        summary: "number of non-overlapping occurrences of PATTERN, as Python's bytes.count",
        help: "Counts the non-overlapping occurrences of PATTERN (its UTF-8 bytes) in the\nregion, matches across file boundaries included. In a job file the pattern\nmay be the step's config {\"pattern\": \"...\"}. Parallel.",
    },
    Builtin {
        name: "tail",
        usage: "N",
        summary: "emits the last N bytes of the region",
        help: "Emits the last N bytes of the concatenation (read at a negative offset).",
    },
    Builtin {
        name: "reverse",
        usage: "",
        summary: "reverses the region's bytes in place (needs -i or -o)",
        help: "Reverses the bytes of the whole concatenation; writes, so run it with\n--in-place, --output or --output-dir.",
    },
];

/// Whether `plugin` names a built-in rather than a file: no `/`, and not
/// ending in `.wasm` or `.wat`.
pub fn is_name(plugin: &Path) -> bool {
    let s = plugin.as_os_str().as_encoded_bytes();
    !s.is_empty() && !s.contains(&b'/') && !s.ends_with(b".wasm") && !s.ends_with(b".wat")
}

/// The built-in called `name`.
pub fn get(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// The names of the built-ins, comma-separated.
pub fn names() -> String {
    BUILTINS
        .iter()
        .map(|b| b.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The error for a name that is no built-in (exit code 4).
pub fn unknown(name: &Path) -> Error {
    Error::new(
        ErrorKind::PluginLoad,
        format!(
            "{}: no built-in plugin of that name (built-ins: {}); a plugin file is named with a \
             `/` or a .wasm/.wat ending, e.g. ./{}",
            name.display(),
            names(),
            name.display()
        ),
    )
}

/// The core module of the built-in `plugin` names: `Ok(None)` if `plugin`
/// is a file, an error if it is a name that is no built-in.
pub fn module(plugin: &Path) -> Result<Option<&'static [u8]>> {
    if !is_name(plugin) {
        return Ok(None);
    }
    MODULES
        .iter()
        .find(|(n, _)| Path::new(n) == plugin)
        .map(|(_, m)| Some(*m))
        .ok_or_else(|| unknown(plugin))
}

/// `mmhost run NAME --help` (or `-h`) for a built-in NAME: its help, as
/// `mmhost plugins NAME` prints it, instead of the help of `run`. `args`
/// are the command line's arguments after the program's name; `None` when
/// they are not that or NAME is not a built-in.
pub fn run_help(args: &[String]) -> Option<String> {
    match args {
        [run, name, help] if run == "run" && (help == "--help" || help == "-h") => {
            describe(Some(name)).ok()
        }
        _ => None,
    }
}

/// The text `mmhost plugins` prints: one line per built-in, or the help of
/// the one called `name`.
pub fn describe(name: Option<&str>) -> Result<String> {
    match name {
        None => {
            let width = BUILTINS
                .iter()
                .map(|b| b.name.len() + 1 + b.usage.len())
                .max()
                .unwrap_or(0);
            let mut text = String::from(
                "Built-in plugins (mmhost run NAME FILE... -- ARGS; mmhost plugins NAME for help):\n",
            );
            for b in BUILTINS {
                let call = format!("{} {}", b.name, b.usage);
                text += &format!("  {call:<width$}  {}\n", b.summary);
            }
            Ok(text)
        }
        Some(n) => {
            let b = get(n).ok_or_else(|| unknown(Path::new(n)))?;
            Ok(format!(
                "usage: mmhost run [OPTIONS] {} FILE... -- {}\n\n{}\n\n{}\n",
                b.name, b.usage, b.summary, b.help
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_builtin_has_a_module_and_back() {
        let listed: Vec<&str> = BUILTINS.iter().map(|b| b.name).collect();
        let built: Vec<&str> = MODULES.iter().map(|(n, _)| *n).collect();
        assert_eq!(listed, built, "src/builtins.rs and build.rs disagree");
        for (name, module) in MODULES {
            assert!(
                module.starts_with(b"\0asm\x01\0\0\0"),
                "{name}: a core module"
            );
        }
    }

    #[test]
    fn names_and_files() {
        for file in ["./wc", "wc.wasm", "a/b", "x.wat", "/abs/wc"] {
            assert!(!is_name(Path::new(file)), "{file}");
            assert_eq!(module(Path::new(file)).unwrap(), None);
        }
        assert!(module(Path::new("wc")).unwrap().is_some());
        let e = module(Path::new("wcc")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PluginLoad);
        assert!(e.message().contains("wc, sha256sum"), "{e}");
    }
}
