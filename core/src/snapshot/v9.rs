//! Snapshot format 9, the one before root CA rotation: it differs from today's only in the cluster object, which
//! had no `ca` (`ClusterCa`). Every other object uses today's types. Invariant: converting up gives the cluster
//! an empty `ClusterCa` (the root `swarm init` made, no rotation, no node reports), and converting down (for tests
//! of this path) drops it, so `upgrade(downgrade(x)) == x` for every store whose cluster has an empty `ca`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::SnapshotOwned;
use crate::model::{
    Cluster, ClusterCa, ClusterSettings, Config, JoinTokens, Network, Node, NodeTunnel, RemovedNode, Secret, Service,
    Task, Timestamp, Version,
};
use crate::store::Store;

#[derive(Serialize, Deserialize)]
pub(super) struct SnapshotV9 {
    cluster: Option<ClusterV9>,
    nodes: BTreeMap<String, Node>,
    services: BTreeMap<String, Service>,
    tasks: BTreeMap<String, Task>,
    networks: BTreeMap<String, Network>,
    removed_nodes: Vec<RemovedNode>,
    tunnels: BTreeMap<String, NodeTunnel>,
    secrets: BTreeMap<String, Secret>,
    configs: BTreeMap<String, Config>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct ClusterV9 {
    id: String,
    version: Version,
    created_at: Timestamp,
    updated_at: Timestamp,
    settings: ClusterSettings,
    join_tokens: JoinTokens,
    unlock_key: String,
}

impl SnapshotV9 {
    pub fn upgrade(self) -> SnapshotOwned {
        SnapshotOwned {
            cluster: self.cluster.map(ClusterV9::upgrade),
            nodes: self.nodes,
            services: self.services,
            tasks: self.tasks,
            networks: self.networks,
            removed_nodes: self.removed_nodes,
            tunnels: self.tunnels,
            secrets: self.secrets,
            configs: self.configs,
        }
    }

    /// `store` written as format 9: the cluster's `ca` dropped.
    pub fn downgrade(store: &Store) -> SnapshotV9 {
        SnapshotV9 {
            cluster: store.cluster.clone().map(ClusterV9::downgrade),
            nodes: store.nodes.clone(),
            services: store.services.clone(),
            tasks: store.tasks.clone(),
            networks: store.networks.clone(),
            removed_nodes: store.removed_nodes.clone(),
            tunnels: store.tunnels.clone(),
            secrets: store.secrets.clone(),
            configs: store.configs.clone(),
        }
    }
}

impl ClusterV9 {
    pub(super) fn upgrade(self) -> Cluster {
        Cluster {
            id: self.id,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            settings: self.settings,
            join_tokens: self.join_tokens,
            unlock_key: self.unlock_key,
            ca: ClusterCa::default(),
        }
    }

    fn downgrade(cluster: Cluster) -> ClusterV9 {
        ClusterV9 {
            id: cluster.id,
            version: cluster.version,
            created_at: cluster.created_at,
            updated_at: cluster.updated_at,
            settings: cluster.settings,
            join_tokens: cluster.join_tokens,
            unlock_key: cluster.unlock_key,
        }
    }
}
