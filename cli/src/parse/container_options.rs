//! The values of the container-option flags as Docker's CLI reads them: `--ulimit` (go-units' `ParseUlimit`),
//! `--dns` (`ValidateIPAddress`, normalised), `--dns-search` (`ValidateDNSSearch`), `--host` (`ValidateExtraHost`,
//! stored as SwarmKit's `ip host`), `--sysctl` and `--log-opt` (`key=value`, the latter through `ValidateEnv`),
//! and pflag's boolean flags (`--read-only=false`). Errors are Docker's words; `--cap-add`/`--cap-drop` need no
//! parser (core's `effective_capabilities` normalises them).

use std::net::IpAddr;

use swarm_core::spec::{hosts_entry, ExtraHostError, SpecError, Ulimit, ULIMIT_NAMES, ULIMIT_UNLIMITED};

use super::env::{parse_env, EnvError};
use super::numbers::NumberError;
use super::words::parse_go_bool;

/// A `--ulimit` value go-units refuses, in its words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UlimitError {
    #[error("invalid ulimit argument: {text}")]
    NotKeyValue { text: String },
    #[error("invalid ulimit type: {name}")]
    UnknownName { name: String },
    #[error(transparent)]
    Number(NumberError),
    #[error("too many limit value arguments - {values}, can only have up to two, `soft[:hard]`")]
    TooManyValues { values: String },
    /// Soft above hard, or unlimited soft under a hard limit: core's words, which are go-units'.
    #[error(transparent)]
    Limits(SpecError),
}

/// An address `ValidateIPAddress` refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("IP address is not correctly formatted: {text}")]
pub struct IpAddressError {
    pub text: String,
}

/// A search domain `ValidateDNSSearch` refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{domain} is not a valid domain")]
pub struct DomainError {
    pub domain: String,
}

/// The longest search domain Docker takes, in bytes, plus one.
const DOMAIN_LEN_LIMIT: usize = 255;

/// go-units' `ParseUlimit`: `name=soft[:hard]`, a known name, decimal values or `infinity` (-1); hard defaults to
/// soft; soft within hard unless hard is unlimited.
pub fn parse_ulimit(text: &str) -> Result<Ulimit, UlimitError> {
    let (name, values) = text.split_once('=').ok_or_else(|| UlimitError::NotKeyValue { text: text.to_string() })?;
    if !ULIMIT_NAMES.contains(&name) {
        return Err(UlimitError::UnknownName { name: name.to_string() });
    }
    let parts: Vec<&str> = values.split(':').collect();
    let (soft, hard) = match parts.as_slice() {
        [soft] => {
            let soft = parse_ulimit_value(soft)?;
            (soft, soft)
        }
        [soft, hard] => {
            let hard = parse_ulimit_value(hard)?;
            (parse_ulimit_value(soft)?, hard)
        }
        _ => return Err(UlimitError::TooManyValues { values: values.to_string() }),
    };
    let ulimit = Ulimit::new(name, soft, hard);
    ulimit.validate().map_err(UlimitError::Limits)?;
    Ok(ulimit)
}

/// `infinity`, or Go's `strconv.ParseInt(text, 10, 64)`: an optional sign and decimal digits.
fn parse_ulimit_value(text: &str) -> Result<i64, UlimitError> {
    if text == "infinity" {
        return Ok(ULIMIT_UNLIMITED);
    }
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UlimitError::Number(NumberError::Syntax { function: "ParseInt", text: text.to_string() }));
    }
    text.strip_prefix('+')
        .unwrap_or(text)
        .parse()
        .map_err(|_| UlimitError::Number(NumberError::OutOfRange { function: "ParseInt", text: text.to_string() }))
}

/// `ValidateIPAddress`: surrounding whitespace dropped, the address in Go's normal form (`::ffff:1.2.3.4` is
/// `1.2.3.4`); no brackets.
pub fn parse_ip_address(text: &str) -> Result<String, IpAddressError> {
    match text.trim().parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => Ok(v6.to_ipv4_mapped().map_or_else(|| v6.to_string(), |v4| v4.to_string())),
        Ok(IpAddr::V4(v4)) => Ok(v4.to_string()),
        Err(_) => Err(IpAddressError { text: text.to_string() }),
    }
}

/// `ValidateDNSSearch`: spaces around dropped; `.` (no search domain), or a domain — labels of letters, digits and
/// inner hyphens separated by dots, at least one letter, under 255 bytes — returned without its trailing dot.
pub fn parse_dns_search(text: &str) -> Result<String, DomainError> {
    let domain = text.trim_matches(' ');
    if domain == "." {
        return Ok(domain.to_string());
    }
    let invalid = || DomainError { domain: domain.to_string() };
    if !domain.bytes().any(|b| b.is_ascii_alphabetic()) {
        return Err(invalid());
    }
    let name = domain.trim_end_matches(['\t', '\n', '\x0c', '\r', ' ']);
    let name = name.strip_suffix('.').unwrap_or(name);
    let label_ok = |label: &str| {
        let bytes = label.as_bytes();
        match (bytes.first(), bytes.last()) {
            (Some(first), Some(last)) => {
                first.is_ascii_alphanumeric()
                    && last.is_ascii_alphanumeric()
                    && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
            }
            _ => false,
        }
    };
    if name.split('.').all(label_ok) && name.len() < DOMAIN_LEN_LIMIT {
        Ok(name.to_string())
    } else {
        Err(invalid())
    }
}

/// `--host`/`--host-add`: `host:ip` (or `host=ip`) as SwarmKit stores it, `ip host`.
pub fn parse_extra_host(text: &str) -> Result<String, ExtraHostError> {
    hosts_entry(text)
}

/// `--sysctl`/`--sysctl-add` (and the key of `--sysctl-rm`, `--ulimit-rm`): Docker's `ConvertKVStringsToMap`,
/// `key=value` split at the first `=`, a bare `key` having an empty value. Never refused here.
pub fn parse_key_value(text: &str) -> (String, String) {
    let (key, value) = text.split_once('=').unwrap_or((text, ""));
    (key.to_string(), value.to_string())
}

/// `--log-opt`: `ValidateEnv` (a bare `key` takes its value from the CLI's environment when set there), then split
/// as `parse_key_value`.
pub fn parse_log_opt(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<(String, String), EnvError> {
    Ok(parse_key_value(&parse_env(text, env)?))
}

/// A pflag boolean flag's value (`--read-only`, `--read-only=false`): Go's `strconv.ParseBool`.
pub fn parse_bool(text: &str) -> Result<bool, NumberError> {
    parse_go_bool(text).ok_or_else(|| NumberError::Syntax { function: "ParseBool", text: text.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::testing::test_env;

    #[test]
    fn ulimits_parse_as_go_units_does() {
        let good = [
            ("nofile=512:1024", ("nofile", 512, 1024)),
            ("nofile=1024", ("nofile", 1024, 1024)),
            ("cpu=2:4", ("cpu", 2, 4)),
            ("memlock=infinity:infinity", ("memlock", -1, -1)),
            ("memlock=-1", ("memlock", -1, -1)),
            ("nofile=1024:-1", ("nofile", 1024, -1)),
            ("nofile=1024:infinity", ("nofile", 1024, -1)),
            ("nofile=+5", ("nofile", 5, 5)),
            ("core=0", ("core", 0, 0)),
        ];
        for (text, (name, soft, hard)) in good {
            assert_eq!(parse_ulimit(text), Ok(Ulimit::new(name, soft, hard)), "{text}");
        }
        let bad = [
            ("nofile", "invalid ulimit argument: nofile"),
            ("nofile:1024:1024", "invalid ulimit argument: nofile:1024:1024"),
            ("notarealtype=1024:1024", "invalid ulimit type: notarealtype"),
            ("as=1", "invalid ulimit type: as"),
            ("NOFILE=1", "invalid ulimit type: NOFILE"),
            ("nofile=", r#"strconv.ParseInt: parsing "": invalid syntax"#),
            ("nofile=:", r#"strconv.ParseInt: parsing "": invalid syntax"#),
            ("nofile=:1024", r#"strconv.ParseInt: parsing "": invalid syntax"#),
            ("nofile=asdf", r#"strconv.ParseInt: parsing "asdf": invalid syntax"#),
            ("nofile=1024:asdf", r#"strconv.ParseInt: parsing "asdf": invalid syntax"#),
            ("nofile=0x10", r#"strconv.ParseInt: parsing "0x10": invalid syntax"#),
            ("nofile=1_000", r#"strconv.ParseInt: parsing "1_000": invalid syntax"#),
            ("nofile=9223372036854775808", r#"strconv.ParseInt: parsing "9223372036854775808": value out of range"#),
            ("nofile=1024:1:50", "too many limit value arguments - 1024:1:50, can only have up to two, `soft[:hard]`"),
            ("nofile=1024:1", "ulimit soft limit must be less than or equal to hard limit: 1024 > 1"),
            (
                "nofile=-1:1024",
                "ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: 1024",
            ),
            (
                "nofile=infinity:10",
                "ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: 10",
            ),
        ];
        for (text, message) in bad {
            assert_eq!(parse_ulimit(text).map_err(|e| e.to_string()), Err(message.to_string()), "{text}");
        }
    }

    #[test]
    fn ip_addresses_are_validated_and_normalised() {
        let good = [
            ("8.8.8.8", "8.8.8.8"),
            (" 10.0.0.2\t", "10.0.0.2"),
            ("2001:DB8:0:0::1", "2001:db8::1"),
            ("::ffff:1.2.3.4", "1.2.3.4"),
            ("::1", "::1"),
        ];
        for (text, normal) in good {
            assert_eq!(parse_ip_address(text), Ok(normal.to_string()), "{text}");
        }
        for text in ["", "dns.google", "[::1]", "1.2.3", "1.2.3.4:53", "010.0.0.1", "fe80::1%eth0"] {
            assert_eq!(
                parse_ip_address(text).map_err(|e| e.to_string()),
                Err(format!("IP address is not correctly formatted: {text}")),
                "{text:?}"
            );
        }
    }

    #[test]
    fn dns_search_domains_are_validated_as_docker_does() {
        let good = [
            (".", "."),
            (" . ", "."),
            ("example.com", "example.com"),
            ("example.com.", "example.com"),
            (" sub-1.example.com ", "sub-1.example.com"),
            ("a", "a"),
            ("1a.2b", "1a.2b"),
            ("example.com.\t", "example.com"),
        ];
        for (text, domain) in good {
            assert_eq!(parse_dns_search(text), Ok(domain.to_string()), "{text:?}");
        }
        let too_long = format!("{}.com", "a".repeat(251));
        for (text, shown) in [
            ("123", "123"),
            ("", ""),
            ("-example.com", "-example.com"),
            ("example-.com", "example-.com"),
            ("exa_mple.com", "exa_mple.com"),
            ("example..com", "example..com"),
            (".example.com", ".example.com"),
            ("example.com..", "example.com.."),
            (" a b ", "a b"),
            (too_long.as_str(), too_long.as_str()),
        ] {
            assert_eq!(
                parse_dns_search(text).map_err(|e| e.to_string()),
                Err(format!("{shown} is not a valid domain")),
                "{text:?}"
            );
        }
        assert_eq!(parse_dns_search(&format!("{}.co", "a".repeat(251))).map(|d| d.len()), Ok(254));
    }

    #[test]
    fn key_values_log_opts_and_booleans() {
        assert_eq!(parse_key_value("net.core.somaxconn=1024"), ("net.core.somaxconn".into(), "1024".into()));
        assert_eq!(parse_key_value("a=b=c"), ("a".into(), "b=c".into()));
        assert_eq!(parse_key_value("bare"), ("bare".into(), String::new()));
        assert_eq!(parse_log_opt("max-size=10m", &test_env), Ok(("max-size".into(), "10m".into())));
        assert_eq!(parse_log_opt("TOKEN", &test_env), Ok(("TOKEN".into(), "secret".into())));
        assert_eq!(parse_log_opt("unset", &test_env), Ok(("unset".into(), String::new())));
        assert_eq!(
            parse_log_opt("=x", &test_env).map_err(|e| e.to_string()),
            Err("invalid environment variable: =x".to_string())
        );
        for (text, value) in [("true", true), ("1", true), ("T", true), ("false", false), ("0", false), ("F", false)] {
            assert_eq!(parse_bool(text), Ok(value), "{text}");
        }
        assert_eq!(
            parse_bool("yes").map_err(|e| e.to_string()),
            Err(r#"strconv.ParseBool: parsing "yes": invalid syntax"#.to_string())
        );
    }
}
