//! Docker's `EndpointSpec`: how a service is reached (VIP or DNS round robin) and the ports it publishes, with
//! SwarmKit's `validateEndpointSpec` plus port ranges, and how an ingress port asked for without a number keeps
//! the number it was given (`keep_assigned_ports`), which the store and `stack deploy` share.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

use super::error::SpecError;
use super::keywords::{PortProtocol, PublishMode, ResolutionMode};

/// Swarm's dynamic range: an ingress port published without a number gets the lowest free one of these.
pub const DYNAMIC_PORTS: RangeInclusive<u32> = 30000..=32767;

/// Docker's `EndpointSpec`: how the service is reached.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointSpec {
    pub mode: ResolutionMode,
    pub ports: Vec<PortConfig>,
}

impl EndpointSpec {
    /// Whether a port is published in ingress mode: the routing mesh answers on it on every node.
    pub fn publishes_ingress(&self) -> bool {
        self.ports.iter().any(|port| port.publish_mode == PublishMode::Ingress)
    }

    /// Ingress ports without a number take the number `current` gave the same port (same name, target and
    /// protocol, a number from `DYNAMIC_PORTS` not already asked for here), so a spec sent again as it was written
    /// (a stack deployed anew, an API client that keeps port 0) keeps its ports, as Swarm's allocator does.
    /// Ports still without a number are left for the store to assign.
    pub fn keep_assigned_ports(&mut self, current: &EndpointSpec) {
        let mut taken: BTreeSet<(u32, PortProtocol)> =
            self.ports.iter().filter(|p| p.published_port != 0).map(|p| (p.published_port, p.protocol)).collect();
        for port in self.ports.iter_mut().filter(|p| p.awaits_number()) {
            let given = current.ports.iter().find(|old| {
                old.publish_mode == PublishMode::Ingress
                    && DYNAMIC_PORTS.contains(&old.published_port)
                    && (old.name.as_str(), old.target_port, old.protocol)
                        == (port.name.as_str(), port.target_port, port.protocol)
                    && !taken.contains(&(old.published_port, old.protocol))
            });
            if let Some(given) = given {
                port.published_port = given.published_port;
                taken.insert((given.published_port, given.protocol));
            }
        }
    }

    /// SwarmKit's `validateEndpointSpec` plus port ranges.
    pub fn validate(&self) -> Result<(), SpecError> {
        let mut published = BTreeSet::new();
        for port in &self.ports {
            if !(1..=65535).contains(&port.target_port) {
                return Err(SpecError::InvalidTargetPort { port: port.target_port });
            }
            if port.published_port > 65535 {
                return Err(SpecError::InvalidPublishedPort { port: port.published_port });
            }
            if self.mode == ResolutionMode::Dnsrr && port.publish_mode == PublishMode::Ingress {
                return Err(SpecError::IngressPortWithDnsrr);
            }
            if port.published_port != 0 && !published.insert((port.published_port, port.protocol)) {
                return Err(SpecError::DuplicatePublishedPort { port: port.published_port, protocol: port.protocol });
            }
        }
        Ok(())
    }
}

/// Docker's `PortConfig`: `-p published=8080,target=80,protocol=tcp,mode=ingress`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PortConfig {
    pub name: String,
    pub protocol: PortProtocol,
    /// The port inside the container, 1-65535.
    pub target_port: u32,
    /// The port on the nodes, 1-65535; 0 has one assigned from the dynamic range.
    pub published_port: u32,
    pub publish_mode: PublishMode,
}

impl PortConfig {
    /// `-p published:target` over TCP through the routing mesh.
    pub fn tcp(published_port: u32, target_port: u32) -> PortConfig {
        PortConfig { published_port, target_port, ..PortConfig::default() }
    }

    /// An ingress port asked for without a number: the store gives it one from [`DYNAMIC_PORTS`].
    pub fn awaits_number(&self) -> bool {
        self.publish_mode == PublishMode::Ingress && self.published_port == 0
    }
}
