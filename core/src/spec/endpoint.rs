//! Docker's `EndpointSpec`: how a service is reached (VIP or DNS round robin) and the ports it publishes, with
//! SwarmKit's `validateEndpointSpec` plus port ranges, and the one rule for which ports can be published
//! (`PortConfig::into_publishable`), which `service create` and `stack deploy` share.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::error::SpecError;
use super::keywords::{PortProtocol, PublishMode, ResolutionMode};

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

    /// A port as the cluster publishes it (`service create -p`, `service update --publish-add`, a stack's
    /// `ports:`): in ingress mode (Docker's default) the routing mesh answers on it on every node, in host mode
    /// the node running the task binds it. A port without a published number is refused: Docker would assign one
    /// from 30000–32767, which is not done yet.
    pub fn into_publishable(self) -> Result<PortConfig, PublishedPortRequired> {
        if self.published_port == 0 {
            return Err(PublishedPortRequired { target_port: self.target_port, protocol: self.protocol });
        }
        Ok(self)
    }
}

/// A port asked for without a published port, which only the routing mesh could assign (`into_publishable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a published port is required for port {target_port}/{protocol} (assigning one is not supported yet)")]
pub struct PublishedPortRequired {
    pub target_port: u32,
    pub protocol: PortProtocol,
}
