//! Go durations (`time.ParseDuration`) as Docker's duration flags take them, in nanoseconds, with Go's error
//! wording. Negative durations are refused, since every duration in a spec is unsigned.

/// A duration Go's `time.ParseDuration` refuses, in its wording, or a negative one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("time: invalid duration {text:?}")]
    Invalid { text: String },
    #[error("time: missing unit in duration {text:?}")]
    MissingUnit { text: String },
    #[error("time: unknown unit {unit:?} in duration {text:?}")]
    UnknownUnit { unit: String, text: String },
    #[error("duration cannot be negative")]
    Negative,
}

/// A Go duration (`time.ParseDuration`) in nanoseconds: `300ms`, `1.5s`, `1m30s`, `2h`, `0`; units ns, us (µs, μs),
/// ms, s, m, h. Go's errors (`time: unknown unit "x" in duration "5x"`); negative durations are refused, as
/// Docker's positive-duration flags do, since every spec duration is unsigned.
pub fn parse_duration(text: &str) -> Result<u64, DurationError> {
    const MAX: u128 = i64::MAX as u128;
    let invalid_duration = || DurationError::Invalid { text: text.to_string() };
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid_duration());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        if !rest.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
            return Err(invalid_duration());
        }
        let int_end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let (int_digits, after) = rest.split_at(int_end);
        let mut whole: u128 = 0;
        for digit in int_digits.bytes() {
            whole = whole * 10 + u128::from(digit - b'0');
            if whole > MAX {
                return Err(invalid_duration());
            }
        }
        rest = after;
        let (mut fraction, mut scale, mut fraction_digits) = (0u128, 1u128, false);
        if let Some(after_dot) = rest.strip_prefix('.') {
            let end = after_dot.find(|c: char| !c.is_ascii_digit()).unwrap_or(after_dot.len());
            for digit in after_dot[..end].bytes() {
                // Digits beyond nanosecond precision of the largest unit change nothing; Go drops them too.
                if scale < 10u128.pow(24) {
                    fraction = fraction * 10 + u128::from(digit - b'0');
                    scale *= 10;
                }
            }
            fraction_digits = end > 0;
            rest = &after_dot[end..];
        }
        if int_digits.is_empty() && !fraction_digits {
            return Err(invalid_duration());
        }
        let unit_end = rest.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(rest.len());
        let unit_text = &rest[..unit_end];
        if unit_text.is_empty() {
            return Err(DurationError::MissingUnit { text: text.to_string() });
        }
        let unit: u128 = match unit_text {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3600 * 1_000_000_000,
            _ => return Err(DurationError::UnknownUnit { unit: unit_text.to_string(), text: text.to_string() }),
        };
        rest = &rest[unit_end..];
        total += whole * unit + fraction * unit / scale;
        if total > MAX {
            return Err(invalid_duration());
        }
    }
    if negative && total != 0 {
        return Err(DurationError::Negative);
    }
    Ok(total as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarm_core::spec::SECOND_NS;

    #[test]
    fn durations_parse_like_go() {
        let good: &[(&str, u64)] = &[
            ("0", 0),
            ("-0", 0),
            ("+0", 0),
            ("0s", 0),
            ("300ms", 300_000_000),
            ("1.5s", 1_500_000_000),
            ("1m30s", 90 * SECOND_NS),
            ("2h", 7200 * SECOND_NS),
            ("1h2m3.5s", 3723 * SECOND_NS + 500_000_000),
            (".5s", 500_000_000),
            ("5.s", 5 * SECOND_NS),
            ("+5s", 5 * SECOND_NS),
            ("10ns", 10),
            ("1us", 1_000),
            ("1\u{b5}s", 1_000),
            ("1\u{3bc}s", 1_000),
            ("1.000000001s", 1_000_000_001),
            ("0.1234567891s", 123_456_789),
            ("2562047h", 2_562_047 * 3600 * SECOND_NS),
        ];
        for (text, expected) in good {
            assert_eq!(parse_duration(text), Ok(*expected), "{text}");
        }
        let bad: &[(&str, &str)] = &[
            ("5x", r#"time: unknown unit "x" in duration "5x""#),
            ("5", r#"time: missing unit in duration "5""#),
            ("1h30", r#"time: missing unit in duration "1h30""#),
            ("1.2.3s", r#"time: missing unit in duration "1.2.3s""#),
            ("5 s", r#"time: unknown unit " s" in duration "5 s""#),
            ("", r#"time: invalid duration """#),
            ("s", r#"time: invalid duration "s""#),
            (".s", r#"time: invalid duration ".s""#),
            ("-", r#"time: invalid duration "-""#),
            ("3000000h", r#"time: invalid duration "3000000h""#),
            ("99999999999999999999s", r#"time: invalid duration "99999999999999999999s""#),
            ("-1s", "duration cannot be negative"),
            ("-1x", r#"time: unknown unit "x" in duration "-1x""#),
        ];
        for (text, expected) in bad {
            assert_eq!(parse_duration(text).map_err(|e| e.to_string()), Err(expected.to_string()), "{text}");
        }
    }
}
