//! Sizes and durations as users write them, on the command line and in job
//! files: `64M`, `1GiB`, `500ms`, `30s`, `5m`.

use std::time::Duration;

/// Parses a size in bytes: digits with an optional unit `K`, `M`, `G` or `T`
/// (powers of 1024, case-insensitive, optionally followed by `B` or `iB`).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        None => (s, 1u64),
        Some((i, _)) => {
            let mult = match s[i..]
                .to_ascii_uppercase()
                .trim_end_matches("IB")
                .trim_end_matches('B')
            {
                "" => 1,
                "K" => 1 << 10,
                "M" => 1 << 20,
                "G" => 1 << 30,
                "T" => 1 << 40,
                _ => return Err(format!("unknown unit in `{s}` (use K, M, G or T)")),
            };
            (&s[..i], mult)
        }
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("not a size: `{s}`"))
}

/// Parses a duration: a number with an optional unit `ms`, `s` (the
/// default), `m` or `h`.
///
/// A duration too long for [`Duration`] (hundreds of billions of years)
/// saturates at [`Duration::MAX`]: it means "no limit", on the command line
/// and in a job file alike (see `saturating_secs`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let per_unit: u64 = match unit {
        "ms" => 0,
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(format!("unknown unit in `{s}` (use ms, s, m or h)")),
    };
    // Whole numbers exactly (an f64 would round 2^64-1 up past u64).
    if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(match number.parse::<u64>() {
            Ok(n) if per_unit == 0 => Duration::from_millis(n),
            Ok(n) => n
                .checked_mul(per_unit)
                .map_or(Duration::MAX, Duration::from_secs),
            Err(_) => Duration::MAX,
        });
    }
    let value: f64 = number
        .parse()
        .map_err(|_| format!("not a duration: `{s}` (e.g. 500ms, 30s, 5m)"))?;
    let secs = match per_unit {
        0 => value / 1000.0,
        n => value * n as f64,
    };
    saturating_secs(secs).ok_or_else(|| format!("not a duration: `{s}`"))
}

/// `secs` seconds as a [`Duration`], saturating at [`Duration::MAX`];
/// `None` for a negative number or NaN.
pub(crate) fn saturating_secs(secs: f64) -> Option<Duration> {
    if secs.is_nan() || secs < 0.0 {
        return None;
    }
    Some(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX))
}

/// Formats a duration the way [`parse_duration`] reads it back: whole
/// seconds as `30s`, anything else in milliseconds (`1500ms`, `0.25ms`).
pub fn format_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}ms", d.as_nanos() as f64 / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("64mib"), Ok(64 << 20));
        assert_eq!(parse_size("2GB"), Ok(2 << 30));
        assert_eq!(parse_size("10K"), Ok(10 << 10));
        assert!(parse_size("12X").unwrap_err().contains("unknown unit"));
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn durations_round_trip() {
        for text in ["30s", "0s", "1500ms", "5m", "2h", "0.25ms", "1.5s", "250"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{text}");
        }
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::from_secs(300)), "300s");
        assert!(parse_duration("5 parsecs").is_err());
        // Too long for a Duration: saturates, whatever the spelling.
        for huge in ["99999999999999999999999", "5000000000000000000h"] {
            assert_eq!(parse_duration(huge), Ok(Duration::MAX), "{huge}");
        }
        assert_eq!(
            parse_duration("18446744073709551615s"),
            Ok(Duration::from_secs(u64::MAX))
        );
        assert_eq!(
            saturating_secs(9.3e18),
            Some(Duration::from_secs(9_300_000_000_000_000_000))
        );
        assert_eq!(saturating_secs(1e300), Some(Duration::MAX));
        assert_eq!(saturating_secs(-1.0), None);
        assert!(parse_duration("-1s").is_err());
    }
}
