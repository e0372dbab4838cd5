//! `upper`: ASCII-uppercases the whole region in place.
//!
//! Needs a writable run (`--in-place` or `--output`). Bytes other than `a`-`z`
//! are left alone, so UTF-8 text stays valid. Prints nothing on success.

use mmhost_guest::{region, Plugin};

struct Upper;

impl Plugin for Upper {
    fn run(_args: Vec<String>) -> Result<String, String> {
        region::transform_chunks(region::DEFAULT_CHUNK, |_offset, bytes| uppercase(bytes))
            .map_err(|e| e.to_string())?;
        Ok(String::new())
    }
}

/// ASCII-uppercases `bytes`. Branch-free, so that it vectorises (simd128).
fn uppercase(bytes: &mut [u8]) {
    for b in bytes {
        *b -= u8::from(b.wrapping_sub(b'a') < 26) * 32;
    }
}

mmhost_guest::export!(Upper);
