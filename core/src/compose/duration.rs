//! Go's `time.Duration` as compose files write it (`90s`, `1m30s`, `1.5h`, `500ms`): parsed with the rules of
//! `time.ParseDuration` and printed with those of `Duration.String`, so `stack config` prints `1m30s` for `90s`
//! exactly as Docker does. Nanoseconds in an `i64`, like Go; overflow is an error, never a wrap.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A span of time in nanoseconds, as Go's `time.Duration`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Duration {
    pub nanos: i64,
}

const NANOSECOND: u64 = 1;
const MICROSECOND: u64 = 1_000;
const MILLISECOND: u64 = 1_000_000;
const SECOND: u64 = 1_000_000_000;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;
const OVERFLOW: u64 = 1 << 63;

impl Duration {
    pub const fn from_nanos(nanos: i64) -> Self {
        Duration { nanos }
    }

    pub const fn from_secs(secs: i64) -> Self {
        Duration { nanos: secs * SECOND as i64 }
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// `time.ParseDuration`: an optional sign, then one or more decimal numbers each with a unit (`ns`, `us`,
    /// `µs`, `ms`, `s`, `m`, `h`); `0` alone is zero.
    pub fn parse(text: &str) -> Result<Duration, String> {
        let invalid = || format!("time: invalid duration {text:?}");
        let mut rest = text;
        let mut negative = false;
        if let Some(first) = rest.chars().next() {
            if first == '-' || first == '+' {
                negative = first == '-';
                rest = &rest[1..];
            }
        }
        if rest == "0" {
            return Ok(Duration::default());
        }
        if rest.is_empty() {
            return Err(invalid());
        }
        let mut total: u64 = 0;
        while !rest.is_empty() {
            let first = rest.as_bytes()[0];
            if !(first == b'.' || first.is_ascii_digit()) {
                return Err(invalid());
            }
            // [0-9]*
            let digits_end = rest.bytes().position(|b| !b.is_ascii_digit()).unwrap_or(rest.len());
            let mut whole: u64 = 0;
            for b in rest[..digits_end].bytes() {
                if whole > OVERFLOW / 10 {
                    return Err(invalid());
                }
                whole = whole * 10 + u64::from(b - b'0');
                if whole > OVERFLOW {
                    return Err(invalid());
                }
            }
            let had_whole = digits_end > 0;
            rest = &rest[digits_end..];
            // (\.[0-9]*)?
            let mut fraction: u64 = 0;
            let mut scale: f64 = 1.0;
            let mut had_fraction = false;
            if let Some(after_point) = rest.strip_prefix('.') {
                let end = after_point.bytes().position(|b| !b.is_ascii_digit()).unwrap_or(after_point.len());
                let mut overflowed = false;
                for b in after_point[..end].bytes() {
                    if overflowed {
                        continue;
                    }
                    if fraction > (OVERFLOW - 1) / 10 {
                        overflowed = true;
                        continue;
                    }
                    let next = fraction * 10 + u64::from(b - b'0');
                    if next > OVERFLOW {
                        overflowed = true;
                        continue;
                    }
                    fraction = next;
                    scale *= 10.0;
                }
                had_fraction = end > 0;
                rest = &after_point[end..];
            }
            if !had_whole && !had_fraction {
                return Err(invalid());
            }
            let unit_end = rest.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(rest.len());
            if unit_end == 0 {
                return Err(format!("time: missing unit in duration {text:?}"));
            }
            let unit_text = &rest[..unit_end];
            rest = &rest[unit_end..];
            let unit = match unit_text {
                "ns" => NANOSECOND,
                "us" | "\u{b5}s" | "\u{3bc}s" => MICROSECOND,
                "ms" => MILLISECOND,
                "s" => SECOND,
                "m" => MINUTE,
                "h" => HOUR,
                _ => return Err(format!("time: unknown unit {unit_text:?} in duration {text:?}")),
            };
            if whole > OVERFLOW / unit {
                return Err(invalid());
            }
            let mut value = whole * unit;
            if fraction > 0 {
                value += (fraction as f64 * (unit as f64 / scale)) as u64;
                if value > OVERFLOW {
                    return Err(invalid());
                }
            }
            total += value;
            if total > OVERFLOW {
                return Err(invalid());
            }
        }
        if negative {
            return Ok(Duration { nanos: (total as i64).wrapping_neg() });
        }
        if total > OVERFLOW - 1 {
            return Err(invalid());
        }
        Ok(Duration { nanos: total as i64 })
    }
}

/// Go's `fmtFrac`: the fraction of `value / 10^precision` without trailing zeros (and without the point when
/// it is zero), and the integer part.
fn fraction_text(value: u64, precision: u32) -> (String, u64) {
    let divisor = 10u64.pow(precision);
    let fraction = value % divisor;
    if fraction == 0 {
        return (String::new(), value / divisor);
    }
    let digits = format!("{fraction:0width$}", width = precision as usize);
    (format!(".{}", digits.trim_end_matches('0')), value / divisor)
}

impl fmt::Display for Duration {
    /// Go's `Duration.String`: `0s`, `1.5ms`, `2m0s`, `1h2m3.5s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let negative = self.nanos < 0;
        let magnitude = self.nanos.unsigned_abs();
        let sign = if negative { "-" } else { "" };
        if magnitude == 0 {
            return f.write_str("0s");
        }
        if magnitude < SECOND {
            let (precision, unit) = if magnitude < MICROSECOND {
                (0, "ns")
            } else if magnitude < MILLISECOND {
                (3, "\u{b5}s")
            } else {
                (6, "ms")
            };
            let (fraction, whole) = fraction_text(magnitude, precision);
            return write!(f, "{sign}{whole}{fraction}{unit}");
        }
        let (fraction, seconds_total) = fraction_text(magnitude, 9);
        let seconds = seconds_total % 60;
        let minutes_total = seconds_total / 60;
        if minutes_total == 0 {
            return write!(f, "{sign}{seconds}{fraction}s");
        }
        let minutes = minutes_total % 60;
        let hours = minutes_total / 60;
        if hours == 0 {
            return write!(f, "{sign}{minutes}m{seconds}{fraction}s");
        }
        write!(f, "{sign}{hours}h{minutes}m{seconds}{fraction}s")
    }
}
