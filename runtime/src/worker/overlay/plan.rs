//! The desired overlay state of one node, as plain data: for each overlay network with a task on the node, its
//! subnet, this node's own gateway on it, its VXLAN id and MTU, and every remote peer and remote endpoint (task
//! address or remote gateway → the underlay address of the node holding it). Computed elsewhere from cluster
//! state; realised by an `OverlayDataPlane`. Also the names the data plane gives what it creates (derived from the
//! network id alone, so a restarted node finds what it made) and Docker's MAC scheme. Pure: compiled everywhere,
//! the simulator included. Invariant: a plan that passes [`NodeOverlayPlan::validate`] can be realised without
//! two networks fighting over a name, a VXLAN id or an address, and every address in it lies in its subnet.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// The prefix of the Docker network of an overlay network.
pub const NETWORK_NAME_PREFIX: &str = "swo-";
/// The prefix of this node's gateway device on an overlay network (not `swo-`: an earlier release named its
/// bridges so).
pub const GATEWAY_NAME_PREFIX: &str = "swg-";
/// The prefix of the VXLAN device of an overlay network.
pub const VXLAN_NAME_PREFIX: &str = "swv-";
/// How many leading characters of the network id name its devices (prefix + these ≤ 15, Linux's IFNAMSIZ − 1).
pub const NAME_ID_CHARS: usize = 10;
/// VXLAN network identifiers are 24 bits; 0 is not used.
pub const VXLAN_ID_MAX: u32 = (1 << 24) - 1;
/// IANA's VXLAN port, the default data-path port (`swarm init --data-path-port`).
pub const DEFAULT_VXLAN_PORT: u16 = 4789;
/// What VXLAN over IPv4 adds to each frame: overlay MTU = underlay MTU − this.
pub const VXLAN_OVERHEAD_BYTES: u32 = 50;
/// The smallest MTU IPv4 allows.
pub const MTU_MIN: u32 = 68;
/// The largest MTU a Linux device takes.
pub const MTU_MAX: u32 = 65_535;
/// The longest subnet prefix an overlay network may have (a /30 still has two usable addresses).
pub const PREFIX_LEN_MAX: u8 = 30;

/// The MTU of the tunnel of encrypted networks, whatever the underlay's: a jumbo frame's. Every packet costs the
/// userspace tunnel a read, a seal and a send, so per-packet work, not encryption, bounded it at the underlay's
/// 1500 bytes (`bench encrypted_throughput` on this machine: 62 MB/s at 1420 bytes, 221 at 8920, 253 at 16000,
/// 409 at 65000); above the underlay MTU the kernel fragments each tunnel datagram, here into at most seven
/// packets (one on a jumbo-frame underlay), which keeps the cost of a lost fragment small.
pub const TUNNEL_MTU_BYTES: u32 = 8920;

/// What one node should have of every overlay network it takes part in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeOverlayPlan {
    /// Sorted by `network_id`, one entry per network.
    pub networks: Vec<OverlayNetworkPlan>,
    /// The node's WireGuard tunnel: present while a network of the plan is encrypted.
    #[serde(default)]
    pub tunnel: Option<TunnelPlan>,
}

/// This node's WireGuard tunnel, which carries the VXLAN frames of encrypted networks between nodes' tunnel
/// addresses. The private key is the data plane's own and never appears in a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunnelPlan {
    /// This node's address in the tunnel subnet, with its prefix length.
    pub addr: Ipv4Addr,
    pub prefix_len: u8,
    /// [`TUNNEL_MTU_BYTES`].
    pub mtu: u32,
    /// The public key the cluster holds for this node: a data plane whose key was rotated uses the new key once
    /// the cluster holds it (peers then expect it).
    pub cluster_public_key: swarm_core::TunnelKey,
    /// The other nodes' tunnel ends, sorted by tunnel address.
    pub peers: Vec<swarm_core::overlay::TunnelPeer>,
}

/// One overlay network on one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverlayNetworkPlan {
    /// The cluster network id (Docker-style, 25 lowercase letters and digits).
    pub network_id: String,
    /// The user's name for the network.
    pub name: String,
    pub subnet: Ipv4Addr,
    pub prefix_len: u8,
    /// This node's own gateway address on the network (each node has its own: one gateway shared by every host
    /// would answer ARP from every host).
    pub local_gateway: Ipv4Addr,
    pub vxlan_id: u32,
    /// The underlay MTU − [`VXLAN_OVERHEAD_BYTES`] (when encrypted: [`TUNNEL_MTU_BYTES`] − it).
    pub mtu: u32,
    /// Whether its VXLAN frames travel inside the node's tunnel (`--opt encrypted`): the VXLAN device's local
    /// address is the node's tunnel address, and the remote peers' and endpoints' "underlay" addresses are theirs.
    #[serde(default)]
    pub encrypted: bool,
    /// No route out of the network (`docker network create --internal`).
    pub internal: bool,
    /// The VXLAN UDP port (`swarm init --data-path-port`).
    #[serde(default = "default_vxlan_port")]
    pub vxlan_port: u16,
    /// Underlay addresses of the other nodes sharing this network (broadcast and unknown frames go to each).
    pub remote_peers: Vec<Ipv4Addr>,
    /// Every remote task address and every remote node's gateway, with the node that holds it.
    pub remote_endpoints: Vec<RemoteEndpoint>,
}

/// An overlay address held by another node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RemoteEndpoint {
    /// The address on the overlay network.
    pub addr: Ipv4Addr,
    /// The underlay address of the node holding it.
    pub underlay: Ipv4Addr,
}

fn default_vxlan_port() -> u16 {
    DEFAULT_VXLAN_PORT
}

impl NodeOverlayPlan {
    /// The realisation of the cluster's plan for this node (`swarm_core::overlay::plan_for_node`, sent with the
    /// assignments) on an underlay of `underlay_mtu` bytes.
    /// An encrypted network waits (is left out, so its tasks wait) until the cluster holds this node's key.
    pub fn from_cluster(cluster: &swarm_core::overlay::NodeOverlayPlan, underlay_mtu: u32) -> NodeOverlayPlan {
        let local_tunnel = cluster.tunnel.local;
        let tunnel_mtu = TUNNEL_MTU_BYTES;
        let networks: Vec<OverlayNetworkPlan> = cluster
            .networks
            .iter()
            .filter(|network| !network.encrypted || local_tunnel.is_some())
            .map(|network| OverlayNetworkPlan {
                network_id: network.network_id.clone(),
                name: network.name.clone(),
                subnet: network.subnet.network(),
                prefix_len: network.subnet.prefix_len(),
                local_gateway: network.local_gateway,
                vxlan_id: network.vxlan_id,
                mtu: if network.encrypted { tunnel_mtu } else { underlay_mtu }.saturating_sub(VXLAN_OVERHEAD_BYTES),
                encrypted: network.encrypted,
                internal: network.internal,
                vxlan_port: cluster.data_path_port,
                remote_peers: network.remote_peers.clone(),
                remote_endpoints: network
                    .remote_endpoints
                    .iter()
                    .map(|endpoint| RemoteEndpoint { addr: endpoint.addr, underlay: endpoint.underlay })
                    .collect(),
            })
            .collect();
        let tunnel =
            local_tunnel.filter(|_| networks.iter().any(|network| network.encrypted)).map(|local| TunnelPlan {
                addr: local.addr,
                prefix_len: swarm_core::model::TUNNEL_PREFIX_LEN,
                mtu: tunnel_mtu,
                cluster_public_key: local.public_key,
                peers: cluster.tunnel.peers.clone(),
            });
        NodeOverlayPlan { networks, tunnel }
    }
}

/// Why a plan cannot be realised, naming the network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem}")]
pub struct PlanError {
    /// The network id the problem is in.
    pub network_id: String,
    pub problem: String,
}

/// Docker's MAC for a container address: `02:42` followed by the four bytes of the address. Containers are
/// started with it and remote nodes program it, so no node ever has to ask (VXLAN `proxy` drops ARP into the
/// tunnel).
pub fn mac_for(addr: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = addr.octets();
    [0x02, 0x42, a, b, c, d]
}

/// The Docker network of network `network_id`: `swo-` + its first ten characters.
pub fn network_name(network_id: &str) -> String {
    format!("{NETWORK_NAME_PREFIX}{}", id_part(network_id))
}

/// This node's gateway device on network `network_id`: `swg-` + its first ten characters.
pub fn gateway_name(network_id: &str) -> String {
    format!("{GATEWAY_NAME_PREFIX}{}", id_part(network_id))
}

/// The VXLAN device of network `network_id`: `swv-` + its first ten characters.
pub fn vxlan_name(network_id: &str) -> String {
    format!("{VXLAN_NAME_PREFIX}{}", id_part(network_id))
}

fn id_part(network_id: &str) -> &str {
    let end = network_id.char_indices().nth(NAME_ID_CHARS).map_or(network_id.len(), |(index, _)| index);
    &network_id[..end]
}

impl OverlayNetworkPlan {
    pub fn network_name(&self) -> String {
        network_name(&self.network_id)
    }

    pub fn vxlan_name(&self) -> String {
        vxlan_name(&self.network_id)
    }

    pub fn gateway_name(&self) -> String {
        gateway_name(&self.network_id)
    }

    /// Whether `addr` lies in the network's subnet.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & netmask(self.prefix_len) == u32::from(self.subnet)
    }

    /// The forwarding entries the plan asks for: remote address → underlay address of its node.
    pub fn forwarding(&self) -> BTreeMap<Ipv4Addr, Ipv4Addr> {
        self.remote_endpoints.iter().map(|endpoint| (endpoint.addr, endpoint.underlay)).collect()
    }

    /// Checks the network on its own (see [`NodeOverlayPlan::validate`] for checks across networks).
    pub fn validate(&self) -> Result<(), PlanError> {
        let fail = |problem: String| Err(PlanError { network_id: self.network_id.clone(), problem });
        let id_ok = self.network_id.len() >= NAME_ID_CHARS
            && self.network_id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !id_ok {
            return fail(format!(
                "network id {:?}: at least {NAME_ID_CHARS} lowercase letters or digits",
                self.network_id
            ));
        }
        if self.prefix_len == 0 || self.prefix_len > PREFIX_LEN_MAX {
            return fail(format!("subnet prefix length {}: 1 to {PREFIX_LEN_MAX}", self.prefix_len));
        }
        if u32::from(self.subnet) & !netmask(self.prefix_len) != 0 {
            return fail(format!("subnet {}/{} has host bits set", self.subnet, self.prefix_len));
        }
        if !(1..=VXLAN_ID_MAX).contains(&self.vxlan_id) {
            return fail(format!("VXLAN id {}: 1 to {VXLAN_ID_MAX}", self.vxlan_id));
        }
        if !(MTU_MIN..=MTU_MAX).contains(&self.mtu) {
            return fail(format!("MTU {}: {MTU_MIN} to {MTU_MAX}", self.mtu));
        }
        self.check_host_addr("gateway", self.local_gateway).or_else(fail)?;
        let mut seen = BTreeMap::new();
        for endpoint in &self.remote_endpoints {
            self.check_host_addr("remote endpoint", endpoint.addr).or_else(fail)?;
            if endpoint.addr == self.local_gateway {
                return fail(format!("remote endpoint {} is this node's gateway", endpoint.addr));
            }
            if let Some(other) = seen.insert(endpoint.addr, endpoint.underlay) {
                if other != endpoint.underlay {
                    return fail(format!(
                        "remote endpoint {} is on two nodes: {other} and {}",
                        endpoint.addr, endpoint.underlay
                    ));
                }
            }
        }
        Ok(())
    }

    /// `addr` is a host address of the subnet (neither the network nor the broadcast address).
    fn check_host_addr(&self, what: &str, addr: Ipv4Addr) -> Result<(), String> {
        let subnet = format!("{}/{}", self.subnet, self.prefix_len);
        if !self.contains(addr) {
            return Err(format!("{what} {addr} is outside the subnet {subnet}"));
        }
        let host_bits = u32::from(addr) & !netmask(self.prefix_len);
        if host_bits == 0 || host_bits == !netmask(self.prefix_len) {
            return Err(format!("{what} {addr} is the network or broadcast address of {subnet}"));
        }
        Ok(())
    }
}

impl NodeOverlayPlan {
    /// Checks every network, and across networks: sorted by id with no id twice, and no two networks sharing a
    /// device name (ids agreeing in their first ten characters) or a VXLAN id.
    pub fn validate(&self) -> Result<(), PlanError> {
        let mut names = BTreeMap::new();
        let mut vxlan_ids = BTreeMap::new();
        let mut previous: Option<&str> = None;
        for network in &self.networks {
            network.validate()?;
            let fail = |problem: String| Err(PlanError { network_id: network.network_id.clone(), problem });
            if previous.is_some_and(|previous| previous >= network.network_id.as_str()) {
                return fail("networks are not sorted by id, or one is listed twice".to_string());
            }
            previous = Some(&network.network_id);
            if let Some(other) = names.insert(network.network_name(), &network.network_id) {
                return fail(format!("its device names clash with network {other}'s"));
            }
            if let Some(other) = vxlan_ids.insert(network.vxlan_id, &network.network_id) {
                return fail(format!("VXLAN id {} is also network {other}'s", network.vxlan_id));
            }
            if network.encrypted && self.tunnel.is_none() {
                return fail("it is encrypted but the plan has no tunnel".to_string());
            }
        }
        if let Some(tunnel) = &self.tunnel {
            let fail = |problem: String| Err(PlanError { network_id: "(tunnel)".to_string(), problem });
            if !(MTU_MIN..=MTU_MAX).contains(&tunnel.mtu) {
                return fail(format!("MTU {}: {MTU_MIN} to {MTU_MAX}", tunnel.mtu));
            }
            let mut keys = BTreeSet::new();
            for peer in &tunnel.peers {
                if peer.addr == tunnel.addr || !keys.insert(peer.public_key) || peer.port == 0 {
                    return fail(format!("peer {} clashes with this node or another peer, or has port 0", peer.addr));
                }
            }
        }
        Ok(())
    }

    /// The network ids in the plan.
    pub fn network_ids(&self) -> BTreeSet<&str> {
        self.networks.iter().map(|network| network.network_id.as_str()).collect()
    }
}

/// The netmask of a prefix length, as a number.
fn netmask(prefix_len: u8) -> u32 {
    match prefix_len {
        0 => 0,
        len if len >= 32 => u32::MAX,
        len => u32::MAX << (32 - u32::from(len)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn network(id: &str) -> OverlayNetworkPlan {
        OverlayNetworkPlan {
            network_id: id.to_string(),
            name: "web".into(),
            subnet: Ipv4Addr::new(10, 0, 1, 0),
            prefix_len: 24,
            local_gateway: Ipv4Addr::new(10, 0, 1, 2),
            vxlan_id: 4097,
            mtu: 1450,
            internal: false,
            encrypted: false,
            vxlan_port: DEFAULT_VXLAN_PORT,
            remote_peers: vec![Ipv4Addr::new(172, 30, 0, 2)],
            remote_endpoints: vec![RemoteEndpoint {
                addr: Ipv4Addr::new(10, 0, 1, 3),
                underlay: Ipv4Addr::new(172, 30, 0, 2),
            }],
        }
    }

    #[test]
    fn macs_follow_dockers_scheme() {
        assert_eq!(mac_for(Ipv4Addr::new(10, 0, 1, 5)), [0x02, 0x42, 10, 0, 1, 5]);
        assert_eq!(mac_for(Ipv4Addr::new(192, 168, 255, 254)), [0x02, 0x42, 192, 168, 255, 254]);
    }

    #[test]
    fn device_names_fit_linux_and_derive_from_the_id_alone() {
        let id = "7m3xq9k2p1a8b4c6d0e5f2g7h";
        assert_eq!(network_name(id), "swo-7m3xq9k2p1");
        assert_eq!(vxlan_name(id), "swv-7m3xq9k2p1");
        assert!(network_name(id).len() <= 15 && vxlan_name(id).len() <= 15);
        assert_eq!(network_name("short"), "swo-short");
    }

    #[test]
    fn a_good_plan_passes() {
        let plan = NodeOverlayPlan {
            networks: vec![network("aaaaaaaaaa1"), {
                let mut other = network("bbbbbbbbbb1");
                other.vxlan_id = 4098;
                other
            }],
            tunnel: None,
        };
        assert_eq!(plan.validate(), Ok(()));
        assert_eq!(NodeOverlayPlan::default().validate(), Ok(()));
    }

    #[test]
    fn bad_networks_are_refused_naming_the_problem() {
        type Change = fn(&mut OverlayNetworkPlan);
        let cases: &[(Change, &str)] = &[
            (|n| n.network_id = "Bad-Id-With-Dashes".into(), "lowercase letters or digits"),
            (|n| n.network_id = "short".into(), "at least 10"),
            (|n| n.prefix_len = 0, "prefix length 0"),
            (|n| n.prefix_len = 31, "prefix length 31"),
            (|n| n.subnet = Ipv4Addr::new(10, 0, 1, 1), "host bits set"),
            (|n| n.vxlan_id = 0, "VXLAN id 0"),
            (|n| n.vxlan_id = VXLAN_ID_MAX + 1, "VXLAN id 16777216"),
            (|n| n.mtu = 67, "MTU 67"),
            (|n| n.local_gateway = Ipv4Addr::new(10, 0, 2, 1), "gateway 10.0.2.1 is outside the subnet 10.0.1.0/24"),
            (|n| n.local_gateway = Ipv4Addr::new(10, 0, 1, 255), "broadcast"),
            (|n| n.remote_endpoints[0].addr = Ipv4Addr::new(10, 9, 9, 9), "remote endpoint 10.9.9.9 is outside"),
            (|n| n.remote_endpoints[0].addr = Ipv4Addr::new(10, 0, 1, 2), "is this node's gateway"),
            (
                |n| {
                    let mut twin = n.remote_endpoints[0];
                    twin.underlay = Ipv4Addr::new(172, 30, 0, 9);
                    n.remote_endpoints.push(twin);
                },
                "is on two nodes",
            ),
        ];
        for (change, expected) in cases {
            let mut bad = network("aaaaaaaaaa1");
            change(&mut bad);
            let error = bad.validate().expect_err(expected);
            assert!(error.problem.contains(expected), "{:?} does not say {expected:?}", error.problem);
            assert_eq!(error.network_id, bad.network_id);
        }
    }

    #[test]
    fn networks_clashing_with_each_other_are_refused() {
        let clash_names = NodeOverlayPlan {
            networks: vec![network("aaaaaaaaaa1"), {
                let mut other = network("aaaaaaaaaa2");
                other.vxlan_id = 4098;
                other
            }],
            tunnel: None,
        };
        assert!(clash_names.validate().unwrap_err().problem.contains("device names clash"));
        let clash_vxlan =
            NodeOverlayPlan { networks: vec![network("aaaaaaaaaa1"), network("bbbbbbbbbb1")], tunnel: None };
        assert!(clash_vxlan.validate().unwrap_err().problem.contains("VXLAN id 4097"));
        let unsorted = NodeOverlayPlan { networks: vec![network("bbbbbbbbbb1"), network("aaaaaaaaaa1")], tunnel: None };
        assert!(unsorted.validate().unwrap_err().problem.contains("not sorted"));
    }

    #[test]
    fn an_encrypted_network_waits_for_the_nodes_key_and_then_rides_the_tunnel() {
        use swarm_core::overlay as cluster;
        let network = |id: &str, vxlan_id: u32, encrypted: bool| cluster::OverlayNetworkPlan {
            network_id: id.to_string(),
            name: id.to_string(),
            subnet: swarm_core::ipam::Ipv4Cidr::containing(Ipv4Addr::new(10, 0, vxlan_id as u8, 0), 24).unwrap(),
            local_gateway: Ipv4Addr::new(10, 0, vxlan_id as u8, 2),
            vxlan_id,
            internal: false,
            encrypted,
            remote_peers: vec![],
            remote_endpoints: vec![],
            services: vec![],
        };
        let mut plan = cluster::NodeOverlayPlan {
            networks: vec![network("aaaaaaaaaa1", 1, false), network("bbbbbbbbbb1", 2, true)],
            ..Default::default()
        };
        let realised = NodeOverlayPlan::from_cluster(&plan, 1500);
        assert_eq!(realised.networks.len(), 1, "the encrypted network waits for the node's key");
        assert_eq!((realised.networks[0].mtu, realised.tunnel.is_none()), (1450, true));
        let key = swarm_core::TunnelKey([7; 32]);
        plan.tunnel.local =
            Some(swarm_core::NodeTunnel { public_key: key, port: 51820, addr: Ipv4Addr::new(169, 254, 64, 1) });
        let realised = NodeOverlayPlan::from_cluster(&plan, 1500);
        assert_eq!(realised.networks.len(), 2);
        assert_eq!((realised.networks[1].encrypted, realised.networks[1].mtu), (true, TUNNEL_MTU_BYTES - 50));
        let tunnel = realised.tunnel.as_ref().expect("a tunnel");
        assert_eq!(
            (tunnel.addr, tunnel.prefix_len, tunnel.cluster_public_key),
            (Ipv4Addr::new(169, 254, 64, 1), 18, key)
        );
        assert_eq!(realised.validate(), Ok(()));
        // Without an encrypted network there is no tunnel, key or not.
        plan.networks.pop();
        assert!(NodeOverlayPlan::from_cluster(&plan, 1500).tunnel.is_none());
    }

    #[test]
    fn plans_travel_as_json() {
        let plan = NodeOverlayPlan { networks: vec![network("aaaaaaaaaa1")], tunnel: None };
        let text = serde_json::to_string(&plan).expect("encode");
        assert!(text.contains("\"local_gateway\":\"10.0.1.2\""), "{text}");
        assert_eq!(serde_json::from_str::<NodeOverlayPlan>(&text).expect("decode"), plan);
    }
}
