//! What one node must realise of the overlay networks (`NodeOverlayPlan`), derived purely from the store: every
//! network on which the node holds a live task, with the node's own gateway there, the underlay addresses of the
//! other nodes realising it, and every remote endpoint — other nodes' tasks and gateways — with the underlay
//! address to reach it. The dispatcher sends it with the node's assignments; the node's data plane makes the
//! host match it. With it goes the routing mesh (`MeshPort`): every port published in ingress mode and the
//! running tasks behind it; while there is one, every node realises `ingress`. Invariant: deterministic (sorted),
//! and a network appears only once the node has its gateway.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::ipam::{holds_addresses, Ipv4Cidr};
use crate::model::{NodeTunnel, TaskState, TunnelKey};
use crate::store::Store;

/// VXLAN's encapsulation overhead: overlay MTU = underlay MTU − 50.
pub const VXLAN_OVERHEAD_BYTES: u32 = 50;

/// The overlay state one node must realise.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeOverlayPlan {
    /// Sorted by network id.
    pub networks: Vec<OverlayNetworkPlan>,
    /// The UDP port of VXLAN between nodes (`swarm init --data-path-port`).
    pub data_path_port: u16,
    /// The routing mesh, which this node answers on (it then realises `ingress`).
    pub mesh: Mesh,
    /// The node's tunnel for encrypted networks.
    pub tunnel: TunnelPlan,
}

/// This node's end of the encrypted data path as the store knows it (the agent reports its key until it is so),
/// and the nodes it shares an encrypted network with. An encrypted network's peers and endpoints are addressed by
/// their nodes' tunnel addresses, so its VXLAN frames cross the underlay only inside the tunnel; a node without a
/// tunnel record is left out of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunnelPlan {
    pub local: Option<NodeTunnel>,
    /// Sorted by tunnel address.
    pub peers: Vec<TunnelPeer>,
}

/// Another node's tunnel end: its public key, its tunnel address and where its WireGuard device listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TunnelPeer {
    pub addr: Ipv4Addr,
    pub public_key: TunnelKey,
    /// The node's underlay address.
    pub endpoint: Ipv4Addr,
    pub port: u16,
}

/// The routing mesh: the `ingress` network (its id; empty without ports) and every port published in ingress
/// mode, sorted by protocol and port.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mesh {
    pub network_id: String,
    pub ports: Vec<MeshPort>,
    /// Every node's gateway on `ingress`, sorted: a task answers a client the mesh brought through a node's
    /// gateway back through that gateway, so the client's address reaches the task unchanged.
    #[serde(default)]
    pub gateways: Vec<Ipv4Addr>,
}

/// One port of the routing mesh: connections to `published_port` on any node go to `target_port` of one of the
/// service's running tasks, at its address on `ingress`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MeshPort {
    pub protocol: crate::spec::PortProtocol,
    pub published_port: u32,
    pub target_port: u32,
    pub service: String,
    /// Running tasks' addresses on `ingress`, sorted; empty while none runs (connections are refused).
    pub backends: Vec<Ipv4Addr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverlayNetworkPlan {
    pub network_id: String,
    pub name: String,
    pub subnet: Ipv4Cidr,
    /// This node's own gateway on the network.
    pub local_gateway: Ipv4Addr,
    pub vxlan_id: u32,
    pub internal: bool,
    pub encrypted: bool,
    /// The underlay addresses of the other nodes realising the network (their tunnel addresses on an encrypted
    /// network), sorted.
    pub remote_peers: Vec<Ipv4Addr>,
    /// Every remote task address and remote node gateway, sorted by address.
    pub remote_endpoints: Vec<RemoteEndpoint>,
    /// The services attached to the network, for service discovery and VIP load balancing, sorted by name.
    pub services: Vec<ServiceEndpoints>,
}

/// A service as seen on one network: its names, its VIP (endpoint mode `vip`) and its running tasks there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceEndpoints {
    pub name: String,
    /// `--network name=…,alias=…`.
    pub aliases: Vec<String>,
    pub vip: Option<Ipv4Addr>,
    /// Running tasks (observed and desired), sorted by address: what DNS names and the VIP balances over.
    pub tasks: Vec<TaskEndpoint>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TaskEndpoint {
    pub addr: Ipv4Addr,
    /// The task's container name, `service.slot.taskid`, which other tasks may resolve.
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RemoteEndpoint {
    pub addr: Ipv4Addr,
    pub underlay: Ipv4Addr,
}

/// The host part of a node's status address (`10.1.2.3:2377` or `10.1.2.3`), if it is an IPv4 address.
pub fn underlay_addr(status_addr: &str) -> Option<Ipv4Addr> {
    let host = status_addr.rsplit_once(':').map_or(status_addr, |(host, _)| host);
    host.parse().ok()
}

/// The plan of node `node_id`. Nodes whose address is not IPv4 cannot be reached over the overlay and are left
/// out of the peers.
pub fn plan_for_node(store: &Store, node_id: &str) -> NodeOverlayPlan {
    let data_path_port = store.cluster().map_or(crate::model::DEFAULT_DATA_PATH_PORT, |c| c.settings.data_path_port);
    let mesh = mesh_ports(store);
    let mut local_network_ids: std::collections::BTreeSet<&str> = store
        .tasks_on_node(node_id)
        .filter(|task| holds_addresses(task))
        .flat_map(|task| task.networks.iter().map(|attachment| attachment.network_id.as_str()))
        .collect();
    // Every node answers on the mesh's ports, so every node realises `ingress` while there are any.
    if !mesh.ports.is_empty() {
        local_network_ids.insert(mesh.network_id.as_str());
    }
    let local_tunnel = store.tunnel(node_id).copied();
    let mut plan = NodeOverlayPlan {
        networks: Vec::new(),
        data_path_port,
        mesh: mesh.clone(),
        tunnel: TunnelPlan { local: local_tunnel, peers: Vec::new() },
    };
    let underlay_of = |id: &str| store.node(id).and_then(|node| underlay_addr(&node.status.addr));
    let mut tunnel_peers = std::collections::BTreeSet::new();
    for network_id in local_network_ids {
        let Some(network) = store.network(network_id) else { continue };
        let Some(&local_gateway) = network.allocation.node_gateways.get(node_id) else { continue };
        // An `ingress` is never encrypted (`check_driver_options`), even if an old log entry asked for it.
        let encrypted = network.spec.is_encrypted() && !network.spec.ingress;
        let mut remote_peers = Vec::new();
        let mut remote_endpoints = Vec::new();
        for (peer_id, gateway) in &network.allocation.node_gateways {
            if peer_id == node_id {
                continue;
            }
            let Some(endpoint) = underlay_of(peer_id) else { continue };
            let underlay = if encrypted {
                let (Some(_), Some(peer)) = (local_tunnel, store.tunnel(peer_id)) else { continue };
                tunnel_peers.insert(TunnelPeer {
                    addr: peer.addr,
                    public_key: peer.public_key,
                    endpoint,
                    port: peer.port,
                });
                peer.addr
            } else {
                endpoint
            };
            remote_peers.push(underlay);
            remote_endpoints.push(RemoteEndpoint { addr: *gateway, underlay });
            for task in store.tasks_on_node(peer_id).filter(|task| holds_addresses(task)) {
                for attachment in task.networks.iter().filter(|a| a.network_id == network.id) {
                    remote_endpoints.push(RemoteEndpoint { addr: attachment.addr, underlay });
                }
            }
        }
        remote_peers.sort();
        remote_peers.dedup();
        remote_endpoints.sort();
        let services = service_endpoints(store, &network.id);
        plan.networks.push(OverlayNetworkPlan {
            network_id: network.id.clone(),
            name: network.spec.name.clone(),
            subnet: network.allocation.subnet,
            local_gateway,
            vxlan_id: network.allocation.vxlan_id,
            internal: network.spec.internal,
            encrypted,
            remote_peers,
            remote_endpoints,
            services,
        });
    }
    plan.tunnel.peers = tunnel_peers.into_iter().collect();
    plan
}

/// The routing mesh's ports: each port published in ingress mode, with the addresses on `ingress` of the service's
/// running tasks. None without an `ingress` network.
fn mesh_ports(store: &Store) -> Mesh {
    let Some(ingress) = store.ingress_network() else { return Mesh::default() };
    // The store refuses these; a node that joined later with such a cluster port must still never lose its own
    // traffic to the mesh.
    let reserved = store.reserved_ports();
    let mut mesh = Vec::new();
    for service in store.services().filter(|service| service.spec.endpoint_spec.publishes_ingress()) {
        let mut backends: Vec<Ipv4Addr> = store
            .tasks_of_service(&service.id)
            .filter(|task| task.status.state == TaskState::Running && task.desired_state == TaskState::Running)
            .filter_map(|task| task.networks.iter().find(|a| a.network_id == ingress.id).map(|a| a.addr))
            .collect();
        backends.sort();
        let ports = service.spec.endpoint_spec.ports.iter();
        let meshed = |port: &&crate::spec::PortConfig| {
            port.publish_mode == crate::spec::PublishMode::Ingress
                && port.published_port != 0
                && !reserved.contains_key(&(port.published_port, port.protocol))
        };
        for port in ports.filter(meshed) {
            mesh.push(MeshPort {
                protocol: port.protocol,
                published_port: port.published_port,
                target_port: port.target_port,
                service: service.spec.name.clone(),
                backends: backends.clone(),
            });
        }
    }
    mesh.sort();
    if mesh.is_empty() {
        return Mesh::default();
    }
    let gateways: std::collections::BTreeSet<Ipv4Addr> = ingress.allocation.node_gateways.values().copied().collect();
    Mesh { network_id: ingress.id.clone(), ports: mesh, gateways: gateways.into_iter().collect() }
}

/// The services attached to network `network_id`, with their running tasks' addresses there.
fn service_endpoints(store: &Store, network_id: &str) -> Vec<ServiceEndpoints> {
    let mut services = Vec::new();
    for service in store.services() {
        let config = service
            .spec
            .task_template
            .networks
            .iter()
            .find(|config| store.resolve_network(&config.target).is_some_and(|n| n.id == network_id));
        let Some(config) = config else { continue };
        let vip = service.virtual_ips.iter().find(|vip| vip.network_id == network_id).map(|vip| vip.addr);
        let mut tasks: Vec<TaskEndpoint> = store
            .tasks_of_service(&service.id)
            .filter(|task| task.status.state == TaskState::Running && task.desired_state == TaskState::Running)
            .filter_map(|task| {
                let attachment = task.networks.iter().find(|a| a.network_id == network_id)?;
                let node_id = task.node_id.as_deref().unwrap_or("");
                Some(TaskEndpoint { addr: attachment.addr, name: task_container_name(task, node_id) })
            })
            .collect();
        tasks.sort();
        services.push(ServiceEndpoints {
            name: service.spec.name.clone(),
            aliases: config.aliases.clone(),
            vip,
            tasks,
        });
    }
    services.sort_by(|a, b| a.name.cmp(&b.name));
    services
}

/// Docker Swarm's task name, also the container name: `<service>.<slot>.<task id>` for a replicated task,
/// `<service>.<node id>.<task id>` for a global one (the task's node, else `node_id`); the service id stands in
/// for a task created without its service's name.
pub fn task_container_name(task: &crate::model::Task, node_id: &str) -> String {
    let service = if task.service_name.is_empty() { &task.service_id } else { &task.service_name };
    match task.slot {
        Some(slot) => format!("{service}.{slot}.{}", task.id),
        None => format!("{service}.{}.{}", task.node_id.as_deref().unwrap_or(node_id), task.id),
    }
}
