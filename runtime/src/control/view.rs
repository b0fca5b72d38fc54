//! What the control API answers to reads: one consistent copy of the cluster's objects as the leader sees them,
//! plus the facts a table needs that are not in the store (the leader's clock, which node is "this" node, the
//! managers' reachability). The CLI renders every listing and inspection from a `ClusterView`; the daemon builds it
//! (`ClusterView::from_store`). Invariant: a view never carries a join-token secret, nor a secret's or config's value.

use std::collections::BTreeMap;

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
    /// Whether managers lock their keys with an unlock key (the key itself is never in a view).
    #[serde(default)]
    pub autolock: bool,
}

/// A secret or config as reads show it: everything but its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileObjectInfo {
    pub id: String,
    pub version: Version,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

impl FileObjectInfo {
    fn new(
        id: &str,
        version: Version,
        created_at: Timestamp,
        updated_at: Timestamp,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> FileObjectInfo {
        FileObjectInfo {
            id: id.to_string(),
            version,
            created_at,
            updated_at,
            name: name.to_string(),
            labels: labels.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterView {
    pub cluster: Option<ClusterInfo>,
    /// Managers carry `manager_status` with `leader` and `reachability` filled in by the serving daemon.
    pub nodes: Vec<Node>,
    pub services: Vec<Service>,
    pub tasks: Vec<Task>,
    pub networks: Vec<Network>,
    /// Secrets, never with their values.
    #[serde(default)]
    pub secrets: Vec<FileObjectInfo>,
    /// Configs, without their values (`config inspect` asks for one's).
    #[serde(default)]
    pub configs: Vec<FileObjectInfo>,
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
                autolock: c.autolock(),
            }),
            nodes: store.nodes().cloned().collect(),
            services: store.services().cloned().collect(),
            tasks: store.tasks().cloned().collect(),
            networks: store.networks().cloned().collect(),
            secrets: store
                .secrets()
                .map(|s| {
                    FileObjectInfo::new(&s.id, s.version, s.created_at, s.updated_at, &s.spec.name, &s.spec.labels)
                })
                .collect(),
            configs: store
                .configs()
                .map(|c| {
                    FileObjectInfo::new(&c.id, c.version, c.created_at, c.updated_at, &c.spec.name, &c.spec.labels)
                })
                .collect(),
            this_node_id: this_node_id.to_string(),
            now,
        }
    }
}
