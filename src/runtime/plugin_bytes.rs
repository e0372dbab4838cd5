//! What the bytes of a plugin file are, before anything parses them as a
//! module or component: binary WebAssembly, WebAssembly text, or neither.
//!
//! `mmhost run`, `mmhost inspect` and `mmhost wrap` all start here, so that
//! a file that is not WebAssembly is worded one way everywhere
//! ([`NotWasm`]), whichever command met it.

use std::path::Path;

use crate::error::Error;

/// Why the bytes of a plugin file are not WebAssembly a plugin can be made
/// of. Its message follows `plugin FILE: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotWasm {
    /// Neither the binary header nor text.
    #[error("not a WebAssembly file (no \\0asm header, and not .wat text)")]
    NoHeader,
    /// Text that does not parse as WebAssembly text.
    #[error("not valid WebAssembly text: {0}")]
    BadText(String),
    /// The binary header, but not even a whole preamble (8 bytes).
    #[error("truncated WebAssembly file ({0} bytes)")]
    Truncated(usize),
    /// A preamble of neither a core module nor a component.
    #[error("unsupported WebAssembly version (neither a core module nor a component)")]
    UnknownVersion,
}

/// The binary of a plugin file, and whether it was given as text.
pub(crate) struct Binary {
    /// The binary WebAssembly (the text's, parsed, for `.wat`).
    pub bytes: Vec<u8>,
    /// It was WebAssembly text.
    pub text: bool,
    /// It is a component (else a core module).
    pub component: bool,
}

/// The binary of `bytes` (a plugin file's content), parsing text if it is
/// text.
///
/// # Errors
/// [`NotWasm`], as a plugin-load error naming `path` (exit code 4).
pub(crate) fn binary(path: &Path, bytes: Vec<u8>) -> Result<Binary, Error> {
    classify(bytes).map_err(|e| Error::plugin_load(path, e))
}

fn classify(bytes: Vec<u8>) -> Result<Binary, NotWasm> {
    let (bytes, text) = if bytes.starts_with(b"\0asm") {
        (bytes, false)
    } else if looks_like_text(&bytes) {
        let parsed = wat::parse_bytes(&bytes).map_err(|e| NotWasm::BadText(one_line(&e)))?;
        (parsed.into_owned(), true)
    } else {
        return Err(NotWasm::NoHeader);
    };
    if bytes.len() < 8 {
        return Err(NotWasm::Truncated(bytes.len()));
    }
    let component = match bytes[4..8] {
        [1, 0, 0, 0] => false,
        [0x0d, 0, 1, 0] => true,
        _ => return Err(NotWasm::UnknownVersion),
    };
    Ok(Binary {
        bytes,
        text,
        component,
    })
}

fn looks_like_text(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|s| {
        let s = s.trim_start();
        s.starts_with('(') || s.starts_with(";;")
    })
}

fn one_line(e: &dyn std::fmt::Display) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_bytes_is_told_apart() {
        assert_eq!(classify(b"hello".to_vec()).err(), Some(NotWasm::NoHeader));
        assert_eq!(
            classify(b"\0asm".to_vec()).err(),
            Some(NotWasm::Truncated(4))
        );
        assert_eq!(
            classify(b"\0asm\x02\0\0\0".to_vec()).err(),
            Some(NotWasm::UnknownVersion)
        );
        assert!(matches!(
            classify(b"(module (oops))".to_vec()).err(),
            Some(NotWasm::BadText(_))
        ));
        let m = classify(b";; a comment\n(module)".to_vec()).unwrap();
        assert!(m.text && !m.component && m.bytes.starts_with(b"\0asm"));
        let c = classify(b"(component)".to_vec()).unwrap();
        assert!(c.text && c.component);
    }
}
