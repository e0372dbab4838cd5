//! `upper`: ASCII-uppercases the whole region in place.
//!
//! Needs a writable run (`--in-place` or `--output`). Bytes other than `a`-`z`
//! are left alone, so UTF-8 text stays valid. Prints nothing on success.
//!
//! Parallel: every byte is transformed on its own, so chunks need no halo
//! and return nothing to reduce.

use mmhost_guest::{region, Chunk, Plugin};

struct Upper;

impl Plugin for Upper {
    fn run(_args: Vec<String>) -> Result<String, String> {
        region::transform_chunks(region::DEFAULT_CHUNK, |_offset, bytes| uppercase(bytes))
            .map_err(|e| e.to_string())?;
        Ok(String::new())
    }

    fn plan(_args: Vec<String>) -> Result<Option<u64>, String> {
        Ok(Some(0))
    }

    fn run_chunk(_args: Vec<String>, chunk: Chunk) -> Result<Vec<u8>, String> {
        region::transform_range(chunk.start..chunk.end, region::DEFAULT_CHUNK, |_, bytes| {
            uppercase(bytes)
        })
        .map_err(|e| e.to_string())?;
        Ok(Vec::new())
    }

    fn reduce(_args: Vec<String>, _partials: Vec<Vec<u8>>) -> Result<String, String> {
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
