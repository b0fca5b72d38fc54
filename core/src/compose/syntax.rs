//! The short syntaxes of ports and mounts, parsed as Docker parses them so the long form `stack config` prints
//! is Docker's: `[ip:][published[-end]:]target[-end][/protocol]` (go-connections' `ParsePortSpec`, host IPs
//! ignored with a warning since Swarm listens everywhere) and `[source:]target[:options]` (Docker's
//! `ParseVolume`: a source starting with `.`, `/` or `~` or a Windows drive is a bind mount, otherwise a named
//! volume).

use std::net::IpAddr;

use super::model::{PortConfig, PortMode, PortProtocol, ServiceVolume, VolumeType};

/// Mount propagation modes Docker knows.
pub const PROPAGATIONS: [&str; 6] = ["rprivate", "private", "rshared", "shared", "rslave", "slave"];

/// Go's `strconv.ParseUint(s, 10, 16)`.
fn parse_port_number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u64>().ok().filter(|&n| n <= u64::from(u16::MAX))
}

/// go-connections' `ParsePortRange`: `80` or `8000-8010`.
fn parse_port_range(text: &str) -> Result<(u64, u64), String> {
    if text.is_empty() {
        return Err("empty string specified for ports".to_owned());
    }
    let Some((start, rest)) = text.split_once('-') else {
        let port = parse_port_number(text).ok_or_else(|| format!("invalid port {text:?}"))?;
        return Ok((port, port));
    };
    let end = rest.split('-').next().unwrap_or_default();
    let start = parse_port_number(start).ok_or_else(|| format!("invalid port {start:?}"))?;
    let end = parse_port_number(end).ok_or_else(|| format!("invalid port {end:?}"))?;
    if end < start {
        return Err(format!("invalid range specified for port: {text}"));
    }
    Ok((start, end))
}

/// A short port syntax as long-form ports, sorted as Docker sorts them, plus the host IP Swarm ignores.
pub fn parse_port_spec(spec: &str) -> Result<(Vec<PortConfig>, Option<String>), String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let container_part = parts[parts.len() - 1];
    let (ip, host_port) = match parts.len() {
        1 => (String::new(), ""),
        2 => (String::new(), parts[0]),
        3 => (parts[0].to_owned(), parts[1]),
        n => (parts[..n - 2].join(":"), parts[n - 2]),
    };
    let (protocol, container_port) = {
        let pieces: Vec<&str> = container_part.split('/').collect();
        if container_part.is_empty() || pieces[0].is_empty() {
            ("", "")
        } else if pieces.len() == 1 {
            ("tcp", container_part)
        } else if pieces[1].is_empty() {
            ("tcp", pieces[0])
        } else {
            (pieces[1], pieces[0])
        }
    };
    let mut ip = ip;
    if ip.starts_with('[') {
        match ip.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
            Some(inner) => ip = inner.to_owned(),
            None => return Err(format!("invalid IP address {ip}")),
        }
    }
    if !ip.is_empty() && ip.parse::<IpAddr>().is_err() {
        return Err(format!("invalid IP address: {ip}"));
    }
    if container_port.is_empty() {
        return Err(format!("no port specified: {spec}<empty>"));
    }
    // Go accepts a container port 0; no service can listen on it, and its long form would not load back.
    let (start, end) = parse_port_range(container_port)
        .ok()
        .filter(|(start, _)| *start > 0)
        .ok_or_else(|| format!("invalid containerPort: {container_port}"))?;
    let (host_start, host_end) = if host_port.is_empty() {
        (0, 0)
    } else {
        parse_port_range(host_port).map_err(|_| format!("invalid hostPort: {host_port}"))?
    };
    if !host_port.is_empty() && (end - start) != (host_end - host_start) && end != start {
        return Err(format!("invalid ranges specified for container and host Ports: {container_port} and {host_port}"));
    }
    let protocol_lower = protocol.to_ascii_lowercase();
    let protocol = super::model::parse_enum(&PortProtocol::ALL, &protocol_lower)
        .ok_or_else(|| format!("invalid proto: {protocol}"))?;
    // One (target, published range) per container port, in the order of Docker's sorted "port/proto" keys.
    let mut bindings: Vec<(String, u64, u64, u64)> = Vec::new();
    for offset in 0..=(end - start) {
        let target = start + offset;
        let (published_start, published_end) = if host_port.is_empty() {
            (0, 0)
        } else if start == end && host_start != host_end {
            (host_start, host_end)
        } else {
            (host_start + offset, host_start + offset)
        };
        bindings.push((format!("{target}/{protocol_lower}"), target, published_start, published_end));
    }
    bindings.sort_by(|a, b| a.0.cmp(&b.0));
    let mut ports = Vec::new();
    for (_, target, published_start, published_end) in bindings {
        for published in published_start..=published_end {
            ports.push(PortConfig {
                mode: Some(PortMode::Ingress),
                target: target as u32,
                published: published as u32,
                protocol: Some(protocol),
            });
        }
    }
    let ignored_ip = ip
        .parse::<IpAddr>()
        .ok()
        .filter(|address| !address.is_unspecified())
        .map(|_| format!("{ip}:{host_port}:{container_part}"));
    Ok((ports, ignored_ip))
}

fn is_windows_drive(buffer: &[char], c: char) -> bool {
    c == ':' && buffer.len() == 1 && buffer[0].is_alphabetic()
}

fn is_file_path(source: &str) -> bool {
    let mut chars = source.chars();
    let Some(first) = chars.next() else { return false };
    if matches!(first, '.' | '/' | '~') {
        return true;
    }
    if source.chars().count() == 1 {
        return false;
    }
    if source.starts_with("\\\\") {
        return true;
    }
    chars.next() == Some(':') && first.is_alphabetic()
}

/// Docker's `ParseVolume` for `[source:]target[:mode]`.
pub fn parse_volume_spec(spec: &str) -> Result<ServiceVolume, String> {
    let mut volume = ServiceVolume {
        kind: VolumeType::Volume,
        source: String::new(),
        target: String::new(),
        read_only: false,
        consistency: String::new(),
        bind_propagation: None,
        volume_nocopy: None,
        tmpfs_size: None,
    };
    match spec.len() {
        0 => return Err("invalid empty volume spec".to_owned()),
        1 | 2 => {
            volume.target = spec.to_owned();
            return Ok(volume);
        }
        _ => {}
    }
    let mut buffer: Vec<char> = Vec::new();
    let mut have_target = false;
    let mut have_source = false;
    for c in spec.chars().map(Some).chain(std::iter::once(None)) {
        match c {
            Some(c) if is_windows_drive(&buffer, c) => buffer.push(c),
            Some(':') | None => {
                let text: String = buffer.iter().collect();
                if buffer.is_empty() {
                    return Err(format!("invalid spec: {spec}: empty section between colons"));
                } else if !have_source && c.is_none() {
                    volume.target = text;
                    have_target = true;
                } else if !have_source {
                    volume.source = text;
                    have_source = true;
                } else if !have_target {
                    volume.target = text;
                    have_target = true;
                } else if c.is_some() {
                    return Err(format!("invalid spec: {spec}: too many colons"));
                } else {
                    for option in text.split(',') {
                        match option {
                            "ro" => volume.read_only = true,
                            "rw" => volume.read_only = false,
                            "nocopy" => volume.volume_nocopy = Some(true),
                            other if PROPAGATIONS.contains(&other) => volume.bind_propagation = Some(other.to_owned()),
                            _ => {}
                        }
                    }
                }
                buffer.clear();
            }
            Some(c) => buffer.push(c),
        }
    }
    volume.kind =
        if !volume.source.is_empty() && is_file_path(&volume.source) { VolumeType::Bind } else { VolumeType::Volume };
    Ok(volume)
}
