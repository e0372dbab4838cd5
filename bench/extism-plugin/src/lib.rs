//! Extism exports `upper` (input bytes -> uppercased bytes) and `count`
//! (input bytes -> decimal count of the config key `pattern`).

use bench_kernels::{uppercase, Counter};
use extism_pdk::*;

#[plugin_fn]
pub fn upper(mut input: Vec<u8>) -> FnResult<Vec<u8>> {
    uppercase(&mut input);
    Ok(input)
}

#[plugin_fn]
pub fn count(input: Vec<u8>) -> FnResult<String> {
    let pattern = config::get("pattern")?.unwrap_or_default();
    if pattern.is_empty() {
        return Ok((input.len() + 1).to_string());
    }
    let mut counter = Counter::new(pattern.as_bytes());
    counter.feed(0, &input);
    Ok(counter.count().to_string())
}
