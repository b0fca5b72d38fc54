//! Overlay convergence (issue 11: "every node's realised forwarding view converges to the cluster's endpoints
//! after healing"): each live worker's data plane realises exactly the networks the cluster's plan gives its node
//! (`swarm_core::overlay::plan_for_node` on the leader's store), each with this node's own gateway, every other
//! realising node as a peer, and a forwarding entry for every remote task address and gateway — no stale entry
//! for a task that ended or moved, none missing for one that started. Likewise the routing mesh (issue 12): every
//! live worker answers on exactly the cluster's ingress ports, each forwarding to exactly the `ingress` addresses
//! of the service's running tasks (judged here from the tasks themselves, not from the plan's own code). And the
//! tunnel of encrypted networks: each node uses the key the cluster holds for it, and its peers are exactly the
//! member nodes it shares an encrypted network with, by the keys the cluster holds (judged from the store). Checked
//! after healing, until it holds or the convergence bound passes.

use std::collections::BTreeSet;

use std::net::Ipv4Addr;

use swarm_core::overlay::{plan_for_node, Mesh};
use swarm_core::{PublishMode, Store, TaskState};
use swarm_runtime::worker::networking::UNDERLAY_MTU_BYTES;
use swarm_runtime::worker::overlay::fake::FakeDataPlane;
use swarm_runtime::worker::overlay::NodeOverlayPlan;

/// The differences between what `store` wants of each `(node id, data plane)` and what the data plane realised.
pub fn check<'a>(store: &Store, workers: impl IntoIterator<Item = (&'a str, &'a FakeDataPlane)>) -> Vec<String> {
    let mut problems = mesh_follows_running_tasks(store);
    for (node_id, data_plane) in workers {
        let cluster_plan = plan_for_node(store, node_id);
        if data_plane.mesh() != cluster_plan.mesh {
            problems.push(format!(
                "mesh: node {node_id} answers with {:?}, the cluster's mesh is {:?}",
                data_plane.mesh(),
                cluster_plan.mesh
            ));
        }
        let wanted = NodeOverlayPlan::from_cluster(&cluster_plan, UNDERLAY_MTU_BYTES);
        problems.extend(tunnel_problems(store, node_id, wanted.tunnel.as_ref(), data_plane));
        let realised = data_plane.realised();
        let wanted_ids: BTreeSet<&str> = wanted.networks.iter().map(|n| n.network_id.as_str()).collect();
        let realised_ids: BTreeSet<&str> = realised.keys().map(String::as_str).collect();
        if wanted_ids != realised_ids {
            problems.push(format!("overlay: node {node_id} realises networks {realised_ids:?}, wants {wanted_ids:?}"));
            continue;
        }
        for network in &wanted.networks {
            let have = &realised[&network.network_id];
            if have.local_gateway != network.local_gateway {
                problems.push(format!(
                    "overlay: node {node_id} network {}: gateway {} realised, {} wanted",
                    network.network_id, have.local_gateway, network.local_gateway
                ));
            }
            let peers: BTreeSet<_> = network.remote_peers.iter().copied().collect();
            if have.peers != peers {
                problems.push(format!(
                    "overlay: node {node_id} network {}: peers {:?} realised, {peers:?} wanted",
                    network.network_id, have.peers
                ));
            }
            if have.forwarding != network.forwarding() {
                problems.push(format!(
                    "overlay: node {node_id} network {}: forwarding {:?} realised, {:?} wanted",
                    network.network_id,
                    have.forwarding,
                    network.forwarding()
                ));
            }
        }
    }
    problems
}

/// The node's tunnel against the store itself: present exactly while the node realises an encrypted network and
/// the cluster holds its key; using the key the cluster holds (a rotation has taken effect); its peers exactly the
/// other member nodes on one of those encrypted networks with the keys the cluster holds for them — a removed
/// node's key is gone from every tunnel.
fn tunnel_problems(
    store: &Store,
    node_id: &str,
    wanted: Option<&swarm_runtime::worker::overlay::plan::TunnelPlan>,
    data_plane: &FakeDataPlane,
) -> Vec<String> {
    let realised = data_plane.tunnel();
    let (Some(wanted), Some(realised)) = (wanted, realised.as_ref()) else {
        if wanted.is_some() != realised.is_some() {
            return vec![format!("tunnel: node {node_id} has {realised:?}, wants {wanted:?}")];
        }
        return Vec::new();
    };
    let mut problems = Vec::new();
    let held = store.tunnel(node_id).map(|tunnel| tunnel.public_key);
    if Some(realised.public_key) != held || realised.addr != wanted.addr {
        problems.push(format!(
            "tunnel: node {node_id} uses key {:?} at {}, the cluster holds {held:?} at {}",
            realised.public_key, realised.addr, wanted.addr
        ));
    }
    let encrypted_peers: BTreeSet<&str> = store
        .networks()
        .filter(|network| network.spec.is_encrypted() && network.allocation.node_gateways.contains_key(node_id))
        .flat_map(|network| network.allocation.node_gateways.keys().map(String::as_str))
        .filter(|peer| *peer != node_id && store.node(peer).is_some())
        .collect();
    let expected: BTreeSet<(swarm_core::TunnelKey, Ipv4Addr)> = encrypted_peers
        .iter()
        .filter_map(|peer| store.tunnel(peer))
        .map(|tunnel| (tunnel.public_key, tunnel.addr))
        .collect();
    let have: BTreeSet<(swarm_core::TunnelKey, Ipv4Addr)> =
        realised.peers.iter().map(|peer| (peer.public_key, peer.addr)).collect();
    if have != expected {
        problems.push(format!("tunnel: node {node_id} has peers {have:?}, the store says {expected:?}"));
    }
    problems
}

/// The cluster's mesh (the same on every node) against the store itself: one entry per ingress port of every
/// service, forwarding to the `ingress` address of each task observed and desired running, and nothing else.
fn mesh_follows_running_tasks(store: &Store) -> Vec<String> {
    let Some(ingress) = store.ingress_network() else { return Vec::new() };
    let Some(node) = store.nodes().next() else { return Vec::new() };
    let Mesh { ports, .. } = plan_for_node(store, &node.id).mesh;
    let mut wanted = Vec::new();
    for service in store.services() {
        let ingress_ports = service.spec.endpoint_spec.ports.iter().filter(|p| p.publish_mode == PublishMode::Ingress);
        for port in ingress_ports {
            let mut backends: Vec<Ipv4Addr> = store
                .tasks_of_service(&service.id)
                .filter(|t| t.status.state == TaskState::Running && t.desired_state == TaskState::Running)
                .flat_map(|t| t.networks.iter().filter(|a| a.network_id == ingress.id).map(|a| a.addr))
                .collect();
            backends.sort();
            wanted.push((port.protocol, port.published_port, service.spec.name.clone(), backends));
        }
    }
    wanted.sort();
    let mut have: Vec<_> =
        ports.iter().map(|p| (p.protocol, p.published_port, p.service.clone(), p.backends.clone())).collect();
    have.sort();
    if have == wanted {
        return Vec::new();
    }
    vec![format!("mesh: the cluster's mesh is {have:?}, the running tasks say {wanted:?}")]
}
