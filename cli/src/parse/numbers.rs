//! Numbers as Docker's CLI reads them: Go's `strconv` integers and floats (as pflag's `uint64`, `int` and
//! `float32` flags take them, with Go's error wording), port numbers, memory sizes (`RAMInBytes`) and CPU counts
//! (exact rationals in nano CPUs). Every parser either returns the exact value or Docker's error for the text.

use swarm_core::spec::NANO_CPUS_MIN;

/// A number Go's `strconv` refuses, in its wording: `strconv.ParseUint: parsing "x": invalid syntax`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("strconv.{function}: parsing {text:?}: invalid syntax")]
    Syntax { function: &'static str, text: String },
    #[error("strconv.{function}: parsing {text:?}: value out of range")]
    OutOfRange { function: &'static str, text: String },
}

/// A memory size Docker's `RAMInBytes` refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemoryError {
    #[error("invalid size: '{text}'")]
    InvalidSize { text: String },
    #[error(transparent)]
    Number(NumberError),
    #[error("invalid suffix: '{suffix}'")]
    InvalidSuffix { suffix: String },
}

/// A CPU count Docker's `--reserve-cpu`/`--limit-cpu` refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CpuError {
    #[error("failed to parse {text} as a rational number")]
    NotRational { text: String },
    #[error("value is too precise")]
    TooPrecise,
    #[error("value out of range")]
    OutOfRange,
    #[error("invalid cpu value {text}: Must be at least {}", NANO_CPUS_MIN as f64 / 1e9)]
    Negative { text: String },
}

/// A Go `ParseUint(text, 0, 64)`, as pflag's `uint64` flags take them: decimal, `0x`/`0o`/`0b` prefixes, a leading
/// `0` for octal, `_` between digits; no sign.
pub fn parse_uint(text: &str) -> Result<u64, NumberError> {
    parse_go_uint(text, "ParseUint", text)
}

/// A Go `ParseInt(text, 0, 64)`, as pflag's `int` flags take them: an optional sign, then as `parse_uint`.
pub fn parse_int(text: &str) -> Result<i64, NumberError> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let magnitude = parse_go_uint(digits, "ParseInt", text)?;
    let range = || NumberError::OutOfRange { function: "ParseInt", text: text.to_string() };
    if negative {
        0i64.checked_sub_unsigned(magnitude).ok_or_else(range)
    } else {
        i64::try_from(magnitude).map_err(|_| range())
    }
}

fn parse_go_uint(text: &str, function: &'static str, original: &str) -> Result<u64, NumberError> {
    let syntax = || NumberError::Syntax { function, text: original.to_string() };
    let range = || NumberError::OutOfRange { function, text: original.to_string() };
    let lower = text.get(..2).map(str::to_ascii_lowercase);
    let (radix, digits, prefixed) = match lower.as_deref() {
        Some("0x") => (16, &text[2..], true),
        Some("0o") => (8, &text[2..], true),
        Some("0b") => (2, &text[2..], true),
        _ if text.len() > 1 && text.starts_with('0') => (8, &text[1..], true),
        _ => (10, text, false),
    };
    // Go allows `_` only between digits, or between a base prefix and a digit.
    let mut previous_is_digit = prefixed;
    let mut value: u64 = 0;
    let mut any_digit = false;
    let mut chars = digits.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '_' {
            if !previous_is_digit || !chars.peek().is_some_and(|next| next.is_digit(radix)) {
                return Err(syntax());
            }
            previous_is_digit = false;
            continue;
        }
        let digit = c.to_digit(radix).ok_or_else(syntax)?;
        value = value.checked_mul(u64::from(radix)).and_then(|v| v.checked_add(u64::from(digit))).ok_or_else(range)?;
        any_digit = true;
        previous_is_digit = true;
    }
    if !any_digit {
        return Err(syntax());
    }
    Ok(value)
}

/// A Go `ParseFloat(text, 32)`, as pflag's `float32` flags take them.
pub fn parse_float32(text: &str) -> Result<f32, NumberError> {
    text.parse::<f32>().map_err(|_| NumberError::Syntax { function: "ParseFloat", text: text.to_string() })
}

/// A port number as Docker's `--publish` long form reads it (`ParseUint(text, 10, 16)`).
pub(super) fn parse_port_number(text: &str) -> Result<u32, NumberError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NumberError::Syntax { function: "ParseUint", text: text.to_string() });
    }
    match text.parse::<u16>() {
        Ok(port) => Ok(u32::from(port)),
        Err(_) => Err(NumberError::OutOfRange { function: "ParseUint", text: text.to_string() }),
    }
}

/// Docker's `RAMInBytes`: a number (decimals allowed, truncated), an optional space, then an optional
/// case-insensitive unit: `b`, or `k`, `m`, `g`, `t`, `p` (binary multiples) optionally followed by `b` or `ib`.
pub fn parse_memory_bytes(text: &str) -> Result<u64, MemoryError> {
    let invalid_size = || MemoryError::InvalidSize { text: text.to_string() };
    let Some(last) = text.rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ') else {
        return Err(invalid_size());
    };
    let (number, suffix) = if text.as_bytes()[last] == b' ' {
        (&text[..last], &text[last + 1..])
    } else {
        (&text[..last + 1], &text[last + 1..])
    };
    let size: f64 = number
        .parse()
        .map_err(|_| MemoryError::Number(NumberError::Syntax { function: "ParseFloat", text: number.to_string() }))?;
    if size.is_nan() || size < 0.0 {
        return Err(invalid_size());
    }
    let bad_suffix = || MemoryError::InvalidSuffix { suffix: suffix.to_string() };
    let lower = suffix.to_ascii_lowercase();
    let multiplier: u64 = match lower.as_str() {
        "" | "b" => 1,
        _ => {
            let mut chars = lower.chars();
            let exponent = match chars.next() {
                Some('k') => 1,
                Some('m') => 2,
                Some('g') => 3,
                Some('t') => 4,
                Some('p') => 5,
                _ => return Err(bad_suffix()),
            };
            if !matches!(chars.as_str(), "" | "b" | "ib") {
                return Err(bad_suffix());
            }
            1024u64.pow(exponent)
        }
    };
    let bytes = size * multiplier as f64;
    if bytes >= i64::MAX as f64 {
        return Err(invalid_size());
    }
    Ok(bytes as u64)
}

/// Docker's `--reserve-cpu`/`--limit-cpu`: a decimal (`0.5`, `2`, `1e-3`) or fraction (`1/4`) number of CPUs, in
/// nano CPUs; finer than a nano CPU is "value is too precise".
pub fn parse_nano_cpus(text: &str) -> Result<u64, CpuError> {
    let unparsable = || CpuError::NotRational { text: text.to_string() };
    let too_precise = || CpuError::TooPrecise;
    let out_of_range = || CpuError::OutOfRange;
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let nanos: u128 = match body.split_once('/') {
        Some((top, bottom)) => {
            let top = parse_decimal_integer(top).ok_or_else(unparsable)?;
            let bottom = parse_decimal_integer(bottom).ok_or_else(unparsable)?;
            if bottom == 0 {
                return Err(unparsable());
            }
            let scaled = top.checked_mul(1_000_000_000).ok_or_else(out_of_range)?;
            if scaled % bottom != 0 {
                return Err(too_precise());
            }
            scaled / bottom
        }
        None => {
            // digits * 10^-scale CPUs, i.e. digits * 10^(9 - scale) nano CPUs.
            let (digits, scale) = parse_decimal(body).ok_or_else(unparsable)?;
            let shift = 9 - i64::from(scale);
            if digits == 0 {
                0
            } else if shift >= 0 {
                let factor = u32::try_from(shift).ok().and_then(|s| 10u128.checked_pow(s)).ok_or_else(out_of_range)?;
                digits.checked_mul(factor).ok_or_else(out_of_range)?
            } else {
                let divisor = u32::try_from(-shift).ok().and_then(|s| 10u128.checked_pow(s)).ok_or_else(too_precise)?;
                if digits % divisor != 0 {
                    return Err(too_precise());
                }
                digits / divisor
            }
        }
    };
    if negative && nanos != 0 {
        return Err(CpuError::Negative { text: text.to_string() });
    }
    u64::try_from(nanos).ok().filter(|&n| n <= i64::MAX as u64).ok_or_else(out_of_range)
}

fn parse_decimal_integer(text: &str) -> Option<u128> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `digits[.digits][e[+-]digits]` as `(significant digits, scale)`: the value is `digits * 10^-scale`.
fn parse_decimal(text: &str) -> Option<(u128, i32)> {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (whole.is_empty() && fraction.is_empty()) || !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let joined = format!("{whole}{fraction}");
    let significant = joined.trim_start_matches('0');
    if significant.len() > 30 {
        return None;
    }
    let digits = if significant.is_empty() { 0 } else { significant.parse().ok()? };
    let mut scale = i32::try_from(fraction.len()).ok()?;
    if let Some(exponent) = exponent {
        let (negative, magnitude) = match exponent.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, exponent.strip_prefix('+').unwrap_or(exponent)),
        };
        let magnitude = i32::try_from(parse_decimal_integer(magnitude)?).ok()?;
        scale = if negative { scale.checked_add(magnitude)? } else { scale.checked_sub(magnitude)? };
    }
    Some((digits, scale))
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarm_core::spec::SECOND_NS;

    #[test]
    fn memory_sizes_parse_like_rams_in_bytes() {
        let good: &[(&str, u64)] = &[
            ("0", 0),
            ("512", 512),
            ("512b", 512),
            ("512B", 512),
            ("64k", 64 << 10),
            ("64K", 64 << 10),
            ("64kb", 64 << 10),
            ("64KiB", 64 << 10),
            ("4m", 4 << 20),
            ("4MB", 4 << 20),
            ("1.5m", 3 << 19),
            ("1 g", 1 << 30),
            ("2t", 2 << 40),
            ("1p", 1 << 50),
            ("0.5k", 512),
            ("1.9", 1),
        ];
        for (text, expected) in good {
            assert_eq!(parse_memory_bytes(text), Ok(*expected), "{text}");
        }
        let bad: &[(&str, &str)] = &[
            ("64x", "invalid suffix: 'x'"),
            ("64ki", "invalid suffix: 'ki'"),
            ("64kibb", "invalid suffix: 'kibb'"),
            ("1bb", "invalid suffix: 'bb'"),
            ("1e", "invalid suffix: 'e'"),
            ("", "invalid size: ''"),
            ("abc", "invalid size: 'abc'"),
            ("k", "invalid size: 'k'"),
            ("-1", "invalid size: '-1'"),
            ("1..5", r#"strconv.ParseFloat: parsing "1..5": invalid syntax"#),
            ("99999999999p", "invalid size: '99999999999p'"),
        ];
        for (text, expected) in bad {
            assert_eq!(parse_memory_bytes(text).map_err(|e| e.to_string()), Err(expected.to_string()), "{text}");
        }
    }

    #[test]
    fn cpus_parse_as_exact_rationals() {
        let good: &[(&str, u64)] = &[
            ("0", 0),
            ("0.5", 500_000_000),
            ("2", 2 * SECOND_NS),
            ("+2", 2 * SECOND_NS),
            ("0.001", 1_000_000),
            (".25", 250_000_000),
            ("1.", SECOND_NS),
            ("1/4", 250_000_000),
            ("1e-3", 1_000_000),
            ("1.5E1", 15 * SECOND_NS),
            ("0.000000001", 1),
            ("-0", 0),
        ];
        for (text, expected) in good {
            assert_eq!(parse_nano_cpus(text), Ok(*expected), "{text}");
        }
        let bad: &[(&str, &str)] = &[
            ("x", "failed to parse x as a rational number"),
            ("", "failed to parse  as a rational number"),
            ("1/0", "failed to parse 1/0 as a rational number"),
            ("1.2.3", "failed to parse 1.2.3 as a rational number"),
            ("1e", "failed to parse 1e as a rational number"),
            ("0.0000000001", "value is too precise"),
            ("1/3", "value is too precise"),
            ("1e-100", "value is too precise"),
            ("1e100", "value out of range"),
            ("-1", "invalid cpu value -1: Must be at least 0.001"),
        ];
        for (text, expected) in bad {
            assert_eq!(parse_nano_cpus(text).map_err(|e| e.to_string()), Err(expected.to_string()), "{text}");
        }
    }

    #[test]
    fn integers_parse_like_go_with_base_prefixes() {
        let good: &[(&str, u64)] = &[
            ("0", 0),
            ("3", 3),
            ("0x10", 16),
            ("0X1f", 31),
            ("0o17", 15),
            ("017", 15),
            ("0b101", 5),
            ("1_000", 1000),
            ("0x_1f", 31),
            ("18446744073709551615", u64::MAX),
        ];
        for (text, expected) in good {
            assert_eq!(parse_uint(text), Ok(*expected), "{text}");
        }
        for text in ["", "5x", "-1", "+1", "08", "0x", "1__0", "_1", "1_", " 1"] {
            let expected = format!("strconv.ParseUint: parsing {text:?}: invalid syntax");
            assert_eq!(parse_uint(text).map_err(|e| e.to_string()), Err(expected), "{text:?}");
        }
        assert_eq!(
            parse_uint("18446744073709551616").map_err(|e| e.to_string()),
            Err(r#"strconv.ParseUint: parsing "18446744073709551616": value out of range"#.to_string())
        );
        assert_eq!(parse_int("-3"), Ok(-3));
        assert_eq!(parse_int("+0x10"), Ok(16));
        assert_eq!(parse_int("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(
            parse_int("9223372036854775808").map_err(|e| e.to_string()),
            Err(r#"strconv.ParseInt: parsing "9223372036854775808": value out of range"#.to_string())
        );
        assert_eq!(
            parse_int("x").map_err(|e| e.to_string()),
            Err(r#"strconv.ParseInt: parsing "x": invalid syntax"#.to_string())
        );
    }
}
