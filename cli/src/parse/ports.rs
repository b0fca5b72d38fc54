//! Published ports as Docker's `--publish` takes them (`PortOpt`): the long form
//! `published=8080,target=80,protocol=udp,mode=host,name=web` and the short form `[IP:][PUBLISHED:]TARGET[/PROTO]`
//! with ranges, in Docker's wording when they are wrong.

use std::net::IpAddr;

use swarm_core::spec::{PortConfig, PortProtocol, PublishMode};

use super::numbers::{parse_port_number, NumberError};
use super::words::{csv_fields, has_key_value_pair, CsvError};

/// A `--publish` value Docker refuses, in its wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    #[error(transparent)]
    Csv(#[from] CsvError),
    #[error("invalid field: {field}")]
    InvalidField { field: String },
    #[error("invalid publish mode value ({value}): must be either 'ingress' or 'host'")]
    InvalidMode { value: String },
    #[error("invalid protocol value '{value}'")]
    InvalidProtocol { value: String },
    #[error(transparent)]
    Number(#[from] NumberError),
    #[error("invalid field key: {key}")]
    InvalidFieldKey { key: String },
    #[error("missing mandatory field 'target'")]
    TargetRequired,
    #[error("invalid proto: {protocol}")]
    InvalidProto { protocol: String },
    #[error("invalid IP address: {ip}")]
    InvalidIp { ip: String },
    #[error("no port specified: {spec}<empty>")]
    NoPort { spec: String },
    #[error("invalid containerPort: {port}")]
    InvalidContainerPort { port: String },
    #[error("invalid hostPort: {port}")]
    InvalidHostPort { port: String },
    #[error("invalid ranges specified for container and host Ports: {container} and {host}")]
    MismatchedRanges { container: String, host: String },
}

/// Docker's `PortOpt` (`-p`, `--publish-add`, `--publish-rm`); published port 0 has the cluster assign one from
/// 30000-32767 in ingress mode, and the engine pick one in host mode. Long form when the value has a
/// `key=value` pair: `published=8080,target=80,protocol=tcp|udp|sctp,mode=ingress|host,name=web` (lowercased as
/// Docker does; `target` required). Otherwise `[IP:][PUBLISHED:]TARGET[/PROTOCOL]` with port ranges
/// (`8080-8081:80-81`); always ingress mode; an IP is checked, then ignored, as Docker does for services.
pub fn parse_port_spec(text: &str) -> Result<Vec<PortConfig>, PortError> {
    if has_key_value_pair(text) {
        parse_port_long(text).map(|port| vec![port])
    } else {
        parse_port_short(text)
    }
}

fn parse_port_long(text: &str) -> Result<PortConfig, PortError> {
    let mut port = PortConfig::default();
    for field in csv_fields(text)? {
        let lower = field.to_lowercase();
        let Some((key, value)) = lower.split_once('=').filter(|(key, _)| !key.is_empty()) else {
            return Err(PortError::InvalidField { field: field.clone() });
        };
        match key {
            "name" => port.name = value.to_string(),
            "mode" => {
                port.publish_mode = match value {
                    "ingress" => PublishMode::Ingress,
                    "host" => PublishMode::Host,
                    _ => return Err(PortError::InvalidMode { value: value.to_string() }),
                }
            }
            "protocol" => {
                port.protocol = match value {
                    "tcp" => PortProtocol::Tcp,
                    "udp" => PortProtocol::Udp,
                    "sctp" => PortProtocol::Sctp,
                    _ => return Err(PortError::InvalidProtocol { value: value.to_string() }),
                }
            }
            "target" => port.target_port = parse_port_number(value)?,
            "published" => port.published_port = parse_port_number(value)?,
            _ => return Err(PortError::InvalidFieldKey { key: key.to_string() }),
        }
    }
    if port.target_port == 0 {
        return Err(PortError::TargetRequired);
    }
    Ok(port)
}

fn parse_port_short(text: &str) -> Result<Vec<PortConfig>, PortError> {
    let (spec, protocol_text) = match text.split_once('/') {
        Some((spec, protocol)) if !protocol.is_empty() => (spec, protocol),
        Some((spec, _)) => (spec, "tcp"),
        None => (text, "tcp"),
    };
    let protocol = match protocol_text.to_ascii_lowercase().as_str() {
        "tcp" => PortProtocol::Tcp,
        "udp" => PortProtocol::Udp,
        "sctp" => PortProtocol::Sctp,
        _ => return Err(PortError::InvalidProto { protocol: protocol_text.to_string() }),
    };
    let parts: Vec<&str> = spec.split(':').collect();
    let (ip, host, container) = match parts.as_slice() {
        [container] => (String::new(), "", *container),
        [host, container] => (String::new(), *host, *container),
        [ip @ .., host, container] => (ip.join(":"), *host, *container),
        [] => unreachable!("split yields at least one part"),
    };
    if !ip.is_empty() && ip.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_err() {
        return Err(PortError::InvalidIp { ip });
    }
    if container.is_empty() {
        return Err(PortError::NoPort { spec: spec.to_string() });
    }
    let (start, end) =
        parse_port_range(container).ok_or_else(|| PortError::InvalidContainerPort { port: container.to_string() })?;
    let port = |target: u32, published: u32| PortConfig {
        protocol,
        target_port: target,
        published_port: published,
        ..PortConfig::default()
    };
    if host.is_empty() {
        return Ok((start..=end).map(|target| port(target, 0)).collect());
    }
    let (host_start, host_end) =
        parse_port_range(host).ok_or_else(|| PortError::InvalidHostPort { port: host.to_string() })?;
    if host_end - host_start == end - start {
        Ok((0..=end - start).map(|i| port(start + i, host_start + i)).collect())
    } else if start == end {
        Ok((host_start..=host_end).map(|published| port(start, published)).collect())
    } else {
        Err(PortError::MismatchedRanges { container: container.to_string(), host: host.to_string() })
    }
}

/// `80` or `8000-8010`.
fn parse_port_range(text: &str) -> Option<(u32, u32)> {
    let (start, end) = text.split_once('-').unwrap_or((text, text));
    let (start, end) = (parse_port_number(start).ok()?, parse_port_number(end).ok()?);
    (start <= end).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::testing::port;

    #[test]
    fn publish_short_and_long_forms() {
        use PortProtocol::{Sctp, Tcp, Udp};
        use PublishMode::{Host, Ingress};
        // `parse_port_spec` (what `--publish-rm` takes) keeps Docker's modes: ingress unless `mode=host`.
        let good: &[(&str, &[PortConfig])] = &[
            ("8080:80", &[port(8080, 80, Tcp, Ingress)]),
            ("8080:80/udp", &[port(8080, 80, Udp, Ingress)]),
            ("8080:80/UDP", &[port(8080, 80, Udp, Ingress)]),
            ("8080:80/sctp", &[port(8080, 80, Sctp, Ingress)]),
            ("8080:80/", &[port(8080, 80, Tcp, Ingress)]),
            ("0.0.0.0:8080:80", &[port(8080, 80, Tcp, Ingress)]),
            ("[::1]:8080:80", &[port(8080, 80, Tcp, Ingress)]),
            ("8080-8081:80-81", &[port(8080, 80, Tcp, Ingress), port(8081, 81, Tcp, Ingress)]),
            ("8080-8081:80", &[port(8080, 80, Tcp, Ingress), port(8081, 80, Tcp, Ingress)]),
            ("published=8080,target=80", &[port(8080, 80, Tcp, Ingress)]),
            ("published=8080,target=80,mode=ingress", &[port(8080, 80, Tcp, Ingress)]),
            ("published=8080,target=80,protocol=udp,mode=host", &[port(8080, 80, Udp, Host)]),
            ("Target=80,Published=53,Protocol=UDP,Mode=INGRESS", &[port(53, 80, Udp, Ingress)]),
        ];
        for (text, expected) in good {
            assert_eq!(parse_port_spec(text), Ok(expected.to_vec()), "{text}");
        }
        assert_eq!(parse_port_spec("8080:80"), Ok(vec![port(8080, 80, Tcp, Ingress)]));
        let named = parse_port_spec("name=Web,published=8080,target=80").unwrap();
        assert_eq!(named[0].name, "web", "Docker lowercases the whole long form");

        assert_eq!(parse_port_spec("target=80,mode=host"), Ok(vec![port(0, 80, Tcp, Host)]));
        assert_eq!(parse_port_spec("80"), Ok(vec![port(0, 80, Tcp, Ingress)]));
        assert_eq!(parse_port_spec("80-81/udp"), Ok(vec![port(0, 80, Udp, Ingress), port(0, 81, Udp, Ingress)]));

        let bad: &[(&str, &str)] = &[
            ("8080:80/foo", "invalid proto: foo"),
            ("8080:http", "invalid containerPort: http"),
            ("x:80", "invalid hostPort: x"),
            ("8080:70000", "invalid containerPort: 70000"),
            ("8080:81-80", "invalid containerPort: 81-80"),
            ("8080-8082:80-81", "invalid ranges specified for container and host Ports: 80-81 and 8080-8082"),
            ("8080:", "no port specified: 8080:<empty>"),
            ("bogus:8080:80", "invalid IP address: bogus"),
            ("published=8080", "missing mandatory field 'target'"),
            ("published=8080,target=x", r#"strconv.ParseUint: parsing "x": invalid syntax"#),
            ("published=70000,target=80", r#"strconv.ParseUint: parsing "70000": value out of range"#),
            ("target=80,protocol=icmp", "invalid protocol value 'icmp'"),
            ("target=80,mode=vip", "invalid publish mode value (vip): must be either 'ingress' or 'host'"),
            ("target=80,color=red", "invalid field key: color"),
            ("target=80,published", "invalid field: published"),
        ];
        for (text, expected) in bad {
            assert_eq!(parse_port_spec(text).map_err(|e| e.to_string()), Err(expected.to_string()), "{text}");
        }
    }
}
