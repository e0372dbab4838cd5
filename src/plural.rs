//! Counts in words: `1 byte`, `2 bytes`, `0 files`. Every message that
//! prints a count of something a user can have one of goes through
//! [`count`], so that none says "wrote 1 bytes".

/// `n` and `noun`, the noun in the plural (with `s`) unless `n` is 1:
/// `count(1, "byte")` is `1 byte`, `count(3, "chunk")` is `3 chunks`.
pub fn count(n: impl Into<u128>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(super::count(1u64, "byte"), "1 byte");
        assert_eq!(super::count(0u64, "byte"), "0 bytes");
        assert_eq!(super::count(2u32, "file"), "2 files");
        assert_eq!(super::count(u64::MAX, "byte"), "18446744073709551615 bytes");
    }
}
