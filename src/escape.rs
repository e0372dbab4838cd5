//! Text that mmhost did not write, made safe to print on a terminal.
//!
//! Plugins are untrusted, and so are file names (anyone who can create a
//! file can name it `"\e[2J\nmmhost: error: ..."`). Whatever of theirs
//! reaches mmhost's stdout or stderr goes through this module first, so that
//! neither can send terminal escapes, move the cursor, reorder text with
//! bidirectional controls, or forge a line that looks like one of mmhost's
//! own. It is the one place that decides what a "control character" is
//! ([`is_control`]) and the three ways of neutralizing one:
//!
//! - [`plugin_text`]: a plugin's free text (log messages, `err` text, WASI
//!   output): cut to a size, control characters escaped in Rust's
//!   `\u{1b}` style, every line after the first indented;
//! - [`one_line`]: short names from a plugin (wasm function names, the
//!   `producers` section): every control character escaped, newline too;
//! - [`quote`] / [`Quoted`]: file names, quoted as GNU `ls
//!   --quoting-style=shell-escape` does, so that a name can be copied back
//!   into a shell: a name that needs no quoting is printed bare, any other in
//!   single quotes, with control characters (and bytes that are not UTF-8)
//!   as `$'\033'` escapes.
//!
//! [`terminal_message`] is the last line of defence of `main`: whatever an
//! error message holds, its control characters are escaped and every line
//! after the first is indented. [`json_safe`] does the same for JSON text
//! (`\u` escapes for the control characters JSON allows raw).

use std::fmt;
use std::path::Path;

/// Whether `c` must not reach a terminal raw: C0 and C1 control characters
/// and DEL, and the invisible characters that reorder or break text: the
/// bidirectional controls (U+061C, U+200E, U+200F, U+202A to U+202E, U+2066
/// to U+2069) and the line and paragraph separators (U+2028, U+2029).
pub fn is_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// Text from a plugin made safe to print on a terminal: cut to `max` bytes
/// (at a character boundary, saying how much was dropped), control
/// characters other than newline and tab escaped, and every line after the
/// first indented, so that a plugin cannot forge a line of mmhost's own.
pub fn plugin_text(text: &str, max: usize) -> String {
    let text = text.trim_end();
    let mut cut = text.len().min(max);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = String::with_capacity(cut + 32);
    for c in text[..cut].chars() {
        match c {
            '\n' => out.push_str("\n  "),
            '\t' => out.push('\t'),
            c if is_control(c) => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    if cut < text.len() {
        out.push_str(&format!(" [... {} more bytes dropped]", text.len() - cut));
    }
    out
}

/// A short name from a plugin (a function name, a `producers` entry) on one
/// line: every control character escaped, newline and tab too, cut to `max`
/// bytes.
pub fn one_line(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max) + 8);
    for (i, c) in text.char_indices() {
        if i >= max {
            out.push_str(&format!(" [... {} more bytes]", text.len() - i));
            break;
        }
        if is_control(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A message for the terminal, whatever it holds: control characters other
/// than newline and tab escaped, and every line after the first that does
/// not start with a space indented by two, so that no line of it can pass
/// for one of mmhost's own. Text that [`plugin_text`], [`one_line`] or
/// [`quote`] made comes out unchanged.
pub fn terminal_message(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => {
                out.push('\n');
                if chars.peek().is_some_and(|&n| n != ' ' && n != '\n') {
                    out.push_str("  ");
                }
            }
            '\t' => out.push('\t'),
            c if is_control(c) => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

/// Details printed after a message (a backtrace, a cause chain): control
/// characters other than newline and tab escaped. mmhost writes the lines;
/// names in them come from [`one_line`] or [`quote`].
pub fn terminal_details(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            c if is_control(c) => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

/// JSON text made safe for a terminal without changing what it means: the
/// control characters that JSON allows raw inside strings (DEL, C1, the
/// bidirectional controls and separators of [`is_control`]) become `\u`
/// escapes. serde_json already escapes C0 controls.
pub fn json_safe(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if is_control(c) && c as u32 >= 0x20 {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// A file name (or any path) quoted for a terminal; see [`quote`].
pub struct Quoted<'a>(pub &'a Path);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&quote(self.0))
    }
}

/// `path` quoted as GNU `ls --quoting-style=shell-escape` quotes it in a
/// UTF-8 locale (pasted into a shell, it names the same file):
///
/// - bare when it holds nothing a shell would take specially (`a.txt`,
///   `dir/b-1.log`, `é.txt`);
/// - in double quotes when a single quote is the only special character
///   (`"it's"`);
/// - otherwise in single quotes (`'a b'`), with each control character (of
///   [`is_control`]: C0, DEL, C1, bidirectional controls, separators) and
///   each byte that is not UTF-8 written as a `$'...'` escape: `\t`, `\n`,
///   `\r` and the like by name, the rest as octal bytes (`\033`, `\342\200\256`),
///   and a single quote as `\'`.
pub fn quote(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    quote_bytes(path.as_os_str().as_bytes())
}

/// One piece of a name: text printed as it is, or bytes to escape.
enum Piece<'a> {
    Text(char),
    Bytes(&'a [u8]),
}

fn pieces(bytes: &[u8]) -> Vec<Piece<'_>> {
    let mut out = Vec::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        let valid = chunk.valid();
        for (i, c) in valid.char_indices() {
            if is_control(c) {
                out.push(Piece::Bytes(&valid.as_bytes()[i..i + c.len_utf8()]));
            } else {
                out.push(Piece::Text(c));
            }
        }
        if !chunk.invalid().is_empty() {
            out.push(Piece::Bytes(chunk.invalid()));
        }
    }
    out
}

/// [`quote`] of raw bytes.
pub fn quote_bytes(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "''".to_string();
    }
    let pieces = pieces(bytes);
    let mut escapes = false;
    let mut special = false;
    let mut single_quote = false;
    let only = pieces.len() == 1;
    for (i, p) in pieces.iter().enumerate() {
        match p {
            Piece::Bytes(_) => escapes = true,
            Piece::Text('\'') => single_quote = true,
            Piece::Text('#' | '~') if i == 0 => special = true,
            Piece::Text('{' | '}') if only => special = true,
            Piece::Text(
                ' ' | '!' | '"' | '$' | '&' | '(' | ')' | '*' | ';' | '<' | '=' | '>' | '[' | '\\'
                | '^' | '`' | '|' | '?',
            ) => special = true,
            Piece::Text(_) => {}
        }
    }
    if !escapes && !special && !single_quote {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let double_quotable = pieces
        .iter()
        .all(|p| !matches!(p, Piece::Text('"' | '$' | '`' | '\\' | '!')));
    if single_quote && !escapes && double_quotable {
        // No escapes: the bytes are UTF-8.
        return format!("\"{}\"", String::from_utf8_lossy(bytes));
    }
    // Single quotes; `$'...'` runs for what cannot be written inside them.
    let mut out = String::from("'");
    let mut in_escape = false;
    for p in &pieces {
        match p {
            // Closes the quotes (single or `$'`), a quoted quote, reopens.
            Piece::Text('\'') => {
                out.push_str("'\\''");
                in_escape = false;
            }
            Piece::Text(c) => {
                if in_escape {
                    out.push_str("''");
                    in_escape = false;
                }
                out.push(*c);
            }
            Piece::Bytes(bs) => {
                if !in_escape {
                    out.push_str("'$'");
                    in_escape = true;
                }
                for &b in *bs {
                    match b {
                        b'\x07' => out.push_str("\\a"),
                        b'\x08' => out.push_str("\\b"),
                        b'\t' => out.push_str("\\t"),
                        b'\n' => out.push_str("\\n"),
                        b'\x0b' => out.push_str("\\v"),
                        b'\x0c' => out.push_str("\\f"),
                        b'\r' => out.push_str("\\r"),
                        b => out.push_str(&format!("\\{b:03o}")),
                    }
                }
            }
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_text_is_cut_escaped_and_indented() {
        assert_eq!(plugin_text("plain text\n\n", 100), "plain text");
        assert_eq!(plugin_text("a\nb\tc", 100), "a\n  b\tc");
        assert_eq!(
            plugin_text("x\x1b[31my\rz\u{7f}", 100),
            "x\\u{1b}[31my\\rz\\u{7f}"
        );
        assert_eq!(plugin_text("abcdef", 4), "abcd [... 2 more bytes dropped]");
        // Never inside a UTF-8 character.
        assert_eq!(plugin_text("ééé", 3), "é [... 4 more bytes dropped]");
        // Bidirectional controls and separators are control characters.
        assert_eq!(
            plugin_text("a\u{202e}b\u{2028}c\u{2066}", 100),
            "a\\u{202e}b\\u{2028}c\\u{2066}"
        );
    }

    #[test]
    fn one_line_escapes_newlines_and_bidi() {
        assert_eq!(one_line("run", 100), "run");
        assert_eq!(
            one_line("evil\x1b[2J\nmmhost: error\u{200f}", 100),
            "evil\\u{1b}[2J\\nmmhost: error\\u{200f}"
        );
        assert_eq!(one_line("abcdef", 3), "abc [... 3 more bytes]");
    }

    #[test]
    fn terminal_message_indents_and_escapes() {
        assert_eq!(terminal_message("a: b"), "a: b");
        assert_eq!(
            terminal_message("x\nmmhost: error: forged\x1b]0;t\x07\n  kept"),
            "x\n  mmhost: error: forged\\u{1b}]0;t\\u{7}\n  kept"
        );
    }

    #[test]
    fn json_safe_escapes_what_json_allows_raw() {
        assert_eq!(
            json_safe("{\"a\":\"x\u{9b}y\u{202e}z\u{7f}é\"}"),
            "{\"a\":\"x\\u009by\\u202ez\\u007fé\"}"
        );
        let v: serde_json::Value = serde_json::from_str(&json_safe("\"\u{2028}\"")).unwrap();
        assert_eq!(v, serde_json::json!("\u{2028}"));
    }

    #[test]
    fn quote_follows_gnu_shell_escape() {
        // Expected values as printed by GNU ls 9 (LC_ALL=C.UTF-8
        // --quoting-style=shell-escape); tests/names.rs compares with ls
        // itself when it is installed.
        let cases: &[(&[u8], &str)] = &[
            (b"a.txt", "a.txt"),
            (b"dir/b-1,2+3%:@_].log", "dir/b-1,2+3%:@_].log"),
            ("é".as_bytes(), "é"),
            (b"a b", "'a b'"),
            (b"it's", "\"it's\""),
            (b"it's $x", "'it'\\''s $x'"),
            (b"it's a", "\"it's a\""),
            (b"it's!", "'it'\\''s!'"),
            (b"a'b\"c", "'a'\\''b\"c'"),
            (b"it's\n", "'it'\\''s'$'\\n'"),
            ("\u{2028}".as_bytes(), "''$'\\342\\200\\250'"),
            (b"#x", "'#x'"),
            (b"x#", "x#"),
            (b"{", "'{'"),
            (b"x{", "x{"),
            (b"a?b", "'a?b'"),
            (b"a\\b", "'a\\b'"),
            (b"\x01", "''$'\\001'"),
            (b"t\tb", "'t'$'\\t''b'"),
            (
                b"evil\x1b[31mRED\nx.txt",
                "'evil'$'\\033''[31mRED'$'\\n''x.txt'",
            ),
            (b"\xff\xfe", "''$'\\377\\376'"),
            ("\u{85}".as_bytes(), "''$'\\302\\205'"),
            ("r\u{202e}o".as_bytes(), "'r'$'\\342\\200\\256''o'"),
            (b"", "''"),
        ];
        for (raw, want) in cases {
            assert_eq!(quote_bytes(raw), *want, "{raw:?}");
        }
    }
}
