//! The container options of Docker's `ContainerSpec` beyond image, command and mounts, and the task template's log
//! driver: the plain types the spec holds them in (`Ulimit`, `DnsConfig`, `LogDriver`), their checks, and the
//! conversions every producer of a spec shares — the CLI's flags and the compose converter alike — so a value means
//! the same whichever way it came: capabilities normalised as Docker's CLI does (`net_admin` → `CAP_NET_ADMIN`,
//! `ALL`, add wins over drop), `host:ip` turned into SwarmKit's hosts(5) form (`ip host`), ulimits and stop signals
//! judged by the Engine's own rules (go-units' `ParseUlimit`, moby's `ParseSignal`). Messages are Docker's where
//! Docker has one.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::error::SpecError;

/// The capability that stands for every capability, in `capability_add` or `capability_drop`.
pub const CAPABILITY_ALL: &str = "ALL";
/// `service update --cap-add RESET` / `--cap-drop RESET` empties the list first; never stored.
pub const CAPABILITY_RESET: &str = "RESET";
/// The value of a ulimit that means "unlimited" (`--ulimit memlock=-1`, or `infinity`).
pub const ULIMIT_UNLIMITED: i64 = -1;
/// The ulimits the Engine knows (go-units' table; `as` is disabled there), sorted.
pub const ULIMIT_NAMES: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];
/// The address an extra host may name instead of an IP: the Engine puts the host's gateway address there.
pub const HOST_GATEWAY: &str = "host-gateway";

/// Linux's signal names as moby's `ParseSignal` knows them, without the `SIG` prefix.
const SIGNAL_NAMES: &[&str] = &[
    "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL", "PIPE", "POLL",
    "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP", "TTIN", "TTOU", "URG", "USR1",
    "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ", "RTMIN", "RTMAX",
];
/// `RTMIN+1` … `RTMIN+15` and `RTMAX-14` … `RTMAX-1` are signal names too.
const REALTIME_OFFSET_MAX: u32 = 15;

/// Docker's `Ulimit` (`--ulimit nofile=1024:2048`, compose's `ulimits:`): a resource limit by its name, soft and
/// hard; `ULIMIT_UNLIMITED` (-1) is unlimited. A spec keeps them sorted by name, one per name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

impl Ulimit {
    pub fn new(name: impl Into<String>, soft: i64, hard: i64) -> Ulimit {
        Ulimit { name: name.into(), soft, hard }
    }

    /// go-units' checks: a known name, and soft within hard (unless hard is unlimited).
    pub fn validate(&self) -> Result<(), SpecError> {
        if !ULIMIT_NAMES.contains(&self.name.as_str()) {
            return Err(SpecError::InvalidUlimitName { name: self.name.clone() });
        }
        if self.hard != ULIMIT_UNLIMITED {
            if self.soft == ULIMIT_UNLIMITED {
                return Err(SpecError::UlimitSoftUnlimited { hard: self.hard });
            }
            if self.soft > self.hard {
                return Err(SpecError::UlimitSoftAboveHard { soft: self.soft, hard: self.hard });
            }
        }
        Ok(())
    }
}

/// Docker's `DNSConfig` (`--dns`, `--dns-search`, `--dns-option`; compose's `dns:` and `dns_search:`): what the
/// container's resolv.conf says. Empty lists leave the Engine's defaults. Nameservers are IP addresses as text
/// (`8.8.8.8`, `2001:db8::1`). On an overlay network the task keeps the cluster's service discovery and these
/// servers answer the other names (see the Docker executor).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DnsConfig {
    pub nameservers: Vec<String>,
    /// Search domains (`example.com`, or `.` for none).
    pub search: Vec<String>,
    /// resolv.conf options (`ndots:2`, `timeout:3`, `edns0`).
    pub options: Vec<String>,
}

impl DnsConfig {
    /// True when nothing is set.
    pub fn is_empty(&self) -> bool {
        self.nameservers.is_empty() && self.search.is_empty() && self.options.is_empty()
    }

    /// Nameservers are IP addresses; search domains and options are single resolv.conf words.
    pub fn validate(&self) -> Result<(), SpecError> {
        for nameserver in &self.nameservers {
            if nameserver.parse::<IpAddr>().is_err() {
                return Err(SpecError::InvalidNameserver { nameserver: nameserver.clone() });
            }
        }
        if let Some(domain) = self.search.iter().find(|domain| !is_word(domain)) {
            return Err(SpecError::InvalidDnsSearch { domain: domain.clone() });
        }
        if let Some(option) = self.options.iter().find(|option| !is_word(option)) {
            return Err(SpecError::InvalidDnsOption { option: option.clone() });
        }
        Ok(())
    }
}

/// Docker's `TaskTemplate.LogDriver` (`--log-driver`, `--log-opt`; compose's `logging:`): the logging driver of the
/// task's containers and its options. An empty name keeps the Engine's default driver (with these options).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LogDriver {
    pub name: String,
    pub options: BTreeMap<String, String>,
}

/// Docker's `NormalizeCapability`: trimmed, upper-cased, `CAP_`-prefixed; `ALL` and `RESET` as they are. Which
/// capabilities exist is the Engine's to say.
pub fn normalize_capability(capability: &str) -> String {
    let capability = capability.trim().to_uppercase();
    if capability == CAPABILITY_ALL || capability == CAPABILITY_RESET || capability.starts_with("CAP_") {
        return capability;
    }
    format!("CAP_{capability}")
}

/// Docker's `EffectiveCapAddCapDrop`, what `service create --cap-add/--cap-drop` and `stack deploy` store:
/// `(capability_add, capability_drop)` normalised, without duplicates, sorted; `ALL` in a list stands alone there;
/// a capability both added and dropped is only added; `RESET` is dropped from both.
pub fn effective_capabilities<S: AsRef<str>>(add: &[S], drop: &[S]) -> (Vec<String>, Vec<String>) {
    let normalise = |list: &[S]| -> BTreeSet<String> {
        let set: BTreeSet<String> = list.iter().map(|c| normalize_capability(c.as_ref())).collect();
        if set.contains(CAPABILITY_ALL) {
            BTreeSet::from([CAPABILITY_ALL.to_string()])
        } else {
            set
        }
    };
    let (add, drop) = (normalise(add), normalise(drop));
    let capability_drop =
        drop.iter().filter(|c| !add.contains(*c) && c.as_str() != CAPABILITY_RESET).cloned().collect();
    let capability_add = add.into_iter().filter(|c| c != CAPABILITY_RESET).collect();
    (capability_add, capability_drop)
}

/// Why a `host:ip` mapping is refused, in Docker's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum ExtraHostError {
    #[error("bad format for add-host: {0:?}")]
    BadFormat(String),
    #[error("invalid IP address in add-host: {0:?}")]
    InvalidAddress(String),
}

/// One `--host`/`--host-add` value or compose `extra_hosts` entry (`host:ip`, `host=ip`, `host:[ip]`; the address
/// may be `host-gateway`) as SwarmKit stores it in `ContainerSpec::hosts`: `ip host`. Docker's
/// `ValidateExtraHost` then `convertExtraHostsToSwarmHosts`: split at the first `=`, else at the first `:` (so
/// `host:::1` is IPv6), brackets around the address dropped, the address kept as written.
pub fn hosts_entry(extra_host: &str) -> Result<String, ExtraHostError> {
    let bad_format = || ExtraHostError::BadFormat(extra_host.to_string());
    let (host, addr) = extra_host.split_once('=').or_else(|| extra_host.split_once(':')).ok_or_else(bad_format)?;
    if host.is_empty() || host.contains(':') {
        return Err(bad_format());
    }
    let addr = match addr.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
        Some(inner) if addr.len() > 2 => inner,
        _ => addr,
    };
    if addr != HOST_GATEWAY && addr.trim().parse::<IpAddr>().is_err() {
        return Err(ExtraHostError::InvalidAddress(addr.to_string()));
    }
    Ok(format!("{addr} {host}"))
}

/// moby's `ParseSignal` as the Engine checks `StopSignal`: a non-zero decimal number, or a Linux signal name,
/// case-insensitive, with or without `SIG` (`SIGTERM`, `term`, `SIGRTMIN+3`).
pub fn validate_stop_signal(signal: &str) -> Result<(), SpecError> {
    let invalid = || Err(SpecError::InvalidSignal { signal: signal.to_string() });
    if let Some(number) = go_atoi(signal) {
        return if number == 0 { invalid() } else { Ok(()) };
    }
    let upper = signal.to_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if SIGNAL_NAMES.contains(&name) || is_realtime_signal_name(name) {
        Ok(())
    } else {
        invalid()
    }
}

/// `RTMIN+1` … `RTMIN+15` and `RTMAX-14` … `RTMAX-1`, offsets in plain decimal.
fn is_realtime_signal_name(name: &str) -> bool {
    let offset = |rest: &str| rest.parse::<u32>().ok().filter(|_| !rest.starts_with(['+', '0']));
    if let Some(rest) = name.strip_prefix("RTMIN+") {
        return offset(rest).is_some_and(|n| (1..=REALTIME_OFFSET_MAX).contains(&n));
    }
    if let Some(rest) = name.strip_prefix("RTMAX-") {
        return offset(rest).is_some_and(|n| (1..REALTIME_OFFSET_MAX).contains(&n));
    }
    false
}

/// Go's `strconv.Atoi`: an optional sign and decimal digits that fit in 64 bits.
fn go_atoi(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.strip_prefix('+').unwrap_or(text).parse().ok()
}

/// A capability as the spec holds it: `ALL`, or letters, digits and `_` (the Engine knows which exist).
fn is_capability(capability: &str) -> bool {
    !capability.is_empty() && capability.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A hosts entry in hosts(5) form: an IP address (or `host-gateway`), then at least one name.
fn is_hosts_entry(entry: &str) -> bool {
    let mut fields = entry.split_whitespace();
    let addr_ok = fields.next().is_some_and(|addr| addr == HOST_GATEWAY || addr.parse::<IpAddr>().is_ok());
    addr_ok && fields.next().is_some()
}

/// One word (a resolv.conf search domain or option, a sysctl name): non-empty, no whitespace (in resolv.conf a
/// newline would start a line of its own).
fn is_word(word: &str) -> bool {
    !word.is_empty() && !word.chars().any(char::is_whitespace)
}

/// The checks of the container options a `ContainerSpec` holds (called by `ContainerSpec::validate`).
pub(super) fn validate_options(
    stop_signal: &str,
    capabilities: [&[String]; 2],
    sysctls: &BTreeMap<String, String>,
    ulimits: &[Ulimit],
    hosts: &[String],
    dns_config: &DnsConfig,
) -> Result<(), SpecError> {
    if !stop_signal.is_empty() {
        validate_stop_signal(stop_signal)?;
    }
    for capability in capabilities.into_iter().flatten() {
        if !is_capability(capability) {
            return Err(SpecError::InvalidCapability { capability: capability.clone() });
        }
    }
    if let Some(key) = sysctls.keys().find(|key| !is_word(key)) {
        return Err(SpecError::InvalidSysctl { key: key.clone() });
    }
    let mut names = BTreeSet::new();
    for ulimit in ulimits {
        ulimit.validate()?;
        if !names.insert(ulimit.name.as_str()) {
            return Err(SpecError::DuplicateUlimit { name: ulimit.name.clone() });
        }
    }
    if let Some(entry) = hosts.iter().find(|entry| !is_hosts_entry(entry)) {
        return Err(SpecError::InvalidHostsEntry { entry: entry.clone() });
    }
    dns_config.validate()
}
