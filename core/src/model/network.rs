//! Networks: the overlay networks services attach to (`network create`), names unique among networks, and what
//! the address management gave each (`NetworkAllocation`): its subnet, the nominal gateway Docker shows, a VXLAN
//! id, and one gateway address of its own for every node that realises the network (a gateway shared by every
//! host would answer ARP from every host).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::meta::{Timestamp, Version};
use crate::ipam::Ipv4Cidr;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub id: String,
    pub version: Version,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub spec: NetworkSpec,
    /// Chosen by `apply` when the network is created (pure: the lowest free subnet and VXLAN id).
    pub allocation: NetworkAllocation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSpec {
    /// Unique among networks.
    pub name: String,
    /// Docker's `DriverConfiguration.Name`; "overlay" by default.
    pub driver: String,
    pub labels: BTreeMap<String, String>,
    /// Driver options, e.g. `encrypted` (`docker network create --opt encrypted`).
    pub options: BTreeMap<String, String>,
    /// `--attachable`: standalone containers may join (kept and shown; services always may).
    pub attachable: bool,
    /// `--internal`: no route to the outside world.
    pub internal: bool,
    /// The routing mesh's network (`ingress`, created at init); services never name it.
    pub ingress: bool,
    /// `--subnet/--gateway/--ip-range`; empty: a subnet from the cluster's default address pools.
    pub ipam: Vec<IpamConfig>,
}

/// Docker's `IPAMConfig`: a subnet with an optional gateway and allocation range inside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpamConfig {
    pub subnet: Ipv4Cidr,
    pub gateway: Option<Ipv4Addr>,
    pub ip_range: Option<Ipv4Cidr>,
}

/// What the address management gave a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkAllocation {
    pub subnet: Ipv4Cidr,
    /// The gateway `network inspect` shows (`--gateway`, else the first host address). Reserved; the nodes'
    /// gateway devices use their own addresses from `node_gateways`.
    pub gateway: Ipv4Addr,
    pub ip_range: Option<Ipv4Cidr>,
    /// Unique among networks; from 4096 up, as SwarmKit's.
    pub vxlan_id: u32,
    /// The gateway address of each node realising the network, by node id (allocated when a task on the network
    /// is first assigned to the node; released when the node or the network is removed).
    pub node_gateways: BTreeMap<String, Ipv4Addr>,
    /// Where the next dynamic allocation starts looking (an offset into the subnet): addresses are handed out in
    /// turn, wrapping around, as Docker's IPAM does, so an address just released (its container may still be
    /// stopping) is not handed out again at once.
    pub next_offset: u32,
}

impl NetworkSpec {
    pub const DEFAULT_DRIVER: &'static str = "overlay";
    /// The name of the routing mesh's network, created at `swarm init`.
    pub const INGRESS_NAME: &'static str = "ingress";

    /// An overlay network with no labels or options.
    pub fn overlay(name: impl Into<String>) -> NetworkSpec {
        NetworkSpec { name: name.into(), ..NetworkSpec::default() }
    }

    /// The `ingress` network `swarm init` creates.
    pub fn ingress() -> NetworkSpec {
        NetworkSpec { ingress: true, ..NetworkSpec::overlay(NetworkSpec::INGRESS_NAME) }
    }

    /// The driver options (`--opt`) an overlay network acts on.
    pub const DRIVER_OPTIONS: &'static [&'static str] = &["encrypted"];

    /// Whether `--opt KEY` is taken: one of `DRIVER_OPTIONS`, or a reverse-DNS name of the user's own (kept, like a
    /// label) outside Docker's `com.docker.` namespace, whose options (an MTU, VXLAN ids) this driver does not
    /// honour. Anything else — a typo of `encrypted`, a bare word — is refused rather than silently ignored.
    pub fn is_known_option(key: &str) -> bool {
        Self::DRIVER_OPTIONS.contains(&key) || (key.contains('.') && !key.starts_with("com.docker."))
    }

    /// The driver options a new network may have, checked where `network create` is proposed (not in `apply`:
    /// the log's entries of earlier builds must apply as they did); the error names the network and the option.
    pub fn check_driver_options(&self) -> Result<(), String> {
        if let Some(unknown) = self.options.keys().find(|key| !Self::is_known_option(key)) {
            return Err(format!(
                "network {}: unknown option \"{unknown}\" of the overlay driver (it takes: {}, and options of your \
                 own named in reverse-DNS style, such as com.example.key)",
                self.name,
                Self::DRIVER_OPTIONS.join(", ")
            ));
        }
        if self.ingress && self.is_encrypted() {
            return Err(format!(
                "network {}: the routing mesh's ingress network cannot be encrypted (encrypt the networks services \
                 share)",
                self.name
            ));
        }
        Ok(())
    }

    /// Whether `--opt encrypted` was given (any value but "false", as Docker reads it).
    pub fn is_encrypted(&self) -> bool {
        self.options.get("encrypted").is_some_and(|value| value != "false")
    }
}

impl Default for NetworkSpec {
    fn default() -> Self {
        NetworkSpec {
            name: String::new(),
            driver: NetworkSpec::DEFAULT_DRIVER.to_string(),
            labels: BTreeMap::new(),
            options: BTreeMap::new(),
            attachable: false,
            internal: false,
            ingress: false,
            ipam: Vec::new(),
        }
    }
}

/// A task's address on one of its networks (Docker's `NetworkAttachment`), in the order of the task spec's
/// networks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkAttachment {
    pub network_id: String,
    pub addr: Ipv4Addr,
}

/// A service's virtual IP on one network (endpoint mode `vip`): stable across updates and leader changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualIp {
    pub network_id: String,
    pub addr: Ipv4Addr,
}
