//! Numbers in partial results: unsigned LEB128, the compact variable-length
//! encoding (7 bits a byte, high bit set on every byte but the last) that
//! a parallel plugin's `run-chunk` can use to hand offsets and counts to
//! `reduce` within the host's 1 MiB limit on a partial result. The built-in
//! `grep` and `redact` encode their items with it.

/// Appends `v` to `out` (1 to 10 bytes).
pub fn put_u64(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Reads the number at `*pos` of `bytes` and moves `*pos` past it; `None`
/// if `bytes` ends inside it or it is longer than a `u64` can be.
pub fn get_u64(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_and_truncation_is_none() {
        let values = [0, 1, 127, 128, 300, 1 << 35, u64::MAX];
        let mut out = Vec::new();
        for v in values {
            put_u64(&mut out, v);
        }
        // LEB128 of 300 is ac 02; of u64::MAX, nine ff and a 01.
        assert_eq!(&out[5..7], &[0xac, 0x02]);
        let mut pos = 0;
        for v in values {
            assert_eq!(get_u64(&out, &mut pos), Some(v));
        }
        assert_eq!(pos, out.len());
        let mut pos = 0;
        assert_eq!(get_u64(&[0x80, 0x80], &mut pos), None);
    }
}
