//! Docker CLI's small text conventions, shared by the renderers: `pretty_print` (the CLI's `PrettyPrint`: first
//! letter upper case, the rest lower case — "Ready", "Rollback_started"), `natural_cmp` (the `sortorder.NaturalLess`
//! order Docker sorts names with: "web2" before "web10"), `ellipsis` (cut to a width, ending in `…`), `display_image`
//! (an image reference without its digest, in its familiar form: "nginx:1.25"), `bytes_size` (go-units'
//! `BytesSize`: "100MiB", "7.772GiB") and `go_float64`/`go_float32` (Go's `%v` of a float: "0.5", "1e-05").

use std::cmp::Ordering;

/// Docker's `PrettyPrint`: the first character upper case and the rest lower case; a one-character string is
/// lower-cased; "" stays "".
pub fn pretty_print(text: &str) -> String {
    let mut chars = text.chars();
    match (chars.next(), chars.as_str()) {
        (None, _) => String::new(),
        (Some(first), "") => first.to_lowercase().collect(),
        (Some(first), rest) => first.to_uppercase().chain(rest.to_lowercase().chars()).collect(),
    }
}

/// `sortorder.NaturalLess` as an ordering: runs of ASCII digits compare by numeric value (then the one with fewer
/// leading zeros first), everything else bytewise; a digit sorts before a non-digit; a prefix sorts first.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (digit_a, digit_b) = (a[i].is_ascii_digit(), b[j].is_ascii_digit());
        if digit_a != digit_b {
            return if digit_a { Ordering::Less } else { Ordering::Greater };
        }
        if !digit_a {
            if a[i] != b[j] {
                return a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
            continue;
        }
        let zeros_end = |bytes: &[u8], mut k: usize| {
            while k < bytes.len() && bytes[k] == b'0' {
                k += 1;
            }
            k
        };
        let digits_end = |bytes: &[u8], mut k: usize| {
            while k < bytes.len() && bytes[k].is_ascii_digit() {
                k += 1;
            }
            k
        };
        let (significant_a, significant_b) = (zeros_end(a, i), zeros_end(b, j));
        let (end_a, end_b) = (digits_end(a, significant_a), digits_end(b, significant_b));
        let (number_a, number_b) = (&a[significant_a..end_a], &b[significant_b..end_b]);
        let by_value = number_a.len().cmp(&number_b.len()).then_with(|| number_a.cmp(number_b));
        if by_value != Ordering::Equal {
            return by_value;
        }
        if significant_a != significant_b {
            return significant_a.cmp(&significant_b);
        }
        i = end_a;
        j = end_b;
    }
    a.len().cmp(&b.len())
}

/// Docker's `Ellipsis`: `text` if it has at most `width` characters, else its first `width - 1` characters and `…`.
pub fn ellipsis(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    if width > 0 {
        cut.push('…');
    }
    cut
}

/// How `service ls` and `service ps` show an image: a reference with a tag loses its digest and is shown in its
/// familiar form (`docker.io/library/nginx:1.25@sha256:…` → `nginx:1.25`); a reference without a tag, or one that
/// does not parse, is shown as written.
pub fn display_image(image: &str) -> String {
    if swarm_core::spec::validate_image(image).is_err() {
        return image.to_string();
    }
    let name_and_tag = image.split_once('@').map_or(image, |(name_and_tag, _digest)| name_and_tag);
    let last_slash = name_and_tag.rfind('/').map_or(0, |i| i + 1);
    let Some(colon) = name_and_tag[last_slash..].find(':') else { return image.to_string() };
    let (name, tag) = name_and_tag.split_at(last_slash + colon);
    format!("{}{tag}", familiar_name(name))
}

/// A repository name without Docker Hub's implicit parts: `docker.io/library/nginx` → `nginx`,
/// `index.docker.io/me/app` → `me/app`; other registries are kept.
fn familiar_name(name: &str) -> &str {
    let remainder = match name.split_once('/') {
        Some((domain, rest)) if domain == "docker.io" || domain == "index.docker.io" => rest,
        Some((domain, _)) if domain.contains(['.', ':']) || domain == "localhost" => return name,
        _ => name,
    };
    match remainder.strip_prefix("library/") {
        Some(official) if !official.contains('/') => official,
        _ => remainder,
    }
}

/// go-units' `BytesSize`: binary units with 4 significant digits and no space ("100MiB", "7.772GiB", "512B").
pub fn bytes_size(bytes: u64) -> String {
    const UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit < UNITS.len() - 1 {
        size /= 1024.0;
        unit += 1;
    }
    format!("{}{}", go_g(size, 4), UNITS[unit])
}

/// Go's `%.{precision}g`: `precision` significant digits, trailing zeros removed, exponent form (`1.5e+06`) when the
/// exponent is below -4 or at least `precision`.
pub fn go_g(value: f64, precision: usize) -> String {
    if value == 0.0 {
        return "0".to_string();
    }
    let precision = precision.max(1);
    let scientific = format!("{:.*e}", precision - 1, value);
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i64 = exponent.parse().unwrap_or(0);
    if exponent < -4 || exponent >= precision as i64 {
        return go_exponent(trim_fraction(mantissa), exponent);
    }
    let decimals = usize::try_from(precision as i64 - 1 - exponent).unwrap_or(0);
    trim_fraction(&format!("{value:.decimals$}")).to_string()
}

/// Go's `%v` of a float64: the shortest representation that reads back the same, in exponent form below 1e-4 or
/// from 1e21 ("0", "0.5", "1e-05").
pub fn go_float64(value: f64) -> String {
    go_float(value.to_string(), format!("{value:e}"), value.abs())
}

/// Go's `%v` of a float32 (shortest for 32 bits: `0.1f32` is "0.1").
pub fn go_float32(value: f32) -> String {
    go_float(value.to_string(), format!("{value:e}"), f64::from(value.abs()))
}

fn go_float(plain: String, scientific: String, magnitude: f64) -> String {
    if magnitude == 0.0 {
        return "0".to_string();
    }
    if (1e-4..1e21).contains(&magnitude) {
        return plain;
    }
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    go_exponent(mantissa, exponent.parse().unwrap_or(0))
}

/// `mantissa` with Go's exponent suffix: a sign and at least two digits (`e-05`, `e+21`).
fn go_exponent(mantissa: &str, exponent: i64) -> String {
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
}

/// A decimal without trailing fractional zeros (and without a trailing `.`).
fn trim_fraction(number: &str) -> &str {
    if number.contains('.') {
        number.trim_end_matches('0').trim_end_matches('.')
    } else {
        number
    }
}
