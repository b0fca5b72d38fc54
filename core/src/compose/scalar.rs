//! Scalar conversions that must agree with Docker's Go code byte for byte, since `stack config` output is compared
//! with Docker's: Go's `fmt.Sprint` of YAML numbers (`1.0` → `1`, `1000000.0` → `1e+06`), memory sizes as go-units
//! reads them (`512M`, `1g`, `1.5GiB`, binary multiples), CPU counts as `docker` reads them (at most nanosecond
//! precision), and the boolean spellings interpolation casts (`y`, `yes`, `on`, ...).

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`, which `fmt.Sprint` uses for float64: the shortest digits that
/// round-trip, in exponent form when the exponent is below -4 or at least 6 (`1e+06`, `1.5e-05`).
pub fn go_format_float(f: f64) -> String {
    format_shortest(f, &format!("{:e}", f.abs()))
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 32)`: the shortest digits that round-trip as a float32.
pub fn go_format_float32(f: f32) -> String {
    format_shortest(f64::from(f), &format!("{:e}", f.abs()))
}

/// Lays out `scientific` (Rust's shortest `{:e}` of |f|) in Go's `%g` style.
fn format_shortest(f: f64, scientific: &str) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".to_owned() } else { "-Inf".to_owned() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".to_owned() } else { "0".to_owned() };
    }
    let (mantissa, exponent) = scientific.split_once('e').expect("{:e} always has an exponent");
    let exponent: i32 = exponent.parse().expect("{:e} exponent is an integer");
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if f < 0.0 { "-" } else { "" };
    if !(-4..6).contains(&exponent) {
        let (first, rest) = digits.split_at(1);
        let fraction = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{first}{fraction}e{exponent_sign}{:02}", exponent.abs());
    }
    let point = exponent + 1; // digits before the decimal point
    let text = if point <= 0 {
        format!("0.{}{}", "0".repeat((-point) as usize), digits)
    } else if point as usize >= digits.len() {
        format!("{}{}", digits, "0".repeat(point as usize - digits.len()))
    } else {
        let (whole, fraction) = digits.split_at(point as usize);
        format!("{whole}.{fraction}")
    };
    format!("{sign}{text}")
}

/// A memory size as go-units' `RAMInBytes` (v0.5) reads it: a number, an optional space, then an optional
/// suffix `b`, or `k`/`m`/`g`/`t`/`p` (any case, binary multiples) followed by nothing, `b` or `ib`.
pub fn parse_ram_in_bytes(text: &str) -> Result<i64, String> {
    let Some(separator) = text.rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ') else {
        return Err(format!("invalid size: '{text}'"));
    };
    let (number, suffix) = if text.as_bytes()[separator] == b' ' {
        (&text[..separator], &text[separator + 1..])
    } else {
        (&text[..separator + 1], &text[separator + 1..])
    };
    let valid_number = !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    let size: f64 = match number.parse() {
        Ok(size) if valid_number => size,
        _ => return Err(format!("strconv.ParseFloat: parsing {number:?}: invalid syntax")),
    };
    if size < 0.0 {
        return Err(format!("invalid size: '{text}'"));
    }
    if suffix.is_empty() {
        return Ok(size as i64);
    }
    let lower = suffix.to_ascii_lowercase();
    let bad_suffix = || format!("invalid suffix: '{lower}'");
    if lower.len() > 3 {
        return Err(bad_suffix());
    }
    let bytes = lower.as_bytes();
    if bytes[0] == b'b' {
        return if bytes.len() == 1 { Ok(size as i64) } else { Err(bad_suffix()) };
    }
    let power = match bytes[0] {
        b'k' => 1,
        b'm' => 2,
        b'g' => 3,
        b't' => 4,
        b'p' => 5,
        _ => return Err(bad_suffix()),
    };
    if (bytes.len() == 2 && bytes[1] != b'b') || (bytes.len() == 3 && &lower[1..] != "ib") {
        return Err(bad_suffix());
    }
    Ok((size * 1024f64.powi(power)) as i64)
}

/// A CPU count (`"0.5"`, `"2"`) in billionths of a CPU, as Docker's `ParseCPUs` accepts it: a non-negative
/// decimal with at most nine fractional digits.
pub fn parse_nano_cpus(text: &str) -> Result<i64, String> {
    let invalid = || format!("failed to parse {text} as a rational number");
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if (whole.is_empty() && fraction.is_empty())
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(invalid());
    }
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > 9 {
        return Err("value is too precise".to_owned());
    }
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| invalid())? };
    let fraction_nanos: i64 =
        if fraction.is_empty() { 0 } else { format!("{fraction:0<9}").parse().map_err(|_| invalid())? };
    whole.checked_mul(1_000_000_000).and_then(|n| n.checked_add(fraction_nanos)).ok_or_else(invalid)
}

/// The boolean spellings Docker's interpolation casts accept (YAML 1.1's).
pub fn cast_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "y" | "yes" | "true" | "on" => Some(true),
        "n" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.Atoi`: an optional sign and decimal digits.
pub fn cast_int(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Go's `strconv.ParseFloat(s, 64)` for the forms a compose value uses.
pub fn cast_float(text: &str) -> Option<f64> {
    let lower = text.to_ascii_lowercase();
    let body = lower.strip_prefix(['+', '-']).unwrap_or(&lower);
    if body.is_empty() || body.starts_with('_') || body.contains("__") {
        return None;
    }
    match body {
        "inf" | "infinity" | "nan" => return text.parse().ok().or_else(|| lower.parse().ok()),
        _ => {}
    }
    if !body.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-')) {
        return None;
    }
    text.parse().ok()
}
