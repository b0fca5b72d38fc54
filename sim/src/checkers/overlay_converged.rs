//! Overlay convergence (issue 11: "every node's realised forwarding view converges to the cluster's endpoints
//! after healing"): each live worker's data plane realises exactly the networks the cluster's plan gives its node
//! (`swarm_core::overlay::plan_for_node` on the leader's store), each with this node's own gateway, every other
//! realising node as a peer, and a forwarding entry for every remote task address and gateway — no stale entry
//! for a task that ended or moved, none missing for one that started. Checked after healing, until it holds or
//! the convergence bound passes.

use std::collections::BTreeSet;

use swarm_core::overlay::plan_for_node;
use swarm_core::Store;
use swarm_runtime::worker::networking::UNDERLAY_MTU_BYTES;
use swarm_runtime::worker::overlay::fake::FakeDataPlane;
use swarm_runtime::worker::overlay::NodeOverlayPlan;

/// The differences between what `store` wants of each `(node id, data plane)` and what the data plane realised.
pub fn check<'a>(store: &Store, workers: impl IntoIterator<Item = (&'a str, &'a FakeDataPlane)>) -> Vec<String> {
    let mut problems = Vec::new();
    for (node_id, data_plane) in workers {
        let wanted = NodeOverlayPlan::from_cluster(&plan_for_node(store, node_id), UNDERLAY_MTU_BYTES);
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
