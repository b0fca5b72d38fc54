//! What the control API answers to reads: one consistent copy of the cluster's objects as the leader sees them,
//! plus the facts a table needs that are not in the store (the leader's clock, which node is "this" node, the
//! managers' reachability). The CLI renders every listing and inspection from a `ClusterView`; the daemon builds it
//! (`ClusterView::from_store`). Invariant: a view never carries a join-token secret.

use serde::{Deserialize, Serialize};
use swarm_core::{ClusterSettings, Network, Node, Service, Store, Task, Timestamp, Version};

/// The cluster object without its join-token secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterInfo {
    pub id: String,
    pub version: Version,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub settings: ClusterSettings,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterView {
    pub cluster: Option<ClusterInfo>,
    /// Managers carry `manager_status` with `leader` and `reachability` filled in by the serving daemon.
    pub nodes: Vec<Node>,
    pub services: Vec<Service>,
    pub tasks: Vec<Task>,
    pub networks: Vec<Network>,
    /// The store id of the node whose daemon answered (the `*` in `node ls`); empty if it has none yet.
    pub this_node_id: String,
    /// The serving manager's clock when the view was taken ("Running 6 seconds ago" is measured from here).
    pub now: Timestamp,
}

impl ClusterView {
    /// Copies every object out of `store`. Manager reachability is left as stored; see `control::server`.
    pub fn from_store(store: &Store, this_node_id: &str, now: Timestamp) -> ClusterView {
        ClusterView {
            cluster: store.cluster().map(|c| ClusterInfo {
                id: c.id.clone(),
                version: c.version,
                created_at: c.created_at,
                updated_at: c.updated_at,
                settings: c.settings.clone(),
            }),
            nodes: store.nodes().cloned().collect(),
            services: store.services().cloned().collect(),
            tasks: store.tasks().cloned().collect(),
            networks: store.networks().cloned().collect(),
            this_node_id: this_node_id.to_string(),
            now,
        }
    }
}
