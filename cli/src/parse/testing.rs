//! Helpers for the tests of the parsers and of the service flags: a fixed environment, and ports, mounts and
//! string lists written briefly.

use swarm_core::spec::{Mount, MountType, PortConfig, PortProtocol, PublishMode};

/// The test environment: `HOME=/root`, `TOKEN=secret`; nothing else is set.
pub(crate) fn test_env(key: &str) -> Option<String> {
    match key {
        "HOME" => Some("/root".to_string()),
        "TOKEN" => Some("secret".to_string()),
        _ => None,
    }
}

pub(crate) fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

pub(crate) fn port(published: u32, target: u32, protocol: PortProtocol, mode: PublishMode) -> PortConfig {
    PortConfig { published_port: published, target_port: target, protocol, publish_mode: mode, ..PortConfig::default() }
}

pub(crate) fn mount(kind: MountType, source: &str, target: &str, read_only: bool) -> Mount {
    Mount { kind, source: source.to_string(), target: target.to_string(), read_only, tmpfs_options: None }
}
