//! File lists: the input files of a run read from a file, one path a line
//! (or NUL-separated), as `tar -T`, `rsync --files-from` and `xargs -a` take
//! them. `mmhost run --files-from LIST` and a job file's `"inputs_from"`
//! read lists here.
//!
//! A command line is limited by the kernel (`Argument list too long` at a few
//! megabytes of arguments); a list is not, so a run over 50,000 files works
//! the same as one over five. The list's order is the region's order.
//!
//! This module owns the list format and its errors: every error names the
//! list file and the line (or, with `--null`, the entry) it is about, so that
//! a typo in line 31,207 of a generated list is found at once. A listed file
//! that does not exist or is not a regular file is an input error (exit code
//! 3), as on the command line; a list that is malformed (an empty line) is a
//! usage error (exit code 2); a list that cannot be read is an input error.

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::{describe_io, Error, ErrorKind, Result};

/// How entries are separated in a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Separator {
    /// One path a line (`\n`); a final newline is optional. A path cannot
    /// contain a newline this way.
    Newline,
    /// Paths separated (or terminated) by NUL bytes, as `find -print0`
    /// writes them; any path can be listed.
    Nul,
}

/// Reads the list at `list` (`-`: standard input) and returns its paths in
/// order, relative ones joined to `base` (empty: the current directory).
///
/// Each listed path must name a regular file (checked here, so that the
/// error names the list's line). Empty entries are refused, except for the
/// terminator after the last entry.
pub fn read(list: &Path, sep: Separator, base: &Path) -> Result<Vec<PathBuf>> {
    let bytes = read_bytes(list)?;
    parse(&bytes, list, sep, base)
}

/// `files` followed by the paths of the list at `list` (if any; `null`: a
/// NUL-separated list), as `--files-from LIST` adds them to FILEs.
///
/// # Errors
/// The errors of [`read`].
pub fn extend(mut files: Vec<PathBuf>, list: Option<&Path>, null: bool) -> Result<Vec<PathBuf>> {
    if let Some(list) = list {
        let sep = if null {
            Separator::Nul
        } else {
            Separator::Newline
        };
        files.extend(read(list, sep, Path::new(""))?);
    }
    Ok(files)
}

fn read_bytes(list: &Path) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let read = if list.as_os_str() == "-" {
        std::io::stdin().lock().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::File::open(list).and_then(|mut f| f.read_to_end(&mut bytes).map(|_| ()))
    };
    read.map_err(|e| {
        Error::new(
            ErrorKind::Input,
            format!(
                "{}: cannot read the file list: {}",
                display_list(list),
                describe_io(&e)
            ),
        )
    })?;
    Ok(bytes)
}

fn display_list(list: &Path) -> String {
    if list.as_os_str() == "-" {
        "standard input".to_string()
    } else {
        list.display().to_string()
    }
}

/// Splits and checks the text of a list (see [`read`]); `list` is named in
/// errors.
pub fn parse(bytes: &[u8], list: &Path, sep: Separator, base: &Path) -> Result<Vec<PathBuf>> {
    let (byte, what) = match sep {
        Separator::Newline => (b'\n', "line"),
        Separator::Nul => (0u8, "entry"),
    };
    let body = bytes.strip_suffix(&[byte]).unwrap_or(bytes);
    let name = display_list(list);
    if body.is_empty() {
        return Err(Error::new(
            ErrorKind::Usage,
            format!("{name}: the file list is empty: it names no file"),
        ));
    }
    let mut paths = Vec::new();
    for (i, entry) in body.split(|&b| b == byte).enumerate() {
        let n = i + 1;
        let place = match sep {
            Separator::Newline => format!("{name}:{n}"),
            Separator::Nul => format!("{name}: {what} {n}"),
        };
        if entry.is_empty() {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("{place}: empty {what}: each {what} names one file"),
            ));
        }
        if sep == Separator::Newline && entry.contains(&0) {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("{place}: contains a NUL byte (a NUL-separated list needs --null)"),
            ));
        }
        let path = Path::new(OsStr::from_bytes(entry));
        let path = if path.is_absolute() || base.as_os_str().is_empty() {
            path.to_path_buf()
        } else {
            base.join(path)
        };
        let meta = std::fs::metadata(&path).map_err(|e| {
            let why = if e.kind() == std::io::ErrorKind::NotFound {
                "file not found".to_string()
            } else {
                describe_io(&e)
            };
            Error::new(
                ErrorKind::Input,
                format!("{place}: {}: {why}", path.display()),
            )
        })?;
        if !meta.is_file() {
            return Err(Error::new(
                ErrorKind::Input,
                format!(
                    "{place}: {}: {}",
                    path.display(),
                    crate::region::inputs::file_type_name(&meta.file_type())
                ),
            ));
        }
        paths.push(path);
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_nul_entries_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for n in ["b", "a", "c d"] {
            std::fs::write(dir.path().join(n), n).unwrap();
        }
        let list = Path::new("l.txt");
        let got = parse(b"b\na\nc d\n", list, Separator::Newline, dir.path()).unwrap();
        assert_eq!(
            got,
            ["b", "a", "c d"].map(|n| dir.path().join(n)).to_vec(),
            "list order, relative to the base"
        );
        let got = parse(b"c d\0a", list, Separator::Nul, dir.path()).unwrap();
        assert_eq!(got, ["c d", "a"].map(|n| dir.path().join(n)).to_vec());
    }

    #[test]
    fn errors_name_the_list_and_the_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "a").unwrap();
        let list = Path::new("l.txt");
        let e = parse(b"a\n\na\n", list, Separator::Newline, dir.path()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage);
        assert!(e.message().starts_with("l.txt:2: empty line"), "{e}");
        let e = parse(b"a\nnope\n", list, Separator::Newline, dir.path()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Input);
        assert!(e.message().starts_with("l.txt:2: "), "{e}");
        assert!(e.message().ends_with("nope: file not found"), "{e}");
        let e = parse(b"a\0\0", list, Separator::Nul, dir.path()).unwrap_err();
        assert!(
            e.message().starts_with("l.txt: entry 2: empty entry"),
            "{e}"
        );
        let e = parse(b"", list, Separator::Newline, dir.path()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage);
        let e = parse(b".\n", list, Separator::Newline, dir.path()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Input, "a directory: {e}");
    }
}
